/*
 * Ranked providers: which plugins provide an interface, in the order the
 * host tries them when no plugin is named (GStreamer's rule: highest rank,
 * then name), and creating the first one that takes the job (VLC's rule: a
 * provider may decline, and the next is tried).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tenon_plugin_rank(const tenon_plugin_t *p)
{
    return p && p->have_info ? p->info.rank : 0;
}

static int provides(const struct tenon_plugin *p, const char *id)
{
    for (size_t i = 0; i < p->info.nprovides; i++)
        if (strcmp(p->info.provides[i], id) == 0)
            return 1;
    return 0;
}

/* Is `p` what tenon_create("name") gives: available, and no other
 * available file of its name is newer? (Files of one name and version found
 * later in the path are shadowed, not available.) Caller holds t->lock. */
static int newest_of_name(const tenon_t *t, const struct tenon_plugin *p)
{
    if (p->status != TENON_AVAILABLE)
        return 0;
    for (size_t i = 0; i < t->nplugins; i++) {
        const struct tenon_plugin *q = t->plugins[i];
        if (q != p && q->status == TENON_AVAILABLE &&
            strcmp(q->info.name, p->info.name) == 0 &&
            tenon__semver_cmp(&q->info.semver, &p->info.semver) > 0)
            return 0;
    }
    return 1;
}

static int by_rank(const void *a, const void *b)
{
    const struct tenon_plugin *p = *(const struct tenon_plugin *const *)a;
    const struct tenon_plugin *q = *(const struct tenon_plugin *const *)b;
    if (p->info.rank != q->info.rank)
        return p->info.rank > q->info.rank ? -1 : 1;
    return strcmp(p->info.name, q->info.name);
}

/* The providers of `id`, sorted, in a malloc'd array (NULL when none or out
 * of memory: *n says which). */
static const tenon_plugin_t **list(tenon_t *t, const char *id, size_t *n)
{
    const tenon_plugin_t **v = NULL;
    size_t count = 0;

    *n = 0;
    if (!id || tenon__ensure_scanned(t))
        return NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nplugins; i++)
        count +=
            provides(t->plugins[i], id) && newest_of_name(t, t->plugins[i]);
    if (count && (v = malloc(count * sizeof *v))) {
        size_t k = 0;
        for (size_t i = 0; i < t->nplugins; i++)
            if (provides(t->plugins[i], id) && newest_of_name(t, t->plugins[i]))
                v[k++] = t->plugins[i];
        qsort(v, count, sizeof *v, by_rank);
        *n = count;
    } else if (count) {
        *n = (size_t)-1;
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

size_t tenon_providers(tenon_t *t, const char *id, const tenon_plugin_t **out,
                       size_t max)
{
    size_t n;
    const tenon_plugin_t **v = list(t, id, &n);
    if (n == (size_t)-1)
        return 0;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = v[i];
    free(v);
    return n;
}

/* Append "; WHY" (or WHY first) to the reasons, as far as they go. */
static void add_reason(char *buf, size_t len, const char *why)
{
    size_t used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used, "%s%s", used ? "; " : "", why);
}

int tenon_create_provider(tenon_t *t, const char *id, tenon_instance_t *input,
                          tenon_instance_t **out)
{
    char reasons[2048] = "", spec[512];
    size_t n;
    int rc = TENON_ENOENT;
    const tenon_plugin_t **v;

    if (out)
        *out = NULL;
    if (!t || !out || !id || !tenon__valid_interface_id(id))
        return tenon__fail(TENON_EINVAL,
                           "expected an interface id (namespace.name/major)");
    v = list(t, id, &n);
    if (n == (size_t)-1)
        return tenon__fail(TENON_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct tenon_plugin *p = v[i];
        snprintf(spec, sizeof spec, "%s@%s", p->info.name, p->info.version);
        rc = tenon_create(t, spec, input, out);
        if (rc == 0)
            break;
        /* the message names the plugin */
        add_reason(reasons, sizeof reasons, tenon_last_error());
        tenon__log(t, rc == TENON_EDECLINE ? TENON_LOG_DEBUG : TENON_LOG_WARN,
                   "tenon", "trying the providers of %s: %s", id,
                   tenon_last_error());
    }
    free(v);
    if (rc == 0) {
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "%s provided by '%s'", id,
                   tenon_instance_plugin(*out)->info.name);
        return 0;
    }
    if (n == 0)
        return tenon__fail(TENON_ENOENT,
                           "no available plugin provides %s (`tenon list "
                           "--provides %s` shows what was found)",
                           id, id);
    return tenon__fail(rc, "no provider of %s could be created: %s", id,
                       reasons);
}
