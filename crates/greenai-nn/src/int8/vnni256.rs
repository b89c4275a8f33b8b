//! The 256-bit VNNI kernel (`vpdpbusd` on ymm registers): AVX-VNNI on CPUs that have it without
//! AVX-512 (Intel Alder Lake and later client parts, Sierra Forest; AMD Zen 5 has both), chosen at
//! run time as [`super::Kernel::AvxVnni`]. One instruction multiplies four u8 activations by four
//! i8 weights for each of eight channels and adds into i32 sums, exactly (no i16 step), straight
//! from the packed bytes: no widening, unlike the AVX2 kernel.
//!
//! The same source is compiled twice: for AVX-VNNI (the VEX encoding, `_mm256_dpbusd_avx_epi32`)
//! and for AVX-512 VNNI with VL (the EVEX encoding of the same operation,
//! `_mm256_dpbusd_epi32`). Only the first is a kernel users get; the second exists so that the
//! shared source is tested equal to the reference on AVX-512 machines, which lack AVX-VNNI.

use super::{PackedWeights, Rows, LANES};
use std::arch::x86_64::*;

macro_rules! kernel {
    ($name:ident, $features:literal, $dp:ident) => {
        pub mod $name {
            use super::*;

            /// `c = w · x` as [`super::super::gemm_rows`] defines it.
            #[target_feature(enable = $features)]
            pub unsafe fn gemm(w: &PackedWeights, x: &[u8], rows: Rows, c: &mut [i32]) {
                for b in 0..w.m16() / LANES {
                    // SAFETY: the caller checked that rows.n rows of every segment lie in x and
                    // that c holds rows.n · m16 sums; block b exists.
                    unsafe {
                        if w.m - b * LANES <= LANES / 2 {
                            strip::<12, 1>(w, b, x, rows, c)
                        } else {
                            strip::<6, 2>(w, b, x, rows, c)
                        }
                    }
                }
            }

            /// Tiles of `R` rows × `H` halves (8 channels each) of block `b`.
            #[target_feature(enable = $features)]
            unsafe fn strip<const R: usize, const H: usize>(
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
                    unsafe {
                        tile::<R, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16))
                    };
                    j += R;
                }
                while j + 2 <= rows.n {
                    unsafe {
                        tile::<2, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16))
                    };
                    j += 2;
                }
                while j < rows.n {
                    unsafe {
                        tile::<1, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16))
                    };
                    j += 1;
                }
            }

            /// Per quad: the block's weights are `H` registers (8 channels × 4 bytes each), each
            /// row's four activation bytes one broadcast load.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn tile<const R: usize, const H: usize>(
                w: &PackedWeights,
                wb: *const i8,
                x: *const u8,
                rows: Rows,
                c: *mut i32,
            ) {
                let (sq, m16) = (w.seg_quads(), w.m16());
                let mut acc = [[_mm256_setzero_si256(); H]; R];
                let mut wq = wb;
                for s in 0..w.segs {
                    let xs = x.wrapping_add(s * rows.seg_stride);
                    for q in 0..sq {
                        // SAFETY: weight quads lie in the block; activation bytes in the rows
                        // the caller bounded (a segment is read for seg_quads · 4 bytes).
                        unsafe {
                            let mut wv = [_mm256_setzero_si256(); H];
                            for (h, v) in wv.iter_mut().enumerate() {
                                *v = _mm256_loadu_si256(wq.add(h * 2 * LANES).cast());
                            }
                            for (r, a) in acc.iter_mut().enumerate() {
                                let at = xs.add(r * rows.row_stride + 4 * q);
                                let quad = _mm256_set1_epi32((at as *const i32).read_unaligned());
                                for (a, v) in a.iter_mut().zip(&wv) {
                                    *a = $dp(*a, quad, *v);
                                }
                            }
                            wq = wq.add(4 * LANES);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    // SAFETY: row r of the tile, the block's sixteen sums inside m16.
                    unsafe {
                        _mm256_storeu_si256(c.add(r * m16).cast(), a[0]);
                        let high = if H == 2 {
                            a[H - 1]
                        } else {
                            _mm256_setzero_si256()
                        };
                        _mm256_storeu_si256(c.add(r * m16 + 8).cast(), high);
                    }
                }
            }
        }
    };
}

kernel!(vex, "avx2,avxvnni", _mm256_dpbusd_avx_epi32);
#[cfg(test)]
kernel!(evex, "avx2,avx512vnni,avx512vl", _mm256_dpbusd_epi32);
