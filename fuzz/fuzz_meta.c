/*
 * fuzz_meta: the .meta parser on raw bytes.
 *
 * A .meta file lies next to a plugin (or a bundled library) and is as
 * untrusted as the file it describes, so
 * tenon__meta_parse() must turn any input into either a complete, checked
 * struct or a reason. The input is copied into a buffer of exactly its size
 * so that ASan sees a read one past the end.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* What tenon__trust_check_file() takes for granted after a parse. */
static void check_meta(const struct tenon__meta *m)
{
    if (!m->info == !m->soname || !tenon__rfc3339_valid(m->created_at))
        __builtin_trap();
    if (m->is_signed ? !is_hex(m->key_id, TENON__KEY_ID_LEN) || !m->statement[0]
                     : m->key_id[0] != '\0' || m->statement[0])
        __builtin_trap();
    if ((m->ndeps && (!m->deps || m->soname)) || m->ndeps > 256)
        __builtin_trap();
    for (size_t i = 0; i < m->ndeps; i++)
        if (!m->deps[i].name[0] || strchr(m->deps[i].name, '/') ||
            (i && strcmp(m->deps[i - 1].name, m->deps[i].name) >= 0))
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[TENON__REASON_MAX] = "";
    struct tenon__meta m, again;
    char *buf = malloc(size ? size : 1);
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    rc = tenon__meta_parse(buf, size, &m, reason, sizeof reason);
    if (rc != 0) {
        if (rc != TENON_EINVAL || reason[0] == '\0' || m.info || m.soname ||
            m.deps)
            __builtin_trap();
    } else {
        check_meta(&m);
        /* Parsing is a function of the bytes alone. */
        if (tenon__meta_parse(buf, size, &again, reason, sizeof reason) != 0 ||
            memcmp(again.digest, m.digest, sizeof m.digest) != 0 ||
            memcmp(again.signature, m.signature, sizeof m.signature) != 0 ||
            strcmp(again.key_id, m.key_id) != 0 ||
            strcmp(again.created_at, m.created_at) != 0 ||
            strcmp(again.statement, m.statement) != 0 ||
            again.ndeps != m.ndeps ||
            (m.ndeps &&
             memcmp(again.deps, m.deps, m.ndeps * sizeof *m.deps) != 0))
            __builtin_trap();
        tenon__meta_free(&again);
    }
    tenon__meta_free(&m);
    free(buf);
    return 0;
}
