/*
 * common/map/rules.c: the table-mapping engine (libdmsmap), used by dms-transform
 * and dms-validate (see rules.h): records through their plans.
 */
#include "engine.h"

/* ---- records ---- */

/* Offsets of each value of a values array: off[i] .. off[i+1]. */
bool
index_values(const uint8_t *values, size_t len, const uint8_t **off, uint32_t n)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, values, len);
	if (mp_next(&c, &it) != MP_OK || it.type != MP_ARRAY || it.v.n != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		off[i] = c.p;
		if (mp_skip(&c) != MP_OK)
			return false;
	}
	off[n] = c.p;
	return true;
}

void
bind_value(sqlite3_stmt *st, int idx, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, p, (size_t)(end - p));
	if (mp_next(&c, &it) != MP_OK) {
		sqlite3_bind_null(st, idx);
		return;
	}
	switch (it.type) {
	case MP_BOOL: sqlite3_bind_int(st, idx, it.v.b); break;
	case MP_INT: sqlite3_bind_int64(st, idx, it.v.i); break;
	case MP_UINT:
		if (it.v.u <= INT64_MAX)
			sqlite3_bind_int64(st, idx, (int64_t)it.v.u);
		else
			sqlite3_bind_double(st, idx, (double)it.v.u);
		break;
	case MP_FLOAT32: sqlite3_bind_double(st, idx, it.v.f32); break;
	case MP_FLOAT64: sqlite3_bind_double(st, idx, it.v.f64); break;
	case MP_STR: sqlite3_bind_text(st, idx, (const char *)it.v.s.p, (int)it.v.s.len, SQLITE_STATIC); break;
	case MP_BIN: sqlite3_bind_blob(st, idx, it.v.s.p, (int)it.v.s.len, SQLITE_STATIC); break;
	default: sqlite3_bind_null(st, idx);
	}
}

void
bind_all(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off)
{
	for (int q = 1; q <= s->nparams; q++) {
		int what = s->params[q - 1];

		switch (what) {
		case PARAM_OPERATION:
			sqlite3_bind_text(s->st, q, r->op, -1, SQLITE_STATIC);
			break;
		case PARAM_TIMESTAMP:
			sqlite3_bind_text(s->st, q, r->commit_time, -1, SQLITE_STATIC);
			break;
		case PARAM_POSITION:
			sqlite3_bind_text(s->st, q, r->position, -1, SQLITE_STATIC);
			break;
		case PARAM_CHANGE_SEQ:
			if (r->position[0]) {
				char seq[64];

				snprintf(seq, sizeof(seq), "%.16s%019" PRIu64, r->commit_time, r->seq);
				sqlite3_bind_text(s->st, q, seq, -1, SQLITE_TRANSIENT);
			} else {
				sqlite3_bind_text(s->st, q, "", 0, SQLITE_STATIC);
			}
			break;
		case PARAM_SCHEMA:
			sqlite3_bind_text(s->st, q, p->in->schema, -1, SQLITE_STATIC);
			break;
		case PARAM_TABLE:
			sqlite3_bind_text(s->st, q, p->in->name, -1, SQLITE_STATIC);
			break;
		case PARAM_EMPTY:
			sqlite3_bind_text(s->st, q, "", 0, SQLITE_STATIC);
			break;
		default:
			if (what >= 0 && off != NULL)
				bind_value(s->st, q, off[what], off[what + 1]);
			else
				sqlite3_bind_null(s->st, q);
		}
	}
}

/* Packs an SQLite result as a value of a DMS type. */
bool
pack_result(msgpack_packer *pk, sqlite3_stmt *st, enum dms_type t)
{
	int type = sqlite3_column_type(st, 0);

	if (type == SQLITE_NULL) {
		msgpack_pack_nil(pk);
		return true;
	}
	if (t >= DT_INT1 && t <= DT_UINT8) {
		msgpack_pack_int64(pk, sqlite3_column_int64(st, 0));
	} else if (t == DT_REAL4) {
		msgpack_pack_float(pk, (float)sqlite3_column_double(st, 0));
	} else if (t == DT_REAL8) {
		msgpack_pack_double(pk, sqlite3_column_double(st, 0));
	} else if (t == DT_BOOLEAN) {
		if (sqlite3_column_int64(st, 0))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	} else if (t == DT_BYTES || t == DT_BLOB) {
		int n = sqlite3_column_bytes(st, 0);

		msgpack_pack_bin(pk, (size_t)n);
		msgpack_pack_bin_body(pk, sqlite3_column_blob(st, 0), (size_t)n);
	} else {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		pk_strn(pk, s, (size_t)sqlite3_column_bytes(st, 0));
	}
	return true;
}

bool
map_eval(struct rules *r, const struct plan *p, const struct stmt *s, const uint8_t **off, bool *yes)
{
	sqlite3_stmt *st = s->st;
	int rc;

	sqlite3_reset(st);
	bind_all(r, p, s, off);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		snprintf(r->error, sizeof(r->error), "evaluating an expression failed: %s",
			 sqlite3_errmsg(r->db));
		log_error("%s.%s: %s", p->in->schema, p->in->name, r->error);
		return false;
	}
	if (yes)
		*yes = sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 0) != 0;
	return true;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

int
random_digit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int)(rng % 10);
}

/* A masked or converted value; false (logged) when it cannot be converted. */
/* A masked value (mask-digits, digits-randomize, hash): true when packed, false when the mask does not apply. */
static bool
pack_masked(msgpack_packer *pk, const struct ocol *o, const struct mp_item *it)
{
	char buf[64];

	if (it->type == MP_STR) {
		char *s = xstrndup((const char *)it->v.s.p, it->v.s.len);

		if (o->mask == MASK_HASH) {
			char hex[65];

			sha256_hex(s, it->v.s.len, hex);
			pk_str(pk, hex);
		} else {
			for (char *q = s; *q; q++)
				if (*q >= '0' && *q <= '9')
					*q = o->mask == MASK_DIGITS ? o->mask_char : (char)('0' + random_digit());
			pk_strn(pk, s, it->v.s.len);
		}
		free(s);
		return true;
	}
	if (o->mask == MASK_RANDOM && (it->type == MP_INT || it->type == MP_UINT)) {
		int n = it->type == MP_INT ? snprintf(buf, sizeof(buf), "%" PRId64, it->v.i)
					  : snprintf(buf, sizeof(buf), "%" PRIu64, it->v.u);

		for (int i = buf[0] == '-'; i < n; i++)
			buf[i] = (char)('0' + (i == (buf[0] == '-') ? 1 + random_digit() % 9 : random_digit()));
		if (it->type == MP_INT)
			msgpack_pack_int64(pk, strtoll(buf, NULL, 10));
		else
			msgpack_pack_uint64(pk, strtoull(buf, NULL, 10));
		return true;
	}
	return false;
}

/* change-data-type to an integer type: true when packed, false when the value cannot become one. */
static bool
pack_as_integer(msgpack_packer *pk, const struct ocol *o, const struct mp_item *it, const uint8_t *v,
		const uint8_t *vend)
{
	char buf[64];
	int64_t iv;
	const char *why;

	if (it->type == MP_INT || it->type == MP_UINT) {
		msgpack_pack_str_body(pk, v, (size_t)(vend - v));
		if (dms_type_check(o->dtype, it, &why))
			return true;
		return false;
	}
	if (it->type == MP_BOOL) {
		msgpack_pack_int(pk, it->v.b);
		return true;
	}
	if (it->type == MP_FLOAT32 || it->type == MP_FLOAT64) {
		double d = it->type == MP_FLOAT32 ? it->v.f32 : it->v.f64;

		if (d != floor(d) || fabs(d) > 9.2e18)
			return false;
		msgpack_pack_int64(pk, (int64_t)d);
		return true;
	}
	if (it->type == MP_STR && it->v.s.len > 0 && it->v.s.len < sizeof(buf)) {
		char *end;

		memcpy(buf, it->v.s.p, it->v.s.len);
		buf[it->v.s.len] = '\0';
		errno = 0;
		iv = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0') {
			struct mp_item chk = { .type = iv < 0 ? MP_INT : MP_UINT };

			if (iv < 0)
				chk.v.i = iv;
			else
				chk.v.u = (uint64_t)iv;
			if (dms_type_check(o->dtype, &chk, &why)) {
				msgpack_pack_int64(pk, iv);
				return true;
			}
		}
	}
	return false;
}

bool
pack_column(struct rules *r, const struct plan *p, const struct ocol *o, const uint8_t *v,
	    const uint8_t *vend, const uint8_t *values, size_t values_len)
{
	msgpack_packer *pk = &r->pk;
	struct mp_cursor c;
	struct mp_item it;
	char buf[64];

	mp_cursor_init(&c, v, (size_t)(vend - v));
	if (mp_next(&c, &it) != MP_OK)
		goto bad;
	if (it.type == MP_NIL || mp_is_unchanged(&it)) {
		msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		return true;
	}
	if (o->mask != MASK_NONE && pack_masked(pk, o, &it))
		return true;
	if (!o->convert) {
		msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		return true;
	}
	/* change-data-type */
	if (o->dtype >= DT_INT1 && o->dtype <= DT_UINT8) {
		if (pack_as_integer(pk, o, &it, v, c.p))
			return true;
		goto bad;
	}
	if (o->dtype == DT_REAL4 || o->dtype == DT_REAL8) {
		double d;

		if (it.type == MP_INT)
			d = (double)it.v.i;
		else if (it.type == MP_UINT)
			d = (double)it.v.u;
		else if (it.type == MP_FLOAT32 || it.type == MP_FLOAT64)
			d = it.type == MP_FLOAT32 ? it.v.f32 : it.v.f64;
		else if (it.type == MP_STR && it.v.s.len > 0 && it.v.s.len < sizeof(buf)) {
			char *end;

			memcpy(buf, it.v.s.p, it.v.s.len);
			buf[it.v.s.len] = '\0';
			d = strtod(buf, &end);
			if (*end != '\0')
				goto bad;
		} else
			goto bad;
		if (o->dtype == DT_REAL4)
			msgpack_pack_float(pk, (float)d);
		else
			msgpack_pack_double(pk, d);
		return true;
	}
	if (o->dtype == DT_BOOLEAN) {
		if (it.type == MP_BOOL)
			msgpack_pack_str_body(pk, v, (size_t)(c.p - v));
		else if (it.type == MP_INT || it.type == MP_UINT)
			it.v.u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		else if (it.type == MP_STR && (mp_str_eq(&it, "true") || mp_str_eq(&it, "t") || mp_str_eq(&it, "1")))
			msgpack_pack_true(pk);
		else if (it.type == MP_STR && (mp_str_eq(&it, "false") || mp_str_eq(&it, "f") || mp_str_eq(&it, "0")))
			msgpack_pack_false(pk);
		else
			goto bad;
		return true;
	}
	if (o->dtype == DT_BYTES || o->dtype == DT_BLOB) {
		if (it.type != MP_STR && it.type != MP_BIN)
			goto bad;
		msgpack_pack_bin(pk, it.v.s.len);
		msgpack_pack_bin_body(pk, it.v.s.p, it.v.s.len);
		return true;
	}
	/* text types */
	switch (it.type) {
	case MP_STR:
	case MP_BIN: {
		char *s = xstrndup((const char *)it.v.s.p, it.v.s.len);

		/* DMS takes dates as YYYY:MM:DD too */
		if ((o->dtype == DT_DATE || o->dtype == DT_DATETIME) && strlen(s) >= 10 && s[4] == ':' && s[7] == ':')
			s[4] = s[7] = '-';
		pk_strn(pk, s, it.v.s.len);
		free(s);
		return true;
	}
	case MP_INT: snprintf(buf, sizeof(buf), "%" PRId64, it.v.i); break;
	case MP_UINT: snprintf(buf, sizeof(buf), "%" PRIu64, it.v.u); break;
	case MP_BOOL: snprintf(buf, sizeof(buf), "%d", it.v.b); break;
	case MP_FLOAT32: snprintf(buf, sizeof(buf), "%.9g", (double)it.v.f32); break;
	case MP_FLOAT64: snprintf(buf, sizeof(buf), "%.17g", it.v.f64); break;
	default: goto bad;
	}
	pk_str(pk, buf);
	return true;
bad:
	(void)p;
	(void)values;
	(void)values_len;
	snprintf(r->error, sizeof(r->error), "column %s: the value cannot become %s (change-data-type)",
		 o->name, o->type);
	return false;
}

/*
 * Writes a values array of the output columns; image: true for a new image
 * (expressions run); before: the old values that before-image columns carry
 * (NULL: they are nil).
 */
int
pack_values(struct rules *r, const struct plan *p, const uint8_t *values, size_t values_len,
	    bool image, bool unchanged_for_missing, const uint8_t *before, size_t before_len)
{
	const struct dms_table *t = p->in;
	const uint8_t *offs[1024], **off = t->ncols < 1023 ? offs : xcalloc(t->ncols + 1, sizeof(*off));
	const uint8_t *boffs[1024], **boff = NULL;
	int status = EXIT_OK;

	if (!index_values(values, values_len, off, t->ncols)) {
		status = EXIT_INPUT;
		goto done;
	}
	if (before != NULL) {
		boff = t->ncols < 1023 ? boffs : xcalloc(t->ncols + 1, sizeof(*boff));
		if (!index_values(before, before_len, boff, t->ncols)) {
			status = EXIT_INPUT;
			goto done;
		}
	}
	msgpack_pack_array(&r->pk, (size_t)p->nout);
	for (int i = 0; i < p->nout; i++) {
		const struct ocol *o = &p->out[i];

		if (o->kind == OC_COPY) {
			bool key = false;

			for (int k = 0; k < p->nkey; k++)
				key |= p->key[k] == i;
			if (unchanged_for_missing && !key && off[o->src][0] == 0xc0) {
				pk_unchanged(&r->pk);
				continue;
			}
			if (!pack_column(r, p, o, off[o->src], off[o->src + 1], values, values_len)) {
				status = EXIT_RUNTIME;
				goto done;
			}
		} else if (o->kind == OC_BEFORE && boff != NULL) {
			const uint8_t *v = boff[o->src];

			msgpack_pack_str_body(&r->pk, v, (size_t)(boff[o->src + 1] - v));
		} else if (o->kind == OC_EXPR && image) {
			if (!map_eval(r, p, &o->expr, off, NULL)) {
				status = EXIT_RUNTIME;
				goto done;
			}
			pack_result(&r->pk, o->expr.st, o->dtype);
		} else {
			msgpack_pack_nil(&r->pk);
		}
	}
done:
	if (off != offs)
		free(off);
	if (boff != NULL && boff != boffs)
		free(boff);
	return status;
}

int
write_table(struct rules *r, const struct plan *p, int64_t tid)
{
	msgpack_packer *pk = &r->pk;

	msgpack_pack_array(pk, 7);
	msgpack_pack_int(pk, K_TABLE);
	msgpack_pack_int64(pk, tid);
	pk_str(pk, p->schema);
	pk_str(pk, p->name);
	msgpack_pack_array(pk, (size_t)p->nout);
	for (int i = 0; i < p->nout; i++) {
		msgpack_pack_array(pk, 4);
		pk_str(pk, p->out[i].name);
		pk_str(pk, p->out[i].type);
		if (p->out[i].nullable)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_str_body(pk, p->out[i].attrs.buf, p->out[i].attrs.len);
	}
	msgpack_pack_array(pk, (size_t)p->nkey);
	for (int k = 0; k < p->nkey; k++)
		msgpack_pack_int(pk, p->key[k]);
	msgpack_pack_str_body(pk, p->tattrs.buf, p->tattrs.len);
	return EXIT_OK;
}

void
set_time(struct rules *r, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;
	int64_t sec;
	uint32_t nsec;

	mp_cursor_init(&c, p, (size_t)(end - p));
	if (mp_next(&c, &it) == MP_OK && mp_timestamp(&it, &sec, &nsec)) {
		time_t tt = (time_t)sec;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(r->commit_time, sizeof(r->commit_time), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(r->commit_time + strlen(r->commit_time), 12, ".%06u", nsec / 1000);
	}
}

void
set_position(struct rules *r, const uint8_t *p, const uint8_t *end)
{
	struct mp_cursor c;
	struct mp_item it;

	mp_cursor_init(&c, p, (size_t)(end - p));
	r->position[0] = '\0';
	if (mp_next(&c, &it) == MP_OK && it.type == MP_STR && it.v.s.len < sizeof(r->position)) {
		memcpy(r->position, it.v.s.p, it.v.s.len);
		r->position[it.v.s.len] = '\0';
	}
}

struct plan *
map_plan_of(struct rules *r, int64_t tid)
{
	return tid >= 0 && (size_t)tid < r->nplans ? r->plans[tid] : NULL;
}

bool
map_passes(struct rules *r, const struct plan *p, const uint8_t *values, size_t len, int *status)
{
	const uint8_t *offs[1024], **off;
	bool yes = true;

	if (p->filter.st == NULL || values == NULL)
		return true;
	off = p->in->ncols < 1023 ? offs : xcalloc(p->in->ncols + 1, sizeof(*off));
	if (!index_values(values, len, off, p->in->ncols) || !map_eval(r, p, &p->filter, off, &yes)) {
		*status = EXIT_RUNTIME;
		yes = false;
	}
	if (off != offs)
		free(off);
	return yes;
}


/*
 * LOG_ERROR: the refused record goes on as a REJECT, its key and values as
 * text, for the loader to put in apply_exceptions with the rows the target
 * refused.
 */
int
map_reject(struct rules *r, const struct plan *p, const struct dms_record *rec, struct dms_out *out)
{
	char key[512], values[2048];

	values_key_text(p->in, rec->values, rec->values_len, key, sizeof(key));
	values_text(p->in, rec->values, rec->values_len, values, sizeof(values));
	msgpack_sbuffer_clear(&r->sbuf);
	rec_reject(&r->pk, rec->table->tid, key, values, r->error[0] ? r->error : "refused by the mapping");
	log_warn("record %" PRIu64 " (%s of %s.%s%s%s): refused, logged to the exceptions table: %s",
		 rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, key[0] ? " key " : "",
		 key, r->error);
	return out_write(out, r->sbuf.data, r->sbuf.size) ? EXIT_OK : EXIT_OUTPUT;
}

int
rules_record(struct rules *r, const struct dms_record *rec, struct dms_out *out)
{
	struct plan *p = rec->table ? map_plan_of(r, rec->table->tid) : NULL;
	int status = map_record(r, rec, out);

	if (status != EXIT_RUNTIME || p == NULL || rec->kind == K_TABLE)
		return status;
	/* a value that failed its conversion (logged): the data error policy */
	switch (r->policy) {
	case POLICY_STOP_TASK:
		log_error("record %" PRIu64 " (%s of %s.%s): %s; stopping (DataErrorPolicy STOP_TASK)",
			  rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		return EXIT_RUNTIME;
	case POLICY_SUSPEND_TABLE:
		log_error("record %" PRIu64 " (%s of %s.%s): %s; the table is suspended: its further records are dropped (SUSPEND_TABLE)",
			  rec->seq, dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		p->drop = true;
		return EXIT_OK;
	case POLICY_IGNORE_RECORD:
		log_warn("record %" PRIu64 " (%s of %s.%s): %s; dropped (IGNORE_RECORD)", rec->seq,
			 dms_kind_name(rec->kind), p->in->schema, p->in->name, r->error);
		return EXIT_OK;
	default:
		return map_reject(r, p, rec, out);
	}
}

/* A TRUNCATE of dropped tables, or of some, and what became of it. */
enum truncate_fate { TRUNCATE_DROPPED, TRUNCATE_AS_IS, TRUNCATE_REPACKED };

/* The tables of a TRUNCATE that the mapping keeps; repacked in r->pk when only some are. */
static enum truncate_fate
map_truncate(struct rules *r, const struct dms_record *rec)
{
	struct mp_cursor c;
	struct mp_item it;
	const uint8_t *tids = record_element(rec, 1), *attrs;
	int64_t kept[1024];
	int nkept = 0;

	mp_cursor_init(&c, tids, rec->len - (size_t)(tids - rec->raw));
	mp_next(&c, &it);
	for (uint32_t i = 0; i < it.v.n; i++) {
		struct mp_item t;
		struct plan *tp;

		mp_next(&c, &t);
		tp = map_plan_of(r, (int64_t)t.v.u);
		if (tp && !tp->drop && nkept < 1024)
			kept[nkept++] = (int64_t)t.v.u;
	}
	if (nkept == 0)
		return TRUNCATE_DROPPED;
	if ((uint32_t)nkept == it.v.n)
		return TRUNCATE_AS_IS;
	attrs = c.p;
	msgpack_pack_array(&r->pk, 3);
	msgpack_pack_int(&r->pk, K_TRUNCATE);
	msgpack_pack_array(&r->pk, (size_t)nkept);
	for (int i = 0; i < nkept; i++)
		msgpack_pack_int64(&r->pk, kept[i]);
	mp_skip(&c);
	msgpack_pack_str_body(&r->pk, attrs, (size_t)(c.p - attrs));
	return TRUNCATE_REPACKED;
}

int
map_record(struct rules *r, const struct dms_record *rec, struct dms_out *out)
{
	struct plan *p = rec->table ? map_plan_of(r, rec->table->tid) : NULL;
	int status = EXIT_OK;

	msgpack_sbuffer_clear(&r->sbuf);
	r->seq = rec->seq;
	r->error[0] = '\0';
	switch (rec->kind) {
	case K_TABLE: {
		int64_t tid = rec->table->tid;

		if ((size_t)tid >= r->nplans) {
			size_t n = r->nplans ? r->nplans : 16;

			while (n <= (size_t)tid)
				n *= 2;
			r->plans = xrealloc(r->plans, n * sizeof(*r->plans));
			memset(r->plans + r->nplans, 0, (n - r->nplans) * sizeof(*r->plans));
			r->nplans = n;
		}
		plan_free(r->plans[tid]);
		r->plans[tid] = NULL;
		status = make_plan(r, rec->table, &p);
		r->plans[tid] = p;
		if (status != EXIT_OK || p->drop)
			return status;
		if (p->pass)
			break;
		write_table(r, p, tid);
		goto packed;
	}
	case K_BEGIN:
		set_position(r, record_element(rec, 2), rec->raw + rec->len);
		set_time(r, record_element(rec, 3), rec->raw + rec->len);
		r->op = "INSERT";
		break;
	case K_ROW:
	case K_INSERT:
	case K_UPDATE:
	case K_DELETE: {
		bool as_update = false;

		if (p == NULL || p->drop)
			return EXIT_OK;
		if (p->pass)
			break;
		r->op = rec->kind == K_UPDATE ? "UPDATE" : rec->kind == K_DELETE ? "DELETE" : "INSERT";
		if (rec->kind == K_ROW) {
			r->position[0] = '\0';
			{
				time_t now = time(NULL);
				struct tm tm;

				gmtime_r(&now, &tm);
				strftime(r->commit_time, sizeof(r->commit_time), "%Y-%m-%d %H:%M:%S", &tm);
			}
		}
		if (!(rec->kind == K_ROW && p->part_filtered) &&
		    !map_passes(r, p, rec->values, rec->values_len, &status))
			return status;
		as_update = rec->kind == K_DELETE && p->op_indicator;
		msgpack_pack_array(&r->pk, rec->kind == K_UPDATE || as_update ? 4 : 3);
		msgpack_pack_int(&r->pk, as_update ? K_UPDATE : rec->kind);
		msgpack_pack_int64(&r->pk, rec->table->tid);
		if (as_update) {
			/* operation_indicator: the deleted row is kept and flagged */
			if ((status = pack_values(r, p, rec->values, rec->values_len, true, true,
						  rec->values, rec->values_len)) != EXIT_OK ||
			    (status = pack_values(r, p, rec->values, rec->values_len, false, false,
						  rec->values, rec->values_len)) != EXIT_OK)
				return status;
		} else {
			const uint8_t *before = rec->kind == K_UPDATE ? rec->old_values
					      : rec->kind == K_DELETE ? rec->values : NULL;
			size_t before_len = rec->kind == K_UPDATE ? rec->old_values_len
					  : rec->kind == K_DELETE ? rec->values_len : 0;

			status = pack_values(r, p, rec->values, rec->values_len, rec->kind != K_DELETE,
					     false, before, before_len);
			if (status == EXIT_OK && rec->kind == K_UPDATE) {
				if (rec->old_values == NULL)
					msgpack_pack_nil(&r->pk);
				else
					status = pack_values(r, p, rec->old_values, rec->old_values_len,
							     false, false, rec->old_values,
							     rec->old_values_len);
			}
			if (status != EXIT_OK)
				return status;
		}
		goto packed;
	}
	case K_TRUNCATE:
		switch (map_truncate(r, rec)) {
		case TRUNCATE_DROPPED:
			return EXIT_OK;
		case TRUNCATE_AS_IS:
			break;
		case TRUNCATE_REPACKED:
			goto packed;
		}
		break;
	case K_PART_BEGIN:
		if (p == NULL || p->drop)
			return EXIT_OK;
		p->part_out = 0;
		{
			const uint8_t *attrs = record_element(rec, 2);
			bool filtered = false;

			attrs_bool(attrs, rec->len - (size_t)(attrs - rec->raw), "filtered", &filtered);
			p->part_filtered = filtered;
		}
		break;
	case K_PART_END: {
		struct mp_cursor c;
		struct mp_item it;
		const uint8_t *attrs;

		if (p == NULL || p->drop)
			return EXIT_OK;
		/* the reader checked the count; it now says what this part holds */
		mp_cursor_init(&c, record_element(rec, 2), rec->len - (size_t)(record_element(rec, 2) - rec->raw));
		mp_next(&c, &it);
		if (p->part_out == it.v.u)
			break;
		attrs = c.p;
		{
			char *part = attrs_str(attrs, rec->len - (size_t)(attrs - rec->raw), "part");

			rec_part_end(&r->pk, rec->table->tid, p->part_out, part);
			free(part);
		}
		goto packed;
	}
	default:
		break;
	}
	if (rec->kind == K_ROW)
		p->part_out++;
	return out_write(out, rec->raw, rec->len) ? EXIT_OK : EXIT_OUTPUT;
packed:
	if (rec->kind == K_ROW)
		p->part_out++;
	return out_write(out, r->sbuf.data, r->sbuf.size) ? EXIT_OK : EXIT_OUTPUT;
}


void
rules_set_policy(struct rules *r, int policy)
{
	r->policy = policy;
}
