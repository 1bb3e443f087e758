/* Plugins whose static info breaks one rule each, chosen by BAD_KIND:
 * 1 invalid semver, 2 invalid name, 3 a name with a line break (which the
 * reason quotes), 4 a description of two lines. */
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
#endif

TENON_PLUGIN_ENTRY(stub_create, stub_destroy, stub_get_interface, 0);
