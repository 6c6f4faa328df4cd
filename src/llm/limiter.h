// Per-deployment rate limits as Azure OpenAI enforces them — tokens per minute (TPM) and
// requests per minute (RPM) — as two token buckets refilled continuously. The gateway asks
// before it sends, so a request that would be throttled goes elsewhere (or waits) instead
// of drawing a 429; what the upstream says (`Retry-After`) still wins.
//
//   RateLimiter limit(/*tpm=*/240'000, /*rpm=*/1'440, now);
//   if (limit.wait(2'000, now) == Duration{0}) limit.take(2'000, now);
#pragma once

#include <cstdint>

#include "core/time.h"

namespace codefleet {

class TokenBucket {
 public:
  // `per_minute` units refilled each minute, at most `per_minute` held; 0 = unlimited.
  TokenBucket(int64_t per_minute, TimePoint now);
  // How long until `n` units are available (0 = now). More than the capacity never fits:
  // Duration::max().
  Duration wait(int64_t n, TimePoint now);
  void take(int64_t n, TimePoint now);  // may go negative (usage larger than estimated)
  void block_until(TimePoint t);        // a 429's Retry-After
  bool unlimited() const { return per_minute_ == 0; }

 private:
  void refill(TimePoint now);
  int64_t per_minute_;
  int64_t milli_units_;  // held, in thousandths (exact refill of fractions)
  TimePoint last_;
  TimePoint blocked_until_{};
};

class RateLimiter {
 public:
  RateLimiter(int64_t tpm, int64_t rpm, TimePoint now) : tokens_(tpm, now), requests_(rpm, now) {}
  Duration wait(int64_t tokens, TimePoint now);
  void take(int64_t tokens, TimePoint now);
  // After the response: the real token count replaces the estimate that was taken.
  void settle(int64_t estimated, int64_t actual, TimePoint now);
  void throttled_until(TimePoint t);

 private:
  TokenBucket tokens_, requests_;
};

}  // namespace codefleet
