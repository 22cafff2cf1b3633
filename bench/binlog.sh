#!/usr/bin/env bash
# The MySQL/MariaDB binary log reader: BENCH_BINLOG_ROWS (default 1,000,000)
# rows of a mixed table (integers, DECIMAL, VARCHAR, TEXT, DATETIME(6),
# TIMESTAMP, ENUM, NULLs) written in transactions of 1,000 on a throwaway
# MariaDB, then read back from the server's binary log in the same run:
#   the decoder alone (dms-binlogfuzz -b: the file's row events decoded
#   into stream values again and again, no transport), target 1,000,000
#   rows/s;
#   dms-capture from the first row's position to the last's, to /dev/null
#   (the replication protocol, checksums, TABLE_MAPs, records);
#   the peer, mariadb-binlog --verbose over the same position range, which
#   decodes every row into pseudo-SQL, to /dev/null.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$root/bin/tools:$root/scripts:$PATH"
# shellcheck source=tests/helpers/servers.bash
. "$root/tests/helpers/servers.bash"
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

trap 'echo "bench/binlog.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
n=${BENCH_BINLOG_ROWS:-1000000}
bench_servers
pos() { my_sql "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }'; }

my_sql "CREATE DATABASE bl"
my_sql bl "CREATE TABLE mixed (id bigint PRIMARY KEY, qty int, price decimal(12,2), note varchar(100), body text,
	at datetime(6), ts timestamp NULL, kind enum('a','b','c'), flag tinyint unsigned)"
start=$(pos)
for ((k = 0; k < n; k += 1000)); do
	echo "INSERT INTO mixed SELECT seq, seq % 1000, seq / 7, concat('note ', seq), IF(seq % 10 = 0, NULL, repeat('x', seq % 200)),
		'2026-01-01' + INTERVAL seq SECOND, from_unixtime(1700000000 + seq), elt(1 + seq % 3, 'a', 'b', 'c'), seq % 256
		FROM seq_$((k + 1))_to_$((k + 1000 < n ? k + 1000 : n));"
done | mariadb --no-defaults --socket="$MY_SOCKET" -u"$MY_ADMIN" -D bl
stop=$(pos)
binlogs=("$MY_DIR"/data/binlog.[0-9]*)

decoder=$(dms-binlogfuzz -n 0 -b "$n" "${binlogs[@]}" | sed -n 's/.*: \([0-9]*\) rows\/s$/\1/p')
t_capture=$(timed sh -c "dms-capture -q --start '$start' --stop-at '$stop' '$(my_uri bl)' >/dev/null")
file=${start%:*} from=${start##*:} to=${stop##*:}
t_peer=$(timed sh -c "mariadb-binlog --no-defaults --verbose --base64-output=decode-rows --start-position=$from --stop-position=$to '$MY_DIR/data/$file' >/dev/null")

echo "MariaDB binary log, $n rows of a mixed table in transactions of 1,000:"
echo "   the row decoder alone:            $decoder rows/s (target >= 1000000)"
echo "   dms-capture to /dev/null:         $(printf '%.2f' "$t_capture") s, $(rate "$n" "$t_capture") rows/s"
echo "   mariadb-binlog --verbose:         $(printf '%.2f' "$t_peer") s, $(rate "$n" "$t_peer") rows/s; dms-capture $(ratio "$t_peer" "$t_capture")x it"
