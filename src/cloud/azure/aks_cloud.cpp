#include "cloud/azure/aks_cloud.h"

#include <algorithm>

#include <fmt/format.h>

#include "cloud/azure/operations.h"
#include "core/text.h"

namespace codefleet {

AksCloud::AksCloud(ArmClient& arm, AksCloudOptions options)
    : arm_(arm), options_(std::move(options)) {
  thread_ = std::thread([this] { worker(); });
}

AksCloud::~AksCloud() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<void> AksCloud::check(const FleetModel& model, const AksCloudOptions& options) {
  if (options.cluster_id.empty()) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "the AKS cluster's resource id is missing", "cloud.cluster_id"});
  }
  // A pool the cluster autoscaler sizes (scaler: cluster-autoscaler) is not the daemon's
  // to size too: two control loops on one count fight. Every other pool needs its agent pool.
  std::string missing;
  for (const auto& p : model.pools) {
    bool mapped = options.agent_pools.count(p.name) > 0;
    if (p.autoscaled && mapped) {
      return tl::unexpected(Error{
          ErrorCode::kInvalidInput,
          fmt::format("pool '{}' is sized by the AKS cluster autoscaler (scaler: "
                      "cluster-autoscaler in the spec): the daemon must not set its count too; "
                      "remove it from cloud.pools, or make the spec say scaler: codefleet",
                      p.name),
          "cloud.pools." + p.name});
    }
    if (!p.autoscaled && !mapped) missing += (missing.empty() ? "" : ", ") + p.name;
  }
  if (!missing.empty()) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "no AKS agent pool for the spec pool(s) " + missing,
                                "cloud.pools"});
  }
  // Each agent pool's count is the daemon's to set: one spec pool each, and no pool the
  // spec does not have (its count would be set to nothing).
  std::map<std::string, std::string> owner;
  for (const auto& [spec_pool, agent_pool] : options.agent_pools) {
    bool known = std::any_of(model.pools.begin(), model.pools.end(),
                             [&](const PoolModel& p) { return p.name == spec_pool; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& p : model.pools) names.push_back(p.name);
      std::string near = closest_match(spec_pool, names);
      return tl::unexpected(
          Error{ErrorCode::kInvalidInput,
                fmt::format("'{}' is not a pool of the spec ({})", spec_pool,
                            near.empty() ? fmt::format("its pools: {}", fmt::join(names, ", "))
                                         : fmt::format("did you mean '{}'?", near)),
                "cloud.pools"});
    }
    auto [it, fresh] = owner.emplace(agent_pool, spec_pool);
    if (!fresh) {
      return tl::unexpected(Error{
          ErrorCode::kInvalidInput,
          fmt::format("AKS agent pool '{}' is mapped to both '{}' and '{}': one spec pool each",
                      agent_pool, it->second, spec_pool),
          "cloud.pools"});
    }
  }
  return {};
}

void AksCloud::set_active(const PoolModel& pool, NodeId id, bool active, bool adopted) {
  auto it = options_.agent_pools.find(pool.name);
  if (it == options_.agent_pools.end()) return;
  {
    std::lock_guard lock(mu_);
    auto& nodes = active_[it->second];
    if (active) {
      if (nodes.insert(id).second && !adopted) added_[it->second].push_back(id);
    } else {
      nodes.erase(id);
      auto& added = added_[it->second];
      added.erase(std::remove(added.begin(), added.end(), id), added.end());
    }
  }
  if (!adopted) cv_.notify_one();
}

Result<std::map<std::string, int64_t>> AksCloud::existing_nodes() {
  // No PUT starts from here until adoption_done(). One already in flight (an earlier
  // leadership's) may land after the counts are read: its pool is then re-sent.
  {
    std::lock_guard lock(mu_);
    adopting_ = true;
    ++generation_;
  }
  // Every count first; nothing changes unless all of them could be read.
  std::map<std::string, int64_t> counts;  // agent pool → nodes
  for (const auto& [spec_pool, agent_pool] : options_.agent_pools) {
    auto count = agent_pool_count(arm_, options_.cluster_id, agent_pool);
    if (!count) {
      {
        std::lock_guard lock(mu_);
        adopting_ = false;
      }
      cv_.notify_one();
      return tl::unexpected(
          Error{count.error().code,
                fmt::format("reading AKS agent pool '{}': {}", agent_pool, count.error().message),
                "cloud.pools"});
    }
    counts[agent_pool] = *count;
  }
  std::map<std::string, int64_t> out;
  std::lock_guard lock(mu_);
  // The nodes adopted next stand for these: what an earlier leadership knew is gone.
  active_.clear();
  added_.clear();
  lost_.clear();
  for (const auto& [spec_pool, agent_pool] : options_.agent_pools) {
    applied_[agent_pool] = counts[agent_pool];
    active_[agent_pool];
    out[spec_pool] = counts[agent_pool];
  }
  return out;
}

void AksCloud::adoption_done() {
  {
    std::lock_guard lock(mu_);
    adopting_ = false;
  }
  cv_.notify_one();
}

void AksCloud::adopt_vm(const PoolModel& pool, NodeId id, TimePoint) {
  set_active(pool, id, true, /*adopted=*/true);
}

Result<Duration> AksCloud::create_vm(const PoolModel& pool, NodeId id, TimePoint) {
  set_active(pool, id, true);
  return pool.create_latency;
}

Result<Duration> AksCloud::start_vm(const PoolModel& pool, NodeId id, bool, TimePoint) {
  set_active(pool, id, true);
  return pool.start_latency;
}

void AksCloud::stop_vm(const PoolModel& pool, NodeId id, bool, TimePoint) {
  set_active(pool, id, false);
}

void AksCloud::delete_vm(const PoolModel& pool, NodeId id, TimePoint) {
  set_active(pool, id, false);
}

std::vector<NodeId> AksCloud::take_lost() {
  std::lock_guard lock(mu_);
  std::vector<NodeId> out;
  out.swap(lost_);
  return out;
}

int64_t AksCloud::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::string AksCloud::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::map<std::string, int64_t> AksCloud::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

void AksCloud::worker() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.apply_every);
    if (stop_) break;
    if (adopting_) continue;  // the counts are being read and taken over
    // What differs from what Azure holds, one pool at a time, without the lock. Nodes
    // added while a PUT is in flight are not part of it: they wait for the next one.
    struct Todo {
      std::string pool;
      int64_t want;
      std::vector<NodeId> added;  // the nodes this count adds
    };
    std::vector<Todo> todo;
    for (const auto& [pool, nodes] : active_) {
      auto want = static_cast<int64_t>(nodes.size());
      auto it = applied_.find(pool);
      if (it == applied_.end() || it->second != want) todo.push_back({pool, want, added_[pool]});
    }
    for (const auto& t : todo) {
      if (adopting_) break;
      uint64_t generation = generation_;
      lock.unlock();
      auto r = scale_agent_pool(arm_, options_.cluster_id, t.pool, t.want);
      lock.lock();
      if (generation != generation_) {
        // A takeover read the counts meanwhile: this answer belongs to what it replaced,
        // and the count it read may be stale — send the pool's count again.
        applied_.erase(t.pool);
        break;
      }
      auto& added = added_[t.pool];
      auto forget = [&](NodeId id) {
        added.erase(std::remove(added.begin(), added.end(), id), added.end());
      };
      if (r) {
        applied_[t.pool] = t.want;
        for (NodeId id : t.added) forget(id);
        continue;
      }
      ++failures_;
      last_error_ = r.error().message;
      fmt::print(stderr,
                 R"({{"level":"error","msg":"AKS scale failed","pool":"{}","count":{}}})"
                 "\n",
                 t.pool, t.want);
      // The nodes this count would have added never came: they are lost, and Azure keeps
      // what it had.
      for (NodeId id : t.added) {
        if (active_[t.pool].erase(id)) lost_.push_back(id);
        forget(id);
      }
    }
  }
}

}  // namespace codefleet
