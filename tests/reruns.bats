#!/usr/bin/env bats
# Reruns, resumes, refusals and stream integrity (issue 10), against real
# PostgreSQL 15 and MariaDB servers. Every check of the target is made with
# the engines' own clients, never with dms.

load helpers/common
load helpers/servers

setup_file() {
	servers_start pg my
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# pg_release DB: ends the sessions of DB that hold a lock in pg_sleep(60).
pg_release() {
	pg_sql "$1" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
}

# pg_rows DB SQL: a table's rows, sorted, one per line.
pg_rows() { pg_sql "$1" "$2" | sort; }

@test "a finished run's rerun loads afresh: the target follows the source" {
	pg_sql postgres "CREATE DATABASE fin_src"
	pg_sql postgres "CREATE DATABASE fin_dst"
	pg_sql fin_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'a' FROM generate_series(1, 1000) g"
	run --separate-stderr dms-full-load "$(pg_uri fin_src)" "$(pg_uri fin_dst)"
	assert_status 0
	assert_match "loading afresh" "$stderr"
	pg_sql fin_src "UPDATE t SET v = 'b'; INSERT INTO t VALUES (5000, 'b')"
	run --separate-stderr dms-full-load "$(pg_uri fin_src)" "$(pg_uri fin_dst)"
	assert_status 0
	assert_match "loading afresh" "$stderr"
	expect "rows after the rerun" "1001|1001" "$(pg_sql fin_dst "SELECT count(*), count(*) FILTER (WHERE v = 'b') FROM t")"
	# a finished run, then a dropped target table: the rerun creates and loads it
	pg_sql fin_dst "DROP TABLE t"
	run --separate-stderr dms-full-load -q "$(pg_uri fin_src)" "$(pg_uri fin_dst)"
	assert_status 0
	expect "rows after the drop" "1001" "$(pg_sql fin_dst "SELECT count(*) FROM t")"
	# the same default task from a MySQL source, into the schema dropped and created again
	my_sql "CREATE DATABASE fin_my"
	my_sql fin_my "CREATE TABLE t (id int PRIMARY KEY, v varchar(10)); INSERT INTO t SELECT seq, 'm' FROM seq_1_to_10"
	pg_sql fin_dst "DROP SCHEMA public CASCADE; CREATE SCHEMA public"
	echo '{"TargetMetadata": {"TargetSchema": "public"}}' >ts.json
	run --separate-stderr dms-full-load -q -s ts.json "$(my_uri fin_my)" "$(pg_uri fin_dst)"
	assert_status 0
	expect "rows from MySQL" "10|m" "$(pg_sql fin_dst "SELECT count(*), min(v) FROM public.t")"
}

@test "an unfinished run resumes the plan it recorded, even with another split; CreatePkAfterFullLoad" {
	pg_sql postgres "CREATE DATABASE plan_src"
	my_sql "CREATE DATABASE plan_dst"
	pg_sql plan_src "CREATE TABLE t (id int PRIMARY KEY, r real, v text);
		INSERT INTO t SELECT g, g, md5(g::text) FROM generate_series(1, 200000) g;
		UPDATE t SET r = 'NaN' WHERE id = 190000; ANALYZE t"
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}, "FullLoadSettings": {"CreatePkAfterFullLoad": true}}' >stop.json
	run --separate-stderr dms-full-load -j 1 --split-rows 50000 -s stop.json "$(pg_uri plan_src)" "$(my_uri plan_dst)"
	[ "$status" -ne 0 ]
	assert_match "4 parts failed|1 of 4 parts failed" "$stderr"
	expect "parts loaded by the failed run" 3 "$(my_sql dms "SELECT COUNT(*) FROM load_parts WHERE state = 'loaded' AND part <> 'prepared'")"
	pg_sql plan_src "UPDATE t SET r = 1 WHERE id = 190000"
	# another split now: the recorded plan is resumed, not recomputed
	run --separate-stderr dms-full-load -j 2 --split-rows 70000 -s stop.json "$(pg_uri plan_src)" "$(my_uri plan_dst)"
	assert_status 0
	assert_match "resuming: 3 of 4 parts loaded earlier" "$stderr"
	expect "every row once" "200000	200000	20000100000" "$(my_sql plan_dst "SELECT COUNT(*), COUNT(DISTINCT id), SUM(id) FROM t")"
	expect "the primary key" "PRIMARY" "$(my_sql plan_dst "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'plan_dst' AND TABLE_NAME = 't' GROUP BY INDEX_NAME")"
	expect "nothing refused" 0 "$(my_sql dms "SELECT COUNT(*) FROM apply_exceptions")"
	# the run finished: the next one is afresh
	run --separate-stderr dms-full-load -j 2 --split-rows 70000 -s stop.json "$(pg_uri plan_src)" "$(my_uri plan_dst)"
	assert_status 0
	assert_match "loading afresh" "$stderr"
	expect "rows after the fresh run" 200000 "$(my_sql plan_dst "SELECT COUNT(*) FROM t")"
}

@test "progress is trusted only for the table it was recorded for; another source is refused" {
	pg_sql postgres "CREATE DATABASE res_src"
	pg_sql postgres "CREATE DATABASE res_other"
	my_sql "CREATE DATABASE res_dst"
	pg_sql res_src "CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a SELECT g, 'a' FROM generate_series(1, 100) g;
		CREATE TABLE b (id int PRIMARY KEY, r real); INSERT INTO b SELECT g, g FROM generate_series(1, 100) g;
		UPDATE b SET r = 'NaN' WHERE id = 7"
	pg_sql res_other "CREATE TABLE a (id int PRIMARY KEY, v text)"
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr dms-full-load -s stop.json "$(pg_uri res_src)" "$(my_uri res_dst)"
	[ "$status" -ne 0 ]
	expect "a loaded, b not" "100	0" "$(my_sql res_dst "SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM b)")"
	# the unfinished run is from res_src: resuming it from another source is refused
	run --separate-stderr dms-full-load -s stop.json "$(pg_uri res_other)" "$(my_uri res_dst)"
	assert_status 2
	assert_match "unfinished run from another source.*--restart.*--task" "$stderr"
	expect "untouched by the refusal" 100 "$(my_sql res_dst "SELECT COUNT(*) FROM a")"
	# table a, recorded as loaded, is dropped and created again empty by someone else
	my_sql res_dst "DROP TABLE a; CREATE TABLE a (id int PRIMARY KEY, v text)"
	pg_sql res_src "UPDATE b SET r = 1 WHERE id = 7"
	run --separate-stderr dms-full-load -s stop.json "$(pg_uri res_src)" "$(my_uri res_dst)"
	assert_status 0
	assert_match "resuming" "$stderr"
	assert_match "res_dst.a: the table was dropped and created again since this task prepared it" "$stderr"
	expect "a loaded again, b loaded" "100	100" "$(my_sql res_dst "SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM b)")"
	# --restart starts afresh from any source
	run --separate-stderr dms-full-load -q --restart "$(pg_uri res_other)" "$(my_uri res_dst)"
	assert_status 0
	expect "afresh from the other source" 0 "$(my_sql res_dst "SELECT COUNT(*) FROM a")"
}

@test "a loaded table emptied behind the task's back (TRUNCATE, DELETE) is loaded again, not skipped as loaded" {
	pg_sql postgres "CREATE DATABASE emp_src"
	pg_sql postgres "CREATE DATABASE emp_dst"
	my_sql "CREATE DATABASE emp_my"
	pg_sql emp_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'a' FROM generate_series(1, 500) g"
	echo '{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"t","rule-action":"explicit","object-locator":{"schema-name":"public","table-name":"t"}}]}' >t.json
	# a lone loader's rerun of the same stream (no dms-full-load run around it)
	for target in "$(pg_uri emp_dst)" "$(my_uri emp_my)"; do
		dms-extract -m t.json "$(pg_uri emp_src)" >t.dms
		run --separate-stderr dms-load "$target" <t.dms
		assert_status 0
		run --separate-stderr dms-load "$target" <t.dms
		assert_status 0
	done
	expect "loaded once each" "500 500" "$(pg_sql emp_dst "SELECT count(*) FROM public.t") $(my_sql emp_my "SELECT COUNT(*) FROM t")"
	pg_sql emp_dst "TRUNCATE public.t"
	my_sql emp_my "DELETE FROM t"
	for target in "$(pg_uri emp_dst)" "$(my_uri emp_my)"; do
		run --separate-stderr dms-load "$target" <t.dms
		assert_status 0
		assert_match "this task loaded 500 rows into it, and the table is empty now" "$stderr"
	done
	expect "loaded again" "500 500" "$(pg_sql emp_dst "SELECT count(*) FROM public.t") $(my_sql emp_my "SELECT COUNT(*) FROM t")"
	# rows left in the table: progress is trusted (validation finds partial deletes)
	pg_sql emp_dst "DELETE FROM public.t WHERE id > 10"
	run --separate-stderr dms-load "$(pg_uri emp_dst)" <t.dms
	assert_status 0
	expect "not reloaded over its rows" 10 "$(pg_sql emp_dst "SELECT count(*) FROM public.t")"
}

@test "the run holder starts while the source is read: it says ready, reads the tables when told, and its run's source is the one the tables' stream names" {
	pg_sql postgres "CREATE DATABASE rh_src"
	pg_sql postgres "CREATE DATABASE rh_dst"
	pg_sql rh_src "CREATE TABLE t (id int PRIMARY KEY)"
	dms-extract --tables-only "$(pg_uri rh_src)" >tables.dms
	# the caller gives up before the tables are written: nothing is started
	run --separate-stderr dms-load --begin-run --tables tables.dms "$(pg_uri rh_dst)" </dev/null
	assert_status 0
	expect "ready, then nothing" ready "$output"
	expect "no run" 0 "$(pg_sql rh_dst "SELECT count(*) FROM dms.load_runs")"
	# anything but "tables" is refused
	run --separate-stderr dms-load --begin-run --tables tables.dms "$(pg_uri rh_dst)" <<<"go"
	assert_status 2
	assert_match 'expected the line "tables"' "$stderr"
	# told: a run from the source the stream's HELLO names, as --identity names it
	run --separate-stderr dms-load --begin-run --tables tables.dms "$(pg_uri rh_dst)" < <(printf 'tables\n.\n')
	assert_status 0
	assert_match $'^ready\nafresh [0-9a-f]{16}\nok$' "$output"
	expect "the run's source" "$(dms-extract --identity "$(pg_uri rh_src)")" \
		"$(pg_sql rh_dst "SELECT source_engine || E'\t' || source_server || E'\t' || source_database FROM dms.load_runs")"
	run --separate-stderr dms-load --begin-run "$(pg_uri rh_dst)" </dev/null
	assert_status 2
	assert_match "needs --source, --tables or both" "$stderr"
	# that run's plan is empty (its caller ended before it): the next run loads
	# afresh, and a URI with a password beside an @file URI: both used as given
	pg_uri rh_dst >target.uri
	run --separate-stderr dms-full-load -q "$(pg_uri rh_src)" @target.uri
	assert_status 0
	expect "loaded" 1 "$(pg_sql rh_dst "SELECT count(*) FROM pg_tables WHERE tablename = 't'")"
}

@test "small tables go several to a pipeline: a failure in one leaves those before it loaded, and a rerun loads the rest" {
	pg_sql postgres "CREATE DATABASE sm_src"
	my_sql "CREATE DATABASE sm_dst"
	for t in a b c d; do
		pg_sql sm_src "CREATE TABLE $t (id int PRIMARY KEY, r real); INSERT INTO $t SELECT g, g FROM generate_series(1, 50) g"
	done
	pg_sql sm_src "UPDATE c SET r = 'NaN' WHERE id = 7; ANALYZE"
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr dms-full-load -j 2 -s stop.json "$(pg_uri sm_src)" "$(my_uri sm_dst)"
	[ "$status" -ne 0 ]
	# one pipeline for the four, in the plan's order
	assert_match "failed: public.a part 1/1 \(1.1\), public.b part 1/1 \(2.1\), public.c part 1/1 \(3.1\), public.d part 1/1 \(4.1\)" "$stderr"
	assert_match "4 of 4 parts failed or were in a pipeline that failed" "$stderr"
	expect "a and b loaded, c rolled back, d not reached" "50	50	0	0" \
		"$(my_sql sm_dst "SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM b), (SELECT COUNT(*) FROM c), (SELECT COUNT(*) FROM d)")"
	pg_sql sm_src "UPDATE c SET r = 1 WHERE id = 7"
	run --separate-stderr dms-full-load -s stop.json "$(pg_uri sm_src)" "$(my_uri sm_dst)"
	assert_status 0
	assert_match "resuming: 2 of 4 parts loaded earlier" "$stderr"
	expect "every table once" "50	50	50	50" \
		"$(my_sql sm_dst "SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM b), (SELECT COUNT(*) FROM c), (SELECT COUNT(*) FROM d)")"
	# a list of parts is read only as a recorded plan has them
	run --separate-stderr dms-extract --part 1.1,2.1 "$(pg_uri sm_src)"
	assert_status 2
	assert_match "a list of IDs goes with --plan" "$stderr"
	dms-extract --list "$(pg_uri sm_src)" >plan
	run --separate-stderr bash -c "dms-extract --part 4.1,1.1 --plan plan '$(pg_uri sm_src)' | dms-transform --to-json | grep -E '\"kind\":\"(TABLE|PART_END)\"' | grep -oE '\"(name|rows)\":(\"[a-z]\"|[0-9]+)' | head -c 200"
	assert_status 0
	expect "the parts in the list's order" $'"name":"d"\n"rows":50\n"name":"a"\n"rows":50' "$(echo "$output" | grep -v '"name":"id"\|"name":"r"')"
}

@test "the source and the target the same database: refused before anything is touched" {
	pg_sql postgres "CREATE DATABASE same_pg"
	pg_sql same_pg "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "t", "rule-action": "include", "object-locator": {"schema-name": "%", "table-name": "t"}}]}' >m.json
	# another URI text for the same database: the servers' identities are compared
	run --separate-stderr dms-full-load -m m.json "$(pg_uri same_pg)" "$(pg_uri same_pg)?connect_timeout=9"
	assert_status 2
	assert_match "the source and the target are the same database" "$stderr"
	expect "the source's table" 50 "$(pg_sql same_pg "SELECT count(*) FROM t")"
	run --separate-stderr bash -c "dms-extract '$(pg_uri same_pg)' | dms-load '$(pg_uri same_pg)'"
	assert_status 2
	expect "the source's table, after dms-load" 50 "$(pg_sql same_pg "SELECT count(*) FROM t")"
	my_sql "CREATE DATABASE same_my"
	my_sql same_my "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_50"
	run --separate-stderr dms-full-load "$(my_uri same_my)" "$(my_uri same_my)"
	assert_status 2
	assert_match "the source and the target are the same database" "$stderr"
	expect "the MySQL source's table" 50 "$(my_sql same_my "SELECT COUNT(*) FROM t")"
	# another database of the same server is another target
	my_sql "CREATE DATABASE same_my_copy"
	run --separate-stderr dms-full-load -q "$(my_uri same_my)" "$(my_uri same_my_copy)"
	assert_status 0
	expect "the copy" 50 "$(my_sql same_my_copy "SELECT COUNT(*) FROM t")"
}

@test "names that collide or that the target would cut are refused, naming the rename rule" {
	pg_sql postgres "CREATE DATABASE names_src"
	pg_sql names_src "CREATE SCHEMA sa; CREATE SCHEMA sb;
		CREATE TABLE sa.dup (id int PRIMARY KEY); CREATE TABLE sb.dup (id int PRIMARY KEY);
		INSERT INTO sa.dup VALUES (1); INSERT INTO sb.dup VALUES (2)"
	my_sql "CREATE DATABASE names_my"
	run --separate-stderr dms-full-load "$(pg_uri names_src)" "$(my_uri names_my)"
	assert_status 2
	assert_match "sa.dup and sb.dup of the source both load into names_my.dup on the target: add a rename rule" "$stderr"
	expect "nothing created" 0 "$(my_sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'names_my'")"
	# a rename rule that gives two tables one name
	pg_sql postgres "CREATE DATABASE names_dst"
	cat >ren.json <<'JSON'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "all", "rule-action": "include", "object-locator": {"schema-name": "sa", "table-name": "%"}},
 {"rule-type": "selection", "rule-id": "2", "rule-name": "all2", "rule-action": "include", "object-locator": {"schema-name": "sb", "table-name": "%"}},
 {"rule-type": "transformation", "rule-id": "3", "rule-name": "s", "rule-target": "schema", "rule-action": "rename", "object-locator": {"schema-name": "sb"}, "value": "sa"}
]}
JSON
	run --separate-stderr dms-full-load -m ren.json "$(pg_uri names_src)" "$(pg_uri names_dst)"
	assert_status 2
	assert_match "both load into sa.dup on the target" "$stderr"
	expect "no schema created" 0 "$(pg_sql names_dst "SELECT count(*) FROM pg_namespace WHERE nspname IN ('sa', 'sb')")"
	# MySQL names of 64 characters: PostgreSQL keeps 63 bytes
	long=$(printf 'x%.0s' $(seq 1 63))
	my_sql "CREATE DATABASE names_long"
	my_sql names_long "CREATE TABLE \`${long}a\` (id int PRIMARY KEY); CREATE TABLE \`${long}b\` (id int PRIMARY KEY);
		CREATE TABLE c (id int PRIMARY KEY, \`${long}z\` int); INSERT INTO c VALUES (1, 2)"
	pg_sql postgres "CREATE DATABASE names_pg"
	run --separate-stderr dms-full-load "$(my_uri names_long)" "$(pg_uri names_pg)"
	assert_status 2
	assert_match "the table name \"${long}a\" is 64 bytes long; PostgreSQL keeps 63 .*rule-target table, rule-action rename" "$stderr"
	assert_match "names_long.c: the column name \"${long}z\" is 64 bytes long" "$stderr"
	expect "no schema created" 0 "$(pg_sql names_pg "SELECT count(*) FROM pg_namespace WHERE nspname = 'names_long'")"
	# the rules the messages ask for make it load, and validate
	cat >fix.json <<JSON
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "all", "rule-action": "include", "object-locator": {"schema-name": "names_long", "table-name": "%"}},
 {"rule-type": "transformation", "rule-id": "2", "rule-name": "ta", "rule-target": "table", "rule-action": "rename", "object-locator": {"schema-name": "names_long", "table-name": "${long}a"}, "value": "long_a"},
 {"rule-type": "transformation", "rule-id": "3", "rule-name": "tb", "rule-target": "table", "rule-action": "rename", "object-locator": {"schema-name": "names_long", "table-name": "${long}b"}, "value": "long_b"},
 {"rule-type": "transformation", "rule-id": "4", "rule-name": "cz", "rule-target": "column", "rule-action": "rename", "object-locator": {"schema-name": "names_long", "table-name": "c", "column-name": "${long}z"}, "value": "long_z"}
]}
JSON
	run --separate-stderr dms-full-load -q -m fix.json "$(my_uri names_long)" "$(pg_uri names_pg)"
	assert_status 0
	expect "the renamed column" 2 "$(pg_sql names_pg "SELECT long_z FROM names_long.c")"
	run --separate-stderr dms-validate -q -m fix.json "$(my_uri names_long)" "$(pg_uri names_pg)"
	assert_status 0
	# columns that differ only by case are one column on MySQL
	pg_sql names_src "CREATE SCHEMA sc; CREATE TABLE sc.k (id int PRIMARY KEY, \"A\" int, a int)"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "k", "rule-action": "include", "object-locator": {"schema-name": "sc", "table-name": "k"}}]}' >k.json
	run --separate-stderr dms-full-load -m k.json "$(pg_uri names_src)" "$(my_uri names_my)"
	assert_status 2
	assert_match "columns \"A\" and \"a\" would be one column on the target \(MySQL column names ignore case\)" "$stderr"
}

@test "two runs of one task at once: the second is refused, the first loads every row once" {
	pg_sql postgres "CREATE DATABASE two_src"
	pg_sql postgres "CREATE DATABASE two_dst"
	pg_sql two_src "CREATE TABLE nokey (a int, b text); INSERT INTO nokey SELECT g % 7, 'x' FROM generate_series(1, 3000) g"
	dms-full-load -q "$(pg_uri two_src)" "$(pg_uri two_dst)"
	# hold the control table: the first run takes the task's lock, then waits on it
	PGPASSWORD=$DMS_TEST_PASSWORD psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres two_dst \
		-c "BEGIN; LOCK TABLE dms.load_parts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
	locked() { [ "$(pg_sql two_dst "SELECT count(*) FROM pg_locks WHERE relation = 'dms.load_parts'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ]; }
	wait_for "the control table's lock" locked
	dms-full-load -q "$(pg_uri two_src)" "$(pg_uri two_dst)" 2>first.err &
	first=$!
	run_holds() { [ "$(pg_sql two_dst "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ]; }
	wait_for "the first run's lock" run_holds
	run --separate-stderr dms-full-load "$(pg_uri two_src)" "$(pg_uri two_dst)"
	assert_status 2
	assert_match "task dms is running on this target already" "$stderr"
	# a lone dms-load of the task is refused too
	run --separate-stderr bash -c "dms-extract '$(pg_uri two_src)' | dms-load '$(pg_uri two_dst)'"
	assert_status 2
	assert_match "task dms is being run by dms-full-load on this target" "$stderr"
	pg_release two_dst
	wait "$first"
	expect "every row once" "3000" "$(pg_sql two_dst "SELECT count(*) FROM nokey")"
	# the same on MySQL, whose named locks differ
	my_sql "CREATE DATABASE two_my"
	dms-full-load -q "$(pg_uri two_src)" "$(my_uri two_my)"
	mariadb --no-defaults --socket="$MY_SOCKET" -u"$MY_ADMIN" -e "LOCK TABLES dms.load_parts WRITE; SELECT SLEEP(60)" >/dev/null 2>&1 &
	my_locked() { [ "$(my_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'")" = 1 ]; }
	wait_for "the MySQL control table's lock" my_locked
	dms-full-load -q "$(pg_uri two_src)" "$(my_uri two_my)" 2>first.err &
	first=$!
	my_waits() { [ "$(my_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for%metadata lock'")" -ge 1 ]; }
	wait_for "the first run waiting on the control table" my_waits
	run --separate-stderr dms-full-load "$(pg_uri two_src)" "$(my_uri two_my)"
	assert_status 2
	assert_match "task dms is running on this target already" "$stderr"
	my_sql "KILL $(my_sql "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'")"
	wait "$first"
	expect "every row once on MySQL" "3000" "$(my_sql two_my "SELECT COUNT(*) FROM nokey")"
	# dms-validate compares keyless tables: a deleted row is found
	run --separate-stderr dms-validate "$(pg_uri two_src)" "$(my_uri two_my)"
	assert_status 0
	my_sql two_my "DELETE FROM nokey LIMIT 1"
	run --separate-stderr dms-validate "$(pg_uri two_src)" "$(my_uri two_my)"
	assert_status 1
	expect "one row missing" 1 "$(echo "$output" | grep -c '"failure_type":"MISSING_TARGET"')"
	my_sql two_my "DELETE FROM nokey"
	run --separate-stderr dms-validate "$(pg_uri two_src)" "$(my_uri two_my)"
	assert_status 1
	# as many as TableFailureMaxCount (1000) lets it report
	expect "rows missing" 1000 "$(echo "$output" | grep -c '"failure_type":"MISSING_TARGET"')"
	assert_match "TableFailureMaxCount \(1000\) reached" "$stderr"
}

@test "stream integrity: a corrupt LZ4 block and a PART_END that miscounts are refused, nothing bad committed" {
	pg_sql postgres "CREATE DATABASE lz_src"
	pg_sql postgres "CREATE DATABASE lz_dst"
	pg_sql lz_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100000) g; ANALYZE t"
	dms-extract -z --split-rows 25000 "$(pg_uri lz_src)" >good.dms
	# one bit flipped late in the stream: the parts before it load, the part it is in does not
	python3 -c "d = bytearray(open('good.dms', 'rb').read()); d[len(d) * 7 // 10] ^= 1; open('bad.dms', 'wb').write(d)"
	run --separate-stderr dms-load "$(pg_uri lz_dst)" <bad.dms
	assert_status 5
	assert_match "corrupt LZ4 input" "$stderr"
	[ "$(pg_sql lz_dst "SELECT count(*) FROM t")" -gt 0 ]
	# every row committed is a row of the source
	pg_rows lz_dst "SELECT id || ',' || v FROM t" >dst.txt
	pg_rows lz_src "SELECT id || ',' || v FROM t" >src.txt
	expect "rows not of the source" "" "$(comm -23 dst.txt src.txt)"
	run --separate-stderr dms-load "$(pg_uri lz_dst)" <good.dms
	assert_status 0
	expect "all rows" "100000|$(pg_sql lz_src "SELECT md5(string_agg(v, '' ORDER BY id)) FROM t")" \
		"$(pg_sql lz_dst "SELECT count(*), md5(string_agg(v, '' ORDER BY id)) FROM t")"
	# a part with a row removed and its count kept (cut out of the bytes: no
	# writer of dms would write it)
	pg_sql postgres "CREATE DATABASE lz_dst2"
	dms-extract --split-rows 25000 "$(pg_uri lz_src)" >plain.dms
	python3 -c "
import sys
d = open('plain.dms', 'rb').read()
row = bytes([0x93, 0x02, 0x00, 0x92, 0xcd, 0x75, 0x30, 0xd9, 0x20])  # ROW of table 0: [30000, a 32-byte str]
i = d.index(row)
open('cut.dms', 'wb').write(d[:i] + d[i + len(row) + 32:])"
	for reader in "dms-load $(pg_uri lz_dst2)" "dms-transform" "dms-transform --to-json"; do
		run --separate-stderr $reader <cut.dms
		assert_status 5
		assert_match "\(PART_END of public.t\): it counts ([0-9]+) rows, the part had ([0-9]+): rows were lost or added on the way" "$stderr"
		[ "${BASH_REMATCH[2]}" = $((BASH_REMATCH[1] - 1)) ]
	done
	expect "the part rolled back" 0 "$(pg_sql lz_dst2 "SELECT count(*) FROM t WHERE id BETWEEN 25001 AND 49998")"
	expect "the part not recorded" 0 "$(pg_sql lz_dst2 "SELECT count(*) FROM dms.load_parts WHERE part = '2/4'")"
	# a filter that drops rows writes the count of those it passes on
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "t", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "t"}, "filters": [{"filter-type": "source", "column-name": "id", "filter-conditions": [{"filter-operator": "ste", "value": "30000"}]}]}]}' >filter.json
	dms-transform -m filter.json <plain.dms >filtered.dms
	run --separate-stderr dms-transform --to-json <filtered.dms
	assert_status 0
	expect "rows through the filter" 30000 "$(echo "$output" | grep -c '"kind":"ROW"')"
	expect "the counts of the parts" "24999 5001 0 0" "$(echo "$output" | grep '"kind":"PART_END"' | sed 's/.*"rows":\([0-9]*\).*/\1/' | xargs)"
}

@test "progress lines on a terminal, and none otherwise" {
	pg_sql postgres "CREATE DATABASE pr_src"
	pg_sql postgres "CREATE DATABASE pr_dst"
	pg_sql pr_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g; ANALYZE t"
	run --separate-stderr dms-full-load "$(pg_uri pr_src)" "$(pg_uri pr_dst)"
	assert_status 0
	[[ $stderr != *"rows/s  ETA"* ]]
	[[ $stderr != *$'\033'* ]]
	# the loader of task tty blocks at its commit, its rows sent, on the
	# status row another transaction holds uncommitted: the line shows them
	PGPASSWORD=$DMS_TEST_PASSWORD psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres pr_dst \
		-c "BEGIN; INSERT INTO dms.load_parts (task_name, table_owner, table_name, part, state) VALUES ('tty', 'public', 't', '1/1', 'held'); SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
	held() { [ "$(pg_sql pr_dst "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND wait_event = 'PgSleep'")" = 1 ]; }
	wait_for "the held status row" held
	script -qec "dms-full-load --task tty '$(pg_uri pr_src)' '$(pg_uri pr_dst)'" typescript >/dev/null &
	loading=$!
	drawn() { grep -q "public.t 1/1 .* 20000 of ~20000 rows .*rows/s  ETA" typescript; }
	wait_for "the progress line" drawn
	pg_release pr_dst
	wait "$loading"
	expect "loaded" 20000 "$(pg_sql pr_dst "SELECT count(*) FROM t")"
	# dms-validate: a line per table while it is compared
	PGPASSWORD=$DMS_TEST_PASSWORD psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres pr_dst \
		-c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
	script -qec "dms-validate '$(pg_uri pr_src)' '$(pg_uri pr_dst)'" vtypescript >/dev/null &
	validating=$!
	vdrawn() { grep -q "public.t .* of ~20000 rows .*rows/s  ETA" vtypescript; }
	wait_for "the validation's progress line" vdrawn
	pg_release pr_dst
	wait "$validating"
	run --separate-stderr dms-validate "$(pg_uri pr_src)" "$(pg_uri pr_dst)"
	assert_status 0
	[[ $stderr != *"rows/s  ETA"* ]]
}
