#!/usr/bin/env bats
# Full load in all four directions: dms-extract | dms-load and dms-full-load
# against real PostgreSQL 15 and MariaDB servers. Every value is checked on
# the target with queries of the engines' own clients, not with dms.

load helpers/common
load helpers/servers
load helpers/fidelity

setup_file() {
	servers_start pg my
	fidelity_pg_source pgsrc
	fidelity_my_source mysrc
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

@test "dms-extract and dms-load: --help, --version, a bad option" {
	for p in dms-extract dms-load; do
		run --separate-stderr "$p" --help
		assert_status 0
		assert_match "^usage: $p" "$output"
		run "$p" --version
		assert_status 0
		assert_match "^$p \(dms\) " "$output"
		run --separate-stderr "$p" --bogus
		assert_status 2
		assert_match "Try '$p --help'" "$stderr"
	done
	run --separate-stderr dms-full-load --help
	assert_status 0
	run --separate-stderr dms-full-load --bogus a b
	assert_status 2
}

@test "PostgreSQL to PostgreSQL: every value identical" {
	pg_sql postgres "CREATE DATABASE pp"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load '$(pg_uri pp)'"
	assert_status 0
	src=$(pg_sql pgsrc "SELECT * FROM pgtypes ORDER BY id")
	dst=$(pg_sql pp "SELECT * FROM public.pgtypes ORDER BY id")
	[ -n "$src" ]
	expect "rows" "$src" "$dst"
	# the exact types are kept
	expect "types" "$(pg_sql pgsrc "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'pgtypes'::regclass AND attnum > 0")" \
		"$(pg_sql pp "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.pgtypes'::regclass AND attnum > 0")"
}

@test "MySQL to MySQL: every value identical, the exact column types kept" {
	my_sql "CREATE DATABASE mm"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load '$(my_uri mm)'"
	assert_status 0
	q="SELECT id, ti, si, mi, iu, bu, de, CAST(fl AS DOUBLE), db, HEX(vc), HEX(ch), HEX(tx), HEX(bl), HEX(vb), d, dt, ts, tm, yr, en, st, js, bt + 0 FROM mytypes ORDER BY id"
	src=$(my_sql mysrc "$q")
	[ -n "$src" ]
	expect "rows" "$src" "$(my_sql mm "$q")"
	expect "types" "$(my_sql mysrc "SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysrc' AND TABLE_NAME = 'mytypes'")" \
		"$(my_sql mm "SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mm' AND TABLE_NAME = 'mytypes'")"
}

@test "PostgreSQL to MySQL: every value as the type mapping promises" {
	my_sql "CREATE DATABASE pm"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load '$(my_uri pm)'"
	assert_status 0
	row() { my_sql pm "SELECT $1 FROM pgtypes WHERE id = $2"; }
	expect b "1" "$(row b 1)"
	expect b "0" "$(row b 2)"
	expect ints "-32768	-2147483648	-9223372036854775808" "$(row 'i2, i4, i8' 1)"
	expect ints "32767	2147483647	9223372036854775807" "$(row 'i2, i4, i8' 2)"
	expect numeric "-12345678901234.123456	99999999999999.999999" "$(my_sql pm "SELECT (SELECT n FROM pgtypes WHERE id = 1), (SELECT n FROM pgtypes WHERE id = 2)")"
	expect "numeric without precision" "1" "$(row 'nn = 3.14159265358979' 1)"
	expect real "3.1415927410125732" "$(row 'CAST(r4 AS DOUBLE)' 1)"
	expect double "0.1	123456.789" "$(my_sql pm "SELECT (SELECT r8 FROM pgtypes WHERE id = 1), (SELECT r8 FROM pgtypes WHERE id = 2)")"
	expect varchar "$(hex_of 'héllo ✓ 😀')" "$(row 'HEX(vc)' 1)"
	expect "char keeps its padding" "ab   " "$(row ch 1)"
	expect text "$(hex_of "$(printf 'multi\nline\ttab\\back')")" "$(row 'HEX(tx)' 1)"
	expect "empty strings" "	" "$(row "vc, tx" 2)"
	expect bytea "00FF00" "$(row 'HEX(`by`)' 1)"
	expect "empty bytea" "0" "$(row 'LENGTH(`by`)' 2)"
	expect dates "0001-01-01	9999-12-31" "$(my_sql pm "SELECT (SELECT d FROM pgtypes WHERE id = 1), (SELECT d FROM pgtypes WHERE id = 2)")"
	expect time "23:59:59.999999" "$(row t 2)"
	expect timestamp "9999-12-31 23:59:59.999999" "$(row ts 2)"
	expect "timestamptz in UTC" "2000-01-01 00:00:00.000001" "$(row tz 1)"
	expect jsonb '{"a": [1, 2.5, null]}' "$(row j 1)"
	expect json '[]' "$(row js 2)"
	expect uuid "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" "$(row u 1)"
	expect interval "P1Y2M3DT4H5M6.789S" "$(row iv 1)"
	expect array "{1,2,3}" "$(row arr 1)"
	expect nulls "1" "$(row 'b IS NULL AND i8 IS NULL AND n IS NULL AND tx IS NULL AND `by` IS NULL AND tz IS NULL AND j IS NULL AND arr IS NULL' 3)"
	expect "column types" "tinyint(1),smallint(6),int(11),bigint(20),decimal(20,6),decimal(65,30),float,double,varchar(50),varchar(5),longtext,longblob,date,time(6),datetime(6),datetime(6),longtext,longtext,char(36),varchar(100),longtext" \
		"$(my_sql pm "SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'pm' AND TABLE_NAME = 'pgtypes' AND COLUMN_NAME <> 'id'")"
}

@test "MySQL to PostgreSQL: every value as the type mapping promises" {
	pg_sql postgres "CREATE DATABASE mp"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load '$(pg_uri mp)'"
	assert_status 0
	row() { pg_sql mp "SELECT $1 FROM mysrc.mytypes WHERE id = $2"; }
	expect "tinyint(1)" "1|0" "$(pg_sql mp "SELECT string_agg(ti::text, '|' ORDER BY id) FROM mysrc.mytypes")"
	expect ints "-32768|-8388608|4294967295|18446744073709551615" "$(row 'si, mi, iu, bu' 1)"
	expect "unsigned zero" "0|0" "$(row 'iu, bu' 2)"
	expect decimal "-12.3400|99999999.9999" "$(pg_sql mp "SELECT string_agg(de::text, '|' ORDER BY id) FROM mysrc.mytypes WHERE id < 3")"
	expect float "3.1415927410125732" "$(row 'fl::float8' 1)"
	expect double "0.1|123456.789" "$(pg_sql mp "SELECT string_agg(db::text, '|' ORDER BY id) FROM mysrc.mytypes WHERE id < 3")"
	expect varchar "$(hex_of 'héllo ✓ 😀' | tr 'A-F' 'a-f')" "$(row "encode(convert_to(vc, 'UTF8'), 'hex')" 1)"
	expect text "$(hex_of "$(printf 'multi\nline\ttab\\back')" | tr 'A-F' 'a-f')" "$(row "encode(convert_to(tx, 'UTF8'), 'hex')" 1)"
	expect "empty strings" "||" "$(row "vc, ch, tx" 2)"
	expect blob "00ff00|000a" "$(row "encode(bl, 'hex'), encode(vb, 'hex')" 1)"
	expect "empty binaries" "0|0" "$(row "length(bl), length(vb)" 2)"
	expect date "2024-02-29" "$(row d 1)"
	expect datetime "2024-01-02 03:04:05.123456" "$(row dt 1)"
	expect timestamp "2024-01-02 03:04:05.123+00" "$(row ts 1)"
	expect time "12:34:56" "$(row tm 1)"
	expect year "2024|1901" "$(pg_sql mp "SELECT string_agg(yr::text, '|' ORDER BY id) FROM mysrc.mytypes WHERE id < 3")"
	expect "enum and set" "b|x,y" "$(row "en, st" 1)"
	expect json '{"a": [1, 2]}' "$(row js 1)"
	expect bit "21" "$(row bt 1)"
	expect nulls "t" "$(row 'ti IS NULL AND bu IS NULL AND de IS NULL AND tx IS NULL AND bl IS NULL AND ts IS NULL AND js IS NULL' 3)"
	expect "column types" "smallint,smallint,integer,bigint,numeric,numeric,real,double precision,character varying,character varying,text,bytea,bytea,date,timestamp without time zone,timestamp with time zone,time without time zone,smallint,text,text,json,numeric" \
		"$(pg_sql mp "SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'mysrc' AND table_name = 'mytypes' AND column_name <> 'id'")"
	# in one COPY (dms-full-load's way) decimal, dates, times and json go in binary too: the same values
	pg_sql postgres "CREATE DATABASE mp1"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load -v --one-copy '$(pg_uri mp1)'"
	assert_status 0
	assert_match "mysrc.mytypes: parts go in binary COPY" "$stderr"
	q="SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM mysrc.mytypes t"
	expect "binary COPY: the values text COPY gave" "$(pg_sql mp "$q")" "$(pg_sql mp1 "$q")"
}

@test "PostgreSQL tables read in binary COPY give the very values text COPY gives, edge values and NULLs of every type it covers" {
	pg_sql postgres "CREATE DATABASE bin"
	pg_sql bin "CREATE TABLE b (id int PRIMARY KEY, s smallint, i bigint, r real, d double precision, t text, v varchar(10), c char(5),
		bo boolean, by bytea, n numeric(10,3), da date, ts timestamp, tz timestamptz, ti time, tt timetz, iv interval, u uuid, j json, jb jsonb);
	INSERT INTO b VALUES
	(1, -32768, -9223372036854775808, 1.5e-40, 'NaN', E'a\tb\nc\\\\d\r', 'ünï ', 'ab', true, '\x00ff10', -1234567.891, '2024-02-29',
	 '2024-01-01 12:34:56.123456', '2024-01-01 12:34:56+05:30', '23:59:59.999999', '10:00+02', '1 year 2 mons 3 days 04:05:06.7',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1,2]}', '{\"b\": 1, \"a\": null}'),
	(2, 32767, 9223372036854775807, '-Infinity', '-0', '', '', '', false, '', 'NaN', 'infinity', '-infinity', 'infinity', '00:00',
	 '00:00+00', '-1 days', NULL, 'null', '[]'),
	(3, NULL, NULL, 3.4028235e38, 2.2250738585072014e-308, NULL, NULL, NULL, NULL, NULL, 0.001, '0044-03-15 BC', '1999-12-31 23:59:59',
	 '1900-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL);
	INSERT INTO b (id, t, v) SELECT g, repeat('x', g), 'v' || g FROM generate_series(4, 3000) g"
	dms-extract -v "$(pg_uri bin)" 2>binary.log | dms-transform --to-json >binary.json
	assert_match "public.b: read in binary COPY" "$(cat binary.log)"
	# an inet column has no exact binary reading: the table is read as text
	pg_sql bin "ALTER TABLE b ADD COLUMN addr inet"
	dms-extract -v "$(pg_uri bin)" 2>text.log | dms-transform --to-json >text.json
	assert_match "public.b: read in text COPY \(column addr, inet, has no exact binary form here\)" "$(cat text.log)"
	expect "rows" 3000 "$(grep -c '"kind":"ROW"' binary.json)"
	grep '"kind":"ROW"' binary.json >binary.rows
	# the text read's rows without their last value (the inet's null)
	grep '"kind":"ROW"' text.json | sed 's/,null\]}$/]}/' >text.rows
	run diff binary.rows text.rows
	assert_status 0
	assert_match '"a\\tb\\nc\\\\d\\r","ünï ","ab   ",true,\{"\$bin":"AP8Q"\},"-1234567.891"' "$(sed -n 1p binary.rows)"
}

@test "stdout of dms-extract holds only the stream" {
	run --separate-stderr bash -c "dms-extract -v '$(pg_uri pgsrc)' | dms-transform --to-json"
	assert_status 0
	assert_match '^\{"kind":"HELLO",' "$(echo "$output" | head -n 1)"
	[ "$(echo "$output" | grep -c '"kind":"ROW"')" = 3 ]
}

@test "selection rules: include with wildcards, exclude, explicit; a literal underscore" {
	pg_sql postgres "CREATE DATABASE sel"
	pg_sql sel "CREATE SCHEMA sales; CREATE SCHEMA hr;
		CREATE TABLE sales.orders (id int PRIMARY KEY); CREATE TABLE sales.order_items (id int PRIMARY KEY);
		CREATE TABLE sales.orderxitems (id int PRIMARY KEY); CREATE TABLE sales.tmp_1 (id int);
		CREATE TABLE hr.people (id int PRIMARY KEY); CREATE TABLE hr.salaries (id int)"
	cat >map.json <<'JSON'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "sales", "rule-action": "include",
  "object-locator": {"schema-name": "sales", "table-name": "%"}},
 {"rule-type": "selection", "rule-id": "2", "rule-name": "no-tmp", "rule-action": "exclude",
  "object-locator": {"schema-name": "sales", "table-name": "tmp%"}},
 {"rule-type": "selection", "rule-id": "3", "rule-name": "underscore", "rule-action": "exclude",
  "object-locator": {"schema-name": "sales", "table-name": "order[_]%"}},
 {"rule-type": "selection", "rule-id": "4", "rule-name": "people", "rule-action": "explicit",
  "object-locator": {"schema-name": "hr", "table-name": "people"}}
]}
JSON
	run --separate-stderr dms-extract -m map.json --list "$(pg_uri sel)"
	assert_status 0
	expect tables "hr.people sales.orders sales.orderxitems" "$(echo "$output" | awk -F'\t' '{print $2 "." $3}' | sort | xargs)"
}

@test "source filters: every operator, AND between filters, OR within one" {
	pg_sql postgres "CREATE DATABASE filt"
	pg_sql filt "CREATE TABLE t (id int PRIMARY KEY, v int, s text, d date);
		INSERT INTO t SELECT g, g % 10, CASE WHEN g % 3 = 0 THEN NULL ELSE 'x' || g END, date '2024-01-01' + g FROM generate_series(1, 100) g"
	filter_count() {
		printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "t", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "t"}, "filters": %s}]}' "$1" >f.json
		dms-extract -m f.json "$(pg_uri filt)" | dms-transform --to-json | grep -c '"kind":"ROW"'
	}
	cond() { printf '[{"filter-type": "source", "column-name": "%s", "filter-conditions": [%s]}]' "$1" "$2"; }
	expect eq 10 "$(filter_count "$(cond v '{"filter-operator": "eq", "value": "3"}')")"
	expect noteq 90 "$(filter_count "$(cond v '{"filter-operator": "noteq", "value": "3"}')")"
	expect lte 40 "$(filter_count "$(cond v '{"filter-operator": "lte", "value": "3"}')")"
	expect ste 40 "$(filter_count "$(cond v '{"filter-operator": "ste", "value": "3"}')")"
	expect gte 70 "$(filter_count "$(cond v '{"filter-operator": "gte", "value": "3"}')")"
	expect between 11 "$(filter_count "$(cond id '{"filter-operator": "between", "start-value": "10", "end-value": "20"}')")"
	expect notbetween 89 "$(filter_count "$(cond id '{"filter-operator": "notbetween", "start-value": "10", "end-value": "20"}')")"
	expect null 33 "$(filter_count "$(cond s '{"filter-operator": "null"}')")"
	expect notnull 67 "$(filter_count "$(cond s '{"filter-operator": "notnull"}')")"
	expect "date value" 10 "$(filter_count "$(cond d '{"filter-operator": "lte", "value": "2024-01-11"}')")"
	expect "OR within a filter" 20 "$(filter_count "$(cond v '{"filter-operator": "eq", "value": "1"}, {"filter-operator": "eq", "value": "2"}')")"
	expect "AND between filters" 5 "$(filter_count '[{"filter-type": "source", "column-name": "v", "filter-conditions": [{"filter-operator": "eq", "value": "1"}]}, {"filter-type": "source", "column-name": "id", "filter-conditions": [{"filter-operator": "lte", "value": "50"}]}]')"
	# on MySQL too
	my_sql "CREATE DATABASE filt"
	my_sql filt "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, seq % 10 FROM seq_1_to_100"
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "t", "rule-action": "include", "object-locator": {"schema-name": "filt", "table-name": "t"}, "filters": %s}]}' "$(cond v '{"filter-operator": "between", "start-value": "2", "end-value": "4"}')" >m.json
	expect "MySQL between" 30 "$(dms-extract -m m.json "$(my_uri filt)" | dms-transform --to-json | grep -c '"kind":"ROW"')"
}

@test "invalid mappings are refused before anything is read: exit 2, rule and field named" {
	echo '{"rules": [' >bad.json
	run --separate-stderr dms-extract -m bad.json --list "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'invalid JSON' "$stderr"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "7", "rule-name": "x", "rule-action": "include", "object-locator": {"schema-name": "s", "table-name": "t"}, "filters": [{"filter-type": "source", "column-name": "c", "filter-conditions": [{"filter-operator": "noteq", "value": "1"}, {"filter-operator": "eq", "value": "2"}]}]}]}' >neg.json
	run --separate-stderr dms-extract -m neg.json --list "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'rule 7: filter 1: a negative condition' "$stderr"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "%", "table-name": "%"}}, {"rule-type": "selection", "rule-id": "1", "rule-name": "b", "rule-action": "include", "object-locator": {"schema-name": "%", "table-name": "%"}}]}' >dup.json
	run --separate-stderr dms-extract -m dup.json --list "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'duplicate rule-id' "$stderr"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "grab", "object-locator": {"schema-name": "%", "table-name": "%"}}]}' >act.json
	run --separate-stderr dms-extract -m act.json --list "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'rule 1: selection rule-action "grab"' "$stderr"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "explicit", "object-locator": {"schema-name": "%", "table-name": "t"}}]}' >exp.json
	run --separate-stderr dms-extract -m exp.json --list "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'explicit' "$stderr"
	run --separate-stderr dms-extract -m /nonexistent.json --list "$(pg_uri pgsrc)"
	assert_status 2
}

@test "parallel parts of one table give exactly the rows of the table; the parts as listed beside the tables, and by the snapshot holder in its snapshot" {
	pg_sql postgres "CREATE DATABASE par"
	pg_sql par "CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(-500, 9499) g; ANALYZE t"
	run --separate-stderr dms-extract --split-rows 1500 --list "$(pg_uri par)"
	assert_status 0
	[ "$(echo "$output" | wc -l)" -ge 6 ]
	# the same list beside the tables' stream, from one read (dms-full-load's way)
	echo "$output" >listed
	dms-extract --split-rows 1500 --tables-only --list-to list-to "$(pg_uri par)" | dms-transform --to-json >tables.json
	expect "--list-to is --list" "$(cat listed)" "$(cat list-to)"
	expect "the tables' stream beside it" 1 "$(grep -c '"kind":"TABLE"' tables.json)"
	run --separate-stderr dms-extract --list-to list-to "$(pg_uri par)"
	assert_status 2
	assert_match "--list-to goes with --tables-only" "$stderr"
	run --separate-stderr dms-extract --tables-only --list-to /nonexistent/dir/list "$(pg_uri par)"
	assert_status 6
	assert_match "--list-to /nonexistent/dir/list" "$stderr"
	# the snapshot holder's own read (dms-full-load's way): the same tables and
	# list in the snapshot it exports, written before its ID, which it then holds
	mkfifo hold
	dms-extract --split-rows 1500 --export-snapshot --tables-to held.dms --list-to held.list "$(pg_uri par)" <hold >held.id &
	holder=$!
	exec 7>hold
	wait_for "the snapshot's ID" test -s held.id
	expect "the list, written before the ID" "$(cat listed)" "$(cat held.list)"
	expect "the TABLE records, written before the ID" "$(grep '"kind":"TABLE"' tables.json)" \
		"$(dms-transform --to-json <held.dms | grep '"kind":"TABLE"')"
	expect "its HELLO names the snapshot" 1 "$(dms-transform --to-json <held.dms | grep -c "\"snapshot\":\"$(cat held.id)\"")"
	pg_sql par "INSERT INTO t VALUES (100000, 'after the snapshot')"
	run --separate-stderr bash -c "dms-extract --snapshot '$(cat held.id)' --part 1.1 --plan held.list '$(pg_uri par)' | dms-transform --to-json | grep -c '\"kind\":\"ROW\"'"
	assert_status 0
	[ "$output" -gt 0 ]
	run --separate-stderr bash -c "dms-extract --snapshot '$(cat held.id)' '$(pg_uri par)' | dms-transform --to-json | grep -c 'after the snapshot'"
	expect "the held snapshot is the one read" 0 "$output"
	exec 7>&-
	wait "$holder"
	pg_sql par "DELETE FROM t WHERE id = 100000"
	run --separate-stderr dms-extract --tables-to x.dms "$(pg_uri par)"
	assert_status 2
	assert_match "--tables-to goes with --export-snapshot" "$stderr"
	run --separate-stderr dms-extract --export-snapshot --snapshot 00000003-00000002-1 "$(pg_uri par)" </dev/null
	assert_status 2
	run --separate-stderr dms-extract --export-snapshot --tables-to x.dms "$(my_uri mysql)" </dev/null
	assert_status 2
	assert_match "for PostgreSQL sources" "$stderr"
	run --separate-stderr dms-extract --export-snapshot --tables-to /nonexistent/dir/t.dms "$(pg_uri par)" </dev/null
	assert_status 6
	assert_match "--tables-to /nonexistent/dir/t.dms" "$stderr"
	[ -z "$output" ]
	my_sql "CREATE DATABASE par"
	run --separate-stderr dms-full-load -j 2 --split-rows 1500 "$(pg_uri par)" "$(my_uri par)"
	assert_status 0
	expect "rows" "10000	-500	9499	$(pg_sql par "SELECT sum(id) FROM t")" "$(my_sql par "SELECT COUNT(*), MIN(id), MAX(id), SUM(id) FROM t")"
	expect "no duplicates" "10000" "$(my_sql par "SELECT COUNT(DISTINCT id) FROM t")"
	# table-settings ranges, on two columns, with the NULL rows DMS would skip
	pg_sql par "CREATE TABLE r (a int, b int, v text); INSERT INTO r SELECT g % 7, g, 'x' FROM generate_series(1, 1000) g; INSERT INTO r VALUES (NULL, 1, 'null a'), (3, NULL, 'null b')"
	cat >ranges.json <<'JSON'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "r", "rule-action": "include",
  "object-locator": {"schema-name": "public", "table-name": "r"}},
 {"rule-type": "table-settings", "rule-id": "2", "rule-name": "par", "object-locator": {"schema-name": "public", "table-name": "r"},
  "parallel-load": {"type": "ranges", "columns": ["a", "b"], "boundaries": [["2", "500"], ["5", "100"]]}}
]}
JSON
	run --separate-stderr dms-extract -m ranges.json --list "$(pg_uri par)"
	assert_status 0
	[ "$(echo "$output" | wc -l)" = 3 ]
	run --separate-stderr dms-full-load -m ranges.json -j 2 "$(pg_uri par)" "$(my_uri par)"
	assert_status 0
	expect "every row once, the NULL ones too" "1002	1000	1	1" "$(my_sql par "SELECT COUNT(*), COUNT(DISTINCT b), SUM(a IS NULL), SUM(b IS NULL) FROM r")"
}

@test "target table preparation: DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD, DO_NOTHING" {
	pg_sql postgres "CREATE DATABASE prep"
	pg_sql prep "CREATE TABLE public.pgtypes (id int PRIMARY KEY, extra text); INSERT INTO public.pgtypes VALUES (99, 'old')"
	echo '{"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}' >nothing.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load -s nothing.json --task t1 '$(pg_uri prep)'"
	# the old table lacks the source's columns: DO_NOTHING leaves it, and the load fails on it
	assert_status 4
	assert_match 'column "b" of relation "pgtypes" does not exist' "$stderr"
	expect "do nothing keeps the table" "99" "$(pg_sql prep "SELECT string_agg(id::text, ',') FROM public.pgtypes")"
	# DROP_AND_CREATE replaces it, whatever its definition and rows
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load --prep-mode DROP_AND_CREATE --task t2 '$(pg_uri prep)'"
	assert_status 0
	expect "drop and create" "1,2,3" "$(pg_sql prep "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.pgtypes")"
	expect "the old column gone" 0 "$(pg_sql prep "SELECT count(*) FROM information_schema.columns WHERE table_name = 'pgtypes' AND column_name = 'extra'")"
	pg_sql prep "INSERT INTO public.pgtypes (id) VALUES (100)"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load --prep-mode TRUNCATE_BEFORE_LOAD --task t3 '$(pg_uri prep)'"
	assert_status 0
	expect "truncate" "1,2,3" "$(pg_sql prep "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.pgtypes")"
	pg_sql prep "INSERT INTO public.pgtypes (id) VALUES (101)"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri pgsrc)' | dms-load --prep-mode DO_NOTHING --task t4 '$(pg_uri prep)'"
	assert_status 0
	expect "do nothing appends, duplicates refused" "1,2,3,101" "$(pg_sql prep "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.pgtypes")"
	expect "refused rows logged" "3" "$(pg_sql prep "SELECT count(*) FROM dms.apply_exceptions WHERE task_name = 't4'")"
	# the same on MySQL
	my_sql "CREATE DATABASE prep; CREATE TABLE prep.mytypes (id int PRIMARY KEY); INSERT INTO prep.mytypes VALUES (99)"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load --prep-mode TRUNCATE_BEFORE_LOAD '$(my_uri prep)'"
	# the old table is emptied and kept, and the load fails on its missing columns
	assert_status 4
	assert_match "Unknown column" "$stderr"
	expect "mysql truncate keeps the old definition" "" "$(my_sql prep "SELECT id FROM mytypes")"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load --prep-mode DROP_AND_CREATE --task m2 '$(my_uri prep)'"
	assert_status 0
	expect "mysql drop and create" "1,2,3" "$(my_sql prep "SELECT GROUP_CONCAT(id ORDER BY id) FROM mytypes")"
}

@test "a killed load resumes: finished parts are kept, the rest is loaded once" {
	pg_sql postgres "CREATE DATABASE kill_src"
	pg_sql postgres "CREATE DATABASE kill_dst"
	pg_sql kill_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g; ANALYZE t"
	setsid dms-full-load -q -j 1 --split-rows 60000 "$(pg_uri kill_src)" "$(pg_uri kill_dst)" >/dev/null 2>err &
	pid=$!
	# once a part is loaded, lock the status table: the next loader blocks at
	# its commit, its rows loaded but not committed, and is killed there
	for _ in $(seq 1 600); do
		n=$(pg_sql kill_dst "SELECT count(*) FROM dms.load_parts WHERE state = 'loaded'" 2>/dev/null || echo 0)
		[ "$n" -ge 1 ] && break
		sleep 0.05
	done
	PGPASSWORD=$DMS_TEST_PASSWORD psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres kill_dst \
		-c "BEGIN; LOCK TABLE dms.load_parts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 &
	blocked=0
	for _ in $(seq 1 200); do
		blocked=$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'dms-load%' AND wait_event_type = 'Lock'")
		[ "$blocked" -ge 1 ] && break
		sleep 0.05
	done
	[ "$blocked" -ge 1 ]
	rows_in_flight=$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'dms-load%' AND state = 'active'")
	[ "$rows_in_flight" -ge 1 ]
	pkill -KILL -f "dms-load --task dms --run [0-9a-f]* .*--report"
	st=0
	wait "$pid" || st=$?
	pg_sql postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'kill_dst' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
	[ "$st" -ne 0 ]
	grep -q 'a rerun resumes this run and loads only what is missing' err
	done_before=$(pg_sql kill_dst "SELECT string_agg(part || '@' || extract(epoch from updated), ',' ORDER BY part) FROM dms.load_parts WHERE state = 'loaded' AND part <> 'prepared'")
	[ -n "$done_before" ]
	[ "$(pg_sql kill_dst "SELECT count(*) FROM dms.load_parts WHERE state = 'loaded'")" -lt 5 ]
	run --separate-stderr dms-full-load -j 2 --split-rows 60000 "$(pg_uri kill_src)" "$(pg_uri kill_dst)"
	assert_status 0
	assert_match "resuming: $(echo "$done_before" | tr ',' '\n' | wc -l) of 5 parts loaded earlier" "$stderr"
	expect "all rows, once" "300000|300000|45000150000" "$(pg_sql kill_dst "SELECT count(*), count(DISTINCT id), sum(id) FROM t")"
	# the parts finished before the kill were not loaded again
	for p in ${done_before//,/ }; do
		expect "part ${p%@*} untouched" "$p" "$(pg_sql kill_dst "SELECT part || '@' || extract(epoch from updated) FROM dms.load_parts WHERE part = '${p%@*}'")"
	done
}

@test "values the target cannot hold: logged to apply_exceptions with table, key and column; the rest loads" {
	pg_sql postgres "CREATE DATABASE badsrc"
	pg_sql badsrc "CREATE TABLE b (id int PRIMARY KEY, r real, s text, code varchar(20));
		INSERT INTO b SELECT g, g, 'ok', 'c' FROM generate_series(1, 1000) g;
		UPDATE b SET r = 'NaN' WHERE id = 17;
		UPDATE b SET s = 'emoji 😀' WHERE id = 503;
		UPDATE b SET code = 'far too long for it' WHERE id = 999"
	my_sql "CREATE DATABASE bad"
	my_sql bad "CREATE TABLE b (id int PRIMARY KEY, r float, s varchar(20) CHARACTER SET utf8mb3, code varchar(5))"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri badsrc)' | dms-load --prep-mode DO_NOTHING '$(my_uri bad)'"
	assert_status 0
	expect "good rows" "997" "$(my_sql bad "SELECT COUNT(*) FROM b")"
	expect "bad rows absent" "0" "$(my_sql bad "SELECT COUNT(*) FROM b WHERE id IN (17, 503, 999)")"
	run my_sql dms "SELECT table_name, key_text, error FROM apply_exceptions WHERE table_owner = 'bad' ORDER BY key_text"
	assert_match 'b	id=17	column r: NaN, which MySQL cannot hold' "$output"
	assert_match "b	id=503	Incorrect string value: .* for column .*s" "$output"
	assert_match "b	id=999	Data (too long|truncated) for column 'code'" "$output"
	assert_match 'id=17: row not loaded, logged to the exceptions table' "$stderr"
	# PostgreSQL: a string longer than its column, a NUL byte
	pg_sql postgres "CREATE DATABASE badpg"
	pg_sql badpg "CREATE TABLE public.b (id int PRIMARY KEY, r real, s text, code varchar(5))"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri badsrc)' | dms-load --prep-mode DO_NOTHING '$(pg_uri badpg)'"
	assert_status 0
	expect "pg good rows" "999" "$(pg_sql badpg "SELECT count(*) FROM public.b")"
	run pg_sql badpg "SELECT key_text, error FROM dms.apply_exceptions"
	assert_match 'id=999\|column code: value too long for type character varying\(5\) \(SQLSTATE 22001\)' "$output"
}

@test "PostgreSQL target: integers, floats, booleans, text and bytea go in binary COPY, every value as the source has it; what the target's types cannot hold is refused and logged as in text COPY" {
	pg_sql postgres "CREATE DATABASE binsrc"
	pg_sql binsrc "CREATE TABLE bt (id int PRIMARY KEY, s smallint, b bigint, r real, d double precision, t text, v varchar(10), c char(5), bo boolean, by bytea);
	INSERT INTO bt VALUES (1, -32768, -9223372036854775808, 1.5e-40, 'NaN', E'a\tb\nc\\\\d\r', 'ünï', 'ab', true, '\x00ff10'),
	(2, 32767, 9223372036854775807, '-Infinity', '-0', '', '', '', false, ''),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(4, 0, 0, 3.4028235e38, 4.9e-324, repeat('é', 1000), 'x', 'abcde', true, '\x00'),
	(5, 1, 2147483647, 1, 1e300, 't', 'vv', 'c', false, '\x01');
	INSERT INTO bt SELECT g, g % 100, g * 1000, g / 3.0, g / 7.0, 'row ' || g, 'v' || g % 1000, 'c', g % 2 = 0, int4send(g) FROM generate_series(6, 5000) g"
	pg_sql postgres "CREATE DATABASE bindst"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri binsrc)' | dms-load -v '$(pg_uri bindst)'"
	assert_status 0
	assert_match "public.bt: parts go in binary COPY" "$stderr"
	q="SELECT count(*), md5(string_agg(bt::text, '|' ORDER BY id)) FROM bt"
	expect "every value as the source has it" "$(pg_sql binsrc "$q")" "$(pg_sql bindst "$q")"
	# a table of the target's own, narrower: out of range for integer and real, too long for varchar(2)
	pg_sql postgres "CREATE DATABASE binnarrow"
	pg_sql binnarrow "CREATE TABLE public.bt (id int PRIMARY KEY, s smallint, b int, r real, d real, t text, v varchar(2), c char(5), bo boolean, by bytea)"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri binsrc)' | dms-load -v --prep-mode DO_NOTHING '$(pg_uri binnarrow)'"
	assert_status 0
	assert_match "public.bt: parts go in binary COPY" "$stderr"
	run pg_sql binnarrow "SELECT key_text, error FROM dms.apply_exceptions ORDER BY key_text"
	assert_match 'id=1\|column b: value "-9223372036854775808" is out of range for type integer \(SQLSTATE 22003\)' "$output"
	assert_match 'id=2\|column b: value "9223372036854775807" is out of range for type integer \(SQLSTATE 22003\)' "$output"
	assert_match 'id=4\|column d: "4.94066e-324" is out of range for type real \(SQLSTATE 22003\)' "$output"
	assert_match 'id=5\|column d: "1e\+300" is out of range for type real \(SQLSTATE 22003\)' "$output"
	assert_match 'id=10\|column v: value too long for type character varying\(2\) \(SQLSTATE 22001\)' "$output"
	expect "every row loaded or refused" 5000 "$(pg_sql binnarrow "SELECT (SELECT count(*) FROM dms.apply_exceptions) + (SELECT count(*) FROM bt)")"
	expect "the rest loaded, as the source has it" "$(pg_sql binsrc "SELECT count(*), sum(id) FROM bt WHERE id = 3 OR (id > 5 AND length(v) <= 2)")" "$(pg_sql binnarrow "SELECT count(*), sum(id) FROM bt")"
	# a column of a type binary COPY does not write (numeric): the table goes in text
	pg_sql postgres "CREATE DATABASE bintext"
	pg_sql bintext "CREATE TABLE public.bt (id int PRIMARY KEY, s numeric, b bigint, r real, d double precision, t text, v varchar(10), c char(5), bo boolean, by bytea)"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri binsrc)' | dms-load -v --prep-mode DO_NOTHING '$(pg_uri bintext)'"
	assert_status 0
	assert_match "public.bt: parts go in text COPY" "$stderr"
	expect "the same values in text" "$(pg_sql binsrc "$q")" "$(pg_sql bintext "$q")"
}

@test "PostgreSQL target, --one-copy: numeric, dates, times, timestamps, uuid and json go in binary COPY as the server reads their text; a text read otherwise is not guessed: exit 8" {
	pg_sql postgres "CREATE DATABASE tbsrc"
	pg_sql tbsrc "CREATE TABLE e (id int PRIMARY KEY, n numeric, n2 numeric(12,2), d date, t time, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb);
	INSERT INTO e VALUES
	(1, 0, 0, '2000-01-01', '00:00:00', '2000-01-01 00:00:00', '2024-05-05 05:05:05+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2.50]}', '{\"a\": [1, 2.50]}'),
	(2, -0.00, -12.5, '1999-12-31', '23:59:59.999999', '1970-01-01 00:00:00.000001', '1900-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '\"x\"', 'null'),
	(3, 0.0001, 9999999999.99, '2000-02-29', '24:00:00', '0044-03-15 12:00:00.5 BC', '0044-03-15 12:00:00.5+00 BC', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '{}'),
	(4, 0.00001, -0.01, '0044-03-15 BC', '12:34:56.5', '294276-12-31 23:59:59.999999', 'infinity', NULL, NULL, NULL),
	(5, 123456789012345678901234567890.123456789, 1.5, '5874897-12-31', '00:00:00.000001', 'infinity', '-infinity', NULL, NULL, NULL),
	(6, 'NaN', 'NaN', 'infinity', NULL, '-infinity', '2000-02-29 23:59:59.5+00', NULL, NULL, NULL),
	(7, 'Infinity', NULL, '-infinity', NULL, '4713-11-24 00:00:00 BC', '1999-12-31 23:59:59.999999+00', NULL, NULL, NULL),
	(8, '-Infinity', NULL, '4713-11-24 BC', NULL, '1900-03-01 00:00:00', NULL, NULL, NULL, NULL),
	(9, 10000, 100, '1900-03-01', NULL, NULL, NULL, NULL, NULL, NULL),
	(10, 100000000, 0.1, '2024-02-29', NULL, NULL, NULL, NULL, NULL, NULL),
	(11, 9999.9999, -9999999999.99, '1600-02-29', NULL, NULL, NULL, NULL, NULL, NULL),
	(12, 0.00000000000000000001, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(13, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(14, -123.4500, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	INSERT INTO e SELECT g, g / 7.0, g / 3.0, date '1950-01-01' + g * 37, time '00:00' + g * interval '17.000123 second',
		timestamp '1800-01-01' + g * interval '1 day 1.5 second', timestamptz '2024-01-01' + g * interval '11 hours 0.25 second',
		md5(g::text)::uuid, json_build_object('g', g), jsonb_build_object('g', g, 'h', g / 3.0) FROM generate_series(100, 3000) g"
	dms-extract "$(pg_uri tbsrc)" >e.dms
	# texts PostgreSQL reads but does not write: other offsets (the same instants), a UUID in capitals
	dms-transform --to-json <e.dms | sed -e 's/"2024-05-05 05:05:05+00"/"2024-05-05 10:35:05+05:30"/' \
		-e 's/"1900-01-01 00:00:00+00"/"1899-12-31 19:59:59-04:00:01"/' -e 's/"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"/"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"/' |
		dms-transform --from-json >e2.dms
	expect "the texts changed" 3 "$(dms-transform --to-json <e2.dms | grep -o -e '+05:30"' -e '-04:00:01"' -e '"A0EEBC99-' | wc -l)"
	for db in tbbin tbtext; do pg_sql postgres "CREATE DATABASE $db"; done
	run --separate-stderr dms-load -v --one-copy "$(pg_uri tbbin)" <e2.dms
	assert_status 0
	assert_match "public.e: parts go in binary COPY" "$stderr"
	run --separate-stderr dms-load -v "$(pg_uri tbtext)" <e2.dms
	assert_status 0
	assert_match "public.e: parts go in text COPY" "$stderr"
	q="SELECT count(*), md5(string_agg(e::text, '|' ORDER BY id)) FROM e"
	expect "binary COPY: every value as the source has it" "$(pg_sql tbsrc "$q")" "$(pg_sql tbbin "$q")"
	expect "text COPY: the same" "$(pg_sql tbsrc "$q")" "$(pg_sql tbtext "$q")"
	expect "the offsets read" "2024-05-05 05:05:05+00|1900-01-01 00:00:00+00" "$(pg_sql tbbin "SELECT string_agg(tz::text, '|' ORDER BY id) FROM e WHERE id IN (1, 2)")"
	# a date PostgreSQL reads in text but binary COPY would have to guess: the part is rolled back, exit 8
	dms-transform --to-json <e.dms | sed 's/"2000-02-29"/"2000-2-29"/' | dms-transform --from-json >e3.dms
	pg_sql postgres "CREATE DATABASE tbguess"
	run --separate-stderr dms-load --one-copy "$(pg_uri tbguess)" <e3.dms
	assert_status 8
	assert_match 'public.e part 1/1: column d: "2000-2-29" is not a text binary COPY reads exactly; the part is rolled back' "$stderr"
	expect "nothing loaded" 0 "$(pg_sql tbguess "SELECT count(*) FROM e")"
	run --separate-stderr dms-load "$(pg_uri tbguess)" <e3.dms
	assert_status 0
	expect "loaded again in text" "2000-02-29" "$(pg_sql tbguess "SELECT d FROM e WHERE id = 3")"
}

@test "MySQL target: parts go in LOAD DATA LOCAL where the server allows it, loading and refusing exactly the rows INSERT statements do; bytes columns go in INSERTs" {
	pg_sql postgres "CREATE DATABASE ldsrc"
	pg_sql ldsrc "CREATE TABLE lt (id int PRIMARY KEY, s smallint, b bigint, r real, d double precision, t text, v varchar(10), c char(5),
		bo boolean, n numeric(10,3), da date, ts timestamp, tz timestamptz, j json);
	INSERT INTO lt VALUES (1, -32768, -9223372036854775808, 1.5e-30, 1e300, E'a\tb\nc\\\\d\r\\\\N', 'ünï', 'ab', true, -1234567.891,
		'2024-02-29', '2024-01-01 12:34:56.123456', '2024-01-01 12:34:56+05:30', '{\"a\": [1,2]}'),
	(2, 32767, 9223372036854775807, -0.5, '-0', '', '', '', false, 0, '1000-01-01', '1999-12-31 23:59:59', '1970-01-01 00:00:01+00', 'null'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(4, 1, 1, 'NaN', 1, E'\\\\N', 'N', 'c', true, 1.5, '2020-01-01', '2020-01-01 00:00:00', '2020-01-01 00:00:00+00', '{}');
	INSERT INTO lt SELECT g, g % 100, g * 100000, g / 3.0, g / 7.0, 'row ' || g, 'v' || g % 1000, 'c', g % 2 = 0, g / 8.0,
		date '2020-01-01' + g, timestamp '2020-01-01' + g * interval '1 minute', timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', '[]'
		FROM generate_series(5, 3000) g"
	my_sql "CREATE DATABASE ld_load; CREATE DATABASE ld_insert; CREATE DATABASE ld_nload; CREATE DATABASE ld_ninsert"
	narrow="CREATE TABLE lt (id int PRIMARY KEY, s smallint, b int, r float, d double, t text, v varchar(2), c char(5), bo tinyint,
		n decimal(5,1), da date, ts datetime(6), tz datetime(6), j json)"
	my_sql ld_nload "$narrow"
	my_sql ld_ninsert "$narrow"
	dms-extract "$(pg_uri ldsrc)" >lt.dms
	run --separate-stderr dms-load -v --task l "$(my_uri ld_load)" <lt.dms
	assert_status 0
	assert_match "ld_load.lt: parts go in LOAD DATA LOCAL" "$stderr"
	run --separate-stderr dms-load -v --task ln --prep-mode DO_NOTHING "$(my_uri ld_nload)" <lt.dms
	assert_status 0
	assert_match "ld_nload.lt: parts go in LOAD DATA LOCAL" "$stderr"
	# the same stream where the server refuses LOAD DATA LOCAL: INSERT statements
	my_sql "SET GLOBAL local_infile = 0"
	run --separate-stderr dms-load -v --task i "$(my_uri ld_insert)" <lt.dms
	local insert_status=$status insert_stderr=$stderr
	run --separate-stderr dms-load -v --task in --prep-mode DO_NOTHING "$(my_uri ld_ninsert)" <lt.dms
	my_sql "SET GLOBAL local_infile = 1"
	assert_status 0
	assert_match "ld_ninsert.lt: parts go in INSERT statements" "$stderr"
	[ "$insert_status" = 0 ]
	assert_match "ld_insert.lt: parts go in INSERT statements" "$insert_stderr"
	expect "rows as INSERT loads them" "$(my_sql ld_insert "SELECT * FROM lt ORDER BY id" | md5sum)" "$(my_sql ld_load "SELECT * FROM lt ORDER BY id" | md5sum)"
	expect "every row but NaN's" 2999 "$(my_sql ld_load "SELECT COUNT(*) FROM lt")"
	expect "tab, newline, backslash, CR and a literal \\N, as the source has them" 6109620A635C640D5C4E \
		"$(my_sql ld_load "SELECT HEX(t) FROM lt WHERE id = 1")"
	expect "narrower: the rows INSERT loads" "$(my_sql ld_ninsert "SELECT * FROM lt ORDER BY id" | md5sum)" "$(my_sql ld_nload "SELECT * FROM lt ORDER BY id" | md5sum)"
	expect "narrower: the keys INSERT refuses" "$(my_sql dms "SELECT key_text FROM apply_exceptions WHERE table_owner = 'ld_ninsert' ORDER BY key_text" | md5sum)" \
		"$(my_sql dms "SELECT key_text FROM apply_exceptions WHERE table_owner = 'ld_nload' ORDER BY key_text" | md5sum)"
	run my_sql dms "SELECT key_text, error FROM apply_exceptions WHERE table_owner = 'ld_nload' ORDER BY key_text"
	assert_match "id=2	Out of range value for column 'b'" "$output"
	assert_match "id=12	Data (too long|truncated) for column 'v'" "$output"
	assert_match "id=5	Data truncated for column 'n'" "$output"
	expect "every row loaded or refused" 3000 "$(my_sql ld_nload "SELECT (SELECT COUNT(*) FROM lt) + (SELECT COUNT(*) FROM dms.apply_exceptions WHERE table_owner = 'ld_nload')")"
	# bytes: INSERT statements
	pg_sql ldsrc "CREATE TABLE bb (id int PRIMARY KEY, by bytea); INSERT INTO bb VALUES (1, '\x00ff'), (2, NULL)"
	my_sql "CREATE DATABASE ld_bytes"
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri ldsrc)' | dms-load -v --task b '$(my_uri ld_bytes)'"
	assert_status 0
	assert_match "ld_bytes.bb: parts go in INSERT statements" "$stderr"
	expect "bytes" "1	00FF" "$(my_sql ld_bytes "SELECT id, HEX(\`by\`) FROM bb WHERE \`by\` IS NOT NULL")"
}

@test "DataErrorPolicy STOP_TASK: the part is not loaded, exit 4" {
	my_sql "CREATE DATABASE stop"
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri badsrc)' | dms-load -s stop.json '$(my_uri stop)'"
	assert_status 4
	assert_match 'id=17: column r: NaN, which MySQL cannot hold; stopping \(STOP_TASK\)' "$stderr"
	expect "nothing committed" "0" "$(my_sql stop "SELECT COUNT(*) FROM b")"
}

@test "LOB settings: SupportLobs false leaves LOB columns out; limited mode truncates, logged per row" {
	pg_sql postgres "CREATE DATABASE lobsrc"
	pg_sql lobsrc "CREATE TABLE l (id int PRIMARY KEY, doc text, pic bytea, name varchar(10));
		INSERT INTO l VALUES (1, repeat('é', 1000), decode(repeat('00ff', 1000), 'hex'), 'a'), (2, 'short', '\\x01', 'b')"
	pg_sql postgres "CREATE DATABASE lob1"
	echo '{"TargetMetadata": {"SupportLobs": false}}' >nolob.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri lobsrc)' | dms-load -s nolob.json '$(pg_uri lob1)'"
	assert_status 0
	expect "LOB columns left out" "id,name" "$(pg_sql lob1 "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'l'")"
	assert_match 'column doc \(nclob\): left out, SupportLobs is false' "$stderr"
	pg_sql postgres "CREATE DATABASE lob2"
	echo '{"TargetMetadata": {"LimitedSizeLobMode": true, "LobMaxSize": 1}}' >limited.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri lobsrc)' | dms-load -s limited.json '$(pg_uri lob2)'"
	assert_status 0
	expect "text truncated at a character boundary, bytea at 1024" "1024|1024|5|1" "$(pg_sql lob2 "SELECT octet_length(doc), length(pic), (SELECT octet_length(doc) FROM l WHERE id = 2), (SELECT length(pic) FROM l WHERE id = 2) FROM l WHERE id = 1")"
	assert_match 'public.l column doc: LOB of 2000 bytes truncated to 1024 .*key id=1' "$stderr"
	assert_match 'public.l column pic: LOB of 2000 bytes truncated to 1024 .*key id=1' "$stderr"
	pg_sql postgres "CREATE DATABASE lob3"
	echo '{"TargetMetadata": {"FullLobMode": true, "LimitedSizeLobMode": false}}' >full.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri lobsrc)' | dms-load -s full.json '$(pg_uri lob3)'"
	assert_status 0
	expect "full LOB mode keeps everything" "2000|2000" "$(pg_sql lob3 "SELECT octet_length(doc), length(pic) FROM l WHERE id = 1")"
	# table-settings lob-settings, carried by dms-transform, win over the task's
	pg_sql postgres "CREATE DATABASE lob4"
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "%%"}}, {"rule-type": "table-settings", "rule-id": "2", "rule-name": "l", "object-locator": {"schema-name": "public", "table-name": "l"}, "lob-settings": {"mode": "limited", "bulk-max-size": "1"}}]}' >lobmap.json
	run --separate-stderr bash -o pipefail -c "dms-extract '$(pg_uri lobsrc)' | dms-transform -m lobmap.json | dms-load -s full.json '$(pg_uri lob4)'"
	assert_status 0
	expect "table lob-settings" "1024|1024" "$(pg_sql lob4 "SELECT octet_length(doc), length(pic) FROM l WHERE id = 1")"
}

@test "task settings: TargetSchema puts every table in one schema; unknown settings named once" {
	pg_sql postgres "CREATE DATABASE ts"
	cat >ts.json <<'JSON'
{"TargetMetadata": {"TargetSchema": "landing", "ParallelLoadThreads": 4},
 "Logging": {"EnableLogging": true}, "FullLoadSettings": {"CommitRate": 5000}}
JSON
	run --separate-stderr bash -o pipefail -c "dms-extract '$(my_uri mysrc)' | dms-load -s ts.json '$(pg_uri ts)'"
	assert_status 0
	expect "in the target schema" "3" "$(pg_sql ts "SELECT count(*) FROM landing.mytypes")"
	assert_match 'settings not implemented yet, ignored: TargetMetadata.ParallelLoadThreads, Logging.EnableLogging' "$stderr"
	[ "$(echo "$stderr" | grep -c 'not implemented yet')" = 1 ]
	echo '{"FullLoadSettings": {"TargetTablePrepMode": "SOMETIMES"}}' >badset.json
	run --separate-stderr dms-load -s badset.json "$(pg_uri ts)" </dev/null
	assert_status 2
	assert_match 'FullLoadSettings.TargetTablePrepMode: expected DROP_AND_CREATE' "$stderr"
	echo '{"FullLoadSettings": ' >broken.json
	run --separate-stderr dms-load -s broken.json "$(pg_uri ts)" </dev/null
	assert_status 2
}

@test "identifiers survive: reserved words, mixed case, spaces, quotes" {
	pg_sql postgres "CREATE DATABASE idsrc"
	pg_sql idsrc 'CREATE SCHEMA "My Schema"; CREATE TABLE "My Schema"."Order" ("Select" int PRIMARY KEY, "from" text, "we""ird col" int); INSERT INTO "My Schema"."Order" VALUES (1, $$x$$, 2); CREATE INDEX "Idx Name" ON "My Schema"."Order" ("from")'
	pg_sql postgres "CREATE DATABASE iddst"
	my_sql 'CREATE DATABASE `id dst`'
	run --separate-stderr dms-full-load "$(pg_uri idsrc)" "$(pg_uri iddst)"
	assert_status 0
	expect "pg" "1|x|2" "$(pg_sql iddst 'SELECT * FROM "My Schema"."Order"')"
	expect "index" "1" "$(pg_sql iddst "SELECT count(*) FROM pg_indexes WHERE indexname = 'Idx Name'")"
	run --separate-stderr dms-full-load "$(pg_uri idsrc)" "$MY_URI/id%20dst"
	assert_status 0
	expect "mysql" "1	x	2" "$(my_sql 'id dst' 'SELECT * FROM `Order`')"
}

@test "foreign keys, indexes, unique constraints and identity values after the load (beside columns named s, v, name)" {
	pg_sql postgres "CREATE DATABASE fksrc"
	# s, v, name: names a query of dms-load's might use for itself
	pg_sql fksrc "CREATE TABLE parent (id serial PRIMARY KEY, code text UNIQUE, s int, v int, name text);
		CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent_id int REFERENCES parent(id) ON DELETE CASCADE, note text);
		CREATE INDEX child_note ON child (note);
		INSERT INTO parent (code) SELECT 'c' || g FROM generate_series(1, 50) g;
		INSERT INTO child (parent_id, note) SELECT 1 + g % 50, 'n' FROM generate_series(1, 200) g"
	my_sql "CREATE DATABASE fkdst"
	run --separate-stderr dms-full-load "$(pg_uri fksrc)" "$(my_uri fkdst)"
	assert_status 0
	expect "fk" "child_parent_id_fkey	parent	CASCADE" "$(my_sql fkdst "SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = 'fkdst'")"
	expect "indexes" "child_note:1,parent_code_key:0" "$(my_sql fkdst "SELECT GROUP_CONCAT(DISTINCT CONCAT(INDEX_NAME, ':', NON_UNIQUE) ORDER BY INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'fkdst' AND INDEX_NAME <> 'PRIMARY' AND INDEX_NAME NOT LIKE '%fkey'")"
	my_sql fkdst "INSERT INTO parent (code) VALUES ('new')"
	expect "auto_increment past the loaded rows" "51" "$(my_sql fkdst "SELECT id FROM parent WHERE code = 'new'")"
	pg_sql postgres "CREATE DATABASE fkpg"
	run --separate-stderr dms-full-load "$(pg_uri fksrc)" "$(pg_uri fkpg)"
	assert_status 0
	pg_sql fkpg "INSERT INTO parent (code) VALUES ('new')"
	expect "sequence past the loaded rows" "51" "$(pg_sql fkpg "SELECT id FROM parent WHERE code = 'new'")"
	expect "fk on pg" "1" "$(pg_sql fkpg "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conname = 'child_parent_id_fkey'")"
}

@test "an unreachable server, a wrong password, a missing table: a clear message and exit status" {
	port=$(free_port)
	run --separate-stderr dms-extract "postgresql://u:pw@127.0.0.1:$port/db"
	assert_status 3
	assert_match 'postgresql://u:\*\*\*\*@127.0.0.1:[0-9]+/db: cannot connect' "$stderr"
	run --separate-stderr dms-extract "mysql://dms:wrong@127.0.0.1:$MY_PORT/mysrc"
	assert_status 3
	assert_match 'Access denied.*error 1045' "$stderr"
	run --separate-stderr bash -c "dms-extract '$(pg_uri pgsrc)' | dms-load 'postgresql://postgres:wrong@127.0.0.1:$PG_PORT/postgres'"
	assert_status 4
	assert_match 'password authentication failed' "$stderr"
	[[ $stderr != *wrong@* ]]
	run --separate-stderr bash -c "dms-extract '$(pg_uri pgsrc)' | dms-load 'mysql://dms:secret@127.0.0.1:$port/x'"
	assert_status 4
	echo '{"rules": [{"rule-type": "selection", "rule-id": "5", "rule-name": "x", "rule-action": "explicit", "object-locator": {"schema-name": "public", "table-name": "nope"}}]}' >missing.json
	run --separate-stderr dms-extract -m missing.json "$(pg_uri pgsrc)"
	assert_status 3
	assert_match 'selection rule 5: table public.nope does not exist on the source' "$stderr"
	run --separate-stderr dms-extract --part 9.1 "$(pg_uri pgsrc)"
	assert_status 2
	assert_match 'there are 1 tables' "$stderr"
	run --separate-stderr dms-full-load "$(pg_uri pgsrc)" "postgresql://postgres:wrong@127.0.0.1:$PG_PORT/postgres"
	assert_status 4
}

@test "a truncated or corrupt stream into dms-load: exit 5, the part rolled back" {
	pg_sql postgres "CREATE DATABASE trunc"
	dms-extract "$(pg_uri pgsrc)" >s.dms
	head -c $(($(stat -c %s s.dms) - 30)) s.dms >cut.dms
	run --separate-stderr dms-load --task cut "$(pg_uri trunc)" <cut.dms
	assert_status 5
	assert_match 'truncated stream' "$stderr"
	expect "nothing committed" "0" "$(pg_sql trunc "SELECT count(*) FROM public.pgtypes")"
	printf 'garbage' | { run --separate-stderr dms-load "$(pg_uri trunc)"; assert_status 5; }
}

@test "a mapping's effect end to end: dms-full-load -m into a real target" {
	pg_sql postgres "CREATE DATABASE mapsrc"
	pg_sql mapsrc "CREATE SCHEMA hr; CREATE TABLE hr.people (id int PRIMARY KEY, first_name text, last_name text, phone text, dept int);
		CREATE TABLE hr.tmp_x (id int); CREATE INDEX people_last ON hr.people (last_name);
		INSERT INTO hr.people SELECT g, 'F' || g, 'L' || g, '+1 555 ' || lpad(g::text, 4, '0'), g % 3 FROM generate_series(1, 300) g"
	cat >map.json <<'JSON'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "hr", "rule-action": "include",
  "object-locator": {"schema-name": "hr", "table-name": "%"},
  "filters": [{"filter-type": "source", "column-name": "dept", "filter-conditions": [{"filter-operator": "noteq", "value": "0"}]}]},
 {"rule-type": "selection", "rule-id": "2", "rule-name": "no-tmp", "rule-action": "exclude",
  "object-locator": {"schema-name": "hr", "table-name": "tmp[_]%"}},
 {"rule-type": "transformation", "rule-id": "3", "rule-name": "schema", "rule-action": "rename",
  "rule-target": "schema", "object-locator": {"schema-name": "hr"}, "value": "people_ops"},
 {"rule-type": "transformation", "rule-id": "4", "rule-name": "up", "rule-action": "convert-uppercase",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "people", "column-name": "last_name"}},
 {"rule-type": "transformation", "rule-id": "5", "rule-name": "mask", "rule-action": "data-masking-digits-mask",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "people", "column-name": "phone"}, "value": "#"},
 {"rule-type": "transformation", "rule-id": "6", "rule-name": "full", "rule-action": "add-column",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "people"},
  "value": "full_name", "expression": "$first_name || ' ' || $last_name", "data-type": {"type": "string", "length": 40}},
 {"rule-type": "transformation", "rule-id": "7", "rule-name": "gone", "rule-action": "remove-column",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "people", "column-name": "first_name"}}
]}
JSON
	my_sql "CREATE DATABASE mapdst"
	run --separate-stderr dms-full-load -m map.json "$(pg_uri mapsrc)" "$(my_uri mapdst)"
	assert_status 0
	expect "filtered rows" "200" "$(my_sql mapdst "SELECT COUNT(*) FROM people")"
	expect "columns" "id,LAST_NAME,phone,dept,full_name" "$(my_sql mapdst "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mapdst' AND TABLE_NAME = 'people'")"
	expect "values" "L1	+# ### ####	1	F1 L1" "$(my_sql mapdst "SELECT LAST_NAME, phone, dept, full_name FROM people WHERE id = 1")"
	expect "index on the renamed column" "LAST_NAME" "$(my_sql mapdst "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'mapdst' AND INDEX_NAME = 'people_last'")"
	expect "no tmp table" "0" "$(my_sql mapdst "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mapdst' AND TABLE_NAME LIKE 'tmp%'")"
	pg_sql postgres "CREATE DATABASE mappg"
	run --separate-stderr dms-full-load -m map.json "$(pg_uri mapsrc)" "$(pg_uri mappg)"
	assert_status 0
	expect "renamed schema on PostgreSQL" "200|F1 L1" "$(pg_sql mappg "SELECT count(*), min(full_name) FILTER (WHERE id = 1) FROM people_ops.people")"
}

@test "one COPY per part: a whole table dms created loads frozen, its key built at the part's end; a row refused rolls the part back and it loads again a batch at a time" {
	pg_sql postgres "CREATE DATABASE one_src"
	pg_sql postgres "CREATE DATABASE one_dst"
	pg_sql one_src "CREATE TABLE g (id int PRIMARY KEY, v text);
		INSERT INTO g SELECT i, 'v' || i FROM generate_series(1, 50000) i; ANALYZE"
	run --separate-stderr dms-full-load "$(pg_uri one_src)" "$(pg_uri one_dst)"
	assert_status 0
	# g: in one COPY, its key dropped and added back in the part's transaction
	expect "g's rows" "50000 50000" "$(pg_sql one_dst "SELECT count(*), count(DISTINCT id) FROM g" | tr '|' ' ')"
	expect "g's key, as DMS makes it first" "g_pkey|PRIMARY KEY (id)" \
		"$(pg_sql one_dst "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'g'::regclass")"
	pg_sql one_dst "CREATE EXTENSION pg_visibility"
	expect "g's pages all frozen by COPY FREEZE" "0 271" \
		"$(pg_sql one_dst "SELECT count(*) FILTER (WHERE NOT all_frozen), count(*) FROM pg_visibility_map('g')" | tr '|' ' ')"
	[[ $stderr != *"rolled back"* ]]

	# d's key on the target is k, where two rows of 50000 repeat row 7's
	pg_sql one_src "CREATE TABLE d (id int PRIMARY KEY, k int NOT NULL, v varchar(10));
		INSERT INTO d SELECT i, CASE WHEN i IN (300, 40000) THEN 7 ELSE i END, 'x' FROM generate_series(1, 50000) i;
		ANALYZE"
	cat >one.json <<'JSON'
{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "d", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "d"}},
 {"rule-type": "transformation", "rule-id": "2", "rule-name": "k", "rule-target": "table", "rule-action": "define-primary-key",
  "object-locator": {"schema-name": "public", "table-name": "d"}, "primary-key-def": {"name": "d_k", "origin": "primary-key", "columns": ["k"]}}]}
JSON
	run --separate-stderr dms-full-load -m one.json "$(pg_uri one_src)" "$(pg_uri one_dst)"
	assert_status 0
	# the duplicates failed the key's ADD; loaded again with the key first, each set apart
	assert_match "public\.d part 1/1: its primary key: could not create unique index .*; the part is rolled back, to be loaded again a batch at a time" "$stderr"
	expect "d's rows, the two duplicates out" "49998" "$(pg_sql one_dst "SELECT count(*) FROM d")"
	expect "the duplicates logged" 2 \
		"$(pg_sql one_dst "SELECT count(*) FROM dms.apply_exceptions WHERE table_name = 'd' AND error LIKE '%duplicate key%'")"
	expect "refused in the summary" 2 "$(echo "$stderr" | awk '$1 == "public.d" { print $6 }')"
	expect "d's key" "PRIMARY KEY (k)" "$(pg_sql one_dst "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'd'::regclass AND contype = 'p'")"
	expect "d's part loaded once" "d|1/1|loaded" \
		"$(pg_sql one_dst "SELECT table_name, part, state FROM dms.load_parts WHERE table_name = 'd' AND part <> 'prepared'")"

	# dms-load --one-copy alone: a value the target refuses ends it with 8, the part rolled back
	pg_sql postgres "CREATE DATABASE one_dst2"
	pg_sql one_dst2 "CREATE TABLE d (id int PRIMARY KEY, k int NOT NULL, v varchar(10) CHECK (v <> 'bad'))"
	pg_sql one_src "UPDATE d SET v = 'bad' WHERE id = 49999"
	echo '{"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}' >dn.json
	dms-extract -m one.json "$(pg_uri one_src)" >d.dms
	run --separate-stderr dms-load --one-copy -s dn.json "$(pg_uri one_dst2)" <d.dms
	assert_status 8
	assert_match "public\.d part 1/1: .*violates check constraint.*; the part is rolled back" "$stderr"
	expect "nothing of d" 0 "$(pg_sql one_dst2 "SELECT count(*) FROM d")"
	run --separate-stderr dms-load -s dn.json "$(pg_uri one_dst2)" <d.dms
	assert_status 0
	expect "d without its bad row" "49999 0" "$(pg_sql one_dst2 "SELECT count(*), count(*) FILTER (WHERE id = 49999) FROM d" | tr '|' ' ')"
	expect "the bad row logged" 1 "$(pg_sql one_dst2 "SELECT count(*) FROM dms.apply_exceptions WHERE table_name = 'd' AND error LIKE '%check constraint%'")"
}
