/*
 * validate.h: dms-validate's connections, the canonical text of values on
 * each engine, the table comparison, and the premigration assessment.
 *
 * Two databases hold the same values when each value's canonical text is
 * equal: the text a column's value has on its engine once numeric scale,
 * float format, timestamp precision and zone, booleans and binary are brought
 * to one form (canon_expr). A partition's checksum is the sum of its rows'
 * MD5s (their first 60 bits) over those texts, computed inside each database;
 * a sum is independent of row order, so the two engines' collations need not
 * agree. A differing partition is narrowed by fetching each row's key and
 * MD5, and only the rows whose MD5 differs are fetched whole and compared
 * value by value (where floats compare as numbers and JSON as JSON).
 */
#ifndef DMS_VALIDATE_H
#define DMS_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../common/mapping.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/settings.h"
#include "../common/types.h"
#include "../common/util.h"
#include "../common/uri.h"

/* ---- db.c: one connection to either engine, results as text ---- */

struct vconn {
	enum dms_engine engine;
	struct pg_conn pg;
	struct my_conn my;
	const char *label;
	char what[160];		/* the query in flight, for messages */
	bool pending;		/* sent, result not yet read (vsend) */
	unsigned warnings;	/* MySQL: warnings of the last query (GROUP_CONCAT cut short, say) */
	int64_t warmed;		/* PostgreSQL: bytes of the last allocator warm-up (vwarm) */
};

struct vrows {
	int nrows, ncols;
	struct strbuf data;
	size_t *off;		/* nrows * ncols + 1 offsets; SIZE_MAX marks NULL */
	size_t *len;
};

/* Connects and sets the session up (UTF-8, UTC, ISO dates, hex bytea, '' quoting). */
bool vconnect(struct vconn *c, const char *uri);
void vdisconnect(struct vconn *c);
/* Runs a query; false on error (logged with the server's message). */
bool vquery(struct vconn *c, const char *sql, struct vrows *r);
/*
 * The same in two halves, so that one worker's source and target run their
 * queries at once: vsend() starts a query, vreceive() waits for its rows.
 * After a vsend() that returned true, vreceive() must be called.
 */
bool vsend(struct vconn *c, const char *sql);
bool vreceive(struct vconn *c, struct vrows *r);
bool vcommand(struct vconn *c, const char *sql);
/*
 * PostgreSQL: lets the server process keep buffers of about `bytes` between
 * queries (see db.c); nothing on MySQL or once done for as much.
 */
void vwarm(struct vconn *c, int64_t bytes);
void vrows_free(struct vrows *r);
/* A cell's text, NULL for SQL NULL. */
const char *vcell(const struct vrows *r, int row, int col, size_t *len);
char *vident(const struct vconn *c, const char *name);
/* 'text' with quotes doubled (both sessions take no backslash escapes); NULL gives NULL. */
void vliteral(struct strbuf *sb, const char *text);

/* ---- canonical texts ---- */

enum vclass {
	VC_NUM,			/* integers, booleans (1/0), numeric without trailing zeros */
	VC_FLOAT,		/* shortest round-trip digits of the double */
	VC_TEXT,		/* strings and LOBs, UTF-8 */
	VC_BYTES,		/* lowercase hex */
	VC_DATE,		/* YYYY-MM-DD */
	VC_TIME,		/* microseconds since midnight */
	VC_DATETIME,		/* microseconds since 1970-01-01 UTC */
	VC_JSON,		/* the document's text; compared as JSON when it differs */
	VC_UUID,		/* lowercase */
	VC_OTHER,		/* the engine's text form */
};

enum vclass vclass_of(enum dms_type t);
bool vclass_is_text(enum vclass k);
/* Whether a key column of this class can be validated (compared and bounded by text). */
bool vclass_keyable(enum vclass k);
/*
 * The canonical text of column q (quoted) on engine e, whose own DMS type is
 * t and native type native. partial_lob: bytes or characters of a LOB to
 * compare (0: all). utf8: MySQL text already in UTF-8 (utf8mb4, utf8mb3,
 * ascii), which needs no conversion.
 */
void canon_expr(struct strbuf *sb, enum dms_engine e, enum vclass k, enum dms_type t,
		const char *native, const char *q, int64_t partial_lob, bool utf8);
/* The text of a key column: canonical, but datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'. */
void key_expr(struct strbuf *sb, enum dms_engine e, enum vclass k, enum dms_type t, const char *q,
	      bool binary_collation);
/* A key text as a literal of engine e. */
void key_literal(struct strbuf *sb, enum dms_engine e, enum vclass k, const char *text);

/* ---- compare.c ---- */

struct vopts {
	const char *task;
	const struct mapping *mapping;	/* NULL: every table, as it is */
	struct task_settings *settings;
	bool resume;
	int64_t max_rate;		/* rows per second, 0: no limit */
	const char *source_uri, *target_uri;
};

/* Returns the exit status: 0 equal, 1 differences, 2 usage, 3 source, 4 target, 6 output, 7 stopped. */
int validate_run(const struct vopts *o);

struct rules;
struct rules_shape;
struct src_table;
/* What the mapping makes of a described source table: EXIT_OK or EXIT_USAGE (logged). */
int mapped_shape(struct rules *r, const struct src_table *t, struct rules_shape *out);

/* ---- assess.c ---- */

struct aopts {
	const struct mapping *mapping;
	struct task_settings *settings;
	const char *migration_type;	/* full-load, cdc, full-load-and-cdc */
	const char *source_uri, *target_uri;	/* target may be NULL */
};

/* Returns 0 when nothing would fail, 1 when a finding would, higher for errors. */
int assess_run(const struct aopts *o);

#endif
