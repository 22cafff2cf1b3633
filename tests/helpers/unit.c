/*
 * dms-unit GROUP: unit checks of common/ pieces that no program exposes
 * whole: positions, URIs, base64, the MessagePack reader, MySQL's binary
 * JSON (golden bytes built from the format MySQL documents in
 * sql/json_binary.h, as no MySQL 8 server runs here), and MySQL 8's events
 * that MariaDB does not write (TRANSACTION_PAYLOAD, PARTIAL_UPDATE_ROWS,
 * HEARTBEAT_V2), built from the layouts of MySQL's libbinlogevents. Prints one line per
 * failed check and exits 1 if any failed. Run by tests/unit.bats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "../../common/db/myevent.h"
#include "../../common/db/myrows.h"
#include "../../common/format.h"
#include "../../common/position.h"
#include "../../common/uri.h"
#include "../../common/dms.h"

static int failures;

#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int
cmp(const char *a, const char *b)
{
	int c = 99;

	if (!position_compare(a, b, &c))
		return 99;
	return c;
}

static void
positions(void)
{
	uint64_t lsn;
	char buf[32];

	CHECK(lsn_parse("16/B374D848", &lsn) && lsn == 0x16B374D848ULL);
	lsn_format(lsn, buf, sizeof(buf));
	CHECK(strcmp(buf, "16/B374D848") == 0);
	CHECK(!lsn_parse("16B374D848", &lsn));
	CHECK(!lsn_parse("1/123456789", &lsn));
	CHECK(!lsn_parse("G/1", &lsn));
	CHECK(cmp("0/1", "0/2") < 0);
	CHECK(cmp("1/0", "0/FFFFFFFF") > 0);
	CHECK(cmp("A/10", "a/10") == 0);
	CHECK(cmp("binlog.000042:1234", "binlog.000042:999") > 0);
	CHECK(cmp("binlog.000041:99999", "binlog.000042:4") < 0);
	CHECK(cmp("binlog.000009:4", "binlog.000010:4") < 0);
	CHECK(cmp("mysql-bin.000001:4", "mysql-bin.000001:4") == 0);
	CHECK(cmp("a.b.000001:4", "a.b.000002:4") < 0);
	/* different engines or binlog names are not comparable */
	CHECK(cmp("0/1", "binlog.000001:4") == 99);
	CHECK(cmp("binlog.000001:4", "other.000001:4") == 99);
	CHECK(cmp("binlog:4", "binlog:5") == 99);
}

static void
uris(void)
{
	struct dms_uri u;
	char *m;

	CHECK(uri_parse("mysql://us%40er:p%3Ass@127.0.0.1:3307/app?socket=/tmp/s.sock&x", &u));
	CHECK(u.engine == ENGINE_MYSQL);
	CHECK(strcmp(u.user, "us@er") == 0 && strcmp(u.password, "p:ss") == 0);
	CHECK(strcmp(u.host, "127.0.0.1") == 0 && u.port == 3307 && strcmp(u.dbname, "app") == 0);
	CHECK(strcmp(uri_param(&u, "socket"), "/tmp/s.sock") == 0);
	CHECK(strcmp(uri_param(&u, "x"), "") == 0 && uri_param(&u, "y") == NULL);
	uri_release(&u);
	CHECK(uri_parse("mariadb://[::1]:3306/db", &u) && strcmp(u.host, "::1") == 0 && u.port == 3306);
	uri_release(&u);
	CHECK(uri_parse("postgresql://localhost", &u) && u.engine == ENGINE_PG && u.dbname == NULL &&
	      u.user == NULL && u.port == 0);
	uri_release(&u);
	CHECK(!uri_parse("mysql://h:0/db", &u));
	CHECK(!uri_parse("mysql://h:99999/db", &u));
	CHECK(!uri_parse("mysql://u:p@h/d%zz", &u));
	CHECK(!uri_parse("ftp://h/db", &u));
	m = uri_mask("postgresql://u:secret@h:5432/db?sslmode=require");
	CHECK(strcmp(m, "postgresql://u:****@h:5432/db?sslmode=require") == 0);
	free(m);
	m = uri_mask("postgresql://u@h/db?password=secret&sslmode=require");
	CHECK(strcmp(m, "postgresql://u@h/db?password=****&sslmode=require") == 0);
	free(m);
	m = uri_mask("mysql://u:p@ss@h/db");
	CHECK(strcmp(m, "mysql://u:****@h/db") == 0);
	free(m);
	m = uri_mask("mysql://h/db");
	CHECK(strcmp(m, "mysql://h/db") == 0);
	free(m);
}

static void
base64(void)
{
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	uint8_t dec[16];
	char enc[16];
	size_t n;

	for (int i = 0; i < 7; i++) {
		memset(enc, 0, sizeof(enc));
		base64_encode((const uint8_t *)in[i], strlen(in[i]), enc);
		CHECK(strcmp(enc, out[i]) == 0);
		CHECK(base64_decode(out[i], strlen(out[i]), dec, &n) && n == strlen(in[i]) &&
		      memcmp(dec, in[i], n) == 0);
	}
	CHECK(!base64_decode("Zg=", 3, dec, &n));
	CHECK(!base64_decode("Z===", 4, dec, &n));
	CHECK(!base64_decode("Zg==Zg==", 8, dec, &n));
	CHECK(!base64_decode("Z*==", 4, dec, &n));
}

static void
msgpack_reader(void)
{
	static const uint8_t ints[] = { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xcf, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0xd0, 0x05, 0xe0 };
	static const uint8_t nested[] = { 0x91, 0x91, 0x81, 0xa1, 'k', 0x92, 0xc0, 0xc3 };
	static const uint8_t ts96[] = { 0xc7, 12, 0xff, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff };
	static const uint8_t unchanged[] = { 0xc7, 0x00, 0x01 };
	struct mp_cursor c;
	struct mp_item it;
	int64_t sec;
	uint32_t nsec;

	mp_cursor_init(&c, ints, sizeof(ints));
	CHECK(mp_next(&c, &it) == MP_OK && it.type == MP_INT && it.v.i == INT64_MIN);
	CHECK(mp_next(&c, &it) == MP_OK && it.type == MP_UINT && it.v.u == UINT64_MAX);
	CHECK(mp_next(&c, &it) == MP_OK && it.type == MP_UINT && it.v.u == 5);
	CHECK(mp_next(&c, &it) == MP_OK && it.type == MP_INT && it.v.i == -32);
	CHECK(mp_next(&c, &it) == MP_INCOMPLETE);
	mp_cursor_init(&c, nested, sizeof(nested));
	CHECK(mp_skip(&c) == MP_OK && c.p == c.end);
	mp_cursor_init(&c, nested, sizeof(nested) - 1);
	CHECK(mp_skip(&c) == MP_INCOMPLETE);
	mp_cursor_init(&c, (const uint8_t[]){ 0xc1 }, 1);
	CHECK(mp_next(&c, &it) == MP_INVALID);
	mp_cursor_init(&c, ts96, sizeof(ts96));
	CHECK(mp_next(&c, &it) == MP_OK && mp_timestamp(&it, &sec, &nsec) && sec == -1 && nsec == 1);
	mp_cursor_init(&c, unchanged, sizeof(unchanged));
	CHECK(mp_next(&c, &it) == MP_OK && mp_is_unchanged(&it));
	/* a str header that claims more bytes than there are */
	mp_cursor_init(&c, (const uint8_t[]){ 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' }, 6);
	CHECK(mp_next(&c, &it) == MP_INCOMPLETE);
}


#include "../../common/sha256.h"

static void
sha256(void)
{
	char hex[65], *million = xmalloc(1000000);

	sha256_hex("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
	free(million);
}

static void
hexfloats(void)
{
	const double cases[] = { 0.0, -0.0, 1.0, -1.5, 0.1, 1.0 / 7.0, 1e300, -1.7976931348623157e308,
				 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 123456.789,
				 (double)3.14159274f };
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double back;

		format_hexfloat(buf, cases[i]);
		back = strtod(buf, NULL);
		CHECK(memcmp(&back, &cases[i], sizeof(double)) == 0);
	}
	format_hexfloat(buf, 1.5);
	CHECK(strcmp(buf, "0x1.8p0") == 0);
	format_hexfloat(buf, -0.0);
	CHECK(strcmp(buf, "-0") == 0);
	format_hexfloat(buf, 5e-324);
	CHECK(strcmp(buf, "0x0.0000000000001p-1022") == 0);
}

/* hex into bytes (room for strlen(hex) / 2). */
static size_t
unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2)
		out[n++] = (uint8_t)(hex_digit(hex[0]) << 4 | hex_digit(hex[1]));
	return n;
}

/* The text of a binary JSON value given in hex; "ERROR" when it does not decode. */
static char *
json_of(const char *hex)
{
	uint8_t buf[512];
	size_t n = unhex(hex, buf);
	struct strbuf out = STRBUF_INIT;

	if (!myrows_json(buf, n, &out)) {
		sb_release(&out);
		return xstrdup("ERROR");
	}
	return out.buf ? out.buf : xstrdup("");
}

static void
json_check(const char *hex, const char *want, int line)
{
	char *got = json_of(hex);

	if (strcmp(got, want) != 0) {
		printf("FAIL %s:%d: binary JSON %s: expected %s, got %s\n", __FILE__, line, hex, want, got);
		failures++;
	}
	free(got);
}

static void
binjson(void)
{
	uint8_t deep[2000];
	size_t n = 0;
	struct strbuf out = STRBUF_INIT;

	/* small object, nested small array, inlined INT16 and literal, DOUBLE, STRING */
	json_check("0002002b0012000100130001000214000400006162030017000501000b0d000c150000000000000004400178",
		   "{\"a\": [1, 2.5, \"x\"], \"b\": null}", __LINE__);
	/* large array: inlined INT32, UINT64, escapes, true, false, a double that looks like an integer */
	json_check("03060000003e0000000790eefeff0a260000000c2e000000040100000004020000000b36000000ffffffffffffffff"
		   "0771225c0a01c3a9000000000000f03f",
		   "[-70000, 18446744073709551615, \"q\\\"\\\\\\n\\u0001\xc3\xa9\", true, false, 1.0]", __LINE__);
	/* opaque DECIMAL(3,2) and DATETIME(6) */
	json_check("0ff6040302830e", "3.14", __LINE__);
	json_check("0f0c0820a10719761f9519", "\"2015-01-15 23:24:25.500000\"", __LINE__);
	/* object: inlined UINT16, nested object with 1e300, opaque negative TIME */
	json_check("0003003a00190001001a0001001b00010006ffff001c000f30006e6f74010014000b0001000b0c00789c7500883ce4"
		   "377e0b080000007defffffff",
		   "{\"n\": 65535, \"o\": {\"x\": 1e300}, \"t\": \"-01:02:03.000000\"}", __LINE__);
	/* a JSON column's empty value is null; literals and scalars at the top */
	json_check("", "null", __LINE__);
	json_check("0401", "true", __LINE__);
	json_check("0c03616263", "\"abc\"", __LINE__);
	json_check("09ffffffffffffffff", "-1", __LINE__);
	json_check("0b9a9999999999b93f", "0.1", __LINE__);
	/* an opaque value of another type: base64, as MySQL prints it */
	json_check("0ffc03616263", "\"base64:type252:YWJj\"", __LINE__);
	/* malformed: an offset past the value, cut short, an unknown type, a bad literal, NaN */
	json_check("0002002b0012000100130001007f14000400006162030017000501000b0d000c150000000000000004400178", "ERROR",
		   __LINE__);
	json_check("0002002b00120001001300", "ERROR", __LINE__);
	json_check("0d00", "ERROR", __LINE__);
	json_check("0403", "ERROR", __LINE__);
	json_check("0b000000000000f87f", "ERROR", __LINE__);
	json_check("0c05616263", "ERROR", __LINE__);
	/* nesting past the bound is an error, not a stack overflow: 200 arrays, each holding the next */
	deep[n++] = 0x02;
	for (int level = 0; level < 200; level++) {
		size_t here = 7 * (size_t)(200 - level);	/* this array's size, the innermost 7 */

		deep[n++] = 1;
		deep[n++] = 0;
		deep[n++] = (uint8_t)(here & 0xff);
		deep[n++] = (uint8_t)(here >> 8);
		if (level == 199) {
			deep[n++] = 0x04;	/* the innermost holds null */
			deep[n++] = 0;
			deep[n++] = 0;
		} else {
			deep[n++] = 0x02;	/* the next array, right after this entry */
			deep[n++] = 7;
			deep[n++] = 0;
		}
	}
	CHECK(!myrows_json(deep, n, &out));
	sb_release(&out);
	/* 100,000 mutations of the documents above: each decodes or is an error (under AddressSanitizer in the fuzz build) */
	{
		static const char *const docs[] = {
			"0002002b0012000100130001000214000400006162030017000501000b0d000c150000000000000004400178",
			"03060000003e0000000790eefeff0a260000000c2e000000040100000004020000000b36000000ffffffffffffffff"
			"0771225c0a01c3a9000000000000f03f",
			"0003003a00190001001a0001001b00010006ffff001c000f30006e6f74010014000b0001000b0c00789c7500883ce4"
			"377e0b080000007defffffff",
		};
		uint64_t rng = 88172645463325252ULL;
		int decoded = 0;

		for (int i = 0; i < 100000; i++) {
			uint8_t doc[128], *copy;
			size_t len = unhex(docs[i % 3], doc);

			for (int k = 0; k < 1 + i % 4; k++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				doc[rng % len] = (uint8_t)(rng >> 32);
			}
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			if (i % 5 == 0)
				len = (size_t)(rng % len);	/* cut short */
			copy = xmalloc(len ? len : 1);	/* its own allocation: an overread is caught */
			memcpy(copy, doc, len);
			decoded += myrows_json(copy, len, &out);
			sb_reset(&out);
			free(copy);
		}
		CHECK(decoded > 0 && decoded < 100000);
	}
	/* 50 deep decodes */
	{
		uint8_t *d = deep + (150 * 7);

		d[0] = 0x02;
		CHECK(myrows_json(d, n - 150 * 7, &out));
		CHECK(out.buf != NULL && strncmp(out.buf, "[[[[", 4) == 0 && strstr(out.buf, "[null]") != NULL);
		sb_release(&out);
	}
}

/* A value of binary log type (and meta) given in hex, as MySQL's text; "ERROR" when it does not decode. */
static void
binlog_text_check(uint8_t type, uint16_t meta, const char *hex, const char *want, int line)
{
	uint8_t buf[64];
	size_t n = unhex(hex, buf);
	const uint8_t *p = buf;
	struct mycol c = { .type = type, .meta = meta, .col = 0, .cd = (iconv_t)-1 };
	struct strbuf out = STRBUF_INIT;
	char err[256] = "";
	const char *got = myrows_text(&c, &p, buf + n, &out, err, sizeof(err)) ? (out.buf ? out.buf : "") : "ERROR";

	if (strcmp(got, want) != 0) {
		printf("FAIL %s:%d: type %u %s: expected %s, got %s (%s)\n", __FILE__, line, type, hex, want, got, err);
		failures++;
	}
	sb_release(&out);
}

/* The temporal forms before MySQL 5.6 (TIMESTAMP, TIME, DATETIME without fractions), from golden bytes. */
static void
binlogold(void)
{
	binlog_text_check(MYT_TIMESTAMP, 0, "00f15365", "2023-11-14 22:13:20", __LINE__);
	binlog_text_check(MYT_TIMESTAMP, 0, "00000000", "0000-00-00 00:00:00", __LINE__);
	binlog_text_check(MYT_TIME, 0, "40e201", "12:34:56", __LINE__);
	binlog_text_check(MYT_TIME, 0, "25d8ff", "-01:02:03", __LINE__);
	binlog_text_check(MYT_DATETIME, 0, "a9ea759053120000", "2015-01-15 23:24:25", __LINE__);
	binlog_text_check(MYT_DATETIME, 0, "a9ea75905312", "ERROR", __LINE__);
	binlog_text_check(MYT_TIME, 0, "40e2", "ERROR", __LINE__);
	/* and MySQL 8's JSON column, through the column path */
	binlog_text_check(MYT_JSON, 4, "020000000401", "true", __LINE__);
	binlog_text_check(MYT_JSON, 4, "020000000403", "ERROR", __LINE__);
}

/* Event bytes built by a test: a growing buffer. */
struct bytes {
	uint8_t b[4096];
	size_t n;
};

static void
put(struct bytes *e, const void *p, size_t n)
{
	if (e->n + n > sizeof(e->b)) {
		printf("FAIL: a test event past %zu bytes\n", sizeof(e->b));
		failures++;
		return;
	}
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static void
put_le(struct bytes *e, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));

		put(e, &c, 1);
	}
}

static void
put_lenenc(struct bytes *e, uint64_t v)
{
	if (v < 251) {
		put_le(e, v, 1);
	} else if (v < 65536) {
		put_le(e, 252, 1);
		put_le(e, v, 2);
	} else if (v < 16777216) {
		put_le(e, 253, 1);
		put_le(e, v, 3);
	} else {
		put_le(e, 254, 1);
		put_le(e, v, 8);
	}
}

static void
put_hex(struct bytes *e, const char *hex)
{
	uint8_t buf[512];

	put(e, buf, unhex(hex, buf));
}

/* An event: the v4 common header (19 bytes) before body, its size filled in, no checksum. */
static void
event_of(struct bytes *out, uint8_t type, const struct bytes *body)
{
	put_le(out, 1700000000, 4);	/* timestamp */
	put_le(out, type, 1);
	put_le(out, 8, 4);		/* server id */
	put_le(out, MYEVENT_HEADER + body->n, 4);
	put_le(out, 0, 4);		/* next position: none inside a payload */
	put_le(out, 0, 2);		/* flags */
	put(out, body->b, body->n);
}

/* A rows event of table 42 (v2: extra data of its two length bytes), three columns, and the row images given in hex. */
static void
rows_event(struct bytes *out, uint8_t type, const char *images)
{
	struct bytes b = { .n = 0 };

	put_le(&b, 42, 6);
	put_le(&b, 1, 2);		/* STMT_END_F */
	put_le(&b, 2, 2);		/* extra data: only its length */
	put_lenenc(&b, 3);
	put_hex(&b, "07");		/* the columns present */
	if (type == UPDATE_ROWS_EVENT || type == PARTIAL_UPDATE_ROWS_EVENT)
		put_hex(&b, "07");	/* and after */
	put_hex(&b, images);
	event_of(out, type, &b);
}

/*
 * A row image's values as text, "|"-separated, NULL for a null; json (if
 * not NULL) gets its JSON columns' text, diff_of (if not NULL) names the
 * columns that hold a JSON diff and the document it applies to. False:
 * malformed (err).
 */
static bool
image_text(const struct mymap *m, const uint8_t **p, const uint8_t *end, struct strbuf *out, char **json,
	   const char *const *diff_of, char *err, size_t errsize)
{
	struct strbuf v = STRBUF_INIT;
	uint8_t nulls;

	if (*p >= end)
		return false;
	nulls = *(*p)++;
	for (uint32_t i = 0; i < m->ncols; i++) {
		if (i)
			sb_add(out, "|", 1);
		if (nulls >> i & 1) {
			sb_addf(out, "NULL");
			continue;
		}
		sb_reset(&v);
		if (diff_of != NULL && diff_of[i] != NULL ? !myjson_apply_diffs(diff_of[i], p, end, &v, err, errsize) :
		    !myrows_text(&m->cols[i], p, end, &v, err, errsize)) {
			sb_release(&v);
			return false;
		}
		if (json != NULL && m->cols[i].type == MYT_JSON)
			json[i] = xstrdup(v.buf ? v.buf : "");
		sb_addf(out, "%s", v.buf ? v.buf : "");
	}
	sb_release(&v);
	return true;
}

/*
 * The inner events of a payload, read as dms-capture reads them: one line
 * each, the TABLE_MAP's name and optional metadata, each row's images (an
 * update's before, then after). NULL: an error (err).
 */
static char *
payload_text(const uint8_t *body, size_t len, char *err, size_t errsize)
{
	struct mypayload pl;
	struct strbuf out = STRBUF_INIT;
	struct mymap m = { 0 };
	const uint8_t *ev;
	size_t evlen;
	int r;

	if (!mypayload_open(&pl, body, len, err, errsize))
		return NULL;
	while ((r = mypayload_next(&pl, &ev, &evlen, err, errsize)) > 0) {
		MARIADB_RPL_EVENT e;

		if (!myevent_parse(ev, evlen, &e, err, errsize)) {
			r = -1;
			break;
		}
		switch ((int)e.event_type) {
		case QUERY_EVENT:
			sb_addf(&out, "query %.*s: %.*s\n", (int)e.event.query.database.length,
				e.event.query.database.str, (int)e.event.query.statement.length,
				e.event.query.statement.str);
			break;
		case TABLE_MAP_EVENT: {
			const struct st_mariadb_rpl_table_map_event *t = &e.event.table_map;

			myrows_map_free(&m);
			if (!myrows_map(&m, (const uint8_t *)t->column_types.str, t->column_types.length,
					(const uint8_t *)t->metadata.str, t->metadata.length, err, errsize)) {
				r = -1;
				break;
			}
			m.table_id = t->table_id;
			sb_addf(&out, "table %llu %.*s.%.*s, %u columns, names %.*s, key %u\n",
				(unsigned long long)t->table_id, (int)t->database.length, t->database.str,
				(int)t->table.length, t->table.str, t->column_count,
				(int)t->column_names.length, (const char *)t->column_names.data,
				t->simple_primary_keys.length ? t->simple_primary_keys.data[0] : 99);
			break;
		}
		case WRITE_ROWS_EVENT: case UPDATE_ROWS_EVENT: case DELETE_ROWS_EVENT:
		case PARTIAL_UPDATE_ROWS_EVENT: {
			const struct st_mariadb_rpl_rows_event *rw = &e.event.rows;
			const uint8_t *p = rw->row_data, *end = p + rw->row_data_size;

			sb_addf(&out, "rows %d of %llu:", (int)e.event_type, (unsigned long long)rw->table_id);
			while (p < end && r > 0) {
				char *json[8] = { 0 };
				const char *diff_of[8] = { 0 };
				bool partial[8] = { 0 };

				sb_add(&out, " ", 1);
				if (m.ncols > 8 || !image_text(&m, &p, end, &out, json, NULL, err, errsize))
					r = -1;
				else if (rw->type == UPDATE_ROWS) {
					if ((int)e.event_type == PARTIAL_UPDATE_ROWS_EVENT &&
					    !myrows_shared_image(&m, &p, end, partial, err, errsize))
						r = -1;
					for (uint32_t i = 0; r > 0 && i < m.ncols; i++)
						if (partial[i])
							diff_of[i] = json[i] ? json[i] : "null";
					if (r > 0) {
						sb_add(&out, " -> ", 4);
						if (!image_text(&m, &p, end, &out, NULL, diff_of, err, errsize))
							r = -1;
					}
				}
				for (uint32_t i = 0; i < 8; i++)
					free(json[i]);
			}
			if (r < 0 && !err[0])
				snprintf(err, errsize, "a row image does not decode");
			sb_add(&out, "\n", 1);
			break;
		}
		case XID_EVENT:
			sb_addf(&out, "xid %llu\n", (unsigned long long)e.event.xid.transaction_nr);
			break;
		default:
			sb_addf(&out, "event %d\n", (int)e.event_type);
			break;
		}
		if (r < 0)
			break;
	}
	myrows_map_free(&m);
	mypayload_close(&pl);
	if (r < 0) {
		sb_release(&out);
		return NULL;
	}
	return out.buf ? out.buf : xstrdup("");
}

/* A TRANSACTION_PAYLOAD body: its header (size, compression, uncompressed size), then the payload. */
static void
payload_body(struct bytes *out, const struct bytes *inner, int ctype, bool compress)
{
	uint8_t z[4096];
	size_t zn = inner->n;
	struct bytes f = { .n = 0 };

	if (compress) {
		zn = ZSTD_compress(z, sizeof(z), inner->b, inner->n, 3);
		CHECK(!ZSTD_isError(zn));
	} else {
		memcpy(z, inner->b, inner->n);
	}
	put_lenenc(out, 1);		/* OTW_PAYLOAD_SIZE_FIELD */
	f.n = 0;
	put_lenenc(&f, zn);
	put_lenenc(out, f.n);
	put(out, f.b, f.n);
	put_lenenc(out, 2);		/* OTW_PAYLOAD_COMPRESSION_TYPE_FIELD */
	f.n = 0;
	put_lenenc(&f, (uint64_t)ctype);
	put_lenenc(out, f.n);
	put(out, f.b, f.n);
	put_lenenc(out, 3);		/* OTW_PAYLOAD_UNCOMPRESSED_SIZE_FIELD */
	f.n = 0;
	put_lenenc(&f, inner->n);
	put_lenenc(out, f.n);
	put(out, f.b, f.n);
	put_lenenc(out, 0);		/* OTW_PAYLOAD_HEADER_END_MARK */
	put(out, z, zn);
}

static void
payload_check(const struct bytes *body, const char *want, int line)
{
	char err[256] = "";
	uint8_t *copy = xmalloc(body->n ? body->n : 1);	/* its own allocation: an overread is caught */
	char *got;

	memcpy(copy, body->b, body->n);
	got = payload_text(copy, body->n, err, sizeof(err));
	if (strcmp(got ? got : "ERROR", want) != 0) {
		printf("FAIL %s:%d: payload: expected\n%s\ngot\n%s (%s)\n", __FILE__, line, want, got ? got : "ERROR", err);
		failures++;
	}
	free(got);
	free(copy);
}

/*
 * MySQL 8's events from golden bytes: a compressed transaction (a
 * TRANSACTION_PAYLOAD holding BEGIN, a TABLE_MAP with its optional
 * metadata, v2 WRITE, UPDATE, PARTIAL_UPDATE and DELETE rows, XID), the
 * same uncompressed, and broken ways; a partial JSON update; HEARTBEAT_V2.
 */
static void
mysql8(void)
{
	struct bytes inner = { .n = 0 }, b = { .n = 0 }, body = { .n = 0 }, diffs = { .n = 0 };
	const char *want =
		"query shop: BEGIN\n"
		"table 42 shop.t, 3 columns, names \x02id\x04name\x03" "doc, key 0\n"
		"rows 30 of 42: 7|ab|true\n"
		"rows 31 of 42: 7|ab|true -> 7|cd|NULL\n"
		"rows 39 of 42: 7|cd|NULL -> 7|ef|false 8|gh|NULL -> 8|ij|[1]\n"
		"rows 32 of 42: 7|ef|false\n"
		"xid 99\n";
	char err[256];
	MARIADB_RPL_EVENT e;
	uint64_t pos;
	MARIADB_STRING file;

	/* the event checksum: CRC-32's check value */
	CHECK(myevent_crc32((const uint8_t *)"123456789", 9) == 0xcbf43926u);
	/* BEGIN in database shop: thread, time, database length, error, status length 0 */
	put_hex(&b, "010000000000000004000000");
	put_hex(&b, "00");
	put(&b, "shop\0BEGIN", 10);
	event_of(&inner, QUERY_EVENT, &b);
	/* TABLE_MAP 42 shop.t (id INT, name VARCHAR(20) utf8mb4: 80 bytes, doc JSON: 4 length bytes) */
	b.n = 0;
	put_le(&b, 42, 6);
	put_le(&b, 1, 2);
	put(&b, "\x04shop\0\x01t\0", 9);
	put_lenenc(&b, 3);
	put_hex(&b, "030ff5");		/* LONG, VARCHAR, JSON */
	put_hex(&b, "03500004");	/* their metadata: 3 bytes */
	put_hex(&b, "06");		/* name and doc nullable */
	put_hex(&b, "010100");		/* SIGNEDNESS: id signed */
	put_hex(&b, "040c");		/* COLUMN_NAME: 12 bytes */
	put(&b, "\x02id\x04name\x03" "doc", 12);
	put_hex(&b, "080100");		/* SIMPLE_PRIMARY_KEY: column 0 */
	put_hex(&b, "0c0101");		/* COLUMN_VISIBILITY (8.0.23): passed over */
	event_of(&inner, TABLE_MAP_EVENT, &b);
	rows_event(&inner, WRITE_ROWS_EVENT, "00070000000261620200000004" "01");
	rows_event(&inner, UPDATE_ROWS_EVENT, "000700000002616202000000040104070000000263" "64");
	/* PARTIAL_UPDATE_ROWS, two rows, value_options 0 (whole values) and 1 with no partial column */
	rows_event(&inner, PARTIAL_UPDATE_ROWS_EVENT,
		   "040700000002636400" "0007000000026566020000000402"
		   "04080000000267680100" "00" "08000000" "02696a" "08000000" "0201000700050100");
	rows_event(&inner, DELETE_ROWS_EVENT, "0007000000026566020000000402");
	b.n = 0;
	put_le(&b, 99, 8);
	event_of(&inner, XID_EVENT, &b);

	payload_body(&body, &inner, 0, true);
	payload_check(&body, want, __LINE__);
	/* the payload event whole, through the event parser */
	b.n = 0;
	event_of(&b, MY_TRANSACTION_PAYLOAD, &body);
	CHECK(myevent_parse(b.b, b.n, &e, err, sizeof(err)) && (int)e.event_type == MY_TRANSACTION_PAYLOAD &&
	      e.event_length == b.n);
	/* compression type 255: none */
	body.n = 0;
	payload_body(&body, &inner, 255, false);
	payload_check(&body, want, __LINE__);
	/* an unknown compression, a payload cut short, a byte of it changed, a size that lies */
	body.n = 0;
	payload_body(&body, &inner, 1, true);
	payload_check(&body, "ERROR", __LINE__);
	body.n = 0;
	payload_body(&body, &inner, 0, true);
	body.n -= 5;
	payload_check(&body, "ERROR", __LINE__);
	body.b[body.n / 2 + 6] ^= 0xff;
	body.n += 5;
	payload_check(&body, "ERROR", __LINE__);
	body.n = 0;
	inner.n -= 3;		/* the XID cut short inside a whole frame */
	payload_body(&body, &inner, 0, true);
	payload_check(&body, "ERROR", __LINE__);
	inner.n += 3;
	/*
	 * JSON values updated in part: the before image's {"a": 1, "b": [1, 2]},
	 * then diffs: REPLACE $.a 5, INSERT $.b[1] "x", INSERT $.c null,
	 * REMOVE $.b[0], INSERT $."a b" true (keys in MySQL's order: shorter
	 * first); then diffs that do not apply, or are cut short
	 */
	{
		static const char *const cases[][2] = {
			{ "31000000" "0003242e6103050500" "0106242e625b315d030c0178" "0103242e63020400" "0206242e625b305d"
			  "0107242e2261206222020401",
			  "rows 39 of 42: 7|ab|{\"a\": 1, \"b\": [1, 2]} -> 7|ab|{\"a\": 5, \"b\": [\"x\", 2], \"c\": null, \"a b\": true}\n" },
			{ "06000000" "000124020401", "rows 39 of 42: 7|ab|{\"a\": 1, \"b\": [1, 2]} -> 7|ab|true\n" },
			{ "06000000" "0204242e7a7a", "ERROR" },			/* REMOVE $.zz: no such member */
			{ "0c000000" "0006242e625b395d03050500", "ERROR" },	/* REPLACE $.b[9]: no such element */
			{ "0c000000" "0006242e615b305d03050500", "ERROR" },	/* REPLACE $.a[0]: a is no array */
			{ "31000000" "0003242e6103050500", "ERROR" },		/* the vector's length past the image */
			{ "06000000" "050124020401", "ERROR" },			/* operation 5 */
			{ "08000000" "0003242e2a020401", "ERROR" },		/* a wildcard */
			{ "06000000" "010124020401", "ERROR" },			/* INSERT $ */
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char images[512], expected[512];

			inner.n = 0;
			b.n = 0;
			put_le(&b, 42, 6);
			put_le(&b, 1, 2);
			put(&b, "\x04shop\0\x01t\0", 9);
			put_hex(&b, "03030ff50350000406");
			event_of(&inner, TABLE_MAP_EVENT, &b);
			/* before: 7, 'ab', the document; shared: partial JSON, column doc; after: 7, 'ab', the diffs */
			snprintf(images, sizeof(images), "%s%s%s%s",
				 "0007000000026162" "1f000000" "0002001e0012000100130001000501000214006162" "02000a0005010005"
				 "0200", "0101", "0007000000026162", cases[i][0]);
			rows_event(&inner, PARTIAL_UPDATE_ROWS_EVENT, images);
			if (i == 0)
				diffs = inner;	/* mutated below */
			body.n = 0;
			payload_body(&body, &inner, 0, true);
			if (strcmp(cases[i][1], "ERROR") == 0)
				snprintf(expected, sizeof(expected), "ERROR");
			else
				snprintf(expected, sizeof(expected), "table 42 shop.t, 3 columns, names , key 99\n%s",
					 cases[i][1]);
			payload_check(&body, expected, __LINE__);
		}
	}
	/* HEARTBEAT_V2: the file name, then the position as a length-encoded integer, then the end mark */
	b.n = 0;
	body.n = 0;
	put_hex(&body, "010d");
	put(&body, "binlog.000041", 13);
	put_hex(&body, "0209fe15cd5b070000000000");
	event_of(&b, MY_HEARTBEAT_V2, &body);
	CHECK(myevent_parse(b.b, b.n, &e, err, sizeof(err)) && (int)e.event_type == MY_HEARTBEAT_V2 &&
	      e.event.heartbeat.filename.length == 13 &&
	      memcmp(e.event.heartbeat.filename.str, "binlog.000041", 13) == 0);
	CHECK(myevent_heartbeat_v2(body.b, body.n, &file, &pos) && pos == 123456789);
	CHECK(!myevent_heartbeat_v2(body.b, body.n - 4, &file, &pos));
	CHECK(!myevent_parse(b.b, b.n - 1, &e, err, sizeof(err)));	/* shorter than its header says */
	/*
	 * 10,000 mutations of a compressed transaction with a JSON diff: each
	 * reads or is an error (under AddressSanitizer in the fuzz build)
	 */
	{
		uint64_t rng = 88172645463325252ULL;
		int ok = 0;

		body.n = 0;
		payload_body(&body, &diffs, 0, true);
		for (int i = 0; i < 10000; i++) {
			struct bytes m = body;
			char *got;

			for (int k = 0; k < 1 + i % 3; k++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				m.b[rng % m.n] = (uint8_t)(rng >> 32);
			}
			if (i % 4 == 0)
				m.n = (size_t)(rng % m.n);
			{
				uint8_t *copy = xmalloc(m.n ? m.n : 1);

				memcpy(copy, m.b, m.n);
				got = payload_text(copy, m.n, err, sizeof(err));
				free(copy);
			}
			ok += got != NULL;
			free(got);
		}
		CHECK(ok < 10000);
	}
}

/* An event's next position set, and its checksum written anew over the header and body. */
static void
event_seal(uint8_t *ev, size_t len, uint64_t next)
{
	uint32_t crc;

	for (int i = 0; i < 4; i++)
		ev[13 + i] = (uint8_t)(next >> (8 * i));
	crc = myevent_crc32(ev, len - 4);
	for (int i = 0; i < 4; i++)
		ev[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/*
 * dms-unit splice-payload BINLOG SCHEMA TABLE [corrupt | partial]: into a closed binary log file
 * of a MariaDB server (binlog_checksum CRC32), before the ROTATE that ends
 * it, a zstd TRANSACTION_PAYLOAD as MySQL 8 writes one: BEGIN; a TABLE_MAP
 * of SCHEMA.TABLE (id INT, name VARCHAR(20) utf8mb4); INSERT (101, 'zstd
 * one'), (102, 'zstd two'); UPDATE 102 to 'zstd changed'; DELETE of the
 * real row 1; XID. The server sends it to a replica as it sends any event:
 * what dms-capture makes of a compressed transaction is then tested end to
 * end (tests/capture-mysql.bats). corrupt: a byte of the compressed bytes
 * changed, the event's checksum made over it. partial: instead, the
 * transaction uncompressed, BEGIN, its TABLE_MAP, a PARTIAL_UPDATE_ROWS of
 * row 3 from 'before' to 'partly' (whole values), XID.
 */
static int
splice_payload(const char *path, const char *schema, const char *table, char mode)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n, at = 4, last = 0;
	struct bytes inner = { .n = 0 }, b = { .n = 0 }, body = { .n = 0 }, ev = { .n = 0 };
	uint8_t rot[512];
	size_t rotlen;

	if (f == NULL || (n = fread(buf, 1, sizeof(buf), f)) < 4 || !feof(f) || memcmp(buf, "\xfe" "bin", 4) != 0) {
		fprintf(stderr, "dms-unit: %s: not a binary log of less than 1 MiB\n", path);
		return 1;
	}
	fclose(f);
	while (at + MYEVENT_HEADER <= n) {
		size_t len = (size_t)myevent_le(buf + at + 9, 4);

		if (len < MYEVENT_HEADER || at + len > n)
			break;
		last = at;
		at += len;
	}
	rotlen = n - last;
	if (at != n || buf[last + 4] != ROTATE_EVENT || rotlen > sizeof(rot)) {
		fprintf(stderr, "dms-unit: %s: does not end with a ROTATE (FLUSH BINARY LOGS closes it)\n", path);
		return 1;
	}
	memcpy(rot, buf + last, rotlen);
	put_hex(&b, "0100000000000000");	/* thread, time */
	put_le(&b, strlen(schema), 1);
	put_hex(&b, "00000000");		/* error, status length */
	put(&b, schema, strlen(schema) + 1);
	put(&b, "BEGIN", 5);
	event_of(&inner, QUERY_EVENT, &b);
	b.n = 0;
	put_le(&b, 42, 6);
	put_le(&b, 1, 2);
	put_le(&b, strlen(schema), 1);
	put(&b, schema, strlen(schema) + 1);
	put_le(&b, strlen(table), 1);
	put(&b, table, strlen(table) + 1);
	put_hex(&b, "02030f025000" "02");	/* INT, VARCHAR(20 x 4 bytes); name nullable */
	put_hex(&b, "0101000408");		/* SIGNEDNESS; COLUMN_NAME */
	put(&b, "\x02id\x04name", 8);
	put_hex(&b, "080100");			/* SIMPLE_PRIMARY_KEY: id */
	event_of(&inner, TABLE_MAP_EVENT, &b);
	/* two columns: the rows events' bitmaps are 03 */
	{
		struct {
			uint8_t type;
			const char *images;
		} rows[] = {
			{ WRITE_ROWS_EVENT, "00" "65000000" "08" "7a737464206f6e65" "00" "66000000" "08" "7a7374642074776f" },
			{ UPDATE_ROWS_EVENT, "00" "66000000" "08" "7a7374642074776f" "00" "66000000" "0c" "7a737464206368616e676564" },
			{ DELETE_ROWS_EVENT, "00" "01000000" "04" "7265616c" },
		};

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			b.n = 0;
			put_le(&b, 42, 6);
			put_le(&b, 1, 2);
			put_le(&b, 2, 2);
			put_lenenc(&b, 2);
			put_hex(&b, rows[i].type == UPDATE_ROWS_EVENT ? "0303" : "03");
			put_hex(&b, rows[i].images);
			event_of(&inner, rows[i].type, &b);
		}
	}
	b.n = 0;
	put_le(&b, 4242, 8);
	event_of(&inner, XID_EVENT, &b);
	if (mode == 'p') {
		/* not compressed: BEGIN, the TABLE_MAP, a PARTIAL_UPDATE_ROWS of 3 'before' to 'partly', XID */
		size_t from[5] = { 0 }, k = 0, at2 = 0;

		while (at2 < inner.n && k < 5) {
			size_t len = (size_t)myevent_le(inner.b + at2 + 9, 4);
			uint8_t type = inner.b[at2 + 4];

			if (type == QUERY_EVENT || type == TABLE_MAP_EVENT || type == XID_EVENT)
				from[k++] = at2;
			if (type == TABLE_MAP_EVENT) {	/* the update after it */
				b.n = 0;
				put_le(&b, 42, 6);
				put_le(&b, 1, 2);
				put_le(&b, 2, 2);
				put_lenenc(&b, 2);
				put_hex(&b, "0303");
				put_hex(&b, "00" "03000000" "06" "6265666f7265" "00" "00" "03000000" "06" "706172746c79");
				body.n = 0;
				event_of(&body, PARTIAL_UPDATE_ROWS_EVENT, &b);
			}
			at2 += len;
		}
		for (size_t i = 0; i < 4; i++) {
			size_t start = ev.n;
			const uint8_t *e = i == 2 ? body.b : inner.b + from[i < 2 ? i : 2];
			size_t len = (size_t)myevent_le(e + 9, 4);

			put(&ev, e, len);
			put_le(&ev, 0, 4);		/* room for the checksum */
			ev.b[start + 5] = 1;
			ev.b[start + 9] = (uint8_t)(len + 4);	/* the size counts it (all under 256 bytes) */
			event_seal(ev.b + start, len + 4, last + ev.n);
		}
	} else {
		payload_body(&body, &inner, 0, true);
		if (mode == 'c')
			body.b[body.n - 8] ^= 0x5a;	/* inside the zstd frame */
		put_le(&body, 0, 4);			/* room for the checksum */
		event_of(&ev, MY_TRANSACTION_PAYLOAD, &body);
		ev.b[5] = 1;				/* server id 1: the server's own */
		event_seal(ev.b, ev.n, last + ev.n);
	}
	event_seal(rot, rotlen, last + ev.n + rotlen);
	if (failures || (f = fopen(path, "r+b")) == NULL || fseek(f, (long)last, SEEK_SET) != 0 ||
	    fwrite(ev.b, 1, ev.n, f) != ev.n || fwrite(rot, 1, rotlen, f) != rotlen || fclose(f) != 0) {
		fprintf(stderr, "dms-unit: %s: cannot write\n", path);
		return 1;
	}
	printf("%zu\n", last);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} groups[] = {
		{ "positions", positions }, { "uris", uris }, { "base64", base64 },
		{ "msgpack", msgpack_reader }, { "hexfloats", hexfloats }, { "sha256", sha256 },
		{ "binjson", binjson }, { "binlogold", binlogold }, { "mysql8", mysql8 },
	};

	size_t ran = 0;

	log_init("dms-unit");
	log_set_level(LOG_ERROR - 0);
	if ((argc == 5 || (argc == 6 && (strcmp(argv[5], "corrupt") == 0 || strcmp(argv[5], "partial") == 0))) &&
	    strcmp(argv[1], "splice-payload") == 0)
		return splice_payload(argv[2], argv[3], argv[4], argc == 6 ? argv[5][0] : 'z');
	if (argc > 2) {
		fprintf(stderr, "usage: dms-unit [group] | dms-unit splice-payload binlog schema table [corrupt | partial]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (argc < 2 || strcmp(argv[1], groups[i].name) == 0) {
			groups[i].fn();
			ran++;
		}
	if (ran == 0) {
		/* an unknown group runs nothing: never a pass */
		fprintf(stderr, "dms-unit: no group \"%s\"; the groups are:", argv[1]);
		for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			fprintf(stderr, " %s", groups[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	return failures ? 1 : 0;
}
