/*
 * slq_util.h - small pieces every answer of the read side shares: how a
 * nanosecond time is written in JSON, and the span-kind selector of
 * aggregate queries and alert rules ("entry", "all", "server", ...).
 */
#ifndef SLQ_UTIL_H
#define SLQ_UTIL_H

#include <stdint.h>

#include <jansson.h>

/* Spans whose kind is in this mask are a service's entry points (the
 * requests it handled): SERVER and CONSUMER. */
#define SLQ_KIND_ENTRY ((1u << 2) | (1u << 5))

/* A decimal string for *_ns fields: exact, unlike a JSON number read by
 * JavaScript.  New reference (json_decref), NULL when out of memory. */
json_t *slq_json_ns(uint64_t ns);

/* Parses a kind selector: "entry" (SLQ_KIND_ENTRY), "all" (mask 0), or
 * one span kind by name.  0 with *mask set and *canonical (may be NULL)
 * pointing at the static name; -1 for anything else. */
int slq_kind_parse(const char *s, unsigned *mask, const char **canonical);

/* The selector's name for a mask made by slq_kind_parse ("all" for 0,
 * "entry" for masks that are no single kind). */
const char *slq_kind_mask_name(unsigned mask);

/* What slq_kind_parse takes, for error messages. */
#define SLQ_KIND_CHOICES "entry, all, server, client, internal, producer or consumer"

#endif /* SLQ_UTIL_H */
