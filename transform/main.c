/*
 * dms-transform: reads a record stream, checks it record by record, and writes
 * it on: unchanged, or as JSON lines (--to-json), or from JSON lines back into
 * a stream (--from-json). See dms-transform(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "../common/map/rules.h"
#include "../common/records.h"
#include "../common/position.h"
#include "../common/settings.h"
#include "../common/spool.h"
#include "../common/dms.h"

static const char usage_text[] =
	"usage: dms-transform [-qvz] [-m mappings.json] [-s settings.json] [file]\n"
	"       dms-transform [-qvz] [--to-json | --from-json] [file]\n"
	"       dms-transform [-qvz] [-m mappings.json] [-s settings.json] [--follow]\n"
	"                     [--start position] [--ack-file file] spool-dir\n"
	"       dms-transform -m mappings.json --needed\n"
	"       dms-transform --help | --version\n"
	"\n"
	"Reads a dms record stream (stdin or file), checks every record, and writes\n"
	"it to stdout: unchanged, as one JSON object per line, or from that JSON form\n"
	"back into a stream.\n"
	"\n"
	"  -m, --mappings file  apply AWS DMS table mappings: selection rules and\n"
	"                 their filters, transformation rules\n"
	"  -s, --settings file  AWS DMS task settings: the data error policy for\n"
	"                 values a mapping cannot convert\n"
	"  --needed       print yes when the mappings change a snapshot stream\n"
	"                 (transformation rules, lob-settings), no when dms-extract\n"
	"                 -m alone gives their stream; and exit\n"
	"  --to-json      write one JSON object per record per line\n"
	"  --from-json    read JSON lines, write a stream\n"
	"  -z, --compress write the stream in an LZ4 frame\n"
	"  --follow       read a spool on as it grows, until stopped\n"
	"  --start position  read a spool's transactions after this one (default:\n"
	"                 the ack file's position)\n"
	"  --ack-file file  the target's position (dms-load --ack-file): where to\n"
	"                 start, and the spool's segments it applied are deleted\n"
	"  -q, --quiet    fewer messages (errors only)\n"
	"  -v, --verbose  more messages (repeat for debug)\n"
	"  -h, --help     show this help and exit\n"
	"  -V, --version  show the version and exit\n";

enum mode { MODE_PASS, MODE_TO_JSON, MODE_FROM_JSON };

static bool
flush_before_read(void *arg)
{
	return out_flush(arg);
}

/* What ends the run when the output fails: quiet for a closed pipe. */
static int
output_failed(const struct dms_out *o)
{
	(void)o;
	return EXIT_OUTPUT;
}

/* Appends END {stopped: true} when a drain stops the stream between transactions. */
static bool
write_stopped_end(struct dms_out *o, uint64_t records)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, o, out_msgpack_write);
	rec_end(&pk, NULL, &records, true);
	return !o->failed;
}

static struct rules *rules;

/*
 * Whether a spool's record belongs to a transaction at or before the start
 * position: BEGIN says the position of its COMMIT, and the transaction is
 * passed over up to that COMMIT.
 */
static bool
before_start(const struct dms_record *rec, const char *start, bool *skipping)
{
	struct mp_cursor c;
	struct mp_item it;
	int cmp;

	if (start == NULL)
		return false;
	if (rec->kind == K_BEGIN) {
		char pos[128];

		mp_cursor_init(&c, record_element(rec, 2), rec->raw + rec->len - record_element(rec, 2));
		*skipping = false;
		if (mp_next(&c, &it) == MP_OK && it.type == MP_STR && it.v.s.len < sizeof(pos)) {
			memcpy(pos, it.v.s.p, it.v.s.len);
			pos[it.v.s.len] = '\0';
			*skipping = position_compare(pos, start, &cmp) && cmp <= 0;
		}
		return *skipping;
	}
	if (rec->kind == K_COMMIT && *skipping) {
		*skipping = false;
		return true;
	}
	return *skipping;
}

static int
run_stream(int fd, const char *name, enum mode mode, bool compress, struct spool_reader *spool,
	   const char *start)
{
	struct dms_reader r;
	struct dms_out out;
	struct dms_record rec;
	int status = EXIT_OK;
	bool skipping = false;

	if (!reader_init(&r, fd, name) || !out_init(&out, STDOUT_FILENO, "stdout", compress))
		return EXIT_RUNTIME;
	r.before_read = flush_before_read;
	r.arg = &out;
	if (spool != NULL) {
		r.in.source = spool_read;
		r.in.source_arg = spool;
		r.open_end = true;
	}
	for (;;) {
		int rc = reader_next(&r, &rec);

		if (rc == READ_RECORD && before_start(&rec, start, &skipping))
			continue;
		if (sig_stop) {
			log_error("stopped by SIGQUIT after record %" PRIu64, r.st.seq);
			reader_release(&r);
			return EXIT_RUNTIME;
		}
		if (rc == READ_INTERRUPTED || (rc == READ_RECORD && sig_drain && !r.st.in_txn &&
					       rec.kind != K_END)) {
			bool ok = true;

			if (rc == READ_RECORD)
				ok = mode == MODE_TO_JSON ? json_write_record(&out, &rec)
							  : out_write(&out, rec.raw, rec.len);
			if (!sig_drain || r.st.in_txn)
				continue;
			log_info("stopping at a transaction boundary after record %" PRIu64,
				 r.st.seq);
			if (ok && mode == MODE_PASS)
				ok = write_stopped_end(&out, r.st.seq);
			status = ok ? EXIT_OK : output_failed(&out);
			break;
		}
		if (rc == READ_EOF) {
			/* a spool read to its end: the stream ends here */
			if (!r.st.ended && !write_stopped_end(&out, r.st.seq))
				status = output_failed(&out);
			break;
		}
		if (rc == READ_ERROR) {
			/* the flush before a read may be what failed */
			status = out.failed ? output_failed(&out) : EXIT_INPUT;
			if (!out.failed)
				out_flush(&out);
			break;
		}
		if (rules != NULL) {
			status = rules_record(rules, &rec, &out);
			if (status != EXIT_OK) {
				if (status == EXIT_OUTPUT)
					status = output_failed(&out);
				else
					out_flush(&out);
				break;
			}
			continue;
		}
		if (mode == MODE_TO_JSON ? !json_write_record(&out, &rec)
					 : !out_write(&out, rec.raw, rec.len)) {
			status = output_failed(&out);
			break;
		}
	}
	if (status == EXIT_OK && !out_finish(&out))
		status = output_failed(&out);
	log_debug("%" PRIu64 " records, %" PRIu64 " bytes in, %" PRIu64 " bytes out", r.st.seq,
		  r.in.bytes, out.bytes);
	reader_release(&r);
	out_release(&out);
	return status;
}

static int
run_from_json(FILE *in, const char *name, bool compress)
{
	struct dms_stream st;
	struct dms_out out;
	struct dms_record rec;
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	uint64_t lineno = 0;
	int status = EXIT_OK;

	if (!out_init(&out, STDOUT_FILENO, "stdout", compress))
		return EXIT_RUNTIME;
	stream_init(&st);
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	while ((len = getline(&line, &linecap, in)) >= 0) {
		char err[512];

		lineno++;
		if (sig_stop) {
			status = EXIT_RUNTIME;
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		msgpack_sbuffer_clear(&sbuf);
		if (!json_read_record(line, (size_t)len, &pk, err, sizeof(err))) {
			log_error("%s: line %" PRIu64 ": %s", name, lineno, err);
			status = EXIT_INPUT;
			break;
		}
		if (stream_check(&st, (const uint8_t *)sbuf.data, sbuf.size, &rec) != CHECK_OK) {
			log_error("%s: line %" PRIu64 " is not a valid record (above)", name, lineno);
			status = EXIT_INPUT;
			break;
		}
		if (!out_write(&out, sbuf.data, sbuf.size)) {
			status = output_failed(&out);
			break;
		}
		if (rec.kind == K_COMMIT || rec.kind == K_END || rec.kind == K_PART_END)
			if (!out_flush(&out)) {
				status = output_failed(&out);
				break;
			}
	}
	if (status == EXIT_OK && ferror(in)) {
		log_error("cannot read %s: %s", name, strerror(errno));
		status = EXIT_INPUT;
	}
	if (status == EXIT_OK && !st.ended) {
		if (!st.hello)
			log_error("%s: no records (a stream starts with HELLO)", name);
		else
			log_error("%s: the JSON ends without an END record", name);
		status = EXIT_INPUT;
	}
	if (status == EXIT_OK && !out_finish(&out))
		status = output_failed(&out);
	else if (status != EXIT_OK)
		out_flush(&out);
	free(line);
	msgpack_sbuffer_destroy(&sbuf);
	stream_release(&st);
	out_release(&out);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mappings", required_argument, NULL, 'm' },
		{ "settings", required_argument, NULL, 's' },
		{ "to-json", no_argument, NULL, 'J' },
		{ "from-json", no_argument, NULL, 'F' },
		{ "compress", no_argument, NULL, 'z' },
		{ "follow", no_argument, NULL, 'f' },
		{ "start", required_argument, NULL, 'S' },
		{ "ack-file", required_argument, NULL, 'A' },
		{ "needed", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum mode mode = MODE_PASS;
	bool compress = false;
	const char *name = "stdin";
	const char *mappings = NULL, *settings_path = NULL, *start = NULL, *ack_file = NULL;
	struct mapping mapping;
	struct spool_reader spool, *sp = NULL;
	bool follow = false, needed = false;
	struct stat sb;
	int fd = STDIN_FILENO;
	int ch, status;

	log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "m:s:zqvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J':
		case 'F':
			if (mode != MODE_PASS) {
				log_usage_error("--to-json and --from-json exclude each other");
				return EXIT_USAGE;
			}
			mode = ch == 'J' ? MODE_TO_JSON : MODE_FROM_JSON;
			break;
		case 'z':
			compress = true;
			break;
		case 'f':
			follow = true;
			break;
		case 'S':
			start = optarg;
			break;
		case 'A':
			ack_file = optarg;
			break;
		case 'N':
			needed = true;
			break;
		case 'm':
			mappings = optarg;
			break;
		case 's':
			settings_path = optarg;
			break;
		default: {
			int st = log_common_option(ch, usage_text);

			if (st != OPTION_DONE)
				return st;
			break;
		}
		}
	}
	if (argc - optind > 1) {
		log_usage_error("too many arguments");
		return EXIT_USAGE;
	}
	if (compress && mode == MODE_TO_JSON) {
		log_usage_error("-z compresses a stream; --to-json writes text");
		return EXIT_USAGE;
	}
	if (mappings != NULL && mode != MODE_PASS) {
		log_usage_error("-m writes a stream; to read it: dms-transform -m map.json | dms-transform --to-json");
		return EXIT_USAGE;
	}
	if (mappings != NULL) {
		if (!mapping_load(mappings, &mapping))
			return EXIT_USAGE;
		if ((rules = rules_new(&mapping)) == NULL) {
			mapping_free(&mapping);
			return EXIT_USAGE;
		}
	}
	if (needed) {
		if (mappings == NULL || mode != MODE_PASS || optind < argc) {
			log_usage_error("--needed takes -m mappings.json and nothing else");
			status = EXIT_USAGE;
		} else {
			status = printf("%s\n", mapping_changes_snapshot(&mapping) ? "yes" : "no") > 0 &&
				 fflush(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
		}
		if (rules != NULL) {
			rules_free(rules);
			mapping_free(&mapping);
		}
		return status;
	}
	if (settings_path != NULL) {
		struct task_settings settings;

		if (mappings == NULL) {
			log_usage_error("-s goes with -m");
			return EXIT_USAGE;
		}
		settings_defaults(&settings);
		if (!settings_load(settings_path, &settings))
			return EXIT_USAGE;
		rules_set_policy(rules, (int)settings.data_error_policy);
		settings_free(&settings);
	}
	if (mode != MODE_TO_JSON && !stream_refuse_tty(STDOUT_FILENO))
		return EXIT_USAGE;
	if (optind < argc && stat(argv[optind], &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (mode != MODE_PASS) {
			log_usage_error("a spool is read as a stream: --to-json reads one on a pipe");
			return EXIT_USAGE;
		}
		name = argv[optind];
		status = spool_reader_open(&spool, name, start, follow, ack_file);
		if (status != EXIT_OK) {
			spool_reader_close(&spool);
			return status;
		}
		sp = &spool;
	} else if (follow || start || ack_file) {
		log_usage_error("--follow, --start and --ack-file read a spool directory");
		return EXIT_USAGE;
	} else if (optind < argc && strcmp(argv[optind], "-") != 0) {
		name = argv[optind];
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			log_error("cannot open %s: %s", name, strerror(errno));
			return EXIT_INPUT;
		}
	}
	sig_init();
	if (mode == MODE_FROM_JSON) {
		FILE *in = fdopen(fd, "r");

		if (in == NULL) {
			log_error("cannot read %s: %s", name, strerror(errno));
			return EXIT_INPUT;
		}
		status = run_from_json(in, name, compress);
		fclose(in);
	} else {
		char *from = sp && !start ? ack_position(ack_file) : NULL;

		status = run_stream(fd, name, mode, compress, sp, start ? start : from);
		free(from);
	}
	if (rules != NULL) {
		rules_free(rules);
		mapping_free(&mapping);
	}
	if (sp != NULL)
		spool_reader_close(sp);
	return status;
}
