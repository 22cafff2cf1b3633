/*
 * common/map/plan.c: a plan per TABLE record: output columns, key, source filter, the rewritten TABLE (see engine.h).
 */
#include "engine.h"

/* ---- plans ---- */

void
pack_attrs_dt(struct strbuf *sb, const struct mapping_rule *rule, int min_length)
{
	msgpack_sbuffer s;
	msgpack_packer pk;
	int n = 0;
	int length = rule ? rule->dt_length : -1;

	if (min_length > 0 && length < min_length)
		length = min_length;
	n = (length >= 0) + (rule && rule->dt_precision >= 0) + (rule && rule->dt_scale >= 0);
	msgpack_sbuffer_init(&s);
	msgpack_packer_init(&pk, &s, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (size_t)n);
	if (length >= 0) {
		pk_str(&pk, "length");
		msgpack_pack_int(&pk, length);
	}
	if (rule && rule->dt_precision >= 0) {
		pk_str(&pk, "precision");
		msgpack_pack_int(&pk, rule->dt_precision);
	}
	if (rule && rule->dt_scale >= 0) {
		pk_str(&pk, "scale");
		msgpack_pack_int(&pk, rule->dt_scale);
	}
	sb_add(sb, s.data, s.size);
	msgpack_sbuffer_destroy(&s);
}

int
out_index(const struct plan *p, const char *name)
{
	for (int i = 0; i < p->nout; i++)
		if (strcmp(p->out[i].name, name) == 0)
			return i;
	return -1;
}

int
in_index(const struct dms_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
is_numeric_type(enum dms_type t)
{
	return (t >= DT_INT1 && t <= DT_REAL8) || t == DT_NUMERIC;
}



enum cmp
filter_cmp(const struct dms_column *c)
{
	const char *collation;
	enum cmp k = CMP_TEXT;

	if (is_numeric_type(c->type))
		return CMP_NUMBER;
	if (c->type == DT_DATE || c->type == DT_DATETIME || c->type == DT_DATETIMETZ)
		return CMP_INSTANT;
	collation = c->collation;
	if (collation != NULL && strlen(collation) > 3 && strcmp(collation + strlen(collation) - 3, "_ci") == 0)
		k = CMP_NOCASE;
	return k;
}

/* A value of the filter, or the column's (?N), as the comparison reads it. */
void
sql_operand(struct strbuf *sb, const char *v, int col, enum cmp k)
{
	static const char *const open[] = { "", "CAST(", "dms_instant(", "" };
	static const char *const close[] = { "", " AS NUMERIC)", ")", " COLLATE NOCASE" };

	sb_adds(sb, open[k]);
	if (v == NULL) {
		sb_addf(sb, "?%d", col + 1);
	} else {
		sb_adds(sb, "'");
		for (const char *p = v; *p; p++)
			sb_adds(sb, *p == '\'' ? "''" : (char[]){ *p, 0 });
		sb_adds(sb, "'");
	}
	sb_adds(sb, close[k]);
}

/* mapping_filter_expr's operands over the input table's columns. */
struct filter_ctx {
	const struct dms_table *t;
	const char *missing;	/* a filter column the table lacks */
};

char *
filter_operand(void *arg, const char *column, const char *value)
{
	struct filter_ctx *f = arg;
	struct strbuf sb = STRBUF_INIT;
	int col = in_index(f->t, column);

	if (col < 0) {
		f->missing = column;
		return xstrdup("NULL");
	}
	sql_operand(&sb, value, col, filter_cmp(&f->t->cols[col]));
	return sb.buf;
}

/* The source filters of the selection rules as one SQLite expression over ?N (column N-1). */
int
build_filter(struct rules *r, struct plan *p)
{
	struct filter_ctx f = { .t = p->in };
	char *expr = mapping_filter_expr(r->m, p->in->schema, p->in->name, filter_operand, &f);
	struct strbuf sql = STRBUF_INIT;
	int status = EXIT_OK;

	if (f.missing != NULL) {
		log_error("source filter column \"%s\" is not a column of %s.%s", f.missing, p->in->schema,
			  p->in->name);
		status = EXIT_USAGE;
	} else if (expr != NULL) {
		sb_addf(&sql, "SELECT %s", expr);
		if (!map_prepare(r, sql.buf, &p->filter.st, "source filter"))
			status = EXIT_USAGE;
		else
			stmt_resolve(&p->filter, p->in);
	}
	free(expr);
	sb_release(&sql);
	return status;
}

const struct mapping_rule *
lob_rule(const struct mapping *m, const struct dms_table *t)
{
	const struct mapping_rule *r = mapping_table_settings(m, t->schema, t->name);

	return r != NULL && r->lob_mode != NULL ? r : NULL;
}

/* The unique index of a define-primary-key rule with origin unique-index. */
void
pack_unique_index(msgpack_packer *pk, const struct plan *p)
{
	msgpack_pack_map(pk, 3);
	pk_str(pk, "name");
	pk_str(pk, p->unique_rule->pk_name ? p->unique_rule->pk_name : "dms_unique");
	pk_str(pk, "columns");
	msgpack_pack_array(pk, (size_t)p->nunique);
	for (int q = 0; q < p->nunique; q++)
		msgpack_pack_int(pk, p->unique[q]);
	pk_str(pk, "unique");
	msgpack_pack_true(pk);
}

/* An index whose columns all stay, at their new positions; false when one goes. */
bool
pack_index(msgpack_packer *pk, const struct dms_index *x, const int *map, bool dry_run)
{
	for (int k = 0; k < x->ncols; k++)
		if (map[x->cols[k]] < 0)
			return false;
	if (!dry_run)
		rec_index(pk, x, map);
	return true;
}

/* Column names of a foreign key as the rules rename them (in schema.table). */
void
pack_fkey_columns(struct rules *r, msgpack_packer *pk, char *const *cols, int n, const char *schema,
		  const char *table)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int q = 0; q < n; q++) {
		const struct mapping_rule *cr = name_rule(r->m, "column", schema, table, cols[q], "");
		char *renamed = cr && map_renames(cr) ? rename_with(cr, cols[q]) : xstrdup(cols[q]);

		pk_str(pk, renamed);
		free(renamed);
	}
}

/* A foreign key whose names (its table's, the referenced table's) follow the rules. */
void
pack_fkey(struct rules *r, msgpack_packer *pk, const struct dms_table *t, const struct dms_fkey *f)
{
	const char *ref_schema = f->ref_schema ? f->ref_schema : t->schema;
	char *schema = new_schema(r->m, ref_schema), *table = new_table(r->m, ref_schema, f->ref_table);

	msgpack_pack_map(pk, (size_t)(4 + (f->ref_schema != NULL) + (f->on_delete != NULL) +
				      (f->on_update != NULL)));
	pk_str(pk, "name");
	pk_str(pk, f->name);
	pk_str(pk, "columns");
	pack_fkey_columns(r, pk, f->cols, f->ncols, t->schema, t->name);
	if (f->ref_schema != NULL) {
		pk_str(pk, "ref_schema");
		pk_str(pk, schema);
	}
	pk_str(pk, "ref_table");
	pk_str(pk, table);
	pk_str(pk, "ref_columns");
	pack_fkey_columns(r, pk, f->ref_cols, f->nref, ref_schema, f->ref_table);
	if (f->on_delete != NULL) {
		pk_str(pk, "on_delete");
		pk_str(pk, f->on_delete);
	}
	if (f->on_update != NULL) {
		pk_str(pk, "on_update");
		pk_str(pk, f->on_update);
	}
	free(schema);
	free(table);
}

/*
 * Rebuilds the table attrs from the decoded table: index column positions
 * and foreign key names follow the plan; other attributes pass as they are.
 */
void
pack_table_attrs(struct rules *r, struct plan *p, const int *map)
{
	const struct dms_table *t = p->in;
	const struct mapping_rule *lob = lob_rule(r->m, t);
	bool has_indexes = attrs_find(t->attrs, t->attrs_len, "indexes", &(struct mp_cursor){ 0 });
	struct mp_cursor c;
	struct mp_item it;
	msgpack_sbuffer s;
	msgpack_packer pk;

	msgpack_sbuffer_init(&s);
	msgpack_packer_init(&pk, &s, msgpack_sbuffer_write);
	mp_cursor_init(&c, t->attrs, t->attrs_len);
	mp_next(&c, &it);
	msgpack_pack_map(&pk, it.v.n + (lob != NULL) + (p->unique_rule != NULL && !has_indexes));
	if (p->unique_rule != NULL && !has_indexes) {
		pk_str(&pk, "indexes");
		msgpack_pack_array(&pk, 1);
		pack_unique_index(&pk, p);
	}
	if (lob != NULL) {
		/* table-settings lob-settings, for dms-load */
		pk_str(&pk, "lob_settings");
		msgpack_pack_map(&pk, 2);
		pk_str(&pk, "mode");
		pk_str(&pk, lob->lob_mode);
		pk_str(&pk, "bulk_max_size");
		msgpack_pack_int64(&pk, lob->lob_bulk_max_size);
	}
	for (uint32_t i = 0; i < it.v.n; i++) {
		const uint8_t *vstart;
		struct mp_item k;

		mp_next(&c, &k);
		vstart = c.p;
		mp_skip(&c);
		msgpack_pack_str(&pk, k.v.s.len);
		msgpack_pack_str_body(&pk, k.v.s.p, k.v.s.len);
		if (mp_str_eq(&k, "indexes")) {
			size_t nkept = 0;

			for (int x = 0; x < t->nindexes; x++)
				nkept += pack_index(&pk, &t->indexes[x], map, true);
			msgpack_pack_array(&pk, nkept + (p->unique_rule != NULL));
			for (int x = 0; x < t->nindexes; x++)
				pack_index(&pk, &t->indexes[x], map, false);
			if (p->unique_rule != NULL)
				pack_unique_index(&pk, p);
		} else if (mp_str_eq(&k, "foreign_keys")) {
			msgpack_pack_array(&pk, (size_t)t->nfkeys);
			for (int x = 0; x < t->nfkeys; x++)
				pack_fkey(r, &pk, t, &t->fkeys[x]);
		} else {
			msgpack_pack_str_body(&pk, vstart, (size_t)(c.p - vstart));
		}
	}
	sb_add(&p->tattrs, s.data, s.size);
	msgpack_sbuffer_destroy(&s);
}

bool
column_touched(const struct mapping *m, const struct dms_table *t)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_TRANSFORMATION && locator_matches(r, t->schema, t->name) &&
		    (strcmp(r->target, "schema") == 0 || strcmp(r->target, "table") == 0))
			return true;
		if (r->type != RULE_TRANSFORMATION || !locator_matches(r, t->schema, t->name))
			continue;
		if (strcmp(r->action, "add-column") == 0 || strcmp(r->action, "include-column") == 0 ||
		    strcmp(r->action, "define-primary-key") == 0)
			return true;
		for (uint32_t c = 0; c < t->ncols; c++)
			if (wildcard_match(r->column, t->cols[c].name) &&
			    (r->locator_type == NULL || strcmp(r->locator_type, t->cols[c].type_name) == 0))
				return true;
	}
	return false;
}

bool
has_filters(const struct mapping *m, const struct dms_table *t)
{
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_SELECTION && r->sel != SEL_EXCLUDE && r->nfilters > 0 &&
		    locator_matches(r, t->schema, t->name))
			return true;
	}
	return false;
}

/* add-column rules: columns computed by an expression (or NULL). EXIT_USAGE when one cannot be. */
static int
plan_added_columns(struct rules *r, struct plan *p)
{
	const struct mapping *m = r->m;
	const struct dms_table *t = p->in;

	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];
		struct ocol *o;

		if (rule->type != RULE_TRANSFORMATION || strcmp(rule->action, "add-column") != 0 ||
		    !locator_matches(rule, t->schema, t->name))
			continue;
		for (int k = 0; k < p->nout; k++)
			if (strcasecmp(p->out[k].name, rule->value) == 0) {
				log_error("rule %s: add-column \"%s\": %s.%s has a column of that name already",
					  rule->id_text, rule->value, t->schema, t->name);
				return EXIT_USAGE;
			}
		o = &p->out[p->nout++];
		o->name = xstrdup(rule->value);
		o->type = xstrdup(rule->dt_type);
		o->dtype = dms_type_from_name(o->type, strlen(o->type));
		o->nullable = true;
		o->src = -1;
		o->kind = OC_NULL;
		pack_attrs_dt(&o->attrs, rule, 0);
		if (rule->expression) {
			struct strbuf sql = STRBUF_INIT;
			char what[128];

			sb_addf(&sql, "SELECT %s", rule->expression);
			snprintf(what, sizeof(what), "rule %s: expression", rule->id_text);
			if (!map_prepare(r, sql.buf, &o->expr.st, what)) {
				sb_release(&sql);
				return EXIT_USAGE;
			}
			p->op_indicator |= strstr(rule->expression, "operation_indicator") != NULL;
			sb_release(&sql);
			o->kind = OC_EXPR;
			/* every $name must be a column or a header variable */
			stmt_resolve(&o->expr, t);
			for (int q = 1; q <= o->expr.nparams; q++) {
				const char *pn = sqlite3_bind_parameter_name(o->expr.st, q);

				if (pn && pn[0] == '$' && strncmp(pn, "$AR_", 4) != 0 && in_index(t, pn + 1) < 0) {
					log_error("rule %s: expression uses %s, which is not a column of %s.%s",
						  rule->id_text, pn, t->schema, t->name);
					return EXIT_USAGE;
				}
			}
		}
	}
	return EXIT_OK;
}

/* add-before-image-columns rules: the old value of the chosen columns, for updates. */
static void
plan_before_image(const struct mapping *m, struct plan *p, const int *map)
{
	const struct dms_table *t = p->in;

	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];

		if (rule->type != RULE_TRANSFORMATION || strcmp(rule->action, "add-before-image-columns") != 0 ||
		    !locator_matches(rule, t->schema, t->name))
			continue;
		for (uint32_t c = 0; c < t->ncols; c++) {
			const struct dms_column *ic = &t->cols[c];
			bool key = false;
			struct ocol *o;
			struct strbuf name = STRBUF_INIT;

			for (uint32_t k = 0; k < t->nkey; k++)
				key |= t->key[k] == c;
			if (map[c] < 0 || (strcmp(rule->bi_filter, "pk-only") == 0 && !key) ||
			    (strcmp(rule->bi_filter, "non-lob") == 0 && dms_type_is_lob(ic->type)))
				continue;
			sb_addf(&name, "%s%s%s", rule->bi_prefix, p->out[map[c]].name, rule->bi_suffix);
			o = &p->out[p->nout++];
			o->name = name.buf;
			o->type = xstrdup(p->out[map[c]].type);
			o->dtype = p->out[map[c]].dtype;
			o->nullable = true;
			o->kind = OC_BEFORE;
			o->src = (int)c;
			sb_add(&o->attrs, p->out[map[c]].attrs.buf, p->out[map[c]].attrs.len);
		}
	}
}

/*
 * The plan of TABLE t: dropped (no selection rule takes it), passed through
 * (no rule touches it), or its output columns, key, filter and attrs.
 */
int
make_plan(struct rules *r, const struct dms_table *t, struct plan **out)
{
	const struct mapping *m = r->m;
	struct plan *p = xcalloc(1, sizeof(*p));
	int *map = xcalloc(t->ncols + 1, sizeof(int));
	bool include_mode = false;
	const struct mapping_rule *pk_rule = NULL;
	int status = EXIT_OK;

	*out = p;
	p->in = t;
	if (!mapping_selects(m, t->schema, t->name)) {
		p->drop = true;
		goto done;
	}
	if (!column_touched(m, t) && !has_filters(m, t) && lob_rule(m, t) == NULL) {
		p->pass = true;
		goto done;
	}
	p->schema = new_schema(m, t->schema);
	p->name = new_table(m, t->schema, t->name);
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *rule = &m->rules[i];

		if (rule->type != RULE_TRANSFORMATION || !locator_matches(rule, t->schema, t->name))
			continue;
		if (strcmp(rule->action, "include-column") == 0)
			include_mode = true;
		if (strcmp(rule->action, "define-primary-key") == 0 && pk_rule == NULL &&
		    strcmp(rule->schema, t->schema) == 0 && strcmp(rule->table, t->name) == 0)
			pk_rule = rule;
	}
	p->out = xcalloc(2 * t->ncols + (size_t)m->nrules + 1, sizeof(*p->out));
	for (uint32_t c = 0; c < t->ncols; c++) {
		const struct dms_column *ic = &t->cols[c];
		const struct mapping_rule *nr = name_rule(m, "column", t->schema, t->name, ic->name,
							  ic->type_name);
		const struct mapping_rule *dt = NULL, *mask = NULL;
		struct ocol *o;
		bool included = !include_mode;

		map[c] = -1;
		for (int i = 0; i < m->nrules; i++) {
			const struct mapping_rule *rule = &m->rules[i];

			if (rule->type != RULE_TRANSFORMATION || strcmp(rule->target, "column") != 0 ||
			    !locator_matches(rule, t->schema, t->name) || rule->column == NULL ||
			    !wildcard_match(rule->column, ic->name) ||
			    (rule->locator_type && strcmp(rule->locator_type, ic->type_name) != 0))
				continue;
			if (strcmp(rule->action, "include-column") == 0)
				included = true;
			else if (strcmp(rule->action, "change-data-type") == 0 && dt == NULL)
				dt = rule;
			else if (strncmp(rule->action, "data-masking-", 13) == 0 && mask == NULL)
				mask = rule;
		}
		if (!included || (nr && strcmp(nr->action, "remove-column") == 0))
			continue;
		map[c] = p->nout;
		o = &p->out[p->nout++];
		o->kind = OC_COPY;
		o->src = (int)c;
		o->name = nr ? rename_with(nr, ic->name) : xstrdup(ic->name);
		o->nullable = ic->nullable;
		if (dt != NULL) {
			o->type = xstrdup(dt->dt_type);
			o->convert = strcmp(dt->dt_type, ic->type_name) != 0;
			pack_attrs_dt(&o->attrs, dt, 0);
		} else {
			o->type = xstrdup(ic->type_name);
		}
		o->dtype = dms_type_from_name(o->type, strlen(o->type));
		if (mask != NULL) {
			o->mask = strcmp(mask->action, "data-masking-digits-mask") == 0 ? MASK_DIGITS
				: strcmp(mask->action, "data-masking-digits-randomize") == 0 ? MASK_RANDOM : MASK_HASH;
			o->mask_char = mask->value ? mask->value[0] : '*';
			if ((o->mask == MASK_DIGITS || o->mask == MASK_HASH) && !dms_type_is_text(o->dtype)) {
				log_error("rule %s: %s works on strings; %s.%s column %s is %s", mask->id_text,
					  mask->action, t->schema, t->name, ic->name, o->type);
				status = EXIT_USAGE;
				goto done;
			}
			if (o->mask == MASK_HASH && dt == NULL)
				pack_attrs_dt(&o->attrs, NULL, ic->length >= 0 && ic->length < 64 ? 64 : (int)ic->length);
		}
		if (o->attrs.len == 0)
			sb_add(&o->attrs, ic->attrs, ic->attrs_len);
	}
	if ((status = plan_added_columns(r, p)) != EXIT_OK)
		goto done;
	plan_before_image(m, p, map);
	/* names must stay distinct */
	for (int a = 0; a < p->nout; a++)
		for (int b = a + 1; b < p->nout; b++)
			if (strcmp(p->out[a].name, p->out[b].name) == 0) {
				log_error("the mapping gives %s.%s two columns named \"%s\"", t->schema, t->name,
					  p->out[a].name);
				status = EXIT_USAGE;
				goto done;
			}
	/* the key; with origin unique-index a unique index instead */
	if (pk_rule != NULL) {
		bool unique = pk_rule->pk_origin && strcmp(pk_rule->pk_origin, "unique-index") == 0;
		int *cols = xcalloc((size_t)pk_rule->npk_columns + 1, sizeof(int));

		for (int k = 0; k < pk_rule->npk_columns; k++) {
			int idx = out_index(p, pk_rule->pk_columns[k]);

			if (idx < 0 && in_index(t, pk_rule->pk_columns[k]) >= 0)
				idx = map[in_index(t, pk_rule->pk_columns[k])];
			if (idx < 0) {
				log_error("rule %s: define-primary-key: %s.%s has no column \"%s\"",
					  pk_rule->id_text, t->schema, t->name, pk_rule->pk_columns[k]);
				free(cols);
				status = EXIT_USAGE;
				goto done;
			}
			cols[k] = idx;
			if (!unique)
				p->out[idx].nullable = false;
		}
		if (unique) {
			p->unique_rule = pk_rule;
			p->unique = cols;
			p->nunique = pk_rule->npk_columns;
			pk_rule = NULL;
		} else {
			p->key = cols;
			p->nkey = pk_rule->npk_columns;
		}
	}
	if (pk_rule == NULL) {
		/* no key rule (or a unique index): the source's key */
		p->key = xcalloc(t->nkey + 1, sizeof(int));
		for (uint32_t k = 0; k < t->nkey; k++) {
			if (map[t->key[k]] < 0) {
				log_warn("%s.%s: key column %s is removed by the mapping; the table has no key",
					 t->schema, t->name, t->cols[t->key[k]].name);
				p->nkey = 0;
				break;
			}
			p->key[p->nkey++] = map[t->key[k]];
		}
	}
	pack_table_attrs(r, p, map);
	status = build_filter(r, p);
done:
	free(map);
	return status;
}

int
rules_shape(struct rules *r, const struct dms_table *t, struct rules_shape *s)
{
	struct plan *p = NULL;
	int status = make_plan(r, t, &p);

	memset(s, 0, sizeof(*s));
	if (status != EXIT_OK || p->drop) {
		s->drop = p->drop;
		plan_free(p);
		return status;
	}
	s->schema = xstrdup(p->pass ? t->schema : p->schema);
	s->name = xstrdup(p->pass ? t->name : p->name);
	s->ncols = p->pass ? (int)t->ncols : p->nout;
	s->cols = xcalloc((size_t)s->ncols + 1, sizeof(*s->cols));
	s->nkey = p->pass ? (int)t->nkey : p->nkey;
	s->key = xcalloc((size_t)s->nkey + 1, sizeof(int));
	for (int i = 0; i < s->ncols; i++) {
		struct shape_column *c = &s->cols[i];

		if (p->pass) {
			c->name = xstrdup(t->cols[i].name);
			c->src = i;
			continue;
		}
		c->name = xstrdup(p->out[i].name);
		c->src = p->out[i].src;
		if (p->out[i].kind == OC_EXPR || p->out[i].kind == OC_NULL)
			c->why = "added by an add-column rule";
		else if (p->out[i].kind == OC_BEFORE)
			c->why = "a before-image column";
		else if (p->out[i].convert)
			c->why = "converted by a change-data-type rule";
		else if (p->out[i].mask != MASK_NONE)
			c->why = "masked by a data-masking rule";
		if (c->why != NULL)
			c->src = -1;
	}
	for (int k = 0; k < s->nkey; k++)
		s->key[k] = p->pass ? (int)t->key[k] : p->key[k];
	plan_free(p);
	return EXIT_OK;
}

void
rules_shape_free(struct rules_shape *s)
{
	for (int i = 0; i < s->ncols; i++)
		free(s->cols[i].name);
	free(s->cols);
	free(s->key);
	free(s->schema);
	free(s->name);
	memset(s, 0, sizeof(*s));
}
