/*
 * The filter compiler: Falco's condition syntax, parsed by recursive
 * descent into a small tree, type-checked against the fields the resolver
 * names, with every literal converted (filter_lex.c), then laid out as
 * comparisons with jumps (filter_int.h) so evaluation needs no tree at all.
 *
 *   expr  = or
 *   or    = and { "or" and }
 *   and   = not { "and" not }
 *   not   = { "not" } check
 *   check = "(" expr ")" | field op value
 */
#include "filter_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define MAX_EXPR  (1024u * 1024u)

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

static int new_node(struct parser *p, uint8_t kind, uint32_t *out)
{
    if (tenon__grow(&p->nodes, &p->capnodes, p->nnodes + 1, sizeof *p->nodes))
        return tenon__flt_nomem(p);
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

/* One literal of an `in` list, stored into element `k` of p->tmp. */
static int conv_elem(struct parser *p, const struct filter_insn *in,
                     const struct lit *v, size_t k)
{
    size_t sz = in->kind == K_STR ? sizeof(struct filter_str)
                : in->kind == K_IP || in->kind == K_NET
                    ? sizeof(struct filter_ip)
                    : sizeof(uint64_t);
    if (tenon__grow(&p->tmp, &p->captmp, (k + 1) * sz, 1))
        return tenon__flt_nomem(p);
    switch (in->kind) {
    case K_U64:
        return tenon__flt_conv_u64(p, v, in->type, (uint64_t *)p->tmp + k);
    case K_I64:
        return tenon__flt_conv_i64(p, v, in->type, (int64_t *)p->tmp + k);
    case K_STR:
        ((struct filter_str *)p->tmp)[k] =
            (struct filter_str){v->p, (uint32_t)v->len};
        return 0;
    default:
        return tenon__flt_conv_ip(p, v, in->type,
                                  (struct filter_ip *)p->tmp + k);
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
    struct filter_set *set = tenon__flt_alloc(&p->mem, sizeof *set);
    size_t sz = in->kind == K_STR ? sizeof(struct filter_str)
                : in->kind == K_IP || in->kind == K_NET
                    ? sizeof(struct filter_ip)
                    : sizeof(uint64_t);
    int (*cmp)(const void *, const void *) = in->kind == K_U64   ? cmp_u64
                                             : in->kind == K_I64 ? cmp_i64
                                             : in->kind == K_STR ? cmp_str
                                                                 : NULL;
    if (!set)
        return tenon__flt_nomem(p);
    char *a = p->tmp;
    if (cmp && n > 1) {
        size_t w = 1;
        qsort(a, n, sz, cmp);
        for (size_t r = 1; r < n; r++)
            if (cmp(a + (w - 1) * sz, a + r * sz) != 0)
                memmove(a + w++ * sz, a + r * sz, sz);
        n = w;
    }
    void *copy = tenon__flt_alloc(&p->mem, n * sz);
    if (!copy)
        return tenon__flt_nomem(p);
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

    tenon__flt_skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return tenon__flt_fail(p, p->pos,
                               "expected '(' and a list of values after '%s', "
                               "got %s",
                               op, tenon__flt_got(p, p->pos));
    open = p->pos++;
    tenon__flt_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ')') {
        p->pos++;
        return make_set(p, in, 0);
    }
    for (;;) {
        if ((rc = tenon__flt_value(p, &v, n ? "," : "(")) ||
            (rc = conv_elem(p, in, &v, n++)))
            return rc;
        tenon__flt_skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ')')
            break;
        return tenon__flt_fail(
            p, p->pos,
            "expected ',' or ')' in the list of values opened at "
            "column %zu, got %s",
            open + 1, tenon__flt_got(p, p->pos));
    }
    p->pos++;
    return make_set(p, in, n);
}

static int one_value(struct parser *p, struct filter_insn *in)
{
    struct lit v;
    int rc = tenon__flt_value(p, &v, op_names[in->op]);
    if (rc)
        return rc;
    switch (in->kind) {
    case K_U64: return tenon__flt_conv_u64(p, &v, in->type, &in->v.u64);
    case K_I64: return tenon__flt_conv_i64(p, &v, in->type, &in->v.i64);
    case K_BOOL: return tenon__flt_conv_bool(p, &v, &in->v.u64);
    case K_STR:
    case K_BYTES:
        if (v.len > UINT32_MAX / 2)
            return tenon__flt_fail(p, v.at, "value too long");
        if (in->op == OP_GLOB &&
            tenon__glob_prepare(&p->mem, v.p, v.len, &v.p, &v.len))
            return tenon__flt_nomem(p);
        if (in->op == OP_ICONTAINS)
            for (size_t i = 0; i < v.len; i++)
                if ((unsigned)((unsigned char)v.p[i] - 'A') < 26u)
                    ((char *)v.p)[i] = (char)(v.p[i] + 32);
        in->v.str = (struct filter_str){v.p, (uint32_t)v.len};
        return 0;
    default: {
        struct filter_ip *ip = tenon__flt_alloc(&p->mem, sizeof *ip);
        if (!ip)
            return tenon__flt_nomem(p);
        in->v.ip = ip;
        return tenon__flt_conv_ip(p, &v, in->type, ip);
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
        return tenon__flt_nomem(p);
    if (rc < 0)
        return why[0] ? tenon__flt_fail(p, at, "%s", why)
                      : tenon__flt_fail(p, at, "unknown field %s", p->field);
    int kind = tenon__flt_type_info(use.type, &tname, &tdesc);
    if (kind < 0)
        return tenon__flt_fail(p, at,
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
                ? !tenon__flt_keyword(p, ops[i].name)
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
        tenon__flt_type_info(in->type, &tname, &tdesc);
        return tenon__flt_fail(
            p, at,
            "operator '%s' does not apply to %s field %s (it takes "
            "%s)",
            op_names[in->op], tname, p->field, takes);
    }
    return tenon__flt_fail(
        p, at, "expected a comparison operator after field %s, got %s",
        p->field, tenon__flt_got(p, at));
}

/* field op value */
static int comparison(struct parser *p, uint32_t *out)
{
    size_t at = p->pos, namelen, arglen;
    const char *arg;
    int bad, rc;
    size_t n = tenon__field_token(p->s + at, &namelen, &arg, &arglen, &bad);

    if (bad)
        return tenon__flt_fail(p, at + namelen,
                               "expected ']' to close the argument of "
                               "field '%.*s', got end of input",
                               (int)(namelen > 64 ? 64 : namelen), p->s + at);
    if (!n || tenon__flt_keyword(p, "and") || tenon__flt_keyword(p, "or"))
        return tenon__flt_fail(p, at, "expected a condition, got %s",
                               tenon__flt_got(p, at));
    tenon__flt_show(p->field, sizeof p->field, p->s + at, n);

    if (tenon__grow(&p->code, &p->capcode, p->ncode + 1, sizeof *p->code))
        return tenon__flt_nomem(p);
    struct filter_insn in = {0};
    if ((rc = resolve(p, at, namelen, arg, arglen, &in)))
        return rc;
    p->pos = at + n;
    tenon__flt_skip_ws(p);
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
        return tenon__flt_fail(p, at,
                               "expression nested too deeply (more than %d "
                               "levels of parentheses and 'not')",
                               MAX_DEPTH);
    return 0;
}

static int check(struct parser *p, uint32_t *out)
{
    tenon__flt_skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return comparison(p, out);
    size_t open = p->pos++;
    int rc = deeper(p, open);
    if (rc || (rc = parse_or(p, out)))
        return rc;
    tenon__flt_skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ')')
        return tenon__flt_fail(
            p, p->pos, "expected ')' to close the '(' at column %zu, got %s",
            open + 1, tenon__flt_got(p, p->pos));
    p->pos++;
    p->depth--;
    return 0;
}

static int parse_not(struct parser *p, uint32_t *out)
{
    int nots = 0, rc;
    for (;;) {
        tenon__flt_skip_ws(p);
        if (!tenon__flt_keyword(p, "not"))
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
    tenon__flt_skip_ws(p);
    if (!tenon__flt_keyword(p, word)) {
        *out = first;
        return 0;
    }
    if ((rc = new_node(p, kind, &n)))
        return rc;
    p->nodes[n].child = first;
    while (tenon__flt_skip_ws(p), tenon__flt_keyword(p, word)) {
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
        return tenon__flt_nomem(p);
    }
    for (size_t i = 0; i < p->ncode; i++)
        s[i] = (struct slot_seen){p->code[i].slot, (uint32_t)i};
    qsort(s, p->ncode, sizeof *s, cmp_seen);
    for (size_t i = 0; i < p->ncode; i++)
        if (i == 0 || s[i].slot != s[i - 1].slot)
            s[w++] = s[i];
    /* by slot, for tenon__filter_next() to find a slot's first comparison
     * by binary search */
    if (!(f->by_slot = malloc((w ? w : 1) * sizeof *f->by_slot))) {
        free(s);
        return tenon__flt_nomem(p);
    }
    for (size_t i = 0; i < w; i++)
        f->by_slot[i] = (struct filter_slot_first){s[i].slot, s[i].first};
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
    tenon__flt_free_mem(f->mem);
    free(f->code);
    free(f->slots);
    free(f->by_slot);
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
        rc =
            tenon__flt_fail(&p, 0, "expression longer than %u bytes", MAX_EXPR);
        goto done;
    }
    if ((rc = parse_or(&p, &root)))
        goto done;
    tenon__flt_skip_ws(&p);
    if (p.pos < p.len) {
        rc = tenon__flt_fail(&p, p.pos,
                             "expected 'and', 'or' or end of input, got %s",
                             tenon__flt_got(&p, p.pos));
        goto done;
    }
    if (!(f = calloc(1, sizeof *f))) {
        rc = tenon__flt_nomem(&p);
        goto done;
    }
    if ((rc = collect_slots(&p, f)))
        goto done;
    f->entry = layout(&p, root, FILTER_MATCH, FILTER_NOMATCH);
    f->code = p.code;
    f->ncode = (uint32_t)p.ncode;
    for (uint32_t i = 0; i < f->ncode; i++) /* one jump at evaluation */
        f->code[i].dispatch =
            (uint16_t)(f->code[i].kind * OP_COUNT + f->code[i].op);
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
    tenon__flt_free_mem(p.mem);
    return rc;
}
