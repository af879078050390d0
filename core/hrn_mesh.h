/* hrn_mesh.h: triangle meshes and their files: Wavefront OBJ (v, vt, vn, f with v/vt/vn,
 * mtllib/usemtl, with an .mtl written beside it) and PLY (ASCII and binary little-endian).
 * Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     struct hrn_mesh m = {0};
 *     if (hrn_mesh_read("face.obj", &m) != HRN_OK) { fprintf(stderr, "%s\n", hrn_error_msg()); ... }
 *     printf("%lld vertices, %lld triangles\n", (long long)m.n_verts, (long long)m.n_faces);
 *     struct hrn_obj_material mtl = {.name = "face", .texture = "face_tex.png"};
 *     hrn_mesh_write_obj("out/face.obj", &m, &mtl);   // also writes out/face.mtl
 *     hrn_mesh_write_ply("out/face.ply", &m, 1);      // binary little-endian
 *     hrn_mesh_free(&m);
 *
 * Conventions: arrays are row-major, indices are 0-based in memory (OBJ files are 1-based; negative
 * OBJ indices count from the end). Polygons are fan-triangulated on read. OBJ `vt` is stored as
 * written (v up, the OBJ convention). Writes go to a temporary file that is renamed, so a failed
 * write leaves no half-written mesh. Readers check every index against the counts and name the
 * file and line (OBJ, ASCII PLY) or element (binary PLY) of the first bad one.
 */
#ifndef HRN_MESH_H
#define HRN_MESH_H

#include "hrn_base.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hrn_mesh {
    int64_t n_verts;
    float *verts;          /* (n_verts, 3) */
    float *colors;         /* (n_verts, 3) in [0,1], or NULL */
    int64_t n_uvs;
    float *uvs;            /* (n_uvs, 2), or NULL */
    int64_t n_normals;
    float *normals;        /* (n_normals, 3), or NULL */
    int64_t n_faces;
    int32_t *faces;        /* (n_faces, 3) indices into verts */
    int32_t *face_uvs;     /* (n_faces, 3) indices into uvs, or NULL */
    int32_t *face_normals; /* (n_faces, 3) indices into normals, or NULL */
};

/* An OBJ material: written as <obj basename>.mtl with `newmtl name` and, when texture is set,
 * `map_Kd texture` (a path relative to the .obj). */
struct hrn_obj_material {
    const char *name;
    const char *texture; /* may be NULL */
};

/* Allocate a mesh's arrays (zeroed); the optional ones when their count is > 0. Frees on failure. */
enum hrn_status hrn_mesh_alloc(struct hrn_mesh *m, int64_t n_verts, int64_t n_faces,
                               int with_colors, int64_t n_uvs, int64_t n_normals);
/* Free every array and zero the struct; NULL-safe. */
void hrn_mesh_free(struct hrn_mesh *m);

/* Read by extension: .obj or .ply (case-insensitive); HRN_ERR_UNSUPPORTED otherwise. */
enum hrn_status hrn_mesh_read(const char *path, struct hrn_mesh *out);
enum hrn_status hrn_mesh_read_obj(const char *path, struct hrn_mesh *out);
enum hrn_status hrn_mesh_read_ply(const char *path, struct hrn_mesh *out);

/* Write OBJ; mtl may be NULL (no mtllib line, no .mtl file). Writes vt/vn and v/vt/vn faces when
 * the mesh has them; vertex colours as `v x y z r g b`. */
enum hrn_status hrn_mesh_write_obj(const char *path, const struct hrn_mesh *m,
                                   const struct hrn_obj_material *mtl);
/* Write PLY: binary little-endian when binary != 0, else ASCII. Vertex colours as uchar red/green/
 * blue, normals as nx/ny/nz when the mesh has one normal per vertex. */
enum hrn_status hrn_mesh_write_ply(const char *path, const struct hrn_mesh *m, int binary);

#ifdef __cplusplus
}
#endif
#endif /* HRN_MESH_H */
