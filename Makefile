# The two commands a newcomer needs:
#   make run    install what is missing, build, and serve the substation example on
#               http://127.0.0.1:8080 (PORT=... for another), printing how to try it
#   make test   install what is missing, build, run every test (and the fuzzer, bounded)
#
# Other targets: build, fuzz, asan, tsan, clean. Builds use ccache and -j2.

BUILD_DIR   := build/default
BVER        := $(BUILD_DIR)/apps/bver/bver
FUZZ_SECONDS ?= 30
JOBS        ?= 2

.PHONY: all deps build test unit fuzz run asan tsan clean

all: build

deps:
	@bash scripts/deps.sh
	@bash scripts/web_deps.sh

$(BUILD_DIR)/build.ninja:
	@cmake --preset default >/dev/null

build: deps $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j$(JOBS)

unit: build
	@bash scripts/npm_test_deps.sh
	@bash scripts/run_tests.sh $(BUILD_DIR) --output-on-failure -j$(JOBS)

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

test: unit fuzz

run: deps $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target bver substation_starter.so
	@BVER=$(BVER) bash scripts/run_example.sh

asan: deps
	@cmake --preset asan >/dev/null && cmake --build build/asan -j$(JOBS) && \
	  bash scripts/run_tests.sh build/asan --output-on-failure -j$(JOBS)

tsan: deps
	@cmake --preset tsan >/dev/null && cmake --build build/tsan -j$(JOBS) && \
	  bash scripts/run_tests.sh build/tsan --output-on-failure -j$(JOBS)

clean:
	@rm -rf build
