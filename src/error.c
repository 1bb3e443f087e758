/* Error codes and the per-thread message of the last failed call. */
#include "internal.h"

#include <stdio.h>

static _Thread_local char last_error[1024];

int tenon__fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return err;
}

const char *tenon_last_error(void) { return last_error; }

static const struct {
    int code;
    const char *name, *text;
} errors[] = {
    {TENON_OK, "TENON_OK", "success"},
    {TENON_EINVAL, "TENON_EINVAL", "invalid argument"},
    {TENON_ENOMEM, "TENON_ENOMEM", "out of memory"},
    {TENON_ENOENT, "TENON_ENOENT", "not found"},
    {TENON_EIO, "TENON_EIO", "input/output error"},
    {TENON_EABI, "TENON_EABI", "ABI or architecture mismatch"},
    {TENON_EUNAVAIL, "TENON_EUNAVAIL", "plugin unavailable"},
    {TENON_EARG, "TENON_EARG", "bad plugin argument"},
    {TENON_EPLUGIN, "TENON_EPLUGIN", "plugin reported a failure"},
    {TENON_ENOTSUP, "TENON_ENOTSUP", "not supported"},
    {TENON_EEXIST, "TENON_EEXIST", "already exists"},
    {TENON_EPERM, "TENON_EPERM", "not permitted"},
    {TENON_ERANGE, "TENON_ERANGE", "value out of range"},
    {TENON_EBUSY, "TENON_EBUSY", "resource busy"},
    {TENON_EDECLINE, "TENON_EDECLINE", "provider declined"},
    {TENON_EAGAIN, "TENON_EAGAIN", "nothing ready, try again"},
    {TENON_EEOF, "TENON_EEOF", "end of stream"},
};

const char *tenon_strerror(int err)
{
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].code == err)
            return errors[i].text;
    return "unknown error";
}

const char *tenon_err_name(int err)
{
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].code == err)
            return errors[i].name;
    return "TENON_EUNKNOWN";
}
