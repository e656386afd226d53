/**
 * A burst's deliveries cut into phases, to show how the rate and the latency move from the cold
 * start to the end of the burst (events-bench figures).
 */
import { percentile } from '../cli/lib/rehearsal';

/** A webhook POST as the bench timed it: request in and answer out (ms), and the events it carried. */
export interface TimedDelivery {
  start: number;
  end: number;
  events: number;
}

export interface Phase {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** A figure to two decimals, as the benches print them. */
export const round = (n: number) => Math.round(n * 100) / 100;

/**
 * The deliveries cut into `count` phases of about equal numbers of events, in the order they were
 * answered. A phase lasts from the previous phase's last answer (the first request for the first
 * phase) to its own last answer, so the phases' seconds add up to the burst's. Each event's latency
 * is that of the POST that carried it.
 */
export function phases(deliveries: readonly TimedDelivery[], count: number): Phase[] {
  const answered = [...deliveries].sort((a, b) => a.end - b.end);
  const total = answered.reduce((sum, d) => sum + d.events, 0);
  const result: Phase[] = [];
  let from = Math.min(...answered.map((d) => d.start));
  let phase: TimedDelivery[] = [];
  let seen = 0;
  for (const delivery of answered) {
    phase.push(delivery);
    seen += delivery.events;
    if (seen * count < total * (result.length + 1) && delivery !== answered.at(-1)) continue;
    const latencies = phase
      .flatMap((d) => Array<number>(d.events).fill(d.end - d.start))
      .sort((a, b) => a - b);
    const seconds = (delivery.end - from) / 1000;
    result.push({
      events: latencies.length,
      seconds: round(seconds),
      eventsPerSecond: round(latencies.length / seconds),
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? 0),
      },
    });
    from = delivery.end;
    phase = [];
  }
  return result;
}
