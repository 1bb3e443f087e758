/*
 * The scan cache: what probing each plugin file produced, keyed by the file's
 * path, device, inode, size and mtime (nanoseconds) and its .meta's size and
 * mtime, so that a warm scan costs a stat per file instead of an open, a
 * read and a close (GStreamer's registry cache, keyed the same way).
 *
 * One file per architecture, <cache_dir>/scan-<arch>.cache, in native byte
 * order:
 *
 *   header, 72 bytes
 *     0  magic "tenon-sc"        8  u32 format (4)   12 u32 0x0a0b0c0d
 *    16  u32 header size (72)   20  u32 record head size (144)
 *    24  u64 file record count  32  u64 payload size
 *    40  u64 XXH64 of the payload, seed = format
 *    48  char[16] library version that wrote it (the parser's rules)
 *    64  u32 directory record count   68 u32 directory record head size (48)
 *   payload: the directory records, then the file records, each 8-byte
 *   aligned
 *   directory record: a listing, so that a warm scan of an unchanged
 *   directory skips readdir
 *     0  u32 record size   4 u32 path length   8 u32 name count
 *    12  u32 names size   16 u64 st_dev       24 u64 st_ino
 *    32  i64 mtime ns     40 i64 ctime ns
 *    48  path, NUL, then per *.so name in strictly ascending byte order:
 *        u8 flags (1: it has a .meta), the name, NUL; padding
 *   file record: a probe result
 *     0  u32 record size   4 u32 path length   8 u32 reason length
 *    12  u32 info size    16 u64 st_dev       24 u64 st_ino
 *    32  i64 size         40 i64 mtime ns     48 i64 .meta size (-1: none)
 *    56  i64 .meta mtime ns                   64 i32 status
 *    68  u32 e_machine    72 i32 ELF class    76 u32 flags (REC_*)
 *    80  u8[32] SHA-256 digest (valid with REC_DIGEST)
 *   112  i64 ctime ns: unlike mtime, no user can set it back, so a file
 *        rewritten in place with its mtime restored still misses
 *   120  i64 .meta ctime ns
 *   128  u64 fingerprint of the keyring that found the digest and the
 *        .meta's signature good (0: none); other verdicts are not kept
 *   136  u32 size of the dynamic strings (tenon__elf.dyn)   140 u32 0
 *   144  path, NUL, reason, NUL, raw static info, dynamic strings, padding
 *
 * Everything read back is checked as untrusted input (fuzz/fuzz_cache.c): a
 * cache that fails any check is ignored and rebuilt, never an error. A cache
 * file owned by another user, or in a directory others can write to without
 * the sticky bit, is not used at all: neither read nor replaced. Only
 * probe results are stored: statuses set later (shadowing, the loader) are
 * not, and the static info is re-parsed on load, which is cheap and keeps
 * every pointer of an entry its own.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define CACHE_ARCH "x86_64"
#elif defined(__aarch64__)
#define CACHE_ARCH "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define CACHE_ARCH "riscv64"
#else
#error "unsupported host architecture: add its name here"
#endif

#define CACHE_PREFIX "scan-"
#define CACHE_SUFFIX ".cache"
#define CACHE_NAME   CACHE_PREFIX CACHE_ARCH CACHE_SUFFIX
#define MAGIC        "tenon-sc"
#define FORMAT       TENON__CACHE_FORMAT
#define BOM          0x0a0b0c0du
#define HEAD_SIZE    TENON__CACHE_HEAD_SIZE
#define REC_HEAD     144u
#define DIR_HEAD     48u
#define VERSION_LEN  16u
#define FILE_MAX     (256u << 20) /* larger is not a cache we wrote */
#define REASON_MAX   4096u
#define PATH_MAX_LEN 4096u

enum { REC_INFO = 1, REC_DIGEST = 2, REC_REASON = 4, REC_ALL = 7 };

/* ---- XXH64 --------------------------------------------------------------- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t in)
{
    return rotl(acc + in * P2, 31) * P1;
}

static uint64_t merge64(uint64_t h, uint64_t v)
{
    return (h ^ round64(0, v)) * P1 + P4;
}

/* XXH64 (little-endian reads, as on every host this builds for): fast
 * enough that checking a 1,000-entry cache costs tens of microseconds. */
uint64_t tenon__hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        for (; end - p >= 32; p += 32) {
            v1 = round64(v1, rd64(p));
            v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16));
            v4 = round64(v4, rd64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(merge64(merge64(merge64(h, v1), v2), v3), v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8)
        h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        h = rotl(h ^ (uint64_t)rd32(p) * P1, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl(h ^ *p * P5, 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

/* ---- reading ------------------------------------------------------------- */

#define WHY(...) tenon__reason(why, why_len, TENON_EINVAL, __VA_ARGS__)

static int64_t rdi64(const unsigned char *p) { return (int64_t)rd64(p); }

static size_t path_slot(const struct tenon__cache *c, const char *path,
                        size_t len)
{
    return (size_t)tenon__hash64(path, len, 0) & c->index_mask;
}

/* The index holds both kinds of record by path: ids 1 to dir_base are file
 * entries (v[id - 1]), ids above are directory records. The slot holding
 * the record of that kind and path, else the empty slot ending its chain. */
static uint32_t *index_slot(const struct tenon__cache *c, const char *path,
                            size_t len, int dir)
{
    size_t s = path_slot(c, path, len);
    for (; c->index[s]; s = (s + 1) & c->index_mask) {
        uint32_t id = c->index[s];
        const char *op;
        size_t olen;
        if ((id > c->dir_base) != !!dir)
            continue;
        if (dir) {
            op = c->dirs[id - c->dir_base - 1].path;
            olen = c->dirs[id - c->dir_base - 1].path_len;
        } else {
            op = c->v[id - 1].path;
            olen = c->v[id - 1].path_len;
        }
        if (olen == len && memcmp(op, path, len) == 0)
            break;
    }
    return &c->index[s];
}

/* 1 when a record of that kind and path is indexed already. */
static int index_add(struct tenon__cache *c, const char *path, size_t len,
                     uint32_t id)
{
    uint32_t *slot = index_slot(c, path, len, id > c->dir_base);
    if (*slot)
        return 1;
    *slot = id;
    return 0;
}

static int parse_record(const unsigned char *r, size_t left,
                        struct tenon__cache_entry *e, size_t *rec_size,
                        char *why, size_t why_len)
{
    uint32_t size, path_len, reason_len, info_size, flags, dyn_size;
    uint64_t need;
    if (left < REC_HEAD)
        return WHY("record truncated: %zu bytes left", left);
    size = rd32(r);
    path_len = rd32(r + 4);
    reason_len = rd32(r + 8);
    info_size = rd32(r + 12);
    flags = rd32(r + 76);
    dyn_size = rd32(r + 136);
    need = (uint64_t)REC_HEAD + path_len + 1 + reason_len + 1 + info_size +
           dyn_size;
    if (size % 8 || size < need || size > left)
        return WHY("record size %u does not fit (needs %llu, %zu left)", size,
                   (unsigned long long)need, left);
    if (path_len == 0 || path_len > PATH_MAX_LEN || reason_len > REASON_MAX ||
        info_size > TENON__INFO_MAX || dyn_size > TENON__DYN_STRINGS_MAX ||
        rd32(r + 140) != 0 || (flags & ~(uint32_t)REC_ALL))
        return WHY("record field out of range");
    if (!(flags & REC_INFO) != !info_size ||
        (!(flags & REC_REASON) && reason_len))
        return WHY("record flags disagree with its sizes");
    e->path = (const char *)r + REC_HEAD;
    e->path_len = path_len;
    /* Paths are "dir/name", as the scan builds them. */
    if (e->path[path_len] || memchr(e->path, '\0', path_len) ||
        !memchr(e->path, '/', path_len))
        return WHY("record path is not a NUL-terminated \"dir/name\"");
    e->reason = e->path + path_len + 1;
    if (e->reason[reason_len] || memchr(e->reason, '\0', reason_len))
        return WHY("record reason is not a NUL-terminated string");
    if (!(flags & REC_REASON))
        e->reason = NULL;
    e->info = flags & REC_INFO ? e->path + path_len + 1 + reason_len + 1 : NULL;
    e->info_size = info_size;
    e->dyn = e->path + path_len + 1 + reason_len + 1 + info_size;
    e->dyn_size = dyn_size;
    if (dyn_size && e->dyn[dyn_size - 1] != '\0')
        return WHY("record dynamic strings are not NUL-terminated");
    e->dev = rd64(r + 16);
    e->ino = rd64(r + 24);
    e->size = rdi64(r + 32);
    e->mtime_ns = rdi64(r + 40);
    e->ctime_ns = rdi64(r + 112);
    e->meta_ctime_ns = rdi64(r + 120);
    e->verified_by = rd64(r + 128);
    e->meta_size = rdi64(r + 48);
    e->meta_mtime_ns = rdi64(r + 56);
    e->status = (int)rd32(r + 64);
    e->machine = rd32(r + 68);
    e->elfclass = (int)rd32(r + 72);
    e->have_digest = (flags & REC_DIGEST) != 0;
    e->digest = r + 80;
    e->used = 0;
    if (e->status != TENON_AVAILABLE && e->status != TENON_UNAVAILABLE)
        return WHY("record status %d is not a probe result", e->status);
    if (e->status == TENON_AVAILABLE && (!e->info || e->reason))
        return WHY("available record without info, or with a reason");
    if (e->verified_by && (!e->have_digest || e->status != TENON_AVAILABLE))
        return WHY("verified record without a digest, or not available");
    if (e->status != TENON_AVAILABLE && !e->reason)
        return WHY("unavailable record without a reason");
    *rec_size = size;
    return 0;
}

/* The smallest listed name: flags, "x.so", NUL. */
#define NAME_ENTRY_MIN 6u

static int parse_dir(const unsigned char *r, size_t left,
                     struct tenon__cache_dir *d, size_t *rec_size, char *why,
                     size_t why_len)
{
    uint32_t size, path_len, count, names_size;
    uint64_t need;
    const char *p, *end, *prev = NULL;
    if (left < DIR_HEAD)
        return WHY("directory record truncated: %zu bytes left", left);
    size = rd32(r);
    path_len = rd32(r + 4);
    count = rd32(r + 8);
    names_size = rd32(r + 12);
    need = (uint64_t)DIR_HEAD + path_len + 1 + names_size;
    if (size % 8 || size < need || size > left)
        return WHY("directory record size %u does not fit (needs %llu, %zu "
                   "left)",
                   size, (unsigned long long)need, left);
    if (path_len == 0 || path_len > PATH_MAX_LEN ||
        count > names_size / NAME_ENTRY_MIN)
        return WHY("directory record field out of range");
    d->path = (const char *)r + DIR_HEAD;
    d->path_len = path_len;
    if (d->path[path_len] || memchr(d->path, '\0', path_len))
        return WHY("directory record path is not a NUL-terminated string");
    d->names = p = d->path + path_len + 1;
    end = p + names_size;
    for (uint32_t i = 0; i < count; i++) {
        const char *nul;
        size_t len;
        if (end - p < (ptrdiff_t)NAME_ENTRY_MIN || (unsigned char)*p > 1)
            return WHY("directory record name %u: truncated, or flags %u", i,
                       (unsigned char)*p);
        p++;
        if (!(nul = memchr(p, '\0', (size_t)(end - p))))
            return WHY("directory record name %u is not NUL-terminated", i);
        len = (size_t)(nul - p);
        /* What a scan lists: "*.so" names without '/', each once, sorted. */
        if (len < 4 || len > NAME_MAX || memcmp(nul - 3, ".so", 3) != 0 ||
            memchr(p, '/', len) || (prev && strcmp(prev, p) >= 0))
            return WHY("directory record name %u is not a *.so file name in "
                       "ascending order",
                       i);
        prev = p;
        p = nul + 1;
    }
    if (p != end)
        return WHY("directory record has %zu bytes after its %u names",
                   (size_t)(end - p), count);
    d->dev = rd64(r + 16);
    d->ino = rd64(r + 24);
    d->mtime_ns = rdi64(r + 32);
    d->ctime_ns = rdi64(r + 40);
    d->count = count;
    d->names_size = names_size;
    *rec_size = size;
    return 0;
}

int tenon__cache_parse(const void *data, size_t size, struct tenon__cache *c,
                       char *why, size_t why_len)
{
    const unsigned char *d = data, *r;
    uint64_t count, payload, ndirs;
    size_t cap = 2;
    int rc;

    c->v = NULL;
    c->index = NULL;
    c->n = 0;
    c->dirs = NULL;
    c->ndirs = 0;
    if (size < HEAD_SIZE)
        return WHY("%zu bytes; shorter than the %u-byte header", size,
                   HEAD_SIZE);
    if (memcmp(d, MAGIC, 8) != 0)
        return WHY("no \"" MAGIC "\" magic");
    if (rd32(d + 8) != FORMAT)
        return WHY("format %u; this library reads format %u", rd32(d + 8),
                   FORMAT);
    if (rd32(d + 12) != BOM || rd32(d + 16) != HEAD_SIZE ||
        rd32(d + 20) != REC_HEAD || rd32(d + 68) != DIR_HEAD)
        return WHY("foreign byte order or layout");
    if (strncmp((const char *)d + 48, TENON_VERSION_STRING, VERSION_LEN) != 0)
        return WHY("written by another version of Tenon");
    count = rd64(d + 24);
    payload = rd64(d + 32);
    ndirs = rd32(d + 64);
    if (payload != size - HEAD_SIZE)
        return WHY("payload of %llu bytes, the file has %zu after the header",
                   (unsigned long long)payload, size - HEAD_SIZE);
    if (count > payload / REC_HEAD || ndirs > payload / DIR_HEAD ||
        count * REC_HEAD + ndirs * DIR_HEAD > payload ||
        count + ndirs >= UINT32_MAX / 2) /* ids and index size are 32-bit */
        return WHY("%llu entries and %llu directories cannot fit in %llu "
                   "bytes",
                   (unsigned long long)count, (unsigned long long)ndirs,
                   (unsigned long long)payload);
    if (tenon__hash64(d + HEAD_SIZE, (size_t)payload, FORMAT) != rd64(d + 40))
        return WHY("checksum mismatch");
    while (cap < 2 * (count + ndirs))
        cap *= 2;
    c->v = malloc((count ? count : 1) * sizeof *c->v);
    c->dirs = malloc((ndirs ? ndirs : 1) * sizeof *c->dirs);
    c->index = calloc(cap, sizeof *c->index);
    if (!c->v || !c->dirs || !c->index) {
        rc = tenon__reason(why, why_len, TENON_ENOMEM, "out of memory");
        goto fail;
    }
    c->index_mask = cap - 1;
    c->dir_base = (uint32_t)count;
    r = d + HEAD_SIZE;
    for (size_t i = 0; i < ndirs; i++) {
        size_t left = (size_t)(d + size - r), rec = 0;
        struct tenon__cache_dir *dr = &c->dirs[i];
        if ((rc = parse_dir(r, left, dr, &rec, why, why_len)))
            goto fail;
        if (index_add(c, dr->path, dr->path_len, (uint32_t)(count + i + 1))) {
            rc = WHY("two directory records for %s", dr->path);
            goto fail;
        }
        c->ndirs = i + 1;
        r += rec;
    }
    for (size_t i = 0; i < count; i++) {
        size_t left = (size_t)(d + size - r), rec = 0;
        if ((rc = parse_record(r, left, &c->v[i], &rec, why, why_len)))
            goto fail;
        if (index_add(c, c->v[i].path, c->v[i].path_len, (uint32_t)(i + 1))) {
            rc = WHY("two records for %s", c->v[i].path);
            goto fail;
        }
        c->n = i + 1;
        r += rec;
    }
    if (r != d + size) {
        rc = WHY("%zu bytes after the last record", (size_t)(d + size - r));
        goto fail;
    }
    return 0;
fail:
    free(c->v);
    free(c->dirs);
    free(c->index);
    c->v = NULL;
    c->dirs = NULL;
    c->index = NULL;
    c->n = c->ndirs = 0;
    return rc;
}

static char *cache_path(const tenon_t *t)
{
    return tenon__asprintf("%s/" CACHE_NAME, t->cache_dir);
}

static int read_all(int fd, unsigned char *buf, size_t len)
{
    while (len) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The cache directory, open, if it may hold the cache: one that others can
 * write to without the sticky bit lets them rename their own file over the
 * cache (its group, too: they are other users), so it is not used
 * (*unfit). -1 with the reason in `why` when it
 * cannot be used or opened (or does not exist yet). */
static int open_cache_dir(const tenon_t *t, int *unfit, char *why,
                          size_t why_len)
{
    int fd = open(t->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    *unfit = 0;
    if (fd < 0) {
        snprintf(why, why_len, "cannot open its directory: %s",
                 strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0)
        snprintf(why, why_len, "cannot stat %s: %s", t->cache_dir,
                 strerror(errno));
    else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        snprintf(why, why_len,
                 "%s is writable by %s without the sticky bit; expected a "
                 "directory only you can write to, or a sticky one",
                 t->cache_dir, st.st_mode & S_IWOTH ? "others" : "its group");
    else
        return fd;
    *unfit = 1;
    close(fd);
    return -1;
}

/* A cache file another user owns is neither read (they chose its bytes)
 * nor replaced (it is theirs). 0 when `st` is the caller's. */
static int foreign_owner(const struct stat *st, char *why, size_t why_len)
{
    if (st->st_uid == geteuid())
        return 0;
    snprintf(why, why_len,
             "owned by uid %ld; expected a file owned by you (uid %ld)",
             (long)st->st_uid, (long)geteuid());
    return 1;
}

void tenon__cache_load(tenon_t *t, struct tenon__cache *c)
{
    char why[TENON__REASON_MAX + PATH_MAX];
    char *path;
    struct stat st;
    int dfd, fd, unfit;

    memset(c, 0, sizeof *c);
    if (t->no_cache || !t->cache_dir)
        return;
    c->enabled = 1;
    if (!(path = cache_path(t)))
        return;
    if ((dfd = open_cache_dir(t, &unfit, why, sizeof why)) < 0) {
        c->enabled = !unfit;
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "scan cache %s %s: %s", path,
                   unfit ? "not used" : "not read", why);
        free(path);
        return;
    }
    fd = openat(dfd, CACHE_NAME,
                O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    close(dfd);
    if (fd < 0) {
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "scan cache %s: %s; rebuilding",
                   path, strerror(errno));
        free(path);
        return;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, sizeof why, "cannot stat it: %s", strerror(errno));
        goto bad;
    }
    if (foreign_owner(&st, why, sizeof why)) {
        c->enabled = 0;
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "scan cache %s not used: %s",
                   path, why);
        close(fd);
        free(path);
        return;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > FILE_MAX ||
        !(c->buf = malloc(st.st_size ? (size_t)st.st_size : 1)) ||
        read_all(fd, c->buf, (size_t)st.st_size) != 0) {
        snprintf(why, sizeof why, "cannot read it whole");
        goto bad;
    }
    if (tenon__cache_parse(c->buf, (size_t)st.st_size, c, why, sizeof why))
        goto bad;
    c->written_ns = tenon__mtime_ns(&st);
    close(fd);
    free(path);
    return;
bad:
    tenon__log(t, TENON_LOG_DEBUG, "tenon", "scan cache %s ignored: %s", path,
               why);
    close(fd);
    free(path);
    free(c->buf);
    c->buf = NULL;
    c->dirty = 1; /* replace the bad file even if nothing else changes */
}

struct tenon__cache_entry *tenon__cache_find(struct tenon__cache *c,
                                             const struct tenon_plugin *p)
{
    struct tenon__cache_entry *e;
    uint32_t id;
    if (!c->n || !(id = *index_slot(c, p->path, strlen(p->path), 0)))
        return NULL;
    e = &c->v[id - 1];
    if (e->dev != (uint64_t)p->dev || e->ino != (uint64_t)p->ino ||
        e->size != p->size || e->mtime_ns != p->mtime_ns ||
        e->ctime_ns != p->ctime_ns || e->meta_size != p->meta_size ||
        e->meta_mtime_ns != p->meta_mtime_ns ||
        e->meta_ctime_ns != p->meta_ctime_ns)
        return NULL;
    /* Changed in the clock tick the cache was written in: the same mtime
     * may hide a second change (git's "racily clean" entries). ctime only
     * has to be equal: it moves on every change anyway. */
    if (e->mtime_ns >= c->written_ns || e->meta_mtime_ns >= c->written_ns)
        return NULL;
    return e;
}

const struct tenon__cache_dir *
tenon__cache_dir_find(const struct tenon__cache *c, const char *path,
                      const struct stat *st, int *stale)
{
    const struct tenon__cache_dir *d;
    uint32_t id;
    *stale = 1;
    if (!c->ndirs || !(id = *index_slot(c, path, strlen(path), 1)))
        return NULL;
    d = &c->dirs[id - c->dir_base - 1];
    if (d->dev != (uint64_t)st->st_dev || d->ino != (uint64_t)st->st_ino ||
        d->mtime_ns != tenon__mtime_ns(st) ||
        d->ctime_ns != tenon__ctime_ns(st))
        return NULL;
    /* Changed in the tick the cache was written in: a second change in that
     * tick would leave the same mtime. Listed again, and worth a rewrite so
     * that the next scan can trust it. */
    *stale = d->mtime_ns >= c->written_ns;
    return *stale ? NULL : d;
}

/* The cached dynamic strings, copied into p and split. */
static int fill_dyn(struct tenon_plugin *p, const char *dyn, size_t size)
{
    if (!size)
        return 0;
    if (!(p->dyn = malloc(size)))
        return -1;
    memcpy(p->dyn, dyn, size);
    p->dyn_size = size;
    if (tenon__dyn_split(p->dyn, size, &p->dynv) == 0)
        return 0;
    free(p->dyn);
    p->dyn = NULL;
    p->dyn_size = 0;
    return -1;
}

int tenon__cache_fill(struct tenon_plugin *p,
                      const struct tenon__cache_entry *e)
{
    char why[TENON__REASON_MAX];
    p->machine = e->machine;
    p->elfclass = e->elfclass;
    p->info.abi = -1;
    if (e->info) {
        int rc =
            tenon__info_parse(e->info, e->info_size, &p->info, why, sizeof why);
        p->have_info = 1;
        if ((rc && e->status == TENON_AVAILABLE) ||
            fill_dyn(p, e->dyn, e->dyn_size) != 0) {
            tenon__info_free(&p->info);
            memset(&p->info, 0, sizeof p->info);
            p->info.abi = -1;
            p->have_info = 0;
            return -1;
        }
    }
    if (e->reason)
        tenon__plugin_set_reason(p, e->status, e->reason);
    p->status = e->status;
    p->have_digest = e->have_digest;
    if (e->have_digest)
        memcpy(p->digest, e->digest, sizeof p->digest);
    p->verified_by = e->verified_by;
    p->cacheable = 1;
    p->from_cache = 1;
    return 0;
}

void tenon__cache_free(struct tenon__cache *c)
{
    free(c->v);
    free(c->dirs);
    free(c->index);
    free(c->buf);
    memset(c, 0, sizeof *c);
}

/* ---- writing ------------------------------------------------------------- */

struct out {
    unsigned char *buf;
    size_t len, cap;
    uint64_t count;
    uint32_t ndirs;
};

static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

/* Room for a record of `need` bytes at the end of `o`, 8-byte aligned and
 * zeroed (the padding too, so that equal caches are equal bytes); NULL when
 * out of memory. */
static unsigned char *reserve(struct out *o, size_t need)
{
    size_t size = (need + 7) & ~(size_t)7;
    unsigned char *r;
    if (tenon__grow(&o->buf, &o->cap, o->len + size, 1))
        return NULL;
    r = o->buf + o->len;
    memset(r, 0, size);
    o->len += size;
    return r;
}

/* Append a record whose head fields come from `e`. */
static int put_record(struct out *o, const struct tenon__cache_entry *e)
{
    size_t reason_len = e->reason ? strlen(e->reason) : 0;
    size_t need = REC_HEAD + e->path_len + 1 + reason_len + 1 + e->info_size +
                  e->dyn_size;
    unsigned char *r;
    char *s;
    if (e->path_len > PATH_MAX_LEN || reason_len > REASON_MAX ||
        e->info_size > TENON__INFO_MAX || e->dyn_size > TENON__DYN_STRINGS_MAX)
        return 0; /* the reader would refuse it: leave it out */
    if (!(r = reserve(o, need)))
        return TENON_ENOMEM;
    wr32(r, (uint32_t)((need + 7) & ~(size_t)7));
    wr32(r + 4, (uint32_t)e->path_len);
    wr32(r + 8, (uint32_t)reason_len);
    wr32(r + 12, (uint32_t)e->info_size);
    wr64(r + 16, e->dev);
    wr64(r + 24, e->ino);
    wr64(r + 32, (uint64_t)e->size);
    wr64(r + 40, (uint64_t)e->mtime_ns);
    wr64(r + 112, (uint64_t)e->ctime_ns);
    wr64(r + 120, (uint64_t)e->meta_ctime_ns);
    wr64(r + 128, e->verified_by);
    wr32(r + 136, (uint32_t)e->dyn_size);
    wr64(r + 48, (uint64_t)e->meta_size);
    wr64(r + 56, (uint64_t)e->meta_mtime_ns);
    wr32(r + 64, (uint32_t)e->status);
    wr32(r + 68, e->machine);
    wr32(r + 72, (uint32_t)e->elfclass);
    wr32(r + 76, (e->info ? REC_INFO : 0) | (e->have_digest ? REC_DIGEST : 0) |
                     (e->reason ? REC_REASON : 0));
    if (e->have_digest)
        memcpy(r + 80, e->digest, 32);
    s = (char *)r + REC_HEAD;
    memcpy(s, e->path, e->path_len);
    if (reason_len)
        memcpy(s + e->path_len + 1, e->reason, reason_len);
    if (e->info_size)
        memcpy(s + e->path_len + 1 + reason_len + 1, e->info, e->info_size);
    if (e->dyn_size)
        memcpy(s + e->path_len + 1 + reason_len + 1 + e->info_size, e->dyn,
               e->dyn_size);
    o->count++;
    return 0;
}

static int put_plugin(struct out *o, const struct tenon_plugin *p)
{
    struct tenon__cache_entry e = {0};
    if (!p->cacheable || (p->status != TENON_AVAILABLE && !p->reason) ||
        (p->have_info && !p->info.raw))
        return 0;
    e.path = p->path;
    e.path_len = strlen(p->path);
    e.reason = p->status == TENON_AVAILABLE ? NULL : p->reason;
    e.info = p->have_info ? p->info.raw : NULL;
    e.info_size = p->have_info ? p->info.size : 0;
    e.dyn = p->dyn;
    e.dyn_size = p->dyn_size;
    e.dev = (uint64_t)p->dev;
    e.ino = (uint64_t)p->ino;
    e.size = p->size;
    e.mtime_ns = p->mtime_ns;
    e.ctime_ns = p->ctime_ns;
    e.meta_size = p->meta_size;
    e.meta_mtime_ns = p->meta_mtime_ns;
    e.meta_ctime_ns = p->meta_ctime_ns;
    e.verified_by = p->have_digest ? p->verified_by : 0;
    e.status = p->status;
    e.machine = p->machine;
    e.elfclass = p->elfclass;
    e.have_digest = p->have_digest;
    e.digest = p->digest;
    if (e.status != TENON_AVAILABLE && e.status != TENON_UNAVAILABLE)
        return 0;
    return put_record(o, &e);
}

/* Append a directory record. */
static int put_dir(struct out *o, const struct tenon__cache_dir *d)
{
    size_t need = DIR_HEAD + d->path_len + 1 + d->names_size;
    unsigned char *r;
    if (d->path_len > PATH_MAX_LEN || d->count > UINT32_MAX ||
        d->names_size > UINT32_MAX)
        return 0; /* the reader would refuse it: leave it out */
    if (!(r = reserve(o, need)))
        return TENON_ENOMEM;
    wr32(r, (uint32_t)((need + 7) & ~(size_t)7));
    wr32(r + 4, (uint32_t)d->path_len);
    wr32(r + 8, (uint32_t)d->count);
    wr32(r + 12, (uint32_t)d->names_size);
    wr64(r + 16, d->dev);
    wr64(r + 24, d->ino);
    wr64(r + 32, (uint64_t)d->mtime_ns);
    wr64(r + 40, (uint64_t)d->ctime_ns);
    memcpy(r + DIR_HEAD, d->path, d->path_len);
    memcpy(r + DIR_HEAD + d->path_len + 1, d->names, d->names_size);
    o->ndirs++;
    return 0;
}

/* The listing of search path directory `di` as this scan made it: the
 * names of its entries, in scan order, with their .meta flags. */
static int put_listing(struct out *o, const tenon_t *t, size_t di,
                       const struct tenon__dir_stamp *st,
                       struct tenon_plugin *const *v, size_t n)
{
    struct tenon__cache_dir d = {.path = t->paths[di],
                                 .path_len = strlen(t->paths[di]),
                                 .dev = st->dev,
                                 .ino = st->ino,
                                 .mtime_ns = st->mtime_ns,
                                 .ctime_ns = st->ctime_ns};
    size_t size = 0, at = 0;
    char *names;
    int rc;
    for (size_t i = 0; i < n; i++)
        if (v[i]->dir_index == di)
            size += 1 + strlen(v[i]->path + v[i]->name_off) + 1;
    if (!(names = malloc(size ? size : 1)))
        return TENON_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i]->path + v[i]->name_off;
        size_t len = strlen(name) + 1;
        if (v[i]->dir_index != di)
            continue;
        names[at++] = (char)(v[i]->meta_listed != 0);
        memcpy(names + at, name, len);
        at += len;
        d.count++;
    }
    d.names = names;
    d.names_size = size;
    rc = put_dir(o, &d);
    free(names);
    return rc;
}

static int is_dir(const char *path, size_t len)
{
    char *dir = tenon__strndup(path, len ? len : 1);
    struct stat st;
    int yes;
    if (!dir)
        return -1;
    yes = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    free(dir);
    return yes;
}

/* The directory part of an entry's path, which was built as dir + '/' +
 * name. */
static size_t dir_len(const struct tenon__cache_entry *e)
{
    const char *slash = strrchr(e->path, '/');
    return (size_t)(slash - e->path);
}

static int is_scanned(const tenon_t *t, const char *dir, size_t len)
{
    for (size_t i = 0; i < t->npaths; i++)
        if (strlen(t->paths[i]) == len && memcmp(t->paths[i], dir, len) == 0)
            return 1;
    return 0;
}

/* The listings of directories this scan did not look at, kept like their
 * file records (below). */
static int keep_other_dirs(const tenon_t *t, const struct tenon__cache *c,
                           struct out *o)
{
    int rc = 0;
    for (size_t i = 0; i < c->ndirs && rc == 0; i++) {
        const struct tenon__cache_dir *d = &c->dirs[i];
        int exists;
        if (is_scanned(t, d->path, d->path_len))
            continue;
        if ((exists = is_dir(d->path, d->path_len)) < 0)
            return TENON_ENOMEM;
        if (exists)
            rc = put_dir(o, d);
    }
    return rc;
}

/* Entries of directories this scan did not look at are kept for hosts with
 * another search path, as long as their directory exists; entries of the
 * scanned directories that the scan did not reuse are gone or stale. */
static int keep_others(const tenon_t *t, struct tenon__cache *c, struct out *o)
{
    const struct tenon__cache_entry *last = NULL;
    int last_exists = 0, rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        const struct tenon__cache_entry *e = &c->v[i];
        if (is_scanned(t, e->path, dir_len(e)))
            continue;
        size_t n = dir_len(e);
        if (!last || dir_len(last) != n || memcmp(last->path, e->path, n)) {
            if ((last_exists = is_dir(e->path, n)) < 0)
                return TENON_ENOMEM;
            last = e;
        }
        if (last_exists)
            rc = put_record(o, e);
    }
    return rc;
}

/* mkdir -p, the directories it creates private to the user. */
static int make_dirs(char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -1;
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int rc = mkdir(path, 0700);
        *s = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new file for the next cache, created through the checked directory
 * descriptor (mkostemp() takes only a path); its name into `name`. */
static int make_temp(int dfd, char *name, size_t len)
{
    static atomic_uint seq;
    for (int tries = 0; tries < 100; tries++) {
        struct timespec ts;
        int fd;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, len, CACHE_NAME ".%ld.%lx.%u", (long)getpid(),
                 (unsigned long)ts.tv_nsec, atomic_fetch_add(&seq, 1));
        fd = openat(dfd, name,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Write the whole file beside the old one and rename it over: a reader sees
 * the old cache or the new one, never half of one. */
static int write_file(tenon_t *t, const struct out *o)
{
    char why[TENON__REASON_MAX + PATH_MAX], tmp[sizeof CACHE_NAME + 48];
    char *dir = tenon__strdup(t->cache_dir), *path = cache_path(t);
    const char *what = "allocate";
    int dfd = -1, fd = -1, rc = -1, unfit, named = 0;
    struct stat st;

    why[0] = '\0';
    if (!dir || !path)
        goto out;
    what = "create the directory";
    if (make_dirs(dir) != 0)
        goto out;
    /* Checked again, through the descriptor all that follows goes through:
     * the directory may be new, or have changed since the cache was read. */
    if ((dfd = open_cache_dir(t, &unfit, why, sizeof why)) < 0)
        goto out;
    if (fstatat(dfd, CACHE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        foreign_owner(&st, why, sizeof why))
        goto out;
    what = "create a temporary file";
    if ((fd = make_temp(dfd, tmp, sizeof tmp)) < 0)
        goto out;
    named = 1;
    what = "write";
    if (write_all(fd, o->buf, o->len) != 0 || fsync(fd) != 0)
        goto out;
    what = "close";
    rc = close(fd);
    fd = -1;
    if (rc == 0 && (rc = renameat(dfd, tmp, dfd, CACHE_NAME)) != 0)
        what = "rename";
out:
    if (rc != 0) {
        if (!why[0])
            snprintf(why, sizeof why, "cannot %s: %s", what, strerror(errno));
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "scan cache %s not written: %s",
                   path ? path : t->cache_dir, why);
        if (fd >= 0)
            close(fd);
        if (named)
            unlinkat(dfd, tmp, 0);
    }
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(path);
    return rc;
}

/* Does the directory of this stamp hold the cache file? Then every write
 * of the cache changes it, and its listing is not worth a rewrite. */
static int holds_cache(const tenon_t *t, const struct tenon__dir_stamp *d)
{
    struct stat st;
    return stat(t->cache_dir, &st) == 0 && (uint64_t)st.st_dev == d->dev &&
           (uint64_t)st.st_ino == d->ino;
}

void tenon__cache_save(tenon_t *t, struct tenon__cache *c,
                       struct tenon_plugin *const *v, size_t n,
                       const struct tenon__dir_stamp *stamps)
{
    struct out o = {0};
    int rc = 0;

    if (!c->enabled)
        return;
    for (size_t i = 0; i < t->npaths && !c->dirty; i++)
        if (stamps[i].listed && stamps[i].stale && !holds_cache(t, &stamps[i]))
            c->dirty = 1;
    for (size_t i = 0; i < n && !c->dirty; i++)
        if ((!v[i]->from_cache || v[i]->digest_new || v[i]->verdict_new) &&
            v[i]->cacheable)
            c->dirty = 1;
    for (size_t i = 0; i < c->n && !c->dirty; i++)
        if (!c->v[i].used && is_scanned(t, c->v[i].path, dir_len(&c->v[i])))
            c->dirty = 1;
    size_t listed = 0, lists_reused = 0;
    for (size_t i = 0; i < t->npaths; i++) {
        listed += stamps[i].listed != 0;
        lists_reused += stamps[i].from_cache != 0;
    }
    tenon__log(t, TENON_LOG_DEBUG, "tenon",
               "scan cache: %zu reused, %zu probed, %zu of %zu listings "
               "reused%s",
               c->hits, c->probed, lists_reused, listed,
               c->dirty ? "; rewriting it" : "");
    if (!c->dirty)
        return;
    if (tenon__grow(&o.buf, &o.cap, HEAD_SIZE, 1))
        return;
    o.len = HEAD_SIZE;
    for (size_t i = 0; i < t->npaths && rc == 0; i++)
        if (stamps[i].listed)
            rc = put_listing(&o, t, i, &stamps[i], v, n);
    if (rc == 0)
        rc = keep_other_dirs(t, c, &o);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_plugin(&o, v[i]);
    if (rc == 0)
        rc = keep_others(t, c, &o);
    if (rc == 0) {
        memset(o.buf, 0, HEAD_SIZE);
        memcpy(o.buf, MAGIC, 8);
        wr32(o.buf + 8, FORMAT);
        wr32(o.buf + 12, BOM);
        wr32(o.buf + 16, HEAD_SIZE);
        wr32(o.buf + 20, REC_HEAD);
        wr64(o.buf + 24, o.count);
        wr64(o.buf + 32, o.len - HEAD_SIZE);
        wr64(o.buf + 40,
             tenon__hash64(o.buf + HEAD_SIZE, o.len - HEAD_SIZE, FORMAT));
        strncpy((char *)o.buf + 48, TENON_VERSION_STRING, VERSION_LEN);
        wr32(o.buf + 64, o.ndirs);
        wr32(o.buf + 68, DIR_HEAD);
        if (write_file(t, &o) == 0)
            c->dirty = 0;
    }
    free(o.buf);
}

/* ---- clearing ------------------------------------------------------------ */

/* scan-<arch>.cache, and the temporary files of an interrupted write. */
static int is_cache_file(const char *name)
{
    const char *suf;
    if (strncmp(name, CACHE_PREFIX, strlen(CACHE_PREFIX)) != 0)
        return 0;
    if (!(suf = strstr(name, CACHE_SUFFIX)))
        return 0;
    suf += strlen(CACHE_SUFFIX);
    return *suf == '\0' || *suf == '.';
}

int tenon_cache_clear(tenon_t *t)
{
    DIR *d;
    struct dirent *e;
    int removed = 0, rc = 0;
    if (!t->cache_dir)
        return 0;
    if (!(d = opendir(t->cache_dir))) {
        if (errno == ENOENT)
            return 0;
        return tenon__fail(TENON_EIO, "cannot open the cache directory %s: %s",
                           t->cache_dir, strerror(errno));
    }
    while ((e = readdir(d))) {
        if (!is_cache_file(e->d_name))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
            removed++;
            tenon__log(t, TENON_LOG_DEBUG, "tenon", "removed %s/%s",
                       t->cache_dir, e->d_name);
        } else if (errno != ENOENT && rc == 0) {
            rc = tenon__fail(TENON_EIO, "cannot remove %s/%s: %s", t->cache_dir,
                             e->d_name, strerror(errno));
        }
    }
    closedir(d);
    return rc ? rc : removed;
}

const char *tenon_cache_dir(const tenon_t *t) { return t->cache_dir; }
