// Grants one principal a set of built-in roles on the resource group this module is deployed to.
targetScope = 'resourceGroup'

param principalId string
param roleDefinitionIds array

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roleDefinitionIds: {
  name: guid(resourceGroup().id, principalId, role)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]
