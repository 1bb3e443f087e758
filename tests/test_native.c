/*
 * The native plugin against this machine's /proc and a live osi_target
 * (tests/helpers/osi_target.c): what tenon.osi/1 reports of it must be what
 * the target says of itself and what the kernel says of it.
 */
#include "testutil.h"
#include "osi_testutil.h"

#include <tenon/osi.h>

#include <elf.h>
#include <grp.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each test gets a context, a native instance made from `spec`, its
 * tenon.osi/1 and a running target. */
struct fx {
    const char *spec;
    tenon_t *t;
    tenon_instance_t *native;
    const struct tenon_osi_v1 *osi;
    void *obj;
    struct target tg;
};

static int fx_setup(void **state)
{
    struct fx *f = *state;
    static const char *const args[] = {"two words", "x) (y", NULL};
    f->t = osi_open();
    assert_int_equal(tenon_create(f->t, f->spec, NULL, &f->native), 0);
    f->osi = tenon_get_interface(f->native, TENON_OSI_ID, &f->obj);
    assert_non_null(f->osi);
    assert_true(f->osi->struct_size >= sizeof(struct tenon_osi_v1));
    target_start(&f->tg, OSI_TARGET, args);
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    target_stop(&f->tg);
    tenon_destroy(f->native);
    tenon_close(f->t);
    return 0;
}

static struct fx fx_auto = {.spec = "native"};
static struct fx fx_vm = {.spec = "native:mem=vm"};
static struct fx fx_procfs = {.spec = "native:mem=procfs"};

/* A pid no process has: above the kernel's limit of 2^22. */
#define NO_PID 4294967294u

static int count_nothing(void *ud, const struct tenon_osi_mapping *m)
{
    (void)ud, (void)m;
    return 0;
}

/* ---- processes ----------------------------------------------------------- */

struct seen {
    uint32_t want_pid, last_pid, count;
    int ascending, stop_at_target;
    struct tenon_osi_process copy;
    char name[64], exe[PATH_MAX];
    char argv[4][64];
};

static int on_process(void *ud, const struct tenon_osi_process *p)
{
    struct seen *s = ud;
    if (s->count && p->pid <= s->last_pid)
        s->ascending = 0;
    s->last_pid = p->pid;
    s->count++;
    assert_true(p->struct_size >= sizeof *p);
    assert_non_null(p->name);
    assert_non_null(p->exe);
    if (p->pid != s->want_pid)
        return 0;
    s->copy = *p;
    snprintf(s->name, sizeof s->name, "%s", p->name);
    snprintf(s->exe, sizeof s->exe, "%s", p->exe);
    for (size_t i = 0; i < p->argc && i < 4; i++)
        snprintf(s->argv[i], sizeof s->argv[i], "%s", p->argv[i]);
    return s->stop_at_target ? 42 : 0;
}

static void check_target_process(const struct fx *f,
                                 const struct tenon_osi_process *p,
                                 const char *name, const char *exe,
                                 const char (*argv)[64])
{
    char real[PATH_MAX];
    uint64_t now = (uint64_t)time(NULL) * 1000000000ull;

    assert_non_null(realpath(OSI_TARGET, real));
    assert_int_equal(p->pid, f->tg.pid);
    assert_int_equal(p->ppid, getpid());
    assert_int_equal(p->uid, getuid());
    assert_string_equal(name, "osi_target");
    assert_string_equal(exe, real);
    assert_true(p->state == 'S' || p->state == 'R');
    /* It started during this test (a minute's slack for clock steps). */
    assert_true(p->start_time_ns > now - 60000000000ull);
    assert_true(p->start_time_ns < now + 60000000000ull);
    assert_int_equal(p->argc, 3);
    assert_string_equal(argv[0], OSI_TARGET);
    assert_string_equal(argv[1], "two words");
    assert_string_equal(argv[2], "x) (y");
}

static void test_processes(void **state)
{
    struct fx *f = *state;
    struct seen s;
    int rc;

    memset(&s, 0, sizeof s);
    s.want_pid = f->tg.pid;
    s.ascending = 1;
    rc = f->osi->processes(f->obj, TENON_OSI_PROC_ALL, on_process, &s);
    assert_int_equal(rc, 0);
    assert_true(s.ascending);
    assert_true(s.count > 2); /* at least init, this test and its target */
    check_target_process(f, &s.copy, s.name, s.exe, s.argv);

    /* Stopped at the target: its value comes back, nothing after it. */
    memset(&s, 0, sizeof s);
    s.want_pid = f->tg.pid;
    s.ascending = 1;
    s.stop_at_target = 1;
    rc = f->osi->processes(f->obj, 0, on_process, &s);
    assert_int_equal(rc, 42);
    assert_int_equal(s.last_pid, f->tg.pid);
    assert_string_equal(s.name, "osi_target");
    assert_int_equal(s.copy.ppid, getpid());
}

static void test_process(void **state)
{
    struct fx *f = *state;
    struct tenon_osi_process *p = NULL;
    char argv[3][64];
    struct seen s;

    memset(&s, 0, sizeof s);
    s.want_pid = f->tg.pid;
    assert_int_equal(
        f->osi->processes(f->obj, TENON_OSI_PROC_ALL, on_process, &s), 0);

    assert_int_equal(f->osi->process(f->obj, f->tg.pid, &p), 0);
    assert_non_null(p);
    assert_true(p->struct_size >= sizeof *p);
    for (int i = 0; i < 3; i++)
        snprintf(argv[i], sizeof argv[i], "%s", p->argv[i]);
    check_target_process(f, p, p->name, p->exe, (const char(*)[64])argv);
    assert_int_equal(p->ppid, s.copy.ppid);
    assert_int_equal(p->uid, s.copy.uid);
    assert_int_equal(p->start_time_ns, s.copy.start_time_ns);
    assert_null(p->argv[p->argc]);
    f->osi->process_free(f->obj, p);

    /* This process: its own command line, as the kernel has it. */
    assert_int_equal(f->osi->process(f->obj, (uint32_t)getpid(), &p), 0);
    assert_int_equal(p->pid, getpid());
    assert_true(p->argc >= 1);
    assert_non_null(strstr(p->argv[0], "test_native"));
    f->osi->process_free(f->obj, p);

    p = (struct tenon_osi_process *)1;
    assert_int_equal(f->osi->process(f->obj, NO_PID, &p), TENON_ENOENT);
    assert_null(p);
    assert_string_equal(tenon_instance_error(f->native),
                        "process 4294967294 does not exist");
    assert_int_equal(f->osi->process(f->obj, 0, &p), TENON_ENOENT);

    /* A thread's id has a /proc directory too, but is not a process. */
    assert_int_equal(f->osi->process(f->obj, f->tg.tids[1], &p), TENON_ENOENT);
    assert_contains(tenon_instance_error(f->native), "is a thread of process");
    /* and mappings() refuses it the same way (review finding 08) */
    char want[128];
    snprintf(want, sizeof want,
             "process %u does not exist (%u is a thread of process %u)",
             (unsigned)f->tg.tids[1], (unsigned)f->tg.tids[1],
             (unsigned)f->tg.pid);
    assert_int_equal(
        f->osi->mappings(f->obj, f->tg.tids[1], count_nothing, NULL),
        TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native), want);
}

/* ---- threads ------------------------------------------------------------- */

struct threads_seen {
    uint32_t tids[8];
    char names[8][64];
    uint32_t pids[8];
    size_t n;
};

static int on_thread(void *ud, const struct tenon_osi_thread *t)
{
    struct threads_seen *s = ud;
    assert_true(t->struct_size >= sizeof *t);
    if (s->n < 8) {
        s->tids[s->n] = t->tid;
        s->pids[s->n] = t->pid;
        snprintf(s->names[s->n], sizeof s->names[0], "%s", t->name);
    }
    s->n++;
    return 0;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct threads_seen s;
    uint32_t want[3];

    memset(&s, 0, sizeof s);
    assert_int_equal(f->osi->threads(f->obj, f->tg.pid, on_thread, &s), 0);
    assert_int_equal(s.n, 3);
    memcpy(want, f->tg.tids, sizeof want);
    /* Ascending tid order; the target printed main, worker-1, worker-2. */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.pids[i], f->tg.pid);
        if (i)
            assert_true(s.tids[i] > s.tids[i - 1]);
    }
    for (size_t j = 0; j < 3; j++) {
        size_t i;
        for (i = 0; i < 3 && s.tids[i] != want[j]; i++)
            ;
        assert_true(i < 3);
        assert_string_equal(s.names[i], j == 0   ? "osi_target"
                                        : j == 1 ? "worker-1"
                                                 : "worker-2");
    }
    assert_int_equal(f->osi->threads(f->obj, NO_PID, on_thread, &s),
                     TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native),
                        "process 4294967294 does not exist");
}

/* ---- mappings ------------------------------------------------------------ */

static int on_mapping(void *ud, const struct tenon_osi_mapping *m)
{
    struct maps *s = ud;
    maps_add(s, m);
    return 0;
}

static void test_mappings(void **state)
{
    struct fx *f = *state;
    struct maps s;
    char real[PATH_MAX];
    int exe = 0, stack = 0, marker = 0;

    assert_non_null(realpath(OSI_TARGET, real));
    memset(&s, 0, sizeof s);
    assert_int_equal(f->osi->mappings(f->obj, f->tg.pid, on_mapping, &s), 0);
    assert_true(s.n > 5);
    for (size_t i = 0; i < s.n; i++) {
        const struct mapping_copy *m = &s.v[i];
        assert_true(m->start < m->end);
        if (i)
            assert_true(m->start >= s.v[i - 1].end);
        if (strcmp(m->path, real) == 0) {
            exe++;
            assert_true(m->inode != 0);
            assert_true(m->dev_major || m->dev_minor);
        }
        if (strcmp(m->path, "[stack]") == 0) {
            stack++;
            assert_true(m->prot & TENON_PROT_READ);
            assert_true(m->prot & TENON_PROT_WRITE);
            assert_int_equal(m->inode, 0);
        }
        if (f->tg.marker >= m->start && f->tg.marker < m->end) {
            marker++;
            assert_int_equal(m->prot & (TENON_PROT_READ | TENON_PROT_WRITE),
                             TENON_PROT_READ | TENON_PROT_WRITE);
            assert_int_equal(m->flags & TENON_OSI_MAP_SHARED, 0);
        }
    }
    assert_true(exe >= 2); /* text and data at least */
    assert_int_equal(stack, 1);
    assert_int_equal(marker, 1);
    maps_free(&s);

    assert_int_equal(f->osi->mappings(f->obj, NO_PID, on_mapping, &s),
                     TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native),
                        "process 4294967294 does not exist");
}

/* ---- memory -------------------------------------------------------------- */

struct regions_seen {
    uint64_t addr;
    int found, readable, ordered;
    uint64_t last_end;
};

static int on_region(void *ud, const struct tenon_memory_region *r)
{
    struct regions_seen *s = ud;
    if (r->start < s->last_end)
        s->ordered = 0;
    s->last_end = r->end;
    if (s->addr >= r->start && s->addr < r->end) {
        s->found++;
        s->readable = r->readable && (r->prot & TENON_PROT_READ);
    }
    return 0;
}

static void test_memory(void **state)
{
    struct fx *f = *state;
    const struct tenon_memory_v1 *vt = NULL;
    void *mem = NULL;
    char buf[256];
    size_t done = 99;
    struct regions_seen rs = {.addr = f->tg.marker, .ordered = 1};

    assert_int_equal(f->osi->process_memory(f->obj, f->tg.pid, &vt, &mem), 0);
    assert_non_null(vt);
    assert_true(vt->struct_size >= sizeof *vt);
    assert_int_equal(vt->address_width(mem), 64);

    assert_int_equal(vt->read(mem, f->tg.marker, buf, f->tg.marker_len, &done),
                     0);
    assert_int_equal(done, f->tg.marker_len);
    assert_memory_equal(buf, OSI_MARKER, f->tg.marker_len);

    /* Nothing mapped at 0x1000, nor in the kernel's half. */
    done = 99;
    assert_int_equal(vt->read(mem, 0x1000, buf, 16, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(vt->read(mem, 0xffff888000000000ull, buf, 16, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(vt->read(mem, UINT64_MAX - 3, buf, 16, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(vt->read(mem, f->tg.marker, buf, 0, &done), 0);
    assert_int_equal(done, 0);

    /* Written and read back, then restored. */
    assert_non_null(vt->write);
    assert_int_equal(vt->write(mem, f->tg.marker, "tenon", 5, &done), 0);
    assert_int_equal(done, 5);
    assert_int_equal(vt->read(mem, f->tg.marker, buf, 8, &done), 0);
    assert_memory_equal(buf, "tenon-OS", 8);
    assert_int_equal(vt->write(mem, f->tg.marker, OSI_MARKER, 5, &done), 0);
    assert_int_equal(done, 5);
    assert_int_equal(vt->write(mem, 0x1000, "x", 1, &done), 0);
    assert_int_equal(done, 0);

    assert_int_equal(vt->regions(mem, on_region, &rs), 0);
    assert_int_equal(rs.found, 1);
    assert_true(rs.readable);
    assert_true(rs.ordered);

    check_read_off_the_end(f->osi, f->obj, vt, mem, f->tg.pid);

    f->osi->process_memory_free(f->obj, mem);
}

/* After the target exits, as a zombie and once reaped, the view says so. */
static void test_memory_exited(void **state)
{
    struct fx *f = *state;
    const struct tenon_memory_v1 *vt = NULL;
    void *mem = NULL;
    char buf[16], want[64];
    size_t done;
    siginfo_t si;

    assert_int_equal(f->osi->process_memory(f->obj, f->tg.pid, &vt, &mem), 0);
    close(f->tg.in);
    f->tg.in = -1;
    /* Exited but not reaped: a zombie has no memory either. */
    memset(&si, 0, sizeof si);
    assert_int_equal(waitid(P_PID, (id_t)f->tg.pid, &si, WEXITED | WNOWAIT), 0);
    snprintf(want, sizeof want, "process %d exited", (int)f->tg.pid);
    assert_int_equal(vt->read(mem, f->tg.marker, buf, sizeof buf, &done),
                     TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native), want);
    target_stop(&f->tg); /* reaps it */
    assert_int_equal(vt->read(mem, f->tg.marker, buf, sizeof buf, &done),
                     TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native), want);
    assert_int_equal(vt->regions(mem, (tenon_memory_region_fn)on_region,
                                 &(struct regions_seen){0}),
                     TENON_ENOENT);
    f->osi->process_memory_free(f->obj, mem);

    assert_int_equal(f->osi->process_memory(f->obj, NO_PID, &vt, &mem),
                     TENON_ENOENT);
    assert_string_equal(tenon_instance_error(f->native),
                        "process 4294967294 does not exist");
}

/* A view outlives its process's number: once the process is reaped and its
 * pid goes to another process, neither a write nor a read reaches the new
 * one. The new process is a fork of this one, so `reused_victim` is at the
 * same address in it. */
static char reused_victim[32] = "untouched";

static pid_t fork_at(pid_t pid, int *in, int *out)
{
    int to[2], from[2];
    pid_t p;
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
    if (!f)
        return -1;
    fprintf(f, "%d", (int)pid - 1);
    fclose(f);
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    if ((p = fork()) == 0) {
        char c;
        /* Holding no other pipe's end (the target's stdin), it cannot keep
         * anything else alive if the test fails. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != to[0] && fd != from[1])
                close(fd);
        /* Once told to, say what the victim holds. */
        if (read(to[0], &c, 1) == 1)
            (void)!write(from[1], reused_victim, sizeof reused_victim);
        _exit(0);
    }
    assert_true(p > 0);
    close(to[0]);
    close(from[1]);
    *in = to[1];
    *out = from[0];
    return p;
}

static void test_memory_reused_pid(void **state)
{
    struct fx *f = *state;
    const struct tenon_memory_v1 *vt = NULL;
    void *mem = NULL;
    char buf[sizeof reused_victim], want[64];
    uint64_t addr = (uint64_t)(uintptr_t)reused_victim;
    size_t done = 99;
    int in = -1, out = -1;
    pid_t a, b = -1;

    if (geteuid() != 0)
        skip(); /* steering the next pid takes root (CI runs as root) */
    for (int tries = 0; tries < 20 && b < 0; tries++) {
        if ((a = fork()) == 0) {
            pause();
            _exit(0);
        }
        assert_true(a > 0);
        assert_int_equal(f->osi->process_memory(f->obj, (uint32_t)a, &vt, &mem),
                         0);
        kill(a, SIGKILL);
        assert_int_equal(waitpid(a, NULL, 0), a);
        b = fork_at(a, &in, &out);
        if (b < 0)
            skip(); /* no /proc/sys/kernel/ns_last_pid */
        if (b != a) {
            /* Another process took the number first: try again. */
            close(in);
            close(out);
            waitpid(b, NULL, 0);
            f->osi->process_memory_free(f->obj, mem);
            b = -1;
        }
    }
    if (b < 0)
        skip();

    snprintf(want, sizeof want, "process %d exited", (int)a);
    assert_int_equal(vt->write(mem, addr, "WRITTEN", 8, &done), TENON_ENOENT);
    assert_int_equal(done, 0);
    assert_string_equal(tenon_instance_error(f->native), want);
    done = 99;
    memset(buf, 'x', sizeof buf);
    assert_int_equal(vt->read(mem, addr, buf, sizeof buf, &done), TENON_ENOENT);
    assert_int_equal(done, 0);
    assert_string_equal(tenon_instance_error(f->native), want);
    /* Nothing of the new process's: what was copied is zeroed again. */
    for (size_t i = 0; i < sizeof buf; i++)
        assert_true(buf[i] == 0 || buf[i] == 'x');

    assert_int_equal(write(in, "", 1), 1);
    assert_int_equal(read(out, buf, sizeof buf), (ssize_t)sizeof buf);
    assert_string_equal(buf, "untouched");
    close(in);
    close(out);
    assert_int_equal(waitpid(b, NULL, 0), b);
    f->osi->process_memory_free(f->obj, mem);
}

/* Another user may not read this process: the refusals name what was
 * refused. Run as nobody in a child, since a process cannot give up root
 * and get it back. */
static int refused_child(void *arg)
{
    const char *spec = arg;
    uint32_t victim = (uint32_t)getppid();
    tenon_t *t = NULL;
    tenon_instance_t *native = NULL;
    const struct tenon_osi_v1 *osi;
    const struct tenon_memory_v1 *vt;
    struct tenon_options o;
    const char *dirs[] = {TEST_EXAMPLE_DIR};
    void *obj, *mem;
    char buf[8];
    size_t done;
    int rc;

    if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
        setresuid(65534, 65534, 65534)) {
        dprintf(2, "cannot become nobody: %s\n", strerror(errno));
        return 3;
    }
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = 1;
    o.trust = TENON_TRUST_OFF;
    o.no_cache = 1;
    if (tenon_open(&t, &o) || tenon_create(t, spec, NULL, &native)) {
        dprintf(2, "setup: %s\n", tenon_last_error());
        return 4;
    }
    osi = tenon_get_interface(native, TENON_OSI_ID, &obj);
    rc = osi->mappings(obj, victim, (tenon_osi_mapping_fn)on_mapping, NULL);
    dprintf(1, "mappings %d %s\n", rc, tenon_instance_error(native));
    rc = osi->process_memory(obj, victim, &vt, &mem);
    if (rc == 0) {
        rc = vt->read(mem, (uint64_t)(uintptr_t)buf, buf, sizeof buf, &done);
        osi->process_memory_free(obj, mem);
    }
    dprintf(1, "memory %d %s\n", rc, tenon_instance_error(native));
    tenon_destroy(native);
    tenon_close(t);
    return 0;
}

static void test_memory_refused(void **state)
{
    struct run r;
    char want[512];
    pid_t me = getpid();
    (void)state;

    if (geteuid() != 0)
        skip(); /* becoming another user takes root (CI runs as root) */
    assert_int_equal(run_child(&r, 60000, refused_child, "native"), 0);
    assert_status(&r, 0);
    snprintf(want, sizeof want,
             "mappings %d reading the mappings of process %d: permission "
             "denied (/proc/%d/maps: EACCES)\n",
             TENON_EPERM, (int)me, (int)me);
    assert_contains(r.out, want);
    snprintf(want, sizeof want,
             "memory %d reading the memory of process %d: permission denied "
             "(process_vm_readv: EPERM; /proc/%d/mem: EACCES)\n",
             TENON_EPERM, (int)me, (int)me);
    assert_contains(r.out, want);
    run_free(&r);

    assert_int_equal(run_child(&r, 60000, refused_child, "native:mem=vm"), 0);
    assert_status(&r, 0);
    snprintf(want, sizeof want,
             "memory %d reading the memory of process %d: permission denied "
             "(process_vm_readv: EPERM)\n",
             TENON_EPERM, (int)me);
    assert_contains(r.out, want);
    run_free(&r);

    assert_int_equal(run_child(&r, 60000, refused_child, "native:mem=procfs"),
                     0);
    assert_status(&r, 0);
    snprintf(want, sizeof want,
             "memory %d reading the memory of process %d: permission denied "
             "(/proc/%d/mem: EACCES)\n",
             TENON_EPERM, (int)me, (int)me);
    assert_contains(r.out, want);
    run_free(&r);
}

/* ---- modules, auxv, current ---------------------------------------------- */

static int on_module(void *ud, const struct tenon_osi_module *m)
{
    size_t *n = ud;
    assert_true(m->struct_size >= sizeof *m);
    assert_non_null(m->name);
    assert_true(m->name[0] != '\0');
    assert_true(m->size > 0);
    if (!m->has_base)
        assert_int_equal(m->base, 0);
    (*n)++;
    return 0;
}

static void test_modules(void **state)
{
    struct fx *f = *state;
    size_t n = 0, lines = 0;
    FILE *fp = fopen("/proc/modules", "r");
    int c;

    assert_non_null(f->osi->modules);
    assert_int_equal(f->osi->modules(f->obj, on_module, &n), 0);
    /* As many as the kernel lists (none without module support). */
    if (fp) {
        while ((c = fgetc(fp)) != EOF)
            lines += c == '\n';
        fclose(fp);
    }
    assert_int_equal(n, lines);
}

static void test_auxv(void **state)
{
    struct fx *f = *state;
    uint64_t v[128];
    size_t size = 0, size2 = 0;
    int pagesz = 0;

    assert_non_null(f->osi->auxv);
    assert_int_equal(f->osi->auxv(f->obj, f->tg.pid, v, sizeof v, &size), 0);
    assert_true(size > 0 && size <= sizeof v && size % 16 == 0);
    for (size_t i = 0; i + 1 < size / 8; i += 2)
        if (v[i] == AT_PAGESZ)
            pagesz = (int)v[i + 1];
    assert_int_equal(pagesz, (int)sysconf(_SC_PAGESIZE));
    /* A short buffer gets what fits and the whole size. */
    assert_int_equal(f->osi->auxv(f->obj, f->tg.pid, v, 16, &size2), 0);
    assert_int_equal(size2, size);
    assert_int_equal(f->osi->auxv(f->obj, NO_PID, v, sizeof v, &size),
                     TENON_ENOENT);
}

static void test_current(void **state)
{
    struct fx *f = *state;
    uint32_t pid = 0, tid = 0;
    assert_int_equal(f->osi->current(f->obj, &pid, &tid), 0);
    assert_int_equal(pid, getpid());
    assert_int_equal(tid, (uint32_t)syscall(SYS_gettid));
}

/* ---- the process start/exit callback --------------------------------------
 */

struct event_log {
    pthread_mutex_t lock;
    struct {
        uint32_t pid, ppid;
        int kind;
        uint64_t start_ns;
        char name[32];
    } v[4096];
    size_t n, lost;
};

static void on_event(void *ctx, const void *event)
{
    const struct tenon_osi_process_event *e = event;
    struct event_log *log = ctx;
    pthread_mutex_lock(&log->lock);
    if (log->n < sizeof log->v / sizeof log->v[0]) {
        log->v[log->n].pid = e->process->pid;
        log->v[log->n].ppid = e->process->ppid;
        log->v[log->n].kind = e->kind;
        log->v[log->n].start_ns = e->process->start_time_ns;
        snprintf(log->v[log->n].name, sizeof log->v[0].name, "%s",
                 e->process->name);
        log->n++;
    } else {
        log->lost++;
    }
    pthread_mutex_unlock(&log->lock);
}

/* The index of the first event `kind` of `pid`, or -1. */
static long find_event(struct event_log *log, pid_t pid, int kind)
{
    long at = -1;
    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < log->n && at < 0; i++)
        if (log->v[i].pid == (uint32_t)pid && log->v[i].kind == kind)
            at = (long)i;
    pthread_mutex_unlock(&log->lock);
    return at;
}

/* Poll for an event until `ms` have passed: how soon it comes is the
 * plugin's polling, not a property under test. */
static long wait_event(struct event_log *log, pid_t pid, int kind, long ms)
{
    struct timespec tick = {0, 10 * 1000000L};
    long at;
    while ((at = find_event(log, pid, kind)) < 0 && ms > 0) {
        nanosleep(&tick, NULL);
        ms -= 10;
    }
    return at;
}

static void test_callback(void **state)
{
    static struct event_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    tenon_t *t = osi_open();
    tenon_instance_t *native = NULL;
    struct target tg = {.pid = -1};
    uint64_t id = 0;
    long start = -1, exit_at;
    (void)state;

    assert_int_equal(tenon_create(t, "native:interval=50", NULL, &native), 0);
    assert_int_equal(tenon_callback_register(native, TENON_OSI_CB_PROCESS,
                                             TENON_OSI_PROCESS_EVENT_SIG,
                                             on_event, &log, &id),
                     0);
    /* The first look after the handler arrived is the baseline: a target
     * started before it is not news. Start one again until one is. */
    for (int attempt = 0; attempt < 30 && start < 0; attempt++) {
        target_start(&tg, OSI_TARGET, NULL);
        if ((start = wait_event(&log, tg.pid, TENON_OSI_PROCESS_START, 1000)) <
            0)
            target_stop(&tg);
    }
    assert_true(start >= 0);
    assert_string_equal(log.v[start].name, "osi_target");
    assert_int_equal(log.v[start].ppid, getpid());
    assert_true(log.v[start].start_ns > 0);
    target_stop(&tg);
    exit_at = wait_event(&log, tg.pid, TENON_OSI_PROCESS_EXIT, 30000);
    assert_true(exit_at > start);
    assert_string_equal(log.v[exit_at].name, "osi_target");
    assert_int_equal(log.v[exit_at].start_ns, log.v[start].start_ns);
    assert_int_equal(log.lost, 0);

    assert_int_equal(tenon_callback_unregister(t, id), 0);
    assert_int_equal(tenon_callback_unregister(t, id), TENON_ENOENT);
    /* A wrong signature is refused by the host. */
    assert_int_equal(tenon_callback_register(native, TENON_OSI_CB_PROCESS,
                                             "tenon.osi.other/1", on_event,
                                             &log, &id),
                     TENON_EINVAL);
    /* Destroyed while a handler listens and the thread polls: destroy()
     * stops the thread before anything it uses is freed. */
    assert_int_equal(tenon_callback_register(native, TENON_OSI_CB_PROCESS,
                                             TENON_OSI_PROCESS_EVENT_SIG,
                                             on_event, &log, &id),
                     0);
    tenon_destroy(native);
    assert_int_equal(tenon_callback_unregister(t, id), TENON_ENOENT);

    /* With interval=0 the callback is declared, and nothing polls. */
    assert_int_equal(tenon_create(t, "native:interval=0", NULL, &native), 0);
    assert_int_equal(tenon_callback_register(native, TENON_OSI_CB_PROCESS,
                                             TENON_OSI_PROCESS_EVENT_SIG,
                                             on_event, &log, &id),
                     0);
    tenon_destroy(native);
    tenon_close(t);
}

/* ---- arguments ----------------------------------------------------------- */

static void test_arguments(void **state)
{
    tenon_t *t = osi_open();
    tenon_instance_t *i = NULL;
    (void)state;
    assert_int_equal(tenon_create(t, "native:interval=0,mem=procfs", NULL, &i),
                     0);
    tenon_destroy(i);
    assert_int_equal(tenon_create(t, "native:interval=60001", NULL, &i),
                     TENON_ERANGE);
    assert_contains(tenon_last_error(), "interval");
    assert_int_equal(tenon_create(t, "native:mem=ptrace", NULL, &i),
                     TENON_EARG);
    assert_contains(tenon_last_error(), "mem");
    tenon_close(t);
}

#define FX(fn, f)                                                              \
    cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX(test_processes, fx_auto),
        FX(test_process, fx_auto),
        FX(test_threads, fx_auto),
        FX(test_mappings, fx_auto),
        FX(test_memory, fx_auto),
        FX(test_memory, fx_vm),
        FX(test_memory, fx_procfs),
        FX(test_memory_exited, fx_auto),
        FX(test_memory_exited, fx_vm),
        FX(test_memory_exited, fx_procfs),
        FX(test_memory_reused_pid, fx_auto),
        FX(test_memory_reused_pid, fx_vm),
        FX(test_memory_reused_pid, fx_procfs),
        cmocka_unit_test(test_memory_refused),
        FX(test_modules, fx_auto),
        FX(test_auxv, fx_auto),
        FX(test_current, fx_auto),
        cmocka_unit_test(test_callback),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
