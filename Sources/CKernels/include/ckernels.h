#ifndef MASKSCOPE_CKERNELS_H
#define MASKSCOPE_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/* Hand-written AVX2/FMA (and, where the CPU has it, AVX-512) kernels for the shapes RoBERTa inference has: a few
 * rows (tokens) times a large weight matrix. OpenBLAS packs the whole weight matrix on every call, which wastes
 * most of the memory bandwidth when there are only 1-40 rows. The engine's products run on packed panels (the end
 * of this header, panels.c), packed once per matrix; ms_linear / ms_linear_nt stream a row-major matrix in place.
 * Every function checks nothing: callers pass valid pointers and sizes. */

/* 1 when this CPU runs the AVX2+FMA(+F16C) kernels; callers fall back to cblas otherwise. */
int ms_kernels_available(void);

/* y[r][o] = bias[o] + sum_i x[r][i] * w[o][i] for r < n and o in [o_begin, o_end).
 * x: [n, k] row-major (ld k), w: [out, k] row-major (nn.Linear weight), y: [n, ldy]. bias may be NULL. */
void ms_linear_nt(const float *x, int n, int k, const float *w, const float *bias,
                  int o_begin, int o_end, float *y, int ldy);

/* How a weight matrix is stored: float32, or bfloat16 / float16 bits widened to float32 in the kernel. */
enum { MS_F32 = 0, MS_BF16 = 1, MS_F16 = 2 };

/* ms_linear_nt with the weights stored as `wtype`; the sums are the same as with the weights widened to
 * float32 first (the widening is exact). */
void ms_linear(const float *x, int n, int k, const void *w, int wtype, const float *bias,
               int o_begin, int o_end, float *y, int ldy);

/* x = 0.5 * x * (1 + erf(x / sqrt(2))) in place, erf by the same rational approximation PyTorch's
 * vectorised CPU kernel uses (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
void ms_gelu_erf(float *x, size_t count);

/* One attention head over n tokens, fused: probs[i][j] = softmax_j(scale * q_i . k_j) and
 * ctx_i = sum_j probs[i][j] * v_j. q, k, v: rows of stride ld (the head's columns of the Q/K/V matrices);
 * probs: [n, n] (written: the attention map); ctx: rows of stride ldc. */
void ms_attention_head(const float *q, const float *k, const float *v, int n, int d, int ld, float scale,
                       float *probs, float *ctx, int ldc);

/* A set of threads that share the work of a forward pass (pool.c). ms_pool_create(threads) starts
 * threads-1 workers (the caller is the last one). Each ms_pool_* call cuts its work into pieces that the
 * threads take in turn, and returns when all are done; calls on one pool are serialised. A NULL pool
 * runs everything on the calling thread. ms_pool_set_active(1) lets the workers spin between jobs
 * during a forward pass, (0) puts them to sleep. */
typedef struct ms_pool ms_pool;
ms_pool *ms_pool_create(int threads);
void ms_pool_destroy(ms_pool *pool);
int ms_pool_threads(const ms_pool *pool);
void ms_pool_set_active(ms_pool *pool, int active);
/* ms_linear_nt over all `out` weight rows, in blocks of rows. */
void ms_pool_linear(ms_pool *pool, const float *x, int n, int k, const void *w, int wtype, const float *bias,
                    int out, float *y, int ldy);
/* ms_attention_head for every head h (columns h*d ..< (h+1)*d of q, k, v and ctx); head h's map goes to
 * probs + h*n*n, so probs holds heads*n*n floats. */
void ms_pool_attention(ms_pool *pool, const float *q, const float *k, const float *v, int n, int heads, int d,
                       int ld, float scale, float *probs, float *ctx, int ldc);
/* ms_gelu_erf over count values, in slices. */
void ms_pool_gelu(ms_pool *pool, float *x, size_t count);

/* Rounds count float32 values (src: little-endian, any alignment) to bfloat16 / float16 bits, to nearest with
 * ties to even, NaN kept NaN (quiet, sign and upper payload kept), overflow to infinity. Returns how many finite
 * values overflowed to infinity. ms_round_f16 needs F16C (ms_kernels_available): without it it writes nothing
 * and returns (size_t)-1. */
size_t ms_round_bf16(const void *src, uint16_t *dst, size_t count);
size_t ms_round_f16(const void *src, uint16_t *dst, size_t count);

/* The float32 FMA peak (peak.c), to judge the weight products against: ms_fma_peak_gflops runs a register-only loop
 * of independent FMAs on as many threads as `pool` has (NULL: one), all at once for about `seconds`, and returns
 * the sum of their GFLOP/s (0 without AVX2+FMA). ms_fma_width_bits says which vectors it uses, those of the panel
 * kernels (ms_panels_width): 512, 256 or 0. */
double ms_fma_peak_gflops(ms_pool *pool, double seconds);
int ms_fma_width_bits(void);

/* ---- Weight products on packed panels (panels.c) ----
 * A weight matrix [out, k] (row-major, wtype elements) read through panels of 32 outputs: every output is a chain
 * of fused multiply-adds over i in order, in blocks (below), so the bits do not depend on the row count, the
 * tile, the vector width or whether the matrix is packed yet. Until it is packed each product packs the panels it
 * needs into a per-thread buffer; a pass that packs (ms_pool_matrix with pack = 1, once per matrix) writes them to
 * a copy that later products read directly, and then drops the source's pages when release_source is set. */
/* The chain is cut into blocks of MS_PANEL_K_BLOCK steps, each summed from zero and then added to the output:
 *     y = bias;  for each block b: { s = 0; for i in b: s = fma(w[i], x[i], s); y = y + s; }
 * which keeps the rounding error of k = 4096 below that of 16 interleaved sums. */
#define MS_PANEL_K_BLOCK 64
typedef struct ms_matrix ms_matrix;
ms_matrix *ms_matrix_create(const void *src, int wtype, int k, int out, int release_source);
void ms_matrix_destroy(ms_matrix *m);
int ms_matrix_is_packed(const ms_matrix *m);
int ms_matrix_outputs(const ms_matrix *m);
/* Bytes of the packed copy (0 before it exists). */
size_t ms_matrix_packed_bytes(const ms_matrix *m);
/* 1 when the caller now owns packing (allocated); 0 when packed, being packed, or out of memory. */
int ms_matrix_begin_packing(ms_matrix *m);
void ms_matrix_finish_packing(ms_matrix *m);
/* Packs the whole matrix now, on this thread; 0 when it is packed (now or before), -1 when memory ran out. Once
 * packed, the source is never read again: the caller may free it (a copy made at load). */
int ms_matrix_pack_now(ms_matrix *m);
/* ms_matrix_pack_now in pieces for several threads: after ms_matrix_begin_packing returned 1, panels [first, end)
 * of ms_matrix_panel_count (any split), then ms_matrix_finish_packing once. */
int ms_matrix_panel_count(const ms_matrix *m);
void ms_matrix_pack_panels(ms_matrix *m, int first, int end);
/* The bytes of the packed copy of a [out, k] matrix of wtype elements (0 for a bad type, k or out <= 0, or an
 * overflow): ceil(out / 32) panels of k * 32 elements, zero past the last output. The layout does not depend on the
 * CPU, so a copy written by one machine is read by another (the panel cache). */
size_t ms_matrix_bytes(int wtype, int k, int out);
/* The packed panels (ms_matrix_bytes bytes), or NULL before m is packed: what the panel cache writes. */
const void *ms_matrix_panels(const ms_matrix *m);
/* 1 when packing m found no memory for its copy (its products then pack per call, as before any packing). */
int ms_matrix_pack_failed(const ms_matrix *m);
/* Makes m packed at once with the panels at `panels` (ms_matrix_bytes bytes in the packed layout, owned by the
 * caller and alive as long as m): a copy read back from the panel cache. 1 when adopted, 0 when m is packed, being
 * packed, or failed to pack already. The source is never read again. */
int ms_matrix_adopt(ms_matrix *m, const void *panels);
/* Row r of a packed matrix, widened to float32 into out (k values). */
void ms_matrix_widen_row(const ms_matrix *m, int r, float *out);
/* Outputs [o_begin, o_end) of x [n, k] times m (o_begin a multiple of 32); packing: this call writes its panels
 * into the packed copy (between begin and finish). */
void ms_matrix_product(const ms_matrix *m, int packing, const float *x, int n, const float *bias,
                       int o_begin, int o_end, float *y, int ldy);
/* The vector width of the panel kernels: 512, 256, or 0 (scalar); ms_panels_force_width(bits) caps it (tests),
 * -1 lifts the cap. */
int ms_panels_width(void);
/* Frees the calling thread's panel buffer (a pool worker calls it as it exits). */
void ms_panels_thread_exit(void);
void ms_panels_force_width(int bits);
/* ms_matrix_product over all outputs on the pool's threads; pack = 1 packs the matrix in this pass if nobody has. */
void ms_pool_matrix(ms_pool *pool, ms_matrix *m, int pack, const float *x, int n, const float *bias, float *y, int ldy);


/* ---- Checksums (checksum.c) ----
 * CRC-32C (Castagnoli, reflected, as iSCSI and ext4 use it) of n bytes, continuing from crc (0 to start):
 * ms_crc32c(0, "123456789", 9) == 0xe3069283. SSE 4.2's crc32 instruction when the CPU has it, else a table. */
uint32_t ms_crc32c(uint32_t crc, const void *data, size_t n);
/* The panel cache's checksum of n bytes: the CRC-32C of the little-endian CRC-32Cs of its 64 KiB blocks (the last
 * one shorter), so that four blocks run at once through the crc32 unit. 0 for n = 0. */
uint32_t ms_block_checksum(const void *data, size_t n);
/* Tests: 1 makes both use the table even where the CPU has SSE 4.2, 0 undoes it. */
void ms_crc32c_force_software(int on);

#endif
