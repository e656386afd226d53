/** `factory waves pause WAVE [--url URL] [--key KEY] [--json]`: machines hold before their next Azure action. */
import { steerWave } from '../lib/steer';

export const run = (args: string[]): Promise<number> => steerWave('pause', args);
