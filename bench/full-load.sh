#!/usr/bin/env bash
# The full-load benchmark: dms against its peers on the same data, in the same
# run, on throwaway servers. Prints seconds, rows/s, ratios and peak memory.
# Each pair of contenders runs BENCH_ROUNDS times (default 5), interleaved,
# and each keeps its best time: the machine is shared and noisy.
#   PostgreSQL -> PostgreSQL, pgbench_accounts (BENCH_SCALE x 100000 rows,
#     default 5 million) and a mixed-type table (BENCH_MIXED rows, default 2
#     million): dms-extract | dms-load against psql COPY | psql COPY (one
#     table, one pipeline), and dms-full-load against pgcopydb clone at the
#     same number of jobs (BENCH_JOBS, default 2).
#   MariaDB -> PostgreSQL, the same pgbench_accounts: dms against the raw pipe
#     mariadb --quick -B | psql COPY, and against pgloader.
#   Keyed, four directions (issue 15's ratios): dms-full-load against the raw
#     pipes with the primary key built (psql COPY | psql COPY + ADD PRIMARY
#     KEY; mariadb -B | psql COPY; psql COPY | LOAD DATA LOCAL; mariadb-dump |
#     mariadb), pgcopydb clone and pgloader, and the largest process's peak
#     memory; and PostgreSQL -> PostgreSQL, the mixed table keyed against its
#     raw pipe. BENCH_KEYED_ONLY=1 runs only this part and the next.
#   The whole database, PostgreSQL -> PostgreSQL (the pgbench tables and
#     mixed), keys built: dms-full-load against pg_dump | psql and pgcopydb;
#     then from and into MariaDB (the same tables, as dms makes them there):
#     against the raw pipes table after table, pgloader and mariadb-dump.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

scale=${BENCH_SCALE:-50}
mixed=${BENCH_MIXED:-2000000}
jobs=${BENCH_JOBS:-2}
rows=$((scale * 100000))
bench_servers
psql_() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
mariadb_() { mariadb --no-defaults --default-character-set=utf8mb4 -h 127.0.0.1 -P "$MY_PORT" -udms -p"$DMS_TEST_PASSWORD" "$@"; }

quiet() { "$@" >/dev/null 2>&1; }
rounds=${BENCH_ROUNDS:-5}
# once DB SETUP CMD...: seconds of one run, DB dropped and re-created (then
# SETUP run) first
once() {
	local db=$1 setup=$2
	shift 2
	pg_sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
	pg_sql postgres "CREATE DATABASE $db"
	[ -z "$setup" ] || eval "$setup"
	timed "$@"
}

echo "setting up: pgbench_accounts $rows rows, mixed $mixed rows (jobs: $jobs)"
pg_sql postgres "CREATE DATABASE src"
"$PG_BIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$PG_PORT" -U postgres src >/dev/null 2>&1
pg_sql src "CREATE TABLE mixed (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(12,2),
	created timestamptz NOT NULL, day date, label text, paid boolean, ratio double precision, note varchar(200));
	INSERT INTO mixed SELECT g, g % 100000, (g % 1000000) / 100.0, timestamptz '2024-01-01' + g * interval '1.5 second',
	date '2020-01-01' + g % 2000, 'label ' || g % 1000, g % 2 = 0, g / 7.0,
	CASE WHEN g % 3 = 0 THEN NULL ELSE 'a note about row ' || g END FROM generate_series(1, $mixed) g"
pg_sql src "VACUUM ANALYZE"
one_table() {
	printf '{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"t","rule-action":"explicit","object-locator":{"schema-name":"%s","table-name":"%s"}}]}' "$1" "$2" >"$work/$2.json"
	echo "$work/$2.json"
}

results=$work/results
: >"$results"
report() { printf '%-58s %8.2f s %10s rows/s\n' "$1" "$2" "$(rate "$3" "$2")" | tee -a "$results"; }

keyed_only=${BENCH_KEYED_ONLY:-0}
tables=(pgbench_accounts mixed)
[ "$keyed_only" = 1 ] && tables=()
for table in "${tables[@]}"; do
	n=$rows
	[ "$table" = mixed ] && n=$mixed
	echo
	echo "== PostgreSQL -> PostgreSQL, $table ($n rows)"
	pg_dump -h 127.0.0.1 -p "$PG_PORT" -U postgres -s -t "$table" src >"$work/schema.sql"
	map=$(one_table public "$table")
	t_copy="" t_dms=""
	for _ in $(seq 1 "$rounds"); do
		t_copy=$(min "$t_copy" "$(once "copy_$table" "psql_ copy_$table <$work/schema.sql >/dev/null" bash -o pipefail -c "psql -X -h 127.0.0.1 -p $PG_PORT -U postgres src -c 'COPY $table TO STDOUT' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres copy_$table -c 'COPY $table FROM STDIN'")")
		t_dms=$(min "$t_dms" "$(once "dms_$table" "" bash -o pipefail -c "/usr/bin/time -f %M -o $work/mem.x dms-extract -m $map --split-rows 0 '$(pg_uri src)' | /usr/bin/time -f %M -o $work/mem.l dms-load '$(pg_uri "dms_$table")'")")
	done
	report "psql COPY | psql COPY (one pipeline)" "$t_copy" "$n"
	report "dms-extract | dms-load (one pipeline)" "$t_dms" "$n"
	echo "   dms vs COPY pipe: $(ratio "$t_copy" "$t_dms")x its throughput (target >= 0.9); peak memory: dms-extract $(mem "$work/mem.x") MiB, dms-load $(mem "$work/mem.l") MiB" | tee -a "$results"
	[ "$(pg_sql "dms_$table" "SELECT count(*) FROM $table")" = "$n" ] || { echo "row count differs" >&2; exit 1; }

	printf '[include-only-table]\npublic.%s\n' "$table" >"$work/filter_$table"
	t_pgcopydb="" t_full=""
	for _ in $(seq 1 "$rounds"); do
		t_pgcopydb=$(min "$t_pgcopydb" "$(once "pgcopydb_$table" "rm -rf $work/pgcopydb_$table" quiet pgcopydb clone --source "$(pg_uri src)" --target "$(pg_uri "pgcopydb_$table")" \
			--table-jobs "$jobs" --index-jobs "$jobs" --dir "$work/pgcopydb_$table" --no-owner \
			--filters "$work/filter_$table")")
		t_full=$(min "$t_full" "$(once "full_$table" "" dms-full-load -q -j "$jobs" -m "$map" "$(pg_uri src)" "$(pg_uri "full_$table")")")
	done
	report "pgcopydb clone --table-jobs $jobs (with indexes)" "$t_pgcopydb" "$n"
	report "dms-full-load -j $jobs (with indexes)" "$t_full" "$n"
	echo "   dms-full-load vs pgcopydb: $(ratio "$t_pgcopydb" "$t_full")x its throughput (target >= 1.0)" | tee -a "$results"
done

my_sql "CREATE DATABASE src"
dms-extract -m "$(one_table public pgbench_accounts)" --split-rows 0 "$(pg_uri src)" | dms-load -q --prep-mode DROP_AND_CREATE "$(my_uri src)"
my_sql src "ANALYZE TABLE pgbench_accounts" >/dev/null
if [ "$keyed_only" = 0 ]; then
echo
echo "== MariaDB -> PostgreSQL, pgbench_accounts ($rows rows)"

t_raw="" t_mdms=""
for _ in $(seq 1 "$rounds"); do
	t_raw=$(min "$t_raw" "$(once raw "pg_sql raw 'CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler varchar(84))'" bash -o pipefail -c "mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --quick -B -N -e 'SELECT aid, bid, abalance, filler FROM src.pgbench_accounts' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres raw -c 'COPY pgbench_accounts FROM STDIN'")")
	t_mdms=$(min "$t_mdms" "$(once mdms "" bash -o pipefail -c "/usr/bin/time -f %M -o $work/mem.x dms-extract --split-rows 0 '$(my_uri src)' | /usr/bin/time -f %M -o $work/mem.l dms-load '$(pg_uri mdms)'")")
done
report "mariadb --quick -B | psql COPY (raw pipe)" "$t_raw" "$rows"
report "dms-extract | dms-load (one pipeline)" "$t_mdms" "$rows"
echo "   dms vs the raw pipe: $(ratio "$t_raw" "$t_mdms")x its throughput (target >= 0.8); peak memory: dms-extract $(mem "$work/mem.x") MiB, dms-load $(mem "$work/mem.l") MiB" | tee -a "$results"
t_mfull=$(once mfull "" dms-full-load -q -j "$jobs" "$(my_uri src)" "$(pg_uri mfull)")
report "dms-full-load -j $jobs (with indexes)" "$t_mfull" "$rows"
pg_sql postgres "CREATE DATABASE pgl"
# pgloader runs once: at its speed one run takes a minute
t_pgl=$(timed quiet pgloader --no-ssl-cert-verification "mysql://dms:$DMS_TEST_PASSWORD@127.0.0.1:$MY_PORT/src" "postgresql://postgres:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/pgl")
report "pgloader (with indexes)" "$t_pgl" "$rows"
echo "   dms-full-load vs pgloader: $(ratio "$t_pgl" "$t_mfull")x its throughput (target >= 5)" | tee -a "$results"
[ "$(pg_sql pgl "SELECT count(*) FROM src.pgbench_accounts")" = "$rows" ] || echo "   (pgloader did not load every row: see its log)"
fi

# Keyed, one table, four directions: every contender ends with
# pgbench_accounts and its primary key on the target. Rounds interleaved, best
# of each kept; the peak memory is the largest process of dms-full-load's run.
echo
echo "== Keyed: pgbench_accounts ($rows rows) with its primary key, four directions (issue 15)"
acc=$(one_table public pgbench_accounts)
printf '[include-only-table]\npublic.pgbench_accounts\n' >"$work/filter_pgbench_accounts"
# my_once DB SETUP CMD...: as once, for a MariaDB database
my_once() {
	local db=$1 setup=$2
	shift 2
	my_sql "DROP DATABASE IF EXISTS $db"
	my_sql "CREATE DATABASE $db"
	[ -z "$setup" ] || eval "$setup"
	timed "$@"
}
my_create="CREATE TABLE pgbench_accounts (aid int NOT NULL PRIMARY KEY, bid int, abalance int, filler char(84))"
full() { /usr/bin/time -f %M -o "$work/mem.full" dms-full-load -q -j "$jobs" "$@"; }
peak=0
keep_peak() { local m; m=$(mem "$work/mem.full"); [ "$m" -le "$peak" ] || peak=$m; }
mix=$(one_table public mixed)
mixed_create="CREATE TABLE mixed (id bigint NOT NULL, customer int NOT NULL, amount numeric(12,2), created timestamptz NOT NULL, day date, label text, paid boolean, ratio double precision, note varchar(200))"
mixed_rows=$(pg_sql src "SELECT count(*) FROM mixed")
t_px_raw="" t_px_dms=""
t_pp_raw="" t_pp_dms="" t_pp_copydb="" t_mp_raw="" t_mp_dms="" t_pm_raw="" t_pm_dms="" t_mm_raw="" t_mm_dms=""
for _ in $(seq 1 "$rounds"); do
	# PostgreSQL -> PostgreSQL
	t_pp_raw=$(min "$t_pp_raw" "$(once k_raw "pg_sql k_raw 'CREATE TABLE pgbench_accounts (aid int NOT NULL, bid int, abalance int, filler char(84))'" bash -o pipefail -c "psql -X -h 127.0.0.1 -p $PG_PORT -U postgres src -c 'COPY pgbench_accounts TO STDOUT' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres k_raw -c 'COPY pgbench_accounts FROM STDIN' && psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres k_raw -c 'ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)'")")
	t_pp_dms=$(min "$t_pp_dms" "$(once k_dms "" full -m "$acc" "$(pg_uri src)" "$(pg_uri k_dms)")")
	keep_peak
	t_pp_copydb=$(min "$t_pp_copydb" "$(once k_copydb "rm -rf $work/k_copydb" quiet pgcopydb clone --source "$(pg_uri src)" --target "$(pg_uri k_copydb)" \
		--table-jobs "$jobs" --index-jobs "$jobs" --dir "$work/k_copydb" --no-owner --filters "$work/filter_pgbench_accounts")")
	# PostgreSQL -> PostgreSQL, the mixed table (numeric, timestamptz, date: binary COPY only in one COPY)
	t_px_raw=$(min "$t_px_raw" "$(once k_raw "pg_sql k_raw '$mixed_create'" bash -o pipefail -c "psql -X -h 127.0.0.1 -p $PG_PORT -U postgres src -c 'COPY mixed TO STDOUT' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres k_raw -c 'COPY mixed FROM STDIN' && psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres k_raw -c 'ALTER TABLE mixed ADD PRIMARY KEY (id)'")")
	t_px_dms=$(min "$t_px_dms" "$(once k_dms "" full -m "$mix" "$(pg_uri src)" "$(pg_uri k_dms)")")
	keep_peak
	# MariaDB -> PostgreSQL
	t_mp_raw=$(min "$t_mp_raw" "$(once k_raw "pg_sql k_raw 'CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84))'" bash -o pipefail -c "mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --quick -B -N -e 'SELECT aid, bid, abalance, filler FROM src.pgbench_accounts' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres k_raw -c 'COPY pgbench_accounts FROM STDIN'")")
	t_mp_dms=$(min "$t_mp_dms" "$(once k_dms "" full "$(my_uri src)" "$(pg_uri k_dms)")")
	keep_peak
	# PostgreSQL -> MariaDB
	t_pm_raw=$(min "$t_pm_raw" "$(my_once k_raw "my_sql k_raw '$my_create'" bash -o pipefail -c "psql -X -h 127.0.0.1 -p $PG_PORT -U postgres src -c 'COPY pgbench_accounts TO STDOUT' | mariadb --no-defaults --local-infile=1 -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD k_raw -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE pgbench_accounts\"")")
	t_pm_dms=$(min "$t_pm_dms" "$(my_once k_dms "" full -m "$acc" "$(pg_uri src)" "$(my_uri k_dms)")")
	keep_peak
	# MariaDB -> MariaDB
	t_mm_raw=$(min "$t_mm_raw" "$(my_once k_raw "" bash -o pipefail -c "mariadb-dump --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --single-transaction src pgbench_accounts | mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD k_raw")")
	t_mm_dms=$(min "$t_mm_dms" "$(my_once k_dms "" full "$(my_uri src)" "$(my_uri k_dms)")")
	keep_peak
done
[ "$(pg_sql k_dms "SELECT count(*) FROM src.pgbench_accounts")" = "$rows" ] || { echo "MariaDB -> PostgreSQL: row count differs" >&2; exit 1; }
# pgloader once (its run takes many times dms's), MariaDB -> PostgreSQL with its keys
t_mp_pgl=$(once k_pgl "" quiet pgloader --no-ssl-cert-verification "mysql://dms:$DMS_TEST_PASSWORD@127.0.0.1:$MY_PORT/src" "postgresql://postgres:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/k_pgl")
[ "$(pg_sql k_pgl "SELECT count(*) FROM src.pgbench_accounts")" = "$rows" ] || echo "   (pgloader did not load every row: see its log)"
[ "$(my_sql k_dms "SELECT COUNT(*) FROM pgbench_accounts")" = "$rows" ] || { echo "MariaDB -> MariaDB: row count differs" >&2; exit 1; }
[ "$(my_sql k_raw "SELECT COUNT(*) FROM pgbench_accounts")" = "$rows" ] || { echo "mariadb-dump | mariadb: row count differs" >&2; exit 1; }
report "PG -> PG: psql COPY | psql COPY + ADD PRIMARY KEY" "$t_pp_raw" "$rows"
report "PG -> PG: pgcopydb clone --table-jobs $jobs" "$t_pp_copydb" "$rows"
report "PG -> PG: dms-full-load -j $jobs" "$t_pp_dms" "$rows"
echo "   dms-full-load vs the raw pipe + key: $(ratio "$t_pp_raw" "$t_pp_dms")x (target >= 1.0); vs pgcopydb: $(ratio "$t_pp_copydb" "$t_pp_dms")x (target >= 1.2)" | tee -a "$results"
report "PG -> PG, mixed: psql COPY | psql COPY + ADD PRIMARY KEY" "$t_px_raw" "$mixed_rows"
report "PG -> PG, mixed: dms-full-load -j $jobs" "$t_px_dms" "$mixed_rows"
echo "   dms-full-load vs the raw pipe + key: $(ratio "$t_px_raw" "$t_px_dms")x (target >= 1.0)" | tee -a "$results"
report "MariaDB -> PG: mariadb -B | psql COPY (key made first)" "$t_mp_raw" "$rows"
report "MariaDB -> PG: dms-full-load -j $jobs" "$t_mp_dms" "$rows"
report "MariaDB -> PG: pgloader (one run)" "$t_mp_pgl" "$rows"
echo "   dms-full-load vs the raw pipe + key: $(ratio "$t_mp_raw" "$t_mp_dms")x (target >= 1.0); vs pgloader: $(ratio "$t_mp_pgl" "$t_mp_dms")x (target >= 5)" | tee -a "$results"
report "PG -> MariaDB: psql COPY | LOAD DATA LOCAL (key made first)" "$t_pm_raw" "$rows"
report "PG -> MariaDB: dms-full-load -j $jobs" "$t_pm_dms" "$rows"
echo "   dms-full-load vs the raw pipe: $(ratio "$t_pm_raw" "$t_pm_dms")x (target >= 0.8)" | tee -a "$results"
report "MariaDB -> MariaDB: mariadb-dump | mariadb" "$t_mm_raw" "$rows"
report "MariaDB -> MariaDB: dms-full-load -j $jobs" "$t_mm_dms" "$rows"
echo "   dms-full-load vs mariadb-dump | mariadb: $(ratio "$t_mm_raw" "$t_mm_dms")x (target >= 0.8)" | tee -a "$results"
echo "   peak memory, the largest process of any dms-full-load run: $peak MiB (target < 64)" | tee -a "$results"

# The whole database (the pgbench tables and mixed), PostgreSQL -> PostgreSQL,
# keys built: dms-full-load (no mapping) against pg_dump | psql and pgcopydb
# clone of the whole database.
echo
echo "== Whole database: the four pgbench tables and mixed, PostgreSQL -> PostgreSQL, keys built (issue 15)"
t_w_raw="" t_w_dms="" t_w_copydb=""
for _ in $(seq 1 "$rounds"); do
	t_w_raw=$(min "$t_w_raw" "$(once w_raw "" bash -o pipefail -c "'$PG_BIN/pg_dump' -h 127.0.0.1 -p $PG_PORT -U postgres --no-owner src | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PG_PORT -U postgres w_raw >/dev/null")")
	t_w_dms=$(min "$t_w_dms" "$(once w_dms "" full "$(pg_uri src)" "$(pg_uri w_dms)")")
	keep_peak
	t_w_copydb=$(min "$t_w_copydb" "$(once w_copydb "rm -rf $work/w_copydb" quiet pgcopydb clone --source "$(pg_uri src)" --target "$(pg_uri w_copydb)" \
		--table-jobs "$jobs" --index-jobs "$jobs" --dir "$work/w_copydb" --no-owner)")
done
for db in w_raw w_dms w_copydb; do
	[ "$(pg_sql "$db" "SELECT count(*) FROM pgbench_accounts")" = "$rows" ] || { echo "$db: pgbench_accounts' row count differs" >&2; exit 1; }
	[ "$(pg_sql "$db" "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text LIKE 'pgbench%'")" = 3 ] ||
		{ echo "$db: the pgbench tables' primary keys are not all there" >&2; exit 1; }
done
report "whole database: pg_dump | psql" "$t_w_raw" "$rows"
report "whole database: pgcopydb clone --table-jobs $jobs" "$t_w_copydb" "$rows"
report "whole database: dms-full-load -j $jobs" "$t_w_dms" "$rows"
echo "   dms-full-load vs pg_dump | psql: $(ratio "$t_w_raw" "$t_w_dms")x (target >= 1.0); vs pgcopydb: $(ratio "$t_w_copydb" "$t_w_dms")x (target >= 1.2)" | tee -a "$results"

# The same database from and into MariaDB: wsrc, the source's tables as
# dms-full-load makes them in MariaDB. The raw pipes run table after table
# into tables made first with their keys (pg_dump --schema-only, mariadb-dump
# --no-data); they are timing peers: MariaDB's NULL and PostgreSQL's
# booleans and offsets are read by the other side as its own rules say.
echo
echo "== Whole database from and into MariaDB, keys built (issue 15)"
my_sql "CREATE DATABASE wsrc"
dms-full-load -q "$(pg_uri src)" "$(my_uri wsrc)"
wtables=$(my_sql wsrc "SELECT GROUP_CONCAT(TABLE_NAME SEPARATOR ' ') FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'wsrc'")
my_to_pg="" pg_to_my=""
for t in $wtables; do
	my_to_pg+="mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --quick -B -N -e 'SELECT * FROM wsrc.$t' | psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres wm_raw -c \"COPY public.$t FROM STDIN (NULL 'NULL')\" && "
	pg_to_my+="psql -X -h 127.0.0.1 -p $PG_PORT -U postgres src -c 'COPY public.$t TO STDOUT' | mariadb --no-defaults --local-infile=1 -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD wp_raw -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE $t\" && "
done
t_wm_raw="" t_wm_dms="" t_wp_raw="" t_wp_dms="" t_wmm_raw="" t_wmm_dms=""
for _ in $(seq 1 "$rounds"); do
	t_wm_raw=$(min "$t_wm_raw" "$(once wm_raw "'$PG_BIN/pg_dump' -h 127.0.0.1 -p $PG_PORT -U postgres --no-owner --schema-only src | psql_ -v ON_ERROR_STOP=1 wm_raw >/dev/null" bash -o pipefail -c "${my_to_pg}true")")
	t_wm_dms=$(min "$t_wm_dms" "$(once wm_dms "" full "$(my_uri wsrc)" "$(pg_uri wm_dms)")")
	keep_peak
	t_wp_raw=$(min "$t_wp_raw" "$(my_once wp_raw "mariadb-dump --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --no-data wsrc | mariadb_ wp_raw" bash -o pipefail -c "${pg_to_my}true")")
	t_wp_dms=$(min "$t_wp_dms" "$(my_once wp_dms "" full "$(pg_uri src)" "$(my_uri wp_dms)")")
	keep_peak
	t_wmm_raw=$(min "$t_wmm_raw" "$(my_once wmm_raw "" bash -o pipefail -c "mariadb-dump --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD --single-transaction wsrc | mariadb --no-defaults -h 127.0.0.1 -P $MY_PORT -udms -p$DMS_TEST_PASSWORD wmm_raw")")
	t_wmm_dms=$(min "$t_wmm_dms" "$(my_once wmm_dms "" full "$(my_uri wsrc)" "$(my_uri wmm_dms)")")
	keep_peak
done
t_wm_pgl=$(once wm_pgl "" quiet pgloader --no-ssl-cert-verification "mysql://dms:$DMS_TEST_PASSWORD@127.0.0.1:$MY_PORT/wsrc" "postgresql://postgres:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/wm_pgl")
# dms-full-load puts a MySQL source database's tables in a schema of its name
for table in wm_raw.public.pgbench_accounts wm_dms.wsrc.pgbench_accounts; do
	[ "$(pg_sql "${table%%.*}" "SELECT count(*) FROM ${table#*.}")" = "$rows" ] ||
		{ echo "${table%%.*}: pgbench_accounts' row count differs" >&2; exit 1; }
done
for db in wp_raw wp_dms wmm_raw wmm_dms; do
	[ "$(my_sql "$db" "SELECT COUNT(*) FROM pgbench_accounts")" = "$rows" ] || { echo "$db: pgbench_accounts' row count differs" >&2; exit 1; }
done
report "whole database, MariaDB -> PG: mariadb -B | psql COPY, each table" "$t_wm_raw" "$rows"
report "whole database, MariaDB -> PG: pgloader (one run)" "$t_wm_pgl" "$rows"
report "whole database, MariaDB -> PG: dms-full-load -j $jobs" "$t_wm_dms" "$rows"
echo "   dms-full-load vs the raw pipes + keys: $(ratio "$t_wm_raw" "$t_wm_dms")x (target >= 1.0); vs pgloader: $(ratio "$t_wm_pgl" "$t_wm_dms")x (target >= 5)" | tee -a "$results"
report "whole database, PG -> MariaDB: psql COPY | LOAD DATA LOCAL, each table" "$t_wp_raw" "$rows"
report "whole database, PG -> MariaDB: dms-full-load -j $jobs" "$t_wp_dms" "$rows"
echo "   dms-full-load vs the raw pipes: $(ratio "$t_wp_raw" "$t_wp_dms")x (target >= 0.8)" | tee -a "$results"
report "whole database, MariaDB -> MariaDB: mariadb-dump | mariadb" "$t_wmm_raw" "$rows"
report "whole database, MariaDB -> MariaDB: dms-full-load -j $jobs" "$t_wmm_dms" "$rows"
echo "   dms-full-load vs mariadb-dump | mariadb: $(ratio "$t_wmm_raw" "$t_wmm_dms")x (target >= 0.8)" | tee -a "$results"
echo "   peak memory, the largest process of any dms-full-load run: $peak MiB (target < 64)" | tee -a "$results"
