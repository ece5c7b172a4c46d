#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridhub::http {

// Header fields in arrival order; names keep their original case, lookups ignore it.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or "" when absent.
std::string_view FindHeader(const Headers& headers, std::string_view name);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// `text` without leading and trailing spaces and tabs (a field value's optional white space).
std::string_view TrimSpaces(std::string_view text);

// Whether the comma-separated header value `list` names `token` (case-insensitive), as in
// `Connection: keep-alive, Upgrade`.
bool ListHasToken(std::string_view list, std::string_view token);

// Whether `text` can go into a head as a name or value: no CR, LF or NUL, which would split it.
bool SafeForWire(std::string_view text);

// The pieces of a head both framers (request_head.h, response_framer.h) check the same way.
// A token (RFC 9110 §5.6.2): a method or a field name; no space, no separator.
bool IsToken(std::string_view s);
// A field value of visible characters, spaces, tabs and obs-text only (RFC 9110 §5.5).
bool CleanFieldValue(std::string_view value);
// A Content-Length: digits only (no sign, space or list), at most 18 of them (no overflow).
bool ParseLength(std::string_view value, size_t* out);
// The value of a hexadecimal digit, or -1.
int HexDigit(char c);

// The reason phrase written after a status code ("Bad Gateway" for 502); "Status" for a code
// without one here. Every head gridhub writes, answers and upgrade failures alike, uses it.
std::string_view ReasonPhrase(int status);

}  // namespace gridhub::http
