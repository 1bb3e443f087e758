/* "mismatch": static info says one thing, the entry struct another. Written
 * by hand (no TENON_PLUGIN_ENTRY) to show the loader refuses such a file.
 * MISMATCH_FIELD selects what differs: 1 name, 2 version, 3 abi. */
#include <tenon/plugin.h>

#include "stub.h"

#ifndef MISMATCH_FIELD
#define MISMATCH_FIELD 1
#endif

TENON_PLUGIN_INFO("mismatch", "1.0.0",
    TENON_DESCRIPTION("Entry disagrees with static info"));

__attribute__((visibility("default"))) const struct tenon_plugin_entry
    tenon_plugin_entry = {
        sizeof(struct tenon_plugin_entry),
        MISMATCH_FIELD == 3 ? TENON_ABI_VERSION + 1 : TENON_ABI_VERSION,
        MISMATCH_FIELD == 1 ? "impostor" : tenon__name,
        MISMATCH_FIELD == 2 ? "9.9.9" : tenon__version,
        tenon__note.desc,
        sizeof(tenon__note.desc),
        0,
        stub_create,
        stub_destroy,
        stub_get_interface,
        0};
