/*
 * kvserver.h - what the files of kvserver share: the store (store.c), the
 * operations that parse and execute command lines (commands.c); the
 * network loop is server.c.
 */
#ifndef KVSERVER_H
#define KVSERVER_H

#include <tenon/op.h>

#include <stddef.h>
#include <stdint.h>

/* ---- store.c: keys to values, a chained hash table --------------------- */

struct kv_entry;

struct kv_store {
    struct kv_entry **slots;
    size_t nslots; /* a power of two, or 0 before the first set */
    size_t count;
};

/* Set `key` to a copy of `val`; TENON_ENOMEM leaves the store as it was. */
int kv_store_set(struct kv_store *st, const void *key, size_t klen,
                 const void *val, size_t vlen);
/* The value of `key` (*vlen its length), or NULL when it is not set. */
const void *kv_store_get(const struct kv_store *st, const void *key,
                         size_t klen, size_t *vlen);
/* 1 when `key` was set and is deleted now, 0 when it was not set. */
int kv_store_del(struct kv_store *st, const void *key, size_t klen);
void kv_store_free(struct kv_store *st);

/* ---- commands.c: the operations of kvops.h ------------------------------ */

struct kv_ops {
    struct kv_store store;
    tenon_op_t *parse, *command, *unknown, *del, *exists;
    /* kv.parse's outputs, each of capacity max_line, and the reply buffer
     * of capacity max_line + KV_REPLY_EXTRA: one command at a time. */
    struct tenon_buf verb, key, value, reply;
};

/* Room in the reply beyond the longest value ("VALUE " and more). */
#define KV_REPLY_EXTRA 256

/* Declare the operations on `t` and allocate the buffers for lines of up
 * to `max_line` bytes. 0, or a TENON_E* code with tenon_last_error() set. */
int kv_ops_init(struct kv_ops *ops, tenon_t *t, size_t max_line);
void kv_ops_free(struct kv_ops *ops);

/* Run one line (without its newline) through kv.parse and kv.command.
 * Returns the reply line, without its newline, in ops->reply: never empty,
 * no control bytes (whatever a plugin wrote). */
void kv_ops_execute(struct kv_ops *ops, const char *line, size_t len);

#endif
