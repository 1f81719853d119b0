/*
 * slc_wire.h - the Sightline wire format v1: the in-memory batch model and
 * the one codec that turns it into frames and back.  Linked by the SDK, the
 * collector, the query engine, the tests and the benchmarks; it exists once.
 *
 * The byte layout is specified in docs/wire-format.md.  In short: a 32-byte
 * fixed header (magic, version, flags, batch id, lengths, CRC-32) followed by
 * a payload that is optionally zlib-compressed.  The payload holds a string
 * table (every string of the batch stored once) followed by spans and log
 * records that refer to strings by index.
 *
 * Memory model: an slc_batch owns all its arrays and string bytes.  A decoded
 * batch's strings point into its own inflated copy of the payload, so the
 * input buffer may be freed right after slc_wire_decode() returns.
 */
#ifndef SLC_WIRE_H
#define SLC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sightline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLC_WIRE_MAGIC "SLW1"
#define SLC_WIRE_VERSION 1
#define SLC_WIRE_HEADER_LEN 32

/* Frame flags (header byte 5). */
#define SLC_WIRE_F_ZLIB 0x01u  /* payload is a zlib stream */
#define SLC_WIRE_F_TOKEN 0x02u /* an ingest token follows the header (bytes 6..7: its length) */
#define SLC_WIRE_F_KNOWN 0x03u
#define SLC_WIRE_TOKEN_MAX 255 /* longest ingest token a frame can carry */

/* Span kinds, as in OpenTelemetry. */
enum slc_kind {
    SLC_KIND_UNSPECIFIED = 0,
    SLC_KIND_INTERNAL = 1,
    SLC_KIND_SERVER = 2,
    SLC_KIND_CLIENT = 3,
    SLC_KIND_PRODUCER = 4,
    SLC_KIND_CONSUMER = 5
};

/* The lower-case name of a span kind ("server", ...; "unspecified" for
 * values outside the enum): the one table for the API, the trace view and
 * alert rules. */
const char *slc_kind_name(uint8_t kind);

/* Span status codes, as in OpenTelemetry. */
enum slc_status { SLC_STATUS_UNSET = 0, SLC_STATUS_OK = 1, SLC_STATUS_ERROR = 2 };

/* Attribute value types. */
enum slc_vtype { SLC_V_STR = 1, SLC_V_INT = 2, SLC_V_DBL = 3, SLC_V_BOOL = 4 };

/* Log severity numbers follow OpenTelemetry (1..24); these are the first
 * number of each range. */
enum slc_level {
    SLC_LVL_TRACE = 1,
    SLC_LVL_DEBUG = 5,
    SLC_LVL_INFO = 9,
    SLC_LVL_WARN = 13,
    SLC_LVL_ERROR = 17,
    SLC_LVL_FATAL = 21
};

/* A string of a batch: not NUL-terminated in decoded batches; use len. */
typedef struct slc_str {
    const char *ptr;
    uint32_t len;
} slc_str;

/* One attribute.  key and (for SLC_V_STR) v.str are string-table indices. */
typedef struct slc_attr {
    uint32_t key;
    uint8_t type; /* enum slc_vtype */
    union {
        uint32_t str;
        int64_t i;
        double d;
        uint8_t b;
    } v;
} slc_attr;

/* A span event; its attributes are attrs[attr_first .. attr_first+attr_count). */
typedef struct slc_event {
    uint64_t time_ns;
    uint32_t name;
    uint32_t attr_first, attr_count;
} slc_event;

/* A link to another span. */
typedef struct slc_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint32_t attr_first, attr_count;
} slc_link;

/* A finished span.  parent_id all zero means a root span. */
typedef struct slc_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    uint8_t kind;   /* enum slc_kind */
    uint8_t status; /* enum slc_status */
    uint32_t service;    /* string index: service.name */
    uint32_t name;       /* string index: operation name */
    uint32_t status_msg; /* string index; 0 (the empty string) = none */
    uint64_t start_ns;   /* Unix epoch nanoseconds */
    uint64_t end_ns;     /* >= start_ns */
    uint32_t attr_first, attr_count;
    uint32_t event_first, event_count;
    uint32_t link_first, link_count;
} slc_span;

#define SLC_LOG_F_TRACE 0x01u /* trace_id/span_id are set */

/* A structured log record. */
typedef struct slc_log {
    uint64_t time_ns;
    uint8_t level; /* 1..24, enum slc_level */
    uint8_t flags; /* SLC_LOG_F_* */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint32_t service; /* string index */
    uint32_t body;    /* string index */
    uint32_t attr_first, attr_count;
} slc_log;

/* A batch: what one frame carries.  String index 0 is always "". */
typedef struct slc_batch {
    uint64_t batch_id; /* chosen by the sender; unique per sender+batch */
    slc_str *strs;
    uint32_t nstrs;
    slc_span *spans;
    uint32_t nspans;
    slc_log *logs;
    uint32_t nlogs;
    slc_attr *attrs;
    uint32_t nattrs;
    slc_event *events;
    uint32_t nevents;
    slc_link *links;
    uint32_t nlinks;
    struct slc_batch_mem *mem; /* private: owned storage */
} slc_batch;

/* Limits the decoder enforces; every field is a maximum. */
typedef struct slc_wire_limits {
    uint32_t frame_bytes;   /* whole frame as received            */
    uint32_t payload_bytes; /* after inflating                    */
    uint32_t strings;       /* entries in the string table        */
    uint32_t string_bytes;  /* one string's length                */
    uint32_t spans;         /* spans per frame                    */
    uint32_t logs;          /* log records per frame              */
    uint32_t attrs_per_item;/* attributes of one span/event/log/link */
    uint32_t events_per_span;
    uint32_t links_per_span;
    /* Memory the decoded batch may take: the inflated payload copy plus
     * every array the decoder fills (strings, spans, logs, attributes,
     * events, links), counted as items are announced, before they are
     * allocated.  Arrays grow by doubling, so the heap used is at most
     * twice this.  Bounds what a small zlib frame full of tiny items can
     * make the receiver allocate. */
    uint32_t decoded_bytes;
} slc_wire_limits;

/* Fills *l with the defaults documented in docs/wire-format.md. */
void slc_wire_limits_default(slc_wire_limits *l);

/* ---- Building batches ---------------------------------------------------- */

/* Returns a new empty batch (string 0 = "" already present), or NULL when
 * out of memory.  The caller owns it; free with slc_batch_free(). */
slc_batch *slc_batch_new(void);

/* Frees a batch and everything it owns.  NULL is a no-op. */
void slc_batch_free(slc_batch *b);

/* Empties a built batch for reuse, keeping its allocations. */
void slc_batch_reset(slc_batch *b);

/* Interns a string (copied; need not be NUL-terminated) and stores its index
 * in *idx.  Equal strings get the same index.  SL_ENOMEM on failure. */
int slc_batch_intern(slc_batch *b, const char *s, size_t len, uint32_t *idx);

/* Appends an attribute, event, link, span or log record (copied) and stores
 * its array index in *idx (may be NULL).  Items refer to attributes by
 * [first, first+count) ranges, so append an item's attributes first, then the
 * item with attr_first = index of its first attribute.  SL_ENOMEM on failure. */
int slc_batch_add_attr(slc_batch *b, const slc_attr *a, uint32_t *idx);
int slc_batch_add_event(slc_batch *b, const slc_event *e, uint32_t *idx);
int slc_batch_add_link(slc_batch *b, const slc_link *l, uint32_t *idx);
int slc_batch_add_span(slc_batch *b, const slc_span *s, uint32_t *idx);
int slc_batch_add_log(slc_batch *b, const slc_log *l, uint32_t *idx);

/* Copies src->spans[i] (or src->logs[i]) with its attributes, events and
 * links into dst, re-interning every string it refers to.  Used to gather
 * the items of one trace out of stored frames.  SL_EINVAL if i is out of
 * range, SL_ENOMEM on failure (dst is then unchanged in count). */
int slc_batch_copy_span(slc_batch *dst, const slc_batch *src, uint32_t i);
int slc_batch_copy_log(slc_batch *dst, const slc_batch *src, uint32_t i);

/* Bytes the encoded (uncompressed) payload of b would take at most; used by
 * senders to cut batches at a size. */
size_t slc_batch_size_hint(const slc_batch *b);

/* ---- Encoding and decoding ------------------------------------------------ */

/* Encodes b into a frame.  zlib_level: 0 = no compression, 1..9 = zlib level.
 * On success *out is a malloc'd buffer of *outlen bytes owned by the caller
 * (free()).  Fails with SL_EINVAL if b refers to out-of-range indices, or
 * SL_ENOMEM. */
int slc_wire_encode(const slc_batch *b, int zlib_level, uint8_t **out, size_t *outlen);

/* As slc_wire_encode, and carries an ingest token: with token != NULL and
 * toklen 1..SLC_WIRE_TOKEN_MAX, the frame gets flag SLC_WIRE_F_TOKEN, header
 * bytes 6..7 = toklen (LE u16) and the toklen token bytes right after the
 * 32-byte header (docs/wire-format.md).  token NULL (toklen ignored) is
 * slc_wire_encode.  The token is copied, not kept; it may be any bytes
 * (collectors accept visible ASCII only).  SL_EINVAL for toklen 0 or > 255
 * with a token, else as slc_wire_encode. */
int slc_wire_encode_token(const slc_batch *b, int zlib_level, const char *token, size_t toklen,
                          uint8_t **out, size_t *outlen);

/* Decodes one frame.  Pure: reads only buf[0..len), checks every length
 * before reading, validates UTF-8, string references, value ranges and the
 * limits in *lim (NULL = defaults).  On success *out is a new batch owned by
 * the caller (slc_batch_free()).  On failure returns a specific SL_EWIRE_*
 * code (or SL_ENOMEM) and, if errmsg is not NULL, writes a NUL-terminated
 * explanation of up to errlen bytes naming the field. */
int slc_wire_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim,
                    slc_batch **out, char *errmsg, size_t errlen);

/* Reads only the fixed header: batch id and total frame length.  Used to
 * deduplicate before paying for a full decode.  Returns 0 or SL_EWIRE_*. */
int slc_wire_peek(const uint8_t *buf, size_t len, uint64_t *batch_id, size_t *frame_len);

/* Reads the ingest token of a frame: checks the header as slc_wire_peek
 * does and that the token bytes are present, then sets *tok to point INTO
 * buf (borrowed: valid while buf is) and *toklen to its length; a frame
 * without a token gives *tok = NULL, *toklen = 0.  Returns 0 or
 * SL_EWIRE_*. */
int slc_wire_peek_token(const uint8_t *buf, size_t len, const uint8_t **tok, size_t *toklen);

/* Reads the inflated payload length the header announces (bytes 20..23)
 * after the checks of slc_wire_peek; receivers size their memory estimate
 * from it before decoding.  Returns 0 or SL_EWIRE_*. */
int slc_wire_peek_raw_len(const uint8_t *buf, size_t len, uint32_t *raw_len);

/* Copies a frame without its ingest token: flag and length cleared, header
 * checksum recomputed, token bytes dropped; the result is the frame the
 * sender would have produced without a token (same bytes), so it is what a
 * receiver stores and deduplicates on.  A frame without a token is copied
 * as is.  On success *out is malloc'd (caller frees) of *outlen bytes.
 * Returns 0, SL_EWIRE_* (header checks as slc_wire_peek, and the whole
 * frame must be present) or SL_ENOMEM. */
int slc_wire_strip_token(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen);

/* ---- Acknowledgements ----------------------------------------------------- */

/* Ack status sent by the collector for each frame (docs/wire-format.md). */
enum slc_ack_status {
    SLC_ACK_STORED = 0,    /* written and committed to the WAL          */
    SLC_ACK_DUPLICATE = 1, /* already stored earlier; nothing written  */
    SLC_ACK_REJECTED = 2,  /* malformed or over limits; do not retry   */
    SLC_ACK_RETRY = 3,     /* overloaded or storage trouble; retry later */
    SLC_ACK_UNAUTHORIZED = 4 /* token missing or wrong; do not retry   */
};

#define SLC_ACK_MAGIC "SLA1"
#define SLC_ACK_MAX_REASON 240

/* An acknowledgement. reason is NUL-terminated. */
typedef struct slc_ack {
    uint8_t status;   /* enum slc_ack_status */
    int32_t err;      /* the sl_err behind a rejection, else 0 */
    uint64_t batch_id;
    uint32_t spans;   /* spans accepted */
    uint32_t logs;    /* logs accepted */
    char reason[SLC_ACK_MAX_REASON + 1];
} slc_ack;

/* Encodes an ack into buf (at least SLC_ACK_MAX_LEN bytes); returns the length. */
#define SLC_ACK_MAX_LEN (4 + 1 + 4 + 8 + 4 + 4 + 1 + SLC_ACK_MAX_REASON)
size_t slc_ack_encode(const slc_ack *a, uint8_t *buf);

/* Decodes an ack; returns 0 or SL_EWIRE_*. */
int slc_ack_decode(const uint8_t *buf, size_t len, slc_ack *a);

#ifdef __cplusplus
}
#endif

#endif /* SLC_WIRE_H */
