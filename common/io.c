/*
 * io.c: byte input and output of streams: buffered writes to a file descriptor,
 * optionally in LZ4 frames with block checksums, and reads that recognise and
 * check LZ4 input (see io.h).
 */
#include <errno.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "sig.h"
#include "dms.h"

static const LZ4F_preferences_t lz4_prefs = {
	.frameInfo = {
		.blockSizeID = LZ4F_max256KB,
		.blockMode = LZ4F_blockLinked,
		.contentChecksumFlag = LZ4F_contentChecksumEnabled,
		.blockChecksumFlag = LZ4F_blockChecksumEnabled,
	},
	.compressionLevel = 0,
};

static bool
write_all(struct dms_out *o, const uint8_t *p, size_t n)
{
	if (o->failed)
		return false;
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->failed = true;
			if (errno == EPIPE) {
				o->closed_pipe = true;
				log_debug("%s: the reader closed the pipe", o->name);
			} else {
				log_error("cannot write to %s: %s", o->name, strerror(errno));
			}
			return false;
		}
		p += w;
		n -= (size_t)w;
		o->bytes += (uint64_t)w;
	}
	return true;
}

bool
out_init(struct dms_out *o, int fd, const char *name, bool lz4)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->name = name;
	o->cap = DMS_IO_CHUNK;
	o->buf = malloc(o->cap);
	if (o->buf == NULL) {
		log_error("out of memory");
		return false;
	}
	if (lz4) {
		if (LZ4F_isError(LZ4F_createCompressionContext(&o->cctx, LZ4F_VERSION))) {
			log_error("cannot create an LZ4 compression context");
			return false;
		}
		o->zcap = LZ4F_compressBound(o->cap, &lz4_prefs) + LZ4F_HEADER_SIZE_MAX;
		o->zbuf = malloc(o->zcap);
		if (o->zbuf == NULL) {
			log_error("out of memory");
			return false;
		}
	}
	return true;
}

/* Hands the buffer to the fd or to the compressor; flush also empties the compressor. */
static bool
drain(struct dms_out *o, bool flush)
{
	size_t z;

	if (o->cctx == NULL) {
		bool ok = write_all(o, o->buf, o->len);

		o->len = 0;
		return ok;
	}
	if (!o->started) {
		z = LZ4F_compressBegin(o->cctx, o->zbuf, o->zcap, &lz4_prefs);
		if (LZ4F_isError(z) || !write_all(o, o->zbuf, z))
			goto fail;
		o->started = true;
	}
	if (o->len > 0) {
		z = LZ4F_compressUpdate(o->cctx, o->zbuf, o->zcap, o->buf, o->len, NULL);
		o->len = 0;
		if (LZ4F_isError(z) || !write_all(o, o->zbuf, z))
			goto fail;
	}
	if (flush) {
		z = LZ4F_flush(o->cctx, o->zbuf, o->zcap, NULL);
		if (LZ4F_isError(z) || !write_all(o, o->zbuf, z))
			goto fail;
	}
	return true;
fail:
	if (!o->failed) {
		log_error("LZ4 compression of %s failed", o->name);
		o->failed = true;
	}
	return false;
}

bool
out_write_slow(struct dms_out *o, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (n > 0) {
		size_t room;

		if (o->len == o->cap && !drain(o, false))
			return false;
		if (o->len == 0 && n >= o->cap && o->cctx == NULL)
			return write_all(o, s, n);
		room = o->cap - o->len;
		if (room > n)
			room = n;
		memcpy(o->buf + o->len, s, room);
		o->len += room;
		s += room;
		n -= room;
	}
	return true;
}

bool
out_flush(struct dms_out *o)
{
	if (o->failed)
		return false;
	if (o->len == 0 && (o->cctx == NULL || !o->started))
		return true;
	return drain(o, true);
}

bool
out_finish(struct dms_out *o)
{
	if (!out_flush(o))
		return false;
	if (o->cctx != NULL) {
		size_t z;

		if (!o->started && !drain(o, false))
			return false;
		z = LZ4F_compressEnd(o->cctx, o->zbuf, o->zcap, NULL);
		if (LZ4F_isError(z) || !write_all(o, o->zbuf, z))
			return false;
	}
	if (o->fd == STDOUT_FILENO && close(o->fd) != 0 && errno != EINTR) {
		o->failed = true;
		if (errno == EPIPE)
			o->closed_pipe = true;
		else
			log_error("cannot close %s: %s", o->name, strerror(errno));
		return false;
	}
	return true;
}

bool
out_end_frame(struct dms_out *o)
{
	size_t z;

	if (o->cctx == NULL)
		return out_flush(o);
	if (o->failed)
		return false;
	if (o->len == 0 && !o->started)
		return true;
	if (!drain(o, false))
		return false;
	z = LZ4F_compressEnd(o->cctx, o->zbuf, o->zcap, NULL);
	if (LZ4F_isError(z) || !write_all(o, o->zbuf, z)) {
		o->failed = true;
		return false;
	}
	o->started = false;
	return true;
}

void
out_release(struct dms_out *o)
{
	free(o->buf);
	free(o->zbuf);
	if (o->cctx != NULL)
		LZ4F_freeCompressionContext(o->cctx);
	memset(o, 0, sizeof(*o));
}

int
out_msgpack_write(void *data, const char *buf, size_t len)
{
	return out_write(data, buf, len) ? 0 : -1;
}

bool
in_init(struct dms_in *in, int fd, const char *name)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->name = name;
	return true;
}

static enum in_status
read_some(struct dms_in *in, uint8_t *dst, size_t room, size_t *got)
{
	if (in->source != NULL) {
		enum in_status st = in->source(in->source_arg, dst, room, got);

		if (st == IN_DATA)
			in->bytes += *got;
		else if (st == IN_EOF)
			in->eof = true;
		return st;
	}
	for (;;) {
		ssize_t n = read(in->fd, dst, room);

		if (n >= 0) {
			*got = (size_t)n;
			in->bytes += (uint64_t)n;
			if (n == 0)
				in->eof = true;
			return n == 0 ? IN_EOF : IN_DATA;
		}
		if (errno != EINTR) {
			log_error("cannot read %s: %s", in->name, strerror(errno));
			return IN_ERROR;
		}
		if (sig_stop || sig_drain)
			return IN_INTERRUPTED;
	}
}

static const uint8_t lz4_magic[4] = { 0x04, 0x22, 0x4d, 0x18 };

/* Reads the first bytes and decides whether the input is an LZ4 frame. */
static enum in_status
detect(struct dms_in *in)
{
	in->rawcap = DMS_IO_CHUNK;
	in->raw = malloc(in->rawcap);
	if (in->raw == NULL) {
		log_error("out of memory");
		return IN_ERROR;
	}
	while (in->rawlen < sizeof(lz4_magic) && !in->eof) {
		size_t got;
		enum in_status st = read_some(in, in->raw + in->rawlen, in->rawcap - in->rawlen, &got);

		if (st == IN_ERROR || st == IN_INTERRUPTED)
			return st;
		in->rawlen += got;
	}
	in->detected = true;
	if (in->rawlen >= sizeof(lz4_magic) && memcmp(in->raw, lz4_magic, 4) == 0) {
		if (LZ4F_isError(LZ4F_createDecompressionContext(&in->dctx, LZ4F_VERSION))) {
			log_error("cannot create an LZ4 decompression context");
			return IN_ERROR;
		}
		in->unit_header = true;
	}
	return IN_DATA;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The size of the next unit of the LZ4 frame format at in->raw[rawpos..]:
 * a frame header, a block with its checksum, or the end mark with the
 * content checksum. 0: more bytes are needed to know; SIZE_MAX: not LZ4.
 */
static size_t
lz4_unit(struct dms_in *in)
{
	const uint8_t *p = in->raw + in->rawpos;
	size_t have = in->rawlen - in->rawpos;

	if (in->unit_header) {
		uint8_t flg;

		if (have < 7)
			return 0;
		if (le32(p) != 0x184D2204U)
			return SIZE_MAX;
		flg = p[4];
		in->block_crc = flg & 0x10;
		in->content_crc = flg & 0x04;
		in->block_max = (size_t)1 << (8 + 2 * ((p[5] >> 4) & 7));
		return 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
	}
	if (have < 4)
		return 0;
	if (le32(p) == 0)
		return 4 + (in->content_crc ? 4 : 0);
	if ((le32(p) & 0x7FFFFFFFU) > in->block_max)
		return SIZE_MAX;
	return 4 + (le32(p) & 0x7FFFFFFFU) + (in->block_crc ? 4 : 0);
}

/*
 * LZ4 input is handed to the decompressor one whole unit at a time: a block
 * and its checksum together, so that a corrupt block is refused in the call
 * that would decode it, and none of its bytes reach a reader.
 */
static enum in_status
read_lz4(struct dms_in *in, uint8_t *dst, size_t room, size_t *got)
{
	*got = 0;
	while (in->outpos == in->outlen) {
		size_t need = lz4_unit(in), dsize, ssize;
		size_t r;

		if (need == SIZE_MAX) {
			log_error("%s: corrupt LZ4 input at byte %llu: not an LZ4 frame header or block size",
				  in->name, (unsigned long long)(in->bytes - (in->rawlen - in->rawpos)));
			return IN_ERROR;
		}
		if (need == 0 || in->rawlen - in->rawpos < need) {
			enum in_status st;
			size_t got_raw;

			if (in->eof) {
				if (in->rawpos == in->rawlen && in->unit_header && in->frames > 0)
					return IN_EOF;
				log_error("%s: truncated LZ4 input (the compressed frame does not end)", in->name);
				return IN_ERROR;
			}
			/* room for the whole unit */
			memmove(in->raw, in->raw + in->rawpos, in->rawlen - in->rawpos);
			in->rawlen -= in->rawpos;
			in->rawpos = 0;
			if (need > in->rawcap) {
				uint8_t *bigger = realloc(in->raw, need);

				if (bigger == NULL) {
					log_error("out of memory");
					return IN_ERROR;
				}
				in->raw = bigger;
				in->rawcap = need;
			}
			st = read_some(in, in->raw + in->rawlen, in->rawcap - in->rawlen, &got_raw);
			if (st == IN_ERROR || st == IN_INTERRUPTED)
				return st;
			in->rawlen += got_raw;
			continue;
		}
		if (in->outcap < in->block_max) {
			free(in->out);
			if ((in->out = malloc(in->block_max)) == NULL) {
				log_error("out of memory");
				return IN_ERROR;
			}
			in->outcap = in->block_max;
		}
		dsize = in->outcap;
		ssize = need;
		r = LZ4F_decompress(in->dctx, in->out, &dsize, in->raw + in->rawpos, &ssize, NULL);
		if (LZ4F_isError(r) || ssize != need) {
			log_error("%s: corrupt LZ4 input, in the block at byte %llu: %s", in->name,
				  (unsigned long long)(in->bytes - (in->rawlen - in->rawpos)),
				  LZ4F_isError(r) ? LZ4F_getErrorName(r) : "a block the decompressor did not take whole");
			return IN_ERROR;
		}
		in->rawpos += need;
		in->outpos = 0;
		in->outlen = dsize;
		if (in->unit_header) {
			in->unit_header = false;
		} else if (le32(in->raw + in->rawpos - need) == 0) {
			/* the end mark: a next frame may follow */
			in->unit_header = true;
			in->frames++;
		}
	}
	*got = in->outlen - in->outpos < room ? in->outlen - in->outpos : room;
	memcpy(dst, in->out + in->outpos, *got);
	in->outpos += *got;
	return IN_DATA;
}

enum in_status
in_read(struct dms_in *in, uint8_t *dst, size_t room, size_t *got)
{
	*got = 0;
	if (!in->detected) {
		enum in_status st = detect(in);

		if (st != IN_DATA)
			return st;
	}
	if (in->dctx != NULL)
		return read_lz4(in, dst, room, got);
	if (in->rawpos < in->rawlen) {
		size_t n = in->rawlen - in->rawpos;

		if (n > room)
			n = room;
		memcpy(dst, in->raw + in->rawpos, n);
		in->rawpos += n;
		*got = n;
		return IN_DATA;
	}
	if (in->eof)
		return IN_EOF;
	return read_some(in, dst, room, got);
}

bool
in_waits(const struct dms_in *in)
{
	if (in->source != NULL || in->eof || !in->detected)
		return false;
	if (in->rawpos < in->rawlen)
		return false;
	if (in->dctx != NULL && in->outpos < in->outlen)
		return false;
	return true;
}

void
in_release(struct dms_in *in)
{
	free(in->raw);
	free(in->out);
	if (in->dctx != NULL)
		LZ4F_freeDecompressionContext(in->dctx);
	memset(in, 0, sizeof(*in));
}
