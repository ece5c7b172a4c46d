#include "node-agent/session_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "http/json_body.h"
#include "node-agent/upload_archive.h"

namespace gridhub::node {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kUpload = "/se/file";
constexpr std::string_view kDownloads = "/se/files";
// Suffixes browsers give a download still in progress: Chromium, Firefox, Safari, and the
// temporary name some write first.
constexpr std::string_view kPartialSuffixes[] = {".crdownload", ".part", ".download", ".tmp"};

Error Internal(const std::string& what, const std::string& why) {
  return Error{ErrorCode::kInternal, what + ": " + why};
}

std::string Errno() { return std::strerror(errno); }

// Writes all of `chunk` to `fd`.
bool WriteAll(int fd, std::string_view chunk) {
  while (!chunk.empty()) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    chunk.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The regular file `path` (never through a symlink), read whole when at most `max` bytes.
Result<std::string> ReadRegularFile(const fs::path& path, uint64_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Error{ErrorCode::kNoSuchFile, ""};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{ErrorCode::kNoSuchFile, ""};
  }
  if (static_cast<uint64_t>(st.st_size) > max) {
    ::close(fd);
    return Error{ErrorCode::kPayloadTooLarge, "the file is " +
                                                  HumanSize(static_cast<uint64_t>(st.st_size)) +
                                                  "; the node answers at most " + HumanSize(max) +
                                                  " (server.max-body, base64 zip included)"};
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);  // a file that shrank while read is sent as it was then
  return out;
}

Error Unsupported() {
  return Error{ErrorCode::kUnsupportedOperation,
               "managed downloads are not enabled for this session: set `downloads: true` on "
               "the node's slot and ask for `se:downloadsEnabled: true` in the capabilities "
               "(docs/files.md)"};
}

// Every file name in `dir` (directories and symlinks left out).
std::vector<std::string> RegularFilesIn(const fs::path& dir, std::error_code& ec) {
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->symlink_status(type_ec).type() == fs::file_type::regular) {
      names.push_back(it->path().filename().string());
    }
  }
  return names;
}

}  // namespace

SessionFiles::SessionFiles(SessionFilesOptions options) : options_(std::move(options)) {}

std::string SessionFiles::DownloadDir(const std::string& session_dir) {
  return (fs::path(session_dir) / "downloads").string();
}

bool SessionFiles::Handles(std::string_view subpath) {
  return subpath == kUpload || subpath == kDownloads;
}

std::vector<std::string> SessionFiles::CompletedNames(std::vector<std::string> names) {
  std::erase_if(names, [](const std::string& name) {
    return std::any_of(std::begin(kPartialSuffixes), std::end(kPartialSuffixes),
                       [&](std::string_view suffix) { return name.ends_with(suffix); });
  });
  std::sort(names.begin(), names.end());
  return names;
}

Result<json> SessionFiles::Serve(std::string_view method, std::string_view subpath,
                                 std::string_view body) {
  MutexLock lock(mu_);
  if (closed_) return Error{ErrorCode::kInvalidSessionId, "the session has ended"};
  if (subpath == kUpload) {
    if (method != "POST") return Error{ErrorCode::kUnknownMethod, "use POST for /se/file"};
    return Upload(body);
  }
  if (method != "GET" && method != "POST" && method != "DELETE") {
    return Error{ErrorCode::kUnknownMethod, "use GET, POST or DELETE for /se/files"};
  }
  if (!options_.downloads) return Unsupported();
  if (method == "GET") return ListDownloads();
  if (method == "POST") return FetchDownload(body);
  return DeleteDownloads();
}

void SessionFiles::Close() {
  MutexLock lock(mu_);
  closed_ = true;
}

Result<json> SessionFiles::Upload(std::string_view body) {
  Result<json> parsed = http::ParseJsonBody(body);
  if (!parsed.ok()) return parsed.error();
  auto file = parsed->is_object() ? parsed->find("file") : parsed->end();
  if (!parsed->is_object() || file == parsed->end() || !file->is_string()) {
    return InvalidArgument(
        "file upload refused: the body needs \"file\": the base64 of a zip holding one file");
  }
  Result<std::string> zip = DecodeBase64(file->get_ref<const std::string&>());
  if (!zip.ok()) return InvalidArgument("file upload refused: " + zip.error().message);
  Result<UploadEntry> entry = InspectUpload(*zip, options_.max_upload);
  if (!entry.ok()) return entry.error();

  fs::path uploads = fs::absolute(fs::path(options_.session_dir)) / "uploads";
  std::string n = std::to_string(++uploads_);
  fs::path incoming = uploads / (".incoming-" + n);
  fs::path done = uploads / n;
  std::error_code ec;
  // Not create_directories: a session folder already removed must not come back.
  fs::create_directory(uploads, ec);
  if (!ec) fs::create_directory(incoming, ec);
  if (ec) return Internal("file upload: cannot create " + incoming.string(), ec.message());
  Status written = WriteUpload(*zip, incoming.string(), entry->name);
  if (written.ok()) fs::rename(incoming, done, ec);
  if (!written.ok() || ec) {
    std::error_code ignored;
    fs::remove_all(incoming, ignored);
    fs::remove(uploads, ignored);  // only when empty: earlier uploads stay
    if (!written.ok()) return written.error();
    return Internal("file upload: cannot rename into " + done.string(), ec.message());
  }
  return json((done / entry->name).string());
}

Status SessionFiles::WriteUpload(const std::string& zip, const std::string& dir,
                                 const std::string& name) {
  std::string path = (fs::path(dir) / name).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("file upload: cannot create " + path, Errno());
  Status extracted = ExtractUpload(zip, options_.max_upload,
                                   [fd](std::string_view chunk) { return WriteAll(fd, chunk); });
  if (::close(fd) != 0 && extracted.ok()) return Internal("file upload: writing " + path, Errno());
  return extracted;
}

Result<json> SessionFiles::ListDownloads() {
  std::error_code ec;
  std::vector<std::string> names =
      CompletedNames(RegularFilesIn(DownloadDir(options_.session_dir), ec));
  if (ec) return Internal("cannot list the download folder", ec.message());
  return json{{"names", names}};
}

Result<json> SessionFiles::FetchDownload(std::string_view body) {
  Result<json> parsed = http::ParseJsonBody(body);
  if (!parsed.ok()) return parsed.error();
  auto name = parsed->is_object() ? parsed->find("name") : parsed->end();
  if (!parsed->is_object() || name == parsed->end() || !name->is_string()) {
    return InvalidArgument("the body needs \"name\": a file name from GET /se/files");
  }
  const std::string& wanted = name->get_ref<const std::string&>();
  if (std::optional<std::string> why = FileNameProblem(wanted)) {
    return InvalidArgument("not a download name: " + *why);
  }
  // Base64 grows by 4/3 and the zip adds a little: keep the answer within server.max-body.
  constexpr uint64_t kZipOverhead = 4096;
  uint64_t base64_room = options_.max_answer / 4 * 3;
  uint64_t max_file = base64_room > kZipOverhead ? base64_room - kZipOverhead : 0;
  Result<std::string> contents =
      ReadRegularFile(fs::path(DownloadDir(options_.session_dir)) / wanted, max_file);
  if (!contents.ok() && contents.error().code == ErrorCode::kNoSuchFile) {
    return Error{ErrorCode::kNoSuchFile, "no downloaded file named " + wanted};
  }
  if (!contents.ok()) return contents.error();
  Result<std::string> zip = ZipOneFile(wanted, *contents);
  if (!zip.ok()) return zip.error();
  return json{{"filename", wanted}, {"contents", EncodeBase64(*zip)}};
}

Result<json> SessionFiles::DeleteDownloads() {
  fs::path dir = DownloadDir(options_.session_dir);
  std::error_code ec;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) return Internal("cannot list the download folder", ec.message());
  for (const fs::path& entry : entries) {
    fs::remove_all(entry, ec);  // a symlink is removed, never followed
    if (ec) return Internal("cannot remove " + entry.string(), ec.message());
  }
  return json(nullptr);
}

}  // namespace gridhub::node
