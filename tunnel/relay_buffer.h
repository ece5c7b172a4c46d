#pragma once

// The bytes of one direction of a tunnel that were read from one socket and not yet written to
// the other. Storage is allocated when the first byte arrives and given back as soon as the
// last one has been written, so an idle tunnel holds no buffer at all.
//
//   RelayBuffer buffer;
//   size_t room = buffer.room(TunnelPump::kBufferSize);     // 0: stop reading the source
//   ssize_t n = ::recv(fd, buffer.PrepareRead(room), room, 0);
//   buffer.CommitRead(n > 0 ? n : 0);
//   ssize_t sent = ::send(out, buffer.pending().data(), buffer.pending().size(), flags);
//   buffer.Consume(sent);                                    // frees storage once drained

#include <cstddef>
#include <string>
#include <string_view>

namespace gridhub::tunnel {

class RelayBuffer {
 public:
  // Bytes held (read and not yet written).
  size_t size() const { return storage_.size() - begin_; }
  bool empty() const { return size() == 0; }
  // How many more bytes may be read while staying within `bound`.
  size_t room(size_t bound) const { return size() >= bound ? 0 : bound - size(); }
  // Bytes of storage allocated now (0 when empty).
  size_t capacity() const {
    return storage_.capacity() > std::string().capacity() ? storage_.capacity() : 0;
  }

  // Adds bytes whatever the bound (a request head with the client's early bytes).
  void Append(std::string_view bytes);
  // Space for `n` bytes at the end; CommitRead says how many of them were filled.
  char* PrepareRead(size_t n);
  void CommitRead(size_t filled);
  std::string_view pending() const { return std::string_view(storage_).substr(begin_); }
  // `n` bytes of pending() were written; when none is left the storage is released.
  void Consume(size_t n);
  void Clear();

 private:
  std::string storage_;
  size_t begin_ = 0;
  size_t prepared_ = 0;  // storage_.size() before PrepareRead
};

}  // namespace gridhub::tunnel
