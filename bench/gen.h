/*
 * gen.h - a realistic synthetic workload for the benchmarks: traces of 5-20
 * spans across 8 services, about 10 attributes per span drawn from realistic
 * value sets, one log record per few spans, random ids.  Spans are grouped
 * into frames per service, as an SDK in each service would send them.
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct gen_frame {
    uint8_t *bytes; /* encoded frame (malloc'd) */
    size_t len;
    uint32_t spans, logs;
} gen_frame;

typedef struct gen_opts {
    uint64_t seed;
    uint32_t spans_per_frame; /* cut a service's frame at this many spans (default 512) */
    uint32_t extra_attrs;     /* attributes added to the ~10 realistic ones (default 0) */
    int logs_only;            /* frames of log records only */
    int zlib_level;           /* default 1 */
    uint64_t start_ns;        /* time of the first trace (default now - 1h) */
    uint64_t batch_base;      /* batch ids are batch_base + 1, + 2, ... (default 0x5ee0 << 48) */
} gen_opts;

/* Generates frames until at least total items (spans, or logs when
 * logs_only) are encoded.  On success *out is a malloc'd array of *n frames
 * owned by the caller (gen_free).  Returns 0 or -1 when out of memory. */
int gen_frames(const gen_opts *o, uint64_t total, gen_frame **out, size_t *n);

void gen_free(gen_frame *f, size_t n);

#endif
