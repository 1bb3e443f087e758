/* Small helpers shared by the library's files: allocation, reasons, and
 * opening untrusted files. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tenon__strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *tenon__strdup(const char *s) { return tenon__strndup(s, strlen(s)); }

char *tenon__asprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

int tenon__grow(void *arr, size_t *cap, size_t need, size_t size)
{
    void **a = arr;
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*a, ncap * size);
    if (!n)
        return TENON_ENOMEM;
    *a = n;
    *cap = ncap;
    return 0;
}

int tenon__reason(char *buf, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return code;
}

size_t tenon__utf8_next(const char *s, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0], n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 1, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 2, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 3, v = c & 0x07;
    else
        return 0;
    for (unsigned i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && v < 0x800) || (n == 3 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n + 1;
}

/* Valid UTF-8, but not to be shown: C1 controls, line and paragraph
 * separators, and the bidirectional formatting characters, which reorder
 * what a terminal shows around them. */
static int hidden(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e ||
           cp == 0x200f || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t tenon__esc_char(const char *s, char out[TENON__ESC_MAX], size_t *len)
{
    static const char c_escapes[] = "\aa\bb\tt\nn\vv\ff\rr";
    unsigned char c = (unsigned char)*s;
    uint32_t cp;
    size_t n = tenon__utf8_next(s, &cp);

    if ((c >= 0x20 && c < 0x7f) || (n > 1 && !hidden(cp))) {
        memcpy(out, s, n);
        *len = n;
        return n;
    }
    for (const char *e = c_escapes; *e; e += 2)
        if (*e == (char)c) {
            out[0] = '\\';
            out[1] = e[1];
            *len = 2;
            return 1;
        }
    if (n == 0)
        n = 1; /* not UTF-8: this byte alone */
    for (size_t i = 0; i < n; i++)
        snprintf(out + 4 * i, 5, "\\%03o", (unsigned char)s[i]);
    *len = 4 * n;
    return n;
}

char *tenon__escape(const char *s)
{
    size_t used = 0, len;
    char *d = malloc(strlen(s) * 4 + 1), buf[TENON__ESC_MAX];
    if (!d)
        return NULL;
    for (const char *p = s; *p;) {
        p += tenon__esc_char(p, buf, &len);
        memcpy(d + used, buf, len);
        used += len;
    }
    d[used] = '\0';
    return d;
}

int tenon__open_regular(int dirfd, const char *name, struct stat *st)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    char proc[64];
    int fd = openat(dirfd, name, flags | O_NOFOLLOW), pfd, e;

    if (fd < 0 && errno == ELOOP) {
        /* A symbolic link: see what it leads to before opening that for
         * reading, which for some devices is an action (a watchdog arms,
         * a tape rewinds), then open the very inode looked at. */
        if ((pfd = openat(dirfd, name, O_PATH | O_CLOEXEC)) < 0)
            return -1;
        e = fstat(pfd, st) != 0 ? errno : !S_ISREG(st->st_mode) ? ENXIO : 0;
        if (e) {
            close(pfd);
            errno = e;
            return -1;
        }
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
        fd = open(proc, flags);
        e = errno;
        close(pfd);
        errno = e;
    }
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
