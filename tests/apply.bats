#!/usr/bin/env bats
# dms-load applies change streams (issue 11), written by hand with
# dms-transform --from-json, to real PostgreSQL 15 and MariaDB servers:
# every type, exactly once, the apply error policies, tables without a key,
# UNCHANGED values, DDL, signals and SIGKILL at random points. Every check is
# made with the engines' own clients (or dms-validate against the source).

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

# changes_of POS1 POS2 S1 S2 DELID: a change stream of two transactions from
# two snapshots (JSON lines) of one table: S1's rows inserted (committing at
# POS1), then S2's rows as UPDATEs and S1's row DELID deleted (at POS2).
changes_of() {
	local p1=$1 p2=$2 s1=$3 s2=$4 del=$5
	sed -n '1s/"stream":"snapshot"/"stream":"changes"/p' "$s1"
	grep '"kind":"TABLE"' "$s1"
	printf '{"kind":"BEGIN","xid":1,"position":"%s","time":null}\n' "$p1"
	grep '"kind":"ROW"' "$s1" | sed 's/"kind":"ROW","tid":\([0-9]*\),"values":/"kind":"INSERT","tid":\1,"new":/'
	printf '{"kind":"COMMIT","position":"%s","time":{"$ts":"2026-12-01T10:00:00Z"},"attrs":{}}\n' "$p1"
	printf '{"kind":"BEGIN","xid":2,"position":"%s","time":null}\n' "$p2"
	grep '"kind":"ROW"' "$s2" |
		sed 's/"kind":"ROW","tid":\([0-9]*\),"values":\(.*\)}$/"kind":"UPDATE","tid":\1,"new":\2,"old":null}/'
	grep "\"kind\":\"ROW\",\"tid\":0,\"values\":\\[$del," "$s1" |
		sed 's/"kind":"ROW","tid":\([0-9]*\),"values":/"kind":"DELETE","tid":\1,"old":/'
	printf '{"kind":"COMMIT","position":"%s","time":null,"attrs":{}}\n' "$p2"
	printf '{"kind":"END","attrs":{}}\n'
}

# target_uri ENGINE DB
target_uri() {
	if [ "$1" = pg ]; then pg_uri "$2"; else my_uri "$2"; fi
}

# target_db ENGINE DB: creates an empty database on the target server.
target_db() {
	if [ "$1" = pg ]; then
		pg_sql postgres "CREATE DATABASE $2"
	else
		my_sql "CREATE DATABASE $2"
	fi
}

# tsql ENGINE DB SQL: rows as text, columns separated by '|'.
tsql() {
	if [ "$1" = pg ]; then pg_sql "$2" "$3"; else my_sql "$2" "$3" | tr '\t' '|'; fi
}

# A hand-written stream: two keyed tables; PostgreSQL positions.
HEAD='{"kind":"HELLO","version":1,"attrs":{"engine":"postgresql","stream":"changes","server":"src-1","database":"app"}}
{"kind":"TABLE","tid":0,"schema":"public","name":"k","columns":[{"name":"id","type":"int4","nullable":false},{"name":"v","type":"string","nullable":true,"attrs":{"length":5}}],"key":[0],"attrs":{}}'

@test "a change stream over every type applies in all four directions, and again changes nothing" {
	fidelity_pg_source ch_pgsrc
	dms-extract "$(pg_uri ch_pgsrc)" | dms-transform --to-json >pg1.jsonl
	pg_sql ch_pgsrc "UPDATE pgtypes p SET b = q.b, i2 = q.i2, i4 = q.i4, i8 = q.i8, n = q.n, nn = q.nn,
		r4 = q.r4, r8 = q.r8, vc = q.vc, ch = q.ch, tx = q.tx, by = q.by, d = q.d, t = q.t, ts = q.ts,
		tz = q.tz, j = q.j, js = q.js, u = q.u, iv = q.iv, arr = q.arr
		FROM pgtypes q WHERE p.id = 1 AND q.id = 2; DELETE FROM pgtypes WHERE id = 3"
	dms-extract "$(pg_uri ch_pgsrc)" | dms-transform --to-json >pg2.jsonl
	changes_of 0/10 0/20 pg1.jsonl pg2.jsonl 3 | dms-transform --from-json >pg.dms

	fidelity_my_source ch_mysrc
	dms-extract "$(my_uri ch_mysrc)" | dms-transform --to-json >my1.jsonl
	my_sql ch_mysrc "UPDATE mytypes a JOIN mytypes b ON b.id = 2 SET a.ti = b.ti, a.si = b.si, a.mi = b.mi,
		a.iu = b.iu, a.bu = b.bu, a.de = b.de, a.fl = b.fl, a.db = b.db, a.vc = b.vc, a.ch = b.ch,
		a.tx = b.tx, a.bl = b.bl, a.vb = b.vb, a.d = b.d, a.dt = b.dt, a.ts = b.ts, a.tm = b.tm,
		a.yr = b.yr, a.en = b.en, a.st = b.st, a.js = b.js, a.bt = b.bt WHERE a.id = 1;
		DELETE FROM mytypes WHERE id = 3"
	dms-extract "$(my_uri ch_mysrc)" | dms-transform --to-json >my2.jsonl
	changes_of mariadb-bin.000001:100 mariadb-bin.000001:200 my1.jsonl my2.jsonl 3 | dms-transform --from-json >my.dms

	for src in pg my; do
		for dst in pg my; do
			db=ch_${src}_to_$dst
			target_db "$dst" "$db"
			run --separate-stderr dms-load --task "types_$src" "$(target_uri "$dst" "$db")" <"$src.dms"
			assert_status 0
			run --separate-stderr dms-validate "$(target_uri "$src" "ch_${src}src")" "$(target_uri "$dst" "$db")"
			assert_status 0
			# the same stream again: both transactions skipped, and said so
			run --separate-stderr dms-load --task "types_$src" "$(target_uri "$dst" "$db")" <"$src.dms"
			assert_status 0
			assert_match "2 transactions were applied before" "$stderr"
			run --separate-stderr dms-validate "$(target_uri "$src" "ch_${src}src")" "$(target_uri "$dst" "$db")"
			assert_status 0
			if [ "$dst" = pg ]; then
				pos=$(pg_sql "$db" "SELECT position FROM dms.apply_state WHERE task_name = 'types_$src'")
			else
				pos=$(my_sql dms "SELECT position FROM apply_state WHERE task_name = 'types_$src'")
			fi
			expect "apply_state of $src to $dst" "$([ "$src" = pg ] && echo 0/20 || echo mariadb-bin.000001:200)" "$pos"
		done
	done
}

@test "exactly once: a stream fed twice keeps a hand change; a stream that restarts in the middle applies the rest once" {
	for e in pg my; do
		target_db "$e" once_$e
		{
			echo "$HEAD"
			echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
			echo '{"kind":"INSERT","tid":0,"new":[1,"a"]}'
			echo '{"kind":"INSERT","tid":0,"new":[2,"b"]}'
			echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
			echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
			echo '{"kind":"UPDATE","tid":0,"new":[1,"a2"],"old":null}'
			echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
			echo '{"kind":"END","attrs":{}}'
		} | dms-transform --from-json >first.dms
		run --separate-stderr dms-load --task once --ack-file ack "$(target_uri $e once_$e)" <first.dms
		assert_status 0
		expect "$e: after the first run" "1|a2 2|b" "$(tsql $e once_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		expect "$e: the ack file" "0/200" "$(cat ack)"
		tsql $e once_$e "UPDATE k SET v = 'hand' WHERE id = 2"
		run --separate-stderr dms-load --task once "$(target_uri $e once_$e)" <first.dms
		assert_status 0
		expect "$e: the hand change is kept" "1|a2 2|hand" "$(tsql $e once_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		# from the middle: transaction 2 again (BEGIN without a position: held
		# to its COMMIT), then 3 and 4 are new
		{
			echo "$HEAD"
			echo '{"kind":"BEGIN","xid":2,"position":null,"time":null}'
			echo '{"kind":"UPDATE","tid":0,"new":[1,"WRONG"],"old":null}'
			echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
			echo '{"kind":"BEGIN","xid":3,"position":null,"time":null}'
			echo '{"kind":"INSERT","tid":0,"new":[3,"c"]}'
			echo '{"kind":"COMMIT","position":"0/300","time":null,"attrs":{}}'
			echo '{"kind":"BEGIN","xid":4,"position":"0/400","time":null}'
			echo '{"kind":"DELETE","tid":0,"old":[1,null]}'
			echo '{"kind":"COMMIT","position":"0/400","time":null,"attrs":{}}'
			echo '{"kind":"END","attrs":{}}'
		} | dms-transform --from-json >second.dms
		run --separate-stderr dms-load --task once --ack-file ack "$(target_uri $e once_$e)" <second.dms
		assert_status 0
		assert_match "1 transactions were applied before" "$stderr"
		expect "$e: transactions 3 and 4 applied once" "2|hand 3|c" "$(tsql $e once_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		expect "$e: the ack file follows" "0/400" "$(cat ack)"
		# another source under the same task is refused, nothing touched
		sed 's/"server":"src-1"/"server":"src-2"/' <(dms-transform --to-json second.dms) | dms-transform --from-json >other.dms
		run --separate-stderr dms-load --task once "$(target_uri $e once_$e)" <other.dms
		assert_status 2
		assert_match "applied changes from another source" "$stderr"
	done
}

@test "apply error policies: conflicts logged by default, upserts converge, STOP_TASK rolls back, SUSPEND_TABLE stops a table" {
	conflicts() {
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"one"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"dup"]}'
		echo '{"kind":"INSERT","tid":0,"new":[3,"toolongvalue"]}'
		echo '{"kind":"UPDATE","tid":0,"new":[4,"upd"],"old":[44,null]}'
		echo '{"kind":"DELETE","tid":0,"old":[55,null]}'
		echo '{"kind":"INSERT","tid":0,"new":[5,"five"]}'
		echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	}
	conflicts | dms-transform --from-json >c.dms
	echo '{"ErrorBehavior": {"ApplyErrorInsertPolicy": "INSERT_RECORD", "ApplyErrorUpdatePolicy": "UPDATE_RECORD", "DataErrorPolicy": "IGNORE_RECORD"}}' >upsert.json
	echo '{"ErrorBehavior": {"ApplyErrorUpdatePolicy": "STOP_TASK"}}' >stop.json
	echo '{"ErrorBehavior": {"ApplyErrorInsertPolicy": "SUSPEND_TABLE"}}' >suspend.json
	for e in pg my; do
		target_db "$e" pol_$e
		u=$(target_uri $e pol_$e)
		ctl=$([ $e = pg ] && echo pol_$e || echo dms)
		# defaults: the duplicate, the missing row and the value too long are
		# logged with their statements, the missing delete ignored
		run --separate-stderr dms-load --task pol "$u" <c.dms
		assert_status 0
		expect "$e: defaults" "1|one 5|five" "$(tsql $e pol_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		expect "$e: the exceptions" "id=1|INSERT id=3|INSERT id=44|UPDATE" \
			"$(tsql $e "$ctl" "SELECT key_text, substr(statement, 1, 6) FROM dms.apply_exceptions WHERE task_name = 'pol' ORDER BY key_text" | xargs)"
		assert_match "1 changes were passed over by the apply error policies" "$stderr"
		# upserts: the same stream replayed from the start converges
		run --separate-stderr dms-load --restart -s upsert.json --task pol "$u" <c.dms
		assert_status 0
		expect "$e: upserts" "1|dup 4|upd 5|five" "$(tsql $e pol_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		# STOP_TASK: exit 1 and nothing of the group
		tsql $e pol_$e "DELETE FROM k"
		run --separate-stderr dms-load --restart -s stop.json --task pol "$u" <c.dms
		assert_status 1
		assert_match "stopping \(STOP_TASK\)" "$stderr"
		expect "$e: STOP_TASK rolled back the group" "" "$(tsql $e pol_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		# SUSPEND_TABLE: the table's later changes are not applied
		run --separate-stderr dms-load --restart -s suspend.json --task pol "$u" <c.dms
		assert_status 0
		assert_match "suspended \(SUSPEND_TABLE\)" "$stderr"
		expect "$e: suspended after the duplicate" "1|one" "$(tsql $e pol_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
	done
}

@test "no key, UNCHANGED values, a key-changing UPDATE, TRUNCATE, columns added, renamed and dropped mid-stream" {
	NOKEY='{"kind":"TABLE","tid":1,"schema":"public","name":"nokey","columns":[{"name":"a","type":"int4","nullable":true},{"name":"b","type":"string","nullable":true}],"key":[],"attrs":{}}'
	K3='{"kind":"TABLE","tid":0,"schema":"public","name":"k","columns":[{"name":"id","type":"int4","nullable":false},{"name":"val","type":"string","nullable":true,"attrs":{"length":5}},{"name":"extra","type":"int8","nullable":true}],"key":[0],"attrs":{}}'
	{
		echo "$HEAD"
		echo "$NOKEY"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"one"]}'
		echo '{"kind":"INSERT","tid":0,"new":[2,"two"]}'
		echo '{"kind":"INSERT","tid":1,"new":[1,"x"]}'
		echo '{"kind":"INSERT","tid":1,"new":[1,"x"]}'
		echo '{"kind":"INSERT","tid":1,"new":[2,null]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
		echo '{"kind":"UPDATE","tid":1,"new":[1,"y"],"old":[1,"x"]}'
		echo '{"kind":"DELETE","tid":1,"old":[2,null]}'
		echo '{"kind":"UPDATE","tid":0,"new":[20,"two"],"old":[2,null]}'
		echo '{"kind":"UPDATE","tid":0,"new":[1,{"$unchanged":true}],"old":null}'
		echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
		echo "$K3"
		echo '{"kind":"BEGIN","xid":3,"position":"0/300","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[6,"six",66]}'
		echo '{"kind":"UPDATE","tid":0,"new":[1,"uno",{"$unchanged":true}],"old":null}'
		echo '{"kind":"COMMIT","position":"0/300","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >ddl1.dms
	{
		echo "$HEAD" | head -1
		echo "$K3"
		echo "$NOKEY"
		echo '{"kind":"TABLE","tid":0,"schema":"public","name":"k","columns":[{"name":"id","type":"int4","nullable":false},{"name":"extra","type":"int8","nullable":true}],"key":[0],"attrs":{}}'
		echo '{"kind":"BEGIN","xid":4,"position":"0/400","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[7,77]}'
		echo '{"kind":"TRUNCATE","tids":[1],"attrs":{}}'
		echo '{"kind":"COMMIT","position":"0/400","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >ddl2.dms
	for e in pg my; do
		target_db "$e" ddl_$e
		schema=$([ $e = pg ] && echo public || echo ddl_$e)
		run --separate-stderr dms-load --task ddl "$(target_uri $e ddl_$e)" <ddl1.dms
		assert_status 0
		assert_match "nokey has no key" "$stderr"
		expect "$e: nokey: one of two equal rows updated, the NULL one deleted" "1|x 1|y" \
			"$(tsql $e ddl_$e "SELECT a, b FROM nokey ORDER BY b" | xargs)"
		expect "$e: k: key changed, UNCHANGED kept, the renamed column kept its values" "1|uno|-1 6|six|66 20|two|-1" \
			"$(tsql $e ddl_$e "SELECT id, val, coalesce(extra, -1) FROM k ORDER BY id" | xargs)"
		run --separate-stderr dms-load --task ddl "$(target_uri $e ddl_$e)" <ddl2.dms
		assert_status 0
		expect "$e: k's columns after the drop" "id extra" \
			"$(tsql $e ddl_$e "SELECT column_name FROM information_schema.columns WHERE table_name = 'k' AND table_schema = '$schema' ORDER BY ordinal_position" | xargs)"
		expect "$e: k's rows" "1|-1 6|66 7|77 20|-1" "$(tsql $e ddl_$e "SELECT id, coalesce(extra, -1) FROM k ORDER BY id" | xargs)"
		expect "$e: nokey truncated" "0" "$(tsql $e ddl_$e "SELECT count(*) FROM nokey")"
		# the DMS CDC counters: inserts, updates, deletes, DDLs, apply exceptions
		ctl=$([ $e = pg ] && echo ddl_$e || echo dms)
		expect "$e: table_statistics" "k|4|3|0|3|0 nokey|3|1|1|1|0" \
			"$(tsql $e "$ctl" "SELECT table_name, inserts, updates, deletes, ddls, apply_exceptions FROM dms.table_statistics WHERE task_name = 'ddl' ORDER BY table_name" | xargs)"
	done
}

@test "TERM stops between transactions with them committed; a second applier of the task is refused; a stream cut inside a transaction applies nothing of it" {
	pg_sql postgres "CREATE DATABASE sig_pg"
	# a producer that writes a first transaction and then holds its pipe open
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"a"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
	} >first.jsonl
	dms-transform --from-json first.jsonl >first.dms 2>/dev/null && st=0 || st=$?
	expect "a stream without its END is written, and said to be" 5 "$st"
	mkfifo in.fifo
	dms-load --task sig --ack-file ack "$(pg_uri sig_pg)" <in.fifo 2>sig.log &
	pid=$!
	exec 7>in.fifo
	cat first.dms >&7
	wait_for "the first transaction committed" test -s ack
	expect "acknowledged" "0/100" "$(cat ack)"
	# one applier per task: a second one is refused while this one runs
	run --separate-stderr dms-load --task sig "$(pg_uri sig_pg)" <first.dms
	assert_status 2
	assert_match "one applies a task's changes at a time" "$stderr"
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	exec 7>&-
	expect "TERM between transactions: exit 0" 0 "$st"
	expect "the transaction is applied" "1|a" "$(pg_sql sig_pg "SELECT id, v FROM k")"
	# cut inside the second transaction: nothing of it, exit 5, a rerun resumes
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[2,"b"]}'
		echo '{"kind":"INSERT","tid":0,"new":[3,"c"]}'
		echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >second.dms
	dms-transform --to-json second.dms | head -n 4 >cut.jsonl
	dms-transform --from-json cut.jsonl >cut.dms 2>/dev/null && st=0 || st=$?
	expect "the cut stream is written" 5 "$st"
	run --separate-stderr dms-load --task sig "$(pg_uri sig_pg)" <cut.dms
	assert_status 5
	expect "nothing of the cut transaction" "1" "$(pg_sql sig_pg "SELECT count(*) FROM k")"
	run --separate-stderr dms-load --task sig "$(pg_uri sig_pg)" <second.dms
	assert_status 0
	expect "the rerun applies it whole" "1 2 3" "$(pg_sql sig_pg "SELECT id FROM k ORDER BY id" | xargs)"
}

@test "batch apply commits a group BatchApplyTimeoutMin after it began though no more input comes (the producer holds its pipe open)" {
	pg_sql postgres "CREATE DATABASE quiet_pg"
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"a"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
	} >quiet.jsonl
	dms-transform --from-json quiet.jsonl >quiet.dms 2>/dev/null && st=0 || st=$?
	expect "a stream without its END" 5 "$st"
	echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >batch.json
	mkfifo in.fifo
	dms-load -s batch.json --task quiet --ack-file ack "$(pg_uri quiet_pg)" <in.fifo 2>quiet.log &
	pid=$!
	exec 7>in.fifo
	cat quiet.dms >&7
	# committed about a second after the group began (BatchApplyTimeoutMin 1),
	# with the pipe still open and nothing more written to it
	wait_for "the batch committed while its input is quiet" test -s ack
	expect "acknowledged" "0/100" "$(cat ack)"
	expect "the row" "1|a" "$(pg_sql quiet_pg "SELECT id, v FROM k")"
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	exec 7>&-
	expect "TERM between transactions: exit 0" 0 "$st"
}

@test "dms-load killed with SIGKILL at random points and its connection lost (exit 4), rerun on the whole stream: the tables end exactly as expected" {
	dms-benchgen -c -n 200000 >long.dms
	echo '{"ChangeProcessingTuning": {"MinTransactionSize": 1}}' >each.json
	for e in pg my; do
		target_db $e kill_ref_$e
		target_db $e kill_$e
		run --separate-stderr dms-load --task ref "$(target_uri $e kill_ref_$e)" <long.dms
		assert_status 0
		# applied E: the transactions the killed loader's task has committed
		applied() {
			if [ "$1" = pg ]; then
				pg_sql kill_pg "SELECT transactions FROM dms.apply_state WHERE task_name = 'kill'"
			else
				my_sql dms "SELECT transactions FROM apply_state WHERE task_name = 'kill'"
			fi
		}
		past() {
			local n
			n=$(applied "$1" 2>/dev/null) && [ -n "$n" ] && [ "$n" -gt "$2" ]
		}
		before=0
		for k in $(seq 1 10); do
			dms-load --task kill -s each.json "$(target_uri $e kill_$e)" <long.dms 2>>kill.log &
			pid=$!
			wait_for "$e, kill $k: progress past $before" past $e $((before + 1 + RANDOM % 40))
			kill -KILL "$pid"
			wait "$pid" && st=0 || st=$?
			expect "$e, kill $k: dms-load was killed" 137 "$st"
			before=$(applied $e)
		done
		# the target's connection lost: exit 4, the position reached said
		dms-load --task kill -s each.json "$(target_uri $e kill_$e)" <long.dms 2>lost.log &
		pid=$!
		wait_for "$e: progress past $before" past $e $((before + 5))
		if [ $e = pg ]; then
			pg_sql postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'dms-load[$pid]%'"
		else
			my_sql "SELECT id FROM information_schema.PROCESSLIST WHERE db = 'kill_my' AND USER = 'dms'" |
				while read -r id; do my_sql "KILL CONNECTION $id"; done
		fi
		wait "$pid" && st=0 || st=$?
		expect "$e: the connection lost" 4 "$st"
		assert_match "the target has the source's changes up to 0/[0-9A-F]*; a rerun resumes from there" "$(cat lost.log)"
		run --separate-stderr dms-load --task kill -s each.json "$(target_uri $e kill_$e)" <long.dms
		assert_status 0
		for t in accounts orders events; do
			q="SELECT count(*), coalesce(sum(id), 0), coalesce(sum(qty), 0), max(price), max(note) FROM bench_$t"
			expect "$e: bench_$t as the uninterrupted apply left it" "$(tsql $e kill_ref_$e "$q")" "$(tsql $e kill_$e "$q")"
			if [ $e = pg ]; then
				q="SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM bench_$t b"
			else
				q="SET SESSION group_concat_max_len = 1073741824; SELECT md5(group_concat(concat_ws('|', id, qty, price, coalesce(note, 'NULL'), updated) ORDER BY id SEPARATOR ',')) FROM bench_$t"
			fi
			expect "$e: bench_$t row by row" "$(tsql $e kill_ref_$e "$q")" "$(tsql $e kill_$e "$q")"
		done
	done
}

@test "batch apply ends with the tables transactional apply gives, on a randomised stream of 100,000 changes; a refused value falls back change by change" {
	dms-benchgen -c -n 100000 >big.dms
	echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >batch.json
	for e in pg my; do
		target_db $e bat_one_$e
		target_db $e bat_net_$e
		run --separate-stderr dms-load --task one "$(target_uri $e bat_one_$e)" <big.dms
		assert_status 0
		run --separate-stderr dms-load -s batch.json --task net "$(target_uri $e bat_net_$e)" <big.dms
		assert_status 0
		for t in accounts orders events; do
			if [ $e = pg ]; then
				q="SELECT count(*), md5(string_agg(b::text, ',' ORDER BY id)) FROM bench_$t b"
			else
				q="SET SESSION group_concat_max_len = 1073741824;
				   SELECT count(*), md5(group_concat(concat_ws('|', id, qty, price, coalesce(note, 'NULL'), updated) ORDER BY id SEPARATOR ',')) FROM bench_$t"
			fi
			expect "$e: bench_$t, batch as transactional" "$(tsql $e bat_one_$e "$q")" "$(tsql $e bat_net_$e "$q")"
		done
	done
	# a value the target cannot hold inside a batch: the batch goes change by
	# change, the refused change alone is logged, UNCHANGED merges or waits
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"one"]}'
		echo '{"kind":"INSERT","tid":0,"new":[2,"two"]}'
		echo '{"kind":"UPDATE","tid":0,"new":[1,"uno"],"old":null}'
		echo '{"kind":"INSERT","tid":0,"new":[3,"three"]}'
		echo '{"kind":"DELETE","tid":0,"old":[3,null]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[4,"toolongvalue"]}'
		echo '{"kind":"UPDATE","tid":0,"new":[2,{"$unchanged":true}],"old":null}'
		echo '{"kind":"UPDATE","tid":0,"new":[20,"twen"],"old":[2,null]}'
		echo '{"kind":"INSERT","tid":0,"new":[5,"five"]}'
		echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >refuse.dms
	for e in pg my; do
		target_db $e bat_bad_$e
		run --separate-stderr dms-load -s batch.json --task bad "$(target_uri $e bat_bad_$e)" <refuse.dms
		assert_status 0
		expect "$e: rows" "1|uno 5|five 20|twen" "$(tsql $e bat_bad_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		ctl=$([ $e = pg ] && echo bat_bad_$e || echo dms)
		expect "$e: the refused change" "id=4" \
			"$(tsql $e "$ctl" "SELECT key_text FROM dms.apply_exceptions WHERE task_name = 'bad'")"
	done
}

@test "a batch whose records outgrow memory keeps them in a temporary file: a value refused at its end replays all of it change by change" {
	# one source transaction of 60,000 changes with 200-byte values (about
	# 13 MB of records, past the 8 MiB kept in memory), a value too long for
	# k.v at its end: the batch is rolled back and replayed from the file
	echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >batch.json
	{
		echo "$HEAD"
		echo '{"kind":"TABLE","tid":1,"schema":"public","name":"w","columns":[{"name":"id","type":"int4","nullable":false},{"name":"pad","type":"string","nullable":true}],"key":[0],"attrs":{}}'
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		awk 'BEGIN {
			pad = sprintf("%200s", ""); gsub(/ /, "a", pad)
			upd = sprintf("%200s", ""); gsub(/ /, "b", upd)
			for (i = 1; i <= 40000; i++) printf "{\"kind\":\"INSERT\",\"tid\":1,\"new\":[%d,\"%s\"]}\n", i, pad
			for (i = 1; i <= 20000; i++) printf "{\"kind\":\"UPDATE\",\"tid\":1,\"new\":[%d,\"%s%d\"],\"old\":null}\n", i, upd, i
			for (i = 30001; i <= 30100; i++) printf "{\"kind\":\"DELETE\",\"tid\":1,\"old\":[%d,null]}\n", i
		}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"one"]}'
		echo '{"kind":"INSERT","tid":0,"new":[4,"toolongvalue"]}'
		echo '{"kind":"INSERT","tid":0,"new":[5,"five"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >spill.dms
	for e in pg my; do
		target_db $e bat_spill_$e
		run --separate-stderr dms-load -v -s batch.json --task spill "$(target_uri $e bat_spill_$e)" <spill.dms
		assert_status 0
		# replayed: not gone on change by change past the memory bound
		[[ "$stderr" == *"applying the group again, each change in a savepoint"* ]] ||
			{ echo "$e: the batch was not replayed: $stderr" >&2; return 1; }
		expect "$e: k" "1|one 5|five" "$(tsql $e bat_spill_$e "SELECT id, v FROM k ORDER BY id" | xargs)"
		expect "$e: w, rows; updated; the last" "39900|20000|40000" "$(tsql $e bat_spill_$e \
			"SELECT count(*), sum(CASE WHEN pad LIKE 'b%' THEN 1 ELSE 0 END), max(id) FROM w")"
		expect "$e: w 20000" "$(printf '%200s' '' | tr ' ' b)20000" "$(tsql $e bat_spill_$e "SELECT pad FROM w WHERE id = 20000")"
		expect "$e: w 30001 deleted" "0" "$(tsql $e bat_spill_$e "SELECT count(*) FROM w WHERE id BETWEEN 30001 AND 30100")"
		ctl=$([ $e = pg ] && echo bat_spill_$e || echo dms)
		expect "$e: the refused change" "id=4" \
			"$(tsql $e "$ctl" "SELECT key_text FROM dms.apply_exceptions WHERE task_name = 'spill'")"
	done
}

@test "CHECKPOINT acknowledges an idle position; QUIT stops at once; a dropped table; ApplyErrorFailOnTruncationDdl; apply conflicts escalate" {
	pg_sql postgres "CREATE DATABASE misc_pg"
	u=$(pg_uri misc_pg)
	# CHECKPOINT with nothing pending moves the acknowledged position, never back
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"a"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"CHECKPOINT","position":"0/180","time":null}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >ck.dms
	run --separate-stderr dms-load --task misc --ack-file ack "$u" <ck.dms
	assert_status 0
	expect "acknowledged at the CHECKPOINT" "0/180" "$(cat ack)"
	{
		echo "$HEAD"
		echo '{"kind":"CHECKPOINT","position":"0/150","time":null}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >back.dms
	run --separate-stderr dms-load --task misc --ack-file ack "$u" <back.dms
	assert_status 0
	expect "an earlier CHECKPOINT does not move it back" "0/180" "$(cat ack)"

	# QUIT inside a transaction: exit 1, nothing of it
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":2,"position":"0/200","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[2,"b"]}'
		echo '{"kind":"COMMIT","position":"0/200","time":null,"attrs":{}}'
		echo '{"kind":"BEGIN","xid":3,"position":"0/300","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[3,"c"]}'
	} >open.jsonl
	dms-transform --from-json open.jsonl >open.dms 2>/dev/null && st=0 || st=$?
	expect "a stream left open is written" 5 "$st"
	# the stream up to transaction 2's COMMIT, then the rest
	head -n 5 open.jsonl >two.jsonl
	dms-transform --from-json two.jsonl >two.dms 2>/dev/null && st=0 || st=$?
	expect "the first half is written" 5 "$st"
	mkfifo quit.fifo
	dms-load --task misc --ack-file ack "$u" <quit.fifo 2>quit.log &
	pid=$!
	exec 7>quit.fifo
	cat two.dms >&7
	wait_for "transaction 2 acknowledged" grep -qx 0/200 ack
	tail -c +"$(($(stat -c %s two.dms) + 1))" open.dms >&7
	kill -QUIT "$pid"
	wait "$pid" && st=0 || st=$?
	exec 7>&-
	expect "QUIT: exit 1" 1 "$st"
	assert_match "stopped by SIGQUIT" "$(cat quit.log)"
	expect "transaction 3 is not applied" "1 2" "$(pg_sql misc_pg "SELECT id FROM k ORDER BY id" | xargs)"

	# a table dropped on the source: dropped, or kept under HandleSourceTableDropped false
	{
		echo "$HEAD"
		echo '{"kind":"TABLE","tid":1,"schema":"public","name":"gone","columns":[{"name":"id","type":"int4","nullable":false}],"key":[0],"attrs":{}}'
		echo '{"kind":"BEGIN","xid":4,"position":"0/400","time":null}'
		echo '{"kind":"INSERT","tid":1,"new":[1]}'
		echo '{"kind":"COMMIT","position":"0/400","time":null,"attrs":{}}'
		echo '{"kind":"TABLE","tid":1,"schema":"public","name":"gone","columns":[],"key":[],"attrs":{"dropped":true}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >drop.dms
	echo '{"ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableDropped": false}}' >keep.json
	run --separate-stderr dms-load -s keep.json --task keep "$u" <drop.dms
	assert_status 0
	assert_match "not applied \(HandleSourceTableDropped false\)" "$stderr"
	expect "kept" "1" "$(pg_sql misc_pg "SELECT count(*) FROM gone")"
	run --separate-stderr dms-load --task drop "$u" <drop.dms
	assert_status 0
	expect "dropped" "" "$(pg_sql misc_pg "SELECT to_regclass('public.gone')")"

	# ApplyErrorFailOnTruncationDdl: a TRUNCATE stops the task, nothing of its group applied
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":5,"position":"0/500","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[5,"e"]}'
		echo '{"kind":"TRUNCATE","tids":[0],"attrs":{}}'
		echo '{"kind":"COMMIT","position":"0/500","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >trunc.dms
	echo '{"ErrorBehavior": {"ApplyErrorFailOnTruncationDdl": true}}' >failtrunc.json
	run --separate-stderr dms-load -s failtrunc.json --task misc "$u" <trunc.dms
	assert_status 1
	assert_match "stopping \(ApplyErrorFailOnTruncationDdl\)" "$stderr"
	expect "nothing of the transaction" "1 2" "$(pg_sql misc_pg "SELECT id FROM k ORDER BY id" | xargs)"

	# ApplyErrorEscalationCount 1: the second conflict of a table suspends it
	echo '{"ErrorBehavior": {"ApplyErrorEscalationCount": 1, "ApplyErrorEscalationPolicy": "SUSPEND_TABLE"}}' >esc.json
	{
		echo "$HEAD"
		echo '{"kind":"BEGIN","xid":1,"position":"0/100","time":null}'
		echo '{"kind":"INSERT","tid":0,"new":[1,"dup"]}'
		echo '{"kind":"INSERT","tid":0,"new":[2,"dup"]}'
		echo '{"kind":"INSERT","tid":0,"new":[9,"new"]}'
		echo '{"kind":"COMMIT","position":"0/100","time":null,"attrs":{}}'
		echo '{"kind":"END","attrs":{}}'
	} | dms-transform --from-json >esc.dms
	run --separate-stderr dms-load -s esc.json --task esc "$u" <esc.dms
	assert_status 0
	assert_match "more than 1 apply conflicts: ApplyErrorEscalationPolicy SUSPEND_TABLE" "$stderr"
	expect "the first conflict logged" "id=1" "$(pg_sql misc_pg "SELECT key_text FROM dms.apply_exceptions WHERE task_name = 'esc'")"
	expect "nothing after the escalation" "1|a 2|b" "$(pg_sql misc_pg "SELECT id, v FROM k ORDER BY id" | xargs)"
}
