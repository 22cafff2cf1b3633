/*
 * dms-fuzz: a small mutation fuzzer that runs a program once per input.
 *
 *   dms-fuzz [-s seed] [-n runs] [-T seconds] [-t timeout-ms] [-x statuses]
 *            [-d dictionary] [-o findings-dir] -c corpus-dir -- command [arg ...]
 *
 * Each run takes a seed input from the corpus (every file of corpus-dir),
 * mutates it (bit flips, MessagePack headers that claim huge lengths, chunks
 * deleted, duplicated or spliced from another seed, dictionary tokens), and
 * feeds it to the command on stdin; an argument "@@" is replaced by the path
 * of a file holding the input instead. A run is a finding when the command
 * dies of a signal, exits with a status not listed in -x (the sanitizers exit
 * 86, see below), or outlives the timeout (a hang). Findings are written to
 * findings-dir with the command's stderr, and the last line of output is
 *
 *   fuzz NAME: R runs, F findings
 *
 * The sequence of inputs depends only on the seed and the corpus, so a run
 * with the same -s and -n repeats exactly. The seeds themselves run first,
 * unmutated. Exit: 0 no finding, 1 findings, 2 usage.
 *
 * The driver works with any compiler; built with -fsanitize=address,undefined
 * the command reports memory errors, undefined behaviour and leaks, which
 * ASAN_OPTIONS and UBSAN_OPTIONS (set here unless already set) turn into
 * exit status 86. A test helper; not installed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (1 << 20)
#define SANITIZER_STATUS 86

struct blob {
	uint8_t *p;
	size_t len;
};

static struct blob *seeds, *dict;
static size_t nseeds, ndict;
static uint64_t rng;

static uint64_t
next_random(void)
{
	/* xorshift64*: deterministic for a given seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static size_t
below(size_t n)
{
	return n ? (size_t)(next_random() % n) : 0;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "dms-fuzz: out of memory\n");
		exit(2);
	}
	return p;
}

static bool
read_file(const char *path, struct blob *b)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return false;
	b->p = xmalloc(FUZZ_MAX_INPUT);
	n = fread(b->p, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	b->len = n;
	return true;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order (so runs repeat). */
static void
load_corpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (d == NULL) {
		fprintf(stderr, "dms-fuzz: %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	seeds = xmalloc(n * sizeof(*seeds));
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && read_file(path, &seeds[nseeds]))
			nseeds++;
		free(names[i]);
	}
	free(names);
	if (nseeds == 0) {
		fprintf(stderr, "dms-fuzz: %s: no seed inputs\n", dir);
		exit(2);
	}
}

/* A dictionary: one token per line, with \n, \t, \\ and \xHH escapes. */
static void
load_dict(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (f == NULL) {
		fprintf(stderr, "dms-fuzz: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\n"), o = 0;
		uint8_t *t = xmalloc(n + 1);

		for (size_t i = 0; i < n; i++) {
			if (line[i] == '\\' && i + 1 < n) {
				char c = line[++i];

				if (c == 'n')
					t[o++] = '\n';
				else if (c == 't')
					t[o++] = '\t';
				else if (c == 'x' && i + 2 < n + 1) {
					unsigned v;

					sscanf(line + i + 1, "%2x", &v);
					t[o++] = (uint8_t)v;
					i += 2;
				} else
					t[o++] = (uint8_t)c;
			} else {
				t[o++] = (uint8_t)line[i];
			}
		}
		if (o == 0) {
			free(t);
			continue;
		}
		dict = realloc(dict, (ndict + 1) * sizeof(*dict));
		dict[ndict].p = t;
		dict[ndict++].len = o;
	}
	fclose(f);
}

/* MessagePack headers that make readers trust a length or a count. */
static const uint8_t interesting8[] = {
	0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
	0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8, 0xd9, 0xdb, 0xdc,
	0xdd, 0xde, 0xdf, 0xe0, 0xff,
};
static const uint32_t interesting32[] = {
	0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
};

static void
insert(uint8_t *buf, size_t *len, size_t at, const uint8_t *p, size_t n)
{
	if (*len + n > FUZZ_MAX_INPUT)
		n = FUZZ_MAX_INPUT - *len;
	memmove(buf + at + n, buf + at, *len - at);
	memcpy(buf + at, p, n);
	*len += n;
}

static void
mutate_once(uint8_t *buf, size_t *len)
{
	size_t at = below(*len + 1);

	switch (below(10)) {
	case 0:		/* flip a bit */
		if (*len)
			buf[below(*len)] ^= (uint8_t)(1u << below(8));
		break;
	case 1:		/* an interesting byte */
		if (*len)
			buf[below(*len)] = interesting8[below(sizeof(interesting8))];
		break;
	case 2:		/* an interesting big-endian 32-bit count or length */
		if (*len >= 4) {
			uint32_t v = interesting32[below(sizeof(interesting32) / 4)];
			size_t i = below(*len - 3);

			buf[i] = (uint8_t)(v >> 24);
			buf[i + 1] = (uint8_t)(v >> 16);
			buf[i + 2] = (uint8_t)(v >> 8);
			buf[i + 3] = (uint8_t)v;
		}
		break;
	case 3:		/* delete a chunk */
		if (*len) {
			size_t n = 1 + below(*len - at < 64 ? *len - at : 64);

			if (at + n > *len)
				n = *len - at;
			memmove(buf + at, buf + at + n, *len - at - n);
			*len -= n;
		}
		break;
	case 4:		/* duplicate a chunk */
		if (*len) {
			size_t from = below(*len), n = 1 + below(64);
			uint8_t tmp[64];

			if (from + n > *len)
				n = *len - from;
			memcpy(tmp, buf + from, n);
			insert(buf, len, at, tmp, n);
		}
		break;
	case 5:		/* truncate */
		*len = at;
		break;
	case 6:		/* splice: the head of this input, the tail of another seed */
	{
		const struct blob *o = &seeds[below(nseeds)];
		size_t from = below(o->len + 1);

		if (at + (o->len - from) <= FUZZ_MAX_INPUT) {
			memcpy(buf + at, o->p + from, o->len - from);
			*len = at + (o->len - from);
		}
		break;
	}
	case 7:		/* random bytes */
	{
		uint8_t tmp[8];
		size_t n = 1 + below(8);

		for (size_t i = 0; i < n; i++)
			tmp[i] = (uint8_t)next_random();
		insert(buf, len, at, tmp, n);
		break;
	}
	default:	/* a dictionary token, inserted or written over */
		if (ndict) {
			const struct blob *t = &dict[below(ndict)];

			if (below(2) && at + t->len <= *len)
				memcpy(buf + at, t->p, t->len);
			else
				insert(buf, len, at, t->p, t->len);
		} else if (*len) {
			buf[below(*len)] = (uint8_t)next_random();
		}
		break;
	}
}

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool
save(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = write_all(fd, p, n);
	return close(fd) == 0 && ok;
}

enum verdict { V_OK, V_CRASH, V_STATUS, V_SANITIZER, V_HANG };

struct run {
	enum verdict verdict;
	int detail;		/* the signal or the status */
};

/*
 * Runs argv once with the input, its stderr into errpath. Input on stdin,
 * or in inpath where an argument is "@@".
 */
static struct run
run_once(char **argv, const uint8_t *in, size_t len, const char *inpath, const char *errpath,
	 const bool *allowed, unsigned timeout_ms)
{
	struct run r = { V_OK, 0 };
	int pipefd[2] = { -1, -1 }, status;
	bool file_input = false;
	struct timespec start, now;
	pid_t pid;

	for (char **a = argv; *a; a++)
		file_input |= strcmp(*a, "@@") == 0;
	if (file_input) {
		if (!save(inpath, in, len)) {
			fprintf(stderr, "dms-fuzz: cannot write %s\n", inpath);
			exit(2);
		}
	} else if (pipe(pipefd) != 0) {
		fprintf(stderr, "dms-fuzz: pipe: %s\n", strerror(errno));
		exit(2);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "dms-fuzz: fork: %s\n", strerror(errno));
		exit(2);
	}
	if (pid == 0) {
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDWR);
		char **args;
		size_t n = 0;

		while (argv[n])
			n++;
		args = xmalloc((n + 1) * sizeof(*args));
		for (size_t i = 0; i <= n; i++)
			args[i] = argv[i] && strcmp(argv[i], "@@") == 0 ? (char *)inpath : argv[i];
		if (file_input) {
			dup2(null, 0);
		} else {
			dup2(pipefd[0], 0);
			close(pipefd[0]);
			close(pipefd[1]);
		}
		dup2(null, 1);
		dup2(err, 2);
		setpgid(0, 0);
		execvp(args[0], args);
		_exit(127);
	}
	if (!file_input) {
		close(pipefd[0]);
		/* the command may stop reading early: that is its right */
		write_all(pipefd[1], in, len);
		close(pipefd[1]);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    (long)timeout_ms) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			r.verdict = V_HANG;
			return r;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	if (WIFSIGNALED(status)) {
		r.verdict = V_CRASH;
		r.detail = WTERMSIG(status);
	} else if (WEXITSTATUS(status) == SANITIZER_STATUS) {
		r.verdict = V_SANITIZER;
		r.detail = SANITIZER_STATUS;
	} else if (!allowed[WEXITSTATUS(status)]) {
		r.verdict = V_STATUS;
		r.detail = WEXITSTATUS(status);
	}
	return r;
}

static void
usage(void)
{
	fputs("usage: dms-fuzz [-s seed] [-n runs] [-T seconds] [-t timeout-ms] [-x statuses]\n"
	      "                [-d dictionary] [-o findings-dir] [-N name] -c corpus-dir -- command [arg ...]\n",
	      stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *corpus = NULL, *outdir = NULL, *name = NULL;
	unsigned long runs = 1000, seconds = 0, timeout_ms = 10000, seed = 1;
	bool allowed[256] = { [0] = true };
	char inpath[4096], errpath[4096];
	unsigned long findings = 0, done = 0;
	uint8_t *buf = xmalloc(FUZZ_MAX_INPUT);
	time_t deadline;
	int ch;

	while ((ch = getopt(argc, argv, "s:n:T:t:x:d:o:c:N:")) != -1) {
		switch (ch) {
		case 's': seed = strtoul(optarg, NULL, 10); break;
		case 'n': runs = strtoul(optarg, NULL, 10); break;
		case 'T': seconds = strtoul(optarg, NULL, 10); break;
		case 't': timeout_ms = strtoul(optarg, NULL, 10); break;
		case 'x': {
			char *p = optarg;

			memset(allowed, 0, sizeof(allowed));
			while (*p) {
				unsigned long v = strtoul(p, &p, 10);

				if (v < 256)
					allowed[v] = true;
				if (*p == ',')
					p++;
				else if (*p)
					usage();
			}
			break;
		}
		case 'd': load_dict(optarg); break;
		case 'o': outdir = optarg; break;
		case 'c': corpus = optarg; break;
		case 'N': name = optarg; break;
		default: usage();
		}
	}
	if (corpus == NULL || optind >= argc)
		usage();
	if (name == NULL)
		name = argv[optind];
	load_corpus(corpus);
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	setenv("ASAN_OPTIONS", "exitcode=86:abort_on_error=0:detect_leaks=1:hard_rss_limit_mb=768:allocator_may_return_null=1", 0);
	setenv("UBSAN_OPTIONS", "halt_on_error=1:exitcode=86:print_stacktrace=1", 0);
	setenv("LSAN_OPTIONS", "exitcode=86", 0);
	snprintf(inpath, sizeof(inpath), "%s/dms-fuzz.%d.in", outdir ? outdir : "/tmp", (int)getpid());
	snprintf(errpath, sizeof(errpath), "%s/dms-fuzz.%d.err", outdir ? outdir : "/tmp", (int)getpid());
	if (outdir != NULL)
		mkdir(outdir, 0755);
	deadline = seconds ? time(NULL) + (time_t)seconds : 0;
	signal(SIGPIPE, SIG_IGN);
	for (unsigned long i = 0; i < runs + nseeds; i++) {
		size_t len;
		struct run r;

		if (deadline && time(NULL) >= deadline)
			break;
		if (i < nseeds) {
			len = seeds[i].len;
			memcpy(buf, seeds[i].p, len);
		} else {
			const struct blob *s = &seeds[below(nseeds)];
			unsigned n = 1 + (unsigned)below(4);

			len = s->len;
			memcpy(buf, s->p, len);
			while (n--)
				mutate_once(buf, &len);
		}
		r = run_once(argv + optind, buf, len, inpath, errpath, allowed, (unsigned)timeout_ms);
		done++;
		if (r.verdict != V_OK) {
			static const char *const what[] = { "", "crash, signal", "exit status",
							    "sanitizer report, status", "hang over (ms)" };
			char path[4096];

			findings++;
			fprintf(stderr, "dms-fuzz: %s: run %lu: %s %d\n", name, i, what[r.verdict],
				r.verdict == V_HANG ? (int)timeout_ms : r.detail);
			if (outdir != NULL) {
				snprintf(path, sizeof(path), "%s/%s-%lu.in", outdir, name, i);
				save(path, buf, len);
				snprintf(path, sizeof(path), "%s/%s-%lu.err", outdir, name, i);
				rename(errpath, path);
				fprintf(stderr, "dms-fuzz: %s: input and stderr saved as %s/%s-%lu.*\n",
					name, outdir, name, i);
			} else {
				FILE *f = fopen(errpath, "r");
				char line[512];
				int lines = 0;

				while (f && fgets(line, sizeof(line), f) && lines++ < 30)
					fputs(line, stderr);
				if (f)
					fclose(f);
			}
		}
	}
	unlink(inpath);
	unlink(errpath);
	printf("fuzz %s: %lu runs, %lu findings\n", name, done, findings);
	return findings ? 1 : 0;
}
