/*
 * slc_wire.c - the wire format v1 codec (docs/wire-format.md).
 *
 * The decoder is written as a cursor over a byte range that checks the
 * remaining length before every read and records the first error with a
 * message naming the field; every count read from input is checked against
 * a limit and against the bytes left (each item takes at least a known
 * number of bytes), and every array the decoder fills is charged against
 * limits.decoded_bytes before it grows, so a hostile count can neither loop
 * long (every item consumes input bytes, and the inflated payload is
 * bounded) nor make us allocate much (a 3-byte event is a 24-byte
 * slc_event: without the charge, a 100 KB zlib frame could ask for GBs).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "slc_batch_int.h"
#include "slc_bytes.h"
#include "slc_util.h"

/* Smallest encoded sizes, used to bound counts by the bytes left. */
#define MIN_STR 1   /* varint length 0 */
#define MIN_ATTR 3  /* key, type, 1-byte value */
#define MIN_SPAN 49 /* ids 32 + kind/status 2 + 3 refs + start 8 + dur 1 + 3 counts */
#define MIN_LOG 13  /* time 8 + level/flags 2 + service, body, attribute count */
#define MIN_EVENT 3
#define MIN_LINK 25

void slc_wire_limits_default(slc_wire_limits *l)
{
    l->frame_bytes = 16u << 20;
    l->payload_bytes = 32u << 20;
    l->strings = 1u << 20;
    l->string_bytes = 64u << 10;
    l->spans = 200000;
    l->logs = 200000;
    l->attrs_per_item = 256;
    l->events_per_span = 1024;
    l->links_per_span = 128;
    l->decoded_bytes = 256u << 20;
}

const char *slc_kind_name(uint8_t kind)
{
    static const char *const names[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unspecified";
}

/* ---- encoder ---------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wbuf;

static void wb_reserve(wbuf *w, size_t n)
{
    if (w->oom || w->cap - w->len >= n)
        return;
    size_t ncap = w->cap ? w->cap * 2 : 4096;
    while (ncap - w->len < n)
        ncap *= 2;
    uint8_t *np = realloc(w->p, ncap);
    if (!np) {
        w->oom = 1;
        return;
    }
    w->p = np;
    w->cap = ncap;
}

static void wb_bytes(wbuf *w, const void *src, size_t n)
{
    wb_reserve(w, n);
    if (w->oom)
        return;
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void wb_u8(wbuf *w, uint8_t v)
{
    wb_bytes(w, &v, 1);
}

static void wb_u64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    slc_put_le64(b, v);
    wb_bytes(w, b, 8);
}

static void wb_varint(wbuf *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    wb_bytes(w, b, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int enc_attrs(wbuf *w, const slc_batch *b, uint32_t first, uint32_t count)
{
    if ((uint64_t)first + count > b->nattrs)
        return SL_EINVAL;
    wb_varint(w, count);
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &b->attrs[first + i];
        if (a->key >= b->nstrs)
            return SL_EINVAL;
        wb_varint(w, a->key);
        wb_u8(w, a->type);
        switch (a->type) {
        case SLC_V_STR:
            if (a->v.str >= b->nstrs)
                return SL_EINVAL;
            wb_varint(w, a->v.str);
            break;
        case SLC_V_INT: wb_varint(w, zigzag(a->v.i)); break;
        case SLC_V_DBL: {
            uint64_t bits;
            memcpy(&bits, &a->v.d, 8);
            wb_u64(w, bits);
            break;
        }
        case SLC_V_BOOL: wb_u8(w, a->v.b ? 1 : 0); break;
        default: return SL_EINVAL;
        }
    }
    return SL_OK;
}

static int enc_ref(wbuf *w, const slc_batch *b, uint32_t ref)
{
    if (ref >= b->nstrs)
        return SL_EINVAL;
    wb_varint(w, ref);
    return SL_OK;
}

static int enc_payload(wbuf *w, const slc_batch *b)
{
    int rc;
    if (b->nstrs == 0 || b->strs[0].len != 0)
        return SL_EINVAL;
    wb_varint(w, b->nstrs);
    for (uint32_t i = 0; i < b->nstrs; i++) {
        wb_varint(w, b->strs[i].len);
        wb_bytes(w, b->strs[i].ptr, b->strs[i].len);
    }
    wb_varint(w, b->nspans);
    wb_varint(w, b->nlogs);
    for (uint32_t i = 0; i < b->nspans; i++) {
        const slc_span *s = &b->spans[i];
        if (s->end_ns < s->start_ns)
            return SL_EINVAL;
        wb_bytes(w, s->trace_id, 16);
        wb_bytes(w, s->span_id, 8);
        wb_bytes(w, s->parent_id, 8);
        wb_u8(w, s->kind);
        wb_u8(w, s->status);
        if ((rc = enc_ref(w, b, s->service)) || (rc = enc_ref(w, b, s->name)) ||
            (rc = enc_ref(w, b, s->status_msg)))
            return rc;
        wb_u64(w, s->start_ns);
        wb_varint(w, s->end_ns - s->start_ns);
        if ((rc = enc_attrs(w, b, s->attr_first, s->attr_count)))
            return rc;
        if ((uint64_t)s->event_first + s->event_count > b->nevents ||
            (uint64_t)s->link_first + s->link_count > b->nlinks)
            return SL_EINVAL;
        wb_varint(w, s->event_count);
        for (uint32_t k = 0; k < s->event_count; k++) {
            const slc_event *e = &b->events[s->event_first + k];
            wb_varint(w, zigzag((int64_t)(e->time_ns - s->start_ns)));
            if ((rc = enc_ref(w, b, e->name)) ||
                (rc = enc_attrs(w, b, e->attr_first, e->attr_count)))
                return rc;
        }
        wb_varint(w, s->link_count);
        for (uint32_t k = 0; k < s->link_count; k++) {
            const slc_link *l = &b->links[s->link_first + k];
            wb_bytes(w, l->trace_id, 16);
            wb_bytes(w, l->span_id, 8);
            if ((rc = enc_attrs(w, b, l->attr_first, l->attr_count)))
                return rc;
        }
    }
    for (uint32_t i = 0; i < b->nlogs; i++) {
        const slc_log *l = &b->logs[i];
        wb_u64(w, l->time_ns);
        wb_u8(w, l->level);
        wb_u8(w, l->flags);
        if (l->flags & SLC_LOG_F_TRACE) {
            wb_bytes(w, l->trace_id, 16);
            wb_bytes(w, l->span_id, 8);
        }
        if ((rc = enc_ref(w, b, l->service)) || (rc = enc_ref(w, b, l->body)) ||
            (rc = enc_attrs(w, b, l->attr_first, l->attr_count)))
            return rc;
    }
    return w->oom ? SL_ENOMEM : SL_OK;
}

static void write_header(uint8_t *h, uint8_t flags, uint64_t batch_id, uint32_t payload_len,
                         uint32_t raw_len, uint32_t crc)
{
    memcpy(h, SLC_WIRE_MAGIC, 4);
    h[4] = SLC_WIRE_VERSION;
    h[5] = flags;
    h[6] = h[7] = 0;
    slc_put_le64(h + 8, batch_id);
    slc_put_le32(h + 16, payload_len);
    slc_put_le32(h + 20, raw_len);
    slc_put_le32(h + 24, crc);
    slc_put_le32(h + 28, (uint32_t)crc32(0L, h, 28));
}

int slc_wire_encode(const slc_batch *b, int zlib_level, uint8_t **out, size_t *outlen)
{
    wbuf w = {0};
    uint8_t *frame = NULL;
    int rc;
    if (!b || !out || !outlen || zlib_level < 0 || zlib_level > 9)
        return SL_EINVAL;
    wb_reserve(&w, SLC_WIRE_HEADER_LEN + slc_batch_size_hint(b));
    w.len = SLC_WIRE_HEADER_LEN;
    if ((rc = enc_payload(&w, b)))
        goto out;
    if (w.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t raw = w.len - SLC_WIRE_HEADER_LEN;
    if (raw > UINT32_MAX) {
        rc = SL_ETOOBIG;
        goto out;
    }
    if (zlib_level == 0) {
        uint32_t crc = (uint32_t)crc32(0L, w.p + SLC_WIRE_HEADER_LEN, (uInt)raw);
        write_header(w.p, 0, b->batch_id, (uint32_t)raw, (uint32_t)raw, crc);
        *out = w.p;
        *outlen = w.len;
        return SL_OK;
    }
    uLongf zlen = compressBound((uLong)raw);
    frame = malloc(SLC_WIRE_HEADER_LEN + zlen);
    if (!frame) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (compress2(frame + SLC_WIRE_HEADER_LEN, &zlen, w.p + SLC_WIRE_HEADER_LEN, (uLong)raw,
                  zlib_level) != Z_OK) {
        rc = SL_ENOMEM;
        goto out;
    }
    uint32_t crc = (uint32_t)crc32(0L, frame + SLC_WIRE_HEADER_LEN, (uInt)zlen);
    write_header(frame, SLC_WIRE_F_ZLIB, b->batch_id, (uint32_t)zlen, (uint32_t)raw, crc);
    *out = frame;
    *outlen = SLC_WIRE_HEADER_LEN + zlen;
    frame = NULL;
    rc = SL_OK;
out:
    free(frame);
    free(w.p);
    return rc;
}

int slc_wire_encode_token(const slc_batch *b, int zlib_level, const char *token, size_t toklen,
                          uint8_t **out, size_t *outlen)
{
    uint8_t *f, *nf;
    size_t n;
    int rc;
    if (!token)
        return slc_wire_encode(b, zlib_level, out, outlen);
    if (toklen == 0 || toklen > SLC_WIRE_TOKEN_MAX || !out || !outlen)
        return SL_EINVAL;
    if ((rc = slc_wire_encode(b, zlib_level, &f, &n)))
        return rc;
    nf = realloc(f, n + toklen);
    if (!nf) {
        free(f);
        return SL_ENOMEM;
    }
    memmove(nf + SLC_WIRE_HEADER_LEN + toklen, nf + SLC_WIRE_HEADER_LEN, n - SLC_WIRE_HEADER_LEN);
    memcpy(nf + SLC_WIRE_HEADER_LEN, token, toklen);
    nf[5] |= SLC_WIRE_F_TOKEN;
    nf[6] = (uint8_t)toklen;
    nf[7] = (uint8_t)(toklen >> 8);
    slc_put_le32(nf + 28, (uint32_t)crc32(0L, nf, 28));
    *out = nf;
    *outlen = n + toklen;
    return SL_OK;
}

/* ---- decoder ---------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    int err;
    char *msg;
    size_t msglen;
    uint64_t mem, mem_max; /* decoded bytes charged so far, and the bound */
} rd;

static int fail(rd *r, int err, const char *fmt, ...)
{
    if (!r->err) {
        r->err = err;
        if (r->msg && r->msglen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->msg, r->msglen, fmt, ap);
            va_end(ap);
        }
    }
    return r->err;
}

static size_t left(const rd *r)
{
    return (size_t)(r->end - r->p);
}

/* Charges n items of size sz against the decoded-memory bound before the
 * arrays grow to hold them. */
static int charge(rd *r, uint64_t n, size_t sz, const char *what)
{
    uint64_t add = n * sz; /* n < 2^32 and sz small: no overflow */
    if (r->err)
        return r->err;
    if (add > r->mem_max - r->mem)
        return fail(r, SL_EWIRE_LIMIT,
                    "%s: the decoded batch would take more than the limit of %llu bytes "
                    "(decoded_bytes; many small items in a compressed frame)",
                    what, (unsigned long long)r->mem_max);
    r->mem += add;
    return SL_OK;
}

static int rd_bytes(rd *r, void *dst, size_t n, const char *what)
{
    if (r->err)
        return r->err;
    if (left(r) < n)
        return fail(r, SL_EWIRE_TRUNCATED, "truncated in %s", what);
    memcpy(dst, r->p, n);
    r->p += n;
    return SL_OK;
}

static int rd_u8(rd *r, uint8_t *v, const char *what)
{
    return rd_bytes(r, v, 1, what);
}

static int rd_u64(rd *r, uint64_t *v, const char *what)
{
    if (r->err)
        return r->err;
    if (left(r) < 8)
        return fail(r, SL_EWIRE_TRUNCATED, "truncated in %s", what);
    *v = slc_get_le64(r->p);
    r->p += 8;
    return SL_OK;
}

static int rd_varint(rd *r, uint64_t *v, const char *what)
{
    if (r->err)
        return r->err;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return fail(r, SL_EWIRE_TRUNCATED, "truncated in %s", what);
        uint8_t c = *r->p++;
        if (i == 9 && c > 1)
            return fail(r, SL_EWIRE_VARINT, "varint overflow in %s", what);
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return SL_OK;
        }
    }
    return fail(r, SL_EWIRE_VARINT, "varint longer than 10 bytes in %s", what);
}

/* The common case inline: a one-byte varint with bytes left and no error
 * yet; everything else (and every error message) goes through rd_varint. */
static inline int rd_varint1(rd *r, uint64_t *v, const char *what)
{
    if (!r->err && r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return SL_OK;
    }
    return rd_varint(r, v, what);
}

/* Reads a count, checks it against a limit and against the bytes left
 * (each item needs at least min_size bytes). */
static int rd_count(rd *r, uint32_t *n, uint32_t limit, size_t min_size, const char *what)
{
    uint64_t v;
    if (rd_varint(r, &v, what))
        return r->err;
    if (v > limit)
        return fail(r, SL_EWIRE_LIMIT, "%s: %llu exceeds the limit of %u", what,
                    (unsigned long long)v, limit);
    if (v * min_size > left(r))
        return fail(r, SL_EWIRE_TRUNCATED, "%s: %llu items cannot fit in %zu bytes left", what,
                    (unsigned long long)v, left(r));
    *n = (uint32_t)v;
    return SL_OK;
}

static inline int rd_ref(rd *r, const slc_batch *b, uint32_t *ref, const char *what)
{
    uint64_t v;
    if (rd_varint1(r, &v, what))
        return r->err;
    if (v >= b->nstrs)
        return fail(r, SL_EWIRE_REF, "%s: string index %llu out of range (%u strings)", what,
                    (unsigned long long)v, b->nstrs);
    *ref = (uint32_t)v;
    return SL_OK;
}

static int rd_attrs(rd *r, slc_batch *b, const slc_wire_limits *lim, uint32_t *first,
                    uint32_t *count, const char *what)
{
    uint32_t n;
    if (rd_count(r, &n, lim->attrs_per_item, MIN_ATTR, what) ||
        charge(r, n, sizeof(slc_attr), what))
        return r->err;
    *first = b->nattrs;
    /* Room for all n at once (n is bounded by the limit and by the bytes
     * left), then each attribute is decoded in place. */
    if (n > 0 &&
        slc_grow((void **)&b->attrs, &b->mem->cap_attrs, b->nattrs + n, sizeof(slc_attr)))
        return fail(r, SL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        slc_attr a;
        memset(&a, 0, sizeof a);
        if (rd_ref(r, b, &a.key, "attribute key"))
            return r->err;
        if (r->p < r->end) { /* rd_u8 without the call */
            a.type = *r->p++;
        } else if (rd_u8(r, &a.type, "attribute type")) {
            return r->err;
        }
        if (a.key == 0)
            return fail(r, SL_EWIRE_VALUE, "%s: attribute %u has an empty key", what, i);
        switch (a.type) {
        case SLC_V_STR:
            if (rd_ref(r, b, &a.v.str, "attribute value"))
                return r->err;
            break;
        case SLC_V_INT: {
            uint64_t z;
            if (rd_varint1(r, &z, "attribute value"))
                return r->err;
            a.v.i = unzigzag(z);
            break;
        }
        case SLC_V_DBL: {
            uint64_t bits = 0;
            if (rd_u64(r, &bits, "attribute value"))
                return r->err;
            memcpy(&a.v.d, &bits, 8);
            if (!isfinite(a.v.d))
                return fail(r, SL_EWIRE_VALUE, "%s: attribute %u is not a finite number", what,
                            i);
            break;
        }
        case SLC_V_BOOL:
            if (rd_u8(r, &a.v.b, "attribute value"))
                return r->err;
            if (a.v.b > 1)
                return fail(r, SL_EWIRE_VALUE, "%s: attribute %u bool is %u", what, i, a.v.b);
            break;
        default:
            return fail(r, SL_EWIRE_VALUE, "%s: attribute %u has unknown type %u", what, i,
                        a.type);
        }
        b->attrs[b->nattrs++] = a;
    }
    *count = n;
    return SL_OK;
}

static int rd_id(rd *r, uint8_t *id, size_t n, int allow_zero, const char *what)
{
    if (rd_bytes(r, id, n, what))
        return r->err;
    if (!allow_zero && slc_is_zero(id, n))
        return fail(r, SL_EWIRE_VALUE, "%s is all zero", what);
    return SL_OK;
}

static int rd_span(rd *r, slc_batch *b, const slc_wire_limits *lim, uint32_t idx)
{
    slc_span s;
    uint64_t dur = 0;
    memset(&s, 0, sizeof s);
    if (rd_id(r, s.trace_id, 16, 0, "span trace id") || rd_id(r, s.span_id, 8, 0, "span id") ||
        rd_id(r, s.parent_id, 8, 1, "parent span id") || rd_u8(r, &s.kind, "span kind") ||
        rd_u8(r, &s.status, "span status"))
        return r->err;
    if (s.kind > SLC_KIND_CONSUMER)
        return fail(r, SL_EWIRE_VALUE, "span %u: kind %u out of range 0..5", idx, s.kind);
    if (s.status > SLC_STATUS_ERROR)
        return fail(r, SL_EWIRE_VALUE, "span %u: status %u out of range 0..2", idx, s.status);
    if (rd_ref(r, b, &s.service, "span service") || rd_ref(r, b, &s.name, "span name") ||
        rd_ref(r, b, &s.status_msg, "span status message") ||
        rd_u64(r, &s.start_ns, "span start") || rd_varint(r, &dur, "span duration"))
        return r->err;
    if (s.name == 0)
        return fail(r, SL_EWIRE_VALUE, "span %u has an empty name", idx);
    if (dur > UINT64_MAX - s.start_ns)
        return fail(r, SL_EWIRE_VALUE, "span %u: end time overflows", idx);
    s.end_ns = s.start_ns + dur;
    if (rd_attrs(r, b, lim, &s.attr_first, &s.attr_count, "span attributes") ||
        rd_count(r, &s.event_count, lim->events_per_span, MIN_EVENT, "span events") ||
        charge(r, s.event_count, sizeof(slc_event), "span events"))
        return r->err;
    s.event_first = b->nevents;
    for (uint32_t k = 0; k < s.event_count; k++) {
        slc_event e;
        uint64_t z;
        memset(&e, 0, sizeof e);
        if (rd_varint(r, &z, "event time") || rd_ref(r, b, &e.name, "event name") ||
            rd_attrs(r, b, lim, &e.attr_first, &e.attr_count, "event attributes"))
            return r->err;
        int64_t off = unzigzag(z);
        if ((off < 0 && (uint64_t)(-(off + 1)) >= s.start_ns) ||
            (off > 0 && (uint64_t)off > UINT64_MAX - s.start_ns))
            return fail(r, SL_EWIRE_VALUE, "span %u: event %u time out of range", idx, k);
        e.time_ns = s.start_ns + (uint64_t)off;
        if (slc_batch_add_event(b, &e, NULL))
            return fail(r, SL_ENOMEM, "out of memory");
    }
    if (rd_count(r, &s.link_count, lim->links_per_span, MIN_LINK, "span links") ||
        charge(r, s.link_count, sizeof(slc_link), "span links"))
        return r->err;
    s.link_first = b->nlinks;
    for (uint32_t k = 0; k < s.link_count; k++) {
        slc_link l;
        memset(&l, 0, sizeof l);
        if (rd_id(r, l.trace_id, 16, 0, "link trace id") || rd_id(r, l.span_id, 8, 0, "link span id") ||
            rd_attrs(r, b, lim, &l.attr_first, &l.attr_count, "link attributes"))
            return r->err;
        if (slc_batch_add_link(b, &l, NULL))
            return fail(r, SL_ENOMEM, "out of memory");
    }
    if (slc_batch_add_span(b, &s, NULL))
        return fail(r, SL_ENOMEM, "out of memory");
    return SL_OK;
}

static int rd_log(rd *r, slc_batch *b, const slc_wire_limits *lim, uint32_t idx)
{
    slc_log l;
    memset(&l, 0, sizeof l);
    if (rd_u64(r, &l.time_ns, "log time") || rd_u8(r, &l.level, "log level") ||
        rd_u8(r, &l.flags, "log flags"))
        return r->err;
    if (l.level < 1 || l.level > 24)
        return fail(r, SL_EWIRE_VALUE, "log %u: level %u out of range 1..24", idx, l.level);
    if (l.flags & ~SLC_LOG_F_TRACE)
        return fail(r, SL_EWIRE_VALUE, "log %u: unknown flags 0x%02x", idx, l.flags);
    if (l.flags & SLC_LOG_F_TRACE) {
        if (rd_id(r, l.trace_id, 16, 0, "log trace id") || rd_id(r, l.span_id, 8, 1, "log span id"))
            return r->err;
    }
    if (rd_ref(r, b, &l.service, "log service") || rd_ref(r, b, &l.body, "log body") ||
        rd_attrs(r, b, lim, &l.attr_first, &l.attr_count, "log attributes"))
        return r->err;
    if (slc_batch_add_log(b, &l, NULL))
        return fail(r, SL_ENOMEM, "out of memory");
    return SL_OK;
}

/* 1 when p[0..n) is plain ASCII (nearly every string of a batch), which is
 * valid UTF-8 without the full check; 8 bytes at a time. */
static int ascii_only(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & 0x8080808080808080ULL) == 0;
}

static int rd_payload(rd *r, slc_batch *b, const slc_wire_limits *lim)
{
    uint32_t nstrs;
    if (rd_count(r, &nstrs, lim->strings, MIN_STR, "string table") ||
        charge(r, nstrs, sizeof(slc_str), "string table"))
        return r->err;
    if (nstrs == 0)
        return fail(r, SL_EWIRE_VALUE, "string table is empty (string 0 must be \"\")");
    b->strs = calloc(nstrs, sizeof *b->strs);
    if (!b->strs)
        return fail(r, SL_ENOMEM, "out of memory");
    b->mem->cap_strs = nstrs;
    for (uint32_t i = 0; i < nstrs; i++) {
        uint64_t len;
        if (rd_varint(r, &len, "string length"))
            return r->err;
        if (len > lim->string_bytes)
            return fail(r, SL_EWIRE_LIMIT, "string %u: length %llu exceeds the limit of %u", i,
                        (unsigned long long)len, lim->string_bytes);
        if (len > left(r))
            return fail(r, SL_EWIRE_TRUNCATED, "string %u: truncated", i);
        if (i == 0 && len != 0)
            return fail(r, SL_EWIRE_VALUE, "string 0 must be empty");
        if (!ascii_only(r->p, (size_t)len) && !slc_utf8_valid((const char *)r->p, (size_t)len))
            return fail(r, SL_EWIRE_UTF8, "string %u is not valid UTF-8", i);
        b->strs[i].ptr = (const char *)r->p;
        b->strs[i].len = (uint32_t)len;
        r->p += len;
        b->nstrs = i + 1;
    }
    uint32_t nspans, nlogs;
    if (rd_count(r, &nspans, lim->spans, MIN_SPAN, "span count") ||
        rd_count(r, &nlogs, lim->logs, 0, "log count"))
        return r->err;
    if ((uint64_t)nspans * MIN_SPAN + (uint64_t)nlogs * MIN_LOG > left(r))
        return fail(r, SL_EWIRE_TRUNCATED, "%u spans and %u logs cannot fit in %zu bytes",
                    nspans, nlogs, left(r));
    if (charge(r, nspans, sizeof(slc_span), "span count") ||
        charge(r, nlogs, sizeof(slc_log), "log count"))
        return r->err;
    if (slc_grow((void **)&b->spans, &b->mem->cap_spans, nspans, sizeof(slc_span)) ||
        slc_grow((void **)&b->logs, &b->mem->cap_logs, nlogs, sizeof(slc_log)))
        return fail(r, SL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nspans; i++)
        if (rd_span(r, b, lim, i))
            return r->err;
    for (uint32_t i = 0; i < nlogs; i++)
        if (rd_log(r, b, lim, i))
            return r->err;
    if (r->p != r->end)
        return fail(r, SL_EWIRE_TRAILING, "%zu bytes left after the last record", left(r));
    return SL_OK;
}

/* Checks the fixed header; fills the fields it reads.  *toklen is the
 * length of the ingest token between the header and the payload (0 = none). */
static int rd_header(rd *r, const uint8_t *buf, size_t len, uint8_t *flags, uint64_t *batch_id,
                     uint32_t *plen, uint32_t *rawlen, uint32_t *crc, size_t *toklen)
{
    size_t tl = 0;

    if (len < SLC_WIRE_HEADER_LEN) {
        if (len >= 4 && memcmp(buf, SLC_WIRE_MAGIC, 4) != 0)
            return fail(r, SL_EWIRE_MAGIC, "bad magic: not a Sightline frame");
        return fail(r, SL_EWIRE_TRUNCATED, "frame of %zu bytes is shorter than the %d-byte header",
                    len, SLC_WIRE_HEADER_LEN);
    }
    if (memcmp(buf, SLC_WIRE_MAGIC, 4) != 0)
        return fail(r, SL_EWIRE_MAGIC, "bad magic: not a Sightline frame");
    if (buf[4] != SLC_WIRE_VERSION)
        return fail(r, SL_EWIRE_VERSION, "frame version %u; this side speaks version %d", buf[4],
                    SLC_WIRE_VERSION);
    if ((uint32_t)crc32(0L, buf, 28) != slc_get_le32(buf + 28))
        return fail(r, SL_EWIRE_CHECKSUM, "header checksum mismatch");
    if (buf[5] & ~SLC_WIRE_F_KNOWN)
        return fail(r, SL_EWIRE_FLAGS, "unknown flags 0x%02x", buf[5]);
    if (buf[5] & SLC_WIRE_F_TOKEN) {
        tl = (size_t)buf[6] | (size_t)buf[7] << 8;
        if (tl == 0 || tl > SLC_WIRE_TOKEN_MAX)
            return fail(r, SL_EWIRE_FLAGS, "ingest token length %zu out of range 1..%d", tl,
                        SLC_WIRE_TOKEN_MAX);
    } else if (buf[6] || buf[7]) {
        return fail(r, SL_EWIRE_FLAGS, "reserved header bytes 6..7 set without the token flag");
    }
    *flags = buf[5];
    *batch_id = slc_get_le64(buf + 8);
    *plen = slc_get_le32(buf + 16);
    *rawlen = slc_get_le32(buf + 20);
    *crc = slc_get_le32(buf + 24);
    *toklen = tl;
    if (tl > len - SLC_WIRE_HEADER_LEN)
        return fail(r, SL_EWIRE_TRUNCATED, "ingest token of %zu bytes announced, %zu present", tl,
                    len - SLC_WIRE_HEADER_LEN);
    if ((size_t)*plen > len - SLC_WIRE_HEADER_LEN - tl)
        return fail(r, SL_EWIRE_TRUNCATED, "payload of %u bytes announced, %zu present", *plen,
                    len - SLC_WIRE_HEADER_LEN - tl);
    if ((size_t)*plen < len - SLC_WIRE_HEADER_LEN - tl)
        return fail(r, SL_EWIRE_TRAILING, "%zu bytes after the frame",
                    len - SLC_WIRE_HEADER_LEN - tl - *plen);
    if (!(*flags & SLC_WIRE_F_ZLIB) && *rawlen != *plen)
        return fail(r, SL_EWIRE_VALUE, "uncompressed frame with raw length %u != payload %u",
                    *rawlen, *plen);
    return SL_OK;
}

/* The header fields of a frame, for the peek functions. */
typedef struct hdr {
    uint8_t flags;
    uint64_t id;
    uint32_t plen, rawlen, crc;
    size_t toklen;
} hdr;

/* The header checks of the decoder, lengths included, without reading
 * the payload. */
static int peek_header(const uint8_t *buf, size_t len, hdr *h)
{
    rd r = {0};
    if (!buf)
        return SL_EINVAL;
    if (rd_header(&r, buf, len, &h->flags, &h->id, &h->plen, &h->rawlen, &h->crc, &h->toklen))
        return r.err;
    return SL_OK;
}

int slc_wire_peek(const uint8_t *buf, size_t len, uint64_t *batch_id, size_t *frame_len)
{
    hdr h = {0};
    int rc = peek_header(buf, len, &h);
    if (rc)
        return rc;
    if (batch_id)
        *batch_id = h.id;
    if (frame_len)
        *frame_len = SLC_WIRE_HEADER_LEN + h.toklen + (size_t)h.plen;
    return SL_OK;
}

int slc_wire_peek_token(const uint8_t *buf, size_t len, const uint8_t **tok, size_t *toklen)
{
    hdr h = {0};
    int rc = peek_header(buf, len, &h);
    if (rc)
        return rc;
    if (!tok || !toklen)
        return SL_EINVAL;
    *tok = h.toklen ? buf + SLC_WIRE_HEADER_LEN : NULL;
    *toklen = h.toklen;
    return SL_OK;
}

int slc_wire_peek_raw_len(const uint8_t *buf, size_t len, uint32_t *raw_len)
{
    hdr h = {0};
    int rc = peek_header(buf, len, &h);
    if (rc)
        return rc;
    if (!raw_len)
        return SL_EINVAL;
    *raw_len = h.rawlen;
    return SL_OK;
}

int slc_wire_strip_token(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen)
{
    rd r = {0};
    hdr h = {0};
    uint8_t *f;
    if (!buf || !out || !outlen)
        return SL_EINVAL;
    if (rd_header(&r, buf, len, &h.flags, &h.id, &h.plen, &h.rawlen, &h.crc, &h.toklen))
        return r.err;
    f = malloc(len - h.toklen);
    if (!f)
        return SL_ENOMEM;
    memcpy(f, buf, SLC_WIRE_HEADER_LEN);
    memcpy(f + SLC_WIRE_HEADER_LEN, buf + SLC_WIRE_HEADER_LEN + h.toklen, h.plen);
    if (h.toklen) {
        f[5] = (uint8_t)(h.flags & ~SLC_WIRE_F_TOKEN);
        f[6] = f[7] = 0;
        slc_put_le32(f + 28, (uint32_t)crc32(0L, f, 28));
    }
    *out = f;
    *outlen = len - h.toklen;
    return SL_OK;
}

int slc_wire_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim, slc_batch **out,
                    char *errmsg, size_t errlen)
{
    slc_wire_limits dl;
    rd r = {0};
    slc_batch *b = NULL;
    uint8_t flags;
    uint64_t batch_id;
    uint32_t plen, rawlen, crc;
    size_t toklen;

    r.msg = errmsg;
    r.msglen = errlen;
    if (errmsg && errlen)
        errmsg[0] = '\0';
    if (!buf || !out)
        return SL_EINVAL;
    if (!lim) {
        slc_wire_limits_default(&dl);
        lim = &dl;
    }
    if (len > lim->frame_bytes) {
        fail(&r, SL_EWIRE_LIMIT, "frame of %zu bytes exceeds the limit of %u", len,
             lim->frame_bytes);
        goto out;
    }
    if (rd_header(&r, buf, len, &flags, &batch_id, &plen, &rawlen, &crc, &toklen))
        goto out;
    if (rawlen > lim->payload_bytes) {
        fail(&r, SL_EWIRE_LIMIT, "payload of %u bytes exceeds the limit of %u", rawlen,
             lim->payload_bytes);
        goto out;
    }
    r.mem_max = lim->decoded_bytes;
    if (charge(&r, rawlen, 1, "inflated payload"))
        goto out;
    const uint8_t *payload = buf + SLC_WIRE_HEADER_LEN + toklen; /* the token is the receiver's */
    if ((uint32_t)crc32(0L, payload, plen) != crc) {
        fail(&r, SL_EWIRE_CHECKSUM, "payload checksum mismatch");
        goto out;
    }
    b = slc_batch_new();
    if (!b) {
        fail(&r, SL_ENOMEM, "out of memory");
        goto out;
    }
    b->batch_id = batch_id;
    /* The batch keeps its own copy so its strings outlive buf. */
    b->mem->payload = malloc(rawlen ? rawlen : 1);
    if (!b->mem->payload) {
        fail(&r, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (flags & SLC_WIRE_F_ZLIB) {
        uLongf dlen = rawlen;
        uLong slen = plen;
        int zrc = uncompress2(b->mem->payload, &dlen, payload, &slen);
        if (zrc != Z_OK || dlen != rawlen || slen != plen) {
            fail(&r, SL_EWIRE_INFLATE, "zlib payload is corrupt or its length is not %u", rawlen);
            goto out;
        }
    } else {
        memcpy(b->mem->payload, payload, plen);
    }
    /* Drop the "" entry slc_batch_new made; the table is read from input. */
    free(b->strs);
    b->strs = NULL;
    b->nstrs = 0;
    b->mem->cap_strs = 0;
    r.p = b->mem->payload;
    r.end = b->mem->payload + rawlen;
    if (rd_payload(&r, b, lim))
        goto out;
    *out = b;
    return SL_OK;
out:
    slc_batch_free(b);
    return r.err ? r.err : SL_EINVAL;
}

/* ---- acknowledgements ------------------------------------------------------- */

size_t slc_ack_encode(const slc_ack *a, uint8_t *buf)
{
    size_t rl = strnlen(a->reason, SLC_ACK_MAX_REASON);
    memcpy(buf, SLC_ACK_MAGIC, 4);
    buf[4] = a->status;
    slc_put_le32(buf + 5, (uint32_t)a->err);
    slc_put_le64(buf + 9, a->batch_id);
    slc_put_le32(buf + 17, a->spans);
    slc_put_le32(buf + 21, a->logs);
    buf[25] = (uint8_t)rl;
    memcpy(buf + 26, a->reason, rl);
    return 26 + rl;
}

int slc_ack_decode(const uint8_t *buf, size_t len, slc_ack *a)
{
    if (!buf || len < 26)
        return SL_EWIRE_TRUNCATED;
    if (memcmp(buf, SLC_ACK_MAGIC, 4) != 0)
        return SL_EWIRE_MAGIC;
    if (buf[4] > SLC_ACK_UNAUTHORIZED)
        return SL_EWIRE_VALUE;
    size_t rl = buf[25];
    if (rl > SLC_ACK_MAX_REASON)
        return SL_EWIRE_LIMIT;
    if (len != 26 + rl)
        return len < 26 + rl ? SL_EWIRE_TRUNCATED : SL_EWIRE_TRAILING;
    a->status = buf[4];
    a->err = (int32_t)slc_get_le32(buf + 5);
    a->batch_id = slc_get_le64(buf + 9);
    a->spans = slc_get_le32(buf + 17);
    a->logs = slc_get_le32(buf + 21);
    memcpy(a->reason, buf + 26, rl);
    a->reason[rl] = '\0';
    return SL_OK;
}
