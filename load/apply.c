/*
 * load/apply.c: change streams (HELLO stream "changes") applied to the
 * target, exactly once. See dms-load(1), CHANGE STREAMS.
 *
 * Source transactions are applied in commit order, several small ones
 * grouped into one target transaction (MinTransactionSize changes,
 * CommitTimeout seconds, or as soon as the input has nothing more at hand),
 * never one split across two. The group's last COMMIT position is written to
 * the apply_state control table in the same target transaction, so that a
 * rerun on the same (or an earlier) stream skips what is applied already.
 *
 * Statements go without savepoints. When PostgreSQL refuses one for its data
 * the whole target transaction is aborted: it is rolled back and the group
 * replayed from its records (kept in memory), each change then in a savepoint
 * of its own, so that the refused change alone follows the data error policy.
 * A group whose records outgrow the memory bound goes on in that careful mode
 * instead of keeping them. MySQL undoes a refused statement alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "net.h"
#include "../common/ctl.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/position.h"
#include "../common/dms.h"

#define GROUP_MEMORY (8u << 20)	/* records kept for a replay, bytes */
#define NET_MEMORY (24u << 20)	/* batch apply: net changes held before they go to the target */
#define PIPELINE_DEPTH 1024
#define LOCK_TRIES 100		/* tenths of a second the task's lock is waited for */	/* statements sent before their outcomes are read */

/* A statement sent down the pipeline, its outcome to come. */
struct pending {
	int64_t tid;
	uint64_t seq;			/* its change */
	enum error_policy policy;	/* what no row matched follows */
	const char *what;		/* that conflict; NULL: none can happen */
	char *sql, *key;	/* sql: its text; with params, shown when a conflict needs it */
	char *pbuf;		/* its parameters (P's buf and offsets, copied) */
	size_t *poff;
	int pn;
	int rc;
	uint64_t rows;
	char *err;
	bool truncation;
};

/* What apply keeps of a table, by tid. */
struct atable {
	int ncols;
	char **names;		/* the columns it was defined with, for a redefinition */
	char **types;		/* their target types */
	bool suspended;		/* SUSPEND_TABLE: its changes are passed over */
	bool warned;		/* told that it has no key */
	struct net *net;	/* batch apply: its net changes not yet sent */
	uint64_t conflicts, skipped;
	struct counters {
		uint64_t inserts, updates, deletes, ddls, exceptions;
	} n, written;		/* the DMS CDC counters, and what table_statistics has of them */
};

enum change_result { CH_OK, CH_FATAL, CH_REDO };

static struct {
	struct loader *l;
	struct dms_stream *st;	/* the reader's: its table definitions, for a replay */
	struct ttable **(*table)(int64_t tid);
	const char *ack_path;
	char *applied;		/* apply_state's position: transactions up to it are skipped */
	bool caught_up;		/* a transaction after it was seen: no more comparisons */
	/* the target transaction (group) in hand */
	bool open, careful, overflow;
	struct strbuf buf;	/* its records, for a replay */
	uint64_t txns, changes;
	struct timespec started;
	char *pos;		/* its last COMMIT's position and time */
	int64_t sec;
	uint32_t nsec;
	/* the source transaction in hand */
	bool in_txn, skip, deferred;
	size_t txn_start;	/* its BEGIN's offset in buf */
	uint64_t txn_changes;
	/* totals */
	char *acked;
	char *committed;	/* the position the target has: apply_state's */
	uint64_t skipped, applied_txns, applied_changes, ignored, exceptions;
	int64_t latency_ms;
	struct atable *at;
	size_t nat;
	bool batch;		/* BatchApplyEnabled, and the group is not careful */
	size_t net_memory;	/* bound of the net changes held, bytes */
	size_t net_held;	/* bytes held now */
	unsigned redos;		/* groups applied again, carefully: a change in hand may be done already */
	/* -v: throughput and latency every few seconds */
	struct timespec began, reported;
	uint64_t reported_changes;
	/* the counters as the group found them, for a replay; and its changes so far */
	struct atable *snap;
	uint64_t snap_ignored, snap_exceptions, seq, quiet_until;
	uint64_t cur;		/* the change whose outcome is being handled */
	/* pipelining (PostgreSQL, transactional, policies that need no answer first) */
	bool pipe_ok;
	struct pending *pend;
	size_t npend, cappend, done;
	int status;		/* the exit status a fatal error set */
} A;

static double
since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static struct atable *
atable(int64_t tid)
{
	if ((size_t)tid >= A.nat) {
		size_t n = A.nat ? A.nat : 16;

		while (n <= (size_t)tid)
			n *= 2;
		A.at = xrealloc(A.at, n * sizeof(*A.at));
		memset(A.at + A.nat, 0, (n - A.nat) * sizeof(*A.at));
		A.nat = n;
	}
	return &A.at[tid];
}

static void
atable_release(struct atable *a)
{
	for (int i = 0; i < a->ncols; i++) {
		free(a->names[i]);
		free(a->types[i]);
	}
	free(a->names);
	free(a->types);
	a->names = a->types = NULL;
	a->ncols = 0;
	net_free(a->net);
	a->net = NULL;
}

static char *
quote(const char *name)
{
	return A.l->engine == ENGINE_PG ? pg_quote_ident(name) : my_quote_ident(name);
}

/* "YYYY-MM-DD HH:MM:SS.ffffff" (UTC) of a commit time; PostgreSQL gets "+00" too. */
static void
time_text(int64_t sec, uint32_t nsec, char *buf, size_t size)
{
	time_t tt = (time_t)sec;
	struct tm tm;
	size_t n;

	gmtime_r(&tt, &tm);
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%06u%s", nsec / 1000, A.l->engine == ENGINE_PG ? "+00" : "");
}

/* ---- the apply state ---- */

/* A policy whose conflicts change nothing that later changes depend on (they are logged or passed over). */
static bool
answerless(enum error_policy p)
{
	return p == POLICY_LOG_ERROR || p == POLICY_IGNORE_RECORD;
}

bool
apply_start(struct loader *l, struct dms_stream *st, struct ttable **(*table)(int64_t tid),
	    const char *ack_path)
{
	/* the target database: MySQL's control tables serve every database of the server */
	const char *params[] = { l->task, l->engine == ENGINE_MYSQL && l->dbname ? l->dbname : "" };
	struct ctl_result r = { 0 };
	bool ok = true;

	memset(&A, 0, sizeof(A));
	A.l = l;
	A.st = st;
	A.table = table;
	A.ack_path = ack_path;
	clock_gettime(CLOCK_MONOTONIC, &A.began);
	/* policies whose conflicts need nothing done before the next change: the statements may be pipelined */
	{
		const struct task_settings *ss = l->settings;

		A.pipe_ok = (answerless(ss->apply_insert_policy) || ss->apply_insert_policy == POLICY_INSERT_RECORD) &&
			    answerless(ss->apply_update_policy) && answerless(ss->apply_delete_policy) &&
			    (ss->apply_escalation_count == 0 || ss->apply_escalation_policy == POLICY_LOG_ERROR);
	}
	A.reported = A.began;
	A.net_memory = (size_t)l->settings->batch_memory_mb << 20;
	if (A.net_memory > NET_MEMORY)
		A.net_memory = NET_MEMORY;
	/*
	 * One applier per task: exactly once needs it. The session of an
	 * applier that was just killed may take a moment to end on the server:
	 * the lock is waited for, a little.
	 */
	for (int tries = 0;; tries++) {
		enum answer got = l->ops->task_lock(l, true);
		struct timespec pause = { 0, 100 * 1000 * 1000 };

		if (got == ANSWER_YES)
			break;
		if (got == ANSWER_ERROR)
			return false;
		if (tries == LOCK_TRIES) {
			log_error("task %s is held by another dms-load or dms-full-load on this target: one applies a task's changes at a time",
				  l->task);
			A.status = EXIT_USAGE;
			return false;
		}
		if (tries == 0)
			log_info("task %s: waiting up to %d s for its lock", l->task, LOCK_TRIES / 10);
		nanosleep(&pause, NULL);
	}
	if (l->restart && !ctl_sql(l, "DELETE FROM %s WHERE task_name = $1 AND target_database = $2", "apply_state", 2, params, NULL))
		return false;
	/* table_statistics, as dms-validate has it too, with the apply counters */
	{
		char *create = ctl_statistics_create(l->engine, l->settings->control_schema);
		char *probe = ctl_statistics_probe(l->engine, l->settings->control_schema);

		ok = l->ops->ctl_query(l, create, 0, NULL, NULL) && l->ops->ctl_query(l, probe, 0, NULL, &r);
		if (ok && r.nrows == 1 && r.v[0] && strcmp(r.v[0], "0") == 0) {
			char *up = ctl_statistics_upgrade(l->engine, l->settings->control_schema);

			ok = l->ops->ctl_query(l, up, 0, NULL, NULL);
			free(up);
		}
		ctl_result_free(&r);
		free(create);
		free(probe);
		if (!ok)
			return false;
	}
	if (!ctl_sql(l, "SELECT position, source_engine, source_server, source_database FROM %s "
			"WHERE task_name = $1 AND target_database = $2", "apply_state", 2, params, &r))
		return false;
	if (r.nrows == 0) {
		ok = ctl_sql(l, "INSERT INTO %s (task_name, target_database) VALUES ($1, $2)", "apply_state", 2,
			     params, NULL);
	} else if (r.v[0] != NULL) {
		const char *engine = l->source == ENGINE_PG ? "postgresql" : "mysql";

		if ((r.v[1] && strcmp(r.v[1], engine) != 0) ||
		    (r.v[2] && l->source_server && strcmp(r.v[2], l->source_server) != 0) ||
		    (r.v[3] && l->source_database && strcmp(r.v[3], l->source_database) != 0)) {
			log_error("task %s applied changes from another source (%s %s, database %s) up to %s: give this stream its own --task, or --restart to forget that state",
				  l->task, r.v[1] ? r.v[1] : "?", r.v[2] ? r.v[2] : "?",
				  r.v[3] ? r.v[3] : "?", r.v[0]);
			A.status = EXIT_USAGE;
			ok = false;
		} else {
			A.applied = xstrdup(r.v[0]);
			A.acked = xstrdup(r.v[0]);
			A.committed = xstrdup(r.v[0]);
			log_info("task %s: changes applied up to %s; earlier transactions are skipped",
				 l->task, A.applied);
		}
	}
	ctl_result_free(&r);
	return ok;
}

/* --ack-file: the position, written whole or not at all (temp file, fsync, rename). */
static bool
write_ack(const char *pos)
{
	char tmp[4096];
	int fd;
	size_t n = strlen(pos);
	bool ok;

	if (A.ack_path == NULL || pos == NULL || (A.acked && strcmp(A.acked, pos) == 0))
		return true;
	snprintf(tmp, sizeof(tmp), "%s.tmp", A.ack_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok = fd >= 0 && write(fd, pos, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, A.ack_path) != 0)
		ok = false;
	if (!ok) {
		log_error("%s: cannot write the acknowledged position: %s", A.ack_path, strerror(errno));
		A.status = EXIT_OUTPUT;
		return false;
	}
	free(A.acked);
	A.acked = xstrdup(pos);
	return true;
}

/* ---- groups ---- */

static bool
group_open(void)
{
	if (A.open)
		return true;
	if (!A.l->ops->begin(A.l)) {
		A.status = EXIT_TARGET;
		return false;
	}
	A.open = true;
	A.careful = false;
	A.batch = A.l->settings->batch_apply;
	A.overflow = false;
	A.txns = A.changes = 0;
	sb_reset(&A.buf);
	clock_gettime(CLOCK_MONOTONIC, &A.started);
	A.snap = xrealloc(A.snap, (A.nat + 1) * sizeof(*A.snap));
	if (A.nat)
		memcpy(A.snap, A.at, A.nat * sizeof(*A.at));
	A.snap_ignored = A.ignored;
	A.snap_exceptions = A.exceptions;
	A.seq = A.quiet_until = 0;
	return true;
}

/* Whether messages about the change in hand were given already (a replay goes over them again). */
static bool
quiet(void)
{
	return A.cur <= A.quiet_until;
}

static bool redo(void);
static bool sync_pipeline(void);
static void pending_clear(void);

/* The counters of every table that changed since they were last written, added to table_statistics. */
static bool
write_stats(void)
{
	struct loader *l = A.l;
	const char *sql = l->engine == ENGINE_PG
		? "INSERT INTO %s AS s (task_name, schema_name, table_name, target_table, inserts, updates, "
		  "deletes, ddls, apply_exceptions, validation_state) "
		  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Not enabled') "
		  "ON CONFLICT (task_name, schema_name, table_name) DO UPDATE SET "
		  "target_table = EXCLUDED.target_table, inserts = s.inserts + EXCLUDED.inserts, "
		  "updates = s.updates + EXCLUDED.updates, deletes = s.deletes + EXCLUDED.deletes, "
		  "ddls = s.ddls + EXCLUDED.ddls, apply_exceptions = s.apply_exceptions + EXCLUDED.apply_exceptions, "
		  "last_update_time = now()"
		: "INSERT INTO %s (task_name, schema_name, table_name, target_table, inserts, updates, "
		  "deletes, ddls, apply_exceptions, validation_state) "
		  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Not enabled') "
		  "ON DUPLICATE KEY UPDATE target_table = VALUES(target_table), "
		  "inserts = inserts + VALUES(inserts), updates = updates + VALUES(updates), "
		  "deletes = deletes + VALUES(deletes), ddls = ddls + VALUES(ddls), "
		  "apply_exceptions = apply_exceptions + VALUES(apply_exceptions), "
		  "last_update_time = CURRENT_TIMESTAMP(3)";

	for (size_t tid = 0; tid < A.nat; tid++) {
		struct atable *a = &A.at[tid];
		struct ttable *t;
		char v[5][24], *target;
		const uint64_t d[5] = { a->n.inserts - a->written.inserts, a->n.updates - a->written.updates,
					a->n.deletes - a->written.deletes, a->n.ddls - a->written.ddls,
					a->n.exceptions - a->written.exceptions };
		bool ok;

		if (!d[0] && !d[1] && !d[2] && !d[3] && !d[4])
			continue;
		t = *A.table((int64_t)tid);
		for (int i = 0; i < 5; i++)
			snprintf(v[i], sizeof(v[i]), "%" PRIu64, d[i]);
		target = xprintf("%s.%s", t->schema, t->name);
		{
			const char *params[] = { l->task, t->src->schema, t->src->name, target, v[0], v[1], v[2], v[3], v[4] };

			ok = ctl_sql(l, sql, "table_statistics", 9, params, NULL);
		}
		free(target);
		if (!ok) {
			A.status = EXIT_TARGET;
			return false;
		}
		a->written = a->n;
	}
	return true;
}

/*
 * Batch apply: the net changes held go to the target, in the open
 * transaction. A refusal (a value the target cannot hold) rolls the group
 * back and applies it again change by change (A.redos counts it); false: fatal.
 */
static bool
flush_nets(void)
{
	char err[1024];
	bool truncation;

	for (size_t tid = 0; tid < A.nat; tid++) {
		struct atable *a = &A.at[tid];
		struct net_row *rows;
		size_t n;
		int rc;

		if (a->net == NULL || net_count(a->net) == 0)
			continue;
		n = net_rows(a->net, &rows);
		rc = A.l->ops->apply_net(A.l, *A.table((int64_t)tid), rows, n, err, sizeof(err), &truncation);
		free(rows);
		net_clear(a->net);
		if (rc == LOAD_FAILED) {
			A.status = EXIT_TARGET;
			return false;
		}
		if (rc == LOAD_REFUSED) {
			log_info("batch apply: a net change was refused (%s): applying the group change by change", err);
			return redo();
		}
	}
	A.net_held = 0;
	return true;
}

/* Commits the group with its position; the ack file follows. */
static bool
group_commit(void)
{
	struct loader *l = A.l;
	char when[64] = "", txns[32], latency[32];
	const char *engine = l->source == ENGINE_PG ? "postgresql" : "mysql";
	const char *params[] = { l->task, A.pos, when[0] ? when : NULL, engine, l->source_server,
				 l->source_database, txns, latency,
				 l->engine == ENGINE_MYSQL && l->dbname ? l->dbname : "" };
	struct timespec now;

	if (!A.open)
		return true;
	if (A.txns == 0) {	/* nothing applied: only BEGINs of skipped transactions */
		A.open = false;
		return l->ops->rollback(l);
	}
	if (A.batch && !flush_nets())
		return false;
	if (!sync_pipeline())
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	if (A.sec) {
		time_text(A.sec, A.nsec, when, sizeof(when));
		params[2] = when;
		A.latency_ms = (int64_t)(now.tv_sec - A.sec) * 1000 + ((int64_t)now.tv_nsec - A.nsec) / 1000000;
	}
	snprintf(txns, sizeof(txns), "%" PRIu64, A.txns);
	snprintf(latency, sizeof(latency), "%" PRId64, A.latency_ms);
	if (!A.sec)
		params[7] = NULL;
	if (!write_stats() ||
	    !ctl_sql(l, "UPDATE %s SET position = $2, commit_time = $3, source_engine = $4, "
			"source_server = $5, source_database = $6, transactions = transactions + $7, "
			"latency_ms = $8, applied_at = CURRENT_TIMESTAMP WHERE task_name = $1 AND target_database = $9",
		     "apply_state", 9, params, NULL) ||
	    !l->ops->commit(l)) {
		A.status = EXIT_TARGET;
		return false;
	}
	A.open = false;
	free(A.committed);
	A.committed = xstrdup(A.pos);
	A.applied_txns += A.txns;
	A.applied_changes += A.changes;
	log_debug("applied %" PRIu64 " transactions (%" PRIu64 " changes) up to %s", A.txns, A.changes, A.pos);
	if (log_enabled(LOG_INFO) && since(&A.reported) >= 5) {
		double secs = since(&A.reported);

		log_info("applied %" PRIu64 " transactions, %" PRIu64 " changes (%.0f changes/s), up to %s; latency %" PRId64 " ms",
			 A.applied_txns, A.applied_changes, (double)(A.applied_changes - A.reported_changes) / secs,
			 A.pos ? A.pos : "?", A.latency_ms);
		clock_gettime(CLOCK_MONOTONIC, &A.reported);
		A.reported_changes = A.applied_changes;
	}
	sb_reset(&A.buf);
	return write_ack(A.pos);
}

/* ---- statements ---- */

/* The values array at v[0..len) as one item per column; false when it is not one. */
static bool
row_items(const uint8_t *v, size_t len, uint32_t n, struct mp_item *out)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, v, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY || it.v.n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (mp_next(&c, &out[i]) != MP_OK)
			return false;
	return true;
}

/* A data error (the target cannot hold a value): the data error policy decides. */
static enum change_result
data_error(struct ttable *t, struct atable *a, const char *sql, const char *key, const char *error,
	   bool truncation)
{
	enum error_policy p = truncation ? A.l->settings->data_truncation_policy
					 : A.l->settings->data_error_policy;

	switch (p) {
	case POLICY_IGNORE_RECORD:
		if (!quiet())
			log_warn("%s.%s%s%s: change ignored (IGNORE_RECORD): %s", t->schema, t->name,
				 key[0] ? " key " : "", key, error);
		A.ignored++;
		return CH_OK;
	case POLICY_LOG_ERROR:
		if (!quiet())
			log_warn("%s.%s%s%s: change not applied, logged to the exceptions table: %s", t->schema,
				 t->name, key[0] ? " key " : "", key, error);
		A.exceptions++;
		a->n.exceptions++;
		if (!A.l->ops->exception(A.l, t, key, sql, error)) {
			A.status = EXIT_TARGET;
			return CH_FATAL;
		}
		return CH_OK;
	case POLICY_SUSPEND_TABLE:
		log_error("%s.%s%s%s: %s; the table is suspended (SUSPEND_TABLE): its later changes are not applied",
			  t->schema, t->name, key[0] ? " key " : "", key, error);
		a->suspended = true;
		return CH_OK;
	default:
		log_error("%s.%s%s%s: %s; stopping (STOP_TASK)", t->schema, t->name, key[0] ? " key " : "",
			  key, error);
		A.status = EXIT_RUNTIME;
		return CH_FATAL;
	}
}

/*
 * The parameters of the statement in hand, where the target takes them
 * (PostgreSQL, outside careful mode): their texts one after another, each
 * with its NUL; a statement of the same text is then prepared once.
 */
static struct {
	struct strbuf buf;
	size_t *off;		/* SIZE_MAX: NULL */
	const char **ptr;
	int n, cap;
} P;

static bool
params_on(void)
{
	return A.l->ops->param != NULL && !A.careful;
}

static void
params_reset(void)
{
	sb_reset(&P.buf);
	P.n = 0;
}

/* The parameters as apply_sql takes them; NULL when the statement has none. */
static const char *const *
params(void)
{
	if (P.n == 0)
		return NULL;
	for (int i = 0; i < P.n; i++)
		P.ptr[i] = P.off[i] == SIZE_MAX ? NULL : P.buf.buf + P.off[i];
	return P.ptr;
}

/* A statement as people read it: its text, and its n parameters' values (at off in pbuf). */
static char *
render(const char *sql, const char *pbuf, const size_t *off, int n)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, sql);
	for (int i = 0; i < n; i++) {
		sb_addf(&sb, "%s$%d = ", i ? ", " : " -- ", i + 1);
		if (off[i] == SIZE_MAX)
			sb_adds(&sb, "NULL");
		else
			sb_addf(&sb, "'%.200s'", pbuf + off[i]);
	}
	return sb.buf;
}

/* The statement in hand as people read it. */
static char *
shown(const struct strbuf *sql)
{
	return render(sql->buf, P.buf.buf, P.off, P.n);
}

/*
 * Runs a change statement: CH_OK with *rows, or a refusal under the data
 * error policy (*refused set), or CH_REDO when the group must be replayed
 * carefully, or CH_FATAL.
 */
static enum change_result
run(struct ttable *t, struct atable *a, const struct strbuf *sql, const char *key, uint64_t *rows,
    bool *refused)
{
	struct loader *l = A.l;
	char err[1024];
	bool truncation;
	int rc;
	uint64_t dummy;

	*refused = false;
	if (A.careful && !l->ops->stmt_atomic) {
		struct strbuf wrapped = STRBUF_INIT;

		sb_addf(&wrapped, "SAVEPOINT dms_change; %s; RELEASE SAVEPOINT dms_change", sql->buf);
		rc = l->ops->apply_sql(l, wrapped.buf, 0, NULL, rows, err, sizeof(err), &truncation);
		sb_release(&wrapped);
		if (rc == LOAD_REFUSED &&
		    l->ops->apply_sql(l, "ROLLBACK TO SAVEPOINT dms_change", 0, NULL, &dummy, err, sizeof(err),
				      &truncation) != LOAD_DONE)
			rc = LOAD_FAILED;
	} else {
		rc = l->ops->apply_sql(l, sql->buf, P.n, params(), rows, err, sizeof(err), &truncation);
	}
	if (rc == LOAD_DONE)
		return CH_OK;
	if (rc == LOAD_FAILED) {
		A.status = EXIT_TARGET;
		return CH_FATAL;
	}
	if (!A.careful && !l->ops->stmt_atomic)
		return CH_REDO;
	*refused = true;
	{
		char *text = shown(sql);
		enum change_result r = data_error(t, a, text, key, err, truncation);

		free(text);
		return r;
	}
}

/* A conflict (the key exists, or no row has it): the apply error policy decides. */
static enum change_result
conflict(struct ttable *t, struct atable *a, enum error_policy p, const char *sql, const char *key,
	 const char *what)
{
	const char *policy;

	a->conflicts++;
	if (A.l->settings->apply_escalation_count > 0 && a->conflicts > (uint64_t)A.l->settings->apply_escalation_count &&
	    A.l->settings->apply_escalation_policy != POLICY_LOG_ERROR) {
		p = A.l->settings->apply_escalation_policy;
		log_warn("%s.%s: more than %" PRId64 " apply conflicts: ApplyErrorEscalationPolicy %s", t->schema,
			 t->name, A.l->settings->apply_escalation_count, error_policy_name(p));
	}
	policy = error_policy_name(p);
	switch (p) {
	case POLICY_IGNORE_RECORD:
		log_debug("%s.%s key %s: %s: ignored (%s)", t->schema, t->name, key, what, policy);
		A.ignored++;
		return CH_OK;
	case POLICY_SUSPEND_TABLE:
		log_error("%s.%s key %s: %s; the table is suspended (SUSPEND_TABLE)", t->schema, t->name, key, what);
		a->suspended = true;
		return CH_OK;
	case POLICY_STOP_TASK:
		log_error("%s.%s key %s: %s; stopping (STOP_TASK)", t->schema, t->name, key, what);
		A.status = EXIT_RUNTIME;
		return CH_FATAL;
	default:
		if (!quiet())
			log_warn("%s.%s key %s: %s: logged to the exceptions table", t->schema, t->name, key, what);
		A.exceptions++;
		a->n.exceptions++;
		if (!A.l->ops->exception(A.l, t, key, sql, what)) {
			A.status = EXIT_TARGET;
			return CH_FATAL;
		}
		return CH_OK;
	}
}

/* Appends value i of the row as a literal or a parameter; false (a data error) with err set. */
static bool
lit(struct strbuf *sql, struct ttable *t, int i, const struct mp_item *v, const uint8_t *values,
    size_t len, char *err, size_t errsize)
{
	size_t at = P.buf.len;
	bool null;

	if (!params_on())
		return A.l->ops->literal(A.l, t, &t->cols[i], &v[i], values, len, sql, err, errsize);
	if (P.n == P.cap) {
		P.cap = P.cap ? 2 * P.cap : 64;
		P.off = xrealloc(P.off, (size_t)P.cap * sizeof(*P.off));
		P.ptr = xrealloc(P.ptr, (size_t)P.cap * sizeof(*P.ptr));
	}
	if (!A.l->ops->param(A.l, t, &t->cols[i], &v[i], values, len, &P.buf, &null, err, errsize))
		return false;
	P.off[P.n++] = null ? SIZE_MAX : at;
	sb_addf(sql, "$%d", P.n);
	return true;
}

/* "c1 = v1 AND ..." over the key, or over every column NULL-safe for a table without one. */
static bool
where(struct strbuf *sql, struct ttable *t, const struct mp_item *v, const uint8_t *values, size_t len,
      char *err, size_t errsize)
{
	const struct dms_table *s = t->src;
	bool first = true;

	for (uint32_t k = 0; k < (s->nkey ? s->nkey : s->ncols); k++) {
		int i = s->nkey ? (int)s->key[k] : (int)k;

		if (t->cols[i].skip)
			continue;
		if (mp_is_unchanged(&v[i])) {
			snprintf(err, errsize, "column %s: the old image has no value", t->cols[i].src->name);
			return false;
		}
		sb_addf(sql, "%s%s %s ", first ? "" : " AND ", t->cols[i].quoted,
			s->nkey ? "=" : A.l->engine == ENGINE_PG ? "IS NOT DISTINCT FROM" : "<=>");
		first = false;
		if (!lit(sql, t, i, v, values, len, err, errsize))
			return false;
	}
	return true;
}

static bool
is_key(const struct dms_table *s, int i)
{
	for (uint32_t k = 0; k < s->nkey; k++)
		if ((int)s->key[k] == i)
			return true;
	return false;
}

/* INSERT of the values not UNCHANGED; upsert: on a key that exists, its row takes them. */
static bool
insert_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *v, const uint8_t *values,
	   size_t len, bool upsert, char *err, size_t errsize)
{
	const struct dms_table *s = t->src;
	struct strbuf set = STRBUF_INIT;
	bool first = true, ok = true;

	params_reset();
	sb_addf(sql, "INSERT INTO %s (", t->qname);
	for (int i = 0; i < t->ncols; i++) {
		const char *q = t->cols[i].quoted;

		if (t->cols[i].skip || mp_is_unchanged(&v[i]))
			continue;
		sb_addf(sql, "%s%s", first ? "" : ", ", q);
		if (upsert && !is_key(s, i))
			sb_addf(&set, "%s%s = %s%s%s", set.len ? ", " : "", q,
				A.l->engine == ENGINE_PG ? "EXCLUDED." : "VALUES(", q,
				A.l->engine == ENGINE_PG ? "" : ")");
		first = false;
	}
	sb_adds(sql, ") VALUES (");
	first = true;
	for (int i = 0; ok && i < t->ncols; i++) {
		if (t->cols[i].skip || mp_is_unchanged(&v[i]))
			continue;
		if (!first)
			sb_adds(sql, ", ");
		first = false;
		ok = lit(sql, t, i, v, values, len, err, errsize);
	}
	sb_adds(sql, ")");
	if (s->nkey > 0 && A.l->engine == ENGINE_PG) {
		if (upsert && set.len) {
			sb_adds(sql, " ON CONFLICT (");
			for (uint32_t k = 0; k < s->nkey; k++)
				sb_addf(sql, "%s%s", k ? ", " : "", t->cols[s->key[k]].quoted);
			sb_addf(sql, ") DO UPDATE SET %s", set.buf);
		} else {
			sb_adds(sql, " ON CONFLICT DO NOTHING");
		}
	} else if (s->nkey > 0) {
		const char *q = t->cols[s->key[0]].quoted;

		if (upsert && set.len)
			sb_addf(sql, " ON DUPLICATE KEY UPDATE %s", set.buf);
		else
			sb_addf(sql, " ON DUPLICATE KEY UPDATE %s = %s", q, q);
	}
	sb_release(&set);
	return ok;
}

/*
 * UPDATE ... SET the new values not UNCHANGED WHERE the old key (same_key: the
 * key did not change, and is not set); *empty: nothing to set.
 */
static bool
update_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *nv, const struct mp_item *ov,
	   const uint8_t *values, size_t len, const uint8_t *old, size_t oldlen, bool same_key, bool *empty,
	   char *err, size_t errsize)
{
	bool first = true;

	params_reset();
	sb_addf(sql, "UPDATE %s SET ", t->qname);
	for (int i = 0; i < t->ncols; i++) {
		if (t->cols[i].skip || mp_is_unchanged(&nv[i]) || (same_key && is_key(t->src, i)))
			continue;
		sb_addf(sql, "%s%s = ", first ? "" : ", ", t->cols[i].quoted);
		first = false;
		if (!lit(sql, t, i, nv, values, len, err, errsize))
			return false;
	}
	*empty = first;
	if (t->src->nkey == 0 && A.l->engine == ENGINE_PG) {
		sb_addf(sql, " WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname);
		if (!where(sql, t, ov, old, oldlen, err, errsize))
			return false;
		sb_adds(sql, " LIMIT 1)");
		return true;
	}
	sb_adds(sql, " WHERE ");
	if (!where(sql, t, ov, old, oldlen, err, errsize))
		return false;
	if (t->src->nkey == 0)
		sb_adds(sql, " LIMIT 1");
	return true;
}

static bool
delete_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *ov, const uint8_t *old,
	   size_t oldlen, char *err, size_t errsize)
{
	params_reset();
	if (t->src->nkey == 0 && A.l->engine == ENGINE_PG) {
		sb_addf(sql, "DELETE FROM %s WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname, t->qname);
		if (!where(sql, t, ov, old, oldlen, err, errsize))
			return false;
		sb_adds(sql, " LIMIT 1)");
		return true;
	}
	sb_addf(sql, "DELETE FROM %s WHERE ", t->qname);
	if (!where(sql, t, ov, old, oldlen, err, errsize))
		return false;
	if (t->src->nkey == 0)
		sb_adds(sql, " LIMIT 1");
	return true;
}

static void
pending_clear(void)
{
	for (size_t i = 0; i < A.npend; i++) {
		free(A.pend[i].sql);
		free(A.pend[i].key);
		free(A.pend[i].pbuf);
		free(A.pend[i].poff);
		free(A.pend[i].err);
	}
	A.npend = A.done = 0;
}

static bool
pipelining(void)
{
	return A.pipe_ok && !A.careful && !A.batch && A.l->ops->apply_send != NULL;
}

static void
pipe_done(void *arg, int rc, uint64_t rows, const char *err, bool truncation)
{
	struct pending *p;

	(void)arg;
	if (A.done >= A.npend)
		return;
	p = &A.pend[A.done++];
	p->rc = rc;
	p->rows = rows;
	p->err = err ? xstrdup(err) : NULL;
	p->truncation = truncation;
}

/*
 * The outcomes of the statements sent: conflicts follow their policies, in
 * order; a refusal rolls the group back and applies it again carefully.
 */
static bool
sync_pipeline(void)
{
	bool refused = false, ok = true;

	if (A.npend == 0)
		return true;
	if (!A.l->ops->apply_sync(A.l, pipe_done, NULL)) {
		A.status = EXIT_TARGET;
		pending_clear();
		return false;
	}
	for (size_t i = 0; i < A.npend; i++)
		refused |= A.pend[i].rc != LOAD_DONE;
	if (refused)
		return redo();
	for (size_t i = 0; ok && i < A.npend; i++) {
		struct pending *p = &A.pend[i];

		if (p->what != NULL && p->rows == 0) {
			char *text = render(p->sql, p->pbuf, p->poff, p->pn);

			A.cur = p->seq;
			ok = conflict(*A.table(p->tid), &A.at[p->tid], p->policy, text, p->key, p->what) == CH_OK;
			free(text);
		}
	}
	pending_clear();
	return ok;
}

/*
 * Runs a change statement of table tid; when it matches no row, a conflict
 * named what (NULL: none can happen) under policy. Pipelined where it may be.
 */
static enum change_result
statement(int64_t tid, struct ttable *t, struct atable *a, const struct strbuf *sql, const char *key,
	  enum error_policy policy, const char *what)
{
	enum change_result r;
	uint64_t rows;
	bool refused;

	if (pipelining()) {
		struct pending *p;

		if (A.npend == A.cappend) {
			A.cappend = A.cappend ? 2 * A.cappend : PIPELINE_DEPTH;
			A.pend = xrealloc(A.pend, A.cappend * sizeof(*A.pend));
		}
		p = &A.pend[A.npend++];
		memset(p, 0, sizeof(*p));
		p->tid = tid;
		p->seq = A.cur;
		p->policy = policy;
		p->what = what;
		p->key = xstrdup(key);
		if (what != NULL) {	/* what a conflict's exception shows, rendered only then */
			p->sql = xstrdup(sql->buf);
			p->pn = P.n;
			p->pbuf = xmalloc(P.buf.len + 1);
			memcpy(p->pbuf, P.buf.buf ? P.buf.buf : "", P.buf.len);
			p->poff = xmalloc(((size_t)P.n + 1) * sizeof(*p->poff));
			memcpy(p->poff, P.off, (size_t)P.n * sizeof(*p->poff));
		}
		if (!A.l->ops->apply_send(A.l, sql->buf, P.n, params())) {
			A.status = EXIT_TARGET;
			return CH_FATAL;
		}
		if (A.npend >= PIPELINE_DEPTH && !sync_pipeline())
			return CH_FATAL;
		return CH_OK;	/* (a redo in the sync applied this change too) */
	}
	if (A.npend > 0) {	/* what was sent goes first */
		unsigned redos = A.redos;

		if (!sync_pipeline())
			return CH_FATAL;
		if (A.redos != redos)
			return CH_OK;
	}
	r = run(t, a, sql, key, &rows, &refused);
	if (r == CH_OK && !refused && rows == 0 && what != NULL) {
		char *text = shown(sql);

		r = conflict(t, a, policy, text, key, what);
		free(text);
	}
	return r;
}

/* INSERT, UPDATE or DELETE. */
static enum change_result
apply_change(const struct dms_record *rec)
{
	struct ttable *t = *A.table(rec->table->tid);
	struct atable *a = atable(rec->table->tid);
	const struct task_settings *ss = A.l->settings;
	uint32_t n = rec->table->ncols;
	struct mp_item *nv = xcalloc((size_t)n + 1, sizeof(*nv)), *ov = xcalloc((size_t)n + 1, sizeof(*ov));
	struct strbuf sql = STRBUF_INIT;
	char err[1024] = "", key[512] = "";
	const uint8_t *old = rec->kind == K_UPDATE ? rec->old_values : rec->values;
	size_t oldlen = rec->kind == K_UPDATE ? rec->old_values_len : rec->values_len;
	enum change_result r = CH_OK;
	uint64_t rows = 0;
	bool ok = true, refused = false, empty = false;

	if (a->suspended) {
		a->skipped++;
		goto done;
	}
	if (old == NULL) {	/* UPDATE without an old image: the key did not change */
		old = rec->values;
		oldlen = rec->values_len;
	}
	if (!row_items(rec->values, rec->values_len, n, nv) || !row_items(old, oldlen, n, ov)) {
		log_error("record %" PRIu64 ": %s of %s: its values are not one per column", rec->seq,
			  dms_kind_name(rec->kind), t->name);
		A.status = EXIT_INPUT;
		r = CH_FATAL;
		goto done;
	}
	if (A.batch && rec->table->nkey > 0) {
		size_t before;
		enum net_result nr;
		unsigned redos = A.redos;

		if (a->net == NULL)
			a->net = net_new();
		before = net_bytes(a->net);
		nr = net_add(a->net, rec->table, rec->kind, rec->values, rec->values_len,
			     rec->kind == K_UPDATE ? rec->old_values : NULL,
			     rec->kind == K_UPDATE ? rec->old_values_len : 0);
		if (nr == NET_ADDED) {
			*(rec->kind == K_INSERT ? &a->n.inserts : rec->kind == K_UPDATE ? &a->n.updates : &a->n.deletes) += 1;
			A.net_held += net_bytes(a->net) - before;
			if (A.net_held > A.net_memory && !flush_nets())
				r = CH_FATAL;
			goto done;
		}
		/* UNCHANGED values: what is held goes first, then this change as a statement */
		if (!flush_nets()) {
			r = CH_FATAL;
			goto done;
		}
		if (A.redos != redos)
			goto done;	/* the replay applied this change too */
	}
	values_key_text(rec->table, old, oldlen, key, sizeof(key));
	if (rec->table->nkey == 0 && rec->kind != K_INSERT && !a->warned && (a->warned = true))
		log_warn("%s.%s has no key: its updates and deletes match every column of the old image, one row at a time",
			 t->schema, t->name);
	switch (rec->kind) {
	case K_INSERT:
		ok = insert_sql(&sql, t, nv, rec->values, rec->values_len,
				ss->apply_insert_policy == POLICY_INSERT_RECORD, err, sizeof(err));
		if (ok)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_insert_policy,
				      rec->table->nkey > 0 && ss->apply_insert_policy != POLICY_INSERT_RECORD
					      ? "INSERT: a row with this key exists on the target" : NULL);
		a->n.inserts++;
		break;
	case K_UPDATE:
		ok = update_sql(&sql, t, nv, ov, rec->values, rec->values_len, old, oldlen, old == rec->values,
				&empty, err, sizeof(err));
		if (ok && !empty && ss->apply_update_policy != POLICY_UPDATE_RECORD)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_update_policy,
				      "UPDATE: no row with this key on the target");
		else if (ok && !empty && (r = run(t, a, &sql, key, &rows, &refused)) == CH_OK && !refused && rows == 0) {
			{	/* UPDATE_RECORD: the row is inserted (never pipelined) */
				sb_reset(&sql);
				ok = insert_sql(&sql, t, nv, rec->values, rec->values_len, false, err, sizeof(err));
				if (ok)
					r = run(t, a, &sql, key, &rows, &refused);
			}
		}
		a->n.updates++;
		break;
	default:
		ok = delete_sql(&sql, t, ov, old, oldlen, err, sizeof(err));
		if (ok)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_delete_policy,
				      "DELETE: no row with this key on the target");
		a->n.deletes++;
		break;
	}
	if (!ok) {		/* a value the target cannot hold, found before the statement */
		unsigned redos = A.redos;

		if (!sync_pipeline())
			r = CH_FATAL;
		else if (A.redos == redos)
			r = data_error(t, a, sql.buf, key, err, A.l->format_truncation);
	}
	A.l->format_truncation = false;
done:
	free(nv);
	free(ov);
	sb_release(&sql);
	return r;
}

/* TRUNCATE: as HandleSourceTableTruncated and ApplyErrorFailOnTruncationDdl say. */
static enum change_result
apply_truncate(const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *tids = record_element(rec, 1);
	enum change_result r = CH_OK;
	unsigned redos = A.redos;

	if (A.batch && !flush_nets())
		return CH_FATAL;
	if (A.redos != redos)
		return CH_OK;	/* the replay applied this TRUNCATE too */
	mp_cursor_init(&c, tids, rec->len - (size_t)(tids - rec->raw));
	mp_next(&c, &it);
	for (uint32_t i = it.v.n, k = 0; k < i && r == CH_OK; k++) {
		struct mp_item tid;
		struct ttable *t;
		struct strbuf sql = STRBUF_INIT;

		mp_next(&c, &tid);
		t = *A.table((int64_t)tid.v.u);
		if (A.l->settings->apply_fail_on_truncation) {
			log_error("%s.%s was truncated on the source; stopping (ApplyErrorFailOnTruncationDdl)",
				  t->schema, t->name);
			A.status = EXIT_RUNTIME;
			return CH_FATAL;
		}
		if (!A.l->settings->handle_truncated) {
			log_warn("%s.%s was truncated on the source: not applied (HandleSourceTableTruncated false)",
				 t->schema, t->name);
			continue;
		}
		/* DELETE on MySQL: its TRUNCATE would commit the transaction */
		params_reset();
		sb_addf(&sql, A.l->engine == ENGINE_PG ? "TRUNCATE %s" : "DELETE FROM %s", t->qname);
		r = statement((int64_t)tid.v.u, t, atable((int64_t)tid.v.u), &sql, "", POLICY_LOG_ERROR, NULL);
		atable((int64_t)tid.v.u)->n.ddls++;
		log_info("%s.%s truncated, as on the source", t->schema, t->name);
		sb_release(&sql);
	}
	return r;
}

static enum change_result
apply_one(const struct dms_record *rec)
{
	switch (rec->kind) {
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE:
		A.cur = ++A.seq;
		return apply_change(rec);
	case K_TRUNCATE:
		A.cur = ++A.seq;
		return apply_truncate(rec);
	default:
		return CH_OK;
	}
}

static bool redo(void);

/*
 * Applies the group's records from offset from of the buffer: after a
 * refusal (careful: each change in a savepoint), or a transaction held back
 * until its COMMIT told whether it was applied already.
 */
static bool
replay(size_t from)
{
	struct dms_stream st = *A.st;
	size_t off = from;

	st.in_txn = false;
	st.part_open = false;
	st.ended = false;
	unsigned redos = A.redos;

	while (off < A.buf.len) {
		struct dms_record rec;

		if (A.redos != redos)
			return true;	/* a redo inside applied the whole group */
		if (stream_check(&st, (const uint8_t *)A.buf.buf + off, A.buf.len - off, &rec) != CHECK_OK) {
			log_error("replaying the group: a record does not read back");
			A.status = EXIT_RUNTIME;
			return false;
		}
		off += rec.len;
		switch (apply_one(&rec)) {
		case CH_OK:
			break;
		case CH_REDO:	/* a held transaction's change refused: the whole group, carefully */
			return redo();
		default:
			return false;
		}
	}
	return true;
}

/* The group failed a statement for its data: roll back and apply it all again, carefully. */
static bool
redo(void)
{
	if (A.overflow) {
		/* cannot happen: past the memory bound the group is careful already */
		log_error("a refused change in a group whose records were not kept");
		A.status = EXIT_RUNTIME;
		return false;
	}
	log_info("a change was refused for its data: applying the group again, each change in a savepoint");
	if (!A.l->ops->rollback(A.l) || !A.l->ops->begin(A.l)) {
		A.status = EXIT_TARGET;
		return false;
	}
	A.careful = true;
	A.batch = false;
	A.redos++;
	for (size_t tid = 0; tid < A.nat; tid++)
		if (A.at[tid].net != NULL)
			net_clear(A.at[tid].net);
	A.net_held = 0;
	/* the counters as before the group; the changes before the refused one were told of already */
	if (A.nat)
		memcpy(A.at, A.snap, A.nat * sizeof(*A.at));
	A.ignored = A.snap_ignored;
	A.exceptions = A.snap_exceptions;
	A.quiet_until = A.npend ? A.pend[0].seq - 1 : A.seq - 1;
	pending_clear();
	A.seq = 0;
	return replay(0);
}

/* Keeps a record of the group for a replay, while the group is within its memory bound. */
static bool
keep(const struct dms_record *rec)
{
	if (A.deferred) {
		/* held until its COMMIT: kept whatever the engine, within a bound */
		if (A.buf.len + rec->len > 2 * GROUP_MEMORY) {
			log_error("record %" PRIu64 ": a transaction whose BEGIN has no position grew past %u MiB before its COMMIT said whether it was applied already: give BEGIN its COMMIT's position",
				  rec->seq, 2 * GROUP_MEMORY >> 20);
			A.status = EXIT_INPUT;
			return false;
		}
		sb_add(&A.buf, rec->raw, rec->len);
		return true;
	}
	/* MySQL undoes a refused statement alone: only a batch needs its records */
	if (A.overflow || (A.l->ops->stmt_atomic && !A.batch))
		return true;
	if (A.buf.len + rec->len > GROUP_MEMORY) {
		/* past the bound the group goes on change by change: what is held goes first */
		if (A.batch && !flush_nets())
			return false;
		A.batch = false;
		A.overflow = true;
		A.careful = true;	/* from here on, each change in a savepoint */
		sb_reset(&A.buf);
		return true;
	}
	sb_add(&A.buf, rec->raw, rec->len);
	return true;
}

/* BEGIN's or COMMIT's position, or NULL. */
static char *
position_of(const struct dms_record *rec, unsigned index)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *p = record_element(rec, index);

	mp_cursor_init(&c, p, rec->len - (size_t)(p - rec->raw));
	if (mp_next(&c, &it) != MP_OK || it.type != MP_STR)
		return NULL;
	return xstrndup((const char *)it.v.s.p, it.v.s.len);
}

/* Whether a transaction that commits at pos was applied already; false when it is new. */
static bool
applied_already(const char *pos)
{
	int cmp;

	if (A.applied == NULL || A.caught_up)
		return false;
	if (!position_compare(pos, A.applied, &cmp)) {
		log_warn("position %s cannot be compared with the applied %s: applying it", pos, A.applied);
		A.caught_up = true;
		return false;
	}
	if (cmp > 0) {
		A.caught_up = true;
		return false;
	}
	return true;
}

static bool
begin(const struct dms_record *rec)
{
	char *pos = position_of(rec, 2);

	A.in_txn = true;
	A.txn_changes = 0;
	A.deferred = false;
	A.skip = pos != NULL && applied_already(pos);
	if (pos == NULL && A.applied != NULL && !A.caught_up)
		A.deferred = true;	/* held until its COMMIT says where it stands */
	free(pos);
	if (A.skip)
		return true;
	if (!group_open())
		return false;
	A.txn_start = A.buf.len;
	return keep(rec);
}

static bool
commit(const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *p;
	char *pos = position_of(rec, 1);

	A.in_txn = false;
	if (A.skip) {
		A.skipped++;
		free(pos);
		return true;
	}
	if (A.deferred) {
		A.deferred = false;
		if (pos != NULL && applied_already(pos)) {
			A.skipped++;
			A.buf.len = A.txn_start;
			free(pos);
			return true;
		}
		A.caught_up = true;
		if (!replay(A.txn_start)) {
			free(pos);
			return false;
		}
	}
	keep(rec);
	A.txns++;
	A.changes += A.txn_changes;
	free(A.pos);
	A.pos = pos;
	p = record_element(rec, 2);
	mp_cursor_init(&c, p, rec->len - (size_t)(p - rec->raw));
	if (mp_next(&c, &it) == MP_OK && mp_timestamp(&it, &A.sec, &A.nsec)) {
		/* the commit time, for apply_state and the latency */
	} else {
		A.sec = 0;
		A.nsec = 0;
	}
	if (A.l->settings->batch_apply ? (A.l->settings->batch_split_size > 0 &&
					  A.changes >= (uint64_t)A.l->settings->batch_split_size) ||
					 since(&A.started) >= (double)A.l->settings->batch_timeout_max
				       : A.changes >= (uint64_t)A.l->settings->min_transaction_size ||
					 since(&A.started) >= (double)A.l->settings->commit_timeout)
		return group_commit();
	if (A.overflow)
		return group_commit();
	return true;
}

/* The position of a CHECKPOINT past the target's: apply_state's and the ack file's. */
static bool
checkpoint(const char *pos)
{
	struct loader *l = A.l;
	const char *params[] = { l->task, pos, l->engine == ENGINE_MYSQL && l->dbname ? l->dbname : "" };
	int cmp;

	if (A.committed != NULL && position_compare(pos, A.committed, &cmp) && cmp <= 0)
		return true;
	if (!ctl_sql(l, "UPDATE %s SET position = $2, applied_at = CURRENT_TIMESTAMP "
			"WHERE task_name = $1 AND target_database = $3", "apply_state", 3, params, NULL)) {
		A.status = EXIT_TARGET;
		return false;
	}
	free(A.committed);
	A.committed = xstrdup(pos);
	return write_ack(pos);
}

int
apply_record(const struct dms_record *rec)
{
	enum change_result r;

	switch (rec->kind) {
	case K_BEGIN:
		return begin(rec) ? EXIT_OK : A.status;
	case K_COMMIT:
		return commit(rec) ? EXIT_OK : A.status;
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE:
	case K_TRUNCATE:
		if (A.skip)
			return EXIT_OK;
		if (!keep(rec))
			return A.status;
		A.txn_changes++;
		if (A.deferred)
			return EXIT_OK;
		r = apply_one(rec);
		if (r == CH_REDO)
			return redo() ? EXIT_OK : A.status;
		return r == CH_OK ? EXIT_OK : A.status;
	case K_CHECKPOINT: {
		char *pos = position_of(rec, 1);
		bool ok = true;

		/*
		 * Nothing pending: the target has every change up to the
		 * CHECKPOINT, which becomes its position, and the source may
		 * release what is before it.
		 */
		if (!A.in_txn) {
			ok = group_commit();
			if (ok && pos != NULL && (A.applied == NULL || A.caught_up || !applied_already(pos)))
				ok = checkpoint(pos);
		}
		free(pos);
		return ok ? EXIT_OK : A.status;
	}
	default:
		return EXIT_OK;
	}
}

bool
apply_idle(void *arg)
{
	(void)arg;
	/* nothing more at hand: commit what is applied, so that latency stays low
	 * (a batch waits BatchApplyTimeoutMin first) */
	if (A.open && !A.in_txn &&
	    (!A.l->settings->batch_apply || since(&A.started) >= (double)A.l->settings->batch_timeout_min))
		return group_commit();
	return true;
}

bool
apply_between(void)
{
	return !A.in_txn;
}

bool
apply_flush(void)
{
	if (A.in_txn)
		return true;
	return group_commit();
}

/* ---- tables ---- */

/* The target's columns of t, lower-cased on MySQL; NULL on error. */
static struct ctl_result *
target_columns(struct ttable *t)
{
	struct ctl_result *r = xcalloc(1, sizeof(*r));
	const char *params[] = { t->schema, t->name };

	if (!A.l->ops->ctl_query(A.l, "SELECT column_name FROM information_schema.columns "
				 "WHERE table_schema = $1 AND table_name = $2", 2, params, r)) {
		free(r);
		return NULL;
	}
	return r;
}

static bool
has_column(const struct ctl_result *r, const char *name)
{
	for (int i = 0; i < r->nrows; i++)
		if (r->v[i] && (A.l->engine == ENGINE_PG ? strcmp(r->v[i], name) : strcasecmp(r->v[i], name)) == 0)
			return true;
	return false;
}

static int
name_index(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Whether the new definition has a column of that name. */
static bool
new_has(const struct ttable *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].src->name, name) == 0)
			return true;
	return false;
}

/* One ALTER TABLE, outside any transaction (MySQL would commit it). */
static bool
alter(struct ttable *t, const char *what, const char *a1, const char *a2)
{
	struct strbuf sql = STRBUF_INIT;
	char err[1024];
	uint64_t rows;
	bool trunc, ok;

	sb_addf(&sql, "ALTER TABLE %s %s", t->qname, what);
	if (a1) {
		char *q = quote(a1);

		sb_addf(&sql, " %s", q);
		free(q);
	}
	if (a2)
		sb_addf(&sql, " %s", a2);
	ok = A.l->ops->apply_sql(A.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
	if (!ok)
		log_error("%s.%s: %s: %s", t->schema, t->name, sql.buf, err);
	else
		log_info("%s.%s: %s (the source table was altered)", t->schema, t->name, sql.buf + 12);
	sb_release(&sql);
	return ok;
}

/* A column type for ALTER ... TYPE / MODIFY, from the new definition. */
static bool
retype(struct ttable *t, int i)
{
	char *q = quote(t->cols[i].src->name), *what;
	bool ok;

	what = A.l->engine == ENGINE_PG ? xprintf("ALTER COLUMN %s TYPE %s USING %s::%s", q, t->cols[i].sqltype, q,
						  t->cols[i].sqltype)
					: xprintf("MODIFY COLUMN %s %s", q, t->cols[i].sqltype);
	ok = alter(t, what, NULL, NULL);
	free(q);
	free(what);
	return ok;
}

/* A redefinition of a known table: the target follows as HandleSourceTableAltered says. */
static bool
redefine(struct atable *a, struct ttable *t)
{
	struct ctl_result *have = target_columns(t);
	bool ok = have != NULL;

	if (!A.l->settings->handle_altered) {
		for (int i = 0; i < t->ncols; i++)
			if (name_index(a->names, a->ncols, t->cols[i].src->name) < 0) {
				t->cols[i].skip = true;
				log_warn("%s.%s: column %s added on the source: not applied (HandleSourceTableAltered false), its values are left out",
					 t->schema, t->name, t->cols[i].src->name);
			}
		goto out;
	}
	/* renamed: same place, same type, a new name (neither name on both sides) */
	for (int i = 0; ok && i < t->ncols && i < a->ncols; i++) {
		const char *nn = t->cols[i].src->name, *on = a->names[i];

		if (strcmp(nn, on) != 0 && name_index(a->names, a->ncols, nn) < 0 && !new_has(t, on) &&
		    t->cols[i].sqltype && strcmp(a->types[i], t->cols[i].sqltype) == 0 &&
		    has_column(have, on) && !has_column(have, nn)) {
			char *q = quote(nn), *to = xprintf("TO %s", q);

			ok = alter(t, "RENAME COLUMN", on, to);
			free(q);
			free(to);
			a->n.ddls++;
			ctl_result_free(have);
			free(have);
			if ((have = target_columns(t)) == NULL)
				return false;
		}
	}
	for (int i = 0; ok && i < t->ncols; i++) {
		const char *nn = t->cols[i].src->name;
		int o = name_index(a->names, a->ncols, nn);

		if (t->cols[i].skip)
			continue;
		if (!has_column(have, nn)) {
			char *q = quote(nn), *what = xprintf("ADD COLUMN %s %s", q, t->cols[i].sqltype);

			ok = alter(t, what, NULL, NULL);
			free(q);
			free(what);
			a->n.ddls++;
		} else if (o >= 0 && strcmp(a->types[o], t->cols[i].sqltype) != 0) {
			ok = retype(t, i);
			a->n.ddls++;
		}
	}
	for (int o = 0; ok && o < a->ncols; o++) {
		bool kept = false;

		for (int i = 0; i < t->ncols && !kept; i++)
			kept = strcmp(t->cols[i].src->name, a->names[o]) == 0;
		if (!kept && has_column(have, a->names[o])) {
			ok = alter(t, "DROP COLUMN", a->names[o], NULL);
			a->n.ddls++;
		}
	}
out:
	if (have != NULL) {
		ctl_result_free(have);
		free(have);
	}
	return ok;
}

/*
 * A TABLE record: between transactions only. A table met for the first time
 * is created on the target when it is missing (as a full load would, its
 * existing rows left alone); a redefinition alters it.
 */
/* A table dropped on the source (a TABLE with attrs dropped): as HandleSourceTableDropped says. */
static int
drop_table(struct atable *a, struct ttable *t)
{
	struct strbuf sql = STRBUF_INIT;
	char err[1024];
	uint64_t rows;
	bool trunc, ok;

	if (!A.l->settings->handle_dropped) {
		log_warn("%s.%s was dropped on the source: not applied (HandleSourceTableDropped false)", t->schema,
			 t->name);
		return EXIT_OK;
	}
	sb_addf(&sql, "DROP TABLE IF EXISTS %s", t->qname);
	ok = A.l->ops->apply_sql(A.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
	sb_release(&sql);
	if (!ok) {
		log_error("%s.%s: DROP TABLE: %s", t->schema, t->name, err);
		return EXIT_TARGET;
	}
	log_info("%s.%s dropped, as on the source", t->schema, t->name);
	a->n.ddls++;
	if (!write_stats())
		return A.status;
	/* a later definition creates it again */
	atable_release(a);
	return EXIT_OK;
}

int
apply_table(struct ttable *t, int64_t tid)
{
	struct atable *a = atable(tid);
	enum prep_mode mode = A.l->settings->prep_mode;
	bool ok, dropped = false;

	if (A.in_txn) {
		log_error("TABLE %s.%s inside a transaction: a change stream redefines tables between transactions",
			  t->schema, t->name);
		return EXIT_INPUT;
	}
	if (!group_commit())
		return A.status;
	if (attrs_bool(t->src->attrs, t->src->attrs_len, "dropped", &dropped) && dropped)
		return drop_table(a, t);
	if (a->names == NULL) {
		if (!run_check_tables(A.l, &t, 1))
			return EXIT_USAGE;
		A.l->settings->prep_mode = PREP_DO_NOTHING;
		ok = A.l->ops->prepare(A.l, t);
		A.l->settings->prep_mode = mode;
		if (!ok)
			return EXIT_TARGET;
	} else if (!redefine(a, t) || !write_stats()) {
		return EXIT_TARGET;
	}
	atable_release(a);
	a->ncols = t->ncols;
	a->names = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	a->types = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	for (int i = 0; i < t->ncols; i++) {
		a->names[i] = xstrdup(t->cols[i].src->name);
		a->types[i] = xstrdup(t->cols[i].sqltype ? t->cols[i].sqltype : "");
	}
	return EXIT_OK;
}

int
apply_finish(bool at_end, int status)
{
	if (status == EXIT_OK && A.in_txn) {
		log_error("the stream ended inside a transaction: it is rolled back, nothing of it applied");
		status = EXIT_INPUT;
	}
	if (status == EXIT_OK && !group_commit())
		status = A.status;
	if (A.open) {
		if (A.npend > 0)	/* the outcomes of what was sent, to leave the pipeline */
			A.l->ops->apply_sync(A.l, pipe_done, NULL);
		A.l->ops->rollback(A.l);
		A.open = false;
	}
	pending_clear();
	free(A.pend);
	sb_release(&P.buf);
	free(P.off);
	free(P.ptr);
	memset(&P, 0, sizeof(P));
	if (A.skipped)
		log_warn("%" PRIu64 " transactions were applied before (at or before %s): skipped", A.skipped,
			 A.applied ? A.applied : "?");
	log_msg(status == EXIT_OK ? LOG_INFO : LOG_WARNING,
		"%s: %" PRIu64 " transactions, %" PRIu64 " changes applied in %.1f s (%.0f changes/s); the target has the source's changes up to %s%s",
		status == EXIT_OK ? (at_end ? "done" : "stopped between transactions") : "failed",
		A.applied_txns, A.applied_changes, since(&A.began),
		(double)A.applied_changes / (since(&A.began) + 1e-9),
		A.committed ? A.committed : "(none applied)",
		status == EXIT_OK ? "" : "; a rerun resumes from there");
	if (A.ignored)
		log_warn("%" PRIu64 " changes were passed over by the apply error policies (IGNORE_RECORD)", A.ignored);
	if (A.exceptions)
		log_warn("%" PRIu64 " changes were not applied; see the %s apply_exceptions table", A.exceptions,
			 A.l->settings->control_schema);
	for (size_t i = 0; i < A.nat; i++) {
		if (A.at[i].suspended)
			log_warn("table %" PRIu64 " (%s) is suspended: %" PRIu64 " of its changes were not applied",
				 (uint64_t)i, A.at[i].ncols ? A.at[i].names[0] : "?", A.at[i].skipped);
		atable_release(&A.at[i]);
	}
	free(A.at);
	free(A.snap);
	free(A.applied);
	free(A.acked);
	free(A.committed);
	free(A.pos);
	sb_release(&A.buf);
	return status;
}

int
apply_status(void)
{
	return A.status ? A.status : EXIT_TARGET;
}
