# Helpers of the change capture tests (tests/migrate.bats, tests/capture-mysql.bats):
# a table's rows as one digest on either engine, and the processes of a
# dms-migrate run.
# shellcheck shell=bash

# digest ENGINE DB TABLE KEY COLUMNS: the row count and an md5 of the rows in
# key order, the same text on both engines (concat_ws of the columns).
digest() {
	case $1 in
	pg) pg_sql "$2" "SELECT count(*) || ' ' || md5(coalesce(string_agg(concat_ws(':', $5), ',' ORDER BY $4), '')) FROM $3" ;;
	my) my_sql "$2" "SET SESSION group_concat_max_len = 1073741824;
		SELECT concat(count(*), ' ', md5(coalesce(group_concat(concat_ws(':', $5) ORDER BY $4 SEPARATOR ','), ''))) FROM $3" ;;
	esac
}

# live_one GROUP PGREP-ARGS...: the PID of a running process of the process
# group that pgrep finds (a zombie, ended but not yet reaped, is not one)
live_one() {
	local g=$1 p st
	shift
	for p in $(pgrep -g "$g" "$@"); do
		st=$(ps -o stat= -p "$p") || continue
		[[ $st == Z* ]] && continue
		echo "$p"
		return 0
	done
	return 1
}

# gone PID: ended (a zombie waiting for its status counts)
gone() {
	local st
	st=$(ps -o stat= -p "$1") || return 0
	[[ $st == Z* ]]
}

