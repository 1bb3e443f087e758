/* "mismatch": static info says one thing, the entry struct another. Written
 * by hand (no TENON_PLUGIN_ENTRY) to show the loader refuses such a file.
 * MISMATCH_FIELD selects what differs: 1 name, 2 version, 3 abi, 5 an entry
 * struct too small to hold create/destroy/get_interface. 4 is a valid entry
 * from an older SDK that ends before `targets`: the host must not read the
 * member beyond its end (here a function that aborts). */
#include <tenon/plugin.h>

#include <stddef.h>
#include <stdlib.h>

#include "stub.h"

#ifndef MISMATCH_FIELD
#define MISMATCH_FIELD 1
#endif

TENON_PLUGIN_INFO("mismatch", "1.0.0",
    TENON_DESCRIPTION("Entry disagrees with static info"));

static int must_not_run(const struct tenon_host *host,
                        struct tenon_instance *self, tenon_target_fn emit,
                        void *ud)
{
    (void)host, (void)self, (void)emit, (void)ud;
    abort();
}

__attribute__((visibility("default")))
const struct tenon_plugin_entry tenon_plugin_entry = {
    MISMATCH_FIELD == 4   ? offsetof(struct tenon_plugin_entry, targets)
    : MISMATCH_FIELD == 5 ? 8
                          : sizeof(struct tenon_plugin_entry),
    MISMATCH_FIELD == 3 ? TENON_ABI_VERSION + 1 : TENON_ABI_VERSION,
    MISMATCH_FIELD == 1 ? "impostor" : tenon__name,
    MISMATCH_FIELD == 2 ? "9.9.9" : tenon__version,
    tenon__note.desc,
    sizeof(tenon__note.desc),
    0,
    stub_create,
    stub_destroy,
    stub_get_interface,
    MISMATCH_FIELD == 4 ? must_not_run : 0};
