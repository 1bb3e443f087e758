/* TEMPORARY: stands in for src/events/filter.c until it lands (filters
 * are refused, tenon__field_token works); delete it then. */
#include "events.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct tenon__filter {
    int x;
};
int tenon__filter_compile(const char *expr, tenon__resolve_fn resolve, void *ud,
                          struct tenon__filter **out, size_t *column, char *err,
                          size_t errlen)
{
    (void)expr;
    (void)resolve;
    (void)ud;
    *out = NULL;
    *column = 1;
    snprintf(err, errlen, "filters not yet");
    return TENON_EINVAL;
}
int tenon__filter_eval(const struct tenon__filter *f, tenon__get_fn get,
                       void *ud)
{
    (void)f;
    (void)get;
    (void)ud;
    return 1;
}
size_t tenon__filter_slots(const struct tenon__filter *f,
                           const uint32_t **slots)
{
    (void)f;
    *slots = NULL;
    return 0;
}
void tenon__filter_free(struct tenon__filter *f) { free(f); }
size_t tenon__field_token(const char *s, size_t *namelen, const char **arg,
                          size_t *arglen, int *bad)
{
    size_t i = 0;
    *bad = 0;
    *arg = NULL;
    *arglen = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          s[0] == '_'))
        return 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))
        i++;
    while (i && s[i - 1] == '.')
        i--;
    *namelen = i;
    if (s[i] == '[') {
        const char *e = strchr(s + i + 1, ']');
        if (!e) {
            *bad = 1;
            return 0;
        }
        *arg = s + i + 1;
        *arglen = (size_t)(e - s - i - 1);
        return (size_t)(e - s) + 1;
    }
    return i;
}
