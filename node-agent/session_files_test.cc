#include "node-agent/session_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "node-agent/upload_archive.h"

namespace gridhub::node {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class SessionFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/session-files-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::create_directory(dir_ / "downloads");
  }
  void TearDown() override { fs::remove_all(dir_); }

  SessionFiles Files(bool downloads, uint64_t max_upload = 1 << 20) {
    return SessionFiles({.session_dir = dir_.string(),
                         .downloads = downloads,
                         .max_upload = max_upload,
                         .max_answer = 1 << 20});
  }

  static std::string UploadBody(const std::string& name, const std::string& contents) {
    Result<std::string> zip = ZipOneFile(name, contents);
    EXPECT_TRUE(zip.ok());
    return json{{"file", EncodeBase64(*zip)}}.dump();
  }

  // Every path under the session folder, for "nothing left behind" checks.
  std::set<std::string> Tree() const {
    std::set<std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      out.insert(fs::relative(entry.path(), dir_).string());
    }
    return out;
  }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }

  void Drop(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ / "downloads" / name, std::ios::binary) << contents;
  }

  fs::path dir_;
};

TEST_F(SessionFilesTest, UploadWritesTheFileAndAnswersItsAbsolutePath) {
  SessionFiles files = Files(false);
  Result<json> first = files.Serve("POST", "/se/file", UploadBody("a.txt", "first"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  fs::path path = first->get<std::string>();
  EXPECT_TRUE(path.is_absolute());
  EXPECT_EQ(path.filename(), "a.txt");
  EXPECT_EQ(path.parent_path().parent_path(), dir_ / "uploads");
  EXPECT_EQ(Read(path), "first");
  // The same name again gets a folder of its own.
  Result<json> second = files.Serve("POST", "/se/file", UploadBody("a.txt", "second"));
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *first);
  EXPECT_EQ(Read(second->get<std::string>()), "second");
  EXPECT_EQ(Read(path), "first");
}

TEST_F(SessionFilesTest, RefusedUploadsLeaveNothing) {
  SessionFiles files = Files(false, 100);
  std::set<std::string> before = Tree();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"file": "@@@"})", "not base64"},
      {R"({"file": "aGVsbG8="})", "not a zip"},
      {R"({})", "needs \"file\""},
      {R"({"file": 5})", "needs \"file\""},
      {"not json", "JSON"},
      {UploadBody("../escape", "x"), "path separator"},
      {UploadBody("big", std::string(101, 'b')), "larger than node.max-upload (100 bytes"},
  };
  for (const auto& [body, reason] : cases) {
    Result<json> answer = files.Serve("POST", "/se/file", body);
    ASSERT_FALSE(answer.ok()) << reason;
    EXPECT_EQ(answer.error().code, ErrorCode::kInvalidArgument) << reason;
    EXPECT_NE(answer.error().message.find(reason), std::string::npos) << answer.error().message;
    EXPECT_EQ(Tree(), before) << reason;
  }
}

TEST_F(SessionFilesTest, DownloadsNeedTheSlotSetting) {
  SessionFiles files = Files(false);
  for (const char* method : {"GET", "POST", "DELETE"}) {
    Result<json> answer = files.Serve(method, "/se/files", R"({"name": "a"})");
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(answer.error().code, ErrorCode::kUnsupportedOperation);
    EXPECT_NE(answer.error().message.find("downloads: true"), std::string::npos);
    EXPECT_NE(answer.error().message.find("se:downloadsEnabled"), std::string::npos);
  }
}

TEST_F(SessionFilesTest, ListsFetchesAndDeletesCompletedDownloads) {
  SessionFiles files = Files(true);
  Drop("b.pdf", "%PDF b");
  Drop("a.txt", "alpha");
  Drop("big.iso.crdownload", "partial");
  fs::create_directory(dir_ / "downloads" / "folder");
  fs::create_symlink("/etc/passwd", dir_ / "downloads" / "link");
  Result<json> list = files.Serve("GET", "/se/files", "");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(*list, json({{"names", {"a.txt", "b.pdf"}}}));

  Result<json> fetched = files.Serve("POST", "/se/files", R"({"name": "b.pdf"})");
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  EXPECT_EQ((*fetched)["filename"], "b.pdf");
  Result<std::string> zip = DecodeBase64((*fetched)["contents"].get<std::string>());
  ASSERT_TRUE(zip.ok());
  std::string unpacked;
  ASSERT_TRUE(ExtractUpload(*zip, 1 << 20, [&](std::string_view c) {
                unpacked.append(c);
                return true;
              }).ok());
  EXPECT_EQ(unpacked, "%PDF b");

  Result<json> gone = files.Serve("DELETE", "/se/files", "");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->is_null());
  EXPECT_TRUE(fs::is_empty(dir_ / "downloads"));
  EXPECT_TRUE(fs::exists("/etc/passwd")) << "a symlink is removed, not followed";
  EXPECT_EQ(*files.Serve("GET", "/se/files", ""), json({{"names", json::array()}}));
}

TEST_F(SessionFilesTest, DownloadNamesAreCheckedAndLookedUp) {
  SessionFiles files = Files(true);
  fs::create_symlink("/etc/passwd", dir_ / "downloads" / "link");
  struct Case {
    std::string body;
    ErrorCode code;
  };
  for (const Case& c :
       std::vector<Case>{{R"({"name": "../uploads"})", ErrorCode::kInvalidArgument},
                         {R"({"name": "/etc/passwd"})", ErrorCode::kInvalidArgument},
                         {R"({"name": ".."})", ErrorCode::kInvalidArgument},
                         {R"({"name": 3})", ErrorCode::kInvalidArgument},
                         {R"({})", ErrorCode::kInvalidArgument},
                         {R"({"name": "missing.pdf"})", ErrorCode::kNoSuchFile},
                         {R"({"name": "link"})", ErrorCode::kNoSuchFile}}) {
    Result<json> answer = files.Serve("POST", "/se/files", c.body);
    ASSERT_FALSE(answer.ok()) << c.body;
    EXPECT_EQ(answer.error().code, c.code) << c.body << ": " << answer.error().message;
  }
}

TEST_F(SessionFilesTest, WrongMethodsAndClosing) {
  SessionFiles files = Files(true);
  EXPECT_EQ(files.Serve("GET", "/se/file", "").error().code, ErrorCode::kUnknownMethod);
  EXPECT_EQ(files.Serve("PUT", "/se/files", "").error().code, ErrorCode::kUnknownMethod);
  files.Close();
  EXPECT_EQ(files.Serve("GET", "/se/files", "").error().code, ErrorCode::kInvalidSessionId);
  fs::remove_all(dir_);
  Result<json> late = files.Serve("POST", "/se/file", UploadBody("a", "x"));
  EXPECT_FALSE(late.ok());
  EXPECT_FALSE(fs::exists(dir_)) << "a closed session's folder never comes back";
}

TEST_F(SessionFilesTest, UploadIntoARemovedFolderDoesNotRecreateIt) {
  SessionFiles files = Files(false);
  fs::remove_all(dir_);
  Result<json> answer = files.Serve("POST", "/se/file", UploadBody("a", "x"));
  EXPECT_FALSE(answer.ok());
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(SessionFilesTest, ADownloadLargerThanAnAnswerIs413) {
  SessionFiles files({.session_dir = dir_.string(), .downloads = true, .max_answer = 8192});
  Drop("small.txt", std::string(1000, 's'));
  Drop("large.bin", std::string(3000, 'l'));
  EXPECT_TRUE(files.Serve("POST", "/se/files", R"({"name": "small.txt"})").ok());
  Result<json> large = files.Serve("POST", "/se/files", R"({"name": "large.bin"})");
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_NE(large.error().message.find("server.max-body"), std::string::npos);
  // A limit smaller than the zip's own overhead refuses every file rather than wrap around.
  SessionFiles tiny({.session_dir = dir_.string(), .downloads = true, .max_answer = 100});
  EXPECT_EQ(tiny.Serve("POST", "/se/files", R"({"name": "small.txt"})").error().code,
            ErrorCode::kPayloadTooLarge);
}

TEST(SessionFilesStatic, RoutesAndPartialNames) {
  EXPECT_TRUE(SessionFiles::Handles("/se/file"));
  EXPECT_TRUE(SessionFiles::Handles("/se/files"));
  EXPECT_FALSE(SessionFiles::Handles("/se/files/x"));
  EXPECT_FALSE(SessionFiles::Handles("/url"));
  EXPECT_EQ(SessionFiles::CompletedNames({"z.txt", "a.crdownload", "b.part", "c.pdf"}),
            (std::vector<std::string>{"c.pdf", "z.txt"}));
  EXPECT_EQ(SessionFiles::DownloadDir("/w/session-1"), "/w/session-1/downloads");
}

}  // namespace
}  // namespace gridhub::node
