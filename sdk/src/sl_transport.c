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
 *
 * tls+tcp:// endpoints get a client TLS configuration of our own (nng's
 * default would verify against no CA at all): the CA file, the expected
 * server name, or no verification when asked for.  nng 1.5.2 registers its
 * transports itself (nng_tls_register() is deprecated and a no-op).
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sl_internal.h"
#include "common/slc_wire.h"

/* Used when no CA file is configured: Debian's bundle of public CAs. */
#define SL_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

struct sl_transport {
    nng_socket sock;
    _Atomic int connected; /* a pipe completed the SP handshake at least once */
    _Atomic int npipes;    /* pipes up now */
    char *url;
    nng_tls_config *tls;   /* our reference; NULL for other schemes */
    char name[256];        /* the server name TLS verifies, for messages */
    pthread_mutex_t mu;    /* guards probe and closed */
    nng_aio *probe;        /* sl__tp_diagnose's attempt in progress */
    int closed;
};

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct sl_transport *t = arg;
    (void)p;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_store(&t->connected, 1);
        atomic_fetch_add(&t->npipes, 1);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        int n = atomic_load(&t->npipes);
        while (n > 0 && !atomic_compare_exchange_weak(&t->npipes, &n, n - 1))
            ;
    }
}

static int is_tls_url(const char *url)
{
    return strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
           strncmp(url, "tls+tcp6://", 11) == 0;
}

/* Builds the client TLS configuration from sl__g; *out is a new reference
 * owned by the caller (nng_tls_config_free). */
static int tls_setup(struct sl_transport *t, const char *url, nng_tls_config **out, char *err,
                     size_t errlen)
{
    nng_tls_config *cfg = NULL;
    nng_url *u = NULL;
    int rv, rc = SL_ECONFIG;

    if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0) {
        snprintf(err, errlen,
                 "cannot set up TLS for \"%s\": %s (is libnng built with TLS support?)", url,
                 nng_strerror(rv));
        return rv == NNG_ENOMEM ? SL_ENOMEM : SL_ETRANSPORT;
    }
    const char *name = sl__g.tls_server_name;
    if (name == NULL) {
        if ((rv = nng_url_parse(&u, url)) != 0 || u->u_hostname == NULL ||
            u->u_hostname[0] == '\0') {
            snprintf(err, errlen,
                     "TLS endpoint \"%s\" has no host name to verify the certificate against; "
                     "use tls+tcp://host:port or set SIGHTLINE_TLS_SERVER_NAME",
                     url);
            goto out;
        }
        name = u->u_hostname;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    if ((rv = nng_tls_config_server_name(cfg, name)) != 0) {
        snprintf(err, errlen, "TLS server name \"%.100s\": %s", name, nng_strerror(rv));
        goto out;
    }
    if (sl__g.cfg.tls_insecure) {
        if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE)) != 0) {
            snprintf(err, errlen, "TLS: cannot turn verification off: %s", nng_strerror(rv));
            goto out;
        }
    } else {
        const char *ca = sl__g.tls_ca != NULL ? sl__g.tls_ca : SL_SYSTEM_CA;
        if (sl__g.tls_ca == NULL && access(ca, R_OK) != 0) {
            snprintf(err, errlen,
                     "no CA to verify the collector's TLS certificate: set SIGHTLINE_TLS_CA to "
                     "the PEM file of the CA that signed it (%s is not readable)",
                     ca);
            goto out;
        }
        if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
            (rv = nng_tls_config_ca_file(cfg, ca)) != 0) {
            snprintf(err, errlen,
                     "TLS CA file \"%.150s\" cannot be loaded: %s; SIGHTLINE_TLS_CA must name a "
                     "readable PEM file of CA certificates",
                     ca, nng_strerror(rv));
            goto out;
        }
    }
    *out = cfg;
    cfg = NULL;
    rc = SL_OK;
out:
    if (u != NULL)
        nng_url_free(u);
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    return rc;
}

static void tp_release(struct sl_transport *t)
{
    if (t->tls != NULL)
        nng_tls_config_free(t->tls);
    pthread_mutex_destroy(&t->mu);
    free(t->url);
    free(t);
}

int sl__tp_open(struct sl_transport **out, const char *url, uint32_t timeout_ms, char *err,
                size_t errlen)
{
    struct sl_transport *t = calloc(1, sizeof(*t));
    nng_dialer d;
    int rv, rc;
    if (t == NULL || (t->url = strdup(url)) == NULL) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    pthread_mutex_init(&t->mu, NULL);
    if (is_tls_url(url) && (rc = tls_setup(t, url, &t->tls, err, errlen)) != 0) {
        tp_release(t);
        return rc;
    }
    if ((rv = nng_req0_open(&t->sock)) != 0) {
        snprintf(err, errlen, "nng_req0_open: %s", nng_strerror(rv));
        tp_release(t);
        return SL_ETRANSPORT;
    }
    nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(t->sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
    nng_socket_set_ms(t->sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
    nng_socket_set_ms(t->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(t->sock, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, 4096); /* acks are tiny */
    nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_POST, on_pipe, t);
    nng_pipe_notify(t->sock, NNG_PIPE_EV_REM_POST, on_pipe, t);
    /* Non-blocking dial: returns at once and keeps reconnecting in the
     * background, so a collector that is down never delays the host. */
    if ((rv = nng_dialer_create(&d, t->sock, url)) == 0) {
        if (t->tls != NULL && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, t->tls)) != 0) {
            snprintf(err, errlen, "cannot apply the TLS settings to \"%s\": %s", url,
                     nng_strerror(rv));
            nng_close(t->sock);
            tp_release(t);
            return SL_ETRANSPORT;
        }
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    }
    if (rv != 0) {
        snprintf(err, errlen,
                 "cannot dial collector endpoint \"%s\": %s; use an nng URL such as "
                 "tcp://127.0.0.1:4318, tls+tcp://collector.example:4318 or "
                 "ipc:///tmp/sightline.sock",
                 url, nng_strerror(rv));
        nng_close(t->sock);
        tp_release(t);
        return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ? SL_ECONFIG
                                                                             : SL_ETRANSPORT;
    }
    *out = t;
    return SL_OK;
}

int sl__tp_connected(struct sl_transport *t) { return atomic_load(&t->npipes) > 0; }

/* Waits for the operation started on aio (bounded by its timeout, or cut
 * short by sl__tp_abort's cancel); returns nng's result. */
static int probe_wait(nng_aio *aio)
{
    nng_aio_wait(aio);
    return nng_aio_result(aio);
}

void sl__tp_diagnose(struct sl_transport *t, uint32_t timeout_ms, char *err, size_t errlen)
{
    nng_stream_dialer *sd = NULL;
    nng_stream *st = NULL;
    nng_aio *aio = NULL;
    int rv, tls = t->tls != NULL;
    uint8_t hdr[8];
    nng_iov iov = {.iov_buf = hdr, .iov_len = sizeof(hdr)};

    snprintf(err, errlen, "no connection (cause unknown)");
    if ((rv = nng_stream_dialer_alloc(&sd, t->url)) != 0 ||
        (tls && (rv = nng_stream_dialer_set_ptr(sd, NNG_OPT_TLS_CONFIG, t->tls)) != 0) ||
        (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
        snprintf(err, errlen, "no connection (cannot probe it: %s)", nng_strerror(rv));
        goto out;
    }
    pthread_mutex_lock(&t->mu);
    int closed = t->closed;
    if (!closed)
        t->probe = aio;
    pthread_mutex_unlock(&t->mu);
    if (closed)
        goto out;
    nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
    nng_stream_dialer_dial(sd, aio);
    if ((rv = probe_wait(aio)) == 0) {
        st = nng_aio_get_output(aio, 0);
        /* The peer speaks first (the SP header), and over TLS only after
         * the handshake: reading it is what tells a certificate problem
         * apart from a working link. */
        nng_aio_set_iov(aio, 1, &iov);
        nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
        nng_stream_recv(st, aio);
        rv = probe_wait(aio);
    }
    if (rv == 0)
        snprintf(err, errlen,
                 "a test connection%s works, yet the SDK's connection is down; the collector "
                 "may be overloaded or restarting",
                 tls ? " (TLS handshake included)" : "");
    else if (rv == NNG_ECONNREFUSED)
        snprintf(err, errlen, "connection refused: is the collector running and listening there?");
    else if (tls && st != NULL)
        snprintf(err, errlen,
                 "TLS handshake failed (%s): is the server certificate signed by the CA in "
                 "SIGHTLINE_TLS_CA and issued for the name \"%s\" (SIGHTLINE_TLS_SERVER_NAME)?",
                 nng_strerror(rv), t->name);
    else if (tls && (rv == NNG_EPEERAUTH || rv == NNG_ECRYPTO))
        snprintf(err, errlen,
                 "TLS handshake failed (%s): check SIGHTLINE_TLS_CA and "
                 "SIGHTLINE_TLS_SERVER_NAME against the collector's certificate",
                 nng_strerror(rv));
    else
        snprintf(err, errlen, "%s%s", tls ? "TLS connection failed: " : "", nng_strerror(rv));
out:
    pthread_mutex_lock(&t->mu);
    t->probe = NULL;
    pthread_mutex_unlock(&t->mu);
    if (st != NULL)
        nng_stream_free(st);
    if (aio != NULL)
        nng_aio_free(aio);
    if (sd != NULL)
        nng_stream_dialer_free(sd);
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
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->closed = 1;
    if (t->probe != NULL)
        nng_aio_cancel(t->probe);
    pthread_mutex_unlock(&t->mu);
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
    tp_release(t);
}
