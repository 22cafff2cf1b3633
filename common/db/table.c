/*
 * table.c: struct src_table: freeing, lookups, SQL pieces, and its TABLE
 * record (shared by dms-extract and dms-validate).
 */
#define _GNU_SOURCE	/* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "../records.h"
#include "../dms.h"

void
src_table_free(struct src_table *t)
{
	for (int i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].native);
		free(t->cols[i].collation);
		free(t->cols[i].select);
	}
	free(t->cols);
	free(t->key);
	for (int i = 0; i < t->nindexes; i++)
		dms_index_free(&t->indexes[i]);
	free(t->indexes);
	for (int i = 0; i < t->nfkeys; i++)
		dms_fkey_free(&t->fkeys[i]);
	free(t->fkeys);
	for (int i = 0; i < t->nparts; i++) {
		free(t->parts[i].where);
		free(t->parts[i].range);
		free(t->parts[i].bounds);
	}
	free(t->parts);
	free(t->filter);
	free(t->schema);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

int
src_column_index(const struct src_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

char *
src_table_qualified(const struct src_table *t, char *(*quote_ident)(const char *))
{
	char *schema = quote_ident(t->schema), *name = quote_ident(t->name);
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

static void
pack_str_array(msgpack_packer *pk, char **a, int n)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++)
		pk_str(pk, a[i]);
}

void
pack_table(msgpack_packer *pk, int tid, const struct src_table *t)
{

	msgpack_pack_array(pk, 7);
	msgpack_pack_int(pk, K_TABLE);
	msgpack_pack_int(pk, tid);
	pk_str(pk, t->schema);
	pk_str(pk, t->name);
	msgpack_pack_array(pk, (size_t)t->ncols);
	for (int i = 0; i < t->ncols; i++) {
		const struct src_column *c = &t->cols[i];
		int nattrs = (c->length >= 0) + (c->precision >= 0) + (c->scale >= 0) + (c->collation != NULL) +
			     (c->native != NULL) + c->is_unsigned + c->identity;

		msgpack_pack_array(pk, 4);
		pk_str(pk, c->name);
		pk_str(pk, dms_type_name(c->type));
		if (c->nullable)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_map(pk, (size_t)nattrs);
		if (c->length >= 0) {
			pk_str(pk, "length");
			msgpack_pack_int64(pk, c->length);
		}
		if (c->precision >= 0) {
			pk_str(pk, "precision");
			msgpack_pack_int(pk, c->precision);
		}
		if (c->scale >= 0) {
			pk_str(pk, "scale");
			msgpack_pack_int(pk, c->scale);
		}
		if (c->native != NULL) {
			pk_str(pk, "native");
			pk_str(pk, c->native);
		}
		if (c->is_unsigned) {
			pk_str(pk, "unsigned");
			msgpack_pack_true(pk);
		}
		if (c->identity) {
			pk_str(pk, "identity");
			msgpack_pack_true(pk);
		}
		if (c->collation != NULL) {
			pk_str(pk, "collation");
			pk_str(pk, c->collation);
		}
	}
	msgpack_pack_array(pk, (size_t)t->nkey);
	for (int i = 0; i < t->nkey; i++)
		msgpack_pack_int(pk, t->key[i]);
	msgpack_pack_map(pk, 3);
	pk_str(pk, "estimated_rows");
	msgpack_pack_int64(pk, t->estimated_rows);
	pk_str(pk, "indexes");
	msgpack_pack_array(pk, (size_t)t->nindexes);
	for (int i = 0; i < t->nindexes; i++)
		rec_index(pk, &t->indexes[i], NULL);
	pk_str(pk, "foreign_keys");
	msgpack_pack_array(pk, (size_t)t->nfkeys);
	for (int i = 0; i < t->nfkeys; i++) {
		const struct dms_fkey *f = &t->fkeys[i];

		msgpack_pack_map(pk, 7);
		pk_str(pk, "name");
		pk_str(pk, f->name);
		pk_str(pk, "columns");
		pack_str_array(pk, f->cols, f->ncols);
		pk_str(pk, "ref_schema");
		pk_str(pk, f->ref_schema);
		pk_str(pk, "ref_table");
		pk_str(pk, f->ref_table);
		pk_str(pk, "ref_columns");
		pack_str_array(pk, f->ref_cols, f->ncols);
		pk_str(pk, "on_delete");
		pk_str(pk, f->on_delete);
		pk_str(pk, "on_update");
		pk_str(pk, f->on_update);
	}
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
	/* an explicit rule names one table: it must exist */
	for (int r = 0; s->mapping && r < s->mapping->nrules; r++) {
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
	pack_table(&pk, 0, t);
	model = table_from_record((const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return model;
}

int
src_table_row_key(const struct src_table *t, const int **cols)
{
	if (t->nkey > 0) {
		*cols = t->key;
		return t->nkey;
	}
	for (int i = 0; i < t->nindexes; i++) {
		bool notnull = t->indexes[i].unique;

		for (int c = 0; notnull && c < t->indexes[i].ncols; c++)
			notnull = !t->cols[t->indexes[i].cols[c]].nullable;
		if (notnull) {
			*cols = t->indexes[i].cols;
			return t->indexes[i].ncols;
		}
	}
	*cols = NULL;
	return 0;
}
