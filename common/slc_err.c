/*
 * slc_err.c - sl_strerror: the one table of error messages.
 */
#include "sightline.h"

const char *sl_strerror(int err)
{
    switch (err) {
    case SL_OK: return "success";
    case SL_ENOMEM: return "out of memory or memory budget full";
    case SL_EINVAL: return "invalid argument";
    case SL_ESTATE: return "call not allowed in the current state";
    case SL_ETIMEDOUT: return "timed out";
    case SL_ECLOSED: return "object was shut down";
    case SL_EIO: return "input/output error";
    case SL_ETRANSPORT: return "transport error";
    case SL_ESTORE: return "storage error";
    case SL_ENOTFOUND: return "not found";
    case SL_EBUSY: return "overloaded, retry later";
    case SL_EAUTH: return "missing or invalid token";
    case SL_ECONFIG: return "invalid configuration";
    case SL_EPARSE: return "could not parse input";
    case SL_ETOOBIG: return "value exceeds a configured limit";
    case SL_EWIRE_TRUNCATED: return "frame truncated";
    case SL_EWIRE_MAGIC: return "not a Sightline frame (bad magic)";
    case SL_EWIRE_VERSION: return "unsupported frame version";
    case SL_EWIRE_FLAGS: return "unknown frame flags";
    case SL_EWIRE_CHECKSUM: return "frame checksum mismatch";
    case SL_EWIRE_INFLATE: return "corrupt compressed payload";
    case SL_EWIRE_LIMIT: return "frame exceeds a limit";
    case SL_EWIRE_UTF8: return "string is not valid UTF-8";
    case SL_EWIRE_REF: return "string reference out of range";
    case SL_EWIRE_VALUE: return "invalid field value";
    case SL_EWIRE_TRAILING: return "trailing bytes after frame";
    case SL_EWIRE_VARINT: return "malformed varint";
    default: return "unknown error";
    }
}
