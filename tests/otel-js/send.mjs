// tests/otel-js/send.mjs - produces real OTLP/HTTP requests with the
// OpenTelemetry JavaScript SDK and its exporters, sends them to a Sightline
// collector, and writes what it sent (ids, names, times, attributes) as JSON
// for check.mjs to compare with what the CLI reads back.
//
//   node send.mjs --url http://127.0.0.1:4380 --protocol json|protobuf
//                 [--gzip] --out expected.json
//
// Spans and log records are recorded in memory first and then handed to the
// OTLP exporter directly, so the script knows for certain whether the export
// succeeded (exit status 1 and a message on failure).
import { trace, context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  LoggerProvider, InMemoryLogRecordExporter, SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { writeFileSync } from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  return process.argv[i + 1];
}
const url = arg('--url');
const protocol = arg('--protocol', 'json');
const gzip = process.argv.includes('--gzip');
const out = arg('--out');
if (!url || !out || !['json', 'protobuf'].includes(protocol)) {
  console.error('usage: node send.mjs --url URL --protocol json|protobuf [--gzip] --out FILE');
  process.exit(2);
}

const service = `otel-js-${protocol}${gzip ? '-gzip' : ''}`;
const resource = defaultResource().merge(resourceFromAttributes({
  [ATTR_SERVICE_NAME]: service,
  [ATTR_SERVICE_VERSION]: '4.5.6',
  'host.name': 'js-host-1',
  'deployment.environment.name': 'e2e',
}));
const scope = { name: 'sightline-e2e', version: '0.0.7' };

const memSpans = new InMemorySpanExporter();
const tp = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memSpans)] });
const tracer = tp.getTracer(scope.name, scope.version);
const memLogs = new InMemoryLogRecordExporter();
const lp = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor(memLogs)] });
const logger = lp.getLogger(scope.name, scope.version);

// A linked span in another trace (only its context is used).
const other = tracer.startSpan('other-trace-root');
other.end();

const root = tracer.startSpan('GET /checkout', {
  kind: SpanKind.SERVER,
  attributes: {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'cart.total': 99.5,
    'user.premium': true,
    'items': ['apple', 'pear'],
  },
  links: [{ context: other.spanContext(), attributes: { 'link.reason': 'batch' } }],
});
root.addEvent('cache.miss', { 'cache.key': 'cart:42' });
const rootCtx = trace.setSpan(context.active(), root);
const child = tracer.startSpan('charge card', { kind: SpanKind.CLIENT }, rootCtx);
child.setAttribute('peer.service', 'bank');
child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
const childCtx = trace.setSpan(rootCtx, child);
logger.emit({
  severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'payment failed',
  attributes: { 'order.id': 'o-17', 'retry': 3 }, context: childCtx,
});
logger.emit({ severityText: 'WARN', body: 'slow bank', context: childCtx });
logger.emit({ severityNumber: SeverityNumber.INFO, body: { msg: 'structured', n: 1 }, context: rootCtx });
child.end();
const internal = tracer.startSpan('render', { kind: SpanKind.INTERNAL }, rootCtx);
internal.setStatus({ code: SpanStatusCode.OK });
internal.end();
root.end();
await tp.forceFlush();
await lp.forceFlush();

const spans = memSpans.getFinishedSpans().filter((s) => s.name !== 'other-trace-root');
const allSpans = memSpans.getFinishedSpans();
const logs = memLogs.getFinishedLogRecords();

const ns = (hr) => (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();
const kinds = ['internal', 'server', 'client', 'producer', 'consumer'];
const statuses = ['unset', 'ok', 'error'];
const expected = {
  service,
  trace_id: root.spanContext().traceId,
  resource: { 'service.version': '4.5.6', 'host.name': 'js-host-1', 'deployment.environment.name': 'e2e' },
  scope,
  spans: spans.map((s) => ({
    span_id: s.spanContext().spanId,
    parent_id: s.parentSpanContext ? s.parentSpanContext.spanId : '',
    name: s.name,
    kind: kinds[s.kind],
    start_ns: ns(s.startTime),
    duration_ns: (BigInt(ns(s.endTime)) - BigInt(ns(s.startTime))).toString(),
    status: statuses[s.status.code],
    status_message: s.status.message || '',
    attributes: s.attributes,
    events: s.events.map((e) => ({ name: e.name, time_ns: ns(e.time), attributes: e.attributes || {} })),
    links: s.links.map((l) => ({ trace_id: l.context.traceId, span_id: l.context.spanId, attributes: l.attributes || {} })),
  })),
  logs: logs.map((l) => ({
    time_ns: ns(l.hrTime),
    severity_number: l.severityNumber || 0,
    severity_text: l.severityText || '',
    body: l.body,
    span_id: l.spanContext ? l.spanContext.spanId : '',
    attributes: l.attributes,
  })),
};

function exportWith(exporter, items) {
  return new Promise((resolve) => exporter.export(items, resolve));
}
const opts = (path) => ({ url: url + path, ...(gzip ? { compression: 'gzip' } : {}) });
const TraceExp = protocol === 'json' ? JsonTraceExporter : ProtoTraceExporter;
const LogExp = protocol === 'json' ? JsonLogExporter : ProtoLogExporter;
const te = new TraceExp(opts('/v1/traces'));
const le = new LogExp(opts('/v1/logs'));
const r1 = await exportWith(te, allSpans);
const r2 = await exportWith(le, logs);
await te.shutdown();
await le.shutdown();
writeFileSync(out, JSON.stringify(expected, null, 1));
let ok = true;
for (const [what, r] of [['traces', r1], ['logs', r2]]) {
  if (r.code !== 0) {
    console.error(`export of ${what} failed: ${r.error ? r.error.message : 'unknown error'}`);
    ok = false;
  }
}
console.log(`${service}: sent ${allSpans.length} spans, ${logs.length} log records, trace ${expected.trace_id}`);
process.exit(ok ? 0 : 1);
