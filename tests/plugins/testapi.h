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

#endif
