/*
 * util.h: small helpers: base64, checked allocation, growing strings.
 */
#ifndef DMS_UTIL_H
#define DMS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Allocation that cannot fail quietly: on failure it logs and exits 1. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A new string, printf-formatted. */
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "query failed (the first 120 bytes of sql...)" into buf, for error messages. */
void query_what(char *buf, size_t size, const char *sql);

/* A growing, always NUL-terminated byte string. */
struct strbuf {
	char *buf;
	size_t len, cap;
};

#define STRBUF_INIT { 0 }
#define sb_init(sb) memset((sb), 0, sizeof(*(sb)))
void sb_add_slow(struct strbuf *sb, const void *p, size_t n);

/* Appends n bytes; the common case (room left) stays inline. */
static inline void
sb_add(struct strbuf *sb, const void *p, size_t n)
{
	if (sb->len + n + 1 <= sb->cap) {
		memcpy(sb->buf + sb->len, p, n);
		sb->len += n;
		sb->buf[sb->len] = '\0';
		return;
	}
	sb_add_slow(sb, p, n);
}
void sb_adds(struct strbuf *sb, const char *s);
void sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_reset(struct strbuf *sb);
void sb_release(struct strbuf *sb);
/* The low bytes of v, big-endian (network order), most significant first. */
void sb_add_be(struct strbuf *sb, uint64_t v, int bytes);

/*
 * A name as one field of a tab-separated line (dms-extract --list, dms-load
 * --report): backslash, tab, newline and carriage return as \\ \t \n \r,
 * other control bytes as \xHH, so that no name can break a line or a field.
 */
void sb_add_tsv_field(struct strbuf *sb, const char *name);
bool tsv_unescape(char *s);
/*
 * A value as backslash-escaped text (PostgreSQL's COPY text, MySQL's LOAD
 * DATA ... ESCAPED BY '\\'): backslash, tab, newline and carriage return as
 * \\ \t \n \r; a NUL byte as nul, or false (nothing of the value after it
 * written) when nul is NULL.
 */
bool sb_add_escaped(struct strbuf *sb, const void *p, size_t n, const char *nul);

/* The value of a hexadecimal digit, or -1. */
int hex_digit(char c);

/* base64 (RFC 4648, with padding). */
size_t base64_encoded_len(size_t n);
void base64_encode(const uint8_t *src, size_t n, char *dst);
/* Decodes into dst (room for n*3/4 bytes); false on a character or length that is not base64. */
bool base64_decode(const char *src, size_t n, uint8_t *dst, size_t *outlen);

/*
 * Replaces the file at path with data, whole or not at all for its readers:
 * a temporary file renamed over it. durable: the file and its directory are
 * fsynced first and after, so that it survives a crash of the machine;
 * without, such a crash may leave the previous content or an empty file.
 * False: logged.
 */
bool file_replace(const char *path, const void *data, size_t len, bool durable);
/* fsync of a directory (after a file in it was made or renamed). False: logged. */
bool sync_dir(const char *dir);

/* Milliseconds of the monotonic clock, for intervals. */
int64_t mono_ms(void);
/* Makes room for n more bytes (a hot loop then appends without reallocating). */
void sb_grow_by(struct strbuf *sb, size_t n);

#endif
