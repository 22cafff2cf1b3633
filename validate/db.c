/*
 * db.c: dms-validate's connections (either engine, results as text) and the
 * canonical text of a value on each engine (see validate.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "../common/dms.h"

bool
vconnect(struct vconn *c, const char *uri)
{
	memset(c, 0, sizeof(*c));
	c->engine = uri_engine(uri);
	if (c->engine == ENGINE_PG) {
		if (!pg_connect(&c->pg, uri))
			return false;
		c->label = c->pg.label;
		/* key ranges are read along the key's index, in key order */
		return pg_command(&c->pg, "SET enable_seqscan = off; SET enable_bitmapscan = off");
	}
	if (c->engine == ENGINE_MYSQL) {
		if (!my_connect(&c->my, uri))
			return false;
		c->label = c->my.label;
		return my_command(&c->my, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES,"
					  "NO_ENGINE_SUBSTITUTION', SESSION group_concat_max_len = 268435456");
	}
	{
		char *masked = uri_mask(uri);

		log_error("%s: not a postgresql:// or mysql:// URI", masked);
		free(masked);
	}
	return false;
}

void
vdisconnect(struct vconn *c)
{
	if (c->engine == ENGINE_PG)
		pg_disconnect(&c->pg);
	else if (c->engine == ENGINE_MYSQL)
		my_disconnect(&c->my);
	c->engine = ENGINE_NONE;
}

bool
vcommand(struct vconn *c, const char *sql)
{
	return c->engine == ENGINE_PG ? pg_command(&c->pg, sql) : my_command(&c->my, sql);
}

static void
rows_add(struct vrows *r, const char *v, size_t n, size_t cell)
{
	if (v == NULL) {
		r->off[cell] = SIZE_MAX;
		r->len[cell] = 0;
		return;
	}
	r->off[cell] = r->data.len;
	r->len[cell] = n;
	sb_add(&r->data, v, n);
	sb_add(&r->data, "", 1);
}

bool
vsend(struct vconn *c, const char *sql)
{
	query_what(c->what, sizeof(c->what), sql);
	if (c->engine == ENGINE_PG) {
		c->pg.sqlstate[0] = '\0';
		if (!PQsendQuery(c->pg.conn, sql)) {
			pg_failed(&c->pg, NULL, c->what);
			return false;
		}
	} else {
		c->my.errnum = 0;
		if (mysql_send_query(c->my.conn, sql, strlen(sql)) != 0)
			return my_failed(&c->my, c->what);
	}
	c->pending = true;
	return true;
}

static void
rows_alloc(struct vrows *r)
{
	r->off = xcalloc((size_t)r->nrows * (size_t)r->ncols + 1, sizeof(size_t));
	r->len = xcalloc((size_t)r->nrows * (size_t)r->ncols + 1, sizeof(size_t));
}

static bool
receive_pg(struct vconn *c, struct vrows *r)
{
	PGresult *res, *last = NULL;
	bool ok = true;

	/* one statement: one result, then NULL; an error replaces the rows */
	while ((res = PQgetResult(c->pg.conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (ok && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			pg_failed(&c->pg, res, c->what);
			ok = false;
		}
		PQclear(last);
		last = res;
	}
	if (ok && last == NULL) {
		pg_failed(&c->pg, NULL, c->what);
		ok = false;
	}
	if (ok) {
		r->nrows = PQntuples(last);
		r->ncols = PQnfields(last);
		rows_alloc(r);
		for (int i = 0; i < r->nrows; i++)
			for (int j = 0; j < r->ncols; j++)
				rows_add(r, PQgetisnull(last, i, j) ? NULL : PQgetvalue(last, i, j),
					 (size_t)PQgetlength(last, i, j), (size_t)i * (size_t)r->ncols + (size_t)j);
	}
	PQclear(last);
	return ok;
}

static bool
receive_my(struct vconn *c, struct vrows *r)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_read_query_result(c->my.conn) != 0)
		return my_failed(&c->my, c->what);
	res = mysql_store_result(c->my.conn);
	if (res == NULL)
		return my_failed(&c->my, c->what);
	c->warnings = mysql_warning_count(c->my.conn);
	r->nrows = (int)mysql_num_rows(res);
	r->ncols = (int)mysql_num_fields(res);
	rows_alloc(r);
	for (int i = 0; (row = mysql_fetch_row(res)) != NULL; i++) {
		unsigned long *lens = mysql_fetch_lengths(res);

		for (int j = 0; j < r->ncols; j++)
			rows_add(r, row[j], lens[j], (size_t)i * (size_t)r->ncols + (size_t)j);
	}
	mysql_free_result(res);
	return true;
}

bool
vreceive(struct vconn *c, struct vrows *r)
{
	memset(r, 0, sizeof(*r));
	if (!c->pending)
		return false;
	c->pending = false;
	return c->engine == ENGINE_PG ? receive_pg(c, r) : receive_my(c, r);
}

/*
 * A partition's checksum makes PostgreSQL build the partition's text (a
 * megabyte for 10,000 rows of 100 bytes), in a few blocks of that order, and
 * free them when the query ends. glibc's malloc serves blocks that large with
 * mmap(), or trims them off its heap when freed, so that each query's buffers
 * arrive as fresh pages, each a page fault: on a virtual machine that doubled
 * the server's time per partition. glibc raises both thresholds once a block
 * larger than them is freed; so the session allocates and frees one block
 * four times the partition's text (at most 30 MB, glibc's ceiling) before
 * its next partition, and the buffers are reused from then on. Allocators
 * other than glibc's are not affected either way.
 */
void
vwarm(struct vconn *c, int64_t bytes)
{
	char sql[80];
	int64_t want = bytes * 4;

	/* small partitions fault in a few pages at most: not worth a query */
	if (c->engine != ENGINE_PG || bytes < 256 << 10 || want <= c->warmed || c->warmed >= 30000000)
		return;
	if (want < 4 << 20)
		want = 4 << 20;
	if (want > 30000000)
		want = 30000000;
	snprintf(sql, sizeof(sql), "SELECT length(repeat('x', %" PRId64 "))", want);
	c->warmed = want;
	/* only an optimisation: a failure here shows in the next query */
	if (!pg_command(&c->pg, sql))
		log_debug("%s: the allocator warm-up failed", c->label);
}

bool
vquery(struct vconn *c, const char *sql, struct vrows *r)
{
	memset(r, 0, sizeof(*r));
	return vsend(c, sql) && vreceive(c, r);
}

void
vrows_free(struct vrows *r)
{
	sb_release(&r->data);
	free(r->off);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

const char *
vcell(const struct vrows *r, int row, int col, size_t *len)
{
	size_t i = (size_t)row * (size_t)r->ncols + (size_t)col;

	if (len)
		*len = r->len[i];
	return r->off[i] == SIZE_MAX ? NULL : r->data.buf + r->off[i];
}

char *
vident(const struct vconn *c, const char *name)
{
	return c->engine == ENGINE_PG ? pg_quote_ident(name) : my_quote_ident(name);
}

void
vliteral(struct strbuf *sb, const char *text)
{
	if (text == NULL) {
		sb_adds(sb, "NULL");
		return;
	}
	sb_add(sb, "'", 1);
	for (const char *p = text; *p; p++) {
		if (*p == '\'')
			sb_add(sb, "'", 1);
		sb_add(sb, p, 1);
	}
	sb_add(sb, "'", 1);
}

/* ---- canonical texts ---- */

enum vclass
vclass_of(enum dms_type t)
{
	switch (t) {
	case DT_BOOLEAN: case DT_INT1: case DT_INT2: case DT_INT4: case DT_INT8:
	case DT_UINT1: case DT_UINT2: case DT_UINT4: case DT_UINT8: case DT_NUMERIC:
		return VC_NUM;
	case DT_REAL4: case DT_REAL8: return VC_FLOAT;
	case DT_STRING: case DT_WSTRING: case DT_CLOB: case DT_NCLOB: return VC_TEXT;
	case DT_BYTES: case DT_BLOB: return VC_BYTES;
	case DT_DATE: return VC_DATE;
	case DT_TIME: return VC_TIME;
	case DT_DATETIME: case DT_DATETIMETZ: return VC_DATETIME;
	case DT_JSON: return VC_JSON;
	case DT_UUID: return VC_UUID;
	default: return VC_OTHER;
	}
}

/* Classes whose canonical text may hold any character: length-prefixed in a row's text. */
bool
vclass_is_text(enum vclass k)
{
	return k == VC_TEXT || k == VC_JSON || k == VC_OTHER;
}

bool
vclass_keyable(enum vclass k)
{
	return k != VC_JSON && k != VC_OTHER;
}

static bool
native_starts(const char *native, const char *prefix)
{
	return native != NULL && strncmp(native, prefix, strlen(prefix)) == 0;
}

void
canon_expr(struct strbuf *sb, enum dms_engine e, enum vclass k, enum dms_type t, const char *native,
	   const char *q, int64_t partial_lob, bool utf8)
{
	bool pg = e == ENGINE_PG;
	/* MySQL: text in another character set is converted, so that MD5 sees UTF-8 bytes */
	const char *my_text = utf8 ? "%s" : "CONVERT(%s USING utf8mb4)";
	char my_left[64];

	switch (k) {
	case VC_NUM:
		if (pg && t == DT_BOOLEAN)
			sb_addf(sb, "CASE %s WHEN true THEN '1' WHEN false THEN '0' END", q);
		else if (pg && t == DT_NUMERIC)
			sb_addf(sb, "trim_scale(%s)::text", q);
		else if (pg)
			sb_addf(sb, "%s::text", q);
		else if (native_starts(native, "bit"))
			sb_addf(sb, "CAST(%s + 0 AS CHAR)", q);
		else if (native_starts(native, "decimal"))
			sb_addf(sb, "IF(LOCATE('.', %s) > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM "
				    "CAST(%s AS CHAR))), CAST(%s AS CHAR))", q, q, q);
		else
			sb_addf(sb, "CAST(%s AS CHAR)", q);
		break;
	case VC_FLOAT:
		/* shortest round-trip digits on both; PostgreSQL writes e+20 where MariaDB writes e20 */
		if (pg)
			sb_addf(sb, t == DT_REAL4 ? "replace(%s::float8::text, 'e+', 'e')"
						  : "replace(%s::text, 'e+', 'e')", q);
		else
			sb_addf(sb, t == DT_REAL4 ? "CAST(CAST(%s AS DOUBLE) AS CHAR)" : "CAST(%s AS CHAR)", q);
		break;
	case VC_TEXT:
	case VC_JSON:
		snprintf(my_left, sizeof(my_left), "LEFT(%s, %%" PRId64 ")", my_text);
		if (partial_lob > 0 && dms_type_is_lob(t))
			sb_addf(sb, pg ? "left(%s::text, %" PRId64 ")" : my_left, q, partial_lob);
		else
			sb_addf(sb, pg ? "%s::text" : my_text, q);
		break;
	case VC_BYTES:
		if (partial_lob > 0 && dms_type_is_lob(t))
			sb_addf(sb, pg ? "encode(substr(%s, 1, %" PRId64 "), 'hex')" : "LOWER(HEX(LEFT(%s, %" PRId64 ")))",
				q, partial_lob);
		else
			sb_addf(sb, pg ? "encode(%s, 'hex')" : "LOWER(HEX(%s))", q);
		break;
	case VC_DATE:
		sb_addf(sb, pg ? "%s::text" : "CAST(%s AS CHAR)", q);
		break;
	case VC_TIME:
		if (pg && t == DT_TIME && !native_starts(native, "time with time zone"))
			sb_addf(sb, "(extract(epoch from %s) * 1000000)::bigint::text", q);
		else if (pg)
			sb_addf(sb, "%s::text", q);
		else
			sb_addf(sb, "CAST(CAST(TIME_TO_SEC(%s) * 1000000 AS SIGNED) AS CHAR)", q);
		break;
	case VC_DATETIME:
		if (pg && (t == DT_DATETIME || t == DT_DATETIMETZ || t == DT_DATE))
			sb_addf(sb, "CASE WHEN isfinite(%s) THEN (extract(epoch from %s) * 1000000)::bigint::text "
				    "ELSE %s::text END", q, q, q);
		else if (pg)
			sb_addf(sb, "%s::text", q);
		else
			sb_addf(sb, "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s) AS CHAR)", q);
		break;
	case VC_UUID:
		sb_addf(sb, pg ? "lower(%s::text)" : "LOWER(CAST(%s AS CHAR))", q);
		break;
	case VC_OTHER:
		sb_addf(sb, pg ? "%s::text" : "CONVERT(CAST(%s AS CHAR) USING utf8mb4)", q);
		break;
	}
}

void
key_expr(struct strbuf *sb, enum dms_engine e, enum vclass k, enum dms_type t, const char *q,
	 bool binary_collation)
{
	bool pg = e == ENGINE_PG;

	if (k == VC_DATETIME)
		sb_addf(sb, pg ? "to_char(%s, 'YYYY-MM-DD HH24:MI:SS.US')"
			       : "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')", q);
	else if (k == VC_TIME)
		sb_addf(sb, pg ? "to_char(date '2000-01-01' + %s, 'HH24:MI:SS.US')"
			       : "TIME_FORMAT(%s, '%%H:%%i:%%s.%%f')", q);
	else if (k == VC_TEXT && binary_collation)
		sb_addf(sb, pg ? "(%s::text COLLATE \"C\")" : "(CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin)", q);
	else
		canon_expr(sb, e, k, t, NULL, q, 0, false);
}

void
key_literal(struct strbuf *sb, enum dms_engine e, enum vclass k, const char *text)
{
	if (k == VC_BYTES && text != NULL)
		sb_addf(sb, e == ENGINE_PG ? "decode('%s', 'hex')" : "X'%s'", text);
	else
		vliteral(sb, text);
}
