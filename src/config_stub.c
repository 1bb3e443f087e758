/* TEMPORARY: stands in for src/config.c and src/metrics.c until they land
 * (configs are ignored); delete it then. */
#include "internal.h"
int tenon_metrics(tenon_instance_t *inst, tenon_metric_fn fn, void *ud)
{
    void *obj;
    const struct tenon_metrics_v1 *m =
        tenon_get_interface(inst, TENON_METRICS_ID, &obj);
    uint32_t n = 0;
    const struct tenon_metric *v;
    if (!m)
        return TENON_ENOTSUP;
    v = m->metrics(obj, &n);
    for (uint32_t i = 0; i < n; i++) {
        int rc = fn(ud, inst, &v[i]);
        if (rc)
            return rc;
    }
    return 0;
}
int tenon_create_config(tenon_t *t, const char *spec, const char *config,
                        tenon_instance_t *input, tenon_instance_t **out)
{
    (void)config;
    return tenon_create(t, spec, input, out);
}
