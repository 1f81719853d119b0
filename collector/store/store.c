/*
 * store.c - the RocksDB schema: writes and reads (see store.h and
 * docs/storage.md).  The only file in the tree that includes rocksdb/c.h.
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "coldblock.h"
#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

static const char *const col_cf_names[CF_COUNT] = {"default", "blocks", "tidx", "roots", "dedupe",
                                                   "meta",    "sidx",   "lidx", "rollup"};

static void dedupe_key(const col_batch_key *k, uint8_t out[COL_DEDUPE_KEY_LEN])
{
    slc_put_be64(out, k->batch_id);
    slc_put_be32(out + 8, k->crc);
}

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

int col_db_open(col_store *s, int read_only, char *err, size_t errlen)
{
    const rocksdb_options_t *cfo[CF_COUNT];
    char *rerr = NULL;
    int rv;

    for (int i = 0; i < CF_COUNT; i++)
        cfo[i] = s->cfopts[i];
    if (read_only)
        s->db = rocksdb_open_for_read_only_column_families(s->dbopts, s->dir, CF_COUNT,
                                                           col_cf_names, cfo, s->cf, 0, &rerr);
    else
        s->db = rocksdb_open_column_families(s->dbopts, s->dir, CF_COUNT, col_cf_names, cfo,
                                             s->cf, &rerr);
    if (rerr != NULL) {
        rv = col_store_rocks_err(rerr, read_only ? "opening RocksDB read-only" : "opening RocksDB",
                                 err, errlen);
        if (strstr(err, "lock") != NULL && strlen(err) + 60 < errlen)
            snprintf(err + strlen(err), errlen - strlen(err),
                     " (is another collector using this --data directory?)");
        s->db = NULL;
        memset(s->cf, 0, sizeof s->cf);
        return rv;
    }
    atomic_store(&s->db_read_only, read_only);
    atomic_store(&s->db_failed, 0);
    return 0;
}

void col_db_close_handle(col_store *s, int flush)
{
    if (s->db == NULL)
        return;
    if (flush && !atomic_load(&s->db_read_only) && !atomic_load(&s->db_failed) &&
        col_disk_can_flush(s)) {
        /* Flush so a restart does not replay a large WAL and the data
         * directory shows the real table sizes.  Not after an I/O error:
         * RocksDB must not write again until it is reopened. */
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        char *rerr = NULL;
        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = CF_BLOCKS; i < CF_COUNT && rerr == NULL; i++)
            rocksdb_flush_cf(s->db, fo, s->cf[i], &rerr);
        if (rerr != NULL) {
            col_log(COL_LOG_WARN, "flush at close: %s (the WAL still has everything)", rerr);
            rocksdb_free(rerr);
        }
        rocksdb_flushoptions_destroy(fo);
    }
    for (int i = 0; i < CF_COUNT; i++)
        if (s->cf[i] != NULL)
            rocksdb_column_family_handle_destroy(s->cf[i]);
    memset(s->cf, 0, sizeof s->cf);
    rocksdb_close(s->db);
    s->db = NULL;
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
    rv = col_hot_open(s, err, errlen);
    if (rv == 0)
        rv = col_disk_start(s, o, ro, err, errlen);
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
    col_disk_stop(s);
    col_hot_stop(s);
    if (s->db != NULL && s->compact_on_close && !atomic_load(&s->db_read_only)) {
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

/* ---- write -------------------------------------------------------------- */

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

/* 1 if the name is already known (no need to write it). */
static int col_svc_known(col_store *s, const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);
    int known = 0;

    pthread_mutex_lock(&s->svc_mu);
    for (size_t i = 0; i < COL_SVC_CACHE; i++) {
        const struct col_svc_ent *e = &s->svc[(h + i) & (COL_SVC_CACHE - 1)];
        if (e->p == NULL)
            break;
        if (e->n == n && memcmp(e->p, p, n) == 0) {
            known = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->svc_mu);
    return known;
}

static void col_svc_remember(col_store *s, const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);

    pthread_mutex_lock(&s->svc_mu);
    if (s->nsvc < COL_SVC_CACHE / 2) {
        for (size_t i = 0; i < COL_SVC_CACHE; i++) {
            struct col_svc_ent *e = &s->svc[(h + i) & (COL_SVC_CACHE - 1)];
            if (e->p == NULL) {
                e->p = malloc(n + 1);
                if (e->p != NULL) {
                    memcpy(e->p, p, n);
                    e->p[n] = '\0';
                    e->n = n;
                    s->nsvc++;
                }
                break;
            }
            if (e->n == n && memcmp(e->p, p, n) == 0)
                break;
        }
    }
    pthread_mutex_unlock(&s->svc_mu);
}

static void col_put_root(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                         const slc_span *sp)
{
    uint8_t key[COL_ROOT_KEY_LEN];
    uint8_t val[4 + 8 + 2 + COL_ROOT_SERVICE_MAX + 2 + COL_ROOT_NAME_MAX];
    const slc_str *svc = &b->strs[sp->service], *name = &b->strs[sp->name];
    uint16_t sl = (uint16_t)(svc->len < COL_ROOT_SERVICE_MAX - 1 ? svc->len
                                                                  : COL_ROOT_SERVICE_MAX - 1);
    uint16_t nl = (uint16_t)(name->len < COL_ROOT_NAME_MAX - 1 ? name->len
                                                                : COL_ROOT_NAME_MAX - 1);
    size_t off = 0;

    slc_put_be64(key, sp->start_ns);
    memcpy(key + 8, sp->trace_id, 16);
    val[off++] = COL_ROOT_VAL_VERSION;
    val[off++] = sp->status == SLC_STATUS_ERROR ? COL_ROOT_F_ERROR : 0;
    val[off++] = sp->kind;
    val[off++] = 0;
    slc_put_le64(val + off, sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0);
    off += 8;
    val[off++] = (uint8_t)sl;
    val[off++] = (uint8_t)(sl >> 8);
    memcpy(val + off, svc->ptr, sl);
    off += sl;
    val[off++] = (uint8_t)nl;
    val[off++] = (uint8_t)(nl >> 8);
    memcpy(val + off, name->ptr, nl);
    off += nl;
    rocksdb_writebatch_put_cf(wb, s->cf[CF_ROOTS], (const char *)key, sizeof key,
                              (const char *)val, off);
}

/* Adds a meta row for each service of the frame not yet known.  Frames
 * usually come from one service, so remembering the previous index avoids
 * nearly every lookup.  Names put are collected in *news for the cache. */
static void col_put_services(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                             uint32_t *news, size_t *nnews, size_t maxnews)
{
    uint32_t prev = UINT32_MAX;
    char key[2 + 1024];

    for (uint64_t i = 0; i < (uint64_t)b->nspans + b->nlogs; i++) {
        uint32_t idx = i < b->nspans ? b->spans[i].service : b->logs[i - b->nspans].service;
        const slc_str *name;
        size_t k;

        if (idx == prev || idx >= b->nstrs)
            continue;
        prev = idx;
        name = &b->strs[idx];
        if (name->len == 0 || name->len > sizeof key - 2 || col_svc_known(s, name->ptr, name->len))
            continue;
        for (k = 0; k < *nnews; k++)
            if (news[k] == idx)
                break;
        if (k < *nnews)
            continue;
        memcpy(key, COL_META_SVC, 2);
        memcpy(key + 2, name->ptr, name->len);
        rocksdb_writebatch_put_cf(wb, s->cf[CF_META], key, 2 + name->len, "", 0);
        if (*nnews < maxnews)
            news[(*nnews)++] = idx;
    }
}

/* ---- search index rows (sidx, lidx) ------------------------------------ */

/* A growable byte buffer for index values, capped at cap bytes. */
struct col_buf {
    uint8_t *p;
    size_t n, cap;
};

static int col_buf_reserve(struct col_buf *b, size_t more)
{
    if (b->n + more > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        uint8_t *np;
        while (nc < b->n + more)
            nc *= 2;
        np = realloc(b->p, nc);
        if (np == NULL)
            return SL_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    return 0;
}

static int col_buf_varint(struct col_buf *b, uint64_t v)
{
    if (col_buf_reserve(b, 10) != 0)
        return SL_ENOMEM;
    b->n += slc_varint_put(b->p + b->n, v);
    return 0;
}

static int col_buf_str(struct col_buf *b, const slc_str *str)
{
    if (col_buf_varint(b, str->len) != 0 || col_buf_reserve(b, str->len) != 0)
        return SL_ENOMEM;
    memcpy(b->p + b->n, str->ptr, str->len);
    b->n += str->len;
    return 0;
}

/* Frames are grouped by hashing, never by sorting their items: a qsort of
 * 512 spans per frame through a comparator cost more than all the index
 * rows it produced.  Only the few groups are sorted, to keep rows in a
 * stable order. */
uint64_t col_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* An open-addressing table of group ids, keyed by a caller-computed
 * 64-bit key: slot -> group + 1 (0 = empty). */
struct col_gtab {
    uint32_t *slot;
    uint64_t *key;
    size_t mask, n;
};

static int col_gtab_init(struct col_gtab *t, size_t items)
{
    size_t cap = 16;
    while (cap < items * 2)
        cap <<= 1;
    t->slot = calloc(cap, sizeof *t->slot);
    t->key = malloc((items + 1) * sizeof *t->key);
    t->mask = cap - 1;
    t->n = 0;
    return t->slot != NULL && t->key != NULL ? 0 : SL_ENOMEM;
}

static void col_gtab_free(struct col_gtab *t)
{
    free(t->slot);
    free(t->key);
}

/* The group of key k; *fresh = 1 when it was just created. */
static uint32_t col_gtab_get(struct col_gtab *t, uint64_t k, int *fresh)
{
    for (size_t i = col_mix64(k) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t g = t->slot[i];
        if (g == 0) {
            t->key[t->n] = k;
            t->slot[i] = (uint32_t)++t->n;
            *fresh = 1;
            return (uint32_t)(t->n - 1);
        }
        if (t->key[g - 1] == k) {
            *fresh = 0;
            return g - 1;
        }
    }
}

struct col_sgroup {
    uint32_t svc, name;
    uint64_t cnt, errs, mind, maxd, mins, maxs;
};

static int col_cmp_sgroup(const void *a, const void *b)
{
    const struct col_sgroup *x = a, *y = b;
    if (x->svc != y->svc)
        return x->svc < y->svc ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static void col_put_xidx(col_store *s, rocksdb_writebatch_t *wb, int cf, uint64_t h,
                         const uint8_t bkey[COL_BLOCK_KEY_LEN], uint8_t version,
                         uint64_t ngroups, const uint8_t *groups, size_t glen, struct col_buf *tmp)
{
    uint8_t key[COL_XIDX_KEY_LEN];

    tmp->n = 0;
    if (col_buf_reserve(tmp, 11 + glen) != 0)
        return; /* an index row lost to OOM only hides the block from search */
    tmp->p[tmp->n++] = version;
    tmp->n += slc_varint_put(tmp->p + tmp->n, ngroups);
    memcpy(tmp->p + tmp->n, groups, glen);
    tmp->n += glen;
    slc_put_be64(key, h);
    memcpy(key + 8, bkey, COL_BLOCK_KEY_LEN);
    rocksdb_writebatch_put_cf(wb, s->cf[cf], (const char *)key, sizeof key, (const char *)tmp->p,
                              tmp->n);
}

/* One sidx row per service of the frame plus one all-services row (prefix
 * 0), each a list of (service, operation) groups with counts, error counts
 * and duration / start bounds, so a search skips blocks that cannot match
 * before decoding any.  Groups are ordered by (service, operation) string
 * index. */
int col_put_sidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    struct col_sgroup *grp = malloc((size_t)b->nspans * sizeof *grp + 1);
    struct col_gtab t = {0};
    struct col_buf all = {0}, tmp = {0};
    size_t svc_from = 0;
    uint64_t svc_groups = 0;
    int rv = col_gtab_init(&t, b->nspans);

    if (grp == NULL || rv != 0) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b->nspans; i++) {
        const slc_span *sp = &b->spans[i];
        uint64_t d = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
        int fresh;
        uint32_t g = col_gtab_get(&t, (uint64_t)sp->service << 32 | sp->name, &fresh);
        struct col_sgroup *e = &grp[g];

        if (fresh) {
            *e = (struct col_sgroup){sp->service, sp->name, 0, 0, UINT64_MAX, 0, UINT64_MAX, 0};
        }
        e->cnt++;
        e->errs += sp->status == SLC_STATUS_ERROR;
        e->mind = d < e->mind ? d : e->mind;
        e->maxd = d > e->maxd ? d : e->maxd;
        e->mins = sp->start_ns < e->mins ? sp->start_ns : e->mins;
        e->maxs = sp->start_ns > e->maxs ? sp->start_ns : e->maxs;
    }
    qsort(grp, t.n, sizeof *grp, col_cmp_sgroup);
    for (size_t i = 0; i < t.n; i++) {
        const struct col_sgroup *e = &grp[i];
        if (col_buf_str(&all, &b->strs[e->svc]) != 0 || col_buf_str(&all, &b->strs[e->name]) != 0 ||
            col_buf_reserve(&all, 1) != 0 || (all.p[all.n++] = 0, 0) ||
            col_buf_varint(&all, e->cnt) != 0 || col_buf_varint(&all, e->errs) != 0 ||
            col_buf_varint(&all, e->mind) != 0 || col_buf_varint(&all, e->maxd) != 0 ||
            col_buf_varint(&all, e->mins) != 0 || col_buf_varint(&all, e->maxs) != 0) {
            rv = SL_ENOMEM;
            goto out;
        }
        svc_groups++;
        if (i + 1 == t.n || grp[i + 1].svc != e->svc) {
            const slc_str *name = &b->strs[e->svc];
            col_put_xidx(s, wb, CF_SIDX, col_svc_hash(name->ptr, name->len), bkey,
                         COL_SIDX_VERSION, svc_groups, all.p + svc_from, all.n - svc_from, &tmp);
            svc_from = all.n;
            svc_groups = 0;
        }
    }
    if (t.n > 0)
        col_put_xidx(s, wb, CF_SIDX, 0, bkey, COL_SIDX_VERSION, t.n, all.p, all.n, &tmp);
out:
    col_gtab_free(&t);
    free(grp);
    free(all.p);
    free(tmp.p);
    return rv;
}

/* lidx: per service of the frame's log records (and all services): count,
 * the set of levels present (bit L-1 for level L) and the time bounds.
 * Groups reuse col_sgroup: cnt, mind = level mask, mins/maxs = time. */
int col_put_lidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    struct col_sgroup *grp = malloc((size_t)b->nlogs * sizeof *grp + 1);
    struct col_gtab t = {0};
    struct col_buf all = {0}, tmp = {0};
    int rv = col_gtab_init(&t, b->nlogs);

    if (grp == NULL || rv != 0) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b->nlogs; i++) {
        const slc_log *l = &b->logs[i];
        int fresh;
        struct col_sgroup *e = &grp[col_gtab_get(&t, l->service, &fresh)];

        if (fresh)
            *e = (struct col_sgroup){l->service, 0, 0, 0, 0, 0, UINT64_MAX, 0};
        e->cnt++;
        if (l->level >= 1 && l->level <= 24)
            e->mind |= 1ULL << (l->level - 1);
        e->mins = l->time_ns < e->mins ? l->time_ns : e->mins;
        e->maxs = l->time_ns > e->maxs ? l->time_ns : e->maxs;
    }
    qsort(grp, t.n, sizeof *grp, col_cmp_sgroup);
    for (size_t i = 0; i < t.n; i++) {
        const struct col_sgroup *e = &grp[i];
        size_t from = all.n;
        if (col_buf_str(&all, &b->strs[e->svc]) != 0 || col_buf_varint(&all, e->cnt) != 0 ||
            col_buf_varint(&all, e->mind) != 0 || col_buf_varint(&all, e->mins) != 0 ||
            col_buf_varint(&all, e->maxs) != 0) {
            rv = SL_ENOMEM;
            goto out;
        }
        col_put_xidx(s, wb, CF_LIDX, col_svc_hash(b->strs[e->svc].ptr, b->strs[e->svc].len),
                     bkey, COL_LIDX_VERSION, 1, all.p + from, all.n - from, &tmp);
    }
    if (t.n > 0)
        col_put_xidx(s, wb, CF_LIDX, 0, bkey, COL_LIDX_VERSION, t.n, all.p, all.n, &tmp);
out:
    col_gtab_free(&t);
    free(grp);
    free(all.p);
    free(tmp.p);
    return rv;
}

static void col_tidx_add(uint32_t *slot, size_t mask, const uint8_t (*ids[])[16], size_t *n,
                         const uint8_t (*tid)[16])
{
    uint64_t a, c;

    memcpy(&a, *tid, 8);
    memcpy(&c, *tid + 8, 8);
    for (size_t i = col_mix64(a ^ col_mix64(c)) & mask;; i = (i + 1) & mask) {
        uint32_t e = slot[i];
        if (e == 0) {
            ids[*n] = tid;
            slot[i] = (uint32_t)++*n;
            return;
        }
        if (memcmp(*ids[e - 1], *tid, 16) == 0)
            return;
    }
}

/* Orders pointers to trace ids by the ids' bytes. */
static int col_tid_ptr_cmp(const void *x, const void *y)
{
    const uint8_t(*const *a)[16] = x;
    const uint8_t(*const *b)[16] = y;
    return memcmp(**a, **b, 16);
}

int col_put_tidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    size_t items = (size_t)b->nspans + b->nlogs, cap = 16, n = 0;
    uint8_t tkey[COL_TIDX_KEY_LEN];
    const uint8_t(**ids)[16];
    uint32_t *slot;

    while (cap < items * 2)
        cap <<= 1;
    slot = calloc(cap, sizeof *slot);
    ids = malloc((items + 1) * sizeof *ids);
    if (slot == NULL || ids == NULL) {
        free(slot);
        free(ids);
        return SL_ENOMEM;
    }
    memcpy(tkey + 16, bkey, COL_BLOCK_KEY_LEN);
    for (uint32_t i = 0; i < b->nspans; i++)
        col_tidx_add(slot, cap - 1, ids, &n, (const uint8_t(*)[16])b->spans[i].trace_id);
    for (uint32_t i = 0; i < b->nlogs; i++)
        if ((b->logs[i].flags & SLC_LOG_F_TRACE) && !slc_is_zero(b->logs[i].trace_id, 16))
            col_tidx_add(slot, cap - 1, ids, &n, (const uint8_t(*)[16])b->logs[i].trace_id);
    /* In key order: the skiplist memtable inserts a sorted run next to the
     * previous key instead of searching from the top for each. */
    qsort(ids, n, sizeof *ids, col_tid_ptr_cmp);
    for (size_t i = 0; i < n; i++) {
        memcpy(tkey, *ids[i], 16);
        rocksdb_writebatch_put_cf(wb, s->cf[CF_TIDX], (const char *)tkey, COL_TIDX_KEY_LEN, "", 0);
    }
    free(slot);
    free(ids);
    return 0;
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

/* ---- reads -------------------------------------------------------------- */

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
