#!/usr/bin/env bats
# Unit checks of common/: positions compared per engine, URI parsing and
# password masking, base64, the MessagePack reader's edge cases.

load helpers/common

@test "positions: PostgreSQL LSNs and MySQL binlog positions compare per engine" {
	run dms-unit positions
	assert_status 0
}

@test "URIs: parsing, percent-decoding, password masking" {
	run dms-unit uris
	assert_status 0
}

@test "base64 encodes and decodes RFC 4648 vectors, refuses bad input" {
	run dms-unit base64
	assert_status 0
}

@test "the MessagePack reader: integer limits, nesting, truncation, timestamps" {
	run dms-unit msgpack
	assert_status 0
}

@test "floats for PostgreSQL as hexadecimal constants read back exactly" {
	run dms-unit hexfloats
	assert_status 0
}

@test "SHA-256 gives the FIPS 180-4 test vectors" {
	run dms-unit sha256
	assert_status 0
}

@test "MySQL 8's binary JSON decodes from golden bytes built from its documented format (objects, arrays, scalars, escapes, opaque DECIMAL and temporal values); malformed, cut short or too deeply nested values are errors, and 100,000 mutated ones never crash under AddressSanitizer" {
	run dms-unit binjson
	assert_status 0
	run "$DMS_ROOT/build/fuzz/bin/tools/dms-unit" binjson
	assert_status 0
}

@test "the binary log's temporal forms from before MySQL 5.6 (TIMESTAMP, TIME, DATETIME) and a MySQL 8 JSON column decode from golden bytes; cut short, they are errors" {
	run dms-unit binlogold
	assert_status 0
}

@test "MySQL 8's events from golden bytes: a zstd TRANSACTION_PAYLOAD (BEGIN, TABLE_MAP with optional metadata, v2 WRITE, UPDATE, PARTIAL_UPDATE and DELETE rows, XID) and uncompressed; JSON values updated in part (REPLACE, INSERT, REMOVE diffs) applied to the before image's document, diffs that do not apply are errors; HEARTBEAT_V2; broken payloads are errors, also under AddressSanitizer" {
	run dms-unit mysql8
	assert_status 0
	run "$DMS_ROOT/build/fuzz/bin/tools/dms-unit" mysql8
	assert_status 0
}

@test "an unknown group runs nothing and is an error (exit 2), naming the groups" {
	run --separate-stderr dms-unit nosuchgroup
	assert_status 2
	assert_match 'no group "nosuchgroup"; the groups are: positions uris' "$stderr"
}
