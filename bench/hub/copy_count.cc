// An LD_PRELOAD shim for bench/hub/copies.sh: counts the bytes that memcpy and memmove calls of
// at least 4 KiB move inside a process, and writes the totals to $GRIDHUB_COPY_COUNT_OUT when the
// process exits. Proxying one large answer through the hub, total / body size is how many times
// the hub copied that body in user space (the kernel's copies into and out of sockets are not
// counted). Calls that the compiler inlined or that libc makes internally are not seen; a body
// that size is always copied by a real call.

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr size_t kLarge = size_t{4} << 10;

std::atomic<unsigned long long> large_bytes{0};
std::atomic<unsigned long long> large_calls{0};

using CopyFn = void* (*)(void*, const void*, size_t);

CopyFn Resolve(const char* name) { return reinterpret_cast<CopyFn>(dlsym(RTLD_NEXT, name)); }

// Until dlsym has answered (it may copy memory itself), copy byte by byte.
void* SlowMove(void* to, const void* from, size_t n) {
  auto* d = static_cast<unsigned char*>(to);
  const auto* s = static_cast<const unsigned char*>(from);
  if (d < s) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    for (size_t i = n; i > 0; --i) d[i - 1] = s[i - 1];
  }
  return to;
}

void Count(size_t n) {
  if (n < kLarge) return;
  large_bytes.fetch_add(n, std::memory_order_relaxed);
  large_calls.fetch_add(1, std::memory_order_relaxed);
}

struct Report {
  ~Report() {
    const char* path = std::getenv("GRIDHUB_COPY_COUNT_OUT");
    if (path == nullptr) return;
    if (FILE* out = std::fopen(path, "w")) {
      std::fprintf(out, "%llu %llu\n", large_bytes.load(), large_calls.load());
      std::fclose(out);
    }
  }
} report;

// Counts the call and hands it to libc's `name`, resolved on first use.
void* CountAndCall(const char* name, CopyFn* real, std::atomic<bool>* resolving, void* to,
                   const void* from, size_t n) {
  if (*real == nullptr) {
    if (resolving->exchange(true)) return SlowMove(to, from, n);
    *real = Resolve(name);
  }
  Count(n);
  return (*real)(to, from, n);
}

}  // namespace

extern "C" void* memcpy(void* to, const void* from, size_t n) {
  static CopyFn real = nullptr;
  static std::atomic<bool> resolving{false};
  return CountAndCall("memcpy", &real, &resolving, to, from, n);
}

extern "C" void* memmove(void* to, const void* from, size_t n) {
  static CopyFn real = nullptr;
  static std::atomic<bool> resolving{false};
  return CountAndCall("memmove", &real, &resolving, to, from, n);
}
