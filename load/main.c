/*
 * dms-load: reads a snapshot stream and loads it into a PostgreSQL or
 * MySQL/MariaDB target, or a change stream and applies it (load/apply.c).
 * See dms-load(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "load.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/dms.h"

static const char usage_text[] =
	"usage: dms-load [-qv] [-s settings.json] [--task name] [--prep-mode mode]\n"
	"                [--post-load | --check] [--restart] [--run ID] [--one-copy]\n"
	"                [--report file] [--progress file] [--ack-file file] [--converge]\n"
	"                target-uri\n"
	"       dms-load [-qv] [-s settings.json] [--task name] [--restart]\n"
	"                --begin-run [--source line] [--tables file] target-uri\n"
	"       dms-load [-s settings.json] --show-settings\n"
	"       dms-load --help | --version\n"
	"\n"
	"Reads a dms snapshot stream on stdin and loads it into a PostgreSQL or\n"
	"MySQL/MariaDB database: creates the tables, bulk-loads each part in one\n"
	"transaction with its status row, and records rows the target refuses.\n"
	"A change stream is applied instead, each source transaction exactly once.\n"
	"\n"
	"  -s, --settings file   AWS DMS task settings (target table preparation,\n"
	"                        LOB settings, error policies, target schema)\n"
	"  --task name           the task's name in the control tables (default dms)\n"
	"  --prep-mode mode      DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD or DO_NOTHING\n"
	"  --post-load           create keys, indexes and foreign keys, and set\n"
	"                        identity values, for the tables of the stream\n"
	"  --check               only check the stream's tables against the target\n"
	"                        (same database, names that collide or do not fit)\n"
	"  --restart             forget the task's progress for these tables first\n"
	"  --run ID              a loader of that run of dms-full-load\n"
	"  --one-copy            PostgreSQL: each part in one COPY, frozen and keyed at\n"
	"                        its end when it is a whole table dms created; a row\n"
	"                        refused rolls the part back and ends with status 8\n"
	"  --begin-run           hold the task's lock and start or resume its run,\n"
	"                        talking to dms-full-load on stdin and stdout\n"
	"  --source line         with --begin-run: the source, as dms-extract --identity\n"
	"                        prints it (else the tables stream's, when told)\n"
	"  --tables file         with --begin-run: the run's tables stream, checked\n"
	"                        first, prepared and keyed when told (one connection)\n"
	"  --report file         append one line per loaded part to file\n"
	"  --progress file       keep the rows of the part in hand in file\n"
	"  --ack-file file       change streams: the position applied, after each commit\n"
	"  --converge            change streams: changes the target may already have\n"
	"                        (a load read later) are applied as upserts, a missing\n"
	"                        row's update inserts it, its delete is passed over\n"
	"  --show-settings       print the effective settings and exit\n"
	"  -q, --quiet           errors only\n"
	"  -v, --verbose         more messages\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

struct options {
	const char *settings;
	const char *task;
	const char *prep_mode;
	bool post_load, restart, check, begin_run;
	const char *run, *source, *tables;
	const char *report;
	const char *progress;
	const char *ack_file;
	const char *uri;
	bool show, converge, one_copy;
};

static int
show_settings(const struct task_settings *s)
{
	printf("TargetSchema=%s\nControlSchema=%s\nSupportLobs=%s\nFullLobMode=%s\n"
	       "LimitedSizeLobMode=%s\nLobMaxSize=%lld\nTargetTablePrepMode=%s\n"
	       "CreatePkAfterFullLoad=%s\nMaxFullLoadSubTasks=%d\nCommitRate=%d\n"
	       "DataErrorPolicy=%s\nDataTruncationErrorPolicy=%s\nEnableValidation=%s\nValidationOnly=%s\n"
	       "StopTaskCachedChangesApplied=%s\nStopTaskCachedChangesNotApplied=%s\n",
	       s->target_schema ? s->target_schema : "", s->control_schema,
	       s->support_lobs ? "true" : "false", s->full_lob_mode ? "true" : "false",
	       s->limited_lob_mode ? "true" : "false", (long long)s->lob_max_size_kb,
	       prep_mode_name(s->prep_mode), s->create_pk_after_full_load ? "true" : "false",
	       s->max_full_load_subtasks, s->commit_rate, error_policy_name(s->data_error_policy),
	       error_policy_name(s->data_truncation_policy), s->enable_validation ? "true" : "false",
	       s->validation_only ? "true" : "false", s->stop_cached_applied ? "true" : "false",
	       s->stop_cached_not_applied ? "true" : "false");
	return fclose(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
}

static struct loader L;
static struct ttable **tables;
static size_t ntables;
static FILE *report;
static const char *report_path;
static bool report_failed;	/* a part loaded but its report line could not be written */

/* Part in hand. */
static struct {
	bool open;		/* a target transaction is open for rows */
	bool skip;		/* loaded already: its rows are passed over */
	bool suspended;		/* SUSPEND_TABLE: the rest of the part is passed over */
	bool whole;		/* --one-copy, the table's only part: whole_begin ran */
	struct ttable *table;
	char *part, *range;
	uint64_t rows, rejected;
	struct timespec started;
	uint64_t bytes;
} P;

/* The part's line of --report; false (logged as a local write error) when it cannot be written. */
static bool
report_part(const struct ttable *t, double secs, const char *state)
{
	struct strbuf names = STRBUF_INIT;
	bool ok;

	sb_add_tsv_field(&names, t->schema);
	sb_adds(&names, "\t");
	sb_add_tsv_field(&names, t->name);
	ok = fprintf(report, "%s\t%s\t%" PRIu64 "\t%.3f\t%" PRIu64 "\t%" PRIu64 "\t%s\n", names.buf,
		     P.part, P.rows - P.rejected, secs, P.bytes, P.rejected, state) > 0 &&
	     fflush(report) == 0 && !ferror(report);
	if (!ok)
		log_error("%s: cannot write the report (a local file; the part itself is loaded): %s",
			  report_path, strerror(errno));
	sb_release(&names);
	return ok;
}

static struct batch B;
static bool flush_batch(void);

/*
 * --one-copy: the part is one COPY with no savepoint and no rows kept, so a
 * row the target refuses cannot be set apart; the part is rolled back and
 * the load ends with EXIT_AGAIN, for its caller to load the part again a
 * batch at a time (parts loaded before it stay, and are skipped then).
 */
static bool again;

static bool
load_again(const struct ttable *t, const char *why)
{
	log_warn("%s.%s part %s: %s; the part is rolled back, to be loaded again a batch at a time",
		 t->schema, t->name, P.part, why);
	again = true;
	return false;
}

/*
 * --progress: the part in hand as one line "rows estimate started now" (times
 * in milliseconds since the epoch), rewritten at most four times a second,
 * for dms-full-load's status lines. Best effort: a progress file that cannot
 * be written is not an error of the load.
 */
static int progress_fd = -1;
static int64_t progress_last;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
progress(bool force)
{
	static int64_t started;
	char line[128];
	int64_t now;
	int n;

	if (progress_fd < 0 || P.table == NULL)
		return;
	now = now_ms();
	if (P.rows == 0 && force)
		started = now;
	if (!force && now - progress_last < 250)
		return;
	progress_last = now;
	n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRId64 " %" PRId64 "\n", P.rows, started, now);
	if (pwrite(progress_fd, line, (size_t)n, 0) == n)
		(void)ftruncate(progress_fd, n);
}

static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
batch_reset(struct batch *b)
{
	sb_reset(&b->data);
	sb_reset(&b->raw);
	b->nrows = 0;
	b->sent = 0;
}

static void
batch_add(struct batch *b, const uint8_t *raw, size_t rawlen)
{
	if (b->nrows == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 1024;
		b->ends = xrealloc(b->ends, b->cap * sizeof(size_t));
		b->raw_ends = xrealloc(b->raw_ends, b->cap * sizeof(size_t));
	}
	sb_add(&b->raw, raw, rawlen);
	b->ends[b->nrows] = b->data.len;
	b->raw_ends[b->nrows] = b->raw.len;
	b->nrows++;
}

static const uint8_t *
batch_raw(const struct batch *b, size_t i)
{
	return (const uint8_t *)b->raw.buf + (i ? b->raw_ends[i - 1] : 0);
}

static size_t
batch_raw_len(const struct batch *b, size_t i)
{
	return b->raw_ends[i] - (i ? b->raw_ends[i - 1] : 0);
}

enum outcome { ROW_OK, ROW_SKIPPED, ROW_FATAL };

/* A row the target cannot take: the data error policy decides. */
static enum outcome
bad_row(struct ttable *t, const uint8_t *values, size_t len, const char *error, bool truncation)
{
	enum error_policy p = truncation ? L.settings->data_truncation_policy
					 : L.settings->data_error_policy;
	char key[512], record[2048];

	values_key_text(t->src, values, len, key, sizeof(key));
	values_text(t->src, values, len, record, sizeof(record));
	P.rejected++;
	switch (p) {
	case POLICY_IGNORE_RECORD:
		log_warn("%s.%s%s%s: row ignored (IGNORE_RECORD): %s", t->schema, t->name,
			 key[0] ? " key " : "", key, error);
		return ROW_SKIPPED;
	case POLICY_LOG_ERROR:
		log_warn("%s.%s%s%s: row not loaded, logged to the exceptions table: %s", t->schema,
			 t->name, key[0] ? " key " : "", key, error);
		L.exceptions++;
		return L.ops->exception(&L, t, key, record, error) ? ROW_SKIPPED : ROW_FATAL;
	case POLICY_SUSPEND_TABLE:
		log_error("%s.%s%s%s: %s; the table is suspended (SUSPEND_TABLE)", t->schema, t->name,
			  key[0] ? " key " : "", key, error);
		P.suspended = true;
		return ROW_SKIPPED;
	case POLICY_STOP_TASK:
	default:
		log_error("%s.%s%s%s: %s; stopping (STOP_TASK)", t->schema, t->name,
			  key[0] ? " key " : "", key, error);
		return ROW_FATAL;
	}
}

/* Loads rows lo..hi of batch b, halving around rows the target refuses (each half kept as it loads). */
static bool
load_range(struct ttable *t, struct batch *b, size_t lo, size_t hi)
{
	char err[1024];
	bool truncation = false;
	int rc;

	if (lo >= hi || P.suspended)
		return true;
	rc = L.ops->load_rows(&L, t, b, lo, hi, false, err, sizeof(err), &truncation);
	if (rc == LOAD_DONE)
		return true;
	if (rc == LOAD_FAILED)
		return false;
	if (hi - lo == 1)
		return bad_row(t, batch_raw(b, lo), batch_raw_len(b, lo), err, truncation) != ROW_FATAL;
	return load_range(t, b, lo, lo + (hi - lo) / 2) && load_range(t, b, lo + (hi - lo) / 2, hi);
}

/* Why row i of the batch was refused, found by probing. */
struct refusal {
	char *error;		/* NULL: not refused */
	bool truncation;
};

/*
 * Finds the refused rows of B[lo..hi) by halves. Every probe is rolled back,
 * the ones that load too: a subtransaction kept per good stretch would hold
 * a lock each to the end of the part, and a part with thousands of bad rows
 * would exhaust the server's lock table.
 */
static bool
probe(struct ttable *t, size_t lo, size_t hi, struct refusal *why)
{
	char err[1024];
	bool truncation = false;
	int rc;

	if (lo >= hi)
		return true;
	rc = L.ops->load_rows(&L, t, &B, lo, hi, true, err, sizeof(err), &truncation);
	if (rc == LOAD_FAILED)
		return false;
	if (rc == LOAD_DONE)
		return true;
	if (hi - lo == 1) {
		why[lo].error = xstrdup(err);
		why[lo].truncation = truncation;
		return true;
	}
	return probe(t, lo, lo + (hi - lo) / 2, why) && probe(t, lo + (hi - lo) / 2, hi, why);
}

/*
 * The batch was refused for its data: its bad rows are found by probes that
 * keep nothing, then the good ones load in one statement, then the bad ones
 * follow the data error policy. Should the good rows still be refused
 * together (two rows that clash only with each other), they load by halves.
 */
static bool
isolate(struct ttable *t, const char *first_err, bool first_truncation)
{
	struct refusal *why = xcalloc(B.nrows + 1, sizeof(*why));
	struct batch good = { 0 };
	bool ok = true;

	if (B.nrows == 1) {
		why[0].error = xstrdup(first_err);
		why[0].truncation = first_truncation;
	} else {
		ok = probe(t, 0, B.nrows, why);
	}
	for (size_t i = 0; ok && i < B.nrows; i++) {
		size_t start = i ? B.ends[i - 1] : 0;

		if (why[i].error != NULL)
			continue;
		sb_add(&good.data, B.data.buf + start, B.ends[i] - start);
		batch_add(&good, batch_raw(&B, i), batch_raw_len(&B, i));
		good.ends[good.nrows - 1] = good.data.len;
	}
	if (ok && good.nrows > 0)
		ok = load_range(t, &good, 0, good.nrows);
	for (size_t i = 0; i < B.nrows; i++) {
		if (ok && why[i].error != NULL)
			ok = bad_row(t, batch_raw(&B, i), batch_raw_len(&B, i), why[i].error,
				     why[i].truncation) != ROW_FATAL;
		free(why[i].error);
	}
	free(why);
	sb_release(&good.data);
	sb_release(&good.raw);
	free(good.ends);
	free(good.raw_ends);
	return ok;
}

/*
 * Rows refused before they reached the target (a value it cannot hold, a row
 * larger than a statement may be): their exceptions are written once the
 * batch is through, never while a COPY is open.
 */
static struct {
	struct strbuf raw;
	size_t *ends;
	char **errors;
	bool *truncation;
	char **keys, **records;	/* a REJECT's texts; NULL for a row of values */
	size_t n, cap;
} D;

static void
defer(const uint8_t *values, size_t len, const char *key, const char *record, const char *error,
      bool truncation)
{
	if (D.n == D.cap) {
		D.cap = D.cap ? 2 * D.cap : 16;
		D.ends = xrealloc(D.ends, D.cap * sizeof(*D.ends));
		D.errors = xrealloc(D.errors, D.cap * sizeof(*D.errors));
		D.truncation = xrealloc(D.truncation, D.cap * sizeof(*D.truncation));
		D.keys = xrealloc(D.keys, D.cap * sizeof(*D.keys));
		D.records = xrealloc(D.records, D.cap * sizeof(*D.records));
	}
	sb_add(&D.raw, values, len);
	D.ends[D.n] = D.raw.len;
	D.errors[D.n] = xstrdup(error);
	D.truncation[D.n] = truncation;
	D.keys[D.n] = key ? xstrdup(key) : NULL;
	D.records[D.n] = record ? xstrdup(record) : NULL;
	D.n++;
}

static void
defer_bad_row(const uint8_t *values, size_t len, const char *error, bool truncation)
{
	defer(values, len, NULL, NULL, error, truncation);
}

/* A REJECT of dms-transform: refused upstream under LOG_ERROR, it goes to the exceptions table. */
static bool
log_reject(struct ttable *t, const char *key, const char *record, const char *error)
{
	log_warn("%s.%s%s%s: row refused upstream, logged to the exceptions table: %s", t->schema,
		 t->name, key[0] ? " key " : "", key, error);
	L.exceptions++;
	return L.ops->exception(&L, t, key, record, error);
}

static bool
deferred_bad_rows(struct ttable *t)
{
	bool ok = true;

	for (size_t i = 0; i < D.n; i++) {
		size_t start = i ? D.ends[i - 1] : 0;

		if (ok && D.keys[i] != NULL)
			ok = log_reject(t, D.keys[i], D.records[i], D.errors[i]);
		else if (ok)
			ok = bad_row(t, (const uint8_t *)D.raw.buf + start, D.ends[i] - start, D.errors[i],
				     D.truncation[i]) != ROW_FATAL;
		free(D.errors[i]);
		free(D.keys[i]);
		free(D.records[i]);
	}
	D.n = 0;
	sb_reset(&D.raw);
	return ok;
}

#define STREAM_CHUNK (64 * 1024)

static bool
flush_batch(void)
{
	bool ok = true;

	if (B.streaming) {
		char err[1024];
		bool truncation = false;
		int rc;

		B.streaming = false;
		if (B.data.len > B.sent && !L.ops->stream_send(&L, B.data.buf + B.sent, B.data.len - B.sent))
			return false;
		rc = L.ops->stream_end(&L, P.table, err, sizeof(err), &truncation);
		if (rc == LOAD_FAILED)
			return false;
		if (rc == LOAD_REFUSED && L.one_copy)
			return load_again(P.table, err);
		if (rc == LOAD_REFUSED)	/* the batch was rolled back */
			ok = isolate(P.table, err, truncation);
	} else if (B.nrows > 0 && P.table != NULL && !P.suspended) {
		char err[1024];
		bool truncation = false;
		int rc = L.ops->load_rows(&L, P.table, &B, 0, B.nrows, false, err, sizeof(err), &truncation);

		if (rc == LOAD_FAILED)
			return false;
		if (rc == LOAD_REFUSED)
			ok = isolate(P.table, err, truncation);
	}
	P.bytes += B.data.len;
	batch_reset(&B);
	if (P.table != NULL)
		ok = deferred_bad_rows(P.table) && ok;
	return ok;
}

/* Streaming targets: opens the batch's COPY and sends what is formatted, a chunk at a time. */
static bool
stream_rows(void)
{
	if (L.ops->stream_begin == NULL || P.suspended)
		return true;
	if (!B.streaming) {
		if (!L.ops->stream_begin(&L, P.table))
			return false;
		B.streaming = true;
		B.sent = 0;
	}
	if (B.data.len - B.sent >= STREAM_CHUNK) {
		if (!L.ops->stream_send(&L, B.data.buf + B.sent, B.data.len - B.sent))
			return false;
		B.sent = B.data.len;
	}
	return true;
}

static bool
part_begin(const struct dms_record *rec, struct ttable *t)
{
	const uint8_t *attrs = record_element(rec, 2);
	size_t len = rec->len - (size_t)(attrs - rec->raw);
	enum answer done;

	memset(&P, 0, sizeof(P));
	P.table = t;
	P.part = attrs_str(attrs, len, "part");
	P.range = attrs_str(attrs, len, "range");
	if (P.part == NULL)
		P.part = xstrdup("1/1");
	if (P.range == NULL)
		P.range = xstrdup("");
	clock_gettime(CLOCK_MONOTONIC, &P.started);
	done = state_part_done(&L, t, P.part, P.range);
	if (done == ANSWER_ERROR)
		return false;
	if (done == ANSWER_YES) {
		log_info("%s.%s part %s is loaded already: skipped", t->schema, t->name, P.part);
		P.skip = true;
		return true;
	}
	if (!L.ops->begin(&L))
		return false;
	P.open = true;
	if (L.ops->part_form != NULL && t->copy_form == 0) {
		const char *form = L.ops->part_form(&L, t);

		if (form == NULL)
			return false;
		log_info("%s.%s: parts go in %s", t->schema, t->name, form);
	}
	if (L.one_copy && L.ops->whole_begin != NULL && strcmp(P.part, "1/1") == 0) {
		if (!L.ops->whole_begin(&L, t))
			return false;
		P.whole = true;
	}
	progress(true);
	return true;
}

static bool
part_end(const struct dms_record *rec)
{
	struct ttable *t = P.table;
	const char *state = P.suspended ? "suspended" : "loaded";
	double secs;
	bool ok;

	(void)rec;	/* its count was checked by the reader */
	if (P.skip) {
		free(P.part);
		free(P.range);
		memset(&P, 0, sizeof(P));
		return true;
	}
	if (!flush_batch())
		return false;
	if (P.whole) {
		char err[1024];
		int rc = L.ops->whole_end(&L, t, err, sizeof(err));

		if (rc == LOAD_FAILED)
			return false;
		if (rc == LOAD_REFUSED)
			return load_again(t, err);
	}
	progress(true);
	ok = state_commit_part(&L, t, P.part, P.range, state, P.rows - P.rejected,
				P.suspended ? "a row failed under SUSPEND_TABLE" : NULL);
	secs = seconds_since(&P.started);
	if (ok) {
		log_info("%s.%s part %s: %" PRIu64 " rows in %.2f s%s", t->schema, t->name, P.part,
			 P.rows - P.rejected, secs, P.rejected ? " (some rows refused)" : "");
		if (report != NULL && !report_part(t, secs, state))
			report_failed = true;
	}
	if (P.suspended)
		L.failed = true;
	free(P.part);
	free(P.range);
	memset(&P, 0, sizeof(P));
	return ok;
}

static bool
row(const struct dms_record *rec, struct ttable *t)
{
	char err[512];
	size_t before = B.data.len;

	if (P.skip || P.suspended)
		return true;
	if (!P.open) {
		log_error("record %" PRIu64 ": a ROW outside PART_BEGIN / PART_END", rec->seq);
		return false;
	}
	if ((++P.rows & 1023) == 0)
		progress(false);
	L.format_truncation = false;
	if (!L.ops->format_row(&L, t, rec->values, rec->values_len, &B.data, err, sizeof(err))) {
		B.data.len = before;
		if (B.data.buf)
			B.data.buf[before] = '\0';
		if (L.one_copy)
			return load_again(t, err);
		defer_bad_row(rec->values, rec->values_len, err, L.format_truncation);
		return true;
	}
	/* a statement may not be larger than the target takes (MySQL's max_allowed_packet) */
	if (L.max_statement > 0 && B.data.len - before > L.max_statement) {
		snprintf(err, sizeof(err), "the row is %zu bytes, more than one statement may carry on this server (max_allowed_packet %zu)",
			 B.data.len - before, L.max_statement + L.statement_overhead);
		B.data.len = before;
		if (B.data.buf)
			B.data.buf[before] = '\0';
		defer_bad_row(rec->values, rec->values_len, err, true);
		return true;
	}
	if (L.max_statement > 0 && B.nrows > 0 && B.data.len > L.max_statement) {
		/* this row goes in the next statement */
		size_t n = B.data.len - before;
		char *row_text = xmalloc(n);

		memcpy(row_text, B.data.buf + before, n);
		B.data.len = before;
		if (!flush_batch()) {
			free(row_text);
			return false;
		}
		sb_add(&B.data, row_text, n);
		free(row_text);
	}
	if (L.one_copy) {
		/* one COPY for the part: the batch's rows go out and are not kept */
		if (!stream_rows())
			return false;
		if (B.data.len >= L.ops->batch_bytes) {
			if (!L.ops->stream_send(&L, B.data.buf + B.sent, B.data.len - B.sent))
				return false;
			P.bytes += B.data.len;
			sb_reset(&B.data);
			B.sent = 0;
		}
		return true;
	}
	batch_add(&B, rec->values, rec->len - (size_t)(rec->values - rec->raw));
	if (!stream_rows())
		return false;
	if (B.data.len >= L.ops->batch_bytes)
		return flush_batch();
	return true;
}

static void
set_table(int64_t tid, struct ttable *t)
{
	if ((size_t)tid >= ntables) {
		size_t n = ntables ? ntables : 16;

		while (n <= (size_t)tid)
			n *= 2;
		tables = xrealloc(tables, n * sizeof(*tables));
		memset(tables + ntables, 0, (n - ntables) * sizeof(*tables));
		ntables = n;
	}
	ttable_free(tables[tid]);
	tables[tid] = t;
}

/* HELLO: the source's engine and identity; true for a change stream. */
static bool
hello(const struct dms_record *rec)
{
	const uint8_t *attrs = record_element(rec, 2);
	size_t len = rec->len - (size_t)(attrs - rec->raw);
	char *engine = attrs_str(attrs, len, "engine"), *stream = attrs_str(attrs, len, "stream");
	bool changes = stream && strcmp(stream, "changes") == 0;

	L.source = engine && strcmp(engine, "postgresql") == 0 ? ENGINE_PG
		 : engine && strcmp(engine, "mysql") == 0 ? ENGINE_MYSQL : ENGINE_NONE;
	free(engine);
	free(L.source_server);
	free(L.source_database);
	L.source_server = attrs_str(attrs, len, "server");
	L.source_database = attrs_str(attrs, len, "database");
	free(stream);
	return changes;
}

/*
 * The next record, as reader_next; READ_ERROR with *status set for a
 * malformed stream (EXIT_INPUT) or a QUIT (EXIT_RUNTIME: stop at once, what
 * is open rolls back).
 */
static int
next_record(struct dms_reader *r, struct dms_record *rec, int *status)
{
	int rc = reader_next(r, rec);

	if (rc == READ_ERROR) {
		*status = EXIT_INPUT;
	} else if (rc == READ_RECORD && sig_stop) {
		log_error("stopped by SIGQUIT: the transaction in hand is rolled back");
		*status = EXIT_RUNTIME;
		rc = READ_ERROR;
	}
	return rc;
}

/* The table of tid, in its slot; NULL before the first TABLE record of a tid past the slots. */
static struct ttable **
table_slot(int64_t tid)
{
	return tid >= 0 && (size_t)tid < ntables ? &tables[tid] : NULL;
}

/*
 * A change stream, from its HELLO on: TABLE records create or alter target
 * tables, transactions are applied (load/apply.c). TERM or INT stop between
 * two source transactions, the applied ones committed.
 */
static int
run_changes(const struct options *o, struct dms_reader *r)
{
	struct dms_record rec;
	int status = EXIT_OK;
	bool at_end = false;

	if (o->post_load || o->check) {
		log_usage_error("--post-load and --check are for snapshot streams; this is a change stream");
		return EXIT_USAGE;
	}
	if (!apply_start(&L, &r->st, table_slot, o->ack_file))
		return apply_status();
	r->before_read = apply_idle;
	r->arg = &r->in;
	while (status == EXIT_OK) {
		int rc;

		if (sig_stop) {
			log_error("stopped by SIGQUIT: the transaction in hand is rolled back");
			status = EXIT_RUNTIME;
			break;
		}
		if (sig_drain && apply_between()) {
			log_info("stopping on a signal, between transactions");
			break;
		}
		rc = next_record(r, &rec, &status);
		if (rc == READ_EOF) {
			at_end = true;
			break;
		}
		if (rc == READ_INTERRUPTED)
			continue;
		if (rc == READ_ERROR)
			break;
		switch (rec.kind) {
		case K_HELLO:
			hello(&rec);
			break;
		case K_TABLE: {
			struct ttable *t = ttable_new(&L, rec.table);

			status = apply_table(t, rec.table->tid);
			set_table(rec.table->tid, t);
			break;
		}
		case K_ROW:
		case K_PART_BEGIN:
		case K_PART_END:
		case K_REJECT:
			log_error("record %" PRIu64 " (%s): a change stream holds no snapshot records", rec.seq,
				  dms_kind_name(rec.kind));
			status = EXIT_INPUT;
			break;
		case K_END:
			break;
		default:
			status = apply_record(&rec);
			break;
		}
	}
	return apply_finish(at_end, status);
}

/*
 * REJECT: a row dms-transform refused under LOG_ERROR. In the part in hand
 * it counts as refused and is logged once no COPY is open; outside a part,
 * at once.
 */
static bool
reject(const struct dms_record *rec)
{
	const uint8_t *attrs = record_element(rec, 2);
	size_t alen = rec->len - (size_t)(attrs - rec->raw);
	char *key = attrs_str(attrs, alen, "key"), *values = attrs_str(attrs, alen, "values");
	char *error = attrs_str(attrs, alen, "error");
	struct ttable *t = tables[rec->table->tid];
	bool ok = true;

	if (P.open && P.table == t && L.one_copy) {
		ok = load_again(t, error ? error : "a row was refused upstream");
	} else if (P.open && P.table == t) {
		P.rows++;
		P.rejected++;
		defer(NULL, 0, key ? key : "", values ? values : "", error ? error : "refused upstream", false);
	} else {
		ok = log_reject(t, key ? key : "", values ? values : "", error ? error : "refused upstream");
	}
	free(key);
	free(values);
	free(error);
	return ok;
}

/*
 * The tables read so far: checked together (and refused, exit 2, before
 * anything is touched), then prepared, those not prepared yet.
 */
static int
prepare_tables(const struct options *o)
{
	if (!run_check_tables(&L, tables, ntables))
		return EXIT_USAGE;
	if (o->check)
		return EXIT_OK;
	for (size_t i = 0; i < ntables; i++) {
		if (tables[i] == NULL || tables[i]->prepared)
			continue;
		if (!L.ops->prepare(&L, tables[i]))
			return EXIT_TARGET;
		tables[i]->prepared = true;
	}
	return EXIT_OK;
}

static int load_stream(const struct options *o, int fd, const char *name);

static int
run(struct options *o)
{
	int status;

	if (!L.ops->connect(&L, o->uri))
		return EXIT_TARGET;
	if (o->begin_run) {
		status = run_holder(&L, o->source, o->tables, o->restart);
		L.ops->disconnect(&L);
		return status;
	}
	/* a loader of a run: the run holder made the control tables (run_join reads them) */
	if (!o->check && o->run == NULL && !L.ops->control_tables(&L)) {
		L.ops->disconnect(&L);
		return EXIT_TARGET;
	}
	status = load_stream(o, STDIN_FILENO, "stdin");
	L.ops->disconnect(&L);
	return status;
}

int
load_tables(const char *path, enum tables_work work)
{
	struct options o = { .check = work == TABLES_CHECK, .post_load = work == TABLES_POST_LOAD };
	int fd = open(path, O_RDONLY | O_CLOEXEC), status;

	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	L.failed = false;
	status = load_stream(&o, fd, path);
	close(fd);
	return status;
}

/* Reads the stream on fd and loads it into the connected target; an exit status. */
static int
load_stream(const struct options *o, int fd, const char *name)
{
	struct dms_reader r;
	struct dms_record rec;
	int status = EXIT_OK;
	bool ok = true, pending = false;

	if (!reader_init(&r, fd, name))
		return EXIT_RUNTIME;
	while (ok) {
		int rc = next_record(&r, &rec, &status);

		if (rc == READ_EOF)
			break;
		if (rc == READ_INTERRUPTED)
			continue;
		if (rc == READ_ERROR)
			break;
		/* the tables so far are checked, together, before the first is touched */
		if (pending && rec.kind != K_TABLE) {
			pending = false;
			if ((status = prepare_tables(o)) != EXIT_OK)
				break;
		}
		switch (rec.kind) {
		case K_HELLO:
			if (hello(&rec) && rec.seq == 1) {
				status = run_changes(o, &r);	/* it takes the task's lock itself */
				ok = false;
			} else if (rec.seq == 1 && !o->check && !run_join(&L)) {
				status = EXIT_USAGE;
				ok = false;
			}
			break;
		case K_TABLE: {
			struct ttable *t = ttable_new(&L, rec.table);

			set_table(rec.table->tid, t);
			if (o->post_load) {
				ok = L.ops->post_load(&L, t);
				if (!ok)
					status = EXIT_TARGET;
			} else {
				t->prepared = false;
				pending = true;
			}
			break;
		}
		case K_PART_BEGIN:
			if (o->post_load || o->check)
				break;
			if (P.open || P.skip) {
				log_error("record %" PRIu64 ": PART_BEGIN inside another part", rec.seq);
				ok = false;
				status = EXIT_INPUT;
				break;
			}
			ok = part_begin(&rec, tables[rec.table->tid]);
			if (!ok)
				status = EXIT_TARGET;
			break;
		case K_ROW:
			if (o->post_load || o->check)
				break;
			ok = row(&rec, tables[rec.table->tid]);
			if (!ok)
				status = P.open ? EXIT_TARGET : EXIT_INPUT;
			break;
		case K_PART_END:
			if (o->post_load || o->check || (!P.open && !P.skip))
				break;
			ok = part_end(&rec);
			if (!ok)
				status = EXIT_TARGET;
			break;
		case K_REJECT:
			if (!(o->post_load || o->check || P.skip) && !reject(&rec)) {
				ok = false;
				status = EXIT_TARGET;
			}
			break;
		case K_END:
			break;
		case K_BEGIN:
		case K_INSERT:
		case K_UPDATE:
		case K_DELETE:
		case K_TRUNCATE:
		case K_COMMIT:
		case K_CHECKPOINT:
			log_error("record %" PRIu64 " (%s): a change record in a snapshot stream (its HELLO says stream \"snapshot\")",
				  rec.seq, dms_kind_name(rec.kind));
			ok = false;
			status = EXIT_INPUT;
			break;
		default:
			break;
		}
	}
	if (pending && status == EXIT_OK)
		status = prepare_tables(o);
	if (P.open) {
		if (status == EXIT_OK) {
			log_error("the stream ended inside a part");
			status = EXIT_INPUT;
		}
		L.ops->rollback(&L);
	}
	if (status == EXIT_OK && L.failed)
		status = EXIT_TARGET;
	if (again)
		status = EXIT_AGAIN;
	if (L.exceptions)
		log_warn("%" PRIu64 " rows were not loaded; see the %s apply_exceptions table", L.exceptions,
			 L.settings->control_schema);
	reader_release(&r);
	return status;
}

int
main(int argc, char **argv)
{
	enum { OPT_TASK = 256, OPT_PREP, OPT_POST, OPT_RESTART, OPT_REPORT, OPT_SHOW, OPT_CHECK,
	       OPT_RUN, OPT_BEGIN_RUN, OPT_SOURCE, OPT_PROGRESS, OPT_ACK, OPT_CONVERGE, OPT_TABLES,
	       OPT_ONE_COPY };
	static const struct option longopts[] = {
		{ "settings", required_argument, NULL, 's' },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "prep-mode", required_argument, NULL, OPT_PREP },
		{ "post-load", no_argument, NULL, OPT_POST },
		{ "restart", no_argument, NULL, OPT_RESTART },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "run", required_argument, NULL, OPT_RUN },
		{ "begin-run", no_argument, NULL, OPT_BEGIN_RUN },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "tables", required_argument, NULL, OPT_TABLES },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "ack-file", required_argument, NULL, OPT_ACK },
		{ "converge", no_argument, NULL, OPT_CONVERGE },
		{ "one-copy", no_argument, NULL, OPT_ONE_COPY },
		{ "show-settings", no_argument, NULL, OPT_SHOW },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .task = "dms" };
	struct task_settings settings;
	char *uri = NULL;
	int ch, status;

	log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "s:qvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.settings = optarg; break;
		case OPT_TASK: o.task = optarg; break;
		case OPT_PREP: o.prep_mode = optarg; break;
		case OPT_POST: o.post_load = true; break;
		case OPT_RESTART: o.restart = true; break;
		case OPT_CHECK: o.check = true; break;
		case OPT_RUN: o.run = optarg; break;
		case OPT_BEGIN_RUN: o.begin_run = true; break;
		case OPT_SOURCE: o.source = optarg; break;
		case OPT_TABLES: o.tables = optarg; break;
		case OPT_REPORT: o.report = optarg; break;
		case OPT_PROGRESS: o.progress = optarg; break;
		case OPT_ACK: o.ack_file = optarg; break;
		case OPT_CONVERGE: o.converge = true; break;
		case OPT_ONE_COPY: o.one_copy = true; break;
		case OPT_SHOW: o.show = true; break;
		default: {
			int st = log_common_option(ch, usage_text);

			if (st != OPTION_DONE)
				return st;
			break;
		}
		}
	}
	if (o.show) {
		if (argc != optind) {
			log_usage_error("--show-settings takes no target");
			return EXIT_USAGE;
		}
		settings_defaults(&settings);
		if (o.settings != NULL && !settings_load(o.settings, &settings))
			return EXIT_USAGE;
		if (o.prep_mode != NULL && !prep_mode_parse(o.prep_mode, &settings.prep_mode)) {
			log_usage_error("--prep-mode: DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD or DO_NOTHING");
			return EXIT_USAGE;
		}
		status = show_settings(&settings);
		settings_free(&settings);
		return status;
	}
	if (argc - optind != 1) {
		log_usage_error(argc - optind ? "too many arguments" : "a target URI is required");
		return EXIT_USAGE;
	}
	if (*o.task == '\0' || strlen(o.task) > 100) {
		log_usage_error("--task: a name of 1 to 100 characters");
		return EXIT_USAGE;
	}
	if (o.post_load + o.check + o.begin_run > 1) {
		log_usage_error("--post-load, --check and --begin-run exclude each other");
		return EXIT_USAGE;
	}
	if (o.tables != NULL && !o.begin_run) {
		log_usage_error("--tables goes with --begin-run");
		return EXIT_USAGE;
	}
	if (o.source != NULL && !o.begin_run) {
		log_usage_error("--source goes with --begin-run");
		return EXIT_USAGE;
	}
	if (o.begin_run && o.source == NULL && o.tables == NULL) {
		log_usage_error("--begin-run needs --source, --tables or both");
		return EXIT_USAGE;
	}
	if (o.run != NULL && (*o.run == '\0' || strlen(o.run) > 64)) {
		log_usage_error("--run: a run ID of 1 to 64 characters");
		return EXIT_USAGE;
	}
	if ((uri = uri_arg(argv[optind])) == NULL)
		return EXIT_USAGE;
	o.uri = uri;
	L.engine = uri_engine(o.uri);
	settings_defaults(&settings);
	if (o.settings != NULL && !settings_load(o.settings, &settings))
		return EXIT_USAGE;
	if (o.prep_mode != NULL && !prep_mode_parse(o.prep_mode, &settings.prep_mode)) {
		log_usage_error("--prep-mode: DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD or DO_NOTHING");
		return EXIT_USAGE;
	}
	if (o.converge) {
		/* changes that may already be in the target (a load in a later snapshot) */
		settings.apply_insert_policy = POLICY_INSERT_RECORD;
		settings.apply_update_policy = POLICY_UPDATE_RECORD;
		settings.apply_delete_policy = POLICY_IGNORE_RECORD;
	}
	if (o.report != NULL && (report = fopen(o.report, "a")) == NULL) {
		log_error("cannot open %s: %s", o.report, strerror(errno));
		return EXIT_RUNTIME;
	}
	report_path = o.report;
	if (o.progress != NULL && (progress_fd = open(o.progress, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		log_warn("%s: %s (no progress is shown)", o.progress, strerror(errno));
	L.ops = L.engine == ENGINE_PG ? &pg_target_ops : &my_target_ops;
	L.task = o.task;
	L.settings = &settings;
	L.restart = o.restart && !o.begin_run;
	L.run = o.run;
	L.one_copy = o.one_copy && L.ops->stream_begin != NULL;
	sig_init();
	status = run(&o);
	for (size_t i = 0; i < ntables; i++)
		ttable_free(tables[i]);
	free(tables);
	sb_release(&B.data);
	sb_release(&B.raw);
	sb_release(&D.raw);
	free(D.ends);
	free(D.errors);
	free(D.truncation);
	free(D.keys);
	free(D.records);
	free(B.ends);
	free(B.raw_ends);
	if (report && fclose(report) != 0 && !report_failed) {
		log_error("%s: cannot write the report (a local file): %s", o.report, strerror(errno));
		report_failed = true;
	}
	if (report_failed && status == EXIT_OK)
		status = EXIT_OUTPUT;
	settings_free(&settings);
	free(L.source_server);
	free(L.source_database);
	free(uri);
	return status;
}
