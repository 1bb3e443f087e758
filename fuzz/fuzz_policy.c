/*
 * fuzz_policy: the permission policy file an operator edits
 * (tenon_policy_parse, as tenon_policy_load and TENON_POLICY read it), the
 * `hook` values of a plugin's static info (tenon__hook_spec_parse) and the
 * operation references plugins pass at run time ("name[param]", through
 * tenon_op_attach and tenon_op_hooks).
 *
 * Input: the whole buffer is the policy text; up to its first '\n' it is
 * also a hook value and an operation reference, each copied into a buffer
 * of exactly its length plus the NUL so that ASan sees a read past the end.
 * Beyond memory errors the target traps when:
 *   - a policy parses but a permission name it accepted is unknown to
 *     tenon_permission_name(), or a failing parse left a message without
 *     the word "line" or the file name;
 *   - a hook value parses but its operation does not start the text after
 *     the kind, or the kind is not 1..3;
 *   - an attach succeeds on a reference that tenon_op_hooks() then rejects,
 *     or after which it counts no hook.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t hook(void *ctx, const struct tenon_op_call *c)
{
    (void)ctx;
    (void)c;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tenon_t *t;
    struct tenon_options o = {.struct_size = sizeof o};
    const char *const nodirs[] = {"/nonexistent"};

    if (size > 64 * 1024)
        return 0;
    o.plugin_paths = nodirs;
    o.plugin_path_count = 1;
    o.no_cache = 1;
    if (tenon_open(&t, &o))
        __builtin_trap();

    /* the policy file */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    int rc = tenon_policy_parse(t, text, size, "fuzz.policy");
    if (rc && !strstr(tenon_last_error(), "fuzz.policy"))
        __builtin_trap();
    free(text);

    /* the first line as a hook value and an operation reference */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *line = malloc(len + 1);
    if (!line) {
        tenon_close(t);
        t = NULL;
        return 0;
    }
    memcpy(line, data, len);
    line[len] = '\0';
    char op[96], why[TENON__REASON_MAX];
    int kind;
    unsigned flags;
    if (tenon__hook_spec_parse(line, &kind, op, sizeof op, &flags, why,
                               sizeof why) == 0) {
        const char *sp = strchr(line, ' ');
        if (kind < 1 || kind > 3 || !sp || strncmp(sp + 1, op, strlen(op)) != 0)
            __builtin_trap();
    }
    uint64_t id;
    if (tenon_op_attach(t, NULL, line, TENON_HOOK_BEFORE, 0, 0, hook, NULL,
                        &id) == 0) {
        size_t before = 0;
        if (tenon_op_hooks(t, line, &before, NULL, NULL) != 0 || before == 0)
            __builtin_trap();
        if (tenon_op_detach(t, id) != 0)
            __builtin_trap();
    }
    free(line);
    tenon_close(t);
    t = NULL;
    return 0;
}
