/*
 * sl_transport.c - the SDK's nng client: one req0 socket dialed to the
 * collector, one frame per request, the reply is an ack.  The only SDK
 * file that includes nng.
 *
 * nng's own resend is switched off (NNG_OPT_REQ_RESENDTIME infinite): the
 * exporter decides when to retry, with backoff and a circuit breaker, and
 * always re-sends the same bytes so the collector can deduplicate by
 * batch id.  Both send and receive carry a timeout, because req0 holds a
 * send until a peer is connected.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sl_internal.h"
#include "slc_wire.h"

struct sl_transport {
    nng_socket sock;
    _Atomic int connected; /* a pipe completed the SP handshake at least once */
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct sl_transport *t = arg;
    (void)p;
    if (ev == NNG_PIPE_EV_ADD_POST)
        atomic_store(&t->connected, 1);
}

int sl__tp_open(struct sl_transport **out, const char *url, uint32_t timeout_ms, char *err,
                size_t errlen)
{
    struct sl_transport *t = calloc(1, sizeof(*t));
    int rv;
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    if ((rv = nng_req0_open(&t->sock)) != 0) {
        snprintf(err, errlen, "nng_req0_open: %s", nng_strerror(rv));
        free(t);
        return SL_ETRANSPORT;
    }
    nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(t->sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
    nng_socket_set_ms(t->sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
    nng_socket_set_ms(t->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(t->sock, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, 4096); /* acks are tiny */
    nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_POST, on_pipe, t);
    /* Non-blocking dial: returns at once and keeps reconnecting in the
     * background, so a collector that is down never delays the host. */
    if ((rv = nng_dial(t->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        snprintf(err, errlen,
                 "cannot dial collector endpoint \"%s\": %s; use an nng URL such as "
                 "tcp://127.0.0.1:4318 or ipc:///tmp/sightline.sock",
                 url, nng_strerror(rv));
        nng_close(t->sock);
        free(t);
        return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ? SL_ECONFIG
                                                                             : SL_ETRANSPORT;
    }
    *out = t;
    return SL_OK;
}

int sl__tp_roundtrip(struct sl_transport *t, const uint8_t *frame, size_t len, void *ackp,
                     char *err, size_t errlen)
{
    slc_ack *ack = ackp;
    void *reply = NULL;
    size_t rlen = 0;
    int rv;

    if ((rv = nng_send(t->sock, (void *)frame, len, 0)) != 0) {
        snprintf(err, errlen, "sending a frame to the collector: %s", nng_strerror(rv));
        return rv == NNG_ETIMEDOUT ? SL_ETIMEDOUT : rv == NNG_ECLOSED ? SL_ECLOSED : SL_ETRANSPORT;
    }
    if ((rv = nng_recv(t->sock, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
        snprintf(err, errlen, "waiting for the collector's ack: %s", nng_strerror(rv));
        return rv == NNG_ETIMEDOUT ? SL_ETIMEDOUT : rv == NNG_ECLOSED ? SL_ECLOSED : SL_ETRANSPORT;
    }
    int rc = slc_ack_decode(reply, rlen, ack);
    nng_free(reply, rlen);
    if (rc != 0) {
        snprintf(err, errlen, "the collector's ack is malformed (%s)", sl_strerror(rc));
        return rc;
    }
    return SL_OK;
}

void sl__tp_abort(struct sl_transport *t)
{
    if (t != NULL)
        nng_close(t->sock);
}

void sl__tp_free(struct sl_transport *t)
{
    if (t == NULL)
        return;
    /* nng 1.5.2's ipc listener stops serving every client after one
     * closes in the middle of the connection handshake (reproduced with
     * plain req/rep; tcp is not affected).  A process that starts and stops
     * the SDK at once would hit exactly that window, so give a dial in
     * progress a short moment to finish before closing. */
    for (int i = 0; i < 20 && !atomic_load(&t->connected); i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    nng_close(t->sock); /* a second close is harmless: it returns NNG_ECLOSED */
    free(t);
}
