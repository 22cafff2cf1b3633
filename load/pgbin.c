/*
 * pgbin.c: PostgreSQL's binary COPY form of values the stream carries as
 * text (dates, times, timestamps, numeric, uuid, json), for dms-load
 * --one-copy.
 *
 * Each reads only the text PostgreSQL's own output gives under DateStyle
 * ISO (what dms-extract reads a PostgreSQL source in) and a MySQL server's:
 * anything else is not read (false). dms-load then rolls the part back and
 * loads it again in text COPY, where the server's input function decides,
 * so a value is never read otherwise than the server reads its text. Range
 * checks are the server's: its receive functions refuse what their input
 * functions refuse, with the same SQLSTATE class.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

#define POSTGRES_EPOCH_JDATE 2451545	/* date2j(2000, 1, 1) */
#define USECS_PER_DAY INT64_C(86400000000)

/* PostgreSQL's date2j: the Julian day of a proleptic Gregorian date (astronomical year). */
static int64_t
date2j(int64_t y, int64_t m, int64_t d)
{
	int64_t century;

	if (m > 2) {
		m += 1;
		y += 4800;
	} else {
		m += 13;
		y += 4799;
	}
	century = y / 100;
	return y * 365 - 32167 + y / 4 - century + century / 4 + 7834 * m / 256 + d;
}

static bool
isleap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* min..max decimal digits at *p into *v. */
static bool
digits(const char **p, const char *end, int min, int max, int64_t *v)
{
	int n = 0;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && n < max) {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n >= min && (*p == end || **p < '0' || **p > '9');
}

static bool
expect(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* A trailing " BC", taken off. */
static bool
bc_suffix(const char *s, const char **end)
{
	if (*end - s >= 3 && memcmp(*end - 3, " BC", 3) == 0) {
		*end -= 3;
		return true;
	}
	return false;
}

/* YYYY-MM-DD (4 to 7 year digits) as days since 2000-01-01; bc: the year is BC. */
static bool
read_date(const char **p, const char *end, bool bc, int64_t *days)
{
	static const int mdays[2][12] = { { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 },
					  { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 } };
	int64_t y, m, d;

	if (!digits(p, end, 4, 7, &y) || !expect(p, end, '-') || !digits(p, end, 2, 2, &m) ||
	    !expect(p, end, '-') || !digits(p, end, 2, 2, &d))
		return false;
	if (y == 0 || m < 1 || m > 12)
		return false;
	if (bc)
		y = 1 - y;
	if (d < 1 || d > mdays[isleap(y)][m - 1])
		return false;
	*days = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

/* HH:MM:SS[.f] (1 to 6 fraction digits) as microseconds; 24:00:00 included, as PostgreSQL takes it. */
static bool
read_time(const char **p, const char *end, int64_t *us)
{
	int64_t h, m, s, f = 0;

	if (!digits(p, end, 2, 2, &h) || !expect(p, end, ':') || !digits(p, end, 2, 2, &m) ||
	    !expect(p, end, ':') || !digits(p, end, 2, 2, &s))
		return false;
	if (*p < end && **p == '.') {
		const char *start = ++*p;

		if (!digits(p, end, 1, 6, &f))
			return false;
		for (ptrdiff_t n = *p - start; n < 6; n++)
			f *= 10;
	}
	if (m > 59 || s > 59 || h > 24 || (h == 24 && (m || s || f)))
		return false;
	*us = ((h * 60 + m) * 60 + s) * 1000000 + f;
	return true;
}

/* [+-]HH[:MM[:SS]] as seconds east of UTC. */
static bool
read_offset(const char **p, const char *end, int64_t *secs)
{
	int sign;
	int64_t h, m = 0, s = 0;

	if (*p == end || (**p != '+' && **p != '-'))
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!digits(p, end, 2, 2, &h))
		return false;
	if (*p < end && **p == ':') {
		(*p)++;
		if (!digits(p, end, 2, 2, &m))
			return false;
		if (*p < end && **p == ':') {
			(*p)++;
			if (!digits(p, end, 2, 2, &s))
				return false;
		}
	}
	if (h > 15 || m > 59 || s > 59)
		return false;
	*secs = sign * ((h * 60 + m) * 60 + s);
	return true;
}

static bool
is_text(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

bool
pgbin_date(const char *s, size_t n, struct strbuf *out)
{
	const char *p = s, *end = s + n;
	int64_t days;

	if (is_text(s, n, "infinity") || is_text(s, n, "-infinity")) {
		sb_add_be(out, 4, 4);
		sb_add_be(out, (uint32_t)(s[0] == '-' ? INT32_MIN : INT32_MAX), 4);
		return true;
	}
	if (!read_date(&p, end, bc_suffix(s, &end), &days) || p != end || days < INT32_MIN || days > INT32_MAX)
		return false;
	sb_add_be(out, 4, 4);
	sb_add_be(out, (uint32_t)(int32_t)days, 4);
	return true;
}

bool
pgbin_time(const char *s, size_t n, struct strbuf *out)
{
	const char *p = s, *end = s + n;
	int64_t us;

	if (!read_time(&p, end, &us) || p != end)
		return false;
	sb_add_be(out, 8, 4);
	sb_add_be(out, (uint64_t)us, 8);
	return true;
}

/* tz: timestamptz, whose text must carry its offset; timestamp's must not. */
bool
pgbin_timestamp(const char *s, size_t n, bool tz, struct strbuf *out)
{
	const char *p = s, *end = s + n;
	int64_t days, us, offset = 0;
	bool bc;

	if (is_text(s, n, "infinity") || is_text(s, n, "-infinity")) {
		sb_add_be(out, 8, 4);
		sb_add_be(out, (uint64_t)(s[0] == '-' ? INT64_MIN : INT64_MAX), 8);
		return true;
	}
	bc = bc_suffix(s, &end);
	if (!read_date(&p, end, bc, &days) || !expect(&p, end, ' ') || !read_time(&p, end, &us))
		return false;
	if (tz && !read_offset(&p, end, &offset))
		return false;
	/* beyond about 300,000 years the server refuses it; its text is left to say so */
	if (p != end || days < -110000000 || days > 110000000)
		return false;
	sb_add_be(out, 8, 4);
	sb_add_be(out, (uint64_t)(days * USECS_PER_DAY + us - offset * 1000000), 8);
	return true;
}

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NUMERIC_MAX_DSCALE 0x3FFF

/* [-]D+[.D+], NaN, Infinity, -Infinity, as numeric_send writes it: base-10000 digits. */
bool
pgbin_numeric(const char *s, size_t n, struct strbuf *out)
{
	const char *p = s, *end = s + n, *ip, *fp = NULL;
	size_t ilen, flen = 0, ngroups, first, last;
	int weight;
	uint16_t sign = NUMERIC_POS;
	int16_t small[64], *groups = small;	/* up to 256 digits without an allocation */

	if (is_text(s, n, "NaN") || is_text(s, n, "Infinity") || is_text(s, n, "-Infinity")) {
		sb_add_be(out, 8, 4);
		sb_add_be(out, 0, 2);
		sb_add_be(out, 0, 2);
		sb_add_be(out, s[0] == 'N' ? NUMERIC_NAN : s[0] == 'I' ? NUMERIC_PINF : NUMERIC_NINF, 2);
		sb_add_be(out, 0, 2);
		return true;
	}
	if (p < end && *p == '-') {
		sign = NUMERIC_NEG;
		p++;
	}
	ip = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	ilen = (size_t)(p - ip);
	if (p < end && *p == '.') {
		fp = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		flen = (size_t)(p - fp);
		if (flen == 0)
			return false;
	}
	if (ilen == 0 || p != end || flen > NUMERIC_MAX_DSCALE || ilen > 131072)
		return false;
	while (ilen > 0 && *ip == '0') {
		ip++;
		ilen--;
	}
	/* base-10000 groups: the integer part's from its right end, the fraction's from the point */
	ngroups = (ilen + 3) / 4 + (flen + 3) / 4;
	if (ngroups > sizeof(small) / sizeof(small[0]))
		groups = xmalloc(ngroups * sizeof(*groups));
	for (size_t g = 0, k = (ilen + 3) / 4; g < k; g++) {
		ptrdiff_t hi = (ptrdiff_t)ilen - (ptrdiff_t)(k - 1 - g) * 4, lo = hi - 4 < 0 ? 0 : hi - 4;
		int v = 0;

		for (ptrdiff_t i = lo; i < hi; i++)
			v = v * 10 + (ip[i] - '0');
		groups[g] = (int16_t)v;
	}
	for (size_t g = 0, base = (ilen + 3) / 4; g < (flen + 3) / 4; g++) {
		int v = 0;

		for (size_t i = g * 4; i < g * 4 + 4; i++)
			v = v * 10 + (i < flen ? fp[i] - '0' : 0);
		groups[base + g] = (int16_t)v;
	}
	weight = (int)((ilen + 3) / 4) - 1;
	first = 0;
	last = ngroups;
	while (first < last && groups[first] == 0) {
		first++;
		weight--;
	}
	while (last > first && groups[last - 1] == 0)
		last--;
	if (first == last) {	/* zero: no digit, positive */
		weight = 0;
		sign = NUMERIC_POS;
	}
	sb_add_be(out, 8 + 2 * (last - first), 4);
	sb_add_be(out, last - first, 2);
	sb_add_be(out, (uint16_t)(int16_t)weight, 2);
	sb_add_be(out, sign, 2);
	sb_add_be(out, flen, 2);
	for (size_t g = first; g < last; g++)
		sb_add_be(out, (uint16_t)groups[g], 2);
	if (groups != small)
		free(groups);
	return true;
}

/* 8-4-4-4-12 hexadecimal digits, either case. */
bool
pgbin_uuid(const char *s, size_t n, struct strbuf *out)
{
	unsigned char b[16];
	size_t k = 0;

	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		int v;
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return false;
		if (k % 2 == 0)
			b[k / 2] = (unsigned char)(v << 4);
		else
			b[k / 2] |= (unsigned char)v;
		k++;
	}
	sb_add_be(out, 16, 4);
	sb_add(out, b, 16);
	return true;
}

/* json: its text; jsonb: version 1, then its text. A NUL byte is left to text COPY to refuse. */
bool
pgbin_json(const char *s, size_t n, bool jsonb, struct strbuf *out)
{
	if (memchr(s, '\0', n) != NULL || n > INT32_MAX - 1)
		return false;
	sb_add_be(out, n + jsonb, 4);
	if (jsonb)
		sb_add(out, "\1", 1);
	sb_add(out, s, n);
	return true;
}
