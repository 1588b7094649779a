/* conv_geo.h -- the geometry of one convolution, shared by the convolution
 * rows (ops_conv.c, which computes and checks it) and the direct kernel
 * for few channels (conv_small.c, which only reads it). */
#ifndef TAPEGRAD_CONV_GEO_H
#define TAPEGRAD_CONV_GEO_H

#include "tapegrad.h"

/* spatial dims right-aligned in 3 (the missing leading ones have size 1) */
typedef struct {
    int nsp;
    Py_ssize_t n, cin, cout, groups, cg, og;
    Py_ssize_t in[3], k[3], out[3], s[3], d[3], pb[3], pa[3];
    Py_ssize_t P, K, inP; /* output positions, patch length, input
                             positions per image */
} geo;

/* the three products the rows compute */
enum { CONV_FWD, CONV_BP_INPUT, CONV_BP_FILTER };

/* conv_small.c: whether the direct kernel takes this convolution, and the
 * kernel itself on float32 / float64 buffers (no GIL needed; -1 only when
 * its scratch cannot be had, without an exception set) */
int tg_conv_small_ok(const geo *g);
int tg_conv_small(int role, const geo *g, int dtype, const char *a,
                  const char *b, char *out);

#endif
