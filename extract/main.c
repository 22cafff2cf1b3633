/*
 * dms-extract: reads tables of a PostgreSQL or MySQL/MariaDB database in one
 * consistent snapshot and writes them as a snapshot stream. See dms-extract(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/db/catalog.h"
#include "../common/records.h"
#include "../common/uri.h"
#include "../common/dms.h"

static const char usage_text[] =
	"usage: dms-extract [-qvz] [-m mappings.json] [--list | --part ID[,ID...] [--plan file] |\n"
	"                   --tables-only [--list-to file]] [--snapshot ID]\n"
	"                   [--position-file file]\n"
	"                   [--split-rows N] source-uri\n"
	"       dms-extract [-qv] [-m mappings.json] [--split-rows N] --export-snapshot\n"
	"                   [--tables-to file [--list-to file]] source-uri\n"
	"       dms-extract [-qv] --identity source-uri\n"
	"       dms-extract --help | --version\n"
	"\n"
	"Reads the tables of a PostgreSQL or MySQL/MariaDB database, or those the\n"
	"table mappings select, in one consistent snapshot, and writes them to\n"
	"stdout as a dms snapshot stream.\n"
	"\n"
	"  -m, --mappings file    AWS DMS table mappings: selection rules, filters,\n"
	"                         table-settings parallel-load ranges\n"
	"  --list                 print the parts of the load, one per line, and exit\n"
	"  --part ID              read only that part (an ID from --list); with --plan,\n"
	"                         a comma-separated list of parts, in its order\n"
	"  --plan file            with --part: the part as an earlier --list, saved in\n"
	"                         file, planned it (its table by name, its key bounds)\n"
	"  --identity             print the engine, the server's identity and the\n"
	"                         database, tab-separated, and exit\n"
	"  --tables-only          write the TABLE records and no rows\n"
	"  --list-to file         with --tables-only: also write what --list prints\n"
	"                         to file (one connection and catalog read for both)\n"
	"  --snapshot ID          PostgreSQL: read in this exported snapshot\n"
	"  --export-snapshot      PostgreSQL: export a snapshot, print its ID and hold it\n"
	"                         until stdin closes\n"
	"  --tables-to file       with --export-snapshot: first write the TABLE records\n"
	"                         of the snapshot to file (and --list-to's list)\n"
	"  --position-file file   write the source position of the snapshot to file\n"
	"  --split-rows N         split tables with an integer key into parts of about\n"
	"                         N rows (default 10000000; 0: never)\n"
	"  -z, --compress         write the stream in an LZ4 frame\n"
	"  -q, --quiet            errors only\n"
	"  -v, --verbose          more messages\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n";

struct options {
	const char *mappings;
	bool list, tables_only, export_snapshot, compress, identity;
	const char *part, *plan, *list_to, *tables_to;
	const char *snapshot;
	const char *position_file;
	int64_t split_rows;
	const char *uri;
};

static const struct source_ops *ops;
static struct mapping mapping;

static char *
ident_cb(void *arg, const char *text)
{
	(void)arg;
	return ops->quote_ident(text);
}

static char *
literal_cb(void *arg, const char *text)
{
	return ops->quote_literal(arg, text);
}

static void
add_part(struct src_table *t, char *where, char *range)
{
	struct src_part *p;

	t->parts = xrealloc(t->parts, (size_t)(t->nparts + 1) * sizeof(*t->parts));
	p = &t->parts[t->nparts++];
	memset(p, 0, sizeof(*p));
	p->where = where;
	p->range = range;
}

/*
 * DMS ranges: boundary k is the upper bound of segment k, compared
 * lexicographically: (c1<a) OR (c1=a AND c2<b) OR ... DMS skips rows with a
 * NULL in a boundary column; dms puts them in the last segment instead, so
 * that every row is read exactly once.
 */
static bool
plan_ranges(struct source *s, struct src_table *t, const struct mapping_rule *r)
{
	struct strbuf notnull = STRBUF_INIT;
	char **pred = xcalloc((size_t)r->nbounds, sizeof(char *));
	char **qcols = xcalloc((size_t)r->npl_columns, sizeof(char *));
	bool any_nullable = false;

	for (int c = 0; c < r->npl_columns; c++) {
		int idx = src_column_index(t, r->pl_columns[c]);

		if (idx < 0) {
			log_error("table-settings rule %s: %s.%s has no column \"%s\"", r->id_text,
				  t->d.schema, t->d.name, r->pl_columns[c]);
			return false;
		}
		qcols[c] = ops->quote_ident(r->pl_columns[c]);
		any_nullable |= t->d.cols[idx].nullable;
		sb_addf(&notnull, "%s%s IS NOT NULL", c ? " AND " : "", qcols[c]);
	}
	for (int b = 0; b < r->nbounds; b++) {
		struct strbuf sb = STRBUF_INIT;

		for (int c = 0; c < r->npl_columns; c++) {
			sb_adds(&sb, c ? " OR (" : "((");
			for (int e = 0; e < c; e++) {
				char *lit = ops->quote_literal(s, r->bounds[b][e]);

				sb_addf(&sb, "%s = %s AND ", qcols[e], lit);
				free(lit);
			}
			{
				char *lit = ops->quote_literal(s, r->bounds[b][c]);

				sb_addf(&sb, "%s < %s)", qcols[c], lit);
				free(lit);
			}
		}
		sb_adds(&sb, ")");
		pred[b] = sb.buf;
	}
	for (int k = 0; k <= r->nbounds; k++) {
		struct strbuf where = STRBUF_INIT, range = STRBUF_INIT;

		if (k == 0)
			sb_addf(&where, "%s AND %s", notnull.buf, pred[0]);
		else if (k < r->nbounds)
			sb_addf(&where, "%s AND NOT %s AND %s", notnull.buf, pred[k - 1], pred[k]);
		else if (any_nullable)
			sb_addf(&where, "(NOT (%s) OR NOT %s)", notnull.buf, pred[k - 1]);
		else
			sb_addf(&where, "NOT %s", pred[k - 1]);
		sb_adds(&range, "ranges ");
		for (int c = 0; c < r->npl_columns; c++)
			sb_addf(&range, "%s%s", c ? "," : "(", r->pl_columns[c]);
		sb_adds(&range, ") ");
		if (k > 0) {
			sb_adds(&range, ">= (");
			for (int c = 0; c < r->npl_columns; c++)
				sb_addf(&range, "%s%s", c ? "," : "", r->bounds[k - 1][c]);
			sb_adds(&range, ")");
		}
		if (k < r->nbounds) {
			sb_adds(&range, k ? " and < (" : "< (");
			for (int c = 0; c < r->npl_columns; c++)
				sb_addf(&range, "%s%s", c ? "," : "", r->bounds[k][c]);
			sb_adds(&range, ")");
		}
		add_part(t, where.buf, range.buf);
	}
	for (int b = 0; b < r->nbounds; b++)
		free(pred[b]);
	for (int c = 0; c < r->npl_columns; c++)
		free(qcols[c]);
	free(pred);
	free(qcols);
	sb_release(&notnull);
	return true;
}

static bool
is_integer_type(enum dms_type t)
{
	return t >= DT_INT1 && t <= DT_UINT8;
}

/*
 * The predicate of an automatic part: key >= lo (none for the first part) and
 * key < hi (none for the last). Sets the part's bounds as --list records them.
 */
static void
add_auto_part(struct src_table *t, const int64_t *lo, const int64_t *hi)
{
	char *col = ops->quote_ident(t->d.cols[t->d.key[0]].name);
	struct strbuf where = STRBUF_INIT, bounds = STRBUF_INIT;

	if (lo != NULL && hi != NULL)
		sb_addf(&where, "%s >= %" PRId64 " AND %s < %" PRId64, col, *lo, col, *hi);
	else if (lo != NULL)
		sb_addf(&where, "%s >= %" PRId64, col, *lo);
	else if (hi != NULL)
		sb_addf(&where, "%s < %" PRId64, col, *hi);
	if (lo != NULL)
		sb_addf(&bounds, "%" PRId64, *lo);
	sb_adds(&bounds, ":");
	if (hi != NULL)
		sb_addf(&bounds, "%" PRId64, *hi);
	add_part(t, where.buf, xstrdup(where.buf ? where.buf : "all rows"));
	t->parts[t->nparts - 1].bounds = bounds.buf;
	free(col);
}

static bool
has_integer_key(const struct src_table *t)
{
	return t->d.nkey == 1 && is_integer_type(t->d.cols[t->d.key[0]].type);
}

/* Parts by ranges of a single-column integer key, of about split_rows rows each. */
static bool
plan_auto(struct source *s, struct src_table *t, int64_t split_rows)
{
	int64_t min, max, n;

	if (split_rows <= 0 || !has_integer_key(t) || t->d.estimated_rows <= split_rows)
		return true;
	if (!ops->key_range(s, t, &min, &max))
		return false;
	if (max <= min)
		return true;
	n = (t->d.estimated_rows + split_rows - 1) / split_rows;
	if (n > 64)
		n = 64;
	if ((uint64_t)(max - min) < (uint64_t)n)
		n = max - min;
	if (n < 2)
		return true;
	for (int64_t k = 0; k < n; k++) {
		/* bound k: min + (max - min) * k / n, without overflow */
		uint64_t span = (uint64_t)max - (uint64_t)min;
		int64_t lo = (int64_t)((uint64_t)min + span / (uint64_t)n * (uint64_t)k);
		int64_t hi = (int64_t)((uint64_t)min + span / (uint64_t)n * (uint64_t)(k + 1));

		add_auto_part(t, k > 0 ? &lo : NULL, k < n - 1 ? &hi : NULL);
	}
	return true;
}

static bool
plan_parts(struct source *s, struct src_table *t, int64_t split_rows)
{
	const struct mapping_rule *r = mapping_table_settings(s->mapping, t->d.schema, t->d.name);

	if (r != NULL && r->pl_type != NULL && strcmp(r->pl_type, "ranges") == 0) {
		if (!plan_ranges(s, t, r))
			return false;
	} else if (r != NULL && r->pl_type != NULL && strcmp(r->pl_type, "none") != 0) {
		log_warn("table-settings rule %s: parallel-load type \"%s\" is not supported for this source; %s.%s loads as one part",
			 r->id_text, r->pl_type, t->d.schema, t->d.name);
	} else if (r == NULL || r->pl_type == NULL) {
		if (!plan_auto(s, t, split_rows))
			return false;
	}
	if (t->nparts == 0)
		add_part(t, NULL, xstrdup("all rows"));
	for (int i = 0; i < t->nparts; i++) {
		t->parts[i].k = i + 1;
		t->parts[i].n = t->nparts;
	}
	return true;
}

/* A part of a recorded plan (a line of an earlier --list). */
struct planned {
	char *schema, *name;
	int k, n;
	char *bounds;		/* "lo:hi" of an automatic split; NULL for none */
};

static void
planned_free(struct planned *pl)
{
	free(pl->schema);
	free(pl->name);
	free(pl->bounds);
}

/*
 * Finds part id in the plan file (lines of --list: id, schema, table, k/n,
 * estimate, bounds). The file is data from the target's control tables:
 * every field is checked, and bounds must be integers, never SQL.
 */
static bool
read_plan(const char *path, const char *id, struct planned *pl)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false, ok = true;
	int lineno = 0;

	memset(pl, 0, sizeof(*pl));
	if (f == NULL) {
		log_error("--plan %s: %s", path, strerror(errno));
		return false;
	}
	while (!found && ok && getline(&line, &cap, f) > 0) {
		char *field[6] = { 0 }, *p = line, *end;
		int nf = 0;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		while (nf < 6 && p != NULL) {
			field[nf++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (nf < 5 || strcmp(field[0], id) != 0)
			continue;
		found = true;
		if (!tsv_unescape(field[1]) || !tsv_unescape(field[2]) ||
		    (pl->k = (int)strtol(field[3], &end, 10)) < 1 || *end != '/' ||
		    (pl->n = (int)strtol(end + 1, &end, 10)) < pl->k || *end != '\0' || pl->n > 100000) {
			log_error("--plan %s line %d: not a line of dms-extract --list", path, lineno);
			ok = false;
			break;
		}
		pl->schema = xstrdup(field[1]);
		pl->name = xstrdup(field[2]);
		if (nf == 6 && strcmp(field[5], "-") != 0) {
			char *colon = strchr(field[5], ':');
			char *q;

			/* integers only: "lo:hi", "lo:" or ":hi" */
			if (colon == NULL || strchr(colon + 1, ':') != NULL)
				ok = false;
			for (q = field[5]; ok && *q; q++)
				ok = q == colon || (*q >= '0' && *q <= '9') ||
				     (*q == '-' && (q == field[5] || q == colon + 1));
			if (!ok)
				log_error("--plan %s line %d: the bounds \"%s\" are not lo:hi integers",
					  path, lineno, field[5]);
			pl->bounds = xstrdup(field[5]);
		}
	}
	if (!found && ok)
		log_error("--plan %s: no part %s in the plan", path, id);
	free(line);
	fclose(f);
	if (!found || !ok)
		planned_free(pl);
	return found && ok;
}

/*
 * Plans t as the recorded plan says: an automatic split from its recorded
 * bounds, table-settings ranges from the mapping (their count must not have
 * changed), else the whole table. Never re-estimates.
 */
static bool
plan_as_recorded(struct source *s, struct src_table *t, const struct planned *pl)
{
	if (pl->bounds != NULL) {
		const char *colon = strchr(pl->bounds, ':');
		int64_t lo = 0, hi = 0;
		bool has_lo = colon != pl->bounds, has_hi = colon[1] != '\0';
		char *end;

		if (!has_integer_key(t)) {
			log_error("%s.%s: the recorded plan splits it by an integer key it no longer has; start afresh (dms-full-load --restart)",
				  t->d.schema, t->d.name);
			return false;
		}
		errno = 0;
		if (has_lo)
			lo = strtoll(pl->bounds, &end, 10);
		if (has_hi)
			hi = strtoll(colon + 1, &end, 10);
		if (errno != 0) {
			log_error("%s.%s: the recorded bounds %s are out of range", t->d.schema, t->d.name,
				  pl->bounds);
			return false;
		}
		/* parts before k are placeholders: only part k is read */
		for (int i = 1; i < pl->k; i++)
			add_part(t, NULL, xstrdup(""));
		add_auto_part(t, has_lo ? &lo : NULL, has_hi ? &hi : NULL);
		t->nparts = pl->k;
		for (int i = 0; i < t->nparts; i++) {
			t->parts[i].k = i + 1;
			t->parts[i].n = pl->n;
		}
		return true;
	}
	if (!plan_parts(s, t, 0))
		return false;
	if (t->nparts != pl->n) {
		log_error("%s.%s: the recorded plan has %d parts, the table mappings now give %d; start afresh (dms-full-load --restart)",
			  t->d.schema, t->d.name, pl->n, t->nparts);
		return false;
	}
	return true;
}

static void
write_hello(struct dms_writer *w, struct source *s)
{
	const struct hello_attrs a = {
		.engine = engine_name(s->engine), .stream = "snapshot", .tool = "dms-extract " DMS_VERSION,
		.server = s->server, .database = s->database, .snapshot = s->snapshot,
		.position = s->position,
	};

	rec_hello(&w->pk, &a);
}

static bool
write_part(struct dms_writer *w, struct source *s, int tid, const struct src_table *t,
	   const struct src_part *p, uint64_t *total)
{
	msgpack_packer *pk = &w->pk;
	uint64_t rows = 0;
	char part[32];

	snprintf(part, sizeof(part), "%d/%d", p->k, p->n);
	{
		/* filtered: the source query applied the mapping's filters, no reader applies them again */
		const struct part_attrs a = { .part = part, .range = p->range, .snapshot = s->snapshot,
					      .position = s->position, .filtered = t->filter != NULL };

		rec_part_begin(pk, tid, &a);
	}
	if (!ops->read_part(s, t, p, w, tid, &rows))
		return false;
	rec_part_end(pk, tid, rows, part);
	log_info("%s.%s part %s: %" PRIu64 " rows", t->d.schema, t->d.name, part, rows);
	*total += rows;
	return out_flush(&w->out);
}

static bool
prepare_table(struct source *s, const struct src_name *nm, struct src_table *t, int64_t split_rows,
	      bool parts)
{
	memset(t, 0, sizeof(*t));
	if (!ops->describe(s, nm, t))
		return false;
	t->filter = mapping_filter_sql(s->mapping, t->d.schema, t->d.name, ident_cb, literal_cb, s);
	if (t->filter != NULL) {
		for (int f = 0; s->mapping && f < s->mapping->nrules; f++) {
			const struct mapping_rule *r = &s->mapping->rules[f];

			for (int i = 0; r->type == RULE_SELECTION && i < r->nfilters; i++)
				if (mapping_selects(s->mapping, t->d.schema, t->d.name) &&
				    wildcard_match(r->schema, t->d.schema) && wildcard_match(r->table, t->d.name) &&
				    src_column_index(t, r->filters[i].column) < 0) {
					log_error("selection rule %s: filter column \"%s\" is not a column of %s.%s",
						  r->id_text, r->filters[i].column, t->d.schema, t->d.name);
					return false;
				}
		}
	}
	return !parts || plan_parts(s, t, split_rows);
}

static bool
write_position(const char *path, const char *position)
{
	FILE *f;

	if (position == NULL) {
		log_error("--position-file: this source has no position to report");
		return false;
	}
	f = fopen(path, "w");
	if (f == NULL || fprintf(f, "%s\n", position) < 0 || fclose(f) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* What --list prints of table number i: a line per part. */
static void
list_parts(FILE *f, int i, const struct src_table *t)
{
	struct strbuf names_tsv = STRBUF_INIT;

	sb_add_tsv_field(&names_tsv, t->d.schema);
	sb_adds(&names_tsv, "\t");
	sb_add_tsv_field(&names_tsv, t->d.name);
	for (int k = 0; k < t->nparts; k++)
		fprintf(f, "%d.%d\t%s\t%d/%d\t%" PRId64 "\t%s\n", i + 1, k + 1, names_tsv.buf, k + 1,
			t->nparts, t->d.estimated_rows / t->nparts, t->parts[k].bounds ? t->parts[k].bounds : "-");
	sb_release(&names_tsv);
}

/*
 * Says the snapshot's ID on stdout and holds it (its transaction stays open)
 * until stdin reaches its end, or TERM or INT.
 */
static int
hold_snapshot(const struct source *s)
{
	char buf[256];

	if (printf("%s\n", s->snapshot) < 0 || fflush(stdout) != 0)
		return EXIT_OUTPUT;
	while (!sig_drain && !sig_stop && read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return EXIT_OK;
}

static int
run(struct options *o)
{
	struct source s = { 0 };
	struct dms_writer w;
	struct src_name *names = NULL;
	int nnames = 0, status = EXIT_SOURCE;
	long want_t = 0, want_k = 0;
	uint64_t total = 0;
	bool ok = true;
	FILE *list = NULL;
	int out_fd = STDOUT_FILENO;
	const char *out_name = "stdout";
	struct planned *pls = NULL;
	int npls = 0;

	s.engine = uri_engine(o->uri);
	s.mapping = mapping.nrules ? &mapping : NULL;
	ops = s.engine == ENGINE_PG ? &pg_source_ops : &my_source_ops;
	if (o->part != NULL && strchr(o->part, ',') != NULL && o->plan == NULL) {
		log_usage_error("--part: a list of IDs goes with --plan");
		return EXIT_USAGE;
	}
	if (o->part != NULL && strchr(o->part, ',') == NULL) {
		char *end;

		want_t = strtol(o->part, &end, 10);
		if (*end != '.' || want_t < 1 || (want_k = strtol(end + 1, &end, 10)) < 1 || *end) {
			log_usage_error("--part: expected an ID from --list, like 3.1");
			return EXIT_USAGE;
		}
	}
	if (!ops->connect(&s, o->uri) || !ops->identity(&s))
		goto done;
	if (o->identity) {
		status = printf("%s\t%s\t%s\n", engine_name(s.engine), s.server, s.database) > 0 &&
				 fclose(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
		goto done;
	}
	if (!ops->begin(&s, o->snapshot))
		goto done;
	if (o->position_file != NULL && !write_position(o->position_file, s.position)) {
		status = EXIT_RUNTIME;
		goto done;
	}
	/* parts of a recorded plan; one part's table is the only one read of the catalog */
	if (o->part != NULL && o->plan != NULL) {
		char *ids = xstrdup(o->part), *id, *save = NULL;

		for (id = strtok_r(ids, ",", &save); id != NULL; id = strtok_r(NULL, ",", &save)) {
			pls = xrealloc(pls, (size_t)(npls + 1) * sizeof(*pls));
			if (!read_plan(o->plan, id, &pls[npls])) {
				status = EXIT_USAGE;
				break;
			}
			npls++;
		}
		free(ids);
		if (status == EXIT_USAGE)
			goto done;
		if (npls == 1) {
			s.only_schema = pls[0].schema;
			s.only_name = pls[0].name;
		}
	}
	if (!catalog_select(ops, &s, "dms", &names, &nnames))
		goto done;

	if (o->list) {
		for (int i = 0; i < nnames && ok; i++) {
			struct src_table t;

			ok = prepare_table(&s, &names[i], &t, o->split_rows, true);
			if (ok)
				list_parts(stdout, i, &t);
			src_table_free(&t);
		}
		status = ok ? (fclose(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT) : EXIT_SOURCE;
		goto done;
	}
	if (o->list_to != NULL && (list = fopen(o->list_to, "w")) == NULL) {
		log_error("--list-to %s: %s", o->list_to, strerror(errno));
		status = EXIT_OUTPUT;
		goto done;
	}

	if (o->tables_to != NULL) {
		out_fd = open(o->tables_to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out_fd < 0) {
			log_error("--tables-to %s: %s", o->tables_to, strerror(errno));
			status = EXIT_OUTPUT;
			goto done;
		}
		out_name = o->tables_to;
	} else if (!stream_refuse_tty(STDOUT_FILENO)) {
		status = EXIT_USAGE;
		goto done;
	}
	if (!writer_init(&w, out_fd, out_name, o->compress)) {
		status = EXIT_RUNTIME;
		goto done;
	}
	write_hello(&w, &s);
	if (npls > 0) {
		/* each part with its table's record (a table id of its own), in the list's order */
		for (int k = 0; k < npls && ok && !sig_drain && !sig_stop; k++) {
			const struct planned *pl = &pls[k];
			struct src_table t;
			int i = 0;

			while (i < nnames && (strcmp(names[i].schema, pl->schema) || strcmp(names[i].name, pl->name)))
				i++;
			if (i == nnames) {
				log_error("--part %s: %s.%s of the recorded plan is not a selected table of the source any more; start afresh (dms-full-load --restart)",
					  o->part, pl->schema, pl->name);
				out_flush(&w.out);
				goto out;
			}
			ok = prepare_table(&s, &names[i], &t, 0, false) && plan_as_recorded(&s, &t, pl);
			if (ok) {
				rec_table(&w.pk, k, &t.d);
				ok = write_part(&w, &s, k, &t, &t.parts[pl->k - 1], &total);
			}
			src_table_free(&t);
		}
	} else if (o->part != NULL) {
		struct src_table t;

		if (want_t > nnames) {
			log_error("--part %s: there are %d tables", o->part, nnames);
			status = EXIT_USAGE;
			goto out;
		}
		ok = prepare_table(&s, &names[want_t - 1], &t, o->split_rows, true);
		if (ok && want_k > t.nparts) {
			log_error("--part %s: %s.%s has %d parts", o->part, t.d.schema, t.d.name, t.nparts);
			src_table_free(&t);
			status = EXIT_USAGE;
			goto out;
		}
		if (ok) {
			rec_table(&w.pk, 0, &t.d);
			ok = write_part(&w, &s, 0, &t, &t.parts[want_k - 1], &total);
		}
		src_table_free(&t);
	} else {
		for (int i = 0; i < nnames && ok && !sig_drain && !sig_stop; i++) {
			struct src_table t;

			ok = prepare_table(&s, &names[i], &t, o->tables_only && list == NULL ? 0 : o->split_rows,
					   !o->tables_only || list != NULL);
			if (ok)
				rec_table(&w.pk, i, &t.d);
			if (ok && list != NULL)
				list_parts(list, i, &t);
			for (int k = 0; ok && !o->tables_only && k < t.nparts; k++)
				ok = write_part(&w, &s, i, &t, &t.parts[k], &total);
			src_table_free(&t);
		}
	}
	if (!ok) {
		status = w.out.failed ? EXIT_OUTPUT : EXIT_SOURCE;
		out_flush(&w.out);
		goto out;
	}
	rec_end(&w.pk, &total, NULL, sig_drain || sig_stop);
	status = out_finish(&w.out) ? EXIT_OK : EXIT_OUTPUT;
	if (out_fd != STDOUT_FILENO) {
		if (close(out_fd) != 0 && status == EXIT_OK) {
			log_error("--tables-to %s: %s", o->tables_to, strerror(errno));
			status = EXIT_OUTPUT;
		}
		out_fd = STDOUT_FILENO;
	}
	if (list != NULL) {
		bool written = !ferror(list);

		if (fclose(list) != 0 || !written) {
			log_error("--list-to %s: %s", o->list_to, strerror(errno));
			status = EXIT_OUTPUT;
		}
		list = NULL;
	}
	/* --export-snapshot --tables-to: the tables are written; the snapshot is held now */
	if (status == EXIT_OK && o->export_snapshot)
		status = hold_snapshot(&s);
out:
	out_release(&w.out);
done:
	for (int k = 0; k < npls; k++)
		planned_free(&pls[k]);
	free(pls);
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	if (list != NULL)
		fclose(list);
	free(s.server);
	free(s.database);
	for (int i = 0; i < nnames; i++) {
		free(names[i].schema);
		free(names[i].name);
	}
	free(names);
	ops->disconnect(&s);
	return status;
}

/* Holds an exported snapshot open until stdin reaches its end (or TERM/INT). */
static int
export_snapshot(const char *uri)
{
	struct source s = { 0 };
	int status;

	s.engine = ENGINE_PG;	/* main refused the others */
	ops = &pg_source_ops;
	if (!ops->connect(&s, uri))
		return EXIT_SOURCE;
	if (!ops->begin(&s, NULL)) {
		ops->disconnect(&s);
		return EXIT_SOURCE;
	}
	status = hold_snapshot(&s);
	ops->disconnect(&s);
	return status;
}

int
main(int argc, char **argv)
{
	enum { OPT_LIST = 256, OPT_PART, OPT_TABLES, OPT_SNAPSHOT, OPT_EXPORT, OPT_POSITION, OPT_SPLIT,
	       OPT_PLAN, OPT_IDENTITY, OPT_LIST_TO, OPT_TABLES_TO };
	static const struct option longopts[] = {
		{ "mappings", required_argument, NULL, 'm' },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "part", required_argument, NULL, OPT_PART },
		{ "plan", required_argument, NULL, OPT_PLAN },
		{ "identity", no_argument, NULL, OPT_IDENTITY },
		{ "tables-only", no_argument, NULL, OPT_TABLES },
		{ "list-to", required_argument, NULL, OPT_LIST_TO },
		{ "tables-to", required_argument, NULL, OPT_TABLES_TO },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "export-snapshot", no_argument, NULL, OPT_EXPORT },
		{ "position-file", required_argument, NULL, OPT_POSITION },
		{ "split-rows", required_argument, NULL, OPT_SPLIT },
		{ "compress", no_argument, NULL, 'z' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .split_rows = 10000000 };
	char *uri = NULL;
	int ch, modes, status;
	char *end;

	log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "m:zqvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm': o.mappings = optarg; break;
		case OPT_LIST: o.list = true; break;
		case OPT_PART: o.part = optarg; break;
		case OPT_PLAN: o.plan = optarg; break;
		case OPT_IDENTITY: o.identity = true; break;
		case OPT_TABLES: o.tables_only = true; break;
		case OPT_LIST_TO: o.list_to = optarg; break;
		case OPT_TABLES_TO: o.tables_to = optarg; break;
		case OPT_SNAPSHOT: o.snapshot = optarg; break;
		case OPT_EXPORT: o.export_snapshot = true; break;
		case OPT_POSITION: o.position_file = optarg; break;
		case OPT_SPLIT:
			o.split_rows = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o.split_rows < 0) {
				log_usage_error("--split-rows: expected a number of rows, 0 or more");
				return EXIT_USAGE;
			}
			break;
		case 'z': o.compress = true; break;
		default: {
			int st = log_common_option(ch, usage_text);

			if (st != OPTION_DONE)
				return st;
			break;
		}
		}
	}
	if (argc - optind != 1) {
		log_usage_error(argc - optind ? "too many arguments" : "a source URI is required");
		return EXIT_USAGE;
	}
	if ((uri = uri_arg(argv[optind])) == NULL)
		return EXIT_USAGE;
	o.uri = uri;
	modes = o.list + o.tables_only + (o.part != NULL) + o.export_snapshot + o.identity;
	if (modes > 1) {
		log_usage_error("--list, --part, --tables-only, --export-snapshot and --identity exclude each other");
		free(uri);
		return EXIT_USAGE;
	}
	if (o.export_snapshot && o.snapshot != NULL) {
		log_usage_error("--snapshot and --export-snapshot exclude each other");
		free(uri);
		return EXIT_USAGE;
	}
	if (o.tables_to != NULL && !o.export_snapshot) {
		log_usage_error("--tables-to goes with --export-snapshot");
		free(uri);
		return EXIT_USAGE;
	}
	if (o.list_to != NULL && !o.tables_only && o.tables_to == NULL) {
		log_usage_error("--list-to goes with --tables-only or --tables-to");
		free(uri);
		return EXIT_USAGE;
	}
	if (o.plan != NULL && o.part == NULL) {
		log_usage_error("--plan goes with --part");
		free(uri);
		return EXIT_USAGE;
	}
	if (o.mappings != NULL && !mapping_load(o.mappings, &mapping)) {
		free(uri);
		return EXIT_USAGE;
	}
	if (o.export_snapshot && uri_engine(o.uri) != ENGINE_PG) {
		log_usage_error("--export-snapshot is for PostgreSQL sources; a MySQL source reports its position with --position-file");
		mapping_free(&mapping);
		free(uri);
		return EXIT_USAGE;
	}
	sig_init();
	if (o.tables_to != NULL) {
		/* the tables' read of a load, in the snapshot it exports and then holds */
		o.tables_only = true;
		status = run(&o);
	} else {
		status = o.export_snapshot ? export_snapshot(o.uri) : run(&o);
	}
	mapping_free(&mapping);
	free(uri);
	return status;
}
