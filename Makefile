# The two commands of the README, and their parts.
#   make run    install what is missing, build, start vigil on this host
#   make test   install what is missing, check the C layout, build, run every test (CTest)
#   make install  build, then install under PREFIX (/usr/local), into DESTDIR if set
#   make deb      build/vigil_<version>_<arch>.deb (prefix /usr)
#   make image    the container image of deploy/, localhost/vigil:<version> (podman, offline)
#   make bench  build, then run the benchmark suites (BENCH_ARGS=--quick: about 2 minutes)
#   make format lay out the C files of scripts/c-files.sh with the checked-in .clang-format
BUILD ?= build
DATA_DIR ?= ./var/vigil
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build run test bench clean format check-format install deb image

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The unit's ExecStart names PREFIX/bin/vigil; the configuration goes to DESTDIR/etc/vigil.
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# A package installs under /usr (apt install ./build/vigil_*.deb).
deb: build
	@cd $(BUILD) && cpack -G DEB

# The image deploy/daemonset.yaml names: this build's `make install` (prefix /usr) and the
# libraries it loads, imported into podman as localhost/vigil:<version> and :latest.
image: build
	@scripts/image.sh $(BUILD)

# The daemon on this host: the default policy pack, the store in ./var/vigil, the API on
# 127.0.0.1:8077 (token in ./var/vigil/api.token). Ctrl-C stops it cleanly. vigil makes
# the data directory itself, 0700 (and refuses one that others could write).
run: build
	$(BUILD)/vigil run --data-dir $(DATA_DIR)

# The layout is checked first, so a misformatted tree fails in seconds, before the build.
test: check-format
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

check-format: deps
	@scripts/check-format.sh

# The benchmark suites (bench/README.md): BENCH_ARGS=--quick for a two-minute run,
# --only exec,replay to pick suites. Results go to bench/out/<UTC time>/.
bench: build
	@bench/vigil-bench run --build $(BUILD) $(BENCH_ARGS)

format: deps
	@clang-format -i --style=file:.clang-format $$(scripts/c-files.sh)

clean:
	rm -rf $(BUILD)
