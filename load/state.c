/*
 * load/state.c: the task's progress in the control table load_parts, the
 * same on both targets. A row per table marks it prepared; a row per part
 * marks it loaded, in the part's own transaction. Each row also holds what
 * the target table was (its table_id) when it was written: progress recorded
 * for a table that has since been dropped, or dropped and created again, is
 * not trusted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "../common/dms.h"

void
ctl_result_free(struct ctl_result *r)
{
	for (int i = 0; r->v && i < r->nrows * r->ncols; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

bool
ctl_sql(struct loader *l, const char *fmt, const char *table, int n, const char *const *params,
	struct ctl_result *res)
{
	struct strbuf sql = STRBUF_INIT;
	char *name = l->ops->ctl_name(l, table);
	bool ok;

	sb_addf(&sql, fmt, name);
	ok = l->ops->ctl_query(l, sql.buf, n, params, res);
	free(name);
	sb_release(&sql);
	return ok;
}

/* Forgets the task's progress for t: its marker and its parts. */
static bool
forget_table(struct loader *l, const struct ttable *t)
{
	const char *params[] = { l->task, t->schema, t->name };

	return ctl_sql(l, "DELETE FROM %s WHERE task_name = $1 AND table_owner = $2 AND table_name = $3",
		       "load_parts", 3, params, NULL);
}

/*
 * The table this task prepared is still the same table, but is it still what
 * was loaded into it? A table emptied since (TRUNCATE, DELETE) keeps its
 * identity on PostgreSQL: when the task's loaded parts hold rows and the
 * table holds none, its progress is forgotten (NO) and it loads again.
 */
static enum answer
emptied(struct loader *l, struct ttable *t)
{
	const char *params[] = { l->task, t->schema, t->name };
	struct ctl_result r = { 0 };
	enum answer has;
	long long rows;

	if (!ctl_sql(l, "SELECT coalesce(sum(\"rows\"), 0) FROM %s WHERE task_name = $1 AND table_owner = $2 "
			"AND table_name = $3 AND state = 'loaded'", "load_parts", 3, params, &r))
		return ANSWER_ERROR;
	rows = r.nrows > 0 && r.v[0] != NULL ? strtoll(r.v[0], NULL, 10) : 0;
	ctl_result_free(&r);
	if (rows == 0)
		return ANSWER_YES;
	if ((has = l->ops->has_rows(l, t)) != ANSWER_NO)
		return has;
	log_warn("%s.%s: this task loaded %lld rows into it, and the table is empty now (truncated or deleted since?): preparing it again, and loading its parts again",
		 t->schema, t->name, rows);
	return forget_table(l, t) ? ANSWER_NO : ANSWER_ERROR;
}

enum answer
state_prepared(struct loader *l, struct ttable *t)
{
	const char *params[] = { l->task, t->schema, t->name };
	struct ctl_result r = { 0 };
	char *now;
	enum answer done;

	if (l->restart)
		return forget_table(l, t) ? ANSWER_NO : ANSWER_ERROR;
	if (!ctl_sql(l, "SELECT target_id FROM %s WHERE task_name = $1 AND table_owner = $2 "
			"AND table_name = $3 AND part = 'prepared'", "load_parts", 3, params, &r))
		return ANSWER_ERROR;
	if (r.nrows == 0) {
		ctl_result_free(&r);
		return ANSWER_NO;
	}
	if ((now = l->ops->table_id(l, t)) == NULL) {
		ctl_result_free(&r);
		return ANSWER_ERROR;
	}
	done = r.v[0] != NULL && now[0] != '\0' && strcmp(r.v[0], now) == 0 ? ANSWER_YES : ANSWER_NO;
	if (done == ANSWER_YES) {
		done = emptied(l, t);
		free(now);
		ctl_result_free(&r);
		return done;
	}
	if (done == ANSWER_NO) {
		log_warn("%s.%s: %s since this task prepared it: preparing it again, and loading its parts again",
			 t->schema, t->name, now[0] ? "the table was dropped and created again" : "the table was dropped");
		if (!forget_table(l, t))
			done = ANSWER_ERROR;
	}
	free(now);
	ctl_result_free(&r);
	return done;
}

bool
state_mark_prepared(struct loader *l, struct ttable *t)
{
	char *id = l->ops->table_id(l, t);
	const char *params[] = { l->task, t->schema, t->name, id };
	bool ok;

	if (id == NULL)
		return false;
	ok = ctl_sql(l, "INSERT INTO %s (task_name, table_owner, table_name, part, state, target_id) "
			"VALUES ($1, $2, $3, 'prepared', 'prepared', $4)", "load_parts", 4, params, NULL);
	free(id);
	return ok;
}

enum answer
state_part_done(struct loader *l, struct ttable *t, const char *part, const char *range)
{
	const char *params[] = { l->task, t->schema, t->name, part };
	struct ctl_result r = { 0 };
	char *now = NULL;
	enum answer done = ANSWER_NO;

	if (!ctl_sql(l, "SELECT state, coalesce(part_range, ''), target_id FROM %s WHERE task_name = $1 "
			"AND table_owner = $2 AND table_name = $3 AND part = $4", "load_parts", 4, params, &r))
		return ANSWER_ERROR;
	if (r.nrows == 0 || strcmp(r.v[0], "loaded") != 0)
		goto out;
	if ((now = l->ops->table_id(l, t)) == NULL) {
		done = ANSWER_ERROR;
	} else if (r.v[2] == NULL || strcmp(r.v[2], now) != 0) {
		log_warn("%s.%s part %s was loaded into a table that has since been dropped%s: loading it again",
			 t->schema, t->name, part, now[0] ? " and created again" : "");
	} else if (strcmp(r.v[1], range) != 0) {
		log_error("%s.%s part %s was loaded for the range \"%s\", now it is \"%s\": the source changed; reload the table with --restart",
			  t->schema, t->name, part, r.v[1], range);
		done = ANSWER_ERROR;
	} else {
		done = ANSWER_YES;
	}
out:
	free(now);
	ctl_result_free(&r);
	return done;
}

bool
state_commit_part(struct loader *l, struct ttable *t, const char *part, const char *range,
		  const char *state, uint64_t rows, const char *error)
{
	char nrows[32], *id = l->ops->table_id(l, t);
	const char *params[] = { l->task, t->schema, t->name, part, range, state, nrows, error, id };
	struct ctl_result r = { 0 };
	bool ok = id != NULL;

	snprintf(nrows, sizeof(nrows), "%" PRIu64, rows);
	/* a loader of a run commits only while its run is the task's current one */
	if (ok && l->run != NULL) {
		const char *rp[] = { l->task, l->run };

		ok = ctl_sql(l, "SELECT 1 FROM %s WHERE task_name = $1 AND run_id = $2 AND state = 'running' "
				"FOR UPDATE", "load_runs", 2, rp, &r);
		if (ok && r.nrows == 0) {
			log_error("%s.%s part %s: run %s of task %s is no longer the task's current run (another run started): the part is rolled back",
				  t->schema, t->name, part, l->run, l->task);
			ok = false;
		}
		ctl_result_free(&r);
	}
	ok = ok && ctl_sql(l, "DELETE FROM %s WHERE task_name = $1 AND table_owner = $2 AND table_name = $3 "
			      "AND part = $4", "load_parts", 4, params, NULL);
	ok = ok && ctl_sql(l, "INSERT INTO %s (task_name, table_owner, table_name, part, part_range, state, "
			      "\"rows\", error, target_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			      "load_parts", 9, params, NULL);
	ok = ok && l->ops->ctl_query(l, "COMMIT", 0, NULL, NULL);
	if (!ok)
		l->ops->rollback(l);
	free(id);
	return ok;
}
