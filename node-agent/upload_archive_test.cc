#include "node-agent/upload_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace gridhub::node {
namespace {

constexpr uint64_t kMax = 1 << 20;

struct Entry {
  std::string name;
  std::string contents;
  bool directory = false;
  std::optional<uint32_t> unix_mode;  // e.g. S_IFLNK | 0777
  bool stored = false;                // no compression
  const char* password = nullptr;
};

// A zip built in memory with libzip, as a binding would send it (before base64).
std::string BuildZip(const std::vector<Entry>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* target = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(target, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  zip_source_keep(target);
  for (const Entry& e : entries) {
    zip_int64_t index = 0;
    if (e.directory) {
      index = zip_dir_add(archive, e.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      zip_source_t* data = zip_source_buffer(archive, e.contents.data(), e.contents.size(), 0);
      index = zip_file_add(archive, e.name.c_str(), data, ZIP_FL_ENC_UTF_8);
    }
    EXPECT_GE(index, 0) << zip_strerror(archive);
    auto i = static_cast<zip_uint64_t>(index);
    if (e.unix_mode) {
      zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, *e.unix_mode << 16);
    }
    if (e.stored) zip_set_file_compression(archive, i, ZIP_CM_STORE, 0);
    if (e.password != nullptr) {
      EXPECT_EQ(zip_file_set_encryption(archive, i, ZIP_EM_AES_256, e.password), 0);
    }
  }
  EXPECT_EQ(zip_close(archive), 0);
  std::string out;
  zip_source_open(target);
  std::array<char, 4096> chunk;
  zip_int64_t n = 0;
  while ((n = zip_source_read(target, chunk.data(), chunk.size())) > 0) out.append(chunk.data(), n);
  zip_source_close(target);
  zip_source_free(target);
  zip_error_fini(&error);
  return out;
}

std::string OneFile(const std::string& name, const std::string& contents) {
  return BuildZip({{.name = name, .contents = contents}});
}

// The extracted bytes, or the refusal message.
struct Extracted {
  bool ok = false;
  std::string bytes;
  std::string message;
};
Extracted Extract(const std::string& zip, uint64_t max = kMax) {
  Extracted out;
  Status status = ExtractUpload(zip, max, [&](std::string_view chunk) {
    out.bytes.append(chunk);
    return true;
  });
  out.ok = status.ok();
  if (!status.ok()) out.message = status.error().message;
  return out;
}

void ExpectRefused(const std::string& zip, const std::string& reason) {
  Result<UploadEntry> entry = InspectUpload(zip, kMax);
  ASSERT_FALSE(entry.ok());
  EXPECT_EQ(entry.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(entry.error().message.find(reason), std::string::npos) << entry.error().message;
  Extracted extracted = Extract(zip);
  EXPECT_FALSE(extracted.ok);
  EXPECT_TRUE(extracted.bytes.empty()) << "nothing is written for a refused upload";
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 7));
    Result<std::string> back = DecodeBase64(EncodeBase64(bytes));
    ASSERT_TRUE(back.ok()) << i;
    EXPECT_EQ(*back, bytes);
  }
}

TEST(Base64, KnownValues) {
  EXPECT_EQ(EncodeBase64(""), "");
  EXPECT_EQ(EncodeBase64("f"), "Zg==");
  EXPECT_EQ(EncodeBase64("fo"), "Zm8=");
  EXPECT_EQ(EncodeBase64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*DecodeBase64("Zm9vYg=="), "foob");
}

TEST(Base64, SkipsLineBreaksAndAcceptsMissingPadding) {
  // Python's base64.encodebytes breaks lines at 76 characters and ends with a newline.
  EXPECT_EQ(*DecodeBase64("Zm9v\nYmFy\n"), "foobar");
  EXPECT_EQ(*DecodeBase64("Zm9v\r\nYg=\r\n="), "foob");
  EXPECT_EQ(*DecodeBase64("Zm9vYg"), "foob");
  EXPECT_EQ(*DecodeBase64("Zm9vYmE"), "fooba");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  for (const char* bad :
       {"Zm9v!", "Zm9vY", "=Zm9", "Zm==9v", "Zg===", "Zm9v-_", "Zg=a", "\xc3\xa9"}) {
    Result<std::string> decoded = DecodeBase64(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(decoded.error().message.find("not base64"), std::string::npos);
  }
}

TEST(InspectUpload, TakesOneFileAndExtractsIt) {
  std::string zip = OneFile("report.txt", "hello upload");
  Result<UploadEntry> entry = InspectUpload(zip, kMax);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->name, "report.txt");
  EXPECT_EQ(entry->declared_size, 12u);
  Extracted extracted = Extract(zip);
  ASSERT_TRUE(extracted.ok) << extracted.message;
  EXPECT_EQ(extracted.bytes, "hello upload");
}

TEST(InspectUpload, EmptyFileIsFine) {
  std::string zip = OneFile("empty.bin", "");
  ASSERT_TRUE(InspectUpload(zip, kMax).ok());
  Extracted extracted = Extract(zip);
  EXPECT_TRUE(extracted.ok) << extracted.message;
  EXPECT_EQ(extracted.bytes, "");
}

TEST(InspectUpload, UnicodeNameIsFine) {
  std::string name = "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x84.pdf";
  Result<UploadEntry> entry = InspectUpload(OneFile(name, "x"), kMax);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->name, name);
}

TEST(InspectUpload, StoredAndLargeDeflatedFilesExtractWhole) {
  std::string big(300000, 'a');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  Extracted deflated = Extract(OneFile("big.txt", big));
  ASSERT_TRUE(deflated.ok) << deflated.message;
  EXPECT_EQ(deflated.bytes, big);
  Extracted stored = Extract(BuildZip({{.name = "s.txt", .contents = big, .stored = true}}));
  ASSERT_TRUE(stored.ok) << stored.message;
  EXPECT_EQ(stored.bytes, big);
}

TEST(InspectUpload, RefusesZipSlipNames) {
  ExpectRefused(OneFile("../x", "evil"), "path separator");
  ExpectRefused(OneFile("../../etc/cron.d/x", "evil"), "path separator");
  ExpectRefused(OneFile("/etc/x", "evil"), "absolute path");
  ExpectRefused(OneFile("..", "evil"), "escapes");
  ExpectRefused(OneFile("a\\..\\x", "evil"), "path separator");
  ExpectRefused(OneFile("sub/x.txt", "nested"), "path separator");
}

TEST(InspectUpload, RefusesSymlinkEntries) {
  ExpectRefused(
      BuildZip({{.name = "link", .contents = "/etc/passwd", .unix_mode = S_IFLNK | 0777}}),
      "symbolic link");
}

TEST(InspectUpload, RefusesOtherFileTypes) {
  ExpectRefused(BuildZip({{.name = "fifo", .contents = "", .unix_mode = S_IFIFO | 0644}}),
                "not a regular file");
  // A regular-file mode is fine.
  EXPECT_TRUE(
      InspectUpload(BuildZip({{.name = "f", .contents = "x", .unix_mode = S_IFREG | 0644}}), kMax)
          .ok());
}

TEST(InspectUpload, RefusesDirectoryEntries) {
  ExpectRefused(BuildZip({{.name = "folder", .directory = true}}), "directory");
  ExpectRefused(BuildZip({{.name = "folder", .contents = "", .unix_mode = S_IFDIR | 0755}}),
                "directory");
}

TEST(InspectUpload, RefusesAnythingButOneEntry) {
  ExpectRefused(BuildZip({{.name = "a", .contents = "1"}, {.name = "b", .contents = "2"}}),
                "exactly one file; it holds 2");
  // An empty archive is its end-of-central-directory record alone.
  ExpectRefused(std::string("PK\x05\x06", 4) + std::string(18, '\0'),
                "exactly one file; it holds 0");
  ExpectRefused(BuildZip({{.name = "d", .directory = true}, {.name = "d/f", .contents = "1"}}),
                "exactly one file");
}

TEST(InspectUpload, RefusesWhatIsNotAZip) {
  ExpectRefused("", "not a zip");
  ExpectRefused("hello, this is text", "not a zip");
  std::string zip = OneFile("a.txt", "contents");
  ExpectRefused(zip.substr(0, zip.size() / 2), "not a zip");
}

TEST(InspectUpload, RefusesEncryptedEntries) {
  ExpectRefused(BuildZip({{.name = "secret", .contents = "data", .password = "pw"}}), "encrypted");
}

TEST(InspectUpload, RefusesDeclaredOversize) {
  std::string zip = OneFile("big.bin", std::string(5000, 'z'));
  Result<UploadEntry> entry = InspectUpload(zip, 4999);
  ASSERT_FALSE(entry.ok());
  EXPECT_NE(entry.error().message.find("larger than node.max-upload (4.9 KiB unpacked)"),
            std::string::npos)
      << entry.error().message;
  EXPECT_TRUE(InspectUpload(zip, 5000).ok()) << "the limit itself is allowed";
  Extracted extracted = Extract(zip, 4999);
  EXPECT_FALSE(extracted.ok);
  EXPECT_TRUE(extracted.bytes.empty());
}

// Rewrites every uncompressed-size field of a one-entry zip (local header and central
// directory) to `size`, as a hostile client could.
std::string WithDeclaredSize(std::string zip, uint32_t size) {
  auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) zip[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  size_t local = zip.find(std::string("PK\x03\x04", 4));
  size_t central = zip.find(std::string("PK\x01\x02", 4));
  EXPECT_NE(local, std::string::npos);
  EXPECT_NE(central, std::string::npos);
  put32(local + 22);
  put32(central + 24);
  return zip;
}

TEST(InspectUpload, RefusesActualOversizeWhateverTheHeadersSay) {
  std::string zip = WithDeclaredSize(OneFile("bomb.bin", std::string(200000, '\0')), 10);
  Result<UploadEntry> entry = InspectUpload(zip, 1000);
  ASSERT_TRUE(entry.ok()) << entry.error().message;  // the lie passes the header check...
  EXPECT_EQ(entry->declared_size, 10u);
  Extracted extracted = Extract(zip, 1000);
  EXPECT_FALSE(extracted.ok);  // ...but not extraction
  EXPECT_LE(extracted.bytes.size(), 1000u) << "never more than the limit reaches the sink";
  EXPECT_NE(extracted.message.find("larger than node.max-upload"), std::string::npos)
      << extracted.message;
}

TEST(InspectUpload, RefusesCorruptData) {
  std::string zip =
      BuildZip({{.name = "s.txt", .contents = std::string(1000, 'q'), .stored = true}});
  size_t at = zip.find(std::string(100, 'q'));
  ASSERT_NE(at, std::string::npos);
  zip[at + 10] = 'X';  // the CRC no longer matches
  Extracted extracted = Extract(zip);
  EXPECT_FALSE(extracted.ok);
  EXPECT_NE(extracted.message.find("corrupt"), std::string::npos) << extracted.message;
}

TEST(InspectUpload, RefusesBadNames) {
  ExpectRefused(OneFile(std::string(256, 'n'), "x"), "longer than 255");
  ExpectRefused(OneFile("tab\tname", "x"), "control characters");
}

TEST(ExtractUpload, StopsWhenTheSinkFails) {
  Status status = ExtractUpload(OneFile("a", "abc"), kMax, [](std::string_view) { return false; });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
}

TEST(ZipOneFile, RoundTripsThroughTheUploadReader) {
  std::string contents = "%PDF-1.4 pretend";
  Result<std::string> zip = ZipOneFile("a.pdf", contents);
  ASSERT_TRUE(zip.ok()) << zip.error().message;
  Result<UploadEntry> entry = InspectUpload(*zip, kMax);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->name, "a.pdf");
  EXPECT_EQ(Extract(*zip).bytes, contents);
  Result<std::string> empty = ZipOneFile("e", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Extract(*empty).bytes, "");
}

TEST(HumanSize, ReadsAsPeopleWrite) {
  EXPECT_EQ(HumanSize(0), "0 bytes");
  EXPECT_EQ(HumanSize(1), "1 byte");
  EXPECT_EQ(HumanSize(1023), "1023 bytes");
  EXPECT_EQ(HumanSize(1024), "1 KiB");
  EXPECT_EQ(HumanSize(size_t{256} << 20), "256 MiB");
  EXPECT_EQ(HumanSize(1536), "1.5 KiB");
  EXPECT_EQ(HumanSize(size_t{3} << 30), "3 GiB");
}

}  // namespace
}  // namespace gridhub::node
