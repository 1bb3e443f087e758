/*
 * evhost - the example pipeline host of docs/events.md.
 *
 *     evhost [--plugin-path DIR] [FILTER [FORMAT]]
 *
 * Reads 30 events from the example source `counter` (starting at 0),
 * extracts fields with the example extractor `digits`, and prints one line
 * of FORMAT for each event FILTER matches, then how many were read and
 * matched. FILTER defaults to "" (every event), FORMAT to
 * "%evt.num %counter.value %counter.parity %counter.digits".
 *
 *     evhost --plugin-path build/examples 'counter.digit[0] = 7'
 */
#include <tenon/host.h>

#include <stdio.h>
#include <string.h>

/* The output function: one call per matching event, `text` without a
 * newline. Returning nonzero would stop the run. */
static int print_line(void *ud, const struct tenon_event_input *ev,
                      const char *text, size_t len)
{
    (void)ud;
    (void)ev;
    printf("%.*s\n", (int)len, text);
    return 0;
}

/* Build, run and free the pipeline. Each step is checked, and the message
 * of the first failure (tenon_last_error()) says what was wrong. */
static int run(tenon_t *t, const char *filter, const char *format)
{
    tenon_instance_t *src = NULL, *digits = NULL;
    tenon_pipeline_t *p = NULL;
    struct tenon_pipeline_stats st = {.struct_size = sizeof st};
    size_t col = 0;
    const char *what = NULL; /* the user's text that failed, if one did */
    int rc;

    if ((rc = tenon_create(t, "counter:n=30", NULL, &src)) ||
        (rc = tenon_create(t, "digits", NULL, &digits)) ||
        (rc = tenon_pipeline_new(t, src, &p)) ||
        (rc = tenon_pipeline_add(p, digits)))
        goto out;
    /* A bad filter or format gives the column where it went wrong. */
    if ((rc = tenon_pipeline_filter(p, filter, &col))) {
        what = "filter";
        goto out;
    }
    if ((rc = tenon_pipeline_output(p, TENON_OUTPUT_TEXT, format, &col,
                                    print_line, NULL))) {
        what = "format";
        goto out;
    }
    if ((rc = tenon_pipeline_open(p, NULL)))
        goto out;
    rc = tenon_pipeline_run(p, 0, NULL, NULL);
    tenon_pipeline_close(p);
    if (rc == 0 && (rc = tenon_pipeline_stats(p, &st)) == 0)
        printf("read %llu, matched %llu\n", (unsigned long long)st.read,
               (unsigned long long)st.matched);
out:
    if (rc && what)
        fprintf(stderr, "evhost: %s, column %zu: %s\n", what, col,
                tenon_last_error());
    else if (rc)
        fprintf(stderr, "evhost: %s\n", tenon_last_error());
    /* The pipeline holds its own references: ours go either way. */
    tenon_pipeline_free(p);
    tenon_destroy(digits);
    tenon_destroy(src);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dirs[1];
    struct tenon_options opts = {.struct_size = sizeof opts, .log_level = -1};
    const char *filter = "";
    const char *format = "%evt.num %counter.value %counter.parity "
                         "%counter.digits";
    tenon_t *t;
    int i = 1, rc;

    if (argc > 2 && strcmp(argv[1], "--plugin-path") == 0) {
        dirs[0] = argv[2];
        opts.plugin_paths = dirs;
        opts.plugin_path_count = 1;
        i = 3;
    }
    if (argc - i > 2) {
        fprintf(stderr, "usage: evhost [--plugin-path DIR] [FILTER "
                        "[FORMAT]]\n");
        return 2;
    }
    if (i < argc)
        filter = argv[i++];
    if (i < argc)
        format = argv[i++];
    if ((rc = tenon_open(&t, &opts))) {
        fprintf(stderr, "evhost: %s\n", tenon_last_error());
        return 1;
    }
    rc = run(t, filter, format);
    tenon_close(t);
    return rc ? 1 : 0;
}
