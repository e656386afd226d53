import { describe, expect, it } from 'vitest';
import { phases } from '../../bench/phases';

describe('bench phases', () => {
  it('cuts the deliveries by answered events, each phase timed from the previous answer', () => {
    // Two slow POSTs of 5 events, then six fast ones; answers in a different order than requests.
    const deliveries = [
      { start: 0, end: 1_000, events: 5 },
      { start: 10, end: 900, events: 5 },
      ...Array.from({ length: 6 }, (_, i) => ({ start: 1_000 + i * 100, end: 1_050 + i * 100, events: 5 })),
    ];
    const [first, second] = phases(deliveries, 2);
    expect(first).toEqual({
      events: 20,
      seconds: 1.15,
      eventsPerSecond: 17.39,
      latencyMs: { p50: 50, p99: 1_000, max: 1_000 },
    });
    expect(second).toEqual({
      events: 20,
      seconds: 0.4,
      eventsPerSecond: 50,
      latencyMs: { p50: 50, p99: 50, max: 50 },
    });
  });

  it('puts every delivery into some phase when the events do not divide evenly', () => {
    const deliveries = Array.from({ length: 7 }, (_, i) => ({
      start: i * 1_000,
      end: (i + 1) * 1_000,
      events: 3,
    }));
    const cut = phases(deliveries, 4);
    expect(cut.map((p) => p.events)).toEqual([6, 6, 6, 3]);
    expect(cut.reduce((sum, p) => sum + p.seconds, 0)).toBe(7);
  });
});
