# The two commands of the README, and their parts.
#   make run    install what is missing, build, start vigil on this host
#   make test   install what is missing, build, run every test (CTest)
BUILD ?= build
DATA_DIR ?= ./var/vigil
JOBS ?= $(shell nproc)

.PHONY: all deps build run test bench clean format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The daemon on this host: the default policy pack, the store in ./var/vigil, the API on
# 127.0.0.1:8077 (token in ./var/vigil/api.token). Ctrl-C stops it cleanly. vigil makes
# the data directory itself, 0700 (and refuses one that others could write).
run: build
	$(BUILD)/vigil run --data-dir $(DATA_DIR)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

bench: build
	@bench/exec_overhead.py
	@bench/replay.sh

format:
	@clang-format -i bpf/*.c bpf/*.h core/*/*.c core/*/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)
