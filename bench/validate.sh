#!/usr/bin/env bash
# The validation benchmark: dms-validate on the table it compares, against the
# full load of that table, in the same run, on throwaway servers.
#   pgbench_accounts (BENCH_SCALE x 100000 rows, default 5 million),
#   PostgreSQL -> PostgreSQL and MariaDB -> PostgreSQL: the full load
#   (dms-full-load, with its keys), then dms-validate of the equal tables, then
#   dms-validate after 100 scattered differences were seeded on the target
#   (changed values, deleted rows, inserted rows), which must all be found.
# Each timing is the best of BENCH_ROUNDS (default 3): the machine is shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

scale=${BENCH_SCALE:-50}
rounds=${BENCH_ROUNDS:-3}
rows=$((scale * 100000))
bench_servers


echo "setting up: pgbench_accounts, $rows rows"
pg_sql postgres "CREATE DATABASE src"
"$PG_BIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$PG_PORT" -U postgres src >/dev/null 2>&1
pg_sql src "VACUUM ANALYZE"
map=$work/one.json
printf '{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"t","rule-action":"explicit","object-locator":{"schema-name":"%s","table-name":"pgbench_accounts"}}]}' public >"$map"
my_sql "CREATE DATABASE src"
dms-extract -q -m "$map" "$(pg_uri src)" | dms-load -q "$(my_uri src)"
mymap=$work/my.json
sed 's/"public"/"src"/' "$map" >"$mymap"

# seed DB SCHEMA: 100 differences spread over the table: 40 changed balances,
# 30 rows deleted, 30 rows inserted beyond and between the keys.
seed() {
	pg_sql "$1" "UPDATE $2.pgbench_accounts SET abalance = abalance + 1 WHERE aid IN
		(SELECT 1 + (g * 122949) % $rows FROM generate_series(1, 40) g);
		DELETE FROM $2.pgbench_accounts WHERE aid IN (SELECT 7 + (g * 163979) % ($rows - 10) FROM generate_series(1, 30) g);
		INSERT INTO $2.pgbench_accounts SELECT $rows + g, 1, 0, '' FROM generate_series(1, 30) g"
}

results=$work/results
: >"$results"
line() { printf '%-62s %8.2f s %10s rows/s\n' "$1" "$2" "$(rate "$rows" "$2")" | tee -a "$results"; }

bench_pair() {
	local name=$1 src=$2 dbmap=$3 schema=$4 t_load="" t_eq="" t_diff="" n
	echo "== $name, pgbench_accounts ($rows rows)"
	for _ in $(seq 1 "$rounds"); do
		pg_sql postgres "DROP DATABASE IF EXISTS dst" >/dev/null 2>&1
		pg_sql postgres "CREATE DATABASE dst"
		t_load=$(min "$t_load" "$(timed dms-full-load -q -j 2 -m "$dbmap" "$src" "$(pg_uri dst)")")
		t_eq=$(min "$t_eq" "$(timed dms-validate -q -m "$dbmap" "$src" "$(pg_uri dst)")")
	done
	dms-validate -q -m "$dbmap" "$src" "$(pg_uri dst)" || { echo "   equal tables did not validate equal" >&2; return 1; }
	seed dst "$schema"
	for _ in $(seq 1 "$rounds"); do
		t_diff=$(min "$t_diff" "$(timed bash -c "dms-validate -q -m '$dbmap' '$src' '$(pg_uri dst)' >'$work/failures'; [ \$? -eq 1 ]")")
	done
	n=$(wc -l <"$work/failures")
	line "dms-full-load -j 2 (with keys)" "$t_load"
	line "dms-validate, equal" "$t_eq"
	line "dms-validate, 100 differences seeded" "$t_diff"
	printf '   validation (equal) takes %sx the time of the full load (target < 1.0)\n' "$(ratio "$t_eq" "$t_load")" | tee -a "$results"
	printf '   differences found: %s of 100 (RECORD_DIFF %s, MISSING_TARGET %s, MISSING_SOURCE %s)\n' "$n" \
		"$(grep -c RECORD_DIFF "$work/failures")" "$(grep -c MISSING_TARGET "$work/failures")" \
		"$(grep -c MISSING_SOURCE "$work/failures")" | tee -a "$results"
	[ "$n" -eq 100 ] || { echo "   NOT every seeded difference was found" >&2; return 1; }
}

bench_pair "PostgreSQL -> PostgreSQL" "$(pg_uri src)" "$map" public
bench_pair "MariaDB -> PostgreSQL" "$(my_uri src)" "$mymap" src

echo
echo "== summary"
cat "$results"
