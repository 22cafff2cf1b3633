/*
 * dms-validate: compares the tables of a source and a target database, and
 * runs the premigration assessment. See dms-validate(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "../common/dms.h"

static const char usage_text[] =
	"usage: dms-validate [-qv] [-m mappings.json] [-s settings.json] [--task name]\n"
	"                    [--resume] [--max-rate rows] source-uri target-uri\n"
	"       dms-validate --assess [-qv] [-m mappings.json] [-s settings.json]\n"
	"                    [--migration-type type] source-uri [target-uri]\n"
	"       dms-validate --help | --version\n"
	"\n"
	"Compares each table the mappings select on the source with the table it\n"
	"became on the target, partition by partition, and reports each row that\n"
	"differs: one JSON line per failure on stdout, a summary on stderr.\n"
	"Exit status 0: equal; 1: differences; higher: errors.\n"
	"\n"
	"  -m, --mappings file     AWS DMS table mappings (selection, transformation,\n"
	"                          validation rules)\n"
	"  -s, --settings file     AWS DMS task settings (ValidationSettings,\n"
	"                          TargetMetadata, ControlTablesSettings)\n"
	"  --task name             the task's name in the control tables (default dms)\n"
	"  --resume                go on from where an interrupted run stopped\n"
	"  --max-rate rows         read at most this many rows a second from each side\n"
	"  --assess                run the premigration assessment instead\n"
	"  --migration-type type   full-load, cdc or full-load-and-cdc (default\n"
	"                          full-load-and-cdc), for --assess\n"
	"  -q, --quiet             errors only\n"
	"  -v, --verbose           more messages\n"
	"  -h, --help              show this help and exit\n"
	"  -V, --version           show the version and exit\n";

enum { OPT_TASK = 256, OPT_RESUME, OPT_MAX_RATE, OPT_ASSESS, OPT_MIGRATION_TYPE };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mappings", required_argument, NULL, 'm' },
		{ "settings", required_argument, NULL, 's' },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "max-rate", required_argument, NULL, OPT_MAX_RATE },
		{ "assess", no_argument, NULL, OPT_ASSESS },
		{ "migration-type", required_argument, NULL, OPT_MIGRATION_TYPE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mappings = NULL, *settings_path = NULL, *migration_type = "full-load-and-cdc";
	char *uris[2] = { NULL, NULL };
	struct vopts o = { .task = "dms" };
	struct task_settings settings;
	struct mapping mapping;
	bool assess = false, have_mapping = false;
	int c, status;
	char *end;

	log_init("dms-validate");
	sig_init();
	while ((c = getopt_long(argc, argv, "m:s:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': mappings = optarg; break;
		case 's': settings_path = optarg; break;
		case OPT_TASK: o.task = optarg; break;
		case OPT_RESUME: o.resume = true; break;
		case OPT_MAX_RATE:
			o.max_rate = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o.max_rate < 1) {
				log_usage_error("--max-rate: expected a number of rows a second, not \"%s\"", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_ASSESS: assess = true; break;
		case OPT_MIGRATION_TYPE: migration_type = optarg; break;
		default: {
			int st = log_common_option(c, usage_text);

			if (st != OPTION_DONE)
				return st;
			break;
		}
		}
	}
	if (strcmp(migration_type, "full-load") != 0 && strcmp(migration_type, "cdc") != 0 &&
	    strcmp(migration_type, "full-load-and-cdc") != 0) {
		log_usage_error("--migration-type: expected full-load, cdc or full-load-and-cdc, not \"%s\"",
				migration_type);
		return EXIT_USAGE;
	}
	if (*o.task == '\0' || strlen(o.task) > 100) {
		log_usage_error("--task: a name of 1 to 100 characters");
		return EXIT_USAGE;
	}
	if (assess ? (argc - optind < 1 || argc - optind > 2) : argc - optind != 2) {
		log_usage_error(assess ? "expected a source URI and, optionally, a target URI"
				       : "expected a source URI and a target URI");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++)
		if ((uris[i - optind] = uri_arg(argv[i])) == NULL) {
			free(uris[0]);
			return EXIT_USAGE;
		}
	settings_defaults(&settings);
	if (settings_path && !settings_load(settings_path, &settings)) {
		settings_free(&settings);
		return EXIT_USAGE;
	}
	if (mappings) {
		if (!mapping_load(mappings, &mapping)) {
			settings_free(&settings);
			return EXIT_USAGE;
		}
		have_mapping = true;
	}
	mysql_library_init(0, NULL, NULL);
	if (assess) {
		struct aopts a = {
			.mapping = have_mapping ? &mapping : NULL,
			.settings = &settings,
			.migration_type = migration_type,
			.source_uri = uris[0],
			.target_uri = uris[1],
		};

		status = assess_run(&a);
	} else {
		o.mapping = have_mapping ? &mapping : NULL;
		o.settings = &settings;
		o.source_uri = uris[0];
		o.target_uri = uris[1];
		status = validate_run(&o);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("stdout: write error");
		status = EXIT_OUTPUT;
	}
	if (have_mapping)
		mapping_free(&mapping);
	settings_free(&settings);
	mysql_library_end();
	free(uris[0]);
	free(uris[1]);
	return status;
}
