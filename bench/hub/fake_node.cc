// A fast fake W3C node for the hub benchmark: creates sessions instantly, answers every command
// with a small JSON body — but GET .../screenshot with a large one, as a browser's screenshot
// is (GRIDHUB_FAKE_SCREENSHOT_BYTES of base64-like text, default 5 MiB) — and prints
// `fake node listening on http://127.0.0.1:PORT`.
//
//   gridhub_fake_node [threads]

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "http/http_server.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::atomic<uint64_t> next_id{1};
  const char* screenshot_size = std::getenv("GRIDHUB_FAKE_SCREENSHOT_BYTES");
  const std::string screenshot =
      R"({"value":")" +
      std::string(
          screenshot_size != nullptr ? std::strtoul(screenshot_size, nullptr, 10) : size_t{5} << 20,
          'A') +
      R"("})";
  gridhub::http::HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = threads},
      [&](gridhub::http::ServerRequest request, gridhub::http::Responder responder) {
        if (request.method == "POST" && request.path == "/session") {
          std::string id = "fake" + std::to_string(next_id.fetch_add(1));
          responder.Send(200, R"({"value":{"sessionId":")" + id +
                                  R"(","capabilities":{"browserName":"chrome"}}})");
        } else if (request.method == "GET" && request.path.ends_with("/screenshot")) {
          responder.Send(200, screenshot);
        } else if (request.path == "/status") {
          responder.Send(200, R"({"value":{"ready":true,"message":"fake"}})");
        } else {
          responder.Send(200, R"({"value":"https://example.test/"})");
        }
      });
  if (auto started = server.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("fake node listening on http://127.0.0.1:%u\n", server.port());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server.Stop();
  return 0;
}
