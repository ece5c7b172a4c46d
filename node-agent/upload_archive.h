#pragma once

// The archive formats of the node's file endpoints (DESIGN 4b), as pure functions over bytes:
// the base64 text Selenium's bindings send, the zip holding exactly one uploaded file (checked
// before anything is written: one entry, a plain name that stays in its folder, not a symlink
// or directory, not encrypted, declared size within the limit), its extraction into a sink
// that counts what it is given (a zip's headers can lie), and the one-file zip a managed
// download is answered with. No disk, no clock; libzip does the zip format.
//
//   Result<std::string> zip = DecodeBase64(body["file"]);
//   Result<UploadEntry> entry = InspectUpload(*zip, max_upload);   // refusals: kInvalidArgument
//   Status done = ExtractUpload(*zip, max_upload, [&](std::string_view chunk) {
//     return out.write(chunk.data(), chunk.size()).good();
//   });
//   Result<std::string> answer = ZipOneFile("a.pdf", contents);     // then EncodeBase64

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::node {

// Standard base64 (RFC 4648 alphabet). Whitespace anywhere is skipped (Python's
// base64.encodebytes breaks lines every 76 characters); the trailing `=` padding may be left
// out. Anything else is kInvalidArgument naming the first bad character's offset.
Result<std::string> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

// The one file an upload zip holds, as its headers declare it.
struct UploadEntry {
  std::string name;            // a plain file name (UTF-8), no separators
  uint64_t declared_size = 0;  // uncompressed, from the central directory
};

// Checks `zip` (the decoded bytes) as an upload: a readable zip archive with exactly one entry,
// a regular file (not a directory or symlink, by name and by Unix/DOS attributes), not
// encrypted, whose name is a plain file name that cannot escape the folder it is written to (no
// `/`, `\`, NUL or control characters, not `.` or `..`, at most 255 bytes), and whose declared
// uncompressed size is at most `max_size`. Every refusal is kInvalidArgument naming the reason;
// the size refusal names the limit ("larger than node.max-upload (256 MiB)").
Result<UploadEntry> InspectUpload(std::string_view zip, uint64_t max_size);

// The uncompressed bytes of `zip`'s entry, handed to `write` in chunks (false = stop: write
// failed). Runs InspectUpload first; refuses (kInvalidArgument) once more than `max_size` bytes
// come out, whatever the headers said, or when the data is corrupt (CRC, truncated). On any
// error the caller discards what it wrote.
Status ExtractUpload(std::string_view zip, uint64_t max_size,
                     const std::function<bool(std::string_view chunk)>& write);

// Why `name` may not stand as a file of its own in a folder (a separator, `.`/`..`, absolute,
// empty, over 255 bytes, not clean UTF-8), or nullopt. Used for uploads and download names.
std::optional<std::string> FileNameProblem(std::string_view name);

// A zip archive holding one file `name` with `contents` (deflated), as managed downloads are
// answered; kInternal if libzip fails.
Result<std::string> ZipOneFile(const std::string& name, std::string_view contents);

// "256 MiB", "1.5 KiB", "300 bytes": a limit as people read it.
std::string HumanSize(uint64_t bytes);

}  // namespace gridhub::node
