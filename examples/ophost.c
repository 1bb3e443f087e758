/* ophost: the host of docs/ops.md. It declares the operation text.render
 * (a text in, a rendering out), loads the plugins named on the command line
 * and renders each word of standard input through the operation, calling
 * tenon_poll() for the plugins' timers in between.
 *
 *   ophost [PLUGIN...] < words
 */
#include <tenon/op.h>

#include <stdio.h>
#include <string.h>

/* The host's own rendering: the text as it is. */
static int64_t render_plain(void *ctx, uint64_t param,
                            const union tenon_op_arg *args)
{
    struct tenon_buf *in = args[0].buf, *out = args[1].buf;
    size_t n = in->len < out->cap ? in->len : out->cap;
    (void)ctx;
    (void)param;
    memcpy(out->data, in->data, n);
    out->len = n;
    return (int64_t)n;
}

int main(int argc, char **argv)
{
    tenon_t *t;
    tenon_op_t *render;
    tenon_instance_t *inst[16];
    int n = 0;
    char word[256], out[256];

    if (tenon_open(&t, NULL) || tenon_op_declare(t, "text.render", "bw", 0,
                                                 render_plain, NULL, &render)) {
        fprintf(stderr, "ophost: %s\n", tenon_last_error());
        return 1;
    }
    for (int i = 1; i < argc && n < 16; i++)
        if (tenon_create(t, argv[i], NULL, &inst[n]) == 0)
            n++;
        else
            fprintf(stderr, "ophost: %s\n", tenon_last_error());
    while (scanf("%255s", word) == 1) {
        if (strcmp(word, "-") == 0) /* "-" stands for an empty text */
            word[0] = '\0';
        tenon_poll(t, NULL); /* fire the timers that are due */
        struct tenon_buf in = {word, strlen(word), 0};
        struct tenon_buf res = {out, 0, sizeof out};
        union tenon_op_arg args[2] = {{.buf = &in}, {.buf = &res}};
        int64_t r = TENON_OP_CALL(render, 0, args, render_plain(NULL, 0, args));
        if (r < 0)
            printf("refused: %s\n", tenon_strerror((int)r));
        else
            printf("%.*s\n", (int)res.len, out);
    }
    for (int i = 0; i < n; i++)
        tenon_destroy(inst[i]);
    tenon_close(t);
    return 0;
}
