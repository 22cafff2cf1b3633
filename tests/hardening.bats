#!/usr/bin/env bats
# Hostile input and a hostile machine: corrupt records, TABLE attrs of the
# wrong shape, passwords in ps, names with any byte, full disks, bad URIs,
# closed pipes; and a short fixed-seed pass of the fuzz harness.

load helpers/common
load helpers/servers

setup_file() {
	servers_start pg my
	pg_sql postgres "CREATE DATABASE hsrc" >/dev/null
	pg_sql hsrc "CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 200000) g;" >/dev/null
}

teardown_file() {
	servers_stop
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

CORPUS="$DMS_ROOT/tests/fuzz/corpus/stream"

@test "a ROW whose string claims bytes past the end: exit 5 with the column and key, in dms-transform and dms-load" {
	run --separate-stderr dms-transform <"$CORPUS/row-str32-past-end.dms"
	assert_status 5
	assert_match 'ROW of public.t.*column a \(int4\): expected an integer.*\(key id=1\)' "$stderr"
	run --separate-stderr dms-transform -m "$DMS_ROOT/tests/fuzz/mapping.json" <"$CORPUS/row-str32-past-end.dms"
	assert_status 5
	pg_sql postgres "CREATE DATABASE hrow" >/dev/null
	run --separate-stderr dms-load "$(pg_uri hrow)" <"$CORPUS/row-str32-past-end.dms"
	assert_status 5
	assert_match 'column a \(int4\)' "$stderr"
	[ "$(pg_sql hrow "SELECT count(*) FROM public.t")" = 0 ]
}

@test "TABLE attrs of the wrong shape are a malformed stream for every reader (exit 5), never a crash or a hang" {
	check() {
		local file=$1 why=$2
		run --separate-stderr dms-transform <"$CORPUS/$file"
		assert_status 5
		assert_match "record 2 \\(TABLE of s.t\\): attrs: $why" "$stderr"
		run --separate-stderr dms-transform -m "$DMS_ROOT/tests/fuzz/mapping.json" <"$CORPUS/$file"
		assert_status 5
		run --separate-stderr dms-transform --to-json <"$CORPUS/$file"
		assert_status 5
		run --separate-stderr dms-load "$(my_uri hattrs)" <"$CORPUS/$file"
		assert_status 5
		assert_match "attrs: $why" "$stderr"
	}
	my_sql "CREATE DATABASE hattrs"
	check attrs-indexes-true.dms 'indexes: expected an array, got bool'
	check attrs-fkeys-float.dms 'foreign_keys: expected an array, got float32'
	check attrs-index-column-out-of-range.dms 'columns: element 1 is not a column index below 1'
	[ "$(my_sql hattrs "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'hattrs'")" = 0 ]
}

@test "values and attrs nested a thousand deep: exit 5 naming the limit, in the checker and the JSON writer" {
	run --separate-stderr dms-transform --to-json <"$CORPUS/hello-nested-deep.dms"
	assert_status 5
	assert_match 'record 1 \(HELLO\): attrs: .*nested more than 32 deep' "$stderr"
	run --separate-stderr dms-transform <"$CORPUS/hello-nested-deep.dms"
	assert_status 5
}

@test "the fuzz harness: a short fixed-seed pass over every target finds nothing" {
	[ -x "$DMS_ROOT/build/fuzz/bin/dms-transform" ] || skip "no sanitized build (make fuzz-build)"
	FUZZ_FINDINGS=$BATS_TEST_TMPDIR/findings run "$DMS_ROOT/tests/fuzz/run" -s 1 -n 60
	assert_status 0
	targets=6
	[ ! -x "$DMS_ROOT/build/libfuzzer/bin/libfuzzer-stream" ] || targets=9
	[ "$(echo "$output" | grep -c '^fuzz .*: [1-9][0-9]* runs, 0 findings$')" = "$targets" ]
}

@test "the fuzz driver reports a crash, a hang and an undocumented status, and repeats a run exactly" {
	mkdir corpus
	printf 'seed' >corpus/a
	printf '#!/bin/sh\ncase $(cat) in *x*) kill -SEGV $$ ;; esac\nexit 0\n' >crashy
	printf '#!/bin/sh\nexec sleep 5\n' >sleepy
	printf '#!/bin/sh\nexit 3\n' >status3
	chmod +x crashy sleepy status3
	run dms-fuzz -n 0 -c corpus -- ./status3
	assert_status 1
	assert_match 'exit status 3' "$output"
	run dms-fuzz -n 0 -t 200 -c corpus -- ./sleepy
	assert_status 1
	assert_match 'hang over \(ms\) 200' "$output"
	printf 'x' >corpus/b
	run dms-fuzz -n 0 -c corpus -- ./crashy
	assert_status 1
	assert_match 'crash, signal 11' "$output"
	run dms-fuzz -s 3 -n 40 -o out1 -c corpus -- ./crashy
	first=$output
	run dms-fuzz -s 3 -n 40 -o out2 -c corpus -- ./crashy
	[ "$output" = "${first//out1/out2}" ]
}

@test "passwords never reach ps: the script's own arguments, its children's, @file URIs" {
	pg_sql hsrc "CREATE ROLE secuser LOGIN SUPERUSER PASSWORD 'S3cretPW-42x'" >/dev/null
	pg_sql postgres "CREATE DATABASE hps1" >/dev/null
	pg_sql postgres "CREATE DATABASE hps2" >/dev/null
	src="postgresql://secuser:S3cretPW-42x@127.0.0.1:$PG_PORT/hsrc"
	# sample ps until the load ends; a child must have been seen while it ran
	sample() {
		: >ps.txt
		"$@" &
		local pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			ps -eo args >>ps.txt
		done
		wait "$pid"
	}
	sample dms-full-load -q "$src" "postgresql://secuser:S3cretPW-42x@127.0.0.1:$PG_PORT/hps1"
	[ "$(pg_sql hps1 "SELECT count(*) FROM public.t")" = 200000 ]
	grep -q '^dms-extract\|^dms-load' ps.txt
	! grep -q 'S3cretPW' ps.txt
	# @file URIs: nothing to hide from the start
	printf '%s\n' "$src" >src.uri
	printf 'postgresql://secuser:S3cretPW-42x@127.0.0.1:%s/hps2\n' "$PG_PORT" >dst.uri
	chmod 600 src.uri dst.uri
	sample dms-full-load -q @src.uri @dst.uri
	[ "$(pg_sql hps2 "SELECT count(*) FROM public.t")" = 200000 ]
	! grep -q 'S3cretPW' ps.txt
	# dms-migrate: its own arguments, and those of its capture, full load and apply
	pg_sql postgres "CREATE DATABASE hps3" >/dev/null
	lsn=$(pg_sql hsrc "SELECT pg_current_wal_insert_lsn()")
	sample dms-migrate -q --task hps --spool hps.spool --stop-at "$lsn" "$src" \
		"postgresql://secuser:S3cretPW-42x@127.0.0.1:$PG_PORT/hps3"
	[ "$(pg_sql hps3 "SELECT count(*) FROM public.t")" = 200000 ]
	grep -q '^dms-capture' ps.txt
	! grep -q 'S3cretPW' ps.txt
	dms-capture --task hps --drop-slot "$src"
	# a program given a password in argv overwrites it in place
	mkfifo holder
	dms-extract --export-snapshot "$src?application_name=x&password=S3cretPW-42x" <holder >snap &
	pid=$!
	exec 7>holder
	while [ ! -s snap ] && kill -0 "$pid" 2>/dev/null; do :; done
	args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	exec 7>&-
	wait "$pid"
	[[ $args == *"secuser:xxxxxxxxxxxx@"* ]]
	[[ $args == *"password=xxxxxxxxxxxx"* ]]
	[[ $args != *S3cretPW* ]]
}

@test "names with a newline, a tab, a quote and a backslash: loaded, rerun, summarised, into both engines" {
	pg_sql postgres "CREATE DATABASE hnames" >/dev/null
	pg_sql hnames "CREATE SCHEMA \"we\"\"ird
sch\";
		CREATE TABLE \"we\"\"ird
sch\".\"ta	b\\le
x\" (\"c\"\"ol
1\" int PRIMARY KEY, \"x	y\" text);
		INSERT INTO \"we\"\"ird
sch\".\"ta	b\\le
x\" VALUES (1, 'one'), (2, 'two');" >/dev/null
	pg_sql postgres "CREATE DATABASE hnames_dst" >/dev/null
	run --separate-stderr dms-full-load "$(pg_uri hnames)" "$(pg_uri hnames_dst)"
	assert_status 0
	assert_match 'we"ird\\nsch\.ta\\tb\\\\le\\nx +2 ' "$stderr"
	[ "$(pg_sql hnames_dst "SELECT string_agg(\"x	y\", ',' ORDER BY \"c\"\"ol
1\") FROM \"we\"\"ird
sch\".\"ta	b\\le
x\"")" = "one,two" ]
	run --separate-stderr dms-full-load "$(pg_uri hnames)" "$(pg_uri hnames_dst)"
	assert_status 0
	run --separate-stderr dms-extract --list "$(pg_uri hnames)"
	assert_status 0
	[ "${#lines[@]}" = 1 ]
	[ "$(echo "$output" | cut -f1)" = 1.1 ]
	[ "$(echo "$output" | cut -f2)" = 'we"ird\nsch' ]
	[ "$(echo "$output" | cut -f3)" = 'ta\tb\\le\nx' ]
	[ "$(echo "$output" | cut -f4)" = 1/1 ]
	my_sql "CREATE DATABASE hnames_my"
	run --separate-stderr dms-full-load "$(pg_uri hnames)" "$(my_uri hnames_my)"
	assert_status 0
	[ "$(my_sql hnames_my "SELECT count(*) FROM \`ta	b\\le
x\`")" = 2 ]
}

@test "a malformed URI is a usage error (exit 2) naming what is wrong, in every program" {
	for uri in "postgresql://u:pw@127.0.0.1:99999/x" "postgresql://u:pw@127.0.0.1:5432/x%zz" "mysql://u:pw@[::1/db"; do
		run --separate-stderr dms-extract --list "$uri"
		assert_status 2
		assert_match 'malformed URI: (the port is not a number from 1 to 65535|a % not followed by two hexadecimal digits|a \[ without \])' "$stderr"
		[[ $stderr != *pw@* ]]
		run --separate-stderr dms-load "$uri" </dev/null
		assert_status 2
		run --separate-stderr dms-validate "$uri" "$uri"
		assert_status 2
		run --separate-stderr dms-full-load "$uri" "$(pg_uri hsrc)"
		assert_status 2
	done
	run --separate-stderr dms-load @/nonexistent/uri </dev/null
	assert_status 2
	assert_match '/nonexistent/uri: cannot read the URI' "$stderr"
}

@test "local disk failures are named as local (exit 6), never blamed on a database, and never summarised as 0 rows" {
	mkdir full
	mount -t tmpfs -o size=64k tmpfs full || skip "cannot mount a tmpfs here"
	# leaves $1 KiB free; dd fails when it fills the disk to the last byte, so check df instead
	fill() {
		rm -f full/fill
		dd if=/dev/zero of=full/fill bs=1k count=$((64 - $1)) 2>/dev/null || [ $? -eq 1 ]
		[ "$(df -k --output=avail full | tail -n 1 | tr -d ' ')" -le "$1" ]
	}
	pg_sql postgres "CREATE DATABASE hdisk" >/dev/null
	for free in 0 8 12 16; do
		fill "$free"
		TMPDIR=$PWD/full run --separate-stderr dms-full-load "$(pg_uri hsrc)" "$(pg_uri hdisk)"
		umount_on_fail() { umount full; }
		[ "$status" = 6 ] || { umount_on_fail; assert_status 6; }
		[[ $stderr == *"local disk"* ]] || { umount_on_fail; false; }
		[[ $stderr != *"could not export a snapshot"* ]] || { umount_on_fail; false; }
		[[ $stderr != *"total (wall clock)"* ]] || { umount_on_fail; false; }
	done
	umount full
	# the report file of dms-load
	pg_sql postgres "CREATE DATABASE hreport" >/dev/null
	run --separate-stderr bash -o pipefail -c "dms-extract --part 1.1 '$(pg_uri hsrc)' | dms-load --report /dev/full '$(pg_uri hreport)'"
	assert_status 6
	assert_match '/dev/full: cannot write the report \(a local file; the part itself is loaded\)' "$stderr"
	[ "$(pg_sql hreport "SELECT count(*) FROM public.t")" = 200000 ]
}

@test "a closed downstream pipe ends every producer quietly with status 6" {
	run bash -c "dms-extract '$(pg_uri hsrc)' 2>err1 | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}"
	[ "$output" = 6 ]
	[ ! -s err1 ]
	dms-extract "$(pg_uri hsrc)" >big.dms
	run bash -c "dms-transform <big.dms 2>err2 | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}"
	[ "$output" = 6 ]
	[ ! -s err2 ]
	run bash -c "dms-transform --to-json <big.dms 2>err3 | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}"
	[ "$output" = 6 ]
	[ ! -s err3 ]
}

@test "a MySQL server cannot read this machine's files: LOAD DATA LOCAL is off but for dms-load's own rows, and a request for a file is refused" {
	my_sql "CREATE DATABASE li; CREATE TABLE li.t (s text)"
	echo "not for the server" >secret.txt
	chmod 644 secret.txt
	run --separate-stderr dms-conncheck "$(my_uri li)" "LOAD DATA LOCAL INFILE '$PWD/secret.txt' INTO TABLE t"
	assert_status 1
	assert_match "disabled the local infile capability" "$stderr"
	# connected as dms-load's target is (LOAD DATA LOCAL of its rows), no rows at hand
	run --separate-stderr dms-conncheck --rows "$(my_uri li)" "LOAD DATA LOCAL INFILE '$PWD/secret.txt' INTO TABLE t"
	assert_status 1
	assert_match "the server asked for a local file: dms sends none" "$stderr"
	expect "nothing of the file on the server" 0 "$(my_sql li "SELECT COUNT(*) FROM t")"
}
