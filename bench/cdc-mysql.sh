#!/usr/bin/env bash
# Change data capture from MariaDB into PostgreSQL, end to end (dms-capture
# reading the binary log, the spool, dms-transform, dms-load), on throwaway
# servers. There is no native MariaDB-to-PostgreSQL replication to run
# beside it: the figures are against the issue's targets.
#   Live: dms-migrate (full-load-and-cdc) replicating while a writer on the
#   source makes BENCH_CDC_RATE row changes a second (default 10,000: 100
#   transactions of 100 updates) for BENCH_CDC_SECONDS (default 60).
#   dms-lagprobe sets a heartbeat row on the source every 100 ms and polls
#   the target every 2 ms: the lag of a heartbeat is from its commit on the
#   source to the first poll that shows it; p50 and p99 (target p99 < 1 s).
#   Backlog: BENCH_CDC_CHANGES row changes (default 1,000,000, in
#   transactions of 100) made on the source, then caught up from their first
#   position by dms-capture | dms-load, transactional and with
#   BatchApplyEnabled: changes a second, and the peak memory of dms-capture
#   and of dms-load (target < 64 MiB each).
# Every target is compared with its source at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/bin/tools:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

trap 'echo "bench/cdc-mysql.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
seconds=${BENCH_CDC_SECONDS:-60}
per_second=${BENCH_CDC_RATE:-10000}
n=${BENCH_CDC_CHANGES:-1000000}
rows=100000
bench_servers
pos() { my_sql "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }'; }
# percentile P FILE: the P-th percentile of the numbers in FILE (one a line)
percentile() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int((NR - 1) * p / 100) + 1; printf "%.0f", v[i] }'
}
# digests SRC DST: the accounts table of MariaDB database SRC and of its
# PostgreSQL target DST (schema SRC), each as one md5
same() {
	local a b
	a=$(my_sql "$1" "SET SESSION group_concat_max_len = 1073741824;
		SELECT md5(group_concat(concat_ws(':', id, bal, note) ORDER BY id SEPARATOR ',')) FROM acct")
	b=$(pg_sql "$2" "SELECT md5(string_agg(concat_ws(':', id, bal, note), ',' ORDER BY id)) FROM $1.acct")
	[ "$a" = "$b" ] || { echo "$2: the target differs from the source" >&2; exit 1; }
}
# source DB: the accounts table and a procedure changes(k, per_second) of k
# transactions of 100 updates, paced at per_second changes a second (0: as
# fast as the server goes)
source_db() {
	my_sql "CREATE DATABASE $1"
	my_sql "$1" "CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, note varchar(40));
		INSERT INTO acct SELECT seq, 0, concat('account ', seq) FROM seq_1_to_$rows;
		CREATE TABLE heartbeat (id int PRIMARY KEY, t datetime(6)); INSERT INTO heartbeat VALUES (1, now(6))"
	my_sql "$1" "DELIMITER //
		CREATE PROCEDURE changes(k int, per_second int)
		BEGIN
			DECLARE i int DEFAULT 0;
			DECLARE started datetime(6) DEFAULT now(6);
			DECLARE wait bigint;
			WHILE i < k DO
				START TRANSACTION;
				UPDATE acct SET bal = bal + 1 WHERE id > (i * 100) % $rows AND id <= (i * 100) % $rows + 100;
				COMMIT;
				SET i = i + 1;
				IF per_second > 0 THEN
					SET wait = i * 100 * 1000000 DIV per_second - timestampdiff(MICROSECOND, started, now(6));
					IF wait > 0 THEN
						DO sleep(wait / 1000000);
					END IF;
				END IF;
			END WHILE;
		END //"
}

echo "live: $per_second row changes a second for $seconds s, MariaDB to PostgreSQL by dms-migrate"
source_db live_src
pg_sql postgres "CREATE DATABASE live_dst" >/dev/null
/usr/bin/time -f %M -o "$work/mem.live" \
	dms-migrate -q --task live --spool "$work/live.spool" "$(my_uri live_src)" "$(pg_uri live_dst)" \
	2>"$work/live.log" &
mig=$!
# replicating: a heartbeat set after the full load shows on the target
for i in $(seq 1 600); do
	my_sql live_src "UPDATE heartbeat SET t = now(6) WHERE id = 1"
	[ "$(pg_sql live_dst "SELECT count(*) FROM live_src.heartbeat WHERE t > now() - interval '1 second'" 2>/dev/null)" = 1 ] && break
	[ "$i" -lt 600 ] || { echo "no heartbeat replicated in 120 s" >&2; cat "$work/live.log" >&2; exit 1; }
	sleep 0.2
done
dms-lagprobe -o "$work" "$(my_uri live_src)" \
	"host=127.0.0.1 port=$PG_PORT user=postgres password=$DMS_TEST_PASSWORD dbname=live_dst options=-csearch_path=live_src" &
probe=$!
started=$(date +%s.%N)
my_sql live_src "CALL changes($((seconds * per_second / 100)), $per_second)"
elapsed=$(echo "$(date +%s.%N) - $started" | bc -l)
kill -TERM "$probe"
wait "$probe"
my_sql live_src "INSERT INTO heartbeat VALUES (2, now(6))"
dms-lagprobe -t 600 -u "SELECT count(*) FROM live_src.heartbeat WHERE id = 2" \
	"host=127.0.0.1 port=$PG_PORT user=postgres password=$DMS_TEST_PASSWORD dbname=live_dst"
pkill -TERM -P "$mig"
wait "$mig"
same live_src live_dst
made=$((seconds * per_second / 100 * 100))

echo "backlog: $n row changes in transactions of 100, then caught up"
source_db bl_src
for t in txn batch; do
	pg_sql postgres "CREATE DATABASE bl_$t" >/dev/null
	dms-full-load -q "$(my_uri bl_src)" "$(pg_uri "bl_$t")"
done
echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >"$work/batch.json"
echo '{}' >"$work/txn.json"
from=$(pos)
my_sql bl_src "CALL changes($((n / 100)), 0)"
to=$(pos)
declare -A took
for t in txn batch; do
	pg_sql "bl_$t" "VACUUM ANALYZE" >/dev/null
	took[$t]=$(timed sh -c "/usr/bin/time -f %M -o '$work/mem.cap.$t' dms-capture -q --start '$from' --stop-at '$to' '$(my_uri bl_src)' |
		/usr/bin/time -f %M -o '$work/mem.load.$t' dms-load -q -s '$work/$t.json' --task bl '$(pg_uri "bl_$t")'")
	same bl_src "bl_$t"
done

echo
echo "MariaDB to PostgreSQL:"
echo "  live, $(rate "$made" "$elapsed") row changes/s for $(printf '%.0f' "$elapsed") s (asked $per_second):"
echo "     lag p50 $(percentile 50 "$work/lag.1") ms, p99 $(percentile 99 "$work/lag.1") ms (target p99 < 1000 ms);" \
	"peak memory of dms-migrate's processes $(mem "$work/mem.live") MiB"
for t in txn batch; do
	echo "  backlog of $n changes, $([ "$t" = txn ] && echo transactional || echo 'batch apply'):" \
		"$(printf '%.2f' "${took[$t]}") s, $(rate "$n" "${took[$t]}") changes/s;" \
		"peak memory dms-capture $(mem "$work/mem.cap.$t") MiB, dms-load $(mem "$work/mem.load.$t") MiB (target < 64)"
done
