/*
 * sl_internal.h - private interface between the SDK's files: the open-span
 * slot, the finished-item record, the per-thread queue of segments, the
 * process-wide state, the clock and the exporter entry points.
 *
 * Data flow, and why it is shaped this way (limits.md: a span has ~100 ns,
 * two clock_gettime calls already take 60):
 *
 *   sl_span_start: a slot from the thread's own free list (never touched by
 *     another core), ids from the thread's xoshiro state, one rdtsc.
 *   attributes: appended to the slot's inline buffer (keys and values
 *     copied; the tag format below).
 *   sl_span_end: one more rdtsc, then the slot is copied as one record into
 *     the tail segment of the thread's queue and published with one
 *     release-store; the slot goes straight back to the free list.
 *   exporter: walks every thread's segments (single consumer, no locks),
 *     converts ticks to Unix ns, encodes into an slc_batch, and hands an
 *     emptied segment back to its thread through a one-pusher stack.
 *
 * So the hot path writes only memory its thread owns: slots never cross
 * cores, and segment bytes cross once, in order (what a hardware prefetcher
 * handles best), instead of whole records travelling to the exporter and
 * back.  Locks are taken only when a thread first uses the SDK, by the
 * exporter threads, and by flush/shutdown.
 *
 * The files form layers, each using only those below it (declarations of
 * what crosses a file boundary are all here, by defining file):
 *
 *   sl_init.c       lifecycle, stats; starts/stops the exporter
 *   sl_exporter.c   batcher and sender (reads sl_stats_get, the public
 *                   call, for its self-observation record)
 *   sl_propagate.c  W3C Trace Context
 *   sl_tracer.c     the hot path
 *   sl_transport.c  the nng client            sl_config.c  defaults, env
 *   sl_state.c      sl__g, sl__tls, the last error, random bytes
 */
#ifndef SL_INTERNAL_H
#define SL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sightline.h"
#include "common/slc_util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SL_HAVE_TSC 1
#else
#define SL_HAVE_TSC 0
#endif

/* ---- slot data tags --------------------------------------------------------- */

/* Entry tags of a slot's data area, copied unchanged into the record.
 * Lengths, counts, times and INT values are little-endian
 * (common/slc_bytes.h, a plain move on x86); doubles and literal pointers
 * are copied as they are, since the bytes never leave the process. */
enum {
    SL_T_NAME = 1,   /* u16 len, bytes                                    */
    SL_T_ATTR = 2,   /* u8 type, u16 klen, key, value (STR: u32 len+bytes;
                      * INT/DOUBLE: 8 bytes; BOOL: 1 byte)                */
    SL_T_EVENT = 3,  /* u16 nattrs, u64 time (ticks), u16 len, name; attrs */
    SL_T_LINK = 4,   /* 16 trace, 8 span, u16 nattrs; then attrs          */
    SL_T_STATUS = 5, /* u16 len, message                                  */
    SL_T_TSTATE = 6, /* u16 len, tracestate                               */
    SL_T_BODY = 7,   /* u32 len, log body                                 */
    SL_T_NAME_P = 8, /* 8-byte pointer to a literal name (see below)      */
    SL_T_BODY_P = 9  /* 8-byte pointer to a literal log body              */
};

/* Flags in the type byte of an SL_T_ATTR entry: the key (KPTR) or the
 * string value (VPTR) is an 8-byte pointer to a string literal instead of
 * its copied bytes.
 *
 * Why: copying is most of a span's cost (a strlen and a memcpy per string),
 * and nearly every key, and many names and values, are string literals of
 * the program.  A pointer into the main executable's read-only segments
 * stays valid and unchanged for the life of the process (the executable is
 * never unloaded), so storing it is as good as a copy; the exporter reads
 * and interns it, with a pointer-keyed cache per frame.  Anything else
 * (stack buffers, heap strings, other libraries' literals) is copied. */
#define SL_A_KPTR 0x40u
#define SL_A_VPTR 0x80u
#define SL_A_TYPE 0x0fu

#define SL_REC_SPAN 1
#define SL_REC_LOG 2

/* Slot and record flags. */
#define SL_F_SAMPLED 0x01u    /* W3C sampled flag                          */
#define SL_F_RECORDING 0x02u  /* data is kept and exported                 */
#define SL_F_LOCAL_ROOT 0x04u /* no local parent: gets resource attributes */
#define SL_F_HAS_TS 0x08u     /* a SL_T_TSTATE entry is present           */
#define SL_F_TRACED 0x10u     /* log: trace_id/span_id set                 */
#define SL_F_END_NS 0x20u     /* end is Unix ns (sl_span_end_at), not ticks */
#define SL_F_INERT 0x80u      /* the shared do-nothing span                */

#define SL_SLOT_INLINE 384 /* data bytes inside a slot: a typical span fits */
#define SL_MAX_ATTRS 128
#define SL_MAX_EVENTS 128
#define SL_MAX_LINKS 32
#define SL_MAX_KEY 255

/* Hard ceilings on the configuration, from the collector's wire limits
 * (slc_wire_limits_default, docs/wire-format.md): one string is at most
 * 64 KiB, so a longer max_attr_value could only produce frames the
 * collector rejects whole; an item may hold a 64 KiB log body (half of
 * max_item_bytes) plus attributes.  sl_init() clamps to these. */
#define SL_ATTR_VALUE_CAP (64u << 10)
#define SL_ITEM_BYTES_CAP (128u << 10)
/* A local root span carries its own attributes (at most SL_MAX_ATTRS) and
 * every resource attribute: up to 3 built in (service.version,
 * deployment.environment.name, host.name) and this many from
 * sl_config.resource, 256 in all, the collector's per-item limit. */
#define SL_MAX_RESOURCE (256 - SL_MAX_ATTRS - 3)

#define SL_STATS_BODY "sightline.sdk.stats" /* body of the self-observation log record */
#define SL_UNNAMED "unnamed" /* sent for a span whose name is NULL or empty */

#define SL_SEG_BYTES (64u << 10) /* queue segment; larger items get their own */
#define SL_SEG_KEEP 4            /* emptied segments a thread keeps for reuse  */
#define SL_ITEM_QUOTA 128u       /* bytes per item when sizing thread_queue    */

struct sl_tbuf;

/* An open span (or a log line being built).  Owned by the thread buffer
 * that handed it out; only ever read by the exporter as a copy. */
struct sl_span {
    struct sl_span *next;  /* free list / returned stack link */
    struct sl_tbuf *owner;
    uint64_t gen;          /* SDK generation it belongs to    */
    struct sl_span *scope_prev;
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    uint64_t start, end; /* ticks (end: Unix ns with SL_F_END_NS) */
    uint8_t what; /* SL_REC_* */
    uint8_t flags;
    uint8_t kind;
    uint8_t status;
    uint8_t level;
    uint16_t nattrs, nevents, nlinks;
    uint16_t ts_len; /* tracestate bytes at data[ts_off] (SL_F_HAS_TS) */
    uint32_t ts_off;
    uint32_t used, cap;
    uint8_t *data; /* inline_data, or a heap block when it grew */
    uint8_t inline_data[SL_SLOT_INLINE];
};

/* A finished item as queued: this header, then `used` data bytes, padded
 * to 8.  Written once by the producer, read once by the exporter. */
struct sl_rec {
    uint32_t len;  /* whole record, multiple of 8 */
    uint32_t used; /* data bytes after the header */
    uint8_t what, flags, kind, status, level, pad[3];
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    uint64_t start, end;
    uint8_t data[];
};

static inline uint32_t sl__rec_len(uint32_t used)
{
    return (uint32_t)((sizeof(struct sl_rec) + used + 7) & ~(size_t)7);
}

/* A segment of a thread's queue.  The producer appends records and
 * publishes `committed`; once it has moved on it links `next` (after its
 * last commit), which tells the exporter the segment is complete. */
struct sl_seg {
    _Atomic(struct sl_seg *) next;
    struct sl_seg *free_next; /* spare list / returned stack */
    _Atomic uint32_t committed;
    uint32_t cap;
    uint64_t pad[4];  /* records start on their own cache line */
    uint8_t data[];
};

/* ---- per-thread buffers ------------------------------------------------------ */

#define SL_TB_ACTIVE 1
#define SL_TB_ORPHAN 2 /* its thread exited: drained, then adopted by a new one */

/* One per thread that used the SDK.  Fields are grouped by writer so the
 * producer and the exporter do not share cache lines. */
struct sl_tbuf {
    /* written by the owner thread only */
    _Alignas(64) struct sl_span *free;
    struct sl_seg *cur;   /* segment being filled          */
    uint32_t pos;         /* bytes used in cur (== its committed) */
    uint32_t nspare;
    struct sl_seg *spare; /* emptied segments ready for reuse */
    uint64_t segs_out;    /* segments handed to the queue  */
    uint64_t rng[4];
    _Atomic uint64_t spans_created, spans_unsampled, logs_created;
    _Atomic uint64_t drop_budget_spans, drop_budget_logs;
    _Atomic uint64_t drop_queue_spans, drop_queue_logs, attrs_dropped;

    /* written by the exporter (its read position), or by any thread */
    _Alignas(64) struct sl_seg *rseg; /* segment the exporter reads    */
    uint32_t rpos;
    _Atomic uint64_t segs_back;          /* segments the exporter retired  */
    _Atomic(struct sl_seg *) seg_returned; /* pushed by the exporter only */
    _Atomic(struct sl_span *) returned;  /* slots ended on other threads  */
    _Atomic int state;
    uint32_t max_segs; /* read-only after creation */
};

/* ---- process-wide state ---------------------------------------------------- */

#define SL_MAX_THREADS 4096

struct sl_exporter;

struct sl_global {
    /* Read on every hot-path call and written only by init/shutdown: kept
     * on its own cache line, away from the counters below that the
     * exporter writes all the time. */
    _Alignas(64) _Atomic uint64_t gen; /* bumped by init and shutdown; stale TLS re-registers */
    _Atomic int running;
    int use_tsc; /* ticks are rdtsc, converted by the exporter */
    int sampler, parent_based, min_level;
    uint32_t max_attr_value, max_item_bytes;
    uint64_t ratio_bound; /* sample when (low 8 bytes of trace id >> 1) < bound */
    uintptr_t lit_lo, lit_len; /* the executable's read-only bytes (0 len: none) */

    _Alignas(64) _Atomic size_t mem_used;
    size_t budget;

    /* configuration (copied strings; read-only while running) */
    _Alignas(64) char *endpoint, *service, *service_version, *environment, *host, *token;
    size_t token_len;             /* 0: no token */
    char *tls_ca, *tls_server_name; /* NULL: system bundle / the endpoint's host */
    sl_attr *resource;
    size_t nresource;
    sl_config cfg; /* numeric limits (its string fields are not used) */

    /* thread buffers: append-only while running, so the exporter reads the
     * array without the lock */
    pthread_mutex_t reg_mu;
    _Atomic uint32_t ntbufs;
    struct sl_tbuf *tbufs[SL_MAX_THREADS];

    struct sl_exporter *exp;
};

extern struct sl_global sl__g; /* sl_state.c */

/* Thread-local view; initial-exec keeps it one instruction away even in
 * the shared library. */
#define SL_KCACHE 32
struct sl_tls {
    struct sl_tbuf *tb;
    uint64_t gen;
    struct sl_span *current;
    /* literal keys this thread already checked (non-empty, <= 255 bytes) */
    const char *kc[SL_KCACHE];
};

/* 1 if p points into the executable's read-only segments. */
static inline int sl__is_literal(const void *p)
{
    return (uintptr_t)p - sl__g.lit_lo < sl__g.lit_len;
}

static inline unsigned sl__kc_slot(const char *k)
{
    uintptr_t v = (uintptr_t)k;
    return (unsigned)((v ^ (v >> 5)) & (SL_KCACHE - 1));
}
/* sl_state.c */
extern __thread struct sl_tls sl__tls __attribute__((tls_model("initial-exec")));

/* ---- the clock --------------------------------------------------------------- */

/* The hot path's clock: the TSC (~12 ns here, invariant and synchronised
 * when the kernel itself uses it as clocksource), else CLOCK_REALTIME in ns.
 * The exporter turns ticks into Unix ns (sl__clock_to_ns). */
static inline uint64_t sl__ticks(void)
{
#if SL_HAVE_TSC
    if (__builtin_expect(sl__g.use_tsc, 1))
        return __rdtsc();
#endif
    return slc_now_ns();
}

/* Whether the TSC may be used here (x86, kernel clocksource "tsc"). */
int sl__tsc_usable(void);

/* Finds the executable's read-only address range for sl__is_literal(). */
void sl__find_literals(uintptr_t *lo, uintptr_t *len);

/* ---- sl_state.c ------------------------------------------------------------ */

/* Records the reason sl_init() or the exporter failed, for sl_stats_get(). */
void sl__set_last_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies the last error into st->last_error and last_error_msg, unless st
 * already holds one. */
void sl__last_error_get(sl_stats *st);
/* Forgets the last error (a fresh sl_init). */
void sl__last_error_clear(void);
/* Marks the calling thread (just registered, reg_mu held) so its buffer is
 * orphaned, for the next new thread to adopt, when the thread exits. */
void sl__tls_mark(void);
/* In a forked child: SDK off (running 0, a new generation), and the
 * state's locks usable again whatever the parent's threads held. */
void sl__state_atfork_child(void);
/* Fills n bytes from the OS random source (getrandom, with a time-based
 * fallback that is still unique per process). */
void sl__random_bytes(void *buf, size_t n);

/* ---- sl_tracer.c ----------------------------------------------------------- */

/* Frees a thread buffer, its segments and its slots (shutdown only). */
void sl__tbuf_free(struct sl_tbuf *tb);

/* Hands an emptied segment back to its thread (or frees it).  Exporter
 * only: it is the single pusher of every seg_returned stack. */
void sl__seg_retire(struct sl_tbuf *tb, struct sl_seg *s);

/* ---- sl_exporter.c --------------------------------------------------------- */

int sl__exp_start(char *err, size_t errlen);
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

/* ---- sl_transport.c -------------------------------------------------------- */

struct sl_transport;
/* Opens the req socket and starts dialing url in the background.  For
 * tls+tcp:// it applies sl__g's TLS settings (CA file, server name,
 * insecure: sl__g.cfg.tls_insecure).  SL_ECONFIG for a bad URL or TLS
 * setting (CA file unreadable), SL_ETRANSPORT, SL_ENOMEM; message in err. */
int sl__tp_open(struct sl_transport **out, const char *url, uint32_t timeout_ms, char *err,
                size_t errlen);
/* Sends one frame and waits for its ack.  SL_OK with *ack filled, or
 * SL_ETIMEDOUT / SL_ETRANSPORT / SL_ECLOSED / SL_EWIRE_* (bad ack), with a
 * message in err. */
int sl__tp_roundtrip(struct sl_transport *t, const uint8_t *frame, size_t len, void *ack,
                     char *err, size_t errlen);
/* Unblocks a roundtrip in progress; the transport can only be freed after. */
void sl__tp_abort(struct sl_transport *t);
/* After a send timed out with no connection up: makes one bounded
 * connection attempt of its own (plain stream, no SP socket) to learn why
 * - refused, unreachable, or for TLS the handshake's verdict (certificate
 * not trusted, name mismatch) - and writes that into err.  Blocks for at
 * most timeout_ms; sl__tp_abort() cuts it short.  Sender thread only. */
void sl__tp_diagnose(struct sl_transport *t, uint32_t timeout_ms, char *err, size_t errlen);
/* 1 if at least one connection to the collector is up now. */
int sl__tp_connected(struct sl_transport *t);
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

#endif /* SL_INTERNAL_H */
