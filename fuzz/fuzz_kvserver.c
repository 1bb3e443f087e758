/*
 * fuzz_kvserver: kvserver's command lines (examples/kvserver/commands.c),
 * as a client sends them: the parser, GET / SET / DEL and the store, run
 * through the real operations (unhooked, so the direct path) by
 * kv_ops_execute(), with lines of at most 64 bytes so the buffers' limits
 * are reached.
 *
 * Input: lines separated by '\n' (longer ones are skipped, as the server
 * skips them); the store starts empty for each input. Beyond memory
 * errors the target traps when a reply is empty, longer than its buffer,
 * holds a control byte, or starts with none of OK, NIL, VALUE, ERR; or when
 * a GET right after an accepted SET of the same line's key does not return
 * that value.
 *
 * Seeds (fuzz/corpus/fuzz_kvserver/): a few sessions written by hand.
 */
#include "kvserver.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 64

static int starts(const struct tenon_buf *r, const char *p)
{
    size_t n = strlen(p);
    return r->len >= n && memcmp(r->data, p, n) == 0;
}

static void check_reply(const struct tenon_buf *r)
{
    const unsigned char *p = r->data;
    if (r->len == 0 || r->len > r->cap)
        abort();
    for (size_t i = 0; i < r->len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            abort();
    if (!starts(r, "OK") && !starts(r, "NIL") && !starts(r, "VALUE ") &&
        !starts(r, "ERR "))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tenon_t *t;
    static struct kv_ops ops;
    struct tenon_options o = {.struct_size = sizeof o};
    const char *const nodirs[] = {"/nonexistent"};
    const char *p = (const char *)data, *end = p + size;

    if (!t) {
        o.plugin_paths = nodirs;
        o.plugin_path_count = 1;
        o.no_cache = 1;
        if (tenon_open(&t, &o) || kv_ops_init(&ops, t, MAX_LINE))
            abort();
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        /* A copy of exactly the line's length, so ASan sees overreads. */
        char *line = len <= MAX_LINE ? malloc(len ? len : 1) : NULL;
        if (line) {
            memcpy(line, p, len);
            kv_ops_execute(&ops, line, len);
            check_reply(&ops.reply);
            /* An accepted SET: GET of its key gives its value back. */
            if (starts(&ops.reply, "OK") && ops.verb.len == 3 &&
                memcmp(ops.verb.data, "SET", 3) == 0) {
                char get[MAX_LINE + 8], want[MAX_LINE + 8];
                size_t vlen = ops.value.len;
                memcpy(want, ops.value.data, vlen);
                memcpy(get, "GET ", 4);
                memcpy(get + 4, ops.key.data, ops.key.len);
                kv_ops_execute(&ops, get, 4 + ops.key.len);
                if (ops.reply.len != 6 + vlen ||
                    memcmp((char *)ops.reply.data + 6, want, vlen) != 0)
                    abort();
            }
            free(line);
        }
        p += len + (nl != NULL);
    }
    kv_store_free(&ops.store);
    return 0;
}
