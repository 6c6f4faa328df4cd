// Runs an httplib::Server on a free loopback port on its own thread, for tests' fake
// upstreams (webhooks, ARM, OpenAI-compatible servers, JWKS). start() returns once the
// server listens; stop() is safe before, after and twice (httplib ignores a stop that
// comes before its listener runs, so stop() waits for it first).
//
//   httplib::Server server;  server.Get("/x", …);
//   ServerThread thread(server);  thread.start();   // thread.url() == "http://127.0.0.1:PORT"
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <httplib.h>

namespace codefleet::testing {

class ServerThread {
 public:
  explicit ServerThread(httplib::Server& server) : server_(server) {}
  ~ServerThread() { stop(); }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    wait_running();
  }
  void stop() {
    if (!thread_.joinable()) return;
    wait_running();
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void wait_running() {
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  httplib::Server& server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace codefleet::testing
