/*
 * The cost of native/parallel.c spk_parallel itself: two-part jobs of 0, 100 and 300 us of
 * busy work, back to back or after 20 or 200 us of the caller's own busy work (the pool's
 * workers then spinning or asleep), printed per job as the median wall time, its excess over
 * a perfect split (work / 2), and the process CPU time (every thread) less the caller's in
 * the gaps: the job's work, its hand-off and what waiting threads spin. spk_parallel pins the
 * shared object its workers run in, so it is built as one (in an executable the pin fails
 * and every call starts threads, the addon's behaviour before the pool). From the repo root:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -fPIC -shared -pthread -I interpreter/engine/kernels/native \
 *      interpreter/engine/kernels/native/parallel.c -o /tmp/libspkpar.so
 *   cc -O2 -std=c11 -D_GNU_SOURCE -pthread -I interpreter/engine/kernels/native \
 *      tools/bench/native-pool-micro.c /tmp/libspkpar.so -Wl,-rpath,/tmp -o /tmp/pool-micro
 *   /tmp/pool-micro [jobs=2000]
 * For the build before the pool, the same with `git show e4b23bf:<parallel.c>` in a copy of
 * the native folder.
 */
#include "parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_sec * 1e6 + r.ru_stime.tv_usec;
}

/* This thread's CPU time. */
static double thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void busy(double us) {
  const double end = now_us() + us;
  while (now_us() < end) {
  }
}

typedef struct {
  double us;
  int parts;
} Job;

static void part(void* p, int t) {
  (void)t;
  const Job* j = (const Job*)p;
  busy(j->us / j->parts);
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? atoi(argv[1]) : 2000;
  const double works[] = {0, 100, 300}, gaps[] = {0, 20, 200};
  double* ts = malloc(sizeof(double) * (size_t)jobs);
  if (!ts || jobs < 1) return 1;
  printf("work(us) gap(us)  median(us)  over work/2  cpu less gap(us)\n");
  for (int wi = 0; wi < 3; wi++)
    for (int gi = 0; gi < 3; gi++) {
      Job j = {works[wi], 2};
      for (int i = 0; i < 50; i++) spk_parallel(2, part, &j);
      double c0 = cpu_us(), gapSum = 0;
      for (int i = 0; i < jobs; i++) {
        const double g0 = thread_cpu_us();
        if (gaps[gi] > 0) busy(gaps[gi]);
        gapSum += thread_cpu_us() - g0;
        const double t0 = now_us();
        spk_parallel(2, part, &j);
        ts[i] = now_us() - t0;
      }
      const double cpu = (cpu_us() - c0 - gapSum) / jobs;
      qsort(ts, (size_t)jobs, sizeof(double), by_value);
      printf("%8.0f %7.0f %11.1f %12.1f %17.1f\n", works[wi], gaps[gi], ts[jobs / 2], ts[jobs / 2] - works[wi] / 2, cpu);
    }
  free(ts);
  return 0;
}
