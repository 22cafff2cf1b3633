/*
 * json.c: the readable form of the stream, one JSON object per record per
 * line, both ways (dms-transform(1), JSON FORM; see json.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"
#include "../common/dms.h"

#define MAX_DEPTH 64

/* Field names of each kind's elements after the kind, in order. */
static const char *const fields[K_COUNT][6] = {
	[K_HELLO] = { "version", "attrs" },
	[K_TABLE] = { "tid", "schema", "name", "columns", "key", "attrs" },
	[K_ROW] = { "tid", "values" },
	[K_BEGIN] = { "xid", "position", "time" },
	[K_INSERT] = { "tid", "new" },
	[K_UPDATE] = { "tid", "new", "old" },
	[K_DELETE] = { "tid", "old" },
	[K_TRUNCATE] = { "tids", "attrs" },
	[K_COMMIT] = { "position", "time", "attrs" },
	[K_CHECKPOINT] = { "position", "time" },
	[K_PART_BEGIN] = { "tid", "attrs" },
	[K_PART_END] = { "tid", "rows", "attrs" },
	[K_END] = { "attrs" },
	[K_REJECT] = { "tid", "attrs" },
};

/* 2024-01-02T03:04:05.123456789Z; the fraction without trailing zeros. */
static void
format_timestamp(int64_t sec, uint32_t nsec, char *buf, size_t size)
{
	int64_t days = sec / 86400, rem = sec % 86400, y;
	unsigned m, d;
	int n;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	dms_civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		n = snprintf(buf, size, "%04" PRId64, y);
	else
		n = snprintf(buf, size, "%+" PRId64, y);
	n += snprintf(buf + n, size - (size_t)n, "-%02u-%02uT%02d:%02d:%02d", m, d,
		      (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (nsec != 0) {
		char frac[16];
		int len = snprintf(frac, sizeof(frac), "%09u", nsec);

		while (len > 0 && frac[len - 1] == '0')
			frac[--len] = '\0';
		n += snprintf(buf + n, size - (size_t)n, ".%s", frac);
	}
	snprintf(buf + n, size - (size_t)n, "Z");
}

static bool
parse_timestamp(const char *s, int64_t *sec, uint32_t *nsec)
{
	char *end;
	long long y;
	unsigned m, d, hh, mm, ss;
	int used = 0;

	errno = 0;
	y = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return false;
	if (sscanf(end, "-%2u-%2uT%2u:%2u:%2u%n", &m, &d, &hh, &mm, &ss, &used) != 5 || used != 15)
		return false;
	end += used;
	if (m < 1 || m > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 59)
		return false;
	*nsec = 0;
	if (*end == '.') {
		unsigned scale = 100000000;
		int digits = 0;

		for (end++; *end >= '0' && *end <= '9'; end++, digits++) {
			if (digits == 9)
				return false;
			*nsec += (uint32_t)(*end - '0') * scale;
			scale /= 10;
		}
		if (digits == 0)
			return false;
	}
	if (strcmp(end, "Z") != 0)
		return false;
	*sec = dms_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
	return true;
}

/* ---- MessagePack -> JSON ---- */

static bool
utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool
put_string(struct dms_out *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	if (!out_write(o, "\"", 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		char esc[6] = { '\\', 0 };
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		if (!out_write(o, s + run, i - run))
			return false;
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (!out_write(o, esc, elen))
			return false;
	}
	return out_write(o, s + run, n - run) && out_write(o, "\"", 1);
}

static bool
put_base64(struct dms_out *o, const char *tag, const uint8_t *p, size_t n)
{
	size_t len = base64_encoded_len(n);
	char *b = xmalloc(len + 1);
	bool ok;

	base64_encode(p, n, b);
	ok = out_str(o, "{\"") && out_str(o, tag) && out_str(o, "\":\"") && out_write(o, b, len) &&
	     out_str(o, "\"}");
	free(b);
	return ok;
}

/* The shortest text of a double that reads back to the same double. */
static void
format_double(double v, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strpbrk(buf, ".e") == NULL) {
		size_t n = strlen(buf);

		snprintf(buf + n, size - n, ".0");
	}
}

static bool
put_float(struct dms_out *o, double v, const char *tag)
{
	char buf[64];

	if (isnan(v) || isinf(v)) {
		const char *text = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

		snprintf(buf, sizeof(buf), "{\"%s\":\"%s\"}", tag, text);
		return out_str(o, buf);
	}
	format_double(v, buf, sizeof(buf));
	if (strcmp(tag, "$f64") == 0)
		return out_str(o, buf);
	return out_str(o, "{\"$f32\":") && out_str(o, buf) && out_str(o, "}");
}

static bool put_value(struct dms_out *o, struct mp_cursor *c, int depth);

static bool
put_map(struct dms_out *o, struct mp_cursor *c, uint32_t n, int depth)
{
	struct mp_cursor look = *c;
	struct mp_item k;
	bool str_keys = true, wrap = false;

	for (uint32_t i = 0; i < n; i++) {
		if (mp_next(&look, &k) != MP_OK)
			return false;
		if (k.type != MP_STR) {
			str_keys = false;
			break;
		}
		if (n == 1 && k.v.s.len > 0 && k.v.s.p[0] == '$')
			wrap = true;
		if (k.type == MP_STR && mp_skip(&look) != MP_OK)
			return false;
	}
	if (!str_keys) {
		/* keys that are not strings: {"$map":[[k,v],...]} */
		if (!out_str(o, "{\"$map\":["))
			return false;
		for (uint32_t i = 0; i < n; i++)
			if (!out_str(o, i ? ",[" : "[") || !put_value(o, c, depth + 1) ||
			    !out_str(o, ",") || !put_value(o, c, depth + 1) || !out_str(o, "]"))
				return false;
		return out_str(o, "]}");
	}
	if (wrap && !out_str(o, "{\"$map\":"))
		return false;
	if (!out_str(o, "{"))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if ((i && !out_str(o, ",")) || !put_value(o, c, depth + 1) || !out_str(o, ":") ||
		    !put_value(o, c, depth + 1))
			return false;
	}
	return out_str(o, "}") && (!wrap || out_str(o, "}"));
}

static bool
put_value(struct dms_out *o, struct mp_cursor *c, int depth)
{
	struct mp_item it;
	char buf[64];

	if (depth > MAX_DEPTH || mp_next(c, &it) != MP_OK)
		return false;
	switch (it.type) {
	case MP_NIL:
		return out_str(o, "null");
	case MP_BOOL:
		return out_str(o, it.v.b ? "true" : "false");
	case MP_INT:
		snprintf(buf, sizeof(buf), "%" PRId64, it.v.i);
		return out_str(o, buf);
	case MP_UINT:
		if (it.v.u > (uint64_t)INT64_MAX)
			snprintf(buf, sizeof(buf), "{\"$u64\":\"%" PRIu64 "\"}", it.v.u);
		else
			snprintf(buf, sizeof(buf), "%" PRIu64, it.v.u);
		return out_str(o, buf);
	case MP_FLOAT32:
		return put_float(o, (double)it.v.f32, "$f32");
	case MP_FLOAT64:
		return put_float(o, it.v.f64, "$f64");
	case MP_STR:
		if (utf8_valid(it.v.s.p, it.v.s.len))
			return put_string(o, it.v.s.p, it.v.s.len);
		return put_base64(o, "$str", it.v.s.p, it.v.s.len);
	case MP_BIN:
		return put_base64(o, "$bin", it.v.s.p, it.v.s.len);
	case MP_ARRAY:
		if (!out_str(o, "["))
			return false;
		for (uint32_t i = 0; i < it.v.n; i++)
			if ((i && !out_str(o, ",")) || !put_value(o, c, depth + 1))
				return false;
		return out_str(o, "]");
	case MP_MAP:
		return put_map(o, c, it.v.n, depth);
	case MP_EXT: {
		int64_t sec;
		uint32_t nsec;

		if (mp_is_unchanged(&it))
			return out_str(o, "{\"$unchanged\":true}");
		if (mp_timestamp(&it, &sec, &nsec)) {
			char ts[64];

			format_timestamp(sec, nsec, ts, sizeof(ts));
			return out_str(o, "{\"$ts\":\"") && out_str(o, ts) && out_str(o, "\"}");
		}
		snprintf(buf, sizeof(buf), "{\"$ext\":[%d,", it.v.ext.type);
		{
			size_t len = base64_encoded_len(it.v.ext.len);
			char *b = xmalloc(len + 1);
			bool ok;

			base64_encode(it.v.ext.p, it.v.ext.len, b);
			ok = out_str(o, buf) && out_str(o, "\"") && out_write(o, b, len) &&
			     out_str(o, "\"]}");
			free(b);
			return ok;
		}
	}
	}
	return false;
}

static bool
put_key(struct dms_out *o, const char *name)
{
	return out_str(o, ",\"") && out_str(o, name) && out_str(o, "\":");
}

/* TABLE columns: [[name, type, nullable, attrs, ...], ...] as objects. */
static bool
put_columns(struct dms_out *o, struct mp_cursor *c)
{
	struct mp_item it, col;

	if (mp_next(c, &it) != MP_OK || !out_str(o, "["))
		return false;
	for (uint32_t i = 0; i < it.v.n; i++) {
		struct mp_cursor attrs;
		struct mp_item m;

		if (mp_next(c, &col) != MP_OK)
			return false;
		if ((i && !out_str(o, ",")) || !out_str(o, "{\"name\":") || !put_value(o, c, 1) ||
		    !put_key(o, "type") || !put_value(o, c, 1) || !put_key(o, "nullable") ||
		    !put_value(o, c, 1))
			return false;
		attrs = *c;
		if (mp_next(&attrs, &m) != MP_OK)
			return false;
		if (m.type == MP_MAP && m.v.n == 0)
			*c = attrs;
		else if (!put_key(o, "attrs") || !put_value(o, c, 1))
			return false;
		if (col.v.n > 4) {
			if (!put_key(o, "extra") || !out_str(o, "["))
				return false;
			for (uint32_t j = 4; j < col.v.n; j++)
				if ((j > 4 && !out_str(o, ",")) || !put_value(o, c, 1))
					return false;
			if (!out_str(o, "]"))
				return false;
		}
		if (!out_str(o, "}"))
			return false;
	}
	return out_str(o, "]");
}

bool
json_write_record(struct dms_out *o, const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	unsigned arity = dms_kind_arity(rec->kind);

	mp_cursor_init(&c, rec->raw, rec->len);
	if (mp_next(&c, &it) != MP_OK || mp_next(&c, &it) != MP_OK)
		return false;
	if (!out_str(o, "{\"kind\":\"") || !out_str(o, dms_kind_name(rec->kind)) || !out_str(o, "\""))
		return false;
	for (unsigned i = 1; i < arity; i++) {
		const char *name = fields[rec->kind][i - 1];

		if (!put_key(o, name))
			return false;
		if (rec->kind == K_TABLE && strcmp(name, "columns") == 0) {
			if (!put_columns(o, &c))
				return false;
		} else if (!put_value(o, &c, 0)) {
			return false;
		}
	}
	if (rec->nelem > arity) {
		if (!put_key(o, "extra") || !out_str(o, "["))
			return false;
		for (unsigned i = arity; i < rec->nelem; i++)
			if ((i > arity && !out_str(o, ",")) || !put_value(o, &c, 0))
				return false;
		if (!out_str(o, "]"))
			return false;
	}
	return out_str(o, "}\n");
}

/* ---- JSON -> MessagePack ---- */

struct jread {
	msgpack_packer *pk;
	char *err;
	size_t errsize;
};

static bool
jfail(struct jread *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
jfail(struct jread *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->err, j->errsize, fmt, ap);
	va_end(ap);
	return false;
}

static bool
decode_base64_into(struct jread *j, const char *tag, json_t *v, uint8_t **out, size_t *len)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return jfail(j, "%s: expected a base64 string", tag);
	s = json_string_value(v);
	n = json_string_length(v);
	*out = xmalloc(n / 4 * 3 + 3);
	if (!base64_decode(s, n, *out, len)) {
		free(*out);
		return jfail(j, "%s: invalid base64", tag);
	}
	return true;
}

static bool
special_float(const char *s, double *v)
{
	if (strcmp(s, "NaN") == 0)
		*v = NAN;
	else if (strcmp(s, "Infinity") == 0)
		*v = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*v = -INFINITY;
	else
		return false;
	return true;
}

static bool pack_value(struct jread *j, json_t *v, int depth);

static bool
pack_tagged(struct jread *j, const char *tag, json_t *v, int depth)
{
	msgpack_packer *pk = j->pk;

	if (strcmp(tag, "$f64") == 0 || strcmp(tag, "$f32") == 0) {
		double d;

		if (json_is_number(v))
			d = json_number_value(v);
		else if (!json_is_string(v) || !special_float(json_string_value(v), &d))
			return jfail(j, "%s: expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"",
				     tag);
		if (tag[2] == '3')
			msgpack_pack_float(pk, (float)d);
		else
			msgpack_pack_double(pk, d);
		return true;
	}
	if (strcmp(tag, "$u64") == 0) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		char *end;
		uint64_t u;

		errno = 0;
		u = strtoull(s, &end, 10);
		if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0)
			return jfail(j, "$u64: expected a decimal string of an unsigned 64-bit integer");
		msgpack_pack_uint64(pk, u);
		return true;
	}
	if (strcmp(tag, "$bin") == 0 || strcmp(tag, "$str") == 0) {
		uint8_t *b;
		size_t n;

		if (!decode_base64_into(j, tag, v, &b, &n))
			return false;
		if (tag[1] == 'b') {
			msgpack_pack_bin(pk, n);
			msgpack_pack_bin_body(pk, b, n);
		} else {
			msgpack_pack_str(pk, n);
			msgpack_pack_str_body(pk, b, n);
		}
		free(b);
		return true;
	}
	if (strcmp(tag, "$ts") == 0) {
		int64_t sec;
		uint32_t nsec;

		if (!json_is_string(v) || !parse_timestamp(json_string_value(v), &sec, &nsec))
			return jfail(j, "$ts: expected \"YYYY-MM-DDTHH:MM:SS[.fffffffff]Z\"");
		pk_timestamp(pk, sec, nsec);
		return true;
	}
	if (strcmp(tag, "$unchanged") == 0) {
		if (!json_is_true(v))
			return jfail(j, "$unchanged: expected true");
		pk_unchanged(pk);
		return true;
	}
	if (strcmp(tag, "$ext") == 0) {
		uint8_t *b;
		size_t n;
		json_int_t type;

		if (!json_is_array(v) || json_array_size(v) != 2 ||
		    !json_is_integer(json_array_get(v, 0)))
			return jfail(j, "$ext: expected [type, base64]");
		type = json_integer_value(json_array_get(v, 0));
		if (type < -128 || type > 127)
			return jfail(j, "$ext: type %lld is not from -128 to 127", (long long)type);
		if (!decode_base64_into(j, tag, json_array_get(v, 1), &b, &n))
			return false;
		msgpack_pack_ext(pk, n, (int8_t)type);
		msgpack_pack_ext_body(pk, b, n);
		free(b);
		return true;
	}
	if (strcmp(tag, "$map") == 0) {
		size_t i;
		json_t *pair;

		if (json_is_object(v)) {
			const char *key;
			json_t *val;

			msgpack_pack_map(pk, json_object_size(v));
			json_object_foreach(v, key, val) {
				pk_str(pk, key);
				if (!pack_value(j, val, depth + 1))
					return false;
			}
			return true;
		}
		if (!json_is_array(v))
			return jfail(j, "$map: expected an object or an array of [key, value]");
		msgpack_pack_map(pk, json_array_size(v));
		json_array_foreach(v, i, pair) {
			if (!json_is_array(pair) || json_array_size(pair) != 2)
				return jfail(j, "$map: element %zu is not [key, value]", i + 1);
			if (!pack_value(j, json_array_get(pair, 0), depth + 1) ||
			    !pack_value(j, json_array_get(pair, 1), depth + 1))
				return false;
		}
		return true;
	}
	return jfail(j, "unknown tag \"%s\" (an object with a single key starting with '$' is a tag)",
		     tag);
}

static bool
pack_value(struct jread *j, json_t *v, int depth)
{
	msgpack_packer *pk = j->pk;

	if (depth > MAX_DEPTH)
		return jfail(j, "values nested deeper than %d", MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_NULL:
		msgpack_pack_nil(pk);
		return true;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		return true;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		return true;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		return true;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		return true;
	case JSON_STRING:
		pk_strn(pk, json_string_value(v), json_string_length(v));
		return true;
	case JSON_ARRAY: {
		size_t i;
		json_t *e;

		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, e)
			if (!pack_value(j, e, depth + 1))
				return false;
		return true;
	}
	case JSON_OBJECT: {
		const char *key;
		json_t *val;

		if (json_object_size(v) == 1) {
			void *iter = json_object_iter(v);

			key = json_object_iter_key(iter);
			if (key[0] == '$')
				return pack_tagged(j, key, json_object_iter_value(iter), depth);
		}
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, key, val) {
			pk_str(pk, key);
			if (!pack_value(j, val, depth + 1))
				return false;
		}
		return true;
	}
	}
	return jfail(j, "unexpected JSON value");
}

static bool
pack_columns(struct jread *j, json_t *cols)
{
	size_t i;
	json_t *col;

	if (!json_is_array(cols))
		return jfail(j, "columns: expected an array");
	msgpack_pack_array(j->pk, json_array_size(cols));
	json_array_foreach(cols, i, col) {
		static const char *const known[] = { "name", "type", "nullable", "attrs", "extra" };
		json_t *extra = json_object_get(col, "extra");
		json_t *attrs = json_object_get(col, "attrs");
		const char *key;
		json_t *val;

		if (!json_is_object(col))
			return jfail(j, "columns: element %zu is not an object", i + 1);
		json_object_foreach(col, key, val) {
			bool ok = false;

			for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
				ok |= strcmp(key, known[k]) == 0;
			if (!ok)
				return jfail(j, "columns: element %zu: unknown field \"%s\"", i + 1, key);
		}
		if (!json_is_string(json_object_get(col, "name")) ||
		    !json_is_string(json_object_get(col, "type")) ||
		    !json_is_boolean(json_object_get(col, "nullable")))
			return jfail(j, "columns: element %zu needs \"name\", \"type\" (strings) and \"nullable\" (a boolean)",
				     i + 1);
		if (extra != NULL && !json_is_array(extra))
			return jfail(j, "columns: element %zu: \"extra\" must be an array", i + 1);
		if (attrs != NULL && !json_is_object(attrs))
			return jfail(j, "columns: element %zu: \"attrs\" must be an object", i + 1);
		msgpack_pack_array(j->pk, 4 + (extra ? json_array_size(extra) : 0));
		pack_value(j, json_object_get(col, "name"), 1);
		pack_value(j, json_object_get(col, "type"), 1);
		pack_value(j, json_object_get(col, "nullable"), 1);
		if (attrs == NULL)
			msgpack_pack_map(j->pk, 0);
		else if (!pack_value(j, attrs, 1))
			return false;
		if (extra != NULL) {
			size_t x;
			json_t *e;

			json_array_foreach(extra, x, e)
				if (!pack_value(j, e, 1))
					return false;
		}
	}
	return true;
}

bool
json_read_record(const char *line, size_t len, msgpack_packer *pk, char *err, size_t errsize)
{
	struct jread j = { .pk = pk, .err = err, .errsize = errsize };
	json_error_t jerr;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	json_t *kindv, *extra;
	const char *key;
	json_t *val;
	int kind = -1;
	unsigned arity;
	bool ok = false;

	if (root == NULL)
		return jfail(&j, "invalid JSON at column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(root)) {
		jfail(&j, "expected a JSON object");
		goto done;
	}
	kindv = json_object_get(root, "kind");
	if (!json_is_string(kindv)) {
		jfail(&j, "missing \"kind\"");
		goto done;
	}
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(json_string_value(kindv), dms_kind_name(k)) == 0)
			kind = k;
	if (kind < 0) {
		jfail(&j, "unknown kind \"%s\"", json_string_value(kindv));
		goto done;
	}
	arity = dms_kind_arity(kind);
	json_object_foreach(root, key, val) {
		bool known = strcmp(key, "kind") == 0 || strcmp(key, "extra") == 0;

		for (unsigned i = 1; i < arity; i++)
			known |= strcmp(key, fields[kind][i - 1]) == 0;
		if (!known) {
			jfail(&j, "%s: unknown field \"%s\"", dms_kind_name(kind), key);
			goto done;
		}
	}
	extra = json_object_get(root, "extra");
	if (extra != NULL && !json_is_array(extra)) {
		jfail(&j, "\"extra\" must be an array");
		goto done;
	}
	msgpack_pack_array(pk, arity + (extra ? json_array_size(extra) : 0));
	msgpack_pack_int(pk, kind);
	for (unsigned i = 1; i < arity; i++) {
		const char *name = fields[kind][i - 1];
		json_t *v = json_object_get(root, name);

		if (v == NULL) {
			jfail(&j, "%s: missing field \"%s\"", dms_kind_name(kind), name);
			goto done;
		}
		if (kind == K_TABLE && strcmp(name, "columns") == 0) {
			if (!pack_columns(&j, v))
				goto done;
		} else if (!pack_value(&j, v, 0)) {
			goto done;
		}
	}
	if (extra != NULL) {
		size_t i;
		json_t *e;

		json_array_foreach(extra, i, e)
			if (!pack_value(&j, e, 0))
				goto done;
	}
	ok = true;
done:
	json_decref(root);
	return ok;
}
