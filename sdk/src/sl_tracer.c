/*
 * sl_tracer.c - the SDK's hot path: thread buffers, item records, spans,
 * scopes, logs, sampling; plus sl_init/sl_shutdown and the counters.
 *
 * Every span or log call works on a record taken from the calling thread's
 * own free list and, when finished, is published with one release-store into
 * that thread's single-producer ring (see sl_internal.h for the flow).  No
 * global lock, no allocation once the free list is warm, no system call
 * other than the clock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sl_internal.h"
#include "slc_util.h"

struct sl_global sl__g = {.reg_mu = PTHREAD_MUTEX_INITIALIZER};
__thread struct sl_tls sl__tls __attribute__((tls_model("initial-exec")));

/* The inert span handed out when nothing can be recorded: every call on it
 * is a no-op, so callers never need to check for NULL. */
static struct sl_span sl_inert = {.flags = SL_F_INERT};

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static int forked_child;

/* Counters of thread buffers already freed (kept across shutdown so the
 * final numbers stay readable). */
static struct {
    uint64_t spans_created, spans_unsampled, logs_created, attrs_dropped;
    uint64_t drop_budget_spans, drop_budget_logs, drop_queue_spans, drop_queue_logs;
} retired;

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static int last_err;
static char last_err_msg[256];

/* Owner-only counter increment: a plain load+store is enough because only
 * the owning thread writes; readers see a slightly old value. */
#define SL_INC(c) atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + 1, \
                                        memory_order_relaxed)

void sl__set_last_error(int err, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&err_mu);
    last_err = err;
    va_start(ap, fmt);
    vsnprintf(last_err_msg, sizeof(last_err_msg), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&err_mu);
}

void sl__random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t got = 0;
    for (int tries = 0; got < n && tries < 8; tries++) {
        ssize_t r = getrandom(p + got, n - got, GRND_NONBLOCK);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    if (got < n) {
        /* No entropy yet (early boot): still unique per process and call. */
        static _Atomic uint64_t ctr;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t s[4] = {(uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32),
                         (uint64_t)ts.tv_sec ^ (uintptr_t)buf,
                         atomic_fetch_add(&ctr, 1) + 0x9e3779b97f4a7c15ull, slc_now_ns()};
        for (size_t i = got; i < n; i++)
            p[i] = (uint8_t)(sl__rng_next(s) >> 56);
    }
}

/* ---- thread buffers ---------------------------------------------------------- */

static void tls_destructor(void *v)
{
    (void)v;
    pthread_mutex_lock(&sl__g.reg_mu);
    struct sl_tbuf *tb = sl__tls.tb;
    if (tb != NULL && sl__tls.gen == atomic_load(&sl__g.gen))
        atomic_store(&tb->state, SL_TB_ORPHAN);
    sl__tls.tb = NULL;
    sl__tls.current = NULL;
    pthread_mutex_unlock(&sl__g.reg_mu);
}

static void atfork_child(void)
{
    /* The exporter threads do not exist in the child and nng does not
     * survive fork, so the SDK turns itself off there: spans become inert,
     * nothing blocks on a lock some parent thread held. */
    forked_child = 1;
    atomic_store(&sl__g.running, 0);
    atomic_fetch_add(&sl__g.gen, 1);
    pthread_mutex_init(&sl__g.reg_mu, NULL);
    pthread_mutex_init(&init_mu, NULL);
    pthread_mutex_init(&err_mu, NULL);
    sl__exp_atfork_child();
}

static void global_once(void)
{
    (void)pthread_key_create(&tls_key, tls_destructor);
    (void)pthread_atfork(NULL, NULL, atfork_child);
}

/* Slow path: the thread's first SDK call, or its first after a restart.
 * Adopts a buffer left by an exited thread before creating one, so a
 * program that churns threads keeps a bounded number of buffers. */
static struct sl_tbuf *tls_register(void)
{
    struct sl_tbuf *tb = NULL;

    if (!atomic_load_explicit(&sl__g.running, memory_order_acquire))
        return NULL;
    pthread_mutex_lock(&sl__g.reg_mu);
    if (!atomic_load(&sl__g.running))
        goto out;
    uint32_t n = atomic_load(&sl__g.ntbufs);
    for (uint32_t i = 0; i < n; i++) {
        int orphan = SL_TB_ORPHAN;
        if (atomic_compare_exchange_strong(&sl__g.tbufs[i]->state, &orphan, SL_TB_ACTIVE)) {
            tb = sl__g.tbufs[i];
            break;
        }
    }
    if (tb == NULL) {
        if (n >= SL_MAX_THREADS)
            goto out;
        uint32_t cap = 2;
        while (cap < sl__g.cfg.thread_queue && cap < (1u << 24))
            cap <<= 1;
        size_t bytes = sizeof(*tb) + (size_t)cap * sizeof(struct sl_span *);
        if (atomic_fetch_add(&sl__g.mem_used, bytes) + bytes > sl__g.budget) {
            atomic_fetch_sub(&sl__g.mem_used, bytes);
            goto out;
        }
        tb = aligned_alloc(64, (sizeof(*tb) + 63) & ~(size_t)63);
        struct sl_span **ring = calloc(cap, sizeof(*ring));
        if (tb == NULL || ring == NULL) {
            free(tb);
            free(ring);
            tb = NULL;
            atomic_fetch_sub(&sl__g.mem_used, bytes);
            goto out;
        }
        memset(tb, 0, sizeof(*tb));
        tb->ring = ring;
        tb->mask = cap - 1;
        sl__random_bytes(tb->rng, sizeof(tb->rng));
        if ((tb->rng[0] | tb->rng[1] | tb->rng[2] | tb->rng[3]) == 0)
            tb->rng[0] = 1;
        atomic_store(&tb->state, SL_TB_ACTIVE);
        sl__g.tbufs[n] = tb;
        atomic_store_explicit(&sl__g.ntbufs, n + 1, memory_order_release);
    }
    sl__tls.tb = tb;
    sl__tls.gen = atomic_load(&sl__g.gen);
    sl__tls.current = NULL;
    (void)pthread_setspecific(tls_key, (void *)1);
out:
    pthread_mutex_unlock(&sl__g.reg_mu);
    return tb;
}

static inline struct sl_tbuf *tls_tb(void)
{
    struct sl_tls *t = &sl__tls;
    if (__builtin_expect(t->tb != NULL &&
                             t->gen == atomic_load_explicit(&sl__g.gen, memory_order_relaxed),
                         1))
        return t->tb;
    return tls_register();
}

void sl__tbuf_free(struct sl_tbuf *tb)
{
    if (tb == NULL)
        return;
    struct sl_span *r = tb->free;
    while (r != NULL) {
        struct sl_span *nx = r->next;
        if (r->data != r->inline_data)
            free(r->data);
        free(r);
        r = nx;
    }
    r = atomic_exchange(&tb->returned, NULL);
    while (r != NULL) {
        struct sl_span *nx = r->next;
        if (r->data != r->inline_data)
            free(r->data);
        free(r);
        r = nx;
    }
    free(tb->ring);
    free(tb);
}

/* ---- records ------------------------------------------------------------------ */

static inline void rec_reset_data(struct sl_span *r)
{
    if (r->data != r->inline_data) {
        free(r->data);
        atomic_fetch_sub(&sl__g.mem_used, r->cap);
        r->data = r->inline_data;
        r->cap = SL_REC_INLINE;
    }
}

void sl__rec_destroy(struct sl_span *r)
{
    rec_reset_data(r);
    atomic_fetch_sub(&sl__g.mem_used, sizeof(*r));
    atomic_fetch_sub(&r->owner->nrecs, 1);
    free(r);
}

/* A record of an earlier SDK generation (a span left open across
 * sl_shutdown): its buffer is gone, so it is simply freed. */
static void rec_free_stale(struct sl_span *r)
{
    if (r->data != r->inline_data)
        free(r->data);
    free(r);
}

void sl__rec_release(struct sl_span *r)
{
    struct sl_tbuf *tb = r->owner;
    rec_reset_data(r);
    if (sl__tls.tb == tb && sl__tls.gen == r->gen) {
        r->next = tb->free;
        tb->free = r;
        return;
    }
    if (atomic_load_explicit(&tb->nrecs, memory_order_relaxed) > SL_TB_KEEP) {
        sl__rec_destroy(r);
        return;
    }
    struct sl_span *head = atomic_load_explicit(&tb->returned, memory_order_relaxed);
    do {
        r->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&tb->returned, &head, r, memory_order_release,
                                                    memory_order_relaxed));
}

static struct sl_span *rec_get_slow(struct sl_tbuf *tb)
{
    /* Taking the whole returned stack at once is ABA-free: pushers only
     * ever prepend, and nobody else pops. */
    struct sl_span *r = atomic_exchange_explicit(&tb->returned, NULL, memory_order_acquire);
    if (r != NULL) {
        tb->free = r->next;
        return r;
    }
    size_t sz = sizeof(*r);
    if (atomic_fetch_add_explicit(&sl__g.mem_used, sz, memory_order_relaxed) + sz >
        sl__g.budget) {
        atomic_fetch_sub(&sl__g.mem_used, sz);
        return NULL;
    }
    r = malloc(sz);
    if (r == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, sz);
        return NULL;
    }
    r->owner = tb;
    r->gen = sl__tls.gen;
    r->data = r->inline_data;
    r->cap = SL_REC_INLINE;
    atomic_fetch_add_explicit(&tb->nrecs, 1, memory_order_relaxed);
    return r;
}

static inline struct sl_span *rec_get(struct sl_tbuf *tb)
{
    struct sl_span *r = tb->free;
    if (__builtin_expect(r != NULL, 1))
        tb->free = r->next;
    else if ((r = rec_get_slow(tb)) == NULL)
        return NULL;
    r->used = 0;
    r->nattrs = r->nevents = r->nlinks = 0;
    r->status = SL_STATUS_UNSET;
    r->scope_prev = NULL;
    r->ts_len = 0;
    return r;
}

/* Makes room for need more bytes, growing onto the heap up to
 * max_item_bytes within the memory budget. */
static int rec_reserve(struct sl_span *r, size_t need)
{
    if ((size_t)r->used + need <= r->cap)
        return 0;
    size_t want = (size_t)r->used + need;
    size_t max = sl__g.cfg.max_item_bytes;
    if (want > max)
        return SL_ETOOBIG;
    size_t ncap = (size_t)r->cap * 2;
    while (ncap < want)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    if (atomic_fetch_add(&sl__g.mem_used, ncap) + ncap > sl__g.budget) {
        atomic_fetch_sub(&sl__g.mem_used, ncap);
        return SL_ENOMEM;
    }
    uint8_t *p = malloc(ncap);
    if (p == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, ncap);
        return SL_ENOMEM;
    }
    memcpy(p, r->data, r->used);
    rec_reset_data(r);
    r->data = p;
    r->cap = (uint32_t)ncap;
    return 0;
}

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int rec_put_str16(struct sl_span *r, uint8_t tag, const char *s, size_t len)
{
    if (len > 0xffff)
        len = 0xffff;
    if (rec_reserve(r, 3 + len) != 0)
        return SL_ETOOBIG;
    uint8_t *p = r->data + r->used;
    p[0] = tag;
    put16(p + 1, (uint16_t)len);
    memcpy(p + 3, s, len);
    r->used += (uint32_t)(3 + len);
    return 0;
}

static void count_attr_drop(struct sl_span *r)
{
    atomic_fetch_add_explicit(&r->owner->attrs_dropped, 1, memory_order_relaxed);
}

/* Appends one typed attribute entry (not counted in nattrs). */
static int rec_put_attr(struct sl_span *r, const char *key, int type, const void *val)
{
    if (key == NULL || *key == '\0')
        return SL_EINVAL;
    size_t klen = strlen(key);
    if (klen > SL_MAX_KEY)
        return SL_EINVAL;
    size_t vlen = 0, need = 4 + klen;
    switch (type) {
    case SL_ATTR_STR: {
        const char *s = *(const char *const *)val;
        if (s == NULL)
            s = "";
        vlen = strlen(s);
        if (vlen > sl__g.cfg.max_attr_value)
            vlen = sl__g.cfg.max_attr_value; /* the exporter repairs a cut UTF-8 tail */
        need += 4 + vlen;
        break;
    }
    case SL_ATTR_INT:
    case SL_ATTR_DOUBLE:
        need += 8;
        break;
    case SL_ATTR_BOOL:
        need += 1;
        break;
    default:
        return SL_EINVAL;
    }
    if (rec_reserve(r, need) != 0) {
        count_attr_drop(r);
        return SL_ETOOBIG;
    }
    uint8_t *p = r->data + r->used;
    p[0] = SL_T_ATTR;
    p[1] = (uint8_t)type;
    put16(p + 2, (uint16_t)klen);
    memcpy(p + 4, key, klen);
    p += 4 + klen;
    switch (type) {
    case SL_ATTR_STR:
        put32(p, (uint32_t)vlen);
        memcpy(p + 4, *(const char *const *)val ? *(const char *const *)val : "", vlen);
        break;
    case SL_ATTR_INT:
    case SL_ATTR_DOUBLE:
        memcpy(p, val, 8);
        break;
    default:
        p[0] = *(const int *)val ? 1 : 0;
        break;
    }
    r->used += (uint32_t)need;
    return 0;
}

static int rec_put_attr_struct(struct sl_span *r, const sl_attr *a)
{
    switch (a->type) {
    case SL_ATTR_STR:
        return rec_put_attr(r, a->key, SL_ATTR_STR, &a->v.s);
    case SL_ATTR_INT:
        return rec_put_attr(r, a->key, SL_ATTR_INT, &a->v.i);
    case SL_ATTR_DOUBLE:
        return rec_put_attr(r, a->key, SL_ATTR_DOUBLE, &a->v.d);
    case SL_ATTR_BOOL:
        return rec_put_attr(r, a->key, SL_ATTR_BOOL, &a->v.b);
    default:
        return SL_EINVAL;
    }
}

static inline int ring_push(struct sl_tbuf *tb, struct sl_span *r)
{
    uint32_t h = atomic_load_explicit(&tb->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&tb->tail, memory_order_acquire);
    if (h - t > tb->mask)
        return -1;
    tb->ring[h & tb->mask] = r;
    atomic_store_explicit(&tb->head, h + 1, memory_order_release);
    if (__builtin_expect(h - t == (tb->mask >> 1), 0))
        sl__exp_wake();
    return 0;
}

/* ---- spans ---------------------------------------------------------------------- */

static inline int recording(const sl_span *s)
{
    return s != NULL && (s->flags & SL_F_RECORDING);
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The root sampler: the ratio test reads the trace id like OpenTelemetry's
 * TraceIdRatioBased, so every service (and other SDKs) agree. */
static inline int root_sample(const uint8_t tid[16])
{
    switch (sl__g.sampler) {
    case SL_SAMPLER_ALWAYS:
        return 1;
    case SL_SAMPLER_NEVER:
        return 0;
    default:
        return (be64(tid + 8) >> 1) < sl__g.ratio_bound;
    }
}

static sl_span *span_start(const char *name, int kind, const uint8_t *ptid, const uint8_t *psid,
                           int pflags, const char *ts, size_t tslen, int remote)
{
    struct sl_tbuf *tb = tls_tb();
    if (__builtin_expect(tb == NULL, 0))
        return &sl_inert;
    struct sl_span *r = rec_get(tb);
    if (__builtin_expect(r == NULL, 0)) {
        SL_INC(tb->spans_created);
        SL_INC(tb->drop_budget_spans);
        return &sl_inert;
    }
    r->what = SL_REC_SPAN;
    r->kind = (uint8_t)((unsigned)kind <= SL_KIND_CONSUMER ? kind : SL_KIND_INTERNAL);
    uint64_t sid;
    do {
        sid = sl__rng_next(tb->rng);
    } while (sid == 0);
    memcpy(r->span_id, &sid, 8);
    int sampled;
    if (ptid != NULL) {
        memcpy(r->trace_id, ptid, 16);
        memcpy(r->parent_id, psid, 8);
        sampled = sl__g.parent_based ? (int)(pflags & SL_FLAG_SAMPLED) : root_sample(r->trace_id);
        r->flags = remote ? SL_F_LOCAL_ROOT : 0;
    } else {
        uint64_t a, b;
        do {
            a = sl__rng_next(tb->rng);
            b = sl__rng_next(tb->rng);
        } while ((a | b) == 0);
        memcpy(r->trace_id, &a, 8);
        memcpy(r->trace_id + 8, &b, 8);
        memset(r->parent_id, 0, 8);
        sampled = root_sample(r->trace_id);
        r->flags = SL_F_LOCAL_ROOT;
    }
    if (tslen > 0 && rec_put_str16(r, SL_T_TSTATE, ts, tslen) == 0) {
        r->flags |= SL_F_HAS_TS;
        r->ts_off = r->used - (uint32_t)tslen;
        r->ts_len = (uint16_t)tslen;
    }
    if (!sampled) {
        SL_INC(tb->spans_unsampled);
        return r;
    }
    r->flags |= SL_F_SAMPLED | SL_F_RECORDING;
    if (name == NULL)
        name = "";
    (void)rec_put_str16(r, SL_T_NAME, name, strlen(name));
    r->start_ns = slc_now_ns();
    return r;
}

static inline const char *rec_ts(const struct sl_span *s, size_t *len)
{
    if (!(s->flags & SL_F_HAS_TS)) {
        *len = 0;
        return NULL;
    }
    *len = s->ts_len;
    return (const char *)s->data + s->ts_off;
}

sl_span *sl_span_start_child(const char *name, sl_kind kind, const sl_span *parent)
{
    if (parent == NULL || (parent->flags & SL_F_INERT))
        return span_start(name, kind, NULL, NULL, 0, NULL, 0, 0);
    size_t tslen;
    const char *ts = rec_ts(parent, &tslen);
    return span_start(name, kind, parent->trace_id, parent->span_id, parent->flags & SL_F_SAMPLED,
                      ts, tslen, 0);
}

sl_span *sl_span_start(const char *name, sl_kind kind)
{
    /* tls_tb() first: a restart must clear a stale current span. */
    if (tls_tb() == NULL)
        return &sl_inert;
    return sl_span_start_child(name, kind, sl__tls.current);
}

sl_span *sl_span_start_remote(const char *name, sl_kind kind, const sl_context *parent)
{
    if (parent == NULL || !sl_context_is_valid(parent))
        return span_start(name, kind, NULL, NULL, 0, NULL, 0, 0);
    size_t tslen = parent->tracestate_len;
    if (tslen > SL_TRACESTATE_MAX)
        tslen = 0;
    return span_start(name, kind, parent->trace_id, parent->span_id, parent->flags, parent->tracestate,
                      tslen, 1);
}

void sl_span_end_at(sl_span *s, uint64_t end_ns)
{
    if (s == NULL || (s->flags & SL_F_INERT))
        return;
    if (s->gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed)) {
        rec_free_stale(s);
        return;
    }
    if (sl__tls.current == s)
        sl__tls.current = s->scope_prev;
    if (!(s->flags & SL_F_RECORDING)) {
        sl__rec_release(s);
        return;
    }
    s->end_ns = end_ns != 0 ? end_ns : slc_now_ns();
    if (s->end_ns < s->start_ns)
        s->end_ns = s->start_ns;
    struct sl_tbuf *tb = tls_tb();
    if (tb == NULL) {
        sl__rec_release(s);
        return;
    }
    SL_INC(tb->spans_created);
    if (__builtin_expect(ring_push(tb, s) != 0, 0)) {
        SL_INC(tb->drop_queue_spans);
        sl__rec_release(s);
    }
}

void sl_span_end(sl_span *s) { sl_span_end_at(s, 0); }

int sl_span_is_recording(const sl_span *s) { return recording(s) ? 1 : 0; }

int sl_span_set_str(sl_span *s, const char *key, const char *val)
{
    if (!recording(s))
        return SL_OK;
    if (s->nattrs >= SL_MAX_ATTRS) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    int rc = rec_put_attr(s, key, SL_ATTR_STR, &val);
    if (rc == 0)
        s->nattrs++;
    return rc;
}

int sl_span_set_int(sl_span *s, const char *key, int64_t val)
{
    if (!recording(s))
        return SL_OK;
    if (s->nattrs >= SL_MAX_ATTRS) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    int rc = rec_put_attr(s, key, SL_ATTR_INT, &val);
    if (rc == 0)
        s->nattrs++;
    return rc;
}

int sl_span_set_double(sl_span *s, const char *key, double val)
{
    if (!recording(s))
        return SL_OK;
    if (s->nattrs >= SL_MAX_ATTRS) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    int rc = rec_put_attr(s, key, SL_ATTR_DOUBLE, &val);
    if (rc == 0)
        s->nattrs++;
    return rc;
}

int sl_span_set_bool(sl_span *s, const char *key, int val)
{
    if (!recording(s))
        return SL_OK;
    if (s->nattrs >= SL_MAX_ATTRS) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    int rc = rec_put_attr(s, key, SL_ATTR_BOOL, &val);
    if (rc == 0)
        s->nattrs++;
    return rc;
}

int sl_span_set_attrs(sl_span *s, const sl_attr *attrs, size_t n)
{
    if (!recording(s))
        return SL_OK;
    if (attrs == NULL && n > 0)
        return SL_EINVAL;
    int first_err = SL_OK;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (s->nattrs >= SL_MAX_ATTRS) {
            count_attr_drop(s);
            rc = SL_ETOOBIG;
        } else if ((rc = rec_put_attr_struct(s, &attrs[i])) == 0) {
            s->nattrs++;
        }
        if (rc != 0 && first_err == SL_OK)
            first_err = rc;
    }
    return first_err;
}

int sl_span_set_name(sl_span *s, const char *name)
{
    if (!recording(s))
        return SL_OK;
    if (name == NULL)
        return SL_EINVAL;
    return rec_put_str16(s, SL_T_NAME, name, strlen(name));
}

/* Appends attrs after a block header whose u16 count sits at cnt_off; the
 * count records how many actually fit. */
static void rec_put_block_attrs(struct sl_span *s, uint32_t cnt_off, const sl_attr *attrs,
                                size_t n)
{
    uint16_t cnt = 0;
    for (size_t i = 0; i < n && attrs != NULL; i++) {
        if (cnt >= SL_MAX_ATTRS) {
            count_attr_drop(s);
            continue;
        }
        if (rec_put_attr_struct(s, &attrs[i]) == 0)
            cnt++;
    }
    put16(s->data + cnt_off, cnt);
}

int sl_span_add_event(sl_span *s, const char *name, const sl_attr *attrs, size_t n)
{
    if (!recording(s))
        return SL_OK;
    if (name == NULL || (attrs == NULL && n > 0))
        return SL_EINVAL;
    size_t nlen = strlen(name);
    if (nlen > 0xffff)
        nlen = 0xffff;
    if (s->nevents >= SL_MAX_EVENTS || rec_reserve(s, 13 + nlen) != 0) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    uint8_t *p = s->data + s->used;
    uint32_t cnt_off = s->used + 1;
    p[0] = SL_T_EVENT;
    put16(p + 1, 0);
    put64(p + 3, slc_now_ns());
    put16(p + 11, (uint16_t)nlen);
    memcpy(p + 13, name, nlen);
    s->used += (uint32_t)(13 + nlen);
    s->nevents++;
    rec_put_block_attrs(s, cnt_off, attrs, n);
    return SL_OK;
}

int sl_span_add_link(sl_span *s, const sl_context *ctx, const sl_attr *attrs, size_t n)
{
    if (!recording(s))
        return SL_OK;
    if (ctx == NULL || !sl_context_is_valid(ctx) || (attrs == NULL && n > 0))
        return SL_EINVAL;
    if (s->nlinks >= SL_MAX_LINKS || rec_reserve(s, 27) != 0) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    uint8_t *p = s->data + s->used;
    p[0] = SL_T_LINK;
    memcpy(p + 1, ctx->trace_id, 16);
    memcpy(p + 17, ctx->span_id, 8);
    put16(p + 25, 0);
    uint32_t cnt_off = s->used + 25;
    s->used += 27;
    s->nlinks++;
    rec_put_block_attrs(s, cnt_off, attrs, n);
    return SL_OK;
}

int sl_span_set_status(sl_span *s, sl_status status, const char *msg)
{
    if (!recording(s))
        return SL_OK;
    if ((unsigned)status > SL_STATUS_ERROR)
        return SL_EINVAL;
    if (s->status == SL_STATUS_OK || status == SL_STATUS_UNSET)
        return SL_OK; /* OK is final; UNSET never overrides (OpenTelemetry) */
    s->status = (uint8_t)status;
    if (status == SL_STATUS_ERROR && msg != NULL && *msg != '\0')
        return rec_put_str16(s, SL_T_STATUS, msg, strlen(msg));
    return SL_OK;
}

int sl_span_record_error(sl_span *s, const char *type, const char *msg)
{
    if (!recording(s))
        return SL_OK;
    sl_attr a[2];
    size_t n = 0;
    if (type != NULL)
        a[n++] = SL_ATTR_S("exception.type", type);
    if (msg != NULL)
        a[n++] = SL_ATTR_S("exception.message", msg);
    int rc = sl_span_add_event(s, "exception", a, n);
    int rc2 = sl_span_set_status(s, SL_STATUS_ERROR, msg);
    return rc != SL_OK ? rc : rc2;
}

int sl_span_record_errno(sl_span *s, int errnum)
{
    if (!recording(s))
        return SL_OK;
    char buf[128];
    const char *msg = strerror_r(errnum, buf, sizeof(buf));
    const char *name = strerrorname_np(errnum);
    if (name == NULL)
        name = "errno";
    (void)sl_span_set_str(s, "error.type", name);
    return sl_span_record_error(s, name, msg);
}

int sl_span_context(const sl_span *s, sl_context *out)
{
    if (s == NULL || (s->flags & SL_F_INERT) || out == NULL)
        return SL_EINVAL;
    memcpy(out->trace_id, s->trace_id, 16);
    memcpy(out->span_id, s->span_id, 8);
    out->flags = (s->flags & SL_F_SAMPLED) ? SL_FLAG_SAMPLED : 0;
    out->remote = 0;
    size_t tslen;
    const char *ts = rec_ts(s, &tslen);
    if (tslen > SL_TRACESTATE_MAX)
        tslen = 0;
    if (tslen > 0)
        memcpy(out->tracestate, ts, tslen);
    out->tracestate[tslen] = '\0';
    out->tracestate_len = (uint16_t)tslen;
    return SL_OK;
}

/* ---- scopes ------------------------------------------------------------------------ */

sl_span *sl_span_current(void)
{
    if (sl__tls.gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed))
        return NULL;
    return sl__tls.current;
}

sl_span *sl_scope_enter(sl_span *s)
{
    if (tls_tb() == NULL)
        return NULL;
    sl_span *prev = sl__tls.current;
    if (s != NULL && !(s->flags & SL_F_INERT))
        s->scope_prev = prev;
    sl__tls.current = s;
    return prev;
}

void sl_scope_exit(sl_span *prev)
{
    if (sl__tls.gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed))
        return;
    sl__tls.current = prev;
}

/* ---- logs ------------------------------------------------------------------------------ */

int sl_log_enabled(sl_level level)
{
    return atomic_load_explicit(&sl__g.running, memory_order_relaxed) &&
           (int)level >= sl__g.min_level;
}

static int vlog(int level, const sl_attr *attrs, size_t n, const char *fmt, va_list ap)
{
    if (level < sl__g.min_level)
        return SL_OK;
    if (level < 1 || level > 24 || fmt == NULL || (attrs == NULL && n > 0))
        return SL_EINVAL;
    struct sl_tbuf *tb = tls_tb();
    if (tb == NULL)
        return SL_ESTATE;
    SL_INC(tb->logs_created);
    struct sl_span *r = rec_get(tb);
    if (r == NULL) {
        SL_INC(tb->drop_budget_logs);
        return SL_ENOMEM;
    }
    r->what = SL_REC_LOG;
    r->level = (uint8_t)level;
    r->flags = SL_F_RECORDING;
    r->start_ns = slc_now_ns();
    const struct sl_span *cur = sl__tls.current;
    if (cur != NULL && !(cur->flags & SL_F_INERT)) {
        memcpy(r->trace_id, cur->trace_id, 16);
        memcpy(r->span_id, cur->span_id, 8);
        r->flags |= SL_F_TRACED;
    }

    /* Format straight into the record; grow once if the line is long. */
    va_list ap2;
    va_copy(ap2, ap);
    uint32_t avail = r->cap - r->used - 5;
    int len = vsnprintf((char *)r->data + r->used + 5, avail, fmt, ap);
    if (len < 0)
        len = 0;
    if ((uint32_t)len >= avail) {
        size_t want = (size_t)len + 6;
        if (want > sl__g.cfg.max_item_bytes / 2)
            want = sl__g.cfg.max_item_bytes / 2; /* leave room for attributes */
        if (rec_reserve(r, want) == 0)
            avail = r->cap - r->used - 5;
        if ((uint32_t)len >= avail) {
            (void)vsnprintf((char *)r->data + r->used + 5, avail, fmt, ap2);
            len = (int)avail - 1; /* truncated; the exporter repairs a cut UTF-8 tail */
        } else {
            (void)vsnprintf((char *)r->data + r->used + 5, avail, fmt, ap2);
        }
    }
    va_end(ap2);
    r->data[r->used] = SL_T_BODY;
    put32(r->data + r->used + 1, (uint32_t)len);
    r->used += 5 + (uint32_t)len;
    for (size_t i = 0; i < n; i++) {
        if (r->nattrs >= SL_MAX_ATTRS) {
            count_attr_drop(r);
            continue;
        }
        if (rec_put_attr_struct(r, &attrs[i]) == 0)
            r->nattrs++;
    }
    if (__builtin_expect(ring_push(tb, r) != 0, 0)) {
        SL_INC(tb->drop_queue_logs);
        sl__rec_release(r);
        return SL_ENOMEM;
    }
    return SL_OK;
}

int sl_log(sl_level level, const char *fmt, ...)
{
    if ((int)level < sl__g.min_level)
        return SL_OK;
    va_list ap;
    va_start(ap, fmt);
    int rc = vlog(level, NULL, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_log_attrs(sl_level level, const sl_attr *attrs, size_t n, const char *fmt, ...)
{
    if ((int)level < sl__g.min_level)
        return SL_OK;
    va_list ap;
    va_start(ap, fmt);
    int rc = vlog(level, attrs, n, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- init / shutdown ------------------------------------------------------------------ */

static char *dup_or_null(const char *s) { return s != NULL ? strdup(s) : NULL; }

static void free_config_copies(void)
{
    free(sl__g.endpoint);
    free(sl__g.service);
    free(sl__g.service_version);
    free(sl__g.environment);
    free(sl__g.host);
    free(sl__g.token);
    for (size_t i = 0; i < sl__g.nresource; i++) {
        free((char *)sl__g.resource[i].key);
        if (sl__g.resource[i].type == SL_ATTR_STR)
            free((char *)sl__g.resource[i].v.s);
    }
    free(sl__g.resource);
    sl__g.endpoint = sl__g.service = sl__g.service_version = NULL;
    sl__g.environment = sl__g.host = sl__g.token = NULL;
    sl__g.resource = NULL;
    sl__g.nresource = 0;
}

static int add_resource(const sl_attr *a)
{
    if (a->key == NULL || *a->key == '\0')
        return SL_EINVAL;
    sl_attr *c = &sl__g.resource[sl__g.nresource];
    *c = *a;
    if ((c->key = strdup(a->key)) == NULL)
        return SL_ENOMEM;
    if (a->type == SL_ATTR_STR && (c->v.s = strdup(a->v.s ? a->v.s : "")) == NULL) {
        free((char *)c->key);
        return SL_ENOMEM;
    }
    sl__g.nresource++;
    return SL_OK;
}

static int copy_config(const sl_config *c)
{
    char host[256];
    const char *h = c->host_name;
    if (h == NULL) {
        if (gethostname(host, sizeof(host)) == 0) {
            host[sizeof(host) - 1] = '\0';
            h = host;
        }
    }
    sl__g.endpoint = strdup(c->endpoint);
    sl__g.service = strdup(c->service_name);
    sl__g.service_version = dup_or_null(c->service_version);
    sl__g.environment = dup_or_null(c->environment);
    sl__g.host = dup_or_null(h);
    sl__g.token = dup_or_null(c->token);
    if (sl__g.endpoint == NULL || sl__g.service == NULL ||
        (c->service_version && !sl__g.service_version) || (c->environment && !sl__g.environment) ||
        (h && !sl__g.host) || (c->token && !sl__g.token))
        return SL_ENOMEM;
    sl__g.resource = calloc(c->nresource + 3, sizeof(sl_attr));
    if (sl__g.resource == NULL)
        return SL_ENOMEM;
    int rc;
    if (sl__g.service_version &&
        (rc = add_resource(&SL_ATTR_S("service.version", sl__g.service_version))) != 0)
        return rc;
    if (sl__g.environment &&
        (rc = add_resource(&SL_ATTR_S("deployment.environment.name", sl__g.environment))) != 0)
        return rc;
    if (sl__g.host && (rc = add_resource(&SL_ATTR_S("host.name", sl__g.host))) != 0)
        return rc;
    for (size_t i = 0; i < c->nresource; i++)
        if ((rc = add_resource(&c->resource[i])) != 0)
            return rc;
    return SL_OK;
}

static int check_config(const sl_config *c, char *err, size_t errlen)
{
    if (c->endpoint == NULL || *c->endpoint == '\0')
        snprintf(err, errlen, "no collector endpoint: set SIGHTLINE_ENDPOINT (e.g. tcp://127.0.0.1:4318)");
    else if (c->service_name == NULL || *c->service_name == '\0')
        snprintf(err, errlen, "service_name is empty: set SIGHTLINE_SERVICE_NAME");
    else if (c->sampler < SL_SAMPLER_ALWAYS || c->sampler > SL_SAMPLER_RATIO)
        snprintf(err, errlen, "sampler %d is not one of SL_SAMPLER_*", c->sampler);
    else if (!(c->sample_ratio >= 0.0 && c->sample_ratio <= 1.0))
        snprintf(err, errlen, "sample_ratio %g is outside 0..1", c->sample_ratio);
    else if (c->batch_bytes < 1024 || c->batch_bytes > (8u << 20))
        snprintf(err, errlen, "batch_bytes %u is outside 1 KiB..8 MiB", c->batch_bytes);
    else if (c->batch_delay_ms == 0)
        snprintf(err, errlen, "batch_delay_ms must be at least 1");
    else if (c->memory_budget < ((size_t)1 << 20))
        snprintf(err, errlen, "memory_budget %zu is below 1 MiB", c->memory_budget);
    else if (c->thread_queue < 2 || c->thread_queue > (1u << 24))
        snprintf(err, errlen, "thread_queue %u is outside 2..16M", c->thread_queue);
    else if (c->max_item_bytes < 1024 || c->max_item_bytes > (1u << 20))
        snprintf(err, errlen, "max_item_bytes %u is outside 1 KiB..1 MiB", c->max_item_bytes);
    else if (c->max_attr_value < 16 || c->max_attr_value > c->max_item_bytes)
        snprintf(err, errlen, "max_attr_value %u is outside 16..max_item_bytes", c->max_attr_value);
    else if (c->ack_timeout_ms == 0 || c->retry_min_ms == 0 || c->retry_max_ms < c->retry_min_ms)
        snprintf(err, errlen, "ack_timeout_ms and retry_min_ms must be > 0 and retry_max_ms >= retry_min_ms");
    else if (c->nresource > 0 && c->resource == NULL)
        snprintf(err, errlen, "nresource is %zu but resource is NULL", c->nresource);
    else
        return SL_OK;
    return SL_ECONFIG;
}

int sl_init(const sl_config *cfg)
{
    sl_config local;
    char err[256] = "";
    int rc;

    pthread_once(&once, global_once);
    pthread_mutex_lock(&init_mu);
    if (forked_child) {
        rc = SL_ESTATE;
        sl__set_last_error(rc, "sl_init: the SDK cannot start in a forked child (nng does not "
                               "survive fork); initialise it in the parent or after exec");
        goto out_unlock;
    }
    if (atomic_load(&sl__g.running)) {
        rc = SL_ESTATE;
        sl__set_last_error(rc, "sl_init: already running; call sl_shutdown() first");
        goto out_unlock;
    }
    if (cfg == NULL) {
        sl_config_default(&local);
        if ((rc = sl_config_from_env(&local, err, sizeof(err))) != 0) {
            sl__set_last_error(rc, "sl_init: %s", err);
            goto out_unlock;
        }
        cfg = &local;
    }
    if ((rc = check_config(cfg, err, sizeof(err))) != 0) {
        sl__set_last_error(rc, "sl_init: %s", err);
        goto out_unlock;
    }

    /* Fresh counters for a fresh start. */
    memset(&retired, 0, sizeof(retired));
    sl__exp_reset_stats();
    pthread_mutex_lock(&err_mu);
    last_err = 0;
    last_err_msg[0] = '\0';
    pthread_mutex_unlock(&err_mu);

    sl__g.cfg = *cfg;
    sl__g.cfg.endpoint = sl__g.cfg.service_name = NULL;
    sl__g.cfg.service_version = sl__g.cfg.environment = NULL;
    sl__g.cfg.host_name = sl__g.cfg.token = NULL;
    sl__g.cfg.resource = NULL;
    if ((rc = copy_config(cfg)) != 0) {
        sl__set_last_error(rc, "sl_init: out of memory copying the configuration");
        goto fail;
    }
    sl__g.sampler = cfg->sampler;
    sl__g.parent_based = cfg->parent_based ? 1 : 0;
    sl__g.min_level = cfg->min_level;
    if (cfg->sample_ratio >= 1.0)
        sl__g.ratio_bound = UINT64_C(1) << 63;
    else
        sl__g.ratio_bound = (uint64_t)(cfg->sample_ratio * 9223372036854775808.0);
    sl__g.budget = cfg->memory_budget;
    atomic_store(&sl__g.mem_used, 0);
    atomic_store(&sl__g.ntbufs, 0);

    if ((rc = sl__exp_start(err, sizeof(err))) != 0) {
        sl__set_last_error(rc, "sl_init: %s", err);
        goto fail;
    }
    atomic_fetch_add(&sl__g.gen, 1);
    atomic_store_explicit(&sl__g.running, 1, memory_order_release);
    rc = SL_OK;
    goto out_unlock;
fail:
    free_config_copies();
out_unlock:
    pthread_mutex_unlock(&init_mu);
    return rc;
}

int sl_is_running(void) { return atomic_load(&sl__g.running) ? 1 : 0; }

int sl_flush(uint32_t timeout_ms)
{
    if (!atomic_load(&sl__g.running))
        return SL_ESTATE;
    return sl__exp_flush(timeout_ms);
}

int sl_shutdown(uint32_t timeout_ms)
{
    pthread_mutex_lock(&init_mu);
    if (!atomic_load(&sl__g.running)) {
        pthread_mutex_unlock(&init_mu);
        return SL_ESTATE;
    }
    atomic_store(&sl__g.running, 0);
    int rc = sl__exp_stop(timeout_ms);

    pthread_mutex_lock(&sl__g.reg_mu);
    uint32_t n = atomic_load(&sl__g.ntbufs);
    uint64_t late_spans = 0, late_logs = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_tbuf *tb = sl__g.tbufs[i];
        /* Items pushed after the exporter's last drain (by threads that
         * ignored the contract) are counted, not lost silently. */
        uint32_t t = atomic_load(&tb->tail), h = atomic_load(&tb->head);
        for (; t != h; t++) {
            struct sl_span *r = tb->ring[t & tb->mask];
            if (r->what == SL_REC_SPAN)
                late_spans++;
            else
                late_logs++;
            rec_free_stale(r);
        }
        atomic_store(&tb->tail, t);
        retired.spans_created += atomic_load(&tb->spans_created);
        retired.spans_unsampled += atomic_load(&tb->spans_unsampled);
        retired.logs_created += atomic_load(&tb->logs_created);
        retired.attrs_dropped += atomic_load(&tb->attrs_dropped);
        retired.drop_budget_spans += atomic_load(&tb->drop_budget_spans);
        retired.drop_budget_logs += atomic_load(&tb->drop_budget_logs);
        retired.drop_queue_spans += atomic_load(&tb->drop_queue_spans);
        retired.drop_queue_logs += atomic_load(&tb->drop_queue_logs);
    }
    for (uint32_t i = 0; i < n; i++) {
        sl__tbuf_free(sl__g.tbufs[i]);
        sl__g.tbufs[i] = NULL;
    }
    atomic_store(&sl__g.ntbufs, 0);
    atomic_fetch_add(&sl__g.gen, 1);
    sl__tls.tb = NULL;
    sl__tls.current = NULL;
    pthread_mutex_unlock(&sl__g.reg_mu);
    if (late_spans + late_logs > 0) {
        sl__exp_count_drop(SL_DROP_SHUTDOWN, late_spans, late_logs);
        rc = SL_ETIMEDOUT;
    }
    free_config_copies();
    pthread_mutex_unlock(&init_mu);
    return rc;
}

int sl_stats_get(sl_stats *out)
{
    if (out == NULL)
        return SL_EINVAL;
    sl_stats st;
    memset(&st, 0, sizeof(st));
    pthread_mutex_lock(&sl__g.reg_mu);
    st.spans_created = retired.spans_created;
    st.spans_unsampled = retired.spans_unsampled;
    st.logs_created = retired.logs_created;
    st.attrs_dropped = retired.attrs_dropped;
    st.spans_dropped_by[SL_DROP_BUDGET] = retired.drop_budget_spans;
    st.logs_dropped_by[SL_DROP_BUDGET] = retired.drop_budget_logs;
    st.spans_dropped_by[SL_DROP_QUEUE] = retired.drop_queue_spans;
    st.logs_dropped_by[SL_DROP_QUEUE] = retired.drop_queue_logs;
    uint32_t n = atomic_load(&sl__g.ntbufs);
    for (uint32_t i = 0; i < n; i++) {
        struct sl_tbuf *tb = sl__g.tbufs[i];
        st.spans_created += atomic_load_explicit(&tb->spans_created, memory_order_relaxed);
        st.spans_unsampled += atomic_load_explicit(&tb->spans_unsampled, memory_order_relaxed);
        st.logs_created += atomic_load_explicit(&tb->logs_created, memory_order_relaxed);
        st.attrs_dropped += atomic_load_explicit(&tb->attrs_dropped, memory_order_relaxed);
        st.spans_dropped_by[SL_DROP_BUDGET] += atomic_load(&tb->drop_budget_spans);
        st.logs_dropped_by[SL_DROP_BUDGET] += atomic_load(&tb->drop_budget_logs);
        st.spans_dropped_by[SL_DROP_QUEUE] += atomic_load(&tb->drop_queue_spans);
        st.logs_dropped_by[SL_DROP_QUEUE] += atomic_load(&tb->drop_queue_logs);
    }
    pthread_mutex_unlock(&sl__g.reg_mu);
    sl__exp_stats(&st); /* adds exporter-side counts and drops */
    for (int i = 0; i < SL_DROP__COUNT; i++) {
        st.spans_dropped += st.spans_dropped_by[i];
        st.logs_dropped += st.logs_dropped_by[i];
    }
    st.memory_used = atomic_load(&sl__g.mem_used);
    st.memory_budget = sl__g.budget;
    pthread_mutex_lock(&err_mu);
    if (st.last_error == 0) {
        st.last_error = last_err;
        snprintf(st.last_error_msg, sizeof(st.last_error_msg), "%s", last_err_msg);
    }
    pthread_mutex_unlock(&err_mu);
    *out = st;
    return SL_OK;
}
