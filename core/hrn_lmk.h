/* hrn_lmk.h: placeholder until the lmk part of core lands. */
#ifndef HRN_LMK_H
#define HRN_LMK_H
#endif
