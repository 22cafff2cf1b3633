/*
 * spool.c: a change stream kept in a directory; see spool.h and
 * dms-stream(5), SPOOL.
 *
 *   DIR/hello         the stream's HELLO, an LZ4 frame
 *   DIR/NNNNNNNNNN.lz4  segments: LZ4 frames of whole transactions, each
 *                     segment opening with the TABLE records it needs
 *   DIR/tables        "tid TAB schema TAB name" per table: tids never change
 *   DIR/state         what is durable (written whole: temp file, fsync, rename)
 *   DIR/lock          held by the writer
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lz4frame.h>

#include "spool.h"
#include "exitcode.h"
#include "log.h"
#include "position.h"
#include "sig.h"
#include "util.h"

static char *
path_of(const char *dir, const char *name)
{
	return xprintf("%s/%s", dir, name);
}

static char *
segment_path(const char *dir, unsigned seq)
{
	return xprintf("%s/%010u.lz4", dir, seq);
}

char *
ack_position(const char *path)
{
	char buf[256];
	FILE *f;
	char *pos = NULL;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return NULL;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] != '\0')
			pos = xstrdup(buf);
	}
	fclose(f);
	return pos;
}

/* ---- the state file ---- */

static void
state_free(struct spool_state *st)
{
	free(st->server);
	free(st->database);
	free(st->position);
	free(st->seg_start);
	for (size_t i = 0; i < st->nclosed; i++) {
		free(st->closed[i].start);
		free(st->closed[i].end);
	}
	free(st->closed);
	memset(st, 0, sizeof(*st));
}

/* A word of a state line: up to the next space; *p moves past it. */
static char *
word(char **p)
{
	char *s = *p, *e = s + strcspn(s, " ");

	*p = *e ? e + 1 : e;
	return xstrndup(s, (size_t)(e - s));
}

/*
 * Reads DIR/state. *exists: false when there is none (a new spool). False:
 * unreadable or malformed (logged).
 */
static bool
state_read(const char *dir, struct spool_state *st, bool *exists)
{
	char *path = path_of(dir, "state"), line[1024];
	FILE *f = fopen(path, "r");
	bool ok = true, version = false;
	int n = 0;

	memset(st, 0, sizeof(*st));
	*exists = f != NULL;
	if (f == NULL) {
		ok = errno == ENOENT;
		if (!ok)
			log_error("%s: %s", path, strerror(errno));
		free(path);
		return ok;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *key;

		n++;
		line[strcspn(line, "\n")] = '\0';
		key = word(&p);
		if (strcmp(key, "dms-spool") == 0) {
			version = strcmp(p, "1") == 0;
		} else if (strcmp(key, "server") == 0) {
			st->server = xstrdup(p);
		} else if (strcmp(key, "database") == 0) {
			st->database = xstrdup(p);
		} else if (strcmp(key, "position") == 0) {
			st->position = xstrdup(p);
		} else if (strcmp(key, "segment") == 0) {
			char *seq = word(&p), *start = word(&p), *end;

			st->segment = (unsigned)strtoul(seq, NULL, 10);
			st->seg_start = start;
			st->offset = strtoull(p, &end, 10);
			ok = st->segment > 0 && *p && *end == '\0';
			free(seq);
		} else if (strcmp(key, "closed") == 0) {
			char *seq = word(&p);
			struct spool_seg *c;

			st->closed = xrealloc(st->closed, (st->nclosed + 1) * sizeof(*st->closed));
			c = &st->closed[st->nclosed++];
			c->seq = (unsigned)strtoul(seq, NULL, 10);
			c->start = word(&p);
			c->end = xstrdup(p);
			ok = c->seq > 0 && *c->end;
			free(seq);
		} else if (strcmp(key, "ended") == 0) {
			st->ended = true;
		} else {
			ok = false;
		}
		free(key);
	}
	fclose(f);
	if (!ok || !version || st->segment == 0) {
		log_error("%s: not a dms spool state (line %d)", path, n);
		ok = false;
	}
	free(path);
	return ok;
}

static bool
state_write(const char *dir, const struct spool_state *st)
{
	struct strbuf sb = STRBUF_INIT;
	char *path;
	bool ok;

	sb_addf(&sb, "dms-spool 1\nserver %s\ndatabase %s\n", st->server ? st->server : "",
		st->database ? st->database : "");
	if (st->position)
		sb_addf(&sb, "position %s\n", st->position);
	for (size_t i = 0; i < st->nclosed; i++)
		sb_addf(&sb, "closed %u %s %s\n", st->closed[i].seq, st->closed[i].start, st->closed[i].end);
	sb_addf(&sb, "segment %u %s %" PRIu64 "\n", st->segment, st->seg_start, st->offset);
	if (st->ended)
		sb_adds(&sb, "ended\n");
	path = path_of(dir, "state");
	ok = file_replace(path, sb.buf, sb.len, true);
	free(path);
	sb_release(&sb);
	return ok;
}

/* ---- the writer ---- */

static bool
load_tables(struct spool_writer *s)
{
	char *path = path_of(s->dir, "tables"), line[4096];
	FILE *f = fopen(path, "r");

	s->next_tid = 1;
	if (f == NULL) {
		free(path);
		return true;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t');
		int64_t tid = strtoll(line, NULL, 10);

		line[strcspn(line, "\n")] = '\0';
		if (tab == NULL || tid < 0) {
			log_error("%s: a line that is not \"tid TAB schema TAB name\"", path);
			fclose(f);
			free(path);
			return false;
		}
		s->tnames = xrealloc(s->tnames, (s->ntables + 1) * sizeof(*s->tnames));
		s->tids = xrealloc(s->tids, (s->ntables + 1) * sizeof(*s->tids));
		s->tnames[s->ntables] = xstrdup(tab + 1);
		s->tids[s->ntables++] = tid;
		if (tid >= s->next_tid)
			s->next_tid = tid + 1;
	}
	fclose(f);
	free(path);
	return true;
}

int64_t
spool_tid(struct spool_writer *s, const char *schema, const char *name)
{
	return spool_tid_as(s, schema, name, -1);
}

int64_t
spool_tid_known(const struct spool_writer *s, const char *schema, const char *name)
{
	char *key = xprintf("%s\t%s", schema, name);
	int64_t tid = -1;

	for (size_t i = 0; i < s->ntables && tid < 0; i++)
		if (strcmp(s->tnames[i], key) == 0)
			tid = s->tids[i];
	free(key);
	return tid;
}

int64_t
spool_tid_as(struct spool_writer *s, const char *schema, const char *name, int64_t given)
{
	char *key = xprintf("%s\t%s", schema, name), *line, *path;
	int64_t tid;
	int fd;
	bool ok;

	for (size_t i = 0; i < s->ntables; i++)
		if (strcmp(s->tnames[i], key) == 0) {
			free(key);
			return s->tids[i];
		}
	if (strpbrk(schema, "\t\n") || strpbrk(name, "\t\n")) {
		log_error("%s.%s: a table name with a tab or a newline cannot be spooled", schema, name);
		free(key);
		return -1;
	}
	tid = given >= 0 ? given : s->next_tid++;
	line = xprintf("%" PRId64 "\t%s\n", tid, key);
	path = path_of(s->dir, "tables");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
	if (!ok)
		log_error("%s: cannot write: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(line);
	free(path);
	if (!ok) {
		free(key);
		return -1;
	}
	s->tnames = xrealloc(s->tnames, (s->ntables + 1) * sizeof(*s->tnames));
	s->tids = xrealloc(s->tids, (s->ntables + 1) * sizeof(*s->tids));
	s->tnames[s->ntables] = key;
	s->tids[s->ntables++] = tid;
	return tid;
}

/* DIR/hello: the HELLO record in an LZ4 frame (with block checksums), as every segment's bytes are. */
static bool
write_hello(struct spool_writer *s, const uint8_t *hello, size_t len)
{
	LZ4F_preferences_t prefs = { .frameInfo = { .blockChecksumFlag = LZ4F_blockChecksumEnabled } };
	size_t cap = LZ4F_compressFrameBound(len, &prefs), n;
	char *buf = xmalloc(cap), *path = path_of(s->dir, "hello");
	bool ok;

	n = LZ4F_compressFrame(buf, cap, hello, len, &prefs);
	ok = !LZ4F_isError(n) && file_replace(path, buf, n, true);
	if (LZ4F_isError(n))
		log_error("%s: cannot compress the HELLO record", path);
	free(buf);
	free(path);
	return ok;
}

/* The current segment cut back to its durable length (what a killed writer left after it goes). */
static bool
cut_torn(struct spool_writer *s)
{
	char *path = segment_path(s->dir, s->st.segment);
	struct stat sb;
	bool ok = true;

	if (stat(path, &sb) != 0) {
		log_error("%s: the segment being written is missing: %s", path, strerror(errno));
		ok = false;
	} else if ((uint64_t)sb.st_size < s->st.offset) {
		log_error("%s: %jd bytes, shorter than its durable %" PRIu64 ": the spool is damaged",
			  path, (intmax_t)sb.st_size, s->st.offset);
		ok = false;
	} else if ((uint64_t)sb.st_size > s->st.offset) {
		log_warn("%s: %" PRIu64 " bytes written after the last durable position are dropped (they come again from the source)",
			 path, (uint64_t)sb.st_size - s->st.offset);
		ok = truncate(path, (off_t)s->st.offset) == 0;
		if (!ok)
			log_error("%s: cannot truncate: %s", path, strerror(errno));
	}
	free(path);
	return ok;
}

int
spool_open(struct spool_writer *s, const char *dir, const uint8_t *hello, size_t hello_len,
	   const char *server, const char *database, uint64_t segment_size)
{
	char *lock;
	bool exists;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->dir = xstrdup(dir);
	s->segment_size = segment_size;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		log_error("%s: cannot create the spool directory: %s", dir, strerror(errno));
		return EXIT_OUTPUT;
	}
	lock = path_of(dir, "lock");
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lock);
	if (s->lock_fd < 0) {
		log_error("%s: cannot open its lock: %s", dir, strerror(errno));
		return EXIT_OUTPUT;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		log_error("%s: another dms-capture writes this spool", dir);
		return EXIT_USAGE;
	}
	if (!state_read(dir, &s->st, &exists))
		return EXIT_OUTPUT;
	if (exists && (strcmp(s->st.server ? s->st.server : "", server ? server : "") != 0 ||
		       strcmp(s->st.database ? s->st.database : "", database ? database : "") != 0)) {
		log_error("%s holds the changes of database %s of server %s, not of this source: give another spool directory",
			  dir, s->st.database, s->st.server);
		return EXIT_USAGE;
	}
	if (!exists) {
		s->st.server = xstrdup(server ? server : "");
		s->st.database = xstrdup(database ? database : "");
		if (!write_hello(s, hello, hello_len))
			return EXIT_OUTPUT;
	} else if (!cut_torn(s)) {
		return EXIT_OUTPUT;
	}
	/* a reader must not take an earlier run's stop for this one's */
	if (exists && s->st.ended) {
		s->st.ended = false;
		if (!state_write(dir, &s->st))
			return EXIT_OUTPUT;
	}
	return load_tables(s) ? EXIT_OK : EXIT_OUTPUT;
}

const char *
spool_position(const struct spool_writer *s)
{
	return s->st.position;
}

/* Closes the segment being written: its frame ends and it is synced. */
static bool
close_segment(struct spool_writer *s)
{
	bool ok;

	if (!s->open)
		return true;
	ok = out_end_frame(&s->w.out) && fsync(s->fd) == 0;
	if (!ok)
		log_error("%s: cannot write segment %u: %s", s->dir, s->st.segment, strerror(errno));
	out_release(&s->w.out);
	close(s->fd);
	s->fd = -1;
	s->open = false;
	return ok;
}

/* Closed segments whose files a reader deleted are forgotten. */
static void
forget_deleted(struct spool_writer *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->st.nclosed; i++) {
		char *path = segment_path(s->dir, s->st.closed[i].seq);

		if (access(path, F_OK) == 0) {
			s->st.closed[k++] = s->st.closed[i];
		} else {
			free(s->st.closed[i].start);
			free(s->st.closed[i].end);
		}
		free(path);
	}
	s->st.nclosed = k;
}

bool
spool_segment(struct spool_writer *s, const char *start)
{
	char *path;

	if (!close_segment(s))
		return false;
	if (s->st.segment > 0) {
		struct spool_seg *c;

		s->st.closed = xrealloc(s->st.closed, (s->st.nclosed + 1) * sizeof(*s->st.closed));
		c = &s->st.closed[s->st.nclosed++];
		c->seq = s->st.segment;
		c->start = s->st.seg_start;
		c->end = xstrdup(s->st.position ? s->st.position : s->st.seg_start);
		s->st.seg_start = NULL;
	}
	s->st.segment++;
	free(s->st.seg_start);
	s->st.seg_start = xstrdup(start);
	s->st.offset = 0;
	s->seg_bytes = 0;
	path = segment_path(s->dir, s->st.segment);
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->fd < 0 || !writer_init(&s->w, s->fd, path, true)) {
		log_error("%s: cannot create: %s", path, strerror(errno));
		free(path);
		return false;
	}
	/* the writer names the file in messages: keep the name with the writer */
	s->w.out.name = s->dir;
	free(path);
	s->open = true;
	return sync_dir(s->dir) && spool_durable(s, s->st.position ? s->st.position : start, false);
}

bool
spool_durable(struct spool_writer *s, const char *position, bool ended)
{
	if (!s->open)
		return false;
	if (!out_end_frame(&s->w.out) || fdatasync(s->fd) != 0) {
		log_error("%s: cannot write segment %u: %s", s->dir, s->st.segment,
			  s->w.out.failed ? "write failed" : strerror(errno));
		return false;
	}
	s->seg_bytes = s->w.out.bytes;
	s->st.offset = s->w.out.bytes;
	if (position != NULL && (s->st.position == NULL || strcmp(s->st.position, position) != 0)) {
		free(s->st.position);
		s->st.position = xstrdup(position);
	}
	s->st.ended = ended;
	forget_deleted(s);
	return state_write(s->dir, &s->st);
}

bool
spool_dirty(const struct spool_writer *s)
{
	return s->open && (s->w.out.len > 0 || s->w.out.bytes != s->seg_bytes || s->w.out.started);
}

bool
spool_full(const struct spool_writer *s)
{
	return s->open && s->w.out.bytes >= s->segment_size;
}

void
spool_close(struct spool_writer *s)
{
	if (s->open) {
		out_release(&s->w.out);
		close(s->fd);
	}
	if (s->lock_fd > 0)
		close(s->lock_fd);
	for (size_t i = 0; i < s->ntables; i++)
		free(s->tnames[i]);
	free(s->tnames);
	free(s->tids);
	state_free(&s->st);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}

/* ---- the reader ---- */

static bool
read_hello(struct spool_reader *r)
{
	char *path = path_of(r->dir, "hello");
	FILE *f = fopen(path, "rb");
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	size_t n;

	if (f == NULL) {
		log_error("%s: %s", path, strerror(errno));
		free(path);
		return false;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_add(&sb, buf, n);
	fclose(f);
	free(path);
	r->hello = (uint8_t *)sb.buf;
	r->hello_len = sb.len;
	return sb.len > 0;
}

/* position a at or before b; false when they do not compare (logged). */
static bool
at_or_before(const char *a, const char *b, bool *yes)
{
	int cmp;

	if (!position_compare(a, b, &cmp)) {
		log_error("positions %s and %s do not compare: are they of this source?", a, b);
		return false;
	}
	*yes = cmp <= 0;
	return true;
}

static void prune(struct spool_reader *r);

int
spool_reader_open(struct spool_reader *r, const char *dir, const char *start, bool follow,
		  const char *ack_file)
{
	bool exists, before;
	char *from;
	const char *oldest_start;
	unsigned oldest;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->dir = xstrdup(dir);
	r->ack_file = ack_file ? xstrdup(ack_file) : NULL;
	r->follow = follow;
	if (!state_read(dir, &r->st, &exists))
		return EXIT_INPUT;
	if (!exists) {
		log_error("%s: not a spool (no state file): dms-capture -o %s writes one", dir, dir);
		return EXIT_INPUT;
	}
	if (!read_hello(r))
		return EXIT_INPUT;
	from = start ? xstrdup(start) : ack_position(ack_file);
	oldest = r->st.nclosed ? r->st.closed[0].seq : r->st.segment;
	oldest_start = r->st.nclosed ? r->st.closed[0].start : r->st.seg_start;
	r->seq = oldest;
	if (from != NULL) {
		if (oldest > 1) {
			if (!at_or_before(oldest_start, from, &before)) {
				free(from);
				return EXIT_USAGE;
			}
			if (!before) {
				log_error("%s begins after %s (at %s): the changes between were deleted from the spool",
					  dir, from, oldest_start);
				free(from);
				return EXIT_INPUT;
			}
		}
		r->seq = r->st.segment;
		for (size_t i = 0; i < r->st.nclosed; i++) {
			if (!at_or_before(r->st.closed[i].end, from, &before)) {
				free(from);
				return EXIT_USAGE;
			}
			if (!before) {
				r->seq = r->st.closed[i].seq;
				break;
			}
		}
		log_info("%s: reading from segment %u, after %s", dir, r->seq, from);
		free(from);
	}
	prune(r);
	return EXIT_OK;
}

/* Segments read whole and wholly applied by the target (its ack file) are deleted. */
static void
prune(struct spool_reader *r)
{
	char *ack = ack_position(r->ack_file);

	r->last_prune = mono_ms();
	if (ack == NULL)
		return;
	for (size_t i = 0; i < r->st.nclosed; i++) {
		const struct spool_seg *c = &r->st.closed[i];
		int cmp;

		if (c->seq < r->seq && position_compare(c->end, ack, &cmp) && cmp <= 0) {
			char *path = segment_path(r->dir, c->seq);

			if (unlink(path) == 0)
				log_info("%s: segment %u applied up to %s by the target: deleted", r->dir, c->seq, c->end);
			free(path);
		}
	}
	free(ack);
}

static bool
reload(struct spool_reader *r)
{
	struct spool_state st;
	bool exists;

	if (!state_read(r->dir, &st, &exists) || !exists) {
		if (!exists)
			log_error("%s: the spool's state file is gone", r->dir);
		return false;
	}
	state_free(&r->st);
	r->st = st;
	return true;
}

enum in_status
spool_read(void *arg, uint8_t *dst, size_t room, size_t *got)
{
	struct spool_reader *r = arg;

	*got = 0;
	if (r->hello_pos < r->hello_len) {
		size_t n = r->hello_len - r->hello_pos < room ? r->hello_len - r->hello_pos : room;

		memcpy(dst, r->hello + r->hello_pos, n);
		r->hello_pos += n;
		*got = n;
		return IN_DATA;
	}
	for (;;) {
		uint64_t limit = r->seq < r->st.segment ? UINT64_MAX : r->st.offset;

		if (r->seq > r->st.segment) {
			log_error("%s: segment %u is past the one being written (%u): the state file went back",
				  r->dir, r->seq, r->st.segment);
			return IN_ERROR;
		}
		if (r->fd < 0) {
			char *path = segment_path(r->dir, r->seq);

			r->fd = open(path, O_RDONLY | O_CLOEXEC);
			if (r->fd < 0) {
				log_error("%s: %s", path, strerror(errno));
				free(path);
				return IN_ERROR;
			}
			free(path);
			r->off = 0;
		}
		if (r->off < limit) {
			size_t want = limit - r->off < room ? (size_t)(limit - r->off) : room;
			ssize_t n = pread(r->fd, dst, want, (off_t)r->off);

			if (n > 0) {
				r->off += (uint64_t)n;
				*got = (size_t)n;
				return IN_DATA;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || r->seq == r->st.segment) {
				log_error("%s: segment %u: %s", r->dir, r->seq,
					  n < 0 ? strerror(errno) : "shorter than its durable length");
				return IN_ERROR;
			}
		}
		if (r->seq < r->st.segment) {
			close(r->fd);
			r->fd = -1;
			r->seq++;
			prune(r);
			continue;
		}
		/* the durable end of the segment being written */
		if (r->st.ended || !r->follow)
			return IN_EOF;
		if (sig_drain || sig_stop)
			return IN_INTERRUPTED;
		{
			struct timespec pause = { 0, 10 * 1000000 };

			nanosleep(&pause, NULL);
		}
		if (sig_drain || sig_stop)
			return IN_INTERRUPTED;
		if (!reload(r))
			return IN_ERROR;
		if (mono_ms() - r->last_prune >= 1000)
			prune(r);
	}
}

void
spool_reader_close(struct spool_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	state_free(&r->st);
	free(r->hello);
	free(r->dir);
	free(r->ack_file);
	memset(r, 0, sizeof(*r));
}
