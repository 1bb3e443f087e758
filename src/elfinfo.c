/*
 * Reading a plugin's static info, and what the dynamic loader will look for
 * when it loads it (DT_NEEDED, DT_RUNPATH, DT_RPATH, DT_SONAME), from its ELF
 * file without loading it.
 *
 * The info is an ELF note (owner "Tenon") that linkers place in the first
 * page, right after the program headers, so one read of the file's first
 * 2 KiB normally holds the ELF header, the program headers and the note. Only
 * if a segment lies further in is a second, bounded read made; the dynamic
 * section, which lies in the data segment, costs one more read (its strings
 * are usually within the first 2 KiB). Every offset
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
#include <sys/stat.h>
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

/* The file being read: where its bytes come from and the first read. */
struct src {
    tenon__read_at_fn read_at;
    void *ctx;
    uint64_t size;
    const unsigned char *head;
    size_t head_len;
};

static const unsigned char *src_range(const struct src *s, uint64_t off,
                                      uint64_t len, unsigned char **tmp)
{
    return file_range(s->read_at, s->ctx, s->head, s->head_len, off, len, tmp);
}

static int read_notes(const struct src *s, const Elf64_Phdr *ph, unsigned n,
                      struct tenon__elf *out, char *reason, size_t reason_len)
{
    int rc = 0, found = 0;

    for (unsigned i = 0; i < n && !found && rc == 0; i++) {
        const Elf64_Phdr *p = &ph[i];
        unsigned char *stmp = NULL;
        const unsigned char *seg;
        const unsigned char *desc = NULL;
        uint32_t descsz = 0;
        if (p->p_type != PT_NOTE)
            continue;
        if (p->p_offset > s->size || p->p_filesz > s->size - p->p_offset) {
            rc = REASON("note segment (offset %llu, size %llu) extends past "
                        "the end of the file (%llu bytes)",
                        (unsigned long long)p->p_offset,
                        (unsigned long long)p->p_filesz,
                        (unsigned long long)s->size);
            break;
        }
        if (p->p_filesz > NOTE_SEG_MAX)
            continue;
        if (!(seg = src_range(s, p->p_offset, p->p_filesz, &stmp))) {
            rc = REASON("read error in a note segment");
            break;
        }
        found = find_note(seg, p->p_filesz, p->p_align == 8 ? 8 : 4, &desc,
                          &descsz, reason, reason_len);
        if (found < 0)
            rc = found;
        else if (found)
            rc = copy_info(desc, descsz, out, reason, reason_len);
        free(stmp);
    }
    if (rc == 0 && !found)
        rc = REASON("no %s note: not a Tenon plugin (build it with "
                    "TENON_PLUGIN_INFO from <tenon/plugin.h>)",
                    TENON_INFO_SECTION);
    return rc;
}

/* ---- the dynamic section: what the dynamic loader will look for ---------
 *
 * The loader reads the dynamic array and its strings from memory, at the
 * addresses PT_DYNAMIC and DT_STRTAB give, which the PT_LOAD segments map
 * from the file; a crafted file can make p_offset of PT_DYNAMIC or the
 * section headers say something else. So addresses are translated the way
 * the loader maps them, and anything not plainly file-backed by one segment
 * is refused rather than guessed: what the inventory reports must be what
 * the loader will do. Where an entry occurs more than once, the loader keeps
 * the last (DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRTAB); every DT_NEEDED,
 * DT_AUXILIARY and DT_FILTER names an object it loads. */

#define PAGE       4096u         /* the loader's mapping granularity */
#define DYN_MAX    (64u * 1024u) /* the largest dynamic array read */
#define DYN_FIRST  1024u         /* what is read of it first */
#define STRTAB_MAX 4096u         /* read whole up to this size */
#define DYNSTR_MAX 4096u         /* the longest name or search path */
#define NEEDED_MAX 256u

/* The file offset of [va, va + len) as the loader maps it: inside the file
 * part of the last PT_LOAD whose pages cover va, with no later segment
 * (which would be mapped over it) touching the range. *avail gets how many
 * file-backed bytes follow va in that segment. -1 when not so. */
static int va_to_off(const Elf64_Phdr *ph, unsigned n, uint64_t va,
                     uint64_t len, uint64_t file_size, uint64_t *off,
                     uint64_t *avail)
{
    const Elf64_Phdr *seg = NULL;
    unsigned at = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t lo = ph[i].p_vaddr & ~(uint64_t)(PAGE - 1), end;
        if (ph[i].p_type != PT_LOAD ||
            __builtin_add_overflow(ph[i].p_vaddr, ph[i].p_memsz, &end))
            continue;
        if (va >= lo && va < align_up(end, PAGE))
            seg = &ph[i], at = i;
    }
    if (!seg || va < seg->p_vaddr || seg->p_filesz > seg->p_memsz ||
        va - seg->p_vaddr >= seg->p_filesz ||
        len > seg->p_filesz - (va - seg->p_vaddr))
        return -1;
    for (unsigned i = at + 1; i < n; i++) {
        uint64_t lo = ph[i].p_vaddr & ~(uint64_t)(PAGE - 1), end;
        if (ph[i].p_type == PT_LOAD &&
            !__builtin_add_overflow(ph[i].p_vaddr, ph[i].p_memsz, &end) &&
            lo < va + len && align_up(end, PAGE) > va)
            return -1;
    }
    *off = seg->p_offset + (va - seg->p_vaddr);
    *avail = seg->p_filesz - (va - seg->p_vaddr);
    if (*off < seg->p_offset || *off > file_size || *avail > file_size - *off)
        return -1;
    return 0;
}

struct dyn_scan {
    uint64_t strtab, strsz;
    int have_strtab, have_strsz;
    uint64_t soname, rpath, runpath; /* string offsets; UINT64_MAX: none */
    uint64_t needed[NEEDED_MAX];
    char needed_tag[NEEDED_MAX];
    unsigned nneeded;
};

/* Walk the dynamic array up to DT_NULL; 1 when there is none in `len`
 * bytes. */
static int scan_dyn(const unsigned char *d, uint64_t len, struct dyn_scan *ds,
                    char *reason, size_t reason_len)
{
    for (uint64_t at = 0; at + sizeof(Elf64_Dyn) <= len;
         at += sizeof(Elf64_Dyn)) {
        Elf64_Dyn e;
        memcpy(&e, d + at, sizeof e);
        switch (e.d_tag) {
        case DT_NULL: return 0;
        case DT_STRTAB: ds->strtab = e.d_un.d_ptr, ds->have_strtab = 1; break;
        case DT_STRSZ: ds->strsz = e.d_un.d_val, ds->have_strsz = 1; break;
        case DT_SONAME: ds->soname = e.d_un.d_val; break;
        case DT_RPATH: ds->rpath = e.d_un.d_val; break;
        case DT_RUNPATH: ds->runpath = e.d_un.d_val; break;
        case DT_NEEDED:
        case DT_AUXILIARY:
        case DT_FILTER:
            if (ds->nneeded == NEEDED_MAX)
                return REASON("more than %u DT_NEEDED entries", NEEDED_MAX);
            ds->needed_tag[ds->nneeded] = e.d_tag == DT_NEEDED ? 'N' : 'F';
            ds->needed[ds->nneeded++] = e.d_un.d_val;
            break;
        default: break;
        }
    }
    return 1;
}

/* Append tag, the string at `off` of the string table and a NUL to out. */
static int add_dynstr(const struct src *s, const struct dyn_scan *ds,
                      uint64_t tab_off, const unsigned char *tab, char tag,
                      uint64_t off, struct tenon__elf *out, size_t *cap,
                      char *reason, size_t reason_len)
{
    static const char *const what[] = {"DT_NEEDED", "DT_FILTER", "DT_SONAME",
                                       "DT_RPATH", "DT_RUNPATH"};
    const char *name = what[strchr("NFSPR", tag) - "NFSPR"];
    unsigned char *tmp = NULL;
    const unsigned char *str;
    uint64_t max;
    const char *nul;
    size_t len;
    int rc = 0;

    if (off >= ds->strsz)
        return REASON("%s string offset %llu is past the string table "
                      "(%llu bytes)",
                      name, (unsigned long long)off,
                      (unsigned long long)ds->strsz);
    max = ds->strsz - off < DYNSTR_MAX + 1 ? ds->strsz - off : DYNSTR_MAX + 1;
    /* Names are short: a small read, then all that may be needed. */
    str = tab ? tab + off
              : src_range(s, tab_off + off, max < 256 ? max : 256, &tmp);
    if (str && !tab && max > 256 && !memchr(str, '\0', 256)) {
        free(tmp);
        tmp = NULL;
        str = src_range(s, tab_off + off, max, &tmp);
    }
    if (!str)
        return REASON("read error in the dynamic string table");
    nul = memchr(str, '\0', (size_t)max);
    len = nul ? (size_t)(nul - (const char *)str) : 0;
    if (!nul || len == 0)
        rc = REASON("%s string at offset %llu is %s", name,
                    (unsigned long long)off,
                    nul ? "empty" : "not NUL-terminated within 4 KiB");
    else if (out->dyn_size + len + 2 > TENON__DYN_STRINGS_MAX)
        rc = REASON("the dynamic strings exceed %u bytes",
                    TENON__DYN_STRINGS_MAX);
    else if (tenon__grow(&out->dyn, cap, out->dyn_size + len + 2, 1))
        rc = NOMEM();
    else {
        out->dyn[out->dyn_size++] = tag;
        memcpy(out->dyn + out->dyn_size, str, len + 1);
        out->dyn_size += len + 1;
    }
    free(tmp);
    return rc;
}

static int read_dynamic(const struct src *s, const Elf64_Phdr *ph, unsigned n,
                        struct tenon__elf *out, char *reason, size_t reason_len)
{
    const Elf64_Phdr *dyn = NULL;
    struct dyn_scan ds = {
        .soname = UINT64_MAX, .rpath = UINT64_MAX, .runpath = UINT64_MAX};
    unsigned char *dtmp = NULL, *ttmp = NULL;
    const unsigned char *d, *tab = NULL;
    uint64_t off, avail, tab_off = 0;
    size_t cap = 0;
    int rc;

    for (unsigned i = 0; i < n; i++)
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = &ph[i]; /* the loader keeps the last */
    if (!dyn)
        return 0; /* nothing the loader would look for */
    if (va_to_off(ph, n, dyn->p_vaddr, sizeof(Elf64_Dyn), s->size, &off,
                  &avail) != 0)
        return REASON("the dynamic section (address 0x%llx) is not in the "
                      "file part of a loadable segment",
                      (unsigned long long)dyn->p_vaddr);
    if (avail > DYN_MAX)
        avail = DYN_MAX;
    /* Most dynamic arrays hold a few dozen entries: a small read first. */
    for (uint64_t len = avail < DYN_FIRST ? avail : DYN_FIRST;; len = avail) {
        struct dyn_scan fresh = ds;
        if (!(d = src_range(s, off, len, &dtmp)))
            return REASON("read error in the dynamic section");
        rc = scan_dyn(d, len, &fresh, reason, reason_len);
        free(dtmp);
        dtmp = NULL;
        if (rc < 0)
            return rc;
        if (rc == 0) {
            ds = fresh;
            break;
        }
        if (len == avail)
            return REASON("the dynamic section has no DT_NULL within its "
                          "%llu file-backed bytes",
                          (unsigned long long)avail);
    }
    if (ds.nneeded == 0 && ds.soname == UINT64_MAX && ds.rpath == UINT64_MAX &&
        ds.runpath == UINT64_MAX)
        return 0;
    if (!ds.have_strtab || !ds.have_strsz ||
        va_to_off(ph, n, ds.strtab, ds.strsz, s->size, &tab_off, &avail) != 0)
        return REASON("the dynamic string table (DT_STRTAB 0x%llx, DT_STRSZ "
                      "%llu) is missing or not in the file part of a "
                      "loadable segment",
                      (unsigned long long)ds.strtab,
                      (unsigned long long)ds.strsz);
    /* Small tables, the usual case, in one read (often from the head). */
    if ((ds.strsz <= STRTAB_MAX ||
         (tab_off <= s->head_len && ds.strsz <= s->head_len - tab_off)) &&
        !(tab = src_range(s, tab_off, ds.strsz, &ttmp)))
        return REASON("read error in the dynamic string table");
    for (unsigned i = 0; i < ds.nneeded && rc == 0; i++)
        rc = add_dynstr(s, &ds, tab_off, tab, ds.needed_tag[i], ds.needed[i],
                        out, &cap, reason, reason_len);
    if (rc == 0 && ds.soname != UINT64_MAX)
        rc = add_dynstr(s, &ds, tab_off, tab, 'S', ds.soname, out, &cap, reason,
                        reason_len);
    if (rc == 0 && ds.rpath != UINT64_MAX)
        rc = add_dynstr(s, &ds, tab_off, tab, 'P', ds.rpath, out, &cap, reason,
                        reason_len);
    if (rc == 0 && ds.runpath != UINT64_MAX)
        rc = add_dynstr(s, &ds, tab_off, tab, 'R', ds.runpath, out, &cap,
                        reason, reason_len);
    free(ttmp);
    if (rc) {
        free(out->dyn);
        out->dyn = NULL;
        out->dyn_size = 0;
    }
    return rc;
}

/* The program headers, then what `want` asks for. */
static int read_phdrs(const struct src *s, const Elf64_Ehdr *eh, unsigned want,
                      struct tenon__elf *out, char *reason, size_t reason_len)
{
    unsigned char *ptmp = NULL;
    const unsigned char *raw;
    Elf64_Phdr *ph;
    uint64_t phlen = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
    int rc = 0;

    if (eh->e_phnum == 0 || eh->e_phnum >= PHDR_MAX)
        return REASON("program header count %u out of range (1..%u); a "
                      "shared object has program headers",
                      eh->e_phnum, PHDR_MAX - 1);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return REASON("program header entry size %u; expected %zu",
                      eh->e_phentsize, sizeof(Elf64_Phdr));
    if (eh->e_phoff >= s->size || phlen > s->size - eh->e_phoff)
        return REASON("program header table (offset %llu, %llu bytes) "
                      "extends past the end of the file (%llu bytes)",
                      (unsigned long long)eh->e_phoff,
                      (unsigned long long)phlen, (unsigned long long)s->size);
    if (!(raw = src_range(s, eh->e_phoff, phlen, &ptmp)))
        return REASON("read error in the program header table");
    /* Aligned copies (the table's offset in the file may be odd), on the
     * stack for the usual dozen: this runs for every file of a scan. */
    Elf64_Phdr local[32];
    ph = eh->e_phnum <= 32 ? local : malloc((size_t)phlen);
    if (!ph) {
        free(ptmp);
        return NOMEM();
    }
    memcpy(ph, raw, (size_t)phlen);
    free(ptmp);
    if (want & TENON__ELF_INFO)
        rc = read_notes(s, ph, eh->e_phnum, out, reason, reason_len);
    if (rc == 0 && (want & TENON__ELF_DYN))
        rc = read_dynamic(s, ph, eh->e_phnum, out, reason, reason_len);
    if (ph != local)
        free(ph);
    return rc;
}

int tenon__elf_read(tenon__read_at_fn read_at, void *ctx, uint64_t file_size,
                    unsigned want, struct tenon__elf *out, char *reason,
                    size_t reason_len)
{
    unsigned char head[HEAD_SIZE];
    Elf64_Ehdr eh;
    size_t have = file_size < sizeof head ? (size_t)file_size : sizeof head;
    int rc;

    memset(out, 0, sizeof *out);
    if (have == 0)
        return check_ident(NULL, 0, reason, reason_len);
    if (read_at(ctx, head, have, 0) != 0)
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
    struct src s = {read_at, ctx, file_size, head, have};
    rc = read_phdrs(&s, &eh, want, out, reason, reason_len);
    if (rc) {
        free(out->info);
        free(out->dyn);
        out->info = out->dyn = NULL;
        out->info_size = out->dyn_size = 0;
    }
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

int tenon__elf_read_mem(const void *data, size_t size, unsigned want,
                        struct tenon__elf *out, char *reason, size_t reason_len)
{
    struct mem m = {data, size};
    return tenon__elf_read(mem_read_at, &m, size, want, out, reason,
                           reason_len);
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

int tenon__elf_read_fd(int fd, uint64_t file_size, unsigned want,
                       struct tenon__elf *out, char *reason, size_t reason_len)
{
    return tenon__elf_read(fd_read_at, &fd, file_size, want, out, reason,
                           reason_len);
}

int tenon__elf_is_host(int fd)
{
    unsigned char id[sizeof(Elf64_Ehdr)];
    Elf64_Ehdr eh;
    char why[TENON__REASON_MAX];
    if (fd_read_at(&fd, id, sizeof id, 0) != 0 ||
        check_ident(id, sizeof id, why, sizeof why) != 0)
        return 0;
    memcpy(&eh, id, sizeof eh);
    return eh.e_machine == HOST_MACHINE;
}

int tenon__dyn_split(const char *blob, size_t size, struct tenon__dyn *d)
{
    size_t n = 0;
    memset(d, 0, sizeof *d);
    if (size && blob[size - 1] != '\0')
        return TENON_EINVAL;
    for (size_t at = 0; at < size; at += strlen(blob + at) + 1)
        n += blob[at] == 'N' || blob[at] == 'F';
    if (n && !(d->needed = malloc(n * sizeof *d->needed)))
        return TENON_ENOMEM;
    for (size_t at = 0; at < size; at += strlen(blob + at) + 1) {
        const char *s = blob + at + 1;
        if (!blob[at] || !*s) /* each entry: a tag and a non-empty string */
            goto bad;
        switch (blob[at]) {
        case 'N':
        case 'F': d->needed[d->nneeded++] = s; break;
        case 'S': d->soname = s; break;
        case 'P': d->rpath = s; break;
        case 'R': d->runpath = s; break;
        default: goto bad;
        }
    }
    return 0;
bad:
    free(d->needed);
    memset(d, 0, sizeof *d);
    return TENON_EINVAL;
}

char *tenon__elf_soname(int fd, int *is_elf)
{
    char why[TENON__REASON_MAX], *soname = NULL;
    struct tenon__elf elf;
    struct tenon__dyn d;
    struct stat st;
    *is_elf = 0;
    if (fstat(fd, &st) != 0 ||
        tenon__elf_read_fd(fd, (uint64_t)st.st_size, TENON__ELF_DYN, &elf, why,
                           sizeof why) != 0)
        return NULL;
    *is_elf = 1;
    if (tenon__dyn_split(elf.dyn, elf.dyn_size, &d) == 0 && d.soname)
        soname = tenon__strdup(d.soname);
    free(d.needed);
    free(elf.dyn);
    return soname;
}
