#include "ckernels.h"
#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MS_X86 1
#endif

int ms_kernels_available(void) {
#ifdef MS_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

#ifdef MS_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))


/* [a, b, c, d] -> one vector of their four horizontal sums. */
AVX2 static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* Weights come as float32, or as bfloat16 or float16 widened to float32 as they are loaded into registers
 * (exactly: every bfloat16 and float16 value is a float32 value), so a 16-bit checkpoint computes the same
 * sums as its float32 widening while streaming half the bytes. W8 loads eight weights as floats, W1 one. */
#define W8_f32(p) _mm256_loadu_ps(p)
#define W1_f32(p) (*(p))
#define W8_bf16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define W1_bf16(p) bf16_to_float(*(p))
#define W8_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define W1_f16(p) _cvtsh_ss(*(p))

static inline float bf16_to_float(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* Four weight rows against ROWS (1..3) input rows. The ROWS input vectors stay in registers while the four
 * weight rows stream past them: 4*ROWS accumulators + ROWS inputs + 1 weight <= 16 ymm registers, so
 * nothing spills, and each loop step does 12 FMAs for 7 loads. `pf` walks over memory to prefetch (the
 * next weight block) until `pf_end`. (Measured alternatives: one weight row against up to 12 input rows
 * reads the inputs from L2 and is 1.5-3x slower; chunking 64 weight rows for L2 is slower for 9 rows.) */
#define TILE(ROWS, T, WT)                                                                            \
    AVX2 static void tile4x##ROWS##_##T(const float *x, int k, const WT *w, const float *bias, int o, \
                                  float *y, int ldy, const char **pf, const char *pf_end, int pf_step) { \
        const WT *w0 = w, *w1 = w + k, *w2 = w + 2 * (size_t)k, *w3 = w + 3 * (size_t)k;             \
        __m256 acc[ROWS][4];                                                                         \
        for (int r = 0; r < ROWS; r++)                                                               \
            for (int j = 0; j < 4; j++) acc[r][j] = _mm256_setzero_ps();                             \
        int i = 0;                                                                                   \
        for (; i + 8 <= k; i += 8) {                                                                 \
            if (*pf < pf_end) {                                                                      \
                _mm_prefetch(*pf, _MM_HINT_T0);                                                      \
                *pf += pf_step;                                                                      \
            }                                                                                        \
            __m256 v[ROWS];                                                                          \
            for (int r = 0; r < ROWS; r++) v[r] = _mm256_loadu_ps(x + (size_t)r * k + i);            \
            __m256 a = W8_##T(w0 + i);                                                               \
            for (int r = 0; r < ROWS; r++) acc[r][0] = _mm256_fmadd_ps(a, v[r], acc[r][0]);          \
            a = W8_##T(w1 + i);                                                                      \
            for (int r = 0; r < ROWS; r++) acc[r][1] = _mm256_fmadd_ps(a, v[r], acc[r][1]);          \
            a = W8_##T(w2 + i);                                                                      \
            for (int r = 0; r < ROWS; r++) acc[r][2] = _mm256_fmadd_ps(a, v[r], acc[r][2]);          \
            a = W8_##T(w3 + i);                                                                      \
            for (int r = 0; r < ROWS; r++) acc[r][3] = _mm256_fmadd_ps(a, v[r], acc[r][3]);          \
        }                                                                                            \
        for (int r = 0; r < ROWS; r++) {                                                             \
            float out[4];                                                                            \
            _mm_storeu_ps(out, hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));                   \
            const float *xr = x + (size_t)r * k;                                                     \
            for (int t = i; t < k; t++) {                                                            \
                out[0] += W1_##T(w0 + t) * xr[t]; out[1] += W1_##T(w1 + t) * xr[t];                  \
                out[2] += W1_##T(w2 + t) * xr[t]; out[3] += W1_##T(w3 + t) * xr[t];                  \
            }                                                                                        \
            float *yr = y + (size_t)r * ldy + o;                                                     \
            for (int j = 0; j < 4; j++) yr[j] = out[j] + (bias ? bias[o + j] : 0.0f);                \
        }                                                                                            \
    }

/* Sum of the eight lanes. */
AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

/* One weight row against every input row (the last out % 4 outputs). */
#define SINGLE_ROW(T, WT)                                                                            \
    AVX2 static void single_row_##T(const float *x, int n, int k, const WT *wrow, float b, int o, float *y, int ldy) { \
        for (int r = 0; r < n; r++) {                                                                \
            const float *xr = x + (size_t)r * k;                                                     \
            __m256 acc = _mm256_setzero_ps();                                                        \
            int i = 0;                                                                               \
            for (; i + 8 <= k; i += 8) acc = _mm256_fmadd_ps(W8_##T(wrow + i), _mm256_loadu_ps(xr + i), acc); \
            float sum = hsum8(acc);                                                                  \
            for (; i < k; i++) sum += W1_##T(wrow + i) * xr[i];                                      \
            y[(size_t)r * ldy + o] = sum + b;                                                        \
        }                                                                                            \
    }

#define LINEAR(T, WT)                                                                                \
    TILE(1, T, WT)                                                                                   \
    TILE(2, T, WT)                                                                                   \
    TILE(3, T, WT)                                                                                   \
    SINGLE_ROW(T, WT)                                                                                \
    AVX2 static void linear_##T(const float *x, int n, int k, const WT *w, const float *bias,        \
                                int o_begin, int o_end, float *y, int ldy) {                         \
        int o = o_begin;                                                                             \
        for (; o + 4 <= o_end; o += 4) {                                                             \
            const WT *wo = w + (size_t)o * k;                                                        \
            /* The first group of input rows runs over these four weight rows while they arrive from \
             * memory; the later groups find them in L1 and leave the memory bus idle, so they prefetch \
             * the next four rows, spread evenly over their steps. Measured (roberta-large shape, 9    \
             * rows, 2 threads): the products take ~59 ms instead of 65-77 ms with prefetching during  \
             * the first pass or ~61-66 ms with none; distilroberta-base 8.7 ms instead of 11.6-12.7. */ \
            size_t block = 4 * (size_t)k * sizeof(WT);                                               \
            const char *next = (const char *)(o + 8 <= o_end ? wo + 4 * (size_t)k : wo);             \
            const char *next_end = next + block;                                                     \
            int later = (n + 2) / 3 - 1;                       /* groups after the first */          \
            int steps = later * (k / 8);                        /* their vector steps */             \
            int pf_step = steps > 0 ? (int)((block / (size_t)steps + 63) / 64 * 64) : 64;            \
            const char *pf = next, *pf_end = next;              /* nothing to prefetch in the first group */ \
            int r = 0;                                                                               \
            for (int g = 0; r + 3 <= n; r += 3, g++) {                                               \
                if (g == 1) pf_end = next_end;                                                       \
                tile4x3_##T(x + (size_t)r * k, k, wo, bias, o, y + (size_t)r * ldy, ldy, &pf, pf_end, pf_step); \
            }                                                                                        \
            if (r >= 3) pf_end = next_end;                                                           \
            if (n - r == 2) tile4x2_##T(x + (size_t)r * k, k, wo, bias, o, y + (size_t)r * ldy, ldy, &pf, pf_end, pf_step); \
            else if (n - r == 1) tile4x1_##T(x + (size_t)r * k, k, wo, bias, o, y + (size_t)r * ldy, ldy, &pf, pf_end, pf_step); \
        }                                                                                            \
        for (; o < o_end; o++) single_row_##T(x, n, k, w + (size_t)o * k, bias ? bias[o] : 0.0f, o, y, ldy); \
    }

LINEAR(f32, float)
LINEAR(bf16, uint16_t)
LINEAR(f16, uint16_t)

/* e^x for x <= 0 (here x = -t*t): range reduction to r in [-ln2/2, ln2/2], then a degree-6 polynomial
 * (Cephes' expf coefficients, relative error ~1e-7). */
AVX2 static inline __m256 exp_neg(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX2 static void gelu_avx2(float *x, size_t count) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f));
        __m256 s = _mm256_and_ps(sign, z);
        __m256 a = _mm256_xor_ps(s, z);
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, one));
        __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(1.061405429f), t, _mm256_set1_ps(-1.453152027f));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
        __m256 e = exp_neg(_mm256_xor_ps(sign, _mm256_mul_ps(a, a)));
        __m256 erf_abs = _mm256_fnmadd_ps(_mm256_mul_ps(poly, t), e, one);  /* 1 - poly*t*e^{-a^2} */
        __m256 erf = _mm256_xor_ps(s, erf_abs);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
    }
    for (; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
#endif

#ifdef MS_X86
AVX2 static void attention_avx2(const float *q, const float *k, const float *v, int n, int d, int ld, float scale,
                                float *probs, float *ctx, int ldc) {
    for (int i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * ld;
        float *p = probs + (size_t)i * n;
        float max = -INFINITY;
        /* Eight keys at a time: eight independent FMA chains instead of one, so the FMA latency is hidden.
         * Each score is still summed in the same order (vector over t, then hsum8), so the maps are the
         * same bits as one key at a time. */
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 acc[8];
            for (int u = 0; u < 8; u++) acc[u] = _mm256_setzero_ps();
            int t = 0;
            for (; t + 8 <= d; t += 8) {
                __m256 qv = _mm256_loadu_ps(qi + t);
                for (int u = 0; u < 8; u++)
                    acc[u] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + (size_t)(j + u) * ld + t), acc[u]);
            }
            for (int u = 0; u < 8; u++) {
                const float *kj = k + (size_t)(j + u) * ld;
                float sum = hsum8(acc[u]);
                for (int r = t; r < d; r++) sum += qi[r] * kj[r];
                p[j + u] = sum * scale;
                if (p[j + u] > max) max = p[j + u];
            }
        }
        for (; j < n; j++) {
            const float *kj = k + (size_t)j * ld;
            __m256 acc = _mm256_setzero_ps();
            int t = 0;
            for (; t + 8 <= d; t += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qi + t), _mm256_loadu_ps(kj + t), acc);
            float sum = hsum8(acc);
            for (; t < d; t++) sum += qi[t] * kj[t];
            p[j] = sum * scale;
            if (p[j] > max) max = p[j];
        }
        /* softmax: exp(x - max) with x - max <= 0, then normalise */
        __m256 vmax = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
        j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(p + j), vmax));
            _mm256_storeu_ps(p + j, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        float sum = hsum8(vsum);
        for (; j < n; j++) { p[j] = expf(p[j] - max); sum += p[j]; }
        float inv = 1.0f / sum;
        for (j = 0; j < n; j++) p[j] *= inv;
        /* ctx_i = sum_j p_j v_j, up to eight vectors of the head at once (independent chains, each summed
         * over j in order as before) */
        float *ci = ctx + (size_t)i * ldc;
        int t = 0;
        for (; t + 64 <= d; t += 64) {
            __m256 acc[8];
            for (int u = 0; u < 8; u++) acc[u] = _mm256_setzero_ps();
            for (int jj = 0; jj < n; jj++) {
                __m256 pj = _mm256_set1_ps(p[jj]);
                const float *vj = v + (size_t)jj * ld + t;
                for (int u = 0; u < 8; u++) acc[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * u), acc[u]);
            }
            for (int u = 0; u < 8; u++) _mm256_storeu_ps(ci + t + 8 * u, acc[u]);
        }
        for (; t + 8 <= d; t += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int jj = 0; jj < n; jj++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(p[jj]), _mm256_loadu_ps(v + (size_t)jj * ld + t), acc);
            _mm256_storeu_ps(ci + t, acc);
        }
        for (; t < d; t++) {
            float acc = 0;
            for (int jj = 0; jj < n; jj++) acc += p[jj] * v[(size_t)jj * ld + t];
            ci[t] = acc;
        }
    }
}
#endif

void ms_attention_head(const float *q, const float *k, const float *v, int n, int d, int ld, float scale,
                       float *probs, float *ctx, int ldc) {
#ifdef MS_X86
    attention_avx2(q, k, v, n, d, ld, scale, probs, ctx, ldc);
#else
    for (int i = 0; i < n; i++) {
        float *p = probs + (size_t)i * n, max = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
            float s = 0;
            for (int t = 0; t < d; t++) s += q[(size_t)i * ld + t] * k[(size_t)j * ld + t];
            p[j] = s * scale;
            if (p[j] > max) max = p[j];
        }
        for (int j = 0; j < n; j++) { p[j] = expf(p[j] - max); sum += p[j]; }
        for (int j = 0; j < n; j++) p[j] /= sum;
        for (int t = 0; t < d; t++) {
            float acc = 0;
            for (int j = 0; j < n; j++) acc += p[j] * v[(size_t)j * ld + t];
            ctx[(size_t)i * ldc + t] = acc;
        }
    }
#endif
}

void ms_linear(const float *x, int n, int k, const void *w, int wtype, const float *bias,
               int o_begin, int o_end, float *y, int ldy) {
#ifdef MS_X86
    switch (wtype) {
    case MS_BF16: linear_bf16(x, n, k, w, bias, o_begin, o_end, y, ldy); return;
    case MS_F16: linear_f16(x, n, k, w, bias, o_begin, o_end, y, ldy); return;
    default: linear_f32(x, n, k, w, bias, o_begin, o_end, y, ldy); return;
    }
#else
    (void)wtype; /* 16-bit weights are only kept where the kernels run */
    ms_linear_nt(x, n, k, w, bias, o_begin, o_end, y, ldy);
#endif
}

void ms_linear_nt(const float *x, int n, int k, const float *w, const float *bias,
                  int o_begin, int o_end, float *y, int ldy) {
#ifdef MS_X86
    linear_f32(x, n, k, w, bias, o_begin, o_end, y, ldy);
#else
    for (int r = 0; r < n; r++)
        for (int o = o_begin; o < o_end; o++) {
            float sum = bias ? bias[o] : 0.0f;
            for (int i = 0; i < k; i++) sum += x[(size_t)r * k + i] * w[(size_t)o * k + i];
            y[(size_t)r * ldy + o] = sum;
        }
#endif
}

void ms_gelu_erf(float *x, size_t count) {
#ifdef MS_X86
    gelu_avx2(x, count);
#else
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
#endif
}

/* ---- Rounding float32 to 16 bits once at load (--precision bf16 / f16) ---------------------------------------
 * Round to nearest, ties to even. bfloat16: the upper half after adding 0x7fff + the kept half's lowest bit; a
 * NaN keeps its sign and upper payload and gets the quiet bit (0x0040), so it never rounds to infinity. float16:
 * F16C's vcvtps2ph (subnormals, overflow to infinity, NaN quietened with its sign and upper payload). Both
 * return how many finite inputs became infinite (overflow), for the caller to refuse. src need not be aligned.
 * The Swift functions floatToBFloat16 / floatToHalf in Rounding.swift are the reference; tests compare them. */

static inline uint32_t ms_load_u32(const unsigned char *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline uint16_t ms_bf16_scalar(uint32_t bits) {
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#ifdef MS_X86
AVX2 static size_t round_bf16_avx2(const unsigned char *src, uint16_t *dst, size_t count) {
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i inf = _mm256_set1_epi32(0x7f800000), quiet = _mm256_set1_epi32(0x0040);
    const __m256i inf16 = _mm256_set1_epi16(0x7f80), abs16 = _mm256_set1_epi16(0x7fff);
    size_t overflow = 0, i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i half[2];
        __m256i finite[2];
        for (int j = 0; j < 2; j++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(src + 4 * (i + 8 * (size_t)j)));
            __m256i a = _mm256_and_si256(b, absmask);
            __m256i nan = _mm256_cmpgt_epi32(a, inf);
            __m256i rounded = _mm256_srli_epi32(
                _mm256_add_epi32(b, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(b, 16), one))), 16);
            __m256i quietNaN = _mm256_or_si256(_mm256_srli_epi32(b, 16), quiet);
            half[j] = _mm256_blendv_epi8(rounded, quietNaN, nan);
            finite[j] = _mm256_cmpgt_epi32(inf, a);
        }
        /* packus works per 128-bit lane: [a0-3 b0-3 a4-7 b4-7]; the permute puts them in order. */
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(half[0], half[1]), 0xd8);
        _mm256_storeu_si256((__m256i *)(dst + i), packed);
        __m256i isinf = _mm256_cmpeq_epi16(_mm256_and_si256(packed, abs16), inf16);
        __m256i fin16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(finite[0], finite[1]), 0xd8);
        unsigned bad = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(isinf, fin16));
        overflow += (size_t)__builtin_popcount(bad) / 2;
    }
    for (; i < count; i++) {
        uint32_t bits = ms_load_u32(src + 4 * i);
        dst[i] = ms_bf16_scalar(bits);
        if ((bits & 0x7fffffffu) < 0x7f800000u && (dst[i] & 0x7fffu) == 0x7f80u) overflow++;
    }
    return overflow;
}

AVX2 static size_t round_f16_avx2(const unsigned char *src, uint16_t *dst, size_t count) {
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m128i inf16 = _mm_set1_epi16(0x7c00), abs16 = _mm_set1_epi16(0x7fff);
    size_t overflow = 0, i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + 4 * i));
        __m128i h = _mm256_cvtps_ph(_mm256_castsi256_ps(b), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
        __m128i isinf = _mm_cmpeq_epi16(_mm_and_si128(h, abs16), inf16);
        if (_mm_movemask_epi8(isinf)) {
            __m256i finite = _mm256_cmpgt_epi32(inf, _mm256_and_si256(b, absmask));
            __m128i fin16 = _mm_packs_epi32(_mm256_castsi256_si128(finite), _mm256_extracti128_si256(finite, 1));
            overflow += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(_mm_and_si128(isinf, fin16))) / 2;
        }
    }
    for (; i < count; i++) {
        uint32_t bits = ms_load_u32(src + 4 * i);
        float f;
        __builtin_memcpy(&f, &bits, 4);
        dst[i] = _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if ((bits & 0x7fffffffu) < 0x7f800000u && (dst[i] & 0x7fffu) == 0x7c00u) overflow++;
    }
    return overflow;
}
#endif

size_t ms_round_bf16(const void *src, uint16_t *dst, size_t count) {
#ifdef MS_X86
    if (ms_kernels_available()) return round_bf16_avx2((const unsigned char *)src, dst, count);
#endif
    size_t overflow = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = ms_load_u32((const unsigned char *)src + 4 * i);
        dst[i] = ms_bf16_scalar(bits);
        if ((bits & 0x7fffffffu) < 0x7f800000u && (dst[i] & 0x7fffu) == 0x7f80u) overflow++;
    }
    return overflow;
}

size_t ms_round_f16(const void *src, uint16_t *dst, size_t count) {
#ifdef MS_X86
    if (ms_kernels_available()) return round_f16_avx2((const unsigned char *)src, dst, count);
#endif
    (void)src; (void)dst; (void)count;
    return (size_t)-1; /* no F16C: the caller rounds in software (Rounding.swift) */
}
