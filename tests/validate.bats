#!/usr/bin/env bats
# dms-validate: equal databases in all four directions report equal; each kind
# of seeded difference is found, exactly, with its key; a transformed target
# validates against its mapping; the ValidationSettings; resume; bad input.

load helpers/common
load helpers/servers
load helpers/fidelity

setup_file() {
	servers_start pg my
	fidelity_pg_source pgsrc
	fidelity_my_source mysrc
	# the type matrix, copied in all four directions
	pg_sql postgres "CREATE DATABASE pgpg"
	pg_sql postgres "CREATE DATABASE mypg"
	my_sql "CREATE DATABASE pgmy"
	my_sql "CREATE DATABASE mymy"
	dms-extract -q "$(pg_uri pgsrc)" | dms-load -q "$(pg_uri pgpg)"
	dms-extract -q "$(pg_uri pgsrc)" | dms-load -q "$(my_uri pgmy)"
	dms-extract -q "$(my_uri mysrc)" | dms-load -q "$(pg_uri mypg)"
	dms-extract -q "$(my_uri mysrc)" | dms-load -q "$(my_uri mymy)"
	# a bigger table for seeded differences, in several partitions
	pg_sql postgres "CREATE DATABASE seed"
	pg_sql seed "CREATE TABLE s (id int PRIMARY KEY, n numeric(12,3), ts timestamp(6), t text, v varchar(20));
		INSERT INTO s SELECT g, g / 7.0, timestamp '2020-01-01' + g * interval '1.000001 second',
		repeat(chr(65 + g % 26), g % 40), CASE WHEN g % 5 = 0 THEN NULL ELSE 'v' || g END
		FROM generate_series(1, 50000) g"
	cat >"$BATS_FILE_TMPDIR/small.json" <<'EOF'
{"ValidationSettings": {"PartitionSize": 1000, "ThreadCount": 3}}
EOF
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# seed_copy SRC-URI DB ENGINE: a fresh copy of seed.s on the target
seed_copy() {
	if [ "$3" = pg ]; then
		pg_sql postgres "DROP DATABASE IF EXISTS $2" >/dev/null
		pg_sql postgres "CREATE DATABASE $2"
		dms-extract -q "$1" | dms-load -q "$(pg_uri "$2")"
	else
		my_sql "DROP DATABASE IF EXISTS $2; CREATE DATABASE $2"
		dms-extract -q "$1" | dms-load -q "$(my_uri "$2")"
	fi
}

@test "dms-validate: --help, --version, usage errors" {
	run --separate-stderr dms-validate --help
	assert_status 0
	assert_match "^usage: dms-validate" "$output"
	run dms-validate --version
	assert_status 0
	assert_match "^dms-validate \(dms\) [0-9]" "$output"
	run --separate-stderr dms-validate --frobnicate
	assert_status 2
	assert_match "Try 'dms-validate --help'" "$stderr"
	run --separate-stderr dms-validate "$(pg_uri pgsrc)"
	assert_status 2
	assert_match "expected a source URI and a target URI" "$stderr"
	run --separate-stderr dms-validate "$(pg_uri pgsrc)" "ftp://x/y"
	assert_status 2
	assert_match "ftp://x/y: not a database URI \\(postgresql://... or mysql://...\\)" "$stderr"
	run --separate-stderr dms-validate --max-rate lots "$(pg_uri pgsrc)" "$(pg_uri pgpg)"
	assert_status 2
	echo '{"ValidationSettings": {"PartitionSize": "big"}}' >bad.json
	run --separate-stderr dms-validate -s bad.json "$(pg_uri pgsrc)" "$(pg_uri pgpg)"
	assert_status 2
	assert_match "ValidationSettings.PartitionSize: expected an integer" "$stderr"
	echo '{"rules": [' >broken.json
	run --separate-stderr dms-validate -m broken.json "$(pg_uri pgsrc)" "$(pg_uri pgpg)"
	assert_status 2
	echo '{"ValidationSettings": {"ValidationOnly": true}}' >vo.json
	run --separate-stderr dms-validate -s vo.json "$(pg_uri pgsrc)" "$(pg_uri pgpg)"
	assert_status 2
	assert_match "ValidationOnly needs FullLoadSettings.TargetTablePrepMode DO_NOTHING" "$stderr"
}

@test "every type of the type matrix validates equal in all four directions" {
	for pair in "$(pg_uri pgsrc) $(pg_uri pgpg)" "$(pg_uri pgsrc) $(my_uri pgmy)" \
		"$(my_uri mysrc) $(pg_uri mypg)" "$(my_uri mysrc) $(my_uri mymy)"; do
		# shellcheck disable=SC2086 # two URIs
		run --separate-stderr dms-validate -vv $pair
		echo "$pair: $stderr"
		assert_status 0
		[ -z "$output" ]
		assert_match "Validated, 3 rows" "$stderr"
		# equal values hash equal on both engines: no partition needed narrowing
		if [[ "$stderr" == *narrowing* ]]; then
			echo "$pair: the checksums differ on equal tables" >&2
			return 1
		fi
	done
	[ "$(pg_sql pgpg "SELECT validation_state, validated_rows FROM dms.table_statistics WHERE table_name = 'pgtypes'")" = "Validated|3" ]
	[ "$(my_sql pgmy "SELECT validation_state FROM dms.table_statistics WHERE table_name = 'pgtypes'")" = "Validated" ]
}

@test "a changed value in every type is found, with the column and both values" {
	pg_sql pgpg "UPDATE public.pgtypes SET b = NOT b, i2 = i2 + 1, i4 = i4 + 1, i8 = i8 + 1,
		n = n + 0.000001, nn = nn + 1, r4 = r4 * 2, r8 = r8 * 2, vc = 'x', ch = 'x', tx = 'x',
		by = '\\x01', d = d + 1, t = t + interval '1 microsecond', ts = ts + interval '1 microsecond',
		tz = tz + interval '1 microsecond', j = '{\"b\": 1}', js = '{\"b\": 1}',
		u = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', iv = iv + interval '1 second', arr = '{9}' WHERE id = 1"
	run --separate-stderr dms-validate "$(pg_uri pgsrc)" "$(pg_uri pgpg)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	assert_match '"key":\{"key":\["1"\]\},"failure_type":"RECORD_DIFF"' "$output"
	for c in b i2 i4 i8 n nn r4 r8 vc ch tx by d t ts tz j js u iv arr; do
		assert_match "\"$c\":\\{\"source\":" "$output"
	done
	assert_match '"n":\{"source":"-12345678901234.123456","target":"-12345678901234.123455"\}' "$output"
	assert_match '"ts":\{"source":"1970-01-01 00:00:00.000000","target":"1970-01-01 00:00:00.000001"\}' "$output"
	[ "$(pg_sql pgpg "SELECT failure_type, key_text FROM dms.validation_failures WHERE table_name = 'pgtypes'")" = 'RECORD_DIFF|{"key":["1"]}' ]
	[ "$(pg_sql pgpg "SELECT validation_state, validation_failed_records FROM dms.table_statistics WHERE table_name = 'pgtypes'")" = "Mismatched records|1" ]

	my_sql pgmy "UPDATE pgtypes SET b = 1 - b, i8 = i8 + 1, r8 = r8 * 2, tx = 'x', \`by\` = x'01',
		tz = tz + INTERVAL 1 MICROSECOND, u = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' WHERE id = 1"
	run --separate-stderr dms-validate "$(pg_uri pgsrc)" "$(my_uri pgmy)"
	assert_status 1
	for c in b i8 r8 tx by tz u; do
		assert_match "\"$c\":\\{\"source\":" "$output"
	done
	[ "$(echo "$output" | wc -l)" -eq 1 ]

	pg_sql mypg "UPDATE mysrc.mytypes SET ti = ti + 1, bu = bu - 1, de = de + 0.0001, fl = fl * 2,
		db = db * 2, vc = 'x', bl = '\\x01', dt = dt + interval '1 microsecond',
		ts = ts + interval '1 millisecond', tm = tm + interval '1 second', yr = yr + 1 WHERE id = 1"
	run --separate-stderr dms-validate "$(my_uri mysrc)" "$(pg_uri mypg)"
	assert_status 1
	for c in ti bu de fl db vc bl dt ts tm yr; do
		assert_match "\"$c\":\\{\"source\":" "$output"
	done
	assert_match '"de":\{"source":"-12.34","target":"-12.3399"\}' "$output"
}

@test "seeded differences are found exactly, with their keys, in all four directions" {
	seed_copy "$(pg_uri seed)" seed_pg pg
	pg_sql seed_pg "UPDATE s SET n = n + 0.001 WHERE id = 10;
		UPDATE s SET ts = ts + interval '1 microsecond' WHERE id = 20000;
		UPDATE s SET v = '' WHERE id = 30000;
		UPDATE s SET t = t || 'x' WHERE id = 45000;
		DELETE FROM s WHERE id = 40000;
		INSERT INTO s VALUES (60000, 1, now(), 'extra', 'extra')"
	seed_copy "$(pg_uri seed)" seed_my my
	my_sql seed_my "UPDATE s SET n = n + 0.001 WHERE id = 10;
		UPDATE s SET ts = ts + INTERVAL 1 MICROSECOND WHERE id = 20000;
		UPDATE s SET v = '' WHERE id = 30000;
		UPDATE s SET t = CONCAT(t, 'x') WHERE id = 45000;
		DELETE FROM s WHERE id = 40000;
		INSERT INTO s VALUES (60000, 1, NOW(), 'extra', 'extra')"
	expect_seeded() {
		run --separate-stderr dms-validate -s "${SETTINGS:-$BATS_FILE_TMPDIR/small.json}" "$1" "$2"
		echo "$1 -> $2: $stderr"
		assert_status 1
		[ "$(echo "$output" | wc -l)" -eq 6 ]
		assert_match "\"key\":\\{\"key\":\\[\"10\"\\]\\},\"failure_type\":\"RECORD_DIFF\",\"details\":\\{\"n\":" "$output"
		assert_match "\"key\":\\{\"key\":\\[\"20000\"\\]\\},\"failure_type\":\"RECORD_DIFF\",\"details\":\\{\"ts\":" "$output"
		assert_match "\"key\":\\{\"key\":\\[\"30000\"\\]\\},\"failure_type\":\"RECORD_DIFF\",\"details\":\\{\"v\":\\{\"source\":$3,\"target\":$4\\}" "$output"
		assert_match "\"key\":\\{\"key\":\\[\"45000\"\\]\\},\"failure_type\":\"RECORD_DIFF\",\"details\":\\{\"t\":" "$output"
		assert_match "\"key\":\\{\"key\":\\[\"40000\"\\]\\},\"failure_type\":\"$5\"" "$output"
		assert_match "\"key\":\\{\"key\":\\[\"60000\"\\]\\},\"failure_type\":\"$6\"" "$output"
	}
	expect_seeded "$(pg_uri seed)" "$(pg_uri seed_pg)" null '""' MISSING_TARGET MISSING_SOURCE
	expect_seeded "$(pg_uri seed)" "$(my_uri seed_my)" null '""' MISSING_TARGET MISSING_SOURCE
	# the other way round: the changed copy is the source
	seed_copy "$(pg_uri seed)" seed_pg2 pg
	jq_free='{"TargetMetadata": {"TargetSchema": "public"}, "ValidationSettings": {"PartitionSize": 1000}}'
	echo "$jq_free" >"$BATS_FILE_TMPDIR/public.json"
	SETTINGS="$BATS_FILE_TMPDIR/public.json" expect_seeded "$(my_uri seed_my)" "$(pg_uri seed_pg2)" '""' null MISSING_SOURCE MISSING_TARGET
	seed_copy "$(pg_uri seed)" seed_my2 my
	expect_seeded "$(my_uri seed_my)" "$(my_uri seed_my2)" '""' null MISSING_SOURCE MISSING_TARGET
	[ "$(my_sql seed_my2 "SELECT COUNT(*) FROM dms.validation_failures WHERE table_owner = 'seed_my' AND table_name = 's'")" -eq 6 ]
	# without the LOB column t, the partitions are checked as one MD5 of their rows in key order
	echo '{"ValidationSettings": {"PartitionSize": 1000, "SkipLobColumns": true}}' >nolob.json
	echo '{"TargetMetadata": {"TargetSchema": "public"}, "ValidationSettings": {"PartitionSize": 1000, "SkipLobColumns": true}}' >nolob-public.json
	for run_args in "nolob.json $(pg_uri seed) $(my_uri seed_my)" "nolob-public.json $(my_uri seed_my) $(pg_uri seed_pg2)"; do
		# shellcheck disable=SC2086 # settings and two URIs
		run --separate-stderr dms-validate -s $run_args
		assert_status 1
		[ "$(echo "$output" | wc -l)" -eq 5 ]
		[[ $output != *'"45000"'* ]]
		assert_match '"key":\["20000"\]\},"failure_type":"RECORD_DIFF","details":\{"ts":' "$output"
	done
}

@test "a transformed target validates against its mapping, and its differences are named as on the target" {
	pg_sql postgres "CREATE DATABASE tr"
	cat >map.json <<'EOF'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "s", "rule-action": "include",
  "object-locator": {"schema-name": "public", "table-name": "s"},
  "filters": [{"filter-type": "source", "column-name": "id",
               "filter-conditions": [{"filter-operator": "lte", "value": "30000"}]}]},
 {"rule-type": "transformation", "rule-id": "2", "rule-name": "t", "rule-action": "rename",
  "rule-target": "table", "object-locator": {"schema-name": "public", "table-name": "s"}, "value": "seeded"},
 {"rule-type": "transformation", "rule-id": "3", "rule-name": "c", "rule-action": "rename",
  "rule-target": "column", "object-locator": {"schema-name": "public", "table-name": "s", "column-name": "v"},
  "value": "label"},
 {"rule-type": "transformation", "rule-id": "4", "rule-name": "r", "rule-action": "remove-column",
  "rule-target": "column", "object-locator": {"schema-name": "public", "table-name": "s", "column-name": "t"}},
 {"rule-type": "transformation", "rule-id": "5", "rule-name": "a", "rule-action": "add-column",
  "rule-target": "column", "object-locator": {"schema-name": "public", "table-name": "s"},
  "value": "twice", "expression": "$id * 2", "data-type": {"type": "int8"}},
 {"rule-type": "transformation", "rule-id": "6", "rule-name": "sch", "rule-action": "rename",
  "rule-target": "schema", "object-locator": {"schema-name": "public"}, "value": "moved"}
]}
EOF
	dms-extract -q -m map.json "$(pg_uri seed)" | dms-transform -m map.json | dms-load -q "$(pg_uri tr)"
	[ "$(pg_sql tr "SELECT count(*) FROM moved.seeded")" -eq 30000 ]
	run --separate-stderr dms-validate -v -m map.json "$(pg_uri seed)" "$(pg_uri tr)"
	echo "$stderr"
	assert_status 0
	assert_match "public.s \\(target moved.seeded\\): Validated, 30000 rows" "$stderr"
	assert_match "column twice is not compared: added by an add-column rule" "$stderr"
	pg_sql tr "UPDATE moved.seeded SET label = 'changed' WHERE id = 7; DELETE FROM moved.seeded WHERE id = 8"
	run --separate-stderr dms-validate -m map.json "$(pg_uri seed)" "$(pg_uri tr)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 2 ]
	assert_match '"key":\["7"\]\},"failure_type":"RECORD_DIFF","details":\{"label":\{"source":"v7","target":"changed"\}\}' "$output"
	assert_match '"key":\["8"\]\},"failure_type":"MISSING_TARGET"' "$output"
	# without the mapping the target table is not where the source's is
	run --separate-stderr dms-validate "$(pg_uri seed)" "$(pg_uri tr)"
	assert_status 1
	assert_match "Table error.*the target has no table public.s" "$stderr"
}

@test "TableFailureMaxCount and FailureMaxCount stop the reports; ThreadCount 1 finds the same" {
	seed_copy "$(pg_uri seed)" cap pg
	pg_sql cap "UPDATE s SET t = 'changed' WHERE id % 1000 = 0"
	echo '{"ValidationSettings": {"PartitionSize": 1000, "TableFailureMaxCount": 7}}' >tf.json
	run --separate-stderr dms-validate -s tf.json "$(pg_uri seed)" "$(pg_uri cap)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 7 ]
	assert_match "TableFailureMaxCount \\(7\\) reached" "$stderr"
	echo '{"ValidationSettings": {"PartitionSize": 1000, "FailureMaxCount": 3}}' >ff.json
	run --separate-stderr dms-validate -s ff.json "$(pg_uri seed)" "$(pg_uri cap)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 3 ]
	assert_match "FailureMaxCount \\(3\\) reached" "$stderr"
	echo '{"ValidationSettings": {"PartitionSize": 700, "ThreadCount": 1}}' >t1.json
	run --separate-stderr dms-validate -s t1.json "$(pg_uri seed)" "$(pg_uri cap)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 50 ]
}

@test "SkipLobColumns, ValidationPartialLobSize and override-validation-function" {
	pg_sql postgres "CREATE DATABASE lob_src"
	pg_sql postgres "CREATE DATABASE lob_dst"
	pg_sql lob_src "CREATE TABLE l (id int PRIMARY KEY, doc text, name varchar(20));
		INSERT INTO l VALUES (1, repeat('a', 5000), 'abc'), (2, 'short', 'def')"
	dms-extract -q "$(pg_uri lob_src)" | dms-load -q "$(pg_uri lob_dst)"
	pg_sql lob_dst "UPDATE l SET doc = repeat('a', 4000) || 'b' WHERE id = 1"
	run --separate-stderr dms-validate "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 1
	assert_match '"doc":' "$output"
	echo '{"ValidationSettings": {"ValidationPartialLobSize": 2}}' >partial.json
	run --separate-stderr dms-validate -s partial.json "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 0
	echo '{"ValidationSettings": {"SkipLobColumns": true}}' >skip.json
	run --separate-stderr dms-validate -s skip.json "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 0
	pg_sql lob_dst "UPDATE l SET name = upper(name)"
	run --separate-stderr dms-validate -s skip.json "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 1
	[ "$(echo "$output" | wc -l)" -eq 2 ]
	cat >override.json <<'EOF'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "s", "rule-action": "include",
  "object-locator": {"schema-name": "public", "table-name": "%"}},
 {"rule-type": "validation", "rule-id": "2", "rule-name": "v", "rule-target": "column",
  "rule-action": "override-validation-function",
  "object-locator": {"schema-name": "public", "table-name": "l", "column-name": "name"},
  "source-function": "upper(${column-name})", "target-function": "${column-name}"}
]}
EOF
	run --separate-stderr dms-validate -m override.json -s skip.json "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 0
	sed 's/"override-validation-function"/"replace-everything"/' override.json >badrule.json
	run --separate-stderr dms-validate -m badrule.json "$(pg_uri lob_src)" "$(pg_uri lob_dst)"
	assert_status 2
	assert_match "override-validation-function" "$stderr"
}

@test "text keys whose order differs between the engines' collations validate by key" {
	my_sql "CREATE DATABASE coll; CREATE TABLE coll.k (name varchar(20) PRIMARY KEY, v int)
		DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci"
	my_sql coll "INSERT INTO k VALUES ('a', 1), ('B', 2), ('c', 3), ('D', 4), ('_x', 5), ('é', 6), ('Z', 7)"
	pg_sql postgres "CREATE DATABASE coll"
	dms-extract -q "$(my_uri coll)" | dms-load -q "$(pg_uri coll)"
	echo '{"ValidationSettings": {"PartitionSize": 2}}' >p2.json
	run --separate-stderr dms-validate -s p2.json "$(my_uri coll)" "$(pg_uri coll)"
	echo "$stderr"
	assert_status 0
	echo '{"ValidationSettings": {"PartitionSize": 2, "HandleCollationDiff": true}}' >hc.json
	run --separate-stderr dms-validate -s hc.json "$(my_uri coll)" "$(pg_uri coll)"
	assert_status 0
	pg_sql coll "UPDATE coll.k SET v = 0 WHERE name = 'D'; DELETE FROM coll.k WHERE name = 'a'"
	for s in p2.json hc.json; do
		run --separate-stderr dms-validate -s $s "$(my_uri coll)" "$(pg_uri coll)"
		assert_status 1
		[ "$(echo "$output" | wc -l)" -eq 2 ]
		assert_match '"key":\["D"\]\},"failure_type":"RECORD_DIFF"' "$output"
		assert_match '"key":\["a"\]\},"failure_type":"MISSING_TARGET"' "$output"
	done
}

@test "an interrupted validation resumes where it stopped" {
	seed_copy "$(pg_uri seed)" res pg
	pg_sql res "UPDATE s SET v = 'late' WHERE id = 49999"
	echo '{"ValidationSettings": {"PartitionSize": 1000, "ThreadCount": 1}}' >r.json
	dms-validate -s r.json --max-rate 10000 "$(pg_uri seed)" "$(pg_uri res)" >out1 2>err1 &
	pid=$!
	sleep 1.5
	kill -TERM $pid
	status=0
	wait $pid || status=$?
	cat err1
	assert_status 7
	[ ! -s out1 ]
	state=$(pg_sql res "SELECT validation_state, validated_rows, validation_resume_key IS NOT NULL FROM dms.table_statistics WHERE table_name = 's'")
	assert_match "^Pending records\\|[0-9]+\\|t$" "$state"
	done_rows=$(echo "$state" | cut -d'|' -f2)
	[ "$done_rows" -gt 0 ] && [ "$done_rows" -lt 50000 ]
	run --separate-stderr dms-validate -v -s r.json --resume "$(pg_uri seed)" "$(pg_uri res)"
	echo "$stderr"
	assert_status 1
	assert_match "resuming after key" "$stderr"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	assert_match '"key":\["49999"\]' "$output"
	[ "$(pg_sql res "SELECT validation_state, validated_rows FROM dms.table_statistics WHERE table_name = 's'")" = "Mismatched records|50000" ]
	# a finished table is not validated again on --resume
	run --separate-stderr dms-validate -v --resume "$(pg_uri seed)" "$(pg_uri res)"
	assert_status 1
	assert_match "Mismatched records in an earlier run" "$stderr"
	[ -z "$output" ]
}

@test "tables without a key, a missing target table, unreachable servers, a wrong password" {
	pg_sql postgres "CREATE DATABASE nokey"
	pg_sql postgres "CREATE DATABASE nokey_dst"
	pg_sql nokey "CREATE TABLE h (a int, b text); INSERT INTO h VALUES (1, 'x'), (1, 'x'), (2, NULL)"
	dms-full-load -q "$(pg_uri nokey)" "$(pg_uri nokey_dst)"
	run --separate-stderr dms-validate "$(pg_uri nokey)" "$(pg_uri nokey_dst)"
	assert_status 0
	assert_match "public.h: Validated, 3 rows" "$stderr"
	# a keyless table is compared too: every target row deleted is found
	pg_sql nokey_dst "DELETE FROM h"
	run --separate-stderr dms-validate "$(pg_uri nokey)" "$(pg_uri nokey_dst)"
	assert_status 1
	[ "$(echo "$output" | grep -c '"failure_type":"MISSING_TARGET"')" = 3 ]
	assert_match "public.h: Mismatched records, 3 rows, 3 failed" "$stderr"
	pg_sql nokey "DROP TABLE h"
	pg_sql nokey "CREATE TABLE k (id int PRIMARY KEY)"
	run --separate-stderr dms-validate "$(pg_uri nokey)" "$(pg_uri nokey_dst)"
	assert_status 1
	assert_match "public.k: Table error.*the target has no table public.k" "$stderr"
	run --separate-stderr dms-validate "postgresql://postgres:secret@127.0.0.1:1/x" "$(pg_uri nokey_dst)"
	assert_status 3
	assert_match "cannot connect" "$stderr"
	run --separate-stderr dms-validate "$(pg_uri nokey)" "mysql://dms:wrong@127.0.0.1:$MY_PORT/x"
	assert_status 4
	assert_match "Access denied" "$stderr"
	[[ $stderr != *wrong* ]]
}

@test "dms-full-load: EnableValidation validates after the load; ValidationOnly only validates" {
	pg_sql postgres "CREATE DATABASE fl_dst"
	echo '{"ValidationSettings": {"EnableValidation": true}}' >ev.json
	run --separate-stderr dms-full-load -s ev.json "$(pg_uri seed)" "$(pg_uri fl_dst)"
	echo "$stderr"
	assert_status 0
	[ -z "$output" ]
	assert_match "public.s: Validated, 50000 rows" "$stderr"
	pg_sql fl_dst "UPDATE s SET v = 'x' WHERE id = 3"
	echo '{"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}, "ValidationSettings": {"ValidationOnly": true}}' >vo.json
	run --separate-stderr dms-full-load -s vo.json "$(pg_uri seed)" "$(pg_uri fl_dst)"
	assert_status 1
	assert_match '"key":\["3"\]\},"failure_type":"RECORD_DIFF"' "$output"
	# nothing was loaded again: the change is still there
	[ "$(pg_sql fl_dst "SELECT v FROM s WHERE id = 3")" = x ]
}

@test "a partition longer than MySQL lets GROUP_CONCAT be is narrowed, not trusted" {
	# MySQL to MySQL, one partition of 6000 rows of 300 bytes (1.8 MB of text):
	# with max_allowed_packet at 1 MB, GROUP_CONCAT cuts the text short on
	# both sides alike, so their MD5s agree whatever the rows past the cut.
	my_sql "DROP DATABASE IF EXISTS gca; DROP DATABASE IF EXISTS gcb; CREATE DATABASE gca; CREATE DATABASE gcb"
	my_sql gca "CREATE TABLE g (id int PRIMARY KEY, t varchar(400));
		INSERT INTO g SELECT seq, REPEAT(CHAR(65 + seq % 26), 300) FROM seq_1_to_6000"
	dms-extract -q "$(my_uri gca)" | dms-load -q "$(my_uri gcb)"
	my_sql gcb "UPDATE g SET t = 'changed' WHERE id = 5990"
	old=$(my_sql "SELECT @@global.max_allowed_packet")
	my_sql "SET GLOBAL max_allowed_packet = 1048576"
	run --separate-stderr dms-validate -vv "$(my_uri gca)" "$(my_uri gcb)"
	my_sql "SET GLOBAL max_allowed_packet = $old"
	echo "$stderr" | grep -v 'checksum:' | tail -5
	assert_status 1
	assert_match "narrowing" "$stderr"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	assert_match '"key":\{"key":\["5990"\]\},"failure_type":"RECORD_DIFF"' "$output"
}
