/*
 * alerts_int.h - the alert engine's private model, shared by alerts*.c and
 * the unit tests: a rule and its condition, the expression parser, rule
 * files, description templates, the state machine and the notification
 * outbox.  alerts.h is what the rest of the collector uses.
 *
 * Units: a condition's threshold and value are in its metric's display
 * unit (latency: milliseconds, error_rate: percent, rate: requests per
 * second, logs: records), so "p99 > 300ms", the JSON threshold 300 and the
 * rendered "{{value}} ms" all speak the same language.
 */
#ifndef COL_ALERTS_INT_H
#define COL_ALERTS_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define COL_AL_NAME_MAX 128      /* rule and notifier names, bytes incl. NUL */
#define COL_AL_STR_MAX 256       /* service, operation, match text, incl. NUL */
#define COL_AL_EXPR_MAX 1024     /* an expression's text */
#define COL_AL_TEMPLATE_MAX 1024 /* a description template and its rendering */
#define COL_AL_MAX_RULES 1000
#define COL_AL_MAX_NOTIFIERS 64
#define COL_AL_MAX_NOTIFY 8      /* notifiers one rule sends to */
#define COL_AL_MAX_LABELS 32
#define COL_AL_MAX_ARGV 32       /* a command notifier's argv */
#define COL_AL_FILE_MAX ((size_t)4 << 20)
#define COL_AL_SEC 1000000000ULL

enum col_al_metric {
    COL_AL_LATENCY = 0, /* pNN of span durations, ms */
    COL_AL_ERROR_RATE,  /* errors / requests, percent */
    COL_AL_RATE,        /* requests per second */
    COL_AL_LOGS         /* log records at or above a level matching a text */
};

enum col_al_cmp { COL_AL_GT = 0, COL_AL_GE, COL_AL_LT, COL_AL_LE };

/* What a rule measures and when it is breached. */
typedef struct col_al_cond {
    enum col_al_metric metric;
    double quantile;                  /* latency: 0 < q < 1 (0.99 for p99) */
    char service[COL_AL_STR_MAX];     /* the service, or the callee of an edge */
    char operation[COL_AL_STR_MAX];   /* "" = every operation */
    char caller[COL_AL_STR_MAX];      /* "" = not an edge; else caller -> service */
    unsigned kind_mask;               /* span kinds (COL_KIND_ENTRY by default; 0 = all) */
    int all_kinds;                    /* kind "all" was asked for (kind_mask 0) */
    int min_level;                    /* logs: 1..24 (SLC_LVL_*) */
    char match[COL_AL_STR_MAX];       /* logs: body substring, "" = any */
    enum col_al_cmp cmp;
    double threshold;                 /* display unit of the metric */
    uint64_t window_ns;               /* default 5m */
    uint64_t for_ns;                  /* default 0 */
} col_al_cond;

typedef struct col_al_rule {
    char name[COL_AL_NAME_MAX];
    col_al_cond c;
    uint64_t keep_firing_for_ns;      /* stay firing this long after clearing */
    uint64_t repeat_ns;               /* re-notify while firing; 0 = never (default 4h) */
    double hysteresis;                /* 0..0.9, default 0.1 */
    char severity[32];                /* default "warning" */
    json_t *labels;                   /* object of strings, owned */
    char description[COL_AL_TEMPLATE_MAX]; /* template; "" = the default one */
    char notify[COL_AL_MAX_NOTIFY][COL_AL_NAME_MAX];
    int nnotify;
    int disabled;
    char expr[COL_AL_EXPR_MAX];       /* canonical expression of c */
} col_al_rule;

enum col_al_ntype { COL_AL_WEBHOOK = 0, COL_AL_COMMAND };

typedef struct col_al_notifier {
    char name[COL_AL_NAME_MAX];
    enum col_al_ntype type;
    char url[1024];                   /* webhook */
    json_t *headers;                  /* webhook: object of strings, owned; may be NULL */
    char *argv[COL_AL_MAX_ARGV + 1];  /* command: owned strings, NULL-terminated */
    uint64_t timeout_ns;              /* per attempt; default 5s (webhook), 10s (command) */
    int max_attempts;                 /* default 10 */
    uint64_t backoff_ns;              /* first retry delay; doubles, capped at 5 min */
} col_al_notifier;

/* A whole rules document: what a rules file holds.  Immutable once built;
 * shared by reference count between the evaluator, the API and delivery. */
typedef struct col_al_set {
    int refs; /* atomic */
    col_al_rule *rules;
    size_t nrules;
    col_al_notifier *notifiers;
    size_t nnotifiers;
    json_t *doc; /* the document as validated (what GET returns and the file holds), owned */
} col_al_set;

/* ---- rules (alerts_rule.c) --------------------------------------------------- */

/* Parses an expression (docs/alerts.md, "Expressions"):
 *   p99(checkout) > 300ms over 5m for 1m
 *   error_rate(payment, op="POST /pay") >= 2%
 *   rate(checkout->payment) < 1/s over 10m
 *   logs(payment, level=error, match="declined") > 10 over 5m
 * into *out (defaults: window 5m, for 0).  s need not be NUL-terminated
 * beyond len; at most COL_AL_EXPR_MAX bytes.  Returns 0, or SL_EPARSE with
 * a message naming the position and what was expected. */
int col_al_expr_parse(const char *s, size_t len, col_al_cond *out, char *err, size_t errlen);

/* Writes the canonical expression of c (parses back to the same c). */
void col_al_expr_format(const col_al_cond *c, char *buf, size_t len);

/* Builds a rules document from JSON (the rules file or an API body with
 * the whole document): {"notifiers":[...],"rules":[...]}.  Every rule and
 * notifier is checked; the first problem fails the whole set with a message
 * naming the rule (or notifier) and the field.  On success *out is a new set
 * with one reference, owned by the caller (col_al_set_unref()); doc is
 * copied, never taken. */
int col_al_set_build(const json_t *doc, col_al_set **out, char *err, size_t errlen);

/* Checks one rule object against the notifiers of set (may be NULL: no
 * notifier names are then accepted) into *out (labels owned by out:
 * col_al_rule_clear()).  Errors name the rule and the field. */
int col_al_rule_parse(const json_t *j, const col_al_set *set, col_al_rule *out, char *err,
                      size_t errlen);
void col_al_rule_clear(col_al_rule *r);

void col_al_set_ref(col_al_set *s);
void col_al_set_unref(col_al_set *s); /* NULL is a no-op */
const col_al_rule *col_al_set_rule(const col_al_set *s, const char *name);
const col_al_notifier *col_al_set_notifier(const col_al_set *s, const char *name);

/* The unit of a metric's values ("ms", "%", "/s", "") and a value
 * formatted for people (at most 4 significant digits, no trailing zeros). */
const char *col_al_unit(enum col_al_metric m);
void col_al_fmt_value(double v, char *buf, size_t len);
const char *col_al_metric_name(const col_al_cond *c, char *buf, size_t len); /* "p99" */

/* Renders a description template: {{field}} is replaced by lookup(field)
 * (NULL: the template is invalid), other text is copied.  At most
 * COL_AL_TEMPLATE_MAX bytes out (cut on a UTF-8 boundary).  Returns 0 or
 * SL_EPARSE with a message naming the unknown field or the unclosed {{. */
typedef const char *(*col_al_lookup_fn)(const char *field, size_t len, void *arg);
int col_al_render(const char *tmpl, col_al_lookup_fn lookup, void *arg, char *out, size_t outlen,
                  char *err, size_t errlen);

/* The fields a template may use; 1 when name[0..len) is one of them
 * (labels.KEY is accepted for any KEY). */
int col_al_template_field_ok(const char *name, size_t len);

/* ---- evaluation (alerts_eval.c) -------------------------------------------------- */

/* The value of c at now_ns from the stored aggregates (RED / edges) or the
 * log index.  *has_value = 0 when there is nothing to measure (no requests
 * for latency and error_rate).  Returns 0 or the store's error. */
int col_al_measure(col_store *st, const col_al_cond *c, uint64_t now_ns, double *value,
                   int *has_value);

/* 1 when value breaches c's threshold. */
int col_al_breached(const col_al_cond *c, double value);

/* 1 when value is clear of the threshold by the hysteresis margin h (the
 * condition to leave "firing"): for > and >=, value < threshold * (1 - h);
 * for < and <=, value > threshold * (1 + h). */
int col_al_clear(const col_al_cond *c, double value, double h);

enum col_al_state { COL_AL_OK = 0, COL_AL_PENDING, COL_AL_FIRING, COL_AL_RESOLVED };
const char *col_al_state_name(enum col_al_state s);

/* What the state machine keeps per rule (persisted). */
typedef struct col_al_status {
    enum col_al_state state;
    uint64_t pending_since;   /* condition first true (this episode) */
    uint64_t active_since;    /* entered firing */
    uint64_t resolved_at;
    uint64_t clear_since;     /* firing, clear of the threshold since (0 = not clear) */
    uint64_t last_notified;   /* last firing/repeat notification */
    uint64_t last_eval;
    double value;
    int has_value;
    char last_error[256];
} col_al_status;

/* Events a step can produce. */
enum col_al_event {
    COL_AL_EV_NONE = 0,
    COL_AL_EV_PENDING,  /* ok -> pending */
    COL_AL_EV_CANCEL,   /* pending -> ok (condition cleared before `for`) */
    COL_AL_EV_FIRING,   /* -> firing: notify */
    COL_AL_EV_REPEAT,   /* still firing, repeat interval passed: notify */
    COL_AL_EV_RESOLVED, /* firing -> resolved: notify */
    COL_AL_EV_EXPIRED   /* resolved -> ok after COL_AL_RESOLVED_KEEP_NS */
};

#define COL_AL_RESOLVED_KEEP_NS (15ULL * 60 * COL_AL_SEC)

/* One evaluation: advances *st for rule r given the measured value (or no
 * value) at now_ns.  Pure: no clock, no I/O.  Returns the event. */
enum col_al_event col_al_step(const col_al_rule *r, col_al_status *st, double value,
                              int has_value, uint64_t now_ns);

/* ---- delivery (alerts_notify.c) ----------------------------------------------- */

/* Delivers payload once through n: webhook (POST, 2xx = delivered) or
 * command (exit status 0 = delivered), bounded by n->timeout_ns.  Returns
 * 0, or an error with a message for the history in err.  Thread-safe;
 * blocks the calling thread (the delivery thread) up to the timeout. */
int col_al_notify(const col_al_notifier *n, const json_t *payload, char *err, size_t errlen);

#endif /* COL_ALERTS_INT_H */
