/** `factory waves resume WAVE [--url URL] [--key KEY] [--json]`: a paused wave carries on. */
import { steerWave } from '../lib/steer';

export const run = (args: string[]): Promise<number> => steerWave('resume', args);
