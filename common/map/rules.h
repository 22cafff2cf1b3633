/*
 * rules.h: AWS DMS table mappings applied to a record stream.
 *
 * For each TABLE record a plan is made once: the table is dropped (no
 * selection rule takes it), passed through untouched (no rule touches it:
 * its records are copied as they are, not decoded), or rewritten (names,
 * columns, types, key; values mapped by position, computed by SQLite
 * expressions, masked; rows judged by the source filters). The plans live
 * until the table is redefined or the stream ends.
 */
#ifndef DMS_TRANSFORM_RULES_H
#define DMS_TRANSFORM_RULES_H

#include <stdbool.h>

#include "../io.h"
#include "../mapping.h"
#include "../stream.h"

struct rules;

/* Checks what can be checked before any record (expressions compile); NULL on error (logged). */
struct rules *rules_new(const struct mapping *m);
/*
 * What a value that fails its conversion does (ErrorBehavior.DataErrorPolicy):
 * LOG_ERROR and IGNORE_RECORD drop the record with a warning, SUSPEND_TABLE
 * drops the rest of the table, STOP_TASK ends the run (the default is LOG_ERROR).
 */
void rules_set_policy(struct rules *r, int policy);
/*
 * Writes what the record becomes (nothing, itself, or a rewritten record).
 * Returns an exit status: EXIT_OK, EXIT_USAGE (the mapping does not fit the
 * table), EXIT_RUNTIME (a value that cannot be converted), EXIT_OUTPUT.
 */
int rules_record(struct rules *r, const struct dms_record *rec, struct dms_out *out);
void rules_free(struct rules *r);

/*
 * What a table becomes on the target, for dms-validate: its name, and per
 * target column the source column it is copied from unchanged (src >= 0), or
 * -1 with why when the mapping computes, converts or masks it.
 */
struct shape_column {
	char *name;
	int src;
	const char *why;
};

struct rules_shape {
	bool drop;
	char *schema, *name;
	int ncols;
	struct shape_column *cols;
	int nkey;
	int *key;		/* target columns */
};

/* EXIT_OK, or EXIT_USAGE when the mapping does not fit the table (logged). */
int rules_shape(struct rules *r, const struct dms_table *t, struct rules_shape *s);
void rules_shape_free(struct rules_shape *s);

#endif
