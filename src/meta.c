/*
 * The metadata sidecar <plugin>.meta: a JSON object with the file's SHA-256,
 * when it was made, a copy of the static info and, when signed, the
 * signature and key id (docs/trust.md has the format).
 *
 * A .meta file lies next to the plugin and is as untrusted as the plugin
 * itself, so the parser is strict: every field is checked for type and form,
 * and the reason names the field and what was expected.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- timestamps ---------------------------------------------------------- */

void tenon__rfc3339(time_t when, char out[TENON__TIME_LEN + 1])
{
    struct tm tm;
    if (!gmtime_r(&when, &tm) ||
        strftime(out, TENON__TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
            TENON__TIME_LEN)
        memcpy(out, "1970-01-01T00:00:00Z", TENON__TIME_LEN + 1);
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int tenon__rfc3339_valid(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;

    if (strlen(s) != TENON__TIME_LEN || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return 0;
    y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 ||
        h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return 0;
    if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
        return 0;
    return 1;
}

/* ---- the static info as JSON --------------------------------------------- */

/* key -> string, or an array of strings once the key repeats. */
static int add_value(json_t *obj, const char *key, const char *value)
{
    json_t *old = json_object_get(obj, key), *arr;
    if (!old)
        return json_object_set_new(obj, key, json_string(value));
    if (json_is_array(old))
        return json_array_append_new(old, json_string(value));
    if (!(arr = json_array()) || json_array_append(arr, old) ||
        json_array_append_new(arr, json_string(value))) {
        json_decref(arr);
        return -1;
    }
    return json_object_set_new(obj, key, arr);
}

json_t *tenon__meta_info(const struct tenon__info *info)
{
    json_t *obj = json_object(), *args = NULL, *cur = NULL;
    int bad = !obj;

    for (size_t i = 0; i < info->nkv && !bad; i++) {
        const char *k = info->kv[i].key, *v = info->kv[i].value;
        if (strcmp(k, "arg") == 0) {
            /* One object per declared argument, so that optional keys
             * (help, default) stay with the argument they belong to. */
            if (!args && (!(args = json_array()) ||
                          json_object_set_new(obj, "arg", args))) {
                bad = 1;
                break;
            }
            bad = !(cur = json_object()) || json_array_append_new(args, cur) ||
                  json_object_set_new(cur, "name", json_string(v));
        } else if (strncmp(k, "arg.", 4) == 0 && cur) {
            if (!json_object_get(cur, k + 4)) /* the first one counts */
                bad = json_object_set_new(cur, k + 4, json_string(v));
        } else {
            bad = add_value(obj, k, v);
        }
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ---- parsing ------------------------------------------------------------- */

static int bad(char *reason, size_t len, const char *field, const char *fmt,
               ...) TENON_PRINTF(4, 5);

static int bad(char *reason, size_t len, const char *field, const char *fmt,
               ...)
{
    char what[TENON__REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tenon__reason(reason, len, TENON_EINVAL, "field '%s': %s", field,
                         what);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The string field `key`, or NULL with the reason. */
static const char *get_string(json_t *root, const char *key, int required,
                              int *rc, char *reason, size_t len)
{
    json_t *v = json_object_get(root, key);
    *rc = 0;
    if (!v) {
        if (required)
            *rc = bad(reason, len, key, "missing; expected a string");
        return NULL;
    }
    if (!json_is_string(v)) {
        *rc = bad(reason, len, key, "expected a string, got %s", type_name(v));
        return NULL;
    }
    return json_string_value(v);
}

static int get_hex(json_t *root, const char *key, int required,
                   unsigned char *out, size_t n, const char *what, int *present,
                   char *reason, size_t len)
{
    int rc;
    const char *s = get_string(root, key, required, &rc, reason, len);
    *present = s != NULL;
    if (!s)
        return rc;
    if (tenon__hex_decode(s, strlen(s), out, n) != 0)
        return bad(reason, len, key,
                   "expected %zu lowercase hex digits (%s), got %zu "
                   "characters%s",
                   2 * n, what, strlen(s),
                   strlen(s) == 2 * n ? " that are not all hex" : "");
    return 0;
}

static int check_strings(const json_t *arr, const char *key, char *reason,
                         size_t len)
{
    size_t i;
    json_t *item;
    if (json_array_size(arr) == 0)
        return bad(reason, len, key, "empty array; expected strings");
    json_array_foreach(arr, i, item) if (!json_is_string(item)) return bad(
        reason, len, key, "item %zu is %s; expected a string", i,
        type_name(item));
    return 0;
}

static int check_args(const json_t *arr, char *reason, size_t len)
{
    size_t i;
    json_t *item, *v;
    const char *k;
    if (!json_is_array(arr))
        return bad(reason, len, "info.arg",
                   "expected an array of objects, got %s", type_name(arr));
    json_array_foreach(arr, i, item)
    {
        if (!json_is_object(item))
            return bad(reason, len, "info.arg",
                       "item %zu is %s; expected an object", i,
                       type_name(item));
        if (!json_is_string(json_object_get(item, "name")))
            return bad(reason, len, "info.arg",
                       "item %zu has no string \"name\"", i);
        json_object_foreach(
            (json_t *)item, k,
            v) if (!json_is_string(v)) return bad(reason, len, "info.arg",
                                                  "item %zu, key '%.64s' is "
                                                  "%s; expected a string",
                                                  i, k, type_name(v));
    }
    return 0;
}

static int check_info(json_t *info, char *reason, size_t len)
{
    const char *k;
    json_t *v;
    char field[96];
    int rc;

    if (!info)
        return bad(reason, len, "info", "missing; expected an object");
    if (!json_is_object(info))
        return bad(reason, len, "info", "expected an object, got %s",
                   type_name(info));
    if (!json_is_string(json_object_get(info, "name")) ||
        !json_is_string(json_object_get(info, "version")))
        return bad(reason, len, "info",
                   "expected string members \"name\" and \"version\"");
    json_object_foreach(info, k, v)
    {
        snprintf(field, sizeof field, "info.%.64s", k);
        if (strcmp(k, "arg") == 0)
            rc = check_args(v, reason, len);
        else if (json_is_array(v))
            rc = check_strings(v, field, reason, len);
        else if (!json_is_string(v))
            rc = bad(reason, len, field,
                     "expected a string or an array of strings, got %s",
                     type_name(v));
        else
            rc = 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* A file name as the loader looks one up: no '/', not "." or "..". */
static int file_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < sizeof((struct tenon__meta_dep *)0)->name &&
           !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int cmp_dep(const void *a, const void *b)
{
    return strcmp(((const struct tenon__meta_dep *)a)->name,
                  ((const struct tenon__meta_dep *)b)->name);
}

#define DEPS_MAX 256

/* "deps": {"libfoo.so.1": "<sha256 hex>", ...} */
static int parse_deps(json_t *deps, struct tenon__meta *out, char *reason,
                      size_t len)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    if (!json_is_object(deps))
        return bad(reason, len, "deps",
                   "expected an object of library name -> SHA-256, got %s",
                   type_name(deps));
    if (json_object_size(deps) > DEPS_MAX)
        return bad(reason, len, "deps", "%zu libraries; expected at most %d",
                   json_object_size(deps), DEPS_MAX);
    if (!json_object_size(deps))
        return 0;
    if (!(out->deps = calloc(json_object_size(deps), sizeof *out->deps)))
        return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    json_object_foreach(deps, k, v)
    {
        const char *hex = json_is_string(v) ? json_string_value(v) : "";
        if (!file_name(k))
            return bad(reason, len, "deps",
                       "'%.64s' is not a library file name (no '/', at "
                       "most 255 bytes)",
                       k);
        if (tenon__hex_decode(hex, strlen(hex), out->deps[i].digest, 32))
            return bad(reason, len, "deps",
                       "'%.64s': expected 64 lowercase hex digits (a SHA-256)",
                       k);
        snprintf(out->deps[i].name, sizeof out->deps[i].name, "%s", k);
        out->ndeps = ++i;
    }
    qsort(out->deps, out->ndeps, sizeof *out->deps, cmp_dep);
    return 0;
}

/* What the document describes: a plugin ("info") or a library
 * ("soname"), and its bundled libraries. */
static int parse_subject(json_t *root, struct tenon__meta *out, char *reason,
                         size_t len)
{
    json_t *info = json_object_get(root, "info"), *deps;
    const char *so;
    int rc;
    if ((so = get_string(root, "soname", 0, &rc, reason, len))) {
        if (info)
            return bad(reason, len, "soname",
                       "a .meta describes a plugin (\"info\") or a library "
                       "(\"soname\"), not both");
        if (!file_name(so))
            return bad(reason, len, "soname",
                       "'%.64s' is not a library file name", so);
        if (!(out->soname = tenon__strdup(so)))
            return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    } else if (rc) {
        return rc;
    } else if ((rc = check_info(info, reason, len))) {
        return rc;
    }
    if ((deps = json_object_get(root, "deps"))) {
        if (out->soname)
            return bad(reason, len, "deps",
                       "only a plugin's .meta names bundled libraries");
        return parse_deps(deps, out, reason, len);
    }
    return 0;
}

/* Which statement the signature covers. A plugin signature from before
 * statements were named covers the first one. */
static int parse_statement(json_t *root, struct tenon__meta *out, char *reason,
                           size_t len)
{
    static const char *const known[] = {
        TENON__STMT_PLUGIN_V1, TENON__STMT_PLUGIN_V2, TENON__STMT_LIBRARY_V1};
    int rc;
    const char *st = get_string(root, "statement", 0, &rc, reason, len);
    if (rc)
        return rc;
    if (st && !out->is_signed)
        return bad(reason, len, "statement",
                   "present without \"signature\" and \"key_id\"");
    if (!out->is_signed)
        return 0;
    if (!st)
        st = out->soname ? "" : TENON__STMT_PLUGIN_V1;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(st, known[i]) == 0 &&
            !out->soname == (strncmp(st, "tenon-plugin-", 13) == 0)) {
            snprintf(out->statement, sizeof out->statement, "%s", st);
            return 0;
        }
    return bad(reason, len, "statement",
               "'%.64s' is not a statement this version of Tenon verifies "
               "for a %s; expected %s",
               st, out->soname ? "library" : "plugin",
               out->soname ? TENON__STMT_LIBRARY_V1
                           : TENON__STMT_PLUGIN_V2 " (or " TENON__STMT_PLUGIN_V1
                                                   ")");
}

static int parse_root(json_t *root, struct tenon__meta *out, char *reason,
                      size_t len)
{
    int rc, present, has_sig, has_id;
    const char *s;

    if ((rc = get_hex(root, "digest", 1, out->digest, 32, "a SHA-256", &present,
                      reason, len)))
        return rc;
    if (!(s = get_string(root, "created_at", 1, &rc, reason, len)))
        return rc;
    if (!tenon__rfc3339_valid(s))
        return bad(reason, len, "created_at",
                   "'%.40s' is not a UTC time YYYY-MM-DDTHH:MM:SSZ", s);
    memcpy(out->created_at, s, TENON__TIME_LEN + 1);
    if ((rc = parse_subject(root, out, reason, len)))
        return rc;
    if ((rc = get_hex(root, "signature", 0, out->signature, 64,
                      "an Ed25519 signature", &has_sig, reason, len)))
        return rc;
    if ((s = get_string(root, "key_id", 0, &rc, reason, len))) {
        if (strlen(s) != TENON__KEY_ID_LEN ||
            strspn(s, "0123456789abcdef") != TENON__KEY_ID_LEN)
            return bad(reason, len, "key_id",
                       "expected %d lowercase hex digits, got '%.40s'",
                       TENON__KEY_ID_LEN, s);
        memcpy(out->key_id, s, TENON__KEY_ID_LEN + 1);
    } else if (rc) {
        return rc;
    }
    has_id = s != NULL;
    if (has_sig != has_id)
        return bad(reason, len, has_sig ? "key_id" : "signature",
                   "missing; \"signature\" and \"key_id\" go together");
    out->is_signed = has_sig;
    return parse_statement(root, out, reason, len);
}

int tenon__meta_parse(const char *data, size_t size, struct tenon__meta *out,
                      char *reason, size_t len)
{
    json_error_t err;
    json_t *root;
    int rc;

    memset(out, 0, sizeof *out);
    if (size > TENON__META_MAX)
        return tenon__reason(reason, len, TENON_EINVAL,
                             "%zu bytes; expected at most %u", size,
                             TENON__META_MAX);
    root =
        json_loadb(data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root)
        return tenon__reason(reason, len, TENON_EINVAL,
                             "not JSON: %s at line %d, column %d", err.text,
                             err.line, err.column);
    if (!json_is_object(root)) {
        rc = tenon__reason(reason, len, TENON_EINVAL,
                           "expected a JSON object, got %s", type_name(root));
    } else if ((rc = parse_root(root, out, reason, len)) == 0 && !out->soname) {
        out->info = json_incref(json_object_get(root, "info"));
    }
    json_decref(root);
    if (rc)
        tenon__meta_free(out);
    return rc;
}

int tenon__meta_read(const char *path, struct tenon__meta *out, char *reason,
                     size_t len)
{
    struct stat st;
    int fd = tenon__open_regular(AT_FDCWD, path, &st);
    char *buf = NULL;
    size_t got = 0;
    ssize_t n;
    int rc;

    memset(out, 0, sizeof *out);
    if (fd < 0 && errno == ENXIO)
        return tenon__reason(reason, len, TENON_EINVAL,
                             "%s: a symbolic link to a device, FIFO or "
                             "socket; expected a regular file",
                             path);
    if (fd < 0)
        return tenon__reason(reason, len,
                             errno == ENOENT ? TENON_ENOENT : TENON_EIO,
                             "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tenon__reason(reason, len, TENON_EINVAL,
                             "%s: not a regular file", path);
    }
    if (st.st_size > TENON__META_MAX) {
        close(fd);
        return tenon__reason(reason, len, TENON_EINVAL,
                             "%s: %lld bytes; expected at most %u", path,
                             (long long)st.st_size, TENON__META_MAX);
    }
    /* One byte more than allowed, to notice a file that grew meanwhile. */
    if (!(buf = malloc(TENON__META_MAX + 1))) {
        close(fd);
        return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    }
    while (got <= TENON__META_MAX &&
           (n = read(fd, buf + got, TENON__META_MAX + 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tenon__reason(reason, len, TENON_EIO, "%s: cannot read: %s",
                               path, strerror(errno));
            goto out;
        }
        got += (size_t)n;
    }
    rc = tenon__meta_parse(buf, got, out, reason, len);
out:
    free(buf);
    close(fd);
    return rc;
}

void tenon__meta_free(struct tenon__meta *m)
{
    json_decref(m->info);
    free(m->soname);
    free(m->deps);
    memset(m, 0, sizeof *m);
}

/* ---- writing ------------------------------------------------------------- */

static char *meta_text(const struct tenon__meta *m)
{
    char hex[129];
    json_t *o = json_object();
    char *text;

    tenon__hex_encode(m->digest, 32, hex);
    json_object_set_new(o, "digest", json_string(hex));
    json_object_set_new(o, "created_at", json_string(m->created_at));
    if (m->soname)
        json_object_set_new(o, "soname", json_string(m->soname));
    else
        json_object_set_new(o, "info",
                            m->info ? json_incref(m->info) : json_object());
    if (m->ndeps) {
        json_t *deps = json_object();
        for (size_t i = 0; i < m->ndeps; i++) {
            tenon__hex_encode(m->deps[i].digest, 32, hex);
            json_object_set_new(deps, m->deps[i].name, json_string(hex));
        }
        json_object_set_new(o, "deps", deps);
    }
    if (m->is_signed) {
        /* The first plugin statement is not named, so that a .meta of it
         * reads as it did before statements had names. */
        if (m->statement[0] && strcmp(m->statement, TENON__STMT_PLUGIN_V1))
            json_object_set_new(o, "statement", json_string(m->statement));
        tenon__hex_encode(m->signature, 64, hex);
        json_object_set_new(o, "signature", json_string(hex));
        json_object_set_new(o, "key_id", json_string(m->key_id));
    }
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

int tenon__write_atomic(const char *path, const char *data, size_t size,
                        mode_t mode, char *reason, size_t len)
{
    char *tmp = tenon__asprintf("%s.tmp.XXXXXX", path);
    char *slash;
    size_t done = 0;
    int fd, dfd, e, ok;

    if (!tmp)
        return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        e = errno;
        free(tmp);
        return tenon__reason(reason, len, TENON_EIO,
                             "%s: cannot create a temporary file: %s", path,
                             strerror(e));
    }
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    ok = done == size && fchmod(fd, mode) == 0 && fsync(fd) == 0;
    e = ok ? 0 : errno;
    if (close(fd) != 0 && ok)
        ok = 0, e = errno;
    if (ok && rename(tmp, path) != 0)
        ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return tenon__reason(reason, len, TENON_EIO, "%s: cannot write: %s",
                             path, strerror(e ? e : EIO));
    }
    /* Make the rename itself durable. */
    if ((slash = strrchr(tmp, '/')))
        *slash = '\0';
    if ((dfd = open(slash ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
        0) {
        fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return 0;
}

int tenon__meta_write(const char *path, const struct tenon__meta *m,
                      char *reason, size_t len)
{
    char *text = meta_text(m), *full;
    int rc;
    if (!text)
        return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    full = tenon__asprintf("%s\n", text);
    free(text);
    if (!full)
        return tenon__reason(reason, len, TENON_ENOMEM, "out of memory");
    rc = tenon__write_atomic(path, full, strlen(full), 0644, reason, len);
    free(full);
    return rc;
}
