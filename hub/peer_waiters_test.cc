#include "hub/peer_waiters.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace gridhub::hub {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr auto kWait = seconds(30);

// A server that holds every request it gets in a PeerWaiters under the hub its path names
// ("/h1" is hub "h1"), as the dispatcher holds forwarded POST /session calls.
class Holder {
 public:
  explicit Holder(milliseconds period = std::chrono::hours(1))
      : waiters_({.period = period,
                  .alive =
                      [this](const std::string& hub) {
                        std::lock_guard<std::mutex> lock(mu_);
                        ++asked_[hub];
                        return !dead_.count(hub);
                      },
                  .withdraw =
                      [this](uint64_t connection) {
                        std::lock_guard<std::mutex> lock(mu_);
                        withdrawn_.push_back(connection);
                      }}),
        server_(
            {.host = "127.0.0.1", .port = 0, .threads = 1},
            [this](http::ServerRequest request, http::Responder responder) {
              waiters_.Hold(request.path.substr(1), responder);
              std::lock_guard<std::mutex> lock(mu_);
              responders_.push_back(responder);
              cv_.notify_all();
            },
            [this](uint64_t connection) { waiters_.Forget(connection); }) {
    EXPECT_TRUE(server_.Start().ok());
  }

  // A client connection that sent one request for `hub` and is now held.
  int Connect(const std::string& hub) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server_.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval timeout{.tv_sec = 30, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const std::string head = "POST /" + hub + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    EXPECT_EQ(send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    // One request per connection: this one is held once the server has one more than before.
    const size_t held = fds_.size() + 1;
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, kWait, [&] { return responders_.size() >= held; }));
    fds_.push_back(fd);
    return fd;
  }
  ~Holder() {
    for (int fd : fds_) close(fd);
  }

  void Kill(const std::string& hub) {
    std::lock_guard<std::mutex> lock(mu_);
    dead_.insert(hub);
  }
  int Asked(const std::string& hub) {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_[hub];
  }
  std::vector<uint64_t> Withdrawn() {
    std::lock_guard<std::mutex> lock(mu_);
    return withdrawn_;
  }
  http::Responder Responder(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return responders_.at(i);
  }
  PeerWaiters& waiters() { return waiters_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> dead_;
  std::map<std::string, int> asked_;
  std::vector<http::Responder> responders_;
  std::vector<uint64_t> withdrawn_;
  std::vector<int> fds_;
  PeerWaiters waiters_;  // before server_: its callbacks use it until the server stops
  http::HttpServer server_;
};

// The status line and the body the server answered on `fd` (one read; the answers are small).
std::string Answer(int fd) {
  char buffer[4096] = {};
  ssize_t n = recv(fd, buffer, sizeof buffer - 1, 0);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

TEST(PeerWaitersTest, TheCallsOfAHubThatIsGoneAreWithdrawnAndAnsweredAndNoOthers) {
  Holder holder;
  holder.Connect("h1");
  int gone = holder.Connect("h2");
  int gone_too = holder.Connect("h2");
  EXPECT_EQ(holder.waiters().held(), 3u);
  holder.Kill("h2");

  EXPECT_EQ(holder.waiters().CheckNow(), 2u);
  std::vector<uint64_t> withdrawn = holder.Withdrawn();
  std::sort(withdrawn.begin(), withdrawn.end());
  std::vector<uint64_t> expected = {holder.Responder(1).connection_id(),
                                    holder.Responder(2).connection_id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(withdrawn, expected);
  for (int fd : {gone, gone_too}) {
    std::string answer = Answer(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 500", 0), 0u) << answer;
    EXPECT_NE(answer.find("session not created"), std::string::npos) << answer;
    EXPECT_NE(answer.find("hub h2 forwarded this request and was not seen within "
                          "hub.peer-timeout"),
              std::string::npos)
        << answer;
  }
  // One question per hub, however many calls it forwarded.
  EXPECT_EQ(holder.Asked("h1"), 1);
  EXPECT_EQ(holder.Asked("h2"), 1);
  // The live hub's call is still held, unanswered.
  EXPECT_EQ(holder.waiters().held(), 1u);
  EXPECT_FALSE(holder.Responder(0).sent());
}

TEST(PeerWaitersTest, AnsweredAndForgottenCallsAreNotWatched) {
  Holder holder;
  int answered = holder.Connect("h1");
  holder.Connect("h2");
  holder.Kill("h1");
  holder.Kill("h2");
  EXPECT_TRUE(holder.Responder(0).Send(200, "{}"));
  EXPECT_EQ(Answer(answered).rfind("HTTP/1.1 200", 0), 0u);
  holder.waiters().Forget(holder.Responder(1).connection_id());

  EXPECT_EQ(holder.waiters().CheckNow(), 0u);
  EXPECT_EQ(holder.waiters().held(), 0u);
  EXPECT_TRUE(holder.Withdrawn().empty());
  // Nothing left to watch, so no hub was asked about.
  EXPECT_EQ(holder.Asked("h1"), 0);
  EXPECT_EQ(holder.Asked("h2"), 0);
}

TEST(PeerWaitersTest, ItsThreadChecksOncePerPeriodWhileItHoldsAny) {
  Holder holder(milliseconds(50));
  int fd = holder.Connect("h1");
  holder.Kill("h1");
  std::string answer = Answer(fd);  // within the socket's 30 s receive timeout
  EXPECT_EQ(answer.rfind("HTTP/1.1 500", 0), 0u) << answer;
  EXPECT_EQ(holder.Withdrawn().size(), 1u);
  EXPECT_EQ(holder.waiters().held(), 0u);
}

}  // namespace
}  // namespace gridhub::hub
