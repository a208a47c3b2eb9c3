#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* A fixed set of worker threads for the weight products. While a forward pass runs (`active`), the
 * workers spin between jobs: the gaps between two products are microseconds, far shorter than waking a
 * sleeping thread (tens of microseconds on a VM). Outside a forward pass they sleep on a condition
 * variable, so an idle MaskScope uses no CPU. */
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
    /* the current job */
    const float *x, *w, *bias;
    float *y;
    int n, k, out, ldy, chunk;
};

typedef struct { struct ms_pool *pool; int index; } worker_arg;

static void run_part(struct ms_pool *p, int index) {
    int begin = index * p->chunk;
    int end = begin + p->chunk < p->out ? begin + p->chunk : p->out;
    if (begin < end) ms_linear_nt(p->x, p->n, p->k, p->w, p->bias, begin, end, p->y, p->ldy);
}

static void *worker_main(void *raw) {
    worker_arg arg = *(worker_arg *)raw;
    free(raw);
    struct ms_pool *p = arg.pool;
    unsigned seen = 0; /* generation starts at 0: a worker that starts late still sees the first job */
    for (;;) {
        unsigned g;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !atomic_load(&p->quit)) {
            if (atomic_load_explicit(&p->active, memory_order_relaxed)) { CPU_RELAX(); continue; }
            pthread_mutex_lock(&p->lock);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->active) && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = g;
        run_part(p, arg.index);
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

void ms_pool_linear(ms_pool *p, const float *x, int n, int k, const float *w, const float *bias,
                    int out, float *y, int ldy) {
    int parts = p ? p->threads : 1;
    if (parts > out / 64) parts = out / 64 > 0 ? out / 64 : 1;
    if (parts <= 1) {
        ms_linear_nt(x, n, k, w, bias, 0, out, y, ldy);
        return;
    }
    pthread_mutex_lock(&p->call);
    p->x = x; p->w = w; p->bias = bias; p->y = y;
    p->n = n; p->k = k; p->out = out; p->ldy = ldy;
    /* parts of whole 4-row blocks; workers whose index is past the last part find an empty range */
    p->chunk = ((out + parts - 1) / parts + 3) / 4 * 4;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (!atomic_load(&p->active)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_part(p, 0);
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->threads - 1) CPU_RELAX();
    pthread_mutex_unlock(&p->call);
}
