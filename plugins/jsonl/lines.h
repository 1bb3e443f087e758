/*
 * The jsonl plugin's parsers of untrusted input, kept apart from the plugin
 * glue so that fuzz/fuzz_jsonl.c compiles the same code:
 *
 *   - a line splitter over any byte stream that never holds more than
 *     `maxline` bytes of one line, so an endless line (/dev/zero) costs
 *     bounded memory;
 *   - RFC 6901 JSON pointers over jansson values, and the text a value
 *     shows as (json.value).
 */
#ifndef TENON_JSONL_LINES_H
#define TENON_JSONL_LINES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- lines --------------------------------------------------------------- */

/* Reads up to `len` bytes into `buf`: how many (0 at the end of the input),
 * or -errno. */
typedef long (*lines_read_fn)(void *ud, char *buf, size_t len);

struct lines {
    char *buf;
    size_t cap;
    size_t start, end; /* unconsumed bytes: buf[start, end) */
    size_t scan;       /* no '\n' in buf[start, scan) */
    size_t maxline;
    size_t block;      /* bytes asked of each read */
    uint64_t lineno;   /* of the last line returned */
    uint64_t consumed; /* bytes of the input returned as lines so far */
    int eof;
    int skipping; /* dropping the rest of a line longer than maxline */
};

enum lines_result {
    LINES_LINE = 0, /* a whole line, without its "\n" (or "\r\n") */
    LINES_CUT = 1,  /* the last line, without a newline at the end */
    LINES_LONG = 2, /* a line longer than maxline, skipped (no bytes) */
    LINES_MORE = 3, /* a read is needed: call lines_fill() */
    LINES_END = 4   /* no more lines */
};

/* `maxline` bytes at most per line (at least 1); `block` bytes per read. */
void lines_init(struct lines *l, size_t maxline, size_t block);
void lines_free(struct lines *l);

/* The next line in *line and *len (valid until the next lines_fill()), or
 * LINES_MORE / LINES_END. Never reads. */
int lines_next(struct lines *l, const char **line, size_t *len);

/* One read into the buffer, growing it up to maxline + block. 0, or the
 * negative errno of the read, or -ENOMEM. */
int lines_fill(struct lines *l, lines_read_fn read, void *ud);

/* ---- JSON pointers ------------------------------------------------------- */

/* The value `ptr` (an RFC 6901 pointer, `len` bytes: "" is the whole
 * document) points at in `root`, or NULL when it points at nothing. *bad
 * is set when `ptr` is not a pointer at all (it does not start with '/',
 * or has a '~' not followed by 0 or 1). */
json_t *jptr_get(json_t *root, const char *ptr, size_t len, int *bad);

/* The text of `v` as json.value shows it: a string's own text, otherwise
 * its compact JSON. malloc'd, NULL when out of memory. */
char *jptr_text(const json_t *v);

/* The JSON Schema type name of `v`: "object", "array", "string",
 * "integer", "number", "boolean" or "null". */
const char *jptr_type(const json_t *v);

#endif
