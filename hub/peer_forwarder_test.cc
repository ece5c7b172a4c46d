#include "hub/peer_forwarder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <mutex>
#include <optional>

namespace gridhub::hub {
namespace {

using std::chrono::seconds;
constexpr auto kWait = seconds(30);

// A fake leader: records what it was sent and answers with what the test sets, or parks the
// request (its Responder) until the test answers it.
class FakeLeader {
 public:
  explicit FakeLeader(bool park = false)
      : park_(park),
        server_({.host = "127.0.0.1", .port = 0, .threads = 1},
                [this](http::ServerRequest request, http::Responder responder) {
                  OnRequest(std::move(request), std::move(responder));
                }) {
    EXPECT_TRUE(server_.Start().ok());
  }
  cluster::PeerHub hub() const {
    return {"leader", "http://127.0.0.1:" + std::to_string(server_.port())};
  }
  http::ServerRequest Received() {
    auto future = received_.get_future();
    EXPECT_EQ(future.wait_for(kWait), std::future_status::ready);
    return future.get();
  }
  http::Responder Parked() {
    Received();
    std::lock_guard<std::mutex> lock(mu_);
    return parked_;
  }
  // What the leader answers. Under mu_: the server thread reads it, and the socket between
  // them is no ordering TSan can see.
  void SetAnswer(int status, std::string body, http::Headers headers = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
    headers_ = std::move(headers);
  }

 private:
  void OnRequest(http::ServerRequest request, http::Responder responder) {
    int status = 0;
    std::string body;
    http::Headers headers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      parked_ = responder;
      status = status_;
      body = body_;
      headers = headers_;
    }
    received_.set_value(request);
    if (!park_) responder.Send(status, body, headers, "application/x-test");
  }
  int status_ = 200;
  http::Headers headers_;
  std::string body_ = R"({"value":{"ready":true}})";
  const bool park_;
  std::mutex mu_;
  http::Responder parked_;
  std::promise<http::ServerRequest> received_;
  http::HttpServer server_;
};

struct Finished {
  ForwardOutcome outcome;
  http::Responder responder;
};

// The follower hub the client talks to: every request is forwarded to `leader` with `call`.
class FrontHub {
 public:
  FrontHub(const cluster::PeerHub& leader, PeerCall call)
      : forwarder_(client_, "hub-front", [] { return std::string("s3cret"); }),
        server_(
            {.host = "127.0.0.1", .port = 0, .threads = 1},
            [this, leader, call](http::ServerRequest request, http::Responder responder) {
              forwarder_.Forward(request, leader, call, std::move(responder),
                                 [this](ForwardOutcome outcome, http::Responder back) {
                                   finished_.set_value({outcome, std::move(back)});
                                 });
            },
            [this](uint64_t) { disconnected_.set_value(); }) {
    EXPECT_TRUE(server_.Start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  uint16_t port() const { return server_.port(); }
  Finished Done() {
    auto future = finished_.get_future();
    EXPECT_EQ(future.wait_for(kWait), std::future_status::ready);
    return future.get();
  }
  void WaitDisconnect() {
    EXPECT_EQ(disconnected_.get_future().wait_for(kWait), std::future_status::ready);
  }
  http::HttpClient& client() { return client_; }

 private:
  http::HttpClient client_;
  PeerForwarder forwarder_;
  std::promise<Finished> finished_;
  std::promise<void> disconnected_;
  http::HttpServer server_;
};

PeerCall ClientCall(bool resubmit = false) {
  PeerCall call;
  call.caller = {.access = Access::kClient,
                 .exposure = Exposure::kFull,
                 .public_base = "http://front.example:4444",
                 .order = 7};
  call.resubmit_on_loss = resubmit;
  call.timeout = seconds(20);
  return call;
}

TEST(PeerForwarderTest, ForwardsEndToEndHeadersAndThePeerHeaders) {
  FakeLeader leader;
  FrontHub front(leader.hub(), ClientCall());
  http::HttpClient client;
  http::ClientResponse response =
      client.SendSync({.method = "POST",
                       .url = front.url() + "/session?x=1&y=2",
                       .headers = {{"Authorization", "Bearer ct"},
                                   {"X-Run-Id", "run-1"},
                                   {"X-Gridhub-Access", "admin"},  // forged by the client
                                   {"X-Gridhub-Peer-Secret", "s3cret"},
                                   {"Connection", "keep-alive, X-Drop-Me"},
                                   {"X-Drop-Me", "1"},
                                   {"Proxy-Authorization", "Basic x"},
                                   {"Content-Type", "application/json"}},
                       .body = R"({"capabilities":{}})"});
  ASSERT_EQ(response.status, 200);
  http::ServerRequest got = leader.Received();
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.path, "/session");
  EXPECT_EQ(got.query, "?x=1&y=2");
  EXPECT_EQ(got.body, R"({"capabilities":{}})");
  EXPECT_EQ(got.Header("Authorization"), "Bearer ct");
  EXPECT_EQ(got.Header("X-Run-Id"), "run-1");
  EXPECT_EQ(got.Header("Content-Type"), "application/json");
  EXPECT_EQ(got.Header("X-Drop-Me"), "");
  EXPECT_EQ(got.Header("Proxy-Authorization"), "");
  EXPECT_EQ(got.Header("X-Forwarded-Host"), "127.0.0.1:" + std::to_string(front.port()));
  EXPECT_EQ(got.Header("X-Forwarded-For"), "127.0.0.1");
  // The leader sees only what the front hub vouched for, not what the client forged.
  std::optional<PeerCaller> peer = ReadPeerHeaders(got, "s3cret");
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->hub_id, "hub-front");
  EXPECT_EQ(peer->access, Access::kClient);
  EXPECT_EQ(peer->public_base, "http://front.example:4444");
  EXPECT_EQ(peer->order, std::optional<uint64_t>(7));
  size_t access_headers = 0;
  for (const auto& [name, value] : got.headers) access_headers += name == "X-Gridhub-Access";
  EXPECT_EQ(access_headers, 1u);
  EXPECT_FALSE(ReadPeerHeaders(got, "wrong").has_value());
  EXPECT_EQ(front.Done().outcome, ForwardOutcome::kRelayed);
}

TEST(PeerForwarderTest, RelaysStatusHeadersAndBody) {
  FakeLeader leader;
  const std::string body = R"({"value":{"error":"session not created"}})";
  leader.SetAnswer(429, body, {{"Retry-After", "3"}, {"X-Gridhub-Internal", "x"}});
  FrontHub front(leader.hub(), ClientCall());
  http::HttpClient client;
  http::ClientResponse response = client.SendSync({.url = front.url() + "/status"});
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.body, body);
  EXPECT_EQ(http::FindHeader(response.headers, "Retry-After"), "3");
  EXPECT_EQ(http::FindHeader(response.headers, "Content-Type"), "application/x-test");
  EXPECT_EQ(http::FindHeader(response.headers, "X-Gridhub-Internal"), "");
  EXPECT_EQ(front.Done().outcome, ForwardOutcome::kRelayed);
}

// A port nothing listens on: bound, then closed.
cluster::PeerHub DeadLeader() {
  auto server = std::make_unique<http::HttpServer>(
      http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 1},
      [](http::ServerRequest, http::Responder) {});
  EXPECT_TRUE(server->Start().ok());
  const uint16_t port = server->port();
  server.reset();
  return {"gone", "http://127.0.0.1:" + std::to_string(port)};
}

TEST(PeerForwarderTest, LeaderDownHandsTheUnansweredResponderBack) {
  FrontHub front(DeadLeader(), ClientCall(/*resubmit=*/true));
  std::promise<http::ClientResponse> answered;
  front.client().Send({.method = "POST", .url = front.url() + "/session", .body = "{}"},
                      [&](http::ClientResponse r) { answered.set_value(std::move(r)); });
  Finished finished = front.Done();
  ASSERT_EQ(finished.outcome, ForwardOutcome::kLeaderLost);
  EXPECT_FALSE(finished.responder.sent());
  // The caller still owns the answer: here it answers itself, as after a re-submission.
  EXPECT_TRUE(finished.responder.Send(201, R"({"value":"resubmitted"})"));
  auto future = answered.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  http::ClientResponse response = future.get();
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, R"({"value":"resubmitted"})");
}

TEST(PeerForwarderTest, NotLeaderAnswerIsLeaderLostToo) {
  FakeLeader leader;
  leader.SetAnswer(503, R"({"value":{"ready":true}})", {{"X-Gridhub-Not-Leader", "1"}});
  FrontHub front(leader.hub(), ClientCall(/*resubmit=*/true));
  std::promise<http::ClientResponse> answered;
  front.client().Send({.method = "POST", .url = front.url() + "/session", .body = "{}"},
                      [&](http::ClientResponse r) { answered.set_value(std::move(r)); });
  Finished finished = front.Done();
  EXPECT_EQ(finished.outcome, ForwardOutcome::kLeaderLost);
  EXPECT_FALSE(finished.responder.sent());
  finished.responder.Send(500, "{}");
  EXPECT_EQ(answered.get_future().wait_for(kWait), std::future_status::ready);
}

TEST(PeerForwarderTest, OtherCallsGetNoDispatcherError) {
  FrontHub front(DeadLeader(), ClientCall(/*resubmit=*/false));
  http::HttpClient client;
  http::ClientResponse response = client.SendSync({.url = front.url() + "/queue"});
  EXPECT_EQ(response.status, 503);
  EXPECT_NE(response.body.find(R"("error":"unknown error")"), std::string::npos);
  EXPECT_NE(response.body.find("no dispatcher hub"), std::string::npos);
  EXPECT_EQ(front.Done().outcome, ForwardOutcome::kFailed);
}

// HttpClient cannot cancel a transfer: a client that leaves makes the relay fail once the
// leader answers, and the outcome says so (the caller can then undo, e.g. DELETE the session).
TEST(PeerForwarderTest, ClientThatLeftIsReportedWhenTheLeaderAnswers) {
  FakeLeader leader(/*park=*/true);
  FrontHub front(leader.hub(), ClientCall(/*resubmit=*/true));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(front.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string head = "POST /session HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  http::Responder parked = leader.Parked();
  close(fd);
  front.WaitDisconnect();
  parked.Send(200, R"({"value":{"sessionId":"s1"}})");
  Finished finished = front.Done();
  EXPECT_EQ(finished.outcome, ForwardOutcome::kClientGone);
}

}  // namespace
}  // namespace gridhub::hub
