/*
 * test_trace.c - request-tree assembly (query/slq_trace.c) on crafted spans.
 *
 * Each test builds a batch by hand, assembles it, and checks both the node
 * array (slq_trace_nodes) and the JSON the API serves (slq_trace_to_json).
 * Span ids are small numbers written big-endian, names say what each span is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"
#include "query/slq_trace.h"

#define MS 1000000ull
#define T0 1764000000000000000ull /* a fixed epoch in ns */

static const uint8_t TID[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};

static void put_id(uint8_t *dst, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        dst[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t idx;
    assert_int_equal(slc_batch_intern(b, s, strlen(s), &idx), 0);
    return idx;
}

/* Adds a span; times are ms offsets from T0. */
static void span_ms(slc_batch *b, uint64_t id, uint64_t parent, const char *svc, const char *name,
                    uint64_t start_ms, uint64_t end_ms, uint8_t status)
{
    slc_span s = {0};
    memcpy(s.trace_id, TID, 16);
    put_id(s.span_id, id);
    if (parent)
        put_id(s.parent_id, parent);
    s.kind = SLC_KIND_SERVER;
    s.status = status;
    s.service = S(b, svc);
    s.name = S(b, name);
    s.start_ns = T0 + start_ms * MS;
    s.end_ns = T0 + end_ms * MS;
    s.attr_first = b->nattrs;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
}

typedef struct fixture {
    slc_batch *b;
    slq_trace *t;
    json_t *j;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->b = slc_batch_new();
    assert_non_null(f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->j);
    slq_trace_free(f->t);
    slc_batch_free(f->b);
    free(f);
    return 0;
}

/* Builds with opts and encodes to JSON; returns the node count. */
static uint32_t build(fixture *f, const slq_trace_opts *o)
{
    assert_int_equal(slq_trace_build(f->b, o, &f->t), 0);
    assert_int_equal(slq_trace_to_json(f->t, &f->j), 0);
    uint32_t n;
    slq_trace_nodes(f->t, &n);
    assert_int_equal(json_array_size(json_object_get(f->j, "spans")), n);
    return n;
}

static json_t *jspan(fixture *f, size_t i) { return json_array_get(json_object_get(f->j, "spans"), i); }

static const char *jname(fixture *f, size_t i) { return json_string_value(json_object_get(jspan(f, i), "name")); }

static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static int jbool(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

static json_t *jsum(fixture *f) { return json_object_get(f->j, "summary"); }

/* ---- tests ------------------------------------------------------------------ */

static void test_empty_is_not_found(void **state)
{
    fixture *f = *state;
    slq_trace *t = NULL;
    assert_int_equal(slq_trace_build(f->b, NULL, &t), SL_ENOTFOUND);
    assert_null(t);
    assert_int_equal(slq_trace_build(NULL, NULL, &t), SL_EINVAL);
    slq_trace_free(NULL);
}

/* Spans from three services arriving in reverse and shuffled orders give the
 * same tree: pre-order, siblings by start, depth and parent indices. */
static void test_any_order(void **state)
{
    fixture *f = *state;
    /* root 1 [0,100]; 2 [10,40] under 1; 3 [50,90] under 1; 4 [15,30] under 2 */
    span_ms(f->b, 3, 1, "payment", "charge", 50, 90, SLC_STATUS_OK);
    span_ms(f->b, 4, 2, "db", "select", 15, 30, SLC_STATUS_OK);
    span_ms(f->b, 2, 1, "checkout", "place-order", 10, 40, SLC_STATUS_OK);
    span_ms(f->b, 1, 0, "frontend", "GET /buy", 0, 100, SLC_STATUS_OK);
    assert_int_equal(build(f, NULL), 4);

    const char *want[] = {"GET /buy", "place-order", "select", "charge"};
    const long long depth[] = {0, 1, 2, 1};
    const int32_t parent[] = {-1, 0, 1, 0};
    uint32_t n;
    const slq_node *nd = slq_trace_nodes(f->t, &n);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(jname(f, i), want[i]);
        assert_int_equal(jint(jspan(f, i), "depth"), depth[i]);
        assert_int_equal(nd[i].parent, parent[i]);
        assert_false(jbool(jspan(f, i), "missing_parent"));
        assert_int_equal(jint(jspan(f, i), "skew_ns"), 0);
    }
    assert_string_equal(json_string_value(json_object_get(jspan(f, 1), "parent_id")), "0000000000000001");
    assert_string_equal(json_string_value(json_object_get(jspan(f, 0), "parent_id")), "");
    assert_string_equal(json_string_value(json_object_get(f->j, "trace_id")), "4bf92f3577b34da6a3ce929d0e0e4736");

    /* the same spans in another order: identical JSON */
    slc_batch *b2 = slc_batch_new();
    assert_non_null(b2);
    span_ms(b2, 2, 1, "checkout", "place-order", 10, 40, SLC_STATUS_OK);
    span_ms(b2, 1, 0, "frontend", "GET /buy", 0, 100, SLC_STATUS_OK);
    span_ms(b2, 4, 2, "db", "select", 15, 30, SLC_STATUS_OK);
    span_ms(b2, 3, 1, "payment", "charge", 50, 90, SLC_STATUS_OK);
    slq_trace *t2;
    json_t *j2;
    assert_int_equal(slq_trace_build(b2, NULL, &t2), 0);
    assert_int_equal(slq_trace_to_json(t2, &j2), 0);
    assert_true(json_equal(f->j, j2));
    json_decref(j2);
    slq_trace_free(t2);
    slc_batch_free(b2);
}

/* Siblings that start at the same time are ordered by span id, not by
 * arrival. */
static void test_sibling_ties(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "a", "root", 0, 100, 0);
    span_ms(f->b, 9, 1, "a", "nine", 10, 20, 0);
    span_ms(f->b, 5, 1, "a", "five", 10, 20, 0);
    span_ms(f->b, 7, 1, "a", "seven", 5, 20, 0);
    assert_int_equal(build(f, NULL), 4);
    assert_string_equal(jname(f, 1), "seven");
    assert_string_equal(jname(f, 2), "five");
    assert_string_equal(jname(f, 3), "nine");
}

static void test_duplicates_kept_once(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "a", "root", 0, 100, 0);
    span_ms(f->b, 2, 1, "a", "child", 10, 20, 0);
    span_ms(f->b, 2, 1, "a", "child", 10, 20, 0); /* a retried frame */
    span_ms(f->b, 1, 0, "a", "root", 0, 100, 0);
    span_ms(f->b, 2, 1, "a", "child", 10, 20, 0);
    assert_int_equal(build(f, NULL), 2);
    assert_int_equal(jint(jsum(f), "span_count"), 2);
    assert_string_equal(jname(f, 1), "child");
    assert_false(jbool(jsum(f), "truncated"));
}

/* A span whose parent never arrived hangs under the root, marked, and its own
 * children stay under it. */
static void test_orphans_under_root(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 0, 100, 0);
    span_ms(f->b, 2, 1, "frontend", "known", 5, 20, 0);
    span_ms(f->b, 3, 0x77, "payment", "orphan", 30, 60, 0); /* parent 0x77 lost */
    span_ms(f->b, 4, 3, "payment", "orphan-child", 35, 50, 0);
    assert_int_equal(build(f, NULL), 4);
    assert_string_equal(jname(f, 2), "orphan");
    assert_int_equal(jint(jspan(f, 2), "depth"), 1);
    assert_true(jbool(jspan(f, 2), "missing_parent"));
    assert_string_equal(json_string_value(json_object_get(jspan(f, 2), "parent_id")), "0000000000000077");
    assert_string_equal(jname(f, 3), "orphan-child");
    assert_int_equal(jint(jspan(f, 3), "depth"), 2);
    assert_false(jbool(jspan(f, 3), "missing_parent"));
    assert_int_equal(jint(jsum(f), "orphan_count"), 1);
    assert_string_equal(json_string_value(json_object_get(jsum(f), "root_name")), "root");
}

/* An orphan's real parent is unknown, so no window applies: it is not
 * shifted even when it starts before the root. */
static void test_orphan_not_shifted(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 10, 100, 0);
    span_ms(f->b, 2, 0x66, "batch", "early-orphan", 2, 8, 0);
    assert_int_equal(build(f, NULL), 2);
    assert_string_equal(jname(f, 1), "early-orphan");
    assert_int_equal(jint(jspan(f, 1), "skew_ns"), 0);
    assert_null(json_object_get(jspan(f, 1), "raw_start_us"));
    assert_int_equal(jint(jspan(f, 1), "start_us"), (long long)((T0 + 2 * MS) / 1000));
    /* the trace starts with the orphan */
    assert_int_equal(jint(jsum(f), "start_us"), (long long)((T0 + 2 * MS) / 1000));
    assert_int_equal(jint(jsum(f), "duration_ns"), 98 * (long long)MS);
}

/* No span without a parent: the earliest span whose parent is missing becomes
 * the root; a child that starts earlier but whose parent did arrive keeps its
 * parent. */
static void test_no_true_root(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 10, 0x99, "checkout", "late-orphan", 40, 60, 0);
    span_ms(f->b, 11, 0x98, "checkout", "first-orphan", 10, 80, 0);
    span_ms(f->b, 12, 11, "payment", "skewed-child", 5, 20, 0); /* starts before its parent */
    assert_int_equal(build(f, NULL), 3);
    assert_string_equal(jname(f, 0), "first-orphan");
    assert_int_equal(jint(jspan(f, 0), "depth"), 0);
    assert_true(jbool(jspan(f, 0), "missing_parent"));
    assert_string_equal(jname(f, 1), "skewed-child");
    assert_int_equal(jint(jspan(f, 1), "depth"), 1);
    assert_false(jbool(jspan(f, 1), "missing_parent"));
    assert_string_equal(jname(f, 2), "late-orphan");
    assert_int_equal(jint(jspan(f, 2), "depth"), 1);
    assert_true(jbool(jspan(f, 2), "missing_parent"));
    assert_int_equal(jint(jsum(f), "orphan_count"), 2);
    assert_string_equal(json_string_value(json_object_get(jsum(f), "root_name")), "first-orphan");
}

/* Several true roots: the earliest is the trace's root; the others follow as
 * their own depth-0 trees; orphans join the earliest. */
static void test_multiple_roots(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 20, 0, "batch", "second-root", 50, 70, 0);
    span_ms(f->b, 21, 20, "batch", "second-child", 55, 60, 0);
    span_ms(f->b, 30, 0, "web", "first-root", 0, 100, 0);
    span_ms(f->b, 31, 0x5, "web", "orphan", 60, 65, 0);
    assert_int_equal(build(f, NULL), 4);
    const char *want[] = {"first-root", "orphan", "second-root", "second-child"};
    const long long depth[] = {0, 1, 0, 1};
    uint32_t n;
    const slq_node *nd = slq_trace_nodes(f->t, &n);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(jname(f, i), want[i]);
        assert_int_equal(jint(jspan(f, i), "depth"), depth[i]);
    }
    assert_int_equal(nd[2].parent, -1);
    assert_int_equal(nd[3].parent, 2);
    assert_string_equal(json_string_value(json_object_get(jsum(f), "root_service")), "web");
}

/* Gives the last added span a host.name attribute. */
static void on_host(slc_batch *b, const char *host)
{
    slc_attr a = {.key = S(b, "host.name"), .type = SLC_V_STR};
    a.v.str = S(b, host);
    slc_span *sp = &b->spans[b->nspans - 1];
    sp->attr_first = b->nattrs;
    sp->attr_count = 1;
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
}

/* On one host there is one clock: a server span ending after its client
 * span (it ends after writing the reply) is shown as it happened.  The same
 * overrun between two hosts is treated as skew. */
static void test_skew_only_across_hosts(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 100, 200, 0);
    on_host(f->b, "web-1");
    span_ms(f->b, 2, 1, "checkout", "same-host-overrun", 150, 201, 0);
    on_host(f->b, "web-1");
    span_ms(f->b, 3, 2, "checkout", "inherits-host", 160, 170, 0); /* no attr: same service */
    span_ms(f->b, 4, 1, "payment", "other-host-overrun", 150, 230, 0);
    on_host(f->b, "db-7");
    assert_int_equal(build(f, NULL), 4);
    for (int i = 0; i < 4; i++) {
        json_t *s = jspan(f, i);
        const char *n = jname(f, i);
        if (strcmp(n, "other-host-overrun") == 0)
            assert_int_equal(jint(s, "skew_ns"), -30 * (long long)MS);
        else
            assert_int_equal(jint(s, "skew_ns"), 0);
    }
}

/* Clock skew: shifted into the parent's window, shift reported, raw time kept,
 * descendants move with their parent. */
static void test_clock_skew(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 100, 200, 0);
    span_ms(f->b, 2, 1, "checkout", "early", 90, 120, 0);    /* starts 10ms before */
    span_ms(f->b, 3, 2, "checkout", "early-kid", 95, 105, 0); /* same host as 2 */
    span_ms(f->b, 4, 1, "payment", "late", 180, 230, 0);     /* ends 30ms after */
    span_ms(f->b, 5, 1, "fraud", "long", 150, 400, 0);       /* longer than root */
    span_ms(f->b, 6, 1, "cache", "fits", 130, 140, 0);
    assert_int_equal(build(f, NULL), 6);
    /* display order by shifted start: early@100, long@100, fits@130, late@150 */
    const char *want[] = {"root", "early", "early-kid", "long", "fits", "late"};
    const long long skew_ms[] = {0, 10, 10, -50, 0, -30};
    for (int i = 0; i < 6; i++) {
        json_t *s = jspan(f, i);
        assert_string_equal(jname(f, i), want[i]);
        assert_int_equal(jint(s, "skew_ns"), skew_ms[i] * (long long)MS);
        if (skew_ms[i] != 0) {
            json_t *raw = json_object_get(s, "raw_start_us");
            assert_true(json_is_integer(raw));
            assert_int_equal(json_integer_value(raw) + skew_ms[i] * 1000, jint(s, "start_us"));
            assert_non_null(json_object_get(s, "raw_start_ns"));
        } else {
            assert_null(json_object_get(s, "raw_start_us"));
        }
    }
    /* the shift rule: starts no earlier than the parent; ends no later when
     * it fits; a longer child is aligned to the parent's start */
    long long root_us = jint(jspan(f, 0), "start_us");
    assert_int_equal(jint(jspan(f, 1), "start_us"), root_us);
    assert_int_equal(jint(jspan(f, 3), "start_us"), root_us);
    assert_int_equal(jint(jspan(f, 5), "start_us") + jint(jspan(f, 5), "duration_ns") / 1000, root_us + 100000);
    assert_int_equal(jint(jspan(f, 3), "duration_ns"), 250 * (long long)MS); /* durations untouched */
    const char *sns = json_string_value(json_object_get(jspan(f, 1), "start_ns"));
    char want_ns[32];
    snprintf(want_ns, sizeof(want_ns), "%llu", (unsigned long long)(T0 + 100 * MS));
    assert_string_equal(sns, want_ns);
    snprintf(want_ns, sizeof(want_ns), "%llu", (unsigned long long)(T0 + 90 * MS));
    assert_string_equal(json_string_value(json_object_get(jspan(f, 1), "raw_start_ns")), want_ns);
    /* the trace's extent covers every displayed span: "long" cannot fit
     * its parent and sticks out to 350 */
    assert_int_equal(jint(jsum(f), "duration_ns"), 250 * (long long)MS);
}

/* Critical path: from the root's end, the last child to finish before the
 * current point, recursively. */
static void test_critical_path(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "web", "root", 0, 100, 0);
    span_ms(f->b, 2, 1, "web", "A", 5, 50, 0);
    span_ms(f->b, 3, 1, "web", "B-overlapped", 10, 30, 0);
    span_ms(f->b, 4, 1, "web", "C", 55, 90, 0);
    span_ms(f->b, 5, 2, "db", "A1", 20, 45, 0);
    span_ms(f->b, 6, 2, "db", "A2-overlapped", 6, 15, 0);
    span_ms(f->b, 7, 2, "db", "A3", 8, 19, 0);
    span_ms(f->b, 8, 4, "db", "C1-after-parent", 95, 99, 0); /* starts after C: skewed into C */
    assert_int_equal(build(f, NULL), 8);
    uint32_t n;
    const slq_node *nd = slq_trace_nodes(f->t, &n);
    for (uint32_t i = 0; i < n; i++) {
        const char *name = jname(f, i);
        /* back from 100: C (ends 90) and C1 (shifted to end at 90); from C's
         * start 55: A (50), inside it A1 (45), from A1's start 20: A3 (19);
         * A2 ends at 15, after A3 started (8), and B ends at 30, after A
         * started (5): both overlapped by the path, not on it */
        int want = strcmp(name, "root") == 0 || strcmp(name, "A") == 0 || strcmp(name, "C") == 0 ||
                   strcmp(name, "A1") == 0 || strcmp(name, "A3") == 0 ||
                   strcmp(name, "C1-after-parent") == 0;
        assert_int_equal(nd[i].critical, want);
        assert_int_equal(jbool(jspan(f, i), "critical"), want);
    }
}

/* Sequential children that touch (one ends exactly when the next starts) are
 * all on the path. */
static void test_critical_path_sequential(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "web", "root", 0, 30, 0);
    span_ms(f->b, 2, 1, "web", "first", 0, 10, 0);
    span_ms(f->b, 3, 1, "web", "second", 10, 20, 0);
    span_ms(f->b, 4, 1, "web", "third", 20, 30, 0);
    assert_int_equal(build(f, NULL), 4);
    for (int i = 0; i < 4; i++)
        assert_true(jbool(jspan(f, i), "critical"));
}

static void test_summary(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "GET /buy", 0, 120, SLC_STATUS_ERROR);
    span_ms(f->b, 2, 1, "checkout", "order", 10, 100, SLC_STATUS_OK);
    span_ms(f->b, 3, 2, "payment", "charge", 20, 90, SLC_STATUS_ERROR);
    span_ms(f->b, 4, 0x42, "checkout", "orphan", 30, 40, SLC_STATUS_UNSET);
    assert_int_equal(build(f, NULL), 4);
    json_t *s = jsum(f);
    assert_string_equal(json_string_value(json_object_get(s, "root_service")), "frontend");
    assert_string_equal(json_string_value(json_object_get(s, "root_name")), "GET /buy");
    char want[32];
    snprintf(want, sizeof(want), "%llu", (unsigned long long)T0);
    assert_string_equal(json_string_value(json_object_get(s, "start_ns")), want);
    assert_int_equal(jint(s, "start_us"), (long long)(T0 / 1000));
    assert_int_equal(jint(s, "duration_ns"), 120 * (long long)MS);
    assert_int_equal(jint(s, "span_count"), 4);
    assert_int_equal(jint(s, "error_count"), 2);
    assert_int_equal(jint(s, "orphan_count"), 1);
    assert_int_equal(jint(s, "dropped_spans"), 0);
    assert_false(jbool(s, "truncated"));
    json_t *sv = json_object_get(s, "services");
    assert_int_equal(json_array_size(sv), 3);
    assert_string_equal(json_string_value(json_array_get(sv, 0)), "checkout");
    assert_string_equal(json_string_value(json_array_get(sv, 1)), "frontend");
    assert_string_equal(json_string_value(json_array_get(sv, 2)), "payment");
    assert_string_equal(json_string_value(json_object_get(jspan(f, 0), "status")), "error");
    assert_string_equal(json_string_value(json_object_get(jspan(f, 0), "kind")), "server");
}

/* Parent links that form cycles terminate and place every span. */
static void test_cycles(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "a", "root", 0, 100, 0);
    span_ms(f->b, 2, 3, "a", "cyc-a", 10, 20, 0); /* 2 -> 3 -> 2 */
    span_ms(f->b, 3, 2, "a", "cyc-b", 12, 18, 0);
    span_ms(f->b, 4, 3, "a", "under-cycle", 13, 14, 0);
    span_ms(f->b, 5, 5, "a", "self-parent", 30, 40, 0);
    assert_int_equal(build(f, NULL), 5);
    /* broken at the earliest span of the cycle (cyc-a) */
    const char *want[] = {"root", "cyc-a", "cyc-b", "under-cycle", "self-parent"};
    const long long depth[] = {0, 1, 2, 3, 1};
    const int miss[] = {0, 1, 0, 0, 1};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(jname(f, i), want[i]);
        assert_int_equal(jint(jspan(f, i), "depth"), depth[i]);
        assert_int_equal(jbool(jspan(f, i), "missing_parent"), miss[i]);
    }
}

/* Every span in one cycle and nothing else: still a tree. */
static void test_cycle_only(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 3, "a", "one", 20, 30, 0);
    span_ms(f->b, 2, 1, "a", "two", 10, 40, 0);
    span_ms(f->b, 3, 2, "a", "three", 15, 35, 0);
    assert_int_equal(build(f, NULL), 3);
    assert_string_equal(jname(f, 0), "two");
    assert_string_equal(jname(f, 1), "three");
    assert_string_equal(jname(f, 2), "one");
    assert_int_equal(jint(jspan(f, 2), "depth"), 2);
    assert_true(jbool(jspan(f, 0), "missing_parent"));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* 100,000 spans in random order under a random tree, with duplicates and
 * orphans: truncated at max_spans, every kept span's parent kept, fast. */
static void test_oversized(void **state)
{
    fixture *f = *state;
    enum { N = 100000 };
    uint32_t *perm = malloc(N * sizeof(*perm));
    assert_non_null(perm);
    for (uint32_t i = 0; i < N; i++)
        perm[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(next_rand() % (i + 1));
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    uint32_t svc = S(f->b, "svc"), name = S(f->b, "op");
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = perm[k];
        slc_span s = {0};
        memcpy(s.trace_id, TID, 16);
        put_id(s.span_id, (uint64_t)i + 1);
        if (i > 0) {
            uint64_t p = next_rand() % i + 1;
            if (i % 1000 == 7)
                p = 5000000 + i; /* never present: an orphan */
            put_id(s.parent_id, p);
        }
        s.service = svc;
        s.name = name;
        s.start_ns = T0 + (uint64_t)i * 1000;
        s.end_ns = T0 + (uint64_t)N * 1000 + 1000 - (uint64_t)i;
        assert_int_equal(slc_batch_add_span(f->b, &s, NULL), 0);
        if (k % 10000 == 0) /* a few duplicates */
            assert_int_equal(slc_batch_add_span(f->b, &s, NULL), 0);
    }
    free(perm);

    double t0 = now_s();
    slq_trace_opts o = {.max_spans = 10000};
    assert_int_equal(build(f, &o), 10000);
    double el = now_s() - t0;
    fprintf(stderr, "    100k spans assembled + JSON in %.3f s\n", el);
    assert_true(el < 5.0); /* O(n log n): ~0.1 s here, generous for ASan */

    json_t *s = jsum(f);
    assert_true(jbool(s, "truncated"));
    assert_int_equal(jint(s, "span_count"), N);
    assert_int_equal(jint(s, "dropped_spans"), N - 10000);
    assert_int_equal(jint(s, "orphan_count"), 100);
    uint32_t n;
    const slq_node *nd = slq_trace_nodes(f->t, &n);
    assert_int_equal(nd[0].parent, -1);
    for (uint32_t i = 1; i < n; i++) {
        assert_true(nd[i].parent >= 0 && (uint32_t)nd[i].parent < i); /* pre-order, parent kept */
        assert_int_equal(nd[i].depth, nd[nd[i].parent].depth + 1);
    }
}

/* A 100,000-deep chain: no recursion anywhere, so no stack overflow. */
static void test_deep_chain(void **state)
{
    fixture *f = *state;
    enum { N = 100000 };
    uint32_t svc = S(f->b, "svc"), name = S(f->b, "op");
    for (uint32_t i = N; i-- > 0;) {
        slc_span s = {0};
        memcpy(s.trace_id, TID, 16);
        put_id(s.span_id, (uint64_t)i + 1);
        if (i > 0)
            put_id(s.parent_id, i);
        s.service = svc;
        s.name = name;
        s.start_ns = T0 + (uint64_t)i;
        s.end_ns = T0 + 2 * (uint64_t)N - (uint64_t)i;
        assert_int_equal(slc_batch_add_span(f->b, &s, NULL), 0);
    }
    slq_trace_opts o = {.max_spans = N};
    assert_int_equal(build(f, &o), N);
    uint32_t n;
    const slq_node *nd = slq_trace_nodes(f->t, &n);
    assert_int_equal(nd[N - 1].depth, N - 1);
    assert_true(nd[N - 1].critical);
}

static void add_log(slc_batch *b, uint64_t t_ms, uint8_t lvl, const char *svc, const char *body, uint64_t span)
{
    slc_log l = {0};
    l.time_ns = T0 + t_ms * MS;
    l.level = lvl;
    if (span) {
        l.flags = SLC_LOG_F_TRACE;
        memcpy(l.trace_id, TID, 16);
        put_id(l.span_id, span);
    }
    l.service = S(b, svc);
    l.body = S(b, body);
    l.attr_first = b->nattrs;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
}

static void test_logs_in_time_order(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 0, 100, 0);
    add_log(f->b, 50, SLC_LVL_ERROR, "payment", "card declined", 1);
    add_log(f->b, 10, SLC_LVL_INFO, "frontend", "request in", 1);
    add_log(f->b, 30, SLC_LVL_WARN + 1, "checkout", "slow stock check", 0);
    build(f, NULL);
    json_t *logs = json_object_get(f->j, "logs");
    assert_int_equal(json_array_size(logs), 3);
    const char *bodies[] = {"request in", "slow stock check", "card declined"};
    const char *levels[] = {"info", "warn", "error"};
    const char *spans[] = {"0000000000000001", "", "0000000000000001"};
    for (int i = 0; i < 3; i++) {
        json_t *l = json_array_get(logs, i);
        assert_string_equal(json_string_value(json_object_get(l, "body")), bodies[i]);
        assert_string_equal(json_string_value(json_object_get(l, "level")), levels[i]);
        assert_string_equal(json_string_value(json_object_get(l, "span_id")), spans[i]);
    }
    assert_int_equal(jint(json_array_get(logs, 1), "severity"), SLC_LVL_WARN + 1);
    assert_int_equal(jint(json_array_get(logs, 0), "time_us"), (long long)((T0 + 10 * MS) / 1000));
    /* services include the log-only "checkout" and "payment" */
    assert_int_equal(json_array_size(json_object_get(jsum(f), "services")), 3);
    assert_int_equal(jint(jsum(f), "log_count"), 3);
}

/* A trace known only by its logs still answers. */
static void test_logs_only(void **state)
{
    fixture *f = *state;
    add_log(f->b, 20, SLC_LVL_INFO, "worker", "second", 3);
    add_log(f->b, 10, SLC_LVL_INFO, "worker", "first", 3);
    assert_int_equal(build(f, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(f->j, "logs")), 2);
    assert_int_equal(jint(jsum(f), "span_count"), 0);
    assert_int_equal(jint(jsum(f), "duration_ns"), 10 * (long long)MS);
    assert_string_equal(json_string_value(json_object_get(f->j, "trace_id")), "4bf92f3577b34da6a3ce929d0e0e4736");
}

/* Attributes keep their types; events and links are carried; a string with
 * invalid UTF-8 (possible in a batch built in memory) does not fail the JSON. */
static void test_attributes_events_links(void **state)
{
    fixture *f = *state;
    slc_batch *b = f->b;
    slc_attr a = {0};
    uint32_t first = b->nattrs;
    a.key = S(b, "http.request.method");
    a.type = SLC_V_STR;
    a.v.str = S(b, "GET");
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
    a.key = S(b, "http.response.status_code");
    a.type = SLC_V_INT;
    a.v.i = 200;
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
    a.key = S(b, "ratio");
    a.type = SLC_V_DBL;
    a.v.d = 0.5;
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
    a.key = S(b, "cache.hit");
    a.type = SLC_V_BOOL;
    a.v.b = 1;
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);
    a.key = S(b, "bad");
    a.type = SLC_V_STR;
    a.v.str = S(b, "ab\xff" "cd");
    assert_int_equal(slc_batch_add_attr(b, &a, NULL), 0);

    slc_event e = {.time_ns = T0 + 5 * MS, .name = S(b, "retry"), .attr_first = b->nattrs, .attr_count = 0};
    uint32_t ev;
    assert_int_equal(slc_batch_add_event(b, &e, &ev), 0);
    slc_link l = {0};
    memset(l.trace_id, 0xab, 16);
    put_id(l.span_id, 0x1234);
    l.attr_first = b->nattrs;
    uint32_t li;
    assert_int_equal(slc_batch_add_link(b, &l, &li), 0);

    slc_span s = {0};
    memcpy(s.trace_id, TID, 16);
    put_id(s.span_id, 1);
    s.kind = SLC_KIND_CLIENT;
    s.status = SLC_STATUS_ERROR;
    s.status_msg = S(b, "timeout");
    s.service = S(b, "svc");
    s.name = S(b, "call");
    s.start_ns = T0;
    s.end_ns = T0 + 10 * MS;
    s.attr_first = first;
    s.attr_count = 5;
    s.event_first = ev;
    s.event_count = 1;
    s.link_first = li;
    s.link_count = 1;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    build(f, NULL);

    json_t *sp = jspan(f, 0);
    json_t *at = json_object_get(sp, "attributes");
    assert_string_equal(json_string_value(json_object_get(at, "http.request.method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(at, "http.response.status_code")), 200);
    assert_true(json_is_real(json_object_get(at, "ratio")));
    assert_true(json_is_true(json_object_get(at, "cache.hit")));
    assert_string_equal(json_string_value(json_object_get(at, "bad")), "ab\xEF\xBF\xBD" "cd");
    assert_string_equal(json_string_value(json_object_get(sp, "kind")), "client");
    assert_string_equal(json_string_value(json_object_get(sp, "status_message")), "timeout");
    json_t *evs = json_object_get(sp, "events");
    assert_int_equal(json_array_size(evs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "name")), "retry");
    assert_int_equal(jint(json_array_get(evs, 0), "time_us"), (long long)((T0 + 5 * MS) / 1000));
    json_t *lks = json_object_get(sp, "links");
    assert_int_equal(json_array_size(lks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lks, 0), "span_id")), "0000000000001234");
    assert_int_equal(jint(sp, "duration_ns"), 10 * (long long)MS);

    /* the whole document survives a text round trip */
    char *txt = json_dumps(f->j, JSON_COMPACT);
    assert_non_null(txt);
    json_error_t err;
    json_t *back = json_loads(txt, 0, &err);
    assert_non_null(back);
    assert_true(json_equal(back, f->j));
    json_decref(back);
    free(txt);
}

/* A batch that round-trips through the wire codec assembles the same way
 * (decoded strings are not NUL-terminated). */
static void test_decoded_batch(void **state)
{
    fixture *f = *state;
    span_ms(f->b, 1, 0, "frontend", "root", 0, 100, 0);
    span_ms(f->b, 2, 1, "checkout", "child", 10, 20, 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(slc_wire_encode(f->b, 1, &buf, &len), 0);
    slc_batch *d;
    assert_int_equal(slc_wire_decode(buf, len, NULL, &d, NULL, 0), 0);
    free(buf);
    slq_trace *t;
    json_t *j;
    assert_int_equal(slq_trace_build(d, NULL, &t), 0);
    assert_int_equal(slq_trace_to_json(t, &j), 0);
    build(f, NULL);
    assert_true(json_equal(j, f->j));
    json_decref(j);
    slq_trace_free(t);
    slc_batch_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sibling_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_kept_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_under_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphan_not_shifted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_true_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiple_roots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skew_only_across_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_critical_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_critical_path_sequential, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_in_time_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attributes_events_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
