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
#include "compare.h"

/* ---- the run ---- */

void
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

/* Frees the run's tables. */
static void
tables_free(struct vrun *run)
{
	for (int i = 0; i < run->ntables; i++) {
		struct vtable *t = &run->tables[i];

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
	free(run->tables);
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
	tables_free(&run);
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
