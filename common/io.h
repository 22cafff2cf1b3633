/*
 * io.h: byte input and output of streams.
 *
 * dms_out buffers what a program writes and hands it to write(2) in large
 * chunks, through an LZ4 frame compressor when asked (-z). dms_in reads big
 * chunks and, when the input starts with the LZ4 frame magic, decompresses it
 * transparently. Both own their buffers; *_release frees them (not the fd).
 *
 * These are the stream's only I/O backends today (a file descriptor: stdin,
 * stdout, a file, a pipe); a spool directory or a message-queue subject would
 * be another implementation behind the same calls.
 */
#ifndef DMS_IO_H
#define DMS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define DMS_IO_CHUNK (256 * 1024)

struct LZ4F_cctx_s;
struct LZ4F_dctx_s;

struct dms_out {
	int fd;
	const char *name;	/* for messages: "stdout", a path */
	uint8_t *buf;
	size_t len, cap;
	struct LZ4F_cctx_s *cctx;	/* non-NULL when compressing */
	uint8_t *zbuf;
	size_t zcap;
	bool started;		/* LZ4 frame header written */
	bool failed;
	bool closed_pipe;	/* the reader went away (EPIPE) */
	uint64_t bytes;		/* bytes written to fd */
};

bool out_init(struct dms_out *o, int fd, const char *name, bool lz4);
bool out_write_slow(struct dms_out *o, const void *p, size_t n);
/* Pushes everything buffered to the fd (an LZ4 block boundary when compressing). */
bool out_flush(struct dms_out *o);
/* Flushes, ends the LZ4 frame, and for stdout checks close(2). */
bool out_finish(struct dms_out *o);
/*
 * Flushes and ends the LZ4 frame (a plain flush without compression); what is
 * written next starts a new frame. A reader of the bytes so far sees whole
 * records and a frame that ends.
 */
bool out_end_frame(struct dms_out *o);
void out_release(struct dms_out *o);

static inline bool
out_write(struct dms_out *o, const void *p, size_t n)
{
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return true;
	}
	return out_write_slow(o, p, n);
}

static inline bool
out_str(struct dms_out *o, const char *s)
{
	return out_write(o, s, strlen(s));
}

/* msgpack-c packer callback: data is a struct dms_out. */
int out_msgpack_write(void *data, const char *buf, size_t len);

enum in_status { IN_ERROR = -1, IN_EOF = 0, IN_DATA = 1, IN_INTERRUPTED = 2 };

struct dms_in {
	int fd;
	const char *name;
	bool detected;		/* format looked at */
	bool eof;
	struct LZ4F_dctx_s *dctx;	/* non-NULL when the input is LZ4 */
	bool unit_header;	/* LZ4: a frame header comes next */
	bool block_crc, content_crc;	/* LZ4: the frame's flags */
	size_t block_max;	/* LZ4: the frame's largest block */
	uint64_t frames;	/* LZ4: frames ended */
	uint8_t *out;		/* LZ4: the last unit, decompressed */
	size_t outpos, outlen, outcap;
	uint8_t *raw;		/* compressed bytes read, not yet decompressed */
	size_t rawpos, rawlen, rawcap;
	uint64_t bytes;		/* bytes read from fd */
	/* Another source of the bytes than read(fd): a spool (common/spool.c). */
	enum in_status (*source)(void *arg, uint8_t *dst, size_t room, size_t *got);
	void *source_arg;
};

bool in_init(struct dms_in *in, int fd, const char *name);
/* Whether the next in_read needs bytes from fd (none are buffered, it is not at its end). */
bool in_waits(const struct dms_in *in);
/*
 * Reads up to room bytes of (decompressed) input into dst; *got is set.
 * IN_DATA: *got > 0. IN_EOF: clean end. IN_ERROR: logged.
 * IN_INTERRUPTED: a TERM/INT arrived while waiting; nothing was read.
 */
enum in_status in_read(struct dms_in *in, uint8_t *dst, size_t room, size_t *got);
void in_release(struct dms_in *in);

#endif
