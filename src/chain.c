/*
 * Chains, memflow's connector -> os -> connector: each step's instance is
 * the input of the next. tenon_create() already checks a step's `accepts`
 * against the instance before it, before any code of the step runs; a chain
 * adds the bookkeeping of references (the last instance holds the rest) and
 * says which step failed.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int tenon_chain(tenon_t *t, const char *const *steps, size_t n,
                tenon_instance_t *input, tenon_instance_t **out)
{
    tenon_instance_t *prev = input;
    char why[512];

    if (out)
        *out = NULL;
    if (!t || !out || !steps || n == 0)
        return tenon__fail(TENON_EINVAL, "a chain needs at least one step");
    for (size_t i = 0; i < n; i++) {
        tenon_instance_t *next;
        int rc = tenon_create(t, steps[i] ? steps[i] : "", prev, &next);
        if (prev != input)
            tenon_destroy(prev); /* `next` holds it, or it goes */
        if (rc) {
            snprintf(why, sizeof why, "%s", tenon_last_error());
            return tenon__fail(rc, "chain step %zu of %zu ('%s'): %s", i + 1, n,
                               steps[i] ? steps[i] : "", why);
        }
        prev = next;
    }
    *out = prev;
    return 0;
}
