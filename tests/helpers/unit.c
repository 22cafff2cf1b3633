/*
 * dms-unit GROUP: unit checks of common/ pieces that no program exposes
 * whole: positions, URIs, base64, the MessagePack reader, MySQL's binary
 * JSON (golden bytes built from the format MySQL documents in
 * sql/json_binary.h, as no MySQL 8 server runs here). Prints one line per
 * failed check and exits 1 if any failed. Run by tests/unit.bats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} groups[] = {
		{ "positions", positions }, { "uris", uris }, { "base64", base64 },
		{ "msgpack", msgpack_reader }, { "hexfloats", hexfloats }, { "sha256", sha256 },
		{ "binjson", binjson }, { "binlogold", binlogold },
	};

	size_t ran = 0;

	log_init("dms-unit");
	log_set_level(LOG_ERROR - 0);
	if (argc > 2) {
		fprintf(stderr, "usage: dms-unit [group]\n");
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
