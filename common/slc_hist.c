/*
 * slc_hist.c - log-linear histogram (see slc_hist.h for the error bound).
 *
 * Index layout: values below 128 map to themselves (exact).  A value with
 * its highest set bit at position e >= 7 keeps its top 7 bits m (64..127)
 * and maps to 128 + (e - 7) * 64 + (m - 64).
 */
#include "slc_hist.h"

#include <string.h>

#include "sightline.h"
#include "slc_bytes.h"

#define SUB (1u << SLC_HIST_SUB_BITS) /* 128 */
#define HALF (SUB / 2)                /* 64 */

void slc_hist_reset(slc_hist *h)
{
    memset(h, 0, sizeof *h);
}

uint32_t slc_hist_index(uint64_t v)
{
    if (v < SUB)
        return (uint32_t)v;
    int e = 63 - __builtin_clzll(v);
    uint64_t m = v >> (e - (SLC_HIST_SUB_BITS - 1)); /* 64..127 */
    return SUB + (uint32_t)(e - SLC_HIST_SUB_BITS) * HALF + (uint32_t)(m - HALF);
}

void slc_hist_bounds(uint32_t i, uint64_t *lo, uint64_t *hi)
{
    if (i < SUB) {
        *lo = *hi = i;
        return;
    }
    uint32_t e = (i - SUB) / HALF + SLC_HIST_SUB_BITS;
    uint64_t m = (i - SUB) % HALF + HALF;
    int shift = (int)e - (SLC_HIST_SUB_BITS - 1);
    *lo = m << shift;
    *hi = *lo + ((1ull << shift) - 1);
}

void slc_hist_add(slc_hist *h, uint64_t v, uint64_t n)
{
    if (!n)
        return;
    if (!h->count || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count += n;
    unsigned __int128 add = (unsigned __int128)v * n;
    h->sum = add > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + (uint64_t)add;
    h->b[slc_hist_index(v)] += n;
}

void slc_hist_merge(slc_hist *dst, const slc_hist *src)
{
    if (!src->count)
        return;
    if (!dst->count || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum = src->sum > UINT64_MAX - dst->sum ? UINT64_MAX : dst->sum + src->sum;
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

uint64_t slc_hist_quantile(const slc_hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            slc_hist_bounds(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}

size_t slc_hist_encoded_max(void)
{
    return 4 * 10 + 10 + (size_t)SLC_HIST_BUCKETS * 20;
}

size_t slc_hist_encode(const slc_hist *h, uint8_t *buf, size_t cap)
{
    uint8_t tmp[10];
    size_t n = 0;
    uint32_t nz = 0;
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++)
        nz += h->b[i] != 0;
    const uint64_t head[5] = {h->count, h->sum, h->min, h->max, nz};
    for (int k = 0; k < 5; k++) {
        size_t l = slc_varint_put(tmp, head[k]);
        if (cap - n < l)
            return 0;
        memcpy(buf + n, tmp, l);
        n += l;
    }
    uint32_t prev = 0;
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++) {
        if (!h->b[i])
            continue;
        if (cap - n < 20)
            return 0;
        n += slc_varint_put(buf + n, i - prev);
        n += slc_varint_put(buf + n, h->b[i]);
        prev = i;
    }
    return n;
}

int slc_hist_decode_merge(slc_hist *h, const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t head[5];
    for (int k = 0; k < 5; k++)
        if (slc_varint_get(&p, end, &head[k]))
            return SL_EPARSE;
    if (head[4] > SLC_HIST_BUCKETS)
        return SL_EPARSE;
    /* Validate fully before touching h, so bad input changes nothing. */
    uint32_t idx[SLC_HIST_BUCKETS];
    uint64_t cnt[SLC_HIST_BUCKETS];
    uint64_t pos = 0, total = 0;
    for (uint64_t k = 0; k < head[4]; k++) {
        uint64_t d, c;
        if (slc_varint_get(&p, end, &d) || slc_varint_get(&p, end, &c))
            return SL_EPARSE;
        if ((k > 0 && d == 0) || d >= SLC_HIST_BUCKETS - pos || c == 0)
            return SL_EPARSE;
        pos += d;
        idx[k] = (uint32_t)pos;
        cnt[k] = c;
        total += c;
    }
    if (p != end || total != head[0] || (head[0] && head[2] > head[3]))
        return SL_EPARSE;
    if (!head[0])
        return SL_OK;
    slc_hist src;
    src.count = head[0];
    src.sum = head[1];
    src.min = head[2];
    src.max = head[3];
    if (!h->count || src.min < h->min)
        h->min = src.min;
    if (src.max > h->max)
        h->max = src.max;
    h->count += src.count;
    h->sum = src.sum > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + src.sum;
    for (uint64_t k = 0; k < head[4]; k++)
        h->b[idx[k]] += cnt[k];
    return SL_OK;
}
