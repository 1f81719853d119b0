/*
 * log.h - the collector's log lines: one line per event on stderr, each
 * starting with an RFC 3339 UTC timestamp and a level, written with a single
 * stdio call so lines from different threads never interleave.
 */
#ifndef COL_LOG_H
#define COL_LOG_H

enum col_log_level { COL_LOG_DEBUG = 0, COL_LOG_INFO = 1, COL_LOG_WARN = 2, COL_LOG_ERROR = 3 };

/* Lines below this level are dropped (default COL_LOG_INFO).  Thread-safe. */
void col_log_set_level(int level);

/* Writes one line "2026-01-02T03:04:05.678Z info  <message>" to stderr.
 * Messages longer than ~2 KiB are cut.  Thread-safe. */
void col_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* COL_LOG_H */
