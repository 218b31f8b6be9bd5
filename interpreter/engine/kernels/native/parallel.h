/*
 * Running a kernel's work on several threads (defined in parallel.c): the caller and a
 * pthread each for the others.
 */
#ifndef SPK_PARALLEL_H
#define SPK_PARALLEL_H

/* At most this many threads per call. */
#define SPK_MAX_THREADS 16

/*
 * Runs fn(ctx, t) for every t in [0, threads): t = 0 on the calling thread, the others on
 * pthreads started for this call and joined before it returns. A thread that cannot be
 * started has its fn(ctx, t) run on the caller afterwards, so every part runs exactly once
 * whatever the system allows (kernels whose threads claim work from a shared counter then
 * find nothing left).
 */
void spk_parallel(int threads, void (*fn)(void* ctx, int t), void* ctx);
#endif
