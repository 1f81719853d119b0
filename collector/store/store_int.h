/*
 * store_int.h - private to collector/store/, the only folder that includes
 * rocksdb/c.h: the store struct, key layouts and the helpers its files share
 * (store_base.c at the bottom, store_rows.c, store_disk.c, store_hotidx.c,
 * store_write.c, store_read.c, store_query.c, store_seal.c,
 * store_retention.c, store_open.c at the top).
 */
#ifndef COL_STORE_INT_H
#define COL_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rocksdb/c.h>

#include "common/slc_bytes.h"
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
/* Block key bytes 8..11: a frame's key has the sequence number (31 bits);
 * a sealed block's has this bit set. */
#define COL_SEQ_SEALED 0x80000000u
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
    uint64_t (*clock)(void *arg);       /* col_store_opts.clock; NULL = system clock */
    void *clock_arg;
    atomic_uint_fast32_t block_seq;

    /* Index rows whose block time is below this are dropped by the
     * compaction filter (tidx, sidx, lidx) and skipped by reads; set by
     * retention. */
    atomic_uint_fast64_t cutoff_ns;
    int compact_on_close;

    /* Per-service aggregate rows ('s' in the rollup family) exist for
     * every minute from this time on (0: since the store was created);
     * older minutes have only the per-operation rows. */
    uint64_t svc_rollup_since_ns;

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

    char *dir;

    /* The RocksDB handle's gate (store_disk.c): every use of db/cf runs
     * between col_db_enter and col_db_exit, so the disk guard can close
     * and reopen the database under running readers and writers. */
    atomic_int db_users;     /* callers inside the gate now */
    atomic_int db_closed;    /* 1 while the handle is absent or being swapped */
    atomic_int db_read_only; /* opened read-only (after an I/O error) */
    atomic_int db_failed;    /* a write met an I/O error; no flush at close */

    /* Disk guard (store_disk.c). */
    struct col_disk *disk;

    col_edges *edges;
    rocksdb_compactionfilter_t *cfilter[CF_COUNT]; /* destroyed after the db */
    struct col_cfilter cfilter_state[CF_COUNT];

    /* Sealing (store_seal.c): every frame whose block time is below
     * sealed_ns has been rewritten into a sealed block and deleted, so
     * index rows naming a frame below it are dead (skipped by reads,
     * dropped by compaction).  Kept in meta under "sealed". */
    atomic_uint_fast64_t sealed_ns;
    pthread_mutex_t seal_mu; /* guards the thread fields below */
    pthread_cond_t seal_cv;
    pthread_t seal_thread;
    int seal_started, seal_stop;
    col_seal_opts seal;
    atomic_uint_fast64_t seal_runs, sealed_frames, sealed_items, sealed_blocks;
    atomic_uint_fast64_t seal_bytes_in, seal_bytes_out, seal_last_ms;
    pthread_mutex_t seal_pass_mu; /* one pass at a time */

    /* Trace index of the newest frames, in memory (store_hotidx.c). */
    struct col_hot *hot;
    atomic_uint_fast64_t hot_rows, hot_pairs, hot_windows, hot_reindexed;

    /* Retention (store_retention.c). */
    pthread_mutex_t ret_mu;
    pthread_cond_t ret_cv;
    pthread_t ret_thread;
    int ret_started, ret_stop;
    col_retention_opts ret;
    atomic_uint_fast64_t ret_runs, ret_deleted_before_ns, ret_last_ms;
};

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

/* 1 when an index row naming block key k must be ignored: the block was
 * dropped by retention, or it was a frame that sealing replaced. */
/* Is block key k a sealed block's (COL_SEQ_SEALED in bytes 8..11)? */
static inline int col_key_sealed(const uint8_t *k)
{
    return (k[8] & 0x80) != 0;
}

static inline int col_key_dead(const uint8_t *k, uint64_t cutoff, uint64_t sealed)
{
    uint64_t t = slc_get_be64(k);
    return t < cutoff || (!col_key_sealed(k) && t < sealed);
}

static inline int col_block_dead(col_store *s, const uint8_t *k)
{
    return col_key_dead(k, atomic_load_explicit(&s->cutoff_ns, memory_order_relaxed),
                        atomic_load_explicit(&s->sealed_ns, memory_order_acquire));
}

/* The column families' names, in CF_* order (store_base.c). */
extern const char *const col_cf_names[CF_COUNT];

/* A root span's row in roots (store_rows.c). */
void col_put_root(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b, const slc_span *sp);
/* Puts the service names of b not yet in meta into wb; their string ids go
 * to news[0..*nnews) (at most maxnews) so the caller can remember them once
 * the write commits (col_svc_remember). */
void col_put_services(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b, uint32_t *news,
                      size_t *nnews, size_t maxnews);
/* Marks a service name as written to meta (after the write committed). */
void col_svc_remember(col_store *s, const char *p, size_t n);

/* Index rows of one batch stored (or sealed) under block key bkey, added to
 * wb (store_rows.c; used by col_store_write and by sealing).  0 or
 * SL_ENOMEM. */
int col_put_tidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN]);
int col_put_sidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN]);
int col_put_lidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN]);

/* Waits on cv (mu held) for at most ns nanoseconds: the pause of the
 * background threads (retention, sealing) between passes. */
static inline void col_cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ns)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ns / 1000000000ULL);
    until.tv_nsec += (long)(ns % 1000000000ULL);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &until);
}

/* ---- the handle's gate and the disk guard (store_disk.c) ---------------- */

/* Enters the gate: 0, or SL_EBUSY while the database is being reopened
 * (or, when write is set, while it is open read-only).  Calls may nest. */
int col_db_enter(col_store *s, int write);
void col_db_exit(col_store *s);

/* Runs the int expression call inside the gate and returns its result, or
 * SL_EBUSY when the gate is shut: the body of every public store function
 * that touches RocksDB. */
#define COL_DB_CALL(s, write, call)                                                            \
    do {                                                                                       \
        int rv_ = col_db_enter((s), (write));                                                  \
        if (rv_ == 0) {                                                                        \
            rv_ = (call);                                                                      \
            col_db_exit(s);                                                                    \
        }                                                                                      \
        return rv_;                                                                            \
    } while (0)

/* Opens RocksDB (s->dbopts, s->cfopts) into s->db / s->cf, read-write or
 * read-only (which writes nothing, so it works on a full disk; the WAL is
 * replayed into memory).  Closes with col_db_close_handle (store_disk.c). */
int col_db_open(col_store *s, int read_only, char *err, size_t errlen);
void col_db_close_handle(col_store *s, int flush);

/* Sets the guard up after the first open: sizes the reserve and ballast,
 * creates the ballast.  0 or SL_ENOMEM.  col_disk_run then starts the
 * watcher thread, once the store is whole (after the hot index's open). */
int col_disk_start(col_store *s, const col_store_opts *o, int read_only, char *err,
                   size_t errlen);
int col_disk_run(col_store *s, char *err, size_t errlen);
/* Stops the watcher and frees the guard (the ballast file stays). */
void col_disk_stop(col_store *s);
/* 0 when a write of len bytes may go ahead; else SL_ESTORE and a message
 * that says "disk full" (ingest answers RETRY). */
int col_disk_admit(col_store *s, size_t len, char *err, size_t errlen);
/* rocksdb_write for every write while the store runs (not at open):
 * near a full disk the writes go one at a time and none follows a failed
 * one (store_disk.c says why).  *rerr as rocksdb_write's. */
void col_db_write(col_store *s, const rocksdb_writeoptions_t *wo, rocksdb_writebatch_t *wb,
                  char **rerr);
/* Converts a RocksDB write error (freed here) like col_store_rocks_err;
 * an I/O error (ENOSPC and the like stop RocksDB until it is reopened)
 * also hands the database to the guard's recovery. */
int col_store_write_err(col_store *s, char *rerr, const char *what, char *err, size_t errlen);
/* 1 when dir's filesystem has room for a read-write open (RocksDB writes
 * its LOG header and a new WAL before anything else; with less, the store
 * opens read-only and the guard reopens it later). */
int col_disk_room_to_open(const char *dir);
/* 1 when the filesystem has room for a flush of every memtable (the flush
 * at close is skipped otherwise: the WAL keeps the data). */
int col_disk_can_flush(col_store *s);
/* Fills the disk fields of st. */
void col_disk_stats(col_store *s, col_store_stats *st);

/* Stops the sealing thread if it runs (store_seal.c). */
void col_store_seal_stop(col_store *s);

/* Loads the sealing watermark from meta (store_seal.c). */
void col_store_seal_load(col_store *s);

/* Stops the retention thread if it runs (store_retention.c). */
void col_store_retention_stop(col_store *s);

/* Read limits for stored frames (they passed the limits of their day). */
void col_store_read_limits(slc_wire_limits *l);

/* A growable list of block keys; k is malloc'd, owned by the list's user. */
typedef struct col_bkeys {
    uint8_t (*k)[COL_BLOCK_KEY_LEN];
    uint32_t n, cap;
} col_bkeys;
int col_bkeys_add(col_bkeys *l, const uint8_t *k); /* 0 or SL_ENOMEM */
void col_bkeys_sort_unique(col_bkeys *l);

/* A consistent view for one read: the sealing watermark and retention
 * cutoff loaded first, then a snapshot, so a read that follows index rows
 * to blocks sees either a frame (and its rows) or the sealed block that
 * replaced it (and its rows), never neither, whatever sealing commits
 * meanwhile.  ro reads from the snapshot. */
typedef struct col_view {
    rocksdb_readoptions_t *ro;
    const rocksdb_snapshot_t *snap;
    uint64_t sealed, cutoff;
} col_view;

/* Opens a view (store_read.c).  0 or SL_ENOMEM; close it with col_view_close. */
int col_view_open(col_store *s, col_view *v);
void col_view_close(col_store *s, col_view *v);

/* col_block_dead() as of the view. */
static inline int col_view_dead(const col_view *v, const uint8_t *k)
{
    return col_key_dead(k, v->cutoff, v->sealed);
}

/* Adds to keys the block keys the trace index lists for trace_id in view
 * v, then drops the dead ones (keys may already hold keys from
 * col_hot_lookup), sorts them and removes duplicates; at most max_blocks
 * are kept (0 means 4096; *capped set when more exist).  Returns 0,
 * SL_ENOTFOUND when no live key is left, SL_ENOMEM or a RocksDB error. */
int col_store_trace_blocks(col_store *s, const col_view *v, const uint8_t trace_id[16],
                           uint32_t max_blocks, col_bkeys *keys, int *capped);

/* Appends to dst the spans (when want_spans) and log records of trace tid
 * found in src (borrowed).  0 or SL_ENOMEM. */
int col_copy_trace(slc_batch *dst, const slc_batch *src, const uint8_t tid[16], int want_spans);

/* Reads block bkey in view and appends trace tid's items to dst: a sealed
 * block decodes only the page holding the trace, a frame is decoded whole
 * without the block cache.  A missing block (retention) adds nothing; one
 * that does not decode is logged and skipped.  0, SL_ENOMEM or a RocksDB
 * error. */
int col_gather_stored(col_store *s, const col_view *view, const uint8_t *bkey,
                      const uint8_t tid[16], int want_spans, slc_batch *dst);

/* The one trace read: a view, the trace index, then gather() on every
 * live block listed.  On success *out (owned by the caller) holds the
 * trace's spans (when want_spans) and logs; SL_ENOTFOUND when none. */
typedef int (*col_gather_fn)(col_store *s, const col_view *view, const uint8_t *bkey,
                             const uint8_t tid[16], int want_spans, slc_batch *dst);
int col_read_trace_with(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                        int want_spans, col_gather_fn gather, slc_batch **out, int *blocks_capped);

/* Assigns the next frame key: strictly growing (store_base.c). */
void col_next_block_key(col_store *s, uint8_t key[COL_BLOCK_KEY_LEN]);

/* ---- the in-memory trace index of the newest frames (store_hotidx.c) ----
 * Ingest: col_hot_begin assigns a frame's key and marks it in flight
 * (SL_ENOMEM: nothing assigned, refuse the write); col_hot_end (after the
 * frame's write, b = NULL if it failed) records the frame's trace ids and
 * clears the mark; on SL_ENOMEM it recorded none and the mark stays: the
 * caller writes the frame's own tidx rows, then calls col_hot_unpin (a
 * frame still marked is re-indexed after a crash).  Sealing stays below
 * col_hot_oldest_inflight_ns (UINT64_MAX when none): a frame still being
 * written must not fall under the sealed watermark.  Every second a
 * thread writes the window as one tidx row per trace.  col_hot_lookup appends the frame keys in memory for a trace
 * (call it before taking the read's snapshot).  col_hot_open re-indexes
 * the frames that a crash left out of the tidx family and starts the
 * thread; col_hot_stop stops it and writes what is left (the window stays
 * usable: sealing at close asks it for frames in flight); col_hot_free
 * frees everything (NULL-safe, last). */
typedef struct col_hot col_hot;
int col_hot_open(col_store *s, char *err, size_t errlen);
void col_hot_stop(col_store *s);
void col_hot_free(col_store *s);
int col_hot_begin(col_store *s, uint8_t bkey[COL_BLOCK_KEY_LEN]);
int col_hot_end(col_store *s, const uint8_t bkey[COL_BLOCK_KEY_LEN], const slc_batch *b);
void col_hot_unpin(col_store *s, const uint8_t bkey[COL_BLOCK_KEY_LEN]);
uint64_t col_hot_oldest_inflight_ns(col_store *s);
int col_hot_lookup(col_store *s, const uint8_t tid[16], col_bkeys *out);

/* 64-bit mixer for hash tables (store_rows.c). */
uint64_t col_mix64(uint64_t x);

#endif /* COL_STORE_INT_H */
