/*
 * The process plugin: native -> process:pid=P or process:name=N, read
 * through the chain's tenon.memory/1 from a live osi_target; and each way
 * of naming no process, or two, fails with its own message.
 */
#include "testutil.h"
#include "osi_testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct chain {
    tenon_instance_t *native, *proc;
    const struct tenon_memory_v1 *vt;
    void *mem;
};

static int make_chain(tenon_t *t, const char *os, const char *spec,
                      struct chain *c)
{
    int rc;
    memset(c, 0, sizeof *c);
    assert_int_equal(tenon_create(t, os, NULL, &c->native), 0);
    if ((rc = tenon_create(t, spec, c->native, &c->proc))) {
        assert_null(c->proc);
        tenon_destroy(c->native);
        c->native = NULL;
        return rc;
    }
    c->vt = tenon_get_interface(c->proc, TENON_MEMORY_ID, &c->mem);
    assert_non_null(c->vt);
    assert_true(c->vt->struct_size >= sizeof *c->vt);
    return 0;
}

static void chain_free(struct chain *c)
{
    tenon_destroy(c->proc);
    tenon_destroy(c->native);
}

static void read_marker(const struct chain *c, const struct target *tg)
{
    char buf[128];
    size_t done = 0;
    assert_int_equal(
        c->vt->read(c->mem, tg->marker, buf, tg->marker_len, &done), 0);
    assert_int_equal(done, tg->marker_len);
    assert_memory_equal(buf, OSI_MARKER, tg->marker_len);
}

static void test_by_pid(void **state)
{
    static const char *const os[] = {"native", "native:mem=procfs"};
    tenon_t *t = osi_open();
    struct target tg;
    struct chain c;
    char spec[64], want[128];
    char buf[16];
    size_t done;
    (void)state;

    target_start(&tg, OSI_TARGET, NULL);
    for (size_t i = 0; i < 2; i++) {
        snprintf(spec, sizeof spec, "process:pid=%d", (int)tg.pid);
        assert_int_equal(make_chain(t, os[i], spec, &c), 0);
        read_marker(&c, &tg);
        assert_int_equal(c.vt->address_width(c.mem), 64);
        assert_non_null(c.vt->write);
        done = 9;
        assert_int_equal(c.vt->read(c.mem, 0x1000, buf, sizeof buf, &done), 0);
        assert_int_equal(done, 0);
        {
            const struct tenon_osi_v1 *osi;
            void *obj;
            osi = tenon_get_interface(c.native, TENON_OSI_ID, &obj);
            check_read_off_the_end(osi, obj, c.vt, c.mem, (uint32_t)tg.pid);
        }
        chain_free(&c);
    }
    /* The first argument takes a bare value. */
    snprintf(spec, sizeof spec, "process:%d", (int)tg.pid);
    assert_int_equal(make_chain(t, "native", spec, &c), 0);
    read_marker(&c, &tg);

    /* Once the target is gone, the chain's own message names it. */
    target_stop(&tg);
    assert_int_equal(c.vt->read(c.mem, tg.marker, buf, sizeof buf, &done),
                     TENON_ENOENT);
    /* the input's own reason, quoted through host->last_error */
    snprintf(want, sizeof want,
             "process %d (osi_target): reading 16 bytes at 0x%llx: process "
             "%d exited",
             (int)tg.pid, (unsigned long long)tg.marker, (int)tg.pid);
    assert_string_equal(tenon_instance_error(c.proc), want);
    assert_string_equal(tenon_last_error(), want);
    chain_free(&c);
    tenon_close(t);
}

/* A link to osi_target whose name, unique to this run, becomes the
 * process's name: other tests run osi_target at the same time. */
static char *named_target(char *dir, char *name, size_t len)
{
    char *link;
    snprintf(name, len, "osit-%d", (int)(getpid() % 100000));
    link = path_join(dir, name);
    assert_int_equal(symlink(OSI_TARGET, link), 0);
    return link;
}

static void test_by_name(void **state)
{
    char *dir = make_tmpdir(), name[32], spec[64], want[160];
    char *link = named_target(dir, name, sizeof name);
    tenon_t *t = osi_open();
    struct target a, b;
    struct chain c;
    (void)state;

    target_start(&a, link, NULL);
    snprintf(spec, sizeof spec, "process:name=%s", name);
    assert_int_equal(make_chain(t, "native", spec, &c), 0);
    read_marker(&c, &a);
    chain_free(&c);

    /* Two of that name: which is meant is the user's to say. */
    target_start(&b, link, NULL);
    assert_int_equal(make_chain(t, "native", spec, &c), TENON_EINVAL);
    snprintf(want, sizeof want,
             "2 processes are named %s: %d, %d; use pid=", name,
             (int)(a.pid < b.pid ? a.pid : b.pid),
             (int)(a.pid < b.pid ? b.pid : a.pid));
    assert_contains(tenon_last_error(), want);
    target_stop(&a);
    target_stop(&b);

    /* None of that name now. */
    assert_int_equal(make_chain(t, "native", spec, &c), TENON_ENOENT);
    snprintf(want, sizeof want, ": no process named %s (", name);
    assert_contains(tenon_last_error(), want);

    tenon_close(t);
    free(link);
    remove_tree(dir);
}

static void test_errors(void **state)
{
    tenon_t *t = osi_open();
    tenon_instance_t *hello = NULL, *p = NULL;
    struct chain c;
    (void)state;

    assert_int_equal(make_chain(t, "native", "process", &c), TENON_EINVAL);
    assert_contains(tenon_last_error(),
                    ": give pid= or name= to say which process (");
    assert_int_equal(make_chain(t, "native", "process:pid=1,name=init", &c),
                     TENON_EINVAL);
    assert_contains(tenon_last_error(), ": give pid= or name=, not both (");
    assert_int_equal(
        make_chain(t, "native", "process:name=no-such-process-here", &c),
        TENON_ENOENT);
    assert_contains(
        tenon_last_error(),
        ": no process named no-such-process-here (a name as ps shows "
        "it has at most 15 characters) (");
    assert_int_equal(make_chain(t, "native", "process:name=nosuchproc", &c),
                     TENON_ENOENT);
    assert_contains(tenon_last_error(), ": no process named nosuchproc (");
    assert_int_equal(make_chain(t, "native", "process:pid=2147483647", &c),
                     TENON_ENOENT);
    assert_contains(tenon_last_error(),
                    ": process 2147483647 does not exist (");
    assert_int_equal(make_chain(t, "native", "process:pid=0", &c),
                     TENON_ERANGE);
    assert_contains(tenon_last_error(),
                    ": pid=0 is not a process id; expected 1..2147483647 (");
    assert_int_equal(make_chain(t, "native", "process:name=", &c),
                     TENON_EINVAL);

    /* Its input must provide tenon.osi/1: checked before it runs. */
    assert_int_equal(tenon_create(t, "process:pid=1", NULL, &p), TENON_EINVAL);
    assert_contains(tenon_last_error(), "tenon.osi/1");
    assert_int_equal(tenon_create(t, "hello", NULL, &hello), 0);
    assert_int_equal(tenon_create(t, "process:pid=1", hello, &p), TENON_EINVAL);
    assert_contains(tenon_last_error(), "tenon.osi/1");
    tenon_destroy(hello);
    tenon_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_pid),
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
