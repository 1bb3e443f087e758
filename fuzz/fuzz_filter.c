/*
 * fuzz_filter: the filter compiler and evaluator (src/events/filter_*.c).
 *
 * Input layout: the bytes up to the first NUL are the filter expression;
 * the bytes after it (the tail, possibly empty) make the values every field
 * has on the one event the filter is evaluated against. The seeds in
 * fuzz/corpus/fuzz_filter/ are realistic expressions over the fields below,
 * some with a tail.
 *
 * The resolver knows one field of every type, list fields, fields with an
 * argument, a field no event has and one whose extraction always fails.
 *
 * Besides the sanitizers, the target traps when a failed compile leaves no
 * message, a column outside the expression or a filter behind; when a
 * filter's slots are not distinct; when evaluation is not 0 or 1; and when
 * `not (EXPR)` does not evaluate to the opposite of EXPR.
 */
#include "events/events.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    uint32_t type, flags;
} fields[] = {
    {"evt.num", TENON_FIELD_U64, 0},
    {"evt.time", TENON_FIELD_ABSTIME, 0},
    {"evt.latency", TENON_FIELD_RELTIME, 0},
    {"json.number", TENON_FIELD_I64, TENON_FIELD_ARG_REQ},
    {"json.value", TENON_FIELD_STRING, TENON_FIELD_ARG_REQ},
    {"proc.name", TENON_FIELD_STRING, 0},
    {"proc.aname", TENON_FIELD_STRING, TENON_FIELD_ARG_INDEX},
    {"proc.args", TENON_FIELD_STRING, TENON_FIELD_LIST},
    {"proc.pids", TENON_FIELD_U64, TENON_FIELD_LIST},
    {"evt.ok", TENON_FIELD_BOOL, 0},
    {"evt.data", TENON_FIELD_BYTES, 0},
    {"fd.ip", TENON_FIELD_IPADDR, 0},
    {"fd.ips", TENON_FIELD_IPADDR, TENON_FIELD_LIST},
    {"fd.net", TENON_FIELD_IPNET, 0},
    {"evt.missing", TENON_FIELD_U64, 0},
    {"evt.failing", TENON_FIELD_STRING, 0},
};
#define NFIELDS (sizeof fields / sizeof *fields)

static int resolve(void *ud, const char *name, const char *arg,
                   struct tenon__field_use *out, char *why, size_t whylen)
{
    (void)ud;
    for (uint32_t i = 0; i < NFIELDS; i++) {
        if (strcmp(fields[i].name, name) != 0)
            continue;
        if ((fields[i].flags & TENON_FIELD_ARG_REQ) && !arg)
            return tenon__reason(why, whylen, TENON_EINVAL,
                                 "field '%s' needs an argument", name);
        out->slot = i * 3 + 1; /* not indices: the filter must not care */
        out->type = fields[i].type;
        out->flags = fields[i].flags;
        return 0;
    }
    return tenon__reason(why, whylen, TENON_EINVAL, "unknown field '%s'", name);
}

/* The event: every value made from the tail. */
struct event {
    const uint8_t *tail;
    size_t len;
    char *str; /* the tail up to its first NUL */
    uint64_t u64[4];
    const char *strs[4];
    uint32_t b;
    struct tenon_bytes bytes[4];
    uint8_t ip[4][17];
};

static int get(void *ud, uint32_t slot, struct tenon__vals *out)
{
    struct event *e = ud;
    uint32_t i = (slot - 1) / 3;
    if ((slot - 1) % 3 || i >= NFIELDS)
        __builtin_trap();
    if (!strcmp(fields[i].name, "evt.failing"))
        return TENON_EPLUGIN;
    out->type = fields[i].type;
    out->count = (fields[i].flags & TENON_FIELD_LIST)
                     ? (e->len ? e->tail[0] % 5 : 2)
                     : !!strcmp(fields[i].name, "evt.missing");
    switch (fields[i].type) {
    case TENON_FIELD_STRING: out->v.str = e->strs; break;
    case TENON_FIELD_I64: out->v.i64 = (int64_t *)e->u64; break;
    case TENON_FIELD_BOOL: out->v.boolean = &e->b; break;
    case TENON_FIELD_BYTES:
    case TENON_FIELD_IPADDR:
    case TENON_FIELD_IPNET: out->v.bytes = e->bytes; break;
    default: out->v.u64 = e->u64; break;
    }
    if (fields[i].type == TENON_FIELD_BYTES) {
        e->bytes[0] = (struct tenon_bytes){(uint32_t)e->len, e->tail};
        out->count = 1;
    } else if (fields[i].type == TENON_FIELD_IPADDR ||
               fields[i].type == TENON_FIELD_IPNET) {
        int net = fields[i].type == TENON_FIELD_IPNET;
        for (int k = 0; k < 4; k++) {
            uint32_t n = (e->len > (size_t)k && (e->tail[k] & 1)) ? 16 : 4;
            e->bytes[k] = (struct tenon_bytes){n + (uint32_t)net, e->ip[k]};
        }
    }
    return 0;
}

static void make_event(struct event *e, const uint8_t *tail, size_t len)
{
    memset(e, 0, sizeof *e);
    e->tail = tail;
    e->len = len;
    e->str = malloc(len + 1);
    if (!e->str)
        abort();
    memcpy(e->str, tail, len);
    e->str[len] = '\0';
    for (int k = 0; k < 4; k++) {
        /* Each value from its own window of the tail, so lists differ. */
        for (size_t j = 0; j < 8 && k + j < len; j++)
            e->u64[k] |= (uint64_t)tail[k + j] << (8 * j);
        e->strs[k] = e->str + (k < (int)strlen(e->str) ? k : 0);
        for (size_t j = 0; j < 17; j++)
            e->ip[k][j] = k + j < len ? tail[k + j] : (uint8_t)(10 * j);
    }
    e->b = len ? tail[0] & 1 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    struct tenon__filter *f = NULL, *g = NULL;
    struct event e;
    char err[256], *expr, *wrapped;
    size_t col = 0;

    if (!(expr = malloc(elen + 1)) || !(wrapped = malloc(elen + 8)))
        abort();
    memcpy(expr, data, elen);
    expr[elen] = '\0';
    make_event(&e, nul ? nul + 1 : data + size, nul ? size - elen - 1 : 0);

    int rc =
        tenon__filter_compile(expr, resolve, NULL, &f, &col, err, sizeof err);
    if (rc != 0) {
        if ((rc != TENON_EINVAL && rc != TENON_ENOMEM) || f || !err[0] ||
            col < 1 || col > elen + 1)
            __builtin_trap();
        goto out;
    }
    const uint32_t *slots;
    size_t n = tenon__filter_slots(f, &slots);
    if (n == 0)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (slots[i] == slots[j])
                __builtin_trap();
    int r = tenon__filter_eval(f, get, &e);
    if ((r != 0 && r != 1) || tenon__filter_eval(f, get, &e) != r)
        __builtin_trap();

    memcpy(wrapped, "not (", 5);
    memcpy(wrapped + 5, expr, elen);
    memcpy(wrapped + 5 + elen, ")", 2);
    if (tenon__filter_compile(wrapped, resolve, NULL, &g, &col, err,
                              sizeof err) == 0) {
        if (tenon__filter_eval(g, get, &e) != !r)
            __builtin_trap();
        tenon__filter_free(g);
    }
    tenon__filter_free(f);
out:
    free(e.str);
    free(expr);
    free(wrapped);
    return 0;
}
