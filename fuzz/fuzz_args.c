/*
 * fuzz_args: plugin argument strings ("Bonjour,times=2,note=\"a,b\"").
 *
 * Input layout: the first byte picks the declarations, byte % 3 (so the
 * printable '0', '1', '2' that start the seed files read as the set number):
 *
 *   0  one argument of every kind: string, int, bool and enum with defaults,
 *      a required int, an optional string and bool without defaults;
 *   1  no arguments at all (decls == NULL, as a plugin that declares none);
 *   2  a required enum first, so a bare value must be one of its choices,
 *      then an int with a default and a required bool.
 *
 * The rest, copied and NUL-terminated (an embedded NUL ends it early, as it
 * would for a C caller), is the argument string.
 *
 * Besides the sanitizers, the target traps when a successful parse breaks
 * what plugins are promised in plugin.h: every value present, required ones
 * set, values converted within their type's range, and every string either
 * the declared default or inside the parser's own copy of the input.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Declarations as the static-info parser makes them; the members after
 * choices (an int's range) are zero. */
#define DECL(n, t, req, def, h, ch)                                            \
    {                                                                          \
        .name = (n), .type = (t), .required = (req), .default_value = (def),   \
        .help = (h), .choices = (ch)                                           \
    }

static const struct tenon_arg_decl every_kind[] = {
    DECL("greeting", TENON_ARG_STRING, 0, "Hello", "the word to greet with",
         NULL),
    {.name = "times",
     .type = TENON_ARG_INT,
     .default_value = "1",
     .help = "how many times, 1 to 10",
     .has_min = 1,
     .has_max = 1,
     .min = 1,
     .max = 10},
    DECL("shout", TENON_ARG_BOOL, 0, "no", "upper-case it", NULL),
    DECL("punct", TENON_ARG_ENUM, 0, "exclaim", "how to end it",
         "period|exclaim|none"),
    DECL("pid", TENON_ARG_INT, 1, NULL, "process id", NULL),
    DECL("note", TENON_ARG_STRING, 0, NULL, "optional text", NULL),
    DECL("verbose", TENON_ARG_BOOL, 0, NULL, "optional flag", NULL),
};

static const struct tenon_arg_decl enum_first[] = {
    DECL("os", TENON_ARG_ENUM, 1, NULL, "operating system", "linux|win|a|"),
    DECL("size", TENON_ARG_INT, 0, "4k", "buffer size", NULL),
    DECL("dry_run", TENON_ARG_BOOL, 1, NULL, "do nothing", NULL),
};

static const struct {
    const struct tenon_arg_decl *decls;
    size_t n;
} sets[] = {
    {every_kind, sizeof every_kind / sizeof *every_kind},
    {NULL, 0},
    {enum_first, sizeof enum_first / sizeof *enum_first},
};

static size_t count_choices(const char *choices)
{
    size_t n = 1;
    for (; *choices; choices++)
        n += *choices == '|';
    return n;
}

static void check(const struct tenon__args *a,
                  const struct tenon_arg_decl *decls, size_t n,
                  const char *input)
{
    size_t len = strlen(input);

    if (a->pub.count != n || a->pub.values != a->values)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        const struct tenon_arg_value *v = &a->values[i];
        const struct tenon_arg_decl *d = &decls[i];
        if (v->name != d->name || v->type != d->type || !v->str)
            __builtin_trap();
        if (!v->set) {
            if (d->required || d->default_value || v->str[0] != '\0')
                __builtin_trap();
            continue;
        }
        if (v->str != d->default_value &&
            (v->str < a->strings || v->str > a->strings + len))
            __builtin_trap();
        if (d->type == TENON_ARG_BOOL && v->i != 0 && v->i != 1)
            __builtin_trap();
        if ((d->has_min && v->i < d->min) || (d->has_max && v->i > d->max))
            __builtin_trap();
        if (d->type == TENON_ARG_ENUM &&
            (v->i < 0 || (uint64_t)v->i >= count_choices(d->choices)))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tenon__args a;
    char *s;

    if (size == 0)
        return 0;
    const struct tenon_arg_decl *decls = sets[data[0] % 3].decls;
    size_t n = sets[data[0] % 3].n;

    if (!(s = malloc(size)))
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    tenon__fail(TENON_OK, "%s", ""); /* so a failure must leave a message */
    if (tenon__args_parse(s, decls, n, "fuzz", &a) != 0) {
        if (tenon_last_error()[0] == '\0')
            __builtin_trap();
    } else {
        check(&a, decls, n, s);
        tenon__args_free(&a);
    }
    free(s);
    return 0;
}
