// The VM Migration Factory in Azure: a Linux Function App (Node 20, Flex Consumption) with its
// storage (durable state and the journal), Application Insights, a user-assigned identity with the
// roles the pipeline needs, the lifecycle custom topic, and the subscription's system topics whose
// events drive onboarding, drift correction and out-of-band migration changes.
targetScope = 'resourceGroup'

@description('Short name used to derive resource names.')
@minLength(3)
@maxLength(16)
param name string

param location string = resourceGroup().location

@description('Resource group of the Azure Migrate project and its Recovery Services vault.')
param migrateResourceGroup string

@description('Name of the Azure Migrate project.')
param migrateProjectName string

@description('Name of the Recovery Services vault that replicates the servers.')
param migrateVaultName string

@description('Resource groups the factory migrates into and keeps managed, in this subscription.')
param managedResourceGroups array

@description('Extra settings for the app (e.g. MANAGED_INCLUDE_TAGS); merged over the defaults.')
param extraAppSettings object = {}

@description('Subscribe the app to the system topics. Event Grid validates a webhook when the subscription is created, and the app\'s Event Grid system key exists only once its code runs: provision with false, deploy the code, then provision again with true (azd: a postdeploy hook).')
@allowed(['true', 'false'])
param subscribeEvents string = 'false'

// A string, because azd fills main.parameters.json from its environment as text.
var subscribe = subscribeEvents == 'true'

var suffix = uniqueString(resourceGroup().id, name)
var storageName = toLower('st${take(name, 10)}${take(suffix, 12)}')
var deploymentContainer = 'app-package'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
  }
  resource blobs 'blobServices' = {
    name: 'default'
    resource package 'containers' = { name: deploymentContainer }
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id, DisableLocalAuth: true }
}

resource lifecycleTopic 'Microsoft.EventGrid/topics@2024-06-01-preview' = {
  name: 'egt-${name}-lifecycle'
  location: location
  // The app publishes in the Event Grid schema (src/azure/lifecycle.ts, docs/events.md).
  properties: { inputSchema: 'EventGridSchema' }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${name}-${take(suffix, 6)}'
  location: location
  kind: 'functionapp,linux'
  tags: { 'azd-service-name': 'factory' }
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '20' }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union({
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    AZURE_CLIENT_ID: identity.properties.clientId
    AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
    MIGRATE_RESOURCE_GROUP: migrateResourceGroup
    MIGRATE_PROJECT_NAME: migrateProjectName
    MIGRATE_VAULT_NAME: migrateVaultName
    MANAGED_RESOURCE_GROUPS: join(managedResourceGroups, ',')
    LIFECYCLE_TOPIC_ENDPOINT: lifecycleTopic.properties.endpoint
  }, extraAppSettings)
}

// Roles of the app's identity. Storage: durable state, queues and the journal.
var storageRoles = [
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]
resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  scope: storage
  name: guid(storage.id, identity.id, role)
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource topicAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: lifecycleTopic
  name: guid(lifecycleTopic.id, identity.id, 'EventGrid Data Sender')
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'd5a91429-5739-47e2-a06b-3470a27159e7')
  }
}

// Migrate project and vault: replication, test migration, migration (Contributor on that group, as
// Microsoft documents for Azure Migrate automation).
module migrateAccess 'roles.bicep' = {
  name: 'migrate-access'
  scope: resourceGroup(migrateResourceGroup)
  params: {
    principalId: identity.properties.principalId
    roleDefinitionIds: ['b24988ac-6180-42a0-ab88-20f7382dd24c'] // Contributor
  }
}

// Target groups: migration creates the VMs there and the factory onboards them to Automanage, which
// needs Contributor on the VMs' resource group (Automanage documentation, "Required RBAC permissions").
module targetAccess 'roles.bicep' = [for group in managedResourceGroups: {
  name: 'target-access-${group}'
  scope: resourceGroup(group)
  params: {
    principalId: identity.properties.principalId
    roleDefinitionIds: ['b24988ac-6180-42a0-ab88-20f7382dd24c'] // Contributor
  }
}]

// ------------------------------------------------------------------------------------------------
// System topics of the subscription and their subscriptions to the app's `systemEvents` function
// (src/functions/events.ts). Filters keep deliveries to what the handler acts on; the handler still
// checks everything itself (delivery is at least once, unordered). Undeliverable events are dead-
// lettered to a blob container, written with the topic's own identity (shared keys are disabled).

var webhookFunction = 'systemEvents'
var vmSubjects = [for group in managedResourceGroups: '${subscription().id}/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/']
var vaultId = resourceId(migrateResourceGroup, 'Microsoft.RecoveryServices/vaults', migrateVaultName)
var deadLetterContainer = 'eventgrid-deadletters'
// Event Grid's own retry schedule, at most 30 attempts in 24 h (azure-facts.md, "Event Grid").
var retryPolicy = { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: storage::blobs
  name: deadLetterContainer
}

resource resourceEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'egst-${name}-resources'
  location: 'global'
  identity: { type: 'SystemAssigned' }
  properties: { source: subscription().id, topicType: 'Microsoft.Resources.Subscriptions' }
}

resource policyEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'egst-${name}-policy'
  location: 'global'
  identity: { type: 'SystemAssigned' }
  properties: { source: subscription().id, topicType: 'Microsoft.PolicyInsights.PolicyStates' }
}

// Storage Blob Data Contributor for each topic's identity, to write dead letters.
resource resourceDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, resourceEvents.id, 'dead-letters')
  properties: {
    principalId: resourceEvents.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  }
}

resource policyDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, policyEvents.id, 'dead-letters')
  properties: {
    principalId: policyEvents.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  }
}

// Batching and the filters come from eventSubscriptions.json, which rehearsals (local/stack.ts) and
// bench/events.ts subscribe with too (local/subscriptions.ts). Batches carry the events that are due together (a burst of VM creations); the extension runs
// the function once per event, all at once, and a failure makes Event Grid redeliver the whole batch,
// which the idempotent handler absorbs (docs/events.md).
var eventSubscriptions = loadJsonContent('eventSubscriptions.json')
var destination = {
  endpointType: 'WebHook'
  properties: {
    endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/eventgrid?functionName=${webhookFunction}&code=${listKeys('${app.id}/host/default', '2023-12-01').systemKeys.eventgrid_extension}'
    maxEventsPerBatch: eventSubscriptions.delivery.maxEventsPerBatch
    preferredBatchSizeInKilobytes: eventSubscriptions.delivery.preferredBatchSizeInKilobytes
  }
}
var deadLetterWithIdentity = {
  identity: { type: 'SystemAssigned' }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: { resourceId: storage.id, blobContainerName: deadLetterContainer }
  }
}

// New VMs in the managed resource groups: onboarding.
resource vmCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribe) {
  parent: resourceEvents
  name: 'vm-written'
  dependsOn: [resourceDeadLetters, deadLetters]
  properties: {
    destination: destination
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventSubscriptions.vmWritten.includedEventTypes
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.operationName', values: eventSubscriptions.vmWritten.operationNames }
        { operatorType: 'StringBeginsWith', key: 'subject', values: vmSubjects }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetterWithIdentity
  }
}

// Writes and actions on the vault's migration items (an operator in the portal): wake the pipeline.
resource migrationItemChanged 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribe) {
  parent: resourceEvents
  name: 'migration-item-changed'
  dependsOn: [resourceDeadLetters, deadLetters]
  properties: {
    destination: destination
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventSubscriptions.migrationItemChanged.includedEventTypes
      advancedFilters: [
        { operatorType: 'StringBeginsWith', key: 'data.operationName', values: [eventSubscriptions.migrationItemChanged.operationNamePrefix] }
        { operatorType: 'StringBeginsWith', key: 'subject', values: ['${vaultId}/'] }
        // The factory's own calls: the pipeline that made them waits for their outcome already.
        { operatorType: 'StringNotIn', key: 'data.claims.appid', values: [identity.properties.clientId] }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetterWithIdentity
  }
}

// Policy states of the managed VMs: drift correction (compliant states too, to order them by time).
resource policyStateChanged 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribe) {
  parent: policyEvents
  name: 'vm-policy-state'
  dependsOn: [policyDeadLetters, deadLetters]
  properties: {
    destination: destination
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventSubscriptions.policyState.includedEventTypes
      advancedFilters: [{ operatorType: 'StringBeginsWith', key: 'subject', values: vmSubjects }]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetterWithIdentity
  }
}

output functionAppName string = app.name
output lifecycleTopicEndpoint string = lifecycleTopic.properties.endpoint
output identityClientId string = identity.properties.clientId
