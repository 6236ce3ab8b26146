/** Small, dependency-free SVG charts: lines over time with shaded intervals, bars, histograms and bar panels. */

const WIDTH = 720;
const HEIGHT = 340;
const MARGIN = { top: 44, right: 24, bottom: 84, left: 72 };
const COLORS = ["#2f6fb0", "#d0632a", "#3a9a5b", "#8e5bb8", "#b8445a", "#6b6b6b"];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A number with at most 3 significant decimals, thousands as k and millions as M. */
export function short(value: number): string {
  const abs = Math.abs(value);
  const trim = (x: number) => String(Number(x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)));
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  return trim(value);
}

/** Round tick values covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1]! < max) out.push(Number((out[out.length - 1]! + step).toFixed(10)));
  return out;
}

function frame(title: string, subtitle: string | undefined, body: string, width = WIDTH, height = HEIGHT): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="600" fill="#222">${xml(title)}</text>`,
    subtitle
      ? `<text x="${MARGIN.left}" y="36" font-size="11" fill="#666">${xml(subtitle.length > 110 ? `${subtitle.slice(0, 109)}…` : subtitle)}</text>`
      : "",
    body,
    "</svg>",
    "",
  ].join("\n");
}

function axes(
  plot: { x: number; y: number; w: number; h: number },
  yTicks: number[],
  yMax: number,
  yLabel: string,
): string {
  const out: string[] = [];
  for (const t of yTicks) {
    const y = plot.y + plot.h - (t / yMax) * plot.h;
    out.push(
      `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e4e4e4"/>`,
    );
    out.push(
      `<text x="${plot.x - 6}" y="${(y + 4).toFixed(1)}" font-size="11" fill="#555" text-anchor="end">${short(t)}</text>`,
    );
  }
  out.push(`<line x1="${plot.x}" x2="${plot.x}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="#999"/>`);
  out.push(
    `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h}" stroke="#999"/>`,
  );
  const cy = plot.y + plot.h / 2;
  out.push(
    `<text x="16" y="${cy}" font-size="11" fill="#444" text-anchor="middle" transform="rotate(-90 16 ${cy})">${xml(yLabel)}</text>`,
  );
  return out.join("\n");
}

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface Band {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

/** Lines over x (time in hours, say), with shaded bands (partitions, outages) behind them. */
export function lineChart(init: {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  bands?: readonly Band[];
  xMax?: number;
}): string {
  const plot = {
    x: MARGIN.left,
    y: MARGIN.top,
    w: WIDTH - MARGIN.left - MARGIN.right,
    h: HEIGHT - MARGIN.top - MARGIN.bottom,
  };
  const xs = init.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = init.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = init.xMax ?? Math.max(1, ...xs);
  const yTicks = ticks(Math.max(0, ...ys));
  const yMax = yTicks[yTicks.length - 1]!;
  const X = (x: number) => plot.x + (x / xMax) * plot.w;
  const Y = (y: number) => plot.y + plot.h - (y / yMax) * plot.h;
  const out: string[] = [];
  for (const [i, band] of (init.bands ?? []).entries()) {
    const x1 = X(Math.max(0, band.from));
    const x2 = X(Math.min(xMax, band.to));
    out.push(
      `<rect x="${x1.toFixed(1)}" y="${plot.y}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${plot.h}" fill="#f3d9a4" opacity="0.45"/>`,
    );
    out.push(
      `<text x="${(x1 + 3).toFixed(1)}" y="${plot.y + 12 + (i % 3) * 12}" font-size="10" fill="#8a5a00">${xml(band.label)}</text>`,
    );
  }
  out.push(axes(plot, yTicks, yMax, init.yLabel));
  for (const t of ticks(xMax, 8)) {
    if (t > xMax) continue;
    out.push(
      `<text x="${X(t).toFixed(1)}" y="${plot.y + plot.h + 16}" font-size="11" fill="#555" text-anchor="middle">${short(t)}</text>`,
    );
  }
  out.push(
    `<text x="${plot.x + plot.w / 2}" y="${HEIGHT - 30}" font-size="11" fill="#444" text-anchor="middle">${xml(init.xLabel)}</text>`,
  );
  for (const [i, s] of init.series.entries()) {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
    if (d.length > 0) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    const lx = plot.x + 8 + i * 150;
    out.push(`<rect x="${lx}" y="${HEIGHT - 18}" width="12" height="3" fill="${color}"/>`);
    out.push(`<text x="${lx + 16}" y="${HEIGHT - 13}" font-size="11" fill="#333">${xml(s.name)}</text>`);
  }
  return frame(init.title, init.subtitle, out.join("\n"));
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Shown above the bar instead of the value. */
  readonly note?: string;
  readonly color?: string;
}

function barsBody(
  plot: { x: number; y: number; w: number; h: number },
  bars: readonly Bar[],
  yLabel: string,
  marker?: { index: number; label: string },
): string {
  // Headroom above the tallest bar for its label.
  const yTicks = ticks(Math.max(0, ...bars.map((b) => b.value)) * 1.12);
  const yMax = yTicks[yTicks.length - 1]!;
  const out = [axes(plot, yTicks, yMax, yLabel)];
  const slot = plot.w / Math.max(1, bars.length);
  const width = Math.max(2, Math.min(60, slot * 0.7));
  for (const [i, bar] of bars.entries()) {
    const h = (bar.value / yMax) * plot.h;
    const x = plot.x + slot * i + (slot - width) / 2;
    const y = plot.y + plot.h - h;
    out.push(
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${width.toFixed(1)}" height="${h.toFixed(1)}" fill="${bar.color ?? COLORS[0]}"/>`,
    );
    out.push(
      `<text x="${(x + width / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" font-size="10" fill="#333" text-anchor="middle">${xml(bar.note ?? short(bar.value))}</text>`,
    );
    const label = bar.label.length > 22 ? `${bar.label.slice(0, 21)}…` : bar.label;
    const lx = x + width / 2;
    const ly = plot.y + plot.h + 14;
    const rotate =
      bars.length > 4 ? ` transform="rotate(-30 ${lx.toFixed(1)} ${ly})" text-anchor="end"` : ' text-anchor="middle"';
    out.push(`<text x="${lx.toFixed(1)}" y="${ly}" font-size="10" fill="#444"${rotate}>${xml(label)}</text>`);
  }
  if (marker !== undefined) {
    const x = plot.x + slot * marker.index;
    out.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="#b8445a" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${(x + 4).toFixed(1)}" y="${plot.y + 10}" font-size="10" fill="#b8445a">${xml(marker.label)}</text>`,
    );
  }
  return out.join("\n");
}

/** One bar per label. */
export function barChart(init: { title: string; subtitle?: string; yLabel: string; bars: readonly Bar[] }): string {
  const plot = {
    x: MARGIN.left,
    y: MARGIN.top,
    w: WIDTH - MARGIN.left - MARGIN.right,
    h: HEIGHT - MARGIN.top - MARGIN.bottom,
  };
  return frame(init.title, init.subtitle, barsBody(plot, init.bars, init.yLabel));
}

/** Counts of values in equal bins of `binWidth`, with an optional marker line at `markerAt` (a pledge window). */
export function histogram(init: {
  title: string;
  subtitle?: string;
  xLabel: string;
  values: readonly number[];
  binWidth: number;
  markerAt?: number;
  markerLabel?: string;
}): string {
  const plot = {
    x: MARGIN.left,
    y: MARGIN.top,
    w: WIDTH - MARGIN.left - MARGIN.right,
    h: HEIGHT - MARGIN.top - MARGIN.bottom,
  };
  const top = Math.max(init.markerAt ?? 0, ...init.values, init.binWidth);
  const bins = Math.max(1, Math.ceil(top / init.binWidth));
  const counts = new Array<number>(bins).fill(0);
  for (const v of init.values) counts[Math.min(bins - 1, Math.floor(v / init.binWidth))]!++;
  const bars = counts.map((count, i) => ({
    label: `${short(i * init.binWidth)}–${short((i + 1) * init.binWidth)}`,
    value: count,
  }));
  const marker =
    init.markerAt === undefined ? undefined : { index: init.markerAt / init.binWidth, label: init.markerLabel ?? "" };
  const body = barsBody(plot, bars, "count", marker);
  const x = `<text x="${plot.x + plot.w / 2}" y="${HEIGHT - 8}" font-size="11" fill="#444" text-anchor="middle">${xml(init.xLabel)}</text>`;
  return frame(init.title, init.subtitle, `${body}\n${x}`);
}

/** Side by side bar panels, one per metric, each with a bar per variant: for comparing runs. */
export function barPanels(init: {
  title: string;
  subtitle?: string;
  panels: readonly { title: string; bars: readonly Bar[] }[];
  /** Panels per row (3 unless given). */
  columns?: number;
}): string {
  const columns = Math.min(init.columns ?? 3, init.panels.length);
  const rows = Math.ceil(init.panels.length / columns);
  const panelW = 300;
  const panelH = 230;
  const width = columns * panelW + 20;
  const height = rows * panelH + 50;
  const out: string[] = [];
  for (const [i, panel] of init.panels.entries()) {
    const px = 10 + (i % columns) * panelW;
    const py = 44 + Math.floor(i / columns) * panelH;
    const plot = { x: px + 62, y: py + 26, w: panelW - 80, h: panelH - 80 };
    out.push(
      `<text x="${px + 62}" y="${py + 12}" font-size="12" font-weight="600" fill="#333">${xml(panel.title)}</text>`,
    );
    out.push(
      barsBody(
        plot,
        panel.bars.map((b, j) => ({ ...b, color: b.color ?? COLORS[j % COLORS.length]! })),
        "",
      ),
    );
  }
  return frame(init.title, init.subtitle, out.join("\n"), width, height);
}
