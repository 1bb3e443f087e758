/*
 * Digests, Ed25519 signatures, key files and the trust store.
 *
 * A signature covers a statement that names the plugin and its version as
 * well as the file's SHA-256, so that it cannot be moved to another plugin
 * or another version (docs/trust.md has the format). Every check writes a
 * reason naming the file and what was expected.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h> /* PATH_MAX */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read size when hashing: a 217 KB plugin in one pread (and one for the
 * end) costs about 1% less CPU than in 64 KiB pieces, measured; larger
 * sizes were no better. */
#define CHUNK        (256u * 1024u)
#define KEYFILE_MAX  4096
#define B64_LEN      44 /* base64 of 32 bytes: 43 characters and one '=' */
#define PUB_TAG      "tenon-ed25519"
#define SECRET_TAG   "tenon-ed25519-secret"
#define STATEMENT_V1 "tenon-plugin-signature-v1\n"

/* ---- digests and hex ----------------------------------------------------- */

/* SHA-256 is fetched once. Named by EVP_sha256() instead, OpenSSL 3 would
 * look the implementation up in its provider store at every
 * EVP_DigestInit_ex (an implicit fetch: about 0.5 us here, under the
 * store's lock, which every scanning thread shares). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* NULL only if OpenSSL could not provide SHA-256 at the first call (out of
 * memory, or a configuration without the default provider); that lasts. */
static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md;
}

int tenon__digest_fd(int fd, uint64_t max, unsigned char out[32])
{
    const EVP_MD *md = sha256();
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    unsigned char *buf = ctx ? malloc(CHUNK) : NULL;
    off_t off = 0;
    ssize_t n = 0;
    int rc = TENON_ENOMEM, err = 0;

    /* pread, never mmap: a plugin's author may truncate the file while it
     * is hashed, and a read of a mapping past the new end would kill the
     * host with SIGBUS where pread just returns less. */
    if (buf && EVP_DigestInit_ex(ctx, md, NULL)) {
        for (;;) {
            n = pread(fd, buf, CHUNK, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || (uint64_t)off + (uint64_t)n > max ||
                !EVP_DigestUpdate(ctx, buf, (size_t)n))
                break;
            off += n;
        }
        err = errno;
        if (n < 0)
            rc = TENON_EIO;
        else if (n > 0 && (uint64_t)off + (uint64_t)n > max)
            rc = TENON_ERANGE; /* it grew past the limit while read */
        else if (n == 0 && EVP_DigestFinal_ex(ctx, out, NULL))
            rc = 0;
    }
    free(buf);
    EVP_MD_CTX_free(ctx);
    if (rc == TENON_EIO)
        errno = err; /* the caller names the read error by errno */
    return rc;
}

void tenon__hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tenon__hex_decode(const char *hex, size_t len, unsigned char *out, size_t n)
{
    if (len != 2 * n)
        return TENON_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TENON_EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* ---- keys and statements ------------------------------------------------- */

int tenon__key_id(const unsigned char pk[32], char id[TENON__KEY_ID_LEN + 1])
{
    const EVP_MD *md = sha256();
    unsigned char h[32];
    if (!md || !EVP_Digest(pk, 32, h, NULL, md, NULL))
        return TENON_ENOMEM;
    tenon__hex_encode(h, TENON__KEY_ID_LEN / 2, id);
    return 0;
}

/* The public key of the Ed25519 secret key whose seed is `seed`. */
static int public_of(const unsigned char seed[32], unsigned char pk[32])
{
    EVP_PKEY *key =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t len = 32;
    int ok = key && EVP_PKEY_get_raw_public_key(key, pk, &len) == 1;
    EVP_PKEY_free(key); /* wipes its copy of the seed */
    return ok && len == 32 ? 0 : TENON_ENOMEM;
}

/* A file name or plugin name is one line of a statement: refused if it
 * could pass for more. */
static int one_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

char *tenon__statement(const struct tenon__meta *m, const char *name,
                       const char *version, size_t *len)
{
    char hex[65], *s = NULL, *more;
    tenon__hex_encode(m->digest, 32, hex);
    if (strcmp(m->statement, TENON__STMT_LIBRARY_V1) == 0) {
        if (!m->soname || !one_line(m->soname))
            return NULL;
        s = tenon__asprintf(TENON__STMT_LIBRARY_V1 "\n%s\n%s\n%s\n", m->soname,
                            hex, m->created_at);
    } else if (strcmp(m->statement, TENON__STMT_PLUGIN_V2) == 0) {
        s = tenon__asprintf(TENON__STMT_PLUGIN_V2 "\n%s\n%s\n%s\n%s\n", name,
                            version, hex, m->created_at);
        /* Each bundled library on a line of its own, in name order. */
        for (size_t i = 0; s && i < m->ndeps; i++) {
            if (!one_line(m->deps[i].name)) {
                free(s);
                return NULL;
            }
            tenon__hex_encode(m->deps[i].digest, 32, hex);
            more = tenon__asprintf("%sdep %s %s\n", s, m->deps[i].name, hex);
            free(s);
            s = more;
        }
    } else {
        s = tenon__asprintf(STATEMENT_V1 "%s\n%s\n%s\n", name, version, hex);
    }
    if (s)
        *len = strlen(s);
    return s;
}

/* Ed25519 signs and verifies through EVP_DigestSign/EVP_DigestVerify with
 * no digest: RFC 8032's pure Ed25519 hashes the message itself, with
 * SHA-512, as part of the scheme. */

int tenon__sign(const unsigned char seed[32], const void *msg, size_t len,
                unsigned char sig[64])
{
    EVP_PKEY *key =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *ctx = key ? EVP_MD_CTX_new() : NULL;
    size_t room = 64; /* in sig: OpenSSL refuses to write more */
    int rc = TENON_ENOMEM;

    if (ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, &room, msg, len) == 1)
        rc = 0;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key); /* wipes its copy of the seed */
    return rc;
}

int tenon__meta_sign(struct tenon__meta *m, const unsigned char seed[32],
                     const char *key_id, const char *name, const char *version)
{
    size_t len;
    char *msg;
    int rc;
    snprintf(m->statement, sizeof m->statement, "%s",
             m->soname ? TENON__STMT_LIBRARY_V1 : TENON__STMT_PLUGIN_V2);
    if (!(msg = tenon__statement(m, name, version, &len)))
        return TENON_EINVAL;
    rc = tenon__sign(seed, msg, len, m->signature);
    free(msg);
    if (rc == 0) {
        m->is_signed = 1;
        snprintf(m->key_id, sizeof m->key_id, "%s", key_id);
    }
    return rc;
}

int tenon__ed25519_verify(const unsigned char pk[32], const void *msg,
                          size_t len, const unsigned char sig[64])
{
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    EVP_MD_CTX *ctx = key ? EVP_MD_CTX_new() : NULL;
    int rc = TENON_ENOMEM;
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
        rc = EVP_DigestVerify(ctx, sig, 64, msg, len) == 1 ? 0 : TENON_EPERM;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

int tenon__trust_verify(const struct tenon__keyring *kr, const void *msg,
                        size_t len, const unsigned char sig[64],
                        const char *key_id, char *reason, size_t rlen)
{
    size_t tried = 0;
    int rc = TENON_EPERM;

    /* The id only picks the key; any trusted key with that id may verify. */
    for (size_t i = 0; i < kr->n && rc == TENON_EPERM; i++) {
        if (strcmp(kr->keys[i].id, key_id) != 0)
            continue;
        tried++;
        rc = tenon__ed25519_verify(kr->keys[i].pk, msg, len, sig);
    }
    if (rc == 0)
        return 0;
    if (rc == TENON_ENOMEM)
        return tenon__reason(reason, rlen, rc, "out of memory");
    if (!tried)
        return tenon__reason(reason, rlen, TENON_ENOENT,
                             "signed by key %s which is not trusted", key_id);
    return tenon__reason(reason, rlen, TENON_EPERM,
                         "signature does not verify with trusted key %s",
                         key_id);
}

int tenon__meta_verify(const struct tenon__keyring *kr,
                       const struct tenon__meta *m, const char *name,
                       const char *version, char *reason, size_t rlen)
{
    char hex[65];
    size_t len;
    char *msg = tenon__statement(m, name, version, &len);
    int rc;
    if (!msg)
        return tenon__reason(reason, rlen, TENON_EPERM,
                             "the .meta names a library with a space or a "
                             "control character, which no signature covers");
    rc = tenon__trust_verify(kr, msg, len, m->signature, m->key_id, reason,
                             rlen);
    free(msg);
    if (rc != TENON_EPERM)
        return rc;
    tenon__hex_encode(m->digest, 32, hex);
    return tenon__reason(
        reason, rlen, TENON_EPERM,
        "signature does not verify for %s %s (digest %s%s) "
        "with trusted key %s",
        m->soname ? "library" : name, m->soname ? m->soname : version, hex,
        m->ndeps ? " and its bundled libraries" : "", m->key_id);
}

/* ---- key files ----------------------------------------------------------- */

/* The contents of the small text file open as `fd` (found at `path`),
 * NUL-terminated, into buf. */
static int read_fd(int fd, const char *path, char *buf, size_t cap,
                   char *reason, size_t rlen)
{
    struct stat st;
    size_t got = 0;
    ssize_t n;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: not a regular file", path);
    while (got < cap && (n = read(fd, buf + got, cap - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tenon__reason(reason, rlen, TENON_EIO, "%s: cannot read: %s",
                                 path, strerror(errno));
        got += (size_t)n;
    }
    if (got == cap)
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: larger than %zu bytes; expected one line",
                             path, cap - 1);
    buf[got] = '\0';
    return 0;
}

static int read_small(const char *path, char *buf, size_t cap, char *reason,
                      size_t rlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), rc;

    if (fd < 0)
        return tenon__reason(reason, rlen,
                             errno == ENOENT ? TENON_ENOENT : TENON_EIO,
                             "%s: cannot open: %s", path, strerror(errno));
    rc = read_fd(fd, path, buf, cap, reason, rlen);
    close(fd);
    return rc;
}

/* The 32 bytes whose standard base64 is `b64`, spelt exactly as libsodium
 * wrote and read it: 43 characters of the standard alphabet, the last one's
 * two bits past the 32nd byte zero, then one '='. EVP_DecodeBlock alone
 * would take more (whitespace around the text, '=' inside as zero bits,
 * anything after the padding, 33 bytes and more), and a key has one
 * spelling. */
static int b64_decode32(const char *b64, unsigned char out[32])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char buf[33]; /* EVP_DecodeBlock counts the padding as a byte */
    const char *last;

    if (strlen(b64) != B64_LEN || strspn(b64, alphabet) != B64_LEN - 1 ||
        b64[B64_LEN - 1] != '=')
        return TENON_EINVAL;
    last = strchr(alphabet, b64[B64_LEN - 2]);
    if ((last - alphabet) & 3)
        return TENON_EINVAL;
    if (EVP_DecodeBlock(buf, (const unsigned char *)b64, B64_LEN) !=
        (int)sizeof buf)
        return TENON_EINVAL;
    memcpy(out, buf, 32);
    OPENSSL_cleanse(buf, sizeof buf); /* it may be a secret seed */
    return 0;
}

/* Split "TAG BASE64 ID\n" and decode the 32 bytes of BASE64. */
static int parse_key_line(const char *path, char *line, const char *tag,
                          unsigned char key[32], char id[17], char *reason,
                          size_t rlen)
{
    char *f[3], *save = NULL, *nl = strchr(line, '\n');
    size_t n = 0;

    if (nl && nl[1] != '\0')
        goto bad_line;
    if (nl)
        *nl = '\0';
    for (char *tok = strtok_r(line, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save))
        if (n < 3)
            f[n++] = tok;
        else
            goto bad_line;
    if (n != 3 || strcmp(f[0], tag) != 0)
        goto bad_line;
    if (b64_decode32(f[1], key))
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: the key is not 32 bytes in base64", path);
    if (strlen(f[2]) != TENON__KEY_ID_LEN)
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: key id '%.32s' is not 16 hex digits", path,
                             f[2]);
    memcpy(id, f[2], TENON__KEY_ID_LEN + 1);
    return 0;
bad_line:
    return tenon__reason(reason, rlen, TENON_EINVAL,
                         "%s: expected one line '%s <base64 key> <key id>'",
                         path, tag);
}

/* The public key in `buf`, the contents of `path`. */
static int pubkey_parse(const char *path, char *buf, struct tenon__key *out,
                        char *reason, size_t rlen)
{
    char id[17];
    int rc = parse_key_line(path, buf, PUB_TAG, out->pk, id, reason, rlen);

    if (rc)
        return rc;
    if (tenon__key_id(out->pk, out->id))
        return tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    if (strcmp(id, out->id) != 0)
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: key id %s does not match the key, whose id "
                             "is %s",
                             path, id, out->id);
    return 0;
}

int tenon__pubkey_read(const char *path, struct tenon__key *out, char *reason,
                       size_t rlen)
{
    char buf[KEYFILE_MAX];
    int rc = read_small(path, buf, sizeof buf, reason, rlen);

    return rc ? rc : pubkey_parse(path, buf, out, reason, rlen);
}

int tenon__seckey_read(const char *path, unsigned char seed[32],
                       char id[TENON__KEY_ID_LEN + 1], char *reason,
                       size_t rlen)
{
    char buf[KEYFILE_MAX], given[17];
    unsigned char pk[32];
    int rc = read_small(path, buf, sizeof buf, reason, rlen);

    if (rc == 0)
        rc = parse_key_line(path, buf, SECRET_TAG, seed, given, reason, rlen);
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc == 0 && (public_of(seed, pk) || tenon__key_id(pk, id)))
        rc = tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    else if (rc == 0 && strcmp(given, id) != 0)
        rc = tenon__reason(reason, rlen, TENON_EINVAL,
                           "%s: key id %s does not match the key, whose id "
                           "is %s",
                           path, given, id);
    if (rc)
        OPENSSL_cleanse(seed, 32);
    return rc;
}

/* "TAG BASE64 ID\n" for a 32-byte key. */
static void key_line(char *out, size_t len, const char *tag,
                     const unsigned char key[32], const char *id)
{
    unsigned char b64[B64_LEN + 1];
    EVP_EncodeBlock(b64, key, 32); /* standard alphabet, '=' padding, NUL */
    snprintf(out, len, "%s %s %s\n", tag, (const char *)b64, id);
    OPENSSL_cleanse(b64, sizeof b64);
}

/* Write `text` to a new file (never an existing one) with `mode`. */
static int write_new(const char *path, const char *text, mode_t mode,
                     char *reason, size_t rlen)
{
    size_t len = strlen(text), done = 0;
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return tenon__reason(reason, rlen,
                             errno == EEXIST ? TENON_EEXIST : TENON_EIO,
                             "%s: %s", path,
                             errno == EEXIST ? "already exists; not overwriting"
                                             : strerror(errno));
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (done < len || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return tenon__reason(reason, rlen, TENON_EIO, "%s: cannot write: %s",
                             path, strerror(e));
    }
    close(fd);
    return 0;
}

int tenon__key_generate(const char *secret_path, const char *public_path,
                        char id[TENON__KEY_ID_LEN + 1], char *reason,
                        size_t rlen)
{
    unsigned char seed[32], pk[32];
    char line[256];
    struct stat st;
    int rc;

    /* Refuse before writing anything when either file exists. */
    if (lstat(secret_path, &st) == 0 || lstat(public_path, &st) == 0)
        return tenon__reason(
            reason, rlen, TENON_EEXIST, "%s: already exists; not overwriting",
            lstat(secret_path, &st) == 0 ? secret_path : public_path);
    if (RAND_bytes(seed, sizeof seed) != 1)
        return tenon__reason(reason, rlen, TENON_EIO,
                             "no random bytes for a new key: OpenSSL's "
                             "RAND_bytes failed (no entropy source?)");
    if (public_of(seed, pk) || tenon__key_id(pk, id)) {
        OPENSSL_cleanse(seed, sizeof seed);
        return tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    }
    key_line(line, sizeof line, SECRET_TAG, seed, id);
    OPENSSL_cleanse(seed, sizeof seed);
    rc = write_new(secret_path, line, 0600, reason, rlen);
    OPENSSL_cleanse(line, sizeof line);
    if (rc)
        return rc;
    key_line(line, sizeof line, PUB_TAG, pk, id);
    if ((rc = write_new(public_path, line, 0644, reason, rlen)))
        unlink(secret_path);
    return rc;
}

int tenon__pubkey_install(const char *src, const char *dir,
                          struct tenon__key *out, char **dest, char *reason,
                          size_t rlen)
{
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    char line[256];
    char *path;
    int rc;

    *dest = NULL;
    if ((rc = tenon__pubkey_read(src, out, reason, rlen)))
        return rc;
    if (strlen(base) <= 4 || strcmp(base + strlen(base) - 4, ".pub") != 0 ||
        base[0] == '.')
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: expected a file name ending in .pub", src);
    if ((rc = tenon__mkdirs(dir, 0700, reason, rlen)))
        return rc;
    if (!(path = tenon__asprintf("%s/%s", dir, base)))
        return tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    /* Rewritten rather than copied: what lands in the store is one canonical
     * line, whatever else the source had. */
    key_line(line, sizeof line, PUB_TAG, out->pk, out->id);
    if ((rc = write_new(path, line, 0644, reason, rlen))) {
        free(path);
        return rc;
    }
    *dest = path;
    return 0;
}

int tenon__mkdirs(const char *dir, mode_t mode, char *reason, size_t rlen)
{
    char *copy = tenon__strdup(dir);
    int rc = 0;
    if (!copy)
        return tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    for (char *p = copy + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST) {
            rc = tenon__reason(reason, rlen, TENON_EIO,
                               "cannot create directory %s: %s", copy,
                               strerror(errno));
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(copy);
    return rc;
}

/* ---- the keyring --------------------------------------------------------- */

/* A problem's reason names a path, which may be as long as PATH_MAX. */
#define PROBLEM_MAX (PATH_MAX + 256)

static int is_pub_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".pub") == 0;
}

static int add_key(struct tenon__keyring *kr, const struct tenon__key *k,
                   const char *path, size_t dir_index)
{
    struct tenon__key *slot;
    if (tenon__grow(&kr->keys, &kr->cap, kr->n + 1, sizeof *kr->keys))
        return TENON_ENOMEM;
    slot = &kr->keys[kr->n];
    *slot = *k;
    slot->dir_index = dir_index;
    if (!(slot->path = tenon__strdup(path)))
        return TENON_ENOMEM;
    kr->n++;
    return 0;
}

static int add_problem(struct tenon__keyring *kr, const char *path,
                       const char *fmt, ...) TENON_PRINTF(3, 4);

/* Record that `path` is not used, and why; 0 or TENON_ENOMEM. */
static int add_problem(struct tenon__keyring *kr, const char *path,
                       const char *fmt, ...)
{
    struct tenon__trust_problem *slot;
    char reason[PROBLEM_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (tenon__grow(&kr->problems, &kr->cap_problems, kr->nproblems + 1,
                    sizeof *kr->problems))
        return TENON_ENOMEM;
    slot = &kr->problems[kr->nproblems];
    slot->path = tenon__strdup(path);
    slot->reason = tenon__strdup(reason);
    if (!slot->path || !slot->reason) {
        free(slot->path);
        free(slot->reason);
        return TENON_ENOMEM;
    }
    kr->nproblems++;
    return 0;
}

/* The rule ssh applies to authorized_keys (StrictModes): whoever can write
 * a trust directory or key file can make their own key trusted, so each
 * must be owned by the caller or root and writable by no one else. 0 when
 * `st` passes; else TENON_EPERM with "<what> <path> is ...; expected a
 * <kind> ..." in `reason`. */
static int check_owner(const struct stat *st, const char *what,
                       const char *path, const char *kind, char *reason,
                       size_t rlen)
{
    mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
    uid_t me = geteuid();

    if (st->st_uid != me && st->st_uid != 0)
        return tenon__reason(reason, rlen, TENON_EPERM,
                             "%s %s is owned by uid %ld; expected a %s "
                             "owned by you (uid %ld) or root, writable only "
                             "by its owner",
                             what, path, (long)st->st_uid, kind, (long)me);
    if (w)
        return tenon__reason(reason, rlen, TENON_EPERM,
                             "%s %s is writable by %s; expected a %s "
                             "writable only by its owner, owned by you or "
                             "root",
                             what, path,
                             w == (S_IWGRP | S_IWOTH) ? "group and others"
                             : w == S_IWGRP           ? "group"
                                                      : "others",
                             kind);
    return 0;
}

/* Open key file `name` of the trust directory open as `dirfd` (`path` for
 * messages) and check the descriptor with check_owner(). The name is
 * opened without following a symbolic link; a link is then followed, and
 * the target that was opened is what is checked. Returns the descriptor,
 * or a negative code with the reason: TENON_ENOENT when the file is gone
 * (removed since the listing). */
static int open_key(int dirfd, const char *name, const char *path,
                    struct tenon__key *k, char *reason, size_t rlen)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = openat(dirfd, name, flags | O_NOFOLLOW), link = 0, rc;
    struct stat st;

    if (fd < 0 && errno == ELOOP) {
        link = 1; /* followed to a regular file only */
        fd = tenon__open_regular(dirfd, name, &st);
    }
    if (fd < 0)
        return tenon__reason(
            reason, rlen, errno == ENOENT && !link ? TENON_ENOENT : TENON_EIO,
            "key file %s%s cannot be opened: %s", path,
            link ? ", a symbolic link," : "", strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = tenon__reason(reason, rlen, TENON_EIO,
                           "key file %s cannot be examined (fstat): %s", path,
                           strerror(errno));
    else
        rc = check_owner(&st, link ? "the target of symbolic link" : "key file",
                         path, "file", reason, rlen);
    if (rc) {
        close(fd);
        return rc;
    }
    k->link = link;
    k->target_dev = st.st_dev;
    k->target_ino = st.st_ino;
    k->target_ctime_ns = tenon__ctime_ns(&st);
    return fd;
}

/* Read key file `name` (see open_key) into k: 0, TENON_ENOENT when it is
 * gone, or another negative code with the reason. */
static int read_key(int dirfd, const char *name, const char *path,
                    struct tenon__key *k, char *reason, size_t rlen)
{
    char buf[KEYFILE_MAX], why[PROBLEM_MAX];
    int fd = open_key(dirfd, name, path, k, reason, rlen), rc;

    if (fd < 0)
        return fd;
    rc = read_fd(fd, path, buf, sizeof buf, why, sizeof why);
    close(fd);
    if (rc == 0)
        rc = pubkey_parse(path, buf, k, why, sizeof why);
    return rc ? tenon__reason(reason, rlen, rc, "key file %s", why) : 0;
}

struct pub_names {
    char **v;
    size_t n, cap;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.pub names of `d`, sorted: 0, TENON_ENOMEM, or TENON_EIO with errno
 * set when readdir failed part way. */
static int list_pub(DIR *d, struct pub_names *nm)
{
    struct dirent *e;
    for (errno = 0; (e = readdir(d)); errno = 0) {
        if (!is_pub_name(e->d_name))
            continue;
        if (tenon__grow(&nm->v, &nm->cap, nm->n + 1, sizeof *nm->v) ||
            !(nm->v[nm->n] = tenon__strdup(e->d_name)))
            return TENON_ENOMEM;
        nm->n++;
    }
    if (errno)
        return TENON_EIO;
    if (nm->n) /* nm->v is NULL without names */
        qsort(nm->v, nm->n, sizeof *nm->v, cmp_name);
    return 0;
}

/* The keys of the directory listed as `d`, each read through it. */
static int load_keys(struct tenon__keyring *kr, DIR *d, const char *dir,
                     size_t di)
{
    char reason[PROBLEM_MAX];
    struct pub_names nm = {0};
    int rc = list_pub(d, &nm);

    if (rc == TENON_EIO)
        rc = add_problem(kr, dir, "trust directory %s cannot be read whole: %s",
                         dir, strerror(errno));
    else
        for (size_t i = 0; rc == 0 && i < nm.n; i++) {
            char *path = tenon__asprintf("%s/%s", dir, nm.v[i]);
            struct tenon__key k;
            int krc;
            if (!path) {
                rc = TENON_ENOMEM;
                break;
            }
            krc = read_key(dirfd(d), nm.v[i], path, &k, reason, sizeof reason);
            if (krc == 0)
                rc = add_key(kr, &k, path, di);
            else if (krc != TENON_ENOENT)
                rc = add_problem(kr, path, "%s", reason);
            free(path);
        }
    for (size_t i = 0; i < nm.n; i++)
        free(nm.v[i]);
    free(nm.v);
    return rc;
}

/* Add the keys of trust directory `dir` (number di) to kr, or the problem
 * that keeps it or one of its files from being used. Only TENON_ENOMEM
 * stops the load. */
static int load_dir(struct tenon__keyring *kr, const char *dir, size_t di)
{
    char reason[PROBLEM_MAX];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK), rc;
    struct stat st;
    DIR *d;

    if (fd < 0 && errno == ENOENT)
        return 0; /* no such directory: nothing trusted there */
    kr->ndirs++;
    if (fd < 0)
        return add_problem(kr, dir, "trust directory %s cannot be read: %s",
                           dir, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = tenon__reason(reason, sizeof reason, TENON_EIO,
                           "trust directory %s cannot be examined (fstat): %s",
                           dir, strerror(errno));
    else
        rc = check_owner(&st, "trust directory", dir, "directory", reason,
                         sizeof reason);
    if (rc == 0 && !(d = fdopendir(fd)))
        rc = tenon__reason(reason, sizeof reason, TENON_EIO,
                           "trust directory %s cannot be read: %s", dir,
                           strerror(errno));
    if (rc) {
        close(fd);
        return add_problem(kr, dir, "%s", reason);
    }
    rc = load_keys(kr, d, dir, di);
    closedir(d);
    return rc;
}

int tenon__keyring_load_dirs(char *const *dirs, size_t ndirs,
                             struct tenon__keyring *kr)
{
    int rc = 0;

    memset(kr, 0, sizeof *kr);
    for (size_t d = 0; d < ndirs && rc == 0; d++)
        rc = load_dir(kr, dirs[d], d);
    if (rc == 0 && kr->nproblems == 1)
        rc = (kr->error = tenon__asprintf("; trust store problem: %s",
                                          kr->problems[0].reason))
                 ? 0
                 : TENON_ENOMEM;
    else if (rc == 0 && kr->nproblems > 1)
        rc =
            (kr->error = tenon__asprintf("; %zu trust store problems, the "
                                         "first: %s",
                                         kr->nproblems, kr->problems[0].reason))
                ? 0
                : TENON_ENOMEM;
    if (rc) {
        tenon__keyring_free(kr);
        return tenon__fail(rc, "out of memory");
    }
    kr->fingerprint = (uint64_t)kr->n + 1;
    for (size_t i = 0; i < kr->n; i++)
        kr->fingerprint = tenon__hash64(kr->keys[i].pk, sizeof kr->keys[i].pk,
                                        kr->fingerprint);
    kr->fingerprint += kr->fingerprint == 0;
    return 0;
}

int tenon__keyring_load(const tenon_t *t, struct tenon__keyring *kr)
{
    return tenon__keyring_load_dirs(t->trust_dirs, t->ntrust_dirs, kr);
}

void tenon__keyring_free(struct tenon__keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++)
        free(kr->keys[i].path);
    for (size_t i = 0; i < kr->nproblems; i++) {
        free(kr->problems[i].path);
        free(kr->problems[i].reason);
    }
    free(kr->keys);
    free(kr->problems);
    free(kr->error);
    memset(kr, 0, sizeof *kr);
}

void tenon__keyring_warn(const tenon_t *t, const struct tenon__keyring *kr)
{
    for (size_t i = 0; i < kr->nproblems; i++)
        tenon__log(t, TENON_LOG_WARN, "tenon",
                   "%s; ignoring it (the trust store fails closed)",
                   kr->problems[i].reason);
}

int tenon__keyring_same(const struct tenon__keyring *a,
                        const struct tenon__keyring *b)
{
    if (a->n != b->n || a->nproblems != b->nproblems || a->ndirs != b->ndirs)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(a->keys[i].pk, b->keys[i].pk, sizeof a->keys[i].pk) != 0 ||
            a->keys[i].dir_index != b->keys[i].dir_index ||
            strcmp(a->keys[i].path, b->keys[i].path) != 0 ||
            a->keys[i].link != b->keys[i].link ||
            a->keys[i].target_dev != b->keys[i].target_dev ||
            a->keys[i].target_ino != b->keys[i].target_ino ||
            a->keys[i].target_ctime_ns != b->keys[i].target_ctime_ns)
            return 0;
    for (size_t i = 0; i < a->nproblems; i++)
        if (strcmp(a->problems[i].path, b->problems[i].path) != 0 ||
            strcmp(a->problems[i].reason, b->problems[i].reason) != 0)
            return 0;
    return 1;
}

const char *tenon__keyring_error(const struct tenon__keyring *kr)
{
    return kr->error ? kr->error : "";
}

/* ---- checking a plugin file ---------------------------------------------- */

static int verdict(struct tenon__trust_result *res, int v, int code,
                   const char *fmt, ...) TENON_PRINTF(4, 5);

static int verdict(struct tenon__trust_result *res, int v, int code,
                   const char *fmt, ...)
{
    va_list ap;
    res->verdict = v;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    return code;
}

/* The .meta beside `path` against the file open as `fd` (or its known
 * digest): of a plugin `name` `version`, or with version NULL of a library
 * whose DT_SONAME is `name`. */
static int check_meta(const struct tenon__keyring *kr, const char *path,
                      const char *name, const char *version, int fd,
                      uint64_t max, const unsigned char *known_digest,
                      struct tenon__trust_result *res)
{
    struct tenon__meta m;
    char why[TENON__REASON_MAX], *meta_path;
    char fhex[65], mhex[65];
    int rc;

    memset(res, 0, sizeof *res);
    if (!(meta_path = tenon__asprintf("%s.meta", path)))
        return verdict(res, TENON__TRUST_ERROR, TENON_ENOMEM, "out of memory");
    rc = tenon__meta_read(meta_path, &m, why, sizeof why);
    free(meta_path);
    if (rc == TENON_ENOENT)
        return verdict(res, TENON__TRUST_UNSIGNED, TENON_ENOENT,
                       "unsigned: no %s.meta", path);
    if (rc == TENON_ENOMEM || rc == TENON_EIO)
        return verdict(res, TENON__TRUST_ERROR, rc, "%s", why);
    if (rc == 0 && !version == !m.soname)
        rc = tenon__reason(why, sizeof why, TENON_EINVAL,
                           "it describes %s %s, and %s is %s",
                           m.soname ? "the library" : "a plugin",
                           m.soname ? m.soname : "(\"info\")", path,
                           version ? "a plugin" : "a library");
    if (rc) {
        tenon__meta_free(&m);
        return verdict(res, TENON__TRUST_MALFORMED, TENON_EINVAL,
                       "malformed .meta: %s", why);
    }
    if (known_digest)
        memcpy(res->digest, known_digest, 32);
    else if ((rc = tenon__digest_fd(fd, max, res->digest))) {
        tenon__meta_free(&m);
        if (rc == TENON_ERANGE)
            return verdict(res, TENON__TRUST_ERROR, TENON_EPERM,
                           "%s: more than the %llu bytes the host hashes "
                           "(max_file_size)",
                           path, (unsigned long long)max);
        return verdict(res, TENON__TRUST_ERROR, rc, "cannot read %s: %s", path,
                       rc == TENON_EIO ? strerror(errno) : "out of memory");
    }
    res->have_digest = 1;
    memcpy(res->key_id, m.key_id, sizeof res->key_id);
    if (CRYPTO_memcmp(res->digest, m.digest, 32) != 0) {
        tenon__hex_encode(res->digest, 32, fhex);
        tenon__hex_encode(m.digest, 32, mhex);
        tenon__meta_free(&m);
        return verdict(res, TENON__TRUST_MISMATCH, TENON_EPERM,
                       "digest mismatch (file %.16s..., .meta %.16s...)", fhex,
                       mhex);
    }
    if (!version && strcmp(m.soname, name) != 0) {
        rc = verdict(res, TENON__TRUST_MISMATCH, TENON_EPERM,
                     "its .meta describes the library %.64s; its DT_SONAME is "
                     "%.64s",
                     m.soname, name);
        tenon__meta_free(&m);
        return rc;
    }
    if (!m.is_signed) {
        tenon__meta_free(&m);
        return verdict(res, TENON__TRUST_UNSIGNED, TENON_ENOENT,
                       "unsigned: %s.meta has no signature", path);
    }
    rc = tenon__meta_verify(kr, &m, name, version, why, sizeof why);
    if (rc == 0 && strcmp(m.statement, TENON__STMT_PLUGIN_V1) != 0) {
        /* What the statement covers besides the bytes counts too. */
        memcpy(res->signed_at, m.created_at, sizeof res->signed_at);
        res->deps = m.deps;
        res->ndeps = m.ndeps;
        m.deps = NULL;
    }
    tenon__meta_free(&m);
    if (rc == TENON_ENOENT)
        return verdict(res, TENON__TRUST_UNTRUSTED, TENON_EPERM,
                       "signed by untrusted key %s", res->key_id);
    if (rc)
        return verdict(res, TENON__TRUST_BADSIG, rc, "%s", why);
    return verdict(res, TENON__TRUST_OK, 0, "signed by %s", res->key_id);
}

int tenon__trust_check_file(const struct tenon__keyring *kr, const char *path,
                            const char *name, const char *version, int fd,
                            uint64_t max, const unsigned char *known_digest,
                            struct tenon__trust_result *res)
{
    return check_meta(kr, path, name, version, fd, max, known_digest, res);
}

int tenon__trust_check_library(const struct tenon__keyring *kr,
                               const char *path, const char *soname, int fd,
                               uint64_t max, const unsigned char *known_digest,
                               struct tenon__trust_result *res)
{
    return check_meta(kr, path, soname, NULL, fd, max, known_digest, res);
}

void tenon__trust_result_free(struct tenon__trust_result *res)
{
    free(res->deps);
    res->deps = NULL;
    res->ndeps = 0;
}

int tenon__trust_check_dep(const struct tenon__keyring *kr,
                           const struct tenon__trust_result *plugin,
                           const struct tenon__dep *dep, char *reason,
                           size_t len)
{
    struct tenon__trust_result own;
    char fhex[65], mhex[65];
    int rc;

    if (dep->kind == TENON__DEP_PATH)
        return tenon__reason(reason, len, TENON_EPERM,
                             "DT_NEEDED '%s' is a path or has a dynamic "
                             "string token ($LIB, $PLATFORM, $ORIGIN), which "
                             "the dynamic loader expands and opens itself, "
                             "unchecked",
                             dep->name);
    for (size_t i = 0; i < plugin->ndeps; i++) {
        if (strcmp(plugin->deps[i].name, dep->name) != 0)
            continue;
        if (dep->have_digest &&
            CRYPTO_memcmp(plugin->deps[i].digest, dep->digest, 32) == 0)
            return 0;
        /* Pinned, but the process has that name loaded already, and the
         * loader would hand the plugin that: not proven the same bytes. */
        if (dep->kind == TENON__DEP_LOADED && !dep->have_digest)
            return tenon__reason(reason, len, TENON_EPERM,
                                 "dependency %s is already loaded in this "
                                 "process (not by this context as a verified "
                                 "library), and the plugin's signed .meta "
                                 "pins other bytes",
                                 dep->name);
        if (dep->kind != TENON__DEP_BUNDLED && dep->kind != TENON__DEP_LOADED)
            return 0; /* the system's: not what a trust policy covers */
        /* Pinned to other bytes: its own signature does not overrule the
         * plugin's. */
        tenon__hex_encode(dep->digest, 32, fhex);
        tenon__hex_encode(plugin->deps[i].digest, 32, mhex);
        return tenon__reason(
            reason, len, TENON_EPERM,
            "dependency %s (%s, through %s): digest "
            "mismatch with the plugin's signed .meta (file "
            "%.16s..., .meta %.16s...)",
            dep->name, dep->path ? dep->path : "already loaded",
            dep->via ? dep->via : "another plugin", fhex, mhex);
    }
    if (dep->kind != TENON__DEP_BUNDLED)
        return 0; /* the system's, or loaded already: not pinned here */
    rc = check_meta(kr, dep->path, dep->name, NULL, -1, 0, dep->digest, &own);
    tenon__trust_result_free(&own);
    if (rc == 0)
        return 0;
    return tenon__reason(reason, len, TENON_EPERM,
                         "dependency %s (%s, through %s) is not verified: the "
                         "plugin's signed .meta does not name it, and %s",
                         dep->name, dep->path, dep->via, own.reason);
}

int tenon__trust_deps(const struct tenon__keyring *kr,
                      const struct tenon__trust_result *plugin,
                      const struct tenon__deps *d, char *reason, size_t len)
{
    int rc = 0;
    for (size_t i = 0; i < d->n && rc == 0; i++)
        rc = tenon__trust_check_dep(kr, plugin, &d->v[i], reason, len);
    return rc;
}

/* ---- public accessors ---------------------------------------------------- */

size_t tenon_trust_dir_count(const tenon_t *t) { return t->ntrust_dirs; }

const char *tenon_trust_dir(const tenon_t *t, size_t i)
{
    return i < t->ntrust_dirs ? t->trust_dirs[i] : NULL;
}
