/* bpr.h — BPR-MF (Rendle et al. 2009): the objective of one triple (user u,
 * an item i that u rated, an item j that u did not) and its SGD step.
 *
 *   x = <P[u], Q[i] - Q[j]>                    (u prefers i to j by x)
 *   L = -ln sigmoid(x) + reg/2 (|P[u]|^2 + |Q[i]|^2 + |Q[j]|^2)
 *
 * The model scores z(u, i) = <P[u], Q[i]> (the dot model's score, no
 * biases); only differences of scores are trained, so z ranks, it rates
 * nothing. p, qi, qj are k floats each. */
#ifndef FL_MODELS_BPR_H
#define FL_MODELS_BPR_H

/* L, and its gradient into gp, gi, gj (k floats each): the plain reference
 * the solver's step is tested against. */
double fl_bpr_grad(const float *p, const float *qi, const float *qj, int k, float reg, float *gp,
                   float *gi, float *gj);

/* One SGD step on the triple: p, qi, qj -= lr * gradient (every component
 * from the values before the step). Returns -ln sigmoid(x) before it. qi
 * and qj must be different rows. */
float fl_bpr_step(float *p, float *qi, float *qj, int k, float reg, float lr);

#endif
