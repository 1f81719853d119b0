/*
 * blockcache.c - process-wide LRU cache of decoded stored blocks (see
 * blockcache.h for why and for the validity rule).
 *
 * One mutex guards a chained hash table and an LRU list.  Decoding happens
 * outside the lock, so readers never wait on each other's inflate; when two
 * threads decode the same block at once, the second keeps the first's entry
 * and frees its own copy.
 */
#include "blockcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "coldblock.h"
#include "sightline.h"

#define COL_BC_BUCKETS 4096 /* power of two */
#define COL_BC_DEFAULT_BYTES (64u << 20)
#define COL_BC_HDR SLC_WIRE_HEADER_LEN

struct col_bcache_ent {
    const void *owner;
    uint8_t key[12];
    uint8_t hdr[COL_BC_HDR];
    size_t len, bytes;
    slc_batch *b;
    unsigned refs;
    int linked; /* in the table and the LRU list */
    struct col_bcache_ent *hnext;
    struct col_bcache_ent *prev, *next; /* LRU: head = most recent */
};

static pthread_mutex_t col_bc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct col_bcache_ent *col_bc_tab[COL_BC_BUCKETS];
static struct col_bcache_ent *col_bc_head, *col_bc_tail;
static size_t col_bc_bytes, col_bc_max = COL_BC_DEFAULT_BYTES;
static uint64_t col_bc_hits, col_bc_misses;

static size_t col_bc_slot(const void *owner, const uint8_t key[12])
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)owner;
    for (int i = 0; i < 12; i++)
        h = (h ^ key[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29)) & (COL_BC_BUCKETS - 1);
}

/* Memory a decoded batch holds: the inflated payload its strings point
 * into plus its arrays. */
static size_t col_bc_size(const slc_batch *b)
{
    /* The string bytes stand for the decoded payload (frames and sealed
     * blocks have different headers). */
    size_t raw = 0;
    for (uint32_t i = 0; i < b->nstrs; i++)
        raw += b->strs[i].len;
    return sizeof(struct col_bcache_ent) + 256 + raw + (size_t)b->nstrs * sizeof(slc_str) +
           (size_t)b->nspans * sizeof(slc_span) + (size_t)b->nlogs * sizeof(slc_log) +
           (size_t)b->nattrs * sizeof(slc_attr) + (size_t)b->nevents * sizeof(slc_event) +
           (size_t)b->nlinks * sizeof(slc_link);
}

static void col_bc_free(struct col_bcache_ent *e)
{
    slc_batch_free(e->b);
    free(e);
}

/* Takes e out of the table and the LRU list (lock held); frees it when no
 * reader holds it, else the last col_bcache_put() does. */
static void col_bc_unlink(struct col_bcache_ent *e)
{
    struct col_bcache_ent **pp = &col_bc_tab[col_bc_slot(e->owner, e->key)];

    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        col_bc_head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        col_bc_tail = e->prev;
    e->prev = e->next = e->hnext = NULL;
    e->linked = 0;
    col_bc_bytes -= e->bytes;
    if (e->refs == 0)
        col_bc_free(e);
}

static void col_bc_touch(struct col_bcache_ent *e)
{
    if (col_bc_head == e)
        return;
    e->prev->next = e->next; /* e is linked and not the head: prev exists */
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        col_bc_tail = e->prev;
    e->prev = NULL;
    e->next = col_bc_head;
    col_bc_head->prev = e;
    col_bc_head = e;
}

/* Evicts least recently used entries until the budget holds (lock held);
 * bounded by the number of entries. */
static void col_bc_evict(void)
{
    while (col_bc_bytes > col_bc_max && col_bc_tail != NULL)
        col_bc_unlink(col_bc_tail);
}

static struct col_bcache_ent *col_bc_find(const void *owner, const uint8_t key[12],
                                          const uint8_t *frame, size_t len)
{
    for (struct col_bcache_ent *e = col_bc_tab[col_bc_slot(owner, key)]; e != NULL; e = e->hnext)
        if (e->owner == owner && memcmp(e->key, key, 12) == 0) {
            if (e->len == len && memcmp(e->hdr, frame, COL_BC_HDR) == 0)
                return e;
            col_bc_unlink(e); /* same key, other bytes: the old one is stale */
            return NULL;
        }
    return NULL;
}

int col_bcache_get(const void *owner, const uint8_t key[12], const uint8_t *frame, size_t len,
                   const slc_wire_limits *lim, col_bcache_ent **e, const slc_batch **b,
                   char *msg, size_t msglen)
{
    struct col_bcache_ent *n, *old;
    slc_batch *d = NULL;
    int rv;

    if (len >= COL_BC_HDR) {
        pthread_mutex_lock(&col_bc_mu);
        n = col_bc_find(owner, key, frame, len);
        if (n != NULL) {
            n->refs++;
            col_bc_touch(n);
            col_bc_hits++;
            pthread_mutex_unlock(&col_bc_mu);
            *e = n;
            *b = n->b;
            return 0;
        }
        col_bc_misses++;
        pthread_mutex_unlock(&col_bc_mu);
    }
    rv = col_block_decode(frame, len, lim, &d, msg, msglen);
    if (rv != 0)
        return rv;
    n = calloc(1, sizeof *n);
    if (n == NULL) {
        slc_batch_free(d);
        return SL_ENOMEM;
    }
    n->owner = owner;
    memcpy(n->key, key, 12);
    memcpy(n->hdr, frame, COL_BC_HDR); /* len >= header: the decoder checked */
    n->len = len;
    n->b = d;
    n->bytes = col_bc_size(d);
    n->refs = 1;
    pthread_mutex_lock(&col_bc_mu);
    old = col_bc_find(owner, key, frame, len);
    if (old != NULL) {
        /* Another reader decoded it meanwhile: share theirs. */
        old->refs++;
        col_bc_touch(old);
        pthread_mutex_unlock(&col_bc_mu);
        col_bc_free(n);
        *e = old;
        *b = old->b;
        return 0;
    }
    if (n->bytes <= col_bc_max) {
        size_t slot = col_bc_slot(owner, key);
        n->hnext = col_bc_tab[slot];
        col_bc_tab[slot] = n;
        n->next = col_bc_head;
        if (col_bc_head != NULL)
            col_bc_head->prev = n;
        col_bc_head = n;
        if (col_bc_tail == NULL)
            col_bc_tail = n;
        n->linked = 1;
        col_bc_bytes += n->bytes;
        col_bc_evict();
    }
    pthread_mutex_unlock(&col_bc_mu);
    *e = n;
    *b = n->b;
    return 0;
}

void col_bcache_put(col_bcache_ent *e)
{
    int gone;

    if (e == NULL)
        return;
    pthread_mutex_lock(&col_bc_mu);
    gone = --e->refs == 0 && !e->linked;
    pthread_mutex_unlock(&col_bc_mu);
    if (gone)
        col_bc_free(e);
}

void col_bcache_set_max_bytes(size_t max_bytes)
{
    pthread_mutex_lock(&col_bc_mu);
    col_bc_max = max_bytes;
    col_bc_evict();
    pthread_mutex_unlock(&col_bc_mu);
}

void col_bcache_clear(void)
{
    pthread_mutex_lock(&col_bc_mu);
    while (col_bc_tail != NULL)
        col_bc_unlink(col_bc_tail);
    pthread_mutex_unlock(&col_bc_mu);
}

void col_bcache_stats(uint64_t *hits, uint64_t *misses, size_t *bytes)
{
    pthread_mutex_lock(&col_bc_mu);
    if (hits != NULL)
        *hits = col_bc_hits;
    if (misses != NULL)
        *misses = col_bc_misses;
    if (bytes != NULL)
        *bytes = col_bc_bytes;
    pthread_mutex_unlock(&col_bc_mu);
}
