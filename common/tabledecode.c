/*
 * tabledecode.c: a TABLE record's attrs decoded once, when the stream
 * checker installs the table, into the fields of struct dms_table and
 * struct dms_column (see stream.h): every reader uses those, none decodes
 * the attrs again. The checker has held each attribute to its shape; an
 * index or foreign key that is incomplete or names a column the table lacks
 * is left out.
 */
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "util.h"
#include "dms.h"

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

void
dms_index_free(struct dms_index *x)
{
	free(x->name);
	free(x->cols);
	memset(x, 0, sizeof(*x));
}

static void
decode_indexes(struct dms_table *t)
{
	struct mp_cursor c;
	struct mp_item it;

	if (!attrs_find(t->attrs, t->attrs_len, "indexes", &c) || mp_next(&c, &it) != MP_OK ||
	    it.type != MP_ARRAY)
		return;
	t->indexes = xcalloc((size_t)it.v.n + 1, sizeof(*t->indexes));
	for (uint32_t i = 0, n = it.v.n; i < n; i++) {
		const uint8_t *start = c.p;
		struct dms_index *x = &t->indexes[t->nindexes];
		struct mp_cursor v;
		size_t len;

		if (mp_skip(&c) != MP_OK)
			return;
		len = (size_t)(c.p - start);
		x->name = attrs_str(start, len, "name");
		attrs_bool(start, len, "unique", &x->unique);
		if (x->name != NULL && attrs_find(start, len, "columns", &v) && mp_next(&v, &it) == MP_OK &&
		    it.type == MP_ARRAY && it.v.n > 0) {
			x->ncols = (int)it.v.n;
			x->cols = xcalloc((size_t)x->ncols + 1, sizeof(int));
			for (int k = 0; k < x->ncols; k++) {
				if (mp_next(&v, &it) != MP_OK || it.type != MP_UINT || it.v.u >= t->ncols)
					x->ncols = 0;
				else
					x->cols[k] = (int)it.v.u;
			}
			if (x->ncols > 0) {
				t->nindexes++;
				continue;
			}
		}
		dms_index_free(x);
	}
}

void
dms_fkey_free(struct dms_fkey *f)
{
	for (int c = 0; f->cols && c < f->ncols; c++)
		free(f->cols[c]);
	for (int c = 0; f->ref_cols && c < f->nref; c++)
		free(f->ref_cols[c]);
	free(f->cols);
	free(f->ref_cols);
	free(f->name);
	free(f->ref_schema);
	free(f->ref_table);
	free(f->on_delete);
	free(f->on_update);
	memset(f, 0, sizeof(*f));
}

static void
decode_fkeys(struct dms_table *t)
{
	struct mp_cursor c;
	struct mp_item it;

	if (!attrs_find(t->attrs, t->attrs_len, "foreign_keys", &c) || mp_next(&c, &it) != MP_OK ||
	    it.type != MP_ARRAY)
		return;
	t->fkeys = xcalloc((size_t)it.v.n + 1, sizeof(*t->fkeys));
	for (uint32_t i = 0, n = it.v.n; i < n; i++) {
		const uint8_t *start = c.p;
		struct dms_fkey *f = &t->fkeys[t->nfkeys];
		struct mp_cursor v;
		size_t len;

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
			f->ref_cols = str_array(&v, &f->nref);
		if (f->name && f->ref_table && f->cols && f->ref_cols && f->nref == f->ncols)
			t->nfkeys++;
		else
			dms_fkey_free(f);
	}
}

void
table_decode(struct dms_table *t)
{
	struct mp_cursor c;

	for (uint32_t i = 0; i < t->ncols; i++) {
		struct dms_column *col = &t->cols[i];
		int64_t v;

		col->native = attrs_str(col->attrs, col->attrs_len, "native");
		col->collation = attrs_str(col->attrs, col->attrs_len, "collation");
		col->length = attrs_int(col->attrs, col->attrs_len, "length", &v) ? v : -1;
		col->precision = attrs_int(col->attrs, col->attrs_len, "precision", &v) ? (int)v : -1;
		col->scale = attrs_int(col->attrs, col->attrs_len, "scale", &v) ? (int)v : -1;
		attrs_bool(col->attrs, col->attrs_len, "unsigned", &col->is_unsigned);
		attrs_bool(col->attrs, col->attrs_len, "identity", &col->identity);
		if (attrs_find(col->attrs, col->attrs_len, "missing", &c)) {
			const uint8_t *m = c.p;

			if (mp_skip(&c) == MP_OK) {
				col->missing_len = (size_t)(c.p - m);
				col->missing = xmalloc(col->missing_len);
				memcpy(col->missing, m, col->missing_len);
			}
		}
	}
	if (!attrs_int(t->attrs, t->attrs_len, "estimated_rows", &t->estimated_rows))
		t->estimated_rows = -1;
	decode_indexes(t);
	decode_fkeys(t);
	t->lob_bulk_max_size = -1;
	if (attrs_find(t->attrs, t->attrs_len, "lob_settings", &c)) {
		const uint8_t *ls = c.p;

		if (mp_skip(&c) == MP_OK) {
			t->lob_mode = attrs_str(ls, (size_t)(c.p - ls), "mode");
			attrs_int(ls, (size_t)(c.p - ls), "bulk_max_size", &t->lob_bulk_max_size);
		}
	}
}

void
table_decoded_free(struct dms_table *t)
{
	for (uint32_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].native);
		free(t->cols[i].collation);
		free(t->cols[i].missing);
	}
	for (int i = 0; i < t->nindexes; i++)
		dms_index_free(&t->indexes[i]);
	free(t->indexes);
	for (int i = 0; i < t->nfkeys; i++)
		dms_fkey_free(&t->fkeys[i]);
	free(t->fkeys);
	free(t->lob_mode);
}
