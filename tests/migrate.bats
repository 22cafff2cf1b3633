#!/usr/bin/env bats
# The spool (dms-capture -o, dms-transform DIR) and dms-migrate (issue 12):
# full load, cached changes and ongoing replication from a live PostgreSQL 15
# source, to real PostgreSQL and MariaDB targets. Every check of a target is
# made with the engines' own clients.

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

now_lsn() {
	pg_sql "$1" "SELECT pg_current_wal_insert_lsn()"
}

# applied_up_to ENGINE DB TASK LSN: the target's apply_state is at or past LSN
applied_up_to() {
	local pos
	case $1 in
	pg) pos=$(pg_sql "$2" "SELECT position FROM dms.apply_state WHERE task_name = '$3'" 2>/dev/null) ;;
	my) pos=$(my_sql dms "SELECT position FROM apply_state WHERE task_name = '$3' AND target_database = '$2'" 2>/dev/null) ;;
	esac
	[ -n "$pos" ] && [ "$(pg_sql postgres "SELECT '$pos'::pg_lsn >= '$4'::pg_lsn")" = t ]
}

# slot_confirms SLOT LSN: the slot's confirmed position is at or past LSN
slot_confirms() {
	[ "$(pg_sql postgres "SELECT confirmed_flush_lsn >= '$2' FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]
}

@test "dms-migrate: --help, usage errors, a source change capture does not read" {
	run --separate-stderr dms-migrate --help
	assert_status 0
	assert_match "usage: dms-migrate" "$output"
	run --separate-stderr dms-migrate "$(pg_uri postgres)"
	assert_status 2
	run --separate-stderr dms-migrate --type sideways "$(pg_uri postgres)" "$(pg_uri postgres)"
	assert_status 2
	assert_match "full-load, cdc or full-load-and-cdc" "$stderr"
	run --separate-stderr dms-migrate --task 'no-dash' "$(pg_uri postgres)" "$(pg_uri postgres)"
	assert_status 2
	run --separate-stderr dms-migrate --type cdc "oracle://u@127.0.0.1/db" "$(pg_uri postgres)"
	assert_status 2
	assert_match "reads PostgreSQL, MySQL and MariaDB sources" "$stderr"
	run --separate-stderr dms-transform --follow
	assert_status 2
	assert_match "spool directory" "$stderr"
	run --separate-stderr dms-transform "$BATS_TEST_TMPDIR"
	assert_status 5
	assert_match "not a spool" "$stderr"
	run --separate-stderr dms-capture -o sp --ack-file a "$(pg_uri postgres)"
	assert_status 2
}

@test "the spool: segments rotate and read back as one stream, follow, go once applied; a killed writer resumes without a doubled or lost transaction; a second writer and another source are refused" {
	pg_sql postgres "CREATE DATABASE sp_src"
	pg_sql postgres "CREATE DATABASE sp_dst"
	pg_sql sp_src "CREATE TABLE a (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, v text);
		CREATE TABLE b (id int PRIMARY KEY, w text)"
	dms-capture --task sp -o spool --segment-size 8192 "$(pg_uri sp_src)" 2>cap1.log &
	cpid=$!
	wait_for "the spool's state" test -s spool/state
	# a second writer of the same spool is refused
	run --separate-stderr dms-capture --task sp2 -o spool "$(pg_uri sp_src)"
	assert_status 2
	assert_match "another dms-capture writes this spool" "$stderr"
	# the reader follows; the target applies and acknowledges
	mkfifo pipe
	dms-transform --follow --ack-file ack spool >pipe 2>reader.log &
	rpid=$!
	dms-load --task sp --ack-file ack "$(pg_uri sp_dst)" <pipe 2>load.log &
	lpid=$!
	for i in $(seq 1 40); do
		pg_sql sp_src "INSERT INTO a SELECT g, 0, md5(g::text) FROM generate_series($i * 100, $i * 100 + 99) g;
			UPDATE a SET n = n + 1 WHERE id % 7 = $((i % 7)); INSERT INTO b VALUES ($i, repeat('w', $i))"
	done
	# killed mid-write: what it wrote after its last durable point is cut, the slot resends it
	kill -KILL "$cpid"
	wait "$cpid" && st=0 || st=$?
	expect "the writer killed" 137 "$st"
	pg_sql sp_src "UPDATE a SET n = n + 1 WHERE id < 1000; DELETE FROM b WHERE id > 30"
	dms-capture --task sp -o spool --segment-size 8192 "$(pg_uri sp_src)" 2>cap2.log &
	cpid=$!
	for i in $(seq 41 60); do
		pg_sql sp_src "INSERT INTO a SELECT g, 0, md5(g::text) FROM generate_series($i * 100, $i * 100 + 99) g;
			UPDATE a SET n = n + 1 WHERE id % 5 = $((i % 5))"
	done
	lsn=$(now_lsn sp_src)
	wait_for "the target at $lsn" applied_up_to pg sp_dst sp "$lsn"
	# idle, everything synced: the slot confirms the WAL end, other databases' WAL included
	pg_sql postgres "CREATE TABLE IF NOT EXISTS elsewhere (x int); INSERT INTO elsewhere VALUES (1)"
	lsn=$(now_lsn postgres)
	wait_for "the slot confirming $lsn" slot_confirms dms_sp "$lsn"
	seg=$(sed -n 's/^segment \([0-9]*\) .*/\1/p' spool/state)
	[ "$seg" -ge 3 ] || { cat spool/state >&2; false; }
	# segments wholly applied are deleted by the reader (it looks every second)
	wait_for "applied segments deleted" test ! -e spool/0000000001.lz4
	test -e "spool/$(printf %010d "$seg").lz4"
	kill -TERM "$rpid"
	wait "$rpid"
	wait "$lpid"
	kill -TERM "$cpid"
	wait "$cpid"
	for t in "a id id,n,v" "b id id,w"; do
		set -- $t
		expect "table $1" "$(digest pg sp_src "$1" "$2" "$3")" "$(digest pg sp_dst "$1" "$2" "$3")"
	done
	# read back without --follow: a stream from the ack position to the durable end, that ends
	run --separate-stderr bash -c "dms-transform --ack-file ack spool | dms-transform --to-json"
	assert_status 0
	assert_match '"kind":"END"' "$output"
	# damage: a state file that is not one, a segment with a changed byte
	cp -r spool bad1
	echo garbage >bad1/state
	run --separate-stderr dms-transform bad1
	assert_status 5
	assert_match "not a dms spool state" "$stderr"
	cp -r spool bad2
	seg=$(ls bad2/*.lz4 | head -n 1)
	size=$(stat -c %s "$seg")
	[ "$size" -gt 64 ]
	printf '\377' | dd of="$seg" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run --separate-stderr bash -c "dms-transform bad2 >/dev/null"
	assert_status 5
	assert_match "(corrupt|truncated) LZ4 input" "$stderr"
	# another source's spool is refused
	pg_sql postgres "CREATE DATABASE sp_other"
	pg_sql sp_other "CREATE TABLE x (id int PRIMARY KEY)"
	run --separate-stderr dms-capture --task spo -o spool "$(pg_uri sp_other)"
	assert_status 2
	assert_match "not of this source" "$stderr"
	dms-capture --task spo --drop-slot "$(pg_uri sp_other)"
	dms-capture --task sp --drop-slot "$(pg_uri sp_src)"
}

# writer DB SECONDS: inserts, updates with and without the TOASTed column,
# deletes, and a column added half-way, each statement its own transaction
writer() {
	local db=$1 end=$((SECONDS + $2)) i=0
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		pg_sql "$db" "INSERT INTO docs (n, big, note) VALUES ($i, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200)), 'w$i');
			UPDATE docs SET n = n + 1 WHERE id = (SELECT max(id) - 3 FROM docs);
			UPDATE docs SET big = md5(big) || big WHERE id = (SELECT min(id) + $i % 50 FROM docs);
			DELETE FROM docs WHERE id = (SELECT min(id) FROM docs WHERE note LIKE 'w%' AND n % 3 = 0)" || return 1
		if [ "$i" = 20 ]; then
			pg_sql "$db" "ALTER TABLE docs ADD COLUMN extra int DEFAULT 7" || return 1
		fi
		if [ "$i" -gt 20 ]; then
			pg_sql "$db" "UPDATE docs SET extra = $i WHERE id = (SELECT max(id) FROM docs)" || return 1
		fi
	done
}

@test "full-load-and-cdc under concurrent writes (pgbench; inserts, TOAST updates, deletes, a column added) into PostgreSQL and MariaDB: every table equal to the source" {
	pg_sql postgres "CREATE DATABASE mg_src"
	pg_sql postgres "CREATE DATABASE mg_dst"
	my_sql "CREATE DATABASE mg_dst"
	pgbench -i -q -s 3 "$(pg_uri mg_src)" 2>/dev/null
	pg_sql mg_src "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY;
		CREATE TABLE docs (id serial PRIMARY KEY, n int, big text, note text);
		INSERT INTO docs (n, big, note) SELECT g, (SELECT string_agg(md5(g::text || k), '') FROM generate_series(1, 200) k), 'seed'
		FROM generate_series(1, 500) g"
	pgbench -n -T 25 -c 2 "$(pg_uri mg_src)" >pgbench.log 2>&1 &
	bpid=$!
	writer mg_src 25 2>writer.log &
	wpid=$!
	dms-migrate --task mgpg --spool pg.spool "$(pg_uri mg_src)" "$(pg_uri mg_dst)" 2>pg.log &
	ppid=$!
	dms-migrate --task mgmy --spool my.spool "$(pg_uri mg_src)" "$(my_uri mg_dst)" 2>my.log &
	mpid=$!
	wait "$bpid"
	wait "$wpid"
	lsn=$(now_lsn mg_src)
	# the backlog of two migrations and two writers on two cores: minutes, not seconds
	WAIT_SECONDS=300 wait_for "PostgreSQL target at $lsn" applied_up_to pg mg_dst mgpg "$lsn"
	WAIT_SECONDS=300 wait_for "MariaDB target at $lsn" applied_up_to my mg_dst mgmy "$lsn"
	# TERM: every stage drains, exit 0
	kill -TERM "$ppid" "$mpid"
	wait "$ppid" || { cat pg.log >&2; false; }
	wait "$mpid" || { cat my.log >&2; false; }
	grep -q "full load in snapshot" pg.log
	grep -q "cached changes applied" pg.log
	grep -q "replicating" pg.log
	expect "the writer's transactions committed" "" "$(cat writer.log)"
	for e in pg my; do
		expect "$e: pgbench_accounts" "$(digest pg mg_src pgbench_accounts aid aid,bid,abalance)" \
			"$(digest "$e" mg_dst pgbench_accounts aid aid,bid,abalance)"
		expect "$e: pgbench_tellers" "$(digest pg mg_src pgbench_tellers tid tid,bid,tbalance)" \
			"$(digest "$e" mg_dst pgbench_tellers tid tid,bid,tbalance)"
		expect "$e: pgbench_branches" "$(digest pg mg_src pgbench_branches bid bid,bbalance)" \
			"$(digest "$e" mg_dst pgbench_branches bid bid,bbalance)"
		expect "$e: pgbench_history" "$(digest pg mg_src pgbench_history id id,tid,bid,aid,delta)" \
			"$(digest "$e" mg_dst pgbench_history id id,tid,bid,aid,delta)"
		expect "$e: docs" "$(digest pg mg_src docs id "id,n,md5(big),note,extra")" \
			"$(digest "$e" mg_dst docs id "id,n,md5(big),note,extra")"
	done
	for t in mgpg mgmy; do
		dms-capture --task "$t" --drop-slot "$(pg_uri mg_src)"
	done
}

@test "dms-capture, dms-load and the whole dms-migrate killed with SIGKILL at random moments (5 each), rerun: nothing lost, nothing doubled" {
	pg_sql postgres "CREATE DATABASE mk_src"
	pg_sql postgres "CREATE DATABASE mk_dst"
	pg_sql mk_src "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, note text);
		INSERT INTO c (id, note) SELECT g, 'row ' || g FROM generate_series(1, 300) g;
		CREATE TABLE bulk (id int PRIMARY KEY, v text);
		INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 200000) g"
	# each transaction bumps counters: a change applied twice or lost shows in the sums
	pg_sql mk_src "CREATE PROCEDURE gen(k int) LANGUAGE plpgsql AS \$\$
		BEGIN
			FOR i IN 1..k LOOP
				IF i % 7 = 0 THEN
					DELETE FROM c WHERE id = (i * 31) % 300 + 1;
					INSERT INTO c (id, note) VALUES ((i * 31) % 300 + 1, 'again ' || i) ON CONFLICT (id) DO NOTHING;
				ELSE
					UPDATE c SET n = n + 1 WHERE id IN ((i * 17) % 300 + 1, (i * 13) % 300 + 1);
				END IF;
				UPDATE bulk SET v = md5(v) WHERE id = (i * 7919) % 200000 + 1;
				COMMIT;
			END LOOP;
		END \$\$"
	pg_sql mk_src "CALL gen(30000)" &
	gpid=$!
	kill_rounds mk mk.spool "$(pg_uri mk_src)" "$(pg_uri mk_dst)"
	wait "$gpid"
	lsn=$(now_lsn mk_src)
	run --separate-stderr dms-migrate --task mk --spool mk.spool --stop-at "$lsn" "$(pg_uri mk_src)" "$(pg_uri mk_dst)"
	assert_status 0
	expect "c, counters and all" "$(digest pg mk_src c id id,n,note)" "$(digest pg mk_dst c id id,n,note)"
	expect "bulk" "$(digest pg mk_src bulk id id,v)" "$(digest pg mk_dst bulk id id,v)"
	dms-capture --task mk --drop-slot "$(pg_uri mk_src)"
}

@test "StopTaskCachedChangesNotApplied and StopTaskCachedChangesApplied stop where they say; the cdc type; a rerun resumes" {
	pg_sql postgres "CREATE DATABASE ms_src"
	pg_sql postgres "CREATE DATABASE ms_dst"
	pg_sql ms_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100000) g"
	echo '{"FullLoadSettings": {"StopTaskCachedChangesNotApplied": true}}' >not.json
	echo '{"FullLoadSettings": {"StopTaskCachedChangesApplied": true}}' >applied.json
	# changes during the load are cached, not applied
	dms-migrate --task ms -s not.json --spool ms.spool "$(pg_uri ms_src)" "$(pg_uri ms_dst)" 2>ms1.log &
	mig=$!
	wait_for "the full load begun" grep -q "full load in snapshot" ms1.log
	pg_sql ms_src "UPDATE t SET v = 'during' WHERE id <= 10"
	wait "$mig" || { cat ms1.log >&2; false; }
	grep -q "StopTaskCachedChangesNotApplied" ms1.log
	expect "the load's rows, no cached change" "100000 0" \
		"$(pg_sql ms_dst "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'during') FROM t")"
	# the rerun applies the cached changes and stops
	pg_sql ms_src "UPDATE t SET v = 'after' WHERE id > 99990"
	lsn=$(now_lsn ms_src)
	run --separate-stderr dms-migrate --task ms -s applied.json --spool ms.spool "$(pg_uri ms_src)" "$(pg_uri ms_dst)"
	assert_status 0
	assert_match "StopTaskCachedChangesApplied" "$stderr"
	expect "the cached changes" "10" "$(pg_sql ms_dst "SELECT count(*) FROM t WHERE v = 'during'")"
	# then ongoing replication, up to a stop point
	pg_sql ms_src "DELETE FROM t WHERE id <= 5"
	lsn=$(now_lsn ms_src)
	run --separate-stderr dms-migrate --task ms --spool ms.spool --stop-at "$lsn" "$(pg_uri ms_src)" "$(pg_uri ms_dst)"
	assert_status 0
	expect "equal" "$(digest pg ms_src t id id,v)" "$(digest pg ms_dst t id id,v)"
	# a rerun of another type is refused
	run --separate-stderr dms-migrate --type cdc --task ms --spool ms.spool "$(pg_uri ms_src)" "$(pg_uri ms_dst)"
	assert_status 2
	assert_match "full-load-and-cdc migration" "$stderr"
	# cdc: from the slot, changes only
	pg_sql postgres "CREATE DATABASE ms_cdc"
	pg_sql ms_cdc "CREATE TABLE t (id int PRIMARY KEY, v text)"
	dms-capture --task mc --stop-at 0/1 "$(pg_uri ms_src)" >/dev/null
	pg_sql ms_src "INSERT INTO t VALUES (200001, 'cdc only')"
	lsn=$(now_lsn ms_src)
	run --separate-stderr dms-migrate --type cdc --task mc --spool mc.spool --stop-at "$lsn" "$(pg_uri ms_src)" "$(pg_uri ms_cdc)"
	assert_status 0
	expect "only the change after the slot" "1 cdc only" "$(pg_sql ms_cdc "SELECT count(*) || ' ' || max(v) FROM t")"
	for t in ms mc; do
		dms-capture --task "$t" --drop-slot "$(pg_uri ms_src)"
	done
	# full-load: dms-full-load, no slot
	pg_sql postgres "CREATE DATABASE ms_full"
	run --separate-stderr dms-migrate -q --type full-load --task mf "$(pg_uri ms_src)" "$(pg_uri ms_full)"
	assert_status 0
	expect "the copy" "$(digest pg ms_src t id id,v)" "$(digest pg ms_full t id id,v)"
	expect "no slot" 0 "$(pg_sql postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dms_mf'")"
}

# term_rounds TASK ROUNDS PATTERN [OPTION...]: dms-migrate run ROUNDS times,
# each sent TERM the instant its log shows PATTERN (a busy loop: the stages
# are being started then); each run must end, with status 0, within 20 s.
# On a hang, the processes left are shown.
term_rounds() {
	local task=$1 rounds=$2 pattern=$3 r mig
	shift 3
	for r in $(seq 1 "$rounds"); do
		: >"$task.log"
		dms-migrate "$@" --task "$task" --spool "$task.spool" "$(pg_uri "${task}_src")" "$(pg_uri "${task}_dst")" 2>"$task.log" &
		mig=$!
		until grep -q "$pattern" "$task.log"; do
			gone "$mig" && break
		done
		kill -TERM "$mig"
		if ! WAIT_SECONDS=20 wait_for "round $r: dms-migrate ended" gone "$mig"; then
			ps -e --forest -o pid,pgid,stat,wchan:20,args >&2
			cat "$task.log" >&2
			kill -KILL -- "$mig" $(pgrep -P "$mig") 2>/dev/null
			return 1
		fi
		wait "$mig" || { echo "round $r: exit $?" >&2; cat "$task.log" >&2; return 1; }
	done
}

@test "TERM the instant replication begins, 25 times: every run ends at once with exit 0, and the target has each round's change" {
	pg_sql postgres "CREATE DATABASE tr_src"
	pg_sql postgres "CREATE DATABASE tr_dst"
	pg_sql tr_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"
	for r in $(seq 1 25); do
		pg_sql tr_src "INSERT INTO t VALUES ($((1000 + r)), 'r$r')"
		term_rounds tr 1 "replicating"
	done
	dms-migrate -q --task tr --spool tr.spool --stop-at "$(now_lsn tr_src)" "$(pg_uri tr_src)" "$(pg_uri tr_dst)"
	expect "equal" "$(digest pg tr_src t id id,v)" "$(digest pg tr_dst t id id,v)"
	dms-capture --task tr --drop-slot "$(pg_uri tr_src)"
}

@test "TERM the instant a migration starts afresh (the slot's snapshot being taken), 15 times: every run ends at once with exit 0" {
	pg_sql postgres "CREATE DATABASE ts_src"
	pg_sql postgres "CREATE DATABASE ts_dst"
	pg_sql ts_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"
	term_rounds ts 15 "starting afresh" --restart
	dms-capture --task ts --drop-slot "$(pg_uri ts_src)"
}

@test "dms-migrate's work directory removed under it by another process: made again, with one warning, the capture left running, and the migration goes on" {
	pg_sql postgres "CREATE DATABASE mw_src"
	pg_sql postgres "CREATE DATABASE mw_dst"
	pg_sql mw_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100000) g"
	mkdir tmp
	TMPDIR=$PWD/tmp dms-migrate --task mw --spool mw.spool "$(pg_uri mw_src)" "$(pg_uri mw_dst)" 2>mw.log &
	mig=$!
	# removed once the capture and the full load have read their URIs
	wait_for "the full load begun" grep -q "loading afresh" mw.log
	wait_for "the spool opened" test -s mw.spool/state
	[ -d tmp/dms-migrate.* ]
	rm -rf tmp/dms-migrate.*
	pg_sql mw_src "UPDATE t SET v = 'during' WHERE id <= 10"
	wait_for "ongoing replication" grep -q "replicating" mw.log
	pg_sql mw_src "INSERT INTO t VALUES (100001, 'live')"
	wait_for "the live change applied" applied_up_to pg mw_dst mw "$(now_lsn mw_src)"
	kill -TERM "$mig"
	wait "$mig" || { cat mw.log >&2; false; }
	# once: for the removal above; never for one by dms-migrate's own children
	# (a forked child that a signal reached before its exec ran the EXIT trap)
	expect "one warning" 1 "$(grep -c "warning: the work directory .* was removed by another process: made again" mw.log)"
	expect "equal" "$(digest pg mw_src t id id,v)" "$(digest pg mw_dst t id id,v)"
	expect "the work directories gone at the end" "" "$(ls -A tmp)"
	dms-capture --task mw --drop-slot "$(pg_uri mw_src)"
}

@test "a 1 GB-class transaction beyond the memory bound is spooled and applied whole, in bounded memory" {
	pg_sql postgres "CREATE DATABASE big_src"
	pg_sql postgres "CREATE DATABASE big_dst"
	pg_sql big_src "CREATE TABLE big (id int PRIMARY KEY, v text)"
	pg_sql big_dst "CREATE TABLE big (id int PRIMARY KEY, v text)"
	dms-capture --task big --stop-at 0/1 "$(pg_uri big_src)" >/dev/null
	# 250,000 rows of 4 KB that do not compress: about 1 GB in one transaction
	pg_sql big_src "INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text || g || k), '') FROM generate_series(1, 128) k)
		FROM generate_series(1, 250000) g"
	lsn=$(now_lsn big_src)
	run --separate-stderr /usr/bin/time -f 'maxrss %M' dms-capture --task big -o big.spool --memory 16777216 --stop-at "$lsn" "$(pg_uri big_src)"
	assert_status 0
	rss=$(sed -n 's/^maxrss //p' <<<"$stderr")
	[ "$rss" -lt 65536 ] || { echo "dms-capture peaked at $rss KiB" >&2; false; }
	run --separate-stderr bash -o pipefail -c "dms-transform big.spool | dms-load --task big '$(pg_uri big_dst)'"
	assert_status 0
	expect "the transaction, whole" "$(digest pg big_src big id "id,md5(v)")" "$(digest pg big_dst big id "id,md5(v)")"
	dms-capture --task big --drop-slot "$(pg_uri big_src)"
	pg_sql postgres "DROP DATABASE big_src"
}

@test "a dropped slot, a stopped source, wal_level=replica: a clear error and exit status" {
	pg_sql postgres "CREATE DATABASE md_src"
	pg_sql postgres "CREATE DATABASE md_dst"
	pg_sql md_src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')"
	lsn=$(now_lsn md_src)
	run --separate-stderr dms-migrate --task md --spool md.spool --stop-at "$lsn" "$(pg_uri md_src)" "$(pg_uri md_dst)"
	assert_status 0
	# the slot dropped behind the task's back: the spool and a new slot would leave a gap
	dms-capture --task md --drop-slot "$(pg_uri md_src)"
	pg_sql md_src "INSERT INTO t VALUES (2, 'b')"
	run --separate-stderr dms-migrate --task md --spool md.spool --stop-at "$(now_lsn md_src)" "$(pg_uri md_src)" "$(pg_uri md_dst)"
	assert_status 2
	assert_match "past the spool" "$stderr"
	dms-capture --task md --drop-slot "$(pg_uri md_src)"
	# a source that stops: tried again for --retry-time, then exit 3 with the position reached
	dms-capture -v --task md2 --retry-time 3 -o md2.spool "$(pg_uri md_src)" 2>stopped.log &
	cpid=$!
	wait_for "capture streaming" grep -q "streaming from slot" stopped.log
	as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
	wait "$cpid" && st=0 || st=$?
	as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null
	expect "exit status" 3 "$st"
	assert_match "unreachable: gave up after 3 s" "$(cat stopped.log)"
	dms-capture --task md2 --drop-slot "$(pg_uri md_src)"
	# wal_level=replica: no slot may exist when the server restarts so
	pg_sql postgres "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
	pg_sql postgres "ALTER SYSTEM SET wal_level = replica"
	pg_restart
	run --separate-stderr dms-migrate --task md3 --spool md3.spool "$(pg_uri md_src)" "$(pg_uri md_dst)"
	pg_sql postgres "ALTER SYSTEM RESET wal_level"
	pg_restart
	assert_status 3
	assert_match "wal_level = logical" "$stderr"
}
