/*
 * bench/scan - how long it takes to find out what N plugin files are.
 *
 * Three ways of answering it over the same N files, all in one run:
 *
 *   tenon       Tenon's inventory scan: tenon_open, tenon_scan, tenon_close.
 *               Cold (scan cache off): reads each file's first 2 KiB (ELF
 *               header, program headers, the .note.tenon note), runs no
 *               plugin code; timed as configured by default (probing spread
 *               over up to one thread per CPU) and on the calling thread
 *               alone, since the baselines use one thread. Warm: with a valid
 *               scan cache (a stat per file, the info re-parsed from the
 *               cache), and with 1% of the files touched before each
 *               repetition (those are probed again and the cache rewritten).
 *   dlopen      dlopen(RTLD_NOW|RTLD_LOCAL) + dlsym of the entry symbol +
 *               dlclose of each file, the way libsinsp and PANDA discover
 *               their plugins.
 *   dynsym      each file read whole into memory and its dynamic symbol
 *               table walked looking for the entry symbol, the way memflow
 *               0.2 does it.
 *
 * The files are copies of one template plugin built with the SDK, each given
 * its own name, so they are real plugins that every approach accepts. The
 * page cache is warm and each figure is the best of a few repetitions: what
 * is compared is the work each approach does, not the disk or the noise of
 * a shared machine. The baselines are handed the list of files for free
 * while Tenon lists the directory itself, which only favours the baselines.
 */
#include <tenon/host.h>

#include "internal.h" /* signing the copies for the trust figures */

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifndef TENON_BENCH_TEMPLATE
#error "build with -DTENON_BENCH_TEMPLATE=\"path/to/bench_template.so\""
#endif

#define PLACEHOLDER                                                            \
    "bench0000" /* the template's name, see template_plugin.c                  \
                 */
#define NAME_DIGITS  4
#define MAX_FILES    10000 /* what NAME_DIGITS digits can number */
#define TARGET_RATIO 5.0

/* ---- the files, and removing them however the program ends --------------- */

/* Read by the signal handler, so plain data set up before it can run. */
static struct {
    char dir[4096];
    int dirfd;
    volatile sig_atomic_t created; /* files written so far */
    int keep;
    int made_dir;
    char cache_dir[4096]; /* the scan cache of the warm runs */
    char cache_file[4096];
    int made_cache_dir;
    int signed_files; /* .meta files and the key pair were written */
} files = {.dirfd = -1};

/* "benchNNNN.so" without stdio, so the signal handler can use it too. */
static void file_name(char out[16], size_t i)
{
    memcpy(out, "bench", 5);
    for (int d = NAME_DIGITS - 1; d >= 0; d--) {
        out[5 + d] = (char)('0' + i % 10);
        i /= 10;
    }
    memcpy(out + 5 + NAME_DIGITS, ".so", 4);
}

/* Only async-signal-safe calls: this also runs from the signal handler. */
static void remove_files(void)
{
    char name[16];
    if (files.cache_file[0])
        unlink(files.cache_file);
    if (files.made_cache_dir)
        rmdir(files.cache_dir);
    files.made_cache_dir = 0;
    if (files.keep || files.dirfd < 0)
        return;
    for (size_t i = 0; i < (size_t)files.created; i++) {
        char meta[24];
        file_name(name, i);
        unlinkat(files.dirfd, name, 0);
        if (files.signed_files) {
            memcpy(meta, name, 16);
            memcpy(meta + 5 + NAME_DIGITS + 3, ".meta", 6);
            unlinkat(files.dirfd, meta, 0);
        }
    }
    if (files.signed_files) {
        unlinkat(files.dirfd, "bench.key", 0);
        unlinkat(files.dirfd, "bench.pub", 0);
    }
    files.created = 0;
    if (files.made_dir)
        rmdir(files.dir);
    files.made_dir = 0;
}

static void on_signal(int sig)
{
    remove_files();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("scan: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1); /* atexit removes the files */
}

/* ---- reading a file whole ------------------------------------------------ */

/* open + fstat + malloc + read, as a program that wants the whole file in
 * memory does it. Returns 0, or -1 with errno set. */
static int read_whole(const char *path, unsigned char **out, size_t *len)
{
    struct stat st;
    unsigned char *buf;
    size_t have = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 ||
        !(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n == 0 ? EIO : errno; /* shrank under us: treat as I/O */
            free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        have += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = have;
    return 0;
}

/* ---- the template and its copies ----------------------------------------- */

/* Give a copy its own name by overwriting every NUL-terminated occurrence of
 * the placeholder (`at`, from find_placeholders): one in .tenon.info
 * ("name=bench0000"), one in the string the entry struct points to. The
 * length never changes, so no offset in the file moves. */
static void rename_copy(unsigned char *buf, const size_t *at, size_t nat,
                        size_t index)
{
    char name[16];
    file_name(name, index);
    for (size_t k = 0; k < nat; k++)
        memcpy(buf + at[k], name, sizeof PLACEHOLDER - 1);
}

static size_t find_placeholders(const unsigned char *buf, size_t len,
                                size_t *at, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i + sizeof PLACEHOLDER <= len; i++)
        if (memcmp(buf + i, PLACEHOLDER, sizeof PLACEHOLDER) == 0) {
            if (n == max)
                return max + 1;
            at[n++] = i;
        }
    return n;
}

static void write_file(int dirfd, const char *name, const unsigned char *buf,
                       size_t len)
{
    size_t done = 0;
    int fd =
        openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0)
        die("cannot create %s/%s: %s", files.dir, name, strerror(errno));
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot write %s/%s: %s", files.dir, name, strerror(errno));
        done += (size_t)n;
    }
    if (close(fd) != 0)
        die("cannot write %s/%s: %s", files.dir, name, strerror(errno));
}

static size_t make_files(size_t n)
{
    unsigned char *tmpl;
    size_t len, at[8], nat;

    if (read_whole(TENON_BENCH_TEMPLATE, &tmpl, &len) != 0)
        die("cannot read the template plugin %s: %s (build the bench_template "
            "target)",
            TENON_BENCH_TEMPLATE, strerror(errno));
    nat = find_placeholders(tmpl, len, at, sizeof at / sizeof at[0]);
    if (nat < 2 || nat > sizeof at / sizeof at[0])
        die("%s holds the name \"%s\" %zu times; expected it in .tenon.info "
            "and in the entry's name string",
            TENON_BENCH_TEMPLATE, PLACEHOLDER, nat);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        file_name(name, i);
        rename_copy(tmpl, at, nat, i);
        /* Counted first: a signal during the write must remove it too. */
        files.created = (sig_atomic_t)(i + 1);
        write_file(files.dirfd, name, tmpl, len);
    }
    free(tmpl);
    return len;
}

static void setup_dir(const char *keep)
{
    if (keep) {
        if (strlen(keep) >= sizeof files.dir)
            die("directory name too long: %s", keep);
        strcpy(files.dir, keep);
        if (mkdir(keep, 0755) != 0 && errno != EEXIST)
            die("cannot create %s: %s", keep, strerror(errno));
        files.keep = 1;
    } else {
        const char *tmp = getenv("TMPDIR");
        int len = snprintf(files.dir, sizeof files.dir, "%s/tenon-bench-XXXXXX",
                           tmp && *tmp ? tmp : "/tmp");
        if (len < 0 || (size_t)len >= sizeof files.dir)
            die("TMPDIR is too long");
        if (!mkdtemp(files.dir))
            die("cannot create a directory in %s: %s",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        files.made_dir = 1;
    }
    files.dirfd = open(files.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (files.dirfd < 0)
        die("cannot open %s: %s", files.dir, strerror(errno));
    const char *tmp = getenv("TMPDIR");
    int len =
        snprintf(files.cache_dir, sizeof files.cache_dir,
                 "%s/tenon-bench-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (len < 0 || (size_t)len >= sizeof files.cache_dir ||
        !mkdtemp(files.cache_dir))
        die("cannot create a cache directory: %s", strerror(errno));
    files.made_cache_dir = 1;
    /* Said up front: otherwise it surfaces as a dlopen mapping error. */
    struct statvfs vfs;
    if (fstatvfs(files.dirfd, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC))
        die("%s is on a noexec file system, where nothing can be dlopen'ed; "
            "set TMPDIR or pass --keep DIR elsewhere",
            files.dir);
}

/* ---- the three approaches ------------------------------------------------ */

/* Each returns how many plugins it found, so the work cannot be skipped and a
 * broken approach shows up instead of looking fast. */

/* `threads` 0 is Tenon's default (one probing thread per CPU, at most 4);
 * 1 probes on the calling thread only, like the baselines. `cached` uses the
 * scan cache in files.cache_dir; otherwise the cache is off (a cold scan). */
/* Open a context with `o`, scan, and count the available plugins. */
static size_t scan_count(const struct tenon_options *o)
{
    size_t found = 0, n;
    tenon_t *t;

    if (tenon_open(&t, o) != 0)
        die("tenon_open: %s", tenon_last_error());
    if (tenon_scan(t) != 0)
        die("tenon_scan: %s", tenon_last_error());
    n = tenon_plugin_count(t);
    for (size_t i = 0; i < n; i++)
        if (tenon_plugin_status(tenon_plugin_at(t, i)) == TENON_AVAILABLE)
            found++;
    tenon_close(t);
    return found;
}

static size_t run_tenon(unsigned threads, int cached)
{
    const char *paths[] = {files.dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = paths,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .scan_threads = threads,
                              .cache_dir = cached ? files.cache_dir : NULL,
                              .no_cache = !cached};
    return scan_count(&o);
}

static size_t run_dlopen(char *const *paths, size_t n)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        void *h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            continue;
        if (dlsym(h, TENON_ENTRY_SYMBOL))
            found++;
        dlclose(h);
    }
    return found;
}

/* Bounds of a section's bytes in a buffer of `len` bytes. */
static int section_ok(const Elf64_Shdr *s, size_t len)
{
    return s->sh_type != SHT_NOBITS && s->sh_offset <= len &&
           s->sh_size <= len - s->sh_offset;
}

/* How many defined symbols named `want` the dynamic symbol table holds.
 * Every symbol is looked at, as a loader that collects all exports does. */
static size_t count_dynsym(const unsigned char *b, size_t len, const char *want)
{
    size_t want_len = strlen(want), found = 0;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
    const Elf64_Shdr *sh;

    if (len < sizeof *eh || memcmp(b, ELFMAG, SELFMAG) != 0 ||
        b[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof *sh ||
        eh->e_shoff > len || eh->e_shnum > (len - eh->e_shoff) / sizeof *sh)
        return 0;
    /* The headers are 8-byte aligned in any file a linker wrote, and malloc's
     * buffer is 16-byte aligned, so these casts are to aligned addresses. */
    if (eh->e_shoff % _Alignof(Elf64_Shdr) != 0)
        return 0;
    sh = (const Elf64_Shdr *)(b + eh->e_shoff);
    for (size_t i = 0; i < eh->e_shnum; i++) {
        const Elf64_Shdr *syms = &sh[i], *strs;
        const Elf64_Sym *sym;
        const char *names;
        size_t nsyms;

        if (syms->sh_type != SHT_DYNSYM || !section_ok(syms, len) ||
            syms->sh_entsize != sizeof *sym ||
            syms->sh_offset % _Alignof(Elf64_Sym) != 0 ||
            syms->sh_link >= eh->e_shnum)
            continue;
        strs = &sh[syms->sh_link];
        if (strs->sh_type != SHT_STRTAB || !section_ok(strs, len))
            continue;
        sym = (const Elf64_Sym *)(b + syms->sh_offset);
        names = (const char *)b + strs->sh_offset;
        nsyms = syms->sh_size / sizeof *sym;
        for (size_t k = 0; k < nsyms; k++) {
            size_t off = sym[k].st_name;
            if (off >= strs->sh_size || strs->sh_size - off <= want_len)
                continue;
            if (memcmp(names + off, want, want_len + 1) == 0 &&
                sym[k].st_shndx != SHN_UNDEF)
                found++;
        }
    }
    return found;
}

static size_t run_dynsym(char *const *paths, size_t n)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *buf;
        size_t len;
        if (read_whole(paths[i], &buf, &len) != 0)
            continue;
        if (count_dynsym(buf, len, TENON_ENTRY_SYMBOL) == 1)
            found++;
        free(buf);
    }
    return found;
}

/* ---- checks before timing ------------------------------------------------ */

/* Every copy must be a distinct, valid plugin, or the figures compare
 * nothing: Tenon must list N available plugins named after their files, and
 * loading one must pass Tenon's own check that code and info agree. */
/* The floor of any scan cache keyed by stat: one fstatat per file and
 * nothing else, spread over as many threads as Tenon's default scan uses
 * (one per CPU, at most 4). Counts the regular files. */
struct stat_job {
    size_t n, first, step, found;
};

static void *stat_some(void *arg)
{
    struct stat_job *j = arg;
    char name[16];
    struct stat st;
    for (size_t i = j->first; i < j->n; i += j->step) {
        file_name(name, i);
        j->found +=
            fstatat(files.dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode);
    }
    return NULL;
}

static size_t run_stat_floor(size_t n)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = cpus < 1 ? 1 : cpus > 4 ? 4 : (size_t)cpus, found = 0;
    struct stat_job jobs[4];
    pthread_t th[4];
    for (size_t i = 0; i < k; i++)
        jobs[i] = (struct stat_job){n, i, k, 0};
    for (size_t i = 1; i < k; i++)
        if (pthread_create(&th[i], NULL, stat_some, &jobs[i]) != 0)
            die("pthread_create failed");
    stat_some(&jobs[0]);
    for (size_t i = 0; i < k; i++) {
        if (i)
            pthread_join(th[i], NULL);
        found += jobs[i].found;
    }
    return found;
}

static void verify(size_t n)
{
    const char *paths[] = {files.dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = paths,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .no_cache = 1};
    size_t count, probe[3] = {0, n / 2, n - 1};
    tenon_t *t;

    if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0)
        die("FAIL: Tenon's scan of %s: %s", files.dir, tenon_last_error());
    count = tenon_plugin_count(t);
    if (count != n)
        die("FAIL: Tenon's scan of %s found %zu plugin files; expected %zu "
            "(is the directory shared with other .so files?)",
            files.dir, count, n);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        char want[16];
        const char *name = tenon_plugin_name(p);
        file_name(want, i);
        want[5 + NAME_DIGITS] = '\0';
        if (tenon_plugin_status(p) != TENON_AVAILABLE)
            die("FAIL: %s is %s: %s", tenon_plugin_path(p),
                tenon_plugin_status_name(tenon_plugin_status(p)),
                tenon_plugin_reason(p));
        if (!name || strcmp(name, want) != 0)
            die("FAIL: %s is named '%s'; expected '%s'", tenon_plugin_path(p),
                name ? name : "(none)", want);
    }
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        char spec[16];
        tenon_instance_t *inst;
        file_name(spec, probe[k]);
        spec[5 + NAME_DIGITS] = '\0';
        if (tenon_create(t, spec, NULL, &inst) != 0)
            die("FAIL: loading %s: %s", spec, tenon_last_error());
        tenon_destroy(inst);
    }
    tenon_close(t);
}

/* ---- verifying signatures ----------------------------------------------- */

static double now_ms(void);

/* Sign every copy with a fresh key (bench.key / bench.pub in the same
 * directory, which the scan ignores), as `tenon sign` would. */
static void sign_all(void)
{
    char sec[4200], pub[4200], id[TENON__KEY_ID_LEN + 1], why[256];
    const char *paths[] = {files.dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = paths,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .no_cache = 1};
    unsigned char seed[32];
    tenon_t *t;
    snprintf(sec, sizeof sec, "%s/bench.key", files.dir);
    snprintf(pub, sizeof pub, "%s/bench.pub", files.dir);
    files.signed_files = 1;
    if (tenon__key_generate(sec, pub, id, why, sizeof why) ||
        tenon__seckey_read(sec, seed, id, why, sizeof why))
        die("FAIL: key pair: %s", why);
    if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0)
        die("FAIL: scan before signing: %s", tenon_last_error());
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const struct tenon_plugin *p = tenon_plugin_at(t, i);
        struct tenon__meta m = {0};
        char meta[4200];
        int fd = open(p->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || tenon__digest_fd(fd, UINT64_MAX, m.digest) != 0)
            die("FAIL: hashing %s", p->path);
        close(fd);
        tenon__rfc3339(time(NULL), m.created_at);
        m.info = tenon__meta_info(&p->info);
        if (tenon__meta_sign(&m, seed, id, p->info.name, p->info.version))
            die("FAIL: signing %s", p->path);
        snprintf(meta, sizeof meta, "%s.meta", p->path);
        if (tenon__meta_write(meta, &m, why, sizeof why) != 0)
            die("FAIL: %s", why);
        tenon__meta_free(&m);
    }
    tenon_close(t);
}

/* A scan under the require policy with bench.pub trusted: every file's
 * digest and signature checked; `cached` lets the scan cache supply the
 * digests of unchanged files. */
static size_t run_trusted(int cached)
{
    const char *paths[] = {files.dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = paths,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = paths,
                              .trust_dir_count = 1,
                              .cache_dir = cached ? files.cache_dir : NULL,
                              .no_cache = !cached};
    return scan_count(&o);
}

static void time_trust(size_t n, size_t reps)
{
    double best[2] = {1e300, 1e300};
    sign_all();
    run_trusted(1); /* untimed: the cache learns the .meta keys and digests */
    sleep(1);
    run_trusted(1);
    for (size_t r = 0; r < reps; r++)
        for (int cached = 0; cached < 2; cached++) {
            double t0 = now_ms(), ms;
            size_t found = run_trusted(cached);
            ms = now_ms() - t0;
            if (found != n)
                die("FAIL: the require scan accepted %zu of %zu signed "
                    "plugins",
                    found, n);
            if (ms < best[cached])
                best[cached] = ms;
        }
    printf("require policy, every file signed (digest + Ed25519 each):\n");
    printf("%-22s %9.2f ms  (%6.1f us/file)\n", "  cold: hash all files",
           best[0], best[0] * 1e3 / (double)n);
    printf("%-22s %9.2f ms  (%6.1f us/file)\n", "  warm: verdicts cached",
           best[1], best[1] * 1e3 / (double)n);
}

/* ---- timing -------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum { TENON, TENON_1T, WARM, TOUCHED, STAT_FLOOR, DLOPEN, DYNSYM, NAPPROACH };

static const char *const label[NAPPROACH] = {
    "tenon inventory scan",   "tenon scan, 1 thread", "tenon scan, warm cache",
    "tenon warm, 1% touched", "fstatat only (floor)", "dlopen+dlsym",
    "read+parse .dynsym",
};

/* Give every 100th file a new mtime, distinct for each repetition and in
 * the past, so the cache sees it changed (and not as "changed in the tick
 * the cache was written", which would make the next warm run probe it). */
static void touch_some(size_t n, size_t rep)
{
    struct timespec ts[2];
    char name[16];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= 60;
    ts[0].tv_nsec = (long)(rep % 1000000) * 1000 + 1;
    ts[1] = ts[0];
    for (size_t i = 0; i < n; i += 100) {
        file_name(name, i);
        if (utimensat(files.dirfd, name, ts, 0) != 0)
            die("cannot touch %s/%s: %s", files.dir, name, strerror(errno));
    }
}

/* The name of the cache file, so that the exit handlers can remove it. */
static void note_cache_file(void)
{
    DIR *d = opendir(files.cache_dir);
    struct dirent *e;
    if (!d)
        die("cannot read %s: %s", files.cache_dir, strerror(errno));
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            snprintf(files.cache_file, sizeof files.cache_file, "%s/%s",
                     files.cache_dir,
                     e->d_name) >= (int)sizeof files.cache_file)
            die("cache directory name too long: %s", files.cache_dir);
    closedir(d);
    if (!files.cache_file[0])
        die("FAIL: the warm scan wrote no cache in %s", files.cache_dir);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: scan [-n N] [-r REPS] [--keep DIR]\n"
        "\n"
        "Times Tenon's inventory scan of N plugin files (cold, with a warm\n"
        "scan cache, and with 1%% of the files touched) against dlopen+dlsym\n"
        "of each file and against reading each file whole and walking its\n"
        "dynamic symbol table. Page cache warm; best of REPS runs.\n"
        "\n"
        "  -n N        number of plugin files (1..%d, default 1000)\n"
        "  -r REPS     repetitions, the best one counts (default 5)\n"
        "  --keep DIR  write the files to DIR and leave them there\n"
        "              (default: a temporary directory, removed at exit)\n"
        "  -h, --help  this text\n",
        MAX_FILES);
}

static long parse_count(const char *s, const char *what, long max)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max) {
        fprintf(stderr, "scan: %s '%s': expected an integer in 1..%ld\n", what,
                s, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"keep", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t n = 1000, reps = 5, size;
    const char *keep = NULL;
    double best[NAPPROACH];
    char **paths;
    int c;

    while ((c = getopt_long(argc, argv, "n:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': n = (size_t)parse_count(optarg, "-n", MAX_FILES); break;
        case 'r': reps = (size_t)parse_count(optarg, "-r", 1000); break;
        case 'k': keep = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scan: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    atexit(remove_files);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    setup_dir(keep);
    size = make_files(n);

    if (!(paths = calloc(n, sizeof *paths)))
        die("out of memory");
    for (size_t i = 0; i < n; i++) {
        char name[16];
        file_name(name, i);
        if (asprintf(&paths[i], "%s/%s", files.dir, name) < 0)
            die("out of memory");
    }

    /* Untimed: bring every byte into the page cache, so no approach pays
     * for the disk, and prove the files are plugins before timing them. */
    for (size_t i = 0; i < n; i++) {
        unsigned char *buf;
        size_t len;
        if (read_whole(paths[i], &buf, &len) != 0)
            die("cannot read %s: %s", paths[i], strerror(errno));
        free(buf);
    }
    verify(n);
    /* Untimed: fill the scan cache. Twice, since files written in the clock
     * tick the cache was first written in are probed once more. */
    run_tenon(0, 1);
    note_cache_file();
    sleep(1);
    run_tenon(0, 1);

    for (int a = 0; a < NAPPROACH; a++)
        best[a] = 1e300;
    for (size_t r = 0; r < reps; r++) {
        /* Rotate the order so no approach always runs right after the same
         * other one (cache and allocator state carry over). */
        for (int k = 0; k < NAPPROACH; k++) {
            int a = (int)((r + (size_t)k) % NAPPROACH);
            size_t found = 0;
            double t0, ms;
            if (a == TOUCHED)
                touch_some(n, r);
            t0 = now_ms();
            switch (a) {
            case TENON: found = run_tenon(0, 0); break;
            case TENON_1T: found = run_tenon(1, 0); break;
            case WARM: found = run_tenon(0, 1); break;
            case TOUCHED: found = run_tenon(0, 1); break;
            case DLOPEN: found = run_dlopen(paths, n); break;
            case DYNSYM: found = run_dynsym(paths, n); break;
            case STAT_FLOOR: found = run_stat_floor(n); break;
            }
            ms = now_ms() - t0;
            if (found != n)
                die("FAIL: %s found %zu of %zu plugins", label[a], found, n);
            if (ms < best[a])
                best[a] = ms;
        }
    }

    printf("%zu plugin files of %zu bytes in %s; page cache warm, best of "
           "%zu\n",
           n, size, files.dir, reps);
    printf("cold scans without the scan cache; cache in %s\n", files.cache_dir);
    for (int a = 0; a < NAPPROACH; a++)
        printf("%-22s %9.2f ms  (%6.1f us/file)\n", label[a], best[a],
               best[a] * 1e3 / (double)n);
    for (int a = DLOPEN; a < NAPPROACH; a++) {
        double ratio = best[a] / best[TENON];
        printf("%s / tenon = %.1fx%s  (1 thread: %.1fx, warm cache: %.1fx)\n",
               label[a], ratio,
               ratio >= TARGET_RATIO ? "" : "  (below the 5x target)",
               best[a] / best[TENON_1T], best[a] / best[WARM]);
    }
    printf("cold / warm cache = %.1fx; 1%% touched / warm = %.1fx; warm / "
           "fstatat floor = %.1fx; cold / fstatat floor = %.1fx\n",
           best[TENON] / best[WARM], best[TOUCHED] / best[WARM],
           best[WARM] / best[STAT_FLOOR], best[TENON] / best[STAT_FLOOR]);
    time_trust(n, reps < 3 ? reps : 3);

    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return 0;
}
