/*
 * native - the running Linux system as tenon.osi/1: processes, threads,
 * mappings and kernel modules from /proc, process memory through
 * process_vm_readv or /proc/PID/mem, and a process start/exit callback fed
 * by a polling thread.
 *
 *     tenon ps -o native
 *     tenon read -o native -c process:pid=1234 0x7ffd12340000 64
 */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

TENON_PLUGIN_INFO("native", "0.3.0",
    TENON_DESCRIPTION("The running Linux system: processes, threads, "
                      "mappings, kernel modules and process memory")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("log") TENON_PERMISSION("callback")
    TENON_PROVIDES("tenon.osi/1")
    TENON_RANK(TENON_RANK_PRIMARY)
    TENON_HELP("Reads /proc for processes, threads, mappings and kernel "
               "modules, and a process's memory with process_vm_readv or "
               "/proc/PID/mem. Declines when /proc is not mounted.\n"
               "native:mem=procfs reads memory through /proc/PID/mem only; "
               "native:interval=1000 polls for process starts and exits "
               "once a second while a handler listens.")
    TENON_ARG_INT_RANGE("interval", "0", "60000", "250",
                        "milliseconds between two looks for processes that "
                        "started or exited, while a handler listens; 0 turns "
                        "the polling off")
    TENON_ARG_ENUM("mem", "auto|vm|procfs", "auto",
                   "how process memory is read: process_vm_readv (vm), "
                   "/proc/PID/mem (procfs), or vm falling back to procfs "
                   "when refused (auto); writes always go through "
                   "/proc/PID/mem"));

int native__fail(struct native *n, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n->host->set_error(n->self, "%s", msg);
    return code;
}

int native__code(int err)
{
    switch (err) {
    case ENOENT:
    case ESRCH: return TENON_ENOENT;
    case EACCES:
    case EPERM: return TENON_EPERM;
    case ENOMEM: return TENON_ENOMEM;
    case EINVAL: return TENON_EINVAL;
    default: return TENON_EIO;
    }
}

const char *native__errname(int err)
{
    switch (err) {
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return strerror(err);
    }
}

/* ---- tenon.osi/1 --------------------------------------------------------- */

static int osi_processes(void *obj, unsigned want, tenon_osi_process_fn fn,
                         void *ud)
{
    return native__processes(obj, want, fn, ud);
}

static int osi_process(void *obj, uint32_t pid, struct tenon_osi_process **out)
{
    return native__process(obj, pid, out);
}

static void osi_process_free(void *obj, struct tenon_osi_process *p)
{
    (void)obj;
    free(p); /* one block: native__process() */
}

static int osi_threads(void *obj, uint32_t pid, tenon_osi_thread_fn fn,
                       void *ud)
{
    return native__threads(obj, pid, fn, ud);
}

static int osi_mappings(void *obj, uint32_t pid, tenon_osi_mapping_fn fn,
                        void *ud)
{
    return native__mappings(obj, pid, fn, ud);
}

static int osi_modules(void *obj, tenon_osi_module_fn fn, void *ud)
{
    return native__modules(obj, fn, ud);
}

static int osi_current(void *obj, uint32_t *pid, uint32_t *tid)
{
    (void)obj;
    *pid = (uint32_t)getpid();
    *tid = (uint32_t)syscall(SYS_gettid);
    return 0;
}

static int osi_process_memory(void *obj, uint32_t pid,
                              const struct tenon_memory_v1 **vt, void **mem)
{
    return native__memory_open(obj, pid, vt, mem);
}

static void osi_process_memory_free(void *obj, void *mem)
{
    native__memory_close(obj, mem);
}

static int osi_auxv(void *obj, uint32_t pid, void *buf, size_t len,
                    size_t *size)
{
    return native__auxv(obj, pid, buf, len, size);
}

static const struct tenon_osi_v1 osi = {
    .struct_size = sizeof osi,
    .processes = osi_processes,
    .process = osi_process,
    .process_free = osi_process_free,
    .threads = osi_threads,
    .mappings = osi_mappings,
    .modules = osi_modules,
    .current = osi_current,
    .process_memory = osi_process_memory,
    .process_memory_free = osi_process_memory_free,
    .auxv = osi_auxv,
};

/* ---- the instance -------------------------------------------------------- */

static int native_create(const struct tenon_host *host,
                         struct tenon_instance *self,
                         const struct tenon_args *args,
                         struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *interval = tenon_arg(args, "interval");
    const struct tenon_arg_value *mem = tenon_arg(args, "mem");
    struct native *n;
    int rc;

    (void)input;
    /* The host checks the range and the choices, unless it predates
     * arg.min and arg.max: check anyway. */
    if (!interval || !mem || interval->i < 0 || interval->i > 60000) {
        host->set_error(self,
                        "interval=%lld is out of range; expected "
                        "0..60000 milliseconds",
                        interval ? (long long)interval->i : -1LL);
        return TENON_ERANGE;
    }
    if (mem->i < NATIVE_MEM_AUTO || mem->i > NATIVE_MEM_PROCFS) {
        host->set_error(self, "mem=%s: expected auto, vm or procfs", mem->str);
        return TENON_EINVAL;
    }
    if (!(n = calloc(1, sizeof *n)))
        return TENON_ENOMEM;
    n->host = host;
    n->self = self;
    n->mem_mode = (int)mem->i;
    if ((n->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        faccessat(n->procfd, "self/stat", R_OK, 0) != 0) {
        /* Not the system this plugin reads: let the next provider try. */
        host->set_error(self, "/proc is not mounted here (%s)",
                        native__errname(errno));
        if (n->procfd >= 0)
            close(n->procfd);
        free(n);
        return TENON_EDECLINE;
    }
    native__proc_init(n);
    /* A host older than callbacks has none of them; one that has them
     * all may still leave them NULL (it implements none). */
    if (TENON_HOST_HAS(host, callback_handlers) && host->callback_declare &&
        host->callback_fire && host->callback_handlers) {
        rc = host->callback_declare(self, TENON_OSI_CB_PROCESS,
                                    TENON_OSI_PROCESS_EVENT_SIG, &n->cb);
        if (rc) {
            host->set_error(self, "declaring the callback '%s' failed (%d)",
                            TENON_OSI_CB_PROCESS, rc);
            goto fail;
        }
        if (interval->i > 0 &&
            (rc = native__watch_start(n, (unsigned)interval->i)))
            goto fail;
    }
    *obj = n;
    return 0;
fail:
    close(n->procfd);
    free(n);
    return rc;
}

static void native_destroy(void *obj)
{
    struct native *n = obj;
    /* The thread first: it uses everything below. */
    native__watch_stop(n->watch);
    close(n->procfd);
    free(n);
}

static const void *native_get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_OSI_ID) == 0 ? &osi : NULL;
}

TENON_PLUGIN_ENTRY(native_create, native_destroy, native_get_interface, NULL);
