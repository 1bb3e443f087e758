/* Compile-only: the SDK and host headers as strict C11, and the plugin
 * macros expand to valid declarations. */
#include <tenon/event.h>
#include <tenon/host.h>
#include <tenon/memory.h>
#include <tenon/op.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

TENON_PLUGIN_INFO("header-c11", "1.0.0", TENON_DESCRIPTION("compile test") TENON_RANK(TENON_RANK_PRIMARY)
                  TENON_ARG_INT("n", "1", "a number"));

static int create(const struct tenon_host *h, struct tenon_instance *s,
                  const struct tenon_args *a, struct tenon_instance *in,
                  void **obj)
{
    (void)h, (void)s, (void)in;
    *obj = (void *)tenon_arg(a, "n");
    return 0;
}
static void destroy(void *obj) { (void)obj; }
static const void *iface(void *obj, const char *id)
{
    (void)obj, (void)id;
    return NULL;
}
TENON_PLUGIN_ENTRY(create, destroy, iface, NULL);

/* The host API's layout is ABI (docs/abi.md): members only appended. */
_Static_assert(offsetof(struct tenon_host, get_interface) == 32, "abi.md");
_Static_assert(offsetof(struct tenon_host, callback_declare) == 40, "abi.md");
_Static_assert(offsetof(struct tenon_host, callback_unregister) == 72,
               "abi.md");
_Static_assert(offsetof(struct tenon_host, last_error) == 80, "abi.md");
_Static_assert(offsetof(struct tenon_host, config) == 88, "abi.md");
_Static_assert(offsetof(struct tenon_host, op_attach) == 96, "abi.md");
_Static_assert(offsetof(struct tenon_host, permitted) == 168, "abi.md");
_Static_assert(sizeof(struct tenon_host) == 176, "abi.md");
_Static_assert(sizeof(struct tenon_op_call) == 104, "abi.md");
/* Falco's records and structs, byte for byte (docs/events.md). */
_Static_assert(sizeof(struct tenon_event) == 26, "Falco's event header");
_Static_assert(offsetof(struct tenon_event, type) == 20, "Falco's header");
_Static_assert(sizeof(struct tenon_extract_field) == 64,
               "ss_plugin_extract_field");
_Static_assert(offsetof(struct tenon_extract_field, ftype) == 52, "Falco");
_Static_assert(sizeof(struct tenon_event_input) == 24, "ss_plugin_event_input");
_Static_assert(sizeof(struct tenon_metric) == 32, "ss_plugin_metric");
_Static_assert(offsetof(struct tenon_metric, value_type) == 24, "Falco");
_Static_assert(offsetof(struct tenon_extract_field, flist) == 56, "Falco");
_Static_assert(TENON_EDECLINE == -14 && TENON_EEOF == -16 &&
                   TENON_ERROR_MIN == -16,
               "abi.md");
