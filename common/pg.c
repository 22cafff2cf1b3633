/*
 * pg.c: the one module that speaks libpq: connecting with the session every
 * program uses, queries, errors (see pg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"
#include "uri.h"
#include "dms.h"

static void
notice(void *arg, const PGresult *res)
{
	struct pg_conn *c = arg;
	char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	log_info("%s: server says: %s", c->label, msg ? msg : "");
}

static void
trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

void
pg_failed(struct pg_conn *c, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char *msg = xstrdup(res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
							       : PQerrorMessage(c->conn));

	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
	trim(msg);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (c->sqlstate[0])
		log_error("%s: %s: %s (SQLSTATE %s)", c->label, what, msg, c->sqlstate);
	else
		log_error("%s: %s: %s", c->label, what, msg);
	free(msg);
}

bool
pg_connect(struct pg_conn *c, const char *uri)
{
	return pg_connect_as(c, uri, false);
}

bool
pg_connect_as(struct pg_conn *c, const char *uri, bool replication)
{
	char app[64];
	const char *keys[] = { "dbname", "fallback_application_name", "connect_timeout",
			       replication ? "replication" : NULL, NULL };
	const char *vals[] = { uri, app, "10", "database", NULL };

	memset(c, 0, sizeof(*c));
	c->label = uri_mask(uri);
	snprintf(app, sizeof(app), "%s[%d]", log_progname(), (int)getpid());
	c->conn = PQconnectdbParams(keys, vals, 1);
	if (c->conn == NULL) {
		log_error("%s: cannot connect: out of memory", c->label);
		return false;
	}
	if (PQstatus(c->conn) != CONNECTION_OK) {
		pg_failed(c, NULL, "cannot connect");
		return false;
	}
	PQsetNoticeReceiver(c->conn, notice, c);
	c->server_version = PQserverVersion(c->conn);
	/*
	 * The session every program works in: values in the canonical text forms
	 * of dms-stream(5) (ISO dates, UTC, ISO 8601 intervals, hex bytea, floats
	 * that read back), UTF-8, and no server-side timeout cutting a long load.
	 */
	return pg_command(c, "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
			     "SET TimeZone = 'UTC'; SET extra_float_digits = 1; "
			     "SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; "
			     "SET standard_conforming_strings = on; SET statement_timeout = 0; "
			     "SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
			     "SET client_min_messages = warning");
}

PGresult *
pg_query(struct pg_conn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = nparams ? PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0)
				: PQexec(c->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	c->sqlstate[0] = '\0';
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
	    st == PGRES_COPY_OUT)
		return res;
	{
		char what[160];

		query_what(what, sizeof(what), sql);
		pg_failed(c, res, what);
	}
	PQclear(res);
	return NULL;
}

bool
pg_command(struct pg_conn *c, const char *sql)
{
	PGresult *res = pg_query(c, sql, 0, NULL);

	PQclear(res);
	return res != NULL;
}

/*
 * Which server this is, for "source and target the same database" checks:
 * the cluster's system identifier (the same on every database of the
 * cluster, different for every initdb), or where the role may not read it,
 * the server's address and port. The caller frees both strings.
 */
bool
pg_identity(struct pg_conn *c, char **server, char **database)
{
	PGresult *res = PQexec(c->conn, "SELECT system_identifier::text, current_database() "
					"FROM pg_control_system()");

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		PQclear(res);
		res = pg_query(c, "SELECT 'address ' || coalesce(host(inet_server_addr()), 'socket') "
				  "|| ':' || coalesce(inet_server_port(), 0), current_database()", 0, NULL);
		if (res == NULL)
			return false;
	}
	*server = xstrdup(PQgetvalue(res, 0, 0));
	*database = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

void
pg_disconnect(struct pg_conn *c)
{
	if (c->conn != NULL)
		PQfinish(c->conn);
	free(c->label);
	memset(c, 0, sizeof(*c));
}

char *
pg_quote_ident(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "\"");
	for (const char *p = name; *p; p++)
		sb_adds(&sb, *p == '"' ? "\"\"" : (char[]){ *p, 0 });
	sb_adds(&sb, "\"");
	return sb.buf;
}
