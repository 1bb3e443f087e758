/*
 * fuzz_cache: the scan cache reader on raw cache file bytes.
 *
 * The input is what <cache_dir>/scan-<arch>.cache holds. It is copied into a
 * buffer of exactly its size so ASan sees a read one past the end. Most
 * inputs fail the checksum; so that the fuzzer gets past it to the records,
 * the checksum field is also recomputed over the payload and the parse run
 * a second time. Every entry that parses is then used the way a warm scan
 * uses it: looked up by its own key, and filled into an inventory entry,
 * which re-parses its static info.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(struct tenon__cache *c)
{
    char path[4200];
    for (size_t i = 0; i < c->n; i++) {
        const struct tenon__cache_entry *e = &c->v[i];
        struct tenon_plugin *p;
        if (e->path_len >= sizeof path)
            continue;
        p = calloc(1, sizeof *p + e->path_len + 1);
        if (!p)
            return;
        memcpy(p->path, e->path, e->path_len + 1);
        p->dev = (dev_t)e->dev;
        p->ino = (ino_t)e->ino;
        p->size = e->size;
        p->mtime_ns = e->mtime_ns;
        p->ctime_ns = e->ctime_ns;
        p->meta_size = e->meta_size;
        p->meta_mtime_ns = e->meta_mtime_ns;
        c->written_ns = INT64_MAX; /* nothing is racy */
        if (tenon__cache_find(c, p) != e)
            __builtin_trap(); /* every parsed entry is found by its key */
        if (tenon__cache_fill(p, e) == 0 && p->status == TENON_AVAILABLE &&
            (!p->info.name || !p->info.version))
            __builtin_trap();
        tenon__plugin_free(p);
    }
}

static void parse(const uint8_t *buf, size_t size)
{
    char why[TENON__REASON_MAX];
    struct tenon__cache c;
    memset(&c, 0, sizeof c);
    if (tenon__cache_parse(buf, size, &c, why, sizeof why) == 0)
        use(&c);
    else if (c.n || c.v)
        __builtin_trap();  /* a failed parse leaves nothing behind */
    tenon__cache_free(&c); /* c.buf is NULL: the bytes are not its */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    parse(buf, size);
    if (size >= 64) {
        uint64_t sum = tenon__hash64(buf + 64, size - 64, 1);
        memcpy(buf + 40, &sum, 8);
        parse(buf, size);
    }
    free(buf);
    return 0;
}
