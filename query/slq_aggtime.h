/*
 * slq_aggtime.h - how an aggregate query turns counts into rates: the one
 * definition shared by the query API (api_query.c) and the alert evaluator
 * (alerts_eval.c), so a rate means the same thing in both.
 *
 * Aggregates are per minute (docs/storage.md, "rollup"): a query over
 * [since, until] reads every minute that range touches, whole.
 */
#ifndef SLQ_AGGTIME_H
#define SLQ_AGGTIME_H

#include <stdint.h>

#define SLQ_AGG_MINUTE_NS (60ULL * 1000000000ULL)

/* The whole minutes an aggregate query over [since, until] covers, in
 * seconds: the query API's rates divide by this. */
static inline double slq_agg_minutes_s(uint64_t since, uint64_t until)
{
    uint64_t first = since - since % SLQ_AGG_MINUTE_NS, last = until - until % SLQ_AGG_MINUTE_NS;
    return (double)(last - first + SLQ_AGG_MINUTE_NS) / 1e9;
}

/* The seconds of those minutes that have already happened at now_ns (the
 * current minute counts only up to now).  A rate over a window that ends
 * now divides by this, so a half-elapsed minute does not halve the rate;
 * at least one second. */
static inline double slq_agg_elapsed_s(uint64_t since, uint64_t until, uint64_t now_ns)
{
    uint64_t first = since - since % SLQ_AGG_MINUTE_NS;
    uint64_t end = until - until % SLQ_AGG_MINUTE_NS + SLQ_AGG_MINUTE_NS;
    double s;

    if (now_ns < end)
        end = now_ns;
    s = end > first ? (double)(end - first) / 1e9 : 0.0;
    return s < 1.0 ? 1.0 : s;
}

#endif /* SLQ_AGGTIME_H */
