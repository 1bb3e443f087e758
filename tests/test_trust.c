/*
 * Digests, signatures, key files, the trust store and .meta files: through
 * the real CLI (keygen, sign, trust, verify) the way a user runs it, and
 * through the internal API the inventory will call (tenon__trust_check).
 *
 * Every test works in its own temporary directory, with XDG_CONFIG_HOME
 * pointing into it, so the trust directory is <tmp>/cfg/tenon/trusted (then
 * /etc/tenon/trusted, which fresh keys are never in).
 */
#include "testutil.h"

#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture and helpers ------------------------------------------------- */

struct fx {
    char *dir;     /* the temporary directory */
    char *cfg;     /* XDG_CONFIG_HOME */
    char *trusted; /* cfg/tenon/trusted */
    char *env_cfg; /* "XDG_CONFIG_HOME=..." */
    const char *env[3];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = make_tmpdir();
    f->cfg = path_join(f->dir, "cfg");
    f->trusted = path_join(f->cfg, "tenon/trusted");
    assert_int_equal(asprintf(&f->env_cfg, "XDG_CONFIG_HOME=%s", f->cfg) > 0,
                     1);
    f->env[0] = f->env_cfg;
    f->env[1] = "TENON_LOG";
    f->env[2] = NULL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    remove_tree(f->dir);
    free(f->cfg);
    free(f->trusted);
    free(f->env_cfg);
    free(f);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* Copy test plugin `name` (e.g. "basic_v1.so") into the fixture as `as`. */
static char *copy_plugin(const struct fx *f, const char *name, const char *as)
{
    char *src = path_join(TEST_PLUGIN_DIR, name), *dst = path_join(f->dir, as);
    size_t len;
    char *data = read_file(src, &len);
    write_file(dst, data, len);
    free(data);
    free(src);
    return dst;
}

/* tenon keygen --out DIR --name NAME; the key id into id. */
static void keygen(const struct fx *f, const char *name, char id[17])
{
    struct run r;
    const char *p;
    RUN_ENV(&r, f->env, "keygen", "--out", f->dir, "--name", name);
    assert_status(&r, 0);
    p = strstr(r.out, "key id ");
    assert_non_null(p);
    memcpy(id, p + 7, 16);
    id[16] = '\0';
    assert_int_equal(strspn(id, "0123456789abcdef"), 16);
    run_free(&r);
}

static void trust_add(const struct fx *f, const char *name)
{
    struct run r;
    char *pub, *file;
    assert_int_equal(asprintf(&file, "%s.pub", name) > 0, 1);
    pub = path_join(f->dir, file);
    RUN_ENV(&r, f->env, "trust", "add", pub);
    assert_status(&r, 0);
    assert_contains(r.out, "trusted key");
    run_free(&r);
    free(pub);
    free(file);
}

static void sign(const struct fx *f, const char *plugin, const char *key)
{
    struct run r;
    char *file, *keyfile;
    assert_int_equal(asprintf(&file, "%s.key", key) > 0, 1);
    keyfile = path_join(f->dir, file);
    RUN_ENV(&r, f->env, "sign", plugin, "--key", keyfile);
    assert_status(&r, 0);
    assert_contains(r.out, "signed ");
    run_free(&r);
    free(keyfile);
    free(file);
}

/* tenon verify FILE with the expected status and a line containing want. */
static void verify(const struct fx *f, const char *plugin, int status,
                   const char *want)
{
    struct run r;
    RUN_ENV(&r, f->env, "verify", plugin);
    assert_status(&r, status);
    assert_contains(r.out, plugin);
    assert_contains(r.out, want);
    run_free(&r);
}

static char *meta_of(const char *plugin)
{
    char *m;
    assert_int_equal(asprintf(&m, "%s.meta", plugin) > 0, 1);
    return m;
}

/* ---- digests, hex, timestamps -------------------------------------------- */

static void test_digest_and_hex(void **state)
{
    struct fx *f = *state;
    char *path = path_join(f->dir, "abc");
    unsigned char d[32], back[32];
    char hex[65];
    int fd;

    write_file(path, "abc", 3);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 2, SEEK_SET), 2); /* pread ignores the offset */
    assert_int_equal(tenon__digest_fd(fd, UINT64_MAX, d), 0);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 2);
    close(fd);
    tenon__hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(tenon__hex_decode(hex, 64, back, 32), 0);
    assert_memory_equal(back, d, 32);
    assert_int_equal(tenon__hex_decode(hex, 62, back, 32), TENON_EINVAL);
    hex[5] = 'A';
    assert_int_equal(tenon__hex_decode(hex, 64, back, 32), TENON_EINVAL);
    hex[5] = 'g';
    assert_int_equal(tenon__hex_decode(hex, 64, back, 32), TENON_EINVAL);
    assert_int_equal(tenon__digest_fd(-1, UINT64_MAX, d), TENON_EIO);
    free(path);
}

static void test_rfc3339(void **state)
{
    char now[21];
    (void)state;
    tenon__rfc3339(0, now);
    assert_string_equal(now, "1970-01-01T00:00:00Z");
    tenon__rfc3339(1795320306, now);
    assert_string_equal(now, "2026-11-22T04:05:06Z");
    assert_true(tenon__rfc3339_valid("2024-02-29T23:59:60Z"));
    assert_true(tenon__rfc3339_valid("2000-02-29T00:00:00Z"));
    assert_false(tenon__rfc3339_valid("1900-02-29T00:00:00Z"));
    assert_false(tenon__rfc3339_valid("2026-02-29T00:00:00Z"));
    assert_false(tenon__rfc3339_valid("2026-13-01T00:00:00Z"));
    assert_false(tenon__rfc3339_valid("2026-04-31T00:00:00Z"));
    assert_false(tenon__rfc3339_valid("2026-11-22T24:00:00Z"));
    assert_false(tenon__rfc3339_valid("2026-11-22 04:05:06Z"));
    assert_false(tenon__rfc3339_valid("2026-11-22T04:05:06+00:00"));
    assert_false(tenon__rfc3339_valid("2026-11-22T04:05:06.5Z"));
    assert_false(tenon__rfc3339_valid("2026-11-22T04:05:0xZ"));
    assert_false(tenon__rfc3339_valid(""));
}

/* ---- statements and signatures ------------------------------------------- */

/* A v1 plugin .meta for `digest`, as signatures made before statements
 * had names cover. */
static void v1_meta(struct tenon__meta *m, const unsigned char digest[32],
                    const char *key_id)
{
    memset(m, 0, sizeof *m);
    memcpy(m->digest, digest, 32);
    memcpy(m->created_at, "2026-11-22T04:05:06Z", TENON__TIME_LEN + 1);
    strcpy(m->statement, TENON__STMT_PLUGIN_V1);
    m->is_signed = 1;
    snprintf(m->key_id, sizeof m->key_id, "%s", key_id);
}

/* Sign *m over its statement with the seed. */
static void sign_meta(struct tenon__meta *m, const unsigned char seed[32],
                      const char *name, const char *version)
{
    size_t len;
    char *st = tenon__statement(m, name, version, &len);
    assert_non_null(st);
    assert_int_equal(tenon__sign(seed, st, len, m->signature), 0);
    free(st);
}

static void test_statement_binds_name_and_version(void **state)
{
    struct fx *f = *state;
    char id[17], reason[TENON__REASON_MAX];
    unsigned char sk[32], digest[32];
    struct tenon__keyring kr;
    struct tenon__meta m;
    char *sec = path_join(f->dir, "k.key"), *pub = path_join(f->dir, "k.pub");
    char *dirs[1] = {f->dir};
    size_t len;
    char *st;

    memset(digest, 0xab, sizeof digest);
    v1_meta(&m, digest, "");
    st = tenon__statement(&m, "hello", "1.0.0", &len);
    assert_non_null(st);
    assert_string_equal(st, "tenon-plugin-signature-v1\nhello\n1.0.0\n"
                            "abababababababababababababababab"
                            "abababababababababababababababab\n");
    assert_int_equal(len, strlen(st));
    free(st);

    assert_int_equal(tenon__key_generate(sec, pub, id, reason, sizeof reason),
                     0);
    assert_int_equal(tenon__keyring_load_dirs(dirs, 1, &kr), 0);
    assert_int_equal(kr.n, 1);
    assert_string_equal(kr.keys[0].id, id);
    {
        char id2[17];
        assert_int_equal(
            tenon__seckey_read(sec, sk, id2, reason, sizeof reason), 0);
        assert_string_equal(id2, id);
    }
    v1_meta(&m, digest, id);
    sign_meta(&m, sk, "hello", "1.0.0");
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.0", reason, sizeof reason),
        0);
    /* The same signature for another version, another name, another digest
     * or from another key id: refused, each with its reason. */
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.1", reason, sizeof reason),
        TENON_EPERM);
    assert_contains(reason, "signature does not verify for hello 1.0.1");
    assert_contains(reason, "abababab");
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hellp", "1.0.0", reason, sizeof reason),
        TENON_EPERM);
    assert_contains(reason, "for hellp 1.0.0");
    m.digest[31] ^= 1;
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.0", reason, sizeof reason),
        TENON_EPERM);
    m.digest[31] ^= 1;
    strcpy(m.key_id, "0123456789abcdef");
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.0", reason, sizeof reason),
        TENON_ENOENT);
    assert_contains(reason, "signed by key 0123456789abcdef which is not "
                            "trusted");
    tenon__keyring_free(&kr);
    free(sec);
    free(pub);
}

/* ---- key files ----------------------------------------------------------- */

static void test_keygen_refuses_overwrite(void **state)
{
    struct fx *f = *state;
    char id[17], *sec = path_join(f->dir, "me.key");
    char *pub = path_join(f->dir, "me.pub"), *before, *after;
    struct stat st;
    struct run r;

    keygen(f, "me", id);
    assert_int_equal(stat(sec, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    before = read_file(sec, NULL);
    RUN_ENV(&r, f->env, "keygen", "--out", f->dir, "--name", "me");
    assert_status(&r, 1);
    assert_contains(r.err, "me.key: already exists; not overwriting");
    run_free(&r);
    after = read_file(sec, NULL);
    assert_string_equal(before, after);
    free(after);
    /* Only the public file there: still refused, and no secret written. */
    unlink(sec);
    RUN_ENV(&r, f->env, "keygen", "--out", f->dir, "--name", "me");
    assert_status(&r, 1);
    assert_contains(r.err, "me.pub: already exists");
    run_free(&r);
    assert_int_equal(stat(sec, &st), -1);

    RUN_ENV(&r, f->env, "keygen", "--name", "a/b");
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, f->env, "keygen", "--out");
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, f->env, "keygen", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "usage: tenon keygen");
    run_free(&r);
    free(before);
    free(sec);
    free(pub);
}

static void test_key_file_errors(void **state)
{
    struct fx *f = *state;
    char reason[TENON__REASON_MAX], id[17];
    struct tenon__key k;
    unsigned char sk[64];
    char *path = path_join(f->dir, "bad.pub");
    char *good, *line;

    write_file(path, "hello\n", 6);
    assert_int_equal(tenon__pubkey_read(path, &k, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "bad.pub: expected one line 'tenon-ed25519 "
                            "<base64 key> <key id>'");
    write_file(path, "tenon-ed25519 AAAA 0123456789abcdef\n", 36);
    assert_int_equal(tenon__pubkey_read(path, &k, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "not 32 bytes in base64");

    /* A real key with the wrong id, and with the id cut short. */
    keygen(f, "real", id);
    good = path_join(f->dir, "real.pub");
    line = read_file(good, NULL);
    line[strlen(line) - 2] = line[strlen(line) - 2] == '0' ? '1' : '0';
    write_file(path, line, strlen(line));
    assert_int_equal(tenon__pubkey_read(path, &k, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "does not match the key, whose id is");
    assert_contains(reason, id);
    strcpy(line + strlen(line) - 5, "\n");
    write_file(path, line, strlen(line));
    assert_int_equal(tenon__pubkey_read(path, &k, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "is not 16 hex digits");
    /* A public key is not a secret key, and vice versa. */
    assert_int_equal(tenon__seckey_read(good, sk, id, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "tenon-ed25519-secret");
    assert_int_equal(
        tenon__pubkey_read("/nonexistent/x.pub", &k, reason, sizeof reason),
        TENON_ENOENT);
    assert_contains(reason, "/nonexistent/x.pub: cannot open");
    free(line);
    free(good);
    free(path);
}

/* ---- keys and signatures made elsewhere ---------------------------------- */

/* RFC 8032 section 7.1, TESTs 1 to 3: published constants, not results of
 * Tenon's code. The base64 forms are coreutils' `base64` of the same bytes
 * and the key ids the first 16 hex digits of their `sha256sum`, so a key
 * file written from them is one any tool could have written. */
static const struct {
    const char *seed, *pk, *msg, *sig; /* hex, as the RFC prints them */
    const char *seed64, *pk64, *id;    /* the key-file forms */
} rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
     "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
     "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "21fe31dfa154a261"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
     "TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs=",
     "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=", "39f713d0a644253f"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
     "xaqN9D+fg3vtt0QvMdy3sWbThTUHbwlLhc46LgtEWPc=",
     "/FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU=", "dac073e0123bdea5"},
};

/* The statement for plugin "hello" 1.0.0 whose file is the three bytes
 * "abc", signed with the RFC's TEST 1 key by libsodium 1.0.18 (which Tenon
 * used before OpenSSL), by `openssl pkeyutl -sign -rawin` and by python3's
 * cryptography: all three wrote these same bytes, since Ed25519 signing is
 * deterministic. */
static const char abc_digest[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc_sig[] =
    "f466dbc952a998bd4e23ce249f88be03fc91057d110a572ac39793be8cd761c6"
    "b6fe6fe6df46de90d6c0d67282d0f8f3d9e19aeb246aa6f45da951d4a8bc2e05";

static void unhex(const char *hex, unsigned char *out, size_t n)
{
    assert_int_equal(tenon__hex_decode(hex, strlen(hex), out, n), 0);
}

/* Write "TAG BASE64 ID\n" to dir/name; the path, malloc'd. */
static char *key_file(const char *dir, const char *name, const char *tag,
                      const char *b64, const char *id)
{
    char *path = path_join(dir, name), *line;
    assert_int_equal(asprintf(&line, "%s %s %s\n", tag, b64, id) > 0, 1);
    write_file(path, line, strlen(line));
    free(line);
    return path;
}

static void test_rfc8032_keys_and_signatures(void **state)
{
    struct fx *f = *state;
    char reason[TENON__REASON_MAX], id[17], name[16];
    unsigned char pk[32], sig[64], msg[2], sk[64];
    struct tenon__key k;

    for (size_t i = 0; i < sizeof rfc8032 / sizeof *rfc8032; i++) {
        size_t mlen = strlen(rfc8032[i].msg) / 2;
        char *pub, *sec;
        snprintf(name, sizeof name, "rfc%zu.pub", i + 1);
        pub = key_file(f->dir, name, "tenon-ed25519", rfc8032[i].pk64,
                       rfc8032[i].id);
        snprintf(name, sizeof name, "rfc%zu.key", i + 1);
        sec = key_file(f->dir, name, "tenon-ed25519-secret", rfc8032[i].seed64,
                       rfc8032[i].id);
        unhex(rfc8032[i].pk, pk, 32);
        unhex(rfc8032[i].sig, sig, 64);
        unhex(rfc8032[i].msg, msg, mlen);

        /* The key files read back as the RFC's bytes, under the id any
         * SHA-256 gives; the secret one's id check passes only if the
         * public key made from the seed is the RFC's. */
        assert_int_equal(tenon__pubkey_read(pub, &k, reason, sizeof reason), 0);
        assert_memory_equal(k.pk, pk, 32);
        assert_string_equal(k.id, rfc8032[i].id);
        assert_int_equal(tenon__seckey_read(sec, sk, id, reason, sizeof reason),
                         0);
        assert_string_equal(id, rfc8032[i].id);

        /* The RFC's signature verifies; one flipped bit anywhere in it, or
         * in the message, or one byte more, and it does not. */
        assert_int_equal(tenon__ed25519_verify(k.pk, msg, mlen, sig), 0);
        for (size_t bit = 0; bit < 512; bit += 37) {
            sig[bit / 8] ^= (unsigned char)(1u << bit % 8);
            assert_int_equal(tenon__ed25519_verify(k.pk, msg, mlen, sig),
                             TENON_EPERM);
            sig[bit / 8] ^= (unsigned char)(1u << bit % 8);
        }
        if (mlen) {
            msg[0] ^= 0x80;
            assert_int_equal(tenon__ed25519_verify(k.pk, msg, mlen, sig),
                             TENON_EPERM);
            msg[0] ^= 0x80;
        }
        assert_int_equal(tenon__ed25519_verify(k.pk, "\0\0", mlen + 1, sig),
                         TENON_EPERM);
        free(pub);
        free(sec);
    }
}

/* A .meta for "hello" 1.0.0 made of "abc", written by hand with `sig`. */
static void write_meta(const char *path, const char *sig)
{
    char *json;
    assert_int_equal(asprintf(&json,
                              "{\"digest\": \"%s\", \"created_at\": "
                              "\"2026-11-22T04:05:06Z\", \"info\": {\"name\": "
                              "\"hello\", \"version\": \"1.0.0\"}, "
                              "\"signature\": \"%s\", \"key_id\": \"%s\"}\n",
                              abc_digest, sig, rfc8032[0].id) > 0,
                     1);
    write_file(path, json, strlen(json));
    free(json);
}

static void test_signature_made_elsewhere(void **state)
{
    struct fx *f = *state;
    char reason[TENON__REASON_MAX], id[17];
    char *trusted = path_join(f->dir, "trusted");
    char *dirs[1] = {trusted};
    char *so = path_join(f->dir, "hello.so"), *meta = meta_of(so);
    char *pub, *sec;
    unsigned char digest[32], sig[64], mine[64], sk[32];
    struct tenon__trust_result res;
    struct tenon__keyring kr;
    int fd;

    assert_int_equal(mkdir(trusted, 0700), 0);
    pub = key_file(trusted, "rfc1.pub", "tenon-ed25519", rfc8032[0].pk64,
                   rfc8032[0].id);
    sec = key_file(f->dir, "rfc1.key", "tenon-ed25519-secret",
                   rfc8032[0].seed64, rfc8032[0].id);
    assert_int_equal(tenon__keyring_load_dirs(dirs, 1, &kr), 0);
    assert_int_equal(kr.n, 1);
    unhex(abc_digest, digest, 32);
    unhex(abc_sig, sig, 64);

    /* The statement signed elsewhere verifies, and what Tenon signs with
     * the same key is byte for byte the same signature. */
    struct tenon__meta m;
    v1_meta(&m, digest, rfc8032[0].id);
    memcpy(m.signature, sig, 64);
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.0", reason, sizeof reason),
        0);
    assert_int_equal(tenon__seckey_read(sec, sk, id, reason, sizeof reason), 0);
    sign_meta(&m, sk, "hello", "1.0.0");
    memcpy(mine, m.signature, 64);
    assert_memory_equal(mine, sig, 64);
    m.signature[17] ^= 0x04;
    assert_int_equal(
        tenon__meta_verify(&kr, &m, "hello", "1.0.0", reason, sizeof reason),
        TENON_EPERM);
    assert_contains(reason, "signature does not verify for hello 1.0.0");

    /* The same as a plugin file and a hand-written .meta, the way the
     * inventory checks them: the digest is computed here, the rest read. */
    write_file(so, "abc", 3);
    write_meta(meta, abc_sig);
    fd = open(so, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(tenon__trust_check_file(&kr, so, "hello", "1.0.0", fd,
                                             UINT64_MAX, NULL, &res),
                     0);
    assert_int_equal(res.verdict, TENON__TRUST_OK);
    assert_memory_equal(res.digest, digest, 32);
    /* One hex digit of the signature in the .meta changed: refused. */
    {
        char bad[sizeof abc_sig];
        memcpy(bad, abc_sig, sizeof bad);
        bad[100] = bad[100] == '0' ? '1' : '0';
        write_meta(meta, bad);
    }
    assert_int_equal(tenon__trust_check_file(&kr, so, "hello", "1.0.0", fd,
                                             UINT64_MAX, NULL, &res),
                     TENON_EPERM);
    assert_int_equal(res.verdict, TENON__TRUST_BADSIG);
    assert_contains(res.reason, "signature does not verify for hello 1.0.0");
    close(fd);
    tenon__keyring_free(&kr);
    free(pub);
    free(sec);
    free(meta);
    free(so);
    free(trusted);
}

/* Key files whose base64 is not exactly 44 characters of the standard
 * alphabet ending in one '=' are refused, as libsodium refused them; more
 * lenient decoders (OpenSSL's EVP_DecodeBlock among them) take several of
 * these, skipping whitespace, decoding '=' inside as zero bits, or
 * returning 33 bytes or more. */
static void test_key_file_base64_strict(void **state)
{
    struct fx *f = *state;
    static const char not_b64[] = "the key is not 32 bytes in base64";
    static const char not_line[] = "expected one line";
    static const struct {
        const char *b64, *why;
    } cases[] = {
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo", not_b64},  /* no '=' */
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA", not_b64}, /* 33 */
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo==", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=AAAA", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=x", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR==", not_b64}, /* 31 */
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH", not_b64},     /* 30 */
        {"11qYAYKxCr=VS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=", not_b64}, /* bits */
        {"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=", not_b64}, /* URL */
        {"\t11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\t", not_b64},
        {"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\r", not_b64},
        {"11qYAYKxCrfVS/7TyWQH\tOg7hcvPapiMlrwIaaPcHURo=", not_b64},
        {"11qYAYKxCrfVS/7TyWQH\nOg7hcvPapiMlrwIaaPcHURo=", not_line},
        {"11qYAYKxCrfVS/7TyWQH Og7hcvPapiMlrwIaaPcHURo=", not_line},
    };
    char reason[TENON__REASON_MAX], id[17];
    unsigned char sk[64];
    struct tenon__key k;
    char *path;

    /* The well-formed line is accepted, so each refusal below is the
     * base64's. */
    path = key_file(f->dir, "k.pub", "tenon-ed25519", rfc8032[0].pk64,
                    rfc8032[0].id);
    assert_int_equal(tenon__pubkey_read(path, &k, reason, sizeof reason), 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        free(key_file(f->dir, "k.pub", "tenon-ed25519", cases[i].b64,
                      rfc8032[0].id));
        if (tenon__pubkey_read(path, &k, reason, sizeof reason) != TENON_EINVAL)
            fail_msg("accepted '%s'", cases[i].b64);
        assert_contains(reason, "k.pub: ");
        assert_contains(reason, cases[i].why);
    }
    free(path);
    /* The secret key file goes through the same decoder. */
    path =
        key_file(f->dir, "k.key", "tenon-ed25519-secret",
                 "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2AA", rfc8032[0].id);
    assert_int_equal(tenon__seckey_read(path, sk, id, reason, sizeof reason),
                     TENON_EINVAL);
    assert_contains(reason, "k.key: the key is not 32 bytes in base64");
    free(path);
}

/* ---- the CLI round trip and its failures --------------------------------- */

static void test_roundtrip(void **state)
{
    struct fx *f = *state;
    char id[17], want[64];
    char *so = copy_plugin(f, "basic_v1.so", "basic.so"), *meta = meta_of(so);
    struct tenon__meta m;
    char reason[TENON__REASON_MAX];
    struct run r;
    json_t *j;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    sign(f, so, "alice");
    snprintf(want, sizeof want, "%s: ok: signed by %s", so, id);
    verify(f, so, 0, want);

    /* The .meta: digest, created_at, the info, signature, key id. */
    assert_int_equal(tenon__meta_read(meta, &m, reason, sizeof reason), 0);
    assert_true(m.is_signed);
    assert_string_equal(m.key_id, id);
    assert_true(tenon__rfc3339_valid(m.created_at));
    assert_string_equal(json_string_value(json_object_get(m.info, "name")),
                        "basic");
    assert_int_equal(json_array_size(json_object_get(m.info, "provides")), 2);
    assert_int_equal(json_array_size(json_object_get(m.info, "arg")), 5);
    tenon__meta_free(&m);

    RUN_ENV(&r, f->env, "verify", "--json", so);
    assert_status(&r, 0);
    j = parse_json(r.out);
    assert_true(json_is_true(json_object_get(json_array_get(j, 0), "ok")));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(j, 0), "verdict")),
        "ok");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(j, 0), "key_id")), id);
    json_decref(j);
    run_free(&r);

    /* Signing again replaces the .meta. */
    sign(f, so, "alice");
    verify(f, so, 0, "ok: signed by");
    free(meta);
    free(so);
}

static void test_tampered(void **state)
{
    struct fx *f = *state;
    char id[17];
    char *so = copy_plugin(f, "basic_v1.so", "basic.so");
    size_t len;
    char *data;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    sign(f, so, "alice");
    data = read_file(so, &len);
    data[len / 2] ^= 0x01; /* one bit of one byte, in the code */
    write_file(so, data, len);
    verify(f, so, 1, "FAILED: digest mismatch (file ");
    verify(f, so, 1, ", .meta ");
    free(data);
    free(so);
}

static void test_unsigned(void **state)
{
    struct fx *f = *state;
    char id[17], reason[TENON__REASON_MAX];
    char *so = copy_plugin(f, "marker.so", "marker.so"), *meta = meta_of(so);
    struct tenon__meta m;
    struct run r;
    int fd;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    verify(f, so, 1, "FAILED: unsigned: no ");

    /* A .meta with the right digest and no signature is still unsigned. */
    memset(&m, 0, sizeof m);
    fd = open(so, O_RDONLY);
    assert_int_equal(tenon__digest_fd(fd, UINT64_MAX, m.digest), 0);
    close(fd);
    tenon__rfc3339(time(NULL), m.created_at);
    m.info = json_pack("{s:s, s:s}", "name", "marker", "version", "1.0.0");
    assert_int_equal(tenon__meta_write(meta, &m, reason, sizeof reason), 0);
    tenon__meta_free(&m);
    verify(f, so, 1, "FAILED: unsigned: ");
    verify(f, so, 1, "has no signature");

    /* Several files: one failure fails the command, every file reported. */
    {
        char *good = copy_plugin(f, "basic_v1.so", "good.so");
        sign(f, good, "alice");
        RUN_ENV(&r, f->env, "verify", good, so);
        assert_status(&r, 1);
        assert_contains(r.out, "good.so: ok: signed by");
        assert_contains(r.out, "marker.so: FAILED: unsigned");
        run_free(&r);
        free(good);
    }
    RUN_ENV(&r, f->env, "verify");
    assert_status(&r, 2);
    run_free(&r);
    free(meta);
    free(so);
}

static void test_untrusted(void **state)
{
    struct fx *f = *state;
    char alice[17], mallory[17], want[64];
    char *so = copy_plugin(f, "basic_v1.so", "basic.so");

    keygen(f, "alice", alice);
    keygen(f, "mallory", mallory);
    trust_add(f, "alice");
    sign(f, so, "mallory");
    snprintf(want, sizeof want, "FAILED: signed by untrusted key %s", mallory);
    verify(f, so, 1, want);
    /* No trusted key at all: the same verdict. */
    remove_tree(tenon__strdup(f->trusted));
    verify(f, so, 1, want);
    free(so);
}

static void test_rotation(void **state)
{
    struct fx *f = *state;
    char old[17], new[17];
    char *a = copy_plugin(f, "basic_v1.so", "a.so");
    char *b = copy_plugin(f, "marker.so", "b.so");
    struct run r;

    keygen(f, "old", old);
    keygen(f, "new", new);
    trust_add(f, "old");
    trust_add(f, "new");
    sign(f, a, "old");
    sign(f, b, "new");
    RUN_ENV(&r, f->env, "verify", a, b);
    assert_status(&r, 0);
    assert_contains(r.out, old);
    assert_contains(r.out, new);
    run_free(&r);
    /* The old key retired: what it signed is no longer trusted. */
    RUN_ENV(&r, f->env, "trust", "remove", old);
    assert_status(&r, 0);
    assert_contains(r.out, "removed ");
    assert_true(strstr(r.out, "no trusted key is left") == NULL);
    run_free(&r);
    verify(f, a, 1, "FAILED: signed by untrusted key");
    verify(f, b, 0, "ok: signed by");
    /* The last one too: said, and checking stays on (require) */
    RUN_ENV(&r, f->env, "trust", "remove", new);
    assert_status(&r, 0);
    assert_contains(r.out, "no trusted key is left: the default trust policy "
                           "stays require");
    run_free(&r);
    free(a);
    free(b);
}

/* Replace the signature and key_id of `to`.meta by those of `from`.meta. */
static void move_signature(const char *from, const char *to)
{
    char reason[TENON__REASON_MAX];
    struct tenon__meta mf, mt;
    char *pf = meta_of(from), *pt = meta_of(to);
    assert_int_equal(tenon__meta_read(pf, &mf, reason, sizeof reason), 0);
    assert_int_equal(tenon__meta_read(pt, &mt, reason, sizeof reason), 0);
    memcpy(mt.signature, mf.signature, sizeof mt.signature);
    memcpy(mt.key_id, mf.key_id, sizeof mt.key_id);
    assert_int_equal(tenon__meta_write(pt, &mt, reason, sizeof reason), 0);
    tenon__meta_free(&mf);
    tenon__meta_free(&mt);
    free(pf);
    free(pt);
}

static void test_moved_signature(void **state)
{
    struct fx *f = *state;
    char id[17];
    char *v1 = copy_plugin(f, "basic_v1.so", "basic-1.2.0.so");
    char *v2 = copy_plugin(f, "basic_v2.so", "basic-1.10.0.so");
    char *mk = copy_plugin(f, "marker.so", "marker.so");
    char *m1 = meta_of(v1), *m2 = meta_of(v2), *mm = meta_of(mk);
    char *data;
    size_t len;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    sign(f, v1, "alice");
    sign(f, v2, "alice");
    sign(f, mk, "alice");
    /* Same name, another version. */
    move_signature(v1, v2);
    verify(f, v2, 1, "FAILED: signature does not verify for basic 1.10.0");
    /* Another plugin. */
    move_signature(mk, v1);
    verify(f, v1, 1, "FAILED: signature does not verify for basic 1.2.0");
    /* The whole .meta of another file: its digest gives it away. */
    data = read_file(mm, &len);
    write_file(m2, data, len);
    verify(f, v2, 1, "FAILED: digest mismatch");
    free(data);
    free(m1);
    free(m2);
    free(mm);
    free(v1);
    free(v2);
    free(mk);
}

/* ---- malformed .meta files ----------------------------------------------- */

static const char good_meta[] =
    "{\"digest\": \"%s\", \"created_at\": \"2026-11-22T04:05:06Z\",\n"
    " \"info\": {\"name\": \"marker\", \"version\": \"1.0.0\"}%s}";

static void expect_bad(const char *text, const char *why)
{
    char reason[TENON__REASON_MAX];
    struct tenon__meta m;
    int rc = tenon__meta_parse(text, strlen(text), &m, reason, sizeof reason);
    if (rc != TENON_EINVAL)
        fail_msg("accepted: %s", text);
    assert_contains(reason, why);
    tenon__meta_free(&m);
}

static void test_malformed_meta_parse(void **state)
{
    static const char d64[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const struct {
        const char *digest, *extra, *why;
    } cases[] = {
        {"ba78", "", "field 'digest': expected 64 lowercase hex digits"},
        {"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "",
         "that are not all hex"},
        {d64, ", \"signature\": \"00\"",
         "field 'signature': expected 128 lowercase hex digits"},
        {d64, ", \"key_id\": \"0123456789abcdef\"",
         "field 'signature': missing"},
        {d64, ", \"key_id\": \"xyz\"", "field 'key_id': expected 16"},
        {d64, ", \"key_id\": 7",
         "field 'key_id': expected a string, got a "
         "number"},
    };
    char buf[1024];
    char reason[TENON__REASON_MAX];
    struct tenon__meta m;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(buf, sizeof buf, good_meta, cases[i].digest, cases[i].extra);
        expect_bad(buf, cases[i].why);
    }
    snprintf(buf, sizeof buf, good_meta, d64, ", \"future\": [1, 2]");
    assert_int_equal(
        tenon__meta_parse(buf, strlen(buf), &m, reason, sizeof reason),
        0); /* unknown members are ignored */
    assert_false(m.is_signed);
    tenon__meta_free(&m);

    expect_bad("", "not JSON");
    expect_bad("[1, 2]", "expected a JSON object, got an array");
    expect_bad("{\"digest\": 5}", "field 'digest': expected a string, got a "
                                  "number");
    expect_bad("{}", "field 'digest': missing");
    snprintf(buf, sizeof buf,
             "{\"digest\": \"%s\", \"created_at\": \"2026-02-30T00:00:00Z\"}",
             d64);
    expect_bad(buf, "field 'created_at': '2026-02-30T00:00:00Z' is not a "
                    "UTC time YYYY-MM-DDTHH:MM:SSZ");
    snprintf(buf, sizeof buf,
             "{\"digest\": \"%s\", \"created_at\": \"2026-11-22T04:05:06Z\"}",
             d64);
    expect_bad(buf, "field 'info': missing; expected an object");
    snprintf(buf, sizeof buf,
             "{\"digest\": \"%s\", \"created_at\": \"2026-11-22T04:05:06Z\", "
             "\"info\": {\"name\": \"x\", \"version\": \"1.0.0\", "
             "\"provides\": [1]}}",
             d64);
    expect_bad(buf, "field 'info.provides': item 0 is a number");
    snprintf(buf, sizeof buf,
             "{\"digest\": \"%s\", \"created_at\": \"2026-11-22T04:05:06Z\", "
             "\"info\": {\"name\": \"x\", \"version\": \"1.0.0\", "
             "\"arg\": [{\"type\": \"int\"}]}}",
             d64);
    expect_bad(buf, "field 'info.arg': item 0 has no string \"name\"");
    snprintf(buf, sizeof buf, "{\"digest\": \"%s\", \"digest\": \"%s\"}", d64,
             d64);
    expect_bad(buf, "not JSON: duplicate object key");
    expect_bad("{\"digest\": \"a\\u0000b\"}", "not JSON");

    /* Larger than the cap: refused before parsing. */
    {
        size_t big = TENON__META_MAX + 1;
        char *huge = malloc(big);
        assert_non_null(huge);
        memset(huge, ' ', big);
        assert_int_equal(
            tenon__meta_parse(huge, big, &m, reason, sizeof reason),
            TENON_EINVAL);
        assert_contains(reason, "expected at most 1048576");
        free(huge);
    }
}

static void test_malformed_meta_cli(void **state)
{
    struct fx *f = *state;
    char id[17], *so = copy_plugin(f, "marker.so", "marker.so");
    char *meta = meta_of(so), *good;
    size_t len;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    sign(f, so, "alice");
    good = read_file(meta, &len);

    write_file(meta, "not json", 8);
    verify(f, so, 1, "FAILED: malformed .meta: not JSON");
    write_file(meta, good, len / 2); /* truncated */
    verify(f, so, 1, "FAILED: malformed .meta: not JSON");
    write_file(meta, "\"digest\"", 8);
    verify(f, so, 1, "malformed .meta: expected a JSON object, got a string");
    {
        char *bad = strdup(good), *p = strstr(bad, "\"created_at\": \"");
        assert_non_null(p);
        memcpy(p + 15, "2026-13", 7);
        write_file(meta, bad, len);
        verify(f, so, 1, "malformed .meta: field 'created_at'");
        strcpy(bad, good);
        p = strstr(bad, "\"digest\": \"") + 11;
        memmove(p, p + 2, strlen(p + 2) + 1); /* two digits short */
        write_file(meta, bad, strlen(bad));
        verify(f, so, 1, "malformed .meta: field 'digest': expected 64");
        free(bad);
    }
    /* Oversized. */
    {
        size_t big = TENON__META_MAX + 10;
        char *huge = malloc(big);
        assert_non_null(huge);
        memset(huge, ' ', big);
        write_file(meta, huge, big);
        verify(f, so, 1, "malformed .meta: ");
        verify(f, so, 1, "expected at most 1048576");
        free(huge);
    }
    /* Restored, it verifies again. */
    write_file(meta, good, len);
    verify(f, so, 0, "ok: signed by");
    free(good);
    free(meta);
    free(so);
}

static void test_sign_errors(void **state)
{
    struct fx *f = *state;
    char id[17];
    char *notso = path_join(f->dir, "text.so"), *so;
    char *key = path_join(f->dir, "alice.key");
    char *pub = path_join(f->dir, "alice.pub");
    struct run r;

    keygen(f, "alice", id);
    write_file(notso, "hello", 5);
    RUN_ENV(&r, f->env, "sign", notso, "--key", key);
    assert_status(&r, 1);
    assert_contains(r.err, "not a usable plugin");
    run_free(&r);
    verify(f, notso, 1, "FAILED: not a usable plugin");
    so = copy_plugin(f, "marker.so", "marker.so");
    RUN_ENV(&r, f->env, "sign", so, "--key", pub);
    assert_status(&r, 1);
    assert_contains(r.err, "alice.pub: expected one line "
                           "'tenon-ed25519-secret");
    run_free(&r);
    RUN_ENV(&r, f->env, "sign", so);
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, f->env, "sign", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "usage: tenon sign FILE --key SECRET");
    run_free(&r);
    free(so);
    free(notso);
    free(key);
    free(pub);
}

/* ---- the trust store ----------------------------------------------------- */

static void test_trust_add_list_remove(void **state)
{
    struct fx *f = *state;
    char a[17], b[17];
    char *bad = NULL;
    struct run r;
    json_t *j;

    RUN_ENV(&r, f->env, "trust", "list");
    assert_status(&r, 0);
    assert_contains(r.out, "no trusted keys in ");
    assert_contains(r.out, f->trusted);
    run_free(&r);

    keygen(f, "a", a);
    keygen(f, "b", b);
    trust_add(f, "a");
    trust_add(f, "b");
    {
        char *pa = path_join(f->dir, "a.pub");
        RUN_ENV(&r, f->env, "trust", "add", pa);
        assert_status(&r, 0);
        assert_contains(r.out, "already trusted");
        run_free(&r);
        free(pa);
    }
    /* A malformed .pub in the store is reported by name and skipped;
     * other files are ignored. */
    bad = path_join(f->trusted, "broken.pub");
    write_file(bad, "garbage\n", 8);
    free(bad);
    bad = path_join(f->trusted, "README");
    write_file(bad, "not a key\n", 10);
    free(bad);

    RUN_ENV(&r, f->env, "trust", "list");
    assert_status(&r, 0);
    assert_contains(r.out, "ID");
    assert_contains(r.out, a);
    assert_contains(r.out, "a.pub");
    assert_contains(r.out, b);
    assert_contains(r.out, f->trusted);
    assert_contains(r.out, "\nignored, so the trust store fails closed (the "
                           "default trust policy is require):\n  key file ");
    assert_contains(r.out, "/broken.pub: expected one line 'tenon-ed25519 "
                           "<base64 key> <key id>'\n");
    assert_null(strstr(r.out, "README"));
    run_free(&r);

    RUN_ENV(&r, f->env, "trust", "list", "--json");
    assert_status(&r, 0);
    j = parse_json(r.out);
    {
        json_t *keys = json_object_get(j, "keys"),
               *k0 = json_array_get(keys, 0);
        json_t *bad0 = json_array_get(json_object_get(j, "problems"), 0);
        char *broken = path_join(f->trusted, "broken.pub");
        assert_int_equal(json_array_size(keys), 2);
        assert_string_equal(json_string_value(json_object_get(k0, "id")), a);
        assert_string_equal(json_string_value(json_object_get(k0, "file")),
                            "a.pub");
        assert_string_equal(json_string_value(json_object_get(k0, "directory")),
                            f->trusted);
        assert_int_equal(json_array_size(json_object_get(j, "problems")), 1);
        assert_string_equal(json_string_value(json_object_get(bad0, "path")),
                            broken);
        assert_contains(json_string_value(json_object_get(bad0, "reason")),
                        "broken.pub: expected one line");
        free(broken);
    }
    json_decref(j);
    run_free(&r);

    RUN_ENV(&r, f->env, "trust", "remove", a);
    assert_status(&r, 0);
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "remove", a);
    assert_status(&r, 1);
    assert_contains(r.err, "no trusted key has the id");
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "remove", "xyz");
    assert_status(&r, 1);
    assert_contains(r.err, "expected a key id of 16");
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "list", "--json");
    j = parse_json(r.out);
    assert_int_equal(json_array_size(json_object_get(j, "keys")), 1);
    json_decref(j);
    run_free(&r);

    RUN_ENV(&r, f->env, "trust", "add", "/nonexistent.pub");
    assert_status(&r, 1);
    assert_contains(r.err, "/nonexistent.pub: cannot open");
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "frobnicate");
    assert_status(&r, 2);
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "tenon trust add KEY.pub");
    run_free(&r);
}

/* ---- the ownership rule and the problems of a trust store -------------- */

/* The keyring of the one directory `dir`. */
static void load_one(const char *dir, struct tenon__keyring *kr)
{
    char *dirs[1] = {(char *)dir};
    assert_int_equal(tenon__keyring_load_dirs(dirs, 1, kr), 0);
}

/* Load `dir` and expect no key and the one problem `want` about `path`. */
static void expect_problem(const char *dir, const char *path, const char *want)
{
    struct tenon__keyring kr;
    load_one(dir, &kr);
    assert_int_equal(kr.n, 0);
    assert_int_equal(kr.nproblems, 1);
    assert_string_equal(kr.problems[0].path, path);
    assert_string_equal(kr.problems[0].reason, want);
    assert_non_null(strstr(tenon__keyring_error(&kr), want));
    tenon__keyring_free(&kr);
}

static void expect_writable(const char *what, const char *path, const char *dir,
                            const char *by, const char *kind)
{
    char want[1024];
    snprintf(want, sizeof want,
             "%s %s is writable by %s; expected a %s writable only by its "
             "owner, owned by you or root",
             what, path, by, kind);
    expect_problem(dir, path, want);
}

/* As ssh's StrictModes treats authorized_keys: a trust directory or key
 * file that group or others can write is ignored, with the reason. */
static void test_writable_by_others(void **state)
{
    struct fx *f = *state;
    char id[17], *pub;
    struct tenon__keyring kr;

    keygen(f, "alice", id);
    trust_add(f, "alice");
    pub = path_join(f->trusted, "alice.pub");
    load_one(f->trusted, &kr);
    assert_int_equal(kr.n, 1);
    assert_int_equal(kr.nproblems, 0);
    assert_string_equal(tenon__keyring_error(&kr), "");
    tenon__keyring_free(&kr);

    assert_int_equal(chmod(f->trusted, 0770), 0);
    expect_writable("trust directory", f->trusted, f->trusted, "group",
                    "directory");
    assert_int_equal(chmod(f->trusted, 0703), 0);
    expect_writable("trust directory", f->trusted, f->trusted, "others",
                    "directory");
    assert_int_equal(chmod(f->trusted, 0777), 0);
    expect_writable("trust directory", f->trusted, f->trusted,
                    "group and others", "directory");
    assert_int_equal(chmod(f->trusted, 0755), 0); /* readable is fine */
    assert_int_equal(chmod(pub, 0664), 0);
    expect_writable("key file", pub, f->trusted, "group", "file");
    assert_int_equal(chmod(pub, 0646), 0);
    expect_writable("key file", pub, f->trusted, "others", "file");
    free(pub);
}

/* Owned by another user than the caller or root: ignored. chown to another
 * uid needs root (CI runs as root). */
static void test_owned_by_another_user(void **state)
{
    struct fx *f = *state;
    char id[17], want[1024], *pub;
    if (geteuid() != 0) {
        print_message("skipping: giving a file to another user needs "
                      "root\n");
        skip();
    }
    keygen(f, "alice", id);
    trust_add(f, "alice");
    pub = path_join(f->trusted, "alice.pub");
    assert_int_equal(chown(pub, 4242, 4242), 0);
    snprintf(want, sizeof want,
             "key file %s is owned by uid 4242; expected a file owned by you "
             "(uid 0) or root, writable only by its owner",
             pub);
    expect_problem(f->trusted, pub, want);
    assert_int_equal(chown(pub, 0, 0), 0);
    assert_int_equal(chown(f->trusted, 4242, 4242), 0);
    snprintf(want, sizeof want,
             "trust directory %s is owned by uid 4242; expected a directory "
             "owned by you (uid 0) or root, writable only by its owner",
             f->trusted);
    expect_problem(f->trusted, f->trusted, want);
    free(pub);
}

/* A key that is a symbolic link counts when its target passes the rule
 * (the link's own mode, always 0777, does not matter), is ignored when the
 * target does not, and when there is no target. */
static void test_symlinked_key(void **state)
{
    struct fx *f = *state;
    char id[17], want[1024];
    char *target = path_join(f->dir, "bob.pub");
    char *link = path_join(f->trusted, "bob.pub");
    char *gone = path_join(f->trusted, "gone.pub");
    struct tenon__keyring kr;

    keygen(f, "bob", id);
    assert_int_equal(tenon__mkdirs(f->trusted, 0700, want, sizeof want), 0);
    assert_int_equal(symlink(target, link), 0);
    load_one(f->trusted, &kr);
    assert_int_equal(kr.n, 1);
    assert_string_equal(kr.keys[0].id, id);
    assert_int_equal(kr.nproblems, 0);
    tenon__keyring_free(&kr);

    assert_int_equal(chmod(target, 0646), 0);
    snprintf(want, sizeof want,
             "the target of symbolic link %s is writable by others; expected "
             "a file writable only by its owner, owned by you or root",
             link);
    expect_problem(f->trusted, link, want);
    assert_int_equal(unlink(link), 0);

    assert_int_equal(symlink("/nonexistent/x.pub", gone), 0);
    snprintf(want, sizeof want,
             "key file %s, a symbolic link, cannot be opened: No such file or "
             "directory",
             gone);
    expect_problem(f->trusted, gone, want);
    free(target);
    free(link);
    free(gone);
}

/* Key files that are not keys: each is a problem naming it, and what a
 * problem-free directory beside it holds still counts. */
static void test_bad_key_files(void **state)
{
    struct fx *f = *state;
    char want[1024], *cut = path_join(f->trusted, "cut.pub");
    char *dir = path_join(f->trusted, "sub.pub");
    struct tenon__keyring kr;

    assert_int_equal(tenon__mkdirs(f->trusted, 0700, want, sizeof want), 0);
    write_file(cut, "tenon-ed25519 AAAA", 18);
    snprintf(want, sizeof want,
             "key file %s: expected one line 'tenon-ed25519 <base64 key> "
             "<key id>'",
             cut);
    expect_problem(f->trusted, cut, want);
    assert_int_equal(unlink(cut), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(want, sizeof want, "key file %s: not a regular file", dir);
    expect_problem(f->trusted, dir, want);
    /* A trust directory that is a file. */
    write_file(cut, "x", 1);
    snprintf(want, sizeof want,
             "trust directory %s cannot be read: Not a directory", cut);
    expect_problem(cut, cut, want);
    /* Three problems (cut.pub is a bad key too): the error counts them. */
    {
        char *dirs[2] = {f->trusted, cut};
        assert_int_equal(tenon__keyring_load_dirs(dirs, 2, &kr), 0);
        assert_int_equal(kr.nproblems, 3);
        assert_contains(tenon__keyring_error(&kr),
                        "; 3 trust store problems, the first: key file ");
        tenon__keyring_free(&kr);
    }
    free(cut);
    free(dir);
}

/* The CLI says what is ignored instead of passing over it: trust add
 * refuses to write into an ignored directory, verify and remove warn. */
static void test_cli_reports_problems(void **state)
{
    struct fx *f = *state;
    char a[17], b[17], want[1024];
    char *so = copy_plugin(f, "basic_v1.so", "basic.so");
    char *pb = path_join(f->dir, "b.pub");
    struct run r;

    keygen(f, "a", a);
    keygen(f, "b", b);
    trust_add(f, "a");
    sign(f, so, "a");
    assert_int_equal(chmod(f->trusted, 0775), 0);
    snprintf(want, sizeof want,
             "tenon trust: not adding key %s: it would not be trusted, "
             "because trust directory %s is writable by group; expected a "
             "directory writable only by its owner, owned by you or root; "
             "fix that first",
             b, f->trusted);
    RUN_ENV(&r, f->env, "trust", "add", pb);
    assert_status(&r, 1);
    assert_contains(r.err, want);
    run_free(&r);

    snprintf(want, sizeof want,
             "trust directory %s is writable by group; expected a directory "
             "writable only by its owner, owned by you or root; ignoring it "
             "(the trust store fails closed)",
             f->trusted);
    RUN_ENV(&r, f->env, "verify", so);
    assert_status(&r, 1);
    assert_contains(r.out, "FAILED: signed by untrusted key");
    assert_contains(r.err, want);
    run_free(&r);
    RUN_ENV(&r, f->env, "trust", "remove", a);
    assert_status(&r, 1);
    assert_contains(r.err, want);
    assert_contains(r.err, "no trusted key has the id");
    assert_contains(r.err, "(the trust store has ignored parts, warned about "
                           "above: remove such a key file by hand)");
    run_free(&r);

    assert_int_equal(chmod(f->trusted, 0700), 0);
    verify(f, so, 0, "ok: signed by");
    free(so);
    free(pb);
}

/* ---- tenon__trust_check_file, as the scan, the loader and verify call it -
 */

/* The verdict on `file` as plugin "basic" 1.2.0, read through a descriptor. */
static int check(const struct tenon__keyring *kr, const char *file,
                 struct tenon__trust_result *res)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC), rc;
    assert_true(fd >= 0);
    rc = tenon__trust_check_file(kr, file, "basic", "1.2.0", fd, UINT64_MAX,
                                 NULL, res);
    close(fd);
    tenon__trust_result_free(res);
    return rc;
}

static void test_trust_check_internal(void **state)
{
    struct fx *f = *state;
    char alice[17], mallory[17];
    char *so = copy_plugin(f, "basic_v1.so", "basic.so");
    char *meta = meta_of(so);
    const char *dirs[] = {f->trusted};
    struct tenon_options o;
    struct tenon__trust_result res;
    struct tenon__keyring kr;
    tenon_t *t;

    keygen(f, "alice", alice);
    keygen(f, "mallory", mallory);
    trust_add(f, "alice");
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.trust_dirs = dirs;
    o.trust_dir_count = 1;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_trust_dir_count(t), 1);
    assert_string_equal(tenon_trust_dir(t, 0), f->trusted);
    assert_null(tenon_trust_dir(t, 1));
    assert_int_equal(tenon__keyring_load(t, &kr), 0);

    assert_int_equal(check(&kr, so, &res), TENON_ENOENT);
    assert_int_equal(res.verdict, TENON__TRUST_UNSIGNED);
    assert_contains(res.reason, "unsigned: no ");
    sign(f, so, "mallory");
    assert_int_equal(check(&kr, so, &res), TENON_EPERM);
    assert_int_equal(res.verdict, TENON__TRUST_UNTRUSTED);
    assert_contains(res.reason, "signed by untrusted key");
    assert_contains(res.reason, mallory);
    sign(f, so, "alice");
    assert_int_equal(check(&kr, so, &res), 0);
    assert_int_equal(res.verdict, TENON__TRUST_OK);
    assert_contains(res.reason, alice);
    assert_int_equal(res.have_digest, 1);
    assert_true(res.signed_at[0] != '\0'); /* v2 covers created_at */

    /* Another plugin's name and version: the signature does not cover it. */
    int fd = open(so, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(tenon__trust_check_file(&kr, so, "basic", "1.10.0", fd,
                                             UINT64_MAX, NULL, &res),
                     TENON_EPERM);
    assert_int_equal(res.verdict, TENON__TRUST_BADSIG);
    assert_contains(res.reason, "signature does not verify for basic 1.10.0");
    tenon__trust_result_free(&res);
    close(fd);

    write_file(meta, "{", 1);
    assert_int_equal(check(&kr, so, &res), TENON_EINVAL);
    assert_int_equal(res.verdict, TENON__TRUST_MALFORMED);
    assert_contains(res.reason, "malformed .meta: not JSON");

    tenon__keyring_free(&kr);
    tenon_close(t);
    free(meta);
    free(so);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digest_and_hex, setup, teardown),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test_setup_teardown(test_statement_binds_name_and_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen_refuses_overwrite, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rfc8032_keys_and_signatures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signature_made_elsewhere, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_file_base64_strict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved_signature, setup, teardown),
        cmocka_unit_test(test_malformed_meta_parse),
        cmocka_unit_test_setup_teardown(test_malformed_meta_cli, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_add_list_remove, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trust_check_internal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writable_by_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_owned_by_another_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_reports_problems, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
