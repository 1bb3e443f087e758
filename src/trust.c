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

int tenon__digest_fd(int fd, unsigned char out[32])
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
            if (n <= 0 || !EVP_DigestUpdate(ctx, buf, (size_t)n))
                break;
            off += n;
        }
        err = errno;
        if (n < 0)
            rc = TENON_EIO;
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

char *tenon__statement(const char *name, const char *version,
                       const unsigned char digest[32], size_t *len)
{
    char hex[65];
    char *s;
    tenon__hex_encode(digest, 32, hex);
    s = tenon__asprintf(STATEMENT_V1 "%s\n%s\n%s\n", name, version, hex);
    if (s)
        *len = strlen(s);
    return s;
}

/* Ed25519 signs and verifies through EVP_DigestSign/EVP_DigestVerify with
 * no digest: RFC 8032's pure Ed25519 hashes the message itself, with
 * SHA-512, as part of the scheme. */

int tenon__sign(const unsigned char seed[32], const char *name,
                const char *version, const unsigned char digest[32],
                unsigned char sig[64])
{
    EVP_PKEY *key =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *ctx = key ? EVP_MD_CTX_new() : NULL;
    size_t len, room = 64; /* in sig: OpenSSL refuses to write more */
    char *msg = ctx ? tenon__statement(name, version, digest, &len) : NULL;
    int rc = TENON_ENOMEM;

    if (msg && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, &room, (const unsigned char *)msg, len) == 1)
        rc = 0;
    free(msg);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key); /* wipes its copy of the seed */
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

int tenon__trust_verify(const struct tenon__keyring *kr, const char *name,
                        const char *version, const unsigned char digest[32],
                        const unsigned char sig[64], const char *key_id,
                        char *reason, size_t rlen)
{
    char hex[65];
    size_t len, tried = 0;
    char *msg;
    int rc = TENON_EPERM;

    if (!(msg = tenon__statement(name, version, digest, &len)))
        return tenon__reason(reason, rlen, TENON_ENOMEM, "out of memory");
    /* The id only picks the key; any trusted key with that id may verify. */
    for (size_t i = 0; i < kr->n && rc == TENON_EPERM; i++) {
        if (strcmp(kr->keys[i].id, key_id) != 0)
            continue;
        tried++;
        rc = tenon__ed25519_verify(kr->keys[i].pk, msg, len, sig);
    }
    free(msg);
    if (rc == 0)
        return 0;
    if (rc == TENON_ENOMEM)
        return tenon__reason(reason, rlen, rc, "out of memory");
    if (!tried)
        return tenon__reason(reason, rlen, TENON_ENOENT,
                             "signed by key %s which is not trusted", key_id);
    tenon__hex_encode(digest, 32, hex);
    return tenon__reason(reason, rlen, TENON_EPERM,
                         "signature does not verify for %s %s (digest %s) "
                         "with trusted key %s",
                         name, version, hex, key_id);
}

/* ---- key files ----------------------------------------------------------- */

/* The contents of a small text file, NUL-terminated, into buf. */
static int read_small(const char *path, char *buf, size_t cap, char *reason,
                      size_t rlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return tenon__reason(reason, rlen,
                             errno == ENOENT ? TENON_ENOENT : TENON_EIO,
                             "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: not a regular file", path);
    }
    while (got < cap && (n = read(fd, buf + got, cap - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return tenon__reason(reason, rlen, TENON_EIO, "%s: cannot read: %s",
                                 path, strerror(errno));
        }
        got += (size_t)n;
    }
    close(fd);
    if (got == cap)
        return tenon__reason(reason, rlen, TENON_EINVAL,
                             "%s: larger than %zu bytes; expected one line",
                             path, cap - 1);
    buf[got] = '\0';
    return 0;
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

int tenon__pubkey_read(const char *path, struct tenon__key *out, char *reason,
                       size_t rlen)
{
    char buf[KEYFILE_MAX], id[17];
    int rc = read_small(path, buf, sizeof buf, reason, rlen);

    if (rc ||
        (rc = parse_key_line(path, buf, PUB_TAG, out->pk, id, reason, rlen)))
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

int tenon__keyring_load_dirs(const tenon_t *t, char *const *dirs, size_t ndirs,
                             struct tenon__keyring *kr)
{
    memset(kr, 0, sizeof *kr);
    for (size_t d = 0; d < ndirs; d++) {
        struct dirent **names = NULL;
        int n = scandir(dirs[d], &names, NULL, alphasort), rc = 0;
        if (n < 0) {
            if (t && errno != ENOENT)
                tenon__log(t, TENON_LOG_WARN, "tenon",
                           "cannot read trust directory %s: %s", dirs[d],
                           strerror(errno));
            continue;
        }
        for (int i = 0; i < n; i++) {
            char reason[TENON__REASON_MAX];
            struct tenon__key k;
            char *path = NULL;
            if (rc == 0 && is_pub_name(names[i]->d_name)) {
                if (!(path =
                          tenon__asprintf("%s/%s", dirs[d], names[i]->d_name)))
                    rc = TENON_ENOMEM;
                else if (tenon__pubkey_read(path, &k, reason, sizeof reason)) {
                    if (t)
                        tenon__log(t, TENON_LOG_WARN, "tenon",
                                   "ignoring trusted key %s", reason);
                } else
                    rc = add_key(kr, &k, path, d);
            }
            free(path);
            free(names[i]);
        }
        free(names);
        if (rc) {
            tenon__keyring_free(kr);
            return tenon__fail(rc, "out of memory");
        }
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
    return tenon__keyring_load_dirs(t, t->trust_dirs, t->ntrust_dirs, kr);
}

void tenon__keyring_free(struct tenon__keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++)
        free(kr->keys[i].path);
    free(kr->keys);
    memset(kr, 0, sizeof *kr);
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

int tenon__trust_check_file(const struct tenon__keyring *kr, const char *path,
                            const char *name, const char *version, int fd,
                            const unsigned char *known_digest,
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
    if (rc)
        return verdict(res, TENON__TRUST_MALFORMED, TENON_EINVAL,
                       "malformed .meta: %s", why);
    if (known_digest)
        memcpy(res->digest, known_digest, 32);
    else if ((rc = tenon__digest_fd(fd, res->digest))) {
        tenon__meta_free(&m);
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
    if (!m.is_signed) {
        tenon__meta_free(&m);
        return verdict(res, TENON__TRUST_UNSIGNED, TENON_ENOENT,
                       "unsigned: %s.meta has no signature", path);
    }
    rc = tenon__trust_verify(kr, name, version, m.digest, m.signature, m.key_id,
                             why, sizeof why);
    tenon__meta_free(&m);
    if (rc == TENON_ENOENT)
        return verdict(res, TENON__TRUST_UNTRUSTED, TENON_EPERM,
                       "signed by untrusted key %s", res->key_id);
    if (rc)
        return verdict(res, TENON__TRUST_BADSIG, rc, "%s", why);
    return verdict(res, TENON__TRUST_OK, 0, "signed by %s", res->key_id);
}

/* The static info in `fd` must be the one `p` was made from: the signature
 * covers fd's bytes and p's name and version, and the host goes on to use
 * p's info. */
static int same_info(const struct tenon_plugin *p, int fd, char *reason,
                     size_t len)
{
    struct tenon__elf elf;
    struct stat st;
    char why[TENON__REASON_MAX];
    int rc;

    if (fstat(fd, &st) != 0)
        return tenon__reason(reason, len, TENON_EIO, "%s: cannot stat: %s",
                             p->path, strerror(errno));
    memset(&elf, 0, sizeof elf);
    rc = tenon__elf_read_fd(fd, (uint64_t)st.st_size, &elf, why, sizeof why);
    if (rc == 0 && (elf.info_size != p->info.size ||
                    memcmp(elf.info, p->info.raw, elf.info_size) != 0))
        rc = tenon__reason(why, sizeof why, TENON_EPERM,
                           "static info differs from the scanned file's");
    free(elf.info);
    if (rc)
        return tenon__reason(reason, len, rc == TENON_EPERM ? rc : TENON_EIO,
                             "%s changed since it was scanned: %s", p->path,
                             why);
    return 0;
}

int tenon__trust_check_with(const struct tenon__keyring *kr,
                            const struct tenon_plugin *p, int fd, char *reason,
                            size_t len, int *verdict_out)
{
    struct tenon__trust_result res;
    int rc;

    if (verdict_out)
        *verdict_out = TENON__TRUST_ERROR;
    if (!p->have_info || p->status != TENON_AVAILABLE || !p->info.name ||
        !p->info.version)
        return tenon__reason(reason, len, TENON_EINVAL,
                             "%s: no valid static info to check against",
                             p->path);
    if ((rc = same_info(p, fd, reason, len)))
        return rc;
    rc = tenon__trust_check_file(kr, p->path, p->info.name, p->info.version, fd,
                                 NULL, &res);
    if (verdict_out)
        *verdict_out = res.verdict;
    if (rc)
        return tenon__reason(reason, len, rc, "%s: %s", p->path, res.reason);
    snprintf(reason, len, "%s", res.reason);
    return 0;
}

int tenon__trust_check(tenon_t *t, const struct tenon_plugin *p, int fd,
                       char *reason, size_t len)
{
    struct tenon__keyring kr;
    int rc = tenon__keyring_load(t, &kr);
    if (rc)
        return tenon__reason(reason, len, rc, "out of memory");
    rc = tenon__trust_check_with(&kr, p, fd, reason, len, NULL);
    tenon__keyring_free(&kr);
    return rc;
}

/* ---- public accessors ---------------------------------------------------- */

size_t tenon_trust_dir_count(const tenon_t *t) { return t->ntrust_dirs; }

const char *tenon_trust_dir(const tenon_t *t, size_t i)
{
    return i < t->ntrust_dirs ? t->trust_dirs[i] : NULL;
}
