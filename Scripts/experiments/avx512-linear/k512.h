/* AVX-512 versions of the few-row weight products: the same structure as the AVX2 ones (four weight rows at a
 * time against groups of input rows, the next four weight rows prefetched while later groups run), with 16
 * lanes and groups of up to 6 input rows (24 accumulators of the 32 registers). */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

AVX512 static inline __m128 hsum4_512(__m512 a, __m512 b, __m512 c, __m512 d) {
    /* fold each to 8 lanes, then as hsum4 */
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1)));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1)));
    __m256 ab = _mm256_hadd_ps(a8, b8);
    __m256 cd = _mm256_hadd_ps(c8, d8);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

#define W16_f32(p) _mm512_loadu_ps(p)
#define W16_bf16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define W16_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))

#define TILE512(ROWS, T, WT)                                                                         \
    AVX512 static void tile512_4x##ROWS##_##T(const float *x, int k, const WT *w, const float *bias, int o, \
                                  float *y, int ldy, const char **pf, const char *pf_end, int pf_step) { \
        const WT *w0 = w, *w1 = w + k, *w2 = w + 2 * (size_t)k, *w3 = w + 3 * (size_t)k;             \
        __m512 acc[ROWS][4];                                                                         \
        for (int r = 0; r < ROWS; r++)                                                               \
            for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();                             \
        int i = 0;                                                                                   \
        for (; i + 16 <= k; i += 16) {                                                               \
            if (*pf < pf_end) {                                                                      \
                _mm_prefetch(*pf, _MM_HINT_T0);                                                      \
                *pf += pf_step;                                                                      \
            }                                                                                        \
            __m512 v[ROWS];                                                                          \
            for (int r = 0; r < ROWS; r++) v[r] = _mm512_loadu_ps(x + (size_t)r * k + i);            \
            __m512 a = W16_##T(w0 + i);                                                              \
            for (int r = 0; r < ROWS; r++) acc[r][0] = _mm512_fmadd_ps(a, v[r], acc[r][0]);          \
            a = W16_##T(w1 + i);                                                                     \
            for (int r = 0; r < ROWS; r++) acc[r][1] = _mm512_fmadd_ps(a, v[r], acc[r][1]);          \
            a = W16_##T(w2 + i);                                                                     \
            for (int r = 0; r < ROWS; r++) acc[r][2] = _mm512_fmadd_ps(a, v[r], acc[r][2]);          \
            a = W16_##T(w3 + i);                                                                     \
            for (int r = 0; r < ROWS; r++) acc[r][3] = _mm512_fmadd_ps(a, v[r], acc[r][3]);          \
        }                                                                                            \
        for (int r = 0; r < ROWS; r++) {                                                             \
            float out[4];                                                                            \
            _mm_storeu_ps(out, hsum4_512(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));               \
            const float *xr = x + (size_t)r * k;                                                     \
            for (int t = i; t < k; t++) {                                                            \
                out[0] += W1_##T(w0 + t) * xr[t]; out[1] += W1_##T(w1 + t) * xr[t];                  \
                out[2] += W1_##T(w2 + t) * xr[t]; out[3] += W1_##T(w3 + t) * xr[t];                  \
            }                                                                                        \
            float *yr = y + (size_t)r * ldy + o;                                                     \
            for (int j = 0; j < 4; j++) yr[j] = out[j] + (bias ? bias[o + j] : 0.0f);                \
        }                                                                                            \
    }

AVX512 static inline float hsum16(__m512 v) {
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

#define SINGLE_ROW512(T, WT)                                                                         \
    AVX512 static void single_row512_##T(const float *x, int n, int k, const WT *wrow, float b, int o, float *y, int ldy) { \
        for (int r = 0; r < n; r++) {                                                                \
            const float *xr = x + (size_t)r * k;                                                     \
            __m512 acc = _mm512_setzero_ps();                                                        \
            int i = 0;                                                                               \
            for (; i + 16 <= k; i += 16) acc = _mm512_fmadd_ps(W16_##T(wrow + i), _mm512_loadu_ps(xr + i), acc); \
            float sum = hsum16(acc);                                                                 \
            for (; i < k; i++) sum += W1_##T(wrow + i) * xr[i];                                      \
            y[(size_t)r * ldy + o] = sum + b;                                                        \
        }                                                                                            \
    }

#ifndef GROUP_SIZE
#define GROUP_SIZE 3
#endif
#define GROUP GROUP_SIZE
#define CAT3(a, b, c) a##b##c
#define TILE_FOR(G, T) CAT3(tile512_4x, G, _##T)
#define TILE512_GROUP_CALL(T) TILE_FOR(GROUP_SIZE, T)
#define LINEAR512(T, WT)                                                                             \
    TILE512(1, T, WT) TILE512(2, T, WT) TILE512(3, T, WT) TILE512(4, T, WT) TILE512(5, T, WT) TILE512(6, T, WT) \
    SINGLE_ROW512(T, WT)                                                                             \
    AVX512 static void linear512_##T(const float *x, int n, int k, const WT *w, const float *bias,   \
                                int o_begin, int o_end, float *y, int ldy) {                         \
        int o = o_begin;                                                                             \
        for (; o + 4 <= o_end; o += 4) {                                                             \
            const WT *wo = w + (size_t)o * k;                                                        \
            size_t block = 4 * (size_t)k * sizeof(WT);                                               \
            const char *next = (const char *)(o + 8 <= o_end ? wo + 4 * (size_t)k : wo);             \
            const char *next_end = next + block;                                                     \
            int later = (n + GROUP - 1) / GROUP - 1;                                                 \
            int steps = later * (k / 16);                                                            \
            int pf_step = steps > 0 ? (int)((block / (size_t)steps + 63) / 64 * 64) : 64;            \
            const char *pf = next, *pf_end = next;                                                   \
            int r = 0;                                                                               \
            for (int g = 0; r + GROUP <= n; r += GROUP, g++) {                                       \
                if (g == 1) pf_end = next_end;                                                       \
                TILE512_GROUP_CALL(T)(x + (size_t)r * k, k, wo, bias, o, y + (size_t)r * ldy, ldy, &pf, pf_end, pf_step); \
            }                                                                                        \
            if (r >= GROUP) pf_end = next_end;                                                       \
            const float *xr = x + (size_t)r * k; float *yr = y + (size_t)r * ldy;                    \
            switch (n - r) {                                                                         \
            case 5: tile512_4x5_##T(xr, k, wo, bias, o, yr, ldy, &pf, pf_end, pf_step); break;       \
            case 4: tile512_4x4_##T(xr, k, wo, bias, o, yr, ldy, &pf, pf_end, pf_step); break;       \
            case 3: tile512_4x3_##T(xr, k, wo, bias, o, yr, ldy, &pf, pf_end, pf_step); break;       \
            case 2: tile512_4x2_##T(xr, k, wo, bias, o, yr, ldy, &pf, pf_end, pf_step); break;       \
            case 1: tile512_4x1_##T(xr, k, wo, bias, o, yr, ldy, &pf, pf_end, pf_step); break;       \
            default: break;                                                                          \
            }                                                                                        \
        }                                                                                            \
        for (; o < o_end; o++) single_row512_##T(x, n, k, w + (size_t)o * k, bias ? bias[o] : 0.0f, o, y, ldy); \
    }

LINEAR512(f32, float)
LINEAR512(bf16, uint16_t)
LINEAR512(f16, uint16_t)
