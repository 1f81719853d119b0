/*
 * sl_config.c - SDK configuration: defaults and the SIGHTLINE_* environment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sl_internal.h"

void sl_config_default(sl_config *c)
{
    memset(c, 0, sizeof(*c));
    c->endpoint = "tcp://127.0.0.1:4318";
    c->service_name = "unknown_service";
    c->sampler = SL_SAMPLER_ALWAYS;
    c->sample_ratio = 1.0;
    c->parent_based = 1;
    c->min_level = SL_LEVEL_INFO;
    c->batch_bytes = 1u << 20;
    c->batch_delay_ms = 200;
    c->memory_budget = (size_t)32 << 20;
    c->thread_queue = 16384;
    c->ack_timeout_ms = 5000;
    c->retry_min_ms = 100;
    c->retry_max_ms = 5000;
    c->breaker_failures = 5;
    c->breaker_open_ms = 10000;
    c->max_attr_value = 4096;
    c->max_item_bytes = 32768;
}

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SL_ECONFIG;
}

/* Reads an unsigned decimal environment variable within [lo, hi]. */
static int env_u64(const char *name, uint64_t lo, uint64_t hi, uint64_t *out, char *err,
                   size_t errlen)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return 1;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || x < lo || x > hi)
        return cfg_fail(err, errlen, "%s=\"%s\": expected a whole number from %llu to %llu",
                        name, v, (unsigned long long)lo, (unsigned long long)hi);
    *out = x;
    return 0;
}

static int env_level(const char *v, int *out)
{
    static const struct {
        const char *name;
        int lvl;
    } tab[] = {{"trace", SL_LEVEL_TRACE}, {"debug", SL_LEVEL_DEBUG}, {"info", SL_LEVEL_INFO},
               {"warn", SL_LEVEL_WARN},   {"warning", SL_LEVEL_WARN}, {"error", SL_LEVEL_ERROR},
               {"fatal", SL_LEVEL_FATAL}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strcasecmp(v, tab[i].name) == 0) {
            *out = tab[i].lvl;
            return 0;
        }
    }
    return -1;
}

int sl_config_from_env(sl_config *c, char *err, size_t errlen)
{
    const char *v;
    int rc;
    uint64_t u;

    if (c == NULL)
        return SL_EINVAL;
    if ((v = getenv("SIGHTLINE_ENDPOINT")) != NULL && *v != '\0')
        c->endpoint = v;
    if ((v = getenv("SIGHTLINE_SERVICE_NAME")) != NULL && *v != '\0')
        c->service_name = v;
    if ((v = getenv("SIGHTLINE_SERVICE_VERSION")) != NULL && *v != '\0')
        c->service_version = v;
    if ((v = getenv("SIGHTLINE_ENVIRONMENT")) != NULL && *v != '\0')
        c->environment = v;
    if ((v = getenv("SIGHTLINE_TOKEN")) != NULL && *v != '\0')
        c->token = v;
    if ((v = getenv("SIGHTLINE_SAMPLE_RATIO")) != NULL && *v != '\0') {
        char *end = NULL;
        errno = 0;
        double r = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !(r >= 0.0 && r <= 1.0))
            return cfg_fail(err, errlen,
                            "SIGHTLINE_SAMPLE_RATIO=\"%s\": expected a number from 0 to 1 "
                            "(e.g. 0.25 keeps one trace in four)",
                            v);
        c->sample_ratio = r;
        c->sampler = SL_SAMPLER_RATIO;
    }
    if ((v = getenv("SIGHTLINE_SAMPLER")) != NULL && *v != '\0') {
        if (strcasecmp(v, "always") == 0)
            c->sampler = SL_SAMPLER_ALWAYS;
        else if (strcasecmp(v, "never") == 0)
            c->sampler = SL_SAMPLER_NEVER;
        else if (strcasecmp(v, "ratio") == 0)
            c->sampler = SL_SAMPLER_RATIO;
        else
            return cfg_fail(err, errlen,
                            "SIGHTLINE_SAMPLER=\"%s\": expected always, never or ratio", v);
    }
    if ((v = getenv("SIGHTLINE_PARENT_BASED")) != NULL && *v != '\0') {
        if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
            c->parent_based = 1;
        else if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
            c->parent_based = 0;
        else
            return cfg_fail(err, errlen, "SIGHTLINE_PARENT_BASED=\"%s\": expected 1 or 0", v);
    }
    if ((v = getenv("SIGHTLINE_LOG_LEVEL")) != NULL && *v != '\0') {
        if (env_level(v, &c->min_level) != 0)
            return cfg_fail(err, errlen,
                            "SIGHTLINE_LOG_LEVEL=\"%s\": expected trace, debug, info, warn, "
                            "error or fatal",
                            v);
    }
    if ((rc = env_u64("SIGHTLINE_BATCH_BYTES", 1024, 8u << 20, &u, err, errlen)) < 0)
        return rc;
    if (rc == 0)
        c->batch_bytes = (uint32_t)u;
    if ((rc = env_u64("SIGHTLINE_BATCH_DELAY_MS", 1, 60000, &u, err, errlen)) < 0)
        return rc;
    if (rc == 0)
        c->batch_delay_ms = (uint32_t)u;
    if ((rc = env_u64("SIGHTLINE_MEMORY_BUDGET", 1u << 20, (uint64_t)1 << 40, &u, err, errlen)) <
        0)
        return rc;
    if (rc == 0)
        c->memory_budget = (size_t)u;
    if ((v = getenv("SIGHTLINE_COMPRESSION")) != NULL && *v != '\0') {
        if (strcasecmp(v, "auto") == 0)
            c->compression = 0;
        else if (strcasecmp(v, "none") == 0 || strcmp(v, "0") == 0)
            c->compression = -1;
        else if (v[0] >= '1' && v[0] <= '9' && v[1] == '\0')
            c->compression = v[0] - '0';
        else
            return cfg_fail(err, errlen,
                            "SIGHTLINE_COMPRESSION=\"%s\": expected auto, none or a zlib level 1..9",
                            v);
    }
    if ((v = getenv("SIGHTLINE_TLS_CA")) != NULL && *v != '\0')
        c->tls_ca = v;
    if ((v = getenv("SIGHTLINE_TLS_SERVER_NAME")) != NULL && *v != '\0')
        c->tls_server_name = v;
    if ((v = getenv("SIGHTLINE_TLS_INSECURE")) != NULL && *v != '\0') {
        if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
            c->tls_insecure = 1;
        else if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
            c->tls_insecure = 0;
        else
            return cfg_fail(err, errlen, "SIGHTLINE_TLS_INSECURE=\"%s\": expected 1 or 0", v);
    }
    if ((rc = env_u64("SIGHTLINE_ACK_TIMEOUT_MS", 10, 600000, &u, err, errlen)) < 0)
        return rc;
    if (rc == 0)
        c->ack_timeout_ms = (uint32_t)u;
    return SL_OK;
}
