#ifndef DMS_EXTRACT_CONVERT_H
#define DMS_EXTRACT_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "extract.h"

/* Packs the value of column c whose text is text[0..len) (modified in place). */
bool convert_value(msgpack_packer *pk, const struct src_table *t, const struct src_column *c,
		   char *text, size_t len);

#endif
