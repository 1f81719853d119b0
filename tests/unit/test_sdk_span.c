/*
 * test_sdk_span.c - spans, attributes, events, status, parenting, scopes,
 * logs and sampling, checked on what a real (test) collector decodes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_util.h"
#include "test_sdk_collector.h"

struct fx {
    struct tcol col;
    struct tcol_store store;
    char url[128];
};

static void base_config(sl_config *c, const char *url)
{
    sl_config_default(c);
    c->endpoint = url;
    c->service_name = "svc-test";
    c->service_version = "1.2.3";
    c->host_name = "host-a";
    c->batch_delay_ms = 10;
    c->ack_timeout_ms = 500; /* a lost request costs one short wait */
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tcol_store_init(&f->store);
    tcol_url(f->url, sizeof(f->url));
    if (tcol_start(&f->col, f->url, &f->store) != 0)
        return -1;
    sl_config c;
    base_config(&c, f->url);
    if (sl_init(&c) != SL_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (sl_is_running())
        sl_shutdown(2000);
    tcol_stop(&f->col);
    tcol_store_free(&f->store);
    free(f);
    return 0;
}

static void test_span_fields(void **state)
{
    struct fx *f = *state;
    sl_span *root = sl_span_start("GET /cart", SL_KIND_SERVER);
    assert_non_null(root);
    assert_true(sl_span_is_recording(root));
    assert_int_equal(sl_span_set_str(root, "http.request.method", "GET"), SL_OK);
    assert_int_equal(sl_span_set_int(root, "http.response.status_code", 503), SL_OK);
    assert_int_equal(sl_span_set_double(root, "ratio", 0.25), SL_OK);
    assert_int_equal(sl_span_set_bool(root, "cache.hit", 1), SL_OK);
    assert_int_equal(sl_span_set_str(root, "", "x"), SL_EINVAL);
    sl_attr ea[] = {SL_ATTR_S("item", "book"), SL_ATTR_I("qty", 2)};
    assert_int_equal(sl_span_add_event(root, "added", ea, 2), SL_OK);
    /* an attribute after the event still belongs to the span */
    assert_int_equal(sl_span_set_str(root, "late", "yes"), SL_OK);
    assert_int_equal(sl_span_set_status(root, SL_STATUS_ERROR, "upstream down"), SL_OK);
    sl_span_end(root);
    assert_int_equal(sl_flush(10000), SL_OK);

    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "GET /cart", &i);
    assert_non_null(b);
    const slc_span *s = &b->spans[i];
    assert_int_equal(s->kind, SL_KIND_SERVER);
    assert_int_equal(s->status, SL_STATUS_ERROR);
    assert_true(tcol_streq(b, s->status_msg, "upstream down"));
    assert_true(tcol_streq(b, s->service, "svc-test"));
    assert_true(s->end_ns >= s->start_ns);
    assert_true(s->start_ns > 1600000000ull * 1000000000ull);
    uint8_t zero[8] = {0};
    assert_memory_equal(s->parent_id, zero, 8);
    const slc_attr *a = tcol_attr(b, s->attr_first, s->attr_count, "http.request.method");
    assert_non_null(a);
    assert_int_equal(a->type, SLC_V_STR);
    assert_true(tcol_streq(b, a->v.str, "GET"));
    a = tcol_attr(b, s->attr_first, s->attr_count, "http.response.status_code");
    assert_non_null(a);
    assert_int_equal(a->type, SLC_V_INT);
    assert_int_equal(a->v.i, 503);
    a = tcol_attr(b, s->attr_first, s->attr_count, "ratio");
    assert_non_null(a);
    assert_int_equal(a->type, SLC_V_DBL);
    assert_true(a->v.d == 0.25);
    a = tcol_attr(b, s->attr_first, s->attr_count, "cache.hit");
    assert_non_null(a);
    assert_int_equal(a->type, SLC_V_BOOL);
    assert_int_equal(a->v.b, 1);
    assert_non_null(tcol_attr(b, s->attr_first, s->attr_count, "late"));
    /* resource attributes on the local root */
    a = tcol_attr(b, s->attr_first, s->attr_count, "host.name");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "host-a"));
    assert_non_null(tcol_attr(b, s->attr_first, s->attr_count, "service.version"));
    /* the event and its own attributes */
    assert_int_equal(s->event_count, 1);
    const slc_event *ev = &b->events[s->event_first];
    assert_true(tcol_streq(b, ev->name, "added"));
    assert_int_equal(ev->attr_count, 2);
    a = tcol_attr(b, ev->attr_first, ev->attr_count, "qty");
    assert_non_null(a);
    assert_int_equal(a->v.i, 2);
    assert_null(tcol_attr(b, s->attr_first, s->attr_count, "qty"));

    sl_stats st;
    assert_int_equal(sl_stats_get(&st), SL_OK);
    assert_int_equal(st.spans_created, 1);
    assert_int_equal(st.spans_exported, 1);
    assert_int_equal(st.spans_dropped, 0);
}

static void test_parenting_and_scope(void **state)
{
    struct fx *f = *state;
    assert_null(sl_span_current());
    sl_span *root = sl_span_start("root", SL_KIND_SERVER);
    sl_span *prev = sl_scope_enter(root);
    assert_null(prev);
    assert_ptr_equal(sl_span_current(), root);

    sl_span *child = sl_span_start("child-current", SL_KIND_INTERNAL); /* parent = current */
    sl_span *p2 = sl_scope_enter(child);
    assert_ptr_equal(p2, root);
    sl_span *grand = sl_span_start("grandchild", SL_KIND_CLIENT);
    sl_span_end(grand);
    sl_scope_exit(p2);
    assert_ptr_equal(sl_span_current(), root);
    sl_span_end(child);

    sl_span *explicit_child = sl_span_start_child("child-explicit", SL_KIND_PRODUCER, root);
    sl_span *newroot = sl_span_start_child("other-root", SL_KIND_INTERNAL, NULL);

    /* ending the current span restores the previous one */
    sl_span *tmp = sl_span_start("tmp", SL_KIND_INTERNAL);
    sl_scope_enter(tmp);
    sl_span_end(tmp);
    assert_ptr_equal(sl_span_current(), root);

    sl_scope_exit(prev);
    assert_null(sl_span_current());
    sl_span_end(explicit_child);
    sl_span_end(newroot);

    sl_context rc;
    assert_int_equal(sl_traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                          &rc),
                     SL_OK);
    sl_span *remote = sl_span_start_remote("remote-child", SL_KIND_SERVER, &rc);
    sl_span_end(remote);
    sl_span_end(root);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(tcol_span_count(&f->store), 7);

    uint32_t ir, ic, ig, ie, io, im;
    const slc_batch *br = tcol_find_span(&f->store, "root", &ir);
    const slc_batch *bc = tcol_find_span(&f->store, "child-current", &ic);
    const slc_batch *bg = tcol_find_span(&f->store, "grandchild", &ig);
    const slc_batch *be = tcol_find_span(&f->store, "child-explicit", &ie);
    const slc_batch *bo = tcol_find_span(&f->store, "other-root", &io);
    const slc_batch *bm = tcol_find_span(&f->store, "remote-child", &im);
    assert_true(br && bc && bg && be && bo && bm);
    const slc_span *r = &br->spans[ir], *c = &bc->spans[ic], *g = &bg->spans[ig];
    const slc_span *e = &be->spans[ie], *o = &bo->spans[io], *m = &bm->spans[im];
    assert_memory_equal(c->parent_id, r->span_id, 8);
    assert_memory_equal(c->trace_id, r->trace_id, 16);
    assert_memory_equal(g->parent_id, c->span_id, 8);
    assert_memory_equal(g->trace_id, r->trace_id, 16);
    assert_memory_equal(e->parent_id, r->span_id, 8);
    assert_int_equal(e->kind, SL_KIND_PRODUCER);
    assert_memory_not_equal(o->trace_id, r->trace_id, 16);
    uint8_t zero[8] = {0};
    assert_memory_equal(o->parent_id, zero, 8);
    assert_memory_equal(m->trace_id, rc.trace_id, 16);
    assert_memory_equal(m->parent_id, rc.span_id, 8);
    /* a remote child is a local root: it carries the resource attributes;
     * a local child does not */
    assert_non_null(tcol_attr(bm, m->attr_first, m->attr_count, "host.name"));
    assert_null(tcol_attr(bc, c->attr_first, c->attr_count, "host.name"));
    /* the child ended inside the parent */
    assert_true(c->start_ns >= r->start_ns && c->end_ns <= r->end_ns);
}

static void test_logs(void **state)
{
    struct fx *f = *state;
    sl_span *s = sl_span_start("with-logs", SL_KIND_INTERNAL);
    sl_span *prev = sl_scope_enter(s);
    assert_int_equal(sl_log(SL_LEVEL_INFO, "charged %d cents", 1250), SL_OK);
    sl_attr la[] = {SL_ATTR_S("order.id", "o-17"), SL_ATTR_B("retry", 0)};
    assert_int_equal(sl_log_attrs(SL_LEVEL_ERROR, la, 2, "payment %s", "declined"), SL_OK);
    assert_int_equal(sl_log(SL_LEVEL_DEBUG, "below the minimum level"), SL_OK);
    assert_false(sl_log_enabled(SL_LEVEL_DEBUG));
    assert_true(sl_log_enabled(SL_LEVEL_WARN));
    sl_scope_exit(prev);
    assert_int_equal(sl_log(SL_LEVEL_WARN, "no span here"), SL_OK);
    /* a long body is truncated, not lost */
    char big[70000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sl_log(SL_LEVEL_INFO, "%s", big), SL_OK);
    sl_span_end(s);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(tcol_log_count(&f->store), 4);

    sl_context ctx;
    (void)ctx;
    int seen = 0;
    for (size_t k = 0; k < f->store.nbatches; k++) {
        const slc_batch *b = f->store.batches[k];
        uint32_t si;
        const slc_batch *sb = tcol_find_span(&f->store, "with-logs", &si);
        assert_non_null(sb);
        for (uint32_t i = 0; i < b->nlogs; i++) {
            const slc_log *l = &b->logs[i];
            assert_true(tcol_streq(b, l->service, "svc-test"));
            if (tcol_streq(b, l->body, "charged 1250 cents")) {
                assert_int_equal(l->level, SL_LEVEL_INFO);
                assert_int_equal(l->flags & SLC_LOG_F_TRACE, SLC_LOG_F_TRACE);
                assert_memory_equal(l->trace_id, sb->spans[si].trace_id, 16);
                assert_memory_equal(l->span_id, sb->spans[si].span_id, 8);
                seen |= 1;
            } else if (tcol_streq(b, l->body, "payment declined")) {
                assert_int_equal(l->level, SL_LEVEL_ERROR);
                const slc_attr *a = tcol_attr(b, l->attr_first, l->attr_count, "order.id");
                assert_non_null(a);
                assert_true(tcol_streq(b, a->v.str, "o-17"));
                assert_non_null(tcol_attr(b, l->attr_first, l->attr_count, "retry"));
                seen |= 2;
            } else if (tcol_streq(b, l->body, TCOL_STATS_BODY)) {
                continue;
            } else if (tcol_streq(b, l->body, "no span here")) {
                assert_int_equal(l->flags & SLC_LOG_F_TRACE, 0);
                seen |= 4;
            } else {
                assert_true(b->strs[l->body].len > 1000);
                assert_true(b->strs[l->body].len < 32768);
                seen |= 8;
            }
        }
    }
    assert_int_equal(seen, 15);
}

static void test_limits_and_utf8(void **state)
{
    struct fx *f = *state;
    sl_span *s = sl_span_start("limits", SL_KIND_INTERNAL);
    /* invalid UTF-8 must not get the frame rejected */
    assert_int_equal(sl_span_set_str(s, "bad.utf8", "ok\xff\xfe-end"), SL_OK);
    char longv[10000];
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    assert_int_equal(sl_span_set_str(s, "long", longv), SL_OK); /* truncated to 4096 */
    int rc = SL_OK, n = 0;
    while (rc == SL_OK && n < 1000) {
        rc = sl_span_set_str(s, "filler", longv);
        n++;
    }
    assert_int_equal(rc, SL_ETOOBIG); /* max_item_bytes reached */
    sl_span_record_errno(s, ECONNREFUSED);
    sl_span_end(s);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(f->store.nrejected_decode, 0);
    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "limits", &i);
    assert_non_null(b);
    const slc_span *sp = &b->spans[i];
    const slc_attr *a = tcol_attr(b, sp->attr_first, sp->attr_count, "bad.utf8");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "ok?" "?-end"));
    a = tcol_attr(b, sp->attr_first, sp->attr_count, "long");
    assert_int_equal(b->strs[a->v.str].len, 4096);
    assert_int_equal(sp->status, SL_STATUS_ERROR);
    a = tcol_attr(b, sp->attr_first, sp->attr_count, "error.type");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "ECONNREFUSED"));
    assert_int_equal(sp->event_count, 1);
    sl_stats st;
    sl_stats_get(&st);
    assert_true(st.attrs_dropped >= 1);
}

/* The ratio sampler must agree with OpenTelemetry's TraceIdRatioBased and
 * so with every other service of the trace. */
static void test_sampling_ratio(void **state)
{
    struct fx *f = *state;
    sl_shutdown(2000);
    sl_config c;
    base_config(&c, f->url);
    c.sampler = SL_SAMPLER_RATIO;
    c.sample_ratio = 0.25;
    assert_int_equal(sl_init(&c), SL_OK);
    uint64_t bound = (uint64_t)(0.25 * 9223372036854775808.0);
    int sampled = 0;
    for (int i = 0; i < 4000; i++) {
        sl_span *s = sl_span_start("r", SL_KIND_INTERNAL);
        sl_context ctx;
        assert_int_equal(sl_span_context(s, &ctx), SL_OK); /* unsampled spans propagate */
        uint64_t x = 0;
        for (int k = 8; k < 16; k++)
            x = (x << 8) | ctx.trace_id[k];
        int want = (x >> 1) < bound;
        assert_int_equal(sl_span_is_recording(s), want);
        assert_int_equal(ctx.flags & SL_FLAG_SAMPLED, want);
        /* children follow the root (parent-based) */
        sl_span *ch = sl_span_start_child("c", SL_KIND_INTERNAL, s);
        assert_int_equal(sl_span_is_recording(ch), want);
        sl_span_end(ch);
        sampled += want;
        sl_span_end(s);
    }
    assert_in_range(sampled, 800, 1200);
    /* a remote parent's decision wins over the ratio */
    sl_context rc;
    sl_traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &rc);
    sl_span *s = sl_span_start_remote("remote-sampled", SL_KIND_SERVER, &rc);
    assert_true(sl_span_is_recording(s));
    sl_span_end(s);
    sl_traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &rc);
    s = sl_span_start_remote("remote-unsampled", SL_KIND_SERVER, &rc);
    assert_false(sl_span_is_recording(s));
    sl_span_end(s);
    int frc = sl_flush(10000);
    if (frc != SL_OK) {
        sl_stats dbg;
        sl_stats_get(&dbg);
        fprintf(stderr, "flush: created %llu exported %llu sent %llu acked %llu retried %llu err %s\n",
                (unsigned long long)dbg.spans_created, (unsigned long long)dbg.spans_exported,
                (unsigned long long)dbg.frames_sent, (unsigned long long)dbg.frames_acked,
                (unsigned long long)dbg.frames_retried, dbg.last_error_msg);
    }
    assert_int_equal(frc, SL_OK);
    assert_int_equal(tcol_span_count(&f->store), (size_t)(2 * sampled + 1));
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_unsampled, (uint64_t)(2 * (4000 - sampled) + 1));
}

static void test_sampling_never_still_propagates(void **state)
{
    struct fx *f = *state;
    sl_shutdown(2000);
    sl_config c;
    base_config(&c, f->url);
    c.sampler = SL_SAMPLER_NEVER;
    assert_int_equal(sl_init(&c), SL_OK);
    sl_span *s = sl_span_start("never", SL_KIND_CLIENT);
    assert_false(sl_span_is_recording(s));
    assert_int_equal(sl_span_set_str(s, "k", "v"), SL_OK); /* no-op */
    char buf[64];
    sl_context ctx;
    assert_int_equal(sl_span_context(s, &ctx), SL_OK);
    assert_int_equal(sl_traceparent_format(&ctx, buf, sizeof(buf)), SL_OK);
    assert_int_equal(strlen(buf), 55);
    assert_string_equal(buf + 53, "00");
    sl_span_end(s);
    assert_int_equal(sl_flush(2000), SL_OK);
    assert_int_equal(tcol_span_count(&f->store), 0);
}

static void test_tracestate_inherited(void **state)
{
    (void)state;
    sl_context rc, out;
    sl_traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &rc);
    sl_tracestate_parse("rojo=1,congo=2", rc.tracestate, sizeof(rc.tracestate));
    rc.tracestate_len = (uint16_t)strlen(rc.tracestate);
    sl_span *s = sl_span_start_remote("ts", SL_KIND_SERVER, &rc);
    sl_span *ch = sl_span_start_child("ts-child", SL_KIND_CLIENT, s);
    assert_int_equal(sl_span_context(ch, &out), SL_OK);
    assert_string_equal(out.tracestate, "rojo=1,congo=2");
    assert_memory_equal(out.trace_id, rc.trace_id, 16);
    sl_span_end(ch);
    sl_span_end(s);
}

/* Keys, values and names in the caller's own buffers are copied when set
 * (the buffer may change or die right after); string literals are kept by
 * pointer.  Both must arrive as they were at the call. */
static void test_copied_and_literal_strings(void **state)
{
    struct fx *f = *state;
    char name[32], key[32], val[32], body[32];
    snprintf(name, sizeof(name), "dyn-name");
    snprintf(key, sizeof(key), "dyn.key");
    snprintf(val, sizeof(val), "dyn-value");
    snprintf(body, sizeof(body), "dyn body");
    sl_span *s = sl_span_start(name, SL_KIND_INTERNAL);
    assert_int_equal(sl_span_set_str(s, key, val), SL_OK);
    assert_int_equal(sl_span_set_str(s, "lit.key", "lit-value"), SL_OK);
    assert_int_equal(sl_span_set_str(s, key + 4, "lit-for-dyn-key"), SL_OK); /* "key" */
    assert_int_equal(sl_span_set_str(s, "lit.key2", val), SL_OK);
    assert_int_equal(sl_log(SL_LEVEL_INFO, body), SL_OK); /* not a literal: copied */
    /* overwrite every buffer before the span ends and is exported */
    memset(name, 'X', sizeof(name) - 1);
    memset(key, 'X', sizeof(key) - 1);
    memset(val, 'X', sizeof(val) - 1);
    memset(body, 'X', sizeof(body) - 1);
    /* the literal-key check still rejects bad keys */
    assert_int_equal(sl_span_set_int(s, "", 1), SL_EINVAL);
    static const char long_key[] =
        "k123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
        "890123456789012345678901234567890123456789012345678901234567890123456789012345678901234"
        "5678901234567890123456789012345678901234567890123456789012345678901234567890"
        "abcdefghijklmnopqrstuvwxyz";
    assert_true(strlen(long_key) > 255);
    assert_int_equal(sl_span_set_int(s, long_key, 1), SL_EINVAL);
    assert_int_equal(sl_span_set_int(s, long_key, 1), SL_EINVAL); /* never cached */
    sl_span_end(s);
    assert_int_equal(sl_flush(10000), SL_OK);

    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "dyn-name", &i);
    assert_non_null(b);
    const slc_span *sp = &b->spans[i];
    const slc_attr *a = tcol_attr(b, sp->attr_first, sp->attr_count, "dyn.key");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "dyn-value"));
    a = tcol_attr(b, sp->attr_first, sp->attr_count, "lit.key");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "lit-value"));
    a = tcol_attr(b, sp->attr_first, sp->attr_count, "key");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "lit-for-dyn-key"));
    a = tcol_attr(b, sp->attr_first, sp->attr_count, "lit.key2");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "dyn-value"));
    assert_int_equal(sp->attr_count, 4 + 2); /* + service.version, host.name of a local root */
    int found = 0;
    for (size_t k = 0; k < f->store.nbatches; k++)
        for (uint32_t j = 0; j < f->store.batches[k]->nlogs; j++)
            found += tcol_streq(f->store.batches[k], f->store.batches[k]->logs[j].body, "dyn body");
    assert_int_equal(found, 1);
}

/* Timestamps: the hot path reads the TSC when it can; the exporter turns
 * ticks into Unix ns.  They must agree with the wall clock. */
static void test_timestamps(void **state)
{
    struct fx *f = *state;
    uint64_t before = slc_now_ns();
    sl_span *s = sl_span_start("timed", SL_KIND_INTERNAL);
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sl_span_add_event(s, "mid", NULL, 0);
    nanosleep(&ts, NULL);
    sl_span_end(s);
    uint64_t after = slc_now_ns();
    sl_span *e = sl_span_start("explicit-end", SL_KIND_INTERNAL);
    sl_span_end_at(e, after + 5000000); /* 5 ms in the future, as given */
    assert_int_equal(sl_flush(10000), SL_OK);
    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "timed", &i);
    assert_non_null(b);
    const slc_span *sp = &b->spans[i];
    /* within the bracket, allowing 1 ms for the tick conversion */
    assert_true(sp->start_ns + 1000000 >= before);
    assert_true(sp->end_ns <= after + 1000000);
    uint64_t d = sp->end_ns - sp->start_ns;
    assert_true(d >= 59000000 && d < 1000000000);
    assert_int_equal(sp->event_count, 1);
    const slc_event *ev = &b->events[sp->event_first];
    assert_true(ev->time_ns >= sp->start_ns + 29000000 && ev->time_ns <= sp->end_ns);
    b = tcol_find_span(&f->store, "explicit-end", &i);
    assert_non_null(b);
    assert_int_equal(b->spans[i].end_ns, after + 5000000);
}

struct xthread {
    sl_span *span;
    int started_here;
};

static void *end_elsewhere(void *arg)
{
    struct xthread *x = arg;
    if (x->started_here) {
        /* a thread that starts a span and exits without ending it */
        x->span = sl_span_start("orphaned", SL_KIND_INTERNAL);
        sl_span_set_int(x->span, "n", 2);
        return NULL;
    }
    sl_span_set_str(x->span, "ended.by", "other thread");
    sl_span_end(x->span);
    return NULL;
}

/* A span may end on another thread, and outlive the thread that started it. */
static void test_cross_thread_end(void **state)
{
    struct fx *f = *state;
    struct xthread x = {.span = sl_span_start("handed-over", SL_KIND_INTERNAL)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, end_elsewhere, &x), 0);
    pthread_join(th, NULL);
    struct xthread y = {.started_here = 1};
    assert_int_equal(pthread_create(&th, NULL, end_elsewhere, &y), 0);
    pthread_join(th, NULL);
    sl_span_set_str(y.span, "ended.by", "main");
    sl_span_end(y.span);
    /* the slots went back to their owners: many more spans still work */
    for (int k = 0; k < 1000; k++) {
        x.span = sl_span_start("handed-over-again", SL_KIND_INTERNAL);
        assert_int_equal(pthread_create(&th, NULL, end_elsewhere, &x), 0);
        pthread_join(th, NULL);
    }
    assert_int_equal(sl_flush(10000), SL_OK);
    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "handed-over", &i);
    assert_non_null(b);
    const slc_attr *a = tcol_attr(b, b->spans[i].attr_first, b->spans[i].attr_count, "ended.by");
    assert_non_null(a);
    assert_true(tcol_streq(b, a->v.str, "other thread"));
    b = tcol_find_span(&f->store, "orphaned", &i);
    assert_non_null(b);
    assert_non_null(tcol_attr(b, b->spans[i].attr_first, b->spans[i].attr_count, "n"));
    assert_int_equal(tcol_span_count(&f->store), 1002);
}

static void test_not_initialised_is_inert(void **state)
{
    (void)state;
    /* no fixture: the SDK is off */
    assert_false(sl_is_running());
    sl_span *s = sl_span_start("x", SL_KIND_SERVER);
    assert_non_null(s);
    assert_false(sl_span_is_recording(s));
    assert_int_equal(sl_span_set_int(s, "a", 1), SL_OK);
    sl_context ctx;
    assert_int_equal(sl_span_context(s, &ctx), SL_EINVAL);
    assert_int_equal(sl_log(SL_LEVEL_ERROR, "nobody listens"), SL_ESTATE);
    assert_int_equal(sl_flush(10), SL_ESTATE);
    assert_int_equal(sl_shutdown(10), SL_ESTATE);
    sl_span_end(s);

    sl_config c;
    sl_config_default(&c);
    c.sample_ratio = 2.0;
    c.sampler = SL_SAMPLER_RATIO;
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.last_error, SL_ECONFIG);
    assert_non_null(strstr(st.last_error_msg, "sample_ratio"));
    sl_config_default(&c);
    c.endpoint = "bogus://nowhere";
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "bogus://nowhere"));
    assert_false(sl_is_running());
}

static void test_env_config(void **state)
{
    (void)state;
    sl_config c;
    char err[256];
    sl_config_default(&c);
    setenv("SIGHTLINE_ENDPOINT", "ipc:///tmp/x.sock", 1);
    setenv("SIGHTLINE_SERVICE_NAME", "from-env", 1);
    setenv("SIGHTLINE_SAMPLE_RATIO", "0.5", 1);
    setenv("SIGHTLINE_TOKEN", "s3cret", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_OK);
    assert_string_equal(c.endpoint, "ipc:///tmp/x.sock");
    assert_string_equal(c.service_name, "from-env");
    assert_string_equal(c.token, "s3cret");
    assert_int_equal(c.sampler, SL_SAMPLER_RATIO);
    assert_true(c.sample_ratio == 0.5);
    setenv("SIGHTLINE_SAMPLE_RATIO", "1.5", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_ECONFIG);
    assert_non_null(strstr(err, "SIGHTLINE_SAMPLE_RATIO"));
    setenv("SIGHTLINE_SAMPLE_RATIO", "abc", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_ECONFIG);
    unsetenv("SIGHTLINE_SAMPLE_RATIO");
    setenv("SIGHTLINE_BATCH_DELAY_MS", "0", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_ECONFIG);
    unsetenv("SIGHTLINE_BATCH_DELAY_MS");
    setenv("SIGHTLINE_COMPRESSION", "none", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_OK);
    assert_int_equal(c.compression, -1);
    setenv("SIGHTLINE_COMPRESSION", "6", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_OK);
    assert_int_equal(c.compression, 6);
    setenv("SIGHTLINE_COMPRESSION", "fast", 1);
    assert_int_equal(sl_config_from_env(&c, err, sizeof(err)), SL_ECONFIG);
    assert_non_null(strstr(err, "SIGHTLINE_COMPRESSION"));
    unsetenv("SIGHTLINE_COMPRESSION");
    unsetenv("SIGHTLINE_ENDPOINT");
    unsetenv("SIGHTLINE_SERVICE_NAME");
    unsetenv("SIGHTLINE_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_span_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parenting_and_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampling_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampling_never_still_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracestate_inherited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copied_and_literal_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_thread_end, setup, teardown),
        cmocka_unit_test(test_not_initialised_is_inert),
        cmocka_unit_test(test_env_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
