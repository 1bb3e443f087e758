/* Small allocation helpers shared by the library's files. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
