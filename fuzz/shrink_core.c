/*
 * shrink_core: make a real core file small enough to commit as a seed of
 * fuzz_core (fuzz/corpus/README says how the seeds were made).
 *
 *     shrink_core IN OUT [--segments N] [--max-bytes B] [--core-notes]
 *
 * Keeps the ELF header, every program header and the notes, and the bytes
 * of the first N PT_LOAD segments (4 by default) that hold at most B bytes
 * each (4096 by default); every other PT_LOAD keeps its address and size
 * but no bytes (p_filesz 0), as the kernel writes a segment it left out.
 * --core-notes keeps only the notes of owner "CORE" (the process, the
 * threads, the auxiliary vector, NT_FILE), dropping register state the
 * reader skips. The file is laid out anew: header, program headers, notes,
 * segments, with every offset fixed up.
 *
 * A tool for a core made here (gcore, the kernel), not a parser of hostile
 * files: it checks only enough not to read outside the input.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "shrink_core: %s\n", what);
    exit(1);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        die("cannot open the input");
    do {
        if (n == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 1 << 20)))
            die("out of memory");
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* The notes of [p, p + len), all or only those of owner CORE, appended to
 * out at *at. */
static void copy_notes(const unsigned char *p, size_t len, int core_only,
                       unsigned char *out, size_t *at)
{
    size_t pos = 0;
    while (pos + sizeof(Elf64_Nhdr) <= len) {
        Elf64_Nhdr nh;
        memcpy(&nh, p + pos, sizeof nh);
        size_t size =
            sizeof nh + ((nh.n_namesz + 3) & ~3u) + ((nh.n_descsz + 3) & ~3u);
        if (size > len - pos)
            die("a note runs past its segment");
        if (!core_only ||
            (nh.n_namesz == 5 && memcmp(p + pos + sizeof nh, "CORE", 5) == 0)) {
            memcpy(out + *at, p + pos, size);
            *at += size;
        }
        pos += size;
    }
}

int main(int argc, char **argv)
{
    size_t len, segments = 4, max_bytes = 4096, kept = 0;
    int core_only = 0;
    const char *in = NULL, *outpath = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--segments") == 0 && i + 1 < argc)
            segments = strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc)
            max_bytes = strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--core-notes") == 0)
            core_only = 1;
        else if (!in)
            in = argv[i];
        else if (!outpath)
            outpath = argv[i];
        else
            die("usage: shrink_core IN OUT [--segments N] [--max-bytes B] "
                "[--core-notes]");
    }
    if (!outpath)
        die("usage: shrink_core IN OUT [--segments N] [--max-bytes B] "
            "[--core-notes]");

    unsigned char *core = slurp(in, &len);
    Elf64_Ehdr eh;
    if (len < sizeof eh)
        die("not an ELF64 file");
    memcpy(&eh, core, sizeof eh);
    if (eh.e_type != ET_CORE || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phoff > len || eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        die("not an ELF64 core file");
    Elf64_Phdr *ph = calloc(eh.e_phnum, sizeof *ph);
    memcpy(ph, core + eh.e_phoff, eh.e_phnum * sizeof *ph);

    unsigned char *out = malloc(len);
    size_t at = sizeof eh + eh.e_phnum * sizeof *ph;
    for (size_t i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset)
            die("a segment runs past the end of the file");
        if (ph[i].p_type != PT_NOTE)
            continue;
        size_t start = at;
        copy_notes(core + ph[i].p_offset, ph[i].p_filesz, core_only, out, &at);
        ph[i].p_offset = start;
        ph[i].p_filesz = at - start;
    }
    for (size_t i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (ph[i].p_filesz && ph[i].p_filesz <= max_bytes && kept < segments) {
            memcpy(out + at, core + ph[i].p_offset, ph[i].p_filesz);
            ph[i].p_offset = at;
            at += ph[i].p_filesz;
            kept++;
        } else {
            ph[i].p_offset = at;
            ph[i].p_filesz = 0;
        }
    }
    eh.e_phoff = sizeof eh;
    eh.e_shoff = 0;
    eh.e_shnum = 0;
    eh.e_shstrndx = 0;
    memcpy(out, &eh, sizeof eh);
    memcpy(out + sizeof eh, ph, eh.e_phnum * sizeof *ph);

    FILE *f = fopen(outpath, "wb");
    if (!f || fwrite(out, 1, at, f) != at || fclose(f) != 0)
        die("cannot write the output");
    fprintf(stderr, "%s: %zu bytes, %zu segments with their bytes\n", outpath,
            at, kept);
    free(out);
    free(ph);
    free(core);
    return 0;
}
