/**
 * A tiny RGB raster and PNG encoder (node:zlib only): enough to draw a line chart without a native
 * canvas dependency on the machines that calibrate.
 */
import { crc32, deflateSync } from 'node:zlib';
import { glyph, GLYPH_HEIGHT, GLYPH_WIDTH } from './font.js';

export type Rgb = readonly [number, number, number];

export class Raster {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, color: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(color, (y * this.width + x) * 3);
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, color);
  }

  /** A line `thickness` pixels wide; `dash` draws on/off runs of that many pixels. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++)
        for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.set(x + dx, y + dy, color);
    }
  }

  circle(cx: number, cy: number, radius: number, color: Rgb, filled = true): void {
    for (let y = -radius; y <= radius; y++) {
      for (let x = -radius; x <= radius; x++) {
        const d = Math.hypot(x, y);
        if (filled ? d <= radius : Math.abs(d - radius) < 0.8) this.set(cx + x, cy + y, color);
      }
    }
  }

  /** Text in the bitmap font, `scale` pixels per font pixel; returns its width. */
  text(x: number, y: number, s: string, color: Rgb, scale = 2): number {
    let cx = x;
    for (const ch of s) {
      const rows = glyph(ch);
      for (let j = 0; j < GLYPH_HEIGHT; j++) {
        for (let i = 0; i < GLYPH_WIDTH; i++)
          if (rows[j]! & (1 << (GLYPH_WIDTH - 1 - i)))
            this.fillRect(cx + i * scale, y + j * scale, scale, scale, color);
      }
      cx += (GLYPH_WIDTH + 1) * scale;
    }
    return cx - x;
  }

  /** Text turned 90° counter-clockwise (reading bottom to top), its baseline at x; for a y-axis label. */
  textUp(x: number, y: number, s: string, color: Rgb, scale = 2): void {
    let cy = y;
    for (const ch of s) {
      const rows = glyph(ch);
      for (let j = 0; j < GLYPH_HEIGHT; j++) {
        for (let i = 0; i < GLYPH_WIDTH; i++)
          if (rows[j]! & (1 << (GLYPH_WIDTH - 1 - i)))
            this.fillRect(x + j * scale, cy - i * scale, scale, scale, color);
      }
      cy -= (GLYPH_WIDTH + 1) * scale;
    }
  }

  /** The image as an 8-bit RGB PNG. */
  toPng(): Buffer {
    const stride = this.width * 3;
    const raw = Buffer.alloc((stride + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (stride + 1)] = 0; // filter: none
      raw.set(this.pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter method, no interlace
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    return Buffer.concat([
      signature,
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(raw)),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

export function textWidth(s: string, scale = 2): number {
  return [...s].length * (GLYPH_WIDTH + 1) * scale;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}
