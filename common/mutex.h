#pragma once

#include <mutex>
#include <shared_mutex>

// Clang thread-safety annotations over std::mutex, so `clang -Wthread-safety` checks that
// GUARDED_BY state is only touched under its lock. g++ ignores them.
#if defined(__clang__)
#define GRIDHUB_TSA(x) __attribute__((x))
#else
#define GRIDHUB_TSA(x)
#endif

#define CAPABILITY(x) GRIDHUB_TSA(capability(x))
#define SCOPED_CAPABILITY GRIDHUB_TSA(scoped_lockable)
#define GUARDED_BY(x) GRIDHUB_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) GRIDHUB_TSA(pt_guarded_by(x))
// Pistache 0.0.5 (pistache/type_checkers.h) defines a REQUIRES of its own for enable_if. Its
// templates are parsed by the time this header is read (http_server.cc includes it after
// Pistache's), so ours takes over from here on.
#ifdef REQUIRES
#undef REQUIRES
#endif
#define REQUIRES(...) GRIDHUB_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) GRIDHUB_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) GRIDHUB_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) GRIDHUB_TSA(release_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) GRIDHUB_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) GRIDHUB_TSA(release_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) GRIDHUB_TSA(requires_shared_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS GRIDHUB_TSA(no_thread_safety_analysis)

namespace gridhub {

// std::mutex with a capability so the analysis can follow it.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For std::condition_variable_any and friends.
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// RAII lock over Mutex.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// std::shared_mutex with a capability: many readers at once, or one writer. For state read on
// hot paths from many threads and changed rarely (http/'s shutdown gate).
//
//   SharedMutex mu;
//   bool open GUARDED_BY(mu) = true;
//   { ReaderMutexLock lock(mu); if (open) Post(...); }   // senders, concurrently
//   { WriterMutexLock lock(mu); open = false; }          // Stop(), once
class CAPABILITY("mutex") SharedMutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void ReaderLock() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// RAII shared (reader) lock over SharedMutex.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.ReaderLock(); }
  ~ReaderMutexLock() RELEASE() { mu_.ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

// RAII exclusive (writer) lock over SharedMutex.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterMutexLock() RELEASE() { mu_.Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace gridhub
