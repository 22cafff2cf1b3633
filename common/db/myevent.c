/*
 * common/db/myevent.c: binary log events that MariaDB Connector/C leaves
 * unparsed (see myevent.h). The layouts, from MySQL's libbinlogevents
 * documentation: a v4 common header of 19 bytes (timestamp 4, type 1,
 * server id 4, event size 4, next position 4, flags 2), then a post-header
 * whose length is fixed per type, then the body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "myevent.h"
#include "../dms.h"

uint64_t
myevent_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

bool
myevent_lenenc(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	size_t n;

	if (*p >= end)
		return false;
	n = **p < 251 ? 0 : **p == 252 ? 2 : **p == 253 ? 3 : **p == 254 ? 8 : 99;
	if (n == 99 || (size_t)(end - *p) < n + 1)
		return false;
	*v = n == 0 ? **p : myevent_le(*p + 1, n);
	*p += n + 1;
	return true;
}

uint32_t
myevent_crc32(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	uint32_t crc = 0xffffffffu;

	if (table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v >> 1 ^ (0xedb88320u & -(v & 1));
			table[i] = v;
		}
	for (size_t i = 0; i < n; i++)
		crc = crc >> 8 ^ table[(crc ^ p[i]) & 0xff];
	return ~crc;
}

#define FAIL(...) do { snprintf(err, errsize, __VA_ARGS__); return false; } while (0)

/* A TABLE_MAP's optional metadata (binlog_row_metadata), as Connector/C fills it. */
static bool
table_map_optional(struct st_mariadb_rpl_table_map_event *t, const uint8_t *p, const uint8_t *end, char *err,
		   size_t errsize)
{
	while (p < end) {
		uint8_t kind = *p++;
		uint64_t len;
		MARIADB_CONST_DATA d;

		if (!myevent_lenenc(&p, end, &len) || (uint64_t)(end - p) < len)
			FAIL("TABLE_MAP: optional metadata field %u overruns the event", kind);
		d.data = p;
		d.length = (size_t)len;
		switch (kind) {
		case SIGNEDNESS: t->signed_indicator = (unsigned char *)p; break;
		case DEFAULT_CHARSET: {
			const uint8_t *q = p;
			uint64_t cs;

			if (!myevent_lenenc(&q, p + len, &cs))
				FAIL("TABLE_MAP: a malformed default character set");
			t->default_charset = (uint32_t)cs;
			break;
		}
		case COLUMN_CHARSET: t->column_charsets = d; break;
		case COLUMN_NAME: t->column_names = d; break;
		case SET_STR_VALUE: t->set_values = d; break;
		case ENUM_STR_VALUE: t->enum_values = d; break;
		case GEOMETRY_TYPE: t->geometry_types = d; break;
		case SIMPLE_PRIMARY_KEY: t->simple_primary_keys = d; break;
		case PRIMARY_KEY_WITH_PREFIX: t->prefixed_primary_keys = d; break;
		case ENUM_AND_SET_DEFAULT_CHARSET: t->enum_set_default_charset = len ? *p : 0; break;
		case ENUM_AND_SET_COLUMN_CHARSET: t->enum_set_column_charsets = d; break;
		default: break;	/* MySQL's COLUMN_VISIBILITY and later ones: not needed */
		}
		p += len;
	}
	return true;
}

static bool
table_map(MARIADB_RPL_EVENT *ev, const uint8_t *p, const uint8_t *end, char *err, size_t errsize)
{
	struct st_mariadb_rpl_table_map_event *t = &ev->event.table_map;
	uint64_t n, nmeta;

	if (end - p < 8)
		FAIL("TABLE_MAP: shorter than its post-header");
	t->table_id = myevent_le(p, 6);
	p += 8;
	for (int k = 0; k < 2; k++) {	/* the database and the table: length, name, NUL */
		MARIADB_STRING *s = k == 0 ? &t->database : &t->table;

		if (p >= end || (size_t)(end - p) < (size_t)*p + 2 || p[1 + *p] != 0)
			FAIL("TABLE_MAP: a malformed %s name", k == 0 ? "database" : "table");
		s->str = (char *)p + 1;
		s->length = *p;
		p += *p + 2;
	}
	if (!myevent_lenenc(&p, end, &n) || n == 0 || n > 4096 || (uint64_t)(end - p) < n)
		FAIL("TABLE_MAP: a malformed column count");
	t->column_count = (uint32_t)n;
	t->column_types.str = (char *)p;
	t->column_types.length = (size_t)n;
	p += n;
	if (!myevent_lenenc(&p, end, &nmeta) || (uint64_t)(end - p) < nmeta)
		FAIL("TABLE_MAP: malformed column metadata");
	t->metadata.str = (char *)p;
	t->metadata.length = (size_t)nmeta;
	p += nmeta;
	if ((size_t)(end - p) < (n + 7) / 8)
		FAIL("TABLE_MAP: no nullability bitmap");
	t->null_indicator = (unsigned char *)p;
	p += (n + 7) / 8;
	return table_map_optional(t, p, end, err, errsize);
}

static bool
rows(MARIADB_RPL_EVENT *ev, const uint8_t *p, const uint8_t *end, char *err, size_t errsize)
{
	struct st_mariadb_rpl_rows_event *r = &ev->event.rows;
	int type = ev->event_type;
	bool v2 = type >= WRITE_ROWS_EVENT && type <= PARTIAL_UPDATE_ROWS_EVENT;
	bool two = type == UPDATE_ROWS_EVENT_V1 || type == UPDATE_ROWS_EVENT || type == PARTIAL_UPDATE_ROWS_EVENT;
	uint64_t n;
	size_t nb;

	if (end - p < 8)
		FAIL("rows event: shorter than its post-header");
	r->type = type == WRITE_ROWS_EVENT_V1 || type == WRITE_ROWS_EVENT ? WRITE_ROWS :
		  type == DELETE_ROWS_EVENT_V1 || type == DELETE_ROWS_EVENT ? DELETE_ROWS : UPDATE_ROWS;
	r->table_id = myevent_le(p, 6);
	r->flags = (uint16_t)myevent_le(p + 6, 2);
	p += 8;
	if (v2) {	/* extra data, its length counting its own two bytes */
		size_t extra;

		if (end - p < 2 || (extra = (size_t)myevent_le(p, 2)) < 2 || (size_t)(end - p) < extra)
			FAIL("rows event: malformed extra data");
		r->extra_data = (void *)(p + 2);
		r->extra_data_size = extra - 2;
		p += extra;
	}
	if (!myevent_lenenc(&p, end, &n) || n == 0 || n > 4096)
		FAIL("rows event: a malformed column count");
	r->column_count = (uint32_t)n;
	nb = (size_t)(n + 7) / 8;
	if ((size_t)(end - p) < nb * (two ? 2 : 1))
		FAIL("rows event: no column bitmap");
	r->column_bitmap = (unsigned char *)p;
	p += nb;
	if (two) {
		r->column_update_bitmap = (unsigned char *)p;
		p += nb;
	}
	r->row_data = (void *)p;
	r->row_data_size = (size_t)(end - p);
	return true;
}

static bool
query(MARIADB_RPL_EVENT *ev, const uint8_t *p, const uint8_t *end, char *err, size_t errsize)
{
	struct st_mariadb_rpl_query_event *q = &ev->event.query;
	size_t dblen, statuslen;

	if (end - p < 13)
		FAIL("QUERY: shorter than its post-header");
	q->thread_id = (uint32_t)myevent_le(p, 4);
	q->seconds = (uint32_t)myevent_le(p + 4, 4);
	dblen = p[8];
	q->errornr = (uint32_t)myevent_le(p + 9, 2);
	statuslen = (size_t)myevent_le(p + 11, 2);
	p += 13;
	if ((size_t)(end - p) < statuslen + dblen + 1 || p[statuslen + dblen] != 0)
		FAIL("QUERY: malformed status or database");
	q->status.str = (char *)p;
	q->status.length = statuslen;
	p += statuslen;
	q->database.str = (char *)p;
	q->database.length = dblen;
	p += dblen + 1;
	q->statement.str = (char *)p;
	q->statement.length = (size_t)(end - p);
	return true;
}

bool
myevent_heartbeat_v2(const uint8_t *body, size_t len, MARIADB_STRING *file, uint64_t *pos)
{
	const uint8_t *p = body, *end = body + len;

	file->str = NULL;
	file->length = 0;
	*pos = 0;
	while (p < end) {
		uint64_t kind, flen;
		const uint8_t *v;

		if (!myevent_lenenc(&p, end, &kind))
			return false;
		if (kind == 0)	/* OTW_HB_HEADER_END_MARK */
			return true;
		if (!myevent_lenenc(&p, end, &flen) || (uint64_t)(end - p) < flen)
			return false;
		v = p;
		if (kind == 1) {	/* the file name */
			file->str = (char *)p;
			file->length = (size_t)flen;
		} else if (kind == 2 && !myevent_lenenc(&v, p + flen, pos)) {	/* the position */
			return false;
		}
		p += flen;
	}
	return true;
}

bool
myevent_parse(const uint8_t *p, size_t len, MARIADB_RPL_EVENT *ev, char *err, size_t errsize)
{
	const uint8_t *end = p + len;

	memset(ev, 0, sizeof(*ev));
	if (len < MYEVENT_HEADER)
		FAIL("an event of %zu bytes: shorter than its header", len);
	ev->timestamp = (unsigned int)myevent_le(p, 4);
	ev->event_type = (enum mariadb_rpl_event)p[4];
	ev->server_id = (unsigned int)myevent_le(p + 5, 4);
	ev->event_length = (unsigned int)myevent_le(p + 9, 4);
	ev->next_event_pos = (unsigned int)myevent_le(p + 13, 4);
	ev->flags = (unsigned short)myevent_le(p + 17, 2);
	ev->ok = 1;
	/* its size counts the checksum, which the caller took off */
	if (ev->event_length != len && ev->event_length != len + 4)
		FAIL("an event of type %u says it has %u bytes, and %zu are there", p[4], ev->event_length, len);
	p += MYEVENT_HEADER;
	switch ((int)ev->event_type) {
	case QUERY_EVENT:
		return query(ev, p, end, err, errsize);
	case TABLE_MAP_EVENT:
		return table_map(ev, p, end, err, errsize);
	case WRITE_ROWS_EVENT_V1: case UPDATE_ROWS_EVENT_V1: case DELETE_ROWS_EVENT_V1:
	case WRITE_ROWS_EVENT: case UPDATE_ROWS_EVENT: case DELETE_ROWS_EVENT:
	case PARTIAL_UPDATE_ROWS_EVENT:
		return rows(ev, p, end, err, errsize);
	case XID_EVENT:
		if (end - p < 8)
			FAIL("XID: shorter than its transaction number");
		ev->event.xid.transaction_nr = myevent_le(p, 8);
		return true;
	case MY_HEARTBEAT_V2: {
		uint64_t pos;

		if (!myevent_heartbeat_v2(p, (size_t)(end - p), &ev->event.heartbeat.filename, &pos))
			FAIL("HEARTBEAT_V2: malformed fields");
		return true;
	}
	default:
		return true;
	}
}

bool
mypayload_open(struct mypayload *pl, const uint8_t *body, size_t len, char *err, size_t errsize)
{
	const uint8_t *p = body, *end = body + len;
	bool have_size = false;

	memset(pl, 0, sizeof(*pl));
	for (;;) {
		uint64_t kind, flen, v;
		const uint8_t *q;

		if (!myevent_lenenc(&p, end, &kind))
			FAIL("TRANSACTION_PAYLOAD: its header overruns the event");
		if (kind == 0)	/* OTW_PAYLOAD_HEADER_END_MARK */
			break;
		if (!myevent_lenenc(&p, end, &flen) || (uint64_t)(end - p) < flen)
			FAIL("TRANSACTION_PAYLOAD: header field %llu overruns the event", (unsigned long long)kind);
		q = p;
		if (kind >= 1 && kind <= 3 && !myevent_lenenc(&q, p + flen, &v))
			FAIL("TRANSACTION_PAYLOAD: a malformed header field %llu", (unsigned long long)kind);
		if (kind == 1) {
			pl->size = v;
			have_size = true;
		} else if (kind == 2) {
			pl->ctype = v;
		} else if (kind == 3) {
			pl->usize = v;
		}
		p += flen;
	}
	if (!have_size || pl->size > (uint64_t)(end - p))
		FAIL("TRANSACTION_PAYLOAD: a payload of %llu bytes, and %zu are there",
		     (unsigned long long)pl->size, (size_t)(end - p));
	if (pl->ctype != 0 && pl->ctype != 255)
		FAIL("TRANSACTION_PAYLOAD: compression type %llu (known: 0 zstd, 255 none)",
		     (unsigned long long)pl->ctype);
	pl->in = p;
	pl->inlen = (size_t)pl->size;
	if (pl->ctype == 0) {
		pl->z = ZSTD_createDStream();
		if (pl->z == NULL || ZSTD_isError(ZSTD_initDStream(pl->z)))
			FAIL("TRANSACTION_PAYLOAD: cannot start zstd");
	}
	return true;
}

/* At least want bytes decompressed and not consumed; false: the payload has fewer, or is corrupt (err). */
static bool
payload_fill(struct mypayload *pl, size_t want, char *err, size_t errsize)
{
	while (pl->len - pl->off < want) {
		size_t before;

		if (pl->off > 0) {	/* what was consumed makes room */
			memmove(pl->buf, pl->buf + pl->off, pl->len - pl->off);
			pl->len -= pl->off;
			pl->off = 0;
		}
		if (pl->cap < want || pl->cap - pl->len < 4096) {
			size_t cap = pl->cap ? pl->cap : 8192;

			while (cap < want || cap - pl->len < 4096)
				cap *= 2;
			pl->buf = xrealloc(pl->buf, cap);
			pl->cap = cap;
		}
		before = pl->len;
		if (pl->ctype == 255) {
			size_t n = pl->inlen - pl->inpos;

			if (n > pl->cap - pl->len)
				n = pl->cap - pl->len;
			memcpy(pl->buf + pl->len, pl->in + pl->inpos, n);
			pl->inpos += n;
			pl->len += n;
		} else if (!pl->ended) {
			ZSTD_inBuffer in = { pl->in, pl->inlen, pl->inpos };
			ZSTD_outBuffer out = { pl->buf, pl->cap, pl->len };
			size_t r = ZSTD_decompressStream(pl->z, &out, &in);

			if (ZSTD_isError(r))
				FAIL("TRANSACTION_PAYLOAD: zstd: %s", ZSTD_getErrorName(r));
			pl->inpos = in.pos;
			pl->len = out.pos;
			pl->ended = r == 0;
		}
		pl->out += pl->len - before;
		if (pl->len == before && (pl->ended || pl->inpos == pl->inlen || pl->ctype == 255))
			return false;	/* nothing more to come */
	}
	return true;
}

int
mypayload_next(struct mypayload *pl, const uint8_t **ev, size_t *evlen, char *err, size_t errsize)
{
	uint64_t size;

	err[0] = '\0';
	if (!payload_fill(pl, 1, err, errsize)) {
		if (err[0])
			return -1;
		if (pl->ctype == 0 && !pl->ended) {
			snprintf(err, errsize, "TRANSACTION_PAYLOAD: the compressed payload is cut short");
			return -1;
		}
		if (pl->usize != 0 && pl->out != pl->usize) {
			snprintf(err, errsize, "TRANSACTION_PAYLOAD: %llu bytes uncompressed, and its header says %llu",
				 (unsigned long long)pl->out, (unsigned long long)pl->usize);
			return -1;
		}
		return 0;
	}
	if (!payload_fill(pl, MYEVENT_HEADER, err, errsize)) {
		if (!err[0])
			snprintf(err, errsize, "TRANSACTION_PAYLOAD: an inner event cut short in its header");
		return -1;
	}
	size = myevent_le(pl->buf + pl->off + 9, 4);
	if (size < MYEVENT_HEADER || size > (uint64_t)1 << 30) {
		snprintf(err, errsize, "TRANSACTION_PAYLOAD: an inner event of %llu bytes", (unsigned long long)size);
		return -1;
	}
	if (!payload_fill(pl, (size_t)size, err, errsize)) {
		if (!err[0])
			snprintf(err, errsize, "TRANSACTION_PAYLOAD: an inner event of %llu bytes cut short",
				 (unsigned long long)size);
		return -1;
	}
	*ev = pl->buf + pl->off;
	*evlen = (size_t)size;
	pl->off += (size_t)size;
	return 1;
}

void
mypayload_close(struct mypayload *pl)
{
	if (pl->z != NULL)
		ZSTD_freeDStream(pl->z);
	free(pl->buf);
	memset(pl, 0, sizeof(*pl));
}
