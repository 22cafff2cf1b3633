/*
 * validate/keys.c: key lists, key ranges as SQL, the key -> row hash table of narrowing (see compare.h).
 */
#include "compare.h"

/* ---- small helpers ---- */

void
keys_free(char **k, int n)
{
	if (k == NULL)
		return;
	for (int i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

char **
keys_dup(char *const *k, int n)
{
	char **c;

	if (k == NULL)
		return NULL;
	c = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++)
		c[i] = k[i] ? xstrdup(k[i]) : NULL;
	return c;
}

char **
keys_of_row(const struct vrows *r, int row, int n)
{
	char **k = xcalloc((size_t)n + 1, sizeof(char *));

	for (int i = 0; i < n; i++) {
		const char *v = vcell(r, row, i, NULL);

		k[i] = v ? xstrdup(v) : NULL;
	}
	return k;
}

/* One string for a key (length-prefixed parts), to match rows of both sides. */
void
key_join_part(struct strbuf *sb, const char *v, size_t len)
{
	if (v == NULL)
		sb_adds(sb, "N;");
	else {
		sb_addf(sb, "%zu:", len);
		sb_add(sb, v, len);
	}
}

void
key_join(struct strbuf *sb, const struct vrows *r, int row, int n)
{
	sb_reset(sb);
	for (int i = 0; i < n; i++) {
		size_t len;
		const char *v = vcell(r, row, i, &len);

		key_join_part(sb, v, len);
	}
}

json_t *
key_json(char *const *k, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, k[i] ? json_string(k[i]) : json_null());
	return json_pack("{s:o}", "key", a);
}

char *
qualified(const struct vconn *c, const char *schema, const char *name)
{
	char *s = vident(c, schema), *n = vident(c, name);
	struct strbuf sb = STRBUF_INIT;

	sb_addf(&sb, "%s.%s", s, n);
	free(s);
	free(n);
	return sb.buf;
}

/* ---- the key range of a partition ---- */

/* key (>|<=) lits, lexicographic over the key columns; PostgreSQL compares rows, MySQL gets it spelt out. */
void
key_compare(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, bool greater,
	    char *const *lits)
{
	struct strbuf l = STRBUF_INIT;

	if (t->nkey == 1 || e == ENGINE_PG) {
		sb_adds(sb, "(");
		for (int i = 0; i < t->nkey; i++)
			sb_addf(sb, "%s%s", i ? ", " : "", t->cols[t->key[i]].term[side]);
		sb_addf(sb, ") %s (", greater ? ">" : "<=");
		for (int i = 0; i < t->nkey; i++) {
			if (i)
				sb_adds(sb, ", ");
			key_literal(sb, e, t->cols[t->key[i]].cls, lits[i]);
		}
		sb_adds(sb, ")");
		return;
	}
	/* (a > x) OR (a = x AND b > y) ...; <= is (a < x) OR ... OR (a = x AND ... AND z = w) */
	sb_adds(sb, "(");
	for (int i = 0; i < t->nkey; i++) {
		sb_adds(sb, i ? " OR (" : "(");
		for (int j = 0; j <= i; j++) {
			const struct vcol *c = &t->cols[t->key[j]];

			sb_reset(&l);
			key_literal(&l, e, c->cls, lits[j]);
			sb_addf(sb, "%s%s %s %s", j ? " AND " : "", c->term[side],
				j < i ? "=" : greater ? ">" : "<", l.buf);
		}
		sb_adds(sb, ")");
	}
	if (!greater) {
		sb_adds(sb, " OR (");
		for (int j = 0; j < t->nkey; j++) {
			const struct vcol *c = &t->cols[t->key[j]];

			sb_reset(&l);
			key_literal(&l, e, c->cls, lits[j]);
			sb_addf(sb, "%s%s = %s", j ? " AND " : "", c->term[side], l.buf);
		}
		sb_adds(sb, ")");
	}
	sb_adds(sb, ")");
	sb_release(&l);
}

/* " WHERE ..." of the rows of (lo, hi] on one side; lo, hi NULL for open ends. */
void
range_where(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, char *const *lo,
	    char *const *hi)
{
	const char *w = " WHERE ";

	if (side == S && t->filter) {
		sb_addf(sb, "%s(%s)", w, t->filter);
		w = " AND ";
	}
	if (lo) {
		sb_adds(sb, w);
		key_compare(sb, t, side, e, true, lo);
		w = " AND ";
	}
	if (hi) {
		sb_adds(sb, w);
		key_compare(sb, t, side, e, false, hi);
	}
}

/* " WHERE [filter AND] key IN (...)" for keys[from..to). */
void
keys_where(struct strbuf *sb, const struct vtable *t, int side, enum dms_engine e, char ***keys,
	   int from, int to)
{
	sb_adds(sb, " WHERE ");
	if (side == S && t->filter)
		sb_addf(sb, "(%s) AND ", t->filter);
	sb_adds(sb, "(");
	for (int i = 0; i < t->nkey; i++)
		sb_addf(sb, "%s%s", i ? ", " : "", t->cols[t->key[i]].term[side]);
	sb_adds(sb, ") IN (");
	for (int r = from; r < to; r++) {
		sb_adds(sb, r > from ? ", (" : "(");
		for (int i = 0; i < t->nkey; i++) {
			if (i)
				sb_adds(sb, ", ");
			key_literal(sb, e, t->cols[t->key[i]].cls, keys[r][i]);
		}
		sb_adds(sb, ")");
	}
	sb_adds(sb, ")");
}

/* ---- a key -> row hash table for narrowing ---- */



uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct hentry *
hfind(struct htab *h, const char *key, bool add)
{
	size_t i;

	if (add && (h->n + 1) * 2 > h->cap) {
		struct htab g = { h->cap ? h->cap * 2 : 1024, 0, NULL };

		g.e = xcalloc(g.cap, sizeof(*g.e));
		for (size_t j = 0; j < h->cap; j++)
			if (h->e[j].key) {
				struct hentry *d = hfind(&g, h->e[j].key, true);

				*d = h->e[j];
			}
		free(h->e);
		*h = g;
	}
	if (h->cap == 0)
		return NULL;
	for (i = fnv(key) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
		if (h->e[i].key == NULL) {
			if (!add)
				return NULL;
			h->n++;
			h->e[i].key = xstrdup(key);
			return &h->e[i];
		}
		if (strcmp(h->e[i].key, key) == 0)
			return &h->e[i];
	}
}

void
hfree(struct htab *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->e[i].key);
	free(h->e);
	memset(h, 0, sizeof(*h));
}
