# Helpers of the benchmark scripts (bench/*.sh source this file; bench/run
# runs only *.sh). Times are wall-clock seconds, as bc numbers.
# shellcheck shell=bash

# timed CMD...: the seconds CMD took
timed() {
	local s e
	s=$(date +%s.%N)
	"$@"
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}
# ratio A B: A / B, two decimals
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
# rate COUNT SECONDS: per second, whole
rate() { printf '%.0f' "$(echo "$1 / $2" | bc -l)"; }
# min BEST T: the smaller (BEST may be empty)
min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# mem FILE: /usr/bin/time's %M in FILE, as MiB
mem() { echo "$(($(cat "$1") / 1024))"; }

# bench_servers: throwaway PostgreSQL and MariaDB servers (tests/helpers/
# servers.bash), and $work, a temporary directory; both go at exit
bench_servers() {
	work=$(mktemp -d)
	chmod 755 "$work"
	TG_DIR=""
	trap 'bench_target_stop; servers_stop; rm -rf "$work"' EXIT
	servers_start pg my >/dev/null
	export PGPASSWORD=$DMS_TEST_PASSWORD
}

# bench_target: a second PostgreSQL server, for targets: its port in TG_PORT
# (PG_PORT stays the first's). A migration's source and target are separate
# servers; on one, each follower would also decode the WAL its own target
# writes, which no migration between servers does.
bench_target() {
	local dir=$PG_DIR port=$PG_PORT uri=$PG_URI
	pg_start pg-target >/dev/null || exit 1
	TG_DIR=$PG_DIR TG_PORT=$PG_PORT
	export TG_PORT
	PG_DIR=$dir PG_PORT=$port PG_URI=$uri
	export PG_DIR PG_PORT PG_URI
}
# shellcheck disable=SC2317 # called by the EXIT trap
bench_target_stop() {
	[ -z "${TG_DIR:-}" ] || PG_DIR=$TG_DIR pg_stop
}

# A database argument of the helpers below is NAME, on the first server, or
# NAME@PORT, on the server at PORT.
# bench_port DB: the port of DB's server
bench_port() {
	case $1 in
	*@*) echo "${1##*@}" ;;
	*) echo "$PG_PORT" ;;
	esac
}
# bench_sql DB SQL: pg_sql on DB's server
bench_sql() { PG_PORT=$(bench_port "$1") pg_sql "${1%@*}" "$2"; }
# bench_uri DB: DB's URI
bench_uri() { PG_PORT=$(bench_port "$1") pg_uri "${1%@*}"; }
# bench_conninfo DB: DB's libpq connection string
bench_conninfo() {
	echo "host=127.0.0.1 port=$(bench_port "$1") user=postgres password=$DMS_TEST_PASSWORD dbname=${1%@*}"
}

# bench_changes N DB...: $work/changes.dms, N row changes (dms-benchgen -c);
# $work/tables.dms, their tables, made in each PostgreSQL database DB (created);
# the settings $work/each.json (a target transaction for each source one) and
# $work/batch.json (batch apply)
bench_changes() {
	local n=$1 db
	shift
	dms-benchgen -c -n "$n" >"$work/changes.dms"
	dms-benchgen -c -n 0 >"$work/tables.dms"
	echo '{"ChangeProcessingTuning": {"MinTransactionSize": 1}}' >"$work/each.json"
	echo '{"TargetMetadata": {"BatchApplyEnabled": true}}' >"$work/batch.json"
	for db in "$@"; do
		bench_sql "postgres@$(bench_port "$db")" "CREATE DATABASE ${db%@*}" >/dev/null
		dms-load -q --task tables "$(bench_uri "$db")" <"$work/tables.dms"
	done
}

# bench_same SRC DB...: each PostgreSQL database DB has SRC's bench_* tables,
# row for row; otherwise the benchmark fails
bench_same() {
	local src=$1 t q want db
	shift
	for t in accounts orders events; do
		q="SELECT count(*), md5(string_agg(b::text, ',' ORDER BY id)) FROM bench_$t b"
		want=$(bench_sql "$src" "$q")
		for db in "$@"; do
			[ "$(bench_sql "$db" "$q")" = "$want" ] || { echo "bench_$t differs in $db" >&2; exit 1; }
		done
	done
}
