/*
 * load/table.c: the target's view of a table: from a TABLE record (its
 * columns with the target's types, its indexes and foreign keys from the
 * attrs, its LOB settings) to struct ttable, and back to nothing.
 */
#include <stdio.h>
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
		free(t->cols[i].sqltype);
		free(t->cols[i].quoted);
		free(t->cols[i].narrowed);
	}
	free(t->cols);
	free(t->schema);
	free(t->name);
	free(t->qname);
	free(t->collist);
	free(t->setlist);
	free(t->stage);
	free(t->held_key);
	free(t);
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

		c->src = sc;
		c->quoted = l->engine == ENGINE_PG ? pg_quote_ident(sc->name) : my_quote_ident(sc->name);
		c->skip = !l->settings->support_lobs && dms_type_is_lob(sc->type);
	}
	for (uint32_t k = 0; k < s->nkey; k++)
		t->cols[s->key[k]].indexed = true;
	t->indexes = s->indexes;
	t->nindexes = s->nindexes;
	t->fkeys = s->fkeys;
	t->nfkeys = s->nfkeys;
	t->lob_mode = s->lob_mode && strcmp(s->lob_mode, "limited") == 0 ? 1
		    : s->lob_mode && strcmp(s->lob_mode, "unlimited") == 0 ? 2 : 0;
	if (s->lob_bulk_max_size >= 0)
		t->lob_kb = s->lob_bulk_max_size;
	for (int i = 0; i < t->nindexes; i++)
		for (int k = 0; k < t->indexes[i].ncols; k++)
			t->cols[t->indexes[i].cols[k]].indexed = true;
	for (int i = 0; i < t->ncols; i++) {
		struct tcol *c = &t->cols[i];

		if (c->skip) {
			log_warn("%s.%s column %s (%s): left out, SupportLobs is false", s->schema, s->name,
				 c->src->name, dms_type_name(c->src->type));
			continue;
		}
		c->sqltype = l->engine == ENGINE_PG ? pg_column_type(l, c) : my_column_type(l, c);
		/* read once here, not for every value that is checked against it */
		if (sscanf(c->sqltype, "decimal(%d,%d)", &c->dec_prec, &c->dec_scale) != 2)
			c->dec_prec = c->dec_scale = -1;
		sb_addf(&sb, "%s%s", first ? "" : ", ", c->quoted);
		first = false;
	}
	t->collist = sb.buf ? sb.buf : xstrdup("");
	/* what an upsert sets: the loaded columns outside the key */
	sb_init(&sb);
	for (int i = 0; i < t->ncols; i++) {
		const char *q = t->cols[i].quoted;
		bool key = false;

		for (uint32_t k = 0; k < s->nkey; k++)
			key |= (int)s->key[k] == i;
		if (key || t->cols[i].skip)
			continue;
		if (l->engine == ENGINE_PG)
			sb_addf(&sb, "%s%s = EXCLUDED.%s", sb.len ? ", " : "", q, q);
		else
			sb_addf(&sb, "%s%s = VALUES(%s)", sb.len ? ", " : "", q, q);
	}
	t->setlist = sb.buf ? sb.buf : xstrdup("");
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
