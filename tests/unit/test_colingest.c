/*
 * test_colingest.c - ingest end to end in-process: a real nng rep socket on
 * ipc:// (and tcp://) in a temp dir, real req clients, real RocksDB.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "ingest.h"
#include "sightline.h"
#include "stats.h"
#include "store.h"
#include "test_colutil.h"

#define T0 1700000000000000000ULL

struct fx {
    char *dir;
    char url[300];
    col_store *store;
    col_stats stats;
    col_ingest *in;
    nng_socket req;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256], data[300];
    const char *urls[2];
    col_ingest_opts o = {0};

    f->dir = tu_tmpdir();
    snprintf(data, sizeof data, "%s/data", f->dir);
    snprintf(f->url, sizeof f->url, "ipc://%s/ingest.ipc", f->dir);
    if (col_store_open(data, NULL, &f->store, err, sizeof err) != 0)
        return -1;
    col_stats_init(&f->stats);
    urls[0] = f->url;
    urls[1] = "tcp://127.0.0.1:0";
    o.urls = urls;
    o.nurls = 2;
    o.workers = 3;
    slc_wire_limits_default(&o.limits);
    o.limits.spans = 50; /* small, to test limit rejections */
    o.limits.frame_bytes = 4096;
    if (col_ingest_start(&o, f->store, &f->stats, &f->in, err, sizeof err) != 0) {
        fprintf(stderr, "ingest: %s\n", err);
        return -1;
    }
    if (nng_req0_open(&f->req) != 0 || nng_dial(f->req, f->url, NULL, 0) != 0)
        return -1;
    nng_socket_set_ms(f->req, NNG_OPT_RECVTIMEO, 10000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nng_close(f->req);
    col_ingest_stop(f->in);
    col_store_close(f->store);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void send_frame(nng_socket s, const void *frame, size_t len, slc_ack *ack)
{
    void *buf = NULL;
    size_t n = 0;

    assert_int_equal(nng_send(s, (void *)frame, len, 0), 0);
    assert_int_equal(nng_recv(s, &buf, &n, NNG_FLAG_ALLOC), 0);
    memset(ack, 0, sizeof *ack);
    assert_int_equal(slc_ack_decode(buf, n, ack), 0);
    nng_free(buf, n);
}

static void test_stored_then_duplicate(void **state)
{
    struct fx *f = *state;
    uint8_t *frame, tid[16];
    size_t len;
    slc_ack ack;
    slc_batch *got = NULL;

    tu_trace_frame(0x1234, 5, T0, &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    assert_int_equal(ack.batch_id, 0x1234);
    assert_int_equal(ack.spans, 3);
    assert_int_equal(ack.logs, 1);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_DUPLICATE);
    assert_int_equal(ack.batch_id, 0x1234);
    free(frame);

    tu_id(tid, 16, 5);
    assert_int_equal(col_store_read_trace(f->store, tid, 0, &got, NULL), 0);
    assert_int_equal(got->nspans, 3); /* stored once */
    slc_batch_free(got);
    assert_int_equal(atomic_load(&f->stats.frames_stored), 1);
    assert_int_equal(atomic_load(&f->stats.duplicates), 1);
    assert_int_equal(atomic_load(&f->stats.spans_stored), 3);
}

static void test_rejections(void **state)
{
    struct fx *f = *state;
    uint8_t *frame;
    size_t len;
    slc_ack ack;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789";

    send_frame(f->req, junk, sizeof junk - 1, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_MAGIC);
    assert_non_null(strstr(ack.reason, "magic"));

    /* Truncated: the header announces more bytes than arrive. */
    tu_trace_frame(0x77, 6, T0, &frame, &len);
    send_frame(f->req, frame, len - 5, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_TRUNCATED);
    assert_non_null(strstr(ack.reason, "announced"));

    /* A flipped payload byte fails the checksum. */
    frame[len - 3] ^= 0x55;
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_CHECKSUM);
    assert_int_equal(ack.batch_id, 0x77);
    free(frame);

    /* Over the configured span limit (50). */
    slc_batch *b = slc_batch_new();
    uint8_t tid[16], sid[8];
    tu_id(tid, 16, 7);
    b->batch_id = 0x78;
    for (int i = 0; i < 51; i++) {
        tu_id(sid, 8, (uint64_t)i + 1);
        tu_span(b, tid, sid, NULL, "svc", "op", T0, 1, 0);
    }
    tu_encode(b, &frame, &len);
    slc_batch_free(b);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_LIMIT);
    assert_non_null(strstr(ack.reason, "span"));
    free(frame);

    /* Over the frame size limit (4096): an incompressible 6000-byte log body. */
    char body[6001];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 6000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        body[i] = (char)('!' + x % 94);
    }
    body[6000] = '\0';
    b = slc_batch_new();
    b->batch_id = 0x79;
    tu_log(b, NULL, NULL, "svc", body, T0);
    tu_encode(b, &frame, &len);
    slc_batch_free(b);
    assert_true(len > 4096 && len < 8192);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_LIMIT);
    assert_non_null(strstr(ack.reason, "4096"));
    free(frame);

    assert_int_equal(atomic_load(&f->stats.rejected), 5);
    assert_int_equal(atomic_load(&f->stats.rejected_by[COL_REJ_MAGIC]), 1);
    assert_int_equal(atomic_load(&f->stats.rejected_by[COL_REJ_TRUNCATED]), 1);
    assert_int_equal(atomic_load(&f->stats.rejected_by[COL_REJ_CHECKSUM]), 1);
    assert_int_equal(atomic_load(&f->stats.rejected_by[COL_REJ_LIMIT]), 2);
    assert_int_equal(atomic_load(&f->stats.frames_stored), 0);
}

struct sender {
    const char *url;
    int id, frames, stored;
};

/* One client: its own req socket with several contexts' worth of frames. */
static void *sender_main(void *arg)
{
    struct sender *s = arg;
    nng_socket sock;

    if (nng_req0_open(&sock) != 0 || nng_dial(sock, s->url, NULL, 0) != 0)
        return NULL;
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 20000);
    for (int i = 0; i < s->frames; i++) {
        uint8_t *frame;
        size_t len, n = 0;
        void *buf = NULL;
        slc_ack ack;
        uint64_t seed = (uint64_t)s->id * 100000 + (uint64_t)i + 1;

        tu_trace_frame(seed, seed, T0 + seed, &frame, &len);
        if (nng_send(sock, frame, len, 0) == 0 && nng_recv(sock, &buf, &n, NNG_FLAG_ALLOC) == 0) {
            if (slc_ack_decode(buf, n, &ack) == 0 && ack.status == SLC_ACK_STORED)
                s->stored++;
            nng_free(buf, n);
        }
        free(frame);
    }
    nng_close(sock);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    struct fx *f = *state;
    enum { NCLIENTS = 6, NFRAMES = 40 };
    struct sender s[NCLIENTS];
    pthread_t th[NCLIENTS];

    for (int i = 0; i < NCLIENTS; i++) {
        s[i] = (struct sender){.url = f->url, .id = i + 1, .frames = NFRAMES};
        assert_int_equal(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].stored, NFRAMES);
    }
    assert_int_equal(atomic_load(&f->stats.frames_stored), NCLIENTS * NFRAMES);
    assert_int_equal(atomic_load(&f->stats.spans_stored), NCLIENTS * NFRAMES * 3);
    assert_int_equal(atomic_load(&f->stats.write_count), NCLIENTS * NFRAMES);
    /* Every trace is readable. */
    for (int i = 0; i < NCLIENTS; i++)
        for (int j = 0; j < NFRAMES; j += 13) {
            uint8_t tid[16];
            slc_batch *got = NULL;
            tu_id(tid, 16, (uint64_t)(i + 1) * 100000 + (uint64_t)j + 1);
            assert_int_equal(col_store_read_trace(f->store, tid, 0, &got, NULL), 0);
            assert_int_equal(got->nspans, 3);
            slc_batch_free(got);
        }
}

/* Stop while clients are idle and connected: returns promptly, store intact. */
static void test_stop_is_prompt(void **state)
{
    struct fx *f = *state;
    uint8_t *frame;
    size_t len;
    slc_ack ack;

    tu_trace_frame(0x99, 99, T0, &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    free(frame);
    uint64_t t = slc_now_ns();
    col_ingest_stop(f->in);
    f->in = NULL;
    assert_true(slc_now_ns() - t < 2000000000ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stored_then_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
