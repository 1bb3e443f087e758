/*
 * fuzz_semver: version parsing and precedence.
 *
 * Input layout: up to three versions separated by '\n' ("1.0.0\n2.0.0-rc.1"
 * or "1.0.0-a\n1.0.0-b\n1.0.0"); a missing one is the empty string, which
 * does not parse, and anything after a third '\n' is ignored. Each is copied
 * into its own buffer of exactly its length plus the NUL, so ASan sees any
 * read past the end of a version string; an embedded NUL ends it early.
 *
 * tenon_find() picks the highest version with tenon__semver_cmp(), so beyond
 * memory errors the target traps (__builtin_trap) when the comparison is not
 * a total order on the versions that parse:
 *   - antisymmetry: cmp(a,b) == -cmp(b,a), and cmp(a,a) == 0;
 *   - transitivity: a <= b and b <= c imply a <= c;
 *   - equality means equal fields: same numbers and pre-release text (build
 *     metadata is not compared);
 *   - printing a parsed version back (without build metadata) gives a string
 *     that parses to an equal version.
 * cmp() promises only the sign, so only signs are compared.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sign(int c) { return (c > 0) - (c < 0); }

static int cmp(const struct tenon__semver *a, const struct tenon__semver *b)
{
    return sign(tenon__semver_cmp(a, b));
}

static int same_fields(const struct tenon__semver *a,
                       const struct tenon__semver *b)
{
    if (a->major != b->major || a->minor != b->minor || a->patch != b->patch ||
        (a->pre == NULL) != (b->pre == NULL))
        return 0;
    return !a->pre || (a->pre_len == b->pre_len &&
                       memcmp(a->pre, b->pre, a->pre_len) == 0);
}

static void check_one(const struct tenon__semver *v)
{
    struct tenon__semver w;
    char buf[128], *text = buf;
    /* pre_len is bounded only by the input, so fall back to the heap. */
    size_t need = 3 * 21 + 3 + v->pre_len + 1;

    if (cmp(v, v) != 0)
        __builtin_trap();
    if (need > sizeof buf && !(text = malloc(need)))
        return;
    snprintf(text, need, "%llu.%llu.%llu%s%.*s", (unsigned long long)v->major,
             (unsigned long long)v->minor, (unsigned long long)v->patch,
             v->pre ? "-" : "", v->pre ? (int)v->pre_len : 0,
             v->pre ? v->pre : "");
    if (tenon__semver_parse(text, &w) != 0 || !same_fields(v, &w) ||
        cmp(v, &w) != 0)
        __builtin_trap();
    if (text != buf)
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text[3] = {NULL, NULL, NULL};
    struct tenon__semver v[3];
    int ok[3];
    const uint8_t *p = data, *end = data + size;

    for (int i = 0; i < 3; i++) {
        const uint8_t *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        size_t len = (size_t)((nl ? nl : end) - p);
        if (!(text[i] = malloc(len + 1)))
            goto out;
        memcpy(text[i], p, len);
        text[i][len] = '\0';
        p = nl ? nl + 1 : end;
        ok[i] = tenon__semver_parse(text[i], &v[i]) == 0;
        if (ok[i])
            check_one(&v[i]);
    }

    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            if (!ok[i] || !ok[j])
                continue;
            int c = cmp(&v[i], &v[j]);
            if (c != -cmp(&v[j], &v[i]) ||
                (c == 0) != same_fields(&v[i], &v[j]))
                __builtin_trap();
            for (int k = 0; k < 3; k++)
                if (ok[k] && c <= 0 && cmp(&v[j], &v[k]) <= 0 &&
                    cmp(&v[i], &v[k]) > 0)
                    __builtin_trap();
        }
    }
out:
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return 0;
}
