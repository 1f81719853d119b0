/*
 * alerts.c - the alert engine (see alerts.h): the rules in force, one
 * status per rule, the history ring, the outbox of notifications, the
 * evaluation and delivery threads, and the files they persist to.
 *
 * Locking: mu guards everything in struct col_alerts that changes (the set
 * pointer, statuses, history, outbox, counters).  Store reads (evaluation)
 * and deliveries (network, child processes) run without it: the evaluator
 * takes a reference to the rules set, measures, then applies the results
 * under mu only if the set is still the same; the delivery thread marks a
 * message in flight and delivers it unlocked.  cfg_mu serialises rule
 * changes (API, SIGHUP) so two writers never interleave their file writes;
 * save_mu orders state-file writes so an older snapshot never replaces a
 * newer one.
 */
#include "alerts.h"
#include "alerts_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "query/slq_util.h"
#include "sightline.h"
#include "common/slc_util.h"

#define AL_DEFAULT_INTERVAL (10ULL * COL_AL_SEC)
#define AL_OUTBOX_MAX 1000
#define AL_BACKOFF_CAP (300ULL * COL_AL_SEC)

struct al_ent {
    char name[COL_AL_NAME_MAX];
    char expr[COL_AL_EXPR_MAX]; /* the condition the status belongs to */
    col_al_status st;
};

struct al_msg {
    uint64_t seq;
    char notifier[COL_AL_NAME_MAX];
    char rule[COL_AL_NAME_MAX];
    json_t *payload; /* owned */
    int attempts;
    int inflight;
    uint64_t next_ns, created_ns;
    char last_error[256];
};

struct col_alerts {
    pthread_mutex_t mu, cfg_mu, save_mu;
    pthread_cond_t eval_cv, deliv_cv;
    col_store *store;
    char rules_path[1024], state_path[1024];
    col_al_set *set;
    struct al_ent *ent; /* parallel to set->rules */
    json_t **hist;      /* ring, oldest at hist_head */
    size_t hist_max, hist_head, hist_n;
    struct al_msg out[AL_OUTBOX_MAX];
    size_t nout;
    uint64_t interval_ns, last_pass_ns, seq;
    int stop, threads;
    pthread_t eval_thr, deliv_thr;
    char rules_error[512];
    char host[128];
    /* counters */
    uint64_t evaluations, eval_errors, queued, delivered, failed_attempts, given_up, dropped,
        save_errors;
};

/* ======================= files ================================================= */

static void al_time_str(uint64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / COL_AL_SEC);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ns % COL_AL_SEC / 1000000ULL));
}

static uint64_t al_ns_get(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    char *end;
    unsigned long long v;

    if (s == NULL)
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' ? (uint64_t)v : 0;
}

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory.  A crash leaves the old
 * file or the new one, never a mix. */
static int al_write_atomic(const char *path, const char *data, size_t len, char *err,
                           size_t errlen)
{
    char tmp[1100], dir[1024];
    int fd, dfd;
    size_t off = 0;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", path);
        return SL_EINVAL;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return SL_EIO;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return SL_EIO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return SL_EIO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return SL_EIO;
    }
    snprintf(dir, sizeof dir, "%s", path);
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Reads a JSON file of at most COL_AL_FILE_MAX bytes.  SL_ENOTFOUND when it
 * does not exist. */
static int al_read_json(const char *path, json_t **out, char *err, size_t errlen)
{
    json_error_t je;
    struct stat sb;
    json_t *j;

    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            return SL_ENOTFOUND;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    if ((size_t)sb.st_size > COL_AL_FILE_MAX) {
        snprintf(err, errlen, "%s is larger than %zu bytes", path, COL_AL_FILE_MAX);
        return SL_ETOOBIG;
    }
    j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return SL_EINVAL;
    }
    *out = j;
    return 0;
}

/* ======================= history ================================================ */

/* Adds an entry (taken) to the ring; drops the oldest when full. */
static void al_hist_add(col_alerts *a, json_t *e)
{
    if (e == NULL)
        return;
    if (a->hist_n == a->hist_max) {
        json_decref(a->hist[a->hist_head]);
        a->hist[a->hist_head] = e;
        a->hist_head = (a->hist_head + 1) % a->hist_max;
        return;
    }
    a->hist[(a->hist_head + a->hist_n) % a->hist_max] = e;
    a->hist_n++;
}

static json_t *al_hist_entry(uint64_t now, const char *rule, const char *event)
{
    char ts[80];
    al_time_str(now, ts, sizeof ts);
    return json_pack("{s:o,s:s,s:s,s:s}", "time_ns", slq_json_ns(now), "time", ts, "rule", rule,
                     "event", event);
}

/* ======================= descriptions and payloads ================================ */

struct al_fields {
    const col_al_rule *r;
    const col_al_status *st;
    char value[32], threshold[32], window[24], forv[24], metric[24], edge[2 * COL_AL_STR_MAX + 4],
        starts[80];
};

static const char *al_lookup(const char *f, size_t n, void *arg)
{
    struct al_fields *x = arg;
    const col_al_rule *r = x->r;

#define IS(s) (n == sizeof(s) - 1 && memcmp(f, s, n) == 0)
    if (IS("rule"))
        return r->name;
    if (IS("service"))
        return r->c.service;
    if (IS("operation"))
        return r->c.operation;
    if (IS("caller"))
        return r->c.caller;
    if (IS("edge"))
        return x->edge;
    if (IS("metric"))
        return x->metric;
    if (IS("value"))
        return x->value;
    if (IS("threshold"))
        return x->threshold;
    if (IS("unit"))
        return x->st->has_value ? col_al_unit(r->c.metric) : "";
    if (IS("severity"))
        return r->severity;
    if (IS("state"))
        return col_al_state_name(x->st->state);
    if (IS("window"))
        return x->window;
    if (IS("for"))
        return x->forv;
    if (IS("expr"))
        return r->expr;
    if (IS("starts_at"))
        return x->starts;
#undef IS
    if (n > 7 && memcmp(f, "labels.", 7) == 0) {
        char key[80];
        const char *v;
        snprintf(key, sizeof key, "%.*s", (int)(n - 7 < 79 ? n - 7 : 79), f + 7);
        v = json_string_value(json_object_get(r->labels, key));
        return v != NULL ? v : "";
    }
    return col_al_template_field_ok(f, n) ? "" : NULL;
}

static void al_fields_init(struct al_fields *x, const col_al_rule *r, const col_al_status *st)
{
    uint64_t w = r->c.window_ns / COL_AL_SEC, fo = r->c.for_ns / COL_AL_SEC;

    memset(x, 0, sizeof *x);
    x->r = r;
    x->st = st;
    if (st->has_value)
        col_al_fmt_value(st->value, x->value, sizeof x->value);
    else
        snprintf(x->value, sizeof x->value, "n/a");
    col_al_fmt_value(r->c.threshold, x->threshold, sizeof x->threshold);
    snprintf(x->window, sizeof x->window, "%llum", (unsigned long long)(w / 60));
    if (w % 60)
        snprintf(x->window, sizeof x->window, "%llus", (unsigned long long)w);
    snprintf(x->forv, sizeof x->forv, "%llus", (unsigned long long)fo);
    if (fo % 60 == 0)
        snprintf(x->forv, sizeof x->forv, "%llum", (unsigned long long)(fo / 60));
    col_al_metric_name(&r->c, x->metric, sizeof x->metric);
    if (r->c.caller[0])
        snprintf(x->edge, sizeof x->edge, "%s->%s", r->c.caller, r->c.service);
    if (st->active_since)
        al_time_str(st->active_since, x->starts, sizeof x->starts);
}

static void al_describe(const col_al_rule *r, const col_al_status *st, char *out, size_t len)
{
    struct al_fields x;
    char err[64];

    al_fields_init(&x, r, st);
    if (col_al_render(r->description[0] ? r->description : "{{expr}}: {{value}}{{unit}}",
                      al_lookup, &x, out, len, err, sizeof err) != 0)
        snprintf(out, len, "%s", r->expr);
}

static json_t *al_value_json(const col_al_status *st)
{
    return st->has_value ? json_real(st->value) : json_null();
}

/* The notification body (docs/alerts.md, "Webhook body"). */
static json_t *al_payload(col_alerts *a, const col_al_rule *r, const col_al_status *st,
                          const char *event, const char *reason, uint64_t now)
{
    char desc[COL_AL_TEMPLATE_MAX], starts[80], ends[80], id[COL_AL_NAME_MAX + 64], m[24];
    int resolved = strcmp(event, "resolved") == 0;
    json_t *p;

    al_describe(r, st, desc, sizeof desc);
    al_time_str(st->active_since, starts, sizeof starts);
    al_time_str(st->resolved_at ? st->resolved_at : now, ends, sizeof ends);
    snprintf(id, sizeof id, "%s:%llu:%s:%llu", r->name, (unsigned long long)st->active_since,
             event, (unsigned long long)++a->seq);
    p = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:f,s:s,s:s,s:o,"
                  "s:s,s:o,s:s}",
                  "version", 1, "id", id, "status", resolved ? "resolved" : "firing", "event",
                  event, "rule", r->name, "severity", r->severity, "labels",
                  r->labels ? json_deep_copy(r->labels) : json_object(), "description", desc, "expr", r->expr,
                  "metric", col_al_metric_name(&r->c, m, sizeof m), "service", r->c.service,
                  "operation", r->c.operation, "caller", r->c.caller, "value",
                  al_value_json(st), "threshold", r->c.threshold, "unit",
                  col_al_unit(r->c.metric), "starts_at", starts, "starts_at_ns",
                  slq_json_ns(st->active_since), "collector", a->host, "sent_at_ns", slq_json_ns(now),
                  "ends_at", resolved ? ends : "");
    if (p != NULL && reason != NULL)
        json_object_set_new(p, "reason", json_string(reason));
    return p;
}

/* Queues payload (borrowed) for one notifier; drops the oldest message when
 * the outbox is full, saying so in the history and the log.  Caller holds mu. */
static void al_outbox_push(col_alerts *a, const char *notifier, const char *rule,
                           json_t *payload, uint64_t now)
{
    struct al_msg *m;

    if (a->nout == AL_OUTBOX_MAX) {
        size_t k = 0;
        while (k < a->nout && a->out[k].inflight)
            k++;
        if (k == a->nout)
            return; /* cannot happen: one message is in flight at most */
        col_log(COL_LOG_ERROR, "alerts: outbox full (%d): dropping the oldest notification "
                               "(rule %s to %s)",
                AL_OUTBOX_MAX, a->out[k].rule, a->out[k].notifier);
        json_t *h = al_hist_entry(now, a->out[k].rule, "delivery_dropped");
        if (h != NULL) {
            json_object_set_new(h, "notifier", json_string(a->out[k].notifier));
            json_object_set_new(h, "message", json_string("outbox full"));
        }
        al_hist_add(a, h);
        a->dropped++;
        json_decref(a->out[k].payload);
        memmove(&a->out[k], &a->out[k + 1], (a->nout - k - 1) * sizeof a->out[0]);
        a->nout--;
    }
    m = &a->out[a->nout];
    memset(m, 0, sizeof *m);
    m->seq = ++a->seq;
    snprintf(m->notifier, sizeof m->notifier, "%s", notifier);
    snprintf(m->rule, sizeof m->rule, "%s", rule);
    m->payload = json_incref(payload);
    m->next_ns = now;
    m->created_ns = now;
    a->nout++;
    a->queued++;
    pthread_cond_signal(&a->deliv_cv);
}

/* An event of rule r: history, the log line, and the notifications of
 * firing / repeat / resolved.  Caller holds mu. */
static void al_event(col_alerts *a, const col_al_rule *r, const col_al_status *st,
                     enum col_al_event ev, const char *reason, uint64_t now)
{
    static const char *const names[] = {"none",  "pending",  "ok",     "firing",
                                        "repeat", "resolved", "expired"};
    const char *name = names[ev];
    char v[32];
    json_t *h;

    if (ev == COL_AL_EV_NONE)
        return;
    if (ev != COL_AL_EV_REPEAT && ev != COL_AL_EV_EXPIRED) {
        h = al_hist_entry(now, r->name, name);
        if (h != NULL) {
            json_object_set_new(h, "value", al_value_json(st));
            json_object_set_new(h, "threshold", json_real(r->c.threshold));
            json_object_set_new(h, "severity", json_string(r->severity));
            if (reason != NULL)
                json_object_set_new(h, "message", json_string(reason));
        }
        al_hist_add(a, h);
    }
    if (ev != COL_AL_EV_FIRING && ev != COL_AL_EV_REPEAT && ev != COL_AL_EV_RESOLVED)
        return;
    {
        char desc[COL_AL_TEMPLATE_MAX];
        json_t *p = al_payload(a, r, st, name, reason, now);
        al_describe(r, st, desc, sizeof desc);
        if (st->has_value)
            col_al_fmt_value(st->value, v, sizeof v);
        else
            snprintf(v, sizeof v, "n/a");
        col_log(ev == COL_AL_EV_RESOLVED ? COL_LOG_INFO : COL_LOG_WARN,
                "alert %s: rule=%s severity=%s value=%s%s: %s%s%s%s", name, r->name, r->severity,
                v, col_al_unit(r->c.metric), desc, reason ? " (" : "", reason ? reason : "",
                reason ? ")" : "");
        for (int i = 0; p != NULL && i < r->nnotify; i++)
            al_outbox_push(a, r->notify[i], r->name, p, now);
        json_decref(p);
    }
}

/* ======================= state file =================================================== */

static json_t *al_status_json(const struct al_ent *e)
{
    const col_al_status *s = &e->st;
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:s}", "state",
                     col_al_state_name(s->state), "expr", e->expr, "pending_since_ns",
                     slq_json_ns(s->pending_since), "active_since_ns", slq_json_ns(s->active_since),
                     "resolved_at_ns", slq_json_ns(s->resolved_at), "clear_since_ns",
                     slq_json_ns(s->clear_since), "last_notified_ns", slq_json_ns(s->last_notified),
                     "last_eval_ns", slq_json_ns(s->last_eval), "value", json_real(s->value),
                     "has_value", s->has_value, "last_error", s->last_error);
}

static void al_status_from(const json_t *j, col_al_status *s)
{
    const char *st = json_string_value(json_object_get(j, "state"));

    memset(s, 0, sizeof *s);
    s->state = COL_AL_OK;
    for (int k = COL_AL_OK; st != NULL && k <= COL_AL_RESOLVED; k++)
        if (strcmp(st, col_al_state_name((enum col_al_state)k)) == 0)
            s->state = (enum col_al_state)k;
    s->pending_since = al_ns_get(j, "pending_since_ns");
    s->active_since = al_ns_get(j, "active_since_ns");
    s->resolved_at = al_ns_get(j, "resolved_at_ns");
    s->clear_since = al_ns_get(j, "clear_since_ns");
    s->last_notified = al_ns_get(j, "last_notified_ns");
    s->last_eval = al_ns_get(j, "last_eval_ns");
    s->value = json_number_value(json_object_get(j, "value"));
    s->has_value = json_is_true(json_object_get(j, "has_value"));
}

/* Serialises statuses, history and outbox.  Caller holds mu. */
static char *al_state_dump(col_alerts *a)
{
    json_t *root = json_object(), *states = json_object(), *hist = json_array(),
           *out = json_array();
    char *s = NULL;

    if (root && states && hist && out) {
        for (size_t i = 0; a->set != NULL && i < a->set->nrules; i++)
            json_object_set_new(states, a->ent[i].name, al_status_json(&a->ent[i]));
        for (size_t i = 0; i < a->hist_n; i++)
            json_array_append(hist, a->hist[(a->hist_head + i) % a->hist_max]);
        for (size_t i = 0; i < a->nout; i++) {
            const struct al_msg *m = &a->out[i];
            json_array_append_new(
                out, json_pack("{s:s,s:s,s:O,s:i,s:o,s:o,s:s}", "notifier", m->notifier, "rule",
                               m->rule, "payload", m->payload, "attempts", m->attempts,
                               "next_ns", slq_json_ns(m->next_ns), "created_ns", slq_json_ns(m->created_ns),
                               "last_error", m->last_error));
        }
        json_object_set_new(root, "version", json_integer(1));
        json_object_set_new(root, "seq", slq_json_ns(a->seq));
        json_object_set(root, "states", states);
        json_object_set(root, "history", hist);
        json_object_set(root, "outbox", out);
        s = json_dumps(root, JSON_COMPACT);
    }
    json_decref(root);
    json_decref(states);
    json_decref(hist);
    json_decref(out);
    return s;
}

static void al_save(col_alerts *a)
{
    char err[512], *s;
    int rv;

    pthread_mutex_lock(&a->save_mu);
    pthread_mutex_lock(&a->mu);
    s = al_state_dump(a);
    pthread_mutex_unlock(&a->mu);
    rv = s != NULL ? al_write_atomic(a->state_path, s, strlen(s), err, sizeof err) : SL_ENOMEM;
    if (rv != 0) {
        pthread_mutex_lock(&a->mu);
        a->save_errors++;
        pthread_mutex_unlock(&a->mu);
        col_log(COL_LOG_ERROR, "alerts: cannot save the alert state: %s",
                s ? err : "out of memory");
    }
    pthread_mutex_unlock(&a->save_mu);
    free(s);
}

/* Loads statuses (into *saved, to be adopted by al_apply_set), history and
 * outbox from the state file.  Caller holds no lock (open time). */
static void al_state_load(col_alerts *a, json_t **saved)
{
    char err[512];
    json_t *j = NULL, *v;
    size_t i;
    int rv = al_read_json(a->state_path, &j, err, sizeof err);

    *saved = NULL;
    if (rv == SL_ENOTFOUND)
        return;
    if (rv != 0 || !json_is_object(j) || !json_is_object(json_object_get(j, "states"))) {
        char bad[1100];
        snprintf(bad, sizeof bad, "%s.corrupt", a->state_path);
        rename(a->state_path, bad);
        col_log(COL_LOG_ERROR,
                "alerts: state file unreadable (%s); moved to %s, alerts start from ok",
                rv != 0 ? err : "not a state document", bad);
        json_decref(j);
        return;
    }
    a->seq = al_ns_get(j, "seq");
    json_array_foreach(json_object_get(j, "history"), i, v)
        if (json_is_object(v))
            al_hist_add(a, json_incref(v));
    json_array_foreach(json_object_get(j, "outbox"), i, v)
    {
        const char *n = json_string_value(json_object_get(v, "notifier"));
        const char *r = json_string_value(json_object_get(v, "rule"));
        json_t *p = json_object_get(v, "payload");
        struct al_msg *m;
        if (a->nout >= AL_OUTBOX_MAX || n == NULL || r == NULL || !json_is_object(p))
            continue;
        m = &a->out[a->nout++];
        memset(m, 0, sizeof *m);
        m->seq = ++a->seq;
        snprintf(m->notifier, sizeof m->notifier, "%s", n);
        snprintf(m->rule, sizeof m->rule, "%s", r);
        m->payload = json_incref(p);
        m->attempts = (int)json_integer_value(json_object_get(v, "attempts"));
        m->next_ns = al_ns_get(v, "next_ns");
        m->created_ns = al_ns_get(v, "created_ns");
    }
    *saved = json_incref(json_object_get(j, "states"));
    json_decref(j);
}

/* ======================= rules in force ================================================ */

/* Makes ns the rules in force (taking its reference): a status carries over
 * when the rule keeps its name and its condition; a firing alert whose rule
 * is deleted, disabled or changed sends its resolve notification.  saved
 * (may be NULL) holds statuses loaded from the state file.  Caller holds
 * mu. */
static int al_apply_set(col_alerts *a, col_al_set *ns, const json_t *saved, uint64_t now)
{
    struct al_ent *ne = calloc(ns->nrules + 1, sizeof *ne);
    col_al_set *old = a->set;

    if (ne == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < ns->nrules; i++) {
        const col_al_rule *r = &ns->rules[i];
        const json_t *sj = saved != NULL ? json_object_get(saved, r->name) : NULL;
        snprintf(ne[i].name, sizeof ne[i].name, "%s", r->name);
        snprintf(ne[i].expr, sizeof ne[i].expr, "%s", r->expr);
        if (r->disabled)
            continue;
        const char *sx = sj != NULL ? json_string_value(json_object_get(sj, "expr")) : NULL;
        if (sx != NULL && strcmp(sx, r->expr) == 0)
            al_status_from(sj, &ne[i].st);
        for (size_t k = 0; old != NULL && k < old->nrules; k++)
            if (strcmp(a->ent[k].name, r->name) == 0 && strcmp(a->ent[k].expr, r->expr) == 0)
                ne[i].st = a->ent[k].st;
    }
    for (size_t k = 0; old != NULL && k < old->nrules; k++) {
        const col_al_rule *orl = &old->rules[k];
        const col_al_rule *nr = col_al_set_rule(ns, orl->name);
        const char *why = nr == NULL                        ? "rule deleted"
                          : nr->disabled                    ? "rule disabled"
                          : strcmp(nr->expr, orl->expr) != 0 ? "rule changed"
                                                             : NULL;
        json_t *h;
        if (nr == NULL || strcmp(nr->expr, orl->expr) != 0) {
            h = al_hist_entry(now, orl->name, nr == NULL ? "rule_deleted" : "rule_changed");
            al_hist_add(a, h);
        }
        if (why != NULL && a->ent[k].st.state == COL_AL_FIRING) {
            col_al_status st = a->ent[k].st;
            st.state = COL_AL_RESOLVED;
            st.resolved_at = now;
            al_event(a, orl, &st, COL_AL_EV_RESOLVED, why, now);
        }
    }
    for (size_t i = 0; i < ns->nrules; i++)
        if (old == NULL || col_al_set_rule(old, ns->rules[i].name) == NULL) {
            if (old != NULL)
                al_hist_add(a, al_hist_entry(now, ns->rules[i].name, "rule_added"));
        }
    free(a->ent);
    a->ent = ne;
    a->set = ns;
    col_al_set_unref(old);
    return 0;
}

/* Reads and validates the rules file into a new set (an empty set when the
 * file does not exist). */
static int al_load_rules(col_alerts *a, col_al_set **out, char *err, size_t errlen)
{
    json_t *doc = NULL;
    int rv = al_read_json(a->rules_path, &doc, err, errlen);

    if (rv == SL_ENOTFOUND) {
        doc = json_pack("{s:i,s:[],s:[]}", "version", 1, "notifiers", "rules");
        if (doc == NULL)
            return SL_ENOMEM;
    } else if (rv != 0)
        return rv;
    rv = col_al_set_build(doc, out, err, errlen);
    json_decref(doc);
    return rv;
}

/* ======================= evaluation ===================================================== */

struct al_meas {
    double v;
    int has, rv;
};

int col_alerts_eval(col_alerts *a, uint64_t now)
{
    col_al_set *set;
    struct al_meas *m;
    int nerr = 0, changed = 0;

    pthread_mutex_lock(&a->mu);
    set = a->set;
    col_al_set_ref(set);
    pthread_mutex_unlock(&a->mu);
    m = calloc(set->nrules + 1, sizeof *m);
    if (m == NULL) {
        col_al_set_unref(set);
        return -1;
    }
    for (size_t i = 0; i < set->nrules; i++)
        if (!set->rules[i].disabled)
            m[i].rv = col_al_measure(a->store, &set->rules[i].c, now, &m[i].v, &m[i].has);
    pthread_mutex_lock(&a->mu);
    if (a->set == set) {
        for (size_t i = 0; i < set->nrules; i++) {
            const col_al_rule *r = &set->rules[i];
            col_al_status *st = &a->ent[i].st;
            enum col_al_state before = st->state;
            enum col_al_event ev;
            if (r->disabled)
                continue;
            if (m[i].rv != 0) {
                nerr++;
                if (st->last_error[0] == '\0')
                    col_log(COL_LOG_ERROR, "alerts: rule %s: reading the store failed: %s",
                            r->name, sl_strerror(m[i].rv));
                snprintf(st->last_error, sizeof st->last_error, "reading the store: %s",
                         sl_strerror(m[i].rv));
                st->last_eval = now;
                continue;
            }
            st->last_error[0] = '\0';
            ev = col_al_step(r, st, m[i].v, m[i].has, now);
            al_event(a, r, st, ev, NULL, now);
            if (ev != COL_AL_EV_NONE || st->state != before)
                changed = 1;
        }
        a->evaluations++;
        a->eval_errors += (uint64_t)nerr;
        a->last_pass_ns = now;
    }
    pthread_mutex_unlock(&a->mu);
    free(m);
    col_al_set_unref(set);
    if (changed)
        al_save(a);
    return nerr;
}

static void al_deadline(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / COL_AL_SEC);
    ts->tv_nsec = (long)(ns % COL_AL_SEC);
}

static void *al_eval_main(void *arg)
{
    col_alerts *a = arg;

    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        struct timespec ts;
        pthread_mutex_unlock(&a->mu);
        col_alerts_eval(a, slc_now_ns());
        pthread_mutex_lock(&a->mu);
        if (a->stop)
            break;
        al_deadline(&ts, a->interval_ns);
        pthread_cond_timedwait(&a->eval_cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ======================= delivery ===================================================== */

static struct al_msg *al_msg_find(col_alerts *a, uint64_t seq)
{
    for (size_t i = 0; i < a->nout; i++)
        if (a->out[i].seq == seq)
            return &a->out[i];
    return NULL;
}

static void al_msg_remove(col_alerts *a, struct al_msg *m)
{
    size_t k = (size_t)(m - a->out);
    json_decref(m->payload);
    memmove(&a->out[k], &a->out[k + 1], (a->nout - k - 1) * sizeof a->out[0]);
    a->nout--;
}

/* Delivers the most overdue message due at now, if any: 1 attempted, 0
 * nothing due (*next_due = when the next one is, 0 = none).  Called and
 * returns with mu held; drops it while delivering. */
static int al_deliver_one(col_alerts *a, uint64_t now, uint64_t *next_due)
{
    struct al_msg *m = NULL;
    col_al_set *set;
    const col_al_notifier *n;
    json_t *payload, *h;
    char err[512] = "", rule[COL_AL_NAME_MAX], nname[COL_AL_NAME_MAX];
    uint64_t seq;
    int rv;

    *next_due = 0;
    for (size_t i = 0; i < a->nout; i++) {
        struct al_msg *c = &a->out[i];
        if (c->inflight)
            continue;
        if (c->next_ns <= now && (m == NULL || c->next_ns < m->next_ns))
            m = c;
        else if (c->next_ns > now && (*next_due == 0 || c->next_ns < *next_due))
            *next_due = c->next_ns;
    }
    if (m == NULL)
        return 0;
    set = a->set;
    n = col_al_set_notifier(set, m->notifier);
    if (n == NULL) {
        col_log(COL_LOG_ERROR, "alerts: notification of rule %s dropped: notifier %s no longer "
                               "exists in the rules file",
                m->rule, m->notifier);
        h = al_hist_entry(now, m->rule, "delivery_failed");
        if (h != NULL) {
            json_object_set_new(h, "notifier", json_string(m->notifier));
            json_object_set_new(h, "message", json_string("notifier removed from the rules"));
        }
        al_hist_add(a, h);
        a->given_up++;
        al_msg_remove(a, m);
        return 1;
    }
    col_al_set_ref(set);
    m->inflight = 1;
    seq = m->seq;
    payload = json_incref(m->payload);
    snprintf(rule, sizeof rule, "%s", m->rule);
    snprintf(nname, sizeof nname, "%s", m->notifier);
    pthread_mutex_unlock(&a->mu);
    rv = col_al_notify(n, payload, err, sizeof err);
    pthread_mutex_lock(&a->mu);
    json_decref(payload);
    m = al_msg_find(a, seq);
    if (m != NULL) {
        m->inflight = 0;
        m->attempts++;
        if (rv == 0) {
            h = al_hist_entry(now, rule, "delivered");
            if (h != NULL) {
                json_object_set_new(h, "notifier", json_string(nname));
                json_object_set_new(h, "attempts", json_integer(m->attempts));
                json_object_set(h, "status", json_object_get(m->payload, "status"));
            }
            al_hist_add(a, h);
            a->delivered++;
            al_msg_remove(a, m);
        } else {
            uint64_t back = n->backoff_ns;
            a->failed_attempts++;
            snprintf(m->last_error, sizeof m->last_error, "%.255s", err);
            for (int k = 1; k < m->attempts && back < AL_BACKOFF_CAP; k++)
                back *= 2;
            if (back > AL_BACKOFF_CAP)
                back = AL_BACKOFF_CAP;
            h = al_hist_entry(now, rule, m->attempts >= n->max_attempts ? "delivery_failed"
                                                                        : "delivery_retry");
            if (h != NULL) {
                json_object_set_new(h, "notifier", json_string(nname));
                json_object_set_new(h, "attempts", json_integer(m->attempts));
                json_object_set_new(h, "message", json_string(err));
            }
            al_hist_add(a, h);
            if (m->attempts >= n->max_attempts) {
                col_log(COL_LOG_ERROR,
                        "alerts: giving up on a notification of rule %s to %s after %d "
                        "attempts: %s",
                        rule, nname, m->attempts, err);
                a->given_up++;
                al_msg_remove(a, m);
            } else {
                col_log(COL_LOG_WARN,
                        "alerts: notification of rule %s to %s failed (attempt %d of %d, next "
                        "in %llums): %s",
                        rule, nname, m->attempts, n->max_attempts,
                        (unsigned long long)(back / 1000000ULL), err);
                m->next_ns = now + back;
            }
        }
    }
    col_al_set_unref(set);
    return 1;
}

int col_alerts_deliver_due(col_alerts *a, uint64_t now)
{
    uint64_t next;
    int n = 0;

    pthread_mutex_lock(&a->mu);
    while (n < AL_OUTBOX_MAX && al_deliver_one(a, now, &next))
        n++;
    pthread_mutex_unlock(&a->mu);
    if (n > 0)
        al_save(a);
    return n;
}

static void *al_deliver_main(void *arg)
{
    col_alerts *a = arg;

    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        uint64_t next = 0, now = slc_now_ns();
        struct timespec ts;
        if (al_deliver_one(a, now, &next)) {
            pthread_mutex_unlock(&a->mu);
            al_save(a);
            pthread_mutex_lock(&a->mu);
            continue;
        }
        al_deadline(&ts, next != 0 && next - now < COL_AL_SEC ? next - now : COL_AL_SEC);
        pthread_cond_timedwait(&a->deliv_cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ======================= life cycle ======================================================== */

int col_alerts_open(const col_alerts_opts *o, col_store *store, col_alerts **out, char *err,
                    size_t errlen)
{
    col_alerts *a;
    col_al_set *set = NULL;
    json_t *saved = NULL;
    int rv;

    if (strlen(o->rules_path) >= sizeof a->rules_path ||
        strlen(o->state_path) >= sizeof a->state_path) {
        snprintf(err, errlen, "alert file paths are too long");
        return SL_EINVAL;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return SL_ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->cfg_mu, NULL);
    pthread_mutex_init(&a->save_mu, NULL);
    pthread_cond_init(&a->eval_cv, NULL);
    pthread_cond_init(&a->deliv_cv, NULL);
    a->store = store;
    snprintf(a->rules_path, sizeof a->rules_path, "%s", o->rules_path);
    snprintf(a->state_path, sizeof a->state_path, "%s", o->state_path);
    a->interval_ns = o->interval_ns ? o->interval_ns : AL_DEFAULT_INTERVAL;
    a->hist_max = o->history_max ? o->history_max : 1000;
    a->hist = calloc(a->hist_max, sizeof *a->hist);
    if (gethostname(a->host, sizeof a->host - 1) != 0)
        snprintf(a->host, sizeof a->host, "unknown");
    if (a->hist == NULL) {
        rv = SL_ENOMEM;
        goto fail;
    }
    rv = al_load_rules(a, &set, err, errlen);
    if (rv != 0)
        goto fail;
    al_state_load(a, &saved);
    rv = al_apply_set(a, set, saved, slc_now_ns());
    json_decref(saved);
    if (rv != 0) {
        col_al_set_unref(set);
        goto fail;
    }
    *out = a;
    return 0;
fail:
    col_alerts_close(a);
    return rv;
}

int col_alerts_start(col_alerts *a)
{
    if (pthread_create(&a->eval_thr, NULL, al_eval_main, a) != 0)
        return SL_ENOMEM;
    if (pthread_create(&a->deliv_thr, NULL, al_deliver_main, a) != 0) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_broadcast(&a->eval_cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->eval_thr, NULL);
        return SL_ENOMEM;
    }
    a->threads = 1;
    return 0;
}

void col_alerts_close(col_alerts *a)
{
    if (a == NULL)
        return;
    if (a->threads) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_broadcast(&a->eval_cv);
        pthread_cond_broadcast(&a->deliv_cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->eval_thr, NULL);
        pthread_join(a->deliv_thr, NULL);
    }
    if (a->set != NULL)
        al_save(a);
    for (size_t i = 0; i < a->hist_n; i++)
        json_decref(a->hist[(a->hist_head + i) % a->hist_max]);
    for (size_t i = 0; i < a->nout; i++)
        json_decref(a->out[i].payload);
    free(a->hist);
    free(a->ent);
    col_al_set_unref(a->set);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->cfg_mu);
    pthread_mutex_destroy(&a->save_mu);
    pthread_cond_destroy(&a->eval_cv);
    pthread_cond_destroy(&a->deliv_cv);
    free(a);
}

void col_alerts_set_interval(col_alerts *a, uint64_t ns)
{
    pthread_mutex_lock(&a->mu);
    a->interval_ns = ns ? ns : AL_DEFAULT_INTERVAL;
    pthread_cond_broadcast(&a->eval_cv);
    pthread_mutex_unlock(&a->mu);
}

int col_alerts_reload(col_alerts *a, char *err, size_t errlen)
{
    col_al_set *set = NULL;
    int rv;

    pthread_mutex_lock(&a->cfg_mu);
    rv = al_load_rules(a, &set, err, errlen);
    pthread_mutex_lock(&a->mu);
    if (rv == 0) {
        rv = al_apply_set(a, set, NULL, slc_now_ns());
        if (rv != 0)
            col_al_set_unref(set);
    }
    if (rv != 0)
        snprintf(a->rules_error, sizeof a->rules_error, "%s", err);
    else
        a->rules_error[0] = '\0';
    pthread_cond_broadcast(&a->eval_cv); /* evaluate the new rules now */
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_unlock(&a->cfg_mu);
    if (rv == 0)
        al_save(a);
    return rv;
}

/* ======================= API ================================================================== */

/* Validates doc, writes it to the rules file, applies it.  Caller holds
 * cfg_mu (not mu). */
static int al_commit_doc(col_alerts *a, json_t *doc, char *err, size_t errlen)
{
    col_al_set *set = NULL;
    char *text;
    int rv = col_al_set_build(doc, &set, err, errlen);

    if (rv != 0)
        return rv;
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        col_al_set_unref(set);
        return SL_ENOMEM;
    }
    rv = al_write_atomic(a->rules_path, text, strlen(text), err, errlen);
    free(text);
    if (rv != 0) {
        col_al_set_unref(set);
        return SL_EIO;
    }
    pthread_mutex_lock(&a->mu);
    rv = al_apply_set(a, set, NULL, slc_now_ns());
    if (rv != 0)
        col_al_set_unref(set);
    else
        a->rules_error[0] = '\0';
    pthread_cond_broadcast(&a->eval_cv);
    pthread_mutex_unlock(&a->mu);
    if (rv == 0)
        al_save(a);
    return rv;
}

static json_t *al_doc_copy(col_alerts *a)
{
    json_t *d;

    pthread_mutex_lock(&a->mu);
    d = json_deep_copy(a->set->doc);
    pthread_mutex_unlock(&a->mu);
    if (d != NULL && json_object_get(d, "rules") == NULL)
        json_object_set_new(d, "rules", json_array());
    return d;
}

static long al_doc_find(const json_t *rules, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(rules, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return (long)i;
    }
    return -1;
}

int col_alerts_rule_put(col_alerts *a, const char *name, const json_t *rule, int create_only,
                        int *created, char *err, size_t errlen)
{
    json_t *doc, *rules, *r;
    const char *given;
    long at;
    int rv;

    if (!json_is_object(rule)) {
        snprintf(err, errlen, "rule '%.64s': the body must be a JSON object", name);
        return SL_EINVAL;
    }
    given = json_string_value(json_object_get(rule, "name"));
    if (given != NULL && strcmp(given, name) != 0) {
        snprintf(err, errlen, "rule '%.64s': field 'name': '%.64s' differs from the URL", name,
                 given);
        return SL_EINVAL;
    }
    pthread_mutex_lock(&a->cfg_mu);
    doc = al_doc_copy(a);
    r = json_deep_copy(rule);
    if (doc == NULL || r == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    if (json_object_get(r, "name") == NULL) {
        /* keep "name" first in the file */
        json_t *nr = json_pack("{s:s}", "name", name);
        if (nr == NULL || json_object_update(nr, r) != 0) {
            json_decref(nr);
            rv = SL_ENOMEM;
            goto out;
        }
        json_decref(r);
        r = nr;
    }
    rules = json_object_get(doc, "rules");
    at = al_doc_find(rules, name);
    if (at >= 0 && create_only) {
        snprintf(err, errlen, "rule '%.64s' exists; PUT /api/v1/alerts/rules/%.64s replaces it",
                 name, name);
        rv = SL_EBUSY;
        goto out;
    }
    if (at >= 0)
        json_array_set(rules, (size_t)at, r);
    else
        json_array_append(rules, r);
    rv = al_commit_doc(a, doc, err, errlen);
    if (rv == 0)
        *created = at < 0;
out:
    pthread_mutex_unlock(&a->cfg_mu);
    json_decref(r);
    json_decref(doc);
    return rv;
}

int col_alerts_rule_delete(col_alerts *a, const char *name, char *err, size_t errlen)
{
    json_t *doc;
    long at;
    int rv;

    pthread_mutex_lock(&a->cfg_mu);
    doc = al_doc_copy(a);
    if (doc == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    at = al_doc_find(json_object_get(doc, "rules"), name);
    if (at < 0) {
        snprintf(err, errlen, "no rule '%.64s'; GET /api/v1/alerts/rules lists them", name);
        rv = SL_ENOTFOUND;
        goto out;
    }
    json_array_remove(json_object_get(doc, "rules"), (size_t)at);
    rv = al_commit_doc(a, doc, err, errlen);
out:
    pthread_mutex_unlock(&a->cfg_mu);
    json_decref(doc);
    return rv;
}

json_t *col_alerts_doc_json(col_alerts *a)
{
    json_t *d = al_doc_copy(a), *o;

    if (d == NULL)
        return NULL;
    o = json_pack("{s:o,s:s}", "document", d, "file", a->rules_path);
    return o;
}

json_t *col_alerts_rule_json(col_alerts *a, const char *name)
{
    json_t *d = al_doc_copy(a), *r = NULL;
    long at;

    if (d == NULL)
        return NULL;
    at = al_doc_find(json_object_get(d, "rules"), name);
    if (at >= 0)
        r = json_incref(json_array_get(json_object_get(d, "rules"), (size_t)at));
    json_decref(d);
    return r;
}

static json_t *al_alert_json(const col_al_rule *r, const struct al_ent *e)
{
    char desc[COL_AL_TEMPLATE_MAX], m[24];
    json_t *o, *notify = json_array();

    for (int i = 0; notify != NULL && i < r->nnotify; i++)
        json_array_append_new(notify, json_string(r->notify[i]));
    al_describe(r, &e->st, desc, sizeof desc);
    o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:f,s:s,s:b,s:o,s:o,s:o,s:o,"
                  "s:o,s:s,s:o,s:o,s:o}",
                  "rule", r->name, "state",
                  r->disabled ? "disabled" : col_al_state_name(e->st.state), "severity",
                  r->severity, "labels", r->labels ? json_deep_copy(r->labels) : json_null(), "expr", r->expr,
                  "description", desc, "metric", col_al_metric_name(&r->c, m, sizeof m),
                  "service", r->c.service, "operation", r->c.operation, "caller", r->c.caller,
                  "value", al_value_json(&e->st), "threshold", r->c.threshold, "unit",
                  col_al_unit(r->c.metric), "disabled", r->disabled, "notify", notify,
                  "pending_since_ns", slq_json_ns(e->st.pending_since), "active_since_ns",
                  slq_json_ns(e->st.active_since), "resolved_at_ns", slq_json_ns(e->st.resolved_at),
                  "last_eval_ns", slq_json_ns(e->st.last_eval), "last_error", e->st.last_error,
                  "for_ns", slq_json_ns(r->c.for_ns), "window_ns", slq_json_ns(r->c.window_ns),
                  "keep_firing_for_ns", slq_json_ns(r->keep_firing_for_ns));
    return o;
}

json_t *col_alerts_list_json(col_alerts *a, uint64_t now)
{
    json_t *arr = json_array(), *o;
    int counts[5] = {0};

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; arr != NULL && i < a->set->nrules; i++) {
        const col_al_rule *r = &a->set->rules[i];
        counts[r->disabled ? 4 : a->ent[i].st.state]++;
        json_array_append_new(arr, al_alert_json(r, &a->ent[i]));
    }
    o = arr == NULL ? NULL
                    : json_pack("{s:o,s:{s:i,s:i,s:i,s:i,s:i},s:o,s:o,s:o,s:s,s:s?}", "alerts",
                                arr, "counts", "ok", counts[0], "pending", counts[1], "firing",
                                counts[2], "resolved", counts[3], "disabled", counts[4],
                                "interval_ns", slq_json_ns(a->interval_ns), "last_eval_ns",
                                slq_json_ns(a->last_pass_ns), "now_ns", slq_json_ns(now), "rules_file",
                                a->rules_path, "rules_error",
                                a->rules_error[0] ? a->rules_error : NULL);
    pthread_mutex_unlock(&a->mu);
    return o;
}

json_t *col_alerts_history_json(col_alerts *a, const char *rule, size_t limit)
{
    json_t *arr = json_array(), *o;

    pthread_mutex_lock(&a->mu);
    for (size_t i = a->hist_n; arr != NULL && i > 0 && json_array_size(arr) < limit; i--) {
        json_t *e = a->hist[(a->hist_head + i - 1) % a->hist_max];
        const char *r = json_string_value(json_object_get(e, "rule"));
        if (rule == NULL || (r != NULL && strcmp(r, rule) == 0))
            json_array_append_new(arr, json_deep_copy(e));
    }
    pthread_mutex_unlock(&a->mu);
    o = arr == NULL ? NULL
                    : json_pack("{s:o,s:I}", "history", arr, "count",
                                (json_int_t)json_array_size(arr));
    return o;
}

int col_alerts_check(col_alerts *a, const char *expr, const char *rule, uint64_t now,
                     json_t **out, char *err, size_t errlen)
{
    col_al_rule r;
    col_al_status st;
    const char *state = NULL;
    double v = 0;
    int has = 0, rv, fire;
    char desc[COL_AL_TEMPLATE_MAX], m[24];

    memset(&r, 0, sizeof r);
    memset(&st, 0, sizeof st);
    if (expr != NULL) {
        rv = col_al_expr_parse(expr, strlen(expr), &r.c, err, errlen);
        if (rv != 0)
            return rv;
        snprintf(r.name, sizeof r.name, "check");
        col_al_expr_format(&r.c, r.expr, sizeof r.expr);
        snprintf(r.severity, sizeof r.severity, "none");
    } else {
        const col_al_rule *p;
        pthread_mutex_lock(&a->mu);
        p = col_al_set_rule(a->set, rule);
        if (p != NULL) {
            r = *p;
            r.labels = NULL; /* not needed, not owned */
            state = p->disabled ? "disabled"
                                : col_al_state_name(a->ent[p - a->set->rules].st.state);
        }
        pthread_mutex_unlock(&a->mu);
        if (p == NULL) {
            snprintf(err, errlen, "no rule '%.64s'; `sightline alerts` lists the rules", rule);
            return SL_ENOTFOUND;
        }
    }
    rv = col_al_measure(a->store, &r.c, now, &v, &has);
    if (rv != 0) {
        snprintf(err, errlen, "reading the store failed: %s", sl_strerror(rv));
        return SL_ESTORE;
    }
    fire = has && col_al_breached(&r.c, v);
    st.has_value = has;
    st.value = v;
    st.state = fire ? COL_AL_FIRING : COL_AL_OK;
    al_describe(&r, &st, desc, sizeof desc);
    *out = json_pack("{s:s,s:b,s:o,s:f,s:s,s:s,s:s,s:s,s:o,s:o,s:s?,s:s?}", "expr", r.expr,
                     "would_fire", fire, "value", has ? json_real(v) : json_null(), "threshold",
                     r.c.threshold, "unit", col_al_unit(r.c.metric), "metric",
                     col_al_metric_name(&r.c, m, sizeof m), "service", r.c.service,
                     "description", desc, "window_ns", slq_json_ns(r.c.window_ns), "now_ns", slq_json_ns(now),
                     "rule", expr == NULL ? r.name : NULL, "state", state);
    return *out != NULL ? 0 : SL_ENOMEM;
}

json_t *col_alerts_stats_json(col_alerts *a)
{
    json_t *o;
    size_t firing = 0;

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->set->nrules; i++)
        firing += a->ent[i].st.state == COL_AL_FIRING;
    o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "rules",
                  (json_int_t)a->set->nrules, "firing", (json_int_t)firing, "evaluations",
                  (json_int_t)a->evaluations, "evaluation_errors", (json_int_t)a->eval_errors,
                  "notifications_queued", (json_int_t)a->queued, "notifications_delivered",
                  (json_int_t)a->delivered, "delivery_failures", (json_int_t)a->failed_attempts,
                  "notifications_given_up", (json_int_t)a->given_up, "notifications_dropped",
                  (json_int_t)a->dropped, "outbox", (json_int_t)a->nout, "state_save_errors",
                  (json_int_t)a->save_errors, "history", (json_int_t)a->hist_n);
    pthread_mutex_unlock(&a->mu);
    return o;
}
