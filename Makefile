# Thin wrapper around CMake. `make demo` and `make check` set up a fresh
# Debian machine themselves (see `deps`).

BUILD      ?= build
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

# Debian packages the build, tests and fuzzing need, and why:
#   cmake, make, gcc, pkg-config  the build
#   g++                           the test that compiles <tenon/plugin.h> as C++11
#   libjansson-dev                JSON output of the CLI, .meta files, plugin
#                                 configs, the jsonl plugin
#   libssl-dev                    OpenSSL's libcrypto: SHA-256 digests (with the
#                                 CPU's SHA instructions), Ed25519 signatures
#   libcmocka-dev                 the unit tests, run under CTest
#   clang                         libFuzzer targets (-fsanitize=fuzzer)
#   binutils                      readelf, which the demo uses to show the info
#   clang-format                  the style check (make check-format)
#   bsdutils                      script(1): the docs' samples in a terminal
#   gdb                           gcore writes the core files the tests read;
#                                 gdb reads the ones tenon dump writes
#   wabt                          wasm2c (WebAssembly plugins back to C) and
#                                 wasm-objdump (the helper's import check)
#   wasi-libc                     the C library a WebAssembly plugin links
#   libclang-rt-14-dev-wasm32     clang's builtins for wasm32 (64-bit
#                                 division and the like)
#   lld                           wasm-ld, which links the wasm32 module
DEB_PACKAGES = cmake make gcc g++ pkg-config libjansson-dev libssl-dev \
               libcmocka-dev clang binutils clang-format bsdutils gdb \
               wabt wasi-libc libclang-rt-14-dev-wasm32 lld

# Every C source and header of ours, for the style check.
C_FILES = $(wildcard src/*.[ch] src/events/*.[ch] cli/*.[ch] include/tenon/*.h examples/*.[ch] \
          examples/kvserver/*.[ch] \
          plugins/*/*.[ch] tests/helpers/*.[ch] \
          tests/*.[ch] tests/plugins/*.[ch] bench/*.c fuzz/*.c sdk/wasm/*.[ch])

.PHONY: all deps configure check check-asan check-tsan check-format format \
        demo bench fuzz install clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing >/dev/null || exit 1; \
	else \
	  echo "missing packages; run as root:"; \
	  echo "  apt-get install -y$$missing"; exit 1; \
	fi

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || \
	  cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

check: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
check-asan: deps
	$(MAKE) check BUILD=build-asan \
	  CMAKE_FLAGS="-DTENON_SANITIZE=address,undefined -DTENON_BENCH=OFF"

# The threaded tests under ThreadSanitizer.
check-tsan: deps
	$(MAKE) all BUILD=build-tsan \
	  CMAKE_FLAGS="-DTENON_SANITIZE=thread -DTENON_BENCH=OFF"
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
	  ctest --output-on-failure -L threads

# The layout of .clang-format, checked in CI; `make format` applies it.
check-format: deps
	clang-format --dry-run -Werror $(C_FILES)

format: deps
	clang-format -i $(C_FILES)

demo: all
	@sh tests/demo.sh $(BUILD)

bench: all
	$(BUILD)/bench/scan
	$(BUILD)/bench/osi
	$(BUILD)/bench/pipeline
	$(BUILD)/bench/ops
	$(BUILD)/bench/kvbench

# Each fuzzer's output goes to a log, not through a pipe whose status would be
# tail's: a crash must fail this target. New inputs land in build-fuzz/corpus,
# crashing ones in build-fuzz/artifacts.
fuzz: deps
	@test -f build-fuzz/CMakeCache.txt || CC=clang cmake -S . -B build-fuzz \
	  -DTENON_FUZZ=ON -DTENON_TESTS=OFF -DTENON_BENCH=OFF \
	  -DTENON_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS)
	@mkdir -p build-fuzz/logs build-fuzz/artifacts; \
	for f in build-fuzz/fuzz/fuzz_*; do \
	  name=$$(basename $$f); log=build-fuzz/logs/$$name.log; \
	  echo "== $$name for $(FUZZ_SECONDS) s"; \
	  mkdir -p build-fuzz/corpus/$$name; \
	  if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	      -artifact_prefix=build-fuzz/artifacts/$$name- \
	      build-fuzz/corpus/$$name fuzz/corpus/$$name >$$log 2>&1; then \
	    grep -E '^(#[0-9]+[[:space:]]+DONE|Done )' $$log; \
	  else \
	    tail -n 40 $$log; \
	    echo "$$name FAILED; full log: $$log"; exit 1; \
	  fi; \
	done

# The prefix is compiled in (the default plugin directory is
# <prefix>/lib/tenon) and written to tenon.pc, so reconfigure with it.
# DESTDIR, for packaging, is put in front of every installed path and is not
# compiled in: make install PREFIX=/usr DESTDIR=/tmp/stage fills
# /tmp/stage/usr for a program that will run from /usr.
install: deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-fuzz
