/*
 * position.c: source positions in the engines' own notation, parsed and
 * compared (PostgreSQL LSNs, MySQL binlog file:pos; see position.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "position.h"
#include "dms.h"

static bool
hex32(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

bool
lsn_parse(const char *s, uint64_t *lsn)
{
	const char *slash = strchr(s, '/');
	uint64_t hi, lo;

	if (slash == NULL || !hex32(s, (size_t)(slash - s), &hi) ||
	    !hex32(slash + 1, strlen(slash + 1), &lo))
		return false;
	*lsn = hi << 32 | lo;
	return true;
}

void
lsn_format(uint64_t lsn, char *buf, size_t size)
{
	snprintf(buf, size, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static bool
decimal(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool
binlog_parse(const char *s, size_t *baselen, uint64_t *fileno, uint64_t *offset)
{
	const char *colon = strrchr(s, ':');
	const char *dot;

	if (colon == NULL || !decimal(colon + 1, strlen(colon + 1), offset))
		return false;
	for (dot = colon; dot > s && dot[-1] != '.'; dot--)
		;
	if (dot == s || !decimal(dot, (size_t)(colon - dot), fileno))
		return false;
	*baselen = (size_t)(dot - 1 - s);
	return true;
}

static int
cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

bool
position_compare(const char *a, const char *b, int *cmp)
{
	uint64_t la, lb, fa, fb, oa, ob;
	size_t ba, bb;

	if (lsn_parse(a, &la) && lsn_parse(b, &lb)) {
		*cmp = cmp_u64(la, lb);
		return true;
	}
	if (binlog_parse(a, &ba, &fa, &oa) && binlog_parse(b, &bb, &fb, &ob)) {
		if (ba != bb || memcmp(a, b, ba) != 0)
			return false;
		*cmp = fa != fb ? cmp_u64(fa, fb) : cmp_u64(oa, ob);
		return true;
	}
	return false;
}
