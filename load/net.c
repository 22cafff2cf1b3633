/*
 * load/net.c: the net change per key of one table over a batch (batch apply,
 * DMS BatchApplyEnabled). Each key ends as a row to upsert (its full image)
 * or a key to delete: insert then update is the insert of the last image,
 * insert then delete is nothing, update then delete is a delete.
 */
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "../common/dms.h"

struct entry {
	uint8_t *key;		/* the key columns' msgpack bytes, one after another */
	size_t klen;
	uint8_t *values;	/* the row's values array: the full image, or the key (others nil) */
	size_t vlen;
	char op;		/* NET_UPSERT, NET_DELETE; 0: a free slot */
	bool inserted;		/* first met as an INSERT in this batch: a DELETE then leaves nothing */
};

struct net {
	struct entry *slots;
	size_t cap, used, live;	/* slots; taken (live and tombstones); live entries */
	size_t bytes;
};

static uint8_t *
memdup(const void *p, size_t n)
{
	uint8_t *q = xmalloc(n ? n : 1);

	memcpy(q, p, n);
	return q;
}

static uint64_t
hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

struct net *
net_new(void)
{
	return xcalloc(1, sizeof(struct net));
}

void
net_clear(struct net *n)
{
	for (size_t i = 0; i < n->cap; i++) {
		free(n->slots[i].key);
		free(n->slots[i].values);
	}
	free(n->slots);
	memset(n, 0, sizeof(*n));
}

void
net_free(struct net *n)
{
	if (n == NULL)
		return;
	net_clear(n);
	free(n);
}

size_t
net_bytes(const struct net *n)
{
	return n->bytes + n->cap * sizeof(struct entry);
}

size_t
net_count(const struct net *n)
{
	return n->live;
}

/* The slot of key: its entry, or the free slot where it goes. */
static struct entry *
slot(struct net *n, const uint8_t *key, size_t klen)
{
	size_t mask = n->cap - 1, i = (size_t)hash(key, klen) & mask;

	for (;; i = (i + 1) & mask) {
		struct entry *e = &n->slots[i];

		if (e->key == NULL || (e->klen == klen && memcmp(e->key, key, klen) == 0))
			return e;
	}
}

static void
grow(struct net *n)
{
	struct net old = *n;

	n->cap = old.cap ? old.cap * 2 : 1024;
	n->slots = xcalloc(n->cap, sizeof(struct entry));
	n->used = n->live = 0;
	for (size_t i = 0; i < old.cap; i++) {
		struct entry *e = &old.slots[i];

		if (e->op == 0) {	/* a tombstone: dropped */
			free(e->key);
			continue;
		}
		*slot(n, e->key, e->klen) = *e;
		n->used++;
		n->live++;
	}
	free(old.slots);
}

/* The key's bytes of a values array: the key columns' items, concatenated. */
static bool
key_of(const struct dms_table *t, const uint8_t *values, size_t len, struct strbuf *out)
{
	struct mp_cursor c;
	struct mp_item it;
	uint32_t n;

	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY || it.v.n != t->ncols)
		return false;
	n = it.v.n;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *start = c.p;

		if (mp_skip(&c) != MP_OK)
			return false;
		/* the items are self-delimiting: one after another they name the key */
		for (uint32_t k = 0; k < t->nkey; k++)
			if (t->key[k] == i)
				sb_add(out, start, (size_t)(c.p - start));
	}
	return true;
}

static bool
has_unchanged(const uint8_t *values, size_t len)
{
	struct mp_cursor c;
	struct mp_item it;
	uint32_t n;

	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY)
		return false;
	n = it.v.n;
	for (uint32_t i = 0; i < n; i++)
		if (mp_next(&c, &it) != MP_OK || mp_is_unchanged(&it))
			return true;
	return false;
}

static void
set(struct net *n, struct entry *e, const struct strbuf *key, char op, const uint8_t *values,
    size_t vlen, bool inserted)
{
	if (e->key == NULL) {
		e->key = memdup(key->buf, key->len);
		e->klen = key->len;
		n->used++;
		n->bytes += key->len;
	}
	if (e->op == 0)
		n->live++;
	n->bytes -= e->vlen;
	free(e->values);
	e->values = memdup(values, vlen);
	e->vlen = vlen;
	n->bytes += vlen;
	e->op = op;
	e->inserted = inserted;
}

/* Forgets a key (insert then delete): a tombstone until the next grow. */
static void
drop(struct net *n, struct entry *e)
{
	n->bytes -= e->vlen;
	free(e->values);
	e->values = NULL;
	e->vlen = 0;
	e->op = 0;
	e->inserted = false;
	n->live--;
}

enum net_result
net_add(struct net *n, const struct dms_table *t, enum dms_kind kind, const uint8_t *values, size_t vlen,
	const uint8_t *old, size_t olen)
{
	struct strbuf key = STRBUF_INIT, oldkey = STRBUF_INIT;
	struct entry *e;
	enum net_result r = NET_ADDED;

	if (t->nkey == 0)
		return NET_NEEDS_TARGET;
	if (kind != K_DELETE && has_unchanged(values, vlen))
		return NET_NEEDS_TARGET;	/* its other values are on the target */
	if ((n->used + 1) * 4 >= n->cap * 3)
		grow(n);
	if (!key_of(t, values, vlen, &key) || (old && !key_of(t, old, olen, &oldkey))) {
		r = NET_BAD;
		goto out;
	}
	if (kind == K_UPDATE && old && (oldkey.len != key.len || memcmp(oldkey.buf, key.buf, key.len) != 0)) {
		/* the key changed: the old key goes, the new one takes the image */
		e = slot(n, (const uint8_t *)oldkey.buf, oldkey.len);
		if (e->op != 0 && e->inserted)
			drop(n, e);
		else
			set(n, e, &oldkey, NET_DELETE, old, olen, false);
		if ((n->used + 1) * 4 >= n->cap * 3)
			grow(n);
		e = slot(n, (const uint8_t *)key.buf, key.len);
		set(n, e, &key, NET_UPSERT, values, vlen, false);
		goto out;
	}
	e = slot(n, (const uint8_t *)key.buf, key.len);
	switch (kind) {
	case K_INSERT: {
		bool fresh = e->op == 0;	/* not in the batch yet: a DELETE then leaves nothing */

		set(n, e, &key, NET_UPSERT, values, vlen, fresh);
		break;
	}
	case K_UPDATE: {
		bool inserted = e->op != 0 && e->inserted;

		set(n, e, &key, NET_UPSERT, values, vlen, inserted);
		break;
	}
	default:
		if (e->op != 0 && e->inserted)
			drop(n, e);
		else
			set(n, e, &key, NET_DELETE, values, vlen, false);
		break;
	}
out:
	sb_release(&key);
	sb_release(&oldkey);
	return r;
}

size_t
net_rows(const struct net *n, struct net_row **rows)
{
	size_t k = 0;

	*rows = xcalloc(n->live + 1, sizeof(**rows));
	for (size_t i = 0; i < n->cap; i++) {
		const struct entry *e = &n->slots[i];

		if (e->op == 0)
			continue;
		(*rows)[k].op = e->op;
		(*rows)[k].values = e->values;
		(*rows)[k].len = e->vlen;
		k++;
	}
	return k;
}
