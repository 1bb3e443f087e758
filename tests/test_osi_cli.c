/*
 * The introspection commands (ps, threads, maps, modules, read, dump,
 * providers) and tenon_write_core(), run on real data: a live osi_target
 * (a marker string at a known address, two named threads), a core of it
 * written by gdb's gcore, and a core written by `tenon dump`, which gdb
 * itself must then open. The bundled plugins native, process and coredump
 * do the reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osi_testutil.h"
#include "testutil.h"

#define PLUGINS TEST_EXAMPLE_DIR /* build/plugins */

/* Never a process: above Linux's PID_MAX_LIMIT (4194304). */
#define NO_PID "99999999"

static struct fixture {
    char *dir;
    struct target t; /* started by the first test that needs it */
    pid_t pid;
    char spid[16], saddr[32], slen[16];
    unsigned long long marker;
    uint32_t *tids;
    char exe[PATH_MAX];
    char *gcore, *dump; /* core files: gdb's and tenon's */
    char coredump_gcore[PATH_MAX + 16], coredump_dump[PATH_MAX + 16];
} fx;

static const char marker[] = OSI_MARKER;

/* ---- running other programs -----------------------------------------------
 */

struct exec_args {
    const char *const *argv;
    uid_t uid; /* drop to it first when not 0 */
    const char *stdout_file;
};

static int exec_child(void *arg)
{
    const struct exec_args *a = arg;
    if (a->stdout_file) {
        int fd = open(a->stdout_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0)
            return 126;
    }
    /* Another user has no trust directory of root's to read, nor root's
     * scan cache to use. */
    if (a->uid &&
        (setgroups(0, NULL) || setgid(a->uid) || setuid(a->uid) ||
         setenv("TENON_TRUST", "off", 1) || setenv("HOME", "/nonexistent", 1)))
        return 126;
    execvp(a->argv[0], (char *const *)a->argv);
    return 127;
}

static void run_argv(struct run *r, const char *const *argv, uid_t uid,
                     const char *stdout_file)
{
    struct exec_args a = {argv, uid, stdout_file};
    if (run_child(r, 120000, exec_child, &a) != 0)
        fail_msg("%s timed out", argv[0]);
}

/* `tenon ARGS... --plugin-path build/plugins`. */
#define TENON(r, ...) RUN(r, __VA_ARGS__, "--plugin-path", PLUGINS)

/* ---- the fixture ----------------------------------------------------------
 */

/* Start the osi_target the tests look at, once. */
static void live(void)
{
    if (fx.pid)
        return;
    target_start(&fx.t, OSI_TARGET, NULL);
    fx.pid = fx.t.pid;
    fx.marker = fx.t.marker;
    fx.tids = fx.t.tids;
    snprintf(fx.spid, sizeof fx.spid, "%d", (int)fx.pid);
    snprintf(fx.saddr, sizeof fx.saddr, "0x%llx", fx.marker);
    snprintf(fx.slen, sizeof fx.slen, "%zu", fx.t.marker_len);
    assert_non_null(realpath(OSI_TARGET, fx.exe));
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (!(fx.dir = make_tmpdir()))
        return -1;
    fx.gcore = path_join(fx.dir, "gcore");
    fx.dump = path_join(fx.dir, "dump.core");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.pid > 0)
        target_stop(&fx.t);
    free(fx.gcore);
    free(fx.dump);
    remove_tree(fx.dir);
    return 0;
}

/* The element of JSON array `arr` whose integer `key` is `v`, or NULL. */
static json_t *find_int(json_t *arr, const char *key, json_int_t v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_integer_value(json_object_get(e, key)) == v)
            return e;
    }
    return NULL;
}

static void assert_threads_json(const char *out)
{
    json_t *arr = parse_json(out);
    assert_int_equal(json_array_size(arr), 3);
    for (int i = 0; i < 3; i++)
        assert_non_null(find_int(arr, "tid", fx.tids[i]));
    json_decref(arr);
}

/* ---- exact output, on fakeosi's made-up process 42 ----------------------- */

#define FAKE(r, ...)                                                           \
    RUN(r, __VA_ARGS__, "--plugin-path", TEST_OSI_DIR, "--plugin-path", PLUGINS)

static void test_formats(void **state)
{
    struct run r;
    (void)state;
    FAKE(&r, "ps", "-o", "fakeosi");
    assert_status(&r, 0);
    assert_string_equal(r.out, "    PID    PPID    UID STATE START  NAME\n"
                               "     42       1   1000 S     -      fake\n");
    run_free(&r);
    FAKE(&r, "ps", "--os=fakeosi", "--full");
    assert_status(&r, 0);
    assert_string_equal(r.out,
                        "    PID    PPID    UID STATE START  NAME            "
                        "CMD\n"
                        "     42       1   1000 S     -      fake            "
                        "/fake/bin --flag x y\n");
    run_free(&r);
    FAKE(&r, "ps", "-o", "fakeosi", "--json");
    assert_status(&r, 0);
    assert_string_equal(r.out, "[\n"
                               "  {\n"
                               "    \"pid\": 42,\n"
                               "    \"ppid\": 1,\n"
                               "    \"uid\": 1000,\n"
                               "    \"state\": \"S\",\n"
                               "    \"start_time\": null,\n"
                               "    \"start_time_ns\": null,\n"
                               "    \"name\": \"fake\",\n"
                               "    \"exe\": \"/fake/bin\",\n"
                               "    \"argv\": [\n"
                               "      \"/fake/bin\",\n"
                               "      \"--flag\",\n"
                               "      \"x y\"\n"
                               "    ]\n"
                               "  }\n"
                               "]\n");
    run_free(&r);
    FAKE(&r, "threads", "42", "-o", "fakeosi");
    assert_status(&r, 0);
    assert_string_equal(r.out, "    TID STATE NAME\n"
                               "     42 S     t\n"
                               "     43 S     t\n"
                               "     44 S     t\n");
    run_free(&r);
    FAKE(&r, "maps", "42", "-o", "fakeosi");
    assert_status(&r, 0);
    assert_string_equal(r.out,
                        "00010000-00014000 rw-p 00000000 00:00 0\n"
                        "00020000-00024000 r--p 00000000 00:00 0\n"
                        "00030000-00031000 ---p 00000000 00:00 0\n"
                        "00040000-00042000 r-xp 00003000 08:01 77"
                        "                                 /fake/lib.so\n");
    run_free(&r);
    FAKE(&r, "maps", "42", "-o", "fakeosi", "--json");
    assert_status(&r, 0);
    json_t *arr = parse_json(r.out), *m = json_array_get(arr, 3);
    assert_int_equal(json_array_size(arr), 4);
    assert_nstr(json_string_value(json_object_get(m, "start")), "0x40000");
    assert_nstr(json_string_value(json_object_get(m, "end")), "0x42000");
    assert_nstr(json_string_value(json_object_get(m, "perms")), "r-xp");
    assert_true(json_is_true(json_object_get(m, "exec")));
    assert_true(json_is_false(json_object_get(m, "write")));
    assert_int_equal(json_integer_value(json_object_get(m, "offset")), 0x3000);
    assert_nstr(json_string_value(json_object_get(m, "dev")), "08:01");
    assert_int_equal(json_integer_value(json_object_get(m, "inode")), 77);
    assert_nstr(json_string_value(json_object_get(m, "path")), "/fake/lib.so");
    json_decref(arr);
    run_free(&r);
    FAKE(&r, "modules", "-o", "fakeosi");
    assert_status(&r, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "tenon modules: 'fakeosi' does not list "
                               "kernel modules\n");
    run_free(&r);
    FAKE(&r, "threads", "7", "-o", "fakeosi");
    assert_status(&r, 1);
    assert_string_equal(r.err, "tenon threads: no process 7\n");
    run_free(&r);
}

/* A dump of fakeosi's process, read back through coredump: bytes, the
 * holes the dump left (one ends mid-page), and a read across one. */
static void test_fake_dump(void **state)
{
    struct run r;
    char *core = path_join(fx.dir, "fake.core"), spec[PATH_MAX + 16];
    (void)state;
    FAKE(&r, "dump", "42", "-o", "fakeosi", "-O", core);
    assert_status(&r, 0);
    run_free(&r);
    snprintf(spec, sizeof spec, "coredump:%s", core);
    FAKE(&r, "read", "-o", spec, "0x22000", "16");
    assert_status(&r, 0);
    assert_string_equal(r.out, "00022000  00 07 0e 15 1c 23 2a 31  38 3f 46 "
                               "4d 54 5b 62 69  |.....#*18?FMT[bi|\n");
    run_free(&r);
    FAKE(&r, "read", "-o", spec, "0x227f8", "0x10");
    assert_status(&r, 1);
    assert_string_equal(r.out, "000227f8  c8 cf d6 dd e4 eb f2 f9"
                               "                           |........|\n");
    assert_string_equal(r.err, "tenon read: address 0x22800 is not readable "
                               "(read 8 of 16 bytes)\n");
    run_free(&r);
    FAKE(&r, "read", "-o", spec, "0x21000", "1", "--json");
    assert_status(&r, 1);
    assert_string_equal(r.out, "{\n"
                               "  \"address\": \"0x21000\",\n"
                               "  \"length\": 1,\n"
                               "  \"read\": 0,\n"
                               "  \"hex\": \"\"\n"
                               "}\n");
    assert_string_equal(r.err, "tenon read: address 0x21000 is not readable\n");
    run_free(&r);
    FAKE(&r, "threads", "42", "-o", spec);
    assert_status(&r, 0);
    assert_contains(r.out, "     42 ");
    assert_contains(r.out, "     44 ");
    run_free(&r);
    free(core);
}

/* ---- the live process ------------------------------------------------------
 */

static void test_ps_native(void **state)
{
    struct run r;
    json_t *arr, *p;
    char line[64];
    (void)state;
    live();
    TENON(&r, "ps", "-o", "native", "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_non_null(p = find_int(arr, "pid", fx.pid));
    assert_int_equal(json_integer_value(json_object_get(p, "ppid")), getpid());
    assert_nstr(json_string_value(json_object_get(p, "name")), "osi_target");
    assert_nstr(json_string_value(json_object_get(p, "exe")), fx.exe);
    assert_nstr(
        json_string_value(json_array_get(json_object_get(p, "argv"), 0)),
        OSI_TARGET);
    assert_int_equal(json_integer_value(json_object_get(p, "uid")), getuid());
    assert_non_null(json_string_value(json_object_get(p, "start_time")));
    json_decref(arr);
    run_free(&r);

    /* The default provider is native; text has the pid and the name. */
    TENON(&r, "ps", "-f");
    assert_status(&r, 0);
    assert_contains(r.out, "NAME            CMD\n");
    snprintf(line, sizeof line, " %d ", (int)getpid());
    assert_contains(r.out, line);
    assert_contains(r.out, " osi_target      " OSI_TARGET "\n");
    run_free(&r);
}

static void test_threads_native(void **state)
{
    struct run r;
    char tid[32];
    (void)state;
    live();
    TENON(&r, "threads", fx.spid);
    assert_status(&r, 0);
    assert_contains(r.out, "TID STATE NAME\n");
    for (int i = 0; i < 3; i++) {
        snprintf(tid, sizeof tid, "%7d ", (int)fx.tids[i]);
        assert_contains(r.out, tid);
    }
    assert_contains(r.out, "worker-1\n");
    assert_contains(r.out, "worker-2\n");
    run_free(&r);
    TENON(&r, "threads", fx.spid, "--json");
    assert_status(&r, 0);
    assert_threads_json(r.out);
    run_free(&r);
}

static void test_maps_native(void **state)
{
    struct run r;
    json_t *arr, *m;
    size_t i;
    int marker_seen = 0;
    (void)state;
    live();
    TENON(&r, "maps", fx.spid);
    assert_status(&r, 0);
    assert_contains(r.out, fx.exe);
    assert_contains(r.out, "[stack]\n");
    run_free(&r);
    /* The marker lies in a writable private mapping of the executable. */
    TENON(&r, "maps", fx.spid, "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    json_array_foreach(arr, i, m)
    {
        unsigned long long s =
            strtoull(json_string_value(json_object_get(m, "start")), NULL, 16);
        unsigned long long e =
            strtoull(json_string_value(json_object_get(m, "end")), NULL, 16);
        if (fx.marker >= s && fx.marker < e) {
            marker_seen = 1;
            assert_nstr(json_string_value(json_object_get(m, "perms")), "rw-p");
            assert_nstr(json_string_value(json_object_get(m, "path")), fx.exe);
        }
    }
    assert_true(marker_seen);
    json_decref(arr);
    run_free(&r);
}

static void test_read_native(void **state)
{
    struct run r;
    char want[160];
    json_t *j;
    (void)state;
    live();
    TENON(&r, "read", "-o", "native", "-c", "process:pid=", fx.saddr, fx.slen);
    assert_status(&r, 2); /* pid= without a value */
    run_free(&r);

    char step[48];
    snprintf(step, sizeof step, "process:pid=%s", fx.spid);
    TENON(&r, "read", "-o", "native", "-c", step, fx.saddr, fx.slen, "--raw");
    assert_status(&r, 0);
    assert_string_equal(r.out, marker);
    run_free(&r);

    /* A first step that needs an input gets the best provider of it. */
    TENON(&r, "read", "--connector", step, fx.saddr, "16");
    assert_status(&r, 0);
    snprintf(want, sizeof want,
             "%llx  54 45 4e 4f 4e 2d 4f 53  49 2d 4d 41 "
             "52 4b 45 52  |TENON-OSI-MARKER|\n",
             fx.marker);
    assert_contains(r.out, want);
    assert_string_equal(r.err, "");
    run_free(&r);

    TENON(&r, "read", "-c", step, fx.saddr, "0x5", "--json");
    assert_status(&r, 0);
    j = parse_json(r.out);
    assert_nstr(json_string_value(json_object_get(j, "address")), fx.saddr);
    assert_int_equal(json_integer_value(json_object_get(j, "read")), 5);
    assert_nstr(json_string_value(json_object_get(j, "hex")), "54454e4f4e");
    json_decref(j);
    run_free(&r);
}

/* A read that runs off the end of a mapping prints what it read, then
 * names the first address it could not; one that starts there reads
 * nothing. */
static void test_read_unreadable(void **state)
{
    struct run r;
    json_t *arr, *m;
    size_t i;
    unsigned long long end = 0;
    char step[48], addr[32], want[128];
    (void)state;
    live();
    snprintf(step, sizeof step, "process:pid=%s", fx.spid);
    TENON(&r, "read", "-c", step, "0x10", "16");
    assert_status(&r, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "tenon read: address 0x10 is not readable\n");
    run_free(&r);

    /* The end of a mapping with no mapping right after it. */
    TENON(&r, "maps", fx.spid, "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    json_array_foreach(arr, i, m)
    {
        json_t *next = json_array_get(arr, i + 1);
        unsigned long long e =
            strtoull(json_string_value(json_object_get(m, "end")), NULL, 16);
        if (json_is_true(json_object_get(m, "read")) && next &&
            strtoull(json_string_value(json_object_get(next, "start")), NULL,
                     16) > e) {
            end = e;
            break;
        }
    }
    json_decref(arr);
    run_free(&r);
    assert_true(end != 0);
    snprintf(addr, sizeof addr, "0x%llx", end - 8);
    TENON(&r, "read", "-c", step, addr, "16");
    assert_status(&r, 1);
    snprintf(want, sizeof want, "%llx ", end - 8);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    assert_int_equal(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out));
    snprintf(want, sizeof want,
             "tenon read: address 0x%llx is not readable (read 8 of 16 "
             "bytes)\n",
             end);
    assert_string_equal(r.err, want);
    run_free(&r);
}

/* ---- gcore's core file -----------------------------------------------------
 */

static void make_gcore(void)
{
    struct run r;
    const char *argv[] = {"gcore", "-o", fx.gcore, fx.spid, NULL};
    run_argv(&r, argv, 0, NULL);
    assert_status(&r, 0);
    run_free(&r);
    snprintf(fx.coredump_gcore, sizeof fx.coredump_gcore, "coredump:%s.%s",
             fx.gcore, fx.spid);
}

static void test_gcore(void **state)
{
    struct run r;
    json_t *arr, *p;
    (void)state;
    live();
    make_gcore();
    TENON(&r, "ps", "-o", fx.coredump_gcore, "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_int_equal(json_array_size(arr), 1);
    assert_non_null(p = find_int(arr, "pid", fx.pid));
    assert_nstr(json_string_value(json_object_get(p, "name")), "osi_target");
    json_decref(arr);
    run_free(&r);

    TENON(&r, "threads", "-o", fx.coredump_gcore, fx.spid, "--json");
    assert_status(&r, 0);
    assert_threads_json(r.out);
    run_free(&r);

    TENON(&r, "maps", "--os", fx.coredump_gcore, fx.spid);
    assert_status(&r, 0);
    assert_contains(r.out, fx.exe);
    assert_contains(r.out, "/libc.so");
    run_free(&r);

    TENON(&r, "read", "-o", fx.coredump_gcore, fx.saddr, fx.slen, "--raw");
    assert_status(&r, 0);
    assert_string_equal(r.out, marker);
    run_free(&r);

    TENON(&r, "modules", "-o", fx.coredump_gcore);
    assert_status(&r, 1);
    assert_string_equal(r.err, "tenon modules: 'coredump' does not list kernel "
                               "modules\n");
    run_free(&r);
}

/* ---- tenon dump ------------------------------------------------------------
 */

/* gdb opens `core` with the executable: the three threads by their ids,
 * the marker by address and by symbol (which needs the PIE placed). */
static void assert_gdb_reads(const char *core)
{
    struct run r;
    char xs[96], lwp[32];
    const char *argv[] = {
        "gdb",      "-batch",       "-nx",
        "-ex",      "info threads", "-ex",
        xs,         "-ex",          "print (char*)osi_target_marker",
        OSI_TARGET, core,           NULL};
    snprintf(xs, sizeof xs, "x/s %s", fx.saddr);
    run_argv(&r, argv, 0, NULL);
    assert_status(&r, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(lwp, sizeof lwp, "LWP %d", (int)fx.tids[i]);
        assert_contains(r.out, lwp);
    }
    /* x/s: "0xADDR <osi_target_marker>:\t\"TENON...\"" */
    snprintf(xs, sizeof xs, "%s <osi_target_marker>:\t\"", fx.saddr);
    assert_contains(r.out, xs);
    assert_contains(r.out, "<osi_target_marker> \"TENON-OSI-MARKER:7f3a9c1e");
    assert_null(strstr(r.err, "Cannot access memory"));
    run_free(&r);
}

static void test_dump(void **state)
{
    struct run r;
    struct stat st;
    char want[PATH_MAX + 64];
    (void)state;
    live();
    unlink(fx.dump);
    TENON(&r, "dump", fx.spid, "-O", fx.dump);
    assert_status(&r, 0);
    snprintf(want, sizeof want, "%s: core of process %s, ", fx.dump, fx.spid);
    assert_contains(r.out, want);
    assert_string_equal(r.err, "");
    run_free(&r);
    assert_int_equal(stat(fx.dump, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_gdb_reads(fx.dump);

    snprintf(fx.coredump_dump, sizeof fx.coredump_dump, "coredump:%s", fx.dump);
    TENON(&r, "read", "-o", fx.coredump_dump, fx.saddr, fx.slen, "--raw");
    assert_status(&r, 0);
    assert_string_equal(r.out, marker);
    run_free(&r);
    TENON(&r, "threads", "-o", fx.coredump_dump, fx.spid, "--json");
    assert_status(&r, 0);
    assert_threads_json(r.out);
    run_free(&r);
    TENON(&r, "ps", "-o", fx.coredump_dump, "--json");
    assert_status(&r, 0);
    json_t *arr = parse_json(r.out), *p = find_int(arr, "pid", fx.pid);
    assert_non_null(p);
    assert_nstr(json_string_value(json_object_get(p, "name")), "osi_target");
    assert_int_equal(json_integer_value(json_object_get(p, "ppid")), getpid());
    json_decref(arr);
    run_free(&r);

    /* No overwriting without --force; nothing left behind either way. */
    TENON(&r, "dump", fx.spid, "-O", fx.dump);
    assert_status(&r, 1);
    snprintf(want, sizeof want,
             "tenon dump: %s exists; give --force to replace it\n", fx.dump);
    assert_string_equal(r.err, want);
    run_free(&r);
    TENON(&r, "dump", fx.spid, "-O", fx.dump, "--force", "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_int_equal(json_integer_value(json_object_get(arr, "pid")), fx.pid);
    assert_true(json_integer_value(json_object_get(arr, "size")) > 4096);
    json_decref(arr);
    run_free(&r);
}

/* --force replaces an earlier core, never a FIFO, a device or a directory
 * that has the name; a symbolic link is replaced, not followed. */
/* A kernel thread has no user memory: dumping it fails instead of writing
 * an empty core (pid 2 is kthreadd, when this system shows it). */
static void test_dump_kernel_thread(void **state)
{
    char comm[64] = "";
    FILE *f = fopen("/proc/2/comm", "r");
    struct run r;
    (void)state;
    if (f) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
    }
    if (strcmp(comm, "kthreadd\n") != 0)
        skip();
    char *dir = make_tmpdir(), *out = path_join(dir, "k.core");
    TENON(&r, "dump", "2", "-O", out);
    assert_status(&r, 1);
    assert_nstr(r.err, "tenon dump: process 2 (kthreadd) has no memory "
                       "mappings (a kernel thread?): nothing to dump\n");
    assert_int_equal(access(out, F_OK), -1);
    run_free(&r);
    free(out);
    remove_tree(dir);
}

static void test_dump_force_nonregular(void **state)
{
    char *fifo = path_join(fx.dir, "force.fifo");
    char *dev = path_join(fx.dir, "force.null");
    char *dir = path_join(fx.dir, "force.dir");
    char *link = path_join(fx.dir, "force.link");
    char *target = path_join(fx.dir, "force.target");
    const char *names[] = {fifo, dev, dir};
    char want[PATH_MAX + 64];
    struct stat st;
    struct run r;
    (void)state;
    live();
    unlink(fifo);
    unlink(dev);
    rmdir(dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* A copy of /dev/null: making one takes root (CI runs as root). */
    int have_dev = mknod(dev, S_IFCHR | 0600, makedev(1, 3)) == 0;
    for (size_t i = 0; i < 3; i++) {
        if (names[i] == dev && !have_dev)
            continue;
        TENON(&r, "dump", fx.spid, "-O", names[i], "--force");
        assert_status(&r, 1);
        snprintf(want, sizeof want,
                 "tenon dump: %s is not a regular file; refusing to replace "
                 "it\n",
                 names[i]);
        assert_string_equal(r.err, want);
        run_free(&r);
    }
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    if (have_dev) {
        assert_int_equal(lstat(dev, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }

    unlink(link);
    unlink(target);
    assert_int_equal(symlink(target, link), 0);
    TENON(&r, "dump", fx.spid, "-O", link, "--force");
    assert_status(&r, 0);
    run_free(&r);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(target, &st), -1);

    unlink(fifo);
    unlink(dev);
    unlink(link);
    rmdir(dir);
    free(fifo);
    free(dev);
    free(dir);
    free(link);
    free(target);
}

/* Run the CLI with stdout a terminal (a pty's other end); returns its exit
 * status and what it wrote to stderr in `err`. */
static int run_on_tty(const char *const *args, char *err, size_t size)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY), p[2], status;
    size_t got = 0;
    ssize_t k;
    pid_t pid;
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    assert_int_equal(pipe(p), 0);
    if ((pid = fork()) == 0) {
        int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        if (slave < 0 || dup2(slave, 1) < 0 || dup2(p[1], 2) < 0)
            _exit(99);
        execv(TENON_CLI, (char *const *)args);
        _exit(98);
    }
    assert_true(pid > 0);
    close(p[1]);
    while (got + 1 < size && (k = read(p[0], err + got, size - 1 - got)) > 0)
        got += (size_t)k;
    err[got] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(master);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The target's bytes could be escape sequences: --raw refuses a terminal
 * as dump -O - does. */
static void test_raw_to_terminal(void **state)
{
    char step[48];
    const char *read_args[] = {TENON_CLI, "read",  "-c",    step,
                               fx.saddr,  fx.slen, "--raw", "--plugin-path",
                               PLUGINS,   NULL};
    const char *dump_args[] = {TENON_CLI, "dump",          fx.spid, "-O",
                               "-",       "--plugin-path", PLUGINS, NULL};
    char err[1024];
    (void)state;
    live();
    snprintf(step, sizeof step, "process:pid=%s", fx.spid);
    assert_int_equal(run_on_tty(read_args, err, sizeof err), 2);
    assert_string_equal(err, "tenon read: refusing to write raw bytes to a "
                             "terminal; redirect stdout or drop --raw\n");
    assert_int_equal(run_on_tty(dump_args, err, sizeof err), 2);
    assert_string_equal(err, "tenon dump: refusing to write a core file to a "
                             "terminal; redirect stdout or give -O FILE\n");
}

/* Written to a pipe, which cannot seek, the core is the same. */
static void test_dump_pipe(void **state)
{
    struct run r;
    char *piped = path_join(fx.dir, "piped.core"), *cmd, spec[PATH_MAX + 16];
    const char *argv[] = {"sh", "-c", NULL, NULL};
    (void)state;
    live();
    cmd = malloc(strlen(piped) + 512);
    assert_non_null(cmd);
    sprintf(cmd, "'%s' dump %s -O - --plugin-path '%s' | cat > '%s'", TENON_CLI,
            fx.spid, PLUGINS, piped);
    argv[2] = cmd;
    run_argv(&r, argv, 0, NULL);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    assert_gdb_reads(piped);
    snprintf(spec, sizeof spec, "coredump:%s", piped);
    TENON(&r, "read", "-o", spec, fx.saddr, fx.slen, "--raw");
    assert_status(&r, 0);
    assert_string_equal(r.out, marker);
    run_free(&r);
    free(cmd);
    free(piped);
}

/* ---- tenon_write_core() from a host ---------------------------------------
 */

static void test_write_core_errors(void **state)
{
    const char *dirs[] = {PLUGINS};
    tenon_t *t = open_scanned(dirs, 1);
    tenon_instance_t *native, *hello;
    int fd;
    (void)state;
    live();
    assert_int_equal(tenon_create(t, "native", NULL, &native), 0);

    /* A full disk: the write fails, naming errno. */
    fd = open("/dev/full", O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(tenon_write_core(native, (uint32_t)fx.pid, fd), TENON_EIO);
    assert_contains(tenon_last_error(), "No space left on device");
    close(fd);

    /* A reader that went away (SIGPIPE is ignored here). */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    assert_int_equal(tenon_write_core(native, (uint32_t)fx.pid, p[1]),
                     TENON_EIO);
    assert_contains(tenon_last_error(), "Broken pipe");
    close(p[1]);

    /* No such process: nothing written. */
    fd = open("/dev/null", O_WRONLY);
    assert_int_equal(tenon_write_core(native, 99999999u, fd), TENON_ENOENT);
    close(fd);

    /* An instance without tenon.osi/1. */
    assert_int_equal(tenon_create(t, "hello", NULL, &hello), 0);
    assert_int_equal(tenon_write_core(hello, 1, 1), TENON_EINVAL);
    assert_string_equal(tenon_last_error(),
                        "plugin 'hello' does not provide tenon.osi/1, which "
                        "a core file is written from");
    tenon_destroy(hello);
    tenon_destroy(native);
    tenon_close(t);
}

/* ---- bad input -------------------------------------------------------------
 */

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* The start of `text` is `head` and its end `tail`. */
static void assert_frame(const char *text, const char *head, const char *tail)
{
    size_t n = strlen(text), t = strlen(tail);
    if (strncmp(text, head, strlen(head)) != 0 || n < t ||
        strcmp(text + n - t, tail) != 0)
        fail_msg("expected \"%s...%s\", got \"%s\"", head, tail, text);
}

static void test_bad_cores(void **state)
{
    struct run r;
    char *empty = path_join(fx.dir, "empty"), *cut = path_join(fx.dir, "cut");
    char spec[PATH_MAX + 16], want[2 * PATH_MAX + 256];
    unsigned char buf[8192];
    int fd;
    (void)state;
    live();

    write_file(empty, "", 0);
    snprintf(spec, sizeof spec, "coredump:%s", empty);
    TENON(&r, "ps", "-o", spec);
    assert_status(&r, 1);
    snprintf(want, sizeof want,
             "tenon ps: chain step 1 of 1 ('%s'): plugin 'coredump' failed "
             "to create an instance: %s is empty (0 bytes), expected an ELF "
             "core file (invalid argument)\n",
             spec, empty);
    assert_string_equal(r.err, want);
    run_free(&r);

    /* The first 2 KiB of a real core: its headers and notes, no data. */
    fd = open(fx.dump, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    write_file(cut, buf, 2048);
    snprintf(spec, sizeof spec, "coredump:%s", cut);
    TENON(&r, "threads", "-o", spec, fx.spid);
    assert_status(&r, 1);
    snprintf(want, sizeof want,
             "tenon threads: chain step 1 of 1 ('%s'): plugin 'coredump' "
             "failed to create an instance: %s: truncated core: segment ",
             spec, cut);
    assert_frame(r.err, want, ", the file has 2048 (invalid argument)\n");
    run_free(&r);

    /* An executable is ELF, but not a core. */
    snprintf(spec, sizeof spec, "coredump:%s", OSI_TARGET);
    TENON(&r, "maps", "-o", spec, fx.spid);
    assert_status(&r, 1);
    snprintf(want, sizeof want,
             "tenon maps: chain step 1 of 1 ('%s'): plugin 'coredump' failed "
             "to create an instance: %s is an ELF shared object, not a core "
             "file (ET_CORE) (invalid argument)\n",
             spec, OSI_TARGET);
    assert_string_equal(r.err, want);
    run_free(&r);
    free(empty);
    free(cut);
}

static void test_no_such_process(void **state)
{
    static const char *const cmds[] = {"threads", "maps"};
    struct run r;
    char *out = path_join(fx.dir, "none.core"), want[128];
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        TENON(&r, cmds[i], NO_PID);
        assert_status(&r, 1);
        assert_string_equal(r.out,
                            cmds[i][0] == 't' ? "    TID STATE NAME\n" : "");
        snprintf(want, sizeof want,
                 "tenon %s: process " NO_PID " does not exist\n", cmds[i]);
        assert_string_equal(r.err, want);
        run_free(&r);
    }
    TENON(&r, "dump", NO_PID, "-O", out);
    assert_status(&r, 1);
    assert_string_equal(r.err, "tenon dump: plugin 'native': process " NO_PID
                               " does not exist\n");
    run_free(&r);
    /* Nothing left behind: no core, no temporary file. */
    assert_int_equal(access(out, F_OK), -1);
    TENON(&r, "read", "-c", "process:pid=" NO_PID, "0x1000", "1");
    assert_status(&r, 1);
    assert_string_equal(
        r.err, "tenon read: chain step 1 of 1 ('process:pid=" NO_PID
               "'): plugin 'process' failed to create an "
               "instance: process " NO_PID " does not exist (not found)\n");
    run_free(&r);
    free(out);
    struct run ls;
    const char *argv[] = {"ls", "-A", fx.dir, NULL};
    run_argv(&ls, argv, 0, NULL);
    assert_null(strstr(ls.out, ".tmp-"));
    run_free(&ls);
}

/* Another user's process: the provider refuses, and says so. */
static void test_permission(void **state)
{
    struct run r;
    char step[48], want[160];
    const char *maps[] = {TENON_CLI,       "maps",  fx.spid, "--no-cache",
                          "--plugin-path", PLUGINS, NULL};
    const char *read[] = {TENON_CLI, "read", "-c",         step,
                          fx.saddr,  "16",   "--no-cache", "--plugin-path",
                          PLUGINS,   NULL};
    (void)state;
    live();
    snprintf(step, sizeof step, "process:pid=%s", fx.spid);
    run_argv(&r, maps, 65534, NULL);
    assert_status(&r, 1);
    snprintf(want, sizeof want,
             "tenon maps: reading the mappings of process %s: permission "
             "denied (/proc/%s/maps: EACCES)\n",
             fx.spid, fx.spid);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_free(&r);
    run_argv(&r, read, 65534, NULL);
    assert_status(&r, 1);
    assert_contains(r.err, "tenon read: ");
    assert_contains(r.err, ": permission denied");
    assert_string_equal(r.out, "");
    run_free(&r);
}

/* ---- chains and usage ------------------------------------------------------
 */

static void test_chains(void **state)
{
    struct run r;
    char step[48], want[256];
    (void)state;
    live();
    snprintf(step, sizeof step, "process:pid=%s", fx.spid);
    /* The second process step gets a tenon.memory/1 input. */
    TENON(&r, "read", "-o", "native", "-c", step, "-c", step, fx.saddr, "1");
    assert_status(&r, 2);
    snprintf(want, sizeof want,
             "tenon read: chain step 3 of 3 ('%s'): plugin 'process' needs "
             "an input providing tenon.osi/1; 'process' does not provide it\n",
             step);
    assert_string_equal(r.err, want);
    run_free(&r);

    TENON(&r, "ps", "-o", step);
    assert_status(&r, 2);
    snprintf(want, sizeof want,
             "tenon ps: -o '%s': plugin 'process' does not provide "
             "tenon.osi/1, which an OS (-o) step must\n",
             step);
    assert_string_equal(r.err, want);
    run_free(&r);

    TENON(&r, "read", "-o", "native", fx.saddr, "1");
    assert_status(&r, 2);
    assert_string_equal(r.err,
                        "tenon read: the chain ends in 'native', which does "
                        "not provide tenon.memory/1; add a connector step "
                        "for one of its processes, e.g. -c process:pid=PID\n");
    run_free(&r);

    TENON(&r, "ps", "-c", "coredump:/nonexistent");
    assert_status(&r, 1); /* a connector step may end an OS chain */
    run_free(&r);

    TENON(&r, "ps", "-o", "nosuchplugin");
    assert_status(&r, 1);
    assert_contains(r.err, "tenon ps: -o 'nosuchplugin': ");
    run_free(&r);
    TENON(&r, "ps", "-o", "native:bogus=1");
    assert_status(&r, 2);
    run_free(&r);
}

static void test_usage(void **state)
{
    static const struct {
        const char *a[6];
        const char *err;
    } cases[] = {
        {{"threads"},
         "tenon threads: expected PID; see 'tenon threads --help'\n"},
        {{"maps", "abc"},
         "tenon maps: 'abc' is not a process id; expected a decimal number\n"},
        {{"threads", "1", "2"}, "tenon threads: unexpected operand '2'"},
        {{"read", "-o", "native", "zz", "1"},
         "tenon read: ADDR 'zz': expected an address"},
        {{"read", "-o", "native", "0x10", "0"}, "tenon read: LEN '0': "},
        {{"read", "-o", "native", "0x10", "1q"}, "tenon read: LEN '1q': "},
        {{"read", "0xffffffffffffffff", "2"},
         "tenon read: ADDR + LEN is past the end"},
        {{"read", "1", "1", "--raw", "--json"},
         "tenon read: --raw and --json exclude each other\n"},
        {{"read", "1"}, "tenon read: expected ADDR LEN"},
        {{"dump", "1"}, "tenon dump: expected -O FILE"},
        {{"dump", "1", "-O", "-", "--json"}, "exclude each other"},
        {{"ps", "--rwa"}, "tenon ps: unknown option '--rwa'"},
        {{"read", "--rwa", "1", "1"}, "did you mean '--raw'?"},
        {{"ps", "-o"}, "tenon ps: -o needs NAME[:ARGS]"},
        {{"ps", "--os="}, "tenon ps: --os needs NAME[:ARGS]"},
        {{"providers"}, "tenon providers: expected ID"},
        {{"providers", "osi"}, "'osi': expected an interface id"},
        {{"modules", "x"}, "unexpected operand 'x'"},
        {{"dump", "1", "--full", "-O", "x"}, "unknown option '--full'"},
        {{"dump", "1", "-O", "x", "--forse"}, "did you mean '--force'?"},
        {{"thraeds"}, "unknown command 'thraeds'; did you mean 'threads'?"},
        {{"dupm"}, "did you mean 'dump'?"},
        {{"provider"}, "did you mean 'providers'?"},
    };
    struct run r;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[10] = {TENON_CLI, cases[i].a[0], "--plugin-path",
                                PLUGINS};
        size_t n = 4;
        for (size_t k = 1; k < 6 && cases[i].a[k]; k++)
            argv[n++] = cases[i].a[k];
        run_argv(&r, argv, 0, NULL);
        if (r.status != 2 || !strstr(r.err, cases[i].err))
            fail_msg("case %zu: status %d, stderr:\n%s", i, r.status, r.err);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
}

static void test_providers(void **state)
{
    struct run r;
    json_t *arr;
    (void)state;
    TENON(&r, "providers", "tenon.osi/1", "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_true(json_array_size(arr) >= 2);
    assert_nstr(
        json_string_value(json_object_get(json_array_get(arr, 0), "name")),
        "native");
    assert_nstr(
        json_string_value(json_object_get(json_array_get(arr, 1), "name")),
        "coredump");
    assert_true(
        json_integer_value(json_object_get(json_array_get(arr, 0), "rank")) >
        json_integer_value(json_object_get(json_array_get(arr, 1), "rank")));
    json_decref(arr);
    run_free(&r);
    TENON(&r, "providers", "tenon.osi/1");
    assert_status(&r, 0);
    assert_contains(r.out, "   RANK  NAME");
    assert_true(strstr(r.out, "native") < strstr(r.out, "coredump"));
    run_free(&r);
    TENON(&r, "providers", "no.such/1");
    assert_status(&r, 0);
    assert_string_equal(
        r.out, "no plugins providing no.such/1 found in 1 directory\n");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_fake_dump),
        cmocka_unit_test(test_ps_native),
        cmocka_unit_test(test_threads_native),
        cmocka_unit_test(test_maps_native),
        cmocka_unit_test(test_read_native),
        cmocka_unit_test(test_read_unreadable),
        cmocka_unit_test(test_gcore),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_dump_pipe),
        cmocka_unit_test(test_dump_force_nonregular),
        cmocka_unit_test(test_dump_kernel_thread),
        cmocka_unit_test(test_raw_to_terminal),
        cmocka_unit_test(test_write_core_errors),
        cmocka_unit_test(test_bad_cores),
        cmocka_unit_test(test_no_such_process),
        cmocka_unit_test(test_permission),
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_providers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
