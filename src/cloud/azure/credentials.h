// Azure credentials: access tokens for ARM (and AI Foundry), from the first provider that
// is configured, in the order Azure's own SDKs use:
//   1. client secret       AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
//   2. workload identity   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE
//   3. managed identity    only when configured (AZURE_MANAGED_IDENTITY=1 for the instance
//                          metadata endpoint, or IDENTITY_ENDPOINT): nothing probes
//                          169.254.169.254 unless asked to
//   4. the Azure CLI       `az account get-access-token --scope … --output json`
// Tokens are cached per scope until five minutes before they expire. Secrets and tokens
// never appear in an error message.
//
//   auto creds = AzureCredentials(AzureAuthConfig::from_environment(), clock);
//   Result<AccessToken> t = creds.token("https://management.azure.com/.default");
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cloud/http.h"
#include "core/time.h"

namespace codefleet {

struct AccessToken {
  std::string value;
  int64_t expires_at_s = 0;  // Unix seconds
  std::string provider;      // which provider issued it
};

struct AzureAuthConfig {
  std::string login_endpoint = "https://login.microsoftonline.com";
  std::string tenant_id, client_id, client_secret;
  std::string federated_token_file;
  // Managed identity: the token endpoint, "" = not configured. With AZURE_MANAGED_IDENTITY=1
  // it is the instance metadata service, http://169.254.169.254/metadata/identity/oauth2/token.
  std::string managed_identity_endpoint;
  std::string managed_identity_header;  // App Service's X-IDENTITY-HEADER value, if any
  std::string managed_identity_client_id;
  // The Azure CLI as argv (tests point it at a fake); empty = do not use the CLI.
  std::vector<std::string> az_cli{"az"};

  static AzureAuthConfig from_environment();
};

class AzureCredentials {
 public:
  AzureCredentials(AzureAuthConfig config, const Clock& clock,
                   std::shared_ptr<HttpClient> http = std::make_shared<HttpClient>());

  // kInvalidInput when no provider is configured or one refused the credentials
  // (AADSTS codes); kUnavailable when the login endpoint could not be reached.
  Result<AccessToken> token(const std::string& scope);
  // The provider that would be tried first ("client-secret", "workload-identity",
  // "managed-identity", "azure-cli") or "" when none is configured.
  std::string provider() const;
  // How many tokens were fetched (not served from the cache): for tests.
  int64_t fetches() const;

 private:
  Result<AccessToken> fetch(const std::string& scope);
  Result<AccessToken> from_login(const std::string& scope,
                                 const std::vector<std::pair<std::string, std::string>>& form,
                                 const std::string& provider);
  Result<AccessToken> from_managed_identity(const std::string& scope);
  Result<AccessToken> from_cli(const std::string& scope);

  AzureAuthConfig config_;
  const Clock& clock_;
  std::shared_ptr<HttpClient> http_;
  mutable std::mutex mu_;
  std::map<std::string, AccessToken> cache_;
  int64_t fetches_ = 0;
};

}  // namespace codefleet
