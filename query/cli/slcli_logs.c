/*
 * slcli_logs.c - `logs`: search log records (newest first, paged), or
 * follow them as they arrive.
 *
 * --follow polls GET /api/v1/logs.  Records reach the collector in batches,
 * seconds after their timestamps, so each poll asks again for the last
 * FOLLOW_OVERLAP before the newest record seen and drops what it already
 * printed (a fingerprint of time, service, span and body) and what is older
 * than the first page.  A record that arrives later than the overlap after
 * its own timestamp is missed.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/slc_util.h"
#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

#define FOLLOW_OVERLAP_NS (30ULL * 1000000000ULL)
#define SEEN_SLOTS (1u << 16) /* power of two, > the records of one overlap window we keep */
#define FOLLOW_PAGE "1000"

static void logs_help(FILE *f)
{
    fprintf(f, "Usage: sightline logs [--service S] [--level L] [--grep TEXT] [--trace ID]\n"
               "                      [--limit N] [--cursor C] [--follow] [--since T] [--until T] [flags]\n\n"
               "Log records, newest first, each with its trace id when it has one (open it with\n"
               "`sightline trace ID`).  With --follow, the newest records then new ones as they\n"
               "arrive, oldest first, until interrupted (Ctrl-C).\n\n"
               "  --service S       one service\n"
               "  --level L         at least level L: trace, debug, info, warn, error, fatal\n"
               "  --grep TEXT       body contains TEXT (case-sensitive)\n"
               "  --trace ID        only the records of one trace (any age)\n"
               "  --limit N         records per page (1..1000; default 100, --follow: 20 to start)\n"
               "  --cursor C        the next page: the cursor printed after the previous one\n"
               "  --follow, -f      keep polling for new records\n"
               "  --interval D      --follow poll interval (default 1s)\n"
               "  --since T         start: RFC 3339, Unix ns, or an age (15m, 2h, 7d); default 1h\n"
               "  --until T         end, same forms (default: now)\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no records matched, 2 usage or connection error;\n"
               "--follow exits 0 on Ctrl-C or SIGTERM.\n"
               "Examples:\n"
               "  sightline logs --service payment --level warn --since 15m\n"
               "  sightline logs --trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
               "  sightline logs -f --level error\n");
}

typedef struct logs_opts {
    const char *service, *level, *grep, *trace, *limit, *cursor, *interval;
    slcli_range rg;
    int follow;
} logs_opts;

static void logs_url(slcli_url *u, const slcli_ctx *c, const logs_opts *o, const char *since, const char *limit)
{
    slcli_url_init(u, c, "/api/v1/logs");
    slcli_url_param(u, "service", o->service);
    slcli_url_param(u, "level", o->level);
    slcli_url_param(u, "q", o->grep);
    slcli_url_param(u, "trace_id", o->trace);
    slcli_url_param(u, "limit", limit);
    slcli_url_param(u, "since", since);
}

/* ---- --follow ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_follow;

static void on_stop(int sig)
{
    (void)sig;
    stop_follow = 1;
}

typedef struct seen {
    uint64_t h[SEEN_SLOTS], t[SEEN_SLOTS]; /* fingerprint (0 = empty), record time */
    uint32_t n;
} seen;

static uint64_t fingerprint(const json_t *l, uint64_t t)
{
    uint64_t h = 1469598103934665603ull ^ t;
    const char *parts[3] = {json_string_value(json_object_get(l, "service")),
                            json_string_value(json_object_get(l, "span_id")),
                            json_string_value(json_object_get(l, "body"))};
    for (int k = 0; k < 3; k++)
        for (const unsigned char *p = (const unsigned char *)(parts[k] ? parts[k] : ""); *p; p++)
            h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* 1 if h was already there, else inserts it (0). */
static int seen_add(seen *s, uint64_t h, uint64_t t)
{
    uint32_t i = (uint32_t)h & (SEEN_SLOTS - 1);
    for (uint32_t k = 0; k < SEEN_SLOTS; k++, i = (i + 1) & (SEEN_SLOTS - 1)) {
        if (s->h[i] == h)
            return 1;
        if (s->h[i] == 0) {
            s->h[i] = h;
            s->t[i] = t;
            s->n++;
            return 0;
        }
    }
    return 0; /* full: cannot happen, seen_prune keeps it at most half full */
}

/* Keeps only fingerprints of records at or after keep_from (rehashing). */
static void seen_prune(seen *s, uint64_t keep_from)
{
    if (s->n < SEEN_SLOTS / 4)
        return;
    static uint64_t h[SEEN_SLOTS], t[SEEN_SLOTS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < SEEN_SLOTS; i++)
        if (s->h[i] != 0 && s->t[i] >= keep_from) {
            h[n] = s->h[i];
            t[n++] = s->t[i];
        }
    memset(s, 0, sizeof *s);
    for (uint32_t i = 0; i < n && s->n < SEEN_SLOTS / 2; i++)
        seen_add(s, h[i], t[i]);
}

static int logs_follow(slcli_ctx *c, const logs_opts *o)
{
    uint64_t interval = 1000000000ull, newest = 0;
    if (o->interval && (slc_duration_parse(o->interval, &interval) != 0 || interval < 100000000ull))
        return slcli_usage_error(c, "logs", "--interval '%s' must be a duration of at least 100ms", o->interval);
    seen *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SLCLI_EXIT_USAGE;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    slcli_style st;
    slcli_style_init(c, &st);
    int rc = SLCLI_EXIT_OK, first = 1;
    uint64_t floor = 0; /* records older than the first page's oldest were never shown: not now either */
    while (!stop_follow) {
        char since[32];
        const char *sp = o->rg.since;
        if (!first) {
            snprintf(since, sizeof since, "%llu",
                     (unsigned long long)(newest > FOLLOW_OVERLAP_NS ? newest - FOLLOW_OVERLAP_NS : 0));
            sp = since;
        }
        slcli_url u;
        logs_url(&u, c, o, sp, first ? (o->limit ? o->limit : "20") : FOLLOW_PAGE);
        slcli_resp r;
        if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
            break;
        const json_t *logs = json_object_get(r.json, "logs");
        size_t n = json_array_size(logs);
        /* the page is newest first: print it oldest first, like tail -f */
        for (size_t i = n; i-- > 0;) {
            const json_t *l = json_array_get(logs, i);
            uint64_t t = 0;
            slcli_json_u64(l, "time_ns", &t);
            if (t < floor || seen_add(s, fingerprint(l, t), t))
                continue;
            if (first && i == n - 1)
                floor = t;
            if (c->json) {
                json_dumpf(l, c->out, JSON_COMPACT);
                fputc('\n', c->out);
            } else {
                slcli_render_log_line(c->out, l, 12, &st);
            }
            if (t > newest)
                newest = t;
        }
        fflush(c->out);
        slcli_resp_free(&r);
        if (newest > FOLLOW_OVERLAP_NS)
            seen_prune(s, newest - FOLLOW_OVERLAP_NS);
        if (first && newest == 0)
            newest = floor = slc_now_ns(); /* nothing yet: follow from now */
        first = 0;
        struct timespec ts = {(time_t)(interval / 1000000000ull), (long)(interval % 1000000000ull)};
        while (!stop_follow && nanosleep(&ts, &ts) != 0)
            ;
    }
    free(s);
    return stop_follow ? SLCLI_EXIT_OK : rc;
}

/* ---- one page ---------------------------------------------------------------------------- */

static int logs_run(slcli_ctx *c, int argc, char **argv)
{
    logs_opts o = {0};
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            logs_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
            o.follow = 1;
            i++;
            continue;
        }
        if ((rc = slcli_common_flag(c, argc, argv, &i, &o.rg)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--service", &o.service)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--level", &o.level)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--grep", &o.grep)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--trace", &o.trace)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--limit", &o.limit)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--cursor", &o.cursor)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--interval", &o.interval)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-')
            return slcli_usage_error(c, "logs", "unknown flag '%s'", argv[i]);
        return slcli_usage_error(c, "logs", "unexpected argument '%s'", argv[i]);
    }
    if ((rc = slcli_check_range(c, "logs", &o.rg)) != SLCLI_EXIT_OK ||
        (rc = slcli_check_uint(c, "logs", "--limit", o.limit, 1, 1000)) != SLCLI_EXIT_OK)
        return rc;
    if (o.trace) {
        uint8_t id[16];
        if (slc_trace_id_parse(o.trace, id) != 0)
            return slcli_usage_error(c, "logs", "--trace '%s' is not a trace id: expected 32 hex digits", o.trace);
    }
    if (o.follow) {
        if (o.cursor || o.rg.until)
            return slcli_usage_error(c, "logs", "--follow takes neither --cursor nor --until");
        return logs_follow(c, &o);
    }
    slcli_url u;
    logs_url(&u, c, &o, o.rg.since, o.limit);
    slcli_url_param(&u, "until", o.rg.until);
    slcli_url_param(&u, "cursor", o.cursor);
    slcli_resp r;
    if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
        return rc;
    size_t n = json_array_size(json_object_get(r.json, "logs"));
    const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
    if (!json_is_array(json_object_get(r.json, "logs"))) {
        fprintf(c->err, "sightline: %s answered without a \"logs\" array; are the CLI and the collector the same "
                        "version?\n", u.buf);
        rc = SLCLI_EXIT_USAGE;
    } else if (c->json) {
        slcli_print_raw(c, &r);
    } else {
        slcli_style st;
        slcli_style_init(c, &st);
        slcli_render_logs(c->out, r.json, 0, &st);
        if (next && *next)
            fprintf(c->err, "sightline: more records: add --cursor %s\n", next);
        if (json_is_true(json_object_get(r.json, "partial")))
            fprintf(c->err, "sightline: the search stopped at its block budget; the page may be short (the cursor "
                            "continues correctly)\n");
        if (n == 0)
            fprintf(c->err, "sightline: no log records matched; widen --since or relax --level/--grep\n");
    }
    if (rc == SLCLI_EXIT_OK && n == 0)
        rc = SLCLI_EXIT_EMPTY;
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_logs = {"logs", "[--service S] [--level L] [--grep T] [--trace ID] [-f]",
                                  "search or follow log records, newest first, with trace links", logs_run,
                                  logs_help};
