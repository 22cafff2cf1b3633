/*
 * common/map/names.c: which rule names what: renames, and the new schema, table and column names (see engine.h).
 */
#include "engine.h"

/* ---- names ---- */

bool
locator_matches(const struct mapping_rule *r, const char *schema, const char *table)
{
	return wildcard_match(r->schema, schema) && wildcard_match(r->table, table);
}

char *
rename_with(const struct mapping_rule *r, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = strlen(name), v = r->value ? strlen(r->value) : 0;
	size_t o = r->old_value ? strlen(r->old_value) : 0;
	const char *a = r->action;

	if (strcmp(a, "rename") == 0)
		sb_adds(&sb, r->value);
	else if (strcmp(a, "convert-lowercase") == 0 || strcmp(a, "convert-uppercase") == 0) {
		sb_adds(&sb, name);
		for (size_t i = 0; i < sb.len; i++)
			sb.buf[i] = (char)(a[8] == 'l' ? tolower((unsigned char)sb.buf[i])
						      : toupper((unsigned char)sb.buf[i]));
	} else if (strcmp(a, "add-prefix") == 0)
		sb_addf(&sb, "%s%s", r->value, name);
	else if (strcmp(a, "add-suffix") == 0)
		sb_addf(&sb, "%s%s", name, r->value);
	else if (strcmp(a, "remove-prefix") == 0)
		sb_adds(&sb, n >= v && strncmp(name, r->value, v) == 0 ? name + v : name);
	else if (strcmp(a, "remove-suffix") == 0) {
		if (n >= v && strcmp(name + n - v, r->value) == 0)
			sb_addf(&sb, "%.*s", (int)(n - v), name);
		else
			sb_adds(&sb, name);
	} else if (strcmp(a, "replace-prefix") == 0) {
		if (n >= o && strncmp(name, r->old_value, o) == 0)
			sb_addf(&sb, "%s%s", r->value, name + o);
		else
			sb_adds(&sb, name);
	} else if (strcmp(a, "replace-suffix") == 0) {
		if (n >= o && strcmp(name + n - o, r->old_value) == 0)
			sb_addf(&sb, "%.*s%s", (int)(n - o), name, r->value);
		else
			sb_adds(&sb, name);
	} else
		return NULL;
	return sb.buf ? sb.buf : xstrdup("");
}

bool
map_renames(const struct mapping_rule *r)
{
	static const char *const actions[] = {
		"rename", "convert-lowercase", "convert-uppercase", "add-prefix", "add-suffix",
		"remove-prefix", "remove-suffix", "replace-prefix", "replace-suffix",
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(r->action, actions[i]) == 0)
			return true;
	return false;
}

/* The first (lowest rule-id) name rule of a rule-target that matches. */
const struct mapping_rule *
name_rule(const struct mapping *m, const char *target, const char *schema, const char *table,
	  const char *column, const char *type)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type != RULE_TRANSFORMATION || strcmp(r->target, target) != 0)
			continue;
		if (!wildcard_match(r->schema, schema))
			continue;
		if (strcmp(target, "schema") != 0 && !wildcard_match(r->table, table))
			continue;
		if (column != NULL && (r->column == NULL || !wildcard_match(r->column, column)))
			continue;
		if (column != NULL && r->locator_type != NULL && strcmp(r->locator_type, type) != 0)
			continue;
		if (strcmp(target, "column") == 0 && !map_renames(r) && strcmp(r->action, "remove-column") != 0)
			continue;
		if (strcmp(target, "column") != 0 && !map_renames(r))
			continue;
		return r;
	}
	return NULL;
}

char *
new_schema(const struct mapping *m, const char *schema)
{
	const struct mapping_rule *r = name_rule(m, "schema", schema, "", NULL, NULL);

	return r ? rename_with(r, schema) : xstrdup(schema);
}

char *
new_table(const struct mapping *m, const char *schema, const char *table)
{
	const struct mapping_rule *r = name_rule(m, "table", schema, table, NULL, NULL);

	return r ? rename_with(r, table) : xstrdup(table);
}
