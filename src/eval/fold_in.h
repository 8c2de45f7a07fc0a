/* fold_in.h — the score of an item for a folded-in user before the clip to
 * the rating range, shared by fl_predict_folded (fold_in.c) and the top-n
 * list of a folded-in user (recommend.c), which ranks on it as fl_recommend
 * ranks a trained user on fl_predict_unclipped. */
#ifndef FL_EVAL_FOLD_IN_H
#define FL_EVAL_FOLD_IN_H

#include "models/model.h"

/* dot: <factors, Q[i]>; biased: that + offset + bias + bi[i], in the order
 * fl_mf_score adds them, so a trained user's own row scores the same bits. */
float fl_folded_score(const fl_model *m, const float *factors, float bias, uint32_t i);

#endif
