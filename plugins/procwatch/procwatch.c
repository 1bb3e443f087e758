/*
 * procwatch - process start and exit events from any tenon.osi/1 provider
 * (its input: native for the running system), found by comparing one
 * listing of the processes with the next, every `interval` milliseconds.
 *
 *     tenon run -s procwatch:interval=50 -f 'proc.event = start'
 *
 * Each event's payload is a small record this file defines (record_write,
 * record_read; plugins/README.md documents it), so that a capture read
 * elsewhere needs no OS to say what happened; the extractor reads any
 * record as hostile.
 */
#include <tenon/event.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

TENON_PLUGIN_INFO("procwatch", "0.1.0",
    TENON_DESCRIPTION("Process start and exit events from an operating "
                      "system instance")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("none")
    TENON_ACCEPTS(TENON_OSI_ID)
    TENON_PROVIDES(TENON_SOURCE_ID)
    TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_HELP("Lists the input's processes every interval milliseconds and "
               "emits an event for each process that started or exited "
               "since the last look (one that starts and exits between two "
               "looks goes unseen; a pid reused counts as an exit and a "
               "start). The processes running at open are not reported.\n"
               "Fields: proc.event (start, exit), proc.pid, proc.ppid, "
               "proc.uid, proc.name, proc.exe, proc.cmdline, "
               "proc.start_time.")
    TENON_ARG_INT_RANGE("interval", "1", "60000", "100",
                        "milliseconds between two looks"));

#define MAX_PROCS   (1u << 20) /* processes a capture keeps at most */
#define MAX_TEXT    4096u      /* bytes of exe and of cmdline kept */
#define BATCH       512u
#define MAX_SLEEP   50000000ull /* ns next_batch() sleeps at most */
#define REC_VERSION 1u
#define REC_FIXED   28u /* version .. start_time_ns */

enum { KIND_START = 1, KIND_EXIT = 2 };

/* ---- the payload record -------------------------------------------------- */

struct record {
    uint32_t version, kind, pid, ppid, uid;
    uint64_t start_ns;
    struct tenon_bytes name, exe, cmdline;
};

static size_t record_size(const struct record *r)
{
    return REC_FIXED + 12 + r->name.len + r->exe.len + r->cmdline.len;
}

static unsigned char *put_bytes(unsigned char *p, const struct tenon_bytes *b)
{
    memcpy(p, &b->len, 4);
    if (b->len)
        memcpy(p + 4, b->ptr, b->len);
    return p + 4 + b->len;
}

/* Little-endian, as the only architecture Tenon runs on. */
static void record_write(unsigned char *p, const struct record *r)
{
    uint32_t head[5] = {REC_VERSION, r->kind, r->pid, r->ppid, r->uid};
    memcpy(p, head, 20);
    memcpy(p + 20, &r->start_ns, 8);
    p = put_bytes(p + REC_FIXED, &r->name);
    p = put_bytes(p, &r->exe);
    put_bytes(p, &r->cmdline);
}

static int get_bytes(const unsigned char *b, uint32_t len, uint32_t *off,
                     struct tenon_bytes *out)
{
    if (len - *off < 4)
        return -1;
    memcpy(&out->len, b + *off, 4);
    *off += 4;
    if (out->len > len - *off)
        return -1;
    out->ptr = b + *off;
    *off += out->len;
    return 0;
}

/* Parse a payload; NULL, or what is wrong with it. */
static const char *record_read(const struct tenon_bytes *pl, struct record *r)
{
    const unsigned char *b = pl->ptr;
    uint32_t off = REC_FIXED;
    uint32_t head[5];

    if (pl->len < REC_FIXED)
        return "shorter than its fixed part";
    memcpy(head, b, 20);
    memcpy(&r->start_ns, b + 20, 8);
    r->version = head[0];
    r->kind = head[1];
    r->pid = head[2];
    r->ppid = head[3];
    r->uid = head[4];
    if (r->version != REC_VERSION)
        return "an unknown version";
    if (r->kind != KIND_START && r->kind != KIND_EXIT)
        return "an unknown kind of event";
    if (get_bytes(b, pl->len, &off, &r->name) ||
        get_bytes(b, pl->len, &off, &r->exe) ||
        get_bytes(b, pl->len, &off, &r->cmdline))
        return "a string running past its end";
    if (off != pl->len)
        return "bytes after its last string";
    return NULL;
}

/* ---- the process table --------------------------------------------------- */

/* One process as last seen; `text` holds name, exe and cmdline, each with
 * its NUL. */
struct entry {
    uint32_t pid, ppid, uid;
    uint32_t name_len, exe_len, cmd_len;
    uint64_t start_ns;
    char *text;
};

struct table {
    struct entry *v;
    size_t n, cap;
};

struct tenon_capture {
    struct table tab;
    uint64_t due;         /* CLOCK_MONOTONIC ns of the next look */
    unsigned char *arena; /* the records of the last look */
    size_t used, arena_cap;
    size_t *offs, nevt, offs_cap, sent;
    const struct tenon_event *batch[BATCH];
};

struct pw {
    const struct tenon_host *host;
    struct tenon_instance *self;
    const struct tenon_osi_v1 *osi;
    void *osi_obj;
    uint64_t interval_ns;
    struct tenon_capture *cap;
    /* What extract() returned last. */
    const char **strs;
    uint64_t *nums;
    size_t slots;
    char *scratch;
    size_t scratch_cap;
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].text);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* argv joined with spaces, at most MAX_TEXT bytes, into `out`. */
static size_t join_args(const struct tenon_osi_process *p, char *out)
{
    size_t n = 0;
    for (size_t i = 0; p->argv && i < p->argc && n < MAX_TEXT; i++) {
        size_t l = strlen(p->argv[i]);
        if (i)
            out[n++] = ' ';
        if (l > MAX_TEXT - n)
            l = MAX_TEXT - n;
        memcpy(out + n, p->argv[i], l);
        n += l;
    }
    if (n > MAX_TEXT)
        n = MAX_TEXT;
    out[n] = 0;
    return n;
}

/* Fill `e` from `p`: the basic fields, and exe and cmdline when `full`. */
static int entry_set(struct entry *e, const struct tenon_osi_process *p,
                     int full)
{
    char cmd[MAX_TEXT + 1];
    const char *name = p->name ? p->name : "";
    const char *exe = full && p->exe ? p->exe : "";
    size_t nl = strnlen(name, 255), el = strnlen(exe, MAX_TEXT);
    size_t cl = full ? join_args(p, cmd) : 0;
    char *t = malloc(nl + el + cl + 3);

    if (!t)
        return TENON_ENOMEM;
    memcpy(t, name, nl);
    t[nl] = 0;
    memcpy(t + nl + 1, exe, el);
    t[nl + 1 + el] = 0;
    memcpy(t + nl + el + 2, cmd, cl);
    t[nl + el + 2 + cl] = 0;
    free(e->text);
    e->text = t;
    e->pid = p->pid;
    e->ppid = p->ppid;
    e->uid = p->uid;
    e->start_ns = p->start_time_ns;
    e->name_len = (uint32_t)nl;
    e->exe_len = (uint32_t)el;
    e->cmd_len = (uint32_t)cl;
    return 0;
}

struct listing {
    struct table *t;
    int full, rc;
};

static int list_one(void *ud, const struct tenon_osi_process *p)
{
    struct listing *l = ud;
    struct table *t = l->t;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct entry *v;
        if (t->n >= MAX_PROCS) {
            l->rc = TENON_ERANGE;
            return 1;
        }
        if (!(v = realloc(t->v, cap * sizeof *v))) {
            l->rc = TENON_ENOMEM;
            return 1;
        }
        t->v = v;
        t->cap = cap;
    }
    memset(&t->v[t->n], 0, sizeof *t->v);
    if ((l->rc = entry_set(&t->v[t->n], p, l->full)))
        return 1;
    t->n++;
    return 0;
}

static int list_all(struct pw *w, struct table *t, int full)
{
    struct listing l = {t, full, 0};
    int rc = w->osi->processes(w->osi_obj, full ? TENON_OSI_PROC_ALL : 0,
                               list_one, &l);
    if (l.rc == TENON_ERANGE)
        w->host->set_error(w->self,
                           "more than %u processes; procwatch watches at "
                           "most that many",
                           MAX_PROCS);
    else if (l.rc == TENON_ENOMEM)
        w->host->set_error(w->self, "listing the processes: out of memory");
    else if (rc < 0)
        w->host->set_error(w->self, "listing the processes: %s",
                           TENON_HOST_HAS(w->host, last_error) &&
                                   w->host->last_error
                               ? w->host->last_error()
                               : "the input failed");
    if (l.rc)
        return l.rc;
    return rc < 0 ? rc : 0;
}

/* ---- events -------------------------------------------------------------- */

/* The header and parameters of a plugin event whose `size` payload bytes
 * the caller writes after them, in place. */
static void event_head(unsigned char *ev, uint64_t ts, uint32_t size)
{
    struct tenon_event h = {ts, UINT64_MAX, tenon_event_plugin_size(size),
                            TENON_EVENT_PLUGIN, 2};
    uint32_t params[3] = {4, size, 0}; /* lengths, then plugin_id 0 */
    memcpy(ev, &h, TENON_EVENT_HEADER_SIZE);
    memcpy(ev + TENON_EVENT_HEADER_SIZE, params, 12);
}

static int emit(struct tenon_capture *c, uint64_t ts, uint32_t kind,
                const struct entry *e)
{
    struct record r;
    size_t need;
    r.kind = kind;
    r.pid = e->pid;
    r.ppid = e->ppid;
    r.uid = e->uid;
    r.start_ns = e->start_ns;
    r.name = (struct tenon_bytes){e->name_len, e->text};
    r.exe = (struct tenon_bytes){e->exe_len, e->text + e->name_len + 1};
    r.cmdline = (struct tenon_bytes){e->cmd_len,
                                     e->text + e->name_len + e->exe_len + 2};
    need =
        (tenon_event_plugin_size((uint32_t)record_size(&r)) + 7) & ~(size_t)7;
    if (c->arena_cap - c->used < need) {
        size_t cap = c->arena_cap ? c->arena_cap * 2 : 65536;
        unsigned char *a;
        while (cap - c->used < need)
            cap *= 2;
        if (!(a = realloc(c->arena, cap)))
            return TENON_ENOMEM;
        c->arena = a;
        c->arena_cap = cap;
    }
    if (c->nevt == c->offs_cap) {
        size_t cap = c->offs_cap ? c->offs_cap * 2 : 256;
        size_t *o = realloc(c->offs, cap * sizeof *o);
        if (!o)
            return TENON_ENOMEM;
        c->offs = o;
        c->offs_cap = cap;
    }
    event_head(c->arena + c->used, ts, (uint32_t)record_size(&r));
    record_write(c->arena + c->used + tenon_event_plugin_size(0), &r);
    c->offs[c->nevt++] = c->used;
    c->used += need;
    return 0;
}

/* A process seen for the first time: its exe, cmdline and uid too. */
static int fill_new(struct pw *w, struct entry *e)
{
    struct tenon_osi_process *p;
    int rc;
    if (w->osi->process(w->osi_obj, e->pid, &p))
        return 0; /* gone already: what the listing said will do */
    if (p->start_time_ns == e->start_ns)
        rc = entry_set(e, p, 1);
    else
        rc = 0; /* another process took the pid since the listing */
    w->osi->process_free(w->osi_obj, p);
    return rc;
}

/* Compare the last look `old` with `now` (both by ascending pid), emit
 * the differences, and leave in `now` what the next look compares with. */
static int diff(struct pw *w, struct table *old, struct table *now)
{
    struct tenon_capture *c = w->cap;
    uint64_t ts = clock_ns(CLOCK_REALTIME);
    size_t i = 0, k = 0;
    int rc = 0;

    while (!rc && (i < old->n || k < now->n)) {
        struct entry *o = i < old->n ? &old->v[i] : NULL;
        struct entry *e = k < now->n ? &now->v[k] : NULL;
        if (o && (!e || o->pid < e->pid)) {
            rc = emit(c, ts, KIND_EXIT, o);
            i++;
        } else if (o && o->pid == e->pid && o->start_ns == e->start_ns) {
            /* Still there: keep what was learnt of it, with its new
             * parent (a process whose parent exits is re-parented). */
            uint32_t ppid = e->ppid;
            free(e->text);
            *e = *o;
            e->ppid = ppid;
            o->text = NULL;
            i++;
            k++;
        } else {
            if (o && o->pid == e->pid) { /* the pid was reused */
                rc = emit(c, ts, KIND_EXIT, o);
                i++;
            }
            if (!rc && !(rc = fill_new(w, e)))
                rc = emit(c, ts, KIND_START, e);
            k++;
        }
    }
    return rc;
}

/* ---- the source ---------------------------------------------------------- */

static const char *pw_event_source(void *obj)
{
    (void)obj;
    return "procwatch";
}

static void capture_free(struct tenon_capture *c)
{
    table_free(&c->tab);
    free(c->arena);
    free(c->offs);
    free(c);
}

static int pw_open(void *obj, const char *params, struct tenon_capture **out)
{
    struct pw *w = obj;
    struct tenon_capture *c;
    int rc;

    if (params && params[0]) {
        w->host->set_error(
            w->self, "procwatch takes no open parameters (got '%s')", params);
        return TENON_EINVAL;
    }
    if (w->cap) {
        w->host->set_error(w->self, "a capture is already open; close it "
                                    "first");
        return TENON_EBUSY;
    }
    if (!(c = calloc(1, sizeof *c)))
        return TENON_ENOMEM;
    w->cap = c;
    /* The processes running now are the baseline, not events; full
     * details, since they are what their exit events will say. */
    if ((rc = list_all(w, &c->tab, 1))) {
        w->cap = NULL;
        capture_free(c);
        return rc;
    }
    c->due = clock_ns(CLOCK_MONOTONIC) + w->interval_ns;
    *out = c;
    return 0;
}

static void pw_close(void *obj, struct tenon_capture *c)
{
    struct pw *w = obj;
    if (w->cap == c)
        w->cap = NULL;
    capture_free(c);
}

/* Look at the processes again and queue the differences. */
static int look(struct pw *w, struct tenon_capture *c)
{
    struct table now = {NULL, 0, 0};
    int rc;

    c->used = c->nevt = c->sent = 0;
    if ((rc = list_all(w, &now, 0)) || (rc = diff(w, &c->tab, &now))) {
        table_free(&now);
        c->nevt = 0;
        return rc;
    }
    table_free(&c->tab);
    c->tab = now;
    return 0;
}

static int pw_next_batch(void *obj, struct tenon_capture *c, uint32_t *n,
                         const struct tenon_event *const **evts)
{
    struct pw *w = obj;
    uint64_t now;
    uint32_t k = 0;
    int rc;

    *n = 0;
    if (c->sent == c->nevt) {
        now = clock_ns(CLOCK_MONOTONIC);
        if (now < c->due) {
            /* Not due: wait a little so that the host does not spin,
             * never long enough to hold up its other work. */
            uint64_t wait = c->due - now < MAX_SLEEP ? c->due - now : MAX_SLEEP;
            struct timespec ts = {(time_t)(wait / 1000000000u),
                                  (long)(wait % 1000000000u)};
            nanosleep(&ts, NULL);
            if ((now = clock_ns(CLOCK_MONOTONIC)) < c->due)
                return TENON_EAGAIN;
        }
        c->due = now + w->interval_ns;
        if ((rc = look(w, c)))
            return rc;
        if (c->nevt == 0)
            return TENON_EAGAIN;
    }
    while (k < BATCH && c->sent < c->nevt)
        c->batch[k++] =
            (const struct tenon_event *)(c->arena + c->offs[c->sent++]);
    *n = k;
    *evts = c->batch;
    return 0;
}

static const struct tenon_source_v1 source_vt = {
    .struct_size = sizeof source_vt,
    .plugin_id = 0,
    .event_source = pw_event_source,
    .open = pw_open,
    .next_batch = pw_next_batch,
    .close = pw_close,
    .progress = NULL,
};

/* ---- the extractor ------------------------------------------------------- */

enum {
    F_EVENT,
    F_PID,
    F_PPID,
    F_UID,
    F_NAME,
    F_EXE,
    F_CMDLINE,
    F_START,
    F_COUNT
};

static const struct tenon_field fields[F_COUNT] = {
    {"proc.event", TENON_FIELD_STRING, 0, "Event",
     "What happened: start or exit."},
    {"proc.pid", TENON_FIELD_U64, 0, "PID", "The process id."},
    {"proc.ppid", TENON_FIELD_U64, 0, "Parent PID",
     "The parent's process id (0: none)."},
    {"proc.uid", TENON_FIELD_U64, 0, "UID",
     "The real user id; absent when not known."},
    {"proc.name", TENON_FIELD_STRING, 0, "Name",
     "The short name (Linux: comm)."},
    {"proc.exe", TENON_FIELD_STRING, 0, "Executable",
     "The executable's path; absent when not known (a kernel thread)."},
    {"proc.cmdline", TENON_FIELD_STRING, 0, "Command line",
     "The arguments joined with spaces, at most 4096 bytes; absent when "
     "not known."},
    {"proc.start_time", TENON_FIELD_ABSTIME, 0, "Start time",
     "When the process started; absent when not known."},
};

static const struct tenon_field *pw_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = F_COUNT;
    return fields;
}

/* Copy `b` to `out` as UTF-8 text: a byte that starts no valid sequence
 * (or is NUL) becomes '?', so the copy is as long as `b`. */
static char *utf8_copy(char *out, const struct tenon_bytes *b)
{
    const unsigned char *s = b->ptr;
    size_t i = 0, n = b->len;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        int ok = len && c != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if (ok && len == 3)
            ok = !(c == 0xe0 && s[i + 1] < 0xa0) &&
                 !(c == 0xed && s[i + 1] >= 0xa0);
        if (ok && len == 4)
            ok = !(c == 0xf0 && s[i + 1] < 0x90) &&
                 !(c == 0xf4 && s[i + 1] >= 0x90);
        if (!ok) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s + i, len);
        i += len;
    }
    out[n] = 0;
    return out;
}

static int pw_extract(void *obj, const struct tenon_event_input *ev, uint32_t n,
                      struct tenon_extract_field *fs)
{
    struct pw *w = obj;
    struct tenon_bytes pl;
    struct record r;
    const char *bad;
    char *s;

    for (uint32_t i = 0; i < n; i++)
        fs[i].res_len = 0;
    if (tenon_event_payload(ev->evt, &pl))
        return 0; /* not a plugin event: nothing of ours */
    if ((bad = record_read(&pl, &r))) {
        w->host->set_error(w->self,
                           "event %llu: its payload (%u bytes) is not a "
                           "procwatch record: %s",
                           (unsigned long long)ev->evtnum, (unsigned)pl.len,
                           bad);
        return TENON_EINVAL;
    }
    if (n > w->slots) {
        const char **sv = realloc(w->strs, n * sizeof *sv);
        uint64_t *nv;
        if (sv)
            w->strs = sv;
        if (!sv || !(nv = realloc(w->nums, n * sizeof *nv)))
            return TENON_ENOMEM;
        w->nums = nv;
        w->slots = n;
    }
    if (pl.len + 3 > w->scratch_cap) {
        char *p = realloc(w->scratch, pl.len + 3);
        if (!p)
            return TENON_ENOMEM;
        w->scratch = p;
        w->scratch_cap = pl.len + 3;
    }
    s = w->scratch;
    for (uint32_t i = 0; i < n; i++) {
        struct tenon_extract_field *f = &fs[i];
        uint32_t slot = i;
        const struct tenon_bytes *text = NULL;
        uint64_t num = 0;
        int has_num = 0;
        switch (f->field_id) {
        case F_EVENT:
            w->strs[slot] = r.kind == KIND_START ? "start" : "exit";
            break;
        case F_PID: num = r.pid, has_num = 1; break;
        case F_PPID: num = r.ppid, has_num = 1; break;
        case F_UID:
            if (r.uid == TENON_OSI_UNKNOWN)
                continue;
            num = r.uid, has_num = 1;
            break;
        case F_START:
            if (!r.start_ns)
                continue;
            num = r.start_ns, has_num = 1;
            break;
        case F_NAME: text = &r.name; break;
        case F_EXE: text = &r.exe; break;
        case F_CMDLINE: text = &r.cmdline; break;
        default:
            w->host->set_error(w->self, "no field %u; procwatch has %u",
                               f->field_id, F_COUNT);
            return TENON_EINVAL;
        }
        if (text) {
            if (f->field_id != F_NAME && text->len == 0)
                continue;
            /* Each string once per call at most, so scratch suffices. */
            w->strs[slot] =
                utf8_copy(s + (text == &r.name  ? 0
                               : text == &r.exe ? r.name.len + 1
                                                : r.name.len + r.exe.len + 2),
                          text);
        }
        if (has_num) {
            w->nums[slot] = num;
            f->res.u64 = &w->nums[slot];
        } else
            f->res.str = &w->strs[slot];
        f->res_len = 1;
    }
    return 0;
}

static const struct tenon_extract_v1 extract_vt = {
    .struct_size = sizeof extract_vt,
    .fields = pw_fields,
    .extract = pw_extract,
    .event_types = NULL,
    .event_sources = NULL,
};

/* ---- the instance -------------------------------------------------------- */

static int pw_create(const struct tenon_host *host, struct tenon_instance *self,
                     const struct tenon_args *args,
                     struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *iv = tenon_arg(args, "interval");
    struct pw *w;

    if (!iv || iv->i < 1 || iv->i > 60000) {
        host->set_error(self,
                        "interval=%s: expected 1 to 60000 "
                        "milliseconds",
                        iv ? iv->str : "");
        return TENON_ERANGE;
    }
    if (!(w = calloc(1, sizeof *w)))
        return TENON_ENOMEM;
    w->host = host;
    w->self = self;
    w->interval_ns = (uint64_t)iv->i * 1000000u;
    w->osi =
        input ? host->get_interface(input, TENON_OSI_ID, &w->osi_obj) : NULL;
    if (!w->osi ||
        w->osi->struct_size < offsetof(struct tenon_osi_v1, process_free) +
                                  sizeof w->osi->process_free) {
        host->set_error(self,
                        "procwatch needs an operating system as its "
                        "input (an instance providing %s, such as "
                        "native)",
                        TENON_OSI_ID);
        free(w);
        return TENON_EINVAL;
    }
    *obj = w;
    return 0;
}

static void pw_destroy(void *obj)
{
    struct pw *w = obj;
    if (w->cap)
        capture_free(w->cap);
    free(w->scratch);
    free(w->strs);
    free(w->nums);
    free(w);
}

static const void *pw_get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TENON_SOURCE_ID) == 0)
        return &source_vt;
    if (strcmp(id, TENON_EXTRACT_ID) == 0)
        return &extract_vt;
    return NULL;
}

TENON_PLUGIN_ENTRY(pw_create, pw_destroy, pw_get_interface, NULL);
