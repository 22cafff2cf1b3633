/*
 * engine.h: what the files of the mapping engine share (internal to
 * common/map/): its statements, plans and state, and the functions of
 *   names.c   which rule names what: renames, the new schema and table names
 *   sqlite.c  SQLite: the functions expressions may call, values bound to it
 *   plan.c    a plan per TABLE: the output columns, key, filter, attrs
 *   rules.c   records through their plans, and the public API (rules.h)
 */
#ifndef DMS_MAP_ENGINE_H
#define DMS_MAP_ENGINE_H

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rules.h"
#include "../records.h"
#include "../settings.h"
#include "../sha256.h"
#include "../dms.h"

enum ocol_kind { OC_COPY, OC_EXPR, OC_NULL, OC_BEFORE };

/* What a statement parameter is bound to: a column (>= 0) or a header variable. */
enum param {
	PARAM_NULL = -1, PARAM_OPERATION = -2, PARAM_TIMESTAMP = -3, PARAM_POSITION = -4,
	PARAM_CHANGE_SEQ = -5, PARAM_SCHEMA = -6, PARAM_TABLE = -7, PARAM_EMPTY = -8,
};

/* A prepared statement and, per parameter, what it is bound to. */
struct stmt {
	sqlite3_stmt *st;
	int nparams;
	int *params;
};
enum mask { MASK_NONE, MASK_DIGITS, MASK_RANDOM, MASK_HASH };

struct ocol {
	char *name;
	char *type;		/* DMS type name */
	enum dms_type dtype;
	bool nullable;
	enum ocol_kind kind;
	int src;		/* input column, OC_COPY */
	bool convert;		/* change-data-type: convert the value */
	enum mask mask;
	char mask_char;
	struct stmt expr;	/* OC_EXPR */
	struct strbuf attrs;	/* packed msgpack map */
};

struct plan {
	bool drop, pass;
	const struct dms_table *in;
	char *schema, *name;
	int nout;
	struct ocol *out;
	int nkey;
	int *key;		/* output columns */
	const struct mapping_rule *unique_rule;	/* define-primary-key, origin unique-index */
	int nunique;
	int *unique;		/* its output columns */
	struct strbuf tattrs;	/* packed table attrs */
	struct stmt filter;
	bool op_indicator;	/* an expression uses operation_indicator(): deletes become updates */
	uint64_t part_out;	/* ROWs of the part in hand written */
	bool part_filtered;	/* its source query applied the filters already */
};

struct rules {
	const struct mapping *m;
	sqlite3 *db;
	struct plan **plans;
	size_t nplans;
	/* the record in hand, for the functions and header variables */
	const char *op;
	char commit_time[40];
	char position[64];
	uint64_t seq;
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	int policy;		/* enum error_policy */
	char error[512];	/* why the record in hand was refused */
};

/* How a filter compares a column's values: see "Source filters" in dms-mapping(5). */
enum cmp { CMP_TEXT, CMP_NUMBER, CMP_INSTANT, CMP_NOCASE };

/* names.c */
bool locator_matches(const struct mapping_rule *r, const char *schema, const char *table);
char *rename_with(const struct mapping_rule *r, const char *name);
bool map_renames(const struct mapping_rule *r);
const struct mapping_rule *name_rule(const struct mapping *m, const char *target, const char *schema, const char *table,
	  const char *column, const char *type);
char *new_schema(const struct mapping *m, const char *schema);
char *new_table(const struct mapping *m, const char *schema, const char *table);

/* sqlite.c */
void fn_operation_indicator(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void fn_dms_instant(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void fn_hash_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void fn_replace_chars(sqlite3_context *ctx, int argc, sqlite3_value **argv);
bool map_prepare(struct rules *r, const char *sql, sqlite3_stmt **stmt, const char *what);
void stmt_free(struct stmt *s);
void stmt_resolve(struct stmt *s, const struct dms_table *t);
void plan_free(struct plan *p);

/* plan.c */
void pack_attrs_dt(struct strbuf *sb, const struct mapping_rule *rule, int min_length);
int out_index(const struct plan *p, const char *name);
int in_index(const struct dms_table *t, const char *name);
bool is_numeric_type(enum dms_type t);
enum cmp filter_cmp(const struct dms_column *c);
void sql_operand(struct strbuf *sb, const char *v, int col, enum cmp k);
char *filter_operand(void *arg, const char *column, const char *value);
int build_filter(struct rules *r, struct plan *p);
const struct mapping_rule *lob_rule(const struct mapping *m, const struct dms_table *t);
void pack_unique_index(msgpack_packer *pk, const struct plan *p);
bool pack_index(msgpack_packer *pk, const struct dms_index *x, const int *map, bool dry_run);
void pack_fkey_columns(struct rules *r, msgpack_packer *pk, char *const *cols, int n, const char *schema,
		  const char *table);
void pack_fkey(struct rules *r, msgpack_packer *pk, const struct dms_table *t, const struct dms_fkey *f);
void pack_table_attrs(struct rules *r, struct plan *p, const int *map);
bool column_touched(const struct mapping *m, const struct dms_table *t);
bool has_filters(const struct mapping *m, const struct dms_table *t);
int make_plan(struct rules *r, const struct dms_table *t, struct plan **out);

/* rules.c */
bool index_values(const uint8_t *values, size_t len, const uint8_t **off, uint32_t n);
void bind_value(sqlite3_stmt *st, int idx, const uint8_t *p, const uint8_t *end);
void bind_all(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off);
bool pack_result(msgpack_packer *pk, sqlite3_stmt *st, enum dms_type t);
bool map_eval(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off, bool *yes);
int random_digit(void);
bool pack_column(struct rules *r, const struct plan *p, const struct ocol *o, const uint8_t *v,
	    const uint8_t *vend, const uint8_t *values, size_t values_len);
int pack_values(struct rules *r, const struct plan *p, const uint8_t *values, size_t values_len,
	    bool image, bool unchanged_for_missing, const uint8_t *before, size_t before_len);
int write_table(struct rules *r, const struct plan *p, int64_t tid);
void set_time(struct rules *r, const uint8_t *p, const uint8_t *end);
void set_position(struct rules *r, const uint8_t *p, const uint8_t *end);
struct plan *map_plan_of(struct rules *r, int64_t tid);
bool map_passes(struct rules *r, const struct plan *p, const uint8_t *values, size_t len, int *status);
int map_reject(struct rules *r, const struct plan *p, const struct dms_record *rec, struct dms_out *out);
int map_record(struct rules *r, const struct dms_record *rec, struct dms_out *out);

#endif
