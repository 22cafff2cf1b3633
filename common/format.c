/*
 * format.c: numbers as the text a loader sends: integers without printf,
 * floats that read back exactly, as decimal or as C99 hexadecimal constants.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

int
format_float(char *buf, size_t size, double v, bool single)
{
	/* 9 and 17 significant digits read back exactly; a loader needs no shorter text */
	return snprintf(buf, size, single ? "%.9g" : "%.17g", v);
}

int
format_hexfloat(char *buf, double v)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t bits, mant;
	int exp, n = 0;

	memcpy(&bits, &v, 8);
	mant = bits & 0xfffffffffffffULL;
	exp = (int)((bits >> 52) & 0x7ff);
	if (bits >> 63)
		buf[n++] = '-';
	if (exp == 0 && mant == 0) {
		buf[n++] = '0';
		buf[n] = '\0';
		return n;
	}
	buf[n++] = '0';
	buf[n++] = 'x';
	buf[n++] = exp == 0 ? '0' : '1';
	if (mant != 0) {
		int digits = 13;

		buf[n++] = '.';
		while ((mant & 0xf) == 0) {
			mant >>= 4;
			digits--;
		}
		for (int i = digits - 1; i >= 0; i--)
			buf[n++] = hex[(mant >> (4 * i)) & 0xf];
	}
	buf[n++] = 'p';
	n += format_int(buf + n, exp == 0 ? -1022 : exp - 1023);
	return n;
}

int
format_uint(char *buf, uint64_t v)
{
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	len = n;
	for (int i = 0; i < len; i++)
		buf[i] = tmp[len - 1 - i];
	buf[len] = '\0';
	return len;
}

int
format_int(char *buf, int64_t v)
{
	if (v < 0) {
		buf[0] = '-';
		return 1 + format_uint(buf + 1, (uint64_t)0 - (uint64_t)v);
	}
	return format_uint(buf, (uint64_t)v);
}
