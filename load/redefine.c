/*
 * load/redefine.c: the TABLE records of a change stream: a table met for the
 * first time is created when the target lacks it, a redefinition alters the
 * target table (columns added, dropped, renamed, retyped), a table dropped on
 * the source is dropped, as ChangeProcessingDdlHandlingPolicy says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "applier.h"
#include "../common/my.h"
#include "../common/pg.h"
#include "../common/dms.h"

/* ---- tables ---- */

/* The target's columns of t, lower-cased on MySQL; NULL on error. */
static struct ctl_result *
target_columns(struct ttable *t)
{
	struct ctl_result *r = xcalloc(1, sizeof(*r));
	const char *params[] = { t->schema, t->name };

	if (!ap.l->ops->ctl_query(ap.l, "SELECT column_name FROM information_schema.columns "
				 "WHERE table_schema = $1 AND table_name = $2", 2, params, r)) {
		free(r);
		return NULL;
	}
	return r;
}

static bool
has_column(const struct ctl_result *r, const char *name)
{
	for (int i = 0; i < r->nrows; i++)
		if (r->v[i] && (ap.l->engine == ENGINE_PG ? strcmp(r->v[i], name) : strcasecmp(r->v[i], name)) == 0)
			return true;
	return false;
}

static int
name_index(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Whether the new definition has a column of that name. */
static bool
new_has(const struct ttable *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].src->name, name) == 0)
			return true;
	return false;
}

/* One ALTER TABLE, outside any transaction (MySQL would commit it). */
static bool
alter(struct ttable *t, const char *what, const char *a1, const char *a2)
{
	struct strbuf sql = STRBUF_INIT;
	char err[1024];
	uint64_t rows;
	bool trunc, ok;

	sb_addf(&sql, "ALTER TABLE %s %s", t->qname, what);
	if (a1) {
		char *q = ap_quote(a1);

		sb_addf(&sql, " %s", q);
		free(q);
	}
	if (a2)
		sb_addf(&sql, " %s", a2);
	ok = ap.l->ops->apply_sql(ap.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
	if (!ok)
		log_error("%s.%s: %s: %s", t->schema, t->name, sql.buf, err);
	else
		log_info("%s.%s: %s (the source table was altered)", t->schema, t->name, sql.buf + 12);
	sb_release(&sql);
	return ok;
}

/* A column type for ALTER ... TYPE / MODIFY, from the new definition. */
static bool
retype(struct ttable *t, int i)
{
	char *q = ap_quote(t->cols[i].src->name), *what;
	bool ok;

	what = ap.l->engine == ENGINE_PG ? xprintf("ALTER COLUMN %s TYPE %s USING %s::%s", q, t->cols[i].sqltype, q,
						  t->cols[i].sqltype)
					: xprintf("MODIFY COLUMN %s %s", q, t->cols[i].sqltype);
	ok = alter(t, what, NULL, NULL);
	free(q);
	free(what);
	return ok;
}

/*
 * A column added on the source. Rows older than it have the value the source
 * gives them without a change of theirs (PostgreSQL's fast default, the
 * column's "missing" attr): added with it as its default, which is then
 * dropped (later rows come with their values).
 */
static bool
add_column(struct ttable *t, int i)
{
	const struct dms_column *c = t->cols[i].src;
	char *q = ap_quote(c->name), *what;
	struct strbuf lit = STRBUF_INIT;
	bool ok;

	if (c->missing != NULL) {
		struct mp_cursor cur;
		struct mp_item it;
		char err[256] = "not a value";

		mp_cursor_init(&cur, c->missing, c->missing_len);
		if (mp_next(&cur, &it) != MP_OK ||
		    !ap.l->ops->literal(ap.l, t, &t->cols[i], &it, NULL, 0, &lit, err, sizeof(err))) {
			log_warn("%s.%s: column %s: its older rows' value does not convert (%s): they get NULL",
				 t->schema, t->name, c->name, err);
			sb_reset(&lit);
		}
	}
	what = lit.len ? xprintf("ADD COLUMN %s %s DEFAULT %s", q, t->cols[i].sqltype, lit.buf)
		       : xprintf("ADD COLUMN %s %s", q, t->cols[i].sqltype);
	ok = alter(t, what, NULL, NULL);
	free(what);
	if (ok && lit.len) {
		what = xprintf("ALTER COLUMN %s DROP DEFAULT", q);
		ok = alter(t, what, NULL, NULL);
		free(what);
	}
	free(q);
	sb_release(&lit);
	return ok;
}

/*
 * Whether two target types are the same type: alike, or alike but for an
 * integer's display width (MySQL: int(11) and int), which changes nothing
 * a value can be (a column described from the binary log has none).
 */
static bool
same_type(const char *a, const char *b)
{
	static const char *const ints[] = { "tinyint", "smallint", "mediumint", "int", "bigint" };

	while (*a && *b) {
		bool skipped = false;

		for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
			size_t n = strlen(ints[k]);

			if (strncasecmp(a, ints[k], n) == 0 && strncasecmp(b, ints[k], n) == 0) {
				a += n;
				b += n;
				if (*a == '(')
					a += strspn(a + 1, "0123456789") + (a[1 + strspn(a + 1, "0123456789")] == ')' ? 2 : 0);
				if (*b == '(')
					b += strspn(b + 1, "0123456789") + (b[1 + strspn(b + 1, "0123456789")] == ')' ? 2 : 0);
				skipped = true;
				break;
			}
		}
		if (skipped)
			continue;
		if (*a != *b)
			return false;
		a++;
		b++;
	}
	return *a == *b;
}

/* A redefinition of a known table: the target follows as HandleSourceTableAltered says. */
static bool
redefine(struct atable *a, struct ttable *t)
{
	struct ctl_result *have = target_columns(t);
	bool ok = have != NULL;

	if (!ap.l->settings->handle_altered) {
		for (int i = 0; i < t->ncols; i++)
			if (name_index(a->names, a->ncols, t->cols[i].src->name) < 0) {
				t->cols[i].skip = true;
				log_warn("%s.%s: column %s added on the source: not applied (HandleSourceTableAltered false), its values are left out",
					 t->schema, t->name, t->cols[i].src->name);
			}
		goto out;
	}
	/* renamed: same place, same type, a new name (neither name on both sides) */
	for (int i = 0; ok && i < t->ncols && i < a->ncols; i++) {
		const char *nn = t->cols[i].src->name, *on = a->names[i];

		if (strcmp(nn, on) != 0 && name_index(a->names, a->ncols, nn) < 0 && !new_has(t, on) &&
		    t->cols[i].sqltype && same_type(a->types[i], t->cols[i].sqltype) &&
		    has_column(have, on) && !has_column(have, nn)) {
			char *q = ap_quote(nn), *to = xprintf("TO %s", q);

			ok = alter(t, "RENAME COLUMN", on, to);
			free(q);
			free(to);
			a->n.ddls++;
			ctl_result_free(have);
			free(have);
			if ((have = target_columns(t)) == NULL)
				return false;
		}
	}
	for (int i = 0; ok && i < t->ncols; i++) {
		const char *nn = t->cols[i].src->name;
		int o = name_index(a->names, a->ncols, nn);

		if (t->cols[i].skip)
			continue;
		if (!has_column(have, nn)) {
			ok = add_column(t, i);
			a->n.ddls++;
		} else if (o >= 0 && !same_type(a->types[o], t->cols[i].sqltype)) {
			ok = retype(t, i);
			a->n.ddls++;
		}
	}
	for (int o = 0; ok && o < a->ncols; o++) {
		bool kept = false;

		for (int i = 0; i < t->ncols && !kept; i++)
			kept = strcmp(t->cols[i].src->name, a->names[o]) == 0;
		if (!kept && has_column(have, a->names[o])) {
			ok = alter(t, "DROP COLUMN", a->names[o], NULL);
			a->n.ddls++;
		}
	}
out:
	if (have != NULL) {
		ctl_result_free(have);
		free(have);
	}
	return ok;
}

/*
 * The definition a table was last applied with (its columns and their target
 * types), kept in the apply_tables control table so that a later run takes a
 * redefinition that comes first in its stream (a column renamed, dropped or
 * retyped while no dms-load ran) as one. It is a claim about the target:
 * each ALTER it leads to is made only when the target's columns agree
 * (redefine's checks), so a table altered by hand is not harmed.
 */
static const char *
target_db(void)
{
	return ap.l->engine == ENGINE_MYSQL && ap.l->dbname ? ap.l->dbname : "";
}

static bool
definition_load(struct atable *a, const char *schema, const char *name)
{
	const char *params[] = { ap.l->task, target_db(), schema, name };
	struct ctl_result r = { 0 };
	bool ok;

	ok = ctl_sql(ap.l, "SELECT columns, types FROM %s WHERE task_name = $1 AND target_database = $2 "
			   "AND table_owner = $3 AND table_name = $4", "apply_tables", 4, params, &r);
	if (ok && r.nrows == 1 && r.v[0] && r.v[1]) {
		char *names = r.v[0], *types = r.v[1];
		int n = 1;

		for (const char *c = names; *c; c++)
			n += *c == '\x01';
		a->ncols = n;
		a->names = xcalloc((size_t)n + 1, sizeof(char *));
		a->types = xcalloc((size_t)n + 1, sizeof(char *));
		for (int i = 0; i < n; i++) {
			size_t ln = strcspn(names, "\x01"), lt = strcspn(types, "\x01");

			a->names[i] = xstrndup(names, ln);
			a->types[i] = xstrndup(types, lt);
			names += ln + (names[ln] != '\0');
			types += lt + (types[lt] != '\0');
		}
	}
	ctl_result_free(&r);
	return ok;
}

static bool
definition_forget(const char *schema, const char *name)
{
	const char *params[] = { ap.l->task, target_db(), schema, name };

	return ctl_sql(ap.l, "DELETE FROM %s WHERE task_name = $1 AND target_database = $2 AND table_owner = $3 "
			     "AND table_name = $4", "apply_tables", 4, params, NULL);
}

static bool
definition_save(const struct atable *a, const struct ttable *t)
{
	struct strbuf names = STRBUF_INIT, types = STRBUF_INIT;
	const char *params[] = { ap.l->task, target_db(), t->schema, t->name, NULL, NULL };
	bool ok;

	for (int i = 0; i < a->ncols; i++) {
		sb_addf(&names, "%s%s", i ? "\x01" : "", a->names[i]);
		sb_addf(&types, "%s%s", i ? "\x01" : "", a->types[i]);
	}
	params[4] = names.buf ? names.buf : "";
	params[5] = types.buf ? types.buf : "";
	ok = definition_forget(t->schema, t->name) &&
	     ctl_sql(ap.l, "INSERT INTO %s (task_name, target_database, table_owner, table_name, columns, types) "
			   "VALUES ($1, $2, $3, $4, $5, $6)", "apply_tables", 6, params, NULL);
	sb_release(&names);
	sb_release(&types);
	return ok;
}

/*
 * A TABLE record: between transactions only. A table met for the first time
 * is created on the target when it is missing (as a full load would, its
 * existing rows left alone); a redefinition alters it.
 */
/* A table dropped on the source (a TABLE with attrs dropped): as HandleSourceTableDropped says. */
static int
drop_table(struct atable *a, struct ttable *t)
{
	struct strbuf sql = STRBUF_INIT;
	char err[1024];
	uint64_t rows;
	bool trunc, ok;

	if (!ap.l->settings->handle_dropped) {
		log_warn("%s.%s was dropped on the source: not applied (HandleSourceTableDropped false)", t->schema,
			 t->name);
		return EXIT_OK;
	}
	sb_addf(&sql, "DROP TABLE IF EXISTS %s", t->qname);
	ok = ap.l->ops->apply_sql(ap.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
	sb_release(&sql);
	if (!ok) {
		log_error("%s.%s: DROP TABLE: %s", t->schema, t->name, err);
		return EXIT_TARGET;
	}
	log_info("%s.%s dropped, as on the source", t->schema, t->name);
	a->n.ddls++;
	if (!ap_write_stats())
		return ap.status;
	/* a later definition creates it again */
	ap_atable_release(a);
	return definition_forget(t->schema, t->name) ? EXIT_OK : EXIT_TARGET;
}

/*
 * A table's first definition in this stream, for a target table that exists:
 * columns the source added since the target's table was made (a stream that
 * begins after the ALTER, as a capture that starts after a full load does)
 * are added, with the value older rows have, as a redefinition would; with
 * HandleSourceTableAltered false their values are left out. Columns only the
 * target has are left alone.
 */
static bool
catch_up_columns(struct atable *a, struct ttable *t)
{
	struct ctl_result *have = target_columns(t);
	bool ok = have != NULL;

	for (int i = 0; ok && i < t->ncols; i++) {
		if (t->cols[i].skip || has_column(have, t->cols[i].src->name))
			continue;
		if (!ap.l->settings->handle_altered) {
			t->cols[i].skip = true;
			log_warn("%s.%s: column %s is not on the target (HandleSourceTableAltered false): its values are left out",
				 t->schema, t->name, t->cols[i].src->name);
			continue;
		}
		log_info("%s.%s: column %s, added on the source, is added to the target", t->schema, t->name,
			 t->cols[i].src->name);
		ok = add_column(t, i);
		a->n.ddls++;
	}
	if (have != NULL) {
		ctl_result_free(have);
		free(have);
	}
	return ok;
}

/* Whether the target has the table schema.name. */
static enum answer
target_has(const char *schema, const char *name)
{
	const char *params[] = { schema, name };
	struct ctl_result r = { 0 };
	enum answer has;

	if (!ap.l->ops->ctl_query(ap.l, "SELECT count(*) FROM information_schema.tables "
				 "WHERE table_schema = $1 AND table_name = $2", 2, params, &r))
		return ANSWER_ERROR;
	has = r.nrows == 1 && r.v[0] && strcmp(r.v[0], "0") != 0 ? ANSWER_YES : ANSWER_NO;
	ctl_result_free(&r);
	return has;
}

/*
 * A table the source renamed from oschema.oname (the target's names; its
 * TABLE record names it anew): the target's table is renamed alike, when
 * the target has the old name and not the new; its kept definition goes
 * with it. A target that has the new name and not the old was renamed
 * already (an earlier run). False: logged.
 */
static bool
rename_table(const char *oschema, const char *oname, const struct ttable *t)
{
	enum answer had = target_has(oschema, oname), has = target_has(t->schema, t->name);
	struct strbuf sql = STRBUF_INIT;
	char *oq = ap_quote(oschema), *on = ap_quote(oname), *name = ap_quote(t->name);
	char err[1024] = "";
	uint64_t rows;
	bool trunc, ok = true;

	if (had == ANSWER_ERROR || has == ANSWER_ERROR) {
		ok = false;
		goto out;
	}
	if (had == ANSWER_NO && has == ANSWER_YES)
		goto out;
	if (had == ANSWER_NO || has == ANSWER_YES) {
		log_warn("%s.%s renamed %s.%s on the source: the target has %s, so it is left as it is",
			 oschema, oname, t->schema, t->name, had == ANSWER_NO ? "neither table" : "both tables");
		goto out;
	}
	if (!ap.l->settings->handle_altered) {
		log_error("%s.%s renamed %s.%s on the source, and HandleSourceTableAltered is false: rename the target's table alike, and rerun",
			  oschema, oname, t->schema, t->name);
		ok = false;
		goto out;
	}
	if (ap.l->engine == ENGINE_MYSQL)
		sb_addf(&sql, "RENAME TABLE %s.%s TO %s", oq, on, t->qname);
	else if (strcmp(oname, t->name) != 0)
		sb_addf(&sql, "ALTER TABLE %s.%s RENAME TO %s", oq, on, name);
	ok = sql.len == 0 || ap.l->ops->apply_sql(ap.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
	if (ok && ap.l->engine == ENGINE_PG && strcmp(oschema, t->schema) != 0) {
		/* another schema too: the table, under its new name in the old schema, moves */
		char *schema = ap_quote(t->schema);

		sb_reset(&sql);
		sb_addf(&sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
		ok = ap.l->ops->apply_sql(ap.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
		if (ok) {
			sb_reset(&sql);
			sb_addf(&sql, "ALTER TABLE %s.%s SET SCHEMA %s", oq, name, schema);
			ok = ap.l->ops->apply_sql(ap.l, sql.buf, 0, NULL, &rows, err, sizeof(err), &trunc) == LOAD_DONE;
		}
		free(schema);
	}
	if (!ok) {
		log_error("%s.%s: %s: %s", oschema, oname, sql.buf, err);
	} else {
		log_info("%s.%s renamed %s, as on the source", oschema, oname, t->qname);
		ok = definition_forget(oschema, oname);
	}
out:
	free(oq);
	free(on);
	free(name);
	sb_release(&sql);
	return ok;
}

/*
 * The target's names of the table a TABLE record says it was renamed from
 * (attrs renamed_from, the source's schema and name), as ttable_new names a
 * table; false: the record says no such thing.
 */
static bool
renamed_from(const struct ttable *t, char **schema, char **name)
{
	struct mp_cursor c;
	struct mp_item it;
	char *from[2] = { NULL, NULL };

	if (!attrs_find(t->src->attrs, t->src->attrs_len, "renamed_from", &c) || mp_next(&c, &it) != MP_OK ||
	    it.type != MP_ARRAY || it.v.n != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		if (mp_next(&c, &it) != MP_OK || it.type != MP_STR) {
			free(from[0]);
			return false;
		}
		from[i] = xstrndup((const char *)it.v.s.p, it.v.s.len);
	}
	if (ap.l->settings->target_schema)
		*schema = xstrdup(ap.l->settings->target_schema);
	else if (ap.l->engine == ENGINE_MYSQL && ap.l->dbname)
		*schema = xstrdup(ap.l->dbname);
	else
		*schema = xstrdup(from[0]);
	free(from[0]);
	*name = from[1];
	return true;
}

static bool
same_definition(const struct atable *a, const struct ttable *t)
{
	if (a->ncols != t->ncols)
		return false;
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(a->names[i], t->cols[i].src->name) != 0 ||
		    !same_type(a->types[i], t->cols[i].sqltype ? t->cols[i].sqltype : ""))
			return false;
	return true;
}

int
apply_pending_tables(void)
{
	for (size_t tid = 0; tid < ap.nat; tid++) {
		struct ttable **t = ap.table((int64_t)tid);
		int status;

		if (!ap.at[tid].pending || t == NULL || *t == NULL)
			continue;
		ap.at[tid].pending = false;
		if ((status = apply_table(*t, (int64_t)tid)) != EXIT_OK)
			return status;
	}
	return EXIT_OK;
}

int
apply_table(struct ttable *t, int64_t tid)
{
	struct atable *a = ap_atable(tid);
	enum prep_mode mode = ap.l->settings->prep_mode;
	bool ok, dropped = false;

	if (ap.in_txn) {
		log_error("TABLE %s.%s inside a transaction: a change stream redefines tables between transactions",
			  t->schema, t->name);
		return EXIT_INPUT;
	}
	if (!ap_group_commit())
		return ap.status;
	if (attrs_bool(t->src->attrs, t->src->attrs_len, "dropped", &dropped) && dropped)
		return drop_table(a, t);
	if (a->names == NULL && !definition_load(a, t->schema, t->name))
		return EXIT_TARGET;
	/*
	 * Among transactions the target has (a stream read again from further
	 * back), a definition may be older than the target's table (or name a
	 * table renamed since): it waits for the first transaction the target
	 * lacks, and is applied then if it is still the stream's.
	 */
	a->pending = false;
	if (ap.applied != NULL && !ap.caught_up) {
		enum answer has = a->names == NULL ? target_has(t->schema, t->name) : ANSWER_YES;

		if (has == ANSWER_ERROR)
			return EXIT_TARGET;
		/* a table the target lacks, or a definition other than the target's */
		if (has == ANSWER_NO || (a->names != NULL && !same_definition(a, t))) {
			a->pending = true;
			return EXIT_OK;
		}
	}
	/* renamed on the source: what this run knew it as, else what the record says */
	{
		struct ttable **slot = ap.table(tid);
		char *oschema = NULL, *oname = NULL;

		if (slot != NULL && *slot != NULL && strcmp((*slot)->qname, t->qname) != 0) {
			oschema = xstrdup((*slot)->schema);
			oname = xstrdup((*slot)->name);
		} else if (!renamed_from(t, &oschema, &oname)) {
			oschema = oname = NULL;
		}
		ok = true;
		if (oschema != NULL && (strcmp(oschema, t->schema) != 0 || strcmp(oname, t->name) != 0)) {
			/* a first definition in this run: the kept one is under the old name */
			if (a->names == NULL)
				ok = definition_load(a, oschema, oname);
			ok = ok && rename_table(oschema, oname, t);
		}
		free(oschema);
		free(oname);
		if (!ok)
			return EXIT_TARGET;
	}
	if (a->names == NULL) {
		if (!run_check_tables(ap.l, &t, 1))
			return EXIT_USAGE;
		ap.l->settings->prep_mode = PREP_DO_NOTHING;
		ok = ap.l->ops->prepare(ap.l, t);
		ap.l->settings->prep_mode = mode;
		if (!ok || !catch_up_columns(a, t))
			return EXIT_TARGET;
	} else if (!redefine(a, t) || !ap_write_stats()) {
		return EXIT_TARGET;
	}
	ap_atable_release(a);
	a->ncols = t->ncols;
	a->names = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	a->types = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	for (int i = 0; i < t->ncols; i++) {
		a->names[i] = xstrdup(t->cols[i].src->name);
		a->types[i] = xstrdup(t->cols[i].sqltype ? t->cols[i].sqltype : "");
	}
	return definition_save(a, t) ? EXIT_OK : EXIT_TARGET;
}

