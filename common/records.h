/*
 * records.h: the record builders (common/records.c). Every writer of a
 * stream packs its records with these, so that a record of a kind has one
 * shape and its attributes the names dms-stream(5) documents. TABLE records
 * come from the table model (rec_table, from a struct dms_table's decoded
 * fields; the mapping engine rewrites a TABLE's attrs as they come); a ROW's
 * values follow rec_row().
 */
#ifndef DMS_RECORDS_H
#define DMS_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "stream.h"

/* HELLO's attrs; a NULL member is left out. */
struct hello_attrs {
	const char *engine, *stream, *tool;
	const char *server, *database;	/* the source's identity (dms-extract) */
	const char *snapshot, *position;
};

/* PART_BEGIN's attrs; a NULL member is left out. */
struct part_attrs {
	const char *part, *range, *snapshot, *position;
	bool filtered;		/* the source query applied the mapping's filters */
};

void rec_hello(msgpack_packer *pk, const struct hello_attrs *a);
void rec_part_begin(msgpack_packer *pk, int64_t tid, const struct part_attrs *a);
/* part: PART_END's "part" attribute, or NULL for none. */
void rec_part_end(msgpack_packer *pk, int64_t tid, uint64_t rows, const char *part);
/* The head of a ROW: its ncols values are to be packed next. */
void rec_row(msgpack_packer *pk, int64_t tid, uint32_t ncols);
/* A TABLE record from the table model's decoded fields (its raw and attrs are not read). */
void rec_table(msgpack_packer *pk, int64_t tid, const struct dms_table *t);
/*
 * The same, with what happened to the table on the source (dms-stream(5)):
 * dropped (attrs dropped), or renamed from from_schema.from_name (attrs
 * renamed_from). how NULL: neither.
 */
struct rec_table_how {
	bool dropped;
	const char *from_schema, *from_name;
};
void rec_table_as(msgpack_packer *pk, int64_t tid, const struct dms_table *t, const struct rec_table_how *how);
void rec_reject(msgpack_packer *pk, int64_t tid, const char *key, const char *values, const char *error);
/*
 * An index of a TABLE's attrs ({name, columns, unique}); map: the output
 * position of each input column (NULL: as they are).
 */
void rec_index(msgpack_packer *pk, const struct dms_index *x, const int *map);
/* BEGIN: xid (NULL: nil), the position its COMMIT will have (NULL: nil), the commit time (sec < 0: nil). */
void rec_begin(msgpack_packer *pk, const char *xid, const char *position, int64_t sec, uint32_t nsec);
/* The head of an INSERT, UPDATE or DELETE: its value arrays are to be packed next (UPDATE: new, then old or nil). */
void rec_change(msgpack_packer *pk, enum dms_kind kind, int64_t tid);
/* COMMIT at position; time as rec_begin; changes: the transaction's. */
void rec_commit(msgpack_packer *pk, const char *position, int64_t sec, uint32_t nsec, uint64_t changes);
/* CHECKPOINT: every change up to position was emitted. */
void rec_checkpoint(msgpack_packer *pk, const char *position, int64_t sec, uint32_t nsec);
/* END; rows and records: NULL to leave out. */
void rec_end(msgpack_packer *pk, const uint64_t *rows, const uint64_t *records, bool stopped);

#endif
