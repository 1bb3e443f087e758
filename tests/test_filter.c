/*
 * The filter language: every operator on every type it applies to, not /
 * and / or precedence, short-circuiting, missing fields, list fields,
 * field arguments, escapes, addresses and networks, glob, and the errors
 * of malformed filters with their columns.
 *
 * The filter is a pure function of its resolver and getter, so the test
 * brings its own: a table of fields of every type, and events that are
 * tables of values per field.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "events/filter_int.h"
#include "testutil.h"

enum {
    S_U64,
    S_I64,
    S_STR,
    S_BOOL,
    S_BYTES,
    S_REL,
    S_ABS,
    S_IP,
    S_NET,
    S_LIST,
    S_NUMS,
    S_IPS,
    S_ARG,
    S_MISSING,
    S_FAIL,
    S_U64B,
    S_WRONG,
    NSLOTS
};

static const struct {
    const char *name;
    uint32_t type, flags;
} fields[NSLOTS] = {
    [S_U64] = {"t.u64", TENON_FIELD_U64, 0},
    [S_I64] = {"t.i64", TENON_FIELD_I64, 0},
    [S_STR] = {"t.str", TENON_FIELD_STRING, 0},
    [S_BOOL] = {"t.bool", TENON_FIELD_BOOL, 0},
    [S_BYTES] = {"t.bytes", TENON_FIELD_BYTES, 0},
    [S_REL] = {"t.rel", TENON_FIELD_RELTIME, 0},
    [S_ABS] = {"t.abs", TENON_FIELD_ABSTIME, 0},
    [S_IP] = {"t.ip", TENON_FIELD_IPADDR, 0},
    [S_NET] = {"t.net", TENON_FIELD_IPNET, 0},
    [S_LIST] = {"t.list", TENON_FIELD_STRING, TENON_FIELD_LIST},
    [S_NUMS] = {"t.nums", TENON_FIELD_U64, TENON_FIELD_LIST},
    [S_IPS] = {"t.ips", TENON_FIELD_IPADDR, TENON_FIELD_LIST},
    [S_ARG] = {"t.arg", TENON_FIELD_STRING, TENON_FIELD_ARG_REQ},
    [S_MISSING] = {"t.missing", TENON_FIELD_U64, 0},
    [S_FAIL] = {"t.fail", TENON_FIELD_U64, 0},
    [S_U64B] = {"t.u64b", TENON_FIELD_U64, 0},
    [S_WRONG] = {"t.wrong", TENON_FIELD_STRING, 0},
};

/* The argument the resolver saw last, verbatim. */
static char last_arg[256];
static int last_arg_null;

static int resolve(void *ud, const char *name, const char *arg,
                   struct tenon__field_use *out, char *why, size_t whylen)
{
    (void)ud;
    for (uint32_t i = 0; i < NSLOTS; i++) {
        if (strcmp(fields[i].name, name) != 0)
            continue;
        if ((fields[i].flags & TENON_FIELD_ARG_REQ) && !arg)
            return tenon__reason(why, whylen, TENON_EINVAL,
                                 "field '%s' needs an argument, as in "
                                 "%s[/key]",
                                 name, name);
        if (!(fields[i].flags & TENON_FIELD_ARG_REQ) && arg)
            return tenon__reason(why, whylen, TENON_EINVAL,
                                 "field '%s' takes no argument", name);
        last_arg_null = !arg;
        snprintf(last_arg, sizeof last_arg, "%s", arg ? arg : "");
        out->slot = i;
        out->type = fields[i].type;
        out->flags = fields[i].flags;
        return 0;
    }
    return tenon__reason(why, whylen, TENON_EINVAL, "unknown field '%s'", name);
}

/* ---- events -------------------------------------------------------------- */

#define MAXV 4

struct event {
    uint32_t count[NSLOTS];
    uint64_t u64[NSLOTS][MAXV];
    int64_t i64[NSLOTS][MAXV];
    const char *str[NSLOTS][MAXV];
    uint32_t b[NSLOTS][MAXV];
    struct tenon_bytes bytes[NSLOTS][MAXV];
    uint8_t raw[NSLOTS][MAXV][17];
    unsigned calls[NSLOTS];
};

static int get(void *ud, uint32_t slot, struct tenon__vals *out)
{
    struct event *e = ud;
    assert_true(slot < NSLOTS);
    e->calls[slot]++;
    if (slot == S_FAIL)
        return TENON_EPLUGIN;
    out->type = fields[slot].type;
    out->count = e->count[slot];
    if (slot == S_WRONG) {
        /* A getter that reports another type than the resolver did. */
        out->type = TENON_FIELD_U64;
        out->v.u64 = e->u64[slot];
        return 0;
    }
    switch (fields[slot].type) {
    case TENON_FIELD_STRING: out->v.str = e->str[slot]; break;
    case TENON_FIELD_I64: out->v.i64 = e->i64[slot]; break;
    case TENON_FIELD_BOOL: out->v.boolean = e->b[slot]; break;
    case TENON_FIELD_BYTES:
    case TENON_FIELD_IPADDR:
    case TENON_FIELD_IPNET: out->v.bytes = e->bytes[slot]; break;
    default: out->v.u64 = e->u64[slot]; break;
    }
    return 0;
}

static void add_u64(struct event *e, int slot, uint64_t v)
{
    e->u64[slot][e->count[slot]++] = v;
}

static void add_str(struct event *e, int slot, const char *s)
{
    e->str[slot][e->count[slot]++] = s;
}

static void add_bytes(struct event *e, int slot, const void *p, uint32_t n)
{
    e->bytes[slot][e->count[slot]++] = (struct tenon_bytes){n, p};
}

/* An address, or with "/n" a network as an ipnet value. */
static void add_ip(struct event *e, int slot, const char *text)
{
    char buf[64];
    uint32_t k = e->count[slot];
    uint8_t *raw = e->raw[slot][k];
    const char *slash = strchr(text, '/');
    snprintf(buf, sizeof buf, "%.*s",
             (int)(slash ? (size_t)(slash - text) : strlen(text)), text);
    uint32_t n = strchr(buf, ':') ? 16 : 4;
    assert_int_equal(inet_pton(n == 4 ? AF_INET : AF_INET6, buf, raw), 1);
    if (slash)
        raw[n++] = (uint8_t)atoi(slash + 1);
    add_bytes(e, slot, raw, n);
}

static struct event base;

static int setup(void **state)
{
    (void)state;
    memset(&base, 0, sizeof base);
    add_u64(&base, S_U64, 42);
    base.i64[S_I64][base.count[S_I64]++] = -7;
    add_str(&base, S_STR, "Hello World");
    base.b[S_BOOL][base.count[S_BOOL]++] = 1;
    add_bytes(&base, S_BYTES, "ab\0cd", 5);
    add_u64(&base, S_REL, 1000);
    add_u64(&base, S_ABS, 1700000000000000000ull);
    add_ip(&base, S_IP, "192.168.1.20");
    add_ip(&base, S_NET, "10.0.0.0/8");
    add_str(&base, S_LIST, "alpha");
    add_str(&base, S_LIST, "beta");
    add_str(&base, S_LIST, "gamma");
    add_u64(&base, S_NUMS, 1);
    add_u64(&base, S_NUMS, 5);
    add_u64(&base, S_NUMS, 9);
    add_ip(&base, S_IPS, "10.1.2.3");
    add_ip(&base, S_IPS, "::1");
    add_str(&base, S_ARG, "argval");
    add_u64(&base, S_FAIL, 1);
    add_u64(&base, S_U64B, 7);
    add_u64(&base, S_WRONG, 7);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static struct tenon__filter *compile(const char *expr)
{
    struct tenon__filter *f = NULL;
    size_t col = 0;
    char err[512];
    int rc =
        tenon__filter_compile(expr, resolve, NULL, &f, &col, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s' does not compile: column %zu: %s", expr, col, err);
    return f;
}

/* Whether `expr` matches event `e`. */
static int eval_on(const char *expr, struct event *e)
{
    struct tenon__filter *f = compile(expr);
    int r = tenon__filter_eval(f, get, e);
    tenon__filter_free(f);
    return r;
}

static int match(const char *expr) { return eval_on(expr, &base); }

#define YES(expr)                                                              \
    do {                                                                       \
        if (!match(expr))                                                      \
            fail_msg("'%s' should match", expr);                               \
    } while (0)
#define NO(expr)                                                               \
    do {                                                                       \
        if (match(expr))                                                       \
            fail_msg("'%s' should not match", expr);                           \
    } while (0)

/* `expr` fails at `col` with a message containing `want`. */
static void bad(const char *expr, size_t col, const char *want)
{
    struct tenon__filter *f = NULL;
    size_t got_col = 0;
    char err[512];
    int rc = tenon__filter_compile(expr, resolve, NULL, &f, &got_col, err,
                                   sizeof err);
    if (rc == 0) {
        tenon__filter_free(f);
        fail_msg("'%s' compiled", expr);
    }
    assert_int_equal(rc, TENON_EINVAL);
    assert_null(f);
    if (got_col != col)
        fail_msg("'%s': column %zu, want %zu (%s)", expr, got_col, col, err);
    assert_contains(err, want);
}

/* ---- operators by type --------------------------------------------------- */

static void unsigned_numbers(void **state)
{
    (void)state;
    YES("t.u64 = 42");
    YES("t.u64 == 42");
    YES("t.u64=42");
    YES("t.u64 = 0x2a");
    YES("t.u64 = 0X2A");
    YES("t.u64 = '42'");
    NO("t.u64 = 41");
    YES("t.u64 != 41");
    NO("t.u64 != 42");
    YES("t.u64 < 43");
    NO("t.u64 < 42");
    YES("t.u64 <= 42");
    NO("t.u64 <= 41");
    YES("t.u64 > 41");
    NO("t.u64 > 42");
    YES("t.u64 >= 42");
    NO("t.u64 >= 43");
    YES("t.u64 in (1, 42, 3)");
    NO("t.u64 in (1, 2, 3)");
    YES("t.u64 intersects (42)");
    NO("t.u64 intersects (4)");
    NO("t.u64 in ()");
    YES("t.u64 exists");
    YES("t.u64 < 18446744073709551615");
    YES("t.rel = 1000 and t.rel < 1001 and t.rel in (5, 1000)");
    YES("t.abs > 1699999999999999999 and t.abs <= 1700000000000000000");
    NO("t.abs < 1000");
}

static void signed_numbers(void **state)
{
    (void)state;
    YES("t.i64 = -7");
    NO("t.i64 = 7");
    YES("t.i64 != 7");
    YES("t.i64 < 0");
    YES("t.i64 < -6");
    NO("t.i64 < -7");
    YES("t.i64 <= -7");
    YES("t.i64 > -8");
    NO("t.i64 > -7");
    YES("t.i64 >= -7");
    YES("t.i64 > -9223372036854775808");
    YES("t.i64 < 9223372036854775807");
    YES("t.i64 in (-7, 3)");
    NO("t.i64 in (7, 3)");
    YES("t.i64 intersects (-7)");
    YES("t.i64 exists");

    struct event e = {0};
    e.i64[S_I64][e.count[S_I64]++] = INT64_MIN;
    assert_true(eval_on("t.i64 = -9223372036854775808", &e));
    assert_true(eval_on("t.i64 = -0x8000000000000000", &e));
}

static void strings(void **state)
{
    (void)state;
    YES("t.str = 'Hello World'");
    YES("t.str = \"Hello World\"");
    NO("t.str = Hello");
    NO("t.str = 'Hello World '");
    YES("t.str != Hello");
    NO("t.str != 'Hello World'");
    YES("t.str contains World");
    YES("t.str contains 'o W'");
    NO("t.str contains world");
    YES("t.str contains ''");
    YES("t.str icontains world");
    YES("t.str icontains 'HELLO WORLD'");
    NO("t.str icontains worlds");
    YES("t.str startswith Hell");
    NO("t.str startswith ello");
    YES("t.str startswith ''");
    YES("t.str endswith orld");
    NO("t.str endswith Worl");
    NO("t.str endswith 'xHello World'");
    YES("t.str glob 'Hello*'");
    YES("t.str glob '*o W*'");
    YES("t.str glob 'H?llo [Ww]orld'");
    NO("t.str glob 'hello*'");
    YES("t.str in (a, 'Hello World', b)");
    NO("t.str in (a, Hello, b)");
    YES("t.str intersects ('Hello World')");
    YES("t.str exists");

    struct event e = {0};
    add_str(&e, S_STR, "");
    assert_true(eval_on("t.str = ''", &e));
    assert_false(eval_on("t.str = a", &e));
    assert_true(eval_on("t.str glob '*'", &e));
    assert_false(eval_on("t.str glob '?'", &e));
    /* A bare word is a string too, up to a space, parenthesis or comma. */
    memset(&e, 0, sizeof e);
    add_str(&e, S_STR, "/usr/bin/cat=1");
    assert_true(eval_on("t.str=/usr/bin/cat=1", &e));
    assert_true(eval_on("t.str in (x,/usr/bin/cat=1)", &e));
}

static void booleans(void **state)
{
    (void)state;
    YES("t.bool = true");
    YES("t.bool = 1");
    NO("t.bool = false");
    NO("t.bool = 0");
    YES("t.bool != false");
    NO("t.bool != true");
    YES("t.bool exists");

    struct event e = {0};
    e.b[S_BOOL][e.count[S_BOOL]++] = 0;
    assert_true(eval_on("t.bool = false", &e));
    assert_false(eval_on("t.bool = true", &e));
}

static void bytes(void **state)
{
    (void)state;
    YES("t.bytes = 'ab\\x00cd'");
    NO("t.bytes = 'ab'");
    NO("t.bytes = abcd");
    YES("t.bytes != abcd");
    YES("t.bytes contains '\\x00c'");
    YES("t.bytes startswith 'ab\\x00'");
    YES("t.bytes endswith cd");
    NO("t.bytes endswith bcd");
    YES("t.bytes exists");
    /* A NUL in a string value: never equal to a NUL-terminated string. */
    NO("t.str = 'Hello\\x00World'");
}

static void addresses(void **state)
{
    (void)state;
    YES("t.ip = 192.168.1.20");
    YES("t.ip = '192.168.1.20'");
    NO("t.ip = 192.168.1.21");
    YES("t.ip != 192.168.1.21");
    YES("t.ip = 192.168.0.0/16");
    YES("t.ip = 192.168.1.20/32");
    YES("t.ip = 0.0.0.0/0");
    NO("t.ip = 192.168.2.0/24");
    YES("t.ip != 192.168.2.0/24");
    NO("t.ip = ::1");
    NO("t.ip = ::/0");
    YES("t.ip in (10.0.0.0/8, 192.168.1.0/24)");
    NO("t.ip in (10.0.0.0/8, ::1)");
    YES("t.ip intersects (192.168.1.20)");
    YES("t.ip exists");
    /* Host bits of a written network do not matter. */
    YES("t.ip = 192.168.1.99/24");

    struct event e = {0};
    add_ip(&e, S_IP, "2001:db8::5");
    assert_true(eval_on("t.ip = 2001:db8::5", &e));
    assert_true(eval_on("t.ip = 2001:DB8:0:0:0:0:0:5", &e));
    assert_true(eval_on("t.ip = 2001:db8::/32", &e));
    assert_true(eval_on("t.ip = 2001:db8::4/127", &e));
    assert_false(eval_on("t.ip = 2001:db8::4/128", &e));
    assert_false(eval_on("t.ip = 2001:db9::/32", &e));
    assert_false(eval_on("t.ip = 0.0.0.0/0", &e));

    /* Networks: an address is in it, a network is the same one. */
    YES("t.net = 10.1.2.3");
    NO("t.net = 11.1.2.3");
    YES("t.net = 10.0.0.0/8");
    YES("t.net = 10.9.9.9/8");
    NO("t.net = 10.0.0.0/16");
    YES("t.net != 10.0.0.0/16");
    NO("t.net = ::1");
    YES("t.net in (1.2.3.4, 10.200.0.1)");
    memset(&e, 0, sizeof e);
    add_ip(&e, S_NET, "fd00::/8");
    assert_true(eval_on("t.net = fd12::1", &e));
    assert_false(eval_on("t.net = fe00::1", &e));
    assert_true(eval_on("t.net = fd00::/8", &e));
    /* A value the getter got wrong (a prefix past the address) matches
     * nothing. */
    memset(&e, 0, sizeof e);
    add_ip(&e, S_NET, "10.0.0.0/8");
    e.raw[S_NET][0][4] = 33;
    assert_false(eval_on("t.net = 10.0.0.1", &e));
}

/* ---- logic --------------------------------------------------------------- */

static void precedence(void **state)
{
    (void)state;
    char buf[256];
    /* or is lowest: F or T and T == F or (T and T). */
    YES("t.u64 = 1 or t.u64 = 42 and t.i64 = -7");
    /* If it bound tighter than and, this would be (T or T) and F = false. */
    YES("t.u64 = 42 or t.u64 = 42 and t.u64 = 1");
    NO("(t.u64 = 42 or t.u64 = 42) and t.u64 = 1");
    /* not binds to the next check only. */
    YES("not t.u64 = 1 and t.u64 = 42");
    NO("not (t.u64 = 1 or t.u64 = 42)");
    YES("not t.u64 = 1 or t.u64 = 1");
    YES("not not t.u64 = 42");
    NO("not not not t.u64 = 42");
    YES("not(t.u64 = 1)");
    YES("(((t.u64 = 42)))");
    YES("(t.u64=1)or(t.u64=42)");
    YES("t.u64 = 42 and(t.u64 = 1 or t.u64 = 42)");
    NO("t.u64 = 42 and not (t.u64 = 1 or t.u64 = 42)");
    YES("\tt.u64 = 42\n and\r\nt.i64 = -7 ");
    /* A field may be called like a keyword when it does not stand alone. */
    snprintf(buf, sizeof buf, "%s", "t.u64 = 42 and t.str startswith Hell");
    YES(buf);
}

/* Random expressions of true and false checks, printed with only the
 * parentheses precedence needs, against their value computed here. */
struct rng {
    uint64_t s;
};

static unsigned rnd(struct rng *r, unsigned n)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(r->s >> 33) % n;
}

/* Appends the expression to buf; returns its value. prec: 0 or, 1 and,
 * 2 not; the caller's level. */
static int gen(struct rng *r, char *buf, size_t cap, int depth, int prec)
{
    unsigned k = depth > 4 ? 0 : rnd(r, 4);
    size_t len = strlen(buf);
    int v, w;
    if (k == 0) {
        v = (int)rnd(r, 2);
        snprintf(buf + len, cap - len, "%s", v ? "t.u64 = 42" : "t.i64 > 0");
        return v;
    }
    if (k == 1) {
        strncat(buf, "not ", cap - len - 1);
        return !gen(r, buf, cap, depth + 1, 2);
    }
    int op = k == 2 ? 0 : 1; /* 0 or, 1 and */
    int paren = prec > op;
    if (paren)
        strncat(buf, "(", cap - strlen(buf) - 1);
    v = gen(r, buf, cap, depth + 1, op);
    strncat(buf, op ? " and " : " or ", cap - strlen(buf) - 1);
    w = gen(r, buf, cap, depth + 1, op);
    v = op ? v && w : v || w;
    if (paren)
        strncat(buf, ")", cap - strlen(buf) - 1);
    return v;
}

static void random_logic(void **state)
{
    struct rng r = {12345};
    char buf[8192];
    (void)state;
    for (int i = 0; i < 2000; i++) {
        buf[0] = '\0';
        int want = gen(&r, buf, sizeof buf, 0, 0);
        if (match(buf) != want)
            fail_msg("'%s' should be %d", buf, want);
    }
}

static void short_circuit(void **state)
{
    struct event e;
    (void)state;

    e = base;
    memset(e.calls, 0, sizeof e.calls);
    assert_false(eval_on("t.u64 = 1 and t.u64b = 7", &e));
    assert_int_equal(e.calls[S_U64], 1);
    assert_int_equal(e.calls[S_U64B], 0);

    memset(e.calls, 0, sizeof e.calls);
    assert_true(eval_on("t.u64 = 42 or t.u64b = 7", &e));
    assert_int_equal(e.calls[S_U64B], 0);

    memset(e.calls, 0, sizeof e.calls);
    assert_true(eval_on("t.u64 = 42 and t.u64b = 7", &e));
    assert_int_equal(e.calls[S_U64], 1);
    assert_int_equal(e.calls[S_U64B], 1);

    /* not flips the outcome, not the order: the second is still skipped. */
    memset(e.calls, 0, sizeof e.calls);
    assert_false(
        eval_on("not t.u64 = 42 and (t.u64b = 7 or t.str exists)", &e));
    assert_int_equal(e.calls[S_U64B] + e.calls[S_STR], 0);

    /* The same slot named twice is asked for twice (the getter caches). */
    memset(e.calls, 0, sizeof e.calls);
    assert_true(eval_on("t.u64 > 1 and t.u64 < 100", &e));
    assert_int_equal(e.calls[S_U64], 2);

    /* A deep right-hand side is skipped as a whole. */
    memset(e.calls, 0, sizeof e.calls);
    assert_true(eval_on("t.u64 = 42 or (t.u64b = 1 and (t.str exists or "
                        "not t.i64 = 3))",
                        &e));
    assert_int_equal(e.calls[S_U64B] + e.calls[S_STR] + e.calls[S_I64], 0);
}

static void missing_fields(void **state)
{
    (void)state;
    NO("t.missing = 1");
    NO("t.missing != 1");
    NO("t.missing exists");
    YES("not t.missing exists");
    YES("not t.missing = 1");
    YES("not t.missing != 1");
    NO("t.missing in (1, 2)");
    YES("t.missing = 1 or t.u64 = 42");
    /* A getter failure is the same as a missing value. */
    NO("t.fail = 1");
    NO("t.fail exists");
    YES("not t.fail = 1");
    /* A value of another type than the field's is not trusted. */
    NO("t.wrong exists");
    NO("t.wrong = 7");
    struct event e = base;
    e.count[S_STR] = 0;
    assert_false(eval_on("t.str exists", &e));
    assert_true(eval_on("not t.str = 'Hello World'", &e));
}

static void lists(void **state)
{
    (void)state;
    /* in: every value in the set (and at least one value). */
    YES("t.list in (alpha, beta, gamma)");
    YES("t.list in (delta, gamma, beta, alpha)");
    NO("t.list in (alpha, beta)");
    /* intersects: any value in the set. */
    YES("t.list intersects (beta, zeta)");
    NO("t.list intersects (zeta, eta)");
    YES("t.list exists");
    /* Other operators: any value satisfies it. */
    YES("t.list = beta");
    NO("t.list = delta");
    YES("t.list != alpha"); /* beta is not alpha */
    YES("t.list startswith gam");
    YES("t.list glob '?eta'");
    YES("t.nums > 8");
    NO("t.nums > 9");
    YES("t.nums < 2");
    YES("t.nums in (1, 5, 9, 11)");
    NO("t.nums in (1, 5)");
    YES("t.nums intersects (5, 100)");
    NO("t.nums intersects (2, 100)");
    YES("t.ips = ::1");
    YES("t.ips = 10.0.0.0/8");
    YES("t.ips in (10.0.0.0/8, ::/0)");
    NO("t.ips in (10.0.0.0/8)");
    YES("t.ips intersects (::1)");

    struct event e = {0};
    /* No values: in is false (not vacuously true), so is exists. */
    assert_false(eval_on("t.list in (alpha)", &e));
    assert_false(eval_on("t.list exists", &e));
    assert_true(eval_on("not t.list intersects (alpha)", &e));
    add_str(&e, S_LIST, "x");
    add_str(&e, S_LIST, "x");
    assert_true(eval_on("t.list in (x)", &e));
    assert_false(eval_on("t.list != x", &e));
}

static void field_arguments(void **state)
{
    (void)state;
    YES("t.arg[/user/name] = argval");
    assert_string_equal(last_arg, "/user/name");
    assert_false(last_arg_null);
    YES("t.arg[] = argval");
    assert_string_equal(last_arg, "");
    assert_false(last_arg_null);
    YES("t.arg[a b (c), \"d\" 'e' = \\x] exists");
    assert_string_equal(last_arg, "a b (c), \"d\" 'e' = \\x");
    YES("t.arg[[x]=argval");
    assert_string_equal(last_arg, "[x");
    YES("t.u64 = 42");
    assert_true(last_arg_null);
    bad("t.u64 = 42 and t.arg = 1", 16, "field 't.arg' needs an argument");
    bad("t.u64[3] = 1", 1, "field 't.u64' takes no argument");

    size_t nl, al;
    const char *arg;
    int b;
    assert_int_equal(tenon__field_token("json.value[/a]x", &nl, &arg, &al, &b),
                     14);
    assert_int_equal(nl, 10);
    assert_int_equal(al, 2);
    assert_memory_equal(arg, "/a", 2);
    assert_int_equal(tenon__field_token("a.b.", &nl, &arg, &al, &b), 3);
    assert_null(arg);
    assert_int_equal(tenon__field_token("9a", &nl, &arg, &al, &b), 0);
    assert_false(b);
    assert_int_equal(tenon__field_token("a[x", &nl, &arg, &al, &b), 0);
    assert_true(b);
    assert_int_equal(tenon__field_token("_x9[]", &nl, &arg, &al, &b), 5);
    assert_int_equal(al, 0);
    assert_non_null(arg);
}

static void escapes(void **state)
{
    struct event e = {0};
    (void)state;
    add_str(&e, S_STR, "a\"b'c\\d\ne\tf\rg\x7f");
    assert_true(eval_on("t.str = \"a\\\"b'c\\\\d\\ne\\tf\\rg\\x7f\"", &e));
    assert_true(eval_on("t.str = 'a\"b\\'c\\\\d\\ne\\tf\\rg\\x7F'", &e));
    assert_false(eval_on("t.str = 'a\"b\\'c\\\\d\\ne\\tf\\rg\\x7e'", &e));
    memset(&e, 0, sizeof e);
    add_str(&e, S_STR, "x) or (y");
    assert_true(eval_on("t.str = 'x) or (y'", &e));
    assert_true(eval_on("t.str in ('x) or (y', ',')", &e));
}

/* ---- glob ---------------------------------------------------------------- */

/* The pattern as given, and as a compiled filter stores it (its unclosed
 * '[' escaped): both must agree. */
static int gm(const char *pat, const char *s)
{
    struct filter_chunk *mem = NULL;
    const char *prep;
    size_t plen;
    int raw = tenon__glob_match(pat, strlen(pat), s, strlen(s)), cooked;
    assert_int_equal(tenon__glob_prepare(&mem, pat, strlen(pat), &prep, &plen),
                     0);
    cooked = tenon__glob_match(prep, plen, s, strlen(s));
    tenon__flt_free_mem(mem);
    if (raw != cooked)
        fail_msg("glob '%s' on '%s': %d as given, %d prepared", pat, s, raw,
                 cooked);
    return cooked;
}

/* Many '[' without a ']' after a '*': each is an ordinary byte, found
 * once when the filter compiles, not rescanned at every backtrack (that
 * took minutes for these sizes). */
static void glob_unclosed_brackets(void **state)
{
    struct filter_chunk *mem = NULL;
    size_t slen = 20000, n = 2000, plen;
    char *s = malloc(slen + 1), *pat = malloc(n + 3);
    const char *prep;
    (void)state;
    memset(s, '[', slen);
    s[slen] = 0;
    pat[0] = '*';
    memset(pat + 1, '[', n);
    pat[n + 1] = 'x';
    pat[n + 2] = 0;
    assert_int_equal(tenon__glob_prepare(&mem, pat, n + 2, &prep, &plen), 0);
    assert_int_equal(plen, 2 * n + 2); /* every '[' escaped */
    assert_false(tenon__glob_match(prep, plen, s, slen));
    s[slen - 1] = 'x';
    assert_true(tenon__glob_match(prep, plen, s, slen));
    tenon__flt_free_mem(mem);
    mem = NULL;
    /* the same with an escaped ']' at the end, which closes none of them */
    pat = realloc(pat, n + 5);
    assert_non_null(pat);
    memcpy(pat + n + 1, "\\]x", 4);
    assert_int_equal(tenon__glob_prepare(&mem, pat, n + 4, &prep, &plen), 0);
    assert_int_equal(plen, 2 * n + 4);
    assert_false(tenon__glob_match(prep, plen, s, slen));
    tenon__flt_free_mem(mem);
    /* A closed bracket stays one, even after unclosed ones; escapes and
     * ranges inside brackets as fnmatch(3) reads them. */
    {
        static const char *const pairs[][2] = {
            {"*[[[a]", "[[a"}, {"*[[[a]", "[a"},   {"[[]", "["},
            {"[!]a", "[!]a"},  {"[!]a]", "b"},     {"[\\]a", "\\]a"},
            {"[\\]a", "]"},    {"x[a-\\]]", "x]"}, {"[a-]]", "-]"},
            {"[[-]", "["},     {"[[-]]", "]"},     {"*[[x", "[[[x"},
        };
        for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
            if (gm(pairs[i][0], pairs[i][1]) !=
                (fnmatch(pairs[i][0], pairs[i][1], 0) == 0))
                fail_msg("glob '%s' on '%s' differs from fnmatch", pairs[i][0],
                         pairs[i][1]);
    }
    NO("t.str glob '*[[[[[[[[[*'");
    YES("t.str glob 'H[[[[[[[[[*' or t.str glob 'Hel[l-m][!]]*'");
    free(s);
    free(pat);
}

static void glob(void **state)
{
    (void)state;
    assert_true(gm("*", ""));
    assert_true(gm("*", "anything/at/all"));
    assert_true(gm("**", "a"));
    assert_false(gm("?", ""));
    assert_true(gm("?", "x"));
    assert_true(gm("a*b*c", "aXXbYYc"));
    assert_false(gm("a*b*c", "aXXbYYcd"));
    assert_true(gm("[a-z]1", "q1"));
    assert_false(gm("[a-z]1", "Q1"));
    assert_true(gm("[!x]", "y"));
    assert_false(gm("[!x]", "x"));
    assert_true(gm("[^x]", "y"));
    assert_true(gm("[]]", "]"));
    assert_true(gm("[!]]", "a"));
    assert_false(gm("[!]]", "]"));
    assert_true(gm("[a-]", "-"));
    assert_true(gm("\\*", "*"));
    assert_false(gm("\\*", "x"));
    assert_true(gm("\\?\\[", "?["));
    assert_true(gm("[", "["));     /* no ']': an ordinary byte */
    assert_true(gm("[ab", "[ab")); /* likewise */
    assert_true(gm("/usr/*/cat", "/usr/local/bin/cat"));
    /* A pattern that would take exponential time with naive recursion. */
    char s[4001], p[64];
    memset(s, 'a', 4000);
    s[4000] = '\0';
    strcpy(p, "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    assert_false(gm(p, s));
    YES("t.str glob '*'");
    YES("t.str glob 'Hello\\\\ World'"); /* \<space> is a space */
    NO("t.str glob 'Hello\\\\*'");       /* \* is a star, literally */
}

/* The matcher agrees with fnmatch(3) without flags on random patterns. */
static void glob_vs_fnmatch(void **state)
{
    const char pa[] = "ab*?[]!-\\", sa[] = "ab-]!*";
    struct rng r = {99};
    char p[12], s[10];
    (void)state;
    for (int i = 0; i < 200000; i++) {
        unsigned pl = rnd(&r, sizeof p), sl = rnd(&r, sizeof s);
        for (unsigned k = 0; k < pl; k++)
            p[k] = pa[rnd(&r, sizeof pa - 1)];
        p[pl] = '\0';
        for (unsigned k = 0; k < sl; k++)
            s[k] = sa[rnd(&r, sizeof sa - 1)];
        s[sl] = '\0';
        int want = fnmatch(p, s, 0) == 0;
        if (gm(p, s) != want)
            fail_msg("glob '%s' on '%s': %d, fnmatch %d", p, s, !want, want);
    }
}

/* ---- errors -------------------------------------------------------------- */

static void malformed(void **state)
{
    (void)state;
    bad("", 1, "expected a condition, got end of input");
    bad("   ", 4, "expected a condition, got end of input");
    bad("t.u64", 6,
        "expected a comparison operator after field 't.u64', "
        "got end of input");
    bad("t.str foo", 7,
        "expected a comparison operator after field 't.str', got 'foo'");
    bad("t.u64 = ", 9, "expected a value after '=', got end of input");
    bad("t.u64 = )", 9, "expected a value after '=', got ')'");
    bad("(t.u64 = 1", 11,
        "expected ')' to close the '(' at column 1, got end of input");
    bad("t.u64 = 1 and (t.u64 = 2 x", 26,
        "expected ')' to close the '(' at column 15, got 'x'");
    bad("t.u64 = 1)", 10, "expected 'and', 'or' or end of input, got ')'");
    bad("t.u64 = 1 t.u64 = 2", 11,
        "expected 'and', 'or' or end of input, got 't.u64'");
    bad("t.u64 = 1 and", 14, "expected a condition, got end of input");
    bad("t.u64 = 1 or or t.u64 = 2", 14, "expected a condition, got 'or'");
    bad("not", 4, "expected a condition, got end of input");
    bad("and t.u64 = 1", 1, "expected a condition, got 'and'");
    bad("t.u64 = 1 and or", 15, "expected a condition, got 'or'");
    bad("t.str = 'abc", 9, "unterminated string starting at column 9");
    bad("t.str = \"ab\\\"", 9, "unterminated string starting at column 9");
    bad("t.str = 'a\\qb'", 11, "bad escape '\\q' in string");
    bad("t.str = 'a\\x4'", 11, "bad escape '\\x4'");
    bad("t.str = 'ab\\xzz'", 12, "bad escape '\\xzz'");
    bad("t.nope = 1", 1, "unknown field 't.nope'");
    bad("t.u64 = 1 or t.x.y exists", 14, "unknown field 't.x.y'");
    bad("t.arg[/a = 1", 6,
        "expected ']' to close the argument of field "
        "'t.arg'");
    bad("t.u64 = abc", 9,
        "field 't.u64' is an unsigned integer (u64); "
        "'abc' is not a number");
    bad("t.u64 = -1", 9, "'-1' is negative");
    bad("t.u64 = 18446744073709551616", 9, "is out of range");
    bad("t.u64 = 0x", 9, "'0x' is not a number");
    bad("t.u64 = 1.5", 9, "is not a number");
    bad("t.i64 = abc", 9,
        "field 't.i64' is a signed integer (i64); 'abc' is not a number");
    bad("t.i64 = 9223372036854775808", 9, "is out of range");
    bad("t.i64 = -9223372036854775809", 9, "is out of range");
    bad("t.rel = -5", 9, "relative time in nanoseconds (reltime)");
    bad("t.bool = yes", 10,
        "field 't.bool' is a boolean (bool); 'yes' is "
        "not true, false, 1 or 0");
    bad("t.ip = 1.2.3", 8, "is not an IPv4 or IPv6 address");
    bad("t.ip = 1.2.3.4/33", 8, "bad prefix length (0 to 32)");
    bad("t.ip = ::1/129", 8, "bad prefix length (0 to 128)");
    bad("t.ip = 1.2.3.4/", 8, "bad prefix length");
    bad("t.ip = 1.2.3.4/0x1", 8, "bad prefix length");
    bad("t.net in (1.2.3.4, nope)", 20, "'nope' is not an IPv4");
    bad("t.str < abc", 7,
        "operator '<' does not apply to string field "
        "'t.str'");
    bad("t.u64 contains 4", 7,
        "operator 'contains' does not apply to u64 field 't.u64'");
    bad("t.bool > 0", 8, "operator '>' does not apply to bool field");
    bad("t.bytes icontains x", 9,
        "operator 'icontains' does not apply to "
        "bytes field");
    bad("t.ip glob x", 6, "does not apply to ipaddr field");
    bad("t.bool in (true)", 8, "operator 'in' does not apply to bool field");
    bad("t.u64 in 1, 2", 10,
        "expected '(' and a list of values after 'in', "
        "got '1'");
    bad("t.u64 in (1, 2", 15,
        "expected ',' or ')' in the list of values "
        "opened at column 10, got end of input");
    bad("t.u64 in (1 2)", 13, "expected ',' or ')'");
    bad("t.u64 in (1,)", 13, "expected a value after ',', got ')'");
    bad("t.u64 in (1, x)", 14, "'x' is not a number");
    bad("t.u64 containsx 1", 7, "got 'containsx'");
    bad("t.u64 ! 1", 7, "expected a comparison operator");
    bad("t.u64 = 1 andx t.u64 = 1", 11, "got 'andx'");
    bad("t.str\x01 = 1", 6, "got '\\x01'");
    bad("9 = 1", 1, "expected a condition, got '9'");
    bad("= 1", 1, "expected a condition, got '='");
}

static void limits(void **state)
{
    enum { N = 256 };
    char *s = malloc(N * 8 + 64);
    size_t o = 0;
    (void)state;

    /* 256 levels of parentheses are fine, 257 are not. */
    for (int i = 0; i < N; i++)
        s[o++] = '(';
    o += (size_t)sprintf(s + o, "t.u64 = 42");
    for (int i = 0; i < N; i++)
        s[o++] = ')';
    s[o] = '\0';
    YES(s);
    memmove(s + 1, s, o + 1);
    s[0] = '(';
    strcat(s, ")");
    bad(s, 257, "nested too deeply");

    /* not counts as a level too. */
    o = 0;
    for (int i = 0; i < N + 1; i++)
        o += (size_t)sprintf(s + o, "not ");
    sprintf(s + o, "t.u64 = 42");
    bad(s, N * 4 + 1, "nested too deeply");
    free(s);

    /* Long chains are not nesting: 20000 ands in a row. */
    size_t cap = 20000 * 16 + 16;
    s = malloc(cap);
    o = 0;
    for (int i = 0; i < 20000; i++)
        o += (size_t)sprintf(s + o, "%st.u64 = 42", i ? " and " : "");
    YES(s);
    free(s);

    /* More than 1 MiB of expression is refused. */
    s = malloc(1024 * 1024 + 32);
    memset(s, ' ', 1024 * 1024 + 31);
    memcpy(s, "t.u64 = 42", 10);
    s[1024 * 1024 + 31] = '\0';
    bad(s, 1, "expression longer than 1048576 bytes");
    free(s);
}

static void huge_in(void **state)
{
    enum { N = 20000 };
    char *s = malloc(N * 24 + 64);
    size_t o;
    struct event e = {0};
    char word[32];
    (void)state;

    o = (size_t)sprintf(s, "t.str in (");
    for (int i = N - 1; i >= 0; i--)
        o += (size_t)sprintf(s + o, "%sw%d", i == N - 1 ? "" : ", ", i * 2);
    strcpy(s + o, ")");
    struct tenon__filter *f = compile(s);
    for (int i = 0; i < 200; i++) {
        int n = (i * 7919) % (N * 2);
        sprintf(word, "w%d", n);
        e.count[S_STR] = 0;
        add_str(&e, S_STR, word);
        assert_int_equal(tenon__filter_eval(f, get, &e), n % 2 == 0);
    }
    e.count[S_STR] = 0;
    add_str(&e, S_STR, "w");
    assert_false(tenon__filter_eval(f, get, &e));
    tenon__filter_free(f);

    o = (size_t)sprintf(s, "t.u64 in (");
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(s + o, "%s%d", i ? "," : "", (i * 37) % N * 3);
    strcpy(s + o, ")");
    f = compile(s);
    for (uint64_t v = 0; v < 600; v++) {
        e.count[S_U64] = 0;
        add_u64(&e, S_U64, v);
        assert_int_equal(tenon__filter_eval(f, get, &e), v % 3 == 0);
    }
    tenon__filter_free(f);
    free(s);
}

static void slots(void **state)
{
    const uint32_t *sl;
    (void)state;
    struct tenon__filter *f = compile(
        "t.str exists and (t.u64 = 1 or not t.str = x) and t.arg[a] exists "
        "or t.u64 > 3 or t.ip = ::1");
    assert_int_equal(tenon__filter_slots(f, &sl), 4);
    assert_int_equal(sl[0], S_STR);
    assert_int_equal(sl[1], S_U64);
    assert_int_equal(sl[2], S_ARG);
    assert_int_equal(sl[3], S_IP);
    tenon__filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unsigned_numbers),
        cmocka_unit_test(signed_numbers),
        cmocka_unit_test(strings),
        cmocka_unit_test(booleans),
        cmocka_unit_test(bytes),
        cmocka_unit_test(addresses),
        cmocka_unit_test(precedence),
        cmocka_unit_test(random_logic),
        cmocka_unit_test(short_circuit),
        cmocka_unit_test(missing_fields),
        cmocka_unit_test(lists),
        cmocka_unit_test(field_arguments),
        cmocka_unit_test(escapes),
        cmocka_unit_test(glob),
        cmocka_unit_test(glob_vs_fnmatch),
        cmocka_unit_test(glob_unclosed_brackets),
        cmocka_unit_test(malformed),
        cmocka_unit_test(limits),
        cmocka_unit_test(huge_in),
        cmocka_unit_test(slots),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
