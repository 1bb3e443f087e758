/*
 * The procwatch plugin driven by hand on native: it sees a process the
 * test starts and the same process exit; its extractor reads records
 * crafted by hand as hostile input.
 */
#include "testutil.h"

#include <tenon/event.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pw {
    tenon_t *t;
    tenon_instance_t *os, *inst;
    const struct tenon_source_v1 *src;
    const struct tenon_extract_v1 *ex;
    void *obj;
    struct tenon_capture *cap;
    uint64_t evtnum;
};

static void pw_new(struct pw *w, const char *spec)
{
    static const char *const dirs[] = {TEST_EXAMPLE_DIR};
    void *obj2;
    memset(w, 0, sizeof *w);
    w->t = open_dirs(dirs, 1);
    assert_int_equal(tenon_create(w->t, "native", NULL, &w->os), 0);
    assert_int_equal(tenon_create(w->t, spec, w->os, &w->inst), 0);
    w->src = tenon_get_interface(w->inst, TENON_SOURCE_ID, &w->obj);
    w->ex = tenon_get_interface(w->inst, TENON_EXTRACT_ID, &obj2);
    assert_non_null(w->src);
    assert_non_null(w->ex);
    assert_ptr_equal(obj2, w->obj);
    assert_string_equal(w->src->event_source(w->obj), "procwatch");
}

static void pw_free(struct pw *w)
{
    if (w->cap)
        w->src->close(w->obj, w->cap);
    tenon_destroy(w->inst);
    tenon_destroy(w->os);
    tenon_close(w->t);
}

static struct tenon_extract_field field(struct pw *w, const char *name)
{
    struct tenon_extract_field f;
    uint32_t n;
    const struct tenon_field *fs = w->ex->fields(w->obj, &n);
    memset(&f, 0, sizeof f);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(fs[i].name, name) == 0) {
            f.field_id = i;
            f.field = fs[i].name;
            f.ftype = fs[i].type;
            return f;
        }
    fail_msg("no field %s", name);
    return f;
}

/* What procwatch says of one event. */
struct seen {
    char event[8], name[64], exe[256], cmdline[256];
    uint64_t pid, ppid, uid, start;
    int has_uid, has_exe, has_cmdline, has_start;
};

static int extract(struct pw *w, const struct tenon_event *evt, struct seen *s)
{
    static const char *const names[] = {
        "proc.event", "proc.pid", "proc.ppid",    "proc.uid",
        "proc.name",  "proc.exe", "proc.cmdline", "proc.start_time"};
    struct tenon_extract_field f[8];
    struct tenon_event_input ev = {evt, ++w->evtnum, "procwatch"};
    int rc;
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 8; i++)
        f[i] = field(w, names[i]);
    if ((rc = w->ex->extract(w->obj, &ev, 8, f)))
        return rc;
    assert_int_equal(f[0].res_len, 1);
    snprintf(s->event, sizeof s->event, "%s", f[0].res.str[0]);
    assert_int_equal(f[1].res_len, 1);
    s->pid = f[1].res.u64[0];
    assert_int_equal(f[2].res_len, 1);
    s->ppid = f[2].res.u64[0];
    if ((s->has_uid = f[3].res_len == 1))
        s->uid = f[3].res.u64[0];
    assert_int_equal(f[4].res_len, 1);
    snprintf(s->name, sizeof s->name, "%s", f[4].res.str[0]);
    if ((s->has_exe = f[5].res_len == 1))
        snprintf(s->exe, sizeof s->exe, "%s", f[5].res.str[0]);
    if ((s->has_cmdline = f[6].res_len == 1))
        snprintf(s->cmdline, sizeof s->cmdline, "%s", f[6].res.str[0]);
    if ((s->has_start = f[7].res_len == 1))
        s->start = f[7].res.u64[0];
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read events until one of `kind` about `pid` comes (up to 20 s). */
static int wait_for(struct pw *w, const char *kind, pid_t pid, struct seen *s)
{
    double end = now_s() + 20;
    while (now_s() < end) {
        uint32_t n = 0;
        const struct tenon_event *const *evts = NULL;
        int rc = w->src->next_batch(w->obj, w->cap, &n, &evts);
        if (rc == TENON_EAGAIN)
            continue;
        assert_int_equal(rc, 0);
        for (uint32_t i = 0; i < n; i++) {
            assert_int_equal(evts[i]->type, TENON_EVENT_PLUGIN);
            assert_int_equal(extract(w, evts[i], s), 0);
            if (s->pid == (uint64_t)pid && strcmp(s->event, kind) == 0)
                return 1;
        }
    }
    return 0;
}

static void test_start_exit(void **state)
{
    struct pw w;
    struct seen s;
    pid_t child;
    char want[64];
    (void)state;

    pw_new(&w, "procwatch:interval=20");
    assert_int_equal(w.src->open(w.obj, "", &w.cap), 0);
    /* posix_spawn returns once the child runs sleep (vfork semantics),
     * so no look can catch it under the test's own name. */
    {
        char *argv[] = {"sleep", "30", NULL};
        extern char **environ;
        assert_int_equal(
            posix_spawn(&child, "/bin/sleep", NULL, NULL, argv, environ), 0);
    }
    assert_true(wait_for(&w, "start", child, &s));
    assert_int_equal(s.ppid, (uint64_t)getpid());
    assert_true(s.has_uid);
    assert_int_equal(s.uid, (uint64_t)getuid());
    assert_true(s.has_start);
    assert_string_equal(s.name, "sleep");
    assert_true(s.has_exe);
    snprintf(want, sizeof want, "%s", s.exe + strlen(s.exe) - 6);
    assert_string_equal(want, "/sleep");
    assert_string_equal(s.cmdline, "sleep 30");
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_true(wait_for(&w, "exit", child, &s));
    assert_int_equal(s.ppid, (uint64_t)getpid());
    w.src->close(w.obj, w.cap);
    w.cap = NULL;
    pw_free(&w);
}

/* Nothing due: TENON_EAGAIN, soon, without an event. */
static void test_quiet(void **state)
{
    struct pw w;
    uint32_t n = 5;
    const struct tenon_event *const *evts;
    double t0;
    (void)state;
    pw_new(&w, "procwatch:interval=60000");
    assert_int_equal(w.src->open(w.obj, NULL, &w.cap), 0);
    t0 = now_s();
    assert_int_equal(w.src->next_batch(w.obj, w.cap, &n, &evts), TENON_EAGAIN);
    assert_int_equal(n, 0);
    assert_true(now_s() - t0 < 5); /* not the whole minute */
    pw_free(&w);
}

static void test_errors(void **state)
{
    static const char *const dirs[] = {TEST_EXAMPLE_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    tenon_instance_t *inst = NULL;
    struct pw w;
    (void)state;

    assert_int_not_equal(tenon_create(t, "procwatch", NULL, &inst), 0);
    assert_contains(tenon_last_error(), "needs an input instance providing "
                                        "tenon.osi/1");
    assert_int_not_equal(tenon_create(t, "procwatch:interval=0", NULL, &inst),
                         0);
    assert_contains(tenon_last_error(), "interval");
    tenon_close(t);

    pw_new(&w, "procwatch");
    assert_int_equal(w.src->open(w.obj, "x", &w.cap), TENON_EINVAL);
    assert_contains(tenon_last_error(), "no open parameters");
    w.cap = NULL;
    pw_free(&w);
}

/* ---- hostile records ----------------------------------------------------- */

/* A record as procwatch writes it, with the given string lengths (which
 * may lie) and bytes. */
static uint32_t craft(unsigned char *buf, uint32_t version, uint32_t kind,
                      const uint32_t lens[3], const char *const text[3],
                      uint32_t extra)
{
    unsigned char pl[512];
    uint32_t head[5] = {version, kind, 42, 1, 1000};
    uint64_t start = 123456789;
    uint32_t off = 28;
    memcpy(pl, head, 20);
    memcpy(pl + 20, &start, 8);
    for (int i = 0; i < 3; i++) {
        uint32_t real = text[i] ? (uint32_t)strlen(text[i]) : 0;
        memcpy(pl + off, &lens[i], 4);
        memcpy(pl + off + 4, text[i] ? text[i] : "", real);
        off += 4 + real;
    }
    memset(pl + off, 0, extra);
    off += extra;
    return tenon_event_plugin_write(buf, 1, 0, pl, off);
}

static void test_hostile(void **state)
{
    static const char *const text[3] = {"nm", "/bin/x", "x -y"};
    static const uint32_t good[3] = {2, 6, 4};
    unsigned char buf[1024];
    const struct tenon_event *evt = (const struct tenon_event *)buf;
    struct pw w;
    struct seen s;
    (void)state;

    pw_new(&w, "procwatch");
    craft(buf, 1, 1, good, text, 0);
    assert_int_equal(extract(&w, evt, &s), 0);
    assert_string_equal(s.event, "start");
    assert_int_equal(s.pid, 42);
    assert_string_equal(s.name, "nm");
    assert_string_equal(s.exe, "/bin/x");
    assert_string_equal(s.cmdline, "x -y");
    assert_int_equal(s.uid, 1000);
    assert_int_equal(s.start, 123456789);

    {
        static const uint32_t lie[][3] = {
            {2, 6, 5},           /* the last runs past the end */
            {2, 0xffffffffu, 4}, /* a huge one */
            {0xfffffffcu, 6, 4}, /* one that wraps a 32-bit sum */
            {2, 6, 3},           /* bytes left after the last */
        };
        for (size_t i = 0; i < sizeof lie / sizeof *lie; i++) {
            craft(buf, 1, 2, lie[i], text, 0);
            assert_int_equal(extract(&w, evt, &s), TENON_EINVAL);
            assert_contains(tenon_last_error(), "is not a procwatch record");
        }
    }
    craft(buf, 2, 1, good, text, 0);
    assert_int_equal(extract(&w, evt, &s), TENON_EINVAL);
    assert_contains(tenon_last_error(), "unknown version");
    craft(buf, 1, 3, good, text, 0);
    assert_int_equal(extract(&w, evt, &s), TENON_EINVAL);
    assert_contains(tenon_last_error(), "unknown kind");
    craft(buf, 1, 1, good, text, 4);
    assert_int_equal(extract(&w, evt, &s), TENON_EINVAL);
    /* Shorter than the fixed part. */
    tenon_event_plugin_write(buf, 1, 0, "\1\0\0\0\1\0\0\0", 8);
    assert_int_equal(extract(&w, evt, &s), TENON_EINVAL);
    assert_contains(tenon_last_error(), "shorter than");

    /* Bytes that are not UTF-8, and a NUL, become '?'; empty exe and
     * cmdline are absent. */
    {
        static const char *const odd[3] = {"a\xff\xc3(b\xe2\x82\xac", "", ""};
        static const uint32_t lens[3] = {8, 0, 0};
        craft(buf, 1, 2, lens, odd, 0);
        assert_int_equal(extract(&w, evt, &s), 0);
        assert_string_equal(s.event, "exit");
        assert_string_equal(s.name, "a?"
                                    "?(b\xe2\x82\xac");
        assert_false(s.has_exe);
        assert_false(s.has_cmdline);
    }
    /* Not a plugin event: no fields, no error. */
    {
        struct tenon_extract_field f = field(&w, "proc.pid");
        struct tenon_event_input ev = {evt, 1, "procwatch"};
        tenon_event_async_write(buf, 1, 0, "n", "x", 1);
        f.res_len = 7;
        assert_int_equal(w.ex->extract(w.obj, &ev, 1, &f), 0);
        assert_int_equal(f.res_len, 0);
    }
    pw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_exit),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
