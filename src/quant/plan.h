/*
 * plan.h - the planner's internal entry point (quant/plan.c).
 */
#ifndef FR_QUANT_PLAN_H
#define FR_QUANT_PLAN_H

#include <frugal/quant.h>

/* fr_quant_plan, and fallback[i] (if not NULL) set when tensor i's row
 * length forced a type other than the rules' choice. */
fr_status fr_quant_plan_ex(const fr_gguf *src, fr_ftype f, fr_type *types, bool *fallback,
                           fr_err *err);

#endif
