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
  properties: { inputSchema: 'CloudEventSchemaV1_0' }
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

output functionAppName string = app.name
output lifecycleTopicEndpoint string = lifecycleTopic.properties.endpoint
output identityClientId string = identity.properties.clientId
