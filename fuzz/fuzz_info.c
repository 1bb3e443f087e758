/*
 * fuzz_info: the static info parser on raw info bytes.
 *
 * The input is the static info of a plugin file ("key=value\0" strings),
 * with no ELF around it: behind fuzz_elfinfo's ELF checks the fuzzer rarely
 * gets to vary the info itself. It is copied into a malloc'd buffer of
 * exactly its size, so that ASan sees a read one past its end.
 *
 * When the info parses, the argument declarations it produced (names, types,
 * defaults, choices, all from the untrusted file) are used the way
 * tenon_create() uses them: an argument string is parsed against them. That
 * string is the value of the key "fuzz.args" if the input has one (unknown
 * keys are ignored by the host, so it does not change what the info means),
 * else "", which still fills defaults and checks required arguments.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the inventory and tenon_create() take for granted after a parse. */
static void check_info(const struct tenon__info *info)
{
    if (info->abi != TENON_ABI_VERSION || !info->name || !info->version ||
        !tenon__valid_name(info->name, strlen(info->name)) ||
        info->nprovides > info->nkv || info->nargs > info->nkv)
        __builtin_trap();
    for (size_t i = 0; i < info->nprovides; i++)
        if (!tenon__valid_interface_id(info->provides[i]))
            __builtin_trap();
    for (size_t i = 0; i < info->nargs; i++) {
        const struct tenon_arg_decl *d = &info->args[i];
        if (!d->name || !d->help || d->type < TENON_ARG_STRING ||
            d->type > TENON_ARG_ENUM || (d->required && d->default_value) ||
            (d->type == TENON_ARG_ENUM && (!d->choices || !*d->choices)) ||
            ((d->has_min || d->has_max) && d->type != TENON_ARG_INT) ||
            (d->has_min && d->has_max && d->min > d->max))
            __builtin_trap();
    }
}

static void check_args(const struct tenon__info *info, const char *s)
{
    struct tenon__args a;

    tenon__fail(TENON_OK, "%s", ""); /* so a failure must leave a message */
    if (tenon__args_parse(s, info->args, info->nargs, info->name, &a) != 0) {
        if (tenon_last_error()[0] == '\0')
            __builtin_trap();
        return;
    }
    if (a.pub.count != info->nargs || (info->nargs && !a.pub.values))
        __builtin_trap();
    for (size_t i = 0; i < a.pub.count; i++) {
        const struct tenon_arg_value *v = &a.pub.values[i];
        const struct tenon_arg_decl *d = &info->args[i];
        if (!v->str || (d->required && !v->set) ||
            (!v->set && v->str[0] != '\0') ||
            (v->set && d->has_min && v->i < d->min) ||
            (v->set && d->has_max && v->i > d->max))
            __builtin_trap();
    }
    tenon__args_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tenon__info info;
    char reason[TENON__REASON_MAX] = "";
    char *buf = malloc(size ? size : 1);

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (tenon__info_parse(buf, size, &info, reason, sizeof reason) != 0) {
        if (reason[0] == '\0')
            __builtin_trap();
    } else {
        const char *args = tenon__info_get(&info, "fuzz.args");
        check_info(&info);
        check_args(&info, args ? args : "");
    }
    tenon__info_free(&info);
    free(buf);
    return 0;
}
