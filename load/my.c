/*
 * load/my.c: a MySQL or MariaDB target. A part's rows go in as LOAD DATA
 * LOCAL of tab-separated text where the server takes it and the table's
 * columns read that text as INSERT reads literals, else as multi-row INSERTs;
 * both in strict mode, and a statement with any warning is refused and rolled
 * back (LOAD DATA LOCAL turns errors into warnings), so that a value the
 * target cannot hold is never silently altered. Changes go as statements.
 * DDL commits by itself in MySQL: table preparation runs under a named lock.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load.h"
#include "net.h"
#include "../common/my.h"
#include "../common/dms.h"

#define MY(l) ((struct my_conn *)(l)->conn)

/* The rows a LOAD DATA LOCAL statement sends (my_connect_rows), and whether the server takes it. */
static struct my_local_rows local_rows;
static bool server_local_infile;

static char *
ctl(const struct loader *l, const char *table)
{
	struct strbuf sb = STRBUF_INIT;
	char *s = my_quote_ident(l->settings->control_schema);

	sb_addf(&sb, "%s.%s", s, table);
	free(s);
	return sb.buf;
}

static char *
lit(struct loader *l, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *buf;

	if (s == NULL)
		return xstrdup("NULL");
	buf = xmalloc(2 * n + 3);
	buf[0] = '\'';
	n = mysql_real_escape_string(MY(l)->conn, buf + 1, s, (unsigned long)n);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
	return buf;
}

static bool
myt_connect(struct loader *l, const char *uri)
{
	l->conn = xcalloc(1, sizeof(struct my_conn));
	if (!my_connect_rows(MY(l), uri, &local_rows))
		return false;
	if (MY(l)->dbname == NULL && l->settings->target_schema == NULL) {
		log_error("%s: the URI names no database (mysql://host/database) and no TargetSchema is set",
			  MY(l)->label);
		return false;
	}
	l->dbname = MY(l)->dbname;
	{
		MYSQL_RES *res = my_query(MY(l), "SELECT @@max_allowed_packet");
		MYSQL_ROW row;

		if (res == NULL)
			return false;
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
			size_t packet = (size_t)strtoull(row[0], NULL, 10);

			/* the INSERT's own text is well under 64 KiB */
			l->statement_overhead = 65536;
			l->max_statement = packet > 2 * l->statement_overhead ? packet - l->statement_overhead : packet / 2;
		}
		mysql_free_result(res);
	}
	{
		MYSQL_RES *res = my_query(MY(l), "SELECT @@GLOBAL.local_infile");
		MYSQL_ROW row;

		if (res == NULL)
			return false;
		row = mysql_fetch_row(res);
		server_local_infile = row != NULL && row[0] != NULL && (strcmp(row[0], "1") == 0 || strcasecmp(row[0], "ON") == 0);
		mysql_free_result(res);
	}
	return my_command(MY(l), "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,"
				 "NO_ENGINE_SUBSTITUTION,NO_BACKSLASH_ESCAPES', "
				 "SESSION foreign_key_checks = 0, SESSION innodb_lock_wait_timeout = 600");
}

static bool
myt_control_tables(struct loader *l)
{
	struct strbuf sql = STRBUF_INIT;
	char *s = my_quote_ident(l->settings->control_schema);
	char *parts = ctl(l, "load_parts"), *exc = ctl(l, "apply_exceptions");
	char *runs = ctl(l, "load_runs");
	bool ok;

	sb_addf(&sql, "CREATE DATABASE IF NOT EXISTS %s", s);
	ok = my_command(MY(l), sql.buf);
	sb_reset(&sql);
	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(100) NOT NULL, "
		      "table_owner varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
		      "part varchar(32) NOT NULL, part_range text, state varchar(16) NOT NULL, "
		      "`rows` bigint, error text, updated timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
		      "PRIMARY KEY (task_name, table_owner, table_name, part)) "
		      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", parts);
	ok = ok && my_command(MY(l), sql.buf);
	sb_reset(&sql);
	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(100) NOT NULL, "
		      "table_owner varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
		      "error_time timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), key_text text, "
		      "statement longtext, error text) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", exc);
	ok = ok && my_command(MY(l), sql.buf);
	sb_reset(&sql);
	/* control tables of an earlier version lack target_id (MySQL has no ADD COLUMN IF NOT EXISTS) */
	{
		char *db = lit(l, l->settings->control_schema);
		MYSQL_RES *res;

		sb_addf(&sql, "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
			      "AND TABLE_NAME = 'load_parts' AND COLUMN_NAME = 'target_id'", db);
		free(db);
		res = ok ? my_query(MY(l), sql.buf) : NULL;
		ok = res != NULL;
		if (ok && mysql_num_rows(res) == 0) {
			sb_reset(&sql);
			sb_addf(&sql, "ALTER TABLE %s ADD COLUMN target_id varchar(128)", parts);
			ok = my_command(MY(l), sql.buf);
		}
		if (res != NULL)
			mysql_free_result(res);
	}
	sb_reset(&sql);
	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(100) NOT NULL PRIMARY KEY, "
		      "run_id varchar(64) NOT NULL, state varchar(16) NOT NULL, source_engine varchar(32), "
		      "source_server text, source_database varchar(128), plan longtext, "
		      "started timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), finished timestamp(6) NULL) "
		      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", runs);
	ok = ok && my_command(MY(l), sql.buf);
	sb_reset(&sql);
	free(runs);
	runs = ctl(l, "apply_state");
	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(100) NOT NULL, "
		      "target_database varchar(128) NOT NULL, position varchar(255), commit_time datetime(6) NULL, source_engine varchar(32), "
		      "source_server text, source_database varchar(128), "
		      "transactions bigint NOT NULL DEFAULT 0, latency_ms bigint, "
		      "applied_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
		      "PRIMARY KEY (task_name, target_database)) "
		      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", runs);
	ok = ok && my_command(MY(l), sql.buf);
	free(runs);
	sb_reset(&sql);
	runs = ctl(l, "apply_tables");
	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(100) NOT NULL, "
		      "target_database varchar(128) NOT NULL, table_owner varchar(128) NOT NULL, "
		      "table_name varchar(128) NOT NULL, columns longtext NOT NULL, types longtext NOT NULL, "
		      "PRIMARY KEY (task_name, target_database, table_owner, table_name)) "
		      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", runs);
	ok = ok && my_command(MY(l), sql.buf);
	free(runs);
	free(s);
	free(parts);
	free(exc);
	sb_release(&sql);
	return ok;
}

static void
create_table_sql(struct loader *l, struct ttable *t, struct strbuf *sql)
{
	const struct dms_table *s = t->src;
	bool pk = s->nkey > 0 && !l->settings->create_pk_after_full_load;
	bool first = true;

	sb_addf(sql, "CREATE TABLE IF NOT EXISTS %s (", t->qname);
	for (int i = 0; i < t->ncols; i++) {
		struct tcol *c = &t->cols[i];
		char *q;
		bool autoinc = c->src->identity && pk && s->key[0] == (uint32_t)i &&
			       c->src->type >= DT_INT1 && c->src->type <= DT_UINT8;

		if (c->skip)
			continue;
		q = my_quote_ident(c->src->name);
		sb_addf(sql, "%s%s %s%s%s", first ? "" : ", ", q, c->sqltype,
			c->src->nullable ? " NULL" : " NOT NULL", autoinc ? " AUTO_INCREMENT" : "");
		free(q);
		first = false;
	}
	if (pk) {
		sb_adds(sql, ", PRIMARY KEY (");
		for (uint32_t k = 0; k < s->nkey; k++) {
			char *q = my_quote_ident(t->cols[s->key[k]].src->name);

			sb_addf(sql, "%s%s", k ? ", " : "", q);
			free(q);
		}
		sb_adds(sql, ")");
	}
	sb_adds(sql, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
}

static bool
myt_prepare(struct loader *l, struct ttable *t)
{
	struct strbuf sql = STRBUF_INIT, lockname = STRBUF_INIT;
	char *parts = ctl(l, "load_parts");
	char *task = lit(l, l->task), *owner = lit(l, t->schema), *name = lit(l, t->name);
	char *lock, *schema = my_quote_ident(t->schema);
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool ok = false;
	enum answer prepared;

	sb_addf(&lockname, "dms/%s/%s/%s", l->task, t->schema, t->name);
	if (lockname.len > 64)
		lockname.len = 64, lockname.buf[64] = '\0';
	lock = lit(l, lockname.buf);
	sb_addf(&sql, "SELECT GET_LOCK(%s, 3600)", lock);
	res = my_query(MY(l), sql.buf);
	if (res == NULL || (row = mysql_fetch_row(res)) == NULL || row[0] == NULL || strcmp(row[0], "1")) {
		if (res)
			mysql_free_result(res);
		log_error("%s.%s: could not take the preparation lock", t->schema, t->name);
		goto done;
	}
	mysql_free_result(res);
	sb_reset(&sql);
	if ((prepared = state_prepared(l, t)) != ANSWER_NO) {
		ok = prepared == ANSWER_YES;
		goto unlock;
	}
	sb_reset(&sql);
	sb_addf(&sql, "CREATE DATABASE IF NOT EXISTS %s", schema);
	if (!my_command(MY(l), sql.buf))
		goto unlock;
	sb_reset(&sql);
	if (l->settings->prep_mode == PREP_DROP_AND_CREATE) {
		sb_addf(&sql, "DROP TABLE IF EXISTS %s", t->qname);
		if (!my_command(MY(l), sql.buf))
			goto unlock;
		sb_reset(&sql);
	}
	create_table_sql(l, t, &sql);
	if (!my_command(MY(l), sql.buf))
		goto unlock;
	sb_reset(&sql);
	if (l->settings->prep_mode == PREP_TRUNCATE_BEFORE_LOAD) {
		sb_addf(&sql, "TRUNCATE TABLE %s", t->qname);
		if (!my_command(MY(l), sql.buf))
			goto unlock;
		sb_reset(&sql);
	}
	ok = state_mark_prepared(l, t);
	if (ok)
		log_info("%s.%s: table prepared (%s)", t->schema, t->name,
			 prep_mode_name(l->settings->prep_mode));
	for (int i = 0; ok && i < t->ncols; i++)
		if (t->cols[i].narrowed != NULL)
			log_warn("%s.%s column %s: %s would make a key longer than InnoDB's 3072 bytes: it is %s, and a longer value is refused as a row the target cannot hold",
				 t->schema, t->name, t->cols[i].src->name, t->cols[i].narrowed, t->cols[i].sqltype);
unlock:
	sb_reset(&sql);
	sb_addf(&sql, "DO RELEASE_LOCK(%s)", lock);
	my_command(MY(l), sql.buf);
done:
	free(lock);
	free(parts);
	free(task);
	free(owner);
	free(name);
	free(schema);
	sb_release(&sql);
	sb_release(&lockname);
	return ok;
}

static bool
myt_begin(struct loader *l)
{
	return my_command(MY(l), "START TRANSACTION");
}

static bool
myt_rollback(struct loader *l)
{
	return my_command(MY(l), "ROLLBACK");
}

static bool
is_data_error(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0;
}

static bool
myt_commit(struct loader *l)
{
	return my_command(MY(l), "COMMIT");
}

/*
 * A change statement. *rows: the rows an UPDATE matched (mysql_info's "Rows
 * matched", whether or not they changed), else the rows affected (0 for an
 * INSERT ... ON DUPLICATE KEY UPDATE k = k that found its key). A refused
 * statement leaves the transaction as it was (InnoDB undoes the statement
 * alone).
 */
static int
myt_apply_sql(struct loader *l, const char *sql, int nparams, const char *const *params, uint64_t *rows,
	      char *err, size_t errsize, bool *truncation)
{
	MYSQL *conn = MY(l)->conn;
	const char *info;
	MYSQL_RES *res;

	(void)nparams;	/* values come as literals (the literal op): no parameters */
	(void)params;
	*rows = 0;
	*truncation = false;
	if (mysql_real_query(conn, sql, strlen(sql)) != 0) {
		const char *state = mysql_sqlstate(conn);

		if (is_data_error(state)) {
			snprintf(err, errsize, "%s (MySQL error %u, SQLSTATE %s)", mysql_error(conn),
				 mysql_errno(conn), state);
			*truncation = strcmp(state, "22001") == 0 || strcmp(state, "22003") == 0 ||
				      mysql_errno(conn) == 1264 || mysql_errno(conn) == 1406;
			return LOAD_REFUSED;
		}
		log_error("%s: %s (MySQL error %u)", MY(l)->label, mysql_error(conn), mysql_errno(conn));
		return LOAD_FAILED;
	}
	if ((res = mysql_store_result(conn)) != NULL)
		mysql_free_result(res);
	info = mysql_info(conn);
	if (info != NULL && strncmp(info, "Rows matched: ", 14) == 0)
		*rows = strtoull(info + 14, NULL, 10);
	else
		*rows = mysql_affected_rows(conn) == (my_ulonglong)-1 ? 0 : mysql_affected_rows(conn);
	return LOAD_DONE;
}

static void
hex_literal(struct strbuf *out, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	sb_grow_by(out, 3 + 2 * n);
	sb_add(out, "X'", 2);
	for (size_t i = 0; i < n; i++) {
		char h[2] = { hex[p[i] >> 4], hex[p[i] & 15] };

		sb_add(out, h, 2);
	}
	sb_add(out, "'", 1);
}

/* A str in single quotes; NO_BACKSLASH_ESCAPES is on, so only ' is doubled. */
static void
quoted(struct strbuf *out, const uint8_t *p, size_t n)
{
	size_t run = 0;

	sb_grow_by(out, n + 2);
	sb_add(out, "'", 1);
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\'')
			continue;
		sb_add(out, p + run, i + 1 - run);
		sb_add(out, "'", 1);
		run = i + 1;
	}
	sb_add(out, p + run, n - run);
	sb_add(out, "'", 1);
}

/*
 * Whether decimal text p[0..n) fits decimal(prec,scale) exactly: digits
 * before the point at most prec - scale, significant digits after it at
 * most scale. MySQL would round the excess with a note: the row is refused
 * instead (DataTruncationErrorPolicy). Sets err when it does not fit.
 */
static bool
decimal_fits(const struct tcol *col, const uint8_t *p, size_t n, char *err, size_t errsize)
{
	int prec = col->dec_prec, scale = col->dec_scale, ints = 0, fracs = 0, lead = 1;
	long exp = 0;
	size_t i = 0, last_nonzero_frac = 0, nfrac = 0;
	bool point = false, any = false;

	if (prec < 0)
		return true;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		i++;
	for (; i < n; i++) {
		if (p[i] == '.' && !point) {
			point = true;
		} else if (p[i] >= '0' && p[i] <= '9') {
			any = true;
			if (!point) {
				if (p[i] != '0' || !lead) {
					lead = 0;
					ints++;
				}
			} else {
				nfrac++;
				if (p[i] != '0')
					last_nonzero_frac = nfrac;
			}
		} else {
			break;
		}
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		char buf[32];
		size_t m = n - i - 1 < sizeof(buf) - 1 ? n - i - 1 : sizeof(buf) - 1;

		memcpy(buf, p + i + 1, m);
		buf[m] = '\0';
		exp = strtol(buf, NULL, 10);
		i = n;
	}
	if (!any || i != n) {
		snprintf(err, errsize, "column %s: \"%.*s\" is not a number %s can hold", col->src->name,
			 (int)(n < 40 ? n : 40), (const char *)p, col->sqltype);
		return false;
	}
	fracs = (int)last_nonzero_frac;
	/* 1.5e3: the point moves right; 15e-3: left */
	if (exp > 0) {
		long moved = exp < fracs ? exp : fracs;

		fracs -= (int)moved;
		ints += ints || moved ? (int)exp : 0;
	} else if (exp < 0) {
		fracs += (int)-exp;
		ints = ints + (int)exp > 0 ? ints + (int)exp : 0;
	}
	if (fracs > scale || ints > prec - scale) {
		snprintf(err, errsize, "column %s: %.*s%s has %d digits before the point and %d after; %s keeps %d and %d (MySQL would alter it)",
			 col->src->name, (int)(n < 48 ? n : 48), (const char *)p, n > 48 ? "..." : "", ints, fracs,
			 col->sqltype, prec - scale, scale);
		return false;
	}
	return true;
}

/* What a value's text is: SQL NULL, a number as it is, a string, bytes. */
enum vtext { VT_FAILED = -1, VT_NULL, VT_PLAIN, VT_STR, VT_BYTES };

/*
 * The text of value it of column col (in buf, or in the row), with the
 * checks the target would not make (NaN, a DECIMAL's excess digits): VT_FAILED
 * with err set when the target cannot hold it. values: the row's array.
 */
static enum vtext
value_text(struct loader *l, struct ttable *t, struct tcol *col, const struct mp_item *it,
	   const uint8_t *values, size_t values_len, char *buf, size_t bufsize, const uint8_t **p, size_t *n,
	   char *err, size_t errsize)
{
	switch (it->type) {
	case MP_NIL:
		return VT_NULL;
	case MP_BOOL:
		*p = (const uint8_t *)(it->v.b ? "1" : "0");
		*n = 1;
		return VT_PLAIN;
	case MP_INT:
		*n = (size_t)format_int(buf, it->v.i);
		*p = (const uint8_t *)buf;
		return VT_PLAIN;
	case MP_UINT:
		*n = (size_t)format_uint(buf, it->v.u);
		*p = (const uint8_t *)buf;
		return VT_PLAIN;
	case MP_FLOAT32:
	case MP_FLOAT64: {
		double v = it->type == MP_FLOAT32 ? (double)it->v.f32 : it->v.f64;

		if (isnan(v) || isinf(v)) {
			snprintf(err, errsize, "column %s: %s, which MySQL cannot hold", col->src->name,
				 isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
			return VT_FAILED;
		}
		*n = (size_t)format_float(buf, bufsize, v, it->type == MP_FLOAT32);
		*p = (const uint8_t *)buf;
		return VT_PLAIN;
	}
	case MP_STR: {
		size_t len = it->v.s.len, limit = lob_limit(l, t, col);

		if (col->src->type == DT_NUMERIC && !decimal_fits(col, it->v.s.p, len, err, errsize)) {
			l->format_truncation = true;
			return VT_FAILED;
		}
		if (limit)
			len = lob_truncate(l, t, col, values, values_len, it->v.s.p, len, limit, true);
		/* timestamps with a zone are UTC: MySQL takes them without the suffix */
		if (col->src->type == DT_DATETIMETZ && len > 3 && memcmp(it->v.s.p + len - 3, "+00", 3) == 0)
			len -= 3;
		*p = it->v.s.p;
		*n = len;
		return col->src->type == DT_BYTES || col->src->type == DT_BLOB ? VT_BYTES : VT_STR;
	}
	case MP_BIN: {
		size_t len = it->v.s.len, limit = lob_limit(l, t, col);

		if (limit)
			len = lob_truncate(l, t, col, values, values_len, it->v.s.p, len, limit, false);
		*p = it->v.s.p;
		*n = len;
		return VT_BYTES;
	}
	default:
		snprintf(err, errsize, "column %s: a %s value has no MySQL form", col->src->name,
			 mp_type_name(it->type));
		return VT_FAILED;
	}
}

/*
 * Appends value it of column col as a MySQL literal (NULL for nil); false with
 * err set when the target cannot hold it. values: the row's array, for messages.
 */
static bool
myt_literal(struct loader *l, struct ttable *t, struct tcol *col, const struct mp_item *it,
	    const uint8_t *values, size_t values_len, struct strbuf *out, char *err, size_t errsize)
{
	char buf[64];
	const uint8_t *p = NULL;
	size_t n = 0;

	switch (value_text(l, t, col, it, values, values_len, buf, sizeof(buf), &p, &n, err, errsize)) {
	case VT_NULL:
		sb_add(out, "NULL", 4);
		return true;
	case VT_PLAIN:
		sb_add(out, p, n);
		return true;
	case VT_STR:
		quoted(out, p, n);
		return true;
	case VT_BYTES:
		hex_literal(out, p, n);
		return true;
	case VT_FAILED:
		break;
	}
	return false;
}

/* Appends value it of column col as a field of LOAD DATA's text (\N for nil); as myt_literal. */
static bool
tsv_field(struct loader *l, struct ttable *t, struct tcol *col, const struct mp_item *it,
	  const uint8_t *values, size_t values_len, struct strbuf *out, char *err, size_t errsize)
{
	char buf[64];
	const uint8_t *p = NULL;
	size_t n = 0;

	switch (value_text(l, t, col, it, values, values_len, buf, sizeof(buf), &p, &n, err, errsize)) {
	case VT_NULL:
		sb_add(out, "\\N", 2);
		return true;
	case VT_PLAIN:
		sb_add(out, p, n);
		return true;
	case VT_STR:
		return sb_add_escaped(out, p, n, "\\0");
	case VT_BYTES:	/* such a table goes in INSERT statements */
		snprintf(err, errsize, "column %s: bytes have no LOAD DATA text here", col->src->name);
		return false;
	case VT_FAILED:
		break;
	}
	return false;
}

/*
 * A row's loaded values: an INSERT's tuple "(v,...)", or a line of LOAD
 * DATA's text (fields tab-separated, \\, \t, \n, \r and \0 escaped).
 */
static bool
format_values(struct loader *l, struct ttable *t, const uint8_t *values, size_t values_len, bool tsv,
	      struct strbuf *out, char *err, size_t errsize)
{
	struct mp_cursor c;
	struct mp_item it;
	bool first = true;

	mp_cursor_init(&c, values, values_len);
	mp_next(&c, &it);
	if (!tsv)
		sb_add(out, "(", 1);
	for (int i = 0; i < t->ncols; i++) {
		struct tcol *col = &t->cols[i];

		mp_next(&c, &it);
		if (col->skip)
			continue;
		if (!first)
			sb_add(out, tsv ? "\t" : ",", 1);
		first = false;
		if (!(tsv ? tsv_field : myt_literal)(l, t, col, &it, values, values_len, out, err, errsize))
			return false;
	}
	sb_add(out, tsv ? "\n" : ")", 1);
	return true;
}

static bool
myt_format_row(struct loader *l, struct ttable *t, const uint8_t *values, size_t values_len,
	       struct strbuf *out, char *err, size_t errsize)
{
	return format_values(l, t, values, values_len, false, out, err, errsize);
}

/*
 * LOAD DATA LOCAL: a part's rows go as tab-separated text when the server
 * takes it and every loaded column, as the target has it, reads that text as
 * INSERT reads the literal (numbers, strings, dates, json, enum, set); bytes,
 * BIT and spatial columns keep the table in INSERT statements. Errors become
 * warnings with LOCAL: a statement with a warning is refused and rolled back
 * as an INSERT's is.
 */
static const char *
myt_part_form(struct loader *l, struct ttable *t)
{
	static const char *const plain[] = { "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float",
					     "double", "char", "varchar", "tinytext", "text", "mediumtext", "longtext",
					     "date", "datetime", "timestamp", "time", "year", "json", "enum", "set", NULL };
	struct strbuf sql = STRBUF_INIT;
	char *sch = lit(l, t->schema), *tab = lit(l, t->name);
	MYSQL_RES *res;
	MYSQL_ROW row;
	int loaded = 0, plain_text = 0;

	t->copy_form = 1;
	if (!server_local_infile)
		goto out;
	sb_addf(&sql, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
		      "AND TABLE_NAME = %s", sch, tab);
	if ((res = my_query(MY(l), sql.buf)) == NULL) {
		t->copy_form = 0;	/* failed (logged): not known */
		goto out;
	}
	/* column names are unique without case: each loaded column matches one row at most */
	while ((row = mysql_fetch_row(res)) != NULL) {
		for (int i = 0; i < t->ncols && row[0] != NULL && row[1] != NULL; i++) {
			const struct tcol *c = &t->cols[i];
			bool ok = false;

			if (c->skip || strcasecmp(row[0], c->src->name) != 0)
				continue;
			for (int k = 0; plain[k] && !ok; k++)
				ok = strcasecmp(row[1], plain[k]) == 0;
			plain_text += ok && c->src->type != DT_BYTES && c->src->type != DT_BLOB;
		}
	}
	mysql_free_result(res);
	for (int i = 0; i < t->ncols; i++)
		loaded += !t->cols[i].skip;
	if (plain_text == loaded)
		t->copy_form = 2;
out:
	free(sch);
	free(tab);
	sb_release(&sql);
	if (t->copy_form == 0)
		return NULL;
	return t->copy_form == 2 ? "LOAD DATA LOCAL" : "INSERT statements";
}

static bool
myt_format_part_row(struct loader *l, struct ttable *t, const uint8_t *values, size_t values_len,
		    struct strbuf *out, char *err, size_t errsize)
{
	return format_values(l, t, values, values_len, t->copy_form == 2, out, err, errsize);
}

/* The first warning of the last statement, as an error text; false when there is none. */
static bool
first_warning(struct loader *l, char *err, size_t errsize, bool *truncation)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool found = false;

	if (mysql_warning_count(MY(l)->conn) == 0 || (res = my_query(MY(l), "SHOW WARNINGS LIMIT 1")) == NULL)
		return false;
	if ((row = mysql_fetch_row(res)) != NULL) {
		unsigned code = row[1] ? (unsigned)strtoul(row[1], NULL, 10) : 0;

		snprintf(err, errsize, "%s (%s %u, which MySQL would have let pass, altering the value)",
			 row[2] ? row[2] : "", row[0] ? row[0] : "warning", code);
		*truncation = code == 1265 || code == 1264 || code == 1406;
		found = true;
	}
	mysql_free_result(res);
	return found;
}

/*
 * A multi-row INSERT under a savepoint. In strict mode most bad values are
 * errors; what MySQL still lets pass with a note or a warning (excess scale
 * of a DECIMAL, rounded) is refused as well: the statement is rolled back.
 */
static int
myt_load_rows(struct loader *l, struct ttable *t, struct batch *b, size_t lo, size_t hi, bool probe,
	      char *err, size_t errsize, bool *truncation)
{
	struct strbuf sql = STRBUF_INIT;
	int rc = LOAD_DONE;

	if (!my_command(MY(l), "SAVEPOINT dms_batch"))
		return LOAD_FAILED;
	if (t->copy_form == 2) {
		size_t start = lo ? b->ends[lo - 1] : 0;

		sb_addf(&sql, "LOAD DATA LOCAL INFILE 'dms-load rows' INTO TABLE %s CHARACTER SET utf8mb4 "
			      "FIELDS TERMINATED BY X'09' ESCAPED BY X'5C' LINES TERMINATED BY X'0A' (%s)",
			t->qname, t->collist);
		local_rows.p = b->data.buf + start;
		local_rows.left = b->ends[hi - 1] - start;
		local_rows.armed = true;
	} else {
		sb_addf(&sql, "INSERT INTO %s (%s) VALUES ", t->qname, t->collist);
		for (size_t i = lo; i < hi; i++) {
			size_t start = i ? b->ends[i - 1] : 0;

			if (i > lo)
				sb_add(&sql, ",", 1);
			sb_add(&sql, b->data.buf + start, b->ends[i] - start);
		}
	}
	if (mysql_real_query(MY(l)->conn, sql.buf, sql.len) != 0) {
		const char *state = mysql_sqlstate(MY(l)->conn);
		unsigned errnum = mysql_errno(MY(l)->conn);

		local_rows.armed = false;

		if (is_data_error(state) || errnum == 4025 || errnum == 1366 || errnum == 1292 ||
		    errnum == 1301) {
			snprintf(err, errsize, "%s (error %u, SQLSTATE %s)", mysql_error(MY(l)->conn),
				 errnum, state);
			*truncation = errnum == 1406 || errnum == 1265;
			rc = LOAD_REFUSED;
		} else {
			my_failed(MY(l), t->copy_form == 2 ? "LOAD DATA LOCAL failed" : "INSERT failed");
			rc = LOAD_FAILED;
		}
	} else if (first_warning(l, err, errsize, truncation)) {
		rc = LOAD_REFUSED;
	} else if (t->copy_form == 2 && mysql_affected_rows(MY(l)->conn) != (my_ulonglong)(hi - lo)) {
		snprintf(err, errsize, "LOAD DATA took %llu of %zu rows", (unsigned long long)mysql_affected_rows(MY(l)->conn),
			 hi - lo);
		rc = LOAD_REFUSED;
	}
	local_rows.armed = false;
	sb_release(&sql);
	if (rc == LOAD_FAILED)
		return rc;
	if (rc == LOAD_REFUSED || probe)
		return my_command(MY(l), "ROLLBACK TO SAVEPOINT dms_batch") ? rc : LOAD_FAILED;
	return my_command(MY(l), "RELEASE SAVEPOINT dms_batch") ? rc : LOAD_FAILED;
}

static bool
myt_exception(struct loader *l, struct ttable *t, const char *key, const char *record,
	      const char *error)
{
	struct strbuf sql = STRBUF_INIT;
	char *exc = ctl(l, "apply_exceptions");
	char *task = lit(l, l->task), *owner = lit(l, t->schema), *name = lit(l, t->name);
	char *k = lit(l, key), *r = lit(l, record), *e = lit(l, error);
	bool ok;

	sb_addf(&sql, "INSERT INTO %s (task_name, table_owner, table_name, key_text, statement, error) "
		      "VALUES (%s, %s, %s, %s, %s, %s)", exc, task, owner, name, k, r, e);
	ok = my_command(MY(l), sql.buf);
	free(exc);
	free(task);
	free(owner);
	free(name);
	free(k);
	free(r);
	free(e);
	sb_release(&sql);
	return ok;
}

static char *
col_list(struct ttable *t, const int *cols, int n)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < n; i++) {
		const struct tcol *c = &t->cols[cols[i]];
		char *q = my_quote_ident(c->src->name);
		bool lob = strstr(c->sqltype, "text") || strstr(c->sqltype, "blob");

		sb_addf(&sb, "%s%s%s", i ? ", " : "", q, lob ? "(191)" : "");
		free(q);
	}
	return sb.buf;
}

static bool
myt_post_load(struct loader *l, struct ttable *t)
{
	const struct dms_table *s = t->src;
	struct strbuf sql = STRBUF_INIT;
	char *owner = lit(l, t->schema), *name = lit(l, t->name);
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool ok = true, exists = false, has_pk = false;

	sb_addf(&sql, "SELECT COUNT(*), SUM(CONSTRAINT_TYPE = 'PRIMARY KEY') FROM "
		      "information_schema.TABLE_CONSTRAINTS RIGHT JOIN information_schema.TABLES USING "
		      "(TABLE_SCHEMA, TABLE_NAME) WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", owner, name);
	if ((res = my_query(MY(l), sql.buf)) == NULL) {
		ok = false;
		goto done;
	}
	if ((row = mysql_fetch_row(res)) != NULL) {
		exists = row[0] && strcmp(row[0], "0") != 0;
		has_pk = row[1] && strcmp(row[1], "0") != 0;
	}
	mysql_free_result(res);
	if (!exists) {
		log_error("%s.%s: no such table on the target; was it loaded?", t->schema, t->name);
		ok = false;
		goto done;
	}
	if (s->nkey > 0 && !has_pk) {
		int *key = xcalloc(s->nkey, sizeof(int));
		char *cols;

		for (uint32_t k = 0; k < s->nkey; k++)
			key[k] = (int)s->key[k];
		cols = col_list(t, key, (int)s->nkey);
		sb_reset(&sql);
		sb_addf(&sql, "ALTER TABLE %s ADD PRIMARY KEY (%s)", t->qname, cols);
		ok = my_command(MY(l), sql.buf);
		free(cols);
		free(key);
	}
	for (int i = 0; ok && i < t->nindexes; i++) {
		char *cols = col_list(t, t->indexes[i].cols, t->indexes[i].ncols);
		char *iname = my_quote_ident(t->indexes[i].name);

		sb_reset(&sql);
		sb_addf(&sql, "CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)",
			t->indexes[i].unique ? "UNIQUE " : "", iname, t->qname, cols);
		ok = my_command(MY(l), sql.buf);
		free(cols);
		free(iname);
	}
	if (ok && t->nfkeys > 0)
		ok = my_command(MY(l), "SET SESSION foreign_key_checks = 1");
	for (int i = 0; ok && i < t->nfkeys; i++) {
		const struct dms_fkey *f = &t->fkeys[i];
		struct strbuf cols = STRBUF_INIT, refs = STRBUF_INIT;
		char *fname = my_quote_ident(f->name), *fl = lit(l, f->name);
		char *rs = my_quote_ident(l->settings->target_schema ? l->settings->target_schema
				       : l->source == ENGINE_MYSQL ? f->ref_schema : t->schema);
		char *rt = my_quote_ident(f->ref_table);

		for (int c = 0; c < f->ncols; c++) {
			char *a = my_quote_ident(f->cols[c]), *b = my_quote_ident(f->ref_cols[c]);

			sb_addf(&cols, "%s%s", c ? ", " : "", a);
			sb_addf(&refs, "%s%s", c ? ", " : "", b);
			free(a);
			free(b);
		}
		sb_reset(&sql);
		sb_addf(&sql, "SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = %s "
			      "AND TABLE_NAME = %s AND CONSTRAINT_NAME = %s AND CONSTRAINT_TYPE = 'FOREIGN KEY'",
			owner, name, fl);
		res = my_query(MY(l), sql.buf);
		if (res != NULL && mysql_num_rows(res) == 0) {
			sb_reset(&sql);
			sb_addf(&sql, "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s.%s (%s) "
				      "ON DELETE %s ON UPDATE %s", t->qname, fname, cols.buf, rs, rt, refs.buf,
				f->on_delete ? f->on_delete : "NO ACTION", f->on_update ? f->on_update : "NO ACTION");
			if (!my_command(MY(l), sql.buf)) {
				log_error("%s.%s: foreign key %s not created (above); the rest goes on",
					  t->schema, t->name, f->name);
				l->failed = true;
			}
		}
		if (res)
			mysql_free_result(res);
		sb_release(&cols);
		sb_release(&refs);
		free(fname);
		free(fl);
		free(rs);
		free(rt);
	}
	if (t->nfkeys > 0)
		my_command(MY(l), "SET SESSION foreign_key_checks = 0");
	if (ok)
		log_info("%s.%s: keys, indexes and foreign keys in place", t->schema, t->name);
done:
	free(owner);
	free(name);
	sb_release(&sql);
	return ok;
}

static void
myt_disconnect(struct loader *l)
{
	if (l->conn != NULL) {
		my_disconnect(MY(l));
		free(l->conn);
		l->conn = NULL;
		l->dbname = NULL;
	}
}

/* $1..$n become literals, "ident" becomes `ident`: the control tables' SQL is written once for both targets. */
static bool
myt_ctl_query(struct loader *l, const char *sql, int n, const char *const *params,
	      struct ctl_result *out)
{
	struct strbuf q = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool ok;

	for (const char *p = sql; *p; p++) {
		if (*p == '"') {
			sb_adds(&q, "`");
		} else if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
			char *end, *v;
			long k = strtol(p + 1, &end, 10);

			v = k <= n ? lit(l, params[k - 1]) : xstrdup("NULL");
			sb_adds(&q, v);
			free(v);
			p = end - 1;
		} else {
			sb_add(&q, p, 1);
		}
	}
	if (out == NULL) {
		ok = my_command(MY(l), q.buf);
		sb_release(&q);
		return ok;
	}
	res = my_query(MY(l), q.buf);
	sb_release(&q);
	if (res == NULL)
		return false;
	out->nrows = (int)mysql_num_rows(res);
	out->ncols = (int)mysql_num_fields(res);
	out->v = xcalloc((size_t)out->nrows * (size_t)out->ncols + 1, sizeof(char *));
	for (int r = 0; (row = mysql_fetch_row(res)) != NULL; r++)
		for (int c = 0; c < out->ncols; c++)
			if (row[c] != NULL)
				out->v[r * out->ncols + c] = xstrdup(row[c]);
	mysql_free_result(res);
	return true;
}

static enum answer
myt_has_rows(struct loader *l, const struct ttable *t)
{
	struct strbuf sql = STRBUF_INIT;
	MYSQL_RES *res;
	enum answer a;

	sb_addf(&sql, "SELECT 1 FROM %s LIMIT 1", t->qname);
	res = my_query(MY(l), sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return ANSWER_ERROR;
	a = mysql_num_rows(res) > 0 ? ANSWER_YES : ANSWER_NO;
	mysql_free_result(res);
	return a;
}

/*
 * InnoDB's table id, which every CREATE and TRUNCATE renews; where the user
 * may not read it (it needs PROCESS) or the name is not found there, the
 * table's creation time.
 */
static char *
myt_table_id(struct loader *l, const struct ttable *t)
{
	struct strbuf sql = STRBUF_INIT, name = STRBUF_INIT;
	char *sch = lit(l, t->schema), *tab = lit(l, t->name), *full, *id = NULL;
	MYSQL_RES *res;
	MYSQL_ROW row;

	sb_addf(&name, "%s/%s", t->schema, t->name);
	full = lit(l, name.buf);
	sb_addf(&sql, "SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME = %s", full);
	if (mysql_real_query(MY(l)->conn, sql.buf, sql.len) == 0 &&
	    (res = mysql_store_result(MY(l)->conn)) != NULL) {
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
			id = xprintf("innodb %s", row[0]);
		mysql_free_result(res);
	}
	if (id == NULL) {
		sb_reset(&sql);
		sb_addf(&sql, "SELECT COALESCE(CREATE_TIME, '') FROM information_schema.TABLES "
			      "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", sch, tab);
		if ((res = my_query(MY(l), sql.buf)) != NULL) {
			row = mysql_fetch_row(res);
			id = row == NULL ? xstrdup("") : xprintf("created %s", row[0]);
			mysql_free_result(res);
		}
	}
	free(sch);
	free(tab);
	free(full);
	sb_release(&sql);
	sb_release(&name);
	return id;
}

/*
 * MySQL has no shared named locks: the run holder takes the task's lock,
 * and a lone loader only checks that no run holds it.
 */
static enum answer
myt_task_lock(struct loader *l, bool exclusive)
{
	struct strbuf sql = STRBUF_INIT, key = STRBUF_INIT;
	char *name;
	MYSQL_RES *res;
	MYSQL_ROW row;
	enum answer taken = ANSWER_ERROR;
	uint64_t h = 1469598103934665603ULL;

	/* lock names are at most 64 characters: the task's name is hashed */
	sb_addf(&key, "%s/%s", l->settings->control_schema, l->task);
	for (size_t i = 0; i < key.len; i++)
		h = (h ^ (uint8_t)key.buf[i]) * 1099511628211ULL;
	sb_reset(&key);
	sb_addf(&key, "dms task %016" PRIx64, h);
	name = lit(l, key.buf);
	sb_addf(&sql, exclusive ? "SELECT GET_LOCK(%s, 0)" : "SELECT IS_FREE_LOCK(%s)", name);
	if ((res = my_query(MY(l), sql.buf)) != NULL) {
		row = mysql_fetch_row(res);
		taken = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0 ? ANSWER_YES : ANSWER_NO;
		mysql_free_result(res);
	}
	free(name);
	sb_release(&sql);
	sb_release(&key);
	return taken;
}

static bool
myt_identity(struct loader *l, char **server, char **database)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if ((*server = my_identity(MY(l))) == NULL)
		return false;
	*database = xstrdup(MY(l)->dbname ? MY(l)->dbname : "");
	if ((res = my_query(MY(l), "SELECT @@lower_case_table_names")) != NULL) {
		row = mysql_fetch_row(res);
		l->tables_fold = row != NULL && row[0] != NULL && strcmp(row[0], "0") != 0;
		mysql_free_result(res);
	}
	return true;
}

/* The key of a values array as a literal tuple "(k1, k2)", or "k1" for a one-column key. */
static bool
key_tuple(struct loader *l, struct ttable *t, const uint8_t *values, size_t len, struct strbuf *out, char *err,
	  size_t errsize)
{
	const struct dms_table *s = t->src;
	struct mp_cursor c;
	struct mp_item it;
	bool ok = true;

	if (s->nkey > 1)
		sb_add(out, "(", 1);
	for (uint32_t k = 0; ok && k < s->nkey; k++) {
		mp_cursor_init(&c, values, len);
		mp_next(&c, &it);
		for (uint32_t i = 0; i <= s->key[k]; i++)
			if (i < s->key[k] ? mp_skip(&c) != MP_OK : mp_next(&c, &it) != MP_OK)
				return false;
		if (k)
			sb_add(out, ",", 1);
		ok = myt_literal(l, t, &t->cols[s->key[k]], &it, values, len, out, err, errsize);
	}
	if (s->nkey > 1)
		sb_add(out, ")", 1);
	return ok;
}

/*
 * Batch apply: multi-row statements, each bounded in bytes: DELETE ... WHERE
 * key IN (...) for the deleted keys, INSERT ... ON DUPLICATE KEY UPDATE for
 * the rest.
 */
static int
myt_apply_net(struct loader *l, struct ttable *t, const struct net_row *rows, size_t n, char *err,
	      size_t errsize, bool *truncation)
{
	size_t limit = l->max_statement && l->max_statement < (4u << 20) ? l->max_statement : (4u << 20);
	struct strbuf sql = STRBUF_INIT, head = STRBUF_INIT;
	int rc = LOAD_DONE;
	uint64_t affected;

	*truncation = false;
	for (int pass = 0; pass < 2 && rc == LOAD_DONE; pass++) {
		char op = pass == 0 ? NET_DELETE : NET_UPSERT;
		size_t count = 0;

		sb_reset(&head);
		if (op == NET_DELETE) {
			sb_addf(&head, "DELETE FROM %s WHERE ", t->qname);
			if (t->src->nkey > 1)
				sb_add(&head, "(", 1);
			for (uint32_t k = 0; k < t->src->nkey; k++)
				sb_addf(&head, "%s%s", k ? "," : "", t->cols[t->src->key[k]].quoted);
			sb_adds(&head, t->src->nkey > 1 ? ") IN (" : " IN (");
		} else {
			sb_addf(&head, "INSERT INTO %s (%s) VALUES ", t->qname, t->collist);
		}
		for (size_t i = 0; i <= n && rc == LOAD_DONE; i++) {
			bool last = i == n;

			if (!last && rows[i].op != op)
				continue;
			if (count > 0 && (last || sql.len >= limit)) {
				if (op == NET_DELETE)
					sb_add(&sql, ")", 1);
				else if (t->setlist[0])
					sb_addf(&sql, " ON DUPLICATE KEY UPDATE %s", t->setlist);
				else
					sb_addf(&sql, " ON DUPLICATE KEY UPDATE %s = %s", t->collist, t->collist);
				rc = myt_apply_sql(l, sql.buf, 0, NULL, &affected, err, errsize, truncation);
				sb_reset(&sql);
				count = 0;
			}
			if (last || rc != LOAD_DONE)
				break;
			sb_add(&sql, count ? "," : head.buf, count ? 1 : head.len);
			if (!(op == NET_DELETE ? key_tuple(l, t, rows[i].values, rows[i].len, &sql, err, errsize)
					       : myt_format_row(l, t, rows[i].values, rows[i].len, &sql, err, errsize))) {
				*truncation = l->format_truncation;
				rc = LOAD_REFUSED;
			}
			count++;
		}
	}
	sb_release(&sql);
	sb_release(&head);
	return rc;
}

const struct target_ops my_target_ops = {
	.connect = myt_connect,
	.control_tables = myt_control_tables,
	.prepare = myt_prepare,
	.begin = myt_begin,
	.rollback = myt_rollback,
	.commit = myt_commit,
	.literal = myt_literal,
	.apply_sql = myt_apply_sql,
	.apply_net = myt_apply_net,
	.stmt_atomic = true,
	.format_row = myt_format_part_row,
	.load_rows = myt_load_rows,
	.part_form = myt_part_form,
	.exception = myt_exception,
	.post_load = myt_post_load,
	.ctl_query = myt_ctl_query,
	.ctl_name = ctl,
	.table_id = myt_table_id,
	.has_rows = myt_has_rows,
	.task_lock = myt_task_lock,
	.identity = myt_identity,
	.ident_max = 64,
	.ident_chars = true,
	.names_fold = true,
	.disconnect = myt_disconnect,
	.batch_bytes = 1 << 20,
};
