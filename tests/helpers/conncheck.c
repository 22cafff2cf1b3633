/*
 * dms-conncheck [--rows] URI SQL: connects through common/pg.c or common/my.c,
 * runs one query and prints its rows tab-separated. A test helper for the
 * connection modules (errors, SQLSTATE, password masking); not installed.
 * --rows: MySQL, connected as dms-load's target is (LOAD DATA LOCAL of its
 * own rows, none armed).
 * Exit: 0 ok, 2 usage, 3 cannot connect, 1 the query failed.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/my.h"
#include "../../common/pg.h"
#include "../../common/uri.h"
#include "../../common/dms.h"

int
main(int argc, char **argv)
{
	struct my_local_rows rows = { 0 };
	bool with_rows = argc > 1 && strcmp(argv[1], "--rows") == 0;

	log_init("dms-conncheck");
	if (with_rows) {
		argv++;
		argc--;
	}
	if (argc != 3) {
		log_usage_error("usage: dms-conncheck [--rows] URI SQL");
		return EXIT_USAGE;
	}
	switch (uri_engine(argv[1])) {
	case ENGINE_PG: {
		struct pg_conn c;
		PGresult *res;

		if (!pg_connect(&c, argv[1]))
			return EXIT_SOURCE;
		if ((res = pg_query(&c, argv[2], 0, NULL)) == NULL)
			return EXIT_RUNTIME;
		for (int r = 0; r < PQntuples(res); r++)
			for (int f = 0; f < PQnfields(res); f++)
				printf("%s%c", PQgetvalue(res, r, f), f + 1 < PQnfields(res) ? '\t' : '\n');
		PQclear(res);
		pg_disconnect(&c);
		return EXIT_OK;
	}
	case ENGINE_MYSQL: {
		struct my_conn c;
		MYSQL_RES *res;
		MYSQL_ROW row;

		if (!(with_rows ? my_connect_rows(&c, argv[1], &rows) : my_connect(&c, argv[1])))
			return EXIT_SOURCE;
		if ((res = my_query(&c, argv[2])) == NULL)
			return EXIT_RUNTIME;
		while ((row = mysql_fetch_row(res)) != NULL)
			for (unsigned f = 0; f < mysql_num_fields(res); f++)
				printf("%s%c", row[f] ? row[f] : "NULL",
				       f + 1 < mysql_num_fields(res) ? '\t' : '\n');
		mysql_free_result(res);
		my_disconnect(&c);
		return EXIT_OK;
	}
	default:
		log_error("%s: not a database URI", argv[1]);
		return EXIT_USAGE;
	}
}
