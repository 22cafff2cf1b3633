# Loaded by every test file: the programs of this checkout on PATH, and helpers.
# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output, stderr: set by bats' run

bats_require_minimum_version 1.5.0

DMS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DMS_ROOT
export PATH="$DMS_ROOT/bin:$DMS_ROOT/bin/tools:$DMS_ROOT/scripts:$PATH"
FIXTURES="$DMS_ROOT/tests/fixtures"
export FIXTURES

# stream_of FILE.jsonl: the binary stream of a JSON fixture.
stream_of() {
	dms-transform --from-json "$1"
}

# assert_status N: the last `run` ended with status N (prints its output otherwise).
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected status $1, got $status" >&2
		echo "stdout: $output" >&2
		[ -z "${stderr+x}" ] || echo "stderr: $stderr" >&2
		return 1
	fi
}

# expect WHAT EXPECTED ACTUAL
expect() {
	if [ "$2" != "$3" ]; then
		echo "$1: expected [$2], got [$3]" >&2
		return 1
	fi
}

# wait_for WHAT COMMAND...: until COMMAND succeeds, at most 30 s, or
# WAIT_SECONDS (a poll with a deadline, never a fixed sleep).
wait_for() {
	local what=$1
	shift
	for _ in $(seq 1 $((${WAIT_SECONDS:-30} * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out waiting for $what" >&2
	return 1
}

# assert_match REGEX TEXT
assert_match() {
	if ! [[ $2 =~ $1 ]]; then
		echo "expected to match: $1" >&2
		echo "got: $2" >&2
		return 1
	fi
}
