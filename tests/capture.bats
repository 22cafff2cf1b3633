#!/usr/bin/env bats
# dms-capture (issue 12): a PostgreSQL 15 source's committed changes through
# logical replication, applied by dms-load to real PostgreSQL and MariaDB
# targets. Every check is made with the engines' own clients, or with
# dms-validate against the source.

load helpers/common
load helpers/servers
load helpers/fidelity

setup_file() {
	servers_start pg my
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# capture_to DB TASK FILE: the changes of DB so far (its WAL up to the insert
# position: the write position may lag a commit), as a stream in FILE
capture_to() {
	local stop
	stop=$(pg_sql "$1" "SELECT pg_current_wal_insert_lsn()")
	dms-capture --task "$2" --stop-at "$stop" "$(pg_uri "$1")" >"$3"
}

@test "dms-capture: --help, --version, usage errors, a source that is neither PostgreSQL nor MySQL" {
	run --separate-stderr dms-capture --help
	assert_status 0
	assert_match "usage: dms-capture" "$output"
	run --separate-stderr dms-capture --version
	assert_status 0
	run --separate-stderr dms-capture
	assert_status 2
	run --separate-stderr dms-capture --stop-at yesterday "$(pg_uri postgres)"
	assert_status 2
	assert_match "stop-at" "$stderr"
	run --separate-stderr dms-capture "oracle://u@127.0.0.1/db"
	assert_status 2
	assert_match "not a database URI" "$stderr"
}

@test "every type, inserted, updated and deleted on the source, captured and applied to both targets" {
	fidelity_pg_source cap_types
	pg_sql cap_types "CREATE TABLE pgtypes2 (LIKE pgtypes INCLUDING ALL)"
	# the slot and publication first (they see what comes after them), then the changes
	capture_to cap_types types none.dms
	expect "nothing before the slot" 0 "$(dms-transform --to-json none.dms | awk '/"kind":"BEGIN"/ { n++ } END { print n + 0 }')"
	pg_sql cap_types "INSERT INTO pgtypes2 SELECT * FROM pgtypes"
	pg_sql cap_types "UPDATE pgtypes2 p SET b = q.b, i2 = q.i2, i4 = q.i4, i8 = q.i8, n = q.n, nn = q.nn,
		r4 = q.r4, r8 = q.r8, vc = q.vc, ch = q.ch, tx = q.tx, by = q.by, d = q.d, t = q.t, ts = q.ts,
		tz = q.tz, j = q.j, js = q.js, u = q.u, iv = q.iv, arr = q.arr
		FROM pgtypes2 q WHERE p.id = 1 AND q.id = 2"
	pg_sql cap_types "DELETE FROM pgtypes2 WHERE id = 3"
	pg_sql cap_types "UPDATE pgtypes2 SET id = 30 WHERE id = 2"
	capture_to cap_types types changes.dms
	cat >only2.json <<'JSON'
{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
  "object-locator": {"schema-name": "public", "table-name": "pgtypes2"}}]}
JSON
	pg_sql postgres "CREATE DATABASE cap_types_dst"
	my_sql "CREATE DATABASE cap_types_dst"
	for u in "$(pg_uri cap_types_dst)" "$(my_uri cap_types_dst)"; do
		run --separate-stderr dms-load --task types "$u" <changes.dms
		assert_status 0
		run --separate-stderr dms-validate -m only2.json "$(pg_uri cap_types)" "$u"
		assert_status 0
	done
	# the transactions, whole, in commit order, each with its commit position
	dms-transform --to-json changes.dms >changes.jsonl
	expect "four transactions" 4 "$(grep -c '"kind":"COMMIT"' changes.jsonl)"
	expect "the key change is an UPDATE with the old key" 1 \
		"$(grep -c '"kind":"UPDATE","tid":[0-9]*,"new":\[30,.*"old":\[2,' changes.jsonl)"
}

@test "a table renamed on the source, then moved to another schema: the targets' table follows with its rows, in the dms-load run that meets the rename and in a later one" {
	pg_sql postgres "CREATE DATABASE cap_rn"
	pg_sql cap_rn "CREATE TABLE a (id int PRIMARY KEY, v text); CREATE SCHEMA other"
	capture_to cap_rn rn none.dms
	pg_sql cap_rn "INSERT INTO a VALUES (1, 'x'), (2, 'y')"
	capture_to cap_rn rn part1.dms
	pg_sql cap_rn "ALTER TABLE a RENAME TO b"
	pg_sql cap_rn "INSERT INTO b VALUES (3, 'z')"
	pg_sql cap_rn "ALTER TABLE b SET SCHEMA other"
	pg_sql cap_rn "UPDATE other.b SET v = 'w' WHERE id = 1"
	# the slot is not moved on (no ack file): this capture reads part 1 again, then the renames
	capture_to cap_rn rn all.dms
	dms-transform --to-json all.dms >all.jsonl
	grep -q '"name":"b".*"renamed_from":\["public","a"\]' all.jsonl
	pg_sql postgres "CREATE DATABASE cap_rn_one"
	pg_sql postgres "CREATE DATABASE cap_rn_two"
	my_sql "CREATE DATABASE cap_rn_two"
	# one run meets both renames; in the others, a first run left the table as a, and the next meets renamed_from
	run --separate-stderr dms-load --task rn "$(pg_uri cap_rn_one)" <all.dms
	assert_status 0
	for u in "$(pg_uri cap_rn_two)" "$(my_uri cap_rn_two)"; do
		run --separate-stderr dms-load --task rn "$u" <part1.dms
		assert_status 0
		run --separate-stderr dms-load --task rn "$u" <all.dms
		assert_status 0
	done
	want="1:w 2:y 3:z"
	for db in cap_rn_one cap_rn_two; do
		expect "PostgreSQL $db: other.b" "$want" "$(pg_sql "$db" "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM other.b")"
		expect "PostgreSQL $db: a and public.b are gone" 0 "$(pg_sql "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b') AND schemaname = 'public'")"
	done
	expect "MariaDB: b" "$want" "$(my_sql cap_rn_two "SELECT group_concat(id, ':', v ORDER BY id SEPARATOR ' ') FROM b")"
	expect "MariaDB: a is gone" 0 "$(my_sql cap_rn_two "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'cap_rn_two' AND TABLE_NAME = 'a'")"
}

@test "unchanged TOASTed values stay as they are; rolled-back transactions and savepoints leave nothing, streamed or not" {
	pg_sql postgres "CREATE DATABASE cap_toast"
	pg_sql cap_toast "CREATE TABLE t (id int PRIMARY KEY, n int, big text);
		CREATE TABLE f (id int PRIMARY KEY, n int, big text); ALTER TABLE f REPLICA IDENTITY FULL;
		CREATE TABLE s (id int PRIMARY KEY, v text)"
	capture_to cap_toast toast none.dms
	# values that do not compress, stored out of line
	pg_sql cap_toast "INSERT INTO t SELECT g, 0, (SELECT string_agg(md5(random()::text || x), '') FROM generate_series(1, 200) x) FROM generate_series(1, 3) g;
		INSERT INTO f SELECT * FROM t"
	pg_sql cap_toast "UPDATE t SET n = n + 1; UPDATE f SET n = n + 1"
	# a savepoint rolled back, a transaction rolled back
	pg_sql cap_toast "BEGIN; INSERT INTO s VALUES (1, 'kept'); SAVEPOINT a; INSERT INTO s VALUES (2, 'gone'); ROLLBACK TO a; COMMIT"
	pg_sql cap_toast "BEGIN; INSERT INTO s VALUES (3, 'gone'); ROLLBACK"
	# the same, large enough that the server streams it before its commit
	pg_sql cap_toast "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'"
	pg_sql cap_toast "SELECT pg_reload_conf()" >/dev/null
	pg_sql cap_toast "BEGIN; INSERT INTO s SELECT g, 'kept' FROM generate_series(10, 3000) g;
		SAVEPOINT a; INSERT INTO s SELECT g, 'gone' FROM generate_series(5000, 8000) g; ROLLBACK TO a; COMMIT"
	pg_sql cap_toast "BEGIN; INSERT INTO s SELECT g, 'gone' FROM generate_series(10000, 13000) g; ROLLBACK"
	capture_to cap_toast toast changes.dms
	pg_sql cap_toast "ALTER SYSTEM RESET logical_decoding_work_mem"
	pg_sql cap_toast "SELECT pg_reload_conf()" >/dev/null
	dms-transform --to-json changes.dms >changes.jsonl
	expect "UNCHANGED where the old row is not sent" 3 "$(grep -c '"\$unchanged":true' changes.jsonl)"
	pg_sql postgres "CREATE DATABASE cap_toast_dst"
	run --separate-stderr dms-load --task toast "$(pg_uri cap_toast_dst)" <changes.dms
	assert_status 0
	for tb in t f; do
		q="SELECT string_agg(id || ':' || n || ':' || md5(big), ',' ORDER BY id) FROM $tb"
		expect "$tb as on the source" "$(pg_sql cap_toast "$q")" "$(pg_sql cap_toast_dst "$q")"
	done
	expect "only what was committed" "$(pg_sql cap_toast "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'gone') FROM s")" \
		"$(pg_sql cap_toast_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'gone') FROM s")"
	expect "2992 kept, none gone" "2992 0" "$(pg_sql cap_toast_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'gone') FROM s")"
}

@test "live: capture and apply follow the source; the slot confirms what the target has, and the idle WAL end; TERM ends both cleanly" {
	pg_sql postgres "CREATE DATABASE cap_live"
	pg_sql postgres "CREATE DATABASE cap_live_dst"
	pg_sql cap_live "CREATE TABLE k (id int PRIMARY KEY, v text)"
	capture_to cap_live live none.dms
	mkfifo pipe
	dms-capture --task live --ack-file ack "$(pg_uri cap_live)" >pipe 2>capture.log &
	cpid=$!
	dms-load --task live --ack-file ack "$(pg_uri cap_live_dst)" <pipe 2>load.log &
	lpid=$!
	pg_sql cap_live "INSERT INTO k SELECT g, 'v' || g FROM generate_series(1, 100) g"
	pg_sql cap_live "UPDATE k SET v = 'w' WHERE id <= 10; DELETE FROM k WHERE id > 90"
	applied() { [ "$(pg_sql cap_live_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'w') FROM k" 2>/dev/null)" = "90 10" ]; }
	wait_for "the changes applied" applied
	# WAL that concerns no captured change (another database) is released while idle
	pg_sql postgres "CREATE TABLE IF NOT EXISTS junk AS SELECT generate_series(1, 20000) g"
	wal=$(pg_sql cap_live "SELECT pg_current_wal_lsn()")
	confirmed() { [ "$(pg_sql cap_live "SELECT confirmed_flush_lsn >= '$wal' FROM pg_replication_slots WHERE slot_name = 'dms_live'")" = t ]; }
	wait_for "the slot's confirmed position past the idle WAL end" confirmed
	kill -TERM "$cpid"
	wait "$cpid" && st=0 || st=$?
	expect "dms-capture: TERM, exit 0" 0 "$st"
	wait "$lpid" && st=0 || st=$?
	expect "dms-load: the stream ended with END, exit 0" 0 "$st"
	run --separate-stderr dms-validate "$(pg_uri cap_live)" "$(pg_uri cap_live_dst)"
	assert_status 0
}

@test "what logical replication needs: each missing piece is an error naming its fix (exit 3)" {
	pg_sql postgres "CREATE DATABASE cap_err"
	pg_sql cap_err "CREATE TABLE nokey (a int); CREATE TABLE ok (id int PRIMARY KEY)"
	run --separate-stderr dms-capture --task err --stop-at 0/1 "$(pg_uri cap_err)"
	assert_status 3
	assert_match "public.nokey.*add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL" "$stderr"
	pg_sql cap_err "ALTER TABLE nokey REPLICA IDENTITY FULL"
	pg_sql cap_err "SELECT pg_create_logical_replication_slot('other', 'test_decoding')" >/dev/null
	run --separate-stderr dms-capture --task err --slot other --stop-at 0/1 "$(pg_uri cap_err)"
	assert_status 3
	assert_match "not a pgoutput slot of this database" "$stderr"
	pg_sql cap_err "SELECT pg_drop_replication_slot('other')" >/dev/null
	pg_sql cap_err "CREATE ROLE norep LOGIN PASSWORD '$DMS_TEST_PASSWORD'; GRANT ALL ON ALL TABLES IN SCHEMA public TO norep"
	run --separate-stderr dms-capture --task err --stop-at 0/1 "postgresql://norep:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/cap_err"
	assert_status 3
	assert_match "REPLICATION" "$stderr"
	run --separate-stderr dms-capture --task err --stop-at 0/1 "$(pg_uri cap_err)"
	assert_status 0
	run --separate-stderr dms-capture --task err --drop-slot "$(pg_uri cap_err)"
	assert_status 0
	expect "slot and publication dropped" "0 0" \
		"$(pg_sql cap_err "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dms_err') || ' ' || (SELECT count(*) FROM pg_publication WHERE pubname = 'dms_err')")"
}

@test "dms-capture and dms-load killed with SIGKILL at random moments, rerun: nothing lost, nothing doubled" {
	pg_sql postgres "CREATE DATABASE cap_kill"
	pg_sql postgres "CREATE DATABASE cap_kill_dst"
	pg_sql cap_kill "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, note text)"
	capture_to cap_kill kill none.dms
	# 20000 transactions, each its own commit: inserts, then counters bumped (a doubled change shows)
	pg_sql cap_kill "CREATE PROCEDURE gen(k int) LANGUAGE plpgsql AS \$\$
		BEGIN
			FOR i IN 1..k LOOP
				IF i <= 300 THEN
					INSERT INTO c (id, note) VALUES (i, 'row ' || i);
				ELSIF i % 7 = 0 THEN
					DELETE FROM c WHERE id = (i * 31) % 300 + 1;
					INSERT INTO c (id, note) VALUES ((i * 31) % 300 + 1, 'again') ON CONFLICT (id) DO NOTHING;
				ELSE
					UPDATE c SET n = n + 1 WHERE id IN ((i * 17) % 300 + 1, (i * 13) % 300 + 1);
				END IF;
				COMMIT;
			END LOOP;
		END \$\$"
	pg_sql cap_kill "CALL gen(20000)"
	stop=$(pg_sql cap_kill "SELECT pg_current_wal_insert_lsn()")
	echo '{"ChangeProcessingTuning": {"MinTransactionSize": 1}}' >each.json
	applied() {
		pg_sql cap_kill_dst "SELECT transactions FROM dms.apply_state WHERE task_name = 'kill'" 2>/dev/null
	}
	past() {
		local n
		n=$(applied) && [ -n "$n" ] && [ "$n" -gt "$1" ]
	}
	# alive PID: running, not a zombie waiting for its status to be read
	alive() {
		local st
		st=$(ps -o stat= -p "$1") && [[ $st != Z* ]]
	}
	before=0
	killed_capture=0
	mkfifo pipe
	for k in $(seq 1 6); do
		# by their PIDs: another run's processes are never touched
		dms-capture --task kill --ack-file ack --stop-at "$stop" "$(pg_uri cap_kill)" >pipe 2>>capture.log &
		cpid=$!
		dms-load --task kill -s each.json --ack-file ack "$(pg_uri cap_kill_dst)" <pipe 2>>load.log &
		lpid=$!
		wait_for "kill $k: progress past $before" past $((before + 1 + RANDOM % 50))
		# the capture, the loader, or both
		case $((k % 3)) in
		0) kill -KILL "$lpid" ;;
		*)
			# the capture while it still streams (else the loader, which may have read the rest)
			if alive "$cpid" && kill -KILL "$cpid"; then
				killed_capture=$((killed_capture + 1))
				[ $((k % 3)) = 1 ] || kill -KILL "$lpid"
			else
				kill -KILL "$lpid"
			fi
			;;
		esac
		wait "$cpid" "$lpid" && st=0 || st=$?
		[ "$st" -ne 0 ] || { echo "kill $k: nothing was stopped" >&2; false; }
		before=$(applied)
	done
	[ "$killed_capture" -ge 2 ] || { echo "dms-capture was killed $killed_capture times" >&2; false; }
	run --separate-stderr bash -o pipefail -c "dms-capture --task kill --ack-file ack --stop-at $stop '$(pg_uri cap_kill)' | dms-load --task kill -s each.json --ack-file ack '$(pg_uri cap_kill_dst)'"
	assert_status 0
	q="SELECT count(*) || ' ' || sum(n) || ' ' || md5(string_agg(id || ':' || n || ':' || note, ',' ORDER BY id)) FROM c"
	expect "the table, counters and all" "$(pg_sql cap_kill "$q")" "$(pg_sql cap_kill_dst "$q")"
}

@test "a transaction beyond the memory bound spills to a file and leaves whole" {
	pg_sql postgres "CREATE DATABASE cap_big"
	pg_sql cap_big "CREATE TABLE big (id int PRIMARY KEY, pad text)"
	capture_to cap_big big none.dms
	# about 6 MB of changes in one transaction, 64 KiB kept in memory
	pg_sql cap_big "INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 20000) g"
	pg_sql cap_big "UPDATE big SET pad = 'x' || pad WHERE id % 2 = 0"
	stop=$(pg_sql cap_big "SELECT pg_current_wal_insert_lsn()")
	run --separate-stderr bash -c "dms-capture -v --memory 65536 --task big --stop-at $stop '$(pg_uri cap_big)' >big.dms"
	assert_status 0
	assert_match "spilled to a temporary file" "$stderr"
	pg_sql postgres "CREATE DATABASE cap_big_dst"
	run --separate-stderr dms-load --task big "$(pg_uri cap_big_dst)" <big.dms
	assert_status 0
	q="SELECT count(*) || ' ' || md5(string_agg(id || pad, ',' ORDER BY id)) FROM big"
	expect "the table as on the source" "$(pg_sql cap_big "$q")" "$(pg_sql cap_big_dst "$q")"
}

@test "a full load in the slot's exported snapshot, then the changes after it: the target equals the source; capture streams while the snapshot is held" {
	pg_sql postgres "CREATE DATABASE cap_fl"
	pg_sql postgres "CREATE DATABASE cap_fl_dst"
	pg_sql cap_fl "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"
	mkfifo hold
	dms-capture --task fl --export-snapshot "$(pg_uri cap_fl)" <hold >snap 2>hold.log &
	hpid=$!
	exec 7>hold
	wait_for "the exported snapshot" test -s snap
	read -r snapshot point <snap
	[ -n "$snapshot" ] && [ -n "$point" ]
	# changes after the snapshot: not in the load, in the stream
	pg_sql cap_fl "UPDATE t SET v = 'changed' WHERE id <= 10"
	pg_sql cap_fl "DELETE FROM t WHERE id > 990"
	pg_sql cap_fl "INSERT INTO t VALUES (2000, 'new')"
	stop=$(pg_sql cap_fl "SELECT pg_current_wal_insert_lsn()")
	# a second replication connection streams from the slot while the first holds the snapshot
	run --separate-stderr bash -c "dms-capture --task fl --stop-at $stop '$(pg_uri cap_fl)' >changes.dms"
	assert_status 0
	run --separate-stderr dms-full-load -q --snapshot "$snapshot" --task fl "$(pg_uri cap_fl)" "$(pg_uri cap_fl_dst)"
	assert_status 0
	expect "the load is the snapshot's, before the changes" "1000 0" \
		"$(pg_sql cap_fl_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'changed') FROM t")"
	exec 7>&-
	wait "$hpid" && st=0 || st=$?
	expect "the holder ends with its stdin" 0 "$st"
	run --separate-stderr dms-load --task fl "$(pg_uri cap_fl_dst)" <changes.dms
	assert_status 0
	run --separate-stderr dms-validate "$(pg_uri cap_fl)" "$(pg_uri cap_fl_dst)"
	assert_status 0
	expect "nothing doubled, nothing lost" "991 10" \
		"$(pg_sql cap_fl_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'changed') FROM t")"
}

@test "a backlog far behind the slot is read through SQL in chunks: the same changes, the slot advanced, a SIGKILL in the middle loses and doubles nothing" {
	pg_sql postgres "CREATE DATABASE cap_back"
	pg_sql cap_back "CREATE TABLE b (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, pad text)"
	for t in back1 back2 back3; do
		capture_to cap_back "$t" none.dms
	done
	before=$(pg_sql cap_back "SELECT pg_current_wal_insert_lsn()")
	# about 150 MB of WAL, well past the 16 MB that turns to SQL and over
	# several 64 MB chunks: rows, then counters bumped in 6 transactions (a
	# doubled change shows), one of them big
	pg_sql cap_back "INSERT INTO b (id, pad) SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 20000) g"
	for r in $(seq 1 6); do
		pg_sql cap_back "UPDATE b SET n = n + 1, pad = md5(pad) || substr(pad, 33)"
	done
	pg_sql cap_back "DELETE FROM b WHERE id % 10 = 0"
	stop=$(pg_sql cap_back "SELECT pg_current_wal_insert_lsn()")
	q="SELECT count(*) || ' ' || sum(n) || ' ' || md5(string_agg(id || ':' || n || ':' || pad, ',' ORDER BY id)) FROM b"
	want=$(pg_sql cap_back "$q")

	# through the spool, the capture killed once it has written part of the backlog
	dms-capture -v --task back1 -o spool "$(pg_uri cap_back)" 2>capture.log &
	cpid=$!
	written() { grep -q "reading the backlog" capture.log && [ "$(find spool -name '*.lz4' -size +100k | wc -l)" -gt 0 ]; }
	wait_for "part of the backlog in the spool" written
	kill -KILL "$cpid"
	wait "$cpid" && st=0 || st=$?
	expect "dms-capture killed" 137 "$st"
	run --separate-stderr dms-capture -v --task back1 -o spool --stop-at "$stop" "$(pg_uri cap_back)"
	assert_status 0
	assert_match "reading the backlog" "$stderr"
	pg_sql postgres "CREATE DATABASE cap_back_dst1"
	run --separate-stderr bash -o pipefail -c "dms-transform spool | dms-load --task back1 '$(pg_uri cap_back_dst1)'"
	assert_status 0
	expect "through the spool: the table, counters and all" "$want" "$(pg_sql cap_back_dst1 "$q")"
	advanced=$(pg_sql cap_back "SELECT confirmed_flush_lsn - '$before' > 64 * 1024 * 1024 FROM pg_replication_slots WHERE slot_name = 'dms_back1'")
	expect "the slot advanced over the chunks the spool has" t "$advanced"

	# through a pipe: each chunk applied (the ack file) before the slot moves past it
	pg_sql postgres "CREATE DATABASE cap_back_dst2"
	run --separate-stderr bash -o pipefail -c "dms-capture -v --task back2 --ack-file ack --stop-at $stop '$(pg_uri cap_back)' | dms-load --task back2 --ack-file ack '$(pg_uri cap_back_dst2)'"
	assert_status 0
	assert_match "reading the backlog" "$stderr"
	expect "through a pipe: the table, counters and all" "$want" "$(pg_sql cap_back_dst2 "$q")"
	moved=$(pg_sql cap_back "SELECT confirmed_flush_lsn - '$before' > 64 * 1024 * 1024 AND confirmed_flush_lsn <= '$stop' FROM pg_replication_slots WHERE slot_name = 'dms_back2'")
	expect "the slot advanced, never past the target" t "$moved"

	# a role that may replicate but not call the SQL functions: the stream reads the backlog
	pg_sql cap_back "CREATE ROLE backrep LOGIN REPLICATION PASSWORD '$DMS_TEST_PASSWORD';
		REVOKE EXECUTE ON FUNCTION pg_logical_slot_peek_binary_changes FROM PUBLIC"
	pg_sql postgres "CREATE DATABASE cap_back_dst3"
	src="postgresql://backrep:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/cap_back"
	run --separate-stderr bash -o pipefail -c "dms-capture --task back3 --ack-file ack3 --stop-at $stop '$src' | dms-load --task back3 --ack-file ack3 '$(pg_uri cap_back_dst3)'"
	assert_status 0
	assert_match "could not be read through SQL: the replication stream goes on" "$stderr"
	expect "through the stream: the table, counters and all" "$want" "$(pg_sql cap_back_dst3 "$q")"
}
