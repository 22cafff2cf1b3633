/*
 * mapping.h: AWS DMS table mappings ({"rules": [...]}), as dms reads them.
 *
 * mapping_load() parses and validates the whole document before any record
 * is read; a rule that is not valid DMS is refused with its rule-id, the field
 * and why. This version acts on selection rules (include, exclude, explicit,
 * wildcards, source filters, load-order) and table-settings rules
 * (parallel-load ranges, lob-settings); the other rule types are kept, as
 * parsed JSON, for the programs that act on them (dms-transform).
 */
#ifndef DMS_MAPPING_H
#define DMS_MAPPING_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

enum rule_type { RULE_SELECTION, RULE_TRANSFORMATION, RULE_TABLE_SETTINGS, RULE_VALIDATION, RULE_OTHER };
enum sel_action { SEL_INCLUDE, SEL_EXCLUDE, SEL_EXPLICIT };
enum filter_op { OP_LTE, OP_GTE, OP_EQ, OP_NOTEQ, OP_BETWEEN, OP_NOTBETWEEN, OP_NULL, OP_NOTNULL };

struct filter_cond {
	enum filter_op op;
	char *value, *start, *end;
};

struct filter {
	char *column;
	int nconds;
	struct filter_cond *conds;
};

struct mapping_rule {
	enum rule_type type;
	long id;
	char *id_text;
	char *name;
	char *action;		/* rule-action as written */
	enum sel_action sel;
	char *schema, *table;	/* object-locator */
	char *table_type;	/* "table", "view", "all" */
	long load_order;
	int nfilters;
	struct filter *filters;
	/* table-settings */
	char *pl_type;		/* parallel-load type; NULL when absent */
	int npl_columns;
	char **pl_columns;
	int nbounds;
	char ***bounds;		/* nbounds arrays of npl_columns values */
	char *lob_mode;		/* lob-settings mode; NULL when absent */
	long lob_bulk_max_size;
	/* transformation */
	char *target;		/* rule-target: schema, table, column */
	char *column;		/* object-locator column-name */
	char *locator_type;	/* object-locator data-type (change-data-type) */
	char *value, *old_value;
	char *expression;
	char *dt_type;		/* data-type.type */
	int dt_length, dt_precision, dt_scale;	/* -1 when absent */
	char *pk_name, *pk_origin;	/* primary-key-def */
	int npk_columns;
	char **pk_columns;
	char *bi_prefix, *bi_suffix, *bi_filter;	/* before-image-def */
	/* validation: override-validation-function, with ${column-name} */
	char *source_fn, *target_fn;
	json_t *json;		/* the rule as given (a new reference) */
};

struct mapping {
	int nrules;
	struct mapping_rule *rules;	/* sorted by rule-id */
	json_t *root;
};

bool mapping_load(const char *path, struct mapping *m);
/* Loads a JSON document; on failure logs the file, line, column and why. */
json_t *json_file_load(const char *path);
void mapping_free(struct mapping *m);

/* DMS wildcards: % any run, _ one character, [abc] [a-d] one of a set, [_] a literal _. */
bool wildcard_match(const char *pattern, const char *s);

/*
 * Whether a mapping selects schema.table: some include or explicit rule
 * matches and no exclude rule does. With no mapping, everything is selected.
 */
bool mapping_selects(const struct mapping *m, const char *schema, const char *table);
/*
 * Whether dms-transform -m changes a snapshot stream that dms-extract -m
 * read: a transformation rule, a table-settings rule's lob-settings, a rule
 * of a type this version does not know. Selection rules and their filters,
 * and parallel-load, are dms-extract's.
 */
bool mapping_changes_snapshot(const struct mapping *m);
/* The largest load-order of the include rules that match (0 when none). */
long mapping_load_order(const struct mapping *m, const char *schema, const char *table);
/* The table-settings rule for exactly schema.table, or NULL. */
const struct mapping_rule *mapping_table_settings(const struct mapping *m, const char *schema,
						  const char *table);

/* Quoting callbacks of the source engine, for building SQL. */
typedef char *(*quote_fn)(void *arg, const char *text);

/*
 * The WHERE predicate of the source filters of the include rules that match
 * schema.table (filters ANDed, conditions in one filter ORed); NULL when none.
 */
char *mapping_filter_sql(const struct mapping *m, const char *schema, const char *table,
			 quote_fn ident, quote_fn literal, void *arg);
/*
 * The same predicate with each operand as operand() writes it: the column
 * (value NULL) or a value compared with it. A caller that compares by type
 * (the mapping engine) wraps both sides; the source wants them quoted.
 */
typedef char *(*operand_fn)(void *arg, const char *column, const char *value);
char *mapping_filter_expr(const struct mapping *m, const char *schema, const char *table,
			  operand_fn operand, void *arg);

#endif
