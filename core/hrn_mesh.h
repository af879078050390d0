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
 *
 * Per-vertex attributes: when face_uvs (face_normals) is NULL and n_uvs (n_normals) equals n_verts,
 * the uvs (normals) belong to the vertices and `faces` indexes them too (the SFM/HRN layout). A PLY
 * file with per-vertex s/t or nx/ny/nz reads that way; an OBJ file reads as written (with face_uvs
 * and face_normals whenever its faces carry vt/vn indices).
 *
 * OBJ details: `v x y z [w]` or `v x y z r g b`; when only some vertices carry a colour the others
 * get white (1,1,1). Faces with vt/vn on some faces but not others keep positions only (a warning
 * is logged). mtllib/usemtl/o/g/s/l/p lines are accepted and ignored (lines and points are not
 * kept). PLY details: ASCII, binary_little_endian and binary_big_endian; vertex x y z, optional
 * nx ny nz, red green blue (integer types are divided by their maximum, 255 for uchar), and s t,
 * u v or texture_u texture_v; face list vertex_indices (or vertex_index) with any integer types,
 * and an optional per-face `texcoord` list (MeshLab) which reads into face_uvs. Other elements and
 * properties are skipped. Every count in a binary PLY is checked against the bytes that follow, so
 * a truncated or corrupt file is an error and never a huge allocation.
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

/* Allocate a mesh's arrays (zeroed); the optional ones when their count is > 0. Frees on failure.
 * face_uvs and face_normals stay NULL (per-vertex attributes); a caller that needs them allocates
 * them with malloc (n_faces * 3 int32) and hrn_mesh_free frees them. */
enum hrn_status hrn_mesh_alloc(struct hrn_mesh *m, int64_t n_verts, int64_t n_faces,
                               int with_colors, int64_t n_uvs, int64_t n_normals);
/* Free every array and zero the struct; NULL-safe. */
void hrn_mesh_free(struct hrn_mesh *m);

/* Check that every face, face_uvs and face_normals index is in range and that uvs/normals can be
 * addressed (see "Per-vertex attributes" above). HRN_ERR_INVALID naming the first bad face. */
enum hrn_status hrn_mesh_check(const struct hrn_mesh *m);

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
