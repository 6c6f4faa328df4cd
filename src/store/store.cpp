// Names of the store's enums, and `open_store`: the URL picks the adapter.
#include "store/store.h"

#include <array>

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
