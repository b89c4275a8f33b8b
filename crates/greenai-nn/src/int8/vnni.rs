//! The AVX-512 VNNI kernels (`vpdpbusd`), register-blocked; chosen at run time.

use super::{PackedWeights, Rows, LANES};
use std::arch::x86_64::*;

/// Strips of up to four blocks (64 channels); in each, tiles of rows whose sums stay in
/// registers (24 or fewer of the 32) while the strip's weights stream once per tile.
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn gemm(w: &PackedWeights, x: &[u8], rows: Rows, c: &mut [i32]) {
    let blocks = w.m16() / LANES;
    let mut b = 0;
    while b < blocks {
        let mb = (blocks - b).min(4);
        // SAFETY: the caller checked that rows.n rows of every segment lie in x and that c
        // holds rows.n · m16 sums; the strip's blocks b..b + mb exist.
        unsafe {
            match mb {
                4 => strip::<4, 6>(w, b, x, rows, c),
                3 => strip::<3, 8>(w, b, x, rows, c),
                2 => strip::<2, 12>(w, b, x, rows, c),
                _ => strip::<1, 16>(w, b, x, rows, c),
            }
        }
        b += mb;
    }
}

#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn strip<const MB: usize, const R: usize>(
    w: &PackedWeights,
    b: usize,
    x: &[u8],
    rows: Rows,
    c: &mut [i32],
) {
    let m16 = w.m16();
    let wb = w
        .data
        .as_ptr()
        .wrapping_add(b * w.block_quads() * 4 * LANES);
    let (xp, cp) = (x.as_ptr(), c.as_mut_ptr().wrapping_add(b * LANES));
    let mut j = 0;
    // SAFETY (all three loops): rows j.. of the tile are below rows.n (see gemm).
    while j + R <= rows.n {
        unsafe { tile::<MB, R>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += R;
    }
    while j + 4 <= rows.n {
        unsafe { tile::<MB, 4>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += 4;
    }
    while j < rows.n {
        unsafe { tile::<MB, 1>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += 1;
    }
}

/// `R` rows × `MB` blocks of sums, the blocks' weights loaded once per quad for all rows.
#[target_feature(enable = "avx512f,avx512vnni")]
#[inline]
unsafe fn tile<const MB: usize, const R: usize>(
    w: &PackedWeights,
    wb: *const i8,
    x: *const u8,
    rows: Rows,
    c: *mut i32,
) {
    let (sq, m16) = (w.seg_quads(), w.m16());
    let block_bytes = w.block_quads() * 4 * LANES;
    let mut acc = [[_mm512_setzero_si512(); MB]; R];
    let mut wq = wb;
    for s in 0..w.segs {
        let xs = x.wrapping_add(s * rows.seg_stride);
        for q in 0..sq {
            // SAFETY: weight quads lie in the strip's blocks; activation bytes in the rows
            // the caller bounded.
            unsafe {
                let mut wv = [_mm512_setzero_si512(); MB];
                for (i, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(wq.add(i * block_bytes).cast());
                }
                for (r, a) in acc.iter_mut().enumerate() {
                    let quad = (xs.add(r * rows.row_stride + 4 * q) as *const i32).read_unaligned();
                    let bq = _mm512_set1_epi32(quad);
                    for (a, v) in a.iter_mut().zip(&wv) {
                        *a = _mm512_dpbusd_epi32(*a, bq, *v);
                    }
                }
                wq = wq.add(4 * LANES);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        for (i, v) in a.iter().enumerate() {
            // SAFETY: row r of the tile, blocks inside m16.
            unsafe { _mm512_storeu_si512(c.add(r * m16 + i * LANES).cast(), *v) };
        }
    }
}
