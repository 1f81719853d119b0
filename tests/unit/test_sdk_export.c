/*
 * test_sdk_export.c - the exporter against a collector that is absent, that
 * acks, that asks to retry, that rejects, and that dies and comes back;
 * plus many threads at once.  Every span created is either stored exactly
 * once or counted as dropped, and memory stays under the budget.
 */
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

static void cfg(sl_config *c, const char *url)
{
    sl_config_default(c);
    c->endpoint = url;
    c->service_name = "exp-test";
    c->batch_delay_ms = 10;
    c->ack_timeout_ms = 500;
    c->retry_min_ms = 20;
    c->retry_max_ms = 200;
    c->breaker_open_ms = 300;
}

static uint64_t ms_now(void) { return slc_now_ns() / 1000000ull; }

/* Number of distinct span ids stored (a duplicate would be counted twice in
 * tcol_span_count but once here). */
static size_t distinct_spans(struct tcol_store *s)
{
    size_t n = 0, cap = 0;
    uint64_t *ids = NULL;
    for (size_t k = 0; k < s->nbatches; k++) {
        const slc_batch *b = s->batches[k];
        for (uint32_t i = 0; i < b->nspans; i++) {
            uint64_t id;
            memcpy(&id, b->spans[i].span_id, 8);
            int dup = 0;
            for (size_t j = 0; j < n && !dup; j++)
                dup = ids[j] == id;
            if (dup)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                ids = realloc(ids, cap * sizeof(*ids));
            }
            ids[n++] = id;
        }
    }
    free(ids);
    return n;
}

static void make_spans(int n)
{
    for (int i = 0; i < n; i++) {
        sl_span *s = sl_span_start("work", SL_KIND_INTERNAL);
        sl_span_set_int(s, "i", i);
        sl_span_set_str(s, "k", "some value");
        sl_span_end(s);
    }
}

static void test_absent_collector(void **state)
{
    (void)state;
    char url[128];
    tcol_url(url, sizeof(url)); /* nobody listens there */
    sl_config c;
    cfg(&c, url);
    c.memory_budget = 2u << 20;
    c.thread_queue = 1024;
    uint64_t t0 = ms_now();
    assert_int_equal(sl_init(&c), SL_OK);
    assert_true(ms_now() - t0 < 500); /* the dial never blocks start-up */

    /* The host keeps running at full speed: 300k spans take well under a
     * second per 100k even with nothing to send to. */
    t0 = ms_now();
    make_spans(300000);
    uint64_t took = ms_now() - t0;
    assert_true(took < 5000);
    sl_stats st;
    sl_stats_get(&st);
    assert_true(st.memory_used <= st.memory_budget);
    assert_true(st.spans_dropped > 0);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(sl_flush(100), SL_ETIMEDOUT);

    t0 = ms_now();
    assert_int_equal(sl_shutdown(300), SL_ETIMEDOUT);
    assert_true(ms_now() - t0 < 3000);
    sl_stats_get(&st);
    assert_int_equal(st.spans_created, 300000);
    /* nothing vanished: every span is counted as dropped, for a reason */
    assert_int_equal(st.spans_dropped, 300000);
    assert_true(st.spans_dropped_by[SL_DROP_SHUTDOWN] > 0);
    assert_true(st.spans_dropped_by[SL_DROP_BUDGET] + st.spans_dropped_by[SL_DROP_QUEUE] > 0);
    assert_int_equal(st.last_error, SL_ETIMEDOUT);
    assert_non_null(strstr(st.last_error_msg, url));
}

static void test_delivery_exactly_once(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    sl_config c;
    cfg(&c, url);
    c.thread_queue = 32768; /* the burst below fits whatever the scheduling */
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(20000);
    for (int i = 0; i < 100; i++)
        sl_log(SL_LEVEL_INFO, "line %d", i);
    assert_int_equal(sl_shutdown(10000), SL_OK);
    assert_int_equal(tcol_span_count(&store), 20000);
    assert_int_equal(distinct_spans(&store), 20000);
    assert_int_equal(tcol_log_count(&store), 100);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_exported, 20000);
    assert_int_equal(st.logs_exported, 100);
    assert_int_equal(st.spans_dropped, 0);
    assert_true(st.frames_acked >= 2); /* cut at batch_bytes: more than one frame */
    assert_int_equal(st.frames_queued, 0);
    tcol_stop(&col);
    tcol_store_free(&store);
}

static void test_retry_resends_same_batch(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    col.retry_first = 2;
    sl_config c;
    cfg(&c, url);
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(10);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(tcol_span_count(&store), 10);
    /* the collector saw one batch id three times: RETRY, RETRY, STORED */
    pthread_mutex_lock(&store.mu);
    assert_int_equal(store.nseen, 3);
    assert_true(store.seen[0] == store.seen[1] && store.seen[1] == store.seen[2]);
    assert_true(store.batches[0]->batch_id == store.seen[0]);
    pthread_mutex_unlock(&store.mu);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.frames_retried, 2);
    assert_int_equal(st.spans_exported, 10);
    assert_int_equal(sl_shutdown(2000), SL_OK);
    tcol_stop(&col);
    tcol_store_free(&store);
}

static void test_rejected_is_dropped_with_reason(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    col.reject_all = 1;
    sl_config c;
    cfg(&c, url);
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(5);
    assert_int_equal(sl_flush(10000), SL_OK); /* resolved: rejected is final */
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_REJECTED], 5);
    assert_int_equal(st.last_error, SL_EWIRE_VALUE);
    assert_non_null(strstr(st.last_error_msg, "rejects everything"));
    assert_int_equal(store.nseen, 1); /* never retried */

    col.reject_all = 0;
    col.unauthorized = 1;
    make_spans(3);
    assert_int_equal(sl_flush(10000), SL_OK);
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_UNAUTHORIZED], 3);
    assert_int_equal(st.last_error, SL_EAUTH);
    assert_int_equal(sl_shutdown(2000), SL_OK);
    tcol_stop(&col);
    tcol_store_free(&store);
}

/* The collector dies mid-stream and comes back on the same address with
 * the same storage: everything created is stored exactly once. */
static void test_collector_restart(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    sl_config c;
    cfg(&c, url);
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(1000);
    assert_int_equal(sl_flush(10000), SL_OK);
    tcol_stop(&col);

    make_spans(1000); /* while it is down */
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sl_stats st;
    sl_stats_get(&st);
    assert_true(st.frames_queued >= 1);

    assert_int_equal(tcol_start(&col, url, &store), 0);
    assert_int_equal(sl_flush(15000), SL_OK);
    assert_int_equal(sl_shutdown(5000), SL_OK);
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped, 0);
    assert_int_equal(st.spans_exported, 2000);
    assert_int_equal(distinct_spans(&store), 2000);
    tcol_stop(&col);
    tcol_store_free(&store);
}

struct worker {
    int n;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        sl_span *s = sl_span_start("thread-work", SL_KIND_INTERNAL);
        sl_span *prev = sl_scope_enter(s);
        sl_span *ch = sl_span_start("thread-child", SL_KIND_CLIENT);
        sl_span_set_bool(ch, "ok", 1);
        if (i % 100 == 0)
            sl_log(SL_LEVEL_WARN, "thread log %d", i);
        sl_span_end(ch);
        sl_scope_exit(prev);
        sl_span_end(s);
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    sl_config c;
    cfg(&c, url);
    assert_int_equal(sl_init(&c), SL_OK);
    enum { NT = 8, PER = 3000 };
    pthread_t th[NT];
    struct worker w = {PER};
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    /* a second wave reuses the buffers the first wave's threads left */
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sl_shutdown(15000), SL_OK);
    sl_stats st;
    sl_stats_get(&st);
    size_t want = (size_t)2 * NT * PER * 2;
    assert_int_equal(st.spans_created, want);
    assert_int_equal(st.spans_exported + st.spans_dropped, want);
    assert_int_equal(tcol_span_count(&store), st.spans_exported);
    assert_int_equal(tcol_log_count(&store), st.logs_exported);
    assert_int_equal(st.logs_created, (uint64_t)2 * NT * (PER / 100));
    tcol_stop(&col);
    tcol_store_free(&store);
}

static int64_t stats_int(const slc_batch *b, const slc_log *l, const char *key)
{
    const slc_attr *a = tcol_attr(b, l->attr_first, l->attr_count, key);
    assert_non_null(a);
    assert_int_equal(a->type, SLC_V_INT);
    return a->v.i;
}

/* The SDK sends its own counters as a "sightline.sdk.stats" log record,
 * periodically and at shutdown, so a collector can show loss per service. */
static void test_stats_record(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    tcol_store_init(&store);
    tcol_url(url, sizeof(url));
    assert_int_equal(tcol_start(&col, url, &store), 0);
    sl_config c;
    cfg(&c, url);
    c.stats_interval_ms = 50;
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(500);
    sl_log(SL_LEVEL_WARN, "one user log");
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(sl_shutdown(10000), SL_OK);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.logs_exported, 1); /* stats records are not user logs */
    assert_int_equal(tcol_log_count(&store), 1);
    const slc_batch *b = NULL;
    int n = 0;
    for (size_t k = 0; k < store.nbatches; k++)
        for (uint32_t j = 0; j < store.batches[k]->nlogs; j++)
            n += tcol_streq(store.batches[k], store.batches[k]->logs[j].body, TCOL_STATS_BODY);
    assert_true(n >= 2); /* periodic ones and the final one */
    const slc_log *l = tcol_last_stats(&store, &b);
    assert_non_null(l);
    assert_true(tcol_streq(b, l->service, "exp-test"));
    assert_int_equal(stats_int(b, l, "sightline.sdk.spans.created"), 500);
    assert_int_equal(stats_int(b, l, "sightline.sdk.logs.created"), 1);
    assert_int_equal(stats_int(b, l, "sightline.sdk.spans.dropped"), 0);
    assert_int_equal(stats_int(b, l, "sightline.sdk.spans.dropped.queue"), 0);
    assert_int_equal(stats_int(b, l, "sightline.sdk.interval_ms"), 50);
    assert_true(stats_int(b, l, "sightline.sdk.spans.exported") <= 500);
    assert_true(stats_int(b, l, "sightline.sdk.memory.budget") > 0);
    const slc_attr *inst = tcol_attr(b, l->attr_first, l->attr_count, "sightline.sdk.instance");
    assert_non_null(inst);
    assert_int_equal(b->strs[inst->v.str].len, 16);
    tcol_stop(&col);
    tcol_store_free(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_collector),
        cmocka_unit_test(test_delivery_exactly_once),
        cmocka_unit_test(test_retry_resends_same_batch),
        cmocka_unit_test(test_rejected_is_dropped_with_reason),
        cmocka_unit_test(test_collector_restart),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_stats_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
