/*
 * compare.c: validation of the tables a mapping selects (see validate.h).
 *
 * Each table is cut into partitions in the source's key order: a partition
 * ends at the key PartitionSize rows after the previous end, found with one
 * bounded index read. ThreadCount workers, each with one connection to each
 * side, take partitions as they come, across tables. A partition's count and
 * checksum are computed on both sides with the same key range; when they
 * differ the partition is narrowed to rows (key and MD5 of each), and the
 * rows that differ are fetched whole and compared value by value.
 *
 * A row is judged by key, not by position, so the target's collation need not
 * order keys as the source's does: a source row that the target's range does
 * not hold is looked up on the target by its key before it is called missing,
 * and a target row the source's range does not hold is looked up on the
 * source (it is judged where the source's order puts it).
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "validate.h"
#include "../common/db/catalog.h"
#include "../common/map/rules.h"
#include "../common/records.h"
#include "../common/dms.h"

#define S 0			/* source side */
#define T 1			/* target side */
#define FETCH_BATCH 500		/* keys per IN list */

struct vcol {
	char *name;		/* on the target */
	enum vclass cls;
	char *canon[2];
	char *disp[2];
	char *keytext[2];	/* key columns: the key's text */
	char *term[2];		/* key columns: what ORDER BY and ranges compare */
	char *q[2];		/* the quoted column */
	char *rowpart[2];	/* MySQL: a cheaper form for the row text (CONCAT converts numbers), or NULL */
	bool nullable[2];
};

struct inflight {
	int64_t seq;
	char **lo;
};

struct vtable {
	char *owner, *name;	/* on the source */
	char *tschema, *tname;	/* on the target */
	char *label;		/* source schema.name -> target schema.name */
	char *from[2];
	char *filter;		/* the source rows the mapping selects; NULL for all */
	int ncols;
	struct vcol *cols;
	int nkey;
	int *key;		/* into cols */
	char *sum[2], *hash[2], *keysel[2], *orderby[2], *rowsel[2];
	bool missing;		/* the target lacks the table or a column: a difference, not an error */
	bool native;		/* PostgreSQL on both sides, same types: rows hash as their own text */
	bool ordered;		/* keys the engines order alike, no LOB: one MD5 over the rows in order */
	bool ready;		/* prepared; false: state says why */
	bool keyless;		/* no key: compared whole, by count and an order-free hash */
	/* under the run's lock */
	const char *state;	/* a DMS ValidationState */
	char *details;
	char **cursor;		/* end of the last partition handed out; NULL: the start */
	bool exhausted, stopped;
	int64_t seq;
	int ninflight;
	struct inflight *inflight;
	int64_t rows, failed, partitions;
	int64_t estimate;	/* the source's estimate of its rows, for the status lines */
	struct timespec started;	/* its first partition handed out */
	int64_t kinds[3];	/* RECORD_DIFF, MISSING_SOURCE, MISSING_TARGET */
	bool finished;
};

struct vrun {
	const struct vopts *o;
	pthread_mutex_t lock;
	struct vtable *tables;
	int ntables;
	int next;		/* table being cut into partitions */
	struct vconn ctl;	/* target: control tables, under the lock */
	char *ctl_failures, *ctl_stats;
	int64_t failures;
	bool stop;		/* FailureMaxCount reached, or a signal */
	int status;		/* the worst error status; differences are counted apart */
	int64_t rows_done;
	struct timespec start;
	enum dms_engine eng[2];
	int workers_done;	/* under the lock; signalled on done */
	pthread_cond_t done;
};

static const char *const failure_names[] = { "RECORD_DIFF", "MISSING_SOURCE", "MISSING_TARGET" };
enum { F_DIFF, F_MISSING_SOURCE, F_MISSING_TARGET };

/* ---- small helpers ---- */

static void
keys_free(char **k, int n)
{
	if (k == NULL)
		return;
	for (int i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

static char **
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

static char **
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
static void
key_join_part(struct strbuf *sb, const char *v, size_t len)
{
	if (v == NULL)
		sb_adds(sb, "N;");
	else {
		sb_addf(sb, "%zu:", len);
		sb_add(sb, v, len);
	}
}

static void
key_join(struct strbuf *sb, const struct vrows *r, int row, int n)
{
	sb_reset(sb);
	for (int i = 0; i < n; i++) {
		size_t len;
		const char *v = vcell(r, row, i, &len);

		key_join_part(sb, v, len);
	}
}

static json_t *
key_json(char *const *k, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, k[i] ? json_string(k[i]) : json_null());
	return json_pack("{s:o}", "key", a);
}

static char *
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
static void
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
static void
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
static void
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

struct hentry {
	char *key;		/* key_join text; NULL: empty slot */
	char md5[33];
	int row;		/* in the source rows */
	bool seen;
};

struct htab {
	size_t cap, n;
	struct hentry *e;
};

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct hentry *
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

static void
hfree(struct htab *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->e[i].key);
	free(h->e);
	memset(h, 0, sizeof(*h));
}

/* ---- failures ---- */

struct worker {
	struct vrun *run;
	struct vconn c[2];
	pthread_t thread;
	int status;
	struct strbuf failures;	/* rows for the failures table, written by flush_failures() */
};

/* Writes the failures reported so far in one INSERT, on the worker's own target connection. */
static bool
flush_failures(struct worker *w)
{
	struct strbuf sql = STRBUF_INIT;
	bool ok;

	if (w->failures.len == 0)
		return true;
	sb_addf(&sql, "INSERT INTO %s (task_name, table_owner, table_name, key_type, key_text, "
		      "failure_type, details) VALUES %s", w->run->ctl_failures, w->failures.buf);
	ok = vcommand(&w->c[T], sql.buf);
	if (!ok)
		w->status = EXIT_TARGET;
	sb_reset(&w->failures);
	sb_release(&sql);
	return ok;
}

static void
stats_write_locked(struct vrun *run, struct vtable *t, char *const *resume);

/*
 * Reports one failure: stdout and the counts now, the failures table at the
 * worker's next flush_failures(). Called under no lock.
 */
static void
report(struct worker *w, struct vtable *t, int kind, char *const *key, json_t *details)
{
	struct vrun *run = w->run;
	json_t *k = key_json(key, t->nkey), *line;
	char *ktext = json_dumps(k, JSON_COMPACT), *dtext = json_dumps(details, JSON_COMPACT);
	struct strbuf *sql = &w->failures;

	line = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:O}", "task", run->o->task, "table_owner",
			 t->owner, "table_name", t->name, "target", t->label, "key", k, "failure_type",
			 failure_names[kind], "details", details);
	pthread_mutex_lock(&run->lock);
	if (!t->stopped && !run->stop) {
		char *text = json_dumps(line, JSON_COMPACT);

		printf("%s\n", text);
		fflush(stdout);
		free(text);
		t->failed++;
		t->kinds[kind]++;
		run->failures++;
		sb_adds(sql, sql->len ? ", (" : "(");
		vliteral(sql, run->o->task);
		sb_adds(sql, ", ");
		vliteral(sql, t->owner);
		sb_adds(sql, ", ");
		vliteral(sql, t->name);
		sb_adds(sql, ", 'Row', ");
		vliteral(sql, ktext);
		sb_addf(sql, ", '%s', ", failure_names[kind]);
		vliteral(sql, dtext);
		sb_adds(sql, ")");
		if (t->failed >= run->o->settings->table_failure_max_count) {
			t->stopped = true;
			free(t->details);
			t->details = xprintf("validation suspended: TableFailureMaxCount (%" PRId64 ") reached",
				  run->o->settings->table_failure_max_count);
			log_warn("%s: %s", t->label, t->details);
		}
		if (run->failures >= run->o->settings->failure_max_count) {
			run->stop = true;
			log_warn("validation suspended: FailureMaxCount (%" PRId64 ") reached",
				 run->o->settings->failure_max_count);
		}
	}
	pthread_mutex_unlock(&run->lock);
	if (sql->len > ((size_t)1 << 20))
		flush_failures(w);
	free(ktext);
	free(dtext);
	json_decref(k);
	json_decref(line);
}

/* ---- comparing rows ---- */

static bool
values_equal(enum vclass k, const char *a, size_t an, const char *b, size_t bn)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (an == bn && memcmp(a, b, an) == 0)
		return true;
	if (k == VC_FLOAT) {
		char *ea, *eb;
		double x = strtod(a, &ea), y = strtod(b, &eb);

		return *ea == '\0' && *eb == '\0' && (x == y || (isnan(x) && isnan(y)));
	}
	if (k == VC_JSON) {
		json_t *x = json_loadb(a, an, JSON_DECODE_ANY, NULL), *y = json_loadb(b, bn, JSON_DECODE_ANY, NULL);
		bool eq = x && y && json_equal(x, y);

		json_decref(x);
		json_decref(y);
		return eq;
	}
	return false;
}

/* SELECT key texts, then canonical and display text of each column, of the rows with these keys. */
static bool
fetch_rows(struct worker *w, struct vtable *t, int side, char ***keys, int from, int to,
	   struct vrows *out)
{
	struct strbuf sql = STRBUF_INIT;
	bool ok;

	sb_addf(&sql, "SELECT %s, %s FROM %s", t->keysel[side], t->rowsel[side], t->from[side]);
	keys_where(&sql, t, side, w->c[side].engine, keys, from, to);
	ok = vquery(&w->c[side], sql.buf, out);
	sb_release(&sql);
	return ok;
}

static void
index_rows(const struct vtable *t, const struct vrows *r, struct htab *h)
{
	struct strbuf k = STRBUF_INIT;

	for (int i = 0; i < r->nrows; i++) {
		key_join(&k, r, i, t->nkey);
		hfind(h, k.buf, true)->row = i;
	}
	sb_release(&k);
}

/*
 * The keys of source rows that the target may not match: fetch both sides,
 * compare value by value; a key the target lacks is MISSING_TARGET.
 */
static bool
compare_keys(struct worker *w, struct vtable *t, char ***keys, int n)
{
	for (int from = 0; from < n; from += FETCH_BATCH) {
		int to = from + FETCH_BATCH < n ? from + FETCH_BATCH : n;
		struct vrows rs, rt;
		struct htab h = { 0 };
		struct strbuf k = STRBUF_INIT;

		if (!fetch_rows(w, t, S, keys, from, to, &rs)) {
			w->status = EXIT_SOURCE;
			return false;
		}
		if (!fetch_rows(w, t, T, keys, from, to, &rt)) {
			vrows_free(&rs);
			w->status = EXIT_TARGET;
			return false;
		}
		index_rows(t, &rt, &h);
		for (int i = 0; i < rs.nrows; i++) {
			struct hentry *e;
			char **key = keys_of_row(&rs, i, t->nkey);
			json_t *details = json_object();

			key_join(&k, &rs, i, t->nkey);
			e = hfind(&h, k.buf, false);
			if (e == NULL) {
				report(w, t, F_MISSING_TARGET, key, details);
			} else {
				for (int c = 0; c < t->ncols; c++) {
					int ci = t->nkey + 2 * c;
					size_t la, lb;
					const char *a = vcell(&rs, i, ci, &la), *b = vcell(&rt, e->row, ci, &lb);

					if (values_equal(t->cols[c].cls, a, la, b, lb))
						continue;
					a = vcell(&rs, i, ci + 1, NULL);
					b = vcell(&rt, e->row, ci + 1, NULL);
					json_object_set_new(details, t->cols[c].name,
							    json_pack("{s:o, s:o}", "source",
								      a ? json_string(a) : json_null(), "target",
								      b ? json_string(b) : json_null()));
				}
				if (json_object_size(details) > 0)
					report(w, t, F_DIFF, key, details);
			}
			json_decref(details);
			keys_free(key, t->nkey);
		}
		sb_release(&k);
		hfree(&h);
		vrows_free(&rs);
		vrows_free(&rt);
	}
	return true;
}

/* Target keys the source's range did not hold: MISSING_SOURCE unless the source has them elsewhere. */
static bool
check_extra(struct worker *w, struct vtable *t, char ***keys, int n)
{
	for (int from = 0; from < n; from += FETCH_BATCH) {
		int to = from + FETCH_BATCH < n ? from + FETCH_BATCH : n;
		struct vrows rs;
		struct htab h = { 0 };
		struct strbuf sql = STRBUF_INIT, k = STRBUF_INIT;
		bool ok;

		sb_addf(&sql, "SELECT %s FROM %s", t->keysel[S], t->from[S]);
		keys_where(&sql, t, S, w->c[S].engine, keys, from, to);
		ok = vquery(&w->c[S], sql.buf, &rs);
		sb_release(&sql);
		if (!ok) {
			w->status = EXIT_SOURCE;
			return false;
		}
		index_rows(t, &rs, &h);
		for (int i = from; i < to; i++) {
			sb_reset(&k);
			for (int c = 0; c < t->nkey; c++)
				key_join_part(&k, keys[i][c], keys[i][c] ? strlen(keys[i][c]) : 0);
			if (hfind(&h, k.buf, false) == NULL) {
				json_t *details = json_object();

				report(w, t, F_MISSING_SOURCE, keys[i], details);
				json_decref(details);
			}
		}
		sb_release(&k);
		hfree(&h);
		vrows_free(&rs);
	}
	return true;
}

/* Key texts and MD5 of every row of (lo, hi] on one side, read in chunks in key order. */
static bool
row_hashes(struct worker *w, struct vtable *t, int side, char *const *lo, char *const *hi,
	   struct vrows *all)
{
	int64_t chunk = w->run->o->settings->partition_size;
	char **from = keys_dup(lo, t->nkey);
	bool ok = true;

	memset(all, 0, sizeof(*all));
	all->ncols = t->nkey + 1;
	for (;;) {
		struct strbuf sql = STRBUF_INIT;
		struct vrows r;

		sb_addf(&sql, "SELECT %s, %s FROM %s", t->keysel[side], t->hash[side], t->from[side]);
		range_where(&sql, t, side, w->c[side].engine, from, hi);
		sb_addf(&sql, " ORDER BY %s LIMIT %" PRId64, t->orderby[side], chunk);
		ok = vquery(&w->c[side], sql.buf, &r);
		sb_release(&sql);
		if (!ok)
			break;
		/* append r to all */
		all->off = xrealloc(all->off, ((size_t)(all->nrows + r.nrows) * (size_t)all->ncols + 1) * sizeof(size_t));
		all->len = xrealloc(all->len, ((size_t)(all->nrows + r.nrows) * (size_t)all->ncols + 1) * sizeof(size_t));
		for (int i = 0; i < r.nrows; i++)
			for (int j = 0; j < all->ncols; j++) {
				size_t len, cell = (size_t)(all->nrows + i) * (size_t)all->ncols + (size_t)j;
				const char *v = vcell(&r, i, j, &len);

				all->off[cell] = v ? all->data.len : SIZE_MAX;
				all->len[cell] = len;
				if (v) {
					sb_add(&all->data, v, len);
					sb_add(&all->data, "", 1);
				}
			}
		all->nrows += r.nrows;
		if (r.nrows < chunk) {
			vrows_free(&r);
			break;
		}
		keys_free(from, t->nkey);
		from = keys_of_row(&r, r.nrows - 1, t->nkey);
		vrows_free(&r);
	}
	keys_free(from, t->nkey);
	return ok;
}

/* Narrows a partition whose checksums differ down to its differing rows. */
static bool
narrow(struct worker *w, struct vtable *t, char *const *lo, char *const *hi)
{
	struct vrows rs, rt;
	struct htab h = { 0 };
	struct strbuf k = STRBUF_INIT;
	char ***suspect = NULL, ***extra = NULL;
	int nsuspect = 0, nextra = 0;
	bool ok;

	if (!row_hashes(w, t, S, lo, hi, &rs)) {
		w->status = EXIT_SOURCE;
		vrows_free(&rs);
		return false;
	}
	if (!row_hashes(w, t, T, lo, hi, &rt)) {
		w->status = EXIT_TARGET;
		vrows_free(&rs);
		vrows_free(&rt);
		return false;
	}
	for (int i = 0; i < rs.nrows; i++) {
		struct hentry *e;

		key_join(&k, &rs, i, t->nkey);
		e = hfind(&h, k.buf, true);
		e->row = i;
		snprintf(e->md5, sizeof(e->md5), "%s", vcell(&rs, i, t->nkey, NULL) ? vcell(&rs, i, t->nkey, NULL) : "");
	}
	suspect = xcalloc((size_t)rs.nrows + 1, sizeof(char **));
	extra = xcalloc((size_t)rt.nrows + 1, sizeof(char **));
	for (int i = 0; i < rt.nrows; i++) {
		struct hentry *e;
		const char *md5 = vcell(&rt, i, t->nkey, NULL);

		key_join(&k, &rt, i, t->nkey);
		e = hfind(&h, k.buf, false);
		if (e == NULL) {
			extra[nextra++] = keys_of_row(&rt, i, t->nkey);
			continue;
		}
		e->seen = true;
		if (md5 == NULL || strcmp(md5, e->md5) != 0)
			suspect[nsuspect++] = keys_of_row(&rs, e->row, t->nkey);
	}
	/* source rows the target's range did not have */
	for (size_t i = 0; i < h.cap; i++)
		if (h.e[i].key && !h.e[i].seen)
			suspect[nsuspect++] = keys_of_row(&rs, h.e[i].row, t->nkey);
	ok = compare_keys(w, t, suspect, nsuspect) && check_extra(w, t, extra, nextra);
	ok = flush_failures(w) && ok;
	for (int i = 0; i < nsuspect; i++)
		keys_free(suspect[i], t->nkey);
	for (int i = 0; i < nextra; i++)
		keys_free(extra[i], t->nkey);
	free(suspect);
	free(extra);
	sb_release(&k);
	hfree(&h);
	vrows_free(&rs);
	vrows_free(&rt);
	return ok;
}

#define KEYLESS_LIST_MAX 10000	/* rows per side up to which a keyless table's differing rows are listed */

/* A keyless row for the failures: its values by column name. */
static json_t *
keyless_row(const struct vtable *t, const struct vrows *r, int row)
{
	json_t *o = json_object();

	for (int c = 0; c < t->ncols; c++) {
		const char *v = vcell(r, row, 3 + 2 * c, NULL);

		json_object_set_new(o, t->cols[c].name, v ? json_string(v) : json_null());
	}
	return o;
}

/*
 * A table without a key whose count or hash differ: with few rows, the rows
 * of one side that the other lacks (as many times as they are missing);
 * with more, one failure that says the counts.
 */
static bool
narrow_keyless(struct worker *w, struct vtable *t, int64_t nsource, int64_t ntarget)
{
	struct vrows r[2];
	struct htab h = { 0 };
	struct strbuf k = STRBUF_INIT;
	bool ok = true;

	if (nsource > KEYLESS_LIST_MAX || ntarget > KEYLESS_LIST_MAX) {
		json_t *d = json_pack("{s:I, s:I, s:s}", "source_rows", (json_int_t)nsource, "target_rows",
				      (json_int_t)ntarget, "note",
				      "the table has no key and too many rows to list those that differ; "
				      "the counts or the rows' hashes differ");

		report(w, t, nsource > ntarget ? F_MISSING_TARGET : nsource < ntarget ? F_MISSING_SOURCE : F_DIFF,
		       NULL, d);
		json_decref(d);
		return flush_failures(w);
	}
	for (int side = S; side <= T; side++) {
		struct strbuf sql = STRBUF_INIT;

		sb_addf(&sql, "SELECT %s, NULL, %s FROM %s", t->hash[side], t->rowsel[side], t->from[side]);
		range_where(&sql, t, side, w->c[side].engine, NULL, NULL);
		if (!vquery(&w->c[side], sql.buf, &r[side])) {
			w->status = side == S ? EXIT_SOURCE : EXIT_TARGET;
			if (side == T)
				vrows_free(&r[S]);
			sb_release(&sql);
			return false;
		}
		sb_release(&sql);
	}
	/* a multiset of the source rows' hashes: the n-th copy of a row is "md5#n" */
	for (int i = 0; i < r[S].nrows; i++) {
		const char *md5 = vcell(&r[S], i, 0, NULL);
		int n = 0;

		do {
			sb_reset(&k);
			sb_addf(&k, "%s#%d", md5 ? md5 : "", n++);
		} while (hfind(&h, k.buf, false) != NULL);
		hfind(&h, k.buf, true)->row = i;
	}
	for (int i = 0; i < r[T].nrows; i++) {
		const char *md5 = vcell(&r[T], i, 0, NULL);
		struct hentry *e = NULL;
		int n = 0;

		do {
			sb_reset(&k);
			sb_addf(&k, "%s#%d", md5 ? md5 : "", n++);
			e = hfind(&h, k.buf, false);
		} while (e != NULL && e->seen);
		if (e != NULL) {
			e->seen = true;
		} else {
			json_t *d = json_pack("{s:o}", "target_row", keyless_row(t, &r[T], i));

			report(w, t, F_MISSING_SOURCE, NULL, d);
			json_decref(d);
		}
	}
	for (size_t i = 0; i < h.cap; i++)
		if (h.e[i].key && !h.e[i].seen) {
			json_t *d = json_pack("{s:o}", "source_row", keyless_row(t, &r[S], h.e[i].row));

			report(w, t, F_MISSING_TARGET, NULL, d);
			json_decref(d);
		}
	ok = flush_failures(w);
	sb_release(&k);
	hfree(&h);
	vrows_free(&r[S]);
	vrows_free(&r[T]);
	return ok;
}

/* Count and checksum of (lo, hi] on both sides; narrowed when they differ. Rows of the source in *rows. */
static bool
check_partition(struct worker *w, struct vtable *t, char *const *lo, char *const *hi, int64_t *rows)
{
	struct vrows r[2];
	bool sent[2] = { false, false }, got[2] = { false, false }, same;

	/* both sides at once: each database works while the other does */
	for (int side = S; side <= T; side++) {
		struct strbuf sql = STRBUF_INIT;

		sb_addf(&sql, "SELECT %s FROM %s", t->sum[side], t->from[side]);
		range_where(&sql, t, side, w->c[side].engine, lo, hi);
		sent[side] = vsend(&w->c[side], sql.buf);
		sb_release(&sql);
		if (!sent[side])
			break;
	}
	for (int side = S; side <= T; side++)
		got[side] = sent[side] && vreceive(&w->c[side], &r[side]);
	if (!got[S] || !got[T]) {
		w->status = !got[S] ? EXIT_SOURCE : EXIT_TARGET;
		for (int side = S; side <= T; side++)
			if (got[side])
				vrows_free(&r[side]);
		return false;
	}
	*rows = strtoll(vcell(&r[S], 0, 0, NULL), NULL, 10);
	same = strcmp(vcell(&r[S], 0, 0, NULL), vcell(&r[T], 0, 0, NULL)) == 0 &&
	       strcmp(vcell(&r[S], 0, 1, NULL), vcell(&r[T], 0, 1, NULL)) == 0;
	for (int side = S; side <= T && t->ordered; side++) {
		const char *len = r[side].ncols > 2 ? vcell(&r[side], 0, 2, NULL) : NULL;

		if (len != NULL)
			vwarm(&w->c[side], strtoll(len, NULL, 10));
		/* MySQL cut the GROUP_CONCAT short (group_concat_max_len): the MD5 proves nothing */
		if (w->c[side].engine == ENGINE_MYSQL && w->c[side].warnings > 0)
			same = false;
	}
	if (!same && t->keyless) {
		int64_t ntarget = strtoll(vcell(&r[T], 0, 0, NULL), NULL, 10);

		vrows_free(&r[S]);
		vrows_free(&r[T]);
		return narrow_keyless(w, t, *rows, ntarget);
	}
	vrows_free(&r[S]);
	vrows_free(&r[T]);
	if (same)
		return true;
	log_debug("%s: partition after %s differs; narrowing", t->label, lo && lo[0] ? lo[0] : "the start");
	return narrow(w, t, lo, hi);
}

/* ---- the workers ---- */

static double
elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void
finish_table_locked(struct vrun *run, struct vtable *t)
{
	t->finished = true;
	if (!t->ready)
		t->state = "Table error";
	else if (t->failed > 0)
		t->state = "Mismatched records";
	else if (t->stopped || run->stop)
		t->state = "Pending records";
	else
		t->state = "Validated";
	stats_write_locked(run, t, NULL);
}

/* The resume point of a table: the start of its earliest partition in flight. */
static char **
resume_point_locked(struct vtable *t)
{
	int64_t best = INT64_MAX;
	char **lo = t->cursor;

	for (int i = 0; i < t->ninflight; i++)
		if (t->inflight[i].seq < best) {
			best = t->inflight[i].seq;
			lo = t->inflight[i].lo;
		}
	return lo;
}

/* Hands out the next partition: its table, start (lo) and end (hi, NULL: the table's end). */
static struct vtable *
next_partition(struct worker *w, char ***lo, char ***hi, int64_t *seq)
{
	struct vrun *run = w->run;
	struct vtable *t = NULL;

	pthread_mutex_lock(&run->lock);
	while (run->next < run->ntables && !run->stop && !sig_drain && !sig_stop) {
		struct strbuf sql = STRBUF_INIT;
		struct vrows r;
		bool ok;

		t = &run->tables[run->next];
		if (!t->ready || t->exhausted || t->stopped) {
			run->next++;
			t = NULL;
			continue;
		}
		if (t->keyless) {
			/* one partition: the whole table */
			*lo = *hi = NULL;
			t->exhausted = true;
			run->next++;
			*seq = t->seq++;
			clock_gettime(CLOCK_MONOTONIC, &t->started);
			t->inflight = xrealloc(t->inflight, (size_t)(t->ninflight + 1) * sizeof(*t->inflight));
			t->inflight[t->ninflight].seq = *seq;
			t->inflight[t->ninflight].lo = NULL;
			t->ninflight++;
			break;
		}
		sb_addf(&sql, "SELECT %s FROM %s", t->keysel[S], t->from[S]);
		range_where(&sql, t, S, w->c[S].engine, t->cursor, NULL);
		sb_addf(&sql, " ORDER BY %s LIMIT 1 OFFSET %" PRId64, t->orderby[S],
			run->o->settings->partition_size - 1);
		ok = vquery(&w->c[S], sql.buf, &r);
		sb_release(&sql);
		if (!ok) {
			t->ready = false;
			t->state = "Table error";
			free(t->details);
			t->details = xstrdup("the source's key range could not be read");
			run->status = EXIT_SOURCE;
			stats_write_locked(run, t, t->cursor);
			run->next++;
			t = NULL;
			continue;
		}
		*lo = keys_dup(t->cursor, t->nkey);
		if (r.nrows == 0) {
			*hi = NULL;
			t->exhausted = true;
			run->next++;
		} else {
			*hi = keys_of_row(&r, 0, t->nkey);
			keys_free(t->cursor, t->nkey);
			t->cursor = keys_dup(*hi, t->nkey);
		}
		vrows_free(&r);
		*seq = t->seq++;
		if (*seq == 0)
			clock_gettime(CLOCK_MONOTONIC, &t->started);
		t->inflight = xrealloc(t->inflight, (size_t)(t->ninflight + 1) * sizeof(*t->inflight));
		t->inflight[t->ninflight].seq = *seq;
		t->inflight[t->ninflight].lo = keys_dup(*lo, t->nkey);
		t->ninflight++;
		break;
	}
	pthread_mutex_unlock(&run->lock);
	return t;
}

static void
partition_done(struct worker *w, struct vtable *t, int64_t seq, int64_t rows, bool ok)
{
	struct vrun *run = w->run;
	char **resume;

	pthread_mutex_lock(&run->lock);
	for (int i = 0; i < t->ninflight; i++)
		if (t->inflight[i].seq == seq) {
			keys_free(t->inflight[i].lo, t->nkey);
			t->inflight[i] = t->inflight[--t->ninflight];
			break;
		}
	t->rows += rows;
	t->partitions++;
	run->rows_done += rows;
	if (!ok) {
		t->ready = false;
		t->state = "Table error";
		free(t->details);
		t->details = xstrdup("a partition could not be compared (see the log)");
	}
	resume = resume_point_locked(t);
	if (!t->ready || (t->ninflight == 0 && (t->exhausted || t->stopped)))
		finish_table_locked(run, t);
	else
		stats_write_locked(run, t, resume);
	pthread_mutex_unlock(&run->lock);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct vrun *run = w->run;

	if (w->c[S].engine == ENGINE_MYSQL || w->c[T].engine == ENGINE_MYSQL)
		mysql_thread_init();
	for (;;) {
		char **lo = NULL, **hi = NULL;
		int64_t seq = 0, rows = 0;
		struct vtable *t = next_partition(w, &lo, &hi, &seq);
		bool ok;

		if (t == NULL)
			break;
		ok = check_partition(w, t, lo, hi, &rows);
		partition_done(w, t, seq, rows, ok);
		keys_free(lo, t->nkey);
		keys_free(hi, t->nkey);
		if (!ok)
			log_error("%s: validation of the table stopped", t->label);
		if (run->o->max_rate > 0) {
			double want = (double)run->rows_done / (double)run->o->max_rate, have = elapsed(&run->start);

			if (want > have)
				usleep((useconds_t)((want - have) * 1e6));
		}
	}
	if (w->c[S].engine == ENGINE_MYSQL || w->c[T].engine == ENGINE_MYSQL)
		mysql_thread_end();
	pthread_mutex_lock(&run->lock);
	run->workers_done++;
	pthread_cond_signal(&run->done);
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

/*
 * Status lines on a terminal, under the lock: a line for each table being
 * compared (rows of the source's estimate, rows/s, ETA), drawn over the
 * previous ones; *drawn is how many there are. Nothing when stderr is not a
 * terminal.
 */
static void
draw_status_locked(struct vrun *run, int *drawn, bool last)
{
	struct strbuf sb = STRBUF_INIT;
	int n = 0;

	if (*drawn > 0)
		sb_addf(&sb, "\033[%dA", *drawn);
	for (int i = 0; i < run->ntables && !last; i++) {
		struct vtable *t = &run->tables[i];
		double secs;
		double rate;

		if (!t->ready || t->finished || t->seq == 0)
			continue;
		secs = elapsed(&t->started);
		rate = secs > 0 ? (double)t->rows / secs : 0;
		sb_addf(&sb, "\r\033[K%-40.40s %12" PRId64 " of ~%" PRId64 " rows %10.0f rows/s  ETA ",
			t->label, t->rows, t->estimate, rate);
		if (rate > 0 && t->estimate > t->rows)
			sb_addf(&sb, "%.0f s\n", (double)(t->estimate - t->rows) / rate);
		else
			sb_adds(&sb, "-\n");
		n++;
	}
	sb_adds(&sb, "\033[J");
	fputs(sb.buf, stderr);
	fflush(stderr);
	*drawn = n;
	sb_release(&sb);
}

/* Waits for the workers; draws the status lines every half second on a terminal. */
static void
wait_workers(struct vrun *run, int nworkers)
{
	bool status = isatty(STDERR_FILENO) && log_enabled(LOG_WARNING);
	int drawn = 0;

	pthread_mutex_lock(&run->lock);
	while (run->workers_done < nworkers) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 500000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&run->done, &run->lock, &until);
		if (status)
			draw_status_locked(run, &drawn, false);
	}
	if (status && drawn > 0)
		draw_status_locked(run, &drawn, true);
	pthread_mutex_unlock(&run->lock);
}

/* ---- control tables ---- */

static bool
control_tables(struct vrun *run)
{
	struct vconn *c = &run->ctl;
	char *schema = vident(c, run->o->settings->control_schema);
	struct strbuf sql = STRBUF_INIT;
	bool ok;

	run->ctl_failures = qualified(c, run->o->settings->control_schema, "validation_failures");
	run->ctl_stats = qualified(c, run->o->settings->control_schema, "table_statistics");
	if (c->engine == ENGINE_PG) {
		sb_addf(&sql,
			"BEGIN; SELECT pg_advisory_xact_lock(hashtext('dms control tables')); "
			"CREATE SCHEMA IF NOT EXISTS %s; "
			"CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
			"table_owner varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
			"failure_time timestamptz NOT NULL DEFAULT now(), key_type varchar(128) NOT NULL, "
			"key_text text NOT NULL, failure_type varchar(128) NOT NULL, details text); "
			"CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
			"schema_name varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
			"target_table text, validation_state varchar(64) NOT NULL, "
			"validation_state_details text, validation_pending_records bigint NOT NULL DEFAULT 0, "
			"validation_failed_records bigint NOT NULL DEFAULT 0, "
			"validation_suspended_records bigint NOT NULL DEFAULT 0, validated_rows bigint NOT NULL DEFAULT 0, "
			"validation_resume_key text, last_update_time timestamptz NOT NULL DEFAULT now(), "
			"PRIMARY KEY (task_name, schema_name, table_name)); COMMIT",
			schema, run->ctl_failures, run->ctl_stats);
		ok = vcommand(c, sql.buf);
		if (!ok)
			vcommand(c, "ROLLBACK");
	} else {
		sb_addf(&sql, "CREATE DATABASE IF NOT EXISTS %s", schema);
		ok = vcommand(c, sql.buf);
		sb_reset(&sql);
		sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
			      "table_owner varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
			      "failure_time datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), "
			      "key_type varchar(128) NOT NULL, key_text text NOT NULL, "
			      "failure_type varchar(128) NOT NULL, details longtext, "
			      "KEY (task_name, table_owner, table_name)) "
			      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", run->ctl_failures);
		ok = ok && vcommand(c, sql.buf);
		sb_reset(&sql);
		sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
			      "schema_name varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
			      "target_table text, validation_state varchar(64) NOT NULL, "
			      "validation_state_details text, validation_pending_records bigint NOT NULL DEFAULT 0, "
			      "validation_failed_records bigint NOT NULL DEFAULT 0, "
			      "validation_suspended_records bigint NOT NULL DEFAULT 0, "
			      "validated_rows bigint NOT NULL DEFAULT 0, validation_resume_key text, "
			      "last_update_time datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), "
			      "PRIMARY KEY (task_name, schema_name, table_name)) "
			      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", run->ctl_stats);
		ok = ok && vcommand(c, sql.buf);
	}
	free(schema);
	sb_release(&sql);
	return ok;
}

static void
stats_write_locked(struct vrun *run, struct vtable *t, char *const *resume)
{
	struct strbuf sql = STRBUF_INIT;
	char *rk = NULL;
	bool pg = run->ctl.engine == ENGINE_PG;

	if (resume != NULL) {
		json_t *a = json_array();

		for (int i = 0; i < t->nkey; i++)
			json_array_append_new(a, resume[i] ? json_string(resume[i]) : json_null());
		rk = json_dumps(a, JSON_COMPACT);
		json_decref(a);
	}
	sb_addf(&sql, "INSERT INTO %s (task_name, schema_name, table_name, target_table, validation_state, "
		      "validation_state_details, validation_pending_records, validation_failed_records, "
		      "validation_suspended_records, validated_rows, validation_resume_key) VALUES (",
		run->ctl_stats);
	vliteral(&sql, run->o->task);
	sb_adds(&sql, ", ");
	vliteral(&sql, t->owner);
	sb_adds(&sql, ", ");
	vliteral(&sql, t->name);
	sb_adds(&sql, ", ");
	vliteral(&sql, t->label);
	sb_adds(&sql, ", ");
	vliteral(&sql, t->state ? t->state : "Pending records");
	sb_adds(&sql, ", ");
	vliteral(&sql, t->details);
	sb_addf(&sql, ", 0, %" PRId64 ", 0, %" PRId64 ", ", t->failed, t->rows);
	vliteral(&sql, rk);
	if (pg)
		sb_adds(&sql, ") ON CONFLICT (task_name, schema_name, table_name) DO UPDATE SET "
			      "target_table = excluded.target_table, validation_state = excluded.validation_state, "
			      "validation_state_details = excluded.validation_state_details, "
			      "validation_failed_records = excluded.validation_failed_records, "
			      "validated_rows = excluded.validated_rows, "
			      "validation_resume_key = excluded.validation_resume_key, last_update_time = now()");
	else
		sb_adds(&sql, ") ON DUPLICATE KEY UPDATE target_table = VALUES(target_table), "
			      "validation_state = VALUES(validation_state), "
			      "validation_state_details = VALUES(validation_state_details), "
			      "validation_failed_records = VALUES(validation_failed_records), "
			      "validated_rows = VALUES(validated_rows), "
			      "validation_resume_key = VALUES(validation_resume_key), "
			      "last_update_time = CURRENT_TIMESTAMP(3)");
	if (!vcommand(&run->ctl, sql.buf))
		run->status = EXIT_TARGET;
	free(rk);
	sb_release(&sql);
}

/*
 * --resume: a table left unfinished starts at its resume key with its counts;
 * a finished one keeps its result. Otherwise the table's old failures go.
 */
static bool
start_table(struct vrun *run, struct vtable *t)
{
	struct strbuf sql = STRBUF_INIT;
	bool ok = true;

	if (run->o->resume) {
		struct vrows r;

		sb_addf(&sql, "SELECT validation_state, validation_failed_records, validated_rows, "
			      "validation_resume_key, validation_state_details FROM %s WHERE task_name = ",
			run->ctl_stats);
		vliteral(&sql, run->o->task);
		sb_adds(&sql, " AND schema_name = ");
		vliteral(&sql, t->owner);
		sb_adds(&sql, " AND table_name = ");
		vliteral(&sql, t->name);
		ok = vquery(&run->ctl, sql.buf, &r);
		sb_release(&sql);
		if (!ok)
			return false;
		if (r.nrows == 1) {
			const char *state = vcell(&r, 0, 0, NULL), *key = vcell(&r, 0, 3, NULL);

			t->failed = strtoll(vcell(&r, 0, 1, NULL), NULL, 10);
			t->rows = strtoll(vcell(&r, 0, 2, NULL), NULL, 10);
			if (strcmp(state, "Pending records") != 0 && strcmp(state, "Pending validation") != 0) {
				static const char *const states[] = { "Validated", "Mismatched records",
								      "No primary key", "Table error" };

				for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
					if (strcmp(state, states[i]) == 0)
						t->state = states[i];
				if (vcell(&r, 0, 4, NULL)) {
					free(t->details);
					t->details = xstrdup(vcell(&r, 0, 4, NULL));
				}
				t->finished = true;
				t->exhausted = true;
				log_info("%s: %s in an earlier run; not validated again", t->label, state);
			} else if (key != NULL) {
				json_t *a = json_loads(key, 0, NULL);

				if (json_is_array(a) && (int)json_array_size(a) == t->nkey) {
					t->cursor = xcalloc((size_t)t->nkey + 1, sizeof(char *));
					for (int i = 0; i < t->nkey; i++) {
						json_t *v = json_array_get(a, (size_t)i);

						t->cursor[i] = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
					}
					log_info("%s: resuming after key %s", t->label, key);
				}
				json_decref(a);
			}
			vrows_free(&r);
			return true;
		}
		vrows_free(&r);
	}
	sb_addf(&sql, "DELETE FROM %s WHERE task_name = ", run->ctl_failures);
	vliteral(&sql, run->o->task);
	sb_adds(&sql, " AND table_owner = ");
	vliteral(&sql, t->owner);
	sb_adds(&sql, " AND table_name = ");
	vliteral(&sql, t->name);
	ok = vcommand(&run->ctl, sql.buf);
	sb_release(&sql);
	return ok;
}

/* ---- preparing a table: what to compare with what ---- */

struct prep {
	const struct source_ops *ops[2];
	struct source src[2];
	struct vrun *run;
	struct rules *rules;
};

static char *
src_ident_cb(void *arg, const char *text)
{
	return ((struct prep *)arg)->ops[S]->quote_ident(text);
}

static char *
src_literal_cb(void *arg, const char *text)
{
	struct prep *p = arg;

	return p->ops[S]->quote_literal(&p->src[S], text);
}

/* What the mapping makes of a described source table (rules_shape of its TABLE record). */
int
mapped_shape(struct rules *r, const struct src_table *t, enum dms_engine e, struct rules_shape *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct dms_record rec;
	struct dms_stream st;
	int status = EXIT_USAGE;

	memset(out, 0, sizeof(*out));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	{
		const struct hello_attrs a = { .engine = engine_name(e), .stream = "snapshot",
					       .tool = "dms-validate " DMS_VERSION };

		rec_hello(&pk, &a);
	}
	pack_table(&pk, 0, t);
	stream_init(&st);
	if (stream_check(&st, (const uint8_t *)sb.data, sb.size, &rec) == CHECK_OK &&
	    stream_check(&st, (const uint8_t *)sb.data + rec.len, sb.size - rec.len, &rec) == CHECK_OK)
		status = rules_shape(r, rec.table, out);
	stream_release(&st);
	msgpack_sbuffer_destroy(&sb);
	return status;
}

static const struct mapping_rule *
validation_rule(const struct mapping *m, const char *schema, const char *table, const char *column,
		const char *type)
{
	if (m == NULL)
		return NULL;
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_VALIDATION && wildcard_match(r->schema, schema) &&
		    wildcard_match(r->table, table) && wildcard_match(r->column, column) &&
		    (r->locator_type == NULL || strcmp(r->locator_type, type) == 0))
			return r;
	}
	return NULL;
}

/* fn with ${column-name} replaced by the quoted column, as text. */
static void
override_expr(struct strbuf *sb, enum dms_engine e, const char *fn, const char *q)
{
	struct strbuf x = STRBUF_INIT;

	for (const char *p = fn; *p;) {
		if (strncmp(p, "${column-name}", 14) == 0) {
			sb_adds(&x, q);
			p += 14;
		} else
			sb_add(&x, p++, 1);
	}
	sb_addf(sb, e == ENGINE_PG ? "(%s)::text" : "CONVERT(CAST((%s) AS CHAR) USING utf8mb4)", x.buf);
	sb_release(&x);
}

/* MySQL: the names of a table's text columns whose character set is UTF-8 already. */
static bool
utf8_columns(struct my_conn *c, const char *schema, const char *table, struct vrows *out)
{
	struct strbuf sql = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;

	memset(out, 0, sizeof(*out));
	sb_adds(&sql, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE CHARACTER_SET_NAME IN "
		      "('utf8mb4', 'utf8mb3', 'utf8', 'ascii') AND TABLE_SCHEMA = ");
	vliteral(&sql, schema);
	sb_adds(&sql, " AND TABLE_NAME = ");
	vliteral(&sql, table);
	res = my_query(c, sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	out->ncols = 1;
	out->off = xcalloc(mysql_num_rows(res) + 1, sizeof(size_t));
	out->len = xcalloc(mysql_num_rows(res) + 1, sizeof(size_t));
	while ((row = mysql_fetch_row(res)) != NULL) {
		out->off[out->nrows] = out->data.len;
		out->len[out->nrows] = strlen(row[0]);
		sb_add(&out->data, row[0], strlen(row[0]) + 1);
		out->nrows++;
	}
	mysql_free_result(res);
	return true;
}

static bool
utf8_column(const struct vrows *r, const char *name)
{
	for (int i = 0; i < r->nrows; i++)
		if (strcmp(vcell(r, i, 0, NULL), name) == 0)
			return true;
	return false;
}

static bool
fixed_char(const char *native)
{
	return native != NULL && (strncmp(native, "character(", 10) == 0 || strncmp(native, "char(", 5) == 0 ||
				  strcmp(native, "bpchar") == 0 || strcmp(native, "character") == 0);
}

static int
target_column(const struct src_table *tt, const char *name)
{
	int i = src_column_index(tt, name);

	for (int c = 0; i < 0 && c < tt->ncols; c++)
		if (strcasecmp(tt->cols[c].name, name) == 0)
			i = c;
	return i;
}

/*
 * The row text of one side: the columns' canonical texts, non-text classes
 * first, joined by commas; text parts are prefixed with their length in bytes,
 * except the last, which runs to the end (':' and the text; nothing for NULL).
 *
 * PostgreSQL joins short runs of parts with || (concat() looks up each
 * argument's output function on every row) and the runs with concat(), which
 * takes at most 100 arguments and copies each part once however wide the row.
 */
#define PG_RUN 8

static void
row_part(struct strbuf *sb, const struct vcol *c, int side, bool pg, bool prefixed)
{
	const char *x = c->canon[side];
	bool null = c->nullable[side];

	if (!vclass_is_text(c->cls)) {
		if (pg)
			sb_addf(sb, null ? "coalesce(%s, '')" : "%s", x);
		else
			sb_addf(sb, null ? "COALESCE(%s, '')" : "%s", c->rowpart[side] ? c->rowpart[side] : x);
	} else if (!prefixed) {
		if (pg)
			sb_addf(sb, null ? "coalesce(':' || %s, '')" : "':' || %s", x);
		else
			sb_addf(sb, null ? "COALESCE(CONCAT(':', %s), '')" : "CONCAT(':', %s)", x);
	} else if (pg) {
		sb_addf(sb, null ? "coalesce(octet_length(%s)::text || ':' || %s, ':')" : "octet_length(%s)::text || ':' || %s",
			x, x);
	} else {
		sb_addf(sb, null ? "COALESCE(CONCAT(LENGTH(%s), ':', %s), ':')" : "LENGTH(%s), ':', %s", x, x);
	}
}

/* PostgreSQL: concat() of up to 50 texts at a time, nested as needed. */
static char *
pg_concat(char **parts, int n)
{
	while (n > 1) {
		int m = 0;

		for (int i = 0; i < n; i += 50, m++) {
			struct strbuf sb = STRBUF_INIT;

			sb_adds(&sb, "concat(");
			for (int j = i; j < n && j < i + 50; j++) {
				sb_addf(&sb, "%s%s", j > i ? ", ',', " : "", parts[j]);
				free(parts[j]);
			}
			sb_adds(&sb, ")");
			parts[m] = sb.buf;
		}
		n = m;
	}
	return n == 1 ? parts[0] : xstrdup("''");
}

static char *
row_text(const struct vtable *t, int side, enum dms_engine e, bool prefix_all)
{
	struct strbuf sb = STRBUF_INIT;
	char **runs = xcalloc((size_t)t->ncols + 1, sizeof(*runs)), *row;
	int last = -1, n = 0, nruns = 0;
	bool pg = e == ENGINE_PG;

	for (int i = 0; i < t->ncols && !prefix_all; i++)
		if (vclass_is_text(t->cols[i].cls))
			last = i;
	if (!pg)
		sb_adds(&sb, "CONCAT(");
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < t->ncols; i++) {
			const struct vcol *c = &t->cols[i];

			if (vclass_is_text(c->cls) != (pass == 1))
				continue;
			if (pg && n > 0 && n % PG_RUN == 0) {
				runs[nruns++] = sb.buf;	/* a new run; concat() adds the comma */
				sb_init(&sb);
			} else if (n > 0) {
				sb_adds(&sb, pg ? " || ',' || " : ", ',', ");
			}
			if (pg)
				sb_adds(&sb, "(");
			row_part(&sb, c, side, pg, i != last);
			if (pg)
				sb_adds(&sb, ")");
			n++;
		}
	if (!pg) {
		sb_adds(&sb, n ? ")" : "'')");
		free(runs);
		return sb.buf;
	}
	if (n > 0)
		runs[nruns++] = sb.buf;
	else
		sb_release(&sb);
	row = pg_concat(runs, nruns);
	free(runs);
	return row;
}

static void
build_sql(struct vtable *t, enum dms_engine e[2])
{
	for (int side = S; side <= T; side++) {
		struct strbuf sb = STRBUF_INIT;
		char *row;
		bool pg = e[side] == ENGINE_PG;

		if (t->native) {
			/* both PostgreSQL, same types: the row's own text is canonical */
			sb_adds(&sb, "ROW(");
			for (int c = 0; c < t->ncols; c++)
				sb_addf(&sb, "%s%s", c ? ", " : "", t->cols[c].q[side]);
			sb_adds(&sb, ")::text");
			row = sb.buf;
			sb_init(&sb);
			sb_addf(&sb, "count(*), coalesce(sum(hashtextextended(%s, 0)), 0)", row);
		} else if (t->ordered) {
			/* keys both engines order alike: one MD5 of the rows' texts in key order */
			row = row_text(t, side, e[side], true);
			/*
			 * A range of the key is read along the key's index, in key order
			 * (PostgreSQL sessions turn sequential and bitmap scans off); were it
			 * not, the checksums would differ and the partition be narrowed.
			 */
			if (pg)
				/* the same aggregate twice is computed once; its length sizes vwarm() */
				sb_addf(&sb, "count(*), coalesce(md5(string_agg(%s, ';')), ''), "
					     "octet_length(string_agg(%s, ';'))", row, row);
			else
				sb_addf(&sb, "COUNT(*), COALESCE(MD5(GROUP_CONCAT(%s SEPARATOR ';')), '')", row);
		} else {
			row = row_text(t, side, e[side], false);
			sb_addf(&sb, pg ? "count(*), coalesce(sum(('x' || left(md5(%s), 15))::bit(60)::bigint), 0)"
					: "COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(%s), 15), 16, 10) AS UNSIGNED)), 0)",
				row);
		}
		t->sum[side] = sb.buf;
		sb_init(&sb);
		sb_addf(&sb, pg ? "md5(%s) AS h" : "MD5(%s) AS h", row);
		t->hash[side] = sb.buf;
		free(row);
		sb_init(&sb);
		/* aliased: ORDER BY a name would find a select-list column of that name first */
		for (int k = 0; k < t->nkey; k++)
			sb_addf(&sb, "%s%s AS k%d", k ? ", " : "", t->cols[t->key[k]].keytext[side], k);
		t->keysel[side] = sb.buf;
		sb_init(&sb);
		for (int k = 0; k < t->nkey; k++)
			sb_addf(&sb, "%s%s", k ? ", " : "", t->cols[t->key[k]].term[side]);
		t->orderby[side] = sb.buf;
		sb_init(&sb);
		for (int c = 0; c < t->ncols; c++)
			sb_addf(&sb, "%s%s AS c%d, %s AS d%d", c ? ", " : "", t->cols[c].canon[side], c,
				t->cols[c].disp[side], c);
		if (t->ncols == 0)
			sb_adds(&sb, "NULL, NULL");
		t->rowsel[side] = sb.buf;
	}
}

static void
table_error(struct vtable *t, const char *state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
table_error(struct vtable *t, const char *state, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->ready = false;
	t->state = state;
	free(t->details);
	t->details = xstrdup(buf);
}

/* PostgreSQL: the oid of schema.name on the target; MySQL needs none. */
static bool
find_target(struct prep *p, struct vtable *t, struct src_name *nm, bool *found)
{
	struct vconn *c = &p->run->ctl;
	struct strbuf sql = STRBUF_INIT;
	struct vrows r;
	bool ok;

	memset(nm, 0, sizeof(*nm));
	nm->schema = t->tschema;
	nm->name = t->tname;
	if (c->engine == ENGINE_PG) {
		sb_adds(&sql, "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			      "WHERE c.relkind IN ('r', 'p') AND n.nspname = ");
		vliteral(&sql, t->tschema);
		sb_adds(&sql, " AND c.relname = ");
		vliteral(&sql, t->tname);
	} else {
		sb_adds(&sql, "SELECT 0 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
		vliteral(&sql, t->tschema);
		sb_adds(&sql, " AND TABLE_NAME = ");
		vliteral(&sql, t->tname);
	}
	ok = vquery(c, sql.buf, &r);
	sb_release(&sql);
	if (!ok)
		return false;
	*found = r.nrows > 0;
	if (*found)
		nm->oid = strtoll(vcell(&r, 0, 0, NULL), NULL, 10);
	vrows_free(&r);
	return true;
}

/* false: an error that ends the run (status set); a table that cannot be validated only says so in its state. */
static bool
prepare_table(struct prep *p, const struct src_name *nm, struct vtable *t)
{
	struct vrun *run = p->run;
	const struct vopts *o = run->o;
	struct src_table st = { 0 }, tt = { 0 };
	struct rules_shape shape = { 0 };
	struct src_name tn;
	bool found, ok = true, native = true, lob = false;
	struct vrows utf8[2] = { 0 };
	enum dms_engine e[2] = { run->eng[S], run->eng[T] };

	t->owner = xstrdup(nm->schema);
	t->name = xstrdup(nm->name);
	t->state = "Pending validation";
	if (!p->ops[S]->describe(&p->src[S], nm, &st)) {
		run->status = EXIT_SOURCE;
		return false;
	}
	/* no primary key: the first unique index of NOT NULL columns, as DMS does */
	if (st.nkey == 0) {
		const int *cols;
		int n = src_table_row_key(&st, &cols);

		int *key = xcalloc((size_t)n + 1, sizeof(int));

		memcpy(key, cols, (size_t)n * sizeof(int));
		free(st.key);
		st.key = key;
		st.nkey = n;
	}
	if (p->rules) {
		if (mapped_shape(p->rules, &st, e[S], &shape) != EXIT_OK) {
			run->status = EXIT_USAGE;
			src_table_free(&st);
			return false;
		}
	} else {
		shape.schema = xstrdup(st.schema);
		shape.name = xstrdup(st.name);
		shape.ncols = st.ncols;
		shape.cols = xcalloc((size_t)st.ncols + 1, sizeof(*shape.cols));
		for (int i = 0; i < st.ncols; i++) {
			shape.cols[i].name = xstrdup(st.cols[i].name);
			shape.cols[i].src = i;
		}
		shape.nkey = st.nkey;
		shape.key = xcalloc((size_t)st.nkey + 1, sizeof(int));
		memcpy(shape.key, st.key, (size_t)st.nkey * sizeof(int));
	}
	if (o->settings->target_schema)
		t->tschema = xstrdup(o->settings->target_schema);
	else if (e[T] == ENGINE_MYSQL)
		t->tschema = xstrdup(run->ctl.my.dbname);
	else
		t->tschema = xstrdup(shape.schema);
	t->tname = xstrdup(shape.name);
	t->label = xprintf("%s.%s", t->owner, t->name);
	if (strcmp(t->owner, t->tschema) != 0 || strcmp(t->name, t->tname) != 0) {
		char *l = t->label;

		t->label = xprintf("%s (target %s.%s)", l, t->tschema, t->tname);
		free(l);
	}
	/* no key: the table is compared whole (count, an order-free hash, the rows when few) */
	t->keyless = shape.nkey == 0;
	if (!find_target(p, t, &tn, &found)) {
		run->status = EXIT_TARGET;
		ok = false;
		goto done;
	}
	if (!found) {
		table_error(t, "Table error", "the target has no table %s.%s", t->tschema, t->tname);
		t->missing = true;
		goto done;
	}
	if (!p->ops[T]->describe(&p->src[T], &tn, &tt)) {
		run->status = EXIT_TARGET;
		ok = false;
		goto done;
	}
	t->filter = mapping_filter_sql(o->mapping, st.schema, st.name, src_ident_cb, src_literal_cb, p);
	t->from[S] = src_table_qualified(&st, p->ops[S]->quote_ident);
	t->from[T] = qualified(&run->ctl, t->tschema, t->tname);
	t->cols = xcalloc((size_t)shape.ncols + 1, sizeof(*t->cols));
	t->key = xcalloc((size_t)shape.nkey + 1, sizeof(int));
	if ((e[S] == ENGINE_MYSQL && !utf8_columns(p->src[S].conn, st.schema, st.name, &utf8[S])) ||
	    (e[T] == ENGINE_MYSQL && !utf8_columns(p->src[T].conn, t->tschema, t->tname, &utf8[T]))) {
		run->status = e[S] == ENGINE_MYSQL && utf8[S].off == NULL ? EXIT_SOURCE : EXIT_TARGET;
		ok = false;
		goto done;
	}
	{
		int *map = xcalloc((size_t)shape.ncols + 1, sizeof(int));

		for (int i = 0; i < shape.ncols; i++) {
			const struct shape_column *sc = &shape.cols[i];
			const struct src_column *s, *d;
			struct vcol *c;
			const struct mapping_rule *vr;
			int ti;
			char *qs, *qt;
			struct strbuf x = STRBUF_INIT;
			int64_t partial = o->settings->validation_partial_lob_size * 1024;

			map[i] = -1;
			if (sc->src < 0) {
				log_info("%s: column %s is not compared: %s", t->label, sc->name, sc->why);
				continue;
			}
			s = &st.cols[sc->src];
			if (o->settings->skip_lob_columns && dms_type_is_lob(s->type)) {
				log_info("%s: LOB column %s is not compared (SkipLobColumns)", t->label, sc->name);
				continue;
			}
			ti = target_column(&tt, sc->name);
			if (ti < 0) {
				table_error(t, "Table error", "the target table %s.%s has no column %s", t->tschema,
					    t->tname, sc->name);
				t->missing = true;
				free(map);
				goto done;
			}
			d = &tt.cols[ti];
			map[i] = t->ncols;
			c = &t->cols[t->ncols++];
			c->name = xstrdup(sc->name);
			c->cls = vclass_of(s->type);
			qs = p->ops[S]->quote_ident(s->name);
			qt = p->ops[T]->quote_ident(d->name);
			vr = validation_rule(o->mapping, st.schema, st.name, s->name, dms_type_name(s->type));
			if (vr && vr->source_fn)
				override_expr(&x, e[S], vr->source_fn, qs);
			else
				canon_expr(&x, e[S], c->cls, s->type, s->native, qs, partial,
					   utf8_column(&utf8[S], s->name));
			c->canon[S] = x.buf;
			sb_init(&x);
			if (vr && vr->target_fn)
				override_expr(&x, e[T], vr->target_fn, qt);
			else
				canon_expr(&x, e[T], c->cls, d->type, d->native, qt, partial,
					   utf8_column(&utf8[T], d->name));
			c->canon[T] = x.buf;
			if (!vr && c->cls == VC_TEXT && fixed_char(s->native)) {
				/* char(n): trailing spaces are padding, whichever side keeps them */
				for (int side = S; side <= T; side++) {
					char *inner = c->canon[side];

					if (fixed_char(side == S ? s->native : d->native))
						continue;	/* the engine strips the padding itself */

					c->canon[side] = xprintf(e[side] == ENGINE_PG ? "rtrim(%s, ' ')"
										      : "TRIM(TRAILING ' ' FROM %s)", inner);
					free(inner);
				}
			}
			if (vr) {
				c->cls = VC_OTHER;
				log_info("%s: column %s compared with rule %s's functions", t->label, sc->name,
					 vr->id_text);
			}
			lob |= dms_type_is_lob(s->type) || dms_type_is_lob(d->type);
			c->nullable[S] = s->nullable;
			c->nullable[T] = d->nullable;
			if (vr || partial > 0 || s->native == NULL || d->native == NULL ||
			    strcmp(s->native, d->native) != 0)
				native = false;
			for (int side = S; side <= T; side++) {
				const char *q = side == S ? qs : qt;
				enum dms_type ty = side == S ? s->type : d->type;
				const char *nat = side == S ? s->native : d->native;

				c->q[side] = xstrdup(q);
				/* MySQL integers: CONCAT() prints them as the canonical text does */
				if (!vr && e[side] == ENGINE_MYSQL && c->cls == VC_NUM && nat &&
				    strncmp(nat, "decimal", 7) != 0 && strncmp(nat, "bit", 3) != 0)
					c->rowpart[side] = xstrdup(q);

				sb_init(&x);
				if (c->cls == VC_DATETIME || c->cls == VC_TIME)
					key_expr(&x, e[side], c->cls, ty, q, false);
				else
					sb_adds(&x, c->canon[side]);
				c->disp[side] = x.buf;
				sb_init(&x);
				key_expr(&x, e[side], c->cls, ty, q, false);
				c->keytext[side] = x.buf;
				sb_init(&x);
				if (c->cls == VC_TEXT && o->settings->handle_collation_diff)
					key_expr(&x, e[side], c->cls, ty, q, true);
				else
					sb_adds(&x, q);
				c->term[side] = x.buf;
			}
			free(qs);
			free(qt);
		}
		for (int k = 0; k < shape.nkey; k++) {
			int c = map[shape.key[k]];

			if (c < 0) {
				table_error(t, "Table error", "key column %s is not compared", shape.cols[shape.key[k]].name);
				free(map);
				goto done;
			}
			if (!vclass_keyable(t->cols[c].cls)) {
				table_error(t, "Table error", "key column %s: its type cannot be a validation key",
					    t->cols[c].name);
				free(map);
				goto done;
			}
			t->key[t->nkey++] = c;
		}
		free(map);
	}
	t->native = native && e[S] == ENGINE_PG && e[T] == ENGINE_PG;
	t->ordered = !lob && !o->settings->handle_collation_diff && !t->keyless;
	for (int k = 0; k < t->nkey; k++) {
		enum vclass kc = t->cols[t->key[k]].cls;

		if (kc != VC_NUM && kc != VC_DATE && kc != VC_DATETIME && kc != VC_TIME)
			t->ordered = false;
	}
	build_sql(t, e);
	log_debug("%s: source checksum: SELECT %s FROM %s", t->label, t->sum[S], t->from[S]);
	log_debug("%s: target checksum: SELECT %s FROM %s", t->label, t->sum[T], t->from[T]);
	t->ready = true;
done:
	vrows_free(&utf8[S]);
	vrows_free(&utf8[T]);
	src_table_free(&st);
	src_table_free(&tt);
	rules_shape_free(&shape);
	return ok;
}

/* ---- the run ---- */

static void
summary(struct vrun *run)
{
	int validated = 0, mismatched = 0, other = 0;

	for (int i = 0; i < run->ntables; i++) {
		struct vtable *t = &run->tables[i];
		const char *state = t->state ? t->state : "Pending validation";

		if (strcmp(state, "Validated") == 0)
			validated++;
		else if (strcmp(state, "Mismatched records") == 0)
			mismatched++;
		else
			other++;
		if (!log_enabled(LOG_WARNING))
			continue;
		fprintf(stderr, "%s: %s: %s, %" PRId64 " rows", log_progname(), t->label, state, t->rows);
		if (t->failed)
			fprintf(stderr, ", %" PRId64 " failed (RECORD_DIFF %" PRId64 ", MISSING_SOURCE %" PRId64
					", MISSING_TARGET %" PRId64 ")",
				t->failed, t->kinds[F_DIFF], t->kinds[F_MISSING_SOURCE], t->kinds[F_MISSING_TARGET]);
		if (t->details)
			fprintf(stderr, "; %s", t->details);
		fprintf(stderr, "\n");
	}
	if (log_enabled(LOG_WARNING))
		fprintf(stderr, "%s: %d tables: %d validated, %d with differences, %d not validated; "
				"%" PRId64 " failures, %" PRId64 " rows in %.1f s\n",
			log_progname(), run->ntables, validated, mismatched, other, run->failures,
			run->rows_done, elapsed(&run->start));
}

int
validate_run(const struct vopts *o)
{
	struct vrun run = { .o = o };
	struct prep p = { 0 };
	struct src_name *names = NULL;
	int nnames = 0, nworkers, not_compared = 0;
	struct worker *workers = NULL;
	bool differ = false;

	clock_gettime(CLOCK_MONOTONIC, &run.start);
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.done, NULL);
	p.run = &run;
	run.eng[S] = uri_engine(o->source_uri);
	run.eng[T] = uri_engine(o->target_uri);
	p.ops[S] = run.eng[S] == ENGINE_PG ? &pg_source_ops : &my_source_ops;
	p.ops[T] = run.eng[T] == ENGINE_PG ? &pg_source_ops : &my_source_ops;
	if (!p.ops[S]->connect(&p.src[S], o->source_uri)) {
		run.status = EXIT_SOURCE;
		goto done;
	}
	if (!vconnect(&run.ctl, o->target_uri) || !p.ops[T]->connect(&p.src[T], o->target_uri)) {
		run.status = EXIT_TARGET;
		goto done;
	}
	if (run.eng[T] == ENGINE_MYSQL && run.ctl.my.dbname == NULL && o->settings->target_schema == NULL) {
		log_error("%s: the URI names no database (mysql://host/database) and no TargetSchema is set",
			  run.ctl.label);
		run.status = EXIT_USAGE;
		goto done;
	}
	if (!control_tables(&run)) {
		run.status = EXIT_TARGET;
		goto done;
	}
	if (o->mapping) {
		p.rules = rules_new(o->mapping);
		if (p.rules == NULL) {
			run.status = EXIT_USAGE;
			goto done;
		}
	}
	/* a source that is also a target has dms's control tables: never data to validate */
	p.src[S].mapping = o->mapping;
	if (!catalog_select(p.ops[S], &p.src[S], o->settings->control_schema, &names, &nnames)) {
		run.status = EXIT_SOURCE;
		goto done;
	}
	run.tables = xcalloc((size_t)nnames + 1, sizeof(*run.tables));
	for (int i = 0; i < nnames; i++) {
		struct vtable *t;

		t = &run.tables[run.ntables++];
		t->estimate = names[i].estimated_rows;
		if (!prepare_table(&p, &names[i], t) || !start_table(&run, t)) {
			if (run.status == 0)
				run.status = EXIT_TARGET;
			goto done;
		}
		if (!t->ready && !t->finished)
			stats_write_locked(&run, t, NULL);
		if (!t->ready && t->state && strcmp(t->state, "Table error") == 0)
			log_error("%s: %s", t->label, t->details);
		else if (!t->ready)
			log_warn("%s: %s: %s", t->label, t->state, t->details);
	}
	if (run.ntables == 0)
		log_warn("no table to validate: the source has none that the mapping selects");
	nworkers = o->settings->thread_count;
	workers = xcalloc((size_t)nworkers + 1, sizeof(*workers));
	for (int i = 0; i < nworkers; i++) {
		workers[i].run = &run;
		if (!vconnect(&workers[i].c[S], o->source_uri)) {
			run.status = EXIT_SOURCE;
			nworkers = i;
			break;
		}
		if (!vconnect(&workers[i].c[T], o->target_uri)) {
			vdisconnect(&workers[i].c[S]);
			run.status = EXIT_TARGET;
			nworkers = i;
			break;
		}
	}
	if (run.status != 0)
		run.stop = true;
	for (int i = 0; i < nworkers; i++)
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
	wait_workers(&run, nworkers);
	for (int i = 0; i < nworkers; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].status > run.status)
			run.status = workers[i].status;
		vdisconnect(&workers[i].c[S]);
		vdisconnect(&workers[i].c[T]);
		sb_release(&workers[i].failures);
	}
	for (int i = 0; i < run.ntables; i++) {
		struct vtable *t = &run.tables[i];

		if (t->ready && !t->finished) {
			/* stopped by FailureMaxCount or a signal: resumable */
			t->state = t->failed ? "Mismatched records" : "Pending records";
			if (run.stop && t->details == NULL)
				t->details = xstrdup("validation suspended before the end of the table");
			stats_write_locked(&run, t, resume_point_locked(t));
		}
		if (t->failed > 0 || t->missing)
			differ = true;
		else if (t->state && strcmp(t->state, "Validated") && strcmp(t->state, "Mismatched records") &&
			 strcmp(t->state, "Pending records"))
			not_compared++;
	}
	summary(&run);
	if (not_compared > 0) {
		/* a table that could not be compared is never reported as equal */
		log_error("%d tables could not be compared (their state above says why)", not_compared);
		differ = true;
	}
done:
	for (int i = 0; i < run.ntables; i++) {
		struct vtable *t = &run.tables[i];

		for (int c = 0; c < t->ncols; c++) {
			for (int side = S; side <= T; side++) {
				free(t->cols[c].canon[side]);
				free(t->cols[c].disp[side]);
				free(t->cols[c].keytext[side]);
				free(t->cols[c].term[side]);
				free(t->cols[c].q[side]);
				free(t->cols[c].rowpart[side]);
			}
			free(t->cols[c].name);
		}
		for (int side = S; side <= T; side++) {
			free(t->from[side]);
			free(t->sum[side]);
			free(t->hash[side]);
			free(t->keysel[side]);
			free(t->orderby[side]);
			free(t->rowsel[side]);
		}
		for (int k = 0; k < t->ninflight; k++)
			keys_free(t->inflight[k].lo, t->nkey);
		free(t->inflight);
		keys_free(t->cursor, t->nkey);
		free(t->cols);
		free(t->key);
		free(t->owner);
		free(t->name);
		free(t->tschema);
		free(t->tname);
		free(t->label);
		free(t->filter);
		free(t->details);
	}
	free(run.tables);
	free(workers);
	for (int i = 0; i < nnames; i++) {
		free(names[i].schema);
		free(names[i].name);
	}
	free(names);
	rules_free(p.rules);
	if (p.src[S].conn)
		p.ops[S]->disconnect(&p.src[S]);
	if (p.src[T].conn)
		p.ops[T]->disconnect(&p.src[T]);
	if (run.ctl.engine != ENGINE_NONE)
		vdisconnect(&run.ctl);
	free(run.ctl_failures);
	free(run.ctl_stats);
	pthread_mutex_destroy(&run.lock);
	pthread_cond_destroy(&run.done);
	if (run.status != 0)
		return run.status;
	if (differ)
		return EXIT_RUNTIME;
	return sig_drain || sig_stop ? EXIT_INCOMPLETE : EXIT_OK;
}
