import { fmt } from './stats.mjs';

/**
 * A table is { title, columns: [{ key, label, digits?, align? }], rows: [object] }. The same shape prints to
 * the console and renders to Markdown, so the terminal and REPORT.md never disagree.
 */
function cells(table) {
  const header = table.columns.map((c) => c.label);
  const body = table.rows.map((row) => table.columns.map((c) => cell(row[c.key], c)));
  return { header, body };
}

function cell(value, column) {
  if (typeof value === 'number') return fmt(value, column.digits ?? (Number.isInteger(value) ? 0 : 2));
  return fmt(value);
}

export function renderText(table) {
  const { header, body } = cells(table);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const isText = table.columns.map((c) => c.align === 'left' || table.rows.every((r) => typeof r[c.key] !== 'number'));
  const line = (r) => r.map((v, i) => (isText[i] ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [`== ${table.title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function renderMarkdown(table) {
  const { header, body } = cells(table);
  const isText = table.columns.map((c) => c.align === 'left' || table.rows.every((r) => typeof r[c.key] !== 'number'));
  const esc = (v) => v.replaceAll('|', '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${isText.map((t) => (t ? ':--' : '--:')).join(' | ')} |`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
