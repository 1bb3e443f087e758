/*
 * commands.c - kvserver's command lines as operations (kvops.h): the
 * host's own parser and GET / SET / DEL, which plugins observe, refuse,
 * replace or extend through the dispatcher.
 *
 * Every operation is called with TENON_OP_CALL(), so while no plugin hooks
 * one it costs a direct call of the function here.
 */
#include "kvserver.h"
#include "kvops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing replies ------------------------------------------------------
 */

static void reply_set(struct tenon_buf *r, const char *fmt, ...)
    TENON_PRINTF(2, 3);

static void reply_set(struct tenon_buf *r, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(r->data, r->cap, fmt, ap);
    va_end(ap);
    r->len = n < 0 || r->cap == 0 ? 0
             : (size_t)n < r->cap ? (size_t)n
                                  : r->cap - 1;
}

/* A constant reply, without the cost of formatting it. */
static void reply_lit(struct tenon_buf *r, const char *text)
{
    size_t n = strlen(text);
    n = n < r->cap ? n : r->cap;
    memcpy(r->data, text, n);
    r->len = n;
}

/* `prefix` and then `len` bytes of `data`; the caller made room. */
static void reply_put(struct tenon_buf *r, const char *prefix, const void *data,
                      size_t len)
{
    size_t n = strlen(prefix);
    memcpy(r->data, prefix, n);
    memcpy((char *)r->data + n, data, len);
    r->len = n + len;
}

/* A word of the client's for an error message: at most 40 bytes of it,
 * and no byte that is not printable ASCII (there are none after kv.parse
 * unless a plugin's parser let one through). */
static void reply_err_word(struct tenon_buf *r, const char *what,
                           const struct tenon_buf *w, const char *after)
{
    char word[44];
    size_t n = w->len < 40 ? w->len : 40, i;
    const unsigned char *p = w->data;
    for (i = 0; i < n; i++)
        word[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    strcpy(word + i, w->len > n ? "..." : "");
    reply_set(r, "ERR %s '%s'%s", what, word, after);
}

/* ---- kv.parse ---------------------------------------------------------------
 */

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* A plugin calling kv.parse passes buffers of its own size. */
static int set_buf(struct tenon_buf *b, const char *p, size_t n,
                   struct tenon_buf *reply, const char *what)
{
    if (n > b->cap) {
        reply_set(reply, "ERR %s too long (%zu bytes; at most %zu)", what, n,
                  b->cap);
        return -1;
    }
    memcpy(b->data, p, n);
    b->len = n;
    return 0;
}

/* VERB [KEY [VALUE]]: words separated by spaces, the value the rest of the
 * line after the key and the spaces that follow it (so it may hold
 * spaces, and cannot be empty). A trailing CR (a client sending CRLF) is
 * not part of the line. */
static int64_t parse_native(void *ctx, uint64_t param,
                            const union tenon_op_arg *a)
{
    const char *line = a[KV_PARSE_LINE].buf->data;
    size_t len = a[KV_PARSE_LINE].buf->len, i = 0, start;
    struct tenon_buf *verb = a[KV_PARSE_VERB].buf, *key = a[KV_PARSE_KEY].buf,
                     *value = a[KV_PARSE_VALUE].buf,
                     *reply = a[KV_PARSE_REPLY].buf;
    (void)ctx;
    (void)param;

    if (len && line[len - 1] == '\r')
        len--;
    for (size_t k = 0; k < len; k++)
        if (is_control((unsigned char)line[k])) {
            reply_set(reply,
                      "ERR control byte 0x%02x at byte %zu: expected a "
                      "line of text, VERB [key [value]]",
                      (unsigned char)line[k], k + 1);
            return TENON_EINVAL;
        }
    while (i < len && line[i] == ' ')
        i++;
    if (i == len) {
        reply_set(reply, "ERR empty line: expected a command: GET key, "
                         "SET key value or DEL key");
        return TENON_EINVAL;
    }
    for (start = i; i < len && line[i] != ' '; i++)
        ;
    if (i - start > KV_VERB_MAX) {
        reply_set(reply, "ERR command name too long (%zu bytes; at most %d)",
                  i - start, KV_VERB_MAX);
        return TENON_EINVAL;
    }
    if (set_buf(verb, line + start, i - start, reply, "command name"))
        return TENON_ERANGE;
    for (size_t k = 0; k < verb->len; k++) {
        char *c = (char *)verb->data + k;
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    }
    key->len = value->len = 0;
    while (i < len && line[i] == ' ')
        i++;
    if (i == len)
        return 0;
    for (start = i; i < len && line[i] != ' '; i++)
        ;
    if (set_buf(key, line + start, i - start, reply, "key"))
        return TENON_ERANGE;
    while (i < len && line[i] == ' ')
        i++;
    if (i == len)
        return 1;
    if (set_buf(value, line + i, len - i, reply, "value"))
        return TENON_ERANGE;
    return 2;
}

/* ---- kv.command, kv.unknown --------------------------------------------- */

static int is_verb(const struct tenon_buf *v, const char *name)
{
    size_t n = strlen(name);
    return v->len == n && memcmp(v->data, name, n) == 0;
}

static int64_t unknown_native(void *ctx, uint64_t param,
                              const union tenon_op_arg *a)
{
    (void)ctx;
    (void)param;
    (void)a;
    return TENON_ENOTSUP;
}

static int64_t command_native(void *ctx, uint64_t param,
                              const union tenon_op_arg *a)
{
    struct kv_ops *ops = ctx;
    const struct tenon_buf *verb = a[KV_ARG_VERB].buf, *key = a[KV_ARG_KEY].buf,
                           *value = a[KV_ARG_VALUE].buf;
    struct tenon_buf *reply = a[KV_ARG_REPLY].buf;
    int64_t nargs = a[KV_ARG_NARGS].i, rc;
    const void *v;
    size_t vlen;

    if (is_verb(verb, "GET")) {
        if (nargs != 1) {
            reply_set(reply, "ERR GET takes a key: GET key");
            return TENON_EINVAL;
        }
        if ((v = kv_store_get(&ops->store, key->data, key->len, &vlen)) &&
            vlen + 6 <= reply->cap)
            reply_put(reply, "VALUE ", v, vlen);
        else if (v)
            reply_set(reply, "ERR value of %zu bytes too long to send", vlen);
        else
            reply_lit(reply, "NIL");
        return 0;
    }
    if (is_verb(verb, "SET")) {
        if (nargs != 2) {
            reply_set(reply, "ERR SET takes a key and a value: SET key value");
            return TENON_EINVAL;
        }
        if ((rc = kv_store_set(&ops->store, key->data, key->len, value->data,
                               value->len))) {
            reply_set(reply, "ERR out of memory");
            return rc;
        }
        reply_lit(reply, "OK");
        return 0;
    }
    if (is_verb(verb, "DEL")) {
        if (nargs != 1) {
            reply_set(reply, "ERR DEL takes a key: DEL key");
            return TENON_EINVAL;
        }
        rc = kv_store_del(&ops->store, key->data, key->len);
        reply_lit(reply, rc ? "OK" : "NIL");
        return 0;
    }
    rc = TENON_OP_CALL(ops->unknown, param, a, unknown_native(ctx, param, a));
    if (rc == TENON_ENOTSUP && reply->len == 0)
        reply_err_word(reply, "unknown command", verb,
                       ": expected GET, SET or DEL");
    return rc;
}

/* ---- kv.del, kv.exists: for plugins ---------------------------------------
 */

static int64_t del_native(void *ctx, uint64_t param,
                          const union tenon_op_arg *a)
{
    struct kv_ops *ops = ctx;
    (void)param;
    return kv_store_del(&ops->store, a[0].buf->data, a[0].buf->len);
}

static int64_t exists_native(void *ctx, uint64_t param,
                             const union tenon_op_arg *a)
{
    struct kv_ops *ops = ctx;
    size_t vlen;
    (void)param;
    return kv_store_get(&ops->store, a[0].buf->data, a[0].buf->len, &vlen) !=
           NULL;
}

/* ---- the server's side ----------------------------------------------------
 */

int kv_ops_init(struct kv_ops *ops, tenon_t *t, size_t max_line)
{
    int rc;
    memset(ops, 0, sizeof *ops);
    ops->verb.cap = KV_VERB_MAX;
    ops->key.cap = ops->value.cap = max_line;
    ops->reply.cap = max_line + KV_REPLY_EXTRA;
    if (!(ops->verb.data = malloc(ops->verb.cap)) ||
        !(ops->key.data = malloc(ops->key.cap)) ||
        !(ops->value.data = malloc(ops->value.cap)) ||
        !(ops->reply.data = malloc(ops->reply.cap))) {
        kv_ops_free(ops);
        return TENON_ENOMEM;
    }
    if ((rc = tenon_op_declare(t, KV_OP_PARSE, KV_SIG_PARSE, 0, parse_native,
                               ops, &ops->parse)) ||
        (rc = tenon_op_declare(t, KV_OP_COMMAND, KV_SIG_COMMAND, 0,
                               command_native, ops, &ops->command)) ||
        (rc = tenon_op_declare(t, KV_OP_UNKNOWN, KV_SIG_COMMAND, 0,
                               unknown_native, ops, &ops->unknown)) ||
        (rc = tenon_op_declare(t, KV_OP_DEL, KV_SIG_KEY, 0, del_native, ops,
                               &ops->del)) ||
        (rc = tenon_op_declare(t, KV_OP_EXISTS, KV_SIG_KEY, 0, exists_native,
                               ops, &ops->exists))) {
        kv_ops_free(ops);
        return rc;
    }
    return 0;
}

void kv_ops_free(struct kv_ops *ops)
{
    kv_store_free(&ops->store);
    free(ops->verb.data);
    free(ops->key.data);
    free(ops->value.data);
    free(ops->reply.data);
    memset(ops, 0, sizeof *ops);
}

/* A reply goes out as one line whatever a plugin wrote into it. */
static void reply_clean(struct tenon_buf *r)
{
    unsigned char *p = r->data;
    if (r->len > r->cap)
        r->len = r->cap;
    for (size_t i = 0; i < r->len; i++)
        if (is_control(p[i]))
            p[i] = '?';
}

void kv_ops_execute(struct kv_ops *ops, const char *line, size_t len)
{
    struct tenon_buf in = {(void *)line, len, len};
    union tenon_op_arg pa[5] = {{.buf = &in},
                                {.buf = &ops->verb},
                                {.buf = &ops->key},
                                {.buf = &ops->value},
                                {.buf = &ops->reply}};
    union tenon_op_arg ca[5];
    int64_t rc;

    ops->reply.len = ops->verb.len = ops->key.len = ops->value.len = 0;
    rc = TENON_OP_CALL(ops->parse, 0, pa, parse_native(ops, 0, pa));
    if (rc >= 0) {
        ca[KV_ARG_VERB].buf = &ops->verb;
        ca[KV_ARG_KEY].buf = &ops->key;
        ca[KV_ARG_VALUE].buf = &ops->value;
        ca[KV_ARG_NARGS].i = rc;
        ca[KV_ARG_REPLY].buf = &ops->reply;
        /* A plugin's parser may have filled more than it should have. */
        if (ops->verb.len > ops->verb.cap || ops->key.len > ops->key.cap ||
            ops->value.len > ops->value.cap) {
            reply_set(&ops->reply, "ERR parser overran its buffers");
            return;
        }
        ops->reply.len = 0;
        rc = TENON_OP_CALL(ops->command, 0, ca, command_native(ops, 0, ca));
    }
    reply_clean(&ops->reply);
    if (ops->reply.len == 0 && rc < 0)
        reply_set(&ops->reply, "ERR refused: %s", tenon_strerror((int)rc));
    else if (ops->reply.len == 0)
        reply_lit(&ops->reply, "OK");
}
