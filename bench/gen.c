/*
 * gen.c - the benchmarks' synthetic workload (see gen.h).
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "common/slc_wire.h"

#define NSVC 8

static const char *services[NSVC] = {"frontend", "cart",     "checkout", "payment",
                                     "inventory", "shipping", "auth",     "recommendation"};
static const char *ops[NSVC][3] = {
    {"GET /", "GET /product/{id}", "POST /checkout"},
    {"GetCart", "AddItem", "EmptyCart"},
    {"PlaceOrder", "PrepareOrder", "ValidateCart"},
    {"Charge", "Refund", "Authorize"},
    {"Reserve", "Release", "Lookup"},
    {"GetQuote", "ShipOrder", "Track"},
    {"VerifyToken", "Login", "Refresh"},
    {"ListRecommendations", "RankProducts", "FetchModel"}};
static const char *routes[] = {"/", "/product/{id}", "/cart", "/checkout", "/api/v1/orders"};
static const char *methods[] = {"GET", "POST", "PUT", "DELETE"};
static const char *regions[] = {"eu-west-1", "us-east-1", "ap-south-1"};
static const char *agents[] = {"Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1",
                               "okhttp/4.12.0", "python-requests/2.31"};
static const char *levels_body[] = {"request handled", "cache miss for key",
                                    "retrying upstream call", "payment declined by issuer"};

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

static void rid(rng *r, uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rnext(r);
        memcpy(id + i, &v, n - i < 8 ? n - i : 8);
    }
}

typedef struct pending {
    slc_batch *b;
} pending;

typedef struct out {
    gen_frame *f;
    size_t n, cap;
    uint64_t batch_seq, batch_base;
    int zlib_level;
} out;

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t i = 0;
    slc_batch_intern(b, s, strlen(s), &i);
    return i;
}

static int flush(out *o, slc_batch *b)
{
    if (!b->nspans && !b->nlogs)
        return 0;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 256;
        gen_frame *nf = realloc(o->f, nc * sizeof *nf);
        if (!nf)
            return -1;
        o->f = nf;
        o->cap = nc;
    }
    b->batch_id = o->batch_base + ++o->batch_seq;
    gen_frame *f = &o->f[o->n];
    if (slc_wire_encode(b, o->zlib_level, &f->bytes, &f->len) != SL_OK)
        return -1;
    f->spans = b->nspans;
    f->logs = b->nlogs;
    o->n++;
    slc_batch_reset(b);
    return 0;
}

static void attr_s(slc_batch *b, const char *k, const char *v)
{
    slc_attr a = {.key = S(b, k), .type = SLC_V_STR};
    a.v.str = S(b, v);
    slc_batch_add_attr(b, &a, NULL);
}

static void attr_i(slc_batch *b, const char *k, int64_t v)
{
    slc_attr a = {.key = S(b, k), .type = SLC_V_INT};
    a.v.i = v;
    slc_batch_add_attr(b, &a, NULL);
}

static void attr_d(slc_batch *b, const char *k, double v)
{
    slc_attr a = {.key = S(b, k), .type = SLC_V_DBL};
    a.v.d = v;
    slc_batch_add_attr(b, &a, NULL);
}

static void attr_b(slc_batch *b, const char *k, int v)
{
    slc_attr a = {.key = S(b, k), .type = SLC_V_BOOL};
    a.v.b = (uint8_t)(v != 0);
    slc_batch_add_attr(b, &a, NULL);
}

/* Adds one log record of service svc to b, in the given trace when tid. */
static void add_log(rng *r, slc_batch *b, int svc, uint64_t t, const uint8_t *tid,
                    const uint8_t *sid)
{
    char body[96];
    slc_log l;
    memset(&l, 0, sizeof l);
    l.time_ns = t;
    uint32_t lv = rbelow(r, 10);
    l.level = lv < 6 ? SLC_LVL_INFO : lv < 8 ? SLC_LVL_DEBUG : lv < 9 ? SLC_LVL_WARN : SLC_LVL_ERROR;
    if (tid) {
        l.flags = SLC_LOG_F_TRACE;
        memcpy(l.trace_id, tid, 16);
        memcpy(l.span_id, sid, 8);
    }
    l.service = S(b, services[svc]);
    snprintf(body, sizeof body, "%s id=%u", levels_body[rbelow(r, 4)], rbelow(r, 100000));
    l.body = S(b, body);
    l.attr_first = b->nattrs;
    attr_s(b, "thread.name", rbelow(r, 2) ? "worker-1" : "worker-2");
    attr_i(b, "order.items", rbelow(r, 12));
    l.attr_count = 2;
    slc_batch_add_log(b, &l, NULL);
}

int gen_frames(const gen_opts *go, uint64_t total, gen_frame **res, size_t *nres)
{
    gen_opts o = *go;
    if (!o.spans_per_frame)
        o.spans_per_frame = 512;
    if (!o.zlib_level)
        o.zlib_level = 1;
    if (!o.start_ns)
        o.start_ns = slc_now_ns() - 3600ull * 1000000000ull;
    rng r = {o.seed ? o.seed : 0x9e3779b97f4a7c15ull};
    out os = {.zlib_level = o.zlib_level,
              .batch_base = o.batch_base ? o.batch_base : 0x5ee0000000000000ull};
    slc_batch *pend[NSVC] = {0};
    int rc = -1;
    for (int i = 0; i < NSVC; i++)
        if (!(pend[i] = slc_batch_new()))
            goto done;
    uint64_t made = 0, t = o.start_ns;
    char buf[64];
    while (made < total) {
        t += 200000 + rbelow(&r, 400000); /* ~3k traces/s of wall time */
        if (o.logs_only) {
            int svc = (int)rbelow(&r, NSVC);
            uint8_t tid[16], sid[8];
            rid(&r, tid, 16);
            rid(&r, sid, 8);
            add_log(&r, pend[svc], svc, t, rbelow(&r, 4) ? tid : NULL, sid);
            made++;
            if (pend[svc]->nlogs >= o.spans_per_frame * 2 && flush(&os, pend[svc]))
                goto done;
            continue;
        }
        uint32_t nspans = 5 + rbelow(&r, 16);
        uint8_t tid[16];
        uint8_t ids[20][8];
        int svc_of[20];
        uint64_t st[20], en[20];
        rid(&r, tid, 16);
        for (uint32_t k = 0; k < nspans; k++) {
            rid(&r, ids[k], 8);
            int parent = k ? (int)rbelow(&r, k) : -1;
            svc_of[k] = k ? (int)rbelow(&r, NSVC) : 0;
            if (k == 0) {
                st[k] = t;
                en[k] = t + 2000000 + rbelow(&r, 200000000);
            } else {
                uint64_t pw = en[parent] - st[parent];
                st[k] = st[parent] + rbelow(&r, (uint32_t)(pw / 2 + 1));
                en[k] = st[k] + 1 + rbelow(&r, (uint32_t)(en[parent] - st[k]));
            }
            slc_batch *b = pend[svc_of[k]];
            slc_span s;
            memset(&s, 0, sizeof s);
            memcpy(s.trace_id, tid, 16);
            memcpy(s.span_id, ids[k], 8);
            if (parent >= 0)
                memcpy(s.parent_id, ids[parent], 8);
            s.kind = k == 0 ? SLC_KIND_SERVER : (uint8_t)(1 + rbelow(&r, 3));
            int err = rbelow(&r, 50) == 0;
            s.status = err ? SLC_STATUS_ERROR : SLC_STATUS_UNSET;
            s.service = S(b, services[svc_of[k]]);
            s.name = S(b, ops[svc_of[k]][rbelow(&r, 3)]);
            s.status_msg = err ? S(b, "upstream returned 503") : 0;
            s.start_ns = st[k];
            s.end_ns = en[k];
            s.attr_first = b->nattrs;
            attr_s(b, "http.request.method", methods[rbelow(&r, 4)]);
            attr_s(b, "http.route", routes[rbelow(&r, 5)]);
            attr_i(b, "http.response.status_code", err ? 503 : (rbelow(&r, 20) ? 200 : 404));
            attr_s(b, "server.address", services[svc_of[k]]);
            attr_i(b, "server.port", 8080 + svc_of[k]);
            attr_s(b, "cloud.region", regions[rbelow(&r, 3)]);
            attr_s(b, "user_agent.original", agents[rbelow(&r, 4)]);
            snprintf(buf, sizeof buf, "cust-%u", rbelow(&r, 10000));
            attr_s(b, "customer.id", buf);
            attr_d(b, "order.amount", (double)rbelow(&r, 100000) / 100.0);
            attr_b(b, "cache.hit", (int)rbelow(&r, 2));
            s.attr_count = 10;
            for (uint32_t x = 0; x < o.extra_attrs; x++) {
                char key[32];
                snprintf(key, sizeof key, "extra.attr%u", x);
                snprintf(buf, sizeof buf, "value-%u", rbelow(&r, 50));
                attr_s(b, key, buf);
                s.attr_count++;
            }
            slc_batch_add_span(b, &s, NULL);
            if (rbelow(&r, 4) == 0)
                add_log(&r, b, svc_of[k], st[k] + 1000, tid, ids[k]);
            made++;
            if (b->nspans >= o.spans_per_frame && flush(&os, b))
                goto done;
        }
    }
    for (int i = 0; i < NSVC; i++)
        if (flush(&os, pend[i]))
            goto done;
    *res = os.f;
    *nres = os.n;
    os.f = NULL;
    os.n = 0;
    rc = 0;
done:
    for (int i = 0; i < NSVC; i++)
        slc_batch_free(pend[i]);
    gen_free(os.f, os.n);
    return rc;
}

void gen_free(gen_frame *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++)
        free(f[i].bytes);
    free(f);
}
