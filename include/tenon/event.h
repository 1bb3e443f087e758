/*
 * tenon/event.h - the event interfaces, as Falco's plugin API has them:
 *
 *   tenon.source/1   an event source: open, next_batch, close, progress
 *   tenon.extract/1  typed fields extracted from events, several per call
 *   tenon.parse/1    sees every event it wants once, before extraction
 *   tenon.async/1    injects events into the stream from its own threads
 *   tenon.listen/1   runs routines on host threads between open and close
 *   tenon.metrics/1  counters and gauges the host reads at any time
 *   tenon.config/1   takes a new JSON config while running
 *
 * One plugin may provide several (list each under `provides`). Every vtable
 * starts with struct_size; members are only ever appended.
 *
 * Events are Falco's records, byte for byte (docs/events.md): a packed
 * 26-byte header, `nparams` u32 parameter lengths, then the parameters. The
 * structs below that mirror Falco's (the event, the event input, an
 * extraction request, a byte buffer, a metric) keep its member order and
 * sizes, so an adapter can hand Falco plugin API 3.x objects to Tenon
 * plugins, and Tenon's to Falco plugins, without copying events or fields.
 *
 * Thread tags as in plugin.h. The host calls a source, parser and
 * extractor from one thread at a time per instance (the pipeline's);
 * async and listen say where they differ.
 *
 * Header-only; compiles as C11 and C++11.
 */
#ifndef TENON_EVENT_H
#define TENON_EVENT_H

#include <stdbool.h>
#include <tenon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TENON_SOURCE_ID  "tenon.source/1"
#define TENON_EXTRACT_ID "tenon.extract/1"
#define TENON_PARSE_ID   "tenon.parse/1"
#define TENON_ASYNC_ID   "tenon.async/1"
#define TENON_LISTEN_ID  "tenon.listen/1"
#define TENON_METRICS_ID "tenon.metrics/1"
#define TENON_CONFIG_ID  "tenon.config/1"

/* ---- event records --------------------------------------------------------
 */

/* Falco's event types that plugins produce. */
#define TENON_EVENT_PLUGIN 322 /* params: plugin_id (u32), data (bytes) */
#define TENON_EVENT_ASYNC  402 /* params: plugin_id (u32), name, data */

/* A timestamp the host fills in when the event enters the stream (async
 * events, usually). */
#define TENON_TS_NOW UINT64_MAX

#pragma pack(push, 1)
/* The record header, 26 bytes. `len` counts the whole record: header,
 * parameter lengths and parameters. */
struct tenon_event {
    uint64_t ts;  /* nanoseconds since the Unix epoch */
    uint64_t tid; /* thread the event is about; UINT64_MAX none */
    uint32_t len;
    uint16_t type;
    uint32_t nparams;
};
#pragma pack(pop)

#define TENON_EVENT_HEADER_SIZE 26u

/* An event as the host hands it to a plugin (Falco's
 * ss_plugin_event_input). */
struct tenon_event_input {
    const struct tenon_event *evt;
    uint64_t evtnum;    /* 1 for the first event of a capture */
    const char *evtsrc; /* the event source's name, e.g. "jsonl" */
};

/* Bytes: a pointer and a length (Falco's ss_plugin_byte_buffer). */
struct tenon_bytes {
    uint32_t len;
    const void *ptr;
};

/* Parameter `i` of `evt` (at most `size` bytes, all checked): 0 and its
 * bytes, or TENON_EINVAL when the record is shorter than it says, its
 * lengths run past its end, or it has no parameter `i`. [any-thread] */
static inline int tenon_event_param(const struct tenon_event *evt,
                                    uint32_t size, uint32_t i,
                                    struct tenon_bytes *out)
{
    const unsigned char *b = (const unsigned char *)evt;
    uint32_t len, np, off, k, l;
    if (size < TENON_EVENT_HEADER_SIZE)
        return TENON_EINVAL;
    memcpy(&len, b + 16, 4);
    memcpy(&np, b + 22, 4);
    if (len < TENON_EVENT_HEADER_SIZE || len > size || i >= np ||
        np > (len - TENON_EVENT_HEADER_SIZE) / 4)
        return TENON_EINVAL;
    off = TENON_EVENT_HEADER_SIZE + np * 4;
    for (k = 0;; k++) {
        memcpy(&l, b + TENON_EVENT_HEADER_SIZE + k * 4, 4);
        if (l > len - off)
            return TENON_EINVAL;
        if (k == i)
            break;
        off += l;
    }
    out->len = l;
    out->ptr = b + off;
    return 0;
}

/* Bytes a plugin event with `size` payload bytes takes. */
static inline uint32_t tenon_event_plugin_size(uint32_t size)
{
    return TENON_EVENT_HEADER_SIZE + 8 + 4 + size;
}

/* Write a plugin event (type 322) into `buf`, which holds
 * tenon_event_plugin_size(size) bytes; returns that size. [any-thread] */
static inline uint32_t tenon_event_plugin_write(void *buf, uint64_t ts,
                                                uint32_t plugin_id,
                                                const void *data, uint32_t size)
{
    unsigned char *b = (unsigned char *)buf;
    struct tenon_event h;
    uint32_t lens[2] = {4, size};
    h.ts = ts;
    h.tid = UINT64_MAX;
    h.len = tenon_event_plugin_size(size);
    h.type = TENON_EVENT_PLUGIN;
    h.nparams = 2;
    memcpy(b, &h, TENON_EVENT_HEADER_SIZE);
    memcpy(b + TENON_EVENT_HEADER_SIZE, lens, 8);
    memcpy(b + TENON_EVENT_HEADER_SIZE + 8, &plugin_id, 4);
    if (size)
        memcpy(b + TENON_EVENT_HEADER_SIZE + 12, data, size);
    return h.len;
}

/* The payload of a plugin event (its parameter 1); TENON_EINVAL when `evt`
 * is not a well-formed plugin event. [any-thread] */
static inline int tenon_event_payload(const struct tenon_event *evt,
                                      struct tenon_bytes *out)
{
    if (evt->type != TENON_EVENT_PLUGIN || evt->nparams != 2)
        return TENON_EINVAL;
    return tenon_event_param(evt, evt->len, 1, out);
}

/* Bytes an async event named `name` with `size` data bytes takes. */
static inline uint32_t tenon_event_async_size(const char *name, uint32_t size)
{
    return TENON_EVENT_HEADER_SIZE + 12 + 4 + (uint32_t)strlen(name) + 1 + size;
}

/* Write an async event (type 402; the name with its NUL) into `buf`, which
 * holds tenon_event_async_size(name, size) bytes; returns that size. */
static inline uint32_t tenon_event_async_write(void *buf, uint64_t ts,
                                               uint32_t plugin_id,
                                               const char *name,
                                               const void *data, uint32_t size)
{
    unsigned char *b = (unsigned char *)buf;
    struct tenon_event h;
    uint32_t nlen = (uint32_t)strlen(name) + 1;
    uint32_t lens[3] = {4, nlen, size};
    h.ts = ts;
    h.tid = UINT64_MAX;
    h.len = tenon_event_async_size(name, size);
    h.type = TENON_EVENT_ASYNC;
    h.nparams = 3;
    memcpy(b, &h, TENON_EVENT_HEADER_SIZE);
    memcpy(b + TENON_EVENT_HEADER_SIZE, lens, 12);
    memcpy(b + TENON_EVENT_HEADER_SIZE + 12, &plugin_id, 4);
    memcpy(b + TENON_EVENT_HEADER_SIZE + 16, name, nlen);
    if (size)
        memcpy(b + TENON_EVENT_HEADER_SIZE + 16 + nlen, data, size);
    return h.len;
}

/* ---- tenon.source/1 --------------------------------------------------------
 */

/* A capture: what open() returns, passed back to the other calls. */
struct tenon_capture;

struct tenon_source_v1 {
    uint32_t struct_size;
    /* The plugin's registered Falco plugin id, or 0 (what it writes as
     * the plugin_id parameter of its events). */
    uint32_t plugin_id;

    /* The name of the event source, e.g. "jsonl" (evt.source); stable
     * for the instance. [any-thread] */
    const char *(*event_source)(void *obj);

    /* Start a capture. `params` is the open string the user gave ("" when
     * none). On failure return a negative code with set_error().
     * [instance-thread] */
    int (*open)(void *obj, const char *params, struct tenon_capture **cap);

    /* Up to a batch of events, in order: stores how many in *n and an
     * array of pointers to records in *evts, both the plugin's and valid
     * until the next call on `cap`. Returns 0 (n may be 0), TENON_EAGAIN
     * when no event is ready now (the host calls again soon),
     * TENON_EEOF at the end, or another negative code with set_error().
     * Records must be well formed: the host drops (and counts) one whose
     * length does not cover its header and parameter lengths; extractors
     * read parameters with tenon_event_param(), which checks the rest.
     * [instance-thread] */
    int (*next_batch)(void *obj, struct tenon_capture *cap, uint32_t *n,
                      const struct tenon_event *const **evts);

    /* End a capture; `cap` is gone after it. [instance-thread] */
    void (*close)(void *obj, struct tenon_capture *cap);

    /* Optional (NULL: never known): how far the capture is, 0.0 to 1.0, or
     * a negative value when not known now; *text (may be left NULL) gets
     * a short description valid until the next call on `cap`.
     * [instance-thread] */
    double (*progress)(void *obj, struct tenon_capture *cap, const char **text);
};

/* ---- tenon.extract/1
 * --------------------------------------------------------- */

/* Field types. The numbers Falco also has (u64, string, times, bool,
 * addresses and networks) are Falco's. */
enum tenon_field_type {
    TENON_FIELD_I64 = 4,
    TENON_FIELD_U64 = 8,
    TENON_FIELD_STRING = 9,
    TENON_FIELD_BYTES = 13,
    TENON_FIELD_RELTIME = 20, /* nanoseconds, as u64 */
    TENON_FIELD_ABSTIME = 21, /* nanoseconds since the Unix epoch, as u64 */
    TENON_FIELD_BOOL = 25,    /* as uint32_t, 0 or 1 */
    /* An IPv4 (4 bytes) or IPv6 (16 bytes) address, network byte order,
     * as bytes. */
    TENON_FIELD_IPADDR = 40,
    /* A network: the address bytes then one byte of prefix length
     * (5 or 17 bytes), as bytes; 4 or 16 bytes (Falco's form: an address
     * alone) is a /32 or /128. */
    TENON_FIELD_IPNET = 41
};

/* Field flags. */
#define TENON_FIELD_LIST      1u  /* several values per event */
#define TENON_FIELD_ARG_REQ   2u  /* takes an argument, which is required */
#define TENON_FIELD_ARG_INDEX 4u  /* takes an argument that is an index */
#define TENON_FIELD_ARG_KEY   8u  /* takes an argument that is a key */
#define TENON_FIELD_HIDDEN    16u /* not listed by `tenon fields` */

/* A field a plugin extracts. Names are "prefix.name" ([a-z0-9_.]).
 * An argument is written `name[arg]`: with ARG_INDEX a decimal number, with
 * ARG_KEY any text without ']'; ARG_REQ makes it required. */
struct tenon_field {
    const char *name;
    uint32_t type;       /* enum tenon_field_type */
    uint32_t flags;      /* TENON_FIELD_* */
    const char *display; /* a short display name, e.g. "JSON value" */
    const char *desc;    /* one sentence */
};

/* Where a plugin writes one field's values: a pointer to its array of
 * `res_len` values, the plugin's, valid until the next extract call. */
union tenon_extract_value {
    const char **str;          /* TENON_FIELD_STRING (UTF-8, NUL ended) */
    uint64_t *u64;             /* U64, RELTIME, ABSTIME */
    int64_t *i64;              /* I64 */
    uint32_t *boolean;         /* BOOL */
    struct tenon_bytes *bytes; /* BYTES, IPADDR, IPNET */
};

/* One field to extract from one event (Falco's ss_plugin_extract_field).
 * The host fills field_id .. flist; the plugin sets res and res_len,
 * res_len 0 when the event has no value for the field. */
struct tenon_extract_field {
    union tenon_extract_value res;
    uint64_t res_len;
    uint32_t field_id;    /* index in the plugin's fields() */
    const char *field;    /* its name */
    const char *arg_key;  /* the argument as written; NULL without one */
    uint64_t arg_index;   /* the argument as a number (ARG_INDEX) */
    uint32_t arg_present; /* 1 when the field was written with [arg] */
    uint32_t ftype;       /* the field's type */
    uint32_t flist;       /* 1 when the field has the LIST flag */
};

struct tenon_extract_v1 {
    uint32_t struct_size;

    /* The fields this instance extracts; the array is the plugin's and
     * lives as long as the instance. [any-thread] */
    const struct tenon_field *(*fields)(void *obj, uint32_t *n);

    /* Extract `n` fields of one event in one call. Returns 0 (fields the
     * event lacks have res_len 0), or a negative code with set_error():
     * the host then treats every field as missing and counts the error.
     * [instance-thread] */
    int (*extract)(void *obj, const struct tenon_event_input *ev, uint32_t n,
                   struct tenon_extract_field *fields);

    /* Optional: the event types this extractor wants (the host delivers
     * no other); NULL, or n 0, means plugin events (322) only, as in
     * Falco. The array lives as long as the instance. [any-thread] */
    const uint16_t *(*event_types)(void *obj, uint32_t *n);

    /* Optional: the event sources it wants. NULL, or n 0, means its own
     * source when the plugin is also a source, else every source.
     * [any-thread] */
    const char *const *(*event_sources)(void *obj, uint32_t *n);

    /* Optional (appended in Tenon 0.4): check the argument a filter or
     * format gives field `field_id` (NULL when written without one) when
     * it is compiled, before any event: return 0, or a negative code with
     * what is wrong and what was expected in `why` (`len` bytes), which
     * the host reports with the column, e.g. "'user' is not a JSON
     * pointer; expected one starting with '/', as in /user". Extraction
     * then never sees an argument this refused. [any-thread] */
    int (*check_arg)(void *obj, uint32_t field_id, const char *arg, char *why,
                     size_t len);
};

/* ---- tenon.parse/1
 * ------------------------------------------------------------ */

struct tenon_parse_v1 {
    uint32_t struct_size;

    /* Called once for each event it wants, in stream order, before any
     * extraction from that event. Returns 0, or a negative code with
     * set_error() (the host counts it and goes on). [instance-thread] */
    int (*parse)(void *obj, const struct tenon_event_input *ev);

    /* As for tenon.extract/1. */
    const uint16_t *(*event_types)(void *obj, uint32_t *n);
    const char *const *(*event_sources)(void *obj, uint32_t *n);
};

/* ---- tenon.async/1
 * ------------------------------------------------------------ */

/* The host's handler of async events. A plugin calls it from any of its
 * threads with a complete async event (type 402, its name one of the
 * plugin's names()); the host copies the record before returning, so the
 * plugin may reuse its buffer. Returns 0, or a negative code when the
 * event was refused (malformed, or the host is out of memory) with a
 * reason in `err` (256 bytes). [any-thread] */
typedef int (*tenon_async_handler_fn)(void *owner,
                                      const struct tenon_event *evt, char *err);

struct tenon_async_v1 {
    uint32_t struct_size;

    /* The names of the async events this plugin emits. [any-thread] */
    const char *const *(*names)(void *obj, uint32_t *n);

    /* Optional: the sources whose streams it may join; NULL means any.
     * [any-thread] */
    const char *const *(*event_sources)(void *obj, uint32_t *n);

    /* Start emitting through `handler` (with `owner`), or stop when
     * handler is NULL. When a stop returns, the plugin calls the handler
     * no more. The host starts it after the capture opens and stops it
     * before the capture closes. [instance-thread] */
    int (*set_handler)(void *obj, void *owner, tenon_async_handler_fn handler);
};

/* ---- tenon.listen/1
 * ------------------------------------------------------------ */

/* A routine: called again and again on a host thread while it returns
 * true, until it is unsubscribed or the capture closes. */
typedef bool (*tenon_routine_fn)(void *state);

struct tenon_routine;

/* What the host passes to capture_open() and capture_close(). */
struct tenon_listen_input {
    void *owner;
    /* Run `fn(state)` on the host's routine threads; NULL on failure.
     * [any-thread] */
    struct tenon_routine *(*subscribe)(void *owner, tenon_routine_fn fn,
                                       void *state);
    /* Stop a routine; when it returns the routine is not running and
     * never runs again. Called from a routine (for itself or another), it
     * does not wait: the routine never starts another run, but one under
     * way on another thread finishes. [any-thread] */
    int (*unsubscribe)(void *owner, struct tenon_routine *r);
};

struct tenon_listen_v1 {
    uint32_t struct_size;
    /* After the source's capture opened; before the first event.
     * [instance-thread] */
    int (*capture_open)(void *obj, const struct tenon_listen_input *in);
    /* Before the source's capture closes, once the host has stopped every
     * routine the plugin still had (so their state may be freed here).
     * Subscribing from here on fails. [instance-thread] */
    int (*capture_close)(void *obj, const struct tenon_listen_input *in);
};

/* ---- tenon.metrics/1
 * ------------------------------------------------------------ */

enum tenon_metric_type {
    TENON_METRIC_COUNTER = 0, /* only goes up (Falco: monotonic) */
    TENON_METRIC_GAUGE = 1    /* goes up and down */
};

enum tenon_metric_value_type {
    TENON_METRIC_U32 = 0,
    TENON_METRIC_S32 = 1,
    TENON_METRIC_U64 = 2,
    TENON_METRIC_S64 = 3,
    TENON_METRIC_D = 4, /* double */
    TENON_METRIC_F = 5, /* float */
    TENON_METRIC_I = 6  /* int */
};

union tenon_metric_value {
    uint32_t u32;
    int32_t s32;
    uint64_t u64;
    int64_t s64;
    double d;
    float f;
    int i;
};

/* One metric (Falco's ss_plugin_metric, member for member: mind the order
 * when initializing one). */
struct tenon_metric {
    const char *name;
    uint32_t type; /* enum tenon_metric_type */
    union tenon_metric_value value;
    uint32_t value_type; /* enum tenon_metric_value_type */
};

struct tenon_metrics_v1 {
    uint32_t struct_size;
    /* The plugin's metrics now: an array it owns, valid until the next
     * call. [any-thread] */
    const struct tenon_metric *(*metrics)(void *obj, uint32_t *n);
};

/* ---- tenon.config/1
 * ------------------------------------------------------------ */

/* A plugin states the JSON schema of its config in its static info with
 * TENON_CONFIG_SCHEMA("{...}"); the host validates a config against it
 * (filling in defaults) before create() and before set_config(), so a
 * plugin sees only configs that passed. create() reads it with
 * host->config(). */
#define TENON_CONFIG_SCHEMA(json) TENON__KV("config.schema", json)

struct tenon_config_v1 {
    uint32_t struct_size;
    /* Take a new config, already validated (JSON text, defaults filled
     * in). On failure keep the old one and return a negative code with
     * set_error(). [instance-thread] */
    int (*set_config)(void *obj, const char *json);
};

#ifdef __cplusplus
}
#endif
#endif /* TENON_EVENT_H */
