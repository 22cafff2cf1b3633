/*
 * catalog.h: the source catalog (libdmsdb): what is known of a source table,
 * and the engine interface that common/db/pg_source.c and my_source.c
 * implement. dms-extract and dms-validate (and next dms-capture) describe
 * tables with it, so that a table reads the same to each.
 *
 * A struct src_table is filled by the engine's describe() in the stream's
 * table model (struct dms_table, one model for every program); the main program
 * plans its parts and writes its TABLE record; the engine's read_part() writes
 * the ROW records of one part. The table owns everything it points to.
 */
#ifndef DMS_CATALOG_H
#define DMS_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../mapping.h"
#include "../stream.h"
#include "../uri.h"
#include "../util.h"

/* How a column's text (from COPY or the MySQL client) becomes a value. */
enum conv {
	CONV_TEXT,		/* str as it comes */
	CONV_BOOL,		/* PostgreSQL t/f; MySQL 0/1 */
	CONV_INT,		/* signed integer */
	CONV_UINT,		/* unsigned integer */
	CONV_FLOAT4,
	CONV_FLOAT8,
	CONV_BYTEA_HEX,		/* PostgreSQL \x0a0b */
	CONV_BINARY,		/* MySQL raw bytes */
	CONV_TIMESTAMP_UTC,	/* MySQL TIMESTAMP: append +00 */
};

/*
 * PostgreSQL: how a column reads in binary COPY. A table is read in binary
 * when every column has a way; otherwise in text (conv).
 */
enum pg_binary {
	PGBIN_NONE,		/* no exact binary reading: the table is read as text */
	PGBIN_STR,		/* text, varchar, bpchar: the string's bytes */
	PGBIN_CAST,		/* selected as ::text, which is its output function */
	PGBIN_INT2,
	PGBIN_INT4,
	PGBIN_INT8,
	PGBIN_FLOAT4,
	PGBIN_FLOAT8,
	PGBIN_BOOL,
	PGBIN_BYTES,		/* bytea */
};

/* How the catalog reads a column of the model: its conversion and select-list expression. */
struct src_read {
	enum conv conv;
	enum pg_binary binary;	/* PostgreSQL */
	char *select;
};

struct src_part {
	int k, n;		/* part k of n, from 1 */
	char *where;		/* predicate of the part; NULL for the whole table */
	char *range;		/* human text of the range, for PART_BEGIN */
	char *bounds;		/* an automatic split's "lo:hi" (integers, either may be
				 * empty), as --list records it; NULL otherwise */
};

/*
 * A described table: the stream's model of it (struct dms_table, the same a
 * reader of its TABLE record decodes; raw and attrs stay NULL here) and what
 * reading it takes.
 */
struct src_table {
	struct dms_table d;	/* schema, name, columns, key, indexes, foreign keys, estimate */
	struct src_read *read;	/* per column of d */
	char *filter;		/* WHERE from the mapping's source filters; NULL when none */
	const struct mapping_rule *settings;	/* table-settings rule, if any */
	int nparts;
	struct src_part *parts;
	int64_t oid;		/* PostgreSQL: pg_class oid */
};

struct src_name {
	char *schema, *name;
	int64_t estimated_rows;
	int64_t oid;
};

struct source {
	enum dms_engine engine;
	void *conn;		/* struct pg_conn or struct my_conn */
	const struct mapping *mapping;
	char *position;		/* MySQL: binlog position of the snapshot */
	char *snapshot;		/* PostgreSQL: snapshot imported or exported */
	char *server, *database;	/* the server's identity and the database read */
	/* when set, list reads this one table's row of the catalog (a part of a plan) */
	const char *only_schema, *only_name;
};

struct source_ops {
	bool (*connect)(struct source *s, const char *uri);
	/* Starts the read-only snapshot transaction (importing snapshot if given). */
	bool (*begin)(struct source *s, const char *snapshot);
	bool (*list)(struct source *s, struct src_name **names, int *n);
	bool (*describe)(struct source *s, const struct src_name *nm, struct src_table *t);
	/* Integer key range for the automatic split: false when none. */
	bool (*key_range)(struct source *s, const struct src_table *t, int64_t *min, int64_t *max);
	bool (*read_part)(struct source *s, const struct src_table *t, const struct src_part *p,
			  struct dms_writer *w, int tid, uint64_t *rows);
	/* Fills s->server and s->database (see pg_identity, my_identity). */
	bool (*identity)(struct source *s);
	char *(*quote_ident)(const char *name);
	char *(*quote_literal)(struct source *s, const char *value);
	void (*disconnect)(struct source *s);
};

extern const struct source_ops pg_source_ops;
extern const struct source_ops my_source_ops;
/*
 * A MySQL column added to t as information_schema.COLUMNS describes one
 * (DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION,
 * NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME; json: MariaDB's JSON
 * check); dms-capture describes from a TABLE_MAP this way a column the
 * catalog no longer has.
 */
struct dms_column *my_src_add_column(struct src_table *t, const char *name, const char *data_type,
				     const char *column_type, bool nullable, const char *charlen, const char *prec,
				     const char *scale, const char *dtprec, const char *collation, bool json);

void src_table_free(struct src_table *t);
/*
 * The source's tables that the mapping selects (all without one), those of
 * skip_schema (a control schema; NULL: none) left out, higher load-order
 * first, then by schema and name. An explicit rule whose table is not there
 * is an error (logged).
 */
bool catalog_select(const struct source_ops *ops, struct source *s, const char *skip_schema,
		    struct src_name **names, int *n);
/*
 * A table without a key (primary key or replica identity) takes the first
 * unique index of NOT NULL columns as its key, as DMS does; false when it has
 * none.
 */
bool src_table_key_fallback(struct src_table *t);
/*
 * Keeps the columns whose keep[] is true (a change capture's view of a table
 * at an older point of the source's log, before columns were added); the key,
 * indexes and foreign keys that lose a column go with it.
 */
void src_table_keep_columns(struct src_table *t, const bool *keep);
/*
 * Makes the table's columns order[0..n-1] (indexes of its columns, each at
 * most once), in that order; the others are dropped, as above.
 */
void src_table_order_columns(struct src_table *t, const int *order, uint32_t n);
/*
 * A column's value in the rows that were there when it was added (text as
 * the client library gives it; NULL: none), as its "missing" attr, so that a
 * target that adds the column gives its older rows the same. Arrays and NULL
 * are left out (a column attribute is a scalar).
 */
void src_missing_value(struct src_table *t, uint32_t col, const char *text);
/* Adds a column to the described table; the caller fills what is not NULL/-1/false. */
struct dms_column *src_add_column(struct src_table *t, const char *name, enum dms_type type,
				  enum conv conv, char *select);
/*
 * The stream's model of a described table (struct dms_table, its attrs
 * decoded), as a reader of its TABLE record has it: the one encoder
 * (rec_table) and the one decoder (the stream checker). The caller frees
 * it with table_free.
 */
struct dms_table *src_table_model(const struct src_table *t);
/* The index of a column by name, or -1. */
int src_column_index(const struct src_table *t, const char *name);
/* "schema"."name" quoted by the engine's quote_ident; the caller frees it. */
char *src_table_qualified(const struct src_table *t, char *(*quote_ident)(const char *));
/* Appends " WHERE ..." for the mapping's filters and the part's range (p may be NULL). */
void src_part_where(struct strbuf *sql, const struct src_table *t, const struct src_part *p);

#endif
