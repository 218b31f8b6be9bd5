/* The addon's threads: see parallel.h. */
#include "parallel.h"

#include <pthread.h>

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

void spk_parallel(int threads, void (*fn)(void* ctx, int t), void* ctx) {
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
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
