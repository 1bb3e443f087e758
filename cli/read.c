/* tenon read: bytes of an address space, as a hexdump or as they are. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon read [-o NAME[:ARGS]]... [-c NAME[:ARGS]]... ADDR LEN\n"
    "                  [--raw] [--json] [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "Read LEN bytes at ADDR from the tenon.memory/1 provider the chain ends\n"
    "in, e.g. one process of the running system (-o native -c "
    "process:pid=PID,\n"
    "or just -c process:pid=PID: a first step that needs an input gets the\n"
    "best provider of it) or a core file (-o coredump:FILE). ADDR and LEN\n"
    "are decimal or hexadecimal after 0x; LEN may end in k, m or g (KiB,\n"
    "MiB, GiB). Prints a hexdump: 16 bytes a line with their address and\n"
    "their ASCII form. A read that stops short prints the bytes before the\n"
    "first unreadable address, then fails naming it.\n"
    "\n"
    "  --raw                         write the bytes to stdout as they are\n"
    "  --json                        print one JSON object: address (a hex\n"
    "                                string), length, read (bytes read), "
    "hex\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 when all LEN bytes were read, 1 when some were not or\n"
    "the address space failed, 2 on a usage error.\n";

#define CHUNK (1u << 20) /* a multiple of 16: lines stay whole */

struct out {
    int raw;
    int digits;  /* of an address in the hexdump */
    char *hex;   /* --json: the bytes in hex so far */
    size_t nhex; /* digits in hex */
};

static void hexdump(const struct out *o, uint64_t addr, const unsigned char *p,
                    size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        size_t len = n - off < 16 ? n - off : 16;
        char line[128];
        int k = snprintf(line, sizeof line, "%0*llx ", o->digits,
                         (unsigned long long)(addr + off));
        for (size_t i = 0; i < 16; i++) {
            if (i == 8)
                line[k++] = ' ';
            if (i < len)
                k += snprintf(line + k, sizeof line - (size_t)k, " %02x",
                              p[off + i]);
            else
                k += snprintf(line + k, sizeof line - (size_t)k, "   ");
        }
        k += snprintf(line + k, sizeof line - (size_t)k, "  |");
        for (size_t i = 0; i < len; i++) {
            unsigned char c = p[off + i];
            line[k++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
        }
        line[k++] = '|';
        line[k++] = '\n';
        fwrite(line, 1, (size_t)k, stdout);
    }
}

static int emit(struct out *o, uint64_t addr, const unsigned char *p, size_t n)
{
    if (o->hex) {
        tenon__hex_encode(p, n, o->hex + o->nhex); /* room for 2 * LEN + 1 */
        o->nhex += 2 * n;
        return 0;
    }
    if (o->raw)
        return fwrite(p, 1, n, stdout) == n ? 0 : -1;
    hexdump(o, addr, p, n);
    return 0;
}

/* Parse ADDR and LEN. */
static int operands(const struct tool_opts *o, uint64_t *addr, uint64_t *len)
{
    if (o->npositional != 2) {
        tool_error("read", "expected ADDR LEN; see 'tenon read --help'");
        return EXIT_USAGE;
    }
    if (tool_parse_u64(o->positional[0], 0, addr)) {
        tool_error("read",
                   "ADDR '%s': expected an address, decimal or 0x "
                   "hexadecimal",
                   o->positional[0]);
        return EXIT_USAGE;
    }
    if (tool_parse_u64(o->positional[1], 1, len) || *len == 0) {
        tool_error("read",
                   "LEN '%s': expected a length of at least 1, decimal or 0x "
                   "hexadecimal, optionally followed by k, m or g",
                   o->positional[1]);
        return EXIT_USAGE;
    }
    if (*len - 1 > UINT64_MAX - *addr) {
        tool_error("read", "ADDR + LEN is past the end of a 64-bit address "
                           "space");
        return EXIT_USAGE;
    }
    /* --json holds the bytes in memory as hex; the other forms stream. */
    if (o->json && *len > SIZE_MAX / 2 - 1) {
        tool_error("read", "LEN '%s' is too large for --json",
                   o->positional[1]);
        return EXIT_USAGE;
    }
    if (o->json && o->raw) {
        tool_error("read", "--raw and --json exclude each other");
        return EXIT_USAGE;
    }
    /* The bytes are the target's: to a terminal they could be escape
     * sequences that drive it. */
    if (o->raw && isatty(STDOUT_FILENO)) {
        tool_error("read", "refusing to write raw bytes to a terminal; "
                           "redirect stdout or drop --raw");
        return EXIT_USAGE;
    }
    return 0;
}

static int print_json(const struct out *o, uint64_t addr, uint64_t len,
                      uint64_t done)
{
    json_t *j = json_object();
    char a[24];
    snprintf(a, sizeof a, "0x%llx", (unsigned long long)addr);
    json_object_set_new(j, "address", json_string(a));
    json_object_set_new(j, "length", json_integer((json_int_t)len));
    json_object_set_new(j, "read", json_integer((json_int_t)done));
    json_object_set_new(j, "hex", json_stringn(o->hex, o->nhex));
    return tool_print_json(j);
}

#define SHORT 3 /* copy(): a read stopped at an unreadable byte */

/* Read and emit [addr, addr + len), *done counting the bytes emitted:
 * EXIT_OK, SHORT, or EXIT_FAIL after saying why. */
static int copy(tenon_instance_t *inst, const struct tenon_memory_v1 *mem,
                void *obj, struct out *o, uint64_t addr, uint64_t len,
                uint64_t *done)
{
    unsigned char *buf = malloc(len < CHUNK ? (size_t)len : CHUNK);
    int rc = EXIT_OK;
    *done = 0;
    if (!buf) {
        tool_error("read", "out of memory");
        return EXIT_FAIL;
    }
    while (*done < len) {
        size_t want = len - *done < CHUNK ? (size_t)(len - *done) : CHUNK, got;
        int err = mem->read(obj, addr + *done, buf, want, &got);
        if (got > want)
            got = want;
        if (emit(o, addr + *done, buf, got)) {
            tool_error("read", "writing to stdout: %s", strerror(errno));
            rc = EXIT_FAIL;
            break;
        }
        *done += got;
        if (err) {
            rc = tool_provider_error("read", inst, err, "reading");
            break;
        }
        if (got < want) {
            rc = SHORT;
            break;
        }
    }
    free(buf);
    return rc;
}

int cmd_read(int argc, char **argv)
{
    struct tool_opts o = {0};
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    struct out out = {0};
    uint64_t addr, len, done = 0, last;
    tenon_t *t;
    int rc = tool_parse(
        "read", usage, argc, argv,
        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN | OPT_RAW, 2, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if ((rc = operands(&o, &addr, &len)))
        return rc;
    out.raw = o.raw;
    last = addr + len - 1;
    for (out.digits = 8; out.digits < 16 && last >> (4 * out.digits);)
        out.digits++;
    if (o.json && !(out.hex = malloc((size_t)len * 2 + 1))) {
        tool_error("read", "out of memory");
        return EXIT_FAIL;
    }
    if (!(t = tool_open(&o))) {
        free(out.hex);
        return EXIT_FAIL;
    }
    if (!(rc = tool_chain_open("read", t, &o, TENON_MEMORY_ID, &inst, &vt,
                               &obj))) {
        rc = copy(inst, vt, obj, &out, addr, len, &done);
        if (o.json && print_json(&out, addr, len, done) != EXIT_OK)
            rc = EXIT_FAIL;
        if (fflush(stdout) != 0 && rc != EXIT_FAIL) {
            tool_error("read", "writing to stdout: %s", strerror(errno));
            rc = EXIT_FAIL;
        }
        /* After the bytes that were read, which tool_error() flushes. */
        if (rc == SHORT && done)
            tool_error("read",
                       "address 0x%llx is not readable (read %llu of %llu "
                       "bytes)",
                       (unsigned long long)(addr + done),
                       (unsigned long long)done, (unsigned long long)len);
        else if (rc == SHORT)
            tool_error("read", "address 0x%llx is not readable",
                       (unsigned long long)addr);
        if (rc == SHORT)
            rc = EXIT_FAIL;
        tenon_destroy(inst);
    }
    free(out.hex);
    tenon_close(t);
    return rc;
}
