/* "required": required arguments, so missing ones can be reported. */
#include <tenon/plugin.h>

#include <stdlib.h>

#include "stub.h"

TENON_PLUGIN_INFO("required", "0.1.0",
    TENON_DESCRIPTION("Test plugin with required arguments")
    TENON_ARG_INT_REQ("pid", "process id")
    TENON_ARG_ENUM_REQ("os", "linux|win", "operating system")
    TENON_ARG_STRING_OPT("note", "optional text"));

TENON_PLUGIN_ENTRY(stub_create, stub_destroy, stub_get_interface, NULL);
