/*
 * Reading a plugin's static info from its ELF file without loading it.
 *
 * Only the ELF header, the section header table, the section name table and
 * the info section are read, each with one bounded read, and every offset and
 * size is checked against the file size before it is used: the file is
 * untrusted input. Architecture checks come first so a foreign file is named
 * as such rather than as malformed.
 *
 * We read the few structures we need ourselves instead of going through
 * libelf: libelf's errors are generic ("invalid section header"), so the
 * distinct reasons the inventory reports need these bounds checks anyway, and
 * with them in place libelf would only add allocations to the scan path.
 */
#include "internal.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#else
#error "unsupported host architecture: add its e_machine here"
#endif

#define SHDR_MAX 65536u /* more sections than any real plugin has */

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_386: return "x86 (i386)";
    case EM_X86_64: return "x86-64";
    case EM_ARM: return "ARM";
    case EM_AARCH64: return "AArch64";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "s390";
    case EM_MIPS: return "MIPS";
    default: return "unknown machine";
    }
}

static int fail(char *reason, size_t reason_len, int code, const char *fmt,
                ...) TENON_PRINTF(4, 5);
static int fail(char *reason, size_t reason_len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, reason_len, fmt, ap);
    va_end(ap);
    return code;
}

#define REASON(...) fail(reason, reason_len, TENON_EINVAL, __VA_ARGS__)
#define NOMEM() fail(reason, reason_len, TENON_ENOMEM, "out of memory")

static int check_ident(const unsigned char *id, size_t have, char *reason,
                       size_t reason_len)
{
    if (have == 0)
        return REASON("empty file; expected an ELF shared object");
    if (have < 4 || memcmp(id, ELFMAG, SELFMAG) != 0)
        return REASON("not an ELF file (no \\x7fELF magic at offset 0)");
    if (have < EI_NIDENT)
        return REASON("truncated ELF identification (%zu of %d bytes)", have,
                      EI_NIDENT);
    if (id[EI_CLASS] == ELFCLASS32) {
        return fail(reason, reason_len, TENON_EABI,
                    "32-bit ELF (ELFCLASS32); this host loads 64-bit plugins");
    }
    if (id[EI_CLASS] != ELFCLASS64)
        return REASON("invalid ELF class %u", id[EI_CLASS]);
    if (id[EI_DATA] == ELFDATA2MSB) {
        return fail(reason, reason_len, TENON_EABI,
                    "big-endian ELF (ELFDATA2MSB); this host is little-endian");
    }
    if (id[EI_DATA] != ELFDATA2LSB)
        return REASON("invalid ELF data encoding %u", id[EI_DATA]);
    return 0;
}

/* Index of the section name table, following the extended numbering rules
 * (e_shstrndx == SHN_XINDEX keeps the real index in section 0's sh_link). */
static uint64_t shstrndx(const Elf64_Ehdr *eh, const Elf64_Shdr *sh)
{
    return eh->e_shstrndx == SHN_XINDEX ? sh[0].sh_link : eh->e_shstrndx;
}

static int read_section_table(tenon__read_at_fn read_at, void *ctx,
                              uint64_t file_size, const Elf64_Ehdr *eh,
                              Elf64_Shdr **out, uint64_t *count, char *reason,
                              size_t reason_len)
{
    uint64_t n = eh->e_shnum;
    Elf64_Shdr first;

    if (eh->e_shoff == 0)
        return REASON("no section header table; expected one holding %s",
                      TENON_INFO_SECTION);
    if (eh->e_shentsize != sizeof(Elf64_Shdr))
        return REASON("section header entry size %u; expected %zu",
                      eh->e_shentsize, sizeof(Elf64_Shdr));
    if (eh->e_shoff >= file_size)
        return REASON("section header table offset %llu is past the end of "
                      "the file (%llu bytes)",
                      (unsigned long long)eh->e_shoff,
                      (unsigned long long)file_size);
    if (n == 0) { /* extended numbering: the count is in section 0 */
        if (file_size - eh->e_shoff < sizeof first ||
            read_at(ctx, &first, sizeof first, eh->e_shoff) != 0)
            return REASON("section header table truncated at section 0");
        n = first.sh_size;
    }
    if (n == 0 || n > SHDR_MAX)
        return REASON("section count %llu out of range (1..%u)",
                      (unsigned long long)n, SHDR_MAX);
    if (n * sizeof(Elf64_Shdr) > file_size - eh->e_shoff)
        return REASON("section header table truncated: %llu sections at "
                      "offset %llu need %llu bytes, the file has %llu",
                      (unsigned long long)n, (unsigned long long)eh->e_shoff,
                      (unsigned long long)(eh->e_shoff +
                                           n * sizeof(Elf64_Shdr)),
                      (unsigned long long)file_size);
    *out = malloc(n * sizeof(Elf64_Shdr));
    if (!*out)
        return NOMEM();
    if (read_at(ctx, *out, n * sizeof(Elf64_Shdr), eh->e_shoff) != 0) {
        free(*out);
        *out = NULL;
        return REASON("read error in the section header table");
    }
    *count = n;
    return 0;
}

/* Bounds of a section's bytes inside the file, or a reason. */
static int section_in_file(const Elf64_Shdr *s, uint64_t file_size,
                           const char *what, char *reason, size_t reason_len)
{
    if (s->sh_type == SHT_NOBITS)
        return REASON("%s has no bytes in the file (SHT_NOBITS)", what);
    if (s->sh_offset > file_size || s->sh_size > file_size - s->sh_offset)
        return REASON("%s (offset %llu, size %llu) extends past the end of "
                      "the file (%llu bytes)",
                      what, (unsigned long long)s->sh_offset,
                      (unsigned long long)s->sh_size,
                      (unsigned long long)file_size);
    return 0;
}

static int find_info(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                     const Elf64_Ehdr *eh, const Elf64_Shdr *sh, uint64_t n,
                     struct tenon__elf *out, char *reason, size_t reason_len)
{
    static const char want[] = TENON_INFO_SECTION;
    uint64_t si = shstrndx(eh, sh);
    const Elf64_Shdr *strs, *info = NULL;
    char *names;
    int rc;

    if (si == SHN_UNDEF || si >= n)
        return REASON("section name table index %llu out of range (1..%llu)",
                      (unsigned long long)si, (unsigned long long)n - 1);
    strs = &sh[si];
    rc = section_in_file(strs, file_size, "the section name table", reason,
                         reason_len);
    if (rc)
        return rc;
    if (strs->sh_size > 16u * 1024 * 1024)
        return REASON("section name table of %llu bytes is implausibly large",
                      (unsigned long long)strs->sh_size);
    names = malloc(strs->sh_size + 1);
    if (!names)
        return NOMEM();
    if (read_at(ctx, names, strs->sh_size, strs->sh_offset) != 0) {
        free(names);
        return REASON("read error in the section name table");
    }
    names[strs->sh_size] = '\0';
    for (uint64_t i = 1; i < n; i++) {
        uint32_t off = sh[i].sh_name;
        if (off < strs->sh_size && strs->sh_size - off >= sizeof want &&
            memcmp(names + off, want, sizeof want) == 0) {
            info = &sh[i];
            break;
        }
    }
    free(names);
    if (!info)
        return REASON("no %s section: not a Tenon plugin (build it with "
                      "TENON_PLUGIN_INFO from <tenon/plugin.h>)",
                      TENON_INFO_SECTION);
    rc = section_in_file(info, file_size, "the " TENON_INFO_SECTION " section",
                         reason, reason_len);
    if (rc)
        return rc;
    if (info->sh_size == 0 || info->sh_size > TENON__INFO_MAX)
        return REASON("%s section size %llu out of range (1..%u bytes)",
                      TENON_INFO_SECTION, (unsigned long long)info->sh_size,
                      TENON__INFO_MAX);
    out->info = malloc(info->sh_size);
    if (!out->info)
        return NOMEM();
    if (read_at(ctx, out->info, info->sh_size, info->sh_offset) != 0) {
        free(out->info);
        out->info = NULL;
        return REASON("read error in the %s section", TENON_INFO_SECTION);
    }
    out->info_size = info->sh_size;
    if (out->info[out->info_size - 1] != '\0') {
        free(out->info);
        out->info = NULL;
        return REASON("%s section does not end with a NUL byte; expected "
                      "NUL-terminated key=value strings",
                      TENON_INFO_SECTION);
    }
    return 0;
}

int tenon__elf_read(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                    struct tenon__elf *out, char *reason, size_t reason_len)
{
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    uint64_t n = 0;
    size_t have = file_size < sizeof eh ? (size_t)file_size : sizeof eh;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&eh, 0, sizeof eh);
    if (have && read_at(ctx, &eh, have, 0) != 0)
        return REASON("read error in the ELF header");
    rc = check_ident(eh.e_ident, have, reason, reason_len);
    out->elfclass = have >= EI_NIDENT ? eh.e_ident[EI_CLASS] : 0;
    if (rc)
        return rc;
    if (have < sizeof eh)
        return REASON("truncated ELF header (%zu of %zu bytes)", have,
                      sizeof eh);
    out->machine = eh.e_machine;
    if (eh.e_machine != HOST_MACHINE) {
        return fail(reason, reason_len, TENON_EABI,
                    "built for %s (e_machine %u); this host is %s (e_machine "
                    "%u)",
                    machine_name(eh.e_machine), eh.e_machine,
                    machine_name(HOST_MACHINE), HOST_MACHINE);
    }
    if (eh.e_type != ET_DYN)
        return REASON("ELF type %u is not a shared object (ET_DYN); build the "
                      "plugin with -shared",
                      eh.e_type);
    rc = read_section_table(read_at, ctx, file_size, &eh, &sh, &n, reason,
                            reason_len);
    if (rc)
        return rc;
    rc = find_info(read_at, ctx, file_size, &eh, sh, n, out, reason,
                   reason_len);
    free(sh);
    return rc;
}

struct mem {
    const unsigned char *p;
    size_t n;
};

static int mem_read_at(void *ctx, void *buf, size_t len, uint64_t off)
{
    const struct mem *m = ctx;
    if (off > m->n || len > m->n - off)
        return -1;
    memcpy(buf, m->p + off, len);
    return 0;
}

int tenon__elf_read_mem(const void *data, size_t size, struct tenon__elf *out,
                        char *reason, size_t reason_len)
{
    struct mem m = {data, size};
    return tenon__elf_read(mem_read_at, &m, size, out, reason, reason_len);
}
