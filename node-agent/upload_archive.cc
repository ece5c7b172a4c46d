#include "node-agent/upload_archive.h"

#include <sys/stat.h>
#include <zip.h>

#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

namespace gridhub::node {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kMaxNameBytes = 255;  // NAME_MAX on Linux
constexpr size_t kChunk = size_t{64} << 10;
// MS-DOS attribute bits in the low byte of a zip entry's external attributes.
constexpr uint32_t kDosDirectory = 0x10;

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

Error Refused(std::string why) { return InvalidArgument("file upload refused: " + std::move(why)); }

std::string TooLarge(uint64_t max_size) {
  return "the file is larger than node.max-upload (" + HumanSize(max_size) + " unpacked)";
}

// Owns a read-only zip_t over bytes the caller keeps alive.
struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

Result<Archive> OpenArchive(std::string_view bytes) {
  // libzip reads no bytes at all as an empty archive; a client sending nothing sent no zip.
  if (bytes.empty()) return Refused("not a zip archive (no bytes)");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) {
    zip_error_fini(&error);
    return Refused("not a zip archive");
  }
  zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (archive == nullptr) {
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    zip_source_free(source);
    return Refused("not a zip archive (" + why + ")");
  }
  zip_error_fini(&error);
  return Archive(archive);
}

// Valid UTF-8 (no overlong forms, no surrogates) with no control characters.
bool IsCleanUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cont = static_cast<unsigned char>(s[i + k]);
      if ((cont >> 6) != 0x2) return false;
      cp = (cp << 6) | (cont & 0x3f);
    }
    static constexpr std::array<uint32_t, 5> kMinOf = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinOf[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::optional<std::string> FileNameProblem(std::string_view name) {
  if (name.empty()) return "the file has an empty name";
  if (name.back() == '/' || name.back() == '\\')
    return "the entry is a directory: " + std::string(name);
  if (name.front() == '/' || name.front() == '\\') {
    return "the file name is an absolute path: " + std::string(name);
  }
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return "the file name has a path separator (only a plain file name at the zip's root is "
           "taken): " +
           std::string(name);
  }
  if (name == "." || name == "..") return "the file name escapes its folder: " + std::string(name);
  if (name.size() > kMaxNameBytes) return "the file name is longer than 255 bytes";
  if (!IsCleanUtf8(name)) return "the file name is not clean UTF-8 (or has control characters)";
  return std::nullopt;
}

namespace {

// Why the entry's external attributes make it something other than a regular file.
std::optional<std::string> TypeProblem(zip_t* archive, const std::string& name) {
  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, 0, 0, &opsys, &attributes) != 0) {
    return std::nullopt;  // no attributes recorded: a plain file
  }
  if (opsys == ZIP_OPSYS_UNIX) {
    uint32_t type = (attributes >> 16) & S_IFMT;
    if (type == S_IFLNK) return "the entry is a symbolic link: " + name;
    if (type == S_IFDIR) return "the entry is a directory: " + name;
    if (type != 0 && type != S_IFREG) return "the entry is not a regular file: " + name;
  }
  if ((attributes & kDosDirectory) != 0) return "the entry is a directory: " + name;
  return std::nullopt;
}

// The checks of InspectUpload on an open archive.
Result<UploadEntry> Inspect(zip_t* archive, uint64_t max_size) {
  zip_int64_t count = zip_get_num_entries(archive, 0);
  if (count != 1) {
    return Refused("the zip must hold exactly one file; it holds " + std::to_string(count) +
                   " entries");
  }
  const char* raw_name = zip_get_name(archive, 0, ZIP_FL_ENC_GUESS);
  if (raw_name == nullptr) return Refused("the zip entry has no readable name");
  std::string name = raw_name;
  if (std::optional<std::string> why = FileNameProblem(name)) return Refused(*why);
  if (std::optional<std::string> why = TypeProblem(archive, name)) return Refused(*why);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive, 0, 0, &stat) != 0 || (stat.valid & ZIP_STAT_SIZE) == 0) {
    return Refused("the zip entry's size cannot be read");
  }
  if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && stat.encryption_method != ZIP_EM_NONE) {
    return Refused("the zip entry is encrypted");
  }
  if (stat.size > max_size) return Refused(TooLarge(max_size));
  return UploadEntry{.name = std::move(name), .declared_size = stat.size};
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t bits = 0;
  int held = 0;      // sextets in `bits`
  size_t quads = 0;  // data characters seen, for where padding may stand
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++padding;
      if (padding > 2 || quads % 4 < 2) {
        return InvalidArgument("not base64: misplaced '=' at offset " + std::to_string(i));
      }
      continue;
    }
    int v = Sextet(c);
    if (v < 0 || padding > 0) {
      return InvalidArgument("not base64: unexpected character at offset " + std::to_string(i));
    }
    ++quads;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++held == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      held = 0;
    }
  }
  if (held == 1) return InvalidArgument("not base64: truncated (a lone trailing character)");
  if (padding > 0 && (held + padding) != 4) {
    return InvalidArgument("not base64: wrong amount of '=' padding");
  }
  if (held == 2) out.push_back(static_cast<char>((bits >> 4) & 0xff));
  if (held == 3) {
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(n >> shift) & 0x3f]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 0x3f]);
    out.push_back(kAlphabet[(n >> 12) & 0x3f]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

Result<UploadEntry> InspectUpload(std::string_view zip, uint64_t max_size) {
  Result<Archive> archive = OpenArchive(zip);
  if (!archive.ok()) return archive.error();
  return Inspect(archive->get(), max_size);
}

Status ExtractUpload(std::string_view zip, uint64_t max_size,
                     const std::function<bool(std::string_view chunk)>& write) {
  Result<Archive> archive = OpenArchive(zip);
  if (!archive.ok()) return archive.error();
  if (Result<UploadEntry> entry = Inspect(archive->get(), max_size); !entry.ok()) {
    return entry.error();
  }
  zip_file_t* file = zip_fopen_index(archive->get(), 0, 0);
  if (file == nullptr) {
    return Refused(std::string("the zip entry cannot be read (") +
                   zip_error_strerror(zip_get_error(archive->get())) + ")");
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, zip_fclose);
  std::vector<char> buffer(kChunk);
  uint64_t total = 0;
  while (true) {
    zip_int64_t n = zip_fread(file, buffer.data(), buffer.size());
    if (n < 0) {
      return Refused(std::string("the zip entry is corrupt (") + zip_file_strerror(file) + ")");
    }
    if (n == 0) return Status::Ok();
    total += static_cast<uint64_t>(n);
    if (total > max_size) return Refused(TooLarge(max_size));
    if (!write(std::string_view(buffer.data(), static_cast<size_t>(n)))) {
      return Error{ErrorCode::kInternal, "file upload: writing the file failed"};
    }
  }
}

Result<std::string> ZipOneFile(const std::string& name, std::string_view contents) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* target = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = target ? zip_open_from_source(target, ZIP_TRUNCATE, &error) : nullptr;
  auto fail = [&](const std::string& what) -> Error {
    std::string why = what + ": " + zip_error_strerror(&error);
    zip_error_fini(&error);
    return Error{ErrorCode::kInternal, "cannot zip " + name + " (" + why + ")"};
  };
  if (archive == nullptr) {
    if (target != nullptr) zip_source_free(target);
    return fail("open");
  }
  zip_source_keep(target);  // read back after zip_close
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> keep(target, zip_source_free);
  zip_source_t* data = zip_source_buffer(archive, contents.data(), contents.size(), 0);
  if (data == nullptr || zip_file_add(archive, name.c_str(), data, ZIP_FL_ENC_UTF_8) < 0) {
    if (data != nullptr) zip_source_free(data);
    zip_error_set(&error, zip_error_code_zip(zip_get_error(archive)), 0);
    zip_discard(archive);
    return fail("add");
  }
  if (zip_close(archive) != 0) {
    zip_error_set(&error, zip_error_code_zip(zip_get_error(archive)), 0);
    zip_discard(archive);
    return fail("close");
  }
  zip_error_fini(&error);
  std::string out;
  if (zip_source_open(target) != 0) return Error{ErrorCode::kInternal, "cannot read zip back"};
  std::array<char, 8192> chunk;
  zip_int64_t n = 0;
  while ((n = zip_source_read(target, chunk.data(), chunk.size())) > 0) {
    out.append(chunk.data(), static_cast<size_t>(n));
  }
  zip_source_close(target);
  if (n < 0) return Error{ErrorCode::kInternal, "cannot read zip back"};
  return out;
}

std::string HumanSize(uint64_t bytes) {
  static constexpr std::array<const char*, 4> kUnits = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  value /= 1024;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (value == static_cast<double>(static_cast<uint64_t>(value))) {
    std::snprintf(text, sizeof(text), "%llu %s", static_cast<unsigned long long>(value),
                  kUnits[unit]);
  } else {
    std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

}  // namespace gridhub::node
