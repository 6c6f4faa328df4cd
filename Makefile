# The README's commands. `make demo` and `make test` install what they need first.
BUILD_DIR ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS ?= $(shell nproc)
CODEFLEET = $(BUILD_DIR)/src/cli/codefleet

.PHONY: all setup configure build test demo bench clean format

all: build

setup:
	@bash scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: setup configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The integration tests need PostgreSQL: scripts/pg.sh starts a private server on
# 127.0.0.1:55432 (data in build/pgdata) and prints its URL.
test: build
	eval "$$(bash scripts/pg.sh start)" && ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(CODEFLEET)

bench: build
	$(BUILD_DIR)/bench/codefleet_bench --benchmark_counters_tabular=true

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp')

clean:
	rm -rf $(BUILD_DIR)
