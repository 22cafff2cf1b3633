#!/usr/bin/env bats
# The shell scripts: shellcheck, the generic checks, install-deps.

load helpers/common

@test "shellcheck finds nothing in the scripts, the test helpers and CI" {
	run shellcheck -x "$DMS_ROOT"/scripts/* "$DMS_ROOT"/.ci/run "$DMS_ROOT"/bench/run "$DMS_ROOT"/bench/*.sh "$DMS_ROOT"/tests/helpers/*.bash \
		"$DMS_ROOT"/tests/fuzz/run "$DMS_ROOT"/tests/fuzz/make-seeds
	assert_status 0
}

@test "install-deps --help prints the usage and exits 0" {
	run install-deps --help
	assert_status 0
	assert_match '^usage: install-deps' "$output"
}

@test "install-deps with a bad option: exit 2" {
	run --separate-stderr install-deps --bogus
	assert_status 2
	assert_match 'unknown option' "$stderr"
}

@test "install-deps does nothing when everything is installed (apt-get is not run)" {
	run install-deps -n
	assert_status 0
	mkdir -p "$BATS_TEST_TMPDIR/fakebin"
	printf '#!/bin/sh\necho apt-get was run >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/fakebin/apt-get"
	chmod +x "$BATS_TEST_TMPDIR/fakebin/apt-get"
	PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" run install-deps
	assert_status 0
	[ -z "$output" ]
}
