/*
 * store_write.c - storing a frame: deduplication claims, the one WriteBatch
 * of a frame (block, index rows, rollups, dedupe row) and its commit
 * through the disk guard (docs/storage.md "Writes").
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

static void dedupe_key(const col_batch_key *k, uint8_t out[COL_DEDUPE_KEY_LEN])
{
    slc_put_be64(out, k->batch_id);
    slc_put_be32(out + 8, k->crc);
}

/* ---- dedupe ------------------------------------------------------------- */

static int store_claim(col_store *s, const col_batch_key *k)
{
    uint8_t key[COL_DEDUPE_KEY_LEN];
    char *rerr = NULL, *v;
    size_t vlen = 0;
    int free_slot = -1;

    pthread_mutex_lock(&s->claim_mu);
    for (int i = 0; i < COL_MAX_CLAIMS; i++) {
        if (!s->claim_used[i]) {
            if (free_slot < 0)
                free_slot = i;
        } else if (s->claims[i].batch_id == k->batch_id && s->claims[i].crc == k->crc) {
            pthread_mutex_unlock(&s->claim_mu);
            return SL_EBUSY;
        }
    }
    if (free_slot < 0) {
        pthread_mutex_unlock(&s->claim_mu);
        return SL_EBUSY;
    }
    s->claims[free_slot] = *k;
    s->claim_used[free_slot] = 1;
    pthread_mutex_unlock(&s->claim_mu);

    /* Checked after claiming: a copy that committed before our claim is
     * visible now, one that commits later cannot start (we hold the claim). */
    dedupe_key(k, key);
    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_DEDUPE], (const char *)key, sizeof key, &vlen,
                       &rerr);
    if (rerr != NULL || v != NULL) {
        col_store_release(s, k);
        if (rerr != NULL)
            return col_store_rocks_err(rerr, "dedupe lookup", NULL, 0) == SL_EBUSY ? SL_EBUSY
                                                                              : SL_ESTORE;
        rocksdb_free(v);
        return 1;
    }
    return 0;
}

int col_store_claim(col_store *s, const col_batch_key *k)
{
    COL_DB_CALL(s, 0, store_claim(s, k));
}

void col_store_release(col_store *s, const col_batch_key *k)
{
    pthread_mutex_lock(&s->claim_mu);
    for (int i = 0; i < COL_MAX_CLAIMS; i++)
        if (s->claim_used[i] && s->claims[i].batch_id == k->batch_id &&
            s->claims[i].crc == k->crc) {
            s->claim_used[i] = 0;
            break;
        }
    pthread_mutex_unlock(&s->claim_mu);
}

struct col_merge_cx {
    col_store *s;
    rocksdb_writebatch_t *wb;
};

static void col_emit_merge(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                           size_t vlen)
{
    struct col_merge_cx *cx = arg;
    rocksdb_writebatch_merge_cf(cx->wb, cx->s->cf[CF_ROLLUP], (const char *)key, klen,
                                (const char *)val, vlen);
}

static int store_write(col_store *s, const col_batch_key *k, const uint8_t *frame, size_t len,
                       const slc_batch *b, char *err, size_t errlen)
{
    uint8_t bkey[COL_BLOCK_KEY_LEN], dkey[COL_DEDUPE_KEY_LEN];
    size_t nnews = 0;
    uint32_t news[64];
    col_edges_txn tx = {0};
    int observed = 0, hot = 0;
    rocksdb_writebatch_t *wb = NULL;
    char *rerr = NULL;
    int rv = 0;

    if (col_hot_begin(s, bkey) != 0) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    hot = 1;
    wb = rocksdb_writebatch_create();
    dedupe_key(k, dkey);
    if (b->nspans + (uint64_t)b->nlogs > 0) {
        rocksdb_writebatch_put_cf(wb, s->cf[CF_BLOCKS], (const char *)bkey, sizeof bkey,
                                  (const char *)frame, len);
        /* No tidx rows here: the frame's trace ids go to the in-memory
         * window once the write commits (col_hot_end), one row per trace
         * per second (store_hotidx.c). */
        for (uint32_t i = 0; i < b->nspans; i++)
            if (slc_is_zero(b->spans[i].parent_id, 8))
                col_put_root(s, wb, b, &b->spans[i]);
        col_put_services(s, wb, b, news, &nnews, sizeof news / sizeof news[0]);
        /* The tracker learns the frame now but forgets what it completed
         * only after the write commits (col_edges_commit below), so a failed
         * write and its retry count each edge once. */
        rv = col_edges_observe(s->edges, b, &tx);
        observed = rv == 0;
        if (rv == 0) {
            struct col_merge_cx cx = {s, wb};
            rv = col_rollup_frame(b, s->edges, tx.evs, tx.nev, col_emit_merge, &cx);
        }
        if (rv == 0 && b->nspans > 0)
            rv = col_put_sidx(s, wb, b, bkey);
        if (rv == 0 && b->nlogs > 0)
            rv = col_put_lidx(s, wb, b, bkey);
        if (rv != 0) {
            snprintf(err, errlen, "out of memory indexing a frame of %u spans, %u logs",
                     b->nspans, b->nlogs);
            goto out;
        }
    }
    /* The dedupe row commits with the block: either both exist or neither. */
    rocksdb_writebatch_put_cf(wb, s->cf[CF_DEDUPE], (const char *)dkey, sizeof dkey,
                              (const char *)bkey, sizeof bkey);
    col_db_write(s, s->wopts, wb, &rerr);
    if (rerr != NULL) {
        rv = col_store_write_err(s, rerr, "writing a block", err, errlen);
        goto out;
    }
    for (size_t i = 0; i < nnews; i++)
        col_svc_remember(s, b->strs[news[i]].ptr, b->strs[news[i]].len);
    if (observed) {
        col_edges_commit(s->edges, &tx);
        observed = 0;
    }
    hot = 0;
    if (col_hot_end(s, bkey, b) != 0) {
        /* The window could not take the ids: the frame gets its own rows,
         * as before the window existed, so it stays findable. */
        char msg[200] = "out of memory";
        rocksdb_writebatch_clear(wb);
        if (col_put_tidx(s, wb, b, bkey) == 0) {
            rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
            col_db_write(s, wo, wb, &rerr);
            rocksdb_writeoptions_destroy(wo);
            if (rerr != NULL)
                col_store_write_err(s, rerr, "writing", msg, sizeof msg);
            else
                msg[0] = '\0';
        }
        if (msg[0] != '\0')
            col_log(COL_LOG_WARN, "trace index rows of a stored frame not written (%s); it stays "
                    "marked and is indexed again at the next start", msg);
        else
            col_hot_unpin(s, bkey);
    }
out:
    if (hot)
        col_hot_end(s, bkey, NULL);
    if (observed)
        col_edges_abort(s->edges, &tx);
    rocksdb_writebatch_destroy(wb);
    return rv;
}

int col_store_write(col_store *s, const col_batch_key *k, const uint8_t *frame, size_t len,
                    const slc_batch *b, char *err, size_t errlen)
{
    int rv = col_disk_admit(s, len, err, errlen);

    if (rv != 0)
        return rv;
    if (col_db_enter(s, 1) != 0) {
        snprintf(err, errlen, "disk full: the store is read-only until space returns");
        return SL_ESTORE;
    }
    rv = store_write(s, k, frame, len, b, err, errlen);
    col_db_exit(s);
    return rv;
}
