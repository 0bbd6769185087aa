# amphi: the two commands of the README.
#   make run    installs missing Debian packages (as root), builds, runs the whole system
#   make check  the same, then every test: unit (plain and ASan+UBSan), clang-tidy,
#               integration, TSan, fuzz
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
ARGS       ?=
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 20

.PHONY: all deps deps-check build asan tsan-build fuzz run check unit unit-asan integration \
        tsan browser fuzz-run tidy bench format clean install

all: build

deps:
	@scripts/install-deps.sh build

deps-check:
	@scripts/install-deps.sh check

# The unit tests need cmocka, which only `make check` installs: a plain build (make run on a
# fresh machine) builds without them.
TESTS_ON = $$(pkg-config --exists cmocka && echo ON || echo OFF)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMPHI_TESTS=$(TESTS_ON) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAMPHI_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

tsan-build: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAMPHI_TSAN=ON \
	  -DAMPHI_TESTS=$(TESTS_ON) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)

fuzz: deps-check
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAMPHI_FUZZ=ON \
	  -DAMPHI_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

run: build
	$(BUILD)/amphi run $(ARGS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit-asan: asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# Integration tests drive the sanitizer build: real processes, real sockets, real
# nats-server, and ASan/UBSan watching the server while they do.
integration: asan
	AMPHI_BIN=$(CURDIR)/$(ASAN_BUILD)/amphi $(PYTHON) -m pytest -q tests/integration

# ThreadSanitizer where threads run side by side: the unit tests (the hub between two
# loops), then the integration tests, every one of which starts several nodes in one
# `amphi run`, each on its thread and loop (the cluster tests: `amphi serve` beside
# libnats's threads). A report fails the test (conftest.py's sanitizer check); TSAN_OPTIONS
# is set there, so a test run by hand against $(TSAN_BUILD)/amphi behaves the same.
TSAN_TESTS ?= tests/integration
tsan: tsan-build
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	AMPHI_BIN=$(CURDIR)/$(TSAN_BUILD)/amphi $(PYTHON) -m pytest -q $(TSAN_TESTS)

# The web client in Debian's Chromium, driven by playwright-core from npm (no browser
# download: the package's own browsers are never fetched).
browser: asan
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	cd tests/browser && node --test
	@# The pages with media, inside a private network namespace with only lo up, so
	@# WebRTC gathers 127.0.0.1 and nothing else (root: unshare -n).
	cd tests/browser && AMPHI_BIN=$(CURDIR)/$(ASAN_BUILD)/amphi ./run-in-netns.sh \
	  node --test --test-concurrency=1 web_client.netns.mjs reconnect.netns.mjs media.netns.mjs \
	  turn.netns.mjs

# clang-tidy with the checks of .clang-tidy over every C file of src/ on every core; any
# warning fails. The build writes the compile_commands.json it reads.
tidy: build
	@scripts/run-tidy.sh $(BUILD) $(JOBS)

fuzz-run: fuzz
	@scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

check: deps-check
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) tidy
	$(MAKE) integration
	$(MAKE) tsan
	$(MAKE) browser
	$(MAKE) fuzz-run

# PREFIX=/usr/local and DESTDIR (staging) as usual; `amphi configure --prefix` agrees.
PREFIX     ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
