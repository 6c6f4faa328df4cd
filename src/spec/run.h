// What a task runs when an executor puts it on a machine (Kubernetes: one Job's pod): the
// container image, its command and arguments, environment (plain values, or references to
// Kubernetes Secrets — a secret's value is never in the store or a log), working
// directory, the service account (workload identity), a timeout (the Job's
// activeDeadlineSeconds) and the retry policy CodeFleet applies (the Job itself never
// retries). The same object is a task's `run` and a workload class's default.
//
//   auto run = parse_run_json(R"({"image": "ghcr.io/acme/agent:1.4", "command": ["agent"],
//                                 "env": [{"name": "TOKEN", "secret": {"name": "gh", "key":
//                                 "token"}}], "timeout": "2h", "retries": {"limit": 2}})", "run");
//   // run->timeout == 2h; a bad field: kInvalidInput at "run.env[0].name"
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace codefleet {

struct EnvVar {
  std::string name;
  std::string value;                    // a plain value, or
  std::string secret_name, secret_key;  // a key of a Secret in the task's namespace
  bool from_secret() const { return !secret_name.empty(); }
};

struct RetryPolicy {
  int limit = 0;                                // further attempts after a failure
  Duration backoff = std::chrono::seconds(30);  // before the first retry; doubles each time
  std::vector<int> on_exit_codes;               // empty: any failure; else only these exit codes
};

struct RunSpec {
  std::string image;
  std::vector<std::string> command, args;
  std::vector<EnvVar> env;
  std::string working_dir;
  std::string service_account;
  std::optional<Duration> timeout;
  RetryPolicy retries;
};

// Limits on what one `run` may carry.
inline constexpr size_t kMaxRunListItems = 256;     // command, args, env entries
inline constexpr size_t kMaxRunStringBytes = 4096;  // one command or args item, a path
inline constexpr size_t kMaxEnvValueBytes = 32768;
inline constexpr int kMaxRetries = 10;

// Parses and validates a `run` object given as JSON text; `path` prefixes every error's
// location ("run", "workload_classes[2].run"). Errors are kInvalidInput naming the field:
// an image that is not a valid reference, an env name that is not a C identifier, a
// secret reference without a key, an unknown field (with the closest valid name).
Result<RunSpec> parse_run_json(std::string_view json_text, const std::string& path);
// The JSON form (secret references by name and key; values as given).
std::string run_to_json(const RunSpec& run);

// Checks, each naming the field under `path` on failure.
Result<void> validate_image_reference(const std::string& image, const std::string& path);
bool is_c_identifier(std::string_view s);
bool is_dns_subdomain(std::string_view s);  // RFC 1123, as Kubernetes object names
bool is_dns_label(std::string_view s);      // RFC 1123 label, as Kubernetes namespaces

}  // namespace codefleet
