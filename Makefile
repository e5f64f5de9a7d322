# Thin wrapper around CMake. The quick start is two commands:
#   make demo   build, then run `sockkit demo` (a traced TCP/UDP/Unix exchange on loopback)
#   make test   build twice (normal, then AddressSanitizer+UBSan) and run the whole CTest suite on both
# Other targets: build, install (PREFIX=/usr/local DESTDIR=), bench, format, clean.

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CTEST = ctest --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all build demo test test-normal test-asan test-tsan install bench format clean deps-build deps-test fuzz

all: build

deps-build:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps-build build/CMakeCache.txt
	cmake --build build -j$(JOBS)

demo: build
	@if [ -x build/sockkit ]; then build/sockkit demo; else scripts/demo-fallback.sh; fi

test: deps-test
	@scripts/test.sh

test-normal: deps-test
	@scripts/test.sh normal
test-asan: deps-test
	@scripts/test.sh asan
test-tsan: deps-test
	@scripts/test.sh tsan

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

bench: build
	scripts/deps.sh bench
	bench/compare.sh

# libFuzzer harnesses (tests/fuzz): configure build-fuzz with clang, run each FUZZ_SECONDS (60).
fuzz:
	tests/fuzz/run.sh --build build-fuzz --seconds $(or $(FUZZ_SECONDS),60)

format:
	clang-format -i include/*.h include/sockkit/*.h src/*.[ch] cli/*.[ch] tests/*/*.c examples/*.c 2>/dev/null || true

clean:
	rm -rf build build-asan build-tsan
