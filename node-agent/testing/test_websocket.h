#pragma once

// Test helper: the client end of one WebSocket on loopback, written by hand (RFC 6455: masked
// client frames, 7/16/64-bit lengths) so tests need no library. Blocking with timeouts; not
// thread-safe.
//
//   TestWebSocket ws;
//   ASSERT_EQ(ws.Connect(port, "/session/S/se/bidi", {{"X-Registration-Secret", "s"}}), 101);
//   ws.SendText("hello");
//   EXPECT_EQ(ws.ReadMessage(), "hello");
//   EXPECT_TRUE(ws.WaitClosedByPeer(5s));

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "http/http_types.h"

namespace gridhub::node::test_support {

class TestWebSocket {
 public:
  TestWebSocket() = default;
  ~TestWebSocket() { Close(); }
  TestWebSocket(const TestWebSocket&) = delete;
  TestWebSocket& operator=(const TestWebSocket&) = delete;

  // Sends the upgrade request; the answer's status (0 when none came), its whole head and body
  // (up to what arrived within the timeout) in answer().
  int Connect(uint16_t port, const std::string& path, const http::Headers& extra = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 0;
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
    for (const auto& [name, value] : extra) request += name + ": " + value + "\r\n";
    request += "\r\n";
    if (!WriteAll(request)) return 0;
    size_t end = std::string::npos;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout)) return 0;
    }
    answer_ = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    int status = std::atoi(answer_.c_str() + answer_.find(' ') + 1);
    if (status != 101) {
      while (Fill(std::chrono::milliseconds(200))) {
      }
      answer_ += buffer_;  // an error's body
      buffer_.clear();
    }
    return status;
  }
  const std::string& answer() const { return answer_; }

  bool SendText(std::string_view payload) { return SendFrame(0x1, payload); }
  bool SendFrame(int opcode, std::string_view payload, bool fin = true) {
    std::string frame(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
    size_t n = payload.size();
    if (n < 126) {
      frame += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      frame += static_cast<char>(0x80 | 126);
      for (int shift = 8; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
    }
    char mask[4];
    for (char& m : mask) m = static_cast<char>(random_() & 0xff);
    frame.append(mask, 4);
    for (size_t i = 0; i < n; ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
    return WriteAll(frame);
  }

  // The next frame's opcode and payload; nullopt at EOF or timeout.
  std::optional<std::pair<int, std::string>> ReadFrame(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    while (true) {
      if (buffer_.size() >= 2) {
        size_t length = static_cast<unsigned char>(buffer_[1]) & 0x7f;
        size_t head = 2;
        if (length == 126 || length == 127) {
          size_t bytes = length == 126 ? 2 : 8;
          if (buffer_.size() >= 2 + bytes) {
            length = 0;
            for (size_t i = 0; i < bytes; ++i) {
              length = (length << 8) | static_cast<unsigned char>(buffer_[2 + i]);
            }
            head += bytes;
          } else {
            head = 0;
          }
        }
        if (head != 0 && buffer_.size() >= head + length) {
          int opcode = static_cast<unsigned char>(buffer_[0]) & 0x0f;
          std::string payload = buffer_.substr(head, length);
          buffer_.erase(0, head + length);
          return std::make_pair(opcode, std::move(payload));
        }
      }
      if (!Fill(timeout)) return std::nullopt;
    }
  }
  // The payload of the next frame; "" at EOF or timeout.
  std::string ReadMessage(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto frame = ReadFrame(timeout);
    return frame ? frame->second : "";
  }

  // True when the peer ends the connection within `timeout` (frames before that are skipped).
  bool WaitClosedByPeer(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      buffer_.clear();
      if (!Fill(std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now()))) {
        return eof_;
      }
    }
    return false;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads what is there within `timeout`; false at EOF (eof_ set), error or timeout.
  bool Fill(std::chrono::milliseconds timeout) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::string answer_;
  std::minstd_rand random_{12345};
};

}  // namespace gridhub::node::test_support
