// tests/otel-js/check.mjs - compares what send.mjs sent (expected.json) with
// what `sightline --json trace ID` printed (got.json), field by field.
// Prints one line per mismatch and exits 1 if there is any.
import { readFileSync } from 'node:fs';

const [expFile, gotFile] = process.argv.slice(2);
const exp = JSON.parse(readFileSync(expFile, 'utf8'));
const got = JSON.parse(readFileSync(gotFile, 'utf8'));
let bad = 0;
function eq(what, a, b) {
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  if (sa !== sb) {
    console.log(`mismatch ${what}: got ${sb}, want ${sa}`);
    bad++;
  }
}
// Attribute values as the CLI prints them: arrays as JSON text.
const norm = (v) => (Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v) : v);
function attrs(what, want, have) {
  for (const [k, v] of Object.entries(want || {})) eq(`${what} attribute ${k}`, norm(v), (have || {})[k]);
}

eq('trace_id', exp.trace_id, got.trace_id);
eq('span count', exp.spans.length, got.spans.length);
for (const es of exp.spans) {
  const gs = got.spans.find((s) => s.span_id === es.span_id);
  if (!gs) { console.log(`span ${es.span_id} (${es.name}) missing`); bad++; continue; }
  const w = `span ${es.name}`;
  for (const f of ['parent_id', 'name', 'kind', 'start_ns', 'status', 'status_message']) eq(`${w} ${f}`, es[f], gs[f]);
  eq(`${w} service`, exp.service, gs.service);
  eq(`${w} duration_ns`, Number(es.duration_ns), gs.duration_ns);
  attrs(w, es.attributes, gs.attributes);
  attrs(`${w} resource`, exp.resource, gs.attributes);
  eq(`${w} otel.scope.name`, exp.scope.name, gs.attributes['otel.scope.name']);
  eq(`${w} otel.scope.version`, exp.scope.version, gs.attributes['otel.scope.version']);
  eq(`${w} telemetry.sdk.language`, 'nodejs', gs.attributes['telemetry.sdk.language']);
  eq(`${w} event count`, es.events.length, gs.events.length);
  es.events.forEach((e, i) => {
    const ge = gs.events[i] || {};
    eq(`${w} event ${i} name`, e.name, ge.name);
    eq(`${w} event ${i} time_us`, Number(BigInt(e.time_ns) / 1000n), ge.time_us);
    attrs(`${w} event ${i}`, e.attributes, ge.attributes);
  });
  eq(`${w} link count`, es.links.length, gs.links.length);
  es.links.forEach((l, i) => {
    const gl = gs.links[i] || {};
    eq(`${w} link ${i} trace_id`, l.trace_id, gl.trace_id);
    eq(`${w} link ${i} span_id`, l.span_id, gl.span_id);
    attrs(`${w} link ${i}`, l.attributes, gl.attributes);
  });
}
const levels = (n, text) => {
  if (n === 0) n = { ERROR: 17, WARN: 13, INFO: 9, DEBUG: 5 }[text] || 9;
  return n;
};
eq('log count', exp.logs.length, got.logs.length);
for (const el of exp.logs) {
  const body = typeof el.body === 'string' ? el.body : JSON.stringify(el.body);
  const gl = got.logs.find((l) => l.body === body);
  if (!gl) { console.log(`log '${body}' missing`); bad++; continue; }
  const w = `log '${body}'`;
  eq(`${w} time_ns`, el.time_ns, gl.time_ns);
  eq(`${w} severity`, levels(el.severity_number, el.severity_text), gl.severity);
  eq(`${w} span_id`, el.span_id, gl.span_id);
  eq(`${w} service`, exp.service, gl.service);
  attrs(w, el.attributes, gl.attributes);
  attrs(`${w} resource`, exp.resource, gl.attributes);
  eq(`${w} otel.scope.name`, exp.scope.name, gl.attributes['otel.scope.name']);
}
if (bad === 0) console.log(`all fields match (${exp.spans.length} spans, ${exp.logs.length} logs)`);
process.exit(bad === 0 ? 0 : 1);
