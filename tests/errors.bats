#!/usr/bin/env bats
# Every bad value is refused alone and logged (issue 16), against real
# PostgreSQL 15 and MariaDB servers: the good rows are on the target, every
# bad row is in apply_exceptions with its key and error, and the summary's
# refused count matches. Checked with the engines' own clients.

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

# refused_in_summary TABLE: the refused column of dms-full-load's summary line for TABLE.
refused_in_summary() {
	echo "$stderr" | awk -v t="$1" '$1 == t { print $6 }'
}

@test "source filters mean what the source means: applied once in a snapshot, typed in dms-transform" {
	pg_sql postgres "CREATE DATABASE flt_src"
	pg_sql postgres "CREATE DATABASE flt_dst"
	pg_sql flt_src "CREATE TABLE e (id int PRIMARY KEY, at timestamptz);
		INSERT INTO e VALUES (1, '2019-12-31 23:00:00+00'), (2, '2020-01-01 00:00:00+00'),
			(3, '2020-01-01 00:00:01+00'), (4, '2020-01-01 00:30:00+01')"
	cat >e.json <<'JSON'
{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "e", "rule-action": "include",
  "object-locator": {"schema-name": "public", "table-name": "e"},
  "filters": [{"filter-type": "source", "column-name": "at", "filter-conditions": [{"filter-operator": "lte", "value": "2020-01-01 00:00:00"}]}]}]}
JSON
	run --separate-stderr dms-full-load -q -m e.json "$(pg_uri flt_src)" "$(pg_uri flt_dst)"
	assert_status 0
	expect "rows at or before midnight UTC" "1 2 4" "$(pg_sql flt_dst "SELECT id FROM e ORDER BY id" | xargs)"
	run --separate-stderr dms-validate -m e.json "$(pg_uri flt_src)" "$(pg_uri flt_dst)"
	assert_status 0
	# the parts say the source filtered them; where dms-transform filters (a
	# stream without that mark, as change records will be), it compares instants
	dms-extract -m e.json "$(pg_uri flt_src)" | dms-transform --to-json >e.jsonl
	grep -q '"kind":"PART_BEGIN".*"filtered":true' e.jsonl
	sed 's/,"filtered":true//' e.jsonl | dms-transform --from-json | dms-transform -m e.json | dms-transform --to-json >out.jsonl
	expect "dms-transform keeps the same rows" "1 2 4" "$(grep '"kind":"ROW"' out.jsonl | sed 's/.*"values":\[\([0-9]*\),.*/\1/' | xargs)"
	# a case-insensitive MySQL collation
	my_sql "CREATE DATABASE flt_my"
	my_sql flt_my "CREATE TABLE s (id int PRIMARY KEY, name varchar(10) COLLATE utf8mb4_general_ci);
		INSERT INTO s VALUES (1, 'abc'), (2, 'ABC'), (3, 'abd')"
	cat >s.json <<'JSON'
{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "s", "rule-action": "include",
  "object-locator": {"schema-name": "flt_my", "table-name": "s"},
  "filters": [{"filter-type": "source", "column-name": "name", "filter-conditions": [{"filter-operator": "eq", "value": "abc"}]}]}]}
JSON
	run --separate-stderr dms-full-load -q -m s.json "$(my_uri flt_my)" "$(pg_uri flt_dst)"
	assert_status 0
	expect "abc and ABC" "1 2" "$(pg_sql flt_dst "SELECT id FROM flt_my.s ORDER BY id" | xargs)"
	dms-extract -m s.json "$(my_uri flt_my)" | dms-transform --to-json | sed 's/,"filtered":true//' |
		dms-transform --from-json | dms-transform -m s.json | dms-transform --to-json >s.jsonl
	expect "dms-transform ignores case for a _ci column" 2 "$(grep -c '"kind":"ROW"' s.jsonl)"
}

@test "a number past the MySQL column's scale is refused, never rounded; the rest loads" {
	pg_sql postgres "CREATE DATABASE num_src"
	my_sql "CREATE DATABASE num_dst"
	pg_sql num_src "CREATE TABLE n (id int PRIMARY KEY, v numeric);
		INSERT INTO n VALUES (1, 0.1234567890123456789012345678901234567), (2, -1e-40), (3, 12.5)"
	run --separate-stderr dms-full-load "$(pg_uri num_src)" "$(my_uri num_dst)"
	assert_status 0
	expect "the row that fits" "3	12.500000000000000000000000000000" "$(my_sql num_dst "SELECT id, v FROM n")"
	expect "the refused rows" "id=1 id=2" "$(my_sql dms "SELECT key_text FROM apply_exceptions WHERE table_name = 'n' ORDER BY key_text" | xargs)"
	assert_match "column v: 0.1234567890123456789012345678901234567 has 0 digits before the point and 37 after; decimal\(65,30\) keeps 35 and 30" \
		"$(my_sql dms "SELECT error FROM apply_exceptions WHERE table_name = 'n' AND key_text = 'id=1'")"
	expect "refused in the summary" 2 "$(refused_in_summary num_dst.n)"
	# DataTruncationErrorPolicy STOP_TASK stops instead
	echo '{"ErrorBehavior": {"DataTruncationErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr dms-full-load --restart -s stop.json "$(pg_uri num_src)" "$(my_uri num_dst)"
	[ "$status" -ne 0 ]
	assert_match "stopping \(STOP_TASK\)" "$stderr"
}

@test "a value dms-transform cannot convert becomes a REJECT: logged to apply_exceptions, counted refused" {
	pg_sql postgres "CREATE DATABASE cdt_src"
	pg_sql postgres "CREATE DATABASE cdt_dst"
	pg_sql cdt_src "CREATE TABLE c (id int PRIMARY KEY, v text); INSERT INTO c VALUES (1, '10'), (2, 'abc'), (3, '40')"
	cat >cdt.json <<'JSON'
{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "c", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "c"}},
 {"rule-type": "transformation", "rule-id": "2", "rule-name": "t", "rule-target": "column", "rule-action": "change-data-type",
  "object-locator": {"schema-name": "public", "table-name": "c", "column-name": "v"}, "data-type": {"type": "int4"}}]}
JSON
	run --separate-stderr dms-full-load -m cdt.json "$(pg_uri cdt_src)" "$(pg_uri cdt_dst)"
	assert_status 0
	expect "the rows converted" "1|10 3|40" "$(pg_sql cdt_dst "SELECT id, v FROM c ORDER BY id" | xargs)"
	expect "the refused one" "id=2|id=2, v='abc'|column v: the value cannot become int4 (change-data-type)" \
		"$(pg_sql cdt_dst "SELECT key_text, statement, error FROM dms.apply_exceptions WHERE table_name = 'c'")"
	expect "refused in the summary" 1 "$(refused_in_summary public.c)"
	# IGNORE_RECORD drops it with a warning, nothing logged; STOP_TASK stops
	echo '{"ErrorBehavior": {"DataErrorPolicy": "IGNORE_RECORD"}}' >ign.json
	run --separate-stderr bash -c "dms-extract '$(pg_uri cdt_src)' | dms-transform -m cdt.json -s ign.json | dms-transform --to-json"
	assert_status 0
	assert_match "record [0-9]+ \(ROW of public.c\): column v: the value cannot become int4 \(change-data-type\); dropped \(IGNORE_RECORD\)" "$stderr"
	[[ $output != *'"kind":"REJECT"'* ]]
	expect "rows passed on" 2 "$(echo "$output" | grep -c '"kind":"ROW"')"
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr bash -c "dms-extract '$(pg_uri cdt_src)' | dms-transform -m cdt.json -s stop.json >/dev/null"
	assert_status 1
	assert_match "stopping \(DataErrorPolicy STOP_TASK\)" "$stderr"
}

@test "PostgreSQL target: thousands of refused rows in one part, NUL bytes anywhere: every one logged, the rest loads" {
	my_sql "CREATE DATABASE many_src"
	my_sql many_src "SET SESSION sql_mode = '';
		CREATE TABLE z (id int PRIMARY KEY, d date, s text);
		INSERT INTO z SELECT seq, IF(seq % 2 = 0, '0000-00-00', '2020-01-01'),
			IF(seq % 1000 = 7, CONCAT('a', CHAR(0), 'b'), 'ok') FROM seq_1_to_30000"
	pg_sql postgres "CREATE DATABASE many_dst"
	run --separate-stderr dms-full-load "$(my_uri many_src)" "$(pg_uri many_dst)"
	assert_status 0
	# odd ids load, but those with a NUL byte (7, 1007, ...: 30 of them)
	expect "rows loaded" 14970 "$(pg_sql many_dst "SELECT count(*) FROM many_src.z")"
	expect "rows logged" 15030 "$(pg_sql many_dst "SELECT count(*) FROM dms.apply_exceptions WHERE table_name = 'z'")"
	expect "the NUL rows logged" 30 "$(pg_sql many_dst "SELECT count(*) FROM dms.apply_exceptions WHERE table_name = 'z' AND error LIKE '%NUL byte%'")"
	expect "no row both loaded and logged" 0 "$(pg_sql many_dst "SELECT count(*) FROM many_src.z z JOIN dms.apply_exceptions e ON e.key_text = 'id=' || z.id")"
	expect "refused in the summary" 15030 "$(refused_in_summary many_src.z)"
	# a DO_NOTHING reload: every row a duplicate key, every one logged
	pg_sql postgres "CREATE DATABASE dup_src"
	pg_sql postgres "CREATE DATABASE dup_dst"
	pg_sql dup_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 20000) g"
	dms-full-load -q "$(pg_uri dup_src)" "$(pg_uri dup_dst)"
	echo '{"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}' >dn.json
	run --separate-stderr dms-full-load -s dn.json "$(pg_uri dup_src)" "$(pg_uri dup_dst)"
	assert_status 0
	expect "rows" 20000 "$(pg_sql dup_dst "SELECT count(*) FROM t")"
	expect "duplicates logged" 20000 "$(pg_sql dup_dst "SELECT count(*) FROM dms.apply_exceptions WHERE table_name = 't' AND error LIKE '%duplicate key%'")"
	expect "refused in the summary" 20000 "$(refused_in_summary public.t)"
}

@test "MySQL target: a text column in a key fits the key limit; a value over max_allowed_packet is refused alone" {
	pg_sql postgres "CREATE DATABASE key_src"
	my_sql "CREATE DATABASE key_dst"
	pg_sql key_src "CREATE TABLE k (a int, b text, v text, PRIMARY KEY (a, b));
		INSERT INTO k VALUES (1, 'x', 'v'), (2, repeat('y', 800), 'long');
		CREATE TABLE big (id int PRIMARY KEY, t text);
		INSERT INTO big SELECT g, 'small' FROM generate_series(1, 100) g;
		INSERT INTO big VALUES (1000, repeat('x', 20000000))"
	# its own task: the STOP_TASK run above left the default task unfinished on this server
	run --separate-stderr dms-full-load --task keys "$(pg_uri key_src)" "$(my_uri key_dst)"
	assert_status 0
	assert_match "key_dst.k column b: varchar\(768\) would make a key longer than InnoDB's 3072 bytes: it is varchar\(767\)" "$stderr"
	expect "the primary key" "a,b" "$(my_sql key_dst "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_NAME = 'k' AND INDEX_NAME = 'PRIMARY'")"
	expect "the short key loaded" "1	1" "$(my_sql key_dst "SELECT a, LENGTH(b) FROM k")"
	assert_match "Data (too long|truncated) for column 'b'" "$(my_sql dms "SELECT error FROM apply_exceptions WHERE table_name = 'k'")"
	expect "the rest of big" "100	5" "$(my_sql key_dst "SELECT COUNT(*), MAX(LENGTH(t)) FROM big")"
	expect "the oversized row" "id=1000" "$(my_sql dms "SELECT key_text FROM apply_exceptions WHERE table_name = 'big'")"
	assert_match "max_allowed_packet [0-9]+" "$(my_sql dms "SELECT error FROM apply_exceptions WHERE table_name = 'big'")"
	expect "refused in the summary" 1 "$(refused_in_summary key_dst.big)"
}
