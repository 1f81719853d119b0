/*
 * bench-load - a load client that survives collector restarts: several
 * connections send pre-encoded realistic frames (bench/gen.c) to a
 * collector, resend each frame until it is acknowledged (STORED or
 * DUPLICATE), reconnecting by themselves when the collector dies, and
 * record every acknowledged batch.  Used by tests/e2e/test_crash.sh to check
 * that everything acknowledged is stored exactly once across kill -9.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gen.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

typedef struct client {
    pthread_t th;
    int id;
    const char *url;
    gen_frame *frames;
    size_t nframes;
    double deadline;
    uint64_t acked_spans, acked_logs, acked_frames, stored, duplicates, retries, reconnects;
    int failed;
    FILE *log; /* shared, guarded by log_mu */
} client;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-load --url URL [options]\n"
               "Sends realistic frames to a collector, resending each until it is acknowledged\n"
               "and reconnecting when the collector restarts.\n\n"
               "  --url URL          collector nng URL (required)\n"
               "  --clients N        connections (default 3)\n"
               "  --spans N          spans per client (default 100000)\n"
               "  --spans-per-frame N  (default 256)\n"
               "  --seed N           workload seed (default 1); client i uses seed+i\n"
               "  --timeout SECONDS  give up after this (default 60)\n"
               "  --ack-file FILE    append one line per acknowledged frame:\n"
               "                     client batch_id spans logs status\n"
               "  --help             this text\n"
               "Prints one JSON object with the totals; exit 0 when every frame was\n"
               "acknowledged, 1 otherwise.\n");
}

static int open_sock(nng_socket *s, const char *url)
{
    int rv = nng_req0_open(s);
    if (rv != 0)
        return rv;
    nng_setopt_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_setopt_ms(*s, NNG_OPT_RECVTIMEO, 3000);
    nng_setopt_ms(*s, NNG_OPT_SENDTIMEO, 3000);
    nng_setopt_ms(*s, NNG_OPT_RECONNMINT, 50);
    nng_setopt_ms(*s, NNG_OPT_RECONNMAXT, 500);
    /* Non-blocking dial: the socket keeps trying in the background. */
    return nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK);
}

static void *client_main(void *arg)
{
    client *c = arg;
    nng_socket sock;

    if (open_sock(&sock, c->url) != 0) {
        c->failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < c->nframes && !c->failed; i++) {
        const gen_frame *f = &c->frames[i];
        uint64_t bid = 0;
        size_t flen = 0;

        slc_wire_peek(f->bytes, f->len, &bid, &flen);
        for (;;) {
            void *reply = NULL;
            size_t rlen = 0;
            slc_ack ack;
            int rv;

            if (bu_now_s() > c->deadline) {
                c->failed = 1;
                break;
            }
            rv = nng_send(sock, f->bytes, f->len, 0);
            if (rv == 0)
                rv = nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC);
            if (rv != 0) {
                /* Collector gone or slow: a new socket, the same frame. */
                nng_close(sock);
                c->reconnects++;
                usleep(100000);
                if (open_sock(&sock, c->url) != 0) {
                    c->failed = 1;
                    break;
                }
                continue;
            }
            rv = slc_ack_decode(reply, rlen, &ack);
            nng_free(reply, rlen);
            if (rv == 0 && (ack.status == SLC_ACK_STORED || ack.status == SLC_ACK_DUPLICATE)) {
                c->acked_frames++;
                c->acked_spans += f->spans;
                c->acked_logs += f->logs;
                if (ack.status == SLC_ACK_STORED)
                    c->stored++;
                else
                    c->duplicates++;
                if (c->log != NULL) {
                    pthread_mutex_lock(&log_mu);
                    fprintf(c->log, "%d %016llx %u %u %s\n", c->id, (unsigned long long)bid,
                            f->spans, f->logs, ack.status == SLC_ACK_STORED ? "stored" : "dup");
                    pthread_mutex_unlock(&log_mu);
                }
                break;
            }
            if (rv == 0 && ack.status == SLC_ACK_RETRY) {
                c->retries++;
                usleep(5000);
                continue;
            }
            fprintf(stderr, "bench-load: client %d: frame %zu refused: %s\n", c->id, i,
                    rv ? "bad ack" : ack.reason);
            c->failed = 1;
        }
    }
    nng_close(sock);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *ack_file = NULL;
    long clients = 3, spf = 256, timeout = 60;
    unsigned long long spans = 100000, seed = 1;
    client *cs;
    FILE *log = NULL;
    uint64_t tot[7] = {0};
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "bench-load: '%s' needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--ack-file"))
            ack_file = v;
        else if (!strcmp(a, "--clients"))
            clients = strtol(v, &end, 10);
        else if (!strcmp(a, "--spans"))
            spans = strtoull(v, &end, 10);
        else if (!strcmp(a, "--spans-per-frame"))
            spf = strtol(v, &end, 10);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, &end, 10);
        else if (!strcmp(a, "--timeout"))
            timeout = strtol(v, &end, 10);
        else {
            fprintf(stderr, "bench-load: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (end != NULL && *end != '\0') {
            fprintf(stderr, "bench-load: '%s' value '%s' is not a number\n", a, v);
            return 2;
        }
    }
    if (url == NULL || clients < 1 || clients > 64 || spf < 1 || spans < 1 || timeout < 1) {
        fprintf(stderr, "bench-load: need --url; --clients 1..64, --spans, --spans-per-frame "
                        "and --timeout >= 1 (see --help)\n");
        return 2;
    }
    if (ack_file != NULL && (log = fopen(ack_file, "a")) == NULL) {
        perror(ack_file);
        return 2;
    }
    cs = calloc((size_t)clients, sizeof *cs);
    if (cs == NULL)
        return 1;
    for (long i = 0; i < clients; i++) {
        gen_opts g = {.seed = seed * 1000 + (uint64_t)i + 1, .spans_per_frame = (uint32_t)spf,
                      .batch_base = ((seed << 8) + (uint64_t)i + 1) << 40};
        if (gen_frames(&g, spans, &cs[i].frames, &cs[i].nframes) != 0) {
            fprintf(stderr, "bench-load: out of memory generating frames\n");
            return 1;
        }
        cs[i].id = (int)i;
        cs[i].url = url;
        cs[i].log = log;
        cs[i].deadline = bu_now_s() + (double)timeout;
    }
    for (long i = 0; i < clients; i++)
        pthread_create(&cs[i].th, NULL, client_main, &cs[i]);
    for (long i = 0; i < clients; i++) {
        uint64_t sent = 0;
        pthread_join(cs[i].th, NULL);
        for (size_t k = 0; k < cs[i].nframes; k++)
            sent += cs[i].frames[k].spans;
        tot[0] += sent;
        tot[1] += cs[i].acked_spans;
        tot[2] += cs[i].acked_frames;
        tot[3] += cs[i].duplicates;
        tot[4] += cs[i].retries;
        tot[5] += cs[i].reconnects;
        tot[6] += cs[i].acked_logs;
        failed |= cs[i].failed;
        gen_free(cs[i].frames, cs[i].nframes);
    }
    if (log != NULL)
        fclose(log);
    printf("{\"spans_sent\":%llu,\"spans_acked\":%llu,\"frames_acked\":%llu,\"duplicates\":%llu,"
           "\"retries\":%llu,\"reconnects\":%llu,\"logs_acked\":%llu,\"complete\":%s}\n",
           (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[2],
           (unsigned long long)tot[3], (unsigned long long)tot[4], (unsigned long long)tot[5],
           (unsigned long long)tot[6], failed ? "false" : "true");
    free(cs);
    return failed ? 1 : 0;
}
