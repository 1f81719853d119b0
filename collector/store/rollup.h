/*
 * rollup.h - per-minute aggregates: their key and value codec, the merge of
 * values (run by RocksDB's merge operator, store_open.c), the grouping of one
 * decoded frame into merge operands, and the edge tracker that pairs
 * parent and child spans of different services across frames.
 *
 * No RocksDB here: store_write.c feeds the operands this file produces into the
 * frame's WriteBatch (so an aggregate delta commits atomically with its
 * frame and its dedupe row: exactly once, also across kill -9) and calls
 * col_rollup_merge() from the merge operator.  Layout in docs/storage.md.
 */
#ifndef COL_ROLLUP_H
#define COL_ROLLUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slc_bytes.h"
#include "common/slc_hist.h"
#include "common/slc_wire.h"

#define COL_MINUTE_NS 60000000000ULL

/* Key types of the rollup column family (first key byte). */
#define COL_RK_RED 'r'  /* r | be64 minute | svc | op | kind */
#define COL_RK_EDGE 'e' /* e | be64 minute | caller | callee */
#define COL_RK_LOG 'l'  /* l | be64 minute | svc | "" | level class */
#define COL_RK_SVC 's'  /* s | kind | be64 minute | svc: RED, operations merged */
#define COL_RK_NAME_MAX 255

/* Value versions (first byte).  1: count, errors, histogram.  2: count,
 * errors, the histogram's percentiles (col_rollup_percentiles), then the
 * histogram: what the merge operator writes, so a query answering from one
 * row per bucket reads four numbers instead of decoding ~240 buckets.
 * Operands written at ingest stay version 1 (every read and compaction
 * merges them into a version 2 value); both are read forever. */
#define COL_RV_VERSION 1
#define COL_RV_VERSION_SUM 2

/* A decoded aggregate value. */
typedef struct col_rollup_val {
    uint64_t count;
    uint64_t errors;
    slc_hist *hist; /* may be NULL when the caller does not want latencies */
    /* Optional (NULL: not kept): room for SLC_HIST_BUCKETS indices, where
     * col_rollup_add() lists each bucket of hist it makes non-zero, so a
     * caller reusing hist clears those few instead of all 3,712 buckets.
     * nnz == SLC_HIST_BUCKETS means the list overflowed (counts that
     * wrapped to zero): clear the whole histogram. */
    uint16_t *nz;
    uint32_t nnz;
} col_rollup_val;

/* ---- keys ---------------------------------------------------------------- */

/* Writes a length-prefixed name (u8 length, cut at 255 bytes); returns the
 * bytes written (at most 256). */
size_t col_rollup_put_name(uint8_t *p, const char *s, size_t len);

/* The first 10 bytes of a per-service RED key ('s', kind, be64 minute):
 * written at ingest, and the bounds of a scan.  Returns 10.  These keys put
 * the kind first, unlike the others, so the rows of one kind are one run in
 * time order and a query reads only the kinds it asks for (entry: 2 of 6);
 * reading rows it then drops cost more than the rest of the query. */
size_t col_rollup_svc_key(uint8_t *p, uint8_t kind, uint64_t minute_ns);

/* Splits a rollup key: type, minute, then names a and b (op/callee), and a
 * trailing byte (kind for RED, level class for logs; 0 for edges).  A
 * per-service key has name a (the service), an empty b and its kind as
 * tail.  Name pointers point into key.  0 or -1 when malformed. */
typedef struct col_rollup_key {
    uint8_t type;
    uint64_t minute_ns;
    const char *a, *b;
    size_t alen, blen;
    uint8_t tail;
} col_rollup_key;
int col_rollup_parse_key(const uint8_t *key, size_t len, col_rollup_key *k);

/* ---- values -------------------------------------------------------------- */

/* Decodes value v (version, count, errors, sparse histogram) and adds it
 * into *acc (acc->hist may be NULL: latencies skipped; acc->nz extended).
 * 0, or -1 when v is malformed (acc unchanged). */
int col_rollup_add(col_rollup_val *acc, const uint8_t *v, size_t len);

/* The percentiles every query reports, from one pass over h: p50, p90,
 * p95, p99 into out[0..3], each exactly slc_hist_quantile(h, q) (bucket
 * midpoint clamped to [min, max]).  Zeros when h is empty.  The one
 * function behind both the stored summary and the query API's numbers, so
 * either path prints the same bytes. */
void col_rollup_percentiles(const slc_hist *h, uint64_t out[4]);

/* A value's fields before its histogram, read without decoding it. */
typedef struct col_rollup_head {
    uint64_t count, errors;
    int has_pct;         /* version 2: pct holds the stored percentiles */
    uint64_t pct[4];     /* p50, p90, p95, p99 */
    const uint8_t *hist; /* the histogram encoding, pointing into the value */
    size_t hist_len;
} col_rollup_head;

/* Parses value v (either version) into *h, up to its histogram (not
 * checked: col_rollup_add does); pointers point into v.  0, or -1 when
 * the fields before the histogram are malformed or it is empty. */
int col_rollup_head_parse(const uint8_t *v, size_t len, col_rollup_head *h);

/* Encodes count, errors, h's percentiles and h (version 2) into a malloc'd
 * buffer owned by the caller.  NULL when out of memory. */
uint8_t *col_rollup_encode(uint64_t count, uint64_t errors, const slc_hist *h, size_t *len);

/* The merge operator's work (full and partial merges): existing (may be
 * NULL) plus every operand, into one new malloc'd version 2 value owned by
 * the caller, its percentiles computed from the merged histogram.
 * Malformed operands are skipped (a value written by a newer version is not
 * worth failing a compaction for).  NULL when out of memory.  Thread-safe:
 * each calling thread keeps ~67 KiB of scratch, freed when it exits. */
uint8_t *col_rollup_merge(const uint8_t *existing, size_t elen, const char *const *ops,
                          const size_t *oplens, int nops, size_t *outlen);

/* ---- one frame into merge operands ----------------------------------------- */

/* Called once per operand; key/value are valid only during the call. */
typedef void (*col_rollup_emit_fn)(void *arg, const uint8_t *key, size_t klen,
                                   const uint8_t *val, size_t vlen);

/* An edge found by the tracker: caller and callee service names (borrowed
 * from the tracker until the next tracker call), the child span's start
 * minute, duration and error flag. */
typedef struct col_edge_ev {
    uint16_t caller, callee; /* tracker service ids */
    uint64_t minute_ns;
    uint64_t dur_ns;
    uint8_t error;
} col_edge_ev;

typedef struct col_edges col_edges;

/* Emits the RED operands of batch b (grouped by service, operation, kind
 * and minute), the per-service RED operands (by service, kind and minute:
 * the same spans with operations merged, so a services-level query reads
 * one row per service instead of merging every operation's histogram),
 * the log-count operands (by service, level class and minute) and the edge
 * operands of evs[0..nev) (names resolved through t).  Returns 0 or
 * SL_ENOMEM. */
int col_rollup_frame(const slc_batch *b, col_edges *t, const col_edge_ev *evs, size_t nev,
                     col_rollup_emit_fn emit, void *arg);

/* ---- the edge tracker ---------------------------------------------------------
 * Remembers span id -> service of recent spans and children whose parent
 * has not arrived yet, both in fixed-size tables (memory is bounded; the
 * oldest entries are overwritten), so a parent and a child that arrive in
 * different frames, in either order, still make one edge. */

/* slots: table size (rounded up to a power of two; 0 = 1M).  NULL on OOM. */
col_edges *col_edges_new(size_t slots);
void col_edges_free(col_edges *t);

/* A pending entry a frame touched: (parent, child) ids and the slot. */
struct col_edge_ref {
    uint64_t parent, child;
    size_t slot;
    uint8_t added; /* 1 = the frame added it (a child waiting); 0 = completed it */
};

/* What one frame did to the tracker, to be committed or undone once the
 * frame's write succeeded or failed. */
typedef struct col_edges_txn {
    col_edge_ev *evs; /* the edges the frame completes */
    size_t nev;
    struct col_edge_ref *refs;
    size_t nrefs;
} col_edges_txn;

/* Records the spans of b and finds the edges they complete, into *tx
 * (owned by the caller until col_edges_commit/abort, which free it).
 * Two-phase, so a frame whose write fails and is retried counts each edge
 * once: children waiting for a parent are keyed by (parent, child) (a
 * retry replaces its own entry), and the waiting children a parent
 * completes are only removed by col_edges_commit().  Call exactly one of
 * commit (write committed) or abort (write failed) after a successful
 * observe; on failure (SL_ENOMEM) *tx is already undone and empty.
 * Thread-safe (one mutex; the work is a few hash probes per span). */
int col_edges_observe(col_edges *t, const slc_batch *b, col_edges_txn *tx);
void col_edges_commit(col_edges *t, col_edges_txn *tx);
void col_edges_abort(col_edges *t, col_edges_txn *tx);

/* The name of service id (NUL-terminated, owned by the tracker; names are
 * never removed, so the pointer stays valid until col_edges_free()). */
const char *col_edges_name(col_edges *t, uint16_t id);

/* Bytes held by the tracker's tables. */
size_t col_edges_bytes(const col_edges *t);

#endif /* COL_ROLLUP_H */
