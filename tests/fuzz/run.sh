#!/bin/sh
# run.sh OUTDIR SECONDS - builds the libFuzzer targets with clang (ASan + UBSan)
# and runs each for SECONDS. A crash fails the run and leaves the input in OUTDIR.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$SRC/build/fuzz}
SECS=${2:-10}
mkdir -p "$OUT"
# The targets link core/'s libraries, built again with the fuzzer's instrumentation.
SAN="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DBUILD_TESTING=OFF -DCMAKE_C_FLAGS="$SAN" -DVIGIL_FUZZ_OUT="$OUT" >/dev/null
cmake --build "$OUT/build" -j "$(nproc)" --target fuzz_query fuzz_params fuzz_record >/dev/null
for t in fuzz_query fuzz_params fuzz_record; do
	mkdir -p "$OUT/$t.corpus"
	cp "$SRC"/tests/fuzz/seeds/$t/* "$OUT/$t.corpus/" 2>/dev/null || true
	echo "fuzz: $t for ${SECS}s"
	# A forged count in a msgpack header makes msgpack-c ask for an absurd
	# allocation; in production malloc returns NULL and the record is refused.
	# Let ASan do the same instead of calling it a crash.
	(cd "$OUT" && ASAN_OPTIONS=allocator_may_return_null=1 "./$t" -max_total_time="$SECS" \
		-max_len=4096 -malloc_limit_mb=1048576 -rss_limit_mb=4096 -print_final_stats=1 \
		"$t.corpus" 2>"$t.log") || { tail -40 "$OUT/$t.log"; echo "fuzz: $t FAILED"; exit 1; }
	grep -E "stat::number_of_executed_units" "$OUT/$t.log" | sed "s/^/fuzz: $t /"
done
