/*
 * stream.h: the record stream, format version 1 (dms-stream(5)).
 *
 * struct dms_stream is what a reader knows of a stream so far: the tables
 * defined, whether a transaction is open, how many records went by.
 * stream_check() checks one record against it and, when the record is good,
 * applies it (a TABLE defines its table, BEGIN opens a transaction, ...).
 *
 * struct dms_reader reads records from a file descriptor with bounded memory:
 * one buffer that holds at least the largest record seen, refilled in big
 * chunks, LZ4 input decompressed on the way. A record it returns points into
 * that buffer and is valid until the next reader_next() call.
 *
 * struct dms_writer is the producers' side: a buffered dms_out and a msgpack-c
 * packer that writes into it.
 */
#ifndef DMS_STREAM_H
#define DMS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "io.h"
#include "mp.h"
#include "types.h"

#define DMS_STREAM_VERSION 1
#define DMS_MAX_TID (1u << 20)
#define DMS_MAX_COLUMNS 32768u
/* Arrays and maps nested in one element of a record (an attrs value, a value). */
#define DMS_MAX_NESTING 32
#define DMS_MAX_RECORD ((size_t)1 << 30)

enum dms_kind {
	K_HELLO = 0, K_TABLE, K_ROW, K_BEGIN, K_INSERT, K_UPDATE, K_DELETE,
	K_TRUNCATE, K_COMMIT, K_CHECKPOINT, K_PART_BEGIN, K_PART_END, K_END,
	K_REJECT,
	K_COUNT
};

const char *dms_kind_name(enum dms_kind k);
/* Elements a record of the kind has in version 1 (the kind included). */
unsigned dms_kind_arity(enum dms_kind k);

struct dms_column {
	char *name;
	char *type_name;	/* as written in the stream */
	enum dms_type type;
	bool nullable;
	const uint8_t *attrs;	/* msgpack map, inside the table's raw copy */
	size_t attrs_len;
	/* the attrs, decoded (common/tabledecode.c) */
	int64_t length;		/* -1 when none */
	int precision, scale;	/* -1 when none */
	char *native, *collation;	/* NULL when none */
	/* The value rows older than the column have (PostgreSQL's fast default), msgpack; NULL when none. */
	uint8_t *missing;
	size_t missing_len;
	bool is_unsigned, identity;
};

/* An index or unique constraint of a TABLE's attrs: columns by index. */
struct dms_index {
	char *name;
	bool unique;
	int ncols;
	int *cols;
};

/* A foreign key of a TABLE's attrs: columns by name. */
struct dms_fkey {
	char *name;
	int ncols, nref;
	char **cols, **ref_cols;
	char *ref_schema, *ref_table;
	char *on_delete, *on_update;
};

struct dms_table {
	int64_t tid;
	char *schema;
	char *name;
	uint32_t ncols;
	struct dms_column *cols;
	uint32_t nkey;
	uint32_t *key;		/* column indexes */
	const uint8_t *attrs;	/* msgpack map, inside raw */
	size_t attrs_len;
	uint8_t *raw;		/* a copy of the TABLE record that defined it */
	size_t raw_len;
	/* the attrs, decoded once (common/tabledecode.c) */
	int64_t estimated_rows;	/* -1 when none */
	int nindexes, nfkeys;
	struct dms_index *indexes;
	struct dms_fkey *fkeys;
	char *lob_mode;		/* table-settings lob-settings mode; NULL when none */
	int64_t lob_bulk_max_size;	/* -1 when none */
};

/* The one free of the table model: table_release frees what t points to, table_free t too. */
void table_release(struct dms_table *t);
void table_free(struct dms_table *t);
/* Decodes t's attrs into its fields (the checker does, once per TABLE); freed by table_free. */
void table_decode(struct dms_table *t);
void table_decoded_free(struct dms_table *t);
/* The table of a lone TABLE record, checked and decoded as in a stream; NULL (logged) when it is not one. */
struct dms_table *table_from_record(const uint8_t *p, size_t len);
/* Frees what an index or a foreign key points to (the catalog's too). */
void dms_index_free(struct dms_index *x);
void dms_fkey_free(struct dms_fkey *f);

struct dms_stream {
	struct dms_table **tables;	/* by tid; NULL where undefined */
	size_t ntables;
	/*
	 * Definitions replaced by a redefinition or a new HELLO, kept until
	 * stream_release: a reader may still point at them.
	 */
	struct dms_table **retired;
	size_t nretired;
	uint64_t seq;		/* records checked so far */
	bool hello;
	bool ended;
	bool in_txn;
	bool part_open;
	int64_t part_tid;	/* the part open: its table, and its ROWs so far */
	uint64_t part_rows;
};

struct dms_record {
	enum dms_kind kind;
	uint64_t seq;		/* 1 for the first record */
	const uint8_t *raw;
	size_t len;
	uint32_t nelem;
	struct dms_table *table;	/* records that name one tid */
	const uint8_t *values;	/* ROW, INSERT, UPDATE (new), DELETE (old): the array */
	size_t values_len;	/* its bytes: every reader of it stops there */
	const uint8_t *old_values;	/* UPDATE: the array, or NULL when nil */
	size_t old_values_len;
};

void stream_init(struct dms_stream *st);
void stream_release(struct dms_stream *st);
struct dms_table *stream_table(const struct dms_stream *st, int64_t tid);

enum check_status { CHECK_OK = 0, CHECK_INCOMPLETE = -1, CHECK_BAD = -2 };
/*
 * Checks the record at the start of p[0..avail). CHECK_OK: rec is filled,
 * rec->len bytes were used and st is updated. CHECK_INCOMPLETE: more bytes are
 * needed (nothing logged, st untouched). CHECK_BAD: logged, naming the record.
 */
int stream_check(struct dms_stream *st, const uint8_t *p, size_t avail, struct dms_record *rec);

/* Where element index (0 is the kind) of a checked record starts. */
const uint8_t *record_element(const struct dms_record *rec, unsigned index);

/* "schema.name" of a table, for messages; static buffer, valid until the next call. */
const char *table_label(const struct dms_table *t);
/* "id=42, k='x'": the key columns of the values array in values[0..len), for messages. */
void values_key_text(const struct dms_table *t, const uint8_t *values, size_t len, char *buf,
		     size_t size);

enum read_status { READ_ERROR = -1, READ_EOF = 0, READ_RECORD = 1, READ_INTERRUPTED = 2 };

struct dms_reader {
	struct dms_in in;
	struct dms_stream st;
	uint8_t *buf;
	size_t start, end, cap;
	bool eof;
	/* An input that may end between transactions without an END (a spool read to its end). */
	bool open_end;
	/* Called before a read that may block (a filter flushes its output there). */
	bool (*before_read)(void *arg);
	void *arg;
};

bool reader_init(struct dms_reader *r, int fd, const char *name);
/*
 * READ_RECORD: *rec is the next record. READ_EOF: the stream ended cleanly
 * (after END). READ_ERROR: malformed or truncated input, logged.
 * READ_INTERRUPTED: TERM/INT/QUIT arrived while waiting for input; call again
 * to go on waiting.
 */
int reader_next(struct dms_reader *r, struct dms_record *rec);
void reader_release(struct dms_reader *r);

struct dms_writer {
	struct dms_out out;
	msgpack_packer pk;
	uint64_t records;
};

bool writer_init(struct dms_writer *w, int fd, const char *name, bool lz4);

/* Refuses (logs, returns false) when fd is a terminal: streams are binary. */
bool stream_refuse_tty(int fd);

void pk_strn(msgpack_packer *pk, const char *s, size_t n);
void pk_str(msgpack_packer *pk, const char *s);
void pk_timestamp(msgpack_packer *pk, int64_t sec, uint32_t nsec);
void pk_unchanged(msgpack_packer *pk);

#endif

/*
 * Finds key in a msgpack map (attrs); on success *val is positioned at the
 * value, ready for mp_next / mp_skip.
 */
bool attrs_find(const uint8_t *attrs, size_t len, const char *key, struct mp_cursor *val);
/* attrs helpers: false when absent or of another type. */
bool attrs_int(const uint8_t *attrs, size_t len, const char *key, int64_t *out);
bool attrs_bool(const uint8_t *attrs, size_t len, const char *key, bool *out);
/* A copy of a str attr (the caller frees it), or NULL. */
char *attrs_str(const uint8_t *attrs, size_t len, const char *key);
/* "id=42, name='x', ...": every column of values[0..len), for messages and exceptions. */
void values_text(const struct dms_table *t, const uint8_t *values, size_t len, char *buf,
		 size_t size);
