/*
 * alerts_notify.c - delivers one notification through one notifier: an
 * HTTP POST of the JSON body (webhook, via libcurl) or a program run with
 * the alert's fields in its environment and the JSON body on stdin
 * (command).  Each call is bounded by the notifier's timeout; retries,
 * backoff and bookkeeping belong to the caller (alerts.c, the delivery
 * thread), so a slow receiver only ever delays other notifications, never
 * evaluation or ingest.
 *
 * libcurl is linked into the collector (a complete HTTP/HTTPS client with
 * timeouts; see docs/dependencies.md).  Its functions are reached through
 * al_curl so that an initialisation failure is reported once, per webhook.
 */
#include "alerts_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sightline.h"

extern char **environ;

/* ======================= webhook =========================================== */

static struct {
    int ok;
    char why[160];
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *init;
    __typeof__(curl_easy_setopt) *setopt;
    __typeof__(curl_easy_perform) *perform;
    __typeof__(curl_easy_getinfo) *getinfo;
    __typeof__(curl_easy_cleanup) *cleanup;
    __typeof__(curl_easy_strerror) *strerror_;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
} al_curl;

static pthread_once_t al_curl_once = PTHREAD_ONCE_INIT;

static void al_curl_load(void)
{
    al_curl.global_init = curl_global_init;
    al_curl.init = curl_easy_init;
    al_curl.setopt = curl_easy_setopt;
    al_curl.perform = curl_easy_perform;
    al_curl.getinfo = curl_easy_getinfo;
    al_curl.cleanup = curl_easy_cleanup;
    al_curl.strerror_ = curl_easy_strerror;
    al_curl.slist_append = curl_slist_append;
    al_curl.slist_free_all = curl_slist_free_all;
    if (al_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(al_curl.why, sizeof al_curl.why, "curl_global_init failed");
        return;
    }
    al_curl.ok = 1;
}

/* Keeps the first bytes of the receiver's answer for the error message. */
struct al_sink {
    char buf[160];
    size_t n;
};

static size_t al_sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct al_sink *s = arg;
    size_t n = size * nmemb, room = sizeof s->buf - 1 - s->n;

    if (room > 0) {
        size_t k = n < room ? n : room;
        for (size_t i = 0; i < k; i++)
            s->buf[s->n++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : ' ';
        s->buf[s->n] = '\0';
    }
    return n;
}

static int al_webhook(const col_al_notifier *n, const char *body, char *err, size_t errlen)
{
    CURL *c;
    struct curl_slist *hdrs = NULL, *t;
    struct al_sink sink = {{0}, 0};
    long code = 0;
    CURLcode cc;
    int rv = SL_EIO;

    pthread_once(&al_curl_once, al_curl_load);
    if (!al_curl.ok) {
        snprintf(err, errlen, "%s", al_curl.why);
        return SL_ESTATE;
    }
    c = al_curl.init();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return SL_ENOMEM;
    }
    hdrs = al_curl.slist_append(NULL, "Content-Type: application/json");
    if (hdrs != NULL && (t = al_curl.slist_append(hdrs, "User-Agent: sightline-collector")))
        hdrs = t;
    if (n->headers != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(n->headers, k, v)
        {
            char line[1200];
            snprintf(line, sizeof line, "%s: %s", k, json_string_value(v));
            if (hdrs != NULL && (t = al_curl.slist_append(hdrs, line)) != NULL)
                hdrs = t;
        }
    }
    if (hdrs == NULL) {
        snprintf(err, errlen, "out of memory");
        rv = SL_ENOMEM;
        goto out;
    }
    al_curl.setopt(c, CURLOPT_URL, n->url);
    al_curl.setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    al_curl.setopt(c, CURLOPT_NOSIGNAL, 1L);
    al_curl.setopt(c, CURLOPT_POST, 1L);
    al_curl.setopt(c, CURLOPT_POSTFIELDS, body);
    al_curl.setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    al_curl.setopt(c, CURLOPT_HTTPHEADER, hdrs);
    al_curl.setopt(c, CURLOPT_TIMEOUT_MS, (long)(n->timeout_ns / 1000000ULL));
    al_curl.setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(n->timeout_ns / 1000000ULL));
    al_curl.setopt(c, CURLOPT_WRITEFUNCTION, al_sink_write);
    al_curl.setopt(c, CURLOPT_WRITEDATA, &sink);
    cc = al_curl.perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "POST %.200s: %s", n->url, al_curl.strerror_(cc));
        rv = cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEDOUT : SL_EIO;
        goto out;
    }
    al_curl.getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        snprintf(err, errlen, "POST %.200s: HTTP %ld %s", n->url, code, sink.buf);
        rv = SL_EIO;
        goto out;
    }
    rv = 0;
out:
    al_curl.slist_free_all(hdrs);
    al_curl.cleanup(c);
    return rv;
}

/* ======================= command ============================================ */

#define AL_ENV_MAX 96

/* SIGHTLINE_ALERT_<KEY> with KEY upper-cased, other bytes as '_'. */
static char *al_env_entry(const char *prefix, const char *key, const char *val)
{
    size_t pl = strlen(prefix), kl = strlen(key), vl = strlen(val);
    char *e;

    if (kl > 64 || vl > 8192)
        return NULL;
    e = malloc(pl + kl + vl + 2);
    if (e == NULL)
        return NULL;
    memcpy(e, prefix, pl);
    for (size_t i = 0; i < kl; i++)
        e[pl + i] = isalnum((unsigned char)key[i]) ? (char)toupper((unsigned char)key[i]) : '_';
    e[pl + kl] = '=';
    memcpy(e + pl + kl + 1, val, vl + 1);
    return e;
}

/* The child's environment: ours, minus SIGHTLINE_ALERT_*, plus one variable
 * per top-level field of the payload and one per label.  NULL-terminated;
 * our own entries are borrowed, the added ones are listed in *own. */
static char **al_env_build(const json_t *payload, char **own, size_t *nown)
{
    size_t nenv = 0, k = 0;
    const char *key;
    json_t *v;
    char **env;

    while (environ[nenv] != NULL && nenv < 4096)
        nenv++;
    env = calloc(nenv + AL_ENV_MAX + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "SIGHTLINE_ALERT_", 16) != 0)
            env[k++] = environ[i];
    *nown = 0;
    json_object_foreach((json_t *)payload, key, v)
    {
        char num[64], *e = NULL;
        if (*nown >= AL_ENV_MAX - COL_AL_MAX_LABELS - 2)
            break;
        if (json_is_string(v))
            e = al_env_entry("SIGHTLINE_ALERT_", key, json_string_value(v));
        else if (json_is_number(v)) {
            snprintf(num, sizeof num, "%.15g", json_number_value(v));
            e = al_env_entry("SIGHTLINE_ALERT_", key, num);
        } else if (json_is_object(v) && strcmp(key, "labels") == 0) {
            const char *lk;
            json_t *lv;
            char *js = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            if (js != NULL) {
                e = al_env_entry("SIGHTLINE_ALERT_", key, js);
                free(js);
            }
            json_object_foreach(v, lk, lv)
            {
                char *le;
                if (!json_is_string(lv) || *nown >= AL_ENV_MAX - 2)
                    continue;
                le = al_env_entry("SIGHTLINE_ALERT_LABEL_", lk, json_string_value(lv));
                if (le != NULL)
                    env[k++] = own[(*nown)++] = le;
            }
        }
        if (e != NULL)
            env[k++] = own[(*nown)++] = e;
    }
    env[k] = NULL;
    return env;
}

static uint64_t al_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int al_command(const col_al_notifier *n, const json_t *payload, const char *body,
                      char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    char *own[AL_ENV_MAX], **env = NULL;
    size_t nown = 0, blen = strlen(body);
    int fds[2] = {-1, -1}, rv = SL_EIO, st = 0, fa_ok = 0, at_ok = 0;
    pid_t pid = -1;
    uint64_t deadline;

    env = al_env_build(payload, own, &nown);
    if (env == NULL || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot prepare %s: %s", n->argv[0], strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0 || (fa_ok = 1, 0) ||
        posix_spawnattr_init(&at) != 0 || (at_ok = 1, 0)) {
        snprintf(err, errlen, "cannot prepare %s: out of memory", n->argv[0]);
        goto out;
    }
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* The collector blocks its signals in every thread and ignores SIGPIPE;
     * both would be inherited through exec. */
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    errno = posix_spawnp(&pid, n->argv[0], &fa, &at, n->argv, env);
    if (errno != 0) {
        snprintf(err, errlen, "cannot run %s: %s", n->argv[0], strerror(errno));
        pid = -1;
        goto out;
    }
    close(fds[0]);
    fds[0] = -1;
    /* The body is a few KiB (bounded fields), below the pipe's buffer, so a
     * non-blocking write never waits for a child that does not read. */
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    {
        ssize_t w = write(fds[1], body, blen); /* a child that ignores stdin is fine */
        (void)w;
    }
    close(fds[1]);
    fds[1] = -1;
    deadline = al_mono_ns() + n->timeout_ns;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(err, errlen, "%s: waitpid: %s", n->argv[0], strerror(errno));
            pid = -1;
            goto out;
        }
        if (al_mono_ns() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            pid = -1;
            snprintf(err, errlen, "%s did not finish within %llums; killed", n->argv[0],
                     (unsigned long long)(n->timeout_ns / 1000000ULL));
            rv = SL_ETIMEDOUT;
            goto out;
        }
        usleep(5000);
    }
    pid = -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        rv = 0;
    else if (WIFEXITED(st))
        snprintf(err, errlen, "%s exited with status %d", n->argv[0], WEXITSTATUS(st));
    else
        snprintf(err, errlen, "%s was killed by signal %d", n->argv[0],
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
out:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (at_ok)
        posix_spawnattr_destroy(&at);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    for (size_t i = 0; i < nown; i++)
        free(own[i]);
    free(env);
    return rv;
}

int col_al_notify(const col_al_notifier *n, const json_t *payload, char *err, size_t errlen)
{
    char *body = json_dumps(payload, JSON_COMPACT);
    int rv;

    if (body == NULL) {
        snprintf(err, errlen, "out of memory encoding the notification");
        return SL_ENOMEM;
    }
    err[0] = '\0';
    rv = n->type == COL_AL_WEBHOOK ? al_webhook(n, body, err, errlen)
                                   : al_command(n, payload, body, err, errlen);
    free(body);
    return rv;
}
