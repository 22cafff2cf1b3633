#!/usr/bin/env bash
# The stream benchmark: N records (default 10 million) of a realistic mixed row
# through dms-transform's checking pass-through, beside cat(1) moving the same
# bytes through the same pipeline shape. Best of 3 runs each.
set -euo pipefail
n=${BENCH_RECORDS:-10000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

dms-benchgen -n "$n" >"$dir/stream.dms"
dms-benchgen -n "$n" -z >"$dir/stream.dms.lz4"
bytes=$(stat -c %s "$dir/stream.dms")

# best of three: seconds of a pipeline
best() {
	local b="" t s e
	for _ in 1 2 3; do
		s=$(date +%s.%N)
		bash -o pipefail -c "$1"
		e=$(date +%s.%N)
		t=$(echo "$e - $s" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}

row() {
	printf '%-34s %8.3f s %12.0f rec/s %9.1f MB/s\n' "$1" "$2" \
		"$(echo "$n / $2" | bc -l)" "$(echo "$bytes / $2 / 1000000" | bc -l)"
}

# mappings for dms-transform -m: (a) no rule touches the table, (b) a rename
# and a remove-column, (c) an add-column with an expression
sel='{"rule-type": "selection", "rule-id": "1", "rule-name": "all", "rule-action": "include", "object-locator": {"schema-name": "%", "table-name": "%"}}'
loc='"object-locator": {"schema-name": "public", "table-name": "orders"'
printf '{"rules": [%s, {"rule-type": "transformation", "rule-id": "2", "rule-name": "o", "rule-action": "rename", "rule-target": "column", "object-locator": {"schema-name": "public", "table-name": "customers", "column-name": "x"}, "value": "y"}]}' "$sel" >"$dir/a.json"
printf '{"rules": [%s, {"rule-type": "transformation", "rule-id": "2", "rule-name": "r", "rule-action": "rename", "rule-target": "column", %s, "column-name": "status"}, "value": "state"}, {"rule-type": "transformation", "rule-id": "3", "rule-name": "x", "rule-action": "remove-column", "rule-target": "column", %s, "column-name": "note"}}]}' "$sel" "$loc" "$loc" >"$dir/b.json"
# shellcheck disable=SC2016 # $status is a DMS column reference, not shell
printf '{"rules": [%s, {"rule-type": "transformation", "rule-id": "2", "rule-name": "a", "rule-action": "add-column", "rule-target": "column", %s}, "value": "label", "expression": "$status || %s || $customer_id", "data-type": {"type": "string", "length": 40}}]}' "$sel" "$loc" "'-'" >"$dir/c.json"

f=$dir/stream.dms
t_cat=$(best "cat <$f | cat >/dev/null")
t_pass=$(best "cat <$f | dms-transform | cat >/dev/null")
t_lz4in=$(best "cat <$f.lz4 | dms-transform | cat >/dev/null")
t_json=$(best "cat <$f | dms-transform --to-json | cat >/dev/null")
t_ma=$(best "cat <$f | dms-transform -m $dir/a.json | cat >/dev/null")
t_mb=$(best "cat <$f | dms-transform -m $dir/b.json | cat >/dev/null")
t_mc=$(best "cat <$f | dms-transform -m $dir/c.json | cat >/dev/null")

echo "records: $n, stream: $((bytes / 1000000)) MB ($(($(stat -c %s "$f.lz4") / 1000000)) MB as LZ4)"
row "cat | cat" "$t_cat"
row "cat | dms-transform" "$t_pass"
row "cat lz4 | dms-transform" "$t_lz4in"
row "cat | dms-transform --to-json" "$t_json"
row "dms-transform -m (a: no rule on it)" "$t_ma"
row "dms-transform -m (b: rename, remove)" "$t_mb"
row "dms-transform -m (c: add-column expr)" "$t_mc"
target() { [ "$(echo "$n / $1 >= $2" | bc -l)" = 1 ] && echo met || echo NOT met; }
echo "mapping targets: (a) >= 5000000 rec/s: $(target "$t_ma" 5000000); (b) >= 2000000: $(target "$t_mb" 2000000); (c) >= 500000: $(target "$t_mc" 500000)"
printf 'dms-transform pass-through: %.2fx the time of cat; target >= 5000000 rec/s: %s\n' \
	"$(echo "$t_pass / $t_cat" | bc -l)" \
	"$([ "$(echo "$n / $t_pass >= 5000000" | bc -l)" = 1 ] && echo met || echo NOT met)"
