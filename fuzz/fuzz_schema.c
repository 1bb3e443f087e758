/*
 * fuzz_schema: the config validator (src/config.c) on a schema and a
 * config, both hostile: the input up to its first NUL is the schema, the
 * rest the config (no NUL: the config is "{}").
 *
 * Beyond not crashing: a failure is TENON_EINVAL with a message and no
 * output, and its path is a JSON Pointer; a success gives JSON text that
 * passes the same schema again unchanged (filling in defaults and
 * turning 5.0 into 5 are done once and for all).
 *
 * The seeds in fuzz/corpus/fuzz_schema/ were written by hand: the cfg test
 * plugin's schema with configs that pass and fail, and schemas using each
 * keyword, boolean schemas, escapes in keys and multiplying defaults.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    char *schema = tenon__strndup((const char *)data, slen);
    char *config = nul ? tenon__strndup((const char *)nul + 1, size - slen - 1)
                       : tenon__strdup("{}");
    char *out = NULL, *path = NULL, *again = NULL;
    int rc;

    /* enough to reach the budget's error often, fast */
    tenon__config_max_values = 20000;
    if (!schema || !config)
        goto done;
    rc = tenon_config_validate(schema, config, &out, &path);
    if (rc != 0) {
        if (rc != TENON_EINVAL || out || !tenon_last_error()[0] ||
            (path && path[0] && path[0] != '/'))
            __builtin_trap();
        goto done;
    }
    if (!out || path)
        __builtin_trap();
    if (tenon_config_validate(schema, out, &again, NULL) != 0 ||
        strcmp(again, out) != 0)
        __builtin_trap();
done:
    free(again);
    free(out);
    free(path);
    free(config);
    free(schema);
    return 0;
}
