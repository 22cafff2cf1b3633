#!/usr/bin/env bats
# The test harness's own servers, and the connection modules of common/
# (common/pg.c, common/my.c) against them: queries, errors, password masking.

load helpers/common
load helpers/servers

setup_file() {
	servers_start pg my
}

teardown_file() {
	servers_stop
}

@test "PostgreSQL answers a query, with logical replication enabled" {
	run pg_sql postgres "SELECT current_setting('wal_level') || ' ' || current_setting('server_version_num')::int / 10000"
	assert_status 0
	[ "$output" = "logical 15" ]
}

@test "MariaDB answers a query, with ROW binlog and full row images" {
	run my_sql "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id"
	assert_status 0
	[ "$output" = "$(printf '1\tROW\tFULL\tFULL\t1')" ]
}

@test "common/pg.c connects with a URI and reads rows" {
	run --separate-stderr dms-conncheck "$PG_URI" "SELECT 1 + 1, current_setting('application_name')"
	assert_status 0
	assert_match '^2	dms-conncheck\[[0-9]+\]$' "$output"
}

@test "common/my.c connects with a URI and reads rows in UTC and utf8mb4" {
	run --separate-stderr dms-conncheck "$MY_URI/mysql" "SELECT 1 + 1, @@session.time_zone, @@character_set_client, DATABASE()"
	assert_status 0
	[ "$output" = "$(printf '2\t+00:00\tutf8mb4\tmysql')" ]
}

@test "a wrong PostgreSQL password: exit 3, the server named, the password masked" {
	run --separate-stderr dms-conncheck "postgresql://postgres:wrongpw@127.0.0.1:$PG_PORT/postgres" "SELECT 1"
	assert_status 3
	assert_match 'postgresql://postgres:\*\*\*\*@127\.0\.0\.1' "$stderr"
	assert_match 'password authentication failed' "$stderr"
	[[ $stderr != *wrongpw* ]]
}

@test "a wrong MariaDB password: exit 3 with the error number and SQLSTATE, masked" {
	run --separate-stderr dms-conncheck "mysql://dms:wrongpw@127.0.0.1:$MY_PORT/mysql" "SELECT 1"
	assert_status 3
	assert_match 'mysql://dms:\*\*\*\*@127\.0\.0\.1' "$stderr"
	assert_match 'error 1045, SQLSTATE 28000' "$stderr"
	[[ $stderr != *wrongpw* ]]
}

@test "an unreachable server: exit 3 and a clear message, no hang" {
	port=$(free_port)
	run --separate-stderr timeout 30 dms-conncheck "postgresql://u:pw@127.0.0.1:$port/db" "SELECT 1"
	assert_status 3
	assert_match 'cannot connect' "$stderr"
	run --separate-stderr timeout 30 dms-conncheck "mysql://u:pw@127.0.0.1:$port/db" "SELECT 1"
	assert_status 3
	assert_match "Can't connect" "$stderr"
	assert_match 'error 2002' "$stderr"
}

@test "a failing query reports the SQLSTATE" {
	run --separate-stderr dms-conncheck "$PG_URI" "SELECT * FROM no_such_table"
	assert_status 1
	assert_match 'SQLSTATE 42P01' "$stderr"
	run --separate-stderr dms-conncheck "$MY_URI/mysql" "SELECT * FROM no_such_table"
	assert_status 1
	assert_match 'error 1146, SQLSTATE 42S02' "$stderr"
}

@test "malformed URIs are refused with the password masked" {
	run --separate-stderr dms-conncheck "mysql://u:topsecret@host:notaport/db" "SELECT 1"
	assert_status 3
	assert_match 'malformed URI' "$stderr"
	[[ $stderr != *topsecret* ]]
}
