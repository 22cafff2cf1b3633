/*
 * common/map/rules.c: the table-mapping engine (libdmsmap), used by dms-transform
 * and dms-validate (see rules.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rules.h"
#include "../records.h"
#include "../settings.h"
#include "../sha256.h"
#include "../dms.h"

enum ocol_kind { OC_COPY, OC_EXPR, OC_NULL, OC_BEFORE };

/* What a statement parameter is bound to: a column (>= 0) or a header variable. */
enum param {
	PARAM_NULL = -1, PARAM_OPERATION = -2, PARAM_TIMESTAMP = -3, PARAM_POSITION = -4,
	PARAM_CHANGE_SEQ = -5, PARAM_SCHEMA = -6, PARAM_TABLE = -7, PARAM_EMPTY = -8,
};

/* A prepared statement and, per parameter, what it is bound to. */
struct stmt {
	sqlite3_stmt *st;
	int nparams;
	int *params;
};
enum mask { MASK_NONE, MASK_DIGITS, MASK_RANDOM, MASK_HASH };

struct ocol {
	char *name;
	char *type;		/* DMS type name */
	enum dms_type dtype;
	bool nullable;
	enum ocol_kind kind;
	int src;		/* input column, OC_COPY */
	bool convert;		/* change-data-type: convert the value */
	enum mask mask;
	char mask_char;
	struct stmt expr;	/* OC_EXPR */
	struct strbuf attrs;	/* packed msgpack map */
};

struct plan {
	bool drop, pass;
	const struct dms_table *in;
	char *schema, *name;
	int nout;
	struct ocol *out;
	int nkey;
	int *key;		/* output columns */
	const struct mapping_rule *unique_rule;	/* define-primary-key, origin unique-index */
	int nunique;
	int *unique;		/* its output columns */
	struct strbuf tattrs;	/* packed table attrs */
	struct stmt filter;
	bool op_indicator;	/* an expression uses operation_indicator(): deletes become updates */
	uint64_t part_out;	/* ROWs of the part in hand written */
	bool part_filtered;	/* its source query applied the filters already */
};

struct rules {
	const struct mapping *m;
	sqlite3 *db;
	struct plan **plans;
	size_t nplans;
	/* the record in hand, for the functions and header variables */
	const char *op;
	char commit_time[40];
	char position[64];
	uint64_t seq;
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	int policy;		/* enum error_policy */
	char error[512];	/* why the record in hand was refused */
};

void
rules_set_policy(struct rules *r, int policy)
{
	r->policy = policy;
}

/* ---- names ---- */

static bool
locator_matches(const struct mapping_rule *r, const char *schema, const char *table)
{
	return wildcard_match(r->schema, schema) && wildcard_match(r->table, table);
}

static char *
rename_with(const struct mapping_rule *r, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = strlen(name), v = r->value ? strlen(r->value) : 0;
	size_t o = r->old_value ? strlen(r->old_value) : 0;
	const char *a = r->action;

	if (strcmp(a, "rename") == 0)
		sb_adds(&sb, r->value);
	else if (strcmp(a, "convert-lowercase") == 0 || strcmp(a, "convert-uppercase") == 0) {
		sb_adds(&sb, name);
		for (size_t i = 0; i < sb.len; i++)
			sb.buf[i] = (char)(a[8] == 'l' ? tolower((unsigned char)sb.buf[i])
						      : toupper((unsigned char)sb.buf[i]));
	} else if (strcmp(a, "add-prefix") == 0)
		sb_addf(&sb, "%s%s", r->value, name);
	else if (strcmp(a, "add-suffix") == 0)
		sb_addf(&sb, "%s%s", name, r->value);
	else if (strcmp(a, "remove-prefix") == 0)
		sb_adds(&sb, n >= v && strncmp(name, r->value, v) == 0 ? name + v : name);
	else if (strcmp(a, "remove-suffix") == 0) {
		if (n >= v && strcmp(name + n - v, r->value) == 0)
			sb_addf(&sb, "%.*s", (int)(n - v), name);
		else
			sb_adds(&sb, name);
	} else if (strcmp(a, "replace-prefix") == 0) {
		if (n >= o && strncmp(name, r->old_value, o) == 0)
			sb_addf(&sb, "%s%s", r->value, name + o);
		else
			sb_adds(&sb, name);
	} else if (strcmp(a, "replace-suffix") == 0) {
		if (n >= o && strcmp(name + n - o, r->old_value) == 0)
			sb_addf(&sb, "%.*s%s", (int)(n - o), name, r->value);
		else
			sb_adds(&sb, name);
	} else
		return NULL;
	return sb.buf ? sb.buf : xstrdup("");
}

static bool
renames(const struct mapping_rule *r)
{
	static const char *const actions[] = {
		"rename", "convert-lowercase", "convert-uppercase", "add-prefix", "add-suffix",
		"remove-prefix", "remove-suffix", "replace-prefix", "replace-suffix",
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(r->action, actions[i]) == 0)
			return true;
	return false;
}

/* The first (lowest rule-id) name rule of a rule-target that matches. */
static const struct mapping_rule *
name_rule(const struct mapping *m, const char *target, const char *schema, const char *table,
	  const char *column, const char *type)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type != RULE_TRANSFORMATION || strcmp(r->target, target) != 0)
			continue;
		if (!wildcard_match(r->schema, schema))
			continue;
		if (strcmp(target, "schema") != 0 && !wildcard_match(r->table, table))
			continue;
		if (column != NULL && (r->column == NULL || !wildcard_match(r->column, column)))
			continue;
		if (column != NULL && r->locator_type != NULL && strcmp(r->locator_type, type) != 0)
			continue;
		if (strcmp(target, "column") == 0 && !renames(r) && strcmp(r->action, "remove-column") != 0)
			continue;
		if (strcmp(target, "column") != 0 && !renames(r))
			continue;
		return r;
	}
	return NULL;
}

static char *
new_schema(const struct mapping *m, const char *schema)
{
	const struct mapping_rule *r = name_rule(m, "schema", schema, "", NULL, NULL);

	return r ? rename_with(r, schema) : xstrdup(schema);
}

static char *
new_table(const struct mapping *m, const char *schema, const char *table)
{
	const struct mapping_rule *r = name_rule(m, "table", schema, table, NULL, NULL);

	return r ? rename_with(r, table) : xstrdup(table);
}

/* ---- SQLite: functions and values ---- */

static void
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
static void
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
	/* days from civil (Howard Hinnant's algorithm) */
	{
		int64_t yy = y - (mo <= 2);
		int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
		int64_t yoe = yy - era * 400;
		int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = era * 146097 + doe - 719468;
	}
	t = ((days * 24 + h - oh) * 60 + mi - om) * 60 + sec;
	sqlite3_result_int64(ctx, t * 1000000 + usec);
}

static void
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
static void
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

static bool
prepare(struct rules *r, const char *sql, sqlite3_stmt **stmt, const char *what)
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
		if (!prepare(r, sql.buf, &st, what)) {
			sb_release(&sql);
			rules_free(r);
			return NULL;
		}
		sqlite3_finalize(st);
		sb_release(&sql);
	}
	return r;
}

static void
stmt_free(struct stmt *s)
{
	sqlite3_finalize(s->st);
	free(s->params);
	memset(s, 0, sizeof(*s));
}

static int in_index(const struct dms_table *t, const char *name);

/* Resolves each parameter of s->st: ?N is column N-1, $name a column or a header variable. */
static void
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

static void
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

/* ---- plans ---- */

static void
pack_attrs_dt(struct strbuf *sb, const struct mapping_rule *rule, int min_length)
{
	msgpack_sbuffer s;
	msgpack_packer pk;
	int n = 0;
	int length = rule ? rule->dt_length : -1;

	if (min_length > 0 && length < min_length)
		length = min_length;
	n = (length >= 0) + (rule && rule->dt_precision >= 0) + (rule && rule->dt_scale >= 0);
	msgpack_sbuffer_init(&s);
	msgpack_packer_init(&pk, &s, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (size_t)n);
	if (length >= 0) {
		pk_str(&pk, "length");
		msgpack_pack_int(&pk, length);
	}
	if (rule && rule->dt_precision >= 0) {
		pk_str(&pk, "precision");
		msgpack_pack_int(&pk, rule->dt_precision);
	}
	if (rule && rule->dt_scale >= 0) {
		pk_str(&pk, "scale");
		msgpack_pack_int(&pk, rule->dt_scale);
	}
	sb_add(sb, s.data, s.size);
	msgpack_sbuffer_destroy(&s);
}

static int
out_index(const struct plan *p, const char *name)
{
	for (int i = 0; i < p->nout; i++)
		if (strcmp(p->out[i].name, name) == 0)
			return i;
	return -1;
}

static int
in_index(const struct dms_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
is_numeric_type(enum dms_type t)
{
	return (t >= DT_INT1 && t <= DT_REAL8) || t == DT_NUMERIC;
}


/* How a filter compares a column's values: see "Source filters" in dms-mapping(5). */
enum cmp { CMP_TEXT, CMP_NUMBER, CMP_INSTANT, CMP_NOCASE };

static enum cmp
filter_cmp(const struct dms_column *c)
{
	const char *collation;
	enum cmp k = CMP_TEXT;

	if (is_numeric_type(c->type))
		return CMP_NUMBER;
	if (c->type == DT_DATE || c->type == DT_DATETIME || c->type == DT_DATETIMETZ)
		return CMP_INSTANT;
	collation = c->collation;
	if (collation != NULL && strlen(collation) > 3 && strcmp(collation + strlen(collation) - 3, "_ci") == 0)
		k = CMP_NOCASE;
	return k;
}

/* A value of the filter, or the column's (?N), as the comparison reads it. */
static void
sql_operand(struct strbuf *sb, const char *v, int col, enum cmp k)
{
	static const char *const open[] = { "", "CAST(", "dms_instant(", "" };
	static const char *const close[] = { "", " AS NUMERIC)", ")", " COLLATE NOCASE" };

	sb_adds(sb, open[k]);
	if (v == NULL) {
		sb_addf(sb, "?%d", col + 1);
	} else {
		sb_adds(sb, "'");
		for (const char *p = v; *p; p++)
			sb_adds(sb, *p == '\'' ? "''" : (char[]){ *p, 0 });
		sb_adds(sb, "'");
	}
	sb_adds(sb, close[k]);
}

/* mapping_filter_expr's operands over the input table's columns. */
struct filter_ctx {
	const struct dms_table *t;
	const char *missing;	/* a filter column the table lacks */
};

static char *
filter_operand(void *arg, const char *column, const char *value)
{
	struct filter_ctx *f = arg;
	struct strbuf sb = STRBUF_INIT;
	int col = in_index(f->t, column);

	if (col < 0) {
		f->missing = column;
		return xstrdup("NULL");
	}
	sql_operand(&sb, value, col, filter_cmp(&f->t->cols[col]));
	return sb.buf;
}

/* The source filters of the selection rules as one SQLite expression over ?N (column N-1). */
static int
build_filter(struct rules *r, struct plan *p)
{
	struct filter_ctx f = { .t = p->in };
	char *expr = mapping_filter_expr(r->m, p->in->schema, p->in->name, filter_operand, &f);
	struct strbuf sql = STRBUF_INIT;
	int status = EXIT_OK;

	if (f.missing != NULL) {
		log_error("source filter column \"%s\" is not a column of %s.%s", f.missing, p->in->schema,
			  p->in->name);
		status = EXIT_USAGE;
	} else if (expr != NULL) {
		sb_addf(&sql, "SELECT %s", expr);
		if (!prepare(r, sql.buf, &p->filter.st, "source filter"))
			status = EXIT_USAGE;
		else
			stmt_resolve(&p->filter, p->in);
	}
	free(expr);
	sb_release(&sql);
	return status;
}

static const struct mapping_rule *
lob_rule(const struct mapping *m, const struct dms_table *t)
{
	const struct mapping_rule *r = mapping_table_settings(m, t->schema, t->name);

	return r != NULL && r->lob_mode != NULL ? r : NULL;
}

/* The unique index of a define-primary-key rule with origin unique-index. */
static void
pack_unique_index(msgpack_packer *pk, const struct plan *p)
{
	msgpack_pack_map(pk, 3);
	pk_str(pk, "name");
	pk_str(pk, p->unique_rule->pk_name ? p->unique_rule->pk_name : "dms_unique");
	pk_str(pk, "columns");
	msgpack_pack_array(pk, (size_t)p->nunique);
	for (int q = 0; q < p->nunique; q++)
		msgpack_pack_int(pk, p->unique[q]);
	pk_str(pk, "unique");
	msgpack_pack_true(pk);
}

/* An index whose columns all stay, at their new positions; false when one goes. */
static bool
pack_index(msgpack_packer *pk, const struct dms_index *x, const int *map, bool dry_run)
{
	for (int k = 0; k < x->ncols; k++)
		if (map[x->cols[k]] < 0)
			return false;
	if (dry_run)
		return true;
	msgpack_pack_map(pk, 3);
	pk_str(pk, "name");
	pk_str(pk, x->name);
	pk_str(pk, "columns");
	msgpack_pack_array(pk, (size_t)x->ncols);
	for (int k = 0; k < x->ncols; k++)
		msgpack_pack_int(pk, map[x->cols[k]]);
	pk_str(pk, "unique");
	if (x->unique)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	return true;
}

/* Column names of a foreign key as the rules rename them (in schema.table). */
static void
pack_fkey_columns(struct rules *r, msgpack_packer *pk, char *const *cols, int n, const char *schema,
		  const char *table)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int q = 0; q < n; q++) {
		const struct mapping_rule *cr = name_rule(r->m, "column", schema, table, cols[q], "");
		char *renamed = cr && renames(cr) ? rename_with(cr, cols[q]) : xstrdup(cols[q]);

		pk_str(pk, renamed);
		free(renamed);
	}
}

/* A foreign key whose names (its table's, the referenced table's) follow the rules. */
static void
pack_fkey(struct rules *r, msgpack_packer *pk, const struct dms_table *t, const struct dms_fkey *f)
{
	const char *ref_schema = f->ref_schema ? f->ref_schema : t->schema;
	char *schema = new_schema(r->m, ref_schema), *table = new_table(r->m, ref_schema, f->ref_table);

	msgpack_pack_map(pk, (size_t)(4 + (f->ref_schema != NULL) + (f->on_delete != NULL) +
				      (f->on_update != NULL)));
	pk_str(pk, "name");
	pk_str(pk, f->name);
	pk_str(pk, "columns");
	pack_fkey_columns(r, pk, f->cols, f->ncols, t->schema, t->name);
	if (f->ref_schema != NULL) {
		pk_str(pk, "ref_schema");
		pk_str(pk, schema);
	}
	pk_str(pk, "ref_table");
	pk_str(pk, table);
	pk_str(pk, "ref_columns");
	pack_fkey_columns(r, pk, f->ref_cols, f->nref, ref_schema, f->ref_table);
	if (f->on_delete != NULL) {
		pk_str(pk, "on_delete");
		pk_str(pk, f->on_delete);
	}
	if (f->on_update != NULL) {
		pk_str(pk, "on_update");
		pk_str(pk, f->on_update);
	}
	free(schema);
	free(table);
}

/*
 * Rebuilds the table attrs from the decoded table: index column positions
 * and foreign key names follow the plan; other attributes pass as they are.
 */
static void
pack_table_attrs(struct rules *r, struct plan *p, const int *map)
{
	const struct dms_table *t = p->in;
	const struct mapping_rule *lob = lob_rule(r->m, t);
	bool has_indexes = attrs_find(t->attrs, t->attrs_len, "indexes", &(struct mp_cursor){ 0 });
	struct mp_cursor c;
	struct mp_item it;
	msgpack_sbuffer s;
	msgpack_packer pk;

	msgpack_sbuffer_init(&s);
	msgpack_packer_init(&pk, &s, msgpack_sbuffer_write);
	mp_cursor_init(&c, t->attrs, t->attrs_len);
	mp_next(&c, &it);
	msgpack_pack_map(&pk, it.v.n + (lob != NULL) + (p->unique_rule != NULL && !has_indexes));
	if (p->unique_rule != NULL && !has_indexes) {
		pk_str(&pk, "indexes");
		msgpack_pack_array(&pk, 1);
		pack_unique_index(&pk, p);
	}
	if (lob != NULL) {
		/* table-settings lob-settings, for dms-load */
		pk_str(&pk, "lob_settings");
		msgpack_pack_map(&pk, 2);
		pk_str(&pk, "mode");
		pk_str(&pk, lob->lob_mode);
		pk_str(&pk, "bulk_max_size");
		msgpack_pack_int64(&pk, lob->lob_bulk_max_size);
	}
	for (uint32_t i = 0; i < it.v.n; i++) {
		const uint8_t *vstart;
		struct mp_item k;

		mp_next(&c, &k);
		vstart = c.p;
		mp_skip(&c);
		msgpack_pack_str(&pk, k.v.s.len);
		msgpack_pack_str_body(&pk, k.v.s.p, k.v.s.len);
		if (mp_str_eq(&k, "indexes")) {
			size_t nkept = 0;

			for (int x = 0; x < t->nindexes; x++)
				nkept += pack_index(&pk, &t->indexes[x], map, true);
			msgpack_pack_array(&pk, nkept + (p->unique_rule != NULL));
			for (int x = 0; x < t->nindexes; x++)
				pack_index(&pk, &t->indexes[x], map, false);
			if (p->unique_rule != NULL)
				pack_unique_index(&pk, p);
		} else if (mp_str_eq(&k, "foreign_keys")) {
			msgpack_pack_array(&pk, (size_t)t->nfkeys);
			for (int x = 0; x < t->nfkeys; x++)
				pack_fkey(r, &pk, t, &t->fkeys[x]);
		} else {
			msgpack_pack_str_body(&pk, vstart, (size_t)(c.p - vstart));
		}
	}
	sb_add(&p->tattrs, s.data, s.size);
	msgpack_sbuffer_destroy(&s);
}

static bool
column_touched(const struct mapping *m, const struct dms_table *t)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_TRANSFORMATION && locator_matches(r, t->schema, t->name) &&
		    (strcmp(r->target, "schema") == 0 || strcmp(r->target, "table") == 0))
			return true;
		if (r->type != RULE_TRANSFORMATION || !locator_matches(r, t->schema, t->name))
			continue;
		if (strcmp(r->action, "add-column") == 0 || strcmp(r->action, "include-column") == 0 ||
		    strcmp(r->action, "define-primary-key") == 0)
			return true;
		for (uint32_t c = 0; c < t->ncols; c++)
			if (wildcard_match(r->column, t->cols[c].name) &&
			    (r->locator_type == NULL || strcmp(r->locator_type, t->cols[c].type_name) == 0))
				return true;
	}
	return false;
}

static bool
has_filters(const struct mapping *m, const struct dms_table *t)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_SELECTION && r->sel != SEL_EXCLUDE && r->nfilters > 0 &&
		    locator_matches(r, t->schema, t->name))
			return true;
	}
	return false;
}

static int
make_plan(struct rules *r, const struct dms_table *t, struct plan **out)
{
	const struct mapping *m = r->m;
	struct plan *p = xcalloc(1, sizeof(*p));
	int *map = xcalloc(t->ncols + 1, sizeof(int));
	bool include_mode = false;
	const struct mapping_rule *pk_rule = NULL;
	int status = EXIT_OK;

	*out = p;
	p->in = t;
	if (!mapping_selects(m, t->schema, t->name)) {
		p->drop = true;
		goto done;
	}
	if (!column_touched(m, t) && !has_filters(m, t) && lob_rule(m, t) == NULL) {
		p->pass = true;
		goto done;
	}
	p->schema = new_schema(m, t->schema);
	p->name = new_table(m, t->schema, t->name);
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];

		if (rule->type != RULE_TRANSFORMATION || !locator_matches(rule, t->schema, t->name))
			continue;
		if (strcmp(rule->action, "include-column") == 0)
			include_mode = true;
		if (strcmp(rule->action, "define-primary-key") == 0 && pk_rule == NULL &&
		    strcmp(rule->schema, t->schema) == 0 && strcmp(rule->table, t->name) == 0)
			pk_rule = rule;
	}
	p->out = xcalloc(2 * t->ncols + (size_t)m->nrules + 1, sizeof(*p->out));
	for (uint32_t c = 0; c < t->ncols; c++) {
		const struct dms_column *ic = &t->cols[c];
		const struct mapping_rule *nr = name_rule(m, "column", t->schema, t->name, ic->name,
							  ic->type_name);
		const struct mapping_rule *dt = NULL, *mask = NULL;
		struct ocol *o;
		bool included = !include_mode;

		map[c] = -1;
		for (int i = 0; i < m->nrules; i++) {
			const struct mapping_rule *rule = &m->rules[i];

			if (rule->type != RULE_TRANSFORMATION || strcmp(rule->target, "column") != 0 ||
			    !locator_matches(rule, t->schema, t->name) || rule->column == NULL ||
			    !wildcard_match(rule->column, ic->name) ||
			    (rule->locator_type && strcmp(rule->locator_type, ic->type_name) != 0))
				continue;
			if (strcmp(rule->action, "include-column") == 0)
				included = true;
			else if (strcmp(rule->action, "change-data-type") == 0 && dt == NULL)
				dt = rule;
			else if (strncmp(rule->action, "data-masking-", 13) == 0 && mask == NULL)
				mask = rule;
		}
		if (!included || (nr && strcmp(nr->action, "remove-column") == 0))
			continue;
		map[c] = p->nout;
		o = &p->out[p->nout++];
		o->kind = OC_COPY;
		o->src = (int)c;
		o->name = nr ? rename_with(nr, ic->name) : xstrdup(ic->name);
		o->nullable = ic->nullable;
		if (dt != NULL) {
			o->type = xstrdup(dt->dt_type);
			o->convert = strcmp(dt->dt_type, ic->type_name) != 0;
			pack_attrs_dt(&o->attrs, dt, 0);
		} else {
			o->type = xstrdup(ic->type_name);
		}
		o->dtype = dms_type_from_name(o->type, strlen(o->type));
		if (mask != NULL) {
			o->mask = strcmp(mask->action, "data-masking-digits-mask") == 0 ? MASK_DIGITS
				: strcmp(mask->action, "data-masking-digits-randomize") == 0 ? MASK_RANDOM : MASK_HASH;
			o->mask_char = mask->value ? mask->value[0] : '*';
			if ((o->mask == MASK_DIGITS || o->mask == MASK_HASH) && !dms_type_is_text(o->dtype)) {
				log_error("rule %s: %s works on strings; %s.%s column %s is %s", mask->id_text,
					  mask->action, t->schema, t->name, ic->name, o->type);
				status = EXIT_USAGE;
				goto done;
			}
			if (o->mask == MASK_HASH && dt == NULL)
				pack_attrs_dt(&o->attrs, NULL, ic->length >= 0 && ic->length < 64 ? 64 : (int)ic->length);
		}
		if (o->attrs.len == 0)
			sb_add(&o->attrs, ic->attrs, ic->attrs_len);
	}
	/* added columns */
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];
		struct ocol *o;

		if (rule->type != RULE_TRANSFORMATION || strcmp(rule->action, "add-column") != 0 ||
		    !locator_matches(rule, t->schema, t->name))
			continue;
		for (int k = 0; k < p->nout; k++)
			if (strcasecmp(p->out[k].name, rule->value) == 0) {
				log_error("rule %s: add-column \"%s\": %s.%s has a column of that name already",
					  rule->id_text, rule->value, t->schema, t->name);
				status = EXIT_USAGE;
				goto done;
			}
		o = &p->out[p->nout++];
		o->name = xstrdup(rule->value);
		o->type = xstrdup(rule->dt_type);
		o->dtype = dms_type_from_name(o->type, strlen(o->type));
		o->nullable = true;
		o->src = -1;
		o->kind = OC_NULL;
		pack_attrs_dt(&o->attrs, rule, 0);
		if (rule->expression) {
			struct strbuf sql = STRBUF_INIT;
			char what[128];

			sb_addf(&sql, "SELECT %s", rule->expression);
			snprintf(what, sizeof(what), "rule %s: expression", rule->id_text);
			if (!prepare(r, sql.buf, &o->expr.st, what)) {
				sb_release(&sql);
				status = EXIT_USAGE;
				goto done;
			}
			p->op_indicator |= strstr(rule->expression, "operation_indicator") != NULL;
			sb_release(&sql);
			o->kind = OC_EXPR;
			/* every $name must be a column or a header variable */
			stmt_resolve(&o->expr, t);
			for (int q = 1; q <= o->expr.nparams; q++) {
				const char *pn = sqlite3_bind_parameter_name(o->expr.st, q);

				if (pn && pn[0] == '$' && strncmp(pn, "$AR_", 4) != 0 && in_index(t, pn + 1) < 0) {
					log_error("rule %s: expression uses %s, which is not a column of %s.%s",
						  rule->id_text, pn, t->schema, t->name);
					status = EXIT_USAGE;
					goto done;
				}
			}
		}
	}
	/* before-image columns: the old value of a column, for updates */
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];

		if (rule->type != RULE_TRANSFORMATION || strcmp(rule->action, "add-before-image-columns") != 0 ||
		    !locator_matches(rule, t->schema, t->name))
			continue;
		for (uint32_t c = 0; c < t->ncols; c++) {
			const struct dms_column *ic = &t->cols[c];
			bool key = false;
			struct ocol *o;
			struct strbuf name = STRBUF_INIT;

			for (uint32_t k = 0; k < t->nkey; k++)
				key |= t->key[k] == c;
			if (map[c] < 0 || (strcmp(rule->bi_filter, "pk-only") == 0 && !key) ||
			    (strcmp(rule->bi_filter, "non-lob") == 0 && dms_type_is_lob(ic->type)))
				continue;
			sb_addf(&name, "%s%s%s", rule->bi_prefix, p->out[map[c]].name, rule->bi_suffix);
			o = &p->out[p->nout++];
			o->name = name.buf;
			o->type = xstrdup(p->out[map[c]].type);
			o->dtype = p->out[map[c]].dtype;
			o->nullable = true;
			o->kind = OC_BEFORE;
			o->src = (int)c;
			sb_add(&o->attrs, p->out[map[c]].attrs.buf, p->out[map[c]].attrs.len);
		}
	}
	/* names must stay distinct */
	for (int a = 0; a < p->nout; a++)
		for (int b = a + 1; b < p->nout; b++)
			if (strcmp(p->out[a].name, p->out[b].name) == 0) {
				log_error("the mapping gives %s.%s two columns named \"%s\"", t->schema, t->name,
					  p->out[a].name);
				status = EXIT_USAGE;
				goto done;
			}
	/* the key; with origin unique-index a unique index instead */
	if (pk_rule != NULL) {
		bool unique = pk_rule->pk_origin && strcmp(pk_rule->pk_origin, "unique-index") == 0;
		int *cols = xcalloc((size_t)pk_rule->npk_columns + 1, sizeof(int));

		for (int k = 0; k < pk_rule->npk_columns; k++) {
			int idx = out_index(p, pk_rule->pk_columns[k]);

			if (idx < 0 && in_index(t, pk_rule->pk_columns[k]) >= 0)
				idx = map[in_index(t, pk_rule->pk_columns[k])];
			if (idx < 0) {
				log_error("rule %s: define-primary-key: %s.%s has no column \"%s\"",
					  pk_rule->id_text, t->schema, t->name, pk_rule->pk_columns[k]);
				free(cols);
				status = EXIT_USAGE;
				goto done;
			}
			cols[k] = idx;
			if (!unique)
				p->out[idx].nullable = false;
		}
		if (unique) {
			p->unique_rule = pk_rule;
			p->unique = cols;
			p->nunique = pk_rule->npk_columns;
			pk_rule = NULL;
		} else {
			p->key = cols;
			p->nkey = pk_rule->npk_columns;
		}
	}
	if (pk_rule == NULL) {
		/* no key rule (or a unique index): the source's key */
		p->key = xcalloc(t->nkey + 1, sizeof(int));
		for (uint32_t k = 0; k < t->nkey; k++) {
			if (map[t->key[k]] < 0) {
				log_warn("%s.%s: key column %s is removed by the mapping; the table has no key",
					 t->schema, t->name, t->cols[t->key[k]].name);
				p->nkey = 0;
				break;
			}
			p->key[p->nkey++] = map[t->key[k]];
		}
	}
	pack_table_attrs(r, p, map);
	status = build_filter(r, p);
done:
	free(map);
	return status;
}

int
rules_shape(struct rules *r, const struct dms_table *t, struct rules_shape *s)
{
	struct plan *p = NULL;
	int status = make_plan(r, t, &p);

	memset(s, 0, sizeof(*s));
	if (status != EXIT_OK || p->drop) {
		s->drop = p->drop;
		plan_free(p);
		return status;
	}
	s->schema = xstrdup(p->pass ? t->schema : p->schema);
	s->name = xstrdup(p->pass ? t->name : p->name);
	s->ncols = p->pass ? (int)t->ncols : p->nout;
	s->cols = xcalloc((size_t)s->ncols + 1, sizeof(*s->cols));
	s->nkey = p->pass ? (int)t->nkey : p->nkey;
	s->key = xcalloc((size_t)s->nkey + 1, sizeof(int));
	for (int i = 0; i < s->ncols; i++) {
		struct shape_column *c = &s->cols[i];

		if (p->pass) {
			c->name = xstrdup(t->cols[i].name);
			c->src = i;
			continue;
		}
		c->name = xstrdup(p->out[i].name);
		c->src = p->out[i].src;
		if (p->out[i].kind == OC_EXPR || p->out[i].kind == OC_NULL)
			c->why = "added by an add-column rule";
		else if (p->out[i].kind == OC_BEFORE)
			c->why = "a before-image column";
		else if (p->out[i].convert)
			c->why = "converted by a change-data-type rule";
		else if (p->out[i].mask != MASK_NONE)
			c->why = "masked by a data-masking rule";
		if (c->why != NULL)
			c->src = -1;
	}
	for (int k = 0; k < s->nkey; k++)
		s->key[k] = p->pass ? (int)t->key[k] : p->key[k];
	plan_free(p);
	return EXIT_OK;
}

void
rules_shape_free(struct rules_shape *s)
{
	for (int i = 0; i < s->ncols; i++)
		free(s->cols[i].name);
	free(s->cols);
	free(s->key);
	free(s->schema);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

/* ---- records ---- */

/* Offsets of each value of a values array: off[i] .. off[i+1]. */
static bool
index_values(const uint8_t *values, size_t len, const uint8_t **off, uint32_t n)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY || it.v.n != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		off[i] = c.p;
		if (mp_skip(&c) != MP_OK)
			return false;
	}
	off[n] = c.p;
	return true;
}

static void
bind_value(sqlite3_stmt *st, int idx, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, p, (size_t)(end - p));
	if (mp_next(&c, &it) != MP_OK) {
		sqlite3_bind_null(st, idx);
		return;
	}
	switch (it.type) {
	case MP_BOOL: sqlite3_bind_int(st, idx, it.v.b); break;
	case MP_INT: sqlite3_bind_int64(st, idx, it.v.i); break;
	case MP_UINT:
		if (it.v.u <= INT64_MAX)
			sqlite3_bind_int64(st, idx, (int64_t)it.v.u);
		else
			sqlite3_bind_double(st, idx, (double)it.v.u);
		break;
	case MP_FLOAT32: sqlite3_bind_double(st, idx, it.v.f32); break;
	case MP_FLOAT64: sqlite3_bind_double(st, idx, it.v.f64); break;
	case MP_STR: sqlite3_bind_text(st, idx, (const char *)it.v.s.p, (int)it.v.s.len, SQLITE_STATIC); break;
	case MP_BIN: sqlite3_bind_blob(st, idx, it.v.s.p, (int)it.v.s.len, SQLITE_STATIC); break;
	default: sqlite3_bind_null(st, idx);
	}
}

static void
bind_all(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off)
{
	for (int q = 1; q <= s->nparams; q++) {
		int what = s->params[q - 1];

		switch (what) {
		case PARAM_OPERATION:
			sqlite3_bind_text(s->st, q, r->op, -1, SQLITE_STATIC);
			break;
		case PARAM_TIMESTAMP:
			sqlite3_bind_text(s->st, q, r->commit_time, -1, SQLITE_STATIC);
			break;
		case PARAM_POSITION:
			sqlite3_bind_text(s->st, q, r->position, -1, SQLITE_STATIC);
			break;
		case PARAM_CHANGE_SEQ:
			if (r->position[0]) {
				char seq[64];

				snprintf(seq, sizeof(seq), "%.16s%019" PRIu64, r->commit_time, r->seq);
				sqlite3_bind_text(s->st, q, seq, -1, SQLITE_TRANSIENT);
			} else {
				sqlite3_bind_text(s->st, q, "", 0, SQLITE_STATIC);
			}
			break;
		case PARAM_SCHEMA:
			sqlite3_bind_text(s->st, q, p->in->schema, -1, SQLITE_STATIC);
			break;
		case PARAM_TABLE:
			sqlite3_bind_text(s->st, q, p->in->name, -1, SQLITE_STATIC);
			break;
		case PARAM_EMPTY:
			sqlite3_bind_text(s->st, q, "", 0, SQLITE_STATIC);
			break;
		default:
			if (what >= 0 && off != NULL)
				bind_value(s->st, q, off[what], off[what + 1]);
			else
				sqlite3_bind_null(s->st, q);
		}
	}
}

/* Packs an SQLite result as a value of a DMS type. */
static bool
pack_result(msgpack_packer *pk, sqlite3_stmt *st, enum dms_type t)
{
	int type = sqlite3_column_type(st, 0);

	if (type == SQLITE_NULL) {
		msgpack_pack_nil(pk);
		return true;
	}
	if (t >= DT_INT1 && t <= DT_UINT8) {
		msgpack_pack_int64(pk, sqlite3_column_int64(st, 0));
	} else if (t == DT_REAL4) {
		msgpack_pack_float(pk, (float)sqlite3_column_double(st, 0));
	} else if (t == DT_REAL8) {
		msgpack_pack_double(pk, sqlite3_column_double(st, 0));
	} else if (t == DT_BOOLEAN) {
		if (sqlite3_column_int64(st, 0))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	} else if (t == DT_BYTES || t == DT_BLOB) {
		int n = sqlite3_column_bytes(st, 0);

		msgpack_pack_bin(pk, (size_t)n);
		msgpack_pack_bin_body(pk, sqlite3_column_blob(st, 0), (size_t)n);
	} else {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		pk_strn(pk, s, (size_t)sqlite3_column_bytes(st, 0));
	}
	return true;
}

static bool
eval(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off, bool *yes)
{
	sqlite3_stmt *st = s->st;
	int rc;

	sqlite3_reset(st);
	bind_all(r, p, s, off);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		snprintf(r->error, sizeof(r->error), "evaluating an expression failed: %s",
			 sqlite3_errmsg(r->db));
		log_error("%s.%s: %s", p->in->schema, p->in->name, r->error);
		return false;
	}
	if (yes)
		*yes = sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 0) != 0;
	return true;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static int
random_digit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int)(rng % 10);
}

/* A masked or converted value; false (logged) when it cannot be converted. */
static bool
pack_column(struct rules *r, const struct plan *p, const struct ocol *o, const uint8_t *v,
	    const uint8_t *vend, const uint8_t *values, size_t values_len)
{
	msgpack_packer *pk = &r->pk;
	struct mp_cursor c;
	struct mp_item it;
	char buf[64];

	mp_cursor_init(&c, v, (size_t)(vend - v));
	if (mp_next(&c, &it) != MP_OK)
		goto bad;
	if (it.type == MP_NIL || mp_is_unchanged(&it)) {
		msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		return true;
	}
	if (o->mask != MASK_NONE) {
		if (it.type == MP_STR) {
			char *s = xstrndup((const char *)it.v.s.p, it.v.s.len);

			if (o->mask == MASK_HASH) {
				char hex[65];

				sha256_hex(s, it.v.s.len, hex);
				pk_str(pk, hex);
			} else {
				for (char *q = s; *q; q++)
					if (*q >= '0' && *q <= '9')
						*q = o->mask == MASK_DIGITS ? o->mask_char : (char)('0' + random_digit());
				pk_strn(pk, s, it.v.s.len);
			}
			free(s);
			return true;
		}
		if (o->mask == MASK_RANDOM && (it.type == MP_INT || it.type == MP_UINT)) {
			int n = it.type == MP_INT ? snprintf(buf, sizeof(buf), "%" PRId64, it.v.i)
						  : snprintf(buf, sizeof(buf), "%" PRIu64, it.v.u);

			for (int i = buf[0] == '-'; i < n; i++)
				buf[i] = (char)('0' + (i == (buf[0] == '-') ? 1 + random_digit() % 9 : random_digit()));
			if (it.type == MP_INT)
				msgpack_pack_int64(pk, strtoll(buf, NULL, 10));
			else
				msgpack_pack_uint64(pk, strtoull(buf, NULL, 10));
			return true;
		}
	}
	if (!o->convert) {
		msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		return true;
	}
	/* change-data-type */
	if (o->dtype >= DT_INT1 && o->dtype <= DT_UINT8) {
		int64_t iv;
		const char *why;

		if (it.type == MP_INT || it.type == MP_UINT) {
			msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
			if (dms_type_check(o->dtype, &it, &why))
				return true;
			goto bad;
		}
		if (it.type == MP_BOOL) {
			msgpack_pack_int(pk, it.v.b);
			return true;
		}
		if (it.type == MP_FLOAT32 || it.type == MP_FLOAT64) {
			double d = it.type == MP_FLOAT32 ? it.v.f32 : it.v.f64;

			if (d != floor(d) || fabs(d) > 9.2e18)
				goto bad;
			msgpack_pack_int64(pk, (int64_t)d);
			return true;
		}
		if (it.type == MP_STR && it.v.s.len > 0 && it.v.s.len < sizeof(buf)) {
			char *end;

			memcpy(buf, it.v.s.p, it.v.s.len);
			buf[it.v.s.len] = '\0';
			errno = 0;
			iv = strtoll(buf, &end, 10);
			if (errno == 0 && *end == '\0') {
				struct mp_item chk = { .type = iv < 0 ? MP_INT : MP_UINT };

				if (iv < 0)
					chk.v.i = iv;
				else
					chk.v.u = (uint64_t)iv;
				if (dms_type_check(o->dtype, &chk, &why)) {
					msgpack_pack_int64(pk, iv);
					return true;
				}
			}
		}
		goto bad;
	}
	if (o->dtype == DT_REAL4 || o->dtype == DT_REAL8) {
		double d;

		if (it.type == MP_INT)
			d = (double)it.v.i;
		else if (it.type == MP_UINT)
			d = (double)it.v.u;
		else if (it.type == MP_FLOAT32 || it.type == MP_FLOAT64)
			d = it.type == MP_FLOAT32 ? it.v.f32 : it.v.f64;
		else if (it.type == MP_STR && it.v.s.len > 0 && it.v.s.len < sizeof(buf)) {
			char *end;

			memcpy(buf, it.v.s.p, it.v.s.len);
			buf[it.v.s.len] = '\0';
			d = strtod(buf, &end);
			if (*end != '\0')
				goto bad;
		} else
			goto bad;
		if (o->dtype == DT_REAL4)
			msgpack_pack_float(pk, (float)d);
		else
			msgpack_pack_double(pk, d);
		return true;
	}
	if (o->dtype == DT_BOOLEAN) {
		if (it.type == MP_BOOL)
			msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		else if (it.type == MP_INT || it.type == MP_UINT)
			it.v.u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		else if (it.type == MP_STR && (mp_str_eq(&it, "true") || mp_str_eq(&it, "t") || mp_str_eq(&it, "1")))
			msgpack_pack_true(pk);
		else if (it.type == MP_STR && (mp_str_eq(&it, "false") || mp_str_eq(&it, "f") || mp_str_eq(&it, "0")))
			msgpack_pack_false(pk);
		else
			goto bad;
		return true;
	}
	if (o->dtype == DT_BYTES || o->dtype == DT_BLOB) {
		if (it.type != MP_STR && it.type != MP_BIN)
			goto bad;
		msgpack_pack_bin(pk, it.v.s.len);
		msgpack_pack_bin_body(pk, it.v.s.p, it.v.s.len);
		return true;
	}
	/* text types */
	switch (it.type) {
	case MP_STR:
	case MP_BIN: {
		char *s = xstrndup((const char *)it.v.s.p, it.v.s.len);

		/* DMS takes dates as YYYY:MM:DD too */
		if ((o->dtype == DT_DATE || o->dtype == DT_DATETIME) && strlen(s) >= 10 && s[4] == ':' && s[7] == ':')
			s[4] = s[7] = '-';
		pk_strn(pk, s, it.v.s.len);
		free(s);
		return true;
	}
	case MP_INT: snprintf(buf, sizeof(buf), "%" PRId64, it.v.i); break;
	case MP_UINT: snprintf(buf, sizeof(buf), "%" PRIu64, it.v.u); break;
	case MP_BOOL: snprintf(buf, sizeof(buf), "%d", it.v.b); break;
	case MP_FLOAT32: snprintf(buf, sizeof(buf), "%.9g", (double)it.v.f32); break;
	case MP_FLOAT64: snprintf(buf, sizeof(buf), "%.17g", it.v.f64); break;
	default: goto bad;
	}
	pk_str(pk, buf);
	return true;
bad:
	(void)p;
	(void)values;
	(void)values_len;
	snprintf(r->error, sizeof(r->error), "column %s: the value cannot become %s (change-data-type)",
		 o->name, o->type);
	return false;
}

/*
 * Writes a values array of the output columns; image: true for a new image
 * (expressions run); before: the old values that before-image columns carry
 * (NULL: they are nil).
 */
static int
pack_values(struct rules *r, const struct plan *p, const uint8_t *values, size_t values_len,
	    bool image, bool unchanged_for_missing, const uint8_t *before, size_t before_len)
{
	const struct dms_table *t = p->in;
	const uint8_t *offs[1024], **off = t->ncols < 1023 ? offs : xcalloc(t->ncols + 1, sizeof(*off));
	const uint8_t *boffs[1024], **boff = NULL;
	int status = EXIT_OK;

	if (!index_values(values, values_len, off, t->ncols)) {
		status = EXIT_INPUT;
		goto done;
	}
	if (before != NULL) {
		boff = t->ncols < 1023 ? boffs : xcalloc(t->ncols + 1, sizeof(*boff));
		if (!index_values(before, before_len, boff, t->ncols)) {
			status = EXIT_INPUT;
			goto done;
		}
	}
	msgpack_pack_array(&r->pk, (size_t)p->nout);
	for (int i = 0; i < p->nout; i++) {
		const struct ocol *o = &p->out[i];

		if (o->kind == OC_COPY) {
			bool key = false;

			for (int k = 0; k < p->nkey; k++)
				key |= p->key[k] == i;
			if (unchanged_for_missing && !key && off[o->src][0] == 0xc0) {
				pk_unchanged(&r->pk);
				continue;
			}
			if (!pack_column(r, p, o, off[o->src], off[o->src + 1], values, values_len)) {
				status = EXIT_RUNTIME;
				goto done;
			}
		} else if (o->kind == OC_BEFORE && boff != NULL) {
			const uint8_t *v = boff[o->src];

			msgpack_pack_str_body(&r->pk, v, (size_t)(boff[o->src + 1] - v));
		} else if (o->kind == OC_EXPR && image) {
			if (!eval(r, p, &o->expr, off, NULL)) {
				status = EXIT_RUNTIME;
				goto done;
			}
			pack_result(&r->pk, o->expr.st, o->dtype);
		} else {
			msgpack_pack_nil(&r->pk);
		}
	}
done:
	if (off != offs)
		free(off);
	if (boff != NULL && boff != boffs)
		free(boff);
	return status;
}

static int
write_table(struct rules *r, const struct plan *p, int64_t tid)
{
	msgpack_packer *pk = &r->pk;

	msgpack_pack_array(pk, 7);
	msgpack_pack_int(pk, K_TABLE);
	msgpack_pack_int64(pk, tid);
	pk_str(pk, p->schema);
	pk_str(pk, p->name);
	msgpack_pack_array(pk, (size_t)p->nout);
	for (int i = 0; i < p->nout; i++) {
		msgpack_pack_array(pk, 4);
		pk_str(pk, p->out[i].name);
		pk_str(pk, p->out[i].type);
		if (p->out[i].nullable)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_str_body(pk, p->out[i].attrs.buf, p->out[i].attrs.len);
	}
	msgpack_pack_array(pk, (size_t)p->nkey);
	for (int k = 0; k < p->nkey; k++)
		msgpack_pack_int(pk, p->key[k]);
	msgpack_pack_str_body(pk, p->tattrs.buf, p->tattrs.len);
	return EXIT_OK;
}

static void
set_time(struct rules *r, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;
	int64_t sec;
	uint32_t nsec;

	mp_cursor_init(&c, p, (size_t)(end - p));
	if (mp_next(&c, &it) == MP_OK && mp_timestamp(&it, &sec, &nsec)) {
		time_t tt = (time_t)sec;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(r->commit_time, sizeof(r->commit_time), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(r->commit_time + strlen(r->commit_time), 12, ".%06u", nsec / 1000);
	}
}

static void
set_position(struct rules *r, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, p, (size_t)(end - p));
	r->position[0] = '\0';
	if (mp_next(&c, &it) == MP_OK && it.type == MP_STR && it.v.s.len < sizeof(r->position)) {
		memcpy(r->position, it.v.s.p, it.v.s.len);
		r->position[it.v.s.len] = '\0';
	}
}

static struct plan *
plan_of(struct rules *r, int64_t tid)
{
	return tid >= 0 && (size_t)tid < r->nplans ? r->plans[tid] : NULL;
}

static bool
passes(struct rules *r, const struct plan *p, const uint8_t *values, size_t len, int *status)
{
	const uint8_t *offs[1024], **off;
	bool yes = true;

	if (p->filter.st == NULL || values == NULL)
		return true;
	off = p->in->ncols < 1023 ? offs : xcalloc(p->in->ncols + 1, sizeof(*off));
	if (!index_values(values, len, off, p->in->ncols) || !eval(r, p, &p->filter, off, &yes)) {
		*status = EXIT_RUNTIME;
		yes = false;
	}
	if (off != offs)
		free(off);
	return yes;
}

static int record(struct rules *r, const struct dms_record *rec, struct dms_out *out);

/*
 * LOG_ERROR: the refused record goes on as a REJECT, its key and values as
 * text, for the loader to put in apply_exceptions with the rows the target
 * refused.
 */
static int
reject(struct rules *r, const struct plan *p, const struct dms_record *rec, struct dms_out *out)
{
	char key[512], values[2048];

	values_key_text(p->in, rec->values, rec->values_len, key, sizeof(key));
	values_text(p->in, rec->values, rec->values_len, values, sizeof(values));
	msgpack_sbuffer_clear(&r->sbuf);
	rec_reject(&r->pk, rec->table->tid, key, values, r->error[0] ? r->error : "refused by the mapping");
	log_warn("record %" PRIu64 " (%s of %s.%s%s%s): refused, logged to the exceptions table: %s",
		 rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, key[0] ? " key " : "",
		 key, r->error);
	return out_write(out, r->sbuf.data, r->sbuf.size) ? EXIT_OK : EXIT_OUTPUT;
}

int
rules_record(struct rules *r, const struct dms_record *rec, struct dms_out *out)
{
	struct plan *p = rec->table ? plan_of(r, rec->table->tid) : NULL;
	int status = record(r, rec, out);

	if (status != EXIT_RUNTIME || p == NULL || rec->kind == K_TABLE)
		return status;
	/* a value that failed its conversion (logged): the data error policy */
	switch (r->policy) {
	case POLICY_STOP_TASK:
		log_error("record %" PRIu64 " (%s of %s.%s): %s; stopping (DataErrorPolicy STOP_TASK)",
			  rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		return EXIT_RUNTIME;
	case POLICY_SUSPEND_TABLE:
		log_error("record %" PRIu64 " (%s of %s.%s): %s; the table is suspended: its further records are dropped (SUSPEND_TABLE)",
			  rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		p->drop = true;
		return EXIT_OK;
	case POLICY_IGNORE_RECORD:
		log_warn("record %" PRIu64 " (%s of %s.%s): %s; dropped (IGNORE_RECORD)", rec->seq,
			 dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		return EXIT_OK;
	default:
		return reject(r, p, rec, out);
	}
}

static int
record(struct rules *r, const struct dms_record *rec, struct dms_out *out)
{
	struct plan *p = rec->table ? plan_of(r, rec->table->tid) : NULL;
	int status = EXIT_OK;

	msgpack_sbuffer_clear(&r->sbuf);
	r->seq = rec->seq;
	r->error[0] = '\0';
	switch (rec->kind) {
	case K_TABLE: {
		int64_t tid = rec->table->tid;

		if ((size_t)tid >= r->nplans) {
			size_t n = r->nplans ? r->nplans : 16;

			while (n <= (size_t)tid)
				n *= 2;
			r->plans = xrealloc(r->plans, n * sizeof(*r->plans));
			memset(r->plans + r->nplans, 0, (n - r->nplans) * sizeof(*r->plans));
			r->nplans = n;
		}
		plan_free(r->plans[tid]);
		r->plans[tid] = NULL;
		status = make_plan(r, rec->table, &p);
		r->plans[tid] = p;
		if (status != EXIT_OK || p->drop)
			return status;
		if (p->pass)
			break;
		write_table(r, p, tid);
		goto packed;
	}
	case K_BEGIN:
		set_position(r, record_element(rec, 2), rec->raw + rec->len);
		set_time(r, record_element(rec, 3), rec->raw + rec->len);
		r->op = "INSERT";
		break;
	case K_ROW:
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE: {
		bool as_update = false;

		if (p == NULL || p->drop)
			return EXIT_OK;
		if (p->pass)
			break;
		r->op = rec->kind == K_UPDATE ? "UPDATE" : rec->kind == K_DELETE ? "DELETE" : "INSERT";
		if (rec->kind == K_ROW) {
			r->position[0] = '\0';
			{
				time_t now = time(NULL);
				struct tm tm;

				gmtime_r(&now, &tm);
				strftime(r->commit_time, sizeof(r->commit_time), "%Y-%m-%d %H:%M:%S", &tm);
			}
		}
		if (!(rec->kind == K_ROW && p->part_filtered) &&
		    !passes(r, p, rec->values, rec->values_len, &status))
			return status;
		as_update = rec->kind == K_DELETE && p->op_indicator;
		msgpack_pack_array(&r->pk, rec->kind == K_UPDATE || as_update ? 4 : 3);
		msgpack_pack_int(&r->pk, as_update ? K_UPDATE : rec->kind);
		msgpack_pack_int64(&r->pk, rec->table->tid);
		if (as_update) {
			/* operation_indicator: the deleted row is kept and flagged */
			if ((status = pack_values(r, p, rec->values, rec->values_len, true, true,
						  rec->values, rec->values_len)) != EXIT_OK ||
			    (status = pack_values(r, p, rec->values, rec->values_len, false, false,
						  rec->values, rec->values_len)) != EXIT_OK)
				return status;
		} else {
			const uint8_t *before = rec->kind == K_UPDATE ? rec->old_values
					      : rec->kind == K_DELETE ? rec->values : NULL;
			size_t before_len = rec->kind == K_UPDATE ? rec->old_values_len
					  : rec->kind == K_DELETE ? rec->values_len : 0;

			status = pack_values(r, p, rec->values, rec->values_len, rec->kind != K_DELETE,
					     false, before, before_len);
			if (status == EXIT_OK && rec->kind == K_UPDATE) {
				if (rec->old_values == NULL)
					msgpack_pack_nil(&r->pk);
				else
					status = pack_values(r, p, rec->old_values, rec->old_values_len,
							     false, false, rec->old_values,
							     rec->old_values_len);
			}
			if (status != EXIT_OK)
				return status;
		}
		goto packed;
	}
	case K_TRUNCATE: {
		struct mp_cursor c;
		struct mp_item it;
		const uint8_t *tids = record_element(rec, 1), *attrs;
		int64_t kept[1024];
		int nkept = 0;

		mp_cursor_init(&c, tids, rec->len - (size_t)(tids - rec->raw));
		mp_next(&c, &it);
		for (uint32_t i = 0; i < it.v.n; i++) {
			struct mp_item t;
			struct plan *tp;

			mp_next(&c, &t);
			tp = plan_of(r, (int64_t)t.v.u);
			if (tp && !tp->drop && nkept < 1024)
				kept[nkept++] = (int64_t)t.v.u;
		}
		if (nkept == 0)
			return EXIT_OK;
		if ((uint32_t)nkept == it.v.n)
			break;
		attrs = c.p;
		msgpack_pack_array(&r->pk, 3);
		msgpack_pack_int(&r->pk, K_TRUNCATE);
		msgpack_pack_array(&r->pk, (size_t)nkept);
		for (int i = 0; i < nkept; i++)
			msgpack_pack_int64(&r->pk, kept[i]);
		mp_skip(&c);
		msgpack_pack_str_body(&r->pk, attrs, (size_t)(c.p - attrs));
		goto packed;
	}
	case K_PART_BEGIN:
		if (p == NULL || p->drop)
			return EXIT_OK;
		p->part_out = 0;
		{
			const uint8_t *attrs = record_element(rec, 2);
			bool filtered = false;

			attrs_bool(attrs, rec->len - (size_t)(attrs - rec->raw), "filtered", &filtered);
			p->part_filtered = filtered;
		}
		break;
	case K_PART_END: {
		struct mp_cursor c;
		struct mp_item it;
		const uint8_t *attrs;

		if (p == NULL || p->drop)
			return EXIT_OK;
		/* the reader checked the count; it now says what this part holds */
		mp_cursor_init(&c, record_element(rec, 2), rec->len - (size_t)(record_element(rec, 2) - rec->raw));
		mp_next(&c, &it);
		if (p->part_out == it.v.u)
			break;
		attrs = c.p;
		{
			char *part = attrs_str(attrs, rec->len - (size_t)(attrs - rec->raw), "part");

			rec_part_end(&r->pk, rec->table->tid, p->part_out, part);
			free(part);
		}
		goto packed;
	}
	default:
		break;
	}
	if (rec->kind == K_ROW)
		p->part_out++;
	return out_write(out, rec->raw, rec->len) ? EXIT_OK : EXIT_OUTPUT;
packed:
	if (rec->kind == K_ROW)
		p->part_out++;
	return out_write(out, r->sbuf.data, r->sbuf.size) ? EXIT_OK : EXIT_OUTPUT;
}
