# Thin front for CMake/CTest so that a user only types `make ...`.
#   make               install missing Debian packages, build build/frugal + libfrugal.{a,so}
#   make test          build and run every test, then again under ASan+UBSan
#   make test-aarch64  cross-build the core for 64-bit ARM, run its tests under qemu
#   make demo          build, get a small model, a short tour (inspect, run, chat)
#   make bench         benchmarks -> BENCHMARKS.md (never fails on a number)
#   make train-verifier  retrain the groundedness verdict on ../shared/data -> data/verifier.json
#   make fuzz          run the libFuzzer targets (FUZZ_SECONDS each, default 60)
#   make install PREFIX=/usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
ARM_BUILD  ?= build-aarch64
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

SHARED_DATA ?= ../shared/data

.PHONY: all deps build test test-release test-asan test-tsan test-aarch64 demo bench fuzz install clean format train-verifier

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: test-release test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The sanitizer and fuzz builds are configured without MPI: CI then builds and
# tests frugal both ways (tests/cli/tune_mpi.sh checks the refusal under a
# launcher there, and mpirun runs in the release build), and Open MPI's
# start-up allocations stay out of LeakSanitizer's report.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_SANITIZE=ON -DFRUGAL_MPI=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FR_SANITIZED=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_TSAN=ON -DFRUGAL_MPI=OFF
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && FR_SANITIZED=1 ctest --output-on-failure -j $(JOBS) -R 'serve|thread' $(CTEST_ARGS)

# The inference core (FRUGAL_CORE_ONLY: no external libraries) cross-built
# for aarch64 and its kernel and exactness tests run under qemu-aarch64 on
# three CPU models, each with every kernel path that CPU has
# (scripts/test-aarch64.sh).
test-aarch64: deps
	cmake -S . -B $(ARM_BUILD) -DCMAKE_BUILD_TYPE=Release -DFRUGAL_CORE_ONLY=ON \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake
	cmake --build $(ARM_BUILD) -j $(JOBS)
	./scripts/test-aarch64.sh $(ARM_BUILD) $(JOBS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_FUZZ=ON -DFRUGAL_MPI=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: build
	./scripts/demo.sh $(BUILD)/frugal

bench: build
	./scripts/bench.sh $(BUILD)/frugal

# Trains the verdict's weights (tools/train_verifier.c) on the public data in
# $(SHARED_DATA), prints the cross-validation, writes data/verifier.json and
# rebuilds so that the library carries the new weights.
train-verifier: build
	$(BUILD)/train_verifier --data $(SHARED_DATA) --out data/verifier.json
	cmake --build $(BUILD) -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD) $(ARM_BUILD)
