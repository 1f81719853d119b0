/*
 * sl_exporter.c - the background half of the SDK.
 *
 * Two threads, so that a slow or dead collector never stops the queues from
 * being drained (a drained queue is what keeps the host's hot path free):
 *
 *  - the batcher (sl-batcher) polls every thread's segment queue, converts
 *    TSC ticks to Unix ns, turns records into one slc_batch (spans and logs
 *    together, literal strings interned through a per-frame pointer
 *    cache), and cuts it into a frame at batch_bytes or batch_delay_ms;
 *    emptied segments go back to their threads.  Every stats_interval_ms it
 *    adds the SDK's own counters as a "sightline.sdk.stats" log record.
 *    When unacknowledged frames already fill their share of the memory
 *    budget, newly drained items are dropped and counted instead.
 *  - the sender (sl-sender) sends the oldest frame, waits for its ack and
 *    either forgets it (STORED/DUPLICATE), drops it with the reason kept
 *    (REJECTED/UNAUTHORIZED), or keeps it and retries the same bytes later
 *    (RETRY, timeout, transport error) with exponential backoff, full
 *    jitter and a circuit breaker.
 *
 * Frames are resolved in order, so "everything up to sequence N is resolved"
 * is one number; sl_flush() waits on it.
 *
 * Below it: the tracer's queues (sl__seg_retire), the transport and the
 * shared state.  Above it, sl_init.c starts and stops it; the one call
 * back up is the public sl_stats_get(), for the self-observation record.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sl_internal.h"
#include "common/slc_bytes.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

struct frame {
    struct frame *next;
    uint64_t seq;
    uint64_t batch_id;
    uint8_t *bytes;
    size_t len;
    uint32_t nspans, nlogs;
};

/* ---- ticks to Unix ns ---------------------------------------------------------- */

/* The hot path stores raw TSC ticks; they become Unix ns here, at drain
 * time, from an anchor pair (tsc, realtime ns) refreshed every 100 ms and a
 * rate measured over a window of up to a minute.  Items are converted a few
 * ms after they were recorded, so the anchor is always close and the error
 * stays far below a microsecond.  Without the TSC, ticks already are ns. */
struct sl_clock {
    int use_tsc;
    uint64_t base_tsc, base_ns; /* start of the rate window */
    uint64_t tsc, ns;           /* the anchor                */
    double ns_per_tick;
};

static void clk_sample(uint64_t *tsc, uint64_t *ns)
{
    /* Bracket the clock read with two rdtsc and keep the tightest of a few
     * tries: a preemption in the middle would skew the pair. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t1 = sl__ticks();
        uint64_t n = slc_now_ns();
        uint64_t t2 = sl__ticks();
        if (t2 - t1 < best) {
            best = t2 - t1;
            *tsc = t1 + (t2 - t1) / 2;
            *ns = n;
        }
    }
}

static void clk_init(struct sl_clock *c)
{
    memset(c, 0, sizeof(*c));
    c->use_tsc = sl__g.use_tsc;
    if (!c->use_tsc)
        return;
    clk_sample(&c->base_tsc, &c->base_ns);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    clk_sample(&c->tsc, &c->ns);
    c->ns_per_tick = c->tsc > c->base_tsc
                         ? (double)(c->ns - c->base_ns) / (double)(c->tsc - c->base_tsc)
                         : 1.0;
}

static void clk_refresh(struct sl_clock *c)
{
    if (!c->use_tsc)
        return;
    uint64_t tsc, ns;
    clk_sample(&tsc, &ns);
    if (ns - c->ns < 100 * 1000 * 1000ull && ns >= c->ns)
        return;
    if (ns > c->base_ns && tsc > c->base_tsc) {
        double r = (double)(ns - c->base_ns) / (double)(tsc - c->base_tsc);
        /* A rate off by more than 1% means the wall clock was stepped:
         * keep the old rate and start a new window. */
        if (r > c->ns_per_tick * 0.99 && r < c->ns_per_tick * 1.01)
            c->ns_per_tick = r;
        else
            c->base_tsc = tsc, c->base_ns = ns;
    } else {
        c->base_tsc = tsc, c->base_ns = ns;
    }
    if (ns - c->base_ns > 60ull * 1000 * 1000 * 1000)
        c->base_tsc = c->tsc, c->base_ns = c->ns;
    c->tsc = tsc;
    c->ns = ns;
}

static inline uint64_t clk_to_ns(const struct sl_clock *c, uint64_t ticks)
{
    if (!c->use_tsc)
        return ticks;
    double d = (double)(int64_t)(ticks - c->tsc) * c->ns_per_tick;
    return c->ns + (uint64_t)(int64_t)(d >= 0 ? d + 0.5 : d - 0.5);
}

#define SL_PCACHE 1024
struct pcache {
    const char *ptr;
    size_t maxlen;
    uint64_t gen;
    uint32_t idx;
};

struct sl_exporter {
    pthread_mutex_t mu;
    pthread_cond_t cv_batch, cv_send, cv_done;
    pthread_t batcher, sender;
    int batcher_started, sender_started;
    int stop_batcher, stop_sender, aborted;
    uint64_t deadline_ns;

    uint64_t flush_req, flush_done, flushed_seq;
    struct frame *head, *tail;
    size_t frame_bytes;
    uint64_t next_seq, resolved_seq;

    struct sl_transport *tp;
    uint64_t batch_base, batch_ctr;

    /* batcher-only state */
    slc_batch *b;
    uint64_t oldest_ns;
    size_t est;
    uint32_t bspans, blogs, bstats;
    uint64_t stats_due_ns; /* when the next sightline.sdk.stats record is due */
    char instance[17];     /* hex id of this SDK run, for the stats record */
    uint32_t service_idx;
    char *scratch;
    size_t scratch_cap;
    struct sl_clock clk;
    uint64_t batch_gen; /* bumped per batch: invalidates pc[] */
    int zlevel;         /* zlib level of frames, 0 = none */
    uint32_t stats_interval_ms; /* 0: no stats records */
    struct pcache *pc;  /* SL_PCACHE entries */
    uint32_t str_max;   /* the collector's limits: bytes per string, */
    uint32_t attr_max;  /* attributes per item                       */
    uint32_t res_est;   /* wire bytes the resource adds to a local root */
    uint64_t rng[4];
};

/* Exporter counters: global so they survive sl_shutdown() for reading. */
static struct {
    _Atomic uint64_t spans_exported, logs_exported;
    _Atomic uint64_t frames_sent, frames_acked, frames_retried, bytes_sent, frames_queued;
    _Atomic uint64_t drop_spans[SL_DROP__COUNT], drop_logs[SL_DROP__COUNT];
    _Atomic uint64_t attrs_dropped; /* resource attributes over the per-item limit */
    _Atomic int breaker_open;
} xs;

void sl__exp_reset_stats(void) { memset(&xs, 0, sizeof(xs)); }

void sl__exp_count_drop(int reason, uint64_t spans, uint64_t logs)
{
    if (reason < 0 || reason >= SL_DROP__COUNT)
        return;
    atomic_fetch_add(&xs.drop_spans[reason], spans);
    atomic_fetch_add(&xs.drop_logs[reason], logs);
}

void sl__exp_stats(sl_stats *st)
{
    st->spans_exported = atomic_load(&xs.spans_exported);
    st->logs_exported = atomic_load(&xs.logs_exported);
    st->frames_sent = atomic_load(&xs.frames_sent);
    st->frames_acked = atomic_load(&xs.frames_acked);
    st->frames_retried = atomic_load(&xs.frames_retried);
    st->bytes_sent = atomic_load(&xs.bytes_sent);
    st->frames_queued = atomic_load(&xs.frames_queued);
    st->breaker_open = atomic_load(&xs.breaker_open);
    st->attrs_dropped += atomic_load(&xs.attrs_dropped);
    for (int i = 0; i < SL_DROP__COUNT; i++) {
        st->spans_dropped_by[i] += atomic_load(&xs.drop_spans[i]);
        st->logs_dropped_by[i] += atomic_load(&xs.drop_logs[i]);
    }
}

void sl__exp_atfork_child(void)
{
    struct sl_exporter *e = sl__g.exp;
    sl__g.exp = NULL; /* its threads do not exist here; leak it on purpose */
    (void)e;
}

static void deadline_ts(uint64_t abs_ns, struct timespec *ts)
{
    /* Condition variables use CLOCK_MONOTONIC (set at init); convert. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t wall = slc_now_ns();
    uint64_t delta = abs_ns > wall ? abs_ns - wall : 0;
    uint64_t t = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec + delta;
    ts->tv_sec = (time_t)(t / 1000000000ull);
    ts->tv_nsec = (long)(t % 1000000000ull);
}

/* Waits on cv until abs_ns (wall-clock ns) or a signal; mu held. */
static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t abs_ns)
{
    struct timespec ts;
    deadline_ts(abs_ns, &ts);
    pthread_cond_timedwait(cv, mu, &ts);
}

/* ---- building batches ----------------------------------------------------------- */

/* Interns a user string, cut to the collector's per-string limit and with
 * invalid UTF-8 (a cut multi-byte tail after truncation, or binary junk)
 * replaced by '?': one bad string must not get the whole frame rejected by
 * the collector.  Every string that comes from outside the SDK goes
 * through here. */
static int intern_clean(struct sl_exporter *e, const char *s, size_t len, uint32_t *idx)
{
    if (__builtin_expect(len > e->str_max, 0))
        len = e->str_max;
    if (slc_utf8_valid(s, len))
        return slc_batch_intern(e->b, s, len, idx);
    if (e->scratch_cap < len) {
        char *p = realloc(e->scratch, len);
        if (p == NULL)
            return SL_ENOMEM;
        e->scratch = p;
        e->scratch_cap = len;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n > 0 && i + n <= len && slc_utf8_valid(s + i, n)) {
            memcpy(e->scratch + o, s + i, n);
            o += n;
            i += n;
        } else {
            e->scratch[o++] = '?';
            i++;
        }
    }
    return slc_batch_intern(e->b, e->scratch, o, idx);
}

/* Interns a literal string the hot path stored as a pointer (at most
 * maxlen bytes of it).  A direct-mapped cache keyed by (pointer, maxlen),
 * valid for the current batch only, turns the repeats - nearly every key
 * of every span - into one compare instead of a hash of the bytes. */
static int intern_ptr(struct sl_exporter *e, const uint8_t *at, size_t maxlen, uint32_t *idx)
{
    const char *s;
    memcpy(&s, at, sizeof(s));
    uintptr_t v = (uintptr_t)s;
    struct pcache *c = &e->pc[(v ^ (v >> 7) ^ maxlen) & (SL_PCACHE - 1)];
    if (c->ptr == s && c->maxlen == maxlen && c->gen == e->batch_gen) {
        *idx = c->idx;
        return SL_OK;
    }
    int rc = intern_clean(e, s, strnlen(s, maxlen), idx);
    if (rc == SL_OK) {
        c->ptr = s;
        c->maxlen = maxlen;
        c->gen = e->batch_gen;
        c->idx = *idx;
    }
    return rc;
}

/* Sets a double attribute value.  The wire format takes only finite
 * numbers (a NaN anywhere gets the whole frame rejected), so NaN and the
 * infinities travel as the strings the OTLP receiver also uses. */
static int set_double(struct sl_exporter *e, slc_attr *a, double d)
{
    if (__builtin_expect(isfinite(d), 1)) {
        a->type = SLC_V_DBL;
        a->v.d = d;
        return SL_OK;
    }
    const char *t = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
    a->type = SLC_V_STR;
    return slc_batch_intern(e->b, t, strlen(t), &a->v.str);
}

/* Adds one ATTR entry at p (bounded by end); returns bytes consumed or 0. */
static size_t add_attr_entry(struct sl_exporter *e, const uint8_t *p, const uint8_t *end, int *rc)
{
    if (end - p < 2 || p[0] != SL_T_ATTR)
        return 0;
    uint8_t tb = p[1], type = tb & SL_A_TYPE;
    slc_attr a;
    memset(&a, 0, sizeof(a));
    size_t n;
    if (tb & SL_A_KPTR) {
        if (end - p < 10)
            return 0;
        if ((*rc = intern_ptr(e, p + 2, SL_MAX_KEY, &a.key)) != 0)
            return 0;
        n = 10;
    } else {
        if (end - p < 4)
            return 0;
        size_t klen = slc_get_le16(p + 2);
        n = 4 + klen;
        if ((size_t)(end - p) < n)
            return 0;
        if ((*rc = intern_clean(e, (const char *)p + 4, klen, &a.key)) != 0)
            return 0;
    }
    const uint8_t *v = p + n;
    switch (type) {
    case SL_ATTR_STR: {
        if (tb & SL_A_VPTR) {
            if (end - v < 8)
                return 0;
            if ((*rc = intern_ptr(e, v, sl__g.cfg.max_attr_value, &a.v.str)) != 0)
                return 0;
            n += 8;
        } else {
            if (end - v < 4)
                return 0;
            size_t vl = slc_get_le32(v);
            if ((size_t)(end - v) < 4 + vl)
                return 0;
            if ((*rc = intern_clean(e, (const char *)v + 4, vl, &a.v.str)) != 0)
                return 0;
            n += 4 + vl;
        }
        a.type = SLC_V_STR;
        break;
    }
    case SL_ATTR_INT:
        if (end - v < 8)
            return 0;
        a.type = SLC_V_INT;
        a.v.i = (int64_t)slc_get_le64(v);
        n += 8;
        break;
    case SL_ATTR_DOUBLE: {
        if (end - v < 8)
            return 0;
        double d;
        memcpy(&d, v, 8);
        if ((*rc = set_double(e, &a, d)) != 0)
            return 0;
        n += 8;
        break;
    }
    case SL_ATTR_BOOL:
        if (end - v < 1)
            return 0;
        a.type = SLC_V_BOOL;
        a.v.b = v[0] ? 1 : 0;
        n += 1;
        break;
    default:
        return 0;
    }
    if ((*rc = slc_batch_add_attr(e->b, &a, NULL)) != 0)
        return 0;
    return n;
}

/* Size of the entry at p, or 0 if malformed.  For EVENT and LINK only the
 * header; their attributes follow as ATTR entries. */
static size_t entry_size(const uint8_t *p, const uint8_t *end)
{
    size_t left = (size_t)(end - p);
    if (left < 1)
        return 0;
    size_t n;
    switch (p[0]) {
    case SL_T_NAME:
    case SL_T_STATUS:
    case SL_T_TSTATE:
        n = left >= 3 ? 3 + (size_t)slc_get_le16(p + 1) : 0;
        break;
    case SL_T_BODY:
        n = left >= 5 ? 5 + (size_t)slc_get_le32(p + 1) : 0;
        break;
    case SL_T_NAME_P:
    case SL_T_BODY_P:
        n = 9;
        break;
    case SL_T_EVENT:
        n = left >= 13 ? 13 + (size_t)slc_get_le16(p + 11) : 0;
        break;
    case SL_T_LINK:
        n = 27;
        break;
    case SL_T_ATTR: {
        if (left < 2)
            return 0;
        size_t k;
        if (p[1] & SL_A_KPTR)
            k = 10;
        else if (left < 4)
            return 0;
        else
            k = 4 + slc_get_le16(p + 2);
        if (left < k)
            return 0;
        switch (p[1] & SL_A_TYPE) {
        case SL_ATTR_STR:
            if (p[1] & SL_A_VPTR)
                n = k + 8;
            else
                n = left >= k + 4 ? k + 4 + slc_get_le32(p + k) : 0;
            break;
        case SL_ATTR_INT:
        case SL_ATTR_DOUBLE:
            n = k + 8;
            break;
        case SL_ATTR_BOOL:
            n = k + 1;
            break;
        default:
            return 0;
        }
        break;
    }
    default:
        return 0;
    }
    return n > 0 && n <= left ? n : 0;
}

/* Converts one record into the batch.  SL_OK or SL_ENOMEM (the record is
 * then counted as dropped by the caller). */
static int add_record(struct sl_exporter *e, const struct sl_rec *r)
{
    const uint8_t *p = r->data, *end = r->data + r->used;
    const uint8_t *name = NULL, *msg = NULL, *body = NULL, *name_p = NULL, *body_p = NULL;
    size_t name_len = 0, msg_len = 0, body_len = 0;
    uint32_t attr_first = e->b->nattrs;
    int rc = 0;

    /* Pass 1: the item's own attributes (contiguous in the batch). */
    while (p < end) {
        size_t n = entry_size(p, end);
        if (n == 0)
            break;
        switch (p[0]) {
        case SL_T_NAME:
            name = p + 3;
            name_len = n - 3;
            name_p = NULL;
            break;
        case SL_T_NAME_P:
            name_p = p + 1;
            name = NULL;
            break;
        case SL_T_BODY_P:
            body_p = p + 1;
            break;
        case SL_T_STATUS:
            msg = p + 3;
            msg_len = n - 3;
            break;
        case SL_T_BODY:
            body = p + 5;
            body_len = n - 5;
            break;
        case SL_T_ATTR:
            if (add_attr_entry(e, p, end, &rc) == 0 && rc != 0)
                return rc;
            break;
        case SL_T_EVENT:
        case SL_T_LINK: {
            /* skip the block's attributes */
            uint16_t cnt = p[0] == SL_T_EVENT ? slc_get_le16(p + 1) : slc_get_le16(p + 25);
            p += n;
            for (uint16_t i = 0; i < cnt && p < end; i++) {
                size_t an = entry_size(p, end);
                if (an == 0)
                    break;
                p += an;
            }
            continue;
        }
        default:
            break;
        }
        p += n;
    }
    if (r->what == SL_REC_SPAN && (r->flags & SL_F_LOCAL_ROOT)) {
        for (size_t i = 0; i < sl__g.nresource; i++) {
            /* sl_init() keeps own + resource within the limit; this is
             * the guarantee, should the two ever drift apart. */
            if (__builtin_expect(e->b->nattrs - attr_first >= e->attr_max, 0)) {
                atomic_fetch_add(&xs.attrs_dropped, sl__g.nresource - i);
                break;
            }
            const sl_attr *ra = &sl__g.resource[i];
            slc_attr a;
            memset(&a, 0, sizeof(a));
            if ((rc = intern_clean(e, ra->key, strlen(ra->key), &a.key)) != 0)
                return rc;
            switch (ra->type) {
            case SL_ATTR_STR:
                a.type = SLC_V_STR;
                rc = intern_clean(e, ra->v.s, strlen(ra->v.s), &a.v.str);
                break;
            case SL_ATTR_INT:
                a.type = SLC_V_INT;
                a.v.i = ra->v.i;
                break;
            case SL_ATTR_DOUBLE:
                rc = set_double(e, &a, ra->v.d);
                break;
            default:
                a.type = SLC_V_BOOL;
                a.v.b = ra->v.b ? 1 : 0;
                break;
            }
            if (rc != 0 || (rc = slc_batch_add_attr(e->b, &a, NULL)) != 0)
                return rc;
        }
    }
    uint32_t attr_count = e->b->nattrs - attr_first;

    if (r->what == SL_REC_LOG) {
        slc_log lg;
        memset(&lg, 0, sizeof(lg));
        lg.time_ns = clk_to_ns(&e->clk, r->start);
        lg.level = r->level;
        if (r->flags & SL_F_TRACED) {
            lg.flags = SLC_LOG_F_TRACE;
            memcpy(lg.trace_id, r->trace_id, 16);
            memcpy(lg.span_id, r->span_id, 8);
        }
        lg.service = e->service_idx;
        if (body_p != NULL)
            rc = intern_ptr(e, body_p, sl__g.cfg.max_item_bytes / 2, &lg.body);
        else
            rc = intern_clean(e, body ? (const char *)body : "", body_len, &lg.body);
        if (rc != 0)
            return rc;
        lg.attr_first = attr_first;
        lg.attr_count = attr_count;
        if ((rc = slc_batch_add_log(e->b, &lg, NULL)) != 0)
            return rc;
        e->blogs++;
        return SL_OK;
    }

    /* Pass 2: events and links, each followed by its attributes. */
    uint32_t ev_first = e->b->nevents, ln_first = e->b->nlinks;
    p = r->data;
    while (p < end) {
        size_t n = entry_size(p, end);
        if (n == 0)
            break;
        if (p[0] != SL_T_EVENT && p[0] != SL_T_LINK) {
            p += n;
            continue;
        }
        const uint8_t *h = p;
        uint16_t cnt = h[0] == SL_T_EVENT ? slc_get_le16(h + 1) : slc_get_le16(h + 25);
        uint32_t af = e->b->nattrs;
        p += n;
        for (uint16_t i = 0; i < cnt && p < end; i++) {
            size_t an = add_attr_entry(e, p, end, &rc);
            if (an == 0) {
                if (rc != 0)
                    return rc;
                break;
            }
            p += an;
        }
        if (h[0] == SL_T_EVENT) {
            slc_event ev;
            memset(&ev, 0, sizeof(ev));
            ev.time_ns = clk_to_ns(&e->clk, slc_get_le64(h + 3));
            if ((rc = intern_clean(e, (const char *)h + 13, n - 13, &ev.name)) != 0)
                return rc;
            ev.attr_first = af;
            ev.attr_count = e->b->nattrs - af;
            if ((rc = slc_batch_add_event(e->b, &ev, NULL)) != 0)
                return rc;
        } else {
            slc_link ln;
            memset(&ln, 0, sizeof(ln));
            memcpy(ln.trace_id, h + 1, 16);
            memcpy(ln.span_id, h + 17, 8);
            ln.attr_first = af;
            ln.attr_count = e->b->nattrs - af;
            if ((rc = slc_batch_add_link(e->b, &ln, NULL)) != 0)
                return rc;
        }
    }

    slc_span sp;
    memset(&sp, 0, sizeof(sp));
    memcpy(sp.trace_id, r->trace_id, 16);
    memcpy(sp.span_id, r->span_id, 8);
    memcpy(sp.parent_id, r->parent_id, 8);
    sp.kind = r->kind;
    sp.status = r->status;
    sp.service = e->service_idx;
    if (name_p != NULL)
        rc = intern_ptr(e, name_p, 0xffff, &sp.name);
    else
        rc = intern_clean(e, name ? (const char *)name : "", name_len, &sp.name);
    /* The collector rejects an empty span name (with the whole frame), and
     * NULL or "" is an easy mistake to make: send a placeholder. */
    if (rc == 0 && sp.name == 0)
        rc = slc_batch_intern(e->b, SL_UNNAMED, strlen(SL_UNNAMED), &sp.name);
    if (rc != 0)
        return rc;
    if (r->status == SL_STATUS_ERROR && msg != NULL &&
        (rc = intern_clean(e, (const char *)msg, msg_len, &sp.status_msg)) != 0)
        return rc;
    sp.start_ns = clk_to_ns(&e->clk, r->start);
    sp.end_ns = (r->flags & SL_F_END_NS) ? r->end : clk_to_ns(&e->clk, r->end);
    if (sp.end_ns < sp.start_ns)
        sp.end_ns = sp.start_ns;
    sp.attr_first = attr_first;
    sp.attr_count = attr_count;
    sp.event_first = ev_first;
    sp.event_count = e->b->nevents - ev_first;
    sp.link_first = ln_first;
    sp.link_count = e->b->nlinks - ln_first;
    if ((rc = slc_batch_add_span(e->b, &sp, NULL)) != 0)
        return rc;
    e->bspans++;
    return SL_OK;
}

static int batch_begin(struct sl_exporter *e)
{
    slc_batch_reset(e->b);
    e->batch_gen++;
    e->bspans = e->blogs = e->bstats = 0;
    e->est = 0;
    e->oldest_ns = 0;
    return intern_clean(e, sl__g.service, strlen(sl__g.service), &e->service_idx);
}

static uint64_t pending_bytes(struct sl_exporter *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t n = e->frame_bytes;
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* Encodes the current batch into a frame and queues it for the sender. */
static void cut(struct sl_exporter *e)
{
    if (e->bspans + e->blogs + e->bstats == 0)
        return;
    uint8_t *bytes = NULL;
    size_t len = 0;
    e->b->batch_id = e->batch_base + ++e->batch_ctr;
    /* The token rides in every frame (the collector checks each one; a
     * retry after a token rotation is still the same batch to it). */
    int rc = slc_wire_encode_token(e->b, e->zlevel, sl__g.token, sl__g.token_len, &bytes, &len);
    if (rc != 0) {
        sl__exp_count_drop(SL_DROP_ENCODE, e->bspans, e->blogs);
        sl__set_last_error(rc, "encoding a frame of %u spans and %u logs failed: %s", e->bspans,
                           e->blogs, sl_strerror(rc));
        goto out;
    }
    size_t cost = len + sizeof(struct frame);
    struct frame *f = NULL;
    if (atomic_fetch_add(&sl__g.mem_used, cost) + cost > sl__g.budget ||
        (f = calloc(1, sizeof(*f))) == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, cost);
        sl__exp_count_drop(SL_DROP_BUDGET, e->bspans, e->blogs);
        free(bytes);
        goto out;
    }
    f->batch_id = e->b->batch_id;
    f->bytes = bytes;
    f->len = len;
    f->nspans = e->bspans;
    f->nlogs = e->blogs;
    pthread_mutex_lock(&e->mu);
    f->seq = ++e->next_seq;
    if (e->tail)
        e->tail->next = f;
    else
        e->head = f;
    e->tail = f;
    e->frame_bytes += cost;
    atomic_fetch_add(&xs.frames_queued, 1);
    pthread_cond_signal(&e->cv_send);
    pthread_mutex_unlock(&e->mu);
out:
    if (batch_begin(e) != 0)
        sl__set_last_error(SL_ENOMEM, "out of memory starting a new batch");
}

/* ---- self-observation: the sightline.sdk.stats record -------------------------- */

/* Adds the SDK's counters to the batch as one log record (docs/sdk.md,
 * "Self-observation on the wire"): body "sightline.sdk.stats", level
 * INFO, one int attribute per counter, cumulative since sl_init, plus the
 * run's instance id so a collector can keep the latest values per run and
 * sum runs per service.  Wire format v1 has no field for this; a reserved
 * log body needs no codec change.  It is not counted as a user log. */
static inline int64_t i64(uint64_t v) { return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }

static int add_stats(struct sl_exporter *e)
{
    static const char *reason[SL_DROP__COUNT] = {"budget", "queue", "rejected", "unauthorized",
                                                 "shutdown", "encode"};
    sl_stats st;
    (void)sl_stats_get(&st);
    struct kv {
        const char *key;
        int64_t v;
    } kv[32 + 2 * SL_DROP__COUNT];
    size_t n = 0;
    kv[n++] = (struct kv){"sightline.sdk.spans.created", i64(st.spans_created)};
    kv[n++] = (struct kv){"sightline.sdk.spans.unsampled", i64(st.spans_unsampled)};
    kv[n++] = (struct kv){"sightline.sdk.spans.exported", i64(st.spans_exported)};
    kv[n++] = (struct kv){"sightline.sdk.spans.dropped", i64(st.spans_dropped)};
    kv[n++] = (struct kv){"sightline.sdk.logs.created", i64(st.logs_created)};
    kv[n++] = (struct kv){"sightline.sdk.logs.exported", i64(st.logs_exported)};
    kv[n++] = (struct kv){"sightline.sdk.logs.dropped", i64(st.logs_dropped)};
    kv[n++] = (struct kv){"sightline.sdk.attrs.dropped", i64(st.attrs_dropped)};
    kv[n++] = (struct kv){"sightline.sdk.frames.sent", i64(st.frames_sent)};
    kv[n++] = (struct kv){"sightline.sdk.frames.acked", i64(st.frames_acked)};
    kv[n++] = (struct kv){"sightline.sdk.frames.retried", i64(st.frames_retried)};
    kv[n++] = (struct kv){"sightline.sdk.bytes.sent", i64(st.bytes_sent)};
    kv[n++] = (struct kv){"sightline.sdk.memory.used", i64(st.memory_used)};
    kv[n++] = (struct kv){"sightline.sdk.memory.budget", i64(st.memory_budget)};
    kv[n++] = (struct kv){"sightline.sdk.breaker.open", st.breaker_open};
    kv[n++] = (struct kv){"sightline.sdk.last_error", (int64_t)st.last_error};
    kv[n++] = (struct kv){"sightline.sdk.interval_ms", i64(e->stats_interval_ms)};
    char keys[2 * SL_DROP__COUNT][64];
    for (int i = 0; i < SL_DROP__COUNT; i++) {
        snprintf(keys[2 * i], sizeof(keys[0]), "sightline.sdk.spans.dropped.%s", reason[i]);
        snprintf(keys[2 * i + 1], sizeof(keys[0]), "sightline.sdk.logs.dropped.%s", reason[i]);
        kv[n++] = (struct kv){keys[2 * i], i64(st.spans_dropped_by[i])};
        kv[n++] = (struct kv){keys[2 * i + 1], i64(st.logs_dropped_by[i])};
    }
    uint32_t first = e->b->nattrs;
    int rc;
    slc_attr a;
    for (size_t i = 0; i < n; i++) {
        memset(&a, 0, sizeof(a));
        if ((rc = slc_batch_intern(e->b, kv[i].key, strlen(kv[i].key), &a.key)) != 0)
            return rc;
        a.type = SLC_V_INT;
        a.v.i = kv[i].v;
        if ((rc = slc_batch_add_attr(e->b, &a, NULL)) != 0)
            return rc;
    }
    const char *skeys[3] = {"sightline.sdk.instance", "sightline.sdk.version",
                            "sightline.sdk.last_error.message"};
    char ver[32];
    snprintf(ver, sizeof(ver), "%d.%d.%d", SL_VERSION_MAJOR, SL_VERSION_MINOR, SL_VERSION_PATCH);
    const char *svals[3] = {e->instance, ver, st.last_error_msg};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && st.last_error == 0)
            break;
        memset(&a, 0, sizeof(a));
        a.type = SLC_V_STR;
        if ((rc = slc_batch_intern(e->b, skeys[i], strlen(skeys[i]), &a.key)) != 0 ||
            (rc = intern_clean(e, svals[i], strlen(svals[i]), &a.v.str)) != 0 ||
            (rc = slc_batch_add_attr(e->b, &a, NULL)) != 0)
            return rc;
    }
    slc_log lg;
    memset(&lg, 0, sizeof(lg));
    lg.time_ns = slc_now_ns();
    lg.level = SL_LEVEL_INFO;
    lg.service = e->service_idx;
    lg.attr_first = first;
    lg.attr_count = e->b->nattrs - first;
    if ((rc = slc_batch_intern(e->b, SL_STATS_BODY, strlen(SL_STATS_BODY), &lg.body)) != 0 ||
        (rc = slc_batch_add_log(e->b, &lg, NULL)) != 0)
        return rc;
    if (e->bspans + e->blogs + e->bstats == 0)
        e->oldest_ns = lg.time_ns;
    e->bstats++;
    return SL_OK;
}

static void maybe_stats(struct sl_exporter *e, int final)
{
    if (e->stats_interval_ms == 0)
        return;
    uint64_t now = slc_now_ns();
    if (!final && now < e->stats_due_ns)
        return;
    e->stats_due_ns = now + (uint64_t)e->stats_interval_ms * 1000000ull;
    if (add_stats(e) != SL_OK)
        sl__set_last_error(SL_ENOMEM, "out of memory adding the sightline.sdk.stats record");
}

/* Drains one thread's queue into the batch, retiring every segment the
 * producer has moved past.  Exporter thread only (it alone moves rseg). */
static size_t drain_tb(struct sl_exporter *e, struct sl_tbuf *tb, int *full)
{
    size_t total = 0;
    for (;;) {
        struct sl_seg *s = tb->rseg;
        uint32_t c = atomic_load_explicit(&s->committed, memory_order_acquire);
        while (tb->rpos < c) {
            const struct sl_rec *r = (const struct sl_rec *)(s->data + tb->rpos);
            if (r->len < sizeof(*r) || r->len > c - tb->rpos || r->used > r->len - sizeof(*r)) {
                /* Cannot happen unless memory was corrupted; skip the rest
                 * of the segment rather than read out of it. */
                sl__set_last_error(SL_EINVAL, "corrupt record in a thread queue (len %u)", r->len);
                tb->rpos = c;
                break;
            }
            int is_span = r->what == SL_REC_SPAN;
            if (*full) {
                sl__exp_count_drop(SL_DROP_BUDGET, is_span, !is_span);
            } else {
                if (e->bspans + e->blogs == 0)
                    e->oldest_ns = slc_now_ns();
                if (add_record(e, r) != SL_OK)
                    sl__exp_count_drop(SL_DROP_ENCODE, is_span, !is_span);
                e->est += 48 + r->used +
                          (is_span && (r->flags & SL_F_LOCAL_ROOT) ? e->res_est : 0);
            }
            tb->rpos += r->len;
            total++;
            if (e->est >= sl__g.cfg.batch_bytes) {
                cut(e);
                *full = pending_bytes(e) > sl__g.budget / 2;
            }
        }
        struct sl_seg *nx = atomic_load_explicit(&s->next, memory_order_acquire);
        if (nx == NULL)
            break;
        /* The producer commits its last record before linking next; one
         * more look catches records committed after our first load. */
        if (atomic_load_explicit(&s->committed, memory_order_acquire) != tb->rpos)
            continue;
        tb->rseg = nx;
        tb->rpos = 0;
        sl__seg_retire(tb, s);
    }
    return total;
}

/* Drains every thread's queue into the batch; returns the number of items. */
static size_t drain(struct sl_exporter *e)
{
    size_t total = 0;
    /* Unacked frames may hold half the budget; beyond it, new items are
     * dropped so the queues keep flowing and the host never blocks. */
    int full = pending_bytes(e) > sl__g.budget / 2;
    clk_refresh(&e->clk);
    uint32_t n = atomic_load_explicit(&sl__g.ntbufs, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        total += drain_tb(e, sl__g.tbufs[i], &full);
    return total;
}

static void *batcher_main(void *arg)
{
    struct sl_exporter *e = arg;
    uint64_t idle_ms = 1;

    (void)pthread_setname_np(pthread_self(), "sl-batcher");
    clk_init(&e->clk);

    pthread_mutex_lock(&e->mu);
    for (;;) {
        int stop = e->stop_batcher;
        uint64_t freq = e->flush_req;
        pthread_mutex_unlock(&e->mu);

        size_t n = drain(e);
        maybe_stats(e, stop);
        uint64_t now = slc_now_ns();
        if (e->bspans + e->blogs + e->bstats > 0 &&
            (stop || freq > e->flush_done ||
             now - e->oldest_ns >= (uint64_t)sl__g.cfg.batch_delay_ms * 1000000ull))
            cut(e);

        pthread_mutex_lock(&e->mu);
        if (freq > e->flush_done) {
            e->flush_done = freq;
            e->flushed_seq = e->next_seq;
            pthread_cond_broadcast(&e->cv_done);
        }
        if (stop)
            break;
        /* Poll: producers never signal (a syscall on the hot path), so
         * the batcher wakes often while busy and backs off when idle. */
        if (n > 0)
            idle_ms = 1;
        else if (idle_ms < 10)
            idle_ms++;
        if (n >= 4096)
            continue; /* busy: go round again at once */
        if (e->flush_req == freq && !e->stop_batcher)
            wait_until(&e->cv_batch, &e->mu, slc_now_ns() + idle_ms * 1000000ull);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- sending ---------------------------------------------------------------------- */

/* Pops the head frame after it was resolved; mu held. */
static void pop_frame(struct sl_exporter *e)
{
    struct frame *f = e->head;
    e->head = f->next;
    if (e->head == NULL)
        e->tail = NULL;
    size_t cost = f->len + sizeof(*f);
    e->frame_bytes -= cost;
    atomic_fetch_sub(&sl__g.mem_used, cost);
    atomic_fetch_sub(&xs.frames_queued, 1);
    e->resolved_seq = f->seq;
    free(f->bytes);
    free(f);
    pthread_cond_broadcast(&e->cv_done);
}

static void *sender_main(void *arg)
{
    struct sl_exporter *e = arg;
    uint32_t failures = 0, timeouts = 0;
    uint64_t not_before = 0;
    char err[256];
    const sl_config *c = &sl__g.cfg;

    (void)pthread_setname_np(pthread_self(), "sl-sender");

    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (e->aborted)
            break;
        if (e->head == NULL) {
            if (e->stop_sender)
                break;
            pthread_cond_wait(&e->cv_send, &e->mu);
            continue;
        }
        uint64_t now = slc_now_ns();
        if (e->stop_sender && now >= e->deadline_ns)
            break;
        if (now < not_before) {
            uint64_t until = not_before;
            if (e->stop_sender && e->deadline_ns < until)
                until = e->deadline_ns;
            wait_until(&e->cv_send, &e->mu, until);
            continue;
        }
        atomic_store(&xs.breaker_open, 0);
        struct frame *f = e->head;
        struct sl_transport *tp = e->tp; /* replaced only by this thread, under mu */
        pthread_mutex_unlock(&e->mu);

        slc_ack ack;
        memset(&ack, 0, sizeof(ack));
        err[0] = '\0';
        int rc = sl__tp_roundtrip(tp, f->bytes, f->len, &ack, err, sizeof(err));
        atomic_fetch_add(&xs.frames_sent, 1);
        atomic_fetch_add(&xs.bytes_sent, f->len);
        /* req/rep pairs each reply with its request (nng drops replies to
         * earlier requests), so an ack naming another batch still answers
         * this frame: older collectors echo 0 when they reject a frame by
         * its header.  Treating it as a transport error would resend a
         * frame that is never going to be accepted, forever, and stall
         * every frame behind it. */
        int mismatch = rc == SL_OK && ack.batch_id != f->batch_id;

        pthread_mutex_lock(&e->mu);
        if (mismatch)
            sl__set_last_error(SL_EWIRE_VALUE,
                               "collector acked batch %016llx for batch %016llx (status %u); "
                               "taken as the answer to the frame sent",
                               (unsigned long long)ack.batch_id,
                               (unsigned long long)f->batch_id, (unsigned)ack.status);
        if (rc == SL_OK && (ack.status == SLC_ACK_STORED || ack.status == SLC_ACK_DUPLICATE)) {
            atomic_fetch_add(&xs.frames_acked, 1);
            atomic_fetch_add(&xs.spans_exported, f->nspans);
            atomic_fetch_add(&xs.logs_exported, f->nlogs);
            failures = 0;
            not_before = 0;
            pop_frame(e);
            continue;
        }
        if (rc == SL_OK && ack.status == SLC_ACK_UNAUTHORIZED) {
            sl__exp_count_drop(SL_DROP_UNAUTHORIZED, f->nspans, f->nlogs);
            sl__set_last_error(SL_EAUTH,
                               "collector refused the token: set SIGHTLINE_TOKEN to one of the "
                               "collector's --ingest-token values (%s; batch %016llx, %u spans "
                               "and %u logs dropped)",
                               sl__g.token_len ? "a token was sent" : "no token was sent",
                               (unsigned long long)f->batch_id, f->nspans, f->nlogs);
            pop_frame(e);
            /* A wrong token will not fix itself: open the breaker so a
             * misconfigured service sends one frame per breaker_open_ms
             * instead of hammering the collector with frames it refuses.
             * The frames behind wait (and count against the budget). */
            failures = c->breaker_failures;
            if (c->breaker_failures > 0) {
                atomic_store(&xs.breaker_open, 1);
                not_before = slc_now_ns() + (uint64_t)c->breaker_open_ms * 1000000ull;
            }
            continue;
        }
        if (rc == SL_OK && ack.status == SLC_ACK_REJECTED) {
            sl__exp_count_drop(SL_DROP_REJECTED, f->nspans, f->nlogs);
            int code = ack.err != 0 ? ack.err : SL_EINVAL;
            sl__set_last_error(code, "collector rejected batch %016llx (%u spans, %u logs): %s",
                               (unsigned long long)f->batch_id, f->nspans, f->nlogs,
                               ack.reason[0] ? ack.reason : sl_strerror(code));
            pop_frame(e);
            continue;
        }
        if (e->aborted || rc == SL_ECLOSED)
            break;
        /* Keep the frame; retry the same bytes later. */
        atomic_fetch_add(&xs.frames_retried, 1);
        if (rc == SL_OK) { /* SLC_ACK_RETRY or an unknown status */
            sl__set_last_error(SL_EBUSY, "collector asked to retry batch %016llx: %s",
                               (unsigned long long)f->batch_id,
                               ack.reason[0] ? ack.reason : "overloaded");
        } else if (rc == SL_ETIMEDOUT && !sl__tp_connected(tp)) {
            /* No connection at all: nng keeps redialing silently, so find
             * out why once (refused? TLS handshake failing?) - a timeout
             * alone tells the operator nothing.  Without mu: it blocks. */
            pthread_mutex_unlock(&e->mu);
            char why[200];
            sl__tp_diagnose(tp, c->ack_timeout_ms, why, sizeof(why));
            pthread_mutex_lock(&e->mu);
            sl__set_last_error(rc, "cannot reach the collector at %s: %s; will retry",
                               sl__g.endpoint, why);
        } else {
            sl__set_last_error(rc, "%s (endpoint %s); will retry", err, sl__g.endpoint);
        }
        failures++;
        if (rc == SL_ETIMEDOUT)
            timeouts++;
        else
            timeouts = 0;
        if (timeouts >= 2) {
            /* Two silent timeouts in a row: the connection may be half-dead
             * (a peer that accepted but never answers, a stale pipe), which
             * nng cannot see.  A fresh socket re-dials from scratch.  Both
             * the dial and the close (which waits up to 100 ms for a
             * handshake) run without mu: the batcher takes mu for every
             * frame it cuts, and must keep draining the threads' queues. */
            timeouts = 0;
            pthread_mutex_unlock(&e->mu);
            struct sl_transport *nt = NULL, *old = NULL;
            char derr[256];
            int orc = sl__tp_open(&nt, sl__g.endpoint, c->ack_timeout_ms, derr, sizeof(derr));
            pthread_mutex_lock(&e->mu);
            if (orc == 0) {
                /* Only this thread replaces tp; sl__exp_stop reads it under
                 * mu to abort it, so the swap happens under mu. */
                old = e->tp;
                e->tp = nt;
            }
            pthread_mutex_unlock(&e->mu);
            sl__tp_free(old);
            pthread_mutex_lock(&e->mu);
            if (e->aborted)
                break;
        }
        uint64_t backoff = c->retry_min_ms;
        for (uint32_t i = 1; i < failures && backoff < c->retry_max_ms; i++)
            backoff *= 2;
        if (backoff > c->retry_max_ms)
            backoff = c->retry_max_ms;
        /* "Full jitter" between half and all of the backoff: retries from
         * many services do not arrive in lockstep. */
        uint64_t ms = backoff / 2 + sl__rng_next(e->rng) % (backoff / 2 + 1);
        if (failures >= c->breaker_failures && c->breaker_failures > 0) {
            ms = c->breaker_open_ms;
            atomic_store(&xs.breaker_open, 1);
        }
        not_before = slc_now_ns() + ms * 1000000ull;
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void exp_free(struct sl_exporter *e)
{
    if (e == NULL)
        return;
    struct frame *f = e->head;
    while (f != NULL) {
        struct frame *nx = f->next;
        atomic_fetch_sub(&sl__g.mem_used, f->len + sizeof(*f));
        free(f->bytes);
        free(f);
        f = nx;
    }
    sl__tp_free(e->tp);
    slc_batch_free(e->b);
    free(e->scratch);
    free(e->pc);
    pthread_cond_destroy(&e->cv_batch);
    pthread_cond_destroy(&e->cv_send);
    pthread_cond_destroy(&e->cv_done);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* The compression level for an endpoint (sl_config.compression). */
static int pick_zlevel(const char *url, int setting)
{
    if (setting < 0)
        return 0;
    if (setting > 0)
        return setting;
    static const char *local[] = {"ipc://", "inproc://", "tcp://127.", "tcp://localhost:",
                                  "tcp://[::1]:", "tcp4://127.", "tcp6://[::1]:"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (strncmp(url, local[i], strlen(local[i])) == 0)
            return 0;
    return 1;
}

int sl__exp_start(char *err, size_t errlen)
{
    struct sl_exporter *e = calloc(1, sizeof(*e));
    pthread_condattr_t ca;
    int rc;

    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv_batch, &ca);
    pthread_cond_init(&e->cv_send, &ca);
    pthread_cond_init(&e->cv_done, &ca);
    pthread_condattr_destroy(&ca);
    e->zlevel = pick_zlevel(sl__g.endpoint, sl__g.cfg.compression);
    e->stats_interval_ms = sl__g.cfg.stats_interval_ms == 0 ? 10000
                           : sl__g.cfg.stats_interval_ms == UINT32_MAX ? 0
                                                                      : sl__g.cfg.stats_interval_ms;
    sl__random_bytes(&e->batch_base, sizeof(e->batch_base));
    sl__random_bytes(e->rng, sizeof(e->rng));
    e->rng[0] |= 1;
    snprintf(e->instance, sizeof(e->instance), "%016llx", (unsigned long long)e->batch_base);
    e->stats_due_ns = slc_now_ns() + (uint64_t)e->stats_interval_ms * 1000000ull;
    slc_wire_limits lim;
    slc_wire_limits_default(&lim);
    e->str_max = lim.string_bytes;
    e->attr_max = lim.attrs_per_item;
    /* About 16 encoded bytes per resource attribute (key and value
     * references, type, a varint or double): counted in the frame size
     * estimate, or thousands of tiny local roots with a large resource
     * could make a frame over the collector's frame limit. */
    e->res_est = (uint32_t)sl__g.nresource * 16;
    if ((e->pc = calloc(SL_PCACHE, sizeof(*e->pc))) == NULL || (e->b = slc_batch_new()) == NULL ||
        batch_begin(e) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = SL_ENOMEM;
        goto fail;
    }
    if ((rc = sl__tp_open(&e->tp, sl__g.endpoint, sl__g.cfg.ack_timeout_ms, err, errlen)) != 0)
        goto fail;
    if (pthread_create(&e->batcher, NULL, batcher_main, e) != 0) {
        snprintf(err, errlen, "cannot start the exporter thread");
        rc = SL_EIO;
        goto fail;
    }
    e->batcher_started = 1;
    if (pthread_create(&e->sender, NULL, sender_main, e) != 0) {
        snprintf(err, errlen, "cannot start the sender thread");
        rc = SL_EIO;
        goto fail;
    }
    e->sender_started = 1;
    sl__g.exp = e;
    return SL_OK;
fail:
    if (e->batcher_started) {
        pthread_mutex_lock(&e->mu);
        e->stop_batcher = 1;
        pthread_cond_signal(&e->cv_batch);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->batcher, NULL);
    }
    exp_free(e);
    return rc;
}

int sl__exp_flush(uint32_t timeout_ms)
{
    struct sl_exporter *e = sl__g.exp;
    if (e == NULL)
        return SL_ESTATE;
    uint64_t deadline = slc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    int rc = SL_OK;
    pthread_mutex_lock(&e->mu);
    uint64_t my = ++e->flush_req;
    pthread_cond_signal(&e->cv_batch);
    while (e->flush_done < my) {
        if (slc_now_ns() >= deadline) {
            rc = SL_ETIMEDOUT;
            goto out;
        }
        wait_until(&e->cv_done, &e->mu, deadline);
    }
    uint64_t target = e->flushed_seq;
    while (e->resolved_seq < target) {
        if (slc_now_ns() >= deadline) {
            rc = SL_ETIMEDOUT;
            goto out;
        }
        wait_until(&e->cv_done, &e->mu, deadline);
    }
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int sl__exp_stop(uint32_t timeout_ms)
{
    struct sl_exporter *e = sl__g.exp;
    if (e == NULL)
        return SL_ESTATE;
    uint64_t deadline = slc_now_ns() + (uint64_t)timeout_ms * 1000000ull;

    /* The batcher's last round drains every ring and cuts a final frame. */
    pthread_mutex_lock(&e->mu);
    e->stop_batcher = 1;
    pthread_cond_signal(&e->cv_batch);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->batcher, NULL);

    pthread_mutex_lock(&e->mu);
    e->stop_sender = 1;
    e->deadline_ns = deadline;
    pthread_cond_signal(&e->cv_send);
    while (e->head != NULL && slc_now_ns() < deadline)
        wait_until(&e->cv_done, &e->mu, deadline);
    int left = e->head != NULL;
    e->aborted = left;
    pthread_cond_signal(&e->cv_send);
    if (left)
        sl__tp_abort(e->tp); /* unblocks a send or receive in progress */
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->sender, NULL);

    uint64_t ds = 0, dl = 0;
    for (struct frame *f = e->head; f != NULL; f = f->next) {
        ds += f->nspans;
        dl += f->nlogs;
    }
    if (ds + dl > 0) {
        sl__exp_count_drop(SL_DROP_SHUTDOWN, ds, dl);
        sl__set_last_error(SL_ETIMEDOUT,
                           "sl_shutdown: %llu spans and %llu logs were not acknowledged within "
                           "%u ms; is the collector at %s running?",
                           (unsigned long long)ds, (unsigned long long)dl, timeout_ms,
                           sl__g.endpoint);
    }
    atomic_store(&xs.frames_queued, 0);
    atomic_store(&xs.breaker_open, 0);
    sl__g.exp = NULL;
    exp_free(e);
    return left ? SL_ETIMEDOUT : SL_OK;
}
