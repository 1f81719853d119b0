/*
 * test_col_coldblock.c - the sealed-block codec (coldblock.h): crafted and
 * random batches come back with the same values (compared item by item
 * with string contents, doubles bit for bit), gathering one trace equals
 * filtering the full decode, invalid input is refused at encode, limits
 * hold at decode, and every truncation and corruption of a block (also
 * with its CRCs recomputed, so the decoder's own checks are reached) gives
 * an error or a valid batch, never a crash (run it under ASan).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "store/coldblock.h"
#include "cold_fixcrc.h"
#include "sightline.h"

/* ---- building batches ------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint32_t rbelow(rng *r, uint32_t n)
{
    return (uint32_t)(rnext(r) % n);
}

static void rbytes(rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnext(r);
}

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t i = 0;
    assert_int_equal(slc_batch_intern(b, s, strlen(s), &i), 0);
    return i;
}

static uint32_t SN(slc_batch *b, const char *s, size_t n)
{
    uint32_t i = 0;
    assert_int_equal(slc_batch_intern(b, s, n, &i), 0);
    return i;
}

static void add_attr(slc_batch *b, uint32_t key, uint8_t type, uint64_t bits, uint32_t str)
{
    slc_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = type;
    if (type == SLC_V_STR)
        a.v.str = str;
    else if (type == SLC_V_BOOL)
        a.v.b = (uint8_t)(bits & 1);
    else
        memcpy(&a.v.i, &bits, 8);
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
}

static uint64_t dbits(double d)
{
    uint64_t x;
    memcpy(&x, &d, 8);
    return x;
}

/* ---- comparing batches ------------------------------------------------------ */

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
} obuf;

static void ob_put(obuf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->p = realloc(o->p, o->cap);
        assert_non_null(o->p);
    }
    if (n)
        memcpy(o->p + o->len, p, n);
    o->len += n;
}

static void ob_str(obuf *o, const slc_batch *b, uint32_t i)
{
    assert_true(i < b->nstrs);
    ob_put(o, &b->strs[i].len, 4);
    ob_put(o, b->strs[i].ptr, b->strs[i].len);
}

static void ob_attrs(obuf *o, const slc_batch *b, uint32_t first, uint32_t n)
{
    assert_true((uint64_t)first + n <= b->nattrs);
    ob_put(o, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        const slc_attr *a = &b->attrs[first + i];
        ob_str(o, b, a->key);
        ob_put(o, &a->type, 1);
        if (a->type == SLC_V_STR) {
            ob_str(o, b, a->v.str);
        } else if (a->type == SLC_V_BOOL) {
            uint8_t v = a->v.b != 0;
            ob_put(o, &v, 1);
        } else {
            ob_put(o, &a->v.i, 8); /* doubles bit for bit */
        }
    }
}

/* One item as bytes, strings by content: spans and logs compare equal
 * exactly when these are equal. */
typedef struct item {
    uint8_t *p;
    size_t len;
} item;

static item span_bytes(const slc_batch *b, uint32_t i)
{
    obuf o = {0};
    const slc_span *s = &b->spans[i];
    uint8_t tag = 'S';
    ob_put(&o, &tag, 1);
    ob_put(&o, s->trace_id, 16);
    ob_put(&o, s->span_id, 8);
    ob_put(&o, s->parent_id, 8);
    ob_put(&o, &s->kind, 1);
    ob_put(&o, &s->status, 1);
    ob_str(&o, b, s->service);
    ob_str(&o, b, s->name);
    ob_str(&o, b, s->status_msg);
    ob_put(&o, &s->start_ns, 8);
    ob_put(&o, &s->end_ns, 8);
    ob_attrs(&o, b, s->attr_first, s->attr_count);
    ob_put(&o, &s->event_count, 4);
    for (uint32_t k = 0; k < s->event_count; k++) {
        const slc_event *e = &b->events[s->event_first + k];
        ob_put(&o, &e->time_ns, 8);
        ob_str(&o, b, e->name);
        ob_attrs(&o, b, e->attr_first, e->attr_count);
    }
    ob_put(&o, &s->link_count, 4);
    for (uint32_t k = 0; k < s->link_count; k++) {
        const slc_link *l = &b->links[s->link_first + k];
        ob_put(&o, l->trace_id, 16);
        ob_put(&o, l->span_id, 8);
        ob_attrs(&o, b, l->attr_first, l->attr_count);
    }
    return (item){o.p, o.len};
}

static item log_bytes(const slc_batch *b, uint32_t i)
{
    obuf o = {0};
    const slc_log *l = &b->logs[i];
    uint8_t tag = 'L';
    ob_put(&o, &tag, 1);
    ob_put(&o, &l->time_ns, 8);
    ob_put(&o, &l->level, 1);
    ob_put(&o, &l->flags, 1);
    if (l->flags & SLC_LOG_F_TRACE) {
        ob_put(&o, l->trace_id, 16);
        ob_put(&o, l->span_id, 8);
    }
    ob_str(&o, b, l->service);
    ob_str(&o, b, l->body);
    ob_attrs(&o, b, l->attr_first, l->attr_count);
    return (item){o.p, o.len};
}

static int item_cmp(const void *x, const void *y)
{
    const item *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* The items of b (only those of trace tid when not NULL), sorted. */
static item *items_of(const slc_batch *b, const uint8_t *tid, size_t *n)
{
    item *v = calloc((size_t)b->nspans + b->nlogs + 1, sizeof *v);
    assert_non_null(v);
    *n = 0;
    for (uint32_t i = 0; i < b->nspans; i++)
        if (!tid || memcmp(b->spans[i].trace_id, tid, 16) == 0)
            v[(*n)++] = span_bytes(b, i);
    for (uint32_t i = 0; i < b->nlogs; i++)
        if (!tid || ((b->logs[i].flags & SLC_LOG_F_TRACE) &&
                     memcmp(b->logs[i].trace_id, tid, 16) == 0))
            v[(*n)++] = log_bytes(b, i);
    qsort(v, *n, sizeof *v, item_cmp);
    return v;
}

static void items_free(item *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].p);
    free(v);
}

/* a and b hold the same spans and logs (of trace tid when not NULL). */
static void assert_same_items(const slc_batch *a, const slc_batch *b, const uint8_t *tid)
{
    size_t na, nb;
    item *x = items_of(a, tid, &na), *y = items_of(b, tid, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        if (item_cmp(&x[i], &y[i]) != 0)
            fail_msg("item %zu of %zu differs", i, na);
    }
    items_free(x, na);
    items_free(y, nb);
}

/* Every string of a decoded batch is there once; string 0 is "". */
static void assert_unique_strings(const slc_batch *b)
{
    item *v = calloc(b->nstrs + 1, sizeof *v);
    assert_non_null(v);
    assert_true(b->nstrs >= 1);
    assert_int_equal(b->strs[0].len, 0);
    for (uint32_t i = 0; i < b->nstrs; i++)
        v[i] = (item){(uint8_t *)b->strs[i].ptr, b->strs[i].len};
    qsort(v, b->nstrs, sizeof *v, item_cmp);
    for (uint32_t i = 1; i < b->nstrs; i++)
        assert_true(item_cmp(&v[i - 1], &v[i]) != 0);
    free(v);
}

/* The block order: spans by trace id then start, a trace's logs with it,
 * trace-less logs by time. */
static void assert_block_order(const slc_batch *b)
{
    for (uint32_t i = 1; i < b->nspans; i++) {
        int c = memcmp(b->spans[i - 1].trace_id, b->spans[i].trace_id, 16);
        assert_true(c < 0 || (c == 0 && b->spans[i - 1].start_ns <= b->spans[i].start_ns));
    }
    uint64_t prev = 0;
    for (uint32_t i = 0; i < b->nlogs; i++)
        if (!(b->logs[i].flags & SLC_LOG_F_TRACE)) {
            assert_true(b->logs[i].time_ns >= prev);
            prev = b->logs[i].time_ns;
        }
}

/* Encodes b with pages of page_bytes, decodes, compares; checks gather of
 * every trace (and of an absent one).  Returns the block (caller frees). */
static uint8_t *roundtrip(const slc_batch *b, int level, uint32_t page_bytes, size_t *len)
{
    col_cold_opts o = {level, page_bytes};
    uint8_t *blk = NULL;
    slc_batch *d = NULL;
    char msg[256];

    assert_int_equal(col_cold_encode_ex(b, &o, &blk, len), 0);
    assert_true(col_cold_is(blk, *len));
    int rc = col_cold_decode(blk, *len, NULL, &d, msg, sizeof msg);
    if (rc)
        fail_msg("decode: %d %s", rc, msg);
    assert_int_equal(d->batch_id, b->batch_id);
    assert_int_equal(d->nspans, b->nspans);
    assert_int_equal(d->nlogs, b->nlogs);
    assert_same_items(b, d, NULL);
    assert_unique_strings(d);
    assert_block_order(d);

    col_cold_info info;
    assert_int_equal(col_cold_peek(blk, *len, &info), 0);
    assert_int_equal(info.spans, b->nspans);
    assert_int_equal(info.logs, b->nlogs);

    /* Gather each trace into a fresh batch and into one that has items. */
    slc_batch *pre = slc_batch_new();
    assert_non_null(pre);
    if (d->nspans)
        assert_int_equal(slc_batch_copy_span(pre, d, 0), 0);
    for (uint32_t i = 0; i < d->nspans + d->nlogs; i++) {
        const uint8_t *tid;
        if (i < d->nspans) {
            tid = d->spans[i].trace_id;
            if (i && memcmp(tid, d->spans[i - 1].trace_id, 16) == 0)
                continue;
        } else {
            const slc_log *l = &d->logs[i - d->nspans];
            if (!(l->flags & SLC_LOG_F_TRACE))
                continue;
            tid = l->trace_id;
        }
        slc_batch *g = slc_batch_new();
        assert_non_null(g);
        rc = col_cold_gather_trace(blk, *len, NULL, tid, g, msg, sizeof msg);
        if (rc)
            fail_msg("gather: %d %s", rc, msg);
        assert_same_items(d, g, tid);
        slc_batch_free(g);
        uint32_t before = pre->nspans;
        assert_int_equal(col_cold_gather_trace(blk, *len, NULL, tid, pre, msg, sizeof msg), 0);
        assert_true(pre->nspans >= before);
    }
    slc_batch_free(pre);
    uint8_t none[16];
    memset(none, 0xee, sizeof none);
    slc_batch *g = slc_batch_new();
    assert_int_equal(col_cold_gather_trace(blk, *len, NULL, none, g, msg, sizeof msg), 0);
    assert_int_equal(g->nspans + g->nlogs, 0);
    slc_batch_free(g);

    /* The generic decoder picks the sealed-block codec by its magic. */
    slc_batch *d2 = NULL;
    assert_int_equal(col_block_decode(blk, *len, NULL, &d2, msg, sizeof msg), 0);
    assert_int_equal(d2->nspans, b->nspans);
    slc_batch_free(d2);
    slc_batch_free(d);
    return blk;
}

/* ---- crafted edge cases ------------------------------------------------------ */

static const uint8_t T1[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t T2[16] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t T3[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void span_init(slc_span *s, const uint8_t *tid, uint64_t id, uint64_t parent,
                      uint64_t start, uint64_t dur)
{
    memset(s, 0, sizeof *s);
    memcpy(s->trace_id, tid, 16);
    memcpy(s->span_id, &id, 8);
    memcpy(s->parent_id, &parent, 8);
    s->start_ns = start;
    s->end_ns = start + dur;
}

/* A batch with every corner the format has to carry. */
static slc_batch *crafted(void)
{
    slc_batch *b = slc_batch_new();
    slc_span s;
    slc_log l;
    slc_event e;
    slc_link k;
    assert_non_null(b);
    b->batch_id = 0x1234567890abcdefull;
    uint32_t svc = S(b, "frontend"), op = S(b, "GET /"), key = S(b, "k");
    static const char nul[] = {'a', 0, 'b', '7'};
    uint32_t weird[] = {
        SN(b, nul, 4),        S(b, "x007"),         S(b, "0"),
        S(b, "00"),           S(b, "12345"),        S(b, "id=1234567890123456789012"),
        S(b, "caf\xc3\xa9-42"), S(b, "\xf0\x9f\x98\x80"), S(b, "cust-999999999999999999"),
        S(b, "trailing "),    S(b, "9")};
    uint32_t nweird = sizeof weird / sizeof weird[0];

    /* Trace T1: root, children (one before its parent started), a span that
     * is its own parent, an orphan, two spans with one id, events before
     * and after the start, links, every attribute type. */
    span_init(&s, T1, 10, 0, 1000000, 500);
    s.kind = SLC_KIND_SERVER;
    s.service = svc;
    s.name = op;
    s.attr_first = b->nattrs;
    add_attr(b, key, SLC_V_STR, 0, 0); /* empty string value */
    for (uint32_t i = 0; i < nweird; i++)
        add_attr(b, S(b, "w"), SLC_V_STR, 0, weird[i]);
    add_attr(b, S(b, "i"), SLC_V_INT, (uint64_t)INT64_MIN, 0);
    add_attr(b, S(b, "i"), SLC_V_INT, (uint64_t)INT64_MAX, 0);
    add_attr(b, S(b, "i"), SLC_V_INT, (uint64_t)-1, 0);
    add_attr(b, S(b, "i"), SLC_V_INT, 0, 0);
    double ds[] = {-0.0, 0.0, 12.34, -12.34, 1e300, -1e-300, 5e-324, 0.1, 123456.789, 1e17,
                   3.141592653589793, -7.0, 999999999999.999999};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        add_attr(b, S(b, "d"), SLC_V_DBL, dbits(ds[i]), 0);
    add_attr(b, S(b, "b"), SLC_V_BOOL, 1, 0);
    add_attr(b, S(b, "b"), SLC_V_BOOL, 0, 0);
    s.attr_count = b->nattrs - s.attr_first;
    s.event_first = b->nevents;
    memset(&e, 0, sizeof e);
    e.time_ns = 10; /* long before the start */
    e.name = S(b, "exception");
    e.attr_first = b->nattrs;
    add_attr(b, S(b, "exception.type"), SLC_V_STR, 0, S(b, "IOError"));
    e.attr_count = 1;
    assert_int_equal(slc_batch_add_event(b, &e, NULL), 0);
    e.time_ns = UINT64_MAX; /* far after */
    e.name = 0;
    e.attr_count = 0;
    assert_int_equal(slc_batch_add_event(b, &e, NULL), 0);
    s.event_count = 2;
    s.link_first = b->nlinks;
    memset(&k, 0, sizeof k);
    memcpy(k.trace_id, T2, 16);
    memset(k.span_id, 0x42, 8);
    k.attr_first = b->nattrs;
    add_attr(b, S(b, "link.kind"), SLC_V_STR, 0, S(b, "follows"));
    k.attr_count = 1;
    assert_int_equal(slc_batch_add_link(b, &k, NULL), 0);
    s.link_count = 1;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);

    span_init(&s, T1, 11, 10, 999000, 5000); /* starts before its parent */
    s.service = S(b, "cart");
    s.name = S(b, "AddItem");
    s.status = SLC_STATUS_ERROR;
    s.status_msg = S(b, "upstream returned 503");
    s.kind = SLC_KIND_CONSUMER;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    span_init(&s, T1, 12, 12, 1000100, 0); /* its own parent, zero duration */
    s.service = svc;
    s.name = op;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    span_init(&s, T1, 13, 0x7777777777ull, 1000100, 7); /* orphan */
    s.service = svc;
    s.name = op;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    span_init(&s, T1, 13, 11, 1000100, 9); /* duplicate id, same start */
    s.service = svc;
    s.name = S(b, "dup");
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    span_init(&s, T1, 14, 13, 1000200, 1); /* child of the duplicated id */
    s.service = svc;
    s.name = op;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);

    /* Trace T2: times at both ends of the clock, and 40 spans (the big-trace
     * parent lookup). */
    span_init(&s, T2, 1, 0, 0, 0);
    s.service = svc;
    s.name = op;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    span_init(&s, T2, 2, 1, UINT64_MAX - 10, 10);
    s.service = svc;
    s.name = op;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    for (uint64_t i = 3; i < 43; i++) {
        span_init(&s, T2, i * 977, (i - 1) * 977, 5000 + i * 3, i);
        s.service = svc;
        s.name = op;
        assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    }

    /* Logs: of a span, with a zero span id, with an unknown span id, of a
     * trace without spans (T3), and without trace. */
    memset(&l, 0, sizeof l);
    l.level = SLC_LVL_INFO;
    l.flags = SLC_LOG_F_TRACE;
    memcpy(l.trace_id, T1, 16);
    uint64_t sid = 11;
    memcpy(l.span_id, &sid, 8);
    l.time_ns = 999500;
    l.service = svc;
    l.body = S(b, "request handled id=314");
    l.attr_first = b->nattrs;
    add_attr(b, S(b, "thread.name"), SLC_V_STR, 0, S(b, "worker-1"));
    add_attr(b, S(b, "order.items"), SLC_V_INT, 3, 0);
    l.attr_count = 2;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    memset(l.span_id, 0, 8);
    l.time_ns = 1;
    l.level = 24;
    l.attr_count = 0;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    memset(l.span_id, 0x5a, 8);
    l.time_ns = UINT64_MAX;
    l.level = 1;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    memcpy(l.trace_id, T3, 16);
    l.time_ns = 77;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    l.time_ns = 66;
    l.body = 0;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    memset(&l, 0, sizeof l);
    l.level = SLC_LVL_WARN;
    for (uint64_t t = 0; t < 5; t++) {
        l.time_ns = 1000000000000ull - t * 7; /* out of order */
        l.service = t == 4 ? 0 : svc;
        l.body = S(b, t & 1 ? "cache miss for key" : "");
        assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    }
    return b;
}

static void test_crafted(void **state)
{
    (void)state;
    slc_batch *b = crafted();
    static const uint32_t pages[] = {0, 1, 200, 4096};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        for (int level = 1; level <= 19; level += 9) {
            size_t len;
            free(roundtrip(b, level, pages[i], &len));
        }
    }
    slc_batch_free(b);
}

static void test_empty(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new(), *d = NULL;
    uint8_t *blk;
    size_t len;
    assert_int_equal(col_cold_encode(b, 0, &blk, &len), 0);
    assert_int_equal(col_cold_decode(blk, len, NULL, &d, NULL, 0), 0);
    assert_int_equal(d->nspans + d->nlogs, 0);
    assert_int_equal(col_cold_gather_trace(blk, len, NULL, T1, d, NULL, 0), 0);
    assert_int_equal(d->nspans, 0);
    slc_batch_free(d);
    free(blk);
    /* Only trace-less logs. */
    slc_log l;
    memset(&l, 0, sizeof l);
    l.level = 9;
    for (int i = 0; i < 600; i++) {
        l.time_ns = (uint64_t)(i * 37 % 600);
        assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    }
    free(roundtrip(b, 3, 300, &len));
    slc_batch_free(b);
}

/* ---- random batches ------------------------------------------------------------ */

static uint32_t rstr(rng *r, slc_batch *b)
{
    static const char *pool[] = {"GET", "POST", "/api/v1/orders", "eu-west-1", "ok", "",
                                 "worker-1", "worker-2", "Mozilla/5.0 (X11; Linux x86_64)",
                                 "\xe2\x82\xac", "x"};
    char buf[64];
    switch (rbelow(r, 6)) {
    case 0:
    case 1: return S(b, pool[rbelow(r, sizeof pool / sizeof pool[0])]);
    case 2: snprintf(buf, sizeof buf, "cust-%u", rbelow(r, 5000)); return S(b, buf);
    case 3:
        snprintf(buf, sizeof buf, "id=%llu%s", (unsigned long long)rnext(r),
                 rbelow(r, 2) ? "" : "0");
        return S(b, buf);
    case 4: snprintf(buf, sizeof buf, "v%03u", rbelow(r, 50)); return S(b, buf);
    default: {
        uint32_t n = rbelow(r, 12);
        for (uint32_t i = 0; i < n; i++)
            buf[i] = (char)(' ' + rbelow(r, 95));
        return SN(b, buf, n);
    }
    }
}

static void rattrs(rng *r, slc_batch *b, uint32_t *first, uint32_t *count, uint32_t max)
{
    static const char *keys[] = {"http.method", "http.route", "status", "amount", "flag",
                                 "customer.id", "retries", "ratio"};
    uint32_t n = rbelow(r, max + 1);
    *first = b->nattrs;
    *count = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = rbelow(r, 8), key = S(b, keys[k]);
        uint8_t type = (uint8_t)(rbelow(r, 10) == 0 ? 1 + rbelow(r, 4) : 1 + k % 4);
        uint64_t v = rnext(r);
        if (type == SLC_V_DBL) {
            double d;
            switch (rbelow(r, 4)) {
            case 0: d = (double)rbelow(r, 100000) / 100.0; break;
            case 1: d = -(double)rbelow(r, 1000) / 10.0; break;
            case 2: d = rbelow(r, 2) ? -0.0 : 1e-310; break;
            default:
                memcpy(&d, &v, 8);
                if (!isfinite(d))
                    d = 2.5;
            }
            v = dbits(d);
        } else if (type == SLC_V_INT && rbelow(r, 2)) {
            v = rbelow(r, 3) ? 200 + rbelow(r, 3) * 100 : (uint64_t)-(int64_t)rbelow(r, 9);
        }
        add_attr(b, key, type, v, type == SLC_V_STR ? rstr(r, b) : 0);
    }
}

/* A gen-like batch with the odd cases mixed in. */
static slc_batch *random_batch(uint64_t seed, uint32_t ntraces)
{
    rng r = {seed * 0x9e3779b97f4a7c15ull + 1};
    slc_batch *b = slc_batch_new();
    assert_non_null(b);
    b->batch_id = seed;
    uint64_t t0 = rbelow(&r, 8) == 0 ? rnext(&r) >> 1 : 1700000000000000000ull;
    for (uint32_t t = 0; t < ntraces; t++) {
        uint8_t tid[16];
        uint64_t ids[64], st[64];
        rbytes(&r, tid, 16);
        if (rbelow(&r, 50) == 0)
            memset(tid, 0, 15); /* small ids sort first */
        tid[15] |= 1;
        uint32_t n = rbelow(&r, 10) == 0 ? rbelow(&r, 64) : 1 + rbelow(&r, 20);
        uint64_t base = t0 + rbelow(&r, 1u << 30);
        for (uint32_t i = 0; i < n; i++) {
            slc_span s;
            uint64_t parent = 0;
            ids[i] = rnext(&r) | 1;
            if (i && rbelow(&r, 30) == 0)
                ids[i] = ids[rbelow(&r, i)]; /* duplicate id */
            if (i) {
                uint32_t p = rbelow(&r, i);
                parent = rbelow(&r, 15) == 0 ? rnext(&r) | 1 : ids[p]; /* orphans */
                st[i] = st[p] + rbelow(&r, 1u << 24) - (rbelow(&r, 20) == 0 ? 5000 : 0);
            } else {
                st[i] = base;
            }
            span_init(&s, tid, ids[i], parent, st[i], rbelow(&r, 4) ? rbelow(&r, 1u << 27) : 0);
            s.kind = (uint8_t)rbelow(&r, 6);
            s.status = (uint8_t)rbelow(&r, 3);
            s.service = rstr(&r, b);
            s.name = S(b, rbelow(&r, 2) ? "GetCart" : "Charge");
            s.status_msg = rbelow(&r, 5) == 0 ? rstr(&r, b) : 0;
            rattrs(&r, b, &s.attr_first, &s.attr_count, 12);
            s.event_first = b->nevents;
            s.event_count = rbelow(&r, 6) == 0 ? 1 + rbelow(&r, 3) : 0;
            for (uint32_t k = 0; k < s.event_count; k++) {
                slc_event e;
                memset(&e, 0, sizeof e);
                e.time_ns = st[i] + rbelow(&r, 1u << 20) - 1000;
                e.name = rstr(&r, b);
                rattrs(&r, b, &e.attr_first, &e.attr_count, 3);
                assert_int_equal(slc_batch_add_event(b, &e, NULL), 0);
            }
            s.link_first = b->nlinks;
            s.link_count = rbelow(&r, 10) == 0 ? 1 + rbelow(&r, 2) : 0;
            for (uint32_t k = 0; k < s.link_count; k++) {
                slc_link lk;
                memset(&lk, 0, sizeof lk);
                rbytes(&r, lk.trace_id, 16);
                rbytes(&r, lk.span_id, 8);
                lk.trace_id[0] |= 1;
                lk.span_id[0] |= 1;
                rattrs(&r, b, &lk.attr_first, &lk.attr_count, 2);
                assert_int_equal(slc_batch_add_link(b, &lk, NULL), 0);
            }
            assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
        }
        uint32_t m = rbelow(&r, 4) == 0 ? 1 + rbelow(&r, 3) : 0;
        for (uint32_t k = 0; k < m; k++) {
            slc_log l;
            memset(&l, 0, sizeof l);
            l.level = (uint8_t)(1 + rbelow(&r, 24));
            l.flags = rbelow(&r, 8) ? SLC_LOG_F_TRACE : 0;
            memcpy(l.trace_id, tid, 16);
            if (n && rbelow(&r, 4))
                memcpy(l.span_id, &ids[rbelow(&r, n)], 8);
            else if (rbelow(&r, 2))
                rbytes(&r, l.span_id, 8);
            l.time_ns = n ? st[0] + rbelow(&r, 1u << 20) : base;
            l.service = rstr(&r, b);
            l.body = rstr(&r, b);
            rattrs(&r, b, &l.attr_first, &l.attr_count, 3);
            assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
        }
    }
    return b;
}

static void test_random(void **state)
{
    (void)state;
    static const uint32_t pages[] = {0, 1, 700, 5000};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        slc_batch *b = random_batch(seed, seed % 4 == 0 ? 400 : 60);
        size_t len;
        free(roundtrip(b, seed % 3 ? 3 : 9, pages[seed % 4], &len));
        slc_batch_free(b);
    }
}

/* ---- invalid input ----------------------------------------------------------- */

static void expect_einval(slc_batch *b)
{
    uint8_t *blk = NULL;
    size_t len = 0;
    assert_int_equal(col_cold_encode(b, 3, &blk, &len), SL_EINVAL);
    assert_null(blk);
}

static void test_invalid_input(void **state)
{
    (void)state;
    slc_batch *b = crafted();
    uint8_t *blk;
    size_t len;
    slc_span keep = b->spans[1];
    slc_log keepl = b->logs[0];
    slc_attr keepa = b->attrs[b->spans[0].attr_first + 1];

    assert_int_equal(col_cold_encode(b, 99, &blk, &len), SL_EINVAL);
    assert_int_equal(col_cold_encode(b, -1, &blk, &len), SL_EINVAL);
    assert_int_equal(col_cold_encode(NULL, 3, &blk, &len), SL_EINVAL);
#define BAD_SPAN(stmt)                                                                         \
    do {                                                                                       \
        stmt;                                                                                  \
        expect_einval(b);                                                                      \
        b->spans[1] = keep;                                                                    \
    } while (0)
    BAD_SPAN(b->spans[1].kind = 6);
    BAD_SPAN(b->spans[1].status = 3);
    BAD_SPAN(memset(b->spans[1].trace_id, 0, 16));
    BAD_SPAN(memset(b->spans[1].span_id, 0, 8));
    BAD_SPAN(b->spans[1].service = b->nstrs);
    BAD_SPAN(b->spans[1].end_ns = b->spans[1].start_ns - 1);
    BAD_SPAN((b->spans[1].attr_first = b->nattrs, b->spans[1].attr_count = 1));
    BAD_SPAN((b->spans[1].event_first = b->nevents, b->spans[1].event_count = 1));
    BAD_SPAN((b->spans[1].link_first = b->nlinks, b->spans[1].link_count = 1));
#define BAD_LOG(stmt)                                                                          \
    do {                                                                                       \
        stmt;                                                                                  \
        expect_einval(b);                                                                      \
        b->logs[0] = keepl;                                                                    \
    } while (0)
    BAD_LOG(b->logs[0].level = 0);
    BAD_LOG(b->logs[0].level = 25);
    BAD_LOG(b->logs[0].flags = 3);
    BAD_LOG(memset(b->logs[0].trace_id, 0, 16));
    BAD_LOG(b->logs[0].body = b->nstrs + 5);
    slc_attr *a = &b->attrs[b->spans[0].attr_first + 1];
#define BAD_ATTR(stmt)                                                                         \
    do {                                                                                       \
        stmt;                                                                                  \
        expect_einval(b);                                                                      \
        *a = keepa;                                                                            \
    } while (0)
    BAD_ATTR(a->type = 5);
    BAD_ATTR(a->type = 0);
    BAD_ATTR(a->v.str = b->nstrs);
    BAD_ATTR((a->type = SLC_V_DBL, a->v.d = NAN));
    BAD_ATTR((a->type = SLC_V_DBL, a->v.d = INFINITY));
    /* A link with a zero id, invalid UTF-8, a non-empty string 0. */
    slc_link keepk = b->links[0];
    memset(b->links[0].span_id, 0, 8);
    expect_einval(b);
    b->links[0] = keepk;
    uint32_t bad = SN(b, "\xc3\x28", 2);
    b->spans[1].service = bad;
    expect_einval(b);
    b->spans[1] = keep;
    slc_str s0 = b->strs[0];
    b->strs[0] = b->strs[1];
    expect_einval(b);
    b->strs[0] = s0;
    /* An empty name or key (a frame can carry "" at a second index, and
     * merging frames interns it to 0) is stored as it is. */
    b->spans[1].name = 0;
    a->key = 0;
    size_t rl;
    free(roundtrip(b, 3, 0, &rl));
    b->spans[1] = keep;
    *a = keepa;
    /* Still fine after all that. */
    assert_int_equal(col_cold_encode(b, 3, &blk, &len), 0);
    free(blk);
    slc_batch_free(b);
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    slc_batch *b = crafted(), *d = NULL;
    uint8_t *blk;
    size_t len;
    char msg[256];
    slc_wire_limits lim;
    assert_int_equal(col_cold_encode(b, 3, &blk, &len), 0);

#define LIMIT(field, value)                                                                    \
    do {                                                                                       \
        slc_wire_limits_default(&lim);                                                         \
        lim.field = value;                                                                     \
        assert_int_equal(col_cold_decode(blk, len, &lim, &d, msg, sizeof msg), SL_EWIRE_LIMIT); \
        assert_true(msg[0] != 0);                                                              \
    } while (0)
    LIMIT(spans, b->nspans - 1);
    LIMIT(logs, b->nlogs - 1);
    LIMIT(attrs_per_item, 3);
    LIMIT(events_per_span, 1);
    LIMIT(links_per_span, 0);
    LIMIT(strings, 5);
    LIMIT(string_bytes, 5);
    LIMIT(decoded_bytes, 4096);
    LIMIT(frame_bytes, (uint32_t)len - 1);
    LIMIT(payload_bytes, 100);
    /* The same limits at their values pass. */
    slc_wire_limits_default(&lim);
    lim.spans = b->nspans;
    lim.logs = b->nlogs;
    assert_int_equal(col_cold_decode(blk, len, &lim, &d, msg, sizeof msg), 0);
    slc_batch_free(d);
    /* Gather honours them too. */
    slc_wire_limits_default(&lim);
    lim.attrs_per_item = 3;
    slc_batch *g = slc_batch_new();
    assert_int_equal(col_cold_gather_trace(blk, len, &lim, T1, g, msg, sizeof msg),
                     SL_EWIRE_LIMIT);
    assert_int_equal(g->nspans + g->nattrs, 0);
    slc_batch_free(g);
    free(blk);
    slc_batch_free(b);
}

/* ---- truncation and corruption ------------------------------------------------ */

/* Decoding and gathering a damaged block: no crash, and a success yields a
 * batch that re-encodes. */
static int try_damaged(const uint8_t *buf, size_t len)
{
    slc_batch *d = NULL;
    char msg[256];
    int rc = col_cold_decode(buf, len, NULL, &d, msg, sizeof msg);
    if (rc == 0) {
        uint8_t *again;
        size_t alen;
        assert_int_equal(col_cold_encode(d, 1, &again, &alen), 0);
        free(again);
        slc_batch_free(d);
    } else {
        assert_null(d);
    }
    slc_batch *g = slc_batch_new();
    assert_non_null(g);
    (void)col_cold_gather_trace(buf, len, NULL, T1, g, msg, sizeof msg);
    (void)col_cold_gather_trace(buf, len, NULL, T2, g, msg, sizeof msg);
    slc_batch_free(g);
    return rc;
}

static void test_truncation(void **state)
{
    (void)state;
    slc_batch *b = crafted();
    uint8_t *blk;
    size_t len;
    assert_int_equal(col_cold_encode_ex(b, &(col_cold_opts){3, 300}, &blk, &len), 0);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n + 1);
        memcpy(cut, blk, n);
        assert_int_not_equal(try_damaged(cut, n), 0);
        /* Also with the lengths and CRCs made consistent again. */
        cold_fix_crcs(cut, n);
        assert_int_not_equal(try_damaged(cut, n), 0);
        free(cut);
    }
    free(blk);
    slc_batch_free(b);
}

static void test_corruption(void **state)
{
    (void)state;
    rng r = {77};
    slc_batch *b = crafted();
    slc_batch *rb = random_batch(5, 12);
    const slc_batch *src[2] = {b, rb};
    for (int k = 0; k < 2; k++) {
        uint8_t *blk;
        size_t len;
        assert_int_equal(col_cold_encode_ex(src[k], &(col_cold_opts){3, 400}, &blk, &len), 0);
        uint8_t *c = malloc(len);
        /* Every byte of the small block, ~1500 of the bigger one. */
        size_t step = len / 1500 + 1;
        for (size_t pos = 0; pos < len; pos += k ? 1 + rbelow(&r, (uint32_t)(2 * step)) : 1) {
            uint8_t x = (uint8_t)(1 + rbelow(&r, 255));
            memcpy(c, blk, len);
            c[pos] ^= x;
            /* The CRCs catch every single-byte change... */
            assert_int_not_equal(try_damaged(c, len), 0);
            /* ...and past them, the decoder's own checks must hold. */
            if (pos >= 28) {
                cold_fix_crcs(c, len);
                (void)try_damaged(c, len);
            }
        }
        /* Random multi-byte damage with fixed CRCs. */
        for (int i = 0; i < 500; i++) {
            memcpy(c, blk, len);
            for (int j = 0, n = 1 + (int)rbelow(&r, 4); j < n; j++)
                c[32 + rbelow(&r, (uint32_t)len - 32)] = (uint8_t)rnext(&r);
            cold_fix_crcs(c, len);
            (void)try_damaged(c, len);
        }
        free(c);
        free(blk);
    }
    slc_batch_free(b);
    slc_batch_free(rb);
}

/* A failed gather leaves the destination as it was. */
static void test_gather_error_keeps_dst(void **state)
{
    (void)state;
    slc_batch *b = crafted(), *dst = slc_batch_new();
    uint8_t *blk;
    size_t len;
    slc_wire_limits lim;
    assert_int_equal(col_cold_encode(b, 3, &blk, &len), 0);
    assert_int_equal(col_cold_gather_trace(blk, len, NULL, T2, dst, NULL, 0), 0);
    uint32_t ns = dst->nspans, na = dst->nattrs;
    assert_true(ns > 0);
    slc_wire_limits_default(&lim);
    lim.events_per_span = 0; /* T1's root has two events */
    assert_int_equal(col_cold_gather_trace(blk, len, &lim, T1, dst, NULL, 0), SL_EWIRE_LIMIT);
    assert_int_equal(dst->nspans, ns);
    assert_int_equal(dst->nattrs, na);
    uint32_t ntr, npg; /* damage the first page, which holds T1 */
    memcpy(&ntr, blk + COL_COLD_HEADER_LEN + 4, 4);
    memcpy(&npg, blk + COL_COLD_HEADER_LEN + 8, 4);
    blk[COL_COLD_HEADER_LEN + 20 + npg * 24 + ntr * 16 + 4 + 3] ^= 1;
    assert_int_equal(col_cold_gather_trace(blk, len, NULL, T1, dst, NULL, 0), SL_EWIRE_CHECKSUM);
    assert_int_equal(dst->nspans, ns);
    free(blk);
    slc_batch_free(dst);
    slc_batch_free(b);
}

/* ---- headers, dispatch ------------------------------------------------------- */

static void test_header_and_dispatch(void **state)
{
    (void)state;
    slc_batch *a = random_batch(21, 10), *b = random_batch(22, 10), *d = NULL;
    uint8_t *ba, *bb, *wire;
    size_t la, lb, lw;
    char msg[128];
    b->batch_id = a->batch_id;
    assert_int_equal(col_cold_encode(a, 3, &ba, &la), 0);
    assert_int_equal(col_cold_encode(b, 3, &bb, &lb), 0);
    assert_memory_not_equal(ba, bb, COL_COLD_HEADER_LEN);
    assert_memory_equal(ba, COL_COLD_MAGIC, 4);
    assert_true(col_cold_is(ba, la));
    assert_false(col_cold_is(ba, 3));
    assert_false(col_cold_is(NULL, 10));
    /* A wire frame goes to slc_wire_decode. */
    assert_int_equal(slc_wire_encode(a, 1, &wire, &lw), 0);
    assert_false(col_cold_is(wire, lw));
    assert_int_equal(col_block_decode(wire, lw, NULL, &d, msg, sizeof msg), 0);
    assert_same_items(a, d, NULL);
    slc_batch_free(d);
    assert_int_equal(col_block_decode(ba, la, NULL, &d, msg, sizeof msg), 0);
    assert_same_items(a, d, NULL);
    slc_batch_free(d);
    /* Wrong magic, version, flags. */
    ba[0] = 'X';
    assert_int_equal(col_cold_decode(ba, la, NULL, &d, msg, sizeof msg), SL_EWIRE_MAGIC);
    ba[0] = 'S';
    ba[4] = 2;
    assert_int_equal(col_cold_decode(ba, la, NULL, &d, msg, sizeof msg), SL_EWIRE_VERSION);
    free(wire);
    free(ba);
    free(bb);
    slc_batch_free(a);
    slc_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_gather_error_keeps_dst),
        cmocka_unit_test(test_header_and_dispatch),
    };
    if (getenv("COLD_TEST"))
        cmocka_set_test_filter(getenv("COLD_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
