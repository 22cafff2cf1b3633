/*
 * mapping.c: AWS DMS table mappings read, checked and queried: selection,
 * load order, table-settings, and the source filters as SQL (see mapping.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapping.h"
#include "dms.h"

bool
wildcard_match(const char *p, const char *s)
{
	while (*p != '\0') {
		if (*p == '%') {
			while (*p == '%')
				p++;
			if (*p == '\0')
				return true;
			for (; *s != '\0'; s++)
				if (wildcard_match(p, s))
					return true;
			return false;
		}
		if (*s == '\0')
			return false;
		if (*p == '_') {
			p++;
			s++;
			continue;
		}
		if (*p == '[') {
			const char *q = p + 1;
			bool hit = false;

			if (*q == ']' || strchr(q, ']') == NULL) {
				/* not a set: a literal [ */
				if (*s != '[')
					return false;
				p++;
				s++;
				continue;
			}
			for (; *q != ']'; q++) {
				if (q[1] == '-' && q[2] != ']' && q[2] != '\0') {
					hit |= (unsigned char)*s >= (unsigned char)q[0] &&
					       (unsigned char)*s <= (unsigned char)q[2];
					q += 2;
				} else {
					hit |= *s == *q;
				}
			}
			if (!hit)
				return false;
			p = q + 1;
			s++;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

static bool
has_wildcard(const char *s)
{
	return strpbrk(s, "%_[") != NULL;
}

/* Error reporting while loading: names the file and the rule. */
struct loader {
	const char *path;
	const char *rule;	/* rule-id, or NULL */
};

static bool
refuse(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
refuse(struct loader *l, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (l->rule)
		log_error("%s: rule %s: %s", l->path, l->rule, why);
	else
		log_error("%s: %s", l->path, why);
	return false;
}

static bool
get_str(struct loader *l, json_t *obj, const char *key, bool required, char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return refuse(l, "\"%s\" is missing", key);
		return true;
	}
	if (json_is_integer(v)) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		*out = xstrdup(buf);
		return true;
	}
	if (!json_is_string(v))
		return refuse(l, "\"%s\" must be a string", key);
	*out = xstrdup(json_string_value(v));
	return true;
}

static bool
parse_filters(struct loader *l, json_t *arr, struct mapping_rule *r)
{
	size_t i;
	json_t *f;

	if (!json_is_array(arr))
		return refuse(l, "\"filters\" must be an array");
	if (json_array_size(arr) > 0 && r->sel != SEL_INCLUDE && r->sel != SEL_EXPLICIT)
		return refuse(l, "source filters need rule-action \"include\"");
	r->nfilters = (int)json_array_size(arr);
	r->filters = xcalloc((size_t)r->nfilters, sizeof(*r->filters));
	json_array_foreach(arr, i, f) {
		struct filter *flt = &r->filters[i];
		char *type = NULL;
		json_t *conds, *c;
		size_t j;
		int negatives = 0;

		if (!json_is_object(f))
			return refuse(l, "filter %zu is not an object", i + 1);
		if (!get_str(l, f, "filter-type", true, &type))
			return false;
		if (strcmp(type, "source") != 0) {
			refuse(l, "filter %zu: filter-type \"%s\" is not \"source\"", i + 1, type);
			free(type);
			return false;
		}
		free(type);
		if (!get_str(l, f, "column-name", true, &flt->column))
			return false;
		if (has_wildcard(flt->column) && strchr(flt->column, '%'))
			return refuse(l, "filter %zu: column-name must be an exact name", i + 1);
		conds = json_object_get(f, "filter-conditions");
		if (!json_is_array(conds) || json_array_size(conds) == 0)
			return refuse(l, "filter %zu: \"filter-conditions\" must be a non-empty array",
				      i + 1);
		flt->nconds = (int)json_array_size(conds);
		flt->conds = xcalloc((size_t)flt->nconds, sizeof(*flt->conds));
		json_array_foreach(conds, j, c) {
			static const struct {
				const char *name;
				enum filter_op op;
			} ops[] = {
				{ "lte", OP_LTE }, { "ste", OP_LTE }, { "gte", OP_GTE }, { "eq", OP_EQ },
				{ "noteq", OP_NOTEQ }, { "between", OP_BETWEEN },
				{ "notbetween", OP_NOTBETWEEN }, { "null", OP_NULL },
				{ "notnull", OP_NOTNULL },
			};
			struct filter_cond *fc = &flt->conds[j];
			char *opname = NULL;
			bool found = false;

			if (!json_is_object(c))
				return refuse(l, "filter %zu: condition %zu is not an object", i + 1, j + 1);
			if (!get_str(l, c, "filter-operator", true, &opname))
				return false;
			for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
				if (strcmp(opname, ops[k].name) == 0) {
					fc->op = ops[k].op;
					found = true;
				}
			if (!found) {
				refuse(l, "filter %zu: unknown filter-operator \"%s\"", i + 1, opname);
				free(opname);
				return false;
			}
			free(opname);
			switch (fc->op) {
			case OP_BETWEEN:
			case OP_NOTBETWEEN:
				if (!get_str(l, c, "start-value", true, &fc->start) ||
				    !get_str(l, c, "end-value", true, &fc->end))
					return false;
				break;
			case OP_NULL:
			case OP_NOTNULL:
				break;
			default:
				if (!get_str(l, c, "value", true, &fc->value))
					return false;
			}
			if (fc->op == OP_NOTEQ || fc->op == OP_NOTBETWEEN || fc->op == OP_NOTNULL)
				negatives++;
		}
		if (negatives > 0 && flt->nconds > 1)
			return refuse(l, "filter %zu: a negative condition (noteq, notbetween, notnull) must be the only one in its filter; use several filters",
				      i + 1);
	}
	return true;
}

static bool
parse_table_settings(struct loader *l, json_t *rule, struct mapping_rule *r)
{
	json_t *pl = json_object_get(rule, "parallel-load");
	json_t *lob = json_object_get(rule, "lob-settings");

	if (has_wildcard(r->schema) && strchr(r->schema, '%'))
		return refuse(l, "Exact schema and table name required when using table settings rule");
	if (strchr(r->table, '%'))
		return refuse(l, "Exact schema and table name required when using table settings rule");
	if (pl != NULL) {
		json_t *cols, *bounds, *b;
		size_t i;

		if (!json_is_object(pl))
			return refuse(l, "\"parallel-load\" must be an object");
		if (!get_str(l, pl, "type", true, &r->pl_type))
			return false;
		if (strcmp(r->pl_type, "ranges") == 0) {
			cols = json_object_get(pl, "columns");
			bounds = json_object_get(pl, "boundaries");
			if (!json_is_array(cols) || json_array_size(cols) == 0 ||
			    json_array_size(cols) > 10)
				return refuse(l, "parallel-load: \"columns\" must list 1 to 10 columns");
			if (!json_is_array(bounds) || json_array_size(bounds) == 0)
				return refuse(l, "parallel-load: \"boundaries\" must be a non-empty array");
			r->npl_columns = (int)json_array_size(cols);
			r->pl_columns = xcalloc((size_t)r->npl_columns, sizeof(char *));
			for (i = 0; i < json_array_size(cols); i++) {
				if (!json_is_string(json_array_get(cols, i)))
					return refuse(l, "parallel-load: column %zu is not a string", i + 1);
				r->pl_columns[i] = xstrdup(json_string_value(json_array_get(cols, i)));
			}
			r->nbounds = (int)json_array_size(bounds);
			r->bounds = xcalloc((size_t)r->nbounds, sizeof(char **));
			json_array_foreach(bounds, i, b) {
				if (!json_is_array(b) || (int)json_array_size(b) != r->npl_columns)
					return refuse(l, "parallel-load: boundary %zu must list one value per column (%d)",
						      i + 1, r->npl_columns);
				r->bounds[i] = xcalloc((size_t)r->npl_columns, sizeof(char *));
				for (int k = 0; k < r->npl_columns; k++) {
					json_t *v = json_array_get(b, (size_t)k);
					char buf[64];

					if (json_is_string(v))
						r->bounds[i][k] = xstrdup(json_string_value(v));
					else if (json_is_integer(v)) {
						snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
						r->bounds[i][k] = xstrdup(buf);
					} else if (json_is_real(v)) {
						snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
						r->bounds[i][k] = xstrdup(buf);
					} else
						return refuse(l, "parallel-load: boundary %zu value %d is not a string or number",
							      i + 1, k + 1);
				}
			}
		} else if (strcmp(r->pl_type, "none") != 0 && strcmp(r->pl_type, "partitions-auto") != 0 &&
			   strcmp(r->pl_type, "partitions-list") != 0 &&
			   strcmp(r->pl_type, "subpartitions-auto") != 0) {
			return refuse(l, "parallel-load: unknown type \"%s\"", r->pl_type);
		}
	}
	if (lob != NULL) {
		json_t *size;

		if (!json_is_object(lob))
			return refuse(l, "\"lob-settings\" must be an object");
		if (!get_str(l, lob, "mode", false, &r->lob_mode))
			return false;
		if (r->lob_mode && strcmp(r->lob_mode, "limited") != 0 &&
		    strcmp(r->lob_mode, "unlimited") != 0 && strcmp(r->lob_mode, "none") != 0)
			return refuse(l, "lob-settings: unknown mode \"%s\"", r->lob_mode);
		size = json_object_get(lob, "bulk-max-size");
		if (size != NULL) {
			if (json_is_string(size))
				r->lob_bulk_max_size = strtol(json_string_value(size), NULL, 10);
			else if (json_is_integer(size))
				r->lob_bulk_max_size = (long)json_integer_value(size);
			else
				return refuse(l, "lob-settings: \"bulk-max-size\" must be a number");
		}
		if (r->lob_mode && strcmp(r->lob_mode, "limited") == 0 && r->lob_bulk_max_size <= 0)
			return refuse(l, "lob-settings: mode \"limited\" needs a positive \"bulk-max-size\"");
	}
	return true;
}

/* The transformation rule-actions and the rule-targets DMS allows for each. */
static const struct {
	const char *action;
	const char *targets;	/* space separated */
} actions[] = {
	{ "rename", "schema table column" },
	{ "remove-column", "column" },
	{ "include-column", "column" },
	{ "add-column", "column" },
	{ "convert-lowercase", "schema table column" },
	{ "convert-uppercase", "schema table column" },
	{ "add-prefix", "schema table column" },
	{ "remove-prefix", "schema table column" },
	{ "replace-prefix", "schema table column" },
	{ "add-suffix", "schema table column" },
	{ "remove-suffix", "schema table column" },
	{ "replace-suffix", "schema table column" },
	{ "define-primary-key", "table" },
	{ "change-data-type", "column" },
	{ "data-masking-digits-mask", "column" },
	{ "data-masking-digits-randomize", "column" },
	{ "data-masking-hash-mask", "column" },
	{ "add-before-image-columns", "column" },
};

static const char *const data_types[] = {
	"bytes", "date", "time", "datetime", "int1", "int2", "int4", "int8", "numeric", "real4",
	"real8", "string", "uint1", "uint2", "uint4", "uint8", "wstring", "blob", "nclob", "clob",
	"boolean", "datetimetz", "json", "uuid", "interval",
};

static bool
target_allowed(const char *targets, const char *target)
{
	size_t n = strlen(target);

	for (const char *p = targets; (p = strstr(p, target)) != NULL; p += n)
		if ((p == targets || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static bool
int_field(struct loader *l, json_t *obj, const char *key, int *out)
{
	json_t *v = json_object_get(obj, key);

	*out = -1;
	if (v == NULL)
		return true;
	if (json_is_integer(v))
		*out = (int)json_integer_value(v);
	else if (json_is_string(v) && *json_string_value(v))
		*out = atoi(json_string_value(v));
	else
		return refuse(l, "data-type: \"%s\" must be a number", key);
	return true;
}

/* {"rule-type": "validation", "rule-action": "override-validation-function", ...} */
static bool
parse_validation(struct loader *l, json_t *rule, json_t *loc, struct mapping_rule *r)
{
	if (strcmp(r->action, "override-validation-function") != 0)
		return refuse(l, "validation rule-action \"%s\" is not override-validation-function",
			      r->action);
	if (!get_str(l, rule, "rule-target", true, &r->target))
		return false;
	if (strcmp(r->target, "column") != 0)
		return refuse(l, "a validation rule's rule-target must be \"column\", not \"%s\"", r->target);
	if (!get_str(l, loc, "column-name", true, &r->column) ||
	    !get_str(l, loc, "data-type", false, &r->locator_type) ||
	    !get_str(l, rule, "source-function", false, &r->source_fn) ||
	    !get_str(l, rule, "target-function", false, &r->target_fn))
		return false;
	if (r->source_fn == NULL && r->target_fn == NULL)
		return refuse(l, "override-validation-function needs \"source-function\" or \"target-function\"");
	return true;
}

static bool
parse_transformation(struct loader *l, json_t *rule, json_t *loc, struct mapping_rule *r)
{
	json_t *dt, *pk;
	int a = -1;

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(r->action, actions[i].action) == 0)
			a = (int)i;
	if (a < 0)
		return refuse(l, "unknown transformation rule-action \"%s\"", r->action);
	if (!get_str(l, rule, "rule-target", true, &r->target))
		return false;
	if (!target_allowed(actions[a].targets, r->target))
		return refuse(l, "rule-action \"%s\" does not take rule-target \"%s\" (it takes: %s)",
			      r->action, r->target, actions[a].targets);
	if (!get_str(l, loc, "column-name", strcmp(r->target, "column") == 0 &&
		     strcmp(r->action, "add-column") != 0 &&
		     strcmp(r->action, "add-before-image-columns") != 0, &r->column) ||
	    !get_str(l, loc, "data-type", false, &r->locator_type) ||
	    !get_str(l, rule, "value", false, &r->value) ||
	    !get_str(l, rule, "old-value", false, &r->old_value) ||
	    !get_str(l, rule, "expression", false, &r->expression))
		return false;
	if (r->column == NULL && strcmp(r->target, "column") == 0)
		r->column = xstrdup("%");
	if ((strcmp(r->action, "rename") == 0 || strstr(r->action, "add-") == r->action ||
	     strcmp(r->action, "remove-prefix") == 0 || strcmp(r->action, "remove-suffix") == 0 ||
	     strcmp(r->action, "data-masking-digits-mask") == 0) && r->value == NULL &&
	    strcmp(r->action, "add-column") != 0 && strcmp(r->action, "add-before-image-columns") != 0)
		return refuse(l, "rule-action \"%s\" needs \"value\"", r->action);
	if (strcmp(r->action, "add-column") == 0 && r->value == NULL)
		return refuse(l, "add-column needs \"value\", the new column's name");
	if (strncmp(r->action, "replace-", 8) == 0 && (r->value == NULL || r->old_value == NULL))
		return refuse(l, "rule-action \"%s\" needs \"old-value\" and \"value\"", r->action);
	if (strcmp(r->action, "data-masking-digits-mask") == 0 &&
	    (strlen(r->value) != 1 || r->value[0] <= ' ' || r->value[0] > '~'))
		return refuse(l, "data-masking-digits-mask: \"value\" must be one printable character, not a space");
	if (strcmp(r->action, "define-primary-key") == 0 &&
	    (strpbrk(r->schema, "%_[") || strpbrk(r->table, "%_[")))
		return refuse(l, "define-primary-key needs exact schema and table names, no wildcards");
	dt = json_object_get(rule, "data-type");
	if (dt != NULL) {
		bool known = false;

		if (!json_is_object(dt))
			return refuse(l, "\"data-type\" must be an object");
		if (!get_str(l, dt, "type", true, &r->dt_type))
			return false;
		for (size_t i = 0; i < sizeof(data_types) / sizeof(data_types[0]); i++)
			known |= strcmp(r->dt_type, data_types[i]) == 0;
		if (!known)
			return refuse(l, "data-type: unknown type \"%s\"", r->dt_type);
		if (!int_field(l, dt, "length", &r->dt_length) ||
		    !int_field(l, dt, "precision", &r->dt_precision) ||
		    !int_field(l, dt, "scale", &r->dt_scale))
			return false;
	} else if (strcmp(r->action, "change-data-type") == 0) {
		return refuse(l, "change-data-type needs \"data-type\"");
	} else if (strcmp(r->action, "add-column") == 0) {
		return refuse(l, "add-column needs \"data-type\"");
	}
	if (strcmp(r->action, "add-before-image-columns") == 0) {
		json_t *bi = json_object_get(rule, "before-image-def");

		if (bi != NULL && !json_is_object(bi))
			return refuse(l, "\"before-image-def\" must be an object");
		if (!get_str(l, bi, "column-prefix", false, &r->bi_prefix) ||
		    !get_str(l, bi, "column-suffix", false, &r->bi_suffix) ||
		    !get_str(l, bi, "column-filter", false, &r->bi_filter))
			return false;
		if (r->bi_prefix == NULL)
			r->bi_prefix = xstrdup("BI_");
		if (r->bi_suffix == NULL)
			r->bi_suffix = xstrdup("");
		if (r->bi_filter == NULL)
			r->bi_filter = xstrdup("pk-only");
		if (!*r->bi_prefix && !*r->bi_suffix)
			return refuse(l, "before-image-def: column-prefix and column-suffix cannot both be empty");
		if (strcmp(r->bi_filter, "pk-only") != 0 && strcmp(r->bi_filter, "non-lob") != 0 &&
		    strcmp(r->bi_filter, "all") != 0)
			return refuse(l, "before-image-def: column-filter \"%s\" is not pk-only, non-lob or all",
				      r->bi_filter);
	}
	pk = json_object_get(rule, "primary-key-def");
	if (strcmp(r->action, "define-primary-key") == 0) {
		json_t *cols = json_object_get(pk, "columns");

		if (!json_is_object(pk) || !json_is_array(cols) || json_array_size(cols) == 0)
			return refuse(l, "define-primary-key needs \"primary-key-def\" with \"columns\"");
		if (!get_str(l, pk, "name", false, &r->pk_name) ||
		    !get_str(l, pk, "origin", false, &r->pk_origin))
			return false;
		if (r->pk_origin && strcmp(r->pk_origin, "primary-key") != 0 &&
		    strcmp(r->pk_origin, "unique-index") != 0)
			return refuse(l, "primary-key-def: origin \"%s\" is not primary-key or unique-index",
				      r->pk_origin);
		r->npk_columns = (int)json_array_size(cols);
		r->pk_columns = xcalloc((size_t)r->npk_columns, sizeof(char *));
		for (int i = 0; i < r->npk_columns; i++) {
			if (!json_is_string(json_array_get(cols, (size_t)i)))
				return refuse(l, "primary-key-def: column %d is not a string", i + 1);
			r->pk_columns[i] = xstrdup(json_string_value(json_array_get(cols, (size_t)i)));
		}
	}
	return true;
}

static int
by_rule_id(const void *a, const void *b)
{
	const struct mapping_rule *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static bool
parse_rule(struct loader *l, json_t *rule, struct mapping_rule *r)
{
	char *type = NULL;
	json_t *loc, *filters, *order;
	char *end;

	r->json = json_incref(rule);
	if (!get_str(l, rule, "rule-id", true, &r->id_text))
		return false;
	l->rule = r->id_text;
	errno = 0;
	r->id = strtol(r->id_text, &end, 10);
	if (*r->id_text == '\0' || *end != '\0' || errno != 0)
		return refuse(l, "rule-id must be a number");
	if (!get_str(l, rule, "rule-name", true, &r->name) ||
	    !get_str(l, rule, "rule-type", true, &type))
		return false;
	if (strcmp(type, "selection") == 0)
		r->type = RULE_SELECTION;
	else if (strcmp(type, "transformation") == 0)
		r->type = RULE_TRANSFORMATION;
	else if (strcmp(type, "table-settings") == 0)
		r->type = RULE_TABLE_SETTINGS;
	else if (strcmp(type, "validation") == 0)
		r->type = RULE_VALIDATION;
	else if (strcmp(type, "post-processing") == 0 || strcmp(type, "object-mapping") == 0)
		r->type = RULE_OTHER;
	else {
		refuse(l, "unknown rule-type \"%s\"", type);
		free(type);
		return false;
	}
	free(type);
	if (r->type == RULE_OTHER)
		return true;
	loc = json_object_get(rule, "object-locator");
	if (!json_is_object(loc))
		return refuse(l, "\"object-locator\" is missing or not an object");
	if (!get_str(l, loc, "schema-name", true, &r->schema) ||
	    !get_str(l, loc, "table-name", r->type != RULE_TRANSFORMATION, &r->table) ||
	    !get_str(l, loc, "table-type", false, &r->table_type))
		return false;
	if (r->table == NULL)
		r->table = xstrdup("%");
	if (r->type == RULE_SELECTION) {
		if (!get_str(l, rule, "rule-action", true, &r->action))
			return false;
		if (strcmp(r->action, "include") == 0)
			r->sel = SEL_INCLUDE;
		else if (strcmp(r->action, "exclude") == 0)
			r->sel = SEL_EXCLUDE;
		else if (strcmp(r->action, "explicit") == 0)
			r->sel = SEL_EXPLICIT;
		else
			return refuse(l, "selection rule-action \"%s\" is not include, exclude or explicit",
				      r->action);
		if (r->sel == SEL_EXPLICIT && (strchr(r->schema, '%') || strchr(r->table, '%')))
			return refuse(l, "rule-action \"explicit\" needs exact schema and table names, no wildcards");
		if (r->table_type && strcmp(r->table_type, "table") != 0 &&
		    strcmp(r->table_type, "view") != 0 && strcmp(r->table_type, "all") != 0)
			return refuse(l, "object-locator: table-type \"%s\" is not table, view or all",
				      r->table_type);
		order = json_object_get(rule, "load-order");
		if (order != NULL) {
			if (json_is_integer(order))
				r->load_order = (long)json_integer_value(order);
			else if (json_is_string(order))
				r->load_order = strtol(json_string_value(order), NULL, 10);
			if (r->load_order < 0 || r->load_order > 2147483647L)
				return refuse(l, "load-order must be from 0 to 2147483647");
		}
		filters = json_object_get(rule, "filters");
		if (filters != NULL && !parse_filters(l, filters, r))
			return false;
	} else if (r->type == RULE_TABLE_SETTINGS) {
		if (!parse_table_settings(l, rule, r))
			return false;
	} else {
		if (!get_str(l, rule, "rule-action", true, &r->action))
			return false;
		if (r->type == RULE_TRANSFORMATION && !parse_transformation(l, rule, loc, r))
			return false;
		if (r->type == RULE_VALIDATION && !parse_validation(l, rule, loc, r))
			return false;
	}
	return true;
}

json_t *
json_file_load(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (root != NULL)
		return root;
	if (jerr.line < 0 || strstr(jerr.text, "unable to open"))
		log_error("%s: %s", path, jerr.text);
	else
		log_error("%s: line %d, column %d: invalid JSON: %s", path, jerr.line, jerr.column,
			  jerr.text);
	return NULL;
}

bool
mapping_load(const char *path, struct mapping *m)
{
	struct loader l = { .path = path };
	json_t *rules, *rule;
	size_t i;
	bool selection = false;

	memset(m, 0, sizeof(*m));
	m->root = json_file_load(path);
	if (m->root == NULL)
		return false;
	rules = json_object_get(m->root, "rules");
	if (!json_is_array(rules)) {
		refuse(&l, "expected {\"rules\": [...]}");
		goto fail;
	}
	m->nrules = (int)json_array_size(rules);
	m->rules = xcalloc((size_t)m->nrules, sizeof(*m->rules));
	json_array_foreach(rules, i, rule) {
		l.rule = NULL;
		if (!json_is_object(rule)) {
			refuse(&l, "rule %zu is not an object", i + 1);
			goto fail;
		}
		if (!parse_rule(&l, rule, &m->rules[i]))
			goto fail;
		selection |= m->rules[i].type == RULE_SELECTION;
		for (size_t j = 0; j < i; j++) {
			if (m->rules[j].id == m->rules[i].id) {
				refuse(&l, "duplicate rule-id (also rule %zu)", j + 1);
				goto fail;
			}
			if (strcmp(m->rules[j].name, m->rules[i].name) == 0) {
				refuse(&l, "duplicate rule-name \"%s\"", m->rules[i].name);
				goto fail;
			}
		}
	}
	l.rule = NULL;
	if (!selection) {
		refuse(&l, "at least one selection rule is required");
		goto fail;
	}
	qsort(m->rules, (size_t)m->nrules, sizeof(*m->rules), by_rule_id);
	return true;
fail:
	mapping_free(m);
	return false;
}

void
mapping_free(struct mapping *m)
{
	for (int i = 0; i < m->nrules; i++) {
		struct mapping_rule *r = &m->rules[i];

		for (int f = 0; f < r->nfilters; f++) {
			for (int c = 0; c < r->filters[f].nconds; c++) {
				free(r->filters[f].conds[c].value);
				free(r->filters[f].conds[c].start);
				free(r->filters[f].conds[c].end);
			}
			free(r->filters[f].conds);
			free(r->filters[f].column);
		}
		free(r->filters);
		for (int c = 0; c < r->npl_columns; c++)
			free(r->pl_columns[c]);
		free(r->pl_columns);
		for (int b = 0; b < r->nbounds; b++) {
			for (int c = 0; c < r->npl_columns && r->bounds[b]; c++)
				free(r->bounds[b][c]);
			free(r->bounds[b]);
		}
		free(r->bounds);
		free(r->id_text);
		free(r->name);
		free(r->action);
		free(r->schema);
		free(r->table);
		free(r->table_type);
		free(r->pl_type);
		free(r->lob_mode);
		free(r->target);
		free(r->column);
		free(r->locator_type);
		free(r->value);
		free(r->old_value);
		free(r->expression);
		free(r->source_fn);
		free(r->target_fn);
		free(r->dt_type);
		free(r->pk_name);
		free(r->pk_origin);
		free(r->bi_prefix);
		free(r->bi_suffix);
		free(r->bi_filter);
		for (int k = 0; k < r->npk_columns; k++)
			free(r->pk_columns[k]);
		free(r->pk_columns);
		json_decref(r->json);
	}
	free(m->rules);
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

static bool
rule_matches(const struct mapping_rule *r, const char *schema, const char *table)
{
	if (r->sel == SEL_EXPLICIT)
		return strcmp(r->schema, schema) == 0 && strcmp(r->table, table) == 0;
	return wildcard_match(r->schema, schema) && wildcard_match(r->table, table);
}

bool
mapping_selects(const struct mapping *m, const char *schema, const char *table)
{
	bool in = false;

	if (m == NULL)
		return true;
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type != RULE_SELECTION || !rule_matches(r, schema, table))
			continue;
		if (r->sel == SEL_EXCLUDE)
			return false;
		in = true;
	}
	return in;
}

long
mapping_load_order(const struct mapping *m, const char *schema, const char *table)
{
	long order = 0;

	for (int i = 0; m != NULL && i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_SELECTION && r->sel != SEL_EXCLUDE &&
		    rule_matches(r, schema, table) && r->load_order > order)
			order = r->load_order;
	}
	return order;
}

const struct mapping_rule *
mapping_table_settings(const struct mapping *m, const char *schema, const char *table)
{
	for (int i = 0; m != NULL && i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_TABLE_SETTINGS && wildcard_match(r->schema, schema) &&
		    wildcard_match(r->table, table))
			return r;
	}
	return NULL;
}

/* The one operator table of source filters (dms-mapping(5)). */
static const char *const cmp_sql[] = { [OP_LTE] = "<=", [OP_GTE] = ">=", [OP_EQ] = "=",
				       [OP_NOTEQ] = "<>" };

static void
add_cond(struct strbuf *sb, const char *column, const struct filter_cond *c, operand_fn operand,
	 void *arg)
{
	char *col = operand(arg, column, NULL), *a = NULL, *b = NULL;

	switch (c->op) {
	case OP_LTE:
	case OP_GTE:
	case OP_EQ:
	case OP_NOTEQ:
		a = operand(arg, column, c->value);
		sb_addf(sb, "%s %s %s", col, cmp_sql[c->op], a);
		break;
	case OP_BETWEEN:
		a = operand(arg, column, c->start);
		b = operand(arg, column, c->end);
		sb_addf(sb, "%s BETWEEN %s AND %s", col, a, b);
		break;
	case OP_NOTBETWEEN:
		a = operand(arg, column, c->start);
		b = operand(arg, column, c->end);
		sb_addf(sb, "(%s < %s OR %s > %s)", col, a, col, b);
		break;
	case OP_NULL:
		sb_addf(sb, "%s IS NULL", col);
		break;
	case OP_NOTNULL:
		sb_addf(sb, "%s IS NOT NULL", col);
		break;
	}
	free(col);
	free(a);
	free(b);
}

char *
mapping_filter_expr(const struct mapping *m, const char *schema, const char *table,
		    operand_fn operand, void *arg)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; m != NULL && i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type != RULE_SELECTION || r->sel == SEL_EXCLUDE ||
		    !rule_matches(r, schema, table))
			continue;
		for (int f = 0; f < r->nfilters; f++) {
			sb_adds(&sb, sb.len ? " AND (" : "(");
			for (int c = 0; c < r->filters[f].nconds; c++) {
				if (c > 0)
					sb_adds(&sb, " OR ");
				add_cond(&sb, r->filters[f].column, &r->filters[f].conds[c], operand, arg);
			}
			sb_adds(&sb, ")");
		}
	}
	return sb.buf;
}

/* mapping_filter_sql's callbacks, as one operand function. */
struct quoting {
	quote_fn ident, literal;
	void *arg;
};

static char *
quoted_operand(void *arg, const char *column, const char *value)
{
	const struct quoting *q = arg;

	return value == NULL ? q->ident(q->arg, column) : q->literal(q->arg, value);
}

char *
mapping_filter_sql(const struct mapping *m, const char *schema, const char *table,
		   quote_fn ident, quote_fn literal, void *arg)
{
	struct quoting q = { ident, literal, arg };

	return mapping_filter_expr(m, schema, table, quoted_operand, &q);
}

bool
mapping_changes_snapshot(const struct mapping *m)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_TRANSFORMATION || r->type == RULE_OTHER ||
		    (r->type == RULE_TABLE_SETTINGS && r->lob_mode != NULL))
			return true;
	}
	return false;
}
