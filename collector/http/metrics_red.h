/*
 * metrics_red.h - the RED metrics (rate, errors, duration) per service and
 * operation in the Prometheus text format, for GET /metrics.
 *
 * The store keeps RED aggregates per minute of span start (store.h,
 * col_store_red); Prometheus wants counters that only grow.  This module
 * turns the first into the second:
 *
 *  - counting starts when the instance is created (at 0), like any
 *    process counter, so a collector restart is an ordinary counter reset
 *    that rate()/increase() handle.  Totals over the retained data would
 *    not do: retention drops old minutes all the time, every drop would
 *    look like a reset, and every reset would be read as the whole
 *    retained traffic arriving at once;
 *  - minutes younger than a window (default 15 min) are "open": they are
 *    re-read at every refresh, because spans are aggregated by their start
 *    time and arrive after they end.  Older minutes are "closed": read
 *    once, added to an in-memory total, never read again.  A span that
 *    reaches the collector more than the window after its start is
 *    therefore not counted here (it is stored and queryable as usual);
 *  - a value never decreases: each exported series is the element-wise
 *    maximum of what was exported before and what is computed now (which
 *    keeps histogram buckets non-decreasing in le and _count equal to the
 *    +Inf bucket).
 *
 * Cost: a refresh reads the open window's aggregate rows (one per service,
 * operation, span kind and minute) plus the minutes that closed since the
 * last refresh; the rendered text is cached for cache_ns, so scrapes by
 * several Prometheus servers cost one refresh.  Series are bounded by
 * max_series (service, operation) pairs, first come first kept; groups
 * beyond it are counted in sightline_red_groups_dropped_total.
 *
 * Thread safety: every function may be called from any thread, except
 * col_redm_free() (no call may be running on that instance).
 */
#ifndef COL_METRICS_RED_H
#define COL_METRICS_RED_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "store/store.h"

typedef struct col_redm col_redm;

typedef struct col_redm_opts {
    uint64_t cache_ns;   /* how long a rendered text is served again; 0 = 10 s */
    uint64_t window_ns;  /* open window re-read at each refresh; 0 = 15 min */
    uint32_t max_series; /* (service, operation) pairs exported; 0 = 500 */
} col_redm_opts;

/* Creates an instance reading store (borrowed; must outlive it).  Counting
 * starts at the first refresh (the first col_redm_render()), which reads 0
 * for every series already in the window.  o NULL = defaults.  On success
 * *out is owned by the caller (col_redm_free()).  Returns 0, SL_EINVAL
 * (store NULL) or SL_ENOMEM. */
int col_redm_new(col_store *store, const col_redm_opts *o, col_redm **out);

/* Frees an instance.  NULL is a no-op. */
void col_redm_free(col_redm *m);

/* Renders the RED families (HELP/TYPE lines included) at time now_ns (Unix
 * ns): from the cache when it is younger than cache_ns, else after a
 * refresh.  A failed refresh keeps the last values (and is counted in
 * sightline_red_refresh_errors_total), so the text is always complete.
 * On success *text is a malloc'd NUL-terminated string owned by the caller
 * (free()) and *len its length.  Returns 0 or SL_ENOMEM (also for m NULL,
 * so the result of a failed col_redm_shared() can be passed as is). */
int col_redm_render(col_redm *m, uint64_t now_ns, char **text, size_t *len);

/* The instance of one running collector, created with default options on
 * first use and kept for the life of the process: identified by the store
 * and the stats block (and the stats' start time, so a test that opens a
 * new store at a reused address gets a fresh instance).  Call it once at
 * start-up to make counting start then rather than at the first scrape.
 * At most 8 instances are kept (the oldest is freed; only tests make more
 * than one).  Returns NULL when out of memory. */
col_redm *col_redm_shared(col_store *store, const col_stats *stats);

#endif /* COL_METRICS_RED_H */
