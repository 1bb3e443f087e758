/* tenon install / tenon remove: put plugin files in a plugin directory and
 * take them out again. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char install_usage[] =
    "usage: tenon install FILE... [--dir DIR] [--json]\n"
    "\n"
    "Check each FILE with the inventory's rules (ELF class and machine, ABI,\n"
    "static info) and copy it into DIR, default ~/.local/lib/tenon, as\n"
    "NAME-VERSION.so, with NAME-VERSION.so.meta: FILE.meta's signature when\n"
    "it describes FILE, else the digest alone. The copy is written under a\n"
    "temporary name, synced and renamed, so a scan running at the same time\n"
    "never sees part of it. A file that fails the checks is refused with\n"
    "the reason. When the require trust policy is in force (a trusted key\n"
    "exists) and the copy's signature does not verify, a warning says that\n"
    "it will be unavailable.\n"
    "\n"
    "  --dir DIR   install into DIR (created if missing)\n"
    "  --json      print a JSON array of {file, installed, warning} objects\n"
    "\n"
    "Exit status: 0 when every file was installed (also with a warning),\n"
    "1 when any was refused, 2 on a usage error.\n";

static const char remove_usage[] =
    "usage: tenon remove NAME[@VERSION]... [--dir DIR] [--json]\n"
    "\n"
    "Delete the plugin NAME (every version) or NAME@VERSION from DIR,\n"
    "default ~/.local/lib/tenon, with its .meta file. Plugins elsewhere on\n"
    "the search path are not touched.\n"
    "\n"
    "  --dir DIR   remove from DIR\n"
    "  --json      print a JSON array of {plugin, removed} objects, removed\n"
    "              being how many files matched\n"
    "\n"
    "Exit status: 0 when every name matched something, 1 otherwise, 2 on a\n"
    "usage error.\n";

/* Why the installed copy `path` will be unavailable under the trust policy
 * of `t`, into `why`; NULL when it will not be (no policy, or it verifies). */
static const char *trust_warning(tenon_t *t, const char *path, char *why,
                                 size_t len)
{
    const struct tenon__keyring *kr;
    struct tenon__trust_result r;
    struct tenon_plugin *p;
    int fd;

    if (tenon__trust_policy(t, &kr) != TENON_TRUST_REQUIRE)
        return NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        snprintf(why, len, "cannot open it to check its signature: %s",
                 strerror(errno));
        return why;
    }
    if (!(p = tool_probe(path, fd)) || p->status != TENON_AVAILABLE) {
        snprintf(why, len, "cannot read it back: %s",
                 p ? p->reason : "out of memory");
    } else {
        tenon__trust_check_file(kr, path, p->info.name, p->info.version, fd,
                                NULL, &r);
        if (r.verdict == TENON__TRUST_OK)
            why = NULL;
        else
            snprintf(why, len, "%s", r.reason);
    }
    tenon__plugin_free(p);
    close(fd);
    return why;
}

/* Install one file; prints it (or appends it to `arr`). */
static int install_one(tenon_t *t, const char *file, const char *dir,
                       json_t *arr)
{
    char why[TENON__REASON_MAX];
    const char *warn;
    char *dst = NULL;

    if (tenon_install(file, dir, &dst) != 0) {
        tool_error("install", "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    warn = trust_warning(t, dst, why, sizeof why);
    if (arr) {
        json_t *e = json_object();
        json_object_set_new(e, "file", tool_json_str(file));
        json_object_set_new(e, "installed", tool_json_str(dst));
        json_object_set_new(e, "warning", tool_json_str(warn));
        json_array_append_new(arr, e);
    } else {
        tool_printf(stdout, "installed %s as %s\n", file, dst);
    }
    if (warn)
        tool_error("install",
                   "warning: %s will be unavailable: a trusted key exists, "
                   "and the require policy refuses it (%s); sign it with "
                   "'tenon sign'",
                   dst, warn);
    free(dst);
    return EXIT_OK;
}

int cmd_install(int argc, char **argv)
{
    struct tool_opts o = {0};
    json_t *arr = NULL;
    tenon_t *t;
    int rc = tool_parse("install", install_usage, argc, argv,
                        OPT_JSON | OPT_DIR, TOOL_MAX_OPERANDS, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional == 0) {
        tool_error("install", "expected a plugin file; see 'tenon install "
                              "--help'");
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (o.json)
        arr = json_array();
    for (int i = 0; i < o.npositional; i++)
        if (install_one(t, o.positional[i], o.dir, arr) != EXIT_OK)
            rc = EXIT_FAIL;
    tenon_close(t);
    if (arr && tool_print_json(arr) != EXIT_OK)
        rc = EXIT_FAIL;
    return rc;
}

int cmd_remove(int argc, char **argv)
{
    struct tool_opts o = {0};
    json_t *arr = NULL;
    int rc = tool_parse("remove", remove_usage, argc, argv, OPT_DIR | OPT_JSON,
                        TOOL_MAX_OPERANDS, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional == 0) {
        tool_error("remove", "expected a plugin name; see 'tenon remove "
                             "--help'");
        return EXIT_USAGE;
    }
    if (o.json)
        arr = json_array();
    for (int i = 0; i < o.npositional; i++) {
        size_t n = 0;
        if (tenon_remove(o.positional[i], o.dir, &n) != 0) {
            tool_error("remove", "%s", tenon_last_error());
            rc = EXIT_FAIL;
        } else if (!arr) {
            tool_printf(stdout, "removed %zu file%s for %s\n", n,
                        n == 1 ? "" : "s", o.positional[i]);
        }
        if (arr) {
            json_t *e = json_object();
            json_object_set_new(e, "plugin", tool_json_str(o.positional[i]));
            json_object_set_new(e, "removed", json_integer((json_int_t)n));
            json_array_append_new(arr, e);
        }
    }
    if (arr && tool_print_json(arr) != EXIT_OK)
        rc = EXIT_FAIL;
    return rc;
}
