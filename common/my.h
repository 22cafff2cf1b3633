/*
 * my.h: the one module that speaks the MySQL / MariaDB client library
 * (MariaDB Connector/C).
 *
 * struct my_conn owns a connection, a password-masked label for messages, and
 * the error number and SQLSTATE of the last error. Failing calls log once and
 * return false / NULL; callers branch on c->errnum, never on message text.
 */
#ifndef DMS_MY_H
#define DMS_MY_H

#include <stdbool.h>

#include <mysql.h>

struct my_conn {
	MYSQL *conn;
	char *label;
	unsigned errnum;
	char sqlstate[6];
	unsigned long server_version;	/* 101119 for 10.11.19 */
	bool mariadb;
	char *dbname;		/* from the URI; NULL when absent */
};

/*
 * Connects over TCP (host, port), or the socket= parameter. The password comes
 * from the URI, else MYSQL_PWD, else the [client] group of the option files.
 * The session uses utf8mb4 and UTC.
 */
bool my_connect(struct my_conn *c, const char *uri);
/* The same, a read that waits longer than read_timeout seconds failing (0: never). */
bool my_connect_timeout(struct my_conn *c, const char *uri, unsigned read_timeout);
/*
 * Rows a LOAD DATA LOCAL statement of this program sends: while armed, the
 * server's request for "a file" reads them (whatever file it names); at any
 * other time the request is refused. Every other connection refuses all.
 */
struct my_local_rows {
	const char *p;
	size_t left;
	bool armed;
};
/* my_connect, with LOAD DATA LOCAL of the rows in *rows (dms-load's target). */
bool my_connect_rows(struct my_conn *c, const char *uri, struct my_local_rows *rows);
bool my_command(struct my_conn *c, const char *sql);
/* Runs a query and returns its result read row by row (mysql_use_result). */
MYSQL_RES *my_query_stream(struct my_conn *c, const char *sql);
/* Runs a query and returns its whole result (for small ones). */
MYSQL_RES *my_query(struct my_conn *c, const char *sql);
/* Logs the connection's current error (after mysql_fetch_row returned NULL, say). */
bool my_failed(struct my_conn *c, const char *what);
/* The server's identity (host, port, data directory); the caller frees it. */
char *my_identity(struct my_conn *c);
void my_disconnect(struct my_conn *c);

/* Quotes an identifier (`a``b`); the caller frees the result. */
char *my_quote_ident(const char *name);

#endif
