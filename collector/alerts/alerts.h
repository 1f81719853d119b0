/*
 * alerts.h - the alert engine of the collector (docs/alerts.md): rules from
 * a JSON rules file, evaluated every few seconds from the stored aggregates
 * in a thread of their own, states ok -> pending -> firing -> resolved,
 * notifications (collector log, webhooks, commands) delivered by another
 * thread with retries, and a history; states, history and undelivered
 * notifications survive a restart (a JSON state file written atomically).
 *
 * The rules file is the one source of truth: API changes are validated,
 * written back to it atomically, then applied; SIGHUP re-reads it.  A bad
 * document is refused as a whole (the message names the rule or notifier
 * and the field) and the rules in force stay.
 *
 * Thread safety: every function may be called from any thread, except
 * col_alerts_close().
 */
#ifndef COL_ALERTS_H
#define COL_ALERTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct col_alerts col_alerts;

typedef struct col_alerts_opts {
    const char *rules_path; /* the rules file; a missing file means no rules yet */
    const char *state_path; /* the state file (states, history, outbox) */
    uint64_t interval_ns;   /* evaluation period; 0 = 10 s */
    size_t history_max;     /* history entries kept; 0 = 1000 */
} col_alerts_opts;

/* Loads the rules and the saved state.  store is borrowed and must outlive
 * the engine.  On success *out is owned by the caller (col_alerts_close()).
 * Returns SL_EINVAL with err naming the rule and field when the rules file
 * is invalid (the collector refuses to start rather than run without its
 * alerts), SL_EIO when it cannot be read, SL_ENOMEM.  A state file that
 * cannot be parsed is set aside (renamed *.corrupt, logged): alerts start
 * from ok. */
int col_alerts_open(const col_alerts_opts *o, col_store *store, col_alerts **out, char *err,
                    size_t errlen);

/* Starts the evaluation and delivery threads.  Returns 0 or SL_ENOMEM. */
int col_alerts_start(col_alerts *a);

/* Stops the threads (a delivery in progress finishes, bounded by its
 * timeout), saves the state and frees everything.  NULL is a no-op. */
void col_alerts_close(col_alerts *a);

/* Re-reads the rules file (SIGHUP).  On failure the rules in force stay
 * and err says why.  Returns 0, SL_EINVAL, SL_EIO. */
int col_alerts_reload(col_alerts *a, char *err, size_t errlen);

/* Changes the evaluation period (SIGHUP). */
void col_alerts_set_interval(col_alerts *a, uint64_t interval_ns);

/* One evaluation pass of every rule at now_ns, in the calling thread (the
 * evaluation thread calls it; tests call it with a fake clock).  Returns
 * the number of rules whose measurement failed. */
int col_alerts_eval(col_alerts *a, uint64_t now_ns);

/* Delivers every queued notification due at now_ns, in the calling thread
 * (tests; the delivery thread does the same).  Returns how many were
 * attempted. */
int col_alerts_deliver_due(col_alerts *a, uint64_t now_ns);

/* ---- for the HTTP API (alerts_api.c); every json_t returned is new and
 * owned by the caller; NULL = out of memory. */

/* GET /api/v1/alerts: every rule with its state and current value. */
json_t *col_alerts_list_json(col_alerts *a, uint64_t now_ns);

/* History, newest first: at most limit entries, of one rule when rule is
 * not NULL. */
json_t *col_alerts_history_json(col_alerts *a, const char *rule, size_t limit);

/* The rules document in force ({"version":1,"notifiers":[...],"rules":[...]})
 * and the file it lives in. */
json_t *col_alerts_doc_json(col_alerts *a);

/* One rule as given (NULL when there is no such rule). */
json_t *col_alerts_rule_json(col_alerts *a, const char *name);

/* Creates (create_only = 1: SL_EBUSY when the name exists) or replaces the
 * rule name with the object rule (its "name" may be absent; if present it
 * must equal name).  The new document is validated, written to the rules
 * file, then applied.  *created says whether the rule is new.  Returns 0,
 * SL_EINVAL (bad rule: err names the field), SL_EBUSY, SL_EIO (the file
 * could not be written; nothing changed), SL_ENOMEM. */
int col_alerts_rule_put(col_alerts *a, const char *name, const json_t *rule, int create_only,
                        int *created, char *err, size_t errlen);

/* Deletes a rule (a firing one sends its resolve notification first).
 * Returns 0, SL_ENOTFOUND, SL_EIO, SL_ENOMEM. */
int col_alerts_rule_delete(col_alerts *a, const char *name, char *err, size_t errlen);

/* Evaluates an expression or the condition of a rule once, at now_ns,
 * without changing any state: *out = {"expr", "would_fire", "value", ...}.
 * Exactly one of expr, rule is non-NULL.  Returns 0, SL_EPARSE (bad
 * expression, err says where), SL_ENOTFOUND (no such rule), SL_ESTORE. */
int col_alerts_check(col_alerts *a, const char *expr, const char *rule, uint64_t now_ns,
                     json_t **out, char *err, size_t errlen);

/* Counters for /api/v1/stats. */
json_t *col_alerts_stats_json(col_alerts *a);

#endif /* COL_ALERTS_H */
