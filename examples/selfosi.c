/*
 * selfosi - the example provider of docs/osi.md: tenon.osi/1 for one
 * process, the host's own, read from /proc/self. Small on purpose; the
 * bundled `native` plugin does the same for every process.
 *
 * It shows the rules a provider keeps: lists are iterators over structs
 * that live for one call; the one object it returns (process()) comes in a
 * single allocation freed by its own process_free(); every failure leaves a
 * message with set_error(); and it declines (TENON_EDECLINE) when it is not
 * wanted, so that a host picking providers by rank moves on.
 */
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

TENON_PLUGIN_INFO("selfosi", "1.0.0",
    TENON_DESCRIPTION("The host's own process through tenon.osi/1")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_OSI_ID)
    TENON_RANK(TENON_RANK_MARGINAL)
    TENON_ARG_BOOL("enable", "yes", "no: decline, so the next provider "
                                    "by rank is used"));

struct selfosi {
    const struct tenon_host *host;
    struct tenon_instance *self;
    uint32_t pid;
};

/* The short name and state from /proc/self/stat: "PID (NAME) S ...". */
static int read_stat(char name[64], char *state)
{
    char buf[512];
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return TENON_EIO;
    snprintf(name, 64, "%.*s", (int)(close - open - 1), open + 1);
    *state = close[2];
    return 0;
}

static int fill(struct selfosi *s, struct tenon_osi_process *p, char name[64],
                char exe[512])
{
    int rc = read_stat(name, &p->state);
    ssize_t n = readlink("/proc/self/exe", exe, 511);
    if (rc) {
        s->host->set_error(s->self, "cannot parse /proc/self/stat");
        return rc;
    }
    exe[n > 0 ? n : 0] = 0;
    p->struct_size = sizeof *p;
    p->pid = s->pid;
    p->ppid = (uint32_t)getppid();
    p->uid = (uint32_t)getuid();
    p->name = name;
    p->exe = exe;
    return 0;
}

static int processes(void *obj, unsigned want, tenon_osi_process_fn fn,
                     void *ud)
{
    struct tenon_osi_process p;
    char name[64], exe[512];
    int rc;
    memset(&p, 0, sizeof p);
    rc = fill(obj, &p, name, exe);
    (void)want; /* everything is cheap here */
    return rc ? rc : fn(ud, &p);
}

static int process(void *obj, uint32_t pid, struct tenon_osi_process **out)
{
    struct selfosi *s = obj;
    struct tenon_osi_process p;
    char name[64], exe[512];
    int rc;
    memset(&p, 0, sizeof p);
    *out = NULL;
    if (pid != s->pid) {
        s->host->set_error(s->self, "process %u is not this one (%u)",
                           (unsigned)pid, (unsigned)s->pid);
        return TENON_ENOENT;
    }
    if ((rc = fill(s, &p, name, exe)))
        return rc;
    /* One allocation: the struct, then its strings. */
    size_t nl = strlen(name) + 1, el = strlen(exe) + 1;
    struct tenon_osi_process *c = malloc(sizeof *c + nl + el);
    if (!c)
        return TENON_ENOMEM;
    *c = p;
    c->name = memcpy((char *)(c + 1), name, nl);
    c->exe = memcpy((char *)(c + 1) + nl, exe, el);
    *out = c;
    return 0;
}

static void process_free(void *obj, struct tenon_osi_process *p)
{
    (void)obj;
    free(p);
}

static int threads(void *obj, uint32_t pid, tenon_osi_thread_fn fn, void *ud)
{
    struct selfosi *s = obj;
    struct tenon_osi_thread t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    char name[64];
    if (pid != s->pid)
        return TENON_ENOENT;
    /* A full provider lists /proc/self/task; this one shows the main
     * thread only. */
    if (read_stat(name, &t.state))
        return TENON_EIO;
    t.tid = t.pid = s->pid;
    t.name = name;
    return fn(ud, &t);
}

static int mappings(void *obj, uint32_t pid, tenon_osi_mapping_fn fn, void *ud)
{
    struct selfosi *s = obj;
    char line[4096], perms[5];
    int rc = 0;
    if (pid != s->pid)
        return TENON_ENOENT;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return TENON_EIO;
    while (!rc && fgets(line, sizeof line, f)) {
        struct tenon_osi_mapping m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        unsigned long long start, end, off, ino;
        int used = 0;
        if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end,
                   perms, &off, &m.dev_major, &m.dev_minor, &ino, &used) < 7)
            continue;
        line[strcspn(line, "\n")] = 0;
        m.start = start, m.end = end, m.offset = off, m.inode = ino;
        m.prot = (perms[0] == 'r' ? TENON_PROT_READ : 0) |
                 (perms[1] == 'w' ? TENON_PROT_WRITE : 0) |
                 (perms[2] == 'x' ? TENON_PROT_EXEC : 0);
        m.flags = perms[3] == 's' ? TENON_OSI_MAP_SHARED : 0;
        m.path = line + used;
        rc = fn(ud, &m);
    }
    fclose(f);
    return rc;
}

static int current(void *obj, uint32_t *pid, uint32_t *tid)
{
    struct selfosi *s = obj;
    *pid = s->pid;
    *tid = (uint32_t)gettid();
    return 0;
}

/* tenon.memory/1 over the host's own memory. process_vm_readv, not
 * memcpy: an unmapped address then fails the call instead of the host. */
static uint32_t width(void *mem)
{
    (void)mem;
    return 64;
}

static int mem_read(void *mem, uint64_t addr, void *buf, size_t len,
                    size_t *done)
{
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    (void)mem;
    *done = n > 0 ? (size_t)n : 0;
    return n >= 0 || errno == EFAULT ? 0 : TENON_EIO;
}

static int mem_regions(void *mem, tenon_memory_region_fn fn, void *ud)
{
    (void)mem, (void)fn, (void)ud;
    return TENON_ENOTSUP;
}

static const struct tenon_memory_v1 memory = {sizeof memory, width, mem_read,
                                              NULL, mem_regions};

static int process_memory(void *obj, uint32_t pid,
                          const struct tenon_memory_v1 **vt, void **mem)
{
    struct selfosi *s = obj;
    if (pid != s->pid)
        return TENON_ENOENT;
    *vt = &memory;
    *mem = s; /* nothing of its own to free */
    return 0;
}

static void process_memory_free(void *obj, void *mem) { (void)obj, (void)mem; }

static const struct tenon_osi_v1 osi = {
    sizeof osi,          processes, process,
    process_free,        threads,   mappings,
    NULL /* modules */,  current,   process_memory,
    process_memory_free, NULL /* auxv */};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct selfosi *s;
    (void)input;
    if (!tenon_arg(args, "enable")->i) {
        host->set_error(self, "not enabled (selfosi:enable=yes)");
        return TENON_EDECLINE;
    }
    if (!(s = calloc(1, sizeof *s)))
        return TENON_ENOMEM;
    s->host = host;
    s->self = self;
    s->pid = (uint32_t)getpid();
    *obj = s;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_OSI_ID) == 0 ? &osi : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
