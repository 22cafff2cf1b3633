/*
 * capture/pgoutput.c: pgoutput messages (protocol 2, streaming on) into a
 * change stream. Relations are described with the source catalog, as
 * dms-extract describes a table; each transaction's changes are kept (in
 * memory, then in a temporary file) until its commit, and a streamed one per
 * (sub)transaction, so that only committed transactions leave, whole, in
 * commit order. See dms-capture(1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "../common/db/convert.h"
#include "../common/position.h"
#include "../common/records.h"
#include "../common/dms.h"

/* A cursor over one message; every read checks its bounds. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t
rd_uint(struct rd *r, int n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < (size_t)n) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v = v << 8 | *r->p++;
	return v;
}

static const char *
rd_str(struct rd *r)
{
	const uint8_t *nul;
	const char *s;

	if (r->bad || (nul = memchr(r->p, 0, (size_t)(r->end - r->p))) == NULL) {
		r->bad = true;
		return "";
	}
	s = (const char *)r->p;
	r->p = nul + 1;
	return s;
}

static struct rel *
rel_find(struct capture *c, uint32_t relid)
{
	for (size_t i = 0; i < c->nrels; i++)
		if (c->rels[i].relid == relid)
			return &c->rels[i];
	return NULL;
}

/* ---- relations ---- */

/* The relation's TABLE record, packed by the one encoder; renamed_from once it was renamed. */
static void
pack_table_record(const struct rel *rel, uint8_t **out, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rec_table_as(&pk, rel->tid, &rel->t.d,
		     rel->from_name ? &(const struct rec_table_how){ .from_schema = rel->from_schema,
								      .from_name = rel->from_name } : NULL);
	*out = xmalloc(sb.size);
	memcpy(*out, sb.data, sb.size);
	*len = sb.size;
	msgpack_sbuffer_destroy(&sb);
}

/*
 * A Relation message: the table described by the catalog, its columns in the
 * order the messages carry them. A definition that differs from the one last
 * emitted is emitted (as a TABLE redefinition) before the next transaction
 * that changes the table.
 */
static bool
relation(struct capture *c, struct rd *r)
{
	uint32_t relid = (uint32_t)rd_uint(r, 4);
	const char *nsp = rd_str(r), *name = rd_str(r);
	char ident = (char)rd_uint(r, 1);
	int ncols = (int)rd_uint(r, 2);
	struct rel *rel = rel_find(c, relid);
	struct src_name nm = { 0 };
	struct src_table t = { 0 };
	const char **cols;
	bool *flagged, ok = true;
	uint8_t *rec;
	size_t len;

	if (r->bad || ncols < 0)
		return false;
	if (rel == NULL) {
		c->rels = xrealloc(c->rels, (c->nrels + 1) * sizeof(*c->rels));
		rel = &c->rels[c->nrels++];
		memset(rel, 0, sizeof(*rel));
		rel->relid = relid;
		rel->tid = -1;
	}
	rel->skip = !mapping_selects(c->mapping, nsp, name) || strcmp(nsp, "dms") == 0;
	cols = xcalloc((size_t)ncols + 1, sizeof(char *));
	flagged = xcalloc((size_t)ncols + 1, sizeof(bool));
	for (int i = 0; i < ncols; i++) {
		flagged[i] = (rd_uint(r, 1) & 1) != 0;
		cols[i] = rd_str(r);
		rd_uint(r, 4);	/* type OID and typmod: the catalog's description is used */
		rd_uint(r, 4);
	}
	if (r->bad || rel->skip)
		goto out;
	nm.schema = (char *)nsp;
	nm.name = (char *)name;
	nm.oid = relid;
	if (!c->ops->describe(&c->src, &nm, &t)) {
		ok = false;
		goto out;
	}
	/* the catalog's columns must be the message's: a table altered since is described again at its next Relation */
	if ((int)t.d.ncols != ncols) {
		log_error("%s.%s: the relation sent has %d columns, the catalog now %u: the table was altered while its older changes were read; restart dms-capture",
			  nsp, name, ncols, t.d.ncols);
		src_table_free(&t);
		ok = false;
		goto out;
	}
	for (int i = 0; i < ncols; i++)
		if (strcmp(cols[i], t.d.cols[i].name) != 0) {
			log_error("%s.%s: column %d is %s in the relation sent, %s in the catalog: restart dms-capture",
				  nsp, name, i + 1, cols[i], t.d.cols[i].name);
			src_table_free(&t);
			ok = false;
			goto out;
		}
	/* REPLICA IDENTITY FULL without a key: the rows are matched whole */
	if (t.d.nkey == 0 && ident != 'f') {
		for (int i = 0; i < ncols; i++)
			if (flagged[i]) {
				t.d.key = xrealloc(t.d.key, (t.d.nkey + 1) * sizeof(*t.d.key));
				t.d.key[t.d.nkey++] = (uint32_t)i;
			}
	}
	/* renamed (ALTER TABLE ... RENAME, SET SCHEMA): said in its TABLE records from now on */
	if (rel->described && rel->from_name == NULL &&
	    (strcmp(rel->t.d.schema, t.d.schema) != 0 || strcmp(rel->t.d.name, t.d.name) != 0)) {
		rel->from_schema = xstrdup(rel->t.d.schema);
		rel->from_name = xstrdup(rel->t.d.name);
		log_info("%s.%s renamed %s.%s on the source", rel->from_schema, rel->from_name, t.d.schema, t.d.name);
	}
	if (rel->described)
		src_table_free(&rel->t);
	rel->t = t;
	rel->described = true;
	if (rel->tid < 0)
		rel->tid = c->spool ? spool_tid(c->spool, nsp, name) : c->next_tid++;
	if (rel->tid < 0) {
		ok = false;
		goto out;
	}
	pack_table_record(rel, &rec, &len);
	free(rel->pending);
	rel->pending = NULL;
	if (rel->table == NULL || rel->table_len != len || memcmp(rel->table, rec, len) != 0) {
		rel->pending = rec;
		rel->pending_len = len;
	} else {
		free(rec);
	}
out:
	free(cols);
	free(flagged);
	return ok && !r->bad;
}

/* ---- transactions ---- */

static struct txn *
txn_of(struct capture *c, uint32_t xid, bool streamed)
{
	if (!streamed)
		return &c->cur;
	for (size_t i = 0; i < c->nstreamed; i++)
		if (c->streamed[i].xid == xid)
			return &c->streamed[i];
	c->streamed = xrealloc(c->streamed, (c->nstreamed + 1) * sizeof(*c->streamed));
	memset(&c->streamed[c->nstreamed], 0, sizeof(struct txn));
	c->streamed[c->nstreamed].xid = xid;
	c->streamed[c->nstreamed].open = true;
	return &c->streamed[c->nstreamed++];
}

static void
txn_reset(struct txn *t)
{
	sb_release(&t->mem);
	if (t->spill)
		fclose(t->spill);
	free(t->aborted);
	free(t->rels);
	memset(t, 0, sizeof(*t));
}

static void
txn_drop_streamed(struct capture *c, struct txn *t)
{
	size_t i = (size_t)(t - c->streamed);

	txn_reset(t);
	c->streamed[i] = c->streamed[--c->nstreamed];
}

/* The transaction changes rel: its TABLE record goes before the transaction. */
static void
txn_uses(struct txn *t, const struct rel *rel)
{
	size_t i;

	for (i = 0; i < t->nrels && t->rels[i] != rel->relid; i++)
		;
	if (i == t->nrels) {
		t->rels = xrealloc(t->rels, (t->nrels + 1) * sizeof(*t->rels));
		t->rels[t->nrels++] = rel->relid;
	}
}

/* Keeps one change record (tagged with its subtransaction) until the commit. */
static bool
txn_add(struct capture *c, struct txn *t, uint32_t subxid, struct rel *rel, const uint8_t *rec, size_t len)
{
	uint8_t head[8] = { subxid >> 24, subxid >> 16, subxid >> 8, subxid, len >> 24, len >> 16, len >> 8, len };

	txn_uses(t, rel);
	t->changes++;
	if (t->spill == NULL && t->mem.len + len + 8 > c->memory) {
		/* past the memory bound: this transaction goes on in a temporary file */
		if ((t->spill = tmpfile()) == NULL ||
		    fwrite(t->mem.buf ? t->mem.buf : "", 1, t->mem.len, t->spill) != t->mem.len) {
			log_error("cannot spill a large transaction to a temporary file: %s", strerror(errno));
			return false;
		}
		log_info("transaction %u: past %zu bytes, spilled to a temporary file", t->xid, c->memory);
		sb_release(&t->mem);
	}
	if (t->spill != NULL) {
		if (fwrite(head, 1, 8, t->spill) != 8 || fwrite(rec, 1, len, t->spill) != len) {
			log_error("cannot spill a large transaction to a temporary file: %s", strerror(errno));
			return false;
		}
		return true;
	}
	sb_add(&t->mem, head, 8);
	sb_add(&t->mem, rec, len);
	return true;
}

static bool
aborted(const struct txn *t, uint32_t subxid)
{
	for (size_t i = 0; i < t->naborted; i++)
		if (t->aborted[i] == subxid)
			return true;
	return false;
}

/* Writes the entries of buf[0..n) that are not of an aborted subtransaction. */
static void
emit_entries(struct capture *c, const struct txn *t, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t sub = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		uint32_t len = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];

		if ((size_t)len > n - 8)
			break;
		if (!aborted(t, sub))
			out_write(&c->w->out, p + 8, len);
		p += 8 + len;
		n -= 8 + (size_t)len;
	}
}

/*
 * A commit: the transaction's TABLE records first, then BEGIN, its changes
 * and COMMIT, at the commit's end position (what the target acknowledges).
 */
static bool
emit(struct capture *c, struct txn *t, uint64_t end_lsn, int64_t commit_ts)
{
	char pos[32], xid[16];
	int64_t sec = commit_ts / 1000000 + PG_EPOCH;
	uint32_t nsec = (uint32_t)(commit_ts % 1000000) * 1000;

	if (c->stop_lsn && end_lsn > c->stop_lsn)
		c->stop = true;
	if (c->stop_time && sec > c->stop_time)
		c->stop = true;
	if (c->stop || t->changes == 0 || end_lsn <= c->emitted)
		return true;	/* past the stop, empty, or written before a reconnection */
	for (size_t i = 0; i < t->nrels; i++) {
		struct rel *rel = rel_find(c, t->rels[i]);

		if (rel != NULL && rel->pending != NULL) {
			out_write(&c->w->out, rel->pending, rel->pending_len);
			free(rel->table);
			rel->table = rel->pending;
			rel->table_len = rel->pending_len;
			rel->pending = NULL;
		}
	}
	lsn_format(end_lsn, pos, sizeof(pos));
	snprintf(xid, sizeof(xid), "%u", t->xid);
	rec_begin(&c->w->pk, xid, pos, sec, nsec);
	if (t->spill != NULL) {
		uint8_t buf[1 << 16];
		struct strbuf carry = STRBUF_INIT;
		size_t n;

		rewind(t->spill);
		/* entries may straddle reads: carry the unfinished one over */
		while ((n = fread(buf, 1, sizeof(buf), t->spill)) > 0) {
			size_t used = 0;

			sb_add(&carry, buf, n);
			while (carry.len - used >= 8) {
				const uint8_t *p = (const uint8_t *)carry.buf + used;
				uint32_t len = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];

				if (carry.len - used - 8 < len)
					break;
				emit_entries(c, t, p, 8 + (size_t)len);
				used += 8 + (size_t)len;
			}
			memmove(carry.buf, carry.buf + used, carry.len - used);
			carry.len -= used;
		}
		sb_release(&carry);
	} else {
		emit_entries(c, t, (const uint8_t *)t->mem.buf, t->mem.len);
	}
	rec_commit(&c->w->pk, pos, sec, nsec, t->changes);
	c->emitted = end_lsn;
	c->transactions++;
	/* a spool's frames end at its durable points */
	return c->spool ? !c->w->out.failed : out_flush(&c->w->out);
}

/* ---- tuples ---- */

/*
 * TupleData as a values array of the table's columns. A 'u' (an unchanged
 * TOASTed value) is UNCHANGED, or the old image's value when there is one.
 */
static bool
tuple(struct rd *r, struct rel *rel, msgpack_packer *pk, struct strbuf *scratch,
      const uint8_t *old, size_t oldlen)
{
	int n = (int)rd_uint(r, 2);
	struct mp_cursor oc;
	struct mp_item it;

	if (r->bad || n != (int)rel->t.d.ncols) {
		log_error("%s.%s: a tuple of %d columns for %u", rel->t.d.schema, rel->t.d.name, n, rel->t.d.ncols);
		return false;
	}
	if (old != NULL) {
		mp_cursor_init(&oc, old, oldlen);
		mp_next(&oc, &it);
	}
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++) {
		char kind = (char)rd_uint(r, 1);
		const uint8_t *ostart = old ? oc.p : NULL;

		if (old != NULL)
			mp_skip(&oc);
		switch (kind) {
		case 'n':
			msgpack_pack_nil(pk);
			break;
		case 'u':
			if (old != NULL && ostart != NULL)	/* the old value's bytes, header and all */
				msgpack_pack_str_body(pk, ostart, (size_t)(oc.p - ostart));
			else
				pk_unchanged(pk);
			break;
		case 't': {
			uint32_t len = (uint32_t)rd_uint(r, 4);

			if (r->bad || (size_t)(r->end - r->p) < len) {
				r->bad = true;
				return false;
			}
			sb_reset(scratch);
			sb_add(scratch, r->p, len);
			sb_add(scratch, "", 1);
			r->p += len;
			if (!convert_value(pk, &rel->t, (uint32_t)i, scratch->buf, len))
				return false;
			break;
		}
		default:
			log_error("%s.%s: a tuple column of kind '%c' (binary is not asked for)", rel->t.d.schema,
				  rel->t.d.name, kind);
			return false;
		}
	}
	return !r->bad;
}

/* I, U, D: a change record of the (sub)transaction. */
static bool
change(struct capture *c, struct rd *r, char tag, uint32_t subxid)
{
	uint32_t relid = (uint32_t)rd_uint(r, 4);
	struct rel *rel = rel_find(c, relid);
	struct txn *t = c->stream_xid ? txn_of(c, c->stream_xid, true) : &c->cur;
	/* the capture's buffers, emptied for each change (no allocation per change) */
	msgpack_sbuffer *sb = &c->rec, *oldsb = &c->old;
	struct strbuf *scratch = &c->scratch;
	msgpack_packer pk, oldpk;
	bool ok = true, has_old = false;
	char k;

	if (rel == NULL) {
		log_error("a change of relation %u before its Relation message", relid);
		return false;
	}
	if (rel->skip)
		return true;
	msgpack_sbuffer_clear(sb);
	msgpack_sbuffer_clear(oldsb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_packer_init(&oldpk, oldsb, msgpack_sbuffer_write);
	k = (char)rd_uint(r, 1);
	if (tag != 'I' && (k == 'K' || k == 'O')) {
		has_old = true;
		ok = tuple(r, rel, &oldpk, scratch, NULL, 0);
		if (ok && tag == 'U')
			k = (char)rd_uint(r, 1);
	}
	if (!ok)
		goto out;
	if (tag == 'D') {
		if (!has_old) {
			log_error("%s.%s: a DELETE without its old key", rel->t.d.schema, rel->t.d.name);
			ok = false;
			goto out;
		}
		rec_change(&pk, K_DELETE, rel->tid);
		msgpack_sbuffer_write(sb, oldsb->data, oldsb->size);
	} else {
		if (k != 'N') {
			log_error("%s.%s: a change without its new tuple", rel->t.d.schema, rel->t.d.name);
			ok = false;
			goto out;
		}
		rec_change(&pk, tag == 'I' ? K_INSERT : K_UPDATE, rel->tid);
		/* an unchanged TOASTed value takes the old image's, where the full old row came */
		ok = tuple(r, rel, &pk, scratch, has_old ? (const uint8_t *)oldsb->data : NULL,
			   has_old ? oldsb->size : 0);
		if (ok && tag == 'U') {
			if (has_old)
				msgpack_sbuffer_write(sb, oldsb->data, oldsb->size);
			else
				msgpack_pack_nil(&pk);
		}
	}
	if (ok)
		ok = txn_add(c, t, subxid, rel, (const uint8_t *)sb->data, sb->size);
out:
	return ok;
}

/* T: one TRUNCATE record of the selected relations. */
static bool
truncate_(struct capture *c, struct rd *r, uint32_t subxid)
{
	uint32_t n = (uint32_t)rd_uint(r, 4);
	uint8_t opts = (uint8_t)rd_uint(r, 1);
	struct txn *t = c->stream_xid ? txn_of(c, c->stream_xid, true) : &c->cur;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct rel **rels;
	uint32_t kept = 0;
	bool ok = true;

	if (r->bad || n > 65536)
		return false;
	rels = xcalloc(n + 1, sizeof(*rels));
	for (uint32_t i = 0; i < n; i++) {
		struct rel *rel = rel_find(c, (uint32_t)rd_uint(r, 4));

		if (rel != NULL && !rel->skip)
			rels[kept++] = rel;
	}
	if (kept > 0 && !r->bad) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_int(&pk, K_TRUNCATE);
		msgpack_pack_array(&pk, kept);
		for (uint32_t i = 0; i < kept; i++)
			msgpack_pack_int64(&pk, rels[i]->tid);
		msgpack_pack_map(&pk, 2);
		pk_str(&pk, "cascade");
		if (opts & 1)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		pk_str(&pk, "restart_identity");
		if (opts & 2)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		for (uint32_t i = 1; i < kept; i++)	/* every table's definition goes first */
			txn_uses(t, rels[i]);
		ok = txn_add(c, t, subxid, rels[0], (const uint8_t *)sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	free(rels);
	return ok && !r->bad;
}

bool
pgoutput_message(struct capture *c, const uint8_t *p, size_t n)
{
	struct rd r = { p, p + n, false };
	char tag = (char)rd_uint(&r, 1);
	uint32_t subxid = 0;

	/* inside a streamed block, R Y I U D T M carry the (sub)transaction's xid */
	if (c->stream_xid && strchr("RYIUDTM", tag) != NULL)
		subxid = (uint32_t)rd_uint(&r, 4);
	switch (tag) {
	case 'B':
		rd_uint(&r, 8);	/* final LSN */
		rd_uint(&r, 8);	/* commit time */
		txn_reset(&c->cur);
		c->cur.xid = (uint32_t)rd_uint(&r, 4);
		c->cur.open = true;
		return !r.bad;
	case 'C': {
		uint64_t end, ts;
		bool ok;

		rd_uint(&r, 1);
		rd_uint(&r, 8);	/* the commit record's LSN */
		end = rd_uint(&r, 8);
		ts = rd_uint(&r, 8);
		if (r.bad)
			return false;
		ok = emit(c, &c->cur, end, (int64_t)ts);
		txn_reset(&c->cur);
		return ok;
	}
	case 'S':
		c->stream_xid = (uint32_t)rd_uint(&r, 4);
		rd_uint(&r, 1);
		txn_of(c, c->stream_xid, true);
		return !r.bad;
	case 'E':
		c->stream_xid = 0;
		return true;
	case 'c': {
		uint32_t xid = (uint32_t)rd_uint(&r, 4);
		uint64_t end, ts;
		struct txn *t;
		bool ok;

		rd_uint(&r, 1);
		rd_uint(&r, 8);
		end = rd_uint(&r, 8);
		ts = rd_uint(&r, 8);
		if (r.bad)
			return false;
		t = txn_of(c, xid, true);
		ok = emit(c, t, end, (int64_t)ts);
		txn_drop_streamed(c, t);
		return ok;
	}
	case 'A': {
		uint32_t xid = (uint32_t)rd_uint(&r, 4), sub = (uint32_t)rd_uint(&r, 4);
		struct txn *t = txn_of(c, xid, true);

		if (sub == xid) {	/* the whole transaction rolled back: nothing of it leaves */
			txn_drop_streamed(c, t);
		} else {
			t->aborted = xrealloc(t->aborted, (t->naborted + 1) * sizeof(*t->aborted));
			t->aborted[t->naborted++] = sub;
		}
		return !r.bad;
	}
	case 'R':
		return relation(c, &r);
	case 'I':
	case 'U':
	case 'D':
		return change(c, &r, tag, subxid);
	case 'T':
		return truncate_(c, &r, subxid);
	case 'O':	/* origin, type, logical message: nothing of the stream */
	case 'Y':
	case 'M':
		return true;
	default:
		log_error("an unknown pgoutput message '%c'", tag);
		return false;
	}
}

bool
pgoutput_busy(const struct capture *c)
{
	return c->cur.open || c->nstreamed > 0;
}

void
pgoutput_release(struct capture *c)
{
	for (size_t i = 0; i < c->nrels; i++) {
		if (c->rels[i].described)
			src_table_free(&c->rels[i].t);
		free(c->rels[i].table);
		free(c->rels[i].pending);
		free(c->rels[i].from_schema);
		free(c->rels[i].from_name);
	}
	free(c->rels);
	msgpack_sbuffer_destroy(&c->rec);
	msgpack_sbuffer_destroy(&c->old);
	sb_release(&c->scratch);
	memset(&c->rec, 0, sizeof(c->rec));
	memset(&c->old, 0, sizeof(c->old));
	txn_reset(&c->cur);
	while (c->nstreamed > 0)
		txn_drop_streamed(c, &c->streamed[0]);
	free(c->streamed);
}
