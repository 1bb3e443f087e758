/*
 * bench/ops - the cost of an operation beside a direct function call, in
 * one run:
 *
 *   direct     the host's own function (not inlined), called directly
 *   unhooked   the same call through TENON_OP_CALL() on an operation no
 *              plugin hooks: one load and one branch more
 *   observers  an operation with one before and one after hook of the
 *              native opbench plugin, then the host's function
 *   observers4 two befores and two afters: the cost of each observer is
 *              (observers4 - observers) / 2, what one more hook adds; the
 *              rest, (observers - unhooked) - 2 x that, is what a hooked
 *              call costs once (its frame, the read-side marks)
 *   define     an operation the native opbench plugin defines (a + b)
 *   wasm       the same define, opbench built as WebAssembly (when the
 *              build has the toolchain: TENON_BENCH_WASM_PLUGINS)
 *
 * Each case makes -n calls (default 100 M) and is the best of -r runs
 * (default 5), the cases alternating. Every call adds its result to a sum
 * that must be the same for every case, or the program says FAIL and exits
 * 1. Targets (issue 10): unhooked <= 1.1x direct; each observer <= 3 ns;
 * wasm define <= 1.5x native define.
 */
#include <tenon/op.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TENON_BENCH_OP_PLUGINS
#error "build with -DTENON_BENCH_OP_PLUGINS=\"build/bench/opplugins\""
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench/ops: %s: %s\n", what, tenon_last_error());
    exit(1);
}

/* The host's implementation, kept out of line as a real one would be. */
__attribute__((noinline)) static int64_t add(void *ctx, int64_t a, int64_t b)
{
    __asm__ volatile("" ::"r"(ctx));
    return a + b;
}

static int64_t add_native(void *ctx, uint64_t param,
                          const union tenon_op_arg *args)
{
    (void)param;
    return add(ctx, args[0].i, args[1].i);
}

enum {
    C_DIRECT,
    C_UNHOOKED,
    C_OBSERVERS,
    C_OBSERVERS4,
    C_DEFINE,
    C_WASM,
    C_COUNT
};
static const char *const names[C_COUNT] = {"direct",          "unhooked",
                                           "observers (2)",   "observers (4)",
                                           "define (native)", "define (wasm)"};

struct ctx {
    tenon_op_t *none, *obs, *obs4, *def, *wdef;
};

static __attribute__((noinline)) int64_t run(const struct ctx *c, int which,
                                             uint64_t n)
{
    int64_t sum = 0;
    union tenon_op_arg a[2];
    tenon_op_t *op = which == C_UNHOOKED     ? c->none
                     : which == C_OBSERVERS  ? c->obs
                     : which == C_OBSERVERS4 ? c->obs4
                     : which == C_DEFINE     ? c->def
                                             : c->wdef;
    for (uint64_t i = 0; i < n; i++) {
        int64_t x = (int64_t)i, y = 3;
        if (which == C_DIRECT) {
            sum += add(NULL, x, y);
        } else {
            a[0].i = x;
            a[1].i = y;
            sum += TENON_OP_CALL(op, 0, a, add(NULL, x, y));
        }
    }
    return sum;
}

/* A context searching `dir` with operations declared and opbench made. */
static tenon_t *setup(const char *dir, struct ctx *c, int wasm,
                      tenon_instance_t **inst)
{
    struct tenon_options o;
    tenon_t *t = NULL;
    tenon_op_t *dummy;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = &dir;
    o.plugin_path_count = 1;
    o.no_cache = 1;
    if (tenon_open(&t, &o))
        die("tenon_open");
    if (tenon_op_declare(t, "bench.none", "ii", 0, add_native, NULL,
                         wasm ? &dummy : &c->none) ||
        tenon_op_declare(t, "bench.obs", "ii", 0, add_native, NULL,
                         wasm ? &dummy : &c->obs) ||
        tenon_op_declare(t, "bench.obs4", "ii", 0, add_native, NULL,
                         wasm ? &dummy : &c->obs4) ||
        tenon_op_declare(t, "bench.def", "ii", 0, add_native, NULL,
                         wasm ? &c->wdef : &c->def))
        die("tenon_op_declare");
    if (tenon_create(t, "opbench", NULL, inst))
        die(wasm ? "creating the wasm opbench" : "creating opbench");
    return t;
}

int main(int argc, char **argv)
{
    uint64_t n = 100000000;
    int reps = 5, opt;
    double best[C_COUNT];
    int64_t sums[C_COUNT];
    struct ctx c = {0};
    tenon_instance_t *ni, *wi = NULL;
    tenon_t *tw = NULL;

    while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
        switch (opt) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'r': reps = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: ops [-n CALLS] [-r REPS]\n"
                            "Operations beside a direct call; see the "
                            "comment at the top of bench/ops.c.\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (n == 0 || reps < 1) {
        fprintf(stderr, "ops: -n and -r must be positive\n");
        return 2;
    }
    tenon_t *t = setup(TENON_BENCH_OP_PLUGINS, &c, 0, &ni);
#ifdef TENON_BENCH_WASM_PLUGINS
    tw = setup(TENON_BENCH_WASM_PLUGINS, &c, 1, &wi);
#endif
    int ncases = wi ? C_COUNT : C_WASM;
    for (int k = 0; k < C_COUNT; k++)
        best[k] = 1e30;
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < ncases; k++) {
            double t0 = now();
            sums[k] = run(&c, k, n);
            double dt = now() - t0;
            if (dt < best[k])
                best[k] = dt;
        }
    for (int k = 1; k < ncases; k++)
        if (sums[k] != sums[0]) {
            printf("FAIL: %s summed %lld, direct %lld\n", names[k],
                   (long long)sums[k], (long long)sums[0]);
            return 1;
        }
    printf("%llu calls per case, best of %d\n", (unsigned long long)n, reps);
    for (int k = 0; k < ncases; k++)
        printf("  %-16s %8.1f ms  %6.2f ns/call  %5.2fx direct\n", names[k],
               best[k] * 1e3, best[k] * 1e9 / (double)n,
               best[k] / best[C_DIRECT]);
    printf("unhooked / direct:        %.2fx   (target <= 1.1x)\n",
           best[C_UNHOOKED] / best[C_DIRECT]);
    double each =
        (best[C_OBSERVERS4] - best[C_OBSERVERS]) * 1e9 / (double)n / 2;
    printf("each observer:            %.2f ns (target <= 3 ns)\n", each);
    printf("a hooked call, once:      %.2f ns (frame, read-side marks)\n",
           (best[C_OBSERVERS] - best[C_UNHOOKED]) * 1e9 / (double)n - 2 * each);
    if (wi)
        printf("wasm define / native:     %.2fx   (target <= 1.5x)\n",
               best[C_WASM] / best[C_DEFINE]);
    else
        printf("wasm define: not built (no WebAssembly toolchain)\n");
    tenon_destroy(ni);
    tenon_destroy(wi);
    tenon_close(t);
    tenon_close(tw);
    return 0;
}
