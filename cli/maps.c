/* tenon maps: the memory mappings of one process, as /proc/PID/maps. */
#include "tool.h"

#include <string.h>

static const char usage[] =
    "usage: tenon maps PID [--json] [-o NAME[:ARGS]]... [-c NAME[:ARGS]]...\n"
    "                  [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the memory mappings of process PID as a tenon.osi/1 provider sees\n"
    "them (native, the default, or e.g. -o coredump:FILE), in address order\n"
    "and in the form of /proc/PID/maps: START-END PERMS OFFSET DEV INODE "
    "PATH.\n"
    "\n"
    "  --json                        print a JSON array of objects: start,\n"
    "                                end (hex strings), perms, read, write,\n"
    "                                exec, shared, offset, dev, inode, "
    "path\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when there is no such process or its\n"
    "mappings cannot be read, 2 on a usage error.\n";

/* "0x7ffd1234" for JSON: 64-bit addresses do not all fit a JSON number a
 * script can hold exactly. */
static json_t *hex_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

static int on_mapping(void *ud, const struct tenon_osi_mapping *m)
{
    json_t *arr = ud;
    char perms[5], range[40], rest[80];
    const char *path =
        TOOL_HAS(m, struct tenon_osi_mapping, path) && m->path ? m->path : "";
    int n;
    perms[0] = m->prot & TENON_PROT_READ ? 'r' : '-';
    perms[1] = m->prot & TENON_PROT_WRITE ? 'w' : '-';
    perms[2] = m->prot & TENON_PROT_EXEC ? 'x' : '-';
    perms[3] = m->flags & TENON_OSI_MAP_SHARED ? 's' : 'p';
    perms[4] = 0;
    if (arr) {
        json_t *o = json_object();
        snprintf(rest, sizeof rest, "%02x:%02x", m->dev_major, m->dev_minor);
        json_object_set_new(o, "start", hex_json(m->start));
        json_object_set_new(o, "end", hex_json(m->end));
        json_object_set_new(o, "perms", json_string(perms));
        json_object_set_new(o, "read", json_boolean(perms[0] == 'r'));
        json_object_set_new(o, "write", json_boolean(perms[1] == 'w'));
        json_object_set_new(o, "exec", json_boolean(perms[2] == 'x'));
        json_object_set_new(o, "shared", json_boolean(perms[3] == 's'));
        json_object_set_new(o, "offset", json_integer((json_int_t)m->offset));
        json_object_set_new(o, "dev", json_string(rest));
        json_object_set_new(o, "inode", json_integer((json_int_t)m->inode));
        json_object_set_new(o, "path", tool_json_str(path));
        return json_array_append_new(arr, o) ? 1 : 0;
    }
    snprintf(range, sizeof range, "%08llx-%08llx", (unsigned long long)m->start,
             (unsigned long long)m->end);
    n = snprintf(rest, sizeof rest, "%s %s %08llx %02x:%02x %llu", range, perms,
                 (unsigned long long)m->offset, m->dev_major, m->dev_minor,
                 (unsigned long long)m->inode);
    /* The kernel pads the line to 73 columns before a path. */
    tool_printf(stdout, "%s", rest);
    if (*path)
        tool_printf(stdout, "%*s%s", n < 73 ? 73 - n : 1, "", path);
    fputc('\n', stdout);
    return 0;
}

int cmd_maps(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct tenon_osi_v1 *osi;
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    json_t *arr = NULL;
    uint32_t pid;
    tenon_t *t;
    int rc = tool_parse("maps", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1) {
        tool_error("maps", "expected PID; see 'tenon maps --help'");
        return EXIT_USAGE;
    }
    if ((rc = tool_parse_pid("maps", o.positional[0], &pid)))
        return rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = tool_chain_open("maps", t, &o, TENON_OSI_ID, &inst, &vt, &obj))) {
        tenon_close(t);
        return rc;
    }
    osi = vt;
    if (o.json)
        arr = json_array();
    char what[32];
    snprintf(what, sizeof what, "process %u", pid);
    rc = osi->mappings(obj, pid, on_mapping, arr);
    return tool_listing_end("maps", t, inst, rc, what, arr);
}
