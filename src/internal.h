/* Internals shared between libtenon's source files. Not installed. */
#ifndef TENON_INTERNAL_H
#define TENON_INTERNAL_H

#include <tenon/host.h>
#include <tenon/op.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define TENON__REASON_MAX 256

/* ---- error.c ------------------------------------------------------------- */

/* Set this thread's last error message and return `err`. */
int tenon__fail(int err, const char *fmt, ...) TENON_PRINTF(2, 3);

/* ---- util.c -------------------------------------------------------------- */

char *tenon__strdup(const char *s);
char *tenon__strndup(const char *s, size_t n);
/* printf into a newly allocated string; NULL on allocation failure. */
char *tenon__asprintf(const char *fmt, ...) TENON_PRINTF(1, 2);
/* Write a reason into buf (for a caller that reports it later, unlike
 * tenon__fail) and return `code`. */
int tenon__reason(char *buf, size_t len, int code, const char *fmt, ...)
    TENON_PRINTF(4, 5);
/* Grow *arr (of *cap elements of `size` bytes) to hold at least `need`. */
int tenon__grow(void *arr, size_t *cap, size_t need, size_t size);
/* Decode the UTF-8 character at `s` (NUL-terminated) into *cp and return its
 * length in bytes; 0 when the bytes there are not valid UTF-8 (overlong,
 * surrogate, above U+10FFFF, truncated). A NUL is one character, U+0000. */
size_t tenon__utf8_next(const char *s, uint32_t *cp);

/* The one escaping scheme for text shown to people (the reasons of
 * unavailable plugins, everything the CLI prints as text): printable ASCII
 * and printable UTF-8 stay; BEL, BS, TAB, LF, VT, FF and CR become \a \b \t
 * \n \v \f \r; every other control byte, DEL, each byte that is not part of
 * valid UTF-8, and each byte of a C1 control, a line or paragraph separator
 * or a bidirectional formatting character becomes a backslash and three
 * octal digits (ESC is \033). A backslash stays as it is, so escaping twice
 * changes nothing. tenon__esc_char() writes the form of the character at `s`
 * (not NUL) into `out`, stores its length in *len and returns how many bytes
 * of `s` it covers. */
#define TENON__ESC_MAX 16
size_t tenon__esc_char(const char *s, char out[TENON__ESC_MAX], size_t *len);
/* All of `s` escaped, malloc'd; NULL when out of memory. */
char *tenon__escape(const char *s);

/* Open `name` in `dirfd` (or AT_FDCWD) for reading, with its fstat in *st.
 * A symbolic link is followed only to a regular file (else -1, errno
 * ENXIO): opening some devices for reading does something, and anyone who
 * can write a plugin directory can plant a link. A file that is not a link
 * is opened as it is (only root makes device nodes); the caller checks
 * st->st_mode. -1 with errno on failure. */
int tenon__open_regular(int dirfd, const char *name, struct stat *st);

/* A stat's mtime and ctime in nanoseconds, the unit of the cache's keys. */
static inline int64_t tenon__mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static inline int64_t tenon__ctime_ns(const struct stat *st)
{
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* ---- elfinfo.c: the static info of a plugin file, without loading it ----- */

/* Reads `len` bytes at `off` into `buf`; returns 0, or -1 when the bytes are
 * not there (short file or I/O error). */
typedef int (*tenon__read_at_fn)(void *ctx, void *buf, size_t len,
                                 uint64_t off);

struct tenon__elf {
    unsigned machine; /* e_machine */
    int elfclass;     /* ELFCLASS32 / ELFCLASS64 */
    char *info;       /* copy of the info note's contents, malloc'd */
    size_t info_size;
    /* What the dynamic loader will look for, from the dynamic section as it
     * maps it (malloc'd; NULL when there is nothing): entries of one tag
     * byte, a string and a NUL. Tags: 'N' DT_NEEDED and 'F' DT_FILTER or
     * DT_AUXILIARY (objects it loads, in order), 'S' DT_SONAME, 'P'
     * DT_RPATH, 'R' DT_RUNPATH (at most one each: the loader keeps the
     * last). */
    char *dyn;
    size_t dyn_size;
};

/* The most bytes of dynamic strings kept for one file. */
#define TENON__DYN_STRINGS_MAX (64u * 1024u)

/* What tenon__elf_read() reads besides the headers. */
#define TENON__ELF_INFO 1u /* the Tenon note; its absence is an error */
#define TENON__ELF_DYN  2u /* the dynamic strings */

/* The largest info accepted; real ones are a few hundred bytes. */
#define TENON__INFO_MAX (64u * 1024u)

/* Read the ELF header, the program headers and what `want` asks for
 * through `read_at`, normally in one read of the first page, plus the
 * dynamic section and its strings for TENON__ELF_DYN. On failure returns a
 * negative code, writes the reason (naming what was expected) into
 * `reason`, and leaves no allocation in *out. */
int tenon__elf_read(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                    unsigned want, struct tenon__elf *out, char *reason,
                    size_t reason_len);

/* The same for an open descriptor (pread; the offset is not moved). */
int tenon__elf_read_fd(int fd, uint64_t file_size, unsigned want,
                       struct tenon__elf *out, char *reason, size_t reason_len);

/* Whether `fd` starts with an ELF header the loader of this host would
 * take (class, byte order, machine). */
int tenon__elf_is_host(int fd);

/* The DT_SONAME of the file open as `fd`, malloc'd, when it is a shared
 * object this host could load (*is_elf set); NULL when it has none or is
 * not one. */
char *tenon__elf_soname(int fd, int *is_elf);

/* The same for a memory buffer (fuzzing, tests). */
int tenon__elf_read_mem(const void *data, size_t size, unsigned want,
                        struct tenon__elf *out, char *reason,
                        size_t reason_len);

/* The dynamic strings of a struct tenon__elf, split: pointers into the
 * blob. Objects the loader loads (DT_NEEDED and filters) in order. */
struct tenon__dyn {
    const char **needed;
    size_t nneeded;
    const char *soname, *rpath, *runpath; /* NULL when absent */
};
/* Split `blob` (as tenon__elf.dyn; may be NULL) into *d; d->needed is
 * malloc'd (free it). TENON_EINVAL when the blob is not of that form (a
 * cache file is untrusted input), TENON_ENOMEM. */
int tenon__dyn_split(const char *blob, size_t size, struct tenon__dyn *d);

/* ---- version.c ----------------------------------------------------------- */

struct tenon__semver {
    uint64_t major, minor, patch;
    const char *pre; /* points into the parsed string, NULL when none */
    size_t pre_len;
};

int tenon__semver_parse(const char *s, struct tenon__semver *v);
/* <0, 0, >0 by semver precedence (build metadata ignored). */
int tenon__semver_cmp(const struct tenon__semver *a,
                      const struct tenon__semver *b);

/* ---- info.c: parse and check static info --------------------------------- */

struct tenon__kv {
    const char *key, *value; /* point into tenon__info.buf */
    int kind;                /* what the host makes of the key */
};

struct tenon__info {
    char *raw; /* the section bytes as read, compared with the entry's */
    void *mem; /* one block holding raw, buf and the arrays below */
    char *buf; /* a copy split in place; keys and values point into it */
    size_t size;
    struct tenon__kv *kv;
    size_t nkv;
    int abi;
    const char *name, *version;
    struct tenon__semver semver;
    const char **provides;
    size_t nprovides;
    const char *accepts;
    int rank; /* the `rank` key; 0 without one */
    /* The `permission` keys as bits of enum tenon__perm (hook keys add
     * "op"); perms_declared: at least one permission key. */
    uint32_t perms;
    int perms_declared;
    size_t nhooks; /* `hook` keys, checked by tenon__hook_spec_parse() */
    struct tenon_arg_decl *args;
    size_t nargs;
};

/* Parse the `size` bytes at `src` into one new block (`src` stays the
 * caller's). Checks every rule of the static info contract; on failure
 * returns TENON_EINVAL or TENON_EABI with the reason. Call
 * tenon__info_free() either way. */
int tenon__info_parse(const char *src, size_t size, struct tenon__info *out,
                      char *reason, size_t reason_len);
void tenon__info_free(struct tenon__info *info);
const char *tenon__info_get(const struct tenon__info *info, const char *key);

/* The bounds of the `rank` key (plugin.h's TENON_RANK). */
#define TENON__RANK_LIMIT 1000000

int tenon__valid_name(const char *s, size_t len);
int tenon__valid_interface_id(const char *s);

/* ---- args.c -------------------------------------------------------------- */

/* Parsed arguments; owns every string the values point to. */
struct tenon__args {
    struct tenon_args pub;
    struct tenon_arg_value *values;
    char *strings; /* one block holding the unquoted texts */
};

/* Parse an argument string ("default,key=value,key2=\"a,b\"") against the
 * declarations, filling defaults; on failure returns TENON_EARG with a
 * message naming the argument and the expected type. `plugin` names the
 * plugin in messages. */
int tenon__args_parse(const char *s, const struct tenon_arg_decl *decls,
                      size_t ndecls, const char *plugin,
                      struct tenon__args *out);
void tenon__args_free(struct tenon__args *a);

/* Convert one value of `type`; used by args and by `tenon info`. */
int tenon__arg_convert(const struct tenon_arg_decl *d, const char *text,
                       int64_t *out, char *why, size_t why_len);
/* 0 when `v` (converted from `text`) is inside the declared range of an int
 * argument (or it has none); else TENON_ERANGE with "expected an int from
 * MIN to MAX, got 'TEXT'" (or "of at least MIN", "of at most MAX"). */
int tenon__arg_in_range(const struct tenon_arg_decl *d, int64_t v,
                        const char *text, char *why, size_t why_len);

/* ---- inventory.c --------------------------------------------------------- */

struct tenon_plugin {
    /* ops.c: the permissions whose refusal was logged for this plugin */
    atomic_uint perm_logged;
    size_t dir_index; /* position of its directory in the search path */
    size_t order;     /* position in the scan: search path, then file name */
    size_t name_off;  /* where the file name starts in path */
    dev_t dev;
    ino_t ino;
    int status; /* enum tenon_plugin_status */
    char *reason;
    int have_info;
    struct tenon__info info;
    unsigned machine;
    int elfclass;
    char *dyn; /* tenon__elf.dyn of the file, and split */
    size_t dyn_size;
    struct tenon__dyn dynv;
    /* The scan cache's key (cache.c): the file as probed (its fstat) and its
     * <file>.meta as seen before probing; meta_size is -1 when absent. */
    int64_t size, mtime_ns, ctime_ns, meta_size, meta_mtime_ns, meta_ctime_ns;
    int meta_listed; /* the directory listing had <file>.meta beside it */
    int cacheable;   /* the probe got as far as fstat: the result is keyed */
    int vanished;    /* listed, but gone when the probe opened it */
    int from_cache;  /* this scan reused the cached probe result */
    /* The file's SHA-256, cached under the same key as the probe result. */
    unsigned char digest[32];
    int have_digest;
    /* The signature check of this scan (when a trust policy is in force):
     * 0 or a negative code, and what it found. */
    int trust_rc;
    char *trust_reason; /* malloc'd when trust_rc is not 0 */
    /* The fingerprint of the keyring that found digest and signature good
     * (kept in the cache under the file's key), or 0; verdict_new: found by
     * this scan, the cache must learn it. */
    uint64_t verified_by;
    int verdict_new;
    int digest_new;      /* computed in this scan: the cache must learn it */
    atomic_size_t users; /* instances made from it (tenon__find_spec) */
    char path[];         /* allocated with the entry */
};

/* Read and check the file `name` in directory `dirfd` (or AT_FDCWD); always
 * fills `p` (status and reason on failure). Never runs plugin code. */
void tenon__plugin_probe(struct tenon_plugin *p, int dirfd, const char *name);
void tenon__plugin_free(struct tenon_plugin *p);
/* Set status and reason, the reason escaped (tenon__escape()): it may quote
 * file names and static info, and hosts print it. */
void tenon__plugin_set_reason(struct tenon_plugin *p, int status,
                              const char *reason);

/* Split "name[@version][:args]"; the returned pointers are into a copy the
 * caller frees (*buf). *args is NULL when no ':' was given. A caller that
 * takes no arguments passes with_args 0: a ':' is then an error, and the
 * messages describe name[@version] only. */
int tenon__spec_split(const char *spec, int with_args, char **buf,
                      const char **name, const char **version,
                      const char **args);

/* tenon_find() on an already split spec, taking a use of the entry for
 * an instance (so tenon_release_old_scans() keeps it): drop it with
 * tenon__plugin_unuse(). */
int tenon__find_spec(tenon_t *t, const char *name, const char *version,
                     const tenon_plugin_t **out);
void tenon__plugin_unuse(const tenon_plugin_t *p);

/* ---- deps.c: the libraries a plugin brings along ------------------------- */

enum {
    TENON__DEP_SYSTEM = 1, /* left to the system: loaded by name */
    TENON__DEP_BUNDLED,    /* found through DT_RPATH or DT_RUNPATH outside
                              the system library directories */
    TENON__DEP_LOADED,     /* already loaded under that name (load only) */
    TENON__DEP_PATH        /* a DT_NEEDED with a '/' or a '$': the loader
                              expands and opens it itself */
};

struct tenon__dep {
    char *name;       /* as DT_NEEDED names it */
    int kind;         /* TENON__DEP_* */
    size_t needed_by; /* 0: the plugin; i + 1: deps.v[i] */
    /* Bundled only: where it was found, how ("DT_RUNPATH '$ORIGIN' of
     * x.so"), the SHA-256 of its bytes, its dynamic strings, and at load
     * the sealed copy those describe. */
    char *path, *via;
    unsigned char digest[32];
    int have_digest; /* bundled; or loaded by another plugin's load */
    char *dyn;
    size_t dyn_size;
    struct tenon__dyn dynv;
    int fd;       /* the sealed copy (TENON__DEPS_LOAD), else -1 */
    void *handle; /* dlopen handle once loaded, or held (LOADED) */
};

struct tenon__deps {
    struct tenon__dep *v;
    size_t n, cap;
    size_t *order, norder; /* system and bundled ones, in load order */
};

/* For the loader: check what is loaded already, and copy each bundled
 * dependency into a sealed file, which its digest and dynamic strings then
 * describe. Without it (the inventory): read the files in place. */
#define TENON__DEPS_LOAD 1u

/* Find the dependencies of the plugin at `path` whose dynamic strings are
 * `dyn`, breadth first, as the dynamic loader would search for them: each
 * DT_NEEDED name in the DT_RPATH of the object that needs it and of the
 * objects that loaded that one (unless it has a DT_RUNPATH), then in its
 * DT_RUNPATH, $ORIGIN being the object's directory; found in a system
 * library directory or not found at all: SYSTEM; found elsewhere:
 * BUNDLED, hashed, and its own DT_NEEDED followed. A bundled dependency
 * must have the DT_SONAME the plugin asks for and be at most `max_size`
 * bytes; otherwise, and on a read error, TENON_EUNAVAIL with a reason
 * naming the dependency. Runs no code. Free *out with tenon__deps_free()
 * either way. */
int tenon__deps_resolve(const char *path, const struct tenon__dyn *dyn,
                        unsigned flags, uint64_t max_size,
                        struct tenon__deps *out, char *reason, size_t len);
/* Is `name` a plain DT_NEEDED name, one the loader searches for as it is
 * (no '/', no '$')? */
int tenon__plain_name(const char *name);
/* Could resolving d's dependencies find anything a trust policy checks: a
 * DT_RPATH or DT_RUNPATH to search, or a DT_NEEDED that is not plain? */
int tenon__deps_possible(const struct tenon__dyn *d);

/* Close the sealed copies, dlclose the handles and free the list. */
void tenon__deps_free(struct tenon__deps *d);

/* ---- install.c: the install lock ----------------------------------------- */

/* In each plugin directory tenon_install() and tenon_remove() have written
 * to: the lock they hold (LOCK_EX) while they replace or delete a file and
 * its .meta. The scan lists only *.so files, so it never lists this one. */
#define TENON__INSTALL_LOCK ".tenon-install.lock"

/* How long a reader waits for an install in progress before it gives up
 * and reports what it saw. */
#define TENON__SETTLE_WAIT_MS 2000u

/* For a reader whose trust check of `file` found a pair that an install or
 * remove in progress could explain (digest mismatch; file or .meta gone):
 * waits, polling for at most `wait_ms` (0: one try), until no install or
 * remove is under way in the directory of `file`, and keeps them out,
 * holding a shared lock on that directory's TENON__INSTALL_LOCK; it is
 * opened read-only and never created, so readers need no write access.
 * Returns a descriptor (>= 0) to close() once the file and its .meta have
 * been checked again: until then they are a complete pair. Else
 * TENON_ENOENT when the directory has no install lock (nothing to wait
 * for), TENON_EBUSY when the lock stayed held (`reason` says "an install
 * appeared to be in progress ..."), TENON_EIO when it cannot be used (a
 * symbolic link, not a regular file, unreadable) or TENON_ENOMEM, with the
 * reason. The caller's verdict stands in every failing case. Takes no
 * context lock. [any-thread] */
int tenon__install_settle(const char *file, unsigned wait_ms, char *reason,
                          size_t len);

/* Tests only: how long tenon_install() and tenon_remove() wait for the
 * install lock before failing with TENON_EBUSY (default 30 s). */
extern unsigned tenon__install_wait_ms;

/* Tests only: called with the lock file's path when a wait for the install
 * lock starts (it was held), and by tenon_install() with the installed
 * path between publishing the .meta and the file itself. */
enum { TENON__HOOK_LOCK_BUSY, TENON__HOOK_META_PUBLISHED };
extern void (*tenon__install_hook)(int stage, const char *path);

/* ---- loader.c ------------------------------------------------------------ */

struct tenon__library {
    struct tenon__library *next;
    unsigned char digest[32]; /* SHA-256 of the bytes loaded */
    /* The file they were copied from, held open so that its inode number
     * is not reused while loaded, and its key at load time. */
    int file_fd;
    dev_t dev;
    ino_t ino;
    int64_t size, mtime_ns, ctime_ns;
    char *path;
    void *handle;
    int fd; /* the sealed copy that was loaded, open while loaded */
    const struct tenon_plugin_entry *entry;
    struct tenon__deps deps; /* loaded before it, released after it */
    size_t refs;
};

/* An immutable copy of the file open as `fd` (found at `path`, for
 * messages): a memory file sealed against every write, shrink and grow.
 * Returns its descriptor, or -1 with `why` (also when the file grows past
 * `max` bytes). */
int tenon__sealed_copy(int fd, const char *path, uint64_t max, char *why,
                       size_t len);

/* Take a reference to the loaded library of `p`, loading it if needed and
 * checking its entry against the static info. Caller holds t->lock. */
int tenon__library_acquire(tenon_t *t, const struct tenon_plugin *p,
                           struct tenon__library **out);
/* Tests only: called after the file to load is opened and checked, right
 * before dlopen, with the file's path. */
extern void (*tenon__before_load_hook)(const char *path);

/* Drop a reference; closes the library after the last one. Caller holds
 * t->lock. */
void tenon__library_release(tenon_t *t, struct tenon__library *lib);

/* ---- config.c: JSON Schema for plugin configs ---------------------------- */

/* Check the schema text alone as tenon_config_validate() does (JSON, the
 * keywords it knows of the right types, nesting, defaults that pass): 0,
 * or a negative code with the message in `why`. For display: its defaults
 * are expanded to 64 Ki values at most, and TENON_ERANGE says there were
 * more (tenon_config_validate() may still accept it). [any-thread] */
int tenon__config_schema_check(const char *schema, char *why, size_t len);

/* Tests and fuzzing only: the most values one validation may visit or fill
 * in from defaults (default 4 Mi), which keeps a schema whose defaults
 * multiply from taking all memory. */
extern size_t tenon__config_max_values;

/* ---- host.c: the API handed to plugins, and logging ---------------------- */

extern const struct tenon_host tenon__host;

void tenon__log(const tenon_t *t, int level, const char *origin,
                const char *fmt, ...) TENON_PRINTF(4, 5);
void tenon__vlog(const tenon_t *t, int level, const char *origin,
                 const char *fmt, va_list ap) TENON_PRINTF(4, 0);

/* ---- the context and instances ------------------------------------------- */

/* ---- callback.c: callbacks between plugins ------------------------------- */

struct tenon__handler;
struct tenon__callbacks {
    pthread_mutex_t lock; /* guards everything below and every list */
    pthread_cond_t idle;  /* a handler returned, or a list was unpinned */
    uint64_t next_id;
    struct tenon__handler **table; /* by id */
    size_t nbuckets, count;
    struct tenon__handler *host_handlers; /* registered by the host */
};

int tenon__callbacks_init(struct tenon__callbacks *c);
void tenon__callbacks_free(struct tenon__callbacks *c);

/* The members of struct tenon_host (plugin.h says what they do). */
int tenon__callback_declare(struct tenon_instance *self, const char *name,
                            const char *sig, struct tenon_callback **out);
size_t tenon__callback_fire(struct tenon_callback *cb, const void *event);
size_t tenon__callback_handlers(const struct tenon_callback *cb);
int tenon__callback_register(struct tenon_instance *self,
                             struct tenon_instance *provider, const char *name,
                             const char *sig, tenon_callback_fn fn, void *ctx,
                             uint64_t *id);
int tenon__callback_unregister(struct tenon_instance *self, uint64_t id);

/* When an instance goes: the handlers it registered (before its destroy()
 * runs, so that none runs into a freed plugin object), and the callbacks it
 * declared with every handler on them (after, once nothing fires). */
void tenon__callbacks_drop_handlers(struct tenon_instance *inst);
void tenon__callbacks_drop_declared(struct tenon_instance *inst);

struct tenon {
    pthread_mutex_t lock;
    char **paths;
    size_t npaths;
    atomic_int log_level;
    unsigned scan_threads; /* 0: one per CPU, at most 4 */
    int trust;         /* enum tenon_trust_policy as given (may be DEFAULT) */
    char **trust_dirs; /* where trusted public keys are looked for */
    size_t ntrust_dirs;
    char *cache_dir;            /* NULL when the cache is off or has no home */
    uint64_t max_file_size;     /* the most bytes hashed or loaded per file */
    pthread_mutex_t trust_lock; /* guards loading the keyring */
    int keyring_state;          /* 0 not loaded, 1 loaded, -1 out of memory */
    struct tenon__keyring *keyring; /* the newest; older ones chained */
    /* The trust directories as they were when the keyring was loaded: a key
     * added or removed changes them, and the keyring is loaded again. */
    struct tenon__dir_stamp *trust_stamps;
    int trust_racy; /* one changed within a second of being read: re-read */
    int no_cache;
    tenon_log_fn log_fn;
    void *log_ud;

    int scanned;
    struct tenon_plugin **plugins; /* current scan */
    size_t nplugins;
    struct tenon_plugin **retired; /* entries of earlier scans */
    size_t nretired, cap_retired;

    struct tenon__library *libraries;
    struct tenon__callbacks callbacks;
    struct tenon__ops *ops; /* ops.c: operations, policy, timers */
};

struct tenon_instance {
    tenon_t *t;
    const struct tenon_plugin *plugin;
    struct tenon__library *lib;
    struct tenon_instance *input;
    atomic_size_t refs;
    void *obj;
    struct tenon__args args;
    /* The config it has now (validated, defaults filled in), malloc'd, or
     * NULL: host->config() and tenon_instance_config() return it. */
    char *config;
    char error[512];
    /* Guarded by t->callbacks.lock: the callbacks it declared, the
     * handlers it registered. */
    struct tenon_callback *callbacks;
    struct tenon__handler *handlers;
    /* ops.c: the permissions granted (bits of enum tenon__perm), the state
     * (enum tenon_instance_state), refusals counted and logged. */
    uint32_t perms;
    atomic_int state;
    atomic_uint_least64_t denied[16];
};

/* Scan if no scan has happened yet. Takes t->lock. */
int tenon__ensure_scanned(tenon_t *t);

/* ---- cache.c: the scan cache --------------------------------------------- */

/* One cached probe result; the pointers are into the cache's bytes. */
struct tenon__cache_entry {
    const char *path, *reason; /* reason NULL when none */
    const char *info;          /* the raw static info; NULL when none */
    const char *dyn;           /* tenon__elf.dyn of the file */
    size_t path_len, info_size, dyn_size;
    uint64_t dev, ino;
    int64_t size, mtime_ns, ctime_ns, meta_size, meta_mtime_ns, meta_ctime_ns;
    uint64_t verified_by; /* keyring fingerprint of a good verdict, or 0 */
    int status;
    unsigned machine;
    int elfclass;
    int have_digest;
    const unsigned char *digest; /* 32 bytes */
    int used;                    /* reused by the current scan */
};

/* The cache file's format version (also the checksum's seed) and header
 * size; the layout is described in cache.c. */
#define TENON__CACHE_FORMAT    4u
#define TENON__CACHE_HEAD_SIZE 72u

/* One cached directory listing: the *.so names in scan order, each with
 * whether a .meta sat beside it, valid while the directory's device, inode,
 * mtime and ctime are unchanged (every create, unlink and rename in it moves
 * its mtime and ctime). */
struct tenon__cache_dir {
    const char *path;
    size_t path_len;
    uint64_t dev, ino;
    int64_t mtime_ns, ctime_ns;
    size_t count, names_size;
    const char *names; /* count times: u8 flags (1: has .meta), name, NUL */
};

/* How one directory of the search path was listed by a scan. */
struct tenon__dir_stamp {
    int listed;     /* opened: the fields below describe it */
    int from_cache; /* its listing came from the cache, readdir was skipped */
    int stale;      /* the cache's record of it is missing, old or racy */
    uint64_t dev, ino;
    int64_t mtime_ns, ctime_ns;
};

struct tenon__cache {
    int enabled;        /* a cache directory is configured */
    int dirty;          /* the file on disk should be rewritten */
    unsigned char *buf; /* the file's bytes; NULL when parsed in place */
    struct tenon__cache_entry *v;
    size_t n;
    struct tenon__cache_dir *dirs;
    size_t ndirs;
    /* Open addressing by path: 0 empty, 1 to dir_base file entries (v[id -
     * 1]), above that directory records (dirs[id - dir_base - 1]). */
    uint32_t *index;
    size_t index_mask;
    uint32_t dir_base;
    int64_t written_ns; /* the cache file's mtime: newer entries are racy */
    size_t hits, probed;
};

/* Parse cache file bytes (`data` must outlive `c`). Checks magic, format,
 * library version, checksum and every record's bounds; on failure returns
 * TENON_EINVAL with the reason and leaves `c` empty. */
int tenon__cache_parse(const void *data, size_t size, struct tenon__cache *c,
                       char *why, size_t why_len);
/* Read <cache_dir>/scan-<arch>.cache into `c`; never fails: a missing or bad
 * cache leaves `c` empty (and dirty when bad), with a debug log line.
 * `c->enabled` is 0 when the context has no cache, and when the cache must
 * not be used, read or written, as the debug log then says: its file is
 * owned by another user, or its directory is writable by others without
 * the sticky bit (tenon__cache_save checks both again before writing). */
void tenon__cache_load(tenon_t *t, struct tenon__cache *c);
/* The entry whose key matches `p` (path, dev, ino, size, mtime, and the
 * .meta's size and mtime), or NULL; an entry modified as late as the cache
 * was written is not trusted (its file may have changed in the same clock
 * tick). */
struct tenon__cache_entry *tenon__cache_find(struct tenon__cache *c,
                                             const struct tenon_plugin *p);
/* The cached listing of the directory `path`, whose fstat is `st`, when it
 * is still valid: same device, inode, mtime and ctime, and not modified in
 * the clock tick the cache was written in. NULL otherwise, with *stale set:
 * the cache should learn the directory again. */
const struct tenon__cache_dir *
tenon__cache_dir_find(const struct tenon__cache *c, const char *path,
                      const struct stat *st, int *stale);
/* Fill `p` from `e` (re-parsing the info); 0, or -1 leaving `p` as it was
 * when the cached bytes do not give the cached result. */
int tenon__cache_fill(struct tenon_plugin *p,
                      const struct tenon__cache_entry *e);
/* Rewrite the cache when it changed: the probe results of `v` (call before
 * shadow marking, so no later status is saved), the listings of the search
 * path's directories (`stamps`, one per path), plus the records of other
 * directories that still exist. Atomic (temp file, fsync, rename); failures
 * are logged at debug level and otherwise ignored. */
void tenon__cache_save(tenon_t *t, struct tenon__cache *c,
                       struct tenon_plugin *const *v, size_t n,
                       const struct tenon__dir_stamp *stamps);
void tenon__cache_free(struct tenon__cache *c);
/* The 64-bit checksum the cache file uses (XXH64). */
uint64_t tenon__hash64(const void *data, size_t len, uint64_t seed);

/* ---- trust.c / meta.c: digests, signatures, keys, .meta files ------------ */

#define TENON__KEY_ID_LEN 16         /* hex digits: 8 bytes of SHA-256(key) */
#define TENON__TIME_LEN   20         /* "2026-11-22T04:05:06Z" */
#define TENON__META_MAX   (1u << 20) /* largest .meta file accepted */

struct json_t; /* jansson's, for the .meta info */

/* SHA-256 of everything in `fd`, read with pread() from offset 0 in 256 KiB
 * chunks (the file offset is not used or moved). TENON_EIO with errno set on
 * a read error, TENON_ERANGE when there are more than `max` bytes (read up
 * to there only: a file that grows while it is read cannot make it read
 * on), TENON_ENOMEM. Thread-safe. */
int tenon__digest_fd(int fd, uint64_t max, unsigned char out[32]);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void tenon__hex_encode(const unsigned char *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits (`len` of them) into n bytes; else
 * TENON_EINVAL. */
int tenon__hex_decode(const char *hex, size_t len, unsigned char *out,
                      size_t n);

/* A trusted public key; `path` (malloc'd) is the .pub file it came from and
 * dir_index the position of its directory in the trust directories. */
struct tenon__key {
    unsigned char pk[32];
    char id[TENON__KEY_ID_LEN + 1];
    char *path;
    size_t dir_index;
    /* A key file that is a symbolic link: the target it led to. Its
     * directory's stamp does not see the target change or go, so the
     * keyring is read again when the link no longer leads there. */
    int link;
    dev_t target_dev;
    ino_t target_ino;
    int64_t target_ctime_ns;
};

/* Something of the trust store that was not used: a trust directory or key
 * file that could not be read, is malformed, or breaks the ownership rule
 * (owned by the caller or root, writable by no one else). `reason` names
 * `path` and what was expected; both malloc'd. */
struct tenon__trust_problem {
    char *path;
    char *reason;
};

struct tenon__keyring {
    struct tenon__key *keys;
    size_t n, cap;
    /* What was ignored. Any problem makes the default policy require: the
     * trust store fails closed. */
    struct tenon__trust_problem *problems;
    size_t nproblems, cap_problems;
    /* NULL without problems, else the text tenon__keyring_error() gives. */
    char *error;
    /* How many of the trust directories exist. One that exists, even
     * empty, keeps the default policy at require: removing the last key
     * (as for a leaked one) must not turn checking off. */
    size_t ndirs;
    /* Never 0: a hash of the keys in order. A verdict "signed by a trusted
     * key" holds for the keyring of this fingerprint (the scan cache keeps
     * such verdicts under it). */
    uint64_t fingerprint;
    /* Replaced ones still in use (users > 0), freed by the last
     * tenon__trust_release(); users counts the calls that took it.
     * Guarded by the context's trust_lock. */
    struct tenon__keyring *older;
    size_t users;
};

/* The key id: the first 8 bytes of SHA-256(pk) in hex. TENON_ENOMEM when
 * OpenSSL cannot hash. */
int tenon__key_id(const unsigned char pk[32], char id[TENON__KEY_ID_LEN + 1]);

struct tenon__meta;

/* The statement the signature of `m` covers, malloc'd (docs/trust.md),
 * by m->statement: for a plugin, with the name and version the caller
 * took from the file's static info, m's digest and, from the second
 * statement on, m's created_at and bundled libraries; for a library,
 * m's soname, digest and created_at. NULL for lack of memory or when a
 * name in it has a space or a control character. */
char *tenon__statement(const struct tenon__meta *m, const char *name,
                       const char *version, size_t *len);

/* Ed25519 signature of `len` bytes at msg with the secret key whose
 * 32-byte seed (RFC 8032's private key, what a .key file holds) is `seed`.
 * Only TENON_ENOMEM can fail it. */
int tenon__sign(const unsigned char seed[32], const void *msg, size_t len,
                unsigned char sig[64]);

/* Sign *m with the newest statement for what it describes (a plugin
 * `name` `version`, or a library: m->soname set), filling statement,
 * signature and key_id. TENON_EINVAL when a bundled library's name cannot
 * be signed (tenon__statement), TENON_ENOMEM. */
int tenon__meta_sign(struct tenon__meta *m, const unsigned char seed[32],
                     const char *key_id, const char *name, const char *version);

/* Plain RFC 8032 Ed25519 (no prehash, no context) of `len` bytes at msg:
 * 0 when `sig` verifies with `pk`, TENON_EPERM when it does not,
 * TENON_ENOMEM when it could not be checked. */
int tenon__ed25519_verify(const unsigned char pk[32], const void *msg,
                          size_t len, const unsigned char sig[64]);

/* Verify `sig` over `len` bytes at msg with the trusted key(s) whose id
 * is `key_id`. 0 when one verifies; TENON_ENOENT when no trusted key has
 * that id ("signed by key ... which is not trusted"); TENON_EPERM when the
 * signature does not verify; the reason in `reason`. */
int tenon__trust_verify(const struct tenon__keyring *kr, const void *msg,
                        size_t len, const unsigned char sig[64],
                        const char *key_id, char *reason, size_t rlen);

/* The signature of the signed *m over its statement (tenon__statement),
 * as tenon__trust_verify(); TENON_EPERM says "signature does not verify
 * for hello 1.0.0 (digest ...) ...". */
int tenon__meta_verify(const struct tenon__keyring *kr,
                       const struct tenon__meta *m, const char *name,
                       const char *version, char *reason, size_t rlen);

/* Key files, one line each: "tenon-ed25519 <base64 key> <key id>" (.pub)
 * and "tenon-ed25519-secret <base64 seed> <key id>" (.key). Reading checks
 * the form and that the id matches the key; reasons name the file. Missing
 * file: TENON_ENOENT; malformed: TENON_EINVAL. out->path is left alone. */
int tenon__pubkey_read(const char *path, struct tenon__key *out, char *reason,
                       size_t rlen);
/* seed gets the secret key's 32-byte seed, for tenon__sign(); the caller
 * wipes it (OPENSSL_cleanse) when done. On failure it is wiped here. */
int tenon__seckey_read(const char *path, unsigned char seed[32],
                       char id[TENON__KEY_ID_LEN + 1], char *reason,
                       size_t rlen);
/* Generate a key pair into two new files: the secret one with mode 0600.
 * Neither is ever overwritten (TENON_EEXIST, nothing written); if the
 * public one cannot be written the secret one is removed again. */
int tenon__key_generate(const char *secret_path, const char *public_path,
                        char id[TENON__KEY_ID_LEN + 1], char *reason,
                        size_t rlen);
/* Check the .pub file `src` and write it, in canonical form and under the
 * same base name, into `dir` (created with mode 0700 where missing).
 * TENON_EEXIST when dir already has a file of that name. The caller frees
 * *dest, the new file's path. */
int tenon__pubkey_install(const char *src, const char *dir,
                          struct tenon__key *out, char **dest, char *reason,
                          size_t rlen);
/* mkdir -p with `mode` for the directories it creates. */
int tenon__mkdirs(const char *dir, mode_t mode, char *reason, size_t rlen);

/* Every valid *.pub file (not starting with '.') of the trust directories,
 * in directory order then file name (byte order). Missing directories are
 * skipped. Anything else that keeps a directory or key file from being
 * used becomes a problem in kr->problems, and that directory or file is
 * ignored: a directory that cannot be opened or read whole (EACCES, EMFILE,
 * not a directory), a key file that cannot be read or is malformed, and
 * either of them owned by a user other than the caller or root, or
 * writable by group or others (ssh's StrictModes for authorized_keys).
 * What is checked is what is read: the directory's descriptor, and each
 * key file opened through it without following a symbolic link; a linked
 * key is followed only to a target that passes the same rule. Logs
 * nothing (tenon__keyring_warn() does). Fails only for lack of memory,
 * with nothing left to free. Free with tenon__keyring_free(). */
int tenon__keyring_load_dirs(char *const *dirs, size_t ndirs,
                             struct tenon__keyring *kr);
/* The same for t->trust_dirs. */
int tenon__keyring_load(const tenon_t *t, struct tenon__keyring *kr);
void tenon__keyring_free(struct tenon__keyring *kr);
/* Log each problem of kr at warn level. */
void tenon__keyring_warn(const tenon_t *t, const struct tenon__keyring *kr);
/* Whether a and b hold the same keys from the same files, and the same
 * problems: a reload that found nothing new. */
int tenon__keyring_same(const struct tenon__keyring *a,
                        const struct tenon__keyring *b);
/* The trust store's problems as a suffix for the reason of a refusal: ""
 * when there are none, else "; trust store problem: <the first reason>"
 * (with how many more when there are). Lives as long as kr. [any-thread] */
const char *tenon__keyring_error(const struct tenon__keyring *kr);

/* What a trust check found. */
enum {
    TENON__TRUST_OK = 0,
    TENON__TRUST_UNSIGNED,  /* no .meta, or a .meta without signature */
    TENON__TRUST_MALFORMED, /* the .meta is not valid (reason says how) */
    TENON__TRUST_MISMATCH,  /* the file's digest is not the .meta's */
    TENON__TRUST_UNTRUSTED, /* signed by a key not in the keyring */
    TENON__TRUST_BADSIG,    /* signature does not verify (wrong plugin,
                               version or digest, or forged) */
    TENON__TRUST_ERROR      /* the file or .meta could not be read */
};

struct tenon__trust_result {
    int verdict;                        /* TENON__TRUST_* */
    char key_id[TENON__KEY_ID_LEN + 1]; /* from the .meta; "" if none */
    unsigned char digest[32];           /* of the file, when have_digest */
    int have_digest;
    char reason[TENON__REASON_MAX]; /* "signed by ID", "unsigned: ..." */
    /* When the signature verified and its statement covers them (not the
     * first plugin statement): the .meta's created_at, and the bundled
     * libraries it names (malloc'd: tenon__trust_result_free()). */
    char signed_at[TENON__TIME_LEN + 1];
    struct tenon__meta_dep *deps;
    size_t ndeps;
};

/* Check the file open as `fd`, found at `path`, against "<path>.meta":
 * the .meta must parse, its digest must equal the SHA-256 of fd's contents,
 * it must carry a signature, and that signature must verify, with a key of
 * `kr`, over the statement for `name` and `version` (which the caller took
 * from the same file's static info). Fills *res; returns 0 (TRUST_OK), or
 * TENON_ENOENT (UNSIGNED), TENON_EINVAL (MALFORMED), TENON_EPERM
 * (MISMATCH, UNTRUSTED, BADSIG), TENON_EIO or TENON_ENOMEM (ERROR).
 * Only reads: fd's offset is not moved. Runs no plugin code. When
 * `known_digest` is not NULL it is taken as the file's SHA-256 (a digest
 * the scan cache kept for an unchanged file) and fd is not read; else fd
 * is hashed, and a file of more than `max` bytes refused (TENON_EPERM,
 * naming max_file_size). */
int tenon__trust_check_file(const struct tenon__keyring *kr, const char *path,
                            const char *name, const char *version, int fd,
                            uint64_t max, const unsigned char *known_digest,
                            struct tenon__trust_result *res);

/* tenon__trust_check_file() for a library a plugin bundles, whose
 * DT_SONAME is `soname`: its .meta must describe a library of that
 * DT_SONAME (tenon-library-signature-v1). */
int tenon__trust_check_library(const struct tenon__keyring *kr,
                               const char *path, const char *soname, int fd,
                               uint64_t max, const unsigned char *known_digest,
                               struct tenon__trust_result *res);

/* Free what a trust check left in *res (the bundled libraries). */
void tenon__trust_result_free(struct tenon__trust_result *res);

/* Is the dependency `dep` of the plugin whose good trust check is
 * `plugin` vouched for? A bundled library must be named with its digest
 * in the plugin's verified .meta (when that names it at all, other bytes
 * are refused), or else have a .meta of its own, signed by a trusted key,
 * naming its DT_SONAME and digest; a DT_NEEDED path is refused; the
 * system's are not checked. 0, or TENON_EPERM with the reason naming the
 * dependency. */
int tenon__trust_check_dep(const struct tenon__keyring *kr,
                           const struct tenon__trust_result *plugin,
                           const struct tenon__dep *dep, char *reason,
                           size_t len);
/* tenon__trust_check_dep() for each of `d`, up to the first refusal. */
int tenon__trust_deps(const struct tenon__keyring *kr,
                      const struct tenon__trust_result *plugin,
                      const struct tenon__deps *d, char *reason, size_t len);

/* The statements a signature can cover (docs/trust.md). */
#define TENON__STMT_PLUGIN_V1  "tenon-plugin-signature-v1"
#define TENON__STMT_PLUGIN_V2  "tenon-plugin-signature-v2"
#define TENON__STMT_LIBRARY_V1 "tenon-library-signature-v1"

/* A bundled library named in a plugin's .meta. */
struct tenon__meta_dep {
    char name[256]; /* the DT_NEEDED name */
    unsigned char digest[32];
};

/* A parsed .meta: of a plugin (info set) or of a library (soname set). */
struct tenon__meta {
    unsigned char digest[32];
    char created_at[TENON__TIME_LEN + 1];
    int is_signed; /* signature, key_id and statement are set */
    unsigned char signature[64];
    char key_id[TENON__KEY_ID_LEN + 1];
    /* The statement the signature covers: TENON__STMT_*; a plugin .meta
     * signed without naming one has TENON__STMT_PLUGIN_V1. "" unsigned. */
    char statement[32];
    struct json_t *info; /* a plugin's static info as JSON (owned) */
    char *soname;        /* a library's DT_SONAME (malloc'd) */
    /* Bundled libraries by name, sorted, each once (malloc'd). */
    struct tenon__meta_dep *deps;
    size_t ndeps;
};

/* Parse a .meta document strictly (docs/trust.md): a JSON object with
 * "digest" (64 lowercase hex), "created_at" (YYYY-MM-DDTHH:MM:SSZ, a real
 * date), and either "info" (a plugin: an object with string "name" and
 * "version"; values strings or non-empty arrays of strings; "arg" an array
 * of objects of strings) or "soname" (a library: a file name); optionally
 * "deps" (a plugin's bundled libraries: an object of file name -> 64 hex),
 * and together "signature" (128 lowercase hex), "key_id" (16 lowercase
 * hex) and, for any statement but the first plugin one, "statement".
 * Unknown members are ignored. At most TENON__META_MAX bytes. TENON_EINVAL
 * with "field 'x': expected ..." on failure; *out is then empty
 * (tenon__meta_free() is harmless). */
int tenon__meta_parse(const char *data, size_t size, struct tenon__meta *out,
                      char *reason, size_t len);
/* Read and parse the file; TENON_ENOENT when it does not exist, TENON_EIO
 * when it cannot be read, else as tenon__meta_parse(). */
int tenon__meta_read(const char *path, struct tenon__meta *out, char *reason,
                     size_t len);
void tenon__meta_free(struct tenon__meta *m);
/* Write m as "<path>" atomically (temporary file in the same directory,
 * fsync, rename), mode 0644. m->info NULL writes an empty object. */
int tenon__meta_write(const char *path, const struct tenon__meta *m,
                      char *reason, size_t len);
/* Write `size` bytes as `path` atomically, with `mode`. */
int tenon__write_atomic(const char *path, const char *data, size_t size,
                        mode_t mode, char *reason, size_t len);
/* The static info as the .meta "info" object (new reference), or NULL. */
struct json_t *tenon__meta_info(const struct tenon__info *info);

/* `when` as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ"; whether s is one. */
void tenon__rfc3339(time_t when, char out[TENON__TIME_LEN + 1]);
int tenon__rfc3339_valid(const char *s);

/* ---- context.c: the trust policy in force ------------------------------- */

/* The policy for this context (never TENON_TRUST_DEFAULT: that becomes
 * require when a trust directory exists or the trust store has a problem,
 * else off), and in *kr the keyring, which stays valid until the caller
 * gives it back with tenon__trust_release() (a keyring replaced meanwhile
 * is freed then, so a host whose keys change often does not grow). The
 * keyring is loaded from the trust directories on first use and again when
 * one of them changed (its inode, mtime or ctime). One with problems is
 * read again on every call, so a passing error (EMFILE) or a fixed
 * directory takes effect at the next scan or load; a reload that finds the
 * same keys and problems keeps the keyring in use. A keyring that could
 * not be loaded at all (out of memory) leaves the default policy at
 * require with no keys: failing closed. Takes only its own lock, so the
 * loader may call it while holding t->lock. [any-thread] */
int tenon__trust_policy(tenon_t *t, const struct tenon__keyring **kr);
void tenon__trust_release(tenon_t *t, const struct tenon__keyring *kr);

/* ---- ops.c: operations, permissions, timers ------------------------------ */

enum tenon__perm {
    TENON__P_LOG,
    TENON__P_CALLBACK,
    TENON__P_EVENT,
    TENON__P_OP,
    TENON__P_BUF_READ,
    TENON__P_BUF_WRITE,
    TENON__P_TIMER,
    TENON__P_FILE,
    TENON__P_TABLE,
    TENON__P_NETWORK,
    TENON__P_COUNT
};
/* What a plugin naming no permission gets: what ABI 1 offered before
 * permissions existed. */
#define TENON__PERM_LEGACY                                                     \
    ((1u << TENON__P_LOG) | (1u << TENON__P_CALLBACK) | (1u << TENON__P_EVENT))

/* The bit of permission `s` (`len` bytes), or -1. */
int tenon__perm_lookup(const char *s, size_t len);
/* Count and (once per plugin and permission) log a refusal; returns
 * TENON_EPERM with a message naming the permission. */
int tenon__perm_refuse(struct tenon_instance *self, int perm, const char *what);
static inline int tenon__perm_has(const struct tenon_instance *self, int perm)
{
    return self && (self->perms >> perm & 1u);
}

/* A `hook` key's value: "before|define|after OP[ [PARAM]] [always-on]".
 * 0, or TENON_EINVAL with the reason in `why`. */
int tenon__hook_spec_parse(const char *v, int *kind, char *op, size_t oplen,
                           unsigned *flags, char *why, size_t why_len);

/* The permissions an instance of `p` gets under t's policy, in *granted;
 * TENON_EPERM naming those refused. Runs no plugin code. */
int tenon__perms_grant(tenon_t *t, const struct tenon_plugin *p,
                       uint32_t *granted);
/* After create(): attach the hooks the static info declares. */
int tenon__instance_hooks_attach(struct tenon_instance *inst);
/* Before destroy(): detach its hooks and drop its timers, waiting for any
 * that runs on another thread. */
void tenon__instance_ops_stop(struct tenon_instance *inst);
void tenon__ops_free(tenon_t *t);
/* tenon_open(): the policy file $TENON_POLICY names, if set. */
int tenon__ops_policy_env(tenon_t *t);

/* The host API members of ops.c (plugin.h). */
int tenon__host_op_attach(struct tenon_instance *self, const char *op, int kind,
                          unsigned flags, tenon_hook_fn fn, void *ctx,
                          uint64_t *id);
int tenon__host_op_detach(struct tenon_instance *self, uint64_t id);
int64_t tenon__host_buf_read(struct tenon_instance *self,
                             const struct tenon_op_call *call, uint32_t arg,
                             uint64_t off, void *dst, uint64_t len);
int64_t tenon__host_buf_write(struct tenon_instance *self,
                              const struct tenon_op_call *call, uint32_t arg,
                              uint64_t off, const void *src, uint64_t len);
int tenon__host_op_call(struct tenon_instance *self, const char *op,
                        struct tenon_op_value *argv, uint32_t argc,
                        int64_t *result);
int tenon__host_timer_set(struct tenon_instance *self, uint64_t delay_ns,
                          tenon_timer_fn fn, void *ctx, uint64_t *id);
int tenon__host_timer_cancel(struct tenon_instance *self, uint64_t id);
int tenon__host_enable(struct tenon_instance *self);
void tenon__host_disable(struct tenon_instance *self, const char *fmt, ...)
    TENON_PRINTF(2, 3);
int tenon__host_permitted(struct tenon_instance *self, const char *name);

/* barrier_linux.c: a full memory barrier on every thread of the process. */
int tenon__sys_barrier_init(void); /* 0, or -1 when the OS has none */
void tenon__sys_barrier(void);

#endif /* TENON_INTERNAL_H */
