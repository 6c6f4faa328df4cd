// The gateway's protocol pieces: request checks, OpenAI error bodies, usage from responses
// and from SSE streams fed in arbitrary pieces, token costs, and the rate limiter.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llm/limiter.h"
#include "llm/openai.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

TEST(ChatRequest, ReadsModelStreamAndLimits) {
  auto r = parse_chat_request(
      R"({"model": "gpt-4o-mini", "stream": true, "max_tokens": 256,
          "messages": [{"role": "system", "content": "be brief"},
                       {"role": "user", "content": [{"type": "text", "text": "hello"}]}]})");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->model, "gpt-4o-mini");
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->max_tokens, 256);
  EXPECT_EQ(r->prompt_chars, 13);
}

TEST(ChatRequest, BadRequestsNameTheParameter) {
  struct Case {
    const char* body;
    const char* param;
  };
  for (const auto& c : std::vector<Case>{
           {"not json", ""},
           {"[]", ""},
           {R"({"messages": [{"role": "user", "content": "x"}]})", "model"},
           {R"({"model": "m"})", "messages"},
           {R"({"model": "m", "messages": []})", "messages"},
           {R"({"model": "m", "messages": [{"content": "x"}]})", "messages[0].role"},
           {R"({"model": "m", "messages": [{"role": "user", "content": 7}]})",
            "messages[0].content"},
           {R"({"model": "m", "stream": "yes", "messages": [{"role": "user"}]})", "stream"},
           {R"({"model": "m", "max_tokens": 0, "messages": [{"role": "user"}]})", "max_tokens"},
           {R"({"model": "m", "max_tokens": 16777217, "messages": [{"role": "user"}]})",
            "max_tokens"},
           {R"({"model": "m", "max_completion_tokens": 9223372036854775807,
                "messages": [{"role": "user"}]})",
            "max_completion_tokens"},
       }) {
    auto r = parse_chat_request(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().location, c.param) << c.body;
  }
  std::string deep =
      R"({"model": "m", "messages": )" + std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_FALSE(parse_chat_request(deep));
}

TEST(OpenAiError, HasTheShapeClientsParse) {
  auto j = json::parse(
      openai_error("invalid_request_error", "no such model", "model", "model_not_found"));
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_EQ(j["error"]["code"], "model_not_found");
  EXPECT_TRUE(json::parse(openai_error("server_error", "x"))["error"]["code"].is_null());
}

TEST(Usage, FromAResponse) {
  auto u = usage_of_response(
      R"({"choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
          "prompt_tokens_details": {"cached_tokens": 64}}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt, 120);
  EXPECT_EQ(u->completion, 30);
  EXPECT_EQ(u->cached, 64);
  EXPECT_FALSE(usage_of_response(R"({"choices": []})"));
  EXPECT_FALSE(usage_of_response("garbage"));
  // Counts of the wrong type or out of range are read as 0 or clamped, never thrown on.
  auto odd = usage_of_response(
      R"({"usage": {"prompt_tokens": "many", "completion_tokens": -5,
                    "prompt_tokens_details": {"cached_tokens": 18446744073709551615}}})");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->prompt, 0);
  EXPECT_EQ(odd->completion, 0);
  EXPECT_EQ(odd->cached, int64_t{1} << 40);
}

TEST(Usage, FromAStreamInAnyPieces) {
  std::string stream =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"delta\":\n"
      "data: {\"content\":\"lo\"}}]}\r\n\n"
      ": keep-alive comment\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, stream.size()}) {
    SseUsage u;
    for (size_t i = 0; i < stream.size(); i += piece)
      u.feed(std::string_view(stream).substr(i, piece));
    EXPECT_TRUE(u.done()) << piece;
    auto r = u.result();
    EXPECT_EQ(r.prompt, 9) << piece;
    EXPECT_EQ(r.completion, 2) << piece;
    EXPECT_FALSE(r.counted);
  }
  // Without a usage chunk, content chunks are counted (and say so).
  SseUsage counted;
  counted.feed(
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n"
      "data: not-json\n\n"
      "data: [DONE]\n\n");
  EXPECT_EQ(counted.result().completion, 2);
  EXPECT_TRUE(counted.result().counted);
}

TEST(TokenCost, RoundsOnceEachSide) {
  TokenUsage u{1'234, 567, 0, false};
  // $0.15 / 1M input, $0.60 / 1M output: 0.0001851 + 0.0003402 = 0.000185 + 0.000340
  EXPECT_EQ(token_cost(u, *Money::parse("0.15"), *Money::parse("0.60")), *Money::parse("0.000525"));
}

TEST(UsageBound, FromTheRequestAndTheAnswer) {
  auto plain =
      parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(plain);
  UsageBound b = usage_bound(*plain, 120, 900);
  EXPECT_EQ(b.prompt, 120);      // the request's bytes
  EXPECT_EQ(b.completion, 900);  // no max_tokens: the answer's bytes
  auto capped = parse_chat_request(
      R"({"model": "m", "max_completion_tokens": 64, "messages": [{"role": "user", "content":
          [{"type": "text", "text": "what is this?"},
           {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]})");
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->image_parts, 1);
  b = usage_bound(*capped, 200, 5'000);
  EXPECT_EQ(b.prompt, 200 + kMaxTokensPerImage);
  EXPECT_EQ(b.completion, 64);  // max_completion_tokens, whatever the answer's size
}

TEST(UsageBound, ClampsWhatAnUpstreamCouldNotHaveUsed) {
  struct Case {
    TokenUsage reported;
    UsageBound bound;
    TokenUsage kept;
    bool prompt, completion, cached;
  };
  constexpr int64_t kHuge = INT64_MAX;
  for (const auto& c : std::vector<Case>{
           // Within the bound: kept as reported.
           {{1'000, 200, 64, false}, {1'000, 200}, {1'000, 200, 64, false}, false, false, false},
           // 2^63 - 1 prompt tokens from a request of 150 bytes.
           {{kHuge, 3, 0, false}, {150, 512}, {150, 3, 0, false}, true, false, false},
           {{10, kHuge, kHuge, false}, {150, 512}, {10, 512, 10, false}, false, true, true},
       }) {
    ClampedUsage u = clamp_usage(c.reported, c.bound);
    EXPECT_EQ(u.kept.prompt, c.kept.prompt);
    EXPECT_EQ(u.kept.completion, c.kept.completion);
    EXPECT_EQ(u.kept.cached, c.kept.cached);
    EXPECT_EQ(u.reported.prompt, c.reported.prompt);
    EXPECT_EQ(u.prompt, c.prompt);
    EXPECT_EQ(u.completion, c.completion);
    EXPECT_EQ(u.cached, c.cached);
    EXPECT_EQ(u.any(), c.prompt || c.completion || c.cached);
  }
}

TEST(RateLimiter, TokensAndRequestsPerMinute) {
  TimePoint t0 = *parse_rfc3339("2026-01-05T10:00:00Z");
  RateLimiter l(/*tpm=*/6'000, /*rpm=*/2, t0);
  EXPECT_EQ(l.wait(5'000, t0), Duration{0});
  l.take(5'000, t0);
  // 1,000 tokens left; 3,000 more need 2,000 refilled at 100/s: 20 s.
  EXPECT_EQ(l.wait(3'000, t0), Duration(seconds(20)));
  l.take(500, t0);  // the second request of the minute
  // No request left: the RPM bucket refills one in 30 s.
  EXPECT_EQ(l.wait(100, t0), Duration(seconds(30)));
  EXPECT_EQ(l.wait(100, t0 + seconds(30)), Duration{0});
  // More than a minute's worth never fits.
  EXPECT_EQ(l.wait(7'000, t0 + minutes(5)), Duration::max());
  // A 429's Retry-After blocks until then.
  l.throttled_until(t0 + minutes(10));
  EXPECT_EQ(l.wait(1, t0 + minutes(9)), Duration(minutes(1)));
  RateLimiter unlimited(0, 0, t0);
  EXPECT_EQ(unlimited.wait(1'000'000, t0), Duration{0});
}

}  // namespace
}  // namespace codefleet
