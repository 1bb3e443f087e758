/* tenon verify: check plugin files against their .meta and the trusted keys. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon verify FILE... [--json]\n"
    "\n"
    "Check each plugin FILE: its SHA-256 must equal the digest in FILE.meta,\n"
    "and the .meta's signature, over the digest and the plugin's name and\n"
    "version, must verify with a trusted key (see 'tenon trust'). Prints one\n"
    "verdict per file:\n"
    "\n"
    "  FILE: ok: signed by KEY_ID\n"
    "  FILE: FAILED: digest mismatch (file ..., .meta ...)\n"
    "  FILE: FAILED: unsigned: ...\n"
    "  FILE: FAILED: signed by untrusted key KEY_ID\n"
    "  FILE: FAILED: signature does not verify for NAME VERSION (...)\n"
    "  FILE: FAILED: malformed .meta: REASON\n"
    "  FILE: FAILED: not a usable plugin: REASON\n"
    "\n"
    "No plugin code runs.\n"
    "\n"
    "  --json   print a JSON array of objects with file, ok, verdict (ok,\n"
    "           unsigned, malformed, digest-mismatch, untrusted,\n"
    "           bad-signature, error, not-a-plugin), reason, name, version,\n"
    "           key_id, digest\n"
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

/* Verify one file into `res`; name and version point into *pp. */
static void verify_one(const struct tenon__keyring *kr, const char *file,
                       struct tenon_plugin **pp, struct tenon__trust_result *r,
                       int *not_plugin)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct tenon_plugin *p;

    memset(r, 0, sizeof *r);
    *pp = NULL;
    *not_plugin = 0;
    r->verdict = TENON__TRUST_ERROR;
    if (fd < 0) {
        snprintf(r->reason, sizeof r->reason, "cannot open: %s",
                 strerror(errno));
        return;
    }
    if (!(*pp = p = tool_probe(file, fd))) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
    } else if (p->status != TENON_AVAILABLE) {
        *not_plugin = 1;
        snprintf(r->reason, sizeof r->reason, "not a usable plugin: %s",
                 p->reason);
    } else {
        tenon__trust_check_file(kr, file, p->info.name, p->info.version, fd,
                                NULL, r);
    }
    close(fd);
}

static json_t *result_json(const char *file, const struct tenon_plugin *p,
                           const struct tenon__trust_result *r, int not_plugin)
{
    json_t *o = json_object();
    int have = p && p->status == TENON_AVAILABLE;
    char hex[65];

    json_object_set_new(o, "file", tool_json_str(file));
    json_object_set_new(
        o, "ok", json_boolean(r->verdict == TENON__TRUST_OK && !not_plugin));
    json_object_set_new(
        o, "verdict",
        json_string(not_plugin ? "not-a-plugin" : verdict_names[r->verdict]));
    json_object_set_new(o, "reason", tool_json_str(r->reason));
    json_object_set_new(o, "name", tool_json_str(have ? p->info.name : NULL));
    json_object_set_new(o, "version",
                        tool_json_str(have ? p->info.version : NULL));
    json_object_set_new(o, "key_id",
                        r->key_id[0] ? json_string(r->key_id) : json_null());
    tenon__hex_encode(r->digest, 32, hex);
    json_object_set_new(o, "digest",
                        r->have_digest ? json_string(hex) : json_null());
    return o;
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
        const char *file = o.positional[i];
        struct tenon__trust_result r;
        struct tenon_plugin *p;
        int not_plugin, ok;

        verify_one(&kr, file, &p, &r, &not_plugin);
        ok = r.verdict == TENON__TRUST_OK && !not_plugin;
        failed += !ok;
        if (arr)
            json_array_append_new(arr, result_json(file, p, &r, not_plugin));
        else
            tool_printf(stdout, "%s: %s: %s\n", file, ok ? "ok" : "FAILED",
                        r.reason);
        tenon__plugin_free(p);
    }
    tenon__keyring_free(&kr);
    tenon_close(t);
    if (arr && tool_print_json(arr) != EXIT_OK)
        return EXIT_FAIL;
    return failed ? EXIT_FAIL : EXIT_OK;
}
