/*
 * ctl.c: the definition of the table_statistics control table, shared by
 * dms-validate (validation state and counts) and dms-load (the DMS CDC
 * counters: inserts, updates, deletes, DDLs, apply exceptions).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dms.h"
#include "my.h"
#include "pg.h"

static char *
qualified(enum dms_engine e, const char *schema)
{
	char *s = e == ENGINE_PG ? pg_quote_ident(schema) : my_quote_ident(schema);
	char *q = xprintf("%s.%s", s, e == ENGINE_PG ? "\"table_statistics\"" : "`table_statistics`");

	free(s);
	return q;
}

/* The apply counters, as ADD COLUMN clauses or column definitions. */
static const char *const apply_columns[] = {
	"inserts bigint NOT NULL DEFAULT 0", "updates bigint NOT NULL DEFAULT 0",
	"deletes bigint NOT NULL DEFAULT 0", "ddls bigint NOT NULL DEFAULT 0",
	"apply_exceptions bigint NOT NULL DEFAULT 0",
};

char *
ctl_statistics_create(enum dms_engine e, const char *schema)
{
	char *name = qualified(e, schema);
	struct strbuf sql = STRBUF_INIT;

	sb_addf(&sql, "CREATE TABLE IF NOT EXISTS %s (task_name varchar(128) NOT NULL, "
		      "schema_name varchar(128) NOT NULL, table_name varchar(128) NOT NULL, "
		      "target_table text, validation_state varchar(64) NOT NULL DEFAULT 'Not enabled', "
		      "validation_state_details text, validation_pending_records bigint NOT NULL DEFAULT 0, "
		      "validation_failed_records bigint NOT NULL DEFAULT 0, "
		      "validation_suspended_records bigint NOT NULL DEFAULT 0, "
		      "validated_rows bigint NOT NULL DEFAULT 0, validation_resume_key text, ", name);
	for (size_t i = 0; i < sizeof(apply_columns) / sizeof(apply_columns[0]); i++)
		sb_addf(&sql, "%s, ", apply_columns[i]);
	sb_addf(&sql, "last_update_time %s, PRIMARY KEY (task_name, schema_name, table_name))",
		e == ENGINE_PG ? "timestamptz NOT NULL DEFAULT now()"
			       : "datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)");
	if (e != ENGINE_PG)
		sb_adds(&sql, " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
	free(name);
	return sql.buf;
}

/* s as an SQL string literal (quotes doubled; backslashes too for MySQL). */
static void
literal(struct strbuf *sql, enum dms_engine e, const char *s)
{
	sb_add(sql, "'", 1);
	for (; *s; s++) {
		if (*s == '\'' || (*s == '\\' && e != ENGINE_PG))
			sb_add(sql, s, 1);
		sb_add(sql, s, 1);
	}
	sb_add(sql, "'", 1);
}

char *
ctl_statistics_probe(enum dms_engine e, const char *schema)
{
	struct strbuf sql = STRBUF_INIT;

	sb_adds(&sql, "SELECT count(*) FROM information_schema.columns WHERE table_schema = ");
	literal(&sql, e, schema);
	sb_adds(&sql, " AND table_name = 'table_statistics' AND column_name = 'inserts'");
	return sql.buf;
}

char *
ctl_statistics_upgrade(enum dms_engine e, const char *schema)
{
	char *name = qualified(e, schema);
	struct strbuf sql = STRBUF_INIT;

	sb_addf(&sql, "ALTER TABLE %s ", name);
	for (size_t i = 0; i < sizeof(apply_columns) / sizeof(apply_columns[0]); i++)
		sb_addf(&sql, "ADD COLUMN %s, ", apply_columns[i]);
	sb_adds(&sql, "ALTER COLUMN validation_state SET DEFAULT 'Not enabled'");
	free(name);
	return sql.buf;
}
