/* Helpers of the introspection tests; see osi_testutil.h. */
#include "testutil.h"
#include "osi_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The target prints its line at once; this is for a loaded machine. */
#define TARGET_TIMEOUT_MS 30000

static uint64_t field(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    char *end;
    uint64_t v;
    assert_non_null(p);
    p += strlen(key);
    errno = 0;
    v = strtoull(p, &end, 0);
    assert_int_equal(errno, 0);
    assert_true(end > p);
    return v;
}

void target_start(struct target *t, const char *exe, const char *const *args)
{
    int in[2], out[2];
    char line[512];
    size_t len = 0;
    const char *argv[8];
    size_t argc = 0;

    memset(t, 0, sizeof *t);
    argv[argc++] = exe;
    for (; args && *args && argc < 7; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(126);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->in = in[1];
    while (len + 1 < sizeof line && !memchr(line, '\n', len)) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        ssize_t r;
        assert_int_equal(poll(&p, 1, TARGET_TIMEOUT_MS), 1);
        r = read(out[0], line + len, sizeof line - 1 - len);
        assert_true(r > 0); /* it exited without its line */
        len += (size_t)r;
    }
    line[len] = '\0';
    close(out[0]);
    assert_int_equal(field(line, "pid="), t->pid);
    t->marker = field(line, "marker=");
    t->marker_len = field(line, "marker_len=");
    assert_int_equal(t->marker_len, strlen(OSI_MARKER));
    t->tids[0] = (uint32_t)field(line, "tids=");
    t->tids[1] = (uint32_t)field(strchr(strstr(line, "tids="), ',') + 1, "");
    t->tids[2] = (uint32_t)field(strrchr(line, ',') + 1, "");
}

void target_stop(struct target *t)
{
    int status;
    if (t->in >= 0)
        close(t->in);
    t->in = -1;
    if (t->pid > 0 && !t->reaped) {
        assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
        t->reaped = 1;
    }
}

tenon_t *osi_open(void)
{
    static const char *const dirs[] = {TEST_EXAMPLE_DIR};
    struct tenon_options o;
    tenon_t *t = NULL;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = 1;
    o.trust = TENON_TRUST_OFF;
    o.no_cache = 1;
    o.log_level = TENON_LOG_ERROR;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

void maps_add(struct maps *s, const struct tenon_osi_mapping *m)
{
    struct mapping_copy *c;
    assert_true(m->struct_size >= sizeof *m);
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    assert_non_null(s->v);
    c = &s->v[s->n++];
    c->start = m->start;
    c->end = m->end;
    c->offset = m->offset;
    c->inode = m->inode;
    c->prot = m->prot;
    c->flags = m->flags;
    c->dev_major = m->dev_major;
    c->dev_minor = m->dev_minor;
    assert_non_null(m->path);
    assert_true(strlen(m->path) < sizeof c->path);
    strcpy(c->path, m->path);
}

void maps_free(struct maps *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int on_map(void *ud, const struct tenon_osi_mapping *m)
{
    maps_add(ud, m);
    return 0;
}

/* Readable by both process_vm_readv and /proc/PID/mem: a readable mapping
 * of memory (not the kernel's [vvar] or [vsyscall] pages). */
static int plain(const struct mapping_copy *m)
{
    if (!(m->prot & TENON_PROT_READ))
        return 0;
    if (m->path[0] != '[')
        return 1;
    return strcmp(m->path, "[stack]") == 0 || strcmp(m->path, "[heap]") == 0;
}

void check_read_off_the_end(const struct tenon_osi_v1 *osi, void *obj,
                            const struct tenon_memory_v1 *vt, void *mem,
                            uint32_t pid)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    struct maps s = {0};
    int edges = 0, joins = 0;
    char *buf = malloc(8 * page);
    size_t done;

    assert_non_null(buf);
    assert_int_equal(osi->mappings(obj, pid, on_map, &s), 0);
    for (size_t i = 0; i < s.n; i++) {
        const struct mapping_copy *m = &s.v[i];
        int gap_after = i + 1 == s.n || s.v[i + 1].start > m->end;
        if (!plain(m) || m->end - m->start < 4 * page)
            continue;
        if (gap_after && m->inode == 0) {
            /* From 3 pages and 5 bytes before the end, 6 pages asked. */
            done = 0;
            assert_int_equal(
                vt->read(mem, m->end - 3 * page - 5, buf, 6 * page, &done), 0);
            assert_int_equal(done, 3 * page + 5);
            assert_int_equal(vt->read(mem, m->end - 1, buf, 2, &done), 0);
            assert_int_equal(done, 1);
            assert_int_equal(vt->read(mem, m->end, buf, 2, &done), 0);
            assert_int_equal(done, 0);
            edges++;
        }
        if (i + 1 < s.n && s.v[i + 1].start == m->end && plain(&s.v[i + 1]) &&
            s.v[i + 1].end - s.v[i + 1].start >= page) {
            assert_int_equal(
                vt->read(mem, m->end - 2 * page - 3, buf, 3 * page, &done), 0);
            assert_int_equal(done, 3 * page);
            joins++;
        }
    }
    /* Its stack at least ends at a gap; its libraries' segments join. */
    assert_true(edges >= 1);
    assert_true(joins >= 1);
    maps_free(&s);
    free(buf);
}
