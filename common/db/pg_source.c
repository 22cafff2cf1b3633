/*
 * common/db/pg_source.c: the source catalog and reader of a PostgreSQL database: the catalogs for the tables and
 * their columns, keys, indexes and foreign keys; COPY ... TO STDOUT for the
 * rows (binary when every column has an exact binary reading, else text), in
 * a REPEATABLE READ snapshot, exported or imported.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "convert.h"
#include "../pg.h"
#include "../records.h"
#include "../dms.h"

#define PG(s) ((struct pg_conn *)(s)->conn)

static bool
pg_src_connect(struct source *s, const char *uri)
{
	s->conn = xcalloc(1, sizeof(struct pg_conn));
	return pg_connect(PG(s), uri);
}

static bool
pg_src_begin(struct source *s, const char *snapshot)
{
	PGresult *res;

	if (!pg_command(PG(s), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
		return false;
	if (snapshot != NULL) {
		{
			char *lit = PQescapeLiteral(PG(s)->conn, snapshot, strlen(snapshot));
			char sql[256];
			bool ok;

			snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit);
			PQfreemem(lit);
			ok = pg_command(PG(s), sql);
			if (!ok)
				return false;
		}
		s->snapshot = xstrdup(snapshot);
		return true;
	}
	res = pg_query(PG(s), "SELECT pg_export_snapshot()", 0, NULL);
	if (res == NULL)
		return false;
	s->snapshot = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

static bool
pg_src_list(struct source *s, struct src_name **names, int *n)
{
	const char *only[] = { s->only_schema, s->only_name };
	PGresult *res = pg_query(PG(s),
		s->only_name == NULL
		? "SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::bigint, c.oid::bigint "
		  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		  "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
		  "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
		  "ORDER BY 1, 2"
		: "SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::bigint, c.oid::bigint "
		  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		  "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
		  "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
		  "AND n.nspname = $1 AND c.relname = $2",
		s->only_name == NULL ? 0 : 2, s->only_name == NULL ? NULL : only);

	if (res == NULL)
		return false;
	*n = PQntuples(res);
	*names = xcalloc((size_t)*n + 1, sizeof(**names));
	for (int i = 0; i < *n; i++) {
		(*names)[i].schema = xstrdup(PQgetvalue(res, i, 0));
		(*names)[i].name = xstrdup(PQgetvalue(res, i, 1));
		(*names)[i].estimated_rows = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		(*names)[i].oid = strtoll(PQgetvalue(res, i, 3), NULL, 10);
	}
	PQclear(res);
	return true;
}

/*
 * How a column reads in binary COPY: only built-in base types, and of those
 * the ones read as the text of their output function only when their cast
 * to text is that function (no pg_cast function: bool's, inet's and
 * bpchar's cast differ from their output), so that col::text in binary is
 * what COPY's text gives.
 */
static enum pg_binary
pg_binary_of(const char *typname, char typtype, char typcategory, bool builtin)
{
	static const struct {
		const char *name;
		enum pg_binary how;
	} types[] = {
		{ "bool", PGBIN_BOOL }, { "int2", PGBIN_INT2 }, { "int4", PGBIN_INT4 }, { "int8", PGBIN_INT8 },
		{ "float4", PGBIN_FLOAT4 }, { "float8", PGBIN_FLOAT8 }, { "bytea", PGBIN_BYTES },
		{ "text", PGBIN_STR }, { "varchar", PGBIN_STR }, { "bpchar", PGBIN_STR },
		{ "numeric", PGBIN_CAST }, { "date", PGBIN_CAST }, { "time", PGBIN_CAST },
		{ "timetz", PGBIN_CAST }, { "timestamp", PGBIN_CAST }, { "timestamptz", PGBIN_CAST },
		{ "interval", PGBIN_CAST }, { "uuid", PGBIN_CAST }, { "json", PGBIN_CAST },
		{ "jsonb", PGBIN_CAST },
	};

	if (!builtin || typtype != 'b' || typcategory == 'A')
		return PGBIN_NONE;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(typname, types[i].name) == 0)
			return types[i].how;
	return PGBIN_NONE;
}

/* The DMS type of a column and how to read its text. */
static void
pg_type(struct dms_column *c, enum conv *conv, const char *typname, char typtype, char typcategory, int typmod,
	bool builtin)
{
	*conv = CONV_TEXT;
	c->type = DT_STRING;
	if (typcategory == 'A' || typtype != 'b') {
		/* arrays, enums, domains, composites, ranges: their text form */
		if (!builtin) {
			free(c->native);
			c->native = xstrdup("text");
		}
		return;
	}
	if (strcmp(typname, "bool") == 0) {
		c->type = DT_BOOLEAN;
		*conv = CONV_BOOL;
	} else if (strcmp(typname, "int2") == 0) {
		c->type = DT_INT2;
		*conv = CONV_INT;
	} else if (strcmp(typname, "int4") == 0) {
		c->type = DT_INT4;
		*conv = CONV_INT;
	} else if (strcmp(typname, "int8") == 0) {
		c->type = DT_INT8;
		*conv = CONV_INT;
	} else if (strcmp(typname, "float4") == 0) {
		c->type = DT_REAL4;
		*conv = CONV_FLOAT4;
	} else if (strcmp(typname, "float8") == 0) {
		c->type = DT_REAL8;
		*conv = CONV_FLOAT8;
	} else if (strcmp(typname, "numeric") == 0) {
		c->type = DT_NUMERIC;
		if (typmod >= 4) {
			c->precision = ((typmod - 4) >> 16) & 0xffff;
			c->scale = (typmod - 4) & 0xffff;
		}
	} else if (strcmp(typname, "varchar") == 0 || strcmp(typname, "bpchar") == 0) {
		c->type = DT_WSTRING;
		if (typmod >= 4)
			c->length = typmod - 4;
	} else if (strcmp(typname, "text") == 0) {
		c->type = DT_NCLOB;
	} else if (strcmp(typname, "bytea") == 0) {
		c->type = DT_BLOB;
		*conv = CONV_BYTEA_HEX;
	} else if (strcmp(typname, "date") == 0) {
		c->type = DT_DATE;
	} else if (strcmp(typname, "time") == 0) {
		c->type = DT_TIME;
		c->scale = typmod >= 0 ? typmod : 6;
	} else if (strcmp(typname, "timestamp") == 0) {
		c->type = DT_DATETIME;
		c->scale = typmod >= 0 ? typmod : 6;
	} else if (strcmp(typname, "timestamptz") == 0) {
		c->type = DT_DATETIMETZ;
		c->scale = typmod >= 0 ? typmod : 6;
	} else if (strcmp(typname, "json") == 0 || strcmp(typname, "jsonb") == 0) {
		c->type = DT_JSON;
	} else if (strcmp(typname, "uuid") == 0) {
		c->type = DT_UUID;
	} else if (strcmp(typname, "interval") == 0) {
		c->type = DT_INTERVAL;
	}
}

static int
col_by_attnum(const int *attnums, int n, int attnum)
{
	for (int i = 0; i < n; i++)
		if (attnums[i] == attnum)
			return i;
	return -1;
}

static bool
pg_src_describe(struct source *s, const struct src_name *nm, struct src_table *t)
{
	struct dms_table *d = &t->d;
	char oid[32];
	const char *params[] = { oid };
	PGresult *res;
	int *attnums;

	snprintf(oid, sizeof(oid), "%" PRId64, nm->oid);
	d->schema = xstrdup(nm->schema);
	d->name = xstrdup(nm->name);
	d->estimated_rows = nm->estimated_rows;
	t->oid = nm->oid;
	res = pg_query(PG(s),
		"SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, t.typname, "
		"t.typtype, t.typcategory, a.atttypmod, tn.nspname = 'pg_catalog', a.attnum, "
		"a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false), "
		"CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END, "
		"a.atthasmissing "
		"FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
		"JOIN pg_namespace tn ON tn.oid = t.typnamespace "
		"LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
		"WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
		"AND a.attgenerated = '' ORDER BY a.attnum", 1, params);
	if (res == NULL)
		return false;
	attnums = xcalloc((size_t)PQntuples(res) + 1, sizeof(int));
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		struct dms_column *c = src_add_column(t, name, DT_STRING, CONV_TEXT, pg_quote_ident(name));
		bool builtin = PQgetvalue(res, i, 7)[0] == 't';

		c->native = builtin ? xstrdup(PQgetvalue(res, i, 1)) : NULL;
		c->nullable = PQgetvalue(res, i, 2)[0] != 't';
		pg_type(c, &t->read[i].conv, PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)[0],
			PQgetvalue(res, i, 5)[0], atoi(PQgetvalue(res, i, 6)), builtin);
		t->read[i].binary = pg_binary_of(PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)[0],
						 PQgetvalue(res, i, 5)[0], builtin);
		attnums[i] = atoi(PQgetvalue(res, i, 8));
		c->identity = PQgetvalue(res, i, 9)[0] == 't';
	}
	for (int i = 0; i < PQntuples(res); i++)
		if (PQgetvalue(res, i, 11)[0] == 't')
			src_missing_value(t, (uint32_t)i, PQgetisnull(res, i, 10) ? NULL : PQgetvalue(res, i, 10));
	PQclear(res);

	/* indexes: the primary key (else the replica identity index), then the others */
	res = pg_query(PG(s),
		"SELECT i.indisprimary, i.indisunique, i.indisreplident, c.relname, "
		"array_to_string(i.indkey, ' '), i.indexprs IS NULL AND i.indpred IS NULL "
		"FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
		"WHERE i.indrelid = $1::oid AND i.indisvalid "
		"ORDER BY NOT i.indisprimary, NOT i.indisreplident, c.relname", 1, params);
	if (res == NULL) {
		free(attnums);
		return false;
	}
	d->indexes = xcalloc((size_t)PQntuples(res) + 1, sizeof(*d->indexes));
	for (int r = 0; r < PQntuples(res); r++) {
		bool primary = PQgetvalue(res, r, 0)[0] == 't';
		bool replident = PQgetvalue(res, r, 2)[0] == 't';
		int cols[64], n = 0;
		char *keys = PQgetvalue(res, r, 4), *p = keys;
		bool simple = PQgetvalue(res, r, 5)[0] == 't';

		while (*p && n < 64) {
			int attnum = (int)strtol(p, &p, 10);
			int idx = col_by_attnum(attnums, (int)d->ncols, attnum);

			if (idx < 0)
				simple = false;
			cols[n++] = idx;
		}
		if (!simple)
			continue;
		if ((primary || replident) && d->nkey == 0) {
			d->nkey = (uint32_t)n;
			d->key = xcalloc((size_t)n, sizeof(*d->key));
			for (int k = 0; k < n; k++)
				d->key[k] = (uint32_t)cols[k];
			if (primary)
				continue;
		}
		{
			struct dms_index *x = &d->indexes[d->nindexes++];

			x->name = xstrdup(PQgetvalue(res, r, 3));
			x->unique = PQgetvalue(res, r, 1)[0] == 't';
			x->ncols = n;
			x->cols = xcalloc((size_t)n, sizeof(int));
			memcpy(x->cols, cols, (size_t)n * sizeof(int));
		}
	}
	PQclear(res);
	free(attnums);

	res = pg_query(PG(s),
		"SELECT con.conname, rn.nspname, rc.relname, "
		"(SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i) "
		" JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), "
		"(SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i) "
		" JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n), "
		"con.confdeltype, con.confupdtype, array_length(con.conkey, 1) "
		"FROM pg_constraint con JOIN pg_class rc ON rc.oid = con.confrelid "
		"JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
		"WHERE con.conrelid = $1::oid AND con.contype = 'f' ORDER BY con.conname", 1, params);
	if (res == NULL)
		return false;
	d->fkeys = xcalloc((size_t)PQntuples(res) + 1, sizeof(*d->fkeys));
	for (int r = 0; r < PQntuples(res); r++) {
		struct dms_fkey *f = &d->fkeys[d->nfkeys++];
		static const char *const actions[] = { "a", "NO ACTION", "r", "RESTRICT", "c", "CASCADE",
						       "n", "SET NULL", "d", "SET DEFAULT" };
		PGresult *arr;

		f->name = xstrdup(PQgetvalue(res, r, 0));
		f->ref_schema = xstrdup(PQgetvalue(res, r, 1));
		f->ref_table = xstrdup(PQgetvalue(res, r, 2));
		f->ncols = f->nref = atoi(PQgetvalue(res, r, 7));
		f->cols = xcalloc((size_t)f->ncols, sizeof(char *));
		f->ref_cols = xcalloc((size_t)f->ncols, sizeof(char *));
		for (int side = 0; side < 2; side++) {
			const char *ap[] = { PQgetvalue(res, r, 3 + side) };

			arr = pg_query(PG(s), "SELECT unnest($1::text[])", 1, ap);
			if (arr == NULL) {
				PQclear(res);
				return false;
			}
			for (int i = 0; i < PQntuples(arr) && i < f->ncols; i++)
				(side ? f->ref_cols : f->cols)[i] = xstrdup(PQgetvalue(arr, i, 0));
			PQclear(arr);
		}
		for (int a = 0; a < 10; a += 2) {
			if (PQgetvalue(res, r, 5)[0] == actions[a][0])
				f->on_delete = xstrdup(actions[a + 1]);
			if (PQgetvalue(res, r, 6)[0] == actions[a][0])
				f->on_update = xstrdup(actions[a + 1]);
		}
		if (!f->on_delete)
			f->on_delete = xstrdup("NO ACTION");
		if (!f->on_update)
			f->on_update = xstrdup("NO ACTION");
	}
	PQclear(res);
	return true;
}

static char *
pg_src_quote_ident(const char *name)
{
	return pg_quote_ident(name);
}

static char *
pg_src_quote_literal(struct source *s, const char *value)
{
	char *lit = PQescapeLiteral(PG(s)->conn, value, strlen(value));
	char *copy = xstrdup(lit ? lit : "NULL");

	PQfreemem(lit);
	return copy;
}

static bool
pg_src_key_range(struct source *s, const struct src_table *t, int64_t *min, int64_t *max)
{
	struct strbuf sql = STRBUF_INIT;
	char *tab = src_table_qualified(t, pg_quote_ident), *col = pg_quote_ident(t->d.cols[t->d.key[0]].name);
	PGresult *res;
	bool ok = false;

	sb_addf(&sql, "SELECT min(%s)::text, max(%s)::text FROM %s", col, col, tab);
	src_part_where(&sql, t, NULL);
	res = pg_query(PG(s), sql.buf, 0, NULL);
	if (res != NULL) {
		ok = true;
		if (PQgetisnull(res, 0, 0)) {
			*min = *max = 0;
		} else {
			*min = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			*max = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		}
		PQclear(res);
	}
	free(tab);
	free(col);
	sb_release(&sql);
	return ok;
}

/* COPY text format: unescapes one field in place; returns its length. */
static size_t
unescape(char *f, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = f[i];

		if (ch != '\\' || i + 1 == len) {
			f[o++] = ch;
			continue;
		}
		ch = f[++i];
		switch (ch) {
		case 'b': f[o++] = '\b'; break;
		case 'f': f[o++] = '\f'; break;
		case 'n': f[o++] = '\n'; break;
		case 'r': f[o++] = '\r'; break;
		case 't': f[o++] = '\t'; break;
		case 'v': f[o++] = '\v'; break;
		case 'x': {
			int v = 0, n = 0;

			while (n < 2 && i + 1 < len && strchr("0123456789abcdefABCDEF", f[i + 1])) {
				char h = f[++i];

				v = v * 16 + (h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
				n++;
			}
			f[o++] = (char)v;
			break;
		}
		default:
			if (ch >= '0' && ch <= '7') {
				int v = ch - '0', n = 1;

				while (n < 3 && i + 1 < len && f[i + 1] >= '0' && f[i + 1] <= '7') {
					v = v * 8 + (f[++i] - '0');
					n++;
				}
				f[o++] = (char)v;
			} else {
				f[o++] = ch;
			}
		}
	}
	return o;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* One value of binary COPY as the stream's value (the one convert_value gives its text). */
static bool
binary_value(msgpack_packer *pk, const struct src_table *t, uint32_t col, const unsigned char *v, uint32_t len)
{
	static const uint32_t size[] = {
		[PGBIN_INT2] = 2, [PGBIN_INT4] = 4, [PGBIN_INT8] = 8, [PGBIN_FLOAT4] = 4, [PGBIN_FLOAT8] = 8,
		[PGBIN_BOOL] = 1,
	};
	enum pg_binary how = t->read[col].binary;

	if (how >= PGBIN_INT2 && how <= PGBIN_BOOL && len != size[how]) {
		log_error("%s.%s column %s: binary COPY gave %" PRIu32 " bytes, not %" PRIu32,
			  t->d.schema, t->d.name, t->d.cols[col].name, len, size[how]);
		return false;
	}
	switch (how) {
	case PGBIN_STR:
	case PGBIN_CAST:
		pk_strn(pk, (const char *)v, len);
		break;
	case PGBIN_BYTES:
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, v, len);
		break;
	case PGBIN_BOOL:
		if (v[0])
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case PGBIN_INT2:
		msgpack_pack_int64(pk, (int16_t)(v[0] << 8 | v[1]));
		break;
	case PGBIN_INT4:
		msgpack_pack_int64(pk, (int32_t)be32(v));
		break;
	case PGBIN_INT8:
		msgpack_pack_int64(pk, (int64_t)be64(v));
		break;
	case PGBIN_FLOAT4: {
		uint32_t bits = be32(v);
		float f;

		memcpy(&f, &bits, 4);
		msgpack_pack_float(pk, isnan(f) ? NAN : f);	/* NaN as the text "NaN" reads */
		break;
	}
	case PGBIN_FLOAT8: {
		uint64_t bits = be64(v);
		double d;

		memcpy(&d, &bits, 8);
		msgpack_pack_double(pk, isnan(d) ? NAN : d);
		break;
	}
	case PGBIN_NONE:
		return false;
	}
	return true;
}

static const unsigned char copy_signature[11] = "PGCOPY\n\377\r\n";

/*
 * The rows of one message of binary COPY (the server sends whole rows in
 * each, the header before the first): false on what is not its layout.
 */
static bool
binary_rows(const struct src_table *t, struct dms_writer *w, int tid, const unsigned char *p, size_t len,
	    bool *header, bool *trailer, uint64_t *rows)
{
	const unsigned char *end = p + len;

	if (!*header) {
		uint32_t ext;

		if (len < 19 || memcmp(p, copy_signature, 11) != 0)
			goto bad;
		ext = be32(p + 15);
		if (ext > len - 19)
			goto bad;
		p += 19 + ext;
		*header = true;
	}
	while (p < end) {
		int16_t n;

		if (end - p < 2 || *trailer)
			goto bad;
		n = (int16_t)(p[0] << 8 | p[1]);
		p += 2;
		if (n == -1) {
			*trailer = true;
			continue;
		}
		if (n != (int16_t)t->d.ncols)
			goto bad;
		rec_row(&w->pk, tid, t->d.ncols);
		for (uint32_t col = 0; col < t->d.ncols; col++) {
			uint32_t flen;

			if (end - p < 4)
				goto bad;
			flen = be32(p);
			p += 4;
			if (flen == UINT32_MAX) {
				msgpack_pack_nil(&w->pk);
				continue;
			}
			if (flen > (size_t)(end - p))
				goto bad;
			if (!binary_value(&w->pk, t, col, p, flen))
				return false;
			p += flen;
		}
		(*rows)++;
		if (w->out.failed)
			return false;
	}
	return true;
bad:
	log_error("%s.%s: binary COPY data not in its documented layout (row %" PRIu64 ")", t->d.schema, t->d.name,
		  *rows + 1);
	return false;
}

/* True when every column of t reads exactly in binary COPY. */
static bool
reads_binary(const struct src_table *t)
{
	for (uint32_t i = 0; i < t->d.ncols; i++)
		if (t->read[i].binary == PGBIN_NONE)
			return false;
	return t->d.ncols > 0;
}

static bool
pg_src_read_part(struct source *s, const struct src_table *t, const struct src_part *p,
		 struct dms_writer *w, int tid, uint64_t *rows)
{
	struct strbuf sql = STRBUF_INIT;
	char *tab = src_table_qualified(t, pg_quote_ident);
	PGresult *res;
	char *line;
	int len;
	bool ok = true, binary = reads_binary(t), header = false, trailer = false;

	for (uint32_t i = 0; !binary && i < t->d.ncols; i++)
		if (t->read[i].binary == PGBIN_NONE) {
			log_info("%s.%s: read in text COPY (column %s, %s, has no exact binary form here)",
				 t->d.schema, t->d.name, t->d.cols[i].name,
				 t->d.cols[i].native ? t->d.cols[i].native : dms_type_name(t->d.cols[i].type));
			break;
		}
	if (binary)
		log_info("%s.%s: read in binary COPY", t->d.schema, t->d.name);

	sb_adds(&sql, "COPY (SELECT ");
	for (uint32_t i = 0; i < t->d.ncols; i++)
		sb_addf(&sql, "%s%s%s", i ? ", " : "", t->read[i].select,
			binary && t->read[i].binary == PGBIN_CAST ? "::text" : "");
	sb_addf(&sql, " FROM ONLY %s", tab);
	src_part_where(&sql, t, p);
	sb_adds(&sql, binary ? ") TO STDOUT (FORMAT binary)" : ") TO STDOUT");
	free(tab);
	res = pg_query(PG(s), sql.buf, 0, NULL);
	sb_release(&sql);
	if (res == NULL)
		return false;
	PQclear(res);
	while ((len = PQgetCopyData(PG(s)->conn, &line, 0)) > 0) {
		char *f = line, *end = line + len;
		uint32_t col = 0;

		if (binary) {
			ok = binary_rows(t, w, tid, (const unsigned char *)line, (size_t)len, &header, &trailer, rows);
			PQfreemem(line);
			if (!ok || w->out.failed) {
				ok = false;
				break;
			}
			continue;
		}

		if (end > line && end[-1] == '\n')
			end--;
		rec_row(&w->pk, tid, t->d.ncols);
		while (ok && col < t->d.ncols) {
			char *tab_at = memchr(f, '\t', (size_t)(end - f));
			size_t flen = (size_t)((tab_at ? tab_at : end) - f);

			if (flen == 2 && f[0] == '\\' && f[1] == 'N')
				msgpack_pack_nil(&w->pk);
			else
				ok = convert_value(&w->pk, t, col, f, unescape(f, flen));
			col++;
			f = tab_at ? tab_at + 1 : end;
		}
		PQfreemem(line);
		if (!ok || w->out.failed) {
			ok = false;
			break;
		}
		(*rows)++;
	}
	if (!ok) {
		/* stop the COPY: cancel and drain */
		PGcancel *cancel = PQgetCancel(PG(s)->conn);
		char err[256];

		if (cancel) {
			PQcancel(cancel, err, sizeof(err));
			PQfreeCancel(cancel);
		}
		while (PQgetCopyData(PG(s)->conn, &line, 0) > 0)
			PQfreemem(line);
		while ((res = PQgetResult(PG(s)->conn)) != NULL)
			PQclear(res);
		return false;
	}
	if (len == -2) {
		log_error("%s: COPY failed: %s", PG(s)->label, PQerrorMessage(PG(s)->conn));
		return false;
	}
	while ((res = PQgetResult(PG(s)->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("%s: reading %s.%s failed: %s (SQLSTATE %s)", PG(s)->label, t->d.schema,
				  t->d.name, PQresultErrorMessage(res),
				  PQresultErrorField(res, PG_DIAG_SQLSTATE));
			ok = false;
		}
		PQclear(res);
	}
	if (ok && binary && !trailer) {
		log_error("%s: reading %s.%s: binary COPY ended without its trailer", PG(s)->label, t->d.schema,
			  t->d.name);
		ok = false;
	}
	return ok;
}

static void
pg_src_disconnect(struct source *s)
{
	if (s->conn != NULL) {
		pg_disconnect(PG(s));
		free(s->conn);
	}
	free(s->snapshot);
	free(s->position);
	s->conn = NULL;
}

static bool
pg_src_identity(struct source *s)
{
	return pg_identity(PG(s), &s->server, &s->database);
}

const struct source_ops pg_source_ops = {
	.connect = pg_src_connect,
	.begin = pg_src_begin,
	.list = pg_src_list,
	.describe = pg_src_describe,
	.key_range = pg_src_key_range,
	.read_part = pg_src_read_part,
	.identity = pg_src_identity,
	.quote_ident = pg_src_quote_ident,
	.quote_literal = pg_src_quote_literal,
	.disconnect = pg_src_disconnect,
};
