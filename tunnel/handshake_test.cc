#include "tunnel/handshake.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "tunnel/relay_buffer.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::tunnel {
namespace {

TEST(UpgradeRequestHeadTest, KeepsTheWebSocketHeadersAndDropsTheClientsHop) {
  const http::Headers client = {{"Host", "hub:4444"},
                                {"Upgrade", "websocket"},
                                {"Connection", "keep-alive, Upgrade, X-Hop"},
                                {"X-Hop", "1"},
                                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                {"Sec-WebSocket-Version", "13"},
                                {"Sec-WebSocket-Extensions", "permessage-deflate"},
                                {"Authorization", "Bearer secret"},
                                {"Origin", "http://evil"},
                                {"Keep-Alive", "timeout=5"},
                                {"X-Registration-Secret", "forged"},
                                {"User-Agent", "wdio"},
                                {"X-Bad", "a\r\nInjected: yes"}};
  const std::string head = UpgradeRequestHead(client, "/session/1/se/bidi", "10.0.0.2:5555",
                                              {{"X-Registration-Secret", "real"}});
  EXPECT_EQ(head.find("GET /session/1/se/bidi HTTP/1.1\r\nHost: 10.0.0.2:5555\r\n"), 0u) << head;
  for (std::string_view kept :
       {"\r\nUpgrade: websocket\r\n", "\r\nConnection: Upgrade\r\n",
        "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "\r\nSec-WebSocket-Version: 13\r\n",
        "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n", "\r\nUser-Agent: wdio\r\n",
        "\r\nX-Registration-Secret: real\r\n"}) {
    EXPECT_NE(head.find(kept), std::string::npos) << kept << " in " << head;
  }
  for (std::string_view dropped : {"hub:4444", "Bearer", "evil", "X-Hop", "Keep-Alive", "forged",
                                   "keep-alive", "Injected", "X-Bad"}) {
    EXPECT_EQ(head.find(dropped), std::string::npos) << dropped << " in " << head;
  }
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_EQ(head.find("\r\n\r\n"), head.size() - 4);
}

TEST(UpgradeRequestHeadTest, NeverSplitsTheHead) {
  const std::string head =
      UpgradeRequestHead({{"Upgrade", "web\r\nsocket"}}, "/a b\r\nX: y", "h:1\r\nX: z");
  EXPECT_EQ(head.find("\r\nX:"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << head;
}

TEST(IsWebSocketUpgradeTest, NeedsBothHeaders) {
  EXPECT_TRUE(
      IsWebSocketUpgrade({{"upgrade", "WebSocket"}, {"connection", "keep-alive, Upgrade"}}));
  EXPECT_TRUE(IsWebSocketUpgrade(
      {{"Connection", "keep-alive"}, {"Connection", "upgrade"}, {"Upgrade", "websocket"}}));
  EXPECT_FALSE(IsWebSocketUpgrade({{"Upgrade", "websocket"}}));
  EXPECT_FALSE(IsWebSocketUpgrade({{"Connection", "Upgrade"}}));
  EXPECT_FALSE(IsWebSocketUpgrade({{"Upgrade", "h2c"}, {"Connection", "Upgrade"}}));
  EXPECT_FALSE(IsWebSocketUpgrade({{"Upgrade", "websocket"}, {"Connection", "upgraded"}}));
  EXPECT_FALSE(IsWebSocketUpgrade({}));
}

TEST(ParseAnswerHeadTest, ReadsTheStatusLineAndWhereTheHeadEnds) {
  AnswerHead partial = ParseAnswerHead("HTTP/1.1 101 Switching");
  EXPECT_FALSE(partial.complete);
  EXPECT_FALSE(partial.valid);
  const std::string_view full =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
  AnswerHead head = ParseAnswerHead(full);
  EXPECT_TRUE(head.complete);
  EXPECT_TRUE(head.valid);
  EXPECT_EQ(head.status, 101);
  EXPECT_EQ(head.status_line, "HTTP/1.1 101 Switching Protocols");
  EXPECT_EQ(head.head_size, full.size() - 7);
  EXPECT_EQ(ParseAnswerHead("HTTP/1.0 404\r\n\r\n").status, 404);
  EXPECT_FALSE(ParseAnswerHead("HTTP/1.1 1O1 x\r\n\r\n").valid);
  EXPECT_FALSE(ParseAnswerHead("HTTP/1.1 1011 x\r\n\r\n").valid);
  EXPECT_FALSE(ParseAnswerHead("SSH-2.0-OpenSSH\r\n\r\n").valid);
  EXPECT_EQ(ParseAnswerHead("HTTP/1.1 500 a\x01z\r\n\r\n").status_line, "HTTP/1.1 500 a?z");
}

TEST(FailureAnswerTest, IsAW3CErrorThatCloses) {
  const std::string answer = FailureAnswer(502, "upstream refused: HTTP/1.1 404 Not Found");
  EXPECT_EQ(answer.find("HTTP/1.1 502 Bad Gateway\r\n"), 0u);
  EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos);
  const size_t body_at = answer.find("\r\n\r\n") + 4;
  const std::string body = answer.substr(body_at);
  EXPECT_NE(answer.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["value"]["error"], "unknown error");
  EXPECT_EQ(json["value"]["message"], "upstream refused: HTTP/1.1 404 Not Found");
  EXPECT_EQ(json["value"]["stacktrace"], "");
  EXPECT_EQ(FailureAnswer(503, "x").find("HTTP/1.1 503 "), 0u);
  EXPECT_EQ(FailureAnswer(200, "x").find("HTTP/1.1 502 "), 0u);  // never a success
}

TEST(RelayBufferTest, HoldsWithinTheBoundAndGivesStorageBackWhenDrained) {
  RelayBuffer buffer;
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_EQ(buffer.room(8), 8u);
  char* at = buffer.PrepareRead(8);
  std::memcpy(at, "abcdef", 6);
  buffer.CommitRead(6);
  EXPECT_EQ(buffer.pending(), "abcdef");
  EXPECT_EQ(buffer.room(8), 2u);
  buffer.Consume(4);
  EXPECT_EQ(buffer.pending(), "ef");
  std::memcpy(buffer.PrepareRead(6), "ghijkl", 6);
  buffer.CommitRead(6);
  EXPECT_EQ(buffer.pending(), "efghijkl");
  EXPECT_EQ(buffer.room(8), 0u);
  buffer.Append(std::string(100, 'x'));  // a head: allowed past the bound
  EXPECT_EQ(buffer.size(), 108u);
  EXPECT_GT(buffer.capacity(), 0u);
  buffer.Consume(108);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
  buffer.PrepareRead(TunnelPump::kBufferSize);
  buffer.CommitRead(0);  // a read that brought nothing keeps nothing
  EXPECT_EQ(buffer.capacity(), 0u);
}

}  // namespace
}  // namespace gridhub::tunnel
