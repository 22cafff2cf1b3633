#!/usr/bin/env bats
# dms-transform as a checking pass-through filter, its JSON view, LZ4, bad
# streams, pipes and signals. No database needed.

load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# The bytes of HELLO [0, 1, {}] and of END [12, {}].
hello() { printf '\x93\x00\x01\x80'; }
end() { printf '\x92\x0c\x80'; }

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr dms-transform --help
	assert_status 0
	assert_match '^usage: dms-transform' "$output"
	[ -z "$stderr" ]
}

@test "--version prints the version and exits 0" {
	run dms-transform --version
	assert_status 0
	assert_match '^dms-transform \(dms\) [0-9]+\.[0-9]+\.[0-9]+$' "$output"
}

@test "a bad option is a usage error: exit 2 and a pointer to --help" {
	run --separate-stderr dms-transform --no-such-option
	assert_status 2
	[ -z "$output" ]
	assert_match "Try 'dms-transform --help'" "$stderr"
	run --separate-stderr dms-transform --to-json --from-json
	assert_status 2
	run --separate-stderr dms-transform a b
	assert_status 2
	run --separate-stderr dms-transform -z --to-json
	assert_status 2
}

@test "every record kind survives stream -> JSON -> stream, byte for byte" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	dms-transform --to-json <a.dms >a.jsonl
	dms-transform --from-json a.jsonl >b.dms
	cmp a.dms b.dms
	diff "$FIXTURES/all-kinds.jsonl" a.jsonl
}

@test "every value type and edge value survives both round trips" {
	stream_of "$FIXTURES/types.jsonl" >t.dms
	dms-transform --to-json <t.dms >t.jsonl
	diff "$FIXTURES/types.jsonl" t.jsonl
	dms-transform --from-json t.jsonl | cmp - t.dms
	# the edge values are really there, in the form the JSON view promises
	grep -q -- '-9223372036854775808,0,0,0,0' t.jsonl
	grep -q '{"$u64":"18446744073709551615"}' t.jsonl
	grep -q '{"$f64":"NaN"}' t.jsonl
	grep -q '{"$f32":"Infinity"},{"$f64":"-Infinity"}' t.jsonl
	grep -q '"a\\u0000b\\tc\\nd\\re\\\\f\\"g"' t.jsonl
	grep -q '😀' t.jsonl
}

@test "the pass-through writes exactly the bytes it reads" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	run --separate-stderr bash -c 'dms-transform <a.dms | cmp - a.dms'
	assert_status 0
	[ -z "$stderr" ]
	stream_of "$FIXTURES/types.jsonl" >t.dms
	dms-transform t.dms | cmp - t.dms
}

@test "stdout holds only the stream, even with -v -v" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	run --separate-stderr dms-transform -v -v a.dms
	assert_status 0
	[ "$output" = "$(cat a.dms)" ]
	assert_match 'dms-transform\[[0-9]+\]: debug: 20 records' "$stderr"
}

@test "values of 1 MiB: a string, a binary with NUL bytes" {
	big=$(head -c 1048576 /dev/zero | tr '\0' 'x')
	bin=$(head -c 1048576 /dev/urandom | base64 -w0)
	{
		echo '{"kind":"HELLO","version":1,"attrs":{}}'
		echo '{"kind":"TABLE","tid":0,"schema":"s","name":"big","columns":[{"name":"c","type":"clob","nullable":true},{"name":"b","type":"blob","nullable":true}],"key":[],"attrs":{}}'
		echo "{\"kind\":\"ROW\",\"tid\":0,\"values\":[\"$big\",{\"\$bin\":\"$bin\"}]}"
		echo "{\"kind\":\"ROW\",\"tid\":0,\"values\":[\"\",{\"\$bin\":\"AAAA\"}]}"
		echo '{"kind":"END","attrs":{}}'
	} >big.jsonl
	dms-transform --from-json big.jsonl >big.dms
	[ "$(stat -c %s big.dms)" -gt 2097152 ]
	dms-transform <big.dms | dms-transform --to-json | diff big.jsonl -
	dms-transform -z <big.dms | dms-transform --to-json | diff big.jsonl -
}

@test "-z writes an LZ4 frame that lz4(1) reads, and LZ4 input is detected" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	dms-transform -z <a.dms >a.dms.lz4
	[ "$(head -c 4 a.dms.lz4 | od -An -tx1 | tr -d ' ')" = "04224d18" ]
	lz4 -dc a.dms.lz4 | cmp - a.dms
	lz4 -c a.dms | dms-transform | cmp - a.dms
	dms-transform <a.dms.lz4 | cmp - a.dms
	dms-transform --from-json -z "$FIXTURES/types.jsonl" | dms-transform --to-json | diff "$FIXTURES/types.jsonl" -
}

@test "a large stream streams through in bounded memory, compressed and not" {
	dms-benchgen -n 200000 >g.dms
	dms-transform -z <g.dms | dms-transform | cmp - g.dms
	# the reader's buffer does not grow with the input: well under 32 MiB resident
	/usr/bin/time -f '%M' -o rss dms-transform <g.dms >/dev/null
	[ "$(cat rss)" -lt 32768 ]
}

@test "a truncated stream: exit 5, the record named" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	size=$(stat -c %s a.dms)
	head -c $((size - 10)) a.dms >cut.dms
	run --separate-stderr dms-transform cut.dms
	assert_status 5
	assert_match 'truncated stream: record [0-9]+ is incomplete' "$stderr"
}

@test "a stream without its END: exit 5, the producer failed" {
	hello >noend.dms
	run --separate-stderr dms-transform noend.dms
	assert_status 5
	assert_match 'without an END record: the producer failed or was killed' "$stderr"
	: >empty.dms
	run --separate-stderr dms-transform empty.dms
	assert_status 5
	assert_match 'empty input' "$stderr"
}

@test "a truncated LZ4 frame: exit 5" {
	dms-benchgen -n 10000 -z >g.lz4
	head -c 20000 g.lz4 >cut.lz4
	run --separate-stderr dms-transform cut.lz4
	assert_status 5
	assert_match 'truncated LZ4 input' "$stderr"
	{ head -c 1000 g.lz4; head -c 3000 /dev/zero; } >corrupt.lz4
	run --separate-stderr dms-transform corrupt.lz4
	assert_status 5
}

@test "garbage bytes: exit 5, not a dms stream" {
	printf 'hello world, this is text\n' >text.dms
	run --separate-stderr dms-transform text.dms
	assert_status 5
	assert_match 'record 1' "$stderr"
	{ hello; printf '\xc1\xc1\xc1'; } >bad.dms
	run --separate-stderr dms-transform bad.dms
	assert_status 5
	assert_match 'record 2: .*not MessagePack' "$stderr"
	head -c 4096 /dev/urandom >random.dms
	run --separate-stderr dms-transform random.dms
	assert_status 5
}

@test "a stream that does not start with HELLO: exit 5" {
	end >nohello.dms
	run --separate-stderr dms-transform nohello.dms
	assert_status 5
	assert_match 'record 1 \(END\): the stream does not start with a HELLO' "$stderr"
}

@test "an unknown record kind: exit 5, the kind named" {
	{ hello; printf '\x92\x0e\x80'; end; } >kind.dms
	run --separate-stderr dms-transform kind.dms
	assert_status 5
	assert_match 'record 2: unknown record kind 14' "$stderr"
}

@test "a record with too few elements: exit 5" {
	{ hello; printf '\x92\x02\x00'; end; } >arity.dms
	run --separate-stderr dms-transform arity.dms
	assert_status 5
	assert_match 'record 2 \(ROW\): 2 elements, a ROW record has 3' "$stderr"
}

@test "elements past the known ones are carried through (later versions may append)" {
	{ printf '\x94\x00\x01\x80\xa5extra'; end; } >more.dms
	dms-transform <more.dms | cmp - more.dms
	dms-transform --to-json <more.dms | grep -q '"extra":\["extra"\]'
}

@test "a ROW for a table never defined: exit 5, the tid named" {
	{ hello; printf '\x93\x02\x05\x90'; end; } >undef.dms
	run --separate-stderr dms-transform undef.dms
	assert_status 5
	assert_match 'record 2 \(ROW\): table 5 is not defined' "$stderr"
}

@test "a stream version this program does not read: exit 5" {
	{ printf '\x93\x00\x02\x80'; end; } >v2.dms
	run --separate-stderr dms-transform v2.dms
	assert_status 5
	assert_match 'version' "$stderr"
}

@test "values that do not fit their column: exit 5 naming table, column and key" {
	base='{"kind":"HELLO","version":1,"attrs":{}}
{"kind":"TABLE","tid":0,"schema":"s","name":"t","columns":[{"name":"id","type":"int4","nullable":false},{"name":"small","type":"int2","nullable":true},{"name":"label","type":"string","nullable":false}],"key":[0],"attrs":{}}'
	printf '%s\n%s\n' "$base" '{"kind":"ROW","tid":0,"values":[7,100000,"x"]}' >range.jsonl
	run --separate-stderr dms-transform --from-json range.jsonl
	assert_status 5
	assert_match 'ROW of s\.t.*column small \(int2\): expected an integer in the type.s range, got int 100000 \(key id=7\)' "$stderr"
	assert_match 'line 3' "$stderr"
	printf '%s\n%s\n' "$base" '{"kind":"ROW","tid":0,"values":[8,1,42]}' >type.jsonl
	run --separate-stderr dms-transform --from-json type.jsonl
	assert_status 5
	assert_match 'column label \(string\): expected a str, got int 42 \(key id=8\)' "$stderr"
	printf '%s\n%s\n' "$base" '{"kind":"ROW","tid":0,"values":[9,1,null]}' >null.jsonl
	run --separate-stderr dms-transform --from-json null.jsonl
	assert_status 5
	assert_match 'column label is NOT NULL' "$stderr"
	printf '%s\n%s\n' "$base" '{"kind":"ROW","tid":0,"values":[9,{"$unchanged":true},"x"]}' >unch.jsonl
	run --separate-stderr dms-transform --from-json unch.jsonl
	assert_status 5
	assert_match 'UNCHANGED is only allowed in the new values of an UPDATE' "$stderr"
	printf '%s\n%s\n' "$base" '{"kind":"ROW","tid":0,"values":[9,1]}' >count.jsonl
	run --separate-stderr dms-transform --from-json count.jsonl
	assert_status 5
	assert_match '2 values for 3 columns' "$stderr"
}

@test "transaction structure is checked" {
	h='{"kind":"HELLO","version":1,"attrs":{}}'
	t='{"kind":"TABLE","tid":0,"schema":"s","name":"t","columns":[{"name":"id","type":"int4","nullable":false}],"key":[0],"attrs":{}}'
	printf '%s\n%s\n%s\n' "$h" "$t" '{"kind":"INSERT","tid":0,"new":[1]}' >notxn.jsonl
	run --separate-stderr dms-transform --from-json notxn.jsonl
	assert_status 5
	assert_match 'INSERT outside a transaction' "$stderr"
	printf '%s\n%s\n' "$h" '{"kind":"COMMIT","position":"0/1","time":null,"attrs":{}}' >nobegin.jsonl
	run --separate-stderr dms-transform --from-json nobegin.jsonl
	assert_status 5
	assert_match 'COMMIT without BEGIN' "$stderr"
	printf '%s\n%s\n%s\n' "$h" '{"kind":"BEGIN","xid":1,"position":null,"time":null}' '{"kind":"END","attrs":{}}' >openend.jsonl
	run --separate-stderr dms-transform --from-json openend.jsonl
	assert_status 5
	assert_match 'END inside an open transaction' "$stderr"
}

@test "invalid JSON lines: exit 5 naming the line and what was wrong" {
	printf '{"kind":"HELLO","version":1,"attrs":{}}\n{"kind":\n' >broken.jsonl
	run --separate-stderr dms-transform --from-json broken.jsonl
	assert_status 5
	assert_match 'line 2: invalid JSON' "$stderr"
	printf '{"kind":"HELLO","version":1,"attrs":{},"bogus":1}\n' >field.jsonl
	run --separate-stderr dms-transform --from-json field.jsonl
	assert_status 5
	assert_match 'line 1: HELLO: unknown field "bogus"' "$stderr"
	printf '{"kind":"NOPE"}\n' >kind.jsonl
	run --separate-stderr dms-transform --from-json kind.jsonl
	assert_status 5
	assert_match 'unknown kind "NOPE"' "$stderr"
	printf '{"kind":"HELLO","version":1,"attrs":{"t":{"$ts":"yesterday"}}}\n' >ts.jsonl
	run --separate-stderr dms-transform --from-json ts.jsonl
	assert_status 5
	assert_match '\$ts: expected' "$stderr"
	printf '{"kind":"HELLO","version":1,"attrs":{"b":{"$bin":"***"}}}\n' >b64.jsonl
	run --separate-stderr dms-transform --from-json b64.jsonl
	assert_status 5
	assert_match 'invalid base64' "$stderr"
	printf '{"kind":"HELLO","version":1,"attrs":{}}\n' >noend.jsonl
	run --separate-stderr dms-transform --from-json noend.jsonl
	assert_status 5
	assert_match 'without an END record' "$stderr"
}

@test "an input file that cannot be opened: exit 5" {
	run --separate-stderr dms-transform /nonexistent/stream
	assert_status 5
	assert_match 'cannot open /nonexistent/stream' "$stderr"
}

@test "a binary stream is not written to a terminal" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	run script -qec "dms-transform a.dms; echo status=\$?" /dev/null
	assert_match 'refusing to write a binary stream to a terminal' "$output"
	assert_match 'status=2' "$output"
	run script -qec "dms-transform --to-json a.dms >/dev/null; echo status=\$?" /dev/null
	assert_match 'status=0' "$output"
}

@test "a closed downstream pipe ends the filter quietly with status 6" {
	dms-benchgen -n 300000 >g.dms
	run bash -c 'dms-transform <g.dms 2>err | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = 6 ]
	[ ! -s err ]
	run bash -c 'dms-transform --to-json <g.dms 2>err | head -n 2 >/dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = 6 ]
	[ ! -s err ]
}

@test "an output that cannot be written is an error: exit 6" {
	stream_of "$FIXTURES/all-kinds.jsonl" >a.dms
	run --separate-stderr bash -c 'dms-transform a.dms >/dev/full'
	assert_status 6
	assert_match 'cannot write to stdout' "$stderr"
}

# TERM in a transaction: the transaction is finished, then the stream ends
# with END {stopped: true} and the filter exits 0.
@test "TERM drains: the open transaction is finished, then a clean END" {
	stream_of "$FIXTURES/all-kinds.jsonl" >all.dms
	head -n 9 "$FIXTURES/all-kinds.jsonl" >first.jsonl
	cut=$(dms-transform --from-json first.jsonl 2>/dev/null | wc -c)
	head -c "$cut" all.dms >part1
	tail -c +"$((cut + 1))" all.dms >part2
	mkfifo in
	dms-transform <in >out 2>err &
	pid=$!
	exec 5>in
	cat part1 >&5
	# TERM once its handler is set (SigCgt has bit 15), wherever it is in part1
	term_caught() { (( 0x$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status") & 0x4000 )); }
	wait_for "dms-transform's TERM handler" term_caught
	kill -TERM "$pid"
	# the transaction is open: it reads on (a write to a reader gone would fail)
	cat part2 >&5
	exec 5>&-
	wait "$pid"
	dms-transform --to-json <out >out.jsonl
	[ "$(grep -c '"kind":"COMMIT"' out.jsonl)" = 1 ]
	tail -n 1 out.jsonl | grep -q '{"kind":"END","attrs":{"stopped":true,"records":14}}'
	grep -q 'stopping at a transaction boundary' err || [ ! -s err ]
}

@test "QUIT stops at once with status 1" {
	mkfifo in
	dms-transform <in >out 2>err &
	pid=$!
	exec 5>in
	hello >&5
	sleep 0.3
	kill -QUIT "$pid"
	st=0
	wait "$pid" || st=$?
	exec 5>&-
	[ "$st" = 1 ]
	grep -q 'stopped by SIGQUIT' err
}

@test "--needed says whether mappings change what dms-extract -m reads: transformations and lob-settings do, selection, filters and parallel-load do not" {
	sel='{"rule-type": "selection", "rule-id": "1", "rule-name": "s", "rule-action": "include", "object-locator": {"schema-name": "public", "table-name": "%"},
	      "filters": [{"filter-type": "source", "column-name": "id", "filter-conditions": [{"filter-operator": "gte", "value": "5"}]}]}'
	echo "{\"rules\": [$sel]}" >sel.json
	echo "{\"rules\": [$sel, {\"rule-type\": \"table-settings\", \"rule-id\": \"2\", \"rule-name\": \"p\", \"object-locator\": {\"schema-name\": \"public\", \"table-name\": \"t\"},
	      \"parallel-load\": {\"type\": \"ranges\", \"columns\": [\"id\"], \"boundaries\": [[\"10\"]]}}]}" >par.json
	echo "{\"rules\": [$sel, {\"rule-type\": \"table-settings\", \"rule-id\": \"2\", \"rule-name\": \"l\", \"object-locator\": {\"schema-name\": \"public\", \"table-name\": \"t\"},
	      \"lob-settings\": {\"mode\": \"limited\", \"bulk-max-size\": \"16\"}}]}" >lob.json
	echo "{\"rules\": [$sel, {\"rule-type\": \"transformation\", \"rule-id\": \"2\", \"rule-name\": \"r\", \"rule-action\": \"rename\", \"rule-target\": \"table\",
	      \"object-locator\": {\"schema-name\": \"public\", \"table-name\": \"t\"}, \"value\": \"u\"}]}" >tr.json
	for f in sel par lob tr; do
		run --separate-stderr dms-transform -m $f.json --needed
		assert_status 0
		printf '%s %s\n' "$f" "$output" >>said
	done
	expect "what each needs" "sel no
par no
lob yes
tr yes" "$(cat said)"
	echo '{"rules": [{"rule-type": "selection"}]}' >bad.json
	run --separate-stderr dms-transform -m bad.json --needed
	assert_status 2
	run --separate-stderr dms-transform --needed
	assert_status 2
	assert_match "--needed takes -m mappings.json and nothing else" "$stderr"
}
