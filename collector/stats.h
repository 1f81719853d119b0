/*
 * stats.h - the collector's self-metrics: lock-free counters bumped by the
 * ingest workers and read by the HTTP API.  Every field only grows (except
 * the gauges marked), so a reader needs no lock and sees a consistent-enough
 * snapshot for monitoring.
 */
#ifndef COL_STATS_H
#define COL_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Why a frame was rejected: one slot per wire error, plus "other". */
enum col_reject_reason {
    COL_REJ_TRUNCATED = 0,
    COL_REJ_MAGIC,
    COL_REJ_VERSION,
    COL_REJ_FLAGS,
    COL_REJ_CHECKSUM,
    COL_REJ_INFLATE,
    COL_REJ_LIMIT,
    COL_REJ_UTF8,
    COL_REJ_REF,
    COL_REJ_VALUE,
    COL_REJ_TRAILING,
    COL_REJ_VARINT,
    COL_REJ_LENGTH, /* frame length in the header differs from what arrived */
    COL_REJ_OTHER,
    COL_REJ_COUNT
};

/* Write latency histogram: bucket i counts writes that took < 2^i us
 * (the last bucket takes everything longer). */
#define COL_LAT_BUCKETS 24

typedef struct col_stats {
    uint64_t started_ns; /* set once at start */
    atomic_uint_fast64_t frames_received;
    atomic_uint_fast64_t bytes_received;
    atomic_uint_fast64_t frames_stored;
    atomic_uint_fast64_t bytes_stored;
    atomic_uint_fast64_t spans_stored;
    atomic_uint_fast64_t logs_stored;
    atomic_uint_fast64_t duplicates;
    atomic_uint_fast64_t retries;       /* RETRY acks sent */
    atomic_uint_fast64_t retry_busy;    /* ...because storage pushed back */
    atomic_uint_fast64_t retry_store;   /* ...because a write failed */
    atomic_uint_fast64_t retry_inflight;/* ...because the same batch was in flight */
    atomic_uint_fast64_t retry_memory;  /* ...because the in-flight memory budget was full */
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t rejected_by[COL_REJ_COUNT];
    atomic_uint_fast64_t ack_send_errors;
    atomic_int_fast64_t in_flight;      /* gauge: frames being processed now */
    atomic_int_fast64_t in_flight_bytes;/* gauge: estimated memory of those frames */
    uint64_t in_flight_budget;          /* set once: the budget for in_flight_bytes */
    atomic_uint_fast64_t write_count;
    atomic_uint_fast64_t write_ns_total;
    atomic_uint_fast64_t write_ns_max;
    atomic_uint_fast64_t write_lat[COL_LAT_BUCKETS];
    atomic_uint_fast64_t http_requests;
    atomic_uint_fast64_t http_errors; /* responses with status >= 400 */
    atomic_uint_fast64_t unauthorized; /* frames/requests without an accepted ingest token */
    atomic_uint_fast64_t conns_refused; /* ingest connections closed: over --ingest-max-conns */
} col_stats;

/* Zeroes *s and records the start time. */
void col_stats_init(col_stats *s);

/* Maps an sl_err from the decoder to a rejection slot. */
enum col_reject_reason col_stats_reject_reason(int err);

/* Short stable name of a rejection slot ("truncated", "limit", ...), used
 * as a key in /api/v1/stats. */
const char *col_stats_reject_name(enum col_reject_reason r);

/* Records one committed write that took ns nanoseconds. */
void col_stats_write_latency(col_stats *s, uint64_t ns);

/* Upper bound in microseconds of latency bucket i (UINT64_MAX for the last). */
uint64_t col_stats_lat_bound_us(unsigned i);

#endif /* COL_STATS_H */
