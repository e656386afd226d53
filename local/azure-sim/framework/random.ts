/**
 * Seeded pseudo-random streams, one per purpose, so that the faults of one kind do not shift when
 * calls of another kind are added: the same seed, estate and calls give the same outcomes.
 */
export type RandomStreams = (stream: string) => number;

export function createRandomStreams(seed: number): RandomStreams {
  const streams = new Map<string, () => number>();
  return (stream) => {
    let next = streams.get(stream);
    if (!next) {
      next = mulberry32(hash(`${seed}:${stream}`));
      streams.set(stream, next);
    }
    return next();
  };
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mulberry32: small, fast and good enough for fault injection; [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
