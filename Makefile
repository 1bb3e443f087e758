# Thin wrapper around CMake. `make demo` and `make check` set up a fresh
# Debian machine themselves (see `deps`).

BUILD      ?= build
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

# Debian packages the build, tests and fuzzing need, and why:
#   cmake, make, gcc, pkg-config  the build
#   libjansson-dev                JSON output of the CLI (and .meta files)
#   libcmocka-dev                 the unit tests, run under CTest
#   clang                         libFuzzer targets (-fsanitize=fuzzer)
#   binutils                      readelf/objcopy, used by tests to check sections
DEB_PACKAGES = cmake make gcc pkg-config libjansson-dev libcmocka-dev clang \
               binutils

.PHONY: all deps configure check check-asan check-tsan demo bench fuzz \
        install clean

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

demo: all
	@sh tests/demo.sh $(BUILD)

bench: all
	$(BUILD)/bench/scan

fuzz: deps
	@test -f build-fuzz/CMakeCache.txt || CC=clang cmake -S . -B build-fuzz \
	  -DTENON_FUZZ=ON -DTENON_TESTS=OFF -DTENON_BENCH=OFF \
	  -DTENON_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS)
	@for f in build-fuzz/fuzz/fuzz_*; do \
	  name=$$(basename $$f); echo "== $$name for $(FUZZ_SECONDS) s"; \
	  mkdir -p build-fuzz/corpus/$$name; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	    build-fuzz/corpus/$$name fuzz/corpus/$$name 2>&1 | tail -n 3 \
	    || exit 1; \
	done

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan build-fuzz
