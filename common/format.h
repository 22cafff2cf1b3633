/*
 * format.h: numbers as the text a loader sends (common/format.c).
 */
#ifndef DMS_FORMAT_H
#define DMS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Text of a float that reads back exactly (9 or 17 digits); returns its length. */
int format_float(char *buf, size_t size, double v, bool single);
/*
 * A finite float as a C99 hexadecimal constant (0x1.8p+1), exact and cheap;
 * PostgreSQL's float4in and float8in read it with strtod. Returns its length.
 */
int format_hexfloat(char *buf, double v);
/* Decimal text of an integer; returns its length. */
int format_int(char *buf, int64_t v);
int format_uint(char *buf, uint64_t v);

#endif
