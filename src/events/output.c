/*
 * The output of matching events: a format ("%field" and "%field[arg]"
 * replaced by values, "<NA>" for a missing one) or a JSON object per
 * event. Values are fetched in one extract call per plugin before they
 * are written.
 */
#include "pipeline.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char default_format[] =
    "%evt.num %evt.time %evt.source %evt.plugin %evt.len";

static int add_piece(struct tenon_pipeline *pl, size_t *cap, const char *text,
                     size_t len, uint32_t slot)
{
    if (tenon__grow(&pl->pieces, cap, pl->npieces + 1, sizeof *pl->pieces))
        return TENON_ENOMEM;
    pl->pieces[pl->npieces++] = (struct tenon__piece){text, len, slot};
    return 0;
}

static int format_error(size_t *column, size_t col, int rc, const char *fmt,
                        const char *a)
{
    if (column)
        *column = col;
    return tenon__fail(rc, fmt, a);
}

int tenon__pl_output_compile(struct tenon_pipeline *pl, const char *format,
                             size_t *column)
{
    size_t cap = 0, lit = 0;
    const char *f;

    tenon__pl_output_free(pl);
    if (!format && pl->out_kind == TENON_OUTPUT_JSON)
        return 0;
    if (!(pl->format = tenon__strdup(format ? format : default_format)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    f = pl->format;
    for (size_t i = 0; f[i];) {
        size_t namelen = 0, arglen, n;
        const char *arg;
        char *name, *argcopy = NULL, why[TENON__REASON_MAX];
        struct tenon__field_use use;
        int bad = 0, rc;

        if (f[i] != '%') {
            i++;
            continue;
        }
        if (i > lit && add_piece(pl, &cap, f + lit, i - lit, 0))
            return tenon__fail(TENON_ENOMEM, "out of memory");
        if (f[i + 1] == '%') {
            if (add_piece(pl, &cap, f + i, 1, 0))
                return tenon__fail(TENON_ENOMEM, "out of memory");
            lit = i += 2;
            continue;
        }
        n = tenon__field_token(f + i + 1, &namelen, &arg, &arglen, &bad);
        if (n == 0) /* the column of the '%', or of the unclosed '[' */
            return format_error(
                column, bad ? i + 2 + namelen : i + 1, TENON_EINVAL, "%s",
                bad ? "unclosed '[' in the field after '%'"
                    : "expected a field name after '%' (write %% for a "
                      "percent sign)");
        name = tenon__strndup(f + i + 1, namelen);
        if (arg)
            argcopy = tenon__strndup(arg, arglen);
        if (!name || (arg && !argcopy)) {
            free(name), free(argcopy);
            return tenon__fail(TENON_ENOMEM, "out of memory");
        }
        rc = tenon__pl_resolve(pl, name, argcopy, &use, why, sizeof why);
        free(name), free(argcopy);
        if (rc)
            return format_error(column, i + 2, rc, "%s", why);
        if (add_piece(pl, &cap, NULL, 0, use.slot))
            return tenon__fail(TENON_ENOMEM, "out of memory");
        lit = i += 1 + n;
    }
    if (f[lit] && add_piece(pl, &cap, f + lit, strlen(f + lit), 0))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    return 0;
}

void tenon__pl_output_free(struct tenon_pipeline *pl)
{
    free(pl->format);
    free(pl->pieces);
    pl->format = NULL;
    pl->pieces = NULL;
    pl->npieces = 0;
}

/* ---- writing ---------------------------------------------------------------
 */

static int put(struct tenon_pipeline *pl, const char *s, size_t n)
{
    if (pl->outlen + n + 1 > pl->outcap) {
        size_t cap = pl->outcap ? pl->outcap : 256;
        char *b;
        while (cap < pl->outlen + n + 1)
            cap *= 2;
        if (!(b = realloc(pl->outbuf, cap)))
            return TENON_ENOMEM;
        pl->outbuf = b, pl->outcap = cap;
    }
    memcpy(pl->outbuf + pl->outlen, s, n);
    pl->outlen += n;
    pl->outbuf[pl->outlen] = '\0';
    return 0;
}

static int puts_(struct tenon_pipeline *pl, const char *s)
{
    return put(pl, s, strlen(s));
}

static int putf(struct tenon_pipeline *pl, const char *fmt, ...)
    TENON_PRINTF(2, 3);
static int putf(struct tenon_pipeline *pl, const char *fmt, ...)
{
    char b[96];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    return put(pl, b,
               n < 0                  ? 0
               : (size_t)n < sizeof b ? (size_t)n
                                      : sizeof b - 1);
}

/* Bytes as text: printable ASCII as it is, anything else as \xHH (and a
 * backslash as \\), so that what is shown is what was there. */
static int put_bytes(struct tenon_pipeline *pl, const unsigned char *p,
                     size_t n, int json)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] == '\\')
            rc = puts_(pl, json ? "\\\\\\\\" : "\\\\");
        else if (json && p[i] == '"')
            rc = puts_(pl, "\\\"");
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            rc = put(pl, (const char *)p + i, 1);
        else
            rc = putf(pl, json ? "\\\\x%02x" : "\\x%02x", p[i]);
    }
    return rc;
}

/* Bytes as a JSON string of their text form. */
static int put_json_bytes(struct tenon_pipeline *pl, const void *p, size_t n)
{
    int rc = put(pl, "\"", 1);
    if (!rc && n)
        rc = put_bytes(pl, p, n, 1);
    return rc ? rc : put(pl, "\"", 1);
}

/* Characters a terminal may act on, escaped in JSON as text output
 * escapes them: C0 and C1 controls, DEL, the line and paragraph
 * separators and the bidirectional formatting characters. */
static int json_escape_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
           cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* A JSON string: valid UTF-8 as it is, control characters escaped, each
 * byte that is not UTF-8 as U+FFFD. */
static int put_json_string(struct tenon_pipeline *pl, const char *s)
{
    int rc = put(pl, "\"", 1);
    while (*s && !rc) {
        uint32_t cp;
        size_t n = tenon__utf8_next(s, &cp);
        unsigned char c = (unsigned char)*s;
        if (n == 0) {
            rc = puts_(pl, "\\ufffd");
            s++;
        } else if (c == '"' || c == '\\') {
            rc = putf(pl, "\\%c", c);
            s++;
        } else if (json_escape_cp(cp)) {
            rc = putf(pl, "\\u%04x", (unsigned)cp);
            s += n;
        } else {
            rc = put(pl, s, n);
            s += n;
        }
    }
    return rc ? rc : put(pl, "\"", 1);
}

static int put_clock(struct tenon_pipeline *pl, uint64_t ns, int date)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    char b[32];
    if (!localtime_r(&sec, &tm) ||
        !strftime(b, sizeof b, date ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm))
        return puts_(pl, "?");
    return putf(pl, "%s.%09u", b, (unsigned)(ns % 1000000000u));
}

static int put_ip(struct tenon_pipeline *pl, const struct tenon_bytes *b,
                  int net, int json)
{
    char text[INET6_ADDRSTRLEN + 8];
    const unsigned char *p = b->ptr;
    /* Falco's form of a network is an address alone: a /32 or /128 */
    int prefix = net && (b->len == 5 || b->len == 17);
    uint32_t alen = b->len - (prefix ? 1 : 0);
    if (!p) /* a plugin's mistake: shown as missing, never followed */
        return puts_(pl, json ? "null" : "<NA>");
    if ((alen != 4 && alen != 16) || (prefix && p[alen] > alen * 8) ||
        !inet_ntop(alen == 4 ? AF_INET : AF_INET6, p, text, INET6_ADDRSTRLEN))
        return json ? put_json_bytes(pl, p, b->len)
                    : put_bytes(pl, p, b->len, 0);
    if (prefix)
        snprintf(text + strlen(text), 8, "/%u", p[alen]);
    return json ? put_json_string(pl, text) : puts_(pl, text);
}

/* Value `i` of `v`; `clock` for evt.time's text form. */
static int put_value(struct tenon_pipeline *pl, const struct tenon__vals *v,
                     uint32_t i, int json, int clock)
{
    switch (v->type) {
    case TENON_FIELD_U64:
    case TENON_FIELD_RELTIME: return putf(pl, "%" PRIu64, v->v.u64[i]);
    case TENON_FIELD_ABSTIME:
        return json ? putf(pl, "%" PRIu64, v->v.u64[i])
                    : put_clock(pl, v->v.u64[i], !clock);
    case TENON_FIELD_I64: return putf(pl, "%" PRId64, v->v.i64[i]);
    case TENON_FIELD_BOOL: return puts_(pl, v->v.boolean[i] ? "true" : "false");
    case TENON_FIELD_STRING: {
        const char *s = v->v.str[i] ? v->v.str[i] : "";
        return json ? put_json_string(pl, s) : puts_(pl, s);
    }
    case TENON_FIELD_IPADDR:
    case TENON_FIELD_IPNET:
        return put_ip(pl, &v->v.bytes[i], v->type == TENON_FIELD_IPNET, json);
    default: { /* bytes, and types this host does not know */
        const struct tenon_bytes *b = &v->v.bytes[i];
        if (!b->ptr && b->len)
            return puts_(pl, json ? "null" : "<NA>");
        return json ? put_json_bytes(pl, b->ptr, b->len)
                    : put_bytes(pl, b->ptr, b->len, 0);
    }
    }
}

static int put_slot(struct tenon_pipeline *pl, uint32_t slot, int json)
{
    struct tenon__slot *s = &pl->slots[slot];
    struct tenon__vals v;
    int rc = 0, list = s->req.flist;
    int clock = s->builtin >= 0 && strcmp(s->req.field, "evt.time") == 0;

    if (tenon__pl_get(pl, slot, &v) < 0 || v.count == 0)
        return puts_(pl, json ? "null" : "<NA>");
    if (list)
        rc = put(pl, json ? "[" : "(", 1);
    for (uint32_t i = 0; i < v.count && !rc; i++) {
        if (i)
            rc = put(pl, ",", 1);
        if (!rc)
            rc = put_value(pl, &v, i, json, clock);
        if (!list)
            break;
    }
    if (!rc && list)
        rc = put(pl, json ? "]" : ")", 1);
    return rc;
}

int tenon__pl_render(struct tenon_pipeline *pl)
{
    int rc = 0;
    pl->outlen = 0;
    if (pl->out_kind == TENON_OUTPUT_JSON) {
        tenon__pl_fetch(pl, pl->out_slots, pl->nout_slots);
        rc = put(pl, "{", 1);
        for (size_t i = 0; i < pl->nout_slots && !rc; i++) {
            if (i)
                rc = put(pl, ",", 1);
            if (!rc)
                rc = put_json_string(pl, pl->slots[pl->out_slots[i]].text);
            if (!rc)
                rc = put(pl, ":", 1);
            if (!rc)
                rc = put_slot(pl, pl->out_slots[i], 1);
        }
        return rc ? rc : put(pl, "}", 1);
    }
    tenon__pl_fetch(pl, pl->out_slots, pl->nout_slots);
    for (size_t i = 0; i < pl->npieces && !rc; i++)
        rc = pl->pieces[i].text ? put(pl, pl->pieces[i].text, pl->pieces[i].len)
                                : put_slot(pl, pl->pieces[i].slot, 0);
    return rc;
}
