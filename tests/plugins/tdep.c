/* A library the dependency tests bundle with plugins (not a plugin). It
 * says which build it is, and its constructor appends that to the file
 * $TDEP_MARKER names, so a test can tell whether its code ran at all. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TDEP_TEXT
#define TDEP_TEXT "tdep"
#endif
#ifndef TDEP_FN
#define TDEP_FN tdep_text
#endif

#define EXPORT __attribute__((visibility("default")))

#ifdef TDEP_NEXT /* one library of a chain: the next one speaks */
const char *TDEP_NEXT(void);
EXPORT const char *TDEP_FN(void) { return TDEP_NEXT(); }
#else
EXPORT const char *TDEP_FN(void) { return TDEP_TEXT; }
#endif

__attribute__((constructor)) static void mark(void)
{
    const char *path = getenv("TDEP_MARKER");
    int fd;
    if (!path || (fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
        return;
    if (write(fd, TDEP_TEXT "\n", strlen(TDEP_TEXT) + 1) < 0)
        (void)0; /* nothing to do about it in a constructor */
    close(fd);
}
