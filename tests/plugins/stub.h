/* Entry points for test plugins that are only there to be found, refused or
 * loaded: no state, no interfaces. Static inline, so a plugin that takes only
 * some of them (it is one translation unit) gets no unused-function warning. */
#ifndef TENON_TEST_STUB_H
#define TENON_TEST_STUB_H

#include <tenon/plugin.h>

static inline int stub_create(const struct tenon_host *host,
                              struct tenon_instance *self,
                              const struct tenon_args *a,
                              struct tenon_instance *input, void **obj)
{
    (void)host, (void)self, (void)a, (void)input;
    *obj = NULL;
    return 0;
}

static inline void stub_destroy(void *obj) { (void)obj; }

static inline const void *stub_get_interface(void *obj, const char *id)
{
    (void)obj, (void)id;
    return NULL;
}

#endif
