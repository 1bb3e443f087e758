/*
 * A live process for the introspection tests and benchmarks to look at: it
 * holds a known marker string at a known address, runs two extra named
 * threads, and (with --fill MIB) a buffer of MIB mebibytes filled with a
 * known pattern. It prints one line describing itself, then waits until
 * its stdin closes (or it is killed), so the test decides how long it lives:
 *
 *   pid=P marker=0xADDR marker_len=N buf=0xADDR buf_len=N tids=T1,T2,T3
 *
 * The pattern of byte i of the buffer is (i * 131 + 7) & 0xff, i counted
 * from the start of the buffer.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Read by the tests through /proc, process_vm_readv, gcore and tenon dump. */
char osi_target_marker[] = "TENON-OSI-MARKER:7f3a9c1e-the-quick-brown-fox";

static pthread_barrier_t ready;
static pid_t tids[2];

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    char name[16] = "worker-1";
    name[7] = (char)('1' + i);
    pthread_setname_np(pthread_self(), name);
    tids[i] = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&ready);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    size_t fill = 0;
    unsigned char *buf = NULL;
    pthread_t th[2];
    char c;

    if (argc == 3 && strcmp(argv[1], "--fill") == 0)
        fill = strtoull(argv[2], NULL, 10) << 20;
    if (fill) {
        buf = mmap(NULL, fill, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED) {
            perror("osi_target: mmap");
            return 1;
        }
        for (size_t i = 0; i < fill; i++)
            buf[i] = (unsigned char)((i * 131 + 7) & 0xff);
    }
    pthread_barrier_init(&ready, NULL, 3);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
            fprintf(stderr, "osi_target: pthread_create failed\n");
            return 1;
        }
    pthread_barrier_wait(&ready);
    printf("pid=%d marker=%p marker_len=%zu buf=%p buf_len=%zu "
           "tids=%d,%d,%d\n",
           (int)getpid(), (void *)osi_target_marker, strlen(osi_target_marker),
           (void *)buf, fill, (int)getpid(), (int)tids[0], (int)tids[1]);
    fflush(stdout);
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
