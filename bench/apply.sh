#!/usr/bin/env bash
# The change-apply benchmark: dms-load applying a change stream beside
# PostgreSQL's own logical replication catching up the same changes, in the
# same run, on throwaway servers. Prints seconds, changes/s, ratios and peak
# memory.
#   BENCH_CHANGES row changes (default 1,000,000: 60% UPDATE, 25% INSERT, 15%
#   DELETE, transactions of 1 to 50 changes, over three tables), written by
#   dms-benchgen -c to a stream file.
#   Native: the changes are made on a source database (by dms-load, one
#   commit per source transaction) while a subscription waits disabled on
#   its slot; the time is from ENABLE to the subscriber's replication origin
#   reaching the source's last commit.
#   dms: dms-load from the stream file, transactional and batch
#   (BatchApplyEnabled), into PostgreSQL and into MariaDB.
# The final tables of every contender are compared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/bin/tools:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

n=${BENCH_CHANGES:-1000000}
bench_servers

secs() { printf '%.2f' "$1"; }
results=$work/results

echo "setting up: $n row changes"
bench_changes "$n" lr_src lr_dst dms_txn dms_batch
for db in my_txn my_batch; do
	my_sql "CREATE DATABASE $db"
	dms-load -q --task tables "$(my_uri $db)" <"$work/tables.dms"
done

# native logical replication: the slot first, then the changes, then the catch-up
pg_sql lr_src "CREATE PUBLICATION bench FOR TABLE bench_accounts, bench_orders, bench_events" >/dev/null
pg_sql lr_src "SELECT pg_create_logical_replication_slot('bench_sub', 'pgoutput')" >/dev/null
pg_sql lr_dst "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$PG_PORT user=postgres password=$DMS_TEST_PASSWORD dbname=lr_src'
	PUBLICATION bench WITH (create_slot = false, slot_name = 'bench_sub', enabled = false, copy_data = false)" >/dev/null
dms-load -q -s "$work/each.json" --task src "$(pg_uri lr_src)" <"$work/changes.dms"
end_lsn=$(pg_sql lr_src "SELECT pg_current_wal_lsn()")
caught_up() {
	[ "$(pg_sql lr_dst "SELECT coalesce(bool_or(remote_lsn >= '$end_lsn'::pg_lsn), false) FROM pg_replication_origin_status")" = t ]
}
native() {
	pg_sql lr_dst "ALTER SUBSCRIPTION bench ENABLE" >/dev/null
	until caught_up; do sleep 0.05; done
}
t_lr=$(timed native)

t_txn=$(timed /usr/bin/time -f %M -o "$work/mem.txn" dms-load -q --task bench "$(pg_uri dms_txn)" <"$work/changes.dms")
t_batch=$(timed /usr/bin/time -f %M -o "$work/mem.batch" dms-load -q -s "$work/batch.json" --task bench "$(pg_uri dms_batch)" <"$work/changes.dms")
t_mtxn=$(timed /usr/bin/time -f %M -o "$work/mem.mtxn" dms-load -q --task bench "$(my_uri my_txn)" <"$work/changes.dms")
t_mbatch=$(timed /usr/bin/time -f %M -o "$work/mem.mbatch" dms-load -q -s "$work/batch.json" --task bench "$(my_uri my_batch)" <"$work/changes.dms")

# every contender ends with the same tables
bench_same lr_src lr_dst dms_txn dms_batch
for t in accounts orders events; do
	q="SET SESSION group_concat_max_len = 1073741824; SELECT md5(group_concat(concat_ws('|', id, qty, price, coalesce(note, 'NULL'), updated) ORDER BY id SEPARATOR ',')) FROM bench_$t"
	[ "$(my_sql my_txn "$q")" = "$(my_sql my_batch "$q")" ] || { echo "bench_$t differs in MariaDB" >&2; exit 1; }
done

{
	echo "PostgreSQL -> PostgreSQL, $n changes (all contenders end with the same tables)"
	echo "   native logical replication: $(secs "$t_lr") s, $(rate "$n" "$t_lr") changes/s"
	echo "   dms-load transactional:     $(secs "$t_txn") s, $(rate "$n" "$t_txn") changes/s: $(ratio "$t_lr" "$t_txn")x native (target >= 1.0); peak memory $(mem "$work/mem.txn") MiB"
	echo "   dms-load batch:             $(secs "$t_batch") s, $(rate "$n" "$t_batch") changes/s: $(ratio "$t_lr" "$t_batch")x native (target >= 3.0); peak memory $(mem "$work/mem.batch") MiB"
	echo "-> MariaDB, the same stream"
	echo "   dms-load transactional:     $(secs "$t_mtxn") s, $(rate "$n" "$t_mtxn") changes/s; peak memory $(mem "$work/mem.mtxn") MiB"
	echo "   dms-load batch:             $(secs "$t_mbatch") s, $(rate "$n" "$t_mbatch") changes/s; peak memory $(mem "$work/mem.mbatch") MiB"
} | tee "$results"
