/*
 * Core files: tenon_write_core() writes an ELF core file of one process as
 * any tenon.osi/1 provider sees it, in the layout the Linux kernel and
 * gdb's gcore use, so that gdb and the coredump plugin read it:
 *
 *   ELF header | program headers: PT_NOTE, one PT_LOAD per run |
 *   [one section header, only when there are PN_XNUM or more segments] |
 *   notes | zeros to the next page | the bytes of each readable run
 *
 * A run is a stretch of one readable mapping that the provider's memory
 * view either reads (its bytes follow, page-aligned) or does not (a PT_LOAD
 * with p_filesz 0, as [vvar] gets). The file is written strictly in order,
 * so that a pipe will do; the program headers therefore need every run
 * before the first byte of data. Two passes find them: the first reads each
 * readable mapping through the memory view in 1 MiB chunks, keeping only
 * where reads stop (and, page by page, where they resume); the second reads
 * the same bytes again and writes them. That costs a second read of the
 * memory, which is cheaper than the alternatives: buffering the memory
 * (in RAM or a temporary file) costs its size again, and writing the
 * headers last needs a seekable descriptor.
 *
 * The process is not stopped (gcore stops it; a tenon.osi/1 provider may
 * have no way to). Its bytes are what the second pass reads; a run that
 * became unreadable between the passes is written out as zeros so the file
 * still matches its headers, with a warning in the log. A process that
 * exits meanwhile fails the dump with TENON_ENOENT.
 *
 * Registers: tenon.osi/1 knows none, so each NT_PRSTATUS carries zeros;
 * gdb then shows the threads but no backtrace.
 */
#include "internal.h"

#include <tenon/osi.h>

#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#define PAGE  4096u      /* x86-64 */
#define CHUNK (1u << 20) /* bytes read through the memory view at once */

/* Does the provider's struct (whose first member is its size) cover
 * `member`? */
#define HAS(s, type, member)                                                   \
    ((s)->struct_size >= offsetof(type, member) + sizeof((s)->member))

struct run {
    uint64_t start, end;
    uint32_t prot;
    int readable;
};

struct thread {
    uint32_t tid;
};

/* A file-backed mapping, for NT_FILE. */
struct filemap {
    uint64_t start, end, offset;
    char *path;
};

/* A growing byte buffer: the notes. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

struct core {
    tenon_instance_t *inst;
    const char *plugin; /* the provider's name, for messages */
    const struct tenon_osi_v1 *osi;
    void *obj;
    uint32_t pid;
    struct tenon_osi_process *proc;
    struct thread *threads;
    size_t nthreads, cap_threads;
    struct filemap *files;
    size_t nfiles, cap_files;
    /* The readable mappings, then (after probing) their runs. */
    struct run *maps;
    size_t nmaps, cap_maps;
    struct run *runs;
    size_t nruns, cap_runs;
    int cb_rc; /* the failure a listing callback stopped with */
    unsigned char *auxv;
    size_t auxv_len;
    const struct tenon_memory_v1 *mem;
    void *mem_obj;
    unsigned char *buf; /* CHUNK bytes */
    int fd;
    int changed; /* a run became unreadable between the passes */
};

/* The provider's message for a failed call, or the code's text. */
static const char *provider_error(const struct core *c, int rc)
{
    const char *msg = tenon_instance_error(c->inst);
    return msg[0] ? msg : tenon_strerror(rc);
}

/* A provider call failed: its code (a plugin's own ones only) and its
 * message, which names the process when the provider wrote one. */
static int provider_fail(const struct core *c, int rc, const char *doing)
{
    const char *msg = tenon_instance_error(c->inst);
    if (rc >= 0 || rc < TENON_ERROR_MIN)
        rc = TENON_EPLUGIN;
    if (msg[0])
        return tenon__fail(rc, "plugin '%s': %s", c->plugin, msg);
    return tenon__fail(rc, "plugin '%s', %s of process %u: %s", c->plugin,
                       doing, c->pid, tenon_strerror(rc));
}

/* A read or listing that failed after the process was found: an ENOENT
 * then means it exited. */
static int midway_fail(const struct core *c, int rc, const char *doing)
{
    if (rc == TENON_ENOENT)
        return tenon__fail(TENON_ENOENT,
                           "process %u exited while its core was written "
                           "(%s: %s)",
                           c->pid, doing, provider_error(c, rc));
    return provider_fail(c, rc, doing);
}

/* ---- what the provider tells about the process --------------------------- */

static int on_thread(void *ud, const struct tenon_osi_thread *t)
{
    struct core *c = ud;
    if (!HAS(t, struct tenon_osi_thread, tid)) {
        c->cb_rc = tenon__fail(TENON_EPLUGIN,
                               "plugin '%s' listed a thread of %u bytes, "
                               "too small for a tid",
                               c->plugin, t->struct_size);
        return 1;
    }
    if (tenon__grow(&c->threads, &c->cap_threads, c->nthreads + 1,
                    sizeof *c->threads)) {
        c->cb_rc = tenon__fail(TENON_ENOMEM, "out of memory");
        return 1;
    }
    c->threads[c->nthreads++].tid = t->tid;
    return 0;
}

static int on_mapping(void *ud, const struct tenon_osi_mapping *m)
{
    struct core *c = ud;
    if (!HAS(m, struct tenon_osi_mapping, path)) {
        c->cb_rc = tenon__fail(TENON_EPLUGIN,
                               "plugin '%s' listed a mapping of %u bytes, "
                               "too small for a path",
                               c->plugin, m->struct_size);
        return 1;
    }
    if (m->end <= m->start || m->start % PAGE || m->end % PAGE) {
        c->cb_rc = tenon__fail(TENON_EPLUGIN,
                               "plugin '%s' listed a mapping of process %u "
                               "from 0x%llx to 0x%llx: expected page-aligned "
                               "bounds, start below end",
                               c->plugin, c->pid, (unsigned long long)m->start,
                               (unsigned long long)m->end);
        return 1;
    }
    if (m->prot & TENON_PROT_READ) {
        if (tenon__grow(&c->maps, &c->cap_maps, c->nmaps + 1, sizeof *c->maps))
            goto nomem;
        c->maps[c->nmaps++] = (struct run){m->start, m->end, m->prot, 1};
    }
    /* NT_FILE lists what the kernel's does: the mappings of a file,
     * "/path (deleted)", memfd and SysV shared memory included. */
    if (m->path && m->path[0] == '/') {
        struct filemap *f;
        if (tenon__grow(&c->files, &c->cap_files, c->nfiles + 1,
                        sizeof *c->files))
            goto nomem;
        f = &c->files[c->nfiles];
        *f = (struct filemap){m->start, m->end, m->offset, NULL};
        if (!(f->path = tenon__strdup(m->path)))
            goto nomem;
        c->nfiles++;
    }
    return 0;
nomem:
    c->cb_rc = tenon__fail(TENON_ENOMEM, "out of memory");
    return 1;
}

/* A listing's result: the failure a callback stopped it with, or the
 * provider's. */
static int listed(struct core *c, int rc, const char *doing)
{
    if (rc > 0 || c->cb_rc)
        return c->cb_rc
                   ? c->cb_rc
                   : tenon__fail(TENON_EPLUGIN, "plugin '%s', %s: returned %d",
                                 c->plugin, doing, rc);
    return rc ? midway_fail(c, rc, doing) : 0;
}

/* The auxiliary vector, when the provider has one: gdb needs it to place a
 * position-independent executable. Not having it is no failure. */
static int read_auxv(struct core *c)
{
    size_t size = 0, len = 4096;
    if (!HAS(c->osi, struct tenon_osi_v1, auxv) || !c->osi->auxv)
        return 0;
    for (;;) {
        unsigned char *p = realloc(c->auxv, len);
        if (!p)
            return tenon__fail(TENON_ENOMEM, "out of memory");
        c->auxv = p;
        if (c->osi->auxv(c->obj, c->pid, c->auxv, len, &size) != 0) {
            c->auxv_len = 0; /* unknown: the note is left out */
            return 0;
        }
        if (size <= len)
            break;
        /* A real auxv is a few hundred bytes; a provider that keeps
         * claiming more is broken, not to be followed forever. */
        if (size > (1u << 20))
            return tenon__fail(TENON_EPLUGIN,
                               "plugin '%s' gives an auxiliary vector of %zu "
                               "bytes for process %u; expected at most 1 MiB",
                               c->plugin, size, c->pid);
        len = size;
    }
    c->auxv_len = size;
    return 0;
}

static int gather(struct core *c)
{
    int rc = c->osi->process(c->obj, c->pid, &c->proc);
    if (rc)
        return provider_fail(c, rc, "reading");
    if (!c->proc || !HAS(c->proc, struct tenon_osi_process, argc))
        return tenon__fail(TENON_EPLUGIN,
                           "plugin '%s' returned no complete process for %u",
                           c->plugin, c->pid);
    if ((rc = listed(c, c->osi->threads(c->obj, c->pid, on_thread, c),
                     "listing the threads")) ||
        (rc = listed(c, c->osi->mappings(c->obj, c->pid, on_mapping, c),
                     "listing the mappings")) ||
        (rc = read_auxv(c)))
        return rc;
    /* A kernel thread has no user memory: a core of it would hold nothing
     * and tell gdb nothing. */
    if (c->nmaps == 0)
        return tenon__fail(TENON_EINVAL,
                           "process %u (%s) has no memory mappings (a kernel "
                           "thread?): nothing to dump",
                           c->pid, c->proc->name);
    rc = c->osi->process_memory(c->obj, c->pid, &c->mem, &c->mem_obj);
    if (rc)
        return midway_fail(c, rc, "opening the memory");
    if (!c->mem || !HAS(c->mem, struct tenon_memory_v1, read) || !c->mem->read)
        return tenon__fail(TENON_EPLUGIN,
                           "plugin '%s' gave a memory view of process %u "
                           "without read()",
                           c->plugin, c->pid);
    return 0;
}

/* ---- pass 1: where reads stop -------------------------------------------- */

/* Read up to len bytes at addr: how many were, or a negative code. */
static int64_t read_mem(struct core *c, uint64_t addr, size_t len)
{
    size_t done = 0;
    int rc = c->mem->read(c->mem_obj, addr, c->buf, len, &done);
    if (rc)
        return midway_fail(c, rc, "reading the memory");
    return done > len ? (int64_t)len : (int64_t)done;
}

static int add_run(struct core *c, uint64_t start, uint64_t end, uint32_t prot,
                   int readable, int join)
{
    struct run *last = c->nruns ? &c->runs[c->nruns - 1] : NULL;
    if (join && last && last->end == start && last->readable == readable) {
        last->end = end;
        return 0;
    }
    if (tenon__grow(&c->runs, &c->cap_runs, c->nruns + 1, sizeof *c->runs))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    c->runs[c->nruns++] = (struct run){start, end, prot, readable};
    return 0;
}

/* Split one readable mapping into runs. */
static int probe(struct core *c, const struct run *m)
{
    uint64_t addr = m->start;
    int join = 0, rc;
    while (addr < m->end) {
        size_t want = m->end - addr < CHUNK ? (size_t)(m->end - addr) : CHUNK;
        int64_t got = read_mem(c, addr, want);
        if (got < 0)
            return (int)got;
        if (got > 0) {
            if ((rc = add_run(c, addr, addr + (uint64_t)got, m->prot, 1, join)))
                return rc;
            join = 1;
            addr += (uint64_t)got;
        }
        if ((size_t)got == want)
            continue;
        /* Unreadable from addr: find the next page that reads. */
        uint64_t next = (addr & ~(uint64_t)(PAGE - 1)) + PAGE;
        for (; next < m->end; next += PAGE) {
            if ((got = read_mem(c, next, 1)) < 0)
                return (int)got;
            if (got == 1)
                break;
        }
        if (next > m->end)
            next = m->end;
        if ((rc = add_run(c, addr, next, m->prot, 0, join)))
            return rc;
        join = 1;
        addr = next;
    }
    return 0;
}

/* ---- the headers and notes ------------------------------------------------
 */

static int put(struct bytes *b, const void *p, size_t len)
{
    if (tenon__grow(&b->p, &b->cap, b->len + len, 1))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

/* Append zeros up to a multiple of `align`. */
static int pad(struct bytes *b, size_t align)
{
    size_t n = (align - b->len % align) % align;
    if (tenon__grow(&b->p, &b->cap, b->len + n, 1))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    memset(b->p + b->len, 0, n);
    b->len += n;
    return 0;
}

/* One note: header, "CORE" (the owner Linux uses for these types), desc;
 * each padded to 4 bytes, as the kernel writes them in 64-bit cores too. */
static int note(struct bytes *b, uint32_t type, const void *desc, size_t len)
{
    Elf64_Nhdr h = {5, (Elf64_Word)len, type};
    int rc;
    if (len > UINT32_MAX)
        return tenon__fail(TENON_ERANGE,
                           "a note of %zu bytes does not fit a core file", len);
    if ((rc = put(b, &h, sizeof h)) || (rc = put(b, "CORE", 5)) ||
        (rc = pad(b, 4)) || (rc = put(b, desc, len)) || (rc = pad(b, 4)))
        return rc;
    return 0;
}

static int note_prstatus(struct core *c, struct bytes *b, uint32_t tid)
{
    struct elf_prstatus pr;
    memset(&pr, 0, sizeof pr);
    pr.pr_pid = (pid_t)tid;
    pr.pr_ppid = (pid_t)c->proc->ppid;
    return note(b, NT_PRSTATUS, &pr, sizeof pr);
}

static int note_prpsinfo(struct core *c, struct bytes *b)
{
    static const char states[] = "RSDTZW"; /* the kernel's pr_state order */
    const struct tenon_osi_process *p = c->proc;
    const char *s = strchr(states, p->state);
    struct elf_prpsinfo ps;
    size_t used = 0;

    memset(&ps, 0, sizeof ps);
    ps.pr_state = (char)(s && p->state ? s - states : 0);
    ps.pr_sname = p->state;
    ps.pr_zomb = p->state == 'Z';
    ps.pr_uid = p->uid; /* TENON_OSI_UNKNOWN stays all ones, as -1 */
    ps.pr_gid = TENON_OSI_UNKNOWN;
    ps.pr_pid = (int)c->pid;
    ps.pr_ppid = (int)p->ppid;
    if (p->name)
        strncpy(ps.pr_fname, p->name, sizeof ps.pr_fname - 1);
    /* The first 79 bytes of the arguments joined by spaces, as the kernel
     * keeps them (the format's limit); without arguments, the name. */
    for (size_t i = 0; i < p->argc && p->argv; i++) {
        const char *a = p->argv[i] ? p->argv[i] : "";
        int n = snprintf(ps.pr_psargs + used, sizeof ps.pr_psargs - used,
                         "%s%s", i ? " " : "", a);
        if (n < 0 || (size_t)n >= sizeof ps.pr_psargs - used)
            break;
        used += (size_t)n;
    }
    if (!p->argc && p->name)
        strncpy(ps.pr_psargs, p->name, sizeof ps.pr_psargs - 1);
    return note(b, NT_PRPSINFO, &ps, sizeof ps);
}

/* NT_FILE: count, page size, {start, end, offset in pages} each, then the
 * names, NUL-terminated. */
static int note_file(struct core *c, struct bytes *b)
{
    struct bytes d = {0};
    uint64_t head[2] = {c->nfiles, PAGE};
    int rc = put(&d, head, sizeof head);
    for (size_t i = 0; !rc && i < c->nfiles; i++) {
        const struct filemap *f = &c->files[i];
        uint64_t e[3] = {f->start, f->end, f->offset / PAGE};
        rc = put(&d, e, sizeof e);
    }
    for (size_t i = 0; !rc && i < c->nfiles; i++)
        rc = put(&d, c->files[i].path, strlen(c->files[i].path) + 1);
    if (!rc)
        rc = note(b, NT_FILE, d.p, d.len);
    free(d.p);
    return rc;
}

static int build_notes(struct core *c, struct bytes *b)
{
    int rc = 0;
    /* A provider that lists no thread (a zombie has none left) still gets
     * one, the process's own, so that a debugger has a thread to show. */
    if (!c->nthreads)
        rc = note_prstatus(c, b, c->pid);
    for (size_t i = 0; !rc && i < c->nthreads; i++)
        rc = note_prstatus(c, b, c->threads[i].tid);
    if (!rc)
        rc = note_prpsinfo(c, b);
    if (!rc && c->auxv_len)
        rc = note(b, NT_AUXV, c->auxv, c->auxv_len);
    if (!rc && c->nfiles)
        rc = note_file(c, b);
    return rc;
}

static uint32_t pflags(uint32_t prot)
{
    return (prot & TENON_PROT_READ ? PF_R : 0) |
           (prot & TENON_PROT_WRITE ? PF_W : 0) |
           (prot & TENON_PROT_EXEC ? PF_X : 0);
}

/* ELF header, program headers, the section header PN_XNUM needs, notes and
 * padding to the first page of data: everything before the data. */
static int build_head(struct core *c, struct bytes *out)
{
    struct bytes notes = {0};
    size_t phnum = 1 + c->nruns, xnum = phnum >= PN_XNUM;
    uint64_t head_len, notes_off, off;
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    int rc;

    if (phnum > UINT32_MAX)
        return tenon__fail(TENON_ERANGE,
                           "process %u has %zu memory runs; a core file "
                           "holds at most %u segments",
                           c->pid, phnum, UINT32_MAX);
    if ((rc = build_notes(c, &notes)))
        goto out;
    notes_off = sizeof eh + phnum * sizeof ph + (xnum ? sizeof(Elf64_Shdr) : 0);
    head_len = (notes_off + notes.len + PAGE - 1) / PAGE * PAGE;

    memset(&eh, 0, sizeof eh);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof ph;
    /* More segments than e_phnum holds: the count moves to sh_info of
     * section 0, as the kernel writes it (elf(5), PN_XNUM). */
    eh.e_phnum = xnum ? PN_XNUM : (Elf64_Half)phnum;
    if (xnum) {
        eh.e_shoff = sizeof eh + phnum * sizeof ph;
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shnum = 1;
    }
    if ((rc = put(out, &eh, sizeof eh)))
        goto out;

    memset(&ph, 0, sizeof ph);
    ph.p_type = PT_NOTE;
    ph.p_offset = notes_off;
    ph.p_filesz = notes.len;
    ph.p_align = 4;
    if ((rc = put(out, &ph, sizeof ph)))
        goto out;
    off = head_len;
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        memset(&ph, 0, sizeof ph);
        ph.p_type = PT_LOAD;
        ph.p_flags = pflags(r->prot);
        ph.p_offset = off;
        ph.p_vaddr = r->start;
        ph.p_memsz = r->end - r->start;
        ph.p_filesz = r->readable ? ph.p_memsz : 0;
        ph.p_align = PAGE;
        /* Readable runs may end inside a page (a provider's reads may stop
         * anywhere); the next one's bytes still start on a page. */
        off += (ph.p_filesz + PAGE - 1) / PAGE * PAGE;
        if ((rc = put(out, &ph, sizeof ph)))
            goto out;
    }
    if (xnum) {
        Elf64_Shdr sh;
        memset(&sh, 0, sizeof sh);
        sh.sh_info = (Elf64_Word)phnum; /* checked on entry */
        if ((rc = put(out, &sh, sizeof sh)))
            goto out;
    }
    if (!(rc = put(out, notes.p, notes.len)))
        rc = pad(out, PAGE);
out:
    free(notes.p);
    return rc;
}

/* ---- pass 2: writing ------------------------------------------------------
 */

static int write_all(struct core *c, const void *p, size_t len)
{
    const unsigned char *s = p;
    while (len) {
        ssize_t n = write(c->fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tenon__fail(TENON_EIO, "writing the core of process %u: %s",
                               c->pid,
                               n < 0 ? strerror(errno) : "wrote nothing");
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_run(struct core *c, const struct run *r)
{
    uint64_t addr = r->start, len = r->end - r->start;
    int rc;
    while (addr < r->end) {
        size_t want = r->end - addr < CHUNK ? (size_t)(r->end - addr) : CHUNK;
        int64_t got = read_mem(c, addr, want);
        if (got < 0)
            return (int)got;
        if ((size_t)got < want) {
            /* Gone since the first pass (unmapped, or a file truncated):
             * zeros keep the file in step with its headers. */
            memset(c->buf + got, 0, want - (size_t)got);
            c->changed = 1;
        }
        if ((rc = write_all(c, c->buf, want)))
            return rc;
        addr += want;
    }
    if (len % PAGE) {
        memset(c->buf, 0, PAGE - len % PAGE);
        return write_all(c, c->buf, PAGE - len % PAGE);
    }
    return 0;
}

static void core_free(struct core *c)
{
    if (c->mem_obj)
        c->osi->process_memory_free(c->obj, c->mem_obj);
    if (c->proc)
        c->osi->process_free(c->obj, c->proc);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i].path);
    free(c->files);
    free(c->threads);
    free(c->maps);
    free(c->runs);
    free(c->auxv);
    free(c->buf);
}

int tenon_write_core(tenon_instance_t *osi, uint32_t pid, int fd)
{
    struct core c;
    struct bytes head = {0};
    int rc;

    if (!osi)
        return tenon__fail(TENON_EINVAL, "no instance to write a core from");
    memset(&c, 0, sizeof c);
    c.inst = osi;
    c.plugin = tenon_plugin_name(tenon_instance_plugin(osi));
    c.pid = pid;
    c.fd = fd;
    c.osi = tenon_get_interface(osi, TENON_OSI_ID, &c.obj);
    if (!c.osi || !HAS(c.osi, struct tenon_osi_v1, process_memory_free))
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' does not provide %s, which a core "
                           "file is written from",
                           c.plugin, TENON_OSI_ID);
    if (!(c.buf = malloc(CHUNK)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if ((rc = gather(&c)))
        goto out;
    for (size_t i = 0; i < c.nmaps; i++)
        if ((rc = probe(&c, &c.maps[i])))
            goto out;
    if ((rc = build_head(&c, &head)) || (rc = write_all(&c, head.p, head.len)))
        goto out;
    for (size_t i = 0; i < c.nruns; i++)
        if (c.runs[i].readable && (rc = write_run(&c, &c.runs[i])))
            goto out;
    if (c.changed)
        tenon__log(osi->t, TENON_LOG_WARN, "tenon",
                   "the memory of process %u changed while its core was "
                   "written: bytes that could no longer be read are zeros",
                   pid);
out:
    free(head.p);
    core_free(&c);
    return rc;
}
