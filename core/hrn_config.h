/* hrn_config.h: placeholder until the config part of core lands. */
#ifndef HRN_CONFIG_H
#define HRN_CONFIG_H
#endif
