/* tenon verify: check plugin files against their .meta and the trusted keys. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon verify FILE... [--json]\n"
    "\n"
    "Check each FILE as a host under the require trust policy would, with\n"
    "the trusted keys (see 'tenon trust'). A plugin: its SHA-256 must equal\n"
    "the digest in FILE.meta, whose signature (over the digest, the\n"
    "plugin's name and version, and what newer statements add: created_at\n"
    "and the digests of its bundled libraries) must verify; then every\n"
    "library it bundles (found through its DT_RUNPATH or DT_RPATH outside\n"
    "the system library directories) must be named with its digest in that\n"
    ".meta or be signed itself. A library (a shared object with a DT_SONAME\n"
    "and no Tenon info): its own .meta, as 'tenon sign' writes for it.\n"
    "Every file is read and hashed: a scan cache's key (size and times)\n"
    "cannot see every write, and this is the check. Prints one verdict per\n"
    "file:\n"
    "\n"
    "  FILE: ok: signed by KEY_ID\n"
    "  FILE: FAILED: digest mismatch (file ..., .meta ...)\n"
    "  FILE: FAILED: unsigned: ...\n"
    "  FILE: FAILED: signed by untrusted key KEY_ID\n"
    "  FILE: FAILED: signature does not verify for NAME VERSION (...)\n"
    "  FILE: FAILED: malformed .meta: REASON\n"
    "  FILE: FAILED: dependency NAME (PATH, through ...) ...\n"
    "  FILE: FAILED: not a usable plugin: REASON\n"
    "\n"
    "No plugin code runs.\n"
    "\n"
    "  --json   print a JSON array of objects with file, ok, kind (plugin,\n"
    "           library, or null), verdict (ok, unsigned, malformed,\n"
    "           digest-mismatch, untrusted, bad-signature, error,\n"
    "           dependency, not-a-plugin), reason, name, version, soname,\n"
    "           key_id, digest, bundled (an array of objects with name,\n"
    "           path, via, digest)\n"
    "\n"
    "Exit status: 0 when every file verifies, 1 when any fails, 2 on a usage\n"
    "error.\n";

static const char *const verdict_names[] = {
    [TENON__TRUST_OK] = "ok",
    [TENON__TRUST_UNSIGNED] = "unsigned",
    [TENON__TRUST_MALFORMED] = "malformed",
    [TENON__TRUST_MISMATCH] = "digest-mismatch",
    [TENON__TRUST_UNTRUSTED] = "untrusted",
    [TENON__TRUST_BADSIG] = "bad-signature",
    [TENON__TRUST_ERROR] = "error",
};

/* The verdict on one file. */
struct check {
    const char *file;
    struct tenon_plugin *p; /* the probe */
    char *soname;           /* a library: its DT_SONAME */
    struct tenon__trust_result r;
    struct tenon__deps deps; /* a plugin's bundled libraries */
    int not_plugin, dep_failed;
};

static int ok(const struct check *c)
{
    return c->r.verdict == TENON__TRUST_OK && !c->not_plugin && !c->dep_failed;
}

/* A plugin's bundled libraries, found and checked after a good verdict. */
static void check_bundled(const struct tenon__keyring *kr, struct check *c)
{
    char why[TENON__REASON_MAX];
    const struct tenon_plugin *p = c->p;
    if (!tenon__deps_possible(&p->dynv))
        return;
    if (tenon__deps_resolve(c->file, &p->dynv, 0, TENON_MAX_FILE_SIZE_DEFAULT,
                            &c->deps, why, sizeof why) == 0 &&
        tenon__trust_deps(kr, &c->r, &c->deps, why, sizeof why) == 0)
        return;
    c->dep_failed = 1;
    snprintf(c->r.reason, sizeof c->r.reason, "%s", why);
}

static void verify_one(const struct tenon__keyring *kr, struct check *c)
{
    int fd = open(c->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), elf;
    struct tenon_plugin *p;

    c->r.verdict = TENON__TRUST_ERROR;
    if (fd < 0) {
        snprintf(c->r.reason, sizeof c->r.reason, "cannot open: %s",
                 strerror(errno));
        return;
    }
    if (!(c->p = p = tool_probe(c->file, fd))) {
        snprintf(c->r.reason, sizeof c->r.reason, "out of memory");
    } else if (p->status == TENON_AVAILABLE) {
        if (tenon__trust_check_file(kr, c->file, p->info.name, p->info.version,
                                    fd, TENON_MAX_FILE_SIZE_DEFAULT, NULL,
                                    &c->r) == 0)
            check_bundled(kr, c);
    } else if (!p->have_info && (c->soname = tenon__elf_soname(fd, &elf))) {
        tenon__trust_check_library(kr, c->file, c->soname, fd,
                                   TENON_MAX_FILE_SIZE_DEFAULT, NULL, &c->r);
    } else {
        c->not_plugin = 1;
        snprintf(c->r.reason, sizeof c->r.reason, "not a usable plugin: %s",
                 p->reason);
    }
    close(fd);
}

static json_t *result_json(const struct check *c)
{
    json_t *o = json_object(), *bundled = json_array();
    const struct tenon_plugin *p = c->p;
    int plugin = p && p->status == TENON_AVAILABLE;
    char hex[65];

    json_object_set_new(o, "file", tool_json_str(c->file));
    json_object_set_new(o, "ok", json_boolean(ok(c)));
    json_object_set_new(o, "kind",
                        plugin      ? json_string("plugin")
                        : c->soname ? json_string("library")
                                    : json_null());
    json_object_set_new(o, "verdict",
                        json_string(c->not_plugin ? "not-a-plugin"
                                    : c->dep_failed
                                        ? "dependency"
                                        : verdict_names[c->r.verdict]));
    json_object_set_new(o, "reason", tool_json_str(c->r.reason));
    json_object_set_new(o, "name", tool_json_str(plugin ? p->info.name : NULL));
    json_object_set_new(o, "version",
                        tool_json_str(plugin ? p->info.version : NULL));
    json_object_set_new(o, "soname", tool_json_str(c->soname));
    json_object_set_new(
        o, "key_id", c->r.key_id[0] ? json_string(c->r.key_id) : json_null());
    tenon__hex_encode(c->r.digest, 32, hex);
    json_object_set_new(o, "digest",
                        c->r.have_digest ? json_string(hex) : json_null());
    for (size_t i = 0; i < c->deps.n; i++) {
        const struct tenon__dep *d = &c->deps.v[i];
        json_t *e;
        if (d->kind != TENON__DEP_BUNDLED)
            continue;
        e = json_object();
        tenon__hex_encode(d->digest, 32, hex);
        json_object_set_new(e, "name", tool_json_str(d->name));
        json_object_set_new(e, "path", tool_json_str(d->path));
        json_object_set_new(e, "via", tool_json_str(d->via));
        json_object_set_new(e, "digest", json_string(hex));
        json_array_append_new(bundled, e);
    }
    json_object_set_new(o, "bundled", bundled);
    return o;
}

/* "ok: signed by X" and, for a plugin that bundles libraries, which. */
static void print_text(const struct check *c)
{
    tool_printf(stdout, "%s: %s: %s", c->file, ok(c) ? "ok" : "FAILED",
                c->r.reason);
    for (size_t i = 0, n = 0; ok(c) && i < c->deps.n; i++)
        if (c->deps.v[i].kind == TENON__DEP_BUNDLED)
            tool_printf(stdout, "%s%s",
                        n++ ? ", " : "; bundled: ", c->deps.v[i].name);
    putchar('\n');
}

int cmd_verify(int argc, char **argv)
{
    struct tool_opts o = {0};
    struct tenon__keyring kr;
    json_t *arr = NULL;
    tenon_t *t;
    int rc = tool_parse("verify", usage, argc, argv, OPT_JSON,
                        (int)(sizeof o.positional / sizeof *o.positional), &o);
    int failed = 0;

    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional == 0) {
        tool_error("verify", "expected FILE...; see 'tenon verify --help'");
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (tool_keyring("verify", t, &kr)) {
        tenon_close(t);
        return EXIT_FAIL;
    }
    if (o.json)
        arr = json_array();
    for (int i = 0; i < o.npositional; i++) {
        struct check c = {.file = o.positional[i]};
        verify_one(&kr, &c);
        failed += !ok(&c);
        if (arr)
            json_array_append_new(arr, result_json(&c));
        else
            print_text(&c);
        tenon__trust_result_free(&c.r);
        tenon__deps_free(&c.deps);
        tenon__plugin_free(c.p);
        free(c.soname);
    }
    tenon__keyring_free(&kr);
    tenon_close(t);
    if (arr && tool_print_json(arr) != EXIT_OK)
        return EXIT_FAIL;
    return failed ? EXIT_FAIL : EXIT_OK;
}
