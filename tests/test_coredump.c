/*
 * The coredump plugin on real cores: gcore writes one of a live osi_target
 * (tests/helpers/osi_target.c), and what the plugin reads from it is
 * checked against the live process (/proc/PID/maps, /proc/PID/mem,
 * /proc/PID/auxv) and the files it maps. Then copies of that core, cut or
 * patched, and hand-made cores, each refused with its exact message.
 */
#include "testutil.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tenon/memory.h>
#include <tenon/osi.h>

/* The live process and its core, shared by every test. */
static struct {
    pid_t pid;
    int stdin_fd; /* closing it ends the target */
    uint64_t marker;
    size_t marker_len;
    uint32_t tids[3];
    char *dir, *core;
    tenon_t *t;
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;
} g;

/* ---- helpers ------------------------------------------------------------- */

static tenon_t *open_plugins(void)
{
    const char *dirs[] = {TEST_EXAMPLE_DIR}; /* build/plugins */
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_OFF,
                              .log_level = TENON_LOG_ERROR,
                              .no_cache = 1};
    tenon_t *t = NULL;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

static int create_core(const char *file, tenon_instance_t **out)
{
    char spec[PATH_MAX + 16];
    snprintf(spec, sizeof spec, "coredump:%s", file);
    return tenon_create(g.t, spec, NULL, out);
}

/* tenon_create() refuses `file` with `code` and, wrapped by the host, the
 * plugin's message `msg`. */
static void expect_refusal(const char *file, int code, const char *msg)
{
    char want[2048];
    tenon_instance_t *inst = NULL;
    assert_int_equal(create_core(file, &inst), code);
    assert_null(inst);
    snprintf(want, sizeof want,
             "plugin 'coredump' failed to create an instance: %s (%s)", msg,
             tenon_strerror(code));
    assert_string_equal(tenon_last_error(), want);
}

static void open_core(const char *file, tenon_instance_t **inst,
                      const struct tenon_osi_v1 **osi,
                      const struct tenon_memory_v1 **mem, void **obj)
{
    if (create_core(file, inst) != 0)
        fail_msg("coredump:%s: %s", file, tenon_last_error());
    *osi = tenon_get_interface(*inst, TENON_OSI_ID, obj);
    *mem = tenon_get_interface(*inst, TENON_MEMORY_ID, obj);
    assert_non_null(*osi);
    assert_non_null(*mem);
}

static int exec_gcore(void *arg)
{
    char **argv = arg;
    execvp(argv[0], argv);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    return 127;
}

/* Start osi_target and read the line it prints about itself. */
static void start_target(void)
{
    int in[2], out[2];
    char line[512];
    unsigned t0, t1, t2;
    unsigned long long marker;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    g.pid = fork();
    assert_true(g.pid >= 0);
    if (g.pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(126);
        execl(OSI_TARGET, OSI_TARGET, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    g.stdin_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_int_equal(sscanf(line,
                            "pid=%*d marker=%llx marker_len=%zu "
                            "buf=%*s buf_len=%*u tids=%u,%u,%u",
                            &marker, &g.marker_len, &t0, &t1, &t2),
                     5);
    g.marker = marker;
    g.tids[0] = t0;
    g.tids[1] = t1;
    g.tids[2] = t2;
}

static int group_setup(void **state)
{
    struct run r;
    char prefix[PATH_MAX], pid[32];
    (void)state;
    start_target();
    g.dir = make_tmpdir();
    snprintf(prefix, sizeof prefix, "%s/core", g.dir);
    snprintf(pid, sizeof pid, "%d", (int)g.pid);
    char *argv[] = {"gcore", "-o", prefix, pid, NULL};
    int timed_out = run_child(&r, 120000, exec_gcore, argv);
    if (timed_out || r.status != 0) {
        print_error("gcore %s with %d:\n%s%s\n",
                    timed_out ? "timed out" : "exited", r.status, r.out, r.err);
        run_free(&r);
        close(g.stdin_fd);
        waitpid(g.pid, NULL, 0);
        remove_tree(g.dir); /* with what gcore left, however large */
        return -1;
    }
    run_free(&r);
    g.core = malloc(PATH_MAX + 16);
    snprintf(g.core, PATH_MAX + 16, "%s.%d", prefix, (int)g.pid);
    g.t = open_plugins();
    open_core(g.core, &g.inst, &g.osi, &g.mem, &g.obj);
    return 0;
}

static int group_teardown(void **state)
{
    int status;
    (void)state;
    tenon_destroy(g.inst);
    tenon_close(g.t);
    close(g.stdin_fd);
    waitpid(g.pid, &status, 0);
    free(g.core);
    remove_tree(g.dir);
    return 0;
}

static void *read_all(const char *path, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    buf[st.st_size] = '\0';
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

/* A /proc file, whose size stat() does not tell. */
static char *read_proc(const char *path, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    ssize_t got;
    char *buf = malloc(cap + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while ((got = read(fd, buf + n, cap - n)) > 0) {
        n += (size_t)got;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    assert_int_equal(got, 0);
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void write_all(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* The core's program headers (the test's own parse, of a file it trusts). */
static Elf64_Phdr *core_phdrs(const void *core, size_t *n)
{
    Elf64_Ehdr eh;
    memcpy(&eh, core, sizeof eh);
    Elf64_Phdr *ph = calloc(eh.e_phnum, sizeof *ph);
    memcpy(ph, (const char *)core + eh.e_phoff, eh.e_phnum * sizeof *ph);
    *n = eh.e_phnum;
    return ph;
}

/* Calls fn for each note of the core: its file offset, type and owner. */
static void each_note(const char *core, size_t len,
                      void (*fn)(void *ud, size_t off, const Elf64_Nhdr *nh,
                                 const char *name),
                      void *ud)
{
    size_t n;
    Elf64_Phdr *ph = core_phdrs(core, &n);
    for (size_t i = 0; i < n; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        size_t pos = ph[i].p_offset, end = pos + ph[i].p_filesz;
        assert_true(end <= len);
        while (pos + sizeof(Elf64_Nhdr) <= end) {
            Elf64_Nhdr nh;
            memcpy(&nh, core + pos, sizeof nh);
            fn(ud, pos, &nh, core + pos + sizeof nh);
            pos += sizeof nh + ((nh.n_namesz + 3) & ~3u) +
                   ((nh.n_descsz + 3) & ~3u);
        }
    }
    free(ph);
}

/* ---- what the core holds --------------------------------------------- */

struct procs {
    size_t n;
    struct tenon_osi_process p;
    char name[64], exe[PATH_MAX], argv0[PATH_MAX];
};

static int on_process(void *ud, const struct tenon_osi_process *p)
{
    struct procs *ps = ud;
    ps->n++;
    ps->p = *p;
    snprintf(ps->name, sizeof ps->name, "%s", p->name);
    snprintf(ps->exe, sizeof ps->exe, "%s", p->exe);
    snprintf(ps->argv0, sizeof ps->argv0, "%s", p->argc ? p->argv[0] : "");
    return 0;
}

static void process_from_core(void **state)
{
    struct procs ps = {0};
    char exe[PATH_MAX];
    struct tenon_osi_process *p = NULL;
    (void)state;

    assert_non_null(realpath(OSI_TARGET, exe));
    assert_int_equal(
        g.osi->processes(g.obj, TENON_OSI_PROC_ALL, on_process, &ps), 0);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p.pid, (uint32_t)g.pid);
    assert_int_equal(ps.p.ppid, (uint32_t)getpid());
    assert_int_equal(ps.p.uid, (uint32_t)getuid());
    assert_string_equal(ps.name, "osi_target");
    assert_string_equal(ps.exe, exe);
    /* NT_PRPSINFO keeps the first 79 bytes of the command line. */
    assert_true(ps.p.argc >= 1);
    assert_true(strlen(ps.argv0) >=
                (strlen(OSI_TARGET) < 79 ? strlen(OSI_TARGET) : 79));
    assert_int_equal(strncmp(ps.argv0, OSI_TARGET, strlen(ps.argv0)), 0);

    assert_int_equal(g.osi->process(g.obj, (uint32_t)g.pid, &p), 0);
    assert_int_equal(p->pid, (uint32_t)g.pid);
    assert_int_equal(p->ppid, (uint32_t)getpid());
    assert_string_equal(p->name, "osi_target");
    assert_string_equal(p->exe, exe);
    assert_int_equal(p->argc, ps.p.argc);
    assert_string_equal(p->argv[0], ps.argv0);
    assert_null(p->argv[p->argc]);
    g.osi->process_free(g.obj, p);

    /* Only the core's own process is there. */
    uint32_t other = (uint32_t)g.pid + 1;
    char msg[PATH_MAX + 128];
    assert_int_equal(g.osi->process(g.obj, other, &p), TENON_ENOENT);
    assert_null(p);
    snprintf(msg, sizeof msg,
             "no process %u in core file %s: it holds "
             "process %d",
             other, g.core, (int)g.pid);
    assert_string_equal(tenon_instance_error(g.inst), msg);
}

struct tids {
    size_t n;
    uint32_t tid[8];
    int bad;
};

static int on_thread(void *ud, const struct tenon_osi_thread *t)
{
    struct tids *ts = ud;
    if (ts->n < 8)
        ts->tid[ts->n] = t->tid;
    ts->n++;
    if (t->pid != (uint32_t)g.pid || strcmp(t->name, "osi_target") != 0 ||
        t->state != '?')
        ts->bad = 1;
    return 0;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void threads_from_core(void **state)
{
    struct tids ts = {0};
    uint32_t want[3];
    (void)state;
    memcpy(want, g.tids, sizeof want);
    qsort(want, 3, sizeof *want, u32_cmp);
    assert_int_equal(g.osi->threads(g.obj, (uint32_t)g.pid, on_thread, &ts), 0);
    assert_int_equal(ts.n, 3);
    assert_false(ts.bad);
    for (int i = 0; i < 3; i++) /* ascending */
        assert_int_equal(ts.tid[i], want[i]);
    assert_int_equal(g.osi->threads(g.obj, 1, on_thread, &ts), TENON_ENOENT);
}

static void current_from_core(void **state)
{
    uint32_t pid, tid;
    (void)state;
    assert_int_equal(g.osi->current(g.obj, &pid, &tid), 0);
    assert_int_equal(pid, (uint32_t)g.pid);
    assert_true(tid == g.tids[0] || tid == g.tids[1] || tid == g.tids[2]);
}

struct maps {
    size_t n, files, checked;
    uint64_t last_end;
    int unordered, exe, libc, stack;
    char live[1 << 16]; /* /proc/PID/maps */
    char why[PATH_MAX + 256];
};

static int on_mapping(void *ud, const struct tenon_osi_mapping *m)
{
    struct maps *ms = ud;
    char exe[PATH_MAX], line[PATH_MAX + 128];
    ms->n++;
    if (m->start < ms->last_end || m->end <= m->start)
        ms->unordered = 1;
    ms->last_end = m->end;
    if (strcmp(m->path, "[stack]") == 0)
        ms->stack = 1;
    if (m->path[0] != '/')
        return 0;
    ms->files++;
    assert_non_null(realpath(OSI_TARGET, exe));
    if (strcmp(m->path, exe) == 0)
        ms->exe = 1;
    if (strstr(m->path, "/libc.so"))
        ms->libc = 1;
    /* Every file mapping is in the live process's maps, with the same
     * bounds, offset, rights and file. */
    snprintf(line, sizeof line, "%llx-%llx %c%c%c",
             (unsigned long long)m->start, (unsigned long long)m->end,
             m->prot & TENON_PROT_READ ? 'r' : '-',
             m->prot & TENON_PROT_WRITE ? 'w' : '-',
             m->prot & TENON_PROT_EXEC ? 'x' : '-');
    const char *at = strstr(ms->live, line);
    unsigned long long off;
    char path[PATH_MAX];
    if (!at ||
        sscanf(strchr(at, ' ') + 6, "%llx %*s %*u %4095s", &off, path) != 2 ||
        off != m->offset || strcmp(path, m->path) != 0) {
        snprintf(ms->why, sizeof ms->why, "%s %llx %s: not in /proc/%d/maps",
                 line, (unsigned long long)m->offset, m->path, (int)g.pid);
        return 1;
    }
    ms->checked++;
    return 0;
}

static void mappings_from_core(void **state)
{
    static struct maps ms;
    char path[64];
    size_t len;
    (void)state;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)g.pid);
    char *live = read_proc(path, &len);
    memset(&ms, 0, sizeof ms);
    snprintf(ms.live, sizeof ms.live, "%s", live);
    free(live);
    int rc = g.osi->mappings(g.obj, (uint32_t)g.pid, on_mapping, &ms);
    if (rc)
        fail_msg("%s", ms.why);
    assert_false(ms.unordered);
    assert_true(ms.exe);
    assert_true(ms.libc);
    assert_true(ms.stack);
    assert_true(ms.files >= 5);
    assert_int_equal(ms.checked, ms.files);
    assert_int_equal(g.osi->mappings(g.obj, 1, on_mapping, &ms), TENON_ENOENT);
    assert_null(g.osi->modules);
}

static void live_bytes(uint64_t addr, void *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)g.pid);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)addr), (ssize_t)len);
    close(fd);
}

static void marker_from_core(void **state)
{
    char got[256], live[256];
    size_t done = 0;
    (void)state;
    assert_true(g.marker_len < sizeof got);
    live_bytes(g.marker, live, g.marker_len);
    assert_memory_equal(live, "TENON-OSI-MARKER:", 17);
    assert_int_equal(g.mem->read(g.obj, g.marker, got, g.marker_len, &done), 0);
    assert_int_equal(done, g.marker_len);
    assert_memory_equal(got, live, g.marker_len);
    assert_int_equal(g.mem->address_width(g.obj), 64);
    assert_null(g.mem->write);
}

/* A page of libc's code that gcore did not store: the plugin reads it
 * from libc itself. */
struct pick {
    const Elf64_Phdr *ph;
    size_t nph;
    uint64_t page, offset;
    char path[PATH_MAX];
};

static int stored(const struct pick *pk, uint64_t addr)
{
    for (size_t i = 0; i < pk->nph; i++)
        if (pk->ph[i].p_type == PT_LOAD && addr >= pk->ph[i].p_vaddr &&
            addr < pk->ph[i].p_vaddr + pk->ph[i].p_filesz)
            return 1;
    return 0;
}

static int on_libc_code(void *ud, const struct tenon_osi_mapping *m)
{
    struct pick *pk = ud;
    if (!strstr(m->path, "/libc.so") || !(m->prot & TENON_PROT_EXEC))
        return 0;
    for (uint64_t a = m->start; a < m->end; a += 4096)
        if (!stored(pk, a)) {
            pk->page = a;
            pk->offset = m->offset + (a - m->start);
            snprintf(pk->path, sizeof pk->path, "%s", m->path);
            return 1;
        }
    return 0;
}

static void pick_libc_page(const char *core_path, struct pick *pk,
                           const struct tenon_osi_v1 *osi, void *obj)
{
    size_t len;
    char *core = read_all(core_path, &len);
    memset(pk, 0, sizeof *pk);
    pk->ph = core_phdrs(core, &pk->nph);
    free(core);
    if (osi->mappings(obj, (uint32_t)g.pid, on_libc_code, pk) != 1)
        fail_msg("gcore stored every page of libc's code: nothing to read "
                 "from the file");
    free((void *)pk->ph);
    pk->ph = NULL;
}

static void file_page(const char *path, uint64_t off, void *buf)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, 4096, (off_t)off), 4096);
    close(fd);
}

struct find_region {
    uint64_t addr;
    struct tenon_memory_region r;
    int found;
};

static int on_find_region(void *ud, const struct tenon_memory_region *r)
{
    struct find_region *f = ud;
    if (f->addr >= r->start && f->addr < r->end) {
        f->r = *r;
        f->found = 1;
    }
    return 0;
}

static struct tenon_memory_region region_of(const struct tenon_memory_v1 *mem,
                                            void *obj, uint64_t addr)
{
    struct find_region f = {addr, {0, 0, 0, 0}, 0};
    assert_int_equal(mem->regions(obj, on_find_region, &f), 0);
    assert_true(f.found);
    return f.r;
}

static void omitted_page_from_file(void **state)
{
    struct pick pk;
    unsigned char got[4096], want[4096];
    size_t done = 0;
    (void)state;
    pick_libc_page(g.core, &pk, g.osi, g.obj);
    file_page(pk.path, pk.offset, want);
    assert_int_equal(g.mem->read(g.obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, sizeof got);
    assert_memory_equal(got, want, sizeof got);
    struct tenon_memory_region r = region_of(g.mem, g.obj, pk.page);
    assert_true(r.readable);
    assert_true(r.prot & TENON_PROT_EXEC);
}

static void process_memory_view(void **state)
{
    const struct tenon_memory_v1 *vt = NULL;
    void *mem = NULL;
    char got[256];
    size_t done = 0;
    (void)state;
    assert_int_equal(g.osi->process_memory(g.obj, (uint32_t)g.pid, &vt, &mem),
                     0);
    assert_non_null(vt);
    assert_non_null(mem);
    assert_int_equal(vt->read(mem, g.marker, got, g.marker_len, &done), 0);
    assert_int_equal(done, g.marker_len);
    assert_memory_equal(got, "TENON-OSI-MARKER:", 17);
    g.osi->process_memory_free(g.obj, mem);

    vt = (const void *)1;
    mem = (void *)1;
    assert_int_equal(g.osi->process_memory(g.obj, 1, &vt, &mem), TENON_ENOENT);
    assert_null(vt);
    assert_null(mem);
}

static void auxv_from_core(void **state)
{
    char path[64];
    size_t live_len, size = 0;
    (void)state;
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)g.pid);
    char *live = read_proc(path, &live_len);
    assert_non_null(g.osi->auxv);
    assert_int_equal(g.osi->auxv(g.obj, (uint32_t)g.pid, NULL, 0, &size), 0);
    assert_int_equal(size, live_len);
    char *buf = malloc(size);
    assert_int_equal(g.osi->auxv(g.obj, (uint32_t)g.pid, buf, size, &size), 0);
    assert_memory_equal(buf, live, size);
    free(buf);
    free(live);
}

struct regions {
    size_t n;
    uint64_t last_end;
    int unordered;
};

static int on_region(void *ud, const struct tenon_memory_region *r)
{
    struct regions *rs = ud;
    if (r->start < rs->last_end || r->end <= r->start)
        rs->unordered = 1;
    rs->last_end = r->end;
    rs->n++;
    return 0;
}

static int stop_at_third(void *ud, const struct tenon_memory_region *r)
{
    (void)r;
    return ++*(int *)ud == 3 ? 42 : 0;
}

static void regions_from_core(void **state)
{
    struct regions rs = {0};
    int count = 0;
    (void)state;
    assert_int_equal(g.mem->regions(g.obj, on_region, &rs), 0);
    assert_false(rs.unordered);
    assert_true(rs.n >= 10);
    struct tenon_memory_region r = region_of(g.mem, g.obj, g.marker);
    assert_true(r.readable);
    assert_int_equal(r.prot, TENON_PROT_READ | TENON_PROT_WRITE);
    assert_int_equal(g.mem->regions(g.obj, stop_at_third, &count), 42);
    assert_int_equal(count, 3);
}

/* The end of a region with no readable region right after it. */
struct hole {
    uint64_t end;
    int open; /* the last region seen was readable */
    uint64_t found;
};

static int on_hole(void *ud, const struct tenon_memory_region *r)
{
    struct hole *h = ud;
    if (h->open && !h->found && (r->start != h->end || !r->readable))
        h->found = h->end;
    h->open = r->readable != 0;
    h->end = r->end;
    return 0;
}

static void reads_stop_at_holes(void **state)
{
    struct hole h = {0, 0, 0};
    char buf[64];
    size_t done = 99;
    (void)state;
    assert_int_equal(g.mem->read(g.obj, 0, buf, sizeof buf, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(g.mem->read(g.obj, g.marker, buf, 0, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(g.mem->regions(g.obj, on_hole, &h), 0);
    assert_true(h.found > 16);
    assert_int_equal(g.mem->read(g.obj, h.found - 16, buf, 32, &done), 0);
    assert_int_equal(done, 16);
}

/* A read large enough to go through pread() gives the bytes the small
 * reads, copied from the mapping, give. */
struct biggest {
    uint64_t start, len;
};

static int on_biggest(void *ud, const struct tenon_memory_region *r)
{
    struct biggest *b = ud;
    if (r->readable && r->end - r->start > b->len) {
        b->start = r->start;
        b->len = r->end - r->start;
    }
    return 0;
}

static void compare_large_and_small(const struct tenon_memory_v1 *mem,
                                    void *obj)
{
    struct biggest b = {0, 0};
    size_t done;
    assert_int_equal(mem->regions(obj, on_biggest, &b), 0);
    assert_true(b.len >= (1u << 20));
    size_t len = 1u << 20;
    unsigned char *big = malloc(len), *small = malloc(len);
    assert_int_equal(mem->read(obj, b.start, big, len, &done), 0);
    assert_int_equal(done, len);
    for (size_t off = 0; off < len; off += 4000) {
        size_t n = len - off < 4000 ? len - off : 4000;
        assert_int_equal(mem->read(obj, b.start + off, small + off, n, &done),
                         0);
        assert_int_equal(done, n);
    }
    assert_memory_equal(big, small, len);
    free(big);
    free(small);
}

static void large_reads_equal_small_ones(void **state)
{
    (void)state;
    compare_large_and_small(g.mem, g.obj);
}

static void declines_without_file(void **state)
{
    tenon_instance_t *inst = NULL;
    (void)state;
    assert_int_equal(tenon_create(g.t, "coredump", NULL, &inst),
                     TENON_EDECLINE);
    assert_null(inst);
    assert_string_equal(tenon_last_error(),
                        "plugin 'coredump' declined: no core file given "
                        "(coredump:FILE)");
}

/* ---- bad files ----------------------------------------------------------- */

static char *msg(const char *fmt, ...) TENON_PRINTF(1, 2);
static char *msg(const char *fmt, ...)
{
    static char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

static void refuses_empty_file(void **state)
{
    char *path = path_join(*state, "empty");
    write_all(path, "", 0);
    expect_refusal(
        path, TENON_EINVAL,
        msg("%s is empty (0 bytes), expected an ELF core file", path));
    free(path);
}

static void refuses_text_file(void **state)
{
    char *path = path_join(*state, "notes.txt");
    const char text[] = "this is not a core file\n";
    write_all(path, text, sizeof text - 1);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s is not an ELF file: it does not start with the ELF "
                       "magic 7f 45 4c 46, expected an ELF core file",
                       path));
    free(path);
}

static void refuses_other_elf_files(void **state)
{
    Elf64_Ehdr eh;
    size_t len;
    (void)state;
    expect_refusal(TEST_EXAMPLE_DIR "/hello.so", TENON_EINVAL,
                   TEST_EXAMPLE_DIR "/hello.so is an ELF shared object, not a "
                                    "core file (ET_CORE)");
    /* /bin/true is a position-independent executable (ET_DYN) on most
     * systems, a plain one (ET_EXEC) on some. */
    char *elf = read_all("/bin/true", &len);
    memcpy(&eh, elf, sizeof eh);
    free(elf);
    assert_true(eh.e_type == ET_DYN || eh.e_type == ET_EXEC);
    expect_refusal("/bin/true", TENON_EINVAL,
                   msg("/bin/true is %s, not a core file (ET_CORE)",
                       eh.e_type == ET_DYN ? "an ELF shared object"
                                           : "an ELF executable"));
}

static void refuses_directory_and_missing_file(void **state)
{
    char *missing = path_join(*state, "no-such-core");
    expect_refusal(
        *state, TENON_EINVAL,
        msg("%s is a directory, expected an ELF core file", (char *)*state));
    expect_refusal(
        missing, TENON_ENOENT,
        msg("cannot open core file %s: No such file or directory", missing));
    free(missing);
}

/* A copy of the real core, in memory, to cut or patch. */
static char *core_copy(size_t *len) { return read_all(g.core, len); }

static void refuses_truncated_core(void **state)
{
    size_t len, n, last = SIZE_MAX;
    char *core = core_copy(&len), *path = path_join(*state, "cut");
    Elf64_Phdr *ph = core_phdrs(core, &n);
    /* Cut in the middle of the segment stored last: the one cut. */
    for (size_t i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_filesz >= 2 &&
            (last == SIZE_MAX || ph[i].p_offset > ph[last].p_offset))
            last = i;
    assert_true(last != SIZE_MAX);
    size_t cut = ph[last].p_offset + ph[last].p_filesz / 2;
    write_all(path, core, cut);
    expect_refusal(
        path, TENON_EINVAL,
        msg("%s: truncated core: segment %zu (PT_LOAD at 0x%llx) "
            "needs bytes up to %llu, the file has %zu",
            path, last, (unsigned long long)ph[last].p_vaddr,
            (unsigned long long)(ph[last].p_offset + ph[last].p_filesz), cut));
    free(ph);
    free(core);
    free(path);
}

static size_t note_segment(const char *core, Elf64_Phdr **ph)
{
    size_t n;
    *ph = core_phdrs(core, &n);
    for (size_t i = 0; i < n; i++)
        if ((*ph)[i].p_type == PT_NOTE)
            return i;
    fail_msg("the core has no PT_NOTE");
    return 0;
}

static void put_phdr(char *core, size_t i, const Elf64_Phdr *ph)
{
    Elf64_Ehdr eh;
    memcpy(&eh, core, sizeof eh);
    memcpy(core + eh.e_phoff + i * sizeof *ph, ph, sizeof *ph);
}

static void refuses_notes_past_the_end(void **state)
{
    size_t len;
    char *core = core_copy(&len), *path = path_join(*state, "notes");
    Elf64_Phdr *ph;
    size_t k = note_segment(core, &ph);
    ph[k].p_filesz = len - ph[k].p_offset + 100;
    put_phdr(core, k, &ph[k]);
    write_all(path, core, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: truncated core: segment %zu (PT_NOTE) needs bytes "
                       "up to %zu, the file has %zu",
                       path, k, len + 100, len));
    free(ph);
    free(core);
    free(path);
}

static void refuses_note_past_its_segment(void **state)
{
    size_t len;
    char *core = core_copy(&len), *path = path_join(*state, "desc");
    Elf64_Phdr *ph;
    size_t k = note_segment(core, &ph);
    Elf64_Nhdr nh;
    memcpy(&nh, core + ph[k].p_offset, sizeof nh);
    nh.n_descsz = 0x7fffffff;
    memcpy(core + ph[k].p_offset, &nh, sizeof nh);
    write_all(path, core, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: note 0 in segment %zu (at file offset %llu) has "
                       "namesz %u and descsz 2147483647, which run past the "
                       "end of its segment (%llu bytes left)",
                       path, k, (unsigned long long)ph[k].p_offset, nh.n_namesz,
                       (unsigned long long)ph[k].p_filesz));
    free(ph);
    free(core);
    free(path);
}

static void refuses_overlapping_segments(void **state)
{
    size_t len, n, a = 0, b = 0, found = 0;
    char *core = core_copy(&len), *path = path_join(*state, "overlap");
    Elf64_Phdr *ph = core_phdrs(core, &n);
    /* The first two PT_LOADs: the second moved into the first. */
    for (size_t i = 0; i < n && found < 2; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_memsz > 0x10)
            *(found++ ? &b : &a) = i;
    assert_int_equal(found, 2);
    ph[b].p_vaddr = ph[a].p_vaddr + 0x10;
    put_phdr(core, b, &ph[b]);
    write_all(path, core, len);
    expect_refusal(
        path, TENON_EINVAL,
        msg("%s: segments %zu and %zu overlap in memory (0x%llx-0x%llx and "
            "0x%llx-0x%llx)",
            path, a, b, (unsigned long long)ph[a].p_vaddr,
            (unsigned long long)(ph[a].p_vaddr + ph[a].p_memsz),
            (unsigned long long)ph[b].p_vaddr,
            (unsigned long long)(ph[b].p_vaddr + ph[b].p_memsz)));
    free(ph);
    free(core);
    free(path);
}

struct find_note {
    uint32_t type;
    size_t off; /* of the note's header; 0: none */
    uint32_t descsz;
};

static void on_note(void *ud, size_t off, const Elf64_Nhdr *nh,
                    const char *name)
{
    struct find_note *f = ud;
    if (!f->off && nh->n_type == f->type && nh->n_namesz == 5 &&
        memcmp(name, "CORE", 5) == 0) {
        f->off = off;
        f->descsz = nh->n_descsz;
    }
}

static size_t find_note(const char *core, size_t len, uint32_t type,
                        uint32_t *descsz)
{
    struct find_note f = {type, 0, 0};
    each_note(core, len, on_note, &f);
    assert_true(f.off != 0);
    if (descsz)
        *descsz = f.descsz;
    return f.off;
}

static void refuses_core_without_prpsinfo(void **state)
{
    size_t len;
    char *core = core_copy(&len), *path = path_join(*state, "noprpsinfo");
    size_t off = find_note(core, len, NT_PRPSINFO, NULL);
    uint32_t other = 0x4444;
    memcpy(core + off + 8, &other, 4); /* n_type */
    write_all(path, core, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s has no NT_PRPSINFO note (the process: pid, name, "
                       "arguments)",
                       path));
    free(core);
    free(path);
}

/* NT_FILE claiming 2^60 mappings: refused for what its size can hold,
 * before anything is allocated for them. */
static void refuses_huge_ntfile_count(void **state)
{
    size_t len;
    uint32_t descsz;
    char *core = core_copy(&len), *path = path_join(*state, "ntfile");
    size_t off = find_note(core, len, NT_FILE, &descsz);
    uint64_t count = 1ull << 60;
    memcpy(core + off + sizeof(Elf64_Nhdr) + 8, &count, 8); /* after "CORE" */
    write_all(path, core, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: the NT_FILE note claims 1152921504606846976 "
                       "mappings, but its %u bytes hold at most %u",
                       path, descsz, (descsz - 16) / 24));
    free(core);
    free(path);
}

/* ---- hand-made cores ----------------------------------------------------- */

/* A minimal core: the ELF header, `nph` program headers (a PT_NOTE first,
 * then PT_LOADs of `load_size` bytes at 0x10000, 0x20000...), then the
 * notes `notes`, then the segments' bytes. */
static size_t make_core(char *buf, size_t cap, int nloads, size_t load_size,
                        const void *notes, size_t notes_len)
{
    Elf64_Ehdr eh = {0};
    size_t nph = 1 + (size_t)nloads;
    size_t notes_off = sizeof eh + nph * sizeof(Elf64_Phdr);
    size_t data_off = notes_off + notes_len;
    size_t len = data_off + (size_t)nloads * load_size;
    assert_true(len <= cap);
    memset(buf, 0, len);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = (Elf64_Half)nph;
    memcpy(buf, &eh, sizeof eh);
    Elf64_Phdr ph = {0};
    ph.p_type = PT_NOTE;
    ph.p_offset = notes_off;
    ph.p_filesz = notes_len;
    memcpy(buf + sizeof eh, &ph, sizeof ph);
    for (int i = 0; i < nloads; i++) {
        ph.p_type = PT_LOAD;
        ph.p_flags = PF_R | PF_W;
        ph.p_offset = data_off + (size_t)i * load_size;
        ph.p_vaddr = 0x10000 * (uint64_t)(i + 1);
        ph.p_filesz = ph.p_memsz = load_size;
        memcpy(buf + sizeof eh + (size_t)(i + 1) * sizeof ph, &ph, sizeof ph);
        memset(buf + ph.p_offset, 'a' + i, load_size);
    }
    memcpy(buf + notes_off, notes, notes_len);
    return len;
}

/* Append a note of owner CORE. */
static size_t add_note(char *notes, size_t at, uint32_t type, const void *desc,
                       uint32_t descsz)
{
    Elf64_Nhdr nh = {5, descsz, type};
    memcpy(notes + at, &nh, sizeof nh);
    memcpy(notes + at + sizeof nh, "CORE\0\0\0", 8);
    memcpy(notes + at + sizeof nh + 8, desc, descsz);
    return at + sizeof nh + 8 + ((descsz + 3) & ~3u);
}

static size_t process_notes(char *notes, uint32_t pid)
{
    unsigned char prpsinfo[136] = {0}, prstatus[336] = {0};
    memcpy(prpsinfo + 24, &pid, 4);
    memcpy(prpsinfo + 40, "handmade", 8);
    memcpy(prpsinfo + 56, "handmade  -x   y", 16);
    prpsinfo[1] = 'S';
    memcpy(prstatus + 32, &pid, 4);
    size_t at = add_note(notes, 0, NT_PRPSINFO, prpsinfo, sizeof prpsinfo);
    return add_note(notes, at, NT_PRSTATUS, prstatus, sizeof prstatus);
}

static void reads_handmade_core(void **state)
{
    static char buf[1 << 16], notes[4096];
    char *path = path_join(*state, "handmade");
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;
    struct procs ps = {0};
    char got[8];
    size_t done;

    size_t n = process_notes(notes, 4242);
    write_all(path, buf, make_core(buf, sizeof buf, 2, 0x100, notes, n));
    open_core(path, &inst, &osi, &mem, &obj);
    assert_int_equal(osi->processes(obj, TENON_OSI_PROC_ALL, on_process, &ps),
                     0);
    assert_int_equal(ps.p.pid, 4242);
    assert_string_equal(ps.name, "handmade");
    assert_int_equal(ps.p.state, 'S');
    assert_string_equal(ps.exe, "");
    assert_int_equal(ps.p.argc, 3); /* split at runs of spaces */
    /* A read stops at the gap after the first segment. */
    assert_int_equal(mem->read(obj, 0x100fc, got, 8, &done), 0);
    assert_int_equal(done, 4);
    assert_memory_equal(got, "aaaa", 4);
    assert_int_equal(mem->read(obj, 0x20000, got, 8, &done), 0);
    assert_int_equal(done, 8);
    assert_memory_equal(got, "bbbbbbbb", 8);
    tenon_destroy(inst);
    free(path);
}

static void refuses_handmade_hostile_cores(void **state)
{
    static char buf[1 << 16], notes[4096];
    char *path = path_join(*state, "hostile");
    size_t n = process_notes(notes, 1), len;

    /* PN_XNUM, with section header 0 claiming 2^32-1 program headers. */
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    Elf64_Shdr sh = {0};
    memcpy(&eh, buf, sizeof eh);
    eh.e_phnum = PN_XNUM;
    eh.e_shoff = len;
    eh.e_shentsize = sizeof sh;
    eh.e_shnum = 1;
    memcpy(buf, &eh, sizeof eh);
    sh.sh_info = 0xffffffff;
    memcpy(buf + len, &sh, sizeof sh);
    write_all(path, buf, len + sizeof sh);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s has 4294967295 program headers, more than the "
                       "1048576 this reader takes",
                       path));

    /* NT_FILE with 2^60 mappings and nothing else. */
    uint64_t ntfile[2] = {1ull << 60, 4096};
    size_t at = add_note(notes, n, NT_FILE, ntfile, sizeof ntfile);
    write_all(path, buf, make_core(buf, sizeof buf, 1, 0x100, notes, at));
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: the NT_FILE note claims 1152921504606846976 "
                       "mappings, but its 16 bytes hold at most 0",
                       path));

    /* A segment whose end wraps around the address space. */
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    memcpy(&ph, buf + sizeof eh + sizeof ph, sizeof ph);
    ph.p_vaddr = UINT64_MAX - 0x10;
    memcpy(buf + sizeof eh + sizeof ph, &ph, sizeof ph);
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: segment 1 (PT_LOAD at 0x%llx, 256 bytes) runs "
                       "past the end of the address space",
                       path, (unsigned long long)ph.p_vaddr));

    /* Program headers past the end of the file. */
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    memcpy(&eh, buf, sizeof eh);
    eh.e_phoff = len - 100;
    memcpy(buf, &eh, sizeof eh);
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: the program headers (2 x 56 bytes at offset %zu) "
                       "run past the end of the file (%zu bytes)",
                       path, len - 100, len));

    /* Notes that end in a piece of a note header. */
    memset(notes + n, 0, 5);
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n + 5);
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s: note 2 in segment 0 (at file offset %zu) is cut: "
                       "a note header needs 12 bytes, the segment has 5 left",
                       path, sizeof eh + 2 * sizeof ph + n));

    /* A 32-bit core. */
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    buf[EI_CLASS] = ELFCLASS32;
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s is a 32-bit ELF file (ELFCLASS32); only 64-bit "
                       "little-endian x86-64 cores (ELFCLASS64, ELFDATA2LSB, "
                       "EM_X86_64) are supported",
                       path));

    /* Big-endian, and for another machine. */
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    buf[EI_DATA] = ELFDATA2MSB;
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s is a big-endian ELF file (ELFDATA2MSB); only "
                       "64-bit little-endian x86-64 cores (ELFCLASS64, "
                       "ELFDATA2LSB, EM_X86_64) are supported",
                       path));
    len = make_core(buf, sizeof buf, 1, 0x100, notes, n);
    memcpy(&eh, buf, sizeof eh);
    eh.e_machine = EM_AARCH64;
    memcpy(buf, &eh, sizeof eh);
    write_all(path, buf, len);
    expect_refusal(path, TENON_EINVAL,
                   msg("%s is a core file for AArch64 (EM_AARCH64), e_machine "
                       "183; only 64-bit little-endian x86-64 cores "
                       "(ELFCLASS64, ELFDATA2LSB, EM_X86_64) are supported",
                       path));

    /* No thread. */
    unsigned char prpsinfo[136] = {0};
    at = add_note(notes, 0, NT_PRPSINFO, prpsinfo, sizeof prpsinfo);
    write_all(path, buf, make_core(buf, sizeof buf, 1, 0x100, notes, at));
    expect_refusal(path, TENON_EINVAL,
                   msg("%s has no NT_PRSTATUS note (one per thread: its id "
                       "and registers)",
                       path));
    free(path);
}

/* ---- the files a core names -------------------------------------------- */

static int on_libc_head(void *ud, const struct tenon_osi_mapping *m)
{
    uint64_t *start = ud;
    if (!strstr(m->path, "/libc.so") || m->offset != 0)
        return 0;
    *start = m->start;
    return 1;
}

/* Whoever wrote a core chose the files it names, for whoever reads it
 * (often root) to read on their behalf: /etc/shadow, /proc/PID/mem. A file
 * is read only when the core holds its whole first page and it is ELF. */

/* A copy of the core whose libc mapping at offset 0 claims another offset:
 * the core then holds none of libc's first page. Whatever its owner or
 * mode, libc's left-out pages are unreadable. */
static void core_without_a_files_head_reads_nothing_of_it(void **state)
{
    struct pick pk;
    unsigned char got[4096];
    uint64_t head = 0;
    size_t done, len;
    uint32_t descsz;
    int patched = 0;

    pick_libc_page(g.core, &pk, g.osi, g.obj);
    assert_int_equal(
        g.osi->mappings(g.obj, (uint32_t)g.pid, on_libc_head, &head), 1);
    char *core = read_all(g.core, &len);
    size_t off = find_note(core, len, NT_FILE, &descsz);
    char *desc = core + off + sizeof(Elf64_Nhdr) + 8;
    uint64_t count;
    memcpy(&count, desc, 8);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t e[3];
        memcpy(e, desc + 16 + 24 * i, sizeof e);
        if (e[0] == head && e[2] == 0) {
            e[2] = 0x1000000; /* pages */
            memcpy(desc + 16 + 24 * i, e, sizeof e);
            patched++;
        }
    }
    assert_int_equal(patched, 1);
    for (int shared = 0; shared < 2; shared++) {
        char *path = path_join(*state, shared ? "shared" : "private");
        tenon_instance_t *inst;
        const struct tenon_osi_v1 *osi;
        const struct tenon_memory_v1 *mem;
        void *obj;
        write_all(path, core, len);
        assert_int_equal(chmod(path, shared ? 0666 : 0600), 0);
        open_core(path, &inst, &osi, &mem, &obj);
        done = 7;
        assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
        assert_int_equal(done, 0);
        tenon_destroy(inst);
        free(path);
    }
    free(core);
}

/* A copy of the core whose NT_FILE names, instead of libc, `stand_in` (a
 * path of the same length, made in `dir`). Returns the copy's path. */
static char *core_naming(const char *dir, const char *libc, char **stand_in)
{
    size_t len, plen = strlen(libc), dlen = strlen(dir);
    char *core = core_copy(&len), *path = path_join(dir, "renamed");
    if (!*stand_in) {
        assert_true(dlen + 2 < plen);
        /* dir/xxx...x, as long as libc's path */
        *stand_in = malloc(plen + 1);
        snprintf(*stand_in, plen + 1, "%s/%0*d", dir, (int)(plen - dlen - 1),
                 0);
    }
    assert_int_equal(strlen(*stand_in), plen);
    uint32_t descsz;
    size_t off = find_note(core, len, NT_FILE, &descsz);
    char *desc = core + off + sizeof(Elf64_Nhdr) + 8;
    int renamed = 0;
    for (char *s = desc; s + plen < desc + descsz; s++)
        if (memcmp(s, libc, plen + 1) == 0) {
            memcpy(s, *stand_in, plen);
            renamed++;
        }
    assert_true(renamed >= 1); /* once per mapping */
    write_all(path, core, len);
    free(core);
    return path;
}

/* The core names /proc/self/mem (spelled as long as libc's path) where it
 * named libc: with libc's ELF header in the core, libc's left-out pages
 * would be read at their offsets in the reader's own memory. */
static void core_naming_proc_mem_reads_nothing(void **state)
{
    struct pick pk;
    unsigned char got[4096];
    size_t done = 7, plen;
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;

    pick_libc_page(g.core, &pk, g.osi, g.obj);
    plen = strlen(pk.path);
    char *spelled = malloc(plen + 1);
    /* "/proc/self" "/." ... "/mem", one "/" doubled for odd lengths */
    size_t at = (size_t)snprintf(spelled, plen + 1, "/proc/self");
    while (at + 4 + 2 <= plen)
        at += (size_t)snprintf(spelled + at, plen + 1 - at, "/.");
    if (at + 4 < plen)
        spelled[at++] = '/';
    snprintf(spelled + at, plen + 1 - at, "/mem");
    char *core_path = core_naming(*state, pk.path, &spelled);
    open_core(core_path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, 0);
    tenon_destroy(inst);
    free(spelled);
    free(core_path);
}

static void omitted_pages_come_from_a_matching_file_only(void **state)
{
    struct pick pk;
    char *stand_in, *core_path;
    unsigned char got[4096], want[4096];
    size_t len, done;
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;

    pick_libc_page(g.core, &pk, g.osi, g.obj);
    stand_in = NULL;
    core_path = core_naming(*state, pk.path, &stand_in);
    char *libc = read_all(pk.path, &len);
    file_page(pk.path, pk.offset, want);

    /* A copy of libc: the same bytes. */
    write_all(stand_in, libc, len);
    open_core(core_path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, sizeof got);
    assert_memory_equal(got, want, sizeof got);
    tenon_destroy(inst);

    /* Changed in its first page (the ELF header the core holds too): not
     * the file that was mapped, so nothing is read from it. */
    libc[200] ^= 0x55;
    write_all(stand_in, libc, len);
    libc[200] ^= 0x55;
    open_core(core_path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, 0);
    assert_false(region_of(mem, obj, pk.page).readable);
    tenon_destroy(inst);

    /* Cut short of the page: the page is unreadable, what is before it
     * still reads. */
    write_all(stand_in, libc, pk.offset);
    open_core(core_path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(mem->read(obj, pk.page - 16, got, 32, &done), 0);
    assert_int_equal(done, 16);
    tenon_destroy(inst);

    /* Gone. */
    assert_int_equal(unlink(stand_in), 0);
    open_core(core_path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, pk.page, got, sizeof got, &done), 0);
    assert_int_equal(done, 0);
    tenon_destroy(inst);

    free(libc);
    free(stand_in);
    free(core_path);
}

/* A core that other users may write is read with pread() only: when it is
 * cut while in use, reads fail with a message instead of SIGBUS killing
 * the host, and what was parsed stays. */
static void core_cut_while_in_use(void **state)
{
    char *path = path_join(*state, "shared-core");
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;
    struct tids ts = {0};
    char got[256];
    size_t done;

    copy_path(g.core, path);
    assert_int_equal(chmod(path, 0666), 0);
    open_core(path, &inst, &osi, &mem, &obj);
    assert_int_equal(mem->read(obj, g.marker, got, g.marker_len, &done), 0);
    assert_int_equal(done, g.marker_len);
    assert_memory_equal(got, "TENON-OSI-MARKER:", 17);
    compare_large_and_small(mem, obj);

    assert_int_equal(truncate(path, 4096), 0);
    assert_int_equal(mem->read(obj, g.marker, got, g.marker_len, &done),
                     TENON_EIO);
    assert_int_equal(done, 0);
    assert_contains(tenon_instance_error(inst), "shrank while in use");
    assert_int_equal(osi->threads(obj, (uint32_t)g.pid, on_thread, &ts), 0);
    assert_int_equal(ts.n, 3);
    tenon_destroy(inst);
    free(path);
}

/* Reads from several threads at once on a new instance: the first reads
 * of a mapped file's pages race to check and open it. */
struct reader {
    const struct tenon_memory_v1 *mem;
    void *obj;
    struct pick *pk;
    const unsigned char *want;
    int bad;
};

static void *read_often(void *arg)
{
    struct reader *r = arg;
    unsigned char got[4096], marker[64];
    size_t done;
    for (int i = 0; i < 200; i++) {
        if (r->mem->read(r->obj, r->pk->page, got, sizeof got, &done) ||
            done != sizeof got || memcmp(got, r->want, sizeof got) != 0 ||
            r->mem->read(r->obj, g.marker, marker, g.marker_len, &done) ||
            done != g.marker_len || memcmp(marker, "TENON-OSI-MARKER:", 17))
            r->bad = 1;
    }
    return NULL;
}

static void concurrent_reads(void **state)
{
    tenon_instance_t *inst;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *mem;
    void *obj;
    struct pick pk;
    unsigned char want[4096];
    pthread_t th[8];
    struct reader r[8];
    (void)state;

    pick_libc_page(g.core, &pk, g.osi, g.obj);
    file_page(pk.path, pk.offset, want);
    open_core(g.core, &inst, &osi, &mem, &obj);
    for (int i = 0; i < 8; i++) {
        r[i] = (struct reader){mem, obj, &pk, want, 0};
        assert_int_equal(pthread_create(&th[i], NULL, read_often, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_false(r[i].bad);
    }
    tenon_destroy(inst);
}

#define T(name) cmocka_unit_test(name)
#define D(name) cmocka_unit_test_setup_teardown(name, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(process_from_core),
        T(threads_from_core),
        T(current_from_core),
        T(mappings_from_core),
        T(marker_from_core),
        T(omitted_page_from_file),
        D(core_without_a_files_head_reads_nothing_of_it),
        D(core_naming_proc_mem_reads_nothing),
        T(process_memory_view),
        T(auxv_from_core),
        T(regions_from_core),
        T(reads_stop_at_holes),
        T(large_reads_equal_small_ones),
        T(concurrent_reads),
        T(declines_without_file),
        D(refuses_empty_file),
        D(refuses_text_file),
        T(refuses_other_elf_files),
        D(refuses_directory_and_missing_file),
        D(refuses_truncated_core),
        D(refuses_notes_past_the_end),
        D(refuses_note_past_its_segment),
        D(refuses_overlapping_segments),
        D(refuses_core_without_prpsinfo),
        D(refuses_huge_ntfile_count),
        D(reads_handmade_core),
        D(refuses_handmade_hostile_cores),
        D(omitted_pages_come_from_a_matching_file_only),
        D(core_cut_while_in_use),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
