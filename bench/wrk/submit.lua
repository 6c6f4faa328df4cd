-- wrk script: durable task submissions (POST /v1/tasks), each with its own
-- Idempotency-Key. CODEFLEET_TASK is the body.
-- Usage: CODEFLEET_KEY=... CODEFLEET_TASK='{"class": "ci"}' wrk -t2 -c64 -d20s -s bench/wrk/submit.lua URL
local key = os.getenv("CODEFLEET_KEY") or "missing-key"
local body = os.getenv("CODEFLEET_TASK") or '{"class": "build", "duration_s": 600}'
local counter = 0
local next_thread = 1

-- Runs in the main Lua state; `tid` becomes a global of each thread's own state.
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/tasks", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", tid, os.time(), counter),
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, 2xx+3xx %d of %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests - summary.errors.status,
    summary.requests))
end
