/*
 * Reading a plugin's static info from its ELF file without loading it.
 *
 * The info is an ELF note (owner "Tenon") that linkers place in the first
 * page, right after the program headers, so one read of the file's first
 * 2 KiB normally holds the ELF header, the program headers and the note. Only
 * if a segment lies further in is a second, bounded read made. Every offset
 * and size is checked against the file size before it is used: the file is
 * untrusted input. The section header table is not read, but its position is
 * checked against the file size, which catches truncated files cheaply.
 * Architecture checks come first so a foreign file is named as such rather
 * than as malformed.
 *
 * We read these few structures ourselves instead of going through libelf:
 * libelf's errors are generic ("invalid section header"), so the distinct
 * reasons the inventory reports need these bounds checks anyway, and with
 * them in place libelf would only add allocations and reads to the scan.
 */
#include "internal.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#else
#error "unsupported host architecture: add its e_machine here"
#endif

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

#define REASON(...) tenon__reason(reason, reason_len, TENON_EINVAL, __VA_ARGS__)
#define NOMEM()     tenon__reason(reason, reason_len, TENON_ENOMEM, "out of memory")

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
        return tenon__reason(
            reason, reason_len, TENON_EABI,
            "32-bit ELF (ELFCLASS32); this host loads 64-bit plugins");
    }
    if (id[EI_CLASS] != ELFCLASS64)
        return REASON("invalid ELF class %u", id[EI_CLASS]);
    if (id[EI_DATA] == ELFDATA2MSB) {
        return tenon__reason(
            reason, reason_len, TENON_EABI,
            "big-endian ELF (ELFDATA2MSB); this host is little-endian");
    }
    if (id[EI_DATA] != ELFDATA2LSB)
        return REASON("invalid ELF data encoding %u", id[EI_DATA]);
    return 0;
}

#define HEAD_SIZE 2048u /* the first read: headers and, normally, notes */
#define NOTE_SEG_MAX                                                           \
    (1u << 20) /* a PT_NOTE segment larger than this is bogus */
#define PHDR_MAX 4096u

/* The section header table must lie inside the file; checked from the ELF
 * header alone. */
static int check_section_table(const Elf64_Ehdr *eh, uint64_t file_size,
                               char *reason, size_t reason_len)
{
    uint64_t end;
    if (eh->e_shoff == 0)
        return 0; /* stripped of section headers: legal for a loader */
    if (eh->e_shentsize != sizeof(Elf64_Shdr))
        return REASON("section header entry size %u; expected %zu",
                      eh->e_shentsize, sizeof(Elf64_Shdr));
    if (eh->e_shoff >= file_size)
        return REASON("section header table offset %llu is past the end of "
                      "the file (%llu bytes)",
                      (unsigned long long)eh->e_shoff,
                      (unsigned long long)file_size);
    end = eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr);
    if (end > file_size)
        return REASON("section header table truncated: %u sections at "
                      "offset %llu need %llu bytes, the file has %llu "
                      "(is the file cut short?)",
                      eh->e_shnum, (unsigned long long)eh->e_shoff,
                      (unsigned long long)end, (unsigned long long)file_size);
    return 0;
}

/* Bytes [off, off+len) of the file: from the head buffer when they are in
 * it, else read into *tmp (freed by the caller). */
static const unsigned char *file_range(tenon__read_at_fn read_at, void *ctx,
                                       const unsigned char *head,
                                       size_t head_len, uint64_t off,
                                       uint64_t len, unsigned char **tmp)
{
    if (off <= head_len && len <= head_len - off)
        return head + off;
    if (!(*tmp = malloc(len ? len : 1)))
        return NULL;
    if (read_at(ctx, *tmp, len, off) != 0) {
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    return *tmp;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Walk the notes of one PT_NOTE segment looking for the Tenon note.
 * Returns 1 and sets desc and descsz when found, 0 when absent, or a negative
 * code with a reason when the Tenon note itself is malformed. */
static int find_note(const unsigned char *seg, uint64_t len, uint64_t align,
                     const unsigned char **desc, uint32_t *descsz, char *reason,
                     size_t reason_len)
{
    static const char owner[] = TENON_NOTE_OWNER;
    uint64_t off = 0;
    /* off can step past len: aligning the end of a last note that fills the
     * segment exactly rounds up beyond it, and len - off would wrap. */
    while (off <= len && len - off >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, seg + off, sizeof nh);
        uint64_t name_off = off + sizeof nh;
        uint64_t desc_off = name_off + align_up(nh.n_namesz, align);
        int ours = nh.n_namesz == sizeof owner &&
                   len - name_off >= sizeof owner &&
                   memcmp(seg + name_off, owner, sizeof owner) == 0;
        if (desc_off > len || nh.n_descsz > len - desc_off) {
            if (ours)
                return REASON(
                    "the Tenon note's size (%u bytes) runs past the "
                    "end of its segment (%llu bytes left) and of "
                    "the file data",
                    nh.n_descsz,
                    (unsigned long long)(len -
                                         (desc_off < len ? desc_off : len)));
            return 0; /* someone else's malformed note: stop looking here */
        }
        if (ours && nh.n_type == TENON_NOTE_TYPE) {
            *desc = seg + desc_off;
            *descsz = nh.n_descsz;
            return 1;
        }
        off = align_up(desc_off + nh.n_descsz, align);
    }
    return 0;
}

static int copy_info(const unsigned char *desc, uint32_t size,
                     struct tenon__elf *out, char *reason, size_t reason_len)
{
    if (size == 0 || size > TENON__INFO_MAX)
        return REASON("%s note size %u out of range (1..%u bytes)",
                      TENON_INFO_SECTION, size, TENON__INFO_MAX);
    if (desc[size - 1] != '\0')
        return REASON("%s info does not end with a NUL byte; expected "
                      "NUL-terminated key=value strings",
                      TENON_INFO_SECTION);
    if (!(out->info = malloc(size)))
        return NOMEM();
    memcpy(out->info, desc, size);
    out->info_size = size;
    return 0;
}

static int read_notes(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                      const Elf64_Ehdr *eh, const unsigned char *head,
                      size_t head_len, struct tenon__elf *out, char *reason,
                      size_t reason_len)
{
    unsigned char *ptmp = NULL;
    const unsigned char *ph;
    uint64_t phlen = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
    int rc = 0, found = 0;

    if (eh->e_phnum == 0 || eh->e_phnum >= PHDR_MAX)
        return REASON("program header count %u out of range (1..%u); a "
                      "shared object has program headers",
                      eh->e_phnum, PHDR_MAX - 1);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return REASON("program header entry size %u; expected %zu",
                      eh->e_phentsize, sizeof(Elf64_Phdr));
    if (eh->e_phoff >= file_size || phlen > file_size - eh->e_phoff)
        return REASON("program header table (offset %llu, %llu bytes) "
                      "extends past the end of the file (%llu bytes)",
                      (unsigned long long)eh->e_phoff,
                      (unsigned long long)phlen, (unsigned long long)file_size);
    ph = file_range(read_at, ctx, head, head_len, eh->e_phoff, phlen, &ptmp);
    if (!ph)
        return REASON("read error in the program header table");
    for (unsigned i = 0; i < eh->e_phnum && !found && rc == 0; i++) {
        Elf64_Phdr p;
        unsigned char *stmp = NULL;
        const unsigned char *seg;
        const unsigned char *desc = NULL;
        uint32_t descsz = 0;
        memcpy(&p, ph + (size_t)i * sizeof p, sizeof p);
        if (p.p_type != PT_NOTE)
            continue;
        if (p.p_offset > file_size || p.p_filesz > file_size - p.p_offset) {
            rc = REASON("note segment (offset %llu, size %llu) extends past "
                        "the end of the file (%llu bytes)",
                        (unsigned long long)p.p_offset,
                        (unsigned long long)p.p_filesz,
                        (unsigned long long)file_size);
            break;
        }
        if (p.p_filesz > NOTE_SEG_MAX)
            continue;
        seg = file_range(read_at, ctx, head, head_len, p.p_offset, p.p_filesz,
                         &stmp);
        if (!seg) {
            rc = REASON("read error in a note segment");
            break;
        }
        found = find_note(seg, p.p_filesz, p.p_align == 8 ? 8 : 4, &desc,
                          &descsz, reason, reason_len);
        if (found < 0)
            rc = found;
        else if (found)
            rc = copy_info(desc, descsz, out, reason, reason_len);
        free(stmp);
    }
    free(ptmp);
    if (rc == 0 && !found)
        rc = REASON("no %s note: not a Tenon plugin (build it with "
                    "TENON_PLUGIN_INFO from <tenon/plugin.h>)",
                    TENON_INFO_SECTION);
    return rc;
}

int tenon__elf_read(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                    struct tenon__elf *out, char *reason, size_t reason_len)
{
    unsigned char head[HEAD_SIZE];
    Elf64_Ehdr eh;
    size_t have = file_size < sizeof head ? (size_t)file_size : sizeof head;
    int rc;

    memset(out, 0, sizeof *out);
    if (have && read_at(ctx, head, have, 0) != 0)
        return REASON("read error in the ELF header");
    rc = check_ident(head, have, reason, reason_len);
    out->elfclass = have >= EI_NIDENT ? head[EI_CLASS] : 0;
    if (rc)
        return rc;
    if (have < sizeof eh)
        return REASON("truncated ELF header (%zu of %zu bytes)", have,
                      sizeof eh);
    if (file_size == sizeof eh)
        return REASON("the file holds only an ELF header (%zu bytes); "
                      "expected program headers and the Tenon note after it",
                      sizeof eh);
    memcpy(&eh, head, sizeof eh);
    out->machine = eh.e_machine;
    if (eh.e_machine != HOST_MACHINE)
        return tenon__reason(
            reason, reason_len, TENON_EABI,
            "built for %s (e_machine %u); this host is %s (e_machine "
            "%u)",
            machine_name(eh.e_machine), eh.e_machine,
            machine_name(HOST_MACHINE), HOST_MACHINE);
    if (eh.e_type != ET_DYN)
        return REASON("ELF type %u is not a shared object (ET_DYN); build the "
                      "plugin with -shared",
                      eh.e_type);
    if ((rc = check_section_table(&eh, file_size, reason, reason_len)))
        return rc;
    return read_notes(read_at, ctx, file_size, &eh, head, have, out, reason,
                      reason_len);
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

static int fd_read_at(void *ctx, void *buf, size_t len, uint64_t off)
{
    int fd = *(int *)ctx;
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int tenon__elf_read_fd(int fd, uint64_t file_size, struct tenon__elf *out,
                       char *reason, size_t reason_len)
{
    return tenon__elf_read(fd_read_at, &fd, file_size, out, reason, reason_len);
}
