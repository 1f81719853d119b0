/*
 * alerts_api.h - the alert endpoints of the JSON API (docs/api.md,
 * "Alerts"): rules CRUD, states, history and one-off checks, routed by
 * api.c to col_alerts_api() for every path under /api/v1/alerts.
 */
#ifndef COL_ALERTS_API_H
#define COL_ALERTS_API_H

#include "api.h"

/* GET    /api/v1/alerts                      states of every rule
 * GET    /api/v1/alerts/history?rule=&limit= transitions and deliveries
 * GET    /api/v1/alerts/check?expr=|rule=    evaluate once, change nothing
 * GET    /api/v1/alerts/rules                the rules document
 * POST   /api/v1/alerts/rules                create a rule (409 if it exists)
 * GET    /api/v1/alerts/rules/{name}         one rule
 * PUT    /api/v1/alerts/rules/{name}         create or replace
 * DELETE /api/v1/alerts/rules/{name}         delete
 * Bodies are JSON (Content-Type: application/json, at most 1 MiB). */
void col_alerts_api(const col_api *api, const col_api_req *req, col_api_resp *resp);

#endif /* COL_ALERTS_API_H */
