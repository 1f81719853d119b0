/*
 * test_colutil.h - helpers shared by the collector's unit tests
 * (test_col*.c): building real frames with the shared codec, temporary
 * directories.  Header-only so each test binary stays one file.
 */
#ifndef TEST_COLUTIL_H
#define TEST_COLUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slc_util.h"
#include "slc_wire.h"

static inline void tu_id(uint8_t *out, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((seed >> ((i % 8) * 8)) + i + 1);
}

static inline uint32_t tu_str(slc_batch *b, const char *s)
{
    uint32_t idx = 0;
    if (slc_batch_intern(b, s, strlen(s), &idx) != 0)
        abort();
    return idx;
}

/* Adds a span with one string and one int attribute. parent may be NULL. */
static inline void tu_span(slc_batch *b, const uint8_t tid[16], const uint8_t sid[8],
                           const uint8_t *parent, const char *service, const char *name,
                           uint64_t start, uint64_t dur, int error)
{
    slc_span s;
    slc_attr a;
    uint32_t first = 0;

    memset(&s, 0, sizeof s);
    memset(&a, 0, sizeof a);
    a.key = tu_str(b, "http.request.method");
    a.type = SLC_V_STR;
    a.v.str = tu_str(b, "GET");
    if (slc_batch_add_attr(b, &a, &first) != 0)
        abort();
    a.key = tu_str(b, "http.response.status_code");
    a.type = SLC_V_INT;
    a.v.i = error ? 500 : 200;
    if (slc_batch_add_attr(b, &a, NULL) != 0)
        abort();
    memcpy(s.trace_id, tid, 16);
    memcpy(s.span_id, sid, 8);
    if (parent != NULL)
        memcpy(s.parent_id, parent, 8);
    s.kind = SLC_KIND_SERVER;
    s.status = error ? SLC_STATUS_ERROR : SLC_STATUS_OK;
    s.service = tu_str(b, service);
    s.name = tu_str(b, name);
    s.start_ns = start;
    s.end_ns = start + dur;
    s.attr_first = first;
    s.attr_count = 2;
    if (slc_batch_add_span(b, &s, NULL) != 0)
        abort();
}

static inline void tu_log(slc_batch *b, const uint8_t tid[16], const uint8_t sid[8],
                          const char *service, const char *body, uint64_t t)
{
    slc_log l;

    memset(&l, 0, sizeof l);
    l.time_ns = t;
    l.level = SLC_LVL_INFO;
    if (tid != NULL) {
        l.flags = SLC_LOG_F_TRACE;
        memcpy(l.trace_id, tid, 16);
        memcpy(l.span_id, sid, 8);
    }
    l.service = tu_str(b, service);
    l.body = tu_str(b, body);
    if (slc_batch_add_log(b, &l, NULL) != 0)
        abort();
}

/* Encodes b with zlib level 1; the caller frees *out. */
static inline void tu_encode(const slc_batch *b, uint8_t **out, size_t *len)
{
    if (slc_wire_encode(b, 1, out, len) != 0)
        abort();
}

/* A three-span trace (frontend -> checkout -> payment) plus a log, in one
 * frame with batch id bid; the trace id comes from seed. */
static inline void tu_trace_frame(uint64_t bid, uint64_t seed, uint64_t start, uint8_t **out,
                                  size_t *len)
{
    slc_batch *b = slc_batch_new();
    uint8_t tid[16], s1[8], s2[8], s3[8];

    tu_id(tid, 16, seed);
    tu_id(s1, 8, seed * 3 + 1);
    tu_id(s2, 8, seed * 3 + 2);
    tu_id(s3, 8, seed * 3 + 3);
    b->batch_id = bid;
    tu_span(b, tid, s1, NULL, "frontend", "GET /checkout", start, 50000000, 0);
    tu_span(b, tid, s2, s1, "checkout", "place-order", start + 1000000, 40000000, 0);
    tu_span(b, tid, s3, s2, "payment", "charge", start + 2000000, 30000000, 1);
    tu_log(b, tid, s3, "payment", "card declined", start + 3000000);
    tu_encode(b, out, len);
    slc_batch_free(b);
}

static inline char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/sl-coltest-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (d == NULL)
        abort();
    return strdup(d);
}

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Removes dir and everything under it, then frees the string. */
static inline void tu_rmtree(char *dir)
{
    if (dir != NULL)
        nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

#endif /* TEST_COLUTIL_H */
