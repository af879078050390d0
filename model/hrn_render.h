/* hrn_render.h: differentiable face rendering and the UV operators (world2uv, deformation-map
 * sampling, texture unwrapping, detail normals); part of the model module, include "hrn_model.h". */
#ifndef HRN_RENDER_H
#define HRN_RENDER_H
#endif
