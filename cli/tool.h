/* Shared pieces of the tenon command-line tool. */
#ifndef TENON_TOOL_H
#define TENON_TOOL_H

#include <tenon/host.h>
#include <tenon/osi.h>

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses. */
#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define MAX_PATHS         64
#define TOOL_MAX_OPERANDS 256
#define TOOL_MAX_STEPS    64

/* Options every command that scans takes, plus the flags it knows. */
struct tool_opts {
    const char *paths[MAX_PATHS];
    size_t npaths;
    int json, all, help, targets;
    int no_cache;    /* --no-cache: neither read nor write the scan cache */
    const char *dir; /* --dir */
    const char *provides; /* --provides */
    const char *positional[TOOL_MAX_OPERANDS];
    int npositional;
    /* The chain, in command-line order: each step's text and whether it
     * came as an OS step (-o, 'o') or a connector step (-c, 'c'). */
    const char *steps[TOOL_MAX_STEPS];
    char step_kind[TOOL_MAX_STEPS];
    size_t nsteps;
    int full, raw, force; /* -f/--full, --raw, --force */
    const char *output;   /* -O/--output */
};

/* Flags a command accepts besides --help. */
enum { OPT_JSON = 1, OPT_ALL = 2, OPT_TARGETS = 4, OPT_DIR = 8 };
#define OPT_NO_CACHE 0x100  /* --no-cache, for the commands that scan */
#define OPT_PROVIDES 0x200  /* --provides ID (list) */
#define OPT_PATH     0x400  /* --plugin-path DIR, for the commands that scan */
#define OPT_CHAIN    0x800  /* -o/--os and -c/--connector: chain.c */
#define OPT_FULL     0x1000 /* -f/--full (ps) */
#define OPT_RAW      0x2000 /* --raw (read) */
#define OPT_OUTPUT   0x4000 /* -O/--output FILE and --force (dump) */

/* Returned by tool_parse() when it printed the usage for --help: the command
 * is done and exits 0. */
#define TOOL_DONE (-1)

/* Parse argv[1..] of a command. Prints `usage` and returns TOOL_DONE for
 * --help; prints the problem and returns EXIT_USAGE on an unknown option or
 * too many operands; else returns 0. */
int tool_parse(const char *cmd, const char *usage, int argc, char **argv,
               unsigned flags, int max_positional, struct tool_opts *o);

/* The entry of `names` nearest to `typed` when one is close enough to be a
 * typing mistake (edit distance, a swap of two neighbours counting as one),
 * else NULL. */
const char *tool_nearest(const char *typed, const char *const *names, size_t n);

/* Open a context with the search path the options give. Prints the error and
 * returns NULL on failure. */
tenon_t *tool_open(const struct tool_opts *o);

/* Print an error as "tenon CMD: message", the message escaped as
 * tool_printf() escapes strings, after flushing stdout. */
void tool_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* fprintf for text output: every %s argument is written escaped (control
 * characters, bytes that are not UTF-8 and bidirectional controls become
 * \n, \t, \033 ...; see common.c and docs/cli.md, "Escaping"), and a
 * width counts the columns of the escaped form. Supports %s, %d and %zu
 * with the flag '-', a width or '*', and a precision on %s (the bytes of
 * the argument to use), and %%. Any other conversion aborts. */
void tool_printf(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tool_vprintf(FILE *f, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The columns tool_printf() gives `s`. */
int tool_width(const char *s);

/* A tenon_log_fn writing "ORIGIN: LEVEL: MESSAGE" to stderr, escaped: the
 * library's messages quote file names. tool_open() installs it. */
void tool_log(void *ud, int level, const char *origin, const char *msg);

/* Write `v` (taken over) as indented JSON to stdout. */
int tool_print_json(json_t *v);

/* A JSON string for `s` (null for NULL), with bytes that are not UTF-8
 * replaced so nothing is dropped. */
json_t *tool_json_str(const char *s);

/* The JSON object describing one inventory entry. */
json_t *tool_plugin_json(const tenon_plugin_t *p);

/* Command entry points: argv[0] is the command name. */
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/* Remove "NAME VALUE" or "NAME=VALUE" (options tool_parse does not know)
 * from argv, before any "--", storing the last VALUE in *value. Prints the
 * problem and returns EXIT_USAGE when VALUE is missing; else 0. */
int tool_take_option(const char *cmd, int *argc, char **argv, const char *name,
                     const char **value);

/* Probe `file` as the inventory would (no plugin code runs) and check that
 * the open `fd` is that same file. NULL only when out of memory; else the
 * caller frees it with tenon__plugin_free(). */
struct tenon_plugin *tool_probe(const char *file, int fd);
struct tenon__keyring;
/* Load the keyring of t's trust directories into kr and log each of its
 * problems as a warning (TENON_LOG permitting). EXIT_OK, or EXIT_FAIL with
 * the error printed as "tenon CMD: ..."; free kr with
 * tenon__keyring_free() after EXIT_OK. */
int tool_keyring(const char *cmd, tenon_t *t, struct tenon__keyring *kr);

int cmd_install(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_fields(int argc, char **argv);

/* ---- introspection: chain.c ---------------------------------------------- */

/* Does a provider's struct (whose first member is its struct_size) cover
 * `member`? Members are appended over time: read one only when it does. */
#define TOOL_HAS(s, type, member)                                              \
    ((s)->struct_size >= offsetof(type, member) + sizeof((s)->member))

/* The usage lines of the chain options, shared by the commands that take
 * them. */
#define TOOL_CHAIN_HELP                                                        \
    "  -o, --os NAME[:ARGS]          an OS step: a plugin providing\n"         \
    "                                tenon.osi/1 (repeatable)\n"               \
    "  -c, --connector NAME[:ARGS]   a connector step: a plugin providing\n"   \
    "                                tenon.memory/1 (repeatable)\n"            \
    "                                Steps are chained in the order given,\n"  \
    "                                each reading from the one before\n"

/* A number a user typed: decimal, or hexadecimal after 0x. With
 * `suffixes`, a k, m or g after it multiplies by 1024, 1024^2 or 1024^3.
 * Returns -1 when `s` is not one or does not fit 64 bits. */
int tool_parse_u64(const char *s, int suffixes, uint64_t *out);

/* Create the instance a command reads from, which must provide interface
 * `need`: the chain the -o and -c options of `o` name, else the best
 * provider of `need` (tenon_create_provider()). Prints the error and
 * returns EXIT_USAGE when the options themselves are wrong (a step of the
 * wrong kind, a chain that ends in a plugin without `need`, one whose
 * accepts is not met), EXIT_FAIL when creating it failed; else 0, *out
 * holding the last instance (tenon_destroy() releases the chain) and *vt
 * and *obj its `need` interface. */
int tool_chain_open(const char *cmd, tenon_t *t, const struct tool_opts *o,
                    const char *need, tenon_instance_t **out, const void **vt,
                    void **obj);

/* Print a failed call of a provider as "tenon CMD: MESSAGE", MESSAGE being
 * what the instance left with set_error(), else "WHAT: " and the code's
 * text. Returns EXIT_FAIL. */
int tool_provider_error(const char *cmd, tenon_instance_t *inst, int rc,
                        const char *what);

/* The end every listing command shares, once the provider's listing
 * returned `rc` (negative: its error, printed with tool_provider_error()
 * and `what`; positive: a JSON allocation failed): prints `arr` (may be
 * NULL: text output) when all went well, then frees it, destroys `inst`
 * and closes `t`. Returns the exit status. */
int tool_listing_end(const char *cmd, tenon_t *t, tenon_instance_t *inst,
                     int rc, const char *what, json_t *arr);

/* "1234" as a process id; prints the problem and returns EXIT_USAGE when
 * it is not a decimal number from 0 to 4294967294. */
int tool_parse_pid(const char *cmd, const char *s, uint32_t *pid);

int cmd_ps(int argc, char **argv);
int cmd_threads(int argc, char **argv);
int cmd_maps(int argc, char **argv);
int cmd_modules(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_providers(int argc, char **argv);
int cmd_policy(int argc, char **argv);

#endif
