/*
 * The process-wide memory barrier the operations' read side relies on
 * (Linux: membarrier(2)). Readers of hook lists pay only compiler barriers;
 * a writer that retires a list calls tenon__sys_barrier(), which runs a full
 * memory barrier on every thread of the process, so that a reader either
 * shows it is inside a read section or sees the new list.
 */
#include "internal.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static int membarrier(int cmd)
{
    return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

int tenon__sys_barrier_init(void)
{
    int q = membarrier(MEMBARRIER_CMD_QUERY);
    if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return -1;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 ? 0 : -1;
}

void tenon__sys_barrier(void)
{
    while (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) < 0 && errno == EINTR)
        ;
}
