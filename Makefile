# Thin wrapper around CMake. The quick start (README) is `sh quickstart demo` and
# `sh quickstart test`, which install make itself when it is missing and then run:
#   make demo   build the library and the command (no tests), then run `sockkit demo`
#   make test   build normal, ASan+UBSan and TSan variants and run the CTest suite on them
# Other targets: build, install (PREFIX=/usr/local DESTDIR=), deb, bench, format, clean.

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build configure demo test test-normal test-asan test-tsan install deb bench format clean \
	deps-build deps-test deps-deb fuzz

all: build

deps-build:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-deb:
	@scripts/deps.sh deb

# The product build: library, command, examples; never the tests, so it needs no test-only
# packages. Configured every time (about a second), and a failed configure leaves no build/ behind
# that would break the next attempt.
configure: deps-build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSK_BUILD_TESTS=OFF $(CMAKE_FLAGS) \
		>/dev/null || { rm -rf build; echo "make: configuring build/ failed (see above)" >&2; exit 1; }

build: configure
	cmake --build build -j$(JOBS)

demo: build
	@build/sockkit demo

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

# Debian packages (libsockkit0, libsockkit-dev, sockkit, and their -dbgsym) into out/deb/.
deb: deps-deb
	@scripts/deb.sh

bench: build
	scripts/deps.sh bench
	bench/compare.sh

# libFuzzer harnesses (tests/fuzz): configure build-fuzz with clang, run each FUZZ_SECONDS (60).
fuzz:
	tests/fuzz/run.sh --build build-fuzz --seconds $(or $(FUZZ_SECONDS),60)

format:
	clang-format -i include/*.h include/sockkit/*.h src/*.[ch] cli/*.[ch] tests/*/*.c examples/*.c 2>/dev/null || true

clean:
	rm -rf build build-test build-asan build-tsan build-deb build-fuzz out
