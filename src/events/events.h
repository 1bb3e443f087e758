/*
 * Internals of the event subsystem: what the filter compiler and evaluator
 * (filter.c), the fields and output (fields.c, output.c) and the pipeline
 * (pipeline.c, async.c, listen.c) share. Not installed.
 *
 * The filter knows nothing of plugins: it asks a resolver for each field
 * it names (getting back a slot number and the field's type), and at run
 * time asks a getter for a slot's values on the current event. The
 * pipeline implements both.
 */
#ifndef TENON_EVENTS_H
#define TENON_EVENTS_H

#include "../internal.h"

#include <tenon/event.h>

/* A field as a filter or format uses it, resolved. */
struct tenon__field_use {
    uint32_t slot;  /* the resolver's handle, passed back to the getter */
    uint32_t type;  /* enum tenon_field_type */
    uint32_t flags; /* TENON_FIELD_LIST etc. */
};

/* Resolve field `name` with argument `arg` (NULL when written without
 * brackets; "" for `name[]`). On failure return a negative code and write
 * what was wrong into `why` (e.g. "unknown field 'x.y'", "field
 * 'json.value' needs an argument, as in json.value[/key]"). */
typedef int (*tenon__resolve_fn)(void *ud, const char *name, const char *arg,
                                 struct tenon__field_use *out, char *why,
                                 size_t whylen);

/* The values of one field on one event: `count` values of `type` in the
 * union's array (count 0: the event has none). Owned by the getter, valid
 * until the next getter call. */
struct tenon__vals {
    uint32_t type;
    uint32_t count;
    union tenon_extract_value v;
};

/* The values of `slot` on the current event; 0, or negative when the
 * extraction failed (the filter treats the field as missing). */
typedef int (*tenon__get_fn)(void *ud, uint32_t slot, struct tenon__vals *out);

/* ---- filter.c
 * ---------------------------------------------------------------- */

struct tenon__filter;

/* Compile `expr` (Falco's condition syntax; docs/events.md has the
 * grammar). On failure returns TENON_EINVAL (or TENON_ENOMEM), writes the
 * message into err (what was expected, and what was found, without the
 * column) and the 1-based column into *column. */
int tenon__filter_compile(const char *expr, tenon__resolve_fn resolve, void *ud,
                          struct tenon__filter **out, size_t *column, char *err,
                          size_t errlen);

/* 1 when the current event matches, else 0. Short-circuits: a field is
 * asked for only when the expression still needs it. */
int tenon__filter_eval(const struct tenon__filter *f, tenon__get_fn get,
                       void *ud);

/* The distinct slots the filter names, in order of first appearance (for
 * JSON output); the array is the filter's. */
size_t tenon__filter_slots(const struct tenon__filter *f,
                           const uint32_t **slots);

/* The slots the filter asks for next, in order, when the first comparison
 * on `slot` holds and each after it too (its chain of `and`s): at most
 * `max` into out[], not `slot` itself nor repeats. A hint, so that a getter
 * can extract them in the call that extracts `slot`. */
size_t tenon__filter_next(const struct tenon__filter *f, uint32_t slot,
                          uint32_t *out, size_t max);

void tenon__filter_free(struct tenon__filter *f);

/* The field reference at `s`: a name ([A-Za-z_][A-Za-z0-9_.]*, ending in a
 * letter, digit or '_') optionally followed by "[arg]" (arg: any bytes but
 * ']' and NUL). Returns the bytes it covers (0: no name at `s`; or,
 * with *bad set, an unclosed '['), the name's length in *namelen and the
 * argument's start and length in *arg and *arglen (*arg NULL when there
 * are no brackets). Shared by the filter and the output format. */
size_t tenon__field_token(const char *s, size_t *namelen, const char **arg,
                          size_t *arglen, int *bad);

#endif /* TENON_EVENTS_H */
