/*
 * slc_batch_int.h - private to common/: the storage behind an slc_batch,
 * shared by the builder (slc_batch.c) and the decoder (slc_wire.c).
 */
#ifndef SLC_BATCH_INT_H
#define SLC_BATCH_INT_H

#include "slc_wire.h"

struct slc_batch_mem {
    uint8_t *payload; /* decoded batches: the payload strings point into */
    char **chunks;    /* builder arena: string bytes, never moved        */
    uint32_t nchunks, cap_chunks;
    char *cur;
    size_t cur_used, cur_cap;
    size_t chunk0_cap; /* capacity of chunks[0], the one reset keeps */
    uint32_t *htab; /* intern table: string index + 1, 0 = empty */
    uint32_t hcap, hcount;
    uint32_t cap_strs, cap_spans, cap_logs, cap_attrs, cap_events, cap_links;
};

#endif
