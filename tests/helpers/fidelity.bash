# The type-fidelity fixtures: a PostgreSQL table and a MySQL table with every
# common type, edge values, NULLs, empty strings, unicode and binary with NUL
# bytes. Loaded by tests/full-load.bats.
# shellcheck shell=bash

fidelity_pg_source() {
	pg_sql postgres "CREATE DATABASE $1" >/dev/null
	pg_sql "$1" "
	CREATE TABLE pgtypes (
		id int PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint,
		n numeric(20,6), nn numeric, r4 real, r8 double precision,
		vc varchar(50), ch char(5), tx text, by bytea, d date, t time(6),
		ts timestamp(6), tz timestamptz(6), j jsonb, js json, u uuid, iv interval, arr int[]);
	INSERT INTO pgtypes VALUES
	(1, true, -32768, -2147483648, -9223372036854775808, -12345678901234.123456,
	 3.14159265358979, 3.14159274, 0.1, 'héllo ✓ 😀', 'ab', E'multi\nline\ttab\\\\back',
	 '\\x00ff00', '0001-01-01', '00:00:00', '1970-01-01 00:00:00', '2000-01-01 00:00:00.000001+00',
	 '{\"a\": [1, 2.5, null]}', '{\"k\": \"v\"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '1 year 2 mons 3 days 04:05:06.789', '{1,2,3}'),
	(2, false, 32767, 2147483647, 9223372036854775807, 99999999999999.999999,
	 0, -1.5, 123456.789, '', '', '', '\\x', '9999-12-31', '23:59:59.999999',
	 '9999-12-31 23:59:59.999999', '2038-01-19 03:14:08+00', '{}', '[]',
	 '00000000-0000-0000-0000-000000000000', '-1 days', '{}'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
}

fidelity_my_source() {
	my_sql "CREATE DATABASE $1"
	my_sql "$1" "
	CREATE TABLE mytypes (
		id int PRIMARY KEY, ti tinyint(1), si smallint, mi mediumint, iu int unsigned,
		bu bigint unsigned, de decimal(12,4), fl float, db double, vc varchar(50),
		ch char(5), tx text, bl blob, vb varbinary(10), d date, dt datetime(6),
		ts timestamp(3) NULL, tm time, yr year, en enum('a','b'), st set('x','y'),
		js json, bt bit(5));
	INSERT INTO mytypes VALUES
	(1, 1, -32768, -8388608, 4294967295, 18446744073709551615, -12.3400, 3.14159274, 0.1,
	 'héllo ✓ 😀', 'abc', 'multi\nline\ttab\\\\back', x'00ff00', x'000a', '2024-02-29',
	 '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123', '12:34:56', 2024, 'b', 'x,y',
	 '{\"a\": [1, 2]}', b'10101'),
	(2, 0, 32767, 8388607, 0, 0, 99999999.9999, -1.5, 123456.789, '', '', '', x'', x'',
	 '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901, 'a', '',
	 '[]', b'0'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
}

# hex of a string's UTF-8 bytes, upper case (as MySQL's HEX())
hex_of() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F'
}

