#!/bin/sh
# check-format.sh - fail when a C file of scripts/c-files.sh is not as the checked-in
# .clang-format lays it out, or has a line over 100 columns (tabs count to the next
# multiple of 8). clang-format cannot shorten every line (a long string, a trailing
# comment aligned with its neighbours), so the column check is separate.
# Prints file:line for each problem and exits 1; `make format` fixes the layout.
# clang-format is Debian 12's (version 14, scripts/packages.txt): other versions may
# lay out a few constructs differently.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
	echo "check-format: clang-format is not installed (run: make deps)" >&2
	exit 1
fi
files=$(scripts/c-files.sh)
bad=0
# clang-format reports "file:line:col: error: code should be clang-formatted"; keep file:line
# shellcheck disable=SC2086
out=$(clang-format --dry-run --Werror --style=file:.clang-format $files 2>&1) || bad=1
if [ "$bad" = 1 ]; then
	printf '%s\n' "$out" | sed -n 's/^\([^: ]*:[0-9]*\):[0-9]*: error: .*/\1: not formatted/p' |
		uniq >&2
fi
# shellcheck disable=SC2086
long=$(awk '{
	col = 0
	n = length($0)
	for (i = 1; i <= n; i++)
		col = substr($0, i, 1) == "\t" ? col + 8 - col % 8 : col + 1
	if (col > 100)
		printf "%s:%d: %d columns (at most 100)\n", FILENAME, FNR, col
}' $files)
if [ -n "$long" ]; then
	printf '%s\n' "$long" >&2
	bad=1
fi
if [ "$bad" = 1 ]; then
	echo "check-format: the files above are not formatted: run \`make format\`" >&2
	echo "check-format: (lines still over 100 columns after it must be shortened by hand)" >&2
	exit 1
fi
