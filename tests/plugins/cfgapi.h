/* The interface of the config test plugin (cfg.c), shared with
 * test_config.c. */
#ifndef TENON_TEST_CFGAPI_H
#define TENON_TEST_CFGAPI_H

#include <stdint.h>

#define TEST_CFG_ID "test.cfg/1"

struct test_cfg {
    uint32_t size;
    /* The config text the plugin holds now, as create() or set_config()
     * got it. */
    const char *(*config)(void *obj);
    /* "level" and "mode" as the plugin read them from it. */
    int64_t (*level)(void *obj);
    const char *(*mode)(void *obj);
};

#endif
