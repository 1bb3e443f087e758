/*
 * The inventory: which files a scan finds, what it reads from them without
 * loading them, which version a name picks, where it looks, and why it
 * rejects a malformed file. The malformed files are made here, from the real
 * test plugins, so each one breaks exactly one thing.
 */
#include <dirent.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testapi.h"
#include "testutil.h"

#ifndef TENON_TEST_PREFIX
#define TENON_TEST_PREFIX "/usr/local"
#endif

/* The patched "foreign machine" file must be foreign to whatever runs this. */
#if defined(__aarch64__)
#define FOREIGN_MACHINE EM_X86_64
#define FOREIGN_NAME    "x86-64"
#else
#define FOREIGN_MACHINE EM_AARCH64
#define FOREIGN_NAME    "AArch64"
#endif

/* ---- helpers ------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    assert_non_null(f);
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len)
{
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(path);
}

static void copy_file(const char *src, const char *dir, const char *name)
{
    size_t len;
    unsigned char *data = slurp(src, &len);
    write_file(dir, name, data, len);
    free(data);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so names in `dir`, sorted: what a scan of it must report. */
static char **list_so(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 3 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        assert_non_null(names);
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_cstr);
    *count = n;
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static const tenon_plugin_t *entry_by_path(tenon_t *t, const char *path)
{
    size_t n = tenon_plugin_count(t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(tenon_plugin_path(tenon_plugin_at(t, i)), path) == 0)
            return tenon_plugin_at(t, i);
    return NULL;
}

/* Where the static info of an ELF64 image sits: the Tenon note in section
 * TENON_INFO_SECTION, found through the section headers, independently of
 * the library's reader (which goes through the program headers). */
struct info_loc {
    uint64_t shoff;     /* e_shoff */
    uint64_t shnum;     /* e_shnum */
    uint64_t descsz_at; /* file offset of the note's n_descsz */
    uint64_t off, size; /* the info bytes: the note's descriptor */
};

static void locate_info(const unsigned char *data, size_t len,
                        struct info_loc *loc)
{
    static const char owner[] = TENON_NOTE_OWNER;
    Elf64_Ehdr eh;
    Elf64_Shdr strs, sh;
    Elf64_Nhdr nh;

    assert_true(len >= sizeof eh);
    memcpy(&eh, data, sizeof eh);
    assert_memory_equal(eh.e_ident, ELFMAG, SELFMAG);
    assert_int_equal(eh.e_shentsize, sizeof(Elf64_Shdr));
    assert_true(eh.e_shnum > 0 && eh.e_shstrndx < eh.e_shnum);
    assert_true(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof sh <= len);
    memcpy(&strs, data + eh.e_shoff + eh.e_shstrndx * sizeof sh, sizeof strs);
    assert_true(strs.sh_offset + strs.sh_size <= len);
    loc->shoff = eh.e_shoff;
    loc->shnum = eh.e_shnum;
    for (uint64_t i = 1; i < eh.e_shnum; i++) {
        memcpy(&sh, data + eh.e_shoff + i * sizeof sh, sizeof sh);
        if (sh.sh_name >= strs.sh_size ||
            strcmp((const char *)data + strs.sh_offset + sh.sh_name,
                   TENON_INFO_SECTION) != 0)
            continue;
        /* The section holds exactly one note: header, owner, info. */
        assert_true(sh.sh_offset + sh.sh_size <= len);
        assert_true(sh.sh_size >= sizeof nh + 8);
        memcpy(&nh, data + sh.sh_offset, sizeof nh);
        assert_int_equal(nh.n_namesz, sizeof owner);
        assert_int_equal(nh.n_type, TENON_NOTE_TYPE);
        assert_memory_equal(data + sh.sh_offset + sizeof nh, owner,
                            sizeof owner);
        loc->descsz_at = sh.sh_offset + offsetof(Elf64_Nhdr, n_descsz);
        loc->off = sh.sh_offset + sizeof nh + ((sizeof owner + 3) & ~3u);
        loc->size = nh.n_descsz;
        assert_true(loc->off + loc->size <= sh.sh_offset + sh.sh_size);
        return;
    }
    fail_msg("no %s section in the test plugin", TENON_INFO_SECTION);
}

/* Offset of "key=" at the start of an info string inside the section. */
static uint64_t find_info_key(const unsigned char *data,
                              const struct info_loc *loc, const char *key)
{
    size_t klen = strlen(key);
    for (uint64_t i = loc->off; i + klen + 1 <= loc->off + loc->size; i++)
        if ((i == loc->off || data[i - 1] == '\0') &&
            memcmp(data + i, key, klen) == 0 && data[i + klen] == '=')
            return i;
    fail_msg("no '%s=' in the static info", key);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- static info --------------------------------------------------------- */

struct arg_want {
    const char *name;
    int type, required;
    const char *def, *help, *choices;
};

/* As declared in tests/plugins/basic.c. */
static const struct arg_want basic_args[] = {
    {"label", TENON_ARG_STRING, 0, "none", "a label (the bare value)", NULL},
    {"count", TENON_ARG_INT, 0, "0", "a number", NULL},
    {"flag", TENON_ARG_BOOL, 0, "no", "a switch", NULL},
    {"mode", TENON_ARG_ENUM, 0, "auto", "a choice", "fast|slow|auto"},
    {"limit", TENON_ARG_INT, 0, NULL, "optional, no default", NULL},
};

/* As declared in tests/plugins/required.c. */
static const struct arg_want required_args[] = {
    {"pid", TENON_ARG_INT, 1, NULL, "process id", NULL},
    {"os", TENON_ARG_ENUM, 1, NULL, "operating system", "linux|win"},
    {"note", TENON_ARG_STRING, 0, NULL, "optional text", NULL},
};

static void assert_args(const tenon_plugin_t *p, const struct arg_want *want,
                        size_t n)
{
    assert_int_equal(tenon_plugin_arg_count(p), n);
    for (size_t i = 0; i < n; i++) {
        const struct tenon_arg_decl *d = tenon_plugin_arg(p, i);
        assert_non_null(d);
        assert_nstr(d->name, want[i].name);
        assert_int_equal(d->type, want[i].type);
        assert_int_equal(!!d->required, want[i].required);
        assert_nstr(d->default_value, want[i].def);
        assert_nstr(d->help, want[i].help);
        assert_nstr(d->choices, want[i].choices);
    }
    assert_null(tenon_plugin_arg(p, n));
}

/* Every string of the file's static info, in order, is what
 * tenon_plugin_info_at() reports: nothing dropped, reordered or invented. */
static void assert_info_matches_file(const tenon_plugin_t *p)
{
    size_t len, i = 0;
    unsigned char *data = slurp(tenon_plugin_path(p), &len);
    struct info_loc loc;
    const char *k, *v;

    locate_info(data, len, &loc);
    for (uint64_t at = loc.off; at < loc.off + loc.size;) {
        const char *s = (const char *)data + at;
        size_t slen = strnlen(s, loc.off + loc.size - at);
        const char *eq = memchr(s, '=', slen);
        at += slen + 1;
        if (slen == 0) /* padding between the concatenated literals */
            continue;
        assert_non_null(eq);
        assert_int_equal(tenon_plugin_info_at(p, i, &k, &v), 0);
        assert_int_equal(strlen(k), (size_t)(eq - s));
        assert_memory_equal(k, s, strlen(k));
        assert_string_equal(v, eq + 1);
        i++;
    }
    assert_int_equal(tenon_plugin_info_count(p), i);
    assert_int_equal(tenon_plugin_info_at(p, i, &k, &v), TENON_ERANGE);
    free(data);
}

static void test_finds_every_test_plugin(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    size_t nfiles;
    char **files = list_so(TEST_PLUGIN_DIR, &nfiles);
    tenon_t *t = open_dirs(dirs, 1);
    (void)state;

    assert_true(nfiles >= 7);
    assert_int_equal(tenon_plugin_count(t), nfiles);
    for (size_t i = 0; i < nfiles; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        char *want = path_join(TEST_PLUGIN_DIR, files[i]);
        assert_non_null(p);
        assert_string_equal(tenon_plugin_path(p), want);
        assert_int_equal(tenon_plugin_status(p), TENON_AVAILABLE);
        assert_null(tenon_plugin_reason(p));
        assert_int_equal(tenon_plugin_abi(p), TENON_ABI_VERSION);
        assert_nstr(tenon_plugin_get(p, "name"), tenon_plugin_name(p));
        assert_nstr(tenon_plugin_get(p, "version"), tenon_plugin_version(p));
        assert_info_matches_file(p);
        free(want);
    }
    assert_null(tenon_plugin_at(t, nfiles));
    free_names(files, nfiles);
    tenon_close(t);
}

static void test_static_info_exact(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    const tenon_plugin_t *p;
    const char *k, *v;
    char abi[16];
    int custom = 0;
    (void)state;

    assert_int_equal(tenon_find(t, "basic@1.2.0", &p), 0);
    assert_string_equal(tenon_plugin_name(p), "basic");
    assert_string_equal(tenon_plugin_version(p), "1.2.0");
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v1.so");
    assert_int_equal(tenon_plugin_status(p), TENON_AVAILABLE);
    assert_string_equal(tenon_plugin_status_name(TENON_AVAILABLE), "available");
    assert_int_equal(tenon_plugin_abi(p), TENON_ABI_VERSION);
    snprintf(abi, sizeof abi, "%d", TENON_ABI_VERSION);
    assert_nstr(tenon_plugin_get(p, "abi"), abi);

    assert_int_equal(tenon_plugin_provides_count(p), 2);
    assert_string_equal(tenon_plugin_provides(p, 0), TEST_BASIC_ID);
    assert_string_equal(tenon_plugin_provides(p, 1), "test.extra/2");
    assert_null(tenon_plugin_provides(p, 2));

    assert_nstr(tenon_plugin_get(p, "description"),
                "Test plugin with one argument of each type");
    assert_nstr(tenon_plugin_get(p, "license"), "MIT");
    assert_nstr(tenon_plugin_get(p, "url"), "https://example.invalid/basic");
    assert_nstr(tenon_plugin_get(p, "help"), "Line one.\nLine two.");
    assert_null(tenon_plugin_get(p, "accepts"));
    assert_null(tenon_plugin_get(p, "contact"));
    assert_null(tenon_plugin_get(p, "no-such-key"));
    assert_args(p, basic_args, sizeof basic_args / sizeof *basic_args);

    /* A key this host does not know is kept, so `tenon info` can show it. */
    for (size_t i = 0; tenon_plugin_info_at(p, i, &k, &v) == 0; i++)
        if (strcmp(k, "x-custom") == 0) {
            assert_string_equal(v, "kept as other info");
            custom++;
        }
    assert_int_equal(custom, 1);
    assert_nstr(tenon_plugin_get(p, "x-custom"), "kept as other info");
    assert_info_matches_file(p);

    assert_int_equal(tenon_find(t, "required", &p), 0);
    assert_string_equal(tenon_plugin_version(p), "0.1.0");
    assert_int_equal(tenon_plugin_provides_count(p), 0);
    assert_null(tenon_plugin_provides(p, 0));
    assert_args(p, required_args, sizeof required_args / sizeof *required_args);

    assert_int_equal(tenon_find(t, "chain", &p), 0);
    assert_nstr(tenon_plugin_get(p, "accepts"), TEST_BASIC_ID);
    assert_int_equal(tenon_plugin_provides_count(p), 1);
    assert_string_equal(tenon_plugin_provides(p, 0), TEST_CHAIN_ID);
    assert_int_equal(tenon_plugin_arg_count(p), 0);
    tenon_close(t);
}

/* ---- version selection --------------------------------------------------- */

static void test_version_selection(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    const tenon_plugin_t *p;
    (void)state;

    /* 1.10.0 > 1.10.0-rc.1 > 1.2.0: numeric fields, release above its rc. */
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_string_equal(tenon_plugin_version(p), "1.10.0");
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v2.so");

    assert_int_equal(tenon_find(t, "basic@1.2.0", &p), 0);
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v1.so");
    assert_int_equal(tenon_find(t, "basic@1.10.0-rc.1", &p), 0);
    assert_string_equal(tenon_plugin_version(p), "1.10.0-rc.1");
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v3.so");
    assert_int_equal(tenon_find(t, "basic@1.10.0", &p), 0);
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v2.so");
    tenon_close(t);
}

/* The winner must not depend on which file the directory lists first:
 * each pair is tried in both file-name orders. */
static void test_version_selection_independent_of_file_order(void **state)
{
    static const struct {
        const char *a, *b, *want;
    } pairs[] = {
        {"basic_v1.so", "basic_v3.so", "1.10.0-rc.1"}, /* 10 > 2 */
        {"basic_v3.so", "basic_v1.so", "1.10.0-rc.1"},
        {"basic_v2.so", "basic_v3.so", "1.10.0"}, /* release > rc */
        {"basic_v3.so", "basic_v2.so", "1.10.0"},
        {"basic_v1.so", "basic_v2.so", "1.10.0"},
        {"basic_v2.so", "basic_v1.so", "1.10.0"},
    };

    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char name[32], *dir, *a = path_join(TEST_PLUGIN_DIR, pairs[i].a);
        char *b = path_join(TEST_PLUGIN_DIR, pairs[i].b);
        const char *dirs[1];
        const tenon_plugin_t *p;
        tenon_t *t;

        snprintf(name, sizeof name, "pair%zu", i);
        dir = path_join(*state, name);
        dirs[0] = dir;
        assert_int_equal(mkdir(dir, 0755), 0);
        copy_file(a, dir, "a.so");
        copy_file(b, dir, "b.so");
        t = open_dirs(dirs, 1);
        assert_int_equal(tenon_plugin_count(t), 2);
        assert_int_equal(tenon_find(t, "basic", &p), 0);
        assert_string_equal(tenon_plugin_version(p), pairs[i].want);
        tenon_close(t);
        free(a);
        free(b);
        free(dir);
    }
}

static void test_find_errors(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR, TEST_BAD_DIR};
    tenon_t *t = open_dirs(dirs, 2);
    const tenon_plugin_t *p = (const tenon_plugin_t *)1;
    const char *msg, *avail;
    size_t nbasic = 0, nlisted = 0;
    (void)state;

    /* A version nobody has: the message lists the versions there are. */
    assert_int_equal(tenon_find(t, "basic@9.9.9", &p), TENON_ENOENT);
    assert_null(p);
    msg = tenon_last_error();
    assert_contains(msg, "9.9.9");
    avail = strstr(msg, "available: ");
    assert_non_null(avail);
    {
        char *list = strdup(avail + strlen("available: "));
        assert_non_null(list);
        for (char *save, *v = strtok_r(list, ", ", &save); v;
             v = strtok_r(NULL, ", ", &save)) {
            const tenon_plugin_t *q;
            char spec[128];
            snprintf(spec, sizeof spec, "basic@%s", v);
            assert_int_equal(tenon_find(t, spec, &q), 0);
            nlisted++;
        }
        free(list);
    }
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const char *n = tenon_plugin_name(tenon_plugin_at(t, i));
        nbasic += n && strcmp(n, "basic") == 0;
    }
    assert_int_equal(nlisted, nbasic);

    p = (const tenon_plugin_t *)1;
    assert_int_equal(tenon_find(t, "nosuch", &p), TENON_ENOENT);
    assert_null(p);
    assert_contains(tenon_last_error(), "nosuch");

    /* Present only as an unusable file: say so, and why. */
    p = (const tenon_plugin_t *)1;
    assert_int_equal(tenon_find(t, "badver", &p), TENON_EUNAVAIL);
    assert_null(p);
    msg = tenon_last_error();
    assert_contains(msg, "badver");
    assert_contains(msg, "not a semantic version");
    tenon_close(t);
}

static void test_invalid_specs(void **state)
{
    static const char *const bad[] = {
        "",        "Basic",        "bas ic",        "@1.2.0",
        "-basic",  "../basic",     "basic:label=x", "basic@1.2.0:count=1",
        "basic/x", "b\xc3\xa4sic",
    };
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const tenon_plugin_t *p = (const tenon_plugin_t *)1;
        int rc = tenon_find(t, bad[i], &p);
        if (rc != TENON_EINVAL)
            fail_msg("tenon_find(\"%s\") = %s, expected TENON_EINVAL", bad[i],
                     tenon_err_name(rc));
        assert_null(p);
        assert_true(strlen(tenon_last_error()) > 0);
        if (*bad[i])
            assert_contains(tenon_last_error(), bad[i]);
    }
    tenon_close(t);
}

/* A version part that cannot be a semantic version can never match: the
 * caller made a typo, which TENON_EINVAL tells apart from "not installed". */
static void test_invalid_version_in_spec(void **state)
{
    static const char *const bad[] = {"basic@", "basic@1.2", "basic@v1.2.0"};
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    char why[1024] = "";
    (void)state;

    /* Collect every miss and close first, so a failure leaks nothing that
     * would bury it under sanitizer reports. */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const tenon_plugin_t *p = (const tenon_plugin_t *)1;
        int rc = tenon_find(t, bad[i], &p);
        size_t used = strlen(why);
        if (rc != TENON_EINVAL || p)
            snprintf(why + used, sizeof why - used,
                     "\ntenon_find(\"%s\") = %s (%s), expected TENON_EINVAL",
                     bad[i], tenon_err_name(rc), tenon_last_error());
    }
    tenon_close(t);
    if (*why)
        fail_msg("%s", why);
}

/* ---- search path --------------------------------------------------------- */

struct saved_env {
    char *home, *path;
};

static void save_env(struct saved_env *s)
{
    const char *h = getenv("HOME"), *p = getenv("TENON_PLUGIN_PATH");
    s->home = h ? strdup(h) : NULL;
    s->path = p ? strdup(p) : NULL;
}

static void restore_one(const char *name, char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

static void restore_env(struct saved_env *s)
{
    restore_one("HOME", s->home);
    restore_one("TENON_PLUGIN_PATH", s->path);
}

static void assert_paths(const tenon_t *t, const char *const *want, size_t n)
{
    assert_int_equal(tenon_search_path_count(t), n);
    for (size_t i = 0; i < n; i++)
        assert_nstr(tenon_search_path(t, i), want[i]);
    assert_null(tenon_search_path(t, n));
}

static void test_search_path(void **state)
{
    struct saved_env env;
    tenon_t *t;
    const tenon_plugin_t *p;
    const char *prefix_dir = TENON_TEST_PREFIX "/lib/tenon";
    (void)state;

    save_env(&env);
    setenv("HOME", "/nonexistent/home", 1);
    setenv("TENON_PLUGIN_PATH", "/nonexistent/a::/nonexistent/b:", 1);

    {
        const char *want[] = {"/nonexistent/a", "/nonexistent/b",
                              "/nonexistent/home/.local/lib/tenon", prefix_dir};
        assert_int_equal(tenon_open(&t, NULL), 0);
        assert_paths(t, want, 4);
        tenon_close(t);
    }
    {
        /* Explicit directories replace every default. */
        const char *dirs[] = {"/nonexistent/x", "/nonexistent/y"};
        t = open_dirs(dirs, 2);
        assert_paths(t, dirs, 2);
        tenon_close(t);
    }
    {
        const char *want[] = {"/nonexistent/home/.local/lib/tenon", prefix_dir};
        unsetenv("TENON_PLUGIN_PATH");
        assert_int_equal(tenon_open(&t, NULL), 0);
        assert_paths(t, want, 2);
        tenon_close(t);
    }
    {
        const char *want[] = {"/nonexistent/c", prefix_dir};
        setenv("TENON_PLUGIN_PATH", "/nonexistent/c", 1);
        unsetenv("HOME");
        assert_int_equal(tenon_open(&t, NULL), 0);
        assert_paths(t, want, 2);
        tenon_close(t);
    }

    /* The environment's directories are the ones actually scanned. */
    setenv("HOME", "/nonexistent/home", 1);
    setenv("TENON_PLUGIN_PATH", ":" TEST_PLUGIN_DIR, 1);
    assert_int_equal(tenon_open(&t, NULL), 0);
    assert_string_equal(tenon_search_path(t, 0), TEST_PLUGIN_DIR);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_string_equal(tenon_plugin_path(p), TEST_PLUGIN_DIR "/basic_v2.so");
    tenon_close(t);

    restore_env(&env);
}

/* One directory spelled two ways is searched once; otherwise each of its
 * plugins would be listed twice, the second time shadowed by itself. */
static void test_search_path_same_dir_twice(void **state)
{
    static const char *const orders[][2] = {
        {TEST_PLUGIN_DIR, TEST_PLUGIN_DIR "/"},
        {TEST_PLUGIN_DIR "/", TEST_PLUGIN_DIR},
        {TEST_PLUGIN_DIR, TEST_PLUGIN_DIR},
    };
    size_t nfiles;
    char **files = list_so(TEST_PLUGIN_DIR, &nfiles);
    char why[2048] = "";
    (void)state;

    /* Collect every miss and close first (see test_invalid_version_in_spec). */
    for (size_t i = 0; i < sizeof orders / sizeof *orders; i++) {
        tenon_t *t = open_dirs(orders[i], 2);
        size_t ndirs = tenon_search_path_count(t), n = tenon_plugin_count(t);
        size_t unavailable = 0, used = strlen(why);
        for (size_t j = 0; j < n; j++)
            unavailable +=
                tenon_plugin_status(tenon_plugin_at(t, j)) != TENON_AVAILABLE;
        if (ndirs != 1 ||
            strcmp(tenon_search_path(t, 0), TEST_PLUGIN_DIR) != 0 ||
            n != nfiles || unavailable)
            snprintf(why + used, sizeof why - used,
                     "\n'%s' then '%s': %zu directories, %zu entries for %zu "
                     "files, %zu not available",
                     orders[i][0], orders[i][1], ndirs, n, nfiles, unavailable);
        tenon_close(t);
    }
    free_names(files, nfiles);
    if (*why)
        fail_msg("%s", why);
}

/* ---- a directory of bad files -------------------------------------------- */

struct bad_case {
    int dir; /* 1 or 2 */
    const char *file;
    int status;
    const char *needle[2]; /* each must be in the reason */
};

static const struct bad_case bad_cases[] = {
    {1, "empty.so", TENON_UNAVAILABLE, {"empty"}},
    {1, "x.so", TENON_UNAVAILABLE, {"not an ELF"}},
    {1, "header-only.so", TENON_UNAVAILABLE, {"only an ELF header"}},
    {1,
     "cut-shdr.so",
     TENON_UNAVAILABLE,
     {"section header table", "truncated"}},
    {1,
     "shoff.so",
     TENON_UNAVAILABLE,
     {"section header table offset", "past the end"}},
    {1, "infosize.so", TENON_UNAVAILABLE, {"size", "past the end"}},
    {1, "nonul.so", TENON_UNAVAILABLE, {"does not end with a NUL"}},
    {1, "foreign.so", TENON_UNAVAILABLE, {FOREIGN_NAME}},
    {1, "elf32.so", TENON_UNAVAILABLE, {"32-bit"}},
    {1, "msb.so", TENON_UNAVAILABLE, {"big-endian"}},
    {1,
     "noinfo.so",
     TENON_UNAVAILABLE,
     {"no " TENON_INFO_SECTION, "not a Tenon plugin"}},
    {1, "noname.so", TENON_UNAVAILABLE, {"no 'name'"}},
    {1,
     "abi-next.so",
     TENON_UNAVAILABLE,
     {"plugin ABI 2; this host supports ABI 1"}},
    {1, "badver.so", TENON_UNAVAILABLE, {"not a semantic version", "'1.0'"}},
    {1, "badname.so", TENON_UNAVAILABLE, {"is invalid", "Bad Name!"}},
    {1, "y.so", TENON_UNAVAILABLE, {"directory"}},
    {1, "a.so", TENON_UNAVAILABLE, {"symbolic link loop"}},
    {1, "b.so", TENON_UNAVAILABLE, {"symbolic link loop"}},
    {1, "good.so", TENON_AVAILABLE, {NULL}},
    {2, "basic_v1.so", TENON_SHADOWED, {"shadowed by"}},
};
#define NBAD (sizeof bad_cases / sizeof *bad_cases)

struct bad_dirs {
    char *dir1, *dir2;
};

static void write_patched(const char *dir, const char *name,
                          const unsigned char *data, size_t len, size_t at,
                          const void *bytes, size_t n)
{
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    assert_true(at + n <= len);
    memcpy(copy, data, len);
    memcpy(copy + at, bytes, n);
    write_file(dir, name, copy, len);
    free(copy);
}

static void make_bad_dir(const char *dir)
{
    size_t len;
    unsigned char *v1 = slurp(TEST_PLUGIN_DIR "/basic_v1.so", &len);
    struct info_loc loc;
    static const char text[] = "this is a text file, not a plugin\n";
    char path[4096];

    locate_info(v1, len, &loc);
    /* The cut below must land inside the table, so the table must be whole. */
    assert_true(loc.shnum >= 2);

    write_file(dir, "empty.so", "", 0);
    write_file(dir, "x.so", text, sizeof text - 1);
    write_file(dir, "header-only.so", v1, sizeof(Elf64_Ehdr));
    write_file(dir, "cut-shdr.so", v1,
               loc.shoff + loc.shnum * sizeof(Elf64_Shdr) / 2);
    {
        uint64_t off = (uint64_t)len + 4096;
        write_patched(dir, "shoff.so", v1, len, offsetof(Elf64_Ehdr, e_shoff),
                      &off, sizeof off);
    }
    {
        /* The info's size field claims one byte more than the file holds. */
        Elf64_Word size = (Elf64_Word)(len - loc.off + 1);
        write_patched(dir, "infosize.so", v1, len, loc.descsz_at, &size,
                      sizeof size);
    }
    assert_int_equal(v1[loc.off + loc.size - 1], '\0');
    write_patched(dir, "nonul.so", v1, len, loc.off + loc.size - 1, "x", 1);
    {
        Elf64_Half m = FOREIGN_MACHINE;
        write_patched(dir, "foreign.so", v1, len,
                      offsetof(Elf64_Ehdr, e_machine), &m, sizeof m);
    }
    {
        unsigned char c = ELFCLASS32, d = ELFDATA2MSB;
        write_patched(dir, "elf32.so", v1, len, EI_CLASS, &c, 1);
        write_patched(dir, "msb.so", v1, len, EI_DATA, &d, 1);
    }
    copy_file(TEST_BAD_DIR "/noinfo.so", dir, "noinfo.so");
    write_patched(dir, "noname.so", v1, len, find_info_key(v1, &loc, "name"),
                  "nome", 4);
    {
        char want[16], next[16];
        uint64_t at = find_info_key(v1, &loc, "abi");
        snprintf(want, sizeof want, "abi=%d", TENON_ABI_VERSION);
        snprintf(next, sizeof next, "abi=%d", TENON_ABI_VERSION + 1);
        /* Same length, so only the number changes. */
        assert_int_equal(strlen(want), strlen(next));
        assert_memory_equal(v1 + at, want, strlen(want) + 1);
        write_patched(dir, "abi-next.so", v1, len, at, next, strlen(next));
    }
    copy_file(TEST_BAD_DIR "/badver.so", dir, "badver.so");
    copy_file(TEST_BAD_DIR "/badname.so", dir, "badname.so");
    snprintf(path, sizeof path, "%s/y.so", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/a.so", dir);
    assert_int_equal(symlink("b.so", path), 0);
    snprintf(path, sizeof path, "%s/b.so", dir);
    assert_int_equal(symlink("a.so", path), 0);
    write_file(dir, "good.so", v1, len);
    free(v1);
}

static int bad_setup(void **state)
{
    struct bad_dirs *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->dir1 = make_tmpdir();
    b->dir2 = make_tmpdir();
    make_bad_dir(b->dir1);
    copy_file(TEST_PLUGIN_DIR "/basic_v1.so", b->dir2, "basic_v1.so");
    *state = b;
    return 0;
}

static int bad_teardown(void **state)
{
    struct bad_dirs *b = *state;
    remove_tree(b->dir1);
    remove_tree(b->dir2);
    free(b);
    return 0;
}

static char *case_path(const struct bad_dirs *b, const struct bad_case *c)
{
    return path_join(c->dir == 1 ? b->dir1 : b->dir2, c->file);
}

static int same_loop(const struct bad_case *x, const struct bad_case *y)
{
    return strstr(x->needle[0], "loop") && strstr(y->needle[0], "loop");
}

static void test_bad_files(void **state)
{
    const struct bad_dirs *b = *state;
    const char *dirs[] = {b->dir1, b->dir2};
    const char *reasons[NBAD];
    tenon_t *t = open_dirs(dirs, 2);
    size_t n = tenon_plugin_count(t);
    char *good = path_join(b->dir1, "good.so");
    const tenon_plugin_t *p;

    /* Every file is listed, first directory first, by name within one. */
    assert_int_equal(n, NBAD);
    for (size_t i = 1; i < n; i++) {
        const char *x = tenon_plugin_path(tenon_plugin_at(t, i - 1));
        const char *y = tenon_plugin_path(tenon_plugin_at(t, i));
        int xd = strncmp(x, b->dir1, strlen(b->dir1)) == 0 &&
                 x[strlen(b->dir1)] == '/';
        int yd = strncmp(y, b->dir1, strlen(b->dir1)) == 0 &&
                 y[strlen(b->dir1)] == '/';
        assert_true(xd >= yd);
        if (xd == yd)
            assert_true(strcmp(x, y) < 0);
    }

    for (size_t i = 0; i < NBAD; i++) {
        const struct bad_case *c = &bad_cases[i];
        char *path = case_path(b, c);
        p = entry_by_path(t, path);
        if (!p)
            fail_msg("%s is not in the inventory", path);
        if (tenon_plugin_status(p) != c->status)
            fail_msg("%s: status %s, expected %s (reason: %s)", c->file,
                     tenon_plugin_status_name(tenon_plugin_status(p)),
                     tenon_plugin_status_name(c->status),
                     tenon_plugin_reason(p) ? tenon_plugin_reason(p) : "none");
        reasons[i] = tenon_plugin_reason(p);
        if (c->status == TENON_AVAILABLE) {
            assert_null(reasons[i]);
        } else {
            assert_non_null(reasons[i]);
            for (size_t k = 0; k < 2 && c->needle[k]; k++)
                assert_contains(reasons[i], c->needle[k]);
        }
        free(path);
    }

    /* What each reason says beyond its characteristic words. */
    {
        char *h = path_join(b->dir1, "header-only.so");
        const char *r = tenon_plugin_reason(entry_by_path(t, h));
        assert_contains(r, "expected program headers");
        free(h);
    }
    {
        char *s = path_join(b->dir2, "basic_v1.so"), want[16];
        p = entry_by_path(t, s);
        assert_contains(tenon_plugin_reason(p), good);
        assert_string_equal(tenon_plugin_name(p), "basic");
        assert_string_equal(tenon_plugin_version(p), "1.2.0");
        free(s);

        s = path_join(b->dir1, "abi-next.so");
        p = entry_by_path(t, s);
        snprintf(want, sizeof want, "ABI %d", TENON_ABI_VERSION + 1);
        assert_contains(tenon_plugin_reason(p), want);
        assert_int_equal(tenon_plugin_abi(p), TENON_ABI_VERSION + 1);
        /* Known from the info even though the file is refused. */
        assert_nstr(tenon_plugin_name(p), "basic");
        assert_nstr(tenon_plugin_version(p), "1.2.0");
        free(s);

        s = path_join(b->dir1, "empty.so");
        p = entry_by_path(t, s);
        assert_null(tenon_plugin_name(p));
        assert_null(tenon_plugin_version(p));
        assert_int_equal(tenon_plugin_abi(p), -1);
        free(s);

        s = path_join(b->dir1, "noname.so");
        assert_null(tenon_plugin_name(entry_by_path(t, s)));
        free(s);
    }

    /* Distinct problems read differently. The two links of one loop are
     * the same problem. */
    for (size_t i = 0; i < NBAD; i++)
        for (size_t j = i + 1; j < NBAD; j++) {
            if (!reasons[i] || !reasons[j] ||
                same_loop(&bad_cases[i], &bad_cases[j]))
                continue;
            if (strcmp(reasons[i], reasons[j]) == 0)
                fail_msg("%s and %s share the reason \"%s\"", bad_cases[i].file,
                         bad_cases[j].file, reasons[i]);
        }

    /* The one good file is what the name finds; the refused ones do not
     * get in the way. */
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_string_equal(tenon_plugin_path(p), good);
    assert_int_equal(tenon_find(t, "badname", &p), TENON_ENOENT);
    free(good);
    tenon_close(t);
}

static void test_bad_files_cli(void **state)
{
    const struct bad_dirs *b = *state;
    const char *dirs[] = {b->dir1, b->dir2};
    tenon_t *t = open_dirs(dirs, 2);
    size_t n = tenon_plugin_count(t);
    struct run r;
    json_t *arr;

    RUN(&r, "list", "--all", "--plugin-path", b->dir1, "--plugin-path",
        b->dir2);
    assert_status(&r, 0);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        assert_contains(r.out, tenon_plugin_path(p));
        if (tenon_plugin_reason(p))
            assert_contains(r.out, tenon_plugin_reason(p));
    }
    run_free(&r);

    RUN(&r, "list", "--all", "--json", "--plugin-path", b->dir1,
        "--plugin-path", b->dir2);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        json_t *o = json_array_get(arr, i);
        const char *reason = tenon_plugin_reason(p);
        assert_string_equal(json_string_value(json_object_get(o, "path")),
                            tenon_plugin_path(p));
        int st = tenon_plugin_status(p);
        assert_string_equal(json_string_value(json_object_get(o, "status")),
                            st == TENON_AVAILABLE ? "available"
                                                  : "unavailable");
        assert_int_equal(json_is_true(json_object_get(o, "shadowed")),
                         st == TENON_SHADOWED);
        if (reason)
            assert_nstr(json_string_value(json_object_get(o, "reason")),
                        reason);
        else
            assert_null(json_object_get(o, "reason"));
    }
    json_decref(arr);
    run_free(&r);
    tenon_close(t);
}

/* ---- no plugin code runs during a scan ----------------------------------- */

static void test_scan_runs_no_plugin_code(void **state)
{
    const char *dir = *state;
    char *marker = path_join(dir, "marker");
    const char *dirs[] = {TEST_PLUGIN_DIR};
    const tenon_plugin_t *p;
    tenon_instance_t *inst = NULL;
    tenon_t *t;
    struct run r;
    json_t *o;

    /* Set here, not only for the CLI: this process loads plugins below. */
    assert_int_equal(setenv("TENON_TEST_MARKER", marker, 1), 0);

    RUN(&r, "list", "--all", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, TEST_PLUGIN_DIR "/marker.so");
    run_free(&r);
    assert_false(file_exists(marker));

    RUN(&r, "info", "marker", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "Writes a marker file when loaded");
    run_free(&r);
    assert_false(file_exists(marker));

    RUN(&r, "info", "marker", "--json", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_string_equal(json_string_value(json_object_get(o, "name")),
                        "marker");
    json_decref(o);
    run_free(&r);
    assert_false(file_exists(marker));

    /* In this process too: scanning and reading every entry loads nothing. */
    t = open_dirs(dirs, 1);
    assert_int_equal(tenon_scan(t), 0);
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const tenon_plugin_t *q = tenon_plugin_at(t, i);
        const char *k, *v;
        for (size_t j = 0; tenon_plugin_info_at(q, j, &k, &v) == 0; j++)
            ;
        assert_false(tenon_plugin_loaded(t, q));
    }
    assert_int_equal(tenon_find(t, "marker", &p), 0);
    assert_false(file_exists(marker));

    /* The control: creating an instance does load it, and the marker
     * plugin does leave its file, so the checks above could fail. */
    assert_int_equal(tenon_create(t, "marker", NULL, &inst), 0);
    assert_non_null(inst);
    assert_true(file_exists(marker));
    assert_true(tenon_plugin_loaded(t, p));
    tenon_destroy(inst);
    assert_false(tenon_plugin_loaded(t, p));
    tenon_close(t);

    unsetenv("TENON_TEST_MARKER");
    free(marker);
}

/* ---- a FIFO named *.so --------------------------------------------------- */

/* In the child: scan `arg`, one directory, and print each entry as
 * "path|status|reason". No cmocka assertions here: they belong to the
 * parent's test. */
static int scan_and_report(void *arg)
{
    const char *dirs[] = {arg};
    struct tenon_options o;
    tenon_t *t;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = 1;
    if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0)
        return 2;
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        dprintf(STDOUT_FILENO, "%s|%d|%s\n", tenon_plugin_path(p),
                tenon_plugin_status(p),
                tenon_plugin_reason(p) ? tenon_plugin_reason(p) : "-");
    }
    tenon_close(t);
    return 0;
}

/* The scan runs in a child so that a scan blocked in open() or read() on the
 * FIFO fails this test after a timeout instead of hanging the whole run. */
static void test_fifo_does_not_hang(void **state)
{
    char *dir = *state;
    char *fifo = path_join(dir, "z.so");
    struct run r;

    assert_int_equal(mkfifo(fifo, 0644), 0);
    copy_file(TEST_PLUGIN_DIR "/basic_v1.so", dir, "good.so");
    if (run_child(&r, 30000, scan_and_report, dir) != 0)
        fail_msg("scanning a directory with a FIFO hung for 30 s");
    assert_status(&r, 0);

    {
        char want_fifo[2048], want_good[2048];
        snprintf(want_fifo, sizeof want_fifo, "%s|%d|", fifo,
                 TENON_UNAVAILABLE);
        snprintf(want_good, sizeof want_good, "%s/good.so|%d|-\n", dir,
                 TENON_AVAILABLE);
        assert_contains(r.out, want_good);
        const char *line = strstr(r.out, want_fifo);
        if (!line)
            fail_msg("no unavailable entry for the FIFO in:\n%s", r.out);
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        char reason[512];
        snprintf(reason, sizeof reason, "%.*s", (int)(end - line),
                 line + strlen(want_fifo));
        assert_contains(reason, "not a regular file");
    }
    run_free(&r);
    free(fifo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_every_test_plugin),
        cmocka_unit_test(test_static_info_exact),
        cmocka_unit_test(test_version_selection),
        cmocka_unit_test_setup_teardown(
            test_version_selection_independent_of_file_order, tmp_setup,
            tmp_teardown),
        cmocka_unit_test(test_find_errors),
        cmocka_unit_test(test_invalid_specs),
        cmocka_unit_test(test_invalid_version_in_spec),
        cmocka_unit_test(test_search_path),
        cmocka_unit_test(test_search_path_same_dir_twice),
        cmocka_unit_test_setup_teardown(test_bad_files, bad_setup,
                                        bad_teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_cli, bad_setup,
                                        bad_teardown),
        cmocka_unit_test_setup_teardown(test_scan_runs_no_plugin_code,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_does_not_hang, tmp_setup,
                                        tmp_teardown),
    };
    /* The CLI reads TENON_LOG; keep its output to what the tests expect. */
    unsetenv("TENON_LOG");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
