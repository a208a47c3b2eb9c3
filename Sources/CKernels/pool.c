#include "ckernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* A fixed set of worker threads for the weight products, the attention heads and GELU. While a forward
 * pass runs (`active`), the workers spin between jobs: the gaps between two jobs are microseconds, far
 * shorter than waking a sleeping thread (tens of microseconds on a VM). Outside a forward pass they sleep
 * on a condition variable, so an idle MaskScope uses no CPU.
 *
 * A job is `tasks` independent pieces (blocks of weight rows, heads, slices of an array); every thread,
 * the caller included, takes the next piece from an atomic counter until none is left. Taking pieces
 * instead of a fixed half each keeps both cores busy when one of them is slowed down (this VM's
 * neighbours, an interrupt): with fixed halves the other core waited for it at every product. */
struct ms_pool {
    int threads;                 /* including the calling thread */
    pthread_t *workers;
    pthread_mutex_t lock;        /* guards sleeping and waking */
    pthread_cond_t wake;
    pthread_mutex_t call;        /* one job at a time */
    _Atomic unsigned generation; /* bumped for every job */
    _Atomic int done;            /* workers finished with the current job */
    _Atomic int active;
    _Atomic int quit;
    /* the current job: run(job, piece) for piece in [0, tasks) */
    void (*run)(const void *job, int piece);
    const void *job;
    int tasks;
    _Atomic int next;            /* the next piece to take */
};

typedef struct { struct ms_pool *pool; int index; } worker_arg;

/* One step of a spin-wait: a pause, and every 256th step a sched_yield, so that on a machine with more runnable
 * threads than cores (builds, another program) the thread we wait for gets the core instead of our spinning. */
static inline void spin_step(unsigned *spins) {
    if ((++*spins & 255u) == 0) sched_yield(); else CPU_RELAX();
}

static void take_pieces(struct ms_pool *p) {
    for (;;) {
        int piece = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (piece >= p->tasks) return;
        p->run(p->job, piece);
    }
}

static void *worker_main(void *raw) {
    worker_arg arg = *(worker_arg *)raw;
    free(raw);
    struct ms_pool *p = arg.pool;
    unsigned seen = 0; /* generation starts at 0: a worker that starts late still sees the first job */
    for (;;) {
        unsigned g, spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !atomic_load(&p->quit)) {
            if (atomic_load_explicit(&p->active, memory_order_relaxed)) { spin_step(&spins); continue; }
            pthread_mutex_lock(&p->lock);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->active) && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->quit)) {
            ms_panels_thread_exit(); /* this worker's panel buffer */
            return NULL;
        }
        seen = g;
        take_pieces(p);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

ms_pool *ms_pool_create(int threads) {
    if (threads < 1) threads = 1;
    struct ms_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->call, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = calloc((size_t)threads, sizeof(pthread_t));
    int started = 1;
    for (int i = 1; i < threads && p->workers; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg) break;
        arg->pool = p;
        arg->index = i;
        if (pthread_create(&p->workers[i], NULL, worker_main, arg) != 0) { free(arg); break; }
        started++;
    }
    p->threads = started; /* fewer threads if the system refused some */
    return p;
}

void ms_pool_destroy(ms_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->call);
    pthread_cond_destroy(&p->wake);
    free(p);
}

int ms_pool_threads(const ms_pool *p) { return p ? p->threads : 1; }

void ms_pool_set_active(ms_pool *p, int active) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->active, active ? 1 : 0);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* Runs run(job, 0..<tasks) on every thread of the pool and returns when all pieces are done. */
static void pool_run(struct ms_pool *p, int tasks, void (*run)(const void *, int), const void *job) {
    /* tasks: pieces numbered 0..<tasks; a job may also hand out its own pieces inside each call */
    if (!p || p->threads <= 1 || tasks <= 1) {
        for (int i = 0; i < tasks; i++) run(job, i);
        return;
    }
    pthread_mutex_lock(&p->call);
    p->run = run; p->job = job; p->tasks = tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: ordered before the load of `active` below */
    if (!atomic_load(&p->active)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    take_pieces(p);
    unsigned spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->threads - 1) spin_step(&spins);
    pthread_mutex_unlock(&p->call);
}

typedef struct {
    const float *x, *bias;
    const void *w;
    float *y;
    int n, k, wtype, out, ldy, threads, least; /* least: the smallest piece, a multiple of 4 rows */
    _Atomic int cursor;                        /* the first weight row nobody has taken yet */
} linear_job;

/* Guided: each take is a share of what is left (half of it over the threads), rounded up to a multiple of `unit`
 * and never less than `least`, so the pieces shrink towards the end and the threads finish within a small piece of
 * each other. Returns 0 when nothing is left, else the piece [*begin, *end) of [0, total). */
static int take_guided(_Atomic int *cursor, int total, int threads, int unit, int least, int *begin, int *end) {
    int b = atomic_load_explicit(cursor, memory_order_relaxed), e;
    do {
        if (b >= total) return 0;
        int take = (total - b) / (2 * threads);
        take = (take + unit - 1) / unit * unit;
        if (take < least) take = least;
        e = b + take < total ? b + take : total;
    } while (!atomic_compare_exchange_weak_explicit(cursor, &b, e, memory_order_relaxed, memory_order_relaxed));
    *begin = b;
    *end = e;
    return 1;
}

static void linear_piece(const void *raw, int piece) {
    linear_job *j = (linear_job *)raw;
    (void)piece;
    int begin, end;
    while (take_guided(&j->cursor, j->out, j->threads, 4, j->least, &begin, &end))
        ms_linear(j->x, j->n, j->k, j->w, j->wtype, j->bias, begin, end, j->y, j->ldy);
}

void ms_pool_linear(ms_pool *p, const float *x, int n, int k, const void *w, int wtype, const float *bias,
                    int out, float *y, int ldy) {
    int threads = p ? p->threads : 1;
    /* Pieces of at least 32 rows (>= 96 KB of weights), so that each streams its weights at full speed. */
    int least = 32;
    if (threads <= 1 || out <= 2 * least) {
        ms_linear(x, n, k, w, wtype, bias, 0, out, y, ldy);
        return;
    }
    linear_job job = {x, bias, w, y, n, k, wtype, out, ldy, threads, least, 0};
    pool_run(p, threads, linear_piece, &job);
}

typedef struct {
    const float *q, *k, *v;
    float *probs, *ctx;
    int n, d, ld, ldc;
    float scale;
} attention_job;

static void attention_piece(const void *raw, int head) {
    const attention_job *j = raw;
    size_t offset = (size_t)head * j->d;
    ms_attention_head(j->q + offset, j->k + offset, j->v + offset, j->n, j->d, j->ld, j->scale,
                      j->probs + (size_t)head * j->n * j->n, j->ctx + offset, j->ldc);
}

void ms_pool_attention(ms_pool *p, const float *q, const float *k, const float *v, int n, int heads, int d,
                       int ld, float scale, float *probs, float *ctx, int ldc) {
    attention_job job = {q, k, v, probs, ctx, n, d, ld, ldc, scale};
    /* below 16 tokens all heads together take a few microseconds: not worth waking the workers */
    pool_run(n >= 16 ? p : NULL, heads, attention_piece, &job);
}

typedef struct { float *x; size_t count, slice; } gelu_job;

static void gelu_piece(const void *raw, int piece) {
    const gelu_job *j = raw;
    size_t begin = (size_t)piece * j->slice, end = begin + j->slice < j->count ? begin + j->slice : j->count;
    ms_gelu_erf(j->x + begin, end - begin);
}

void ms_pool_gelu(ms_pool *p, float *x, size_t count) {
    size_t slice = 16384; /* 64 KB, a multiple of 8; a shorter array runs on the calling thread */
    gelu_job job = {x, count, slice};
    pool_run(p, (int)((count + slice - 1) / slice), gelu_piece, &job);
}

typedef struct {
    ms_matrix *m;
    const float *x, *bias;
    float *y;
    int n, out, ldy, threads, packing;
    _Atomic int cursor; /* the first panel nobody has taken yet */
} matrix_job;

/* Guided as linear_piece, in whole panels of 32 outputs. */
static void matrix_piece(const void *raw, int piece) {
    matrix_job *j = (matrix_job *)raw;
    (void)piece;
    int begin, end;
    while (take_guided(&j->cursor, (j->out + 31) / 32, j->threads, 1, 1, &begin, &end))
        ms_matrix_product(j->m, j->packing, j->x, j->n, j->bias, begin * 32, end * 32 < j->out ? end * 32 : j->out,
                          j->y, j->ldy);
}

void ms_pool_matrix(ms_pool *p, ms_matrix *m, int pack, const float *x, int n, const float *bias, float *y, int ldy) {
    int packing = pack && !ms_matrix_is_packed(m) && ms_matrix_begin_packing(m);
    int threads = p ? p->threads : 1, out = ms_matrix_outputs(m);
    matrix_job job = {m, x, bias, y, n, out, ldy, threads, packing, 0};
    pool_run(threads > 1 && out > 64 ? p : NULL, threads, matrix_piece, &job);
    if (packing) ms_matrix_finish_packing(m);
}
