/*
 * mp.c: a zero-copy MessagePack reader over a byte range, bounded so that no
 * length read from the input takes it past the range (see mp.h).
 */
#include <string.h>

#include "mp.h"
#include "dms.h"

static inline uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t
be64(const uint8_t *p)
{
	return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

#define NEED(n) do { if ((size_t)(c->end - p) < (size_t)(n)) return MP_INCOMPLETE; } while (0)

static inline int
payload(struct mp_cursor *c, const uint8_t *p, uint32_t len, struct mp_item *it)
{
	NEED(len);
	it->v.s.p = p;
	it->v.s.len = len;
	c->p = p + len;
	return MP_OK;
}

static inline int
ext(struct mp_cursor *c, const uint8_t *p, uint32_t len, struct mp_item *it)
{
	NEED(1 + (size_t)len);
	it->type = MP_EXT;
	it->v.ext.type = (int8_t)p[0];
	it->v.ext.p = p + 1;
	it->v.ext.len = len;
	c->p = p + 1 + len;
	return MP_OK;
}

static inline int
sint(struct mp_cursor *c, const uint8_t *p, int64_t v, struct mp_item *it)
{
	if (v < 0) {
		it->type = MP_INT;
		it->v.i = v;
	} else {
		it->type = MP_UINT;
		it->v.u = (uint64_t)v;
	}
	c->p = p;
	return MP_OK;
}

/* n (1, 2, 4 or 8) bytes big-endian. */
static inline uint64_t
be_n(const uint8_t *p, unsigned n)
{
	switch (n) {
	case 1:
		return p[0];
	case 2:
		return be16(p);
	case 4:
		return be32(p);
	default:
		return be64(p);
	}
}

/* An item of a marker byte 0xc0..0xdf, whose data starts at p (the fixed forms are mp_next's). */
static int
marker(struct mp_cursor *c, const uint8_t *p, uint8_t b, struct mp_item *it)
{
	unsigned w;		/* the width of the length or the number after the marker */

	switch (b) {
	case 0xc0:
		it->type = MP_NIL;
		c->p = p;
		return MP_OK;
	case 0xc2:
	case 0xc3:
		it->type = MP_BOOL;
		it->v.b = b == 0xc3;
		c->p = p;
		return MP_OK;
	case 0xc4 ... 0xc6:	/* bin 8, 16, 32 */
	case 0xd9 ... 0xdb:	/* str 8, 16, 32 */
		w = 1u << (b <= 0xc6 ? b - 0xc4 : b - 0xd9);
		NEED(w);
		it->type = b <= 0xc6 ? MP_BIN : MP_STR;
		return payload(c, p + w, (uint32_t)be_n(p, w), it);
	case 0xc7 ... 0xc9:	/* ext 8, 16, 32 */
		w = 1u << (b - 0xc7);
		NEED(w);
		return ext(c, p + w, (uint32_t)be_n(p, w), it);
	case 0xd4 ... 0xd8:	/* fixext 1 to 16 */
		return ext(c, p, 1u << (b - 0xd4), it);
	case 0xca:
	case 0xcb: {
		uint64_t u;
		uint32_t u32;

		w = b == 0xca ? 4 : 8;
		NEED(w);
		u = be_n(p, w);
		it->type = w == 4 ? MP_FLOAT32 : MP_FLOAT64;
		if (w == 4) {
			u32 = (uint32_t)u;
			memcpy(&it->v.f32, &u32, 4);
		} else {
			memcpy(&it->v.f64, &u, 8);
		}
		c->p = p + w;
		return MP_OK;
	}
	case 0xcc ... 0xcf:	/* uint 8 to 64 */
		w = 1u << (b - 0xcc);
		NEED(w);
		it->type = MP_UINT;
		it->v.u = be_n(p, w);
		c->p = p + w;
		return MP_OK;
	case 0xd0 ... 0xd3: {	/* int 8 to 64 */
		uint64_t u;

		w = 1u << (b - 0xd0);
		NEED(w);
		u = be_n(p, w);
		return sint(c, p + w, w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (int32_t)u : (int64_t)u,
			    it);
	}
	case 0xdc ... 0xdf:	/* array 16, 32; map 16, 32 */
		w = b == 0xdc || b == 0xde ? 2 : 4;
		NEED(w);
		it->type = b <= 0xdd ? MP_ARRAY : MP_MAP;
		it->v.n = (uint32_t)be_n(p, w);
		c->p = p + w;
		return MP_OK;
	default:		/* 0xc1: never used */
		return MP_INVALID;
	}
}

int
mp_next(struct mp_cursor *c, struct mp_item *it)
{
	const uint8_t *p = c->p;
	uint8_t b;

	NEED(1);
	b = *p++;
	if (b <= 0x7f) {
		it->type = MP_UINT;
		it->v.u = b;
		c->p = p;
		return MP_OK;
	}
	if (b >= 0xe0) {
		it->type = MP_INT;
		it->v.i = (int8_t)b;
		c->p = p;
		return MP_OK;
	}
	if ((b & 0xe0) == 0xa0) {
		it->type = MP_STR;
		return payload(c, p, b & 0x1f, it);
	}
	if ((b & 0xe0) == 0x80) {	/* fixarray 0x90, fixmap 0x80 */
		it->type = (b & 0xf0) == 0x90 ? MP_ARRAY : MP_MAP;
		it->v.n = b & 0x0f;
		c->p = p;
		return MP_OK;
	}
	return marker(c, p, b, it);
}

int
mp_skip(struct mp_cursor *c)
{
	uint64_t pending = 1;
	struct mp_item it;
	int rc;

	while (pending > 0) {
		if ((rc = mp_next(c, &it)) != MP_OK)
			return rc;
		pending--;
		if (it.type == MP_ARRAY)
			pending += it.v.n;
		else if (it.type == MP_MAP)
			pending += 2 * (uint64_t)it.v.n;
	}
	return MP_OK;
}

int
mp_skip_bounded(struct mp_cursor *c, unsigned max_depth)
{
	uint64_t pending[65];	/* items left to read at each open level */
	unsigned depth = 0;
	struct mp_item it;
	int rc;

	if (max_depth > 64)
		max_depth = 64;
	pending[0] = 1;
	for (;;) {
		while (pending[depth] == 0) {
			if (depth == 0)
				return MP_OK;
			depth--;
		}
		if ((rc = mp_next(c, &it)) != MP_OK)
			return rc;
		pending[depth]--;
		if ((it.type == MP_ARRAY || it.type == MP_MAP) && it.v.n > 0) {
			if (depth == max_depth)
				return MP_INVALID;
			pending[++depth] = it.type == MP_MAP ? 2 * (uint64_t)it.v.n : it.v.n;
		}
	}
}

const char *
mp_type_name(enum mp_type t)
{
	static const char *const names[] = {
		"nil", "bool", "int", "int", "float32", "float64",
		"str", "bin", "array", "map", "ext",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

bool
mp_as_int64(const struct mp_item *it, int64_t *out)
{
	if (it->type == MP_INT) {
		*out = it->v.i;
		return true;
	}
	if (it->type == MP_UINT && it->v.u <= (uint64_t)INT64_MAX) {
		*out = (int64_t)it->v.u;
		return true;
	}
	return false;
}

bool
mp_timestamp(const struct mp_item *it, int64_t *sec, uint32_t *nsec)
{
	const uint8_t *p = it->v.ext.p;

	if (it->type != MP_EXT || it->v.ext.type != MP_EXT_TIMESTAMP)
		return false;
	switch (it->v.ext.len) {
	case 4:
		*sec = be32(p);
		*nsec = 0;
		return true;
	case 8: {
		uint64_t v = be64(p);

		*nsec = (uint32_t)(v >> 34);
		*sec = (int64_t)(v & 0x3ffffffffULL);
		return *nsec < 1000000000;
	}
	case 12:
		*nsec = be32(p);
		*sec = (int64_t)be64(p + 4);
		return *nsec < 1000000000;
	default:
		return false;
	}
}

bool
mp_is_unchanged(const struct mp_item *it)
{
	return it->type == MP_EXT && it->v.ext.type == MP_EXT_UNCHANGED && it->v.ext.len == 0;
}

bool
mp_str_eq(const struct mp_item *it, const char *s)
{
	size_t n = strlen(s);

	return it->type == MP_STR && it->v.s.len == n && memcmp(it->v.s.p, s, n) == 0;
}
