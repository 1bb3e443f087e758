/*
 * Metrics: what an instance publishes through tenon.metrics/1, read at any
 * time. The array is the plugin's, so its length is capped and every entry
 * checked before the host's callback sees it.
 */
#include "internal.h"

#include <stddef.h>

/* Far more than any plugin publishes; past it the count is garbage. */
#define METRICS_MAX 4096u

int tenon_metrics(tenon_instance_t *inst, tenon_metric_fn fn, void *ud)
{
    const struct tenon_metrics_v1 *vt;
    const struct tenon_metric *m;
    const char *name = inst->plugin->info.name;
    uint32_t n = 0;
    void *obj;
    int rc;

    vt = tenon_get_interface(inst, TENON_METRICS_ID, &obj);
    if (!vt ||
        vt->struct_size <
            offsetof(struct tenon_metrics_v1, metrics) + sizeof vt->metrics ||
        !vt->metrics)
        return tenon__fail(TENON_ENOTSUP,
                           "plugin '%s' publishes no metrics (it does not "
                           "provide %s)",
                           name, TENON_METRICS_ID);
    m = vt->metrics(obj, &n);
    if (n > METRICS_MAX)
        return tenon__fail(TENON_EPLUGIN,
                           "plugin '%s' reported %u metrics, more than the "
                           "%u a host reads",
                           name, n, METRICS_MAX);
    if (n && !m)
        return tenon__fail(TENON_EPLUGIN,
                           "plugin '%s' reported %u metrics but no array", name,
                           n);
    for (uint32_t i = 0; i < n; i++) {
        /* an entry the host could not print or sum is left out */
        if (!m[i].name || m[i].type > TENON_METRIC_GAUGE ||
            m[i].value_type > TENON_METRIC_I)
            continue;
        if ((rc = fn(ud, inst, &m[i])))
            return rc;
    }
    return 0;
}
