/*
 * example.greeter/1 - the interface the example plugin provides.
 *
 * An interface header is shared by the plugins that implement it and the
 * hosts that call it. Its vtable starts with its own size, and members are
 * only ever appended, so a host can tell which members a plugin has.
 */
#ifndef EXAMPLE_GREETER_H
#define EXAMPLE_GREETER_H

#include <stddef.h>
#include <stdint.h>

#define EXAMPLE_GREETER_ID "example.greeter/1"

struct example_greeter {
    uint32_t size; /* sizeof(struct example_greeter) in the plugin */
    /* Write a greeting for `who` into buf (NUL-terminated, truncated to
     * len). Returns 0 or a negative TENON_E* code. [instance-thread] */
    int (*greet)(void *obj, const char *who, char *buf, size_t len);
};

#endif
