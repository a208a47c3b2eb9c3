#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MS_CRC_HW 1
#endif

/* CRC-32C, reflected polynomial 0x82f63b78, initial value and final xor 0xffffffff (RFC 3720, appendix B.4). */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int b = 0; b < 8; b++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        table[i] = c;
    }
}

/* Without the final inversions: c is the running register. */
static uint32_t crc_soft(uint32_t c, const unsigned char *p, size_t n) {
    pthread_once(&table_once, make_table); /* the checksums run on several threads at once */
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

static _Atomic int force_software;

void ms_crc32c_force_software(int on) { atomic_store(&force_software, on); }

#ifdef MS_CRC_HW
static int hardware(void) {
    return !atomic_load_explicit(&force_software, memory_order_relaxed) && __builtin_cpu_supports("sse4.2");
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t n) {
    uint64_t r = c;
    for (; n >= 8; n -= 8, p += 8) r = _mm_crc32_u64(r, load64(p));
    uint32_t c32 = (uint32_t)r;
    for (; n; n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

/* Four blocks of n bytes at once: the crc32 instruction has a latency of about three cycles and a throughput
 * of one per cycle, so independent chains keep it busy. */
__attribute__((target("sse4.2"))) static void crc4_hw(const unsigned char *p, size_t stride, size_t n, uint32_t out[4]) {
    uint64_t a = 0xffffffffu, b = 0xffffffffu, c = 0xffffffffu, d = 0xffffffffu;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a = _mm_crc32_u64(a, load64(p + i));
        b = _mm_crc32_u64(b, load64(p + stride + i));
        c = _mm_crc32_u64(c, load64(p + 2 * stride + i));
        d = _mm_crc32_u64(d, load64(p + 3 * stride + i));
    }
    out[0] = (uint32_t)a; out[1] = (uint32_t)b; out[2] = (uint32_t)c; out[3] = (uint32_t)d;
    for (int j = 0; j < 4; j++) out[j] = ~crc_hw(out[j], p + (size_t)j * stride + i, n - i);
}
#endif

static uint32_t crc_raw(uint32_t c, const unsigned char *p, size_t n) {
#ifdef MS_CRC_HW
    if (hardware()) return crc_hw(c, p, n);
#endif
    return crc_soft(c, p, n);
}

uint32_t ms_crc32c(uint32_t crc, const void *data, size_t n) {
    return ~crc_raw(~crc, (const unsigned char *)data, n);
}

enum { BLOCK = 65536 };

static uint32_t add_block_crc(uint32_t total, uint32_t block) {
    unsigned char le[4] = { (unsigned char)block, (unsigned char)(block >> 8), (unsigned char)(block >> 16),
                            (unsigned char)(block >> 24) };
    return ms_crc32c(total, le, 4);
}

uint32_t ms_block_checksum(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t total = 0;
    size_t whole = n / BLOCK, b = 0;
#ifdef MS_CRC_HW
    if (hardware())
        for (; b + 4 <= whole; b += 4) {
            uint32_t four[4];
            crc4_hw(p + b * BLOCK, BLOCK, BLOCK, four);
            for (int j = 0; j < 4; j++) total = add_block_crc(total, four[j]);
        }
#endif
    for (; b < whole; b++) total = add_block_crc(total, ms_crc32c(0, p + b * BLOCK, BLOCK));
    if (n % BLOCK) total = add_block_crc(total, ms_crc32c(0, p + whole * BLOCK, n % BLOCK));
    return total;
}
