// Polls `done` every 5 ms until it holds or `limit` passes; its last answer. For tests that
// wait on another thread or process (a reconcile loop, a watch, a fake server).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace codefleet::testing {

inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace codefleet::testing
