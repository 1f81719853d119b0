/*
 * sl_init.c - the SDK's lifecycle: sl_init, sl_flush, sl_shutdown, the
 * counters (sl_stats_get), fork handling and the clock choice.  Nothing
 * here is on the hot path.
 *
 * The top of the SDK: it starts and stops the exporter (sl_exporter.c) and
 * frees the tracer's thread buffers (sl_tracer.c); the state they share
 * lives below all of them, in sl_state.c.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sl_internal.h"
#include "common/slc_wire.h"

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int forked_child;

/* Counters of thread buffers already freed (kept across shutdown so the
 * final numbers stay readable). */
static struct {
    uint64_t spans_created, spans_unsampled, logs_created, attrs_dropped;
    uint64_t drop_budget_spans, drop_budget_logs, drop_queue_spans, drop_queue_logs;
} retired;

/* ---- literal strings ------------------------------------------------------------ */

struct lit_scan {
    uintptr_t lo[16], hi[16];
    int n;
};

static int lit_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct lit_scan *ls = arg;
    /* The first object is the executable itself. */
    for (int i = 0; i < info->dlpi_phnum && ls->n < 16; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        ls->lo[ls->n] = info->dlpi_addr + ph->p_vaddr;
        ls->hi[ls->n] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        ls->n++;
    }
    return 1; /* stop after the executable */
}

void sl__find_literals(uintptr_t *lo, uintptr_t *len)
{
    /* The executable's non-writable PT_LOAD segments (headers, text,
     * rodata) are normally adjacent; merge runs that touch (page gaps) and
     * keep the longest, so the hot-path test is one subtraction and one
     * compare.  SIGHTLINE_COPY_STRINGS=1 turns the optimisation off. */
    *lo = 0;
    *len = 0;
    const char *off = getenv("SIGHTLINE_COPY_STRINGS");
    if (off != NULL && strcmp(off, "1") == 0)
        return;
    struct lit_scan ls = {.n = 0};
    dl_iterate_phdr(lit_cb, &ls);
    for (int i = 1; i < ls.n; i++) /* insertion sort by start */
        for (int j = i; j > 0 && ls.lo[j] < ls.lo[j - 1]; j--) {
            uintptr_t a = ls.lo[j], b = ls.hi[j];
            ls.lo[j] = ls.lo[j - 1], ls.hi[j] = ls.hi[j - 1];
            ls.lo[j - 1] = a, ls.hi[j - 1] = b;
        }
    uintptr_t best_lo = 0, best_hi = 0;
    for (int i = 0; i < ls.n;) {
        uintptr_t rlo = ls.lo[i], rhi = ls.hi[i];
        int j = i + 1;
        while (j < ls.n && ls.lo[j] <= ((rhi + 4095) & ~(uintptr_t)4095)) {
            if (ls.hi[j] > rhi)
                rhi = ls.hi[j];
            j++;
        }
        if (rhi - rlo > best_hi - best_lo)
            best_lo = rlo, best_hi = rhi;
        i = j;
    }
    *lo = best_lo;
    *len = best_hi - best_lo;
}

/* ---- fork, clock ------------------------------------------------------------------ */

static void atfork_child(void)
{
    /* The exporter threads do not exist in the child and nng does not
     * survive fork, so the SDK turns itself off there: spans become inert,
     * nothing blocks on a lock some parent thread held. */
    forked_child = 1;
    sl__state_atfork_child();
    pthread_mutex_init(&init_mu, NULL);
    sl__exp_atfork_child();
}

static void global_once(void)
{
    (void)pthread_atfork(NULL, NULL, atfork_child);
}

int sl__tsc_usable(void)
{
#if SL_HAVE_TSC
    /* The kernel picks "tsc" as clocksource only when the TSC is invariant
     * and synchronised across CPUs (it tests both); otherwise rdtsc could
     * step backwards between cores, so the SDK uses the vDSO clock.
     * SIGHTLINE_CLOCK=realtime forces the latter. */
    const char *force = getenv("SIGHTLINE_CLOCK");
    if (force != NULL && strcmp(force, "realtime") == 0)
        return 0;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (f == NULL)
        return 0;
    char buf[32] = "";
    int ok = fgets(buf, sizeof(buf), f) != NULL && strncmp(buf, "tsc", 3) == 0 &&
             (buf[3] == '\n' || buf[3] == '\0');
    fclose(f);
    return ok;
#else
    return 0;
#endif
}


static char *dup_or_null(const char *s) { return s != NULL ? strdup(s) : NULL; }

static void free_config_copies(void)
{
    free(sl__g.endpoint);
    free(sl__g.service);
    free(sl__g.service_version);
    free(sl__g.environment);
    free(sl__g.host);
    free(sl__g.token);
    free(sl__g.tls_ca);
    free(sl__g.tls_server_name);
    sl__g.tls_ca = sl__g.tls_server_name = NULL;
    sl__g.token_len = 0;
    for (size_t i = 0; i < sl__g.nresource; i++) {
        free((char *)sl__g.resource[i].key);
        if (sl__g.resource[i].type == SL_ATTR_STR)
            free((char *)sl__g.resource[i].v.s);
    }
    free(sl__g.resource);
    sl__g.endpoint = sl__g.service = sl__g.service_version = NULL;
    sl__g.environment = sl__g.host = sl__g.token = NULL;
    sl__g.resource = NULL;
    sl__g.nresource = 0;
}

static int add_resource(const sl_attr *a)
{
    if (a->key == NULL || *a->key == '\0')
        return SL_EINVAL;
    sl_attr *c = &sl__g.resource[sl__g.nresource];
    *c = *a;
    if ((c->key = strdup(a->key)) == NULL)
        return SL_ENOMEM;
    if (a->type == SL_ATTR_STR && (c->v.s = strdup(a->v.s ? a->v.s : "")) == NULL) {
        free((char *)c->key);
        return SL_ENOMEM;
    }
    sl__g.nresource++;
    return SL_OK;
}

static int copy_config(const sl_config *c)
{
    char host[256];
    const char *h = c->host_name;
    if (h == NULL) {
        if (gethostname(host, sizeof(host)) == 0) {
            host[sizeof(host) - 1] = '\0';
            h = host;
        }
    }
    sl__g.endpoint = strdup(c->endpoint);
    sl__g.service = strdup(c->service_name);
    sl__g.service_version = dup_or_null(c->service_version);
    sl__g.environment = dup_or_null(c->environment);
    sl__g.host = dup_or_null(h);
    sl__g.token = dup_or_null(c->token);
    sl__g.token_len = c->token != NULL ? strlen(c->token) : 0;
    sl__g.tls_ca = dup_or_null(c->tls_ca);
    sl__g.tls_server_name = dup_or_null(c->tls_server_name);
    if (sl__g.endpoint == NULL || sl__g.service == NULL ||
        (c->service_version && !sl__g.service_version) || (c->environment && !sl__g.environment) ||
        (h && !sl__g.host) || (c->token && !sl__g.token) || (c->tls_ca && !sl__g.tls_ca) ||
        (c->tls_server_name && !sl__g.tls_server_name))
        return SL_ENOMEM;
    sl__g.resource = calloc(c->nresource + 3, sizeof(sl_attr));
    if (sl__g.resource == NULL)
        return SL_ENOMEM;
    int rc;
    if (sl__g.service_version &&
        (rc = add_resource(&SL_ATTR_S("service.version", sl__g.service_version))) != 0)
        return rc;
    if (sl__g.environment &&
        (rc = add_resource(&SL_ATTR_S("deployment.environment.name", sl__g.environment))) != 0)
        return rc;
    if (sl__g.host && (rc = add_resource(&SL_ATTR_S("host.name", sl__g.host))) != 0)
        return rc;
    for (size_t i = 0; i < c->nresource; i++)
        if ((rc = add_resource(&c->resource[i])) != 0)
            return rc;
    return SL_OK;
}

/* Each resource attribute needs a key and a known type: a bad entry is a
 * configuration error at sl_init(), not a silently broken frame later. */
static int check_resource(const sl_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nresource; i++) {
        const sl_attr *a = &c->resource[i];
        if (a->key == NULL || *a->key == '\0') {
            snprintf(err, errlen, "resource[%zu] has an empty key", i);
            return SL_ECONFIG;
        }
        if (a->type < SL_ATTR_STR || a->type > SL_ATTR_BOOL) {
            snprintf(err, errlen, "resource[%zu] (\"%.64s\") has unknown type %d", i, a->key,
                     a->type);
            return SL_ECONFIG;
        }
    }
    return SL_OK;
}

/* The token goes into every frame; the collector takes 1..255 visible
 * ASCII bytes.  Anything else could only ever be refused, so it is a
 * start-up error that names the problem, not a stream of dropped frames. */
static int check_token(const char *t, char *err, size_t errlen)
{
    if (t == NULL)
        return SL_OK;
    size_t n = strnlen(t, SLC_WIRE_TOKEN_MAX + 1);
    if (n == 0 || n > SLC_WIRE_TOKEN_MAX) {
        snprintf(err, errlen,
                 "the ingest token (SIGHTLINE_TOKEN) is %s: it must be 1 to %d characters",
                 n == 0 ? "empty" : "too long", SLC_WIRE_TOKEN_MAX);
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch < 0x21 || ch > 0x7e) {
            snprintf(err, errlen,
                     "the ingest token (SIGHTLINE_TOKEN) has byte 0x%02x at position %zu: only "
                     "visible ASCII is allowed (no spaces or control characters; a trailing "
                     "newline?)",
                     ch, i);
            return SL_ECONFIG;
        }
    }
    return SL_OK;
}

/* TLS settings only mean something for tls+tcp://; on another scheme they
 * would silently protect nothing. */
static int check_tls(const sl_config *c, char *err, size_t errlen)
{
    int is_tls = strncmp(c->endpoint, "tls+tcp://", 10) == 0 ||
                 strncmp(c->endpoint, "tls+tcp4://", 11) == 0 ||
                 strncmp(c->endpoint, "tls+tcp6://", 11) == 0;
    if (is_tls || (c->tls_ca == NULL && c->tls_server_name == NULL && !c->tls_insecure))
        return SL_OK;
    snprintf(err, errlen,
             "TLS settings (SIGHTLINE_TLS_*) are set but the endpoint \"%.60s\" is not "
             "tls+tcp://; use tls+tcp://host:port or unset them",
             c->endpoint);
    return SL_ECONFIG;
}

static int check_config(const sl_config *c, char *err, size_t errlen)
{
    if (c->endpoint == NULL || *c->endpoint == '\0')
        snprintf(err, errlen, "no collector endpoint: set SIGHTLINE_ENDPOINT (e.g. tcp://127.0.0.1:4318)");
    else if (c->service_name == NULL || *c->service_name == '\0')
        snprintf(err, errlen, "service_name is empty: set SIGHTLINE_SERVICE_NAME");
    else if (c->sampler < SL_SAMPLER_ALWAYS || c->sampler > SL_SAMPLER_RATIO)
        snprintf(err, errlen, "sampler %d is not one of SL_SAMPLER_*", c->sampler);
    else if (!(c->sample_ratio >= 0.0 && c->sample_ratio <= 1.0))
        snprintf(err, errlen, "sample_ratio %g is outside 0..1", c->sample_ratio);
    else if (c->batch_bytes < 1024 || c->batch_bytes > (8u << 20))
        snprintf(err, errlen, "batch_bytes %u is outside 1 KiB..8 MiB", c->batch_bytes);
    else if (c->batch_delay_ms == 0)
        snprintf(err, errlen, "batch_delay_ms must be at least 1");
    else if (c->memory_budget < ((size_t)1 << 20))
        snprintf(err, errlen, "memory_budget %zu is below 1 MiB", c->memory_budget);
    else if (c->thread_queue < 2 || c->thread_queue > (1u << 24))
        snprintf(err, errlen, "thread_queue %u is outside 2..16M", c->thread_queue);
    else if (c->max_item_bytes < 1024 || c->max_item_bytes > (1u << 20))
        snprintf(err, errlen, "max_item_bytes %u is outside 1 KiB..1 MiB", c->max_item_bytes);
    else if (c->max_attr_value < 16 || c->max_attr_value > c->max_item_bytes)
        snprintf(err, errlen, "max_attr_value %u is outside 16..max_item_bytes", c->max_attr_value);
    else if (c->ack_timeout_ms == 0 || c->retry_min_ms == 0 || c->retry_max_ms < c->retry_min_ms)
        snprintf(err, errlen, "ack_timeout_ms and retry_min_ms must be > 0 and retry_max_ms >= retry_min_ms");
    else if (c->compression < -1 || c->compression > 9)
        snprintf(err, errlen, "compression %d is not -1 (never), 0 (auto) or a zlib level 1..9",
                 c->compression);
    else if (c->nresource > 0 && c->resource == NULL)
        snprintf(err, errlen, "nresource is %zu but resource is NULL", c->nresource);
    else if (c->nresource > SL_MAX_RESOURCE)
        snprintf(err, errlen,
                 "nresource %zu is over %d: the collector takes at most 256 attributes per "
                 "span, and a local root span carries its own and every resource attribute",
                 c->nresource, SL_MAX_RESOURCE);
    else if (c->tls_ca != NULL && *c->tls_ca == '\0')
        snprintf(err, errlen, "tls_ca is empty: give a PEM file path or NULL");
    else if (c->tls_server_name != NULL && *c->tls_server_name == '\0')
        snprintf(err, errlen, "tls_server_name is empty: give a host name or NULL");
    else {
        int rc;
        if ((rc = check_token(c->token, err, errlen)) != 0 ||
            (rc = check_tls(c, err, errlen)) != 0)
            return rc;
        return check_resource(c, err, errlen);
    }
    return SL_ECONFIG;
}

int sl_init(const sl_config *cfg)
{
    sl_config local;
    char err[256] = "";
    int rc;

    pthread_once(&once, global_once);
    pthread_mutex_lock(&init_mu);
    if (forked_child) {
        rc = SL_ESTATE;
        sl__set_last_error(rc, "sl_init: the SDK cannot start in a forked child (nng does not "
                               "survive fork); initialise it in the parent or after exec");
        goto out_unlock;
    }
    if (atomic_load(&sl__g.running)) {
        rc = SL_ESTATE;
        sl__set_last_error(rc, "sl_init: already running; call sl_shutdown() first");
        goto out_unlock;
    }
    if (cfg == NULL) {
        sl_config_default(&local);
        if ((rc = sl_config_from_env(&local, err, sizeof(err))) != 0) {
            sl__set_last_error(rc, "sl_init: %s", err);
            goto out_unlock;
        }
        cfg = &local;
    }
    if ((rc = check_config(cfg, err, sizeof(err))) != 0) {
        sl__set_last_error(rc, "sl_init: %s", err);
        goto out_unlock;
    }

    /* Fresh counters for a fresh start. */
    memset(&retired, 0, sizeof(retired));
    sl__exp_reset_stats();
    sl__last_error_clear();

    sl__g.cfg = *cfg;
    sl__g.cfg.endpoint = sl__g.cfg.service_name = NULL;
    sl__g.cfg.service_version = sl__g.cfg.environment = NULL;
    sl__g.cfg.host_name = sl__g.cfg.token = NULL;
    sl__g.cfg.tls_ca = sl__g.cfg.tls_server_name = NULL;
    sl__g.cfg.resource = NULL;
    /* Accepted up to 1 MiB for compatibility, but clamped to what the
     * collector takes (sl_internal.h, SL_*_CAP). */
    if (sl__g.cfg.max_item_bytes > SL_ITEM_BYTES_CAP)
        sl__g.cfg.max_item_bytes = SL_ITEM_BYTES_CAP;
    if (sl__g.cfg.max_attr_value > SL_ATTR_VALUE_CAP)
        sl__g.cfg.max_attr_value = SL_ATTR_VALUE_CAP;
    if ((rc = copy_config(cfg)) != 0) {
        sl__set_last_error(rc, "sl_init: out of memory copying the configuration");
        goto fail;
    }
    sl__g.sampler = cfg->sampler;
    sl__g.parent_based = cfg->parent_based ? 1 : 0;
    sl__g.min_level = cfg->min_level;
    sl__g.max_attr_value = sl__g.cfg.max_attr_value;
    sl__g.max_item_bytes = sl__g.cfg.max_item_bytes;
    sl__g.use_tsc = sl__tsc_usable();
    sl__find_literals(&sl__g.lit_lo, &sl__g.lit_len);
    if (cfg->sample_ratio >= 1.0)
        sl__g.ratio_bound = UINT64_C(1) << 63;
    else
        sl__g.ratio_bound = (uint64_t)(cfg->sample_ratio * 9223372036854775808.0);
    sl__g.budget = cfg->memory_budget;
    atomic_store(&sl__g.mem_used, 0);
    atomic_store(&sl__g.ntbufs, 0);

    if (cfg->tls_insecure) {
        /* Once per process: a test suite restarting the SDK should not
         * flood stderr, and one line is enough to be noticed. */
        static _Atomic int warned;
        if (!atomic_exchange(&warned, 1))
            fprintf(stderr, "sightline: warning: SIGHTLINE_TLS_INSECURE is set: the collector's "
                            "certificate is NOT verified, so anyone on the path can read and "
                            "alter the data and the token; use it for tests only\n");
    }
    if ((rc = sl__exp_start(err, sizeof(err))) != 0) {
        sl__set_last_error(rc, "sl_init: %s", err);
        goto fail;
    }
    atomic_fetch_add(&sl__g.gen, 1);
    atomic_store_explicit(&sl__g.running, 1, memory_order_release);
    rc = SL_OK;
    goto out_unlock;
fail:
    free_config_copies();
out_unlock:
    pthread_mutex_unlock(&init_mu);
    return rc;
}

int sl_is_running(void) { return atomic_load(&sl__g.running) ? 1 : 0; }

int sl_flush(uint32_t timeout_ms)
{
    if (!atomic_load(&sl__g.running))
        return SL_ESTATE;
    return sl__exp_flush(timeout_ms);
}

int sl_shutdown(uint32_t timeout_ms)
{
    pthread_mutex_lock(&init_mu);
    if (!atomic_load(&sl__g.running)) {
        pthread_mutex_unlock(&init_mu);
        return SL_ESTATE;
    }
    atomic_store(&sl__g.running, 0);
    int rc = sl__exp_stop(timeout_ms);

    pthread_mutex_lock(&sl__g.reg_mu);
    uint32_t n = atomic_load(&sl__g.ntbufs);
    uint64_t late_spans = 0, late_logs = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_tbuf *tb = sl__g.tbufs[i];
        /* Items pushed after the exporter's last drain (by threads that
         * ignored the contract) are counted, not lost silently. */
        for (struct sl_seg *s = tb->rseg; s != NULL; s = atomic_load(&s->next)) {
            uint32_t c = atomic_load(&s->committed);
            for (uint32_t p = s == tb->rseg ? tb->rpos : 0; p + sizeof(struct sl_rec) <= c;) {
                const struct sl_rec *r = (const struct sl_rec *)(s->data + p);
                if (r->len < sizeof(struct sl_rec) || r->len > c - p)
                    break;
                if (r->what == SL_REC_SPAN)
                    late_spans++;
                else
                    late_logs++;
                p += r->len;
            }
        }
        retired.spans_created += atomic_load(&tb->spans_created);
        retired.spans_unsampled += atomic_load(&tb->spans_unsampled);
        retired.logs_created += atomic_load(&tb->logs_created);
        retired.attrs_dropped += atomic_load(&tb->attrs_dropped);
        retired.drop_budget_spans += atomic_load(&tb->drop_budget_spans);
        retired.drop_budget_logs += atomic_load(&tb->drop_budget_logs);
        retired.drop_queue_spans += atomic_load(&tb->drop_queue_spans);
        retired.drop_queue_logs += atomic_load(&tb->drop_queue_logs);
    }
    for (uint32_t i = 0; i < n; i++) {
        sl__tbuf_free(sl__g.tbufs[i]);
        sl__g.tbufs[i] = NULL;
    }
    atomic_store(&sl__g.ntbufs, 0);
    atomic_fetch_add(&sl__g.gen, 1);
    sl__tls.tb = NULL;
    sl__tls.current = NULL;
    pthread_mutex_unlock(&sl__g.reg_mu);
    if (late_spans + late_logs > 0) {
        sl__exp_count_drop(SL_DROP_SHUTDOWN, late_spans, late_logs);
        rc = SL_ETIMEDOUT;
    }
    free_config_copies();
    pthread_mutex_unlock(&init_mu);
    return rc;
}

int sl_stats_get(sl_stats *out)
{
    if (out == NULL)
        return SL_EINVAL;
    sl_stats st;
    memset(&st, 0, sizeof(st));
    pthread_mutex_lock(&sl__g.reg_mu);
    st.spans_created = retired.spans_created;
    st.spans_unsampled = retired.spans_unsampled;
    st.logs_created = retired.logs_created;
    st.attrs_dropped = retired.attrs_dropped;
    st.spans_dropped_by[SL_DROP_BUDGET] = retired.drop_budget_spans;
    st.logs_dropped_by[SL_DROP_BUDGET] = retired.drop_budget_logs;
    st.spans_dropped_by[SL_DROP_QUEUE] = retired.drop_queue_spans;
    st.logs_dropped_by[SL_DROP_QUEUE] = retired.drop_queue_logs;
    uint32_t n = atomic_load(&sl__g.ntbufs);
    for (uint32_t i = 0; i < n; i++) {
        struct sl_tbuf *tb = sl__g.tbufs[i];
        st.spans_created += atomic_load_explicit(&tb->spans_created, memory_order_relaxed);
        st.spans_unsampled += atomic_load_explicit(&tb->spans_unsampled, memory_order_relaxed);
        st.logs_created += atomic_load_explicit(&tb->logs_created, memory_order_relaxed);
        st.attrs_dropped += atomic_load_explicit(&tb->attrs_dropped, memory_order_relaxed);
        st.spans_dropped_by[SL_DROP_BUDGET] += atomic_load(&tb->drop_budget_spans);
        st.logs_dropped_by[SL_DROP_BUDGET] += atomic_load(&tb->drop_budget_logs);
        st.spans_dropped_by[SL_DROP_QUEUE] += atomic_load(&tb->drop_queue_spans);
        st.logs_dropped_by[SL_DROP_QUEUE] += atomic_load(&tb->drop_queue_logs);
    }
    pthread_mutex_unlock(&sl__g.reg_mu);
    sl__exp_stats(&st); /* adds exporter-side counts and drops */
    for (int i = 0; i < SL_DROP__COUNT; i++) {
        st.spans_dropped += st.spans_dropped_by[i];
        st.logs_dropped += st.logs_dropped_by[i];
    }
    st.memory_used = atomic_load(&sl__g.mem_used);
    st.memory_budget = sl__g.budget;
    sl__last_error_get(&st);
    *out = st;
    return SL_OK;
}
