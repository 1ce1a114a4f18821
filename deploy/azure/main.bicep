// Support Bridge on Azure: Container Apps (the bridge, two replicas), PostgreSQL Flexible
// Server, and the Azure Bot with its Teams and Direct Line channels pointing at the app.
//
//   az deployment group create -g <resource group> -f deploy/azure/main.bicep \
//     -p @deploy/azure/main.parameters.json -p botAppPassword=<secret> postgresPassword=<pw>
//
// Step by step from an empty subscription: deploy/README.md.

targetScope = 'resourceGroup'

@description('Short name used in every resource name (letters and digits, 3 to 16).')
@minLength(3)
@maxLength(16)
param name string = 'supportbridge'

@description('Region of the app and the database (the bot itself is global).')
param location string = resourceGroup().location

@description('Container image of the bridge, built from the repository\'s Dockerfile.')
param image string

@description('Registry server of the image when it is private (e.g. myregistry.azurecr.io); empty for a public image.')
param registryServer string = ''

@description('User name of the private registry.')
param registryUser string = ''

@description('Password of the private registry.')
@secure()
param registryPassword string = ''

@description('Application (client) id of the bot\'s Entra app registration.')
param botAppId string

@description('Client secret of that app registration.')
@secure()
param botAppPassword string

@description('SingleTenant (an app registration of this tenant) or MultiTenant.')
@allowed([
  'SingleTenant'
  'MultiTenant'
])
param botAppType string = 'SingleTenant'

@description('Tenant of the app registration (needed for SingleTenant).')
param botTenantId string = subscription().tenantId

@description('Name the bot shows in Teams and the Azure portal.')
param botDisplayName string = 'Support Bridge'

@description('Azure Bot pricing tier: F0 (free, standard channels) or S1.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('Administrator login of the PostgreSQL server.')
param postgresUser string = 'bridgeadmin'

@description('The Direct Line secret of the bot\'s "Website" site (az bot directline show --with-secrets); empty on the first deployment, then deploy again with it.')
@secure()
param directLineSecret string = ''

@description('Origins of the company\'s website that may embed the chat (widget.js, comma-separated, https).')
param websiteOrigins string = ''

@description('Administrator password of the PostgreSQL server.')
@secure()
param postgresPassword string

@description('Key of transcript links, shared by every replica (32 characters or more).')
@secure()
param transcriptSecret string = newGuid()

@description('Language of the team side and default for customers: en or vi.')
@allowed([
  'en'
  'vi'
])
param defaultLanguage string = 'vi'

@description('Time zone of the containers (log lines); Teams shows card times in each agent\'s own.')
param timeZone string = 'Asia/Ho_Chi_Minh'

@description('Number of bridge replicas (they share the database).')
@minValue(1)
@maxValue(10)
param replicas int = 2

var suffix = uniqueString(resourceGroup().id, name)
var appName = '${name}-app'
var databaseName = 'bridge'
var privateRegistry = !empty(registryServer)

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${name}-logs-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${name}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: '${name}-pg-${suffix}'
  location: location
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    administratorLogin: postgresUser
    administratorLoginPassword: postgresPassword
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Connections from Azure services (the Container Apps environment); nothing else.
resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

var publicUrl = 'https://${appName}.${appEnvironment.properties.defaultDomain}'
var databaseUrl = 'postgresql+asyncpg://${postgresUser}:${uriComponent(postgresPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?ssl=require'

var settings = [
  {
    name: 'MicrosoftAppId'
    value: botAppId
  }
  {
    name: 'MicrosoftAppPassword'
    secretRef: 'bot-app-password'
  }
  {
    name: 'MicrosoftAppType'
    value: botAppType
  }
  {
    name: 'MicrosoftAppTenantId'
    value: botAppType == 'SingleTenant' ? botTenantId : ''
  }
  {
    // The company's tenant: with an app id the bridge binds no room until it knows it.
    name: 'ALLOWED_TENANTS'
    value: botTenantId
  }
  {
    name: 'DATABASE_URL'
    secretRef: 'database-url'
  }
  {
    name: 'DB_AUTO_UPGRADE'
    value: 'false'
  }
  {
    name: 'PUBLIC_URL'
    value: publicUrl
  }
  {
    name: 'TRANSCRIPT_SECRET'
    secretRef: 'transcript-secret'
  }
  {
    name: 'DEFAULT_LANGUAGE'
    value: defaultLanguage
  }
  {
    name: 'TZ'
    value: timeZone
  }
  {
    name: 'LOG_FORMAT'
    value: 'json'
  }
  {
    name: 'PORT'
    value: '3978'
  }
  {
    name: 'TEAMS_APP_NAME'
    value: botDisplayName
  }
  {
    name: 'DIRECT_LINE_SECRET'
    secretRef: 'direct-line-secret'
  }
  {
    // The Website site below has enhanced authentication on: a dl_ user id is token-bound.
    name: 'DIRECT_LINE_ENHANCED_AUTH'
    value: 'true'
  }
  {
    name: 'ALLOWED_ORIGINS'
    value: websiteOrigins
  }
]

var secrets = [
  {
    name: 'bot-app-password'
    value: botAppPassword
  }
  {
    name: 'database-url'
    value: databaseUrl
  }
  {
    name: 'transcript-secret'
    value: transcriptSecret
  }
  {
    name: 'direct-line-secret'
    value: directLineSecret
  }
]
var registrySecret = [
  {
    name: 'registry-password'
    value: registryPassword
  }
]
var registries = [
  {
    server: registryServer
    username: registryUser
    passwordSecretRef: 'registry-password'
  }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: appName
  location: location
  dependsOn: [
    database
    azureServices
  ]
  properties: {
    managedEnvironmentId: appEnvironment.id
    configuration: {
      ingress: {
        external: true
        targetPort: 3978
        transport: 'auto'
        allowInsecure: false
      }
      secrets: concat(secrets, privateRegistry ? registrySecret : [])
      registries: privateRegistry ? registries : []
    }
    template: {
      // Each replica migrates before it starts; replicas take turns (a PostgreSQL lock).
      initContainers: [
        {
          name: 'migrate'
          image: image
          command: [
            'support-bridge'
            'db'
            'upgrade'
          ]
          env: settings
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
        }
      ]
      containers: [
        {
          name: 'bridge'
          image: image
          env: settings
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 3978
              }
              periodSeconds: 30
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: 3978
              }
              periodSeconds: 10
            }
          ]
        }
      ]
      scale: {
        minReplicas: replicas
        maxReplicas: replicas
      }
    }
  }
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${name}-bot-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: botSku
  }
  properties: {
    displayName: botDisplayName
    endpoint: '${publicUrl}/api/messages'
    msaAppId: botAppId
    msaAppType: botAppType
    msaAppTenantId: botAppType == 'SingleTenant' ? botTenantId : ''
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

resource directLine 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'DirectLineChannel'
  location: 'global'
  properties: {
    channelName: 'DirectLineChannel'
    properties: {
      sites: [
        {
          siteName: 'Website'
          isEnabled: true
          isV1Enabled: false
          isV3Enabled: true
          // Enhanced authentication: tokens bind a user id and only these origins may use them.
          isSecureSiteEnabled: true
          trustedOrigins: concat([publicUrl], empty(websiteOrigins) ? [] : split(websiteOrigins, ','))
          isBlockUserUploadEnabled: false
        }
      ]
    }
  }
}

@description('Base of transcript links and the host to give `support-bridge teams-package`.')
output publicUrl string = publicUrl

@description('The messaging endpoint the Azure Bot calls.')
output messagingEndpoint string = '${publicUrl}/api/messages'

@description('Name of the Azure Bot resource (its Direct Line secret is under Channels).')
output botName string = bot.name
