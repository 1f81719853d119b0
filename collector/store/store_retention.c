/*
 * store_retention.c - dropping old data, by age and by size on disk, in a
 * background thread (see store.h and docs/storage.md, "Retention").
 *
 * Why this way: blocks, roots and aggregates are keyed by time, so old data
 * is one contiguous key range per family.  A pass drops whole SST files that
 * lie entirely below the cutoff (DeleteFilesInRange: no I/O), lays a range
 * tombstone over the rest (DeleteRange: one write, no stall), and compacts
 * that range so the space comes back.  The index families (tidx, sidx,
 * lidx, dedupe) are not time-ordered by key prefix; their rows name their
 * block's time, and a compaction filter drops rows older than the cutoff
 * whenever RocksDB compacts them (reads skip them meanwhile).  Nothing here
 * holds a lock that ingest takes, so writes go on during a pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "store_int.h"

#define COL_NS 1000000000ULL
#define COL_INDEX_COMPACT_EVERY_NS (3600ULL * COL_NS)

static uint64_t col_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t col_sst_bytes(col_store *s)
{
    uint64_t total = 0, v;
    for (int cf = CF_BLOCKS; cf < CF_COUNT; cf++)
        if (rocksdb_property_int_cf(s->db, s->cf[cf], "rocksdb.total-sst-files-size", &v) == 0)
            total += v;
    return total;
}

/* Time of the oldest block, 0 when there is none. */
static uint64_t col_oldest_block(col_store *s)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOCKS]);
    uint64_t t = 0;
    size_t klen = 0;

    rocksdb_iter_seek_to_first(it);
    if (rocksdb_iter_valid(it)) {
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == COL_BLOCK_KEY_LEN)
            t = slc_get_be64((const uint8_t *)k);
    }
    rocksdb_iter_destroy(it);
    return t;
}

/* 1 if [lo, hi) of one family holds at least one key (tombstoned keys
 * count as none: the iterator skips them). */
static int col_range_has_keys(col_store *s, int cf, const uint8_t *lo, size_t lolen,
                              const uint8_t *hi, size_t hilen)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[cf]);
    int any = 0;

    rocksdb_iter_seek(it, (const char *)lo, lolen);
    if (rocksdb_iter_valid(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        size_t n = klen < hilen ? klen : hilen;
        int c = memcmp(k, hi, n);
        any = c < 0 || (c == 0 && klen < hilen);
    }
    rocksdb_iter_destroy(it);
    return any;
}

/* Drops [lo, hi) of one family: whole files, then a tombstone, then a
 * compaction of the range. */
static int col_drop_range(col_store *s, int cf, const uint8_t *lo, size_t lolen,
                          const uint8_t *hi, size_t hilen)
{
    char *rerr = NULL;

    if (!col_range_has_keys(s, cf, lo, lolen, hi, hilen))
        return 0; /* a tombstone and a compaction would only cost a flush */
    rocksdb_delete_file_in_range_cf(s->db, s->cf[cf], (const char *)lo, lolen, (const char *)hi,
                                    hilen, &rerr);
    if (rerr != NULL) {
        /* Not fatal: the tombstone below does the job, only slower. */
        col_log(COL_LOG_DEBUG, "retention: delete files in range: %s", rerr);
        rocksdb_free(rerr);
        rerr = NULL;
    }
    {
        /* The range tombstone goes through the WAL like any write but must
         * not be refused by back-pressure: its own write options. */
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        rocksdb_writebatch_delete_range_cf(wb, s->cf[cf], (const char *)lo, lolen,
                                           (const char *)hi, hilen);
        col_db_write(s, wo, wb, &rerr);
        rocksdb_writebatch_destroy(wb);
        rocksdb_writeoptions_destroy(wo);
    }
    if (rerr != NULL)
        return col_store_write_err(s, rerr, "retention: delete range", NULL, 0);
    rocksdb_compact_range_cf(s->db, s->cf[cf], (const char *)lo, lolen, (const char *)hi, hilen);
    return 0;
}

static int col_apply_cutoff(col_store *s, uint64_t cutoff, int compact_indexes)
{
    uint8_t lo[COL_ROOT_KEY_LEN], hi[COL_ROOT_KEY_LEN]; /* big enough for every key */
    char *rerr = NULL;
    int rv;

    /* Publish the cutoff first: from here reads skip index rows below it
     * and the compaction filter drops them. */
    slc_put_be64(hi, cutoff);
    {
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        rocksdb_writebatch_put_cf(wb, s->cf[CF_META], "cutoff", 6, (const char *)hi, 8);
        col_db_write(s, wo, wb, &rerr);
        rocksdb_writebatch_destroy(wb);
        rocksdb_writeoptions_destroy(wo);
    }
    if (rerr != NULL)
        return col_store_write_err(s, rerr, "retention: saving the cutoff", NULL, 0);
    atomic_store(&s->cutoff_ns, cutoff);

    memset(lo, 0, sizeof lo);
    memset(hi + 8, 0, 4);
    rv = col_drop_range(s, CF_BLOCKS, lo, COL_BLOCK_KEY_LEN, hi, COL_BLOCK_KEY_LEN);
    if (rv == 0) {
        memset(hi + 8, 0, COL_ROOT_KEY_LEN - 8);
        rv = col_drop_range(s, CF_ROOTS, lo, COL_ROOT_KEY_LEN, hi, COL_ROOT_KEY_LEN);
    }
    /* Aggregates: per key type, minutes before the cutoff's minute. */
    for (const char *t = "rel"; *t != '\0' && rv == 0; t++) {
        uint8_t rlo[9] = {(uint8_t)*t}, rhi[9] = {(uint8_t)*t};
        slc_put_be64(rhi + 1, cutoff - cutoff % COL_MINUTE_NS);
        rv = col_drop_range(s, CF_ROLLUP, rlo, sizeof rlo, rhi, sizeof rhi);
    }
    /* Per-service RED rows are keyed kind first (rollup.h): one range per
     * kind (the wire format allows kinds 0..5). */
    for (unsigned kind = 0; kind <= SLC_KIND_CONSUMER && rv == 0; kind++) {
        uint8_t rlo[10], rhi[10];
        col_rollup_svc_key(rlo, (uint8_t)kind, 0);
        col_rollup_svc_key(rhi, (uint8_t)kind, cutoff - cutoff % COL_MINUTE_NS);
        rv = col_drop_range(s, CF_ROLLUP, rlo, sizeof rlo, rhi, sizeof rhi);
    }
    if (rv == 0 && compact_indexes) {
        static const int idx[] = {CF_TIDX, CF_SIDX, CF_LIDX, CF_DEDUPE};
        for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
            rocksdb_compact_range_cf(s->db, s->cf[idx[i]], NULL, 0, NULL, 0);
    }
    return rv;
}

static int store_retention_run(col_store *s, const col_retention_opts *o, uint64_t now_ns,
                               uint64_t *deleted_before)
{
    static _Atomic uint64_t last_index_compact;
    uint64_t cutoff = 0, cur = atomic_load(&s->cutoff_ns), t0 = col_mono_ms();
    int by_size = 0, rv = 0;

    if (o->max_age_ns > 0 && now_ns > o->max_age_ns)
        cutoff = now_ns - o->max_age_ns;
    if (o->max_bytes > 0) {
        uint64_t total = col_sst_bytes(s);
        if (total > o->max_bytes) {
            /* Drop the oldest slice of the block time range in proportion
             * to the excess, aiming 10% under the bound so passes do not
             * nibble.  Blocks dominate the bytes, so time ~ bytes. */
            uint64_t oldest = col_oldest_block(s), newest = atomic_load(&s->last_block_ns);
            uint64_t target = o->max_bytes - o->max_bytes / 10;
            if (oldest > 0 && newest > oldest) {
                double f = (double)(total - target) / (double)total;
                uint64_t c = oldest + (uint64_t)((double)(newest - oldest) * f) + 1;
                if (c > cutoff)
                    cutoff = c;
                by_size = 1;
            }
        }
    }
    if (cutoff > cur && !by_size) {
        /* Nothing below the new cutoff yet: skip, except for an hourly
         * sweep of the span-time-keyed families (roots, aggregates). */
        uint64_t oldest = col_oldest_block(s);
        if ((oldest == 0 || oldest >= cutoff) && cutoff - cur < 3600 * COL_NS)
            cutoff = cur;
    }
    if (cutoff > cur) {
        uint64_t last = atomic_load(&last_index_compact);
        int compact_idx = by_size || now_ns - last > COL_INDEX_COMPACT_EVERY_NS;
        rv = col_apply_cutoff(s, cutoff, compact_idx);
        if (rv == 0 && compact_idx)
            atomic_store(&last_index_compact, now_ns);
        if (rv == 0)
            col_log(COL_LOG_INFO, "retention: dropped data received before %llu ns (%s) in %llu ms",
                    (unsigned long long)cutoff, by_size ? "size bound" : "age bound",
                    (unsigned long long)(col_mono_ms() - t0));
    } else {
        cutoff = 0;
    }
    atomic_fetch_add(&s->ret_runs, 1);
    atomic_store(&s->ret_last_ms, col_mono_ms() - t0);
    if (rv == 0 && deleted_before != NULL)
        *deleted_before = cutoff;
    return rv;
}

int col_store_retention_run(col_store *s, const col_retention_opts *o, uint64_t now_ns,
                            uint64_t *deleted_before)
{
    COL_DB_CALL(s, 1, store_retention_run(s, o, now_ns, deleted_before));
}

static void *col_retention_main(void *arg)
{
    col_store *s = arg;

    pthread_mutex_lock(&s->ret_mu);
    while (!s->ret_stop) {
        col_retention_opts o = s->ret;
        uint64_t iv = o.interval_ns > 0 ? o.interval_ns : 60 * COL_NS;

        pthread_mutex_unlock(&s->ret_mu);
        if (col_store_retention_run(s, &o, slc_now_ns(), NULL) != 0)
            col_log(COL_LOG_WARN, "retention pass failed; will try again");
        pthread_mutex_lock(&s->ret_mu);
        if (!s->ret_stop)
            col_cond_wait_ns(&s->ret_cv, &s->ret_mu, iv);
    }
    pthread_mutex_unlock(&s->ret_mu);
    return NULL;
}

int col_store_retention_start(col_store *s, const col_retention_opts *o)
{
    pthread_mutex_lock(&s->ret_mu);
    s->ret = *o;
    s->ret_stop = 0;
    if (!s->ret_started && pthread_create(&s->ret_thread, NULL, col_retention_main, s) == 0)
        s->ret_started = 1;
    pthread_mutex_unlock(&s->ret_mu);
    return s->ret_started ? 0 : SL_ENOMEM;
}

void col_store_retention_set(col_store *s, const col_retention_opts *o)
{
    pthread_mutex_lock(&s->ret_mu);
    s->ret = *o;
    pthread_cond_signal(&s->ret_cv);
    pthread_mutex_unlock(&s->ret_mu);
}

void col_store_retention_stop(col_store *s)
{
    pthread_mutex_lock(&s->ret_mu);
    s->ret_stop = 1;
    pthread_cond_signal(&s->ret_cv);
    pthread_mutex_unlock(&s->ret_mu);
    if (s->ret_started) {
        pthread_join(s->ret_thread, NULL);
        s->ret_started = 0;
    }
}

static int store_compact(col_store *s)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    char *rerr = NULL;

    rocksdb_flushoptions_set_wait(fo, 1);
    for (int cf = CF_BLOCKS; cf < CF_COUNT && rerr == NULL; cf++)
        rocksdb_flush_cf(s->db, fo, s->cf[cf], &rerr);
    rocksdb_flushoptions_destroy(fo);
    if (rerr != NULL)
        return col_store_write_err(s, rerr, "flushing", NULL, 0);
    for (int cf = CF_BLOCKS; cf < CF_COUNT; cf++)
        rocksdb_compact_range_cf(s->db, s->cf[cf], NULL, 0, NULL, 0);
    return 0;
}

int col_store_compact(col_store *s)
{
    COL_DB_CALL(s, 1, store_compact(s));
}
