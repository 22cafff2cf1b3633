/*
 * capture/mysql.c: dms-capture from MySQL or MariaDB: the binary log read
 * as a replica through MariaDB Connector/C's replication API (transport,
 * event headers, checksums, TABLE_MAP), the row images decoded by
 * capture/myrows.c, tables described with the shared source catalog. Only
 * committed transactions are in the binary log, in commit order; each is
 * kept until its XID (or COMMIT) and written whole, its TABLE records first.
 * See dms-capture(1), MYSQL AND MARIADB.
 */
#define _GNU_SOURCE	/* strptime, timegm */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysql.h>
#include <mariadb_rpl.h>

#include "capture.h"
#include "../common/db/myevent.h"
#include "../common/db/myrows.h"
#include "../common/my.h"
#include "../common/position.h"
#include "../common/records.h"
#include "../common/dms.h"

/* A table met in the binary log, by schema and name. */
struct mytable {
	char *schema, *name;
	bool skip;		/* not selected: its rows are passed over */
	bool described;
	bool stale;		/* a DDL statement came: described again at its next TABLE_MAP */
	char *mapcols;		/* the column names of its last TABLE_MAP, \x01-separated */
	struct src_table t;
	int64_t tid;
	uint8_t *table;		/* its TABLE record as last written */
	size_t table_len;
	uint8_t *pending;	/* a TABLE record to write before the transaction in hand */
	size_t pending_len;
	char *from_schema, *from_name;	/* renamed in this run: its first name, in each TABLE record after */
};

struct mycap {
	const struct options *o;
	struct source src;	/* the catalog's connection */
	struct my_conn repl;
	MARIADB_RPL *rpl;
	struct mapping *mapping;
	struct dms_writer out;	/* stdout */
	struct dms_writer *w;	/* stdout's, or the spool's */
	struct spool_writer *spool;	/* -o DIR; NULL: stdout */
	int64_t last_durable;	/* spool: when (monotonic ms) */
	char file[256];		/* the binary log being read */
	uint64_t pos;		/* the end of the last event read */
	char emitted[300];	/* the end of the last transaction passed (written or not) */
	char written[300];	/* the position of the last COMMIT or CHECKPOINT written */
	struct mytable *tables;
	size_t ntables;
	struct mymap *maps;	/* the TABLE_MAPs of the transaction in hand */
	size_t nmaps;
	int64_t next_tid;
	/* the transaction in hand */
	bool in_txn;
	char gtid[64];		/* MariaDB's domain-server-sequence; "": none */
	uint64_t changes;
	struct strbuf txn;	/* the transaction in hand's change records: in memory, */
	FILE *spill;		/* then, past --memory bytes, in a temporary file first */
	uint64_t spilled;	/* bytes in it */
	msgpack_sbuffer rec;
	msgpack_packer pk;
	struct strbuf scratch;
	uint64_t transactions;
	char stop_at[300];	/* --stop-at position; "": none */
	int64_t stop_time;
	bool stop;
	bool hosts_warned;	/* SHOW SLAVE HOSTS refused, said once */
	bool crc;		/* events end with a CRC32 checksum (binlog_checksum) */
	/* PARTIAL_UPDATE_ROWS: per column of the row's map, kept from row to row */
	char **pjson;		/* the before image's JSON text */
	const char **pdiff;	/* the document a diff applies to */
	bool *ppartial;		/* logged as a diff */
	uint32_t pcap;
};

/* A one-value query of the catalog's connection; NULL on error (logged) or no row. */
static char *
my_value(struct mycap *c, const char *sql)
{
	MYSQL_RES *res = my_query(c->src.conn, sql);
	MYSQL_ROW row;
	char *v = NULL;

	if (res == NULL)
		return NULL;
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
		v = xstrdup(row[0]);
	mysql_free_result(res);
	return v;
}

/* A server setting that must have one value: an error naming the fix otherwise. */
static bool
require(struct mycap *c, const char *var, const char *want, const char *fix)
{
	char sql[128], *v;
	bool ok;

	snprintf(sql, sizeof(sql), "SELECT @@GLOBAL.%s", var);
	v = my_value(c, sql);
	ok = v != NULL && strcasecmp(v, want) == 0;
	if (!ok)
		log_error("the source's %s is %s, and change capture needs %s: %s", var, v ? v : "unknown", want, fix);
	free(v);
	return ok;
}

/*
 * What reading the binary log needs of the source: binary logging, ROW
 * format, FULL row images; binlog_row_metadata=FULL where the server has it
 * (column names in each TABLE_MAP).
 */
static bool
preflight(struct mycap *c)
{
	char *v;

	if (!require(c, "log_bin", "1", "start the server with --log-bin") ||
	    !require(c, "binlog_format", "ROW", "SET GLOBAL binlog_format = 'ROW' (and in the server's configuration)") ||
	    !require(c, "binlog_row_image", "FULL",
		     "SET GLOBAL binlog_row_image = 'FULL' (and in the server's configuration)"))
		return false;
	v = my_value(c, "SELECT @@GLOBAL.binlog_row_metadata");
	if (v != NULL && strcasecmp(v, "FULL") != 0)
		log_warn("the source's binlog_row_metadata is %s: columns are matched by position; FULL names them (SET GLOBAL binlog_row_metadata = 'FULL')",
			 v);
	free(v);
	v = my_value(c, "SELECT @@GLOBAL.binlog_checksum");
	c->crc = v == NULL || strcasecmp(v, "NONE") != 0;
	free(v);
	v = my_value(c, "SELECT count(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "
			"concat('''', substring_index(current_user(), '@', 1), '''@''', "
			"substring_index(current_user(), '@', -1), '''') AND PRIVILEGE_TYPE IN "
			"('REPLICATION SLAVE', 'SUPER', 'BINLOG MONITOR', 'REPLICATION CLIENT')");
	if (v == NULL || strcmp(v, "0") == 0) {
		log_error("the user may not read the binary log: GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO the user");
		free(v);
		return false;
	}
	free(v);
	return true;
}

/* The ENUM or SET values of a column type "enum('a','b''c')". */
static void
labels_of(const char *native, char ***labels, uint32_t *n)
{
	const char *p = strchr(native ? native : "", '(');
	struct strbuf s = STRBUF_INIT;

	*labels = NULL;
	*n = 0;
	if (p == NULL)
		return;
	for (p++; *p == '\'';) {
		sb_reset(&s);
		for (p++; *p; p++) {
			if (*p == '\'' && p[1] == '\'') {
				sb_add(&s, "'", 1);
				p++;
			} else if (*p == '\\' && p[1]) {
				sb_add(&s, p + 1, 1);
				p++;
			} else if (*p == '\'') {
				break;
			} else {
				sb_add(&s, p, 1);
			}
		}
		*labels = xrealloc(*labels, (*n + 1) * sizeof(char *));
		(*labels)[(*n)++] = xstrdup(s.buf ? s.buf : "");
		if (*p == '\'')
			p++;
		if (*p == ',')
			p++;
	}
	sb_release(&s);
}

/* iconv's name of a MySQL character set, from a collation name; NULL: UTF-8 or binary as they are. */
static const char *
charset_of(const char *collation, bool *known)
{
	static const char *const map[][2] = {
		{ "latin1", "CP1252" }, { "latin2", "ISO-8859-2" }, { "latin5", "ISO-8859-9" },
		{ "latin7", "ISO-8859-13" }, { "cp1250", "CP1250" }, { "cp1251", "CP1251" },
		{ "cp1256", "CP1256" }, { "cp1257", "CP1257" }, { "cp850", "CP850" }, { "cp852", "CP852" },
		{ "cp866", "CP866" }, { "koi8r", "KOI8-R" }, { "koi8u", "KOI8-U" }, { "greek", "ISO-8859-7" },
		{ "hebrew", "ISO-8859-8" }, { "ucs2", "UCS-2BE" }, { "utf16", "UTF-16BE" },
		{ "utf16le", "UTF-16LE" }, { "utf32", "UTF-32BE" }, { "sjis", "SHIFT_JIS" },
		{ "cp932", "CP932" }, { "ujis", "EUC-JP" }, { "eucjpms", "EUC-JP-MS" }, { "gbk", "GBK" },
		{ "gb2312", "GB2312" }, { "big5", "BIG5" }, { "euckr", "EUC-KR" }, { "tis620", "TIS-620" },
	};
	size_t n;

	*known = true;
	if (collation == NULL)
		return NULL;
	n = strcspn(collation, "_");
	if ((n == 4 && strncmp(collation, "utf8", 4) == 0) || (n == 7 && strncmp(collation, "utf8mb", 6) == 0) ||
	    (n == 5 && strncmp(collation, "ascii", 5) == 0) || (n == 6 && strncmp(collation, "binary", 6) == 0))
		return NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i][0]) == n && strncmp(collation, map[i][0], n) == 0)
			return map[i][1];
	*known = false;
	return NULL;
}

/* The table of this name met so far; NULL: none (table_of would add it). */
static struct mytable *
table_known(struct mycap *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (strcmp(c->tables[i].schema, schema) == 0 && strcmp(c->tables[i].name, name) == 0)
			return &c->tables[i];
	return NULL;
}

static struct mytable *
table_of(struct mycap *c, const char *schema, const char *name)
{
	struct mytable *t = table_known(c, schema, name);

	if (t != NULL)
		return t;
	c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
	t = &c->tables[c->ntables++];
	memset(t, 0, sizeof(*t));
	t->schema = xstrdup(schema);
	t->name = xstrdup(name);
	t->tid = -1;
	/* the database the URI names, as dms-extract reads it, and of it what the mappings select */
	t->skip = strcmp(schema, c->src.database) != 0 || !mapping_selects(c->mapping, schema, name);
	return t;
}

static bool
is_numeric(uint8_t type)
{
	return type == MYT_TINY || type == MYT_SHORT || type == MYT_INT24 || type == MYT_LONG ||
	       type == MYT_LONGLONG || type == MYT_NEWDECIMAL || type == MYT_DECIMAL || type == MYT_FLOAT ||
	       type == MYT_DOUBLE;
}

static bool
is_character(uint8_t type)
{
	return type == MYT_VARCHAR || type == MYT_VAR_STRING || type == MYT_STRING || type == MYT_BLOB;
}

/*
 * The nth list of a TABLE_MAP's ENUM or SET values (count, then each value
 * length-prefixed) as a column type's "('a','b''c')"; false: cut short.
 */
static bool
map_labels(const MARIADB_CONST_DATA *d, uint32_t nth, struct strbuf *out)
{
	const uint8_t *p = (const uint8_t *)d->data, *end = p + (d->data ? d->length : 0);

	for (uint32_t k = 0; k <= nth; k++) {
		uint64_t count, len;

		if (!myevent_lenenc(&p, end, &count))
			return false;
		if (k == nth)
			sb_adds(out, "(");
		for (uint64_t i = 0; i < count; i++) {
			if (!myevent_lenenc(&p, end, &len) || (uint64_t)(end - p) < len)
				return false;
			if (k == nth) {
				sb_addf(out, "%s'", i ? "," : "");
				for (uint64_t j = 0; j < len; j++)
					sb_adds(out, p[j] == '\'' ? "''" : p[j] == '\\' ? "\\\\" : (char[]){ (char)p[j], 0 });
				sb_adds(out, "'");
			}
			p += len;
		}
	}
	sb_adds(out, ")");
	return true;
}

/*
 * A column of the binary log that the catalog no longer has (dropped or
 * renamed since this part of the log was written): described from the
 * TABLE_MAP's metadata, as information_schema would have described it then
 * (type, length, precision, signedness, character set, ENUM and SET values,
 * nullability). Added to d; false: not described (logged).
 */
static bool
column_from_map(struct mycap *c, struct src_table *d, const struct st_mariadb_rpl_table_map_event *e,
		const struct mymap *m, uint32_t i, const char *name)
{
	const struct mycol *mc = &m->cols[i];
	uint32_t nnum = 0, nchar = 0, nenum = 0, nset = 0;
	bool is_unsigned = false, binary = false, nullable;
	char *collation = NULL, prec[16] = "", scale[16] = "", dtprec[16] = "", charlen[24] = "";
	const char *dt = NULL;
	struct strbuf native = STRBUF_INIT;
	unsigned maxlen = 1;
	bool ok = true;

	for (uint32_t k = 0; k < i; k++) {
		nnum += is_numeric(m->cols[k].type);
		nchar += is_character(m->cols[k].type);
		nenum += m->cols[k].type == MYT_ENUM;
		nset += m->cols[k].type == MYT_SET;
	}
	nullable = e->null_indicator != NULL && (e->null_indicator[i / 8] >> (i % 8)) & 1;
	if (is_numeric(mc->type) && e->signed_indicator != NULL)
		is_unsigned = (e->signed_indicator[nnum / 8] >> (7 - nnum % 8)) & 1;
	if (is_character(mc->type)) {
		/* its collation: COLUMN_CHARSET's, else the table's default (DEFAULT_CHARSET) */
		uint64_t id = e->default_charset;
		const uint8_t *p = (const uint8_t *)e->column_charsets.data;
		const uint8_t *end = p ? p + e->column_charsets.length : NULL;
		char sql[300];
		MYSQL_RES *res;
		MYSQL_ROW row;

		for (uint32_t k = 0; p != NULL && k <= nchar; k++)
			if (!myevent_lenenc(&p, end, &id)) {
				id = e->default_charset;
				break;
			}
		snprintf(sql, sizeof(sql), "SELECT co.COLLATION_NAME, cs.MAXLEN FROM information_schema.COLLATIONS co "
			 "JOIN information_schema.CHARACTER_SETS cs ON cs.CHARACTER_SET_NAME = co.CHARACTER_SET_NAME "
			 "WHERE co.ID = %" PRIu64, id);
		if ((res = my_query(c->src.conn, sql)) == NULL)
			return false;
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
			collation = xstrdup(row[0]);
			maxlen = row[1] && atoi(row[1]) > 0 ? (unsigned)atoi(row[1]) : 1;
		}
		mysql_free_result(res);
		if (collation == NULL) {
			log_error("%s.%s: column %s, no longer in the catalog: the binary log gives collation %" PRIu64 ", which the server does not know",
				  d->d.schema, d->d.name, name, id);
			return false;
		}
		binary = strcmp(collation, "binary") == 0;
	}
	switch (mc->type) {
	case MYT_TINY: dt = "tinyint"; break;
	case MYT_SHORT: dt = "smallint"; break;
	case MYT_INT24: dt = "mediumint"; break;
	case MYT_LONG: dt = "int"; break;
	case MYT_LONGLONG: dt = "bigint"; break;
	case MYT_FLOAT: dt = "float"; break;
	case MYT_DOUBLE: dt = "double"; break;
	case MYT_YEAR: dt = "year"; break;
	case MYT_NEWDECIMAL:
		dt = "decimal";
		snprintf(prec, sizeof(prec), "%u", mc->meta >> 8);
		snprintf(scale, sizeof(scale), "%u", mc->meta & 0xff);
		sb_addf(&native, "decimal(%s,%s)", prec, scale);
		break;
	case MYT_VARCHAR: case MYT_VAR_STRING: case MYT_STRING:
		dt = mc->type == MYT_STRING ? (binary ? "binary" : "char") : (binary ? "varbinary" : "varchar");
		snprintf(charlen, sizeof(charlen), "%u", mc->meta / maxlen);
		sb_addf(&native, "%s(%s)", dt, charlen);
		break;
	case MYT_ENUM: case MYT_SET:
		dt = mc->type == MYT_ENUM ? "enum" : "set";
		sb_adds(&native, dt);
		if (!map_labels(mc->type == MYT_ENUM ? &e->enum_values : &e->set_values,
				mc->type == MYT_ENUM ? nenum : nset, &native)) {
			log_error("%s.%s: column %s, no longer in the catalog: the binary log has not its values (binlog_row_metadata is not FULL?)",
				  d->d.schema, d->d.name, name);
			ok = false;
		}
		break;
	case MYT_BLOB: {
		static const char *const size[] = { "", "tiny", "", "medium", "long" };

		sb_addf(&native, "%s%s", size[mc->meta <= 4 ? mc->meta : 0], binary ? "blob" : "text");
		dt = native.buf;
		break;
	}
	case MYT_DATE: case MYT_NEWDATE: dt = "date"; break;
	case MYT_TIME: case MYT_TIME2: dt = "time"; break;
	case MYT_DATETIME: case MYT_DATETIME2: dt = "datetime"; break;
	case MYT_TIMESTAMP: case MYT_TIMESTAMP2: dt = "timestamp"; break;
	case MYT_BIT:
		dt = "bit";
		sb_addf(&native, "bit(%u)", (mc->meta >> 8) + (mc->meta & 0xff) * 8);
		break;
	case MYT_JSON: dt = "json"; break;
	case MYT_GEOMETRY: dt = "geometry"; break;
	default:
		log_error("%s.%s: column %s, no longer in the catalog: binary log type %u is not described in this version",
			  d->d.schema, d->d.name, name, mc->type);
		ok = false;
		break;
	}
	if (ok && (mc->type == MYT_TIME2 || mc->type == MYT_DATETIME2 || mc->type == MYT_TIMESTAMP2)) {
		snprintf(dtprec, sizeof(dtprec), "%u", mc->meta);
		if (mc->meta > 0)
			sb_addf(&native, "%s(%u)", dt, mc->meta);
	}
	if (ok) {
		char *dtype = xstrdup(dt), *ntype;

		if (native.len == 0)
			sb_adds(&native, dt);
		if (is_unsigned)
			sb_adds(&native, " unsigned");
		ntype = xstrdup(native.buf);
		my_src_add_column(d, name, dtype, ntype, nullable, charlen[0] ? charlen : NULL, prec[0] ? prec : NULL,
				  scale[0] ? scale : NULL, dtprec[0] ? dtprec : NULL, collation, false);
		log_info("%s.%s: column %s, which the catalog no longer has, described from the binary log: %s",
			 d->d.schema, d->d.name, name, ntype);
		free(dtype);
		free(ntype);
	}
	free(collation);
	sb_release(&native);
	return ok;
}

/* Whether the catalog has name as a generated column of the table (not in its description). */
static bool
is_generated(struct mycap *c, const struct mytable *t, const char *name)
{
	struct strbuf sql = STRBUF_INIT;
	char *q[3] = { my_source_ops.quote_literal(&c->src, t->schema), my_source_ops.quote_literal(&c->src, t->name),
		       my_source_ops.quote_literal(&c->src, name) };
	char *v;
	bool generated;

	sb_addf(&sql, "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
		      "AND COLUMN_NAME = %s AND (EXTRA LIKE '%%VIRTUAL%%' OR EXTRA LIKE '%%STORED%%' "
		      "OR EXTRA LIKE '%%PERSISTENT%%')", q[0], q[1], q[2]);
	v = my_value(c, sql.buf);
	for (int i = 0; i < 3; i++)
		free(q[i]);
	sb_release(&sql);
	generated = v != NULL && strcmp(v, "0") != 0;
	free(v);
	return generated;
}

/*
 * A table described (again) by the catalog, as the binary log has it here:
 * its columns are those the TABLE_MAP names (names; NULL: the catalog's), in
 * the log's order. A column the catalog has and the log not yet (added
 * since) is left out, so that a capture reading the log from before an ALTER
 * writes the table as it was then, and the ALTER a redefinition; a column
 * the log has and the catalog no longer (dropped or renamed since) is
 * described from the TABLE_MAP. Its TABLE record is pending when it differs
 * from the last written.
 */
static bool
describe(struct mycap *c, struct mytable *t, const struct st_mariadb_rpl_table_map_event *e,
	 const struct mymap *m, char **names)
{
	struct src_name nm = { .schema = t->schema, .name = t->name };
	struct src_table d = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!my_source_ops.describe(&c->src, &nm, &d))
		return false;
	if (names != NULL) {
		int *order = xcalloc((size_t)m->ncols + 1, sizeof(int));
		int *at = xcalloc((size_t)m->ncols + 1, sizeof(int));	/* each log column's place in d; -1: none */
		uint32_t n = 0;
		bool ok = true;

		for (uint32_t i = 0; ok && i < m->ncols; i++) {
			int col = src_column_index(&d, names[i]);

			at[i] = -1;
			if (col < 0 && !is_generated(c, t, names[i])) {
				ok = column_from_map(c, &d, e, m, i, names[i]);
				col = (int)d.d.ncols - 1;
			}
			if (ok && col >= 0) {
				at[i] = (int)n;
				order[n++] = col;
			}
		}
		if (ok)
			src_table_order_columns(&d, order, n);
		/* a key column renamed since: the key the TABLE_MAP gives */
		if (ok && d.d.nkey == 0 && e->simple_primary_keys.data != NULL) {
			const uint8_t *p = (const uint8_t *)e->simple_primary_keys.data;
			const uint8_t *end = p + e->simple_primary_keys.length;
			uint64_t k;

			free(d.d.key);
			d.d.key = xcalloc((size_t)m->ncols + 1, sizeof(*d.d.key));
			while (p < end && myevent_lenenc(&p, end, &k) && k < m->ncols && at[k] >= 0)
				d.d.key[d.d.nkey++] = (uint32_t)at[k];
			if (p < end)
				d.d.nkey = 0;
		}
		free(at);
		free(order);
		if (!ok) {
			src_table_free(&d);
			return false;
		}
	}
	if (d.d.nkey == 0)
		src_table_key_fallback(&d);
	if (d.d.ncols == 0) {
		log_error("%s.%s: the catalog has none of its columns (dropped since this part of the binary log was written?)",
			  t->schema, t->name);
		src_table_free(&d);
		return false;
	}
	if (t->described)
		src_table_free(&t->t);
	t->t = d;
	t->described = true;
	t->stale = false;
	if (t->tid < 0)
		t->tid = c->spool ? spool_tid(c->spool, t->schema, t->name) : c->next_tid++;
	if (t->tid < 0) {
		src_table_free(&t->t);
		t->described = false;
		return false;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rec_table_as(&pk, t->tid, &t->t.d,
		     t->from_name ? &(const struct rec_table_how){ .from_schema = t->from_schema,
								  .from_name = t->from_name } : NULL);
	free(t->pending);
	t->pending = NULL;
	if (t->table == NULL || t->table_len != sb.size || memcmp(t->table, sb.data, sb.size) != 0) {
		t->pending = xmalloc(sb.size);
		memcpy(t->pending, sb.data, sb.size);
		t->pending_len = sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	return true;
}

/* The column names of a TABLE_MAP's optional metadata (length-prefixed), or NULL. */
static char **
column_names(const MARIADB_CONST_DATA *d, uint32_t ncols)
{
	const uint8_t *p = (const uint8_t *)d->data, *end = p + d->length;
	char **names;

	if (d->data == NULL || d->length == 0)
		return NULL;
	names = xcalloc(ncols + 1, sizeof(char *));
	for (uint32_t i = 0; i < ncols; i++) {
		size_t n;

		if (p >= end || *p >= 251 || (size_t)(end - p - 1) < *p) {
			for (uint32_t k = 0; k < i; k++)
				free(names[k]);
			free(names);
			return NULL;
		}
		n = *p++;
		names[i] = xstrndup((const char *)p, n);
		p += n;
	}
	return names;
}

/* A TABLE_MAP: the table matched with its description, kept by table id until the transaction ends. */
static bool
table_map(struct mycap *c, const struct st_mariadb_rpl_table_map_event *e)
{
	char schema[256], name[256], err[256];
	struct mytable *t;
	struct mymap m = { 0 };
	char **names;
	uint32_t next = 0;
	bool ok = true;

	snprintf(schema, sizeof(schema), "%.*s", (int)e->database.length, e->database.str);
	snprintf(name, sizeof(name), "%.*s", (int)e->table.length, e->table.str);
	t = table_of(c, schema, name);
	m.table_id = e->table_id;
	if (t->skip)
		goto keep;
	if (!myrows_map(&m, (const uint8_t *)e->column_types.str, e->column_types.length,
			(const uint8_t *)e->metadata.str, e->metadata.length, err, sizeof(err))) {
		log_error("%s.%s: %s", schema, name, err);
		myrows_map_free(&m);
		return false;
	}
	names = column_names(&e->column_names, m.ncols);
	{
		struct strbuf cols = STRBUF_INIT;

		for (uint32_t i = 0; names != NULL && i < m.ncols; i++)
			sb_addf(&cols, "%s%s", i ? "\x01" : "", names[i]);
		/* described again after DDL, or when the log's columns are not those of the last TABLE_MAP */
		if (!t->described || t->stale || strcmp(t->mapcols ? t->mapcols : "", cols.buf ? cols.buf : "") != 0) {
			free(t->mapcols);
			t->mapcols = xstrdup(cols.buf ? cols.buf : "");
			if (!describe(c, t, e, &m, names))
				ok = false;
		}
		sb_release(&cols);
	}
	m.t = &t->t;
	if (ok && names == NULL && m.ncols != t->t.d.ncols) {
		log_error("%s.%s: the binary log has %u columns, the catalog %u, and no column names (binlog_row_metadata is not FULL): SET GLOBAL binlog_row_metadata = 'FULL'",
			  schema, name, m.ncols, t->t.d.ncols);
		ok = false;
	}
	for (uint32_t i = 0; i < m.ncols && ok; i++) {
		struct mycol *mc = &m.cols[i];
		int col = names ? src_column_index(&t->t, names[i]) : (int)i;
		const struct dms_column *dc;
		const char *cs;
		bool known;

		if (col < 0)
			continue;	/* a generated column: computed on the target */
		if ((uint32_t)col < next) {
			log_error("%s.%s: the columns of the binary log and of the catalog are in different orders: the table was altered after this part of the binary log; restart from a later position",
				  schema, name);
			ok = false;
			break;
		}
		next = (uint32_t)col + 1;
		mc->col = col;
		dc = &t->t.d.cols[col];
		mc->is_unsigned = dc->is_unsigned;
		mc->binary = dc->type == DT_BYTES || dc->type == DT_BLOB;
		if (mc->type == MYT_ENUM || mc->type == MYT_SET)
			labels_of(dc->native, &mc->labels, &mc->nlabels);
		cs = charset_of(dc->collation, &known);
		if (!known) {
			log_error("%s.%s: column %s: character set of collation %s is not converted in this version",
				  schema, name, dc->name, dc->collation);
			ok = false;
		} else if (cs != NULL && (mc->cd = iconv_open("UTF-8", cs)) == (iconv_t)-1) {
			log_error("%s.%s: column %s: cannot convert from %s: %s", schema, name, dc->name, cs, strerror(errno));
			ok = false;
		}
	}
	if (names != NULL)
		for (uint32_t i = 0; i < m.ncols; i++)
			free(names[i]);
	free(names);
	if (!ok) {
		myrows_map_free(&m);
		return false;
	}
keep:
	for (size_t i = 0; i < c->nmaps; i++)
		if (c->maps[i].table_id == m.table_id) {
			myrows_map_free(&c->maps[i]);
			c->maps[i] = m;
			return true;
		}
	c->maps = xrealloc(c->maps, (c->nmaps + 1) * sizeof(*c->maps));
	c->maps[c->nmaps++] = m;
	return true;
}

static void
maps_clear(struct mycap *c)
{
	for (size_t i = 0; i < c->nmaps; i++)
		myrows_map_free(&c->maps[i]);
	c->nmaps = 0;
}

static struct mytable *
table_by_map(struct mycap *c, const struct mymap *m)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (&c->tables[i].t == m->t)
			return &c->tables[i];
	return NULL;
}

/* The transaction in hand forgotten. */
static void
txn_reset(struct mycap *c)
{
	sb_reset(&c->txn);
	if (c->spill != NULL)
		fclose(c->spill);
	c->spill = NULL;
	c->spilled = 0;
}

/*
 * A change record of the transaction in hand: kept in memory up to --memory
 * bytes, then what memory holds goes to a temporary file and so does each
 * record after it. False: the file cannot be written (logged).
 */
static bool
txn_add(struct mycap *c, const void *rec, size_t len)
{
	if (c->spill == NULL && c->txn.len + len <= c->o->memory) {
		sb_add(&c->txn, rec, len);
		return true;
	}
	if (c->spill == NULL) {
		if ((c->spill = tmpfile()) == NULL) {
			log_error("cannot spill a large transaction to a temporary file: %s", strerror(errno));
			return false;
		}
		log_info("the transaction at %s:%" PRIu64 " is past %zu bytes: spilled to a temporary file", c->file,
			 c->pos, c->o->memory);
	}
	if (c->txn.len > 0 && fwrite(c->txn.buf, 1, c->txn.len, c->spill) != c->txn.len) {
		log_error("cannot spill a large transaction to a temporary file: %s", strerror(errno));
		return false;
	}
	c->spilled += c->txn.len;
	sb_reset(&c->txn);
	if (fwrite(rec, 1, len, c->spill) != len) {
		log_error("cannot spill a large transaction to a temporary file: %s", strerror(errno));
		return false;
	}
	c->spilled += len;
	return true;
}

/* The transaction in hand's records to the output: the file's, then memory's. False: not read back (logged). */
static bool
txn_write(struct mycap *c)
{
	if (c->spill != NULL) {
		char buf[65536];
		size_t n;
		uint64_t total = 0;

		rewind(c->spill);
		while ((n = fread(buf, 1, sizeof(buf), c->spill)) > 0) {
			out_write(&c->w->out, buf, n);
			total += n;
		}
		if (ferror(c->spill) || total != c->spilled) {
			log_error("cannot read a large transaction back from its temporary file: %s", strerror(errno));
			return false;
		}
	}
	out_write(&c->w->out, c->txn.buf, c->txn.len);
	return true;
}

/*
 * A row of a PARTIAL_UPDATE_ROWS (MySQL 8, binlog_row_value_options=
 * PARTIAL_JSON): its before image into opk, its after image into the
 * record, where a JSON column logged as a diff is the before image's
 * document with the diff applied. False: malformed, or a diff that does
 * not apply (err).
 */
static bool
partial_row(struct mycap *c, const struct mymap *m, const struct st_mariadb_rpl_rows_event *e, const uint8_t **p,
	    const uint8_t *end, msgpack_packer *opk, char *err, size_t errsize)
{
	char **json;
	const char **diff_of;
	bool *partial, ok;

	if (c->pcap < m->ncols) {
		c->pjson = xrealloc(c->pjson, m->ncols * sizeof(*c->pjson));
		c->pdiff = xrealloc(c->pdiff, m->ncols * sizeof(*c->pdiff));
		c->ppartial = xrealloc(c->ppartial, m->ncols * sizeof(*c->ppartial));
		c->pcap = m->ncols;
	}
	json = c->pjson, diff_of = c->pdiff, partial = c->ppartial;
	memset(json, 0, m->ncols * sizeof(*json));
	memset(diff_of, 0, m->ncols * sizeof(*diff_of));
	ok = myrows_row_json(m, e->column_bitmap, p, end, false, json, NULL, opk, &c->scratch, err, errsize) &&
	     myrows_shared_image(m, p, end, partial, err, errsize);

	for (uint32_t i = 0; ok && i < m->ncols; i++) {
		if (!partial[i])
			continue;
		if (json[i] == NULL) {
			snprintf(err, errsize, "column %u: a JSON diff to a value the before image lacks or has NULL", i + 1);
			ok = false;
		}
		diff_of[i] = json[i];
	}
	ok = ok && myrows_row_json(m, e->column_update_bitmap ? e->column_update_bitmap : e->column_bitmap, p, end,
				   true, NULL, diff_of, &c->pk, &c->scratch, err, errsize);
	for (uint32_t i = 0; i < m->ncols; i++)
		free(json[i]);
	return ok;
}

/* A rows event: each row image a change record of the transaction in hand. */
static bool
rows(struct mycap *c, const MARIADB_RPL_EVENT *ev)
{
	const struct st_mariadb_rpl_rows_event *e = &ev->event.rows;
	const struct mymap *m = NULL;
	const uint8_t *p = e->row_data, *end = p + e->row_data_size;
	enum dms_kind kind;
	struct mytable *t;
	char err[256];

	for (size_t i = 0; i < c->nmaps; i++)
		if (c->maps[i].table_id == e->table_id)
			m = &c->maps[i];
	if (m == NULL) {
		log_error("%s:%" PRIu64 ": a rows event of table id %" PRIu64 " without its TABLE_MAP", c->file, c->pos,
			  e->table_id);
		return false;
	}
	if (m->t == NULL)
		return true;	/* not captured */
	if (e->column_count != m->ncols || e->column_bitmap == NULL) {
		log_error("%s:%" PRIu64 ": a rows event of %u columns for a TABLE_MAP of %u", c->file, c->pos,
			  e->column_count, m->ncols);
		return false;
	}
	t = table_by_map(c, m);
	switch (ev->event_type) {
	case WRITE_ROWS_EVENT_V1: case WRITE_ROWS_EVENT:
	case WRITE_ROWS_COMPRESSED_EVENT_V1: case WRITE_ROWS_COMPRESSED_EVENT:
		kind = K_INSERT;
		break;
	case UPDATE_ROWS_EVENT_V1: case UPDATE_ROWS_EVENT: case PARTIAL_UPDATE_ROWS_EVENT:
	case UPDATE_ROWS_COMPRESSED_EVENT_V1: case UPDATE_ROWS_COMPRESSED_EVENT:
		kind = K_UPDATE;
		break;
	default: kind = K_DELETE; break;
	}
	/* MySQL's UPDATE_ROWS v2: the library leaves the after image's bitmap at the start of the rows (cdc-notes B) */
	if (ev->event_type == UPDATE_ROWS_EVENT && e->column_update_bitmap == NULL) {
		if ((size_t)(end - p) < (m->ncols + 7) / 8)
			goto bad;
		p += (m->ncols + 7) / 8;
	}
	while (p < end) {
		msgpack_sbuffer_clear(&c->rec);
		rec_change(&c->pk, kind, t->tid);
		if (kind == K_UPDATE) {
			msgpack_sbuffer old;
			msgpack_packer opk;
			bool ok;

			/* the before image comes first in the event, and second in the record */
			msgpack_sbuffer_init(&old);
			msgpack_packer_init(&opk, &old, msgpack_sbuffer_write);
			if (ev->event_type == PARTIAL_UPDATE_ROWS_EVENT) {
				ok = partial_row(c, m, e, &p, end, &opk, err, sizeof(err));
			} else {
				ok = myrows_row(m, e->column_bitmap, &p, end, false, &opk, &c->scratch, err,
						sizeof(err)) &&
				     myrows_row(m, e->column_update_bitmap ? e->column_update_bitmap : e->column_bitmap,
						&p, end, true, &c->pk, &c->scratch, err, sizeof(err));
			}
			if (ok)
				msgpack_sbuffer_write(&c->rec, old.data, old.size);
			msgpack_sbuffer_destroy(&old);
			if (!ok)
				goto bad;
		} else if (!myrows_row(m, e->column_bitmap, &p, end, kind == K_INSERT, &c->pk, &c->scratch, err,
				       sizeof(err))) {
			goto bad;
		}
		if (!txn_add(c, c->rec.data, c->rec.size))
			return false;
		c->changes++;
	}
	return true;
bad:
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "the row image is malformed");
	log_error("%s:%" PRIu64 ": %s.%s: %s", c->file, c->pos, t->schema, t->name, err);
	return false;
}

/* The position "file:offset" of the end of the last event read. */
static void
position_now(const struct mycap *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%" PRIu64, c->file, c->pos);
}

/* Whether a commit position is past --stop-at. */
static bool
past_stop(const struct mycap *c, const char *pos, int64_t when)
{
	int cmp;

	if (c->stop_time)
		return when > c->stop_time;
	return c->stop_at[0] && position_compare(pos, c->stop_at, &cmp) && cmp > 0;
}

/* Between transactions: a CHECKPOINT at the end of the last transaction passed, if none says it yet. */
static void
checkpoint(struct mycap *c)
{
	if (strcmp(c->emitted, c->written) == 0)
		return;
	rec_checkpoint(&c->w->pk, c->emitted, 0, 0);
	snprintf(c->written, sizeof(c->written), "%s", c->emitted);
}

/*
 * Spool: what was written becomes durable, at most every 100 ms while
 * transactions flow (force: now). A full segment gives way to the next, which
 * opens with the TABLE records written so far. False: the spool cannot be
 * written (logged).
 */
static bool
spool_sync(struct mycap *c, bool force)
{
	int64_t now = mono_ms();

	if (c->spool == NULL || !spool_dirty(c->spool) || (!force && now - c->last_durable < 100))
		return true;
	if (!spool_durable(c->spool, c->written, false))
		return false;
	c->last_durable = now;
	if (!spool_full(c->spool))
		return true;
	if (!spool_segment(c->spool, c->written))
		return false;
	for (size_t i = 0; i < c->ntables; i++)
		if (c->tables[i].table != NULL)
			out_write(&c->w->out, c->tables[i].table, c->tables[i].table_len);
	return spool_durable(c->spool, c->written, false);
}

/* Between transactions: whether the log is read up to --stop-at (nothing at or before it can follow). */
static bool
at_stop(const struct mycap *c)
{
	char pos[300];
	int cmp;

	if (!c->stop_at[0])
		return false;
	position_now(c, pos, sizeof(pos));
	return position_compare(pos, c->stop_at, &cmp) && cmp >= 0;
}

/* The transaction in hand ends: written whole (its tables first) when it changed a captured table. */
static bool
commit(struct mycap *c, int64_t when)
{
	char pos[300];
	msgpack_packer *pk = &c->w->pk;

	position_now(c, pos, sizeof(pos));
	c->in_txn = false;
	maps_clear(c);
	if (past_stop(c, pos, when)) {
		c->stop = true;
		txn_reset(c);
		return true;
	}
	snprintf(c->emitted, sizeof(c->emitted), "%s", pos);
	if (c->changes == 0)
		return true;
	for (size_t i = 0; i < c->ntables; i++) {
		struct mytable *t = &c->tables[i];

		if (t->pending == NULL)
			continue;
		out_write(&c->w->out, t->pending, t->pending_len);
		free(t->table);
		t->table = t->pending;
		t->table_len = t->pending_len;
		t->pending = NULL;
	}
	rec_begin(pk, c->gtid[0] ? c->gtid : NULL, pos, when, 0);
	if (!txn_write(c))
		return false;
	rec_commit(pk, pos, when, 0, c->changes);
	snprintf(c->written, sizeof(c->written), "%s", pos);
	txn_reset(c);
	c->changes = 0;
	c->transactions++;
	return !c->w->out.failed;
}

static void
begin(struct mycap *c)
{
	c->gtid[0] = '\0';
	c->in_txn = true;
	c->changes = 0;
	txn_reset(c);
}

/*
 * The next token of a statement at *p: a word, or an identifier in
 * backquotes (unquoted), or one character of punctuation; spaces and
 * comments are passed over. False at the end.
 */
static bool
sql_token(const char **p, const char *end, char *tok, size_t size)
{
	const char *q = *p;
	size_t n = 0;

	for (;;) {
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (end - q >= 2 && q[0] == '/' && q[1] == '*') {
			const char *close = q + 2;

			while (end - close >= 2 && !(close[0] == '*' && close[1] == '/'))
				close++;
			q = end - close >= 2 ? close + 2 : end;
		} else if ((q < end && *q == '#') || (end - q >= 3 && q[0] == '-' && q[1] == '-' && q[2] == ' ')) {
			while (q < end && *q != '\n')
				q++;
		} else {
			break;
		}
	}
	if (q >= end)
		return false;
	if (*q == '`') {
		for (q++; q < end; q++) {
			if (*q == '`' && (q + 1 >= end || q[1] != '`'))
				break;
			if (*q == '`')
				q++;
			if (n + 1 < size)
				tok[n++] = *q;
		}
		q++;
	} else if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' ||
		   *q == '$' || (unsigned char)*q >= 0x80) {
		while (q < end && ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
				   *q == '_' || *q == '$' || (unsigned char)*q >= 0x80)) {
			if (n + 1 < size)
				tok[n++] = *q;
			q++;
		}
	} else {
		tok[n++] = *q++;
	}
	tok[n] = '\0';
	*p = q;
	return true;
}

/* A table name at *p, [schema.]name, the schema defaulting to the statement's database. False: none. */
static bool
sql_table(const char **p, const char *end, const char *db, char *schema, char *name, size_t size)
{
	const char *q = *p;
	char dot[4];

	if (!sql_token(&q, end, name, size))
		return false;
	snprintf(schema, size, "%s", db);
	{
		const char *r = q;

		if (sql_token(&r, end, dot, sizeof(dot)) && strcmp(dot, ".") == 0) {
			snprintf(schema, size, "%s", name);
			if (!sql_token(&r, end, name, size))
				return false;
			q = r;
		}
	}
	*p = q;
	return true;
}

/* TRUNCATE of a captured table: a transaction of its own, its TRUNCATE record. */
static bool
truncated(struct mycap *c, struct mytable *t, int64_t when)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool ok;

	if ((!t->described || t->tid < 0 || t->table == NULL) && !describe(c, t, NULL, NULL, NULL))
		return false;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, K_TRUNCATE);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int64(&pk, t->tid);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str(&pk, 7);
	msgpack_pack_str_body(&pk, "cascade", 7);
	msgpack_pack_false(&pk);
	msgpack_pack_str(&pk, 16);
	msgpack_pack_str_body(&pk, "restart_identity", 16);
	msgpack_pack_false(&pk);
	ok = txn_add(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (!ok)
		return false;
	c->changes = 1;
	return commit(c, when);
}

/* DROP TABLE of a captured table: its TABLE record, dropped, between transactions. */
static void
dropped(struct mycap *c, struct mytable *t)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!t->described || t->tid < 0) {
		log_warn("%s.%s was dropped on the source before this capture described it: the target's table is left as it is",
			 t->schema, t->name);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	{
		/* no columns, as dms-stream(5) has a dropped table */
		struct dms_table gone = { .schema = t->t.d.schema, .name = t->t.d.name, .estimated_rows = 0 };

		rec_table_as(&pk, t->tid, &gone, &(const struct rec_table_how){ .dropped = true });
	}
	out_write(&c->w->out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	log_info("%s.%s dropped on the source", t->schema, t->name);
	/* created again: described anew, its TABLE record written again */
	src_table_free(&t->t);
	t->described = false;
	free(t->table);
	free(t->pending);
	free(t->mapcols);
	t->table = t->pending = NULL;
	t->mapcols = NULL;
}


/*
 * A captured table renamed schema.name: followed when this stream has
 * described it and the new name is selected and new to it. It keeps its
 * tid, and its TABLE record, written now, names it anew with renamed_from
 * (dms-load renames the target's table). Otherwise the capture stops,
 * saying what to do. The catalog is not read: a capture behind it would
 * describe a later table.
 */
static bool
renamed(struct mycap *c, size_t ti, const char *schema, const char *name, const char *pos)
{
	struct mytable *t = &c->tables[ti];
	const struct mytable *other = table_known(c, schema, name);
	const char *why = NULL;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (strcmp(schema, c->src.database) != 0 || !mapping_selects(c->mapping, schema, name))
		why = "its new name is not selected";
	else if ((other != NULL && other != t && (other->described || other->tid >= 0)) ||
		 (c->spool != NULL && spool_tid_known(c->spool, schema, name) >= 0))
		why = "its new name was another table's";
	else if (!t->described || t->tid < 0 || t->table == NULL)
		why = "this capture had not described it yet";
	if (why != NULL) {
		log_error("%s:%" PRIu64 ": %s.%s, a captured table, is renamed %s.%s, which is not followed (%s): rename the target's table alike, and go on with --start %s",
			  c->file, c->pos, t->schema, t->name, schema, name, why, pos);
		return false;
	}
	if (other != NULL && other != t) {
		/* met but never described (a DDL statement named it): its entry goes */
		size_t oi = (size_t)(other - c->tables);

		free(c->tables[oi].schema);
		free(c->tables[oi].name);
		free(c->tables[oi].mapcols);
		c->tables[oi] = c->tables[--c->ntables];
		if (ti == c->ntables)
			ti = oi;
		t = &c->tables[ti];
	}
	if (c->spool != NULL && spool_tid_as(c->spool, schema, name, t->tid) != t->tid)
		return false;
	if (t->from_name == NULL) {
		t->from_schema = t->schema;
		t->from_name = t->name;
	} else {
		free(t->schema);
		free(t->name);
	}
	t->schema = xstrdup(schema);
	t->name = xstrdup(name);
	free(t->t.d.schema);
	free(t->t.d.name);
	t->t.d.schema = xstrdup(schema);
	t->t.d.name = xstrdup(name);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rec_table_as(&pk, t->tid, &t->t.d, &(const struct rec_table_how){ .from_schema = t->from_schema,
									 .from_name = t->from_name });
	out_write(&c->w->out, sb.data, sb.size);
	free(t->table);
	t->table = xmalloc(sb.size);
	memcpy(t->table, sb.data, sb.size);
	t->table_len = sb.size;
	free(t->pending);
	t->pending = NULL;
	msgpack_sbuffer_destroy(&sb);
	log_info("%s.%s renamed %s.%s on the source", t->from_schema, t->from_name, schema, name);
	return true;
}

/*
 * A DDL statement between transactions, for what it does to captured tables
 * beyond their columns (which the next TABLE_MAP describes): TRUNCATE is a
 * TRUNCATE record, DROP TABLE a TABLE record that says so, and a captured
 * table renamed stops the capture (not followed in this version: the target
 * would go on under the old name while the source's rows go under the new).
 */
static bool
ddl(struct mycap *c, const MARIADB_RPL_EVENT *ev, const char *pos)
{
	const MARIADB_STRING *s = &ev->event.query.statement;
	const char *p = s->str, *end = s->str + s->length;
	char db[256], w[256], schema[256], name[256];
	struct mytable *t;

	snprintf(db, sizeof(db), "%.*s", (int)ev->event.query.database.length,
		 ev->event.query.database.str ? ev->event.query.database.str : "");
	if (!sql_token(&p, end, w, sizeof(w)))
		return true;
	if (strcasecmp(w, "TRUNCATE") == 0) {
		const char *q = p;

		if (sql_token(&q, end, w, sizeof(w)) && strcasecmp(w, "TABLE") == 0)
			p = q;
		if (!sql_table(&p, end, db, schema, name, sizeof(name)))
			return true;
		t = table_of(c, schema, name);
		return t->skip || truncated(c, t, ev->timestamp);
	}
	if (strcasecmp(w, "DROP") == 0) {
		if (!sql_token(&p, end, w, sizeof(w)) || strcasecmp(w, "TABLE") != 0)
			return true;	/* DROP TEMPORARY TABLE, DROP INDEX, ... */
		{
			const char *q = p;

			if (sql_token(&q, end, w, sizeof(w)) && strcasecmp(w, "IF") == 0 &&
			    sql_token(&q, end, w, sizeof(w)) && strcasecmp(w, "EXISTS") == 0)
				p = q;
		}
		while (sql_table(&p, end, db, schema, name, sizeof(name))) {
			t = table_of(c, schema, name);
			if (!t->skip)
				dropped(c, t);
			if (!sql_token(&p, end, w, sizeof(w)) || strcmp(w, ",") != 0)
				break;
		}
		return true;
	}
	if (strcasecmp(w, "RENAME") == 0) {
		/* RENAME TABLE a TO b, c TO d: a captured table on either side */
		if (!sql_token(&p, end, w, sizeof(w)) || strcasecmp(w, "TABLE") != 0)
			return true;	/* RENAME USER, ... */
		while (sql_table(&p, end, db, schema, name, sizeof(name))) {
			char to_schema[256], to_name[256];
			size_t ti;

			if (!sql_token(&p, end, w, sizeof(w)) || strcasecmp(w, "TO") != 0 ||
			    !sql_table(&p, end, db, to_schema, to_name, sizeof(to_name)))
				return true;
			t = table_of(c, schema, name);
			ti = (size_t)(t - c->tables);
			if (!t->skip && !renamed(c, ti, to_schema, to_name, pos))
				return false;
			/* an unselected table renamed to a selected name: a table this capture does not know */
			if (t->skip && strcmp(to_schema, c->src.database) == 0 &&
			    mapping_selects(c->mapping, to_schema, to_name) && table_known(c, to_schema, to_name) == NULL) {
				log_error("%s:%" PRIu64 ": %s.%s, not captured, is renamed %s.%s, which is: its rows are not on the target; load it (dms-full-load) and go on with --start %s",
					  c->file, c->pos, schema, name, to_schema, to_name, pos);
				return false;
			}
			if (!sql_token(&p, end, w, sizeof(w)) || strcmp(w, ",") != 0)
				return true;
		}
		return true;
	}
	if (strcasecmp(w, "ALTER") == 0) {
		/* ALTER [ONLINE] [IGNORE] TABLE a ..., RENAME [TO|AS] b */
		while (sql_token(&p, end, w, sizeof(w)) && strcasecmp(w, "TABLE") != 0)
			if (strcasecmp(w, "ONLINE") != 0 && strcasecmp(w, "IGNORE") != 0)
				return true;	/* ALTER USER, ALTER DATABASE, ... */
		if (!sql_table(&p, end, db, schema, name, sizeof(name)))
			return true;
		t = table_of(c, schema, name);
		if (t->skip)
			return true;
		while (sql_token(&p, end, w, sizeof(w))) {
			const char *q = p;
			char to_schema[256], to_name[256];

			if (strcasecmp(w, "RENAME") != 0 || !sql_token(&q, end, w, sizeof(w)) ||
			    strcasecmp(w, "COLUMN") == 0 || strcasecmp(w, "INDEX") == 0 || strcasecmp(w, "KEY") == 0)
				continue;
			/* RENAME [TO | AS] name */
			if (strcasecmp(w, "TO") != 0 && strcasecmp(w, "AS") != 0)
				q = p;
			if (!sql_table(&q, end, db, to_schema, to_name, sizeof(to_name)))
				return true;
			t = table_of(c, schema, name);
			return renamed(c, (size_t)(t - c->tables), to_schema, to_name, pos);
		}
	}
	return true;
}

/* A QUERY event: BEGIN, COMMIT, or a statement (DDL) after which the tables are described again. */
static bool
query(struct mycap *c, const MARIADB_RPL_EVENT *ev)
{
	const MARIADB_STRING *s = &ev->event.query.statement;

	if (s->length == 5 && strncasecmp(s->str, "BEGIN", 5) == 0) {
		begin(c);
		return true;
	}
	if (s->length == 6 && strncasecmp(s->str, "COMMIT", 6) == 0)
		return commit(c, ev->timestamp);
	/* DDL (or a statement-logged change, which ROW format does not write for tables) */
	for (size_t i = 0; i < c->ntables; i++)
		c->tables[i].stale = true;
	if (!c->in_txn) {
		char pos[300];

		position_now(c, pos, sizeof(pos));
		if (past_stop(c, pos, ev->timestamp)) {
			c->stop = true;
			return true;
		}
		if (!ddl(c, ev, pos))
			return false;
		snprintf(c->emitted, sizeof(c->emitted), "%s", pos);
	}
	return true;
}

/*
 * A replica's server id of its own: the source kills the binary log session
 * of another replica with the same id. Taken from the host name and the
 * process, out of the range servers are given by hand, and moved on past
 * the source's own id and every id of SHOW SLAVE HOSTS, where each capture
 * registers itself (report host "dms-capture"). 0: the source cannot be
 * asked (logged).
 */
static unsigned int
server_id_of_our_own(struct mycap *c)
{
	char host[256] = "";
	uint32_t h = 2166136261u;
	unsigned int id, own;
	char *v = my_value(c, "SELECT @@server_id");
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned int *taken = NULL;
	size_t ntaken = 0;

	if (v == NULL)
		return 0;
	own = (unsigned)strtoul(v, NULL, 10);
	free(v);
	/* SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN (MariaDB 10.5): without it, the id is not checked */
	if (mysql_query(((struct my_conn *)c->src.conn)->conn, "SHOW SLAVE HOSTS") != 0 ||
	    (res = mysql_store_result(((struct my_conn *)c->src.conn)->conn)) == NULL) {
		if (!c->hosts_warned)
			log_warn("SHOW SLAVE HOSTS: %s: the replica server id is not checked against other replicas'",
				 mysql_error(((struct my_conn *)c->src.conn)->conn));
		c->hosts_warned = true;
	} else {
		while ((row = mysql_fetch_row(res)) != NULL)
			if (row[0] != NULL) {
				taken = xrealloc(taken, (ntaken + 1) * sizeof(*taken));
				taken[ntaken++] = (unsigned)strtoul(row[0], NULL, 10);
			}
		mysql_free_result(res);
	}
	gethostname(host, sizeof(host) - 1);
	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	id = 0x40000000u | ((h ^ (unsigned)getpid()) & 0x3fffffffu);
	for (bool moved = true; moved;) {
		moved = id == own;
		for (size_t i = 0; i < ntaken && !moved; i++)
			moved = taken[i] == id;
		if (moved)
			id = 0x40000000u | ((id + 1) & 0x3fffffffu);
	}
	free(taken);
	return id;
}

/* Whether text is a MariaDB GTID position: domain-server-sequence, comma-separated for several domains. */
static bool
is_gtid(const char *text)
{
	const char *p = text;

	for (;;) {
		for (int part = 0; part < 3; part++) {
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
			if (part < 2 && *p++ != '-')
				return false;
		}
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

/*
 * A MariaDB GTID position as the file:offset where the transactions after it
 * begin, as the server finds it: a replication session from the GTID
 * (@slave_connect_state), read up to its first transaction (or its first
 * heartbeat, when none has come since). False: logged.
 */
static bool
gtid_position(struct mycap *c, const char *gtid, char *file, size_t size, uint64_t *pos)
{
	struct my_conn conn;
	MARIADB_RPL *rpl = NULL;
	MARIADB_RPL_EVENT *ev = NULL;
	struct strbuf sql = STRBUF_INIT;
	bool found = false;

	if (!my_connect_timeout(&conn, c->o->uri, 30))
		return false;
	sb_addf(&sql, "SET @master_binlog_checksum = @@global.binlog_checksum, "
		"@mariadb_slave_capability = 4, @master_heartbeat_period = 1000000000, "
		"@slave_connect_state = '%s'", gtid);
	file[0] = '\0';
	if (my_command(&conn, sql.buf) && (rpl = mariadb_rpl_init(conn.conn)) != NULL) {
		unsigned int server_id = server_id_of_our_own(c);

		mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)4);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, server_id);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, (uint32_t)0);
		if (mariadb_rpl_open(rpl) == 0)
			while (!found && (ev = mariadb_rpl_fetch(rpl, ev)) != NULL) {
				if (ev->event_type == ROTATE_EVENT) {
					snprintf(file, size, "%.*s", (int)ev->event.rotate.filename.length,
						 ev->event.rotate.filename.str);
				} else if (ev->event_type == GTID_EVENT && file[0] && ev->next_event_pos >= ev->event_length) {
					*pos = ev->next_event_pos - ev->event_length;
					found = true;
				} else if (ev->event_type == HEARTBEAT_LOG_EVENT && ev->next_event_pos != 0) {
					snprintf(file, size, "%.*s", (int)ev->event.heartbeat.filename.length,
						 ev->event.heartbeat.filename.str);
					*pos = ev->next_event_pos;
					found = true;
				}
			}
	}
	if (!found)
		log_error("%s: cannot find GTID %s in the binary log: %s (error %u)", conn.label, gtid,
			  mysql_error(conn.conn), mysql_errno(conn.conn));
	else
		log_info("GTID %s: the transactions after it begin at %s:%" PRIu64, gtid, file, *pos);
	if (ev != NULL)
		mariadb_free_rpl_event(ev);
	if (rpl != NULL)
		mariadb_rpl_close(rpl);
	my_disconnect(&conn);
	sb_release(&sql);
	return found;
}

/* The start position: given (--start), the ack file's, or the server's current one. */
static bool
start_position(struct mycap *c, const char *given, char *file, size_t size, uint64_t *pos, bool *gtid_failed)
{
	char buf[300] = "";
	size_t baselen;
	uint64_t fileno, off;

	if (given == NULL && c->o->ack_file != NULL && !c->o->export) {
		FILE *f = fopen(c->o->ack_file, "r");

		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				buf[strcspn(buf, "\n")] = '\0';
			fclose(f);
		}
		if (buf[0])
			given = buf;
	}
	if (given != NULL && is_gtid(given)) {
		if (!gtid_position(c, given, file, size, pos)) {
			*gtid_failed = true;
			return false;
		}
		return true;
	}
	if (given != NULL) {
		const char *colon = strrchr(given, ':');

		if (!binlog_parse(given, &baselen, &fileno, &off) || colon == NULL ||
		    (size_t)(colon - given) >= size) {
			log_usage_error("%s: expected a binary log position, file:offset (binlog.000001:1234), or a MariaDB GTID (0-1-42)", given);
			return false;
		}
		snprintf(file, size, "%.*s", (int)(colon - given), given);
		*pos = off;
		return true;
	}
	{
		MYSQL_RES *res = my_query(c->src.conn, "SHOW MASTER STATUS");
		MYSQL_ROW row;
		bool ok = false;

		if (res == NULL)
			return false;
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL && row[1] != NULL) {
			snprintf(file, size, "%s", row[0]);
			*pos = strtoull(row[1], NULL, 10);
			ok = true;
		}
		mysql_free_result(res);
		if (!ok)
			log_error("SHOW MASTER STATUS gives no position: is binary logging on (--log-bin)?");
		return ok;
	}
}

/* The replication session, from file:pos: the checksum, GTID events, a heartbeat every second. */
static bool
open_binlog(struct mycap *c)
{
	unsigned int server_id;
	uint32_t flags = 0;	/* blocking: heartbeats while idle */
	unsigned long start = (unsigned long)c->pos;

	/* heartbeats come every second: 30 s of silence is a connection lost */
	if (!my_connect_timeout(&c->repl, c->o->uri, 30))
		return false;
	if (!my_command(&c->repl, "SET @master_binlog_checksum = @@global.binlog_checksum, "
				  "@mariadb_slave_capability = 4, @master_heartbeat_period = 1000000000"))
		return false;
	if ((server_id = server_id_of_our_own(c)) == 0)
		return false;
	c->rpl = mariadb_rpl_init(c->repl.conn);
	if (c->rpl == NULL) {
		log_error("%s: cannot start a replication session", c->repl.label);
		return false;
	}
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FILENAME, c->file, strlen(c->file));
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_START, start);
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_SERVER_ID, server_id);
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_HOST, "dms-capture");
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FLAGS, flags);
	mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_UNCOMPRESS, (uint32_t)1);
	if (mariadb_rpl_open(c->rpl) != 0) {
		log_error("%s: cannot read the binary log from %s:%" PRIu64 ": %s", c->repl.label, c->file, c->pos,
			  mysql_error(c->repl.conn));
		return false;
	}
	return true;
}

/*
 * One event of the log, or of a TRANSACTION_PAYLOAD: its part of the
 * transaction in hand, or the transaction's end. An exit status.
 */
static int
event(struct mycap *c, MARIADB_RPL_EVENT *ev)
{
	int status = EXIT_OK;

	switch (ev->event_type) {
	case GTID_EVENT:
		begin(c);
		snprintf(c->gtid, sizeof(c->gtid), "%u-%u-%" PRIu64, ev->event.gtid.domain_id, ev->server_id,
			 ev->event.gtid.sequence_nr);
		if (ev->event.gtid.flags & FL_STANDALONE)
			c->in_txn = false;	/* DDL: no XID follows */
		break;
	case QUERY_EVENT:
		if (!query(c, ev))
			status = EXIT_SOURCE;
		break;
	case TABLE_MAP_EVENT:
		if (!table_map(c, &ev->event.table_map))
			status = EXIT_SOURCE;
		break;
	case WRITE_ROWS_EVENT_V1: case UPDATE_ROWS_EVENT_V1: case DELETE_ROWS_EVENT_V1:
	case WRITE_ROWS_EVENT: case UPDATE_ROWS_EVENT: case DELETE_ROWS_EVENT: case PARTIAL_UPDATE_ROWS_EVENT:
	case WRITE_ROWS_COMPRESSED_EVENT_V1: case UPDATE_ROWS_COMPRESSED_EVENT_V1:
	case DELETE_ROWS_COMPRESSED_EVENT_V1: case WRITE_ROWS_COMPRESSED_EVENT:
	case UPDATE_ROWS_COMPRESSED_EVENT: case DELETE_ROWS_COMPRESSED_EVENT:
		if (!c->in_txn)
			begin(c);	/* a statement of a non-transactional table, without BEGIN */
		if (!rows(c, ev))
			status = EXIT_SOURCE;
		else if ((ev->event.rows.flags & STMT_END_F) && !c->in_txn)
			status = commit(c, ev->timestamp) ? EXIT_OK : EXIT_OUTPUT;
		break;
	case XID_EVENT:
		if (!commit(c, ev->timestamp))
			status = EXIT_OUTPUT;
		break;
	case XA_PREPARE_LOG_EVENT:
		log_error("%s:%" PRIu64 ": an XA transaction (XA PREPARE), which this version does not capture",
			  c->file, c->pos);
		status = EXIT_SOURCE;
		break;
	case HEARTBEAT_LOG_EVENT:
		/* idle: every transaction up to here is passed, the target's position moves on */
		log_debug("heartbeat at %s:%" PRIu64, c->file, c->pos);
		if (!c->in_txn) {
			checkpoint(c);
			if (!out_flush(&c->w->out) || !spool_sync(c, true))
				status = EXIT_OUTPUT;
		}
		break;
	default:
		break;
	}
	return status;
}

/*
 * A TRANSACTION_PAYLOAD (MySQL 8, binlog_transaction_compression=ON): a
 * transaction's events compressed into one event, each inner event then
 * handled as if it came alone. The transaction ends at the end of the
 * payload event, the position already read. body: after the header,
 * without the checksum.
 */
static int
payload(struct mycap *c, const uint8_t *body, size_t len)
{
	MARIADB_RPL_EVENT in;
	struct mypayload pl;
	const uint8_t *p;
	char err[256];
	int r, status = EXIT_OK;

	if (!mypayload_open(&pl, body, len, err, sizeof(err))) {
		log_error("%s:%" PRIu64 ": %s", c->file, c->pos, err);
		return EXIT_SOURCE;
	}
	while (status == EXIT_OK && (r = mypayload_next(&pl, &p, &len, err, sizeof(err))) != 0) {
		if (r < 0 || !myevent_parse(p, len, &in, err, sizeof(err))) {
			log_error("%s:%" PRIu64 ": %s", c->file, c->pos, err);
			status = EXIT_SOURCE;
			break;
		}
		in.next_event_pos = 0;	/* the position is the payload event's */
		status = event(c, &in);
	}
	mypayload_close(&pl);
	return status;
}

/*
 * An event the library refused as unknown (CR_UNKNOWN_BINLOG_EVENT: MySQL
 * 8's TRANSACTION_PAYLOAD and HEARTBEAT_V2, past its enum, and
 * PARTIAL_UPDATE_ROWS, which it does not parse). Its bytes are
 * still the connection's last packet (net.read_pos: the OK byte, then the
 * event); they are taken from there only when they are that event whole:
 * within the packet buffer, its checksum right. An exit status.
 */
static int
refused_event(struct mycap *c)
{
	const NET *net = &c->repl.conn->net;
	const uint8_t *p = net->read_pos;
	MARIADB_RPL_EVENT ev;
	uint64_t len;
	char err[256];

	if (p == NULL || p < net->buff || net->buff_end - p < 1 + MYEVENT_HEADER || p[0] != 0 ||
	    (len = myevent_le(p + 1 + 9, 4)) < MYEVENT_HEADER + (c->crc ? 4 : 0) ||
	    (uint64_t)(net->buff_end - p - 1) < len ||
	    (c->crc && myevent_crc32(p + 1, len - 4) != (uint32_t)myevent_le(p + 1 + len - 4, 4))) {
		log_error("%s: after %s:%" PRIu64 ": %s (error %u), and the event's bytes are not at hand to read it ourselves",
			  c->repl.label, c->file, c->pos, mysql_error(c->repl.conn), mysql_errno(c->repl.conn));
		return EXIT_SOURCE;
	}
	p++;
	if (c->crc)
		len -= 4;
	log_debug("%s:%" PRIu64 ": an event of type %u, refused by the library, read by our own parser", c->file, c->pos,
		  p[4]);
	if (!myevent_parse(p, len, &ev, err, sizeof(err))) {
		log_error("%s:%" PRIu64 ": %s", c->file, c->pos, err);
		return EXIT_SOURCE;
	}
	if (ev.next_event_pos != 0 && !(ev.flags & LOG_EVENT_ARTIFICIAL_F))
		c->pos = ev.next_event_pos;
	switch ((int)ev.event_type) {
	case MY_TRANSACTION_PAYLOAD:
		return payload(c, p + MYEVENT_HEADER, len - MYEVENT_HEADER);
	case MY_HEARTBEAT_V2:
		ev.event_type = HEARTBEAT_LOG_EVENT;
		return event(c, &ev);
	case PARTIAL_UPDATE_ROWS_EVENT:
		return event(c, &ev);
	default:
		log_error("%s:%" PRIu64 ": an event of type %d, which this version does not read", c->file, c->pos,
			  (int)ev.event_type);
		return EXIT_SOURCE;
	}
}

/*
 * The bytes of an event as the library received it (header and body), its
 * length without the checksum: what our own parser reads.
 */
static const uint8_t *
event_bytes(const struct mycap *c, const MARIADB_RPL_EVENT *ev, size_t *len)
{
	*len = ev->raw_data_size - ev->raw_data_ofs;
	if (*len > ev->event_length)
		*len = ev->event_length;
	if (c->crc)
		*len = *len >= 4 ? *len - 4 : 0;
	return ev->raw_data + ev->raw_data_ofs;
}

/*
 * PARTIAL_UPDATE_ROWS (MySQL 8), which the library carries without the
 * second bitmap of an update: parsed from its bytes by our own parser. An
 * exit status.
 */
static int
partial_update(struct mycap *c, const MARIADB_RPL_EVENT *ev)
{
	size_t len;
	const uint8_t *p = event_bytes(c, ev, &len);
	MARIADB_RPL_EVENT in;
	char err[256];

	log_debug("%s:%" PRIu64 ": PARTIAL_UPDATE_ROWS, read by our own parser", c->file, c->pos);
	if (!myevent_parse(p, len, &in, err, sizeof(err))) {
		log_error("%s:%" PRIu64 ": %s", c->file, c->pos, err);
		return EXIT_SOURCE;
	}
	return event(c, &in);
}

/*
 * A ROTATE: the next file, and the position in it, read from the event's
 * bytes: Connector/C 3.3 skips the post-header before reading the position
 * from it once a FORMAT_DESCRIPTION has given its length, and so gives a
 * wrong position and a file name cut to its last characters (seen: every
 * position after FLUSH BINARY LOGS read "0:N"). False: malformed (logged).
 */
static bool
rotate(struct mycap *c, const MARIADB_RPL_EVENT *ev)
{
	size_t len, name;
	const uint8_t *p = event_bytes(c, ev, &len);

	if (len <= MYEVENT_HEADER + 8 || (name = len - MYEVENT_HEADER - 8) >= sizeof(c->file)) {
		log_error("%s:%" PRIu64 ": a malformed ROTATE event", c->file, c->pos);
		return false;
	}
	snprintf(c->file, sizeof(c->file), "%.*s", (int)name, (const char *)p + MYEVENT_HEADER + 8);
	c->pos = myevent_le(p + MYEVENT_HEADER, 8);
	log_debug("rotate to %s:%" PRIu64, c->file, c->pos);
	return true;
}

/* Reads events until the stop point, a signal or an error: an exit status. */
static int
follow(struct mycap *c, bool *lost)
{
	MARIADB_RPL_EVENT *ev = NULL;
	int status = EXIT_OK;

	*lost = false;

	while (!c->stop) {
		if ((sig_drain || sig_stop) && !c->in_txn)
			break;
		ev = mariadb_rpl_fetch(c->rpl, ev);
		if (ev == NULL && mysql_errno(c->repl.conn) == CR_UNKNOWN_BINLOG_EVENT) {
			status = refused_event(c);
		} else if (ev == NULL) {
			if ((sig_drain || sig_stop) && !c->in_txn)
				break;
			if (sig_drain || sig_stop) {
				log_warn("stopped by a signal inside a transaction: it is left for the next run");
				break;
			}
			/* the server cannot send from here (ER_MASTER_FATAL_ERROR_READING_BINLOG): no retry helps */
			if (mysql_errno(c->repl.conn) == 1236) {
				log_error("%s: the binary log cannot be read from %s:%" PRIu64 ": %s (purged? SHOW BINARY LOGS lists what the server has)",
					  c->repl.label, c->file, c->pos, mysql_error(c->repl.conn));
				status = EXIT_SOURCE;
				break;
			}
			log_warn("%s: reading the binary log after %s:%" PRIu64 ": %s (error %u)", c->repl.label, c->file,
				 c->pos, mysql_error(c->repl.conn), mysql_errno(c->repl.conn));
			*lost = true;
			status = EXIT_SOURCE;
			break;
		} else if (ev->event_type == ROTATE_EVENT) {
			if (!rotate(c, ev))
				status = EXIT_SOURCE;
		} else {
			if (ev->next_event_pos != 0 && !(ev->flags & LOG_EVENT_ARTIFICIAL_F))
				c->pos = ev->next_event_pos;
			status = ev->event_type == PARTIAL_UPDATE_ROWS_EVENT ? partial_update(c, ev) : event(c, ev);
		}
		if (status != EXIT_OK)
			break;
		if (!c->in_txn && (!out_flush(&c->w->out) || !spool_sync(c, false))) {
			status = EXIT_OUTPUT;
			break;
		}
		if (!c->in_txn && at_stop(c))
			c->stop = true;
	}
	if (ev != NULL)
		mariadb_free_rpl_event(ev);
	return status;
}

/*
 * --export-snapshot: a MySQL source has no snapshot to share with a load
 * (each of a full load's connections takes its own); the position printed,
 * "- POSITION", comes before every snapshot the load then takes, so that
 * capturing from it and applying so as to converge (dms-load --converge)
 * misses nothing. Held until stdin ends, as for PostgreSQL.
 */
static int
export_position(struct mycap *c)
{
	char buf[256];

	printf("- %s:%" PRIu64 "\n", c->file, c->pos);
	if (fflush(stdout) != 0)
		return EXIT_OUTPUT;
	while (fgets(buf, sizeof(buf), stdin) != NULL)
		;
	return EXIT_OK;
}

/* -o DIR: the spool, from the later of its position and the start. */
static int
open_spool(struct mycap *c, struct spool_writer *s)
{
	msgpack_sbuffer hb;
	msgpack_packer pk;
	const char *have;
	char start[300];
	int st, cmp;

	msgpack_sbuffer_init(&hb);
	msgpack_packer_init(&pk, &hb, msgpack_sbuffer_write);
	rec_hello(&pk, &(const struct hello_attrs){ .engine = "mysql", .stream = "changes",
						     .tool = "dms-capture " DMS_VERSION, .server = c->src.server,
						     .database = c->src.database });
	st = spool_open(s, c->o->spool, (const uint8_t *)hb.data, hb.size, c->src.server, c->src.database,
			c->o->segment_size);
	msgpack_sbuffer_destroy(&hb);
	if (st != EXIT_OK)
		return st;
	position_now(c, start, sizeof(start));
	have = spool_position(s);
	if (have != NULL) {
		const char *colon = strrchr(have, ':');

		if (!position_compare(have, start, &cmp) || colon == NULL || (size_t)(colon - have) >= sizeof(c->file)) {
			log_error("%s: position %s is not a binary log position of %s", c->o->spool, have, start);
			return EXIT_USAGE;
		}
		if (cmp > 0) {
			snprintf(c->file, sizeof(c->file), "%.*s", (int)(colon - have), have);
			c->pos = strtoull(colon + 1, NULL, 10);
			position_now(c, start, sizeof(start));
		}
	}
	if (!spool_segment(s, start))
		return EXIT_OUTPUT;
	c->spool = s;
	c->w = &s->w;
	c->last_durable = mono_ms();
	log_info("spool %s: segment %u begins after %s", c->o->spool, s->st.segment, start);
	return EXIT_OK;
}

/*
 * The replication connection lost (or silent past its read timeout): again
 * from the end of the last transaction passed, the one in hand dropped, with
 * back-off, for --retry-time. False: given up (logged).
 */
static bool
reconnect(struct mycap *c)
{
	int64_t began = mono_ms();

	for (int tries = 0;; tries++) {
		int64_t waited = mono_ms() - began, delay = (int64_t)1000 << (tries < 5 ? tries : 5);
		const char *colon = strrchr(c->emitted, ':');
		struct timespec pause;

		if (waited >= c->o->retry_ms) {
			log_error("the source is unreachable: gave up after %lld s (--retry-time) at %s; a rerun resumes there",
				  (long long)(waited / 1000), c->emitted);
			return false;
		}
		if (delay > c->o->retry_ms - waited)
			delay = c->o->retry_ms - waited;
		log_warn("connection lost at %s: connecting again in %.1f s", c->emitted, (double)delay / 1000);
		if (c->rpl != NULL)
			mariadb_rpl_close(c->rpl);
		c->rpl = NULL;
		if (c->repl.conn != NULL)
			my_disconnect(&c->repl);
		memset(&c->repl, 0, sizeof(c->repl));
		pause.tv_sec = delay / 1000;
		pause.tv_nsec = (delay % 1000) * 1000000;
		nanosleep(&pause, NULL);
		if (sig_drain || sig_stop)
			return false;
		/* the transaction in hand comes again whole */
		c->in_txn = false;
		c->changes = 0;
		txn_reset(c);
		maps_clear(c);
		if (colon != NULL && (size_t)(colon - c->emitted) < sizeof(c->file)) {
			snprintf(c->file, sizeof(c->file), "%.*s", (int)(colon - c->emitted), c->emitted);
			c->pos = strtoull(colon + 1, NULL, 10);
		}
		/* the catalog's connection went with the server too, when it restarted */
		{
			struct my_conn *cat = c->src.conn;

			if (mysql_ping(cat->conn) != 0) {
				my_disconnect(cat);
				if (!my_connect(cat, c->o->uri))
					continue;
			}
		}
		if (open_binlog(c))
			return true;
	}
}

int
mysql_run(const struct options *o)
{
	struct mycap c = { .o = o };
	struct mapping mapping = { 0 };
	struct spool_writer spool = { 0 };
	int status = EXIT_SOURCE;
	char start[300];
	bool gtid_failed = false;

	if (o->slot || o->publication || (o->ack_file && o->spool)) {
		log_usage_error("a MySQL or MariaDB source has no slot or publication; -o goes without --ack-file");
		return EXIT_USAGE;
	}
	if (o->drop) {
		log_info("a MySQL or MariaDB source keeps no slot: nothing to drop");
		return EXIT_OK;
	}
	if (o->stop_at != NULL) {
		if (strncmp(o->stop_at, "commit_time:", 12) == 0) {
			struct tm tm = { 0 };
			const char *e = strptime(o->stop_at + 12, "%Y-%m-%dT%H:%M:%S", &tm);

			if (e == NULL || *e != '\0') {
				log_usage_error("--stop-at %s: expected commit_time:YYYY-MM-DDTHH:MM:SS", o->stop_at);
				return EXIT_USAGE;
			}
			c.stop_time = (int64_t)timegm(&tm);
		} else {
			size_t bl;
			uint64_t fn, off;

			if (!binlog_parse(o->stop_at, &bl, &fn, &off)) {
				log_usage_error("--stop-at %s: expected a binary log position, file:offset", o->stop_at);
				return EXIT_USAGE;
			}
			snprintf(c.stop_at, sizeof(c.stop_at), "%s", o->stop_at);
		}
	}
	if (o->mappings != NULL && !mapping_load(o->mappings, &mapping))
		return EXIT_USAGE;
	/* without a mapping every table of the database is captured */
	c.mapping = o->mappings ? &mapping : NULL;
	c.src.mapping = c.mapping;
	c.src.engine = ENGINE_MYSQL;
	c.w = &c.out;
	msgpack_sbuffer_init(&c.rec);
	msgpack_packer_init(&c.pk, &c.rec, msgpack_sbuffer_write);
	if (!my_source_ops.connect(&c.src, o->uri) || !my_source_ops.identity(&c.src) || !preflight(&c))
		goto out;
	if (!start_position(&c, o->export ? NULL : o->start, c.file, sizeof(c.file), &c.pos, &gtid_failed)) {
		status = o->start != NULL && !gtid_failed ? EXIT_USAGE : EXIT_SOURCE;
		goto out;
	}
	if (o->export) {
		status = export_position(&c);
		goto out;
	}
	if (o->spool != NULL) {
		status = open_spool(&c, &spool);
		if (status != EXIT_OK)
			goto out;
		status = EXIT_SOURCE;
	} else if (!writer_init(&c.out, STDOUT_FILENO, "stdout", false)) {
		status = EXIT_OUTPUT;
		goto out;
	}
	position_now(&c, start, sizeof(start));
	snprintf(c.emitted, sizeof(c.emitted), "%s", start);
	snprintf(c.written, sizeof(c.written), "%s", start);
	if (c.spool == NULL)
		rec_hello(&c.w->pk, &(const struct hello_attrs){ .engine = "mysql", .stream = "changes",
								  .tool = "dms-capture " DMS_VERSION, .server = c.src.server,
								  .database = c.src.database, .position = start });
	if (!open_binlog(&c))
		goto out;
	log_info("reading the binary log from %s", start);
	for (;;) {
		bool lost;

		status = follow(&c, &lost);
		if (!lost || sig_drain || sig_stop || !reconnect(&c))
			break;
	}
	if (status == EXIT_OK)
		checkpoint(&c);
	if (c.spool != NULL && status != EXIT_OUTPUT) {
		/* what was written is whole transactions: it is kept */
		if (!out_flush(&c.w->out) || !spool_durable(c.spool, c.written, status == EXIT_OK && c.stop))
			status = EXIT_OUTPUT;
	} else if (status == EXIT_OK) {
		rec_end(&c.w->pk, NULL, NULL, !c.stop);
		if (!out_finish(&c.w->out))
			status = EXIT_OUTPUT;
	}
	if (status != EXIT_OUTPUT)
		log_msg(status == EXIT_OK ? LOG_INFO : LOG_ERROR, "%" PRIu64 " transactions written, up to %s%s",
			c.transactions, c.emitted, status == EXIT_OK ? "" : "; a rerun resumes there");
out:
	if (spool.dir != NULL)
		spool_close(&spool);
	if (c.rpl != NULL)
		mariadb_rpl_close(c.rpl);
	if (c.repl.conn != NULL)
		my_disconnect(&c.repl);
	if (c.src.conn != NULL)
		my_source_ops.disconnect(&c.src);
	maps_clear(&c);
	free(c.maps);
	free(c.pjson);
	free(c.pdiff);
	free(c.ppartial);
	for (size_t i = 0; i < c.ntables; i++) {
		free(c.tables[i].schema);
		free(c.tables[i].name);
		if (c.tables[i].described)
			src_table_free(&c.tables[i].t);
		free(c.tables[i].table);
		free(c.tables[i].pending);
		free(c.tables[i].mapcols);
		free(c.tables[i].from_schema);
		free(c.tables[i].from_name);
	}
	free(c.tables);
	txn_reset(&c);
	sb_release(&c.txn);
	sb_release(&c.scratch);
	msgpack_sbuffer_destroy(&c.rec);
	mapping_free(&mapping);
	return status;
}
