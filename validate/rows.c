/*
 * validate/rows.c: comparing a partition, narrowing it to its differing rows, keyless tables (see compare.h).
 */
#include "compare.h"

/* ---- comparing rows ---- */

bool
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
bool
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

void
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
bool
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
bool
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
bool
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
bool
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


/* A keyless row for the failures: its values by column name. */
json_t *
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
bool
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
bool
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
