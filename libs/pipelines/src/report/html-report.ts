import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MeanStd, PairedDelta, ReportModel, SummaryRow } from './report-model.js';

const require = createRequire(import.meta.url);

let chartJsSource: string | undefined;
/** Chart.js's UMD bundle, inlined so report.html opens offline with no other file. */
function chartJs(): string {
  // The package's exports hide dist/, so locate it from the CommonJS entry point.
  chartJsSource ??= readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJsSource;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Inline <script> content must not contain "</script" (or "<!--"); JSON stays valid after this. */
const scriptSafe = (s: string): string => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

const fmt = (m: MeanStd | undefined): string =>
  m === undefined ? '–' : m.n > 1 ? `${m.mean.toFixed(2)} ± ${m.std.toFixed(2)}` : m.mean.toFixed(2);

/** Δ of the means, with the paired test: p (starred below 0.05) and the sign of every seed's delta. */
function delta(pair: { baseline?: MeanStd; sio?: MeanStd }, higherIsBetter: boolean, test?: PairedDelta): string {
  if (!pair.baseline || !pair.sio) return '<td>–</td>';
  const d = pair.sio.mean - pair.baseline.mean;
  const good = higherIsBetter ? d > 0 : d < 0;
  const cls = Math.abs(d) < 0.005 ? 'same' : good ? 'better' : 'worse';
  let tested = '';
  if (test && test.signs.length > 1) {
    const p = Number.isFinite(test.p) ? (test.p < 0.001 ? test.p.toExponential(1) : test.p.toFixed(3)) : '–';
    const signs = test.signs.map((x) => (x > 0 ? '+' : x < 0 ? '−' : '0')).join('');
    tested = `<br><small title="paired t-test over seeds ${test.seeds.join(', ')}; signs of the per-seed deltas">p ${p}${test.significant ? '*' : ''} ${signs}</small>`;
  }
  return `<td class="${cls}${test?.significant ? ' significant' : ''}">${d >= 0 ? '+' : ''}${d.toFixed(2)}${tested}</td>`;
}

function summaryTable(rows: readonly SummaryRow[]): string {
  const variants = new Set(rows.map((r) => r.variant)).size > 1;
  const head = `<tr><th rowspan="2">trainer</th><th rowspan="2">method</th>${variants ? '<th rowspan="2">SIO variant</th>' : ''}
<th colspan="3">near-OOD AUROC ↑</th><th colspan="3">far-OOD AUROC ↑</th>
<th colspan="3">near-OOD FPR@95 ↓</th><th colspan="3">far-OOD FPR@95 ↓</th>
<th colspan="2" title="the classifier's accuracy on ID test, the same for every method of one model">ACC (classifier)</th>
<th colspan="2" title="accuracy of the method's own predictions on ID test">PRED_ACC (method)</th></tr>
<tr>${'<th>baseline</th><th>+SIO</th><th>Δ</th>'.repeat(4)}${'<th>baseline</th><th>+SIO</th>'.repeat(2)}</tr>`;
  const body = rows
    .map(
      (
        r,
      ) => `<tr data-method="${escapeHtml(r.postprocessor)}"><td>${escapeHtml(r.trainer)}</td><td class="method">${escapeHtml(r.postprocessor)}</td>${variants ? `<td>${escapeHtml(r.variant)}</td>` : ''}
<td>${fmt(r.nearAuroc.baseline)}</td><td>${fmt(r.nearAuroc.sio)}</td>${delta(r.nearAuroc, true, r.paired.nearAuroc)}
<td>${fmt(r.farAuroc.baseline)}</td><td>${fmt(r.farAuroc.sio)}</td>${delta(r.farAuroc, true, r.paired.farAuroc)}
<td>${fmt(r.nearFpr95.baseline)}</td><td>${fmt(r.nearFpr95.sio)}</td>${delta(r.nearFpr95, false, r.paired.nearFpr95)}
<td>${fmt(r.farFpr95.baseline)}</td><td>${fmt(r.farFpr95.sio)}</td>${delta(r.farFpr95, false, r.paired.farFpr95)}
<td>${fmt(r.idAcc.baseline)}</td><td>${fmt(r.idAcc.sio)}</td>
<td>${fmt(r.predAcc.baseline)}</td><td>${fmt(r.predAcc.sio)}</td></tr>`,
    )
    .join('\n');
  return `<table class="summary"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1280px;color:#1d2330;padding:0 16px}
h1{margin-bottom:4px}.meta{color:#667;margin-top:0}
table{border-collapse:collapse;margin:12px 0;font-size:13px}th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:right}
th{background:#f1f3f7}td.method,td:first-child{text-align:left;font-weight:600}
td.better{color:#0a7a2f;font-weight:600}td.significant{background:#fff7d6}td.worse{color:#b3261e;font-weight:600}td.same{color:#667}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:16px}
.card{border:1px solid #e3e6ec;border-radius:8px;padding:8px}.card h3{margin:4px 0 8px;font-size:14px}.plot{position:relative}
.images{display:flex;gap:24px;flex-wrap:wrap}.images figure{margin:0}.images img{image-rendering:pixelated;width:280px;border:1px solid #ccd}
pre{background:#f6f8fa;padding:12px;overflow:auto;font-size:12px}details{margin:8px 0}
`;

const RENDER = `
const model = JSON.parse(document.getElementById('report-data').textContent);
const palette = ['#4e79a7','#f28e2b','#e15759','#76b7b2','#59a14f','#edc948','#b07aa1','#ff9da7','#9c755f','#bab0ac'];
const color = (i) => palette[i % palette.length];
function card(parent, title) {
  const div = document.createElement('div'); div.className = 'card';
  const h = document.createElement('h3'); h.textContent = title; div.appendChild(h);
  const plot = document.createElement('div'); plot.className = 'plot'; div.appendChild(plot);
  const canvas = document.createElement('canvas'); plot.appendChild(canvas);
  parent.appendChild(div); return canvas;
}
const bars = document.getElementById('auroc-bars');
if (model.summary.length > 0) {
  const labels = model.summary.map((r) => r.trainer + ' / ' + r.postprocessor + (r.variant && r.variant !== 'sio' ? ' [' + r.variant + ']' : ''));
  const pick = (key, variant) => model.summary.map((r) => r[key][variant] ? r[key][variant].mean : null);
  const barCanvas = card(bars, 'AUROC per method: baseline vs +SIO');
  barCanvas.parentNode.style.height = '420px';
  new Chart(barCanvas, {
    type: 'bar',
    data: { labels, datasets: [
      { label: 'near baseline', data: pick('nearAuroc', 'baseline'), backgroundColor: '#9db4d3' },
      { label: 'near +SIO', data: pick('nearAuroc', 'sio'), backgroundColor: '#2f5f9e' },
      { label: 'far baseline', data: pick('farAuroc', 'baseline'), backgroundColor: '#f5c08f' },
      { label: 'far +SIO', data: pick('farAuroc', 'sio'), backgroundColor: '#d9711c' },
    ] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { title: { display: true, text: 'AUROC (%)' } } } },
  });
}
const methods = [...new Set(model.roc.flatMap((c) => c.curves.map((x) => x.method)).concat(model.histograms.map((h) => h.method)))];
const select = document.getElementById('method-select');
for (const m of methods) { const o = document.createElement('option'); o.value = m; o.textContent = m; select.appendChild(o); }
const variantStyle = { baseline: { color: '#7f8c9d', dash: [6, 4] }, sio: { color: '#2f5f9e', dash: [] } };
const variantName = (v) => (v === 'sio' ? '+SIO' : 'baseline');
const roc = document.getElementById('roc');
const rocCharts = model.roc.map((chart) => new Chart(card(roc, 'ROC — ' + chart.dataset), {
  type: 'line',
  data: { datasets: [] },
  options: { animation: false, parsing: false, scales: { x: { type: 'linear', min: 0, max: 1, title: { display: true, text: 'FPR (ID flagged OOD)' } },
    y: { min: 0, max: 1, title: { display: true, text: 'TPR (OOD caught)' } } } },
}));
const hist = document.getElementById('histograms');
const histCharts = ['baseline', 'sio'].map((variant) => new Chart(card(hist, variantName(variant)), {
  type: 'line', data: { labels: [], datasets: [] },
  options: { animation: false, scales: { x: { title: { display: true, text: 'score (higher = more ID)' }, ticks: { maxTicksLimit: 8 } },
    y: { title: { display: true, text: 'density' } } } },
}));
function showMethod(method) {
  model.roc.forEach((chart, i) => {
    rocCharts[i].data.datasets = chart.curves.filter((c) => c.method === method).map((c) => ({
      label: c.method + ' ' + variantName(c.variant), data: c.fpr.map((x, j) => ({ x, y: c.tpr[j] })),
      borderColor: variantStyle[c.variant].color, borderDash: variantStyle[c.variant].dash, pointRadius: 0, borderWidth: 2, fill: false }));
    rocCharts[i].update();
  });
  ['baseline', 'sio'].forEach((variant, i) => {
    const h = model.histograms.find((x) => x.method === method && x.variant === variant);
    const c = histCharts[i];
    c.canvas.closest('.card').querySelector('h3').textContent = h ? h.title : variantName(variant) + ': not run';
    c.data.labels = h ? h.centers.map((v) => v.toPrecision(3)) : [];
    c.data.datasets = h ? h.series.map((s, k) => ({ label: s.label, data: s.density, borderColor: color(k), backgroundColor: color(k) + '33',
      fill: true, pointRadius: 0, borderWidth: 1, tension: 0.2 })) : [];
    c.update();
  });
  document.body.dataset.method = method;
}
select.addEventListener('change', () => showMethod(select.value));
if (methods.length > 0) showMethod(methods[0]);
document.body.dataset.rendered = 'true';
`;

/** A self-contained HTML page (inline Chart.js, data and images) — opens offline from disk. */
export function renderHtmlReport(model: ReportModel): string {
  const tables = model.tables
    .map(
      (t) =>
        `<details><summary>${escapeHtml(t.title)}</summary><table><thead><tr>${t.columns
          .map((c) => `<th>${escapeHtml(c)}</th>`)
          .join('')}</tr></thead><tbody>${t.rows
          .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table></details>`,
    )
    .join('\n');
  const images = model.images
    .map(
      (img) =>
        `<figure><img alt="${escapeHtml(img.label)}" src="data:image/png;base64,${img.pngBase64}"><figcaption>${escapeHtml(img.label)}</figcaption></figure>`,
    )
    .join('\n');
  const notes = (model.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(model.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(model.title)}</h1>
<p class="meta">benchmark <b>${escapeHtml(model.benchmark)}</b> · ${escapeHtml(model.createdAt)} · values ×100, mean ± population std over seeds</p>
${notes ? `<ul>${notes}</ul>` : ''}
<h2>Does synthetic ID data help? Baseline vs +SIO</h2>
${summaryTable(model.summary)}
<div id="auroc-bars"></div>
<h2>Per method: ROC curves and score distributions</h2>
<p><label>method <select id="method-select"></select></label> — dashed: baseline, solid: +SIO</p>
<h3>ROC curves per OOD dataset</h3><div class="grid" id="roc"></div>
<h3>Score histograms: ID test vs near- and far-OOD</h3><div class="grid" id="histograms"></div>
<h2>Samples</h2><div class="images">${images}</div>
<h2>Full tables</h2>${tables}
<h2>Resolved config</h2><details><summary>config.yml</summary><pre>${escapeHtml(model.configYaml)}</pre></details>
<script>${scriptSafe(chartJs())}</script>
<script type="application/json" id="report-data">${scriptSafe(JSON.stringify({ ...model, images: [], configYaml: '' }))}</script>
<script>${RENDER}</script>
</body></html>
`;
}
