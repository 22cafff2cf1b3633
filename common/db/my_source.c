/*
 * common/db/my_source.c: the source catalog and reader of a MySQL or MariaDB database: information_schema for the
 * tables, columns, keys, indexes and foreign keys; rows with mysql_use_result,
 * one at a time, in a consistent-snapshot transaction whose binary log
 * position is recorded (MariaDB: binlog_snapshot_file/position, lock-free;
 * MySQL: under a brief FLUSH TABLES WITH READ LOCK).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "convert.h"
#include "../my.h"
#include "../records.h"
#include "../dms.h"

#define MY(s) ((struct my_conn *)(s)->conn)

static bool
my_src_connect(struct source *s, const char *uri)
{
	s->conn = xcalloc(1, sizeof(struct my_conn));
	if (!my_connect(MY(s), uri))
		return false;
	if (MY(s)->dbname == NULL) {
		log_error("%s: the URI names no database (mysql://host/database)", MY(s)->label);
		return false;
	}
	return true;
}

static char *
first_value(struct my_conn *c, const char *sql, int col)
{
	MYSQL_RES *res = my_query(c, sql);
	MYSQL_ROW row;
	char *v = NULL;

	if (res == NULL)
		return NULL;
	if ((row = mysql_fetch_row(res)) != NULL && row[col] != NULL)
		v = xstrdup(row[col]);
	mysql_free_result(res);
	return v;
}

static bool
my_src_begin(struct source *s, const char *snapshot)
{
	struct my_conn *c = MY(s);

	if (snapshot != NULL) {
		log_error("--snapshot is for PostgreSQL sources");
		return false;
	}
	if (!my_command(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
		return false;
	if (c->mariadb) {
		char *file, *pos;

		if (!my_command(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"))
			return false;
		file = first_value(c, "SHOW STATUS LIKE 'binlog_snapshot_file'", 1);
		pos = first_value(c, "SHOW STATUS LIKE 'binlog_snapshot_position'", 1);
		if (file && pos && *file) {
			struct strbuf sb = STRBUF_INIT;

			sb_addf(&sb, "%s:%s", file, pos);
			s->position = sb.buf;
		}
		free(file);
		free(pos);
		return true;
	}
	/* MySQL: the snapshot and the position under one brief global read lock */
	if (!my_command(c, "FLUSH TABLES WITH READ LOCK"))
		return false;
	if (!my_command(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"))
		return false;
	{
		MYSQL_RES *res = my_query(c, "SHOW MASTER STATUS");
		MYSQL_ROW row;

		if (res != NULL && (row = mysql_fetch_row(res)) != NULL && row[0] && row[1]) {
			struct strbuf sb = STRBUF_INIT;

			sb_addf(&sb, "%s:%s", row[0], row[1]);
			s->position = sb.buf;
		}
		if (res)
			mysql_free_result(res);
	}
	return my_command(c, "UNLOCK TABLES");
}

static char *
my_src_quote_literal(struct source *s, const char *value)
{
	size_t n = strlen(value);
	char *buf = xmalloc(2 * n + 3);

	buf[0] = '\'';
	n = mysql_real_escape_string(MY(s)->conn, buf + 1, value, (unsigned long)n);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
	return buf;
}

static bool
my_src_list(struct source *s, struct src_name **names, int *n)
{
	struct strbuf sql = STRBUF_INIT;
	char *db = my_src_quote_literal(s, MY(s)->dbname);
	MYSQL_RES *res;
	MYSQL_ROW row;

	sb_addf(&sql, "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0) "
		      "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
		      "AND TABLE_TYPE = 'BASE TABLE'", db);
	free(db);
	if (s->only_name != NULL) {
		char *name = my_src_quote_literal(s, s->only_name);

		/* a MySQL source's "schema" is its database: only the name narrows */
		sb_addf(&sql, " AND TABLE_NAME = %s", name);
		free(name);
	}
	sb_adds(&sql, " ORDER BY TABLE_NAME");
	res = my_query(MY(s), sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	*n = 0;
	*names = xcalloc(mysql_num_rows(res) + 1, sizeof(**names));
	while ((row = mysql_fetch_row(res)) != NULL) {
		(*names)[*n].schema = xstrdup(row[0]);
		(*names)[*n].name = xstrdup(row[1]);
		(*names)[*n].estimated_rows = strtoll(row[2], NULL, 10);
		(*n)++;
	}
	mysql_free_result(res);
	return true;
}

static void
my_type(struct dms_column *c, enum conv *conv, const char *data_type, const char *column_type, const char *charlen,
	const char *prec, const char *scale, const char *dtprec, bool json)
{
	bool is_unsigned = strstr(column_type, "unsigned") != NULL;

	*conv = CONV_TEXT;
	c->type = DT_STRING;
	c->is_unsigned = is_unsigned;
	if (strcmp(data_type, "tinyint") == 0) {
		c->type = is_unsigned ? DT_UINT1 : DT_INT1;
		*conv = is_unsigned ? CONV_UINT : CONV_INT;
	} else if (strcmp(data_type, "smallint") == 0 || strcmp(data_type, "year") == 0) {
		c->type = is_unsigned ? DT_UINT2 : DT_INT2;
		*conv = is_unsigned ? CONV_UINT : CONV_INT;
	} else if (strcmp(data_type, "mediumint") == 0 || strcmp(data_type, "int") == 0) {
		c->type = is_unsigned ? DT_UINT4 : DT_INT4;
		*conv = is_unsigned ? CONV_UINT : CONV_INT;
	} else if (strcmp(data_type, "bigint") == 0) {
		c->type = is_unsigned ? DT_UINT8 : DT_INT8;
		*conv = is_unsigned ? CONV_UINT : CONV_INT;
	} else if (strcmp(data_type, "bit") == 0) {
		c->type = DT_UINT8;
		*conv = CONV_UINT;
	} else if (strcmp(data_type, "decimal") == 0) {
		c->type = DT_NUMERIC;
		c->precision = prec ? atoi(prec) : -1;
		c->scale = scale ? atoi(scale) : -1;
	} else if (strcmp(data_type, "float") == 0) {
		c->type = DT_REAL4;
		*conv = CONV_FLOAT4;
	} else if (strcmp(data_type, "double") == 0) {
		c->type = DT_REAL8;
		*conv = CONV_FLOAT8;
	} else if (strcmp(data_type, "char") == 0 || strcmp(data_type, "varchar") == 0) {
		c->type = DT_STRING;
		c->length = charlen ? strtoll(charlen, NULL, 10) : -1;
	} else if (strcmp(data_type, "binary") == 0 || strcmp(data_type, "varbinary") == 0) {
		c->type = DT_BYTES;
		*conv = CONV_BINARY;
		c->length = charlen ? strtoll(charlen, NULL, 10) : -1;
	} else if (strstr(data_type, "text") != NULL) {
		c->type = json ? DT_JSON : DT_CLOB;
	} else if (strcmp(data_type, "json") == 0) {
		c->type = DT_JSON;
	} else if (strstr(data_type, "blob") != NULL) {
		c->type = DT_BLOB;
		*conv = CONV_BINARY;
	} else if (strcmp(data_type, "date") == 0) {
		c->type = DT_DATE;
	} else if (strcmp(data_type, "datetime") == 0) {
		c->type = DT_DATETIME;
		c->scale = dtprec ? atoi(dtprec) : 0;
	} else if (strcmp(data_type, "timestamp") == 0) {
		c->type = DT_DATETIMETZ;
		*conv = CONV_TIMESTAMP_UTC;
		c->scale = dtprec ? atoi(dtprec) : 0;
	} else if (strcmp(data_type, "time") == 0) {
		c->type = DT_TIME;
		c->scale = dtprec ? atoi(dtprec) : 0;
	} else if (strcmp(data_type, "uuid") == 0) {
		c->type = DT_UUID;
	} else if (strcmp(data_type, "enum") == 0 || strcmp(data_type, "set") == 0) {
		c->type = DT_STRING;
	} else if (strstr(data_type, "point") || strstr(data_type, "geometry") ||
		   strstr(data_type, "linestring") || strstr(data_type, "polygon")) {
		c->type = DT_BLOB;
		*conv = CONV_BINARY;
	}
}

struct dms_column *
my_src_add_column(struct src_table *t, const char *name, const char *data_type, const char *column_type,
		  bool nullable, const char *charlen, const char *prec, const char *scale, const char *dtprec,
		  const char *collation, bool json)
{
	struct strbuf select = STRBUF_INIT;
	struct dms_column *c;
	char *q = my_quote_ident(name);

	if (strcmp(data_type, "bit") == 0)
		sb_addf(&select, "%s + 0", q);
	else if (strcmp(data_type, "float") == 0)
		sb_addf(&select, "CAST(%s AS DOUBLE)", q);	/* its text has too few digits */
	else
		sb_adds(&select, q);
	free(q);
	c = src_add_column(t, name, DT_STRING, CONV_TEXT, select.buf);
	c->native = xstrdup(column_type);
	c->nullable = nullable;
	my_type(c, &t->read[t->d.ncols - 1].conv, data_type, column_type, charlen, prec, scale, dtprec, json);
	c->collation = collation ? xstrdup(collation) : NULL;
	return c;
}

/* The table's foreign keys, from information_schema (sch, tab: its quoted schema and name). */
static bool
my_describe_fkeys(struct source *s, struct src_table *t, const char *sch, const char *tab)
{
	struct strbuf sql = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	struct dms_fkey *f = NULL;

	sb_addf(&sql, "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, "
		      "k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE "
		      "FROM information_schema.KEY_COLUMN_USAGE k "
		      "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
		      "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
		      "AND r.TABLE_NAME = k.TABLE_NAME "
		      "WHERE k.TABLE_SCHEMA = %s AND k.TABLE_NAME = %s AND k.REFERENCED_TABLE_NAME IS NOT NULL "
		      "ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION", sch, tab);
	res = my_query(MY(s), sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	t->d.fkeys = xcalloc(mysql_num_rows(res) + 1, sizeof(*t->d.fkeys));
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (f == NULL || strcmp(f->name, row[0]) != 0) {
			f = &t->d.fkeys[t->d.nfkeys++];
			f->name = xstrdup(row[0]);
			f->ref_schema = xstrdup(row[2]);
			f->ref_table = xstrdup(row[3]);
			f->on_delete = xstrdup(row[5]);
			f->on_update = xstrdup(row[6]);
		}
		f->cols = xrealloc(f->cols, (size_t)(f->ncols + 1) * sizeof(char *));
		f->ref_cols = xrealloc(f->ref_cols, (size_t)(f->ncols + 1) * sizeof(char *));
		f->cols[f->ncols] = xstrdup(row[1]);
		f->ref_cols[f->ncols] = xstrdup(row[4]);
		f->ncols++;
		f->nref = f->ncols;
	}
	mysql_free_result(res);
	return true;
}

/*
 * A column's default when it is a constant: the value rows take that were
 * there when the column was added (MySQL writes no row events for them), as
 * its "missing" attr. MariaDB quotes a string default and writes an
 * expression as one (current_timestamp()); MySQL 8 writes a string bare and
 * flags an expression DEFAULT_GENERATED.
 */
static void
default_literal(struct source *s, struct src_table *t, uint32_t col, const char *def, const char *extra)
{
	struct strbuf v = STRBUF_INIT;
	char *end;

	if (def == NULL || (extra && strstr(extra, "DEFAULT_GENERATED")))
		return;
	if (MY(s)->mariadb && def[0] == '\'') {
		for (const char *p = def + 1; *p; p++) {
			if (*p == '\'' && p[1] == '\'')
				p++;
			else if (*p == '\'')
				break;
			else if (*p == '\\' && p[1])
				p++;
			sb_add(&v, p, 1);
		}
	} else if (MY(s)->mariadb) {
		strtod(def, &end);
		if (strcmp(def, "NULL") == 0 || end == def || *end != '\0')
			return;	/* NULL, or an expression */
		sb_adds(&v, def);
	} else {
		sb_adds(&v, def);
	}
	src_missing_value(t, col, v.buf ? v.buf : "");
	sb_release(&v);
}

static bool
my_src_describe(struct source *s, const struct src_name *nm, struct src_table *t)
{
	struct strbuf sql = STRBUF_INIT;
	char *sch = my_src_quote_literal(s, nm->schema), *tab = my_src_quote_literal(s, nm->name);
	struct strbuf json_cols = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool ok = false;

	t->d.schema = xstrdup(nm->schema);
	t->d.name = xstrdup(nm->name);
	t->d.estimated_rows = nm->estimated_rows;

	/* MariaDB's JSON is LONGTEXT with a json_valid() check */
	sb_addf(&sql, "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
		      "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s", sch, tab);
	if (MY(s)->mariadb && (res = my_query(MY(s), sql.buf)) != NULL) {
		while ((row = mysql_fetch_row(res)) != NULL)
			if (row[0])
				sb_addf(&json_cols, "|%s|", row[0]);
		mysql_free_result(res);
	}
	sb_reset(&sql);
	sb_addf(&sql, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, "
		      "CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, "
		      "EXTRA, COLLATION_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
		      "ORDER BY ORDINAL_POSITION", sch, tab);
	if ((res = my_query(MY(s), sql.buf)) == NULL)
		goto done;
	while ((row = mysql_fetch_row(res)) != NULL) {
		struct dms_column *c;
		char probe[300];

		if (row[8] && (strstr(row[8], "VIRTUAL") || strstr(row[8], "STORED")))
			continue;	/* generated columns are computed on the target */
		snprintf(probe, sizeof(probe), "json_valid(`%s`)", row[0]);
		c = my_src_add_column(t, row[0], row[1], row[2], strcmp(row[3], "YES") == 0, row[4], row[5], row[6],
				      row[7], row[9], json_cols.buf && strstr(json_cols.buf, probe));
		c->identity = row[8] && strstr(row[8], "auto_increment") != NULL;
		default_literal(s, t, t->d.ncols - 1, row[10], row[8]);
	}
	mysql_free_result(res);

	sb_reset(&sql);
	sb_addf(&sql, "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART "
		      "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
		      "ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", sch, tab);
	if ((res = my_query(MY(s), sql.buf)) == NULL)
		goto done;
	t->d.indexes = xcalloc(mysql_num_rows(res) + 1, sizeof(*t->d.indexes));
	{
		char *current = NULL;
		struct dms_index *x = NULL;
		bool skip = false;

		while ((row = mysql_fetch_row(res)) != NULL) {
			int idx = row[2] ? src_column_index(t, row[2]) : -1;

			if (current == NULL || strcmp(current, row[0]) != 0) {
				free(current);
				current = xstrdup(row[0]);
				skip = false;
				if (strcmp(row[0], "PRIMARY") == 0) {
					x = NULL;
				} else {
					x = &t->d.indexes[t->d.nindexes++];
					x->name = xstrdup(row[0]);
					x->unique = strcmp(row[1], "0") == 0;
					x->cols = xcalloc((size_t)t->d.ncols + 1, sizeof(int));
				}
			}
			if (idx < 0 || row[3] != NULL)
				skip = true;	/* expression or prefix index: not rebuilt */
			if (skip) {
				if (x != NULL) {
					x->ncols = 0;
				}
				continue;
			}
			if (x == NULL) {
				t->d.key = xrealloc(t->d.key, (size_t)(t->d.nkey + 1) * sizeof(*t->d.key));
				t->d.key[t->d.nkey++] = (uint32_t)idx;
			} else {
				x->cols[x->ncols++] = idx;
			}
		}
		free(current);
		/* drop indexes that could not be described */
		for (int i = 0; i < t->d.nindexes; i++)
			if (t->d.indexes[i].ncols == 0) {
				free(t->d.indexes[i].name);
				free(t->d.indexes[i].cols);
				t->d.indexes[i--] = t->d.indexes[--t->d.nindexes];
			}
	}
	mysql_free_result(res);

	ok = my_describe_fkeys(s, t, sch, tab);
done:
	free(sch);
	free(tab);
	sb_release(&sql);
	sb_release(&json_cols);
	return ok;
}

static char *
my_src_quote_ident(const char *name)
{
	return my_quote_ident(name);
}

static bool
my_src_key_range(struct source *s, const struct src_table *t, int64_t *min, int64_t *max)
{
	struct strbuf sql = STRBUF_INIT;
	char *tab = src_table_qualified(t, my_quote_ident), *col = my_quote_ident(t->d.cols[t->d.key[0]].name);
	MYSQL_RES *res;
	MYSQL_ROW row;

	sb_addf(&sql, "SELECT MIN(%s), MAX(%s) FROM %s", col, col, tab);
	src_part_where(&sql, t, NULL);
	free(tab);
	free(col);
	res = my_query(MY(s), sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	*min = *max = 0;
	if ((row = mysql_fetch_row(res)) != NULL && row[0] && row[1]) {
		*min = strtoll(row[0], NULL, 10);
		*max = strtoll(row[1], NULL, 10);
	}
	mysql_free_result(res);
	return true;
}

static bool
my_src_read_part(struct source *s, const struct src_table *t, const struct src_part *p,
		 struct dms_writer *w, int tid, uint64_t *rows)
{
	struct strbuf sql = STRBUF_INIT;
	char *tab = src_table_qualified(t, my_quote_ident);
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool ok = true;

	sb_adds(&sql, "SELECT ");
	for (uint32_t i = 0; i < t->d.ncols; i++)
		sb_addf(&sql, "%s%s", i ? ", " : "", t->read[i].select);
	sb_addf(&sql, " FROM %s", tab);
	src_part_where(&sql, t, p);
	free(tab);
	res = my_query_stream(MY(s), sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *lens = mysql_fetch_lengths(res);

		rec_row(&w->pk, tid, t->d.ncols);
		for (uint32_t i = 0; ok && i < t->d.ncols; i++) {
			if (row[i] == NULL)
				msgpack_pack_nil(&w->pk);
			else
				ok = convert_value(&w->pk, t, i, row[i], lens[i]);
		}
		if (!ok || w->out.failed) {
			ok = false;
			break;
		}
		(*rows)++;
	}
	if (ok && mysql_errno(MY(s)->conn) != 0)
		ok = my_failed(MY(s), "reading rows failed");
	mysql_free_result(res);
	return ok;
}

static void
my_src_disconnect(struct source *s)
{
	if (s->conn != NULL) {
		my_disconnect(MY(s));
		free(s->conn);
	}
	free(s->snapshot);
	free(s->position);
	s->conn = NULL;
}

static bool
my_src_identity(struct source *s)
{
	s->server = my_identity(MY(s));
	s->database = xstrdup(MY(s)->dbname ? MY(s)->dbname : "");
	return s->server != NULL;
}

const struct source_ops my_source_ops = {
	.connect = my_src_connect,
	.begin = my_src_begin,
	.list = my_src_list,
	.describe = my_src_describe,
	.key_range = my_src_key_range,
	.read_part = my_src_read_part,
	.identity = my_src_identity,
	.quote_ident = my_src_quote_ident,
	.quote_literal = my_src_quote_literal,
	.disconnect = my_src_disconnect,
};
