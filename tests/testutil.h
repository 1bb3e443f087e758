/*
 * Helpers shared by the test programs. Including this brings in cmocka (and
 * the headers it needs first), the host API and jansson, so a test file can
 * start with it alone. Every helper that checks something fails the running
 * cmocka test; none may be called outside one.
 */
#ifndef TENON_TESTUTIL_H
#define TENON_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <tenon/host.h>

/* ---- running a child process --------------------------------------------- */

struct run {
    int status; /* exit status, or 128 + signal number */
    char *out, *err;
};

/* Fork and run child(arg) with stdin from /dev/null and stdout and stderr
 * captured into r; the child exits with what child() returns. The child's
 * stdio buffers are never flushed (they hold copies of the parent's), so it
 * writes with write() or dprintf(). Returns 0 when the child exited, -1 when
 * it was killed after timeout_ms; either way r holds what it wrote and the
 * caller frees it with run_free(). */
int run_child(struct run *r, int timeout_ms, int (*child)(void *), void *arg);

/* Run the program argv[0] with `argv`, `input` on its standard input (at
 * most a pipe's buffer of it) and TENON_PLUGIN_PATH set to `plugin_path`,
 * as run_child() does; fails the test if it cannot start or runs over a
 * minute. */
void run_input(struct run *r, const char *input, const char *plugin_path,
               char *const argv[]);

/* Run the tenon CLI (TENON_CLI) with the NULL-terminated arguments after
 * `env`, a NULL-terminated list in which "NAME=value" sets a variable and
 * "NAME" removes it (NULL for none). Fails the test if it runs too long. */
void run_env(struct run *r, const char *const *env, ...);

#define RUN(r, ...) run_env((r), NULL, __VA_ARGS__, (const char *)NULL)
#define RUN_ENV(r, env, ...)                                                   \
    run_env((r), (env), __VA_ARGS__, (const char *)NULL)

void run_free(struct run *r);

/* On a mismatch, shows both outputs: the reason is usually on stderr. */
void assert_status(const struct run *r, int want);

/* ---- assertions ---------------------------------------------------------- */

void assert_contains(const char *hay, const char *needle);

/* NULL-aware string equality, so an unexpected NULL fails instead of
 * crashing. */
void assert_nstr(const char *got, const char *want);

/* The parsed document, which the caller frees with json_decref(). */
json_t *parse_json(const char *text);

/* Is the library at `path` mapped into this process, itself or as the
 * sealed copy Tenon loads (a memory file named after it)? Tells whether
 * the loader really unloaded a plugin, which its own bookkeeping cannot. */
int mapped(const char *path);

/* ---- contexts ------------------------------------------------------------ */

/* A context searching exactly `dirs`, at the default log level. Its
 * inventory is scanned lazily, by the first call that needs it. */
tenon_t *open_dirs(const char *const *dirs, size_t n);

/* The same, scanned now, so that a failing scan fails here instead of
 * showing up as a confusing difference later. */
tenon_t *open_scanned(const char *const *dirs, size_t n);

/* A context searching exactly `dirs` under trust policy `trust`, with the
 * one trust directory `keys`, no scan cache, and log lines at warn level
 * and above going to `log_fn` (NULL: only errors, to stderr). Not scanned
 * yet. */
tenon_t *open_trusted(const char *const *dirs, size_t n, const char *keys,
                      int trust, tenon_log_fn log_fn);

/* `tenon sign FILE` with KEYS/dev.key, made (with dev.pub) by `tenon
 * keygen` on first use. Returns what it printed, malloc'd. */
char *sign_with(const char *keys, const char *file);

/* ---- files --------------------------------------------------------------- */

/* "dir/name", malloc'd. */
char *path_join(const char *dir, const char *name);

/* The version string compiled into the code of an instance of the "basic"
 * test plugin: which file actually runs. */
const char *version_of(tenon_instance_t *inst);

/* Copy the file `from` to `to` (created or truncated); asserts on failure. */
void copy_path(const char *from, const char *to);

/* A new empty directory under $TMPDIR (else /tmp), malloc'd. */
char *make_tmpdir(void);

/* Remove `dir` and everything below it without following links, then free
 * the string. NULL is ignored. */
void remove_tree(char *dir);

/* Make permission bits bind this thread even when it runs as root: drop
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the effective set (kept in
 * the permitted set, so permissions_restore() raises them again). Returns
 * 0, or -1 when the capabilities cannot be changed here. Threads created
 * meanwhile inherit it. */
int permissions_enforce(void);
void permissions_restore(void);

/* cmocka fixtures: a fresh directory in *state, removed again even when the
 * test fails. */
int tmp_setup(void **state);
int tmp_teardown(void **state);

#endif
