/* tenon: find, inspect and run Tenon plugins. */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"list", cmd_list, "list the plugins on the search path"},
    {"info", cmd_info, "show everything a plugin's static info says"},
    {"check", cmd_check, "check NAME[@VERSION][:ARGS] without loading it"},
    {"keygen", cmd_keygen, "generate a key pair for signing plugins"},
    {"sign", cmd_sign, "sign a plugin file: write FILE.meta"},
    {"trust", cmd_trust, "add, list or remove trusted public keys"},
    {"verify", cmd_verify, "check plugin files' digests and signatures"},
    {"install", cmd_install, "check a plugin file and copy it into place"},
    {"remove", cmd_remove, "delete an installed plugin"},
    {"cache", cmd_cache, "clear the scan cache"},
    {"providers", cmd_providers, "list the providers of an interface by rank"},
    {"policy", cmd_policy, "show the permissions plugins ask for and get"},
    {"ps", cmd_ps, "list the processes of a system"},
    {"threads", cmd_threads, "list the threads of a process"},
    {"maps", cmd_maps, "list the memory mappings of a process"},
    {"modules", cmd_modules, "list the kernel modules of a system"},
    {"read", cmd_read, "read memory: a hexdump, or the raw bytes"},
    {"dump", cmd_dump, "write an ELF core file of a process"},
    {"run", cmd_run, "run an event pipeline: source, filter, output"},
    {"fields", cmd_fields, "list the fields events can be filtered on"},
    {"help", cmd_help, "show help for a command"},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

static const char help_usage[] =
    "usage: tenon help [COMMAND]\n"
    "\n"
    "Without COMMAND, list the commands and the environment variables tenon\n"
    "reads (the same as 'tenon --help'). With COMMAND, print what\n"
    "'tenon COMMAND --help' prints.\n"
    "\n"
    "Exit status: 0 on success, 2 when COMMAND is not a command.\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: tenon [--version] [--help] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(
        f, "\n'tenon COMMAND --help' describes a command. Environment:\n"
           "  TENON_PLUGIN_PATH  colon-separated plugin directories\n"
           "  TENON_LOG          off, error, warn, info, debug or trace\n"
           "  TENON_TRUST        require, warn or off (see docs/trust.md)\n"
           "  TENON_CACHE_DIR    where the scan cache lives\n"
           "  TENON_POLICY       a permission policy file (see docs/ops.md)\n");
}

/* The command `name`; else NULL, after saying so (with the nearest command
 * when one is close). */
static const struct command *find(const char *name)
{
    const char *names[NCOMMANDS + 2];
    const char *near;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
        names[i] = commands[i].name;
    }
    names[NCOMMANDS] = "--help";
    names[NCOMMANDS + 1] = "--version";
    near = tool_nearest(name, names, NCOMMANDS + 2);
    tool_printf(stderr, "tenon: unknown command '%s'; %s%s%s\n", name,
                near ? "did you mean '" : "see 'tenon --help'",
                near ? near : "", near ? "'?" : "");
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct command *c;
    int rc = tool_parse("help", help_usage, argc, argv, 0, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!(c = find(o.positional[0])))
        return EXIT_USAGE;
    char *help_argv[] = {(char *)c->name, "--help", NULL};
    return c->run(2, help_argv);
}

/* A descriptor 0, 1 or 2 that is closed would be taken by the next file
 * tenon opens, which would then be read as stdin or written as stdout: a
 * plugin file parsed as JSON lines, output written into a file. */
static void standard_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
            open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
            _exit(EXIT_FAIL);
}

int main(int argc, char **argv)
{
    const struct command *c;
    standard_fds();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (argc > 2) {
            tool_printf(stderr, "tenon: --version takes no operand; got '%s'\n",
                        argv[2]);
            return EXIT_USAGE;
        }
        printf("tenon %s (plugin ABI %d)\n", TENON_VERSION_STRING,
               TENON_ABI_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!(c = find(argv[1])))
        return EXIT_USAGE;
    return c->run(argc - 1, argv + 1);
}
