#!/usr/bin/env bats
# dms-transform -m: AWS DMS table mappings applied to snapshot and change
# records. Fixtures are JSON lines (tests/fixtures/people.jsonl); results are
# read back with --to-json.

load helpers/common

setup() {
	cd "$BATS_TEST_TMPDIR"
	stream_of "$FIXTURES/people.jsonl" >people.dms
}

# map RULES...: a mapping with an include-everything selection rule and RULES
map() {
	local IFS=,
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "all", "rule-action": "include", "object-locator": {"schema-name": "%%", "table-name": "%%"}}%s]}' "${*:+,$*}" >map.json
}

# rule ID ACTION TARGET LOCATOR [EXTRA]: a transformation rule
rule() {
	printf '{"rule-type": "transformation", "rule-id": "%s", "rule-name": "r%s", "rule-action": "%s", "rule-target": "%s", "object-locator": %s%s}' \
		"$1" "$1" "$2" "$3" "$4" "${5:+, $5}"
}

# the transformed stream as JSON lines
tx() {
	dms-transform -m map.json <people.dms | dms-transform --to-json
}

columns_of() { grep '"kind":"TABLE"' | head -n 1 | grep -o '"name":"[^"]*"' | sed 's/"name":"//; s/"$//' | tail -n +2 | xargs; }

@test "no rule touches a table: its records pass byte for byte" {
	map
	dms-transform -m map.json <people.dms | cmp - people.dms
}

@test "selection: an excluded table disappears with all its records" {
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "hr", "table-name": "%%"}}, {"rule-type": "selection", "rule-id": "2", "rule-name": "b", "rule-action": "exclude", "object-locator": {"schema-name": "hr", "table-name": "audit[_]%%"}}]}' >map.json
	run tx
	assert_status 0
	[[ $output != *audit_log* ]]
	[[ $output != *changed* ]]
	[[ $output != *started* ]]
	[ "$(echo "$output" | grep -c '"tid":1')" = 0 ]
	[ "$(echo "$output" | grep -c '"kind":"ROW"')" = 2 ]
}

@test "source filters judge change records: inserts and updates by the new image, deletes by the old" {
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "hr", "table-name": "people"}, "filters": [{"filter-type": "source", "column-name": "dept", "filter-conditions": [{"filter-operator": "eq", "value": "10"}, {"filter-operator": "gte", "value": "25"}]}]}]}' >map.json
	run tx
	assert_status 0
	# rows: Ada (10) yes, Alan (20) no; insert Grace (10) yes; update Ada to 30 yes; delete Alan (20) no
	expect_ids() { [ "$(echo "$output" | grep "\"kind\":\"$1\"" | sed -E 's/^[^[]*\[([0-9]+),.*/\1/' | xargs)" = "$2" ]; }
	expect_ids ROW 1
	expect_ids INSERT 3
	expect_ids UPDATE 1
	[ "$(echo "$output" | grep -c '"kind":"DELETE"')" = 0 ]
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "hr", "table-name": "people"}, "filters": [{"filter-type": "source", "column-name": "salary", "filter-conditions": [{"filter-operator": "between", "start-value": "1500", "end-value": "2500"}]}]}]}' >map.json
	run tx
	expect_ids ROW 2
	[ "$(echo "$output" | grep -c '"kind":"DELETE"')" = 1 ]
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "hr", "table-name": "people"}, "filters": [{"filter-type": "source", "column-name": "last_name", "filter-conditions": [{"filter-operator": "noteq", "value": "Turing"}]}, {"filter-type": "source", "column-name": "phone", "filter-conditions": [{"filter-operator": "notnull"}]}]}]}' >map.json
	run tx
	expect_ids ROW 1
	expect_ids INSERT 3
}

@test "name rules on schema, table and column: rename, case, prefixes and suffixes" {
	check() {
		map "$(rule 10 "$1" "$2" "$3" "$4")"
		run tx
		assert_status 0
		assert_match "$5" "$output"
	}
	check rename schema '{"schema-name": "hr"}' '"value": "people_ops"' '"schema":"people_ops","name":"people"'
	check convert-uppercase schema '{"schema-name": "h%"}' '' '"schema":"HR"'
	check add-prefix table '{"schema-name": "hr", "table-name": "%"}' '"value": "src_"' '"name":"src_people".*"name":"src_audit_log"'
	check remove-prefix table '{"schema-name": "hr", "table-name": "audit%"}' '"value": "audit_"' '"schema":"hr","name":"log"'
	check replace-prefix table '{"schema-name": "hr", "table-name": "%"}' '"old-value": "peo", "value": "PEO"' '"name":"PEOple"'
	check add-suffix table '{"schema-name": "hr", "table-name": "people"}' '"value": "_v2"' '"name":"people_v2"'
	check remove-suffix table '{"schema-name": "hr", "table-name": "%"}' '"value": "_log"' '"name":"audit"'
	check replace-suffix table '{"schema-name": "hr", "table-name": "%"}' '"old-value": "ple", "value": "PLE"' '"name":"peoPLE"'
	check convert-lowercase column '{"schema-name": "hr", "table-name": "people", "column-name": "%"}' '' '"name":"first_name"'
	check convert-uppercase column '{"schema-name": "hr", "table-name": "people", "column-name": "%_name"}' '' '"name":"FIRST_NAME".*"name":"LAST_NAME".*"name":"phone"'
	check rename column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}' '"value": "tel"' '"name":"tel"'
	check add-prefix column '{"schema-name": "hr", "table-name": "people", "column-name": "[a-d]%"}' '"value": "x_"' '"name":"x_dept"'
	check remove-suffix column '{"schema-name": "hr", "table-name": "people", "column-name": "%"}' '"value": "_name"' '"name":"first".*"name":"last"'
	check replace-prefix column '{"schema-name": "hr", "table-name": "people", "column-name": "%"}' '"old-value": "first", "value": "given"' '"name":"given_name"'
	check add-suffix column '{"schema-name": "hr", "table-name": "people", "column-name": "id"}' '"value": "_pk"' '"name":"id_pk"'
	check replace-suffix column '{"schema-name": "hr", "table-name": "people", "column-name": "%"}' '"old-value": "_name", "value": "_nm"' '"name":"last_nm"'
	check remove-prefix column '{"schema-name": "hr", "table-name": "people", "column-name": "%"}' '"value": "first_"' '"name":"name","type"'
}

@test "remove-column and include-column: values follow the columns" {
	map "$(rule 10 remove-column column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}')"
	run tx
	[ "$(echo "$output" | columns_of)" = "id first_name last_name salary dept" ]
	assert_match '"kind":"ROW","tid":0,"values":\[1,"Ada","Lovelace","1000.50",10\]' "$output"
	assert_match '"kind":"UPDATE","tid":0,"new":\[1,"Ada","King","1100.50",30\],"old":\[1,"Ada","Lovelace","1000.50",10\]' "$output"
	map "$(rule 10 include-column column '{"schema-name": "hr", "table-name": "people", "column-name": "id"}')" "$(rule 11 include-column column '{"schema-name": "hr", "table-name": "people", "column-name": "last_name"}')"
	run tx
	[ "$(echo "$output" | columns_of)" = "id last_name" ]
	assert_match '"kind":"DELETE","tid":0,"old":\[2,"Turing"\]' "$output"
}

@test "add-column: a NULL column, an expression, header and metadata variables, DMS functions" {
	map "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "full", "expression": "$first_name || '"'"' '"'"' || $last_name", "data-type": {"type": "string", "length": 50}')" \
		"$(rule 11 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "op", "expression": "operation_indicator('"'"'D'"'"', '"'"'U'"'"', '"'"'I'"'"')", "data-type": {"type": "string", "length": 1}')" \
		"$(rule 12 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "meta", "expression": "$AR_M_SOURCE_SCHEMA || '"'"'.'"'"' || $AR_M_SOURCE_TABLE_NAME || '"'"'/'"'"' || $AR_H_OPERATION", "data-type": {"type": "string", "length": 40}')" \
		"$(rule 13 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "hash", "expression": "hash_sha256($last_name)", "data-type": {"type": "string", "length": 64}')" \
		"$(rule 14 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "chars", "expression": "replaceChars($phone, '"'"'0123'"'"', '"'"'abc'"'"')", "data-type": {"type": "string", "length": 20}')" \
		"$(rule 15 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "commit_pos", "expression": "$AR_H_STREAM_POSITION || '"'"' @ '"'"' || $AR_H_COMMIT_TIMESTAMP", "data-type": {"type": "string", "length": 60}')" \
		"$(rule 16 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "bonus", "expression": "$salary * 2", "data-type": {"type": "real8"}')" \
		"$(rule 17 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "empty", "data-type": {"type": "int4"}')"
	run tx
	assert_status 0
	turing=$(printf 'Turing' | sha256sum | cut -c1-64)
	assert_match '"kind":"ROW","tid":0,"values":\[1,"Ada","Lovelace","\+44 20 7946 0001","1000.50",10,"Ada Lovelace","I","hr.people/INSERT",' "$output"
	assert_match "\"$turing\",\"\\+44 ca 7946 aaac\"" "$output"
	assert_match '"kind":"INSERT","tid":0,"new":\[3,"Grace","Hopper","555-0100","3000.00",10,"Grace Hopper","I","hr.people/INSERT",.*"0/16B3748 @ 2024-05-06 07:08:09.500000",6000.0,null\]' "$output"
	assert_match '"kind":"UPDATE","tid":0,"new":\[1,"Ada","King",[^]]*"Ada King","U","hr.people/UPDATE"' "$output"
	# operation_indicator keeps deleted rows: the DELETE becomes an UPDATE flagged D
	[ "$(echo "$output" | grep -c '"kind":"DELETE"')" = 0 ]
	assert_match '"kind":"UPDATE","tid":0,"new":\[2,"Alan","Turing",[^]]*"D","hr.people/DELETE"' "$output"
	[ "$(echo "$output" | columns_of)" = "id first_name last_name phone salary dept full op meta hash chars commit_pos bonus empty" ]
	# the example of the DMS documentation
	map "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "rc", "expression": "replaceChars('"'"'abcde'"'"', '"'"'abcd'"'"', '"'"'123'"'"')", "data-type": {"type": "string", "length": 5}')"
	run tx
	assert_match '"Lovelace","\+44 20 7946 0001","1000.50",10,"1231e"\]' "$output"
}

@test "change-data-type: one column, and every column of a type with the data-type locator" {
	map "$(rule 10 change-data-type column '{"schema-name": "hr", "table-name": "people", "column-name": "salary"}' '"data-type": {"type": "real8"}')" \
		"$(rule 11 change-data-type column '{"schema-name": "hr", "table-name": "people", "column-name": "%", "data-type": "int4"}' '"data-type": {"type": "string", "length": 12}')"
	run tx
	assert_status 0
	assert_match '"name":"id","type":"string","nullable":false,"attrs":\{"length":12\}' "$output"
	assert_match '"name":"salary","type":"real8"' "$output"
	assert_match '"kind":"ROW","tid":0,"values":\["1","Ada","Lovelace","\+44 20 7946 0001",1000.5,"10"\]' "$output"
	# a value that cannot be converted: named with its table, column and key,
	# then the data error policy: LOG_ERROR passes a REJECT on (for the
	# loader's apply_exceptions), STOP_TASK stops
	map "$(rule 10 change-data-type column '{"schema-name": "hr", "table-name": "people", "column-name": "last_name"}' '"data-type": {"type": "int4"}')"
	run --separate-stderr bash -c 'dms-transform -m map.json <people.dms | dms-transform --to-json'
	assert_status 0
	assert_match 'record 5 \(ROW of hr.people key id=1\): refused, logged to the exceptions table: column last_name: the value cannot become int4 \(change-data-type\)' "$stderr"
	[ "$(echo "$output" | grep -c '"kind":"ROW","tid":0')" = 0 ]
	assert_match '"kind":"REJECT","tid":0,"attrs":\{"key":"id=1","values":"id=1, first_name=.*","error":"column last_name: the value cannot become int4 \(change-data-type\)"\}' "$output"
	[ "$(echo "$output" | grep -c '"tid":1')" -ge 3 ]
	echo '{"ErrorBehavior": {"DataErrorPolicy": "STOP_TASK"}}' >stop.json
	run --separate-stderr bash -c 'dms-transform -m map.json -s stop.json <people.dms >/dev/null'
	assert_status 1
	assert_match 'stopping \(DataErrorPolicy STOP_TASK\)' "$stderr"
}

@test "define-primary-key: the key and its columns become NOT NULL" {
	map "$(rule 10 define-primary-key table '{"schema-name": "hr", "table-name": "people"}' '"primary-key-def": {"name": "pk_people", "origin": "primary-key", "columns": ["last_name", "first_name"]}')"
	run tx
	assert_status 0
	assert_match '"name":"last_name","type":"string","nullable":false.*"key":\[2,1\]' "$output"
	# origin unique-index: the key stays, a unique index is added
	map "$(rule 10 define-primary-key table '{"schema-name": "hr", "table-name": "people"}' '"primary-key-def": {"name": "uq_phone", "origin": "unique-index", "columns": ["phone"]}')"
	run tx
	assert_match '"key":\[0\],"attrs":\{"indexes":\[\{"name":"uq_phone","columns":\[3\],"unique":true\}\]' "$output"
}

@test "every filter operator on change records" {
	count() {
		printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "hr", "table-name": "people"}, "filters": [{"filter-type": "source", "column-name": "%s", "filter-conditions": [%s]}]}]}' "$1" "$2" >map.json
		tx | awk '/"kind":"(ROW|INSERT|UPDATE|DELETE)","tid":0/ { n++ } END { print n + 0 }'
	}
	# rows: Ada 10, Alan 20; insert Grace 10; update Ada -> 30; delete Alan 20
	expect eq 2 "$(count dept '{"filter-operator": "eq", "value": "10"}')"
	expect noteq 3 "$(count dept '{"filter-operator": "noteq", "value": "10"}')"
	expect lte 4 "$(count dept '{"filter-operator": "lte", "value": "20"}')"
	expect ste 4 "$(count dept '{"filter-operator": "ste", "value": "20"}')"
	expect gte 3 "$(count dept '{"filter-operator": "gte", "value": "20"}')"
	expect between 3 "$(count dept '{"filter-operator": "between", "start-value": "15", "end-value": "30"}')"
	expect notbetween 3 "$(count dept '{"filter-operator": "notbetween", "start-value": "11", "end-value": "25"}')"
	expect null 0 "$(count phone '{"filter-operator": "null"}')"
	expect notnull 5 "$(count phone '{"filter-operator": "notnull"}')"
	expect "text comparison" 1 "$(count last_name '{"filter-operator": "lte", "value": "K"}')"
	expect "numeric text as a number" 3 "$(count salary '{"filter-operator": "gte", "value": "1500"}')"
}

@test "data masking: digits masked, digits randomized, values hashed" {
	map "$(rule 10 data-masking-digits-mask column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}' '"value": "#"')"
	run tx
	assert_match '"\+## ## #### ####"' "$output"
	map "$(rule 10 data-masking-digits-randomize column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}')"
	run tx
	assert_match '"kind":"ROW","tid":0,"values":\[1,"Ada","Lovelace","\+[0-9]{2} [0-9]{2} [0-9]{4} [0-9]{4}"' "$output"
	map "$(rule 10 data-masking-hash-mask column '{"schema-name": "hr", "table-name": "people", "column-name": "last_name"}')"
	run tx
	h=$(printf 'Lovelace' | sha256sum | cut -c1-64)
	assert_match "\"values\":\\[1,\"Ada\",\"$h\"" "$output"
	assert_match '"name":"last_name","type":"string","nullable":true,"attrs":\{"length":64\}' "$output"
	# hashing is consistent: the same value in the before image hashes the same
	assert_match "\"old\":\\[1,\"Ada\",\"$h\"" "$output"
}

@test "precedence: when two rules hit one object, the lower rule-id wins" {
	map "$(rule 20 rename column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}' '"value": "second"')" \
		"$(rule 5 rename column '{"schema-name": "hr", "table-name": "people", "column-name": "ph%"}' '"value": "first"')"
	run tx
	assert_match '"name":"first"' "$output"
	[[ $output != *'"name":"second"'* ]]
}

@test "invalid mappings are refused before any record: exit 2, rule and field named" {
	refused() {
		map "$1"
		run --separate-stderr dms-transform -m map.json </dev/null
		assert_status 2
		assert_match "$2" "$stderr"
	}
	refused "$(rule 10 squash column '{"schema-name": "hr", "table-name": "people", "column-name": "id"}')" 'rule 10: unknown transformation rule-action "squash"'
	refused "$(rule 10 remove-column table '{"schema-name": "hr", "table-name": "people"}')" 'rule 10: rule-action "remove-column" does not take rule-target "table"'
	refused "$(rule 10 define-primary-key table '{"schema-name": "hr", "table-name": "peo%"}' '"primary-key-def": {"columns": ["id"]}')" 'rule 10: define-primary-key needs exact schema and table names'
	refused "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "x", "expression": "1 +* 2", "data-type": {"type": "int4"}')" 'rule 10: expression: .*syntax error'
	refused "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "x", "data-type": {"type": "varchar2"}')" 'rule 10: data-type: unknown type "varchar2"'
	refused "$(rule 10 rename column '{"schema-name": "hr", "table-name": "people", "column-name": "id"}')" 'rule 10: rule-action "rename" needs "value"'
	refused "$(rule 10 data-masking-digits-mask column '{"schema-name": "hr", "table-name": "people", "column-name": "phone"}' '"value": "##"')" 'must be one printable character'
	refused "$(rule 1 rename schema '{"schema-name": "hr"}' '"value": "x"')" 'duplicate rule-id'
	echo '{"rules": [{"rule-type": "selection"' >map.json
	run --separate-stderr dms-transform -m map.json </dev/null
	assert_status 2
	assert_match 'invalid JSON' "$stderr"
	printf '{"rules": [{"rule-type": "grouping", "rule-id": "1", "rule-name": "x"}]}' >map.json
	run --separate-stderr dms-transform -m map.json </dev/null
	assert_status 2
	assert_match 'unknown rule-type "grouping"' "$stderr"
}

@test "a mapping that does not fit a table is refused when the table arrives: exit 2" {
	map "$(rule 10 rename column '{"schema-name": "hr", "table-name": "people", "column-name": "last_name"}' '"value": "first_name"')"
	run --separate-stderr bash -c 'dms-transform -m map.json <people.dms >/dev/null'
	assert_status 2
	assert_match 'two columns named "first_name"' "$stderr"
	map "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "ID", "data-type": {"type": "int4"}')"
	run --separate-stderr bash -c 'dms-transform -m map.json <people.dms >/dev/null'
	assert_status 2
	assert_match 'has a column of that name already' "$stderr"
	map "$(rule 10 add-column column '{"schema-name": "hr", "table-name": "people"}' '"value": "x", "expression": "$nope + 1", "data-type": {"type": "int4"}')"
	run --separate-stderr bash -c 'dms-transform -m map.json <people.dms >/dev/null'
	assert_status 2
	assert_match 'expression uses \$nope, which is not a column of hr.people' "$stderr"
}

@test "add-before-image-columns: the old values of updates, for the columns the filter keeps" {
	map "$(rule 10 add-before-image-columns column '{"schema-name": "hr", "table-name": "people"}' '"before-image-def": {"column-prefix": "was_", "column-suffix": "", "column-filter": "pk-only"}')"
	run tx
	assert_status 0
	[ "$(echo "$output" | columns_of)" = "id first_name last_name phone salary dept was_id" ]
	map "$(rule 10 add-before-image-columns column '{"schema-name": "hr", "table-name": "people"}' '"before-image-def": {"column-prefix": "BI_", "column-filter": "all"}')"
	run tx
	assert_match '"kind":"ROW","tid":0,"values":\[1,"Ada","Lovelace","\+44 20 7946 0001","1000.50",10,null,null,null,null,null,null\]' "$output"
	assert_match '"kind":"UPDATE","tid":0,"new":\[1,"Ada","King","\+44 20 7946 0001","1100.50",30,1,"Ada","Lovelace","\+44 20 7946 0001","1000.50",10\]' "$output"
	map "$(rule 10 add-before-image-columns column '{"schema-name": "hr", "table-name": "people"}' '"before-image-def": {"column-prefix": "", "column-suffix": ""}')"
	run --separate-stderr dms-transform -m map.json </dev/null
	assert_status 2
	assert_match 'cannot both be empty' "$stderr"
}

@test "table-settings lob-settings reach dms-load in the TABLE record" {
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "%%", "table-name": "%%"}}, {"rule-type": "table-settings", "rule-id": "2", "rule-name": "lob", "object-locator": {"schema-name": "hr", "table-name": "people"}, "lob-settings": {"mode": "limited", "bulk-max-size": "16"}}]}' >map.json
	run tx
	assert_status 0
	assert_match '"name":"people".*"attrs":\{"lob_settings":\{"mode":"limited","bulk_max_size":16\}\}' "$output"
	printf '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "a", "rule-action": "include", "object-locator": {"schema-name": "%%", "table-name": "%%"}}, {"rule-type": "table-settings", "rule-id": "2", "rule-name": "lob", "object-locator": {"schema-name": "hr", "table-name": "peo%%"}, "lob-settings": {"mode": "limited", "bulk-max-size": "16"}}]}' >map.json
	run --separate-stderr dms-transform -m map.json </dev/null
	assert_status 2
	assert_match 'Exact schema and table name required' "$stderr"
}

@test "the selection and transformation example of the DMS inventory works as documented" {
	cat >map.json <<'JSON'
{"rules": [
 {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
  "object-locator": {"schema-name": "hr", "table-name": "%"}},
 {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-action": "rename",
  "rule-target": "schema", "object-locator": {"schema-name": "hr"}, "value": "HR_ARCHIVE"},
 {"rule-type": "transformation", "rule-id": "3", "rule-name": "3", "rule-action": "convert-lowercase",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "%", "column-name": "%"}},
 {"rule-type": "transformation", "rule-id": "4", "rule-name": "4", "rule-action": "add-column",
  "rule-target": "column", "object-locator": {"schema-name": "hr", "table-name": "people"},
  "value": "full_name", "expression": "$first_name||'_'||$last_name", "data-type": {"type": "string", "length": 50}}
]}
JSON
	run tx
	assert_status 0
	assert_match '"schema":"HR_ARCHIVE","name":"people"' "$output"
	assert_match '"values":\[1,"Ada","Lovelace","\+44 20 7946 0001","1000.50",10,"Ada_Lovelace"\]' "$output"
}
