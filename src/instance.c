/*
 * Instances: "name[@version][:args]" -> validated arguments -> loaded library
 * -> the plugin's create(). Instances are refcounted so that an instance used
 * as another's input outlives it.
 */
#include "internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Instances' error buffers are written by whichever thread failed: one
 * lock for all of them, taken for a copy, never while calling out. */
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

/* A copy of the instance's message, taken under the lock. */
static void instance_error_copy(const struct tenon_instance *inst, char *out,
                                size_t len)
{
    pthread_mutex_lock(&error_lock);
    snprintf(out, len, "%s", inst->error);
    pthread_mutex_unlock(&error_lock);
}

static int provides(const struct tenon_plugin *p, const char *id)
{
    for (size_t i = 0; i < p->info.nprovides; i++)
        if (strcmp(p->info.provides[i], id) == 0)
            return 1;
    return 0;
}

static int check_input(const struct tenon_plugin *p, tenon_instance_t *input)
{
    const char *want = p->info.accepts;
    if (!want && input)
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' takes no input, but an input instance "
                           "(%s) was given",
                           p->info.name, input->plugin->info.name);
    if (want && !input)
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' needs an input instance providing %s",
                           p->info.name, want);
    if (want && !provides(input->plugin, want))
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' needs an input providing %s; '%s' does "
                           "not provide it",
                           p->info.name, want, input->plugin->info.name);
    return 0;
}

static void release_lib(tenon_t *t, struct tenon__library *lib)
{
    pthread_mutex_lock(&t->lock);
    tenon__library_release(t, lib);
    pthread_mutex_unlock(&t->lock);
}

/* A plugin's own error code if it is one of ours, else TENON_EPLUGIN. */
static int plugin_code(int rc)
{
    return rc < 0 && rc >= TENON_ERROR_MIN ? rc : TENON_EPLUGIN;
}

/* Everything tenon_create() checks before any plugin code runs: the spec's
 * form, the plugin it names (*p, also when only the arguments are wrong) and
 * the arguments against its declarations, parsed into *args (freed on
 * failure). */
static int resolve(tenon_t *t, const char *spec, const struct tenon_plugin **p,
                   struct tenon__args *args)
{
    const char *name, *version, *argstr;
    char *buf;
    int rc;

    *p = NULL;
    memset(args, 0, sizeof *args);
    if ((rc = tenon__spec_split(spec, 1, &buf, &name, &version, &argstr)))
        return rc;
    if (!(rc = tenon__find_spec(t, name, version, p)))
        rc = tenon__args_parse(argstr, (*p)->info.args, (*p)->info.nargs,
                               (*p)->info.name, args);
    free(buf);
    return rc;
}

int tenon_check(tenon_t *t, const char *spec, const tenon_plugin_t **plugin)
{
    const struct tenon_plugin *p;
    struct tenon__args args;
    int rc = resolve(t, spec, &p, &args);
    if (rc == 0)
        tenon__args_free(&args);
    if (p)
        tenon__plugin_unuse(p); /* no instance keeps it */
    if (plugin)
        *plugin = p;
    return rc;
}

/* Say which plugin a config failed for. tenon_config_validate()'s
 * "config is not valid JSON" reads on as "config of plugin 'x' is not
 * ...". */
static int config_fail(const struct tenon_plugin *p, int rc)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tenon_last_error());
    if (strncmp(msg, "config ", 7) == 0)
        return tenon__fail(rc, "config of plugin '%s' %s", p->info.name,
                           msg + 7);
    return tenon__fail(rc, "config of plugin '%s': %s", p->info.name, msg);
}

/* The config an instance of `p` gets from `config`: validated against the
 * plugin's schema with the defaults filled in, or as given when it states
 * none. *out is malloc'd, or NULL when there is neither. */
static int config_for(const struct tenon_plugin *p, const char *config,
                      char **out)
{
    const char *schema = tenon__info_get(&p->info, "config.schema");
    int rc;

    *out = NULL;
    if (!schema) {
        if (config && !(*out = tenon__strdup(config)))
            return tenon__fail(TENON_ENOMEM, "out of memory");
        return 0;
    }
    if ((rc = tenon_config_validate(schema, config, out, NULL)))
        return config_fail(p, rc);
    return 0;
}

int tenon_create(tenon_t *t, const char *spec, tenon_instance_t *input,
                 tenon_instance_t **out)
{
    return tenon_create_config(t, spec, NULL, input, out);
}

int tenon_create_config(tenon_t *t, const char *spec, const char *config,
                        tenon_instance_t *input, tenon_instance_t **out)
{
    const struct tenon_plugin *p;
    struct tenon_instance *inst;
    int rc;

    *out = NULL;
    if (!(inst = calloc(1, sizeof *inst)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    /* Arguments and config are checked before the library is loaded: a
     * typo never runs plugin code. */
    rc = resolve(t, spec, &p, &inst->args);
    inst->plugin = p; /* holds the use the lookup took, when it found one */
    if (rc || (rc = check_input(p, input)) ||
        (rc = tenon__perms_grant(t, p, &inst->perms)) ||
        (rc = config_for(p, config, &inst->config)))
        goto out;
    pthread_mutex_lock(&t->lock);
    rc = tenon__library_acquire(t, p, &inst->lib);
    pthread_mutex_unlock(&t->lock);
    if (rc)
        goto out;
    inst->t = t;
    inst->plugin = p;
    atomic_init(&inst->refs, 1);
    rc = inst->lib->entry->create(&tenon__host, inst, &inst->args.pub, input,
                                  &inst->obj);
    if (rc) {
        /* what a failed create() declared or registered goes with it */
        tenon__callbacks_drop_handlers(inst);
        tenon__callbacks_drop_declared(inst);
        char why[sizeof inst->error];
        instance_error_copy(inst, why, sizeof why);
        if (rc == TENON_EDECLINE)
            rc = tenon__fail(rc, "plugin '%s' declined: %s", p->info.name,
                             why[0] ? why : "no reason given");
        else
            rc =
                tenon__fail(plugin_code(rc),
                            "plugin '%s' failed to create an instance: %s (%s)",
                            p->info.name, why[0] ? why : "no message",
                            tenon_strerror(plugin_code(rc)));
        release_lib(t, inst->lib);
        goto out;
    }
    if ((rc = tenon__instance_hooks_attach(inst))) {
        char why[1024];
        snprintf(why, sizeof why, "%s", tenon_last_error());
        tenon__instance_ops_stop(inst);
        tenon__callbacks_drop_handlers(inst);
        inst->lib->entry->destroy(inst->obj);
        tenon__callbacks_drop_declared(inst);
        release_lib(t, inst->lib);
        rc = tenon__fail(rc, "%s", why);
        goto out;
    }
    if (input) {
        atomic_fetch_add(&input->refs, 1);
        inst->input = input;
    }
    *out = inst;
    inst = NULL;
out:
    if (inst) {
        if (inst->plugin)
            tenon__plugin_unuse(inst->plugin);
        tenon__args_free(&inst->args);
        free(inst->config);
        free(inst);
    }
    return rc;
}

void tenon_destroy(tenon_instance_t *inst)
{
    while (inst && atomic_fetch_sub(&inst->refs, 1) == 1) {
        tenon_instance_t *input = inst->input;
        tenon__instance_ops_stop(inst);
        tenon__callbacks_drop_handlers(inst);
        inst->lib->entry->destroy(inst->obj);
        tenon__callbacks_drop_declared(inst);
        release_lib(inst->t, inst->lib);
        tenon__plugin_unuse(inst->plugin);
        tenon__args_free(&inst->args);
        free(inst->config);
        free(inst);
        inst = input; /* drop the reference this instance held */
    }
}

const void *tenon_get_interface(tenon_instance_t *inst, const char *id,
                                void **obj)
{
    const void *vt;
    if (!inst || !id || !provides(inst->plugin, id))
        return NULL;
    vt = inst->lib->entry->get_interface(inst->obj, id);
    if (vt && obj)
        *obj = inst->obj;
    return vt;
}

const tenon_plugin_t *tenon_instance_plugin(const tenon_instance_t *inst)
{
    return inst->plugin;
}

const char *tenon_instance_error(const tenon_instance_t *inst)
{
    return inst->error;
}

int tenon_set_config(tenon_instance_t *inst, const char *config)
{
    const struct tenon_config_v1 *vt;
    char *text, why[sizeof inst->error];
    void *obj;
    int rc;

    vt = tenon_get_interface(inst, TENON_CONFIG_ID, &obj);
    if (!vt ||
        vt->struct_size < offsetof(struct tenon_config_v1, set_config) +
                              sizeof vt->set_config ||
        !vt->set_config)
        return tenon__fail(TENON_ENOTSUP,
                           "plugin '%s' does not take a new config (it does "
                           "not provide %s)",
                           inst->plugin->info.name, TENON_CONFIG_ID);
    if ((rc = config_for(inst->plugin, config ? config : "{}", &text)))
        return rc;
    /* a message from an earlier call must not explain this failure */
    pthread_mutex_lock(&error_lock);
    inst->error[0] = '\0';
    pthread_mutex_unlock(&error_lock);
    if ((rc = vt->set_config(obj, text))) {
        free(text);
        instance_error_copy(inst, why, sizeof why);
        return tenon__fail(plugin_code(rc),
                           "plugin '%s' refused the config: %s (%s)",
                           inst->plugin->info.name, why[0] ? why : "no message",
                           tenon_strerror(plugin_code(rc)));
    }
    free(inst->config);
    inst->config = text;
    return 0;
}

const char *tenon_instance_config(const tenon_instance_t *inst)
{
    return inst->config;
}

int tenon_targets(tenon_t *t, const char *spec, tenon_target_fn emit, void *ud)
{
    const tenon_plugin_t *p;
    struct tenon_instance tmp;
    int rc;

    if ((rc = tenon_find(t, spec, &p)))
        return rc;
    memset(&tmp, 0, sizeof tmp);
    tmp.t = t;
    tmp.plugin = p;
    pthread_mutex_lock(&t->lock);
    rc = tenon__library_acquire(t, p, &tmp.lib);
    pthread_mutex_unlock(&t->lock);
    if (rc)
        return rc;
    if (tmp.lib->entry->struct_size <
            offsetof(struct tenon_plugin_entry, targets) + sizeof(void *) ||
        !tmp.lib->entry->targets)
        rc = tenon__fail(TENON_ENOTSUP, "plugin '%s' does not list targets",
                         p->info.name);
    else if ((rc = tmp.lib->entry->targets(&tenon__host, &tmp, emit, ud)))
        rc = tenon__fail(plugin_code(rc),
                         "plugin '%s' failed to list targets: %s", p->info.name,
                         tmp.error[0] ? tmp.error : "no message");
    release_lib(t, tmp.lib);
    return rc;
}

/* ---- the host API handed to plugins -------------------------------------- */

static void host_log(struct tenon_instance *self, int level, const char *fmt,
                     ...)
{
    va_list ap;
    if (!self)
        return;
    if (!tenon__perm_has(self, TENON__P_LOG)) {
        tenon__perm_refuse(self, TENON__P_LOG, "logging");
        return;
    }
    va_start(ap, fmt);
    tenon__vlog(self->t, level, self->plugin->info.name, fmt, ap);
    va_end(ap);
}

static int host_log_level(const struct tenon_instance *self)
{
    return self ? tenon_get_log_level(self->t) : TENON_LOG_OFF;
}

static void host_set_error(struct tenon_instance *self, const char *fmt, ...)
{
    char msg[sizeof self->error];
    va_list ap;
    if (!self)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&error_lock);
    memcpy(self->error, msg, sizeof msg);
    pthread_mutex_unlock(&error_lock);
    tenon__fail(TENON_EPLUGIN, "%s", msg);
}

static const void *host_get_interface(struct tenon_instance *other,
                                      const char *id, void **obj)
{
    return tenon_get_interface(other, id, obj);
}

static const char *host_config(struct tenon_instance *self)
{
    return self ? self->config : NULL;
}

/* Callbacks need permission "callback". */
static int host_callback_declare(struct tenon_instance *self, const char *name,
                                 const char *sig, struct tenon_callback **cb)
{
    if (!tenon__perm_has(self, TENON__P_CALLBACK))
        return tenon__perm_refuse(self, TENON__P_CALLBACK,
                                  "declaring a callback");
    return tenon__callback_declare(self, name, sig, cb);
}

static int host_callback_register(struct tenon_instance *self,
                                  struct tenon_instance *provider,
                                  const char *name, const char *sig,
                                  tenon_callback_fn fn, void *ctx, uint64_t *id)
{
    if (!tenon__perm_has(self, TENON__P_CALLBACK))
        return tenon__perm_refuse(self, TENON__P_CALLBACK,
                                  "registering a callback handler");
    return tenon__callback_register(self, provider, name, sig, fn, ctx, id);
}

static int host_callback_unregister(struct tenon_instance *self, uint64_t id)
{
    if (!tenon__perm_has(self, TENON__P_CALLBACK))
        return tenon__perm_refuse(self, TENON__P_CALLBACK,
                                  "unregistering a callback handler");
    return tenon__callback_unregister(self, id);
}

const struct tenon_host tenon__host = {
    .struct_size = sizeof(struct tenon_host),
    .abi = TENON_ABI_VERSION,
    .log = host_log,
    .log_level = host_log_level,
    .set_error = host_set_error,
    .get_interface = host_get_interface,
    .callback_declare = host_callback_declare,
    .callback_fire = tenon__callback_fire,
    .callback_handlers = tenon__callback_handlers,
    .callback_register = host_callback_register,
    .callback_unregister = host_callback_unregister,
    .last_error = tenon_last_error,
    .config = host_config,
    .op_attach = tenon__host_op_attach,
    .op_detach = tenon__host_op_detach,
    .buf_read = tenon__host_buf_read,
    .buf_write = tenon__host_buf_write,
    .op_call = tenon__host_op_call,
    .timer_set = tenon__host_timer_set,
    .timer_cancel = tenon__host_timer_cancel,
    .enable = tenon__host_enable,
    .disable = tenon__host_disable,
    .permitted = tenon__host_permitted,
};
