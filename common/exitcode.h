/*
 * exitcode.h: the exit statuses every dms program uses (dms(7), EXIT STATUS).
 *
 * The convention: a function that decides how the program ends (a program's
 * run(), the handler of a record, a run holder) returns one of these. The
 * functions below it log once and return false (or a tri-state with named
 * values: enum answer below, enum load_result), and their caller picks the
 * status; an error is never logged twice, nor turned into a status twice.
 */
#ifndef DMS_EXITCODE_H
#define DMS_EXITCODE_H

enum dms_exit {
	EXIT_OK = 0,		/* success */
	EXIT_RUNTIME = 1,	/* failure at run time; dms-validate: differences found */
	EXIT_USAGE = 2,		/* usage or configuration error */
	EXIT_SOURCE = 3,	/* source database error */
	EXIT_TARGET = 4,	/* target database error */
	EXIT_INPUT = 5,		/* malformed input stream */
	EXIT_OUTPUT = 6,	/* output write error (a closed pipe ends quietly with it) */
	EXIT_INCOMPLETE = 7,	/* dms-validate: stopped by a signal before the end, resumable */
	EXIT_AGAIN = 8,		/* dms-load --one-copy: a part rolled back, to be loaded again without it */
};

/* The answer to a question asked of a database: yes, no, or it failed (logged). */
enum answer {
	ANSWER_ERROR = -1,
	ANSWER_NO = 0,
	ANSWER_YES = 1,
};

#endif
