/* "odd": a valid plugin whose texts hold what a terminal must not get raw
 * (tabs, line breaks, and from its code escape sequences), to test that the
 * CLI escapes them. */
#include <tenon/plugin.h>

#include "stub.h"

TENON_PLUGIN_INFO("odd", "1.0.0",
    TENON_DESCRIPTION("Test plugin\twith a tab")
    TENON_HELP("col1\tcol2\nsecond line")
    TENON_ARG_STRING("label", "a\tb", "help\nin two lines")
    TENON__KV("x-note", "one\ttwo\nthree"));

static int targets(const struct tenon_host *host, struct tenon_instance *self,
                   tenon_target_fn emit, void *ud)
{
    (void)host, (void)self;
    emit(ud, "\033[2Jwipe", "two\nlines");
    return 0;
}

TENON_PLUGIN_ENTRY(stub_create, stub_destroy, stub_get_interface, targets);
