# lush89: the only build system. `make` builds ./lush89; see README.md.

CC      ?= gcc
PREFIX  ?= /usr/local
ifdef PORTABLE
ARCH    :=
else
ARCH    := -march=native
endif
OPT     ?= -O3 $(ARCH)
WERROR  := $(if $(CI),-Werror,)
# no-math-errno: sqrtf and friends may then vectorise; errno is never read.
INC     := -I. -Iinterp -Iruntime/idx -Iruntime/io -Iruntime/nn
CFLAGS  += -std=c11 -D_GNU_SOURCE $(INC) $(OPT) -fno-math-errno -g -Wall -Wextra $(WERROR) -MMD -MP
LDLIBS  := -lreadline -lgc -lpng -lz -lm -lpthread -lutil

SRC     := $(wildcard *.c interp/*.c runtime/*/*.c)
OBJ     := $(SRC:%.c=build/%.o)
CORE    := $(filter-out build/main.o,$(OBJ))
CTESTS  := $(patsubst tests/c/%.c,build/tests/%,$(wildcard tests/c/test_*.c))

.PHONY: all deps run test bench install clean format
all: lush89

deps:
	@sh .ci/deps

lush89: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

build/tests/%: tests/c/%.c $(CORE)
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
	clang-format -i *.[ch] interp/*.[ch] runtime/*/*.[ch] tests/c/*.[ch]

clean:
	rm -rf build lush89

-include $(OBJ:.o=.d) $(CTESTS:=.d)
