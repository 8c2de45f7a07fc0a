/* ials.h — one row of implicit ALS (Hu, Koren & Volinsky 2008) by conjugate
 * gradient (Takács, Pilászy & Tikk 2011), exposed for the solver (ials.c)
 * and for the test that checks it against a dense direct solve.
 *
 * With the other side Y (n rows) fixed, user u's row x minimises
 *   sum over all items i of c_ui (p_ui - <x, y_i>)^2 + reg |x|^2,
 * p_ui = 1 and c_ui = 1 + alpha r_ui for the items u rated, p_ui = 0 and
 * c_ui = 1 for all others. Its normal equations are
 *   (Y^T Y + sum_{i rated} (c_ui - 1) y_i y_i^T + reg I) x = sum_{i rated} c_ui y_i,
 * and Y^T Y (the Gram trick) is the same for every row: formed once per
 * half-epoch, it makes a product with the matrix cost k^2 + 2 n_u k instead
 * of touching every item. */
#ifndef FL_TRAIN_IALS_H
#define FL_TRAIN_IALS_H

#include <stddef.h>
#include <stdint.h>

/* Floats of work space fl_ials_cg_row needs. */
#define FL_IALS_WORK(k) (4 * (size_t)(k))

/* n_steps of conjugate gradient on the system above, starting from x (k
 * floats, warm: last epoch's row) and leaving the result in x.
 * YtY: k x k, row-major (symmetric). Y: rows `stride` floats apart. The
 * row's rated items: idx[0..n), their confidences conf[0..n) (c_ui). */
void fl_ials_cg_row(const float *YtY, int k, const float *Y, size_t stride, const uint32_t *idx,
                    const float *conf, size_t n, float reg, int n_steps, float *x, float *work);

#endif
