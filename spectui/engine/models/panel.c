/* spectui's panel kernel: y = x Wᵀ for a few rows x, streaming W once at memory speed.
 *
 * A decode step multiplies 1 to 8 rows by each weight matrix: the cost is reading the weight,
 * not the arithmetic. W (n_out × k_in) is stored once, at load, as panels of 32 output
 * columns, each panel k_in × 32 contiguous: panels[p][k][j] = W[32p + j][k]. Each panel is
 * read front to back once per call (one sequential stream, which the CPU's prefetcher keeps
 * ahead of), and every row of x is multiplied against it while it is in the cache. Each
 * output is a float32 sum over k in increasing order, the same whatever the number of rows,
 * so a block of rows gives bit for bit what one row at a time gives.
 *
 * Built by spectui at first use with the machine's C compiler (`panel.py`):
 *   cc -O3 -march=native -ffp-contract=fast -std=gnu11 -fPIC -shared panel.c
 */

#include <stdint.h>

#define PANEL 32

typedef float f32x16 __attribute__((vector_size(64)));
typedef uint16_t u16x16 __attribute__((vector_size(32), aligned(2)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
typedef float f32x16_unaligned __attribute__((vector_size(64), aligned(4)));

#if defined(__AVX512F__)
#define CHUNK 8 /* rows per pass: 16 accumulators of 32 registers */
#define VECTOR_BITS 512
#elif defined(__AVX2__) && defined(__FMA__)
#define CHUNK 2 /* 8 of 16 registers */
#define VECTOR_BITS 256
#else
#define CHUNK 2
#define VECTOR_BITS 0 /* no wide vectors with fused multiply-add: spectui does not use it */
#endif

static inline f32x16 load_f32(const float *p) { return *(const f32x16_unaligned *)p; }

static inline f32x16 load_bf16(const uint16_t *p) {
  /* bfloat16 is the top half of a float32. */
  u32x16 widened = __builtin_convertvector(*(const u16x16 *)p, u32x16) << 16;
  return (f32x16)widened;
}

/* One panel times `M` rows of x: y[m][0..32) for m < M. */
#define PANEL_ROWS(NAME, WEIGHT, LOAD, M)                                                   \
  static void NAME##_##M(const float *restrict x, const WEIGHT *restrict panel,            \
                         float *restrict y, int64_t n_out, int64_t k_in) {                 \
    f32x16 low[M], high[M];                                                                 \
    _Pragma("GCC unroll 8") for (int m = 0; m < M; m++) {                                   \
      low[m] = (f32x16){0};                                                                 \
      high[m] = (f32x16){0};                                                                \
    }                                                                                       \
    for (int64_t k = 0; k < k_in; k++) {                                                    \
      f32x16 w_low = LOAD(panel + k * PANEL), w_high = LOAD(panel + k * PANEL + 16);        \
      _Pragma("GCC unroll 8") for (int m = 0; m < M; m++) {                                 \
        f32x16 xk = (f32x16){0} + x[m * k_in + k];                                          \
        low[m] += w_low * xk;                                                               \
        high[m] += w_high * xk;                                                             \
      }                                                                                     \
    }                                                                                       \
    _Pragma("GCC unroll 8") for (int m = 0; m < M; m++) {                                   \
      *(f32x16_unaligned *)(y + m * n_out) = low[m];                                        \
      *(f32x16_unaligned *)(y + m * n_out + 16) = high[m];                                  \
    }                                                                                       \
  }

#define ALL_ROWS(NAME, WEIGHT, LOAD)                                                        \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 1)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 2)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 3)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 4)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 5)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 6)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 7)                                                         \
  PANEL_ROWS(NAME, WEIGHT, LOAD, 8)                                                         \
  static void NAME(const float *x, const WEIGHT *panels, float *y, int64_t rows,            \
                   int64_t n_out, int64_t k_in) {                                           \
    for (int64_t p = 0; p < n_out / PANEL; p++) {                                           \
      const WEIGHT *panel = panels + p * k_in * PANEL;                                      \
      for (int64_t first = 0; first < rows; first += CHUNK) {                               \
        const float *xs = x + first * k_in;                                                 \
        float *ys = y + first * n_out + p * PANEL;                                          \
        switch (rows - first < CHUNK ? rows - first : CHUNK) {                              \
          case 1: NAME##_1(xs, panel, ys, n_out, k_in); break;                              \
          case 2: NAME##_2(xs, panel, ys, n_out, k_in); break;                              \
          case 3: NAME##_3(xs, panel, ys, n_out, k_in); break;                              \
          case 4: NAME##_4(xs, panel, ys, n_out, k_in); break;                              \
          case 5: NAME##_5(xs, panel, ys, n_out, k_in); break;                              \
          case 6: NAME##_6(xs, panel, ys, n_out, k_in); break;                              \
          case 7: NAME##_7(xs, panel, ys, n_out, k_in); break;                              \
          default: NAME##_8(xs, panel, ys, n_out, k_in); break;                             \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }

ALL_ROWS(panels_f32, float, load_f32)
ALL_ROWS(panels_bf16, uint16_t, load_bf16)

/* The width of the vectors it was built for: 512, 256, or 0 where it should not be used. */
int spectui_panel_vector_bits(void) { return VECTOR_BITS; }

/* y[rows][n_out] = x[rows][k_in] Wᵀ, W as float32 panels; n_out a multiple of 32. */
int spectui_panel_f32(const float *x, const float *panels, float *y, int64_t rows, int64_t n_out,
                      int64_t k_in) {
  if (n_out % PANEL != 0 || rows < 1 || k_in < 1) return 1;
  panels_f32(x, panels, y, rows, n_out, k_in);
  return 0;
}

/* The same with W as bfloat16 panels (sums in float32). */
int spectui_panel_bf16(const float *x, const uint16_t *panels, float *y, int64_t rows,
                       int64_t n_out, int64_t k_in) {
  if (n_out % PANEL != 0 || rows < 1 || k_in < 1) return 1;
  panels_bf16(x, panels, y, rows, n_out, k_in);
  return 0;
}
