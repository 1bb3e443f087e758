/* A plugin that needs a bundled library (tdep.c): test.basic/1 whose
 * version() is the library's text, so a test sees which library ran. Built
 * as several plugins (TP_NAME) with different DT_RUNPATH / DT_RPATH. */
#include <tenon/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "testapi.h"

#ifndef TP_NAME
#define TP_NAME "depplug"
#endif

const char *tdep_text(void);

TENON_PLUGIN_INFO(TP_NAME, "1.0.0",
    TENON_DESCRIPTION("Test plugin with a bundled library")
    TENON_PROVIDES(TEST_BASIC_ID));

static int add(void *obj, int a, int b)
{
    (void)obj;
    return a + b;
}

static void log_all(void *obj) { (void)obj; }

static const struct tenon_args *args(void *obj)
{
    (void)obj;
    return NULL;
}

static const char *version(void *obj)
{
    (void)obj;
    return tdep_text();
}

static int fail_call(void *obj)
{
    (void)obj;
    return TENON_EPLUGIN;
}

static const struct test_basic vt = {sizeof vt, add,     log_all,
                                     args,      version, fail_call};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    (void)host, (void)self, (void)a, (void)input;
    *obj = (void *)&vt;
    return 0;
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TEST_BASIC_ID) == 0 ? &vt : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
