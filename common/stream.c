/*
 * stream.c: the record stream, format version 1 (dms-stream(5)): the checker
 * every reader runs on every record, tables by tid, and the stream reader.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "log.h"
#include "dms.h"

static const char *const kind_names[K_COUNT] = {
	"HELLO", "TABLE", "ROW", "BEGIN", "INSERT", "UPDATE", "DELETE",
	"TRUNCATE", "COMMIT", "CHECKPOINT", "PART_BEGIN", "PART_END", "END", "REJECT",
};
static const unsigned kind_arity[K_COUNT] = { 3, 7, 3, 4, 3, 4, 3, 3, 4, 3, 3, 4, 2, 3 };

const char *
dms_kind_name(enum dms_kind k)
{
	return (unsigned)k < K_COUNT ? kind_names[k] : "?";
}

unsigned
dms_kind_arity(enum dms_kind k)
{
	return (unsigned)k < K_COUNT ? kind_arity[k] : 0;
}

void
table_release(struct dms_table *t)
{
	table_decoded_free(t);
	for (uint32_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type_name);
	}
	free(t->cols);
	free(t->key);
	free(t->schema);
	free(t->name);
	free(t->raw);
	memset(t, 0, sizeof(*t));
}

void
table_free(struct dms_table *t)
{
	if (t == NULL)
		return;
	table_release(t);
	free(t);
}

void
stream_init(struct dms_stream *st)
{
	memset(st, 0, sizeof(*st));
}

/* Keeps a replaced definition until stream_release; false when out of memory (t freed). */
static bool
retire(struct dms_stream *st, struct dms_table *t)
{
	struct dms_table **grown;

	if (t == NULL)
		return true;
	grown = realloc(st->retired, (st->nretired + 1) * sizeof(*grown));
	if (grown == NULL) {
		table_free(t);
		return false;
	}
	st->retired = grown;
	st->retired[st->nretired++] = t;
	return true;
}

static void
drop_tables(struct dms_stream *st)
{
	for (size_t i = 0; i < st->ntables; i++)
		retire(st, st->tables[i]);
	free(st->tables);
	st->tables = NULL;
	st->ntables = 0;
}

void
stream_release(struct dms_stream *st)
{
	drop_tables(st);
	for (size_t i = 0; i < st->nretired; i++)
		table_free(st->retired[i]);
	free(st->retired);
	st->retired = NULL;
	st->nretired = 0;
}

struct dms_table *
stream_table(const struct dms_stream *st, int64_t tid)
{
	if (tid < 0 || (uint64_t)tid >= st->ntables)
		return NULL;
	return st->tables[tid];
}

const uint8_t *
record_element(const struct dms_record *rec, unsigned index)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, rec->raw, rec->len);
	mp_next(&c, &it);
	for (unsigned i = 0; i < index; i++)
		mp_skip(&c);
	return c.p;
}

const char *
table_label(const struct dms_table *t)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s.%s", t->schema, t->name);
	return buf;
}

/* A short text of a scalar value for messages. */
static void
value_text(const struct mp_item *it, char *buf, size_t size)
{
	switch (it->type) {
	case MP_NIL:
		snprintf(buf, size, "NULL");
		break;
	case MP_BOOL:
		snprintf(buf, size, "%s", it->v.b ? "true" : "false");
		break;
	case MP_INT:
		snprintf(buf, size, "%" PRId64, it->v.i);
		break;
	case MP_UINT:
		snprintf(buf, size, "%" PRIu64, it->v.u);
		break;
	case MP_FLOAT32:
		snprintf(buf, size, "%g", (double)it->v.f32);
		break;
	case MP_FLOAT64:
		snprintf(buf, size, "%.17g", it->v.f64);
		break;
	case MP_STR: {
		int n = it->v.s.len > 40 ? 40 : (int)it->v.s.len;

		snprintf(buf, size, "'%.*s%s'", n, (const char *)it->v.s.p,
			 it->v.s.len > 40 ? "..." : "");
		break;
	}
	case MP_BIN:
		snprintf(buf, size, "<%u bytes>", it->v.s.len);
		break;
	default:
		snprintf(buf, size, "<%s>", mp_type_name(it->type));
		break;
	}
}

void
values_key_text(const struct dms_table *t, const uint8_t *values, size_t len, char *buf,
		size_t size)
{
	struct mp_cursor c;
	struct mp_item it;
	size_t used = 0;

	buf[0] = '\0';
	if (t == NULL || values == NULL || t->nkey == 0)
		return;
	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY)
		return;
	for (uint32_t i = 0; i < it.v.n && i < t->ncols; i++) {
		struct mp_cursor at = c;
		struct mp_item v;

		if (mp_skip(&c) != MP_OK)
			return;
		for (uint32_t k = 0; k < t->nkey; k++) {
			char text[64];
			int n;

			if (t->key[k] != i || mp_next(&at, &v) != MP_OK)
				continue;
			value_text(&v, text, sizeof(text));
			n = snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : "",
				     t->cols[i].name, text);
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
	}
}

/* The checker's working state for one record. */
struct check {
	struct dms_stream *st;
	struct mp_cursor c;
	const uint8_t *start;
	uint64_t seq;
	enum dms_kind kind;
	struct dms_table *table;
	int rc;			/* MP_INCOMPLETE when input ran out */
};

static bool
bad(struct check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
bad(struct check *k, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (k->table != NULL)
		log_error("record %" PRIu64 " (%s of %s): %s", k->seq, dms_kind_name(k->kind),
			  table_label(k->table), why);
	else if ((unsigned)k->kind < K_COUNT)
		log_error("record %" PRIu64 " (%s): %s", k->seq, dms_kind_name(k->kind), why);
	else
		log_error("record %" PRIu64 ": %s", k->seq, why);
	k->rc = CHECK_BAD;
	return false;
}

/* Reads the next item; on MP_INCOMPLETE or MP_INVALID sets k->rc and fails. */
static bool
next(struct check *k, struct mp_item *it, const char *what)
{
	int rc = mp_next(&k->c, it);

	if (rc == MP_OK)
		return true;
	if (rc == MP_INCOMPLETE) {
		k->rc = CHECK_INCOMPLETE;
		return false;
	}
	return bad(k, "%s: byte 0x%02x at offset %zu is not MessagePack", what, *k->c.p,
		   (size_t)(k->c.p - k->start));
}

static bool
skip(struct check *k, const char *what)
{
	int rc = mp_skip_bounded(&k->c, DMS_MAX_NESTING);

	if (rc == MP_OK)
		return true;
	if (rc == MP_INCOMPLETE) {
		k->rc = CHECK_INCOMPLETE;
		return false;
	}
	return bad(k, "%s: invalid MessagePack, or arrays and maps nested more than %d deep",
		   what, DMS_MAX_NESTING);
}

static bool
expect(struct check *k, struct mp_item *it, enum mp_type type, const char *what)
{
	if (!next(k, it, what))
		return false;
	if (it->type == MP_ARRAY && type != MP_ARRAY)
		return bad(k, "%s: expected %s, got an array", what, mp_type_name(type));
	if (it->type != type && !(type == MP_UINT && it->type == MP_INT))
		return bad(k, "%s: expected %s, got %s", what, mp_type_name(type),
			   mp_type_name(it->type));
	return true;
}

/*
 * The attrs a writer may put in a record, with the shape of each value. The
 * checker holds every attrs map to these, so that no reader downstream has
 * to doubt an attribute's type: a known key of another shape is a malformed
 * record. Keys it does not know are skipped (a later version may add some).
 */
enum attr_shape {
	A_UINT, A_INT, A_STR, A_BOOL, A_SCALAR,	/* A_SCALAR: any value but an array or map */
	A_STRS,			/* an array of str */
	A_COLUMNS,		/* an array of column indexes of the table */
	A_MAP,			/* a map, its keys held to .sub */
	A_MAPS,			/* an array of such maps */
};

struct attr_rule {
	const char *key;
	enum attr_shape shape;
	const struct attr_rule *sub;
};

static const struct attr_rule hello_attrs[] = {
	{ "engine", A_STR, NULL }, { "stream", A_STR, NULL }, { "tool", A_STR, NULL },
	{ "server", A_STR, NULL }, { "database", A_STR, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule column_attrs[] = {
	{ "length", A_INT, NULL }, { "precision", A_INT, NULL }, { "scale", A_INT, NULL },
	{ "native", A_STR, NULL }, { "unsigned", A_BOOL, NULL }, { "identity", A_BOOL, NULL },
	{ "charset", A_STR, NULL }, { "collation", A_STR, NULL }, { "default", A_SCALAR, NULL },
	{ "missing", A_SCALAR, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule index_attrs[] = {
	{ "name", A_STR, NULL }, { "columns", A_COLUMNS, NULL }, { "unique", A_BOOL, NULL },
	{ NULL, A_SCALAR, NULL },
};
static const struct attr_rule fkey_attrs[] = {
	{ "name", A_STR, NULL }, { "columns", A_STRS, NULL }, { "ref_schema", A_STR, NULL },
	{ "ref_table", A_STR, NULL }, { "ref_columns", A_STRS, NULL },
	{ "on_delete", A_STR, NULL }, { "on_update", A_STR, NULL },
	{ NULL, A_SCALAR, NULL },
};
static const struct attr_rule lob_attrs[] = {
	{ "mode", A_STR, NULL }, { "bulk_max_size", A_INT, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule table_attrs[] = {
	{ "estimated_rows", A_INT, NULL }, { "indexes", A_MAPS, index_attrs },
	{ "foreign_keys", A_MAPS, fkey_attrs }, { "lob_settings", A_MAP, lob_attrs },
	{ "dropped", A_BOOL, NULL }, { "renamed_from", A_STRS, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule truncate_attrs[] = {
	{ "cascade", A_BOOL, NULL }, { "restart_identity", A_BOOL, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule commit_attrs[] = {
	{ "changes", A_UINT, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule part_attrs[] = {
	{ "part", A_STR, NULL }, { "range", A_STR, NULL }, { "snapshot", A_STR, NULL },
	{ "position", A_STR, NULL }, { "filtered", A_BOOL, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule reject_attrs[] = {
	{ "key", A_STR, NULL }, { "values", A_STR, NULL }, { "error", A_STR, NULL },
	{ "rule", A_STR, NULL }, { "truncation", A_BOOL, NULL }, { NULL, A_SCALAR, NULL },
};
static const struct attr_rule end_attrs[] = {
	{ "rows", A_UINT, NULL }, { "records", A_UINT, NULL }, { "stopped", A_BOOL, NULL },
	{ NULL, A_SCALAR, NULL },
};

static bool attrs_map(struct check *k, const char *what, const struct attr_rule *rules,
		      unsigned depth);

/* One attribute's value, held to its rule. */
static bool
attr_value(struct check *k, const char *what, const struct attr_rule *rule, unsigned depth)
{
	struct mp_cursor before = k->c;
	struct mp_item it;
	const char *want;

	if (rule->shape == A_MAP)
		return attrs_map(k, what, rule->sub, depth + 1);
	if (!next(k, &it, what))
		return false;
	switch (rule->shape) {
	case A_UINT:
		if (it.type == MP_UINT)
			return true;
		want = "a non-negative integer";
		break;
	case A_INT:
		if (it.type == MP_UINT || it.type == MP_INT)
			return true;
		want = "an integer";
		break;
	case A_STR:
		if (it.type == MP_STR)
			return true;
		want = "a str";
		break;
	case A_BOOL:
		if (it.type == MP_BOOL)
			return true;
		want = "a bool";
		break;
	case A_SCALAR:
		if (it.type != MP_ARRAY && it.type != MP_MAP)
			return true;
		want = "a scalar value";
		break;
	default:		/* the arrays */
		if (it.type != MP_ARRAY) {
			want = "an array";
			break;
		}
		for (uint32_t i = 0, n = it.v.n; i < n; i++) {
			struct mp_item e;

			if (rule->shape == A_MAPS) {
				if (!attrs_map(k, what, rule->sub, depth + 1))
					return false;
				continue;
			}
			if (!next(k, &e, what))
				return false;
			if (rule->shape == A_STRS && e.type != MP_STR)
				return bad(k, "%s: %s: element %u: expected a str, got %s", what,
					   rule->key, i + 1, mp_type_name(e.type));
			if (rule->shape == A_COLUMNS &&
			    (e.type != MP_UINT || k->table == NULL || e.v.u >= k->table->ncols))
				return bad(k, "%s: %s: element %u is not a column index below %u",
					   what, rule->key, i + 1, k->table ? k->table->ncols : 0);
		}
		return true;
	}
	k->c = before;
	return bad(k, "%s: %s: expected %s, got %s", what, rule->key, want, mp_type_name(it.type));
}

/*
 * An attrs map: str keys, each known key's value of its shape, nesting
 * bounded. On success *at and *len (when asked for) span the whole map.
 */
static bool
attrs_map(struct check *k, const char *what, const struct attr_rule *rules, unsigned depth)
{
	struct mp_item it;

	if (depth > 4)
		return bad(k, "%s: attrs nested more than 4 deep", what);
	if (!expect(k, &it, MP_MAP, what))
		return false;
	for (uint32_t i = 0, n = it.v.n; i < n; i++) {
		const struct attr_rule *rule = rules;
		struct mp_item key;

		if (!next(k, &key, what))
			return false;
		if (key.type != MP_STR)
			return bad(k, "%s: an attrs key is %s, not a str", what, mp_type_name(key.type));
		while (rule->key != NULL && !mp_str_eq(&key, rule->key))
			rule++;
		if (rule->key == NULL ? !skip(k, what) : !attr_value(k, what, rule, depth))
			return false;
	}
	return true;
}

static bool
map(struct check *k, const char *what, const struct attr_rule *rules, const uint8_t **at,
    size_t *len)
{
	const uint8_t *p = k->c.p;

	if (!attrs_map(k, what, rules, 0))
		return false;
	if (at != NULL) {
		*at = p;
		*len = (size_t)(k->c.p - p);
	}
	return true;
}

static bool
tid(struct check *k, int64_t *out)
{
	struct mp_item it;

	if (!next(k, &it, "tid"))
		return false;
	if (it.type != MP_UINT || it.v.u >= DMS_MAX_TID)
		return bad(k, "tid: expected an integer from 0 to %u", DMS_MAX_TID - 1);
	*out = (int64_t)it.v.u;
	return true;
}

static bool
defined_table(struct check *k)
{
	int64_t t;

	if (!tid(k, &t))
		return false;
	k->table = stream_table(k->st, t);
	if (k->table == NULL)
		return bad(k, "table %" PRId64 " is not defined (no TABLE record before it)", t);
	return true;
}

static bool
timestamp_or_nil(struct check *k, const char *what)
{
	struct mp_item it;
	int64_t sec;
	uint32_t nsec;

	if (!next(k, &it, what))
		return false;
	if (it.type == MP_NIL || mp_timestamp(&it, &sec, &nsec))
		return true;
	return bad(k, "%s: expected a timestamp (ext -1) or nil, got %s", what,
		   mp_type_name(it.type));
}

static bool
str_or_nil(struct check *k, const char *what)
{
	struct mp_item it;

	if (!next(k, &it, what))
		return false;
	if (it.type == MP_NIL || it.type == MP_STR)
		return true;
	return bad(k, "%s: expected a str or nil, got %s", what, mp_type_name(it.type));
}

enum image { IMAGE_NEW, IMAGE_UPDATE_NEW, IMAGE_OLD };

static bool
values(struct check *k, enum image image, const char *what, const uint8_t **at, size_t *len)
{
	struct dms_table *t = k->table;
	struct mp_item it;
	const uint8_t *start = k->c.p;

	if (!next(k, &it, what))
		return false;
	if (image == IMAGE_OLD && it.type == MP_NIL && k->kind == K_UPDATE) {
		*at = NULL;
		*len = 0;
		return true;
	}
	if (it.type != MP_ARRAY)
		return bad(k, "%s: expected an array of values, got %s", what,
			   mp_type_name(it.type));
	if (it.v.n != t->ncols)
		return bad(k, "%s: %u values for %u columns", what, it.v.n, t->ncols);
	*at = start;
	for (uint32_t i = 0; i < t->ncols; i++) {
		const struct dms_column *col = &t->cols[i];
		struct mp_cursor before = k->c;
		const char *why = "";

		if (!next(k, &it, what))
			return false;
		if (it.type == MP_ARRAY || it.type == MP_MAP) {
			if (col->type != DT_UNKNOWN)
				return bad(k, "%s: column %s (%s): expected a scalar value, got %s",
					   what, col->name, col->type_name, mp_type_name(it.type));
			k->c = before;
			if (!skip(k, what))
				return false;
			continue;
		}
		if (it.type == MP_NIL) {
			if (!col->nullable && image != IMAGE_OLD) {
				char key[256];

				values_key_text(t, start, (size_t)(k->c.end - start), key, sizeof(key));
				return bad(k, "%s: column %s is NOT NULL but the value is nil%s%s%s", what,
					   col->name, key[0] ? " (key " : "", key, key[0] ? ")" : "");
			}
			continue;
		}
		if (mp_is_unchanged(&it)) {
			if (image != IMAGE_UPDATE_NEW)
				return bad(k, "%s: column %s: UNCHANGED is only allowed in the new values of an UPDATE",
					   what, col->name);
			continue;
		}
		if (!dms_type_check(col->type, &it, &why)) {
			char key[256], text[64];

			value_text(&it, text, sizeof(text));
			values_key_text(t, start, (size_t)(k->c.end - start), key, sizeof(key));
			return bad(k, "%s: column %s (%s): expected %s, got %s %s%s%s%s", what,
				   col->name, col->type_name, why, mp_type_name(it.type), text,
				   key[0] ? " (key " : "", key, key[0] ? ")" : "");
		}
	}
	*len = (size_t)(k->c.p - start);
	return true;
}

static char *
dup_str(const struct mp_item *it)
{
	char *s = malloc((size_t)it->v.s.len + 1);

	if (s != NULL) {
		memcpy(s, it->v.s.p, it->v.s.len);
		s[it->v.s.len] = '\0';
	}
	return s;
}

/* TABLE: [1, tid, schema, name, columns, key, attrs]; builds the new table. */
static bool
table_record(struct check *k, struct dms_table **out)
{
	struct dms_table *t = calloc(1, sizeof(*t));
	struct mp_item it;
	bool ok;

	*out = t;
	if (t == NULL)
		return bad(k, "out of memory");
	if (!tid(k, &t->tid))
		return false;
	if (!expect(k, &it, MP_STR, "schema") || (t->schema = dup_str(&it)) == NULL)
		return k->rc == CHECK_OK ? bad(k, "out of memory") : false;
	if (!expect(k, &it, MP_STR, "name") || (t->name = dup_str(&it)) == NULL)
		return k->rc == CHECK_OK ? bad(k, "out of memory") : false;
	if (!expect(k, &it, MP_ARRAY, "columns"))
		return false;
	if (it.v.n > DMS_MAX_COLUMNS)
		return bad(k, "columns: %u columns, more than the %u a table may have", it.v.n,
			   DMS_MAX_COLUMNS);
	if ((size_t)(k->c.end - k->c.p) < 5 * (size_t)it.v.n) {
		/* each column takes at least 5 bytes: wait for them before allocating */
		k->rc = CHECK_INCOMPLETE;
		return false;
	}
	if (it.v.n > 0 && (t->cols = calloc(it.v.n, sizeof(*t->cols))) == NULL)
		return bad(k, "out of memory");
	t->ncols = it.v.n;	/* table_free() frees as many as there are */
	for (uint32_t i = 0; i < t->ncols; i++) {
		struct dms_column *col = &t->cols[i];
		char what[64];

		snprintf(what, sizeof(what), "column %u", i + 1);
		if (!expect(k, &it, MP_ARRAY, what))
			return false;
		if (it.v.n < 4)
			return bad(k, "%s: expected [name, type, nullable, attrs], got %u elements",
				   what, it.v.n);
		uint32_t extra = it.v.n - 4;

		if (!expect(k, &it, MP_STR, what) || (col->name = dup_str(&it)) == NULL)
			return k->rc == CHECK_OK ? bad(k, "out of memory") : false;
		if (!expect(k, &it, MP_STR, what) || (col->type_name = dup_str(&it)) == NULL)
			return k->rc == CHECK_OK ? bad(k, "out of memory") : false;
		col->type = dms_type_from_name(col->type_name, strlen(col->type_name));
		if (!expect(k, &it, MP_BOOL, what))
			return false;
		col->nullable = it.v.b;
		if (!map(k, what, column_attrs, &col->attrs, &col->attrs_len))
			return false;
		while (extra-- > 0)
			if (!skip(k, what))
				return false;
	}
	if (!expect(k, &it, MP_ARRAY, "key"))
		return false;
	t->nkey = it.v.n;
	if (t->nkey > t->ncols)
		return bad(k, "key: %u key columns for %u columns", t->nkey, t->ncols);
	if (t->nkey > 0 && (t->key = calloc(t->nkey, sizeof(*t->key))) == NULL)
		return bad(k, "out of memory");
	for (uint32_t i = 0; i < t->nkey; i++) {
		if (!next(k, &it, "key"))
			return false;
		if (it.type != MP_UINT || it.v.u >= t->ncols)
			return bad(k, "key: element %u is not a column index below %u", i + 1,
				   t->ncols);
		for (uint32_t j = 0; j < i; j++)
			if (t->key[j] == it.v.u)
				return bad(k, "key: column %" PRIu64 " appears twice", it.v.u);
		t->key[i] = (uint32_t)it.v.u;
	}
	k->table = t;	/* index columns are checked against it */
	ok = map(k, "attrs", table_attrs, &t->attrs, &t->attrs_len);
	k->table = NULL;
	return ok;
}

/* Copies the TABLE record and repoints the attrs into the copy. */
static bool
table_install(struct check *k, struct dms_table *t, const uint8_t *raw, size_t len)
{
	struct dms_stream *st = k->st;

	if ((t->raw = malloc(len)) == NULL)
		return bad(k, "out of memory");
	memcpy(t->raw, raw, len);
	for (uint32_t i = 0; i < t->ncols; i++)
		t->cols[i].attrs = t->raw + (t->cols[i].attrs - raw);
	t->attrs = t->raw + (t->attrs - raw);
	t->raw_len = len;
	table_decode(t);
	if ((uint64_t)t->tid >= st->ntables) {
		size_t n = st->ntables ? st->ntables : 16;
		struct dms_table **grown;

		while (n <= (uint64_t)t->tid)
			n *= 2;
		grown = realloc(st->tables, n * sizeof(*grown));
		if (grown == NULL)
			return bad(k, "out of memory");
		memset(grown + st->ntables, 0, (n - st->ntables) * sizeof(*grown));
		st->tables = grown;
		st->ntables = n;
	}
	retire(st, st->tables[t->tid]);
	st->tables[t->tid] = t;
	return true;
}

/* A record's array, its kind, its arity and its place in the stream; sets k->kind and rec->nelem. */
static bool
check_head(struct check *k, struct dms_record *rec)
{
	struct dms_stream *st = k->st;
	struct mp_item it;
	unsigned arity;

	if (!next(k, &it, "record"))
		return false;
	if (it.type != MP_ARRAY)
		return bad(k, "expected a record (a MessagePack array), got %s (byte 0x%02x)",
			   mp_type_name(it.type), k->start[0]);
	rec->nelem = it.v.n;
	if (rec->nelem == 0)
		return bad(k, "empty array: a record starts with its kind");
	if (!next(k, &it, "kind"))
		return false;
	if (it.type != MP_UINT || it.v.u >= K_COUNT) {
		char text[64];

		value_text(&it, text, sizeof(text));
		return bad(k, "unknown record kind %s", text);
	}
	k->kind = (enum dms_kind)it.v.u;
	arity = dms_kind_arity(k->kind);
	if (rec->nelem < arity)
		return bad(k, "%u elements, a %s record has %u", rec->nelem, dms_kind_name(k->kind), arity);
	if (k->kind == K_HELLO) {
		if (st->hello && !st->ended)
			return bad(k, "HELLO in the middle of a stream (the previous one has no END)");
	} else if (!st->hello) {
		return bad(k, "the stream does not start with a HELLO record: is this a dms stream?");
	} else if (st->ended) {
		return bad(k, "record after the END of the stream");
	}
	return true;
}

/* What a checked record changes in the stream's state (a TABLE is installed by the caller). */
static void
stream_advance(struct dms_stream *st, const struct check *k)
{
	switch (k->kind) {
	case K_HELLO:
		drop_tables(st);
		st->hello = true;
		st->ended = false;
		st->in_txn = false;
		st->part_open = false;
		break;
	case K_BEGIN:
		st->in_txn = true;
		break;
	case K_COMMIT:
		st->in_txn = false;
		break;
	case K_PART_BEGIN:
		st->part_open = true;
		st->part_tid = k->table->tid;
		st->part_rows = 0;
		break;
	case K_ROW:
		if (st->part_open && st->part_tid == k->table->tid)
			st->part_rows++;
		break;
	case K_PART_END:
		st->part_open = false;
		break;
	case K_END:
		st->ended = true;
		break;
	default:
		break;
	}
}

int
stream_check(struct dms_stream *st, const uint8_t *p, size_t avail, struct dms_record *rec)
{
	struct check k = { .st = st, .start = p, .seq = st->seq + 1, .kind = K_COUNT };
	struct dms_table *newtable = NULL;
	struct mp_item it;
	unsigned arity;
	bool ok = false;

	mp_cursor_init(&k.c, p, avail);
	memset(rec, 0, sizeof(*rec));
	if (!check_head(&k, rec))
		return k.rc;
	arity = dms_kind_arity(k.kind);

	switch (k.kind) {
	case K_HELLO:
		if (!next(&k, &it, "version"))
			break;
		if (it.type != MP_UINT || it.v.u != DMS_STREAM_VERSION) {
			bad(&k, "stream format version is not %d: this program reads version %d",
			    DMS_STREAM_VERSION, DMS_STREAM_VERSION);
			break;
		}
		ok = map(&k, "attrs", hello_attrs, NULL, NULL);
		break;
	case K_TABLE:
		ok = table_record(&k, &newtable);
		break;
	case K_ROW:
	case K_INSERT:
		ok = defined_table(&k) &&
		     values(&k, IMAGE_NEW, k.kind == K_ROW ? "values" : "new values", &rec->values,
			    &rec->values_len);
		break;
	case K_UPDATE:
		ok = defined_table(&k) &&
		     values(&k, IMAGE_UPDATE_NEW, "new values", &rec->values, &rec->values_len) &&
		     values(&k, IMAGE_OLD, "old values", &rec->old_values, &rec->old_values_len);
		break;
	case K_DELETE:
		ok = defined_table(&k) && values(&k, IMAGE_OLD, "old values", &rec->values, &rec->values_len);
		break;
	case K_BEGIN:
		if (st->in_txn) {
			bad(&k, "BEGIN inside a transaction (no COMMIT for the previous BEGIN)");
			break;
		}
		if (!next(&k, &it, "xid"))
			break;
		if (it.type != MP_UINT && it.type != MP_STR && it.type != MP_NIL) {
			bad(&k, "xid: expected an integer, a str or nil, got %s", mp_type_name(it.type));
			break;
		}
		ok = str_or_nil(&k, "position") && timestamp_or_nil(&k, "commit time");
		break;
	case K_TRUNCATE:
		if (!expect(&k, &it, MP_ARRAY, "tids"))
			break;
		ok = true;
		for (uint32_t i = 0, n = it.v.n; ok && i < n; i++) {
			int64_t t;

			ok = tid(&k, &t);
			if (ok && stream_table(st, t) == NULL)
				ok = bad(&k, "table %" PRId64 " is not defined", t);
		}
		ok = ok && map(&k, "attrs", truncate_attrs, NULL, NULL);
		break;
	case K_COMMIT:
		if (!st->in_txn) {
			bad(&k, "COMMIT without BEGIN");
			break;
		}
		ok = expect(&k, &it, MP_STR, "position") && timestamp_or_nil(&k, "commit time") &&
		     map(&k, "attrs", commit_attrs, NULL, NULL);
		break;
	case K_CHECKPOINT:
		ok = expect(&k, &it, MP_STR, "position") && timestamp_or_nil(&k, "time");
		break;
	case K_PART_BEGIN:
		ok = defined_table(&k) && map(&k, "attrs", part_attrs, NULL, NULL);
		break;
	case K_REJECT:
		ok = defined_table(&k) && map(&k, "attrs", reject_attrs, NULL, NULL);
		break;
	case K_PART_END:
		ok = defined_table(&k) && expect(&k, &it, MP_UINT, "rows");
		/* the count is checked: a row lost or added on the way fails the part */
		if (ok && st->part_open && st->part_tid == k.table->tid && it.v.u != st->part_rows)
			ok = bad(&k, "it counts %" PRIu64 " rows, the part had %" PRIu64
				 ": rows were lost or added on the way", it.v.u, st->part_rows);
		ok = ok && map(&k, "attrs", part_attrs, NULL, NULL);
		break;
	case K_END:
		if (st->in_txn) {
			bad(&k, "END inside an open transaction");
			break;
		}
		ok = map(&k, "attrs", end_attrs, NULL, NULL);
		break;
	default:
		break;
	}
	if ((k.kind == K_INSERT || k.kind == K_UPDATE || k.kind == K_DELETE ||
	     k.kind == K_TRUNCATE) && ok && !st->in_txn)
		ok = bad(&k, "%s outside a transaction (no BEGIN before it)", dms_kind_name(k.kind));
	for (uint32_t i = arity; ok && i < rec->nelem; i++)
		ok = skip(&k, "extra element");
	if (!ok) {
		table_free(newtable);
		return k.rc == CHECK_OK ? CHECK_BAD : k.rc;
	}

	rec->kind = k.kind;
	rec->seq = k.seq;
	rec->raw = p;
	rec->len = (size_t)(k.c.p - p);
	rec->table = k.table;
	if (k.kind == K_TABLE) {
		if (!table_install(&k, newtable, p, rec->len)) {
			table_free(newtable);
			return CHECK_BAD;
		}
		rec->table = newtable;
	}
	stream_advance(st, &k);
	st->seq++;
	return CHECK_OK;
}

struct dms_table *
table_from_record(const uint8_t *p, size_t len)
{
	struct dms_stream st;
	struct dms_record rec;
	struct dms_table *t = NULL;

	stream_init(&st);
	st.hello = true;	/* a TABLE on its own, of no stream */
	if (stream_check(&st, p, len, &rec) == CHECK_OK && rec.kind == K_TABLE) {
		t = st.tables[rec.table->tid];
		st.tables[rec.table->tid] = NULL;
	}
	stream_release(&st);
	return t;
}

bool
reader_init(struct dms_reader *r, int fd, const char *name)
{
	memset(r, 0, sizeof(*r));
	stream_init(&r->st);
	r->cap = 4 * DMS_IO_CHUNK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		log_error("out of memory");
		return false;
	}
	return in_init(&r->in, fd, name);
}

void
reader_release(struct dms_reader *r)
{
	in_release(&r->in);
	stream_release(&r->st);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Makes room at the end of the buffer: moves the unread bytes down, or grows it. */
static bool
make_room(struct dms_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end * 2 > r->cap) {
		size_t cap = r->cap * 2;
		uint8_t *grown;

		if (cap > DMS_MAX_RECORD + DMS_IO_CHUNK) {
			log_error("%s: record %" PRIu64 " is larger than %zu MiB", r->in.name,
				  r->st.seq + 1, DMS_MAX_RECORD >> 20);
			return false;
		}
		if ((grown = realloc(r->buf, cap)) == NULL) {
			log_error("out of memory for record %" PRIu64 " (%zu bytes)", r->st.seq + 1,
				  cap);
			return false;
		}
		r->buf = grown;
		r->cap = cap;
	}
	return true;
}

int
reader_next(struct dms_reader *r, struct dms_record *rec)
{
	for (;;) {
		size_t got;
		enum in_status st;
		int rc = CHECK_INCOMPLETE;

		if (r->end > r->start)
			rc = stream_check(&r->st, r->buf + r->start, r->end - r->start, rec);
		if (rc == CHECK_OK) {
			r->start += rec->len;
			return READ_RECORD;
		}
		if (rc == CHECK_BAD)
			return READ_ERROR;
		if (r->eof) {
			if (r->end > r->start) {
				log_error("%s: truncated stream: record %" PRIu64
					  " is incomplete (%zu bytes at the end)", r->in.name,
					  r->st.seq + 1, r->end - r->start);
				return READ_ERROR;
			}
			if (!r->st.hello) {
				log_error("%s: empty input: no HELLO record", r->in.name);
				return READ_ERROR;
			}
			if (!r->st.ended && r->open_end && !r->st.in_txn)
				return READ_EOF;
			if (!r->st.ended) {
				log_error("%s: the stream ends after record %" PRIu64
					  " without an END record: the producer failed or was killed",
					  r->in.name, r->st.seq);
				return READ_ERROR;
			}
			return READ_EOF;
		}
		if (r->end == r->cap || r->start > r->cap / 2)
			if (!make_room(r))
				return READ_ERROR;
		if (r->before_read != NULL && !r->before_read(r->arg))
			return READ_ERROR;
		st = in_read(&r->in, r->buf + r->end, r->cap - r->end, &got);
		if (st == IN_ERROR)
			return READ_ERROR;
		if (st == IN_INTERRUPTED)
			return READ_INTERRUPTED;
		if (st == IN_EOF)
			r->eof = true;
		r->end += got;
	}
}

bool
writer_init(struct dms_writer *w, int fd, const char *name, bool lz4)
{
	memset(w, 0, sizeof(*w));
	if (!out_init(&w->out, fd, name, lz4))
		return false;
	msgpack_packer_init(&w->pk, &w->out, out_msgpack_write);
	return true;
}

bool
stream_refuse_tty(int fd)
{
	if (!isatty(fd))
		return true;
	log_error("refusing to write a binary stream to a terminal: redirect it, pipe it, "
		  "or read it with 'dms-transform --to-json'");
	return false;
}

void
pk_strn(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void
pk_str(msgpack_packer *pk, const char *s)
{
	pk_strn(pk, s, strlen(s));
}

void
pk_timestamp(msgpack_packer *pk, int64_t sec, uint32_t nsec)
{
	msgpack_timestamp ts = { .tv_sec = sec, .tv_nsec = nsec };

	msgpack_pack_timestamp(pk, &ts);
}

void
pk_unchanged(msgpack_packer *pk)
{
	/* ext 8 with no data: 0xc7 0x00 0x01 (fixext has no zero-length form) */
	msgpack_pack_ext(pk, 0, MP_EXT_UNCHANGED);
}

bool
attrs_find(const uint8_t *attrs, size_t len, const char *key, struct mp_cursor *val)
{
	struct mp_cursor c;
	struct mp_item it;

	if (attrs == NULL)
		return false;
	mp_cursor_init(&c, attrs, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_MAP)
		return false;
	for (uint32_t i = 0; i < it.v.n; i++) {
		struct mp_item k;

		if (mp_next(&c, &k) != MP_OK)
			return false;
		if (mp_str_eq(&k, key)) {
			*val = c;
			return true;
		}
		if (k.type == MP_ARRAY || k.type == MP_MAP) {
			/* a non-scalar key: skip what it holds */
			return false;
		}
		if (mp_skip(&c) != MP_OK)
			return false;
	}
	return false;
}

bool
attrs_int(const uint8_t *attrs, size_t len, const char *key, int64_t *out)
{
	struct mp_cursor c;
	struct mp_item it;

	return attrs_find(attrs, len, key, &c) && mp_next(&c, &it) == MP_OK && mp_as_int64(&it, out);
}

bool
attrs_bool(const uint8_t *attrs, size_t len, const char *key, bool *out)
{
	struct mp_cursor c;
	struct mp_item it;

	if (!attrs_find(attrs, len, key, &c) || mp_next(&c, &it) != MP_OK || it.type != MP_BOOL)
		return false;
	*out = it.v.b;
	return true;
}

char *
attrs_str(const uint8_t *attrs, size_t len, const char *key)
{
	struct mp_cursor c;
	struct mp_item it;

	if (!attrs_find(attrs, len, key, &c) || mp_next(&c, &it) != MP_OK || it.type != MP_STR)
		return NULL;
	return dup_str(&it);
}

void
values_text(const struct dms_table *t, const uint8_t *values, size_t len, char *buf, size_t size)
{
	struct mp_cursor c;
	struct mp_item it;
	size_t used = 0;

	buf[0] = '\0';
	if (t == NULL || values == NULL)
		return;
	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY)
		return;
	for (uint32_t i = 0; i < it.v.n && i < t->ncols; i++) {
		struct mp_cursor at = c;
		struct mp_item v;
		char text[64];
		int n;

		if (mp_skip(&c) != MP_OK || mp_next(&at, &v) != MP_OK)
			return;
		if (mp_is_unchanged(&v))
			snprintf(text, sizeof(text), "UNCHANGED");
		else
			value_text(&v, text, sizeof(text));
		n = snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : "", t->cols[i].name, text);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}
