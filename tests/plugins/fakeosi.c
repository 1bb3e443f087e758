/*
 * "fakeosi": tenon.osi/1 for one made-up process, 42, whose address space
 * the test knows byte for byte, so that tenon_write_core()'s output can be
 * checked exactly and its failure paths reached on purpose (a live process
 * cannot be made to exit, or to change, at a chosen moment).
 *
 * Mappings of process 42 (byte at address a reads as (a * 7) & 0xff):
 *   0x10000-0x14000 rw-p anonymous
 *   0x20000-0x24000 r--p anonymous; unreadable 0x21000-0x22000 and
 *                   0x22800-0x23000 (a read stops mid-page there)
 *   0x30000-0x31000 ---p anonymous (no read access: left out)
 *   0x40000-0x42000 r-xp /fake/lib.so at file offset 0x3000
 * Threads 42, 43, 44 (mode=nothreads: none); an auxiliary vector of 5000
 * bytes (byte i is i & 0xff), more than a first 4 KiB buffer holds.
 *
 * mode=exit: reads of 0x40000 on fail as if the process had exited;
 * mode=shrink: reads of 0x10000 after the first stop at 0x11000;
 * mode=badmap: one mapping ends off a page boundary.
 */
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

TENON_PLUGIN_INFO("fakeosi", "1.0.0",
    TENON_DESCRIPTION("A made-up process for the core writer's tests")
    TENON_PROVIDES(TENON_OSI_ID)
    TENON_ARG_ENUM("mode", "good|exit|shrink|badmap|nothreads", "good",
                   "how the process misbehaves"));

enum { GOOD, EXIT, SHRINK, BADMAP, NOTHREADS };

struct fake {
    const struct tenon_host *host;
    struct tenon_instance *self;
    int mode;
    atomic_int reads_of_a; /* reads starting at 0x10000 */
};

#define PID 42u

static int no_process(struct fake *f, uint32_t pid)
{
    f->host->set_error(f->self, "no process %u", pid);
    return TENON_ENOENT;
}

static int processes(void *obj, unsigned want, tenon_osi_process_fn fn,
                     void *ud)
{
    static const char *const argv[] = {"/fake/bin", "--flag", "x y"};
    struct tenon_osi_process p = {sizeof p, PID,    1,           1000, 'S', {0},
                                  0,        "fake", "/fake/bin", argv, 3};
    (void)obj, (void)want;
    return fn(ud, &p);
}

static int process(void *obj, uint32_t pid, struct tenon_osi_process **out)
{
    static const char *const argv[] = {"/fake/bin", "--flag", "x y"};
    struct tenon_osi_process *p;
    if (pid != PID)
        return no_process(obj, pid);
    if (!(p = malloc(sizeof *p)))
        return TENON_ENOMEM;
    *p = (struct tenon_osi_process){sizeof *p,   PID,  1,          1000,
                                    'S',         {0},  123456789u, "fake",
                                    "/fake/bin", argv, 3};
    *out = p;
    return 0;
}

static void process_free(void *obj, struct tenon_osi_process *p)
{
    (void)obj;
    free(p);
}

static int threads(void *obj, uint32_t pid, tenon_osi_thread_fn fn, void *ud)
{
    struct fake *f = obj;
    if (pid != PID)
        return no_process(f, pid);
    for (uint32_t tid = PID; f->mode != NOTHREADS && tid < PID + 3; tid++) {
        struct tenon_osi_thread t = {sizeof t, tid, PID, 'S', {0}, "t"};
        int rc = fn(ud, &t);
        if (rc)
            return rc;
    }
    return 0;
}

static int mappings(void *obj, uint32_t pid, tenon_osi_mapping_fn fn, void *ud)
{
    struct fake *f = obj;
    struct tenon_osi_mapping m[] = {
        {sizeof *m, 3, 0, 0, 0, 0, 0x10000, 0x14000, 0, 0, ""},
        {sizeof *m, 1, 0, 0, 0, 0, 0x20000, 0x24000, 0, 0, ""},
        {sizeof *m, 0, 0, 0, 0, 0, 0x30000, 0x31000, 0, 0, ""},
        {sizeof *m, 5, 0, 8, 1, 0, 0x40000, 0x42000, 0x3000, 77,
         "/fake/lib.so"},
    };
    if (pid != PID)
        return no_process(f, pid);
    if (f->mode == BADMAP)
        m[1].end = 0x23ff0;
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        int rc = fn(ud, &m[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int current(void *obj, uint32_t *pid, uint32_t *tid)
{
    (void)obj;
    *pid = *tid = PID;
    return 0;
}

/* Where a read from `a` stops: the end of its readable stretch. */
static uint64_t readable_end(struct fake *f, uint64_t a, int first_of_a)
{
    if (a >= 0x10000 && a < 0x14000)
        return f->mode == SHRINK && a == 0x10000 && !first_of_a ? 0x11000
                                                                : 0x14000;
    if (a >= 0x20000 && a < 0x21000)
        return 0x21000;
    if (a >= 0x22000 && a < 0x22800)
        return 0x22800;
    if (a >= 0x23000 && a < 0x24000)
        return 0x24000;
    if (a >= 0x40000 && a < 0x42000)
        return 0x42000;
    return a; /* nothing readable here */
}

static uint32_t address_width(void *mem)
{
    (void)mem;
    return 64;
}

static int mem_read(void *mem, uint64_t addr, void *buf, size_t len,
                    size_t *done)
{
    struct fake *f = mem;
    unsigned char *out = buf;
    int first = 1;
    uint64_t end;
    *done = 0;
    if (f->mode == EXIT && addr >= 0x40000 && addr < 0x42000) {
        f->host->set_error(f->self, "process %u exited", PID);
        return TENON_ENOENT;
    }
    if (addr == 0x10000)
        first = atomic_fetch_add(&f->reads_of_a, 1) == 0;
    end = readable_end(f, addr, first);
    if (end - addr < len)
        len = (size_t)(end - addr);
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(((addr + i) * 7) & 0xff);
    *done = len;
    return 0;
}

static const struct tenon_memory_v1 memory = {sizeof memory, address_width,
                                              mem_read, NULL, NULL};

static int process_memory(void *obj, uint32_t pid,
                          const struct tenon_memory_v1 **vt, void **mem)
{
    if (pid != PID)
        return no_process(obj, pid);
    *vt = &memory;
    *mem = obj; /* nothing of its own to free */
    return 0;
}

static void process_memory_free(void *obj, void *mem) { (void)obj, (void)mem; }

static int auxv(void *obj, uint32_t pid, void *buf, size_t len, size_t *size)
{
    unsigned char *out = buf;
    if (pid != PID)
        return no_process(obj, pid);
    for (size_t i = 0; i < len && i < 5000; i++)
        out[i] = (unsigned char)(i & 0xff);
    *size = 5000;
    return 0;
}

static const struct tenon_osi_v1 osi = {
    sizeof osi,          processes, process,
    process_free,        threads,   mappings,
    NULL /* modules */,  current,   process_memory,
    process_memory_free, auxv};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    struct fake *f = calloc(1, sizeof *f);
    (void)input;
    if (!f)
        return TENON_ENOMEM;
    f->host = host;
    f->self = self;
    f->mode = (int)tenon_arg(a, "mode")->i;
    *obj = f;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_OSI_ID) == 0 ? &osi : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
