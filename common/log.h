/*
 * log.h: messages for people, on stderr only.
 *
 * Every line is "prog[pid]: level: message", written with one write(2) so that
 * the lines of several programs in one pipeline do not interleave. stdout is
 * never touched here: it carries the stream or the program's primary output.
 */
#ifndef DMS_LOG_H
#define DMS_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Sets the program name shown in every line; the level starts at LOG_WARNING. */
void log_init(const char *progname);
const char *log_progname(void);
void log_set_level(enum log_level level);
/* -v raises and -q lowers the level by one step each. */
void log_more(void);
void log_less(void);
bool log_enabled(enum log_level level);
/* True when stderr is a terminal: colour and progress are shown only then. */
bool log_tty(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * The options every program has, in its getopt loop's default case: -q, -v
 * (OPTION_DONE: go on), -h and -V (printed: the exit status), and any other
 * (a usage error: EXIT_USAGE).
 */
enum { OPTION_DONE = -1 };
int log_common_option(int ch, const char *usage);

/* Prints "prog: message" and "Try 'prog --help' ..." for a usage error. */
void log_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
