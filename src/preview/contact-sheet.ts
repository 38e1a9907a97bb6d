/**
 * Contact sheets: one PNG of a batch's patches as the model sees them (normalisation undone,
 * PCA lighting kept), each captioned with its class, file and the augmentation drawn for it.
 *
 * Pixels are painted in JavaScript; captions are drawn with sharp's `text` input (Pango), which
 * is a libvips *create* operation, not a loader, so it works in a process whose loaders
 * `configureSharp()` has restricted (an SVG overlay would be refused there). Everything is
 * composited as raw pixels, in one `sharp({ create }).composite([...]).png()` call.
 */
import { basename } from 'node:path';
import sharp from 'sharp';
import type { CreateText, OutputInfo, OverlayOptions } from 'sharp';
import type { Dataset } from '../dataset/types.js';
import type { Batch } from '../loader/batch.js';
import type { Mode } from '../options.js';
import { checkBoolean, checkInteger, checkRgb, invalid } from '../validate.js';
import { sampleParams, type Plan } from '../pipeline/plan.js';

/** Height of the header strip (mode, seed, epoch, dataset), px. */
export const HEADER_HEIGHT = 30;
/** train / centre: height of the caption strip under each tile (4 lines of 14 px, 4 px padding), px. */
export const CAPTION_HEIGHT = 60;
/** ten-crop: height of the caption line above each row (class, file), px. */
export const ROW_CAPTION_HEIGHT = 20;
/** ten-crop: height of the label strip under each tile (`TL`, `C flip`, ...), px. */
export const LABEL_HEIGHT = 16;

/** Names of the ten-crop patches, in the loader's order. */
export const TEN_CROP_LABELS = ['TL', 'TR', 'BL', 'BR', 'C', 'TL flip', 'TR flip', 'BL flip', 'BR flip', 'C flip'] as const;

/** Options of {@link contactSheet}. */
export interface ContactSheetOptions {
  /**
   * Side of a tile's picture, px. Patches smaller than this are upscaled with nearest
   * neighbour (so a 28 px crop stays visible); larger patches keep their own size.
   * @default 160
   */
  tile?: number;
  /** Space between tiles and around the edge, px. @default 8 */
  gap?: number;
  /** Sheet colour, R, G, B 0-255. @default [30, 30, 34] */
  background?: readonly [number, number, number];
  /** Draw captions and the header. `false` gives the same geometry with empty strips. @default true */
  captions?: boolean;
  /** Dataset name in the header. @default the last folder of `dataset.root`, else 'dataset' */
  name?: string;
}

/** What {@link contactSheet} made. */
export interface ContactSheet {
  /** The PNG file's bytes (RGB, 8 bits). */
  png: Buffer;
  width: number;
  height: number;
  /** Patches drawn: images in train/centre mode, 10 x images in ten-crop mode. */
  tiles: number;
  columns: number;
  rows: number;
  /** Whether captions were drawn; `false` when asked not to or when text rendering failed. */
  captions: boolean;
  /** Why captions are missing although they were asked for (no Pango, no fonts), else null. */
  captionError: string | null;
}

/** Where everything goes on a sheet. All numbers in px. */
export interface ContactSheetLayout {
  width: number;
  height: number;
  columns: number;
  rows: number;
  tiles: number;
  /** Side of a tile's picture: `max(crop, tile)`. */
  side: number;
  gap: number;
  /** Strip above each tile's picture (ten-crop row caption on the row's first tile; 0 otherwise). */
  above: number;
  /** Strip below each tile's picture (caption or patch label). */
  below: number;
  /** Top-left corner of tile `t`'s picture. */
  tileOrigin(t: number): { left: number; top: number };
}

/**
 * The geometry of a sheet of `images` images. With `side = max(crop, tile)`:
 *
 * - train / centre: `columns = ceil(sqrt(images))`, `rows = ceil(images / columns)`,
 *   `width = columns * (side + gap) + gap`, `height = 30 + rows * (side + 60 + gap) + gap`;
 * - ten-crop: `columns = 10`, `rows = images`,
 *   `width = 10 * (side + gap) + gap`, `height = 30 + rows * (20 + side + 16 + gap) + gap`.
 *
 * (30 = {@link HEADER_HEIGHT}, 60 = {@link CAPTION_HEIGHT}, 20 = {@link ROW_CAPTION_HEIGHT},
 * 16 = {@link LABEL_HEIGHT}.)
 * @default tile 160, gap 8
 * @throws {TypeError|RangeError} a size is not a whole number in range
 * @example
 * contactSheetLayout('train', 16, 224).width; // 4 * (224 + 8) + 8 = 936
 */
export function contactSheetLayout(mode: Mode, images: number, crop: number, options: Pick<ContactSheetOptions, 'tile' | 'gap'> = {}): ContactSheetLayout {
  checkInteger('images', images, 1, 65536);
  checkInteger('crop', crop, 1, 4096);
  const tile = options.tile === undefined ? 160 : checkInteger('options.tile', options.tile, 1, 4096);
  const gap = options.gap === undefined ? 8 : checkInteger('options.gap', options.gap, 0, 256);
  const side = Math.max(crop, tile);
  const tenCrop = mode === 'ten-crop';
  const columns = tenCrop ? 10 : Math.ceil(Math.sqrt(images));
  const rows = tenCrop ? images : Math.ceil(images / columns);
  const above = tenCrop ? ROW_CAPTION_HEIGHT : 0;
  const below = tenCrop ? LABEL_HEIGHT : CAPTION_HEIGHT;
  const cellHeight = above + side + below;
  return {
    width: columns * (side + gap) + gap,
    height: HEADER_HEIGHT + rows * (cellHeight + gap) + gap,
    columns,
    rows,
    tiles: tenCrop ? images * 10 : images,
    side,
    gap,
    above,
    below,
    tileOrigin(t) {
      const column = t % columns;
      const row = Math.floor(t / columns);
      return { left: gap + column * (side + gap), top: HEADER_HEIGHT + gap + row * (cellHeight + gap) + above };
    },
  };
}

/** What {@link contactSheet} needs from a loader: `createLoader(...)` returns one. */
export interface ContactSheetSource {
  readonly plan: Readonly<Plan>;
  readonly dataset: Dataset;
}

/** How captions are rendered: sharp's text (Pango); replaced in tests to simulate a machine without fonts. */
type RenderText = (options: CreateText) => Promise<{ data: Buffer; info: OutputInfo }>;

/**
 * Draws a batch as a contact sheet PNG: every patch as the model sees it (normalisation undone,
 * `pixel = clamp(round((x * std + mean) * 255))`; without normalisation `x * 255`; so the PCA
 * lighting shift stays visible), with its class, file name and augmentation (crop offset, flip,
 * lighting alpha, from `sampleParams`). Train / centre batches give a near-square grid;
 * ten-crop batches one row of 10 patches per image. The size is {@link contactSheetLayout}'s.
 *
 * If text cannot be rendered (no Pango, no fonts), the sheet is still drawn, without captions,
 * and `captionError` says why.
 *
 * The batch is only read, during the call; copy-free, so call it before asking the loader for
 * the next batch (or pass `batch.clone()`).
 * @default options.tile 160, options.gap 8, options.background [30, 30, 34], options.captions true
 * @throws {TypeError|RangeError} an option is invalid, or the batch does not fit the loader's plan
 * @example
 * const loader = createLoader(await imageFolder('data/train'), { batchSize: 16, seed: 1 });
 * for await (const batch of loader.epoch(0)) {
 *   const sheet = await contactSheet(loader, batch);
 *   await writeFile('grid.png', sheet.png); // sheet.width x sheet.height px
 *   break;
 * }
 * await loader.close();
 */
export function contactSheet(source: ContactSheetSource, batch: Batch, options: ContactSheetOptions = {}): Promise<ContactSheet> {
  return drawContactSheet(source, batch, options, defaultRenderText);
}

/** {@link contactSheet} with the caption renderer given (for tests). Internal: not exported from the package. */
export async function drawContactSheet(
  source: ContactSheetSource,
  batch: Batch,
  options: ContactSheetOptions,
  renderText: RenderText,
): Promise<ContactSheet> {
  const { plan } = source;
  const background = options.background === undefined ? ([30, 30, 34] as const) : checkRgb('options.background', options.background);
  const wantCaptions = options.captions === undefined ? true : checkBoolean('options.captions', options.captions);
  if (options.name !== undefined && typeof options.name !== 'string') invalid('options.name', 'string', options.name);
  const images = checkBatch(plan, batch);
  const layout = contactSheetLayout(plan.mode, images, plan.crop, options);
  const { side } = layout;

  const overlays: OverlayOptions[] = [];
  const mapping = nearestMap(plan.crop, side);
  for (let t = 0; t < layout.tiles; t++) {
    const { left, top } = layout.tileOrigin(t);
    overlays.push({ input: tilePixels(plan, batch, t, mapping), raw: { width: side, height: side, channels: 3 }, left, top });
  }

  let captionError: string | null = null;
  if (wantCaptions) {
    const text = new TextPainter(renderText);
    try {
      await text.probe();
      overlays.push(...(await captionOverlays(text, source, batch, layout, options.name)));
    } catch (error) {
      captionError = error instanceof Error ? error.message : String(error);
    }
  }

  const png = await sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: { r: background[0], g: background[1], b: background[2] } } })
    .composite(overlays)
    .removeAlpha()
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  return {
    png,
    width: layout.width,
    height: layout.height,
    tiles: layout.tiles,
    columns: layout.columns,
    rows: layout.rows,
    captions: wantCaptions && captionError === null,
    captionError,
  };
}

/** Images in the batch, after checking it has the plan's shape. */
function checkBatch(plan: Readonly<Plan>, batch: Batch): number {
  if (typeof batch !== 'object' || batch === null || !ArrayBuffer.isView(batch.images)) invalid('batch', 'Batch from loader.epoch()', batch);
  const per = plan.patchesPerImage;
  const images = batch.indices.length;
  const expected = images * per * plan.elementsPerPatch;
  if (batch.patchesPerImage !== per || batch.images.length !== expected || images === 0) {
    throw new RangeError(`Expected a batch of ${plan.crop}x${plan.crop} patches, ${per} per image (the loader's plan), but received shape [${batch.shape.join(', ')}] with ${batch.patchesPerImage} per image and ${images} images`);
  }
  return images;
}

/** For each output coordinate, the source coordinate: centres of output pixels sampled, so mirrors stay mirrors. */
function nearestMap(crop: number, side: number): Int32Array {
  const map = new Int32Array(side);
  for (let u = 0; u < side; u++) map[u] = Math.min(crop - 1, Math.floor(((u + 0.5) * crop) / side));
  return map;
}

/** Patch `t` of the batch, de-normalised to RGB bytes and upscaled to `side x side`. */
function tilePixels(plan: Readonly<Plan>, batch: Batch, t: number, mapping: Int32Array): Buffer {
  const { crop } = plan;
  const area = crop * crop;
  const base = t * plan.elementsPerPatch;
  const image = Math.floor(t / plan.patchesPerImage);
  const mean = plan.normalize ? plan.normalize.mean : [0, 0, 0];
  const std = plan.normalize ? plan.normalize.std : [1, 1, 1];
  // uint8 batches leave lighting and normalisation to `offsets`: apply them so both dtypes look the same.
  const offsets = batch.images instanceof Uint8Array ? batch.affine.subarray(image * 6, image * 6 + 6) : null;
  const patch = new Uint8Array(area * 3);
  for (let c = 0; c < 3; c++) {
    const m = mean[c]!;
    const s = std[c]!;
    for (let p = 0; p < area; p++) {
      const at = plan.layout === 'NHWC' ? base + p * 3 + c : base + c * area + p;
      let x = batch.images[at]!;
      if (offsets) x = x * offsets[c]! + offsets[3 + c]!;
      const value = Math.round((x * s + m) * 255);
      patch[p * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
  }
  const side = mapping.length;
  const tile = Buffer.allocUnsafe(side * side * 3);
  for (let v = 0; v < side; v++) {
    const row = mapping[v]! * crop;
    for (let u = 0; u < side; u++) {
      const from = (row + mapping[u]!) * 3;
      const to = (v * side + u) * 3;
      tile[to] = patch[from]!;
      tile[to + 1] = patch[from + 1]!;
      tile[to + 2] = patch[from + 2]!;
    }
  }
  return tile;
}

const FONT = 'sans';
const LINE_HEIGHT = 14;
const COLOURS = { title: '#f2f2f2', text: '#e6e6e6', dim: '#a3a3ad', accent: '#9fd0ff', flip: '#ffc27a' };

function defaultRenderText(options: CreateText): Promise<{ data: Buffer; info: OutputInfo }> {
  return sharp({ text: options }).raw().toBuffer({ resolveWithObject: true });
}

function escapeMarkup(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** `abcdefghij` -> `abc…hij`: keeps both ends of a file name (its number and extension). */
function ellipsizeMiddle(text: string, length: number): string {
  if (text.length <= length) return text;
  if (length <= 1) return '…';
  const head = Math.ceil((length - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (length - 1 - head))}`;
}

interface RenderedText {
  data: Buffer;
  width: number;
  height: number;
}

/** Single lines of Pango markup as raw RGBA, fitted into a box (shortened, then clipped). */
class TextPainter {
  #render: RenderText;
  #cache = new Map<string, RenderedText>();

  constructor(render: RenderText) {
    this.#render = render;
  }

  /**
   * Fails when text cannot be drawn. Pango without any font still "renders", as identical
   * missing-glyph boxes: two different strings giving the same pixels means no usable font.
   */
  async probe(): Promise<void> {
    const one = await this.#raw(`<span foreground="#ffffff">Ag0</span>`, 200);
    const two = await this.#raw(`<span foreground="#ffffff">xW7</span>`, 200);
    if (one.data.equals(two.data)) throw new Error('no usable font: Pango draws every glyph as the same missing-glyph box');
  }

  /**
   * Renders `markup(value)` in at most `width x height` px; when too wide, `value` is shortened
   * in the middle (a few tries), and whatever still overflows is clipped.
   */
  async line(markup: (value: string) => string, value: string, width: number, height: number): Promise<RenderedText> {
    let shown = value;
    let rendered = await this.#raw(markup(escapeMarkup(shown)), width);
    for (let attempt = 0; attempt < 4 && rendered.width > width && shown.length > 1; attempt++) {
      const length = Math.max(1, Math.min(shown.length - 1, Math.floor((shown.length * width) / rendered.width) - 1));
      shown = ellipsizeMiddle(value, length);
      rendered = await this.#raw(markup(escapeMarkup(shown)), width);
    }
    return clip(rendered, width, height);
  }

  async #raw(markup: string, width: number): Promise<RenderedText> {
    const key = `${width}\u0000${markup}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const { data, info } = await this.#render({ text: markup, font: `${FONT} 11`, dpi: 72, rgba: true, wrap: 'none', width: Math.max(1, width) });
    if (info.channels !== 4) throw new Error(`text rendering gave ${info.channels} channels, expected RGBA`);
    const rendered = { data, width: info.width, height: info.height };
    this.#cache.set(key, rendered);
    return rendered;
  }
}

function clip(text: RenderedText, width: number, height: number): RenderedText {
  if (text.width <= width && text.height <= height) return text;
  const w = Math.max(1, Math.min(text.width, width));
  const h = Math.max(1, Math.min(text.height, height));
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) text.data.copy(data, y * w * 4, y * text.width * 4, y * text.width * 4 + w * 4);
  return { data, width: w, height: h };
}

function textOverlay(text: RenderedText, left: number, top: number): OverlayOptions {
  return { input: text.data, raw: { width: text.width, height: text.height, channels: 4 }, left, top };
}

/** `+0.031`, `−0.112` (a true minus sign); values that round to zero print as `+0.000`. */
function signed(value: number, decimals: number): string {
  const magnitude = Math.abs(value).toFixed(decimals);
  return `${value < 0 && Number(magnitude) !== 0 ? '−' : '+'}${magnitude}`;
}

async function captionOverlays(
  text: TextPainter,
  source: ContactSheetSource,
  batch: Batch,
  layout: ContactSheetLayout,
  name: string | undefined,
): Promise<OverlayOptions[]> {
  const { plan, dataset } = source;
  const overlays: OverlayOptions[] = [];
  const { side, gap, width } = layout;
  const span = (colour: string, bold = false) => (value: string) => `<span foreground="${colour}"${bold ? ' weight="bold"' : ''}>${value}</span>`;

  const title = name ?? (dataset.root ? basename(dataset.root.replace(/[\\/]+$/, '')) : 'dataset');
  const header = `${plan.mode} · seed ${plan.seed} · epoch ${batch.epoch} · rescale ${plan.rescale} · crop ${plan.crop} · ${batch.indices.length} images`;
  const headerLine = await text.line((value) => `${span(COLOURS.title, true)(value)}  ${span(COLOURS.dim)(escapeMarkup(header))}`, title, width - 2 * gap, HEADER_HEIGHT);
  overlays.push(textOverlay(headerLine, gap, Math.max(0, Math.floor((HEADER_HEIGHT + gap - headerLine.height) / 2))));

  for (let k = 0; k < batch.indices.length; k++) {
    const index = batch.indices[k]!;
    const sample = dataset.samples[index]!;
    const className = dataset.classes[sample.label] ?? String(sample.label);
    const file = basename(sample.path);
    if (plan.mode === 'ten-crop') {
      const { left, top } = layout.tileOrigin(k * 10);
      const rowCaption = await text.line((value) => `${span(COLOURS.text, true)(escapeMarkup(className))}  ${span(COLOURS.dim)(value)}`, file, width - 2 * gap, ROW_CAPTION_HEIGHT);
      overlays.push(textOverlay(rowCaption, left, top - ROW_CAPTION_HEIGHT + 2));
      for (let p = 0; p < 10; p++) {
        const origin = layout.tileOrigin(k * 10 + p);
        const label = TEN_CROP_LABELS[p]!;
        const rendered = await text.line((value) => (p < 5 ? span(COLOURS.accent)(value) : span(COLOURS.flip)(value)), label, side, LABEL_HEIGHT);
        overlays.push(textOverlay(rendered, origin.left, origin.top + side + 1));
      }
      continue;
    }
    const { left, top } = layout.tileOrigin(k);
    const params = sampleParams(plan, batch.epoch, index);
    const patch = params.patches[0]!;
    const flip = patch.flip ? span(COLOURS.flip)('flip') : span(COLOURS.dim)('no flip');
    const decimals = side >= 150 ? 3 : 2;
    const lighting = params.lighting ? `α ${params.lighting.alpha.map((a) => signed(a, decimals)).join(' ')}` : 'no lighting';
    const lines = [
      await text.line(span(COLOURS.text, true), className, side, LINE_HEIGHT),
      await text.line(span(COLOURS.dim), file, side, LINE_HEIGHT),
      await text.line((value) => `${span(COLOURS.accent)(value)}  ${flip}`, `crop ${patch.x},${patch.y}`, side, LINE_HEIGHT),
      await text.line(span(COLOURS.dim), lighting, side, LINE_HEIGHT),
    ];
    lines.forEach((line, i) => overlays.push(textOverlay(line, left, top + side + 3 + i * LINE_HEIGHT)));
  }
  return overlays;
}
