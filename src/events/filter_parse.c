/*
 * The filter compiler: Falco's condition syntax, parsed by recursive
 * descent into a small tree, type-checked against the fields the resolver
 * names, with every literal converted here, then laid out as comparisons
 * with jumps (filter_int.h) so evaluation needs no tree at all.
 *
 *   expr  = or
 *   or    = and { "or" and }
 *   and   = not { "and" not }
 *   not   = { "not" } check
 *   check = "(" expr ")" | field op value
 */
#include "filter_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define MAX_EXPR  (1024u * 1024u)

/* ---- memory for literals --------------------------------------------------
 */

struct filter_chunk {
    struct filter_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

/* Chunks double from 256 bytes up to 64 KiB: most filters have a few
 * short literals, some have a list of thousands. */
#define CHUNK_FIRST 256u
#define CHUNK_MAX   (64u * 1024u)

static void *chunk_alloc(struct filter_chunk **mem, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!n)
        n = 16;
    if (!*mem || (*mem)->cap - (*mem)->used < n) {
        size_t cap = *mem && (*mem)->cap < CHUNK_MAX ? (*mem)->cap * 2
                     : *mem                          ? CHUNK_MAX
                                                     : CHUNK_FIRST;
        if (cap < n)
            cap = n;
        struct filter_chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = *mem;
        *mem = c;
    }
    void *r = (*mem)->data + (*mem)->used;
    (*mem)->used += n;
    return r;
}

/* ---- field references -----------------------------------------------------
 */

static int name_start(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26u || c == '_';
}

static int name_char(unsigned char c)
{
    return name_start(c) || (unsigned)(c - '0') < 10u || c == '.';
}

size_t tenon__field_token(const char *s, size_t *namelen, const char **arg,
                          size_t *arglen, int *bad)
{
    size_t i = 0;

    *namelen = 0;
    *arg = NULL;
    *arglen = 0;
    *bad = 0;
    if (!name_start((unsigned char)s[0]))
        return 0;
    while (name_char((unsigned char)s[i]))
        i++;
    while (s[i - 1] == '.')
        i--;
    *namelen = i;
    if (s[i] != '[')
        return i;
    size_t j = i + 1;
    while (s[j] && s[j] != ']')
        j++;
    if (!s[j]) {
        *bad = 1;
        return 0;
    }
    *arg = s + i + 1;
    *arglen = j - i - 1;
    return j + 1;
}

/* ---- the parser -----------------------------------------------------------
 */

enum { N_LEAF, N_NOT, N_AND, N_OR };
#define NONE UINT32_MAX

/* A node of the tree; an and/or node's children are linked through
 * `next`, last one first. */
struct node {
    uint8_t kind;
    uint32_t child, next, leaf;
};

struct parser {
    const char *s;
    size_t len, pos;
    tenon__resolve_fn resolve;
    void *ud;
    char *err;
    size_t errlen, *column;
    int depth;

    struct node *nodes;
    size_t nnodes, capnodes;
    struct filter_insn *code;
    size_t ncode, capcode;
    struct filter_chunk *mem;
    void *tmp; /* the values of one list as they are read */
    size_t captmp;

    char field[96]; /* the field being compiled, as written, for errors */
    char got[96];
};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    TENON_PRINTF(3, 4);

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->errlen)
        vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    *p->column = at + 1;
    return TENON_EINVAL;
}

static int nomem(struct parser *p)
{
    fail(p, p->pos, "out of memory");
    return TENON_ENOMEM;
}

/* `n` bytes of `s` for a message: quoted, control and non-ASCII bytes as
 * \xHH, cut short with "..." when long. */
static void show(char *out, size_t outlen, const char *s, size_t n)
{
    size_t o = 0, max = outlen - 8;
    out[o++] = '\'';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 4 > max) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* What is at `at`, for "got ...": end of input, one punctuation byte, or
 * the word there. */
static const char *got(struct parser *p, size_t at)
{
    size_t n = 0;
    if (at >= p->len)
        return "end of input";
    if (strchr("()=,<>!\"'[]", p->s[at]))
        n = 1;
    else
        while (at + n < p->len && !is_space((unsigned char)p->s[at + n]) &&
               !strchr("()=,<>!\"'", p->s[at + n]))
            n++;
    show(p->got, sizeof p->got, p->s + at, n);
    return p->got;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && is_space((unsigned char)p->s[p->pos]))
        p->pos++;
}

/* The keyword `w` at the cursor, as a whole word. */
static int keyword(struct parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
        return 0;
    if (p->pos + n < p->len &&
        (name_char((unsigned char)p->s[p->pos + n]) || p->s[p->pos + n] == '['))
        return 0;
    return 1;
}

static int new_node(struct parser *p, uint8_t kind, uint32_t *out)
{
    if (tenon__grow(&p->nodes, &p->capnodes, p->nnodes + 1, sizeof *p->nodes))
        return nomem(p);
    p->nodes[p->nnodes] =
        (struct node){.kind = kind, .child = NONE, .next = NONE, .leaf = NONE};
    *out = (uint32_t)p->nnodes++;
    return 0;
}

/* ---- types and operators --------------------------------------------------
 */

static const struct {
    const char *name;
    uint8_t op;
    uint8_t word; /* needs a word boundary after it */
} ops[] = {
    {"==", OP_EQ, 0},
    {"=", OP_EQ, 0},
    {"!=", OP_NE, 0},
    {"<=", OP_LE, 0},
    {"<", OP_LT, 0},
    {">=", OP_GE, 0},
    {">", OP_GT, 0},
    {"contains", OP_CONTAINS, 1},
    {"icontains", OP_ICONTAINS, 1},
    {"startswith", OP_STARTSWITH, 1},
    {"endswith", OP_ENDSWITH, 1},
    {"glob", OP_GLOB, 1},
    {"intersects", OP_INTERSECTS, 1},
    {"in", OP_IN, 1},
    {"exists", OP_EXISTS, 1},
};
#define NOPS (sizeof ops / sizeof *ops)

static const char *const op_names[OP_COUNT] = {
    "=",    "!=",       "<",          "<=",         ">",
    ">=",   "contains", "icontains",  "startswith", "endswith",
    "glob", "in",       "intersects", "exists"};

#define BIT(op) (1u << (op))
#define NUM_OPS                                                                \
    (BIT(OP_EQ) | BIT(OP_NE) | BIT(OP_LT) | BIT(OP_LE) | BIT(OP_GT) |          \
     BIT(OP_GE) | BIT(OP_IN) | BIT(OP_INTERSECTS) | BIT(OP_EXISTS))
#define IP_OPS                                                                 \
    (BIT(OP_EQ) | BIT(OP_NE) | BIT(OP_IN) | BIT(OP_INTERSECTS) | BIT(OP_EXISTS))

static const uint32_t kind_ops[K_COUNT] = {
    [K_U64] = NUM_OPS,
    [K_I64] = NUM_OPS,
    [K_BOOL] = BIT(OP_EQ) | BIT(OP_NE) | BIT(OP_EXISTS),
    [K_STR] = BIT(OP_EQ) | BIT(OP_NE) | BIT(OP_CONTAINS) | BIT(OP_ICONTAINS) |
              BIT(OP_STARTSWITH) | BIT(OP_ENDSWITH) | BIT(OP_GLOB) |
              BIT(OP_IN) | BIT(OP_INTERSECTS) | BIT(OP_EXISTS),
    [K_BYTES] = BIT(OP_EQ) | BIT(OP_NE) | BIT(OP_CONTAINS) |
                BIT(OP_STARTSWITH) | BIT(OP_ENDSWITH) | BIT(OP_EXISTS),
    [K_IP] = IP_OPS,
    [K_NET] = IP_OPS,
};

/* The kind, short name and description of a field type; -1 when this
 * filter cannot compare it. */
static int type_info(uint32_t type, const char **name, const char **desc)
{
    switch (type) {
    case TENON_FIELD_U64:
        *name = "u64";
        *desc = "an unsigned integer";
        return K_U64;
    case TENON_FIELD_RELTIME:
        *name = "reltime";
        *desc = "a relative time in nanoseconds";
        return K_U64;
    case TENON_FIELD_ABSTIME:
        *name = "abstime";
        *desc = "an absolute time in nanoseconds";
        return K_U64;
    case TENON_FIELD_I64:
        *name = "i64";
        *desc = "a signed integer";
        return K_I64;
    case TENON_FIELD_BOOL:
        *name = "bool";
        *desc = "a boolean";
        return K_BOOL;
    case TENON_FIELD_STRING:
        *name = "string";
        *desc = "a string";
        return K_STR;
    case TENON_FIELD_BYTES:
        *name = "bytes";
        *desc = "a byte string";
        return K_BYTES;
    case TENON_FIELD_IPADDR:
        *name = "ipaddr";
        *desc = "an IP address";
        return K_IP;
    case TENON_FIELD_IPNET:
        *name = "ipnet";
        *desc = "an IP network";
        return K_NET;
    default: *name = *desc = "?"; return -1;
    }
}

/* ---- literals -------------------------------------------------------------
 */

/* A value as written: its bytes (unescaped, in the filter's memory) and
 * where it starts. */
struct lit {
    const char *p;
    size_t len, at;
};

static int hexval(unsigned char c)
{
    if ((unsigned)(c - '0') < 10u)
        return c - '0';
    if ((unsigned)((c | 0x20) - 'a') < 6u)
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static int quoted(struct parser *p, struct lit *v)
{
    char q = p->s[p->pos];
    size_t start = p->pos, i = p->pos + 1, end = i;

    while (end < p->len && p->s[end] != q)
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return fail(p, start, "unterminated string starting at column %zu",
                    start + 1);
    char *out = chunk_alloc(&p->mem, end - i + 1);
    size_t o = 0;
    if (!out)
        return nomem(p);
    for (; i < end; i++) {
        if (p->s[i] != '\\') {
            out[o++] = p->s[i];
            continue;
        }
        const char *from = "\\\"'ntr", *to = "\\\"'\n\t\r";
        const char *e = strchr(from, p->s[i + 1]);
        if (e && p->s[i + 1]) {
            out[o++] = to[e - from];
            i++;
        } else if (p->s[i + 1] == 'x' && i + 3 < end &&
                   hexval((unsigned char)p->s[i + 2]) >= 0 &&
                   hexval((unsigned char)p->s[i + 3]) >= 0) {
            out[o++] = (char)(hexval((unsigned char)p->s[i + 2]) * 16 +
                              hexval((unsigned char)p->s[i + 3]));
            i += 3;
        } else {
            show(p->got, sizeof p->got, p->s + i,
                 p->s[i + 1] == 'x' ? (end - i < 4 ? end - i : 4) : 2);
            return fail(p, i,
                        "bad escape %s in string; expected one of \\\\ \\\" "
                        "\\' \\n \\t \\r \\xHH",
                        p->got);
        }
    }
    out[o] = '\0';
    v->p = out;
    v->len = o;
    v->at = start;
    p->pos = end + 1;
    return 0;
}

/* A quoted string or a bare word: up to whitespace, a parenthesis, a comma
 * or a quote. */
static int value(struct parser *p, struct lit *v, const char *after)
{
    skip_ws(p);
    if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '\''))
        return quoted(p, v);
    size_t n = 0;
    while (p->pos + n < p->len && !is_space((unsigned char)p->s[p->pos + n]) &&
           !strchr("(),\"'", p->s[p->pos + n]))
        n++;
    if (!n)
        return fail(p, p->pos, "expected a value after '%s', got %s", after,
                    got(p, p->pos));
    char *out = chunk_alloc(&p->mem, n + 1);
    if (!out)
        return nomem(p);
    memcpy(out, p->s + p->pos, n);
    out[n] = '\0';
    v->p = out;
    v->len = n;
    v->at = p->pos;
    p->pos += n;
    return 0;
}

/* 0, -1 not a number, -2 too big. Decimal, or hex after 0x. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t u = 0;
    unsigned base = 10;
    size_t i = 0;

    if (len > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
        base = 16;
        i = 2;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        int d = hexval((unsigned char)s[i]);
        if (d < 0 || (unsigned)d >= base)
            return -1;
        if (u > (UINT64_MAX - (unsigned)d) / base)
            return -2;
        u = u * base + (unsigned)d;
    }
    *out = u;
    return 0;
}

static int bad_value(struct parser *p, const struct lit *v, uint32_t type,
                     const char *why)
{
    const char *name, *desc;
    type_info(type, &name, &desc);
    show(p->got, sizeof p->got, v->p, v->len);
    return fail(p, v->at, "field %s is %s (%s); %s %s", p->field, desc, name,
                p->got, why);
}

static int conv_u64(struct parser *p, const struct lit *v, uint32_t type,
                    uint64_t *out)
{
    int r;
    if (v->len && v->p[0] == '-' && parse_u64(v->p + 1, v->len - 1, out) != -1)
        return bad_value(p, v, type, "is negative");
    r = parse_u64(v->p, v->len, out);
    if (r == -1)
        return bad_value(p, v, type, "is not a number");
    if (r == -2)
        return bad_value(p, v, type,
                         "is out of range (at most 18446744073709551615)");
    return 0;
}

static int conv_i64(struct parser *p, const struct lit *v, uint32_t type,
                    int64_t *out)
{
    int neg = v->len && v->p[0] == '-';
    uint64_t u;
    int r = parse_u64(v->p + neg, v->len - (size_t)neg, &u);
    if (r == -1)
        return bad_value(p, v, type, "is not a number");
    if (r == -2 || u > (uint64_t)INT64_MAX + (uint64_t)neg)
        return bad_value(p, v, type,
                         "is out of range (-9223372036854775808 to "
                         "9223372036854775807)");
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

static int conv_bool(struct parser *p, const struct lit *v, uint64_t *out)
{
    if ((v->len == 4 && !memcmp(v->p, "true", 4)) ||
        (v->len == 1 && v->p[0] == '1'))
        *out = 1;
    else if ((v->len == 5 && !memcmp(v->p, "false", 5)) ||
             (v->len == 1 && v->p[0] == '0'))
        *out = 0;
    else
        return bad_value(p, v, TENON_FIELD_BOOL, "is not true, false, 1 or 0");
    return 0;
}

/* An IPv4 or IPv6 address, or a network in CIDR form (its host bits
 * cleared). */
static int conv_ip(struct parser *p, const struct lit *v, uint32_t type,
                   struct filter_ip *out)
{
    char buf[64];
    const char *slash;
    size_t alen = v->len;

    if (v->len >= sizeof buf || memchr(v->p, '\0', v->len))
        goto bad;
    memcpy(buf, v->p, v->len);
    buf[v->len] = '\0';
    if ((slash = strchr(buf, '/')))
        alen = (size_t)(slash - buf);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, out->b) == 1)
        out->len = 4;
    else if (inet_pton(AF_INET6, buf, out->b) == 1)
        out->len = 16;
    else
        goto bad;
    out->prefix = FILTER_ADDR;
    if (slash) {
        const char *d = slash + 1;
        size_t n = strlen(d);
        uint64_t bits;
        if (n == 0 || n > 3 || strspn(d, "0123456789") != n ||
            parse_u64(d, n, &bits) || (n > 1 && d[0] == '0') ||
            bits > out->len * 8u)
            return bad_value(p, v, type,
                             out->len == 4 ? "has a bad prefix length "
                                             "(0 to 32)"
                                           : "has a bad prefix length "
                                             "(0 to 128)");
        out->prefix = (uint8_t)bits;
        for (unsigned b = (unsigned)bits; b < out->len * 8u; b++)
            out->b[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    }
    return 0;
bad:
    return bad_value(p, v, type,
                     "is not an IPv4 or IPv6 address or a network such as "
                     "10.0.0.0/8");
}

/* One literal of an `in` list, stored into element `k` of p->tmp. */
static int conv_elem(struct parser *p, const struct filter_insn *in,
                     const struct lit *v, size_t k)
{
    size_t sz = in->kind == K_STR ? sizeof(struct filter_str)
                : in->kind == K_IP || in->kind == K_NET
                    ? sizeof(struct filter_ip)
                    : sizeof(uint64_t);
    if (tenon__grow(&p->tmp, &p->captmp, (k + 1) * sz, 1))
        return nomem(p);
    switch (in->kind) {
    case K_U64: return conv_u64(p, v, in->type, (uint64_t *)p->tmp + k);
    case K_I64: return conv_i64(p, v, in->type, (int64_t *)p->tmp + k);
    case K_STR:
        ((struct filter_str *)p->tmp)[k] =
            (struct filter_str){v->p, (uint32_t)v->len};
        return 0;
    default: return conv_ip(p, v, in->type, (struct filter_ip *)p->tmp + k);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    const struct filter_str *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->len ? memcmp(x->p, y->p, x->len) : 0;
}

/* The n values in p->tmp as the comparison's set: sorted and without
 * duplicates where the evaluator searches it. */
static int make_set(struct parser *p, struct filter_insn *in, size_t n)
{
    struct filter_set *set = chunk_alloc(&p->mem, sizeof *set);
    size_t sz = in->kind == K_STR ? sizeof(struct filter_str)
                : in->kind == K_IP || in->kind == K_NET
                    ? sizeof(struct filter_ip)
                    : sizeof(uint64_t);
    int (*cmp)(const void *, const void *) = in->kind == K_U64   ? cmp_u64
                                             : in->kind == K_I64 ? cmp_i64
                                             : in->kind == K_STR ? cmp_str
                                                                 : NULL;
    if (!set)
        return nomem(p);
    char *a = p->tmp;
    if (cmp && n > 1) {
        size_t w = 1;
        qsort(a, n, sz, cmp);
        for (size_t r = 1; r < n; r++)
            if (cmp(a + (w - 1) * sz, a + r * sz) != 0)
                memmove(a + w++ * sz, a + r * sz, sz);
        n = w;
    }
    void *copy = chunk_alloc(&p->mem, n * sz);
    if (!copy)
        return nomem(p);
    if (n)
        memcpy(copy, a, n * sz);
    set->n = (uint32_t)n;
    set->v.u64 = copy;
    in->v.set = set;
    return 0;
}

static int list_values(struct parser *p, struct filter_insn *in)
{
    const char *op = op_names[in->op];
    size_t n = 0, open;
    struct lit v;
    int rc;

    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return fail(p, p->pos,
                    "expected '(' and a list of values after '%s', "
                    "got %s",
                    op, got(p, p->pos));
    open = p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ')') {
        p->pos++;
        return make_set(p, in, 0);
    }
    for (;;) {
        if ((rc = value(p, &v, n ? "," : "(")) ||
            (rc = conv_elem(p, in, &v, n++)))
            return rc;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ')')
            break;
        return fail(p, p->pos,
                    "expected ',' or ')' in the list of values opened at "
                    "column %zu, got %s",
                    open + 1, got(p, p->pos));
    }
    p->pos++;
    return make_set(p, in, n);
}

static int one_value(struct parser *p, struct filter_insn *in)
{
    struct lit v;
    int rc = value(p, &v, op_names[in->op]);
    if (rc)
        return rc;
    switch (in->kind) {
    case K_U64: return conv_u64(p, &v, in->type, &in->v.u64);
    case K_I64: return conv_i64(p, &v, in->type, &in->v.i64);
    case K_BOOL: return conv_bool(p, &v, &in->v.u64);
    case K_STR:
    case K_BYTES:
        if (v.len > UINT32_MAX)
            return fail(p, v.at, "value too long");
        if (in->op == OP_ICONTAINS)
            for (size_t i = 0; i < v.len; i++)
                if ((unsigned)((unsigned char)v.p[i] - 'A') < 26u)
                    ((char *)v.p)[i] = (char)(v.p[i] + 32);
        in->v.str = (struct filter_str){v.p, (uint32_t)v.len};
        return 0;
    default: {
        struct filter_ip *ip = chunk_alloc(&p->mem, sizeof *ip);
        if (!ip)
            return nomem(p);
        in->v.ip = ip;
        return conv_ip(p, &v, in->type, ip);
    }
    }
}

/* ---- comparisons ----------------------------------------------------------
 */

static int resolve(struct parser *p, size_t at, size_t namelen, const char *arg,
                   size_t arglen, struct filter_insn *in)
{
    char why[TENON__REASON_MAX] = "";
    struct tenon__field_use use = {0};
    const char *tname, *tdesc;
    char *name = tenon__strndup(p->s + at, namelen);
    char *a = arg ? tenon__strndup(arg, arglen) : NULL;
    int rc = TENON_ENOMEM;

    if (name && (a || !arg))
        rc = p->resolve(p->ud, name, a, &use, why, sizeof why);
    why[sizeof why - 1] = '\0';
    free(name);
    free(a);
    if (rc == TENON_ENOMEM && !why[0])
        return nomem(p);
    if (rc < 0)
        return why[0] ? fail(p, at, "%s", why)
                      : fail(p, at, "unknown field %s", p->field);
    int kind = type_info(use.type, &tname, &tdesc);
    if (kind < 0)
        return fail(p, at,
                    "field %s has type %u, which a filter cannot "
                    "compare",
                    p->field, (unsigned)use.type);
    in->kind = (uint8_t)kind;
    in->type = use.type;
    in->slot = use.slot;
    in->list = (use.flags & TENON_FIELD_LIST) != 0;
    return 0;
}

static int operator(struct parser *p, struct filter_insn *in)
{
    size_t at = p->pos;
    for (size_t i = 0; i < NOPS; i++) {
        if (ops[i].word
                ? !keyword(p, ops[i].name)
                : strncmp(p->s + at, ops[i].name, strlen(ops[i].name)) != 0)
            continue;
        in->op = ops[i].op;
        p->pos += strlen(ops[i].name);
        if (kind_ops[in->kind] & BIT(in->op))
            return 0;
        char takes[128] = "";
        for (unsigned o = 0; o < OP_COUNT; o++)
            if (kind_ops[in->kind] & BIT(o)) {
                strcat(takes, takes[0] ? ", " : "");
                strcat(takes, op_names[o]);
            }
        const char *tname, *tdesc;
        type_info(in->type, &tname, &tdesc);
        return fail(p, at,
                    "operator '%s' does not apply to %s field %s (it takes "
                    "%s)",
                    op_names[in->op], tname, p->field, takes);
    }
    return fail(p, at, "expected a comparison operator after field %s, got %s",
                p->field, got(p, at));
}

/* field op value */
static int comparison(struct parser *p, uint32_t *out)
{
    size_t at = p->pos, namelen, arglen;
    const char *arg;
    int bad, rc;
    size_t n = tenon__field_token(p->s + at, &namelen, &arg, &arglen, &bad);

    if (bad)
        return fail(p, at + namelen,
                    "expected ']' to close the argument of "
                    "field '%.*s', got end of input",
                    (int)(namelen > 64 ? 64 : namelen), p->s + at);
    if (!n || keyword(p, "and") || keyword(p, "or"))
        return fail(p, at, "expected a condition, got %s", got(p, at));
    show(p->field, sizeof p->field, p->s + at, n);

    if (tenon__grow(&p->code, &p->capcode, p->ncode + 1, sizeof *p->code))
        return nomem(p);
    struct filter_insn in = {0};
    if ((rc = resolve(p, at, namelen, arg, arglen, &in)))
        return rc;
    p->pos = at + n;
    skip_ws(p);
    if ((rc = operator(p, &in)))
        return rc;
    if (in.op == OP_IN || in.op == OP_INTERSECTS)
        rc = list_values(p, &in);
    else if (in.op != OP_EXISTS)
        rc = one_value(p, &in);
    if (rc)
        return rc;
    if ((rc = new_node(p, N_LEAF, out)))
        return rc;
    p->nodes[*out].leaf = (uint32_t)p->ncode;
    p->code[p->ncode++] = in;
    return 0;
}

static int parse_or(struct parser *p, uint32_t *out);

static int deeper(struct parser *p, size_t at)
{
    if (++p->depth > MAX_DEPTH)
        return fail(p, at,
                    "expression nested too deeply (more than %d "
                    "levels of parentheses and 'not')",
                    MAX_DEPTH);
    return 0;
}

static int check(struct parser *p, uint32_t *out)
{
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return comparison(p, out);
    size_t open = p->pos++;
    int rc = deeper(p, open);
    if (rc || (rc = parse_or(p, out)))
        return rc;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ')')
        return fail(p, p->pos,
                    "expected ')' to close the '(' at column %zu, got %s",
                    open + 1, got(p, p->pos));
    p->pos++;
    p->depth--;
    return 0;
}

static int parse_not(struct parser *p, uint32_t *out)
{
    int nots = 0, rc;
    for (;;) {
        skip_ws(p);
        if (!keyword(p, "not"))
            break;
        if ((rc = deeper(p, p->pos)))
            return rc;
        nots++;
        p->pos += 3;
    }
    if ((rc = check(p, out)))
        return rc;
    p->depth -= nots;
    if (nots % 2) {
        uint32_t n;
        if ((rc = new_node(p, N_NOT, &n)))
            return rc;
        p->nodes[n].child = *out;
        *out = n;
    }
    return 0;
}

/* term { word term }, as one node of `kind` when there are several. */
static int chain(struct parser *p, uint32_t *out, const char *word,
                 uint8_t kind, int (*term)(struct parser *, uint32_t *))
{
    uint32_t first, n, c;
    int rc;

    if ((rc = term(p, &first)))
        return rc;
    skip_ws(p);
    if (!keyword(p, word)) {
        *out = first;
        return 0;
    }
    if ((rc = new_node(p, kind, &n)))
        return rc;
    p->nodes[n].child = first;
    while (skip_ws(p), keyword(p, word)) {
        p->pos += strlen(word);
        if ((rc = term(p, &c)))
            return rc;
        p->nodes[c].next = p->nodes[n].child;
        p->nodes[n].child = c;
    }
    *out = n;
    return 0;
}

static int parse_and(struct parser *p, uint32_t *out)
{
    return chain(p, out, "and", N_AND, parse_not);
}

static int parse_or(struct parser *p, uint32_t *out)
{
    return chain(p, out, "or", N_OR, parse_and);
}

/* ---- layout ---------------------------------------------------------------
 */

/* Point the comparisons of `n` at t (it holds) and f (it does not), and
 * return the first one to evaluate. Children are linked last first, so
 * each is laid out knowing where its successor starts. */
static uint32_t layout(struct parser *p, uint32_t n, uint32_t t, uint32_t f)
{
    struct node *nd = &p->nodes[n];
    uint32_t next;

    switch (nd->kind) {
    case N_LEAF:
        p->code[nd->leaf].t = t;
        p->code[nd->leaf].f = f;
        return nd->leaf;
    case N_NOT: return layout(p, nd->child, f, t);
    case N_AND:
        next = t;
        for (uint32_t c = nd->child; c != NONE; c = p->nodes[c].next)
            next = layout(p, c, next, f);
        return next;
    default:
        next = f;
        for (uint32_t c = nd->child; c != NONE; c = p->nodes[c].next)
            next = layout(p, c, t, next);
        return next;
    }
}

struct slot_seen {
    uint32_t slot, first;
};

static int cmp_seen(const void *a, const void *b)
{
    const struct slot_seen *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

static int cmp_first(const void *a, const void *b)
{
    const struct slot_seen *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* The distinct slots in order of first appearance; comparisons are
 * numbered in the order they appear. Sorting keeps this n log n for
 * filters with thousands of comparisons. */
static int collect_slots(struct parser *p, struct tenon__filter *f)
{
    struct slot_seen *s = malloc(p->ncode * sizeof *s);
    size_t w = 0;

    if (!s || !(f->slots = malloc(p->ncode * sizeof *f->slots))) {
        free(s);
        return nomem(p);
    }
    for (size_t i = 0; i < p->ncode; i++)
        s[i] = (struct slot_seen){p->code[i].slot, (uint32_t)i};
    qsort(s, p->ncode, sizeof *s, cmp_seen);
    for (size_t i = 0; i < p->ncode; i++)
        if (i == 0 || s[i].slot != s[i - 1].slot)
            s[w++] = s[i];
    qsort(s, w, sizeof *s, cmp_first);
    for (size_t i = 0; i < w; i++)
        f->slots[i] = s[i].slot;
    f->nslots = w;
    free(s);
    return 0;
}

/* ---- the API --------------------------------------------------------------
 */

void tenon__filter_free(struct tenon__filter *f)
{
    if (!f)
        return;
    while (f->mem) {
        struct filter_chunk *next = f->mem->next;
        free(f->mem);
        f->mem = next;
    }
    free(f->code);
    free(f->slots);
    free(f);
}

int tenon__filter_compile(const char *expr, tenon__resolve_fn resolve, void *ud,
                          struct tenon__filter **out, size_t *column, char *err,
                          size_t errlen)
{
    struct parser p = {.s = expr,
                       .resolve = resolve,
                       .ud = ud,
                       .err = err,
                       .errlen = errlen,
                       .column = column};
    struct tenon__filter *f = NULL;
    uint32_t root;
    int rc;

    *out = NULL;
    *column = 0;
    if (errlen)
        err[0] = '\0';
    p.len = strnlen(expr, MAX_EXPR + 1);
    if (p.len > MAX_EXPR) {
        rc = fail(&p, 0, "expression longer than %u bytes", MAX_EXPR);
        goto done;
    }
    if ((rc = parse_or(&p, &root)))
        goto done;
    skip_ws(&p);
    if (p.pos < p.len) {
        rc = fail(&p, p.pos, "expected 'and', 'or' or end of input, got %s",
                  got(&p, p.pos));
        goto done;
    }
    if (!(f = calloc(1, sizeof *f))) {
        rc = nomem(&p);
        goto done;
    }
    if ((rc = collect_slots(&p, f)))
        goto done;
    f->entry = layout(&p, root, FILTER_MATCH, FILTER_NOMATCH);
    f->code = p.code;
    f->ncode = (uint32_t)p.ncode;
    f->mem = p.mem;
    p.code = NULL;
    p.mem = NULL;
    *out = f;
    f = NULL;
done:
    tenon__filter_free(f);
    free(p.code);
    free(p.nodes);
    free(p.tmp);
    while (p.mem) {
        struct filter_chunk *next = p.mem->next;
        free(p.mem);
        p.mem = next;
    }
    return rc;
}
