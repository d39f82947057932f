# SuperNet top-level entry points. Every target works on a fresh Debian 12 machine:
# `make demo` and `make test` install what they need first (see scripts/install-deps.sh).
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test demo fuzz fuzz-run bench soak clean format

all: build

deps:
	./scripts/install-deps.sh
	./scripts/fetch-datasets.sh

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: deps build
	./scripts/demo.sh $(BUILD_DIR)

# libFuzzer targets need clang; they build in their own tree.
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSUPERNET_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)

fuzz-run: fuzz
	./scripts/run-fuzzers.sh 60

bench: deps build
	./$(BUILD_DIR)/bench/bench_attestation
	./$(BUILD_DIR)/bench/bench_consensus
	./bench/he/setup.sh
	./$(BUILD_DIR)/bench/bench_aggregation
	./$(BUILD_DIR)/bench/bench_fl_round
	./$(BUILD_DIR)/bench/bench_ta
	./$(BUILD_DIR)/bench/bench_keys
	./bench/takeover.sh ./$(BUILD_DIR)/supernet data 10
	./bench/api/setup.sh
	./$(BUILD_DIR)/bench/bench_api

# Hours on 2 cores: the simulator on 100,000 seeds per protocol, then 30 minutes of load on a
# local network with the failure detector watching for false suspicions.
soak: deps build
	./scripts/soak.sh 100000 $(BUILD_DIR)
	./scripts/fd_soak.sh 30 $(BUILD_DIR)

format:
	find src fuzz bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-fuzz
