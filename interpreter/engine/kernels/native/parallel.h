/*
 * Running a kernel's work on several threads (defined in parallel.c): the caller and the
 * workers of a pool kept for the process.
 */
#ifndef SPK_PARALLEL_H
#define SPK_PARALLEL_H

/* At most this many threads per call. */
#define SPK_MAX_THREADS 16

/*
 * Runs fn(ctx, t) exactly once for every t in [0, threads) and returns when all have
 * returned: t = 0 on the calling thread, the others on the pool's workers (started on first
 * need and kept) or, for parts no worker has taken by the time the caller is done with its
 * own, on the caller too; one worker may run several. So a part must never wait for another
 * part to start: any of them may run after part 0 on the caller, whatever the system allows
 * (kernels whose threads claim work from a shared counter then find nothing left). Callers may come from several threads at once: one that finds the pool busy runs
 * its other parts on threads started for its call, never waiting for the first caller.
 */
void spk_parallel(int threads, void (*fn)(void* ctx, int t), void* ctx);
#endif
