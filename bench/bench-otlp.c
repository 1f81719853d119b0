/*
 * bench-otlp - OTLP/HTTP ingest rate of a real sightline-collector, next to
 * the native rate, on the same spans.
 *
 * Generates the realistic workload of bench/gen.c, keeps the spans of each
 * frame (one service, up to 512 spans: what an SDK's batch processor
 * sends) and turns them, before any clock starts, into three request sets:
 * native frames (zlib level 1, as the SDK sends), OTLP/JSON bodies and
 * OTLP/protobuf bodies (ExportTraceServiceRequest; small encoders below).
 * Then, per run and per encoding, it starts the collector on a fresh data
 * directory, sends every request from several connections (HTTP/1.1
 * keep-alive over raw sockets for OTLP, so client overhead stays small;
 * nng req for native) until each one is answered 2xx (STORED/DUPLICATE
 * for native; 503/429 are retried), and reports spans/s.  Medians of the
 * runs; the ratios to the native median say what the OTLP decoding costs.
 */
#include <errno.h>
#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gen.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

#define MAX_CLIENTS 64
#define MAX_RUNS 20
#define RESP_MAX (64 * 1024)

enum mode { M_NATIVE = 0, M_JSON, M_PROTO, M_COUNT };
static const char *const mode_name[M_COUNT] = {"native", "otlp-json", "otlp-proto"};

typedef struct opts {
    uint64_t spans;
    int clients, runs, json;
    const char *collector;
} opts;

/* One request: bytes to send and the spans it carries. */
typedef struct req {
    uint8_t *body;
    size_t len;
    uint32_t spans;
} req;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-otlp [options]\n"
            "Measures OTLP/HTTP ingest (JSON and protobuf) of a real sightline-collector\n"
            "next to native ingest of the same spans.\n\n"
            "  --spans N        spans per run and encoding (default 100000)\n"
            "  --clients N      concurrent connections (default 4)\n"
            "  --runs N         repetitions; medians are reported (default 3)\n"
            "  --collector PATH collector binary (default: next to this binary)\n"
            "  --json           print one JSON object\n"
            "  --help           this text\n\n"
            "Environment: SIGHTLINE_BENCH_COLLECTOR_LOG=FILE appends the collectors' logs to FILE\n"
            "(otherwise discarded).\n");
}

/* ---- a growable buffer (benchmark setup only: failure is fatal) ---------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_need(buf *b, size_t k)
{
    if (b->n + k <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->n + k)
        nc *= 2;
    uint8_t *np = realloc(b->p, nc);
    if (np == NULL) {
        fprintf(stderr, "bench-otlp: out of memory\n");
        exit(1);
    }
    b->p = np;
    b->cap = nc;
}

static void b_put(buf *b, const void *p, size_t k)
{
    b_need(b, k);
    if (k > 0) /* an empty string may come with a NULL pointer */
        memcpy(b->p + b->n, p, k);
    b->n += k;
}

static void b_str(buf *b, const char *s)
{
    b_put(b, s, strlen(s));
}

static void b_fmt(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_fmt(buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        b_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* ---- OTLP/JSON ------------------------------------------------------------ */

static void j_string(buf *b, slc_str s)
{
    static const char hex[] = "0123456789abcdef";
    b_put(b, "\"", 1);
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            b_put(b, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            b_put(b, e, 6);
        } else {
            b_put(b, &s.ptr[i], 1);
        }
    }
    b_put(b, "\"", 1);
}

static void j_hex(buf *b, const uint8_t *id, size_t n)
{
    char h[33];
    slc_hex_encode(id, n, h);
    b_put(b, "\"", 1);
    b_put(b, h, n * 2);
    b_put(b, "\"", 1);
}

static void j_attrs(buf *b, const slc_batch *bt, uint32_t first, uint32_t count)
{
    b_str(b, "[");
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &bt->attrs[first + i];
        if (i)
            b_str(b, ",");
        b_str(b, "{\"key\":");
        j_string(b, bt->strs[a->key]);
        b_str(b, ",\"value\":{");
        switch (a->type) {
        case SLC_V_STR:
            b_str(b, "\"stringValue\":");
            j_string(b, bt->strs[a->v.str]);
            break;
        case SLC_V_INT:
            b_fmt(b, "\"intValue\":\"%lld\"", (long long)a->v.i);
            break;
        case SLC_V_DBL:
            b_fmt(b, "\"doubleValue\":%.17g", a->v.d);
            break;
        default:
            b_fmt(b, "\"boolValue\":%s", a->v.b ? "true" : "false");
            break;
        }
        b_str(b, "}}");
    }
    b_str(b, "]");
}

static void j_span(buf *b, const slc_batch *bt, const slc_span *s)
{
    b_str(b, "{\"traceId\":");
    j_hex(b, s->trace_id, 16);
    b_str(b, ",\"spanId\":");
    j_hex(b, s->span_id, 8);
    if (!slc_is_zero(s->parent_id, 8)) {
        b_str(b, ",\"parentSpanId\":");
        j_hex(b, s->parent_id, 8);
    }
    b_str(b, ",\"name\":");
    j_string(b, bt->strs[s->name]);
    b_fmt(b, ",\"kind\":%u,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"",
          s->kind, (unsigned long long)s->start_ns, (unsigned long long)s->end_ns);
    b_str(b, ",\"attributes\":");
    j_attrs(b, bt, s->attr_first, s->attr_count);
    if (s->event_count) {
        b_str(b, ",\"events\":[");
        for (uint32_t i = 0; i < s->event_count; i++) {
            const slc_event *e = &bt->events[s->event_first + i];
            b_fmt(b, "%s{\"timeUnixNano\":\"%llu\",\"name\":", i ? "," : "",
                  (unsigned long long)e->time_ns);
            j_string(b, bt->strs[e->name]);
            b_str(b, ",\"attributes\":");
            j_attrs(b, bt, e->attr_first, e->attr_count);
            b_str(b, "}");
        }
        b_str(b, "]");
    }
    if (s->link_count) {
        b_str(b, ",\"links\":[");
        for (uint32_t i = 0; i < s->link_count; i++) {
            const slc_link *l = &bt->links[s->link_first + i];
            b_str(b, i ? ",{\"traceId\":" : "{\"traceId\":");
            j_hex(b, l->trace_id, 16);
            b_str(b, ",\"spanId\":");
            j_hex(b, l->span_id, 8);
            b_str(b, ",\"attributes\":");
            j_attrs(b, bt, l->attr_first, l->attr_count);
            b_str(b, "}");
        }
        b_str(b, "]");
    }
    b_fmt(b, ",\"status\":{\"code\":%u", s->status);
    if (s->status_msg) {
        b_str(b, ",\"message\":");
        j_string(b, bt->strs[s->status_msg]);
    }
    b_str(b, "}}");
}

/* One ExportTraceServiceRequest in JSON: a resourceSpans entry per run of
 * spans of the same service. */
static void otlp_json(buf *b, const slc_batch *bt)
{
    b_str(b, "{\"resourceSpans\":[");
    for (uint32_t i = 0; i < bt->nspans;) {
        uint32_t svc = bt->spans[i].service;
        b_str(b, i ? ",{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
                     "\"stringValue\":"
                   : "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
                     "\"stringValue\":");
        j_string(b, bt->strs[svc]);
        b_str(b, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"bench-otlp\",\"version\":\"1\"},"
                 "\"spans\":[");
        for (uint32_t k = 0; i < bt->nspans && bt->spans[i].service == svc; i++, k++) {
            if (k)
                b_str(b, ",");
            j_span(b, bt, &bt->spans[i]);
        }
        b_str(b, "]}]}");
    }
    b_str(b, "]}");
}

/* ---- OTLP/protobuf ---------------------------------------------------------
 * Nested messages are encoded into their own buffer first, then appended
 * with their length: simple, and the cost is outside the measurement. */

static void pb_varint(buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    b_put(b, t, n);
}

static void pb_tag(buf *b, uint32_t field, uint32_t wt)
{
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_bytes(buf *b, uint32_t field, const void *p, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    b_put(b, p, n);
}

static void pb_msg(buf *b, uint32_t field, buf *sub)
{
    pb_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

static void pb_fixed64(buf *b, uint32_t field, uint64_t v)
{
    uint8_t t[8];
    pb_tag(b, field, 1);
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    b_put(b, t, 8);
}

static void pb_attrs(buf *b, uint32_t field, const slc_batch *bt, uint32_t first, uint32_t count)
{
    buf kv = {0}, av = {0};
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &bt->attrs[first + i];
        pb_bytes(&kv, 1, bt->strs[a->key].ptr, bt->strs[a->key].len);
        switch (a->type) {
        case SLC_V_STR:
            pb_bytes(&av, 1, bt->strs[a->v.str].ptr, bt->strs[a->v.str].len);
            break;
        case SLC_V_INT:
            pb_tag(&av, 3, 0);
            pb_varint(&av, (uint64_t)a->v.i);
            break;
        case SLC_V_DBL: {
            uint64_t u;
            memcpy(&u, &a->v.d, 8);
            pb_fixed64(&av, 4, u);
            break;
        }
        default:
            pb_tag(&av, 2, 0);
            pb_varint(&av, a->v.b ? 1 : 0);
            break;
        }
        pb_msg(&kv, 2, &av);
        pb_msg(b, field, &kv);
    }
    free(kv.p);
    free(av.p);
}

static void pb_span(buf *b, const slc_batch *bt, const slc_span *s)
{
    buf sub = {0};
    pb_bytes(b, 1, s->trace_id, 16);
    pb_bytes(b, 2, s->span_id, 8);
    if (!slc_is_zero(s->parent_id, 8))
        pb_bytes(b, 4, s->parent_id, 8);
    pb_bytes(b, 5, bt->strs[s->name].ptr, bt->strs[s->name].len);
    if (s->kind) {
        pb_tag(b, 6, 0);
        pb_varint(b, s->kind);
    }
    pb_fixed64(b, 7, s->start_ns);
    pb_fixed64(b, 8, s->end_ns);
    pb_attrs(b, 9, bt, s->attr_first, s->attr_count);
    for (uint32_t i = 0; i < s->event_count; i++) {
        const slc_event *e = &bt->events[s->event_first + i];
        pb_fixed64(&sub, 1, e->time_ns);
        pb_bytes(&sub, 2, bt->strs[e->name].ptr, bt->strs[e->name].len);
        pb_attrs(&sub, 3, bt, e->attr_first, e->attr_count);
        pb_msg(b, 11, &sub);
    }
    for (uint32_t i = 0; i < s->link_count; i++) {
        const slc_link *l = &bt->links[s->link_first + i];
        pb_bytes(&sub, 1, l->trace_id, 16);
        pb_bytes(&sub, 2, l->span_id, 8);
        pb_attrs(&sub, 4, bt, l->attr_first, l->attr_count);
        pb_msg(b, 13, &sub);
    }
    if (s->status_msg)
        pb_bytes(&sub, 2, bt->strs[s->status_msg].ptr, bt->strs[s->status_msg].len);
    if (s->status) {
        pb_tag(&sub, 3, 0);
        pb_varint(&sub, s->status);
    }
    pb_msg(b, 15, &sub);
    free(sub.p);
}

static void otlp_proto(buf *b, const slc_batch *bt)
{
    buf rs = {0}, sub = {0}, ss = {0}, sp = {0};
    for (uint32_t i = 0; i < bt->nspans;) {
        uint32_t svc = bt->spans[i].service;
        /* Resource { attributes = 1: service.name } */
        {
            buf kv = {0}, av = {0};
            pb_bytes(&av, 1, bt->strs[svc].ptr, bt->strs[svc].len);
            pb_bytes(&kv, 1, "service.name", 12);
            pb_msg(&kv, 2, &av);
            pb_msg(&sub, 1, &kv);
            free(kv.p);
            free(av.p);
        }
        pb_msg(&rs, 1, &sub);
        /* ScopeSpans { scope = 1 { name = 1, version = 2 }, spans = 2 } */
        pb_bytes(&sub, 1, "bench-otlp", 10);
        pb_bytes(&sub, 2, "1", 1);
        pb_msg(&ss, 1, &sub);
        for (; i < bt->nspans && bt->spans[i].service == svc; i++) {
            pb_span(&sp, bt, &bt->spans[i]);
            pb_msg(&ss, 2, &sp);
        }
        pb_msg(&rs, 2, &ss);
        pb_msg(b, 1, &rs);
    }
    free(rs.p);
    free(sub.p);
    free(ss.p);
    free(sp.p);
}

/* ---- the request sets --------------------------------------------------- */

/* Keeps only the spans of each generated frame (OTLP /v1/traces carries no
 * logs) and builds the three encodings of the same spans. */
static int build_requests(const gen_frame *gf, size_t n, req *out[M_COUNT], size_t *nout,
                          uint64_t *nspans)
{
    size_t k = 0;
    *nspans = 0;
    for (int m = 0; m < M_COUNT; m++)
        if ((out[m] = calloc(n, sizeof **out)) == NULL)
            return -1;
    for (size_t i = 0; i < n; i++) {
        slc_batch *d = NULL, *s = NULL;
        char err[256];
        buf jb = {0}, pb = {0};
        if (slc_wire_decode(gf[i].bytes, gf[i].len, NULL, &d, err, sizeof err) != 0) {
            fprintf(stderr, "bench-otlp: generated frame does not decode: %s\n", err);
            return -1;
        }
        if (d->nspans == 0) {
            slc_batch_free(d);
            continue;
        }
        if ((s = slc_batch_new()) == NULL)
            return -1;
        s->batch_id = d->batch_id;
        for (uint32_t j = 0; j < d->nspans; j++)
            if (slc_batch_copy_span(s, d, j) != 0)
                return -1;
        if (slc_wire_encode(s, 1, &out[M_NATIVE][k].body, &out[M_NATIVE][k].len) != 0)
            return -1;
        otlp_json(&jb, s);
        otlp_proto(&pb, s);
        out[M_JSON][k] = (req){jb.p, jb.n, s->nspans};
        out[M_PROTO][k] = (req){pb.p, pb.n, s->nspans};
        out[M_NATIVE][k].spans = s->nspans;
        *nspans += s->nspans;
        k++;
        slc_batch_free(s);
        slc_batch_free(d);
    }
    *nout = k;
    return 0;
}

/* ---- senders ------------------------------------------------------------ */

typedef struct sender {
    const req *reqs;
    size_t nreqs;
    atomic_size_t next;
    atomic_ulong spans;
    atomic_ulong retries;
    atomic_int failed;
    enum mode mode;
    const char *url; /* native */
    int port;        /* OTLP */
} sender;

static void *native_thread(void *arg)
{
    sender *s = arg;
    nng_socket sock;
    if (bu_req_dial(&sock, s->url) != 0) {
        atomic_store(&s->failed, 1);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->nreqs || atomic_load(&s->failed))
            break;
        const req *r = &s->reqs[i];
        unsigned long retries = 0;
        char why[SLC_ACK_MAX_REASON + 16];
        int rc = bu_send_frame(sock, r->body, r->len, &retries, why, sizeof why);
        atomic_fetch_add(&s->retries, retries);
        if (rc == 0) {
            atomic_fetch_add(&s->spans, r->spans);
            continue;
        }
        if (rc == -2)
            fprintf(stderr, "bench-otlp: native frame %zu refused: %s\n", i, why);
        atomic_store(&s->failed, 1);
    }
    nng_close(sock);
    return NULL;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Reads one HTTP/1.1 response with a Content-Length body (what the
 * collector sends).  Returns the status, or -1 on a broken connection;
 * *close_after = 1 when the server asked to close.  The body (at most
 * RESP_MAX - 1 bytes, NUL-terminated) lands in rb, its length in
 * *body_len. */
static int read_response(int fd, char *rb, size_t *body_len, int *close_after)
{
    size_t n = 0, hdr_end = 0, clen = 0;
    int status = -1;
    for (;;) {
        char *e;
        if (n == RESP_MAX - 1)
            return -1;
        ssize_t r = read(fd, rb + n, RESP_MAX - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        rb[n] = '\0';
        if ((e = strstr(rb, "\r\n\r\n")) != NULL) {
            hdr_end = (size_t)(e - rb) + 4;
            break;
        }
    }
    if (sscanf(rb, "HTTP/1.%*c %d", &status) != 1)
        return -1;
    *close_after = 0;
    for (char *l = strstr(rb, "\r\n"); l != NULL && (size_t)(l - rb) < hdr_end - 2;
         l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoull(l + 17, NULL, 10);
        else if (strncasecmp(l + 2, "Connection: close", 17) == 0)
            *close_after = 1;
    }
    if (clen > RESP_MAX - 1 - hdr_end)
        return -1;
    while (n < hdr_end + clen) {
        ssize_t r = read(fd, rb + n, hdr_end + clen - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
    memmove(rb, rb + hdr_end, clen);
    rb[clen] = '\0';
    *body_len = clen;
    return status;
}

/* Spans a 2xx OTLP answer says were left out (partial success):
 * {"partialSuccess":{"rejectedSpans":"N"}} or, in protobuf,
 * partial_success = 1 { int64 rejected_spans = 1 }.  0 when absent. */
static uint64_t rejected_spans(enum mode m, const char *b, size_t n)
{
    if (m == M_JSON) {
        const char *p = strstr(b, "\"rejectedSpans\"");
        if (p == NULL)
            return 0;
        p += strlen("\"rejectedSpans\"");
        while (*p == ':' || *p == ' ' || *p == '"')
            p++;
        return strtoull(p, NULL, 10);
    }
    /* 0x0a len 0x08 varint ... */
    if (n < 4 || (uint8_t)b[0] != 0x0a || (uint8_t)b[2] != 0x08)
        return 0;
    uint64_t v = 0;
    for (size_t i = 3, sh = 0; i < n && sh < 64; i++, sh += 7) {
        v |= (uint64_t)((uint8_t)b[i] & 0x7f) << sh;
        if (!((uint8_t)b[i] & 0x80))
            break;
    }
    return v;
}

static void *http_thread(void *arg)
{
    sender *s = arg;
    const char *ctype = s->mode == M_JSON ? "application/json" : "application/x-protobuf";
    char *rb = malloc(RESP_MAX);
    int fd = -1;
    if (rb == NULL) {
        atomic_store(&s->failed, 1);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->nreqs || atomic_load(&s->failed))
            break;
        const req *r = &s->reqs[i];
        for (int attempt = 0;; attempt++) {
            char hdr[256];
            int close_after = 0, st;
            size_t body_len = 0;
            if (fd < 0 && (fd = bu_tcp_connect(s->port)) < 0) {
                fprintf(stderr, "bench-otlp: cannot connect to 127.0.0.1:%d: %s\n", s->port,
                        strerror(errno));
                atomic_store(&s->failed, 1);
                break;
            }
            int hl = snprintf(hdr, sizeof hdr,
                              "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                              "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                              s->port, ctype, r->len);
            struct iovec iov[2] = {{hdr, (size_t)hl}, {r->body, r->len}};
            st = write_all(fd, iov, 2) == 0 ? read_response(fd, rb, &body_len, &close_after) : -1;
            if (st < 0 || close_after) {
                close(fd);
                fd = -1;
            }
            if (st >= 200 && st < 300) {
                uint64_t rej = rejected_spans(s->mode, rb, body_len);
                if (rej > 0)
                    fprintf(stderr, "bench-otlp: %s request %zu: %llu spans rejected\n",
                            mode_name[s->mode], i, (unsigned long long)rej);
                atomic_fetch_add(&s->spans, rej < r->spans ? r->spans - rej : 0);
                break;
            }
            if ((st < 0 || st == 503 || st == 429) && attempt < 1000) {
                atomic_fetch_add(&s->retries, 1);
                usleep(2000);
                continue;
            }
            fprintf(stderr, "bench-otlp: %s request %zu answered %d: %.300s\n",
                    mode_name[s->mode], i, st, st < 0 ? "connection failed" : rb);
            atomic_store(&s->failed, 1);
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    free(rb);
    return NULL;
}

/* Sends every request with n client threads; returns spans/s or -1. */
static double send_all(enum mode m, const req *reqs, size_t n, int clients, const char *url,
                       int port, uint64_t *spans, uint64_t *retries)
{
    sender s = {.reqs = reqs, .nreqs = n, .mode = m, .url = url, .port = port};
    pthread_t th[MAX_CLIENTS];
    int started = 0;
    double t0 = bu_now_s();
    for (int i = 0; i < clients; i++)
        if (pthread_create(&th[i], NULL, m == M_NATIVE ? native_thread : http_thread, &s) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double dt = bu_now_s() - t0;
    *spans = atomic_load(&s.spans);
    *retries = atomic_load(&s.retries);
    if (started == 0 || atomic_load(&s.failed))
        return -1;
    return (double)*spans / dt;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.spans = 100000, .clients = 4, .runs = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (v && !strcmp(a, "--spans") && parse_u64(v, &n) == 0) {
            o.spans = n, i++;
        } else if (v && !strcmp(a, "--clients") && parse_u64(v, &n) == 0 && n <= MAX_CLIENTS) {
            o.clients = (int)n, i++;
        } else if (v && !strcmp(a, "--runs") && parse_u64(v, &n) == 0 && n <= MAX_RUNS) {
            o.runs = (int)n, i++;
        } else if (v && !strcmp(a, "--collector")) {
            o.collector = v, i++;
        } else {
            fprintf(stderr, "bench-otlp: unknown, incomplete or out-of-range option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.runs < 1 || o.clients < 1 || o.spans < 1) {
        fprintf(stderr, "bench-otlp: --runs 1..%d, --clients 1..%d, --spans >= 1\n", MAX_RUNS,
                MAX_CLIENTS);
        return 2;
    }
    if (!o.collector && !(o.collector = bu_collector_next_to_self()))
        return 2;
    if (access(o.collector, X_OK) != 0) {
        fprintf(stderr, "bench-otlp: cannot run %s: build it with `make`\n", o.collector);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    fprintf(stderr, "bench-otlp: generating %llu spans and encoding them three ways...\n",
            (unsigned long long)o.spans);
    gen_frame *gf = NULL;
    size_t ngf = 0, nreq = 0;
    uint64_t nspans = 0;
    req *reqs[M_COUNT] = {0};
    gen_opts g = {.seed = 42};
    if (gen_frames(&g, o.spans, &gf, &ngf) != 0 ||
        build_requests(gf, ngf, reqs, &nreq, &nspans) != 0) {
        fprintf(stderr, "bench-otlp: building the requests failed (out of memory?)\n");
        return 1;
    }
    gen_free(gf, ngf);
    uint64_t bytes[M_COUNT] = {0};
    for (int m = 0; m < M_COUNT; m++)
        for (size_t i = 0; i < nreq; i++)
            bytes[m] += reqs[m][i].len;

    double rate[M_COUNT][MAX_RUNS];
    uint64_t retries_total[M_COUNT] = {0};
    char tmpl[] = "/tmp/sl-bench-otlp.XXXXXX";
    char *root = mkdtemp(tmpl);
    if (!root) {
        fprintf(stderr, "bench-otlp: cannot create a directory under /tmp: %s\n",
                strerror(errno));
        return 1;
    }
    int rc = 0;
    for (int r = 0; r < o.runs && rc == 0; r++) {
        /* the order rotates so no encoding always runs on a warmer machine */
        for (int k = 0; k < M_COUNT && rc == 0; k++) {
            enum mode m = (enum mode)((k + r) % M_COUNT);
            char dir[256], url[300], http[64];
            int port = bu_port_for((unsigned)r * 13 + (unsigned)m * 5);
            snprintf(dir, sizeof dir, "%s/run%d-%s", root, r, mode_name[m]);
            snprintf(url, sizeof url, "ipc://%s/ingest%d%d.ipc", root, r, (int)m);
            snprintf(http, sizeof http, "127.0.0.1:%d", port);
            pid_t pid = bu_start_collector(o.collector, dir, url, http, 0);
            if (pid < 0 || bu_wait_ready(pid, url, port) != 0) {
                fprintf(stderr, "bench-otlp: the collector did not start (port %d busy?)\n",
                        port);
                if (pid > 0)
                    bu_stop_collector(pid);
                rc = 1;
                break;
            }
            uint64_t spans = 0, retries = 0;
            double v = send_all(m, reqs[m], nreq, o.clients, url, port, &spans, &retries);
            int st = bu_stop_collector(pid);
            if (v < 0 || st != 0 || spans != nspans) {
                fprintf(stderr,
                        "bench-otlp: run %d %s failed (collector exit %d, %llu of %llu spans "
                        "acknowledged)\n",
                        r + 1, mode_name[m], st, (unsigned long long)spans,
                        (unsigned long long)nspans);
                rc = 1;
            }
            rate[m][r] = v;
            retries_total[m] += retries;
            if (bu_rmrf(dir) != 0)
                fprintf(stderr, "bench-otlp: could not remove %s\n", dir);
        }
        if (rc == 0)
            fprintf(stderr, "run %d: native %.0f, OTLP/JSON %.0f, OTLP/protobuf %.0f spans/s\n",
                    r + 1, rate[M_NATIVE][r], rate[M_JSON][r], rate[M_PROTO][r]);
    }
    rmdir(root);
    if (rc == 0) {
        double mn = bu_median(rate[M_NATIVE], o.runs), mj = bu_median(rate[M_JSON], o.runs);
        double mp = bu_median(rate[M_PROTO], o.runs);
        if (o.json) {
            printf("{\"otlp_json_spans_per_s\":%.0f,\"otlp_proto_spans_per_s\":%.0f,"
                   "\"native_spans_per_s\":%.0f,\"otlp_json_ratio_to_native\":%.3f,"
                   "\"otlp_proto_ratio_to_native\":%.3f,\"spans\":%llu,\"requests\":%zu,"
                   "\"runs\":%d,\"clients\":%d,\"bytes_per_span\":{\"native\":%.1f,"
                   "\"otlp_json\":%.1f,\"otlp_proto\":%.1f},\"retries\":{\"native\":%llu,"
                   "\"otlp_json\":%llu,\"otlp_proto\":%llu}}\n",
                   mj, mp, mn, mj / mn, mp / mn, (unsigned long long)nspans, nreq, o.runs,
                   o.clients, (double)bytes[M_NATIVE] / (double)nspans,
                   (double)bytes[M_JSON] / (double)nspans,
                   (double)bytes[M_PROTO] / (double)nspans,
                   (unsigned long long)retries_total[M_NATIVE],
                   (unsigned long long)retries_total[M_JSON],
                   (unsigned long long)retries_total[M_PROTO]);
        } else {
            printf("ingest of the same %llu spans (%zu requests), median of %d runs, "
                   "%d connections:\n",
                   (unsigned long long)nspans, nreq, o.runs, o.clients);
            printf("  native         %10.0f spans/s  (%6.1f bytes/span on the wire, zlib)\n", mn,
                   (double)bytes[M_NATIVE] / (double)nspans);
            printf("  OTLP/protobuf  %10.0f spans/s  (%6.1f bytes/span, %.2fx native)\n", mp,
                   (double)bytes[M_PROTO] / (double)nspans, mp / mn);
            printf("  OTLP/JSON      %10.0f spans/s  (%6.1f bytes/span, %.2fx native)\n", mj,
                   (double)bytes[M_JSON] / (double)nspans, mj / mn);
        }
    }
    for (int m = 0; m < M_COUNT; m++) {
        for (size_t i = 0; reqs[m] != NULL && i < nreq; i++)
            free(reqs[m][i].body);
        free(reqs[m]);
    }
    return rc;
}
