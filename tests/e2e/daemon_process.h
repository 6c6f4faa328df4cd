// `codefleet serve` as a child process for end-to-end tests: started with flags, ready
// once /readyz answers 200 on the port it logged, stopped with SIGTERM or killed with
// SIGKILL.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace codefleet::testing {

class DaemonProcess {
 public:
  // `args` after `codefleet serve`; --listen 127.0.0.1:0 is added unless given.
  DaemonProcess(std::vector<std::string> args, std::string log_file)
      : args_(std::move(args)), log_file_(std::move(log_file)) {}
  ~DaemonProcess() { kill(); }
  void set_tls(bool on) { tls_ = on; }

  // Starts it and waits until it is ready; false (with the log) when it is not in 20 s.
  bool start(std::string* why = nullptr) {
    std::ofstream(log_file_, std::ios::trunc).close();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_file_.c_str(), O_WRONLY | O_APPEND);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<std::string> all{CODEFLEET_BINARY, "serve"};
      bool has_listen = false;
      for (const auto& a : args_) has_listen = has_listen || a == "--listen";
      if (!has_listen) {
        all.push_back("--listen");
        all.push_back("127.0.0.1:0");
      }
      all.insert(all.end(), args_.begin(), args_.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::regex listen_re(R"re("listen":"([0-9.]+):([0-9]+)")re");
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (why) *why = "exited early: " + log();
        return false;
      }
      std::smatch m;
      std::string text = log();
      if (port_ == 0 && std::regex_search(text, m, listen_re)) port_ = std::stoi(m[2]);
      if (port_ != 0 && ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (why) *why = "not ready in 20 s: " + log();
    return false;
  }

  bool ready() const {
    if (tls_) {
      httplib::SSLClient c("127.0.0.1", port_);
      c.enable_server_certificate_verification(false);
      auto r = c.Get("/readyz");
      return r && r->status == 200;
    }
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/readyz");
    return r && r->status == 200;
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    port_ = 0;
  }

  // SIGTERM; the exit status (or -1 when it had to be killed after 20 s).
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 2000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        port_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill();
    return -1;
  }

  int port() const { return port_; }
  std::string log() const {
    std::ifstream in(log_file_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::vector<std::string> args_;
  std::string log_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool tls_ = false;
};

}  // namespace codefleet::testing
