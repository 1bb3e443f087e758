/*
 * The scan cache: a warm scan reuses what probing found, every change to a
 * plugin file or its .meta is seen, and a cache that is missing, damaged,
 * foreign or unwritable never changes what a scan reports. Each scan with
 * the cache is compared with a scan without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#if defined(__x86_64__)
#define CACHE_FILE "scan-x86_64.cache"
#elif defined(__aarch64__)
#define CACHE_FILE "scan-aarch64.cache"
#else
#define CACHE_FILE "scan-riscv64.cache"
#endif

#define OLD_TIME 1600000000 /* 2020: far from any racy clock tick */

struct env {
    char *root, *plugins, *cache, *cache_file;
};

/* ---- helpers ------------------------------------------------------------- */

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void add_plugin(struct env *e, const char *src, const char *name,
                       long nsec)
{
    char *from = path_join(TEST_PLUGIN_DIR, src);
    char *to = path_join(e->plugins, name);
    copy_path(from, to);
    set_mtime(to, OLD_TIME, nsec);
    free(from);
    free(to);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    e->root = make_tmpdir();
    e->plugins = path_join(e->root, "plugins");
    e->cache = path_join(e->root, "cache");
    e->cache_file = path_join(e->cache, CACHE_FILE);
    if (mkdir(e->plugins, 0755) != 0)
        return -1;
    add_plugin(e, "basic_v1.so", "basic.so", 1);
    add_plugin(e, "required.so", "required.so", 2);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    chmod(e->cache, 0700);
    free(e->plugins);
    free(e->cache);
    free(e->cache_file);
    remove_tree(e->root);
    free(e);
    return 0;
}

/* What the debug line "scan cache: N reused, M probed" said. */
struct counts {
    long reused, probed;
    long lists_reused, listed; /* directory listings */
    int rewrote;               /* "; rewriting it" */
    int ignored;               /* "scan cache ... ignored" */
    char why[512];             /* the whole of that line */
    char unused[512];          /* "scan cache ... not used|written: ..." */
};

static void on_log(void *ud, int level, const char *origin, const char *msg)
{
    struct counts *c = ud;
    (void)level, (void)origin;
    if (sscanf(msg, "scan cache: %ld reused, %ld probed, %ld of %ld listings",
               &c->reused, &c->probed, &c->lists_reused, &c->listed) == 4) {
        c->rewrote = strstr(msg, "; rewriting it") != NULL;
        return;
    }
    if (strncmp(msg, "scan cache ", 11) == 0 && strstr(msg, " ignored: ")) {
        c->ignored = 1;
        snprintf(c->why, sizeof c->why, "%s", msg);
    }
    if (strncmp(msg, "scan cache ", 11) == 0 &&
        (strstr(msg, " not used: ") || strstr(msg, " not written: ")))
        snprintf(c->unused, sizeof c->unused, "%s", msg);
}

/* Every entry of a scan, one line each. */
static char *summary(tenon_t *t)
{
    size_t n = tenon_plugin_count(t), len = 0;
    char *s = calloc(1, 1);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        const char *name = tenon_plugin_name(p), *ver = tenon_plugin_version(p);
        const char *why = tenon_plugin_reason(p), *desc;
        desc = tenon_plugin_get(p, "description");
        char line[2048];
        int k = snprintf(line, sizeof line, "%s|%s|%s|%s|%s|%d|%zu|%s\n",
                         tenon_plugin_path(p),
                         tenon_plugin_status_name(tenon_plugin_status(p)),
                         name ? name : "-", ver ? ver : "-", why ? why : "-",
                         tenon_plugin_abi(p), tenon_plugin_arg_count(p),
                         desc ? desc : "-");
        s = realloc(s, len + (size_t)k + 1);
        memcpy(s + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    return s;
}

/* Scan with the cache (or without it), returning the summary and the
 * counts of the debug line. */
static char *scan2(const char *const *dirs, size_t ndirs, const char *cache,
                   int no_cache, struct counts *c)
{
    struct tenon_options o;
    tenon_t *t;
    memset(&o, 0, sizeof o);
    memset(c, 0, sizeof *c);
    c->reused = c->probed = c->lists_reused = c->listed = -1;
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = ndirs;
    o.log_level = TENON_LOG_DEBUG;
    o.log_fn = on_log;
    o.log_ud = c;
    o.cache_dir = cache;
    o.no_cache = no_cache;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_scan(t), 0);
    char *s = summary(t);
    tenon_close(t);
    return s;
}

static char *scan(struct env *e, struct counts *c)
{
    const char *dirs[] = {e->plugins};
    return scan2(dirs, 1, e->cache, 0, c);
}

/* A scan with the cache must say what a scan without it says. */
static void scan_expect(struct env *e, long reused, long probed)
{
    const char *dirs[] = {e->plugins};
    struct counts c, nc;
    char *got = scan(e, &c), *want = scan2(dirs, 1, NULL, 1, &nc);
    assert_string_equal(got, want);
    if (reused >= 0)
        assert_int_equal(c.reused, reused);
    if (probed >= 0)
        assert_int_equal(c.probed, probed);
    free(got);
    free(want);
}

/* Past the file system's clock tick (a few milliseconds). */
static void sleep_tick(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The cache file is written a clock tick after the plugins' mtimes, which
 * are in 2020 here: a second scan must reuse everything. */
static void warm(struct env *e)
{
    scan_expect(e, -1, -1);
    assert_true(exists(e->cache_file));
    scan_expect(e, 2, 0);
}

/* ---- tests --------------------------------------------------------------- */

static void test_second_scan_from_cache(void **state)
{
    struct env *e = *state;
    scan_expect(e, 0, 2); /* no cache yet; the directory is created */
    struct stat st;
    assert_int_equal(stat(e->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    scan_expect(e, 2, 0);
    scan_expect(e, 2, 0);
}

/* The key includes ctime, which no user can set back: a file rewritten in
 * place with its old mtime restored (as `touch -d` would) is probed again,
 * so the cache never vouches for bytes it did not see. */
static void test_cache_is_keyed_by_stat(void **state)
{
    struct env *e = *state;
    struct counts c;
    char *path = path_join(e->plugins, "basic.so");
    warm(e);
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "JUNK", 4, 0), 4); /* no ELF magic now */
    close(fd);
    struct timespec ts[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    char *cached = scan(e, &c);
    assert_int_equal(c.reused, 1);
    assert_int_equal(c.probed, 1);
    assert_non_null(strstr(cached, "basic.so|unavailable"));
    free(cached);
    free(path);
}

static void test_touched_file_is_probed(void **state)
{
    struct env *e = *state;
    char *path = path_join(e->plugins, "basic.so");
    warm(e);
    set_mtime(path, OLD_TIME, 999); /* a nanosecond-level change */
    scan_expect(e, 1, 1);
    scan_expect(e, 2, 0);
    free(path);
}

static void test_replaced_same_size(void **state)
{
    struct env *e = *state;
    char *path = path_join(e->plugins, "basic.so");
    warm(e);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "JUNK", 4, 0), 4);
    close(fd);
    set_mtime(path, OLD_TIME + 5, 0);
    scan_expect(e, 1, 1);
    const char *dirs[] = {e->plugins};
    struct counts c;
    char *s = scan2(dirs, 1, e->cache, 0, &c);
    assert_non_null(strstr(s, "basic.so|unavailable|-|-|not an ELF file"));
    assert_int_equal(c.reused, 2); /* the unavailable result is cached too */
    free(s);
    free(path);
}

static void test_removed_and_added(void **state)
{
    struct env *e = *state;
    char *path = path_join(e->plugins, "basic.so");
    warm(e);
    assert_int_equal(unlink(path), 0);
    scan_expect(e, 1, 0);
    scan_expect(e, 1, 0);
    add_plugin(e, "basic_v2.so", "basic2.so", 3);
    scan_expect(e, 1, 1);
    scan_expect(e, 2, 0);
    free(path);
}

static void test_meta_changes(void **state)
{
    struct env *e = *state;
    char *meta = path_join(e->plugins, "basic.so.meta");
    warm(e);
    FILE *f = fopen(meta, "w");
    assert_non_null(f);
    fputs("{}\n", f);
    fclose(f);
    set_mtime(meta, OLD_TIME, 5);
    scan_expect(e, 1, 1); /* a new .meta */
    scan_expect(e, 2, 0);
    set_mtime(meta, OLD_TIME, 6);
    scan_expect(e, 1, 1); /* its mtime */
    f = fopen(meta, "a");
    fputs(" ", f);
    fclose(f);
    set_mtime(meta, OLD_TIME, 6);
    scan_expect(e, 1, 1); /* its size */
    assert_int_equal(unlink(meta), 0);
    scan_expect(e, 1, 1); /* gone */
    free(meta);
}

/* A file changed in the clock tick the cache is written in may change again
 * within it without its mtime moving: it is probed until the cache is newer. */
static void test_racy_entry_is_probed(void **state)
{
    struct env *e = *state;
    char *path = path_join(e->plugins, "basic.so");
    struct counts c;
    warm(e);
    set_mtime(path, time(NULL) + 3600, 0); /* "changed" after the cache */
    scan_expect(e, 1, 1);
    scan_expect(e, 1, 1);
    free(scan(e, &c));
    free(path);
}

/* Write `len` bytes of `data` as the cache file. */
static void write_cache(struct env *e, const void *data, size_t len)
{
    FILE *f = fopen(e->cache_file, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_cache(struct env *e, size_t *len)
{
    struct stat st;
    assert_int_equal(stat(e->cache_file, &st), 0);
    unsigned char *buf = malloc((size_t)st.st_size);
    FILE *f = fopen(e->cache_file, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), st.st_size);
    fclose(f);
    *len = (size_t)st.st_size;
    return buf;
}

/* A damaged cache is ignored with a debug line, the scan is right, and the
 * cache is rewritten: the scan after that reuses everything. */
static void expect_rebuilt(struct env *e)
{
    struct counts c;
    const char *dirs[] = {e->plugins};
    char *got = scan(e, &c), *want = scan2(dirs, 1, NULL, 1, &c);
    assert_string_equal(got, want);
    free(got);
    free(want);
    got = scan(e, &c);
    free(got);
    assert_int_equal(c.reused, 2);
}

static void damaged(struct env *e, void (*damage)(unsigned char *, size_t *))
{
    size_t len;
    struct counts c;
    warm(e);
    unsigned char *buf = read_cache(e, &len);
    damage(buf, &len);
    write_cache(e, buf, len);
    free(buf);
    free(scan(e, &c));
    assert_true(c.ignored);
    assert_int_equal(c.probed, 2);
    expect_rebuilt(e);
}

static void cut_half(unsigned char *b, size_t *len) { (void)b, *len /= 2; }
static void cut_one(unsigned char *b, size_t *len) { (void)b, (*len)--; }
static void cut_all(unsigned char *b, size_t *len) { (void)b, *len = 0; }
static void flip_last(unsigned char *b, size_t *len) { b[*len - 1] ^= 0x10; }
static void flip_count(unsigned char *b, size_t *len) { (void)len, b[24] ^= 1; }
/* The format number is a little-endian u32 at offset 8; one past ours. */
static void future(unsigned char *b, size_t *len)
{
    (void)len;
    b[8] = (unsigned char)(b[8] + 1);
}
static void foreign(unsigned char *b, size_t *len) { (void)len, b[48] = '9'; }

/* Scan with the cache and check how many directory listings it reused. */
static void expect_listing(struct env *e, long reused)
{
    struct counts c;
    const char *dirs[] = {e->plugins};
    struct counts nc;
    char *got = scan(e, &c), *want = scan2(dirs, 1, NULL, 1, &nc);
    assert_string_equal(got, want);
    assert_int_equal(c.listed, 1);
    assert_int_equal(c.lists_reused, reused);
    free(got);
    free(want);
}

/* An unchanged directory is not read again: its listing comes from the
 * cache. Any name added or removed moves its mtime and ctime, so the next
 * scan lists it again and sees the change, also when the mtime is set back. */
static void test_listing_reused(void **state)
{
    struct env *e = *state;
    char *added = path_join(e->plugins, "added.so");
    set_mtime(e->plugins, OLD_TIME, 0);
    expect_listing(e, 0); /* no cache yet */
    expect_listing(e, 1);
    add_plugin(e, "basic_v2.so", "added.so", 7);
    expect_listing(e, 0); /* new mtime: listed again, added.so seen */
    set_mtime(e->plugins, OLD_TIME, 0);
    expect_listing(e, 0); /* mtime set back: the ctime still moved */
    expect_listing(e, 1);
    assert_int_equal(unlink(added), 0);
    set_mtime(e->plugins, OLD_TIME, 0);
    expect_listing(e, 0); /* a removal, mtime set back */
    expect_listing(e, 1);
    char *s = scan2((const char *[]){e->plugins}, 1, e->cache, 0,
                    &(struct counts){0});
    assert_null(strstr(s, "added.so"));
    free(s);
    free(added);
}

/* A .meta appearing beside a plugin changes the listing too (the key of the
 * plugin includes it). */
static void test_listing_sees_new_meta(void **state)
{
    struct env *e = *state;
    char *meta = path_join(e->plugins, "basic.so.meta");
    struct counts c;
    set_mtime(e->plugins, OLD_TIME, 0);
    expect_listing(e, 0);
    expect_listing(e, 1);
    FILE *f = fopen(meta, "w");
    assert_non_null(f);
    fputs("{}\n", f);
    fclose(f);
    set_mtime(meta, OLD_TIME, 1);
    set_mtime(e->plugins, OLD_TIME, 0);
    free(scan(e, &c));
    assert_int_equal(c.lists_reused, 0);
    assert_int_equal(c.probed, 1); /* basic.so: its key now has a .meta */
    free(meta);
}

/* A directory modified as late as the cache was written is listed again on
 * every scan (a second change in that tick would not move its mtime). */
static void test_racy_listing(void **state)
{
    struct env *e = *state;
    set_mtime(e->plugins, time(NULL) + 3600, 0);
    expect_listing(e, 0);
    expect_listing(e, 0);
    expect_listing(e, 0);
}

/* The cache kept inside a plugin directory: each write of the cache changes
 * that directory, which must not make every scan rewrite the cache. */
static void test_cache_in_plugin_dir(void **state)
{
    struct env *e = *state;
    const char *dirs[] = {e->plugins};
    struct counts c;
    free(scan2(dirs, 1, e->plugins, 0, &c));
    assert_true(c.rewrote);
    sleep_tick();
    free(scan2(dirs, 1, e->plugins, 0, &c));
    free(scan2(dirs, 1, e->plugins, 0, &c));
    assert_false(c.rewrote);
    assert_int_equal(c.reused, 2);
}

static void test_truncated(void **state)
{
    damaged(*state, cut_half);
    damaged(*state, cut_one);
}
static void test_zero_length(void **state) { damaged(*state, cut_all); }
static void test_bit_flipped(void **state)
{
    damaged(*state, flip_last);
    damaged(*state, flip_count);
}
static void test_future_format(void **state) { damaged(*state, future); }
static void test_other_version(void **state) { damaged(*state, foreign); }

/* A second copy of the record at `off` (a directory record when `dir`, else
 * a file entry) inserted after it, with the header's count, payload size
 * and checksum made to agree: a cache that only a bug or an attacker could
 * write, and that must still be refused, not half used. */
static void duplicate_record(struct env *e, size_t off, int dir)
{
    size_t len, rec;
    unsigned char *old = read_cache(e, &len), *b;
    uint32_t n32, rec32;
    uint64_t n64, payload, sum;
    memcpy(&rec32, old + off, 4); /* every record starts with its size */
    rec = rec32;
    assert_true(off + rec <= len);
    b = malloc(len + rec);
    memcpy(b, old, off + rec);
    memcpy(b + off + rec, old + off, rec);
    memcpy(b + off + 2 * rec, old + off + rec, len - off - rec);
    if (dir) {
        memcpy(&n32, b + 64, 4), n32++, memcpy(b + 64, &n32, 4);
    } else {
        memcpy(&n64, b + 24, 8), n64++, memcpy(b + 24, &n64, 8);
    }
    payload = len + rec - TENON__CACHE_HEAD_SIZE;
    memcpy(b + 32, &payload, 8);
    sum =
        tenon__hash64(b + TENON__CACHE_HEAD_SIZE, payload, TENON__CACHE_FORMAT);
    memcpy(b + 40, &sum, 8);
    write_cache(e, b, len + rec);
    free(old);
    free(b);
}

static void test_duplicate_records(void **state)
{
    struct env *e = *state;
    struct counts c;
    size_t len, dir_size;
    unsigned char *b;
    uint32_t ndirs, size32;
    warm(e);
    b = read_cache(e, &len);
    memcpy(&ndirs, b + 64, 4);
    assert_int_equal(ndirs, 1);
    memcpy(&size32, b + TENON__CACHE_HEAD_SIZE, 4);
    dir_size = size32;
    free(b);
    duplicate_record(e, TENON__CACHE_HEAD_SIZE, 1);
    free(scan(e, &c));
    assert_true(c.ignored);
    assert_non_null(strstr(c.why, "two directory records for"));
    assert_int_equal(c.probed, 2);
    expect_rebuilt(e);
    /* The first file entry follows the one directory record. */
    duplicate_record(e, TENON__CACHE_HEAD_SIZE + dir_size, 0);
    free(scan(e, &c));
    assert_true(c.ignored);
    assert_non_null(strstr(c.why, "two records for"));
    assert_int_equal(c.probed, 2);
    expect_rebuilt(e);
}

static void test_garbage_cache(void **state)
{
    struct env *e = *state;
    struct counts c;
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(mkdir(e->cache, 0700), 0);
    write_cache(e, junk, sizeof junk);
    free(scan(e, &c));
    assert_true(c.ignored);
    expect_rebuilt(e);
}

static void test_unwritable_dir(void **state)
{
    struct env *e = *state;
    struct counts c;
    assert_int_equal(mkdir(e->cache, 0700), 0);
    assert_int_equal(chmod(e->cache, 0500), 0);
    /* As root, only without CAP_DAC_OVERRIDE do the mode bits stop it. */
    if (permissions_enforce() != 0 ||
        faccessat(AT_FDCWD, e->cache, W_OK, AT_EACCESS) == 0) {
        permissions_restore();
        skip(); /* cannot make a directory unwritable here */
        return;
    }
    scan_expect(e, 0, 2);
    scan_expect(e, 0, 2);
    assert_false(exists(e->cache_file));
    free(scan(e, &c));
    permissions_restore();
}

/* The cache file as it is: which file, and when it was last written. */
static void cache_stat(const struct env *e, struct stat *st)
{
    assert_int_equal(lstat(e->cache_file, st), 0);
}

static void assert_same_file(const struct stat *a, const struct stat *b)
{
    assert_true(a->st_ino == b->st_ino);
    assert_true(a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
                a->st_mtim.tv_nsec == b->st_mtim.tv_nsec);
    assert_true(a->st_uid == b->st_uid);
}

/* A scan that must not use the cache at all: it says why at debug level,
 * reports what a scan without cache reports, and neither reads the cache
 * (no "scan cache: N reused" line) nor writes it. */
static void expect_unused(struct env *e, const char *why)
{
    const char *dirs[] = {e->plugins};
    struct counts c, nc;
    char *got = scan(e, &c), *want = scan2(dirs, 1, NULL, 1, &nc);
    assert_string_equal(got, want);
    assert_int_equal(c.reused, -1);
    assert_contains(c.unused, why);
    free(got);
    free(want);
}

/* Give the cache file (or the link in its place) to another user: two
 * scans then say it is not `verb` ("used", "written") and leave it as it
 * is. The counts of the last scan into *c. */
static void give_away(struct env *e, const char *verb, struct counts *c)
{
    struct stat before, after;
    char want[1024];
    assert_int_equal(lchown(e->cache_file, 4242, 4242), 0);
    cache_stat(e, &before);
    snprintf(want, sizeof want,
             "scan cache %s not %s: owned by uid 4242; expected a file owned "
             "by you (uid 0)",
             e->cache_file, verb);
    for (int i = 0; i < 2; i++) {
        free(scan(e, c));
        assert_contains(c->unused, want);
    }
    cache_stat(e, &after);
    assert_same_file(&before, &after);
}

/* Another user's cache file: they chose its bytes, and it is theirs, so it
 * is neither read nor replaced. Giving a file away needs root. */
static void test_cache_file_of_another_user(void **state)
{
    struct env *e = *state;
    const char *dirs[] = {e->plugins};
    struct counts c, nc;
    if (geteuid() != 0) {
        print_message("skipping: giving a file to another user needs "
                      "root\n");
        skip();
    }
    warm(e);
    give_away(e, "used", &c);
    assert_int_equal(c.reused, -1); /* the scan had no cache */
    char *got = scan(e, &c), *want = scan2(dirs, 1, NULL, 1, &nc);
    assert_string_equal(got, want);
    free(got);
    free(want);
    /* A symbolic link of theirs in its place is not followed, and not
     * replaced either: the writer checks the name again. */
    assert_int_equal(unlink(e->cache_file), 0);
    assert_int_equal(symlink("/nonexistent", e->cache_file), 0);
    give_away(e, "written", &c);
}

/* A cache directory anyone can write to lets anyone swap the cache: not
 * used unless it has the sticky bit, as /tmp has. */
static void test_cache_dir_writable_by_others(void **state)
{
    struct env *e = *state;
    struct stat before, after;
    struct counts c;
    char want[1024];
    warm(e);
    assert_int_equal(chmod(e->cache, 0777), 0);
    cache_stat(e, &before);
    snprintf(want, sizeof want,
             "scan cache %s not used: %s is writable by others without the "
             "sticky bit; expected a directory only you can write to, or a "
             "sticky one",
             e->cache_file, e->cache);
    expect_unused(e, want);
    cache_stat(e, &after);
    assert_same_file(&before, &after);
    assert_int_equal(unlink(e->cache_file), 0);
    expect_unused(e, want);
    assert_false(exists(e->cache_file)); /* not written either */
    /* sticky: others cannot rename over or remove our file */
    assert_int_equal(chmod(e->cache, 01777), 0);
    free(scan(e, &c));
    assert_true(exists(e->cache_file));
    free(scan(e, &c));
    assert_int_equal(c.reused, 2);
    /* its group is other users too */
    assert_int_equal(chmod(e->cache, 0770), 0);
    snprintf(want, sizeof want,
             "scan cache %s not used: %s is writable by its group without "
             "the sticky bit",
             e->cache_file, e->cache);
    expect_unused(e, want);
}

/* The cache dir is a file: nothing can be written, nothing goes wrong. */
static void test_cache_dir_is_a_file(void **state)
{
    struct env *e = *state;
    free(e->cache_file);
    e->cache_file = path_join(e->root, "afile");
    char *was = e->cache;
    e->cache = path_join(e->root, "afile");
    FILE *f = fopen(e->cache, "w");
    fclose(f);
    scan_expect(e, 0, 2);
    scan_expect(e, 0, 2);
    free(e->cache);
    e->cache = was;
}

/* Shadowing is decided after the cache: the cached result of the shadowed
 * file is "available", and a warm scan shadows it again. */
static void test_shadowed_not_cached(void **state)
{
    struct env *e = *state;
    char *second = path_join(e->root, "second");
    const char *dirs[] = {e->plugins, second};
    struct counts c, nc;
    assert_int_equal(mkdir(second, 0755), 0);
    char *from = path_join(TEST_PLUGIN_DIR, "basic_v1.so");
    char *to = path_join(second, "basic.so");
    copy_path(from, to);
    set_mtime(to, OLD_TIME, 0);
    char *want = scan2(dirs, 2, NULL, 1, &nc);
    assert_non_null(strstr(want, "second/basic.so|shadowed"));
    for (int i = 0; i < 3; i++) {
        char *got = scan2(dirs, 2, e->cache, 0, &c);
        assert_string_equal(got, want);
        free(got);
    }
    assert_int_equal(c.reused, 3);
    free(want);
    free(from);
    free(to);
    free(second);
}

/* A host with another search path does not throw away this one's entries. */
static void test_other_dirs_kept(void **state)
{
    struct env *e = *state;
    const char *other[] = {TEST_PLUGIN_DIR};
    struct counts c;
    warm(e);
    free(scan2(other, 1, e->cache, 0, &c));
    scan_expect(e, 2, 0);
}

/* A file whose code disagrees with its info is marked unavailable by the
 * loader, after the scan; the cache keeps the probe's "available", so the
 * next process sees what a scan without the cache sees. */
static void test_loader_status_not_cached(void **state)
{
    struct env *e = *state;
    const char *dirs[] = {e->plugins};
    tenon_instance_t *inst;
    tenon_t *t;
    char *from = path_join(TEST_MISMATCH_DIR, "mismatch_1.so");
    char *to = path_join(e->plugins, "mismatch.so");
    copy_path(from, to);
    set_mtime(to, OLD_TIME, 0);
    scan_expect(e, 0, 3);
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .cache_dir = e->cache};
    assert_int_equal(tenon_open(&t, &o), 0);
    const tenon_plugin_t *p = NULL;
    for (size_t i = 0; i < tenon_plugin_count(t); i++)
        if (strstr(tenon_plugin_path(tenon_plugin_at(t, i)), "mismatch.so"))
            p = tenon_plugin_at(t, i);
    assert_non_null(p);
    assert_int_equal(tenon_plugin_status(p), TENON_AVAILABLE);
    char spec[80];
    snprintf(spec, sizeof spec, "%s", tenon_plugin_name(p));
    assert_int_not_equal(tenon_create(t, spec, NULL, &inst), 0);
    assert_int_equal(tenon_plugin_status(p), TENON_UNAVAILABLE);
    assert_int_equal(tenon_scan(t), 0); /* rewrites nothing: no change */
    tenon_close(t);
    scan_expect(e, 3, 0);
    free(from);
    free(to);
}

static void test_cli(void **state)
{
    struct env *e = *state;
    struct run r;
    char env_cache[4200];
    snprintf(env_cache, sizeof env_cache, "TENON_CACHE_DIR=%s", e->cache);
    const char *env[] = {env_cache, NULL};

    RUN_ENV(&r, env, "list", "--no-cache", "--plugin-path", e->plugins);
    assert_status(&r, 0);
    assert_contains(r.out, "basic");
    run_free(&r);
    RUN_ENV(&r, env, "info", "--no-cache", "basic", "--plugin-path",
            e->plugins);
    assert_status(&r, 0);
    run_free(&r);
    assert_false(exists(e->cache));

    RUN_ENV(&r, env, "list", "--plugin-path", e->plugins);
    assert_status(&r, 0);
    char *first = r.out;
    r.out = NULL;
    run_free(&r);
    assert_true(exists(e->cache_file));
    RUN_ENV(&r, env, "list", "--plugin-path", e->plugins);
    assert_string_equal(r.out, first);
    run_free(&r);
    free(first);

    RUN_ENV(&r, env, "cache", "clear");
    assert_status(&r, 0);
    assert_contains(r.out, "removed ");
    assert_contains(r.out, CACHE_FILE);
    run_free(&r);
    assert_false(exists(e->cache_file));
    RUN_ENV(&r, env, "cache", "clear");
    assert_status(&r, 0);
    assert_contains(r.out, "no cache files");
    run_free(&r);

    RUN_ENV(&r, env, "cache", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "usage: tenon cache clear");
    run_free(&r);
    RUN_ENV(&r, env, "cache");
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, env, "cache", "flush");
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, env, "list", "--no-cache", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "--no-cache");
    run_free(&r);
}

static void test_api_clear(void **state)
{
    struct env *e = *state;
    const char *dirs[] = {e->plugins};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .cache_dir = e->cache};
    tenon_t *t;
    warm(e);
    write_cache(e, "", 0);
    char *tmp = path_join(e->cache, CACHE_FILE ".AbC123"); /* a leftover */
    FILE *f = fopen(tmp, "w");
    fclose(f);
    char *other = path_join(e->cache, "keep.txt");
    f = fopen(other, "w");
    fclose(f);
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_string_equal(tenon_cache_dir(t), e->cache);
    assert_int_equal(tenon_cache_clear(t), 2);
    assert_int_equal(tenon_cache_clear(t), 0);
    tenon_close(t);
    assert_false(exists(tmp));
    assert_true(exists(other));
    o.no_cache = 1;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_null(tenon_cache_dir(t));
    assert_int_equal(tenon_cache_clear(t), 0);
    tenon_close(t);
    free(tmp);
    free(other);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_second_scan_from_cache),
        T(test_cache_is_keyed_by_stat),
        T(test_touched_file_is_probed),
        T(test_replaced_same_size),
        T(test_removed_and_added),
        T(test_meta_changes),
        T(test_racy_entry_is_probed),
        T(test_listing_reused),
        T(test_listing_sees_new_meta),
        T(test_racy_listing),
        T(test_cache_in_plugin_dir),
        T(test_truncated),
        T(test_zero_length),
        T(test_bit_flipped),
        T(test_future_format),
        T(test_other_version),
        T(test_duplicate_records),
        T(test_garbage_cache),
        T(test_unwritable_dir),
        T(test_cache_file_of_another_user),
        T(test_cache_dir_writable_by_others),
        T(test_cache_dir_is_a_file),
        T(test_shadowed_not_cached),
        T(test_other_dirs_kept),
        T(test_loader_status_not_cached),
        T(test_cli),
        T(test_api_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
