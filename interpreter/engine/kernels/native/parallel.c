/*
 * The addon's threads: see parallel.h.
 *
 * One pool of worker threads per process, made lazily and kept: creating and joining a
 * pthread per call costs tens of microseconds and the new thread starts its share late, which
 * is most of a small kernel's time. A call takes the pool if no other caller holds it, and
 * publishes its job as a new epoch of `state` (the epoch in the high 32 bits, then the part
 * count and the next unclaimed part, 16 bits each). Workers and the caller claim parts by
 * compare-and-swap on `state`, so a claim made against an old epoch fails: a late worker can
 * never run a finished job's part, and the job's fields (fn, ctx) need not outlive it. The
 * caller runs part 0, then claims whatever parts no worker has taken yet (a worker still
 * waking up, or one that could not be started, costs nothing), then waits only for the parts
 * workers are running.
 *
 * Idle workers spin briefly (IDLE_SPIN_NS, with pause and yielding the core), then sleep on a
 * futex, so an idle process uses no CPU; the caller waits for running parts the same way. A
 * second caller that comes while the pool is held (another JS thread, a part that itself runs
 * a kernel) starts threads of its own for its call, as the addon did before the pool: it never
 * waits behind the first. Without futexes (not Linux) every call does that.
 *
 * The workers outlive every call, so the shared object they run in must never be unmapped
 * (Node dlcloses a worker_thread's addons when it exits): the pool pins it (RTLD_NODELETE)
 * before its first worker starts, and without the pin there is no pool. At exit, workers
 * asleep in the futex or spinning are ended with the process; they own no resources.
 */
#include "parallel.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SPK_POOL 1
#else
#define SPK_POOL 0
#endif

#if defined(__x86_64__) || defined(__i386__)
#define SPIN_PAUSE() __builtin_ia32_pause()
#else
#define SPIN_PAUSE() ((void)0)
#endif

/* ---- the addon's behaviour before the pool: a pthread per part, joined ------------------- */

typedef struct {
  void (*fn)(void*, int);
  void* ctx;
  int t;
} Part;

static void* part_main(void* p) {
  const Part* part = (const Part*)p;
  part->fn(part->ctx, part->t);
  return 0;
}

/* Part 0 on the caller, the others on threads started for this call; a part whose thread cannot start runs on the caller. */
static void run_on_new_threads(int threads, void (*fn)(void*, int), void* ctx) {
  pthread_t tid[SPK_MAX_THREADS];
  Part parts[SPK_MAX_THREADS];
  int started[SPK_MAX_THREADS] = {0};
  for (int t = 1; t < threads; t++) {
    parts[t] = (Part){fn, ctx, t};
    started[t] = pthread_create(&tid[t], 0, part_main, &parts[t]) == 0;
  }
  fn(ctx, 0);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tid[t], 0);
    else fn(ctx, t);
  }
}

#if SPK_POOL

/*
 * How long a waiting thread spins before it sleeps (a sleeping thread is woken in about
 * 7 us on the machine these were measured on: tools/bench/native-pool-micro.c). An idle
 * worker spins IDLE_SPIN_NS after each job: enough to catch a kernel called right after the
 * last one, and at most that much CPU per call when the next comes later (in the bench
 * block the median gap between native calls is about 100 us, under 20 us about one in 80:
 * tools/bench/native-calls.ts). The caller waiting for parts that workers are running
 * spins PARTS_SPIN_NS: they are usually about to end (the parts are even), and sleeping
 * there adds a wake-up to every call.
 */
#ifndef IDLE_SPIN_NS
#define IDLE_SPIN_NS 20000
#endif
#ifndef PARTS_SPIN_NS
#define PARTS_SPIN_NS 50000
#endif

#define LINE 64

static struct {
  /* the job: (epoch << 32) | (parts << 16) | next unclaimed part; written by the owner and
     by every claim */
  _Alignas(LINE) uint64_t state;
  /* the job's fields (relaxed atomics: a late worker may read them while the next owner
     writes them, and its claim then fails) */
  void (*fn)(void*, int);
  void* ctx;
  /* parts 1..n-1 finished; the futex the owner sleeps on */
  _Alignas(LINE) uint32_t done;
  uint32_t ownerSleeping;
  /* state's epoch again, as a 32-bit futex word idle workers sleep on */
  _Alignas(LINE) uint32_t epoch;
  uint32_t sleepers;
  /* 1 while a caller owns the pool */
  _Alignas(LINE) uint32_t busy;
  /* the owner's only: workers started, and whether the shared object is pinned (1) or cannot be (-1) */
  int workers;
  int pinned;
} pool;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wait(uint32_t* word, uint32_t expected) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(uint32_t* word, int count) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

/*
 * Spins until *word != old (1) or ns have passed (0). Between rounds of pause (about a
 * microsecond each) it yields the core: when the machine has more runnable threads than
 * cores, the thread it waits for may be queued on this very core (a worker that took a
 * part, the caller with the next job), and plain spinning would keep it out for the whole
 * wait; when nothing else waits, sched_yield returns at once.
 */
static int spin_while_equal(const uint32_t* word, uint32_t old, uint64_t ns) {
  const uint64_t end = now_ns() + ns;
  for (;;) {
    for (int i = 0; i < 32; i++) {
      if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != old) return 1;
      SPIN_PAUSE();
    }
    if (now_ns() >= end) return 0;
    sched_yield();
  }
}

static uint64_t state_of(uint32_t epoch, uint32_t parts, uint32_t next) {
  return (uint64_t)epoch << 32 | (uint64_t)parts << 16 | next;
}

/*
 * Claims and runs parts of epoch e's job until none is left or the epoch has moved on;
 * the number run. The acquire load of state (its value written by the owner's release
 * store or by claims after it) makes the job's fields visible. A claim that succeeds took
 * an unclaimed part of job e, so job e was not finished and its owner had not yet written
 * the next job's fields: the fn and ctx read before it were e's. (The part count is in
 * state for that reason: read from a field, a late worker could see the next job's larger
 * count between the owner's writing it and publishing the job, and claim a part that
 * job e does not have.)
 */
static uint32_t run_parts(uint32_t e) {
  uint32_t ran = 0;
  uint64_t s = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE);
  for (;;) {
    if ((uint32_t)(s >> 32) != e) return ran;
    const uint32_t k = (uint32_t)s & 0xffff;
    if (k >= ((uint32_t)s >> 16)) return ran;
    void (*fn)(void*, int) = __atomic_load_n(&pool.fn, __ATOMIC_RELAXED);
    void* ctx = __atomic_load_n(&pool.ctx, __ATOMIC_RELAXED);
    if (!__atomic_compare_exchange_n(&pool.state, &s, s + 1, 1, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) continue;
    fn(ctx, (int)k);
    ran++;
    s = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE);
  }
}

static void* worker_main(void* arg) {
  uint32_t seen = (uint32_t)(uintptr_t)arg;
  for (;;) {
    if (!spin_while_equal(&pool.epoch, seen, IDLE_SPIN_NS)) {
      /* sleepers is raised before the epoch is checked, and the owner raises the epoch
         before it reads sleepers (all sequentially consistent): one of them sees the other */
      __atomic_add_fetch(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
      while (__atomic_load_n(&pool.epoch, __ATOMIC_SEQ_CST) == seen) futex_wait(&pool.epoch, seen);
      __atomic_sub_fetch(&pool.sleepers, 1, __ATOMIC_RELAXED);
    }
    /* the owner publishes state before the epoch word: state's epoch is the same or newer.
       Waiting next for the word to pass what it is now (not state's epoch) means a worker
       that took a job before the word moved waits for the word, not spins until it moves */
    seen = __atomic_load_n(&pool.epoch, __ATOMIC_ACQUIRE);
    const uint32_t ran = run_parts((uint32_t)(__atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) >> 32));
    if (ran) {
      /* release: the parts' writes are the owner's once it sees the count */
      __atomic_add_fetch(&pool.done, ran, __ATOMIC_SEQ_CST);
      if (__atomic_load_n(&pool.ownerSleeping, __ATOMIC_SEQ_CST)) futex_wake(&pool.done, 1);
    }
  }
  return 0;
}

/* Whether the shared object holding the workers' code is pinned in memory for good. */
static int pin_self(void) {
  if (pool.pinned == 0) {
    Dl_info info;
    void* h = NULL;
    if (dladdr((void*)&spk_parallel, &info) && info.dli_fname) h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    pool.pinned = h ? 1 : -1; /* the handle is kept: never closed */
  }
  return pool.pinned > 0;
}

/* Starts workers until there are `want` (as many as the system allows); the owner's only. */
static void start_workers(int want) {
  if (pool.workers >= want) return;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* signals for the process go to the JS threads, never to a worker */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const uint32_t e = __atomic_load_n(&pool.epoch, __ATOMIC_RELAXED);
  while (pool.workers < want) {
    pthread_t tid;
    if (pthread_create(&tid, &attr, worker_main, (void*)(uintptr_t)e) != 0) break;
    pool.workers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
}

/* Runs the job on the pool (its owner: busy is held, the shared object pinned). */
static void run_on_pool(int threads, void (*fn)(void*, int), void* ctx) {
  start_workers(threads - 1);
  if (pool.workers == 0) {
    for (int t = 0; t < threads; t++) fn(ctx, t);
    return;
  }
  const uint32_t e = (uint32_t)(__atomic_load_n(&pool.state, __ATOMIC_RELAXED) >> 32) + 1;
  __atomic_store_n(&pool.fn, fn, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.ctx, ctx, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.done, 0, __ATOMIC_RELAXED);
  /* release: the fields and the caller's inputs are visible to whoever reads this state */
  __atomic_store_n(&pool.state, state_of(e, (uint32_t)threads, 1), __ATOMIC_RELEASE);
  __atomic_store_n(&pool.epoch, e, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&pool.sleepers, __ATOMIC_SEQ_CST)) futex_wake(&pool.epoch, threads - 1);

  fn(ctx, 0);
  const uint32_t want = (uint32_t)threads - 1;
  const uint32_t mine = run_parts(e);
  if (mine) __atomic_add_fetch(&pool.done, mine, __ATOMIC_RELAXED);
  /* acquire: the workers' parts are done and their writes visible */
  for (;;) {
    const uint32_t d = __atomic_load_n(&pool.done, __ATOMIC_ACQUIRE);
    if (d == want) break;
    if (spin_while_equal(&pool.done, d, PARTS_SPIN_NS)) continue;
    /* as for sleepers: the owner raises ownerSleeping before it reads done, a worker adds
       to done before it reads ownerSleeping */
    __atomic_store_n(&pool.ownerSleeping, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool.done, __ATOMIC_SEQ_CST) == d) futex_wait(&pool.done, d);
    __atomic_store_n(&pool.ownerSleeping, 0, __ATOMIC_RELAXED);
  }
}
#endif

void spk_parallel(int threads, void (*fn)(void* ctx, int t), void* ctx) {
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  if (threads == 1) {
    fn(ctx, 0);
    return;
  }
#if SPK_POOL
  if (!__atomic_exchange_n(&pool.busy, 1, __ATOMIC_ACQUIRE)) {
    if (pin_self()) {
      run_on_pool(threads, fn, ctx);
      __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
      return;
    }
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
  }
#endif
  run_on_new_threads(threads, fn, ctx);
}
