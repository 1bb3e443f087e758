/*
 * The jsonl plugin's line splitter and JSON pointers (lines.h); also
 * compiled into fuzz/fuzz_jsonl.c.
 */
#include "lines.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lines --------------------------------------------------------------- */

void lines_init(struct lines *l, size_t maxline, size_t block)
{
    memset(l, 0, sizeof *l);
    l->maxline = maxline ? maxline : 1;
    l->block = block ? block : 1;
}

void lines_free(struct lines *l)
{
    free(l->buf);
    l->buf = NULL;
    l->cap = 0;
}

/* Drop the unconsumed bytes, which belong to a line being skipped. */
static void drop(struct lines *l)
{
    l->consumed += l->end - l->start;
    l->start = l->end = l->scan = 0;
}

static int skip_rest(struct lines *l)
{
    char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
    size_t n;
    if (!nl) {
        drop(l);
        if (l->eof) {
            l->skipping = 0;
            return LINES_END;
        }
        return LINES_MORE;
    }
    n = (size_t)(nl - (l->buf + l->start)) + 1;
    l->consumed += n;
    l->start += n;
    l->scan = l->start;
    l->skipping = 0;
    return -1;
}

int lines_next(struct lines *l, const char **line, size_t *len)
{
    char *nl;
    size_t n;
    int rc;

    if (!l->buf) /* nothing read yet (memchr must not see NULL) */
        return l->eof ? LINES_END : LINES_MORE;
    if (l->skipping && (rc = skip_rest(l)) >= 0)
        return rc;
    nl = memchr(l->buf + l->scan, '\n', l->end - l->scan);
    if (nl) {
        n = (size_t)(nl - (l->buf + l->start));
        *line = l->buf + l->start;
        l->lineno++;
        l->consumed += n + 1;
        l->start += n + 1;
        l->scan = l->start;
        if (n > l->maxline) {
            *len = 0;
            return LINES_LONG;
        }
        *len = n && (*line)[n - 1] == '\r' ? n - 1 : n;
        return LINES_LINE;
    }
    l->scan = l->end;
    if (l->end - l->start > l->maxline) {
        /* Its newline is further on: never hold more of it. */
        l->lineno++;
        l->skipping = 1;
        drop(l);
        return LINES_LONG;
    }
    if (!l->eof)
        return LINES_MORE;
    if (l->start == l->end)
        return LINES_END;
    *line = l->buf + l->start;
    *len = l->end - l->start;
    l->lineno++;
    l->consumed += *len;
    l->start = l->scan = l->end;
    return LINES_CUT;
}

int lines_fill(struct lines *l, lines_read_fn read, void *ud)
{
    size_t want, room;
    long got;

    if (l->eof)
        return 0;
    if (l->start) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->scan -= l->start;
        l->start = 0;
    }
    /* lines_next() drops a line before it grows past maxline, so the
     * buffer never needs more than maxline + block bytes. */
    if (l->cap - l->end < l->block) {
        size_t cap = l->cap ? l->cap : l->block;
        char *b;
        while (cap - l->end < l->block)
            cap *= 2;
        if (cap > l->maxline + l->block + 1)
            cap = l->maxline + l->block + 1;
        if (cap < l->end + 1)
            cap = l->end + 1;
        if (!(b = realloc(l->buf, cap)))
            return -ENOMEM;
        l->buf = b;
        l->cap = cap;
    }
    room = l->cap - l->end;
    want = room < l->block ? room : l->block;
    got = read(ud, l->buf + l->end, want);
    if (got < 0)
        return (int)got;
    if (got == 0)
        l->eof = 1;
    else
        l->end += (size_t)got > want ? want : (size_t)got;
    return 0;
}

/* ---- JSON pointers ------------------------------------------------------- */

/* An array index as RFC 6901 writes it: "0", or digits without a leading
 * zero; "-" (past the end) and anything else is no index. */
static int array_index(const char *t, size_t n, size_t *out)
{
    size_t v = 0;
    if (n == 0 || n > 19 || (n > 1 && t[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return 0;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *out = v;
    return 1;
}

/* One reference token of `cur`, undoing ~1 and ~0 (in that order, as the
 * RFC says) into `key`, which holds n bytes. */
static json_t *step(json_t *cur, const char *t, size_t n, char *key)
{
    size_t k = 0, idx;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '~') {
            key[k++] = t[i + 1] == '1' ? '/' : '~';
            i++;
        } else
            key[k++] = t[i];
    }
    if (json_is_object(cur))
        return json_object_getn(cur, key, k);
    if (json_is_array(cur) && array_index(key, k, &idx))
        return json_array_get(cur, idx);
    return NULL;
}

json_t *jptr_get(json_t *root, const char *ptr, size_t len, int *bad)
{
    char small[256], *key = small;
    json_t *cur = root;
    size_t i = 1;

    *bad = 0;
    if (jptr_check(ptr, len, NULL, 0)) {
        *bad = 1;
        return NULL;
    }
    if (len == 0)
        return root;
    if (len > sizeof small && !(key = malloc(len)))
        return NULL;
    while (cur) {
        const char *t = ptr + i;
        const char *slash = memchr(t, '/', len - i);
        size_t n = slash ? (size_t)(slash - t) : len - i;
        cur = step(cur, t, n, key);
        if (!slash)
            break;
        i += n + 1;
    }
    if (key != small)
        free(key);
    return cur;
}

int jptr_check(const char *ptr, size_t len, char *why, size_t whylen)
{
    int show = len > 64 ? 64 : (int)len; /* the message quotes this much */
    if (len && ptr[0] != '/') {
        snprintf(why, whylen,
                 "'%.*s%s' is not a JSON pointer: it must be empty (the "
                 "whole line) or start with '/'; expected e.g. /%.*s%s",
                 show, ptr, len > 64 ? "..." : "", show, ptr,
                 len > 64 ? "..." : "");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if (ptr[i] == '~' &&
            (i + 1 == len || (ptr[i + 1] != '0' && ptr[i + 1] != '1'))) {
            snprintf(why, whylen,
                     "'%.*s%s' is not a JSON pointer: the '~' at offset %zu "
                     "must be followed by 0 (for ~) or 1 (for /); expected "
                     "e.g. /a~1b for the key a/b, /m~0n for m~n",
                     show, ptr, len > 64 ? "..." : "", i);
            return -1;
        }
    return 0;
}

/* "1.5e+300" as 1.5e300, "1e-05" as 1e-5: the exponent without the sign
 * and padding printf adds. */
static void tidy_exponent(char *buf)
{
    char *e = strchr(buf, 'e'), *d;
    if (!e)
        return;
    d = e + 1;
    if (*d == '-')
        d++;
    else if (*d == '+')
        memmove(d, d + 1, strlen(d));
    while (d[0] == '0' && d[1])
        memmove(d, d + 1, strlen(d));
}

/* The shortest text that reads back as `d`, looking like a number with a
 * fraction or exponent ("5.0", not "5"), as JSON encoders print reals. */
static void real_fmt(double d, char buf[40])
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, 40, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    tidy_exponent(buf);
}

/* ---- compact JSON with shortest reals ------------------------------------ */

/* jansson prints the reals inside an array or object with one precision
 * for all (17 digits by default: 0.1 is 0.10000000000000001), so the
 * containers are written here, each real the shortest way. */
struct out {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap ? o->cap : 64;
        char *q;
        while (cap - o->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                o->oom = 1;
                return;
            }
            cap *= 2;
        }
        if (!(q = realloc(o->p, cap))) {
            o->oom = 1;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

/* A JSON string as jansson escapes it (no ASCII-only, no escaped '/'). */
static void put_string(struct out *o, const char *s, size_t n)
{
    size_t run = 0;
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        case '\b': put(o, "\\b", 2); break;
        case '\f': put(o, "\\f", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        default: snprintf(esc, sizeof esc, "\\u%04X", c); put(o, esc, 6);
        }
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

/* Values come from jansson's parser, which stops at depth 2048
 * (JSON_PARSER_MAX_DEPTH), so the recursion is bounded; the cap here
 * guards values built some other way. */
#define DUMP_DEPTH 4096

static void dump(struct out *o, const json_t *v, int depth)
{
    char buf[40];
    if (depth > DUMP_DEPTH) {
        o->oom = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *m;
        int first = 1;
        put(o, "{", 1);
        json_object_foreach((json_t *)v, key, m)
        {
            if (!first)
                put(o, ",", 1);
            first = 0;
            put_string(o, key, strlen(key));
            put(o, ":", 1);
            dump(o, m, depth + 1);
        }
        put(o, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(o, ",", 1);
            dump(o, json_array_get(v, i), depth + 1);
        }
        put(o, "]", 1);
        break;
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        put(o, buf, strlen(buf));
        break;
    case JSON_REAL:
        real_fmt(json_real_value(v), buf);
        put(o, buf, strlen(buf));
        break;
    case JSON_TRUE: put(o, "true", 4); break;
    case JSON_FALSE: put(o, "false", 5); break;
    default: put(o, "null", 4); break;
    }
}

char *jptr_text(const json_t *v)
{
    struct out o = {NULL, 0, 0, 0};
    if (json_is_string(v))
        return strdup(json_string_value(v));
    dump(&o, v, 0);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    return o.p;
}

const char *jptr_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}
