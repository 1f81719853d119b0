/*
 * test_sdk_collector.h - a small real collector for the SDK tests: an nng rep
 * socket on its own thread that decodes every frame with slc_wire_decode(),
 * keeps what it stored (deduplicated by batch id, as the real collector
 * does) and answers with a real ack.  Its behaviour can be scripted: answer
 * RETRY a number of times first, or reject everything.  Like the real
 * collector it can require an ingest token (checked per frame with
 * slc_wire_peek_token; UNAUTHORIZED when missing or wrong) and listen on
 * tls+tcp:// with a certificate (tcol_start_ex).
 *
 * Header-only (static functions) because each test file is its own program.
 */
#ifndef TEST_SDK_COLLECTOR_H
#define TEST_SDK_COLLECTOR_H

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/slc_wire.h"

#define TCOL_MAX_BATCHES 4096
#define TCOL_MAX_SEEN 16384

/* What the collector stored; may outlive one tcol instance so a test can
 * restart the collector and keep its "disk". */
struct tcol_store {
    pthread_mutex_t mu;
    slc_batch *batches[TCOL_MAX_BATCHES];
    size_t nbatches;
    uint64_t seen[TCOL_MAX_SEEN]; /* every batch id received, retries included */
    size_t nseen;
    size_t nrejected_decode;
    size_t nunauthorized;  /* frames refused for their token */
    size_t ntokened;       /* frames that carried a token */
    char last_reject[200]; /* the decoder's message for the last rejected frame */
};

struct tcol {
    nng_socket sock;
    pthread_t th;
    int started;
    _Atomic int stop;
    int retry_first;   /* answer RETRY this many times before storing */
    int reject_all;    /* answer REJECTED to everything */
    int unauthorized;  /* answer UNAUTHORIZED to everything */
    int zero_reject_id; /* REJECTED/UNAUTHORIZED acks carry batch id 0, as older
                         * collectors send for header-level rejections */
    char token[256];    /* required ingest token; "" = none required */
    nng_listener lst;
    struct tcol_store *store;
};

/* Options of tcol_start_ex. */
struct tcol_opts {
    const char *token;         /* require this ingest token (NULL: open) */
    const char *cert_key_file; /* PEM with certificate and key: listen with TLS */
};

static __attribute__((unused)) void tcol_store_init(struct tcol_store *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
}

static __attribute__((unused)) void tcol_store_free(struct tcol_store *s)
{
    for (size_t i = 0; i < s->nbatches; i++)
        slc_batch_free(s->batches[i]);
    s->nbatches = 0;
    pthread_mutex_destroy(&s->mu);
}

static __attribute__((unused)) void *tcol_main(void *arg)
{
    struct tcol *c = arg;
    while (!c->stop) {
        void *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(c->sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv != 0)
            break; /* NNG_ECLOSED from tcol_stop() */
        slc_ack ack;
        memset(&ack, 0, sizeof(ack));
        slc_batch *b = NULL;
        char why[200] = "";
        uint64_t bid = 0;
        size_t flen = 0;
        (void)slc_wire_peek(buf, len, &bid, &flen);
        const uint8_t *tok = NULL;
        size_t toklen = 0;
        int tok_ok = 1, has_tok = 0;
        if (slc_wire_peek_token(buf, len, &tok, &toklen) == 0) {
            has_tok = toklen > 0;
            if (c->token[0] != '\0')
                tok_ok = toklen == strlen(c->token) && memcmp(tok, c->token, toklen) == 0;
        }
        int rc = slc_wire_decode(buf, len, NULL, &b, why, sizeof(why));
        nng_free(buf, len);
        struct tcol_store *s = c->store;
        pthread_mutex_lock(&s->mu);
        s->ntokened += (size_t)has_tok;
        if (s->nseen < TCOL_MAX_SEEN)
            s->seen[s->nseen++] = bid;
        ack.batch_id = bid;
        if (!tok_ok) {
            s->nunauthorized++;
            ack.status = SLC_ACK_UNAUTHORIZED;
            ack.err = SL_EAUTH;
            snprintf(ack.reason, sizeof(ack.reason), "%s",
                     has_tok ? "ingest token not accepted" : "ingest token required");
        } else if (rc != 0) {
            s->nrejected_decode++;
            snprintf(s->last_reject, sizeof(s->last_reject), "%s", why);
            ack.status = SLC_ACK_REJECTED;
            ack.err = rc;
            snprintf(ack.reason, sizeof(ack.reason), "%s", why);
        } else if (c->unauthorized) {
            ack.status = SLC_ACK_UNAUTHORIZED;
            ack.err = SL_EAUTH;
            snprintf(ack.reason, sizeof(ack.reason), "token missing");
        } else if (c->reject_all) {
            ack.status = SLC_ACK_REJECTED;
            ack.err = SL_EWIRE_VALUE;
            snprintf(ack.reason, sizeof(ack.reason), "test collector rejects everything");
        } else if (c->retry_first > 0) {
            c->retry_first--;
            ack.status = SLC_ACK_RETRY;
            snprintf(ack.reason, sizeof(ack.reason), "busy, try again");
        } else {
            int dup = 0;
            for (size_t i = 0; i < s->nbatches; i++)
                if (s->batches[i]->batch_id == b->batch_id)
                    dup = 1;
            if (dup || s->nbatches == TCOL_MAX_BATCHES) {
                ack.status = SLC_ACK_DUPLICATE;
            } else {
                ack.status = SLC_ACK_STORED;
                ack.spans = b->nspans;
                ack.logs = b->nlogs;
                s->batches[s->nbatches++] = b;
                b = NULL;
            }
        }
        if (c->zero_reject_id &&
            (ack.status == SLC_ACK_REJECTED || ack.status == SLC_ACK_UNAUTHORIZED))
            ack.batch_id = 0;
        pthread_mutex_unlock(&s->mu);
        slc_batch_free(b);
        uint8_t out[SLC_ACK_MAX_LEN];
        size_t olen = slc_ack_encode(&ack, out);
        if (nng_send(c->sock, out, olen, 0) != 0 && c->stop)
            break;
    }
    return NULL;
}

/* Starts a collector listening on url, storing into store, with options
 * (NULL: none; the strings are used only during the call).  0 or -1. */
static __attribute__((unused)) int tcol_start_ex(struct tcol *c, const char *url,
                                                 struct tcol_store *store,
                                                 const struct tcol_opts *o)
{
    nng_listener l = NNG_LISTENER_INITIALIZER;
    nng_tls_config *tls = NULL;
    memset(c, 0, sizeof(*c));
    c->store = store;
    if (o != NULL && o->token != NULL)
        snprintf(c->token, sizeof(c->token), "%s", o->token);
    if (nng_rep0_open(&c->sock) != 0)
        return -1;
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 64u << 20);
    if (nng_listener_create(&l, c->sock, url) != 0)
        goto fail;
    if (o != NULL && o->cert_key_file != NULL) {
        if (nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER) != 0)
            goto fail;
        int rv = nng_tls_config_cert_key_file(tls, o->cert_key_file, NULL);
        if (rv == 0)
            rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls);
        nng_tls_config_free(tls); /* the listener holds its own reference */
        if (rv != 0) {
            fprintf(stderr, "tcol: TLS setup with %s: %s\n", o->cert_key_file, nng_strerror(rv));
            goto fail;
        }
    }
    if (nng_listener_start(l, 0) != 0)
        goto fail;
    c->lst = l;
    if (pthread_create(&c->th, NULL, tcol_main, c) != 0)
        goto fail;
    c->started = 1;
    return 0;
fail:
    nng_close(c->sock);
    return -1;
}

/* Starts a collector listening on url, storing into store.  0 or -1. */
static __attribute__((unused)) int tcol_start(struct tcol *c, const char *url, struct tcol_store *store)
{
    return tcol_start_ex(c, url, store, NULL);
}

/* The TCP port a started collector listens on (after listening on port 0),
 * or -1. */
static __attribute__((unused)) int tcol_port(struct tcol *c)
{
    nng_sockaddr sa;
    if (nng_listener_get_addr(c->lst, NNG_OPT_LOCADDR, &sa) != 0 || sa.s_family != NNG_AF_INET)
        return -1;
    return ((sa.s_in.sa_port & 0xff) << 8) | (sa.s_in.sa_port >> 8);
}

static __attribute__((unused)) void tcol_stop(struct tcol *c)
{
    if (!c->started)
        return;
    /* Closing the socket ends the blocked nng_recv() (a receive timeout
     * loop instead can lose a request racing with the timeout). */
    c->stop = 1;
    nng_close(c->sock);
    pthread_join(c->th, NULL);
    c->started = 0;
}

/* A fresh ipc URL in /tmp, unique per process and call. */
static __attribute__((unused)) void tcol_url(char *buf, size_t len)
{
    static int n;
    snprintf(buf, len, "ipc:///tmp/sl-test-%d-%d.sock", (int)getpid(), n++);
}

static __attribute__((unused)) size_t tcol_span_count(struct tcol_store *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nbatches; i++)
        n += s->batches[i]->nspans;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static __attribute__((unused)) int tcol_streq(const slc_batch *b, uint32_t idx, const char *s);

/* The SDK's self-observation record (docs/sdk.md): a log line with this body. */
#define TCOL_STATS_BODY "sightline.sdk.stats"

/* User log records stored (the SDK's stats records are not counted). */
static __attribute__((unused)) size_t tcol_log_count(struct tcol_store *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nbatches; i++)
        for (uint32_t j = 0; j < s->batches[i]->nlogs; j++)
            n += !tcol_streq(s->batches[i], s->batches[i]->logs[j].body, TCOL_STATS_BODY);
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The last stats record stored (by time), or NULL; its batch in *bp. */
static __attribute__((unused)) const slc_log *tcol_last_stats(struct tcol_store *s,
                                                              const slc_batch **bp)
{
    const slc_log *best = NULL;
    for (size_t i = 0; i < s->nbatches; i++)
        for (uint32_t j = 0; j < s->batches[i]->nlogs; j++) {
            const slc_log *l = &s->batches[i]->logs[j];
            if (tcol_streq(s->batches[i], l->body, TCOL_STATS_BODY) &&
                (best == NULL || l->time_ns >= best->time_ns)) {
                best = l;
                *bp = s->batches[i];
            }
        }
    return best;
}

static __attribute__((unused)) int tcol_streq(const slc_batch *b, uint32_t idx, const char *s)
{
    size_t n = strlen(s);
    return idx < b->nstrs && b->strs[idx].len == n && memcmp(b->strs[idx].ptr, s, n) == 0;
}

/* Finds the span named name; returns its batch (and index in *i) or NULL. */
static __attribute__((unused)) const slc_batch *tcol_find_span(struct tcol_store *s, const char *name, uint32_t *i)
{
    for (size_t k = 0; k < s->nbatches; k++) {
        const slc_batch *b = s->batches[k];
        for (uint32_t j = 0; j < b->nspans; j++) {
            if (tcol_streq(b, b->spans[j].name, name)) {
                *i = j;
                return b;
            }
        }
    }
    return NULL;
}

/* Finds attribute key among attrs[first, first+count) of batch b. */
static __attribute__((unused)) const slc_attr *tcol_attr(const slc_batch *b, uint32_t first, uint32_t count,
                                 const char *key)
{
    for (uint32_t i = first; i < first + count && i < b->nattrs; i++)
        if (tcol_streq(b, b->attrs[i].key, key))
            return &b->attrs[i];
    return NULL;
}

#endif /* TEST_SDK_COLLECTOR_H */
