/*
 * pg.h: the one module that speaks libpq.
 *
 * struct pg_conn owns a connection, a password-masked label of its URI for
 * messages, and the SQLSTATE of the last error. Every failing call logs once,
 * naming the server, the message and the SQLSTATE, and returns false / NULL;
 * callers branch on c->sqlstate, never on message text.
 */
#ifndef DMS_PG_H
#define DMS_PG_H

#include <stdbool.h>

#include <libpq-fe.h>

struct pg_conn {
	PGconn *conn;
	char *label;		/* the URI, password masked */
	char sqlstate[6];	/* of the last error; "" when none */
	int server_version;	/* 150004 for 15.4 */
};

/* Connects with application_name "prog[pid]" unless the URI sets one. */
bool pg_connect(struct pg_conn *c, const char *uri);
/* replication: a logical replication connection (replication=database; simple queries only). */
bool pg_connect_as(struct pg_conn *c, const char *uri, bool replication);
/* Runs a statement that returns no rows. */
bool pg_command(struct pg_conn *c, const char *sql);
/* Runs a query; the caller PQclear()s the result. NULL on error (logged). */
PGresult *pg_query(struct pg_conn *c, const char *sql, int nparams, const char *const *params);
/* Logs a failure: the server's message from res (or the connection's), with its SQLSTATE. */
void pg_failed(struct pg_conn *c, const PGresult *res, const char *what);
/* The server's identity (system identifier) and the database's name; the caller frees them. */
bool pg_identity(struct pg_conn *c, char **server, char **database);
void pg_disconnect(struct pg_conn *c);

/* Quotes an identifier ("a""b"); the caller frees the result. */
char *pg_quote_ident(const char *name);

#endif
