#!/usr/bin/env bats
# dms-capture from MariaDB (issue 13): the binary log read as a replica,
# row images decoded by dms's own decoder, applied by dms-load to MariaDB
# and PostgreSQL. Every check is made by SQL on the servers: the target
# against the source, and the captured values against those a full load
# (dms-extract) gives for the same rows.

load helpers/common
load helpers/servers
load helpers/migrate

setup_file() {
	servers_start pg my
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# binlog_pos: the source's binary log position now, file:offset
binlog_pos() {
	my_sql "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }'
}

# The columns of the types table, as text that both engines print alike
# for the same values (the checks compare rows of the source with rows of
# a target).
TYPES_DDL="CREATE TABLE types_t (
	id int PRIMARY KEY,
	ti tinyint, tu tinyint unsigned, si smallint, mi mediumint, mu mediumint unsigned,
	ii int, iu int unsigned, bi bigint, bu bigint unsigned,
	fl float, db double, d1 decimal(30,10), d2 decimal(5,2), d3 decimal(65,30),
	ch char(10), vc varchar(300), vl varchar(20) CHARACTER SET latin1, tx text, lt longtext,
	bl blob, bn binary(4), vb varbinary(10),
	en enum('a','b''q','c'), st set('x','y','z'), bt bit(10),
	dt date, tm time(2), t0 time, dtm datetime(6), ts timestamp(3) NULL, yr year,
	js json
) CHARACTER SET utf8mb4"

# my_digest DB: the types table of a MariaDB database, row by row, as one md5
my_digest() {
	my_sql "$1" "SET SESSION group_concat_max_len = 1073741824, time_zone = '+00:00';
		SELECT count(*), md5(group_concat(concat_ws('|', id, ifnull(ti,'N'), ifnull(tu,'N'), ifnull(si,'N'),
		ifnull(mi,'N'), ifnull(mu,'N'), ifnull(ii,'N'), ifnull(iu,'N'), ifnull(bi,'N'), ifnull(bu,'N'),
		ifnull(fl,'N'), ifnull(db,'N'), ifnull(d1,'N'), ifnull(d2,'N'), ifnull(d3,'N'), ifnull(ch,'N'),
		ifnull(vc,'N'), ifnull(vl,'N'), ifnull(tx,'N'), ifnull(lt,'N'), ifnull(hex(bl),'N'), ifnull(hex(bn),'N'),
		ifnull(hex(vb),'N'), ifnull(en,'N'), ifnull(st,'N'), ifnull(bt+0,'N'), ifnull(dt,'N'), ifnull(tm,'N'),
		ifnull(t0,'N'), ifnull(dtm,'N'), ifnull(ts,'N'), ifnull(yr,'N'), ifnull(js,'N')) ORDER BY id SEPARATOR '\n'))
		FROM types_t"
}

# pg_digest DB: a PostgreSQL database's types table (schema cap_src), each row as text
pg_digest() {
	pg_sql "$1" "SELECT count(*), md5(string_agg(t::text, E'\n' ORDER BY id)) FROM cap_src.types_t t"
}

@test "dms-capture from MariaDB: every type with NULLs and extremes through INSERT, multi-row UPDATE and DELETE, applied to MariaDB and PostgreSQL as the source has them and as a full load gives them" {
	my_sql "CREATE DATABASE cap_src"
	my_sql cap_src "$TYPES_DDL"
	p0=$(binlog_pos)
	my_sql cap_src "INSERT INTO types_t VALUES
		(1, -128, 255, -32768, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
		 -3.40282e38, -1.7976931348623157e308, -12345678901234567890.0123456789, -999.99,
		 '-12345678901234567890123456789012345.123456789012345678901234567890',
		 'pad  ', 'héllo wörld ✓ 😀', 'café', 'a\ttab\nline', repeat('long ', 2000),
		 x'00ff10', x'01020000', x'', 'b''q', 'x,z', b'1111111111',
		 '1000-01-01', '-838:59:59.99', '12:00:00', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', 1901,
		 '{\"a\": [1, 2.5, \"x\"], \"b\": null}'),
		(2, 127, 0, 32767, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
		 1.17549e-38, 2.2250738585072014e-308, 0.0000000001, 0.5, 0,
		 '', '', '', '', '', x'', x'00000000', x'ff', 'a', '', b'0',
		 '2024-02-29', '00:00:00.01', '23:59:59', '1970-01-01 00:00:01.000001', '1970-01-01 00:00:01.000', 2155, '[]'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		(4, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 'x', 'y', 'z', 't', 'l', x'01', x'02', x'03', 'c', 'y', b'1',
		 '2000-01-01', '838:59:59', '-838:59:59', '2000-01-01 00:00:00', '2000-01-01 00:00:00', 0, '{}')"
	my_sql cap_src "UPDATE types_t SET vc = concat(vc, '+'), d2 = -d2, tm = '01:02:03.45', ts = NULL WHERE id IN (1, 2);
		UPDATE types_t SET t0 = '-838:59:59' WHERE id = 1;
		UPDATE types_t SET ti = 5, js = '{\"k\": 1}' WHERE id = 3;
		DELETE FROM types_t WHERE id = 4"
	# a rolled-back transaction leaves no trace
	my_sql cap_src "START TRANSACTION; INSERT INTO types_t (id) VALUES (99); UPDATE types_t SET ti = 1; ROLLBACK"
	p1=$(binlog_pos)
	dms-capture --start "$p0" --stop-at "$p1" "$(my_uri cap_src)" >changes.dms 2>capture.log && st=0 || st=$?
	expect "capture to the stop position: exit 0 ($(cat capture.log))" 0 "$st"
	dms-transform --to-json changes.dms >changes.jsonl
	expect "transactions" 5 "$(grep -c '"kind":"COMMIT"' changes.jsonl)"
	expect "changes" "4 4 1" "$(grep -c '"kind":"INSERT"' changes.jsonl) $(grep -c '"kind":"UPDATE"' changes.jsonl) $(grep -c '"kind":"DELETE"' changes.jsonl)"
	run grep -c '"new":\[99,' changes.jsonl
	expect "the rolled-back insert" 0 "$output"
	# a MariaDB target: created from the TABLE record, then the changes
	my_sql "CREATE DATABASE cap_my"
	run --separate-stderr dms-load --task cap "$(my_uri cap_my)" <changes.dms
	assert_status 0
	expect "MariaDB target = source" "$(my_digest cap_src)" "$(my_digest cap_my)"
	# PostgreSQL: the captured rows as a full load of the same rows gives them;
	# a TIME beyond a day (MariaDB's range) is refused by both
	pg_sql postgres "CREATE DATABASE cap_pg"
	pg_sql postgres "CREATE DATABASE cap_fl"
	run --separate-stderr dms-load --task cap "$(pg_uri cap_pg)" <changes.dms
	assert_status 0
	run --separate-stderr dms-full-load "$(my_uri cap_src)" "$(pg_uri cap_fl)"
	assert_status 0
	expect "PostgreSQL: capture = full load" "$(pg_digest cap_fl)" "$(pg_digest cap_pg)"
	expect "rows" "2 3" "$(pg_sql cap_pg "SELECT id FROM cap_src.types_t ORDER BY id" | xargs)"
	# rows 1 and 4 are refused (a TIME beyond a day), and then row 1's updates find no row
	expect "the refused rows" "id=1 id=4" \
		"$(pg_sql cap_pg "SELECT DISTINCT key_text FROM dms.apply_exceptions WHERE task_name = 'cap' ORDER BY 1" | xargs)"
}

@test "dms-capture from MariaDB resumes from dms-load's acknowledged position: nothing lost or doubled; unselected tables and DDL between transactions" {
	my_sql "CREATE DATABASE res_src"
	my_sql res_src "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL, v varchar(20)); CREATE TABLE other (id int PRIMARY KEY)"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "object-locator": {"schema-name": "res_src", "table-name": "c"}, "rule-action": "include"}]}' >map.json
	my_sql "CREATE DATABASE res_dst"
	p0=$(binlog_pos)
	for i in $(seq 1 20); do
		my_sql res_src "INSERT INTO c VALUES ($i, 1, 'v$i'); INSERT INTO other VALUES ($i)"
	done
	p1=$(binlog_pos)
	dms-capture -m map.json --start "$p0" --stop-at "$p1" "$(my_uri res_src)" >part1.dms
	run --separate-stderr dms-load --task res --ack-file ack "$(my_uri res_dst)" <part1.dms
	assert_status 0
	expect "acknowledged" "$p1" "$(cat ack)"
	# more: updates that count versions, a column added mid-stream
	my_sql res_src "UPDATE c SET n = n + 1 WHERE id <= 10"
	my_sql res_src "ALTER TABLE c ADD COLUMN w int DEFAULT 7"
	my_sql res_src "UPDATE c SET n = n + 1, w = 8 WHERE id > 15; DELETE FROM c WHERE id = 20"
	p2=$(binlog_pos)
	# resumed from the ack file (and fed the first part again: skipped)
	dms-capture -m map.json --ack-file ack --stop-at "$p2" "$(my_uri res_src)" >part2.dms
	run --separate-stderr dms-transform --to-json part2.dms
	assert_status 0
	run grep -c '"schema":"res_src","name":"other"' <<<"$output"
	expect "the unselected table" 0 "$output"
	run --separate-stderr dms-load --task res --ack-file ack "$(my_uri res_dst)" <part2.dms
	assert_status 0
	q="SELECT count(*), sum(n), sum(ifnull(w, 0)), group_concat(id ORDER BY id) FROM c"
	expect "target = source" "$(my_sql res_src "$q")" "$(my_sql res_dst "$q")"
	expect "acknowledged" "$p2" "$(cat ack)"
	# the first part fed again: applied already, nothing doubled
	run --separate-stderr dms-load --task res "$(my_uri res_dst)" <part1.dms
	assert_status 0
	expect "target = source, after the replay" "$(my_sql res_src "$q")" "$(my_sql res_dst "$q")"
}

# my_same SRC DST QUERY: QUERY (a digest, group_concat unbounded) gives the
# same on MariaDB databases SRC and DST
my_same() {
	local q="SET SESSION group_concat_max_len = 1073741824; $3"

	expect "target = source" "$(my_sql "$1" "$q")" "$(my_sql "$2" "$q")"
}

@test "dms-capture from MariaDB: a transaction past --memory goes to a temporary file and is written whole, the same as one kept in memory" {
	my_sql "CREATE DATABASE big_src"
	my_sql big_src "CREATE TABLE t (id int PRIMARY KEY, v varchar(200))"
	p0=$(binlog_pos)
	my_sql big_src "INSERT INTO t SELECT seq, repeat(md5(seq), 3) FROM seq_1_to_100000; UPDATE t SET v = 'x' WHERE id <= 10"
	p1=$(binlog_pos)
	dms-capture -v --memory 65536 --start "$p0" --stop-at "$p1" "$(my_uri big_src)" >spilled.dms 2>spilled.log ||
		{ cat spilled.log >&2; false; }
	grep -q "past 65536 bytes: spilled to a temporary file" spilled.log
	dms-capture --start "$p0" --stop-at "$p1" "$(my_uri big_src)" >memory.dms
	# the same records, HELLO aside (it names the process)
	expect "the spilled transaction's records" "$(dms-transform --to-json memory.dms | grep -v '"kind":"HELLO"' | md5sum)" \
		"$(dms-transform --to-json spilled.dms | grep -v '"kind":"HELLO"' | md5sum)"
	expect "changes" 100010 "$(dms-transform --to-json spilled.dms | grep -c '"kind":"\(INSERT\|UPDATE\)"')"
	my_sql "CREATE DATABASE big_dst"
	run --separate-stderr dms-load --task big "$(my_uri big_dst)" <spilled.dms
	assert_status 0
	my_same big_src big_dst "SELECT count(*), md5(group_concat(v ORDER BY id)) FROM t"
}

@test "dms-capture from MariaDB starts from a GTID as from the file:offset where the transactions after it begin; a GTID the log lacks exits 3, a malformed one 2" {
	my_sql "CREATE DATABASE gtid_src"
	my_sql gtid_src "CREATE TABLE t (id int PRIMARY KEY)"
	p0=$(binlog_pos)
	g0=$(my_sql "SELECT @@gtid_binlog_pos")
	my_sql gtid_src "INSERT INTO t VALUES (1), (2); INSERT INTO t VALUES (3)"
	p1=$(binlog_pos)
	g1=$(my_sql "SELECT @@gtid_binlog_pos")
	dms-capture --start "$p0" --stop-at "$p1" "$(my_uri gtid_src)" >bypos.dms
	dms-capture -v --start "$g0" --stop-at "$p1" "$(my_uri gtid_src)" >bygtid.dms 2>gtid.log && st=0 || st=$?
	expect "from GTID $g0: exit 0 ($(cat gtid.log))" 0 "$st"
	grep -q "GTID $g0: the transactions after it begin at $p0" gtid.log
	cmp bypos.dms bygtid.dms
	expect "transactions" 2 "$(dms-transform --to-json bygtid.dms | grep -c '"kind":"COMMIT"')"
	# the last GTID, with nothing after it: where the log ends (found by a heartbeat)
	dms-capture -v --start "$g1" --stop-at "$p1" "$(my_uri gtid_src)" >idle.dms 2>gtid.log && st=0 || st=$?
	expect "from the last GTID: exit 0 ($(cat gtid.log))" 0 "$st"
	grep -q "GTID $g1: the transactions after it begin at $p1" gtid.log
	expect "nothing after the last GTID" 0 "$(dms-transform --to-json idle.dms | grep -c '"kind":"COMMIT"')"
	run --separate-stderr dms-capture --start 0-1-999999999 "$(my_uri gtid_src)"
	assert_status 3
	[[ "$stderr" == *"cannot find GTID 0-1-999999999"* ]]
	run --separate-stderr dms-capture --start 0-1-x "$(my_uri gtid_src)"
	assert_status 2
	[[ "$stderr" == *"or a MariaDB GTID"* ]]
}

# registered N: N captures are in SHOW SLAVE HOSTS (asked anew at each call)
registered() {
	test "$(my_sql "SHOW SLAVE HOSTS" | grep -c dms-capture)" -eq "$1"
}

@test "dms-capture from MariaDB: captures at the same time register server ids of their own (SHOW SLAVE HOSTS), and each keeps its session" {
	my_sql "CREATE DATABASE sid_src"
	my_sql sid_src "CREATE TABLE t (id int PRIMARY KEY)"
	dms-capture -v "$(my_uri sid_src)" >a.dms 2>a.log &
	a=$!
	wait_for "the first capture registers" registered 1
	dms-capture -v "$(my_uri sid_src)" >b.dms 2>b.log &
	b=$!
	wait_for "both register" registered 2
	ids=$(my_sql "SHOW SLAVE HOSTS" | awk '$2 == "dms-capture" { print $1 }' | sort -u | wc -l)
	expect "distinct server ids" 2 "$ids"
	my_sql sid_src "INSERT INTO t VALUES (1)"
	wait_for "both capture the insert" sh -c "dms-transform --to-json a.dms 2>/dev/null | grep -q '\"new\":\\[1\\]' &&
		dms-transform --to-json b.dms 2>/dev/null | grep -q '\"new\":\\[1\\]'"
	kill -TERM "$a" "$b"
	wait "$a"
	wait "$b"
	run grep -c "connection lost" a.log b.log
	[[ "$output" == *"a.log:0"*"b.log:0"* ]]
}

# commits FILE N: the stream FILE has N COMMIT records (asked anew at each call)
commits() {
	test "$(dms-transform --to-json "$1" 2>/dev/null | grep -c '"kind":"COMMIT"')" -eq "$2"
}

@test "dms-capture from MariaDB: a source killed and restarted mid-capture is connected again with back-off, and the capture goes on from its last transaction: nothing lost or doubled; a source that stays down exits 3 after --retry-time" {
	my_sql "CREATE DATABASE rs_src"
	my_sql rs_src "CREATE TABLE t (id int PRIMARY KEY, n int)"
	dms-capture -v --retry-time 60 "$(my_uri rs_src)" >rs.dms 2>rs.log &
	pid=$!
	wait_for "the capture reads" grep -q "reading the binary log" rs.log
	for i in $(seq 1 10); do
		my_sql rs_src "INSERT INTO t VALUES ($i, $i)"
	done
	wait_for "10 transactions captured" commits rs.dms 10
	my_restart
	for i in $(seq 11 20); do
		my_sql rs_src "INSERT INTO t VALUES ($i, $i)"
	done
	WAIT_SECONDS=60 wait_for "20 transactions captured" commits rs.dms 20 || { cat rs.log >&2; false; }
	kill -TERM "$pid"
	wait "$pid" || { cat rs.log >&2; false; }
	grep -q "connection lost at binlog" rs.log
	expect "inserts captured" 20 "$(dms-transform --to-json rs.dms | grep -c '"kind":"INSERT"')"
	my_sql "CREATE DATABASE rs_dst"
	run --separate-stderr dms-load --task rs "$(my_uri rs_dst)" <rs.dms
	assert_status 0
	expect "target = source" "$(my_sql rs_src "SELECT count(*), sum(n) FROM t")" "$(my_sql rs_dst "SELECT count(*), sum(n) FROM t")"
	# down for longer than --retry-time: exit 3, naming the position reached
	pos=$(binlog_pos)
	dms-capture --retry-time 3 "$(my_uri rs_src)" >down.dms 2>down.log &
	pid=$!
	wait_for "the capture reads" registered 1
	my_stop
	wait "$pid" && st=0 || st=$?
	my_restart
	expect "exit status ($(cat down.log))" 3 "$st"
	grep -q "gave up after 3 s (--retry-time) at $pos" down.log
}

@test "dms-capture from MariaDB with log_bin_compress=ON: compressed row events and DDL are read like the others (they were passed over)" {
	my_sql "CREATE DATABASE lz_src"
	my_sql lz_src "CREATE TABLE t (id int PRIMARY KEY, v text)"
	my_sql "SET GLOBAL log_bin_compress = ON"
	p0=$(binlog_pos)
	my_sql lz_src "INSERT INTO t SELECT seq, repeat(md5(seq), 40) FROM seq_1_to_50;
		UPDATE t SET v = repeat('xyz', 2000) WHERE id <= 10; DELETE FROM t WHERE id > 45;
		ALTER TABLE t ADD COLUMN w int DEFAULT 3 COMMENT '$(printf 'a%.0s' $(seq 1 300))';
		INSERT INTO t VALUES (100, repeat('abc', 1000), 4)"
	p1=$(binlog_pos)
	my_sql "SET GLOBAL log_bin_compress = OFF"
	# the server wrote them compressed
	mariadb-binlog --no-defaults --start-position="${p0#*:}" --stop-position="${p1#*:}" "$MY_DIR/data/${p0%:*}" >log.txt
	grep -q "Write_compressed_rows" log.txt
	grep -q "Update_compressed_rows" log.txt
	dms-capture --start "$p0" --stop-at "$p1" "$(my_uri lz_src)" >lz.dms
	my_sql "CREATE DATABASE lz_dst"
	run --separate-stderr dms-load --task lz "$(my_uri lz_dst)" <lz.dms
	assert_status 0
	my_same lz_src lz_dst "SELECT count(*), md5(group_concat(id, v, ifnull(w, 'N') ORDER BY id)) FROM t"
}

@test "dms-capture from MariaDB: TRUNCATE empties the targets' table, DROP TABLE drops it, a captured table renamed is followed (the targets' table renamed with its rows), renamed out of the selection it stops the capture with exit 3 saying where to go on" {
	my_sql "CREATE DATABASE tt_src"
	my_sql tt_src "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)"
	echo '{"rules": [
		{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "object-locator": {"schema-name": "tt_src", "table-name": "a"}, "rule-action": "include"},
		{"rule-type": "selection", "rule-id": "2", "rule-name": "2", "object-locator": {"schema-name": "tt_src", "table-name": "b"}, "rule-action": "include"},
		{"rule-type": "selection", "rule-id": "3", "rule-name": "3", "object-locator": {"schema-name": "tt_src", "table-name": "a_new%"}, "rule-action": "include"}]}' >map.json
	p0=$(binlog_pos)
	my_sql tt_src "INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (1)"
	my_sql tt_src "TRUNCATE TABLE a"
	my_sql tt_src "INSERT INTO a VALUES (3); DROP TABLE b; RENAME TABLE other TO other2; RENAME TABLE other2 TO other"
	p1=$(binlog_pos)
	dms-capture -m map.json --start "$p0" --stop-at "$p1" "$(my_uri tt_src)" >tt.dms 2>tt.log || { cat tt.log >&2; false; }
	dms-transform --to-json tt.dms >tt.jsonl
	grep -q '"kind":"TRUNCATE"' tt.jsonl
	grep -q '"name":"b".*"dropped":true' tt.jsonl
	pg_sql postgres "CREATE DATABASE tt_dst"
	my_sql "CREATE DATABASE tt_dst"
	run --separate-stderr dms-load --task tt "$(pg_uri tt_dst)" <tt.dms
	assert_status 0
	run --separate-stderr dms-load --task tt "$(my_uri tt_dst)" <tt.dms
	assert_status 0
	expect "PostgreSQL: a" 3 "$(pg_sql tt_dst "SELECT string_agg(id::text, ',') FROM tt_src.a")"
	expect "MariaDB: a" 3 "$(my_sql tt_dst "SELECT group_concat(id) FROM a")"
	expect "PostgreSQL: b dropped" 0 "$(pg_sql tt_dst "SELECT count(*) FROM pg_tables WHERE schemaname = 'tt_src' AND tablename = 'b'")"
	expect "MariaDB: b dropped" 0 "$(my_sql tt_dst "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'tt_dst' AND TABLE_NAME = 'b'")"
	# renamed to a selected name: followed, the targets' table renamed with its rows (by a later dms-load run)
	my_sql tt_src "INSERT INTO a VALUES (4); RENAME TABLE a TO a_new; INSERT INTO a_new VALUES (5)"
	my_sql tt_src "ALTER TABLE a_new ADD COLUMN v int DEFAULT 6, RENAME TO a_new2; UPDATE a_new2 SET v = 7 WHERE id = 5"
	p2=$(binlog_pos)
	dms-capture -m map.json --start "$p1" --stop-at "$p2" "$(my_uri tt_src)" >rn.dms 2>rn.log || { cat rn.log >&2; false; }
	run --separate-stderr dms-load --task tt "$(pg_uri tt_dst)" <rn.dms
	assert_status 0
	run --separate-stderr dms-load --task tt "$(my_uri tt_dst)" <rn.dms
	assert_status 0
	expect "PostgreSQL: a_new2" "3:6 4:6 5:7" "$(pg_sql tt_dst "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM tt_src.a_new2")"
	expect "MariaDB: a_new2" "3:6 4:6 5:7" "$(my_sql tt_dst "SELECT group_concat(id, ':', v ORDER BY id SEPARATOR ' ') FROM a_new2")"
	expect "PostgreSQL: a is gone" 0 "$(pg_sql tt_dst "SELECT count(*) FROM pg_tables WHERE schemaname = 'tt_src' AND tablename IN ('a', 'a_new')")"
	expect "MariaDB: a is gone" 0 "$(my_sql tt_dst "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'tt_dst' AND TABLE_NAME IN ('a', 'a_new')")"
	# renamed to a name the mappings do not select: the capture stops, saying where to go on
	my_sql tt_src "RENAME TABLE a_new2 TO zz"
	p3=$(binlog_pos)
	run --separate-stderr dms-capture -m map.json --start "$p2" --stop-at "$p3" "$(my_uri tt_src)"
	assert_status 3
	[[ "$stderr" == *"tt_src.a_new2, a captured table, is renamed tt_src.zz"*"its new name is not selected"*"--start $p3"* ]]
}

# ddl_digest pg|my DB TABLE: the DDL test's table, row by row, as one md5
ddl_digest() {
	case $1 in
	pg) digest pg "$2" "$3" id "id, w, d, e, encode(bb, 'hex'), y" ;;
	my) digest my "$2" "$3" id "id, w, d, e, lower(hex(bb)), y" ;;
	esac
}

@test "dms-capture from MariaDB: columns added, renamed, dropped and retyped mid-stream, read in step with the catalog and read after the catalog moved on, applied to PostgreSQL and MariaDB as the source has them" {
	my_sql "CREATE DATABASE ddl_src"
	my_sql ddl_src "CREATE TABLE c (id int PRIMARY KEY, v varchar(20), x int, d decimal(8,2), e enum('a','b''q'),
		u int unsigned, b varbinary(8))"
	for db in ddl_step ddl_lag; do
		pg_sql postgres "CREATE DATABASE $db"
		my_sql "CREATE DATABASE $db"
	done
	steps=(
		"INSERT INTO c SELECT seq, concat('v', seq), seq * 10, seq / 4, IF(seq % 2, 'a', 'b''q'), 4000000000 + seq, x'00ff' FROM seq_1_to_20"
		"UPDATE c SET x = x + 1, v = concat(v, '.') WHERE id <= 5"
		"ALTER TABLE c RENAME COLUMN v TO w"
		"UPDATE c SET w = concat(w, '!') WHERE id IN (2, 6)"
		"ALTER TABLE c DROP COLUMN x"
		"INSERT INTO c (id, w, d, e, u, b) VALUES (21, 'new', 1.5, 'a', 1, x'01')"
		"ALTER TABLE c ADD COLUMN y int DEFAULT 9"
		"UPDATE c SET y = id WHERE id % 3 = 0"
		"ALTER TABLE c MODIFY d decimal(12,3)"
		"UPDATE c SET d = d * 2 WHERE id > 15; DELETE FROM c WHERE id = 1"
		"ALTER TABLE c RENAME COLUMN b TO bb"
		"UPDATE c SET bb = x'beef' WHERE id = 3"
		"ALTER TABLE c DROP COLUMN u"
		"INSERT INTO c (id, w, d, e, bb, y) VALUES (22, 'last', 2, 'b''q', NULL, NULL)"
	)
	p0=$(binlog_pos)
	# in step: each statement captured and applied before the next one
	from=$p0
	for sql in "${steps[@]}"; do
		my_sql ddl_src "$sql"
		to=$(binlog_pos)
		dms-capture --start "$from" --stop-at "$to" "$(my_uri ddl_src)" >step.dms 2>>capture.log
		run --separate-stderr dms-load --task step "$(pg_uri ddl_step)" <step.dms
		assert_status 0
		run --separate-stderr dms-load --task step "$(my_uri ddl_step)" <step.dms
		assert_status 0
		from=$to
	done
	# behind: the whole log read after the last statement, the catalog then
	# knowing none of the columns renamed or dropped on the way
	dms-capture --start "$p0" --stop-at "$to" "$(my_uri ddl_src)" >lag.dms 2>lag.log ||
		{ cat lag.log >&2; false; }
	run --separate-stderr dms-load --task lag "$(pg_uri ddl_lag)" <lag.dms
	assert_status 0
	run --separate-stderr dms-load --task lag "$(my_uri ddl_lag)" <lag.dms
	assert_status 0
	want=$(ddl_digest my ddl_src c)
	cols="id,w,d,e,bb,y"
	for db in ddl_step ddl_lag; do
		expect "PostgreSQL $db: rows" "$want" "$(ddl_digest pg "$db" ddl_src.c)"
		expect "MariaDB $db: rows" "$want" "$(ddl_digest my "$db" c)"
		expect "PostgreSQL $db: columns" "$cols" "$(pg_sql "$db" "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
			FROM information_schema.columns WHERE table_schema = 'ddl_src' AND table_name = 'c'")"
		expect "MariaDB $db: columns" "$cols" "$(my_sql "$db" "SELECT group_concat(column_name ORDER BY ordinal_position)
			FROM information_schema.columns WHERE table_schema = '$db' AND table_name = 'c'")"
		expect "PostgreSQL $db: d retyped" "numeric(12,3)" "$(pg_sql "$db" "SELECT format_type(atttypid, atttypmod)
			FROM pg_attribute WHERE attrelid = 'ddl_src.c'::regclass AND attname = 'd'")"
	done
}

@test "dms-capture from MariaDB: an idle source gives CHECKPOINT records, TERM ends the stream with END; wrong settings, a wrong password and PostgreSQL's options exit with a clear error" {
	my_sql "CREATE DATABASE idle_src"
	my_sql idle_src "CREATE TABLE t (id int PRIMARY KEY)"
	echo '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "object-locator": {"schema-name": "idle_src", "table-name": "t"}, "rule-action": "include"}]}' >map.json
	my_sql "CREATE DATABASE idle_other"
	my_sql idle_other "CREATE TABLE u (id int PRIMARY KEY)"
	dms-capture -v -m map.json "$(my_uri idle_src)" >idle.dms 2>idle.log &
	pid=$!
	wait_for "the capture reads" grep -q "reading the binary log" idle.log
	my_sql idle_other "INSERT INTO u VALUES (1)"
	p=$(binlog_pos)
	# the heartbeat moves the position past the unselected transaction
	wait_for "a CHECKPOINT at $p" sh -c "dms-transform --to-json idle.dms 2>/dev/null | grep -q '\"kind\":\"CHECKPOINT\",\"position\":\"$p\"'"
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	expect "TERM: exit 0" 0 "$st"
	run --separate-stderr dms-transform --to-json idle.dms
	assert_status 0
	[[ "$output" == *'"kind":"END"'* ]]
	# wrong settings: a clear error naming the fix, exit 3
	my_sql "SET GLOBAL binlog_format = 'STATEMENT'"
	run --separate-stderr dms-capture "$(my_uri idle_src)"
	my_sql "SET GLOBAL binlog_format = 'ROW'"
	assert_status 3
	[[ "$stderr" == *"binlog_format is STATEMENT"*"SET GLOBAL binlog_format = 'ROW'"* ]]
	my_sql "SET GLOBAL binlog_row_image = 'MINIMAL'"
	run --separate-stderr dms-capture "$(my_uri idle_src)"
	my_sql "SET GLOBAL binlog_row_image = 'FULL'"
	assert_status 3
	[[ "$stderr" == *"binlog_row_image is MINIMAL"* ]]
	run --separate-stderr dms-capture "mysql://dms:wrong@127.0.0.1:$MY_PORT/idle_src"
	assert_status 3
	[[ "$stderr" == *"Access denied"* ]]
	[[ "$stderr" != *wrong* ]]
	# a position that is not one: usage, exit 2
	run --separate-stderr dms-capture --start nowhere "$(my_uri idle_src)"
	assert_status 2
	run --separate-stderr dms-capture --slot s "$(my_uri idle_src)"
	assert_status 2
	[[ "$stderr" == *"no slot or publication"* ]]
}

@test "the binary log row decoder on 100,000 mutated events of the server's own log, under AddressSanitizer: the real events decode, a mutated one is an error or a row, never a crash" {
	fuzz=$DMS_ROOT/build/fuzz/bin/tools/dms-binlogfuzz
	[ -x "$fuzz" ] || { echo "$fuzz is missing: make fuzz-build" >&2; false; }
	# events of every type, NULLs and extremes, multi-row, UPDATE and DELETE
	my_sql "CREATE DATABASE fz_src"
	my_sql fz_src "$TYPES_DDL"
	my_sql fz_src "INSERT INTO types_t (id, ti, tu, bi, bu, fl, db, d1, d2, d3, ch, vc, vl, tx, bl, bn, vb, en, st, bt, dt, tm, t0, dtm, ts, yr, js)
		SELECT seq, seq % 128, seq % 256, seq * 1000003, seq, seq / 7, seq / 3, seq * 1.5, seq % 999, -CAST(seq AS SIGNED), 'c', repeat('v', seq % 300),
		'lat\xe9', repeat('t', seq), repeat('b', seq % 70), 'bn', x'0102', 'c', 'x,y', seq % 1024, '2024-01-01' + INTERVAL seq DAY,
		sec_to_time(CAST(seq AS SIGNED) * 37 - 40000), '-01:00:00', '2024-01-01 00:00:00.5' + INTERVAL seq SECOND, from_unixtime(seq), 1901 + seq % 200,
		json_object('k', seq) FROM seq_1_to_500"
	my_sql fz_src "INSERT INTO types_t (id) VALUES (1000); UPDATE types_t SET vc = 'u', tm = NULL WHERE id % 3 = 0; DELETE FROM types_t WHERE id % 5 = 0"
	run --separate-stderr "$fuzz" -n 100000 -s 11 "$MY_DIR"/data/binlog.[0-9]*
	assert_status 0
	[[ "$output" == *"all decoded"*"100000 mutated events"*"none crashed"* ]]
}

# mk_source DB: a MariaDB source of two tables and a procedure gen(K) of K
# transactions that bump counters, delete and insert again, and update a
# larger table: a change applied twice or lost shows in the digests
mk_source() {
	my_sql "CREATE DATABASE $1"
	my_sql "$1" "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, note varchar(100));
		INSERT INTO c (id, note) SELECT seq, concat('row ', seq) FROM seq_1_to_300;
		CREATE TABLE bulk (id int PRIMARY KEY, v varchar(64));
		INSERT INTO bulk SELECT seq, md5(seq) FROM seq_1_to_$2"
	my_sql "$1" "DELIMITER //
		CREATE PROCEDURE gen(k int)
		BEGIN
			DECLARE i int DEFAULT 1;
			WHILE i <= k DO
				START TRANSACTION;
				IF i % 7 = 0 THEN
					DELETE FROM c WHERE id = (i * 31) % 300 + 1;
					INSERT IGNORE INTO c (id, note) VALUES ((i * 31) % 300 + 1, concat('again ', i));
				ELSE
					UPDATE c SET n = n + 1 WHERE id IN ((i * 17) % 300 + 1, (i * 13) % 300 + 1);
				END IF;
				UPDATE bulk SET v = md5(v) WHERE id = (i * 7919) % $2 + 1;
				COMMIT;
				SET i = i + 1;
			END WHILE;
		END //"
}

# has_last_row pg|my DB TABLE: the target has the test's last row (id 1000),
# asked anew at each call (a wait_for of test "$(...)" would ask only once)
has_last_row() {
	test "$("$1"_sql "$2" "SELECT count(*) FROM $3 WHERE id = 1000" 2>/dev/null)" = 1
}

@test "dms-migrate from MariaDB, full-load-and-cdc under concurrent writes and a column added, into PostgreSQL and MariaDB: every table equal to the source" {
	mk_source mg_src 50000
	pg_sql postgres "CREATE DATABASE mg_dst"
	my_sql "CREATE DATABASE mg_dst"
	: >pg.log
	: >my.log
	dms-migrate --task mgpg --spool pg.spool "$(my_uri mg_src)" "$(pg_uri mg_dst)" 2>pg.log &
	ppid=$!
	dms-migrate --task mgmy --spool my.spool "$(my_uri mg_src)" "$(my_uri mg_dst)" 2>my.log &
	mpid=$!
	# writes all along the loads and the cached changes, until both replicate
	# (or one of them ended: a failure, told below)
	(while ! grep -q replicating pg.log || ! grep -q replicating my.log; do
		kill -0 "$ppid" 2>/dev/null && kill -0 "$mpid" 2>/dev/null || exit 1
		my_sql mg_src "CALL gen(100)" || exit 1
	done) &
	gpid=$!
	wait "$gpid" || { cat pg.log my.log >&2; kill "$ppid" "$mpid" 2>/dev/null; false; }
	# the column is added once the loads are done: during a load, an ALTER
	# waits for the metadata lock of the load's snapshot transactions, and the
	# load's next reads of the table wait behind it (dms-migrate(1))
	my_sql mg_src "ALTER TABLE c ADD COLUMN extra int DEFAULT 5"
	my_sql mg_src "CALL gen(500); UPDATE c SET extra = id WHERE id % 10 = 0"
	# the last transaction: a target that has it has every one before
	my_sql mg_src "INSERT INTO c (id, note) VALUES (1000, 'last')"
	WAIT_SECONDS=120 wait_for "PostgreSQL target has the last row" has_last_row pg mg_dst mg_src.c ||
		{ cat pg.log >&2; kill "$ppid" "$mpid"; false; }
	WAIT_SECONDS=120 wait_for "MariaDB target has the last row" has_last_row my mg_dst c ||
		{ cat my.log >&2; kill "$ppid" "$mpid"; false; }
	kill -TERM "$ppid" "$mpid"
	wait "$ppid" || { cat pg.log >&2; false; }
	wait "$mpid" || { cat my.log >&2; false; }
	for log in pg.log my.log; do
		grep -q "full load; changes after binlog" $log
		# changes made during the load were cached and applied
		grep -q "cached changes applied up to binlog" $log
		grep -q "replicating" $log
	done
	expect "PostgreSQL: c" "$(digest my mg_src c id id,n,note,extra)" "$(digest pg mg_dst mg_src.c id id,n,note,extra)"
	expect "PostgreSQL: bulk" "$(digest my mg_src bulk id id,v)" "$(digest pg mg_dst mg_src.bulk id id,v)"
	expect "MariaDB: c" "$(digest my mg_src c id id,n,note,extra)" "$(digest my mg_dst c id id,n,note,extra)"
	expect "MariaDB: bulk" "$(digest my mg_src bulk id id,v)" "$(digest my mg_dst bulk id id,v)"
}

@test "dms-migrate from MariaDB: dms-capture, dms-load and the whole pipeline killed with SIGKILL at random moments (5 each), rerun: nothing lost, nothing doubled" {
	mk_source mk_src 200000
	pg_sql postgres "CREATE DATABASE mk_dst"
	my_sql mk_src "CALL gen(20000)" &
	gpid=$!
	kill_rounds mk mk.spool "$(my_uri mk_src)" "$(pg_uri mk_dst)"
	wait "$gpid"
	pos=$(binlog_pos)
	run --separate-stderr dms-migrate --task mk --spool mk.spool --stop-at "$pos" "$(my_uri mk_src)" "$(pg_uri mk_dst)"
	assert_status 0
	expect "c, counters and all" "$(digest my mk_src c id id,n,note)" "$(digest pg mk_dst mk_src.c id id,n,note)"
	expect "bulk" "$(digest my mk_src bulk id id,v)" "$(digest pg mk_dst mk_src.bulk id id,v)"
}

# (last in the file: it purges the server's older binary logs)
# last_commit STREAM: the position of the stream's last COMMIT
last_commit() {
	dms-transform --to-json "$1" | grep '"kind":"COMMIT"' | tail -n 1 | sed 's/.*"position":"\([^"]*\)".*/\1/'
}

@test "dms-capture from MariaDB across binary log files (FLUSH BINARY LOGS between transactions): each commit's position names its own file, and a capture resumed from an acknowledged position in a later file goes on there, nothing lost or doubled" {
	my_sql "CREATE DATABASE rot_src"
	my_sql "CREATE DATABASE rot_dst"
	my_sql rot_src "CREATE TABLE r (id int PRIMARY KEY, v varchar(20))"
	p0=$(binlog_pos)
	my_sql rot_src "INSERT INTO r VALUES (1, 'first file')"
	my_sql "FLUSH BINARY LOGS"
	my_sql rot_src "INSERT INTO r VALUES (2, 'second file')"
	p1=$(binlog_pos)
	dms-capture --start "$p0" --stop-at "$p1" "$(my_uri rot_src)" >part1.dms
	# the last commit's position, in the second file (the server may write a
	# Binlog_checkpoint after the transaction: p1 is then past its end)
	last=$(last_commit part1.dms)
	[[ "$last" == "${p1%:*}:"* ]] || { echo "last commit at $last, not in ${p1%:*}" >&2; false; }
	run --separate-stderr dms-load --task rot --ack-file ack "$(my_uri rot_dst)" <part1.dms
	assert_status 0
	expect "acknowledged" "$last" "$(cat ack)"
	my_sql "FLUSH BINARY LOGS"
	my_sql rot_src "UPDATE r SET v = 'third file' WHERE id = 1"
	my_sql "FLUSH BINARY LOGS"
	my_sql rot_src "INSERT INTO r VALUES (3, 'fourth file')"
	p2=$(binlog_pos)
	run --separate-stderr bash -o pipefail -c "dms-capture --ack-file ack --stop-at '$p2' '$(my_uri rot_src)' | tee part2.dms | dms-load --task rot --ack-file ack '$(my_uri rot_dst)'"
	assert_status 0
	last=$(last_commit part2.dms)
	[[ "$last" == "${p2%:*}:"* ]] || { echo "last commit at $last, not in ${p2%:*}" >&2; false; }
	expect "acknowledged" "$last" "$(cat ack)"
	my_same rot_src rot_dst "SELECT count(*), group_concat(id, ':', v ORDER BY id) FROM r"
}

# splice SCHEMA TABLE [corrupt | partial]: the binary log file in use closed
# (FLUSH BINARY LOGS), and MySQL 8's events written into it before its
# ROTATE by dms-unit splice-payload; spliced_file: that file, spliced_at:
# the offset they begin at
splice() {
	spliced_file=$(binlog_pos)
	spliced_file=${spliced_file%:*}
	my_sql "FLUSH BINARY LOGS"
	spliced_at=$(dms-unit splice-payload "$MY_DIR/data/$spliced_file" "$@") || return 1
}

@test "dms-capture from MariaDB reads a MySQL 8 compressed transaction (a zstd TRANSACTION_PAYLOAD written into the server's binary log as MySQL writes one, served by the server as it is): applied whole to PostgreSQL, in its place between the transactions around it; one whose compressed bytes are corrupt exits 3 at its position; a PARTIAL_UPDATE_ROWS is read as an update" {
	my_sql "CREATE DATABASE pz_src"
	my_sql pz_src "CREATE TABLE t (id int PRIMARY KEY, name varchar(20)) CHARACTER SET utf8mb4; INSERT INTO t VALUES (1, 'real')"
	pg_sql postgres "CREATE DATABASE pz_dst"
	run --separate-stderr dms-full-load "$(my_uri pz_src)" "$(pg_uri pz_dst)"
	assert_status 0
	p0=$(binlog_pos)
	my_sql pz_src "INSERT INTO t VALUES (3, 'before')"
	# BEGIN, TABLE_MAP, INSERT 101 and 102, UPDATE 102, DELETE 1, XID: before the ROTATE that ends the file
	splice pz_src t
	file=$spliced_file at=$spliced_at
	my_sql pz_src "INSERT INTO t VALUES (4, 'after')"
	p1=$(binlog_pos)
	run --separate-stderr bash -c "dms-capture --start '$p0' --stop-at '$p1' '$(my_uri pz_src)' >pz.dms"
	assert_status 0
	run --separate-stderr dms-transform --to-json pz.dms
	assert_status 0
	# three transactions, the compressed one second, ending where its event ends
	expect "the commits" 3 "$(grep -c '"kind":"COMMIT"' <<<"$output")"
	commit2=$(grep '"kind":"COMMIT"' <<<"$output" | sed -n 2p)
	[[ "$commit2" == *'"position":"'"$file"':'* && "$commit2" == *'"changes":4'* ]]
	[ "$(sed 's/.*"position":"[^:]*:\([0-9]*\)".*/\1/' <<<"$commit2")" -gt "$at" ]
	run --separate-stderr dms-load --task pz "$(pg_uri pz_dst)" <pz.dms
	assert_status 0
	expect "the target" "3:before,4:after,101:zstd one,102:zstd changed" \
		"$(pg_sql pz_dst "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM pz_src.t")"
	# a payload whose compressed bytes are corrupt (its event's checksum right): exit 3 at its position, not a skip
	p2=$(binlog_pos)
	splice pz_src t corrupt
	my_sql pz_src "INSERT INTO t VALUES (5, 'later')"
	p3=$(binlog_pos)
	run --separate-stderr bash -c "dms-capture --start '$p2' --stop-at '$p3' '$(my_uri pz_src)' >bad.dms"
	assert_status 3
	assert_match "$spliced_file:[0-9]*: TRANSACTION_PAYLOAD: " "$stderr"
	# MySQL 8's PARTIAL_UPDATE_ROWS (whole values), which the library refuses: an update like another
	p4=$(binlog_pos)
	splice pz_src t partial
	my_sql pz_src "INSERT INTO t VALUES (6, 'last')"
	p5=$(binlog_pos)
	run --separate-stderr bash -o pipefail -c "dms-capture --start '$p4' --stop-at '$p5' '$(my_uri pz_src)' | dms-load --task pz '$(pg_uri pz_dst)'"
	assert_status 0
	expect "the target" "3:partly,4:after,6:last,101:zstd one,102:zstd changed" \
		"$(pg_sql pz_dst "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM pz_src.t")"
}

# purged TO FILE: PURGE BINARY LOGS TO, then FILE is no longer listed
purged() {
	my_sql "PURGE BINARY LOGS TO '$1'" 2>/dev/null
	! my_sql "SHOW BINARY LOGS" | awk '{ print $1 }' | grep -qx "$2"
}

@test "dms-capture from MariaDB: a start the server no longer has (its binary log purged) exits 3 at once with the server's reason, without retrying" {
	old=$(binlog_pos)
	my_sql "FLUSH BINARY LOGS"
	now=$(binlog_pos)
	# a log still read by a dump thread (an earlier test's, until the server
	# sees its client gone) is kept: purged again until it is gone
	wait_for "${old%:*} purged" purged "${now%:*}" "${old%:*}"
	run --separate-stderr timeout 20 dms-capture --retry-time 60 --start "$old" "$(my_uri mysql)"
	assert_status 3
	[[ "$stderr" == *"the binary log cannot be read from $old"*"purged?"* ]]
	[[ "$stderr" != *"connecting again"* ]]
}
