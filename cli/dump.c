/* tenon dump: an ELF core file of one process, from any tenon.osi/1
 * provider. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon dump PID -O FILE [--force] [--json] [-o NAME[:ARGS]]...\n"
    "                  [-c NAME[:ARGS]]... [--no-cache] [--plugin-path "
    "DIR]...\n"
    "\n"
    "Write an ELF core file of process PID as a tenon.osi/1 provider sees it\n"
    "(native, the default, or e.g. -o coredump:FILE): its threads, its\n"
    "auxiliary vector, its file mappings and every byte of its memory that\n"
    "can be read. gdb opens it ('gdb EXE FILE'), and so does the coredump\n"
    "plugin. Registers are not known to tenon.osi/1 and are zeros. The\n"
    "process is not stopped while it is read.\n"
    "\n"
    "  -O, --output FILE             where to write it, created mode 0600\n"
    "                                through a temporary file in the same\n"
    "                                directory, so a failed dump leaves\n"
    "                                nothing; - writes to stdout (not a\n"
    "                                terminal)\n"
    "  --force                       replace FILE if it exists\n"
    "  --json                        print one JSON object: pid, file, "
    "size\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when there is no such process, its memory\n"
    "cannot be read, or FILE cannot be written (or exists, without\n"
    "--force), 2 on a usage error.\n";

static int check_operands(const struct tool_opts *o, uint32_t *pid)
{
    int rc;
    if (o->npositional != 1) {
        tool_error("dump", "expected PID; see 'tenon dump --help'");
        return EXIT_USAGE;
    }
    if ((rc = tool_parse_pid("dump", o->positional[0], pid)))
        return rc;
    if (!o->output) {
        tool_error("dump", "expected -O FILE (or -O - for stdout); see "
                           "'tenon dump --help'");
        return EXIT_USAGE;
    }
    if (strcmp(o->output, "-") == 0 && o->json) {
        tool_error("dump", "--json and -O - exclude each other: both write "
                           "to stdout");
        return EXIT_USAGE;
    }
    if (strcmp(o->output, "-") == 0 && isatty(STDOUT_FILENO)) {
        tool_error("dump", "refusing to write a core file to a terminal; "
                           "redirect stdout or give -O FILE");
        return EXIT_USAGE;
    }
    return 0;
}

/* The temporary file while it is being written, for the signal handler:
 * an interrupted dump leaves nothing behind either. */
static const char *volatile pending;
static const int watched[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction before[sizeof watched / sizeof *watched];

static void on_signal(int sig)
{
    if (pending)
        unlink(pending);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Watch the signals that end the process, except those it ignores (as
 * under nohup); NULL puts back what was there. */
static void watch(const char *tmp)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    pending = tmp;
    for (size_t i = 0; i < sizeof watched / sizeof *watched; i++) {
        if (!tmp)
            sigaction(watched[i], &before[i], NULL);
        else if (sigaction(watched[i], NULL, &before[i]) == 0 &&
                 before[i].sa_handler != SIG_IGN)
            sigaction(watched[i], &sa, NULL);
    }
}

/* Move the finished temporary file to its name: over an existing file
 * only with --force, and without a window in which a file created
 * meanwhile would be replaced. */
static int publish(const char *tmp, const char *file, int force)
{
    if (force)
        return rename(tmp, file);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, file, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* A file system without RENAME_NOREPLACE: link() fails on an existing
     * name too. */
    if (link(tmp, file) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

/* --force replaces an earlier core, not a device, FIFO or directory that
 * happens to have the name: renaming over /dev/null would take it away
 * from everyone. A symbolic link is replaced itself, not followed. */
static int replaceable(const char *file)
{
    struct stat st;
    if (lstat(file, &st) != 0 || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
        return 1;
    tool_error("dump", "%s is not a regular file; refusing to replace it",
               file);
    return 0;
}

static int report(const struct tool_opts *o, uint32_t pid, off_t size)
{
    if (o->json) {
        json_t *j = json_object();
        json_object_set_new(j, "pid", json_integer(pid));
        json_object_set_new(j, "file", tool_json_str(o->output));
        json_object_set_new(j, "size", json_integer((json_int_t)size));
        return tool_print_json(j);
    }
    tool_printf(stdout, "%s: core of process %zu, %zu bytes\n", o->output,
                (size_t)pid, (size_t)size);
    return EXIT_OK;
}

/* Dump into a temporary file beside FILE, then give it FILE's name. */
static int dump_file(const struct tool_opts *o, tenon_instance_t *inst,
                     uint32_t pid)
{
    struct stat st;
    char *tmp;
    int fd, rc = EXIT_FAIL;

    if (!o->force && lstat(o->output, &st) == 0) {
        tool_error("dump", "%s exists; give --force to replace it", o->output);
        return EXIT_FAIL;
    }
    if (!replaceable(o->output))
        return EXIT_FAIL;
    if (!(tmp = tenon__asprintf("%s.tmp-XXXXXX", o->output))) {
        tool_error("dump", "out of memory");
        return EXIT_FAIL;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        tool_error("dump", "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return EXIT_FAIL;
    }
    watch(tmp);
    if (tenon_write_core(inst, pid, fd) != 0)
        tool_error("dump", "%s", tenon_last_error());
    else if (fsync(fd) != 0 || fstat(fd, &st) != 0)
        tool_error("dump", "writing %s: %s", tmp, strerror(errno));
    else
        rc = EXIT_OK;
    if (close(fd) != 0 && rc == EXIT_OK) {
        tool_error("dump", "writing %s: %s", tmp, strerror(errno));
        rc = EXIT_FAIL;
    }
    /* Once more: the dump takes a while, and the name may have changed. */
    if (rc == EXIT_OK && o->force && !replaceable(o->output))
        rc = EXIT_FAIL;
    else if (rc == EXIT_OK && publish(tmp, o->output, o->force) != 0) {
        if (errno == EEXIST)
            tool_error("dump", "%s exists; give --force to replace it",
                       o->output);
        else
            tool_error("dump", "cannot name the core %s: %s", o->output,
                       strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK)
        unlink(tmp);
    watch(NULL);
    free(tmp);
    return rc == EXIT_OK ? report(o, pid, st.st_size) : rc;
}

int cmd_dump(int argc, char **argv)
{
    struct tool_opts o = {0};
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    uint32_t pid;
    tenon_t *t;
    int rc = tool_parse(
        "dump", usage, argc, argv,
        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN | OPT_OUTPUT, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if ((rc = check_operands(&o, &pid)))
        return rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = tool_chain_open("dump", t, &o, TENON_OSI_ID, &inst, &vt, &obj))) {
        tenon_close(t);
        return rc;
    }
    if (strcmp(o.output, "-") == 0) {
        fflush(stdout);
        rc = EXIT_OK;
        if (tenon_write_core(inst, pid, STDOUT_FILENO) != 0) {
            tool_error("dump", "%s", tenon_last_error());
            rc = EXIT_FAIL;
        }
    } else {
        rc = dump_file(&o, inst, pid);
    }
    tenon_destroy(inst);
    tenon_close(t);
    return rc;
}
