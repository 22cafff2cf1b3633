/*
 * compare.h: what the files of dms-validate's comparison share (internal to
 * validate/): the table, run and worker state, and the functions of
 *   keys.c      key lists, key ranges as SQL, the key -> row hash table
 *   failures.c  failure reports, the control tables and table statistics
 *   rows.c      comparing a partition, narrowing it to rows, keyless tables
 *   workers.c   handing out partitions, the workers, the status lines
 *   prepare.c   what to compare with what: columns, canonical forms, SQL
 *   compare.c   the run
 * See compare.c for how a table is compared.
 */
#ifndef DMS_VALIDATE_COMPARE_H
#define DMS_VALIDATE_COMPARE_H

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "validate.h"
#include "../common/db/catalog.h"
#include "../common/map/rules.h"
#include "../common/records.h"
#include "../common/dms.h"

#define S 0			/* source side */
#define T 1			/* target side */
#define FETCH_BATCH 500		/* keys per IN list */

struct vcol {
	char *name;		/* on the target */
	enum vclass cls;
	char *canon[2];
	char *disp[2];
	char *keytext[2];	/* key columns: the key's text */
	char *term[2];		/* key columns: what ORDER BY and ranges compare */
	char *q[2];		/* the quoted column */
	char *rowpart[2];	/* MySQL: a cheaper form for the row text (CONCAT converts numbers), or NULL */
	bool nullable[2];
};

struct inflight {
	int64_t seq;
	char **lo;
};

struct vtable {
	char *owner, *name;	/* on the source */
	char *tschema, *tname;	/* on the target */
	char *label;		/* source schema.name -> target schema.name */
	char *from[2];
	char *filter;		/* the source rows the mapping selects; NULL for all */
	int ncols;
	struct vcol *cols;
	int nkey;
	int *key;		/* into cols */
	char *sum[2], *hash[2], *keysel[2], *orderby[2], *rowsel[2];
	bool missing;		/* the target lacks the table or a column: a difference, not an error */
	bool native;		/* PostgreSQL on both sides, same types: rows hash as their own text */
	bool ordered;		/* keys the engines order alike, no LOB: one MD5 over the rows in order */
	bool ready;		/* prepared; false: state says why */
	bool keyless;		/* no key: compared whole, by count and an order-free hash */
	/* under the run's lock */
	const char *state;	/* a DMS ValidationState */
	char *details;
	char **cursor;		/* end of the last partition handed out; NULL: the start */
	bool exhausted, stopped;
	int64_t seq;
	int ninflight;
	struct inflight *inflight;
	int64_t rows, failed, partitions;
	int64_t estimate;	/* the source's estimate of its rows, for the status lines */
	struct timespec started;	/* its first partition handed out */
	int64_t kinds[3];	/* RECORD_DIFF, MISSING_SOURCE, MISSING_TARGET */
	bool finished;
};

struct vrun {
	const struct vopts *o;
	pthread_mutex_t lock;
	struct vtable *tables;
	int ntables;
	int next;		/* table being cut into partitions */
	struct vconn ctl;	/* target: control tables, under the lock */
	char *ctl_failures, *ctl_stats;
	int64_t failures;
	bool stop;		/* FailureMaxCount reached, or a signal */
	int status;		/* the worst error status; differences are counted apart */
	int64_t rows_done;
	struct timespec start;
	enum dms_engine eng[2];
	int workers_done;	/* under the lock; signalled on done */
	pthread_cond_t done;
};

extern const char *const failure_names[];
enum { F_DIFF, F_MISSING_SOURCE, F_MISSING_TARGET };

struct hentry {
	char *key;		/* key_join text; NULL: empty slot */
	char md5[33];
	int row;		/* in the source rows */
	bool seen;
};

struct htab {
	size_t cap, n;
	struct hentry *e;
};

struct worker {
	struct vrun *run;
	struct vconn c[2];
	pthread_t thread;
	int status;
	struct strbuf failures;	/* rows for the failures table, written by flush_failures() */
};

#define KEYLESS_LIST_MAX 10000	/* rows per side up to which a keyless table's differing rows are listed */
struct prep {
	const struct source_ops *ops[2];
	struct source src[2];
	struct vrun *run;
	struct rules *rules;
};

#define PG_RUN 8

/* keys.c */
void keys_free(char **k, int n);
char **keys_dup(char *const *k, int n);
char **keys_of_row(const struct vrows *r, int row, int n);
void key_join_part(struct strbuf *sb, const char *v, size_t len);
void key_join(struct strbuf *sb, const struct vrows *r, int row, int n);
json_t *key_json(char *const *k, int n);
char *qualified(const struct vconn *c, const char *schema, const char *name);
void key_compare(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, bool greater,
	    char *const *lits);
void range_where(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, char *const *lo,
	    char *const *hi);
void keys_where(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, char ***keys,
	   int from, int to);
uint64_t fnv(const char *s);
struct hentry *hfind(struct htab *h, const char *key, bool add);
void hfree(struct htab *h);

/* failures.c */
bool flush_failures(struct worker *w);
void report(struct worker *w, struct vtable *t, int kind, char *const *key, json_t *details);
bool control_tables(struct vrun *run);
void stats_write_locked(struct vrun *run, struct vtable *t, char *const *resume);
bool start_table(struct vrun *run, struct vtable *t);

/* rows.c */
bool values_equal(enum vclass k, const char *a, size_t an, const char *b, size_t bn);
bool fetch_rows(struct worker *w, struct vtable *t, int side, char ***keys, int from, int to,
		struct vrows *out);
void index_rows(const struct vtable *t, const struct vrows *r, struct htab *h);
bool compare_keys(struct worker *w, struct vtable *t, char ***keys, int n);
bool check_extra(struct worker *w, struct vtable *t, char ***keys, int n);
bool row_hashes(struct worker *w, struct vtable *t, int side, char *const *lo, char *const *hi,
		struct vrows *all);
bool narrow(struct worker *w, struct vtable *t, char *const *lo, char *const *hi);
json_t *keyless_row(const struct vtable *t, const struct vrows *r, int row);
bool narrow_keyless(struct worker *w, struct vtable *t, int64_t nsource, int64_t ntarget);
bool check_partition(struct worker *w, struct vtable *t, char *const *lo, char *const *hi, int64_t *rows);

/* workers.c */
double elapsed(const struct timespec *since);
void finish_table_locked(struct vrun *run, struct vtable *t);
char **resume_point_locked(struct vtable *t);
struct vtable *next_partition(struct worker *w, char ***lo, char ***hi, int64_t *seq);
void partition_done(struct worker *w, struct vtable *t, int64_t seq, int64_t rows, bool ok);
void *worker_main(void *arg);
void draw_status_locked(struct vrun *run, int *drawn, bool last);
void wait_workers(struct vrun *run, int nworkers);

/* prepare.c */
char *src_ident_cb(void *arg, const char *text);
char *src_literal_cb(void *arg, const char *text);
const struct mapping_rule *validation_rule(const struct mapping *m, const char *schema,
					  const char *table, const char *column, const char *type);
void override_expr(struct strbuf *sb, enum dms_engine e, const char *fn, const char *q);
bool utf8_columns(struct my_conn *c, const char *schema, const char *table, struct vrows *out);
bool utf8_column(const struct vrows *r, const char *name);
bool fixed_char(const char *native);
int target_column(const struct src_table *tt, const char *name);
void row_part(struct strbuf *sb, const struct vcol *c, int side, bool pg, bool prefixed);
char *pg_concat(char **parts, int n);
char *row_text(const struct vtable *t, int side, enum dms_engine e, bool prefix_all);
void build_sql(struct vtable *t, enum dms_engine e[2]);
void table_error(struct vtable *t, const char *state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool find_target(struct prep *p, struct vtable *t, struct src_name *nm, bool *found);
bool prepare_table(struct prep *p, const struct src_name *nm, struct vtable *t);

/* compare.c */
void summary(struct vrun *run);

#endif
