/* tenon run: an event pipeline from the command line. */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon run -s SOURCE[:ARGS] [--open PARAMS] [-p PLUGIN[:ARGS]]...\n"
    "                 [-f FILTER] [-F FORMAT] [--json] [-n MAX] [--stats]\n"
    "                 [--config PLUGIN=JSON]... [--no-cache]\n"
    "                 [--plugin-path DIR]...\n"
    "\n"
    "Read events from SOURCE (a plugin providing tenon.source/1), parse them\n"
    "with the plugins that parse, keep those matching FILTER and print one\n"
    "line for each. Fields come from SOURCE itself when it extracts, from\n"
    "the -p plugins, and the built-ins (evt.num, evt.time, ...): 'tenon\n"
    "fields' lists them. A SOURCE that reads from an OS (procwatch) is\n"
    "given the best-ranked provider of tenon.osi/1.\n"
    "\n"
    "  -s, --source SOURCE[:ARGS]   the event source\n"
    "  --open PARAMS                what the source opens (for jsonl: a\n"
    "                               file, or - for stdin)\n"
    "  -p, --plugin PLUGIN[:ARGS]   add a plugin that parses, extracts,\n"
    "                               emits async events or listens\n"
    "                               (repeatable)\n"
    "  -f, --filter FILTER          Falco's condition syntax, e.g.\n"
    "                               \"json.value[/user] = root and\n"
    "                               json.number[/size] > 5000\"\n"
    "  -F, --format FORMAT          the output line: %FIELD and %FIELD[ARG]\n"
    "                               become values, <NA> when missing, %% is\n"
    "                               a percent sign (default: \"%evt.num\n"
    "                               %evt.time %evt.source %evt.plugin\n"
    "                               %evt.len\")\n"
    "  --json                       one JSON object per matching event:\n"
    "                               evt.num, evt.time and every field of\n"
    "                               the format and the filter\n"
    "  -n, --max MAX                stop after reading MAX events\n"
    "  --stats                      at the end, print to stderr the events\n"
    "                               read, matched and dropped, events/s,\n"
    "                               time in each plugin and its metrics\n"
    "  --config PLUGIN=JSON         the JSON config of PLUGIN (the source or\n"
    "                               a -p plugin); @FILE reads it from FILE\n"
    "  --no-cache                   neither read nor write the scan cache\n"
    "  --plugin-path DIR            search only DIR (repeatable)\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal and the source\n"
    "reports progress. Ctrl-C stops the run cleanly (the stats are still\n"
    "printed).\n"
    "\n"
    "Exit status: 0 when the source ended or MAX events were read, 1 when a\n"
    "plugin failed, 2 on a usage error (a bad filter or format is one,\n"
    "with its column), 130 when interrupted.\n";

#define MAX_PLUGINS 64

struct run_opts {
    const char *source, *open, *filter, *format;
    const char *plugins[MAX_PLUGINS];
    size_t nplugins;
    const char *configs[MAX_PLUGINS]; /* "PLUGIN=JSON" */
    size_t nconfigs;
    uint64_t max;
    int stats;
};

static tenon_pipeline_t *volatile running;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    if (running)
        tenon_pipeline_stop(running);
}

/* The value of option argv[*i] named `name` (short `s`, may be NULL):
 * "-s V", "--name V" or "--name=V". NULL when argv[*i] is not it; sets
 * *bad when it is but has no value. */
static const char *opt(int argc, char **argv, int *i, const char *s,
                       const char *name, int *bad)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if ((s && strcmp(a, s) == 0) || strcmp(a, name) == 0) {
        if (*i + 1 >= argc) {
            tool_error("run", "%s needs a value; see 'tenon run --help'", a);
            *bad = 1;
            return NULL;
        }
        return argv[++*i];
    }
    if (strncmp(a, name, n) == 0 && a[n] == '=')
        return a + n + 1;
    return NULL;
}

/* Take run's own options out of argv, leaving the common ones (and
 * anything unknown, which tool_parse() reports). */
static int parse_run(int *argc, char **argv, struct run_opts *r)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v;
        int bad = 0;
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if ((v = opt(*argc, argv, &i, "-s", "--source", &bad)))
            r->source = v;
        else if (!bad && (v = opt(*argc, argv, &i, NULL, "--open", &bad)))
            r->open = v;
        else if (!bad && (v = opt(*argc, argv, &i, "-f", "--filter", &bad)))
            r->filter = v;
        else if (!bad && (v = opt(*argc, argv, &i, "-F", "--format", &bad)))
            r->format = v;
        else if (!bad && (v = opt(*argc, argv, &i, "-p", "--plugin", &bad))) {
            if (r->nplugins == MAX_PLUGINS) {
                tool_error("run", "at most %d -p options", MAX_PLUGINS);
                return EXIT_USAGE;
            }
            r->plugins[r->nplugins++] = v;
        } else if (!bad && (v = opt(*argc, argv, &i, NULL, "--config", &bad))) {
            if (!strchr(v, '=') || v[0] == '=') {
                tool_error("run",
                           "--config '%s': expected PLUGIN=JSON or "
                           "PLUGIN=@FILE",
                           v);
                return EXIT_USAGE;
            }
            if (r->nconfigs == MAX_PLUGINS) {
                tool_error("run", "at most %d --config options", MAX_PLUGINS);
                return EXIT_USAGE;
            }
            r->configs[r->nconfigs++] = v;
        } else if (!bad && (v = opt(*argc, argv, &i, "-n", "--max", &bad))) {
            if (tool_parse_u64(v, 0, &r->max) || r->max == 0) {
                tool_error("run",
                           "-n '%s': expected a number of events, 1 or more",
                           v);
                return EXIT_USAGE;
            }
        } else if (!bad && strcmp(argv[i], "--stats") == 0)
            r->stats = 1;
        else if (!bad)
            argv[out++] = argv[i];
        if (bad)
            return EXIT_USAGE;
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* The text of a file named by --config PLUGIN=@FILE (a regular file,
 * not a directory, FIFO or device); malloc'd. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return NULL;
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *b = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!b || cap > (16u << 20)) {
                free(b ? b : buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* The config given for plugin `name` (NULL when none): malloc'd. Sets
 * *bad after saying why when an @FILE cannot be read. */
static char *config_for(const struct run_opts *r, const char *spec, int *bad)
{
    size_t nlen = strcspn(spec, ":@");
    for (size_t i = r->nconfigs; i-- > 0;) {
        const char *c = r->configs[i], *eq = strchr(c, '=');
        char *text;
        if ((size_t)(eq - c) != nlen || strncmp(c, spec, nlen) != 0)
            continue;
        if (eq[1] != '@')
            return strdup(eq + 1);
        if (!(text = read_file(eq + 2))) {
            tool_error(
                "run",
                "--config %.*s: cannot read '%s'; expected a regular file of "
                "at most 16 MiB",
                (int)nlen, c, eq + 2);
            *bad = 1;
        }
        return text;
    }
    return NULL;
}

/* Does `spec` ("name[@version][:args]") name plugin `name` (nlen)? */
static int names(const char *spec, const char *name, size_t nlen)
{
    return strcspn(spec, ":@") == nlen && strncmp(spec, name, nlen) == 0;
}

/* Every --config must name the source or a -p plugin: a typo would
 * otherwise leave the plugin on its defaults without a word. */
static int check_configs(const struct run_opts *r)
{
    for (size_t i = 0; i < r->nconfigs; i++) {
        const char *c = r->configs[i];
        size_t nlen = (size_t)(strchr(c, '=') - c);
        int found = names(r->source, c, nlen);
        for (size_t k = 0; k < r->nplugins && !found; k++)
            found = names(r->plugins[k], c, nlen);
        if (!found) {
            tool_error("run",
                       "--config %.*s: no plugin of that name in the "
                       "pipeline (the source or a -p plugin)",
                       (int)nlen, c);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int has(const tenon_plugin_t *p, const char *id)
{
    for (size_t i = 0; i < tenon_plugin_provides_count(p); i++)
        if (strcmp(tenon_plugin_provides(p, i), id) == 0)
            return 1;
    return 0;
}

/* Check a spec against the inventory: EXIT_USAGE for the user's mistakes,
 * EXIT_FAIL for a plugin that is not usable. */
static int check_spec(tenon_t *t, const char *what, const char *spec,
                      const tenon_plugin_t **p)
{
    int rc = tenon_check(t, spec, p);
    if (rc == 0)
        return 0;
    tool_error("run", "%s '%s': %s", what, spec, tenon_last_error());
    return rc == TENON_EARG || rc == TENON_EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

/* Create an instance for `spec`, with its input when it accepts one. */
static int make(tenon_t *t, const struct run_opts *r, const char *what,
                const char *spec, const tenon_plugin_t *p,
                tenon_instance_t **out)
{
    const char *accepts = tenon_plugin_get(p, "accepts");
    tenon_instance_t *input = NULL;
    int bad = 0, rc;
    char *config = config_for(r, spec, &bad);
    if (bad)
        return EXIT_USAGE;
    if (accepts && tenon_create_provider(t, accepts, NULL, &input)) {
        tool_error("run", "the input of %s '%s': %s", what, spec,
                   tenon_last_error());
        free(config);
        return EXIT_FAIL;
    }
    rc = tenon_create_config(t, spec, config, input, out);
    tenon_destroy(input);
    free(config);
    if (rc) {
        tool_error("run", "%s '%s': %s", what, spec, tenon_last_error());
        return rc == TENON_EINVAL && strstr(tenon_last_error(), "config of ")
                   ? EXIT_USAGE
                   : EXIT_FAIL;
    }
    return 0;
}

/* "bad filter at column 7: ..." and the expression with a caret. */
static void show_column(const char *what, const char *text, size_t col)
{
    tool_error("run", "bad %s at column %zu: %s", what, col,
               tenon_last_error());
    if (strlen(text) < 200 && !strchr(text, '\n')) {
        /* the caret goes under the character: the escaped width of what
         * comes before the column, not its bytes */
        char *before = strndup(text, col > 1 ? col - 1 : 0);
        int width = before ? tool_width(before) : (int)col - 1;
        free(before);
        tool_printf(stderr, "  %s\n  %*s^\n", text, width, "");
    }
}

/* errno of the first failed write of the output, 0 while none failed */
static int write_error;

static int print_line(void *ud, const struct tenon_event_input *ev,
                      const char *text, size_t len)
{
    int json = *(int *)ud;
    size_t plain = 0;
    (void)ev;
    if (!json) /* printable ASCII needs no escaping: the common case, fast */
        while (plain < len && (unsigned char)text[plain] >= 0x20 &&
               (unsigned char)text[plain] < 0x7f && text[plain] != '\\')
            plain++;
    if (json || plain == len) {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    } else {
        tool_printf(stdout, "%s\n", text);
    }
    if (ferror(stdout)) {
        write_error = errno ? errno : EIO;
        return TENON_EIO;
    }
    return 0;
}

/* The progress bar, redrawn about ten times a second. */
static int draw_progress(void *ud, tenon_pipeline_t *p)
{
    int *drawn = ud;
    const char *text = NULL;
    double f = tenon_pipeline_progress(p, &text);
    int fill;
    if (f < 0)
        return 0;
    fill = (int)(f * 30 + 0.5);
    fprintf(stderr, "\r[%.*s%*s] %5.1f%% ", fill,
            "==============================", 30 - fill, "", f * 100);
    tool_printf(stderr, "%.40s\033[K", text ? text : "");
    fflush(stderr);
    *drawn = 1;
    return 0;
}

static const char *caps_text(unsigned caps, char *buf, size_t len)
{
    static const char *const names[] = {"source", "extract", "parse", "async",
                                        "listen"};
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < 5; i++)
        if (caps & (1u << i))
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
                                  n ? ", " : "", names[i]);
    return buf;
}

/* A metric's value as text, exactly, by its own type; "null" for a NaN
 * (and `integer` says whether it is one). */
static void metric_text(const struct tenon_metric *m, char *buf, size_t len,
                        int *integer)
{
    double d = 0;
    *integer = 1;
    switch (m->value_type) {
    case TENON_METRIC_U32: snprintf(buf, len, "%" PRIu32, m->value.u32); return;
    case TENON_METRIC_S32: snprintf(buf, len, "%" PRId32, m->value.s32); return;
    case TENON_METRIC_U64: snprintf(buf, len, "%" PRIu64, m->value.u64); return;
    case TENON_METRIC_S64: snprintf(buf, len, "%" PRId64, m->value.s64); return;
    case TENON_METRIC_I: snprintf(buf, len, "%d", m->value.i); return;
    case TENON_METRIC_D: d = m->value.d; break;
    case TENON_METRIC_F: d = m->value.f; break;
    default: snprintf(buf, len, "null"); return;
    }
    *integer = 0;
    if (d != d || d - d != 0) /* NaN, infinities: no JSON number */
        snprintf(buf, len, "null");
    else
        snprintf(buf, len, "%.17g", d);
}

/* A metric's JSON value: an integer where jansson has one (a u64 past
 * 2^63 is a real, its last digits lost; the text output keeps them),
 * null for a NaN or an infinity. */
static json_t *metric_json(const struct tenon_metric *m, const char *text,
                           int integer)
{
    if (m->value_type == TENON_METRIC_U64 && m->value.u64 > INT64_MAX)
        return json_real((double)m->value.u64);
    if (integer)
        return json_integer((json_int_t)strtoll(text, NULL, 10));
    return strcmp(text, "null") ? json_real(strtod(text, NULL)) : json_null();
}

static int print_metric(void *ud, const tenon_instance_t *inst,
                        const struct tenon_metric *m)
{
    json_t *arr = ud;
    char value[64];
    int integer;
    (void)inst;
    if (m->value_type > TENON_METRIC_I)
        return 0;
    metric_text(m, value, sizeof value, &integer);
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "name", tool_json_str(m->name));
        json_object_set_new(
            o, "type",
            json_string(m->type == TENON_METRIC_GAUGE ? "gauge" : "counter"));
        json_object_set_new(o, "value", metric_json(m, value, integer));
        json_array_append_new(arr, o);
    } else {
        tool_printf(stderr, "    %s = ", m->name);
        fprintf(stderr, "%s (%s)\n", value,
                m->type == TENON_METRIC_GAUGE ? "gauge" : "counter");
    }
    return 0;
}

static void print_stats(tenon_pipeline_t *p, int json)
{
    struct tenon_pipeline_stats st = {.struct_size = sizeof st};
    double secs, rate;
    json_t *o = NULL, *plugins = NULL;
    tenon_pipeline_stats(p, &st);
    secs = (double)st.elapsed_ns / 1e9;
    rate = secs > 0 ? (double)st.read / secs : 0;
    if (json) {
        o = json_object();
        json_object_set_new(o, "read", json_integer((json_int_t)st.read));
        json_object_set_new(o, "async", json_integer((json_int_t)st.async));
        json_object_set_new(o, "matched", json_integer((json_int_t)st.matched));
        json_object_set_new(o, "dropped", json_integer((json_int_t)st.dropped));
        json_object_set_new(o, "errors", json_integer((json_int_t)st.errors));
        json_object_set_new(o, "seconds", json_real(secs));
        json_object_set_new(o, "events_per_second", json_real(rate));
        json_object_set_new(o, "plugins", plugins = json_array());
    } else {
        fprintf(stderr,
                "events read: %llu (async %llu), matched: %llu, dropped: "
                "%llu, errors: %llu\n"
                "time: %.3f s, %.0f events/s\n",
                (unsigned long long)st.read, (unsigned long long)st.async,
                (unsigned long long)st.matched, (unsigned long long)st.dropped,
                (unsigned long long)st.errors, secs, rate);
    }
    for (size_t i = 0; i < tenon_pipeline_plugin_count(p); i++) {
        struct tenon_pipeline_plugin_stats ps = {.struct_size = sizeof ps};
        char caps[64];
        tenon_instance_t *inst;
        if (tenon_pipeline_plugin_stats(p, i, &ps))
            continue;
        inst = (tenon_instance_t *)ps.inst;
        const char *name = tenon_plugin_name(tenon_instance_plugin(inst));
        caps_text(ps.caps, caps, sizeof caps);
        if (json) {
            json_t *po = json_object(), *m = json_array();
            json_object_set_new(po, "plugin", tool_json_str(name));
            json_object_set_new(po, "capabilities", json_string(caps));
            json_object_set_new(po, "calls",
                                json_integer((json_int_t)ps.calls));
            json_object_set_new(po, "errors",
                                json_integer((json_int_t)ps.errors));
            json_object_set_new(po, "seconds",
                                json_real((double)ps.time_ns / 1e9));
            tenon_metrics(inst, print_metric, m);
            json_object_set_new(po, "metrics", m);
            json_array_append_new(plugins, po);
        } else {
            tool_printf(stderr, "plugin %s (%s): ", name, caps);
            fprintf(stderr, "%llu calls, %llu errors, %.3f ms\n",
                    (unsigned long long)ps.calls, (unsigned long long)ps.errors,
                    (double)ps.time_ns / 1e6);
            tenon_metrics(inst, print_metric, NULL);
        }
    }
    if (o) {
        json_t *w = json_object();
        json_object_set_new(w, "stats", o);
        json_dumpf(w, stderr, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stderr);
        json_decref(w);
    }
}

/* Build the pipeline: the source, the -p plugins, filter and output. */
static int build(tenon_t *t, const struct run_opts *r, int *json,
                 tenon_pipeline_t **out)
{
    const tenon_plugin_t *sp, *pp;
    tenon_instance_t *src, *inst;
    tenon_pipeline_t *p;
    size_t col = 0;
    int rc;

    if ((rc = check_spec(t, "-s", r->source, &sp)))
        return rc;
    if (!has(sp, TENON_SOURCE_ID)) {
        tool_error("run",
                   "-s '%s': plugin '%s' is not an event source (it "
                   "does not provide %s)",
                   r->source, tenon_plugin_name(sp), TENON_SOURCE_ID);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < r->nplugins; i++)
        if ((rc = check_spec(t, "-p", r->plugins[i], &pp)))
            return rc;
    if ((rc = check_configs(r)))
        return rc;
    if ((rc = make(t, r, "source", r->source, sp, &src)))
        return rc;
    rc = tenon_pipeline_new(t, src, &p);
    tenon_destroy(src); /* the pipeline holds it */
    if (rc) {
        tool_error("run", "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < r->nplugins; i++) {
        tenon_check(t, r->plugins[i], &pp);
        if (pp == sp && strcmp(r->plugins[i], tenon_plugin_name(sp)) == 0)
            continue; /* the source already serves its own fields */
        if ((rc = make(t, r, "-p", r->plugins[i], pp, &inst)))
            goto fail;
        rc = tenon_pipeline_add(p, inst);
        tenon_destroy(inst);
        if (rc) {
            tool_error("run", "-p '%s': %s", r->plugins[i], tenon_last_error());
            rc = EXIT_USAGE;
            goto fail;
        }
    }
    if ((rc = tenon_pipeline_filter(p, r->filter, &col))) {
        show_column("filter", r->filter, col);
        rc = rc == TENON_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
        goto fail;
    }
    if ((rc = tenon_pipeline_output(
             p, *json ? TENON_OUTPUT_JSON : TENON_OUTPUT_TEXT, r->format, &col,
             print_line, json))) {
        show_column("format", r->format ? r->format : "", col);
        rc = rc == TENON_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    tenon_pipeline_free(p);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts r = {0};
    struct tool_opts o = {0};
    struct sigaction sa, old;
    tenon_pipeline_t *p = NULL;
    int rc, drawn = 0, progress;
    tenon_t *t;

    if ((rc = parse_run(&argc, argv, &r)))
        return rc;
    rc = tool_parse("run", usage, argc, argv,
                    OPT_JSON | OPT_NO_CACHE | OPT_PATH, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!r.source) {
        tool_error("run", "expected -s SOURCE; see 'tenon run --help'");
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = build(t, &r, &o.json, &p))) {
        tenon_close(t);
        return rc;
    }
    tenon_pipeline_timing(p, r.stats);
    if (tenon_pipeline_open(p, r.open)) {
        tool_error("run", "%s", tenon_last_error());
        tenon_pipeline_free(p);
        tenon_close(t);
        return EXIT_FAIL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    running = p;
    sigaction(SIGINT, &sa, &old);
    progress = isatty(STDERR_FILENO) && tenon_pipeline_progress(p, NULL) >= 0;
    rc = tenon_pipeline_run(p, r.max, progress ? draw_progress : NULL, &drawn);
    sigaction(SIGINT, &old, NULL);
    running = NULL;
    if (drawn)
        fputs("\r\033[K", stderr);
    errno = 0;
    if ((fflush(stdout) || ferror(stdout)) && !write_error)
        write_error = errno ? errno : EIO;
    if (write_error) {
        tool_error("run", "writing the output: %s", strerror(write_error));
        rc = EXIT_FAIL;
    } else if (rc == TENON_EAGAIN && interrupted)
        rc = 130;
    else if (rc) {
        tool_error("run", "%s", tenon_last_error());
        rc = EXIT_FAIL;
    }
    tenon_pipeline_close(p);
    if (r.stats) {
        print_stats(p, o.json);
        errno = 0;
        if ((fflush(stderr) || ferror(stderr)) && rc != EXIT_FAIL) {
            /* no stderr to say it on: the exit status says it */
            rc = EXIT_FAIL;
        }
    }
    tenon_pipeline_free(p);
    tenon_close(t);
    return rc;
}
