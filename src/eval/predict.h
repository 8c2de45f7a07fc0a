/* predict.h — the bias-only fallback for ids the model never saw. */
#ifndef FL_EVAL_PREDICT_H
#define FL_EVAL_PREDICT_H

#include "models/model.h"

/* Prediction when the user (u < 0) or item (i < 0) is unknown: the global
 * offset plus the known side's bias (biased model), else the training mean.
 * Never reads an untrained vector. */
float fl_predict_fallback(const fl_model *m, int64_t u, int64_t i);

#endif
