// Load generator for the LLM gateway: what the gateway adds to a streamed chat completion,
// at a given number of concurrent streams, against calling the same upstream directly.
//
//   gateway_bench upstream --port 18291 [--chunks 40] [--interval-ms 25]
//       A fake OpenAI-compatible server: every POST …/chat/completions streams `chunks`
//       SSE events `interval-ms` apart, each carrying the CLOCK_MONOTONIC time it was
//       written ("t_ns"), then a usage chunk and [DONE].
//   gateway_bench client --url URL [--streams 500] [--seconds 20] [--warmup 3]
//                        [--ramp-ms 1000] [--key K] [--model M]
//       `streams` concurrent streaming requests, opened spread over `ramp-ms`, each started
//       again when it ends (closed loop), on one libcurl multi handle. For every event it records
//       its delivery time (arrival − t_ns: both clocks are the machine's monotonic clock) and per
//       request the time to the first event; prints percentiles as one JSON line.
//
// Run both ways (client → upstream, client → gateway → upstream) and subtract: that is the
// latency the gateway adds. bench/gateway_bench.sh does it.
#include <curl/curl.h>
#include <httplib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

int run_upstream(int argc, char** argv) {
  int port = std::atoi(arg(argc, argv, "--port", "18291"));
  int chunks = std::atoi(arg(argc, argv, "--chunks", "40"));
  int interval_ms = std::atoi(arg(argc, argv, "--interval-ms", "25"));
  int threads = std::atoi(arg(argc, argv, "--threads", "1200"));
  httplib::Server s;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_keep_alive_max_count(1'000'000);
  s.set_keep_alive_timeout(60);
  s.set_tcp_nodelay(true);  // as model servers do: each event goes out when written
  int listen_fd = -1;
  s.set_socket_options([&](int sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  std::atomic<int64_t> deployment_calls{0};
  s.Get("/deployment-calls", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::to_string(deployment_calls.load()), "text/plain");
  });
  s.Post(R"(.*/chat/completions)", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/openai/deployments/", 0) == 0) ++deployment_calls;
    res.set_header("Cache-Control", "no-cache");
    auto sent = std::make_shared<int>(0);
    auto next =
        std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_until(*next);
      *next += std::chrono::milliseconds(interval_ms);
      char buf[256];
      if (*sent < chunks) {
        int n = std::snprintf(buf, sizeof buf,
                              "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
                              "\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,"
                              "\"delta\":{\"content\":\"tok \"}}],\"t_ns\":%lld}\n\n",
                              static_cast<long long>(mono_ns()));
        ++*sent;
        return sink.write(buf, static_cast<size_t>(n));
      }
      int n = std::snprintf(buf, sizeof buf,
                            "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\","
                            "\"created\":0,\"model\":\"m\",\"choices\":[],\"usage\":{"
                            "\"prompt_tokens\":100,\"completion_tokens\":%d,"
                            "\"total_tokens\":%d}}\n\ndata: [DONE]\n\n",
                            chunks, chunks + 100);
      sink.write(buf, static_cast<size_t>(n));
      sink.done();
      return true;
    });
  });
  std::fprintf(stderr, "upstream on 127.0.0.1:%d: %d chunks %d ms apart\n", port, chunks,
               interval_ms);
  if (!s.bind_to_port("127.0.0.1", port)) return 1;
  ::listen(listen_fd, 1024);  // httplib's queue of 5 would drop a burst of connections
  return s.listen_after_bind() ? 0 : 1;
}

struct Stream {
  CURL* easy = nullptr;
  int64_t started_ns = 0, first_ns = 0;
  std::string line;
  bool counted = false;
  long status = 0;
};

struct Results {
  std::vector<int64_t> deliver_ns;  // per event: arrival − written upstream
  std::vector<int64_t> ttfb_ns;     // per request: first event − request started
  std::vector<int64_t> total_ns;    // per request: done − started
  int64_t requests = 0, errors = 0, events = 0;
  int64_t events_all = 0;  // warm-up included: for CPU per event
  bool measuring = false;
};

Results* g_results = nullptr;

size_t on_data(char* ptr, size_t size, size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  int64_t now = mono_ns();
  size_t len = size * n;
  s->line.append(ptr, len);
  size_t pos;
  while ((pos = s->line.find('\n')) != std::string::npos) {
    std::string_view l(s->line.data(), pos);
    const char* key = "\"t_ns\":";
    size_t k = l.find(key);
    if (k != std::string_view::npos) {
      int64_t t = std::strtoll(l.data() + k + std::strlen(key), nullptr, 10);
      if (!s->first_ns) s->first_ns = now;
      ++g_results->events_all;
      if (g_results->measuring) {
        g_results->deliver_ns.push_back(now - t);
        ++g_results->events;
      }
    }
    s->line.erase(0, pos + 1);
  }
  return len;
}

double pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1e6;
}

int run_client(int argc, char** argv) {
  std::string url = arg(argc, argv, "--url", "http://127.0.0.1:18291/v1/chat/completions");
  int streams = std::atoi(arg(argc, argv, "--streams", "500"));
  int seconds = std::atoi(arg(argc, argv, "--seconds", "20"));
  int warmup = std::atoi(arg(argc, argv, "--warmup", "3"));
  std::string key = arg(argc, argv, "--key", "");
  std::string model = arg(argc, argv, "--model", "code-completion");
  std::string body = "{\"model\":\"" + model +
                     "\",\"stream\":true,\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"write a function that adds two numbers\"}]}";
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(streams + 16));
  // Sockets on epoll, driven by curl_multi_socket_action: the load generator's own cost
  // stays small and does not grow with the number of streams.
  int epfd = epoll_create1(0);
  int64_t timer_at_ns = -1;  // when libcurl wants its timeout action, -1: none
  curl_multi_setopt(
      multi, CURLMOPT_SOCKETFUNCTION,
      +[](CURL*, curl_socket_t fd, int what, void* ep, void*) -> int {
        int e = *static_cast<int*>(ep);
        if (what == CURL_POLL_REMOVE) {
          epoll_ctl(e, EPOLL_CTL_DEL, fd, nullptr);
          return 0;
        }
        epoll_event ev{};
        ev.data.fd = fd;
        if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
        if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
        if (epoll_ctl(e, EPOLL_CTL_MOD, fd, &ev) != 0) {
          epoll_ctl(e, EPOLL_CTL_ADD, fd, &ev);
        }
        return 0;
      });
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &epfd);
  curl_multi_setopt(
      multi, CURLMOPT_TIMERFUNCTION, +[](CURLM*, long ms, void* out) -> int {
        *static_cast<int64_t*>(out) = ms < 0 ? -1 : mono_ns() + int64_t(ms) * 1'000'000;
        return 0;
      });
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &timer_at_ns);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  if (!key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + key).c_str());
  Results results;
  results.deliver_ns.reserve(4'000'000);
  g_results = &results;
  std::vector<std::unique_ptr<Stream>> all;
  auto start = [&](Stream* s) {
    if (!s->easy) {
      s->easy = curl_easy_init();
      curl_easy_setopt(s->easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
      curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
      curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
      curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    }
    s->started_ns = mono_ns();
    s->first_ns = 0;
    s->line.clear();
    curl_multi_add_handle(multi, s->easy);
  };
  // Streams open spread over `ramp` (as a service's clients arrive), not all in one burst;
  // each starts again as soon as it ends, so the spread holds.
  int64_t ramp_ns = int64_t(std::atoi(arg(argc, argv, "--ramp-ms", "1000"))) * 1'000'000;
  for (int i = 0; i < streams; ++i) all.push_back(std::make_unique<Stream>());
  int opened = 0;
  int64_t t0 = mono_ns();
  int64_t measure_from = t0 + int64_t(warmup) * 1'000'000'000;
  int64_t stop_at = measure_from + int64_t(seconds) * 1'000'000'000;
  int running = 0;
  while (true) {
    while (opened < streams && mono_ns() >= t0 + ramp_ns * opened / streams) {
      start(all[static_cast<size_t>(opened++)].get());
    }
    epoll_event events[256];
    int wait = 100;
    if (timer_at_ns >= 0) {
      wait = static_cast<int>(std::clamp<int64_t>((timer_at_ns - mono_ns()) / 1'000'000, 0, 100));
    }
    if (opened < streams) wait = std::min(wait, 1);
    int n = epoll_wait(epfd, events, 256, wait);
    for (int i = 0; i < n; ++i) {
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
    }
    if (timer_at_ns >= 0 && mono_ns() >= timer_at_ns) {
      timer_at_ns = -1;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Stream* s = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
      long status = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      CURLcode rc = m->data.result;
      curl_multi_remove_handle(multi, m->easy_handle);
      int64_t now = mono_ns();
      if (results.measuring && s->started_ns >= measure_from) {
        ++results.requests;
        if (rc != CURLE_OK || status != 200 || !s->first_ns) {
          ++results.errors;
        } else {
          results.ttfb_ns.push_back(s->first_ns - s->started_ns);
          results.total_ns.push_back(now - s->started_ns);
        }
      }
      if (now < stop_at) start(s);
    }
    int64_t now = mono_ns();
    results.measuring = now >= measure_from && now < stop_at;
    if (now >= stop_at && running == 0) break;
  }
  std::printf(
      "{\"url\":\"%s\",\"streams\":%d,\"seconds\":%d,\"requests\":%lld,\"errors\":%lld,"
      "\"events\":%lld,\"events_all\":%lld,\"events_per_s\":%.0f,"
      "\"deliver_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f},"
      "\"ttfb_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f},"
      "\"total_ms\":{\"p50\":%.3f,\"p99\":%.3f}}\n",
      url.c_str(), streams, seconds, static_cast<long long>(results.requests),
      static_cast<long long>(results.errors), static_cast<long long>(results.events),
      static_cast<long long>(results.events_all), static_cast<double>(results.events) / seconds,
      pct(results.deliver_ns, 0.50), pct(results.deliver_ns, 0.90), pct(results.deliver_ns, 0.99),
      pct(results.deliver_ns, 0.999), pct(results.ttfb_ns, 0.50), pct(results.ttfb_ns, 0.90),
      pct(results.ttfb_ns, 0.99), pct(results.total_ns, 0.50), pct(results.total_ns, 0.99));
  for (auto& s : all) curl_easy_cleanup(s->easy);
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  return results.errors == 0 && results.requests > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "upstream") == 0) return run_upstream(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "client") == 0) return run_client(argc, argv);
  std::fprintf(stderr, "usage: gateway_bench upstream|client [options] (see the source)\n");
  return 2;
}
