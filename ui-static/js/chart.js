// chart.js - hand-written SVG time-series charts (no library: the
// dashboard needs lines over at most a few hundred buckets, which is a
// few kilobytes of SVG, drawn in well under a millisecond).
//
// lineChart(box, opts) draws into box and returns { draw(), destroy() }:
//   opts.t        bucket start times, ms since epoch
//   opts.stepMs   bucket width in ms
//   opts.series   [{ name, colour, values: [number|null] }]
//   opts.yFmt     value -> axis/tooltip text
//   opts.label    accessible name
//   opts.onPick   (bucket index) -> void; called on click / Enter
// Keyboard: the chart is focusable; ArrowLeft/ArrowRight (Home/End) move
// the highlighted bucket, Enter opens it.
import { esc, niceTicks, timeTicks, fmtTick, fmtTime } from './util.js';

export function lineChart(box, opts) {
  let cur = -1; // highlighted bucket
  let geo = null;
  box.classList.add('lchart');
  box.tabIndex = 0;
  box.setAttribute('role', 'img');
  box.setAttribute('aria-label', opts.label || 'chart');

  function draw() {
    const { t, series } = opts;
    const W = Math.max(240, box.clientWidth || 600);
    const H = opts.height || 180;
    const m = { l: 60, r: 14, t: 10, b: 24 };
    const n = t.length;
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    const yt = niceTicks(0, max > 0 ? max * 1.08 : (opts.emptyMax || 1), 4);
    const yMax = yt.ticks[yt.ticks.length - 1] || 1;
    const lo = n ? t[0] : Date.now() - 3600e3;
    const hi = n ? t[n - 1] + opts.stepMs : Date.now();
    const pw = W - m.l - m.r;
    const X = (i) => m.l + ((t[i] + opts.stepMs / 2 - lo) / (hi - lo || 1)) * pw;
    const Y = (v) => H - m.b - (v / yMax) * (H - m.t - m.b);
    geo = { W, H, m, X, n, lo, hi, pw };
    let s = `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" aria-hidden="true">`;
    for (const v of yt.ticks) {
      const y = Y(v).toFixed(1);
      s += `<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}"/>` +
        `<text class="axis" x="${m.l - 8}" y="${y}" dy="0.32em" text-anchor="end">${v ? esc(opts.yFmt(v)) : '0'}</text>`;
    }
    const xt = timeTicks(lo, hi, Math.max(2, Math.floor(pw / 100)));
    for (const v of xt.ticks) {
      const x = (m.l + ((v - lo) / (hi - lo || 1)) * pw).toFixed(1);
      s += `<line class="grid grid-x" x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}"/>` +
        `<text class="axis" x="${x}" y="${H - 7}" text-anchor="middle">${esc(fmtTick(v, xt.step))}</text>`;
    }
    s += `<line class="guide" x1="-10" x2="-10" y1="${m.t}" y2="${H - m.b}"/>`;
    for (const se of series) {
      let d = '';
      let pen = false;
      let pts = '';
      for (let i = 0; i < n; i++) {
        const v = se.values[i];
        if (v === null || v === undefined) { pen = false; continue; }
        const x = X(i).toFixed(1);
        const y = Y(v).toFixed(1);
        d += (pen ? 'L' : 'M') + x + ' ' + y;
        pen = true;
        pts += `<circle class="pt" data-i="${i}" cx="${x}" cy="${y}" r="${n > 90 ? 1.8 : 2.6}" fill="${se.colour}"/>`;
      }
      s += `<path class="line" d="${d}" stroke="${se.colour}"/>` + pts;
    }
    s += `<rect class="hit" x="${m.l}" y="${m.t}" width="${pw}" height="${H - m.t - m.b}"/></svg>`;
    let legend = '';
    if (series.length > 1 || opts.legend)
      legend = '<div class="lc-legend">' + series.map((se) => `<span><i style="background:${se.colour}"></i>${esc(se.name)}</span>`).join('') + '</div>';
    box.innerHTML = legend + s + '<div class="lc-tip" hidden></div>';
    if (cur >= 0) highlight(cur);
  }

  function bucketAt(clientX) {
    if (!geo || !geo.n) return -1;
    const r = box.querySelector('svg').getBoundingClientRect();
    const x = ((clientX - r.left) / r.width) * geo.W;
    const ms = geo.lo + ((x - geo.m.l) / geo.pw) * (geo.hi - geo.lo);
    let i = Math.floor((ms - opts.t[0]) / opts.stepMs);
    if (i < 0) i = 0;
    if (i >= geo.n) i = geo.n - 1;
    return i;
  }

  function highlight(i) {
    cur = i;
    const tip = box.querySelector('.lc-tip');
    const guide = box.querySelector('.guide');
    if (!tip || !guide) return;
    if (i < 0 || !geo || !geo.n) { tip.hidden = true; guide.setAttribute('x1', -10); guide.setAttribute('x2', -10); return; }
    const x = geo.X(i);
    guide.setAttribute('x1', x);
    guide.setAttribute('x2', x);
    for (const c of box.querySelectorAll('circle.pt.on')) c.classList.remove('on');
    for (const c of box.querySelectorAll(`circle.pt[data-i="${i}"]`)) c.classList.add('on');
    let h = `<div class="tt">${esc(fmtTime(opts.t[i] * 1000))} · ${esc(fmtStep(opts.stepMs))}</div>`;
    for (const se of opts.series) {
      const v = se.values[i];
      h += `<div><i style="background:${se.colour}"></i>${esc(se.name)} <b>${v === null || v === undefined ? '—' : esc(opts.yFmt(v))}</b></div>`;
    }
    if (opts.onPick) h += '<div class="hint">click for the traces</div>';
    tip.innerHTML = h;
    tip.hidden = false;
    const bw = box.clientWidth;
    const px = (x / geo.W) * bw;
    tip.style.left = (px > bw / 2 ? px - tip.offsetWidth - 12 : px + 12) + 'px';
  }

  const onMove = (e) => { if (e.target.closest('svg')) highlight(bucketAt(e.clientX)); };
  const onLeave = () => { if (document.activeElement !== box) highlight(-1); };
  const onClick = (e) => {
    if (!opts.onPick || !e.target.closest('svg')) return;
    const i = e.target.dataset && e.target.dataset.i !== undefined ? +e.target.dataset.i : bucketAt(e.clientX);
    if (i >= 0) opts.onPick(i);
  };
  const onKey = (e) => {
    if (!geo || !geo.n) return;
    let i = cur < 0 ? geo.n - 1 : cur;
    if (e.key === 'ArrowLeft') i = Math.max(0, i - 1);
    else if (e.key === 'ArrowRight') i = Math.min(geo.n - 1, i + 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = geo.n - 1;
    else if (e.key === 'Enter' && opts.onPick && cur >= 0) { opts.onPick(cur); return; } else return;
    e.preventDefault();
    highlight(i);
  };
  box.addEventListener('mousemove', onMove);
  box.addEventListener('mouseleave', onLeave);
  box.addEventListener('click', onClick);
  box.addEventListener('keydown', onKey);
  box.addEventListener('blur', () => highlight(-1));
  draw();
  return {
    draw,
    set(o) { Object.assign(opts, o); draw(); },
    destroy() {
      box.removeEventListener('mousemove', onMove);
      box.removeEventListener('mouseleave', onLeave);
      box.removeEventListener('click', onClick);
      box.removeEventListener('keydown', onKey);
    },
  };
}

function fmtStep(ms) {
  if (ms >= 86400e3) return `${ms / 86400e3} d`;
  if (ms >= 3600e3) return `${ms / 3600e3} h`;
  return `${ms / 60e3} min`;
}
