/*
 * common/db/myjson.c: MySQL 8's partial JSON updates (PARTIAL_UPDATE_ROWS
 * with binlog_row_value_options=PARTIAL_JSON) applied to the before
 * image's document. A diff vector (MySQL's Json_diff_vector, written by
 * Json_diff_vector::write_binary) is a 4-byte length, then diffs: an
 * operation (0 REPLACE, 1 INSERT, 2 REMOVE), a length-encoded path and the
 * path's text ($, .key, ."quoted key", [N]), and but for REMOVE a
 * length-encoded value in binary JSON.
 *
 * The document is held as a small tree over the text MySQL prints (the
 * text myrows_json gives): scalars keep their text as printed, objects
 * their keys in MySQL's order (shorter first, then by bytes), so that the
 * document printed again reads as MySQL prints the updated value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myevent.h"
#include "myrows.h"
#include "../dms.h"

#define MAX_DEPTH 100

struct jv {
	char kind;		/* 's' scalar, 'o' object, 'a' array */
	char *text;		/* a scalar's text */
	size_t n, cap;
	char **keys;		/* an object's keys, as printed: quoted, escaped */
	struct jv **kids;
};

static void
jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		jv_free(v->kids[i]);
	}
	free(v->keys);
	free(v->kids);
	free(v->text);
	free(v);
}

/* Room for one more member or element. */
static void
jv_grow(struct jv *v)
{
	if (v->n < v->cap)
		return;
	v->cap = v->cap ? 2 * v->cap : 4;
	v->kids = xrealloc(v->kids, v->cap * sizeof(*v->kids));
	if (v->kind == 'o')
		v->keys = xrealloc(v->keys, v->cap * sizeof(*v->keys));
}

static void
skip_ws(const char **s)
{
	while (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')
		(*s)++;
}

/* A string token at *s (its quotes and escapes kept): its length, 0 if malformed. */
static size_t
string_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '"')
		return 0;
	while (s[i] != '"') {
		if (s[i] == '\0')
			return 0;
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
		i++;
	}
	return i + 1;
}

static struct jv *
parse(const char **s, int depth)
{
	struct jv *v = xcalloc(1, sizeof(*v));
	char open;

	skip_ws(s);
	if (depth > MAX_DEPTH)
		goto bad;
	open = **s;
	if (open == '{' || open == '[') {
		v->kind = open == '{' ? 'o' : 'a';
		(*s)++;
		skip_ws(s);
		if (**s == (open == '{' ? '}' : ']')) {
			(*s)++;
			return v;
		}
		for (;;) {
			char *key = NULL;
			struct jv *kid;

			skip_ws(s);
			if (v->kind == 'o') {
				size_t n = string_len(*s);

				if (n == 0)
					goto bad;
				key = xstrndup(*s, n);
				*s += n;
				skip_ws(s);
				if (**s != ':') {
					free(key);
					goto bad;
				}
				(*s)++;
			}
			if ((kid = parse(s, depth + 1)) == NULL) {
				free(key);
				goto bad;
			}
			jv_grow(v);
			if (v->kind == 'o')
				v->keys[v->n] = key;
			v->kids[v->n++] = kid;
			skip_ws(s);
			if (**s == ',') {
				(*s)++;
				continue;
			}
			if (**s != (open == '{' ? '}' : ']'))
				goto bad;
			(*s)++;
			return v;
		}
	}
	v->kind = 's';
	if (open == '"') {
		size_t n = string_len(*s);

		if (n == 0)
			goto bad;
		v->text = xstrndup(*s, n);
		*s += n;
	} else {
		size_t n = strcspn(*s, ",]} \t\n\r");

		if (n == 0)
			goto bad;
		v->text = xstrndup(*s, n);
		*s += n;
	}
	return v;
bad:
	jv_free(v);
	return NULL;
}

/* A whole document's text as a tree; NULL: malformed. */
static struct jv *
parse_doc(const char *text)
{
	const char *s = text;
	struct jv *v = parse(&s, 0);

	if (v != NULL) {
		skip_ws(&s);
		if (*s != '\0') {
			jv_free(v);
			v = NULL;
		}
	}
	return v;
}

static void
print(const struct jv *v, struct strbuf *out)
{
	if (v->kind == 's') {
		sb_adds(out, v->text);
		return;
	}
	sb_adds(out, v->kind == 'o' ? "{" : "[");
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			sb_adds(out, ", ");
		if (v->kind == 'o') {
			sb_adds(out, v->keys[i]);
			sb_adds(out, ": ");
		}
		print(v->kids[i], out);
	}
	sb_adds(out, v->kind == 'o' ? "}" : "]");
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A quoted, escaped string's bytes (UTF-8) into out; false: malformed. */
static bool
unescape(const char *q, size_t n, struct strbuf *out)
{
	sb_reset(out);
	if (n < 2 || q[0] != '"' || q[n - 1] != '"')
		return false;
	for (size_t i = 1; i < n - 1; i++) {
		char c = q[i];
		unsigned cp = 0;

		if (c != '\\') {
			sb_add(out, &c, 1);
			continue;
		}
		if (++i >= n - 1)
			return false;
		switch (q[i]) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			for (int k = 0; k < 4; k++) {
				int h = i + 1 < n - 1 ? hexval(q[++i]) : -1;

				if (h < 0)
					return false;
				cp = cp << 4 | (unsigned)h;
			}
			if (cp < 0x80) {
				c = (char)cp;
				break;
			}
			{
				char u[3];
				size_t un;

				if (cp < 0x800) {
					u[0] = (char)(0xc0 | cp >> 6);
					u[1] = (char)(0x80 | (cp & 0x3f));
					un = 2;
				} else {	/* surrogates are kept as their three bytes: only compared */
					u[0] = (char)(0xe0 | cp >> 12);
					u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[2] = (char)(0x80 | (cp & 0x3f));
					un = 3;
				}
				sb_add(out, u, un);
				continue;
			}
		default: c = q[i]; break;	/* \" \\ \/ */
		}
		sb_add(out, &c, 1);
	}
	return true;
}

/* MySQL's order of an object's keys: shorter first, then by bytes. */
static int
key_cmp(const struct strbuf *a, const struct strbuf *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->len ? memcmp(a->buf, b->buf, a->len) : 0;
}

/* A leg of a path: a member's key (its bytes, and as printed) or an array index. */
struct leg {
	bool member;
	struct strbuf key;	/* unescaped */
	char *printed;		/* quoted and escaped, as the document prints it */
	bool last;		/* [last] or [last-N] */
	uint64_t index;
};

/* The next leg of a path at *s; false: malformed (or a wildcard, which a diff never holds). */
static bool
parse_leg(const char **s, struct leg *l)
{
	memset(l, 0, sizeof(*l));
	if (**s == '.') {
		(*s)++;
		l->member = true;
		if (**s == '"') {
			size_t n = string_len(*s);

			if (n == 0 || !unescape(*s, n, &l->key))
				return false;
			*s += n;
		} else {
			size_t n = strcspn(*s, ".[");

			if (n == 0 || n > 65535 || memchr(*s, '*', n) != NULL)
				return false;
			sb_add(&l->key, *s, n);
			*s += n;
		}
		{
			/* printed as MySQL prints a key */
			struct strbuf k = STRBUF_INIT;

			myrows_json_string((const uint8_t *)(l->key.buf ? l->key.buf : ""), l->key.len, &k);
			l->printed = k.buf;
		}
		return true;
	}
	if (**s == '[') {
		char *end;

		(*s)++;
		skip_ws(s);
		if (strncmp(*s, "last", 4) == 0) {
			l->last = true;
			*s += 4;
			skip_ws(s);
			if (**s == '-') {
				(*s)++;
				skip_ws(s);
				if (**s < '0' || **s > '9')
					return false;
				l->index = strtoull(*s, &end, 10);
				*s = end;
			}
		} else {
			if (**s < '0' || **s > '9')
				return false;
			l->index = strtoull(*s, &end, 10);
			*s = end;
		}
		skip_ws(s);
		if (**s != ']')
			return false;
		(*s)++;
		return true;
	}
	return false;
}

static void
leg_free(struct leg *l)
{
	sb_release(&l->key);
	free(l->printed);
}

/* The index a leg names in an array of n elements ([last-N] counted from the end); n + something: past it. */
static uint64_t
leg_index(const struct leg *l, size_t n)
{
	if (!l->last)
		return l->index;
	return n == 0 || l->index >= n ? (uint64_t)-1 : n - 1 - l->index;
}

/* The member of object v with key bytes k: its index, or -1. */
static long
member_of(const struct jv *v, const struct strbuf *k, struct strbuf *scratch)
{
	for (size_t i = 0; i < v->n; i++)
		if (unescape(v->keys[i], strlen(v->keys[i]), scratch) && key_cmp(scratch, k) == 0)
			return (long)i;
	return -1;
}

enum { OP_REPLACE = 0, OP_INSERT = 1, OP_REMOVE = 2 };

/* One diff applied to *root; false: it does not apply (err says why). */
static bool
apply(struct jv **root, int op, const char *path, struct jv *value, char *err, size_t errsize)
{
	const char *s = path;
	struct jv *parent = NULL, *cur = *root;
	struct leg l = { 0 }, next;
	struct strbuf scratch = STRBUF_INIT;
	bool have = false, ok = false;

	skip_ws(&s);
	if (*s++ != '$') {
		snprintf(err, errsize, "path %s: not a path", path);
		goto out;
	}
	/* walk to the last leg: parent is the container it applies in */
	for (;;) {
		skip_ws(&s);
		if (*s == '\0')
			break;
		if (!parse_leg(&s, &next)) {
			leg_free(&next);
			snprintf(err, errsize, "path %s: malformed", path);
			goto out;
		}
		if (have) {	/* the leg before this one is taken */
			long i;

			if (cur == NULL || (l.member && cur->kind != 'o') || (!l.member && cur->kind != 'a')) {
				leg_free(&next);
				snprintf(err, errsize, "path %s: not in the document", path);
				goto out;
			}
			if (l.member) {
				i = member_of(cur, &l.key, &scratch);
			} else {
				uint64_t x = leg_index(&l, cur->n);

				i = x < cur->n ? (long)x : -1;
			}
			if (i < 0) {
				leg_free(&next);
				snprintf(err, errsize, "path %s: not in the document", path);
				goto out;
			}
			parent = cur;
			cur = cur->kids[i];
			leg_free(&l);
		}
		l = next;
		have = true;
	}
	if (!have) {	/* $: the whole document */
		if (op != OP_REPLACE) {
			snprintf(err, errsize, "path $: cannot be inserted or removed");
			goto out;
		}
		jv_free(*root);
		*root = value;
		value = NULL;
		ok = true;
		goto out;
	}
	parent = cur;
	if (parent == NULL || (l.member && parent->kind != 'o') || (!l.member && parent->kind != 'a')) {
		snprintf(err, errsize, "path %s: not in the document", path);
		goto out;
	}
	if (l.member) {
		long i = member_of(parent, &l.key, &scratch);

		if (op == OP_REMOVE || op == OP_REPLACE) {
			if (i < 0) {
				snprintf(err, errsize, "path %s: no such member to %s", path,
					 op == OP_REMOVE ? "remove" : "replace");
				goto out;
			}
			jv_free(parent->kids[i]);
			if (op == OP_REPLACE) {
				parent->kids[i] = value;
				value = NULL;
			} else {
				free(parent->keys[i]);
				memmove(parent->keys + i, parent->keys + i + 1, (parent->n - (size_t)i - 1) * sizeof(char *));
				memmove(parent->kids + i, parent->kids + i + 1,
					(parent->n - (size_t)i - 1) * sizeof(struct jv *));
				parent->n--;
			}
		} else if (i >= 0) {	/* INSERT of a member there: it takes the new value */
			jv_free(parent->kids[i]);
			parent->kids[i] = value;
			value = NULL;
		} else {	/* in MySQL's order of keys */
			size_t at = 0;

			while (at < parent->n && unescape(parent->keys[at], strlen(parent->keys[at]), &scratch) &&
			       key_cmp(&scratch, &l.key) < 0)
				at++;
			jv_grow(parent);
			memmove(parent->keys + at + 1, parent->keys + at, (parent->n - at) * sizeof(char *));
			memmove(parent->kids + at + 1, parent->kids + at, (parent->n - at) * sizeof(struct jv *));
			parent->keys[at] = l.printed;
			l.printed = NULL;
			parent->kids[at] = value;
			value = NULL;
			parent->n++;
		}
	} else {
		uint64_t x = leg_index(&l, parent->n);

		if (op == OP_INSERT) {
			size_t at = x < parent->n ? (size_t)x : parent->n;	/* past the end: appended */

			jv_grow(parent);
			memmove(parent->kids + at + 1, parent->kids + at, (parent->n - at) * sizeof(struct jv *));
			parent->kids[at] = value;
			value = NULL;
			parent->n++;
		} else if (x >= parent->n) {
			snprintf(err, errsize, "path %s: no such element to %s", path,
				 op == OP_REMOVE ? "remove" : "replace");
			goto out;
		} else if (op == OP_REPLACE) {
			jv_free(parent->kids[x]);
			parent->kids[x] = value;
			value = NULL;
		} else {
			jv_free(parent->kids[x]);
			memmove(parent->kids + x, parent->kids + x + 1, (parent->n - x - 1) * sizeof(struct jv *));
			parent->n--;
		}
	}
	ok = true;
out:
	if (have)
		leg_free(&l);
	jv_free(value);
	sb_release(&scratch);
	return ok;
}

bool
myjson_apply_diffs(const char *doc, const uint8_t **p, const uint8_t *end, struct strbuf *out, char *err,
		   size_t errsize)
{
	const uint8_t *q = *p, *stop;
	struct jv *root;
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	bool ok = false;
	uint64_t len;

	if (end - q < 4 || (len = myevent_le(q, 4)) > (uint64_t)(end - q - 4)) {
		snprintf(err, errsize, "a JSON diff cut short");
		return false;
	}
	q += 4;
	stop = q + len;
	if ((root = parse_doc(doc)) == NULL) {
		snprintf(err, errsize, "the before image's JSON does not parse");
		return false;
	}
	while (q < stop) {
		int op = *q++;
		uint64_t plen, vlen;
		struct jv *value = NULL;

		if (op > OP_REMOVE || !myevent_lenenc(&q, stop, &plen) || plen > (uint64_t)(stop - q)) {
			snprintf(err, errsize, "a malformed JSON diff");
			goto out;
		}
		sb_reset(&path);
		sb_add(&path, (const char *)q, (size_t)plen);
		q += plen;
		if (op != OP_REMOVE) {
			if (!myevent_lenenc(&q, stop, &vlen) || vlen > (uint64_t)(stop - q)) {
				snprintf(err, errsize, "a malformed JSON diff value");
				goto out;
			}
			sb_reset(&text);
			if (!myrows_json(q, (size_t)vlen, &text) || (value = parse_doc(text.buf ? text.buf : "")) == NULL) {
				snprintf(err, errsize, "a JSON diff's value at %s is malformed", path.buf ? path.buf : "$");
				goto out;
			}
			q += vlen;
		}
		if (!apply(&root, op, path.buf ? path.buf : "", value, err, errsize))
			goto out;
	}
	sb_reset(out);
	print(root, out);
	*p = stop;
	ok = true;
out:
	jv_free(root);
	sb_release(&path);
	sb_release(&text);
	return ok;
}
