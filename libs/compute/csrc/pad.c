#include "kernels.h"

/*
 * Zero-pads NHWC x [batch, in_h, in_w, c] into y [batch, in_h + top + bottom, in_w + left + right, c]
 * with one bulk copy per row and bulk fills for the borders (tfjs's generic Pad kernel moves
 * one element at a time when c is small: 1.2 ms for a LeNet input batch).
 */
EXPORT(pad_nhwc)
void pad_nhwc(const f32 *x, f32 *y, int batch, int in_h, int in_w, int c, int top, int bottom, int left, int right) {
  const int out_w = in_w + left + right, out_h = in_h + top + bottom;
  const unsigned long row = (unsigned long)out_w * c * sizeof(f32);
  for (int b = 0; b < batch; b++) {
    f32 *yb = y + (long)b * out_h * out_w * c;
    __builtin_memset(yb, 0, top * row);
    for (int r = 0; r < in_h; r++) {
      f32 *yr = yb + (long)(top + r) * out_w * c;
      __builtin_memset(yr, 0, (unsigned long)left * c * sizeof(f32));
      __builtin_memcpy(yr + left * c, x + ((long)b * in_h + r) * in_w * c, (unsigned long)in_w * c * sizeof(f32));
      __builtin_memset(yr + (left + in_w) * c, 0, (unsigned long)right * c * sizeof(f32));
    }
    __builtin_memset(yb + (long)(top + in_h) * out_w * c, 0, bottom * row);
  }
}

/* y [batch, out_h, out_w, c] = x [batch, in_h, in_w, c] from row `top`, column `left` (the inverse of pad_nhwc). */
EXPORT(crop_nhwc)
void crop_nhwc(const f32 *x, f32 *y, int batch, int in_h, int in_w, int c, int top, int left, int out_h, int out_w) {
  const unsigned long row = (unsigned long)out_w * c * sizeof(f32);
  for (int b = 0; b < batch; b++)
    for (int r = 0; r < out_h; r++)
      __builtin_memcpy(y + ((long)b * out_h + r) * out_w * c, x + (((long)b * in_h + top + r) * in_w + left) * c, row);
}
