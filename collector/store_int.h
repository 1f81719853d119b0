/*
 * store_int.h - private to the store module (store.c: open, write, trace
 * reads; store_query.c: search, logs, aggregates; store_retention.c).
 * These three files are the only ones that include rocksdb/c.h.
 */
#ifndef COL_STORE_INT_H
#define COL_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "rollup.h"
#include "store.h"

#define COL_FORMAT_VERSION "2"
#define COL_BLOCK_KEY_LEN 12 /* be64 ingest ns | be32 seq */
#define COL_TIDX_KEY_LEN (16 + COL_BLOCK_KEY_LEN)
#define COL_ROOT_KEY_LEN (8 + 16)
#define COL_DEDUPE_KEY_LEN 12 /* be64 batch id | be32 crc32 */
#define COL_XIDX_KEY_LEN (8 + COL_BLOCK_KEY_LEN) /* sidx/lidx: h64(service) | block key */
#define COL_ROOT_VAL_VERSION 1
#define COL_ROOT_F_ERROR 0x01u
#define COL_SIDX_VERSION 1
#define COL_LIDX_VERSION 1
#define COL_SIDX_F_ANYOP 0x01u /* group stands for "more operations than indexed" */
#define COL_META_SVC "s/"
#define COL_MAX_CLAIMS 256
#define COL_SVC_CACHE 4096 /* power of two */

enum {
    CF_DEFAULT = 0,
    CF_BLOCKS,
    CF_TIDX,
    CF_ROOTS,
    CF_DEDUPE,
    CF_META,
    CF_SIDX,
    CF_LIDX,
    CF_ROLLUP,
    CF_COUNT
};

struct col_cfilter {
    struct col_store *s;
    size_t time_off;
    int in_value;
};

struct col_store {
    rocksdb_t *db;
    rocksdb_options_t *dbopts;
    rocksdb_options_t *cfopts[CF_COUNT];
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    atomic_uint_fast64_t last_block_ns; /* block keys grow strictly */
    atomic_uint_fast32_t block_seq;

    /* Index rows whose block time is below this are dropped by the
     * compaction filter (tidx, sidx, lidx) and skipped by reads; set by
     * retention. */
    atomic_uint_fast64_t cutoff_ns;
    int compact_on_close;

    /* Batches being decoded or written now, so a retry that arrives while
     * the first copy is still in flight is told to come back instead of
     * being stored twice. */
    pthread_mutex_t claim_mu;
    col_batch_key claims[COL_MAX_CLAIMS];
    uint8_t claim_used[COL_MAX_CLAIMS];

    /* Service names already in meta; saves a put per frame.  Open
     * addressing, never shrinks; when full, names are simply re-put. */
    pthread_mutex_t svc_mu;
    struct col_svc_ent {
        char *p; /* malloc'd copy; names may contain U+0000, so n is the length */
        size_t n;
    } svc[COL_SVC_CACHE];
    size_t nsvc;

    /* Disk reserve (col_store_opts.min_free_mb): free bytes of the data
     * directory's filesystem, re-read at most every 100 ms. */
    char *dir;
    uint64_t min_free;
    atomic_uint_fast64_t free_checked_ns, free_bytes;

    col_edges *edges;
    rocksdb_compactionfilter_t *cfilter[CF_COUNT]; /* destroyed after the db */
    struct col_cfilter cfilter_state[CF_COUNT];

    /* Retention (store_retention.c). */
    pthread_mutex_t ret_mu;
    pthread_cond_t ret_cv;
    pthread_t ret_thread;
    int ret_started, ret_stop;
    col_retention_opts ret;
    atomic_uint_fast64_t ret_runs, ret_deleted_before_ns, ret_last_ms;
};

static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* FNV-1a. */
static inline uint64_t col_fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* The 8-byte key prefix of a service in sidx/lidx; never 0, which is the
 * prefix of the all-services rows. */
static inline uint64_t col_svc_hash(const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);
    return h == 0 ? 1 : h;
}

/* Converts a RocksDB error string (freed here) into an sl_err and a
 * message; a write refused because of no_slowdown becomes SL_EBUSY. */
int col_store_rocks_err(char *rerr, const char *what, char *err, size_t errlen);

/* Stops the retention thread if it runs (store_retention.c). */
void col_store_retention_stop(col_store *s);

/* Read limits for stored frames (they passed the limits of their day). */
void col_store_read_limits(slc_wire_limits *l);

/* The block keys the trace index lists for trace_id, at most max_blocks
 * (0 means 4096; *capped set when more exist).  On success *keys is a
 * malloc'd array of *nkeys keys owned by the caller.  Returns 0,
 * SL_ENOTFOUND when the index lists none, SL_ENOMEM or a RocksDB error. */
int col_store_trace_blocks(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                           uint8_t (**keys)[COL_BLOCK_KEY_LEN], uint32_t *nkeys, int *capped);

#endif /* COL_STORE_INT_H */
