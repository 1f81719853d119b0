/*
 * sl_tracer.c - the SDK's hot path: thread buffers, open-span slots, the
 * per-thread segment queue, spans and their contexts, scopes and logs.
 *
 * Every span or log call works on a slot from the calling thread's own free
 * list; a finished item is copied as one record into the thread's current
 * queue segment and published with one release-store (sl_internal.h has
 * the whole flow).  No global lock, no allocation once the thread is warm,
 * no system call: the clock is the TSC where the kernel trusts it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sl_internal.h"
#include "common/slc_bytes.h"

/* The inert span handed out when nothing can be recorded: every call on it
 * is a no-op, so callers never need to check for NULL. */
static struct sl_span sl_inert = {.flags = SL_F_INERT};

/* Owner-only counter increment: a plain load+store is enough because only
 * the owning thread writes; readers see a slightly old value. */
#define SL_INC(c) atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + 1, \
                                        memory_order_relaxed)

/* ---- queue segments ----------------------------------------------------------- */

static struct sl_seg *seg_alloc(uint32_t cap)
{
    size_t bytes = sizeof(struct sl_seg) + cap;
    if (atomic_fetch_add_explicit(&sl__g.mem_used, bytes, memory_order_relaxed) + bytes >
        sl__g.budget) {
        atomic_fetch_sub(&sl__g.mem_used, bytes);
        return NULL;
    }
    struct sl_seg *s = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (s == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, bytes);
        return NULL;
    }
    s->cap = cap;
    s->free_next = NULL;
    atomic_init(&s->next, NULL);
    atomic_init(&s->committed, 0);
    return s;
}

static void seg_free(struct sl_seg *s)
{
    atomic_fetch_sub(&sl__g.mem_used, sizeof(struct sl_seg) + s->cap);
    free(s);
}

void sl__seg_retire(struct sl_tbuf *tb, struct sl_seg *s)
{
    atomic_store_explicit(&tb->segs_back,
                          atomic_load_explicit(&tb->segs_back, memory_order_relaxed) + 1,
                          memory_order_release);
    if (s->cap != SL_SEG_BYTES) {
        seg_free(s); /* an oversized one, for one big item */
        return;
    }
    /* One pusher (the exporter), one taker (the owner, which takes the
     * whole stack at once): no ABA.  The owner frees extras beyond
     * SL_SEG_KEEP, so the stack stays short. */
    struct sl_seg *head = atomic_load_explicit(&tb->seg_returned, memory_order_relaxed);
    do {
        s->free_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&tb->seg_returned, &head, s,
                                                    memory_order_release, memory_order_relaxed));
}

/* Why the producer could not get room. */
#define SL_Q_FULL (-1)   /* the thread's queue holds max_segs segments */
#define SL_Q_BUDGET (-2) /* the memory budget is spent                */

/* Moves the producer to a fresh segment with room for need bytes.
 * Owner thread only. */
static int seg_next(struct sl_tbuf *tb, uint32_t need)
{
    uint64_t live = tb->segs_out - atomic_load_explicit(&tb->segs_back, memory_order_acquire);
    if (live >= tb->max_segs)
        return SL_Q_FULL;
    struct sl_seg *s = NULL;
    if (need <= SL_SEG_BYTES) {
        if (tb->spare == NULL) {
            struct sl_seg *r = atomic_exchange_explicit(&tb->seg_returned, NULL,
                                                        memory_order_acquire);
            while (r != NULL) {
                struct sl_seg *nx = r->free_next;
                if (tb->nspare < SL_SEG_KEEP) {
                    r->free_next = tb->spare;
                    tb->spare = r;
                    tb->nspare++;
                } else {
                    seg_free(r);
                }
                r = nx;
            }
        }
        if ((s = tb->spare) != NULL) {
            tb->spare = s->free_next;
            tb->nspare--;
            s->free_next = NULL;
            atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
            atomic_store_explicit(&s->committed, 0, memory_order_relaxed);
        } else if ((s = seg_alloc(SL_SEG_BYTES)) == NULL) {
            return SL_Q_BUDGET;
        }
    } else if ((s = seg_alloc((need + 63) & ~63u)) == NULL) {
        return SL_Q_BUDGET;
    }
    tb->segs_out++;
    /* The release orders every record of the old segment (and its final
     * committed) before the link the exporter checks. */
    atomic_store_explicit(&tb->cur->next, s, memory_order_release);
    tb->cur = s;
    tb->pos = 0;
    return 0;
}

/* Copies a finished slot into the queue.  0, SL_Q_FULL or SL_Q_BUDGET. */
static inline int queue_push(struct sl_tbuf *tb, const struct sl_span *r)
{
    uint32_t need = sl__rec_len(r->used);
    if (__builtin_expect(tb->cur->cap - tb->pos < need, 0)) {
        int rc = seg_next(tb, need);
        if (rc != 0)
            return rc;
    }
    struct sl_seg *s = tb->cur;
    struct sl_rec *h = (struct sl_rec *)(s->data + tb->pos);
    h->len = need;
    h->used = r->used;
    h->what = r->what;
    h->flags = r->flags;
    h->kind = r->kind;
    h->status = r->status;
    h->level = r->level;
    memcpy(h->trace_id, r->trace_id, 16 + 8 + 8 + 8 + 8); /* ids and times */
    memcpy(h->data, r->data, r->used);
    tb->pos += need;
    atomic_store_explicit(&s->committed, tb->pos, memory_order_release);
    return 0;
}

_Static_assert(offsetof(struct sl_span, end) + 8 - offsetof(struct sl_span, trace_id) == 48,
               "slot ids and times are contiguous");
_Static_assert(offsetof(struct sl_rec, end) + 8 - offsetof(struct sl_rec, trace_id) == 48,
               "record ids and times are contiguous");
_Static_assert(sizeof(struct sl_rec) == 64, "a record header is one cache line");

/* ---- thread buffers ---------------------------------------------------------- */

static void slot_free_list(struct sl_span *r)
{
    while (r != NULL) {
        struct sl_span *nx = r->next;
        if (r->data != r->inline_data) {
            free(r->data);
            atomic_fetch_sub(&sl__g.mem_used, r->cap);
        }
        atomic_fetch_sub(&sl__g.mem_used, sizeof(*r));
        free(r);
        r = nx;
    }
}

void sl__tbuf_free(struct sl_tbuf *tb)
{
    if (tb == NULL)
        return;
    slot_free_list(tb->free);
    slot_free_list(atomic_exchange(&tb->returned, NULL));
    /* The queue: from the exporter's segment to the producer's, linked. */
    struct sl_seg *s = tb->rseg;
    while (s != NULL) {
        struct sl_seg *nx = atomic_load(&s->next);
        seg_free(s);
        s = nx;
    }
    s = tb->spare;
    while (s != NULL) {
        struct sl_seg *nx = s->free_next;
        seg_free(s);
        s = nx;
    }
    s = atomic_exchange(&tb->seg_returned, NULL);
    while (s != NULL) {
        struct sl_seg *nx = s->free_next;
        seg_free(s);
        s = nx;
    }
    atomic_fetch_sub(&sl__g.mem_used, sizeof(*tb));
    free(tb);
}

/* Creates a thread buffer with its first segment, within the budget. */
static struct sl_tbuf *tbuf_new(void)
{
    size_t bytes = sizeof(struct sl_tbuf);
    if (atomic_fetch_add(&sl__g.mem_used, bytes) + bytes > sl__g.budget) {
        atomic_fetch_sub(&sl__g.mem_used, bytes);
        return NULL;
    }
    struct sl_tbuf *tb = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (tb == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, bytes);
        return NULL;
    }
    memset(tb, 0, sizeof(*tb));
    if ((tb->cur = seg_alloc(SL_SEG_BYTES)) == NULL) {
        atomic_fetch_sub(&sl__g.mem_used, bytes);
        free(tb);
        return NULL;
    }
    tb->rseg = tb->cur;
    tb->segs_out = 1;
    uint64_t q = (uint64_t)sl__g.cfg.thread_queue * SL_ITEM_QUOTA;
    tb->max_segs = (uint32_t)((q + SL_SEG_BYTES - 1) / SL_SEG_BYTES);
    if (tb->max_segs < 2)
        tb->max_segs = 2;
    sl__random_bytes(tb->rng, sizeof(tb->rng));
    if ((tb->rng[0] | tb->rng[1] | tb->rng[2] | tb->rng[3]) == 0)
        tb->rng[0] = 1;
    atomic_store(&tb->state, SL_TB_ACTIVE);
    return tb;
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
        if (n >= SL_MAX_THREADS || (tb = tbuf_new()) == NULL)
            goto out;
        sl__g.tbufs[n] = tb;
        atomic_store_explicit(&sl__g.ntbufs, n + 1, memory_order_release);
    }
    sl__tls.tb = tb;
    sl__tls.gen = atomic_load(&sl__g.gen);
    sl__tls.current = NULL;
    sl__tls_mark();
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

/* ---- slots ------------------------------------------------------------------ */

static inline void slot_reset_data(struct sl_span *r)
{
    if (__builtin_expect(r->data != r->inline_data, 0)) {
        free(r->data);
        atomic_fetch_sub(&sl__g.mem_used, r->cap);
        r->data = r->inline_data;
        r->cap = SL_SLOT_INLINE;
    }
}

/* A slot of an earlier SDK generation (a span left open across
 * sl_shutdown): its buffer is gone, so it is simply freed.  Its bytes left
 * the memory count when the budget was reset. */
static void slot_free_stale(struct sl_span *r)
{
    if (r->data != r->inline_data)
        free(r->data);
    free(r);
}

/* Gives a slot back to the thread buffer that handed it out: its own free
 * list when that is the caller's, else the lock-free returned stack. */
static inline void slot_release(struct sl_span *r)
{
    struct sl_tbuf *tb = r->owner;
    slot_reset_data(r);
    if (__builtin_expect(sl__tls.tb == tb && sl__tls.gen == r->gen, 1)) {
        r->next = tb->free;
        tb->free = r;
        return;
    }
    /* Many pushers, one taker that empties the whole stack: no ABA. */
    struct sl_span *head = atomic_load_explicit(&tb->returned, memory_order_relaxed);
    do {
        r->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&tb->returned, &head, r, memory_order_release,
                                                    memory_order_relaxed));
}

static struct sl_span *slot_get_slow(struct sl_tbuf *tb)
{
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
    r->cap = SL_SLOT_INLINE;
    return r;
}

static inline struct sl_span *slot_get(struct sl_tbuf *tb)
{
    struct sl_span *r = tb->free;
    if (__builtin_expect(r != NULL, 1))
        tb->free = r->next;
    else if ((r = slot_get_slow(tb)) == NULL)
        return NULL;
    r->used = 0;
    r->nattrs = r->nevents = r->nlinks = 0;
    r->status = SL_STATUS_UNSET;
    r->scope_prev = NULL;
    r->ts_len = 0;
    return r;
}

/* Grows a slot's data onto the heap so need more bytes fit, up to
 * max_item_bytes within the memory budget. */
static __attribute__((noinline)) int slot_grow(struct sl_span *r, size_t need)
{
    size_t want = (size_t)r->used + need;
    size_t max = sl__g.max_item_bytes;
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
    slot_reset_data(r);
    r->data = p;
    r->cap = (uint32_t)ncap;
    return 0;
}

static inline int slot_reserve(struct sl_span *r, size_t need)
{
    if (__builtin_expect((size_t)r->used + need <= r->cap, 1))
        return 0;
    return slot_grow(r, need);
}

static int slot_put_str16(struct sl_span *r, uint8_t tag, const char *s, size_t len)
{
    if (len > 0xffff)
        len = 0xffff;
    if (slot_reserve(r, 3 + len) != 0)
        return SL_ETOOBIG;
    uint8_t *p = r->data + r->used;
    p[0] = tag;
    slc_put_le16(p + 1, (uint16_t)len);
    memcpy(p + 3, s, len);
    r->used += (uint32_t)(3 + len);
    return 0;
}

static void count_attr_drop(struct sl_span *r)
{
    atomic_fetch_add_explicit(&r->owner->attrs_dropped, 1, memory_order_relaxed);
}

/* Checks a literal key once per thread (non-empty, at most SL_MAX_KEY
 * bytes), so later uses cost one compare instead of a strlen. */
static __attribute__((noinline)) int key_check_slow(const char *key)
{
    if (*key == '\0' || strnlen(key, SL_MAX_KEY + 1) > SL_MAX_KEY)
        return SL_EINVAL;
    sl__tls.kc[sl__kc_slot(key)] = key;
    return 0;
}

/* Appends one typed attribute entry (not counted in nattrs).  Inlined into
 * the typed setters.  Literal keys and string values are stored as
 * pointers (sl_internal.h says why); anything else is copied. */
static inline __attribute__((always_inline)) int slot_put_attr(struct sl_span *r, const char *key,
                                                               int type, const void *val)
{
    if (__builtin_expect(key == NULL, 0))
        return SL_EINVAL;
    size_t klen = 0, need;
    unsigned flags = 0;
    if (__builtin_expect(sl__is_literal(key), 1)) {
        if (__builtin_expect(sl__tls.kc[sl__kc_slot(key)] != key, 0) && key_check_slow(key) != 0)
            return SL_EINVAL;
        flags |= SL_A_KPTR;
        need = 2 + 8;
    } else {
        if (*key == '\0')
            return SL_EINVAL;
        klen = strlen(key);
        if (__builtin_expect(klen > SL_MAX_KEY, 0))
            return SL_EINVAL;
        need = 4 + klen;
    }
    size_t vlen = 0;
    const char *sv = NULL;
    switch (type) {
    case SL_ATTR_STR:
        sv = *(const char *const *)val;
        if (sv == NULL)
            sv = "";
        if (sl__is_literal(sv)) {
            flags |= SL_A_VPTR; /* the exporter truncates at max_attr_value */
            need += 8;
            break;
        }
        vlen = strlen(sv);
        if (vlen > sl__g.max_attr_value)
            vlen = sl__g.max_attr_value; /* the exporter repairs a cut UTF-8 tail */
        need += 4 + vlen;
        break;
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
    if (__builtin_expect(slot_reserve(r, need) != 0, 0)) {
        count_attr_drop(r);
        return SL_ETOOBIG;
    }
    uint8_t *p = r->data + r->used;
    p[0] = SL_T_ATTR;
    p[1] = (uint8_t)(type | flags);
    if (flags & SL_A_KPTR) {
        memcpy(p + 2, &key, 8);
        p += 10;
    } else {
        slc_put_le16(p + 2, (uint16_t)klen);
        memcpy(p + 4, key, klen);
        p += 4 + klen;
    }
    switch (type) {
    case SL_ATTR_STR:
        if (flags & SL_A_VPTR) {
            memcpy(p, &sv, 8);
        } else {
            slc_put_le32(p, (uint32_t)vlen);
            memcpy(p + 4, sv, vlen);
        }
        break;
    case SL_ATTR_INT:
        slc_put_le64(p, (uint64_t)*(const int64_t *)val);
        break;
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

static int slot_put_attr_struct(struct sl_span *r, const sl_attr *a)
{
    switch (a->type) {
    case SL_ATTR_STR:
        return slot_put_attr(r, a->key, SL_ATTR_STR, &a->v.s);
    case SL_ATTR_INT:
        return slot_put_attr(r, a->key, SL_ATTR_INT, &a->v.i);
    case SL_ATTR_DOUBLE:
        return slot_put_attr(r, a->key, SL_ATTR_DOUBLE, &a->v.d);
    case SL_ATTR_BOOL:
        return slot_put_attr(r, a->key, SL_ATTR_BOOL, &a->v.b);
    default:
        return SL_EINVAL;
    }
}

/* ---- spans ---------------------------------------------------------------------- */

static inline int recording(const sl_span *s)
{
    return s != NULL && (s->flags & SL_F_RECORDING);
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
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

static inline uint64_t rng_nonzero(struct sl_tbuf *tb)
{
    uint64_t v;
    do {
        v = sl__rng_next(tb->rng);
    } while (__builtin_expect(v == 0, 0));
    return v;
}

/* Counts a span that could not even get a slot, as created and dropped. */
static sl_span *span_no_slot(struct sl_tbuf *tb)
{
    SL_INC(tb->spans_created);
    SL_INC(tb->drop_budget_spans);
    return &sl_inert;
}

static sl_span *span_start(struct sl_tbuf *tb, const char *name, int kind,
                                  const uint8_t *ptid, const uint8_t *psid, int pflags,
                                  const char *ts, size_t tslen, int remote)
{
    struct sl_span *r = slot_get(tb);
    if (__builtin_expect(r == NULL, 0))
        return span_no_slot(tb);
    r->what = SL_REC_SPAN;
    r->kind = (uint8_t)((unsigned)kind <= SL_KIND_CONSUMER ? kind : SL_KIND_INTERNAL);
    uint64_t sid = rng_nonzero(tb);
    memcpy(r->span_id, &sid, 8);
    int sampled;
    if (ptid != NULL) {
        memcpy(r->trace_id, ptid, 16);
        memcpy(r->parent_id, psid, 8);
        sampled = sl__g.parent_based ? (int)(pflags & SL_FLAG_SAMPLED) : root_sample(r->trace_id);
        r->flags = remote ? SL_F_LOCAL_ROOT : 0;
    } else {
        uint64_t a = sl__rng_next(tb->rng), b = rng_nonzero(tb);
        memcpy(r->trace_id, &a, 8);
        memcpy(r->trace_id + 8, &b, 8);
        memset(r->parent_id, 0, 8);
        sampled = root_sample(r->trace_id);
        r->flags = SL_F_LOCAL_ROOT;
    }
    if (__builtin_expect(tslen > 0, 0) && slot_put_str16(r, SL_T_TSTATE, ts, tslen) == 0) {
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
    (void)slot_put_str16(r, SL_T_NAME, name, strlen(name));
    r->start = sl__ticks();
    return r;
}

static inline const char *slot_ts(const struct sl_span *s, size_t *len)
{
    if (!(s->flags & SL_F_HAS_TS)) {
        *len = 0;
        return NULL;
    }
    *len = s->ts_len;
    return (const char *)s->data + s->ts_off;
}

static sl_span *start_under(struct sl_tbuf *tb, const char *name, sl_kind kind,
                                   const sl_span *parent)
{
    if (parent == NULL || (parent->flags & SL_F_INERT))
        return span_start(tb, name, kind, NULL, NULL, 0, NULL, 0, 0);
    size_t tslen;
    const char *ts = slot_ts(parent, &tslen);
    return span_start(tb, name, kind, parent->trace_id, parent->span_id,
                      parent->flags & SL_F_SAMPLED, ts, tslen, 0);
}

sl_span *sl_span_start_child(const char *name, sl_kind kind, const sl_span *parent)
{
    struct sl_tbuf *tb = tls_tb();
    if (__builtin_expect(tb == NULL, 0))
        return &sl_inert;
    return start_under(tb, name, kind, parent);
}

/* The common starts, inlined: a child of a local span without tracestate
 * (parent-based sampling) and a root span.  Everything else goes through
 * span_start(). */
static inline __attribute__((always_inline)) sl_span *
fast_start(struct sl_tbuf *tb, struct sl_span *r, const char *name, sl_kind kind,
           const struct sl_span *p)
{
    tb->free = r->next;
    r->what = SL_REC_SPAN;
    r->kind = (uint8_t)((unsigned)kind <= SL_KIND_CONSUMER ? kind : SL_KIND_INTERNAL);
    r->used = 0;
    r->scope_prev = NULL;
    r->ts_len = 0;
    uint64_t sid = rng_nonzero(tb);
    memcpy(r->span_id, &sid, 8);
    int sampled;
    if (p != NULL) {
        memcpy(r->trace_id, p->trace_id, 16);
        memcpy(r->parent_id, p->span_id, 8);
        sampled = p->flags & SL_F_SAMPLED;
        r->flags = 0;
    } else {
        uint64_t a = sl__rng_next(tb->rng), b = rng_nonzero(tb);
        memcpy(r->trace_id, &a, 8);
        memcpy(r->trace_id + 8, &b, 8);
        memset(r->parent_id, 0, 8);
        sampled = root_sample(r->trace_id);
        r->flags = SL_F_LOCAL_ROOT;
    }
    if (!sampled) {
        SL_INC(tb->spans_unsampled);
        return r;
    }
    r->flags |= SL_F_SAMPLED | SL_F_RECORDING;
    r->nattrs = r->nevents = r->nlinks = 0;
    r->status = SL_STATUS_UNSET;
    if (name == NULL)
        name = "";
    if (__builtin_expect(sl__is_literal(name), 1)) {
        uint8_t *d = r->data;
        d[0] = SL_T_NAME_P;
        memcpy(d + 1, &name, 8);
        r->used = 9;
        r->start = sl__ticks();
        return r;
    }
    size_t len = strlen(name);
    if (__builtin_expect(len <= SL_SLOT_INLINE - 3, 1)) {
        uint8_t *d = r->data;
        d[0] = SL_T_NAME;
        slc_put_le16(d + 1, (uint16_t)len);
        memcpy(d + 3, name, len);
        r->used = 3 + (uint32_t)len;
    } else {
        (void)slot_put_str16(r, SL_T_NAME, name, len);
    }
    r->start = sl__ticks();
    return r;
}

/* Everything but an unsampled child: kept out of line so the unsampled
 * path below compiles to a handful of instructions without a stack frame. */
static __attribute__((noinline)) sl_span *start_slow(const char *name, sl_kind kind)
{
    struct sl_tls *t = &sl__tls;
    struct sl_tbuf *tb = t->tb;
    /* tls_tb() when stale: a restart must clear a stale current span. */
    if (__builtin_expect(tb == NULL ||
                             t->gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed),
                         0)) {
        if ((tb = tls_tb()) == NULL)
            return &sl_inert;
        return start_under(tb, name, kind, t->current);
    }
    const struct sl_span *p = t->current;
    struct sl_span *r = tb->free;
    if (__builtin_expect(r != NULL, 1)) {
        if (p == NULL ? 1 : !(p->flags & (SL_F_INERT | SL_F_HAS_TS)) && sl__g.parent_based)
            return fast_start(tb, r, name, kind, p);
    }
    return start_under(tb, name, kind, p);
}

sl_span *sl_span_start(const char *name, sl_kind kind)
{
    /* The unsampled child (a request that arrived unsampled, parent-based
     * sampling): it only has to carry the context for propagation, so it
     * gets a slot, the trace id and a span id, and nothing else.  Every
     * slot on a free list has inline data (sl_span_end and slot_release
     * make sure), so no check is needed for that. */
    struct sl_tls *t = &sl__tls;
    struct sl_tbuf *tb = t->tb;
    if (__builtin_expect(tb != NULL &&
                             t->gen == atomic_load_explicit(&sl__g.gen, memory_order_relaxed),
                         1)) {
        const struct sl_span *p = t->current;
        struct sl_span *r = tb->free;
        if (p != NULL && r != NULL &&
            !(p->flags & (SL_F_SAMPLED | SL_F_INERT | SL_F_HAS_TS)) && sl__g.parent_based) {
            tb->free = r->next;
            r->what = SL_REC_SPAN;
            r->flags = 0;
            memcpy(r->trace_id, p->trace_id, 16);
            uint64_t sid = rng_nonzero(tb);
            memcpy(r->span_id, &sid, 8);
            SL_INC(tb->spans_unsampled);
            return r;
        }
    }
    return start_slow(name, kind);
}

sl_span *sl_span_start_remote(const char *name, sl_kind kind, const sl_context *parent)
{
    struct sl_tbuf *tb = tls_tb();
    if (__builtin_expect(tb == NULL, 0))
        return &sl_inert;
    if (parent == NULL || !sl_context_is_valid(parent))
        return span_start(tb, name, kind, NULL, NULL, 0, NULL, 0, 0);
    size_t tslen = parent->tracestate_len;
    if (tslen > SL_TRACESTATE_MAX)
        tslen = 0;
    return span_start(tb, name, kind, parent->trace_id, parent->span_id, parent->flags,
                      parent->tracestate, tslen, 1);
}

static void end_slow(struct sl_span *s)
{
    /* A span of an earlier SDK generation, or a thread that cannot get a
     * buffer any more (shutdown under way). */
    if (s->gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed)) {
        slot_free_stale(s);
        return;
    }
    slot_release(s);
}

static inline void span_finish(struct sl_span *s)
{
    if (__builtin_expect(s->gen != sl__tls.gen || sl__tls.tb == NULL ||
                             sl__tls.gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed),
                         0)) {
        struct sl_tbuf *tb = tls_tb(); /* ended on a thread new to the SDK */
        if (tb == NULL || s->gen != sl__tls.gen) {
            end_slow(s);
            return;
        }
    }
    if (sl__tls.current == s)
        sl__tls.current = s->scope_prev;
    if (!(s->flags & SL_F_RECORDING)) {
        slot_release(s);
        return;
    }
    struct sl_tbuf *tb = sl__tls.tb;
    SL_INC(tb->spans_created);
    int rc = queue_push(tb, s);
    if (__builtin_expect(rc != 0, 0)) {
        if (rc == SL_Q_FULL)
            SL_INC(tb->drop_queue_spans);
        else
            SL_INC(tb->drop_budget_spans);
    }
    slot_release(s);
}

/* The recording half of sl_span_end: the second clock read and the copy
 * into the queue. */
static __attribute__((noinline)) void end_recording(struct sl_tbuf *tb, struct sl_span *s)
{
    s->end = sl__ticks();
    SL_INC(tb->spans_created);
    int rc = queue_push(tb, s);
    if (__builtin_expect(rc != 0, 0)) {
        if (rc == SL_Q_FULL)
            SL_INC(tb->drop_queue_spans);
        else
            SL_INC(tb->drop_budget_spans);
    }
    s->next = tb->free;
    tb->free = s;
}

static __attribute__((noinline)) void end_other(struct sl_span *s)
{
    /* Ended on another thread, across a restart, or a grown slot. */
    if (s->flags & SL_F_RECORDING) {
        s->end = sl__ticks();
        s->flags &= (uint8_t)~SL_F_END_NS;
    }
    span_finish(s);
}

void sl_span_end(sl_span *s)
{
    if (__builtin_expect(s == NULL, 0))
        return;
    uint8_t f = s->flags;
    if (f & SL_F_INERT)
        return;
    struct sl_tls *t = &sl__tls;
    struct sl_tbuf *tb = t->tb;
    if (__builtin_expect(s->owner != tb || s->gen != t->gen ||
                             t->gen != atomic_load_explicit(&sl__g.gen, memory_order_relaxed) ||
                             s->data != s->inline_data,
                         0)) {
        end_other(s);
        return;
    }
    if (t->current == s)
        t->current = s->scope_prev;
    if (f & SL_F_RECORDING) {
        end_recording(tb, s);
        return;
    }
    s->next = tb->free;
    tb->free = s;
}

void sl_span_end_at(sl_span *s, uint64_t end_ns)
{
    if (end_ns == 0) {
        sl_span_end(s);
        return;
    }
    if (s == NULL || (s->flags & SL_F_INERT))
        return;
    s->end = end_ns;
    s->flags |= SL_F_END_NS;
    span_finish(s);
}

int sl_span_is_recording(const sl_span *s) { return recording(s) ? 1 : 0; }

static inline int set_attr(sl_span *s, const char *key, int type, const void *val)
{
    if (!recording(s))
        return SL_OK;
    if (__builtin_expect(s->nattrs >= SL_MAX_ATTRS, 0)) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    int rc = slot_put_attr(s, key, type, val);
    if (__builtin_expect(rc == 0, 1))
        s->nattrs++;
    return rc;
}

int sl_span_set_str(sl_span *s, const char *key, const char *val)
{
    return set_attr(s, key, SL_ATTR_STR, &val);
}

int sl_span_set_int(sl_span *s, const char *key, int64_t val)
{
    return set_attr(s, key, SL_ATTR_INT, &val);
}

int sl_span_set_double(sl_span *s, const char *key, double val)
{
    return set_attr(s, key, SL_ATTR_DOUBLE, &val);
}

int sl_span_set_bool(sl_span *s, const char *key, int val)
{
    return set_attr(s, key, SL_ATTR_BOOL, &val);
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
        } else if ((rc = slot_put_attr_struct(s, &attrs[i])) == 0) {
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
    return slot_put_str16(s, SL_T_NAME, name, strlen(name));
}

/* Appends attrs after a block header whose u16 count sits at cnt_off; the
 * count records how many actually fit. */
static void slot_put_block_attrs(struct sl_span *s, uint32_t cnt_off, const sl_attr *attrs,
                                 size_t n)
{
    uint16_t cnt = 0;
    for (size_t i = 0; i < n && attrs != NULL; i++) {
        if (cnt >= SL_MAX_ATTRS) {
            count_attr_drop(s);
            continue;
        }
        if (slot_put_attr_struct(s, &attrs[i]) == 0)
            cnt++;
    }
    slc_put_le16(s->data + cnt_off, cnt);
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
    if (s->nevents >= SL_MAX_EVENTS || slot_reserve(s, 13 + nlen) != 0) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    uint8_t *p = s->data + s->used;
    uint32_t cnt_off = s->used + 1;
    p[0] = SL_T_EVENT;
    slc_put_le16(p + 1, 0);
    slc_put_le64(p + 3, sl__ticks());
    slc_put_le16(p + 11, (uint16_t)nlen);
    memcpy(p + 13, name, nlen);
    s->used += (uint32_t)(13 + nlen);
    s->nevents++;
    slot_put_block_attrs(s, cnt_off, attrs, n);
    return SL_OK;
}

int sl_span_add_link(sl_span *s, const sl_context *ctx, const sl_attr *attrs, size_t n)
{
    if (!recording(s))
        return SL_OK;
    if (ctx == NULL || !sl_context_is_valid(ctx) || (attrs == NULL && n > 0))
        return SL_EINVAL;
    if (s->nlinks >= SL_MAX_LINKS || slot_reserve(s, 27) != 0) {
        count_attr_drop(s);
        return SL_ETOOBIG;
    }
    uint8_t *p = s->data + s->used;
    p[0] = SL_T_LINK;
    memcpy(p + 1, ctx->trace_id, 16);
    memcpy(p + 17, ctx->span_id, 8);
    slc_put_le16(p + 25, 0);
    uint32_t cnt_off = s->used + 25;
    s->used += 27;
    s->nlinks++;
    slot_put_block_attrs(s, cnt_off, attrs, n);
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
        return slot_put_str16(s, SL_T_STATUS, msg, strlen(msg));
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

/* Lives here, not in sl_propagate.c, because spans check the contexts they
 * are given (remote parents, links): the tracer stays below propagation,
 * which only uses it. */
int sl_context_is_valid(const sl_context *ctx)
{
    return ctx != NULL && !slc_is_zero(ctx->trace_id, 16) && !slc_is_zero(ctx->span_id, 8);
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
    const char *ts = slot_ts(s, &tslen);
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

/* Writes the body: a format without '%' is copied as is (most structured
 * logging passes a constant message and puts the data in attributes),
 * anything else goes through vsnprintf, straight into the slot. */
static void slot_put_body(struct sl_span *r, const char *fmt, va_list ap)
{
    const char *pct = strchr(fmt, '%');
    if (pct == NULL && sl__is_literal(fmt) && slot_reserve(r, 9) == 0) {
        r->data[r->used] = SL_T_BODY_P;
        memcpy(r->data + r->used + 1, &fmt, 8);
        r->used += 9;
        return;
    }
    if (pct == NULL) {
        size_t len = strlen(fmt);
        size_t max = sl__g.max_item_bytes / 2; /* leave room for attributes */
        if (len > max - 6)
            len = max - 6;
        if (slot_reserve(r, 5 + len) != 0)
            len = r->cap - r->used - 5;
        r->data[r->used] = SL_T_BODY;
        slc_put_le32(r->data + r->used + 1, (uint32_t)len);
        memcpy(r->data + r->used + 5, fmt, len);
        r->used += 5 + (uint32_t)len;
        return;
    }
    va_list ap2;
    va_copy(ap2, ap);
    uint32_t avail = r->cap - r->used - 5;
    int len = vsnprintf((char *)r->data + r->used + 5, avail, fmt, ap);
    if (len < 0)
        len = 0;
    if ((uint32_t)len >= avail) {
        size_t want = (size_t)len + 6;
        if (want > sl__g.max_item_bytes / 2)
            want = sl__g.max_item_bytes / 2; /* leave room for attributes */
        if (slot_reserve(r, want) == 0) {
            avail = r->cap - r->used - 5;
            if (avail > want - 5)
                avail = (uint32_t)want - 5; /* a grown slot may hold more than the cap */
        }
        (void)vsnprintf((char *)r->data + r->used + 5, avail, fmt, ap2);
        if ((uint32_t)len >= avail)
            len = (int)avail - 1; /* truncated; the exporter repairs a cut UTF-8 tail */
    }
    va_end(ap2);
    r->data[r->used] = SL_T_BODY;
    slc_put_le32(r->data + r->used + 1, (uint32_t)len);
    r->used += 5 + (uint32_t)len;
}

static int vlog(int level, const sl_attr *attrs, size_t n, const char *fmt, va_list ap)
{
    if (level < 1 || level > 24 || fmt == NULL || (attrs == NULL && n > 0))
        return SL_EINVAL;
    struct sl_tbuf *tb = tls_tb();
    if (__builtin_expect(tb == NULL, 0))
        return SL_ESTATE;
    SL_INC(tb->logs_created);
    struct sl_span *r = slot_get(tb);
    if (__builtin_expect(r == NULL, 0)) {
        SL_INC(tb->drop_budget_logs);
        return SL_ENOMEM;
    }
    r->what = SL_REC_LOG;
    r->level = (uint8_t)level;
    r->flags = SL_F_RECORDING;
    r->start = r->end = sl__ticks();
    const struct sl_span *cur = sl__tls.current;
    if (cur != NULL && !(cur->flags & SL_F_INERT)) {
        memcpy(r->trace_id, cur->trace_id, 16);
        memcpy(r->span_id, cur->span_id, 8);
        r->flags |= SL_F_TRACED;
    }
    slot_put_body(r, fmt, ap);
    for (size_t i = 0; i < n; i++) {
        if (r->nattrs >= SL_MAX_ATTRS) {
            count_attr_drop(r);
            continue;
        }
        if (slot_put_attr_struct(r, &attrs[i]) == 0)
            r->nattrs++;
    }
    int rc = queue_push(tb, r);
    slot_release(r);
    if (__builtin_expect(rc != 0, 0)) {
        if (rc == SL_Q_FULL)
            SL_INC(tb->drop_queue_logs);
        else
            SL_INC(tb->drop_budget_logs);
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
