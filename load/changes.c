/*
 * load/changes.c: the statements of a change (INSERT, UPDATE, DELETE,
 * TRUNCATE) on the target: built with their values as literals or
 * parameters, sent one at a time or down a pipeline, their conflicts and
 * refusals under the apply error policies and DataErrorPolicy; in batch mode
 * a change goes to its table's net change instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/dms.h"

/* Whether messages about the change in hand were given already (a replay goes over them again). */
static bool
quiet(void)
{
	return ap.cur <= ap.quiet_until;
}

/* ---- statements ---- */

/* The values array at v[0..len) as one item per column; false when it is not one. */
static bool
row_items(const uint8_t *v, size_t len, uint32_t n, struct mp_item *out)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, v, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY || it.v.n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (mp_next(&c, &out[i]) != MP_OK)
			return false;
	return true;
}

/* A data error (the target cannot hold a value): the data error policy decides. */
static enum change_result
data_error(struct ttable *t, struct atable *a, const char *sql, const char *key, const char *error,
	   bool truncation)
{
	enum error_policy p = truncation ? ap.l->settings->data_truncation_policy
					 : ap.l->settings->data_error_policy;

	switch (p) {
	case POLICY_IGNORE_RECORD:
		if (!quiet())
			log_warn("%s.%s%s%s: change ignored (IGNORE_RECORD): %s", t->schema, t->name,
				 key[0] ? " key " : "", key, error);
		ap.ignored++;
		return CH_OK;
	case POLICY_LOG_ERROR:
		if (!quiet())
			log_warn("%s.%s%s%s: change not applied, logged to the exceptions table: %s", t->schema,
				 t->name, key[0] ? " key " : "", key, error);
		ap.exceptions++;
		a->n.exceptions++;
		if (!ap.l->ops->exception(ap.l, t, key, sql, error)) {
			ap.status = EXIT_TARGET;
			return CH_FATAL;
		}
		return CH_OK;
	case POLICY_SUSPEND_TABLE:
		log_error("%s.%s%s%s: %s; the table is suspended (SUSPEND_TABLE): its later changes are not applied",
			  t->schema, t->name, key[0] ? " key " : "", key, error);
		a->suspended = true;
		return CH_OK;
	default:
		log_error("%s.%s%s%s: %s; stopping (STOP_TASK)", t->schema, t->name, key[0] ? " key " : "",
			  key, error);
		ap.status = EXIT_RUNTIME;
		return CH_FATAL;
	}
}

/*
 * The parameters of the statement in hand, where the target takes them
 * (PostgreSQL, outside careful mode): their texts one after another, each
 * with its NUL; a statement of the same text is then prepared once.
 */
static struct {
	struct strbuf buf;
	size_t *off;		/* SIZE_MAX: NULL */
	const char **ptr;
	int n, cap;
} P;

static bool
params_on(void)
{
	return ap.l->ops->param != NULL && !ap.careful;
}

static void
params_reset(void)
{
	sb_reset(&P.buf);
	P.n = 0;
}

/* The parameters as apply_sql takes them; NULL when the statement has none. */
static const char *const *
params(void)
{
	if (P.n == 0)
		return NULL;
	for (int i = 0; i < P.n; i++)
		P.ptr[i] = P.off[i] == SIZE_MAX ? NULL : P.buf.buf + P.off[i];
	return P.ptr;
}

/* A statement as people read it: its text, and its n parameters' values (at off in pbuf). */
static char *
render(const char *sql, const char *pbuf, const size_t *off, int n)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, sql);
	for (int i = 0; i < n; i++) {
		sb_addf(&sb, "%s$%d = ", i ? ", " : " -- ", i + 1);
		if (off[i] == SIZE_MAX)
			sb_adds(&sb, "NULL");
		else
			sb_addf(&sb, "'%.200s'", pbuf + off[i]);
	}
	return sb.buf;
}

/* The statement in hand as people read it. */
static char *
shown(const struct strbuf *sql)
{
	return render(sql->buf, P.buf.buf, P.off, P.n);
}

/*
 * Runs a change statement: CH_OK with *rows, or a refusal under the data
 * error policy (*refused set), or CH_REDO when the group must be replayed
 * carefully, or CH_FATAL.
 */
static enum change_result
run(struct ttable *t, struct atable *a, const struct strbuf *sql, const char *key, uint64_t *rows,
    bool *refused)
{
	struct loader *l = ap.l;
	char err[1024];
	bool truncation;
	int rc;
	uint64_t dummy;

	*refused = false;
	if (ap.careful && !l->ops->stmt_atomic) {
		struct strbuf wrapped = STRBUF_INIT;

		sb_addf(&wrapped, "SAVEPOINT dms_change; %s; RELEASE SAVEPOINT dms_change", sql->buf);
		rc = l->ops->apply_sql(l, wrapped.buf, 0, NULL, rows, err, sizeof(err), &truncation);
		sb_release(&wrapped);
		if (rc == LOAD_REFUSED &&
		    l->ops->apply_sql(l, "ROLLBACK TO SAVEPOINT dms_change", 0, NULL, &dummy, err, sizeof(err),
				      &truncation) != LOAD_DONE)
			rc = LOAD_FAILED;
	} else {
		rc = l->ops->apply_sql(l, sql->buf, P.n, params(), rows, err, sizeof(err), &truncation);
	}
	if (rc == LOAD_DONE)
		return CH_OK;
	if (rc == LOAD_FAILED) {
		ap.status = EXIT_TARGET;
		return CH_FATAL;
	}
	if (!ap.careful && !l->ops->stmt_atomic)
		return CH_REDO;
	*refused = true;
	{
		char *text = shown(sql);
		enum change_result r = data_error(t, a, text, key, err, truncation);

		free(text);
		return r;
	}
}

/* A conflict (the key exists, or no row has it): the apply error policy decides. */
static enum change_result
conflict(struct ttable *t, struct atable *a, enum error_policy p, const char *sql, const char *key,
	 const char *what)
{
	const char *policy;

	a->conflicts++;
	if (ap.l->settings->apply_escalation_count > 0 && a->conflicts > (uint64_t)ap.l->settings->apply_escalation_count &&
	    ap.l->settings->apply_escalation_policy != POLICY_LOG_ERROR) {
		p = ap.l->settings->apply_escalation_policy;
		log_warn("%s.%s: more than %" PRId64 " apply conflicts: ApplyErrorEscalationPolicy %s", t->schema,
			 t->name, ap.l->settings->apply_escalation_count, error_policy_name(p));
	}
	policy = error_policy_name(p);
	switch (p) {
	case POLICY_IGNORE_RECORD:
		log_debug("%s.%s key %s: %s: ignored (%s)", t->schema, t->name, key, what, policy);
		ap.ignored++;
		return CH_OK;
	case POLICY_SUSPEND_TABLE:
		log_error("%s.%s key %s: %s; the table is suspended (SUSPEND_TABLE)", t->schema, t->name, key, what);
		a->suspended = true;
		return CH_OK;
	case POLICY_STOP_TASK:
		log_error("%s.%s key %s: %s; stopping (STOP_TASK)", t->schema, t->name, key, what);
		ap.status = EXIT_RUNTIME;
		return CH_FATAL;
	default:
		if (!quiet())
			log_warn("%s.%s key %s: %s: logged to the exceptions table", t->schema, t->name, key, what);
		ap.exceptions++;
		a->n.exceptions++;
		if (!ap.l->ops->exception(ap.l, t, key, sql, what)) {
			ap.status = EXIT_TARGET;
			return CH_FATAL;
		}
		return CH_OK;
	}
}

/* Appends value i of the row as a literal or a parameter; false (a data error) with err set. */
static bool
lit(struct strbuf *sql, struct ttable *t, int i, const struct mp_item *v, const uint8_t *values,
    size_t len, char *err, size_t errsize)
{
	size_t at = P.buf.len;
	bool null;

	if (!params_on())
		return ap.l->ops->literal(ap.l, t, &t->cols[i], &v[i], values, len, sql, err, errsize);
	if (P.n == P.cap) {
		P.cap = P.cap ? 2 * P.cap : 64;
		P.off = xrealloc(P.off, (size_t)P.cap * sizeof(*P.off));
		P.ptr = xrealloc(P.ptr, (size_t)P.cap * sizeof(*P.ptr));
	}
	if (!ap.l->ops->param(ap.l, t, &t->cols[i], &v[i], values, len, &P.buf, &null, err, errsize))
		return false;
	P.off[P.n++] = null ? SIZE_MAX : at;
	sb_addf(sql, "$%d", P.n);
	return true;
}

/* "c1 = v1 AND ..." over the key, or over every column NULL-safe for a table without one. */
static bool
where(struct strbuf *sql, struct ttable *t, const struct mp_item *v, const uint8_t *values, size_t len,
      char *err, size_t errsize)
{
	const struct dms_table *s = t->src;
	bool first = true;

	for (uint32_t k = 0; k < (s->nkey ? s->nkey : s->ncols); k++) {
		int i = s->nkey ? (int)s->key[k] : (int)k;

		if (t->cols[i].skip)
			continue;
		if (mp_is_unchanged(&v[i])) {
			snprintf(err, errsize, "column %s: the old image has no value", t->cols[i].src->name);
			return false;
		}
		sb_addf(sql, "%s%s %s ", first ? "" : " AND ", t->cols[i].quoted,
			s->nkey ? "=" : ap.l->engine == ENGINE_PG ? "IS NOT DISTINCT FROM" : "<=>");
		first = false;
		if (!lit(sql, t, i, v, values, len, err, errsize))
			return false;
	}
	return true;
}

static bool
is_key(const struct dms_table *s, int i)
{
	for (uint32_t k = 0; k < s->nkey; k++)
		if ((int)s->key[k] == i)
			return true;
	return false;
}

/* INSERT of the values not UNCHANGED; upsert: on a key that exists, its row takes them. */
static bool
insert_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *v, const uint8_t *values,
	   size_t len, bool upsert, char *err, size_t errsize)
{
	const struct dms_table *s = t->src;
	struct strbuf set = STRBUF_INIT;
	bool first = true, ok = true;

	params_reset();
	sb_addf(sql, "INSERT INTO %s (", t->qname);
	for (int i = 0; i < t->ncols; i++) {
		const char *q = t->cols[i].quoted;

		if (t->cols[i].skip || mp_is_unchanged(&v[i]))
			continue;
		sb_addf(sql, "%s%s", first ? "" : ", ", q);
		if (upsert && !is_key(s, i))
			sb_addf(&set, "%s%s = %s%s%s", set.len ? ", " : "", q,
				ap.l->engine == ENGINE_PG ? "EXCLUDED." : "VALUES(", q,
				ap.l->engine == ENGINE_PG ? "" : ")");
		first = false;
	}
	sb_adds(sql, ") VALUES (");
	first = true;
	for (int i = 0; ok && i < t->ncols; i++) {
		if (t->cols[i].skip || mp_is_unchanged(&v[i]))
			continue;
		if (!first)
			sb_adds(sql, ", ");
		first = false;
		ok = lit(sql, t, i, v, values, len, err, errsize);
	}
	sb_adds(sql, ")");
	if (s->nkey > 0 && ap.l->engine == ENGINE_PG) {
		if (upsert && set.len) {
			sb_adds(sql, " ON CONFLICT (");
			for (uint32_t k = 0; k < s->nkey; k++)
				sb_addf(sql, "%s%s", k ? ", " : "", t->cols[s->key[k]].quoted);
			sb_addf(sql, ") DO UPDATE SET %s", set.buf);
		} else {
			sb_adds(sql, " ON CONFLICT DO NOTHING");
		}
	} else if (s->nkey > 0) {
		const char *q = t->cols[s->key[0]].quoted;

		if (upsert && set.len)
			sb_addf(sql, " ON DUPLICATE KEY UPDATE %s", set.buf);
		else
			sb_addf(sql, " ON DUPLICATE KEY UPDATE %s = %s", q, q);
	}
	sb_release(&set);
	return ok;
}

/*
 * UPDATE ... SET the new values not UNCHANGED WHERE the old key (same_key: the
 * key did not change, and is not set); *empty: nothing to set.
 */
static bool
update_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *nv, const struct mp_item *ov,
	   const uint8_t *values, size_t len, const uint8_t *old, size_t oldlen, bool same_key, bool *empty,
	   char *err, size_t errsize)
{
	bool first = true;

	params_reset();
	sb_addf(sql, "UPDATE %s SET ", t->qname);
	for (int i = 0; i < t->ncols; i++) {
		if (t->cols[i].skip || mp_is_unchanged(&nv[i]) || (same_key && is_key(t->src, i)))
			continue;
		sb_addf(sql, "%s%s = ", first ? "" : ", ", t->cols[i].quoted);
		first = false;
		if (!lit(sql, t, i, nv, values, len, err, errsize))
			return false;
	}
	*empty = first;
	if (t->src->nkey == 0 && ap.l->engine == ENGINE_PG) {
		sb_addf(sql, " WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname);
		if (!where(sql, t, ov, old, oldlen, err, errsize))
			return false;
		sb_adds(sql, " LIMIT 1)");
		return true;
	}
	sb_adds(sql, " WHERE ");
	if (!where(sql, t, ov, old, oldlen, err, errsize))
		return false;
	if (t->src->nkey == 0)
		sb_adds(sql, " LIMIT 1");
	return true;
}

static bool
delete_sql(struct strbuf *sql, struct ttable *t, const struct mp_item *ov, const uint8_t *old,
	   size_t oldlen, char *err, size_t errsize)
{
	params_reset();
	if (t->src->nkey == 0 && ap.l->engine == ENGINE_PG) {
		sb_addf(sql, "DELETE FROM %s WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname, t->qname);
		if (!where(sql, t, ov, old, oldlen, err, errsize))
			return false;
		sb_adds(sql, " LIMIT 1)");
		return true;
	}
	sb_addf(sql, "DELETE FROM %s WHERE ", t->qname);
	if (!where(sql, t, ov, old, oldlen, err, errsize))
		return false;
	if (t->src->nkey == 0)
		sb_adds(sql, " LIMIT 1");
	return true;
}

void
ap_pending_clear(void)
{
	for (size_t i = 0; i < ap.npend; i++) {
		free(ap.pend[i].sql);
		free(ap.pend[i].key);
		free(ap.pend[i].pbuf);
		free(ap.pend[i].poff);
		free(ap.pend[i].err);
	}
	ap.npend = ap.done = 0;
}

static bool
pipelining(void)
{
	return ap.pipe_ok && !ap.careful && !ap.batch && ap.l->ops->apply_send != NULL;
}

void
ap_pipe_done(void *arg, int rc, uint64_t rows, const char *err, bool truncation)
{
	struct pending *p;

	(void)arg;
	if (ap.done >= ap.npend)
		return;
	p = &ap.pend[ap.done++];
	p->rc = rc;
	p->rows = rows;
	p->err = err ? xstrdup(err) : NULL;
	p->truncation = truncation;
}

/*
 * The outcomes of the statements sent: conflicts follow their policies, in
 * order; a refusal rolls the group back and applies it again carefully.
 */
bool
ap_sync_pipeline(void)
{
	bool refused = false, ok = true;

	if (ap.npend == 0)
		return true;
	if (!ap.l->ops->apply_sync(ap.l, ap_pipe_done, NULL)) {
		ap.status = EXIT_TARGET;
		ap_pending_clear();
		return false;
	}
	for (size_t i = 0; i < ap.npend; i++)
		refused |= ap.pend[i].rc != LOAD_DONE;
	if (refused)
		return ap_redo();
	for (size_t i = 0; ok && i < ap.npend; i++) {
		struct pending *p = &ap.pend[i];

		if (p->what != NULL && p->rows == 0) {
			char *text = render(p->sql, p->pbuf, p->poff, p->pn);

			ap.cur = p->seq;
			ok = conflict(*ap.table(p->tid), &ap.at[p->tid], p->policy, text, p->key, p->what) == CH_OK;
			free(text);
		}
	}
	ap_pending_clear();
	return ok;
}

/*
 * Runs a change statement of table tid; when it matches no row, a conflict
 * named what (NULL: none can happen) under policy. Pipelined where it may be.
 */
static enum change_result
statement(int64_t tid, struct ttable *t, struct atable *a, const struct strbuf *sql, const char *key,
	  enum error_policy policy, const char *what)
{
	enum change_result r;
	uint64_t rows;
	bool refused;

	if (pipelining()) {
		struct pending *p;

		if (ap.npend == ap.cappend) {
			ap.cappend = ap.cappend ? 2 * ap.cappend : PIPELINE_DEPTH;
			ap.pend = xrealloc(ap.pend, ap.cappend * sizeof(*ap.pend));
		}
		p = &ap.pend[ap.npend++];
		memset(p, 0, sizeof(*p));
		p->tid = tid;
		p->seq = ap.cur;
		p->policy = policy;
		p->what = what;
		p->key = xstrdup(key);
		if (what != NULL) {	/* what a conflict's exception shows, rendered only then */
			p->sql = xstrdup(sql->buf);
			p->pn = P.n;
			p->pbuf = xmalloc(P.buf.len + 1);
			memcpy(p->pbuf, P.buf.buf ? P.buf.buf : "", P.buf.len);
			p->poff = xmalloc(((size_t)P.n + 1) * sizeof(*p->poff));
			memcpy(p->poff, P.off, (size_t)P.n * sizeof(*p->poff));
		}
		if (!ap.l->ops->apply_send(ap.l, sql->buf, P.n, params())) {
			ap.status = EXIT_TARGET;
			return CH_FATAL;
		}
		if (ap.npend >= PIPELINE_DEPTH && !ap_sync_pipeline())
			return CH_FATAL;
		return CH_OK;	/* (a redo in the sync applied this change too) */
	}
	if (ap.npend > 0) {	/* what was sent goes first */
		unsigned redos = ap.redos;

		if (!ap_sync_pipeline())
			return CH_FATAL;
		if (ap.redos != redos)
			return CH_OK;
	}
	r = run(t, a, sql, key, &rows, &refused);
	if (r == CH_OK && !refused && rows == 0 && what != NULL) {
		char *text = shown(sql);

		r = conflict(t, a, policy, text, key, what);
		free(text);
	}
	return r;
}

/* INSERT, UPDATE or DELETE. */
static enum change_result
apply_change(const struct dms_record *rec)
{
	struct ttable *t = *ap.table(rec->table->tid);
	struct atable *a = ap_atable(rec->table->tid);
	const struct task_settings *ss = ap.l->settings;
	uint32_t n = rec->table->ncols;
	/* the rows' items: on the stack for most tables (no allocation per change) */
	struct mp_item nbuf[64], obuf[64];
	struct mp_item *nv = n <= 64 ? nbuf : xcalloc(n, sizeof(*nv));
	struct mp_item *ov = n <= 64 ? obuf : xcalloc(n, sizeof(*ov));
	struct strbuf sql = STRBUF_INIT;
	char err[1024] = "", key[512] = "";
	const uint8_t *old = rec->kind == K_UPDATE ? rec->old_values : rec->values;
	size_t oldlen = rec->kind == K_UPDATE ? rec->old_values_len : rec->values_len;
	enum change_result r = CH_OK;
	uint64_t rows = 0;
	bool ok = true, refused = false, empty = false;

	if (a->suspended) {
		a->skipped++;
		goto done;
	}
	if (old == NULL) {	/* UPDATE without an old image: the key did not change */
		old = rec->values;
		oldlen = rec->values_len;
	}
	if (!row_items(rec->values, rec->values_len, n, nv) || !row_items(old, oldlen, n, ov)) {
		log_error("record %" PRIu64 ": %s of %s: its values are not one per column", rec->seq,
			  dms_kind_name(rec->kind), t->name);
		ap.status = EXIT_INPUT;
		r = CH_FATAL;
		goto done;
	}
	if (ap.batch && rec->table->nkey > 0) {
		size_t before;
		enum net_result nr;
		unsigned redos = ap.redos;

		if (a->net == NULL)
			a->net = net_new();
		before = net_bytes(a->net);
		nr = net_add(a->net, rec->table, rec->kind, rec->values, rec->values_len,
			     rec->kind == K_UPDATE ? rec->old_values : NULL,
			     rec->kind == K_UPDATE ? rec->old_values_len : 0);
		if (nr == NET_ADDED) {
			*(rec->kind == K_INSERT ? &a->n.inserts : rec->kind == K_UPDATE ? &a->n.updates : &a->n.deletes) += 1;
			ap.net_held += net_bytes(a->net) - before;
			if (ap.net_held > ap.net_memory && !ap_flush_nets())
				r = CH_FATAL;
			goto done;
		}
		/* UNCHANGED values: what is held goes first, then this change as a statement */
		if (!ap_flush_nets()) {
			r = CH_FATAL;
			goto done;
		}
		if (ap.redos != redos)
			goto done;	/* the replay applied this change too */
	}
	values_key_text(rec->table, old, oldlen, key, sizeof(key));
	if (rec->table->nkey == 0 && rec->kind != K_INSERT && !a->warned && (a->warned = true))
		log_warn("%s.%s has no key: its updates and deletes match every column of the old image, one row at a time",
			 t->schema, t->name);
	switch (rec->kind) {
	case K_INSERT:
		ok = insert_sql(&sql, t, nv, rec->values, rec->values_len,
				ss->apply_insert_policy == POLICY_INSERT_RECORD, err, sizeof(err));
		if (ok)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_insert_policy,
				      rec->table->nkey > 0 && ss->apply_insert_policy != POLICY_INSERT_RECORD
					      ? "INSERT: a row with this key exists on the target" : NULL);
		a->n.inserts++;
		break;
	case K_UPDATE:
		ok = update_sql(&sql, t, nv, ov, rec->values, rec->values_len, old, oldlen, old == rec->values,
				&empty, err, sizeof(err));
		if (ok && !empty && ss->apply_update_policy != POLICY_UPDATE_RECORD)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_update_policy,
				      "UPDATE: no row with this key on the target");
		else if (ok && !empty && (r = run(t, a, &sql, key, &rows, &refused)) == CH_OK && !refused && rows == 0) {
			{	/* UPDATE_RECORD: the row is inserted (never pipelined) */
				sb_reset(&sql);
				ok = insert_sql(&sql, t, nv, rec->values, rec->values_len, false, err, sizeof(err));
				if (ok)
					r = run(t, a, &sql, key, &rows, &refused);
			}
		}
		a->n.updates++;
		break;
	default:
		ok = delete_sql(&sql, t, ov, old, oldlen, err, sizeof(err));
		if (ok)
			r = statement(rec->table->tid, t, a, &sql, key, ss->apply_delete_policy,
				      "DELETE: no row with this key on the target");
		a->n.deletes++;
		break;
	}
	if (!ok) {		/* a value the target cannot hold, found before the statement */
		unsigned redos = ap.redos;

		if (!ap_sync_pipeline())
			r = CH_FATAL;
		else if (ap.redos == redos)
			r = data_error(t, a, sql.buf, key, err, ap.l->format_truncation);
	}
	ap.l->format_truncation = false;
done:
	if (nv != nbuf)
		free(nv);
	if (ov != obuf)
		free(ov);
	sb_release(&sql);
	return r;
}

/* TRUNCATE: as HandleSourceTableTruncated and ApplyErrorFailOnTruncationDdl say. */
static enum change_result
apply_truncate(const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *tids = record_element(rec, 1);
	enum change_result r = CH_OK;
	unsigned redos = ap.redos;

	if (ap.batch && !ap_flush_nets())
		return CH_FATAL;
	if (ap.redos != redos)
		return CH_OK;	/* the replay applied this TRUNCATE too */
	mp_cursor_init(&c, tids, rec->len - (size_t)(tids - rec->raw));
	mp_next(&c, &it);
	for (uint32_t i = it.v.n, k = 0; k < i && r == CH_OK; k++) {
		struct mp_item tid;
		struct ttable *t;
		struct strbuf sql = STRBUF_INIT;

		mp_next(&c, &tid);
		t = *ap.table((int64_t)tid.v.u);
		if (ap.l->settings->apply_fail_on_truncation) {
			log_error("%s.%s was truncated on the source; stopping (ApplyErrorFailOnTruncationDdl)",
				  t->schema, t->name);
			ap.status = EXIT_RUNTIME;
			return CH_FATAL;
		}
		if (!ap.l->settings->handle_truncated) {
			log_warn("%s.%s was truncated on the source: not applied (HandleSourceTableTruncated false)",
				 t->schema, t->name);
			continue;
		}
		/* DELETE on MySQL: its TRUNCATE would commit the transaction */
		params_reset();
		sb_addf(&sql, ap.l->engine == ENGINE_PG ? "TRUNCATE %s" : "DELETE FROM %s", t->qname);
		r = statement((int64_t)tid.v.u, t, ap_atable((int64_t)tid.v.u), &sql, "", POLICY_LOG_ERROR, NULL);
		ap_atable((int64_t)tid.v.u)->n.ddls++;
		log_info("%s.%s truncated, as on the source", t->schema, t->name);
		sb_release(&sql);
	}
	return r;
}

enum change_result
ap_apply_one(const struct dms_record *rec)
{
	switch (rec->kind) {
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE:
		ap.cur = ++ap.seq;
		return apply_change(rec);
	case K_TRUNCATE:
		ap.cur = ++ap.seq;
		return apply_truncate(rec);
	default:
		return CH_OK;
	}
}


void
ap_statements_release(void)
{
	ap_pending_clear();
	free(ap.pend);
	ap.pend = NULL;
	ap.cappend = 0;
	sb_release(&P.buf);
	free(P.off);
	free(P.ptr);
	memset(&P, 0, sizeof(P));
}
