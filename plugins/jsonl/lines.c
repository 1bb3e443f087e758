/*
 * The jsonl plugin's line splitter and JSON pointers (lines.h); also
 * compiled into fuzz/fuzz_jsonl.c.
 */
#include "lines.h"

#include <errno.h>
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

static int valid_pointer(const char *ptr, size_t len)
{
    if (len && ptr[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (ptr[i] == '~' &&
            (i + 1 == len || (ptr[i + 1] != '0' && ptr[i + 1] != '1')))
            return 0;
    return 1;
}

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
    if (!valid_pointer(ptr, len)) {
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

/* The shortest text that reads back as `d`, looking like a number with a
 * fraction or exponent ("5.0", not "5"), as JSON encoders print reals. */
static char *real_text(double d)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    return strdup(buf);
}

/* jansson's json_dump_callback() target: a growing string. */
struct text {
    char *p;
    size_t len, cap;
    int failed;
};

static int text_add(const char *s, size_t n, void *ud)
{
    struct text *t = ud;
    if (t->failed)
        return -1;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        char *p;
        while (cap < t->len + n + 1)
            cap *= 2;
        if (!(p = realloc(t->p, cap))) {
            t->failed = 1;
            return -1;
        }
        t->p = p, t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

/* An object or array as compact JSON, its reals written the shortest way
 * that reads back the same (jansson writes 17 digits: [0.1] would come
 * out as [0.10000000000000001]); strings and keys escaped by jansson. The
 * depth is jansson's parser's, at most 2048. */
static void compact(const json_t *v, struct text *t)
{
    char buf[32], *r;
    const char *key;
    json_t *m;
    size_t i = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        text_add("{", 1, t);
        json_object_foreach((json_t *)v, key, m)
        {
            json_t *k = json_string(key);
            if (i++)
                text_add(",", 1, t);
            if (!k || json_dump_callback(k, text_add, t, JSON_ENCODE_ANY))
                t->failed = 1;
            json_decref(k);
            text_add(":", 1, t);
            compact(m, t);
        }
        text_add("}", 1, t);
        return;
    case JSON_ARRAY:
        text_add("[", 1, t);
        for (i = 0; i < json_array_size(v); i++) {
            if (i)
                text_add(",", 1, t);
            compact(json_array_get(v, i), t);
        }
        text_add("]", 1, t);
        return;
    case JSON_REAL:
        if (!(r = real_text(json_real_value(v))))
            t->failed = 1;
        else
            text_add(r, strlen(r), t);
        free(r);
        return;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        text_add(buf, strlen(buf), t);
        return;
    default:
        if (json_dump_callback(v, text_add, t, JSON_ENCODE_ANY))
            t->failed = 1;
        return;
    }
}

char *jptr_text(const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_STRING: return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return strdup(buf);
    case JSON_REAL: return real_text(json_real_value(v));
    case JSON_TRUE: return strdup("true");
    case JSON_FALSE: return strdup("false");
    case JSON_NULL: return strdup("null");
    default: {
        struct text t = {0};
        compact(v, &t);
        if (t.failed) {
            free(t.p);
            return NULL;
        }
        return t.p ? t.p : strdup("");
    }
    }
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
