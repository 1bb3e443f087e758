/*
 * Fields in a pipeline: resolving a name to a built-in or to the one
 * member that extracts it (slots), and getting a slot's values on the
 * current event, extracting lazily and at most once per event unless the
 * member has been called again since (its results are good until its next
 * extract call, as in Falco).
 */
#include "pipeline.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { B_NUM, B_TIME, B_DATETIME, B_SOURCE, B_PLUGIN, B_TYPE, B_LEN, B_COUNT };

static const struct tenon_field builtins[B_COUNT] = {
    {"evt.num", TENON_FIELD_U64, 0, "Event number",
     "The event's number in the stream, from 1."},
    {"evt.time", TENON_FIELD_ABSTIME, 0, "Time",
     "When the event happened; printed as HH:MM:SS.nnnnnnnnn (local time), "
     "compared as nanoseconds since the Unix epoch."},
    {"evt.datetime", TENON_FIELD_STRING, 0, "Date and time",
     "When the event happened, as YYYY-MM-DD HH:MM:SS.nnnnnnnnn (local "
     "time)."},
    {"evt.source", TENON_FIELD_STRING, 0, "Event source",
     "The name of the source's event stream, e.g. jsonl."},
    {"evt.plugin", TENON_FIELD_STRING, 0, "Plugin",
     "The plugin that produced the event: the source, or the async plugin "
     "that emitted it."},
    {"evt.type", TENON_FIELD_U64, 0, "Event type",
     "The record's type: 322 for a plugin event, 402 for an async event."},
    {"evt.len", TENON_FIELD_U64, 0, "Length",
     "The record's length in bytes, header included."},
};

const struct tenon_field *tenon_builtin_fields(uint32_t *n)
{
    *n = B_COUNT;
    return builtins;
}

const char *tenon_field_type_name(uint32_t type)
{
    switch (type) {
    case TENON_FIELD_U64: return "u64";
    case TENON_FIELD_I64: return "i64";
    case TENON_FIELD_STRING: return "string";
    case TENON_FIELD_BYTES: return "bytes";
    case TENON_FIELD_RELTIME: return "reltime";
    case TENON_FIELD_ABSTIME: return "abstime";
    case TENON_FIELD_BOOL: return "bool";
    case TENON_FIELD_IPADDR: return "ipaddr";
    case TENON_FIELD_IPNET: return "ipnet";
    default: return "unknown";
    }
}

static int takes_arg(uint32_t flags)
{
    return (flags & (TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_INDEX |
                     TENON_FIELD_ARG_KEY)) != 0;
}

/* Check `arg` against the field's declaration; *index gets an index. */
static int check_arg(const struct tenon_field *f, const char *arg,
                     uint64_t *index, char *why, size_t whylen)
{
    *index = 0;
    if (!arg && (f->flags & TENON_FIELD_ARG_REQ))
        return tenon__reason(why, whylen, TENON_EINVAL,
                             "field '%s' needs an argument, as in %s[%s]",
                             f->name, f->name,
                             (f->flags & TENON_FIELD_ARG_INDEX) ? "0" : "key");
    if (arg && !takes_arg(f->flags))
        return tenon__reason(why, whylen, TENON_EINVAL,
                             "field '%s' takes no argument", f->name);
    if (arg && (f->flags & TENON_FIELD_ARG_INDEX) &&
        !(f->flags & TENON_FIELD_ARG_KEY)) {
        const char *p = arg;
        if (!*p)
            goto bad_index;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' ||
                *index > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                goto bad_index;
            *index = *index * 10 + (uint64_t)(*p - '0');
        }
    }
    return 0;
bad_index:
    return tenon__reason(why, whylen, TENON_EINVAL,
                         "field '%s' takes an index (a decimal number) as its "
                         "argument, got '%s'",
                         f->name, arg);
}

/* The member field named `name`: *mi and *fi, or an error when none or
 * more than one member has it. */
static int find_field(struct tenon_pipeline *pl, const char *name, size_t *mi,
                      uint32_t *fi, char *why, size_t whylen)
{
    int found = 0;
    for (size_t i = 0; i < pl->nm; i++) {
        const struct tenon__member *m = &pl->m[i];
        if (!m->ext)
            continue;
        for (uint32_t k = 0; k < m->nfields; k++) {
            if (!m->fields[k].name || strcmp(m->fields[k].name, name) != 0)
                continue;
            if (found && strcmp(pl->m[*mi].name, m->name) != 0)
                return tenon__reason(
                    why, whylen, TENON_EINVAL,
                    "field '%s' is ambiguous: plugins '%s' and '%s' both "
                    "extract it",
                    name, pl->m[*mi].name, m->name);
            if (found)
                return tenon__reason(
                    why, whylen, TENON_EINVAL,
                    "field '%s' is ambiguous: two instances of plugin '%s' "
                    "extract it",
                    name, m->name);
            found = 1, *mi = i, *fi = k;
            break;
        }
    }
    if (!found)
        return tenon__reason(why, whylen, TENON_EINVAL,
                             "unknown field '%s' ('tenon fields' lists the "
                             "fields of every plugin; add the plugin that "
                             "extracts it with -p)",
                             name);
    return 0;
}

static int same_arg(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static uint64_t slot_hash(int builtin, size_t mi, uint32_t fi, const char *arg)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    uint64_t k[3] = {(uint64_t)(int64_t)builtin, mi, fi};
    for (size_t i = 0; i < sizeof k; i++)
        h = (h ^ ((const unsigned char *)k)[i]) * 1099511628211ull;
    for (; arg && *arg; arg++)
        h = (h ^ (unsigned char)*arg) * 1099511628211ull;
    return h ^ (arg ? 0x9e3779b97f4a7c15ull : 0);
}

static int slot_is(const struct tenon__slot *s, int builtin, size_t mi,
                   uint32_t fi, const char *arg)
{
    return s->builtin == builtin &&
           (builtin >= 0 || (s->member == mi && s->req.field_id == fi)) &&
           same_arg(s->arg, arg);
}

/* The table entry of the slot for this field and argument (1 with *at
 * its index), or of the empty entry where it would go (0). htab holds
 * slot numbers plus one; 0 is empty. */
static int find_slot(const struct tenon_pipeline *pl, uint64_t h, int builtin,
                     size_t mi, uint32_t fi, const char *arg, size_t *at)
{
    size_t i = (size_t)h & (pl->hcap - 1);
    while (pl->htab[i]) {
        if (slot_is(&pl->slots[pl->htab[i] - 1], builtin, mi, fi, arg)) {
            *at = i;
            return 1;
        }
        i = (i + 1) & (pl->hcap - 1);
    }
    *at = i;
    return 0;
}

static int rehash(struct tenon_pipeline *pl, size_t want)
{
    size_t cap = 64, at;
    uint32_t *old = pl->htab;
    size_t oldcap = pl->hcap;
    while (cap < want)
        cap *= 2;
    if (!(pl->htab = calloc(cap, sizeof *pl->htab))) {
        pl->htab = old;
        return TENON_ENOMEM;
    }
    pl->hcap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        const struct tenon__slot *s;
        if (!old[i])
            continue;
        s = &pl->slots[old[i] - 1];
        find_slot(pl, slot_hash(s->builtin, s->member, s->req.field_id, s->arg),
                  s->builtin, s->member, s->req.field_id, s->arg, &at);
        pl->htab[at] = old[i];
    }
    free(old);
    return 0;
}

/* A new slot, or the existing one for the same field and argument. */
static int slot_for(struct tenon_pipeline *pl, int builtin, size_t mi,
                    uint32_t fi, const char *arg, uint64_t index, uint32_t *out)
{
    const struct tenon_field *f =
        builtin >= 0 ? &builtins[builtin] : &pl->m[mi].fields[fi];
    uint64_t h = slot_hash(builtin, mi, fi, arg);
    struct tenon__slot *s;
    size_t at;

    /* a filter may name tens of thousands of fields: found by hash, not
     * by a walk over the slots so far */
    if (pl->hcap && find_slot(pl, h, builtin, mi, fi, arg, &at)) {
        *out = pl->htab[at] - 1;
        return 0;
    }
    if (pl->nslots >= UINT32_MAX - 1 ||
        tenon__grow(&pl->slots, &pl->capslots, pl->nslots + 1,
                    sizeof *pl->slots) ||
        ((pl->nslots + 1) * 2 > pl->hcap && rehash(pl, pl->hcap * 2 + 64)))
        return TENON_ENOMEM;
    find_slot(pl, h, builtin, mi, fi, arg, &at);
    pl->htab[at] = (uint32_t)pl->nslots + 1;
    s = &pl->slots[pl->nslots];
    memset(s, 0, sizeof *s);
    s->builtin = builtin;
    s->member = (uint32_t)mi;
    if ((arg && !(s->arg = tenon__strdup(arg))) ||
        !(s->text = arg ? tenon__asprintf("%s[%s]", f->name, arg)
                        : tenon__strdup(f->name))) {
        free(s->arg);
        pl->htab[at] = 0; /* the slot was not made after all */
        return TENON_ENOMEM;
    }
    s->req.field_id = fi;
    s->req.field = f->name;
    s->req.arg_key = s->arg;
    s->req.arg_index = index;
    s->req.arg_present = arg != NULL;
    s->req.ftype = f->type;
    s->req.flist = (f->flags & TENON_FIELD_LIST) != 0;
    s->vals.type = f->type;
    s->evgen = UINT64_MAX;
    *out = (uint32_t)pl->nslots++;
    return 0;
}

/* The plugin's own check of the argument (tenon.extract/1 check_arg),
 * when it has one. */
static int plugin_check_arg(const struct tenon__member *m, uint32_t fi,
                            const char *arg, char *why, size_t whylen)
{
    char msg[TENON__REASON_MAX] = "";
    int rc;
    if (m->ext->struct_size <
            offsetof(struct tenon_extract_v1, check_arg) + sizeof(void *) ||
        !m->ext->check_arg)
        return 0;
    if ((rc = m->ext->check_arg(m->ext_obj, fi, arg, msg, sizeof msg)) >= 0)
        return 0;
    msg[sizeof msg - 1] = '\0';
    return tenon__reason(why, whylen, TENON_EINVAL, "field '%s%s%s%s': %s",
                         m->fields[fi].name, arg ? "[" : "", arg ? arg : "",
                         arg ? "]" : "",
                         msg[0] ? msg : "the plugin refuses this argument");
}

int tenon__pl_resolve(void *ud, const char *name, const char *arg,
                      struct tenon__field_use *out, char *why, size_t whylen)
{
    struct tenon_pipeline *pl = ud;
    const struct tenon_field *f = NULL;
    int builtin = -1, rc;
    size_t mi = 0;
    uint32_t fi = 0;
    uint64_t index;

    for (int i = 0; i < B_COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0)
            builtin = i, f = &builtins[i];
    if (!f) {
        if ((rc = find_field(pl, name, &mi, &fi, why, whylen)))
            return rc;
        f = &pl->m[mi].fields[fi];
    }
    if ((rc = check_arg(f, arg, &index, why, whylen)))
        return rc;
    if (builtin < 0 &&
        (rc = plugin_check_arg(&pl->m[mi], fi, arg, why, whylen)))
        return rc;
    if ((rc = slot_for(pl, builtin, mi, fi, arg, index, &out->slot)))
        return tenon__reason(why, whylen, rc, "out of memory");
    out->type = f->type;
    out->flags = f->flags;
    return 0;
}

/* ---- values on the current event --------------------------------------------
 */

static void builtin_value(struct tenon_pipeline *pl, struct tenon__slot *s)
{
    const struct tenon_event *e = pl->ev.evt;
    s->vals.count = 1;
    switch (s->builtin) {
    case B_NUM: s->u64 = pl->ev.evtnum; break;
    case B_TIME: s->u64 = pl->ev_ts; break;
    case B_DATETIME: {
        time_t sec = (time_t)(pl->ev_ts / 1000000000u);
        struct tm tm;
        char day[24];
        if (!localtime_r(&sec, &tm) ||
            !strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm))
            snprintf(day, sizeof day, "?");
        snprintf(s->buf, sizeof s->buf, "%s.%09u", day,
                 (unsigned)(pl->ev_ts % 1000000000u));
        s->str = s->buf;
        break;
    }
    case B_SOURCE: s->str = pl->ev.evtsrc; break;
    case B_PLUGIN: s->str = pl->m[pl->ev_member].name; break;
    case B_TYPE: s->u64 = e->type; break;
    case B_LEN: s->u64 = e->len; break;
    }
    if (builtins[s->builtin].type == TENON_FIELD_STRING)
        s->vals.v.str = &s->str;
    else
        s->vals.v.u64 = &s->u64;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Take what the plugin wrote into `req` as the slot's values. */
void tenon__pl_take_values(struct tenon_pipeline *pl, struct tenon__member *m,
                           struct tenon__slot *s,
                           const struct tenon_extract_field *req, int rc)
{
    s->evgen = pl->ev.evtnum;
    s->calls = m->ext_calls;
    s->rc = 0;
    s->vals.count = 0;
    if (rc < 0) {
        s->rc = rc;
        return;
    }
    /* A plugin's values are its own business, but a count it cannot back
     * with a pointer would crash whoever reads them. */
    if (req->res_len && (!req->res.u64 || req->res_len > UINT32_MAX)) {
        s->rc = TENON_EPLUGIN;
        m->errors++, pl->st.errors++;
        return;
    }
    s->vals.count = (uint32_t)req->res_len;
    s->vals.v = req->res;
}

static int member_wants(const struct tenon__member *m,
                        const struct tenon_event *e)
{
    return tenon__type_wanted(m->ext_types, e->type);
}

/* Extract s->batch in one call, with the requests prepared at open. */
static void get_batch(struct tenon_pipeline *pl, struct tenon__slot *s,
                      struct tenon__member *m)
{
    uint64_t t0 = 0;
    int rc = 0;
    if (member_wants(m, pl->ev.evt)) {
        for (uint32_t j = 0; j < s->nbatch; j++)
            s->breq[j].res_len = 0;
        if (pl->timing)
            t0 = now_ns();
        rc = m->extract(m->ext_obj, &pl->ev, s->nbatch, s->breq);
        if (pl->timing)
            m->time_ns += now_ns() - t0;
        m->ext_calls++;
        if (rc < 0)
            m->errors++, pl->st.errors++;
    } else {
        for (uint32_t j = 0; j < s->nbatch; j++)
            s->breq[j].res_len = 0;
    }
    for (uint32_t j = 0; j < s->nbatch; j++)
        tenon__pl_take_values(pl, m, &pl->slots[s->batch[j]], &s->breq[j], rc);
}

/* The values of a built-in, or of a member's field the member does not
 * want this event for, or when timing: off the common path. */
int tenon__pl_get_slow(struct tenon_pipeline *pl, struct tenon__slot *s,
                       struct tenon__vals *out)
{
    struct tenon__member *m;
    uint64_t t0 = 0;
    int rc;

    if (s->builtin >= 0) {
        builtin_value(pl, s);
        s->evgen = pl->ev.evtnum;
        *out = s->vals;
        return 0;
    }
    m = &pl->m[s->member];
    if (s->batch) { /* this field and those the filter asks for next */
        get_batch(pl, s, m);
        *out = s->vals;
        return s->rc;
    }
    if (!member_wants(m, pl->ev.evt)) {
        s->evgen = pl->ev.evtnum, s->calls = m->ext_calls;
        s->rc = 0, s->vals.count = 0;
        *out = s->vals;
        return 0;
    }
    s->req.res_len = 0;
    if (pl->timing)
        t0 = now_ns();
    rc = m->extract(m->ext_obj, &pl->ev, 1, &s->req);
    if (pl->timing)
        m->time_ns += now_ns() - t0;
    m->ext_calls++;
    if (rc < 0)
        m->errors++, pl->st.errors++;
    tenon__pl_take_values(pl, m, s, &s->req, rc);
    *out = s->vals;
    return s->rc;
}

int tenon__pl_get(void *ud, uint32_t slot, struct tenon__vals *out)
{
    return tenon__pl_get_fast(ud, slot, out);
}

/* Extract the slots of member `mi` in `want` that are not known yet, in
 * one call. */
static void fetch_member(struct tenon_pipeline *pl, size_t mi,
                         const uint32_t *want, size_t n)
{
    struct tenon__member *m = &pl->m[mi];
    struct tenon_extract_field stack[16], *req = stack;
    uint32_t idx_stack[16], *idx = idx_stack, k = 0;
    uint64_t t0 = 0;
    int rc;

    if (n > 16) {
        req = malloc(n * sizeof *req);
        idx = malloc(n * sizeof *idx);
        if (!req || !idx)
            goto out; /* left to tenon__pl_get(), one at a time */
    }
    for (size_t i = 0; i < n; i++) {
        struct tenon__slot *s = &pl->slots[want[i]];
        int dup = 0;
        if (s->builtin >= 0 || s->member != mi ||
            (s->evgen == pl->ev.evtnum && s->calls == m->ext_calls))
            continue;
        for (uint32_t j = 0; j < k; j++)
            dup |= idx[j] == want[i];
        if (dup)
            continue;
        idx[k] = want[i];
        req[k] = s->req;
        req[k].res.u64 = NULL;
        req[k].res_len = 0;
        k++;
    }
    if (k == 0)
        goto out;
    if (!member_wants(m, pl->ev.evt)) {
        for (uint32_t j = 0; j < k; j++) {
            struct tenon__slot *s = &pl->slots[idx[j]];
            s->evgen = pl->ev.evtnum, s->calls = m->ext_calls;
            s->rc = 0, s->vals.count = 0;
        }
        goto out;
    }
    if (pl->timing)
        t0 = now_ns();
    rc = m->extract(m->ext_obj, &pl->ev, k, req);
    if (pl->timing)
        m->time_ns += now_ns() - t0;
    m->ext_calls++;
    if (rc < 0)
        m->errors++, pl->st.errors++;
    for (uint32_t j = 0; j < k; j++)
        tenon__pl_take_values(pl, m, &pl->slots[idx[j]], &req[j], rc);
out:
    if (req != stack)
        free(req);
    if (idx != idx_stack)
        free(idx);
}

void tenon__pl_fetch(struct tenon_pipeline *pl, const uint32_t *slots, size_t n)
{
    for (size_t mi = 0; mi < pl->nm; mi++)
        if (pl->m[mi].ext)
            fetch_member(pl, mi, slots, n);
}

/* ---- what a member wants
 * ------------------------------------------------------- */

int tenon__pl_wants(struct tenon_pipeline *pl, const char *own_source,
                    const uint16_t *(*types)(void *, uint32_t *),
                    const char *const *(*sources)(void *, uint32_t *),
                    void *obj, uint64_t **bitmap)
{
    const uint16_t *tv = NULL;
    const char *const *sv = NULL;
    uint32_t nt = 0, ns = 0;
    int source_ok;
    uint64_t *bits = calloc(TENON__TYPE_WORDS, sizeof *bits);

    if (!bits)
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if (sources)
        sv = sources(obj, &ns);
    if (sv && ns) {
        source_ok = 0;
        for (uint32_t i = 0; i < ns && i < 4096; i++)
            if (sv[i] && strcmp(sv[i], pl->src_name) == 0)
                source_ok = 1;
    } else {
        /* Falco's default: a plugin that is a source itself extracts from
         * its own events only; any other, from every source. */
        source_ok = !own_source || strcmp(own_source, pl->src_name) == 0;
    }
    if (types)
        tv = types(obj, &nt);
    if (source_ok && (!tv || nt == 0))
        bits[TENON_EVENT_PLUGIN >> 6] |= 1ull << (TENON_EVENT_PLUGIN & 63);
    for (uint32_t i = 0; source_ok && tv && i < nt && i < 65536; i++)
        bits[tv[i] >> 6] |= 1ull << (tv[i] & 63);
    free(*bitmap);
    *bitmap = bits;
    return 0;
}

void tenon__pl_slots_free(struct tenon_pipeline *pl)
{
    for (size_t i = 0; i < pl->nslots; i++) {
        free(pl->slots[i].batch);
        free(pl->slots[i].breq);
        free(pl->slots[i].arg);
        free(pl->slots[i].text);
    }
    free(pl->slots);
    free(pl->htab);
    pl->slots = NULL;
    pl->htab = NULL;
    pl->nslots = pl->capslots = pl->hcap = 0;
}
