/*
 * jsonl - events from a JSON-lines file or standard input, one per line,
 * and the fields json.value[/pointer], json.number[/pointer], json.type
 * and json.rawtext of them (Falco's json plugin, with RFC 6901 pointers).
 *
 *     tenon run -s jsonl --open access.jsonl -f 'json.number[/size] > 5000'
 *
 * Each line is parsed once, by the source, which must tell JSON from the
 * rest anyway; the roots of a batch stay until the next batch, so the
 * extractor finds them by the event's record instead of parsing again.
 * Events of another instance's capture are parsed on demand.
 */
#include "lines.h"

#include <tenon/event.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TENON_PLUGIN_INFO("jsonl", "0.1.0",
    TENON_DESCRIPTION("Events from JSON-lines files or standard input, and "
                      "JSON fields of them")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("log")
    TENON_PROVIDES(TENON_SOURCE_ID)
    TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_PROVIDES(TENON_METRICS_ID)
    TENON_HELP("Open a file (--open FILE), or standard input (no file, or "
               "-). Each line holding a JSON value is an event whose "
               "payload is the line; empty lines are skipped; other lines "
               "are counted in the metric jsonl.malformed and the first is "
               "logged.\nFields: json.value[/a/0/b] (RFC 6901 pointer; a "
               "string's text, or compact JSON), json.number[/ptr] "
               "(integers only), json.type[/ptr], json.rawtext.")
    TENON_ARG_INT_RANGE("maxline", "16", "1g", "64m",
                        "longest line in bytes; a longer one is skipped "
                        "and counted as malformed"));

#define BLOCK       (1u << 20) /* bytes per read */
#define BATCH       512u       /* events per batch at most */
#define BATCH_BYTES (4u << 20) /* record bytes per batch, past one event */
/* Input bytes one next_batch() reads at most, so an input without events
 * (/dev/zero) still returns to the host now and then. */
#define READ_BUDGET (16u << 20)

enum { F_VALUE, F_NUMBER, F_TYPE, F_RAWTEXT, F_COUNT };

static const struct tenon_field fields[F_COUNT] = {
    {"json.value", TENON_FIELD_STRING,
     TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_KEY, "JSON value",
     "The value at an RFC 6901 pointer, e.g. json.value[/user/name]: a "
     "string's text, any other value as compact JSON."},
    {"json.number", TENON_FIELD_I64, TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_KEY,
     "JSON integer",
     "The integer at an RFC 6901 pointer; absent when the value there is "
     "not an integer."},
    {"json.type", TENON_FIELD_STRING, TENON_FIELD_ARG_KEY, "JSON type",
     "The JSON Schema type (object, array, string, integer, number, boolean, "
     "null) of the value at a pointer, or of the whole line without one."},
    {"json.rawtext", TENON_FIELD_STRING, 0, "JSON text",
     "The whole line, as read."},
};

struct tenon_capture {
    int fd, own_fd;
    char *name;    /* the file, or "standard input", for messages */
    uint64_t size; /* of a regular file; 0 when not known */
    struct lines lines;
    uint64_t ts;          /* when the bytes being split were read */
    int pending;          /* a read error (-errno) to report on the next call */
    int warned;           /* the first malformed line was logged */
    unsigned char *arena; /* this batch's records */
    size_t arena_used, arena_cap;
    size_t offs[BATCH];
    const struct tenon_event *evts[BATCH];
    json_t *roots[BATCH];
    uint32_t n;
    char text[64];
};

struct jsonl {
    const struct tenon_host *host;
    struct tenon_instance *self;
    size_t maxline;
    struct tenon_capture *cap;
    _Atomic uint64_t lines, bytes, malformed;
    struct tenon_metric metrics[3];
    /* The last event parsed for extraction that was not one of this
     * instance's batch. */
    const struct tenon_event *other;
    struct tenon_event other_head; /* a host may reuse its buffer */
    uint64_t other_num;
    json_t *other_root;
    /* What extract() returned last: freed by the next call. */
    const char **strs;
    int64_t *nums;
    size_t slots;
    char **owned;
    size_t nowned, owned_cap;
};

/* ---- the source ---------------------------------------------------------- */

static const char *jsonl_event_source(void *obj)
{
    (void)obj;
    return "jsonl";
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Events take the time their bytes were read. */
static long read_fd(void *ud, char *buf, size_t len)
{
    struct tenon_capture *c = ud;
    ssize_t got = read(c->fd, buf, len);
    if (got < 0)
        return -errno;
    c->ts = now_ns();
    return got;
}

static void capture_free(struct tenon_capture *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        json_decref(c->roots[i]);
    if (c->own_fd)
        close(c->fd);
    lines_free(&c->lines);
    free(c->arena);
    free(c->name);
    free(c);
}

static int open_file(struct jsonl *p, struct tenon_capture *c, const char *path)
{
    struct stat st;
    if ((c->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        p->host->set_error(p->self, "%s: %s; expected a JSON-lines file", path,
                           strerror(errno));
        return errno == ENOENT ? TENON_ENOENT : TENON_EIO;
    }
    c->own_fd = 1;
    if (fstat(c->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        p->host->set_error(p->self,
                           "%s is a directory; expected a JSON-lines file "
                           "(or - for standard input)",
                           path);
        return TENON_EINVAL;
    }
    if (S_ISREG(st.st_mode)) {
        c->size = (uint64_t)st.st_size;
        posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    return 0;
}

static int jsonl_open(void *obj, const char *params, struct tenon_capture **out)
{
    struct jsonl *p = obj;
    struct tenon_capture *c;
    int stdin_ = !params || !params[0] || strcmp(params, "-") == 0;
    int rc;

    if (p->cap) {
        p->host->set_error(p->self, "a capture is already open; close it "
                                    "first");
        return TENON_EBUSY;
    }
    if (!(c = calloc(1, sizeof *c)) ||
        !(c->name = strdup(stdin_ ? "standard input" : params))) {
        free(c);
        return TENON_ENOMEM;
    }
    lines_init(&c->lines, p->maxline, BLOCK);
    if (stdin_)
        c->fd = 0;
    else if ((rc = open_file(p, c, params))) {
        capture_free(c);
        return rc;
    }
    c->ts = now_ns();
    p->cap = *out = c;
    return 0;
}

static void jsonl_close(void *obj, struct tenon_capture *c)
{
    struct jsonl *p = obj;
    if (p->cap == c)
        p->cap = NULL;
    capture_free(c);
}

/* Log the first malformed line of a capture; count them all. */
static void malformed(struct jsonl *p, struct tenon_capture *c, const char *fmt,
                      ...) TENON_PRINTF(3, 4);

static void malformed(struct jsonl *p, struct tenon_capture *c, const char *fmt,
                      ...)
{
    char why[300];
    va_list ap;
    atomic_fetch_add_explicit(&p->malformed, 1, memory_order_relaxed);
    if (c->warned)
        return;
    c->warned = 1;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    p->host->log(p->self, TENON_LOG_WARN,
                 "%s: line %llu: %s; later malformed lines are only counted "
                 "in the metric jsonl.malformed",
                 c->name, (unsigned long long)c->lines.lineno, why);
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Append an event with the line as its payload, and a NUL after the
 * record so that json.rawtext can point at it. */
static int add_event(struct tenon_capture *c, const char *line, size_t len,
                     json_t *root)
{
    size_t need =
        ((size_t)tenon_event_plugin_size((uint32_t)len) + 1 + 7) & ~(size_t)7;
    if (c->arena_cap - c->arena_used < need) {
        size_t cap = c->arena_cap ? c->arena_cap : BATCH_BYTES;
        unsigned char *a;
        while (cap - c->arena_used < need)
            cap *= 2;
        if (!(a = realloc(c->arena, cap)))
            return TENON_ENOMEM;
        c->arena = a;
        c->arena_cap = cap;
    }
    tenon_event_plugin_write(c->arena + c->arena_used, c->ts, 0, line,
                             (uint32_t)len);
    c->arena[c->arena_used + tenon_event_plugin_size((uint32_t)len)] = 0;
    c->offs[c->n] = c->arena_used;
    c->roots[c->n++] = root;
    c->arena_used += need;
    return 0;
}

/* One line the splitter returned: an event, or a malformed line. */
static int take_line(struct jsonl *p, struct tenon_capture *c, int kind,
                     const char *line, size_t len)
{
    json_error_t err;
    json_t *root;
    int rc;

    atomic_fetch_add_explicit(&p->lines, 1, memory_order_relaxed);
    if (kind == LINES_LONG) {
        malformed(p, c, "longer than maxline (%zu bytes)", p->maxline);
        return 0;
    }
    if (blank(line, len))
        return 0;
    root = json_loadb(line, len, JSON_DECODE_ANY, &err);
    if (!root) {
        malformed(p, c, "%s (jansson: %s, at column %d)",
                  kind == LINES_CUT ? "cut short (no newline at the end of "
                                      "the input) and not JSON"
                                    : "not JSON",
                  err.text, err.column);
        return 0;
    }
    if ((rc = add_event(c, line, len, root)))
        json_decref(root);
    return rc;
}

/* Read more, or say why the batch ends here: 1 to end it, or a code. */
static int refill(struct jsonl *p, struct tenon_capture *c, size_t *budget)
{
    int rc;
    if (*budget >= READ_BUDGET)
        return 1;
    *budget += BLOCK;
    rc = lines_fill(&c->lines, read_fd, c);
    if (rc == -EINTR) /* a signal: let the host look at its stop flag */
        return 1;
    if (rc == -EAGAIN || rc == -EWOULDBLOCK)
        return c->n ? 1 : TENON_EAGAIN;
    if (rc == -ENOMEM)
        return TENON_ENOMEM;
    if (rc < 0) {
        if (c->n) { /* deliver what came before it first */
            c->pending = rc;
            return 1;
        }
        p->host->set_error(p->self, "reading %s: %s", c->name, strerror(-rc));
        return TENON_EIO;
    }
    return 0;
}

static int jsonl_next_batch(void *obj, struct tenon_capture *c, uint32_t *n,
                            const struct tenon_event *const **evts)
{
    struct jsonl *p = obj;
    uint64_t before = c->lines.consumed;
    size_t budget = 0;
    int rc = 0;

    for (uint32_t i = 0; i < c->n; i++)
        json_decref(c->roots[i]);
    c->n = 0;
    c->arena_used = 0;
    *n = 0;
    if (c->pending) {
        p->host->set_error(p->self, "reading %s: %s", c->name,
                           strerror(-c->pending));
        return TENON_EIO;
    }
    while (c->n < BATCH && (c->n == 0 || c->arena_used < BATCH_BYTES)) {
        const char *line = NULL;
        size_t len = 0;
        int kind = lines_next(&c->lines, &line, &len);
        if (kind == LINES_END) {
            if (c->n == 0)
                rc = TENON_EEOF;
            break;
        }
        if (kind == LINES_MORE) {
            if ((rc = refill(p, c, &budget)))
                break;
            continue;
        }
        if ((rc = take_line(p, c, kind, line, len)))
            break;
    }
    atomic_fetch_add_explicit(&p->bytes, c->lines.consumed - before,
                              memory_order_relaxed);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < c->n; i++)
        c->evts[i] = (const struct tenon_event *)(c->arena + c->offs[i]);
    *n = c->n;
    *evts = c->evts;
    return 0;
}

/* "12.3 MiB" */
static void human(char *buf, size_t len, uint64_t v)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = -1;
    if (v < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)v);
        return;
    }
    while (d >= 1024 && u < 3) {
        d /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", d, unit[u]);
}

static double jsonl_progress(void *obj, struct tenon_capture *c,
                             const char **text)
{
    char done[24], all[24];
    (void)obj;
    human(done, sizeof done, c->lines.consumed);
    if (!c->size) {
        snprintf(c->text, sizeof c->text, "%s read", done);
        *text = c->text;
        return -1;
    }
    human(all, sizeof all, c->size);
    snprintf(c->text, sizeof c->text, "%s of %s", done, all);
    *text = c->text;
    return c->lines.consumed >= c->size
               ? 1.0
               : (double)c->lines.consumed / (double)c->size;
}

static const struct tenon_source_v1 source_vt = {
    .struct_size = sizeof source_vt,
    .plugin_id = 0,
    .event_source = jsonl_event_source,
    .open = jsonl_open,
    .next_batch = jsonl_next_batch,
    .close = jsonl_close,
    .progress = jsonl_progress,
};

/* ---- the extractor ------------------------------------------------------- */

static const struct tenon_field *jsonl_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = F_COUNT;
    return fields;
}

static int cmp_evt(const void *key, const void *elt)
{
    uintptr_t a = (uintptr_t)key, b = (uintptr_t) * (const void *const *)elt;
    return a < b ? -1 : a > b;
}

/* The parsed line of `ev`: from this instance's batch when it is one of
 * its records, else parsed now (and kept for the next fields of it).
 * NULL when its payload is not JSON; *own tells whether a NUL follows its
 * payload. */
static json_t *root_of(struct jsonl *p, const struct tenon_event_input *ev,
                       int *own)
{
    struct tenon_capture *c = p->cap;
    struct tenon_bytes b;
    const struct tenon_event *const *hit;

    *own = 0;
    if (c && c->n &&
        (hit = bsearch(ev->evt, c->evts, c->n, sizeof *c->evts, cmp_evt))) {
        *own = 1;
        return c->roots[hit - c->evts];
    }
    if (p->other_root && p->other == ev->evt && p->other_num == ev->evtnum &&
        memcmp(&p->other_head, ev->evt, TENON_EVENT_HEADER_SIZE) == 0)
        return p->other_root;
    json_decref(p->other_root);
    p->other_root = NULL;
    p->other = ev->evt;
    p->other_num = ev->evtnum;
    memcpy(&p->other_head, ev->evt, TENON_EVENT_HEADER_SIZE);
    if (tenon_event_payload(ev->evt, &b) == 0)
        p->other_root = json_loadb(b.ptr, b.len, JSON_DECODE_ANY, NULL);
    return p->other_root;
}

/* Keep `s` (malloc'd) until the next extract call. */
static const char *own_str(struct jsonl *p, char *s)
{
    if (!s)
        return NULL;
    if (p->nowned == p->owned_cap) {
        size_t cap = p->owned_cap ? p->owned_cap * 2 : 16;
        char **v = realloc(p->owned, cap * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        p->owned = v;
        p->owned_cap = cap;
    }
    return p->owned[p->nowned++] = s;
}

static int slots(struct jsonl *p, uint32_t n)
{
    const char **s;
    int64_t *v;
    if (n <= p->slots)
        return 0;
    if (!(s = realloc(p->strs, n * sizeof *s)))
        return TENON_ENOMEM;
    p->strs = s;
    if (!(v = realloc(p->nums, n * sizeof *v)))
        return TENON_ENOMEM;
    p->nums = v;
    p->slots = n;
    return 0;
}

/* The value a field's pointer argument names; NULL when absent. */
static int pointed(struct jsonl *p, json_t *root,
                   const struct tenon_extract_field *f, json_t **out)
{
    const char *ptr = f->arg_key ? f->arg_key : "";
    int bad;
    *out = jptr_get(root, ptr, strlen(ptr), &bad);
    if (bad) {
        p->host->set_error(p->self,
                           "%s[%s]: not a JSON pointer; expected one as RFC "
                           "6901 writes it, e.g. /user/name or /items/0 "
                           "(~0 for ~, ~1 for /)",
                           f->field, ptr);
        return TENON_EINVAL;
    }
    return 0;
}

static int extract_one(struct jsonl *p, json_t *root, int own,
                       const struct tenon_event_input *ev, uint32_t i,
                       struct tenon_extract_field *f)
{
    json_t *v = NULL;
    int rc;

    f->res_len = 0;
    if (f->field_id >= F_COUNT) {
        p->host->set_error(p->self, "no field %u; jsonl has %u", f->field_id,
                           F_COUNT);
        return TENON_EINVAL;
    }
    if (f->field_id != F_RAWTEXT) {
        if ((rc = pointed(p, root, f, &v)))
            return rc;
        if (!v)
            return 0;
    }
    f->res.str = &p->strs[i];
    switch (f->field_id) {
    case F_VALUE:
        p->strs[i] =
            json_is_string(v) ? json_string_value(v) : own_str(p, jptr_text(v));
        break;
    case F_NUMBER:
        if (!json_is_integer(v))
            return 0;
        p->nums[i] = json_integer_value(v);
        f->res.i64 = &p->nums[i];
        break;
    case F_TYPE: p->strs[i] = jptr_type(v); break;
    case F_RAWTEXT: {
        struct tenon_bytes b;
        if (tenon_event_payload(ev->evt, &b))
            return 0;
        p->strs[i] = own ? b.ptr : own_str(p, strndup(b.ptr, b.len));
        break;
    }
    }
    if (f->field_id != F_NUMBER && !p->strs[i])
        return TENON_ENOMEM;
    f->res_len = 1;
    return 0;
}

/* A pointer argument is checked when the filter compiles, so a typo
 * (json.value[user]) is an error with its column, not a field missing on
 * every event. */
static int jsonl_check_arg(void *obj, uint32_t field_id, const char *arg,
                           char *why, size_t len)
{
    int bad = 0;
    (void)obj;
    if (field_id == F_RAWTEXT || !arg)
        return 0;
    jptr_get(NULL, arg, strlen(arg), &bad);
    if (!bad)
        return 0;
    snprintf(why, len,
             "'%s' is not a JSON pointer; expected one as RFC 6901 writes "
             "it: empty, or each key after a '/', as in /user/name or "
             "/items/0 (~0 for ~, ~1 for /)",
             arg);
    return TENON_EINVAL;
}

static int jsonl_extract(void *obj, const struct tenon_event_input *ev,
                         uint32_t n, struct tenon_extract_field *fs)
{
    struct jsonl *p = obj;
    json_t *root;
    int own, rc;

    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    p->nowned = 0;
    if ((rc = slots(p, n)))
        return rc;
    root = root_of(p, ev, &own);
    for (uint32_t i = 0; i < n; i++) {
        if (!root) { /* not one of ours, or not JSON: no fields */
            fs[i].res_len = 0;
            continue;
        }
        /* one bad field (a pointer no check refused, out of memory) does
         * not take the others with it: it alone is missing, and said */
        if ((rc = extract_one(p, root, own, ev, i, &fs[i]))) {
            fs[i].res_len = 0;
            if (rc == TENON_ENOMEM)
                return rc;
        }
    }
    return 0;
}

static const struct tenon_extract_v1 extract_vt = {
    .struct_size = sizeof extract_vt,
    .fields = jsonl_fields,
    .extract = jsonl_extract,
    .event_types = NULL,
    .event_sources = NULL,
    .check_arg = jsonl_check_arg,
};

/* ---- metrics ------------------------------------------------------------- */

static const struct tenon_metric *jsonl_metrics(void *obj, uint32_t *n)
{
    struct jsonl *p = obj;
    static const char *const names[3] = {"jsonl.lines", "jsonl.bytes",
                                         "jsonl.malformed"};
    _Atomic uint64_t *vals[3] = {&p->lines, &p->bytes, &p->malformed};
    for (int i = 0; i < 3; i++) {
        p->metrics[i].name = names[i];
        p->metrics[i].type = TENON_METRIC_COUNTER;
        p->metrics[i].value_type = TENON_METRIC_U64;
        p->metrics[i].value.u64 =
            atomic_load_explicit(vals[i], memory_order_relaxed);
    }
    *n = 3;
    return p->metrics;
}

static const struct tenon_metrics_v1 metrics_vt = {
    .struct_size = sizeof metrics_vt,
    .metrics = jsonl_metrics,
};

/* ---- the instance -------------------------------------------------------- */

static int jsonl_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *maxline = tenon_arg(args, "maxline");
    struct jsonl *p;
    (void)input;

    if (!maxline || maxline->i < 16 || maxline->i > (1 << 30)) {
        host->set_error(self, "maxline=%s: expected 16 to 1g bytes",
                        maxline ? maxline->str : "");
        return TENON_ERANGE;
    }
    if (!(p = calloc(1, sizeof *p)))
        return TENON_ENOMEM;
    p->host = host;
    p->self = self;
    p->maxline = (size_t)maxline->i;
    *obj = p;
    return 0;
}

static void jsonl_destroy(void *obj)
{
    struct jsonl *p = obj;
    if (p->cap)
        capture_free(p->cap);
    json_decref(p->other_root);
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->strs);
    free(p->nums);
    free(p);
}

static const void *jsonl_get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TENON_SOURCE_ID) == 0)
        return &source_vt;
    if (strcmp(id, TENON_EXTRACT_ID) == 0)
        return &extract_vt;
    if (strcmp(id, TENON_METRICS_ID) == 0)
        return &metrics_vt;
    return NULL;
}

TENON_PLUGIN_ENTRY(jsonl_create, jsonl_destroy, jsonl_get_interface, NULL);
