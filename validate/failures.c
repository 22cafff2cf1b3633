/*
 * validate/failures.c: failure reports, the control tables and the table statistics (see compare.h).
 */
#include "compare.h"
#include "../common/ctl.h"

const char *const failure_names[] = { "RECORD_DIFF", "MISSING_SOURCE", "MISSING_TARGET" };

/* ---- failures ---- */


/* Writes the failures reported so far in one INSERT, on the worker's own target connection. */
bool
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


/*
 * Reports one failure: stdout and the counts now, the failures table at the
 * worker's next flush_failures(). Called under no lock.
 */
void
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

/* ---- control tables ---- */

bool
control_tables(struct vrun *run)
{
	struct vconn *c = &run->ctl;
	char *schema = vident(c, run->o->settings->control_schema);
	struct strbuf sql = STRBUF_INIT;
	char *stats;
	bool ok;

	run->ctl_failures = qualified(c, run->o->settings->control_schema, "validation_failures");
	run->ctl_stats = qualified(c, run->o->settings->control_schema, "table_statistics");
	stats = ctl_statistics_create(c->engine, run->o->settings->control_schema);
	if (c->engine == ENGINE_PG) {
		sb_addf(&sql,
			"BEGIN; SELECT pg_advisory_xact_lock(hashtext('dms control tables')); "
			"CREATE SCHEMA IF NOT EXISTS %s; "
			"CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
			"table_owner varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
			"failure_time timestamptz NOT NULL DEFAULT now(), key_type varchar(128) NOT NULL, "
			"key_text text NOT NULL, failure_type varchar(128) NOT NULL, details text); "
			"%s; COMMIT",
			schema, run->ctl_failures, stats);
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
		ok = ok && vcommand(c, stats);
	}
	/* a table of an earlier version: the apply counters dms-load keeps there */
	if (ok) {
		char *probe = ctl_statistics_probe(c->engine, run->o->settings->control_schema);
		struct vrows r;

		ok = vquery(c, probe, &r);
		if (ok && r.nrows == 1 && strcmp(vcell(&r, 0, 0, NULL), "0") == 0) {
			char *up = ctl_statistics_upgrade(c->engine, run->o->settings->control_schema);

			ok = vcommand(c, up);
			free(up);
		}
		if (ok)
			vrows_free(&r);
		free(probe);
	}
	free(stats);
	free(schema);
	sb_release(&sql);
	return ok;
}

void
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
bool
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
