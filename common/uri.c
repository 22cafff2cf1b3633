/*
 * uri.c: database URIs: parsing, masking passwords, @file arguments (see uri.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"
#include "dms.h"

static const struct {
	const char *prefix;
	enum dms_engine engine;
} schemes[] = {
	{ "postgresql://", ENGINE_PG },
	{ "postgres://", ENGINE_PG },
	{ "mysql://", ENGINE_MYSQL },
	{ "mariadb://", ENGINE_MYSQL },
};

enum dms_engine
uri_engine(const char *text)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(text, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return schemes[i].engine;
	return ENGINE_NONE;
}

const char *
engine_name(enum dms_engine e)
{
	return e == ENGINE_PG ? "postgresql" : e == ENGINE_MYSQL ? "mysql" : "none";
}

char *
uri_mask(const char *text)
{
	const char *auth = strstr(text, "://");
	const char *at, *colon, *slash;
	struct strbuf sb = STRBUF_INIT;

	if (auth == NULL)
		return xstrdup(text);
	auth += 3;
	slash = strpbrk(auth, "/?");
	at = strrchr(auth, '@');
	if (at == NULL || (slash != NULL && at > slash)) {
		sb_adds(&sb, text);
	} else {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon == NULL) {
			sb_adds(&sb, text);
		} else {
			sb_addf(&sb, "%.*s", (int)(colon + 1 - text), text);
			sb_adds(&sb, "****");
			sb_adds(&sb, at);
		}
	}
	/* a password given as a query parameter is masked too */
	for (char *p = strstr(sb.buf, "password="); p != NULL; p = strstr(p + 1, "password=")) {
		char *end = p + strlen("password=");
		size_t n = strcspn(end, "&");
		struct strbuf m = STRBUF_INIT;

		if (p != sb.buf && p[-1] != '?' && p[-1] != '&')
			continue;
		sb_addf(&m, "%.*s", (int)(end - sb.buf), sb.buf);
		sb_adds(&m, "****");
		sb_adds(&m, end + n);
		p = m.buf + (p - sb.buf);
		sb_release(&sb);
		sb = m;
	}
	return sb.buf;
}

static char *
decode(const char *s, size_t n, bool *ok, const char **why)
{
	char *d = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;

			h = i + 2 < n ? hex_digit(s[i + 1]) : -1;
			l = i + 2 < n ? hex_digit(s[i + 2]) : -1;
			if (h < 0 || l < 0) {
				*ok = false;
				*why = "a % not followed by two hexadecimal digits";
				break;
			}
			d[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			d[o++] = s[i];
		}
	}
	d[o] = '\0';
	return d;
}

bool
uri_parse(const char *text, struct dms_uri *u)
{
	const char *p, *end, *at, *hostend;
	char *masked = uri_mask(text);
	const char *why = "";
	bool ok = true;

	memset(u, 0, sizeof(*u));
	u->engine = uri_engine(text);
	if (u->engine == ENGINE_NONE) {
		log_error("%s: not a database URI (postgresql://... or mysql://...)", masked);
		free(masked);
		return false;
	}
	p = strstr(text, "://") + 3;
	end = p + strcspn(p, "/?");
	at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon != NULL) {
			u->user = decode(p, (size_t)(colon - p), &ok, &why);
			u->password = decode(colon + 1, (size_t)(at - colon - 1), &ok, &why);
		} else {
			u->user = decode(p, (size_t)(at - p), &ok, &why);
		}
		p = at + 1;
	}
	if (*p == '[') {
		hostend = memchr(p, ']', (size_t)(end - p));
		if (hostend == NULL) {
			ok = false;
			why = "a [ without ]";
			hostend = end;
		} else {
			u->host = xstrndup(p + 1, (size_t)(hostend - p - 1));
			hostend++;
		}
	} else {
		hostend = memchr(p, ':', (size_t)(end - p));
		if (hostend == NULL)
			hostend = end;
		if (hostend > p)
			u->host = decode(p, (size_t)(hostend - p), &ok, &why);
	}
	if (hostend < end && *hostend == ':') {
		char *e;
		unsigned long port = strtoul(hostend + 1, &e, 10);

		if (e != end || port == 0 || port > 65535) {
			ok = false;
			why = "the port is not a number from 1 to 65535";
		}
		u->port = (unsigned)port;
	} else if (hostend != end) {
		ok = false;
		why = "text after the host";
	}
	p = end;
	if (*p == '/') {
		size_t n = strcspn(p + 1, "?");

		if (n > 0)
			u->dbname = decode(p + 1, n, &ok, &why);
		p += 1 + n;
	}
	if (*p == '?') {
		p++;
		while (*p != '\0') {
			size_t n = strcspn(p, "&");
			const char *eq = memchr(p, '=', n);

			u->keys = xrealloc(u->keys, (u->nparams + 1) * sizeof(char *));
			u->values = xrealloc(u->values, (u->nparams + 1) * sizeof(char *));
			if (eq == NULL) {
				u->keys[u->nparams] = decode(p, n, &ok, &why);
				u->values[u->nparams] = xstrdup("");
			} else {
				u->keys[u->nparams] = decode(p, (size_t)(eq - p), &ok, &why);
				u->values[u->nparams] = decode(eq + 1, n - (size_t)(eq + 1 - p), &ok, &why);
			}
			u->nparams++;
			p += n;
			if (*p == '&')
				p++;
		}
	}
	if (!ok) {
		log_error("%s: malformed URI: %s (expected scheme://user:password@host:port/dbname?key=value)",
			  masked, why);
		uri_release(u);
	}
	free(masked);
	return ok;
}

const char *
uri_param(const struct dms_uri *u, const char *key)
{
	for (size_t i = 0; i < u->nparams; i++)
		if (strcmp(u->keys[i], key) == 0)
			return u->values[i];
	return NULL;
}

void
uri_release(struct dms_uri *u)
{
	for (size_t i = 0; i < u->nparams; i++) {
		free(u->keys[i]);
		free(u->values[i]);
	}
	free(u->keys);
	free(u->values);
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->dbname);
	memset(u, 0, sizeof(*u));
}

/* Overwrites the password of a URI in place: user:PASSWORD@ and password=VALUE. */
static void
scrub_password(char *text)
{
	char *auth = strstr(text, "://"), *end, *at = NULL, *colon;

	if (auth == NULL)
		return;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	for (char *q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL && (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL)
		memset(colon + 1, 'x', (size_t)(at - colon - 1));
	for (char *p = strstr(text, "password="); p != NULL; p = strstr(p + 1, "password=")) {
		char *v = p + strlen("password=");

		if (p != text && (p[-1] == '?' || p[-1] == '&'))
			memset(v, 'x', strcspn(v, "&"));
	}
}

static char *
uri_from_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		log_error("%s: cannot read the URI: %s", path, strerror(errno));
		return NULL;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n <= 0) {
		log_error("%s: no URI in the file (its first line holds it)", path);
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

char *
uri_arg(char *arg)
{
	struct dms_uri u;
	char *uri;

	if (arg[0] == '@') {
		if ((uri = uri_from_file(arg + 1)) == NULL)
			return NULL;
	} else {
		uri = xstrdup(arg);
		scrub_password(arg);
	}
	if (uri_engine(uri) == ENGINE_NONE) {
		char *masked = uri_mask(uri);

		log_usage_error("%s: not a database URI (postgresql://... or mysql://...)", masked);
		free(masked);
		free(uri);
		return NULL;
	}
	if (!uri_parse(uri, &u)) {
		free(uri);
		return NULL;
	}
	uri_release(&u);
	return uri;
}
