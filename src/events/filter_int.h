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
    uint8_t kind;  /* enum filter_kind */
    uint8_t op;    /* enum filter_op */
    uint8_t list;  /* the field has several values per event */
    uint32_t type; /* the field's tenon_field_type, as the getter reports */
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

/* Memory for the literals, freed at once with the filter. */
struct filter_chunk;

struct tenon__filter {
    struct filter_insn *code;
    uint32_t ncode;
    uint32_t entry;
    uint32_t *slots;
    size_t nslots;
    struct filter_chunk *mem;
};

/* fnmatch(3) without flags on counted strings: `*`, `?`, `[a-z]`, `[!x]`
 * (also `[^x]`) and a backslash escaping the next byte. Linear memory,
 * O(len(pat) * len(s)) time at worst. */
int tenon__glob_match(const char *pat, size_t plen, const char *s, size_t slen);

#endif /* TENON_FILTER_INT_H */
