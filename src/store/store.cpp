// Names of the store's enums, and `open_store`: the URL picks the adapter.
#include "store/store.h"

#include <algorithm>
#include <array>
#include <tuple>

#include <fmt/format.h>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace codefleet {

namespace {
constexpr std::array<const char*, 7> kPhaseNames = {"pending", "admitted",  "running", "completed",
                                                    "failed",  "cancelled", "rejected"};
constexpr std::array<const char*, 4> kRoleNames = {"viewer", "submitter", "operator", "admin"};
}  // namespace

const char* task_phase_name(TaskPhase p) { return kPhaseNames[static_cast<size_t>(p)]; }

std::optional<TaskPhase> parse_task_phase(std::string_view name) {
  for (size_t i = 0; i < kPhaseNames.size(); ++i) {
    if (name == kPhaseNames[i]) return static_cast<TaskPhase>(i);
  }
  return std::nullopt;
}

bool is_terminal(TaskPhase p) {
  return p == TaskPhase::kCompleted || p == TaskPhase::kFailed || p == TaskPhase::kCancelled ||
         p == TaskPhase::kRejected;
}

const char* role_name(Role r) { return kRoleNames[static_cast<size_t>(r)]; }

std::optional<Role> parse_role(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i) {
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  }
  return std::nullopt;
}

std::string phase_list(const std::vector<TaskPhase>& phases) {
  if (phases.empty()) return "";
  std::string out = ",";
  for (auto p : phases) {
    if (is_terminal(p)) continue;  // a terminal task never changes
    out += task_phase_name(p);
    out += ',';
  }
  return out == "," ? ",none," : out;
}

Result<void> check_llm_usage(const std::vector<LlmUsage>& usage) {
  constexpr int64_t kMax = int64_t{1} << 40;
  for (const auto& u : usage) {
    for (int64_t v :
         {u.requests, u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cost_micros}) {
      if (v < 0 || v > kMax) {
        return tl::unexpected(Error{
            ErrorCode::kInvalidInput,
            fmt::format("LLM usage of key '{}' on '{}': a count of {} is out of range [0, 2^40]",
                        u.key_id, u.deployment, v),
            "llm_usage"});
      }
    }
  }
  return {};
}

std::vector<LlmUsage> sorted_llm_usage(std::vector<LlmUsage> usage) {
  std::sort(usage.begin(), usage.end(), [](const LlmUsage& a, const LlmUsage& b) {
    return std::tie(a.hour_start_ms, a.tenant, a.key_id, a.deployment) <
           std::tie(b.hour_start_ms, b.tenant, b.key_id, b.deployment);
  });
  return usage;
}

std::map<std::pair<std::string, int64_t>, int64_t> llm_ledger(const std::vector<LlmUsage>& rows) {
  std::map<std::pair<std::string, int64_t>, int64_t> out;
  for (const auto& u : rows) {
    if (u.cost_micros != 0) out[{"llm:" + u.deployment, u.hour_start_ms}] += u.cost_micros;
  }
  return out;
}

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  auto starts = [&](std::string_view p) { return url.rfind(p, 0) == 0; };
  if (starts("sqlite:")) return open_sqlite_store(url.substr(7));
  if (starts("postgres://") || starts("postgresql://")) return open_postgres_store(url);
  if (starts("postgres:")) return open_postgres_store(url.substr(9));
  return tl::unexpected(
      Error{ErrorCode::kInvalidInput,
            "unknown store '" + url.substr(0, url.find(':')) + "': use sqlite:PATH or postgres:URL",
            "--store"});
}

}  // namespace codefleet
