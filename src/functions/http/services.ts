/**
 * What the functions of this app share: the settings (read once), the Azure gateways, the journal
 * and the activities built from them. Built on first use, once per process; a failed build (a
 * setting missing, storage unreachable) is not cached, so the next invocation tries again.
 */
import { type Activities, createActivities } from '../../activities';
import { createGateways } from '../../azure';
import type { AzureGateways } from '../../azure/types';
import { createCredential, type FactoryConfig, loadConfig } from '../../config';
import { createJournal } from '../../store';
import type { Journal } from '../../store/types';

export interface Services {
  config: FactoryConfig;
  azure: AzureGateways;
  journal: Journal;
  activities: Activities;
}

let building: Promise<Services> | undefined;

async function build(): Promise<Services> {
  const config = loadConfig();
  const credential = createCredential(config);
  const azure = createGateways(config, credential);
  const journal = await createJournal(config.journal, credential);
  return { config, azure, journal, activities: createActivities({ azure, journal }) };
}

export function services(): Promise<Services> {
  if (building === undefined) {
    building = build();
    building.catch(() => {
      building = undefined;
    });
  }
  return building;
}
