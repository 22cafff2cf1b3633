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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "applier.h"
#include "../common/ctl.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/position.h"
#include "../common/dms.h"

struct applier ap;


static double
since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

struct atable *
ap_atable(int64_t tid)
{
	if ((size_t)tid >= ap.nat) {
		size_t n = ap.nat ? ap.nat : 16;

		while (n <= (size_t)tid)
			n *= 2;
		ap.at = xrealloc(ap.at, n * sizeof(*ap.at));
		memset(ap.at + ap.nat, 0, (n - ap.nat) * sizeof(*ap.at));
		ap.nat = n;
	}
	return &ap.at[tid];
}

void
ap_atable_release(struct atable *a)
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

char *
ap_quote(const char *name)
{
	return ap.l->engine == ENGINE_PG ? pg_quote_ident(name) : my_quote_ident(name);
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
	snprintf(buf + n, size - n, ".%06u%s", nsec / 1000, ap.l->engine == ENGINE_PG ? "+00" : "");
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

	memset(&ap, 0, sizeof(ap));
	ap.l = l;
	ap.st = st;
	ap.table = table;
	ap.ack_path = ack_path;
	clock_gettime(CLOCK_MONOTONIC, &ap.began);
	/* policies whose conflicts need nothing done before the next change: the statements may be pipelined */
	{
		const struct task_settings *ss = l->settings;

		ap.pipe_ok = (answerless(ss->apply_insert_policy) || ss->apply_insert_policy == POLICY_INSERT_RECORD) &&
			    answerless(ss->apply_update_policy) && answerless(ss->apply_delete_policy) &&
			    (ss->apply_escalation_count == 0 || ss->apply_escalation_policy == POLICY_LOG_ERROR);
	}
	ap.reported = ap.began;
	ap.net_memory = (size_t)l->settings->batch_memory_mb << 20;
	if (ap.net_memory > NET_MEMORY)
		ap.net_memory = NET_MEMORY;
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
			ap.status = EXIT_USAGE;
			return false;
		}
		if (tries == 0)
			log_info("task %s: waiting up to %d s for its lock", l->task, LOCK_TRIES / 10);
		nanosleep(&pause, NULL);
	}
	if (l->restart && (!ctl_sql(l, "DELETE FROM %s WHERE task_name = $1 AND target_database = $2", "apply_state", 2, params, NULL) ||
			   !ctl_sql(l, "DELETE FROM %s WHERE task_name = $1 AND target_database = $2", "apply_tables", 2, params, NULL)))
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
			ap.status = EXIT_USAGE;
			ok = false;
		} else {
			ap.applied = xstrdup(r.v[0]);
			ap.acked = xstrdup(r.v[0]);
			ap.committed = xstrdup(r.v[0]);
			log_info("task %s: changes applied up to %s; earlier transactions are skipped",
				 l->task, ap.applied);
		}
	}
	ctl_result_free(&r);
	return ok;
}

/*
 * --ack-file: the position, written whole or not at all. Not fsynced: the
 * target's apply_state is what is durable, and after a crash of the machine
 * the file may hold an earlier position or nothing, which its readers take
 * as less acknowledged than it was (the slot confirmed later, the spool read
 * from further back and its transactions passed over). An fsync here was a
 * wait of up to 0.35 s in the apply, measured under load.
 */
static bool
write_ack(const char *pos)
{
	char *line;
	bool ok;

	if (ap.ack_path == NULL || pos == NULL || (ap.acked && strcmp(ap.acked, pos) == 0))
		return true;
	line = xprintf("%s\n", pos);
	ok = file_replace(ap.ack_path, line, strlen(line), false);
	free(line);
	if (!ok) {
		log_error("%s: cannot write the acknowledged position", ap.ack_path);
		ap.status = EXIT_OUTPUT;
		return false;
	}
	free(ap.acked);
	ap.acked = xstrdup(pos);
	return true;
}

/* ---- groups ---- */

/* The group's records are forgotten (it committed, or it begins). */
static void
records_reset(void)
{
	sb_reset(&ap.buf);
	if (ap.spill != NULL && ap.spilled > 0 && ftruncate(fileno(ap.spill), 0) != 0)
		log_warn("cannot empty the temporary file of a batch's records: %s", strerror(errno));
	ap.spilled = 0;
}

static bool
group_open(void)
{
	if (ap.open)
		return true;
	if (!ap.l->ops->begin(ap.l)) {
		ap.status = EXIT_TARGET;
		return false;
	}
	ap.open = true;
	ap.careful = false;
	ap.batch = ap.l->settings->batch_apply;
	ap.overflow = false;
	ap.txns = ap.changes = 0;
	records_reset();
	clock_gettime(CLOCK_MONOTONIC, &ap.started);
	ap.snap = xrealloc(ap.snap, (ap.nat + 1) * sizeof(*ap.snap));
	if (ap.nat)
		memcpy(ap.snap, ap.at, ap.nat * sizeof(*ap.at));
	ap.snap_ignored = ap.ignored;
	ap.snap_exceptions = ap.exceptions;
	ap.seq = ap.quiet_until = 0;
	return true;
}



/* The counters of every table that changed since they were last written, added to table_statistics. */
bool
ap_write_stats(void)
{
	struct loader *l = ap.l;
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

	for (size_t tid = 0; tid < ap.nat; tid++) {
		struct atable *a = &ap.at[tid];
		struct ttable *t;
		char v[5][24], *target;
		const uint64_t d[5] = { a->n.inserts - a->written.inserts, a->n.updates - a->written.updates,
					a->n.deletes - a->written.deletes, a->n.ddls - a->written.ddls,
					a->n.exceptions - a->written.exceptions };
		bool ok;

		if (!d[0] && !d[1] && !d[2] && !d[3] && !d[4])
			continue;
		/* a table whose first TABLE record is being applied: its counters wait for the next time */
		if (ap.table((int64_t)tid) == NULL || (t = *ap.table((int64_t)tid)) == NULL)
			continue;
		for (int i = 0; i < 5; i++)
			snprintf(v[i], sizeof(v[i]), "%" PRIu64, d[i]);
		target = xprintf("%s.%s", t->schema, t->name);
		{
			const char *params[] = { l->task, t->src->schema, t->src->name, target, v[0], v[1], v[2], v[3], v[4] };

			ok = ctl_sql(l, sql, "table_statistics", 9, params, NULL);
		}
		free(target);
		if (!ok) {
			ap.status = EXIT_TARGET;
			return false;
		}
		a->written = a->n;
	}
	return true;
}

/*
 * Batch apply: the net changes held go to the target, in the open
 * transaction. A refusal (a value the target cannot hold) rolls the group
 * back and applies it again change by change (ap.redos counts it); false: fatal.
 */
bool
ap_flush_nets(void)
{
	char err[1024];
	bool truncation;

	for (size_t tid = 0; tid < ap.nat; tid++) {
		struct atable *a = &ap.at[tid];
		struct net_row *rows;
		size_t n;
		int rc;

		if (a->net == NULL || net_count(a->net) == 0)
			continue;
		n = net_rows(a->net, &rows);
		rc = ap.l->ops->apply_net(ap.l, *ap.table((int64_t)tid), rows, n, err, sizeof(err), &truncation);
		free(rows);
		net_clear(a->net);
		if (rc == LOAD_FAILED) {
			ap.status = EXIT_TARGET;
			return false;
		}
		if (rc == LOAD_REFUSED) {
			log_info("batch apply: a net change was refused (%s): applying the group change by change", err);
			return ap_redo();
		}
	}
	ap.net_held = 0;
	return true;
}

/* Commits the group with its position; the ack file follows. */
bool
ap_group_commit(void)
{
	struct loader *l = ap.l;
	char when[64] = "", txns[32], latency[32];
	const char *engine = l->source == ENGINE_PG ? "postgresql" : "mysql";
	const char *params[] = { l->task, ap.pos, when[0] ? when : NULL, engine, l->source_server,
				 l->source_database, txns, latency,
				 l->engine == ENGINE_MYSQL && l->dbname ? l->dbname : "" };
	struct timespec now;

	if (!ap.open)
		return true;
	if (ap.txns == 0) {	/* nothing applied: only BEGINs of skipped transactions */
		ap.open = false;
		return l->ops->rollback(l);
	}
	if (ap.batch && !ap_flush_nets())
		return false;
	if (!ap_sync_pipeline())
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	if (ap.sec) {
		time_text(ap.sec, ap.nsec, when, sizeof(when));
		params[2] = when;
		ap.latency_ms = (int64_t)(now.tv_sec - ap.sec) * 1000 + ((int64_t)now.tv_nsec - ap.nsec) / 1000000;
	}
	snprintf(txns, sizeof(txns), "%" PRIu64, ap.txns);
	snprintf(latency, sizeof(latency), "%" PRId64, ap.latency_ms);
	if (!ap.sec)
		params[7] = NULL;
	if (!ap_write_stats() ||
	    !ctl_sql(l, "UPDATE %s SET position = $2, commit_time = $3, source_engine = $4, "
			"source_server = $5, source_database = $6, transactions = transactions + $7, "
			"latency_ms = $8, applied_at = CURRENT_TIMESTAMP WHERE task_name = $1 AND target_database = $9",
		     "apply_state", 9, params, NULL) ||
	    !l->ops->commit(l)) {
		ap.status = EXIT_TARGET;
		return false;
	}
	ap.open = false;
	free(ap.committed);
	ap.committed = xstrdup(ap.pos);
	ap.applied_txns += ap.txns;
	ap.applied_changes += ap.changes;
	log_debug("applied %" PRIu64 " transactions (%" PRIu64 " changes) up to %s", ap.txns, ap.changes, ap.pos);
	if (log_enabled(LOG_INFO) && since(&ap.reported) >= 5) {
		double secs = since(&ap.reported);

		log_info("applied %" PRIu64 " transactions, %" PRIu64 " changes (%.0f changes/s), up to %s; latency %" PRId64 " ms",
			 ap.applied_txns, ap.applied_changes, (double)(ap.applied_changes - ap.reported_changes) / secs,
			 ap.pos ? ap.pos : "?", ap.latency_ms);
		clock_gettime(CLOCK_MONOTONIC, &ap.reported);
		ap.reported_changes = ap.applied_changes;
	}
	records_reset();
	return write_ack(ap.pos);
}


/*
 * Applies the records in p[0..len) with st, from *off: after a refusal
 * (careful: each change in a savepoint), or a transaction held back until its
 * COMMIT told whether it was applied already. Stops at an incomplete record
 * when more is to come (part). 1: go on; 0: fatal; 2: a redo inside applied
 * the whole group.
 */
static int
replay_records(struct dms_stream *st, const uint8_t *p, size_t len, size_t *off, bool part, unsigned redos)
{
	while (*off < len) {
		struct dms_record rec;
		enum check_status cs;

		if (ap.redos != redos)
			return 2;
		cs = stream_check(st, p + *off, len - *off, &rec);
		if (cs == CHECK_INCOMPLETE && part)
			return 1;
		if (cs != CHECK_OK) {
			log_error("replaying the group: a record does not read back");
			ap.status = EXIT_RUNTIME;
			return 0;
		}
		*off += rec.len;
		switch (ap_apply_one(&rec)) {
		case CH_OK:
			break;
		case CH_REDO:	/* a held transaction's change refused: the whole group, carefully */
			return ap_redo() ? 2 : 0;
		default:
			return 0;
		}
	}
	return ap.redos != redos ? 2 : 1;
}

/* The group's records in the spill file, replayed a piece at a time. */
static int
replay_spilled(struct dms_stream *st, unsigned redos)
{
	struct strbuf piece = STRBUF_INIT;
	off_t at = 0;
	size_t off = 0;
	int rc = 1;

	while (rc == 1 && at < ap.spilled) {
		size_t want = (size_t)(ap.spilled - at < GROUP_MEMORY ? ap.spilled - at : GROUP_MEMORY);
		ssize_t got;

		/* what the last piece left (a record cut in two) goes first */
		if (off > 0) {
			memmove(piece.buf, piece.buf + off, piece.len - off);
			piece.len -= off;
			off = 0;
		}
		sb_grow_by(&piece, want);
		got = pread(fileno(ap.spill), piece.buf + piece.len, want, at);
		if (got <= 0) {
			log_error("replaying the group: cannot read its records back from a temporary file: %s",
				  got < 0 ? strerror(errno) : "it is shorter than written");
			ap.status = EXIT_RUNTIME;
			rc = 0;
			break;
		}
		piece.len += (size_t)got;
		at += got;
		rc = replay_records(st, (const uint8_t *)piece.buf, piece.len, &off, at < ap.spilled, redos);
	}
	sb_release(&piece);
	return rc;
}

/* Applies the group's records from offset from of the buffer (spilled: those in the file first). */
static bool
replay(size_t from, bool spilled)
{
	struct dms_stream st = *ap.st;
	size_t off = from;
	unsigned redos = ap.redos;
	int rc = 1;

	st.in_txn = false;
	st.part_open = false;
	st.ended = false;
	if (spilled && ap.spilled > 0)
		rc = replay_spilled(&st, redos);
	if (rc == 1)
		rc = replay_records(&st, (const uint8_t *)ap.buf.buf, ap.buf.len, &off, false, redos);
	return rc != 0;
}

/* The group failed a statement for its data: roll back and apply it all again, carefully. */
bool
ap_redo(void)
{
	if (ap.overflow) {
		/* cannot happen: past the memory bound the group is careful already */
		log_error("a refused change in a group whose records were not kept");
		ap.status = EXIT_RUNTIME;
		return false;
	}
	log_info("a change was refused for its data: applying the group again, each change in a savepoint");
	if (!ap.l->ops->rollback(ap.l) || !ap.l->ops->begin(ap.l)) {
		ap.status = EXIT_TARGET;
		return false;
	}
	ap.careful = true;
	ap.batch = false;
	ap.redos++;
	for (size_t tid = 0; tid < ap.nat; tid++)
		if (ap.at[tid].net != NULL)
			net_clear(ap.at[tid].net);
	ap.net_held = 0;
	/* the counters as before the group; the changes before the refused one were told of already */
	if (ap.nat)
		memcpy(ap.at, ap.snap, ap.nat * sizeof(*ap.at));
	ap.ignored = ap.snap_ignored;
	ap.exceptions = ap.snap_exceptions;
	ap.quiet_until = ap.npend ? ap.pend[0].seq - 1 : ap.seq - 1;
	ap_pending_clear();
	ap.seq = 0;
	return replay(0, true);
}

/*
 * A batch's records past the memory bound go to a temporary file, so that
 * the batch goes on (nets gain with its size) and can still be replayed;
 * false: not (not a batch, a transaction held back, the file's bound, an
 * error), and the group goes on change by change.
 */
static bool
spill(void)
{
	if (!ap.batch || ap.deferred || ap.spilled + (off_t)ap.buf.len > GROUP_SPILL)
		return false;
	if (ap.spill == NULL && (ap.spill = tmpfile()) == NULL) {
		log_warn("cannot keep a batch's records in a temporary file (%s): the batch goes on change by change",
			 strerror(errno));
		return false;
	}
	for (size_t done = 0; done < ap.buf.len;) {
		ssize_t n = pwrite(fileno(ap.spill), ap.buf.buf + done, ap.buf.len - done, ap.spilled + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("cannot keep a batch's records in a temporary file (%s): the batch goes on change by change",
				 n < 0 ? strerror(errno) : "nothing written");
			return false;
		}
		done += (size_t)n;
	}
	ap.spilled += (off_t)ap.buf.len;
	return true;
}

/* Keeps a record of the group for a replay, while the group is within its memory bound. */
static bool
keep(const struct dms_record *rec)
{
	if (ap.deferred) {
		/* held until its COMMIT: kept whatever the engine, within a bound */
		if (ap.buf.len + rec->len > 2 * GROUP_MEMORY) {
			log_error("record %" PRIu64 ": a transaction whose BEGIN has no position grew past %u MiB before its COMMIT said whether it was applied already: give BEGIN its COMMIT's position",
				  rec->seq, 2 * GROUP_MEMORY >> 20);
			ap.status = EXIT_INPUT;
			return false;
		}
		sb_add(&ap.buf, rec->raw, rec->len);
		return true;
	}
	/* MySQL undoes a refused statement alone: only a batch needs its records */
	if (ap.overflow || (ap.l->ops->stmt_atomic && !ap.batch))
		return true;
	if (ap.buf.len + rec->len > GROUP_MEMORY && spill())
		sb_reset(&ap.buf);
	if (ap.buf.len + rec->len > GROUP_MEMORY) {
		/* past the bound the group goes on change by change: what is held goes first */
		if (ap.batch && !ap_flush_nets())
			return false;
		ap.batch = false;
		ap.overflow = true;
		ap.careful = true;	/* from here on, each change in a savepoint */
		sb_reset(&ap.buf);
		return true;
	}
	sb_add(&ap.buf, rec->raw, rec->len);
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

	if (ap.applied == NULL || ap.caught_up)
		return false;
	if (!position_compare(pos, ap.applied, &cmp)) {
		log_warn("position %s cannot be compared with the applied %s: applying it", pos, ap.applied);
		ap.caught_up = true;
		return false;
	}
	if (cmp > 0) {
		ap.caught_up = true;
		return false;
	}
	return true;
}

static bool
begin(const struct dms_record *rec)
{
	char *pos = position_of(rec, 2);
	bool skip = pos != NULL && applied_already(pos);

	/* definitions met among the transactions the target has, now that one it lacks comes */
	if (!skip) {
		int status = apply_pending_tables();

		if (status != EXIT_OK) {
			ap.status = status;
			free(pos);
			return false;
		}
	}
	ap.in_txn = true;
	ap.txn_changes = 0;
	ap.deferred = false;
	ap.skip = skip;
	if (pos == NULL && ap.applied != NULL && !ap.caught_up)
		ap.deferred = true;	/* held until its COMMIT says where it stands */
	free(pos);
	if (ap.skip)
		return true;
	if (!group_open())
		return false;
	ap.txn_start = ap.buf.len;
	return keep(rec);
}

static bool
commit(const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *p;
	char *pos = position_of(rec, 1);

	ap.in_txn = false;
	if (ap.skip) {
		ap.skipped++;
		free(pos);
		return true;
	}
	if (ap.deferred) {
		ap.deferred = false;
		if (pos != NULL && applied_already(pos)) {
			ap.skipped++;
			ap.buf.len = ap.txn_start;
			free(pos);
			return true;
		}
		ap.caught_up = true;
		if (!replay(ap.txn_start, false)) {
			free(pos);
			return false;
		}
	}
	keep(rec);
	ap.txns++;
	ap.changes += ap.txn_changes;
	free(ap.pos);
	ap.pos = pos;
	p = record_element(rec, 2);
	mp_cursor_init(&c, p, rec->len - (size_t)(p - rec->raw));
	if (mp_next(&c, &it) == MP_OK && mp_timestamp(&it, &ap.sec, &ap.nsec)) {
		/* the commit time, for apply_state and the latency */
	} else {
		ap.sec = 0;
		ap.nsec = 0;
	}
	if (ap.l->settings->batch_apply ? (ap.l->settings->batch_split_size > 0 &&
					  ap.changes >= (uint64_t)ap.l->settings->batch_split_size) ||
					 since(&ap.started) >= (double)ap.l->settings->batch_timeout_max
				       : ap.changes >= (uint64_t)ap.l->settings->min_transaction_size ||
					 since(&ap.started) >= (double)ap.l->settings->commit_timeout)
		return ap_group_commit();
	if (ap.overflow)
		return ap_group_commit();
	return true;
}

/* The position of a CHECKPOINT past the target's: apply_state's and the ack file's. */
static bool
checkpoint(const char *pos)
{
	struct loader *l = ap.l;
	const char *params[] = { l->task, pos, l->engine == ENGINE_MYSQL && l->dbname ? l->dbname : "" };
	int cmp;

	if (ap.committed != NULL && position_compare(pos, ap.committed, &cmp) && cmp <= 0)
		return true;
	if (!ctl_sql(l, "UPDATE %s SET position = $2, applied_at = CURRENT_TIMESTAMP "
			"WHERE task_name = $1 AND target_database = $3", "apply_state", 3, params, NULL)) {
		ap.status = EXIT_TARGET;
		return false;
	}
	free(ap.committed);
	ap.committed = xstrdup(pos);
	return write_ack(pos);
}

int
apply_record(const struct dms_record *rec)
{
	enum change_result r;

	switch (rec->kind) {
	case K_BEGIN:
		return begin(rec) ? EXIT_OK : ap.status;
	case K_COMMIT:
		return commit(rec) ? EXIT_OK : ap.status;
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE:
	case K_TRUNCATE:
		if (ap.skip)
			return EXIT_OK;
		if (!keep(rec))
			return ap.status;
		ap.txn_changes++;
		if (ap.deferred)
			return EXIT_OK;
		r = ap_apply_one(rec);
		if (r == CH_REDO)
			return ap_redo() ? EXIT_OK : ap.status;
		return r == CH_OK ? EXIT_OK : ap.status;
	case K_CHECKPOINT: {
		char *pos = position_of(rec, 1);
		bool ok = true;

		/*
		 * Nothing pending: the target has every change up to the
		 * CHECKPOINT, which becomes its position, and the source may
		 * release what is before it.
		 */
		if (!ap.in_txn) {
			ok = ap_group_commit();
			if (ok && pos != NULL && (ap.applied == NULL || ap.caught_up || !applied_already(pos)))
				ok = checkpoint(pos);
		}
		free(pos);
		return ok ? EXIT_OK : ap.status;
	}
	default:
		return EXIT_OK;
	}
}

bool
apply_idle(void *arg)
{
	const struct dms_in *in = arg;
	double due;

	if (!ap.open || ap.in_txn)
		return true;
	/* a read may wait: commit what is applied, so that latency stays low */
	if (!ap.l->settings->batch_apply)
		return ap_group_commit();
	/*
	 * A batch commits once BatchApplyTimeoutMin has passed since it began:
	 * at that moment if no input comes meanwhile (not at the next record,
	 * which on a quiet source may be seconds away), else after reading it.
	 */
	due = (double)ap.l->settings->batch_timeout_min - since(&ap.started);
	if (due > 0) {
		struct pollfd p = { .fd = in->fd, .events = POLLIN };

		if (!in_waits(in) || poll(&p, 1, (int)(due * 1000) + 1) != 0)
			return true;	/* input at hand (or a signal): read it */
	}
	return ap_group_commit();
}

bool
apply_between(void)
{
	return !ap.in_txn;
}

bool
apply_flush(void)
{
	if (ap.in_txn)
		return true;
	return ap_group_commit();
}

int
apply_finish(bool at_end, int status)
{
	if (status == EXIT_OK && ap.in_txn) {
		log_error("the stream ended inside a transaction: it is rolled back, nothing of it applied");
		status = EXIT_INPUT;
	}
	if (status == EXIT_OK && !ap_group_commit())
		status = ap.status;
	if (ap.open) {
		if (ap.npend > 0)	/* the outcomes of what was sent, to leave the pipeline */
			ap.l->ops->apply_sync(ap.l, ap_pipe_done, NULL);
		ap.l->ops->rollback(ap.l);
		ap.open = false;
	}
	ap_statements_release();
	if (ap.spill != NULL)
		fclose(ap.spill);
	ap.spill = NULL;
	if (ap.skipped)
		log_warn("%" PRIu64 " transactions were applied before (at or before %s): skipped", ap.skipped,
			 ap.applied ? ap.applied : "?");
	log_msg(status == EXIT_OK ? LOG_INFO : LOG_WARNING,
		"%s: %" PRIu64 " transactions, %" PRIu64 " changes applied in %.1f s (%.0f changes/s); the target has the source's changes up to %s%s",
		status == EXIT_OK ? (at_end ? "done" : "stopped between transactions") : "failed",
		ap.applied_txns, ap.applied_changes, since(&ap.began),
		(double)ap.applied_changes / (since(&ap.began) + 1e-9),
		ap.committed ? ap.committed : "(none applied)",
		status == EXIT_OK ? "" : "; a rerun resumes from there");
	if (ap.ignored)
		log_warn("%" PRIu64 " changes were passed over by the apply error policies (IGNORE_RECORD)", ap.ignored);
	if (ap.exceptions)
		log_warn("%" PRIu64 " changes were not applied; see the %s apply_exceptions table", ap.exceptions,
			 ap.l->settings->control_schema);
	for (size_t i = 0; i < ap.nat; i++) {
		if (ap.at[i].suspended)
			log_warn("table %" PRIu64 " (%s) is suspended: %" PRIu64 " of its changes were not applied",
				 (uint64_t)i, ap.at[i].ncols ? ap.at[i].names[0] : "?", ap.at[i].skipped);
		ap_atable_release(&ap.at[i]);
	}
	free(ap.at);
	free(ap.snap);
	free(ap.applied);
	free(ap.acked);
	free(ap.committed);
	free(ap.pos);
	sb_release(&ap.buf);
	return status;
}

int
apply_status(void)
{
	return ap.status ? ap.status : EXIT_TARGET;
}
