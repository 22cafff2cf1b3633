/*
 * catalog.h: the source catalog (libdmsdb): what is known of a source table,
 * and the engine interface that common/db/pg_source.c and my_source.c
 * implement. dms-extract and dms-validate (and next dms-capture) describe
 * tables with it, so that a table reads the same to each.
 *
 * A struct src_table is filled by the engine's describe(); the main program
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

struct src_column {
	char *name;
	enum dms_type type;
	char *native;		/* the source's own type text; NULL for a type the target cannot have */
	bool nullable;
	int64_t length;		/* -1 when none */
	int precision, scale;	/* -1 when none */
	bool is_unsigned;
	bool identity;		/* serial, identity, auto_increment */
	char *collation;	/* MySQL strings: the column's collation; NULL otherwise */
	enum conv conv;
	char *select;		/* the select-list expression */
};

struct src_part {
	int k, n;		/* part k of n, from 1 */
	char *where;		/* predicate of the part; NULL for the whole table */
	char *range;		/* human text of the range, for PART_BEGIN */
	char *bounds;		/* an automatic split's "lo:hi" (integers, either may be
				 * empty), as --list records it; NULL otherwise */
};

struct src_table {
	char *schema, *name;
	int64_t estimated_rows;
	int ncols;
	struct src_column *cols;
	int nkey;
	int *key;
	int nindexes;
	struct dms_index *indexes;	/* the stream's model of an index (stream.h) */
	int nfkeys;
	struct dms_fkey *fkeys;	/* and of a foreign key */
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
 * The columns that identify a row: the key (primary key or replica
 * identity), else the first unique index of NOT NULL columns; 0 when none.
 */
int src_table_row_key(const struct src_table *t, const int **cols);
/*
 * The stream's model of a described table (struct dms_table, its attrs
 * decoded), as a reader of its TABLE record has it: the one encoder
 * (pack_table) and the one decoder (the stream checker). The caller frees
 * it with table_free.
 */
struct dms_table *src_table_model(const struct src_table *t);
/* The index of a column by name, or -1. */
int src_column_index(const struct src_table *t, const char *name);
/* "schema"."name" quoted by the engine's quote_ident; the caller frees it. */
char *src_table_qualified(const struct src_table *t, char *(*quote_ident)(const char *));
/* Appends " WHERE ..." for the mapping's filters and the part's range (p may be NULL). */
void src_part_where(struct strbuf *sql, const struct src_table *t, const struct src_part *p);
/* Packs the table's TABLE record (dms-stream(5)) as table tid. */
void pack_table(msgpack_packer *pk, int tid, const struct src_table *t);

#endif
