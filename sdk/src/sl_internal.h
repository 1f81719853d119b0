/*
 * sl_internal.h - private interface between the SDK's files: the item record
 * (a span or a log line while it is being built and queued), the per-thread
 * buffers, the process-wide state and the exporter entry points.
 *
 * Data flow, and why it is shaped this way (limits.md: a span has ~100 ns,
 * two clock reads already take 60):
 *
 *   user thread --(record from its own free list, filled in place)-->
 *   its own SPSC ring --(exporter drains every ring)--> slc_batch -> frame
 *   --(sender thread, nng req/rep)--> collector
 *   records go back to their owner through a lock-free "returned" stack.
 *
 * The hot path touches only memory the calling thread owns, plus one
 * release-store into its ring.  Locks are taken only when a thread first
 * uses the SDK, by the exporter threads, and by flush/shutdown.
 */
#ifndef SL_INTERNAL_H
#define SL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sightline.h"

/* ---- item records ---------------------------------------------------------- */

/* Entry tags of a record's data area (native byte order: the area never
 * leaves the process). */
enum {
    SL_T_NAME = 1,   /* u16 len, bytes                                    */
    SL_T_ATTR = 2,   /* u8 type, u16 klen, key, value (STR: u32 len+bytes;
                      * INT/DOUBLE: 8 bytes; BOOL: 1 byte)                */
    SL_T_EVENT = 3,  /* u16 nattrs, u64 time, u16 len, name; then attrs  */
    SL_T_LINK = 4,   /* 16 trace, 8 span, u16 nattrs; then attrs          */
    SL_T_STATUS = 5, /* u16 len, message                                  */
    SL_T_TSTATE = 6, /* u16 len, tracestate                               */
    SL_T_BODY = 7    /* u32 len, log body                                 */
};

#define SL_REC_SPAN 1
#define SL_REC_LOG 2

/* Record flags. */
#define SL_F_SAMPLED 0x01u    /* W3C sampled flag                          */
#define SL_F_RECORDING 0x02u  /* data is kept and exported                 */
#define SL_F_LOCAL_ROOT 0x04u /* no local parent: gets resource attributes */
#define SL_F_HAS_TS 0x08u     /* a SL_T_TSTATE entry is present           */
#define SL_F_TRACED 0x10u     /* log: trace_id/span_id set                 */
#define SL_F_INERT 0x80u      /* the shared do-nothing span                */

#define SL_REC_INLINE 376 /* data bytes inside the record: one cache-friendly
                           * 512-byte block covers a typical span */
#define SL_MAX_ATTRS 128
#define SL_MAX_EVENTS 128
#define SL_MAX_LINKS 32
#define SL_MAX_KEY 255
#define SL_TB_KEEP 4096 /* records a thread buffer caches before freeing extras */

struct sl_tbuf;

struct sl_span {
    struct sl_span *next;  /* free list / returned stack link */
    struct sl_tbuf *owner; /* thread buffer that allocated it */
    uint64_t gen;          /* SDK generation it belongs to    */
    struct sl_span *scope_prev;
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    uint8_t what; /* SL_REC_* */
    uint8_t flags;
    uint8_t kind;
    uint8_t status;
    uint8_t level;
    uint16_t nattrs, nevents, nlinks;
    uint16_t ts_len; /* tracestate bytes at data[ts_off] (SL_F_HAS_TS) */
    uint32_t ts_off;
    uint64_t start_ns, end_ns;
    uint32_t used, cap;
    uint8_t *data; /* inline_data, or a heap block when it grew */
    uint8_t inline_data[SL_REC_INLINE];
};

/* ---- per-thread buffers ------------------------------------------------------ */

#define SL_TB_ACTIVE 1
#define SL_TB_ORPHAN 2 /* its thread exited: drained, then adopted by a new one */

/* One per thread that used the SDK.  Fields are grouped by writer so the
 * producer and the exporter do not share cache lines. */
struct sl_tbuf {
    /* written by the owner thread only */
    _Alignas(64) _Atomic uint32_t head;
    struct sl_span *free;
    uint32_t nfree;
    uint64_t rng[4];
    _Atomic uint64_t spans_created, spans_unsampled, logs_created;
    _Atomic uint64_t drop_budget_spans, drop_budget_logs;
    _Atomic uint64_t drop_queue_spans, drop_queue_logs, attrs_dropped;

    /* written by the exporter (tail) and by anyone returning records */
    _Alignas(64) _Atomic uint32_t tail;
    _Atomic(struct sl_span *) returned;
    _Atomic uint32_t nrecs; /* records allocated through this buffer */
    _Atomic int state;

    uint32_t mask;
    struct sl_span **ring;
};

/* ---- process-wide state ---------------------------------------------------- */

#define SL_MAX_THREADS 4096

struct sl_exporter;

struct sl_global {
    _Atomic int running;
    _Atomic uint64_t gen; /* bumped by init and shutdown; stale TLS re-registers */

    /* configuration (copied strings; read-only while running) */
    char *endpoint, *service, *service_version, *environment, *host, *token;
    sl_attr *resource;
    size_t nresource;
    int sampler, parent_based, min_level;
    uint64_t ratio_bound; /* sample when (low 8 bytes of trace id >> 1) < bound */
    sl_config cfg;        /* numeric limits (its string fields are not used) */

    /* thread buffers: append-only while running, so the exporter reads the
     * array without the lock */
    pthread_mutex_t reg_mu;
    struct sl_tbuf *tbufs[SL_MAX_THREADS];
    _Atomic uint32_t ntbufs;

    _Atomic size_t mem_used;
    size_t budget;

    struct sl_exporter *exp;
};

extern struct sl_global sl__g;

/* Thread-local view; initial-exec keeps it one instruction away even in
 * the shared library. */
struct sl_tls {
    struct sl_tbuf *tb;
    uint64_t gen;
    struct sl_span *current;
};
extern __thread struct sl_tls sl__tls __attribute__((tls_model("initial-exec")));

/* ---- sl_tracer.c ----------------------------------------------------------- */

/* Frees a thread buffer and the records it caches (shutdown only). */
void sl__tbuf_free(struct sl_tbuf *tb);

/* Gives a record back to the thread that allocated it, or frees it when
 * that thread already caches enough.  Any thread may call it. */
void sl__rec_release(struct sl_span *r);

/* Frees a record and takes it off the memory count. */
void sl__rec_destroy(struct sl_span *r);

/* ---- sl_exporter.c --------------------------------------------------------- */

int sl__exp_start(char *err, size_t errlen);
/* Wakes the batcher early; called by a producer whose ring just became half
 * full (one cheap signal per crossing, not per item). */
void sl__exp_wake(void);
int sl__exp_flush(uint32_t timeout_ms);
/* Stops the exporter after flushing up to the deadline; returns SL_OK or
 * SL_ETIMEDOUT when something was dropped. */
int sl__exp_stop(uint32_t timeout_ms);
void sl__exp_stats(sl_stats *st);
void sl__exp_reset_stats(void);
/* Counts items dropped after they left their thread buffer. */
void sl__exp_count_drop(int reason, uint64_t spans, uint64_t logs);
/* Makes the exporter's locks usable in a forked child (which never exports). */
void sl__exp_atfork_child(void);
/* Records the reason sl_init() or the exporter failed, for sl_stats_get(). */
void sl__set_last_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- sl_transport.c -------------------------------------------------------- */

struct sl_transport;
int sl__tp_open(struct sl_transport **out, const char *url, uint32_t timeout_ms, char *err,
                size_t errlen);
/* Sends one frame and waits for its ack.  SL_OK with *ack filled, or
 * SL_ETIMEDOUT / SL_ETRANSPORT / SL_ECLOSED / SL_EWIRE_* (bad ack), with a
 * message in err. */
int sl__tp_roundtrip(struct sl_transport *t, const uint8_t *frame, size_t len, void *ack,
                     char *err, size_t errlen);
/* Unblocks a roundtrip in progress; the transport can only be freed after. */
void sl__tp_abort(struct sl_transport *t);
void sl__tp_free(struct sl_transport *t);

/* ---- small shared helpers -------------------------------------------------- */

static inline uint64_t sl__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256**: a few ns per id, no shared state. */
static inline uint64_t sl__rng_next(uint64_t s[4])
{
    uint64_t r = sl__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sl__rotl(s[3], 45);
    return r;
}

/* Fills n bytes from the OS random source (getrandom, with a time-based
 * fallback that is still unique per process). */
void sl__random_bytes(void *buf, size_t n);

#endif /* SL_INTERNAL_H */
