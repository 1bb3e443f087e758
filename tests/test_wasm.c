/*
 * WebAssembly plugins: tests/plugins/wasm_trap.c built as WebAssembly
 * (wasm-trap, wasm-peer) and natively (native-trap) by the build helper,
 * created through the library like any plugin, their hooks called through
 * the tenon.hooks/1 interface. Each trap fails its call naming the trap
 * and disables the instance, while the host, the other instances of the
 * plugin and other plugins go on; the memory limit holds; addresses the
 * module does not own get it nothing; several threads calling one
 * instance are serialized.
 */
#include "testutil.h"

#include <tenon/op.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasm_trap.h"

static tenon_t *open_wasm(void)
{
    const char *dirs[] = {TEST_WASM_DIR};
    return open_scanned(dirs, 1);
}

struct plug {
    tenon_instance_t *inst;
    const struct tenon_hooks_v1 *hooks;
    void *obj;
};

static void make(tenon_t *t, const char *spec, struct plug *p)
{
    int rc = tenon_create(t, spec, NULL, &p->inst);
    if (rc != 0)
        fail_msg("tenon_create(%s): %s", spec, tenon_last_error());
    p->hooks = tenon_get_interface(p->inst, TENON_HOOKS_ID, &p->obj);
    assert_non_null(p->hooks);
    assert_int_equal(p->hooks->count, 1);
}

static int64_t call(struct plug *p, int64_t mode, int64_t x)
{
    struct tenon_op_call c = {sizeof c, 2, "wt.op", "ii", 0, 0, {mode, x}};
    return p->hooks->fns[0](p->obj, &c);
}

/* ---- one source, two builds ---------------------------------------------- */

static void test_same_results(void **state)
{
    tenon_t *t = open_wasm();
    const char *specs[] = {"native-trap:7", "wasm-trap:7"};
    int64_t got[2][5];
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct plug p;
        make(t, specs[k], &p);
        got[k][0] = call(&p, WT_OK, 20);
        got[k][1] = call(&p, WT_ARGS, 0);
        got[k][2] = call(&p, WT_MALLOC, 100000);
        got[k][3] = call(&p, WT_COUNT, 5);
        got[k][4] = call(&p, WT_SET_ERROR, 5);
        assert_contains(tenon_instance_error(p.inst), "refused 5 on purpose");
        assert_contains(tenon_last_error(), "refused 5 on purpose");
        tenon_destroy(p.inst);
    }
    assert_int_equal(got[1][0], 41);
    /* level=7 and one argument: wasm_memory stays with the glue. */
    assert_int_equal(got[1][1], 7001);
    assert_int_equal(got[1][2], 1);
    assert_int_equal(got[1][3], 5);
    assert_int_equal(got[1][4], TENON_EPLUGIN);
    assert_memory_equal(got[0], got[1], sizeof got[0]);
    tenon_close(t);
}

/* ---- traps --------------------------------------------------------------- */

static void trap_case(int mode, const char *name)
{
    tenon_t *t = open_wasm();
    struct plug a, a2, peer;
    make(t, "wasm-trap:wasm_memory=1m", &a);
    make(t, "wasm-trap", &a2);
    make(t, "wasm-peer", &peer);
    assert_int_equal(call(&a, WT_OK, 1), 3);

    assert_int_equal(call(&a, mode, 1), TENON_EPLUGIN);
    assert_contains(tenon_instance_error(a.inst), name);
    assert_contains(tenon_last_error(), name);

    /* Never again, whatever is asked of it: its hook declines (a call
     * that reaches it goes on as if it were not attached), and the
     * instance keeps the trap as its error. */
    assert_int_equal(call(&a, WT_OK, 1), TENON_EDECLINE);
    assert_int_equal(tenon_instance_state(a.inst), TENON_STATE_DISABLED);
    assert_contains(tenon_instance_error(a.inst), name);

    /* The host, another instance of the plugin and another plugin go on. */
    assert_int_equal(call(&a2, WT_OK, 20), 41);
    assert_int_equal(call(&peer, WT_OK, 21), 43);
    tenon_destroy(a.inst);
    tenon_destroy(a2.inst);
    tenon_destroy(peer.inst);
    tenon_close(t);
}

static void test_trap_out_of_bounds(void **state)
{
    (void)state;
    trap_case(WT_OOB, "out-of-bounds memory access");
}

static void test_trap_unreachable(void **state)
{
    (void)state;
    trap_case(WT_UNREACHABLE, "unreachable executed");
}

static void test_trap_stack_exhausted(void **state)
{
    (void)state;
    trap_case(WT_RECURSE, "call stack exhausted");
}

static void test_trap_divide_by_zero(void **state)
{
    (void)state;
    trap_case(WT_DIV0, "integer divide by zero");
}

static void test_trap_memory_limit(void **state)
{
    (void)state;
    trap_case(WT_MEMLIMIT, "memory limit exceeded");
}

static void test_trap_indirect_call(void **state)
{
    (void)state;
    trap_case(WT_BADCALL, "indirect call type mismatch");
}

/* ---- memory limit -------------------------------------------------------- */

static void test_memory_limit(void **state)
{
    tenon_t *t = open_wasm();
    struct plug small, big;
    tenon_instance_t *none = NULL;
    (void)state;
    make(t, "wasm-trap:wasm_memory=1m", &small);
    make(t, "wasm-trap:wasm_memory=8m", &big);
    /* malloc() past the limit returns NULL: no trap, the plugin goes on. */
    assert_int_equal(call(&small, WT_MALLOC, 256 * 1024), 1);
    assert_int_equal(call(&small, WT_MALLOC, 2 * 1024 * 1024), 0);
    assert_int_equal(call(&small, WT_OK, 1), 3);
    assert_int_equal(call(&big, WT_MALLOC, 2 * 1024 * 1024), 1);
    assert_int_equal(call(&big, WT_MALLOC, 9 * 1024 * 1024), 0);

    /* A module whose memory at start is over the limit is not created. */
    assert_int_equal(tenon_create(t, "wasm-trap:wasm_memory=64k", NULL, &none),
                     TENON_EPLUGIN);
    assert_null(none);
    assert_contains(tenon_last_error(), "over its limit wasm_memory=64 KiB");
    /* Below a page is refused by the argument's declared range. */
    assert_int_not_equal(
        tenon_create(t, "wasm-trap:wasm_memory=1k", NULL, &none), 0);
    assert_contains(tenon_last_error(), "wasm_memory");
    tenon_destroy(small.inst);
    tenon_destroy(big.inst);
    tenon_close(t);
}

/* ---- addresses the module does not own ----------------------------------- */

static void test_host_addresses(void **state)
{
    static const char secret[16] = "host-secret-123";
    int64_t want;
    tenon_t *t = open_wasm();
    struct plug p, q;
    (void)state;
    memcpy(&want, secret, sizeof want);
    make(t, "wasm-trap", &p);
    /* Pointers past the module's memory (a host address cut to 32 bits
     * may also land there) are refused before the host sees them. */
    assert_int_equal(call(&p, WT_BUF_WRITE_BAD, 0xfffffff0), TENON_EINVAL);
    assert_int_equal(call(&p, WT_BUF_WRITE_BAD, 0x7fff0000), TENON_EINVAL);
    assert_int_equal(call(&p, WT_OP_CALL_BAD, 0xfffffff0), TENON_EINVAL);
    assert_int_equal(call(&p, WT_OK, 1), 3);

    /* Reading the address of a host object: what the module reads is its
     * own memory, or it traps; never the host's bytes. */
    make(t, "wasm-trap", &q);
    {
        int64_t got = call(&q, WT_PEEK, (int64_t)(uintptr_t)secret);
        assert_true(got != want);
        if (got == TENON_EPLUGIN)
            assert_contains(tenon_instance_error(q.inst), "out-of-bounds");
    }
    tenon_destroy(p.inst);
    tenon_destroy(q.inst);
    tenon_close(t);
}

/* ---- through the host's operations --------------------------------------- */

static int64_t op_native(void *ctx, uint64_t param,
                         const union tenon_op_arg *args)
{
    (void)ctx, (void)param;
    return -50 - args[0].i;
}

static int64_t other_native(void *ctx, uint64_t param,
                            const union tenon_op_arg *args)
{
    (void)ctx, (void)param, (void)args;
    return -1;
}

/* A context with the operations the plugin's hooks use: wt.op (the
 * static define's) and wt.other (the define WT_ATTACH adds). */
static tenon_t *open_with_ops(tenon_op_t **op, tenon_op_t **other)
{
    tenon_t *t = open_wasm();
    assert_int_equal(
        tenon_op_declare(t, "wt.op", "iiw", 0, op_native, NULL, op), 0);
    assert_int_equal(
        tenon_op_declare(t, "wt.other", "i", 0, other_native, NULL, other), 0);
    return t;
}

static int64_t dispatch(tenon_op_t *op, int64_t mode, int64_t x,
                        struct tenon_buf *buf)
{
    union tenon_op_arg a[3];
    a[0].i = mode;
    a[1].i = x;
    a[2].buf = buf;
    return tenon_op_dispatch(op, 0, a);
}

/* The static define, buffers both ways, a hook attached at run time, an
 * operation called from inside a hook (the instance entered again on the
 * same thread), a timer; then a trap: the instance is disabled, the
 * operation falls back to the host (or another plugin's define). */
static void test_through_operations(void **state)
{
    static const char secret[16] = "host-secret-123";
    tenon_op_t *op, *other;
    tenon_t *t = open_with_ops(&op, &other);
    struct plug a, b;
    char data[16] = "hello";
    struct tenon_buf buf = {data, 5, sizeof data};
    union tenon_op_arg one;
    (void)state;
    make(t, "wasm-trap", &a);
    make(t, "wasm-peer", &b);
    /* Not enabled yet: its define does not run. */
    assert_int_equal(dispatch(op, WT_OK, 20, &buf), -50);
    assert_int_equal(tenon_instance_enable(a.inst), 0);
    assert_int_equal(dispatch(op, WT_OK, 20, &buf), 41);

    assert_int_equal(dispatch(op, WT_BUF, 0, &buf),
                     'h' + 'e' + 'l' + 'l' + 'o');
    assert_int_equal(buf.len, 5);
    assert_memory_equal(data, "WASMo", 5);

    /* A host address, or one past the module's memory, as the source of
     * a write: refused, and the buffer never holds the host's bytes. */
    memset(data, 0, sizeof data);
    buf.len = 0;
    assert_int_equal(dispatch(op, WT_BUF_WRITE_BAD, 0xfffffff0, &buf),
                     TENON_EINVAL);
    {
        int64_t r =
            dispatch(op, WT_BUF_WRITE_BAD, (int64_t)(uintptr_t)secret, &buf);
        assert_true(r == TENON_EINVAL || r == TENON_ERANGE || r >= 0);
        assert_null(memmem(data, sizeof data, secret, 8));
    }

    assert_int_equal(dispatch(op, WT_ATTACH, 0, &buf), 0);
    one.i = 5;
    assert_int_equal(tenon_op_dispatch(other, 0, &one), 782);
    assert_int_equal(dispatch(op, WT_OP_CALL, 1, &buf), 778);

    assert_int_equal(dispatch(op, WT_TIMER, 0, &buf), 0);
    assert_int_equal(tenon_poll(t, NULL), 1);
    /* Due at once, but never fired: the trap comes first. */
    assert_int_equal(dispatch(op, WT_TIMER, 0, &buf), 1);

    /* The trap, in a call of the operation from inside the plugin's own
     * define: both calls fail, the instance is disabled for good. */
    assert_int_equal(dispatch(op, WT_NESTED_TRAP, 1, &buf), TENON_EPLUGIN);
    assert_int_equal(tenon_instance_state(a.inst), TENON_STATE_DISABLED);
    assert_contains(tenon_instance_error(a.inst), "integer divide by zero");
    assert_int_equal(dispatch(op, WT_OK, 20, &buf), -50);
    assert_int_equal(tenon_op_dispatch(other, 0, &one), -1);
    /* Another plugin's define takes over once enabled. */
    assert_int_equal(tenon_instance_enable(b.inst), 0);
    assert_int_equal(dispatch(op, WT_OK, 20, &buf), 41);
    assert_int_equal(tenon_poll(t, NULL), 0); /* a disabled: no timer */
    tenon_destroy(a.inst);
    tenon_destroy(b.inst);
    tenon_close(t);
}

/* A trap in a hook of one instance run from inside a hook of another
 * instance of the same plugin, on the same thread: the trap lands in the
 * inner call (the innermost frame of that plugin on this thread), so the
 * inner instance is disabled and the outer one goes on. */
static void test_trap_inside_sibling(void **state)
{
    tenon_op_t *op, *other;
    tenon_t *t = open_with_ops(&op, &other);
    struct plug outer, inner;
    (void)state;
    make(t, "wasm-trap", &outer);
    make(t, "wasm-trap", &inner);
    assert_int_equal(call(&inner, WT_ATTACH, 0), 0);
    assert_int_equal(call(&outer, WT_OP_CALL, 5), 782); /* inner's define */
    (void)call(&outer, WT_OP_CALL, WT_OTHER_DIV0);
    assert_int_equal(tenon_instance_state(inner.inst), TENON_STATE_DISABLED);
    assert_contains(tenon_instance_error(inner.inst), "integer divide by zero");
    assert_int_not_equal(tenon_instance_state(outer.inst),
                         TENON_STATE_DISABLED);
    assert_int_equal(call(&outer, WT_OK, 20), 41);
    /* The host's own wt.other now that the inner define is gone. */
    assert_int_equal(call(&outer, WT_OP_CALL, 5), -1);
    assert_int_equal(call(&outer, WT_COUNT, 3), 3);
    tenon_destroy(outer.inst);
    tenon_destroy(inner.inst);
    tenon_close(t);
}

/* wasm-peer is built with the portable way into the module (no x86-64
 * entry code): its traps land the same way, its nested calls too. */
static void test_trap_portable_entry(void **state)
{
    tenon_op_t *op, *other;
    tenon_t *t = open_with_ops(&op, &other);
    struct plug p, q;
    char data[8] = "";
    struct tenon_buf buf = {data, 0, sizeof data};
    (void)state;
    make(t, "wasm-peer", &p);
    make(t, "wasm-peer", &q);
    assert_int_equal(tenon_instance_enable(p.inst), 0);
    assert_int_equal(call(&q, WT_ATTACH, 0), 0);
    assert_int_equal(call(&p, WT_OP_CALL, 5), 782);
    (void)call(&p, WT_OP_CALL, WT_OTHER_DIV0);
    assert_int_equal(tenon_instance_state(q.inst), TENON_STATE_DISABLED);
    assert_int_equal(call(&p, WT_OK, 20), 41);
    assert_int_equal(dispatch(op, WT_NESTED_TRAP, 1, &buf), TENON_EPLUGIN);
    assert_contains(tenon_instance_error(p.inst), "integer divide by zero");
    assert_int_equal(call(&p, WT_OK, 20), TENON_EDECLINE);
    tenon_destroy(p.inst);
    tenon_destroy(q.inst);
    tenon_close(t);
}

/* ---- threads ------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS  300
#define STEPS   200

struct worker {
    struct plug *p;
    int64_t last;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < ROUNDS; i++)
        w->last = call(w->p, WT_COUNT, STEPS);
    return NULL;
}

/* The plugin counts with plain read-modify-write in its own memory: only
 * calls that never overlap leave the exact total. */
static void test_threads_serialized(void **state)
{
    tenon_t *t = open_wasm();
    struct plug one, two;
    pthread_t th[2 * THREADS];
    struct worker w[2 * THREADS];
    (void)state;
    make(t, "wasm-trap", &one);
    make(t, "wasm-trap", &two);
    /* This thread holds the bias first: the workers must take it away. */
    assert_int_equal(call(&one, WT_COUNT, 0), 0);
    for (int i = 0; i < 2 * THREADS; i++) {
        w[i].p = i % 2 ? &two : &one;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    /* And goes on calling while they do: they revoke the bias while its
     * owner is entering and leaving. */
    for (int i = 0; i < ROUNDS; i++)
        call(&one, WT_COUNT, STEPS);
    for (int i = 0; i < 2 * THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(call(&one, WT_COUNT, 0), (THREADS + 1) * ROUNDS * STEPS);
    assert_int_equal(call(&two, WT_COUNT, 0), THREADS * ROUNDS * STEPS);
    tenon_destroy(one.inst);
    tenon_destroy(two.inst);
    tenon_close(t);
}

/* Traps on this thread while another thread is inside another instance of
 * the same plugin: each trap finds this thread's call, never the other
 * thread's, and the busy instance counts on undisturbed. */
struct busy {
    struct plug *p;
    atomic_int stop;
    int64_t calls;
};

static void *keep_counting(void *arg)
{
    struct busy *b = arg;
    while (!atomic_load(&b->stop)) {
        call(b->p, WT_COUNT, 50);
        b->calls++;
    }
    return NULL;
}

static void test_threads_trap_beside(void **state)
{
    tenon_t *t = open_wasm();
    struct plug busy, doomed;
    struct busy b = {&busy, 0, 0};
    pthread_t th;
    (void)state;
    make(t, "wasm-trap", &busy);
    assert_int_equal(pthread_create(&th, NULL, keep_counting, &b), 0);
    for (int i = 0; i < 100; i++) {
        make(t, "wasm-trap", &doomed);
        assert_int_equal(call(&doomed, WT_OK, i), 2 * i + 1);
        assert_int_equal(call(&doomed, i % 2 ? WT_DIV0 : WT_OOB, 1),
                         TENON_EPLUGIN);
        assert_int_equal(tenon_instance_state(doomed.inst),
                         TENON_STATE_DISABLED);
        tenon_destroy(doomed.inst);
    }
    atomic_store(&b.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_not_equal(tenon_instance_state(busy.inst), TENON_STATE_DISABLED);
    assert_int_equal(call(&busy, WT_COUNT, 0), b.calls * 50);
    tenon_destroy(busy.inst);
    tenon_close(t);
}

/* ---- like any other plugin: listed, shown, signed ------------------------ */

static void test_listed_and_shown(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "list", "--plugin-path", TEST_WASM_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "wasm-trap");
    assert_contains(r.out, "wasm-peer");
    assert_contains(r.out, "native-trap");
    run_free(&r);
    RUN(&r, "info", "wasm-trap", "--plugin-path", TEST_WASM_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "status:      available");
    assert_contains(r.out, "wasm_memory");
    assert_contains(r.out, "default \"4m\"");
    assert_contains(r.out, "sandbox=wasm32");
    run_free(&r);
}

static void test_signed_and_verified(void **state)
{
    char *dir = make_tmpdir(), *keys = path_join(dir, "keys");
    char *plugins = path_join(dir, "plugins"), *so, *meta, *out;
    const char *dirs[] = {plugins};
    tenon_t *t;
    struct plug p;
    tenon_instance_t *inst = NULL;
    FILE *f;
    (void)state;
    assert_int_equal(mkdir(keys, 0700), 0);
    assert_int_equal(mkdir(plugins, 0700), 0);
    so = path_join(plugins, "wasm_trap.so");
    copy_path(TEST_WASM_DIR "/wasm_trap.so", so);
    out = sign_with(keys, so);
    free(out);
    meta = path_join(plugins, "wasm_trap.so.meta");
    assert_int_equal(access(meta, F_OK), 0);

    t = open_trusted(dirs, 1, keys, TENON_TRUST_REQUIRE, NULL);
    make(t, "wasm-trap", &p);
    assert_int_equal(call(&p, WT_OK, 4), 9);
    tenon_destroy(p.inst);
    tenon_close(t);

    /* One byte more and the digest no longer matches: not loaded. */
    assert_non_null(f = fopen(so, "ab"));
    fputc(0, f);
    fclose(f);
    t = open_trusted(dirs, 1, keys, TENON_TRUST_REQUIRE, NULL);
    assert_int_not_equal(tenon_create(t, "wasm-trap", NULL, &inst), 0);
    assert_null(inst);
    tenon_close(t);
    free(so);
    free(meta);
    free(keys);
    free(plugins);
    remove_tree(dir);
}

/* ---- the example of docs/wasm.md ----------------------------------------- */

/* docs/ops.md's shout, unchanged, as WebAssembly: what the native one
 * does in test_examples, including its timer and its own enable. */
static void test_shout_as_wasm(void **state)
{
    struct run r;
    char *now[] = {OPHOST, "shout", NULL};
    char *later[] = {OPHOST, "shout:delay_ms=600000", NULL};
    char *small[] = {OPHOST, "shout:wasm_memory=64k", NULL};
    (void)state;
    run_input(&r, "hello - world\n", EXAMPLES_WASM_DIR, now);
    assert_status(&r, 0);
    assert_string_equal(r.out, "HELLO\nrefused: invalid argument\nWORLD\n");
    run_free(&r);
    run_input(&r, "hello - world\n", EXAMPLES_WASM_DIR, later);
    assert_string_equal(r.out, "hello\nrefused: invalid argument\nworld\n");
    run_free(&r);
    run_input(&r, "hello - world\n", EXAMPLES_WASM_DIR, small);
    assert_string_equal(r.out, "hello\n\nworld\n");
    assert_contains(r.err, "over its limit wasm_memory=64 KiB");
    run_free(&r);
}

/* ---- the build helper ---------------------------------------------------- */

/* Build `body` (a plugin's source after plugin.h) with the helper into a
 * temporary directory; returns its exit status, *out what it printed. */
static int helper_build(const char *body, char **out)
{
    char *dir = make_tmpdir(), *src = path_join(dir, "p.c");
    char *log = path_join(dir, "log"), *cmd, text[4096] = "";
    FILE *f;
    size_t n;
    int status;
    assert_non_null(f = fopen(src, "w"));
    fprintf(f,
            "#include <tenon/plugin.h>\n%s\n"
            "TENON_PLUGIN_INFO(\"p\", \"1.0.0\", TENON_DESCRIPTION(\"x\"));\n"
            "static void destroy(void *o) { (void)o; }\n"
            "TENON_PLUGIN_ENTRY(create, destroy, NULL, NULL);\n",
            body);
    fclose(f);
    assert_true(asprintf(&cmd, "%s -o %s/p.so %s >%s 2>&1", TENON_WASM_TOOL,
                         dir, src, log) > 0);
    status = system(cmd);
    assert_non_null(f = fopen(log, "r"));
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    *out = strdup(text);
    free(cmd);
    free(src);
    free(log);
    remove_tree(dir);
    return status;
}

#define CREATE_HEAD                                                            \
    "static int create(const struct tenon_host *h, struct tenon_instance *s,"  \
    " const struct tenon_args *a, struct tenon_instance *i, void **o)\n"       \
    "{ (void)h, (void)s, (void)a, (void)i; "

/* A module that would call the system through WASI is refused by name. */
static void test_helper_refuses_imports(void **state)
{
    char *out;
    (void)state;
    assert_int_not_equal(
        helper_build("#include <time.h>\n" CREATE_HEAD
                     "*o = (void *)(long)time(NULL); return 0; }",
                     &out),
        0);
    assert_contains(out, "wasi_snapshot_preview1.clock_time_get");
    assert_contains(out, "may import only the host API");
    free(out);
}

/* Native code that would run outside the sandbox (a constructor in the
 * sources' second, native compilation) is refused; the same source
 * without it builds. */
static void test_helper_refuses_native_code(void **state)
{
    char *out;
    (void)state;
    assert_int_not_equal(
        helper_build("int hits;\n__attribute__((constructor)) static void "
                     "ctor(void) { hits++; }\n" CREATE_HEAD
                     "*o = &hits; return 0; }",
                     &out),
        0);
    assert_contains(out, "constructors or destructors");
    free(out);
    /* a protected definition is exported too (second review): refused */
    assert_int_not_equal(
        helper_build("#include <stdio.h>\nint hits;\n#ifndef __wasm__\n"
                     "__attribute__((visibility(\"protected\"))) int "
                     "puts(const char *s) { (void)s; return hits++; }\n"
                     "#endif\n" CREATE_HEAD "*o = &hits; return 0; }",
                     &out),
        0);
    assert_contains(out, "puts");
    free(out);
    assert_int_equal(
        helper_build("int hits;\n" CREATE_HEAD "*o = &hits; return 0; }", &out),
        0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_results),
        cmocka_unit_test(test_trap_out_of_bounds),
        cmocka_unit_test(test_trap_unreachable),
        cmocka_unit_test(test_trap_stack_exhausted),
        cmocka_unit_test(test_trap_divide_by_zero),
        cmocka_unit_test(test_trap_memory_limit),
        cmocka_unit_test(test_trap_indirect_call),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_host_addresses),
        cmocka_unit_test(test_through_operations),
        cmocka_unit_test(test_trap_inside_sibling),
        cmocka_unit_test(test_trap_portable_entry),
        cmocka_unit_test(test_threads_serialized),
        cmocka_unit_test(test_threads_trap_beside),
        cmocka_unit_test(test_listed_and_shown),
        cmocka_unit_test(test_signed_and_verified),
        cmocka_unit_test(test_shout_as_wasm),
        cmocka_unit_test(test_helper_refuses_imports),
        cmocka_unit_test(test_helper_refuses_native_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
