/* Plugins whose static info breaks one rule each, chosen by BAD_KIND:
 * 1 invalid semver, 2 invalid name, 3 a name with a line break (which the
 * reason quotes), 4 a description of two lines; int ranges: 5 min above
 * max, 6 the default outside, 7 a bound that is not an int, 8 a range on a
 * string argument. */
#include <tenon/plugin.h>

#include "stub.h"

#if BAD_KIND == 1
TENON_PLUGIN_INFO("badver", "1.0", TENON_DESCRIPTION("version is not semver"));
#elif BAD_KIND == 2
TENON_PLUGIN_INFO("Bad Name!", "1.0.0", TENON_DESCRIPTION("bad characters"));
#elif BAD_KIND == 3
TENON_PLUGIN_INFO("two\nlines", "1.0.0", TENON_DESCRIPTION("a line break"));
#elif BAD_KIND == 4
TENON_PLUGIN_INFO("multiline", "1.0.0", TENON_DESCRIPTION("one\ntwo"));
#elif BAD_KIND == 5
TENON_PLUGIN_INFO("range-order", "1.0.0",
    TENON_DESCRIPTION("min above max")
    TENON_ARG_INT_RANGE("n", "10", "1", "5", "a number"));
#elif BAD_KIND == 6
TENON_PLUGIN_INFO("range-default", "1.0.0",
    TENON_DESCRIPTION("default outside the range")
    TENON_ARG_INT_RANGE("n", "1", "10", "11", "a number"));
#elif BAD_KIND == 7
TENON_PLUGIN_INFO("range-bound", "1.0.0",
    TENON_DESCRIPTION("a bound that is not an int")
    TENON_ARG_INT_RANGE("n", "one", "10", "1", "a number"));
#elif BAD_KIND == 8
TENON_PLUGIN_INFO("range-type", "1.0.0",
    TENON_DESCRIPTION("a range on a string")
    TENON_ARG_STRING("s", "a", "text") TENON__KV("arg.min", "1"));
#endif

TENON_PLUGIN_ENTRY(stub_create, stub_destroy, stub_get_interface, 0);
