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


# kill_rounds TASK SPOOL SOURCE TARGET: 15 runs of dms-migrate, each killed
# with SIGKILL at a moment of its run, in turn dms-capture (while a loader
# works), the applier, and the whole process group (loading or applying);
# each time dms-migrate must fail, and its processes end. The caller then
# reruns it to the end and compares.
kill_rounds() {
	local task=$1 spool=$2 src=$3 dst=$4 k mig st killed
	killed=""
	for k in $(seq 1 15); do
		setsid dms-migrate --task "$task" --spool "$spool" "$src" "$dst" 2>>"$task.log" &
		mig=$!
		case $((k % 3)) in
		0)
			# the whole pipeline, at a moment of its run: loading, or applying
			if [ $((RANDOM % 2)) = 0 ]; then
				wait_for "kill $k: a loader at work" live_one "$mig" -x dms-load
			else
				wait_for "kill $k: the applier at work" live_one "$mig" -f "dms-load .*--ack-file"
			fi
			kill -KILL -- -"$mig"
			killed+=" all"
			;;
		1)
			wait_for "kill $k: capture" live_one "$mig" -f "dms-capture.* -o "
			wait_for "kill $k: a loader at work" live_one "$mig" -x dms-load
			kill -KILL "$(live_one "$mig" -f "dms-capture.* -o ")"
			killed+=" capture"
			;;
		2)
			wait_for "kill $k: the applier at work" live_one "$mig" -f "dms-load .*--ack-file"
			kill -KILL "$(live_one "$mig" -f "dms-load .*--ack-file")"
			killed+=" load"
			;;
		esac
		# the script sees the loss and ends (its own stages with it)
		wait_for "kill $k: dms-migrate ended" gone "$mig"
		wait "$mig" && st=0 || st=$?
		[ "$st" -ne 0 ] || { echo "kill $k: dms-migrate ended 0" >&2; false; }
		wait_for "kill $k: the group gone" bash -c "! pgrep -g $mig >/dev/null"
	done
	expect "the kills" " capture load all capture load all capture load all capture load all capture load all" "$killed"
}
