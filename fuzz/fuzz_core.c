/*
 * fuzz_core: the coredump plugin's core-file reader (plugins/coredump/core.c,
 * compiled in: a plugin links nothing of Tenon's).
 *
 * The input is a whole core file. When core_parse() takes it, every
 * accessor runs on the result: reads at the start, the end and across the
 * boundaries of each piece of the address space, with the mapped files
 * standing in as a pattern (cut short for every other file, as a file that
 * shrank), the regions with and without readable files, the process's
 * strings and the mappings.
 *
 * Besides the sanitizers, the target traps when a result breaks what the
 * plugin relies on: a refusal without a message; pieces or mappings out of
 * order or overlapping; core bytes outside the input; threads not
 * ascending and distinct; a read claiming more than asked or a region list
 * out of order.
 *
 * The seeds in fuzz/corpus/fuzz_core are real cores made small with
 * shrink_core (fuzz/shrink_core.c; fuzz/corpus/README says how), plus the
 * crash-* inputs that found bugs.
 */
#include "core.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tenon/plugin.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x))                                                              \
            __builtin_trap();                                                  \
    } while (0)

static long file_bytes(void *ud, uint32_t file, uint64_t off, void *buf,
                       size_t len)
{
    unsigned char *b = buf;
    (void)ud;
    if (file & 1)
        len /= 2;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(off + i + file);
    return (long)len;
}

static int readable(void *ud, uint32_t file)
{
    (void)ud;
    return !(file & 2);
}

struct seen {
    uint64_t end;
    size_t n;
};

static int on_region(void *ud, const struct core_region *r)
{
    struct seen *s = ud;
    CHECK(r->start < r->end && (s->n == 0 || r->start >= s->end));
    s->end = r->end;
    return ++s->n == 100000;
}

static void read_at(const struct core *c, const struct core_io *io,
                    uint64_t addr, size_t len)
{
    unsigned char buf[64];
    size_t done = 12345;
    if (len > sizeof buf)
        len = sizeof buf;
    CHECK(core_read(c, io, addr, buf, len, &done) == 0);
    CHECK(done <= len);
    /* What was read is where core_find() says it is. */
    if (done)
        CHECK(core_find(c, addr) != NULL);
}

static void check_pieces(const struct core *c, size_t size)
{
    for (size_t i = 0; i < c->npieces; i++) {
        const struct core_piece *p = &c->pieces[i];
        CHECK(p->start < p->end);
        CHECK(i == 0 || p->start >= c->pieces[i - 1].end);
        if (p->src == CORE_SRC_CORE)
            CHECK(p->off <= size && p->end - p->start <= size - p->off);
        if (p->src == CORE_SRC_FILE)
            CHECK(p->file < c->nfiles);
        CHECK(core_find(c, p->start) == p && core_find(c, p->end - 1) == p);
    }
    for (size_t i = 0; i < c->nmaps; i++) {
        const struct core_map *m = &c->maps[i];
        CHECK(m->start < m->end);
        CHECK(i == 0 || m->start >= c->maps[i - 1].end);
        CHECK(m->file == CORE_NOFILE || m->file < c->nfiles);
        CHECK(m->name != NULL);
    }
    for (size_t i = 0; i < c->nfiles; i++)
        CHECK(strlen(c->files[i].path) < size && c->files[i].head_len <= 4096);
    for (size_t i = 1; i < c->nthreads; i++)
        CHECK(c->tids[i] > c->tids[i - 1]);
    CHECK(c->nthreads >= 1 && c->nthreads <= CORE_MAX_THREADS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct core c;
    char err[512];
    const struct core_io with_files = {NULL, file_bytes, NULL};
    struct seen s = {0, 0};

    if (core_parse(&c, data, size, "fuzz", NULL, NULL, err, sizeof err)) {
        CHECK(err[0] != '\0');
        return 0;
    }
    check_pieces(&c, size);

    /* The process, as tenon.osi/1 hands it out. */
    CHECK(strlen(c.name) < sizeof c.name && strlen(c.exe) < size + 1);
    CHECK(c.argc < sizeof c.argv / sizeof c.argv[0] && !c.argv[c.argc]);
    for (size_t i = 0; i < c.argc; i++)
        CHECK(c.argv[i][0] && !strchr(c.argv[i], ' '));
    CHECK(!c.auxv || (c.auxv >= data && c.auxv + c.auxv_len <= data + size));

    /* Reads at and across the edges of the first pieces. */
    for (size_t i = 0; i < c.npieces && i < 256; i++) {
        const struct core_piece *p = &c.pieces[i];
        read_at(&c, &with_files, p->start, 64);
        read_at(&c, NULL, p->start, 1);
        read_at(&c, &with_files, p->end - 1, 1);
        read_at(&c, &with_files, p->end - 1, 2);
        read_at(&c, &with_files,
                p->end - p->start > 32 ? p->end - 32 : p->start, 64);
        read_at(&c, &with_files, p->end, 8);
    }
    read_at(&c, &with_files, 0, 64);
    read_at(&c, &with_files, UINT64_MAX - 8, 64);

    core_regions(&c, readable, NULL, on_region, &s);
    s = (struct seen){0, 0};
    core_regions(&c, NULL, NULL, on_region, &s);
    core_free(&c);
    return 0;
}
