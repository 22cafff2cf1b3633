/*
 * load/table.c: the target's view of a table: from a TABLE record (its
 * columns with the target's types, its indexes and foreign keys from the
 * attrs, its LOB settings) to struct ttable, and back to nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/dms.h"

void
ttable_free(struct ttable *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].native);
		free(t->cols[i].sqltype);
		free(t->cols[i].narrowed);
	}
	free(t->cols);
	for (int i = 0; i < t->nindexes; i++) {
		free(t->indexes[i].name);
		free(t->indexes[i].cols);
	}
	free(t->indexes);
	for (int i = 0; i < t->nfkeys; i++) {
		struct tfkey *f = &t->fkeys[i];

		for (int c = 0; c < f->ncols; c++) {
			free(f->cols[c]);
			free(f->ref_cols[c]);
		}
		free(f->cols);
		free(f->ref_cols);
		free(f->name);
		free(f->ref_schema);
		free(f->ref_table);
		free(f->on_delete);
		free(f->on_update);
	}
	free(t->fkeys);
	free(t->schema);
	free(t->name);
	free(t->qname);
	free(t->collist);
	free(t);
}

/* An array of str in an attrs map entry, as a new char** of *n elements. */
static char **
str_array(struct mp_cursor *c, int *n)
{
	struct mp_item it;
	char **a;

	if (mp_next(c, &it) != MP_OK || it.type != MP_ARRAY)
		return NULL;
	*n = (int)it.v.n;
	a = xcalloc((size_t)*n + 1, sizeof(char *));
	for (int i = 0; i < *n; i++) {
		if (mp_next(c, &it) != MP_OK || it.type != MP_STR)
			return a;
		a[i] = xstrndup((const char *)it.v.s.p, it.v.s.len);
	}
	return a;
}

/* indexes and foreign_keys from the TABLE's attrs. */
static void
parse_table_attrs(struct ttable *t)
{
	const struct dms_table *s = t->src;
	struct mp_cursor c;
	struct mp_item it;

	if (attrs_find(s->attrs, s->attrs_len, "indexes", &c) && mp_next(&c, &it) == MP_OK &&
	    it.type == MP_ARRAY) {
		uint32_t n = it.v.n;

		t->indexes = xcalloc(n + 1, sizeof(*t->indexes));
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *start = c.p;
			struct tindex *x = &t->indexes[t->nindexes];
			struct mp_cursor v;
			bool unique = false;

			if (mp_skip(&c) != MP_OK)
				return;
			x->name = attrs_str(start, (size_t)(c.p - start), "name");
			attrs_bool(start, (size_t)(c.p - start), "unique", &unique);
			x->unique = unique;
			if (attrs_find(start, (size_t)(c.p - start), "columns", &v) &&
			    mp_next(&v, &it) == MP_OK && it.type == MP_ARRAY && x->name) {
				x->ncols = (int)it.v.n;
				x->cols = xcalloc((size_t)x->ncols + 1, sizeof(int));
				for (int k = 0; k < x->ncols; k++) {
					if (mp_next(&v, &it) != MP_OK || it.type != MP_UINT ||
					    it.v.u >= (uint64_t)t->ncols)
						x->ncols = 0;
					else
						x->cols[k] = (int)it.v.u;
				}
				if (x->ncols > 0) {
					t->nindexes++;
					continue;
				}
			}
			free(x->name);
			free(x->cols);
			memset(x, 0, sizeof(*x));
		}
	}
	if (attrs_find(s->attrs, s->attrs_len, "foreign_keys", &c) && mp_next(&c, &it) == MP_OK &&
	    it.type == MP_ARRAY) {
		uint32_t n = it.v.n;

		t->fkeys = xcalloc(n + 1, sizeof(*t->fkeys));
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *start = c.p;
			struct tfkey *f = &t->fkeys[t->nfkeys];
			struct mp_cursor v;
			size_t len;
			int nref = 0;

			if (mp_skip(&c) != MP_OK)
				return;
			len = (size_t)(c.p - start);
			f->name = attrs_str(start, len, "name");
			f->ref_schema = attrs_str(start, len, "ref_schema");
			f->ref_table = attrs_str(start, len, "ref_table");
			f->on_delete = attrs_str(start, len, "on_delete");
			f->on_update = attrs_str(start, len, "on_update");
			if (attrs_find(start, len, "columns", &v))
				f->cols = str_array(&v, &f->ncols);
			if (attrs_find(start, len, "ref_columns", &v))
				f->ref_cols = str_array(&v, &nref);
			if (f->name && f->ref_table && f->cols && f->ref_cols && nref == f->ncols)
				t->nfkeys++;
		}
	}
}

/* Where a source table lands: TargetSchema, else the source schema (PostgreSQL) or the URI's database (MySQL). */
struct ttable *
ttable_new(const struct loader *l, const struct dms_table *s)
{
	struct ttable *t = xcalloc(1, sizeof(*t));
	struct strbuf sb = STRBUF_INIT;
	char *qs, *qn;
	bool first = true;

	t->src = s;
	t->name = xstrdup(s->name);
	if (l->settings->target_schema)
		t->schema = xstrdup(l->settings->target_schema);
	else if (l->engine == ENGINE_MYSQL && l->dbname)
		t->schema = xstrdup(l->dbname);
	else
		t->schema = xstrdup(s->schema);
	t->ncols = (int)s->ncols;
	t->cols = xcalloc((size_t)t->ncols + 1, sizeof(*t->cols));
	for (int i = 0; i < t->ncols; i++) {
		const struct dms_column *sc = &s->cols[i];
		struct tcol *c = &t->cols[i];
		int64_t v;

		c->name = xstrdup(sc->name);
		c->type = sc->type;
		c->nullable = sc->nullable;
		c->native = attrs_str(sc->attrs, sc->attrs_len, "native");
		c->length = attrs_int(sc->attrs, sc->attrs_len, "length", &v) ? v : -1;
		c->precision = attrs_int(sc->attrs, sc->attrs_len, "precision", &v) ? (int)v : -1;
		c->scale = attrs_int(sc->attrs, sc->attrs_len, "scale", &v) ? (int)v : -1;
		attrs_bool(sc->attrs, sc->attrs_len, "unsigned", &c->is_unsigned);
		attrs_bool(sc->attrs, sc->attrs_len, "identity", &c->identity);
		c->skip = !l->settings->support_lobs && dms_type_is_lob(c->type);
	}
	for (uint32_t k = 0; k < s->nkey; k++)
		t->cols[s->key[k]].indexed = true;
	parse_table_attrs(t);
	{
		struct mp_cursor lc;
		struct mp_item li;

		if (attrs_find(s->attrs, s->attrs_len, "lob_settings", &lc)) {
			const uint8_t *ls = lc.p;
			char *mode;

			mp_skip(&lc);
			mode = attrs_str(ls, (size_t)(lc.p - ls), "mode");
			attrs_int(ls, (size_t)(lc.p - ls), "bulk_max_size", &t->lob_kb);
			t->lob_mode = mode && strcmp(mode, "limited") == 0 ? 1
				    : mode && strcmp(mode, "unlimited") == 0 ? 2 : 0;
			free(mode);
			(void)li;
		}
	}
	for (int i = 0; i < t->nindexes; i++)
		for (int k = 0; k < t->indexes[i].ncols; k++)
			t->cols[t->indexes[i].cols[k]].indexed = true;
	for (int i = 0; i < t->ncols; i++) {
		struct tcol *c = &t->cols[i];
		char *q;

		if (c->skip) {
			log_warn("%s.%s column %s (%s): left out, SupportLobs is false", s->schema, s->name,
				 c->name, dms_type_name(c->type));
			continue;
		}
		c->sqltype = l->engine == ENGINE_PG ? pg_column_type(l, c) : my_column_type(l, c);
		q = l->engine == ENGINE_PG ? pg_quote_ident(c->name) : my_quote_ident(c->name);
		sb_addf(&sb, "%s%s", first ? "" : ", ", q);
		first = false;
		free(q);
	}
	t->collist = sb.buf ? sb.buf : xstrdup("");
	if (l->engine == ENGINE_MYSQL)
		my_fit_keys(l, t);
	qs = l->engine == ENGINE_PG ? pg_quote_ident(t->schema) : my_quote_ident(t->schema);
	qn = l->engine == ENGINE_PG ? pg_quote_ident(t->name) : my_quote_ident(t->name);
	{
		struct strbuf q = STRBUF_INIT;

		sb_addf(&q, "%s.%s", qs, qn);
		t->qname = q.buf;
	}
	free(qs);
	free(qn);
	return t;
}
