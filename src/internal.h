/* Internals shared between libtenon's source files. Not installed. */
#ifndef TENON_INTERNAL_H
#define TENON_INTERNAL_H

#include <tenon/host.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
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
};

/* The largest info accepted; real ones are a few hundred bytes. */
#define TENON__INFO_MAX (64u * 1024u)

/* Read the ELF header, the program headers and the Tenon note (section
 * ".note.tenon") through `read_at`, normally in one read of the first page.
 * On failure returns a negative code and writes the reason (naming what was
 * expected) into `reason`. */
int tenon__elf_read(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                    struct tenon__elf *out, char *reason, size_t reason_len);

/* The same for a memory buffer (fuzzing, tests). */
int tenon__elf_read_mem(const void *data, size_t size, struct tenon__elf *out,
                        char *reason, size_t reason_len);

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
    void *mem; /* one block holding buf and the arrays below */
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
    struct tenon_arg_decl *args;
    size_t nargs;
};

/* Parse `buf` (taken over: freed by tenon__info_free, also on failure).
 * Checks every rule of the static info contract; on failure returns
 * TENON_EINVAL or TENON_EABI with the reason. */
int tenon__info_parse(char *buf, size_t size, struct tenon__info *out,
                      char *reason, size_t reason_len);
void tenon__info_free(struct tenon__info *info);
const char *tenon__info_get(const struct tenon__info *info, const char *key);

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

/* ---- inventory.c --------------------------------------------------------- */

struct tenon_plugin {
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
    char path[]; /* allocated with the entry */
};

/* Read and check the file `name` in directory `dirfd` (or AT_FDCWD); always
 * fills `p` (status and reason on failure). Never runs plugin code. */
void tenon__plugin_probe(struct tenon_plugin *p, int dirfd, const char *name);
void tenon__plugin_free(struct tenon_plugin *p);
/* Set status and reason, replacing unprintable bytes of the reason. */
void tenon__plugin_set_reason(struct tenon_plugin *p, int status,
                              const char *reason);

/* Split "name[@version][:args]"; the returned pointers are into a copy the
 * caller frees (*buf). *args is NULL when no ':' was given. */
int tenon__spec_split(const char *spec, char **buf, const char **name,
                      const char **version, const char **args);

/* tenon_find() on an already split spec. */
int tenon__find_spec(tenon_t *t, const char *name, const char *version,
                     const tenon_plugin_t **out);

/* ---- loader.c ------------------------------------------------------------ */

struct tenon__library {
    struct tenon__library *next;
    dev_t dev;
    ino_t ino;
    char *path;
    void *handle;
    int fd; /* the descriptor it was loaded from, open while loaded */
    const struct tenon_plugin_entry *entry;
    size_t refs;
};

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

/* ---- host.c: the API handed to plugins, and logging ---------------------- */

extern const struct tenon_host tenon__host;

void tenon__log(const tenon_t *t, int level, const char *origin,
                const char *fmt, ...) TENON_PRINTF(4, 5);
void tenon__vlog(const tenon_t *t, int level, const char *origin,
                 const char *fmt, va_list ap) TENON_PRINTF(4, 0);

/* ---- the context and instances ------------------------------------------- */

struct tenon {
    pthread_mutex_t lock;
    char **paths;
    size_t npaths;
    atomic_int log_level;
    unsigned scan_threads; /* 0: one per CPU, at most 4 */
    int trust;         /* enum tenon_trust_policy as given (may be DEFAULT) */
    char **trust_dirs; /* where trusted public keys are looked for */
    size_t ntrust_dirs;
    char *cache_dir; /* NULL when the cache is off or has no home */
    int no_cache;
    tenon_log_fn log_fn;
    void *log_ud;

    int scanned;
    struct tenon_plugin **plugins; /* current scan */
    size_t nplugins;
    struct tenon_plugin **retired; /* entries of earlier scans */
    size_t nretired, cap_retired;

    struct tenon__library *libraries;
};

struct tenon_instance {
    tenon_t *t;
    const struct tenon_plugin *plugin;
    struct tenon__library *lib;
    struct tenon_instance *input;
    atomic_size_t refs;
    void *obj;
    struct tenon__args args;
    char error[512];
};

/* Scan if no scan has happened yet. Takes t->lock. */
int tenon__ensure_scanned(tenon_t *t);

#endif /* TENON_INTERNAL_H */
