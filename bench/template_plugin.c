/*
 * The plugin bench/scan copies N times. It is a real SDK plugin of about
 * 200 KB, the size of a typical plugin that carries some code and tables,
 * so that what a scan costs per file is measured on realistic files: reading
 * a 200 KB file whole costs what it costs, and dlopen maps and relocates it.
 *
 * The name "bench0000" is a placeholder: bench/scan patches it, in place and
 * at the same length, in every copy (both the .tenon.info bytes and the
 * string the entry struct points to), so each copy is a distinct plugin whose
 * code and static info agree.
 */
#include <tenon/plugin.h>

#include <stdlib.h>

TENON_PLUGIN_INFO("bench0000", "1.0.0",
    TENON_DESCRIPTION("Benchmark plugin: a copy of bench/template_plugin.c")
    TENON_LICENSE("MIT")
    TENON_ARG_INT("seed", "0", "where in the table to start"));

/* 3 * 4^7 = 49,152 words, 192 KB: with the code, headers and symbol tables
 * the file comes to about 200 KB. The values are a multiplicative hash of
 * the index, so the table is real, incompressible-looking data rather than
 * zeros the linker might treat specially. */
#define H(i)    ((uint32_t)(((uint32_t)(i)*2654435761u) ^ ((uint32_t)(i) >> 7)))
#define R4(b)   H(b), H((b) + 1), H((b) + 2), H((b) + 3)
#define R16(b)  R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b)  R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)
#define R256(b) R64(b), R64((b) + 64), R64((b) + 128), R64((b) + 192)
#define R1K(b)  R256(b), R256((b) + 256), R256((b) + 512), R256((b) + 768)
#define R4K(b)  R1K(b), R1K((b) + 1024), R1K((b) + 2048), R1K((b) + 3072)
#define R16K(b) R4K(b), R4K((b) + 4096), R4K((b) + 8192), R4K((b) + 12288)

static const uint32_t table[] = {R16K(0), R16K(16384), R16K(32768)};

#define TABLE_LEN (sizeof table / sizeof table[0])

struct bench {
    uint32_t sum;
};

/* Folding the whole table from create() keeps every word of it reachable
 * from the exported entry, so no optimisation can drop it. */
static int bench_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *seed = tenon_arg(args, "seed");
    struct bench *b;
    (void)host;
    (void)self;
    (void)input;
    if (!(b = calloc(1, sizeof *b)))
        return TENON_ENOMEM;
    for (size_t i = 0; i < TABLE_LEN; i++)
        b->sum = b->sum * 31u +
                 table[(i + (size_t)(seed ? seed->i : 0)) % TABLE_LEN];
    *obj = b;
    return 0;
}

static void bench_destroy(void *obj) { free(obj); }

static const void *bench_get_interface(void *obj, const char *id)
{
    (void)obj;
    (void)id;
    return NULL;
}

TENON_PLUGIN_ENTRY(bench_create, bench_destroy, bench_get_interface, NULL);
