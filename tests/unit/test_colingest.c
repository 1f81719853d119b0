/*
 * test_colingest.c - ingest end to end in-process: a real nng rep socket on
 * ipc:// (and tcp://) in a temp dir, real req clients, real RocksDB.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "ingest/ingest.h"
#include "ingest/otlp.h"
#include "sightline.h"
#include "stats.h"
#include "store/store.h"
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


/* ---- review fixes --------------------------------------------------------- */

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan the address-space cap below cannot work (the shadow memory
 * reserves terabytes); ASan's own allocator refuses the 1 GiB instead. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=768";
}
#endif

/* Header-level rejections (version, magic, flags, header checksum) echo
 * the batch id bytes 8..15 as sent. */
static void test_header_reject_echoes_batch_id(void **state)
{
    struct fx *f = *state;
    uint8_t *frame;
    size_t len;
    slc_ack ack;

    tu_trace_frame(0xabcdef0123456789ULL, 41, T0, &frame, &len);
    frame[4] = 9; /* version */
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.err, SL_EWIRE_VERSION);
    assert_int_equal(ack.batch_id, 0xabcdef0123456789ULL);
    frame[4] = SLC_WIRE_VERSION;
    frame[30] ^= 1; /* header checksum */
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.err, SL_EWIRE_CHECKSUM);
    assert_int_equal(ack.batch_id, 0xabcdef0123456789ULL);
    frame[30] ^= 1;
    frame[0] = 'X'; /* magic */
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.err, SL_EWIRE_MAGIC);
    assert_int_equal(ack.batch_id, 0xabcdef0123456789ULL);
    /* under 16 bytes there is no id to echo */
    send_frame(f->req, frame, 12, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED);
    assert_int_equal(ack.batch_id, 0);
    free(frame);
}

/* A decoder out of memory is the collector's trouble: RETRY, not REJECTED
 * (the sender would drop the data for good).  The process's address space
 * is capped so the decoder's payload allocation fails. */
static void test_decode_enomem_is_retry(void **state)
{
    struct fx *f = *state;
    static const uint8_t raw[] = {1, 0, 0, 0}; /* "" only, no spans, no logs */
    uint8_t frame[SLC_WIRE_HEADER_LEN + 64];
    uLongf zl = 64;
    slc_wire_limits lim;
    struct rlimit old, lo;
    slc_ack ack;
    FILE *fp;
    unsigned long vm_pages = 0;

    assert_int_equal(compress2(frame + SLC_WIRE_HEADER_LEN, &zl, raw, 3, 1), Z_OK);
    memset(frame, 0, SLC_WIRE_HEADER_LEN);
    memcpy(frame, SLC_WIRE_MAGIC, 4);
    frame[4] = SLC_WIRE_VERSION;
    frame[5] = SLC_WIRE_F_ZLIB;
    frame[8] = 0x5a;
    le32(frame + 16, (uint32_t)zl);
    le32(frame + 20, 1u << 30); /* announces 1 GiB inflated */
    le32(frame + 24, (uint32_t)crc32(0L, frame + SLC_WIRE_HEADER_LEN, (uInt)zl));
    le32(frame + 28, (uint32_t)crc32(0L, frame, 28));
    slc_wire_limits_default(&lim);
    lim.payload_bytes = 1u << 30;
    lim.decoded_bytes = UINT32_MAX;

    fp = fopen("/proc/self/statm", "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%lu", &vm_pages), 1);
    fclose(fp);
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    lo = old;
    lo.rlim_cur = (rlim_t)vm_pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20);
#if !defined(__SANITIZE_ADDRESS__)
    assert_int_equal(setrlimit(RLIMIT_AS, &lo), 0);
#else
    (void)lo;
#endif
    col_ingest_handle(f->store, &f->stats, &lim, frame, SLC_WIRE_HEADER_LEN + zl, &ack);
#if !defined(__SANITIZE_ADDRESS__)
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
#endif
    assert_int_equal(ack.status, SLC_ACK_RETRY);
    assert_int_equal(ack.err, SL_ENOMEM);
    assert_int_equal(ack.batch_id, 0x5a);
    assert_non_null(strstr(ack.reason, "retry"));
    assert_int_equal(atomic_load(&f->stats.rejected), 0);
    assert_int_equal(atomic_load(&f->stats.retry_memory), 1);
    /* and the batch was not marked stored: with memory back, it is stored */
    col_ingest_handle(f->store, &f->stats, NULL, frame, SLC_WIRE_HEADER_LEN + zl, &ack);
    assert_int_equal(ack.status, SLC_ACK_REJECTED); /* over the default payload limit */
    assert_int_equal(ack.err, SL_EWIRE_LIMIT);
}

/* ---- ingest tokens ---------------------------------------------------------- */

static const char *const fx_tokens[] = {"alpha-token-1", "second-token-2"};

/* Starts ingest on url with tokens (may be 0) and TLS files (may be NULL);
 * dials a req socket unless dial is 0. */
static int fx_start(struct fx *f, const char *url, const char *const *tokens, int ntokens,
                    const char *cert, const char *key)
{
    char err[512], data[300];
    const char *urls[1] = {url};
    col_ingest_opts o = {0};

    f->dir = tu_tmpdir();
    snprintf(data, sizeof data, "%s/data", f->dir);
    snprintf(f->url, sizeof f->url, "%s", url);
    if (col_store_open(data, NULL, &f->store, err, sizeof err) != 0)
        return -1;
    col_stats_init(&f->stats);
    o.urls = urls;
    o.nurls = 1;
    o.workers = 2;
    slc_wire_limits_default(&o.limits);
    o.tokens = tokens;
    o.ntokens = ntokens;
    o.tls_cert = cert;
    o.tls_key = key;
    if (col_ingest_start(&o, f->store, &f->stats, &f->in, err, sizeof err) != 0) {
        fprintf(stderr, "ingest: %s\n", err);
        return -1;
    }
    return 0;
}

static int free_port(void);

static int setup_tokens(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char url[300];

    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
    if (fx_start(f, url, fx_tokens, 2, NULL, NULL) != 0)
        return -1;
    if (nng_req0_open(&f->req) != 0 || nng_dial(f->req, f->url, NULL, 0) != 0)
        return -1;
    nng_socket_set_ms(f->req, NNG_OPT_RECVTIMEO, 10000);
    *state = f;
    return 0;
}

static void tok_frame(uint64_t bid, uint64_t seed, const char *tok, uint8_t **out, size_t *len)
{
    uint8_t *plain;
    size_t n;
    slc_batch *b = NULL;
    char msg[128];

    tu_trace_frame(bid, seed, T0, &plain, &n);
    if (tok == NULL) {
        *out = plain;
        *len = n;
        return;
    }
    assert_int_equal(slc_wire_decode(plain, n, NULL, &b, msg, sizeof msg), 0);
    assert_int_equal(slc_wire_encode_token(b, 1, tok, strlen(tok), out, len), 0);
    slc_batch_free(b);
    free(plain);
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    uint8_t *frame, tid[16];
    size_t len;
    slc_ack ack;
    slc_batch *got = NULL;

    /* no token */
    tok_frame(0x501, 51, NULL, &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_UNAUTHORIZED);
    assert_int_equal(ack.err, SL_EAUTH);
    assert_int_equal(ack.batch_id, 0x501);
    assert_non_null(strstr(ack.reason, "requires an ingest token"));
    free(frame);
    /* wrong token; a prefix of a right one; a right one plus a byte */
    static const char *const wrong[] = {"nope", "alpha-token-", "alpha-token-1x", "Alpha-token-1"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        tok_frame(0x502, 52, wrong[i], &frame, &len);
        send_frame(f->req, frame, len, &ack);
        assert_int_equal(ack.status, SLC_ACK_UNAUTHORIZED);
        assert_non_null(strstr(ack.reason, "not accepted"));
        free(frame);
    }
    assert_int_equal(atomic_load(&f->stats.unauthorized), 5);
    assert_int_equal(atomic_load(&f->stats.frames_stored), 0);
    /* either configured token is accepted */
    tok_frame(0x503, 53, "second-token-2", &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    assert_int_equal(ack.spans, 3);
    free(frame);
    /* the same batch with the other token is a duplicate: the token is not
     * part of what is stored or deduplicated */
    tok_frame(0x503, 53, "alpha-token-1", &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_DUPLICATE);
    free(frame);
    tu_id(tid, 16, 53);
    assert_int_equal(col_store_read_trace(f->store, tid, 0, &got, NULL), 0);
    assert_int_equal(got->nspans, 3);
    slc_batch_free(got);

    /* the HTTP receivers check Authorization: Bearer against the same set */
    {
        col_recv_resp resp;
        memset(&resp, 0, sizeof resp);
        assert_int_equal(col_recv_authorize(f->in, &f->stats, COL_RECV_OTLP_TRACES,
                                            "application/json", "Bearer second-token-2", &resp),
                         0);
        assert_int_equal(col_recv_authorize(f->in, &f->stats, COL_RECV_OTLP_TRACES,
                                            "application/json", "bearer  alpha-token-1 ", &resp),
                         0);
        assert_int_equal(col_recv_authorize(f->in, &f->stats, COL_RECV_OTLP_TRACES,
                                            "application/json", NULL, &resp),
                         SL_EAUTH);
        assert_int_equal(resp.status, 401);
        assert_non_null(resp.body);
        assert_non_null(strstr((const char *)resp.body, "Authorization: Bearer"));
        free(resp.body);
        memset(&resp, 0, sizeof resp);
        assert_int_equal(col_recv_authorize(f->in, &f->stats, COL_RECV_ZIPKIN, NULL,
                                            "Bearer alpha-token-2", &resp),
                         SL_EAUTH);
        assert_int_equal(resp.status, 401);
        free(resp.body);
        memset(&resp, 0, sizeof resp);
        assert_int_equal(col_recv_authorize(f->in, &f->stats, COL_RECV_ZIPKIN, NULL,
                                            "Basic YWxwaGEtdG9rZW4tMQ==", &resp),
                         SL_EAUTH);
        free(resp.body);
        assert_int_equal(atomic_load(&f->stats.unauthorized), 8);
    }
    /* tokens replaced at run time (SIGHUP): the old one stops working */
    static const char *const next[] = {"rotated"};
    assert_int_equal(col_ingest_set_tokens(f->in, next, 1), 0);
    tok_frame(0x504, 54, "alpha-token-1", &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_UNAUTHORIZED);
    free(frame);
    tok_frame(0x504, 54, "rotated", &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    free(frame);
    /* no tokens: open again, and a frame with a token is still accepted */
    assert_int_equal(col_ingest_set_tokens(f->in, NULL, 0), 0);
    assert_int_equal(col_ingest_token_ok(f->in, NULL, 0), 1);
    tok_frame(0x505, 55, "anything", &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    free(frame);
    /* bad token sets are refused, nothing changed */
    static const char *const bad[] = {""};
    assert_int_equal(col_ingest_set_tokens(f->in, bad, 1), SL_EINVAL);
}

static void test_url_is_local(void **state)
{
    (void)state;
    assert_true(col_ingest_url_is_local("tcp://127.0.0.1:4318"));
    assert_true(col_ingest_url_is_local("tcp://localhost:4318"));
    assert_true(col_ingest_url_is_local("tls+tcp://[::1]:4318"));
    assert_true(col_ingest_url_is_local("ipc:///tmp/x.ipc"));
    assert_false(col_ingest_url_is_local("tcp://0.0.0.0:4318"));
    assert_false(col_ingest_url_is_local("tcp://*:4318"));
    assert_false(col_ingest_url_is_local("tcp://:4318"));
    assert_false(col_ingest_url_is_local("tls+tcp://10.1.2.3:4318"));
    assert_false(col_ingest_url_is_local("tcp://127.example.com:1"));
}

/* ---- TLS -------------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    if (fp == NULL || buf == NULL)
        return NULL;
    if (fread(buf, 1, 65535, fp) == 0) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static void test_tls_ingest(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof *f);
    char *d = tu_tmpdir(), cmd[2048], cert[400], key[400], url[128];
    char *ca;
    nng_tls_config *cfg = NULL;
    nng_dialer dl;
    uint8_t *frame;
    size_t len;
    slc_ack ack;
    int port = free_port();

    assert_true(port > 0);
    snprintf(cert, sizeof cert, "%s/cert.pem", d);
    snprintf(key, sizeof key, "%s/key.pem", d);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s "
             ">/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        tu_rmtree(d);
        free(f);
        skip(); /* no openssl */
    }
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", port);

    /* without a certificate: a clear error, nothing listening */
    {
        struct fx g = {0};
        assert_int_not_equal(fx_start(&g, url, NULL, 0, NULL, NULL), 0);
        col_store_close(g.store);
        tu_rmtree(g.dir);
    }
    assert_int_equal(fx_start(f, url, fx_tokens, 1, cert, key), 0);

    /* a real nng client that verifies the server's certificate */
    ca = slurp(cert);
    assert_non_null(ca);
    assert_int_equal(nng_req0_open(&f->req), 0);
    assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
    assert_int_equal(nng_tls_config_ca_chain(cfg, ca, NULL), 0);
    assert_int_equal(nng_tls_config_server_name(cfg, "localhost"), 0);
    assert_int_equal(nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED), 0);
    assert_int_equal(nng_dialer_create(&dl, f->req, url), 0);
    assert_int_equal(nng_dialer_set_ptr(dl, NNG_OPT_TLS_CONFIG, cfg), 0);
    assert_int_equal(nng_dialer_start(dl, 0), 0);
    nng_socket_set_ms(f->req, NNG_OPT_RECVTIMEO, 10000);

    tok_frame(0x7151, 71, fx_tokens[0], &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    assert_int_equal(ack.spans, 3);
    free(frame);
    tok_frame(0x7152, 72, NULL, &frame, &len);
    send_frame(f->req, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_UNAUTHORIZED);
    free(frame);

    /* a plain tcp client gets nothing from the TLS port */
    {
        nng_socket plain;
        void *buf = NULL;
        size_t n = 0;
        char purl[128];
        snprintf(purl, sizeof purl, "tcp://127.0.0.1:%d", port);
        assert_int_equal(nng_req0_open(&plain), 0);
        nng_socket_set_ms(plain, NNG_OPT_RECVTIMEO, 500);
        nng_socket_set_ms(plain, NNG_OPT_SENDTIMEO, 500);
        assert_int_equal(nng_dial(plain, purl, NULL, NNG_FLAG_NONBLOCK), 0);
        tok_frame(0x7153, 73, fx_tokens[0], &frame, &len);
        if (nng_send(plain, frame, len, 0) == 0)
            assert_int_not_equal(nng_recv(plain, &buf, &n, NNG_FLAG_ALLOC), 0);
        free(frame);
        nng_close(plain);
    }
    assert_int_equal(atomic_load(&f->stats.frames_stored), 1);

    nng_close(f->req);
    nng_tls_config_free(cfg);
    free(ca);
    col_ingest_stop(f->in);
    col_store_close(f->store);
    tu_rmtree(f->dir);
    free(f);
    tu_rmtree(d);
}

/* ---- connection limit --------------------------------------------------- */

/* With max_conns = 3, a fourth connection is closed on arrival (and
 * counted), the three others keep getting acks, and once one of them
 * leaves the slot is free again. */
static void test_conn_limit(void **state)
{
    enum { LIMIT = 3 };
    struct fx f = {0};
    char err[512], data[300], url[128];
    const char *urls[1] = {url};
    col_ingest_opts o = {0};
    nng_socket c[LIMIT], extra;
    uint8_t *frame;
    size_t len;
    slc_ack ack;
    void *buf = NULL;
    size_t n = 0;

    (void)state;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
    f.dir = tu_tmpdir();
    snprintf(data, sizeof data, "%s/data", f.dir);
    assert_int_equal(col_store_open(data, NULL, &f.store, err, sizeof err), 0);
    col_stats_init(&f.stats);
    o.urls = urls;
    o.nurls = 1;
    o.workers = 2;
    slc_wire_limits_default(&o.limits);
    o.max_conns = LIMIT;
    assert_int_equal(col_ingest_start(&o, f.store, &f.stats, &f.in, err, sizeof err), 0);

    /* Each of the first LIMIT connections is in use (acked) before the next. */
    for (int i = 0; i < LIMIT; i++) {
        assert_int_equal(nng_req0_open(&c[i]), 0);
        nng_socket_set_ms(c[i], NNG_OPT_RECVTIMEO, 10000);
        assert_int_equal(nng_dial(c[i], url, NULL, 0), 0);
        tu_trace_frame(0xc000 + (uint64_t)i, 100 + (uint64_t)i, T0, &frame, &len);
        send_frame(c[i], frame, len, &ack);
        assert_int_equal(ack.status, SLC_ACK_STORED);
        free(frame);
    }
    assert_int_equal(atomic_load(&f.stats.conns_refused), 0);

    /* One more: closed on arrival, its frame never answered. */
    assert_int_equal(nng_req0_open(&extra), 0);
    nng_socket_set_ms(extra, NNG_OPT_RECVTIMEO, 700);
    nng_socket_set_ms(extra, NNG_OPT_SENDTIMEO, 700);
    nng_socket_set_ms(extra, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(extra, NNG_OPT_RECONNMAXT, 100);
    assert_int_equal(nng_dial(extra, url, NULL, NNG_FLAG_NONBLOCK), 0);
    tu_trace_frame(0xc0ff, 199, T0, &frame, &len);
    if (nng_send(extra, frame, len, 0) == 0)
        assert_int_not_equal(nng_recv(extra, &buf, &n, NNG_FLAG_ALLOC), 0);
    free(frame);
    for (int i = 0; i < 100 && atomic_load(&f.stats.conns_refused) == 0; i++)
        usleep(20000);
    assert_true(atomic_load(&f.stats.conns_refused) >= 1);

    /* The others are unaffected. */
    for (int i = 0; i < LIMIT; i++) {
        tu_trace_frame(0xc100 + (uint64_t)i, 110 + (uint64_t)i, T0, &frame, &len);
        send_frame(c[i], frame, len, &ack);
        assert_int_equal(ack.status, SLC_ACK_STORED);
        free(frame);
    }
    assert_int_equal(atomic_load(&f.stats.frames_stored), 2 * LIMIT);

    /* A slot freed is a slot reusable: the extra client, redialling, gets in. */
    nng_close(c[0]);
    nng_socket_set_ms(extra, NNG_OPT_RECVTIMEO, 10000);
    nng_socket_set_ms(extra, NNG_OPT_SENDTIMEO, 10000);
    tu_trace_frame(0xc1ff, 198, T0, &frame, &len);
    send_frame(extra, frame, len, &ack);
    assert_int_equal(ack.status, SLC_ACK_STORED);
    free(frame);

    nng_close(extra);
    for (int i = 1; i < LIMIT; i++)
        nng_close(c[i]);
    col_ingest_stop(f.in);
    col_store_close(f.store);
    tu_rmtree(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stored_then_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_reject_echoes_batch_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_enomem_is_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup_tokens, teardown),
        cmocka_unit_test(test_url_is_local),
        cmocka_unit_test(test_tls_ingest),
        cmocka_unit_test(test_conn_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
