#include "llm/limiter.h"

#include <algorithm>

#include "core/money.h"

namespace codefleet {

using std::chrono::milliseconds;

TokenBucket::TokenBucket(int64_t per_minute, TimePoint now)
    : per_minute_(std::max<int64_t>(0, per_minute)), milli_units_(per_minute_ * 1000), last_(now) {}

void TokenBucket::refill(TimePoint now) {
  if (now <= last_) return;
  int64_t ms = std::chrono::duration_cast<milliseconds>(now - last_).count();
  // per_minute units per 60,000 ms = per_minute / 60 milli-units per ms.
  Int128 add = static_cast<Int128>(per_minute_) * ms / 60;
  Int128 cap = static_cast<Int128>(per_minute_) * 1000;
  milli_units_ = static_cast<int64_t>(std::min<Int128>(cap, milli_units_ + add));
  last_ = now;
}

Duration TokenBucket::wait(int64_t n, TimePoint now) {
  if (per_minute_ == 0) return Duration{0};
  if (n > per_minute_) return Duration::max();
  refill(now);
  Duration blocked = blocked_until_ > now ? blocked_until_ - now : Duration{0};
  int64_t need = n * 1000 - milli_units_;
  if (need <= 0) return blocked;
  // need milli-units at per_minute/60 per ms, rounded up.
  int64_t ms = (need * 60 + per_minute_ - 1) / per_minute_;
  return std::max(blocked, Duration(milliseconds(ms)));
}

void TokenBucket::take(int64_t n, TimePoint now) {
  if (per_minute_ == 0) return;
  refill(now);
  milli_units_ -= n * 1000;
}

void TokenBucket::block_until(TimePoint t) { blocked_until_ = std::max(blocked_until_, t); }

Duration RateLimiter::wait(int64_t tokens, TimePoint now) {
  return std::max(tokens_.wait(tokens, now), requests_.wait(1, now));
}

void RateLimiter::take(int64_t tokens, TimePoint now) {
  tokens_.take(tokens, now);
  requests_.take(1, now);
}

void RateLimiter::settle(int64_t estimated, int64_t actual, TimePoint now) {
  tokens_.take(actual - estimated, now);
}

void RateLimiter::throttled_until(TimePoint t) {
  tokens_.block_until(t);
  requests_.block_until(t);
}

}  // namespace codefleet
