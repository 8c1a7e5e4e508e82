// The workgroup-shared tile loop shared by linear and matmul: a 64x64 output tile per workgroup,
// 16x16 invocations each owning a 4x4 block, K advancing 16 at a time through shared tiles.

export const TILE = 64;
export const TILE_K = 16;

export interface TiledParts {
  /** WGSL expression for A[m][k] (m, k: u32 in range). */
  a(m: string, k: string): string;
  /** WGSL expression for B^T[n][k], i.e. the k-th term of output column n. */
  b(n: string, k: string): string;
  /** WGSL statement storing `acc` (f32) at output (m, n), both in range. */
  store(m: string, n: string, acc: string): string;
  /** WGSL statements run first in main (may define values used above); default none. */
  prologue?: string;
  /** WGSL expression for the first output row of this workgroup; default wg.y * 64. */
  rowTile?: string;
}

/** `main` of a tiled kernel; the caller declares bindings and `p` with fields m, n, k. */
export function tiledMain(parts: TiledParts): string {
  return `var<workgroup> As: array<f32, ${TILE * TILE_K}>;
var<workgroup> Bs: array<f32, ${TILE * TILE_K}>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${parts.prologue ?? ''}
  let li = lid.y * 16u + lid.x;
  let m0 = ${parts.rowTile ?? `wg.y * ${TILE}u`};
  let n0 = wg.x * ${TILE}u;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.k; k0 = k0 + ${TILE_K}u) {
    // Tiles are stored k-major so the inner loop reads four consecutive rows or columns.
    for (var r = 0u; r < 4u; r = r + 1u) {
      let e = li + r * 256u;
      let row = e / ${TILE_K}u;
      let kk = e % ${TILE_K}u;
      let gk = k0 + kk;
      var av = 0.0;
      if (m0 + row < p.m && gk < p.k) { av = ${parts.a('(m0 + row)', 'gk')}; }
      As[kk * ${TILE}u + row] = av;
      var bv = 0.0;
      if (n0 + row < p.n && gk < p.k) { bv = ${parts.b('(n0 + row)', 'gk')}; }
      Bs[kk * ${TILE}u + row] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TILE_K}u; kk = kk + 1u) {
      let ab = kk * ${TILE}u + lid.y * 4u;
      let bb = kk * ${TILE}u + lid.x * 4u;
      let a = vec4<f32>(As[ab], As[ab + 1u], As[ab + 2u], As[ab + 3u]);
      let b = vec4<f32>(Bs[bb], Bs[bb + 1u], Bs[bb + 2u], Bs[bb + 3u]);
      for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) { acc[i * 4u + j] = acc[i * 4u + j] + a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i = i + 1u) {
    let gm = m0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j = j + 1u) {
      let gn = n0 + lid.x * 4u + j;
      if (gm < p.m && gn < p.n) { ${parts.store('gm', 'gn', 'acc[i * 4u + j]')} }
    }
  }
}`;
}
