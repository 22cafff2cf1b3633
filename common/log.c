/*
 * log.c: messages for people, on stderr only, prefixed with the program and
 * its pid, at the level -q and -v set (see log.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "dms.h"

static const char *progname = "dms";
static enum log_level level = LOG_WARNING;
static int tty = -1;

static const char *const names[] = { "error", "warning", "info", "debug" };
static const char *const colours[] = { "\033[1;31m", "\033[1;33m", "\033[1;32m", "\033[2m" };

void
log_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *
log_progname(void)
{
	return progname;
}

void
log_set_level(enum log_level l)
{
	level = l;
}

void
log_more(void)
{
	if (level < LOG_DEBUG)
		level++;
}

void
log_less(void)
{
	if (level > LOG_ERROR)
		level--;
}

bool
log_enabled(enum log_level l)
{
	return l <= level;
}

bool
log_tty(void)
{
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	return tty;
}

static void
write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

static void
vlog(enum log_level l, const char *fmt, va_list ap)
{
	char line[4096];
	int saved = errno;
	int n;
	size_t len;

	if (log_tty())
		n = snprintf(line, sizeof(line), "%s[%d]: %s%s\033[0m: ", progname,
			     (int)getpid(), colours[l], names[l]);
	else
		n = snprintf(line, sizeof(line), "%s[%d]: %s: ", progname, (int)getpid(),
			     names[l]);
	len = n < 0 ? 0 : (size_t)n;
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		len += n < 0 ? 0 : (size_t)n;
	}
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	write_line(line, len);
	errno = saved;
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;

	if (l > level)
		return;
	va_start(ap, fmt);
	vlog(l, fmt, ap);
	va_end(ap);
}

void
log_usage_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s: ", progname);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	snprintf(line + n, sizeof(line) - (size_t)n, "\nTry '%s --help' for more information.\n",
		 progname);
	write_line(line, strlen(line));
}

int
log_common_option(int ch, const char *usage)
{
	switch (ch) {
	case 'q':
		log_less();
		return OPTION_DONE;
	case 'v':
		log_more();
		return OPTION_DONE;
	case 'h':
		fputs(usage, stdout);
		return fclose(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
	case 'V':
		printf("%s (dms) %s\n", progname, DMS_VERSION);
		return fclose(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
	default:
		log_usage_error("unknown or incomplete option");
		return EXIT_USAGE;
	}
}
