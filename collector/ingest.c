/*
 * ingest.c - nng listeners, workers and acknowledgements (see ingest.h).
 */
#include "ingest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <zlib.h>

#include "log.h"
#include "sightline.h"
#include "slc_util.h"

#define COL_RECV_POLL_MS 200 /* how often an idle worker checks for stop */
#define COL_SEND_TIMEOUT_MS 5000
#define COL_DECODE_FACTOR 6 /* decoded batch + index rows per wire byte, measured ~4-5 */

struct col_worker {
    struct col_ingest *in;
    pthread_t thread;
    int started;
    nng_ctx ctx;
    int ctx_open;
    nng_aio *aio;
};

struct col_ingest {
    nng_socket sock;
    int sock_open;
    atomic_int stop;
    col_store *store;
    col_stats *stats;
    pthread_mutex_t lim_mu;
    slc_wire_limits limits;
    uint64_t inflight_max;
    int nworkers;
    struct col_worker *workers;
};

static void col_reject(col_stats *st, slc_ack *ack, int err, enum col_reject_reason why,
                       const char *reason)
{
    ack->status = SLC_ACK_REJECTED;
    ack->err = err;
    snprintf(ack->reason, sizeof ack->reason, "%s", reason);
    atomic_fetch_add_explicit(&st->rejected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->rejected_by[why], 1, memory_order_relaxed);
}

static void col_retry(slc_ack *ack, int err, atomic_uint_fast64_t *why, col_stats *st,
                      const char *reason)
{
    ack->status = SLC_ACK_RETRY;
    ack->err = err;
    snprintf(ack->reason, sizeof ack->reason, "%s", reason);
    atomic_fetch_add_explicit(&st->retries, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(why, 1, memory_order_relaxed);
}

static uint64_t col_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void col_ingest_handle(col_store *store, col_stats *st, const slc_wire_limits *lim,
                       const uint8_t *frame, size_t len, slc_ack *ack)
{
    col_batch_key key;
    slc_batch *b = NULL;
    size_t flen = 0;
    char msg[192], why[SLC_ACK_MAX_REASON + 1];
    uint64_t t0;
    int rv;

    memset(ack, 0, sizeof *ack);
    atomic_fetch_add_explicit(&st->frames_received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->bytes_received, len, memory_order_relaxed);

    rv = slc_wire_peek(frame, len, &key.batch_id, &flen);
    if (rv != 0) {
        /* peek gives only the code; the decoder stops at the same header
         * check (before allocating) and explains it. */
        msg[0] = '\0';
        if (slc_wire_decode(frame, len, lim, &b, msg, sizeof msg) == 0)
            slc_batch_free(b);
        snprintf(why, sizeof why, "%s: %s", sl_strerror(rv), msg[0] ? msg : "bad frame header");
        col_reject(st, ack, rv, col_stats_reject_reason(rv), why);
        return;
    }
    ack->batch_id = key.batch_id;
    if (flen != len) {
        rv = flen > len ? SL_EWIRE_TRUNCATED : SL_EWIRE_TRAILING;
        snprintf(why, sizeof why, "frame header announces %zu bytes but the message has %zu",
                 flen, len);
        col_reject(st, ack, rv, COL_REJ_LENGTH, why);
        return;
    }
    key.crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), frame, (uInt)len);
    rv = col_store_claim(store, &key);
    if (rv == 1) {
        ack->status = SLC_ACK_DUPLICATE;
        atomic_fetch_add_explicit(&st->duplicates, 1, memory_order_relaxed);
        return;
    }
    if (rv == SL_EBUSY) {
        col_retry(ack, rv, &st->retry_inflight, st,
                  "the same batch is being stored right now; retry later");
        return;
    }
    if (rv != 0) {
        col_retry(ack, rv, &st->retry_store, st, "storage lookup failed; retry later");
        return;
    }
    rv = slc_wire_decode(frame, len, lim, &b, msg, sizeof msg);
    if (rv != 0) {
        snprintf(why, sizeof why, "%s: %s", sl_strerror(rv), msg);
        col_reject(st, ack, rv, col_stats_reject_reason(rv), why);
        goto out;
    }
    t0 = col_mono_ns();
    rv = col_store_write(store, &key, frame, len, b, msg, sizeof msg);
    if (rv == 0) {
        col_stats_write_latency(st, col_mono_ns() - t0);
        ack->status = SLC_ACK_STORED;
        ack->spans = b->nspans;
        ack->logs = b->nlogs;
        atomic_fetch_add_explicit(&st->frames_stored, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->bytes_stored, len, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->spans_stored, b->nspans, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->logs_stored, b->nlogs, memory_order_relaxed);
    } else if (rv == SL_EBUSY) {
        col_retry(ack, rv, &st->retry_busy, st, "storage is busy (write stall); retry later");
    } else {
        col_log(COL_LOG_ERROR, "batch %016llx not stored: %s", (unsigned long long)key.batch_id,
                msg);
        snprintf(why, sizeof why, "storage write failed (%s); retry later", sl_strerror(rv));
        col_retry(ack, rv, &st->retry_store, st, why);
    }
out:
    slc_batch_free(b);
    col_store_release(store, &key);
}

/* Sends the ack on the worker's context.  A failure (peer gone, socket
 * closing) only loses the ack: the sender retries and gets DUPLICATE. */
static void col_send_ack(struct col_worker *w, const slc_ack *ack)
{
    uint8_t buf[SLC_ACK_MAX_LEN];
    size_t n = slc_ack_encode(ack, buf);
    nng_msg *msg = NULL;

    if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, buf, n) != 0) {
        nng_msg_free(msg);
        atomic_fetch_add(&w->in->stats->ack_send_errors, 1);
        return;
    }
    nng_aio_set_msg(w->aio, msg);
    nng_aio_set_timeout(w->aio, COL_SEND_TIMEOUT_MS);
    nng_ctx_send(w->ctx, w->aio);
    nng_aio_wait(w->aio);
    if (nng_aio_result(w->aio) != 0) {
        nng_msg_free(msg);
        atomic_fetch_add(&w->in->stats->ack_send_errors, 1);
    }
}

static void *col_worker_main(void *arg)
{
    struct col_worker *w = arg;
    struct col_ingest *in = w->in;

    while (!atomic_load(&in->stop)) {
        nng_msg *msg;
        slc_ack ack;
        slc_wire_limits lim;
        int64_t est, prev;
        size_t flen = 0;
        int rv;

        nng_aio_set_timeout(w->aio, COL_RECV_POLL_MS);
        nng_ctx_recv(w->ctx, w->aio);
        nng_aio_wait(w->aio);
        rv = nng_aio_result(w->aio);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            break;
        if (rv != 0) {
            col_log(COL_LOG_WARN, "ingest receive: %s", nng_strerror(rv));
            continue;
        }
        msg = nng_aio_get_msg(w->aio);
        atomic_fetch_add(&in->stats->in_flight, 1);
        /* A decoded frame takes several times its wire size (inflated
         * payload, arrays, index rows); count it before decoding. */
        est = (int64_t)nng_msg_len(msg) * COL_DECODE_FACTOR + 65536;
        prev = atomic_fetch_add(&in->stats->in_flight_bytes, est);
        if (in->inflight_max > 0 && prev > 0 && (uint64_t)(prev + est) > in->inflight_max) {
            memset(&ack, 0, sizeof ack);
            atomic_fetch_add(&in->stats->frames_received, 1);
            atomic_fetch_add(&in->stats->bytes_received, nng_msg_len(msg));
            slc_wire_peek(nng_msg_body(msg), nng_msg_len(msg), &ack.batch_id, &flen);
            col_retry(&ack, SL_ENOMEM, &in->stats->retry_memory, in->stats,
                      "collector memory budget for frames in flight is full; retry later");
        } else {
            pthread_mutex_lock(&in->lim_mu);
            lim = in->limits;
            pthread_mutex_unlock(&in->lim_mu);
            col_ingest_handle(in->store, in->stats, &lim, nng_msg_body(msg), nng_msg_len(msg),
                              &ack);
        }
        nng_msg_free(msg);
        atomic_fetch_sub(&in->stats->in_flight_bytes, est);
        col_send_ack(w, &ack);
        atomic_fetch_sub(&in->stats->in_flight, 1);
    }
    return NULL;
}

int col_ingest_start(const col_ingest_opts *o, col_store *store, col_stats *stats,
                     col_ingest **out, char *err, size_t errlen)
{
    struct col_ingest *in;
    int rv, n = o->workers > 0 ? o->workers : 4;

    if (o->nurls <= 0) {
        snprintf(err, errlen, "no listen URL given");
        return SL_EINVAL;
    }
    in = calloc(1, sizeof *in);
    if (in == NULL)
        return SL_ENOMEM;
    in->workers = calloc((size_t)n, sizeof *in->workers);
    if (in->workers == NULL) {
        free(in);
        return SL_ENOMEM;
    }
    in->store = store;
    in->stats = stats;
    in->limits = o->limits;
    in->inflight_max = o->inflight_bytes;
    stats->in_flight_budget = o->inflight_bytes;
    pthread_mutex_init(&in->lim_mu, NULL);
    in->nworkers = n;
    rv = nng_rep0_open(&in->sock);
    if (rv != 0) {
        snprintf(err, errlen, "opening the nng rep socket: %s", nng_strerror(rv));
        goto fail;
    }
    in->sock_open = 1;
    /* Frames up to twice the limit are received so the sender gets a
     * REJECTED ack that names the limit; beyond that the transport drops
     * the connection before buffering, which bounds memory. */
    nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ,
                        o->limits.frame_bytes > (1u << 30) ? (size_t)2 << 30
                                                           : (size_t)o->limits.frame_bytes * 2);
    for (int i = 0; i < n; i++) {
        struct col_worker *w = &in->workers[i];
        w->in = in;
        rv = nng_ctx_open(&w->ctx, in->sock);
        if (rv != 0) {
            snprintf(err, errlen, "opening an nng context: %s", nng_strerror(rv));
            goto fail;
        }
        w->ctx_open = 1;
        rv = nng_aio_alloc(&w->aio, NULL, NULL);
        if (rv != 0) {
            snprintf(err, errlen, "allocating an nng aio: %s", nng_strerror(rv));
            goto fail;
        }
    }
    for (int i = 0; i < o->nurls; i++) {
        rv = nng_listen(in->sock, o->urls[i], NULL, 0);
        if (rv != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s%s", o->urls[i], nng_strerror(rv),
                     rv == NNG_EADDRINUSE ? " (another process uses it; pick another --listen)"
                                          : "");
            goto fail;
        }
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&in->workers[i].thread, NULL, col_worker_main, &in->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start ingest worker threads");
            rv = NNG_ENOMEM;
            goto fail;
        }
        in->workers[i].started = 1;
    }
    *out = in;
    return 0;
fail:
    col_ingest_stop(in);
    return rv == NNG_ENOMEM ? SL_ENOMEM : SL_ETRANSPORT;
}

void col_ingest_stop(col_ingest *in)
{
    if (in == NULL)
        return;
    atomic_store(&in->stop, 1);
    /* Workers notice the flag within one receive poll; one holding a frame
     * finishes its write and sends the ack first. */
    for (int i = 0; i < in->nworkers; i++)
        if (in->workers[i].started)
            pthread_join(in->workers[i].thread, NULL);
    for (int i = 0; i < in->nworkers; i++) {
        struct col_worker *w = &in->workers[i];
        if (w->aio != NULL)
            nng_aio_free(w->aio);
        if (w->ctx_open)
            nng_ctx_close(w->ctx);
    }
    if (in->sock_open)
        nng_close(in->sock);
    pthread_mutex_destroy(&in->lim_mu);
    free(in->workers);
    free(in);
}

void col_ingest_set_limits(col_ingest *in, const slc_wire_limits *lim)
{
    pthread_mutex_lock(&in->lim_mu);
    in->limits = *lim;
    pthread_mutex_unlock(&in->lim_mu);
}
