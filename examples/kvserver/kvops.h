/*
 * kvops.h - the operations kvserver declares, as its plugins see them.
 *
 * kvserver (examples/kvserver) runs each command line through two
 * operations, and offers two more for plugins to call:
 *
 *   kv.parse    "bwwww"  line, verb, key, value, reply
 *       Splits one line (no newline) into the verb (upper-cased), the key
 *       and the value (the rest of the line). Returns how many words came
 *       after the verb (0: verb only, 1: key, 2: key and value), or a
 *       negative TENON_E* code with "ERR ..." in `reply`.
 *   kv.command  "bbbiw"  verb, key, value, nargs, reply
 *       Executes a parsed line and writes the reply line (without its
 *       newline) into `reply`: the host's code knows GET, SET and DEL and
 *       hands any other verb to kv.unknown. Returns 0, or a negative
 *       TENON_E* code when the command failed or was refused (a before
 *       hook that refuses writes its "ERR ..." into `reply`; when it
 *       writes nothing the server replies "ERR refused: " and the
 *       tenon_strerror() text of the code).
 *   kv.unknown  "bbbiw"  the same arguments, for a verb the host does not
 *       know. Its own code returns TENON_ENOTSUP, which kv.command turns
 *       into "ERR unknown command"; a plugin adds commands by defining it,
 *       declining (TENON_EDECLINE) the verbs it does not know, so that
 *       several such plugins combine.
 *   kv.del      "b"      key      -> 1 when it was deleted, 0 when absent
 *   kv.exists   "b"      key      -> 1 when it is set, 0 when not
 *
 * Buffer arguments reach a plugin's hooks as their lengths (call->argv[k]);
 * their bytes through host->buf_read() / buf_write() (permissions
 * buffer.read, buffer.write). None of them contains a newline or another
 * control byte: kv.parse refuses such lines.
 */
#ifndef KVOPS_H
#define KVOPS_H

#define KV_OP_PARSE   "kv.parse"
#define KV_OP_COMMAND "kv.command"
#define KV_OP_UNKNOWN "kv.unknown"
#define KV_OP_DEL     "kv.del"
#define KV_OP_EXISTS  "kv.exists"

#define KV_SIG_PARSE   "bwwww"
#define KV_SIG_COMMAND "bbbiw"
#define KV_SIG_KEY     "b"

/* Argument indexes of kv.parse. */
#define KV_PARSE_LINE  0
#define KV_PARSE_VERB  1
#define KV_PARSE_KEY   2
#define KV_PARSE_VALUE 3
#define KV_PARSE_REPLY 4

/* Argument indexes of kv.command and kv.unknown. */
#define KV_ARG_VERB  0
#define KV_ARG_KEY   1
#define KV_ARG_VALUE 2
#define KV_ARG_NARGS 3
#define KV_ARG_REPLY 4

/* The longest verb kv.parse accepts, in bytes. */
#define KV_VERB_MAX 16

#endif
