/*
 * digits - the example field extractor of docs/events.md.
 *
 * It reads the events of the `counter` source (examples/evsource.c), whose
 * payload is one u64, and serves four fields, one of each kind:
 *
 *     counter.value      u64          the number
 *     counter.parity     string       "even" or "odd"
 *     counter.digits     u64, a list  its decimal digits, most significant
 *                                     first
 *     counter.digit[i]   u64          digit i counted from the right (0 is
 *                                     the units); an index is required
 *
 *     tenon run --plugin-path build/examples -s counter:n=30 -p digits \
 *         -f 'counter.parity = odd and counter.digit[0] in (1, 3)' \
 *         -F '%counter.value %counter.digits'
 *
 * What it shows: the host asks for several fields of one event in one
 * call; the values a field points at belong to the plugin and must stay
 * valid until the next call, so each requested field gets its own slot; a
 * field the event has no value for gets res_len 0.
 */
#include <tenon/event.h>
#include <tenon/plugin.h>

#include <stdlib.h>
#include <string.h>

TENON_PLUGIN_INFO("digits", "1.0.0",
    TENON_DESCRIPTION("Fields of the counter source's numbers")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_HELP("The example extractor of the Tenon events guide: "
               "counter.value, counter.parity, counter.digits and "
               "counter.digit[i]."));

/* A u64 has at most 20 decimal digits. */
#define MAX_DIGITS 20

/* The order of this array is the field_id the host passes back. */
enum { F_VALUE, F_PARITY, F_DIGITS, F_DIGIT };

static const struct tenon_field fields[] = {
    {"counter.value", TENON_FIELD_U64, 0, "Value", "The number."},
    {"counter.parity", TENON_FIELD_STRING, 0, "Parity", "\"even\" or \"odd\"."},
    {"counter.digits", TENON_FIELD_U64, TENON_FIELD_LIST, "Digits",
     "The decimal digits of the number, most significant first."},
    {"counter.digit", TENON_FIELD_U64,
     TENON_FIELD_ARG_INDEX | TENON_FIELD_ARG_REQ, "Digit",
     "Decimal digit i of the number, 0 being the units; none when the "
     "number has fewer digits."},
};

/* Where one requested field's values live until the next extract(). */
struct slot {
    uint64_t u64[MAX_DIGITS];
    const char *str;
};

struct digits {
    const struct tenon_host *host;
    struct tenon_instance *self;
    struct slot *slots; /* one per field of the current call */
    uint32_t nslots;
};

static const struct tenon_field *digits_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = sizeof fields / sizeof fields[0];
    return fields;
}

/* The digits of v into d[], most significant first; how many. */
static uint32_t decimal_digits(uint64_t v, uint64_t d[MAX_DIGITS])
{
    uint64_t rev[MAX_DIGITS];
    uint32_t n = 0;
    do
        rev[n++] = v % 10;
    while ((v /= 10) != 0);
    for (uint32_t i = 0; i < n; i++)
        d[i] = rev[n - 1 - i];
    return n;
}

/* Fill one field of the number v into its slot. */
static void extract_one(uint64_t v, struct tenon_extract_field *f,
                        struct slot *s)
{
    uint64_t d[MAX_DIGITS];
    uint32_t nd;

    f->res_len = 0; /* no value, unless one is found below */
    switch (f->field_id) {
    case F_VALUE:
        s->u64[0] = v;
        f->res.u64 = s->u64;
        f->res_len = 1;
        break;
    case F_PARITY:
        s->str = v % 2 ? "odd" : "even";
        f->res.str = &s->str;
        f->res_len = 1;
        break;
    case F_DIGITS:
        f->res_len = decimal_digits(v, s->u64);
        f->res.u64 = s->u64;
        break;
    case F_DIGIT:
        nd = decimal_digits(v, d);
        if (f->arg_present && f->arg_index < nd) {
            s->u64[0] = d[nd - 1 - f->arg_index];
            f->res.u64 = s->u64;
            f->res_len = 1;
        }
        break;
    }
}

static int digits_extract(void *obj, const struct tenon_event_input *ev,
                          uint32_t n, struct tenon_extract_field *req)
{
    struct digits *x = obj;
    struct tenon_bytes payload;
    uint64_t v;

    /* Room for n fields, made before any value is written: growing later
     * would move the values already handed out in this call. */
    if (n > x->nslots) {
        struct slot *s = realloc(x->slots, n * sizeof *s);
        if (!s) {
            x->host->set_error(x->self, "out of memory for %u fields", n);
            return TENON_ENOMEM;
        }
        x->slots = s;
        x->nslots = n;
    }
    /* Only counter's events come here (event_sources below), but a record
     * is still input: a payload that is not one u64 has no fields. */
    if (tenon_event_payload(ev->evt, &payload) != 0 || payload.len != 8) {
        for (uint32_t i = 0; i < n; i++)
            req[i].res_len = 0;
        return 0;
    }
    memcpy(&v, payload.ptr, 8); /* the payload need not be aligned */
    for (uint32_t i = 0; i < n; i++) {
        if (req[i].field_id >= sizeof fields / sizeof fields[0]) {
            x->host->set_error(x->self, "no field with id %u", req[i].field_id);
            return TENON_EINVAL;
        }
        extract_one(v, &req[i], &x->slots[i]);
    }
    return 0;
}

static const char *const sources[] = {"counter"};

static const char *const *digits_event_sources(void *obj, uint32_t *n)
{
    (void)obj;
    *n = 1;
    return sources;
}

static const struct tenon_extract_v1 extract = {
    .struct_size = sizeof extract,
    .fields = digits_fields,
    .extract = digits_extract,
    .event_types = NULL, /* plugin events (322) only */
    .event_sources = digits_event_sources,
};

static int digits_create(const struct tenon_host *host,
                         struct tenon_instance *self,
                         const struct tenon_args *args,
                         struct tenon_instance *input, void **obj)
{
    struct digits *x;
    (void)args;
    (void)input;
    if (!(x = calloc(1, sizeof *x)))
        return TENON_ENOMEM;
    x->host = host;
    x->self = self;
    *obj = x;
    return 0;
}

static void digits_destroy(void *obj)
{
    struct digits *x = obj;
    free(x->slots);
    free(x);
}

static const void *digits_get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_EXTRACT_ID) == 0 ? &extract : NULL;
}

TENON_PLUGIN_ENTRY(digits_create, digits_destroy, digits_get_interface, NULL);
