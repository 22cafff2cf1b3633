/*
 * load.h: dms-load's view of target tables, the row batch, and the engine
 * interface that load/pg.c and load/my.c implement.
 *
 * A part is loaded in one target transaction. Rows are formatted into a
 * batch (bounded in bytes); the batch goes to the target in one statement
 * (COPY, a multi-row INSERT) under a savepoint; when the target refuses it
 * for bad data, the batch is split in halves until the bad rows stand alone,
 * and those follow the data error policy. The part's status row is written
 * in the same transaction, so a part is either loaded and recorded, or not
 * at all.
 */
#ifndef DMS_LOAD_H
#define DMS_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/exitcode.h"
#include "../common/format.h"
#include "../common/mp.h"
#include "../common/settings.h"
#include "../common/stream.h"
#include "../common/uri.h"
#include "../common/util.h"

/* A column on the target: the stream's column (the table model) and what the target makes of it. */
struct tcol {
	const struct dms_column *src;	/* name, type, native, length, precision, scale, ...; the reader's */
	bool indexed;		/* in the key or an index: needs an indexable type */
	bool skip;		/* a LOB column left out (SupportLobs false) */
	char *sqltype;		/* the target's column type */
	char *narrowed;		/* MySQL: the type it had before a key made it shorter */
	char *quoted;		/* its name, quoted for the target */
	int dec_prec, dec_scale;	/* a decimal(p,s) target type's p and s; -1 otherwise */
	int binary;		/* PostgreSQL: how a part's binary COPY writes it (load/pg.c) */
};

struct ttable {
	const struct dms_table *src;	/* the stream's definition; owned by the reader */
	char *schema, *name;	/* on the target */
	char *qname;		/* quoted schema.name */
	char *collist;		/* quoted column list of the loaded columns */
	char *setlist;		/* batch apply: "c = <new c>, ..." over the loaded non-key columns; "" for none */
	char *stage;		/* PostgreSQL batch apply: its staging table (a temporary table) */
	int ncols;
	struct tcol *cols;
	int nindexes;
	const struct dms_index *indexes;	/* the stream's, decoded once */
	int nfkeys;
	const struct dms_fkey *fkeys;
	bool prepared;
	int lob_mode;		/* table-settings lob-settings: 0 task's, 1 limited, 2 unlimited */
	int64_t lob_kb;		/* its bulk-max-size */
	int copy_form;		/* parts: 0 not known yet; PostgreSQL: 1 COPY text, 2 COPY binary;
				 * MySQL: 1 INSERT, 2 LOAD DATA LOCAL */
	/* --one-copy, a part that is the whole table (whole_begin, whole_end): */
	bool freeze;		/* truncated in the part's transaction: COPY FREEZE */
	char *held_key;		/* its primary key, dropped till the part's end: "name definition" */
};

struct batch {
	bool streaming;		/* a COPY is open and data[0..sent) went out */
	size_t sent;
	struct strbuf data;	/* rows in the target's form */
	struct strbuf raw;	/* the rows' values arrays (msgpack), for messages */
	size_t *ends, *raw_ends;
	size_t nrows, cap;
};

struct loader;
struct net_row;

/* What became of rows sent to the target (load_rows, stream_end). */
enum load_result {
	LOAD_FAILED = -1,	/* the target failed (logged): the part cannot go on */
	LOAD_REFUSED = 0,	/* refused for their data (err set); nothing of them kept */
	LOAD_DONE = 1,		/* loaded (or, for a probe, would load) */
};

/* Rows of a control-table query, as text: v[row * ncols + col], NULL for SQL NULL. */
struct ctl_result {
	int nrows, ncols;
	char **v;
};

struct target_ops {
	bool (*connect)(struct loader *l, const char *uri);
	bool (*control_tables)(struct loader *l);
	/* Creates / drops / truncates the table per the prep mode, once per task. */
	bool (*prepare)(struct loader *l, struct ttable *t);
	bool (*begin)(struct loader *l);
	/*
	 * Optional: the first part of t begins (in the transaction begin
	 * opened): sets t->copy_form, the form its rows take, and returns its
	 * name; NULL: failed (logged).
	 */
	const char *(*part_form)(struct loader *l, struct ttable *t);
	bool (*rollback)(struct loader *l);
	/* COMMIT; false (logged) when the transaction did not commit. */
	bool (*commit)(struct loader *l);
	/*
	 * Change apply: value it of column col as an SQL literal (NULL for nil);
	 * false with err set when the target cannot hold it. values: the row,
	 * for messages.
	 */
	bool (*literal)(struct loader *l, struct ttable *t, struct tcol *col, const struct mp_item *it,
			const uint8_t *values, size_t values_len, struct strbuf *out, char *err,
			size_t errsize);
	/*
	 * A change statement (with nparams parameters, or params NULL): an
	 * enum load_result, with the rows it matched in *rows; on LOAD_REFUSED
	 * (its data) err and *truncation are set.
	 */
	int (*apply_sql)(struct loader *l, const char *sql, int nparams, const char *const *params, uint64_t *rows,
			 char *err, size_t errsize, bool *truncation);
	/*
	 * Optional: value it as the text of a parameter ($n of sql), appended
	 * to out with its NUL (*null for nil). With it, change statements carry
	 * parameters (params not NULL) and are prepared once per text.
	 */
	bool (*param)(struct loader *l, struct ttable *t, struct tcol *col, const struct mp_item *it,
		      const uint8_t *values, size_t values_len, struct strbuf *out, bool *null, char *err,
		      size_t errsize);
	bool stmt_atomic;	/* a refused statement leaves its transaction usable (MySQL) */
	/*
	 * Pipelining (optional): apply_send sends a change statement without
	 * waiting; apply_sync waits for all those sent and gives each outcome to
	 * done(), in order, as apply_sql would (rc, rows, err, truncation). A
	 * statement after a refused one is not run: LOAD_REFUSED, err "not run".
	 * False: the target failed (logged).
	 */
	bool (*apply_send)(struct loader *l, const char *sql, int nparams, const char *const *params);
	bool (*apply_sync)(struct loader *l,
			   void (*done)(void *arg, int rc, uint64_t rows, const char *err, bool truncation),
			   void *arg);
	/*
	 * Batch apply: the net rows of a table (load/net.h): NET_DELETE rows
	 * deleted by key, NET_UPSERT rows inserted or, on their key, replacing
	 * the row; an enum load_result as apply_sql.
	 */
	int (*apply_net)(struct loader *l, struct ttable *t, const struct net_row *rows, size_t n, char *err,
			 size_t errsize, bool *truncation);
	/* Formats one row; false with err set when a value cannot go to the target. */
	bool (*format_row)(struct loader *l, struct ttable *t, const uint8_t *values,
			   size_t values_len, struct strbuf *out, char *err, size_t errsize);
	/*
	 * An enum load_result; on LOAD_REFUSED err and *truncation are set.
	 * probe: whether the rows load, keeping none of them.
	 */
	int (*load_rows)(struct loader *l, struct ttable *t, struct batch *b, size_t lo, size_t hi,
			 bool probe, char *err, size_t errsize, bool *truncation);
	bool (*exception)(struct loader *l, struct ttable *t, const char *key, const char *record,
			  const char *error);
	/*
	 * Streaming (optional): rows are sent as they are formatted, so that the
	 * target works while the next rows arrive. stream_end: as load_rows; on 0
	 * the batch was rolled back and is retried with load_rows.
	 */
	bool (*stream_begin)(struct loader *l, struct ttable *t);
	bool (*stream_send)(struct loader *l, const char *p, size_t n);
	int (*stream_end)(struct loader *l, struct ttable *t, char *err, size_t errsize, bool *truncation);
	bool (*post_load)(struct loader *l, struct ttable *t);
	/*
	 * Optional, --one-copy: a part that is its table's whole begins (in
	 * its transaction, after begin) and ends (before its status row), so
	 * that the target may load it its fastest way (load/pg.c). whole_end:
	 * an enum load_result; LOAD_REFUSED (err set): the part's rows cannot
	 * stand as they are, and it is loaded again without --one-copy.
	 */
	bool (*whole_begin)(struct loader *l, struct ttable *t);
	int (*whole_end)(struct loader *l, struct ttable *t, char *err, size_t errsize);
	/*
	 * A statement on the control tables with parameters $1..$n (text or
	 * NULL), its rows in *res when res is not NULL. False: failed (logged).
	 */
	bool (*ctl_query)(struct loader *l, const char *sql, int n, const char *const *params,
			  struct ctl_result *res);
	/* The quoted name of a control table (ControlSchema.name). */
	char *(*ctl_name)(const struct loader *l, const char *table);
	/*
	 * What the target table is now, as text that changes when it is dropped
	 * and created again ("" when it does not exist); NULL on error (logged).
	 */
	char *(*table_id)(struct loader *l, const struct ttable *t);
	/* YES: the target table holds a row; NO: it is empty; ERROR: failed (logged). */
	enum answer (*has_rows)(struct loader *l, const struct ttable *t);
	/*
	 * The task's lock. exclusive: the run holder's, tried without waiting,
	 * held until disconnect. Otherwise a lone loader's: it may run beside
	 * others of its task, never beside a run. ANSWER_YES: taken; ANSWER_NO:
	 * a run holds it; ANSWER_ERROR: failed (logged).
	 */
	enum answer (*task_lock)(struct loader *l, bool exclusive);
	/* The server's identity and the database of schema (as pg_identity / my_identity). */
	bool (*identity)(struct loader *l, char **server, char **database);
	/* Longest identifier in bytes (PostgreSQL) or characters (MySQL). */
	int ident_max;
	bool ident_chars;	/* ident_max counts characters */
	bool names_fold;	/* column names compare without case (MySQL) */
	void (*disconnect)(struct loader *l);
	size_t batch_bytes;
};

extern const struct target_ops pg_target_ops;
extern const struct target_ops my_target_ops;

struct loader {
	const struct target_ops *ops;
	void *conn;
	enum dms_engine engine;		/* the target's */
	enum dms_engine source;		/* from HELLO */
	const char *task;
	struct task_settings *settings;
	char *dbname;			/* MySQL target: the URI's database */
	bool failed;			/* a target error was logged: exit 4 */
	bool restart;			/* --restart: forget the task's progress first */
	bool one_copy;			/* --one-copy (streaming targets): a part is one COPY, no
					 * savepoint; a refused row ends the load with EXIT_AGAIN */
	const char *run;		/* --run: the run of dms-full-load this loader belongs to */
	bool tables_fold;		/* MySQL lower_case_table_names: table names compare without case */
	char *source_server, *source_database;	/* from HELLO */
	uint64_t exceptions;
	size_t max_statement;		/* bytes of rows one statement may carry; 0: no limit */
	bool format_truncation;		/* format_row refused a value for its size or scale */
	size_t statement_overhead;	/* what the statement adds to them */
};

/* load/table.c: a TABLE record as the target's table (types chosen, attrs decoded). */
struct ttable *ttable_new(const struct loader *l, const struct dms_table *s);
void ttable_free(struct ttable *t);

/* load/state.c: the task's progress in the control tables. */
void ctl_result_free(struct ctl_result *r);
/* ctl_query of fmt, whose %s is the quoted name of control table "table". */
bool ctl_sql(struct loader *l, const char *fmt, const char *table, int n, const char *const *params,
	     struct ctl_result *res);
/* YES: the table was prepared by this task and is still that table; NO: not (or no longer: warned, its progress forgotten). */
enum answer state_prepared(struct loader *l, struct ttable *t);
bool state_mark_prepared(struct loader *l, struct ttable *t);
/* YES: the part is loaded already (into this very table); NO: not. */
enum answer state_part_done(struct loader *l, struct ttable *t, const char *part, const char *range);
/* Records the part and commits its transaction (rolled back on failure). */
bool state_commit_part(struct loader *l, struct ttable *t, const char *part, const char *range,
		       const char *state, uint64_t rows, const char *error);

/* load/run.c: runs of dms-full-load, and the checks before anything is touched. */
/*
 * --begin-run: the run holder (see dms-load(1)); returns an exit status.
 * tables: the run's tables stream (or NULL), checked before the run starts,
 * and prepared and keyed on dms-full-load's word, in the holder's connection.
 */
int run_holder(struct loader *l, const char *source, const char *tables, bool restart);
/* load/main.c: the tables of the stream in file path checked, prepared or keyed; an exit status. */
enum tables_work { TABLES_CHECK, TABLES_PREPARE, TABLES_POST_LOAD };
int load_tables(const char *path, enum tables_work work);
/* A loader's start: its run is the task's current one, or no run holds the task. */
bool run_join(struct loader *l);
/* Refuses (false, logged) tables that cannot end well: same database, names that collide or do not fit. */
bool run_check_tables(struct loader *l, struct ttable **tables, size_t n);

/*
 * load/pgbin.c: a value's text as PostgreSQL's binary COPY field (its length,
 * then its bytes), appended to out; false, with nothing appended, when the
 * text is not one these read exactly (the server's input function decides).
 */
bool pgbin_date(const char *s, size_t n, struct strbuf *out);
bool pgbin_time(const char *s, size_t n, struct strbuf *out);
bool pgbin_timestamp(const char *s, size_t n, bool tz, struct strbuf *out);
bool pgbin_numeric(const char *s, size_t n, struct strbuf *out);
bool pgbin_uuid(const char *s, size_t n, struct strbuf *out);
bool pgbin_json(const char *s, size_t n, bool jsonb, struct strbuf *out);

/* The target's type for a column (load/ddl.c). */
char *pg_column_type(const struct loader *l, const struct tcol *c);
char *my_column_type(const struct loader *l, const struct tcol *c);
/* MySQL: variable-length key columns narrowed so that every key fits InnoDB's 3072 bytes. */
void my_fit_keys(const struct loader *l, struct ttable *t);
/* Largest LOB value in bytes under the LOB settings; 0: no limit. */
size_t lob_limit(const struct loader *l, const struct ttable *t, const struct tcol *c);
/* Truncates a LOB value to limit bytes (at a UTF-8 boundary for text); logs it. */
size_t lob_truncate(const struct loader *l, const struct ttable *t, const struct tcol *c,
		    const uint8_t *values, size_t values_len, const uint8_t *p, size_t len,
		    size_t limit, bool text);

#endif
