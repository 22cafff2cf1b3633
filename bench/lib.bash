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
	trap 'servers_stop; rm -rf "$work"' EXIT
	servers_start pg my >/dev/null
	export PGPASSWORD=$DMS_TEST_PASSWORD
}
