/* tenon: find, inspect and run Tenon plugins. */
#include "tool.h"

#include <string.h>

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"list", cmd_list, "list the plugins on the search path"},
    {"info", cmd_info, "show everything a plugin's static info says"},
    {"cache", cmd_cache, "clear the scan cache"},
    {"keygen", cmd_keygen, "generate a key pair for signing plugins"},
    {"sign", cmd_sign, "sign a plugin file: write FILE.meta"},
    {"trust", cmd_trust, "add, list or remove trusted public keys"},
    {"verify", cmd_verify, "check plugin files' digests and signatures"},
    {"install", cmd_install, "check a plugin file and copy it into place"},
    {"remove", cmd_remove, "delete an installed plugin"},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
    fprintf(f, "usage: tenon [--version] [--help] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-8s %s\n", "help", "show help for a command");
    fprintf(f, "\n'tenon COMMAND --help' describes a command. Environment:\n"
               "  TENON_PLUGIN_PATH  colon-separated plugin directories\n"
               "  TENON_LOG          off, error, warn, info, debug or trace\n"
               "  TENON_TRUST        require, warn or off (see docs/trust.md)\n"
               "  TENON_CACHE_DIR    where the scan cache lives\n");
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const struct command *c;
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tenon %s (plugin ABI %d)\n", TENON_VERSION_STRING,
               TENON_ABI_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!(c = find(argv[2]))) {
            tool_printf(stderr, "tenon: unknown command '%s'\n", argv[2]);
            return EXIT_USAGE;
        }
        char *help_argv[] = {(char *)c->name, "--help", NULL};
        return c->run(2, help_argv);
    }
    if (!(c = find(argv[1]))) {
        tool_printf(stderr, "tenon: unknown command '%s'; see 'tenon --help'\n",
                    argv[1]);
        return EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
