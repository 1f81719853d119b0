/*
 * store_base.c - the bottom of the store: family names, RocksDB error
 * conversion, block keys and the read limits of stored frames.  Calls
 * nothing else of the store.
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

const char *const col_cf_names[CF_COUNT] = {"default", "blocks", "tidx", "roots", "dedupe",
                                            "meta",    "sidx",   "lidx", "rollup"};

/* Converts a RocksDB error string (malloc'd) into an sl_err and a message.
 * A write refused because of no_slowdown is back-pressure, not a failure. */
int col_store_rocks_err(char *rerr, const char *what, char *err, size_t errlen)
{
    int rv = SL_ESTORE;

    if (rerr != NULL && (strstr(rerr, "Incomplete") != NULL || strstr(rerr, "stall") != NULL))
        rv = SL_EBUSY;
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", what, rerr != NULL ? rerr : "unknown error");
    rocksdb_free(rerr);
    return rv;
}

void col_next_block_key(col_store *s, uint8_t key[COL_BLOCK_KEY_LEN])
{
    uint64_t now = s->clock != NULL ? s->clock(s->clock_arg) : slc_now_ns();
    uint64_t last = atomic_load(&s->last_block_ns), next;

    do {
        next = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&s->last_block_ns, &last, next));
    slc_put_be64(key, next);
    /* 31 bits: the top bit marks sealed blocks (COL_SEQ_SEALED). */
    slc_put_be32(key + 8, (uint32_t)atomic_fetch_add(&s->block_seq, 1) & ~COL_SEQ_SEALED);
}

/* Stored frames passed the ingest limits in force when they arrived; the
 * limits may have been lowered since, so reads accept anything the codec
 * can represent. */
void col_store_read_limits(slc_wire_limits *l)
{
    slc_wire_limits_default(l);
    l->frame_bytes = UINT32_MAX;
    l->payload_bytes = UINT32_MAX;
    l->strings = UINT32_MAX;
    l->string_bytes = UINT32_MAX;
    l->spans = UINT32_MAX;
    l->logs = UINT32_MAX;
    l->attrs_per_item = UINT32_MAX;
    l->events_per_span = UINT32_MAX;
    l->links_per_span = UINT32_MAX;
    l->decoded_bytes = UINT32_MAX;
}
