/*
 * core.h - a reader of an x86-64 Linux ELF core file held in memory, as
 * gcore and the kernel write it. No I/O: the plugin (coredump.c) maps the
 * file and supplies what lies outside it (the mapped files named in
 * NT_FILE); the fuzz target (fuzz/fuzz_core.c) compiles core.c alone.
 *
 * Every offset, size and count in the file is checked before it is used,
 * and nothing is allocated in proportion to a count the file claims
 * without a cap: allocations follow what the file really holds (program
 * headers, notes), bounded by the CORE_MAX_* limits below.
 */
#ifndef COREDUMP_CORE_H
#define COREDUMP_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Limits on what one core may hold. The kernel writes one PT_LOAD per
 * mapping (vm.max_map_count is 65530 by default), one NT_PRSTATUS per
 * thread and keeps NT_FILE under 4 MiB; these leave room above that. */
#define CORE_MAX_SEGMENTS   (1u << 20)
#define CORE_MAX_THREADS    (1u << 16)
#define CORE_MAX_FILES      (1u << 20) /* NT_FILE entries */
#define CORE_MAX_NOTE_BYTES (256u << 20)

/* Where the bytes of a piece of the address space come from. */
enum core_src {
    CORE_SRC_NONE = 0, /* nowhere: unreadable */
    CORE_SRC_CORE = 1, /* the core file, at `off` */
    CORE_SRC_FILE = 2  /* files[file], at `off` (omitted from the core) */
};

/* A run of addresses with one source, [start, end). Pieces are sorted and
 * do not overlap; the pieces of one region (a PT_LOAD, or a mapping the
 * core omitted) share `region`. */
struct core_piece {
    uint64_t start, end;
    uint64_t off;
    uint32_t src; /* enum core_src */
    uint32_t file;
    uint32_t prot; /* TENON_PROT_* */
    uint32_t region;
};

/* A file named in NT_FILE, once however many mappings name it. */
struct core_file {
    const char *path; /* NUL-terminated, inside the notes */
    /* Where the core holds the file's first bytes (the kernel keeps the
     * ELF header page of an executable mapping, gcore the whole mapping),
     * to compare with the file before trusting it; head_len 0: nowhere. */
    uint64_t head_addr, head_off; /* in memory, and in the core file */
    uint32_t head_len;
    int deleted; /* the kernel named it "... (deleted)" */
};

#define CORE_NOFILE 0xffffffffu

/* A mapping as tenon.osi/1 lists it: an NT_FILE entry, or a part of a
 * PT_LOAD that no NT_FILE entry covers (anonymous). */
struct core_map {
    uint64_t start, end, offset;
    uint32_t prot;
    uint32_t file;    /* index in files[], or CORE_NOFILE */
    const char *name; /* for anonymous ones: "[stack]", "[vdso]" or "" */
};

struct core {
    const unsigned char *data;
    size_t size;

    struct core_piece *pieces;
    size_t npieces;
    struct core_map *maps;
    size_t nmaps;
    struct core_file *files;
    size_t nfiles;
    uint64_t page_size; /* from NT_FILE; 4096 without one */

    uint32_t *tids; /* ascending */
    size_t nthreads;
    uint32_t first_tid; /* the first NT_PRSTATUS: the thread that dumped */

    /* NT_PRPSINFO */
    uint32_t pid, ppid, uid;
    char state; /* a ps(1) letter, or '?' */
    char name[17];
    char args[81];        /* pr_psargs, split in place at spaces */
    const char *argv[41]; /* into args[] */
    size_t argc;
    const char *exe; /* a files[].path, or "" */

    const unsigned char *auxv; /* NT_AUXV, inside the notes; NULL: none */
    size_t auxv_len;
};

/* Make the bytes [off, off + len) of the core stable before the parser
 * reads them: the plugin copies them into private memory, so a file that
 * changes or shrinks while it is parsed neither crashes the host (SIGBUS)
 * nor shows the parser a value other than the one it checked. Returns 0,
 * or nonzero when the bytes are no longer there. */
typedef int (*core_pin_fn)(void *ud, uint64_t off, uint64_t len);

/* Parse the core file `data` of `size` bytes, named `name` in messages.
 * `pin` may be NULL (the bytes are stable). On failure returns a negative
 * TENON_E* code with the reason in `err`, naming the file, what was wrong
 * and what was expected, and leaves nothing to free. On success the
 * caller frees the core with core_free(); `data` must outlive it. */
int core_parse(struct core *c, const void *data, size_t size, const char *name,
               core_pin_fn pin, void *pin_ud, char *err, size_t errlen);
void core_free(struct core *c);

/* The piece holding `addr`, or NULL. */
const struct core_piece *core_find(const struct core *c, uint64_t addr);

/* What core_read() calls to fetch bytes. Each returns how many of the
 * `len` bytes it stored in `buf` (fewer: the rest is unreadable), or a
 * negative TENON_E* code when the source failed. `core` NULL: copy from
 * `data`; `file` NULL: file-backed bytes are unreadable. */
struct core_io {
    long (*core)(void *ud, uint64_t off, void *buf, size_t len);
    long (*file)(void *ud, uint32_t file, uint64_t off, void *buf, size_t len);
    void *ud;
};

/* Read as tenon.memory/1's read() does: *done gets how many bytes from
 * `addr` on were read, in one run; returns 0, or the negative code of a
 * failing source. */
int core_read(const struct core *c, const struct core_io *io, uint64_t addr,
              void *buf, size_t len, size_t *done);

/* One region as tenon.memory/1 lists it: consecutive pieces of one region
 * with the same readability, merged. `readable(ud, file)` tells whether
 * the mapped file `file` can supply bytes (NULL: it cannot). */
struct core_region {
    uint64_t start, end;
    uint32_t prot;
    uint32_t readable;
};
int core_regions(const struct core *c, int (*readable)(void *ud, uint32_t f),
                 void *rud, int (*fn)(void *ud, const struct core_region *r),
                 void *ud);

#endif
