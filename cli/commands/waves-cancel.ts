/**
 * `factory waves cancel WAVE [--url URL] [--key KEY] [--json]`: asks the wave to stop. Machines not
 * yet migrated are cancelled and what was created for them in Azure is cleaned up.
 */
import { steerWave } from '../lib/steer';

export const run = (args: string[]): Promise<number> => steerWave('cancel', args);
