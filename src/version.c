/* Semantic versions (semver.org 2.0.0): parsing and precedence. */
#include "internal.h"

#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-';
}

/* A numeric field: digits, no leading zero unless it is "0". */
static const char *number(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!is_digit(*p) || (p[0] == '0' && is_digit(p[1])))
        return NULL;
    for (; is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

/* Dot-separated identifiers; numeric ones without leading zeros when
 * `strict_numeric` (pre-release), any for build metadata. */
static const char *identifiers(const char *p, int strict_numeric)
{
    for (;;) {
        const char *start = p;
        int all_digits = 1;
        while (is_ident_char(*p)) {
            all_digits &= is_digit(*p);
            p++;
        }
        if (p == start)
            return NULL;
        if (strict_numeric && all_digits && p - start > 1 && *start == '0')
            return NULL;
        if (*p != '.')
            return p;
        p++;
    }
}

int tenon__semver_parse(const char *s, struct tenon__semver *v)
{
    const char *p = s;
    memset(v, 0, sizeof *v);
    if (!(p = number(p, &v->major)) || *p++ != '.' ||
        !(p = number(p, &v->minor)) || *p++ != '.' ||
        !(p = number(p, &v->patch)))
        return TENON_EINVAL;
    if (*p == '-') {
        v->pre = p + 1;
        if (!(p = identifiers(p + 1, 1)))
            return TENON_EINVAL;
        v->pre_len = (size_t)(p - v->pre);
    }
    if (*p == '+' && !(p = identifiers(p + 1, 0)))
        return TENON_EINVAL;
    return *p == '\0' ? 0 : TENON_EINVAL;
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* One pre-release identifier against another: numeric ones compare as
 * numbers and sort before alphanumeric ones. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    int anum = 1, bnum = 1;
    for (size_t i = 0; i < an; i++)
        anum &= is_digit(a[i]);
    for (size_t i = 0; i < bn; i++)
        bnum &= is_digit(b[i]);
    if (anum && bnum) {
        if (an != bn) /* no leading zeros: longer is larger */
            return an < bn ? -1 : 1;
        return memcmp(a, b, an) < 0 ? -1 : memcmp(a, b, an) > 0;
    }
    if (anum != bnum)
        return anum ? -1 : 1;
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c < 0 ? -1 : 1;
    return cmp_u64(an, bn);
}

int tenon__semver_cmp(const struct tenon__semver *a,
                      const struct tenon__semver *b)
{
    int c;
    if ((c = cmp_u64(a->major, b->major)) ||
        (c = cmp_u64(a->minor, b->minor)) || (c = cmp_u64(a->patch, b->patch)))
        return c;
    if (!a->pre || !b->pre) /* a release sorts after its pre-releases */
        return (a->pre == NULL) - (b->pre == NULL);
    const char *pa = a->pre, *ea = a->pre + a->pre_len;
    const char *pb = b->pre, *eb = b->pre + b->pre_len;
    while (pa < ea && pb < eb) {
        const char *da = memchr(pa, '.', (size_t)(ea - pa));
        const char *db = memchr(pb, '.', (size_t)(eb - pb));
        if (!da)
            da = ea;
        if (!db)
            db = eb;
        if ((c = cmp_ident(pa, (size_t)(da - pa), pb, (size_t)(db - pb))))
            return c;
        pa = da < ea ? da + 1 : ea;
        pb = db < eb ? db + 1 : eb;
    }
    return (pa < ea) - (pb < eb);
}
