# lush89: the only build system. `make` builds ./lush89; see README.md.
#   make [ARCH=x86-64-v3 | PORTABLE=1] [SANITIZE=1] [CI=1]
#                                           build (CI=1: warnings are errors)
#   make test | run | bench | deps | install | format | format-check
#   make fuzz [FUZZ_SECONDS=N]              libFuzzer on each tests/fuzz harness

CC      ?= gcc
PREFIX  ?= /usr/local
FUZZ_SECONDS ?= 30

# Each flavour builds in its own folder; ./lush89 is relinked whenever the
# flavour changes (build/flavour records the last one). ARCH picks the
# instruction set (-march); PORTABLE=1 is the baseline (SSE2) build.
ARCH    ?= native
ifdef PORTABLE
ARCH    :=
endif
ifdef SANITIZE
CC      := clang
FLAVOUR := sanitize
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
else
FLAVOUR := $(or $(ARCH),portable)
OPT     ?= -O3 $(if $(ARCH),-march=$(ARCH))
endif
BUILD   := build/$(FLAVOUR)
WERROR  := $(if $(CI),-Werror,)
INC     := -I. -Iinterp -Iruntime/idx -Iruntime/io -Iruntime/nn
# no-math-errno: sqrtf and friends may then vectorise; errno is never read.
CFLAGS  += -std=c11 -D_GNU_SOURCE $(INC) $(OPT) -fno-math-errno -g -Wall -Wextra $(WERROR) -MMD -MP
LDLIBS  := -lreadline -lgc -lpng -lz -lm -lpthread -lutil

SRC     := $(wildcard *.c interp/*.c runtime/*/*.c)
OBJ     := $(SRC:%.c=$(BUILD)/%.o)
CORE    := $(filter-out $(BUILD)/main.o,$(OBJ))
CTESTS  := $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(wildcard tests/c/test_*.c))
FORMATTED := $(wildcard *.[ch] interp/*.[ch] runtime/*/*.[ch] tests/c/*.[ch] tests/fuzz/*.c)

.PHONY: all deps run test bench install clean format format-check fuzz FORCE
all: lush89

deps:
	@sh .ci/deps

build/flavour: FORCE
	@mkdir -p build
	@echo $(FLAVOUR) | cmp -s - $@ || echo $(FLAVOUR) > $@

lush89: $(OBJ) build/flavour
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/c/%.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

test: deps all $(CTESTS)
	@sh tests/run.sh $(CTESTS)

run: deps all
	./lush89 scripts/lecun1989.lsp

bench: deps all
	@sh bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lush89/lib
	install -m 644 lib/*.lsp $(DESTDIR)$(PREFIX)/share/lush89/lib
	install -m 755 lush89 $(DESTDIR)$(PREFIX)/bin/lush89

format:
	clang-format -i $(FORMATTED)

# Fails, naming the files, when clang-format would change any of them.
format-check:
	@clang-format --dry-run -Werror $(FORMATTED)

# Each tests/fuzz/fuzz_NAME.c is linked with the interpreter built for
# libFuzzer and run for FUZZ_SECONDS on its seed corpus tests/fuzz/corpus/NAME
# (new inputs go to a temporary folder, never into the repository).
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE $(INC) -O1 -g -fno-omit-frame-pointer \
              -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=undefined
FUZZ_CORE  := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(filter-out main.c,$(SRC)))
FUZZERS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The fuzz objects are kept between runs, not deleted as intermediates.
.SECONDARY: $(FUZZ_CORE)

fuzz: $(FUZZERS)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

clean:
	rm -rf build lush89

-include $(OBJ:.o=.d) $(CTESTS:=.d)
