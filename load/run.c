/*
 * load/run.c: runs of a task, and what is refused before anything is
 * touched.
 *
 * A run of dms-full-load is recorded in the control table load_runs: its id,
 * its source, its plan (the parts as dms-extract --list gave them at its
 * start) and its state. The run holder (dms-load --begin-run) holds the
 * task's lock for the whole run, so that a second run of the task on this
 * target is refused, and tells dms-full-load whether to load afresh (no run,
 * or the last one finished) or to resume the unfinished run with its plan.
 * Protocol, one line at a time on stdin and stdout:
 *
 *   (without --source) holder: "ready"     dms-full-load: "tables"
 *   holder: "afresh RUN"                      dms-full-load: plan lines, "."
 *   holder: "ok"
 *   holder: "resume RUN LOADED", plan lines, "."
 *   dms-full-load: "finished"                 holder: "ok"
 *
 * End of stdin ends the holder (and releases the lock); a run that never said
 * "finished" stays unfinished, and the next one resumes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "../common/dms.h"

static char *
new_run_id(void)
{
	unsigned char b[8];
	int fd = open("/dev/urandom", O_RDONLY);
	bool ok = fd >= 0 && read(fd, b, sizeof(b)) == (ssize_t)sizeof(b);

	if (fd >= 0)
		close(fd);
	if (!ok) {
		uint64_t v = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);

		memcpy(b, &v, sizeof(b));
	}
	return xprintf("%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

static bool
say(const char *line)
{
	return printf("%s\n", line) > 0 && fflush(stdout) == 0;
}

/* The next line of stdin without its newline; NULL at its end. */
static char *
next_line(char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, stdin);

	if (n <= 0)
		return NULL;
	if ((*buf)[n - 1] == '\n')
		(*buf)[n - 1] = '\0';
	return *buf;
}

int
run_holder(struct loader *l, const char *source, const char *tables, bool restart)
{
	char *field[3] = { 0 }, *src = NULL, *p, *line = NULL, *run = NULL;
	const char *task[] = { l->task };
	struct ctl_result r = { 0 };
	size_t cap = 0;
	int status = EXIT_TARGET;
	enum answer lock;

	if ((lock = l->ops->task_lock(l, true)) != ANSWER_YES) {
		if (lock == ANSWER_NO) {
			log_error("task %s is running on this target already (another dms-full-load holds its lock): wait for it to end, or give this copy its own --task",
				  l->task);
			status = EXIT_USAGE;
		}
		goto out;
	}
	/* the lock first: a second run is refused even while this one waits on the tables */
	if (!l->ops->control_tables(l))
		goto out;
	/*
	 * Without --source, the caller started this holder while it reads the
	 * source: it hears "ready" (the holder lives, so that its line does not
	 * meet a closed pipe) and says "tables" when the tables' stream is
	 * written; the source is the one the stream's HELLO names. The end of
	 * stdin before it is a caller that gave up, with nothing started.
	 */
	if (source == NULL) {
		if (!say("ready")) {
			status = EXIT_OUTPUT;
			goto out;
		}
		if ((p = next_line(&line, &cap)) == NULL) {
			status = EXIT_OK;
			goto out;
		}
		if (strcmp(p, "tables") != 0) {
			log_error("--begin-run: expected the line \"tables\" on stdin, not \"%.40s\"", p);
			status = EXIT_USAGE;
			goto out;
		}
	} else {
		src = xstrdup(source);
		p = src;
		for (int i = 0; i < 3; i++) {
			field[i] = p;
			if (p != NULL && (p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (field[1] == NULL || field[2] == NULL) {
			log_usage_error("--source: expected the line of dms-extract --identity");
			status = EXIT_USAGE;
			goto out;
		}
	}
	/* the tables refused before anything of the task is touched */
	if (tables != NULL && (status = load_tables(tables, TABLES_CHECK)) != EXIT_OK)
		goto out;
	if (source == NULL) {
		field[0] = (char *)engine_name(l->source);
		field[1] = l->source_server;
		field[2] = l->source_database;
		if (l->source == ENGINE_NONE || field[1] == NULL || field[2] == NULL) {
			log_error("%s: the tables' stream does not name its source (engine, server and database in its HELLO)",
				  tables);
			status = EXIT_INPUT;
			goto out;
		}
	}
	status = EXIT_TARGET;
	if (!ctl_sql(l, "SELECT run_id, state, source_engine, source_server, source_database, plan "
			 "FROM %s WHERE task_name = $1", "load_runs", 1, task, &r))
		goto out;
	/* an empty plan (its caller ended before it had parts) has nothing to resume */
	if (!restart && r.nrows == 1 && strcmp(r.v[1], "running") == 0 && r.v[5] != NULL &&
	    r.v[5][0] != '\0') {
		struct ctl_result n = { 0 };
		const char *params[] = { l->task };

		if (r.v[2] == NULL || r.v[3] == NULL || r.v[4] == NULL || strcmp(r.v[2], field[0]) ||
		    strcmp(r.v[3], field[1]) || strcmp(r.v[4], field[2])) {
			log_error("task %s has an unfinished run from another source (%s, server %s, database %s); this source is %s, server %s, database %s: resume it from its own source, load afresh with --restart, or give this copy its own --task",
				  l->task, r.v[2] ? r.v[2] : "?", r.v[3] ? r.v[3] : "?", r.v[4] ? r.v[4] : "?",
				  field[0], field[1], field[2]);
			status = EXIT_USAGE;
			goto out;
		}
		if (!ctl_sql(l, "SELECT count(*) FROM %s WHERE task_name = $1 AND part <> 'prepared' "
				 "AND state = 'loaded'", "load_parts", 1, params, &n))
			goto out;
		run = xstrdup(r.v[0]);
		printf("resume %s %s\n%s.\n", run, n.v[0], r.v[5]);
		ctl_result_free(&n);
		if (fflush(stdout) != 0) {
			status = EXIT_OUTPUT;
			goto out;
		}
	} else {
		struct strbuf plan = STRBUF_INIT;
		const char *params[] = { l->task, NULL, field[0], field[1], field[2], NULL };
		char *said;
		bool ok;

		run = new_run_id();
		params[1] = run;
		/* a fresh start: the task's earlier progress goes, so every table is prepared again */
		ok = l->ops->ctl_query(l, "BEGIN", 0, NULL, NULL) &&
		     ctl_sql(l, "DELETE FROM %s WHERE task_name = $1", "load_parts", 1, params, NULL) &&
		     ctl_sql(l, "DELETE FROM %s WHERE task_name = $1", "load_runs", 1, params, NULL) &&
		     ctl_sql(l, "INSERT INTO %s (task_name, run_id, state, source_engine, source_server, "
				 "source_database) VALUES ($1, $2, 'running', $3, $4, $5)", "load_runs", 5,
			      params, NULL) &&
		     l->ops->ctl_query(l, "COMMIT", 0, NULL, NULL);
		if (!ok) {
			l->ops->rollback(l);
			goto out;
		}
		said = xprintf("afresh %s", run);
		ok = say(said);
		free(said);
		if (!ok) {
			status = EXIT_OUTPUT;
			goto out;
		}
		while ((p = next_line(&line, &cap)) != NULL && strcmp(p, ".") != 0) {
			sb_adds(&plan, p);
			sb_adds(&plan, "\n");
		}
		if (p == NULL) {
			/* dms-full-load ended before its plan: nothing to resume */
			sb_release(&plan);
			status = EXIT_OK;
			goto out;
		}
		params[5] = plan.buf ? plan.buf : "";
		{
			const char *up[] = { l->task, run, params[5] };

			ok = ctl_sql(l, "UPDATE %s SET plan = $3 WHERE task_name = $1 AND run_id = $2",
				      "load_runs", 3, up, NULL);
		}
		sb_release(&plan);
		if (!ok)
			goto out;
		if (!say("ok")) {
			status = EXIT_OUTPUT;
			goto out;
		}
	}
	l->run = run;
	while ((p = next_line(&line, &cap)) != NULL) {
		const char *params[] = { l->task, run };

		if (tables != NULL && (strcmp(p, "prepare") == 0 || strcmp(p, "post-load") == 0)) {
			bool prepare = strcmp(p, "prepare") == 0;
			int st = load_tables(tables, prepare ? TABLES_PREPARE : TABLES_POST_LOAD);

			/* a table that cannot be prepared ends the run here; keys that fail are reported */
			if (prepare && st != EXIT_OK) {
				status = st;
				goto out;
			}
			if (!say(st == EXIT_OK ? "ok" : "failed")) {
				status = EXIT_OUTPUT;
				goto out;
			}
			continue;
		}
		if (strcmp(p, "finished") != 0) {
			log_error("--begin-run: unexpected line \"%.40s\" on stdin", p);
			status = EXIT_INPUT;
			goto out;
		}
		if (!ctl_sql(l, "UPDATE %s SET state = 'finished', finished = now() WHERE task_name = $1 "
				 "AND run_id = $2", "load_runs", 2, params, NULL))
			goto out;
		if (!say("ok")) {
			status = EXIT_OUTPUT;
			goto out;
		}
	}
	status = EXIT_OK;
out:
	l->run = NULL;
	ctl_result_free(&r);
	free(line);
	free(run);
	free(src);
	return status;
}

bool
run_join(struct loader *l)
{
	struct ctl_result r = { 0 };
	const char *task[] = { l->task };
	bool ok;
	enum answer lock;

	if (l->run == NULL) {
		if ((lock = l->ops->task_lock(l, false)) == ANSWER_NO)
			log_error("task %s is being run by dms-full-load on this target, or its changes applied by another dms-load (it holds the task's lock): one applies a task's changes at a time; wait for it to end, or give this load its own --task",
				  l->task);
		return lock == ANSWER_YES;
	}
	if (!ctl_sql(l, "SELECT run_id, state FROM %s WHERE task_name = $1", "load_runs", 1, task, &r))
		return false;
	ok = r.nrows == 1 && strcmp(r.v[0], l->run) == 0 && strcmp(r.v[1], "running") == 0;
	if (!ok)
		log_error("--run %s: not the current run of task %s on this target (it ended, or another run replaced it)",
			  l->run, l->task);
	ctl_result_free(&r);
	return ok;
}

/* The length of a name as the target counts it: bytes, or UTF-8 characters. */
static size_t
ident_len(const struct loader *l, const char *s)
{
	size_t n = 0;

	if (!l->ops->ident_chars)
		return strlen(s);
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool
fits(const struct loader *l, const char *what, const char *name, const char *table, const char *fix)
{
	if (ident_len(l, name) <= (size_t)l->ops->ident_max)
		return true;
	log_error("%s%s%s \"%s\" is %zu %s long; %s keeps %d and would cut it: add a rename rule (rule-type transformation, rule-target %s, rule-action rename) to give it a shorter name",
		  table ? table : "", table ? ": " : "", what, name, ident_len(l, name),
		  l->ops->ident_chars ? "characters" : "bytes",
		  l->engine == ENGINE_PG ? "PostgreSQL" : "MySQL", l->ops->ident_max, fix);
	return false;
}

static bool
same_name(bool fold, const char *a, const char *b)
{
	return fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

bool
run_check_tables(struct loader *l, struct ttable **tables, size_t n)
{
	char *server = NULL, *database = NULL;
	bool ok = true;

	if (!l->ops->identity(l, &server, &database))
		return false;
	/* the same server: a table loaded onto itself is dropped or emptied first */
	if (l->source_server != NULL && l->source == l->engine && strcmp(l->source_server, server) == 0) {
		for (size_t i = 0; i < n && ok; i++) {
			const struct ttable *t = tables[i];

			if (t == NULL)
				continue;
			if (l->engine == ENGINE_PG ? strcmp(l->source_database, database) == 0
			    : same_name(l->tables_fold, t->schema, l->source_database) ||
			      same_name(l->tables_fold, t->schema, t->src->schema)) {
				log_error("the source and the target are the same database (server %s, database %s): %s.%s would be loaded onto itself, and the source's table dropped or emptied first; give another target",
					  server, l->engine == ENGINE_PG ? database : t->schema, t->schema, t->name);
				ok = false;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct ttable *t = tables[i];
		char label[300];

		if (t == NULL)
			continue;
		snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
		ok &= fits(l, "the schema name", t->schema, NULL, "schema");
		ok &= fits(l, "the table name", t->name, NULL, "table");
		for (int c = 0; c < t->ncols; c++) {
			if (t->cols[c].skip)
				continue;
			ok &= fits(l, "the column name", t->cols[c].src->name, label, "column");
			for (int d = 0; d < c; d++) {
				if (t->cols[d].skip || !same_name(l->ops->names_fold, t->cols[c].src->name, t->cols[d].src->name))
					continue;
				log_error("%s: columns \"%s\" and \"%s\" would be one column on the target%s: add a rename rule (rule-target column) for one of them",
					  label, t->cols[d].src->name, t->cols[c].src->name,
					  l->ops->names_fold ? " (MySQL column names ignore case)" : "");
				ok = false;
			}
		}
		for (size_t j = 0; j < i; j++) {
			const struct ttable *u = tables[j];

			if (u == NULL || !same_name(l->tables_fold, t->schema, u->schema) ||
			    !same_name(l->tables_fold, t->name, u->name))
				continue;
			log_error("%s.%s and %s.%s of the source both load into %s.%s on the target: add a rename rule (rule-target table) for one of them%s",
				  u->src->schema, u->src->name, t->src->schema, t->src->name, t->schema, t->name,
				  l->engine == ENGINE_MYSQL && !l->settings->target_schema
				  ? " (a MySQL target puts every table in the URI's database)" : "");
			ok = false;
		}
	}
	free(server);
	free(database);
	return ok;
}
