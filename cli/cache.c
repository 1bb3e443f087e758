/* tenon cache: manage the scan cache. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tenon cache clear\n"
    "\n"
    "The scan cache keeps what reading each plugin file found, keyed by the\n"
    "file's path, device, inode, size, modification time and change time\n"
    "(ctime, which no one can set back), and its .meta's size, modification\n"
    "and change time, so a later scan only stats unchanged files; and each\n"
    "directory's list of files, keyed by its inode, modification and change\n"
    "time. It lives in $TENON_CACHE_DIR, else $XDG_CACHE_HOME/tenon, else\n"
    "~/.cache/tenon. Changes the key cannot see (made below the file system)\n"
    "need --no-cache or 'tenon cache clear'.\n"
    "\n"
    "  clear   delete the cache files (scan-<arch>.cache) and print each one\n"
    "          removed; the next scan reads every file again\n"
    "\n"
    "Exit status: 0 on success (also when there was nothing to remove),\n"
    "1 when a file cannot be removed, 2 on a usage error.\n";

/* tenon_cache_clear() logs "removed PATH" at debug level for each file it
 * deletes: those lines are this command's output. Other lines go to stderr
 * as usual, at the level TENON_LOG asks for. */
static void on_log(void *ud, int level, const char *origin, const char *msg)
{
    int want = *(int *)ud;
    if (strncmp(msg, "removed ", 8) == 0 && strcmp(origin, "tenon") == 0)
        tool_printf(stdout, "%s\n", msg);
    else if (level <= want)
        tool_log(NULL, level, origin, msg);
}

int cmd_cache(int argc, char **argv)
{
    struct tool_opts o = {0};
    const char *dir;
    int level = TENON_LOG_WARN;
    tenon_t *t;
    int rc = tool_parse("cache", usage, argc, argv, 0, 1, &o);

    if (rc == TOOL_DONE)
        return EXIT_OK;
    if (rc)
        return rc;
    if (o.npositional == 0 || strcmp(o.positional[0], "clear") != 0) {
        tool_error("cache",
                   o.npositional ? "unknown subcommand '%s'; expected clear"
                                 : "%sexpected a subcommand: clear",
                   o.npositional ? o.positional[0] : "");
        return EXIT_USAGE;
    }
    struct tenon_options opts = {.struct_size = sizeof opts,
                                 .log_level = TENON_LOG_DEBUG,
                                 .log_fn = on_log,
                                 .log_ud = &level};
    const char *env = getenv("TENON_LOG");
    if (env && tenon_log_level_parse(env, &level) != 0)
        level = TENON_LOG_WARN;
    if (tenon_open(&t, &opts) != 0) {
        tool_printf(stderr, "tenon: %s\n", tenon_last_error());
        return EXIT_FAIL;
    }
    if (!(dir = tenon_cache_dir(t))) {
        printf("no cache directory (neither TENON_CACHE_DIR, XDG_CACHE_HOME "
               "nor HOME is set); nothing to remove\n");
        tenon_close(t);
        return EXIT_OK;
    }
    rc = tenon_cache_clear(t);
    if (rc < 0)
        tool_error("cache", "%s", tenon_last_error());
    else if (rc == 0)
        tool_printf(stdout, "%s: no cache files to remove\n", dir);
    else
        tool_printf(stdout, "%s: removed %d cache file%s\n", dir, rc,
                    rc == 1 ? "" : "s");
    tenon_close(t);
    return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
