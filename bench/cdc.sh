#!/usr/bin/env bash
# The change data capture benchmark, end to end (dms-capture, the spool,
# dms-transform, dms-load) beside PostgreSQL's own logical replication, in the
# same run, on throwaway servers.
#   Live: pgbench (tpcb-like, BENCH_CDC_SECONDS, default 60, 4 clients) on a
#   source replicated at the same time by a native subscription and by
#   dms-migrate --type cdc. dms-lagprobe updates a heartbeat row on the
#   source every 100 ms and polls both targets every 2 ms: the lag of a
#   heartbeat on a target is from its commit on the source to the first poll
#   that shows it; p50 and p99 for each; a last heartbeat row tells when each
#   has caught up after pgbench.
#   Backlog: BENCH_CDC_CHANGES row changes (default 1,000,000, dms-benchgen -c)
#   made on a source while a native subscription and dms slots wait; the time
#   to catch up, until a marker row committed last arrives: native (from
#   ENABLE), dms-migrate --type cdc (from its start) transactional, and with
#   BatchApplyEnabled.
# The sources are on one PostgreSQL server and the targets on another, as in
# a migration between servers (on one server, each follower would also decode
# the WAL its own target writes). Every target is compared with its source at
# the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/bin/tools:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

trap 'echo "bench/cdc.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
seconds=${BENCH_CDC_SECONDS:-60}
n=${BENCH_CDC_CHANGES:-1000000}
bench_servers
bench_target
results=$work/results
# a database on the target server
tg() { echo "$1@$TG_PORT"; }

# until_row DB SQL: until SQL gives 1 on DB (at most 10 minutes), polled every
# 10 ms over one connection: a psql started every 50 ms took a quarter of
# the two cores that the followers being timed needed
until_row() {
	dms-lagprobe -t 600 -u "$2" "$(bench_conninfo "$1")" || exit 1
}
# percentile P FILE: the P-th percentile of the numbers in FILE (one a line)
percentile() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int((NR - 1) * p / 100) + 1; printf "%.0f", v[i] }'
}
# digest DB: the pgbench tables' rows, as one md5
digest() {
	bench_sql "$1" "SELECT md5(string_agg(x, '')) FROM (
		SELECT md5(string_agg(concat_ws(':', aid, bid, abalance), ',' ORDER BY aid)) x FROM pgbench_accounts UNION ALL
		SELECT md5(string_agg(concat_ws(':', tid, bid, tbalance), ',' ORDER BY tid)) FROM pgbench_tellers UNION ALL
		SELECT md5(string_agg(concat_ws(':', bid, bbalance), ',' ORDER BY bid)) FROM pgbench_branches UNION ALL
		SELECT md5(string_agg(concat_ws(':', id, tid, bid, aid, delta), ',' ORDER BY id)) FROM pgbench_history) s"
}

echo "live: pgbench for $seconds s, native logical replication and dms-migrate --type cdc at once"
pg_sql postgres "CREATE DATABASE live_src" >/dev/null
pgbench -i -q -s 10 "$(pg_uri live_src)" 2>/dev/null
pg_sql live_src "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY;
	CREATE TABLE heartbeat (id int PRIMARY KEY, t timestamptz); INSERT INTO heartbeat VALUES (1, clock_timestamp())"
for db in live_native live_dms; do
	bench_sql "$(tg postgres)" "CREATE DATABASE $db" >/dev/null
	pg_dump "$(pg_uri live_src)" | psql -X -q "$(bench_uri "$(tg "$db")")" >/dev/null
done
pg_sql live_src "CREATE PUBLICATION native FOR ALL TABLES" >/dev/null
pg_sql live_src "SELECT pg_create_logical_replication_slot('native_live', 'pgoutput')" >/dev/null
bench_sql "$(tg live_native)" "CREATE SUBSCRIPTION native CONNECTION '$(bench_conninfo live_src)' PUBLICATION native
	WITH (create_slot = false, slot_name = 'native_live', copy_data = false)" >/dev/null
# /usr/bin/time's peak is the largest of the script's processes
/usr/bin/time -f %M -o "$work/mem.live" \
	dms-migrate -q --type cdc --task live --spool "$work/live.spool" "$(pg_uri live_src)" "$(bench_uri "$(tg live_dms)")" &
mig=$!
# both followers at work before the load starts: a heartbeat seen by each
# (beaten again until then: the dms slot is made as dms-migrate starts)
hb=$(pg_sql live_src "SELECT clock_timestamp()")
for db in live_native live_dms; do
	for i in $(seq 1 600); do
		[ "$(bench_sql "$(tg "$db")" "SELECT count(*) FROM heartbeat WHERE t >= '$hb'" 2>/dev/null)" = 1 ] && break
		[ "$i" -lt 600 ] || { echo "$db: no heartbeat replicated in 120 s" >&2; exit 1; }
		pg_sql live_src "UPDATE heartbeat SET t = clock_timestamp()"
		sleep 0.2
	done
done
# the lag of each heartbeat (every 100 ms), from its commit on the source to
# the first poll that shows it on a target, measured for both targets alike
# by one process over kept connections (dms-lagprobe)
dms-lagprobe -o "$work" "$(bench_conninfo live_src)" "$(bench_conninfo "$(tg live_native)")" \
	"$(bench_conninfo "$(tg live_dms)")" &
probe=$!
pgbench -n -T "$seconds" -c 4 "$(pg_uri live_src)" >"$work/pgbench.log" 2>&1
kill -TERM "$probe"
wait "$probe"
mv "$work/lag.1" "$work/lag.native"
mv "$work/lag.2" "$work/lag.dms"
load_end=$(date +%s.%N)
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.log" | head -n 1)
# a tpcb-like transaction changes four rows (three updates, one insert)
changes=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.log")
changes=$((changes * 4))
# the last commit: a row each follower shows once it has everything before it
pg_sql live_src "INSERT INTO heartbeat VALUES (2, clock_timestamp())"
for db in live_native live_dms; do
	until_row "$(tg "$db")" "SELECT count(*) FROM heartbeat WHERE id = 2"
done
t_drain=$(echo "$(date +%s.%N) - $load_end" | bc -l)
pkill -TERM -P "$mig"
wait "$mig"
want=$(digest live_src)
[ "$(digest "$(tg live_native)")" = "$want" ] || { echo "native: the target differs from the source" >&2; exit 1; }
[ "$(digest "$(tg live_dms)")" = "$want" ] || { echo "dms: the target differs from the source" >&2; exit 1; }
bench_sql "$(tg live_native)" "DROP SUBSCRIPTION native" >/dev/null

echo "backlog: $n row changes made while the subscribers wait"
bench_changes "$n" bl_src "$(tg bl_native)" "$(tg bl_txn)" "$(tg bl_batch)"
# the marker: its row comes last, and a follower that has it has everything
pg_sql bl_src "CREATE TABLE marker (id int PRIMARY KEY)"
bench_sql "$(tg bl_native)" "CREATE TABLE marker (id int PRIMARY KEY)"
pg_sql bl_src "CREATE PUBLICATION native FOR TABLE bench_accounts, bench_orders, bench_events, marker" >/dev/null
pg_sql bl_src "SELECT pg_create_logical_replication_slot('native', 'pgoutput')" >/dev/null
bench_sql "$(tg bl_native)" "CREATE SUBSCRIPTION native CONNECTION '$(bench_conninfo bl_src)'
	PUBLICATION native WITH (create_slot = false, slot_name = 'native', enabled = false, copy_data = false)" >/dev/null
for t in txn batch; do
	dms-capture -q --task "$t" --stop-at 0/1 "$(pg_uri bl_src)" >/dev/null
done
dms-load -q -s "$work/each.json" --task src "$(pg_uri bl_src)" <"$work/changes.dms"
pg_sql bl_src "INSERT INTO marker VALUES (1)"
native() {
	bench_sql "$(tg bl_native)" "ALTER SUBSCRIPTION native ENABLE" >/dev/null
	until_row "$(tg bl_native)" "SELECT count(*) FROM marker"
}
# checkpoints [DB...]: each timed catch-up starts from settled servers: no
# autovacuum left to do on the tables the changes (or the catch-ups before,
# in the target databases DB) wrote, and no dirty buffers or WAL that the one
# before left, to be written during the next one. A target still empty is
# not vacuumed: its statistics would then say "no rows" (rather than
# "never counted"), and the plans of the catch-up's first statements, kept
# for the rest, would scan the growing tables
checkpoints() {
	local db
	pg_sql bl_src "VACUUM (ANALYZE)"
	for db in "$@"; do
		bench_sql "$(tg "$db")" "VACUUM (ANALYZE)"
	done
	pg_sql postgres "CHECKPOINT"
	bench_sql "$(tg postgres)" "CHECKPOINT"
}
checkpoints
t_native=$(timed native)
# dms-migrate --type cdc, each to its own target from its own slot (made
# before the changes), until the marker: the capture reads the backlog into
# the spool, the apply follows it
dms_catchup() {
	local t=$1 mpid
	shift
	/usr/bin/time -f %M -o "$work/mem.$t" dms-migrate -q "$@" --type cdc --task "$t" --spool "$work/$t.spool" \
		"$(pg_uri bl_src)" "$(bench_uri "$(tg "bl_$t")")" &
	mpid=$!
	until_row "$(tg "bl_$t")" "SELECT count(*) FROM marker"
	pkill -TERM -P "$mpid"
	wait "$mpid"
}
checkpoints bl_native
t_txn=$(timed dms_catchup txn)
checkpoints bl_native bl_txn
t_batch=$(timed dms_catchup batch -s "$work/batch.json")
bench_same bl_src "$(tg bl_native)" "$(tg bl_txn)" "$(tg bl_batch)"
bench_sql "$(tg bl_native)" "DROP SUBSCRIPTION native" >/dev/null

scale=${BENCH_CDC_SCALE:-50}
echo "full-load-and-cdc: pgbench scale $scale, written by pgbench all along"
pg_sql postgres "CREATE DATABASE fl_src" >/dev/null
bench_sql "$(tg postgres)" "CREATE DATABASE fl_dst" >/dev/null
pgbench -i -q -s "$scale" "$(pg_uri fl_src)" 2>/dev/null
pg_sql fl_src "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY;
	CREATE TABLE heartbeat (id int PRIMARY KEY, t timestamptz); INSERT INTO heartbeat VALUES (1, clock_timestamp())"
pgbench -n -T 100000 -c 4 "$(pg_uri fl_src)" >"$work/pgbench.fl.log" 2>&1 &
load=$!
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$work/mem.fl" dms-migrate --task fl --spool "$work/fl.spool" "$(pg_uri fl_src)" "$(bench_uri "$(tg fl_dst)")" 2>"$work/fl.log" &
mig=$!
# the load ends when the cached changes start; then the lag, by heartbeat, until under 1 s
until grep -qs "applying the cached changes" "$work/fl.log"; do
	kill -0 "$mig" 2>/dev/null || { cat "$work/fl.log" >&2; exit 1; }
	sleep 0.1 # a poll of the log
done
t_load=$(echo "$(date +%s.%N) - $start" | bc -l)
loaded=$(date +%s.%N)
while :; do
	pg_sql fl_src "UPDATE heartbeat SET t = clock_timestamp()"
	lag=$(bench_sql "$(tg fl_dst)" "SELECT (extract(epoch FROM clock_timestamp() - t) * 1000)::int FROM heartbeat" 2>/dev/null || echo 999999)
	[ -n "$lag" ] && [ "$lag" -lt 1000 ] && break
	kill -0 "$mig" 2>/dev/null || { cat "$work/fl.log" >&2; exit 1; }
	sleep 0.2 # the heartbeat's period
done
t_catchup=$(echo "$(date +%s.%N) - $loaded" | bc -l)
kill -TERM "$load"
wait "$load" || true # pgbench ends by the TERM above, with its own status
pg_sql fl_src "INSERT INTO heartbeat VALUES (2, clock_timestamp())"
until_row "$(tg fl_dst)" "SELECT count(*) FROM heartbeat WHERE id = 2"
pkill -TERM -P "$mig"
wait "$mig"
[ "$(digest "$(tg fl_dst)")" = "$(digest fl_src)" ] || { echo "full-load-and-cdc: the target differs from the source" >&2; exit 1; }

{
	echo "PostgreSQL -> PostgreSQL, end to end (every target equal to its source)"
	echo "live, pgbench tpcb-like for $seconds s at $(printf '%.0f' "$tps") tps ($(rate "$changes" "$seconds") row changes/s), lag of a heartbeat every 100 ms:"
	echo "   native logical replication: p50 $(percentile 50 "$work/lag.native") ms, p99 $(percentile 99 "$work/lag.native") ms"
	echo "   dms-migrate --type cdc:     p50 $(percentile 50 "$work/lag.dms") ms, p99 $(percentile 99 "$work/lag.dms") ms (through the spool); caught up $(printf '%.1f' "$t_drain") s after pgbench; peak $(mem "$work/mem.live") MiB"
	echo "backlog of $n changes caught up:"
	echo "   native logical replication: $(printf '%.2f' "$t_native") s, $(rate "$n" "$t_native") changes/s"
	echo "   dms-migrate --type cdc:     $(printf '%.2f' "$t_txn") s, $(rate "$n" "$t_txn") changes/s: $(ratio "$t_native" "$t_txn")x native; peak $(mem "$work/mem.txn") MiB"
	echo "   the same, batch apply:      $(printf '%.2f' "$t_batch") s, $(rate "$n" "$t_batch") changes/s: $(ratio "$t_native" "$t_batch")x native (target >= 2.0); peak $(mem "$work/mem.batch") MiB"
	echo "full-load-and-cdc of pgbench scale $scale under pgbench (4 clients): load and keys $(printf '%.1f' "$t_load") s, then lag under 1 s $(printf '%.1f' "$t_catchup") s later; peak $(mem "$work/mem.fl") MiB"
} | tee "$results"
