/*
 * mp.h: a zero-copy MessagePack reader over a byte range.
 *
 * msgpack-c's unpacker builds an object tree per record; the stream's hot path
 * (checking and forwarding millions of records a second) only needs to look at
 * headers in place, so this reader walks the bytes with a cursor and returns
 * items that point into the caller's buffer. Strings, binaries and ext payloads
 * stay valid as long as that buffer does. Writing uses msgpack-c's packer.
 */
#ifndef DMS_MP_H
#define DMS_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mp_type {
	MP_NIL, MP_BOOL, MP_INT, MP_UINT, MP_FLOAT32, MP_FLOAT64,
	MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT,
};

/* MP_INT holds negative integers only; every non-negative integer is MP_UINT. */
struct mp_item {
	enum mp_type type;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		float f32;
		double f64;
		uint32_t n;		/* MP_ARRAY elements, MP_MAP pairs */
		struct {
			const uint8_t *p;
			uint32_t len;
		} s;			/* MP_STR, MP_BIN */
		struct {
			const uint8_t *p;
			uint32_t len;
			int8_t type;
		} ext;
	} v;
};

enum mp_status { MP_OK = 0, MP_INCOMPLETE = -1, MP_INVALID = -2 };

struct mp_cursor {
	const uint8_t *p;
	const uint8_t *end;
};

#define MP_EXT_TIMESTAMP (-1)
#define MP_EXT_UNCHANGED 1

static inline void
mp_cursor_init(struct mp_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->end = (const uint8_t *)p + len;
}

/* Reads one item; for arrays and maps only the header (the count). */
int mp_next(struct mp_cursor *c, struct mp_item *it);
/* Skips one whole object, nested ones included (no recursion). */
int mp_skip(struct mp_cursor *c);
/* The same, MP_INVALID for arrays and maps nested more than max_depth deep (at most 64). */
int mp_skip_bounded(struct mp_cursor *c, unsigned max_depth);

const char *mp_type_name(enum mp_type t);

/* Integer value of an MP_INT / MP_UINT item as int64; false if it does not fit. */
bool mp_as_int64(const struct mp_item *it, int64_t *out);
/* The timestamp extension (-1) in its three sizes; false if it is not one. */
bool mp_timestamp(const struct mp_item *it, int64_t *sec, uint32_t *nsec);
bool mp_is_unchanged(const struct mp_item *it);
/* Compares an MP_STR item with a C string. */
bool mp_str_eq(const struct mp_item *it, const char *s);

#endif
