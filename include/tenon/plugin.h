/*
 * tenon/plugin.h - everything a Tenon plugin author needs.
 *
 * Header-only. A plugin includes this file and nothing else from Tenon, and
 * never links libtenon: the host hands its API to the plugin as a
 * `const struct tenon_host *` when it creates an instance.
 *
 * A plugin file is a shared object carrying two things, both written by the
 * macros at the end of this header from the same values:
 *
 *   1. static info: a run of "key=value\0" strings in an ELF note (section
 *      ".note.tenon", owner "Tenon"), which the host reads from the file
 *      without loading it (`readelf -p .note.tenon plugin.so` shows it).
 *      A note, because linkers place notes in the first page of the file,
 *      right after the program headers: one small read finds it;
 *   2. the exported const struct `tenon_plugin_entry`, which points at that
 *      same section, so the code that runs can never claim to be a different
 *      plugin than the one that was inspected.
 *
 * Thread tags, as in CLAP: [any-thread] may be called from any thread at any
 * time; [instance-thread] is called by whichever thread owns the instance,
 * never concurrently for one instance unless the interface says otherwise.
 *
 * Compiles as C11 and C++11 with -pedantic -Wall -Wextra -Werror.
 */
#ifndef TENON_PLUGIN_H
#define TENON_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin ABI major. A host loads only plugins whose `abi` equals its own.
 * Raised only when a change breaks existing plugins; see docs/abi.md. */
#define TENON_ABI_VERSION 1

/* The ELF section holding the static info, and its note's owner and type
 * (a type readelf does not name, whose bytes are not printable, so
 * `readelf -n` and `readelf -p` show nothing misleading). */
#define TENON_INFO_SECTION ".note.tenon"
#define TENON_NOTE_OWNER   "Tenon"
#define TENON_NOTE_TYPE    0x1e17

/* Name of the exported entry symbol. */
#define TENON_ENTRY_SYMBOL "tenon_plugin_entry"

/* ---- errors -------------------------------------------------------------- */

/* Every fallible call returns 0 on success or one of these negative codes
 * (libuv's convention). tenon_strerror() in host.h names them. */
enum tenon_error {
    TENON_OK = 0,
    TENON_EINVAL = -1,   /* invalid argument or malformed input */
    TENON_ENOMEM = -2,   /* out of memory */
    TENON_ENOENT = -3,   /* no such plugin, file or interface */
    TENON_EIO = -4,      /* I/O error */
    TENON_EABI = -5,     /* ABI or architecture mismatch */
    TENON_EUNAVAIL = -6, /* plugin is in the inventory but unusable */
    TENON_EARG = -7,     /* bad plugin argument string */
    TENON_EPLUGIN = -8,  /* the plugin itself reported a failure */
    TENON_ENOTSUP = -9,  /* operation not supported by this plugin */
    TENON_EEXIST = -10,  /* already exists */
    TENON_EPERM = -11,   /* not permitted */
    TENON_ERANGE = -12,  /* value out of range */
    TENON_EBUSY = -13,   /* resource in use */
    /* create() only: this provider does not take the job (no file was
     * given, the system is not the kind it reads); the host tries the next
     * provider by rank, as VLC probes its modules. */
    TENON_EDECLINE = -14,
    TENON_EAGAIN = -15, /* nothing ready now: call again (event sources) */
    TENON_EEOF = -16,   /* the end of a stream */
    TENON_ERROR_MIN = -16
};

/* ---- log levels ---------------------------------------------------------- */

enum tenon_log_level {
    TENON_LOG_OFF = 0,
    TENON_LOG_ERROR = 1,
    TENON_LOG_WARN = 2,
    TENON_LOG_INFO = 3,
    TENON_LOG_DEBUG = 4,
    TENON_LOG_TRACE = 5
};

/* ---- arguments ----------------------------------------------------------- */

enum tenon_arg_type {
    TENON_ARG_STRING = 0,
    TENON_ARG_INT = 1,  /* decimal or 0x hex, optional k/m/g (x1024) suffix */
    TENON_ARG_BOOL = 2, /* y yes true 1 / n no false 0 */
    TENON_ARG_ENUM = 3  /* one of the declared choices */
};

/* One argument value, already validated by the host against the plugin's
 * declaration. `values[i]` of struct tenon_args corresponds to the i-th
 * argument the plugin declared, in declaration order. */
struct tenon_arg_value {
    const char *name; /* as declared */
    int type;         /* enum tenon_arg_type */
    int set;          /* 1 if given or defaulted; 0 if absent */
    const char *str;  /* the text as given (or the default); "" when !set */
    int64_t i;        /* TENON_ARG_INT value; bool as 0/1; enum choice index */
};

struct tenon_args {
    size_t count;
    const struct tenon_arg_value *values;
};

/* Look an argument up by name; NULL when the plugin declared none of that
 * name. [any-thread] */
static inline const struct tenon_arg_value *
tenon_arg(const struct tenon_args *args, const char *name)
{
    size_t i;
    if (!args)
        return NULL;
    for (i = 0; i < args->count; i++)
        if (strcmp(args->values[i].name, name) == 0)
            return &args->values[i];
    return NULL;
}

/* ---- the host API -------------------------------------------------------- */

/* The host's handle for one instance (or, during targets(), for the plugin).
 * Opaque to plugins; pass it back to the host functions below. */
struct tenon_instance;

/* A callback a provider declared (see struct tenon_host). Opaque. */
struct tenon_callback;

/* A handler of a callback: `ctx` as registered, `event` as the provider
 * fired it, of the type the callback's signature id names. It runs on the
 * provider's thread and may call any host function, unregistering handlers
 * included, but must not destroy the provider's instance. */
typedef void (*tenon_callback_fn)(void *ctx, const void *event);

/* ---- operations, seen from a plugin (the host's side: tenon/op.h) -------
 *
 * A host declares operations: named calls with a typed signature, one
 * character per argument: 'i' a 64-bit integer, 'b' a buffer the hooks may
 * read, 'w' a buffer the hooks may write; the result is a 64-bit integer.
 * Plugins hook them: before (each, in attach order, sees the arguments and
 * may refuse the call), define (the highest-ranked one replaces the host's
 * own code) and after (each sees the arguments and the result). */

#define TENON_OP_MAX_ARGS 8

enum tenon_hook_kind {
    TENON_HOOK_BEFORE = 1,
    TENON_HOOK_DEFINE = 2,
    TENON_HOOK_AFTER = 3
};

/* Hook flag: runs even before the instance is enabled. */
#define TENON_HOOK_ALWAYS_ON 0x1u

/* One call of an operation as a hook sees it. A plugin never gets a host
 * pointer: an integer argument is its value, a buffer argument is its
 * length in bytes, read and written with host->buf_read()/buf_write(). */
struct tenon_op_call {
    uint32_t struct_size;
    uint32_t argc;
    const char *op;  /* the operation's name, without the parameter */
    const char *sig; /* its signature, one character per argument */
    uint64_t param;  /* the parameter; 0 for an unparameterised operation */
    int64_t result;  /* in after hooks: the call's result; else 0 */
    int64_t argv[TENON_OP_MAX_ARGS];
};

/* A hook. before: return 0 to let the call go on, or a negative TENON_E*
 * code to refuse it (no define runs; the code is the result; after hooks
 * still run; TENON_EDECLINE is no refusal: the call goes on). define:
 * return the result, or TENON_EDECLINE to hand the
 * call to the next definition by rank (then the host's own code), so that
 * plugins that each define part of an operation combine. after: the
 * return value is ignored. [hook-thread: the thread that called the operation]
 */
typedef int64_t (*tenon_hook_fn)(void *ctx, const struct tenon_op_call *call);

/* An argument a plugin passes to host->op_call(). */
struct tenon_op_value {
    int64_t i;        /* 'i' */
    const void *data; /* 'b', 'w': the plugin's own memory */
    uint64_t len;     /* 'b': length; 'w': capacity in, length written out */
};

/* A timer callback (host->timer_set). */
typedef void (*tenon_timer_fn)(void *ctx, uint64_t id);

#if defined(__GNUC__) || defined(__clang__)
#define TENON_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TENON_PRINTF(f, a)
#endif

/* The host's API, passed to create() and valid until the instance's
 * destroy() returns. Members are only ever appended; check struct_size before
 * using a member newer than the ABI the plugin was built against. */
struct tenon_host {
    uint32_t struct_size;
    uint32_t abi;

    /* Log a message attributed to `self`. Cheap when the level is disabled,
     * but use TENON_LOG() to skip formatting too. [any-thread] */
    void (*log)(struct tenon_instance *self, int level, const char *fmt, ...)
        TENON_PRINTF(3, 4);

    /* The level in force now: the host may change it at any time, and the
     * next call sees the change. [any-thread] */
    int (*log_level)(const struct tenon_instance *self);

    /* Leave an error message on `self` for the host to read after a call
     * failed (create, or any interface call). It becomes the calling
     * thread's last error too (tenon_last_error(), last_error below), which
     * is where a call made on any thread is best read from; the instance
     * keeps the latest of all threads' (tenon_instance_error()).
     * [any-thread] */
    void (*set_error)(struct tenon_instance *self, const char *fmt, ...)
        TENON_PRINTF(2, 3);

    /* An interface of another instance (the `input` given to create), by id.
     * Returns the vtable and stores the object to pass to it in *obj; NULL
     * when that instance does not provide `id`. [any-thread] */
    const void *(*get_interface)(struct tenon_instance *other, const char *id,
                                 void **obj);

    /* ---- appended in ABI 1, Tenon 0.3: callbacks between plugins ----
     *
     * A provider declares a named callback and fires it; consumers (other
     * plugins, or the host) register handlers on the provider's instance.
     * The signature id ("namespace.name/major", like an interface id) names
     * the type of the event the provider passes, and registering checks it,
     * so a handler never gets an event of another type. Check struct_size
     * before using these (a plugin may be run by an older host): the
     * TENON_HOST_HAS() macro below does. */

    /* Declare the callback `name` of `self`, whose handlers take events of
     * signature `sig`. *cb (the provider's, valid until its instance is
     * destroyed) is what callback_fire() takes. TENON_EEXIST when `self`
     * already declared `name`. [any-thread] */
    int (*callback_declare)(struct tenon_instance *self, const char *name,
                            const char *sig, struct tenon_callback **cb);

    /* Call every handler registered on `cb`, in registration order, with
     * its context and `event`; returns how many ran. A handler registered
     * or unregistered while the callback runs (by itself, another handler
     * or another thread) takes effect at once: one unregistered before its
     * turn does not run. Fires may come from several threads at once.
     * [any-thread] */
    size_t (*callback_fire)(struct tenon_callback *cb, const void *event);

    /* How many handlers `cb` has now (a provider may skip work nobody
     * listens to). [any-thread] */
    size_t (*callback_handlers)(const struct tenon_callback *cb);

    /* Register `fn` with `ctx` on the callback `name` of instance
     * `provider`, on behalf of `self`; *id gets the handle to unregister
     * with. TENON_ENOENT when `provider` declared no such callback,
     * TENON_EINVAL when its signature is not `sig`. The handler is removed
     * when `self` or `provider` is destroyed, if not before. No limit on
     * how many. [any-thread] */
    int (*callback_register)(struct tenon_instance *self,
                             struct tenon_instance *provider, const char *name,
                             const char *sig, tenon_callback_fn fn, void *ctx,
                             uint64_t *id);

    /* Remove a handler. When it returns, the handler is not running on any
     * other thread and never runs again (a handler may unregister itself,
     * or another, from inside a callback). TENON_ENOENT for an id that is
     * not registered (any more), TENON_EPERM for a handler that another
     * instance registered. [any-thread] */
    int (*callback_unregister)(struct tenon_instance *self, uint64_t id);

    /* The message the last failing call on this thread left: set_error()
     * of any instance (so a plugin can quote its input's reason after a
     * call into it failed), or a host call. Valid until the next failure
     * on this thread; never NULL. [any-thread] */
    const char *(*last_error)(void);

    /* ---- appended in ABI 1, Tenon 0.4: configuration ----
     *
     * The JSON config `self` was created with, validated against the
     * schema the plugin states with TENON_CONFIG_SCHEMA() (tenon/event.h)
     * and with the schema's defaults filled in; NULL when the plugin states
     * no schema and none was given. Valid until create() returns (copy
     * what you keep); tenon.config/1 delivers later changes. [any-thread] */
    const char *(*config)(struct tenon_instance *self);

    /* ---- appended in ABI 1, Tenon 0.5: operations, permissions, timers ----
     *
     * Each call below needs the permission its comment names, granted by
     * the host's policy to a plugin that asked for it with
     * TENON_PERMISSION() (see "permissions" below). Without it the call
     * returns TENON_EPERM (log: drops the line), the host logs the refusal
     * once per plugin and permission and counts it. docs/ops.md. */

    /* Attach `fn` with `ctx` to operation `op` ("name" or "name[param]",
     * the parameter a decimal or 0x-hex integer; a parameterised operation
     * named without one is hooked for every parameter) as a hook of `kind`
     * (enum tenon_hook_kind) with `flags` (TENON_HOOK_ALWAYS_ON). A define
     * ranks as the plugin (TENON_RANK). *id gets the handle to detach.
     * The operation need not be declared yet. Permission "op".
     * [any-thread] */
    int (*op_attach)(struct tenon_instance *self, const char *op, int kind,
                     unsigned flags, tenon_hook_fn fn, void *ctx, uint64_t *id);

    /* Detach a hook `self` attached. When it returns the hook is not
     * running on any other thread and never runs again (a hook may detach
     * itself). TENON_ENOENT for an unknown id. Permission "op".
     * [any-thread] */
    int (*op_detach)(struct tenon_instance *self, uint64_t id);

    /* Copy up to `len` bytes from offset `off` of buffer argument `arg` of
     * `call` (a call the host passed to a hook now running on this
     * thread) into `dst`; returns the number of bytes copied (0 at or past
     * the end), TENON_EINVAL when `arg` is not a buffer or `call` is not
     * running. Permission "buffer.read". [hook-thread] */
    int64_t (*buf_read)(struct tenon_instance *self,
                        const struct tenon_op_call *call, uint32_t arg,
                        uint64_t off, void *dst, uint64_t len);

    /* Write `len` bytes at offset `off` of the writable buffer argument
     * `arg` (type 'w') of `call`; the buffer's length becomes at least
     * off+len. `off` must not be past the current length (a gap would
     * expose bytes nobody wrote): append at argv[arg], or overwrite.
     * TENON_ERANGE for a gap or past the capacity (nothing is written),
     * TENON_EINVAL as buf_read. Returns `len`. Permission "buffer.write".
     * [hook-thread] */
    int64_t (*buf_write)(struct tenon_instance *self,
                         const struct tenon_op_call *call, uint32_t arg,
                         uint64_t off, const void *src, uint64_t len);

    /* Call operation `op` ("name" or "name[param]") as the host would,
     * hooks included, with `argc` arguments matching its signature: 'i'
     * arguments in argv[k].i, buffers as argv[k].data / argv[k].len of
     * the plugin's own memory (a 'w' buffer's len is its capacity; the
     * length written comes back in argv[k].len). *result gets the result.
     * TENON_ENOENT when no host declared `op`, TENON_EINVAL when the
     * arguments do not match, TENON_EBUSY when operations are nested 64
     * deep on this thread already. Permission "op". [any-thread] */
    int (*op_call)(struct tenon_instance *self, const char *op,
                   struct tenon_op_value *argv, uint32_t argc, int64_t *result);

    /* Call `fn(ctx, id)` once, `delay_ns` nanoseconds from now, from the
     * host's tenon_poll(); timers of one instance fire in deadline order
     * and never concurrently, and not at all once the instance is disabled
     * or destroyed. *id gets the handle to cancel. Permission "timer".
     * [any-thread] */
    int (*timer_set)(struct tenon_instance *self, uint64_t delay_ns,
                     tenon_timer_fn fn, void *ctx, uint64_t *id);

    /* Cancel a timer that has not fired; TENON_ENOENT when it fired, was
     * cancelled, or is not `self`'s. A timer being fired on another thread
     * has finished when this returns. Permission "timer". [any-thread] */
    int (*timer_cancel)(struct tenon_instance *self, uint64_t id);

    /* Two-step enable: after create() only hooks marked
     * TENON_HOOK_ALWAYS_ON run, until the plugin (here) or the host
     * (tenon_instance_enable()) enables the instance. No permission.
     * [any-thread] */
    int (*enable)(struct tenon_instance *self);

    /* Disable `self` for good, with a reason (a WebAssembly plugin's glue
     * does this on a trap), which tenon_instance_error() then returns:
     * none of its hooks or timers run again, also later in a call now
     * running (a hook may disable its own instance). No permission.
     * [any-thread] */
    void (*disable)(struct tenon_instance *self, const char *fmt, ...)
        TENON_PRINTF(2, 3);

    /* Whether `self` was granted `permission` (1) or not (0); never logs
     * or counts. [any-thread] */
    int (*permitted)(struct tenon_instance *self, const char *permission);
};

/* Does `host` have member `m` (appended after the plugin's SDK version)? */
#define TENON_HOST_HAS(host, m)                                                \
    ((host)->struct_size >= offsetof(struct tenon_host, m) + sizeof((host)->m))

#define TENON_LOG(host, self, level, ...)                                      \
    do {                                                                       \
        if ((host)->log_level(self) >= (level))                                \
            (host)->log((self), (level), __VA_ARGS__);                         \
    } while (0)

/* Called once per target by a plugin's targets() function. */
typedef void (*tenon_target_fn)(void *ud, const char *name,
                                const char *description);

/* ---- the entry struct ---------------------------------------------------- */

struct tenon_plugin_entry {
    uint32_t struct_size; /* sizeof(struct tenon_plugin_entry) at build time */
    uint32_t abi;         /* TENON_ABI_VERSION at build time */
    const char *name;     /* must equal the static info's name */
    const char *version;  /* must equal the static info's version */
    const char *info;     /* the static info itself (the note's contents) */
    uint32_t info_size;   /* its size in bytes */
    uint32_t reserved;

    /* Create an instance. `args` holds every declared argument, validated;
     * `input` is the instance this one reads from (a chain), or NULL. Store
     * the plugin's object in *obj. On failure return a negative TENON_E* code
     * and say why with host->set_error(self, ...). [any-thread] */
    int (*create)(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj);

    /* Destroy what create() made. [any-thread, once per instance] */
    void (*destroy)(void *obj);

    /* The vtable for interface `id` ("namespace.name/major"), or NULL.
     * Every vtable starts with a uint32_t holding its own size. The host
     * asks only for ids the static info lists under `provides`.
     * [any-thread] */
    const void *(*get_interface)(void *obj, const char *id);

    /* Optional (may be NULL): list what this plugin can attach to (virtual
     * machines, devices, files...). [any-thread] */
    int (*targets)(const struct tenon_host *host, struct tenon_instance *self,
                   tenon_target_fn emit, void *ud);
};

/* ---- writing the static info ------------------------------------------------
 *
 * Each macro below expands to a string literal "key=value\0"; write them one
 * after another (no commas) inside TENON_PLUGIN_INFO(). Values must be string
 * literals. Keys the host does not know are ignored, so newer SDKs can add
 * keys without breaking older hosts.
 */
#define TENON__KV(k, v)      k "=" v "\0"
#define TENON_DESCRIPTION(s) TENON__KV("description", s)
#define TENON_LICENSE(s)     TENON__KV("license", s)
#define TENON_URL(s)         TENON__KV("url", s)
#define TENON_CONTACT(s)     TENON__KV("contact", s)
/* Long help text shown by `tenon info`. */
#define TENON_HELP(s) TENON__KV("help", s)
/* One per interface id this plugin provides, e.g. "tenon.osi/1". */
#define TENON_PROVIDES(id) TENON__KV("provides", id)
/* The interface id the input instance must provide, if the plugin takes one. */
#define TENON_ACCEPTS(id) TENON__KV("accepts", id)
/* Where this plugin stands among the providers of an interface when the
 * host picks one itself: highest rank first, then by name (GStreamer's
 * rule). An integer literal from -1000000 to 1000000, e.g. TENON_RANK(256)
 * or TENON_RANK(TENON_RANK_PRIMARY); a plugin without one ranks 0. */
#define TENON_RANK(n)        TENON__KV("rank", TENON__STR(n))
#define TENON_RANK_PRIMARY   256
#define TENON_RANK_SECONDARY 128
#define TENON_RANK_MARGINAL  64

/* Arguments, in the order the plugin wants them in struct tenon_args. The
 * first declared argument also takes a bare value (`name:value`). A default is
 * written as text and parsed like a given value. */
#define TENON__ARG(name, type, help)                                           \
    TENON__KV("arg", name)                                                     \
    TENON__KV("arg.type", type) TENON__KV("arg.help", help)
#define TENON__ARGD(name, type, def, help)                                     \
    TENON__ARG(name, type, help) TENON__KV("arg.default", def)
#define TENON__ARGR(name, type, help)                                          \
    TENON__ARG(name, type, help) TENON__KV("arg.required", "yes")

#define TENON_ARG_STRING(name, def, help) TENON__ARGD(name, "string", def, help)
#define TENON_ARG_INT(name, def, help)    TENON__ARGD(name, "int", def, help)
#define TENON_ARG_BOOL(name, def, help)   TENON__ARGD(name, "bool", def, help)
/* `choices` is a '|'-separated list, e.g. "fast|slow". */
#define TENON_ARG_ENUM(name, choices, def, help)                               \
    TENON__ARGD(name, "enum", def, help) TENON__KV("arg.choices", choices)

/* An int from `min` to `max` inclusive, both string literals like `def`
 * ("1", "10", "1"): the host refuses other values, naming the range, before
 * create() runs, and refuses a plugin file whose range is empty or does not
 * hold the default. Written as the keys arg.min and arg.max, which hosts
 * older than them ignore: a plugin that must not see other values still
 * checks in create(). */
#define TENON_ARG_INT_RANGE(name, min, max, def, help)                         \
    TENON__ARGD(name, "int", def, help)                                        \
    TENON__KV("arg.min", min) TENON__KV("arg.max", max)

/* Optional arguments with no default: absent unless given (set == 0). */
#define TENON_ARG_STRING_OPT(name, help) TENON__ARG(name, "string", help)
#define TENON_ARG_INT_OPT(name, help)    TENON__ARG(name, "int", help)

/* Required arguments: instance creation fails, naming them, when absent. */
#define TENON_ARG_STRING_REQ(name, help) TENON__ARGR(name, "string", help)
#define TENON_ARG_INT_REQ(name, help)    TENON__ARGR(name, "int", help)
#define TENON_ARG_BOOL_REQ(name, help)   TENON__ARGR(name, "bool", help)
#define TENON_ARG_ENUM_REQ(name, choices, help)                                \
    TENON__ARGR(name, "enum", help) TENON__KV("arg.choices", choices)

/* Permissions the plugin asks for, one macro each; `tenon info` lists
 * them, and a host whose policy grants fewer refuses to create the plugin,
 * naming those refused. Names: "log", "callback", "event" (emit events),
 * "op" (attach hooks, call operations), "buffer.read", "buffer.write"
 * (the buffers an operation passes), "timer", "file", "table", "network".
 * A plugin that names none gets what every plugin had before permissions
 * existed: log, callback and event (see docs/ops.md); one that needs no
 * permission at all says TENON_PERMISSION("none"). */
#define TENON_PERMISSION(name) TENON__KV("permission", name)

/* Hooks the plugin attaches when an instance is created, in the order the
 * functions appear in its tenon.hooks/1 vtable (struct tenon_hooks_v1),
 * each written "kind operation": `tenon info` lists them without loading
 * the plugin. Attaching needs permission "op". TENON_HOOK_ALWAYS_ON()
 * marks one that runs before the instance is enabled. */
#define TENON_HOOK_BEFORE(op) TENON__KV("hook", "before " op)
#define TENON_HOOK_DEFINE(op) TENON__KV("hook", "define " op)
#define TENON_HOOK_AFTER(op)  TENON__KV("hook", "after " op)
#define TENON_HOOK_BEFORE_ALWAYS_ON(op)                                        \
    TENON__KV("hook", "before " op " always-on")
#define TENON_HOOK_DEFINE_ALWAYS_ON(op)                                        \
    TENON__KV("hook", "define " op " always-on")
#define TENON_HOOK_AFTER_ALWAYS_ON(op)                                         \
    TENON__KV("hook", "after " op " always-on")

/* The interface a plugin with hook keys provides (the host asks for it
 * whether or not `provides` lists it): the functions of its hooks, one per
 * hook key in order, each called with the instance's object as ctx. */
#define TENON_HOOKS_ID "tenon.hooks/1"
struct tenon_hooks_v1 {
    uint32_t struct_size;
    uint32_t count;           /* the number of hook keys */
    const tenon_hook_fn *fns; /* fns[i] for the i-th hook key */
};

#define TENON__STR2(x) #x
#define TENON__STR(x)  TENON__STR2(x)

#if defined(__wasm__)
/* Compiled to WebAssembly (docs/wasm.md): the module has no ELF note; the
 * shared object around it carries the static info. */
#define TENON__NOTE   __attribute__((used, aligned(4)))
#define TENON__EXPORT __attribute__((visibility("default")))
#elif defined(__GNUC__) || defined(__clang__)
#define TENON__NOTE                                                            \
    __attribute__((section(TENON_INFO_SECTION), used, aligned(4)))
#define TENON__EXPORT __attribute__((visibility("default")))
#else
#error "Tenon plugins need a compiler with GNU attributes (gcc or clang)"
#endif

/* ---- WebAssembly builds ------------------------------------------------
 *
 * tenon-wasm-plugin and the CMake function tenon_add_wasm_plugin()
 * (docs/wasm.md) compile a plugin's sources twice, unchanged: to wasm32,
 * where the macros below are the native ones, and natively with
 * TENON_WASM_INFO defined, where only the static info and the entry stay:
 * the entry points at the WebAssembly glue, and the plugin's own functions,
 * referenced from nowhere else, are dropped at link time. That build also
 * declares the argument "wasm_memory" (the instance's memory limit, which
 * the glue takes away before the plugin sees its arguments) with the
 * default TENON_WASM_MEMORY_DEFAULT, and the key sandbox=wasm32. */
#ifdef TENON_WASM_INFO
#ifndef TENON_WASM_MEMORY_DEFAULT
#define TENON_WASM_MEMORY_DEFAULT "16m"
#endif
#define TENON__WASM_KEYS                                                       \
    TENON_ARG_INT_RANGE("wasm_memory", "64k", "4g", TENON_WASM_MEMORY_DEFAULT, \
                        "memory limit of the WebAssembly instance (bytes, "    \
                        "k/m/g suffix)")                                       \
    TENON__KV("sandbox", "wasm32")
#else
#define TENON__WASM_KEYS
#endif

#define TENON__INFO_STR(name, version, ...)                                    \
    TENON__KV("abi", TENON__STR(TENON_ABI_VERSION))                            \
    TENON__KV("name", name)                                                    \
    TENON__KV("version", version) __VA_ARGS__ TENON__WASM_KEYS

/* Write the static info note. `name` matches [a-z0-9][a-z0-9_-]*,
 * `version` is semver ("1.2.3", "1.0.0-rc.1"); both string literals. At
 * least one key macro must follow (TENON_DESCRIPTION is a good first). */
#define TENON_PLUGIN_INFO(name, version, ...)                                  \
    static const char tenon__name[] = name;                                    \
    static const char tenon__version[] = version;                              \
    static const struct {                                                      \
        uint32_t namesz, descsz, type;                                         \
        char owner[8];                                                         \
        char desc[sizeof(TENON__INFO_STR(name, version, __VA_ARGS__))];        \
    } tenon__note TENON__NOTE = {                                              \
        sizeof(TENON_NOTE_OWNER),                                              \
        sizeof(TENON__INFO_STR(name, version, __VA_ARGS__)), TENON_NOTE_TYPE,  \
        TENON_NOTE_OWNER, TENON__INFO_STR(name, version, __VA_ARGS__)}

/* Export the entry struct. Use once, after TENON_PLUGIN_INFO, in the same
 * source file. `targets` may be NULL. */
#ifdef __cplusplus
#define TENON__EXTERN extern "C"
#else
#define TENON__EXTERN
#endif
#ifdef TENON_WASM_INFO
/* The glue (sdk/wasm/tenon_wasm_glue.c) linked into the same object. */
#define TENON__HIDDEN __attribute__((visibility("hidden")))
TENON__EXTERN TENON__HIDDEN int
tenon__wasm_create(const struct tenon_host *host, struct tenon_instance *self,
                   const struct tenon_args *args, struct tenon_instance *input,
                   void **obj);
TENON__EXTERN TENON__HIDDEN void tenon__wasm_destroy(void *obj);
TENON__EXTERN TENON__HIDDEN const void *
tenon__wasm_get_interface(void *obj, const char *id);
/* The plugin's own functions stay type-checked, and referenced, so that
 * the compiler does not warn about unused functions. */
#define TENON_PLUGIN_ENTRY(create, destroy, get_interface, targets)            \
    static const struct tenon_plugin_entry tenon__native_entry                 \
        __attribute__((unused)) = {                                            \
            0,        0, 0, 0, 0, 0, 0, (create), (destroy), (get_interface),  \
            (targets)};                                                        \
    TENON__EXTERN TENON__EXPORT const struct tenon_plugin_entry                \
        tenon_plugin_entry;                                                    \
    TENON__EXTERN TENON__EXPORT const struct tenon_plugin_entry                \
        tenon_plugin_entry = {sizeof(struct tenon_plugin_entry),               \
                              TENON_ABI_VERSION,                               \
                              tenon__name,                                     \
                              tenon__version,                                  \
                              tenon__note.desc,                                \
                              (uint32_t)sizeof(tenon__note.desc),              \
                              0,                                               \
                              tenon__wasm_create,                              \
                              tenon__wasm_destroy,                             \
                              tenon__wasm_get_interface,                       \
                              NULL}
#else
#define TENON_PLUGIN_ENTRY(create, destroy, get_interface, targets)            \
    TENON__EXTERN TENON__EXPORT const struct tenon_plugin_entry                \
        tenon_plugin_entry;                                                    \
    TENON__EXTERN TENON__EXPORT const struct tenon_plugin_entry                \
        tenon_plugin_entry = {sizeof(struct tenon_plugin_entry),               \
                              TENON_ABI_VERSION,                               \
                              tenon__name,                                     \
                              tenon__version,                                  \
                              tenon__note.desc,                                \
                              (uint32_t)sizeof(tenon__note.desc),              \
                              0,                                               \
                              (create),                                        \
                              (destroy),                                       \
                              (get_interface),                                 \
                              (targets)}
#endif

#ifdef __cplusplus
}
#endif
#endif /* TENON_PLUGIN_H */
