/*
 * sdk/wasm/tenon_wasm_guest.c - the guest half of a WebAssembly plugin,
 * linked into its module beside the plugin's own code.
 *
 * It gives the plugin the `struct tenon_host` it would get natively, made
 * of functions that format in the guest and pass pointers into the
 * module's own memory to the imports of module "tenon" (the only module a
 * plugin may import from), and exports the entry points the native glue
 * calls: create, destroy, the hooks vtable, one hook call, one timer call.
 * One module instance is one Tenon instance, so the plugin's object is a
 * static here.
 */
#include <tenon/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <wasi/api.h>

#include "tenon_wasm.h"

_Static_assert(sizeof(struct tenon_op_call) == TW_CALL_SIZE, "call layout");
_Static_assert(offsetof(struct tenon_op_call, param) == TW_CALL_PARAM,
               "call layout");
_Static_assert(sizeof(struct tenon_arg_value) == TW_ARGVAL_SIZE, "arg layout");
_Static_assert(offsetof(struct tenon_arg_value, str) == TW_ARGVAL_STR,
               "arg layout");
_Static_assert(offsetof(struct tenon_arg_value, i) == TW_ARGVAL_I,
               "arg layout");
_Static_assert(sizeof(struct tenon_op_value) == TW_OPVAL_SIZE, "value layout");
_Static_assert(offsetof(struct tenon_op_value, len) == TW_OPVAL_LEN,
               "value layout");
_Static_assert(sizeof(struct tenon_hooks_v1) == TW_HOOKS_SIZE, "hooks layout");

extern const struct tenon_plugin_entry tenon_plugin_entry;

#define IMPORT(n) __attribute__((import_module("tenon"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))

IMPORT(log) void tw_log(int32_t level, const char *msg, uint32_t len);
IMPORT(log_level) int32_t tw_log_level(void);
IMPORT(set_error) void tw_set_error(const char *msg, uint32_t len);
IMPORT(disable) void tw_disable(const char *msg, uint32_t len);
IMPORT(last_error) uint32_t tw_last_error(char *dst, uint32_t cap);
IMPORT(config) int32_t tw_config(char *dst, uint32_t cap);
IMPORT(op_attach)
int32_t tw_op_attach(const char *op, uint32_t len, int32_t kind, uint32_t flags,
                     uint32_t fn, uint32_t ctx, uint64_t *id);
IMPORT(op_detach) int32_t tw_op_detach(uint64_t id);
IMPORT(buf_read)
int64_t tw_buf_read(const struct tenon_op_call *call, uint32_t arg,
                    uint64_t off, void *dst, uint64_t len);
IMPORT(buf_write)
int64_t tw_buf_write(const struct tenon_op_call *call, uint32_t arg,
                     uint64_t off, const void *src, uint64_t len);
IMPORT(op_call)
int32_t tw_op_call(const char *op, uint32_t len, struct tenon_op_value *argv,
                   uint32_t argc, int64_t *result);
IMPORT(timer_set)
int32_t tw_timer_set(uint64_t delay_ns, uint32_t fn, uint32_t ctx,
                     uint64_t *id);
IMPORT(timer_cancel) int32_t tw_timer_cancel(uint64_t id);
IMPORT(enable) int32_t tw_enable(void);
IMPORT(permitted) int32_t tw_permitted(const char *name, uint32_t len);

/* What the plugin sees as its own handle: the imports know which instance
 * they serve, so this only has to be a pointer no other instance has. */
static char self_token;
#define SELF ((struct tenon_instance *)(void *)&self_token)

static void *obj;
static struct tenon_op_call calls[TW_MAX_NEST];
static char call_strings[TW_MAX_NEST][TW_STR_SIZE];

#define FORMAT(buf, fmt)                                                       \
    va_list ap;                                                                \
    int n;                                                                     \
    va_start(ap, fmt);                                                         \
    n = vsnprintf(buf, sizeof buf, fmt, ap);                                   \
    va_end(ap);                                                                \
    if (n < 0)                                                                 \
        n = 0;                                                                 \
    if ((size_t)n >= sizeof buf)                                               \
    n = sizeof buf - 1

static void g_log(struct tenon_instance *self, int level, const char *fmt, ...)
{
    char buf[1024];
    (void)self;
    FORMAT(buf, fmt);
    tw_log(level, buf, (uint32_t)n);
}

static int g_log_level(const struct tenon_instance *self)
{
    (void)self;
    return tw_log_level();
}

static void g_set_error(struct tenon_instance *self, const char *fmt, ...)
{
    char buf[512];
    (void)self;
    FORMAT(buf, fmt);
    tw_set_error(buf, (uint32_t)n);
}

static void g_disable(struct tenon_instance *self, const char *fmt, ...)
{
    char buf[512];
    (void)self;
    FORMAT(buf, fmt);
    tw_disable(buf, (uint32_t)n);
}

/* Another instance's interfaces and callbacks would hand the module host
 * pointers: not available to a WebAssembly plugin. */
static const void *g_get_interface(struct tenon_instance *other, const char *id,
                                   void **o)
{
    (void)other, (void)id;
    if (o)
        *o = NULL;
    return NULL;
}

static int g_callback_declare(struct tenon_instance *self, const char *name,
                              const char *sig, struct tenon_callback **cb)
{
    (void)self, (void)name, (void)sig;
    if (cb)
        *cb = NULL;
    return TENON_ENOTSUP;
}

static size_t g_callback_fire(struct tenon_callback *cb, const void *event)
{
    (void)cb, (void)event;
    return 0;
}

static size_t g_callback_handlers(const struct tenon_callback *cb)
{
    (void)cb;
    return 0;
}

static int g_callback_register(struct tenon_instance *self,
                               struct tenon_instance *provider,
                               const char *name, const char *sig,
                               tenon_callback_fn fn, void *ctx, uint64_t *id)
{
    (void)self, (void)provider, (void)name, (void)sig, (void)fn, (void)ctx;
    (void)id;
    return TENON_ENOTSUP;
}

static int g_callback_unregister(struct tenon_instance *self, uint64_t id)
{
    (void)self, (void)id;
    return TENON_ENOTSUP;
}

static const char *g_last_error(void)
{
    static char buf[512];
    uint32_t n = tw_last_error(buf, sizeof buf);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    buf[n] = '\0';
    return buf;
}

/* Valid until create() returns, as natively; kept until the next call. */
static const char *g_config(struct tenon_instance *self)
{
    static char *copy;
    int32_t n;
    (void)self;
    free(copy);
    copy = NULL;
    if ((n = tw_config(NULL, 0)) < 0 || !(copy = malloc((size_t)n + 1)))
        return NULL;
    if (tw_config(copy, (uint32_t)n + 1) != n) {
        free(copy);
        copy = NULL;
    }
    return copy;
}

static int g_op_attach(struct tenon_instance *self, const char *op, int kind,
                       unsigned flags, tenon_hook_fn fn, void *ctx,
                       uint64_t *id)
{
    uint64_t tmp;
    (void)self;
    if (!op)
        return TENON_EINVAL;
    return tw_op_attach(op, (uint32_t)strlen(op), kind, flags,
                        (uint32_t)(uintptr_t)fn, (uint32_t)(uintptr_t)ctx,
                        id ? id : &tmp);
}

static int g_op_detach(struct tenon_instance *self, uint64_t id)
{
    (void)self;
    return tw_op_detach(id);
}

static int64_t g_buf_read(struct tenon_instance *self,
                          const struct tenon_op_call *call, uint32_t arg,
                          uint64_t off, void *dst, uint64_t len)
{
    (void)self;
    return tw_buf_read(call, arg, off, dst, len);
}

static int64_t g_buf_write(struct tenon_instance *self,
                           const struct tenon_op_call *call, uint32_t arg,
                           uint64_t off, const void *src, uint64_t len)
{
    (void)self;
    return tw_buf_write(call, arg, off, src, len);
}

static int g_op_call(struct tenon_instance *self, const char *op,
                     struct tenon_op_value *argv, uint32_t argc,
                     int64_t *result)
{
    int64_t tmp;
    (void)self;
    if (!op)
        return TENON_EINVAL;
    return tw_op_call(op, (uint32_t)strlen(op), argv, argc,
                      result ? result : &tmp);
}

static int g_timer_set(struct tenon_instance *self, uint64_t delay_ns,
                       tenon_timer_fn fn, void *ctx, uint64_t *id)
{
    uint64_t tmp;
    (void)self;
    return tw_timer_set(delay_ns, (uint32_t)(uintptr_t)fn,
                        (uint32_t)(uintptr_t)ctx, id ? id : &tmp);
}

static int g_timer_cancel(struct tenon_instance *self, uint64_t id)
{
    (void)self;
    return tw_timer_cancel(id);
}

static int g_enable(struct tenon_instance *self)
{
    (void)self;
    return tw_enable();
}

static int g_permitted(struct tenon_instance *self, const char *permission)
{
    (void)self;
    if (!permission)
        return 0;
    return tw_permitted(permission, (uint32_t)strlen(permission));
}

static const struct tenon_host host = {
    .struct_size = sizeof(struct tenon_host),
    .abi = TENON_ABI_VERSION,
    .log = g_log,
    .log_level = g_log_level,
    .set_error = g_set_error,
    .get_interface = g_get_interface,
    .callback_declare = g_callback_declare,
    .callback_fire = g_callback_fire,
    .callback_handlers = g_callback_handlers,
    .callback_register = g_callback_register,
    .callback_unregister = g_callback_unregister,
    .last_error = g_last_error,
    .config = g_config,
    .op_attach = g_op_attach,
    .op_detach = g_op_detach,
    .buf_read = g_buf_read,
    .buf_write = g_buf_write,
    .op_call = g_op_call,
    .timer_set = g_timer_set,
    .timer_cancel = g_timer_cancel,
    .enable = g_enable,
    .disable = g_disable,
    .permitted = g_permitted,
};

/* vsnprintf() above drags in libc's stdio, whose flushing at exit reaches
 * for the WASI file calls. A plugin has no files: these answer "bad file
 * descriptor" inside the module, so stdio costs no import. Weak, so that a
 * plugin that really calls into WASI links libc's imports instead and the
 * build helper refuses it by name. */
__attribute__((weak)) __wasi_errno_t __wasi_fd_close(__wasi_fd_t fd)
{
    (void)fd;
    return __WASI_ERRNO_BADF;
}

__attribute__((weak)) __wasi_errno_t __wasi_fd_seek(__wasi_fd_t fd,
                                                    __wasi_filedelta_t offset,
                                                    __wasi_whence_t whence,
                                                    __wasi_filesize_t *pos)
{
    (void)fd, (void)offset, (void)whence, (void)pos;
    return __WASI_ERRNO_BADF;
}

__attribute__((weak)) __wasi_errno_t
__wasi_fd_write(__wasi_fd_t fd, const __wasi_ciovec_t *iovs, size_t iovs_len,
                __wasi_size_t *written)
{
    (void)fd, (void)iovs, (void)iovs_len, (void)written;
    return __WASI_ERRNO_BADF;
}

/* ---- exports: what the glue calls ---------------------------------------- */

EXPORT(tenon_create) int32_t tw_create(const struct tenon_args *args)
{
    return tenon_plugin_entry.create(&host, SELF, args, NULL, &obj);
}

EXPORT(tenon_destroy) void tw_destroy(void)
{
    if (tenon_plugin_entry.destroy)
        tenon_plugin_entry.destroy(obj);
    obj = NULL;
}

EXPORT(tenon_obj) uint32_t tw_obj(void) { return (uint32_t)(uintptr_t)obj; }

EXPORT(tenon_hooks) uint32_t tw_hooks(void)
{
    const void *vt = NULL;
    if (tenon_plugin_entry.get_interface)
        vt = tenon_plugin_entry.get_interface(obj, TENON_HOOKS_ID);
    return (uint32_t)(uintptr_t)vt;
}

EXPORT(tenon_timer) void tw_timer(uint32_t fn, uint32_t ctx, uint64_t id)
{
    ((tenon_timer_fn)(uintptr_t)fn)((void *)(uintptr_t)ctx, id);
}

EXPORT(tenon_alloc) uint32_t tw_alloc(uint32_t size)
{
    return (uint32_t)(uintptr_t)malloc(size);
}

/* The call slots the glue writes a hook's call into, and their strings. */
EXPORT(tenon_scratch) uint32_t tw_scratch(uint32_t slot)
{
    return slot < TW_MAX_NEST ? (uint32_t)(uintptr_t)&calls[slot] : 0;
}

EXPORT(tenon_scratch_strings) uint32_t tw_scratch_strings(uint32_t slot)
{
    return slot < TW_MAX_NEST ? (uint32_t)(uintptr_t)call_strings[slot] : 0;
}
