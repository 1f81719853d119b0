/*
 * sightline.h - the one public header of libsightline, the Sightline C SDK.
 *
 * Everything a user may call is declared here; anything not in this file is
 * unsupported and may change.  Conventions used by every function below:
 *
 *  - Errors: functions return sl_err; 0 (SL_OK) is success, every failure is
 *    a negative code with a message from sl_strerror().  Out-parameters are
 *    written only on success.
 *  - Ownership: stated in each function's comment.  Setters copy what they
 *    are given.  Freeing NULL is a no-op.
 *  - Thread safety: stated in each function's comment.
 */
#ifndef SIGHTLINE_H
#define SIGHTLINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_VERSION_MAJOR 0
#define SL_VERSION_MINOR 1
#define SL_VERSION_PATCH 0

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* One error type for the SDK, the collector and the tools.  The wire codes
 * (SL_EWIRE_*) are also what a collector sends back when it rejects a batch,
 * so an SDK user can see why its data was refused. */
typedef enum sl_err {
    SL_OK = 0,
    SL_ENOMEM = -1,          /* out of memory, or a memory budget is full   */
    SL_EINVAL = -2,          /* an argument is invalid                      */
    SL_ESTATE = -3,          /* call not allowed in the current state       */
    SL_ETIMEDOUT = -4,       /* the operation did not finish in time        */
    SL_ECLOSED = -5,         /* the object was shut down                    */
    SL_EIO = -6,             /* an I/O or system call failed (see errno)    */
    SL_ETRANSPORT = -7,      /* the nng transport failed                    */
    SL_ESTORE = -8,          /* the storage engine failed                   */
    SL_ENOTFOUND = -9,       /* no such item                                */
    SL_EBUSY = -10,          /* overloaded: retry later                     */
    SL_EAUTH = -11,          /* missing or wrong token                      */
    SL_ECONFIG = -12,        /* bad configuration key or value              */
    SL_EPARSE = -13,         /* text could not be parsed                    */
    SL_ETOOBIG = -14,        /* a value exceeds a configured limit          */

    /* Wire format decoding (docs/wire-format.md). */
    SL_EWIRE_TRUNCATED = -100, /* input ends before a field it announces   */
    SL_EWIRE_MAGIC = -101,     /* not a Sightline frame                     */
    SL_EWIRE_VERSION = -102,   /* unsupported frame version                 */
    SL_EWIRE_FLAGS = -103,     /* unknown flag bits set                     */
    SL_EWIRE_CHECKSUM = -104,  /* CRC-32 of the payload does not match      */
    SL_EWIRE_INFLATE = -105,   /* zlib data is corrupt or has wrong length  */
    SL_EWIRE_LIMIT = -106,     /* a count or length exceeds a limit         */
    SL_EWIRE_UTF8 = -107,      /* a string is not valid UTF-8               */
    SL_EWIRE_REF = -108,       /* a string-table index is out of range      */
    SL_EWIRE_VALUE = -109,     /* a field holds an invalid value            */
    SL_EWIRE_TRAILING = -110,  /* bytes left over after the last field      */
    SL_EWIRE_VARINT = -111     /* a varint is longer than 10 bytes          */
} sl_err;

/* Returns a static, human-readable description of an error code (never
 * NULL; unknown codes give "unknown error").  Thread-safe. */
const char *sl_strerror(int err);

/* ========================================================================
 * SDK API: setup, spans, logs, propagation, exporter.
 *
 * Quick start (see docs/sdk.md):
 *
 *     sl_init(NULL);                        // defaults + SIGHTLINE_* env vars
 *     sl_span *s = sl_span_start("GET /cart", SL_KIND_SERVER);
 *     sl_span *prev = sl_scope_enter(s);    // s is now the thread's current span
 *     sl_span_set_str(s, "http.route", "/cart");
 *     sl_log(SL_LEVEL_INFO, "cart has %d items", n);   // carries s's ids
 *     sl_scope_exit(prev);
 *     sl_span_end(s);
 *     sl_shutdown(2000);                    // flush for up to 2 s
 *
 * The SDK is one process-wide instance.  Every call is safe from any thread
 * unless stated otherwise, and none of the span or log calls ever blocks,
 * performs I/O or fails loudly: when the SDK is not initialised, or its
 * memory budget is full, they do nothing and count what they dropped.
 * ======================================================================== */

/* Span kinds (OpenTelemetry values; also the wire values). */
typedef enum sl_kind {
    SL_KIND_UNSPECIFIED = 0,
    SL_KIND_INTERNAL = 1,
    SL_KIND_SERVER = 2,
    SL_KIND_CLIENT = 3,
    SL_KIND_PRODUCER = 4,
    SL_KIND_CONSUMER = 5
} sl_kind;

/* Span status (OpenTelemetry values). */
typedef enum sl_status { SL_STATUS_UNSET = 0, SL_STATUS_OK = 1, SL_STATUS_ERROR = 2 } sl_status;

/* Log levels: OpenTelemetry severity numbers (the first of each range). */
typedef enum sl_level {
    SL_LEVEL_TRACE = 1,
    SL_LEVEL_DEBUG = 5,
    SL_LEVEL_INFO = 9,
    SL_LEVEL_WARN = 13,
    SL_LEVEL_ERROR = 17,
    SL_LEVEL_FATAL = 21
} sl_level;

/* Head samplers for root spans (and for every span when parent_based = 0). */
typedef enum sl_sampler {
    SL_SAMPLER_ALWAYS = 0, /* record every trace                          */
    SL_SAMPLER_NEVER = 1,  /* record nothing (context still propagates)   */
    SL_SAMPLER_RATIO = 2   /* record a fraction, decided by the trace id,
                            * so every service makes the same decision    */
} sl_sampler;

/* Attribute value types. */
typedef enum sl_attr_type {
    SL_ATTR_STR = 1,
    SL_ATTR_INT = 2,
    SL_ATTR_DOUBLE = 3,
    SL_ATTR_BOOL = 4
} sl_attr_type;

/* A typed attribute given by the caller.  The SDK copies key and string
 * values; the caller keeps ownership of its array. */
typedef struct sl_attr {
    const char *key;
    int type; /* sl_attr_type */
    union {
        const char *s;
        int64_t i;
        double d;
        int b;
    } v;
} sl_attr;

#define SL_ATTR_S(k, x) ((sl_attr){.key = (k), .type = SL_ATTR_STR, .v.s = (x)})
#define SL_ATTR_I(k, x) ((sl_attr){.key = (k), .type = SL_ATTR_INT, .v.i = (int64_t)(x)})
#define SL_ATTR_D(k, x) ((sl_attr){.key = (k), .type = SL_ATTR_DOUBLE, .v.d = (double)(x)})
#define SL_ATTR_B(k, x) ((sl_attr){.key = (k), .type = SL_ATTR_BOOL, .v.b = !!(x)})

/* ------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------ */

/* Configuration.  Fill with sl_config_default(), change fields, optionally
 * overlay the environment with sl_config_from_env(), then sl_init().
 * Strings are borrowed only until sl_init() returns (it copies them). */
typedef struct sl_config {
    const char *endpoint;        /* collector nng URL: tcp://host:port, tls+tcp://host:port
                                  * (TLS, see tls_* below) or ipc:///path;
                                  * default tcp://127.0.0.1:4318 ($SIGHTLINE_ENDPOINT) */
    const char *service_name;    /* service.name; default "unknown_service"
                                  * ($SIGHTLINE_SERVICE_NAME) */
    const char *service_version; /* service.version or NULL ($SIGHTLINE_SERVICE_VERSION) */
    const char *environment;     /* deployment.environment.name or NULL
                                  * ($SIGHTLINE_ENVIRONMENT) */
    const char *host_name;       /* host.name; NULL = gethostname() */
    const char *token;           /* ingest token or NULL ($SIGHTLINE_TOKEN): sent in
                                  * every frame, checked by a collector started with
                                  * --ingest-token; 1..255 visible ASCII characters
                                  * (0x21..0x7e).  Use tls+tcp:// off the host: it
                                  * travels in clear text over tcp:// */
    const sl_attr *resource;     /* extra resource attributes (copied), or NULL;
                                  * non-empty keys */
    size_t nresource;            /* at most 125: a local root span carries its own
                                  * (<= 128) and every resource attribute, and the
                                  * collector takes 256 per item */

    int sampler;           /* sl_sampler; default SL_SAMPLER_ALWAYS, or RATIO when
                            * $SIGHTLINE_SAMPLE_RATIO is set (or $SIGHTLINE_SAMPLER
                            * = always|never|ratio) */
    double sample_ratio;   /* 0..1 for SL_SAMPLER_RATIO; default 1 */
    int parent_based;      /* 1 (default): a span with a parent follows the
                            * parent's sampled flag; 0: apply the sampler to all */
    int min_level;         /* sl_level; logs below it cost one compare;
                            * default SL_LEVEL_INFO ($SIGHTLINE_LOG_LEVEL) */

    uint32_t batch_bytes;     /* cut a frame at about this many raw bytes; 1 MiB
                               * (the collector's cost is mostly per frame)
                               * ($SIGHTLINE_BATCH_BYTES) */
    uint32_t batch_delay_ms;  /* ...or when its oldest item is this old; 200
                               * ($SIGHTLINE_BATCH_DELAY_MS) */
    size_t memory_budget;     /* bytes for queued items and unacked frames; 32 MiB
                               * ($SIGHTLINE_MEMORY_BUDGET) */
    uint32_t thread_queue;    /* items per thread awaiting the exporter, counted at
                               * 128 bytes each (64 KiB segments); 16384 */
    uint32_t ack_timeout_ms;  /* wait this long for an ack before retrying; 5000 */
    uint32_t retry_min_ms;    /* first retry backoff; 100 */
    uint32_t retry_max_ms;    /* backoff cap; 5000 */
    uint32_t breaker_failures;/* consecutive failures that open the breaker; 5 */
    uint32_t breaker_open_ms; /* how long the breaker stays open; 10000 */
    uint32_t max_attr_value;  /* longer string values are truncated; 4096;
                               * clamped to 65536, the collector's string limit */
    uint32_t max_item_bytes;  /* attributes+events of one span or log; 32768;
                               * clamped to 131072 */
    int compression;          /* frames: 0 = auto (default): no compression for ipc://
                               * and loopback tcp, where bandwidth is free and zlib
                               * costs the host most of the exporter's CPU; zlib
                               * level 1 for any other host.  -1 = never, 1..9 =
                               * always at that zlib level
                               * ($SIGHTLINE_COMPRESSION = auto|none|1..9) */
    uint32_t stats_interval_ms; /* send the SDK's counters to the collector as a
                               * "sightline.sdk.stats" log record this often and at
                               * shutdown (docs/sdk.md); 0 = default 10000,
                               * UINT32_MAX = never */

    /* TLS, for tls+tcp:// endpoints only (setting any of them with another
     * scheme is SL_ECONFIG: it would not protect anything). */
    const char *tls_ca;          /* PEM file of the CA(s) that signed the collector's
                                  * certificate; NULL = the system bundle
                                  * /etc/ssl/certs/ca-certificates.crt ($SIGHTLINE_TLS_CA) */
    const char *tls_server_name; /* name the certificate must carry; NULL = the
                                  * endpoint's host ($SIGHTLINE_TLS_SERVER_NAME) */
    int tls_insecure;            /* 1: do not verify the certificate at all (tests
                                  * only; sl_init prints a warning once)
                                  * ($SIGHTLINE_TLS_INSECURE=1) */
} sl_config;

/* Fills *c with the defaults above (no environment).  Never fails. */
void sl_config_default(sl_config *c);

/* Overlays the SIGHTLINE_* environment variables onto *c.  String fields
 * then point into the environment (valid until it changes).  Returns
 * SL_ECONFIG for a malformed value, with an explanation in errbuf (if not
 * NULL); *c is then partly updated.  Not thread-safe with setenv(). */
int sl_config_from_env(sl_config *c, char *errbuf, size_t errlen);

/* Starts the SDK: copies the configuration, starts the exporter threads and
 * dials the collector without waiting (a collector that is down never delays
 * start-up).  cfg NULL means sl_config_default() + sl_config_from_env().
 * Errors: SL_ESTATE (already running, or called in a forked child),
 * SL_ECONFIG (bad value or endpoint URL), SL_ENOMEM, SL_EIO (threads).
 * Call once, before other threads use the SDK. */
int sl_init(const sl_config *cfg);

/* 1 if sl_init() succeeded and sl_shutdown() has not been called. */
int sl_is_running(void);

/* Exports every item ended before the call and waits up to timeout_ms for
 * the collector to acknowledge (or reject) it.  SL_OK when all of it is
 * resolved, SL_ETIMEDOUT otherwise (the data stays queued and keeps being
 * retried), SL_ESTATE if the SDK is not running.  Do not call from a
 * thread that holds locks your other threads need: it blocks. */
int sl_flush(uint32_t timeout_ms);

/* Flushes for up to timeout_ms, stops the exporter and frees the SDK's
 * memory.  Items still unacknowledged at the deadline are dropped and counted
 * (SL_DROP_SHUTDOWN; see sl_stats_get(), still readable afterwards).
 * Returns SL_OK if everything was delivered, SL_ETIMEDOUT if something was
 * dropped, SL_ESTATE if not running.  Other threads must have stopped
 * calling the SDK; spans still open may be ended afterwards (a no-op).
 * sl_init() may be called again after it. */
int sl_shutdown(uint32_t timeout_ms);

/* ------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------ */

/* A span handle.  Valid from sl_span_start*() until sl_span_end(); the SDK
 * owns it.  Never NULL: when nothing can be recorded, a shared inert span is
 * returned, on which every call is a cheap no-op. */
typedef struct sl_span sl_span;

#define SL_TRACESTATE_MAX 512

/* A span context: what crosses process boundaries (W3C Trace Context). */
typedef struct sl_context {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;  /* W3C trace-flags; bit 0 = sampled */
    uint8_t remote; /* 1 if it came from sl_extract() */
    uint16_t tracestate_len;
    char tracestate[SL_TRACESTATE_MAX + 1]; /* normalised, NUL-terminated */
} sl_context;

#define SL_FLAG_SAMPLED 0x01u

/* Starts a span whose parent is the calling thread's current span (a root
 * span when there is none).  name is copied; NULL or "" is sent as
 * "unnamed" (the collector rejects empty names).  Thread-safe, lock-free. */
sl_span *sl_span_start(const char *name, sl_kind kind);

/* Starts a span with an explicit local parent; parent NULL starts a new
 * trace.  The parent may be ended later or on another thread. */
sl_span *sl_span_start_child(const char *name, sl_kind kind, const sl_span *parent);

/* Starts a span whose parent came from another process (sl_extract());
 * parent NULL or invalid starts a new trace.  The span inherits the
 * parent's tracestate. */
sl_span *sl_span_start_remote(const char *name, sl_kind kind, const sl_context *parent);

/* Ends a span now (or at end_ns, Unix epoch ns) and hands it to the exporter.
 * The handle is invalid afterwards; ending twice is undefined, like free().
 * If the span is the thread's current span, the current span reverts to the
 * one before it.  May be called from any thread. */
void sl_span_end(sl_span *s);
void sl_span_end_at(sl_span *s, uint64_t end_ns);

/* 1 if the span records data (sampled and the SDK running). */
int sl_span_is_recording(const sl_span *s);

/* Typed attributes; a later value for the same key is kept as well (the
 * collector keeps the last).  key and string values are copied; strings
 * longer than max_attr_value are truncated.  SL_OK, SL_EINVAL (NULL or
 * empty key, key over 255 bytes), SL_ETOOBIG (max_item_bytes reached;
 * counted in attrs_dropped), or SL_OK doing nothing on a span that does not
 * record.  Only the thread that owns the span may call them at a time. */
int sl_span_set_str(sl_span *s, const char *key, const char *val);
int sl_span_set_int(sl_span *s, const char *key, int64_t val);
/* NaN and infinities are sent as the strings "NaN", "Infinity", "-Infinity"
 * (the wire format carries only finite doubles). */
int sl_span_set_double(sl_span *s, const char *key, double val);
int sl_span_set_bool(sl_span *s, const char *key, int val);
int sl_span_set_attrs(sl_span *s, const sl_attr *attrs, size_t n);

/* Renames the span (e.g. once the route is known).  name is copied. */
int sl_span_set_name(sl_span *s, const char *name);

/* Adds a timestamped event with attributes (attrs may be NULL if n is 0). */
int sl_span_add_event(sl_span *s, const char *name, const sl_attr *attrs, size_t n);

/* Links the span to another span context (e.g. the messages of a batch). */
int sl_span_add_link(sl_span *s, const sl_context *ctx, const sl_attr *attrs, size_t n);

/* Sets the status; msg (copied, may be NULL) is kept only for errors, as in
 * OpenTelemetry.  SL_STATUS_OK overrides an earlier error; UNSET after OK or
 * ERROR is ignored. */
int sl_span_set_status(sl_span *s, sl_status status, const char *msg);

/* Records an error: an "exception" event carrying exception.type and
 * exception.message, and status ERROR with msg.  type may be NULL. */
int sl_span_record_error(sl_span *s, const char *type, const char *msg);

/* The same from an errno value (exception.type "errno", message from
 * strerror_r, plus the attribute error.code). */
int sl_span_record_errno(sl_span *s, int errnum);

/* Copies the span's context into *out.  SL_EINVAL for the inert span. */
int sl_span_context(const sl_span *s, sl_context *out);

/* ---- The thread's current span (scopes) ---- */

/* The calling thread's current span, or NULL. */
sl_span *sl_span_current(void);

/* Makes s the calling thread's current span and returns the previous one
 * (possibly NULL), to be given to sl_scope_exit() on the same thread. */
sl_span *sl_scope_enter(sl_span *s);

/* Restores the current span returned by the matching sl_scope_enter(). */
void sl_scope_exit(sl_span *prev);

/* ------------------------------------------------------------------------
 * Logs
 * ------------------------------------------------------------------------ */

/* Records a log line: printf-style body (truncated at max_item_bytes), the
 * service, the time, and the trace/span ids of the thread's current span.
 * Lines below min_level return SL_OK at the cost of one compare.  Returns
 * SL_OK, SL_ENOMEM when dropped (counted), SL_ESTATE when not running. */
int sl_log(sl_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same with typed attributes (copied). */
int sl_log_attrs(sl_level level, const sl_attr *attrs, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 if a log line at this level would be recorded. */
int sl_log_enabled(sl_level level);

/* ------------------------------------------------------------------------
 * Propagation: W3C Trace Context (traceparent, tracestate)
 * ------------------------------------------------------------------------ */

/* Header carrier callbacks.  get returns the value of a header (lower-case
 * name given; the carrier matches case-insensitively and joins repeated
 * headers with ","), or NULL.  set stores a header; value is only valid
 * during the call. */
typedef const char *(*sl_carrier_get)(void *carrier, const char *key);
typedef void (*sl_carrier_set)(void *carrier, const char *key, const char *value);

/* Writes traceparent (and tracestate when not empty) for span s.  Unsampled
 * spans propagate too (flags 00).  SL_EINVAL for the inert span. */
int sl_inject(const sl_span *s, void *carrier, sl_carrier_set set);

/* The same for a context. */
int sl_inject_context(const sl_context *ctx, void *carrier, sl_carrier_set set);

/* Reads traceparent and tracestate.  SL_OK and *out set (remote = 1) when
 * traceparent is valid; an invalid tracestate is ignored (empty).
 * SL_ENOTFOUND when there is no traceparent, SL_EPARSE when it is invalid. */
int sl_extract(void *carrier, sl_carrier_get get, sl_context *out);

/* Parses one traceparent value exactly as the W3C specification says:
 * version 00 is exactly 55 characters; higher versions may carry more
 * fields after a '-'; version ff, upper-case hex, all-zero trace or parent
 * ids and wrong lengths are rejected.  Surrounding spaces/tabs are ignored.
 * SL_OK (tracestate of *out emptied) or SL_EPARSE. */
int sl_traceparent_parse(const char *value, sl_context *out);

/* Writes "00-<trace>-<span>-<flags>" and a NUL into buf (at least 56
 * bytes).  SL_EINVAL if the context is invalid or buf too small. */
int sl_traceparent_format(const sl_context *ctx, char *buf, size_t len);

/* Validates a tracestate value (list-members "key=value", at most 32,
 * keys unique, W3C key/value grammar) and writes its normalised form
 * (members trimmed, empty members removed, joined by ",") into out.
 * Members are dropped from the end until it fits outlen (at most
 * SL_TRACESTATE_MAX+1).  SL_OK or SL_EPARSE (out then empty). */
int sl_tracestate_parse(const char *value, char *out, size_t outlen);

/* Lower-case hex of the trace id (33 bytes) and span id (17 bytes). */
void sl_context_trace_hex(const sl_context *ctx, char out[33]);
void sl_context_span_hex(const sl_context *ctx, char out[17]);

/* 1 if the trace id and span id are both non-zero. */
int sl_context_is_valid(const sl_context *ctx);

/* ------------------------------------------------------------------------
 * Self-observation
 * ------------------------------------------------------------------------ */

/* Why items were dropped. */
typedef enum sl_drop_reason {
    SL_DROP_BUDGET = 0,    /* memory budget full                        */
    SL_DROP_QUEUE = 1,     /* the thread's queue was full               */
    SL_DROP_REJECTED = 2,  /* the collector rejected the frame          */
    SL_DROP_UNAUTHORIZED = 3, /* the collector refused the token        */
    SL_DROP_SHUTDOWN = 4,  /* unacknowledged when sl_shutdown timed out */
    SL_DROP_ENCODE = 5,    /* could not be encoded (memory)             */
    SL_DROP__COUNT = 6
} sl_drop_reason;

typedef struct sl_stats {
    uint64_t spans_created;   /* sampled spans ended                      */
    uint64_t spans_unsampled; /* spans started but not sampled            */
    uint64_t spans_exported;  /* acknowledged by the collector            */
    uint64_t spans_dropped;   /* sum of spans_dropped_by[]                */
    uint64_t spans_dropped_by[SL_DROP__COUNT];
    uint64_t logs_created;
    uint64_t logs_exported;
    uint64_t logs_dropped;
    uint64_t logs_dropped_by[SL_DROP__COUNT];
    uint64_t attrs_dropped;   /* attributes/events over max_item_bytes    */
    uint64_t frames_sent;     /* send attempts, retries included          */
    uint64_t frames_acked;    /* STORED or DUPLICATE                      */
    uint64_t frames_retried;  /* attempts that must be repeated           */
    uint64_t bytes_sent;
    uint64_t frames_queued;   /* frames waiting for an ack now            */
    uint64_t memory_used;     /* bytes held now (items + frames)          */
    uint64_t memory_budget;
    int breaker_open;         /* 1 while the circuit breaker is open      */
    int last_error;           /* sl_err of the last export failure, or 0  */
    char last_error_msg[256]; /* its explanation, NUL-terminated          */
} sl_stats;

/* Copies the counters into *out.  Works before sl_init() (all zero) and
 * after sl_shutdown() (final values).  Thread-safe. */
int sl_stats_get(sl_stats *out);


#ifdef __cplusplus
}
#endif

#endif /* SIGHTLINE_H */
