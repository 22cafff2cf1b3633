/*
 * dms-binlogfuzz [-n runs] [-s seed] [-b rows] binlog-file...: the binary
 * log row decoder (common/db/myrows.c) on the row events of real binary log
 * files (a MariaDB server's own), then on mutations of them.
 *
 * Every row event of the files is decoded first, with its TABLE_MAP: one
 * that does not decode is a decoder bug (exit 1). Then runs mutated events
 * (bits flipped, bytes set, cut short, stretched; the TABLE_MAP's metadata
 * too) go through the decoder, which must answer each with an error or a
 * row, never a crash: built with AddressSanitizer (make fuzz-build), an
 * overread is a crash. With -b, the real events are decoded again and again
 * until that many rows, and the rate printed (bench/binlog.sh).
 *
 * The decoder's columns map to a stand-in catalog table whose types follow
 * the log's (signed integers, doubles, text, bytes), ENUM and SET with 64
 * labels each: the log alone, as a fuzz target needs it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/db/myevent.h"
#include "../../common/db/myrows.h"
#include "../../common/dms.h"

struct map {
	uint64_t table_id;
	uint8_t *types, *meta;
	size_t ntypes, nmeta;
};

struct event {
	uint8_t type;
	const uint8_t *body;	/* after the common header, without the checksum */
	size_t len;
	size_t map;		/* its TABLE_MAP, in maps (which grows: an index, not a pointer) */
};

static struct map *maps;
static size_t nmaps, capmaps;
static struct event *events;
static size_t nevents, capevents;
static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A TABLE_MAP body: the table id, its column types and their metadata. */
static bool
table_map(const uint8_t *p, size_t len, struct map *m)
{
	const uint8_t *end = p + len;
	uint64_t n, nmeta;

	if (len < 8)
		return false;
	m->table_id = myevent_le(p, 6);
	p += 8;
	for (int k = 0; k < 2; k++) {	/* the database and the table: length, name, NUL */
		if (p >= end || (size_t)(end - p) < (size_t)*p + 2)
			return false;
		p += *p + 2;
	}
	if (!myevent_lenenc(&p, end, &n) || (uint64_t)(end - p) < n)
		return false;
	m->ntypes = n;
	m->types = xmalloc(n + 1);
	memcpy(m->types, p, n);
	p += n;
	if (!myevent_lenenc(&p, end, &nmeta) || (uint64_t)(end - p) < nmeta)
		return false;
	m->nmeta = nmeta;
	m->meta = xmalloc(nmeta + 1);
	memcpy(m->meta, p, nmeta);
	return true;
}

/* The row events and TABLE_MAPs of a binary log file (read whole; kept). */
static bool
load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;
	size_t at = 4;
	bool crc = false;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 4 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "dms-binlogfuzz: %s: cannot read\n", path);
		return false;
	}
	buf = xmalloc((size_t)size);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size || memcmp(buf, "\xfe" "bin", 4) != 0) {
		fprintf(stderr, "dms-binlogfuzz: %s: not a binary log\n", path);
		fclose(f);
		return false;
	}
	fclose(f);
	while (at + 19 <= (size_t)size) {
		uint8_t type = buf[at + 4];
		size_t elen = (size_t)myevent_le(buf + at + 9, 4), blen;
		const uint8_t *body = buf + at + 19;

		if (elen < 19 || at + elen > (size_t)size)
			break;
		blen = elen - 19 - (crc ? 4 : 0);
		if (type == 15 && elen >= 19 + 5)	/* FORMAT_DESCRIPTION: its checksum algorithm, last but 4 */
			crc = buf[at + elen - 5] == 1;
		if (type == 19) {
			if (nmaps == capmaps) {
				capmaps = capmaps ? 2 * capmaps : 256;
				maps = xrealloc(maps, capmaps * sizeof(*maps));
			}
			memset(&maps[nmaps], 0, sizeof(*maps));
			if (table_map(body, blen, &maps[nmaps]))
				nmaps++;
		} else if ((type >= 23 && type <= 25) || (type >= 30 && type <= 32)) {
			size_t m = nmaps;

			for (size_t i = nmaps; i > 0 && blen >= 6; i--)
				if (maps[i - 1].table_id == myevent_le(body, 6)) {
					m = i - 1;
					break;
				}
			if (m < nmaps) {
				if (nevents == capevents) {
					capevents = capevents ? 2 * capevents : 256;
					events = xrealloc(events, capevents * sizeof(*events));
				}
				events[nevents++] = (struct event){ type, body, blen, m };
			}
		}
		at += elen;
	}
	return true;
}

/* A stand-in catalog table for a TABLE_MAP's columns. */
static void
stand_in(struct mymap *mm, struct src_table *t)
{
	memset(t, 0, sizeof(*t));
	t->d.schema = xstrdup("fuzz");
	t->d.name = xstrdup("t");
	for (uint32_t i = 0; i < mm->ncols; i++) {
		struct mycol *c = &mm->cols[i];
		enum dms_type dt = DT_STRING;
		enum conv conv = CONV_TEXT;
		char name[16];

		switch (c->type) {
		case MYT_TINY: case MYT_SHORT: case MYT_INT24: case MYT_LONG: case MYT_LONGLONG: case MYT_YEAR:
			dt = DT_INT8;
			conv = CONV_INT;
			break;
		case MYT_BIT:
			dt = DT_UINT8;
			conv = CONV_UINT;
			break;
		case MYT_FLOAT: case MYT_DOUBLE:
			dt = DT_REAL8;
			conv = CONV_FLOAT8;
			break;
		case MYT_BLOB: case MYT_GEOMETRY:
			dt = DT_BLOB;
			conv = CONV_BINARY;
			c->binary = true;
			break;
		case MYT_ENUM: case MYT_SET:
			c->nlabels = 64;
			c->labels = xcalloc(64, sizeof(char *));
			for (int k = 0; k < 64; k++)
				c->labels[k] = xprintf("l%d", k);
			break;
		default:
			break;
		}
		snprintf(name, sizeof(name), "c%u", i);
		src_add_column(t, name, dt, conv, NULL);
		c->col = (int)i;
	}
}

/* Decodes every row of a rows event; the rows decoded, or -1 at an error. */
static long
decode(uint8_t type, const uint8_t *body, size_t len, const struct mymap *mm, msgpack_sbuffer *sb,
       struct strbuf *scratch)
{
	const uint8_t *p = body, *end = body + len, *present, *after;
	msgpack_packer pk;
	uint64_t ncols;
	char err[256];
	long rows = 0;
	size_t nb;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (len < 8)
		return -1;
	p += 8;
	if (type >= 30) {	/* v2: extra data, its length counting itself */
		size_t extra;

		if (end - p < 2 || (extra = (size_t)myevent_le(p, 2)) < 2 || (size_t)(end - p) < extra)
			return -1;
		p += extra;
	}
	if (!myevent_lenenc(&p, end, &ncols) || ncols != mm->ncols)
		return -1;
	nb = (size_t)(ncols + 7) / 8;
	if ((size_t)(end - p) < nb)
		return -1;
	present = after = p;
	p += nb;
	if (type == 24 || type == 31) {
		if ((size_t)(end - p) < nb)
			return -1;
		after = p;
		p += nb;
	}
	while (p < end) {
		msgpack_sbuffer_clear(sb);
		if (!myrows_row(mm, present, &p, end, false, &pk, scratch, err, sizeof(err)))
			return -1;
		if ((type == 24 || type == 31) &&
		    !myrows_row(mm, after, &p, end, true, &pk, scratch, err, sizeof(err)))
			return -1;
		rows++;
	}
	return rows;
}

struct prepared {
	struct mymap mm;
	struct src_table t;
	bool ok;
};

static bool
prepare(const struct map *m, const uint8_t *meta, size_t nmeta, struct prepared *p)
{
	char err[256];

	memset(p, 0, sizeof(*p));
	if (!myrows_map(&p->mm, m->types, m->ntypes, meta, nmeta, err, sizeof(err)))
		return false;
	stand_in(&p->mm, &p->t);
	p->mm.t = &p->t;
	p->ok = true;
	return true;
}

static void
unprepare(struct prepared *p)
{
	if (p->mm.cols != NULL)
		myrows_map_free(&p->mm);
	if (p->ok)
		src_table_free(&p->t);
}

/* One mutation of buf[0..*len) (room: its capacity). */
static void
mutate(uint8_t *buf, size_t *len, size_t room)
{
	size_t at = *len ? (size_t)(next() % *len) : 0;

	switch (next() % 6) {
	case 0:
		if (*len)
			buf[at] ^= (uint8_t)(1u << (next() % 8));
		break;
	case 1:
		if (*len)
			buf[at] = (uint8_t)next();
		break;
	case 2:
		if (*len)
			buf[at] = (uint8_t[]){ 0, 0xff, 0x7f, 0x80, 1, 251, 252, 253, 254 }[next() % 9];
		break;
	case 3:
		*len = at;	/* cut short */
		break;
	case 4:
		if (*len < room) {	/* a byte more */
			memmove(buf + at + 1, buf + at, *len - at);
			buf[at] = (uint8_t)next();
			(*len)++;
		}
		break;
	default:
		if (*len > 1) {	/* a byte less */
			memmove(buf + at, buf + at + 1, *len - at - 1);
			(*len)--;
		}
		break;
	}
}

int
main(int argc, char **argv)
{
	long runs = 100000, bench = 0;
	int ch;
	uint64_t total = 0, decoded = 0, refused = 0;
	msgpack_sbuffer sb;
	struct strbuf scratch = STRBUF_INIT;

	log_init(argv[0]);
	while ((ch = getopt(argc, argv, "n:s:b:")) != -1) {
		if (ch == 'n')
			runs = strtol(optarg, NULL, 10);
		else if (ch == 's')
			rng = strtoull(optarg, NULL, 10) * 2654435761ULL + 1;
		else if (ch == 'b')
			bench = strtol(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: dms-binlogfuzz [-n runs] [-s seed] [-b rows] binlog-file...\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: dms-binlogfuzz [-n runs] [-s seed] [-b rows] binlog-file...\n");
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (!load_file(argv[i]))
			return 2;
	if (nevents == 0) {
		fprintf(stderr, "dms-binlogfuzz: no row events in the files\n");
		return 2;
	}
	msgpack_sbuffer_init(&sb);
	/* the real events: every one decodes */
	for (size_t i = 0; i < nevents; i++) {
		struct prepared p;
		long rows;

		if (!prepare(&maps[events[i].map], maps[events[i].map].meta, maps[events[i].map].nmeta, &p)) {
			fprintf(stderr, "dms-binlogfuzz: a real TABLE_MAP does not read\n");
			return 1;
		}
		rows = decode(events[i].type, events[i].body, events[i].len, &p.mm, &sb, &scratch);
		unprepare(&p);
		if (rows < 0) {
			fprintf(stderr, "dms-binlogfuzz: real row event %zu (type %u) does not decode\n", i, events[i].type);
			return 1;
		}
		total += (uint64_t)rows;
	}
	printf("%zu real row events, %" PRIu64 " rows: all decoded\n", nevents, total);
	if (bench > 0) {
		struct prepared *ps = xcalloc(nevents, sizeof(*ps));
		struct timespec a, b;
		uint64_t rows = 0;

		for (size_t i = 0; i < nevents; i++)
			prepare(&maps[events[i].map], maps[events[i].map].meta, maps[events[i].map].nmeta, &ps[i]);
		clock_gettime(CLOCK_MONOTONIC, &a);
		while (rows < (uint64_t)bench)
			for (size_t i = 0; i < nevents && rows < (uint64_t)bench; i++)
				rows += (uint64_t)decode(events[i].type, events[i].body, events[i].len, &ps[i].mm, &sb,
							 &scratch);
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("decoded %" PRIu64 " rows in %.3f s: %.0f rows/s\n", rows,
		       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
		       (double)rows / ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9));
		for (size_t i = 0; i < nevents; i++)
			unprepare(&ps[i]);
		free(ps);
	}
	for (long r = 0; r < runs; r++) {
		const struct event *e = &events[next() % nevents];
		const struct map *em = &maps[e->map];
		size_t room = e->len + 64, len = e->len, mlen = em->nmeta;
		uint8_t *buf = xmalloc(room), *meta = xmalloc(mlen + 64);
		struct prepared p;
		int k = 1 + (int)(next() % 4);

		memcpy(buf, e->body, len);
		memcpy(meta, em->meta, mlen);
		if (next() % 10 == 0)
			mutate(meta, &mlen, em->nmeta + 64);
		else
			while (k-- > 0)
				mutate(buf, &len, room);
		/* exactly as long as the bytes: an overread is AddressSanitizer's */
		{
			uint8_t *exact = xmalloc(len ? len : 1);

			memcpy(exact, buf, len);
			if (prepare(em, meta, mlen, &p)) {
				if (decode(e->type, exact, len, &p.mm, &sb, &scratch) < 0)
					refused++;
				else
					decoded++;
			} else {
				refused++;
			}
			unprepare(&p);
			free(exact);
		}
		free(buf);
		free(meta);
	}
	if (runs > 0)
		printf("%ld mutated events: %" PRIu64 " decoded, %" PRIu64 " refused, none crashed\n", runs, decoded,
		       refused);
	msgpack_sbuffer_destroy(&sb);
	sb_release(&scratch);
	return 0;
}
