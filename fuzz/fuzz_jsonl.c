/*
 * fuzz_jsonl: the jsonl plugin's line splitter and JSON pointers
 * (plugins/jsonl/lines.c, compiled in: a plugin links nothing of Tenon's).
 *
 * The first byte of the input picks maxline, the second the size of each
 * read; the rest is the stream. Every line that is JSON is then looked
 * into with every line that is a pointer (starts with '/', or is empty),
 * as json.value, json.number and json.type do.
 *
 * Besides the sanitizers, the target traps when the splitter breaks what
 * the plugin relies on: a line longer than maxline or holding a newline,
 * bytes returned outside the buffer, a byte count that does not add up
 * to the stream, or a buffer grown past maxline plus one read.
 */
#include "lines.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x))                                                              \
            __builtin_trap();                                                  \
    } while (0)

struct stream {
    const uint8_t *p;
    size_t left, chunk;
};

static long read_chunk(void *ud, char *buf, size_t len)
{
    struct stream *s = ud;
    size_t n = s->chunk < len ? s->chunk : len;
    if (n > s->left)
        n = s->left;
    memcpy(buf, s->p, n);
    s->p += n;
    s->left -= n;
    return (long)n;
}

#define MAX_KEEP 16

static void look(json_t *const *roots, size_t nroots, char *const *ptrs,
                 size_t nptrs)
{
    for (size_t i = 0; i < nroots; i++)
        for (size_t k = 0; k < nptrs; k++) {
            int bad = 0;
            json_t *v = jptr_get(roots[i], ptrs[k], strlen(ptrs[k]), &bad);
            char *text;
            CHECK(!(bad && v));
            if (!v)
                continue;
            CHECK(jptr_type(v) != NULL);
            text = jptr_text(v);
            CHECK(text != NULL);
            free(text);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stream s;
    struct lines l;
    json_t *roots[MAX_KEEP];
    char *ptrs[MAX_KEEP];
    size_t nroots = 0, nptrs = 0, maxline, lines = 0;

    if (size < 2)
        return 0;
    maxline = 1 + (size_t)data[0] * 8;
    s.chunk = 1 + data[1];
    s.p = data + 2;
    s.left = size - 2;
    lines_init(&l, maxline, s.chunk);
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        int kind = lines_next(&l, &line, &len);
        if (kind == LINES_END)
            break;
        if (kind == LINES_MORE) {
            CHECK(lines_fill(&l, read_chunk, &s) == 0);
            CHECK(l.cap <= maxline + s.chunk + 1);
            continue;
        }
        lines++;
        CHECK(l.lineno == lines);
        if (kind == LINES_LONG)
            continue;
        CHECK(len <= maxline && memchr(line, '\n', len) == NULL);
        CHECK(line >= l.buf && line + len <= l.buf + l.cap);
        if ((len == 0 || line[0] == '/') && nptrs < MAX_KEEP)
            ptrs[nptrs++] = strndup(line, len);
        if (nroots < MAX_KEEP) {
            json_t *root = json_loadb(line, len, JSON_DECODE_ANY, NULL);
            if (root)
                roots[nroots++] = root;
        }
    }
    CHECK(l.consumed == size - 2);
    look(roots, nroots, ptrs, nptrs);
    for (size_t i = 0; i < nroots; i++)
        json_decref(roots[i]);
    for (size_t i = 0; i < nptrs; i++)
        free(ptrs[i]);
    lines_free(&l);
    return 0;
}
