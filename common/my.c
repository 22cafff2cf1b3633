/*
 * my.c: the one module that speaks the MySQL / MariaDB client library:
 * connecting with the session every program uses, queries, errors (see my.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "my.h"
#include "uri.h"
#include "dms.h"

bool
my_failed(struct my_conn *c, const char *what)
{
	c->errnum = mysql_errno(c->conn);
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", mysql_sqlstate(c->conn));
	log_error("%s: %s: %s (error %u, SQLSTATE %s)", c->label, what, mysql_error(c->conn),
		  c->errnum, c->sqlstate);
	return false;
}

static bool connect_with(struct my_conn *c, const char *text, unsigned read_timeout, struct my_local_rows *rows);

bool
my_connect(struct my_conn *c, const char *text)
{
	return connect_with(c, text, 0, NULL);
}

bool
my_connect_timeout(struct my_conn *c, const char *text, unsigned read_timeout)
{
	return connect_with(c, text, read_timeout, NULL);
}

bool
my_connect_rows(struct my_conn *c, const char *text, struct my_local_rows *rows)
{
	return connect_with(c, text, 0, rows);
}

/*
 * The handlers of LOAD DATA LOCAL on every connection: the armed rows of
 * dms-load (userdata: the struct my_local_rows), whatever file the server
 * names; at any other time, and on every other connection, a refusal.
 */
static struct my_local_rows no_rows;	/* never armed */

static int
rows_init(void **ptr, const char *name, void *userdata)
{
	struct my_local_rows *rows = userdata;

	(void)name;
	*ptr = rows;
	if (!rows->armed)
		return 1;
	rows->armed = false;	/* one statement's rows, once */
	return 0;
}

static int
rows_read(void *ptr, char *buf, unsigned int len)
{
	struct my_local_rows *rows = ptr;
	size_t n = rows->left < len ? rows->left : len;

	memcpy(buf, rows->p, n);
	rows->p += n;
	rows->left -= n;
	return (int)n;
}

static void
rows_end(void *ptr)
{
	(void)ptr;
}

/* A request while no rows are armed: refused, no file of this machine is read. */
static int
rows_error(void *ptr, char *msg, unsigned int len)
{
	(void)ptr;
	snprintf(msg, len, "the server asked for a local file: dms sends none");
	return 2000;	/* CR_UNKNOWN_ERROR */
}

static bool
connect_with(struct my_conn *c, const char *text, unsigned read_timeout, struct my_local_rows *rows)
{
	struct dms_uri u;
	char attr[64];
	const char *password, *socket;
	unsigned timeout = 10, local = rows != NULL;
	unsigned long packet = 1UL << 30;	/* the client never the limit: the server's max_allowed_packet is */
	bool ok = false;

	memset(c, 0, sizeof(*c));
	c->label = uri_mask(text);
	if (!uri_parse(text, &u))
		return false;
	if (u.engine != ENGINE_MYSQL) {
		log_error("%s: not a mysql:// or mariadb:// URI", c->label);
		goto done;
	}
	c->conn = mysql_init(NULL);
	if (c->conn == NULL) {
		log_error("%s: out of memory", c->label);
		goto done;
	}
	mysql_options(c->conn, MYSQL_READ_DEFAULT_GROUP, "client");
	mysql_options(c->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(c->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(c->conn, MYSQL_OPT_MAX_ALLOWED_PACKET, &packet);
	/*
	 * No LOAD DATA LOCAL of files: with it, the server may ask for any file
	 * this program can read, in answer to any statement (the init command
	 * included), and be sent it. dms-load's rows only, through the handlers
	 * above, set before the first statement.
	 */
	mysql_options(c->conn, MYSQL_OPT_LOCAL_INFILE, &local);
	mysql_set_local_infile_handler(c->conn, rows_init, rows_read, rows_end, rows_error,
				       rows != NULL ? rows : &no_rows);
	if (read_timeout > 0)
		mysql_options(c->conn, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
	/* the session every program works in: UTC, and no timeout cutting a long load */
	mysql_options(c->conn, MYSQL_INIT_COMMAND,
		      "SET time_zone = '+00:00', SESSION net_read_timeout = 86400, "
		      "SESSION net_write_timeout = 86400, SESSION wait_timeout = 86400");
	snprintf(attr, sizeof(attr), "%s[%d]", log_progname(), (int)getpid());
	mysql_optionsv(c->conn, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", attr);
	password = u.password ? u.password : getenv("MYSQL_PWD");
	socket = uri_param(&u, "socket");
	if (mysql_real_connect(c->conn, socket ? "localhost" : u.host ? u.host : "127.0.0.1",
			       u.user, password, u.dbname, u.port, socket,
			       (local ? CLIENT_LOCAL_FILES : 0) | CLIENT_MULTI_RESULTS) == NULL) {
		my_failed(c, "cannot connect");
		goto done;
	}
	c->server_version = mysql_get_server_version(c->conn);
	c->mariadb = strstr(mysql_get_server_info(c->conn), "MariaDB") != NULL;
	c->dbname = u.dbname ? xstrdup(u.dbname) : NULL;
	ok = true;
done:
	uri_release(&u);
	return ok;
}

bool
my_command(struct my_conn *c, const char *sql)
{
	MYSQL_RES *res;
	char what[160];

	c->errnum = 0;
	if (mysql_real_query(c->conn, sql, strlen(sql)) != 0) {
		query_what(what, sizeof(what), sql);
		return my_failed(c, what);
	}
	res = mysql_store_result(c->conn);
	if (res != NULL)
		mysql_free_result(res);
	return true;
}

static MYSQL_RES *
query(struct my_conn *c, const char *sql, bool stream)
{
	MYSQL_RES *res;
	char what[160];

	c->errnum = 0;
	query_what(what, sizeof(what), sql);
	if (mysql_real_query(c->conn, sql, strlen(sql)) != 0) {
		my_failed(c, what);
		return NULL;
	}
	res = stream ? mysql_use_result(c->conn) : mysql_store_result(c->conn);
	if (res == NULL)
		my_failed(c, what);
	return res;
}

MYSQL_RES *
my_query_stream(struct my_conn *c, const char *sql)
{
	return query(c, sql, true);
}

MYSQL_RES *
my_query(struct my_conn *c, const char *sql)
{
	return query(c, sql, false);
}

/*
 * Which server this is, for "source and target the same database" checks:
 * its host name, port and data directory (MariaDB has no server UUID). The
 * caller frees the string.
 */
char *
my_identity(struct my_conn *c)
{
	MYSQL_RES *res = my_query(c, "SELECT CONCAT(@@hostname, ':', @@port, ':', @@datadir)");
	MYSQL_ROW row;
	char *id = NULL;

	if (res == NULL)
		return NULL;
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
		id = xstrdup(row[0]);
	mysql_free_result(res);
	return id;
}

void
my_disconnect(struct my_conn *c)
{
	if (c->conn != NULL)
		mysql_close(c->conn);
	free(c->label);
	free(c->dbname);
	memset(c, 0, sizeof(*c));
}

char *
my_quote_ident(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "`");
	for (const char *p = name; *p; p++)
		sb_adds(&sb, *p == '`' ? "``" : (char[]){ *p, 0 });
	sb_adds(&sb, "`");
	return sb.buf;
}
