#pragma once

#include <mutex>

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
#define REQUIRES(...) GRIDHUB_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) GRIDHUB_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) GRIDHUB_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) GRIDHUB_TSA(release_capability(__VA_ARGS__))
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

}  // namespace gridhub
