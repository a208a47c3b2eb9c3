#include "ckernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The float32 FMA peak of this machine, measured rather than taken from a data sheet: every thread runs a loop of
 * independent FMAs that touch only registers, so the only limit is how many FMAs the cores retire per cycle at the
 * clock they hold under that load. The weight products are judged against it (`maskscope bench`).
 *
 * The loops are inline assembly, not intrinsics: the compiler cannot spill the accumulators, fold them away or
 * reorder the chain, and a debug (-O0) build measures the same peak as a release one. Twelve accumulators keep
 * both FMA pipes of a Zen 4/5 or Intel core busy (latency 4 cycles x 2 pipes = 8 chains in flight are enough). */

#if defined(__x86_64__)
#define MS_PEAK_X86 1
#endif

/* The vectors the weight products run on (panels.c decides, once): the peak that bounds them. */
int ms_fma_width_bits(void) { return ms_panels_width(); }

#ifdef MS_PEAK_X86

/* Iterations of one timed block: 12 FMAs each, about 0.1 ms per block, so the clock is read rarely. */
#define MS_PEAK_BLOCK 50000L

/* One FMA per accumulator register 0..11 from the two operand registers 12 and 13. */
#define MS_FMA12(r)                                                                                  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "0\n\t"  "vfmadd231ps %%" r "12, %%" r "13, %%" r "1\n\t"  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "2\n\t"  "vfmadd231ps %%" r "12, %%" r "13, %%" r "3\n\t"  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "4\n\t"  "vfmadd231ps %%" r "12, %%" r "13, %%" r "5\n\t"  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "6\n\t"  "vfmadd231ps %%" r "12, %%" r "13, %%" r "7\n\t"  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "8\n\t"  "vfmadd231ps %%" r "12, %%" r "13, %%" r "9\n\t"  \
    "vfmadd231ps %%" r "12, %%" r "13, %%" r "10\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "11\n\t"

/* Zeroed registers: 0 * 0 + 0 stays 0, so no value ever becomes a denormal, and FMA throughput does not
 * depend on the values. vzeroupper at the end so that later SSE code pays no transition penalty. */
#define MS_ZERO14(r)                                                                                 \
    "vxorps %%" r "0, %%" r "0, %%" r "0\n\t"   "vxorps %%" r "1, %%" r "1, %%" r "1\n\t"            \
    "vxorps %%" r "2, %%" r "2, %%" r "2\n\t"   "vxorps %%" r "3, %%" r "3, %%" r "3\n\t"            \
    "vxorps %%" r "4, %%" r "4, %%" r "4\n\t"   "vxorps %%" r "5, %%" r "5, %%" r "5\n\t"            \
    "vxorps %%" r "6, %%" r "6, %%" r "6\n\t"   "vxorps %%" r "7, %%" r "7, %%" r "7\n\t"            \
    "vxorps %%" r "8, %%" r "8, %%" r "8\n\t"   "vxorps %%" r "9, %%" r "9, %%" r "9\n\t"            \
    "vxorps %%" r "10, %%" r "10, %%" r "10\n\t" "vxorps %%" r "11, %%" r "11, %%" r "11\n\t"        \
    "vxorps %%" r "12, %%" r "12, %%" r "12\n\t" "vxorps %%" r "13, %%" r "13, %%" r "13\n\t"

#define MS_CLOBBER14 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                     "xmm10", "xmm11", "xmm12", "xmm13", "cc"

/* `iterations` x 12 FMAs on 512-bit registers (16 lanes: 32 flops each). */
__attribute__((target("avx512f"))) static void fma_block_512(long iterations) {
    __asm__ volatile(MS_ZERO14("zmm")
                     "1:\n\t" MS_FMA12("zmm")
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     "vzeroupper\n\t"
                     : "+r"(iterations) : : MS_CLOBBER14);
}

/* `iterations` x 12 FMAs on 256-bit registers (8 lanes: 16 flops each). */
__attribute__((target("avx2,fma"))) static void fma_block_256(long iterations) {
    __asm__ volatile(MS_ZERO14("ymm")
                     "1:\n\t" MS_FMA12("ymm")
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     "vzeroupper\n\t"
                     : "+r"(iterations) : : MS_CLOBBER14);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What one thread does and what it measured. */
typedef struct {
    int width;
    double seconds;
    atomic_int *go;   /* the loops start together once this is 1 */
    atomic_int *ready; /* counts threads done warming up */
    double gflops;    /* out */
} peak_job;

static void fma_block(int width, long iterations) {
    if (width == 512) fma_block_512(iterations); else fma_block_256(iterations);
}

/* The timed part: blocks of FMAs until `seconds` have passed on this thread's clock. */
static void timed_loop(peak_job *job) {
    const double flops_per_iteration = 12.0 * 2.0 * (job->width / 32);
    double t0 = now_seconds(), elapsed = 0;
    long blocks = 0;
    do {
        fma_block(job->width, MS_PEAK_BLOCK);
        blocks++;
        elapsed = now_seconds() - t0;
    } while (elapsed < job->seconds);
    job->gflops = (double)blocks * MS_PEAK_BLOCK * flops_per_iteration / elapsed * 1e-9;
}

static void *run_peak(void *arg) {
    peak_job *job = arg;
    /* One untimed block first: the clock ramps up and the upper register halves are powered. */
    fma_block(job->width, MS_PEAK_BLOCK);
    atomic_fetch_add(job->ready, 1);
    while (!atomic_load(job->go)) sched_yield();
    timed_loop(job);
    return NULL;
}

double ms_fma_peak_gflops(ms_pool *pool, double seconds) {
    int width = ms_fma_width_bits();
    if (width == 0) return 0;
    if (!(seconds > 0)) seconds = 0.001;
    if (seconds > 10) seconds = 10;
    int threads = ms_pool_threads(pool);
    if (threads < 1) threads = 1;
    peak_job *jobs = calloc((size_t)threads, sizeof(peak_job));
    pthread_t *workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!jobs || !workers) { free(jobs); free(workers); return 0; }
    /* threads - 1 new threads and the caller; all loops start at once, so the sum is of concurrent rates. A thread
     * that cannot be started is left out (the sum is then of fewer threads). */
    atomic_int go = 0, ready = 0;
    int started = 0;
    for (int i = 0; i < threads - 1; i++) {
        jobs[started] = (peak_job){ width, seconds, &go, &ready, 0 };
        if (pthread_create(&workers[started], NULL, run_peak, &jobs[started]) != 0) break;
        started++;
    }
    peak_job *own = &jobs[threads - 1];
    *own = (peak_job){ width, seconds, &go, &ready, 0 };
    fma_block(width, MS_PEAK_BLOCK);
    while (atomic_load(&ready) < started) sched_yield();
    atomic_store(&go, 1);
    timed_loop(own);
    double total = own->gflops;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i], NULL);
        total += jobs[i].gflops;
    }
    free(jobs);
    free(workers);
    return total;
}

#else

double ms_fma_peak_gflops(ms_pool *pool, double seconds) {
    (void)pool;
    (void)seconds;
    return 0;
}

#endif
