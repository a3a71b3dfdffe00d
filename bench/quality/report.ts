// The quality bench's report: the table and verdict on stdout, and the SVG of quality against ratio.
import { DEMOTE_METHODS, isDemote, KVZIP_METHODS, LOCAL_BASIS, METHODS, RATIOS, ratiosOf, SINKS, type Method } from './methods.ts';
import { METRICS, type Averages, type Measure, type paired, type verdictOf } from './metrics.ts';

/** Per method and ratio, per metric: a paired difference over contexts. */
type PairedRows = Record<string, Record<string, Record<string, ReturnType<typeof paired>>>>;

export interface ReportInputs {
  contexts: number;
  contextTokens: number;
  full: { heldOutNll: number; factNll: number };
  avg: Averages;
  verdict: ReturnType<typeof verdictOf>;
  demoteMetrics: (keyof Measure)[];
  /** Per demote method and ratio, per metric: the paired difference against kvzip-pair. */
  demoteVsPair: PairedRows;
  /** The same for kvzip-local against LOCAL_BASIS, with the share of that method's kept pairs local keeps too. */
  localVsExact: PairedRows;
  localKeptShared: { ratio: number; shared: number }[];
  /** Punctuation/whitespace share of the context tokens. */
  contextShare: number;
  punctOf: (m: Method) => { ratio: number; keptShare: number }[];
  timing: { prefillMs: number; scoreMs: number; localScoreMs: number; sessionsMs: number; sessions: number };
  seconds: number;
  wrote: string[];
}

export function printReport(x: ReportInputs): void {
  const cols: [keyof Measure, string, number][] = [
    ['retellMatch', 'rt match', 3],
    ['retellFirstDiv', 'rt 1stdiv', 1],
    ['retellTop1', 'rt top1', 3],
    ['retellKl', 'rt KL', 4],
    ['factNll', 'fact NLL', 3],
    ['factNllGap', 'fact |dN|', 3],
    ['factKl', 'fact KL', 4],
    ['contMatch', 'ct match', 3],
    ['contFirstDiv', 'ct 1stdiv', 1],
    ['contTop1', 'ct top1', 3],
    ['contKl', 'ct KL', 4],
    ['heldOutNll', 'ho NLL', 3],
    ['heldOutNllGap', 'ho |dN|', 3],
    ['heldOutKl', 'ho KL', 4],
    ['snapProbeMatch', 'snapQ', 3],
  ];
  const pad = (s: string, w: number) => s.padStart(w);
  console.log(
    `stories260K, ${x.contexts} contexts x ${x.contextTokens} tokens; full cache: held-out NLL ${x.full.heldOutNll.toFixed(3)}, fact NLL ${x.full.factNll.toFixed(3)}`,
  );
  console.log(pad('ratio', 5) + ' ' + 'method'.padEnd(14) + cols.map(([, h]) => pad(h, 10)).join(''));
  for (const r of RATIOS) {
    for (const m of METHODS.filter((x) => ratiosOf(x).includes(r))) {
      const a = x.avg[m][r];
      console.log(pad(String(r), 5) + ' ' + m.padEnd(14) + cols.map(([k, , d]) => pad(a[k].toFixed(d), 10)).join(''));
    }
  }
  console.log('|dN| = |NLL - full-cache NLL|; KL = KL(full || compressed), teacher-forced; top1 = argmax agreement, teacher-forced');
  console.log(
    'rt = retelling cues (probes 0..2), fact = early sentence 2nd half after its cue, ct = plain continuation, ho = held-out true continuation, snapQ = the probe SnapKV was made for',
  );
  console.log(`\nverdict: ${x.verdict.rule}`);
  for (const k of KVZIP_METHODS) {
    for (const [what, v] of [
      ['bar', x.verdict.bar[k]],
      ['raw held-out NLL', x.verdict.rawNll[k]],
    ] as const) {
      console.log(`  ${k}, ${what}: strict ${v.strictPass ? 'PASS' : 'FAIL'}, within noise (2 se) ${v.withinNoisePass ? 'PASS' : 'FAIL'}`);
      for (const f of v.strictFailures) console.log(`    ${f}`);
    }
    const d = x.verdict.diagnostics[k];
    const behind = METRICS.filter((m) => !d[m].pass);
    console.log(
      `    diagnostics, every metric: ${behind.length ? behind.map((m) => `${m} (${d[m].failures.join('; ')})`).join(' | ') : 'ahead or level everywhere'}`,
    );
  }
  console.log(
    '\ndemote vs kvzip-pair, paired over contexts: better = mean(variant - pair), sign-adjusted (> 0 = closer to full) ± se [wins/ties/losses]',
  );
  pairedTable(x.demoteVsPair, x.demoteMetrics);
  console.log(
    `punctuation/whitespace: ${(x.contextShare * 100).toFixed(1)}% of context tokens; share of kvzip-pair kept pairs: ` +
      x
        .punctOf('kvzip-pair')
        .map((p) => `r=${p.ratio} ${(p.keptShare * 100).toFixed(1)}%`)
        .join(', '),
  );
  for (const m of DEMOTE_METHODS)
    console.log(
      `  ${m}: ` +
        x
          .punctOf(m)
          .map((p) => `r=${p.ratio} ${(p.keptShare * 100).toFixed(1)}%`)
          .join(', '),
    );
  console.log(`\nkvzip-local vs ${LOCAL_BASIS}, paired over contexts, as above`);
  pairedTable(x.localVsExact, x.demoteMetrics);
  console.log(
    `  share of ${LOCAL_BASIS}'s kept pairs that kvzip-local keeps: ` +
      x.localKeptShared.map((p) => `r=${p.ratio} ${(p.shared * 100).toFixed(1)}%`).join(', '),
  );
  console.log(
    `prefill ${x.timing.prefillMs.toFixed(0)} ms, scoring ${x.timing.scoreMs.toFixed(0)} ms, local scoring ${x.timing.localScoreMs.toFixed(0)} ms (all contexts); ${x.timing.sessions} compressed sessions in ${(x.timing.sessionsMs / 1000).toFixed(1)} s; total ${x.seconds.toFixed(1)} s`,
  );
  console.log(`wrote ${x.wrote.join(' and ')}`);
}

/** Rows of paired differences: method × ratio ≤ 0.5, one cell per metric, "better ± se wins/ties/losses". */
function pairedTable(rows: PairedRows, metrics: (keyof Measure)[]): void {
  const pad = (s: string, w: number) => s.padStart(w);
  console.log(pad('ratio', 5) + ' ' + 'method'.padEnd(24) + metrics.map((k) => pad(k, 22)).join(''));
  for (const r of RATIOS.filter((x) => x <= 0.5)) {
    for (const [m, byRatio] of Object.entries(rows)) {
      const row = byRatio[r];
      console.log(
        pad(String(r), 5) +
          ' ' +
          m.padEnd(24) +
          metrics
            .map((k) => {
              const p = row[k];
              const d = k.endsWith('Kl') || k.endsWith('Gap') ? 4 : k.endsWith('FirstDiv') ? 2 : 3;
              return pad(`${p.better >= 0 ? '+' : ''}${p.better.toFixed(d)}±${p.se.toFixed(d)} ${p.wins}/${p.ties}/${p.losses}`, 22);
            })
            .join(''),
      );
    }
  }
}

const COLORS: Record<Method, string> = {
  'kvzip-pair': '#d62728',
  'kvzip-pair-demote-0.75': '#8c564b',
  'kvzip-local': '#9467bd',
  'kvzip-uniform': '#ff7f0e',
  random: '#7f7f7f',
  recency: '#1f77b4',
  snapkv: '#2ca02c',
};

/** Quality vs ratio, one panel per metric, one line per method (hand-written SVG). KL panels use a log scale. */
export function svg(avg: Averages, full: { heldOutNll: number; factNll: number }): string {
  const panels: { key: keyof Measure; title: string; full?: number }[] = [
    { key: 'retellMatch', title: 'Retelling cue: greedy match with full ↑' },
    { key: 'retellKl', title: 'Retelling cue: KL(full ‖ compressed), log ↓' },
    { key: 'factNll', title: 'Early sentence, 2nd half after cue: NLL', full: full.factNll },
    { key: 'contMatch', title: 'Plain continuation: greedy match with full ↑' },
    { key: 'contKl', title: 'Plain continuation: KL(full ‖ compressed), log ↓' },
    { key: 'heldOutNll', title: 'True continuation (held out): NLL', full: full.heldOutNll },
  ];
  const cols = 3;
  const W = 340;
  const Hh = 250;
  const m = { l: 48, r: 12, t: 28, b: 38 };
  const legendH = 48;
  const total = { w: cols * W, h: Math.ceil(panels.length / cols) * Hh + legendH };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total.w}" height="${total.h}" viewBox="0 0 ${total.w} ${total.h}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  panels.forEach((p, i) => {
    const ox = (i % cols) * W;
    const oy = legendH + Math.floor(i / cols) * Hh;
    const log = p.key.endsWith('Kl');
    const f = (v: number) => (log ? Math.log10(Math.max(v, 1e-6)) : v);
    const values = METHODS.flatMap((k) =>
      ratiosOf(k)
        .filter((r) => !log || r < 1)
        .map((r) => f(avg[k][r][p.key])),
    );
    if (p.full !== undefined) values.push(p.full);
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (p.key.endsWith('Match')) {
      lo = 0;
      hi = 1;
    } else if (log) {
      lo = Math.floor(lo);
      hi = Math.ceil(hi);
    } else {
      const padv = (hi - lo) * 0.05 || 0.1;
      lo -= padv;
      hi += padv;
    }
    const px = (r: number) => ox + m.l + r * (W - m.l - m.r);
    const py = (v: number) => oy + Hh - m.b - ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (Hh - m.t - m.b);
    out.push(`<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-size="11.5" font-weight="bold">${p.title}</text>`);
    out.push(`<rect x="${px(0)}" y="${py(hi)}" width="${px(1) - px(0)}" height="${py(lo) - py(hi)}" fill="none" stroke="#444"/>`);
    const ticks = log ? Array.from({ length: hi - lo + 1 }, (_, j) => lo + j) : [0, 1, 2, 3, 4].map((j) => lo + ((hi - lo) * j) / 4);
    for (const v of ticks) {
      out.push(`<line x1="${px(0)}" x2="${px(1)}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
      out.push(`<text x="${px(0) - 4}" y="${py(v) + 4}" text-anchor="end">${log ? `1e${v}` : v.toFixed(2)}</text>`);
    }
    for (const r of [0, ...RATIOS]) {
      out.push(`<line x1="${px(r)}" x2="${px(r)}" y1="${py(lo)}" y2="${py(lo) + 4}" stroke="#444"/>`);
      out.push(`<text x="${px(r)}" y="${py(lo) + 15}" text-anchor="middle">${r}</text>`);
    }
    out.push(`<text x="${ox + (m.l + W - m.r) / 2}" y="${oy + Hh - 8}" text-anchor="middle">ratio of context KV kept</text>`);
    if (p.full !== undefined) {
      out.push(`<line x1="${px(0)}" x2="${px(1)}" y1="${py(p.full)}" y2="${py(p.full)}" stroke="black" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${px(0) + 4}" y="${py(p.full) - 4}">full cache</text>`);
    }
    for (const k of METHODS) {
      // KL is 0 at ratio 1.0 (no log): those panels stop at 0.7.
      const pts = ratiosOf(k)
        .filter((r) => !log || r < 1)
        .map((r) => `${px(r).toFixed(1)},${py(f(avg[k][r][p.key])).toFixed(1)}`);
      const dash = isDemote(k) ? ' stroke-dasharray="5 2"' : '';
      out.push(
        `<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[k]}" stroke-width="${k === 'kvzip-pair' ? 2.5 : 1.5}"${dash}/>`,
      );
      for (const pt of pts) {
        const [x, y] = pt.split(',');
        out.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${COLORS[k]}"/>`);
      }
    }
  });
  METHODS.forEach((k, i) => {
    const x = 20 + (i % 4) * 250;
    const y = 15 + Math.floor(i / 4) * 18;
    const dash = isDemote(k) ? ' stroke-dasharray="5 2"' : '';
    out.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${COLORS[k]}" stroke-width="${k === 'kvzip-pair' ? 2.5 : 1.5}"${dash}/>`,
    );
    out.push(
      `<text x="${x + 30}" y="${y + 4}">${k === 'snapkv' ? 'snapkv (made for another cue)' : k === 'recency' ? `recency + ${SINKS} sinks` : k}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One line of a quality-versus-ratio panel; `lo`/`hi` draw an interval bar at the point. */
export interface RatioSeries {
  name: string;
  color: string;
  width?: number;
  dash?: string;
  points: { ratio: number; value: number; lo?: number; hi?: number }[];
}

export interface RatioPanel {
  title: string;
  series: RatioSeries[];
  /** Horizontal reference lines (the full cache, no context at all). */
  refs?: { label: string; value: number }[];
  /** The y range; the data's (padded) when left out. */
  range?: [number, number];
}

/**
 * Quality against the ratio kept, one panel per measure, one line per method, with interval bars: the same
 * drawing as the stories260K figure (svg above), for any measures.
 */
export function ratioChart(panels: RatioPanel[], o: { cols?: number; ratios: number[]; title?: string }): string {
  const cols = o.cols ?? 3;
  const W = 340;
  const Hh = 250;
  const m = { l: 48, r: 12, t: 28, b: 38 };
  const names = new Map<string, RatioSeries>();
  for (const p of panels) for (const s of p.series) if (!names.has(s.name)) names.set(s.name, s);
  const legendRows = Math.ceil(names.size / 4);
  const top = (o.title ? 22 : 0) + 12 + legendRows * 18;
  const total = { w: cols * W, h: Math.ceil(panels.length / cols) * Hh + top };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total.w}" height="${total.h}" viewBox="0 0 ${total.w} ${total.h}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  if (o.title)
    out.push(`<text x="${total.w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(o.title)}</text>`);
  panels.forEach((p, i) => {
    const ox = (i % cols) * W;
    const oy = top + Math.floor(i / cols) * Hh;
    const values = p.series.flatMap((s) => s.points.flatMap((pt) => [pt.value, pt.lo ?? pt.value, pt.hi ?? pt.value]));
    for (const r of p.refs ?? []) values.push(r.value);
    let [lo, hi] = p.range ?? [Math.min(...values), Math.max(...values)];
    if (!p.range) {
      const padv = (hi - lo) * 0.05 || 0.1;
      lo -= padv;
      hi += padv;
    }
    const px = (r: number) => ox + m.l + r * (W - m.l - m.r);
    const py = (v: number) => oy + Hh - m.b - ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (Hh - m.t - m.b);
    out.push(
      `<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-size="11.5" font-weight="bold">${escapeXml(p.title)}</text>`,
    );
    out.push(`<rect x="${px(0)}" y="${py(hi)}" width="${px(1) - px(0)}" height="${py(lo) - py(hi)}" fill="none" stroke="#444"/>`);
    for (const v of [0, 1, 2, 3, 4].map((j) => lo + ((hi - lo) * j) / 4)) {
      out.push(`<line x1="${px(0)}" x2="${px(1)}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
      out.push(`<text x="${px(0) - 4}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    for (const r of [0, ...o.ratios]) {
      out.push(`<line x1="${px(r)}" x2="${px(r)}" y1="${py(lo)}" y2="${py(lo) + 4}" stroke="#444"/>`);
      out.push(`<text x="${px(r)}" y="${py(lo) + 15}" text-anchor="middle">${r}</text>`);
    }
    out.push(`<text x="${ox + (m.l + W - m.r) / 2}" y="${oy + Hh - 8}" text-anchor="middle">ratio of context KV kept</text>`);
    for (const r of p.refs ?? []) {
      out.push(`<line x1="${px(0)}" x2="${px(1)}" y1="${py(r.value)}" y2="${py(r.value)}" stroke="black" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${px(0) + 4}" y="${py(r.value) - 4}">${escapeXml(r.label)}</text>`);
    }
    // Each line a little to the side of the others, so interval bars at one ratio do not hide each other.
    p.series.forEach((s, k) => {
      const dx = (k - (p.series.length - 1) / 2) * 2.5;
      const pts = [...s.points].sort((a, b) => a.ratio - b.ratio);
      const xy = pts.map((pt) => [px(pt.ratio) + dx, py(pt.value)] as const);
      const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
      out.push(
        `<polyline points="${xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${dash}/>`,
      );
      pts.forEach((pt, j) => {
        const [x, y] = xy[j]!;
        if (pt.lo !== undefined && pt.hi !== undefined)
          out.push(
            `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${py(pt.lo).toFixed(1)}" y2="${py(pt.hi).toFixed(1)}" stroke="${s.color}" stroke-opacity="0.55"/>`,
          );
        out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      });
    });
  });
  [...names.values()].forEach((s, i) => {
    const x = 20 + (i % 4) * 250;
    const y = (o.title ? 22 : 0) + 15 + Math.floor(i / 4) * 18;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${dash}/>`);
    out.push(`<text x="${x + 30}" y="${y + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
