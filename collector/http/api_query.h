/*
 * api_query.h - the query endpoints of the JSON API (docs/api.md): trace
 * search, RED metrics over time, the per-operation table of a service, the
 * service dependency graph, log search and top-N operations.
 *
 * Same contract as the handlers of api.c: each reads its arguments through
 * req->arg, fills resp with 200 and a JSON body or with the one error shape
 * (col_api_error), and never blocks longer than its bounded store reads.
 * Aggregate endpoints (red, operations, deps, top) read only the per-minute
 * aggregates, never spans.  api.c routes to them from its table.
 *
 * The answers themselves come from the read-side engine (query/slq_*.h):
 * a handler parses its arguments, calls the engine and serializes what it
 * returns.
 */
#ifndef COL_API_QUERY_H
#define COL_API_QUERY_H

#include "api.h"

/* GET /api/v1/traces/{id} (req->rest = the id): the whole trace as a
 * request tree, read through the block cache. */
void col_apiq_trace(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/traces?service=&operation=&attr=k=v&tags={json}&min_duration=
 * &max_duration=&error=&since=&until=&limit=&order=&summary= */
void col_apiq_traces(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/red?service=&operation=&by=&kind=&since=&until=&step= */
void col_apiq_red(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/services/{name}/operations?kind=&since=&until=
 * (routed by the prefix /api/v1/services/; req->rest = "{name}/operations") */
void col_apiq_service_sub(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/deps?since=&until= */
void col_apiq_deps(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/logs?service=&level=&q=&trace_id=&since=&until=&limit=&cursor= */
void col_apiq_logs(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* GET /api/v1/top?by=latency|errors&service=&kind=&min_count=&since=&until=&limit= */
void col_apiq_top(const col_api *api, const col_api_req *req, col_api_resp *resp);

/* The percentiles every endpoint reports, from one pass over h: p50, p90,
 * p95, p99 into out[0..3], each exactly slc_hist_quantile(h, q) (bucket
 * midpoint clamped to [min, max], < 1% relative error).  Zeros when h is
 * empty.  Exposed for the accuracy test. */
void col_apiq_percentiles(const slc_hist *h, uint64_t out[4]);

#endif /* COL_API_QUERY_H */
