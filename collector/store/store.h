/*
 * store.h - the collector's storage, the public API of collector/store/ (the
 * only folder that includes RocksDB; this header does not).
 *
 * Layout (docs/storage.md has it byte by byte): each received frame is
 * stored whole, as received (already compressed and checksummed), under a
 * time-ordered block key, so writes are large and sequential.  Small index
 * rows make the reads fast: one row per trace per block (trace by id), one
 * row per root span (trace list), one row per batch (dedupe), one row per
 * service name, one summary row per (service, block) for span search and
 * for log search, and per-minute aggregate deltas (RED per service and
 * operation, calls per edge, log counts) applied by a merge operator.  All
 * rows of one frame go into one WriteBatch, so a frame is stored entirely
 * or not at all, its aggregates count it exactly once, and its dedupe row
 * commits with it.
 *
 * Thread safety: every function may be called from any thread concurrently,
 * except col_store_close().
 */
#ifndef COL_STORE_H
#define COL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_hist.h"
#include "common/slc_wire.h"

typedef struct col_store col_store;

typedef struct col_store_opts {
    int fsync;              /* sync the WAL on every write */
    int block_cache_mb;     /* 0 = 64 */
    int write_buffer_mb;    /* blocks memtable, 0 = 64 */
    int memtables_mb;       /* all memtables together (db_write_buffer_size), 0 = no cap */
    size_t edge_slots;      /* edge tracker table size, 0 = 1M */
    int min_free_mb;        /* disk reserve: writes are refused (ingest answers RETRY) while
                             * the data directory's filesystem has less free space than
                             * this or than the memtables hold, so RocksDB itself never
                             * runs out (docs/storage.md "Disk full"); 0 = 64, -1 = off */
    int ballast_mb;         /* a file of this size kept in the data directory and deleted
                             * when the reserve is crossed or RocksDB meets ENOSPC, so work
                             * already running can finish; 0 = half the reserve, -1 = none */
    /* The clock that stamps blocks with their ingest time; NULL = the
     * system clock.  For tools that replay data along its own timeline
     * (bench-query builds a day of data in minutes): search relies on a
     * span reaching the store within COL_LATE_NS of its start. */
    uint64_t (*clock)(void *arg);
    void *clock_arg;
    int compact_on_close;   /* col_store_close() compacts everything first (benchmarks:
                             * bytes on disk after compaction); also turned on by the
                             * environment variable SIGHTLINE_COMPACT_ON_CLOSE=1 */
} col_store_opts;

/* Retention: whatever comes first, oldest data first.  0 disables a bound. */
typedef struct col_retention_opts {
    uint64_t max_age_ns;    /* default 7 days */
    uint64_t max_bytes;     /* on-disk tables (SST files) of all families */
    uint64_t interval_ns;   /* how often the background pass runs (default 60 s) */
} col_retention_opts;

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

/* 0 when the store takes writes now; SL_ESTORE with a message that starts
 * "disk full: " in err while the disk guard refuses them (below the
 * reserve, or read-only after an I/O error; docs/storage.md "Disk full").
 * A few atomic loads: ingest asks before it decodes a frame. */
int col_store_writable(col_store *s, char *err, size_t errlen);

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

/* The same read through the decoded-block cache (blockcache.h): what the
 * query API uses, so a trace opened after a search that found it decodes
 * nothing again (store_query.c). */
int col_store_read_trace_cached(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
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

/* ======================= read side (for the query API) ======================
 * Every function below may run concurrently with writes and with each other.
 * Times are Unix ns.  Span searches select on span start, log searches on
 * the record's time.  Index rows live under the ingest time of their block;
 * a span or record is found by a time-range search when it reached the
 * collector at most COL_LATE_NS after its own timestamp (trace by id has no
 * such limit). */
#define COL_LATE_NS (300ULL * 1000000000ULL)

/* ---- per-minute aggregates ------------------------------------------------ */

/* The latency summary stored with an aggregate row (rollup value version
 * 2, docs/storage.md): the percentiles /api/v1/red prints, computed by
 * col_rollup_percentiles() (= col_apiq_percentiles()) from the row's
 * histogram whenever RocksDB merged the row.  A bucket that is exactly one
 * stored row needs nothing else, so a day at one-minute steps decodes no
 * histogram.  (Max, sum and count stay in the histogram: no caller that
 * opts in prints them, and reading them cost ~0.4 ms of that query.) */
typedef struct col_agg_summary {
    uint64_t pct[4]; /* p50, p90, p95, p99 in ns (0 for a row without durations) */
} col_agg_summary;

/* Or'ed into col_store_red()'s merge_ops (0 or 1): the callback accepts a
 * summary in place of a histogram.  A bucket made of one stored row with
 * a summary then comes with sum set and hist NULL; any other bucket with
 * hist set and sum NULL.  Without it, hist is always set (alerts and the
 * metrics endpoint need every bucket or other quantiles). */
#define COL_RED_SUMMARY 2

/* One aggregate row handed to a callback: everything is borrowed for the
 * duration of the call only.  Exactly one of hist and sum is non-NULL. */
typedef struct col_agg_row {
    const char *service;   /* RED: service; edges: caller */
    size_t service_len;
    const char *operation; /* RED: operation ("" when ops are merged); edges: callee */
    size_t operation_len;
    uint64_t bucket_ns;    /* start of the bucket: since + k * step */
    uint64_t count;        /* spans (RED) or calls (edges) */
    uint64_t errors;       /* with status ERROR (the callee span's status for edges) */
    const slc_hist *hist;  /* merged durations in ns; NULL when sum is given */
    const col_agg_summary *sum; /* NULL = use hist; only with COL_RED_SUMMARY */
} col_agg_row;

/* Return non-zero to stop early. */
typedef int (*col_agg_fn)(const col_agg_row *r, void *arg);

/* Span-kind mask for col_store_red(): bit (1 << enum slc_kind).  0 = all. */
#define COL_KIND_ENTRY ((1u << SLC_KIND_SERVER) | (1u << SLC_KIND_CONSUMER))

/* RED: per (service, operation, bucket) over the minutes in
 * [since_ns, until_ns], buckets of step_ns (rounded up to whole minutes;
 * 0 = one bucket for the whole range).  service / operation NULL = all.
 * merge_ops: 1 = one row per (service, bucket) with operation ""; or
 * COL_RED_SUMMARY in to accept stored percentiles (see col_agg_summary).
 * kind_mask selects span kinds (0 = all; COL_KIND_ENTRY = server and
 * consumer spans, i.e. requests a service handled).  Rows come bucket by
 * bucket in time order, and inside a bucket by service then operation.
 * At most 1024 groups per bucket (SL_ETOOBIG beyond).  Returns 0,
 * SL_ESTORE, SL_ENOMEM or SL_ETOOBIG. */
int col_store_red(col_store *s, const char *service, const char *operation, uint64_t since_ns,
                  uint64_t until_ns, uint64_t step_ns, unsigned kind_mask, int merge_ops,
                  col_agg_fn fn, void *arg);

/* Service map: per (caller, callee, bucket): calls, errors, latency of the
 * callee's span.  An edge is a span whose parent span belongs to another
 * service, paired at ingest (docs/storage.md, "Edges").  Arguments as for
 * col_store_red().  Rows: service = caller, operation = callee. */
int col_store_edges(col_store *s, uint64_t since_ns, uint64_t until_ns, uint64_t step_ns,
                    col_agg_fn fn, void *arg);

/* Services seen in [since_ns, until_ns] (minutes) with their span, error
 * and log counts, in name order.  Services known but without data in the
 * range are listed with zero counts.  Return non-zero from fn to stop. */
typedef struct col_service_row {
    const char *name;
    size_t len;
    uint64_t spans, span_errors, logs, log_errors;
} col_service_row;
int col_store_service_counts(col_store *s, uint64_t since_ns, uint64_t until_ns,
                             int (*fn)(const col_service_row *r, void *arg), void *arg);

/* ---- trace search ------------------------------------------------------------ */

#define COL_SEARCH_MAX_ATTRS 16

/* key = value on a span attribute: string values compare exactly, int and
 * double values numerically (value parsed as a number), bools as
 * "true"/"false". */
typedef struct col_attr_filter {
    const char *key;
    const char *value;
} col_attr_filter;

enum col_order { COL_ORDER_NEWEST = 0, COL_ORDER_SLOWEST = 1 };

/* A trace matches when one of its spans matches every filter (the Jaeger
 * semantics): service, operation, start in [since, until], duration in
 * [min, max], error status, every attribute. */
typedef struct col_search_q {
    const char *service;        /* NULL = any */
    const char *operation;      /* NULL = any */
    uint64_t since_ns, until_ns;
    uint64_t min_duration_ns;   /* 0 = no lower bound */
    uint64_t max_duration_ns;   /* 0 = no upper bound */
    int error;                  /* -1 any, 1 only error spans, 0 only non-error */
    const col_attr_filter *attrs;
    size_t nattrs;              /* at most COL_SEARCH_MAX_ATTRS */
    enum col_order order;
    size_t limit;               /* traces wanted (1..10000) */
    size_t max_blocks;          /* blocks decoded at most; 0 = 2000 */
} col_search_q;

/* One result: a trace and the span of it that matched (the newest or the
 * slowest matching span, by q->order). */
typedef struct col_trace_hit {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint64_t start_ns, duration_ns;
    uint8_t error, is_root, kind;
    char service[COL_ROOT_SERVICE_MAX]; /* NUL-terminated, cut if longer */
    char name[COL_ROOT_NAME_MAX];
} col_trace_hit;

/* Fills out[0..q->limit) (capacity q->limit) with matching traces, newest
 * span start first or longest duration first, and *n with the count.
 * *capped (may be NULL) is set to 1 when the block budget ran out before the
 * range was exhausted (results are then the best of what was read).
 * Returns 0, SL_EINVAL (bad query), SL_ESTORE, SL_ENOMEM. */
int col_store_search(col_store *s, const col_search_q *q, col_trace_hit *out, size_t *n,
                     int *capped);

/* ---- logs --------------------------------------------------------------------- */

#define COL_CURSOR_MAX 64

typedef struct col_logs_q {
    const char *service;   /* NULL = any */
    int min_level;         /* 0 = any; else 1..24 (SLC_LVL_WARN = warn and above) */
    uint64_t since_ns, until_ns;
    const char *contains;  /* substring of the body (bytes, case-sensitive); NULL = any */
    size_t limit;          /* records per page (1..10000) */
    const char *cursor;    /* NULL/"" = first page; else next_cursor of the previous page */
    size_t max_blocks;     /* blocks decoded at most; 0 = 2000 */
} col_logs_q;

/* One page of log records, newest first (time, then arrival order).  On
 * success *out is a new batch owned by the caller (slc_batch_free()) whose
 * logs[] are in that order; next_cursor (COL_CURSOR_MAX bytes) receives
 * the cursor of the next page, "" when this is the last page; *capped (may
 * be NULL) = 1 when the block budget ran out (the page may then be short;
 * the cursor still continues correctly).  Returns 0, SL_EINVAL (bad
 * cursor or query), SL_ESTORE, SL_ENOMEM. */
int col_store_logs(col_store *s, const col_logs_q *q, slc_batch **out, char *next_cursor,
                   int *capped);

/* Every log record of one trace in time order (via the trace index, like
 * col_store_read_trace, but copying only logs).  *out as above;
 * SL_ENOTFOUND when the trace has no log records. */
int col_store_trace_logs(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                         slc_batch **out);

/* ---- retention ----------------------------------------------------------------- */

/* Starts the background retention thread (one pass every interval).
 * Returns 0 or SL_ENOMEM.  col_store_close() stops it. */
int col_store_retention_start(col_store *s, const col_retention_opts *o);

/* Changes the bounds (SIGHUP); takes effect at the next pass, which is
 * started right away.  Works whether or not the thread runs. */
void col_store_retention_set(col_store *s, const col_retention_opts *o);

/* One retention pass now, in the calling thread: drops blocks older than
 * now - max_age and, while the tables exceed max_bytes, the oldest blocks,
 * then compacts the dropped range.  *deleted_before (may be NULL) receives
 * the new cutoff (0 = nothing dropped).  Returns 0 or SL_ESTORE. */
int col_store_retention_run(col_store *s, const col_retention_opts *o, uint64_t now_ns,
                            uint64_t *deleted_before);

/* Flushes every memtable and compacts everything (tests, benchmarks:
 * bytes on disk after compaction).  Returns 0 or SL_ESTORE. */
int col_store_compact(col_store *s);

/* ---- sealing (store_seal.c, docs/storage.md "Sealed blocks") ------------------
 * Frames are stored as received, so ingest stays one sequential put per
 * frame.  Once they have settled (no more spans expected for most of their
 * traces), a background pass rewrites runs of consecutive frames into
 * sealed blocks: their spans and logs merged, grouped by trace and encoded
 * column-wise (collector/store/coldblock.h), with fresh index rows, in one
 * atomic write per sealed block that also deletes the frames it replaces.
 * Readers see either the frames or the sealed block, never neither. */
typedef struct col_seal_opts {
    uint64_t after_ns;    /* seal frames received at least this long ago; 0 = 60 s */
    uint64_t interval_ns; /* how often the background pass runs; 0 = 10 s */
    uint32_t max_items;   /* spans + logs per sealed block; 0 = 16384 */
    int level;            /* zstd level of sealed blocks, 1..19; 0 = the default */
    int disabled;         /* 1: no background sealing (frames stay as received) */
} col_seal_opts;

/* Starts the background sealing thread.  Returns 0 or SL_ENOMEM.
 * col_store_close() stops it. */
int col_store_seal_start(col_store *s, const col_seal_opts *o);

/* One sealing pass now, in the calling thread: every frame received before
 * before_ns (UINT64_MAX = all; only when nothing is being written) is
 * sealed.  *frames / *items (may be NULL) receive what was sealed.
 * Returns 0, SL_ESTORE or SL_ENOMEM (what was sealed before the error
 * stays sealed; the rest is retried by the next pass). */
int col_store_seal(col_store *s, const col_seal_opts *o, uint64_t before_ns, uint64_t *frames,
                   uint64_t *items);

/* Numbers about the store for /api/v1/stats. */
#define COL_STORE_NCF 8
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
    uint64_t edge_tracker_bytes;
    uint64_t retention_runs;
    uint64_t retention_cutoff_ns;        /* blocks older than this were dropped */
    uint64_t retention_last_ms;          /* duration of the last pass */
    uint64_t tidx_windows;          /* in-memory trace index windows written */
    uint64_t tidx_rows;             /* tidx rows they wrote (one per trace per window) */
    uint64_t tidx_pairs;            /* (trace, frame) pairs they covered */
    uint64_t tidx_reindexed_frames; /* frames re-indexed at open (after a crash) */
    uint64_t seal_runs;                  /* sealing passes */
    uint64_t sealed_frames, sealed_items, sealed_blocks;
    uint64_t seal_bytes_in, seal_bytes_out; /* frame bytes replaced, sealed bytes written */
    uint64_t sealed_until_ns;            /* frames received before this are sealed */
    uint64_t seal_last_ms;               /* duration of the last pass */
    /* Disk guard (store_disk.c). */
    const char *disk_state;       /* "ok", "low" (below the reserve: ingest refused),
                                   * "failed" (RocksDB met an I/O error: read-only until
                                   * space returns), "opening" */
    uint64_t disk_free_bytes;     /* free space of the data directory's filesystem */
    uint64_t disk_reserve_bytes;  /* what ingest leaves free now (0 = check off) */
    uint64_t disk_ballast_bytes;  /* ballast file in place now */
    uint64_t disk_low_events;     /* times the reserve was crossed */
    uint64_t disk_failures;       /* I/O errors that stopped RocksDB (ENOSPC) */
    uint64_t disk_reopens;        /* read-write reopens after such an error */
} col_store_stats;

void col_store_get_stats(col_store *s, col_store_stats *st);

#endif /* COL_STORE_H */
