#include "ckernels.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MS_X86 1
#endif

/* ---- Weight products on packed panels ------------------------------------------------------------------------
 * The matrix W [out, k] is laid out as panels of 32 outputs: panel p holds W[32p + j][i] at [i][j], i < k, j < 32
 * (zero past the last output), so one step over i reads 32 consecutive weights, one or two cache lines. A tile of
 * up to MR input rows runs over a panel keeping 2 x MR accumulators of 16 outputs in registers: each step loads
 * two weight vectors and broadcasts one input per row (the outer product of BLIS's micro-kernels). The panel is
 * read from memory once for the first tile and from L2 for the others.
 *
 * Every output is chains of fused multiply-adds in the order of i, one per block of 64 steps, each added to the
 * bias in turn (ckernels.h, MS_PANEL_K_BLOCK), whatever the tile, the vector width (AVX-512, AVX2, the scalar loop) or the thread: a row gives the same bits
 * alone or in a batch, before and after its matrix is packed, on every x86-64 CPU the kernels run on. Tests
 * compare the kernels with that chain (Swift's addingProduct) bit for bit. */

#define KB MS_PANEL_K_BLOCK
#ifndef RELEASE_PANELS
#define RELEASE_PANELS 32
#endif
/* How far ahead the first tile of a panel prefetches its own lines: 6 KB (session 7: single-thread sweeps over 640
 * MB of packed panels, 9 rows, 23-25 GB/s at 1.5 KB, 30-36 at 6-8 KB, less again beyond; in the program, 9-token
 * passes of the distilroberta-base shape and of both shapes in bf16 8-12 % faster than at 1.5 KB). */
#ifndef AHEAD
#define AHEAD 6144
#endif
enum { NR = 32 };

struct ms_matrix {
    const void *src;      /* row-major [out, k], wtype elements; not owned */
    int wtype, k, out;
    int release_source;   /* madvise(MADV_DONTNEED) the source's pages once packed (a read-only file mapping) */
    _Atomic int state;    /* 0 not packed, 1 a pass is packing it, 2 packed, 3 packing failed (no memory) */
    void *packed;         /* panels, valid once state == 2 (published with release) */
    size_t packed_bytes;
    int owns_packed;      /* packed is this matrix's own map (munmapped by destroy) */
};

static inline size_t elem_size(int wtype) { return wtype == MS_F32 ? 4 : 2; }
static inline int panel_count(int out) { return (out + NR - 1) / NR; }
static inline size_t panel_bytes(int k, int wtype) { return (size_t)k * NR * elem_size(wtype); }

ms_matrix *ms_matrix_create(const void *src, int wtype, int k, int out, int release_source) {
    ms_matrix *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->src = src; m->wtype = wtype; m->k = k; m->out = out; m->release_source = release_source;
    return m;
}

void ms_matrix_destroy(ms_matrix *m) {
    if (!m) return;
    if (m->packed && m->owns_packed) munmap(m->packed, m->packed_bytes);
    free(m);
}

size_t ms_matrix_bytes(int wtype, int k, int out) {
    if (k <= 0 || out <= 0 || (wtype != MS_F32 && wtype != MS_BF16 && wtype != MS_F16)) return 0;
    size_t panels = ((size_t)out + NR - 1) / NR, per = panel_bytes(k, wtype); /* panel_count's int would overflow */
    if (per != 0 && panels > SIZE_MAX / per) return 0;
    return panels * per;
}

const void *ms_matrix_panels(const ms_matrix *m) { return ms_matrix_is_packed(m) ? m->packed : NULL; }

int ms_matrix_pack_failed(const ms_matrix *m) {
    return atomic_load_explicit(&((ms_matrix *)m)->state, memory_order_acquire) == 3;
}

int ms_matrix_adopt(ms_matrix *m, const void *panels) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->state, &expected, 1)) return 0;
    m->packed = (void *)panels;
    m->packed_bytes = ms_matrix_bytes(m->wtype, m->k, m->out);
    m->owns_packed = 0;
    atomic_store_explicit(&m->state, 2, memory_order_release);
    return 1;
}

int ms_matrix_is_packed(const ms_matrix *m) {
    return atomic_load_explicit(&((ms_matrix *)m)->state, memory_order_acquire) == 2;
}

int ms_matrix_outputs(const ms_matrix *m) { return m->out; }

size_t ms_matrix_packed_bytes(const ms_matrix *m) { return ms_matrix_is_packed(m) ? m->packed_bytes : 0; }

#ifdef MS_X86
/* 16 rows of 16 floats (r[j] = row j) -> 16 columns (r[c] = column c), in registers. */
__attribute__((target("avx512f"))) static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* u[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c */
    for (int c = 0; c < 4; c++) {
        __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        __m512 w = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(v, w, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v, w, 0xdd);
        r[12 + c] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    }
}

/* The f32 panel by 16 x 16 transposes; returns the first step it did not pack (k rounded down to 16). */
__attribute__((target("avx512f"))) static int pack_panel_f32_512(const float *s, int k, int cols, float *d) {
    int i0 = 0;
    for (; i0 + 16 <= k; i0 += 16)
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int j = 0; j < 16; j++)
                r[j] = 16 * h + j < cols ? _mm512_loadu_ps(s + (size_t)(16 * h + j) * k + i0) : _mm512_setzero_ps();
            transpose16(r);
            for (int c = 0; c < 16; c++) _mm512_storeu_ps(d + (size_t)(i0 + c) * NR + 16 * h, r[c]);
        }
    return i0;
}

/* The same for 16-bit elements: each row widened to 32-bit lanes, transposed, narrowed again. */
__attribute__((target("avx512f"))) static int pack_panel_u16_512(const uint16_t *s, int k, int cols, uint16_t *d) {
    int i0 = 0;
    for (; i0 + 16 <= k; i0 += 16)
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int j = 0; j < 16; j++)
                r[j] = 16 * h + j < cols
                    ? _mm512_castsi512_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + (size_t)(16 * h + j) * k + i0))))
                    : _mm512_setzero_ps();
            transpose16(r);
            for (int c = 0; c < 16; c++)
                _mm256_storeu_si256((__m256i *)(d + (size_t)(i0 + c) * NR + 16 * h), _mm512_cvtepi32_epi16(_mm512_castps_si512(r[c])));
        }
    return i0;
}
#endif

/* Panel p of the row-major source, into dst (k x 32 elements). In blocks of 64 steps so that the block being
 * written (64 x 128 bytes) stays in L1 while 32 source rows are read along. */
#define PACK_SCALAR(T, s, d)                                                                         \
    for (int i0 = start; i0 < k; i0 += 64) {                                                         \
        int i1 = i0 + 64 < k ? i0 + 64 : k;                                                          \
        for (int j = 0; j < NR; j++) {                                                               \
            const T *row = (s) + (size_t)j * k;                                                      \
            for (int i = i0; i < i1; i++) (d)[(size_t)i * NR + j] = j < cols ? row[i] : (T)0;        \
        }                                                                                            \
    }
static void pack_panel(const ms_matrix *m, int p, void *dst) {
    int k = m->k, cols = m->out - p * NR < NR ? m->out - p * NR : NR;
    int start = 0; /* the steps before it were packed by the vector transposes */
    if (m->wtype == MS_F32) {
        const float *s = (const float *)m->src + (size_t)p * NR * k;
#ifdef MS_X86
        if (ms_panels_width() == 512) start = pack_panel_f32_512(s, k, cols, dst);
#endif
        PACK_SCALAR(float, s, (float *)dst);
    } else {
        const uint16_t *s = (const uint16_t *)m->src + (size_t)p * NR * k;
#ifdef MS_X86
        if (ms_panels_width() == 512) start = pack_panel_u16_512(s, k, cols, dst);
#endif
        PACK_SCALAR(uint16_t, s, (uint16_t *)dst);
    }
}

/* ---- Micro-kernels: MR input rows (x, row stride ldx) against one panel; `cols` (<= 32) outputs are stored at y
 * (row stride ldy); bias holds those cols values or is NULL. ---- */

#ifdef MS_X86
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* Two vectors of 16 weights from one step of a panel. */
#define LOAD512_f32(q, a, b) do { a = _mm512_loadu_ps((const float *)(q)); b = _mm512_loadu_ps((const float *)(q) + 16); } while (0)
#define LOAD512_bf16(q, a, b) do {                                                                   \
        __m512i h_ = _mm512_loadu_si512((const void *)(q));                                            \
        a = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(h_)), 16)); \
        b = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h_, 1)), 16)); \
    } while (0)
#define LOAD512_f16(q, a, b) do {                                                                    \
        __m512i h_ = _mm512_loadu_si512((const void *)(q));                                            \
        a = _mm512_cvtph_ps(_mm512_castsi512_si256(h_));                                               \
        b = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h_, 1));                                         \
    } while (0)

/* While the later tiles run over a panel that is already in L2, the memory bus would sit idle: they prefetch the
 * next panel, two lines a step (one step of a float32 panel), so that the next first tile finds it in cache. */
#define PREFETCH_NEXT(pf, pf_end) do {                                                               \
        if (*(pf) < (pf_end)) {                                                                      \
            _mm_prefetch(*(pf), _MM_HINT_T0);                                                        \
            _mm_prefetch(*(pf) + 64, _MM_HINT_T0);                                                   \
            *(pf) += 128;                                                                            \
        }                                                                                            \
    } while (0)
#define KERNEL512(MR, T, WT)                                                                         \
    AVX512 static void k512_##T##_##MR(const float *x, int ldx, int k, const WT *pw, const float *bias, \
                                        int cols, float *y, int ldy, const char **pf, const char *pf_end, \
                                        int ahead) {                                                  \
        __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);                           \
        __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);   \
        __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();                     \
        __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();                \
        __m512 s0[MR], s1[MR], a0[MR], a1[MR];                                                       \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) { s0[r] = b0; s1[r] = b1; }            \
        const WT *q = pw;                                                                            \
        for (int i0 = 0; i0 < k; i0 += KB) {                                                         \
            int i1 = i0 + KB < k ? i0 + KB : k;                                                      \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) { a0[r] = _mm512_setzero_ps(); a1[r] = a0[r]; } \
            for (int i = i0; i < i1; i++, q += NR) {                                                 \
                __m512 w0, w1;                                                                       \
                PREFETCH_NEXT(pf, pf_end);                                                           \
                if (ahead) {                                                                         \
                    _mm_prefetch((const char *)q + ahead, _MM_HINT_T0);                              \
                    _mm_prefetch((const char *)q + ahead + 64, _MM_HINT_T0);                         \
                }                                                                                    \
                LOAD512_##T(q, w0, w1);                                                              \
                _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                              \
                    __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + i]);                              \
                    a0[r] = _mm512_fmadd_ps(w0, xb, a0[r]);                                          \
                    a1[r] = _mm512_fmadd_ps(w1, xb, a1[r]);                                          \
                }                                                                                    \
            }                                                                                        \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                  \
                s0[r] = _mm512_add_ps(s0[r], a0[r]);                                                 \
                s1[r] = _mm512_add_ps(s1[r], a1[r]);                                                 \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                      \
            _mm512_mask_storeu_ps(y + (size_t)r * ldy, m0, s0[r]);                                   \
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16, m1, s1[r]);                              \
        }                                                                                            \
    }

/* AVX2: half a panel (16 outputs, two vectors of 8) at a time, up to 6 rows: 12 accumulators. */
#define LOAD256_f32(q, a, b) do { a = _mm256_loadu_ps((const float *)(q)); b = _mm256_loadu_ps((const float *)(q) + 8); } while (0)
#define LOAD256_bf16(q, a, b) do {                                                                   \
        a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(q))), 16)); \
        b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(q) + 1)), 16)); \
    } while (0)
#define LOAD256_f16(q, a, b) do {                                                                    \
        a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q)));                                    \
        b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q) + 1));                                \
    } while (0)

#define KERNEL256(MR, T, WT)                                                                         \
    AVX2 static void k256_##T##_##MR(const float *x, int ldx, int k, const WT *pw, const float *bias,  \
                                      int cols, float *y, int ldy) {                                  \
        /* pw: the first of 16 columns of a panel (stride NR); cols <= 16 of them are stored */        \
        float b[16] = {0};                                                                           \
        for (int j = 0; j < cols; j++) b[j] = bias ? bias[j] : 0.0f;                                 \
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                                 \
        __m256 a0[MR], a1[MR];                                                                       \
        float sums[MR][16];                                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                       \
            _mm256_storeu_ps(sums[r], b0); _mm256_storeu_ps(sums[r] + 8, b1);                         \
        }                                                                                            \
        const WT *q = pw;                                                                            \
        for (int i0 = 0; i0 < k; i0 += KB) {                                                         \
            int i1 = i0 + KB < k ? i0 + KB : k;                                                      \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) { a0[r] = _mm256_setzero_ps(); a1[r] = a0[r]; } \
            for (int i = i0; i < i1; i++, q += NR) {                                                 \
                __m256 w0, w1;                                                                       \
                LOAD256_##T(q, w0, w1);                                                              \
                _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                               \
                    __m256 xb = _mm256_broadcast_ss(x + (size_t)r * ldx + i);                        \
                    a0[r] = _mm256_fmadd_ps(w0, xb, a0[r]);                                          \
                    a1[r] = _mm256_fmadd_ps(w1, xb, a1[r]);                                          \
                }                                                                                    \
            }                                                                                        \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                   \
                _mm256_storeu_ps(sums[r], _mm256_add_ps(_mm256_loadu_ps(sums[r]), a0[r]));            \
                _mm256_storeu_ps(sums[r] + 8, _mm256_add_ps(_mm256_loadu_ps(sums[r] + 8), a1[r]));    \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                       \
            float *out = sums[r];                                                                    \
            memcpy(y + (size_t)r * ldy, out, sizeof(float) * (size_t)cols);                          \
        }                                                                                            \
    }

#define KERNELS(T, WT)                                                                               \
    KERNEL512(1, T, WT) KERNEL512(2, T, WT) KERNEL512(3, T, WT) KERNEL512(4, T, WT)                   \
    KERNEL512(5, T, WT) KERNEL512(6, T, WT) KERNEL512(7, T, WT) KERNEL512(8, T, WT)                   \
    KERNEL512(9, T, WT) KERNEL512(10, T, WT) KERNEL512(11, T, WT) KERNEL512(12, T, WT)                \
    KERNEL256(1, T, WT) KERNEL256(2, T, WT) KERNEL256(3, T, WT)                                      \
    KERNEL256(4, T, WT) KERNEL256(5, T, WT) KERNEL256(6, T, WT)                                      \
    typedef void (*kfn_##T)(const float *, int, int, const WT *, const float *, int, float *, int);  \
    typedef void (*kfn512_##T)(const float *, int, int, const WT *, const float *, int, float *, int, \
                               const char **, const char *, int);                                    \
    static const kfn512_##T k512_##T[13] = {NULL, k512_##T##_1, k512_##T##_2, k512_##T##_3, k512_##T##_4, \
        k512_##T##_5, k512_##T##_6, k512_##T##_7, k512_##T##_8, k512_##T##_9, k512_##T##_10,          \
        k512_##T##_11, k512_##T##_12};                                                               \
    static const kfn_##T k256_##T[7] = {NULL, k256_##T##_1, k256_##T##_2, k256_##T##_3, k256_##T##_4, \
        k256_##T##_5, k256_##T##_6};

KERNELS(f32, float)
KERNELS(bf16, uint16_t)
KERNELS(f16, uint16_t)
#endif

/* The chain on one output, in C: the reference the vector kernels reproduce, and the kernel off x86-64. */
static float widen(const void *pw, int wtype, size_t index) {
    if (wtype == MS_F32) return ((const float *)pw)[index];
    uint16_t h = ((const uint16_t *)pw)[index];
    if (wtype == MS_BF16) {
        union { uint32_t u; float f; } v = {(uint32_t)h << 16};
        return v.f;
    }
    /* IEEE half to float, exactly */
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    union { uint32_t u; float f; } v;
    if (exp == 0x1f) v.u = sign | 0x7f800000u | (mant << 13);
    else if (exp != 0) v.u = sign | ((exp + 112) << 23) | (mant << 13);
    else { float f = ldexpf((float)mant, -24); v.f = f; v.u |= sign; }
    return v.f;
}

/* Weight (output j, step i) at w[j * col_stride + i * step_stride]: a panel (1, NR) or the rows as stored (k, 1). */
static void chain_scalar(const float *x, int ldx, int rows, int k, const void *w, int wtype, size_t col_stride,
                         size_t step_stride, const float *bias, int cols, float *y, int ldy) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float sum = bias ? bias[j] : 0.0f;
            for (int i0 = 0; i0 < k; i0 += KB) {
                float acc = 0.0f;
                for (int i = i0; i < k && i < i0 + KB; i++)
                    acc = fmaf(widen(w, wtype, (size_t)j * col_stride + (size_t)i * step_stride), x[(size_t)r * ldx + i], acc);
                sum += acc;
            }
            y[(size_t)r * ldy + j] = sum;
        }
}

/* Which kernels run: 512 (AVX-512F), 256 (AVX2+FMA+F16C) or 0 (the scalar chain). ms_panels_force_width lowers it
 * (tests compare the widths). */
static _Atomic int forced_width = -1;

int ms_panels_width(void) {
    int forced = atomic_load(&forced_width);
#ifdef MS_X86
    static _Atomic int detected = -1;
    int w = atomic_load_explicit(&detected, memory_order_relaxed);
    if (w < 0) {
        __builtin_cpu_init();
        w = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 512
            : ms_kernels_available() ? 256 : 0;
        atomic_store_explicit(&detected, w, memory_order_relaxed);
    }
#else
    int w = 0;
#endif
    return forced >= 0 && forced < w ? forced : w;
}

void ms_panels_force_width(int bits) { atomic_store(&forced_width, bits); }

/* Rows [0, n) against one panel (pw, `cols` outputs), in tiles of at most 12 (AVX-512) or 6 (AVX2) rows of
 * nearly equal size (39 rows: 10, 10, 10, 9). */
static void rows_against_panel(int width, const float *x, int n, int k, const void *pw, int wtype, const float *bias,
                               int cols, float *y, int ldy, const char *next, size_t next_bytes) {
    /* (tiles of up to 14 rows, 28 accumulators, measured no faster at 39 rows) */
    int most = width == 512 ? 12 : 6;
    int tiles = (n + most - 1) / most;
    int r = 0;
    const char *pf = next; /* the next panel (NULL: none), prefetched by the tiles after the first */
    for (int t = 0; t < tiles; t++) {
        int mr = (n - r + (tiles - t) - 1) / (tiles - t); /* the rest, spread evenly */
        const float *xr = x + (size_t)r * k;
        float *yr = y + (size_t)r * ldy;
        const char *pf_end = next && t > 0 ? next + next_bytes : pf;
        /* the first tile streams its panel from memory: it prefetches its own lines AHEAD bytes ahead (into the
         * next panel at its end, which follows in the packed copy) */
        int ahead = next && t == 0 ? AHEAD : 0;
#ifdef MS_X86
        if (width == 512) {
            switch (wtype) {
            case MS_BF16: k512_bf16[mr](xr, k, k, pw, bias, cols, yr, ldy, &pf, pf_end, ahead); break;
            case MS_F16: k512_f16[mr](xr, k, k, pw, bias, cols, yr, ldy, &pf, pf_end, ahead); break;
            default: k512_f32[mr](xr, k, k, pw, bias, cols, yr, ldy, &pf, pf_end, ahead); break;
            }
        } else if (width == 256) {
            size_t half = 16 * elem_size(wtype);
            for (int h = 0; h < 2 && h * 16 < cols; h++) {
                const void *ph = (const char *)pw + h * half;
                const float *bh = bias ? bias + 16 * h : NULL;
                int ch = cols - 16 * h < 16 ? cols - 16 * h : 16;
                switch (wtype) {
                case MS_BF16: k256_bf16[mr](xr, k, k, ph, bh, ch, yr + 16 * h, ldy); break;
                case MS_F16: k256_f16[mr](xr, k, k, ph, bh, ch, yr + 16 * h, ldy); break;
                default: k256_f32[mr](xr, k, k, ph, bh, ch, yr + 16 * h, ldy); break;
                }
            }
        } else
#endif
            chain_scalar(xr, k, mr, k, pw, wtype, 1, NR, bias, cols, yr, ldy);
        r += mr;
    }
}

/* A panel-sized scratch buffer per thread, for passes that pack as they go. */
static _Thread_local void *scratch;
static _Thread_local size_t scratch_size;

void ms_panels_thread_exit(void) {
    free(scratch);
    scratch = NULL;
    scratch_size = 0;
}

static void *scratch_for(size_t bytes) {
    if (scratch_size < bytes) {
        free(scratch);
        scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
        scratch_size = scratch ? bytes : 0;
    }
    return scratch;
}

int ms_matrix_begin_packing(ms_matrix *m) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->state, &expected, 1)) return 0;
    size_t bytes = ms_matrix_bytes(m->wtype, m->k, m->out);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        atomic_store(&m->state, 3);
        return 0;
    }
    /* 4 KB pages: with MADV_HUGEPAGE the second pass of the roberta-large shape took 0.5-1.6 s instead of ~0.34 s
     * whenever the kernel compacted memory to find 2 MB pages, and prefaulting (MADV_POPULATE_WRITE) on one thread
     * was slower than the threads' own faults. */
    m->packed = p;
    m->packed_bytes = bytes;
    m->owns_packed = 1;
    return 1;
}

/* Gives back the whole pages of source rows [r_begin, r_end) (madvise MADV_DONTNEED). The row-major pages are no
 * longer read by this matrix's products; a pass that started before the packed panels were published and still
 * reads them, or a row lookup (the word embeddings), faults them in again from the file. */
static void release_rows(const ms_matrix *m, int r_begin, int r_end) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    size_t row = (size_t)m->k * elem_size(m->wtype);
    uintptr_t begin = (uintptr_t)m->src + (size_t)r_begin * row, end = (uintptr_t)m->src + (size_t)r_end * row;
    uintptr_t first = (begin + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t last = end / (uintptr_t)page * (uintptr_t)page;
    if (last > first) madvise((void *)first, last - first, MADV_DONTNEED);
}

void ms_matrix_finish_packing(ms_matrix *m) {
    atomic_store_explicit(&m->state, 2, memory_order_release);
    if (m->release_source) release_rows(m, 0, m->out); /* with the page edges between panels */
}

void ms_matrix_product(const ms_matrix *m, int packing, const float *x, int n, const float *bias,
                       int o_begin, int o_end, float *y, int ldy) {
    /* o_begin is a multiple of 32 (a panel's first output) */
    int width = ms_panels_width();
    size_t pb = panel_bytes(m->k, m->wtype);
    int packed = packing || ms_matrix_is_packed(m);
#ifdef MS_X86
    /* A piece starts cold: its first panel was prefetched by nobody. Its first AHEAD bytes are asked for at once,
     * and the first tile's own prefetch goes on from there. */
    if (packed && !packing && o_begin < o_end) {
        const char *first = (const char *)m->packed + (size_t)(o_begin / NR) * pb;
        for (size_t off = 0; off < AHEAD && off < pb; off += 64) _mm_prefetch(first + off, _MM_HINT_T0);
    }
#endif
    for (int o = o_begin; o < o_end; o += NR) {
        int p = o / NR, cols = o_end - o < NR ? o_end - o : NR;
        void *pw;
        if (packed) {
            pw = (char *)m->packed + (size_t)p * pb;
            if (packing) {
                pack_panel(m, p, pw);
                /* as it goes, so that the source and the copy are never both resident (a 206 MB decoder); every
                 * RELEASE_PANELS panels, since each madvise interrupts the other threads to flush their TLBs */
                if (m->release_source && (p % RELEASE_PANELS == RELEASE_PANELS - 1 || o + NR >= o_end))
                    release_rows(m, (p - p % RELEASE_PANELS) * NR > o_begin ? (p - p % RELEASE_PANELS) * NR : o_begin, o + cols);
            }
        } else {
            pw = scratch_for(pb);
            if (!pw) { /* no memory for a panel: the chain, one output at a time, straight from the rows */
                const char *rows = (const char *)m->src + (size_t)o * m->k * elem_size(m->wtype);
                chain_scalar(x, m->k, n, m->k, rows, m->wtype, (size_t)m->k, 1, bias ? bias + o : NULL, cols, y + o, ldy);
                continue;
            }
            pack_panel(m, p, pw);
        }
        /* the next panel of this piece, when it is packed already (not while this pass writes it) */
        const char *next = packed && !packing && o + NR < o_end ? (const char *)pw + pb : NULL;
        rows_against_panel(width, x, n, m->k, pw, m->wtype, bias ? bias + o : NULL, cols, y + o, ldy, next, pb);
    }
}

int ms_matrix_panel_count(const ms_matrix *m) { return panel_count(m->out); }

void ms_matrix_pack_panels(ms_matrix *m, int first, int end) {
    size_t pb = panel_bytes(m->k, m->wtype);
    for (int p = first; p < end && p < panel_count(m->out); p++) pack_panel(m, p, (char *)m->packed + (size_t)p * pb);
}

int ms_matrix_pack_now(ms_matrix *m) {
    if (!ms_matrix_begin_packing(m)) return ms_matrix_is_packed(m) ? 0 : -1;
    ms_matrix_pack_panels(m, 0, panel_count(m->out));
    ms_matrix_finish_packing(m);
    return 0;
}

void ms_matrix_widen_row(const ms_matrix *m, int r, float *out) {
    const char *panel = (const char *)m->packed + (size_t)(r / NR) * panel_bytes(m->k, m->wtype);
    for (int i = 0; i < m->k; i++) out[i] = widen(panel, m->wtype, (size_t)i * NR + r % NR);
}
