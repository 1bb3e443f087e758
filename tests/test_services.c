/*
 * Chains, ranked providers and callbacks between plugins, with the real
 * plugins of tests/plugins/svc.c (and basic, chain) loaded by the library.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testapi.h"

#include <tenon/osi.h>

static tenon_t *open_svc(void)
{
    const char *dirs[] = {TEST_SVC_DIR, TEST_PLUGIN_DIR};
    return open_scanned(dirs, 2);
}

/* ---- ranked providers ---------------------------------------------------- */

static void providers_in_rank_then_name_order(void **state)
{
    (void)state;
    tenon_t *t = open_svc();
    const tenon_plugin_t *v[8];
    size_t n = tenon_providers(t, TEST_RANK_ID, v, 8);
    assert_int_equal(n, 4);
    assert_nstr(tenon_plugin_name(v[0]), "rank_hi");
    assert_nstr(tenon_plugin_name(v[1]), "rank_lo");
    assert_nstr(tenon_plugin_name(v[2]), "rank_mid");
    assert_nstr(tenon_plugin_name(v[3]), "rank_zero");
    assert_int_equal(tenon_plugin_rank(v[0]), 200);
    assert_int_equal(tenon_plugin_rank(v[2]), 100);
    assert_int_equal(tenon_plugin_rank(v[3]), 0);
    /* a short array still gets the total */
    assert_int_equal(tenon_providers(t, TEST_RANK_ID, v, 1), 4);
    assert_nstr(tenon_plugin_name(v[0]), "rank_hi");
    assert_int_equal(tenon_providers(t, "test.nobody/1", v, 8), 0);
    tenon_close(t);
}

static void bad_ranks_make_a_plugin_unavailable(void **state)
{
    (void)state;
    tenon_t *t = open_svc();
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "rank_bad", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(),
                    "rank 'high' is not an integer from -1000000 to 1000000");
    assert_int_equal(tenon_find(t, "rank_big", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "rank '1000001' is not an integer");
    tenon_close(t);
}

static void create_provider_skips_declines_and_failures(void **state)
{
    (void)state;
    tenon_t *t = open_svc();
    tenon_instance_t *inst;
    assert_int_equal(tenon_create_provider(t, TEST_RANK_ID, NULL, &inst), 0);
    assert_nstr(tenon_plugin_name(tenon_instance_plugin(inst)), "rank_mid");
    tenon_destroy(inst);
    tenon_close(t);
}

static void all_declining_lists_each_reason(void **state)
{
    (void)state;
    tenon_t *t = open_svc();
    tenon_instance_t *inst = (tenon_instance_t *)1;
    assert_int_equal(tenon_create_provider(t, TEST_DECLINE_ID, NULL, &inst),
                     TENON_EDECLINE);
    assert_null(inst);
    assert_nstr(tenon_last_error(),
                "no provider of test.decline/1 could be created: plugin "
                "'rank_hi' declined: not asked to take the job (take=yes); "
                "plugin 'rank_zero' declined: not asked to take the job "
                "(take=yes)");
    assert_int_equal(tenon_create_provider(t, "test.nobody/1", NULL, &inst),
                     TENON_ENOENT);
    assert_contains(tenon_last_error(),
                    "no available plugin provides test.nobody/1");
    assert_int_equal(tenon_create_provider(t, "not an id", NULL, &inst),
                     TENON_EINVAL);
    /* a named step that declines fails like any other create */
    assert_int_equal(tenon_create(t, "rank_hi", NULL, &inst), TENON_EDECLINE);
    assert_nstr(tenon_last_error(), "plugin 'rank_hi' declined: not asked to "
                                    "take the job (take=yes)");
    assert_int_equal(tenon_create(t, "rank_hi:take=yes", NULL, &inst), 0);
    tenon_destroy(inst);
    tenon_close(t);
}

/* ---- chains -------------------------------------------------------------- */

static void chain_builds_and_releases_as_one(void **state)
{
    (void)state;
    tenon_t *t = open_svc();
    const char *steps[] = {"basic", "chain"};
    tenon_instance_t *last;
    const tenon_plugin_t *basic;
    void *obj;
    assert_int_equal(tenon_chain(t, steps, 2, NULL, &last), 0);
    const struct test_chain *c = tenon_get_interface(last, TEST_CHAIN_ID, &obj);
    assert_non_null(c);
    assert_int_equal(c->add_via_input(obj, 2, 3), 1005);
    assert_int_equal(tenon_find(t, "basic", &basic), 0);
    assert_true(tenon_plugin_loaded(t, basic));
    tenon_destroy(last);
    assert_false(tenon_plugin_loaded(t, basic));
    tenon_close(t);
}

static void chain_step_whose_accepts_is_unmet_runs_no_code(void **state)
{
    char *dir = *state, *marker = path_join(dir, "loaded");
    tenon_t *t = open_svc();
    const char *steps[] = {"basic", "needy"};
    tenon_instance_t *last = (tenon_instance_t *)1;
    const tenon_plugin_t *basic;
    setenv("TENON_TEST_MARKER", marker, 1);
    assert_int_equal(tenon_chain(t, steps, 2, NULL, &last), TENON_EINVAL);
    assert_null(last);
    assert_nstr(tenon_last_error(),
                "chain step 2 of 2 ('needy'): plugin 'needy' needs an input "
                "providing test.ticker/1; 'basic' does not provide it");
    struct stat st;
    assert_int_equal(stat(marker, &st), -1); /* never loaded */
    /* and step 1 was released again */
    assert_int_equal(tenon_find(t, "basic", &basic), 0);
    assert_false(tenon_plugin_loaded(t, basic));
    /* the first step, with no input */
    assert_int_equal(tenon_chain(t, steps + 1, 1, NULL, &last), TENON_EINVAL);
    assert_nstr(tenon_last_error(),
                "chain step 1 of 1 ('needy'): plugin 'needy' needs an input "
                "instance providing test.ticker/1");
    assert_int_equal(stat(marker, &st), -1);
    assert_int_equal(tenon_chain(t, steps, 0, NULL, &last), TENON_EINVAL);
    const char *typo[] = {"basic", "chian"};
    assert_int_equal(tenon_chain(t, typo, 2, NULL, &last), TENON_ENOENT);
    assert_contains(tenon_last_error(), "chain step 2 of 2 ('chian'): no "
                                        "plugin named 'chian'");
    unsetenv("TENON_TEST_MARKER");
    free(marker);
    tenon_close(t);
}

static void chain_with_an_outside_input_keeps_the_callers_reference(void **st)
{
    (void)st;
    tenon_t *t = open_svc();
    const char *steps[] = {"chain"};
    tenon_instance_t *in, *last;
    assert_int_equal(tenon_create(t, "basic", NULL, &in), 0);
    assert_int_equal(tenon_chain(t, steps, 1, in, &last), 0);
    tenon_destroy(last);
    void *obj;
    const struct test_basic *b = tenon_get_interface(in, TEST_BASIC_ID, &obj);
    assert_non_null(b); /* still alive: the caller's reference */
    assert_int_equal(b->add(obj, 1, 2), 3);
    tenon_destroy(in);
    tenon_close(t);
}

/* ---- callbacks ----------------------------------------------------------- */

struct ticker {
    tenon_t *t;
    tenon_instance_t *inst;
    const struct test_ticker *vt;
    void *obj;
};

static void ticker_open(struct ticker *k)
{
    k->t = open_svc();
    assert_int_equal(tenon_create(k->t, "ticker", NULL, &k->inst), 0);
    k->vt = tenon_get_interface(k->inst, TEST_TICKER_ID, &k->obj);
    assert_non_null(k->vt);
}

static void ticker_close(struct ticker *k)
{
    tenon_destroy(k->inst);
    tenon_close(k->t);
}

/* A handler's record: what it saw, and what it does when called. */
struct h {
    tenon_t *t;
    uint64_t id;
    atomic_int calls;
    int order_seen;
    uint64_t unregister; /* an id to unregister when called (0: none) */
    int unregister_rc;
    int sleep_ms;
    atomic_int running;
};

static atomic_int order;

static void on_tick(void *ctx, const void *event)
{
    struct h *h = ctx;
    (void)event;
    atomic_store(&h->running, 1);
    atomic_fetch_add(&h->calls, 1);
    h->order_seen = atomic_fetch_add(&order, 1);
    if (h->unregister)
        h->unregister_rc = tenon_callback_unregister(h->t, h->unregister);
    if (h->sleep_ms)
        usleep((useconds_t)h->sleep_ms * 1000);
    atomic_store(&h->running, 0);
}

static void reg(struct ticker *k, struct h *h)
{
    h->t = k->t;
    assert_int_equal(tenon_callback_register(k->inst, "tick", TEST_TICK_SIG,
                                             on_tick, h, &h->id),
                     0);
    assert_true(h->id != 0);
}

static void handlers_run_in_registration_order(void **state)
{
    (void)state;
    struct ticker k;
    struct h a = {0}, b = {0}, c = {0};
    ticker_open(&k);
    assert_int_equal(k.vt->fire(k.obj, 1), 0);
    reg(&k, &a), reg(&k, &b), reg(&k, &c);
    assert_int_equal(k.vt->handlers(k.obj), 3);
    atomic_store(&order, 0);
    assert_int_equal(k.vt->fire(k.obj, 1), 3);
    assert_int_equal(a.order_seen, 0);
    assert_int_equal(b.order_seen, 1);
    assert_int_equal(c.order_seen, 2);
    assert_int_equal(tenon_callback_unregister(k.t, b.id), 0);
    assert_int_equal(tenon_callback_unregister(k.t, b.id), TENON_ENOENT);
    assert_int_equal(k.vt->fire(k.obj, 1), 2);
    assert_int_equal(atomic_load(&b.calls), 1);
    ticker_close(&k);
}

static void registration_checks_name_and_signature(void **state)
{
    (void)state;
    struct ticker k;
    uint64_t id = 7;
    ticker_open(&k);
    assert_int_equal(tenon_callback_register(k.inst, "tock", TEST_TICK_SIG,
                                             on_tick, NULL, &id),
                     TENON_ENOENT);
    assert_int_equal(id, 0);
    assert_nstr(tenon_last_error(),
                "plugin 'ticker' declares no callback named 'tock'");
    assert_int_equal(tenon_callback_register(k.inst, "tick", "test.tick/2",
                                             on_tick, NULL, &id),
                     TENON_EINVAL);
    assert_nstr(tenon_last_error(),
                "callback 'tick' of plugin 'ticker' passes events of "
                "signature test.tick/1, not test.tick/2");
    assert_int_equal(
        tenon_callback_register(k.inst, "tick", TEST_TICK_SIG, NULL, NULL, &id),
        TENON_EINVAL);
    assert_int_equal(k.vt->declare_again(k.obj), TENON_EEXIST);
    assert_int_equal(tenon_callback_unregister(k.t, 12345), TENON_ENOENT);
    ticker_close(&k);
}

static void handler_unregisters_itself_while_running(void **state)
{
    (void)state;
    struct ticker k;
    struct h a = {0}, b = {0}, c = {0};
    ticker_open(&k);
    reg(&k, &a), reg(&k, &b), reg(&k, &c);
    b.unregister = b.id;
    assert_int_equal(k.vt->fire(k.obj, 1), 3);
    assert_int_equal(b.unregister_rc, 0);
    assert_int_equal(k.vt->fire(k.obj, 2), 2);
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_int_equal(atomic_load(&b.calls), 1);
    assert_int_equal(atomic_load(&c.calls), 2);
    ticker_close(&k);
}

static void handler_unregisters_the_next_one(void **state)
{
    (void)state;
    struct ticker k;
    struct h a = {0}, b = {0}, c = {0};
    ticker_open(&k);
    reg(&k, &a), reg(&k, &b), reg(&k, &c);
    a.unregister = b.id;
    assert_int_equal(k.vt->fire(k.obj, 1), 2); /* b never ran */
    assert_int_equal(a.unregister_rc, 0);
    assert_int_equal(atomic_load(&b.calls), 0);
    assert_int_equal(atomic_load(&c.calls), 1);
    a.unregister = c.id; /* and the last, leaving none after a */
    assert_int_equal(k.vt->fire(k.obj, 1), 1);
    assert_int_equal(atomic_load(&c.calls), 1);
    assert_int_equal(k.vt->handlers(k.obj), 1);
    ticker_close(&k);
}

#define MANY 10000

static void ten_thousand_handlers(void **state)
{
    (void)state;
    struct ticker k;
    struct h *v = calloc(MANY, sizeof *v);
    ticker_open(&k);
    for (int i = 0; i < MANY; i++)
        reg(&k, &v[i]);
    assert_int_equal(k.vt->handlers(k.obj), MANY);
    assert_int_equal(k.vt->fire(k.obj, 1), MANY);
    for (int i = 0; i < MANY; i += 2)
        assert_int_equal(tenon_callback_unregister(k.t, v[i].id), 0);
    assert_int_equal(k.vt->fire(k.obj, 1), MANY / 2);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(atomic_load(&v[i].calls), i % 2 ? 2 : 1);
    ticker_close(&k); /* the rest go with the provider */
    free(v);
}

static void destroying_a_consumer_removes_its_handlers(void **state)
{
    (void)state;
    struct ticker k;
    tenon_instance_t *l1, *l2;
    void *o1, *o2;
    ticker_open(&k);
    assert_int_equal(tenon_create(k.t, "listener", k.inst, &l1), 0);
    assert_int_equal(tenon_create(k.t, "listener", k.inst, &l2), 0);
    const struct test_listener *vt =
        tenon_get_interface(l1, TEST_LISTENER_ID, &o1);
    assert_non_null(tenon_get_interface(l2, TEST_LISTENER_ID, &o2));
    assert_int_equal(k.vt->handlers(k.obj), 2);
    assert_int_equal(k.vt->fire(k.obj, 42), 2);
    assert_int_equal(vt->count(o1), 1);
    assert_int_equal(vt->last(o2), 42);
    tenon_destroy(l1); /* its handler goes before its object is freed */
    assert_int_equal(k.vt->handlers(k.obj), 1);
    assert_int_equal(k.vt->fire(k.obj, 43), 1);
    assert_int_equal(vt->count(o2), 2);
    tenon_destroy(l2);
    assert_int_equal(k.vt->handlers(k.obj), 0);
    ticker_close(&k);
}

static void destroying_the_provider_removes_every_handler(void **state)
{
    (void)state;
    struct ticker k;
    struct h a = {0};
    tenon_instance_t *second;
    ticker_open(&k);
    reg(&k, &a);
    /* a plugin registering on another instance, not its input */
    assert_int_equal(tenon_create(k.t, "ticker", NULL, &second), 0);
    void *o2;
    const struct test_ticker *vt2 =
        tenon_get_interface(second, TEST_TICKER_ID, &o2);
    uint64_t pid;
    assert_int_equal(
        vt2->reg(o2, k.inst, "tick", TEST_TICK_SIG, on_tick, &a, &pid), 0);
    assert_int_equal(k.vt->handlers(k.obj), 2);
    /* a plugin removes only its own handlers */
    assert_int_equal(vt2->unreg(o2, a.id), TENON_EPERM);
    assert_contains(tenon_last_error(), "was registered by another instance");
    assert_int_equal(k.vt->handlers(k.obj), 2);
    tenon_destroy(second); /* takes its handler on k with it */
    assert_int_equal(k.vt->handlers(k.obj), 1);
    assert_int_equal(vt2 != NULL, 1);
    tenon_destroy(k.inst);
    /* the host's handler went with the provider; its id is stale now */
    assert_int_equal(tenon_callback_unregister(k.t, a.id), TENON_ENOENT);
    tenon_close(k.t);
}

struct unreg_arg {
    tenon_t *t;
    struct h *h;
    int rc, was_running_after;
};

static void *unregister_later(void *p)
{
    struct unreg_arg *u = p;
    while (!atomic_load(&u->h->running))
        usleep(1000);
    u->rc = tenon_callback_unregister(u->t, u->h->id);
    u->was_running_after = atomic_load(&u->h->running);
    return NULL;
}

static void unregister_waits_for_a_running_handler(void **state)
{
    (void)state;
    struct ticker k;
    struct h a = {0};
    pthread_t th;
    struct unreg_arg u = {0};
    ticker_open(&k);
    reg(&k, &a);
    a.sleep_ms = 200;
    u.t = k.t;
    u.h = &a;
    assert_int_equal(pthread_create(&th, NULL, unregister_later, &u), 0);
    assert_int_equal(k.vt->fire(k.obj, 1), 1);
    pthread_join(th, NULL);
    assert_int_equal(u.rc, 0);
    assert_int_equal(u.was_running_after, 0);
    assert_int_equal(k.vt->fire(k.obj, 1), 0);
    ticker_close(&k);
}

#define THREADS 8
#define PER     500

struct worker {
    struct ticker *k;
    struct h h[PER];
    int failed;
};

static void *register_many(void *p)
{
    struct worker *w = p;
    for (int i = 0; i < PER; i++) {
        w->h[i].t = w->k->t;
        if (tenon_callback_register(w->k->inst, "tick", TEST_TICK_SIG, on_tick,
                                    &w->h[i], &w->h[i].id))
            w->failed++;
    }
    for (int i = 0; i < PER; i += 2)
        if (tenon_callback_unregister(w->k->t, w->h[i].id))
            w->failed++;
    return NULL;
}

static atomic_int stop_firing;

static void *fire_loop(void *p)
{
    struct ticker *k = p;
    while (!atomic_load(&stop_firing))
        k->vt->fire(k->obj, 1);
    return NULL;
}

static void registration_from_eight_threads(void **state)
{
    (void)state;
    struct ticker k;
    pthread_t th[THREADS], firer;
    struct worker *w = calloc(THREADS, sizeof *w);
    ticker_open(&k);
    atomic_store(&stop_firing, 0);
    assert_int_equal(pthread_create(&firer, NULL, fire_loop, &k), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i].k = &k;
        assert_int_equal(pthread_create(&th[i], NULL, register_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop_firing, 1);
    pthread_join(firer, NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(w[i].failed, 0);
    assert_int_equal(k.vt->handlers(k.obj), THREADS * PER / 2);
    /* every id is distinct and the survivors run exactly once per fire */
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER; j += 2)
            atomic_store(&w[i].h[j].calls, 0);
    assert_int_equal(k.vt->fire(k.obj, 1), THREADS * PER / 2);
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER; j += 2)
            assert_int_equal(atomic_load(&w[i].h[j].calls), 1);
    ticker_close(&k);
    free(w);
}

/* ---- the example provider of docs/osi.md -------------------------------- */

struct seen {
    uint32_t pid;
    char name[64];
};

static int first_process(void *ud, const struct tenon_osi_process *p)
{
    struct seen *s = ud;
    s->pid = p->pid;
    snprintf(s->name, sizeof s->name, "%s", p->name);
    return 7; /* stop: the listing returns it */
}

static void example_provider_works(void **state)
{
    (void)state;
    const char *dirs[] = {SELFOSI_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    tenon_instance_t *inst;
    void *obj, *mem;
    const struct tenon_memory_v1 *mvt;
    struct seen s = {0};
    static const char secret[] = "selfosi reads this";
    char buf[sizeof secret];
    size_t done;

    assert_int_equal(tenon_create_provider(t, TENON_OSI_ID, NULL, &inst), 0);
    const struct tenon_osi_v1 *osi =
        tenon_get_interface(inst, TENON_OSI_ID, &obj);
    assert_non_null(osi);
    assert_int_equal(osi->processes(obj, TENON_OSI_PROC_ALL, first_process, &s),
                     7);
    assert_int_equal(s.pid, (uint32_t)getpid());
    assert_nstr(s.name, "test_services");
    assert_int_equal(osi->process_memory(obj, s.pid, &mvt, &mem), 0);
    assert_int_equal(mvt->read(mem, (uintptr_t)secret, buf, sizeof buf, &done),
                     0);
    assert_int_equal(done, sizeof buf);
    assert_nstr(buf, secret);
    assert_int_equal(mvt->read(mem, 0x1000, buf, 8, &done), 0);
    assert_int_equal(done, 0);
    osi->process_memory_free(obj, mem);
    tenon_destroy(inst);
    assert_int_equal(tenon_create(t, "selfosi:enable=no", NULL, &inst),
                     TENON_EDECLINE);
    assert_nstr(tenon_last_error(), "plugin 'selfosi' declined: not enabled "
                                    "(selfosi:enable=yes)");
    tenon_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(providers_in_rank_then_name_order),
        cmocka_unit_test(bad_ranks_make_a_plugin_unavailable),
        cmocka_unit_test(create_provider_skips_declines_and_failures),
        cmocka_unit_test(all_declining_lists_each_reason),
        cmocka_unit_test(chain_builds_and_releases_as_one),
        cmocka_unit_test_setup_teardown(
            chain_step_whose_accepts_is_unmet_runs_no_code, tmp_setup,
            tmp_teardown),
        cmocka_unit_test(
            chain_with_an_outside_input_keeps_the_callers_reference),
        cmocka_unit_test(handlers_run_in_registration_order),
        cmocka_unit_test(registration_checks_name_and_signature),
        cmocka_unit_test(handler_unregisters_itself_while_running),
        cmocka_unit_test(handler_unregisters_the_next_one),
        cmocka_unit_test(ten_thousand_handlers),
        cmocka_unit_test(destroying_a_consumer_removes_its_handlers),
        cmocka_unit_test(destroying_the_provider_removes_every_handler),
        cmocka_unit_test(unregister_waits_for_a_running_handler),
        cmocka_unit_test(registration_from_eight_threads),
        cmocka_unit_test(example_provider_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
