/*
 * uri.h: database URIs.
 *   postgresql://user:password@host:port/dbname?param=value   (also postgres://)
 *   mysql://user:password@host:port/dbname?socket=/path        (also mariadb://)
 * A PostgreSQL URI is handed to libpq whole; a MySQL one is taken apart here.
 * Every URI that reaches a log line goes through uri_mask() first.
 */
#ifndef DMS_URI_H
#define DMS_URI_H

#include <stdbool.h>
#include <stddef.h>

enum dms_engine { ENGINE_NONE = 0, ENGINE_PG, ENGINE_MYSQL };

struct dms_uri {
	enum dms_engine engine;
	char *user;		/* NULL when absent; percent-decoded */
	char *password;
	char *host;
	unsigned port;		/* 0 when absent */
	char *dbname;
	size_t nparams;
	char **keys;
	char **values;
};

/* The engine of a URI by its scheme, ENGINE_NONE if it is not one. */
enum dms_engine uri_engine(const char *text);
const char *engine_name(enum dms_engine e);
/* Parses; on failure logs why (with the URI masked) and returns false. */
bool uri_parse(const char *text, struct dms_uri *u);
const char *uri_param(const struct dms_uri *u, const char *key);
void uri_release(struct dms_uri *u);
/* A copy of text with the password replaced by "****"; the caller frees it. */
char *uri_mask(const char *text);
/*
 * A URI as a program's argument gives it, for main(): "@FILE" is the first
 * line of FILE (mode 0600, or a pipe: the URI never appears in argv); any
 * other argument is the URI itself, and its password is overwritten in place
 * with 'x' so that ps(1) no longer shows it. The URI is then parsed: one that
 * is not a database URI or is malformed is logged and NULL returned, for main
 * to exit with EXIT_USAGE. The caller frees the result.
 */
char *uri_arg(char *arg);

#endif
