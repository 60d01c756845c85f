// A small SVG chart generator (horizontal bars and lines), so the report needs no external service or package.

const PALETTE = ['#2f6db5', '#d9822b', '#3a9a5b', '#b53a3a', '#7a55b5', '#7f7f7f', '#c2a100', '#2aa1a8'];
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

const esc = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

function label(value) {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
}

/**
 * Horizontal bars: bars = [{ label, value, group? }]; bars of one group share a colour. Missing values
 * (null) are drawn as a note instead of a bar, so "not measured" never looks like zero.
 * `marker` draws a vertical reference line (for a target) at that value.
 */
export function barChart({ title, unit = '', bars, marker }) {
  const rowH = 22;
  const labelW = 260;
  const plotW = 420;
  const top = 34;
  const height = top + bars.length * rowH + 24;
  const width = labelW + plotW + 110;
  const values = bars.map((b) => b.value).filter((v) => Number.isFinite(v));
  const max = Math.max(1e-9, ...values, marker?.value ?? 0);
  const groups = [...new Set(bars.map((b) => b.group ?? ''))];
  const colour = (g) => PALETTE[groups.indexOf(g ?? '') % PALETTE.length];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>`);
    if (Number.isFinite(b.value)) {
      const w = Math.max(1, (b.value / max) * plotW);
      parts.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${colour(b.group)}"/>`);
      parts.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 14}">${esc(label(b.value))}${esc(unit)}</text>`);
    } else {
      parts.push(`<text x="${labelW + 4}" y="${y + 14}" fill="#888">${esc(b.note ?? 'not measured yet')}</text>`);
    }
  });
  if (marker && Number.isFinite(marker.value)) {
    const x = labelW + (marker.value / max) * plotW;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${height - 18}" stroke="#b53a3a" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${height - 6}" text-anchor="middle" fill="#b53a3a">${esc(marker.label ?? label(marker.value))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * Lines: series = [{ name, points: [[x, y], ...] }]. `logX` spaces x by powers of ten (clients, instances).
 */
export function lineChart({ title, xLabel, yLabel, series, logX = false }) {
  const width = 640;
  const height = 320;
  const left = 70;
  const right = 160;
  const top = 34;
  const bottom = 44;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x) => (logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const xs = all.map(([x]) => tx(x));
  const ys = all.map(([, y]) => y);
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const y1 = ys.length ? Math.max(...ys) * 1.1 : 1;
  const px = (x) => left + ((tx(x) - x0) / (x1 - x0 || 1)) * (width - left - right);
  const py = (y) => height - bottom - (y / (y1 || 1)) * (height - top - bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#444"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + height - bottom) / 2})">${esc(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (y1 * i) / 4;
    parts.push(`<text x="${left - 6}" y="${py(y) + 4}" text-anchor="end" fill="#555">${esc(label(y))}</text>`);
  }
  const xTicks = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  for (const x of xTicks) parts.push(`<text x="${px(x)}" y="${height - bottom + 16}" text-anchor="middle" fill="#555">${esc(label(x))}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const c = PALETTE[i % PALETTE.length];
    if (pts.length > 0) {
      parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    parts.push(`<rect x="${width - right + 12}" y="${top + i * 18}" width="10" height="10" fill="${c}"/>`);
    parts.push(`<text x="${width - right + 26}" y="${top + i * 18 + 9}">${esc(s.name)}${pts.length ? '' : ' (n/a)'}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
