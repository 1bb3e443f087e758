/*
 * tenon/osi.h - the standard interface `tenon.osi/1`: operating-system
 * introspection, as PANDA's OSI offers it, served by any provider (the
 * running system, a core file, a virtual machine's memory...), so that a
 * consumer never changes when the OS below does.
 *
 * A provider lists TENON_OSI_ID under `provides` and returns a
 * struct tenon_osi_v1 from get_interface(); `obj` below is the object
 * get_interface() stored, passed back as the first argument of every call.
 *
 * Ownership, without GLib:
 *   - lists are iterators: the provider calls the consumer's function once
 *     per item with a struct that is the provider's and valid for that call
 *     only (copy what you keep). Nothing is left to free, also when the
 *     listing fails halfway or the consumer stops it early;
 *   - a call that returns an object (process(), process_memory()) gives it
 *     to the caller, who frees it with the one free function named beside
 *     it, in the same vtable, and with nothing else.
 *
 * Every struct starts with struct_size, set by the provider; members are
 * only ever appended (docs/abi.md), so a consumer reads a member newer than
 * its own header only when struct_size covers it.
 *
 * Numbers that a provider does not know are TENON_OSI_UNKNOWN (ids) or 0
 * (times, sizes); strings it does not know are "" (never NULL).
 *
 * Thread tags as in plugin.h. Every call here is [any-thread]: a provider
 * makes them safe to call concurrently on one object, and may call the
 * consumer's function from the calling thread only.
 *
 * Header-only; compiles as C11 and C++11.
 */
#ifndef TENON_OSI_H
#define TENON_OSI_H

#include <tenon/memory.h>
#include <tenon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TENON_OSI_ID "tenon.osi/1"

/* An id or count the provider does not know. */
#define TENON_OSI_UNKNOWN 0xffffffffu

/* ---- processes ----------------------------------------------------------- */

/* What a listing must fill in besides pid, ppid, name, state and start time
 * (which it always fills when it knows them): the rest costs providers a
 * read each per process, so a consumer asks only for what it shows. A
 * provider may fill more than was asked for. */
#define TENON_OSI_PROC_UID     1u
#define TENON_OSI_PROC_EXE     2u
#define TENON_OSI_PROC_CMDLINE 4u
#define TENON_OSI_PROC_ALL     7u

struct tenon_osi_process {
    uint32_t struct_size;
    uint32_t pid, ppid; /* ppid 0: none (the first process, or unknown) */
    uint32_t uid;       /* real user id, or TENON_OSI_UNKNOWN */
    /* One letter as ps(1) shows it: R running, S sleeping, D disk wait,
     * Z zombie, T stopped, t traced, X dead, I idle; '?' unknown. */
    char state;
    char reserved[7];
    uint64_t start_time_ns; /* since the Unix epoch; 0 unknown */
    const char *name;       /* the short name (Linux: comm) */
    const char *exe;        /* path of the executable */
    /* The arguments, argv[0] first; argc 0 and argv NULL when unknown or
     * not asked for. A provider that only has them joined (a core file's
     * NT_PRPSINFO keeps 80 bytes of them) splits them at spaces. */
    const char *const *argv;
    size_t argc;
};

/* Called once per process, in ascending pid order; return 0 to go on,
 * anything else to stop (the listing then returns that value). */
typedef int (*tenon_osi_process_fn)(void *ud,
                                    const struct tenon_osi_process *p);

/* ---- threads ------------------------------------------------------------- */

struct tenon_osi_thread {
    uint32_t struct_size;
    uint32_t tid, pid;
    char state; /* as in struct tenon_osi_process */
    char reserved[3];
    const char *name;
};

typedef int (*tenon_osi_thread_fn)(void *ud, const struct tenon_osi_thread *t);

/* ---- mappings ------------------------------------------------------------ */

#define TENON_OSI_MAP_SHARED 1u /* a shared mapping (else private) */

struct tenon_osi_mapping {
    uint32_t struct_size;
    uint32_t prot;  /* TENON_PROT_* from tenon/memory.h */
    uint32_t flags; /* TENON_OSI_MAP_* */
    uint32_t dev_major, dev_minor;
    uint32_t reserved;
    uint64_t start, end; /* [start, end) */
    uint64_t offset;     /* in the mapped file */
    uint64_t inode;      /* 0: anonymous */
    /* The mapped file, a kernel name such as "[stack]" or "[heap]", or ""
     * for an anonymous mapping. */
    const char *path;
};

/* Called once per mapping, in address order. */
typedef int (*tenon_osi_mapping_fn)(void *ud,
                                    const struct tenon_osi_mapping *m);

/* ---- kernel modules ------------------------------------------------------ */

struct tenon_osi_module {
    uint32_t struct_size;
    uint32_t has_base; /* nonzero when base is known (Linux shows it to
                          root only) */
    uint64_t size;     /* bytes; 0 unknown */
    uint64_t base;     /* load address when has_base */
    const char *name;
};

typedef int (*tenon_osi_module_fn)(void *ud, const struct tenon_osi_module *m);

/* ---- the process start/exit callback ------------------------------------
 *
 * A provider that can tell when processes start and exit declares the
 * callback TENON_OSI_CB_PROCESS with signature TENON_OSI_PROCESS_EVENT_SIG
 * (host->callback_declare in plugin.h), and fires it with a
 * `const struct tenon_osi_process_event *` as the event. A consumer
 * registers on the provider's instance with the same name and signature.
 * How promptly it fires is the provider's (the native plugin polls, at its
 * `interval` argument); a process that starts and exits between two looks
 * may go unseen.
 */
#define TENON_OSI_CB_PROCESS        "process"
#define TENON_OSI_PROCESS_EVENT_SIG "tenon.osi.process_event/1"

#define TENON_OSI_PROCESS_START 1
#define TENON_OSI_PROCESS_EXIT  2

struct tenon_osi_process_event {
    uint32_t struct_size;
    int32_t kind; /* TENON_OSI_PROCESS_START or TENON_OSI_PROCESS_EXIT */
    /* The process as last seen (for an exit: before it exited), with the
     * basic fields only; valid for the call only. */
    const struct tenon_osi_process *process;
};

/* ---- the interface ------------------------------------------------------- */

struct tenon_osi_v1 {
    uint32_t struct_size; /* sizeof(struct tenon_osi_v1) */

    /* Call `fn` for each process, in ascending pid order, filling at least
     * the TENON_OSI_PROC_* fields in `want`. A process that exits during
     * the listing may be left out. Returns 0 after the last, the nonzero
     * value `fn` stopped with, or a negative TENON_E* code with the reason
     * left by set_error(). [any-thread] */
    int (*processes)(void *obj, unsigned want, tenon_osi_process_fn fn,
                     void *ud);

    /* The process `pid`, every field filled in that the provider knows,
     * in one allocation the caller frees with process_free().
     * TENON_ENOENT when there is no such process. [any-thread] */
    int (*process)(void *obj, uint32_t pid, struct tenon_osi_process **out);
    void (*process_free)(void *obj, struct tenon_osi_process *p);

    /* Call `fn` for each thread of `pid`, in ascending tid order.
     * TENON_ENOENT when there is no such process. [any-thread] */
    int (*threads)(void *obj, uint32_t pid, tenon_osi_thread_fn fn, void *ud);

    /* Call `fn` for each mapping of `pid`, in address order. TENON_ENOENT
     * when there is no such process, TENON_EPERM when its mappings may not
     * be read. [any-thread] */
    int (*mappings)(void *obj, uint32_t pid, tenon_osi_mapping_fn fn, void *ud);

    /* Call `fn` for each kernel module. Optional: NULL when the provider
     * has no kernel to list (a process's core file). [any-thread] */
    int (*modules)(void *obj, tenon_osi_module_fn fn, void *ud);

    /* The process and thread running now, as the provider sees it: for the
     * running system, the caller's own; for a core file, the process and
     * the thread that dumped. [any-thread] */
    int (*current)(void *obj, uint32_t *pid, uint32_t *tid);

    /* A tenon.memory/1 view of the memory of `pid`: stores its vtable in
     * *vt and its object in *mem, which the caller frees with
     * process_memory_free() (before the provider's instance is destroyed).
     * TENON_ENOENT when there is no such process, TENON_EPERM when its
     * memory may not be read. [any-thread] */
    int (*process_memory)(void *obj, uint32_t pid,
                          const struct tenon_memory_v1 **vt, void **mem);
    void (*process_memory_free)(void *obj, void *mem);

    /* Optional (NULL when unknown): the ELF auxiliary vector of `pid` (the
     * bytes of /proc/PID/auxv, or a core file's NT_AUXV), into the
     * caller's `buf` of `len` bytes; *size gets its whole size, which may
     * be more than `len` (then only `len` bytes were copied). Debuggers
     * need it to find a position-independent executable in a core file.
     * [any-thread] */
    int (*auxv)(void *obj, uint32_t pid, void *buf, size_t len, size_t *size);
};

#ifdef __cplusplus
}
#endif
#endif /* TENON_OSI_H */
