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

# Until the daemon exists (issue #4), vigil's main job on a host is the live sensor
# with the default policy pack: every violating exec, as a JSON line.
run: build
	@mkdir -p $(DATA_DIR)
	$(BUILD)/vigil events --match

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

bench: build
	@bench/exec_overhead.py
	@bench/replay.sh

format:
	@clang-format -i bpf/*.c bpf/*.h core/*.c core/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)
