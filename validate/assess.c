/*
 * assess.c: the premigration assessment (dms-validate --assess).
 *
 * Each check has the name of the DMS individual assessment it follows and
 * ends passed, warning or failed; a finding names its object, what is wrong
 * and what to do. Failed means the migration as configured would fail (or
 * lose data without saying so); warning means it would run but something
 * needs a decision. The report is one JSON document on stdout and lines for
 * people on stderr.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "../common/db/catalog.h"
#include "../common/map/rules.h"
#include "../common/dms.h"

enum sev { SEV_PASSED, SEV_WARNING, SEV_FAILED };
static const char *const sev_names[] = { "passed", "warning", "failed" };

struct check {
	const char *name;
	enum sev status;
	json_t *findings;
};

struct assess {
	const struct aopts *o;
	bool cdc, full_load;
	struct vconn c[2];	/* source, target (engine NONE without one) */
	const struct source_ops *ops;
	struct source src;
	struct src_table *tables;
	int ntables;
	struct check *checks;
	int nchecks;
	int status;		/* an error that stopped a check */
};

static struct check *
check(struct assess *a, const char *name)
{
	for (int i = 0; i < a->nchecks; i++)
		if (strcmp(a->checks[i].name, name) == 0)
			return &a->checks[i];
	a->checks = xrealloc(a->checks, (size_t)(a->nchecks + 1) * sizeof(*a->checks));
	a->checks[a->nchecks] = (struct check){ name, SEV_PASSED, json_array() };
	return &a->checks[a->nchecks++];
}

static void
finding(struct assess *a, const char *name, enum sev sev, const char *object, const char *action,
	const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
finding(struct assess *a, const char *name, enum sev sev, const char *object, const char *action,
	const char *fmt, ...)
{
	struct check *c = check(a, name);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev > c->status)
		c->status = sev;
	json_array_append_new(c->findings, json_pack("{s:s, s:s, s:s, s:s}", "severity", sev_names[sev],
						     "object", object, "message", msg, "action", action));
}

static char *
label(const struct src_table *t)
{
	return xprintf("%s.%s", t->d.schema, t->d.name);
}

/* One value of a query, as text (NULL when the query fails or returns nothing; logged). */
static char *
value(struct vconn *c, const char *sql)
{
	struct vrows r;
	char *v = NULL;

	if (!vquery(c, sql, &r))
		return NULL;
	if (r.nrows > 0 && vcell(&r, 0, 0, NULL))
		v = xstrdup(vcell(&r, 0, 0, NULL));
	vrows_free(&r);
	return v;
}

/* A server variable of MySQL (NULL when the server has none). */
static char *
my_var(struct vconn *c, const char *name)
{
	struct strbuf sql = STRBUF_INIT;
	struct vrows r;
	char *v = NULL;

	sb_adds(&sql, "SHOW GLOBAL VARIABLES LIKE ");
	vliteral(&sql, name);
	if (vquery(c, sql.buf, &r)) {
		if (r.nrows > 0 && vcell(&r, 0, 1, NULL))
			v = xstrdup(vcell(&r, 0, 1, NULL));
		vrows_free(&r);
	}
	sb_release(&sql);
	return v;
}

/* Whether one of SHOW GRANTS' lines gives priv (or ALL PRIVILEGES) on *.* or on db.*. */
static bool
my_has(const struct vrows *grants, const char *priv, const char *db)
{
	char dbpat[300];

	snprintf(dbpat, sizeof(dbpat), " ON `%s`.*", db ? db : "");
	for (int i = 0; i < grants->nrows; i++) {
		const char *g = vcell(grants, i, 0, NULL), *on = g ? strstr(g, " ON ") : NULL, *p;

		if (on == NULL || !(strncmp(on, " ON *.*", 7) == 0 || (db && strncmp(on, dbpat, strlen(dbpat)) == 0)))
			continue;
		if (((p = strstr(g, "ALL PRIVILEGES")) != NULL && p < on) || ((p = strstr(g, priv)) != NULL && p < on))
			return true;
	}
	return false;
}

/* ---- the source ---- */

static void
pg_source_checks(struct assess *a)
{
	struct vconn *c = &a->c[0];
	char *v;

	v = value(c, "SELECT current_setting('server_version_num')");
	check(a, "postgres-check-dbversion");
	if (v && atoi(v) < 100000)
		finding(a, "postgres-check-dbversion", SEV_FAILED, "server", "upgrade to PostgreSQL 10 or later",
			"server version %s is older than 10", v);
	free(v);
	if (!a->cdc)
		return;
	v = value(c, "SELECT current_setting('wal_level')");
	check(a, "postgres-check-wallevel");
	if (v && strcmp(v, "logical") != 0)
		finding(a, "postgres-check-wallevel", SEV_FAILED, "server",
			"set wal_level = logical (postgresql.conf or ALTER SYSTEM) and restart the server",
			"wal_level is %s; change data capture needs logical", v);
	free(v);
	v = value(c, "SELECT current_setting('max_replication_slots')::int - "
		     "(SELECT count(*) FROM pg_replication_slots)");
	check(a, "postgres-check-replication-slots-count");
	if (v && atoi(v) < 1)
		finding(a, "postgres-check-replication-slots-count", SEV_FAILED, "server",
			"raise max_replication_slots (restart needed) or drop unused slots",
			"no free replication slot: %s free of max_replication_slots", v);
	free(v);
	v = value(c, "SELECT current_setting('max_wal_senders')::int - "
		     "(SELECT count(*) FROM pg_stat_replication)");
	check(a, "postgres-check-maxwalsenders");
	if (v && atoi(v) < 1)
		finding(a, "postgres-check-maxwalsenders", SEV_FAILED, "server",
			"raise max_wal_senders (restart needed)",
			"no free WAL sender: %s free of max_wal_senders", v);
	free(v);
	v = value(c, "SELECT current_setting('wal_sender_timeout')::interval < interval '10 s' "
		     "AND current_setting('wal_sender_timeout')::interval <> interval '0'");
	check(a, "postgres-check-walsenderstimeout");
	if (v && strcmp(v, "t") == 0)
		finding(a, "postgres-check-walsenderstimeout", SEV_WARNING, "server",
			"set wal_sender_timeout to 10s or more (or 0)",
			"wal_sender_timeout is under 10 seconds: a slow capture would be cut off");
	free(v);
	v = value(c, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user");
	check(a, "postgres-check-replication-privileges");
	if (v && strcmp(v, "t") != 0)
		finding(a, "postgres-check-replication-privileges", SEV_FAILED, "user",
			"ALTER ROLE ... REPLICATION (or use a role that has it)",
			"the connecting role has no REPLICATION attribute: it cannot create a slot or stream changes");
	free(v);
	v = value(c, "SELECT count(*) FROM pg_stat_activity WHERE xact_start < now() - interval '10 minutes' "
		     "AND pid <> pg_backend_pid()");
	check(a, "postgres-check-longrunningtxn");
	if (v && atoi(v) > 0)
		finding(a, "postgres-check-longrunningtxn", SEV_WARNING, "server",
			"end those transactions: creating the slot waits for them",
			"%s transactions have been open for more than 10 minutes", v);
	free(v);
	v = value(c, "SELECT count(*) FROM pg_prepared_xacts");
	check(a, "postgres-check-preparedtxn");
	if (v && atoi(v) > 0)
		finding(a, "postgres-check-preparedtxn", SEV_WARNING, "server",
			"COMMIT PREPARED or ROLLBACK PREPARED them: slot creation waits for them",
			"%s prepared transactions are open", v);
	free(v);
}

static void
my_source_checks(struct assess *a)
{
	struct vconn *c = &a->c[0];
	char *v;
	struct vrows grants;

	if (!a->cdc)
		return;
	v = my_var(c, "log_bin");
	check(a, "mysql-check-binlog-enabled");
	if (v == NULL || strcmp(v, "ON") != 0)
		finding(a, "mysql-check-binlog-enabled", SEV_FAILED, "server",
			"start the server with log_bin (and binlog_format=ROW)",
			"binary logging is off: there is no change log to capture");
	free(v);
	v = my_var(c, "binlog_format");
	check(a, "mysql-check-binlog-format");
	if (v && strcmp(v, "ROW") != 0)
		finding(a, "mysql-check-binlog-format", SEV_FAILED, "server", "SET GLOBAL binlog_format = 'ROW'",
			"binlog_format is %s; change data capture needs ROW", v);
	free(v);
	v = my_var(c, "binlog_row_image");
	check(a, "mysql-check-binlog-image");
	if (v && strcmp(v, "FULL") != 0)
		finding(a, "mysql-check-binlog-image", SEV_FAILED, "server", "SET GLOBAL binlog_row_image = 'FULL'",
			"binlog_row_image is %s; whole before and after images need FULL", v);
	free(v);
	v = my_var(c, "binlog_row_metadata");
	check(a, "mysql-check-binlog-row-metadata");
	if (v && strcmp(v, "FULL") != 0)
		finding(a, "mysql-check-binlog-row-metadata", SEV_WARNING, "server",
			"SET GLOBAL binlog_row_metadata = 'FULL'",
			"binlog_row_metadata is %s: row events do not carry column names, so a table changed "
			"by DDL during capture cannot be decoded safely", v);
	free(v);
	v = my_var(c, "server_id");
	check(a, "mysql-check-server-id");
	if (v && atoll(v) < 1)
		finding(a, "mysql-check-server-id", SEV_FAILED, "server", "SET GLOBAL server_id = 1 (any non-zero id)",
			"server_id is %s; a binlog client needs a server_id of 1 or more", v);
	free(v);
	v = my_var(c, "binlog_expire_logs_seconds");
	if (v == NULL) {
		char *days = my_var(c, "expire_logs_days");

		if (days)
			v = xprintf("%.0f", atof(days) * 86400);
		free(days);
	}
	check(a, "mysql-check-binlog-retention-time");
	if (v && atof(v) > 0 && atof(v) < 86400)
		finding(a, "mysql-check-binlog-retention-time", SEV_WARNING, "server",
			"keep binary logs for at least 24 hours (binlog_expire_logs_seconds)",
			"binary logs are kept for %s seconds: a stopped task could not resume after that", v);
	free(v);
	v = my_var(c, "log_bin_compress");
	check(a, "mysql-check-binlog-compression");
	if (v && strcmp(v, "ON") == 0)
		finding(a, "mysql-check-binlog-compression", SEV_FAILED, "server", "SET GLOBAL log_bin_compress = OFF",
			"binary log compression is on; compressed row events are not decoded");
	free(v);
	check(a, "mysql-check-replication-privileges");
	if (!vquery(c, "SHOW GRANTS FOR CURRENT_USER()", &grants))
		return;
	if (!(my_has(&grants, "REPLICATION SLAVE", NULL) &&
	      (my_has(&grants, "REPLICATION CLIENT", NULL) || my_has(&grants, "BINLOG MONITOR", NULL))))
		finding(a, "mysql-check-replication-privileges", SEV_FAILED, "user",
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the user",
			"the user lacks REPLICATION SLAVE or REPLICATION CLIENT (BINLOG MONITOR): it cannot read the binlog");
	vrows_free(&grants);
}

/* Per column of a source table: LOB sizes, and types the target cannot hold as they are. */
static void
column_checks(struct assess *a, const struct src_table *t, const char *name, const char *qt)
{
	struct vconn *c = &a->c[0];
	enum dms_engine se = c->engine, te = a->c[1].engine;
	bool limited = a->o->settings->support_lobs && !a->o->settings->full_lob_mode &&
		       a->o->settings->limited_lob_mode;
	struct strbuf sql = STRBUF_INIT;
	char *v;

	for (uint32_t k = 0; k < t->d.ncols; k++) {
		const struct dms_column *col = &t->d.cols[k];
		char *q = a->ops->quote_ident(col->name), *obj = xprintf("%s.%s", name, col->name);

		if (dms_type_is_lob(col->type) && limited && a->full_load) {
			sb_addf(&sql, se == ENGINE_PG ? "SELECT max(octet_length(%s)) FROM %s"
						      : "SELECT MAX(LENGTH(%s)) FROM %s", q, qt);
			v = value(c, sql.buf);
			sb_reset(&sql);
			if (v && atoll(v) > a->o->settings->lob_max_size_kb * 1024)
				finding(a, "limited-lob-size", SEV_WARNING, obj,
					"set TargetMetadata.LobMaxSize to at least the largest value (in KB), "
					"or use FullLobMode",
					"the largest value is %s bytes; limited LOB mode keeps %" PRId64
					" KB and truncates the rest", v, a->o->settings->lob_max_size_kb);
			free(v);
		}
		if (!a->o->settings->support_lobs && dms_type_is_lob(col->type))
			finding(a, "limited-lob-size", SEV_WARNING, obj, "set TargetMetadata.SupportLobs true",
				"SupportLobs is false: this LOB column is not migrated");
		if (te == ENGINE_MYSQL && se == ENGINE_PG) {
			const char *n = col->native ? col->native : "";

			if (col->native == NULL || strchr(n, '[') != NULL)
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"accept the text form, or change the column's type with a change-data-type rule",
					"type %s has no MySQL equivalent: it is stored as text", col->native ? n : "(user-defined)");
			else if (col->type == DT_INTERVAL || strncmp(n, "time with time zone", 19) == 0)
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"accept the text form", "%s has no MySQL equivalent: it is stored as text", n);
			else if (col->type == DT_DATETIMETZ)
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"accept UTC wall-clock times, or keep the zone in another column",
					"%s becomes datetime: the instant is kept in UTC, the zone is not", n);
			else if (col->type == DT_NUMERIC && (col->precision > 65 || col->scale > 30 || col->precision < 0))
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"give the column a precision of at most 65 and a scale of at most 30",
					"%s becomes decimal(65,30): digits beyond those (and NaN) cannot be held", n);
			else if (col->type == DT_REAL4 || col->type == DT_REAL8)
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"make sure the column holds no NaN or Infinity",
					"%s: MySQL cannot hold NaN or Infinity; such rows would be refused", n);
		} else if (te == ENGINE_PG && se == ENGINE_MYSQL) {
			const char *n = col->native ? col->native : "";

			if (strncmp(n, "set", 3) == 0 || strncmp(n, "enum", 4) == 0 || strncmp(n, "bit", 3) == 0 ||
			    strstr(n, "geometry") || strstr(n, "point") || strstr(n, "polygon"))
				finding(a, "unsupported-or-lossy-data-types", SEV_WARNING, obj,
					"accept the text form, or map the type with a change-data-type rule",
					"%s has no PostgreSQL equivalent: it is stored as text", n);
			else if (col->type == DT_DATE || col->type == DT_DATETIME) {
				sb_addf(&sql, "SELECT COUNT(*) FROM %s WHERE %s < '0001-01-01'", qt, q);
				v = value(c, sql.buf);
				sb_reset(&sql);
				if (v && atoll(v) > 0)
					finding(a, "unsupported-or-lossy-data-types", SEV_FAILED, obj,
						"replace the zero dates (with NULL, say) before the migration",
						"%s rows hold zero dates ('0000-00-00'), which PostgreSQL cannot hold", v);
				free(v);
			}
		}
		free(q);
		free(obj);
	}
	sb_release(&sql);
}

/* Per table of the source: keys, privileges, storage engines, then its columns. */
static void
table_checks(struct assess *a)
{
	struct vconn *c = &a->c[0];
	enum dms_engine se = c->engine, te = a->c[1].engine;

	check(a, "all-check-source-selection-rules");
	if (a->ntables == 0)
		finding(a, "all-check-source-selection-rules", SEV_FAILED, "mapping",
			"check the selection rules' schema-name and table-name against the source",
			"no table of the source is selected");
	check(a, "table-with-no-primary-key-or-unique-constraint");
	check(a, se == ENGINE_PG ? "postgres-check-select-object-privileges" : "mysql-check-select-privileges");
	check(a, "limited-lob-size");
	if (te != ENGINE_NONE && te != se)
		check(a, "unsupported-or-lossy-data-types");
	if (se == ENGINE_MYSQL)
		check(a, "mysql-check-table-storage-engine");
	for (int i = 0; i < a->ntables; i++) {
		const struct src_table *t = &a->tables[i];
		char *name = label(t), *qt = src_table_qualified(t, a->ops->quote_ident);
		struct strbuf sql = STRBUF_INIT;
		char *v;
		bool unique = t->d.nkey > 0;
		char *ident = NULL;	/* PostgreSQL: REPLICA IDENTITY, d n f i */

		for (int x = 0; x < t->d.nindexes; x++)
			unique |= t->d.indexes[x].unique;
		if (se == ENGINE_PG) {
			sb_addf(&sql, "SELECT relreplident FROM pg_class WHERE oid = %" PRId64, t->oid);
			ident = value(c, sql.buf);
			sb_reset(&sql);
		}
		/* keys */
		if (!unique) {
			if (a->cdc && !(ident && strcmp(ident, "f") == 0))
				finding(a, "table-with-no-primary-key-or-unique-constraint", SEV_FAILED, name,
					se == ENGINE_PG ? "add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL"
							: "add a primary key or a unique index",
					"no primary key or unique index: its updates and deletes cannot be applied by key");
			else if (a->o->settings->enable_validation || a->o->settings->validation_only)
				finding(a, "table-with-no-primary-key-or-unique-constraint", SEV_WARNING, name,
					"add a primary key or a unique index, or leave the table out of validation",
					"no primary key or unique index: the table cannot be validated");
		}
		if (a->cdc && t->d.nkey > 0 && ident && strcmp(ident, "n") == 0)
			finding(a, "table-with-no-primary-key-or-unique-constraint", SEV_FAILED, name,
				"ALTER TABLE ... REPLICA IDENTITY DEFAULT",
				"REPLICA IDENTITY NOTHING: its updates and deletes carry no key");
		free(ident);
		/* privileges */
		if (se == ENGINE_PG) {
			sb_addf(&sql, "SELECT has_table_privilege(%" PRId64 "::oid, 'SELECT')", t->oid);
			v = value(c, sql.buf);
			sb_reset(&sql);
			if (v && strcmp(v, "t") != 0)
				finding(a, "postgres-check-select-object-privileges", SEV_FAILED, name,
					"GRANT SELECT ON the table TO the user", "the user cannot SELECT from the table");
			free(v);
		} else {
			sb_addf(&sql, "SELECT * FROM %s LIMIT 0", qt);
			if (mysql_query(c->my.conn, sql.buf) != 0) {
				finding(a, "mysql-check-select-privileges", SEV_FAILED, name,
					"GRANT SELECT ON the table TO the user", "the user cannot read the table: %s",
					mysql_error(c->my.conn));
			} else {
				MYSQL_RES *res = mysql_store_result(c->my.conn);

				mysql_free_result(res);
			}
			sb_reset(&sql);
			sb_adds(&sql, "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
			vliteral(&sql, t->d.schema);
			sb_adds(&sql, " AND TABLE_NAME = ");
			vliteral(&sql, t->d.name);
			v = value(c, sql.buf);
			sb_reset(&sql);
			if (v && strcasecmp(v, "InnoDB") != 0)
				finding(a, "mysql-check-table-storage-engine", SEV_WARNING, name,
					"ALTER TABLE ... ENGINE=InnoDB before the migration",
					"storage engine %s is not transactional: the snapshot and its binlog position "
					"are not consistent for it", v);
			free(v);
		}
		column_checks(a, t, name, qt);
		sb_release(&sql);
		free(name);
		free(qt);
	}
}

/* ---- the target ---- */

static void
target_checks(struct assess *a)
{
	struct vconn *c = &a->c[1];
	const struct task_settings *s = a->o->settings;
	struct rules *rules = a->o->mapping ? rules_new(a->o->mapping) : NULL;
	char **targets = xcalloc((size_t)a->ntables + 1, sizeof(char *));
	struct strbuf sql = STRBUF_INIT;
	bool source_text = false;

	if (a->o->mapping && rules == NULL) {
		a->status = EXIT_USAGE;
		free(targets);
		return;
	}
	check(a, "target-table-prep-mode");
	check(a, "target-name-collisions");
	check(a, "target-character-set");
	check(a, c->engine == ENGINE_PG ? "postgres-check-target-privileges" : "mysql-check-target-privileges");
	for (int i = 0; i < a->ntables; i++)
		for (uint32_t k = 0; k < a->tables[i].d.ncols; k++)
			source_text |= vclass_of(a->tables[i].d.cols[k].type) == VC_TEXT;
	/* the database as a whole */
	if (c->engine == ENGINE_PG) {
		char *enc = value(c, "SELECT pg_encoding_to_char(encoding) FROM pg_database "
				     "WHERE datname = current_database()");
		char *create = value(c, "SELECT has_database_privilege(current_database(), 'CREATE')");

		if (enc && strcmp(enc, "UTF8") != 0 && source_text)
			finding(a, "target-character-set", SEV_FAILED, "database",
				"create the target database with ENCODING 'UTF8'",
				"the target database's encoding is %s: it cannot hold every character of the source", enc);
		if (create && strcmp(create, "t") != 0 && s->prep_mode != PREP_DO_NOTHING)
			finding(a, "postgres-check-target-privileges", SEV_FAILED, "user",
				"GRANT CREATE ON DATABASE ... TO the user",
				"the user cannot create schemas in the target database (prep mode %s needs it)",
				prep_mode_name(s->prep_mode));
		free(enc);
		free(create);
	} else {
		struct vrows grants;
		const char *db = s->target_schema ? s->target_schema : c->my.dbname;
		static const char *const privs[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP" };

		if (vquery(c, "SHOW GRANTS FOR CURRENT_USER()", &grants))
			for (size_t p = 0; p < sizeof(privs) / sizeof(privs[0]); p++)
				if (!my_has(&grants, privs[p], db))
					finding(a, "mysql-check-target-privileges", SEV_FAILED, "user",
						"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON the database TO the user",
						"the user lacks %s on the target database", privs[p]);
		vrows_free(&grants);
	}
	for (int i = 0; i < a->ntables; i++) {
		const struct src_table *t = &a->tables[i];
		char *name = label(t), *tschema, *tname;
		struct rules_shape shape = { 0 };
		struct vrows r;
		bool exists = false;

		if (rules) {
			if (mapped_shape(rules, t, &shape) != EXIT_OK) {
				a->status = EXIT_USAGE;
				free(name);
				break;
			}
			tschema = shape.schema;
			tname = shape.name;
		} else {
			tschema = t->d.schema;
			tname = t->d.name;
		}
		if (s->target_schema)
			tschema = s->target_schema;
		else if (c->engine == ENGINE_MYSQL)
			tschema = c->my.dbname;
		targets[i] = xprintf("%s.%s", tschema, tname);
		for (int j = 0; j < i; j++) {
			if (targets[j] && strcmp(targets[j], targets[i]) == 0)
				finding(a, "target-name-collisions", SEV_FAILED, name,
					"rename one of the two with a transformation rule",
					"%s.%s and this table both become %s on the target", a->tables[j].d.schema,
					a->tables[j].d.name, targets[i]);
			else if (targets[j] && strcasecmp(targets[j], targets[i]) == 0)
				finding(a, "target-name-collisions", SEV_WARNING, name,
					"rename one of the two, or convert the names to one case",
					"%s.%s becomes %s, which differs from this table's target %s only in case",
					a->tables[j].d.schema, a->tables[j].d.name, targets[j], targets[i]);
		}
		/* the table on the target, against the prep mode */
		sb_reset(&sql);
		if (c->engine == ENGINE_PG) {
			sb_adds(&sql, "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				      "WHERE c.relkind IN ('r', 'p') AND n.nspname = ");
		} else {
			sb_adds(&sql, "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
		}
		vliteral(&sql, tschema);
		sb_adds(&sql, c->engine == ENGINE_PG ? " AND c.relname = " : " AND TABLE_NAME = ");
		vliteral(&sql, tname);
		if (vquery(c, sql.buf, &r)) {
			exists = r.nrows > 0;
			vrows_free(&r);
		}
		if (!exists && s->validation_only)
			finding(a, "target-table-prep-mode", SEV_FAILED, targets[i],
				"load the table first, or leave it out of the validation-only task",
				"the target has no table %s to validate", targets[i]);
		else if (!exists && s->prep_mode == PREP_DO_NOTHING)
			finding(a, "target-table-prep-mode", SEV_WARNING, targets[i],
				"create the table yourself if it needs its own definition",
				"the target has no table %s: with DO_NOTHING dms-load creates it with dms's type "
				"mapping and its primary key only", targets[i]);
		else if (exists && s->prep_mode == PREP_DROP_AND_CREATE)
			finding(a, "target-table-prep-mode", SEV_WARNING, targets[i],
				"use TRUNCATE_BEFORE_LOAD or DO_NOTHING to keep the table's definition",
				"the target table exists and DROP_AND_CREATE drops it, with its data, grants and triggers");
		/* existing MySQL columns that cannot hold every character */
		if (exists && c->engine == ENGINE_MYSQL && s->prep_mode != PREP_DROP_AND_CREATE) {
			sb_reset(&sql);
			sb_adds(&sql, "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
				      "WHERE CHARACTER_SET_NAME IS NOT NULL AND CHARACTER_SET_NAME <> 'utf8mb4' "
				      "AND TABLE_SCHEMA = ");
			vliteral(&sql, tschema);
			sb_adds(&sql, " AND TABLE_NAME = ");
			vliteral(&sql, tname);
			if (vquery(c, sql.buf, &r)) {
				for (int k = 0; k < r.nrows; k++) {
					char *obj = xprintf("%s.%s", targets[i], vcell(&r, k, 0, NULL));

					finding(a, "target-character-set", SEV_WARNING, obj,
						"ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4",
						"character set %s cannot hold every character the source may have",
						vcell(&r, k, 1, NULL));
					free(obj);
				}
				vrows_free(&r);
			}
		}
		rules_shape_free(&shape);
		free(name);
	}
	for (int i = 0; i < a->ntables; i++)
		free(targets[i]);
	free(targets);
	sb_release(&sql);
	rules_free(rules);
}

/* ---- the report ---- */

static int
report(struct assess *a)
{
	json_t *doc = json_object(), *list = json_array();
	enum sev worst = SEV_PASSED;
	char *text;

	for (int i = 0; i < a->nchecks; i++) {
		struct check *c = &a->checks[i];
		size_t k;
		json_t *f;

		if (c->status > worst)
			worst = c->status;
		json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "name", c->name, "status",
						      sev_names[c->status], "findings", c->findings));
		if (c->status == SEV_PASSED) {
			log_info("passed: %s", c->name);
			continue;
		}
		json_array_foreach(c->findings, k, f)
			if (log_enabled(LOG_WARNING))
				fprintf(stderr, "%s: %s: %s: %s: %s. To do: %s\n", log_progname(),
					json_string_value(json_object_get(f, "severity")), c->name,
					json_string_value(json_object_get(f, "object")),
					json_string_value(json_object_get(f, "message")),
					json_string_value(json_object_get(f, "action")));
	}
	json_object_set_new(doc, "status", json_string(sev_names[worst]));
	json_object_set_new(doc, "migration_type", json_string(a->o->migration_type));
	json_object_set_new(doc, "source", json_string(a->c[0].label));
	json_object_set_new(doc, "target", a->c[1].engine ? json_string(a->c[1].label) : json_null());
	json_object_set_new(doc, "tables", json_integer(a->ntables));
	json_object_set_new(doc, "assessments", list);
	text = json_dumps(doc, JSON_COMPACT);
	printf("%s\n", text);
	free(text);
	json_decref(doc);
	if (log_enabled(LOG_WARNING)) {
		int n[3] = { 0 };

		for (int i = 0; i < a->nchecks; i++)
			n[a->checks[i].status]++;
		fprintf(stderr, "%s: assessment %s: %d checks passed, %d warnings, %d failed\n", log_progname(),
			sev_names[worst], n[SEV_PASSED], n[SEV_WARNING], n[SEV_FAILED]);
	}
	return worst == SEV_FAILED ? 1 : EXIT_OK;
}

int
assess_run(const struct aopts *o)
{
	struct assess a = { .o = o };
	struct src_name *names = NULL;
	int nnames = 0, status;

	a.cdc = strcmp(o->migration_type, "full-load") != 0;
	a.full_load = strcmp(o->migration_type, "cdc") != 0;
	a.ops = uri_engine(o->source_uri) == ENGINE_PG ? &pg_source_ops : &my_source_ops;
	a.src.mapping = o->mapping;
	if (!vconnect(&a.c[0], o->source_uri)) {
		status = EXIT_SOURCE;
		goto done;
	}
	if (a.c[0].engine == ENGINE_MYSQL && a.c[0].my.dbname == NULL) {
		log_error("%s: the URI names no database (mysql://host/database)", a.c[0].label);
		status = EXIT_USAGE;
		goto done;
	}
	/* the catalog reads on the same connection */
	a.src.engine = a.c[0].engine;
	a.src.conn = a.c[0].engine == ENGINE_PG ? (void *)&a.c[0].pg : (void *)&a.c[0].my;
	if (o->target_uri && !vconnect(&a.c[1], o->target_uri)) {
		status = EXIT_TARGET;
		goto done;
	}
	if (a.c[1].engine == ENGINE_MYSQL && a.c[1].my.dbname == NULL && o->settings->target_schema == NULL) {
		log_error("%s: the URI names no database (mysql://host/database) and no TargetSchema is set",
			  a.c[1].label);
		status = EXIT_USAGE;
		goto done;
	}
	if (!catalog_select(a.ops, &a.src, o->settings->control_schema, &names, &nnames)) {
		status = EXIT_SOURCE;
		goto done;
	}
	a.tables = xcalloc((size_t)nnames + 1, sizeof(*a.tables));
	for (int i = 0; i < nnames; i++) {
		if (!a.ops->describe(&a.src, &names[i], &a.tables[a.ntables])) {
			status = EXIT_SOURCE;
			goto done;
		}
		a.ntables++;
	}
	if (a.c[0].engine == ENGINE_PG)
		pg_source_checks(&a);
	else
		my_source_checks(&a);
	table_checks(&a);
	if (a.c[1].engine != ENGINE_NONE)
		target_checks(&a);
	status = a.status ? a.status : report(&a);
done:
	for (int i = 0; i < a.ntables; i++)
		src_table_free(&a.tables[i]);
	free(a.tables);
	for (int i = 0; i < nnames; i++) {
		free(names[i].schema);
		free(names[i].name);
	}
	free(names);
	for (int i = 0; i < a.nchecks; i++)
		json_decref(a.checks[i].findings);
	free(a.checks);
	a.src.conn = NULL;	/* a.c[0]'s, closed below */
	a.ops->disconnect(&a.src);
	if (a.c[0].engine)
		vdisconnect(&a.c[0]);
	if (a.c[1].engine)
		vdisconnect(&a.c[1]);
	return status;
}
