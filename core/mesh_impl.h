/* mesh_impl.h: helpers shared by mesh.c, mesh_obj.c and mesh_ply.c (not a public header). */
#ifndef HRN_MESH_IMPL_H
#define HRN_MESH_IMPL_H

#include "hrn_mesh.h"

#include <stdint.h>
#include <stdio.h>

/* Growable arrays; push returns HRN_ERR_NOMEM (message set) when memory runs out. */
struct hrn__fvec {
    float *p;
    int64_t n, cap;
};
struct hrn__ivec {
    int32_t *p;
    int64_t n, cap;
};
enum hrn_status hrn__fvec_push(struct hrn__fvec *v, const float *x, int k);
enum hrn_status hrn__ivec_push(struct hrn__ivec *v, const int32_t *x, int k);
enum hrn_status hrn__ivec_reserve(struct hrn__ivec *v, int64_t cap);

/* 1 when path ends with ext (".obj"), ignoring case. */
int hrn__has_ext(const char *path, const char *ext);

#endif /* HRN_MESH_IMPL_H */
