/* hrn_image.h: placeholder until the image part of core lands. */
#ifndef HRN_IMAGE_H
#define HRN_IMAGE_H
#endif
