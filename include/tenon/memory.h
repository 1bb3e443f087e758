/*
 * tenon/memory.h - the standard interface `tenon.memory/1`: an address
 * space that can be read (and perhaps written), such as a process's memory,
 * a core file or a physical-memory connector.
 *
 * A provider lists TENON_MEMORY_ID under `provides` and returns a
 * struct tenon_memory_v1 from get_interface(). A consumer gets it with
 * host->get_interface(input, TENON_MEMORY_ID, &obj) (a plugin) or
 * tenon_get_interface() (a host), and passes `obj` back as the first
 * argument of every call.
 *
 * Partial reads are normal: a read stops at the first byte that is not
 * readable and says how many bytes before it were, so that a consumer can
 * read a range that straddles a hole without probing the regions first. An
 * error code means the address space itself failed (the process is gone,
 * access was refused, an I/O error), never that one address was unmapped.
 *
 * Thread tags as in plugin.h. Every call here is [any-thread]: a provider
 * makes them safe to call concurrently on one object.
 *
 * Header-only; compiles as C11 and C++11.
 */
#ifndef TENON_MEMORY_H
#define TENON_MEMORY_H

#include <tenon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TENON_MEMORY_ID "tenon.memory/1"

/* Access bits of a region, and of a mapping in tenon/osi.h. */
#define TENON_PROT_READ  1u
#define TENON_PROT_WRITE 2u
#define TENON_PROT_EXEC  4u

/* One region of an address space, [start, end). */
struct tenon_memory_region {
    uint64_t start, end;
    uint32_t prot;     /* TENON_PROT_* */
    uint32_t readable; /* nonzero when read() can return its bytes: a core
                          file can list a region whose bytes it lacks */
};

/* Called once per region, in address order; return 0 to go on, anything
 * else to stop (regions() then returns that value). The region is the
 * provider's, valid for the call only. */
typedef int (*tenon_memory_region_fn)(void *ud,
                                      const struct tenon_memory_region *r);

struct tenon_memory_v1 {
    uint32_t struct_size; /* sizeof(struct tenon_memory_v1) */

    /* Width of an address in bits (32 or 64). [any-thread] */
    uint32_t (*address_width)(void *obj);

    /* Read up to `len` bytes at `addr` into `buf` (the caller's). *done
     * gets how many bytes from `addr` on were read, in one run: fewer than
     * `len` when the range reaches a byte that cannot be read, 0 when
     * `addr` itself cannot be. That is not an error: the call returns 0.
     * A negative TENON_E* code means the address space failed (the
     * process exited: TENON_ENOENT; access refused: TENON_EPERM; I/O:
     * TENON_EIO); *done may then be nonzero for bytes read before the
     * failure, and the reason is left with set_error(). [any-thread] */
    int (*read)(void *obj, uint64_t addr, void *buf, size_t len, size_t *done);

    /* Optional (NULL when the address space is read-only): write `len`
     * bytes from `buf` at `addr`, *done as for read(). [any-thread] */
    int (*write)(void *obj, uint64_t addr, const void *buf, size_t len,
                 size_t *done);

    /* Call `fn` for each region, in address order. Returns 0 after the
     * last, the nonzero value `fn` stopped with, or a negative TENON_E*
     * code when the regions cannot be listed. [any-thread] */
    int (*regions)(void *obj, tenon_memory_region_fn fn, void *ud);
};

#ifdef __cplusplus
}
#endif
#endif /* TENON_MEMORY_H */
