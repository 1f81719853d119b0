/*
 * log.c - timestamped log lines on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int col_log_min = COL_LOG_INFO;

void col_log_set_level(int level)
{
    atomic_store(&col_log_min, level);
}

void col_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info ", "warn ", "error"};
    char msg[2048];
    char ts[40];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level < atomic_load(&col_log_min))
        return;
    if (level < COL_LOG_DEBUG || level > COL_LOG_ERROR)
        level = COL_LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line: stdio locks the stream for the whole call. */
    fprintf(stderr, "%s.%03ldZ %s %s\n", ts, now.tv_nsec / 1000000L, names[level], msg);
}
