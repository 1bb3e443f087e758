/*
 * Static info: the "key=value\0" strings of a plugin's .note.tenon note,
 * parsed and checked against the contract in docs/abi.md. The bytes come from
 * an untrusted file, so every rule failure becomes a reason naming the key,
 * the value and what was expected.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD(...) tenon__reason(reason, reason_len, TENON_EINVAL, __VA_ARGS__)

static int lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9][a-z0-9_-]* */
int tenon__valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 64 || !lower_alnum(s[0]))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* namespace.name/major: [a-z][a-z0-9_-]* "." [a-z0-9][a-z0-9_.-]* "/" digits */
int tenon__valid_interface_id(const char *s)
{
    const char *p = s;
    if (!(*p >= 'a' && *p <= 'z'))
        return 0;
    while (lower_alnum(*p) || *p == '_' || *p == '-')
        p++;
    if (*p++ != '.' || !lower_alnum(*p))
        return 0;
    while (lower_alnum(*p) || *p == '_' || *p == '-' || *p == '.')
        p++;
    if (p[-1] == '.' || *p++ != '/' || !(*p >= '0' && *p <= '9'))
        return 0;
    if (*p == '0' && p[1] != '\0')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '\0' && p - s <= 128;
}

static int valid_key(const char *k, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!lower_alnum(k[i]) && k[i] != '_' && k[i] != '-' && k[i] != '.')
            return 0;
    return 1;
}

/* UTF-8 without control characters except tab and newline, so every value
 * can be printed to a terminal and written to JSON as it is. */
static int valid_text(const char *s)
{
    uint32_t cp;
    for (size_t n; *s; s += n)
        if (!(n = tenon__utf8_next(s, &cp)) ||
            (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f)
            return 0;
    return 1;
}

/* Argument names: [a-z_][a-z0-9_]* so they read well in "key=value". */
static int valid_arg_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!lower_alnum(*s) && *s != '_')
            return 0;
    return 1;
}

const char *tenon__info_get(const struct tenon__info *info, const char *key)
{
    for (size_t i = 0; i < info->nkv; i++)
        if (strcmp(info->kv[i].key, key) == 0)
            return info->kv[i].value;
    return NULL;
}

void tenon__info_free(struct tenon__info *info)
{
    free(info->mem);
    memset(info, 0, sizeof *info);
}

static int classify(const char *k, size_t len);

/* Split the buffer into key/value pairs in place (the '=' becomes NUL). */
static int split(struct tenon__info *info, char *reason, size_t reason_len)
{
    size_t i = 0;
    for (char *p = info->buf; p < info->buf + info->size;) {
        size_t len = strlen(p); /* bounded: the buffer ends with NUL */
        char *eq = strchr(p, '=');
        if (len == 0) { /* padding between concatenated literals */
            p++;
            continue;
        }
        i++;
        if (!eq || !valid_key(p, (size_t)(eq - p)))
            return BAD("info string %zu (\"%.40s\") is not key=value with a "
                       "key of [a-z0-9._-]",
                       i, p);
        if (!valid_text(eq + 1))
            return BAD("value of info key '%.*s' is not UTF-8 text (control "
                       "characters other than tab and newline, or invalid "
                       "UTF-8)",
                       (int)(eq - p), p);
        *eq = '\0';
        info->kv[info->nkv].key = p;
        info->kv[info->nkv].value = eq + 1;
        info->kv[info->nkv].kind = classify(p, (size_t)(eq - p));
        info->nkv++;
        p += len + 1;
    }
    return 0;
}

static int parse_type(const char *s)
{
    static const char *const names[] = {"string", "int", "bool", "enum"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Does `choice` appear in the '|'-separated list? Returns its index or -1. */
static int choice_index(const char *choices, const char *choice)
{
    size_t len = strlen(choice);
    int idx = 0;
    for (const char *p = choices;; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, choice, n) == 0)
            return idx;
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

int tenon__arg_convert(const struct tenon_arg_decl *d, const char *text,
                       int64_t *out, char *why, size_t why_len)
{
    switch (d->type) {
    case TENON_ARG_STRING: *out = 0; return 0;
    case TENON_ARG_BOOL: {
        static const char *const yes[] = {"y", "yes", "true", "1"};
        static const char *const no[] = {"n", "no", "false", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(text, yes[i]) == 0)
                return (void)(*out = 1), 0;
            if (strcmp(text, no[i]) == 0)
                return (void)(*out = 0), 0;
        }
        return tenon__reason(
            why, why_len, TENON_EARG,
            "expected bool (y, yes, true, 1, n, no, false, 0), got "
            "'%s'",
            text);
    }
    case TENON_ARG_ENUM: {
        int i = choice_index(d->choices ? d->choices : "", text);
        if (i < 0)
            return tenon__reason(why, why_len, TENON_EARG,
                                 "expected one of %s, got '%s'", d->choices,
                                 text);
        *out = i;
        return 0;
    }
    case TENON_ARG_INT: {
        const char *p = text;
        int neg = 0, base = 10;
        uint64_t v = 0, limit, mult = 1;
        if (*p == '-' || *p == '+')
            neg = *p++ == '-';
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
            base = 16, p += 2;
        const char *digits = p;
        for (;; p++) {
            int dv;
            if (*p >= '0' && *p <= '9')
                dv = *p - '0';
            else if (base == 16 && *p >= 'a' && *p <= 'f')
                dv = *p - 'a' + 10;
            else if (base == 16 && *p >= 'A' && *p <= 'F')
                dv = *p - 'A' + 10;
            else
                break;
            if (v > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base)
                goto range;
            v = v * (uint64_t)base + (uint64_t)dv;
        }
        if (p == digits)
            goto bad;
        switch (*p) {
        case 'k':
        case 'K': mult = 1ull << 10, p++; break;
        case 'm':
        case 'M': mult = 1ull << 20, p++; break;
        case 'g':
        case 'G': mult = 1ull << 30, p++; break;
        default: break;
        }
        if (*p != '\0')
            goto bad;
        if (v > UINT64_MAX / mult)
            goto range;
        v *= mult;
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (v > limit)
            goto range;
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
    bad:
        return tenon__reason(why, why_len, TENON_EARG,
                             "expected int (decimal or 0x hex, optional k/m/g "
                             "suffix), got '%s'",
                             text);
    range:
        return tenon__reason(why, why_len, TENON_ERANGE,
                             "int '%s' is out of range (a signed 64-bit value)",
                             text);
    }
    default:
        return tenon__reason(why, why_len, TENON_EARG,
                             "unknown argument type %d", d->type);
    }
}

/* Keys the host interprets. Classified once per key while splitting, so
 * the checks below compare small integers instead of strings. */
enum key_kind {
    K_OTHER,
    K_ABI,
    K_NAME,
    K_VERSION,
    K_DESCRIPTION,
    K_LICENSE,
    K_ACCEPTS,
    K_PROVIDES,
    K_RANK,
    K_PERMISSION,
    K_HOOK,
    K_ARG,
    K_ARG_TYPE,
    K_ARG_HELP,
    K_ARG_DEFAULT,
    K_ARG_CHOICES,
    K_ARG_REQUIRED,
    K_ARG_MIN,
    K_ARG_MAX,
    K_ARG_OTHER,
    K_COUNT
};

#define KEY(s)                                                                 \
    {                                                                          \
        s, sizeof s - 1                                                        \
    }
static const struct {
    const char *name;
    size_t len;
} key_names[K_COUNT] = {{NULL, 0},           KEY("abi"),
                        KEY("name"),         KEY("version"),
                        KEY("description"),  KEY("license"),
                        KEY("accepts"),      KEY("provides"),
                        KEY("rank"),         KEY("permission"),
                        KEY("hook"),         KEY("arg"),
                        KEY("arg.type"),     KEY("arg.help"),
                        KEY("arg.default"),  KEY("arg.choices"),
                        KEY("arg.required"), KEY("arg.min"),
                        KEY("arg.max"),      {NULL, 0}};
#undef KEY

/* Lengths first: most keys are told apart without comparing a byte. */
static int classify(const char *k, size_t len)
{
    for (int i = K_ABI; i < K_ARG_OTHER; i++)
        if (len == key_names[i].len && memcmp(k, key_names[i].name, len) == 0)
            return i;
    return len >= 4 && memcmp(k, "arg.", 4) == 0 ? K_ARG_OTHER : K_OTHER;
}

/* The texts of an argument's keys that are checked once the group is
 * complete, when its type is known. */
struct pending_arg {
    const char *type, *min, *max;
};

/* arg.min or arg.max of the int argument `d` into *v. */
static int parse_bound(const struct tenon_arg_decl *d, const char *key,
                       const char *text, int64_t *v, char *reason,
                       size_t reason_len)
{
    char why[160];
    if (d->type != TENON_ARG_INT)
        return BAD("argument '%s' has %s but is of type %s; only int "
                   "arguments take a range",
                   d->name, key, tenon_arg_type_name(d->type));
    if (tenon__arg_convert(d, text, v, why, sizeof why) != 0)
        return BAD("%s of argument '%s': %s", key, d->name, why);
    return 0;
}

/* Check the argument just completed by an arg= group. */
static int finish_arg(struct tenon_arg_decl *d, const struct pending_arg *pa,
                      char *reason, size_t reason_len)
{
    const char *type = pa->type;
    char why[160];
    int64_t dummy;
    int rc;
    if (!type)
        return BAD("argument '%s' has no arg.type", d->name);
    if ((d->type = parse_type(type)) < 0)
        return BAD("argument '%s' has type '%s'; expected string, int, bool "
                   "or enum",
                   d->name, type);
    if (d->type == TENON_ARG_ENUM && (!d->choices || !*d->choices))
        return BAD("enum argument '%s' has no arg.choices", d->name);
    if (d->required && d->default_value)
        return BAD("argument '%s' is required and has a default", d->name);
    if ((pa->min && (rc = parse_bound(d, "arg.min", pa->min, &d->min, reason,
                                      reason_len))) ||
        (pa->max && (rc = parse_bound(d, "arg.max", pa->max, &d->max, reason,
                                      reason_len))))
        return rc;
    d->has_min = pa->min != NULL;
    d->has_max = pa->max != NULL;
    if (d->has_min && d->has_max && d->min > d->max)
        return BAD("argument '%s' has arg.min %s above arg.max %s; expected "
                   "min <= max",
                   d->name, pa->min, pa->max);
    if (d->default_value &&
        (tenon__arg_convert(d, d->default_value, &dummy, why, sizeof why) ||
         tenon__arg_in_range(d, dummy, d->default_value, why, sizeof why)))
        return BAD("default of argument '%s': %s", d->name, why);
    return 0;
}

static int start_arg(struct tenon__info *info, const char *name, char *reason,
                     size_t reason_len)
{
    if (!valid_arg_name(name))
        return BAD("argument name '%s' is invalid; expected [a-z_][a-z0-9_]*",
                   name);
    for (size_t j = 0; j < info->nargs; j++)
        if (strcmp(info->args[j].name, name) == 0)
            return BAD("argument '%s' is declared twice", name);
    struct tenon_arg_decl *d = &info->args[info->nargs++];
    memset(d, 0, sizeof *d);
    d->name = name;
    d->help = "";
    return 0;
}

/* A decimal integer within the rank limits, optionally negative. */
static int parse_rank(const char *s, int *rank)
{
    int neg = *s == '-';
    long v = 0;
    s += neg;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > TENON__RANK_LIMIT)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v > TENON__RANK_LIMIT)
        return -1;
    *rank = (int)(neg ? -v : v);
    return 0;
}

/* One pass over the keys: singletons, interface ids and argument groups
 * (arg=NAME followed by its arg.* keys). */
static int interpret(struct tenon__info *info, const char **single,
                     char *reason, size_t reason_len)
{
    struct pending_arg pa = {NULL, NULL, NULL};
    int rc;
    for (size_t i = 0; i < info->nkv; i++) {
        int kind = info->kv[i].kind;
        const char *k = info->kv[i].key, *v = info->kv[i].value;
        struct tenon_arg_decl *d =
            info->nargs ? &info->args[info->nargs - 1] : NULL;
        if (kind >= K_ARG_TYPE && kind <= K_ARG_OTHER && !d)
            return BAD("'%s' comes before any arg= key", k);
        switch (kind) {
        case K_ABI:
        case K_NAME:
        case K_VERSION:
        case K_DESCRIPTION:
        case K_LICENSE:
        case K_ACCEPTS:
        case K_PROVIDES:
            if (kind != K_PROVIDES && single[kind])
                return BAD("key '%s' appears more than once; expected once", k);
            single[kind] = v;
            /* `tenon info` shows it on its label's line */
            if (kind == K_DESCRIPTION && strchr(v, '\n'))
                return BAD("description has a line break; expected one line "
                           "(longer text belongs in help)");
            if ((kind == K_PROVIDES || kind == K_ACCEPTS) &&
                !tenon__valid_interface_id(v))
                return BAD("%s '%s' is not an interface id; expected "
                           "namespace.name/major (e.g. tenon.osi/1)",
                           k, v);
            if (kind == K_PROVIDES)
                info->provides[info->nprovides++] = v;
            break;
        case K_RANK:
            if (single[kind])
                return BAD("key 'rank' appears more than once; expected once");
            single[kind] = v;
            if (parse_rank(v, &info->rank))
                return BAD("rank '%s' is not an integer from %d to %d", v,
                           -TENON__RANK_LIMIT, TENON__RANK_LIMIT);
            break;
        case K_PERMISSION: {
            int b = tenon__perm_lookup(v, strlen(v));
            if (strcmp(v, "none") == 0) { /* asks for nothing at all */
                info->perms_declared = 1;
                break;
            }
            if (b < 0)
                return BAD("permission '%s' is not one this host knows; "
                           "expected log, callback, event, op, buffer.read, "
                           "buffer.write, timer, file, table, network or "
                           "none",
                           v);
            info->perms |= 1u << b;
            info->perms_declared = 1;
            break;
        }
        case K_HOOK: {
            char op[128], why[TENON__REASON_MAX];
            int hk;
            unsigned hf;
            if (tenon__hook_spec_parse(v, &hk, op, sizeof op, &hf, why,
                                       sizeof why))
                return BAD("%s", why);
            info->perms |= 1u << TENON__P_OP;
            info->nhooks++;
            break;
        }
        case K_ARG:
            if ((d && (rc = finish_arg(d, &pa, reason, reason_len))) ||
                (rc = start_arg(info, v, reason, reason_len)))
                return rc;
            pa = (struct pending_arg){NULL, NULL, NULL};
            break;
        case K_ARG_TYPE: pa.type = v; break;
        case K_ARG_MIN: pa.min = v; break;
        case K_ARG_MAX: pa.max = v; break;
        case K_ARG_HELP: d->help = v; break;
        case K_ARG_DEFAULT: d->default_value = v; break;
        case K_ARG_CHOICES: d->choices = v; break;
        case K_ARG_REQUIRED: d->required = strcmp(v, "yes") == 0; break;
        default: break; /* keys from a newer SDK are ignored */
        }
    }
    if (info->nargs)
        return finish_arg(&info->args[info->nargs - 1], &pa, reason,
                          reason_len);
    return 0;
}

static int parse_abi(const char *s, int *abi)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *abi = (int)v;
    return 0;
}

/* How many strings start with `prefix` (arg=, provides=). */
static int starts(const char *s, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && memcmp(s, prefix, plen) == 0;
}

int tenon__info_parse(const char *src, size_t size, struct tenon__info *out,
                      char *reason, size_t reason_len)
{
    const char *single[K_COUNT] = {NULL};
    size_t nkv = 0, nargs = 0, nprov = 0;
    char *mem;
    int rc;

    memset(out, 0, sizeof *out);
    out->size = size;
    out->abi = -1;
    if (size == 0 || src[size - 1] != '\0')
        return BAD("static info is not NUL-terminated");
    /* One block, sized exactly: the raw bytes, the copy split in place and
     * the arrays. This runs for every plugin file on every scan. */
    for (const char *p = src; p < src + size;) {
        size_t len = strlen(p); /* bounded: the buffer ends with NUL */
        nkv += len != 0;
        nargs += starts(p, len, "arg=", 4);
        nprov += starts(p, len, "provides=", 9);
        p += len + 1;
    }
    mem = malloc(nkv * sizeof *out->kv + nargs * sizeof *out->args +
                 nprov * sizeof *out->provides + 2 * size);
    if (!mem)
        return tenon__reason(reason, reason_len, TENON_ENOMEM, "out of memory");
    out->mem = mem;
    out->kv = (struct tenon__kv *)(void *)mem;
    out->args = (struct tenon_arg_decl *)(void *)(out->kv + nkv);
    out->provides = (const char **)(void *)(out->args + nargs);
    out->raw = (char *)(out->provides + nprov);
    out->buf = out->raw + size;
    memcpy(out->raw, src, size);
    memcpy(out->buf, src, size);
    if ((rc = split(out, reason, reason_len)))
        return rc;
    rc = interpret(out, single, reason, reason_len);
    /* name and version are kept even when a later rule fails, so the
     * inventory can say which plugin a bad file claims to be */
    out->name = single[K_NAME];
    out->version = single[K_VERSION];
    out->accepts = single[K_ACCEPTS];
    if (rc)
        return rc;
    if (!single[K_ABI])
        return BAD("static info has no 'abi' key; expected abi=%d",
                   TENON_ABI_VERSION);
    if (parse_abi(single[K_ABI], &out->abi) != 0)
        return BAD("abi '%s' is not a non-negative integer", single[K_ABI]);
    if (!out->name)
        return BAD("static info has no 'name' key; expected name=<plugin "
                   "name>");
    if (!tenon__valid_name(out->name, strlen(out->name)))
        return BAD("name '%s' is invalid; expected [a-z0-9][a-z0-9_-]* (at "
                   "most 64 characters)",
                   out->name);
    if (!out->version)
        return BAD("static info has no 'version' key; expected "
                   "version=<semver>");
    if (tenon__semver_parse(out->version, &out->semver) != 0)
        return BAD("version '%s' is not a semantic version; expected "
                   "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]",
                   out->version);
    if (out->abi != TENON_ABI_VERSION)
        return tenon__reason(reason, reason_len, TENON_EABI,
                             "plugin ABI %d; this host supports ABI %d",
                             out->abi, TENON_ABI_VERSION);
    return 0;
}
