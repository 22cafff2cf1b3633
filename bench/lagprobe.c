/*
 * dms-lagprobe [-i ms] -o DIR SOURCE TARGET...: measures replication lag.
 * SOURCE is a libpq connection string, or a mysql:// URI (a MariaDB or
 * MySQL source, whose heartbeat.t is a DATETIME(6) set in UTC from this
 * process's clock); the TARGETs are PostgreSQL.
 * dms-lagprobe -u SQL [-t seconds] CONNINFO: waits until SQL gives 1 on
 * CONNINFO (polled every 10 ms over one connection; exit 1 after -t
 * seconds, default 600), so that a benchmark's wait costs the machine
 * nothing it measures.
 * Every -i milliseconds (default 100) it sets heartbeat.t (the row with
 * id 1) on the SOURCE to clock_timestamp(), and it polls every TARGET, over
 * connections it keeps, for the heartbeat each shows. A heartbeat's lag on a
 * target is the time from its commit on the source (when the UPDATE
 * returned) to the first poll that shows it or a later one. The lags go to
 * DIR/lag.N (milliseconds, one a line, N the target's rank from 1), written
 * at TERM or INT; a heartbeat a target has not shown by then counts with its
 * age at that moment.
 *
 * One process with its connections, so that the probe costs the machine
 * little and measures every target alike: no client process started per
 * sample, no target always sampled after another.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <mysql.h>

#include "../common/my.h"
#include "../common/util.h"

#define MAX_BEATS 100000

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* microseconds of the monotonic clock */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static PGconn *
connect_to(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "dms-lagprobe: %s: %s", conninfo, PQerrorMessage(c));
		exit(1);
	}
	return c;
}

/* The heartbeat's value (epoch microseconds) by SQL on c; -1 when there is none. */
static int64_t
beat_of(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int64_t v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "dms-lagprobe: %s", PQerrorMessage(c));
	PQclear(r);
	return v;
}

/* -u: until sql gives 1, every 10 ms; 0, or 1 after seconds */
static int
until_one(const char *sql, int seconds, const char *conninfo)
{
	PGconn *c = connect_to(conninfo);
	int64_t end = mono_us() + (int64_t)seconds * 1000000;

	for (;;) {
		PGresult *r = PQexec(c, sql);
		bool one = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
			   strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		struct timespec pause = { 0, 10 * 1000000 };

		PQclear(r);
		if (one)
			break;
		if (mono_us() >= end) {
			fprintf(stderr, "dms-lagprobe: %s: not 1 after %d s\n", sql, seconds);
			PQfinish(c);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	PQfinish(c);
	return 0;
}

int
main(int argc, char **argv)
{
	static int64_t beat[MAX_BEATS], sent[MAX_BEATS];
	const char *dir = NULL, *until = NULL;
	int interval = 100, opt, ntargets, seconds = 600;
	size_t nbeats = 0;
	PGconn *src, **tgt;
	struct my_conn mysrc = { 0 };
	size_t *seen;
	int64_t **lag, next;

	while ((opt = getopt(argc, argv, "i:o:t:u:")) != -1) {
		if (opt == 'i')
			interval = atoi(optarg);
		else if (opt == 'o')
			dir = optarg;
		else if (opt == 't')
			seconds = atoi(optarg);
		else if (opt == 'u')
			until = optarg;
		else
			goto usage;
	}
	if (until != NULL && argc - optind == 1 && seconds > 0)
		return until_one(until, seconds, argv[optind]);
	if (dir == NULL || interval <= 0 || argc - optind < 2)
		goto usage;
	if (strncmp(argv[optind], "mysql://", 8) == 0 || strncmp(argv[optind], "mariadb://", 10) == 0) {
		if (!my_connect(&mysrc, argv[optind]))
			return 1;
		src = NULL;
	} else {
		src = connect_to(argv[optind]);
	}
	ntargets = argc - optind - 1;
	tgt = xcalloc((size_t)ntargets, sizeof(*tgt));
	seen = xcalloc((size_t)ntargets, sizeof(*seen));
	lag = xcalloc((size_t)ntargets, sizeof(*lag));
	for (int i = 0; i < ntargets; i++) {
		tgt[i] = connect_to(argv[optind + 1 + i]);
		lag[i] = xcalloc(MAX_BEATS, sizeof(**lag));
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	next = mono_us();
	while (!stop && nbeats < MAX_BEATS) {
		int64_t now = mono_us();

		if (now >= next) {
			int64_t v;

			if (src != NULL) {
				v = beat_of(src, "UPDATE heartbeat SET t = clock_timestamp() WHERE id = 1 "
						 "RETURNING (extract(epoch FROM t) * 1000000)::bigint");
			} else {
				struct timespec wall;
				char sql[128];

				/* the session is in UTC (my_connect): the target's timestamp reads back as this value */
				clock_gettime(CLOCK_REALTIME, &wall);
				v = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
				snprintf(sql, sizeof(sql), "UPDATE heartbeat SET t = FROM_UNIXTIME(%" PRId64 ".%06" PRId64 ") WHERE id = 1",
					 v / 1000000, v % 1000000);
				if (!my_command(&mysrc, sql))
					v = -1;
			}

			if (v < 0)
				return 1;
			beat[nbeats] = v;
			sent[nbeats++] = mono_us();
			next += interval * 1000;
		}
		for (int i = 0; i < ntargets; i++) {
			int64_t v;

			if (seen[i] == nbeats)
				continue;
			v = beat_of(tgt[i], "SELECT (extract(epoch FROM t) * 1000000)::bigint FROM heartbeat WHERE id = 1");
			now = mono_us();
			while (seen[i] < nbeats && beat[seen[i]] <= v) {
				lag[i][seen[i]] = now - sent[seen[i]];
				seen[i]++;
			}
		}
		{
			struct timespec pause = { 0, 2 * 1000000 };

			nanosleep(&pause, NULL);
		}
	}
	for (int i = 0; i < ntargets; i++) {
		char path[4096];
		FILE *f;
		int64_t now = mono_us();

		snprintf(path, sizeof(path), "%s/lag.%d", dir, i + 1);
		if ((f = fopen(path, "w")) == NULL) {
			fprintf(stderr, "dms-lagprobe: %s: %s\n", path, strerror(errno));
			return 1;
		}
		for (size_t k = 0; k < nbeats; k++)
			fprintf(f, "%" PRId64 "\n", (k < seen[i] ? lag[i][k] : now - sent[k]) / 1000);
		if (fclose(f) != 0) {
			fprintf(stderr, "dms-lagprobe: %s: %s\n", path, strerror(errno));
			return 1;
		}
		PQfinish(tgt[i]);
	}
	if (src != NULL)
		PQfinish(src);
	else
		my_disconnect(&mysrc);
	return 0;
usage:
	fprintf(stderr, "usage: dms-lagprobe [-i ms] -o DIR SOURCE TARGET...\n"
			"       dms-lagprobe -u SQL [-t seconds] CONNINFO\n");
	return 2;
}
