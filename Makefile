# The README's commands. `make demo` and `make test` install what they need first.
BUILD_DIR ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
PREFIX ?= /usr/local
CODEFLEET = $(BUILD_DIR)/src/cli/codefleet

.PHONY: all setup configure build test fuzz demo bench install clean format

all: build

setup:
	@bash scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: setup configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The integration tests need PostgreSQL: scripts/test.sh starts the private server of
# scripts/pg.sh (127.0.0.1:55432, data in build/pgdata) unless it is already running, runs
# ctest, and stops the server it started.
# After the tests, every fuzz target for FUZZ_SECONDS, two at a time (ASan + UBSan, in
# build-fuzz/); a crash fails the run and names its reproducer (docs/FUZZING.md).
test: build
	@bash scripts/test.sh $(BUILD_DIR) $(JOBS)
	$(MAKE) --no-print-directory fuzz

# Only the binary the demo runs: no tests, no benchmarks. DEMO_PORT, DEMO_KEY, DEMO_KEEP:
# see scripts/demo.sh.
demo: setup configure
	cmake --build $(BUILD_DIR) --target codefleet -j $(JOBS)
	@bash scripts/demo.sh $(CODEFLEET)

# The binary, its bash and zsh completions and the docs, under PREFIX (GNUInstallDirs).
install: setup configure
	cmake --build $(BUILD_DIR) --target codefleet codefleet_completions -j $(JOBS)
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

fuzz: setup
	bash scripts/fuzz.sh build
	bash scripts/fuzz.sh run $(FUZZ_SECONDS)

bench: build
	$(BUILD_DIR)/bench/codefleet_bench --benchmark_counters_tabular=true

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp')

clean:
	rm -rf $(BUILD_DIR) build-fuzz
