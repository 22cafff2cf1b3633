/*
 * common/db/myrows.c: row images of the binary log into stream values. A value
 * is first written as the text MySQL's client shows for it, then converted
 * as dms-extract converts that text (common/db/convert.c), so that a row
 * reads the same from dms-extract and from dms-capture. Layouts: cdc-notes
 * B, "Type codes and metadata".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "myevent.h"
#include "myrows.h"
#include "convert.h"
#include "../dms.h"

/* Big-endian unsigned integer of n bytes (n <= 8). */
static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* n bytes at *p, or false when fewer are left. */
static bool
take(const uint8_t **p, const uint8_t *end, size_t n, const uint8_t **at)
{
	if ((size_t)(end - *p) < n)
		return false;
	*at = *p;
	*p += n;
	return true;
}

bool
myrows_map(struct mymap *m, const uint8_t *types, size_t ntypes, const uint8_t *meta, size_t metalen,
	   char *err, size_t errsize)
{
	const uint8_t *p = meta, *end = meta + metalen, *b;

	m->ncols = (uint32_t)ntypes;
	m->cols = xcalloc(ntypes + 1, sizeof(*m->cols));
	/* every column as new first: a map that fails half read is freed whole */
	for (size_t i = 0; i < ntypes; i++) {
		m->cols[i].type = types[i];
		m->cols[i].col = -1;
		m->cols[i].cd = (iconv_t)-1;
	}
	for (size_t i = 0; i < ntypes; i++) {
		struct mycol *c = &m->cols[i];
		size_t n = 0;

		switch (c->type) {
		case MYT_FLOAT: case MYT_DOUBLE: case MYT_BLOB: case MYT_GEOMETRY: case MYT_JSON:
		case MYT_TIMESTAMP2: case MYT_DATETIME2: case MYT_TIME2:
			n = 1;
			break;
		case MYT_VARCHAR: case MYT_VAR_STRING: case MYT_BIT: case MYT_NEWDECIMAL: case MYT_STRING:
		case MYT_ENUM: case MYT_SET:
			n = 2;
			break;
		default:
			break;
		}
		if (!take(&p, end, n, &b)) {
			snprintf(err, errsize, "TABLE_MAP: the metadata of column %zu is cut short", i + 1);
			return false;
		}
		if (n == 1) {
			c->meta = b[0];
		} else if (c->type == MYT_VARCHAR || c->type == MYT_VAR_STRING) {
			c->meta = (uint16_t)myevent_le(b, 2);
		} else if (c->type == MYT_STRING || c->type == MYT_ENUM || c->type == MYT_SET) {
			uint8_t real = b[0];
			uint16_t len = b[1];

			/* a CHAR longer than 255 bytes keeps length bits in the real type's byte */
			if ((real & 0x30) != 0x30) {
				len |= (uint16_t)(((real & 0x30) ^ 0x30) << 4);
				real |= 0x30;
			}
			c->type = real;
			c->meta = len;
		} else if (n == 2) {
			c->meta = (uint16_t)(b[0] << 8 | b[1]);	/* BIT: bits % 8, bytes; DECIMAL: precision, scale */
		}
	}
	return true;
}

void
myrows_map_free(struct mymap *m)
{
	for (uint32_t i = 0; i < m->ncols; i++) {
		if (m->cols[i].cd != (iconv_t)-1)
			iconv_close(m->cols[i].cd);
		for (uint32_t k = 0; k < m->cols[i].nlabels; k++)
			free(m->cols[i].labels[k]);
		free(m->cols[i].labels);
	}
	free(m->cols);
	m->cols = NULL;
	m->ncols = 0;
}

/*
 * Numbers as text without printf, which took two thirds of the decoder's
 * time: v in exactly width digits, zero-padded (v < 10^width, width <= 20).
 */
static void
put_digits(char *dst, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		dst[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* v in decimal, at least width digits. */
static void
add_uint(struct strbuf *out, uint64_t v, int width)
{
	char b[24];
	int n = 0;

	do {
		b[23 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		b[23 - n++] = '0';
	sb_add(out, b + 24 - n, (size_t)n);
}

/* "YYYY-MM-DD", and " HH:MM:SS" when time. */
static void
add_date(struct strbuf *out, unsigned y, unsigned mo, unsigned d, bool time, unsigned h, unsigned mi, unsigned s)
{
	add_uint(out, y, 4);
	sb_add(out, "-", 1);
	add_uint(out, mo, 2);
	sb_add(out, "-", 1);
	add_uint(out, d, 2);
	if (!time)
		return;
	sb_add(out, " ", 1);
	add_uint(out, h, 2);
	sb_add(out, ":", 1);
	add_uint(out, mi, 2);
	sb_add(out, ":", 1);
	add_uint(out, s, 2);
}

/* The fraction of a temporal type: fsp digits of microseconds, appended as ".ffff". */
static void
fraction(struct strbuf *out, unsigned fsp, uint32_t micro)
{
	static const uint32_t div[] = { 1000000, 100000, 10000, 1000, 100, 10, 1 };
	char b[8];

	if (fsp == 0 || fsp > 6)
		return;
	b[0] = '.';
	put_digits(b + 1, micro / div[fsp], (int)fsp);
	sb_add(out, b, fsp + 1);
}

/* A temporal type's fraction bytes (fsp 0-6) as microseconds. */
static bool
frac_micro(const uint8_t **p, const uint8_t *end, unsigned fsp, uint32_t *micro)
{
	size_t n = (fsp + 1) / 2;
	const uint8_t *b;

	if (fsp > 6 || !take(p, end, n, &b))
		return false;
	*micro = n == 0 ? 0 : n == 1 ? (uint32_t)b[0] * 10000 : n == 2 ? (uint32_t)be(b, 2) * 100 : (uint32_t)be(b, 3);
	return *micro < 1000000;
}

/* DECIMAL in MySQL's binary form (decimal2bin): its text, scale digits kept. */
static bool
decimal_text(const uint8_t **p, const uint8_t *end, unsigned precision, unsigned scale, struct strbuf *out)
{
	static const int dig2bytes[10] = { 0, 1, 1, 2, 2, 3, 3, 4, 4, 4 };
	unsigned intg, intg0, intg0x, frac0, frac0x;
	size_t size, at = 0;
	uint8_t buf[80];
	const uint8_t *b;
	uint8_t mask;
	char digits[100];
	size_t nd = 0, start;

	if (precision == 0 || precision > 65 || scale > 30 || scale > precision)
		return false;
	intg = precision - scale;
	intg0 = intg / 9;
	intg0x = intg % 9;
	frac0 = scale / 9;
	frac0x = scale % 9;
	size = intg0 * 4 + (size_t)dig2bytes[intg0x] + frac0 * 4 + (size_t)dig2bytes[frac0x];
	if (!take(p, end, size, &b))
		return false;
	memcpy(buf, b, size);
	mask = (buf[0] & 0x80) ? 0 : 0xff;	/* negative: every byte inverted */
	buf[0] ^= 0x80;
	for (size_t i = 0; i < size; i++)
		buf[i] ^= mask;
	/* the integer digits: a leading group of intg0x, then groups of nine */
	if (intg0x) {
		uint64_t v = be(buf, (size_t)dig2bytes[intg0x]);

		uint64_t lim = 1;

		for (unsigned k = 0; k < intg0x; k++)
			lim *= 10;
		if (v >= lim)
			return false;
		put_digits(digits + nd, v, (int)intg0x);
		nd += intg0x;
		at += (size_t)dig2bytes[intg0x];
	}
	for (unsigned g = 0; g < intg0; g++, at += 4) {
		uint64_t v = be(buf + at, 4);

		if (v >= 1000000000)
			return false;
		put_digits(digits + nd, v, 9);
		nd += 9;
	}
	for (start = 0; start + 1 < nd && digits[start] == '0'; start++)
		;
	if (mask)
		sb_add(out, "-", 1);
	if (nd == 0)
		sb_add(out, "0", 1);
	else
		sb_add(out, digits + start, nd - start);
	if (scale == 0)
		return true;
	sb_add(out, ".", 1);
	for (unsigned g = 0; g < frac0; g++, at += 4) {
		uint64_t v = be(buf + at, 4);

		if (v >= 1000000000)
			return false;
		add_uint(out, v, 9);
	}
	if (frac0x) {
		uint64_t v = be(buf + at, (size_t)dig2bytes[frac0x]);
		uint64_t lim = 1;

		for (unsigned k = 0; k < frac0x; k++)
			lim *= 10;
		if (v >= lim)
			return false;
		add_uint(out, v, (int)frac0x);
	}
	return true;
}

/* A string of n length bytes (little-endian), then its bytes. */
static bool
counted(const uint8_t **p, const uint8_t *end, size_t n, const uint8_t **s, size_t *len)
{
	const uint8_t *b;

	if (n < 1 || n > 4 || !take(p, end, n, &b))
		return false;
	*len = (size_t)myevent_le(b, n);
	return take(p, end, *len, s);
}

/* Text in the column's character set, as UTF-8. */
static bool
text_utf8(const struct mycol *c, const uint8_t *s, size_t len, struct strbuf *out)
{
	char *in = (char *)(uintptr_t)s, *o;
	size_t left = len, room;

	if (c->cd == (iconv_t)-1) {
		sb_add(out, s, len);
		return true;
	}
	iconv(c->cd, NULL, NULL, NULL, NULL);
	while (left > 0) {
		sb_grow_by(out, left * 4 + 16);
		o = out->buf + out->len;
		room = out->cap - out->len - 1;
		if (iconv(c->cd, &in, &left, &o, &room) == (size_t)-1 && errno != E2BIG) {
			out->len = (size_t)(o - out->buf);
			return false;
		}
		out->len = (size_t)(o - out->buf);
	}
	out->buf[out->len] = '\0';
	return true;
}

/*
 * MySQL 8's binary JSON (sql/json_binary.h) as the text MySQL prints for it:
 * {"k": v, ...}, [v, ...], strings with \" \\ \b \f \n \r \t and \u00XX
 * escapes, integers, doubles in their shortest form (".0" on one that looks
 * like an integer), DECIMAL, DATE, TIME, DATETIME and TIMESTAMP of opaque
 * values as MySQL prints them, other opaque values as "base64:typeN:...".
 * Every offset and length is checked against the value's bounds; nesting is
 * bounded. False: malformed.
 */
enum {
	JB_SMALL_OBJECT = 0x0, JB_LARGE_OBJECT = 0x1, JB_SMALL_ARRAY = 0x2, JB_LARGE_ARRAY = 0x3,
	JB_LITERAL = 0x4, JB_INT16 = 0x5, JB_UINT16 = 0x6, JB_INT32 = 0x7, JB_UINT32 = 0x8, JB_INT64 = 0x9,
	JB_UINT64 = 0xa, JB_DOUBLE = 0xb, JB_STRING = 0xc, JB_OPAQUE = 0xf,
};

static bool jb_value(uint8_t type, const uint8_t *v, size_t len, int depth, struct strbuf *out);

/* A variable-length length (7 bits a byte, low groups first, at most 5 bytes). */
static bool
jb_length(const uint8_t **p, const uint8_t *end, uint64_t *n)
{
	*n = 0;
	for (int i = 0; i < 5; i++) {
		if (*p >= end)
			return false;
		*n |= (uint64_t)(**p & 0x7f) << (7 * i);
		if (!(*(*p)++ & 0x80))
			return true;
	}
	return false;
}

void
myrows_json_string(const uint8_t *s, size_t n, struct strbuf *out)
{
	sb_adds(out, "\"");
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = s[i];

		switch (ch) {
		case '"': sb_adds(out, "\\\""); break;
		case '\\': sb_adds(out, "\\\\"); break;
		case '\b': sb_adds(out, "\\b"); break;
		case '\f': sb_adds(out, "\\f"); break;
		case '\n': sb_adds(out, "\\n"); break;
		case '\r': sb_adds(out, "\\r"); break;
		case '\t': sb_adds(out, "\\t"); break;
		default:
			if (ch < 0x20)
				sb_addf(out, "\\u%04x", ch);
			else
				sb_add(out, (const char *)&ch, 1);
		}
	}
	sb_adds(out, "\"");
}

static void
jb_double(double d, struct strbuf *out)
{
	char buf[64], *e;
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*g", prec, d);
	/* 1e+300 as 1e300, 1e-07 as 1e-7 */
	if ((e = strchr(buf, 'e')) != NULL) {
		char *q = e + 1, *r;

		if (*q == '+')
			memmove(q, q + 1, strlen(q));
		else if (*q == '-')
			q++;
		for (r = q; *r == '0' && r[1]; r++)
			;
		memmove(q, r, strlen(r) + 1);
	}
	sb_adds(out, buf);
	if (strspn(buf + (buf[0] == '-'), "0123456789") == strlen(buf + (buf[0] == '-')))
		sb_adds(out, ".0");
}

/* An opaque value: MySQL's field type, then its bytes. */
static bool
jb_opaque(const uint8_t *v, size_t len, struct strbuf *out)
{
	const uint8_t *p = v, *end = v + len;
	uint64_t n;
	uint8_t ftype;

	if (len < 1)
		return false;
	ftype = *p++;
	if (!jb_length(&p, end, &n) || n > (uint64_t)(end - p))
		return false;
	end = p + n;
	switch (ftype) {
	case MYT_NEWDECIMAL: {
		const uint8_t *q = p + 2;

		return n >= 2 && decimal_text(&q, end, p[0], p[1], out) && q == end;
	}
	case MYT_DATE: case MYT_TIME: case MYT_DATETIME: case MYT_TIMESTAMP: {
		/* a packed time: ((ymd << 17 | hms) << 24) + microseconds, negative for a negative TIME */
		int64_t packed;
		uint64_t u, ymdhms, frac;
		bool neg;
		char buf[64];

		if (n != 8)
			return false;
		packed = (int64_t)myevent_le(p, 8);
		neg = packed < 0;
		u = neg ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
		frac = u % (1 << 24);
		ymdhms = u >> 24;
		if (ftype == MYT_TIME) {
			snprintf(buf, sizeof(buf), "\"%s%02u:%02u:%02u.%06u\"", neg ? "-" : "",
				 (unsigned)(ymdhms >> 12) % (1u << 10), (unsigned)(ymdhms >> 6) % 64,
				 (unsigned)ymdhms % 64, (unsigned)frac);
		} else {
			uint64_t ymd = ymdhms >> 17, hms = ymdhms % (1 << 17), ym = ymd >> 5;

			if (neg)
				return false;
			if (ftype == MYT_DATE)
				snprintf(buf, sizeof(buf), "\"%04u-%02u-%02u\"", (unsigned)(ym / 13), (unsigned)(ym % 13),
					 (unsigned)(ymd % 32));
			else
				snprintf(buf, sizeof(buf), "\"%04u-%02u-%02u %02u:%02u:%02u.%06u\"", (unsigned)(ym / 13),
					 (unsigned)(ym % 13), (unsigned)(ymd % 32), (unsigned)(hms >> 12),
					 (unsigned)(hms >> 6) % 64, (unsigned)hms % 64, (unsigned)frac);
		}
		sb_adds(out, buf);
		return true;
	}
	default: {
		size_t blen = base64_encoded_len((size_t)n);
		char *b64 = xmalloc(blen + 1);

		base64_encode(p, (size_t)n, b64);
		b64[blen] = '\0';
		sb_addf(out, "\"base64:type%u:%s\"", ftype, b64);
		free(b64);
		return true;
	}
	}
}

/* An object or an array (large: 4-byte counts and offsets), v its bytes after the type. */
static bool
jb_container(const uint8_t *v, size_t len, bool object, bool large, int depth, struct strbuf *out)
{
	size_t w = large ? 4 : 2, entry = 1 + w;
	uint64_t count, size;
	size_t header;

	if (depth > 100 || len < 2 * w)
		return false;
	count = myevent_le(v, w);
	size = myevent_le(v + w, w);
	if (size > len)
		return false;
	header = 2 * w + (object ? (size_t)count * (w + 2) : 0) + (size_t)count * entry;
	if (count > size || header > size)
		return false;
	sb_adds(out, object ? "{" : "[");
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *ve = v + 2 * w + (object ? (size_t)count * (w + 2) : 0) + (size_t)i * entry;
		uint8_t type = ve[0];

		if (i > 0)
			sb_adds(out, ", ");
		if (object) {
			const uint8_t *ke = v + 2 * w + (size_t)i * (w + 2);
			uint64_t koff = myevent_le(ke, w), klen = myevent_le(ke + w, 2);

			if (koff > size || klen > size - koff)
				return false;
			myrows_json_string(v + koff, (size_t)klen, out);
			sb_adds(out, ": ");
		}
		/* inlined: literals and 16-bit integers, and 32-bit ones in a large container */
		if (type == JB_LITERAL || type == JB_INT16 || type == JB_UINT16 ||
		    (large && (type == JB_INT32 || type == JB_UINT32))) {
			if (!jb_value(type, ve + 1, w, depth + 1, out))
				return false;
		} else {
			uint64_t off = myevent_le(ve + 1, w);

			if (off < header || off >= size || !jb_value(type, v + off, (size_t)(size - off), depth + 1, out))
				return false;
		}
	}
	sb_adds(out, object ? "}" : "]");
	return true;
}

static bool
jb_value(uint8_t type, const uint8_t *v, size_t len, int depth, struct strbuf *out)
{
	char buf[32];

	switch (type) {
	case JB_SMALL_OBJECT: case JB_LARGE_OBJECT:
		return jb_container(v, len, true, type == JB_LARGE_OBJECT, depth, out);
	case JB_SMALL_ARRAY: case JB_LARGE_ARRAY:
		return jb_container(v, len, false, type == JB_LARGE_ARRAY, depth, out);
	case JB_LITERAL:
		if (len < 1 || v[0] > 2)
			return false;
		sb_adds(out, v[0] == 0 ? "null" : v[0] == 1 ? "true" : "false");
		return true;
	case JB_INT16: case JB_UINT16:
		if (len < 2)
			return false;
		snprintf(buf, sizeof(buf), "%" PRId64, type == JB_INT16 ? (int64_t)(int16_t)myevent_le(v, 2) : (int64_t)myevent_le(v, 2));
		break;
	case JB_INT32: case JB_UINT32:
		if (len < 4)
			return false;
		snprintf(buf, sizeof(buf), "%" PRId64, type == JB_INT32 ? (int64_t)(int32_t)myevent_le(v, 4) : (int64_t)myevent_le(v, 4));
		break;
	case JB_INT64:
		if (len < 8)
			return false;
		snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)myevent_le(v, 8));
		break;
	case JB_UINT64:
		if (len < 8)
			return false;
		snprintf(buf, sizeof(buf), "%" PRIu64, myevent_le(v, 8));
		break;
	case JB_DOUBLE: {
		uint64_t bits;
		double d;

		if (len < 8)
			return false;
		bits = myevent_le(v, 8);
		memcpy(&d, &bits, sizeof(d));
		if (d != d || d - d != 0)
			return false;	/* NaN and infinities are not JSON */
		jb_double(d, out);
		return true;
	}
	case JB_STRING: {
		const uint8_t *p = v, *end = v + len;
		uint64_t n;

		if (!jb_length(&p, end, &n) || n > (uint64_t)(end - p))
			return false;
		myrows_json_string(p, (size_t)n, out);
		return true;
	}
	case JB_OPAQUE:
		return jb_opaque(v, len, out);
	default:
		return false;
	}
	sb_adds(out, buf);
	return true;
}

bool
myrows_json(const uint8_t *v, size_t len, struct strbuf *out)
{
	if (len == 0) {		/* an empty document: JSON null */
		sb_adds(out, "null");
		return true;
	}
	return jb_value(v[0], v + 1, len - 1, 0, out);
}

bool
myrows_text(const struct mycol *c, const uint8_t **p, const uint8_t *end, struct strbuf *out, char *err,
	    size_t errsize)
{
	const uint8_t *b, *s;
	size_t len;

	switch (c->type) {
	case MYT_TINY: case MYT_SHORT: case MYT_INT24: case MYT_LONG: case MYT_LONGLONG: {
		size_t n = c->type == MYT_TINY ? 1 : c->type == MYT_SHORT ? 2 : c->type == MYT_INT24 ? 3
			 : c->type == MYT_LONG ? 4 : 8;
		uint64_t v;

		if (!take(p, end, n, &b))
			break;
		v = myevent_le(b, n);
		if (c->is_unsigned) {
			add_uint(out, v, 1);
		} else {
			int64_t sv = n == 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n);

			if (sv < 0)
				sb_add(out, "-", 1);
			add_uint(out, sv < 0 ? -(uint64_t)sv : (uint64_t)sv, 1);
		}
		return true;
	}
	case MYT_YEAR:
		if (!take(p, end, 1, &b))
			break;
		add_uint(out, b[0] ? 1900u + b[0] : 0u, 1);
		return true;
	case MYT_FLOAT: {
		float f;

		if (!take(p, end, 4, &b))
			break;
		memcpy(&f, b, 4);	/* IEEE little-endian, as this machine */
		sb_addf(out, "%.9g", (double)f);
		return true;
	}
	case MYT_DOUBLE: {
		double d;

		if (!take(p, end, 8, &b))
			break;
		memcpy(&d, b, 8);
		sb_addf(out, "%.17g", d);
		return true;
	}
	case MYT_NEWDECIMAL:
		if (!decimal_text(p, end, c->meta >> 8, c->meta & 0xff, out))
			break;
		return true;
	case MYT_VARCHAR: case MYT_VAR_STRING: case MYT_STRING:
		if (!counted(p, end, c->meta < 256 ? 1 : 2, &s, &len))
			break;
		if (c->type == MYT_STRING && c->binary) {
			/* BINARY(n): the log drops the trailing zero bytes that the column holds */
			if (len > c->meta)
				break;
			sb_add(out, s, len);
			for (size_t k = len; k < c->meta; k++)
				sb_add(out, "", 1);
			return true;
		}
		if (c->type == MYT_STRING)
			while (len > 0 && s[len - 1] == ' ')	/* CHAR: MySQL drops the padding */
				len--;
		if (!text_utf8(c, s, len, out)) {
			snprintf(err, errsize, "a value is not valid in its character set");
			return false;
		}
		return true;
	case MYT_BLOB: case MYT_GEOMETRY: case MYT_JSON: case MYT_TINY_BLOB: case MYT_MEDIUM_BLOB:
	case MYT_LONG_BLOB:
		if (!counted(p, end, c->meta, &s, &len))
			break;
		if (c->type == MYT_JSON) {
			if (!myrows_json(s, len, out)) {
				snprintf(err, errsize, "a binary JSON value is malformed");
				return false;
			}
			sb_add(out, "", 1);
			out->len--;
			return true;
		}
		if (!text_utf8(c, s, len, out)) {
			snprintf(err, errsize, "a value is not valid in its character set");
			return false;
		}
		return true;
	case MYT_ENUM: {
		uint64_t v;

		if ((c->meta != 1 && c->meta != 2) || !take(p, end, c->meta, &b))
			break;
		v = myevent_le(b, c->meta);
		if (v == 0)
			return true;	/* the empty string of an invalid value */
		if (v > c->nlabels) {
			snprintf(err, errsize, "ENUM index %" PRIu64 " past its %u values", v, c->nlabels);
			return false;
		}
		sb_adds(out, c->labels[v - 1]);
		return true;
	}
	case MYT_SET: {
		uint64_t v;
		bool first = true;

		if (c->meta < 1 || c->meta > 8 || !take(p, end, c->meta, &b))
			break;
		v = myevent_le(b, c->meta);
		for (uint32_t k = 0; k < 64; k++) {
			if (!(v >> k & 1))
				continue;
			if (k >= c->nlabels) {
				snprintf(err, errsize, "SET bit %u past its %u values", k, c->nlabels);
				return false;
			}
			if (!first)
				sb_add(out, ",", 1);
			sb_adds(out, c->labels[k]);
			first = false;
		}
		return true;
	}
	case MYT_BIT: {
		size_t n = (c->meta & 0xff) + ((c->meta >> 8) ? 1 : 0);

		if (n < 1 || n > 8 || !take(p, end, n, &b))
			break;
		add_uint(out, be(b, n), 1);
		return true;
	}
	case MYT_DATE: {
		uint32_t v;

		if (!take(p, end, 3, &b))
			break;
		v = (uint32_t)myevent_le(b, 3);
		add_date(out, v >> 9, (v >> 5) & 15, v & 31, false, 0, 0, 0);
		return true;
	}
	case MYT_DATETIME2: {
		int64_t v;
		uint64_t ymd, ym, hms;
		uint32_t micro;

		if (!take(p, end, 5, &b))
			break;
		v = (int64_t)be(b, 5) - 0x8000000000LL;
		if (v < 0 || !frac_micro(p, end, c->meta, &micro))
			break;
		ymd = (uint64_t)v >> 17;
		ym = ymd >> 5;
		hms = (uint64_t)v % (1 << 17);
		add_date(out, (unsigned)(ym / 13), (unsigned)(ym % 13), (unsigned)(ymd % 32), true, (unsigned)(hms >> 12),
			 (unsigned)((hms >> 6) % 64), (unsigned)(hms % 64));
		fraction(out, c->meta, micro);
		return true;
	}
	case MYT_TIMESTAMP2: {
		time_t sec;
		uint32_t micro;
		struct tm tm;

		if (!take(p, end, 4, &b) || !frac_micro(p, end, c->meta, &micro))
			break;
		sec = (time_t)be(b, 4);
		if (sec == 0 && micro == 0) {
			sb_adds(out, "0000-00-00 00:00:00");	/* MySQL's zero timestamp */
		} else {
			gmtime_r(&sec, &tm);
			add_date(out, (unsigned)(tm.tm_year + 1900), (unsigned)(tm.tm_mon + 1), (unsigned)tm.tm_mday, true,
				 (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec);
		}
		fraction(out, c->meta, micro);
		return true;
	}
	case MYT_TIME2: {
		size_t fb = (c->meta + 1) / 2;
		int64_t v;
		uint64_t u, hms, micro;

		if (c->meta > 6 || !take(p, end, 3 + fb, &b))
			break;
		/* one signed integer of 3 + fb bytes, biased: the int part's sign carries the fraction's */
		v = (int64_t)be(b, 3 + fb) - ((int64_t)0x800000 << (8 * fb));
		u = v < 0 ? (uint64_t)-v : (uint64_t)v;
		hms = u >> (8 * fb);
		micro = u & (((uint64_t)1 << (8 * fb)) - 1);
		micro = fb == 1 ? micro * 10000 : fb == 2 ? micro * 100 : micro;
		if (micro >= 1000000)
			break;
		if (v < 0)
			sb_add(out, "-", 1);
		add_uint(out, (hms >> 12) % 1024, 2);
		sb_add(out, ":", 1);
		add_uint(out, (hms >> 6) % 64, 2);
		sb_add(out, ":", 1);
		add_uint(out, hms % 64, 2);
		fraction(out, c->meta, (uint32_t)micro);
		return true;
	}
	case MYT_TIMESTAMP: {
		time_t sec;
		struct tm tm;

		if (!take(p, end, 4, &b))
			break;
		sec = (time_t)myevent_le(b, 4);
		if (sec == 0) {
			sb_adds(out, "0000-00-00 00:00:00");
			return true;
		}
		gmtime_r(&sec, &tm);
		add_date(out, (unsigned)(tm.tm_year + 1900), (unsigned)(tm.tm_mon + 1), (unsigned)tm.tm_mday, true,
			 (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec);
		return true;
	}
	case MYT_TIME: {
		int32_t v;
		uint32_t u;

		if (!take(p, end, 3, &b))
			break;
		v = (int32_t)(myevent_le(b, 3) << 8) >> 8;
		u = v < 0 ? (uint32_t)-v : (uint32_t)v;
		sb_addf(out, "%s%02u:%02u:%02u", v < 0 ? "-" : "", u / 10000, u / 100 % 100, u % 100);
		return true;
	}
	case MYT_DATETIME: {
		uint64_t v, d, t;

		if (!take(p, end, 8, &b))
			break;
		v = myevent_le(b, 8);
		d = v / 1000000;
		t = v % 1000000;
		sb_addf(out, "%04u-%02u-%02u %02u:%02u:%02u", (unsigned)(d / 10000 % 10000), (unsigned)(d / 100 % 100),
			(unsigned)(d % 100), (unsigned)(t / 10000), (unsigned)(t / 100 % 100), (unsigned)(t % 100));
		return true;
	}
	default:
		snprintf(err, errsize, "binary log type %u is not decoded", c->type);
		return false;
	}
	snprintf(err, errsize, "a value of type %u is cut short or out of its range", c->type);
	return false;
}

bool
myrows_row(const struct mymap *m, const uint8_t *present, const uint8_t **p, const uint8_t *end, bool after,
	   msgpack_packer *pk, struct strbuf *scratch, char *err, size_t errsize)
{
	return myrows_row_json(m, present, p, end, after, NULL, NULL, pk, scratch, err, errsize);
}

bool
myrows_row_json(const struct mymap *m, const uint8_t *present, const uint8_t **p, const uint8_t *end, bool after,
		char **json, const char *const *diff_of, msgpack_packer *pk, struct strbuf *scratch, char *err,
		size_t errsize)
{
	const struct src_table *t = m->t;
	uint32_t npresent = 0, k = 0, want = 0;
	const uint8_t *nulls;

	for (uint32_t i = 0; i < m->ncols; i++)
		npresent += present[i / 8] >> (i % 8) & 1;
	/* an image of no column takes no byte: rows of them would never end */
	if (npresent == 0) {
		snprintf(err, errsize, "a row image of no column");
		return false;
	}
	if (!take(p, end, (npresent + 7) / 8, &nulls)) {
		snprintf(err, errsize, "a row image is cut short");
		return false;
	}
	msgpack_pack_array(pk, (size_t)t->d.ncols);
	for (uint32_t i = 0; i < m->ncols; i++) {
		const struct mycol *c = &m->cols[i];
		bool null;

		if (!(present[i / 8] >> (i % 8) & 1))
			continue;
		null = nulls[k / 8] >> (k % 8) & 1;
		k++;
		/* columns the image lacks, before this one */
		for (; c->col >= 0 && want < (uint32_t)c->col; want++) {
			if (after)
				pk_unchanged(pk);
			else
				msgpack_pack_nil(pk);
		}
		if (null) {
			if (c->col >= 0) {
				msgpack_pack_nil(pk);
				want++;
			}
			continue;
		}
		sb_reset(scratch);
		if (diff_of != NULL && diff_of[i] != NULL ?
		    !myjson_apply_diffs(diff_of[i], p, end, scratch, err, errsize) :
		    !myrows_text(c, p, end, scratch, err, errsize)) {
			size_t n = strlen(err);

			snprintf(err + n, errsize - n, " (column %u%s%s)", i + 1, c->col >= 0 ? " " : "",
				 c->col >= 0 ? t->d.cols[c->col].name : "");
			return false;
		}
		if (json != NULL && c->type == MYT_JSON)
			json[i] = xstrdup(scratch->buf ? scratch->buf : "");
		if (c->col < 0)
			continue;
		if (!convert_value(pk, t, (uint32_t)c->col, scratch->buf ? scratch->buf : (char *)"", scratch->len)) {
			snprintf(err, errsize, "column %s: \"%.40s\" is not a %s", t->d.cols[c->col].name,
				 scratch->buf ? scratch->buf : "", dms_type_name(t->d.cols[c->col].type));
			return false;
		}
		want++;
	}
	for (; want < t->d.ncols; want++) {
		if (after)
			pk_unchanged(pk);
		else
			msgpack_pack_nil(pk);
	}
	return true;
}

bool
myrows_shared_image(const struct mymap *m, const uint8_t **p, const uint8_t *end, bool *partial, char *err,
		    size_t errsize)
{
	uint64_t options;
	uint32_t njson = 0, k = 0;
	const uint8_t *bits;

	memset(partial, 0, m->ncols * sizeof(*partial));
	if (!myevent_lenenc(p, end, &options)) {
		snprintf(err, errsize, "a PARTIAL_UPDATE_ROWS row without its value options");
		return false;
	}
	if (!(options & 1))
		return true;
	for (uint32_t i = 0; i < m->ncols; i++)
		njson += m->cols[i].type == MYT_JSON;
	if ((size_t)(end - *p) < (njson + 7) / 8) {
		snprintf(err, errsize, "a PARTIAL_UPDATE_ROWS row cut short in its partial JSON bitmap");
		return false;
	}
	bits = *p;
	*p += (njson + 7) / 8;
	for (uint32_t i = 0; i < m->ncols; i++) {
		if (m->cols[i].type != MYT_JSON)
			continue;
		partial[i] = bits[k / 8] >> (k % 8) & 1;
		k++;
	}
	return true;
}
