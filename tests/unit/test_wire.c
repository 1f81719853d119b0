/*
 * test_wire.c - the wire codec: round trips and every rejection path.
 */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "common/slc_util.h"
#include "common/slc_wire.h"

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t idx;
    assert_int_equal(slc_batch_intern(b, s, strlen(s), &idx), SL_OK);
    return idx;
}

static void fill_id(uint8_t *id, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        id[i] = (uint8_t)(seed + i + 1);
}

/* A batch with every field kind: 3 spans (one root, two children, one with
 * events and a link), 2 logs (one with trace context). */
static slc_batch *sample_batch(void)
{
    slc_batch *b = slc_batch_new();
    assert_non_null(b);
    b->batch_id = 0x1122334455667788ull;
    for (int i = 0; i < 3; i++) {
        slc_span s;
        memset(&s, 0, sizeof s);
        fill_id(s.trace_id, 16, 7);
        fill_id(s.span_id, 8, (uint8_t)(40 + i));
        if (i > 0)
            fill_id(s.parent_id, 8, 40);
        s.kind = (uint8_t)(i == 0 ? SLC_KIND_SERVER : SLC_KIND_CLIENT);
        s.status = (uint8_t)(i == 2 ? SLC_STATUS_ERROR : SLC_STATUS_OK);
        s.service = S(b, i == 0 ? "frontend" : "checkout");
        s.name = S(b, i == 0 ? "GET /checkout" : "POST /pay");
        s.status_msg = i == 2 ? S(b, "card declined") : 0;
        s.start_ns = 1764000000000000000ull + (uint64_t)i * 1000;
        s.end_ns = s.start_ns + 123456789ull * (uint64_t)(i + 1);
        s.attr_first = b->nattrs;
        slc_attr a = {.key = S(b, "http.request.method"), .type = SLC_V_STR};
        a.v.str = S(b, "GET");
        slc_batch_add_attr(b, &a, NULL);
        a = (slc_attr){.key = S(b, "http.response.status_code"), .type = SLC_V_INT};
        a.v.i = -200 * i;
        slc_batch_add_attr(b, &a, NULL);
        a = (slc_attr){.key = S(b, "ratio"), .type = SLC_V_DBL};
        a.v.d = 0.25 * i;
        slc_batch_add_attr(b, &a, NULL);
        a = (slc_attr){.key = S(b, "cache.hit"), .type = SLC_V_BOOL};
        a.v.b = (uint8_t)(i & 1);
        slc_batch_add_attr(b, &a, NULL);
        s.attr_count = 4;
        if (i == 1) {
            s.event_first = b->nevents;
            slc_attr ea = {.key = S(b, "retry"), .type = SLC_V_INT};
            ea.v.i = 3;
            uint32_t af;
            slc_batch_add_attr(b, &ea, &af);
            slc_event e = {.time_ns = s.start_ns + 50, .name = S(b, "retrying"), .attr_first = af,
                           .attr_count = 1};
            slc_batch_add_event(b, &e, NULL);
            e = (slc_event){.time_ns = s.start_ns - 10, .name = S(b, "early")};
            slc_batch_add_event(b, &e, NULL);
            s.event_count = 2;
            slc_link l;
            memset(&l, 0, sizeof l);
            fill_id(l.trace_id, 16, 99);
            fill_id(l.span_id, 8, 98);
            s.link_first = b->nlinks;
            slc_batch_add_link(b, &l, NULL);
            s.link_count = 1;
        }
        assert_int_equal(slc_batch_add_span(b, &s, NULL), SL_OK);
    }
    for (int i = 0; i < 2; i++) {
        slc_log l;
        memset(&l, 0, sizeof l);
        l.time_ns = 1764000000000500000ull + (uint64_t)i;
        l.level = i ? SLC_LVL_ERROR : SLC_LVL_INFO;
        l.service = S(b, "checkout");
        l.body = S(b, i ? "payment failed: card declined" : "order placed ✓");
        if (i) {
            l.flags = SLC_LOG_F_TRACE;
            fill_id(l.trace_id, 16, 7);
            fill_id(l.span_id, 8, 42);
        }
        l.attr_first = b->nattrs;
        slc_attr a = {.key = S(b, "order.id"), .type = SLC_V_STR};
        a.v.str = S(b, "o-123");
        slc_batch_add_attr(b, &a, NULL);
        l.attr_count = 1;
        assert_int_equal(slc_batch_add_log(b, &l, NULL), SL_OK);
    }
    return b;
}

static int str_eq(const slc_batch *a, uint32_t ia, const slc_batch *b, uint32_t ib)
{
    return a->strs[ia].len == b->strs[ib].len &&
           memcmp(a->strs[ia].ptr, b->strs[ib].ptr, a->strs[ia].len) == 0;
}

static void assert_attrs_equal(const slc_batch *a, uint32_t fa, const slc_batch *b, uint32_t fb,
                               uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const slc_attr *x = &a->attrs[fa + i], *y = &b->attrs[fb + i];
        assert_true(str_eq(a, x->key, b, y->key));
        assert_int_equal(x->type, y->type);
        switch (x->type) {
        case SLC_V_STR: assert_true(str_eq(a, x->v.str, b, y->v.str)); break;
        case SLC_V_INT: assert_int_equal(x->v.i, y->v.i); break;
        case SLC_V_DBL: assert_true(x->v.d == y->v.d); break;
        case SLC_V_BOOL: assert_int_equal(x->v.b, y->v.b); break;
        }
    }
}

/* Deep comparison through strings, so batches with different string tables
 * (a copy) compare equal. */
static void assert_batches_equal(const slc_batch *a, const slc_batch *b)
{
    assert_int_equal(a->nspans, b->nspans);
    assert_int_equal(a->nlogs, b->nlogs);
    for (uint32_t i = 0; i < a->nspans; i++) {
        const slc_span *x = &a->spans[i], *y = &b->spans[i];
        assert_memory_equal(x->trace_id, y->trace_id, 16);
        assert_memory_equal(x->span_id, y->span_id, 8);
        assert_memory_equal(x->parent_id, y->parent_id, 8);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->status, y->status);
        assert_true(str_eq(a, x->service, b, y->service));
        assert_true(str_eq(a, x->name, b, y->name));
        assert_true(str_eq(a, x->status_msg, b, y->status_msg));
        assert_true(x->start_ns == y->start_ns);
        assert_true(x->end_ns == y->end_ns);
        assert_int_equal(x->attr_count, y->attr_count);
        assert_attrs_equal(a, x->attr_first, b, y->attr_first, x->attr_count);
        assert_int_equal(x->event_count, y->event_count);
        for (uint32_t k = 0; k < x->event_count; k++) {
            const slc_event *e = &a->events[x->event_first + k], *f = &b->events[y->event_first + k];
            assert_true(e->time_ns == f->time_ns);
            assert_true(str_eq(a, e->name, b, f->name));
            assert_int_equal(e->attr_count, f->attr_count);
            assert_attrs_equal(a, e->attr_first, b, f->attr_first, e->attr_count);
        }
        assert_int_equal(x->link_count, y->link_count);
        for (uint32_t k = 0; k < x->link_count; k++) {
            const slc_link *l = &a->links[x->link_first + k], *m = &b->links[y->link_first + k];
            assert_memory_equal(l->trace_id, m->trace_id, 16);
            assert_memory_equal(l->span_id, m->span_id, 8);
        }
    }
    for (uint32_t i = 0; i < a->nlogs; i++) {
        const slc_log *x = &a->logs[i], *y = &b->logs[i];
        assert_true(x->time_ns == y->time_ns);
        assert_int_equal(x->level, y->level);
        assert_int_equal(x->flags, y->flags);
        if (x->flags & SLC_LOG_F_TRACE) {
            assert_memory_equal(x->trace_id, y->trace_id, 16);
            assert_memory_equal(x->span_id, y->span_id, 8);
        }
        assert_true(str_eq(a, x->service, b, y->service));
        assert_true(str_eq(a, x->body, b, y->body));
        assert_int_equal(x->attr_count, y->attr_count);
        assert_attrs_equal(a, x->attr_first, b, y->attr_first, x->attr_count);
    }
}

static void encode(const slc_batch *b, int level, uint8_t **f, size_t *n)
{
    assert_int_equal(slc_wire_encode(b, level, f, n), SL_OK);
}

static void test_roundtrip(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    for (int level = 0; level <= 9; level += 1) {
        uint8_t *f;
        size_t n;
        encode(b, level, &f, &n);
        slc_batch *d = NULL;
        char msg[256];
        assert_int_equal(slc_wire_decode(f, n, NULL, &d, msg, sizeof msg), SL_OK);
        assert_true(d->batch_id == b->batch_id);
        assert_batches_equal(b, d);
        uint64_t id;
        size_t flen;
        assert_int_equal(slc_wire_peek(f, n, &id, &flen), SL_OK);
        assert_true(id == b->batch_id);
        assert_int_equal(flen, n);
        slc_batch_free(d);
        free(f);
    }
    slc_batch_free(b);
}

static void test_intern_dedupes(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    uint32_t a1, a2, e;
    assert_int_equal(slc_batch_intern(b, "checkout", 8, &a1), SL_OK);
    assert_int_equal(slc_batch_intern(b, "checkoutX", 8, &a2), SL_OK);
    assert_int_equal(a1, a2);
    assert_int_equal(slc_batch_intern(b, "", 0, &e), SL_OK);
    assert_int_equal(e, 0);
    /* Many strings force the table to grow; all stay distinct and found. */
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "s%d", i);
        uint32_t x, y;
        assert_int_equal(slc_batch_intern(b, buf, (size_t)len, &x), SL_OK);
        assert_int_equal(slc_batch_intern(b, buf, (size_t)len, &y), SL_OK);
        assert_int_equal(x, y);
    }
    assert_int_equal(b->nstrs, 5002);
    slc_batch_reset(b);
    assert_int_equal(b->nstrs, 1);
    assert_int_equal(slc_batch_intern(b, "again", 5, &a1), SL_OK);
    assert_int_equal(a1, 1);
    slc_batch_free(b);
}

/* Reset keeps chunk 0 and must remember chunk 0's own size: a batch that
 * ended in a large chunk used to lend that size to chunk 0, and the next
 * batch wrote past it (found by review; ASan catches it). */
static void test_reset_after_big_string(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    uint32_t idx;
    char *big = malloc(100 * 1024);
    memset(big, 'x', 100 * 1024);
    assert_int_equal(slc_batch_intern(b, "svc", 3, &idx), SL_OK);   /* chunk 0: 64 KiB */
    assert_int_equal(slc_batch_intern(b, big, 100 * 1024, &idx), SL_OK); /* chunk 1: 100 KiB */
    slc_batch_reset(b);
    /* fill chunk 0 nearly full, then a string that fits only a 100 KiB chunk */
    char *mid = malloc(61 * 1024);
    memset(mid, 'y', 61 * 1024);
    assert_int_equal(slc_batch_intern(b, mid, 61 * 1024, &idx), SL_OK);
    memset(big, 'z', 20 * 1024);
    assert_int_equal(slc_batch_intern(b, big, 20 * 1024, &idx), SL_OK);
    assert_int_equal(b->strs[idx].len, 20 * 1024);
    assert_int_equal(b->strs[idx].ptr[20 * 1024 - 1], 'z');
    free(mid);
    free(big);
    slc_batch_free(b);
}

static void test_copy_span_and_log(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    uint8_t *f;
    size_t n;
    encode(b, 1, &f, &n);
    slc_batch *d = NULL;
    assert_int_equal(slc_wire_decode(f, n, NULL, &d, NULL, 0), SL_OK);
    slc_batch *c = slc_batch_new();
    for (uint32_t i = 0; i < d->nspans; i++)
        assert_int_equal(slc_batch_copy_span(c, d, i), SL_OK);
    for (uint32_t i = 0; i < d->nlogs; i++)
        assert_int_equal(slc_batch_copy_log(c, d, i), SL_OK);
    assert_batches_equal(b, c);
    assert_int_equal(slc_batch_copy_span(c, d, 99), SL_EINVAL);
    /* Interning into a decoded batch works and finds existing strings. */
    uint32_t idx;
    assert_int_equal(slc_batch_intern(d, "checkout", 8, &idx), SL_OK);
    assert_int_equal(d->strs[idx].len, 8);
    assert_memory_equal(d->strs[idx].ptr, "checkout", 8);
    uint32_t before = d->nstrs;
    assert_int_equal(slc_batch_intern(d, "checkout", 8, &idx), SL_OK);
    assert_int_equal(d->nstrs, before);
    slc_batch_free(c);
    slc_batch_free(d);
    free(f);
    slc_batch_free(b);
}

/* Re-writes the payload of an uncompressed frame after a change, fixing
 * both checksums, so the decoder's payload checks (not the CRC) are hit. */
static void refix(uint8_t *f, size_t n)
{
    uint32_t plen = (uint32_t)(n - SLC_WIRE_HEADER_LEN);
    for (int i = 0; i < 4; i++) {
        f[16 + i] = (uint8_t)(plen >> (8 * i));
        f[20 + i] = (uint8_t)(plen >> (8 * i));
    }
    uint32_t crc = (uint32_t)crc32(0L, f + SLC_WIRE_HEADER_LEN, plen);
    for (int i = 0; i < 4; i++)
        f[24 + i] = (uint8_t)(crc >> (8 * i));
    uint32_t hcrc = (uint32_t)crc32(0L, f, 28);
    for (int i = 0; i < 4; i++)
        f[28 + i] = (uint8_t)(hcrc >> (8 * i));
}

static int decode_err(const uint8_t *f, size_t n, const slc_wire_limits *lim, char *msg)
{
    slc_batch *d = NULL;
    int rc = slc_wire_decode(f, n, lim, &d, msg, 256);
    if (rc == SL_OK)
        slc_batch_free(d);
    else
        assert_null(d);
    return rc;
}

static void test_reject_header(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    uint8_t *f;
    size_t n;
    char msg[256];
    encode(b, 0, &f, &n);
    uint8_t *g = malloc(n + 8);

    /* every truncation */
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(g, f, n);
        int rc = decode_err(g, cut, NULL, msg);
        assert_int_not_equal(rc, SL_OK);
    }
    assert_int_equal(decode_err(f, 10, NULL, msg), SL_EWIRE_TRUNCATED);
    assert_non_null(strstr(msg, "shorter"));

    memcpy(g, f, n);
    g[0] = 'X';
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_MAGIC);

    memcpy(g, f, n);
    g[4] = 2;
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_VERSION);

    memcpy(g, f, n);
    g[5] = 0x80;
    refix(g, n);
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_FLAGS);

    memcpy(g, f, n);
    g[12] ^= 1; /* batch id changed, header CRC not fixed */
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_CHECKSUM);

    memcpy(g, f, n);
    g[n - 1] ^= 0x55; /* payload changed */
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_CHECKSUM);
    assert_non_null(strstr(msg, "payload checksum"));

    memcpy(g, f, n);
    g[n] = 0;
    assert_int_equal(decode_err(g, n + 1, NULL, msg), SL_EWIRE_TRAILING);

    slc_wire_limits lim;
    slc_wire_limits_default(&lim);
    lim.frame_bytes = 40;
    assert_int_equal(decode_err(f, n, &lim, msg), SL_EWIRE_LIMIT);
    slc_wire_limits_default(&lim);
    lim.payload_bytes = 40;
    assert_int_equal(decode_err(f, n, &lim, msg), SL_EWIRE_LIMIT);

    free(g);
    free(f);
    slc_batch_free(b);
}

static void test_reject_inflate(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    uint8_t *f;
    size_t n;
    char msg[256];
    encode(b, 6, &f, &n);
    /* claim a different raw length: inflate must not match */
    uint8_t *g = malloc(n);
    memcpy(g, f, n);
    g[20] = (uint8_t)(g[20] + 1);
    uint32_t hcrc = (uint32_t)crc32(0L, g, 28);
    for (int i = 0; i < 4; i++)
        g[28 + i] = (uint8_t)(hcrc >> (8 * i));
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_INFLATE);
    /* corrupt the zlib stream but fix the CRC */
    memcpy(g, f, n);
    g[SLC_WIRE_HEADER_LEN + 5] ^= 0xff;
    uint32_t crc = (uint32_t)crc32(0L, g + 32, (uInt)(n - 32));
    for (int i = 0; i < 4; i++)
        g[24 + i] = (uint8_t)(crc >> (8 * i));
    hcrc = (uint32_t)crc32(0L, g, 28);
    for (int i = 0; i < 4; i++)
        g[28 + i] = (uint8_t)(hcrc >> (8 * i));
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_INFLATE);
    free(g);
    free(f);
    slc_batch_free(b);
}

/* Builds a one-span batch, lets mutate() change it, encodes uncompressed. */
static int reject_one(void (*mutate)(slc_batch *), const slc_wire_limits *lim, char *msg)
{
    slc_batch *b = slc_batch_new();
    slc_span s;
    memset(&s, 0, sizeof s);
    fill_id(s.trace_id, 16, 1);
    fill_id(s.span_id, 8, 2);
    s.service = S(b, "svc");
    s.name = S(b, "op");
    s.start_ns = 1000;
    s.end_ns = 2000;
    slc_batch_add_span(b, &s, NULL);
    mutate(b);
    uint8_t *f;
    size_t n;
    int rc = slc_wire_encode(b, 0, &f, &n);
    if (rc == SL_OK) {
        rc = decode_err(f, n, lim, msg);
        free(f);
    }
    slc_batch_free(b);
    return rc;
}

static void m_kind(slc_batch *b) { b->spans[0].kind = 9; }
static void m_status(slc_batch *b) { b->spans[0].status = 3; }
static void m_zero_trace(slc_batch *b) { memset(b->spans[0].trace_id, 0, 16); }
static void m_zero_span(slc_batch *b) { memset(b->spans[0].span_id, 0, 8); }
static void m_empty_name(slc_batch *b) { b->spans[0].name = 0; }
static void m_bad_utf8(slc_batch *b) { b->strs[1].ptr = "\xc3\x28"; b->strs[1].len = 2; }
static void m_surrogate(slc_batch *b) { b->strs[1].ptr = "\xed\xa0\x80"; b->strs[1].len = 3; }
static void m_overlong(slc_batch *b) { b->strs[1].ptr = "\xc0\xaf"; b->strs[1].len = 2; }
static void m_nan(slc_batch *b)
{
    slc_attr a = {.key = 1, .type = SLC_V_DBL};
    a.v.d = NAN;
    slc_batch_add_attr(b, &a, &b->spans[0].attr_first);
    b->spans[0].attr_count = 1;
}
static void m_bool(slc_batch *b)
{
    slc_attr a = {.key = 1, .type = SLC_V_BOOL};
    a.v.b = 7;
    slc_batch_add_attr(b, &a, &b->spans[0].attr_first);
    b->spans[0].attr_count = 1;
}
static void m_empty_key(slc_batch *b)
{
    slc_attr a = {.key = 0, .type = SLC_V_INT};
    slc_batch_add_attr(b, &a, &b->spans[0].attr_first);
    b->spans[0].attr_count = 1;
}
static void m_many_attrs(slc_batch *b)
{
    b->spans[0].attr_first = b->nattrs;
    for (int i = 0; i < 10; i++) {
        slc_attr a = {.key = 1, .type = SLC_V_INT};
        slc_batch_add_attr(b, &a, NULL);
    }
    b->spans[0].attr_count = 10;
}
static void m_log_level(slc_batch *b)
{
    slc_log l;
    memset(&l, 0, sizeof l);
    l.time_ns = 5;
    l.level = 30;
    slc_batch_add_log(b, &l, NULL);
}
static void m_log_flags(slc_batch *b)
{
    slc_log l;
    memset(&l, 0, sizeof l);
    l.time_ns = 5;
    l.level = 9;
    l.flags = 0x4;
    slc_batch_add_log(b, &l, NULL);
}
static void m_nothing(slc_batch *b) { (void)b; }

static void test_reject_values(void **state)
{
    (void)state;
    char msg[256];
    assert_int_equal(reject_one(m_nothing, NULL, msg), SL_OK);
    assert_int_equal(reject_one(m_kind, NULL, msg), SL_EWIRE_VALUE);
    assert_non_null(strstr(msg, "kind"));
    assert_int_equal(reject_one(m_status, NULL, msg), SL_EWIRE_VALUE);
    assert_int_equal(reject_one(m_zero_trace, NULL, msg), SL_EWIRE_VALUE);
    assert_non_null(strstr(msg, "trace id"));
    assert_int_equal(reject_one(m_zero_span, NULL, msg), SL_EWIRE_VALUE);
    assert_int_equal(reject_one(m_empty_name, NULL, msg), SL_EWIRE_VALUE);
    assert_int_equal(reject_one(m_bad_utf8, NULL, msg), SL_EWIRE_UTF8);
    assert_int_equal(reject_one(m_surrogate, NULL, msg), SL_EWIRE_UTF8);
    assert_int_equal(reject_one(m_overlong, NULL, msg), SL_EWIRE_UTF8);
    assert_int_equal(reject_one(m_nan, NULL, msg), SL_EWIRE_VALUE);
    /* the encoder normalises bools, so a bad one only comes by hand */
    assert_int_equal(reject_one(m_bool, NULL, msg), SL_OK);
    assert_int_equal(reject_one(m_empty_key, NULL, msg), SL_EWIRE_VALUE);
    assert_int_equal(reject_one(m_log_level, NULL, msg), SL_EWIRE_VALUE);
    assert_int_equal(reject_one(m_log_flags, NULL, msg), SL_EWIRE_VALUE);
    slc_wire_limits lim;
    slc_wire_limits_default(&lim);
    lim.attrs_per_item = 5;
    assert_int_equal(reject_one(m_many_attrs, &lim, msg), SL_EWIRE_LIMIT);
    assert_non_null(strstr(msg, "limit"));
    slc_wire_limits_default(&lim);
    lim.string_bytes = 2;
    assert_int_equal(reject_one(m_nothing, &lim, msg), SL_EWIRE_LIMIT);
    slc_wire_limits_default(&lim);
    lim.spans = 0;
    assert_int_equal(reject_one(m_nothing, &lim, msg), SL_EWIRE_LIMIT);
    slc_wire_limits_default(&lim);
    lim.strings = 2;
    assert_int_equal(reject_one(m_nothing, &lim, msg), SL_EWIRE_LIMIT);
}

/* Hand-made payloads for the paths an encoder never produces. */
static int decode_payload(const uint8_t *p, size_t plen, char *msg)
{
    uint8_t *f = calloc(1, SLC_WIRE_HEADER_LEN + plen);
    memcpy(f, SLC_WIRE_MAGIC, 4);
    f[4] = SLC_WIRE_VERSION;
    memcpy(f + SLC_WIRE_HEADER_LEN, p, plen);
    refix(f, SLC_WIRE_HEADER_LEN + plen);
    int rc = decode_err(f, SLC_WIRE_HEADER_LEN + plen, NULL, msg);
    free(f);
    return rc;
}

static void test_reject_payload(void **state)
{
    (void)state;
    char msg[256];
    /* minimal valid: 1 string (""), 0 spans, 0 logs */
    const uint8_t ok[] = {1, 0, 0, 0};
    assert_int_equal(decode_payload(ok, sizeof ok, msg), SL_OK);
    const uint8_t empty_table[] = {0, 0, 0};
    assert_int_equal(decode_payload(empty_table, sizeof empty_table, msg), SL_EWIRE_VALUE);
    const uint8_t first_not_empty[] = {1, 1, 'a', 0, 0};
    assert_int_equal(decode_payload(first_not_empty, sizeof first_not_empty, msg), SL_EWIRE_VALUE);
    const uint8_t trailing[] = {1, 0, 0, 0, 9};
    assert_int_equal(decode_payload(trailing, sizeof trailing, msg), SL_EWIRE_TRAILING);
    const uint8_t long_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    assert_int_equal(decode_payload(long_varint, sizeof long_varint, msg), SL_EWIRE_VARINT);
    const uint8_t overflow_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(decode_payload(overflow_varint, sizeof overflow_varint, msg), SL_EWIRE_VARINT);
    /* 1000 spans announced in a tiny payload: refused before allocating */
    const uint8_t many_spans[] = {1, 0, 0xe8, 0x07, 0};
    assert_int_equal(decode_payload(many_spans, sizeof many_spans, msg), SL_EWIRE_TRUNCATED);
    /* a string longer than what is left */
    const uint8_t long_str[] = {2, 0, 50, 'a'};
    assert_int_equal(decode_payload(long_str, sizeof long_str, msg), SL_EWIRE_TRUNCATED);
    /* a span referring to string 5 of a 2-string table */
    uint8_t span[64];
    size_t k = 0;
    span[k++] = 2;
    span[k++] = 0;
    span[k++] = 1;
    span[k++] = 'x';
    span[k++] = 1; /* spans */
    span[k++] = 0; /* logs */
    for (int i = 0; i < 32; i++)
        span[k++] = (uint8_t)(i < 24 ? i + 1 : 0);
    span[k++] = 1; /* kind */
    span[k++] = 0; /* status */
    span[k++] = 5; /* service: bad ref */
    span[k++] = 1;
    span[k++] = 0;
    for (int i = 0; i < 8; i++)
        span[k++] = 0;
    span[k++] = 0; /* duration */
    span[k++] = 0;
    span[k++] = 0;
    span[k++] = 0;
    assert_int_equal(decode_payload(span, k, msg), SL_EWIRE_REF);
    assert_non_null(strstr(msg, "out of range"));
    span[40] = 1; /* fix the service ref: now valid */
    assert_int_equal(decode_payload(span, k, msg), SL_OK);
}

/* The smallest log record (no trace context, no attributes) decodes: the
 * count bound must not over-estimate a record's minimum size. */
static void test_minimal_logs(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    for (int i = 0; i < 3; i++) {
        slc_log l;
        memset(&l, 0, sizeof l);
        l.time_ns = 1;
        l.level = SLC_LVL_INFO;
        assert_int_equal(slc_batch_add_log(b, &l, NULL), SL_OK);
    }
    uint8_t *f;
    size_t n;
    encode(b, 0, &f, &n);
    slc_batch *d = NULL;
    char msg[256];
    assert_int_equal(slc_wire_decode(f, n, NULL, &d, msg, sizeof msg), SL_OK);
    assert_int_equal(d->nlogs, 3);
    slc_batch_free(d);
    free(f);
    slc_batch_free(b);
}

static void test_ack(void **state)
{
    (void)state;
    slc_ack a, b;
    memset(&a, 0, sizeof a);
    a.status = SLC_ACK_REJECTED;
    a.err = SL_EWIRE_UTF8;
    a.batch_id = 42;
    a.spans = 7;
    a.logs = 3;
    snprintf(a.reason, sizeof a.reason, "string 3 is not valid UTF-8");
    uint8_t buf[SLC_ACK_MAX_LEN];
    size_t n = slc_ack_encode(&a, buf);
    assert_int_equal(slc_ack_decode(buf, n, &b), SL_OK);
    assert_int_equal(b.status, a.status);
    assert_int_equal(b.err, a.err);
    assert_true(b.batch_id == 42);
    assert_int_equal(b.spans, 7);
    assert_int_equal(b.logs, 3);
    assert_string_equal(b.reason, a.reason);
    assert_int_equal(slc_ack_decode(buf, n - 1, &b), SL_EWIRE_TRUNCATED);
    assert_int_equal(slc_ack_decode(buf, 10, &b), SL_EWIRE_TRUNCATED);
    buf[0] = 'Z';
    assert_int_equal(slc_ack_decode(buf, n, &b), SL_EWIRE_MAGIC);
    buf[0] = 'S';
    buf[4] = 9;
    assert_int_equal(slc_ack_decode(buf, n, &b), SL_EWIRE_VALUE);
}

static void test_encode_rejects_bad_refs(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    uint8_t *f = NULL;
    size_t n;
    b->spans[1].name = 999;
    assert_int_equal(slc_wire_encode(b, 1, &f, &n), SL_EINVAL);
    assert_null(f);
    b->spans[1].name = 1;
    b->spans[1].end_ns = b->spans[1].start_ns - 1;
    assert_int_equal(slc_wire_encode(b, 1, &f, &n), SL_EINVAL);
    assert_int_equal(slc_wire_encode(b, 11, &f, &n), SL_EINVAL);
    slc_batch_free(b);
}

/* A frame of many realistic spans compresses well: the string table makes
 * repeated names free and zlib takes most of the rest. */
static void test_big_batch_size(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    for (uint32_t i = 0; i < 2000; i++) {
        slc_span s;
        memset(&s, 0, sizeof s);
        fill_id(s.trace_id, 16, (uint8_t)(i / 10));
        fill_id(s.span_id, 8, (uint8_t)i);
        s.span_id[7] = (uint8_t)(i >> 8);
        s.service = S(b, i % 3 ? "checkout" : "payment");
        s.name = S(b, "POST /pay");
        s.start_ns = 1764000000000000000ull + i * 1000ull;
        s.end_ns = s.start_ns + 5000000;
        s.attr_first = b->nattrs;
        slc_attr a = {.key = S(b, "http.response.status_code"), .type = SLC_V_INT};
        a.v.i = 200;
        slc_batch_add_attr(b, &a, NULL);
        s.attr_count = 1;
        slc_batch_add_span(b, &s, NULL);
    }
    uint8_t *f;
    size_t n;
    encode(b, 1, &f, &n);
    assert_true(n < 2000 * 40);
    slc_batch *d;
    assert_int_equal(slc_wire_decode(f, n, NULL, &d, NULL, 0), SL_OK);
    assert_batches_equal(b, d);
    slc_batch_free(d);
    free(f);
    slc_batch_free(b);
}


/* ---- decoded-memory bound (regression: a ~100 KB zlib frame of spans with
 * 1,024 three-byte events each decoded to ~500 MB) ---------------------- */

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A zlib frame around a raw payload, header and CRCs as an encoder writes
 * them.  Caller frees. */
static uint8_t *zframe(const uint8_t *raw, size_t rawlen, uint64_t id, size_t *n)
{
    uLongf zl = compressBound((uLong)rawlen);
    uint8_t *f = malloc(SLC_WIRE_HEADER_LEN + zl);
    assert_non_null(f);
    assert_int_equal(compress2(f + SLC_WIRE_HEADER_LEN, &zl, raw, (uLong)rawlen, 1), Z_OK);
    memset(f, 0, SLC_WIRE_HEADER_LEN);
    memcpy(f, SLC_WIRE_MAGIC, 4);
    f[4] = SLC_WIRE_VERSION;
    f[5] = SLC_WIRE_F_ZLIB;
    for (int i = 0; i < 8; i++)
        f[8 + i] = (uint8_t)(id >> (8 * i));
    put_le32(f + 16, (uint32_t)zl);
    put_le32(f + 20, (uint32_t)rawlen);
    put_le32(f + 24, (uint32_t)crc32(0L, f + SLC_WIRE_HEADER_LEN, (uInt)zl));
    put_le32(f + 28, (uint32_t)crc32(0L, f, 28));
    *n = SLC_WIRE_HEADER_LEN + zl;
    return f;
}

/* nspans spans of nev minimal events each (3 bytes: time 0, name 0, no
 * attributes): the cheapest bytes on the wire for the most decoded memory. */
static uint8_t *event_bomb(uint32_t nspans, uint32_t nev, size_t *rawlen)
{
    size_t cap = 16 + (size_t)nspans * (64 + (size_t)nev * 3), n = 0;
    uint8_t *p = malloc(cap);
    assert_non_null(p);
    p[n++] = 3; /* strings: "", "s", "op" */
    p[n++] = 0;
    p[n++] = 1;
    p[n++] = 's';
    p[n++] = 2;
    p[n++] = 'o';
    p[n++] = 'p';
    /* span count varint, log count 0 */
    for (uint32_t v = nspans; ; v >>= 7) {
        p[n++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            break;
    }
    p[n++] = 0;
    for (uint32_t i = 0; i < nspans; i++) {
        memset(p + n, 0, 32);
        p[n] = 1;                       /* trace id != 0 */
        p[n + 16] = (uint8_t)(i + 1);   /* span id != 0 */
        p[n + 17] = (uint8_t)((i >> 8) + 1);
        n += 32;
        p[n++] = 0; /* kind */
        p[n++] = 0; /* status */
        p[n++] = 1; /* service */
        p[n++] = 2; /* name */
        p[n++] = 0; /* status msg */
        memset(p + n, 0, 8);
        p[n + 7] = 0x18; /* start */
        n += 8;
        p[n++] = 0; /* duration */
        p[n++] = 0; /* attributes */
        for (uint32_t v = nev; ; v >>= 7) {
            p[n++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
            if (v < 0x80)
                break;
        }
        memset(p + n, 0, (size_t)nev * 3);
        n += (size_t)nev * 3;
        p[n++] = 0; /* links */
    }
    *rawlen = n;
    return p;
}

static void test_decoded_bytes_bound(void **state)
{
    (void)state;
    slc_wire_limits lim;
    size_t rawlen, n;
    char msg[256];
    slc_batch *d = NULL;

    slc_wire_limits_default(&lim);
    assert_true(lim.decoded_bytes > 0);
    assert_true(lim.payload_bytes <= (32u << 20));
    /* 10,000 spans x 1,024 events: 30 MB inflated (under the payload limit),
     * a few hundred KB on the wire, 250 MB of slc_event. */
    uint8_t *raw = event_bomb(10000, 1024, &rawlen);
    assert_true(rawlen < lim.payload_bytes);
    uint8_t *f = zframe(raw, rawlen, 42, &n);
    assert_true(n < 1u << 20);
    assert_int_equal(slc_wire_decode(f, n, &lim, &d, msg, sizeof msg), SL_EWIRE_LIMIT);
    assert_null(d);
    assert_non_null(strstr(msg, "decoded_bytes"));
    free(f);
    free(raw);

    /* The same shape, small, decodes; and a bound just below it refuses it. */
    raw = event_bomb(10, 100, &rawlen);
    f = zframe(raw, rawlen, 43, &n);
    assert_int_equal(slc_wire_decode(f, n, &lim, &d, msg, sizeof msg), SL_OK);
    assert_int_equal(d->nevents, 1000);
    slc_batch_free(d);
    d = NULL;
    lim.decoded_bytes = (uint32_t)(rawlen + 1000 * sizeof(slc_event));
    assert_int_equal(slc_wire_decode(f, n, &lim, &d, msg, sizeof msg), SL_EWIRE_LIMIT);
    free(f);
    free(raw);
}

/* ---- ingest tokens ---------------------------------------------------- */

static void test_token_roundtrip(void **state)
{
    (void)state;
    slc_batch *b = sample_batch(), *d = NULL;
    uint8_t *plain, *tf, *st;
    size_t pn, tn, sn, toklen = 99;
    const uint8_t *tok = (const uint8_t *)"x";
    uint64_t id;
    char msg[256];
    static const char T[] = "s3cr3t-token";

    for (int level = 0; level <= 1; level++) {
        encode(b, level, &plain, &pn);
        assert_int_equal(slc_wire_encode_token(b, level, T, strlen(T), &tf, &tn), SL_OK);
        assert_int_equal(tn, pn + strlen(T));
        assert_true(tf[5] & SLC_WIRE_F_TOKEN);
        assert_int_equal(tf[6], strlen(T));
        assert_int_equal(tf[7], 0);
        assert_memory_equal(tf + SLC_WIRE_HEADER_LEN, T, strlen(T));
        /* peek: the token, and the whole length */
        assert_int_equal(slc_wire_peek_token(tf, tn, &tok, &toklen), SL_OK);
        assert_int_equal(toklen, strlen(T));
        assert_ptr_equal(tok, tf + SLC_WIRE_HEADER_LEN);
        assert_int_equal(slc_wire_peek(tf, tn, &id, &sn), SL_OK);
        assert_int_equal(sn, tn);
        assert_int_equal(slc_wire_peek_token(plain, pn, &tok, &toklen), SL_OK);
        assert_null(tok);
        assert_int_equal(toklen, 0);
        /* decode skips it; the batch is the same */
        assert_int_equal(slc_wire_decode(tf, tn, NULL, &d, msg, sizeof msg), SL_OK);
        assert_int_equal(d->nspans, b->nspans);
        assert_int_equal(d->batch_id, b->batch_id);
        slc_batch_free(d);
        d = NULL;
        /* the token is not checksummed */
        tf[SLC_WIRE_HEADER_LEN] ^= 0x20;
        assert_int_equal(slc_wire_decode(tf, tn, NULL, &d, msg, sizeof msg), SL_OK);
        slc_batch_free(d);
        d = NULL;
        /* stripping gives the token-less frame byte for byte */
        assert_int_equal(slc_wire_strip_token(tf, tn, &st, &sn), SL_OK);
        assert_int_equal(sn, pn);
        assert_memory_equal(st, plain, pn);
        free(st);
        assert_int_equal(slc_wire_strip_token(plain, pn, &st, &sn), SL_OK);
        assert_memory_equal(st, plain, pn);
        free(st);
        /* every truncation fails, also inside the token */
        for (size_t cut = 0; cut < tn; cut++)
            assert_int_not_equal(slc_wire_decode(tf, cut, NULL, &d, msg, sizeof msg), SL_OK);
        assert_int_equal(slc_wire_peek_token(tf, SLC_WIRE_HEADER_LEN + 3, &tok, &toklen),
                         SL_EWIRE_TRUNCATED);
        free(tf);
        free(plain);
    }
    /* 255 is the longest token */
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(slc_wire_encode_token(b, 1, big, 255, &tf, &tn), SL_OK);
    assert_int_equal(slc_wire_decode(tf, tn, NULL, &d, msg, sizeof msg), SL_OK);
    slc_batch_free(d);
    d = NULL;
    free(tf);
    assert_int_equal(slc_wire_encode_token(b, 1, big, 256, &tf, &tn), SL_EINVAL);
    assert_int_equal(slc_wire_encode_token(b, 1, big, 0, &tf, &tn), SL_EINVAL);
    /* NULL token = plain frame */
    assert_int_equal(slc_wire_encode_token(b, 0, NULL, 5, &tf, &tn), SL_OK);
    assert_false(tf[5] & SLC_WIRE_F_TOKEN);
    free(tf);
    slc_batch_free(b);
}

static void rehdr(uint8_t *f)
{
    put_le32(f + 28, (uint32_t)crc32(0L, f, 28));
}

static void test_token_header_rules(void **state)
{
    (void)state;
    slc_batch *b = sample_batch();
    uint8_t *f, *g;
    size_t n;
    char msg[256];

    assert_int_equal(slc_wire_encode_token(b, 1, "tok", 3, &f, &n), SL_OK);
    g = malloc(n);
    /* length bytes set without the flag */
    memcpy(g, f, n);
    g[5] &= (uint8_t)~SLC_WIRE_F_TOKEN;
    rehdr(g);
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_FLAGS);
    assert_non_null(strstr(msg, "reserved"));
    /* flag with length 0, and with 256 */
    memcpy(g, f, n);
    g[6] = 0;
    rehdr(g);
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_FLAGS);
    assert_non_null(strstr(msg, "token length"));
    memcpy(g, f, n);
    g[6] = 0;
    g[7] = 1;
    rehdr(g);
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_FLAGS);
    /* a longer token length than bytes present */
    memcpy(g, f, n);
    g[6] = 200;
    rehdr(g);
    assert_int_not_equal(decode_err(g, n, NULL, msg), SL_OK);
    /* unknown flag bit 2 */
    memcpy(g, f, n);
    g[5] |= 0x04;
    rehdr(g);
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_FLAGS);
    /* the header CRC covers the token length */
    memcpy(g, f, n);
    g[6] = 2;
    assert_int_equal(decode_err(g, n, NULL, msg), SL_EWIRE_CHECKSUM);
    free(g);
    free(f);
    slc_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_intern_dedupes),
        cmocka_unit_test(test_copy_span_and_log),
        cmocka_unit_test(test_reset_after_big_string),
        cmocka_unit_test(test_reject_header),
        cmocka_unit_test(test_reject_inflate),
        cmocka_unit_test(test_reject_values),
        cmocka_unit_test(test_reject_payload),
        cmocka_unit_test(test_minimal_logs),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_encode_rejects_bad_refs),
        cmocka_unit_test(test_big_batch_size),
        cmocka_unit_test(test_decoded_bytes_bound),
        cmocka_unit_test(test_token_roundtrip),
        cmocka_unit_test(test_token_header_rules),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
