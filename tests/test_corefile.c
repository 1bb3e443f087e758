/*
 * tenon_write_core(), byte for byte, on the made-up process of the test
 * plugin fakeosi (tests/plugins/fakeosi.c): its segments, split where
 * reads stop, their bytes, every note; and its failures, which a live
 * process cannot be made to show on cue: a process that exits while it is
 * written, memory that changes between the two passes, a provider that
 * lists a malformed mapping. gdb's view of a real process's core is
 * test_osi_cli's.
 */
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "testutil.h"

struct core {
    unsigned char *p;
    size_t len;
};

static char warnings[1024];

static void log_fn(void *ud, int level, const char *origin, const char *msg)
{
    (void)ud, (void)origin;
    if (level == TENON_LOG_WARN)
        snprintf(warnings, sizeof warnings, "%s", msg);
}

static tenon_t *open_osi(void)
{
    const char *dirs[] = {TEST_OSI_DIR};
    struct tenon_options o;
    tenon_t *t;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = 1;
    o.log_fn = log_fn;
    o.no_cache = 1;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

/* Write the core of `pid` through fakeosi:`spec` into a memory file and
 * return tenon_write_core()'s code, the bytes in *c. */
static int write_core(const char *spec, uint32_t pid, struct core *c)
{
    tenon_t *t = open_osi();
    tenon_instance_t *inst;
    int fd = memfd_create("core", MFD_CLOEXEC), rc;
    off_t end;
    assert_true(fd >= 0);
    assert_int_equal(tenon_create(t, spec, NULL, &inst), 0);
    warnings[0] = 0;
    rc = tenon_write_core(inst, pid, fd);
    tenon_destroy(inst);
    tenon_close(t);
    end = lseek(fd, 0, SEEK_END);
    c->len = (size_t)end;
    c->p = malloc(c->len ? c->len : 1);
    assert_non_null(c->p);
    assert_int_equal(pread(fd, c->p, c->len, 0), (ssize_t)c->len);
    close(fd);
    return rc;
}

static const Elf64_Phdr *phdr(const struct core *c, size_t i)
{
    const Elf64_Ehdr *eh = (const void *)c->p;
    assert_true(eh->e_phoff + (i + 1) * sizeof(Elf64_Phdr) <= c->len);
    return (const void *)(c->p + eh->e_phoff + i * sizeof(Elf64_Phdr));
}

/* The notes of type `type`, in order: how many, the i-th's desc. */
static size_t notes(const struct core *c, uint32_t type, size_t want_i,
                    const unsigned char **desc, size_t *size)
{
    const Elf64_Phdr *ph = phdr(c, 0);
    size_t off = ph->p_offset, end = off + ph->p_filesz, n = 0;
    assert_int_equal(ph->p_type, PT_NOTE);
    assert_true(end <= c->len);
    while (off < end) {
        const Elf64_Nhdr *nh = (const void *)(c->p + off);
        size_t name = off + sizeof *nh, d = name + ((nh->n_namesz + 3) & ~3u);
        assert_int_equal(nh->n_namesz, 5);
        assert_memory_equal(c->p + name, "CORE", 5);
        assert_true(d + nh->n_descsz <= end);
        if (nh->n_type == type && n++ == want_i) {
            *desc = c->p + d;
            *size = nh->n_descsz;
        }
        off = d + ((nh->n_descsz + 3) & ~3u);
    }
    assert_int_equal(off, end);
    return n;
}

static void test_layout(void **state)
{
    static const struct {
        uint64_t vaddr, memsz, filesz;
        uint32_t flags;
    } want[] = {
        {0x10000, 0x4000, 0x4000, PF_R | PF_W},
        {0x20000, 0x1000, 0x1000, PF_R},
        {0x21000, 0x1000, 0, PF_R}, /* unreadable */
        {0x22000, 0x800, 0x800, PF_R},
        {0x22800, 0x800, 0, PF_R}, /* stops mid-page */
        {0x23000, 0x1000, 0x1000, PF_R},
        {0x40000, 0x2000, 0x2000, PF_R | PF_X},
    };
    struct core c;
    const Elf64_Ehdr *eh;
    const unsigned char *d;
    size_t size, data_end = 0;
    (void)state;
    assert_int_equal(write_core("fakeosi", 42, &c), 0);
    eh = (const void *)c.p;
    assert_true(c.len > sizeof *eh);
    assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
    assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
    assert_int_equal(eh->e_type, ET_CORE);
    assert_int_equal(eh->e_machine, EM_X86_64);
    assert_int_equal(eh->e_phentsize, sizeof(Elf64_Phdr));
    assert_int_equal(eh->e_phnum, 1 + sizeof want / sizeof *want);
    assert_int_equal(eh->e_shnum, 0);

    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const Elf64_Phdr *ph = phdr(&c, i + 1);
        assert_int_equal(ph->p_type, PT_LOAD);
        assert_int_equal(ph->p_vaddr, want[i].vaddr);
        assert_int_equal(ph->p_memsz, want[i].memsz);
        assert_int_equal(ph->p_filesz, want[i].filesz);
        assert_int_equal(ph->p_flags, want[i].flags);
        assert_int_equal(ph->p_offset % 4096, 0);
        assert_true(ph->p_offset >= data_end);
        assert_true(ph->p_offset + ph->p_filesz <= c.len);
        for (size_t k = 0; k < ph->p_filesz; k++)
            if (c.p[ph->p_offset + k] != (((ph->p_vaddr + k) * 7) & 0xff))
                fail_msg("segment %zu, byte %zu differs", i, k);
        data_end = ph->p_offset + ph->p_filesz;
    }
    /* Ends with the last segment's bytes (then page padding only). */
    assert_true(c.len >= data_end && c.len - data_end < 4096);

    /* One NT_PRSTATUS per thread, registers zero. */
    assert_int_equal(notes(&c, NT_PRSTATUS, 0, &d, &size), 3);
    for (size_t i = 0; i < 3; i++) {
        struct elf_prstatus pr;
        notes(&c, NT_PRSTATUS, i, &d, &size);
        assert_int_equal(size, sizeof pr);
        memcpy(&pr, d, sizeof pr);
        assert_int_equal(pr.pr_pid, 42 + (int)i);
        assert_int_equal(pr.pr_ppid, 1);
        for (size_t r = 0; r < sizeof pr.pr_reg / sizeof *pr.pr_reg; r++)
            assert_int_equal(pr.pr_reg[r], 0);
    }
    struct elf_prpsinfo ps;
    assert_int_equal(notes(&c, NT_PRPSINFO, 0, &d, &size), 1);
    assert_int_equal(size, sizeof ps);
    memcpy(&ps, d, sizeof ps);
    assert_int_equal(ps.pr_pid, 42);
    assert_int_equal(ps.pr_ppid, 1);
    assert_int_equal(ps.pr_uid, 1000);
    assert_int_equal(ps.pr_sname, 'S');
    assert_string_equal(ps.pr_fname, "fake");
    assert_string_equal(ps.pr_psargs, "/fake/bin --flag x y");
    /* The whole auxv, though it is larger than the first buffer. */
    assert_int_equal(notes(&c, NT_AUXV, 0, &d, &size), 1);
    assert_int_equal(size, 5000);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(d[i], i & 0xff);
    /* NT_FILE: the one file mapping, its offset in pages. */
    static const uint64_t file_head[] = {1, 4096, 0x40000, 0x42000, 3};
    assert_int_equal(notes(&c, NT_FILE, 0, &d, &size), 1);
    assert_int_equal(size, sizeof file_head + sizeof "/fake/lib.so");
    assert_memory_equal(d, file_head, sizeof file_head);
    assert_string_equal((const char *)d + sizeof file_head, "/fake/lib.so");
    assert_string_equal(warnings, "");
    free(c.p);
}

/* A provider that lists no thread still gets one, the process's own. */
static void test_no_threads(void **state)
{
    struct core c;
    const unsigned char *d;
    size_t size;
    struct elf_prstatus pr;
    (void)state;
    assert_int_equal(write_core("fakeosi:mode=nothreads", 42, &c), 0);
    assert_int_equal(notes(&c, NT_PRSTATUS, 0, &d, &size), 1);
    memcpy(&pr, d, sizeof pr);
    assert_int_equal(pr.pr_pid, 42);
    free(c.p);
}

/* Memory that became unreadable after the layout was fixed: zeros where
 * the bytes were, the file still as its headers say, and a warning. */
static void test_shrink(void **state)
{
    struct core c;
    const Elf64_Phdr *ph;
    (void)state;
    assert_int_equal(write_core("fakeosi:mode=shrink", 42, &c), 0);
    ph = phdr(&c, 1);
    assert_int_equal(ph->p_vaddr, 0x10000);
    assert_int_equal(ph->p_filesz, 0x4000);
    assert_int_equal(c.p[ph->p_offset + 0xfff], (0x10fff * 7) & 0xff);
    for (size_t k = 0x1000; k < 0x4000; k++)
        assert_int_equal(c.p[ph->p_offset + k], 0);
    ph = phdr(&c, 2);
    assert_int_equal(c.p[ph->p_offset], (0x20000 * 7) & 0xff);
    assert_string_equal(warnings,
                        "the memory of process 42 changed while its core was "
                        "written: bytes that could no longer be read are "
                        "zeros");
    free(c.p);
}

static void test_failures(void **state)
{
    struct core c;
    (void)state;
    assert_int_equal(write_core("fakeosi:mode=exit", 42, &c), TENON_ENOENT);
    assert_string_equal(tenon_last_error(),
                        "process 42 exited while its core was written "
                        "(reading the memory: process 42 exited)");
    assert_int_equal(c.len, 0); /* nothing written before the layout */
    free(c.p);

    assert_int_equal(write_core("fakeosi:mode=badmap", 42, &c), TENON_EPLUGIN);
    assert_string_equal(tenon_last_error(),
                        "plugin 'fakeosi' listed a mapping of process 42 "
                        "from 0x20000 to 0x23ff0: expected page-aligned "
                        "bounds, start below end");
    assert_int_equal(c.len, 0);
    free(c.p);

    assert_int_equal(write_core("fakeosi", 7, &c), TENON_ENOENT);
    assert_string_equal(tenon_last_error(), "plugin 'fakeosi': no process 7");
    assert_int_equal(c.len, 0);
    free(c.p);
}

/* ---- a pipe: written in order, the same bytes as to a file --------------- */

struct drain {
    int fd;
    struct core c;
};

static void *drain(void *arg)
{
    struct drain *d = arg;
    size_t cap = 1 << 16;
    ssize_t n;
    d->c.p = malloc(cap);
    while (d->c.p && (n = read(d->fd, d->c.p + d->c.len, cap - d->c.len)) > 0)
        if ((d->c.len += (size_t)n) == cap)
            d->c.p = realloc(d->c.p, cap *= 2);
    return NULL;
}

static void test_pipe(void **state)
{
    struct core file;
    struct drain d = {0};
    tenon_t *t = open_osi();
    tenon_instance_t *inst;
    pthread_t th;
    int p[2];
    (void)state;
    assert_int_equal(write_core("fakeosi", 42, &file), 0);
    assert_int_equal(pipe(p), 0);
    d.fd = p[0];
    assert_int_equal(pthread_create(&th, NULL, drain, &d), 0);
    assert_int_equal(tenon_create(t, "fakeosi", NULL, &inst), 0);
    assert_int_equal(tenon_write_core(inst, 42, p[1]), 0);
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    assert_non_null(d.c.p);
    assert_int_equal(d.c.len, file.len);
    assert_memory_equal(d.c.p, file.p, file.len);
    tenon_destroy(inst);
    tenon_close(t);
    free(d.c.p);
    free(file.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout), cmocka_unit_test(test_no_threads),
        cmocka_unit_test(test_shrink), cmocka_unit_test(test_failures),
        cmocka_unit_test(test_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
