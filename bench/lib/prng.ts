/** Seeded pseudo-random numbers for deterministic corpora (never for anything secret). */

/** The emulator's mulberry32 generator: floats in [0, 1), the same seed always gives the same sequence. */
export { createPrng } from '../../src/emulator/faults.js';

/** An integer in [min, max] (inclusive) drawn from `next`. */
export function randomInt(next: () => number, min: number, max: number): number {
  return min + Math.floor(next() * (max - min + 1));
}

/** A size between min and max whose logarithm is uniform: many small files, a few large ones. */
export function logUniformSize(next: () => number, min: number, max: number): number {
  const lo = Math.log(min);
  const hi = Math.log(max);
  return Math.min(max, Math.max(min, Math.round(Math.exp(lo + next() * (hi - lo)))));
}

/** Fills a buffer with seeded bytes (xorshift32, 4 bytes a step: fast enough for megabytes). */
export function seededBytes(seed: number, length: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, length);
}

/** Fisher-Yates shuffle of a copy, driven by `next`. */
export function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
