# Sightline - one Makefile for the whole tree.
#
#   make            build everything into build/ (binaries in build/bin, libraries in build/lib)
#   make test       install missing dependencies, build, run every test (unit + end to end)
#   make run        install missing dependencies, build, run collector + dashboard + demo workload
#   make asan       the whole test suite under ASan+UBSan (separate tree: build/asan)
#   make bench      build and run the benchmarks under bench/
#   make clean      remove build/
#
# Build flavours are a variable, not copied rules: FLAVOR=debug|release|asan.

FLAVOR ?= release
ifeq ($(FLAVOR),asan)
O ?= build/asan
else
O ?= build
endif

CC ?= cc
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
# Includes across folders name the folder: "common/slc_wire.h", "query/slq_trace.h",
# and inside the collector its rooms: "store/store.h", "http/api.h".
INC := -Isdk/include -I. -Icollector

ifeq ($(FLAVOR),debug)
OPT := -O0 -g
else ifeq ($(FLAVOR),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANLD := -fsanitize=address,undefined
else
OPT := -O2 -g
endif

CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) -fPIC -pthread -MMD -MP $(INC) $(CFLAGS)
LDFLAGS_ALL := -pthread $(SANLD) $(LDFLAGS)

# Third-party libraries.  nng ships no pkg-config file on Debian 12.
PKGCONF := $(shell command -v pkg-config 2>/dev/null)
ifneq ($(PKGCONF),)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
ROCKS_LIBS := $(shell pkg-config --libs rocksdb 2>/dev/null || echo -lrocksdb)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
else
JANSSON_LIBS := -ljansson
CMOCKA_LIBS := -lcmocka
MHD_LIBS := -lmicrohttpd
ROCKS_LIBS := -lrocksdb
CURL_LIBS := -lcurl
endif
NNG_LIBS := -lnng
Z_LIBS := -lz
ZSTD_LIBS := -lzstd

# ---- sources, one room each -------------------------------------------------
COMMON_SRC := $(wildcard common/*.c)
SDK_SRC := $(wildcard sdk/src/*.c)
QUERY_SRC := $(wildcard query/*.c)
COLLECTOR_SRC := $(filter-out collector/main.c,$(wildcard collector/*.c collector/*/*.c))
CLI_SRC := $(wildcard query/cli/*.c)
EXAMPLES_SRC := $(wildcard sdk/examples/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BENCH_SRC := $(wildcard bench/bench-*.c)
BENCH_LIB_SRC := $(filter-out $(BENCH_SRC),$(wildcard bench/*.c))

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC))
SDK_OBJ := $(call obj,$(SDK_SRC))
QUERY_OBJ := $(call obj,$(QUERY_SRC))
COLLECTOR_OBJ := $(call obj,$(COLLECTOR_SRC))
CLI_OBJ := $(call obj,$(CLI_SRC))
BENCH_LIB_OBJ := $(call obj,$(BENCH_LIB_SRC))

LIB_COMMON := $(O)/lib/libslcommon.a
LIB_SDK_A := $(O)/lib/libsightline.a
LIB_SDK_SO := $(O)/lib/libsightline.so
LIB_QUERY := $(O)/lib/libslquery.a
LIB_COLLECTOR := $(O)/lib/libslcollector.a

COLLECTOR_BIN := $(O)/bin/sightline-collector
CLI_BIN := $(O)/bin/sightline
EXAMPLE_BINS := $(patsubst sdk/examples/%.c,$(O)/bin/%,$(EXAMPLES_SRC))
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(O)/bin/%,$(BENCH_SRC))

# The SDK library carries the shared codec inside it: users link one library.
SDK_LIBS := $(NNG_LIBS) $(Z_LIBS)
SERVER_LIBS := $(ROCKS_LIBS) $(NNG_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) $(CURL_LIBS) $(ZSTD_LIBS) $(Z_LIBS) -lm
CLI_LIBS := $(CURL_LIBS) $(JANSSON_LIBS) $(Z_LIBS) -lm

.PHONY: all libs test test-fast unit e2e asan bench run clean deps fmt fuzz
# Keep object files that pattern rules build on the way (no rebuild next time).
.SECONDARY:
# Test tools that the end-to-end tests drive (a load client that records acks).
TEST_TOOLS := $(O)/bin/bench-load
all: $(LIB_SDK_A) $(LIB_SDK_SO) $(COLLECTOR_BIN) $(CLI_BIN) $(EXAMPLE_BINS) $(UNIT_BINS) $(TEST_TOOLS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB_COMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SDK_A): $(SDK_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SDK_SO): $(SDK_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ $(LDFLAGS_ALL) $(SDK_LIBS)

$(LIB_QUERY): $(QUERY_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_COLLECTOR): $(COLLECTOR_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The collector's rooms and the query engine call each other (HTTP handlers
# call the engine, the engine reads the store): their archives link as one group.
link_group = $(filter %.o,$(1)) -Wl,--start-group $(filter %.a,$(1)) -Wl,--end-group

$(COLLECTOR_BIN): $(O)/obj/collector/main.o $(LIB_COLLECTOR) $(LIB_QUERY) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(call link_group,$^) $(LDFLAGS_ALL) $(SERVER_LIBS)

$(CLI_BIN): $(CLI_OBJ) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(CLI_LIBS)

$(O)/bin/%: $(O)/obj/sdk/examples/%.o $(LIB_SDK_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(SDK_LIBS)

# Unit tests link only the room they test (by file name), so a half-built room
# never blocks another room's tests.  GNU make prefers the shortest stem.
$(O)/tests/test_sdk%: $(O)/obj/tests/unit/test_sdk%.o $(LIB_SDK_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(CMOCKA_LIBS) $(SDK_LIBS)

$(O)/tests/test_trace%: $(O)/obj/tests/unit/test_trace%.o $(LIB_QUERY) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(CMOCKA_LIBS) $(JANSSON_LIBS) $(Z_LIBS) -lm

$(O)/tests/test_query%: $(O)/obj/tests/unit/test_query%.o $(LIB_QUERY) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(CMOCKA_LIBS) $(JANSSON_LIBS) $(Z_LIBS) -lm

$(O)/tests/test_col%: $(O)/obj/tests/unit/test_col%.o $(LIB_COLLECTOR) $(LIB_QUERY) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(call link_group,$^) $(LDFLAGS_ALL) $(CMOCKA_LIBS) $(SERVER_LIBS)

# Everything else (test_wire, test_util, ...) tests the shared code alone.
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(CMOCKA_LIBS) $(Z_LIBS) -lm

# Benchmarks drive real binaries from outside; they link only the shared code
# (bench-sdk links the SDK, bench-query the collector's store).
$(O)/bin/bench-sdk: $(O)/obj/bench/bench-sdk.o $(BENCH_LIB_OBJ) $(LIB_SDK_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(SDK_LIBS) -lm

$(O)/bin/bench-query: $(O)/obj/bench/bench-query.o $(BENCH_LIB_OBJ) $(LIB_COLLECTOR) $(LIB_QUERY) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(call link_group,$^) $(LDFLAGS_ALL) $(SERVER_LIBS)

$(O)/bin/bench-%: $(O)/obj/bench/bench-%.o $(BENCH_LIB_OBJ) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(NNG_LIBS) $(Z_LIBS) -lm

# ---- the commands of README.md -----------------------------------------------
deps:
	@bash .ci/deps.sh

# make test: the suite on the release build, then (SL_FULL=1) the whole
# suite again under ASan+UBSan, the SDK's threaded tests under TSan and the
# SDK tests under valgrind.  `make test-fast` runs the release phase only.
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory -j$(JOBS) FLAVOR=asan all
	@O=$(O) SL_FULL=1 bash tests/run.sh

test-fast: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@O=$(O) bash tests/run.sh

asan: deps
	@$(MAKE) --no-print-directory -j$(JOBS) FLAVOR=asan all
	@O=build/asan SL_ASAN=1 bash tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BENCH_BINS)
	@O=$(O) bash bench/run.sh

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@O=$(O) bash sdk/examples/run-demo.sh

# libFuzzer targets (clang), each run for FUZZ_SECONDS; crashes land in build/fuzz/.
# Every tests/fuzz/fuzz_NAME.c is a target, fed build/fuzz/corpus-NAME (what
# it found) and tests/fuzz/corpus-NAME (seeds kept in the repo).  Targets
# beyond the shared code name their extra sources and libraries below.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(INC)
FUZZ_EXTRA_convert := collector/ingest/otlp_json.c collector/ingest/otlp_proto.c \
	collector/ingest/zipkin.c collector/ingest/pb.c collector/ingest/gzip.c \
	collector/ingest/otlp_common.c $(JANSSON_LIBS)
FUZZ_EXTRA_traceparent := $(SDK_SRC) $(NNG_LIBS) -pthread
FUZZ_EXTRA_config := collector/config.c
FUZZ_EXTRA_alert_rule := collector/alerts/alerts_rule.c query/slq_util.c $(JANSSON_LIBS)
FUZZ_EXTRA_query := -Itests/unit $(COLLECTOR_SRC) $(QUERY_SRC) $(SERVER_LIBS) $(CMOCKA_LIBS) -pthread
FUZZ_EXTRA_cold := collector/store/coldblock_enc.c collector/store/coldblock_dec.c $(ZSTD_LIBS)
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (libFuzzer): apt-get install -y clang"; exit 2; }
	@mkdir -p build/fuzz
	$(CC) $(CSTD) -O1 -g $(INC) -o build/fuzz/seed_wire tests/fuzz/seed_wire.c $(COMMON_SRC) -lz -lm
	@mkdir -p build/fuzz/corpus-wire && build/fuzz/seed_wire build/fuzz/corpus-wire
	@set -e; for t in $(FUZZ_TARGETS); do \
	  case $$t in convert) extra="$(FUZZ_EXTRA_convert)";; \
	    traceparent) extra="$(FUZZ_EXTRA_traceparent)";; \
	    config) extra="$(FUZZ_EXTRA_config)";; \
	    alert_rule) extra="$(FUZZ_EXTRA_alert_rule)";; \
	    query) extra="$(FUZZ_EXTRA_query)";; cold) extra="$(FUZZ_EXTRA_cold)";; *) extra="";; esac; \
	  clang $(FUZZ_CFLAGS) -o build/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c $(COMMON_SRC) $$extra -lz -lm; \
	  mkdir -p build/fuzz/corpus-$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/$$t- \
	    -print_final_stats=1 build/fuzz/corpus-$$t tests/fuzz/corpus-$$t 2>&1 | \
	    grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Test unit written|DONE' || true; \
	  if ls build/fuzz/$$t-crash-* build/fuzz/$$t-leak-* build/fuzz/$$t-timeout-* \
	      build/fuzz/$$t-oom-* >/dev/null 2>&1; then \
	    echo "fuzz_$$t found a failing input (build/fuzz/$$t-*): add it as a regression test"; \
	    exit 1; \
	  fi; \
	done

fmt:
	clang-format -i $(COMMON_SRC) $(SDK_SRC) $(QUERY_SRC) $(COLLECTOR_SRC) collector/main.c $(CLI_SRC) $(EXAMPLES_SRC) $(UNIT_SRC)

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
