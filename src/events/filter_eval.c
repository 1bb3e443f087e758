/*
 * Filter evaluation: one loop over the compiled comparisons, following
 * each one's jump, plus the matchers the comparisons use. Nothing here
 * allocates or parses: every literal was converted by the compiler.
 */
#include "filter_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- glob ----------------------------------------------------------------
 */

/* The bracket expression at pat[0] == '[' against byte c: 1 or 0, with the
 * bytes it covers in *adv; -1 when it has no closing ']', and the '[' is
 * then an ordinary byte, as fnmatch(3) has it. */
static int bracket(const unsigned char *pat, size_t plen, unsigned char c,
                   size_t *adv)
{
    size_t i = 1;
    int neg = 0, hit = 0;

    if (i < plen && (pat[i] == '!' || pat[i] == '^')) {
        neg = 1;
        i++;
    }
    size_t first = i;
    for (;;) {
        if (i >= plen)
            return -1;
        unsigned char lo = pat[i], hi;
        if (lo == ']' && i > first)
            break;
        if (lo == '\\' && i + 1 < plen)
            lo = pat[++i];
        hi = lo;
        if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
            i += 2;
            hi = pat[i];
            if (hi == '\\' && i + 1 < plen)
                hi = pat[++i];
        }
        if (c >= lo && c <= hi)
            hit = 1;
        i++;
    }
    *adv = i + 1;
    return hit != neg;
}

/* Where the token of a bracket expression at pat[i] ends, as bracket()
 * steps: a byte, or an escaped one, or a range lo-hi (either escaped). */
static size_t bracket_token_end(const unsigned char *pat, size_t plen, size_t i)
{
    if (pat[i] == '\\' && i + 1 < plen)
        i++;
    if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
        i += 2;
        if (pat[i] == '\\' && i + 1 < plen)
            i++;
    }
    return i + 1;
}

/* An unclosed '[' is an ordinary byte, but the matcher can only tell by
 * scanning to the end of the pattern, at every step of every backtrack:
 * O(len(pat)^2 * len(s)) for "*[[[[...x". So each one is escaped here,
 * once, found in linear time: close[i] is where a bracket's scan from
 * token i meets its ']' (NONE: never), and the scan's tokens do not
 * depend on where it started, so close[] fills from the right. */
int tenon__glob_prepare(struct filter_chunk **mem, const char *pattern,
                        size_t plen, const char **out, size_t *outlen)
{
    const unsigned char *pat = (const unsigned char *)pattern;
    const uint32_t NONE = UINT32_MAX;
    uint32_t *close;
    char *o;
    size_t n = 0;

    if (plen >= UINT32_MAX)
        return TENON_ENOMEM;
    if (!(close = malloc((plen + 1) * sizeof *close)))
        return TENON_ENOMEM;
    if (!(o = tenon__flt_alloc(mem, 2 * plen + 1))) {
        free(close);
        return TENON_ENOMEM;
    }
    close[plen] = NONE;
    for (size_t i = plen; i-- > 0;)
        close[i] = pat[i] == ']' ? (uint32_t)i
                                 : close[bracket_token_end(pat, plen, i)];
    for (size_t p = 0; p < plen;) {
        size_t first = p + 1, end = p + 1;
        if (pat[p] == '\\' && p + 1 < plen)
            end = p + 2;
        else if (pat[p] == '[') {
            if (first < plen && (pat[first] == '!' || pat[first] == '^'))
                first++;
            if (first >= plen ||
                close[bracket_token_end(pat, plen, first)] == NONE) {
                o[n++] = '\\';
            } else
                end = close[bracket_token_end(pat, plen, first)] + 1;
        }
        memcpy(o + n, pat + p, end - p);
        n += end - p;
        p = end;
    }
    free(close);
    *out = o;
    *outlen = n;
    return 0;
}

/* Backtracks only to the last '*' seen: an earlier star can never need to
 * cover more, since the later one covers any length. */
int tenon__glob_match(const char *pattern, size_t plen, const char *str,
                      size_t slen)
{
    const unsigned char *pat = (const unsigned char *)pattern;
    const unsigned char *s = (const unsigned char *)str;
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0, adv;

    while (i < slen) {
        if (p < plen) {
            unsigned char c = pat[p];
            if (c == '*') {
                star_p = ++p;
                star_i = i;
                continue;
            }
            if (c == '?') {
                p++;
                i++;
                continue;
            }
            int r = c == '[' ? bracket(pat + p, plen - p, s[i], &adv) : -1;
            if (r == 1) {
                p += adv;
                i++;
                continue;
            }
            if (r < 0) {
                adv = 1;
                if (c == '\\' && p + 1 < plen) {
                    c = pat[p + 1];
                    adv = 2;
                }
                if (c == s[i]) {
                    p += adv;
                    i++;
                    continue;
                }
            }
        }
        if (star_p == SIZE_MAX)
            return 0;
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* ---- one value ------------------------------------------------------------
 */

#define BSEARCH_MIN 8

/* Is x in a sorted set of numbers: a look at each when few, else a binary
 * search. One body for u64 and i64. */
#define FILTER_HAS(name, type, member)                                         \
    static int name(const struct filter_set *set, type x)                      \
    {                                                                          \
        const type *a = set->v.member;                                         \
        size_t lo = 0, hi = set->n;                                            \
        if (hi <= BSEARCH_MIN) {                                               \
            for (size_t k = 0; k < hi; k++)                                    \
                if (a[k] == x)                                                 \
                    return 1;                                                  \
            return 0;                                                          \
        }                                                                      \
        while (lo < hi) {                                                      \
            size_t mid = lo + (hi - lo) / 2;                                   \
            if (a[mid] == x)                                                   \
                return 1;                                                      \
            if (a[mid] < x)                                                    \
                lo = mid + 1;                                                  \
            else                                                               \
                hi = mid;                                                      \
        }                                                                      \
        return 0;                                                              \
    }
FILTER_HAS(has_u64, uint64_t, u64)
FILTER_HAS(has_i64, int64_t, i64)

static int str_cmp(const struct filter_str *a, const char *p, size_t len)
{
    if (a->len != len)
        return a->len < len ? -1 : 1;
    return len ? memcmp(a->p, p, len) : 0;
}

static int has_str(const struct filter_set *set, const char *p, size_t len)
{
    const struct filter_str *a = set->v.str;
    size_t lo = 0, hi = set->n;
    if (hi <= BSEARCH_MIN) {
        for (size_t k = 0; k < hi; k++)
            if (str_cmp(&a[k], p, len) == 0)
                return 1;
        return 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(&a[mid], p, len);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
}

/* ASCII case-insensitive search; `needle` is already lower case. */
static int icontains(const char *hay, size_t hlen, const struct filter_str *n)
{
    const unsigned char *h = (const unsigned char *)hay;
    const unsigned char *nd = (const unsigned char *)n->p;
    if (n->len == 0)
        return 1;
    for (size_t i = 0; i + n->len <= hlen; i++) {
        if (lower(h[i]) != nd[0])
            continue;
        size_t k = 1;
        while (k < n->len && lower(h[i + k]) == nd[k])
            k++;
        if (k == n->len)
            return 1;
    }
    return 0;
}

/* Out of line, like ip_op(), so that one() stays small enough for the
 * numbers to need no stack frame. */
__attribute__((noinline)) static int bytes_op(const struct filter_insn *in,
                                              const char *p, size_t len)
{
    const struct filter_str *c = &in->v.str;
    switch (in->op) {
    case OP_EQ: return str_cmp(c, p, len) == 0;
    case OP_NE: return str_cmp(c, p, len) != 0;
    case OP_CONTAINS:
        return c->len == 0 || (len && memmem(p, len, c->p, c->len) != NULL);
    case OP_ICONTAINS: return icontains(p, len, c);
    case OP_STARTSWITH:
        return len >= c->len && (!c->len || memcmp(p, c->p, c->len) == 0);
    case OP_ENDSWITH:
        return len >= c->len &&
               (!c->len || memcmp(p + len - c->len, c->p, c->len) == 0);
    case OP_GLOB: return tenon__glob_match(c->p, c->len, p, len);
    case OP_IN:
    case OP_INTERSECTS: return has_str(in->v.set, p, len);
    default: return 0;
    }
}

/* Whether the first `bits` bits of a and b agree. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* An address field's value against an address (equal) or a network (in
 * it). */
static int ip_is(const struct filter_ip *lit, const uint8_t *a, size_t len)
{
    if (len != lit->len)
        return 0;
    if (lit->prefix == FILTER_ADDR)
        return memcmp(a, lit->b, len) == 0;
    return prefix_eq(a, lit->b, lit->prefix);
}

/* A network field's value (address bytes, then the prefix length) against
 * an address (the network holds it) or a network (the same one). */
static int net_is(const struct filter_ip *lit, const uint8_t *a, size_t len)
{
    if (len != (size_t)lit->len + 1 || a[lit->len] > lit->len * 8)
        return 0;
    unsigned bits = a[lit->len];
    if (lit->prefix == FILTER_ADDR)
        return prefix_eq(a, lit->b, bits);
    return bits == lit->prefix && prefix_eq(a, lit->b, bits);
}

__attribute__((noinline)) static int ip_op(const struct filter_insn *in,
                                           const void *p, size_t len)
{
    int (*is)(const struct filter_ip *, const uint8_t *, size_t) =
        in->kind == K_IP ? ip_is : net_is;
    if (!p)
        return 0;
    switch (in->op) {
    case OP_EQ: return is(in->v.ip, p, len);
    case OP_NE: return !is(in->v.ip, p, len);
    case OP_IN:
    case OP_INTERSECTS:
        for (uint32_t k = 0; k < in->v.set->n; k++)
            if (is(&in->v.set->v.ip[k], p, len))
                return 1;
        return 0;
    default: return 0;
    }
}

/* A number against the comparison's literal or set. One body for u64
 * and i64. */
#define FILTER_NUM_OP(name, type, member, has)                                 \
    static int name(const struct filter_insn *in, type x)                      \
    {                                                                          \
        type c = in->v.member;                                                 \
        switch (in->op) {                                                      \
        case OP_EQ: return x == c;                                             \
        case OP_NE: return x != c;                                             \
        case OP_LT: return x < c;                                              \
        case OP_LE: return x <= c;                                             \
        case OP_GT: return x > c;                                              \
        case OP_GE: return x >= c;                                             \
        case OP_IN:                                                            \
        case OP_INTERSECTS: return has(in->v.set, x);                          \
        default: return 0;                                                     \
        }                                                                      \
    }
FILTER_NUM_OP(u64_op, uint64_t, u64, has_u64)
FILTER_NUM_OP(i64_op, int64_t, i64, has_i64)

/* Value k of v against the comparison. */
int tenon__filter_one(const struct filter_insn *in, const struct tenon__vals *v,
                      uint32_t k)
{
    switch (in->kind) {
    case K_U64: return u64_op(in, v->v.u64[k]);
    case K_I64: return i64_op(in, v->v.i64[k]);
    case K_BOOL: {
        uint64_t b = v->v.boolean[k] != 0;
        return in->op == OP_EQ ? b == in->v.u64 : b != in->v.u64;
    }
    case K_STR: {
        const char *s = v->v.str[k];
        return s ? bytes_op(in, s, strlen(s)) : 0;
    }
    case K_BYTES: {
        const struct tenon_bytes *b = &v->v.bytes[k];
        if (!b->ptr && b->len)
            return 0;
        return bytes_op(in, b->ptr ? b->ptr : "", b->len);
    }
    case K_IP:
    case K_NET: return ip_op(in, v->v.bytes[k].ptr, v->v.bytes[k].len);
    default: return 0;
    }
}

int tenon__filter_many(const struct filter_insn *in,
                       const struct tenon__vals *v)
{
    int all = in->list && in->op == OP_IN;
    for (uint32_t k = 0; k < v->count; k++) {
        int r = tenon__filter_one(in, v, k);
        if (r != all)
            return r;
    }
    return all;
}

int tenon__filter_eval(const struct tenon__filter *f, tenon__get_fn get,
                       void *ud)
{
    return tenon__filter_run(f, get, ud);
}

size_t tenon__filter_next(const struct tenon__filter *f, uint32_t slot,
                          uint32_t *out, size_t max)
{
    uint32_t i, steps = 0;
    size_t n = 0, lo = 0, hi = f->nslots;
    while (lo < hi) { /* the first comparison on `slot` */
        size_t mid = lo + (hi - lo) / 2;
        if (f->by_slot[mid].slot < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == f->nslots || f->by_slot[lo].slot != slot)
        return 0;
    i = f->by_slot[lo].first;
    /* jumps go forward, but a bound costs nothing */
    for (i = f->code[i].t; i < f->ncode && steps < f->ncode && n < max;
         i = f->code[i].t, steps++) {
        int seen = f->code[i].slot == slot;
        for (size_t k = 0; k < n && !seen; k++)
            seen = out[k] == f->code[i].slot;
        if (!seen)
            out[n++] = f->code[i].slot;
    }
    return n;
}

size_t tenon__filter_slots(const struct tenon__filter *f,
                           const uint32_t **slots)
{
    *slots = f->slots;
    return f->nslots;
}
