/*
 * test_colutil.h - helpers shared by the collector's unit tests
 * (test_col*.c): building real frames with the shared codec, temporary
 * directories, a real store in one and writing frames to it as ingest does.
 * Header-only so each test binary stays one file (every test_col* binary
 * links the collector and cmocka).
 */
#ifndef TEST_COLUTIL_H
#define TEST_COLUTIL_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/api.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"
#include "store/store.h"

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

/* ---- a real store -------------------------------------------------------- */

/* Opens a fresh store in a new temp dir.  On success *dir (owned by the
 * caller, freed by tu_store_close) and *s are set; -1 with the reason on
 * stderr otherwise. */
static inline int tu_store_open(char **dir, col_store **s)
{
    char err[256];

    *dir = tu_tmpdir();
    if (col_store_open(*dir, NULL, s, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    return 0;
}

/* Closes s and removes dir (freed). */
static inline void tu_store_close(char *dir, col_store *s)
{
    col_store_close(s);
    tu_rmtree(dir);
}

/* The fixture of tests that need one fresh store: cmocka setup/teardown. */
struct tu_fx {
    char *dir;
    col_store *s;
};

static inline int tu_fx_setup(void **state)
{
    struct tu_fx *f = calloc(1, sizeof *f);

    if (f == NULL || tu_store_open(&f->dir, &f->s) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int tu_fx_teardown(void **state)
{
    struct tu_fx *f = *state;
    tu_store_close(f->dir, f->s);
    free(f);
    return 0;
}

/* Stores a frame under (its batch id, crc) through the ingest write path:
 * decode, claim, write, release; each step must succeed. */
static inline void tu_store_put(col_store *s, const uint8_t *frame, size_t len, uint32_t crc)
{
    slc_batch *d = NULL;
    col_batch_key k;
    char err[256];

    if (slc_wire_decode(frame, len, NULL, &d, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    k.batch_id = d->batch_id;
    k.crc = crc;
    assert_int_equal(col_store_claim(s, &k), 0);
    assert_int_equal(col_store_write(s, &k, frame, len, d, err, sizeof err), 0);
    col_store_release(s, &k);
    slc_batch_free(d);
}

/* Encodes b and stores it (tu_store_put), the crc made from the frame's
 * length and batch id. */
static inline void tu_store_batch(col_store *s, const slc_batch *b)
{
    uint8_t *frame;
    size_t len;

    tu_encode(b, &frame, &len);
    tu_store_put(s, frame, len, (uint32_t)len * 2654435761u + (uint32_t)b->batch_id);
    free(frame);
}

/* Stores n tu_trace_frame traces, one frame each: trace i has batch id and
 * seed seed + i, starts at start + i * step and is stored with crc
 * crc0 + i. */
static inline void tu_store_traces(col_store *s, int n, uint64_t seed, uint64_t start,
                                   uint64_t step, uint32_t crc0)
{
    for (int i = 0; i < n; i++) {
        uint8_t *frame;
        size_t len;

        tu_trace_frame(seed + (uint64_t)i, seed + (uint64_t)i, start + (uint64_t)i * step,
                       &frame, &len);
        tu_store_put(s, frame, len, crc0 + (uint32_t)i);
        free(frame);
    }
}

/* ---- calling the API ----------------------------------------------------- */

/* Points api at s and stats, with trace and list limits no test reaches. */
static inline void tu_api_init(col_api *api, col_store *s, col_stats *stats)
{
    api->store = s;
    api->stats = stats;
    api->trace_max_spans = 10000;
    api->trace_max_blocks = 4096;
    api->list_max_scan = 100000;
}

struct tu_args {
    const char *k[24], *v[24];
    int n;
};

static inline const char *tu_arg_of(void *cx, const char *name)
{
    struct tu_args *a = cx;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->k[i], name) == 0)
            return a->v[i];
    return NULL;
}

/* The i-th value of a repeated key, as http.c's adapter gives it. */
static inline const char *tu_arg_nth(void *cx, const char *name, unsigned i)
{
    struct tu_args *a = cx;
    for (int k = 0; k < a->n; k++)
        if (strcmp(a->k[k], name) == 0 && i-- == 0)
            return a->v[k];
    return NULL;
}

/* GET path through col_api_dispatch (which must claim it) with the
 * NULL-terminated key, value pairs in ap; returns the body (owned by the
 * caller) and the status in *status. */
static inline json_t *tu_api_vget(const col_api *api, int *status, const char *path, va_list ap)
{
    struct tu_args a = {0};
    col_api_req req = {0};
    col_api_resp resp = {0};
    const char *k;

    while ((k = va_arg(ap, const char *)) != NULL && a.n < 24) {
        a.k[a.n] = k;
        a.v[a.n++] = va_arg(ap, const char *);
    }
    req.method = "GET";
    req.path = path;
    req.arg = tu_arg_of;
    req.arg_nth = tu_arg_nth;
    req.cx = &a;
    req.now_ns = slc_now_ns();
    assert_int_equal(col_api_dispatch(api, &req, &resp), 1);
    if (resp.json != NULL) { /* a ready JSON text: must parse, and be the whole answer */
        json_error_t jerr;
        assert_null(resp.body);
        assert_int_equal(strlen(resp.json), resp.json_len);
        resp.body = json_loadb(resp.json, resp.json_len, 0, &jerr);
        if (resp.body == NULL)
            fail_msg("%s answered invalid JSON: %s", path, jerr.text);
        free(resp.json);
    }
    assert_non_null(resp.body);
    free(resp.text);
    *status = resp.status;
    return resp.body;
}

#endif /* TEST_COLUTIL_H */
