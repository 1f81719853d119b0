/*
 * stats.c - self-metrics helpers (see stats.h).
 */
#include "stats.h"

#include <string.h>

#include "sightline.h"
#include "common/slc_util.h"

void col_stats_init(col_stats *s)
{
    memset(s, 0, sizeof *s);
    s->started_ns = slc_now_ns();
}

enum col_reject_reason col_stats_reject_reason(int err)
{
    switch (err) {
    case SL_EWIRE_TRUNCATED: return COL_REJ_TRUNCATED;
    case SL_EWIRE_MAGIC: return COL_REJ_MAGIC;
    case SL_EWIRE_VERSION: return COL_REJ_VERSION;
    case SL_EWIRE_FLAGS: return COL_REJ_FLAGS;
    case SL_EWIRE_CHECKSUM: return COL_REJ_CHECKSUM;
    case SL_EWIRE_INFLATE: return COL_REJ_INFLATE;
    case SL_EWIRE_LIMIT: return COL_REJ_LIMIT;
    case SL_EWIRE_UTF8: return COL_REJ_UTF8;
    case SL_EWIRE_REF: return COL_REJ_REF;
    case SL_EWIRE_VALUE: return COL_REJ_VALUE;
    case SL_EWIRE_TRAILING: return COL_REJ_TRAILING;
    case SL_EWIRE_VARINT: return COL_REJ_VARINT;
    default: return COL_REJ_OTHER;
    }
}

const char *col_stats_reject_name(enum col_reject_reason r)
{
    static const char *const names[COL_REJ_COUNT] = {
        "truncated", "magic", "version", "flags", "checksum", "inflate", "limit",
        "utf8", "ref", "value", "trailing", "varint", "length", "other"};
    return (unsigned)r < COL_REJ_COUNT ? names[r] : "other";
}

void col_stats_write_latency(col_stats *s, uint64_t ns)
{
    uint64_t us = ns / 1000, prev;
    unsigned i = 0;

    while (i < COL_LAT_BUCKETS - 1 && us >= ((uint64_t)1 << i))
        i++;
    atomic_fetch_add_explicit(&s->write_lat[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->write_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->write_ns_total, ns, memory_order_relaxed);
    prev = atomic_load_explicit(&s->write_ns_max, memory_order_relaxed);
    while (ns > prev &&
           !atomic_compare_exchange_weak_explicit(&s->write_ns_max, &prev, ns,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

uint64_t col_stats_lat_bound_us(unsigned i)
{
    if (i >= COL_LAT_BUCKETS - 1)
        return UINT64_MAX;
    return (uint64_t)1 << i;
}
