/*
 * tenon/host.h - embedding Tenon in a host program.
 *
 * A host opens a context, which finds plugin files on the search path and
 * reads their static info without running any plugin code (the inventory);
 * it then creates instances from "name[@version][:args]" strings, which loads
 * each plugin library on first use and keeps it loaded while any instance of
 * it lives, and asks instances for interfaces by id.
 *
 * Thread tags: [any-thread] may be called from any thread concurrently with
 * any other call except tenon_close(); [instance-thread] must not run
 * concurrently with another call on the same instance.
 *
 * Errors: functions returning int give 0 or a negative TENON_E* code, and on
 * failure leave a message naming what was wrong in tenon_last_error() of the
 * calling thread.
 */
#ifndef TENON_HOST_H
#define TENON_HOST_H

#include <tenon/event.h>
#include <tenon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libtenon is built with hidden visibility; what this header declares is its
 * exported API. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(default)
#endif

#define TENON_VERSION_MAJOR  0
#define TENON_VERSION_MINOR  5
#define TENON_VERSION_PATCH  0
#define TENON_VERSION_STRING "0.5.0"

typedef struct tenon tenon_t;
typedef struct tenon_plugin tenon_plugin_t;
typedef struct tenon_instance tenon_instance_t;

/* Receives every log line, from the host library and from plugins. `origin`
 * is the plugin name, or "tenon" for the library itself. Called on whichever
 * thread logs, sometimes while the library holds its lock: it must not call
 * back into Tenon. [any-thread] */
typedef void (*tenon_log_fn)(void *ud, int level, const char *origin,
                             const char *msg);

/* What the inventory does with a plugin whose signature does not verify. */
enum tenon_trust_policy {
    /* TENON_TRUST from the environment ("require", "warn", "off"); else
     * require when a trust directory exists (with keys or, once the last
     * key is removed, without) or the trust store has a problem (it fails
     * closed: docs/trust.md), else off. */
    TENON_TRUST_DEFAULT = 0,
    TENON_TRUST_OFF = 1,    /* no checks */
    TENON_TRUST_WARN = 2,   /* check, log a warning, load anyway */
    TENON_TRUST_REQUIRE = 3 /* unsigned, tampered or untrusted: unavailable */
};

struct tenon_options {
    uint32_t struct_size; /* sizeof(struct tenon_options) */
    /* When non-NULL, exactly these directories are searched, in order.
     * Otherwise TENON_PLUGIN_PATH, ~/.local/lib/tenon, <prefix>/lib/tenon. */
    const char *const *plugin_paths;
    size_t plugin_path_count;
    /* Initial log level; 0 means TENON_LOG_WARN. Negative means "read
     * TENON_LOG from the environment, else TENON_LOG_WARN". */
    int log_level;
    /* NULL: log lines go to stderr. */
    tenon_log_fn log_fn;
    void *log_ud;
    /* Threads that probe a directory of 64 or more files: 0 means one per
     * online CPU, at most 4; 1 means the calling thread only. */
    unsigned scan_threads;
    /* enum tenon_trust_policy. */
    int trust;
    /* Directories of trusted public keys, in order; NULL means
     * ~/.config/tenon/trusted then /etc/tenon/trusted. */
    const char *const *trust_dirs;
    size_t trust_dir_count;
    /* The scan cache directory; NULL means TENON_CACHE_DIR, else
     * $XDG_CACHE_HOME/tenon, else ~/.cache/tenon. */
    const char *cache_dir;
    /* Nonzero: neither read nor write the scan cache. */
    int no_cache;
    /* The largest plugin or bundled library file the host hashes, copies
     * and loads, in bytes; a larger one is unavailable with a reason that
     * names this limit. 0 means TENON_MAX_FILE_SIZE_DEFAULT. */
    uint64_t max_file_size;
};

#define TENON_MAX_FILE_SIZE_DEFAULT (256ull << 20)

/* ---- context ------------------------------------------------------------- */

/* Create a context. `opts` may be NULL for defaults. The inventory is scanned
 * lazily, on the first call that needs it. The caller owns *out and frees it
 * with tenon_close(). [any-thread] */
int tenon_open(tenon_t **out, const struct tenon_options *opts);

/* Free a context. Every instance must have been destroyed; libraries still
 * held by a leaked instance are not closed. Not concurrent with any other
 * call on `t`. */
void tenon_close(tenon_t *t);

/* Name of an error code ("invalid argument"); static storage. [any-thread] */
const char *tenon_strerror(int err);

/* Symbolic name of an error code ("TENON_EINVAL"); static storage.
 * [any-thread] */
const char *tenon_err_name(int err);

/* The message of the last failed call on this thread: what was wrong and what
 * was expected. Valid until the next failing call on this thread. Never NULL.
 * [any-thread] */
const char *tenon_last_error(void);

/* Log level for the library and every plugin, including plugins already
 * loaded: they read it on each log call. [any-thread] */
void tenon_set_log_level(tenon_t *t, int level);
int tenon_get_log_level(const tenon_t *t);

/* Parse "off", "error", "warn", "info", "debug", "trace" (or 0..5); the
 * name of a level (static storage). [any-thread] */
int tenon_log_level_parse(const char *s, int *level);
const char *tenon_log_level_name(int level);

/* The directories searched, in order. Pointer owned by `t`. [any-thread] */
size_t tenon_search_path_count(const tenon_t *t);
const char *tenon_search_path(const tenon_t *t, size_t i);

/* ---- inventory ----------------------------------------------------------- */

/* (Re)scan the search path. Entries from an earlier scan stay valid until
 * tenon_close(), or until tenon_release_old_scans(). No plugin code runs.
 * [any-thread] */
int tenon_scan(tenon_t *t);

/* Free the entries of earlier scans that no live instance was made from,
 * and return how many. Afterwards an entry pointer obtained before the last
 * tenon_scan() (from tenon_plugin_at(), tenon_find(), or
 * tenon_instance_plugin() of a destroyed instance) is invalid; those of
 * live instances stay valid while the instance lives. A host that rescans
 * for as long as it runs (to see new plugins, or revoked keys) calls this
 * after each rescan, once it holds no such pointers: memory then stays as
 * it is after one scan. [any-thread, but not while another thread uses an
 * entry pointer from an earlier scan] */
size_t tenon_release_old_scans(tenon_t *t);

/* Every file the scan found, available or not, in search-path order then
 * file name. The entry is owned by `t` and valid until tenon_close(), or
 * until tenon_release_old_scans() after a later scan. [any-thread] */
size_t tenon_plugin_count(tenon_t *t);
const tenon_plugin_t *tenon_plugin_at(tenon_t *t, size_t i);

/* The available plugin named by "name" (highest version) or
 * "name@version" (exactly that version). TENON_ENOENT when none;
 * TENON_EUNAVAIL when only unavailable files carry that name (the message
 * says why). [any-thread] */
int tenon_find(tenon_t *t, const char *spec, const tenon_plugin_t **out);

enum tenon_plugin_status {
    TENON_AVAILABLE = 0,
    TENON_UNAVAILABLE = 1, /* see tenon_plugin_reason() */
    TENON_SHADOWED = 2     /* same name and version found earlier in the path */
};

/* Accessors for an inventory entry; strings are owned by the entry. Name and
 * version are NULL when the file's info could not be read. [any-thread] */
const char *tenon_plugin_path(const tenon_plugin_t *p);
const char *tenon_plugin_name(const tenon_plugin_t *p);
const char *tenon_plugin_version(const tenon_plugin_t *p);
int tenon_plugin_status(const tenon_plugin_t *p);
const char *tenon_plugin_status_name(int status);
/* Why the file cannot be used; NULL if available. Safe to print: control
 * characters and bytes that are not UTF-8 in the file names and values it
 * quotes are escaped as \n, \t, \033 (docs/cli.md, "Escaping"). */
const char *tenon_plugin_reason(const tenon_plugin_t *p);
int tenon_plugin_abi(const tenon_plugin_t *p); /* -1 if unknown */
/* First value of a static info key ("description", "license", "help",
 * "accepts", "url", "contact", ...), or NULL. [any-thread] */
const char *tenon_plugin_get(const tenon_plugin_t *p, const char *key);
/* Every static info string in file order, unknown keys included:
 * tenon_plugin_info_at() stores the i-th key and value (owned by the entry)
 * and returns 0, or TENON_ERANGE past the end. The interfaces provided, in
 * order. [any-thread] */
size_t tenon_plugin_info_count(const tenon_plugin_t *p);
int tenon_plugin_info_at(const tenon_plugin_t *p, size_t i, const char **key,
                         const char **value);
size_t tenon_plugin_provides_count(const tenon_plugin_t *p);
const char *tenon_plugin_provides(const tenon_plugin_t *p, size_t i);

/* What the dynamic loader will look for when the plugin is loaded, read
 * from its dynamic section without loading it: the libraries it needs
 * (DT_NEEDED, and filters, in order), and the search paths it carries
 * (DT_RUNPATH, DT_RPATH; NULL when absent). A library found through them
 * outside the system library directories is bundled: under a trust policy
 * it is verified like the plugin (docs/trust.md). Strings owned by the
 * entry. [any-thread] */
size_t tenon_plugin_needed_count(const tenon_plugin_t *p);
const char *tenon_plugin_needed(const tenon_plugin_t *p, size_t i);
const char *tenon_plugin_runpath(const tenon_plugin_t *p);
const char *tenon_plugin_rpath(const tenon_plugin_t *p);

/* A declared argument, as read from the static info. The accessors below
 * return NULL past the end; tenon_arg_type_name() gives "string", "int",
 * "bool" or "enum". [any-thread] */
struct tenon_arg_decl {
    const char *name;
    int type; /* enum tenon_arg_type */
    int required;
    const char *default_value; /* NULL when none */
    const char *help;
    const char *choices; /* TENON_ARG_ENUM: "a|b|c"; else NULL */
    /* Appended after the members above (docs/abi.md): the range of an int
     * argument (arg.min, arg.max, as TENON_ARG_INT_RANGE writes them),
     * inclusive; each bound holds only when its has_ flag is nonzero. */
    int has_min, has_max;
    int64_t min, max;
};
size_t tenon_plugin_arg_count(const tenon_plugin_t *p);
const struct tenon_arg_decl *tenon_plugin_arg(const tenon_plugin_t *p,
                                              size_t i);
const char *tenon_arg_type_name(int type);

/* ---- instances ----------------------------------------------------------- */

/* Create an instance from "name[@version][:args]". Arguments are validated
 * against the plugin's declarations before any plugin code runs; the library
 * is loaded on first use. `input` is the instance this one reads from, or
 * NULL; the new instance holds a reference to it. The caller owns *out.
 * [any-thread] */
int tenon_create(tenon_t *t, const char *spec, tenon_instance_t *input,
                 tenon_instance_t **out);

/* Check "name[@version][:args]" as tenon_create() would before loading
 * anything: the form of the string, that the plugin exists and is available
 * (under the trust policy), and the arguments against its declarations
 * (names, types, choices, ranges, required ones). Runs no plugin code and
 * loads no library; does not check an input instance, which the string does
 * not name. Returns 0, or the code and message tenon_create() would give.
 * *plugin (may be NULL) gets the entry the string names, also when only its
 * arguments are wrong, else NULL; it is owned by `t`. [any-thread] */
int tenon_check(tenon_t *t, const char *spec, const tenon_plugin_t **plugin);

/* Drop the caller's reference. The plugin's destroy() runs, and the library
 * is closed if this was its last instance, once no dependent instance holds
 * a reference either. NULL is ignored. [any-thread] */
void tenon_destroy(tenon_instance_t *inst);

/* The vtable of interface `id`, storing the object to pass to it in *obj;
 * NULL when the instance does not provide it. [any-thread] */
const void *tenon_get_interface(tenon_instance_t *inst, const char *id,
                                void **obj);

/* The inventory entry an instance was made from. [any-thread] */
const tenon_plugin_t *tenon_instance_plugin(const tenon_instance_t *inst);

/* The last message the plugin left with host->set_error(), or "" when none
 * yet. Never cleared (like errno): read it right after a call that failed.
 * The same message is the failing thread's tenon_last_error(), which is
 * the one to read when calls into the instance run on several threads.
 * [instance-thread] */
const char *tenon_instance_error(const tenon_instance_t *inst);

/* Load the plugin named by "name[@version]" and list its targets. Returns
 * TENON_ENOTSUP when the plugin has no targets() function. [any-thread] */
int tenon_targets(tenon_t *t, const char *spec, tenon_target_fn emit, void *ud);

/* Nonzero while the library of this entry is loaded. [any-thread] */
int tenon_plugin_loaded(tenon_t *t, const tenon_plugin_t *p);

/* ---- chains ------------------------------------------------------------ */

/* Build a chain, memflow's connector -> os -> connector: create steps[0]
 * (a "name[@version][:args]" string) with `input` (may be NULL), then each
 * next step with the instance before it as its input. Every step is checked
 * before its plugin code runs: a step whose `accepts` id the instance before
 * it does not provide fails, naming both plugins and the id. *out gets the
 * last instance, which holds the rest: tenon_destroy(*out) releases the
 * whole chain (and the caller keeps its own reference to `input`). On
 * failure nothing is left behind and the message names the step (its
 * position and text). [any-thread] */
int tenon_chain(tenon_t *t, const char *const *steps, size_t n,
                tenon_instance_t *input, tenon_instance_t **out);

/* ---- ranked providers ---------------------------------------------------- */

/* The rank of an entry (its static info key `rank`; 0 without one).
 * [any-thread] */
int tenon_plugin_rank(const tenon_plugin_t *p);

/* The available plugins that provide interface `id`, in the order the host
 * tries them: highest rank first, then by name, then the inventory's order
 * for one name (only the newest version of a name is listed). Stores up to
 * `max` entries (owned by `t`, as tenon_plugin_at()'s) in out[] and returns
 * how many there are in all. [any-thread] */
size_t tenon_providers(tenon_t *t, const char *id, const tenon_plugin_t **out,
                       size_t max);

/* Create an instance of the first provider of `id` that takes the job:
 * tries tenon_providers() in order, each with no arguments and `input`,
 * going on to the next when a create() declines (TENON_EDECLINE) or fails.
 * When none succeeds, returns TENON_ENOENT (none provides `id`) or the code
 * of the last failure, with a message listing each provider tried and its
 * reason. [any-thread] */
int tenon_create_provider(tenon_t *t, const char *id, tenon_instance_t *input,
                          tenon_instance_t **out);

/* ---- callbacks, from the host's side ------------------------------------- */

/* Register `fn` on the callback `name` of instance `provider` as
 * host->callback_register() does for a plugin (plugin.h), on behalf of the
 * host program: the handler is removed by tenon_callback_unregister() or
 * when `provider` is destroyed. tenon_callback_unregister() removes any
 * handler, the host's or a plugin's, with the guarantees of
 * host->callback_unregister(); TENON_ENOENT for an unknown id.
 * [any-thread] */
int tenon_callback_register(tenon_instance_t *provider, const char *name,
                            const char *sig, tenon_callback_fn fn, void *ctx,
                            uint64_t *id);
int tenon_callback_unregister(tenon_t *t, uint64_t id);

/* ---- core files ---------------------------------------------------------- */

/* Write an ELF core file of process `pid` as `osi` (an instance providing
 * tenon.osi/1) sees it, to `fd` (written from its current offset on,
 * sequentially, so a pipe will do): one PT_LOAD per readable run of each
 * mapping, notes NT_PRPSINFO, NT_PRSTATUS for each thread (registers are
 * not known to tenon.osi/1 and are written as zeros), NT_AUXV when the
 * provider knows it, and NT_FILE. gdb reads it (`gdb EXE FILE`), as does
 * the coredump plugin. Bytes a provider cannot read are left out of the
 * file (a PT_LOAD with no file bytes). TENON_ENOENT when there is no such
 * process, TENON_EIO when writing fails. [any-thread] */
int tenon_write_core(tenon_instance_t *osi, uint32_t pid, int fd);

/* ---- configuration ------------------------------------------------------- */

/* Create an instance as tenon_create() does, with a JSON config (the text
 * of an object; NULL for none). When the plugin states a schema
 * (TENON_CONFIG_SCHEMA, static info key `config.schema`), the config ("{}"
 * when NULL) is validated against it before the library is loaded, the
 * schema's defaults are filled in, and create() reads the result through
 * host->config(). A config for a plugin that states no schema is handed on
 * unchecked. An invalid config fails with TENON_EINVAL and a message naming
 * the plugin, the JSON path at fault and what was expected, e.g. "config
 * of plugin 'jsonl': at /maxline: expected an integer >= 1, got -5".
 * [any-thread] */
int tenon_create_config(tenon_t *t, const char *spec, const char *config,
                        tenon_instance_t *input, tenon_instance_t **out);

/* Validate `config` against the instance's schema as tenon_create_config()
 * does and hand the result to the plugin's tenon.config/1 set_config().
 * TENON_ENOTSUP when the plugin does not provide tenon.config/1; on any
 * failure the plugin keeps its old config. [instance-thread] */
int tenon_set_config(tenon_instance_t *inst, const char *config);

/* The config the instance has now (JSON text, defaults filled in), or NULL
 * when it has none; owned by the instance, valid until the next
 * tenon_set_config(). [instance-thread] */
const char *tenon_instance_config(const tenon_instance_t *inst);

/* Validate the JSON text `config` against the JSON Schema text `schema`
 * (the keywords docs/events.md lists: type, properties, required, enum,
 * minimum, maximum, items, additionalProperties, default, ...). On success
 * *out (may be NULL) gets the config with defaults filled in, compact JSON
 * text the caller frees with free(). On failure: TENON_EINVAL, the message
 * "at PATH: expected WHAT, got WHAT" (PATH a JSON Pointer, "" for the whole
 * config; the schema itself being wrong is said so), and *path (may be
 * NULL) gets PATH, malloc'd, which the caller frees. [any-thread] */
int tenon_config_validate(const char *schema, const char *config, char **out,
                          char **path);

/* ---- metrics ------------------------------------------------------------- */

/* Called once per metric; return nonzero to stop. */
typedef int (*tenon_metric_fn)(void *ud, const tenon_instance_t *inst,
                               const struct tenon_metric *m);

/* Call `fn` for each metric of the instance now (tenon.metrics/1).
 * TENON_ENOTSUP when it publishes none; else 0 or what `fn` stopped with.
 * [any-thread] */
int tenon_metrics(tenon_instance_t *inst, tenon_metric_fn fn, void *ud);

/* ---- event pipelines ------------------------------------------------------
 */

/* A pipeline: one source instance, any number of parse, extract, async and
 * listen instances, a compiled filter and an output (docs/events.md).
 * Every event is parsed (by the instances that want it) at most once, in
 * order, before anything is extracted from it; the filter then extracts
 * only the fields it still needs, and the output only those of matching
 * events. */
typedef struct tenon_pipeline tenon_pipeline_t;

/* A new pipeline reading from `source` (an instance providing
 * tenon.source/1; the pipeline takes a reference to it). Whatever else
 * the source provides (extract, parse, async, listen, metrics) joins the
 * pipeline too. [any-thread] */
int tenon_pipeline_new(tenon_t *t, tenon_instance_t *source,
                       tenon_pipeline_t **out);

/* Add an instance (a reference is taken) for every event capability it
 * provides: tenon.parse/1, tenon.extract/1, tenon.async/1,
 * tenon.listen/1. TENON_EINVAL when it provides none of them, and when a
 * field it extracts has the name of another instance's field (the
 * message names both plugins). Before tenon_pipeline_open() only.
 * [instance-thread: the pipeline's] */
int tenon_pipeline_add(tenon_pipeline_t *p, tenon_instance_t *inst);

/* Compile the filter `expr` (Falco's condition syntax; NULL or "" matches
 * every event), checked against the fields the pipeline's instances
 * declare and their types. On failure TENON_EINVAL with a message saying
 * what was expected and *column (may be NULL) the 1-based column in
 * `expr` where it went wrong. Before tenon_pipeline_open() only. */
int tenon_pipeline_filter(tenon_pipeline_t *p, const char *expr,
                          size_t *column);

/* The output for each matching event. */
enum tenon_output_kind {
    /* One line of `format`: text with %field and %field[arg] replaced by
     * the event's values ("<NA>" when missing), "%%" a percent sign.
     * Without a format: "%evt.num %evt.time %evt.source %evt.plugin
     * %evt.len". */
    TENON_OUTPUT_TEXT = 0,
    /* One JSON object: evt.num, evt.time and every field the format or
     * the filter names, missing ones as null. */
    TENON_OUTPUT_JSON = 1
};

/* Called with each matching event's output, without a newline; `text` is
 * the pipeline's, valid for the call. Return nonzero to stop the run
 * (tenon_pipeline_run() then returns that value). */
typedef int (*tenon_output_fn)(void *ud, const struct tenon_event_input *ev,
                               const char *text, size_t len);

/* Set the output: its kind, the format (NULL: the default; with JSON it
 * adds its fields to the object) and the function that takes it (NULL:
 * matching events are counted only). Errors as tenon_pipeline_filter()'s,
 * *column in `format`. Before tenon_pipeline_open() only. */
int tenon_pipeline_output(tenon_pipeline_t *p, int kind, const char *format,
                          size_t *column, tenon_output_fn fn, void *ud);

/* Measure the time spent in each instance's calls (costs two clock reads
 * per call; off by default). Before tenon_pipeline_open(): a change
 * during a capture takes effect at the next open. */
void tenon_pipeline_timing(tenon_pipeline_t *p, int on);

/* Open the capture (`params`: the source's open string, NULL for ""),
 * then run capture_open() of the listen instances and start the async
 * ones. On failure everything opened is closed again. */
int tenon_pipeline_open(tenon_pipeline_t *p, const char *params);

/* Called by tenon_pipeline_run() on its thread about every 100 ms (checked
 * between batches), for a progress display; return nonzero to stop. */
typedef int (*tenon_tick_fn)(void *ud, tenon_pipeline_t *p);

/* Run the open capture until the source ends (returns 0), `max` events
 * have been read (0: no limit; returns 0), tenon_pipeline_stop() is
 * called (TENON_EAGAIN; the run can be resumed), the output or tick
 * function stops it (its value), or the source fails (its code, with the
 * message). At the end of the source, the async instances are stopped
 * and what they emitted before is delivered. */
int tenon_pipeline_run(tenon_pipeline_t *p, uint64_t max, tenon_tick_fn tick,
                       void *ud);

/* Make a running tenon_pipeline_run() return soon. Only stores a flag:
 * safe from a signal handler. [any-thread] */
void tenon_pipeline_stop(tenon_pipeline_t *p);

/* The source's progress (0.0 to 1.0; negative when it does not say) and
 * its description (*text, may be NULL, valid until the next call). From
 * the run's thread (a tick function) or between runs. */
double tenon_pipeline_progress(tenon_pipeline_t *p, const char **text);

/* Stop async instances, run capture_close() of the listen ones (their
 * routines stop), close the capture. Safe to call when not open. */
void tenon_pipeline_close(tenon_pipeline_t *p);

/* Close if open, drop the instances' references, free. NULL is ignored. */
void tenon_pipeline_free(tenon_pipeline_t *p);

struct tenon_pipeline_stats {
    uint32_t struct_size;
    uint64_t read;       /* events that entered the stream, async included */
    uint64_t async;      /* of which async */
    uint64_t matched;    /* passed the filter */
    uint64_t dropped;    /* malformed records and refused async events */
    uint64_t errors;     /* failed parse and extract calls */
    uint64_t elapsed_ns; /* wall time inside tenon_pipeline_run() */
};

/* What one instance did in the pipeline. */
struct tenon_pipeline_plugin_stats {
    uint32_t struct_size;
    const tenon_instance_t *inst;
    unsigned caps;  /* TENON_CAP_* it serves in this pipeline */
    uint64_t calls; /* next_batch, parse and extract calls */
    uint64_t errors;
    uint64_t time_ns; /* inside its calls, when timing is on */
};

#define TENON_CAP_SOURCE  1u
#define TENON_CAP_EXTRACT 2u
#define TENON_CAP_PARSE   4u
#define TENON_CAP_ASYNC   8u
#define TENON_CAP_LISTEN  16u

/* Stats so far. Set struct_size first. [the pipeline's thread] */
int tenon_pipeline_stats(const tenon_pipeline_t *p,
                         struct tenon_pipeline_stats *out);
size_t tenon_pipeline_plugin_count(const tenon_pipeline_t *p);
int tenon_pipeline_plugin_stats(const tenon_pipeline_t *p, size_t i,
                                struct tenon_pipeline_plugin_stats *out);

/* The fields every pipeline has (evt.num, evt.time, ...). [any-thread] */
const struct tenon_field *tenon_builtin_fields(uint32_t *n);

/* The name of a field type as the docs and `tenon fields` write it:
 * "u64", "i64", "string", "bytes", "reltime", "abstime", "bool",
 * "ipaddr", "ipnet"; "unknown" for another number. [any-thread] */
const char *tenon_field_type_name(uint32_t type);

/* ---- installing ------------------------------------------------------- */

/* Check `file` with the inventory's rules and copy it into `dir` (NULL:
 * ~/.local/lib/tenon, created if missing) as NAME-VERSION.so, atomically:
 * a concurrent scan sees the old state or the whole new file, never part of
 * it. An install of the same name and version replaces the earlier one,
 * file and .meta as a pair: installs and removes in one directory take
 * turns on its lock file, `dir`/.tenon-install.lock (created mode 0644 and
 * left in place), and a scan that catches a pair half replaced waits for
 * that lock and checks it again (docs/trust.md). TENON_EBUSY when another
 * process holds the lock for 30 s. The caller frees *installed (the new
 * path; may be NULL). [any-thread] */
int tenon_install(const char *file, const char *dir, char **installed);

/* Delete the plugins "name" (every version) or "name@version" installed in
 * `dir` (NULL: ~/.local/lib/tenon), each file before its .meta, under the
 * directory's install lock as tenon_install() takes it, so a scan never
 * refuses a plugin for a file or .meta removed while it was checking them
 * (it leaves the plugin out); *removed (may be NULL) gets how many.
 * TENON_ENOENT when none matched, TENON_EBUSY when another process holds
 * the lock for 30 s. [any-thread] */
int tenon_remove(const char *spec, const char *dir, size_t *removed);

/* ---- scan cache ---------------------------------------------------------- */

/* The scan cache directory (see struct tenon_options.cache_dir), or NULL when
 * the context has no cache (no_cache, or no home to keep it in). Owned by `t`.
 * [any-thread] */
const char *tenon_cache_dir(const tenon_t *t);

/* Delete the scan cache files (scan-<arch>.cache, for every architecture, and
 * leftovers of interrupted writes) from the cache directory. The next scan
 * probes every file and writes a new cache. Returns how many files were
 * removed (0 when there was no cache), or TENON_EIO when the directory cannot
 * be read or a file cannot be removed. [any-thread] */
int tenon_cache_clear(tenon_t *t);

/* ---- trust --------------------------------------------------------------- */

/* The directories of trusted public keys (*.pub), in order: the options'
 * trust_dirs, else ~/.config/tenon/trusted ($XDG_CONFIG_HOME/tenon/trusted)
 * then /etc/tenon/trusted. Pointer owned by `t`. [any-thread] */
size_t tenon_trust_dir_count(const tenon_t *t);
const char *tenon_trust_dir(const tenon_t *t, size_t i);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* TENON_HOST_H */
