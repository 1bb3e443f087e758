/*
 * fuzz_elfinfo: a whole plugin file, as the inventory scan sees it.
 *
 * The input is the file's bytes. tenon__elf_read_mem() digs out the static
 * info and the dynamic strings; when it does, the info goes on to
 * tenon__info_parse() and the strings to tenon__dyn_split() exactly as
 * tenon__plugin_probe() hands them over. Only inputs that survive the ELF
 * checks reach the info parser here, so fuzz_info feeds that parser directly.
 *
 * Besides the sanitizers, the target traps when a result breaks the contract
 * the callers rely on: a successful read must leave NUL-terminated info of
 * 1..TENON__INFO_MAX bytes, and every failure must explain itself.
 *
 * The seeds in fuzz/corpus/fuzz_elfinfo are small plugins built with the SDK
 * (cc -shared -fPIC -Os -s -nostdlib -Wl,-z,noseparate-code, which keeps them
 * near 5 KB, and one with the default link for the usual layout), edited
 * copies of them (info moved past the first page, truncations), the raw info
 * bytes alone, and crash-* inputs that found bugs; and for the dynamic
 * section a plugin and a library with DT_NEEDED, DT_RUNPATH and DT_SONAME
 * as the test suite builds them (tests/plugins/depplug.c, tdep.c), one with
 * PT_DYNAMIC's p_offset pointed at the ELF header.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tenon__elf elf;
    struct tenon__info info;
    char reason[TENON__REASON_MAX] = "";

    if (tenon__elf_read_mem(data, size, TENON__ELF_INFO | TENON__ELF_DYN, &elf,
                            reason, sizeof reason) != 0) {
        if (elf.info != NULL || elf.dyn != NULL || reason[0] == '\0')
            __builtin_trap();
        return 0;
    }
    /* The dynamic strings must split as the inventory splits them. */
    struct tenon__dyn dyn;
    if ((elf.dyn && (elf.dyn_size == 0 || elf.dyn[elf.dyn_size - 1])) ||
        tenon__dyn_split(elf.dyn, elf.dyn_size, &dyn) != 0)
        __builtin_trap();
    for (size_t i = 0; i < dyn.nneeded; i++)
        if (!dyn.needed[i][0] || strlen(dyn.needed[i]) > 4096)
            __builtin_trap();
    free(dyn.needed);
    if (!elf.info || elf.info_size == 0 || elf.info_size > TENON__INFO_MAX ||
        elf.info[elf.info_size - 1] != '\0')
        __builtin_trap();

    reason[0] = '\0';
    if (tenon__info_parse(elf.info, elf.info_size, &info, reason,
                          sizeof reason) != 0) {
        if (reason[0] == '\0')
            __builtin_trap();
    } else {
        /* The accessors the inventory uses right after a probe. */
        if (!tenon__info_get(&info, "name") || !info.version)
            __builtin_trap();
    }
    tenon__info_free(&info);
    free(elf.info);
    free(elf.dyn);
    return 0;
}
