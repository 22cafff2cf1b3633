/*
 * util.c: small helpers: base64, checked allocation, growing strings, TSV
 * escapes (see util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "log.h"
#include "dms.h"

static void
oom(size_t n)
{
	log_error("out of memory (%zu bytes)", n);
	exit(EXIT_RUNTIME);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
sb_grow(struct strbuf *sb, size_t more)
{
	size_t want = sb->len + more + 1;

	if (want <= sb->cap)
		return;
	sb->cap = sb->cap ? sb->cap : 64;
	while (sb->cap < want)
		sb->cap *= 2;
	sb->buf = xrealloc(sb->buf, sb->cap);
}

void
sb_grow_by(struct strbuf *sb, size_t n)
{
	sb_grow(sb, n);
}

void
sb_add_slow(struct strbuf *sb, const void *p, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void
sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void
sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void
sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void
sb_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
base64_encode(const uint8_t *s, size_t n, char *d)
{
	size_t i = 0;

	for (; i + 2 < n; i += 3) {
		*d++ = b64[s[i] >> 2];
		*d++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*d++ = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*d++ = b64[s[i + 2] & 63];
	}
	if (i < n) {
		*d++ = b64[s[i] >> 2];
		if (i + 1 < n) {
			*d++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*d++ = b64[(s[i + 1] & 15) << 2];
		} else {
			*d++ = b64[(s[i] & 3) << 4];
			*d++ = '=';
		}
		*d++ = '=';
	}
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool
base64_decode(const char *s, size_t n, uint8_t *d, size_t *outlen)
{
	size_t o = 0;

	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64val(s[i + j])) < 0)
				return false;
		}
		d[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			d[o++] = (uint8_t)((v[1] << 4) | (v[2] >> 2));
		if (pad < 1)
			d[o++] = (uint8_t)((v[2] << 6) | v[3]);
	}
	*outlen = o;
	return true;
}

void
query_what(char *buf, size_t size, const char *sql)
{
	snprintf(buf, size, "query failed (%.120s%s)", sql, strlen(sql) > 120 ? "..." : "");
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void
sb_add_be(struct strbuf *sb, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	sb_add(sb, b, (size_t)bytes);
}

void
sb_add_tsv_field(struct strbuf *sb, const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		switch (*p) {
		case '\\': sb_adds(sb, "\\\\"); break;
		case '\t': sb_adds(sb, "\\t"); break;
		case '\n': sb_adds(sb, "\\n"); break;
		case '\r': sb_adds(sb, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sb_addf(sb, "\\x%02x", *p);
			else
				sb_add(sb, p, 1);
		}
	}
}

/* True when one of the 8 bytes of w is below 0x20 or a backslash. */
static inline bool
word_needs_escape(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t below = (w - ones * 0x20) & ~w & highs;
	uint64_t x = w ^ (ones * '\\');
	uint64_t backslash = (x - ones) & ~x & highs;

	return (below | backslash) != 0;
}

bool
sb_add_escaped(struct strbuf *sb, const void *value, size_t n, const char *nul)
{
	const uint8_t *p = value;
	size_t run = 0, i = 0;

	sb_grow_by(sb, n + 8);
	/* most text needs no escape: skip it a word at a time */
	while (i + 8 <= n) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (word_needs_escape(w))
			break;
		i += 8;
	}
	for (; i < n; i++) {
		const char *esc;

		switch (p[i]) {
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\0':
			if (nul == NULL)
				return false;
			esc = nul;
			break;
		default: continue;
		}
		sb_add(sb, p + run, i - run);
		sb_adds(sb, esc);
		run = i + 1;
	}
	sb_add(sb, p + run, n - run);
	return true;
}

/* Undoes sb_add_tsv_field in place; false when s holds an escape it never writes. */
bool
tsv_unescape(char *s)
{
	char *w = s;

	for (const char *p = s; *p; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		switch (*++p) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'x': {
			int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			*w++ = (char)(hi * 16 + lo);
			p += 2;
			break;
		}
		default:
			return false;
		}
	}
	*w = '\0';
	return true;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (!ok)
		log_error("%s: cannot sync the directory: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

bool
file_replace(const char *path, const void *data, size_t len, bool durable)
{
	char *tmp = xprintf("%s.tmp", path), *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len && (!durable || fsync(fd) == 0);

	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok)
		log_error("%s: cannot write: %s", path, strerror(errno));
	if (slash != NULL)
		*slash = '\0';
	if (ok && durable)
		ok = sync_dir(slash == NULL ? "." : *dir ? dir : "/");
	free(tmp);
	free(dir);
	return ok;
}
