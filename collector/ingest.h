/*
 * ingest.h - receives frames over nng and acknowledges them.
 *
 * One rep0 socket listens on every configured URL; N worker threads each own
 * one nng context and handle one frame at a time: peek the header, claim the
 * batch (dedupe), decode with limits, write to the store, reply an ack
 * (common/slc_wire.h).  A frame is acknowledged STORED only after its
 * RocksDB write has committed to the WAL.  In-flight memory is bounded by
 * the workers (one frame each) plus one frame buffered per connection, each
 * at most limits.frame_bytes (the transport refuses larger messages).
 */
#ifndef COL_INGEST_H
#define COL_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "slc_wire.h"
#include "stats.h"
#include "store.h"

typedef struct col_ingest col_ingest;

typedef struct col_ingest_opts {
    const char *const *urls; /* nng URLs to listen on (copied) */
    int nurls;
    int workers;             /* 0 = 4 */
    slc_wire_limits limits;  /* applied to every frame */
    uint64_t inflight_bytes; /* budget for frames being decoded and written; 0 = none */
} col_ingest_opts;

/* Opens the socket, listens on every URL and starts the workers.  store and
 * stats are borrowed and must outlive the ingest.  On success *out is owned
 * by the caller (col_ingest_stop()).  On failure nothing is left running,
 * the error (SL_ETRANSPORT, SL_ENOMEM, SL_EINVAL) is returned and err names
 * the URL and nng's reason. */
int col_ingest_start(const col_ingest_opts *o, col_store *store, col_stats *stats,
                     col_ingest **out, char *err, size_t errlen);

/* Replaces the limits applied to the next frames (SIGHUP).  Thread-safe. */
void col_ingest_set_limits(col_ingest *in, const slc_wire_limits *lim);

/* Stops receiving, lets every worker finish the frame it holds (write and
 * ack), then closes the socket and frees everything.  NULL is a no-op. */
void col_ingest_stop(col_ingest *in);

/* Processes one frame as a worker would, without the transport: fills *ack.
 * Exposed for tests and benchmarks.  Thread-safe. */
void col_ingest_handle(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                       const uint8_t *frame, size_t len, slc_ack *ack);

#endif /* COL_INGEST_H */
