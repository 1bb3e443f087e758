/*
 * process - one process of an operating system as a memory connector
 * (memflow's os -> connector nesting): takes an input providing
 * tenon.osi/1, asks it for a view of the memory of the process named by
 * pid= or name=, and provides that view as its own tenon.memory/1.
 *
 *     tenon read -o native -c process:pid=1234 0x7ffd12340000 64
 */
#include <tenon/memory.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TENON_PLUGIN_INFO("process", "0.3.0",
    TENON_DESCRIPTION("One process's memory, from an operating system "
                      "instance, as a memory connector")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("none")
    TENON_ACCEPTS("tenon.osi/1")
    TENON_PROVIDES("tenon.memory/1")
    TENON_HELP("Give exactly one of pid= and name=. name= must match the "
               "short name (as ps shows it) of exactly one process.\n"
               "Chain it after an OS: -o native -c process:pid=1234, or "
               "-o native -c process:name=sshd.")
    TENON_ARG_INT_OPT("pid", "the process id")
    TENON_ARG_STRING_OPT("name", "the process's short name, matched "
                                 "exactly"));

struct proc {
    const struct tenon_host *host;
    struct tenon_instance *self;
    const struct tenon_osi_v1 *osi;
    void *osi_obj;
    const struct tenon_memory_v1 *mem;
    void *mem_obj;
    uint32_t pid;
    char name[68]; /* for messages; "" when unknown */
};

static void fail(struct proc *p, const char *fmt, ...) TENON_PRINTF(2, 3);

/* "process 123 (sshd): " then the message. */
static void fail(struct proc *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->name[0])
        p->host->set_error(p->self, "process %u (%s): %s", (unsigned)p->pid,
                           p->name, msg);
    else
        p->host->set_error(p->self, "process %u: %s", (unsigned)p->pid, msg);
}

/* Why a call into the input failed: the message it left (the host gives
 * it as this thread's last error), else its code in words. */
static const char *why(const struct proc *p, int rc)
{
    if (TENON_HOST_HAS(p->host, last_error) && p->host->last_error &&
        p->host->last_error()[0])
        return p->host->last_error();
    switch (rc) {
    case TENON_ENOENT: return "the process exited";
    case TENON_EPERM: return "permission denied";
    case TENON_EIO: return "I/O error";
    case TENON_ENOMEM: return "out of memory";
    case TENON_ENOTSUP: return "not supported by the input";
    default: return "the input failed";
    }
}

/* ---- tenon.memory/1, forwarded ------------------------------------------- */

static uint32_t mem_address_width(void *obj)
{
    struct proc *p = obj;
    return p->mem->address_width(p->mem_obj);
}

static int mem_read(void *obj, uint64_t addr, void *buf, size_t len,
                    size_t *done)
{
    struct proc *p = obj;
    int rc = p->mem->read(p->mem_obj, addr, buf, len, done);
    if (rc < 0)
        fail(p, "reading %zu bytes at 0x%llx: %s", len,
             (unsigned long long)addr, why(p, rc));
    return rc;
}

static int mem_write(void *obj, uint64_t addr, const void *buf, size_t len,
                     size_t *done)
{
    struct proc *p = obj;
    int rc = p->mem->write(p->mem_obj, addr, buf, len, done);
    if (rc < 0)
        fail(p, "writing %zu bytes at 0x%llx: %s", len,
             (unsigned long long)addr, why(p, rc));
    return rc;
}

static int mem_regions(void *obj, tenon_memory_region_fn fn, void *ud)
{
    struct proc *p = obj;
    int rc = p->mem->regions(p->mem_obj, fn, ud);
    if (rc < 0)
        fail(p, "listing its memory regions: %s", why(p, rc));
    return rc;
}

/* Two vtables: write() is there only when the input's view has one. */
static const struct tenon_memory_v1 vt_rw = {
    .struct_size = sizeof vt_rw,
    .address_width = mem_address_width,
    .read = mem_read,
    .write = mem_write,
    .regions = mem_regions,
};
static const struct tenon_memory_v1 vt_ro = {
    .struct_size = sizeof vt_ro,
    .address_width = mem_address_width,
    .read = mem_read,
    .write = NULL,
    .regions = mem_regions,
};

/* ---- finding the process by name ----------------------------------------- */

struct by_name {
    const char *name;
    uint32_t *pids;
    size_t len, cap;
    int nomem;
};

static int match(void *ud, const struct tenon_osi_process *proc)
{
    struct by_name *b = ud;
    if (strcmp(proc->name, b->name) != 0)
        return 0;
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        uint32_t *v = realloc(b->pids, cap * sizeof *v);
        if (!v) {
            b->nomem = 1;
            return 1;
        }
        b->pids = v;
        b->cap = cap;
    }
    b->pids[b->len++] = proc->pid;
    return 0;
}

/* "3 processes are named X: 1, 2, 3; use pid=" */
static void several(struct proc *p, const struct by_name *b)
{
    char list[256];
    size_t used = 0;
    for (size_t i = 0; i < b->len && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%u", i ? ", " : "",
                         (unsigned)b->pids[i]);
        if (w < 0 || (size_t)w >= sizeof list - used) {
            /* Too many to name: say so rather than cut a number. */
            snprintf(list + used, sizeof list - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
    p->host->set_error(p->self,
                       "%zu processes are named %s: %s; use pid=", b->len,
                       b->name, list);
}

static int find_by_name(struct proc *p, const char *name)
{
    struct by_name b;
    int rc;

    memset(&b, 0, sizeof b);
    b.name = name;
    rc = p->osi->processes(p->osi_obj, 0, match, &b);
    if (b.nomem)
        rc = TENON_ENOMEM;
    if (rc == TENON_ENOMEM)
        p->host->set_error(p->self, "looking for process %s: out of memory",
                           name);
    else if (rc < 0)
        p->host->set_error(p->self,
                           "looking for process %s: listing the processes "
                           "failed (%s)",
                           name, why(p, rc));
    else if (b.len == 0) {
        /* Linux keeps the first 15 bytes of a name (comm). */
        p->host->set_error(p->self, "no process named %s%s", name,
                           strlen(name) > 15 ? " (a name as ps shows it has "
                                               "at most 15 characters)"
                                             : "");
        rc = TENON_ENOENT;
    } else if (b.len > 1) {
        several(p, &b);
        rc = TENON_EINVAL;
    } else {
        p->pid = b.pids[0];
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    free(b.pids);
    return rc;
}

/* ---- the instance -------------------------------------------------------- */

static int process_create(const struct tenon_host *host,
                          struct tenon_instance *self,
                          const struct tenon_args *args,
                          struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *pid = tenon_arg(args, "pid");
    const struct tenon_arg_value *name = tenon_arg(args, "name");
    struct proc *p;
    int rc;

    if (!pid || !name || pid->set == name->set) {
        host->set_error(self, pid && pid->set
                                  ? "give pid= or name=, not both"
                                  : "give pid= or name= to say which "
                                    "process");
        return TENON_EINVAL;
    }
    if (pid->set && (pid->i <= 0 || pid->i > INT32_MAX)) {
        host->set_error(self, "pid=%s is not a process id; expected 1..%d",
                        pid->str, INT32_MAX);
        return TENON_ERANGE;
    }
    if (name->set && !name->str[0]) {
        host->set_error(self, "name= is empty; expected a process name");
        return TENON_EINVAL;
    }
    if (!(p = calloc(1, sizeof *p)))
        return TENON_ENOMEM;
    p->host = host;
    p->self = self;
    p->osi =
        input ? host->get_interface(input, TENON_OSI_ID, &p->osi_obj) : NULL;
    if (!p->osi || p->osi->struct_size <
                       offsetof(struct tenon_osi_v1, process_memory_free) +
                           sizeof p->osi->process_memory_free) {
        host->set_error(self,
                        "the input does not provide %s (with "
                        "process_memory)",
                        TENON_OSI_ID);
        free(p);
        return TENON_EINVAL;
    }
    if (name->set) {
        if ((rc = find_by_name(p, name->str)))
            goto fail;
    } else {
        struct tenon_osi_process *info;
        p->pid = (uint32_t)pid->i;
        /* Its name, for the messages; and a pid that is no process's fails
         * here with the input's word for it. */
        if ((rc = p->osi->process(p->osi_obj, p->pid, &info))) {
            if (rc == TENON_ENOENT)
                host->set_error(self, "process %u does not exist",
                                (unsigned)p->pid);
            else
                fail(p, "looking it up: %s", why(p, rc));
            goto fail;
        }
        snprintf(p->name, sizeof p->name, "%s", info->name);
        p->osi->process_free(p->osi_obj, info);
    }
    rc = p->osi->process_memory(p->osi_obj, p->pid, &p->mem, &p->mem_obj);
    if (rc) {
        fail(p, "opening its memory: %s",
             rc == TENON_ENOENT ? "the process does not exist" : why(p, rc));
        goto fail;
    }
    if (!p->mem ||
        p->mem->struct_size < offsetof(struct tenon_memory_v1, regions) +
                                  sizeof p->mem->regions) {
        fail(p, "the input's memory view is older than %s", TENON_MEMORY_ID);
        if (p->mem)
            p->osi->process_memory_free(p->osi_obj, p->mem_obj);
        rc = TENON_EABI;
        goto fail;
    }
    *obj = p;
    return 0;
fail:
    free(p);
    return rc;
}

static void process_destroy(void *obj)
{
    struct proc *p = obj;
    p->osi->process_memory_free(p->osi_obj, p->mem_obj);
    free(p);
}

static const void *process_get_interface(void *obj, const char *id)
{
    struct proc *p = obj;
    if (strcmp(id, TENON_MEMORY_ID) != 0)
        return NULL;
    return p->mem->write ? &vt_rw : &vt_ro;
}

TENON_PLUGIN_ENTRY(process_create, process_destroy, process_get_interface,
                   NULL);
