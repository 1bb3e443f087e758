/*
 * fuzz_cache: the scan cache reader on raw cache file bytes.
 *
 * The input is what <cache_dir>/scan-<arch>.cache holds. It is copied into a
 * buffer of exactly its size so ASan sees a read one past the end. Most
 * inputs fail the checksum; so that the fuzzer gets past it to the records,
 * the checksum field is also recomputed over the payload and the parse run
 * a second time. Every entry that parses is then used the way a warm scan
 * uses it: looked up by its own key, and filled into an inventory entry,
 * which re-parses its static info; every directory listing is looked up by
 * its stamp and walked.
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
        p->meta_ctime_ns = e->meta_ctime_ns;
        c->written_ns = INT64_MAX; /* nothing is racy... */
        if (tenon__cache_find(c, p) != e && e->mtime_ns != INT64_MAX &&
            e->meta_mtime_ns != INT64_MAX) /* ...but what is as late */
            __builtin_trap(); /* every parsed entry is found by its key */
        if (tenon__cache_fill(p, e) == 0 && p->status == TENON_AVAILABLE &&
            (!p->info.name || !p->info.version))
            __builtin_trap();
        tenon__plugin_free(p);
    }
}

/* Each listing is found by its own stamp and walked the way a warm scan
 * walks it: every name a *.so file name, in strictly ascending order. */
static void use_dirs(struct tenon__cache *c)
{
    for (size_t i = 0; i < c->ndirs; i++) {
        const struct tenon__cache_dir *d = &c->dirs[i];
        const char *p = d->names, *prev = NULL;
        struct stat st;
        int stale;
        memset(&st, 0, sizeof st);
        st.st_dev = (dev_t)d->dev;
        st.st_ino = (ino_t)d->ino;
        st.st_mtim.tv_sec = d->mtime_ns / 1000000000;
        st.st_mtim.tv_nsec = d->mtime_ns % 1000000000;
        st.st_ctim.tv_sec = d->ctime_ns / 1000000000;
        st.st_ctim.tv_nsec = d->ctime_ns % 1000000000;
        c->written_ns = INT64_MAX; /* nothing is racy but what is as late */
        if (d->mtime_ns != INT64_MAX && tenon__mtime_ns(&st) == d->mtime_ns &&
            tenon__ctime_ns(&st) == d->ctime_ns &&
            tenon__cache_dir_find(c, d->path, &st, &stale) != d)
            __builtin_trap();
        for (size_t k = 0; k < d->count; k++) {
            size_t len = strlen(p + 1);
            if (p[0] > 1 || len < 4 || memcmp(p + 1 + len - 3, ".so", 3) ||
                (prev && strcmp(prev, p + 1) >= 0))
                __builtin_trap();
            prev = p + 1;
            p += 1 + len + 1;
        }
    }
}

static void parse(const uint8_t *buf, size_t size)
{
    char why[TENON__REASON_MAX];
    struct tenon__cache c;
    memset(&c, 0, sizeof c);
    if (tenon__cache_parse(buf, size, &c, why, sizeof why) == 0) {
        use_dirs(&c);
        use(&c);
    } else if (c.n || c.v || c.ndirs || c.dirs)
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
    if (size >= TENON__CACHE_HEAD_SIZE) {
        uint64_t sum =
            tenon__hash64(buf + TENON__CACHE_HEAD_SIZE,
                          size - TENON__CACHE_HEAD_SIZE, TENON__CACHE_FORMAT);
        memcpy(buf + 40, &sum, 8);
        parse(buf, size);
    }
    free(buf);
    return 0;
}
