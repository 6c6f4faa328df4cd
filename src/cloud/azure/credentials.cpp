#include "cloud/azure/credentials.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"

namespace codefleet {

namespace {

using json = nlohmann::json;

constexpr int64_t kRefreshBefore_s = 300;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A number that may be a JSON number or a string of digits ("3599").
std::optional<int64_t> number_of(const json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return n;
  }
  return std::nullopt;
}

// The parts of an Entra error body that are safe to show: the AADSTS code and description.
std::string login_error(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return "no error body";
  std::string code = j.value("error", "");
  std::string desc = j.value("error_description", "");
  desc = desc.substr(0, desc.find("\r\n"));
  return code + (desc.empty() ? "" : ": " + desc);
}

// Runs argv, returns its standard output (nullopt when it could not run or failed).
std::optional<std::string> run_capture(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe(out) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return text;
}

Error refused(const std::string& provider, const std::string& why) {
  return Error{ErrorCode::kInvalidInput, provider + " credentials were refused: " + why,
               "credentials"};
}

}  // namespace

AzureAuthConfig AzureAuthConfig::from_environment() {
  AzureAuthConfig c;
  if (auto v = env("AZURE_AUTHORITY_HOST"); !v.empty()) c.login_endpoint = v;
  c.tenant_id = env("AZURE_TENANT_ID");
  c.client_id = env("AZURE_CLIENT_ID");
  c.client_secret = env("AZURE_CLIENT_SECRET");
  c.federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
  if (auto v = env("IDENTITY_ENDPOINT"); !v.empty()) {
    c.managed_identity_endpoint = v;
    c.managed_identity_header = env("IDENTITY_HEADER");
  } else if (env("AZURE_MANAGED_IDENTITY") == "1") {
    c.managed_identity_endpoint = "http://169.254.169.254/metadata/identity/oauth2/token";
  }
  c.managed_identity_client_id = env("AZURE_MANAGED_IDENTITY_CLIENT_ID");
  return c;
}

AzureCredentials::AzureCredentials(AzureAuthConfig config, const Clock& clock,
                                   std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), clock_(clock), http_(std::move(http)) {
  config_.login_endpoint = without_trailing_slashes(config_.login_endpoint);
}

std::string AzureCredentials::provider() const {
  const auto& c = config_;
  if (!c.tenant_id.empty() && !c.client_id.empty() && !c.client_secret.empty()) {
    return "client-secret";
  }
  if (!c.tenant_id.empty() && !c.client_id.empty() && !c.federated_token_file.empty()) {
    return "workload-identity";
  }
  if (!c.managed_identity_endpoint.empty()) return "managed-identity";
  if (!c.az_cli.empty()) return "azure-cli";
  return "";
}

int64_t AzureCredentials::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

Result<AccessToken> AzureCredentials::token(const std::string& scope) {
  std::lock_guard lock(mu_);
  int64_t now = unix_s(clock_.now());
  auto it = cache_.find(scope);
  if (it != cache_.end() && it->second.expires_at_s - kRefreshBefore_s > now) return it->second;
  auto t = fetch(scope);
  if (!t) return t;
  ++fetches_;
  cache_[scope] = *t;
  return t;
}

Result<AccessToken> AzureCredentials::fetch(const std::string& scope) {
  std::string p = provider();
  if (p == "client-secret") {
    return from_login(scope,
                      {{"grant_type", "client_credentials"},
                       {"client_id", config_.client_id},
                       {"client_secret", config_.client_secret},
                       {"scope", scope}},
                      p);
  }
  if (p == "workload-identity") {
    std::ifstream in(config_.federated_token_file);
    if (!in) {
      return tl::unexpected(Error{ErrorCode::kInvalidInput, "cannot read the federated token file",
                                  config_.federated_token_file});
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string assertion = ss.str();
    while (!assertion.empty() && std::isspace(static_cast<unsigned char>(assertion.back()))) {
      assertion.pop_back();
    }
    return from_login(
        scope,
        {{"grant_type", "client_credentials"},
         {"client_id", config_.client_id},
         {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
         {"client_assertion", assertion},
         {"scope", scope}},
        p);
  }
  if (p == "managed-identity") return from_managed_identity(scope);
  if (p == "azure-cli") return from_cli(scope);
  return tl::unexpected(Error{ErrorCode::kInvalidInput,
                              "no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                              "AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE), enable a "
                              "managed identity, or sign in with `az login`",
                              "credentials"});
}

Result<AccessToken> AzureCredentials::from_login(
    const std::string& scope, const std::vector<std::pair<std::string, std::string>>& form,
    const std::string& provider) {
  (void)scope;
  HttpRequest req;
  req.method = "POST";
  req.url = config_.login_endpoint + "/" + percent_encode(config_.tenant_id) + "/oauth2/v2.0/token";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = form_encode(form);
  auto r = http_->send(req);
  if (!r) return tl::unexpected(r.error().error);
  if (r->status != 200) {
    if (r->status >= 500 || r->status == 429) {
      return tl::unexpected(Error{ErrorCode::kUnavailable,
                                  fmt::format("the login endpoint answered {}", r->status),
                                  "credentials"});
    }
    return tl::unexpected(refused(provider, login_error(r->body)));
  }
  auto j = json::parse(r->body, nullptr, false);
  auto expires_in = j.is_object() ? number_of(j, "expires_in") : std::nullopt;
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string() ||
      !expires_in) {
    return tl::unexpected(Error{ErrorCode::kUnavailable,
                                "the login endpoint sent no access_token and expires_in",
                                "credentials"});
  }
  return AccessToken{j["access_token"].get<std::string>(), unix_s(clock_.now()) + *expires_in,
                     provider};
}

Result<AccessToken> AzureCredentials::from_managed_identity(const std::string& scope) {
  // The managed identity endpoints take a resource, not a scope.
  std::string resource = scope;
  if (auto pos = resource.rfind("/.default"); pos != std::string::npos) resource.erase(pos);
  HttpRequest req;
  bool app_service = !config_.managed_identity_header.empty();
  std::vector<std::pair<std::string, std::string>> query{
      {"api-version", app_service ? "2019-08-01" : "2018-02-01"}, {"resource", resource}};
  if (!config_.managed_identity_client_id.empty()) {
    query.emplace_back("client_id", config_.managed_identity_client_id);
  }
  req.url = config_.managed_identity_endpoint + "?" + form_encode(query);
  if (app_service) {
    req.headers = {{"X-IDENTITY-HEADER", config_.managed_identity_header}};
  } else {
    req.headers = {{"Metadata", "true"}};
  }
  req.timeout = std::chrono::milliseconds(5'000);
  auto r = http_->send(req);
  if (!r) return tl::unexpected(r.error().error);
  if (r->status != 200) {
    if (r->status >= 500 || r->status == 429) {
      return tl::unexpected(Error{
          ErrorCode::kUnavailable,
          fmt::format("the managed identity endpoint answered {}", r->status), "credentials"});
    }
    return tl::unexpected(refused("managed-identity", login_error(r->body)));
  }
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string()) {
    return tl::unexpected(Error{ErrorCode::kUnavailable,
                                "the managed identity endpoint sent no access_token",
                                "credentials"});
  }
  int64_t expires = 0;
  if (auto on = number_of(j, "expires_on")) {
    expires = *on;
  } else if (auto in = number_of(j, "expires_in")) {
    expires = unix_s(clock_.now()) + *in;
  } else {
    return tl::unexpected(Error{ErrorCode::kUnavailable,
                                "the managed identity endpoint sent no expiry", "credentials"});
  }
  return AccessToken{j["access_token"].get<std::string>(), expires, "managed-identity"};
}

Result<AccessToken> AzureCredentials::from_cli(const std::string& scope) {
  std::vector<std::string> argv = config_.az_cli;
  for (const char* a : {"account", "get-access-token", "--scope"}) argv.emplace_back(a);
  argv.push_back(scope);
  argv.emplace_back("--output");
  argv.emplace_back("json");
  if (!config_.tenant_id.empty()) {
    argv.emplace_back("--tenant");
    argv.push_back(config_.tenant_id);
  }
  auto out = run_capture(argv);
  if (!out) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "the Azure CLI gave no token: run `az login` (or configure "
                                "another credential)",
                                "credentials"});
  }
  auto j = json::parse(*out, nullptr, false);
  if (!j.is_object() || !j.contains("accessToken") || !j["accessToken"].is_string()) {
    return tl::unexpected(
        Error{ErrorCode::kUnavailable, "the Azure CLI's answer has no accessToken", "credentials"});
  }
  int64_t expires = 0;
  if (auto on = number_of(j, "expires_on")) {
    expires = *on;
  } else if (j.contains("expiresOn") && j["expiresOn"].is_string()) {
    // "2026-11-27 10:00:00.000000", local time of the machine: read as UTC minus a margin.
    std::string s = j["expiresOn"].get<std::string>().substr(0, 19);
    if (s.size() == 19) s[10] = 'T';
    auto t = parse_rfc3339(s + "Z");
    expires = t ? unix_s(*t) - 12 * 3600 : unix_s(clock_.now()) + 600;
  }
  return AccessToken{j["accessToken"].get<std::string>(), expires, "azure-cli"};
}

}  // namespace codefleet
