/*
 * table.c: struct src_table: freeing, lookups, SQL pieces, and its TABLE
 * record (shared by dms-extract and dms-validate).
 */
#define _GNU_SOURCE	/* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "convert.h"
#include "../records.h"
#include "../dms.h"

void
src_table_free(struct src_table *t)
{
	for (uint32_t i = 0; i < t->d.ncols; i++)
		free(t->read[i].select);
	free(t->read);
	table_release(&t->d);
	for (int i = 0; i < t->nparts; i++) {
		free(t->parts[i].where);
		free(t->parts[i].range);
		free(t->parts[i].bounds);
	}
	free(t->parts);
	free(t->filter);
	memset(t, 0, sizeof(*t));
}

struct dms_column *
src_add_column(struct src_table *t, const char *name, enum dms_type type, enum conv conv, char *select)
{
	uint32_t n = t->d.ncols++;
	struct dms_column *c;

	t->d.cols = xrealloc(t->d.cols, (size_t)t->d.ncols * sizeof(*t->d.cols));
	t->read = xrealloc(t->read, (size_t)t->d.ncols * sizeof(*t->read));
	c = &t->d.cols[n];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	c->type = type;
	c->length = -1;
	c->precision = c->scale = -1;
	t->read[n].conv = conv;
	t->read[n].select = select;
	return c;
}

int
src_column_index(const struct src_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->d.ncols; i++)
		if (strcmp(t->d.cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

char *
src_table_qualified(const struct src_table *t, char *(*quote_ident)(const char *))
{
	char *schema = quote_ident(t->d.schema), *name = quote_ident(t->d.name);
	struct strbuf sb = STRBUF_INIT;

	sb_addf(&sb, "%s.%s", schema, name);
	free(schema);
	free(name);
	return sb.buf;
}

void
src_part_where(struct strbuf *sql, const struct src_table *t, const struct src_part *p)
{
	if (t->filter && p && p->where)
		sb_addf(sql, " WHERE (%s) AND (%s)", t->filter, p->where);
	else if (t->filter)
		sb_addf(sql, " WHERE %s", t->filter);
	else if (p && p->where)
		sb_addf(sql, " WHERE %s", p->where);
}

static int
by_load_order(const void *a, const void *b, void *mapping)
{
	const struct src_name *x = a, *y = b;
	long ox = mapping_load_order(mapping, x->schema, x->name);
	long oy = mapping_load_order(mapping, y->schema, y->name);
	int c;

	if (ox != oy)
		return ox > oy ? -1 : 1;
	c = strcmp(x->schema, y->schema);
	return c ? c : strcmp(x->name, y->name);
}

bool
catalog_select(const struct source_ops *ops, struct source *s, const char *skip_schema,
	       struct src_name **names, int *n)
{
	int kept = 0;

	if (!ops->list(s, names, n))
		return false;
	for (int i = 0; i < *n; i++) {
		if (mapping_selects(s->mapping, (*names)[i].schema, (*names)[i].name) &&
		    (skip_schema == NULL || strcmp((*names)[i].schema, skip_schema) != 0)) {
			(*names)[kept++] = (*names)[i];
		} else {
			free((*names)[i].schema);
			free((*names)[i].name);
		}
	}
	*n = kept;
	qsort_r(*names, (size_t)*n, sizeof(**names), by_load_order, (void *)s->mapping);
	/* an explicit rule names one table: it must exist (of the whole catalog) */
	for (int r = 0; s->mapping && s->only_name == NULL && r < s->mapping->nrules; r++) {
		const struct mapping_rule *rule = &s->mapping->rules[r];
		bool found = false;

		if (rule->type != RULE_SELECTION || rule->sel != SEL_EXPLICIT)
			continue;
		for (int i = 0; i < *n && !found; i++)
			found = strcmp((*names)[i].schema, rule->schema) == 0 &&
				strcmp((*names)[i].name, rule->table) == 0;
		if (!found) {
			log_error("selection rule %s: table %s.%s does not exist on the source (or an exclude rule removes it)",
				  rule->id_text, rule->schema, rule->table);
			return false;
		}
	}
	return true;
}

struct dms_table *
src_table_model(const struct src_table *t)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct dms_table *model;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rec_table(&pk, 0, &t->d);
	model = table_from_record((const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return model;
}

bool
src_table_key_fallback(struct src_table *t)
{
	struct dms_table *d = &t->d;

	if (d->nkey > 0)
		return true;
	for (int i = 0; i < d->nindexes; i++) {
		const struct dms_index *x = &d->indexes[i];
		bool notnull = x->unique;

		for (int c = 0; notnull && c < x->ncols; c++)
			notnull = !d->cols[x->cols[c]].nullable;
		if (notnull) {
			d->key = xcalloc((size_t)x->ncols + 1, sizeof(*d->key));
			for (int c = 0; c < x->ncols; c++)
				d->key[c] = (uint32_t)x->cols[c];
			d->nkey = (uint32_t)x->ncols;
			return true;
		}
	}
	return false;
}

void
src_table_order_columns(struct src_table *t, const int *order, uint32_t n)
{
	int *map = xcalloc((size_t)t->d.ncols + 1, sizeof(int));
	struct dms_column *cols = xcalloc((size_t)n + 1, sizeof(*cols));
	struct src_read *read = xcalloc((size_t)n + 1, sizeof(*read));
	int nx = 0, nf = 0;

	for (uint32_t i = 0; i < t->d.ncols; i++)
		map[i] = -1;
	for (uint32_t k = 0; k < n; k++) {
		map[order[k]] = (int)k;
		cols[k] = t->d.cols[order[k]];
		read[k] = t->read[order[k]];
	}
	for (uint32_t i = 0; i < t->d.ncols; i++) {
		struct dms_column *c = &t->d.cols[i];

		if (map[i] >= 0)
			continue;
		free(c->name);
		free(c->type_name);
		free(c->native);
		free(c->collation);
		free(c->missing);
		free(t->read[i].select);
	}
	free(t->d.cols);
	free(t->read);
	t->d.cols = cols;
	t->read = read;
	t->d.ncols = n;
	/* the key, and each index, goes with any of its columns */
	for (uint32_t k = 0; k < t->d.nkey; k++)
		if (map[t->d.key[k]] < 0) {
			t->d.nkey = 0;
			break;
		} else {
			t->d.key[k] = (uint32_t)map[t->d.key[k]];
		}
	for (int i = 0; i < t->d.nindexes; i++) {
		struct dms_index *x = &t->d.indexes[i];
		bool whole = true;

		for (int k = 0; k < x->ncols; k++)
			if ((x->cols[k] = map[x->cols[k]]) < 0)
				whole = false;
		if (whole)
			t->d.indexes[nx++] = *x;
		else
			dms_index_free(x);
	}
	t->d.nindexes = nx;
	/* a foreign key names its columns */
	for (int i = 0; i < t->d.nfkeys; i++) {
		struct dms_fkey *f = &t->d.fkeys[i];
		bool whole = true;

		for (int k = 0; k < f->ncols; k++)
			if (src_column_index(t, f->cols[k]) < 0)
				whole = false;
		if (whole)
			t->d.fkeys[nf++] = *f;
		else
			dms_fkey_free(f);
	}
	t->d.nfkeys = nf;
	free(map);
}

void
src_table_keep_columns(struct src_table *t, const bool *keep)
{
	int *order = xcalloc((size_t)t->d.ncols + 1, sizeof(int));
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->d.ncols; i++)
		if (keep[i])
			order[n++] = (int)i;
	src_table_order_columns(t, order, n);
	free(order);
}

void
src_missing_value(struct src_table *t, uint32_t col, const char *text)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct mp_cursor c;
	struct mp_item it;
	char *copy;

	if (text == NULL)
		return;
	copy = xstrdup(text);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (convert_value(&pk, t, col, copy, strlen(copy))) {
		mp_cursor_init(&c, (const uint8_t *)sb.data, sb.size);
		if (mp_next(&c, &it) == MP_OK && it.type != MP_ARRAY && it.type != MP_MAP && it.type != MP_NIL) {
			t->d.cols[col].missing = xmalloc(sb.size);
			memcpy(t->d.cols[col].missing, sb.data, sb.size);
			t->d.cols[col].missing_len = sb.size;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	free(copy);
}
