/*
 * Plugin argument strings, in memflow's syntax:
 *
 *     default_value,key=value,key2="quoted,value",key3='single quoted'
 *
 * Items are separated by commas outside quotes. An item without '=' is the
 * bare value and goes to the plugin's first declared argument. Inside double
 * quotes a backslash escapes '"' and '\'. Values are checked against the
 * declarations (type, choices, range, required) before any plugin code runs,
 * and every error names the argument and what was expected.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char empty[] = "";

void tenon__args_free(struct tenon__args *a)
{
    free(a->values);
    free(a->strings);
    memset(a, 0, sizeof *a);
}

static int find_decl(const struct tenon_arg_decl *decls, size_t n,
                     const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(decls[i].name) == len &&
            memcmp(decls[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void list_names(const struct tenon_arg_decl *decls, size_t n, char *buf,
                       size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 decls[i].name);
}

/* Copy one value from *pp up to an unquoted ',' (or the end) into *out,
 * removing quotes; *key_len gets the length of the key when an unquoted '='
 * comes first, else stays 0. */
static int scan_item(const char **pp, char **out, size_t *key_end,
                     const char *start)
{
    const char *p = *pp, *opened = p;
    char *o = *out;
    char quote = 0;
    *key_end = 0;
    for (; *p && (quote || *p != ','); p++) {
        if (quote) {
            if (*p == quote) {
                quote = 0;
                continue;
            }
            if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            *o++ = *p;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
            opened = p;
        } else {
            if (*p == '=' && !*key_end)
                *key_end = (size_t)(o - *out) + 1; /* +1: 0 means none */
            *o++ = *p;
        }
    }
    if (quote)
        return tenon__fail(TENON_EARG,
                           "unterminated %c quote opened at offset %zu of "
                           "argument string '%s'",
                           quote, (size_t)(opened - start), start);
    *o++ = '\0';
    *pp = p;
    *out = o;
    return 0;
}

int tenon__arg_in_range(const struct tenon_arg_decl *d, int64_t v,
                        const char *text, char *why, size_t why_len)
{
    if (d->type != TENON_ARG_INT ||
        !((d->has_min && v < d->min) || (d->has_max && v > d->max)))
        return 0;
    if (d->has_min && d->has_max)
        return tenon__reason(why, why_len, TENON_ERANGE,
                             "expected an int from %lld to %lld, got '%s'",
                             (long long)d->min, (long long)d->max, text);
    return tenon__reason(why, why_len, TENON_ERANGE,
                         "expected an int of at %s %lld, got '%s'",
                         d->has_min ? "least" : "most",
                         (long long)(d->has_min ? d->min : d->max), text);
}

static int set_value(struct tenon_arg_value *v, const struct tenon_arg_decl *d,
                     const char *text, const char *plugin)
{
    char why[200];
    int rc = tenon__arg_convert(d, text, &v->i, why, sizeof why);
    if (!rc)
        rc = tenon__arg_in_range(d, v->i, text, why, sizeof why);
    if (rc)
        return tenon__fail(rc, "plugin '%s', argument '%s': %s", plugin,
                           d->name, why);
    v->str = text;
    v->set = 1;
    return 0;
}

static int parse_items(const char *s, const struct tenon_arg_decl *decls,
                       size_t n, const char *plugin, struct tenon__args *out)
{
    char *o = out->strings;
    const char *p = s;
    int bare_seen = 0;
    char names[512];

    for (;;) {
        char *item = o;
        size_t key_end;
        int rc, idx;
        const char *value;

        if (*p == ',' || *p == '\0')
            return tenon__fail(TENON_EARG,
                               "empty item at offset %zu of argument string "
                               "'%s'; expected key=value",
                               (size_t)(p - s), s);
        if ((rc = scan_item(&p, &o, &key_end, s)))
            return rc;
        if (key_end) {
            size_t klen = key_end - 1;
            if (klen == 0)
                return tenon__fail(TENON_EARG,
                                   "empty argument name in '%s'; expected "
                                   "key=value",
                                   item);
            idx = find_decl(decls, n, item, klen);
            if (idx < 0) {
                list_names(decls, n, names, sizeof names);
                return tenon__fail(
                    TENON_EARG, "plugin '%s' has no argument '%.*s'; %s%s",
                    plugin, (int)klen, item,
                    n ? "it takes: " : "it takes no arguments", names);
            }
            item[klen] = '\0';
            value = item + klen + 1;
        } else {
            if (n == 0)
                return tenon__fail(TENON_EARG,
                                   "plugin '%s' takes no arguments, got '%s'",
                                   plugin, item);
            if (bare_seen++)
                return tenon__fail(TENON_EARG,
                                   "more than one value without a key ('%s'); "
                                   "only the first argument ('%s') takes one",
                                   item, decls[0].name);
            idx = 0;
            value = item;
        }
        if (out->values[idx].set)
            return tenon__fail(TENON_EARG,
                               "plugin '%s', argument '%s' is given twice",
                               plugin, decls[idx].name);
        if ((rc = set_value(&out->values[idx], &decls[idx], value, plugin)))
            return rc;
        if (*p == ',')
            p++;
        else
            break;
    }
    return 0;
}

int tenon__args_parse(const char *s, const struct tenon_arg_decl *decls,
                      size_t n, const char *plugin, struct tenon__args *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->values = calloc(n ? n : 1, sizeof *out->values);
    out->strings = malloc(s ? strlen(s) + 1 : 1);
    if (!out->values || !out->strings) {
        tenon__args_free(out);
        return tenon__fail(TENON_ENOMEM, "out of memory parsing arguments");
    }
    for (size_t i = 0; i < n; i++) {
        out->values[i].name = decls[i].name;
        out->values[i].type = decls[i].type;
        out->values[i].str = empty;
    }
    if (s && *s)
        rc = parse_items(s, decls, n, plugin, out);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct tenon_arg_decl *d = &decls[i];
        if (out->values[i].set)
            continue;
        if (d->required)
            rc = tenon__fail(
                TENON_EARG, "plugin '%s' needs argument '%s' (%s%s%s): %s",
                plugin, d->name, tenon_arg_type_name(d->type),
                d->choices ? ": " : "", d->choices ? d->choices : "", d->help);
        else if (d->default_value)
            rc = set_value(&out->values[i], d, d->default_value, plugin);
    }
    if (rc) {
        tenon__args_free(out);
        return rc;
    }
    out->pub.count = n;
    out->pub.values = out->values;
    return 0;
}

const char *tenon_arg_type_name(int type)
{
    switch (type) {
    case TENON_ARG_STRING: return "string";
    case TENON_ARG_INT: return "int";
    case TENON_ARG_BOOL: return "bool";
    case TENON_ARG_ENUM: return "enum";
    default: return "unknown";
    }
}
