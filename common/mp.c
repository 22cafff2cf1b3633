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
	if ((b & 0xf0) == 0x90) {
		it->type = MP_ARRAY;
		it->v.n = b & 0x0f;
		c->p = p;
		return MP_OK;
	}
	if ((b & 0xf0) == 0x80) {
		it->type = MP_MAP;
		it->v.n = b & 0x0f;
		c->p = p;
		return MP_OK;
	}
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
	case 0xc4:
		NEED(1);
		it->type = MP_BIN;
		return payload(c, p + 1, p[0], it);
	case 0xc5:
		NEED(2);
		it->type = MP_BIN;
		return payload(c, p + 2, be16(p), it);
	case 0xc6:
		NEED(4);
		it->type = MP_BIN;
		return payload(c, p + 4, be32(p), it);
	case 0xc7:
		NEED(1);
		return ext(c, p + 1, p[0], it);
	case 0xc8:
		NEED(2);
		return ext(c, p + 2, be16(p), it);
	case 0xc9:
		NEED(4);
		return ext(c, p + 4, be32(p), it);
	case 0xca: {
		uint32_t u;

		NEED(4);
		u = be32(p);
		it->type = MP_FLOAT32;
		memcpy(&it->v.f32, &u, 4);
		c->p = p + 4;
		return MP_OK;
	}
	case 0xcb: {
		uint64_t u;

		NEED(8);
		u = be64(p);
		it->type = MP_FLOAT64;
		memcpy(&it->v.f64, &u, 8);
		c->p = p + 8;
		return MP_OK;
	}
	case 0xcc:
		NEED(1);
		it->type = MP_UINT;
		it->v.u = p[0];
		c->p = p + 1;
		return MP_OK;
	case 0xcd:
		NEED(2);
		it->type = MP_UINT;
		it->v.u = be16(p);
		c->p = p + 2;
		return MP_OK;
	case 0xce:
		NEED(4);
		it->type = MP_UINT;
		it->v.u = be32(p);
		c->p = p + 4;
		return MP_OK;
	case 0xcf:
		NEED(8);
		it->type = MP_UINT;
		it->v.u = be64(p);
		c->p = p + 8;
		return MP_OK;
	case 0xd0:
		NEED(1);
		return sint(c, p + 1, (int8_t)p[0], it);
	case 0xd1:
		NEED(2);
		return sint(c, p + 2, (int16_t)be16(p), it);
	case 0xd2:
		NEED(4);
		return sint(c, p + 4, (int32_t)be32(p), it);
	case 0xd3:
		NEED(8);
		return sint(c, p + 8, (int64_t)be64(p), it);
	case 0xd4:
		return ext(c, p, 1, it);
	case 0xd5:
		return ext(c, p, 2, it);
	case 0xd6:
		return ext(c, p, 4, it);
	case 0xd7:
		return ext(c, p, 8, it);
	case 0xd8:
		return ext(c, p, 16, it);
	case 0xd9:
		NEED(1);
		it->type = MP_STR;
		return payload(c, p + 1, p[0], it);
	case 0xda:
		NEED(2);
		it->type = MP_STR;
		return payload(c, p + 2, be16(p), it);
	case 0xdb:
		NEED(4);
		it->type = MP_STR;
		return payload(c, p + 4, be32(p), it);
	case 0xdc:
		NEED(2);
		it->type = MP_ARRAY;
		it->v.n = be16(p);
		c->p = p + 2;
		return MP_OK;
	case 0xdd:
		NEED(4);
		it->type = MP_ARRAY;
		it->v.n = be32(p);
		c->p = p + 4;
		return MP_OK;
	case 0xde:
		NEED(2);
		it->type = MP_MAP;
		it->v.n = be16(p);
		c->p = p + 2;
		return MP_OK;
	case 0xdf:
		NEED(4);
		it->type = MP_MAP;
		it->v.n = be32(p);
		c->p = p + 4;
		return MP_OK;
	default:		/* 0xc1: never used */
		return MP_INVALID;
	}
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
