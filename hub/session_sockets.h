#pragma once

// The hub's book of WebSocket tunnels per session: how many each session has (for
// hub.websockets-per-session), which tunnels to close when a session ends, and how many are
// open per kind (gridhub_websockets_open). A socket is booked (Reserve) before its upgrade is
// handed to the tunnel pump, so concurrent upgrades cannot exceed the limit; it leaves the book
// when its tunnel closes (Release) or its session ends (EndSession).
//
//   std::optional<Key> key = book.Reserve(session, SocketKind::kBidi, limit);   // else 429
//   ... tunnel = pump.Open(...);
//   if (!book.Attach(*key, tunnel)) pump.Close(tunnel);   // the session ended meanwhile
//   book.MarkOpen(*key);                                  // on the 101
//   book.Release(*key);                                   // on_closed
//   for (uint64_t t : book.EndSession(session)) pump.Close(t);
//
// Thread-safe, under a mutex of its own (never the Grid's); it never calls out, so callers may
// use it from the pump's callbacks. Any order of these calls for one key is safe: a key that is
// gone (released, or its session ended) makes Attach false and the rest no-ops.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/strong_id.h"

namespace gridhub::hub {

enum class SocketKind { kBidi, kCdp };
inline constexpr size_t kSocketKinds = 2;

class SessionSockets {
 public:
  using Key = uint64_t;  // never 0

  // A place for one more socket of `session`; nullopt when it has `limit` (any kind) already.
  std::optional<Key> Reserve(const SessionId& session, SocketKind kind, size_t limit);
  // `tunnel` now carries reservation `key`. False when the key is gone: the caller closes it.
  bool Attach(Key key, uint64_t tunnel);
  // The upgrade succeeded: the socket counts in open().
  void MarkOpen(Key key);
  void Release(Key key);
  // The session ended: its sockets leave the book; returns the tunnels to close.
  std::vector<uint64_t> EndSession(const SessionId& session);

  size_t open(SocketKind kind) const;
  // Booked sockets of `session` (reserved or open).
  size_t count(const SessionId& session) const;
  // Sessions with at least one booked socket, for tests that nothing is left behind.
  size_t sessions() const;

 private:
  struct Entry {
    SessionId session;
    SocketKind kind = SocketKind::kBidi;
    uint64_t tunnel = 0;  // 0 until attached
    bool open = false;
  };
  void EraseLocked(std::unordered_map<Key, Entry>::iterator it) REQUIRES(mu_);

  mutable Mutex mu_;
  Key next_key_ GUARDED_BY(mu_) = 1;
  std::unordered_map<Key, Entry> entries_ GUARDED_BY(mu_);
  std::unordered_map<SessionId, std::vector<Key>> by_session_ GUARDED_BY(mu_);
  std::array<size_t, kSocketKinds> open_ GUARDED_BY(mu_){};
};

}  // namespace gridhub::hub
