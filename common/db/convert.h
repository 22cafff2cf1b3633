/*
 * convert.h: a column's text from the source's client library as the
 * stream's canonical value (common/db/convert.c).
 */
#ifndef DMS_DB_CONVERT_H
#define DMS_DB_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "catalog.h"

/* Packs the value of column col whose text is text[0..len) (modified in place). */
bool convert_value(msgpack_packer *pk, const struct src_table *t, uint32_t col, char *text, size_t len);

#endif
