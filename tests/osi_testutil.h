/*
 * Helpers of the introspection tests: a live osi_target to look at, a
 * context that finds the bundled plugins of this build, and checks that
 * several tests run against any tenon.memory/1 view of the target.
 */
#ifndef TENON_OSI_TESTUTIL_H
#define TENON_OSI_TESTUTIL_H

#include <tenon/host.h>
#include <tenon/osi.h>

#include <stdint.h>
#include <sys/types.h>

/* What osi_target holds at the address it prints. */
#define OSI_MARKER "TENON-OSI-MARKER:7f3a9c1e-the-quick-brown-fox"

/* A running tests/helpers/osi_target and what it printed of itself. */
struct target {
    pid_t pid;
    int in; /* its stdin: closing it ends the target; -1 once closed */
    uint64_t marker;
    size_t marker_len;
    uint32_t tids[3]; /* main, worker-1, worker-2 */
    int reaped;
};

/* Start `exe` (osi_target, or a link to it whose name becomes the
 * process's) with the NULL-terminated `args` after argv[0] = exe, and wait
 * for its line. */
void target_start(struct target *t, const char *exe, const char *const *args);

/* Close its stdin and reap it (again: a no-op). */
void target_stop(struct target *t);

/* A context on this build's plugins directory (TEST_EXAMPLE_DIR), no trust
 * policy, no scan cache. */
tenon_t *osi_open(void);

/* A list of mappings, copied. */
struct mapping_copy {
    uint64_t start, end, offset, inode;
    uint32_t prot, flags, dev_major, dev_minor;
    char path[4096];
};
struct maps {
    struct mapping_copy *v;
    size_t n;
};
void maps_add(struct maps *s, const struct tenon_osi_mapping *m);
void maps_free(struct maps *s);

/* Reads that run off the end of a mapping into unmapped space return
 * exactly the readable prefix; reads across two adjacent mappings return
 * all of it. The mappings come from `osi` for `pid`; the reads go through
 * `vt`/`mem`, a view of the same process. */
void check_read_off_the_end(const struct tenon_osi_v1 *osi, void *obj,
                            const struct tenon_memory_v1 *vt, void *mem,
                            uint32_t pid);

#endif
