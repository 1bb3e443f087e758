/*
 * Plugin configs: a JSON Schema validator over jansson for the keywords
 * docs/events.md lists, which also fills in the schema's defaults.
 *
 * Both texts are hostile: the config comes from a user, the schema from a
 * plugin author. So the schema is checked whole first (every keyword we
 * know of the right type, nested at most SCHEMA_DEPTH deep, every default
 * passing its own schema), and validation then trusts its shape; its
 * recursion follows the schema, so it is bounded by the same depth. What
 * defaults can multiply (a default array whose items get defaults of their
 * own...) is bounded by a budget of values.
 */
#include "internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_DEPTH 64
#define SHOW_MAX     48 /* bytes of a value quoted in a message */
#define ENUM_SHOW    8  /* values of an enum listed in a message */
#define EQUAL_DEPTH  4096

size_t tenon__config_max_values = 4u << 20;

/* Type bits, in the order of the names below. */
enum {
    T_OBJECT = 1,
    T_ARRAY = 2,
    T_STRING = 4,
    T_INTEGER = 8,
    T_NUMBER = 16,
    T_BOOLEAN = 32,
    T_NULL = 64
};
static const char *const type_names[] = {
    "object", "array", "string", "integer", "number", "boolean", "null"};
static const char *const type_phrases[] = {
    "an object", "an array",  "a string", "an integer",
    "a number",  "a boolean", "null"};
#define NTYPES (sizeof type_names / sizeof *type_names)

/* A JSON Pointer (RFC 6901) being built: pushed on the way down, cut back
 * to an earlier length on the way up. */
struct path {
    char *s;
    size_t len, cap;
};

static int path_add(struct path *p, const char *s, size_t n)
{
    if (tenon__grow(&p->s, &p->cap, p->len + n + 1, 1))
        return TENON_ENOMEM;
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
    return 0;
}

/* Append "/key" with '~' and '/' escaped as ~0 and ~1. */
static int path_push(struct path *p, const char *key)
{
    int rc = path_add(p, "/", 1);
    for (const char *k = key; !rc && *k; k++)
        rc = *k == '~'   ? path_add(p, "~0", 2)
             : *k == '/' ? path_add(p, "~1", 2)
                         : path_add(p, k, 1);
    return rc;
}

static int path_push_index(struct path *p, size_t i)
{
    char buf[32];
    return path_add(p, buf, (size_t)snprintf(buf, sizeof buf, "/%zu", i));
}

static void path_cut(struct path *p, size_t len)
{
    p->len = len;
    if (p->s)
        p->s[len] = '\0';
}

/* The path as messages show it: the root, "", is quoted so it can be
 * seen; a long one (hostile keys) loses its start, so that what was
 * expected still fits in the message. */
#define PATH_SHOW 200
static const char *path_show(const struct path *p)
{
    static _Thread_local char buf[PATH_SHOW + 4];
    size_t from;
    if (!p->len)
        return "\"\"";
    if (p->len <= PATH_SHOW)
        return p->s;
    from = p->len - PATH_SHOW;
    /* from a step's start if there is one, else a character's */
    if (strchr(p->s + from, '/'))
        from = (size_t)(strchr(p->s + from, '/') - p->s);
    while (((unsigned char)p->s[from] & 0xc0) == 0x80)
        from++;
    snprintf(buf, sizeof buf, "...%s", p->s + from);
    return buf;
}

/* A value as a message quotes it: containers by kind, scalars as JSON,
 * cut at SHOW_MAX bytes (on a character boundary). */
static void show(const json_t *v, char *out, size_t len)
{
    char *text;
    if (json_is_object(v) || json_is_array(v)) {
        snprintf(out, len, "%s", json_is_object(v) ? "an object" : "an array");
        return;
    }
    if (!(text = json_dumps(v, JSON_ENCODE_ANY))) {
        snprintf(out, len, "a value");
        return;
    }
    size_t n = strlen(text);
    if (n > SHOW_MAX) {
        n = SHOW_MAX;
        while (n && ((unsigned char)text[n] & 0xc0) == 0x80)
            n--;
        snprintf(out, len, "%.*s...", (int)n, text);
    } else {
        snprintf(out, len, "%s", text);
    }
    free(text);
}

/* ---- numbers and equality ------------------------------------------------ */

/* Is `v` an integer as JSON Schema counts them (5.0 is one), and one a
 * plugin can read as int64_t? */
static int is_integral(const json_t *v, json_int_t *out)
{
    double d;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (!json_is_real(v))
        return 0;
    d = json_real_value(v);
    /* -2^63 is exact as a double, 2^63 is the first value past the range */
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return 0;
    *out = (json_int_t)d;
    return (double)*out == d;
}

static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    /* An integer against a real, exactly: a double holds 53 bits, so
     * 9007199254740993 and 9007199254740992.0 would compare equal as
     * doubles; a long double holds every int64 and every double. */
    long double x = json_is_integer(a) ? (long double)json_integer_value(a)
                                       : (long double)json_real_value(a);
    long double y = json_is_integer(b) ? (long double)json_integer_value(b)
                                       : (long double)json_real_value(b);
    return (x > y) - (x < y);
}

/* JSON Schema's equality: numbers by value (1 equals 1.0), objects
 * without regard to key order. */
static int equal(const json_t *a, const json_t *b, int depth)
{
    const char *key;
    json_t *v;
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b) || depth > EQUAL_DEPTH)
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach((json_t *)a, key, v)
        {
            json_t *w = json_object_get(b, key);
            if (!w || !equal(v, w, depth + 1))
                return 0;
        }
        return 1;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return 0;
        return 1;
    case JSON_STRING: return json_equal(a, b);
    default: return 1; /* true, false, null */
    }
}

/* Values in `v`, counting at most up to `limit`. */
static size_t count_values(const json_t *v, size_t limit)
{
    size_t n = 1;
    const char *key;
    json_t *x;
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v) && n < limit; i++)
            n += count_values(json_array_get(v, i), limit - n);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, key, x)
        {
            if (n >= limit)
                break;
            n += count_values(x, limit - n);
        }
    return n;
}

/* ---- checking the schema ------------------------------------------------- */

/* The bits of a valid "type" value; 0 when it is not one. */
static unsigned type_mask(const json_t *t)
{
    unsigned mask = 0;
    if (json_is_string(t)) {
        for (size_t i = 0; i < NTYPES; i++)
            if (strcmp(json_string_value(t), type_names[i]) == 0)
                return 1u << i;
        return 0;
    }
    if (!json_is_array(t) || json_array_size(t) == 0)
        return 0;
    for (size_t i = 0; i < json_array_size(t); i++) {
        unsigned b = type_mask(json_array_get(t, i));
        if (!b || !json_is_string(json_array_get(t, i)) || (mask & b))
            return 0; /* not a name, or one named twice */
        mask |= b;
    }
    return mask;
}

/* The validator's state; also used by the schema check for defaults. */
struct vc {
    struct path path;
    char why[768];
    size_t values; /* budget spent */
    size_t cap;    /* the budget */
    int over;      /* it ran out */
};

static int validate(struct vc *c, const json_t *s, json_t **inst);

/* The schema check's state: the path in the schema. */
struct sc {
    struct path path;
    char why[768];
    size_t values; /* the budget the defaults' validation spent */
    size_t cap;
    int over;
};

/* "at PATH: MESSAGE" into why: the form of every validation error. */
static int bad_at(char *why, size_t len, const struct path *path,
                  const char *fmt, va_list ap) TENON_PRINTF(4, 0);
static int bad_at(char *why, size_t len, const struct path *path,
                  const char *fmt, va_list ap)
{
    char msg[640];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (snprintf(why, len, "at %s: %s", path_show(path), msg) >= (int)len)
        why[len - 1] = '\0'; /* cut, as every message here may be */
    return TENON_EINVAL;
}

static int sc_bad(struct sc *c, const char *fmt, ...) TENON_PRINTF(2, 3);
static int sc_bad(struct sc *c, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = bad_at(c->why, sizeof c->why, &c->path, fmt, ap);
    va_end(ap);
    return rc;
}

static int schema_check(struct sc *c, const json_t *s, int depth);

/* A keyword's value of the wrong type. */
static int sc_expected(struct sc *c, const char *what, const json_t *got)
{
    char g[SHOW_MAX + 8];
    show(got, g, sizeof g);
    return sc_bad(c, "expected %s, got %s", what, g);
}

/* The subschema under the keyword just pushed (and key `key` in it,
 * unless NULL). */
static int sc_sub(struct sc *c, const char *key, const json_t *s, int depth)
{
    size_t len = c->path.len;
    int rc = key ? path_push(&c->path, key) : 0;
    if (rc)
        return rc;
    rc = schema_check(c, s, depth + 1);
    if (!rc)
        path_cut(&c->path, len);
    return rc;
}

/* One keyword of a schema object; unknown ones are ignored, as JSON
 * Schema says. */
static int sc_keyword(struct sc *c, const char *kw, const json_t *v, int depth)
{
    static const char *const numbers[] = {
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
    static const char *const counts[] = {"minLength", "maxLength", "minItems",
                                         "maxItems"};
    const char *key;
    json_t *x;

    if (strcmp(kw, "type") == 0)
        return type_mask(v) ? 0
                            : sc_expected(c,
                                          "a type name (object, array, string, "
                                          "integer, number, boolean, null) or "
                                          "an array of distinct ones",
                                          v);
    if (strcmp(kw, "properties") == 0) {
        if (!json_is_object(v))
            return sc_expected(c, "an object of schemas", v);
        json_object_foreach((json_t *)v, key, x)
        {
            int rc = sc_sub(c, key, x, depth);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (strcmp(kw, "items") == 0 || strcmp(kw, "additionalProperties") == 0)
        return sc_sub(c, NULL, v, depth);
    if (strcmp(kw, "required") == 0) {
        if (!json_is_array(v))
            return sc_expected(c, "an array of property names", v);
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                return sc_expected(c, "an array of property names", v);
        return 0;
    }
    if (strcmp(kw, "enum") == 0)
        return json_is_array(v) && json_array_size(v)
                   ? 0
                   : sc_expected(c, "a non-empty array", v);
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        if (strcmp(kw, numbers[i]) == 0)
            return json_is_number(v) ? 0 : sc_expected(c, "a number", v);
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        if (strcmp(kw, counts[i]) == 0)
            return json_is_integer(v) && json_integer_value(v) >= 0
                       ? 0
                       : sc_expected(c, "an integer >= 0", v);
    return 0;
}

/* A default must pass the schema it is the default of: else every config
 * that leaves the value out would fail, blaming the user. */
static int sc_default(struct sc *c, const json_t *s, const json_t *def)
{
    struct vc v = {{NULL, 0, 0}, "", c->values, c->cap, 0};
    json_t *copy = json_deep_copy(def);
    int rc;
    if (!copy)
        return TENON_ENOMEM;
    rc = validate(&v, s, &copy);
    c->values = v.values;
    c->over = v.over;
    if (rc == TENON_EINVAL)
        sc_bad(c, "its default does not pass it: %s", v.why);
    json_decref(copy);
    free(v.path.s);
    return rc;
}

static int schema_check(struct sc *c, const json_t *s, int depth)
{
    const char *kw;
    json_t *v;

    if (json_is_boolean(s))
        return 0;
    if (!json_is_object(s))
        return sc_expected(c, "a schema (an object or a boolean)", s);
    if (depth >= SCHEMA_DEPTH)
        return sc_bad(c, "schemas nested more than %d deep", SCHEMA_DEPTH);
    json_object_foreach((json_t *)s, kw, v)
    {
        size_t len = c->path.len;
        int rc = path_push(&c->path, kw);
        if (rc || (rc = sc_keyword(c, kw, v, depth)))
            return rc;
        path_cut(&c->path, len);
    }
    if ((v = json_object_get(s, "default")))
        return sc_default(c, s, v);
    return 0;
}

/* ---- validating a config ------------------------------------------------- */

static int vc_bad(struct vc *c, const char *fmt, ...) TENON_PRINTF(2, 3);
static int vc_bad(struct vc *c, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = bad_at(c->why, sizeof c->why, &c->path, fmt, ap);
    va_end(ap);
    return rc;
}

static int spend(struct vc *c, size_t n)
{
    c->values += n;
    if (c->values <= c->cap)
        return 0;
    c->over = 1;
    snprintf(c->why, sizeof c->why,
             "the config with its defaults filled in has more than %zu "
             "values",
             c->cap);
    return TENON_EINVAL;
}

/* "an integer", "a string or null" */
static void type_phrase(unsigned mask, char *out, size_t len)
{
    size_t n = 0, k = 0, total = (size_t)__builtin_popcount(mask);
    out[0] = '\0';
    for (size_t i = 0; i < NTYPES; i++) {
        if (!(mask & (1u << i)))
            continue;
        k++;
        n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
                              k == 1       ? ""
                              : k == total ? " or "
                                           : ", ",
                              type_phrases[i]);
        if (n >= len)
            return;
    }
}

/* The "type" keyword; an integral real where only integers are allowed
 * becomes an integer, so the plugin can read it as one. */
static int check_type(struct vc *c, unsigned mask, json_t **inst)
{
    json_t *v = *inst;
    json_int_t i;
    char want[128], got[SHOW_MAX + 8];
    unsigned have = json_is_object(v)    ? T_OBJECT
                    : json_is_array(v)   ? T_ARRAY
                    : json_is_string(v)  ? T_STRING
                    : json_is_integer(v) ? T_INTEGER | T_NUMBER
                    : json_is_real(v)    ? T_NUMBER
                    : json_is_boolean(v) ? T_BOOLEAN
                                         : T_NULL;
    if (have & mask)
        return 0;
    if ((mask & T_INTEGER) && is_integral(v, &i)) {
        json_t *n = json_integer(i);
        if (!n)
            return TENON_ENOMEM;
        json_decref(v);
        *inst = n;
        return 0;
    }
    type_phrase(mask, want, sizeof want);
    show(v, got, sizeof got);
    return vc_bad(c, "expected %s, got %s", want, got);
}

static int check_enum(struct vc *c, const json_t *list, const json_t *v)
{
    char want[512], got[SHOW_MAX + 8], one[SHOW_MAX + 8];
    size_t n = 0, count = json_array_size(list);
    for (size_t i = 0; i < count; i++)
        if (equal(json_array_get(list, i), v, 0))
            return 0;
    want[0] = '\0';
    for (size_t i = 0; i < count && i < ENUM_SHOW && n < sizeof want; i++) {
        show(json_array_get(list, i), one, sizeof one);
        n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", i ? ", " : "",
                              one);
    }
    show(v, got, sizeof got);
    return vc_bad(c, "expected %s%s%s, got %s", count > 1 ? "one of " : "",
                  want, count > ENUM_SHOW ? ", ..." : "", got);
}

/* minimum, maximum, exclusiveMinimum, exclusiveMaximum. */
static int check_bounds(struct vc *c, const json_t *s, const json_t *v)
{
    static const struct {
        const char *kw, *op;
        int fails_when; /* the comparison of value with bound */
        int or_equal;
    } b[] = {{"minimum", ">=", -1, 0},
             {"maximum", "<=", 1, 0},
             {"exclusiveMinimum", ">", -1, 1},
             {"exclusiveMaximum", "<", 1, 1}};
    const json_t *t = json_object_get(s, "type");
    const char *what =
        t && type_mask(t) == T_INTEGER ? "an integer" : "a number";
    char bound[SHOW_MAX + 8], got[SHOW_MAX + 8];

    for (size_t i = 0; i < sizeof b / sizeof *b; i++) {
        const json_t *lim = json_object_get(s, b[i].kw);
        int cmp;
        if (!lim)
            continue;
        cmp = num_cmp(v, lim);
        if (cmp == b[i].fails_when || (b[i].or_equal && cmp == 0)) {
            show(lim, bound, sizeof bound);
            show(v, got, sizeof got);
            return vc_bad(c, "expected %s %s %s, got %s", what, b[i].op, bound,
                          got);
        }
    }
    return 0;
}

static int check_length(struct vc *c, const json_t *s, const json_t *v)
{
    const json_t *min = json_object_get(s, "minLength"),
                 *max = json_object_get(s, "maxLength");
    const char *p = json_string_value(v);
    size_t n = 0, len = json_string_length(v);
    char got[SHOW_MAX + 8];

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)p[i] & 0xc0) != 0x80; /* characters, not bytes */
    show(v, got, sizeof got);
    if (min && n < (size_t)json_integer_value(min))
        return vc_bad(c,
                      "expected a string of at least %lld character%s, got "
                      "%s",
                      (long long)json_integer_value(min),
                      json_integer_value(min) == 1 ? "" : "s", got);
    if (max && n > (size_t)json_integer_value(max))
        return vc_bad(c,
                      "expected a string of at most %lld character%s, got "
                      "%s",
                      (long long)json_integer_value(max),
                      json_integer_value(max) == 1 ? "" : "s", got);
    return 0;
}

/* Validate child `*inst` against `s` one step down the path. */
static int validate_at(struct vc *c, const json_t *s, const char *key,
                       size_t index, json_t **inst)
{
    size_t len = c->path.len;
    int rc = key ? path_push(&c->path, key) : path_push_index(&c->path, index);
    if (!rc)
        rc = validate(c, s, inst);
    if (!rc)
        path_cut(&c->path, len);
    return rc;
}

static int check_array(struct vc *c, const json_t *s, json_t *arr)
{
    const json_t *items = json_object_get(s, "items"),
                 *min = json_object_get(s, "minItems"),
                 *max = json_object_get(s, "maxItems");
    size_t n = json_array_size(arr);

    if (min && n < (size_t)json_integer_value(min))
        return vc_bad(c, "expected an array of at least %lld item%s, got %zu",
                      (long long)json_integer_value(min),
                      json_integer_value(min) == 1 ? "" : "s", n);
    if (max && n > (size_t)json_integer_value(max))
        return vc_bad(c, "expected an array of at most %lld item%s, got %zu",
                      (long long)json_integer_value(max),
                      json_integer_value(max) == 1 ? "" : "s", n);
    for (size_t i = 0; items && i < n; i++) {
        json_t *item = json_incref(json_array_get(arr, i));
        int rc = validate_at(c, items, NULL, i, &item);
        if (rc) {
            json_decref(item);
            return rc;
        }
        if (json_array_set_new(arr, i, item))
            return TENON_ENOMEM;
    }
    return 0;
}

/* The properties `props` allows, for the message about one it does not. */
static int unknown_property(struct vc *c, const json_t *props)
{
    char list[400], k[SHOW_MAX + 8];
    size_t n = 0, i = 0;
    const char *name;
    json_t *x, *str;

    list[0] = '\0';
    json_object_foreach((json_t *)props, name, x)
    {
        if (i == ENUM_SHOW || n >= sizeof list) {
            snprintf(list + n, n < sizeof list ? sizeof list - n : 0, ", ...");
            break;
        }
        if (!(str = json_string(name)))
            return TENON_ENOMEM;
        show(str, k, sizeof k);
        json_decref(str);
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                              i++ ? ", " : "", k);
    }
    if (!i)
        return vc_bad(c, "unexpected property: expected no properties here");
    return vc_bad(c, "unexpected property: expected one of %s", list);
}

/* Fill in the defaults of absent properties, in schema order. */
static int fill_defaults(struct vc *c, const json_t *props, json_t *obj)
{
    const char *key;
    json_t *ps, *def;
    json_object_foreach((json_t *)props, key, ps)
    {
        int rc;
        if (json_object_get(obj, key) || !json_is_object(ps) ||
            !(def = json_object_get(ps, "default")))
            continue;
        if ((rc = spend(c, count_values(def, c->cap + 1))))
            return rc;
        if (json_object_set_new(obj, key, json_deep_copy(def)))
            return TENON_ENOMEM;
    }
    return 0;
}

/* Validate the members of `obj` into `out`: first those `props` names, in
 * its order, then the others in the config's order. */
static int check_members(struct vc *c, const json_t *s, json_t *obj,
                         json_t *out)
{
    const json_t *props = json_object_get(s, "properties"),
                 *extra = json_object_get(s, "additionalProperties");
    const char *key;
    json_t *v, *ps;
    int rc;

    json_object_foreach((json_t *)props, key, ps)
    {
        json_t *m = json_object_get(obj, key);
        if (!m)
            continue;
        json_incref(m);
        if ((rc = validate_at(c, ps, key, 0, &m))) {
            json_decref(m);
            return rc;
        }
        if (json_object_set_new(out, key, m)) /* which takes m either way */
            return TENON_ENOMEM;
    }
    json_object_foreach(obj, key, v)
    {
        if (props && json_object_get(props, key))
            continue;
        json_incref(v);
        if (extra && json_is_false(extra)) {
            json_decref(v);
            if ((rc = path_push(&c->path, key)))
                return rc;
            return unknown_property(c, props);
        }
        if (extra && (rc = validate_at(c, extra, key, 0, &v))) {
            json_decref(v);
            return rc;
        }
        if (json_object_set_new(out, key, v))
            return TENON_ENOMEM;
    }
    return 0;
}

static int check_object(struct vc *c, const json_t *s, json_t **inst)
{
    const json_t *props = json_object_get(s, "properties"),
                 *req = json_object_get(s, "required");
    json_t *obj = *inst, *out;
    int rc;

    if (props && (rc = fill_defaults(c, props, obj)))
        return rc;
    for (size_t i = 0; i < json_array_size(req); i++) {
        const char *name = json_string_value(json_array_get(req, i));
        if (!json_object_get(obj, name)) {
            char q[SHOW_MAX + 8];
            show(json_array_get(req, i), q, sizeof q);
            return vc_bad(c, "missing required property %s", q);
        }
    }
    if (!(out = json_object()))
        return TENON_ENOMEM;
    if ((rc = check_members(c, s, obj, out))) {
        json_decref(out);
        return rc;
    }
    json_decref(obj);
    *inst = out;
    return 0;
}

/* Validate *inst (a reference the caller owns, which may be replaced by
 * another) against the checked schema `s`. */
static int validate(struct vc *c, const json_t *s, json_t **inst)
{
    const json_t *kw;
    char got[SHOW_MAX + 8];
    int rc;

    if ((rc = spend(c, 1)))
        return rc;
    if (json_is_true(s))
        return 0;
    if (json_is_false(s)) {
        show(*inst, got, sizeof got);
        return vc_bad(c, "expected no value here, got %s", got);
    }
    if ((kw = json_object_get(s, "type")) &&
        (rc = check_type(c, type_mask(kw), inst)))
        return rc;
    if ((kw = json_object_get(s, "enum")) && (rc = check_enum(c, kw, *inst)))
        return rc;
    if ((kw = json_object_get(s, "const"))) {
        json_t *one = json_pack("[O]", kw);
        rc = one ? check_enum(c, one, *inst) : TENON_ENOMEM;
        json_decref(one);
        if (rc)
            return rc;
    }
    if (json_is_number(*inst))
        return check_bounds(c, s, *inst);
    if (json_is_string(*inst))
        return check_length(c, s, *inst);
    if (json_is_array(*inst))
        return check_array(c, s, *inst);
    if (json_is_object(*inst))
        return check_object(c, s, inst);
    return 0;
}

/* ---- the entry points ---------------------------------------------------- */

#define SCHEMA_INVALID "the plugin's config schema is invalid: "

/* Parse and check a schema, its defaults' validation spending at most
 * `cap` values; on failure the message is in *why, and *over tells
 * whether the budget ran out. */
static int load_schema(const char *schema, size_t cap, json_t **out, int *over,
                       char *why, size_t len)
{
    json_error_t err;
    struct sc c = {{NULL, 0, 0}, "", 0, cap, 0};
    int rc;

    *out = NULL;
    if (!schema)
        return tenon__reason(why, len, TENON_EINVAL, SCHEMA_INVALID "none");
    if (!(*out = json_loads(schema, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                            &err)))
        return tenon__reason(why, len, TENON_EINVAL,
                             SCHEMA_INVALID "not JSON: %s at line %d column %d",
                             err.text, err.line, err.column);
    rc = schema_check(&c, *out, 0);
    free(c.path.s);
    *over = c.over;
    if (rc) {
        if (rc == TENON_EINVAL)
            tenon__reason(why, len, rc, SCHEMA_INVALID "%s", c.why);
        else
            tenon__reason(why, len, rc, "out of memory");
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* What tenon__config_schema_check() spends at most: a schema whose
 * defaults multiply (1000 items each holding 1000...) would otherwise
 * cost hundreds of MB just to be shown. */
#define DISPLAY_VALUES (64u << 10)

int tenon__config_schema_check(const char *schema, char *why, size_t len)
{
    size_t cap = tenon__config_max_values < DISPLAY_VALUES
                     ? tenon__config_max_values
                     : DISPLAY_VALUES;
    json_t *s;
    int over = 0;
    int rc = load_schema(schema, cap, &s, &over, why, len);
    json_decref(s);
    if (rc == TENON_EINVAL && over && cap < tenon__config_max_values)
        return tenon__reason(why, len, TENON_ERANGE,
                             "its defaults, filled in, have more than %zu "
                             "values, beyond what is checked for display; "
                             "creating an instance checks up to %zu",
                             cap, tenon__config_max_values);
    return rc;
}

int tenon_config_validate(const char *schema, const char *config, char **out,
                          char **path)
{
    char why[1024];
    json_error_t err;
    json_t *s, *cfg = NULL;
    struct vc c = {{NULL, 0, 0}, "", 0, tenon__config_max_values, 0};
    int over, rc;

    if (out)
        *out = NULL;
    if (path)
        *path = NULL;
    if ((rc = load_schema(schema, tenon__config_max_values, &s, &over, why,
                          sizeof why)))
        return tenon__fail(rc, "%s", why);
    if (!(cfg = json_loads(config ? config : "{}",
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err))) {
        rc = tenon__fail(TENON_EINVAL,
                         "config is not valid JSON: %s at line %d column %d",
                         err.text, err.line, err.column);
        goto done;
    }
    if ((rc = validate(&c, s, &cfg))) {
        if (rc == TENON_ENOMEM)
            rc = tenon__fail(rc, "out of memory");
        else
            rc = tenon__fail(rc, "%s", c.why);
        if (rc == TENON_EINVAL && path &&
            !(*path = tenon__strdup(c.path.s ? c.path.s : "")))
            rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto done;
    }
    if (out && !(*out = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                            JSON_ENCODE_ANY)))
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
done:
    free(c.path.s);
    json_decref(cfg);
    json_decref(s);
    return rc;
}
