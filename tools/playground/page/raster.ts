/**
 * A spike raster of one recorded neuron on a canvas: a row per feature (the last axis), a
 * column per position and time step (`position * T + t`, positions being every axis between
 * T and the features, batch first), +1 and -1 in two colours. Every recorded spike is drawn
 * (up to MAX_ROWS features), one opaque cell of `cellW` × `cellH` pixels each, so the picture
 * holds the levels exactly: the browser test reads them back from the pixels.
 */
import { SPIKE_COLOURS } from "../../report/html.js";
import type { Tap } from "../protocol.js";

/** "#rrggbb" → [r, g, b]. */
const rgbOf = (hex: string): readonly [number, number, number] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as unknown as readonly [number, number, number];
/** The report's spike colours (tools/report/html.ts), as the pixels the canvas holds. */
export const POS_COLOUR = rgbOf(SPIKE_COLOURS.pos);
export const NEG_COLOUR = rgbOf(SPIKE_COLOURS.neg);
const BACKGROUND = "#fafafa";
const SEPARATOR = "#e2e5ea";
/** Features drawn at most (a BERT-base FFN has 3072). */
export const MAX_ROWS = 512;
/** Width and height in pixels a raster aims at (cells are whole pixels, so it may come out smaller). */
const TARGET_WIDTH = 560;
const TARGET_HEIGHT = 256;

export interface RasterLayout {
  readonly T: number;
  readonly positions: number;
  readonly features: number;
  /** Features drawn (min(features, MAX_ROWS)). */
  readonly rows: number;
  /** Width and height of one cell, in pixels. */
  readonly cellW: number;
  readonly cellH: number;
}

/** How a tap of shape [T, ...positions, features] is laid out. */
export function rasterLayout(shape: readonly number[]): RasterLayout {
  const T = shape[0] ?? 1;
  const features = shape.length > 1 ? shape[shape.length - 1]! : 1;
  const positions = shape.slice(1, -1).reduce((a, b) => a * b, 1);
  const rows = Math.min(features, MAX_ROWS);
  const cols = positions * T;
  const cellW = Math.max(1, Math.min(8, Math.floor(TARGET_WIDTH / cols)));
  const cellH = Math.max(1, Math.min(4, Math.floor(TARGET_HEIGHT / rows)));
  return { T, positions, features, rows, cellW, cellH };
}

const css = (c: readonly [number, number, number]) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

/** Draws the tap's spikes; returns the canvas (sized to the raster). */
export function drawRaster(tap: Extract<Tap, { kind: "spikes" }>, canvas: HTMLCanvasElement): RasterLayout {
  const L = rasterLayout(tap.shape);
  const cols = L.positions * L.T;
  canvas.width = cols * L.cellW;
  canvas.height = L.rows * L.cellH;
  canvas.dataset.cellW = String(L.cellW);
  canvas.dataset.cellH = String(L.cellH);
  canvas.dataset.shape = tap.shape.join(",");
  canvas.dataset.rows = String(L.rows);
  const g = canvas.getContext("2d");
  if (!g) return L;
  g.fillStyle = BACKGROUND;
  g.fillRect(0, 0, canvas.width, canvas.height);
  // Thin separators between positions, under the cells, only when a cell is wide enough to show one.
  if (L.cellW >= 3 && L.T > 1) {
    g.fillStyle = SEPARATOR;
    for (let p = 1; p < L.positions; p++) g.fillRect(p * L.T * L.cellW, 0, 1, canvas.height);
  }
  const perStep = L.positions * L.features;
  for (const [sign, colour] of [
    [1, POS_COLOUR],
    [-1, NEG_COLOUR],
  ] as const) {
    g.fillStyle = css(colour);
    for (let t = 0; t < L.T; t++)
      for (let p = 0; p < L.positions; p++) {
        const base = t * perStep + p * L.features;
        const x = (p * L.T + t) * L.cellW;
        for (let f = 0; f < L.rows; f++) {
          const v = tap.levels[base + f]!;
          if (Math.sign(v) === sign) g.fillRect(x, f * L.cellH, L.cellW, L.cellH);
        }
      }
  }
  return L;
}
