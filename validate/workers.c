/*
 * validate/workers.c: handing out partitions, the workers, the status lines on a terminal (see compare.h).
 */
#include "compare.h"

/* ---- the workers ---- */

double
elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

void
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
char **
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
struct vtable *
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

void
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

void *
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
void
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
void
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
