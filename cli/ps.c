/* tenon ps: the processes a tenon.osi/1 provider sees. */
#include "tool.h"

#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: tenon ps [-f] [--json] [-o NAME[:ARGS]]... [-c NAME[:ARGS]]...\n"
    "                [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the processes of a system as a tenon.osi/1 provider sees it: the\n"
    "running one (native, the default) or one in a core file\n"
    "(-o coredump:FILE). Columns: PID, PPID, UID, STATE (one letter as\n"
    "ps shows it), START (HH:MM today, MonDD this year, else the year) and\n"
    "NAME; '-' where the provider does not know.\n"
    "\n"
    "  -f, --full                    add CMD, the command line\n"
    "  --json                        print a JSON array of objects with every\n"
    "                                field the provider knows: pid, ppid, "
    "uid,\n"
    "                                state, start_time, start_time_ns, name,\n"
    "                                exe, argv (null when "
    "unknown)\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when the processes cannot be listed, 2 on\n"
    "a usage error.\n";

struct ps {
    int full;
    json_t *arr; /* --json */
    time_t now;
};

/* START as ps(1) shows STIME, local time. */
static const char *start_text(const struct ps *s, uint64_t ns, char buf[16])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm, today;
    if (!ns || !localtime_r(&t, &tm) || !localtime_r(&s->now, &today))
        return "-";
    strftime(buf, 16,
             tm.tm_year != today.tm_year   ? "%Y"
             : tm.tm_yday != today.tm_yday ? "%b%d"
                                           : "%H:%M",
             &tm);
    return buf;
}

static json_t *start_json(uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    char buf[32];
    if (!ns || !gmtime_r(&t, &tm))
        return json_null();
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* A string the provider does not know ("") as JSON null. */
static json_t *known_str(const char *s)
{
    return s && *s ? tool_json_str(s) : json_null();
}

static json_t *process_json(const struct tenon_osi_process *p)
{
    json_t *o = json_object(), *argv = json_null();
    char state[2] = {p->state, 0};
    int has_exe = TOOL_HAS(p, struct tenon_osi_process, exe);
    if (TOOL_HAS(p, struct tenon_osi_process, argc) && p->argc && p->argv) {
        argv = json_array();
        for (size_t i = 0; i < p->argc; i++)
            json_array_append_new(argv, tool_json_str(p->argv[i]));
    }
    json_object_set_new(o, "pid", json_integer(p->pid));
    json_object_set_new(o, "ppid", json_integer(p->ppid));
    json_object_set_new(o, "uid",
                        p->uid == TENON_OSI_UNKNOWN ? json_null()
                                                    : json_integer(p->uid));
    json_object_set_new(o, "state",
                        p->state && p->state != '?' ? tool_json_str(state)
                                                    : json_null());
    json_object_set_new(o, "start_time", start_json(p->start_time_ns));
    json_object_set_new(o, "start_time_ns",
                        p->start_time_ns
                            ? json_integer((json_int_t)p->start_time_ns)
                            : json_null());
    json_object_set_new(o, "name", known_str(p->name));
    json_object_set_new(o, "exe", has_exe ? known_str(p->exe) : json_null());
    json_object_set_new(o, "argv", argv);
    return o;
}

/* The arguments joined by spaces, or [NAME] as ps shows a process without
 * any (a kernel thread). */
static void print_cmd(const struct tenon_osi_process *p)
{
    if (!TOOL_HAS(p, struct tenon_osi_process, argc) || !p->argc || !p->argv) {
        tool_printf(stdout, "[%s]", p->name ? p->name : "");
        return;
    }
    for (size_t i = 0; i < p->argc; i++)
        tool_printf(stdout, "%s%s", i ? " " : "", p->argv[i] ? p->argv[i] : "");
}

static int on_process(void *ud, const struct tenon_osi_process *p)
{
    struct ps *s = ud;
    char pid[16], ppid[16], uid[16], state[2] = {p->state, 0}, start[16];
    if (s->arr)
        return json_array_append_new(s->arr, process_json(p)) ? 1 : 0;
    snprintf(pid, sizeof pid, "%u", p->pid);
    snprintf(ppid, sizeof ppid, "%u", p->ppid);
    if (p->uid == TENON_OSI_UNKNOWN)
        strcpy(uid, "-");
    else
        snprintf(uid, sizeof uid, "%u", p->uid);
    tool_printf(stdout, "%7s %7s %6s %-5s %-6s ", pid, ppid, uid,
                p->state ? state : "?", start_text(s, p->start_time_ns, start));
    if (s->full) {
        tool_printf(stdout, "%-15s ", p->name && *p->name ? p->name : "-");
        print_cmd(p);
        fputc('\n', stdout);
    } else {
        tool_printf(stdout, "%s\n", p->name && *p->name ? p->name : "-");
    }
    return 0;
}

int cmd_ps(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct tenon_osi_v1 *osi;
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    struct ps s = {0};
    unsigned want;
    tenon_t *t;
    int rc = tool_parse(
        "ps", usage, argc, argv,
        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN | OPT_FULL, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = tool_chain_open("ps", t, &o, TENON_OSI_ID, &inst, &vt, &obj))) {
        tenon_close(t);
        return rc;
    }
    osi = vt;
    s.full = o.full;
    s.now = time(NULL);
    /* Each field beyond the basic ones costs the provider a read per
     * process: ask only for what is shown. */
    want = o.json ? TENON_OSI_PROC_ALL
                  : TENON_OSI_PROC_UID | (o.full ? TENON_OSI_PROC_CMDLINE : 0);
    if (o.json)
        s.arr = json_array();
    else
        printf("%7s %7s %6s %-5s %-6s %s\n", "PID", "PPID", "UID", "STATE",
               "START", o.full ? "NAME            CMD" : "NAME");
    rc = osi->processes(obj, want, on_process, &s);
    return tool_listing_end("ps", t, inst, rc, "listing the processes", s.arr);
}
