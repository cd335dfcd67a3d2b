#pragma once
// A TCP relay on loopback that records every byte a client sends to a server, to inspect
// what a device puts on the wire.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fedlora::test {

class TcpTap {
 public:
  /// Listens on a free loopback port and relays each connection to 127.0.0.1:`target_port`.
  explicit TcpTap(int target_port);
  ~TcpTap();
  int port() const { return port_; }
  /// Every byte clients sent so far, connections concatenated.
  std::string sent() const;

 private:
  void accept_loop();
  void relay(int from, int to, bool record);
  int listen_fd_ = -1, port_ = 0, target_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string sent_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace fedlora::test
