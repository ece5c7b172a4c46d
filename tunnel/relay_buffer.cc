#include "tunnel/relay_buffer.h"

namespace gridhub::tunnel {

void RelayBuffer::Append(std::string_view bytes) {
  if (begin_ > 0) {
    storage_.erase(0, begin_);
    begin_ = 0;
  }
  storage_.append(bytes);
}

char* RelayBuffer::PrepareRead(size_t n) {
  if (begin_ > 0) {
    // Move what is left to the front, so the storage never grows past what is held plus `n`.
    storage_.erase(0, begin_);
    begin_ = 0;
  }
  prepared_ = storage_.size();
  storage_.resize(prepared_ + n);
  return storage_.data() + prepared_;
}

void RelayBuffer::CommitRead(size_t filled) {
  storage_.resize(prepared_ + filled);
  if (empty()) Clear();
}

void RelayBuffer::Consume(size_t n) {
  begin_ += n;
  if (begin_ >= storage_.size()) Clear();
}

void RelayBuffer::Clear() {
  std::string().swap(storage_);  // gives the storage back, not just its contents
  begin_ = 0;
}

}  // namespace gridhub::tunnel
