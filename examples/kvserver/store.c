/*
 * store.c - kvserver's keys and values: a chained hash table (FNV-1a),
 * doubled when it holds as many entries as slots.
 */
#include "kvserver.h"

#include <stdlib.h>
#include <string.h>

struct kv_entry {
    struct kv_entry *next;
    uint64_t hash;
    char *val;
    size_t vlen, klen;
    char key[];
};

static uint64_t hash_of(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static struct kv_entry **find(const struct kv_store *st, const void *key,
                              size_t klen, uint64_t h)
{
    struct kv_entry **pp = &st->slots[h & (st->nslots - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->klen == klen &&
            memcmp((*pp)->key, key, klen) == 0)
            break;
    return pp;
}

static int grow(struct kv_store *st)
{
    size_t n = st->nslots ? st->nslots * 2 : 64;
    struct kv_entry **slots = calloc(n, sizeof *slots);
    if (!slots)
        return TENON_ENOMEM;
    for (size_t i = 0; i < st->nslots; i++) {
        struct kv_entry *e = st->slots[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    }
    free(st->slots);
    st->slots = slots;
    st->nslots = n;
    return 0;
}

int kv_store_set(struct kv_store *st, const void *key, size_t klen,
                 const void *val, size_t vlen)
{
    uint64_t h = hash_of(key, klen);
    struct kv_entry **pp, *e;
    /* One byte more, so that an empty value is no NULL from malloc(0). */
    char *copy = malloc(vlen + 1);

    if (!copy)
        return TENON_ENOMEM;
    memcpy(copy, val, vlen);
    /* A table that cannot double serves on with longer chains. */
    if (st->count >= st->nslots && grow(st) && st->nslots == 0) {
        free(copy);
        return TENON_ENOMEM;
    }
    pp = find(st, key, klen, h);
    if ((e = *pp)) {
        free(e->val);
    } else {
        if (!(e = malloc(sizeof *e + klen))) {
            free(copy);
            return TENON_ENOMEM;
        }
        e->next = NULL;
        e->hash = h;
        e->klen = klen;
        memcpy(e->key, key, klen);
        *pp = e;
        st->count++;
    }
    e->val = copy;
    e->vlen = vlen;
    return 0;
}

const void *kv_store_get(const struct kv_store *st, const void *key,
                         size_t klen, size_t *vlen)
{
    struct kv_entry *e;
    if (!st->nslots)
        return NULL;
    if (!(e = *find(st, key, klen, hash_of(key, klen))))
        return NULL;
    *vlen = e->vlen;
    return e->val;
}

int kv_store_del(struct kv_store *st, const void *key, size_t klen)
{
    struct kv_entry **pp, *e;
    if (!st->nslots)
        return 0;
    pp = find(st, key, klen, hash_of(key, klen));
    if (!(e = *pp))
        return 0;
    *pp = e->next;
    free(e->val);
    free(e);
    st->count--;
    return 1;
}

void kv_store_free(struct kv_store *st)
{
    for (size_t i = 0; i < st->nslots; i++) {
        struct kv_entry *e = st->slots[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->val);
            free(e);
        }
    }
    free(st->slots);
    memset(st, 0, sizeof *st);
}
