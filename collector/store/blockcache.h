/*
 * blockcache.h - a small, process-wide cache of decoded stored blocks,
 * shared by every reader thread.
 *
 * Why: a trace search decodes the newest blocks of a service, and the trace
 * summaries of its 20 hits then read the same blocks again (a 512-span
 * frame holds ~350 traces, so hits share blocks); a dashboard opening one
 * of those traces reads them a third time.  Inflating and decoding a frame
 * costs ~0.3 ms; a lookup costs a hash probe.
 *
 * Correctness does not depend on invalidation: an entry is found only when
 * the caller's freshly read frame has the same length and the same 32-byte
 * header (batch id, payload CRC-32, header CRC-32) as the frame it was
 * decoded from, so a block removed by retention (the caller reads nothing)
 * or a different store opened at the same address is never served stale.
 * Bounded by bytes (default 64 MiB, least recently used out first);
 * entries in use stay alive until released.
 */
#ifndef COL_BLOCKCACHE_H
#define COL_BLOCKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_wire.h"
#include "store.h"

typedef struct col_bcache_ent col_bcache_ent;

/* The decoded form of frame[0..len), stored under block key key[0..12) of
 * the store owner: from the cache, or decoded with lim (NULL = defaults)
 * and inserted.  On success *e is a reference the caller releases with
 * col_bcache_put() and *b (owned by the cache, read-only, shared between
 * threads) stays valid until then.  Returns 0, SL_ENOMEM, or the decoder's
 * error (message in msg). */
int col_bcache_get(const void *owner, const uint8_t key[12], const uint8_t *frame, size_t len,
                   const slc_wire_limits *lim, col_bcache_ent **e, const slc_batch **b,
                   char *msg, size_t msglen);

/* Releases a reference from col_bcache_get(); NULL is ignored. */
void col_bcache_put(col_bcache_ent *e);

/* Sets the byte budget (0 disables caching: every get decodes) and evicts
 * down to it. */
void col_bcache_set_max_bytes(size_t max_bytes);

/* Drops every entry not in use (benchmarks measure cold reads with it). */
void col_bcache_clear(void);

/* Counters since start: hits, misses, bytes held now. */
void col_bcache_stats(uint64_t *hits, uint64_t *misses, size_t *bytes);


#endif /* COL_BLOCKCACHE_H */
