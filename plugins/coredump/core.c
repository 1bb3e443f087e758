/*
 * core.c - the ELF core file reader behind the coredump plugin (core.h).
 *
 * Layouts, from the kernel's fs/binfmt_elf.c and <sys/procfs.h> for
 * x86-64 (checked against that header below when built there):
 *   - NT_PRSTATUS, one per thread, 336 bytes: pr_pid (the tid) at 32, the
 *     general registers (27 longs, rsp the 20th) at 112;
 *   - NT_PRPSINFO, 136 bytes: pr_sname at 1, pr_uid at 16, pr_pid at 24,
 *     pr_ppid at 28, pr_fname[16] at 40, pr_psargs[80] at 56;
 *   - NT_FILE: count, page_size, then count x {start, end, page offset},
 *     then count NUL-terminated names, all longs 8 bytes;
 *   - NT_AUXV: the auxiliary vector, pairs of longs.
 * The kernel writes a PT_LOAD for every mapping, with p_filesz short of
 * p_memsz where it left pages out (file-backed ones it did not change,
 * keeping the first page of an ELF file); gcore leaves such mappings out
 * altogether, and NT_FILE still names them. Both give the owner "CORE" to
 * these notes.
 *
 * Every field is assembled byte by byte from an offset checked against the
 * bytes that are there: no pointer into the file is ever cast to a struct,
 * so neither alignment nor the host's byte order matters.
 */
#include "core.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tenon/memory.h>

#if defined(__x86_64__) && defined(__linux__)
#include <stddef.h>
#include <sys/procfs.h>
_Static_assert(sizeof(struct elf_prstatus) == 336, "elf_prstatus size");
_Static_assert(offsetof(struct elf_prstatus, pr_pid) == 32, "pr_pid");
_Static_assert(offsetof(struct elf_prstatus, pr_reg) == 112, "pr_reg");
_Static_assert(sizeof(struct elf_prpsinfo) == 136, "elf_prpsinfo size");
_Static_assert(offsetof(struct elf_prpsinfo, pr_sname) == 1, "pr_sname");
_Static_assert(offsetof(struct elf_prpsinfo, pr_uid) == 16, "pr_uid");
_Static_assert(offsetof(struct elf_prpsinfo, pr_pid) == 24, "pr_pid");
_Static_assert(offsetof(struct elf_prpsinfo, pr_ppid) == 28, "pr_ppid");
_Static_assert(offsetof(struct elf_prpsinfo, pr_fname) == 40, "pr_fname");
_Static_assert(offsetof(struct elf_prpsinfo, pr_psargs) == 56, "pr_psargs");
#endif

#define PRSTATUS_SIZE   336
#define PRSTATUS_PID    32
#define PRSTATUS_RSP    (112 + 19 * 8)
#define PRPSINFO_SIZE   136
#define PRPSINFO_SNAME  1
#define PRPSINFO_UID    16
#define PRPSINFO_PID    24
#define PRPSINFO_PPID   28
#define PRPSINFO_FNAME  40
#define PRPSINFO_PSARGS 56
#define EHDR_SIZE       64
#define PHDR_SIZE       56
#define NOTE_HDR        12
#define FILE_ENTRY      24
/* How much of a mapped file's first bytes the core's copy is compared
 * with (coredump.c) and searched for program headers (infer_prot). */
#define HEAD_MAX 4096u

static const char supported[] = "only 64-bit little-endian x86-64 cores "
                                "(ELFCLASS64, ELFDATA2LSB, EM_X86_64) "
                                "are supported";

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* qsort(), which must not be given a NULL array even when it is empty. */
static void sort(void *base, size_t n, size_t size,
                 int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static uint64_t align4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

typedef unsigned long long ull;

/* One PT_LOAD, while parsing. */
struct load {
    uint64_t vaddr, end, filesz, off;
    uint32_t prot, index;
};

/* One NT_FILE entry, while parsing. */
struct fent {
    uint64_t start, end, off;
    const char *path;
    uint32_t file, index;
};

struct parse {
    struct core *c;
    const char *name;
    core_pin_fn pin;
    void *pin_ud;
    char *err;
    size_t errlen;

    struct load *loads;
    size_t nloads;
    struct fent *fents;
    size_t nfents;
    size_t cap_pieces;

    /* the notes we use, found by the first walk */
    size_t nprstatus, tids_cap;
    const unsigned char *prpsinfo, *ntfile;
    uint32_t ntfile_len;
    uint64_t main_rsp;
    int have_rsp;
};

TENON_PRINTF(3, 4)
static int fail(struct parse *ps, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    return code;
}

static int pin(struct parse *ps, uint64_t off, uint64_t len)
{
    if (!ps->pin || len == 0 || ps->pin(ps->pin_ud, off, len) == 0)
        return 0;
    return fail(ps, TENON_EIO,
                "%s changed while it was being read: bytes %llu to %llu "
                "are gone (was it truncated?)",
                ps->name, (ull)off, (ull)(off + len));
}

static uint32_t prot_of(uint32_t p_flags)
{
    return (p_flags & PF_R ? TENON_PROT_READ : 0) |
           (p_flags & PF_W ? TENON_PROT_WRITE : 0) |
           (p_flags & PF_X ? TENON_PROT_EXEC : 0);
}

/* ---- ELF header and program headers -------------------------------------- */

static const char *type_name(uint16_t t)
{
    switch (t) {
    case ET_NONE: return "an ELF file of no type (ET_NONE)";
    case ET_REL: return "an ELF relocatable object";
    case ET_EXEC: return "an ELF executable";
    case ET_DYN: return "an ELF shared object";
    default: return NULL;
    }
}

static const char *machine_name(uint16_t m)
{
    switch (m) {
    case EM_386: return "i386 (EM_386)";
    case EM_ARM: return "ARM (EM_ARM)";
    case EM_AARCH64: return "AArch64 (EM_AARCH64)";
    case EM_PPC64: return "PowerPC 64 (EM_PPC64)";
    case EM_S390: return "s390 (EM_S390)";
    case EM_RISCV: return "RISC-V (EM_RISCV)";
    default: return "another machine";
    }
}

static int check_ehdr(struct parse *ps)
{
    const unsigned char *d = ps->c->data;
    size_t size = ps->c->size;
    const char *n = ps->name;
    int rc;

    if (size == 0)
        return fail(ps, TENON_EINVAL,
                    "%s is empty (0 bytes), expected an ELF core file", n);
    if ((rc = pin(ps, 0, size < EHDR_SIZE ? size : EHDR_SIZE)))
        return rc;
    if (size < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
        return fail(ps, TENON_EINVAL,
                    "%s is not an ELF file: it does not start with the ELF "
                    "magic 7f 45 4c 46, expected an ELF core file",
                    n);
    if (size > EI_CLASS && d[EI_CLASS] != ELFCLASS64)
        return fail(ps, TENON_EINVAL, "%s is %s; %s", n,
                    d[EI_CLASS] == ELFCLASS32 ? "a 32-bit ELF file (ELFCLASS32)"
                                              : "an ELF file of unknown class",
                    supported);
    if (size > EI_DATA && d[EI_DATA] != ELFDATA2LSB)
        return fail(ps, TENON_EINVAL, "%s is %s; %s", n,
                    d[EI_DATA] == ELFDATA2MSB
                        ? "a big-endian ELF file (ELFDATA2MSB)"
                        : "an ELF file of unknown byte order",
                    supported);
    if (size < EHDR_SIZE)
        return fail(ps, TENON_EINVAL,
                    "%s is truncated: %zu bytes, an ELF64 header needs 64", n,
                    size);
    uint16_t type = rd16(d + 16), machine = rd16(d + 18);
    if (type != ET_CORE) {
        const char *what = type_name(type);
        if (what)
            return fail(ps, TENON_EINVAL, "%s is %s, not a core file (ET_CORE)",
                        n, what);
        return fail(ps, TENON_EINVAL,
                    "%s is an ELF file of type %u, not a core file (ET_CORE)",
                    n, type);
    }
    if (machine != EM_X86_64)
        return fail(ps, TENON_EINVAL,
                    "%s is a core file for %s, e_machine %u; %s", n,
                    machine_name(machine), machine, supported);
    return 0;
}

/* The program header count, following PN_XNUM to section header 0 as the
 * kernel writes it for more than 65534 mappings. */
static int phdr_count(struct parse *ps, uint64_t *count)
{
    const unsigned char *d = ps->c->data;
    size_t size = ps->c->size;
    uint64_t shoff = rd64(d + 40);
    int rc;

    *count = rd16(d + 56);
    if (*count != PN_XNUM)
        return 0;
    if (rd16(d + 58) != sizeof(Elf64_Shdr) || shoff > size ||
        size - shoff < sizeof(Elf64_Shdr))
        return fail(ps, TENON_EINVAL,
                    "%s: e_phnum is PN_XNUM, but section header 0, which "
                    "holds the real count, is not in the file (e_shoff "
                    "%llu, the file has %zu bytes)",
                    ps->name, (ull)shoff, size);
    if ((rc = pin(ps, shoff, sizeof(Elf64_Shdr))))
        return rc;
    *count = rd32(d + shoff + 44); /* sh_info */
    return 0;
}

static int load_cmp(const void *a, const void *b)
{
    const struct load *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Checks every program header and collects the PT_LOAD segments, sorted by
 * address and checked not to overlap. */
static int read_phdrs(struct parse *ps, uint64_t *phoff, uint64_t *phnum)
{
    const unsigned char *d = ps->c->data;
    size_t size = ps->c->size;
    const char *n = ps->name;
    uint64_t notes = 0, cut_end = 0, cut_vaddr = 0, note_end = 0;
    uint32_t cut_index = 0, note_index = 0;
    int cut = 0, note_cut = 0, rc;
    size_t nloads = 0;

    *phoff = rd64(d + 32);
    if ((rc = phdr_count(ps, phnum)))
        return rc;
    if (*phnum == 0)
        return fail(ps, TENON_EINVAL,
                    "%s has no program headers; a core file has a PT_NOTE "
                    "segment and PT_LOAD segments",
                    n);
    if (rd16(d + 54) != PHDR_SIZE)
        return fail(ps, TENON_EINVAL,
                    "%s: program header entries are %u bytes, expected 56 "
                    "(Elf64_Phdr)",
                    n, rd16(d + 54));
    if (*phnum > CORE_MAX_SEGMENTS)
        return fail(ps, TENON_EINVAL,
                    "%s has %llu program headers, more than the %u this "
                    "reader takes",
                    n, (ull)*phnum, CORE_MAX_SEGMENTS);
    if (*phoff > size || *phnum * PHDR_SIZE > size - *phoff)
        return fail(ps, TENON_EINVAL,
                    "%s: the program headers (%llu x 56 bytes at offset "
                    "%llu) run past the end of the file (%zu bytes)",
                    n, (ull)*phnum, (ull)*phoff, size);
    if ((rc = pin(ps, *phoff, *phnum * PHDR_SIZE)))
        return rc;

    for (uint32_t i = 0; i < *phnum; i++) {
        const unsigned char *p = d + *phoff + (uint64_t)i * PHDR_SIZE;
        uint32_t type = rd32(p);
        uint64_t off = rd64(p + 8), vaddr = rd64(p + 16), filesz = rd64(p + 32),
                 memsz = rd64(p + 40);
        if (type == PT_LOAD) {
            if (filesz > memsz)
                return fail(ps, TENON_EINVAL,
                            "%s: segment %u (PT_LOAD at 0x%llx) has p_filesz "
                            "%llu larger than its p_memsz %llu",
                            n, i, (ull)vaddr, (ull)filesz, (ull)memsz);
            if (vaddr > UINT64_MAX - memsz)
                return fail(ps, TENON_EINVAL,
                            "%s: segment %u (PT_LOAD at 0x%llx, %llu bytes) "
                            "runs past the end of the address space",
                            n, i, (ull)vaddr, (ull)memsz);
            if (off > UINT64_MAX - filesz)
                return fail(ps, TENON_EINVAL,
                            "%s: segment %u (PT_LOAD at 0x%llx) has offset "
                            "%llu and size %llu, past the end of any file",
                            n, i, (ull)vaddr, (ull)off, (ull)filesz);
            /* Of the segments a truncation cut, name the one that
             * needed the most. */
            if (off + filesz > size && (!cut || off + filesz > cut_end)) {
                cut = 1;
                cut_end = off + filesz;
                cut_index = i;
                cut_vaddr = vaddr;
            }
            nloads += memsz != 0;
        } else if (type == PT_NOTE) {
            if (off > UINT64_MAX - filesz)
                return fail(ps, TENON_EINVAL,
                            "%s: segment %u (PT_NOTE) has offset %llu and "
                            "size %llu, past the end of any file",
                            n, i, (ull)off, (ull)filesz);
            if (off + filesz > size && !note_cut) {
                note_cut = 1;
                note_end = off + filesz;
                note_index = i;
            }
            notes += filesz < size ? filesz : size;
        }
    }

    if (cut)
        return fail(ps, TENON_EINVAL,
                    "%s: truncated core: segment %u (PT_LOAD at 0x%llx) needs "
                    "bytes up to %llu, the file has %zu",
                    n, cut_index, (ull)cut_vaddr, (ull)cut_end, size);
    if (note_cut)
        return fail(ps, TENON_EINVAL,
                    "%s: truncated core: segment %u (PT_NOTE) needs bytes up "
                    "to %llu, the file has %zu",
                    n, note_index, (ull)note_end, size);
    if (notes > CORE_MAX_NOTE_BYTES)
        return fail(ps, TENON_EINVAL,
                    "%s has %llu bytes of notes, more than the %u this reader "
                    "takes",
                    n, (ull)notes, CORE_MAX_NOTE_BYTES);
    if (nloads && !(ps->loads = calloc(nloads, sizeof *ps->loads)))
        return fail(ps, TENON_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < *phnum; i++) {
        const unsigned char *p = d + *phoff + (uint64_t)i * PHDR_SIZE;
        uint64_t memsz = rd64(p + 40);
        if (rd32(p) != PT_LOAD || memsz == 0)
            continue;
        struct load *l = &ps->loads[ps->nloads++];
        l->vaddr = rd64(p + 16);
        l->end = l->vaddr + memsz;
        l->off = rd64(p + 8);
        l->filesz = rd64(p + 32);
        l->prot = prot_of(rd32(p + 4));
        l->index = i;
    }
    sort(ps->loads, ps->nloads, sizeof *ps->loads, load_cmp);
    for (size_t i = 1; i < ps->nloads; i++) {
        const struct load *a = &ps->loads[i - 1], *b = &ps->loads[i];
        if (b->vaddr < a->end) {
            const struct load *lo = a->index < b->index ? a : b,
                              *hi = a->index < b->index ? b : a;
            return fail(ps, TENON_EINVAL,
                        "%s: segments %u and %u overlap in memory "
                        "(0x%llx-0x%llx and 0x%llx-0x%llx)",
                        n, lo->index, hi->index, (ull)lo->vaddr, (ull)lo->end,
                        (ull)hi->vaddr, (ull)hi->end);
        }
    }
    return 0;
}

/* ---- notes --------------------------------------------------------------- */

static int is_core_owner(const unsigned char *name, uint32_t namesz)
{
    return namesz == 5 && memcmp(name, "CORE", 5) == 0;
}

static int note_size(struct parse *ps, const char *what, uint32_t k,
                     uint32_t seg, uint32_t descsz, uint32_t want)
{
    if (descsz == want)
        return 0;
    return fail(ps, TENON_EINVAL,
                "%s: %s note %u in segment %u has %u bytes, expected %u "
                "(x86-64 struct elf_%s)",
                ps->name, what, k, seg, descsz, want,
                want == PRSTATUS_SIZE ? "prstatus" : "prpsinfo");
}

static int twice(struct parse *ps, const char *what)
{
    return fail(ps, TENON_EINVAL, "%s has two %s notes; a core file has one",
                ps->name, what);
}

/* One note of owner CORE. `fill` is 0 on the first walk, which checks and
 * counts, and 1 on the second, which records the threads. */
static int note(struct parse *ps, int fill, uint32_t seg, uint32_t k,
                uint32_t type, const unsigned char *desc, uint32_t descsz)
{
    struct core *c = ps->c;
    int rc;

    switch (type) {
    case NT_PRSTATUS:
        if (fill) {
            uint32_t tid = rd32(desc + PRSTATUS_PID);
            if (ps->nprstatus == ps->tids_cap) /* the bytes changed */
                return fail(ps, TENON_EIO,
                            "%s changed while it was being "
                            "read",
                            ps->name);
            if (ps->nprstatus == 0)
                c->first_tid = tid;
            c->tids[ps->nprstatus++] = tid;
            if (ps->prpsinfo && tid == c->pid && !ps->have_rsp) {
                ps->main_rsp = rd64(desc + PRSTATUS_RSP);
                ps->have_rsp = 1;
            }
            return 0;
        }
        if ((rc = note_size(ps, "NT_PRSTATUS", k, seg, descsz, PRSTATUS_SIZE)))
            return rc;
        if (++ps->nprstatus > CORE_MAX_THREADS)
            return fail(ps, TENON_EINVAL,
                        "%s has more than %u NT_PRSTATUS notes (threads), "
                        "more than this reader takes",
                        ps->name, CORE_MAX_THREADS);
        return 0;
    case NT_PRPSINFO:
        if (fill)
            return 0;
        if ((rc = note_size(ps, "NT_PRPSINFO", k, seg, descsz, PRPSINFO_SIZE)))
            return rc;
        if (ps->prpsinfo)
            return twice(ps, "NT_PRPSINFO");
        ps->prpsinfo = desc;
        return 0;
    case NT_AUXV:
        if (fill)
            return 0;
        if (c->auxv)
            return twice(ps, "NT_AUXV");
        c->auxv = desc;
        c->auxv_len = descsz;
        return 0;
    case NT_FILE:
        if (fill)
            return 0;
        if (ps->ntfile)
            return twice(ps, "NT_FILE");
        ps->ntfile = desc;
        ps->ntfile_len = descsz;
        return 0;
    default: return 0;
    }
}

static int walk_notes(struct parse *ps, int fill, uint32_t seg, uint64_t off,
                      uint64_t len)
{
    const unsigned char *base = ps->c->data + off;
    uint64_t pos = 0;
    int rc;

    for (uint32_t k = 0; pos < len; k++) {
        uint64_t left = len - pos;
        if (left < NOTE_HDR)
            return fail(ps, TENON_EINVAL,
                        "%s: note %u in segment %u (at file offset %llu) is "
                        "cut: a note header needs 12 bytes, the segment has "
                        "%llu left",
                        ps->name, k, seg, (ull)(off + pos), (ull)left);
        const unsigned char *p = base + pos;
        uint32_t namesz = rd32(p), descsz = rd32(p + 4), type = rd32(p + 8);
        uint64_t need = NOTE_HDR + align4(namesz) + (uint64_t)descsz;
        if (need > left)
            return fail(ps, TENON_EINVAL,
                        "%s: note %u in segment %u (at file offset %llu) has "
                        "namesz %u and descsz %u, which run past the end of "
                        "its segment (%llu bytes left)",
                        ps->name, k, seg, (ull)(off + pos), namesz, descsz,
                        (ull)left);
        if (is_core_owner(p + NOTE_HDR, namesz) &&
            (rc = note(ps, fill, seg, k, type, p + NOTE_HDR + align4(namesz),
                       descsz)))
            return rc;
        need = NOTE_HDR + align4(namesz) + align4(descsz);
        pos += need < left ? need : left; /* the last note's padding may
                                             be left out */
    }
    return 0;
}

static int walk_all_notes(struct parse *ps, int fill, uint64_t phoff,
                          uint64_t phnum)
{
    const unsigned char *d = ps->c->data;
    int rc;
    for (uint32_t i = 0; i < phnum; i++) {
        const unsigned char *p = d + phoff + (uint64_t)i * PHDR_SIZE;
        if (rd32(p) != PT_NOTE)
            continue;
        uint64_t off = rd64(p + 8), len = rd64(p + 32);
        if ((!fill && (rc = pin(ps, off, len))) ||
            (rc = walk_notes(ps, fill, i, off, len)))
            return rc;
    }
    return 0;
}

static int tid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void read_prpsinfo(struct core *c, const unsigned char *p)
{
    char s = (char)p[PRPSINFO_SNAME];
    c->state = s && strchr("RSDZTtXI", s) ? s : '?';
    c->uid = rd32(p + PRPSINFO_UID);
    c->pid = rd32(p + PRPSINFO_PID);
    c->ppid = rd32(p + PRPSINFO_PPID);
    memcpy(c->name, p + PRPSINFO_FNAME, 16);
    c->name[16] = '\0';
    memcpy(c->args, p + PRPSINFO_PSARGS, 80);
    c->args[80] = '\0';
    /* The kernel joins the arguments with spaces (and keeps 80 bytes). */
    for (char *s = c->args; *s;) {
        while (*s == ' ')
            *s++ = '\0';
        if (!*s)
            break;
        c->argv[c->argc++] = s;
        while (*s && *s != ' ')
            s++;
    }
    c->argv[c->argc] = NULL;
}

static int read_notes(struct parse *ps, uint64_t phoff, uint64_t phnum)
{
    struct core *c = ps->c;
    const char *n = ps->name;
    int rc;

    if ((rc = walk_all_notes(ps, 0, phoff, phnum)))
        return rc;
    if (!ps->prpsinfo && !ps->nprstatus)
        return fail(ps, TENON_EINVAL,
                    "%s has no NT_PRPSINFO and no NT_PRSTATUS note; a core "
                    "file has one NT_PRPSINFO (the process) and one "
                    "NT_PRSTATUS per thread",
                    n);
    if (!ps->prpsinfo)
        return fail(ps, TENON_EINVAL,
                    "%s has no NT_PRPSINFO note (the process: pid, name, "
                    "arguments)",
                    n);
    if (!ps->nprstatus)
        return fail(ps, TENON_EINVAL,
                    "%s has no NT_PRSTATUS note (one per thread: its id and "
                    "registers)",
                    n);
    read_prpsinfo(c, ps->prpsinfo);
    if (!(c->tids = calloc(ps->nprstatus, sizeof *c->tids)))
        return fail(ps, TENON_ENOMEM, "out of memory");
    ps->tids_cap = ps->nprstatus;
    ps->nprstatus = 0;
    if ((rc = walk_all_notes(ps, 1, phoff, phnum)))
        return rc;
    c->nthreads = ps->nprstatus;
    sort(c->tids, c->nthreads, sizeof *c->tids, tid_cmp);
    for (size_t i = 1; i < c->nthreads; i++)
        if (c->tids[i] == c->tids[i - 1])
            return fail(ps, TENON_EINVAL,
                        "%s has two NT_PRSTATUS notes for thread %u", n,
                        c->tids[i]);
    return 0;
}

/* ---- NT_FILE ------------------------------------------------------------- */

static int fent_cmp(const void *a, const void *b)
{
    const struct fent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int path_cmp(const void *a, const void *b)
{
    const struct fent *x = *(struct fent *const *)a,
                      *y = *(struct fent *const *)b;
    int r = strcmp(x->path, y->path);
    return r ? r : (x->index < y->index ? -1 : x->index > y->index);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* One core_file per distinct path, in the order the paths sort. */
static int dedupe_files(struct parse *ps)
{
    struct core *c = ps->c;
    struct fent **by = malloc(ps->nfents * sizeof *by);
    if (!by || !(c->files = calloc(ps->nfents, sizeof *c->files))) {
        free(by);
        return fail(ps, TENON_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ps->nfents; i++)
        by[i] = &ps->fents[i];
    sort(by, ps->nfents, sizeof *by, path_cmp);
    for (size_t i = 0; i < ps->nfents; i++) {
        if (i == 0 || strcmp(by[i]->path, by[i - 1]->path) != 0) {
            struct core_file *f = &c->files[c->nfiles++];
            f->path = by[i]->path;
            f->deleted = ends_with(f->path, " (deleted)");
        }
        by[i]->file = (uint32_t)(c->nfiles - 1);
    }
    free(by);
    return 0;
}

static int read_ntfile(struct parse *ps)
{
    const unsigned char *p = ps->ntfile;
    uint32_t len = ps->ntfile_len;
    const char *n = ps->name;

    if (!p)
        return 0;
    if (len < 16)
        return fail(ps, TENON_EINVAL,
                    "%s: the NT_FILE note has %u bytes, less than its 16-byte "
                    "header (count, page size)",
                    n, len);
    uint64_t count = rd64(p), page = rd64(p + 8);
    if (page == 0 || (page & (page - 1)) || page > (1u << 30))
        return fail(ps, TENON_EINVAL,
                    "%s: the NT_FILE note's page size %llu is not a power of "
                    "two up to 1 GiB",
                    n, (ull)page);
    if (count > (len - 16) / FILE_ENTRY)
        return fail(ps, TENON_EINVAL,
                    "%s: the NT_FILE note claims %llu mappings, but its %u "
                    "bytes hold at most %u",
                    n, (ull)count, len, (len - 16) / FILE_ENTRY);
    if (count > CORE_MAX_FILES)
        return fail(ps, TENON_EINVAL,
                    "%s: the NT_FILE note lists %llu mappings, more than the "
                    "%u this reader takes",
                    n, (ull)count, CORE_MAX_FILES);
    ps->c->page_size = page;
    if (count == 0)
        return 0;
    if (!(ps->fents = calloc(count, sizeof *ps->fents)))
        return fail(ps, TENON_ENOMEM, "out of memory");

    /* The names follow the entries, one NUL-terminated string each. */
    const unsigned char *s = p + 16 + count * FILE_ENTRY, *end = p + len;
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *nul = memchr(s, '\0', (size_t)(end - s));
        if (!nul)
            return fail(ps, TENON_EINVAL,
                        "%s: the NT_FILE note names %llu of its %llu "
                        "mappings (a name is missing or not NUL-terminated)",
                        n, (ull)i, (ull)count);
        ps->fents[i].path = (const char *)s;
        s = nul + 1;
    }
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *e = p + 16 + i * FILE_ENTRY;
        struct fent *f = &ps->fents[i];
        uint64_t pgoff = rd64(e + 16);
        f->start = rd64(e);
        f->end = rd64(e + 8);
        f->index = (uint32_t)i;
        if (f->start >= f->end)
            return fail(ps, TENON_EINVAL,
                        "%s: NT_FILE mapping %llu (%s) starts at 0x%llx, not "
                        "below its end 0x%llx",
                        n, (ull)i, f->path, (ull)f->start, (ull)f->end);
        if (pgoff > UINT64_MAX / page ||
            pgoff * page > UINT64_MAX - (f->end - f->start))
            return fail(ps, TENON_EINVAL,
                        "%s: NT_FILE mapping %llu (%s) has page offset %llu, "
                        "beyond any file",
                        n, (ull)i, f->path, (ull)pgoff);
        f->off = pgoff * page;
    }
    ps->nfents = count;
    sort(ps->fents, ps->nfents, sizeof *ps->fents, fent_cmp);
    for (size_t i = 1; i < ps->nfents; i++) {
        const struct fent *a = &ps->fents[i - 1], *b = &ps->fents[i];
        if (b->start < a->end)
            return fail(ps, TENON_EINVAL,
                        "%s: NT_FILE mappings %u and %u overlap "
                        "(0x%llx-0x%llx and 0x%llx-0x%llx)",
                        n, a->index < b->index ? a->index : b->index,
                        a->index < b->index ? b->index : a->index,
                        (ull)a->start, (ull)a->end, (ull)b->start, (ull)b->end);
    }
    return dedupe_files(ps);
}

/* ---- the address space --------------------------------------------------- */

static int push_piece(struct parse *ps, uint64_t start, uint64_t end,
                      uint32_t src, uint64_t off, uint32_t file, uint32_t prot,
                      uint32_t region)
{
    struct core *c = ps->c;
    if (c->npieces == ps->cap_pieces) {
        size_t cap = ps->cap_pieces ? 2 * ps->cap_pieces : 64;
        struct core_piece *p = realloc(c->pieces, cap * sizeof *p);
        if (!p)
            return fail(ps, TENON_ENOMEM, "out of memory");
        c->pieces = p;
        ps->cap_pieces = cap;
    }
    c->pieces[c->npieces++] =
        (struct core_piece){start, end, off, src, file, prot, region};
    return 0;
}

/* The first NT_FILE entry ending after `addr`. */
static size_t fent_after(const struct parse *ps, uint64_t addr)
{
    size_t lo = 0, hi = ps->nfents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->fents[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first PT_LOAD ending after `addr`. */
static size_t load_after(const struct parse *ps, uint64_t addr)
{
    size_t lo = 0, hi = ps->nloads;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->loads[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A PT_LOAD: the bytes the core holds, then the rest from the files that
 * NT_FILE says are mapped there, or from nowhere. */
static int load_pieces(struct parse *ps, size_t li)
{
    const struct load *l = &ps->loads[li];
    uint32_t region = (uint32_t)li;
    uint64_t x = l->vaddr + l->filesz;
    int rc;

    if (l->filesz && (rc = push_piece(ps, l->vaddr, x, CORE_SRC_CORE, l->off,
                                      CORE_NOFILE, l->prot, region)))
        return rc;
    size_t j = fent_after(ps, x);
    while (x < l->end) {
        const struct fent *f = j < ps->nfents ? &ps->fents[j] : NULL;
        uint64_t e;
        if (f && f->start <= x) {
            e = f->end < l->end ? f->end : l->end;
            rc = push_piece(ps, x, e, CORE_SRC_FILE, f->off + (x - f->start),
                            f->file, l->prot, region);
            j++;
        } else {
            e = f && f->start < l->end ? f->start : l->end;
            rc = push_piece(ps, x, e, CORE_SRC_NONE, 0, CORE_NOFILE, l->prot,
                            region);
        }
        if (rc)
            return rc;
        x = e;
    }
    return 0;
}

static int piece_cmp(const void *a, const void *b)
{
    const struct core_piece *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

const struct core_piece *core_find(const struct core *c, uint64_t addr)
{
    size_t lo = 0, hi = c->npieces;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->pieces[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->npieces && c->pieces[lo].start <= addr)
        return &c->pieces[lo];
    return NULL;
}

/* Where the core holds each file's first bytes: a mapping at file offset 0
 * whose first bytes are in the core. */
static int find_heads(struct parse *ps)
{
    struct core *c = ps->c;
    int rc;
    for (size_t i = 0; i < ps->nfents; i++) {
        const struct fent *f = &ps->fents[i];
        const struct core_piece *p = core_find(c, f->start);
        if (f->off != 0 || !p || p->src != CORE_SRC_CORE)
            continue;
        uint64_t len = p->end - f->start;
        if (len > f->end - f->start)
            len = f->end - f->start;
        if (len > HEAD_MAX)
            len = HEAD_MAX;
        struct core_file *cf = &c->files[f->file];
        if (len <= cf->head_len)
            continue;
        /* infer_prot() parses these bytes. */
        if ((rc = pin(ps, p->off + (f->start - p->start), len)))
            return rc;
        cf->head_addr = f->start;
        cf->head_off = p->off + (f->start - p->start);
        cf->head_len = (uint32_t)len;
    }
    return 0;
}

/* The access rights of a mapping the core left out, from the program
 * headers of the mapped file as the core holds its first bytes: the
 * PT_LOAD that holds file offset `off`. 0 when that cannot be told. */
static uint32_t infer_prot(const struct core *c, const struct core_file *f,
                           uint64_t off)
{
    if (f->head_len < EHDR_SIZE)
        return 0;
    const unsigned char *h = c->data + f->head_off;
    if (memcmp(h, ELFMAG, SELFMAG) != 0 || h[EI_CLASS] != ELFCLASS64 ||
        h[EI_DATA] != ELFDATA2LSB || rd16(h + 54) != PHDR_SIZE)
        return 0;
    uint64_t phoff = rd64(h + 32), phnum = rd16(h + 56);
    if (phoff > f->head_len || phnum * PHDR_SIZE > f->head_len - phoff)
        return 0;
    for (uint64_t i = 0; i < phnum; i++) {
        const unsigned char *ph = h + phoff + i * PHDR_SIZE;
        uint64_t poff = rd64(ph + 8), filesz = rd64(ph + 32);
        if (rd32(ph) != PT_LOAD || poff > UINT64_MAX - filesz)
            continue;
        /* mmap maps from the page holding p_offset on. */
        if (off >= (poff & ~(c->page_size - 1)) && off < poff + filesz)
            return prot_of(rd32(ph + 4));
    }
    return 0;
}

/* The parts of NT_FILE mappings that no PT_LOAD covers (gcore leaves out
 * file-backed mappings it did not see changed): bytes from the file. */
static int file_only_pieces(struct parse *ps)
{
    struct core *c = ps->c;
    int rc;
    for (size_t k = 0; k < ps->nfents; k++) {
        const struct fent *f = &ps->fents[k];
        uint32_t region = (uint32_t)(ps->nloads + k), prot = 0;
        int have_prot = 0;
        uint64_t x = f->start;
        size_t i = load_after(ps, x);
        while (x < f->end) {
            const struct load *l = i < ps->nloads ? &ps->loads[i] : NULL;
            if (l && l->vaddr <= x) {
                x = l->end < f->end ? l->end : f->end;
                i++;
                continue;
            }
            uint64_t e = l && l->vaddr < f->end ? l->vaddr : f->end;
            if (!have_prot) {
                prot = infer_prot(c, &c->files[f->file], f->off);
                have_prot = 1;
            }
            if ((rc = push_piece(ps, x, e, CORE_SRC_FILE,
                                 f->off + (x - f->start), f->file, prot,
                                 region)))
                return rc;
            x = e;
        }
    }
    return 0;
}

static int build_pieces(struct parse *ps)
{
    int rc;
    for (size_t i = 0; i < ps->nloads; i++)
        if ((rc = load_pieces(ps, i)))
            return rc;
    /* The PT_LOAD pieces are in address order, as find_heads() needs. */
    if ((rc = find_heads(ps)) || (rc = file_only_pieces(ps)))
        return rc;
    sort(ps->c->pieces, ps->c->npieces, sizeof *ps->c->pieces, piece_cmp);
    return 0;
}

/* ---- mappings and the executable ------------------------------------------
 */

static uint64_t auxv_get(const struct core *c, uint64_t type)
{
    for (size_t i = 0; c->auxv && i + 16 <= c->auxv_len; i += 16) {
        uint64_t t = rd64(c->auxv + i);
        if (t == AT_NULL)
            break;
        if (t == type)
            return rd64(c->auxv + i + 8);
    }
    return 0;
}

static int map_cmp(const void *a, const void *b)
{
    const struct core_map *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static const struct core_map *map_find(const struct core *c, uint64_t addr)
{
    size_t lo = 0, hi = c->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->maps[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nmaps && c->maps[lo].start <= addr && addr < c->maps[lo].end)
        return &c->maps[lo];
    return NULL;
}

/* Each NT_FILE entry, and the parts of PT_LOAD segments that none covers
 * (anonymous), in address order. */
static int build_maps(struct parse *ps)
{
    struct core *c = ps->c;
    /* Each PT_LOAD leaves at most one more uncovered part than the NT_FILE
     * entries that fall into it. */
    size_t cap = 2 * ps->nloads + 2 * ps->nfents + 1;
    if (!(c->maps = calloc(cap, sizeof *c->maps)))
        return fail(ps, TENON_ENOMEM, "out of memory");
    for (size_t k = 0; k < ps->nfents; k++) {
        const struct fent *f = &ps->fents[k];
        size_t i = load_after(ps, f->start);
        uint32_t prot;
        if (i < ps->nloads && ps->loads[i].vaddr <= f->start)
            prot = ps->loads[i].prot;
        else
            prot = infer_prot(c, &c->files[f->file], f->off);
        c->maps[c->nmaps++] =
            (struct core_map){f->start, f->end, f->off, prot, f->file, ""};
    }
    for (size_t i = 0; i < ps->nloads; i++) {
        const struct load *l = &ps->loads[i];
        uint64_t x = l->vaddr;
        size_t j = fent_after(ps, x);
        while (x < l->end && c->nmaps < cap) {
            const struct fent *f = j < ps->nfents ? &ps->fents[j] : NULL;
            if (f && f->start <= x) {
                x = f->end < l->end ? f->end : l->end;
                j++;
                continue;
            }
            uint64_t e = f && f->start < l->end ? f->start : l->end;
            c->maps[c->nmaps++] =
                (struct core_map){x, e, 0, l->prot, CORE_NOFILE, ""};
            x = e;
        }
    }
    sort(c->maps, c->nmaps, sizeof *c->maps, map_cmp);

    /* Names the kernel would show, where the core tells them. */
    struct core_map *m;
    uint64_t vdso = auxv_get(c, AT_SYSINFO_EHDR);
    if (vdso && (m = (struct core_map *)map_find(c, vdso)) &&
        m->file == CORE_NOFILE)
        m->name = "[vdso]";
    if (ps->have_rsp && (m = (struct core_map *)map_find(c, ps->main_rsp)) &&
        m->file == CORE_NOFILE)
        m->name = "[stack]";
    return 0;
}

/* The executable: the file mapped where the auxiliary vector says the
 * program's entry point (else its program headers) is. NT_FILE names it by
 * the kernel's absolute path, which AT_EXECFN (the string given to execve,
 * often relative) does not. */
static void find_exe(struct core *c)
{
    const uint64_t types[] = {AT_ENTRY, AT_PHDR};
    c->exe = "";
    for (size_t i = 0; i < 2; i++) {
        uint64_t at = auxv_get(c, types[i]);
        const struct core_map *m = at ? map_find(c, at) : NULL;
        if (m && m->file != CORE_NOFILE) {
            c->exe = c->files[m->file].path;
            return;
        }
    }
}

/* ---- the API ------------------------------------------------------------- */

void core_free(struct core *c)
{
    free(c->pieces);
    free(c->maps);
    free(c->files);
    free(c->tids);
    memset(c, 0, sizeof *c);
}

int core_parse(struct core *c, const void *data, size_t size, const char *name,
               core_pin_fn pinfn, void *pin_ud, char *err, size_t errlen)
{
    struct parse ps = {.c = c,
                       .name = name,
                       .pin = pinfn,
                       .pin_ud = pin_ud,
                       .err = err,
                       .errlen = errlen};
    uint64_t phoff, phnum;
    int rc;

    memset(c, 0, sizeof *c);
    c->data = data;
    c->size = size;
    c->state = '?';
    c->exe = "";
    c->page_size = 4096;
    if (errlen)
        err[0] = '\0';
    if ((rc = check_ehdr(&ps)) || (rc = read_phdrs(&ps, &phoff, &phnum)) ||
        (rc = read_notes(&ps, phoff, phnum)) || (rc = read_ntfile(&ps)) ||
        (rc = build_pieces(&ps)) || (rc = build_maps(&ps)))
        core_free(c);
    else
        find_exe(c);
    free(ps.loads);
    free(ps.fents);
    return rc;
}

int core_read(const struct core *c, const struct core_io *io, uint64_t addr,
              void *buf, size_t len, size_t *done)
{
    unsigned char *out = buf;
    const struct core_piece *p = core_find(c, addr);

    *done = 0;
    while (len && p && p->start <= addr && addr < p->end) {
        uint64_t in = addr - p->start;
        size_t n = p->end - addr < len ? (size_t)(p->end - addr) : len;
        long got;
        switch (p->src) {
        case CORE_SRC_CORE:
            if (io && io->core) {
                got = io->core(io->ud, p->off + in, out, n);
            } else {
                memcpy(out, c->data + p->off + in, n);
                got = (long)n;
            }
            break;
        case CORE_SRC_FILE:
            got = io && io->file
                      ? io->file(io->ud, p->file, p->off + in, out, n)
                      : 0;
            break;
        default: got = 0;
        }
        if (got < 0)
            return (int)got;
        *done += (size_t)got;
        if ((size_t)got < n)
            return 0;
        out += n;
        len -= n;
        addr += n;
        /* The next piece, when it goes on where this one ends. */
        p = p + 1 < c->pieces + c->npieces ? p + 1 : NULL;
    }
    return 0;
}

int core_regions(const struct core *c, int (*readable)(void *ud, uint32_t f),
                 void *rud, int (*fn)(void *ud, const struct core_region *r),
                 void *ud)
{
    struct core_region r;
    uint32_t region = 0;
    int have = 0, rc;

    for (size_t i = 0; i < c->npieces; i++) {
        const struct core_piece *p = &c->pieces[i];
        uint32_t ok =
            p->src == CORE_SRC_CORE ||
            (p->src == CORE_SRC_FILE && readable && readable(rud, p->file));
        if (have && p->region == region && p->start == r.end &&
            ok == r.readable) {
            r.end = p->end;
            continue;
        }
        if (have && (rc = fn(ud, &r)))
            return rc;
        r = (struct core_region){p->start, p->end, p->prot, ok};
        region = p->region;
        have = 1;
    }
    return have ? fn(ud, &r) : 0;
}
