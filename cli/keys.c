/* tenon keygen, tenon sign and tenon trust: signing keys and trusted keys. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tool_take_option(const char *cmd, int *argc, char **argv, const char *name,
                     const char **value)
{
    size_t nlen = strlen(name);
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v;
        int used;
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, name) == 0) {
            if (i + 1 >= *argc || !*argv[i + 1]) {
                tool_error(cmd, "%s needs a value; see 'tenon %s --help'", name,
                           cmd);
                return EXIT_USAGE;
            }
            v = argv[i + 1];
            used = 2;
        } else if (strncmp(a, name, nlen) == 0 && a[nlen] == '=') {
            v = a + nlen + 1;
            used = 1;
        } else {
            continue;
        }
        *value = v;
        memmove(&argv[i], &argv[i + used],
                (size_t)(*argc - i - used + 1) * sizeof *argv);
        *argc -= used;
        i--; /* the last one given wins */
    }
    return 0;
}

#define MAX_OPERANDS(o) ((int)(sizeof(o).positional / sizeof *(o).positional))

/* ---- keygen -------------------------------------------------------------- */

static const char keygen_usage[] =
    "usage: tenon keygen [--out DIR] [--name NAME]\n"
    "\n"
    "Generate an Ed25519 signing key pair: DIR/NAME.key, the secret key\n"
    "(mode 0600), and DIR/NAME.pub, the public key to hand to\n"
    "'tenon trust add'. Existing files are never overwritten. Prints the\n"
    "key id, the first 8 bytes of the public key's SHA-256 in hex.\n"
    "\n"
    "  --out DIR     where to write the files (default: .; created with\n"
    "                mode 0700 if missing)\n"
    "  --name NAME   the files' base name (default: tenon)\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (a file exists, cannot write),\n"
    "2 on a usage error.\n";

int cmd_keygen(int argc, char **argv)
{
    struct tool_opts o = {0};
    const char *dir = ".", *name = "tenon";
    char reason[TENON__REASON_MAX], id[TENON__KEY_ID_LEN + 1];
    char *sec = NULL, *pub = NULL;
    int rc;

    if ((rc = tool_take_option("keygen", &argc, argv, "--out", &dir)) ||
        (rc = tool_take_option("keygen", &argc, argv, "--name", &name)))
        return rc;
    rc = tool_parse("keygen", keygen_usage, argc, argv, 0, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!*name || name[0] == '.' || strchr(name, '/')) {
        tool_error("keygen",
                   "--name '%s': expected a file base name without "
                   "'/' that does not start with '.'",
                   name);
        return EXIT_USAGE;
    }
    sec = tenon__asprintf("%s/%s.key", dir, name);
    pub = tenon__asprintf("%s/%s.pub", dir, name);
    if (!sec || !pub) {
        tool_error("keygen", "out of memory");
        rc = EXIT_FAIL;
    } else if (tenon__mkdirs(dir, 0700, reason, sizeof reason) ||
               tenon__key_generate(sec, pub, id, reason, sizeof reason)) {
        tool_error("keygen", "%s", reason);
        rc = EXIT_FAIL;
    } else {
        tool_printf(stdout,
                    "key id %s\n"
                    "secret key: %s (mode 0600; keep it private)\n"
                    "public key: %s (for 'tenon trust add')\n",
                    id, sec, pub);
    }
    free(sec);
    free(pub);
    return rc;
}

/* ---- sign ---------------------------------------------------------------- */

static const char sign_usage[] =
    "usage: tenon sign FILE --key SECRET\n"
    "\n"
    "Sign FILE with the secret key SECRET (a .key file from 'tenon keygen')\n"
    "and write FILE.meta, replacing an earlier one atomically. No plugin\n"
    "code runs.\n"
    "\n"
    "A plugin: the signature covers FILE's SHA-256, the plugin's name and\n"
    "version, the time of signing (created_at) and the SHA-256 of every\n"
    "library it bundles: each DT_NEEDED found through its DT_RUNPATH or\n"
    "DT_RPATH outside the system library directories, as a host would find\n"
    "it ($ORIGIN is FILE's directory). The .meta lists them under \"deps\".\n"
    "\n"
    "A bundled library (a shared object with a DT_SONAME and no Tenon\n"
    "info): the signature covers its SHA-256, its DT_SONAME and created_at,\n"
    "so that plugins signed by other keys may bundle it.\n"
    "\n"
    "  --key SECRET   the secret key file (required)\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

struct tenon_plugin *tool_probe(const char *file, int fd)
{
    size_t len = strlen(file);
    struct tenon_plugin *p = calloc(1, sizeof *p + len + 1);
    struct stat st;
    if (!p)
        return NULL;
    memcpy(p->path, file, len + 1);
    p->status = TENON_UNAVAILABLE;
    tenon__plugin_probe(p, AT_FDCWD, file);
    if (p->status == TENON_AVAILABLE &&
        (fstat(fd, &st) != 0 || st.st_dev != p->dev || st.st_ino != p->ino))
        tenon__plugin_set_reason(p, TENON_UNAVAILABLE,
                                 "file replaced while it was being read");
    return p;
}

/* The digests of the libraries plugin p (open as fd) bundles, into m. */
static int bundled_digests(const char *file, const struct tenon_plugin *p,
                           struct tenon__meta *m)
{
    char why[TENON__REASON_MAX];
    struct tenon__deps d;
    int rc = tenon__deps_resolve(file, &p->dynv, 0, TENON_MAX_FILE_SIZE_DEFAULT,
                                 &d, why, sizeof why);
    if (rc == 0 && d.n && !(m->deps = calloc(d.n, sizeof *m->deps)))
        rc = tenon__reason(why, sizeof why, TENON_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        const struct tenon__dep *dep = &d.v[i];
        if (dep->kind == TENON__DEP_PATH)
            rc = tenon__reason(why, sizeof why, TENON_EINVAL,
                               "DT_NEEDED '%s' is a path or has a dynamic "
                               "string token, which the dynamic loader "
                               "expands and opens itself: no signature can "
                               "cover it",
                               dep->name);
        else if (dep->kind == TENON__DEP_BUNDLED &&
                 snprintf(m->deps[m->ndeps].name, sizeof m->deps[m->ndeps].name,
                          "%s", dep->name) < (int)sizeof m->deps[0].name) {
            memcpy(m->deps[m->ndeps].digest, dep->digest, 32);
            tool_printf(stdout, "bundled %s: %s (through %s)\n", dep->name,
                        dep->path, dep->via);
            m->ndeps++;
        }
    }
    tenon__deps_free(&d);
    if (rc)
        tool_error("sign", "%s: cannot sign its bundled libraries: %s", file,
                   why);
    return rc;
}

static int sign_file(const char *file, const char *keyfile)
{
    char reason[TENON__REASON_MAX], id[TENON__KEY_ID_LEN + 1];
    struct tenon__meta m;
    struct tenon_plugin *p = NULL;
    unsigned char seed[32];
    char *meta_path = NULL;
    int fd, rc = EXIT_FAIL, is_lib = 0, err;

    memset(&m, 0, sizeof m);
    if (tenon__seckey_read(keyfile, seed, id, reason, sizeof reason)) {
        tool_error("sign", "%s", reason);
        return EXIT_FAIL;
    }
    if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
        tool_error("sign", "%s: cannot open: %s", file, strerror(errno));
        goto out;
    }
    if (!(p = tool_probe(file, fd)) ||
        !(meta_path = tenon__asprintf("%s.meta", file))) {
        tool_error("sign", "out of memory");
        goto out;
    }
    /* Not a plugin, but a library with a DT_SONAME: signed as a library. */
    if (p->status != TENON_AVAILABLE && !p->have_info)
        m.soname = tenon__elf_soname(fd, &is_lib);
    if (p->status != TENON_AVAILABLE && !m.soname) {
        if (is_lib)
            tool_error("sign",
                       "%s: a shared object without Tenon info and without "
                       "a DT_SONAME: neither a plugin nor a library a plugin "
                       "can bundle (link it with -Wl,-soname,NAME)",
                       file);
        else
            tool_error("sign", "%s: not a usable plugin: %s", file, p->reason);
        goto out;
    }
    if ((err = tenon__digest_fd(fd, TENON_MAX_FILE_SIZE_DEFAULT, m.digest))) {
        if (err == TENON_ERANGE)
            tool_error("sign",
                       "%s: larger than %llu bytes, the most a host hashes "
                       "and loads by default (max_file_size)",
                       file, (unsigned long long)TENON_MAX_FILE_SIZE_DEFAULT);
        else
            tool_error("sign", "%s: cannot read: %s", file, strerror(errno));
        goto out;
    }
    tenon__rfc3339(time(NULL), m.created_at);
    if (!m.soname && (!(m.info = tenon__meta_info(&p->info)) ||
                      bundled_digests(file, p, &m) != 0))
        goto out;
    if (tenon__meta_sign(&m, seed, id, m.soname ? NULL : p->info.name,
                         m.soname ? NULL : p->info.version) != 0) {
        tool_error("sign", "out of memory");
        goto out;
    }
    if (tenon__meta_write(meta_path, &m, reason, sizeof reason) != 0) {
        tool_error("sign", "%s", reason);
        goto out;
    }
    if (m.soname)
        tool_printf(stdout, "signed %s (library %s) with key %s; wrote %s\n",
                    file, m.soname, id, meta_path);
    else
        tool_printf(stdout, "signed %s (%s %s) with key %s; wrote %s\n", file,
                    p->info.name, p->info.version, id, meta_path);
    rc = EXIT_OK;
out:
    OPENSSL_cleanse(seed, sizeof seed);
    tenon__meta_free(&m);
    tenon__plugin_free(p);
    free(meta_path);
    if (fd >= 0)
        close(fd);
    return rc;
}

int cmd_sign(int argc, char **argv)
{
    struct tool_opts o = {0};
    const char *key = NULL;
    int rc;

    if ((rc = tool_take_option("sign", &argc, argv, "--key", &key)))
        return rc;
    rc = tool_parse("sign", sign_usage, argc, argv, 0, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1 || !key) {
        tool_error("sign", "expected FILE and --key SECRET; see 'tenon sign "
                           "--help'");
        return EXIT_USAGE;
    }
    return sign_file(o.positional[0], key);
}

/* ---- trust --------------------------------------------------------------- */

static const char trust_usage[] =
    "usage: tenon trust add KEY.pub\n"
    "       tenon trust list [--json]\n"
    "       tenon trust remove KEY_ID\n"
    "\n"
    "Manage the public keys whose signatures this user trusts. They are the\n"
    "*.pub files of the trust directories: $XDG_CONFIG_HOME/tenon/trusted\n"
    "(default ~/.config/tenon/trusted), then /etc/tenon/trusted. A directory\n"
    "or key file that cannot be read, is malformed, is owned by another user\n"
    "than you or root, or is writable by group or others is ignored, and the\n"
    "default trust policy is then require (the trust store fails closed).\n"
    "\n"
    "  add KEY.pub     check the key file and copy it into the first trust\n"
    "                  directory (created if missing, mode 0700)\n"
    "  list            show every trusted key (id, file, directory), then\n"
    "                  what is ignored and why\n"
    "  remove KEY_ID   delete the trusted key file(s) with that id\n"
    "  --json          list: print an object with \"keys\", an array of\n"
    "                  objects with id, file, directory, and \"problems\",\n"
    "                  an array of objects with path, reason\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (malformed key, no such key,\n"
    "cannot write), 2 on a usage error.\n";

int tool_keyring(const char *cmd, tenon_t *t, struct tenon__keyring *kr)
{
    if (tenon__keyring_load(t, kr)) {
        tool_error(cmd, "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    tenon__keyring_warn(t, kr);
    return EXIT_OK;
}

/* Why the first trust directory, where `trust add` writes, is ignored (a
 * key written there would not be trusted); NULL when it is not. */
static const struct tenon__trust_problem *
first_dir_problem(tenon_t *t, const struct tenon__keyring *kr)
{
    for (size_t i = 0; i < kr->nproblems; i++)
        if (strcmp(kr->problems[i].path, tenon_trust_dir(t, 0)) == 0)
            return &kr->problems[i];
    return NULL;
}

static int trust_add(tenon_t *t, const char *src)
{
    char reason[TENON__REASON_MAX];
    struct tenon__keyring kr;
    struct tenon__key k;
    char *dest = NULL;
    int rc;

    if (tenon_trust_dir_count(t) == 0) {
        tool_error("trust", "no trust directory: set HOME or XDG_CONFIG_HOME");
        return EXIT_FAIL;
    }
    if (tenon__pubkey_read(src, &k, reason, sizeof reason)) {
        tool_error("trust", "%s", reason);
        return EXIT_FAIL;
    }
    if (tool_keyring("trust", t, &kr))
        return EXIT_FAIL;
    for (size_t i = 0; i < kr.n; i++)
        if (memcmp(kr.keys[i].pk, k.pk, sizeof k.pk) == 0) {
            tool_printf(stdout, "key %s is already trusted (%s)\n", k.id,
                        kr.keys[i].path);
            tenon__keyring_free(&kr);
            return EXIT_OK;
        }
    const struct tenon__trust_problem *bad = first_dir_problem(t, &kr);
    if (bad)
        tool_error("trust",
                   "not adding key %s: it would not be trusted, because %s; "
                   "fix that first",
                   k.id, bad->reason);
    tenon__keyring_free(&kr);
    if (bad)
        return EXIT_FAIL;
    rc = tenon__pubkey_install(src, tenon_trust_dir(t, 0), &k, &dest, reason,
                               sizeof reason);
    if (rc) {
        tool_error("trust", "%s", reason);
        return EXIT_FAIL;
    }
    tool_printf(stdout, "trusted key %s: wrote %s\n", k.id, dest);
    free(dest);
    return EXIT_OK;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static json_t *keyring_json(tenon_t *t, const struct tenon__keyring *kr)
{
    json_t *keys = json_array(), *problems = json_array();
    for (size_t i = 0; i < kr->n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(kr->keys[i].id));
        json_object_set_new(o, "file",
                            tool_json_str(base_name(kr->keys[i].path)));
        json_object_set_new(
            o, "directory",
            tool_json_str(tenon_trust_dir(t, kr->keys[i].dir_index)));
        json_array_append_new(keys, o);
    }
    for (size_t i = 0; i < kr->nproblems; i++)
        json_array_append_new(
            problems,
            json_pack("{s:o, s:o}", "path", tool_json_str(kr->problems[i].path),
                      "reason", tool_json_str(kr->problems[i].reason)));
    return json_pack("{s:o, s:o}", "keys", keys, "problems", problems);
}

static int trust_list(tenon_t *t, int json)
{
    struct tenon__keyring kr;

    /* Problems are part of the listing here, not warnings. */
    if (tenon__keyring_load(t, &kr)) {
        tool_error("trust", "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    if (json) {
        json_t *doc = keyring_json(t, &kr);
        tenon__keyring_free(&kr);
        return tool_print_json(doc);
    }
    if (kr.n == 0) {
        printf("no trusted keys in");
        for (size_t i = 0; i < tenon_trust_dir_count(t); i++)
            tool_printf(stdout, "%s %s", i ? "," : "", tenon_trust_dir(t, i));
        printf("\n");
    } else {
        int wfile = 4;
        for (size_t i = 0; i < kr.n; i++)
            if (tool_width(base_name(kr.keys[i].path)) > wfile)
                wfile = tool_width(base_name(kr.keys[i].path));
        printf("%-16s  %-*s  %s\n", "ID", wfile, "FILE", "DIRECTORY");
        for (size_t i = 0; i < kr.n; i++)
            tool_printf(stdout, "%-16s  %-*s  %s\n", kr.keys[i].id, wfile,
                        base_name(kr.keys[i].path),
                        tenon_trust_dir(t, kr.keys[i].dir_index));
    }
    if (kr.nproblems)
        printf("\nignored, so the trust store fails closed (the default "
               "trust policy is require):\n");
    for (size_t i = 0; i < kr.nproblems; i++)
        tool_printf(stdout, "  %s\n", kr.problems[i].reason);
    tenon__keyring_free(&kr);
    return EXIT_OK;
}

static int trust_remove(tenon_t *t, const char *id)
{
    struct tenon__keyring kr;
    size_t removed = 0;
    int rc = EXIT_OK;

    if (strlen(id) != TENON__KEY_ID_LEN ||
        strspn(id, "0123456789abcdef") != TENON__KEY_ID_LEN) {
        tool_error("trust",
                   "'%s': expected a key id of %d lowercase hex "
                   "digits, as 'tenon trust list' shows",
                   id, TENON__KEY_ID_LEN);
        return EXIT_FAIL;
    }
    if (tool_keyring("trust", t, &kr))
        return EXIT_FAIL;
    for (size_t i = 0; i < kr.n; i++) {
        if (strcmp(kr.keys[i].id, id) != 0)
            continue;
        if (unlink(kr.keys[i].path) != 0) {
            tool_error("trust", "cannot remove %s: %s", kr.keys[i].path,
                       strerror(errno));
            rc = EXIT_FAIL;
            continue;
        }
        tool_printf(stdout, "removed %s\n", kr.keys[i].path);
        removed++;
    }
    if (removed && removed == kr.n)
        tool_printf(stdout,
                    "no trusted key is left: the default trust policy stays "
                    "require while a trust directory exists, so every "
                    "plugin is refused until you trust a key again "
                    "(TENON_TRUST=off, or removing the directory, turns "
                    "checking off)\n");
    if (!removed && rc == EXIT_OK) {
        tool_error("trust", "no trusted key has the id %s%s", id,
                   kr.nproblems ? " (the trust store has ignored parts, "
                                  "warned about above: remove such a key "
                                  "file by hand)"
                                : "");
        rc = EXIT_FAIL;
    }
    tenon__keyring_free(&kr);
    return rc;
}

int cmd_trust(int argc, char **argv)
{
    struct tool_opts o = {0};
    const char *sub;
    tenon_t *t;
    int rc = tool_parse("trust", trust_usage, argc, argv, OPT_JSON, 2, &o);

    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    sub = o.npositional ? o.positional[0] : "";
    if (!((strcmp(sub, "list") == 0 && o.npositional == 1) ||
          ((strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) &&
           o.npositional == 2 && !o.json))) {
        tool_error("trust", "expected 'add KEY.pub', 'list [--json]' or "
                            "'remove KEY_ID'; see 'tenon trust --help'");
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (strcmp(sub, "add") == 0)
        rc = trust_add(t, o.positional[1]);
    else if (strcmp(sub, "remove") == 0)
        rc = trust_remove(t, o.positional[1]);
    else
        rc = trust_list(t, o.json);
    tenon_close(t);
    return rc;
}
