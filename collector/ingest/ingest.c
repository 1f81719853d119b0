/*
 * ingest.c - nng listeners, workers and acknowledgements (see ingest.h).
 */
#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <zlib.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

#define COL_RECV_POLL_MS 200 /* how often an idle worker checks for stop */
#define COL_SEND_TIMEOUT_MS 5000
/* Memory a frame may take while decoded and indexed, per byte of its
 * inflated payload (header bytes 20..23), worst case: an empty string is 1
 * payload byte and a 16-byte slc_str; a 3-byte event a 24-byte slc_event;
 * a span ~49 bytes, a ~100-byte slc_span plus ~100 bytes of index rows.
 * Real frames take 3-5x; the decoder's decoded_bytes limit caps the rest. */
#define COL_DECODE_FACTOR 16
#define COL_PEM_MAX (1u << 20) /* certificate and key files are small */

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
    /* Accepted ingest tokens, zero-padded to the longest possible so the
     * comparison takes the same time whatever the candidate; under lim_mu. */
    uint8_t tok[COL_INGEST_MAX_TOKENS][SLC_WIRE_TOKEN_MAX];
    size_t toklen[COL_INGEST_MAX_TOKENS];
    int ntok;
    nng_tls_config *tls;
    /* Connection limit: every pipe that sees ADD_PRE also sees REM_POST
     * (nng runs REM_POST for a pipe closed in ADD_PRE too), so counting
     * at ADD_PRE keeps conns exact, refused pipes included. */
    int max_conns; /* 0 = none */
    atomic_int conns;
};

/* Pipe events: closes a connection beyond max_conns before the rep socket
 * uses it, so an accept flood costs a file descriptor briefly, not a pipe. */
static void col_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct col_ingest *in = arg;

    if (ev == NNG_PIPE_EV_ADD_PRE) {
        int n = atomic_fetch_add(&in->conns, 1) + 1;
        if (in->max_conns > 0 && n > in->max_conns) {
            atomic_fetch_add_explicit(&in->stats->conns_refused, 1, memory_order_relaxed);
            nng_pipe_close(p);
        }
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        atomic_fetch_sub(&in->conns, 1);
    }
}

static void col_reject(col_stats *st, slc_ack *ack, int err, enum col_reject_reason why,
                       const char *reason)
{
    ack->status = SLC_ACK_REJECTED;
    ack->err = err;
    snprintf(ack->reason, sizeof ack->reason, "%s", reason);
    atomic_fetch_add_explicit(&st->rejected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->rejected_by[why], 1, memory_order_relaxed);
}

static void col_unauthorized(col_stats *st, slc_ack *ack, const char *reason)
{
    ack->status = SLC_ACK_UNAUTHORIZED;
    ack->err = SL_EAUTH;
    snprintf(ack->reason, sizeof ack->reason, "%s", reason);
    atomic_fetch_add_explicit(&st->unauthorized, 1, memory_order_relaxed);
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

/* RETRY for a write the store refused because the disk is full (msg is
 * the store's message).  The guard's own refusals ("disk full: ...") are
 * logged once by the store when its state changes, not per batch. */
static void col_retry_disk(slc_ack *ack, int rv, col_stats *st, uint64_t batch_id,
                           const char *msg)
{
    char why[sizeof ack->reason];

    if (strstr(msg, "disk full") != msg)
        col_log(COL_LOG_ERROR, "batch %016llx not stored, disk full: %s",
                (unsigned long long)batch_id, msg);
    snprintf(why, sizeof why, "collector %s; nothing was stored, retry later",
             strstr(msg, "disk full") == msg ? msg : "disk full (no space left on device)");
    col_retry(ack, rv, &st->retry_store, st, why);
}

static uint64_t col_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The batch id of a frame whose header failed a check: bytes 8..15 as
 * sent, so the sender can match the rejection to its batch. */
static uint64_t col_echo_id(const uint8_t *frame, size_t len)
{
    uint64_t id = 0;
    if (len < 16)
        return 0;
    for (int i = 7; i >= 0; i--)
        id = id << 8 | frame[8 + i];
    return id;
}

/* Checks the ingest token of a frame when in requires one; 0 = go on,
 * else *ack is filled (UNAUTHORIZED). */
static int col_check_token(col_ingest *in, col_stats *st, const uint8_t *frame, size_t len,
                           slc_ack *ack)
{
    const uint8_t *tok = NULL;
    size_t toklen = 0;

    if (in == NULL || !col_ingest_requires_token(in))
        return 0;
    if (slc_wire_peek_token(frame, len, &tok, &toklen) != 0) {
        tok = NULL; /* checked by peek before: cannot happen */
        toklen = 0;
    }
    if (col_ingest_token_ok(in, tok, toklen))
        return 0;
    col_unauthorized(st, ack,
                     tok == NULL ? "this collector requires an ingest token; set SIGHTLINE_TOKEN "
                                   "(SDK) to one of the collector's --ingest-token values"
                                 : "ingest token not accepted; check SIGHTLINE_TOKEN against the "
                                   "collector's --ingest-token values");
    return 1;
}

/* col_ingest_handle with the token check of ingest in (NULL = open). */
static void col_handle(col_ingest *in, col_store *store, col_stats *st, const slc_wire_limits *lim,
                       const uint8_t *frame, size_t len, slc_ack *ack)
{
    col_batch_key key;
    slc_batch *b = NULL;
    uint8_t *plain = NULL;
    const uint8_t *tok = NULL;
    size_t flen = 0, toklen = 0;
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
        ack->batch_id = col_echo_id(frame, len);
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
    if (col_check_token(in, st, frame, len, ack) != 0)
        return;
    /* The token is the sender's credential, not data: it is never stored,
     * and a retry with another token (rotation) is the same batch. */
    if (slc_wire_peek_token(frame, len, &tok, &toklen) == 0 && toklen > 0) {
        rv = slc_wire_strip_token(frame, len, &plain, &len);
        if (rv != 0) {
            col_retry(ack, rv, &st->retry_memory, st, "collector out of memory; retry later");
            return;
        }
        frame = plain;
    }
    key.crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), frame, (uInt)len);
    /* A full disk answers before the frame is decoded or claimed. */
    rv = col_store_writable(store, msg, sizeof msg);
    if (rv != 0) {
        col_retry_disk(ack, rv, st, key.batch_id, msg);
        free(plain);
        return;
    }
    rv = col_store_claim(store, &key);
    if (rv == 1) {
        ack->status = SLC_ACK_DUPLICATE;
        atomic_fetch_add_explicit(&st->duplicates, 1, memory_order_relaxed);
        free(plain);
        return;
    }
    if (rv == SL_EBUSY) {
        col_retry(ack, rv, &st->retry_inflight, st,
                  "the same batch is being stored right now; retry later");
        free(plain);
        return;
    }
    if (rv != 0) {
        col_retry(ack, rv, &st->retry_store, st, "storage lookup failed; retry later");
        free(plain);
        return;
    }
    rv = slc_wire_decode(frame, len, lim, &b, msg, sizeof msg);
    if (rv == SL_ENOMEM) {
        /* Memory pressure is the collector's, not the frame's fault. */
        col_retry(ack, rv, &st->retry_memory, st,
                  "collector out of memory decoding the frame; retry later");
        goto out;
    }
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
    } else if (strstr(msg, "disk full") != NULL || strstr(msg, "No space left") != NULL) {
        col_retry_disk(ack, rv, st, key.batch_id, msg);
    } else {
        col_log(COL_LOG_ERROR, "batch %016llx not stored: %s", (unsigned long long)key.batch_id,
                msg);
        snprintf(why, sizeof why, "storage write failed (%s); retry later", sl_strerror(rv));
        col_retry(ack, rv, &st->retry_store, st, why);
    }
out:
    slc_batch_free(b);
    col_store_release(store, &key);
    free(plain);
}

void col_ingest_handle(col_store *store, col_stats *st, const slc_wire_limits *lim,
                       const uint8_t *frame, size_t len, slc_ack *ack)
{
    col_handle(NULL, store, st, lim, frame, len, ack);
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
        uint32_t raw = 0;
        uint64_t dec;
        size_t wire;
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
        wire = nng_msg_len(msg);
        atomic_fetch_add(&in->stats->in_flight, 1);
        pthread_mutex_lock(&in->lim_mu);
        lim = in->limits;
        pthread_mutex_unlock(&in->lim_mu);
        /* Counted before decoding, from what the header announces: a zlib
         * payload inflates up to payload_bytes, so the wire size says
         * little.  The frame, its token-less copy, and the decoded batch
         * with its index rows (capped by the decoder's decoded_bytes bound,
         * arrays at most doubled). */
        if (slc_wire_peek_raw_len(nng_msg_body(msg), wire, &raw) != 0)
            raw = 0; /* rejected at the header without decoding */
        dec = (uint64_t)raw * COL_DECODE_FACTOR;
        if (dec > (uint64_t)lim.decoded_bytes * 2)
            dec = (uint64_t)lim.decoded_bytes * 2;
        est = (int64_t)(2 * (uint64_t)wire + dec + 65536);
        prev = atomic_fetch_add(&in->stats->in_flight_bytes, est);
        if (in->inflight_max > 0 && prev > 0 && (uint64_t)(prev + est) > in->inflight_max) {
            memset(&ack, 0, sizeof ack);
            atomic_fetch_add(&in->stats->frames_received, 1);
            atomic_fetch_add(&in->stats->bytes_received, wire);
            ack.batch_id = col_echo_id(nng_msg_body(msg), wire);
            col_retry(&ack, SL_ENOMEM, &in->stats->retry_memory, in->stats,
                      "collector memory budget for frames in flight is full; retry later");
        } else {
            col_handle(in, in->store, in->stats, &lim, nng_msg_body(msg), wire, &ack);
        }
        nng_msg_free(msg);
        atomic_fetch_sub(&in->stats->in_flight_bytes, est);
        col_send_ack(w, &ack);
        atomic_fetch_sub(&in->stats->in_flight, 1);
    }
    return NULL;
}

/* Reads a PEM file into a NUL-terminated malloc'd string (caller frees). */
static char *col_read_pem(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read the TLS %s file %s: %s", what, path, strerror(errno));
        return NULL;
    }
    buf = malloc(COL_PEM_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    n = fread(buf, 1, COL_PEM_MAX + 1, f);
    fclose(f);
    if (n == 0 || n > COL_PEM_MAX) {
        snprintf(err, errlen, "the TLS %s file %s is %s", what, path,
                 n == 0 ? "empty" : "larger than 1 MiB (not a PEM file?)");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Listens on a tls+tcp:// URL with the certificate and key of o; the TLS
 * configuration is loaded once and shared by every TLS listener.  Returns 0
 * or an nng error with err set. */
static int col_listen_tls(struct col_ingest *in, const col_ingest_opts *o, const char *url,
                          char *err, size_t errlen)
{
    nng_listener l;
    char *cert = NULL, *key = NULL;
    int rv;

    if (in->tls == NULL) {
        if (o->tls_cert == NULL || o->tls_key == NULL || !o->tls_cert[0] || !o->tls_key[0]) {
            snprintf(err, errlen, "%s needs a certificate and a key: give --tls-cert FILE and "
                                  "--tls-key FILE (PEM)", url);
            return NNG_EINVAL;
        }
        cert = col_read_pem(o->tls_cert, "certificate", err, errlen);
        key = cert != NULL ? col_read_pem(o->tls_key, "key", err, errlen) : NULL;
        if (cert == NULL || key == NULL) {
            free(cert);
            free(key);
            return NNG_EINVAL;
        }
        rv = nng_tls_config_alloc(&in->tls, NNG_TLS_MODE_SERVER);
        if (rv == 0) {
            rv = nng_tls_config_own_cert(in->tls, cert, key, NULL);
            if (rv != 0)
                snprintf(err, errlen,
                         "cannot use certificate %s with key %s: %s (both must be PEM, the key "
                         "unencrypted and matching the certificate)",
                         o->tls_cert, o->tls_key, nng_strerror(rv));
        } else {
            snprintf(err, errlen, "TLS is not available in this nng build (%s)",
                     nng_strerror(rv));
        }
        /* The key is a secret: do not leave it in freed memory. */
        explicit_bzero(key, strlen(key));
        free(cert);
        free(key);
        if (rv != 0) {
            if (in->tls != NULL)
                nng_tls_config_free(in->tls);
            in->tls = NULL;
            return rv;
        }
    }
    rv = nng_listener_create(&l, in->sock, url);
    if (rv == 0)
        rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, in->tls);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0)
        snprintf(err, errlen, "cannot listen on %s: %s%s", url, nng_strerror(rv),
                 rv == NNG_EADDRINUSE ? " (another process uses it; pick another --listen)" : "");
    return rv;
}

int col_ingest_url_is_local(const char *url)
{
    const char *h = strstr(url, "://"), *end;
    struct in_addr a4;
    char host[256];
    size_t n;

    if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0)
        return 1;
    if (h == NULL)
        return 0;
    h += 3;
    if (*h == '[') {
        end = strchr(h, ']');
        if (end == NULL)
            return 0;
        h++;
    } else {
        end = strrchr(h, ':');
        if (end == NULL)
            end = h + strlen(h);
    }
    n = (size_t)(end - h);
    if (n == 0 || n >= sizeof host)
        return 0;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return 1;
    /* 127.0.0.0/8, written as a dotted address (not a name like 127.x.com) */
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Says when ingest is reachable from other hosts without a token, or when
 * tokens travel in clear text. */
static void col_warn_exposure(const col_ingest_opts *o)
{
    for (int i = 0; i < o->nurls; i++) {
        if (col_ingest_url_is_local(o->urls[i]))
            continue;
        if (o->ntokens == 0)
            col_log(COL_LOG_WARN,
                    "ingest on %s accepts batches from other hosts without a token: anyone who "
                    "can reach it can write data; add --ingest-token (and tls+tcp://), or listen "
                    "on 127.0.0.1",
                    o->urls[i]);
        else if (strncmp(o->urls[i], "tls+", 4) != 0)
            col_log(COL_LOG_WARN,
                    "ingest tokens travel in clear text on %s; use tls+tcp:// with --tls-cert "
                    "and --tls-key",
                    o->urls[i]);
    }
}

int col_ingest_set_tokens(col_ingest *in, const char *const *tokens, int n)
{
    if (n < 0 || n > COL_INGEST_MAX_TOKENS || (n > 0 && tokens == NULL))
        return SL_EINVAL;
    for (int i = 0; i < n; i++) {
        size_t l = tokens[i] != NULL ? strlen(tokens[i]) : 0;
        if (l == 0 || l > SLC_WIRE_TOKEN_MAX)
            return SL_EINVAL;
    }
    pthread_mutex_lock(&in->lim_mu);
    explicit_bzero(in->tok, sizeof in->tok);
    for (int i = 0; i < n; i++) {
        in->toklen[i] = strlen(tokens[i]);
        memcpy(in->tok[i], tokens[i], in->toklen[i]);
    }
    in->ntok = n;
    pthread_mutex_unlock(&in->lim_mu);
    return 0;
}

int col_ingest_requires_token(col_ingest *in)
{
    int n;
    pthread_mutex_lock(&in->lim_mu);
    n = in->ntok;
    pthread_mutex_unlock(&in->lim_mu);
    return n > 0;
}

int col_ingest_token_ok(col_ingest *in, const uint8_t *tok, size_t len)
{
    unsigned ok = 0;

    pthread_mutex_lock(&in->lim_mu);
    if (in->ntok == 0) {
        pthread_mutex_unlock(&in->lim_mu);
        return 1;
    }
    /* Every configured token is compared over its whole padded length,
     * with no early exit: the time says nothing about which bytes match. */
    for (int i = 0; i < in->ntok; i++) {
        unsigned diff = (unsigned)((in->toklen[i] ^ len) != 0);
        for (size_t k = 0; k < SLC_WIRE_TOKEN_MAX; k++) {
            uint8_t c = k < len ? tok[k] : 0;
            diff |= (unsigned)(in->tok[i][k] ^ c);
        }
        ok |= (unsigned)(diff == 0);
    }
    pthread_mutex_unlock(&in->lim_mu);
    return (int)ok;
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
    pthread_mutex_init(&in->lim_mu, NULL);
    if (col_ingest_set_tokens(in, o->tokens, o->ntokens) != 0) {
        snprintf(err, errlen, "bad ingest token: each must be 1..%d bytes, at most %d of them",
                 SLC_WIRE_TOKEN_MAX, COL_INGEST_MAX_TOKENS);
        pthread_mutex_destroy(&in->lim_mu);
        free(in->workers);
        free(in);
        return SL_EINVAL;
    }
    in->inflight_max = o->inflight_bytes;
    stats->in_flight_budget = o->inflight_bytes;
    in->nworkers = n;
    rv = nng_rep0_open(&in->sock);
    if (rv != 0) {
        snprintf(err, errlen, "opening the nng rep socket: %s", nng_strerror(rv));
        goto fail;
    }
    in->sock_open = 1;
    in->max_conns = o->max_conns;
    rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_PRE, col_pipe_event, in);
    if (rv == 0)
        rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_REM_POST, col_pipe_event, in);
    if (rv != 0) {
        snprintf(err, errlen, "registering the nng pipe callbacks: %s", nng_strerror(rv));
        goto fail;
    }
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
        if (strncmp(o->urls[i], "tls+", 4) == 0) {
            rv = col_listen_tls(in, o, o->urls[i], err, errlen);
            if (rv != 0)
                goto fail;
            continue;
        }
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
    col_warn_exposure(o);
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
    if (in->tls != NULL)
        nng_tls_config_free(in->tls);
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
