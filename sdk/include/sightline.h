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

/* ---- SDK API (tracer, logs, propagation, exporter) follows. ---- */

#ifdef __cplusplus
}
#endif

#endif /* SIGHTLINE_H */
