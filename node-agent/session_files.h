#pragma once

// One session's files on the node (DESIGN 4b): the upload folder behind
// `POST /session/{id}/se/file` and, on a slot with `downloads: true`, the managed download folder
// behind `GET|POST|DELETE /session/{id}/se/files`. Both live in the session's own directory,
// which the launcher removes when the session ends; Close() runs first, so no request writes
// into a folder while it is being removed.
//
//   SessionFiles files({.session_dir = "/w/session-3", .downloads = true});
//   if (SessionFiles::Handles(subpath)) {               // "/se/file" or "/se/files"
//     Result<nlohmann::json> value = files.Serve("POST", "/se/file", body);  // blocks: disk
//   }
//   files.Close();                                      // session ending: waits, then refuses
//
// An upload is checked whole before anything is written (upload_archive.h), then written to a
// hidden temporary folder and renamed into place, so a refused or failed upload leaves nothing.
// Each upload gets a folder of its own (uploads/<n>/<name>): two uploads of a.txt do not clash.
// Thread-safe; requests of one session run one at a time.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"

namespace gridhub::node {

struct SessionFilesOptions {
  std::string session_dir;  // exists; uploads/ and downloads/ go in it
  bool downloads = false;   // the slot manages downloads (downloads/ made by the launcher)
  uint64_t max_upload = uint64_t{256} << 20;  // node.max-upload, unpacked
  uint64_t max_answer = uint64_t{64} << 20;   // server.max-body: largest answer sent
};

class SessionFiles {
 public:
  explicit SessionFiles(SessionFilesOptions options);

  // session_dir/downloads: the folder the browser is told to save into.
  static std::string DownloadDir(const std::string& session_dir);
  // Whether `subpath` (the path after /session/{id}) is one of these endpoints.
  static bool Handles(std::string_view subpath);
  // Download folder entries that are complete files, not a browser's partial download
  // (.crdownload, .part, .download, .tmp): what GET /se/files lists. Sorted; pure.
  static std::vector<std::string> CompletedNames(std::vector<std::string> names);

  // The W3C `value` for one request, or the error to answer: kInvalidArgument (bad body,
  // refused upload, escaping name), kUnsupportedOperation (downloads not enabled), kNoSuchFile,
  // kUnknownMethod, kInvalidSessionId once closed, kInternal for disk failures.
  Result<nlohmann::json> Serve(std::string_view method, std::string_view subpath,
                               std::string_view body) EXCLUDES(mu_);

  // Waits for a request in progress, then refuses every later one. Idempotent.
  void Close() EXCLUDES(mu_);

 private:
  Result<nlohmann::json> Upload(std::string_view body) REQUIRES(mu_);
  Result<nlohmann::json> ListDownloads() REQUIRES(mu_);
  Result<nlohmann::json> FetchDownload(std::string_view body) REQUIRES(mu_);
  Result<nlohmann::json> DeleteDownloads() REQUIRES(mu_);
  Status WriteUpload(const std::string& zip, const std::string& dir, const std::string& name)
      REQUIRES(mu_);

  const SessionFilesOptions options_;
  Mutex mu_;  // held for a whole request: disk work, but only this session's
  bool closed_ GUARDED_BY(mu_) = false;
  uint64_t uploads_ GUARDED_BY(mu_) = 0;
};

}  // namespace gridhub::node
