/* tenon threads: the threads of one process. */
#include "tool.h"

static const char usage[] =
    "usage: tenon threads PID [--json] [-o NAME[:ARGS]]... [-c "
    "NAME[:ARGS]]...\n"
    "                     [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the threads of process PID as a tenon.osi/1 provider sees them\n"
    "(native, the default, or e.g. -o coredump:FILE): TID, STATE and NAME,\n"
    "in ascending tid order.\n"
    "\n"
    "  --json                        print a JSON array of objects: tid, pid,\n"
    "                                state, name (null when "
    "unknown)\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when there is no such process or its\n"
    "threads cannot be read, 2 on a usage error.\n";

static int on_thread(void *ud, const struct tenon_osi_thread *th)
{
    json_t *arr = ud;
    char tid[16], state[2] = {th->state, 0};
    const char *name =
        TOOL_HAS(th, struct tenon_osi_thread, name) && th->name ? th->name : "";
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "tid", json_integer(th->tid));
        json_object_set_new(o, "pid", json_integer(th->pid));
        json_object_set_new(o, "state",
                            th->state && th->state != '?' ? tool_json_str(state)
                                                          : json_null());
        json_object_set_new(o, "name",
                            *name ? tool_json_str(name) : json_null());
        return json_array_append_new(arr, o) ? 1 : 0;
    }
    snprintf(tid, sizeof tid, "%u", th->tid);
    tool_printf(stdout, "%7s %-5s %s\n", tid, th->state ? state : "?",
                *name ? name : "-");
    return 0;
}

int cmd_threads(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct tenon_osi_v1 *osi;
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    json_t *arr = NULL;
    uint32_t pid;
    tenon_t *t;
    int rc = tool_parse("threads", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1) {
        tool_error("threads", "expected PID; see 'tenon threads --help'");
        return EXIT_USAGE;
    }
    if ((rc = tool_parse_pid("threads", o.positional[0], &pid)))
        return rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = tool_chain_open("threads", t, &o, TENON_OSI_ID, &inst, &vt,
                              &obj))) {
        tenon_close(t);
        return rc;
    }
    osi = vt;
    if (o.json)
        arr = json_array();
    else
        printf("%7s %-5s %s\n", "TID", "STATE", "NAME");
    char what[32];
    snprintf(what, sizeof what, "process %u", pid);
    rc = osi->threads(obj, pid, on_thread, arr);
    return tool_listing_end("threads", t, inst, rc, what, arr);
}
