/*
 * The native plugin's internals, shared by its files: native.c (the entry,
 * arguments and the tenon.osi/1 vtable), procfs.c (reading /proc's files),
 * proc.c (processes and threads), maps.c (mappings, modules, auxv), mem.c
 * (the tenon.memory/1 view of one process) and watch.c (the polling thread
 * behind the process start/exit callback).
 */
#ifndef TENON_NATIVE_H
#define TENON_NATIVE_H

#include <tenon/memory.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How process memory is read: the `mem` argument's choices, in order. */
enum native_mem_mode { NATIVE_MEM_AUTO, NATIVE_MEM_VM, NATIVE_MEM_PROCFS };

/* The longest name a stat line carries that we keep (comm is 16 bytes, a
 * kernel thread's name with its workqueue up to 64). */
#define NATIVE_NAME_MAX 64

struct native_watch;

struct native {
    const struct tenon_host *host;
    struct tenon_instance *self;
    int mem_mode;   /* enum native_mem_mode */
    int procfd;     /* /proc, for openat(): no path is rebuilt per call */
    long clk_tck;   /* sysconf(_SC_CLK_TCK) */
    uint64_t btime; /* boot time, seconds since the epoch */
    struct tenon_callback *cb;  /* NULL when the host has no callbacks */
    struct native_watch *watch; /* NULL when not polling */
};

/* Leave a message on the instance and return `code`. */
int native__fail(struct native *n, int code, const char *fmt, ...)
    TENON_PRINTF(3, 4);

/* The TENON_E* code for an errno value from /proc or the memory calls:
 * ENOENT and ESRCH mean the process is gone, EACCES and EPERM a refusal. */
int native__code(int err);

/* The name of an errno value ("EPERM"), for messages that say which call
 * was refused and how. */
const char *native__errname(int err);

/* ---- procfs.c: reading /proc's files ------------------------------------- */

/* The longest line of maps or modules we take: a path is at most
 * PATH_MAX, and the kernel writes no longer one. */
#define NATIVE_LINE_MAX (4096 + 256)

/* "PID/leaf" (or "PID" when leaf is NULL) into buf, which holds 11 +
 * strlen(leaf) + 1 bytes. */
void native__pid_path(char *buf, uint32_t pid, const char *leaf);

/* Parsers of [*p, end): each moves *p past what it took and returns 0, or
 * -1 (no digit, overflow, not the character expected). */
int native__parse_dec(const char **p, const char *end, uint64_t *out);
int native__parse_hex(const char **p, const char *end, uint64_t *out);
int native__expect(const char **p, const char *end, char c);

/* A pid-like name: digits only, no leading zero, fits 32 bits. */
int native__parse_pid_name(const char *s, uint32_t *pid);

/* One read of a file the kernel generates whole (stat, status): it hands
 * all of it to one read() with room, so no second read for the end of
 * file. Returns the bytes read, or -errno. */
ssize_t native__read_once(int dirfd, const char *path, char *buf, size_t cap);

/* A file read line by line through a buffer. */
struct native_lines {
    int fd;
    char *buf;
    size_t cap, start, end;
    int eof;
};

/* 0 or -errno. */
int native__lines_open(struct native_lines *l, int dirfd, const char *path);
void native__lines_close(struct native_lines *l);

/* The next line, NUL-terminated without its '\n', in *line: 1, 0 at the
 * end, -EOVERFLOW for a line longer than NATIVE_LINE_MAX, or -errno. */
int native__next_line(struct native_lines *l, char **line);

struct native_pids {
    uint32_t *v;
    size_t len, cap;
};

/* The numeric entries of the directory dirfd/path, ascending, in out->v
 * (the caller frees it; nothing to free on failure); 0 or -errno. */
int native__list_pids(int dirfd, const char *path, struct native_pids *out);

/* Did a /proc file fail because its process is gone? */
static inline int native__gone(int err)
{
    return err == -ENOENT || err == -ESRCH;
}

/* ---- proc.c: processes and threads --------------------------------------- */

/* What a stat line gives, with the name copied out of it. */
struct native_stat {
    uint32_t pid, ppid;
    char state;
    uint64_t start_ticks; /* clock ticks since boot (field 22) */
    char name[NATIVE_NAME_MAX + 1];
};

/* Read the boot time and clock tick into `n` (start times stay unknown
 * when /proc/stat has no boot time). */
void native__proc_init(struct native *n);

/* Ticks since boot to ns since the epoch; 0 when unknown. */
uint64_t native__start_ns(const struct native *n, uint64_t ticks);

/* List every process in ascending pid order, as struct tenon_osi_process
 * filled per `want`. [any-thread] */
int native__processes(struct native *n, unsigned want, tenon_osi_process_fn fn,
                      void *ud);

/* The stat lines of every process, in ascending pid order: the cheap
 * listing the polling thread diffs. Leaves no message: returns 0, what
 * `fn` stopped with, or -errno. */
typedef int (*native_stat_fn)(void *ud, const struct native_stat *s);
int native__stats(struct native *n, native_stat_fn fn, void *ud);

int native__process(struct native *n, uint32_t pid,
                    struct tenon_osi_process **out);
/* 0 when `pid` is a process (not a thread id of another one, whose
 * /proc/TID is there too); else the code, with the message left. */
int native__is_process(struct native *n, uint32_t pid);
int native__threads(struct native *n, uint32_t pid, tenon_osi_thread_fn fn,
                    void *ud);

/* Leave the message for a /proc/PID/`what` read that failed with -errno
 * `err` and return its TENON_E* code: a process that is gone does not
 * exist, a file that is not as expected is an I/O error... */
int native__proc_fail(struct native *n, uint32_t pid, int err,
                      const char *what);

/* ---- maps.c: mappings, modules, auxv ------------------------------------- */

int native__mappings(struct native *n, uint32_t pid, tenon_osi_mapping_fn fn,
                     void *ud);

/* The mappings of the process whose /proc directory is open as `piddir`
 * (a memory view keeps it, so that a reused pid is never read). */
int native__mappings_at(struct native *n, uint32_t pid, int piddir,
                        tenon_osi_mapping_fn fn, void *ud);

int native__modules(struct native *n, tenon_osi_module_fn fn, void *ud);
int native__auxv(struct native *n, uint32_t pid, void *buf, size_t len,
                 size_t *size);

/* ---- mem.c --------------------------------------------------------------- */

int native__memory_open(struct native *n, uint32_t pid,
                        const struct tenon_memory_v1 **vt, void **mem);
void native__memory_close(struct native *n, void *mem);

/* ---- watch.c ------------------------------------------------------------- */

/* Start polling every `interval_ms` for the callback `n->cb`. */
int native__watch_start(struct native *n, unsigned interval_ms);

/* Stop the thread and free what it holds; when this returns the thread
 * has exited. NULL is ignored. */
void native__watch_stop(struct native_watch *w);

#endif
