/*
 * store.h - the collector's storage: the only file that includes RocksDB.
 *
 * Layout (docs/storage.md has it byte by byte): each received frame is
 * stored whole, as received (already compressed and checksummed), under a
 * time-ordered block key, so writes are large and sequential.  Small index
 * rows make the reads fast: one row per trace per block (trace by id), one
 * row per root span (trace list), one row per batch (dedupe), one row per
 * service name.  All rows of one frame go into one WriteBatch, so a frame is
 * stored entirely or not at all, and its dedupe row commits with it.
 *
 * Thread safety: every function may be called from any thread concurrently,
 * except col_store_close().
 */
#ifndef COL_STORE_H
#define COL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "slc_wire.h"

typedef struct col_store col_store;

typedef struct col_store_opts {
    int fsync;              /* sync the WAL on every write */
    int block_cache_mb;     /* 0 = 64 */
    int write_buffer_mb;    /* blocks memtable, 0 = 64 */
} col_store_opts;

/* Opens (creating if missing) the store in directory dir.  On success *out
 * is owned by the caller (col_store_close()).  On failure returns
 * SL_ESTORE / SL_EIO / SL_ENOMEM and writes RocksDB's message into err. */
int col_store_open(const char *dir, const col_store_opts *o, col_store **out, char *err,
                   size_t errlen);

/* Flushes and closes the store.  NULL is a no-op. */
void col_store_close(col_store *s);

/* The identity of a received frame for deduplication: the sender's batch id
 * plus a CRC-32 of the frame bytes, so two senders that happen to pick the
 * same batch id are not mistaken for a retry. */
typedef struct col_batch_key {
    uint64_t batch_id;
    uint32_t crc;
} col_batch_key;

/* Claims a batch before decoding it.  Returns 0 when the caller now owns
 * the claim (it must call col_store_release() when done), 1 when the batch
 * is already stored (nothing claimed), SL_EBUSY when another thread is
 * working on the same batch right now or too many claims are open, or
 * SL_ESTORE when the lookup failed. */
int col_store_claim(col_store *s, const col_batch_key *k);

/* Gives a claim back. */
void col_store_release(col_store *s, const col_batch_key *k);

/* Stores one decoded frame: frame[0..len) is the bytes as received, b its
 * decoded batch (borrowed).  The caller must hold the claim of k.  Returns 0
 * once the write has committed to the WAL; SL_EBUSY when RocksDB would stall
 * (retry later); SL_ESTORE on a write error (message in err); SL_ENOMEM. */
int col_store_write(col_store *s, const col_batch_key *k, const uint8_t *frame, size_t len,
                    const slc_batch *b, char *err, size_t errlen);

/* Gathers every span and log record of one trace from the stored blocks
 * (at most max_blocks blocks, 0 = 4096).  On success *out is a new batch
 * owned by the caller (slc_batch_free()) and *blocks_capped (may be NULL)
 * says whether blocks were left unread.  SL_ENOTFOUND when the trace has no
 * rows; SL_ESTORE / SL_ENOMEM on failure.  Duplicates (a span stored by two
 * frames) are kept; the trace builder drops them. */
int col_store_read_trace(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                         slc_batch **out, int *blocks_capped);

/* One row of the trace list: the root span of a trace. */
#define COL_ROOT_SERVICE_MAX 256
#define COL_ROOT_NAME_MAX 512
typedef struct col_root {
    uint8_t trace_id[16];
    uint64_t start_ns;
    uint64_t duration_ns;
    uint8_t error;
    uint8_t kind;
    char service[COL_ROOT_SERVICE_MAX]; /* NUL-terminated, cut if longer */
    char name[COL_ROOT_NAME_MAX];
} col_root;

/* Fills out[0..max) with root spans that started in [since_ns, until_ns],
 * newest first, keeping only those of service (NULL = all).  Scans at most
 * max_scan index rows (0 = unbounded).  *n receives the count.  Returns 0 or
 * SL_ESTORE. */
int col_store_list_roots(col_store *s, const char *service, uint64_t since_ns, uint64_t until_ns,
                         col_root *out, size_t max, size_t max_scan, size_t *n);

/* Calls fn(name, len, arg) for every service name seen, in name order, until
 * fn returns non-zero.  Returns 0 or SL_ESTORE. */
int col_store_services(col_store *s, int (*fn)(const char *name, size_t len, void *arg),
                       void *arg);

/* Numbers about the store for /api/v1/stats. */
#define COL_STORE_NCF 5
typedef struct col_store_stats {
    const char *cf_name[COL_STORE_NCF];
    uint64_t cf_keys[COL_STORE_NCF];      /* estimated */
    uint64_t cf_sst_bytes[COL_STORE_NCF];
    uint64_t cf_mem_bytes[COL_STORE_NCF];
    uint64_t live_data_bytes;
    uint64_t pending_compaction_bytes;
    uint64_t write_stopped;               /* 1 while RocksDB stops writes */
    uint64_t delayed_write_rate;          /* bytes/s, 0 = not delayed */
    uint64_t block_cache_bytes;
} col_store_stats;

void col_store_get_stats(col_store *s, col_store_stats *st);

#endif /* COL_STORE_H */
