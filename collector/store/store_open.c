/*
 * store_open.c - opening and closing the store: RocksDB options per
 * family, the merge operator and compaction filter, the metadata read at
 * open (format, cutoff, block clock) (docs/storage.md).
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
#include <sys/stat.h>

/* ---- open / close ------------------------------------------------------- */

/* Per-family tuning, chosen by how each family is read (docs/storage.md):
 * blocks hold zlib'd frames (LZ4 only helps uncompressed frames; RocksDB
 * keeps a block raw when compression does not pay) and are read by exact
 * key; tidx is read by 16-byte trace-id prefix, so it gets a prefix bloom;
 * dedupe is probed once per frame and nearly always misses, so it gets a
 * whole-key bloom. */
/* ---- merge operator (rollup) and compaction filter (indexes) ----------- */

static char *col_merge_full(void *state, const char *key, size_t klen, const char *existing,
                            size_t elen, const char *const *ops, const size_t *oplens, int nops,
                            unsigned char *success, size_t *outlen)
{
    uint8_t *v;

    (void)state;
    (void)key;
    (void)klen;
    v = col_rollup_merge((const uint8_t *)existing, elen, ops, oplens, nops, outlen);
    *success = v != NULL;
    return (char *)v;
}

static char *col_merge_partial(void *state, const char *key, size_t klen, const char *const *ops,
                               const size_t *oplens, int nops, unsigned char *success,
                               size_t *outlen)
{
    return col_merge_full(state, key, klen, NULL, 0, ops, oplens, nops, success, outlen);
}

static void col_merge_delete(void *state, const char *v, size_t len)
{
    (void)state;
    (void)len;
    free((void *)v);
}

static const char *col_merge_name(void *state)
{
    (void)state;
    return "sightline.rollup.v1";
}

static void col_noop_destroy(void *state)
{
    (void)state;
}

/* Index rows (tidx, sidx, lidx) name their block in the key; once
 * retention dropped the blocks below the cutoff, or sealing replaced the
 * frames below its watermark, rows pointing there are dead and compaction
 * drops them without a lookup.  state gives the
 * family's offset of the block time in the key. */
static unsigned char col_cfilter_fn(void *state, int level, const char *key, size_t klen,
                                    const char *val, size_t vlen, char **nv, size_t *nvlen,
                                    unsigned char *changed)
{
    const struct col_cfilter *f = state;
    uint64_t cutoff = atomic_load_explicit(&f->s->cutoff_ns, memory_order_relaxed);

    (void)level;
    (void)nv;
    (void)nvlen;
    *changed = 0;
    if (f->in_value) /* dedupe: the value is the block key (kept after sealing) */
        return cutoff != 0 && vlen >= 8 && slc_get_be64((const uint8_t *)val) < cutoff;
    if (klen < f->time_off + COL_BLOCK_KEY_LEN)
        return 0;
    /* Rows of blocks dropped by retention, and rows of frames that sealing
     * replaced (the sealed block has rows of its own). */
    return col_block_dead(f->s, (const uint8_t *)key + f->time_off);
}

static const char *col_cfilter_name(void *state)
{
    (void)state;
    return "sightline.index-retention.v1";
}

static rocksdb_options_t *col_cf_options(col_store *s, int cf, const col_store_opts *o)
{
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_block_based_table_options_t *bbt = rocksdb_block_based_options_create();
    int wb_mb = o->write_buffer_mb > 0 ? o->write_buffer_mb : 64;

    rocksdb_block_based_options_set_block_cache(bbt, s->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(bbt, 1);
    rocksdb_options_set_compression(opt, rocksdb_lz4_compression);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(opt, 1);
    switch (cf) {
    case CF_BLOCKS:
        rocksdb_options_set_write_buffer_size(opt, (size_t)wb_mb << 20);
        rocksdb_options_set_max_write_buffer_number(opt, 3);
        rocksdb_block_based_options_set_block_size(bbt, 64 << 10);
        break;
    case CF_TIDX:
        rocksdb_options_set_write_buffer_size(opt, (size_t)32 << 20);
        rocksdb_options_set_max_write_buffer_number(opt, 3);
        rocksdb_options_set_prefix_extractor(opt, rocksdb_slicetransform_create_fixed_prefix(16));
        /* The default skiplist memtable.  Rows come in sorted batches (one
         * per trace per second from the in-memory window, one per trace
         * per sealed block), so each insert lands next to the previous
         * one.  The hash-link-list memtable used while ingest wrote ~0.5
         * random rows per span made inserts O(1) but sorted every row
         * again at flush: with sealing's rows on top, 2 x 375k rows took
         * ~3 s of a flush thread at the log benchmark's close. */
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(opt, 0.05);
        rocksdb_block_based_options_set_whole_key_filtering(bbt, 0);
        rocksdb_block_based_options_set_filter_policy(bbt, rocksdb_filterpolicy_create_bloom_full(10));
        break;
    case CF_SIDX:
    case CF_LIDX:
        rocksdb_options_set_write_buffer_size(opt, (size_t)16 << 20);
        rocksdb_options_set_prefix_extractor(opt, rocksdb_slicetransform_create_fixed_prefix(8));
        break;
    case CF_ROLLUP:
        rocksdb_options_set_write_buffer_size(opt, (size_t)16 << 20);
        rocksdb_options_set_merge_operator(
            opt, rocksdb_mergeoperator_create(NULL, col_noop_destroy, col_merge_full,
                                              col_merge_partial, col_merge_delete,
                                              col_merge_name));
        break;
    case CF_DEDUPE:
        rocksdb_options_set_write_buffer_size(opt, (size_t)16 << 20);
        rocksdb_options_set_compression(opt, rocksdb_no_compression);
        rocksdb_block_based_options_set_filter_policy(bbt, rocksdb_filterpolicy_create_bloom_full(10));
        break;
    default:
        rocksdb_options_set_write_buffer_size(opt, (size_t)16 << 20);
        break;
    }
    if (cf == CF_TIDX || cf == CF_SIDX || cf == CF_LIDX || cf == CF_DEDUPE) {
        /* One filter object per family, owned by the options (destructor
         * is a no-op: the state is static). */
        s->cfilter_state[cf].s = s;
        s->cfilter_state[cf].time_off = cf == CF_TIDX ? 16 : 8;
        s->cfilter_state[cf].in_value = cf == CF_DEDUPE;
        s->cfilter[cf] = rocksdb_compactionfilter_create(&s->cfilter_state[cf], col_noop_destroy,
                                                         col_cfilter_fn, col_cfilter_name);
        rocksdb_options_set_compaction_filter(opt, s->cfilter[cf]);
    }
    rocksdb_options_set_block_based_table_factory(opt, bbt);
    rocksdb_block_based_options_destroy(bbt);
    return opt;
}

/* Block keys must never repeat, also across restarts and if the clock steps
 * back: start after the newest stored key. */
static void col_init_block_clock(col_store *s)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOCKS]);
    size_t klen = 0;

    rocksdb_iter_seek_to_last(it);
    if (rocksdb_iter_valid(it)) {
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == COL_BLOCK_KEY_LEN)
            atomic_store(&s->last_block_ns, slc_get_be64((const uint8_t *)k));
    }
    rocksdb_iter_destroy(it);
}

/* The retention cutoff survives restarts, so index rows of dropped blocks
 * stay invisible and keep being compacted away. */
static void col_load_cutoff(col_store *s)
{
    char *rerr = NULL, *v;
    size_t vlen = 0;

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], "cutoff", 6, &vlen, &rerr);
    if (rerr != NULL) {
        rocksdb_free(rerr);
        return;
    }
    if (v != NULL && vlen == 8)
        atomic_store(&s->cutoff_ns, slc_get_be64((const uint8_t *)v));
    rocksdb_free(v);
}

static int col_check_format(col_store *s, int *fresh, char *err, size_t errlen)
{
    char *rerr = NULL, *v;
    size_t vlen = 0;
    int rv = 0;

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], "format", 6, &vlen, &rerr);
    if (rerr != NULL)
        return col_store_rocks_err(rerr, "reading the format version", err, errlen);
    *fresh = v == NULL;
    if (v == NULL && atomic_load(&s->db_read_only)) {
        snprintf(err, errlen, "the store has no format version and cannot be written now");
        return SL_ESTORE;
    }
    if (v == NULL) {
        rocksdb_put_cf(s->db, s->wopts, s->cf[CF_META], "format", 6, COL_FORMAT_VERSION,
                       strlen(COL_FORMAT_VERSION), &rerr);
        if (rerr != NULL)
            return col_store_rocks_err(rerr, "writing the format version", err, errlen);
        return 0;
    }
    if (vlen != strlen(COL_FORMAT_VERSION) || memcmp(v, COL_FORMAT_VERSION, vlen) != 0) {
        snprintf(err, errlen,
                 "data directory holds storage format '%.*s', this collector reads '%s'; "
                 "use another --data directory",
                 (int)(vlen > 16 ? 16 : vlen), v, COL_FORMAT_VERSION);
        rv = SL_ESTORE;
    }
    rocksdb_free(v);
    return rv;
}

/* The time from which the store has a kind of row that older versions did
 * not write (meta key name, be64 Unix ns): 0 for a new store, else read
 * back, or set to now the first time this version opens an older store.
 * Readers use the old rows for data before it. */
static int col_meta_since(col_store *s, const char *name, int fresh, uint64_t *out, char *err,
                          size_t errlen)
{
    char *rerr = NULL, *v;
    size_t vlen = 0;
    uint8_t be[8];

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], name, strlen(name), &vlen, &rerr);
    if (rerr != NULL)
        return col_store_rocks_err(rerr, "reading the store's metadata", err, errlen);
    if (v != NULL) {
        *out = vlen == 8 ? slc_get_be64((const uint8_t *)v) : 0;
        rocksdb_free(v);
        return 0;
    }
    *out = fresh ? 0 : slc_now_ns();
    if (atomic_load(&s->db_read_only))
        return 0; /* written by the first read-write open */
    slc_put_be64(be, *out);
    rocksdb_put_cf(s->db, s->wopts, s->cf[CF_META], name, strlen(name), (const char *)be, 8,
                   &rerr);
    if (rerr != NULL)
        return col_store_rocks_err(rerr, "writing the store's metadata", err, errlen);
    return 0;
}

/* RocksDB's info log level: FATAL (nothing after the header) unless
 * SIGHTLINE_ROCKSDB_LOG is debug, info, warn or error. */
static int col_rocksdb_log_level(void)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    const char *env = getenv("SIGHTLINE_ROCKSDB_LOG");

    for (int i = 0; env != NULL && i < 4; i++)
        if (strcmp(env, names[i]) == 0)
            return i;
    return 4; /* FATAL_LEVEL */
}

int col_store_open(const char *dir, const col_store_opts *o, col_store **out, char *err,
                   size_t errlen)
{
    col_store_opts defaults = {0};
    col_store *s;
    int rv, fresh = 0, ro = 0;

    if (o == NULL)
        o = &defaults;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    pthread_mutex_init(&s->claim_mu, NULL);
    pthread_mutex_init(&s->svc_mu, NULL);
    pthread_mutex_init(&s->ret_mu, NULL);
    pthread_cond_init(&s->ret_cv, NULL);
    pthread_mutex_init(&s->seal_mu, NULL);
    pthread_cond_init(&s->seal_cv, NULL);
    pthread_mutex_init(&s->seal_pass_mu, NULL);
    s->edges = col_edges_new(o->edge_slots);
    s->dir = strdup(dir);
    if (s->edges == NULL || s->dir == NULL) {
        col_store_close(s);
        return SL_ENOMEM;
    }
    s->clock = o->clock;
    s->clock_arg = o->clock_arg;
    s->cache = rocksdb_cache_create_lru((size_t)(o->block_cache_mb > 0 ? o->block_cache_mb : 64)
                                        << 20);
    s->dbopts = rocksdb_options_create();
    {
        /* No fallocate: RocksDB preallocates each new WAL and SST file to
         * ~1.1 x its write buffer or target size, so free space dropped by
         * tens of MB for a moment on every flush.  The free-space reserve
         * (col_check_free) then refused writes on a disk that was not full,
         * and a preallocation past the reserve met ENOSPC inside RocksDB.
         * Only the string interface reaches this option from C. */
        rocksdb_options_t *o2 = rocksdb_options_create();
        char *ferr = NULL;
        /* avoid_flush_during_shutdown: a clean close flushes explicitly
         * (col_db_close_handle); a close after an I/O error must not make
         * RocksDB write again.  avoid_flush_during_recovery: an open replays
         * the WAL into memtables instead of writing them out as tables
         * first, so a store whose disk filled up opens in the space there is
         * (store_disk.c); in point-in-time recovery RocksDB keeps replaying
         * past a WAL's torn tail when the next WAL's sequence follows on. */
        rocksdb_get_options_from_string(s->dbopts,
                                        "allow_fallocate=false;avoid_flush_during_shutdown=true;"
                                        "avoid_flush_during_recovery=true",
                                        o2, &ferr);
        if (ferr == NULL) {
            rocksdb_options_destroy(s->dbopts);
            s->dbopts = o2;
        } else {
            col_log(COL_LOG_WARN, "cannot set the RocksDB options for a full disk: %s", ferr);
            rocksdb_free(ferr);
            rocksdb_options_destroy(o2);
        }
    }
    rocksdb_options_set_create_if_missing(s->dbopts, 1);
    rocksdb_options_set_create_missing_column_families(s->dbopts, 1);
    rocksdb_options_increase_parallelism(s->dbopts, 2);
    rocksdb_options_set_max_background_jobs(s->dbopts, 4);
    rocksdb_options_set_max_total_wal_size(s->dbopts, (uint64_t)512 << 20);
    rocksdb_options_set_keep_log_file_num(s->dbopts, 4);
    rocksdb_options_set_max_log_file_size(s->dbopts, 8 << 20);
    /* RocksDB's own LOG file lives in the data directory, and Debian's
     * build asserts when its logger writes again after a write failed: a
     * full disk aborted the process from a flush thread's log line.  So
     * the LOG gets only its header at open (written while the guard makes
     * sure there is room) unless SIGHTLINE_ROCKSDB_LOG asks for more, for
     * debugging (docs/storage.md "Disk full"). */
    rocksdb_options_set_info_log_level(s->dbopts, col_rocksdb_log_level());
    rocksdb_options_set_bytes_per_sync(s->dbopts, 1 << 20);
    if (o->memtables_mb > 0)
        rocksdb_options_set_db_write_buffer_size(s->dbopts, (size_t)o->memtables_mb << 20);
    for (int i = 0; i < CF_COUNT; i++)
        s->cfopts[i] = col_cf_options(s, i, o);
    if (col_disk_room_to_open(dir))
        rv = col_db_open(s, 0, err, errlen);
    else {
        rv = SL_EIO;
        snprintf(err, errlen, "No space left on device to open the store read-write");
    }
    if (rv != 0 && strstr(err, "No space left") != NULL) {
        /* The WAL replay needs room for its tables.  Read-only, RocksDB
         * replays into memory and writes nothing: queries work and the
         * disk guard reopens read-write once space returns. */
        char rerr2[256];
        col_log(COL_LOG_WARN, "%s; opening the store read-only until space returns", err);
        rv = col_db_open(s, 1, rerr2, sizeof rerr2);
        ro = rv == 0;
    }
    if (rv != 0) {
        col_store_close(s);
        return rv;
    }
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts, o->fsync ? 1 : 0);
    /* Back-pressure: a write that would stall returns at once and the
     * sender is told to retry, instead of a worker blocking while frames
     * pile up in the transport. */
    rocksdb_writeoptions_set_no_slowdown(s->wopts, 1);
    s->ropts = rocksdb_readoptions_create();
    rv = col_check_format(s, &fresh, err, errlen);
    if (rv == 0)
        rv = col_meta_since(s, "svc_rollup_since", fresh, &s->svc_rollup_since_ns, err, errlen);
    if (rv != 0) {
        col_store_close(s);
        return rv;
    }
    col_init_block_clock(s);
    col_load_cutoff(s);
    col_store_seal_load(s);
    /* The guard exists before the hot index re-indexes (its writes go
     * through col_db_write); its watcher starts once the store is whole. */
    rv = col_disk_start(s, o, ro, err, errlen);
    if (rv != 0) {
        col_store_close(s);
        return rv;
    }
    rv = col_hot_open(s, err, errlen);
    if (rv == 0)
        rv = col_disk_run(s, err, errlen);
    if (rv != 0) {
        col_store_close(s);
        return rv;
    }
    {
        const char *env = getenv("SIGHTLINE_COMPACT_ON_CLOSE");
        s->compact_on_close = o->compact_on_close || (env != NULL && strcmp(env, "1") == 0);
    }
    *out = s;
    return 0;
}

void col_store_close(col_store *s)
{
    if (s == NULL)
        return;
    col_store_retention_stop(s);
    col_store_seal_stop(s);
    /* The hot index's last windows are written while the disk guard still
     * runs: its writes go through the guard (col_db_write). */
    col_hot_stop(s);
    if (s->db != NULL && s->compact_on_close && !atomic_load(&s->db_read_only) &&
        !atomic_load(&s->db_failed)) {
        /* Benchmarks measure bytes on disk once everything is sealed and
         * compacted (nothing is being written any more). */
        col_seal_opts so = s->seal;
        int crv = so.disabled ? 0 : col_store_seal(s, &so, UINT64_MAX, NULL, NULL);
        if (crv != 0)
            col_log(COL_LOG_WARN, "sealing at close failed: %s", sl_strerror(crv));
        crv = col_store_compact(s);
        if (crv != 0)
            col_log(COL_LOG_WARN, "compaction at close failed: %s", sl_strerror(crv));
    }
    col_disk_stop(s);
    col_db_close_handle(s, 1);
    for (int i = 0; i < CF_COUNT; i++)
        if (s->cfilter[i] != NULL)
            rocksdb_compactionfilter_destroy(s->cfilter[i]);
    col_hot_free(s);
    col_edges_free(s->edges);
    for (int i = 0; i < CF_COUNT; i++)
        if (s->cfopts[i] != NULL)
            rocksdb_options_destroy(s->cfopts[i]);
    if (s->dbopts != NULL)
        rocksdb_options_destroy(s->dbopts);
    if (s->wopts != NULL)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->ropts != NULL)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->cache != NULL)
        rocksdb_cache_destroy(s->cache);
    for (size_t i = 0; i < COL_SVC_CACHE; i++)
        free(s->svc[i].p);
    free(s->dir);
    pthread_mutex_destroy(&s->claim_mu);
    pthread_mutex_destroy(&s->svc_mu);
    pthread_mutex_destroy(&s->ret_mu);
    pthread_cond_destroy(&s->ret_cv);
    pthread_mutex_destroy(&s->seal_mu);
    pthread_cond_destroy(&s->seal_cv);
    pthread_mutex_destroy(&s->seal_pass_mu);
    free(s);
}
