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
    "exists) and the copy's signature (or a library it bundles) does not\n"
    "verify, a warning says that it will be unavailable. Only the plugin\n"
    "file is copied: a warning names a library it bundles that the copy no\n"
    "longer finds through its DT_RUNPATH or DT_RPATH.\n"
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

/* Why the installed copy `path` (probed as p, open as fd) will be
 * unavailable under the trust policy of `t`, into `why`; NULL when it will
 * not be (no require policy, or it verifies with its libraries). */
static const char *trust_warning(tenon_t *t, const struct tenon_plugin *p,
                                 int fd, char *why, size_t len)
{
    const struct tenon__keyring *kr;
    struct tenon__trust_result r;
    struct tenon__deps d = {0};
    const char *warn = why;

    if (tenon__trust_policy(t, &kr) != TENON_TRUST_REQUIRE) {
        tenon__trust_release(t, kr);
        return NULL;
    }
    int rc = tenon__trust_check_file(kr, p->path, p->info.name, p->info.version,
                                     fd, TENON_MAX_FILE_SIZE_DEFAULT, NULL, &r);
    /* Another install of the same plugin may be half done: look again
     * once it is, as a scan would. */
    if (rc && r.verdict != TENON__TRUST_UNTRUSTED &&
        r.verdict != TENON__TRUST_BADSIG) {
        char note[TENON__REASON_MAX];
        int lock = tenon__install_settle(p->path, TENON__SETTLE_WAIT_MS, note,
                                         sizeof note);
        if (lock >= 0) {
            tenon__trust_result_free(&r);
            rc = tenon__trust_check_file(kr, p->path, p->info.name,
                                         p->info.version, fd,
                                         TENON_MAX_FILE_SIZE_DEFAULT, NULL, &r);
            close(lock);
        }
    }
    if (rc)
        snprintf(why, len, "%s", r.reason);
    else if (tenon__deps_resolve(p->path, &p->dynv, 0,
                                 TENON_MAX_FILE_SIZE_DEFAULT, &d, why,
                                 len) == 0 &&
             tenon__trust_deps(kr, &r, &d, why, len) == 0)
        warn = NULL;
    tenon__deps_free(&d);
    tenon__trust_result_free(&r);
    tenon__trust_release(t, kr);
    return warn;
}

/* A library the source bundles that the installed copy, from its new
 * directory, does not find where the source found it: install copies the
 * plugin file only. Into `why`, or NULL. */
static const char *bundle_warning(const char *src, const struct tenon_plugin *p,
                                  char *why, size_t len)
{
    char ignored[TENON__REASON_MAX];
    struct tenon__deps from = {0}, to = {0};
    const char *warn = NULL;
    if (!p->dynv.rpath && !p->dynv.runpath)
        return NULL;
    tenon__deps_resolve(src, &p->dynv, 0, TENON_MAX_FILE_SIZE_DEFAULT, &from,
                        ignored, sizeof ignored);
    tenon__deps_resolve(p->path, &p->dynv, 0, TENON_MAX_FILE_SIZE_DEFAULT, &to,
                        ignored, sizeof ignored);
    for (size_t i = 0; i < from.n && !warn; i++) {
        const struct tenon__dep *f = &from.v[i];
        int found = 0;
        if (f->kind != TENON__DEP_BUNDLED)
            continue;
        for (size_t j = 0; j < to.n; j++)
            found |= strcmp(to.v[j].name, f->name) == 0 &&
                     to.v[j].kind == TENON__DEP_BUNDLED &&
                     memcmp(to.v[j].digest, f->digest, 32) == 0;
        if (!found) {
            snprintf(why, len,
                     "%s bundles %s (found at %s through %s); install copies "
                     "the plugin file only, and %s does not find it from its "
                     "directory: copy the library where that path leads "
                     "from there",
                     src, f->name, f->path, f->via, p->path);
            warn = why;
        }
    }
    tenon__deps_free(&from);
    tenon__deps_free(&to);
    return warn;
}

/* Install one file; prints it (or appends it to `arr`). */
static int install_one(tenon_t *t, const char *file, const char *dir,
                       json_t *arr)
{
    char why[TENON__REASON_MAX], lib[TENON__REASON_MAX];
    const char *warn = NULL, *libwarn = NULL;
    struct tenon_plugin *p = NULL;
    char *dst = NULL;
    int fd;

    if (tenon_install(file, dir, &dst) != 0) {
        tool_error("install", "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    if ((fd = open(dst, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        snprintf(why, sizeof why, "cannot open it to check it: %s",
                 strerror(errno));
        warn = why;
    } else if (!(p = tool_probe(dst, fd)) || p->status != TENON_AVAILABLE) {
        snprintf(why, sizeof why, "cannot read it back: %s",
                 p ? p->reason : "out of memory");
        warn = why;
    } else {
        libwarn = bundle_warning(file, p, lib, sizeof lib);
        warn = trust_warning(t, p, fd, why, sizeof why);
    }
    if (fd >= 0)
        close(fd);
    if (arr) {
        json_t *e = json_object();
        json_object_set_new(e, "file", tool_json_str(file));
        json_object_set_new(e, "installed", tool_json_str(dst));
        json_object_set_new(e, "warning", tool_json_str(warn ? warn : libwarn));
        json_array_append_new(arr, e);
    } else {
        tool_printf(stdout, "installed %s as %s\n", file, dst);
    }
    if (libwarn)
        tool_error("install", "warning: %s", libwarn);
    if (warn)
        tool_error("install",
                   "warning: %s will be unavailable: a trusted key exists, "
                   "and the require policy refuses it (%s); sign it with "
                   "'tenon sign'",
                   dst, warn);
    tenon__plugin_free(p);
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
