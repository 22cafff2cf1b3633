/*
 * dms-capture: reads a PostgreSQL source's committed changes through logical
 * replication (pgoutput, protocol 2, streaming on) and writes them as a
 * change stream. See dms-capture(1).
 */
#define _GNU_SOURCE	/* strptime, timegm */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#define CONTROL_SCHEMA "dms"	/* the control tables of a dms target: never captured */
#include "../common/position.h"
#include "../common/records.h"
#include "../common/dms.h"
#include "../common/uri.h"

static const char usage_text[] =
	"usage: dms-capture [-qv] [-m mappings.json] [--task name] [--slot name]\n"
	"                   [--publication name] [--ack-file file] [--start position]\n"
	"                   [--stop-at position | --stop-at commit_time:YYYY-MM-DDTHH:MM:SS]\n"
	"                   [--memory bytes] [--retry-time seconds]\n"
	"                   [-o dir [--segment-size bytes]] source-uri\n"
	"       dms-capture [--task name] [--slot name] [--publication name] --drop-slot source-uri\n"
	"       dms-capture [-m mappings.json] [--task name] [--slot name] [--publication name]\n"
	"                   --export-snapshot source-uri\n"
	"       dms-capture --help | --version\n"
	"\n"
	"Reads the committed changes of a PostgreSQL source through logical\n"
	"replication, or of a MySQL or MariaDB source (mysql://) from its binary\n"
	"log, and writes them as a dms change stream on stdout, a whole\n"
	"transaction at a time, in commit order.\n"
	"\n"
	"  -m, --mappings file   AWS DMS table mappings: the tables to capture\n"
	"  --task name           names the slot and publication dms_<name> (default dms)\n"
	"  --slot name           the replication slot (created when missing)\n"
	"  --publication name    the publication (created when missing)\n"
	"  --ack-file file       the position the target applied (dms-load --ack-file):\n"
	"                        confirmed to the slot, and where to start\n"
	"  --start position      start after this position (default: the slot's)\n"
	"  --stop-at position    stop after the last transaction at or before it\n"
	"  --memory bytes        a transaction's memory before it spills to a file\n"
	"                        (default 16777216)\n"
	"  --retry-time seconds  how long a lost source is tried again (default 60)\n"
	"  -o, --spool dir       write the stream into a spool directory, acknowledging\n"
	"                        to the source what is synced there (read it with\n"
	"                        dms-transform dir)\n"
	"  --segment-size bytes  a spool segment's size before the next begins\n"
	"                        (default 67108864)\n"
	"  --drop-slot           drop the slot and the publication, and exit\n"
	"  --export-snapshot     create the slot with an exported snapshot, print the\n"
	"                        snapshot and the slot's position, hold it until stdin ends\n"
	"  -q, --quiet           errors only\n"
	"  -v, --verbose         more messages\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

static char *
name_of(const char *given, const char *task)
{
	return given ? xstrdup(given) : xprintf("dms_%s", task);
}

/* A one-value query on the catalog's connection; NULL on error (logged) or no row. */
static char *
value(struct capture *c, const char *sql, int n, const char *const *params)
{
	PGresult *res = pg_query((struct pg_conn *)c->src.conn, sql, n, params);
	char *v = NULL;

	if (res != NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * What logical replication needs of the source, each missing piece an error
 * that names its fix: wal_level, the REPLICATION privilege, the slot's plugin,
 * and a replica identity for the published tables.
 */
static bool
preflight(struct capture *c, const char *slot, const char *pub)
{
	const char *sp[] = { slot }, *pp[] = { pub };
	char *v;
	bool ok = true;

	v = value(c, "SHOW wal_level", 0, NULL);
	if (v == NULL || strcmp(v, "logical") != 0) {
		log_error("the source's wal_level is %s: set wal_level = logical in postgresql.conf and restart the server",
			  v ? v : "unknown");
		free(v);
		return false;
	}
	free(v);
	v = value(c, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user", 0, NULL);
	if (v == NULL || strcmp(v, "t") != 0) {
		log_error("the user may not replicate: ALTER ROLE ... REPLICATION (or connect as a role that may)");
		free(v);
		return false;
	}
	free(v);
	v = value(c, "SELECT plugin || ' ' || coalesce(database, '') FROM pg_replication_slots WHERE slot_name = $1",
		  1, sp);
	if (v != NULL) {
		char *db = value(c, "SELECT current_database()", 0, NULL);

		if (strncmp(v, "pgoutput ", 9) != 0 || db == NULL || strcmp(v + 9, db) != 0) {
			log_error("slot %s exists with plugin and database \"%s\": it is not a pgoutput slot of this database; drop it or give another --slot",
				  slot, v);
			ok = false;
		}
		free(db);
		free(v);
		if (!ok)
			return false;
	}
	v = value(c, "SELECT string_agg(format('%I.%I', t.schemaname, t.tablename), ', ') "
		     "FROM pg_publication_tables t JOIN pg_namespace n ON n.nspname = t.schemaname "
		     "JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = t.tablename "
		     "WHERE t.pubname = $1 AND (r.relreplident = 'n' OR (r.relreplident = 'd' AND NOT EXISTS "
		     "(SELECT 1 FROM pg_index i WHERE i.indrelid = r.oid AND i.indisprimary)))", 1, pp);
	if (v != NULL) {
		log_error("tables of publication %s have no replica identity, so the source refuses their UPDATEs and DELETEs: %s; add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL",
			  pub, v);
		free(v);
		return false;
	}
	return true;
}

/*
 * The publication, created when missing: for the source's tables the mapping
 * selects (all without one), those of the control schema left out. Not FOR
 * ALL TABLES: the source refuses UPDATE and DELETE on a published table
 * without a replica identity, and control tables need none.
 */
static bool
publication(struct capture *c, const char *pub)
{
	const char *pp[] = { pub };
	struct strbuf sql = STRBUF_INIT;
	char *v = value(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, pp), *q;
	struct src_name *names = NULL;
	int n = 0;
	bool ok;

	if (v != NULL) {
		free(v);
		return true;
	}
	q = pg_quote_ident(pub);
	{
		if (!catalog_select(c->ops, &c->src, CONTROL_SCHEMA, &names, &n)) {
			free(q);
			return false;
		}
		if (n == 0) {
			log_error("%s", c->mapping ? "the mapping selects no table of the source"
						  : "the source has no table to capture");
			free(q);
			free(names);
			return false;
		}
		sb_addf(&sql, "CREATE PUBLICATION %s FOR TABLE ", q);
		for (int i = 0; i < n; i++) {
			char *s = pg_quote_ident(names[i].schema), *t = pg_quote_ident(names[i].name);

			sb_addf(&sql, "%s%s.%s", i ? ", " : "", s, t);
			free(s);
			free(t);
			free(names[i].schema);
			free(names[i].name);
		}
		free(names);
	}
	ok = pg_command((struct pg_conn *)c->src.conn, sql.buf);
	if (ok)
		log_info("publication %s created", pub);
	free(q);
	sb_release(&sql);
	return ok;
}

static bool
drop_slot(struct capture *c, const char *slot, const char *pub)
{
	const char *sp[] = { slot };
	char *q = pg_quote_ident(pub), *sql = xprintf("DROP PUBLICATION IF EXISTS %s", q);
	PGresult *res = pg_query((struct pg_conn *)c->src.conn,
				 "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
				 1, sp);
	bool ok = res != NULL && pg_command((struct pg_conn *)c->src.conn, sql);

	PQclear(res);
	free(q);
	free(sql);
	if (ok)
		log_info("slot %s and publication %s dropped", slot, pub);
	return ok;
}

/*
 * --export-snapshot: a new slot whose snapshot is exported. The snapshot and
 * the slot's consistent point go to stdout; the snapshot lives while this
 * replication connection runs no other command, so it is held, idle, until
 * stdin ends. A snapshot reader (dms-extract --snapshot) sees every
 * transaction before the point, and streaming from the point every one after.
 */
static int
export_snapshot(struct capture *c, const char *slot)
{
	const char *sp[] = { slot };
	char *have = value(c, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1, sp);
	char *sql, buf[256];
	PGresult *res;

	if (have != NULL) {
		free(have);
		log_error("slot %s exists: an exported snapshot needs a new slot (dms-capture --drop-slot)", slot);
		return EXIT_USAGE;
	}
	sql = xprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'export')", slot);
	res = PQexec(c->repl.conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
		pg_failed(&c->repl, res, "CREATE_REPLICATION_SLOT");
		PQclear(res);
		return EXIT_SOURCE;
	}
	if (printf("%s %s\n", PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1)) < 0 || fflush(stdout) != 0) {
		log_error("stdout: cannot write the snapshot: %s", strerror(errno));
		PQclear(res);
		return EXIT_OUTPUT;
	}
	log_info("slot %s created at %s, snapshot %s exported", slot, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);
	while (!sig_drain && !sig_stop) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	return EXIT_OK;
}

/* The position in the ack file, or 0 (none yet, or no file). */
static uint64_t
read_ack(const char *path)
{
	char *pos = ack_position(path);
	uint64_t lsn = 0;

	if (pos != NULL && !lsn_parse(pos, &lsn))
		lsn = 0;
	free(pos);
	return lsn;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * A standby status update: received, and flushed = applied = what the target
 * has; ask: the server answers with a keepalive (its WAL end, while idle).
 */
static bool
status_update(struct capture *c, uint64_t received, uint64_t flushed, bool ask)
{
	uint8_t m[34] = { 'r' };
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	put64(m + 1, received);
	put64(m + 9, flushed);
	put64(m + 17, flushed);
	put64(m + 25, (uint64_t)((ts.tv_sec - PG_EPOCH) * 1000000 + ts.tv_nsec / 1000));
	m[33] = ask;
	if (PQputCopyData(c->repl.conn, (const char *)m, sizeof(m)) != 1 || PQflush(c->repl.conn) != 0) {
		log_error("%s: cannot send feedback: %s", c->repl.label, PQerrorMessage(c->repl.conn));
		return false;
	}
	return true;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The stop point: a position, or commit_time:YYYY-MM-DDTHH:MM:SS (UTC). */
static bool
parse_stop(const char *s, struct capture *c)
{
	if (strncmp(s, "commit_time:", 12) == 0) {
		struct tm tm = { 0 };
		const char *end = strptime(s + 12, "%Y-%m-%dT%H:%M:%S", &tm);

		if (end == NULL || *end != '\0')
			return false;
		c->stop_time = (int64_t)timegm(&tm);
		return true;
	}
	return lsn_parse(s, &c->stop_lsn);
}

/*
 * The spool: what was written becomes durable, about every 100 ms and
 * sooner (10 ms) when the source is quiet; a full segment makes way for the
 * next, which opens with the TABLE records of the tables seen so far.
 */
static bool
spool_sync(struct capture *c, bool idle, bool force)
{
	char pos[32];
	int64_t now = mono_ms();

	if (c->spool == NULL || !spool_dirty(c->spool))
		return true;
	if (!force && now - c->last_durable < (idle ? 10 : 100))
		return true;
	lsn_format(c->emitted, pos, sizeof(pos));
	if (!spool_durable(c->spool, pos, false))
		return false;
	c->durable = c->emitted;
	c->last_durable = now;
	if (!spool_full(c->spool))
		return true;
	if (!spool_segment(c->spool, pos))
		return false;
	for (size_t i = 0; i < c->nrels; i++)
		if (c->rels[i].table != NULL)
			out_write(&c->w->out, c->rels[i].table, c->rels[i].table_len);
	return spool_durable(c->spool, pos, false);
}

/*
 * Waits for the source's next messages, at most idle_ms. While they flow,
 * the socket's low watermark lets them gather (32 KiB, or 1 ms, whichever
 * comes first): one wakeup and one read for many messages. Woken at each of
 * the walsender's sends, this process cost it most of its time (a wakeup in
 * every send), and itself as much in reads; measured on a backlog of small
 * transactions, capture took a third less time and a sixth of the CPU.
 * *lowat: the watermark set on the socket. False: select failed (logged).
 */
static bool
wait_input(struct capture *c, bool flowing, int idle_ms, int *lowat)
{
	int fd = PQsocket(c->repl.conn), want = flowing ? 32 * 1024 : 1;
	struct timeval tv = { 0, (flowing ? 1 : idle_ms) * 1000 };
	fd_set fds;

	if (want != *lowat) {
		/* a socket that refuses it is only woken more often */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want));
		*lowat = want;
	}
	FD_ZERO(&fds);
	FD_SET(fd, &fds);
	if (select(fd + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR) {
		log_error("select: %s", strerror(errno));
		return false;
	}
	return true;
}

/* The slot's confirmed position; false on error (logged). */
static bool
slot_position(struct capture *c, const char *slot, uint64_t *lsn)
{
	const char *sp[] = { slot };
	char *v = value(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", 1, sp);
	bool ok = v != NULL && lsn_parse(v, lsn);

	if (!ok)
		log_error("slot %s: no confirmed position (was it dropped?)", slot);
	free(v);
	return ok;
}

/* ---- the backlog, read through SQL ---- */

/*
 * A backlog is decoded through SQL (pg_logical_slot_peek_binary_changes)
 * rather than the walsender: a backend decodes it and sends the rows in
 * bulk, where the walsender makes a system call or two for every WAL record
 * and every message. On a backlog of 1,000,000 small changes, measured: 1.6 s
 * against 8 to 12 s through the walsender. Used while the slot is more than
 * CATCHUP_BEHIND bytes of WAL behind; each chunk at most CATCHUP_CHUNK bytes
 * (a chunk's rows come once it is decoded whole: smaller chunks let the
 * apply begin sooner; 64 MiB was the fastest of 32 to 256 through the spool).
 */
#define CATCHUP_BEHIND ((uint64_t)16 << 20)
#define CATCHUP_CHUNK ((uint64_t)64 << 20)

static bool
lsn_value(struct capture *c, const char *sql, uint64_t *lsn)
{
	char *v = value(c, sql, 0, NULL);
	bool ok = v != NULL && lsn_parse(v, lsn);

	if (!ok)
		log_error("%s: no position", sql);
	free(v);
	return ok;
}

/*
 * The transactions that commit before upto, through the stream's decoder:
 * whole transactions only (no streaming of transactions in progress), rows
 * taken one at a time. Returns an exit status.
 */
static int
peek(struct capture *c, struct pg_conn *q, const char *slot, const char *pub, uint64_t upto)
{
	char pos[32];
	const char *params[3] = { slot, pos, pub };
	PGresult *res;
	int status = EXIT_OK;

	lsn_format(upto, pos, sizeof(pos));
	if (!PQsendQueryParams(q->conn, "SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL, "
				"'proto_version', '2', 'publication_names', $3)",
			       3, NULL, params, NULL, NULL, 1) ||
	    !PQsetSingleRowMode(q->conn)) {
		pg_failed(q, NULL, "pg_logical_slot_peek_binary_changes");
		return EXIT_SOURCE;
	}
	while ((res = PQgetResult(q->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && status == EXIT_OK) {
			const uint8_t *m = (const uint8_t *)PQgetvalue(res, 0, 0);

			if (sig_stop || sig_drain || c->stop) {
				/* the rest is read and dropped; the stream resumes after what was written */
			} else if (!pgoutput_message(c, m, (size_t)PQgetlength(res, 0, 0))) {
				status = c->w->out.failed ? EXIT_OUTPUT : EXIT_SOURCE;
			} else if (!spool_sync(c, false, false)) {
				status = EXIT_OUTPUT;
			}
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
			pg_failed(q, res, "pg_logical_slot_peek_binary_changes");
			status = EXIT_SOURCE;
		}
		PQclear(res);
	}
	if (status == EXIT_OK && pgoutput_busy(c)) {
		log_error("the changes before %s end inside a transaction", pos);
		status = EXIT_SOURCE;
	}
	return status;
}

/* Whether the reader of standard output is gone (a pipe closed at its end). */
static bool
reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

/*
 * Until the target's ack file is at lsn: what was written of the backlog is
 * applied before the slot moves past it. False: stopped by a signal, or the
 * reader went (logged).
 */
static bool
wait_ack(const char *ack_file, uint64_t lsn)
{
	while (read_ack(ack_file) < lsn) {
		struct timespec pause = { 0, 10 * 1000000 };

		if (sig_drain || sig_stop)
			return false;
		if (reader_gone()) {
			log_error("stdout: the reader of the changes is gone");
			return false;
		}
		nanosleep(&pause, NULL);
	}
	return true;
}

/*
 * While the slot is far behind the source's WAL: chunks of the backlog
 * through SQL, each made durable downstream (the spool synced, or the ack
 * file at its end) before the slot is advanced past it, so that neither the
 * next chunk nor the stream decodes it again. Without an ack file, one chunk
 * (nothing may be confirmed). Returns an exit status.
 */
static int
catch_up(struct capture *c, const struct options *o, const char *slot, const char *pub)
{
	struct pg_conn q = { 0 };
	int status = EXIT_OK;
	int chunks = 0;

	for (;;) {
		uint64_t wal, confirmed, upto;
		char pos[32];

		if (sig_drain || sig_stop || c->stop)
			break;
		if (!lsn_value(c, "SELECT pg_current_wal_flush_lsn()", &wal) || !slot_position(c, slot, &confirmed)) {
			status = EXIT_SOURCE;
			break;
		}
		if (c->emitted > confirmed)
			confirmed = c->emitted;
		if (c->stop_lsn && wal > c->stop_lsn)
			wal = c->stop_lsn;
		if (c->stop_lsn && confirmed >= c->stop_lsn) {
			/* every transaction that commits before the stop point is written */
			c->stop = true;
			break;
		}
		if (wal <= confirmed || wal - confirmed < CATCHUP_BEHIND || (chunks > 0 && !c->spool && !o->ack_file))
			break;
		if (q.conn == NULL && !pg_connect_as(&q, o->uri, false)) {
			status = EXIT_SOURCE;
			break;
		}
		upto = wal - confirmed > CATCHUP_CHUNK ? confirmed + CATCHUP_CHUNK : wal;
		lsn_format(upto, pos, sizeof(pos));
		log_info("the slot is %" PRIu64 " MiB of WAL behind: reading the backlog up to %s", (wal - confirmed) >> 20,
			 pos);
		status = peek(c, &q, slot, pub, upto);
		chunks++;
		if (status != EXIT_OK || c->stop || sig_drain || sig_stop)
			break;
		/* every transaction that commits before upto is written: the position moves there */
		if (upto > c->emitted) {
			rec_checkpoint(&c->w->pk, pos, 0, 0);
			c->emitted = upto;
		}
		if (!out_flush(&c->w->out)) {
			status = EXIT_OUTPUT;
			break;
		}
		if (c->spool) {
			if (!spool_sync(c, false, true)) {
				status = EXIT_OUTPUT;
				break;
			}
		} else if (o->ack_file == NULL) {
			continue;
		} else if (!wait_ack(o->ack_file, c->emitted)) {
			status = sig_drain || sig_stop ? EXIT_OK : EXIT_OUTPUT;
			break;
		}
		lsn_format(c->emitted, pos, sizeof(pos));
		{
			const char *ap[] = { slot, pos };
			PGresult *res = pg_query(&q, "SELECT pg_replication_slot_advance($1, $2::pg_lsn)", 2, ap);

			if (res == NULL) {
				status = EXIT_SOURCE;
				break;
			}
			PQclear(res);
		}
	}
	pg_disconnect(&q);
	return status;
}

/*
 * Streams from the slot until the stop point, a signal or an error.
 * Returns an exit status; *lost: the connection went, a retry may resume.
 */
static int
stream(struct capture *c, const struct options *o, const char *slot, const char *pub, uint64_t start,
       bool *lost)
{
	struct strbuf cmd = STRBUF_INIT;
	char pos[32];
	PGresult *res;
	uint64_t received = start, acked = c->spool ? c->durable : read_ack(o->ack_file);
	bool confirm = o->ack_file != NULL || c->spool != NULL;
	int64_t last_status = 0, last_ack_read = 0, last_checkpoint = mono_ms();
	bool flowing = false;	/* messages came since the last wait */
	int lowat = 1;
	char *qpub = pg_quote_ident(pub);

	*lost = false;
	lsn_format(start, pos, sizeof(pos));
	/* publication_names is a list of identifiers in a string literal */
	sb_addf(&cmd, "START_REPLICATION SLOT %s LOGICAL %s (proto_version '2', publication_names '", slot, pos);
	for (const char *p = qpub; *p; p++)
		sb_add(&cmd, *p == '\'' ? "''" : p, 1 + (*p == '\''));
	sb_adds(&cmd, "', streaming 'on')");
	free(qpub);
	res = PQexec(c->repl.conn, cmd.buf);
	sb_release(&cmd);
	if (PQresultStatus(res) != PGRES_COPY_BOTH) {
		pg_failed(&c->repl, res, "START_REPLICATION");
		PQclear(res);
		*lost = PQstatus(c->repl.conn) == CONNECTION_BAD;
		return EXIT_SOURCE;
	}
	PQclear(res);
	log_info("streaming from slot %s at %s", slot, pos);
	for (;;) {
		char *buf = NULL;
		int n;
		bool reply = false;

		if (sig_stop) {
			log_error("stopped by SIGQUIT");
			return EXIT_RUNTIME;
		}
		if (sig_drain || c->stop)
			return EXIT_OK;
		n = PQgetCopyData(c->repl.conn, &buf, 1);
		if (n > 0) {
			const uint8_t *m = (const uint8_t *)buf;
			bool ok = true;

			flowing = true;
			if (m[0] == 'w' && n >= 25) {
				uint64_t data_end = get64(m + 9);

				log_debug("data at %X/%X: '%c'", (unsigned)(get64(m + 1) >> 32), (unsigned)get64(m + 1), m[25]);
				if (data_end > received)
					received = data_end;
				ok = pgoutput_message(c, m + 25, (size_t)n - 25);
			} else if (m[0] == 'k' && n >= 18) {
				uint64_t wal_end = get64(m + 1);
				int64_t sent = (int64_t)get64(m + 9) / 1000000 + PG_EPOCH;

				reply = m[17] != 0;
				log_debug("keepalive: WAL end %X/%X%s", (unsigned)(wal_end >> 32), (unsigned)wal_end,
					  reply ? ", reply asked" : "");
				if (wal_end > received)
					received = wal_end;
				if (!pgoutput_busy(c)) {
					if ((c->stop_lsn && wal_end >= c->stop_lsn) || (c->stop_time && sent > c->stop_time))
						c->stop = true;
					/* idle: the target's position keeps moving */
					if (!c->stop && wal_end > c->emitted && mono_ms() - last_checkpoint >= 1000) {
						lsn_format(wal_end, pos, sizeof(pos));
						rec_checkpoint(&c->w->pk, pos, sent, 0);
						c->emitted = wal_end;
						ok = out_flush(&c->w->out);
						last_checkpoint = mono_ms();
					}
				}
			}
			PQfreemem(buf);
			if (!ok)
				return c->w->out.failed ? EXIT_OUTPUT : EXIT_SOURCE;
			if (!spool_sync(c, false, false))
				return EXIT_OUTPUT;
		} else if (n == 0) {
			if (!spool_sync(c, !flowing, false))
				return EXIT_OUTPUT;
			if (!wait_input(c, flowing, c->spool && spool_dirty(c->spool) ? 10 : 100, &lowat))
				return EXIT_SOURCE;
			flowing = false;
			if (!PQconsumeInput(c->repl.conn)) {
				log_error("%s: %s", c->repl.label, PQerrorMessage(c->repl.conn));
				*lost = true;
				return EXIT_SOURCE;
			}
		} else {
			if (n == -2)
				log_error("%s: %s", c->repl.label, PQerrorMessage(c->repl.conn));
			else
				log_error("%s: the server ended the replication", c->repl.label);
			*lost = true;
			return EXIT_SOURCE;
		}
		/* feedback: what the target has, about every 100 ms to 1 s, at once when asked */
		if (c->spool) {
			acked = c->durable;
		} else if (o->ack_file && mono_ms() - last_ack_read >= 100) {
			uint64_t a = read_ack(o->ack_file);

			if (a > acked)
				acked = a;
			last_ack_read = mono_ms();
		}
		if (reply || mono_ms() - last_status >= 1000) {
			/*
			 * Only what the target (or the spool) has is confirmed: never
			 * the idle WAL end itself, which would put the slot past the
			 * target's position. While idle, the CHECKPOINT records above
			 * carry the WAL end to the target, and its acknowledgement
			 * releases the WAL up to it.
			 */
			if (!status_update(c, received, confirm ? acked : 0, !pgoutput_busy(c) && !reply)) {
				*lost = true;
				return EXIT_SOURCE;
			}
			last_status = mono_ms();
		}
	}
}

/*
 * -o DIR: the spool is opened and a segment begins. The stream resumes after
 * the spool's durable position; a slot already past it (another spool's, or
 * one made anew) would leave a gap, and is refused.
 */
static int
open_spool(struct capture *c, const struct options *o, struct spool_writer *s, uint64_t confirmed,
	   uint64_t *start)
{
	msgpack_sbuffer hb;
	msgpack_packer pk;
	char pos[32];
	uint64_t have = 0;
	int st;

	msgpack_sbuffer_init(&hb);
	msgpack_packer_init(&pk, &hb, msgpack_sbuffer_write);
	rec_hello(&pk, &(const struct hello_attrs){ .engine = "postgresql", .stream = "changes",
						     .tool = "dms-capture " DMS_VERSION, .server = c->src.server,
						     .database = c->src.database });
	st = spool_open(s, o->spool, (const uint8_t *)hb.data, hb.size, c->src.server, c->src.database,
			o->segment_size);
	msgpack_sbuffer_destroy(&hb);
	if (st != EXIT_OK)
		return st;
	if (spool_position(s) != NULL && !lsn_parse(spool_position(s), &have)) {
		log_error("%s: position %s is not a PostgreSQL position", o->spool, spool_position(s));
		return EXIT_USAGE;
	}
	if (spool_position(s) != NULL && confirmed > have) {
		char at[32];

		lsn_format(confirmed, at, sizeof(at));
		log_error("the slot is at %s, past the spool's %s: the changes between are in neither; give a new spool and slot (or the slot that wrote this spool)",
			  at, spool_position(s));
		return EXIT_USAGE;
	}
	if (have > *start)
		*start = have;
	lsn_format(*start, pos, sizeof(pos));
	if (!spool_segment(s, pos))
		return EXIT_OUTPUT;
	c->spool = s;
	c->w = &s->w;
	c->durable = *start;
	c->last_durable = mono_ms();
	log_info("spool %s: segment %u begins after %s", o->spool, s->st.segment, pos);
	return EXIT_OK;
}

/* The decoder as new: what a new decoding session sends again (relations, transactions in progress). */
static void
decoder_reset(struct capture *c)
{
	pgoutput_release(c);
	c->rels = NULL;
	c->nrels = 0;
	memset(&c->cur, 0, sizeof(c->cur));
	c->streamed = NULL;
	c->nstreamed = 0;
	c->stream_xid = 0;
}

static bool
connect_all(struct capture *c, const char *uri)
{
	if (!c->ops->connect(&c->src, uri))
		return false;
	return pg_connect_as(&c->repl, uri, true);
}

static void
disconnect_all(struct capture *c)
{
	c->ops->disconnect(&c->src);
	pg_disconnect(&c->repl);
}

static int
run(const struct options *o)
{
	struct capture c = { 0 };
	struct mapping mapping = { 0 };
	struct dms_writer w;
	struct spool_writer spool = { .fd = -1 };
	char *slot = name_of(o->slot, o->task), *pub = name_of(o->publication, o->task);
	int status = EXIT_SOURCE, tries = 0;
	int64_t lost_at = 0;
	uint64_t lost_pos = 0;
	uint64_t start = 0, acked, confirmed;
	bool lost = false;

	if (o->mappings != NULL && !mapping_load(o->mappings, &mapping)) {
		free(slot);
		free(pub);
		return EXIT_USAGE;
	}
	/* without a mapping every table is captured */
	c.mapping = o->mappings ? &mapping : NULL;
	c.src.mapping = c.mapping;
	c.ops = &pg_source_ops;
	c.w = &w;
	c.memory = o->memory;
	if (o->stop_at != NULL && !parse_stop(o->stop_at, &c)) {
		log_usage_error("--stop-at: expected a position (16/B374D848) or commit_time:YYYY-MM-DDTHH:MM:SS");
		status = EXIT_USAGE;
		goto out;
	}
	if (o->start != NULL && !lsn_parse(o->start, &start)) {
		log_usage_error("--start: expected a position such as 16/B374D848");
		status = EXIT_USAGE;
		goto out;
	}
	if (!c.ops->connect(&c.src, o->uri))
		goto out;
	if (o->drop) {
		status = drop_slot(&c, slot, pub) ? EXIT_OK : EXIT_SOURCE;
		c.ops->disconnect(&c.src);
		goto out;
	}
	if (!publication(&c, pub) || !preflight(&c, slot, pub) || !c.ops->identity(&c.src) ||
	    !pg_connect_as(&c.repl, o->uri, true)) {
		disconnect_all(&c);
		goto out;
	}
	if (o->export) {
		status = export_snapshot(&c, slot);
		disconnect_all(&c);
		goto out;
	}
	{
		const char *sp[] = { slot };
		char *have = value(&c, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1, sp);

		if (have == NULL) {
			char *sql = xprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'nothing')", slot);
			bool ok = pg_command(&c.repl, sql);

			free(sql);
			if (!ok) {
				disconnect_all(&c);
				goto out;
			}
			log_info("slot %s created", slot);
		}
		free(have);
	}
	acked = read_ack(o->ack_file);
	if (acked > start)
		start = acked;
	if (!slot_position(&c, slot, &confirmed)) {
		disconnect_all(&c);
		goto out;
	}
	if (start < confirmed)
		start = confirmed;
	if (o->spool != NULL) {
		status = open_spool(&c, o, &spool, confirmed, &start);
		if (status != EXIT_OK) {
			disconnect_all(&c);
			goto out;
		}
	} else {
		if (o->ack_file == NULL)
			log_warn("no --ack-file: the slot's confirmed position does not move, and the source keeps its WAL");
		if (!writer_init(&w, STDOUT_FILENO, "stdout", false)) {
			disconnect_all(&c);
			status = EXIT_OUTPUT;
			goto out;
		}
		rec_hello(&w.pk, &(const struct hello_attrs){ .engine = "postgresql", .stream = "changes",
							      .tool = "dms-capture " DMS_VERSION, .server = c.src.server,
							      .database = c.src.database });
	}
	c.emitted = start;
	status = catch_up(&c, o, slot, pub);
	if (status == EXIT_SOURCE && !sig_drain && !sig_stop) {
		char pos[32];

		/* the stream can do what SQL could not, and retries a lost source */
		lsn_format(c.emitted, pos, sizeof(pos));
		log_warn("the backlog could not be read through SQL: the replication stream goes on after %s", pos);
		decoder_reset(&c);
		status = EXIT_OK;
	}
	if (c.emitted > start)
		start = c.emitted;
	for (;;) {
		if (status != EXIT_OK && !lost)
			break;
		status = stream(&c, o, slot, pub, start, &lost);
		if (!lost || sig_drain || sig_stop)
			break;
		/* the connection went: again, with back-off, from what was written, for --retry-time */
		if (lost_at == 0 || c.emitted != lost_pos) {
			lost_at = mono_ms();
			lost_pos = c.emitted;
			tries = 0;
		}
		{
			int64_t waited = mono_ms() - lost_at, delay = (int64_t)1000 << (tries < 5 ? tries : 5);
			char pos[32];
			struct timespec pause;

			lsn_format(c.emitted, pos, sizeof(pos));
			if (waited >= o->retry_ms) {
				log_error("the source is unreachable: gave up after %lld s (--retry-time) at %s; a rerun resumes there",
					  (long long)(waited / 1000), pos);
				break;
			}
			if (delay > o->retry_ms - waited)
				delay = o->retry_ms - waited;
			tries++;
			log_warn("connection lost at %s: connecting again in %.1f s", pos, (double)delay / 1000);
			disconnect_all(&c);
			pause.tv_sec = delay / 1000;
			pause.tv_nsec = (delay % 1000) * 1000000;
			nanosleep(&pause, NULL);
			decoder_reset(&c);
			if (connect_all(&c, o->uri))
				start = c.emitted;
		}
	}
	if (c.spool != NULL && status != EXIT_OUTPUT) {
		char pos[32];

		/* what was written is whole transactions: it is kept */
		lsn_format(c.emitted, pos, sizeof(pos));
		if (!spool_durable(c.spool, pos, status == EXIT_OK && c.stop))
			status = EXIT_OUTPUT;
	}
	if (status == EXIT_OK || (status != EXIT_OUTPUT && status != EXIT_RUNTIME)) {
		char pos[32];

		lsn_format(c.emitted, pos, sizeof(pos));
		if (status == EXIT_OK && c.spool == NULL) {
			rec_end(&w.pk, NULL, NULL, sig_drain && !c.stop);
			if (!out_finish(&w.out))
				status = EXIT_OUTPUT;
		}
		log_msg(status == EXIT_OK ? LOG_INFO : LOG_ERROR, "%" PRIu64 " transactions written, up to %s",
			c.transactions, pos);
	}
	disconnect_all(&c);
	pgoutput_release(&c);
out:
	if (spool.dir != NULL)
		spool_close(&spool);
	mapping_free(&mapping);
	free(slot);
	free(pub);
	return status;
}

int
main(int argc, char **argv)
{
	enum { OPT_TASK = 256, OPT_SLOT, OPT_PUB, OPT_ACK, OPT_START, OPT_STOP, OPT_MEMORY, OPT_DROP,
	       OPT_EXPORT, OPT_SEGMENT, OPT_RETRY };
	static const struct option longopts[] = {
		{ "mappings", required_argument, NULL, 'm' },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "slot", required_argument, NULL, OPT_SLOT },
		{ "publication", required_argument, NULL, OPT_PUB },
		{ "ack-file", required_argument, NULL, OPT_ACK },
		{ "start", required_argument, NULL, OPT_START },
		{ "stop-at", required_argument, NULL, OPT_STOP },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "drop-slot", no_argument, NULL, OPT_DROP },
		{ "export-snapshot", no_argument, NULL, OPT_EXPORT },
		{ "spool", required_argument, NULL, 'o' },
		{ "segment-size", required_argument, NULL, OPT_SEGMENT },
		{ "retry-time", required_argument, NULL, OPT_RETRY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .task = "dms", .memory = 16u << 20, .segment_size = 64u << 20,
			     .retry_ms = 60000 };
	int ch, status;
	char *end, *uri;

	log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "m:o:qvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm': o.mappings = optarg; break;
		case OPT_TASK: o.task = optarg; break;
		case OPT_SLOT: o.slot = optarg; break;
		case OPT_PUB: o.publication = optarg; break;
		case OPT_ACK: o.ack_file = optarg; break;
		case OPT_START: o.start = optarg; break;
		case OPT_STOP: o.stop_at = optarg; break;
		case OPT_MEMORY:
			o.memory = strtoull(optarg, &end, 10);
			if (*end != '\0' || o.memory < 65536) {
				log_usage_error("--memory: expected a number of bytes, at least 65536");
				return EXIT_USAGE;
			}
			break;
		case 'o': o.spool = optarg; break;
		case OPT_SEGMENT:
			o.segment_size = strtoull(optarg, &end, 10);
			if (*end != '\0' || o.segment_size < 4096) {
				log_usage_error("--segment-size: expected a number of bytes, at least 4096");
				return EXIT_USAGE;
			}
			break;
		case OPT_RETRY: {
			long long v = strtoll(optarg, &end, 10);

			if (*end != '\0' || v < 0 || v > 86400) {
				log_usage_error("--retry-time: expected seconds, 0 to 86400");
				return EXIT_USAGE;
			}
			o.retry_ms = v * 1000;
			break;
		}
		case OPT_DROP: o.drop = true; break;
		case OPT_EXPORT: o.export = true; break;
		default: {
			int st = log_common_option(ch, usage_text);

			if (st != OPTION_DONE)
				return st;
			break;
		}
		}
	}
	if (argc - optind != 1) {
		log_usage_error("expected one source URI");
		return EXIT_USAGE;
	}
	/* a URI, or @file whose first line is one (a password stays off the command line) */
	if ((uri = uri_arg(argv[optind])) == NULL)
		return EXIT_USAGE;
	o.uri = uri;
	if (uri_engine(o.uri) == ENGINE_MYSQL) {
		if (!stream_refuse_tty(STDOUT_FILENO)) {
			free(uri);
			return EXIT_USAGE;
		}
		sig_init();
		status = mysql_run(&o);
		free(uri);
		return status;
	}
	if (uri_engine(o.uri) != ENGINE_PG) {
		log_usage_error("%s: expected a postgresql:// or mysql:// URI", argv[optind]);
		free(uri);
		return EXIT_USAGE;
	}
	if (o.drop && o.export) {
		log_usage_error("--drop-slot and --export-snapshot exclude each other");
		return EXIT_USAGE;
	}
	if (o.spool != NULL && (o.drop || o.export || o.ack_file != NULL)) {
		log_usage_error("-o writes a spool, whose syncs are what the source is told: it goes without --ack-file, --drop-slot and --export-snapshot");
		return EXIT_USAGE;
	}
	if (!o.drop && !o.export && o.spool == NULL && !stream_refuse_tty(STDOUT_FILENO))
		return EXIT_USAGE;
	sig_init();
	status = run(&o);
	free(uri);
	return status;
}
