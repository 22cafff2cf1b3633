/*
 * ddl.c: column types on the target, and value helpers shared by the engines.
 *
 * A same-engine copy keeps the source's own type (the native attr). A
 * cross-engine copy maps the DMS type as dms-load(1) documents in its TYPE
 * MAPPING table; keep the two in step.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "../common/dms.h"

static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[256];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	sb_adds(&sb, buf);
	return sb.buf;
}

static bool
native_is(const struct tcol *c, const char *prefix)
{
	return c->src->native != NULL && strncmp(c->src->native, prefix, strlen(prefix)) == 0;
}

char *
pg_column_type(const struct loader *l, const struct tcol *c)
{
	int scale = c->src->scale >= 0 && c->src->scale <= 6 ? c->src->scale : 6;

	if (l->source == ENGINE_PG && c->src->native != NULL)
		return xstrdup(c->src->native);
	switch (c->src->type) {
	case DT_BOOLEAN: return xstrdup("boolean");
	case DT_INT1: case DT_INT2: case DT_UINT1: return xstrdup("smallint");
	case DT_INT4: case DT_UINT2: return xstrdup("integer");
	case DT_INT8: case DT_UINT4: return xstrdup("bigint");
	case DT_UINT8: return xstrdup("numeric(20,0)");
	case DT_REAL4: return xstrdup("real");
	case DT_REAL8: return xstrdup("double precision");
	case DT_NUMERIC:
		if (c->src->precision > 0 && c->src->precision <= 1000 && c->src->scale >= 0 && c->src->scale <= c->src->precision)
			return fmt("numeric(%d,%d)", c->src->precision, c->src->scale);
		return xstrdup("numeric");
	case DT_STRING: case DT_WSTRING:
		if (native_is(c, "enum") || native_is(c, "set"))
			return xstrdup("text");
		if (c->src->length > 0 && c->src->length <= 10485760)
			return fmt("varchar(%" PRId64 ")", c->src->length);
		return xstrdup("text");
	case DT_CLOB: case DT_NCLOB: return xstrdup("text");
	case DT_BYTES: case DT_BLOB: return xstrdup("bytea");
	case DT_DATE: return xstrdup("date");
	case DT_TIME: return fmt("time(%d)", scale);
	case DT_DATETIME: return fmt("timestamp(%d)", scale);
	case DT_DATETIMETZ: return fmt("timestamptz(%d)", scale);
	case DT_JSON: return xstrdup("json");
	case DT_UUID: return xstrdup("uuid");
	case DT_INTERVAL: return xstrdup("interval");
	default: return xstrdup("text");
	}
}

char *
my_column_type(const struct loader *l, const struct tcol *c)
{
	int scale = c->src->scale >= 0 && c->src->scale <= 6 ? c->src->scale : 6;

	if (l->source == ENGINE_MYSQL && c->src->native != NULL) {
		if (c->src->type == DT_JSON)
			return xstrdup("json");
		return xstrdup(c->src->native);
	}
	switch (c->src->type) {
	case DT_BOOLEAN: return xstrdup("tinyint(1)");
	case DT_INT1: return xstrdup("tinyint");
	case DT_INT2: return xstrdup("smallint");
	case DT_INT4: return xstrdup("int");
	case DT_INT8: return xstrdup("bigint");
	case DT_UINT1: return xstrdup("tinyint unsigned");
	case DT_UINT2: return xstrdup("smallint unsigned");
	case DT_UINT4: return xstrdup("int unsigned");
	case DT_UINT8: return xstrdup("bigint unsigned");
	case DT_REAL4: return xstrdup("float");
	case DT_REAL8: return xstrdup("double");
	case DT_NUMERIC:
		if (c->src->precision > 0 && c->src->precision <= 65 && c->src->scale >= 0 && c->src->scale <= 30 &&
		    c->src->scale <= c->src->precision)
			return fmt("decimal(%d,%d)", c->src->precision, c->src->scale);
		return xstrdup("decimal(65,30)");
	case DT_STRING: case DT_WSTRING:
		if (c->src->length > 0 && c->src->length <= (c->indexed ? 768 : 16383))
			return fmt("varchar(%" PRId64 ")", c->src->length);
		return xstrdup(c->indexed ? "varchar(768)" : "longtext");
	case DT_CLOB: case DT_NCLOB:
		return xstrdup(c->indexed ? "varchar(768)" : "longtext");
	case DT_BYTES:
		if (c->src->length > 0 && c->src->length <= (c->indexed ? 3072 : 65535))
			return fmt("varbinary(%" PRId64 ")", c->src->length);
		return xstrdup(c->indexed ? "varbinary(3072)" : "longblob");
	case DT_BLOB:
		return xstrdup(c->indexed ? "varbinary(3072)" : "longblob");
	case DT_DATE: return xstrdup("date");
	case DT_TIME: return fmt("time(%d)", scale);
	case DT_DATETIME: case DT_DATETIMETZ: return fmt("datetime(%d)", scale);
	case DT_JSON: return xstrdup("json");
	case DT_UUID: return xstrdup("char(36)");
	case DT_INTERVAL: return xstrdup("varchar(100)");
	default: return xstrdup(c->indexed ? "varchar(768)" : "longtext");
	}
}

size_t
lob_limit(const struct loader *l, const struct ttable *t, const struct tcol *c)
{
	const struct task_settings *s = l->settings;

	if (dms_type_is_lob(c->src->type) && t->lob_mode == 1 && t->lob_kb > 0)
		return (size_t)t->lob_kb * 1024;
	if (!dms_type_is_lob(c->src->type) || t->lob_mode == 2 || !s->from_file || s->full_lob_mode || !s->limited_lob_mode ||
	    s->lob_max_size_kb <= 0)
		return 0;
	return (size_t)s->lob_max_size_kb * 1024;
}

size_t
lob_truncate(const struct loader *l, const struct ttable *t, const struct tcol *c,
	     const uint8_t *values, size_t values_len, const uint8_t *p, size_t len, size_t limit,
	     bool text)
{
	char key[256];
	size_t n = limit;

	(void)l;
	if (len <= limit)
		return len;
	if (text)
		while (n > 0 && (p[n] & 0xc0) == 0x80)
			n--;
	values_key_text(t->src, values, values_len, key, sizeof(key));
	log_warn("%s.%s column %s: LOB of %zu bytes truncated to %zu (LimitedSizeLobMode, LobMaxSize %zu KB)%s%s",
		 t->schema, t->name, c->src->name, len, n, limit / 1024, key[0] ? ", key " : "", key);
	return n;
}

/* MySQL: the bytes a column of this type takes in an index; *chars set for varchar (4 bytes each). */
static int64_t
my_key_bytes(const char *sqltype, int64_t *var_len, bool *chars)
{
	int a = 0, b = 0;

	*var_len = -1;
	*chars = false;
	if (sscanf(sqltype, "varchar(%d)", &a) == 1) {
		*var_len = a;
		*chars = true;
		return 4 * (int64_t)a;
	}
	if (sscanf(sqltype, "varbinary(%d)", &a) == 1) {
		*var_len = a;
		return a;
	}
	if (sscanf(sqltype, "char(%d)", &a) == 1)
		return 4 * (int64_t)a;
	if (sscanf(sqltype, "decimal(%d,%d)", &a, &b) == 2)
		return a / 2 + 1;
	if (strncmp(sqltype, "tinyint", 7) == 0)
		return 1;
	if (strncmp(sqltype, "smallint", 8) == 0)
		return 2;
	if (strncmp(sqltype, "int", 3) == 0 || strcmp(sqltype, "float") == 0)
		return 4;
	if (strcmp(sqltype, "date") == 0)
		return 3;
	return 8;
}

/*
 * InnoDB refuses a key longer than 3072 bytes ("Specified key was too
 * long"): the variable-length columns of each key (the primary key, each
 * index) share what its fixed ones leave, so that the table can be created
 * and its keys built. A longer value is then refused alone, as a row the
 * target cannot hold.
 */
void
my_fit_keys(const struct loader *l, struct ttable *t)
{
	const int64_t limit = 3072;
	int nkeys = t->nindexes + (t->src->nkey > 0);

	(void)l;
	for (int k = 0; k < nkeys; k++) {
		const int *cols;
		int ncols, nvar = 0;
		int64_t fixed = 0, total = 0;

		if (k < t->nindexes) {
			cols = t->indexes[k].cols;
			ncols = t->indexes[k].ncols;
		} else {
			cols = (const int *)t->src->key;
			ncols = (int)t->src->nkey;
		}
		for (int i = 0; i < ncols; i++) {
			const struct tcol *c = &t->cols[cols[i]];
			int64_t len;
			bool chars;
			int64_t bytes;

			if (c->sqltype == NULL)
				continue;
			bytes = my_key_bytes(c->sqltype, &len, &chars);
			total += bytes;
			if (len >= 0)
				nvar++;
			else
				fixed += bytes;
		}
		if (total <= limit || nvar == 0)
			continue;
		for (int i = 0; i < ncols; i++) {
			struct tcol *c = &t->cols[cols[i]];
			int64_t len, share = (limit - fixed) / nvar, fit;
			bool chars;

			if (c->sqltype == NULL)
				continue;
			my_key_bytes(c->sqltype, &len, &chars);
			fit = chars ? share / 4 : share;
			if (len < 0 || len <= fit || fit < 1)
				continue;
			free(c->narrowed);
			c->narrowed = xstrdup(c->sqltype);
			free(c->sqltype);
			c->sqltype = fmt("%s(%" PRId64 ")", chars ? "varchar" : "varbinary", fit);
		}
	}
}
