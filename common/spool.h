/*
 * spool.h: a change stream kept in a directory (dms-stream(5), SPOOL).
 *
 * dms-capture -o DIR writes its stream into numbered segment files of LZ4
 * frames. A durable point ends the frame, fsyncs the segment and records in
 * DIR/state the position reached and the segment's durable length: only then
 * is the position acknowledged to the source. A reader (dms-transform DIR)
 * serves DIR/hello and then the segments' bytes up to the durable length, so
 * it sees whole frames and whole transactions only, and with --follow waits
 * for more. Segments the target acknowledged (its ack file) are deleted by the
 * reader. A table keeps its tid for the life of the spool (DIR/tables), so the
 * segments of successive capture runs read as one stream.
 */
#ifndef DMS_SPOOL_H
#define DMS_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "stream.h"

struct spool_seg {
	unsigned seq;
	char *start, *end;	/* positions: after start, up to end (closed segments) */
};

/* DIR/state: what is durable. */
struct spool_state {
	char *server, *database;	/* the source */
	char *position;		/* the last durable position */
	unsigned segment;	/* the segment being written */
	char *seg_start;
	uint64_t offset;	/* its durable bytes */
	struct spool_seg *closed;	/* earlier segments still present, oldest first */
	size_t nclosed;
	bool ended;		/* the writer stopped at its stop point: nothing follows */
};

struct spool_writer {
	char *dir;
	int lock_fd, fd;
	struct dms_writer w;	/* into the segment, LZ4 */
	bool open;
	struct spool_state st;
	uint64_t segment_size;
	uint64_t seg_bytes;	/* bytes of the segment at its last durable point */
	char **tnames;		/* "schema\tname", by index; tids[i] its tid */
	int64_t *tids;
	size_t ntables;
	int64_t next_tid;
};

/*
 * Opens DIR (created when missing) for writing, locked against a second
 * writer; a segment torn after its durable length is cut back to it. hello:
 * the stream's HELLO record; server and database identify the source, and a
 * spool of another source is refused. Returns an exit status.
 */
int spool_open(struct spool_writer *s, const char *dir, const uint8_t *hello, size_t hello_len,
	       const char *server, const char *database, uint64_t segment_size);
/* The last durable position of the spool, NULL when none. */
const char *spool_position(const struct spool_writer *s);
/* Starts the next segment after position start; the one before is closed. */
bool spool_segment(struct spool_writer *s, const char *start);
/* What was written is made durable up to position; ended: nothing will follow. */
bool spool_durable(struct spool_writer *s, const char *position, bool ended);
/* Written since the last durable point. */
bool spool_dirty(const struct spool_writer *s);
/* The segment has reached its size: the caller starts the next at its next durable point. */
bool spool_full(const struct spool_writer *s);
/* A table's tid in this spool, assigned at its first use and kept; -1 on error (logged). */
int64_t spool_tid(struct spool_writer *s, const char *schema, const char *name);
/* The same, a table renamed: its new name given the tid it had (given; -1: a new one). */
int64_t spool_tid_as(struct spool_writer *s, const char *schema, const char *name, int64_t given);
/* The tid the spool has for a name; -1: none. */
int64_t spool_tid_known(const struct spool_writer *s, const char *schema, const char *name);
void spool_close(struct spool_writer *s);

struct spool_reader {
	char *dir, *ack_file;
	bool follow;
	struct spool_state st;
	uint8_t *hello;
	size_t hello_len, hello_pos;
	unsigned seq;		/* the segment being read */
	int fd;
	uint64_t off;
	int64_t last_prune;
};

/*
 * Opens DIR for reading from the segment that holds what follows start (NULL:
 * the ack file's position, or the oldest segment). Returns an exit status.
 */
int spool_reader_open(struct spool_reader *r, const char *dir, const char *start, bool follow,
		      const char *ack_file);
/* A dms_in source (in->source) over the reader. */
enum in_status spool_read(void *arg, uint8_t *dst, size_t room, size_t *got);
void spool_reader_close(struct spool_reader *r);

/* The position in an ack file (its first line), or NULL: none yet, or no file. */
char *ack_position(const char *path);

#endif
