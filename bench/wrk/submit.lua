-- wrk script: durable task submissions (POST /v1/tasks) with a unique Idempotency-Key
-- per request. Usage: CODEFLEET_KEY=... wrk -t2 -c64 -d20s -s bench/wrk/submit.lua URL
local key = os.getenv("CODEFLEET_KEY") or "missing-key"
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/tasks", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", thread_id, counter, os.time()),
  }, '{"class": "build", "duration_s": 600}')
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000))
end
