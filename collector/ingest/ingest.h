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
 * Frames may carry an ingest token (docs/wire-format.md); when tokens are
 * configured a frame without an accepted one is answered UNAUTHORIZED before
 * anything else is done with it.  tls+tcp:// URLs are served with the
 * certificate and key of the options.
 */
#ifndef COL_INGEST_H
#define COL_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_wire.h"
#include "stats.h"
#include "store/store.h"

typedef struct col_ingest col_ingest;

#define COL_INGEST_MAX_TOKENS 64

typedef struct col_ingest_opts {
    const char *const *urls; /* nng URLs to listen on (copied) */
    int nurls;
    int workers;             /* 0 = 4 */
    slc_wire_limits limits;  /* applied to every frame */
    uint64_t inflight_bytes; /* budget for frames being decoded and written; 0 = none */
    /* Ingest tokens accepted (copied; NUL-terminated, 1..255 bytes each, at
     * most COL_INGEST_MAX_TOKENS).  None = open: every frame is accepted. */
    const char *const *tokens;
    int ntokens;
    /* PEM certificate (chain) and private key files for tls+tcp:// URLs;
     * required when such a URL is given, ignored otherwise. */
    const char *tls_cert, *tls_key;
    /* Connections open at once over all URLs; one more is closed as soon as
     * it is accepted (counted in stats->conns_refused).  0 = no limit. */
    int max_conns;
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

/* Replaces the accepted ingest tokens (SIGHUP; same rules as in
 * col_ingest_opts; n = 0 opens ingest).  SL_EINVAL (nothing changed) for a
 * token that is empty or longer than 255 bytes, or more than
 * COL_INGEST_MAX_TOKENS.  Thread-safe. */
int col_ingest_set_tokens(col_ingest *in, const char *const *tokens, int n);

/* 1 if tok[0..len) is an accepted token or no token is configured, else 0
 * (tok may be NULL with len 0: "no token").  Compared in constant time: the
 * time depends only on the number of configured tokens.  Used by the frame
 * path and by the HTTP receivers (Authorization: Bearer).  Thread-safe. */
int col_ingest_token_ok(col_ingest *in, const uint8_t *tok, size_t len);

/* 1 if at least one ingest token is configured.  Thread-safe. */
int col_ingest_requires_token(col_ingest *in);

/* 1 if an nng URL only accepts local peers (ipc://, inproc://, tcp or
 * tls+tcp on 127.0.0.0/8, ::1 or localhost). */
int col_ingest_url_is_local(const char *url);

/* Stops receiving, lets every worker finish the frame it holds (write and
 * ack), then closes the socket and frees everything.  NULL is a no-op. */
void col_ingest_stop(col_ingest *in);

/* Processes one frame as a worker would, without the transport: fills *ack.
 * Exposed for tests and benchmarks.  Thread-safe. */
void col_ingest_handle(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                       const uint8_t *frame, size_t len, slc_ack *ack);

#endif /* COL_INGEST_H */
