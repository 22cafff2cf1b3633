/*
 * apply.h: dms-load's apply of change streams (load/apply.c).
 */
#ifndef DMS_LOAD_APPLY_H
#define DMS_LOAD_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "load.h"

/*
 * Reads the task's apply state (or makes its row). st: the reader's stream;
 * table: the loader's table of a tid. False (logged): exit with apply_status().
 */
bool apply_start(struct loader *l, struct dms_stream *st, struct ttable **(*table)(int64_t tid),
		 const char *ack_path);
/* A TABLE record of a change stream (t is the new definition of tid); an exit status. */
int apply_table(struct ttable *t, int64_t tid);
/* The definitions held back while the stream repeated transactions the target has (see apply_table). */
int apply_pending_tables(void);
/* BEGIN, INSERT, UPDATE, DELETE, TRUNCATE, COMMIT, CHECKPOINT; an exit status. */
int apply_record(const struct dms_record *rec);
/*
 * Before a read that may wait (a reader's before_read; arg: its struct
 * dms_in): the group in hand is committed, a batch once it is due.
 */
bool apply_idle(void *arg);
/* Whether no source transaction is open (a drain can stop here). */
bool apply_between(void);
/* Commits the group in hand when no source transaction is open. */
bool apply_flush(void);
/* The exit status of a failed apply_start. */
int apply_status(void);
/* Ends the apply: at_end (END read) and status EXIT_OK commit, else roll back; the final status. */
int apply_finish(bool at_end, int status);

#endif
