/** The training-curve picture: loss, and top-1/top-5 validation error, per epoch (SVG). */

/** One epoch of history. */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  valTop1Error: number;
  valTop5Error: number;
}

const WIDTH = 900;
const HEIGHT = 360;
const PANEL = { top: 40, bottom: 300, width: 360 };

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function panel(left: number, title: string, series: Array<{ name: string; colour: string; values: number[]; dashed?: boolean }>, epochs: number[], yMax: number, yLabel: (v: number) => string): string {
  const x = (i: number) => left + (epochs.length <= 1 ? PANEL.width / 2 : (i / (epochs.length - 1)) * PANEL.width);
  const y = (v: number) => PANEL.bottom - (Math.min(Math.max(v, 0), yMax) / yMax) * (PANEL.bottom - PANEL.top);
  const parts: string[] = [];
  parts.push(`<text x="${left}" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`);
  parts.push(`<rect x="${left}" y="${PANEL.top}" width="${PANEL.width}" height="${PANEL.bottom - PANEL.top}" fill="none" stroke="#999"/>`);
  for (let tick = 0; tick <= 4; tick++) {
    const value = (yMax * tick) / 4;
    parts.push(`<line x1="${left}" x2="${left + PANEL.width}" y1="${y(value)}" y2="${y(value)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(value) + 4}" font-size="11" text-anchor="end">${escape(yLabel(value))}</text>`);
  }
  const step = Math.max(1, Math.ceil(epochs.length / 10));
  epochs.forEach((epoch, i) => {
    if (i % step === 0 || i === epochs.length - 1) parts.push(`<text x="${x(i)}" y="${PANEL.bottom + 16}" font-size="11" text-anchor="middle">${epoch}</text>`);
  });
  parts.push(`<text x="${left + PANEL.width / 2}" y="${PANEL.bottom + 34}" font-size="12" text-anchor="middle">epoch</text>`);
  // Legend in the header row, right of the title, so it never covers a curve.
  let legendX = left + 150;
  series.forEach((line) => {
    const points = line.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null)).filter(Boolean).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${line.colour}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!line.dashed) {
      line.values.forEach((v, i) => {
        if (Number.isFinite(v)) parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${line.colour}"/>`);
      });
    }
    parts.push(`<rect x="${legendX}" y="17" width="12" height="3" fill="${line.colour}"/>`);
    parts.push(`<text x="${legendX + 16}" y="22" font-size="11">${escape(line.name)}</text>`);
    legendX += 22 + line.name.length * 6.2;
  });
  return parts.join('\n');
}

/** An SVG with two panels: training loss, and validation top-1/top-5 error (with chance level). */
export function trainingCurveSvg(history: EpochPoint[], options: { title?: string; chanceTop1?: number } = {}): string {
  const epochs = history.map((point) => point.epoch);
  const losses = history.map((point) => point.trainLoss);
  const lossMax = Math.max(1e-6, ...losses.filter(Number.isFinite)) * 1.1;
  const errorSeries: Array<{ name: string; colour: string; values: number[]; dashed?: boolean }> = [
    { name: 'top-1', colour: '#d62728', values: history.map((point) => point.valTop1Error) },
    { name: 'top-5', colour: '#ff7f0e', values: history.map((point) => point.valTop5Error) },
  ];
  if (options.chanceTop1 !== undefined) errorSeries.push({ name: 'chance', colour: '#999', values: history.map(() => options.chanceTop1!), dashed: true });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    options.title ? `<text x="${WIDTH / 2}" y="${HEIGHT - 6}" font-size="12" text-anchor="middle" fill="#555">${escape(options.title)}</text>` : '',
    panel(60, 'train loss', [{ name: 'mean over the epoch', colour: '#1f77b4', values: losses }], epochs, lossMax, (v) => v.toFixed(2)),
    panel(510, 'val error', errorSeries, epochs, 1, (v) => `${Math.round(v * 100)}%`),
    '</svg>',
  ].join('\n');
}
