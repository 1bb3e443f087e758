/*
 * The filter's lexical side: field references, keywords, quoted and bare
 * values, and their conversion to the types of fields (numbers, booleans,
 * addresses and networks), with the messages that point at a column.
 * Shared with the parser (filter_parse.c) through filter_int.h.
 */
#include "filter_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- memory for literals --------------------------------------------------
 */

/* Chunks double from 256 bytes up to 64 KiB: most filters have a few
 * short literals, some have a list of thousands. */
#define CHUNK_FIRST 256u
#define CHUNK_MAX   (64u * 1024u)

void *tenon__flt_alloc(struct filter_chunk **mem, size_t n)
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

void tenon__flt_free_mem(struct filter_chunk *mem)
{
    while (mem) {
        struct filter_chunk *next = mem->next;
        free(mem);
        mem = next;
    }
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

/* ---- messages and tokens -------------------------------------------------
 */

int tenon__flt_fail(struct parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->errlen)
        vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    *p->column = at + 1;
    return TENON_EINVAL;
}

int tenon__flt_nomem(struct parser *p)
{
    tenon__flt_fail(p, p->pos, "out of memory");
    return TENON_ENOMEM;
}

/* `n` bytes of `s` for a message: quoted, control and non-ASCII bytes as
 * \xHH, cut short with "..." when long. */
void tenon__flt_show(char *out, size_t outlen, const char *s, size_t n)
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
const char *tenon__flt_got(struct parser *p, size_t at)
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
    tenon__flt_show(p->got, sizeof p->got, p->s + at, n);
    return p->got;
}

void tenon__flt_skip_ws(struct parser *p)
{
    while (p->pos < p->len && is_space((unsigned char)p->s[p->pos]))
        p->pos++;
}

/* The keyword `w` at the cursor, as a whole word. */
int tenon__flt_keyword(struct parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
        return 0;
    if (p->pos + n < p->len &&
        (name_char((unsigned char)p->s[p->pos + n]) || p->s[p->pos + n] == '['))
        return 0;
    return 1;
}

/* ---- types ---------------------------------------------------------------
 */

int tenon__flt_type_info(uint32_t type, const char **name, const char **desc)
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
        return tenon__flt_fail(
            p, start, "unterminated string starting at column %zu", start + 1);
    char *out = tenon__flt_alloc(&p->mem, end - i + 1);
    size_t o = 0;
    if (!out)
        return tenon__flt_nomem(p);
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
            tenon__flt_show(p->got, sizeof p->got, p->s + i,
                            p->s[i + 1] == 'x' ? (end - i < 4 ? end - i : 4)
                                               : 2);
            return tenon__flt_fail(
                p, i,
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
int tenon__flt_value(struct parser *p, struct lit *v, const char *after)
{
    tenon__flt_skip_ws(p);
    if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '\''))
        return quoted(p, v);
    size_t n = 0;
    while (p->pos + n < p->len && !is_space((unsigned char)p->s[p->pos + n]) &&
           !strchr("(),\"'", p->s[p->pos + n]))
        n++;
    if (!n)
        return tenon__flt_fail(p, p->pos, "expected a value after '%s', got %s",
                               after, tenon__flt_got(p, p->pos));
    char *out = tenon__flt_alloc(&p->mem, n + 1);
    if (!out)
        return tenon__flt_nomem(p);
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
    tenon__flt_type_info(type, &name, &desc);
    tenon__flt_show(p->got, sizeof p->got, v->p, v->len);
    return tenon__flt_fail(p, v->at, "field %s is %s (%s); %s %s", p->field,
                           desc, name, p->got, why);
}

int tenon__flt_conv_u64(struct parser *p, const struct lit *v, uint32_t type,
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

int tenon__flt_conv_i64(struct parser *p, const struct lit *v, uint32_t type,
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

int tenon__flt_conv_bool(struct parser *p, const struct lit *v, uint64_t *out)
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
int tenon__flt_conv_ip(struct parser *p, const struct lit *v, uint32_t type,
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
