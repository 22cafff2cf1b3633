#!/usr/bin/env bats
# The man pages: they lint clean, every program and script has one, and each
# program's --help names the same options as its page's SYNOPSIS.

load helpers/common

# The option names in a usage text: "--long" words and the letters of "-abc".
options_of() {
	grep -oE -- '(^|[][ |])--?[a-zA-Z][-a-zA-Z]*' | sed -E 's/^[][ |]//' |
		while read -r opt; do
			case $opt in
			--*) echo "$opt" ;;
			*) echo "${opt#-}" | grep -o . | sed 's/^/-/' ;;
			esac
		done | sort -u
}

synopsis_of() {
	mandoc -Tascii -O width=300 "$1" | col -b |
		awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on'
}

usage_of() {
	"$1" --help | awk '/^usage:/ { on = 1 } on && /^$/ { exit } on'
}

@test "every man page passes mandoc -Tlint" {
	run mandoc -Tlint -W warning "$DMS_ROOT"/man/*.[157]
	assert_status 0
	[ -z "$output" ]
}

@test "every program and script has a man page with EXIT STATUS and EXAMPLES" {
	for p in "$DMS_ROOT"/bin/dms-* "$DMS_ROOT"/scripts/*; do
		[ -f "$p" ] || continue
		page="$DMS_ROOT/man/$(basename "$p").1"
		[ -f "$page" ] || { echo "no man page for $p" >&2; return 1; }
		grep -q '^\.Sh EXIT STATUS' "$page"
		grep -q '^\.Sh EXAMPLES' "$page"
	done
}

@test "--help and the SYNOPSIS name the same options" {
	for p in "$DMS_ROOT"/bin/dms-* "$DMS_ROOT"/scripts/*; do
		[ -x "$p" ] || continue
		page="$DMS_ROOT/man/$(basename "$p").1"
		from_help=$(usage_of "$p" | options_of)
		from_page=$(synopsis_of "$page" | options_of)
		if [ "$from_help" != "$from_page" ]; then
			echo "$(basename "$p"): --help: $(echo $from_help) / SYNOPSIS: $(echo $from_page)" >&2
			return 1
		fi
		[ -n "$from_help" ]
	done
}

@test "the stream format page and the overview exist and lint without a warning" {
	for page in "$DMS_ROOT/man/dms-stream.5" "$DMS_ROOT/man/dms.7"; do
		[ -f "$page" ]
		run mandoc -Tlint -W warning "$page"
		assert_status 0
		[ -z "$output" ]
	done
}
