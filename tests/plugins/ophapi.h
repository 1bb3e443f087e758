/* The interface "test.oph/1" of tests/plugins/oph.c: what tests/test_ops.c
 * makes the plugin do. */
#ifndef TEST_OPHAPI_H
#define TEST_OPHAPI_H

#include <stdint.h>

#define TEST_OPH_ID "test.oph/1"

struct oph_api {
    uint32_t struct_size;
    int (*timer)(void *obj, uint64_t delay_ns, int64_t n, uint64_t *id);
    int (*cancel)(void *obj, uint64_t id);
    int (*attach)(void *obj, const char *op, int kind, uint64_t *id);
    int (*detach)(void *obj, uint64_t id);
    void (*log)(void *obj, const char *msg);
    int (*call)(void *obj, const char *op, int64_t *result);
    int (*enable)(void *obj);
};

#endif
