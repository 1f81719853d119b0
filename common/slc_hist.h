/*
 * slc_hist.h - a mergeable log-linear latency histogram.
 *
 * Values (nanoseconds, any uint64) fall into buckets of 128 linear steps per
 * power of two, so a bucket's width is at most 1/64 of its lower bound and a
 * percentile reported as the bucket midpoint is within 0.8% of the true
 * value (within 1/128 in practice; exact below 128 ns).  Integer math only: a
 * record is a count-leading-zeros and two shifts.
 *
 * Memory: a dense histogram is 3,712 uint64 counters (~29 KiB); store them
 * with slc_hist_encode, which writes only the non-empty buckets.
 */
#ifndef SLC_HIST_H
#define SLC_HIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLC_HIST_SUB_BITS 7
#define SLC_HIST_BUCKETS ((64 - SLC_HIST_SUB_BITS + 1) * (1 << (SLC_HIST_SUB_BITS - 1)) + 64)

typedef struct slc_hist {
    uint64_t count;
    uint64_t sum;   /* saturating */
    uint64_t min, max;
    uint64_t b[SLC_HIST_BUCKETS];
} slc_hist;

/* Empties h. */
void slc_hist_reset(slc_hist *h);

/* Adds n observations of value v. */
void slc_hist_add(slc_hist *h, uint64_t v, uint64_t n);

/* Adds every observation of src into dst. */
void slc_hist_merge(slc_hist *dst, const slc_hist *src);

/* The value at quantile q (0..1): the midpoint of the bucket holding the
 * ceil(q*count)-th smallest observation, clamped to [min, max].  0 when
 * empty. */
uint64_t slc_hist_quantile(const slc_hist *h, double q);

/* The bucket index of v and the bounds [lo, hi] of bucket i. */
uint32_t slc_hist_index(uint64_t v);
void slc_hist_bounds(uint32_t i, uint64_t *lo, uint64_t *hi);

/* Serialises h sparsely into buf (capacity cap): count, sum, min, max, then
 * (index delta, count) varint pairs.  Returns the bytes written, or 0 if cap
 * is too small (slc_hist_encoded_max() is always enough). */
size_t slc_hist_encode(const slc_hist *h, uint8_t *buf, size_t cap);
size_t slc_hist_encoded_max(void);

/* Merges a serialised histogram into h (h is not reset first).  Returns 0,
 * or SL_EPARSE on malformed input (h is then unchanged). */
int slc_hist_decode_merge(slc_hist *h, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
