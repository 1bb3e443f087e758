/* Interfaces the test plugins provide; shared with the tests. */
#ifndef TENON_TEST_API_H
#define TENON_TEST_API_H

#include <tenon/plugin.h>

#define TEST_BASIC_ID "test.basic/1"
#define TEST_CHAIN_ID "test.chain/1"

struct test_basic {
    uint32_t size;
    int (*add)(void *obj, int a, int b);
    /* Log one line at each level, error..trace, each naming its level. */
    void (*log_all)(void *obj);
    /* The arguments the instance was created with. */
    const struct tenon_args *(*args)(void *obj);
    /* The plugin's version string, from the code (not the info). */
    const char *(*version)(void *obj);
    /* Fail with a message left through host->set_error. */
    int (*fail_call)(void *obj);
};

struct test_chain {
    uint32_t size;
    /* Calls add() of the input instance's test.basic/1, then adds 1000. */
    int (*add_via_input)(void *obj, int a, int b);
};

/* The services tests (svc.c). */
#define TEST_TICKER_ID   "test.ticker/1"
#define TEST_LISTENER_ID "test.listener/1"
#define TEST_RANK_ID     "test.rank/1"
#define TEST_DECLINE_ID  "test.decline/1"
#define TEST_TICK_SIG    "test.tick/1"

struct test_tick {
    uint32_t size;
    int value;
};

struct test_ticker {
    uint32_t size;
    /* Fire "tick" with `value`; how many handlers ran. */
    size_t (*fire)(void *obj, int value);
    size_t (*handlers)(void *obj);
    /* Declare "tick" a second time (TENON_EEXIST expected). */
    int (*declare_again)(void *obj);
    /* host->callback_register / unregister on behalf of this instance. */
    int (*reg)(void *obj, struct tenon_instance *provider, const char *name,
               const char *sig, tenon_callback_fn fn, void *ctx, uint64_t *id);
    int (*unreg)(void *obj, uint64_t id);
};

struct test_listener {
    uint32_t size;
    int (*count)(void *obj);
    int (*last)(void *obj);
};

#endif
