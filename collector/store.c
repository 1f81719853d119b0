/*
 * store.c - the RocksDB schema: writes and reads (see store.h and
 * docs/storage.md).  The only file in the tree that includes rocksdb/c.h.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rocksdb/c.h>

#include "log.h"
#include "sightline.h"
#include "slc_util.h"

#define COL_FORMAT_VERSION "1"
#define COL_BLOCK_KEY_LEN 12 /* be64 ingest ns | be32 seq */
#define COL_TIDX_KEY_LEN (16 + COL_BLOCK_KEY_LEN)
#define COL_ROOT_KEY_LEN (8 + 16)
#define COL_DEDUPE_KEY_LEN 12 /* be64 batch id | be32 crc32 */
#define COL_ROOT_VAL_VERSION 1
#define COL_ROOT_F_ERROR 0x01u
#define COL_META_SVC "s/"
#define COL_MAX_CLAIMS 256
#define COL_SVC_CACHE 4096 /* power of two */

enum { CF_DEFAULT = 0, CF_BLOCKS, CF_TIDX, CF_ROOTS, CF_DEDUPE, CF_META, CF_COUNT };
static const char *const col_cf_names[CF_COUNT] = {"default", "blocks", "tidx",
                                                   "roots",   "dedupe", "meta"};

struct col_store {
    rocksdb_t *db;
    rocksdb_options_t *dbopts;
    rocksdb_options_t *cfopts[CF_COUNT];
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    atomic_uint_fast64_t last_block_ns; /* block keys grow strictly */
    atomic_uint_fast32_t block_seq;

    /* Batches being decoded or written now, so a retry that arrives while
     * the first copy is still in flight is told to come back instead of
     * being stored twice. */
    pthread_mutex_t claim_mu;
    col_batch_key claims[COL_MAX_CLAIMS];
    uint8_t claim_used[COL_MAX_CLAIMS];

    /* Service names already in meta; saves a put per frame.  Open
     * addressing, never shrinks; when full, names are simply re-put. */
    pthread_mutex_t svc_mu;
    char *svc[COL_SVC_CACHE];
    size_t nsvc;
};

/* ---- byte helpers ------------------------------------------------------- */

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void dedupe_key(const col_batch_key *k, uint8_t out[COL_DEDUPE_KEY_LEN])
{
    be64_put(out, k->batch_id);
    be32_put(out + 8, k->crc);
}

/* Converts a RocksDB error string (malloc'd) into an sl_err and a message.
 * A write refused because of no_slowdown is back-pressure, not a failure. */
static int col_rocks_err(char *rerr, const char *what, char *err, size_t errlen)
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
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(opt, 0.05);
        rocksdb_block_based_options_set_whole_key_filtering(bbt, 0);
        rocksdb_block_based_options_set_filter_policy(bbt, rocksdb_filterpolicy_create_bloom_full(10));
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
            atomic_store(&s->last_block_ns, be64_get((const uint8_t *)k));
    }
    rocksdb_iter_destroy(it);
}

static int col_check_format(col_store *s, char *err, size_t errlen)
{
    char *rerr = NULL, *v;
    size_t vlen = 0;
    int rv = 0;

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], "format", 6, &vlen, &rerr);
    if (rerr != NULL)
        return col_rocks_err(rerr, "reading the format version", err, errlen);
    if (v == NULL) {
        rocksdb_put_cf(s->db, s->wopts, s->cf[CF_META], "format", 6, COL_FORMAT_VERSION,
                       strlen(COL_FORMAT_VERSION), &rerr);
        if (rerr != NULL)
            return col_rocks_err(rerr, "writing the format version", err, errlen);
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

int col_store_open(const char *dir, const col_store_opts *o, col_store **out, char *err,
                   size_t errlen)
{
    col_store_opts defaults = {0};
    col_store *s;
    char *rerr = NULL;
    const rocksdb_options_t *cfo[CF_COUNT];
    int rv;

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
    s->cache = rocksdb_cache_create_lru((size_t)(o->block_cache_mb > 0 ? o->block_cache_mb : 64)
                                        << 20);
    s->dbopts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->dbopts, 1);
    rocksdb_options_set_create_missing_column_families(s->dbopts, 1);
    rocksdb_options_increase_parallelism(s->dbopts, 2);
    rocksdb_options_set_max_background_jobs(s->dbopts, 4);
    rocksdb_options_set_max_total_wal_size(s->dbopts, (uint64_t)512 << 20);
    rocksdb_options_set_keep_log_file_num(s->dbopts, 4);
    rocksdb_options_set_max_log_file_size(s->dbopts, 8 << 20);
    rocksdb_options_set_bytes_per_sync(s->dbopts, 1 << 20);
    for (int i = 0; i < CF_COUNT; i++) {
        s->cfopts[i] = col_cf_options(s, i, o);
        cfo[i] = s->cfopts[i];
    }
    s->db = rocksdb_open_column_families(s->dbopts, dir, CF_COUNT, col_cf_names, cfo, s->cf,
                                         &rerr);
    if (rerr != NULL) {
        rv = col_rocks_err(rerr, "opening RocksDB", err, errlen);
        if (strstr(err, "lock") != NULL && strlen(err) + 60 < errlen)
            snprintf(err + strlen(err), errlen - strlen(err),
                     " (is another collector using this --data directory?)");
        s->db = NULL;
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
    rv = col_check_format(s, err, errlen);
    if (rv != 0) {
        col_store_close(s);
        return rv;
    }
    col_init_block_clock(s);
    *out = s;
    return 0;
}

void col_store_close(col_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < CF_COUNT; i++)
        if (s->cf[i] != NULL)
            rocksdb_column_family_handle_destroy(s->cf[i]);
    if (s->db != NULL)
        rocksdb_close(s->db);
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
        free(s->svc[i]);
    pthread_mutex_destroy(&s->claim_mu);
    pthread_mutex_destroy(&s->svc_mu);
    free(s);
}

/* ---- dedupe ------------------------------------------------------------- */

int col_store_claim(col_store *s, const col_batch_key *k)
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
            return col_rocks_err(rerr, "dedupe lookup", NULL, 0) == SL_EBUSY ? SL_EBUSY
                                                                              : SL_ESTORE;
        rocksdb_free(v);
        return 1;
    }
    return 0;
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

static void col_next_block_key(col_store *s, uint8_t key[COL_BLOCK_KEY_LEN])
{
    uint64_t now = slc_now_ns(), last = atomic_load(&s->last_block_ns), next;

    do {
        next = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&s->last_block_ns, &last, next));
    be64_put(key, next);
    be32_put(key + 8, (uint32_t)atomic_fetch_add(&s->block_seq, 1));
}

static uint64_t col_fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* 1 if the name is already known (no need to write it). */
static int col_svc_known(col_store *s, const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);
    int known = 0;

    pthread_mutex_lock(&s->svc_mu);
    for (size_t i = 0; i < COL_SVC_CACHE; i++) {
        const char *e = s->svc[(h + i) & (COL_SVC_CACHE - 1)];
        if (e == NULL)
            break;
        if (strlen(e) == n && memcmp(e, p, n) == 0) {
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
            char **e = &s->svc[(h + i) & (COL_SVC_CACHE - 1)];
            if (*e == NULL) {
                *e = strndup(p, n);
                if (*e != NULL)
                    s->nsvc++;
                break;
            }
            if (strlen(*e) == n && memcmp(*e, p, n) == 0)
                break;
        }
    }
    pthread_mutex_unlock(&s->svc_mu);
}

static int col_cmp_tid(const void *a, const void *b)
{
    return memcmp(a, b, 16);
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

    be64_put(key, sp->start_ns);
    memcpy(key + 8, sp->trace_id, 16);
    val[off++] = COL_ROOT_VAL_VERSION;
    val[off++] = sp->status == SLC_STATUS_ERROR ? COL_ROOT_F_ERROR : 0;
    val[off++] = sp->kind;
    val[off++] = 0;
    le64_put(val + off, sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0);
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

int col_store_write(col_store *s, const col_batch_key *k, const uint8_t *frame, size_t len,
                    const slc_batch *b, char *err, size_t errlen)
{
    uint8_t bkey[COL_BLOCK_KEY_LEN], dkey[COL_DEDUPE_KEY_LEN], tkey[COL_TIDX_KEY_LEN];
    uint8_t(*tids)[16] = NULL;
    size_t ntids = 0, nnews = 0;
    uint32_t news[64];
    rocksdb_writebatch_t *wb = NULL;
    char *rerr = NULL;
    int rv = 0;

    wb = rocksdb_writebatch_create();
    col_next_block_key(s, bkey);
    dedupe_key(k, dkey);
    if (b->nspans + (uint64_t)b->nlogs > 0) {
        rocksdb_writebatch_put_cf(wb, s->cf[CF_BLOCKS], (const char *)bkey, sizeof bkey,
                                  (const char *)frame, len);
        /* One tidx row per distinct trace of the frame: sort the ids and
         * skip repeats. */
        tids = malloc(((size_t)b->nspans + b->nlogs) * 16);
        if (tids == NULL) {
            rv = SL_ENOMEM;
            snprintf(err, errlen, "out of memory indexing %u spans", b->nspans);
            goto out;
        }
        for (uint32_t i = 0; i < b->nspans; i++)
            memcpy(tids[ntids++], b->spans[i].trace_id, 16);
        for (uint32_t i = 0; i < b->nlogs; i++)
            if ((b->logs[i].flags & SLC_LOG_F_TRACE) && !slc_is_zero(b->logs[i].trace_id, 16))
                memcpy(tids[ntids++], b->logs[i].trace_id, 16);
        qsort(tids, ntids, 16, col_cmp_tid);
        memcpy(tkey + 16, bkey, sizeof bkey);
        for (size_t i = 0; i < ntids; i++) {
            if (i > 0 && memcmp(tids[i], tids[i - 1], 16) == 0)
                continue;
            memcpy(tkey, tids[i], 16);
            rocksdb_writebatch_put_cf(wb, s->cf[CF_TIDX], (const char *)tkey, sizeof tkey, "",
                                      0);
        }
        for (uint32_t i = 0; i < b->nspans; i++)
            if (slc_is_zero(b->spans[i].parent_id, 8))
                col_put_root(s, wb, b, &b->spans[i]);
        col_put_services(s, wb, b, news, &nnews, sizeof news / sizeof news[0]);
    }
    /* The dedupe row commits with the block: either both exist or neither. */
    rocksdb_writebatch_put_cf(wb, s->cf[CF_DEDUPE], (const char *)dkey, sizeof dkey,
                              (const char *)bkey, sizeof bkey);
    rocksdb_write(s->db, s->wopts, wb, &rerr);
    if (rerr != NULL) {
        rv = col_rocks_err(rerr, "writing a block", err, errlen);
        goto out;
    }
    for (size_t i = 0; i < nnews; i++)
        col_svc_remember(s, b->strs[news[i]].ptr, b->strs[news[i]].len);
out:
    free(tids);
    rocksdb_writebatch_destroy(wb);
    return rv;
}

/* ---- reads -------------------------------------------------------------- */

/* Stored frames passed the ingest limits in force when they arrived; the
 * limits may have been lowered since, so reads accept anything the codec
 * can represent. */
static void col_read_limits(slc_wire_limits *l)
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
}

/* Copies the spans and logs of trace tid from one stored frame into dst. */
static int col_gather(slc_batch *dst, const char *frame, size_t len, const uint8_t tid[16],
                      const slc_wire_limits *lim)
{
    slc_batch *src = NULL;
    char msg[160];
    int rv;

    rv = slc_wire_decode((const uint8_t *)frame, len, lim, &src, msg, sizeof msg);
    if (rv != 0) {
        /* A stored block that no longer decodes is corruption: log it and
         * keep serving the rest of the trace. */
        col_log(COL_LOG_WARN, "stored block does not decode (%s): %s", sl_strerror(rv), msg);
        return 0;
    }
    for (uint32_t i = 0; i < src->nspans && rv == 0; i++)
        if (memcmp(src->spans[i].trace_id, tid, 16) == 0)
            rv = slc_batch_copy_span(dst, src, i);
    for (uint32_t i = 0; i < src->nlogs && rv == 0; i++)
        if ((src->logs[i].flags & SLC_LOG_F_TRACE) && memcmp(src->logs[i].trace_id, tid, 16) == 0)
            rv = slc_batch_copy_log(dst, src, i);
    slc_batch_free(src);
    return rv;
}

int col_store_read_trace(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                         slc_batch **out, int *blocks_capped)
{
    rocksdb_readoptions_t *ro = NULL;
    rocksdb_iterator_t *it = NULL;
    uint8_t(*keys)[COL_BLOCK_KEY_LEN] = NULL;
    uint32_t nkeys = 0;
    int capped = 0, rv = 0;
    slc_batch *dst = NULL;
    slc_wire_limits lim;
    char *rerr = NULL;

    if (max_blocks == 0)
        max_blocks = 4096;
    keys = malloc((size_t)max_blocks * COL_BLOCK_KEY_LEN);
    ro = rocksdb_readoptions_create();
    if (keys == NULL || ro == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    rocksdb_readoptions_set_prefix_same_as_start(ro, 1);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_TIDX]);
    for (rocksdb_iter_seek(it, (const char *)trace_id, 16); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen != COL_TIDX_KEY_LEN || memcmp(k, trace_id, 16) != 0)
            break;
        if (nkeys == max_blocks) {
            capped = 1;
            break;
        }
        memcpy(keys[nkeys++], k + 16, COL_BLOCK_KEY_LEN);
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL) {
        rv = col_rocks_err(rerr, "scanning the trace index", NULL, 0);
        goto out;
    }
    if (nkeys == 0) {
        rv = SL_ENOTFOUND;
        goto out;
    }
    dst = slc_batch_new();
    if (dst == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    col_read_limits(&lim);
    for (uint32_t i = 0; i < nkeys && rv == 0; i++) {
        size_t vlen = 0;
        char *v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_BLOCKS], (const char *)keys[i],
                                 COL_BLOCK_KEY_LEN, &vlen, &rerr);
        if (rerr != NULL) {
            rv = col_rocks_err(rerr, "reading a block", NULL, 0);
            break;
        }
        if (v == NULL)
            continue; /* removed by retention since the index was read */
        rv = col_gather(dst, v, vlen, trace_id, &lim);
        rocksdb_free(v);
    }
    if (rv == 0 && dst->nspans == 0 && dst->nlogs == 0)
        rv = SL_ENOTFOUND;
    if (rv == 0) {
        *out = dst;
        dst = NULL;
        if (blocks_capped != NULL)
            *blocks_capped = capped;
    }
out:
    slc_batch_free(dst);
    if (it != NULL)
        rocksdb_iter_destroy(it);
    if (ro != NULL)
        rocksdb_readoptions_destroy(ro);
    free(keys);
    return rv;
}

/* Parses a roots value into r (key fields filled by the caller).  0 or -1. */
static int col_parse_root(const uint8_t *v, size_t n, col_root *r)
{
    size_t off = 12, sl, nl;

    if (n < 14 || v[0] != COL_ROOT_VAL_VERSION)
        return -1;
    r->error = (v[1] & COL_ROOT_F_ERROR) != 0;
    r->kind = v[2];
    r->duration_ns = le64_get(v + 4);
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

int col_store_list_roots(col_store *s, const char *service, uint64_t since_ns, uint64_t until_ns,
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
    be64_put(lower, since_ns);
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lower, sizeof lower);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_ROOTS]);
    be64_put(seek, until_ns);
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
        r->start_ns = be64_get(k);
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
        rv = col_rocks_err(rerr, "scanning roots", NULL, 0);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rv == 0)
        *n = count;
    return rv;
}

int col_store_services(col_store *s, int (*fn)(const char *name, size_t len, void *arg),
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
        rv = col_rocks_err(rerr, "scanning services", NULL, 0);
    rocksdb_iter_destroy(it);
    return rv;
}

static uint64_t col_prop(col_store *s, int cf, const char *name)
{
    uint64_t v = 0;
    if (cf < 0)
        return rocksdb_property_int(s->db, name, &v) == 0 ? v : 0;
    return rocksdb_property_int_cf(s->db, s->cf[cf], name, &v) == 0 ? v : 0;
}

void col_store_get_stats(col_store *s, col_store_stats *st)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < COL_STORE_NCF; i++) {
        int cf = CF_BLOCKS + i;
        st->cf_name[i] = col_cf_names[cf];
        st->cf_keys[i] = col_prop(s, cf, "rocksdb.estimate-num-keys");
        st->cf_sst_bytes[i] = col_prop(s, cf, "rocksdb.total-sst-files-size");
        st->cf_mem_bytes[i] = col_prop(s, cf, "rocksdb.cur-size-all-mem-tables");
        st->live_data_bytes += col_prop(s, cf, "rocksdb.estimate-live-data-size");
        st->pending_compaction_bytes += col_prop(s, cf, "rocksdb.estimate-pending-compaction-bytes");
    }
    st->write_stopped = col_prop(s, -1, "rocksdb.is-write-stopped");
    st->delayed_write_rate = col_prop(s, -1, "rocksdb.actual-delayed-write-rate");
    st->block_cache_bytes = rocksdb_cache_get_usage(s->cache);
}
