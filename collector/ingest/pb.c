/*
 * pb.c - protobuf wire-format reader (see pb.h).
 */
#include "pb.h"

#include "sightline.h"

void col_pb_init(col_pb *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->end = buf + len;
}

void col_pb_sub(const col_pb_field *f, col_pb *sub)
{
    col_pb_init(sub, f->data, f->len);
}

/* A varint is at most 10 bytes; the tenth may only carry bit 63. */
static int col_pb_varint(col_pb *r, uint64_t *out)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return SL_EWIRE_TRUNCATED;
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1)
            return SL_EWIRE_VARINT;
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return SL_EWIRE_VARINT;
}

static uint64_t col_pb_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int col_pb_next(col_pb *r, col_pb_field *f)
{
    uint64_t tag, n;
    int rv;

    if (r->p >= r->end)
        return 0;
    rv = col_pb_varint(r, &tag);
    if (rv != 0)
        goto fail;
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
        rv = SL_EWIRE_VALUE;
        goto fail;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint8_t)(tag & 7);
    f->u = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wt) {
    case COL_PB_VARINT:
        rv = col_pb_varint(r, &f->u);
        if (rv != 0)
            goto fail;
        return 1;
    case COL_PB_I64:
    case COL_PB_I32:
        n = f->wt == COL_PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            rv = SL_EWIRE_TRUNCATED;
            goto fail;
        }
        f->u = col_pb_le(r->p, (unsigned)n);
        r->p += n;
        return 1;
    case COL_PB_LEN:
        rv = col_pb_varint(r, &n);
        if (rv != 0)
            goto fail;
        if (n > (uint64_t)(r->end - r->p)) {
            rv = SL_EWIRE_TRUNCATED;
            goto fail;
        }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    default:
        rv = SL_EWIRE_VALUE;
        goto fail;
    }
fail:
    r->p = r->end;
    return rv;
}

const char *col_pb_wt_name(uint8_t wt)
{
    switch (wt) {
    case COL_PB_VARINT: return "varint";
    case COL_PB_I64: return "fixed64";
    case COL_PB_LEN: return "length-delimited";
    case COL_PB_I32: return "fixed32";
    default: return "unknown";
    }
}
