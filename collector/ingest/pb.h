/*
 * pb.h - a minimal, bounds-checked reader of the protobuf wire format, for
 * the OTLP receiver.  No code generation and no schema: callers walk a
 * message field by field and pick the field numbers they know (unknown
 * fields are skipped, as protobuf requires).  Only proto3's wire types are
 * accepted: VARINT, I64, LEN, I32; the deprecated groups (3, 4) are errors.
 *
 * Pure and allocation-free: a reader is two pointers into a buffer the
 * caller keeps alive; a LEN field's bytes point into that buffer.
 */
#ifndef COL_PB_H
#define COL_PB_H

#include <stddef.h>
#include <stdint.h>

enum col_pb_wt { COL_PB_VARINT = 0, COL_PB_I64 = 1, COL_PB_LEN = 2, COL_PB_I32 = 5 };

typedef struct col_pb {
    const uint8_t *p, *end;
} col_pb;

typedef struct col_pb_field {
    uint32_t num;        /* field number, 1 .. 2^29-1 */
    uint8_t wt;          /* enum col_pb_wt */
    uint64_t u;          /* VARINT, I64, I32: the value (I32 zero-extended) */
    const uint8_t *data; /* LEN: the bytes, borrowed from the buffer */
    size_t len;
} col_pb_field;

/* Starts reading buf[0..len). */
void col_pb_init(col_pb *r, const uint8_t *buf, size_t len);

/* Reads the next field into *f.  Returns 1 when a field was read, 0 at the
 * end of the message, or SL_EWIRE_TRUNCATED (a field runs past the end),
 * SL_EWIRE_VARINT (a varint longer than 10 bytes) or SL_EWIRE_VALUE (field
 * number 0 or too large, or an unsupported wire type).  After an error the
 * reader stays at the end (every later call returns 0). */
int col_pb_next(col_pb *r, col_pb_field *f);

/* Initialises sub to read a LEN field's bytes as a message. */
void col_pb_sub(const col_pb_field *f, col_pb *sub);

/* Short name of a wire type for messages ("varint", "len", ...). */
const char *col_pb_wt_name(uint8_t wt);

#endif /* COL_PB_H */
