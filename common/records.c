/*
 * records.c: the record builders (see records.h and dms-stream(5)).
 */
#include <string.h>

#include "records.h"
#include "stream.h"
#include "util.h"
#include "dms.h"

static void
str_attr(msgpack_packer *pk, const char *key, const char *value)
{
	if (value == NULL)
		return;
	pk_str(pk, key);
	pk_str(pk, value);
}

void
rec_hello(msgpack_packer *pk, const struct hello_attrs *a)
{
	const char *values[] = { a->engine, a->stream, a->tool, a->server, a->database, a->snapshot,
				 a->position };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		n += values[i] != NULL;
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, K_HELLO);
	msgpack_pack_int(pk, DMS_STREAM_VERSION);
	msgpack_pack_map(pk, n);
	str_attr(pk, "engine", a->engine);
	str_attr(pk, "stream", a->stream);
	str_attr(pk, "tool", a->tool);
	str_attr(pk, "server", a->server);
	str_attr(pk, "database", a->database);
	str_attr(pk, "snapshot", a->snapshot);
	str_attr(pk, "position", a->position);
}

void
rec_part_begin(msgpack_packer *pk, int64_t tid, const struct part_attrs *a)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, K_PART_BEGIN);
	msgpack_pack_int64(pk, tid);
	msgpack_pack_map(pk, (size_t)((a->part != NULL) + (a->range != NULL) + (a->snapshot != NULL) +
				      (a->position != NULL) + a->filtered));
	str_attr(pk, "part", a->part);
	str_attr(pk, "range", a->range);
	if (a->filtered) {
		pk_str(pk, "filtered");
		msgpack_pack_true(pk);
	}
	str_attr(pk, "snapshot", a->snapshot);
	str_attr(pk, "position", a->position);
}

void
rec_part_end(msgpack_packer *pk, int64_t tid, uint64_t rows, const char *part)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_int(pk, K_PART_END);
	msgpack_pack_int64(pk, tid);
	msgpack_pack_uint64(pk, rows);
	msgpack_pack_map(pk, part != NULL);
	str_attr(pk, "part", part);
}

void
rec_row(msgpack_packer *pk, int64_t tid, uint32_t ncols)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, K_ROW);
	msgpack_pack_int64(pk, tid);
	msgpack_pack_array(pk, ncols);
}

void
rec_reject(msgpack_packer *pk, int64_t tid, const char *key, const char *values, const char *error)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, K_REJECT);
	msgpack_pack_int64(pk, tid);
	msgpack_pack_map(pk, 3);
	str_attr(pk, "key", key ? key : "");
	str_attr(pk, "values", values ? values : "");
	str_attr(pk, "error", error ? error : "");
}

void
rec_index(msgpack_packer *pk, const struct dms_index *x, const int *map)
{
	msgpack_pack_map(pk, 3);
	pk_str(pk, "name");
	pk_str(pk, x->name);
	pk_str(pk, "columns");
	msgpack_pack_array(pk, (size_t)x->ncols);
	for (int k = 0; k < x->ncols; k++)
		msgpack_pack_int(pk, map ? map[x->cols[k]] : x->cols[k]);
	pk_str(pk, "unique");
	if (x->unique)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void
rec_end(msgpack_packer *pk, const uint64_t *rows, const uint64_t *records, bool stopped)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_int(pk, K_END);
	msgpack_pack_map(pk, (size_t)((rows != NULL) + (records != NULL) + stopped));
	if (rows != NULL) {
		pk_str(pk, "rows");
		msgpack_pack_uint64(pk, *rows);
	}
	if (stopped) {
		pk_str(pk, "stopped");
		msgpack_pack_true(pk);
	}
	if (records != NULL) {
		pk_str(pk, "records");
		msgpack_pack_uint64(pk, *records);
	}
}
