/*
 * bench/osi - introspection through Tenon's bundled providers beside the
 * tools and system calls a user would otherwise reach for, in one run:
 *
 *   ps        every process's pid, ppid and name: the native plugin's
 *             processes() (in the library, and as the whole `tenon ps`
 *             command) against procps' `ps -e -o pid,ppid,comm`, both
 *             commands run with stdout to /dev/null. The machine gets N
 *             extra sleeping processes first, so the list has a known size.
 *   memory    SIZE bytes of a live helper's memory: native's tenon.memory/1
 *             view (process_vm_readv) against one pread() of /proc/PID/mem.
 *   core      the same bytes from a core file of that helper (written by
 *             gdb's gcore): the coredump plugin's tenon.memory/1 against one
 *             pread() of the core file at the segment's offset.
 *
 * Each runs at the default size, 10 times it and a tenth of it. The page
 * cache is warm and each figure is the best of -r repetitions (the median
 * is shown too): the machines are shared and noisy, and what is compared is
 * the work each way does. Every read is checked against the helper's
 * pattern, so a fast wrong answer cannot win.
 */
#include <tenon/host.h>
#include <tenon/memory.h>
#include <tenon/osi.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TENON_BENCH_PLUGINS
#error "build with -DTENON_BENCH_PLUGINS=\"build/plugins\""
#endif
#ifndef TENON_BENCH_TARGET
#error "build with -DTENON_BENCH_TARGET=\"build/tests/osi_target\""
#endif
#ifndef TENON_BENCH_CLI
#error "build with -DTENON_BENCH_CLI=\"build/tenon\""
#endif

static int reps = 7;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench/osi: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Best and median of reps timings of fn(arg). */
struct timing {
    double best, median;
};

static struct timing measure(void (*fn)(void *), void *arg)
{
    double t[64];
    int n = reps < 64 ? reps : 64;
    fn(arg); /* warm up */
    for (int i = 0; i < n; i++) {
        double s = now();
        fn(arg);
        t[i] = now() - s;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return (struct timing){t[0], t[n / 2]};
}

static void row(const char *what, const char *size, struct timing tenon,
                struct timing base, const char *base_name)
{
    printf("%-8s %-10s tenon %9.3f ms (median %9.3f)   %-14s %9.3f ms "
           "(median %9.3f)   ratio %.2fx\n",
           what, size, tenon.best * 1e3, tenon.median * 1e3, base_name,
           base.best * 1e3, base.median * 1e3, base.best / tenon.best);
    fflush(stdout);
}

/* ---- ps -------------------------------------------------------------------
 */

struct ps_arg {
    const struct tenon_osi_v1 *osi;
    void *obj;
    size_t count;
};

static int count_proc(void *ud, const struct tenon_osi_process *p)
{
    struct ps_arg *a = ud;
    a->count += p->name[0] != 0 || p->pid != 0;
    return 0;
}

static void list_native(void *arg)
{
    struct ps_arg *a = arg;
    a->count = 0;
    if (a->osi->processes(a->obj, 0, count_proc, a) != 0)
        die("processes() failed: %s", tenon_last_error());
}

static void run_quiet(char *const argv[])
{
    pid_t pid = fork();
    int st;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0)
        die("%s failed", argv[0]);
}

static void run_ps(void *arg)
{
    (void)arg;
    char *argv[] = {"/bin/ps", "-e", "-o", "pid,ppid,comm", NULL};
    run_quiet(argv);
}

static void run_tenon_ps(void *arg)
{
    (void)arg;
    char *argv[] = {TENON_BENCH_CLI,     "ps", "-o", "native", "--plugin-path",
                    TENON_BENCH_PLUGINS, NULL};
    run_quiet(argv);
}

static void bench_ps(tenon_t *t, int extra)
{
    pid_t *kids = calloc((size_t)extra, sizeof *kids);
    tenon_instance_t *inst;
    struct ps_arg a = {0};
    char size[32];

    for (int i = 0; i < extra; i++)
        if ((kids[i] = fork()) == 0) {
            pause();
            _exit(0);
        } else if (kids[i] < 0) {
            die("fork: %s", strerror(errno));
        }
    if (tenon_create(t, "native:interval=0", NULL, &inst))
        die("native: %s", tenon_last_error());
    a.osi = tenon_get_interface(inst, TENON_OSI_ID, &a.obj);
    list_native(&a);
    snprintf(size, sizeof size, "%zu procs", a.count);
    struct timing lib = measure(list_native, &a);
    struct timing ps = measure(run_ps, NULL);
    row("ps", size, lib, ps, "ps (procps)");
    struct timing cmd = measure(run_tenon_ps, NULL);
    row("ps-cmd", size, cmd, ps, "ps (procps)");
    tenon_destroy(inst);
    for (int i = 0; i < extra; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < extra; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
}

/* ---- memory ----------------------------------------------------------------
 */

struct target {
    pid_t pid;
    FILE *in; /* its stdin: closing it ends it */
    unsigned long long buf;
    size_t len;
};

static void target_start(struct target *tg, size_t mib)
{
    int to[2], from[2];
    char arg[32], line[512];
    if (pipe(to) || pipe(from))
        die("pipe: %s", strerror(errno));
    snprintf(arg, sizeof arg, "%zu", mib);
    if ((tg->pid = fork()) == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execl(TENON_BENCH_TARGET, TENON_BENCH_TARGET, "--fill", arg,
              (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    tg->in = fdopen(to[1], "w");
    FILE *out = fdopen(from[0], "r");
    if (!out || !fgets(line, sizeof line, out))
        die("%s printed nothing", TENON_BENCH_TARGET);
    fclose(out);
    const char *b = strstr(line, " buf=");
    if (!b || sscanf(b, " buf=%llx buf_len=%zu", &tg->buf, &tg->len) != 2)
        die("cannot parse: %s", line);
}

static void target_stop(struct target *tg)
{
    fclose(tg->in);
    waitpid(tg->pid, NULL, 0);
}

struct read_arg {
    const struct tenon_memory_v1 *mem;
    void *obj;
    int fd;
    uint64_t addr, off;
    unsigned char *out;
    size_t len;
};

static void check(const struct read_arg *a, const char *how)
{
    /* a->addr is the start of the helper's buffer: byte i is pattern i */
    for (size_t i = 0; i < a->len; i += 4093)
        if (a->out[i] != (unsigned char)((i * 131 + 7) & 0xff))
            die("%s read wrong bytes", how);
}

static void read_iface(void *arg)
{
    struct read_arg *a = arg;
    size_t done = 0;
    if (a->mem->read(a->obj, a->addr, a->out, a->len, &done) || done != a->len)
        die("tenon.memory/1 read short: %s", tenon_last_error());
}

static void read_pread(void *arg)
{
    struct read_arg *a = arg;
    size_t got = 0;
    while (got < a->len) {
        ssize_t n =
            pread(a->fd, a->out + got, a->len - got, (off_t)(a->off + got));
        if (n <= 0)
            die("pread: %s", n ? strerror(errno) : "short");
        got += (size_t)n;
    }
}

/* The file offset of address `addr` in the core at `path`. */
static uint64_t core_offset(const char *path, uint64_t addr, size_t len)
{
    int fd = open(path, O_RDONLY);
    Elf64_Ehdr eh;
    uint64_t off = 0;
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh)
        die("cannot read %s", path);
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) !=
            sizeof ph)
            die("cannot read %s", path);
        if (ph.p_type == PT_LOAD && addr >= ph.p_vaddr &&
            addr + len <= ph.p_vaddr + ph.p_filesz)
            off = ph.p_offset + (addr - ph.p_vaddr);
    }
    close(fd);
    if (!off)
        die("the core %s does not hold the buffer", path);
    return off;
}

static void bench_memory(tenon_t *t, size_t mib, size_t len, const char *dir)
{
    struct target tg;
    struct read_arg a = {0};
    tenon_instance_t *proc, *core;
    char spec[600], path[512], cmd[1024], size[32];
    const char *steps[2] = {"native:interval=0", spec};

    target_start(&tg, mib);
    if (len > tg.len)
        len = tg.len;
    snprintf(size, sizeof size, "%.1f MiB", len / 1048576.0);
    a.out = malloc(len);
    a.len = len;
    a.addr = tg.buf;
    snprintf(spec, sizeof spec, "process:pid=%d", (int)tg.pid);
    if (tenon_chain(t, steps, 2, NULL, &proc))
        die("%s", tenon_last_error());
    a.mem = tenon_get_interface(proc, TENON_MEMORY_ID, &a.obj);
    snprintf(path, sizeof path, "/proc/%d/mem", (int)tg.pid);
    if ((a.fd = open(path, O_RDONLY)) < 0)
        die("cannot open %s", path);
    a.off = tg.buf;
    struct timing ti = measure(read_iface, &a);
    check(&a, "native");
    struct timing tb = measure(read_pread, &a);
    check(&a, "pread");
    row("memory", size, ti, tb, "pread /proc");
    close(a.fd);
    tenon_destroy(proc);

    /* the core of the same helper */
    snprintf(path, sizeof path, "%s/core", dir);
    snprintf(cmd, sizeof cmd, "gcore -o %s %d >/dev/null 2>&1", path,
             (int)tg.pid);
    if (system(cmd) != 0)
        die("%s failed (is gdb installed?)", cmd);
    snprintf(path, sizeof path, "%s/core.%d", dir, (int)tg.pid);
    target_stop(&tg);
    snprintf(spec, sizeof spec, "coredump:%s", path);
    if (tenon_create(t, spec, NULL, &core))
        die("%s", tenon_last_error());
    a.mem = tenon_get_interface(core, TENON_MEMORY_ID, &a.obj);
    a.off = core_offset(path, tg.buf, len);
    if ((a.fd = open(path, O_RDONLY)) < 0)
        die("cannot open %s", path);
    ti = measure(read_iface, &a);
    check(&a, "coredump");
    tb = measure(read_pread, &a);
    check(&a, "pread");
    row("core", size, ti, tb, "pread core");
    close(a.fd);
    tenon_destroy(core);
    unlink(path);
    free(a.out);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench/osi [-r REPS] [-p EXTRA_PROCS] [-m MIB]\n"
               "  -r  repetitions per figure, best and median shown "
               "(default 7)\n"
               "  -p  extra processes for the ps figures at the default size "
               "(default 300)\n"
               "  -m  MiB read for the memory figures at the default size "
               "(default 64)\n"
               "Each figure is taken at the default size, 10x and 0.1x.\n");
}

int main(int argc, char **argv)
{
    int procs = 300, mib = 64, c;
    char dir[] = "/tmp/tenon-bench-osi.XXXXXX";
    const char *paths[] = {TENON_BENCH_PLUGINS};
    struct tenon_options o;
    tenon_t *t;

    while ((c = getopt(argc, argv, "r:p:m:h")) != -1)
        switch (c) {
        case 'r': reps = atoi(optarg); break;
        case 'p': procs = atoi(optarg); break;
        case 'm': mib = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    if (reps < 1 || procs < 1 || mib < 1) {
        usage(stderr);
        return 2;
    }
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = paths;
    o.plugin_path_count = 1;
    o.trust = TENON_TRUST_OFF;
    o.no_cache = 1;
    if (tenon_open(&t, &o) || !mkdtemp(dir))
        die("setup failed: %s", tenon_last_error());
    printf("bench/osi: best of %d (median beside it); ratio = baseline / "
           "tenon, above 1 means tenon is faster\n",
           reps);
    int sizes[] = {procs / 10, procs, procs * 10};
    for (int i = 0; i < 3; i++)
        bench_ps(t, sizes[i] ? sizes[i] : 1);
    size_t bytes = (size_t)mib << 20;
    size_t lens[] = {bytes / 10, bytes, bytes * 10};
    for (int i = 0; i < 3; i++)
        bench_memory(t, (lens[i] + (1u << 20) - 1) >> 20, lens[i], dir);
    rmdir(dir);
    tenon_close(t);
    return 0;
}
