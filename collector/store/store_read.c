/*
 * store_read.c - the store's own reads: views, trace reads, the trace
 * list, services and stats (searches and aggregates are in store_query.c).
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldblock.h"
#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

int col_copy_trace(slc_batch *dst, const slc_batch *src, const uint8_t tid[16], int want_spans)
{
    int rv = 0;

    for (uint32_t i = 0; want_spans && i < src->nspans && rv == 0; i++)
        if (memcmp(src->spans[i].trace_id, tid, 16) == 0)
            rv = slc_batch_copy_span(dst, src, i);
    for (uint32_t i = 0; i < src->nlogs && rv == 0; i++)
        if ((src->logs[i].flags & SLC_LOG_F_TRACE) && memcmp(src->logs[i].trace_id, tid, 16) == 0)
            rv = slc_batch_copy_log(dst, src, i);
    return rv;
}

/* Copies the spans (when want_spans) and logs of trace tid from one stored
 * value (a frame or a sealed block) into dst. */
static int col_gather(slc_batch *dst, const char *frame, size_t len, const uint8_t tid[16],
                      int want_spans, const slc_wire_limits *lim)
{
    slc_batch *src = NULL;
    char msg[160];
    int rv;

    msg[0] = '\0';
    if (col_cold_is((const uint8_t *)frame, len)) {
        /* Sealed: decode only the part holding this trace (into dst itself
         * when all of it is wanted). */
        src = want_spans ? dst : slc_batch_new();
        if (src == NULL)
            return SL_ENOMEM;
        rv = col_cold_gather_trace((const uint8_t *)frame, len, lim, tid, src, msg, sizeof msg);
    } else {
        rv = slc_wire_decode((const uint8_t *)frame, len, lim, &src, msg, sizeof msg);
    }
    if (rv != 0 && rv != SL_ENOMEM) {
        /* A stored block that no longer decodes is corruption: log it and
         * keep serving the rest of the trace. */
        col_log(COL_LOG_WARN, "stored block does not decode (%s): %s", sl_strerror(rv), msg);
        rv = 0;
    }
    if (src != NULL && src != dst) {
        if (rv == 0)
            rv = col_copy_trace(dst, src, tid, want_spans);
        slc_batch_free(src);
    }
    return rv;
}

int col_gather_stored(col_store *s, const col_view *view, const uint8_t *bkey,
                      const uint8_t tid[16], int want_spans, slc_batch *dst)
{
    slc_wire_limits lim;
    char *rerr = NULL, *v;
    size_t vlen = 0;
    int rv;

    v = rocksdb_get_cf(s->db, view->ro, s->cf[CF_BLOCKS], (const char *)bkey, COL_BLOCK_KEY_LEN,
                       &vlen, &rerr);
    if (rerr != NULL)
        return col_store_rocks_err(rerr, "reading a block", NULL, 0);
    if (v == NULL)
        return 0; /* removed by retention since the index was read */
    col_store_read_limits(&lim);
    rv = col_gather(dst, v, vlen, tid, want_spans, &lim);
    rocksdb_free(v);
    return rv;
}

int col_view_open(col_store *s, col_view *v)
{
    memset(v, 0, sizeof *v);
    v->sealed = atomic_load_explicit(&s->sealed_ns, memory_order_acquire);
    v->cutoff = atomic_load(&s->cutoff_ns);
    v->ro = rocksdb_readoptions_create();
    if (v->ro == NULL)
        return SL_ENOMEM;
    v->snap = rocksdb_create_snapshot(s->db);
    rocksdb_readoptions_set_snapshot(v->ro, v->snap);
    return 0;
}

void col_view_close(col_store *s, col_view *v)
{
    if (v->ro != NULL)
        rocksdb_readoptions_destroy(v->ro);
    if (v->snap != NULL)
        rocksdb_release_snapshot(s->db, v->snap);
    memset(v, 0, sizeof *v);
}

/* One index scan for both trace reads: this uncached one and the block-cache
 * one of store_query.c (store_int.h). */
int col_store_trace_blocks(col_store *s, const col_view *view, const uint8_t trace_id[16],
                           uint32_t max_blocks, col_bkeys *keys, int *capped_out)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = NULL;
    size_t live = 0;
    int rv = 0;
    char *rerr = NULL;

    if (max_blocks == 0)
        max_blocks = 4096;
    if (ro == NULL)
        return SL_ENOMEM;
    rocksdb_readoptions_set_prefix_same_as_start(ro, 1);
    rocksdb_readoptions_set_snapshot(ro, view->snap);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_TIDX]);
    /* A row names its block in the key and, when written for a window of
     * frames (store_hotidx.c), the trace's other frames in the value:
     * version byte 1, then 12-byte keys. */
    for (rocksdb_iter_seek(it, (const char *)trace_id, 16); rocksdb_iter_valid(it) && rv == 0;
         rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        const uint8_t *v;
        if (klen != COL_TIDX_KEY_LEN || memcmp(k, trace_id, 16) != 0)
            break;
        rv = col_bkeys_add(keys, (const uint8_t *)k + 16);
        v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        if (vlen > 1 && v[0] == 1)
            for (size_t off = 1; off + COL_BLOCK_KEY_LEN <= vlen && rv == 0;
                 off += COL_BLOCK_KEY_LEN)
                rv = col_bkeys_add(keys, v + off);
        if (keys->n > 4 * (size_t)max_blocks + 64)
            break; /* plenty: even after dead keys and duplicates go, it is capped */
    }
    if (rv == 0) {
        rocksdb_iter_get_error(it, &rerr);
        if (rerr != NULL)
            rv = col_store_rocks_err(rerr, "scanning the trace index", NULL, 0);
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rv != 0)
        return rv;
    /* Dropped by retention or replaced by sealing: a frame's key newer
     * than the newest in its row may be dead while the row is not. */
    for (size_t i = 0; i < keys->n; i++)
        if (!col_view_dead(view, keys->k[i]))
            memcpy(keys->k[live++], keys->k[i], COL_BLOCK_KEY_LEN);
    keys->n = live;
    col_bkeys_sort_unique(keys);
    *capped_out = keys->n > max_blocks;
    if (keys->n > max_blocks)
        keys->n = max_blocks;
    return keys->n == 0 ? SL_ENOTFOUND : 0;
}

int col_read_trace_with(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                        int want_spans, col_gather_fn gather, slc_batch **out, int *blocks_capped)
{
    col_bkeys keys = {0};
    int capped = 0, rv;
    slc_batch *dst = NULL;
    col_view view = {0};

    /* The in-memory window before the snapshot: a window written to disk
     * and dropped from memory in between is then in the snapshot. */
    rv = col_hot_lookup(s, trace_id, &keys);
    if (rv == 0)
        rv = col_view_open(s, &view);
    if (rv != 0)
        goto out;
    rv = col_store_trace_blocks(s, &view, trace_id, max_blocks, &keys, &capped);
    if (rv != 0)
        goto out;
    dst = slc_batch_new();
    if (dst == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < keys.n && rv == 0; i++)
        rv = gather(s, &view, keys.k[i], trace_id, want_spans, dst);
    if (rv == 0 && dst->nspans == 0 && dst->nlogs == 0)
        rv = SL_ENOTFOUND;
    if (rv == 0) {
        *out = dst;
        dst = NULL;
        if (blocks_capped != NULL)
            *blocks_capped = capped;
    }
out:
    col_view_close(s, &view);
    slc_batch_free(dst);
    free(keys.k);
    return rv;
}

static int store_read_trace(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                            slc_batch **out, int *blocks_capped)
{
    return col_read_trace_with(s, trace_id, max_blocks, 1, col_gather_stored, out, blocks_capped);
}

int col_store_read_trace(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                         slc_batch **out, int *blocks_capped)
{
    COL_DB_CALL(s, 0, store_read_trace(s, trace_id, max_blocks, out, blocks_capped));
}

/* Parses a roots value into r (key fields filled by the caller).  0 or -1. */
static int col_parse_root(const uint8_t *v, size_t n, col_root *r)
{
    size_t off = 12, sl, nl;

    if (n < 14 || v[0] != COL_ROOT_VAL_VERSION)
        return -1;
    r->error = (v[1] & COL_ROOT_F_ERROR) != 0;
    r->kind = v[2];
    r->duration_ns = slc_get_le64(v + 4);
    sl = (size_t)v[off] | (size_t)v[off + 1] << 8;
    off += 2;
    if (sl >= COL_ROOT_SERVICE_MAX || off + sl + 2 > n)
        return -1;
    memcpy(r->service, v + off, sl);
    r->service[sl] = '\0';
    off += sl;
    nl = (size_t)v[off] | (size_t)v[off + 1] << 8;
    off += 2;
    if (nl >= COL_ROOT_NAME_MAX || off + nl > n)
        return -1;
    memcpy(r->name, v + off, nl);
    r->name[nl] = '\0';
    return 0;
}

static int store_list_roots(col_store *s, const char *service, uint64_t since_ns, uint64_t until_ns,
                            col_root *out, size_t max, size_t max_scan, size_t *n)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it;
    uint8_t lower[8], seek[COL_ROOT_KEY_LEN];
    size_t count = 0, scanned = 0;
    char *rerr = NULL;
    int rv = 0;

    if (ro == NULL)
        return SL_ENOMEM;
    slc_put_be64(lower, since_ns);
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lower, sizeof lower);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_ROOTS]);
    slc_put_be64(seek, until_ns);
    memset(seek + 8, 0xff, 16);
    for (rocksdb_iter_seek_for_prev(it, (const char *)seek, sizeof seek);
         rocksdb_iter_valid(it) && count < max; rocksdb_iter_prev(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        col_root *r = &out[count];

        if (max_scan > 0 && ++scanned > max_scan)
            break;
        if (klen != COL_ROOT_KEY_LEN)
            continue;
        r->start_ns = slc_get_be64(k);
        if (r->start_ns < since_ns)
            break;
        memcpy(r->trace_id, k + 8, 16);
        if (col_parse_root(v, vlen, r) != 0)
            continue;
        if (service != NULL && strcmp(service, r->service) != 0)
            continue;
        count++;
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL)
        rv = col_store_rocks_err(rerr, "scanning roots", NULL, 0);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rv == 0)
        *n = count;
    return rv;
}

int col_store_list_roots(col_store *s, const char *service, uint64_t since_ns, uint64_t until_ns,
                         col_root *out, size_t max, size_t max_scan, size_t *n)
{
    COL_DB_CALL(s, 0, store_list_roots(s, service, since_ns, until_ns, out, max, max_scan, n));
}

static int store_services(col_store *s, int (*fn)(const char *name, size_t len, void *arg),
                          void *arg)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_META]);
    char *rerr = NULL;
    int rv = 0;

    for (rocksdb_iter_seek(it, COL_META_SVC, 2); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < 2 || memcmp(k, COL_META_SVC, 2) != 0)
            break;
        if (fn(k + 2, klen - 2, arg) != 0)
            break;
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL)
        rv = col_store_rocks_err(rerr, "scanning services", NULL, 0);
    rocksdb_iter_destroy(it);
    return rv;
}

int col_store_services(col_store *s, int (*fn)(const char *name, size_t len, void *arg),
                       void *arg)
{
    COL_DB_CALL(s, 0, store_services(s, fn, arg));
}

static uint64_t col_prop(col_store *s, int cf, const char *name)
{
    uint64_t v = 0;
    if (cf < 0)
        return rocksdb_property_int(s->db, name, &v) == 0 ? v : 0;
    return rocksdb_property_int_cf(s->db, s->cf[cf], name, &v) == 0 ? v : 0;
}

static int store_get_stats(col_store *s, col_store_stats *st)
{
    for (int i = 0; i < COL_STORE_NCF; i++) {
        int cf = CF_BLOCKS + i;
        st->cf_keys[i] = col_prop(s, cf, "rocksdb.estimate-num-keys");
        st->cf_sst_bytes[i] = col_prop(s, cf, "rocksdb.total-sst-files-size");
        st->cf_mem_bytes[i] = col_prop(s, cf, "rocksdb.cur-size-all-mem-tables");
        st->live_data_bytes += col_prop(s, cf, "rocksdb.estimate-live-data-size");
        st->pending_compaction_bytes += col_prop(s, cf, "rocksdb.estimate-pending-compaction-bytes");
    }
    st->write_stopped = col_prop(s, -1, "rocksdb.is-write-stopped");
    st->delayed_write_rate = col_prop(s, -1, "rocksdb.actual-delayed-write-rate");
    st->block_cache_bytes = rocksdb_cache_get_usage(s->cache);
    st->edge_tracker_bytes = col_edges_bytes(s->edges);
    st->retention_runs = atomic_load(&s->ret_runs);
    st->retention_cutoff_ns = atomic_load(&s->cutoff_ns);
    st->seal_runs = atomic_load(&s->seal_runs);
    st->sealed_frames = atomic_load(&s->sealed_frames);
    st->sealed_items = atomic_load(&s->sealed_items);
    st->sealed_blocks = atomic_load(&s->sealed_blocks);
    st->seal_bytes_in = atomic_load(&s->seal_bytes_in);
    st->seal_bytes_out = atomic_load(&s->seal_bytes_out);
    st->sealed_until_ns = atomic_load(&s->sealed_ns);
    st->seal_last_ms = atomic_load(&s->seal_last_ms);
    st->retention_last_ms = atomic_load(&s->ret_last_ms);
    st->tidx_windows = atomic_load(&s->hot_windows);
    st->tidx_rows = atomic_load(&s->hot_rows);
    st->tidx_pairs = atomic_load(&s->hot_pairs);
    st->tidx_reindexed_frames = atomic_load(&s->hot_reindexed);
    return 0;
}

void col_store_get_stats(col_store *s, col_store_stats *st)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < COL_STORE_NCF; i++)
        st->cf_name[i] = col_cf_names[CF_BLOCKS + i];
    if (col_db_enter(s, 0) == 0) {
        store_get_stats(s, st);
        col_db_exit(s);
    }
    col_disk_stats(s, st);
}
