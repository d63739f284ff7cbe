#!/bin/sh
# c-files.sh - print the C files the project formats, one a line, relative to the
# repository root: the one list `make format` rewrites and scripts/check-format.sh checks.
#   bpf/              the kernel programs and the ABI header
#   core/*/           every layer of the daemon and CLI
#   tests/unit/       the cmocka tests and their helper headers
#   tests/fuzz/       the libFuzzer targets
#   tests/integration/ the C helpers the Python tests build
#   bench/            the benchmark drivers
# Generated files (build/) and third-party code are not ours to format and are not listed.
set -eu
cd "$(dirname "$0")/.."
for f in bpf/*.c bpf/*.h core/*/*.c core/*/*.h tests/unit/*.c tests/unit/*.h \
	tests/fuzz/*.c tests/fuzz/*.h tests/integration/*.c bench/*.c bench/*.h; do
	# a pattern that matches nothing stays as written: skip it
	[ -f "$f" ] && printf '%s\n' "$f"
done | LC_ALL=C sort
