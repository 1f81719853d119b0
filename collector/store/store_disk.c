/*
 * store_disk.c - the store's guard against a full disk, and the gate that
 * lets it swap the RocksDB handle under running readers and writers.
 *
 * RocksDB must not meet ENOSPC.  A failed WAL or table write stops its
 * writes until DB::Resume(), which the C API of 7.8 lacks; its own recovery
 * waits for as much free space as all memtables together, polled every 5 s;
 * and Debian's build keeps RocksDB's assertions, so a file writer used again
 * after an error aborts the process.  Three layers, each catching what the
 * one before can miss:
 *
 *  1. The reserve.  Ingest is refused (RETRY "disk full") while free space,
 *     less what was admitted since the last look, is below the larger of
 *     --min-free-disk-mb and the bytes in the memtables: what RocksDB still
 *     writes once ingest stops is those memtables' flush.  The watcher looks
 *     every 50 ms; near the edge every write looks for itself (statvfs).
 *  2. The ballast.  A file of the collector's own in the data directory,
 *     deleted the moment the reserve is crossed or RocksDB meets an I/O
 *     error, so a flush or compaction already running has that much more
 *     room.  Ingest resumes only once the ballast can be made again with the
 *     reserve still free, so the collector does not hover at the edge.
 *  3. Recovery.  A write that meets an I/O error anyway hands the store to
 *     the watcher, which closes RocksDB at once (RocksDB's own recovery never
 *     runs), reopens it read-only (queries keep working; nothing is written)
 *     and, once the reserve and ballast fit again, read-write: the WAL
 *     replay of a restart, into memtables (avoid_flush_during_recovery), so
 *     it needs next to no space.  Every acknowledged write is in the WAL, so
 *     nothing acknowledged is lost; ingest resumes once the reserve also
 *     covers the replayed memtables' flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "common/slc_util.h"
#include "store_int.h"

#define DISK_TICK_NS 50000000ULL      /* the watcher's look */
#define DISK_RETRY_NS 2000000000ULL   /* between read-write reopen attempts */
#define DISK_BALLAST_NAME "sightline.ballast"
/* Closer to the edge than this (beyond the reserve), writes reach RocksDB
 * one at a time (col_db_write). */
#define DISK_CAREFUL_BYTES ((uint64_t)256 << 20)
#define DISK_INGEST_WAIT_NS 200000000ULL /* ingest's wait for the lone writer's turn */
#define DISK_OPEN_EXTRA_MAX ((uint64_t)64 << 20)
#define MiB(x) ((unsigned long long)((x) >> 20))

enum { DISK_OK, DISK_LOW, DISK_FAILED };
static const char *const disk_state_name[] = {"ok", "low", "failed"};

struct col_disk {
    pthread_mutex_t mu; /* stop, why; the watcher sleeps on cv */
    pthread_cond_t cv;
    pthread_t thread;
    int started, stop;
    uint64_t reserve;     /* --min-free-disk-mb in bytes; 0 = off */
    uint64_t ballast;     /* ballast file size; 0 = none */
    uint64_t hysteresis;  /* ingest resumes this far above the reserve */
    char *ballast_path;
    atomic_int state;
    atomic_uint_fast64_t free_bytes; /* at the last look */
    atomic_uint_fast64_t admitted;   /* bytes admitted since the last look */
    atomic_uint_fast64_t need;       /* the reserve in force (>= reserve) */
    atomic_uint_fast64_t ballast_have;
    atomic_uint_fast64_t lows, failures, reopens;
    atomic_int careful;           /* near the edge: writes go one at a time */
    pthread_rwlock_t write_lk;    /* writes hold it shared, or alone while careful */
    uint64_t flush_at_ns;         /* watcher only: next memtable flush while low */
    int ballast_warned;           /* watcher only: "cannot make the ballast" said */
    uint64_t retry_at_ns;  /* watcher only: next read-write reopen attempt */
    uint64_t open_extra;   /* watcher only: grows after a failed reopen */
    char why[256];         /* the I/O error that stopped RocksDB (mu) */
};

/* ---- the gate ------------------------------------------------------------ */

int col_db_enter(col_store *s, int write)
{
    atomic_fetch_add(&s->db_users, 1);
    if (atomic_load(&s->db_closed) ||
        (write && (atomic_load(&s->db_read_only) || atomic_load(&s->db_failed)))) {
        atomic_fetch_sub(&s->db_users, 1);
        return SL_EBUSY;
    }
    return 0;
}

void col_db_exit(col_store *s)
{
    atomic_fetch_sub(&s->db_users, 1);
}

/* Shuts the gate and waits until nobody is inside (new callers get
 * SL_EBUSY at once, so this waits for the longest call in flight). */
static void gate_shut(col_store *s)
{
    const struct timespec ms = {0, 1000000};

    atomic_store(&s->db_closed, 1);
    while (atomic_load(&s->db_users) > 0)
        nanosleep(&ms, NULL);
}

static void gate_open(col_store *s)
{
    atomic_store(&s->db_closed, s->db == NULL);
}

/* ---- measuring ----------------------------------------------------------- */

/* A read-write open writes RocksDB's LOG header, a new WAL, the MANIFEST
 * and an OPTIONS file: well under this. */
#define DISK_OPEN_BYTES ((uint64_t)1 << 20)

static uint64_t disk_free(const char *dir)
{
    struct statvfs v;

    if (statvfs(dir, &v) != 0)
        return UINT64_MAX; /* unknown: let RocksDB say */
    return (uint64_t)v.f_bavail * v.f_frsize;
}

int col_disk_room_to_open(const char *dir)
{
    return disk_free(dir) >= DISK_OPEN_BYTES;
}

/* Bytes in all memtables: at most what their flush writes. */
static uint64_t disk_memtables(col_store *s)
{
    uint64_t sum = 0, v;

    if (col_db_enter(s, 0) != 0)
        return 0;
    for (int cf = 0; cf < CF_COUNT; cf++)
        if (rocksdb_property_int_cf(s->db, s->cf[cf], "rocksdb.cur-size-all-mem-tables", &v) == 0)
            sum += v;
    col_db_exit(s);
    return sum;
}

/* ---- the handle: open and close --------------------------------------------------- */

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

/* ---- the ballast ----------------------------------------------------------- */

static void ballast_release(struct col_disk *d)
{
    if (atomic_load(&d->ballast_have) == 0)
        return;
    if (unlink(d->ballast_path) != 0 && errno != ENOENT)
        col_log(COL_LOG_WARN, "disk: cannot remove the ballast %s: %s", d->ballast_path,
                strerror(errno));
    atomic_store(&d->ballast_have, 0);
}

/* Makes the ballast file (real blocks: posix_fallocate, which writes
 * zeros where the filesystem cannot preallocate).  0 or -1. */
static int ballast_make(struct col_disk *d)
{
    struct stat st;
    int fd, rc;

    if (d->ballast == 0 || atomic_load(&d->ballast_have) == d->ballast)
        return 0;
    if (stat(d->ballast_path, &st) == 0 && (uint64_t)st.st_blocks * 512 >= d->ballast &&
        (uint64_t)st.st_size == d->ballast) {
        atomic_store(&d->ballast_have, d->ballast); /* left by the last run */
        return 0;
    }
    fd = open(d->ballast_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    rc = posix_fallocate(fd, 0, (off_t)d->ballast);
    close(fd);
    if (rc != 0) {
        unlink(d->ballast_path);
        errno = rc; /* posix_fallocate returns its error */
        return -1;
    }
    atomic_store(&d->ballast_have, d->ballast);
    return 0;
}

/* ---- states ------------------------------------------------------------------ */

static void disk_set_low(col_store *s, uint64_t avail)
{
    struct col_disk *d = s->disk;
    int ok = DISK_OK;

    if (!atomic_compare_exchange_strong(&d->state, &ok, DISK_LOW))
        return;
    atomic_fetch_add(&d->lows, 1);
    col_log(COL_LOG_WARN,
            "disk: %llu MiB free, below the reserve of %llu MiB: ingest answers RETRY until "
            "%llu MiB are free",
            MiB(avail), MiB(atomic_load(&d->need)),
            MiB(atomic_load(&d->need) + d->ballast + d->hysteresis));
    pthread_mutex_lock(&d->mu);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void disk_failed(col_store *s, const char *msg)
{
    struct col_disk *d = s->disk;

    atomic_store(&s->db_failed, 1);
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    if (atomic_exchange(&d->state, DISK_FAILED) != DISK_FAILED) {
        snprintf(d->why, sizeof d->why, "%s", msg);
        atomic_fetch_add(&d->failures, 1);
        atomic_store(&d->need, d->reserve + d->ballast + d->hysteresis + DISK_OPEN_BYTES);
        d->retry_at_ns = 0;
        d->open_extra = 0;
        col_log(COL_LOG_ERROR, "disk: RocksDB stopped on an I/O error (%s); the store goes "
                               "read-only until space returns",
                msg);
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Does RocksDB's error mean it stopped writing (an I/O error such as
 * ENOSPC), rather than back-pressure or a bad argument? */
static int disk_io_error(const char *rerr)
{
    return rerr != NULL &&
           (strncmp(rerr, "IO error", 8) == 0 || strstr(rerr, "No space left") != NULL);
}

/* Debian's RocksDB asserts when a second writer reaches a WAL file whose
 * last append failed, before the first writer's error has stopped the
 * database (seen: writable_file_writer.h:312, with two ingest workers and
 * a real ENOSPC).  Near the edge every write therefore holds write_lk alone
 * and none starts after one failed; far from it, writes hold it shared and
 * run side by side (RocksDB batches them), and the two modes never overlap.
 * Ingest (s->wopts, no_slowdown) waits at most DISK_INGEST_WAIT_NS for its
 * turn, so a background write stalled inside RocksDB turns into RETRY
 * "busy" rather than blocked workers. */
void col_db_write(col_store *s, const rocksdb_writeoptions_t *wo, rocksdb_writebatch_t *wb,
                  char **rerr)
{
    struct col_disk *d = s->disk;

    if (d == NULL) {
        rocksdb_write(s->db, wo, wb, rerr);
        return;
    }
    if (!atomic_load(&d->careful)) {
        pthread_rwlock_rdlock(&d->write_lk);
    } else if (wo == s->wopts) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)DISK_INGEST_WAIT_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_rwlock_timedwrlock(&d->write_lk, &until) != 0) {
            *rerr = strdup("Incomplete: another write holds the nearly full disk; retry");
            return;
        }
    } else {
        pthread_rwlock_wrlock(&d->write_lk);
    }
    if (atomic_load(&s->db_failed))
        *rerr = strdup("IO error: an earlier write failed; no writes until the store is reopened");
    else
        rocksdb_write(s->db, wo, wb, rerr);
    if (disk_io_error(*rerr))
        atomic_store(&s->db_failed, 1);
    pthread_rwlock_unlock(&d->write_lk);
}

/* Sets the careful flag from an estimate of the free space. */
static void disk_set_careful(struct col_disk *d, uint64_t avail)
{
    int c = avail < d->reserve + DISK_CAREFUL_BYTES;

    if (atomic_load_explicit(&d->careful, memory_order_relaxed) != c)
        atomic_store(&d->careful, c);
}

int col_store_write_err(col_store *s, char *rerr, const char *what, char *err, size_t errlen)
{
    char msg[256];
    int io = disk_io_error(rerr);
    int rv = col_store_rocks_err(rerr, what, msg, sizeof msg);

    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    if (io)
        disk_failed(s, msg);
    return rv;
}

/* Closes RocksDB and opens it again, read-only or read-write, with the
 * gate shut.  If a read-write open fails the store goes back to read-only.
 * 0 or the open's error (message in err). */
static int disk_reopen(col_store *s, int read_only, char *err, size_t errlen)
{
    int rv;

    gate_shut(s);
    col_db_close_handle(s, 0);
    rv = col_db_open(s, read_only, err, errlen);
    if (rv != 0 && !read_only) {
        char e2[256];
        if (col_db_open(s, 1, e2, sizeof e2) != 0)
            col_log(COL_LOG_ERROR, "disk: cannot reopen the store read-only either: %s", e2);
    }
    if (rv != 0 || read_only)
        atomic_store(&s->db_failed, 1);
    gate_open(s);
    return rv;
}

/* One look while RocksDB is stopped or read-only. */
static void disk_recover(col_store *s, uint64_t now)
{
    struct col_disk *d = s->disk;
    char err[256];
    uint64_t avail, want;

    if (s->db != NULL && !atomic_load(&s->db_read_only)) {
        /* Just failed: stop RocksDB before anything uses it again. */
        ballast_release(d);
        if (disk_reopen(s, 1, err, sizeof err) != 0)
            col_log(COL_LOG_ERROR, "disk: cannot reopen the store read-only: %s", err);
        else
            col_log(COL_LOG_WARN, "disk: store reopened read-only; queries keep working");
        return;
    }
    if (now < d->retry_at_ns)
        return;
    avail = disk_free(s->dir);
    atomic_store(&d->free_bytes, avail);
    want = d->reserve + d->ballast + d->hysteresis + d->open_extra + DISK_OPEN_BYTES;
    atomic_store(&d->need, want);
    if (avail < want)
        return;
    d->retry_at_ns = now + DISK_RETRY_NS;
    if (disk_reopen(s, 0, err, sizeof err) != 0) {
        /* The replay needed more than estimated (or space went again):
         * ask for a little more next time, within reason. */
        if (strstr(err, "No space") != NULL && d->open_extra < DISK_OPEN_EXTRA_MAX)
            d->open_extra += (uint64_t)1 << 20;
        col_log(COL_LOG_WARN, "disk: reopening read-write failed (%s); next try at %llu MiB free",
                err, MiB(want + d->open_extra));
        return;
    }
    atomic_fetch_add(&d->reopens, 1);
    col_log(COL_LOG_INFO, "disk: %llu MiB free; store reopened read-write", MiB(avail));
    /* Low until the ballast is back and the reserve holds (unless a write
     * failed again meanwhile). */
    pthread_mutex_lock(&d->mu);
    if (!atomic_load(&s->db_failed)) {
        int f = DISK_FAILED;
        atomic_store(&d->need, d->reserve);
        atomic_compare_exchange_strong(&d->state, &f, DISK_LOW);
    }
    pthread_mutex_unlock(&d->mu);
}

/* Flushes every memtable (waiting for it), inside the gate. */
static void disk_flush_memtables(col_store *s)
{
    rocksdb_flushoptions_t *fo;
    char *rerr = NULL;

    if (col_db_enter(s, 1) != 0)
        return;
    fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < CF_COUNT && rerr == NULL; i++)
        rocksdb_flush_cf(s->db, fo, s->cf[i], &rerr);
    rocksdb_flushoptions_destroy(fo);
    col_db_exit(s);
    if (rerr != NULL)
        col_store_write_err(s, rerr, "flushing the memtables below the reserve", NULL, 0);
}

/* One look: measure, cross the reserve down or back up. */
static void disk_tick(col_store *s)
{
    struct col_disk *d = s->disk;
    uint64_t now = slc_now_ns(), avail, need;
    int st = atomic_load(&d->state);

    if (st == DISK_FAILED) {
        disk_recover(s, now);
        return;
    }
    atomic_store(&d->admitted, 0);
    avail = disk_free(s->dir);
    atomic_store(&d->free_bytes, avail);
    disk_set_careful(d, avail);
    need = d->reserve;
    if (need > 0) {
        uint64_t mem = disk_memtables(s);
        if (mem > need)
            need = mem;
    }
    atomic_store(&d->need, need);
    if (st == DISK_OK) {
        if (d->reserve > 0 && avail < need)
            disk_set_low(s, avail);
        else
            return;
    }
    /* Low: give RocksDB the ballast's room, take it back when it fits. */
    ballast_release(d);
    avail = disk_free(s->dir);
    if (avail < need + d->ballast + d->hysteresis) {
        /* When the memtables set the bar (need is their size), nothing
         * lowers it while ingest waits: flush them when that fits (their
         * WAL goes once they are tables). */
        if (need > d->reserve && now >= d->flush_at_ns &&
            avail >= need + ((uint64_t)1 << 20)) {
            d->flush_at_ns = now + DISK_RETRY_NS;
            disk_flush_memtables(s);
        }
        return;
    }
    if (ballast_make(d) != 0) {
        if (!d->ballast_warned)
            col_log(COL_LOG_WARN, "disk: cannot make the %llu MiB ballast %s: %s",
                    MiB(d->ballast), d->ballast_path, strerror(errno));
        d->ballast_warned = 1;
        return;
    }
    d->ballast_warned = 0;
    atomic_store(&d->free_bytes, disk_free(s->dir));
    atomic_store(&d->admitted, 0);
    st = DISK_LOW;
    if (atomic_compare_exchange_strong(&d->state, &st, DISK_OK))
        col_log(COL_LOG_INFO, "disk: %llu MiB free; ingest resumes", MiB(avail));
}

static void *disk_main(void *arg)
{
    col_store *s = arg;
    struct col_disk *d = s->disk;

    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        col_cond_wait_ns(&d->cv, &d->mu, DISK_TICK_NS);
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->mu);
        disk_tick(s);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- ingest's question ----------------------------------------------------------- */

static int disk_refusal(struct col_disk *d, int st, char *err, size_t errlen);

int col_disk_admit(col_store *s, size_t len, char *err, size_t errlen)
{
    struct col_disk *d = s->disk;
    uint64_t cost = len + len / 4 + 4096; /* the WAL record and index rows */
    uint64_t avail, adm, need;
    int st;

    if (d == NULL)
        return 0;
    st = atomic_load(&d->state);
    if (st == DISK_OK) {
        avail = atomic_load(&d->free_bytes);
        adm = atomic_fetch_add(&d->admitted, cost) + cost;
        need = atomic_load(&d->need);
        disk_set_careful(d, avail > adm ? avail - adm : 0);
        if (d->reserve == 0 || (avail > adm && avail - adm >= need))
            return 0;
        /* Near the edge: look rather than trust the estimate. */
        avail = disk_free(s->dir);
        atomic_store(&d->free_bytes, avail);
        atomic_store(&d->admitted, cost);
        if (avail >= need + cost)
            return 0;
        disk_set_low(s, avail);
        st = DISK_LOW;
    }
    return disk_refusal(d, st, err, errlen);
}

int col_store_writable(col_store *s, char *err, size_t errlen)
{
    struct col_disk *d = s->disk;
    int st = d != NULL ? atomic_load(&d->state) : DISK_OK;

    return st == DISK_OK ? 0 : disk_refusal(d, st, err, errlen);
}

/* SL_ESTORE and the message of a refusal in state st. */
static int disk_refusal(struct col_disk *d, int st, char *err, size_t errlen)
{
    uint64_t need = atomic_load(&d->need), avail = atomic_load(&d->free_bytes);

    if (st == DISK_LOW) {
        snprintf(err, errlen,
                 "disk full: %llu MiB free, below the reserve of %llu MiB (min-free-disk-mb, or "
                 "what the memtables hold); ingest resumes at %llu MiB free",
                 MiB(avail), MiB(need), MiB(need + d->ballast + d->hysteresis));
    } else {
        char why[256];
        pthread_mutex_lock(&d->mu);
        snprintf(why, sizeof why, "%s", d->why);
        pthread_mutex_unlock(&d->mu);
        snprintf(err, errlen,
                 "disk full: the store is read-only until %llu MiB are free (%llu MiB now) "
                 "after an I/O error: %s",
                 MiB(need), MiB(avail), why);
    }
    return SL_ESTORE;
}

/* ---- start, stop, stats -------------------------------------------------------------- */

int col_disk_start(col_store *s, const col_store_opts *o, int read_only, char *err,
                   size_t errlen)
{
    struct col_disk *d = calloc(1, sizeof *d);
    size_t plen = strlen(s->dir) + sizeof DISK_BALLAST_NAME + 2;
    uint64_t avail;

    if (d == NULL || (d->ballast_path = malloc(plen)) == NULL) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    snprintf(d->ballast_path, plen, "%s/%s", s->dir, DISK_BALLAST_NAME);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    pthread_rwlock_init(&d->write_lk, NULL);
    d->reserve = o->min_free_mb < 0 ? 0 : (uint64_t)(o->min_free_mb ? o->min_free_mb : 64) << 20;
    if (o->ballast_mb > 0)
        d->ballast = (uint64_t)o->ballast_mb << 20;
    else if (o->ballast_mb == 0)
        d->ballast = d->reserve / 2;
    d->hysteresis = d->reserve / 16 > ((uint64_t)1 << 20) ? d->reserve / 16 : (uint64_t)1 << 20;
    atomic_store(&d->need, d->reserve);
    s->disk = d;
    avail = disk_free(s->dir);
    atomic_store(&d->free_bytes, avail);
    disk_set_careful(d, avail);
    if (read_only) {
        snprintf(d->why, sizeof d->why, "no space to replay the WAL at start");
        atomic_store(&s->db_failed, 1);
        atomic_store(&d->state, DISK_FAILED);
        atomic_fetch_add(&d->failures, 1);
    } else if (d->ballast > 0) {
        struct stat bs;
        /* The last run's ballast is already out of the free space. */
        int left = stat(d->ballast_path, &bs) == 0 && (uint64_t)bs.st_size == d->ballast;
        if ((left || avail >= d->reserve + d->ballast) && ballast_make(d) != 0)
            col_log(COL_LOG_WARN, "disk: cannot make the %llu MiB ballast %s: %s",
                    MiB(d->ballast), d->ballast_path, strerror(errno));
        if (atomic_load(&d->ballast_have) == 0) {
            unlink(d->ballast_path); /* ingest waits until it fits (disk_tick) */
            atomic_store(&d->state, DISK_LOW);
        }
    }
    if (d->reserve > 0 || d->ballast > 0)
        col_log(COL_LOG_INFO, "disk: %llu MiB free, reserve %llu MiB, ballast %llu MiB (%s)",
                MiB(avail), MiB(d->reserve), MiB(atomic_load(&d->ballast_have)),
                disk_state_name[atomic_load(&d->state)]);
    return 0;
}

int col_disk_run(col_store *s, char *err, size_t errlen)
{
    struct col_disk *d = s->disk;

    if (pthread_create(&d->thread, NULL, disk_main, s) != 0) {
        snprintf(err, errlen, "cannot start the disk watcher thread");
        return SL_ENOMEM;
    }
    d->started = 1;
    return 0;
}

void col_disk_stop(col_store *s)
{
    struct col_disk *d = s->disk;

    if (d == NULL)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    s->disk = NULL;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_rwlock_destroy(&d->write_lk);
    free(d->ballast_path);
    free(d);
}

int col_disk_can_flush(col_store *s)
{
    return disk_free(s->dir) >= disk_memtables(s) + ((uint64_t)1 << 20);
}

void col_disk_stats(col_store *s, col_store_stats *st)
{
    struct col_disk *d = s->disk;

    if (d == NULL)
        return;
    st->disk_state = disk_state_name[atomic_load(&d->state)];
    st->disk_free_bytes = atomic_load(&d->free_bytes);
    st->disk_reserve_bytes = d->reserve > 0 ? atomic_load(&d->need) : 0;
    st->disk_ballast_bytes = atomic_load(&d->ballast_have);
    st->disk_low_events = atomic_load(&d->lows);
    st->disk_failures = atomic_load(&d->failures);
    st->disk_reopens = atomic_load(&d->reopens);
}
