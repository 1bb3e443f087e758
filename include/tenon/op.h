/*
 * tenon/op.h - operations: host-declared calls that plugins extend.
 *
 * pluginop's model for any C host. The host declares an operation (a name,
 * a typed signature, its own implementation) and calls it through the
 * dispatcher; plugins attach hooks:
 *
 *   before  every one, in attach order, sees the arguments; one may refuse
 *           the call (returns a negative code, which becomes the result);
 *   define  the highest-ranked definition (ties: the first attached)
 *           replaces the host's implementation; with none, the host's runs;
 *           a definition that returns TENON_EDECLINE hands the call to the
 *           next one (then to the host's);
 *   after   every one, in attach order, sees the arguments and the result.
 *
 * Operations may be parameterised (pluginop's process_frame[0x1c]): hooks
 * attach to "name[param]" or, for every parameter, to "name".
 *
 * An operation nobody hooked costs one load and one predictable branch
 * more than a direct call of the host's function: TENON_OP_CALL() below.
 *
 * Permissions (the names in plugin.h) are granted per plugin by a policy
 * (tenon_policy_set(), tenon_policy_load()); timers fire from tenon_poll().
 * The plugin-facing half (hooks, struct tenon_op_call, the host API
 * members) is in plugin.h. docs/ops.md explains all of it.
 */
#ifndef TENON_OP_H
#define TENON_OP_H

#include <tenon/host.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef struct tenon_op tenon_op_t;

/* A buffer argument ('b' readable, 'w' writable by hooks with the
 * permission). For 'w', `len` is the length written so far (hooks and the
 * host's implementation extend it up to `cap`). */
struct tenon_buf {
    void *data;
    size_t len;
    size_t cap; /* 'w' only */
};

/* One argument as the host passes it: `i` for 'i', `buf` for 'b' and 'w'. */
union tenon_op_arg {
    int64_t i;
    struct tenon_buf *buf;
};

/* The host's implementation: what runs when no plugin defines the call. */
typedef int64_t (*tenon_op_native_fn)(void *ctx, uint64_t param,
                                      const union tenon_op_arg *args);

/* Flag of tenon_op_declare(): the operation takes a parameter. */
#define TENON_OP_PARAM 0x1u

/* Declare operation `name` ([a-z0-9_.-], 1 to 63 characters, starting
 * with a letter or digit) with signature `sig` (0 to TENON_OP_MAX_ARGS
 * characters of 'i', 'b', 'w'), `flags` and the host's implementation
 * `native` with `ctx` (native may be NULL: the result is then 0 unless a
 * plugin defines it). Hooks attached to the name before it was declared
 * stay attached. TENON_EEXIST when `name` is declared already, TENON_EINVAL
 * for a bad name or signature. The operation lives as long as `t`.
 * [any-thread] */
int tenon_op_declare(tenon_t *t, const char *name, const char *sig,
                     unsigned flags, tenon_op_native_fn native, void *ctx,
                     tenon_op_t **out);

/* The operation declared as `name`, or NULL. [any-thread] */
tenon_op_t *tenon_op_find(tenon_t *t, const char *name);

/* Call `op` with `param` (0 for an unparameterised operation) and
 * arguments matching its signature: before hooks, then the definition (or
 * the host's implementation), then after hooks; returns the result. Hooks
 * of a disabled instance, and hooks not marked TENON_HOOK_ALWAYS_ON of an
 * instance not yet enabled, are skipped. [any-thread] */
int64_t tenon_op_dispatch(tenon_op_t *op, uint64_t param,
                          const union tenon_op_arg *args);

/* Nonzero when some hook is attached to `op` (for any parameter). The
 * first member of an operation is this flag, so the check inlines. */
#define TENON_OP_HOOKED(op)                                                    \
    (__builtin_expect(__atomic_load_n((const uint32_t *)(const void *)(op),    \
                                      __ATOMIC_ACQUIRE) != 0,                  \
                      0))

/* Call `op` as tenon_op_dispatch() does, but evaluate `direct` (the host's
 * own call, with its own typed arguments) when nobody hooked it: the cost of
 * an unhooked operation is one load and one predictable branch. */
#define TENON_OP_CALL(op, param, args, direct)                                 \
    (TENON_OP_HOOKED(op) ? tenon_op_dispatch((op), (param), (args)) : (direct))

/* The name and signature of an operation. [any-thread] */
const char *tenon_op_name(const tenon_op_t *op);
const char *tenon_op_sig(const tenon_op_t *op);

/* How many hooks of each kind are attached to `op` ("name" or
 * "name[param]"), counting those of every instance state. [any-thread] */
int tenon_op_hooks(tenon_t *t, const char *op, size_t *before, size_t *define,
                   size_t *after);

/* Attach a hook on behalf of the host program (`inst` NULL) or of an
 * instance, as host->op_attach() (plugin.h) does; `rank` orders defines
 * (a plugin's own attach uses its TENON_RANK). Host hooks are always on.
 * [any-thread] */
int tenon_op_attach(tenon_t *t, tenon_instance_t *inst, const char *op,
                    int kind, unsigned flags, int rank, tenon_hook_fn fn,
                    void *ctx, uint64_t *id);

/* Detach any hook: when it returns, the hook is not running on another
 * thread and never runs again. TENON_ENOENT for an unknown id.
 * [any-thread] */
int tenon_op_detach(tenon_t *t, uint64_t id);

/* ---- instance states: two-step enable ------------------------------------ */

enum tenon_instance_state {
    TENON_STATE_LOADED = 0,  /* created: only always-on hooks run */
    TENON_STATE_ENABLED = 1, /* every hook and timer runs */
    TENON_STATE_DISABLED = 2 /* nothing of it runs again */
};

int tenon_instance_enable(tenon_instance_t *inst);
/* Disable for good, with a reason kept as tenon_instance_error(). */
void tenon_instance_disable(tenon_instance_t *inst, const char *reason);
int tenon_instance_state(const tenon_instance_t *inst);

/* ---- permissions --------------------------------------------------------- */

/* The permission names, in the order of their bits. */
size_t tenon_permission_count(void);
const char *tenon_permission_name(size_t i);

/* Let plugin `plugin` (a name, or "*" for every plugin no line names) be
 * granted `perms`: names separated by commas or spaces, "all" or "none".
 * Replaces what was set for `plugin`. Without any policy every plugin is
 * granted what it asks for. Takes effect for instances created after.
 * TENON_EINVAL naming an unknown permission. [any-thread] */
int tenon_policy_set(tenon_t *t, const char *plugin, const char *perms);

/* Read a policy file an operator edits: one line per plugin, the plugin
 * name or "*" followed by its permissions (or "all" / "none"); '#'
 * starts a comment. A plugin named on two lines, an unknown permission or
 * a malformed line is an error naming the line (nothing is applied).
 * tenon_open() reads the file $TENON_POLICY names, if set. [any-thread] */
int tenon_policy_load(tenon_t *t, const char *path);

/* The same, from text in memory (`what` names it in errors). */
int tenon_policy_parse(tenon_t *t, const char *text, size_t len,
                       const char *what);

/* What an instance of `p` would ask for and be granted under t's policy
 * now, as bit masks over tenon_permission_name()'s indices (either pointer
 * may be NULL). Returns 0, or TENON_EPERM (with the message
 * tenon_create() would give) when it would be refused. Runs no plugin
 * code. [any-thread] */
int tenon_policy_check(tenon_t *t, const tenon_plugin_t *p, uint32_t *asked,
                       uint32_t *granted);

/* Whether `inst` holds permission `name` (1/0), and how many of its calls
 * were refused for want of it. [any-thread] */
int tenon_instance_permitted(const tenon_instance_t *inst, const char *name);
uint64_t tenon_instance_denied(const tenon_instance_t *inst, const char *name);

/* ---- timers -------------------------------------------------------------- */

/* Fire the timers that are due, in deadline order, on the calling thread
 * (one poller at a time; a second caller returns 0 at once). Returns how
 * many fired; *next_ns (may be NULL) gets the nanoseconds until the next
 * deadline, or -1 when no timer is set. [any-thread] */
size_t tenon_poll(tenon_t *t, int64_t *next_ns);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* TENON_OP_H */
