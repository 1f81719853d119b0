/*
 * api_sdk.h - GET /api/v1/sdk: the SDKs' own counters per service.
 *
 * The SDK reports its counters (spans created/exported/dropped, ...) as an
 * ordinary log record with body "sightline.sdk.stats" (docs/sdk.md,
 * "Self-observation on the wire").  This endpoint reads the recent ones
 * through the log search of the store, keeps the newest record of each
 * (service, instance) -- the counters are cumulative per process run -- and
 * sums the instances of each service.  Same handler contract as api.c.
 */
#ifndef COL_API_SDK_H
#define COL_API_SDK_H

#include "api.h"

/* GET /api/v1/sdk?service=&since=&until= */
void col_api_sdk(const col_api *api, const col_api_req *req, col_api_resp *resp);

#endif /* COL_API_SDK_H */
