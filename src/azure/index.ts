/**
 * Builds every gateway from the settings and one credential. All ARM clients share one write-rate
 * limiter, so this process's writes stay under ARM's bucket whichever gateway issues them.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryConfig } from '../config';
import { armClientOptions, writeRateLimitPolicy } from './arm';
import { MigrateAssessmentGateway } from './assessment';
import { ArmComputeGateway } from './compute';
import { EventGridLifecyclePublisher, UnpublishedLifecycle } from './lifecycle';
import { SiteRecoveryMigrationGateway } from './migration';
import { ArmNetworkGateway } from './network';
import { AutomanageOnboardingGateway } from './onboarding';
import type { AzureGateways } from './types';

export type * from './types';

export function createGateways(config: FactoryConfig, credential: TokenCredential): AzureGateways {
  const options = armClientOptions(config, writeRateLimitPolicy(config.limits.armWritesPerSecond));
  return {
    migration: new SiteRecoveryMigrationGateway(config, credential, options),
    assessment: new MigrateAssessmentGateway(config, credential, options),
    compute: new ArmComputeGateway(config, credential, options),
    network: new ArmNetworkGateway(config, credential, options),
    onboarding: new AutomanageOnboardingGateway(config, credential, options),
    lifecycle:
      config.lifecycleTopic === undefined
        ? new UnpublishedLifecycle()
        : new EventGridLifecyclePublisher(config.lifecycleTopic, credential, config.limits.armRetry),
  };
}
