/*
 * The compiled form of a filter, shared by its compiler (filter_parse.c)
 * and its evaluator (filter_eval.c). Not installed.
 *
 * A filter compiles to an array of comparisons, each with two jumps: where
 * to go when it holds and where when it does not. `and`, `or` and `not`
 * exist only as those jumps, so evaluation is one loop without recursion
 * that never looks at a comparison whose result cannot change the answer.
 */
#ifndef TENON_FILTER_INT_H
#define TENON_FILTER_INT_H

#include "events.h"

/* Jump targets past the last comparison: the answer. */
#define FILTER_MATCH   UINT32_MAX
#define FILTER_NOMATCH (UINT32_MAX - 1)

/* How the evaluator reads a field's values. */
enum filter_kind {
    K_U64,   /* u64, reltime, abstime */
    K_I64,   /* i64 */
    K_BOOL,  /* bool */
    K_STR,   /* string */
    K_BYTES, /* bytes */
    K_IP,    /* ipaddr */
    K_NET,   /* ipnet */
    K_COUNT
};

enum filter_op {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_CONTAINS,
    OP_ICONTAINS,
    OP_STARTSWITH,
    OP_ENDSWITH,
    OP_GLOB,
    OP_IN,
    OP_INTERSECTS,
    OP_EXISTS,
    OP_COUNT
};

/* One side of a comparison with a string or bytes value. */
struct filter_str {
    const char *p;
    uint32_t len;
};

/* An address (prefix FILTER_ADDR) or a network. */
#define FILTER_ADDR 0xffu
struct filter_ip {
    uint8_t len;    /* 4 or 16 */
    uint8_t prefix; /* bits, or FILTER_ADDR */
    uint8_t b[16];  /* network byte order; host bits of a network zero */
};

/* The literal set of `in` and `intersects`, sorted when the kind allows
 * a binary search (numbers; strings by length, then bytes). */
struct filter_set {
    uint32_t n;
    union {
        const uint64_t *u64;
        const int64_t *i64;
        const struct filter_str *str;
        const struct filter_ip *ip;
    } v;
};

struct filter_insn {
    uint8_t kind;      /* enum filter_kind */
    uint8_t op;        /* enum filter_op */
    uint8_t list;      /* the field has several values per event */
    uint16_t dispatch; /* kind * OP_COUNT + op, for the evaluator's switch */
    uint32_t type;     /* the field's tenon_field_type, as the getter reports */
    uint32_t slot;
    uint32_t t, f; /* next comparison when it holds, when it does not */
    union {
        uint64_t u64; /* also bool (0 or 1) */
        int64_t i64;
        struct filter_str str; /* ICONTAINS: already lower case */
        const struct filter_ip *ip;
        const struct filter_set *set;
    } v;
};

struct filter_chunk;

/* A slot and the first comparison on it. */
struct filter_slot_first {
    uint32_t slot, first;
};

struct tenon__filter {
    struct filter_insn *code;
    uint32_t ncode;
    uint32_t entry;
    uint32_t *slots;
    size_t nslots;
    struct filter_slot_first *by_slot; /* nslots, sorted by slot */
    struct filter_chunk *mem;
};

/* ---- evaluation ----------------------------------------------------------
 *
 * The loop is here, inline, so that a caller with a getter it knows (the
 * pipeline) gets a direct call the compiler can inline: per event that
 * saves an indirect call and a copy of the values, which is most of what
 * a one-field filter costs beyond the extraction. tenon__filter_eval() is
 * the same loop for any getter. */

/* Value k of v against the comparison; every value against it (a list,
 * or a field with several values). filter_eval.c. */
int tenon__filter_one(const struct filter_insn *in, const struct tenon__vals *v,
                      uint32_t k);
int tenon__filter_many(const struct filter_insn *in,
                       const struct tenon__vals *v);

#define FILTER_CASE(k, o) ((k)*OP_COUNT + (o))

/* The one value of a field, with the numeric comparisons that filters
 * are mostly made of dispatched in a single jump. */
static inline __attribute__((always_inline)) int
tenon__filter_one_fast(const struct filter_insn *in,
                       const struct tenon__vals *v)
{
    switch (in->dispatch) {
    case FILTER_CASE(K_U64, OP_EQ): return v->v.u64[0] == in->v.u64;
    case FILTER_CASE(K_U64, OP_NE): return v->v.u64[0] != in->v.u64;
    case FILTER_CASE(K_U64, OP_LT): return v->v.u64[0] < in->v.u64;
    case FILTER_CASE(K_U64, OP_LE): return v->v.u64[0] <= in->v.u64;
    case FILTER_CASE(K_U64, OP_GT): return v->v.u64[0] > in->v.u64;
    case FILTER_CASE(K_U64, OP_GE): return v->v.u64[0] >= in->v.u64;
    case FILTER_CASE(K_I64, OP_EQ): return v->v.i64[0] == in->v.i64;
    case FILTER_CASE(K_I64, OP_NE): return v->v.i64[0] != in->v.i64;
    case FILTER_CASE(K_I64, OP_LT): return v->v.i64[0] < in->v.i64;
    case FILTER_CASE(K_I64, OP_LE): return v->v.i64[0] <= in->v.i64;
    case FILTER_CASE(K_I64, OP_GT): return v->v.i64[0] > in->v.i64;
    case FILTER_CASE(K_I64, OP_GE): return v->v.i64[0] >= in->v.i64;
    default: return tenon__filter_one(in, v, 0);
    }
}

/* A comparison on the current event. A field the event lacks, or whose
 * extraction failed, makes it false, as in Falco. On a list field `in`
 * needs every value in the set; every other operator any value. */
static inline __attribute__((always_inline)) int
tenon__filter_holds(const struct filter_insn *in, tenon__get_fn get, void *ud)
{
    struct tenon__vals v;

    if (get(ud, in->slot, &v) < 0 || v.count == 0 || v.type != in->type)
        return 0;
    if (in->op == OP_EXISTS)
        return 1;
    if (v.count == 1)
        return tenon__filter_one_fast(in, &v);
    return tenon__filter_many(in, &v);
}

static inline __attribute__((always_inline)) int
tenon__filter_run(const struct tenon__filter *f, tenon__get_fn get, void *ud)
{
    uint32_t i = f->entry;
    /* every jump is a comparison's index or one of the two answers, which
     * are the largest numbers: no need to load ncode each time round */
    while (i < FILTER_NOMATCH) {
        const struct filter_insn *in = &f->code[i];
        i = tenon__filter_holds(in, get, ud) ? in->t : in->f;
    }
    return i == FILTER_MATCH;
}

/* fnmatch(3) without flags on counted strings: `*`, `?`, `[a-z]`, `[!x]`
 * (also `[^x]`) and a backslash escaping the next byte. Linear memory,
 * O(len(pat) * len(s)) time at worst for a pattern from
 * tenon__glob_prepare(). */
int tenon__glob_match(const char *pat, size_t plen, const char *s, size_t slen);

struct filter_chunk;
/* `pat` as a compiled glob stores it (in *mem): the same matches, but
 * every '[' without its ']' escaped, so that tenon__glob_match never
 * scans for one and stays O(len(pat) * len(s)). 0, or TENON_ENOMEM. */
int tenon__glob_prepare(struct filter_chunk **mem, const char *pat, size_t plen,
                        const char **out, size_t *outlen);

/* ---- the compiler's state, shared by filter_lex.c and filter_parse.c ---- */

struct node;

/* Memory for literals: chunks freed all at once. */
struct filter_chunk {
    struct filter_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
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

/* A value as written: its bytes (unescaped, in the filter's memory) and
 * where it starts. */
struct lit {
    const char *p;
    size_t len, at;
};

/* n bytes from *mem (16-byte aligned), which lives as long as the filter;
 * NULL when out of memory. */
void *tenon__flt_alloc(struct filter_chunk **mem, size_t n);
void tenon__flt_free_mem(struct filter_chunk *mem);

/* Record the error (message, and column at + 1); returns TENON_EINVAL.
 * The first error ends the compile, so there is never a second. */
int tenon__flt_fail(struct parser *p, size_t at, const char *fmt, ...)
    TENON_PRINTF(3, 4);
/* "out of memory" at the cursor; returns TENON_ENOMEM. */
int tenon__flt_nomem(struct parser *p);
/* `n` bytes of `s` quoted for a message: control and non-ASCII bytes as
 * \xHH, cut short with "..." when long. */
void tenon__flt_show(char *out, size_t outlen, const char *s, size_t n);
/* What is at `at`, for "got ...": end of input, one punctuation byte, or
 * the word there (in p->got). */
const char *tenon__flt_got(struct parser *p, size_t at);
void tenon__flt_skip_ws(struct parser *p);
/* The keyword `w` at the cursor, as a whole word. */
int tenon__flt_keyword(struct parser *p, const char *w);
/* The kind (enum filter_kind) of a field type with its short name and a
 * description; -1 when a filter cannot compare it. */
int tenon__flt_type_info(uint32_t type, const char **name, const char **desc);

/* A quoted string or a bare word at the cursor, after operator `after`. */
int tenon__flt_value(struct parser *p, struct lit *v, const char *after);
/* The value converted for the field being compiled (p->field) of `type`;
 * the error names the field, its type and the value. */
int tenon__flt_conv_u64(struct parser *p, const struct lit *v, uint32_t type,
                        uint64_t *out);
int tenon__flt_conv_i64(struct parser *p, const struct lit *v, uint32_t type,
                        int64_t *out);
int tenon__flt_conv_bool(struct parser *p, const struct lit *v, uint64_t *out);
int tenon__flt_conv_ip(struct parser *p, const struct lit *v, uint32_t type,
                       struct filter_ip *out);

#endif /* TENON_FILTER_INT_H */
