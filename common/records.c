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

static void
pack_str_array(msgpack_packer *pk, char **a, int n)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++)
		pk_str(pk, a[i]);
}

void
rec_table(msgpack_packer *pk, int64_t tid, const struct dms_table *t)
{
	rec_table_as(pk, tid, t, NULL);
}

void
rec_table_as(msgpack_packer *pk, int64_t tid, const struct dms_table *t, const struct rec_table_how *how)
{
	bool dropped = how != NULL && how->dropped;
	bool renamed = how != NULL && how->from_name != NULL;

	msgpack_pack_array(pk, 7);
	msgpack_pack_int(pk, K_TABLE);
	msgpack_pack_int64(pk, tid);
	pk_str(pk, t->schema);
	pk_str(pk, t->name);
	msgpack_pack_array(pk, (size_t)t->ncols);
	for (uint32_t i = 0; i < t->ncols; i++) {
		const struct dms_column *c = &t->cols[i];
		int nattrs = (c->length >= 0) + (c->precision >= 0) + (c->scale >= 0) + (c->collation != NULL) +
			     (c->native != NULL) + c->is_unsigned + c->identity + (c->missing != NULL);

		msgpack_pack_array(pk, 4);
		pk_str(pk, c->name);
		pk_str(pk, c->type_name ? c->type_name : dms_type_name(c->type));
		if (c->nullable)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_map(pk, (size_t)nattrs);
		if (c->length >= 0) {
			pk_str(pk, "length");
			msgpack_pack_int64(pk, c->length);
		}
		if (c->precision >= 0) {
			pk_str(pk, "precision");
			msgpack_pack_int(pk, c->precision);
		}
		if (c->scale >= 0) {
			pk_str(pk, "scale");
			msgpack_pack_int(pk, c->scale);
		}
		if (c->native != NULL) {
			pk_str(pk, "native");
			pk_str(pk, c->native);
		}
		if (c->is_unsigned) {
			pk_str(pk, "unsigned");
			msgpack_pack_true(pk);
		}
		if (c->identity) {
			pk_str(pk, "identity");
			msgpack_pack_true(pk);
		}
		if (c->collation != NULL) {
			pk_str(pk, "collation");
			pk_str(pk, c->collation);
		}
		if (c->missing != NULL) {
			pk_str(pk, "missing");
			pk->callback(pk->data, (const char *)c->missing, c->missing_len);
		}
	}
	msgpack_pack_array(pk, (size_t)t->nkey);
	for (uint32_t i = 0; i < t->nkey; i++)
		msgpack_pack_uint32(pk, t->key[i]);
	msgpack_pack_map(pk, 3 + dropped + renamed);
	if (dropped) {
		pk_str(pk, "dropped");
		msgpack_pack_true(pk);
	}
	if (renamed) {
		pk_str(pk, "renamed_from");
		msgpack_pack_array(pk, 2);
		pk_str(pk, how->from_schema);
		pk_str(pk, how->from_name);
	}
	pk_str(pk, "estimated_rows");
	msgpack_pack_int64(pk, t->estimated_rows);
	pk_str(pk, "indexes");
	msgpack_pack_array(pk, (size_t)t->nindexes);
	for (int i = 0; i < t->nindexes; i++)
		rec_index(pk, &t->indexes[i], NULL);
	pk_str(pk, "foreign_keys");
	msgpack_pack_array(pk, (size_t)t->nfkeys);
	for (int i = 0; i < t->nfkeys; i++) {
		const struct dms_fkey *f = &t->fkeys[i];

		msgpack_pack_map(pk, 7);
		pk_str(pk, "name");
		pk_str(pk, f->name);
		pk_str(pk, "columns");
		pack_str_array(pk, f->cols, f->ncols);
		pk_str(pk, "ref_schema");
		pk_str(pk, f->ref_schema);
		pk_str(pk, "ref_table");
		pk_str(pk, f->ref_table);
		pk_str(pk, "ref_columns");
		pack_str_array(pk, f->ref_cols, f->ncols);
		pk_str(pk, "on_delete");
		pk_str(pk, f->on_delete);
		pk_str(pk, "on_update");
		pk_str(pk, f->on_update);
	}
}

static void
pk_str_or_nil(msgpack_packer *pk, const char *s)
{
	if (s)
		pk_str(pk, s);
	else
		msgpack_pack_nil(pk);
}

static void
pk_time_or_nil(msgpack_packer *pk, int64_t sec, uint32_t nsec)
{
	if (sec >= 0)
		pk_timestamp(pk, sec, nsec);
	else
		msgpack_pack_nil(pk);
}

void
rec_begin(msgpack_packer *pk, const char *xid, const char *position, int64_t sec, uint32_t nsec)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_int(pk, K_BEGIN);
	pk_str_or_nil(pk, xid);
	pk_str_or_nil(pk, position);
	pk_time_or_nil(pk, sec, nsec);
}

void
rec_change(msgpack_packer *pk, enum dms_kind kind, int64_t tid)
{
	msgpack_pack_array(pk, kind == K_UPDATE ? 4 : 3);
	msgpack_pack_int(pk, kind);
	msgpack_pack_int64(pk, tid);
}

void
rec_commit(msgpack_packer *pk, const char *position, int64_t sec, uint32_t nsec, uint64_t changes)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_int(pk, K_COMMIT);
	pk_str(pk, position);
	pk_time_or_nil(pk, sec, nsec);
	msgpack_pack_map(pk, 1);
	pk_str(pk, "changes");
	msgpack_pack_uint64(pk, changes);
}

void
rec_checkpoint(msgpack_packer *pk, const char *position, int64_t sec, uint32_t nsec)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, K_CHECKPOINT);
	pk_str(pk, position);
	pk_time_or_nil(pk, sec, nsec);
}
