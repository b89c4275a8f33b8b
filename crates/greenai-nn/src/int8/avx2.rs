//! The AVX2 kernel, for x86 CPUs without VNNI (AMD Zen 1–4 without AVX-512, Intel before Ice
//! Lake, most laptops and many cloud instances); chosen at run time.
//!
//! AVX2 has no u8 × i8 dot product into i32. `vpmaddubsw` (u8 × i8, pairs summed into i16), the
//! instruction FBGEMM and oneDNN build on, saturates: two products of 255 and ±127 add to ±64,770,
//! past i16's 32,767, so those libraries give up a bit (PyTorch's `reduce_range` quantizes
//! activations to 7 bits on x86, oneDNN halves the weights). This kernel gives up nothing: the
//! activations are widened to i16 once per call (a pass over the input, small beside the product)
//! and the weights once, at their first use ([`PackedWeights::wide`]), and `vpmaddwd` multiplies
//! pairs of i16 into i32 sums exactly. The work per multiply is the same as `vpmaddubsw` followed by the
//! `vpmaddwd` that widens its pairs (one multiplier µop per 16 products either way), so exactness
//! costs no throughput; it costs twice the weight bytes, which for these models stay in cache.

use super::{PackedWeights, Rows, LANES};
use std::arch::x86_64::*;

/// `c = w · x` as [`super::gemm_rows`] defines it, from activations already widened to i16
/// (`x16[i] = x[i]`, the same strides).
#[target_feature(enable = "avx2")]
pub unsafe fn gemm(w: &PackedWeights, x16: &[i16], rows: Rows, c: &mut [i32]) {
    let blocks = w.m16() / LANES;
    for b in 0..blocks {
        // SAFETY: the caller checked that rows.n rows of every segment lie in x16 and that c
        // holds rows.n · m16 sums; block b exists.
        unsafe { strip(w, b, x16, rows, c) };
    }
}

/// Tiles of rows × one block of sixteen channels, the sums held in registers (of AVX2's sixteen)
/// while the block's weights stream once per tile: six rows of both halves, or twelve rows of the
/// low half where the block's channels end within it (a 6-channel first layer, a 10-class last
/// one), whose high half is then written as the zeros it would sum to.
#[target_feature(enable = "avx2")]
unsafe fn strip(w: &PackedWeights, b: usize, x16: &[i16], rows: Rows, c: &mut [i32]) {
    if w.m - b * LANES <= LANES / 2 {
        // SAFETY: as for strip_of (the same bounds).
        unsafe { strip_of::<12, 1>(w, b, x16, rows, c) }
    } else {
        // SAFETY: as for strip_of.
        unsafe { strip_of::<6, 2>(w, b, x16, rows, c) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn strip_of<const R: usize, const H: usize>(
    w: &PackedWeights,
    b: usize,
    x16: &[i16],
    rows: Rows,
    c: &mut [i32],
) {
    let m16 = w.m16();
    let wb = w
        .wide()
        .as_ptr()
        .wrapping_add(b * w.block_quads() * 4 * LANES);
    let (xp, cp) = (x16.as_ptr(), c.as_mut_ptr().wrapping_add(b * LANES));
    let mut j = 0;
    // SAFETY (all three loops): rows j.. of the tile are below rows.n (see gemm).
    while j + R <= rows.n {
        unsafe { tile::<R, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += R;
    }
    while j + 2 <= rows.n {
        unsafe { tile::<2, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += 2;
    }
    while j < rows.n {
        unsafe { tile::<1, H>(w, wb, xp.add(j * rows.row_stride), rows, cp.add(j * m16)) };
        j += 1;
    }
}

/// `R` rows × `H` halves (8 channels each) of one block. Per quad of inputs, two pairs: the
/// pair's weights for the block are `H` registers, each row's pair of activations one broadcast
/// load.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile<const R: usize, const H: usize>(
    w: &PackedWeights,
    wb: *const i16,
    x: *const i16,
    rows: Rows,
    c: *mut i32,
) {
    let (sq, m16) = (w.seg_quads(), w.m16());
    let mut acc = [[_mm256_setzero_si256(); H]; R];
    let mut wq = wb;
    for s in 0..w.segs {
        let xs = x.wrapping_add(s * rows.seg_stride);
        for q in 0..sq {
            for p in 0..2 {
                // SAFETY: weight quads lie in the block; activation pairs in the rows the caller
                // bounded (a segment is read for seg_quads · 4 values).
                unsafe {
                    let mut wv = [_mm256_setzero_si256(); H];
                    for (h, v) in wv.iter_mut().enumerate() {
                        *v = _mm256_loadu_si256(wq.add(p * 2 * LANES + h * LANES).cast());
                    }
                    for (r, a) in acc.iter_mut().enumerate() {
                        let at = xs.add(r * rows.row_stride + 4 * q + 2 * p);
                        let pair = _mm256_set1_epi32((at as *const i32).read_unaligned());
                        for (a, v) in a.iter_mut().zip(&wv) {
                            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pair, *v));
                        }
                    }
                }
            }
            wq = wq.wrapping_add(4 * LANES);
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

/// A requantization's constants, the per-channel ones padded with zeros to a multiple of 8.
pub struct RequantConsts<'a> {
    pub m: usize,
    pub scale: &'a [f32],
    pub corr: &'a [i32],
    pub bias: &'a [f32],
    pub inv: f32,
    pub zero_half: f32,
    pub lo: f32,
    pub hi: f32,
}

/// [`super::Requant::rows`] eight channels at a time, the same operations in the same order (a
/// multiply then an add, never fused; max then min, so NaN becomes `lo`), so the bytes are the
/// same. A row's last group of fewer than eight channels is stored whole where the bytes past it
/// belong to rows written after it, else through a copy.
#[target_feature(enable = "avx2")]
pub unsafe fn requant_rows(k: &RequantConsts, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
    let m = k.m;
    assert!(k.scale.len() >= m.div_ceil(8) * 8 && k.corr.len() >= m.div_ceil(8) * 8);
    assert!(k.bias.len() >= m.div_ceil(8) * 8 && m16 >= m.div_ceil(8) * 8);
    assert!(acc.len() >= n * m16 && out.len() >= n * m);
    let (inv, zh) = (_mm256_set1_ps(k.inv), _mm256_set1_ps(k.zero_half));
    let (lo, hi) = (_mm256_set1_ps(k.lo), _mm256_set1_ps(k.hi));
    for j in 0..n {
        for b in (0..m).step_by(8) {
            // SAFETY: the asserts bound every load (channels b..b + 8 of row j, inside m16 and
            // the padded constants) and the stores (inside n · m).
            unsafe {
                let s = _mm256_loadu_ps(k.scale.as_ptr().add(b));
                let c = _mm256_loadu_si256(k.corr.as_ptr().add(b).cast());
                let bias = _mm256_loadu_ps(k.bias.as_ptr().add(b));
                let a = _mm256_loadu_si256(acc.as_ptr().add(j * m16 + b).cast());
                let v = _mm256_cvtepi32_ps(_mm256_sub_epi32(a, c));
                let v = _mm256_add_ps(_mm256_mul_ps(s, v), bias);
                let v = _mm256_add_ps(_mm256_mul_ps(v, inv), zh);
                let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
                let q = _mm256_cvttps_epi32(v);
                let q16 =
                    _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
                let q8 = _mm_packus_epi16(q16, q16);
                let dst = j * m + b;
                if dst + 8 <= n * m {
                    _mm_storel_epi64(out.as_mut_ptr().add(dst).cast(), q8);
                } else {
                    let mut tmp = [0u8; 16];
                    _mm_storeu_si128(tmp.as_mut_ptr().cast(), q8);
                    let rem = m - b;
                    out[dst..dst + rem].copy_from_slice(&tmp[..rem]);
                }
            }
        }
    }
}

/// `out[i] = x[i]` as i16, for the kernel's activations.
#[target_feature(enable = "avx2")]
pub unsafe fn widen(x: &[u8], out: &mut Vec<i16>) {
    out.clear();
    out.extend(x.iter().map(|&v| v as i16));
}
