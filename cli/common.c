/* Option parsing, context set-up and JSON output shared by the commands. */
#include "tool.h"

#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- text output ----------------------------------------------------------
 *
 * Everything the commands print as text goes through tool_printf(), whose
 * strings are escaped by tenon__esc_char() (src/util.c, which also escapes
 * the reasons the library keeps): no file name, static-info value or message
 * quoting one can move the cursor, recolour the terminal or start a line of
 * its own. docs/cli.md, "Escaping", describes the scheme for users.
 */

/* Columns taken by the escaped form of the first `max` bytes of `s` (all of
 * it when max is negative). */
static size_t esc_width(const char *s, int max)
{
    size_t cols = 0, len;
    char buf[TENON__ESC_MAX];
    for (const char *p = s; *p && (max < 0 || p - s < max);) {
        p += tenon__esc_char(p, buf, &len);
        cols += buf[0] == '\\' ? len : 1; /* an escape, or one character */
    }
    return cols;
}

static void esc_put(FILE *f, const char *s, int max)
{
    size_t len;
    char buf[TENON__ESC_MAX];
    for (const char *p = s; *p && (max < 0 || p - s < max);) {
        p += tenon__esc_char(p, buf, &len);
        fwrite(buf, 1, len, f);
    }
}

int tool_width(const char *s) { return s ? (int)esc_width(s, -1) : 6; }

/* One conversion of tool_vprintf: `s` (escaped unless `raw`) padded to
 * `width` columns. */
static void put_padded(FILE *f, const char *s, int raw, int left, int width,
                       int prec)
{
    int cols = raw ? (int)strlen(s) : (int)esc_width(s, prec);
    if (!left)
        for (int i = cols; i < width; i++)
            putc(' ', f);
    if (raw)
        fputs(s, f);
    else
        esc_put(f, s, prec);
    if (left)
        for (int i = cols; i < width; i++)
            putc(' ', f);
}

void tool_vprintf(FILE *f, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        int left = 0, width = 0, prec = -1, size = 0;
        char num[32];
        const char *s;
        if (*p != '%' || *++p == '%') {
            putc(*p, f);
            continue;
        }
        if (*p == '-')
            left = 1, p++;
        if (*p == '*')
            width = va_arg(ap, int), p++;
        for (; *p >= '0' && *p <= '9'; p++)
            width = width * 10 + (*p - '0');
        if (*p == '.' && p[1] == '*')
            prec = va_arg(ap, int), p += 2;
        else if (*p == '.')
            for (prec = 0, p++; *p >= '0' && *p <= '9'; p++)
                prec = prec * 10 + (*p - '0');
        if (*p == 'z')
            size = *p++;
        switch (*p) {
        case 's':
            s = va_arg(ap, const char *);
            put_padded(f, s ? s : "(null)", 0, left, width, prec);
            continue;
        case 'd': snprintf(num, sizeof num, "%d", va_arg(ap, int)); break;
        case 'u':
            if (size != 'z')
                abort();
            snprintf(num, sizeof num, "%zu", va_arg(ap, size_t));
            break;
        default: abort(); /* a conversion this printf does not have */
        }
        put_padded(f, num, 1, left, width, -1);
    }
}

void tool_printf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tool_vprintf(f, fmt, ap);
    va_end(ap);
}

void tool_error(const char *cmd, const char *fmt, ...)
{
    char small[512], *msg = small;
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)))
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    /* The message goes where the command's output went so far, after it:
     * stdout may be a buffered pipe. */
    fflush(stdout);
    tool_printf(stderr, "tenon %s: %s\n", cmd, msg ? msg : small);
    if (msg != small)
        free(msg);
}

void tool_log(void *ud, int level, const char *origin, const char *msg)
{
    (void)ud;
    fflush(stdout);
    tool_printf(stderr, "%s: %s: %s\n", origin, tenon_log_level_name(level),
                msg);
}

/* ---- suggestions --------------------------------------------------------- */

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of neighbours ("lsit" is one from "list"), each costing one;
 * anything above `cap` counts as cap + 1. */
static size_t distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][64], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    if (la >= 64 || lb >= 64 || (la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], d = prev[j - 1] + cost;
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *tool_nearest(const char *typed, const char *const *names, size_t n)
{
    /* One mistake per three characters, at least one: "lsit" finds "list",
     * "frobnicate" finds nothing. */
    size_t cap = strlen(typed) / 3 ? strlen(typed) / 3 : 1, best = cap + 1;
    const char *near = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(typed, names[i], cap);
        if (d < best)
            best = d, near = names[i];
    }
    return near;
}

static int add_path(const char *cmd, struct tool_opts *o, const char *dir)
{
    if (!dir || !*dir) {
        tool_error(cmd, "--plugin-path needs a directory");
        return EXIT_USAGE;
    }
    if (o->npaths == MAX_PATHS) {
        tool_error(cmd, "at most %d --plugin-path options", MAX_PATHS);
        return EXIT_USAGE;
    }
    o->paths[o->npaths++] = dir;
    return 0;
}

static void unknown_option(const char *cmd, const char *opt, unsigned flags)
{
    static const struct {
        unsigned flag;
        const char *name;
    } known[] = {{0, "--help"},
                 {OPT_PATH, "--plugin-path"},
                 {OPT_JSON, "--json"},
                 {OPT_ALL, "--all"},
                 {OPT_TARGETS, "--targets"},
                 {OPT_DIR, "--dir"},
                 {OPT_NO_CACHE, "--no-cache"},
                 {OPT_PROVIDES, "--provides"}};
    const char *names[sizeof known / sizeof *known], *near;
    size_t n = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!known[i].flag || (flags & known[i].flag))
            names[n++] = known[i].name;
    if ((near = tool_nearest(opt, names, n)))
        tool_error(cmd, "unknown option '%s'; did you mean '%s'?", opt, near);
    else
        tool_error(cmd, "unknown option '%s'; see 'tenon %s --help'", opt, cmd);
}

/* Is `a` the option `name`, as "NAME" or "NAME=VALUE"? */
static int is_option(const char *a, const char *name)
{
    size_t len = strlen(name);
    return strncmp(a, name, len) == 0 && (a[len] == '\0' || a[len] == '=');
}

/* The value of the option at argv[*i]: after its '=', else the next
 * argument (*i moves past it). NULL, after saying so, when there is none. */
static const char *option_value(const char *cmd, const char *name,
                                const char *what, int argc, char **argv, int *i)
{
    const char *eq = strchr(argv[*i], '=');
    const char *v = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (!v || !*v) {
        tool_error(cmd, "%s needs %s; see 'tenon %s --help'", name, what, cmd);
        return NULL;
    }
    return v;
}

int tool_parse(const char *cmd, const char *usage, int argc, char **argv,
               unsigned flags, int max_positional, struct tool_opts *o)
{
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_operands || a[0] != '-' || a[1] == '\0') {
            if (o->npositional >= max_positional) {
                tool_error(cmd,
                           "unexpected operand '%s'; see 'tenon %s --help'", a,
                           cmd);
                return EXIT_USAGE;
            }
            o->positional[o->npositional++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_operands = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
        } else if ((flags & OPT_PATH) && strcmp(a, "--plugin-path") == 0) {
            if (add_path(cmd, o, i + 1 < argc ? argv[++i] : NULL))
                return EXIT_USAGE;
        } else if ((flags & OPT_PATH) &&
                   strncmp(a, "--plugin-path=", 14) == 0) {
            if (add_path(cmd, o, a + 14))
                return EXIT_USAGE;
        } else if ((flags & OPT_JSON) && strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if ((flags & OPT_ALL) && strcmp(a, "--all") == 0) {
            o->all = 1;
        } else if ((flags & OPT_TARGETS) && strcmp(a, "--targets") == 0) {
            o->targets = 1;
        } else if ((flags & OPT_NO_CACHE) && strcmp(a, "--no-cache") == 0) {
            o->no_cache = 1;
        } else if ((flags & OPT_DIR) && is_option(a, "--dir")) {
            if (!(o->dir = option_value(cmd, "--dir", "a directory", argc, argv,
                                        &i)))
                return EXIT_USAGE;
        } else if ((flags & OPT_PROVIDES) && is_option(a, "--provides")) {
            if (!(o->provides = option_value(
                      cmd, "--provides", "an interface id", argc, argv, &i)))
                return EXIT_USAGE;
        } else {
            unknown_option(cmd, a, flags);
            return EXIT_USAGE;
        }
    }
    if (o->help) {
        fputs(usage, stdout);
        return TOOL_DONE;
    }
    return 0;
}

tenon_t *tool_open(const struct tool_opts *o)
{
    struct tenon_options opts;
    tenon_t *t;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.log_level = -1; /* TENON_LOG from the environment */
    opts.log_fn = tool_log;
    opts.no_cache = o->no_cache;
    if (o->npaths) {
        opts.plugin_paths = o->paths;
        opts.plugin_path_count = o->npaths;
    }
    if (tenon_open(&t, &opts) != 0) {
        fflush(stdout);
        tool_printf(stderr, "tenon: %s\n", tenon_last_error());
        return NULL;
    }
    return t;
}

int tool_print_json(json_t *v)
{
    int rc =
        v ? json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
    json_decref(v);
    if (rc == 0)
        fputc('\n', stdout);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

json_t *tool_json_str(const char *s)
{
    json_t *v;
    char *copy;
    if (!s)
        return json_null();
    if ((v = json_string(s)))
        return v;
    /* Not UTF-8 (a file name can be any bytes): show it with '?' for each
     * byte outside ASCII rather than drop it. */
    if (!(copy = strdup(s)))
        return json_null();
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    v = json_string(copy);
    free(copy);
    return v ? v : json_null();
}

json_t *tool_plugin_json(const tenon_plugin_t *p)
{
    json_t *o = json_object(), *prov = json_array();
    int status = tenon_plugin_status(p);
    size_t n = tenon_plugin_provides_count(p);

    for (size_t i = 0; status == TENON_AVAILABLE && i < n; i++)
        json_array_append_new(prov, json_string(tenon_plugin_provides(p, i)));
    json_object_set_new(o, "name", tool_json_str(tenon_plugin_name(p)));
    json_object_set_new(o, "version", tool_json_str(tenon_plugin_version(p)));
    json_object_set_new(o, "path", tool_json_str(tenon_plugin_path(p)));
    /* Scripts get two states; a shadowed file is unavailable, flagged. */
    json_object_set_new(
        o, "status",
        json_string(status == TENON_AVAILABLE ? "available" : "unavailable"));
    if (status == TENON_SHADOWED)
        json_object_set_new(o, "shadowed", json_true());
    if (status != TENON_AVAILABLE)
        json_object_set_new(o, "reason", json_string(tenon_plugin_reason(p)));
    json_object_set_new(o, "provides", prov);
    if (tenon_plugin_abi(p) >= 0)
        json_object_set_new(o, "abi", json_integer(tenon_plugin_abi(p)));
    else
        json_object_set_new(o, "abi", json_null());
    if (status == TENON_AVAILABLE) {
        json_object_set_new(o, "description",
                            tool_json_str(tenon_plugin_get(p, "description")));
        json_object_set_new(o, "accepts",
                            tool_json_str(tenon_plugin_get(p, "accepts")));
        json_object_set_new(o, "rank", json_integer(tenon_plugin_rank(p)));
    }
    return o;
}
