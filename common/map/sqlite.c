/*
 * common/map/sqlite.c: the SQLite side of the engine: the functions expressions may call, statements and the values bound to them (see engine.h).
 */
#include "engine.h"

/* ---- SQLite: functions and values ---- */

void
fn_operation_indicator(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct rules *r = sqlite3_user_data(ctx);
	int i = r->op[0] == 'D' ? 0 : r->op[0] == 'U' ? 1 : 2;

	(void)argc;
	sqlite3_result_value(ctx, argv[i]);
}

/*
 * dms_instant(text): a date or timestamp as microseconds since 1970-01-01
 * UTC, for source filters that compare instants: "YYYY-MM-DD", then
 * optionally " HH:MM[:SS[.ffffff]]" (or T), then optionally Z or +HH[:MM] /
 * -HH[:MM]; a text without an offset is UTC. NULL when it is not one.
 */
void
fn_dms_instant(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, oh = 0, om = 0;
	int64_t usec = 0, days, t;

	(void)argc;
	if (s == NULL || sscanf(s, "%5d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31) {
		sqlite3_result_null(ctx);
		return;
	}
	s += n;
	if ((*s == ' ' || *s == 'T') && sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) == 2) {
		s += 1 + n;
		if (*s == ':' && sscanf(s + 1, "%2d%n", &sec, &n) == 1) {
			s += 1 + n;
			if (*s == '.') {
				int digits = 0;

				for (s++; *s >= '0' && *s <= '9'; s++, digits++)
					if (digits < 6)
						usec = usec * 10 + (*s - '0');
				for (; digits < 6; digits++)
					usec *= 10;
			}
		}
	}
	if (*s == 'Z') {
		s++;
	} else if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d%n", &oh, &n) == 1) {
		int sign = *s == '-' ? -1 : 1;

		s += 1 + n;
		if (*s == ':')
			s++;
		if (sscanf(s, "%2d%n", &om, &n) == 1)
			s += n;
		oh *= sign;
		om *= sign;
	}
	if (*s != '\0') {
		sqlite3_result_null(ctx);
		return;
	}
	days = dms_days_from_civil(y, (unsigned)mo, (unsigned)d);
	t = ((days * 24 + h - oh) * 60 + mi - om) * 60 + sec;
	sqlite3_result_int64(ctx, t * 1000000 + usec);
}

void
fn_hash_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char hex[65];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	if (sqlite3_value_type(argv[0]) == SQLITE_BLOB)
		sha256_hex(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), hex);
	else
		sha256_hex(sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), hex);
	sqlite3_result_text(ctx, hex, 64, SQLITE_TRANSIENT);
}

/*
 * replaceChars(X, Y, Z): each character of X found in Y becomes the character
 * of Z at that place, Z taken round again when Y is longer (DMS's example:
 * replaceChars('abcde', 'abcd', '123') is '1231e').
 */
void
fn_replace_chars(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *x = (const char *)sqlite3_value_text(argv[0]);
	const char *y = (const char *)sqlite3_value_text(argv[1]);
	const char *z = (const char *)sqlite3_value_text(argv[2]);
	struct strbuf sb = STRBUF_INIT;

	(void)argc;
	if (x == NULL || y == NULL || z == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	for (const char *p = x; *p; p++) {
		const char *at = strchr(y, *p);
		size_t k = at ? (size_t)(at - y) : 0;

		if (at != NULL && *z)
			sb_add(&sb, z + k % strlen(z), 1);
		else
			sb_add(&sb, p, 1);
	}
	sqlite3_result_text(ctx, sb.buf ? sb.buf : "", (int)sb.len, SQLITE_TRANSIENT);
	sb_release(&sb);
}

bool
map_prepare(struct rules *r, const char *sql, sqlite3_stmt **stmt, const char *what)
{
	if (sqlite3_prepare_v2(r->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		log_error("%s: %s", what, sqlite3_errmsg(r->db));
		return false;
	}
	return true;
}

struct rules *
rules_new(const struct mapping *m)
{
	struct rules *r = xcalloc(1, sizeof(*r));

	r->m = m;
	r->op = "INSERT";
	msgpack_sbuffer_init(&r->sbuf);
	msgpack_packer_init(&r->pk, &r->sbuf, msgpack_sbuffer_write);
	if (sqlite3_open(":memory:", &r->db) != SQLITE_OK) {
		log_error("cannot open SQLite: %s", sqlite3_errmsg(r->db));
		rules_free(r);
		return NULL;
	}
	sqlite3_create_function(r->db, "operation_indicator", 3, SQLITE_UTF8, r,
				fn_operation_indicator, NULL, NULL);
	sqlite3_create_function(r->db, "hash_sha256", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, r,
				fn_hash_sha256, NULL, NULL);
	sqlite3_create_function(r->db, "replaceChars", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, r,
				fn_replace_chars, NULL, NULL);
	sqlite3_create_function(r->db, "dms_instant", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, r,
				fn_dms_instant, NULL, NULL);
	/* every expression must compile before a record is read */
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];
		struct strbuf sql = STRBUF_INIT;
		sqlite3_stmt *st;
		char what[128];

		if (rule->type != RULE_TRANSFORMATION || rule->expression == NULL)
			continue;
		sb_addf(&sql, "SELECT %s", rule->expression);
		snprintf(what, sizeof(what), "rule %s: expression", rule->id_text);
		if (!map_prepare(r, sql.buf, &st, what)) {
			sb_release(&sql);
			rules_free(r);
			return NULL;
		}
		sqlite3_finalize(st);
		sb_release(&sql);
	}
	return r;
}

void
stmt_free(struct stmt *s)
{
	sqlite3_finalize(s->st);
	free(s->params);
	memset(s, 0, sizeof(*s));
}


/* Resolves each parameter of s->st: ?N is column N-1, $name a column or a header variable. */
void
stmt_resolve(struct stmt *s, const struct dms_table *t)
{
	static const struct {
		const char *name;
		enum param p;
	} vars[] = {
		{ "$AR_H_OPERATION", PARAM_OPERATION }, { "$AR_H_COMMIT_TIMESTAMP", PARAM_TIMESTAMP },
		{ "$AR_H_TIMESTAMP", PARAM_TIMESTAMP }, { "$AR_H_STREAM_POSITION", PARAM_POSITION },
		{ "$AR_H_CHANGE_SEQ", PARAM_CHANGE_SEQ }, { "$AR_M_SOURCE_SCHEMA", PARAM_SCHEMA },
		{ "$AR_M_SOURCE_TABLE_NAME", PARAM_TABLE }, { "$AR_H_USER", PARAM_EMPTY },
	};

	s->nparams = sqlite3_bind_parameter_count(s->st);
	s->params = xcalloc((size_t)s->nparams + 1, sizeof(int));
	for (int q = 1; q <= s->nparams; q++) {
		const char *pn = sqlite3_bind_parameter_name(s->st, q);
		int p = PARAM_NULL;

		if (pn != NULL && pn[0] == '?')
			p = atoi(pn + 1) - 1;
		else if (pn != NULL && pn[0] == '$' && strncmp(pn, "$AR_", 4) != 0)
			p = in_index(t, pn + 1);
		else
			for (size_t v = 0; pn != NULL && v < sizeof(vars) / sizeof(vars[0]); v++)
				if (strcmp(pn, vars[v].name) == 0)
					p = vars[v].p;
		s->params[q - 1] = p;
	}
}

void
plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nout; i++) {
		free(p->out[i].name);
		free(p->out[i].type);
		stmt_free(&p->out[i].expr);
		sb_release(&p->out[i].attrs);
	}
	free(p->out);
	free(p->key);
	free(p->unique);
	free(p->schema);
	free(p->name);
	sb_release(&p->tattrs);
	stmt_free(&p->filter);
	free(p);
}

void
rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nplans; i++)
		plan_free(r->plans[i]);
	free(r->plans);
	sqlite3_close(r->db);
	msgpack_sbuffer_destroy(&r->sbuf);
	free(r);
}
