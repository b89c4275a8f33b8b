//! Does AVX-512 BF16 (`vdpbf16ps`) make bf16 training faster on this CPU? A bf16 matrix product
//! with f32 accumulation, timed against greenai's f32 GEMM (`kernels::gemm`, matrixmultiply's
//! AVX-512 kernel) on the shapes LightweightNet and the CNN train with, after checking it against
//! an f64 product of the rounded operands. Measured on this machine (bench/NOTES.md, "Mixed
//! precision"): slower on every shape, so bf16 training keeps the f32 kernels.
//!
//! `cargo run --release -p greenai-nn --example bf16_gemm`
//!
//! The kernel: operands rounded to bfloat16 (nearest, ties to even, as
//! `precision::round_bf16`), packed as pairs; each `vdpbf16ps` multiplies sixteen columns' pairs
//! by one broadcast pair of a row and adds both products into sixteen f32 sums: twice the
//! products of an f32 FMA per instruction, half the bytes. `b` is packed in panels of 16 columns ×
//! `kp = ⌈k/2⌉` pairs, `a` as rows of `kp` pairs; a tile keeps up to 4 panels × 6 rows of sums
//! (3 × 8, 2 × 12, 1 × 16) in registers while the pairs stream (the int8 kernel's layout).

use greenai_nn::backend::{Mat, MatMut};
use greenai_nn::precision::round_bf16;
use std::time::Instant;

const LANES: usize = 16;

/// Whether this CPU runs [`gemm`].
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
            && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The bfloat16 bits of `x`, rounded to nearest even (NaN stays NaN), without a branch so that
/// packing loops vectorise.
#[inline(always)]
fn bits(x: f32) -> u32 {
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16;
    let nan = (b >> 16) | 0x40;
    if x.is_nan() {
        nan
    } else {
        rounded
    }
}

/// Packed operands, reused from call to call (one per thread).
#[derive(Debug, Default)]
struct Packs {
    a: Vec<u32>,
    b: Vec<u32>,
}

/// `c[m×n] = a[m×k] · b[k×n] + beta · c`, products of bf16-rounded operands summed in f32.
/// Panics unless [`available`].
#[allow(clippy::too_many_arguments)]
fn gemm(m: usize, k: usize, n: usize, a: Mat, b: Mat, beta: f32, c: MatMut, packs: &mut Packs) {
    assert!(available(), "bf16::gemm needs AVX-512 BF16");
    greenai_nn::kernels::check_gemm_operands(m, k, n, &a, &b, &c);
    assert!(a.1 >= 0 && a.2 >= 0 && b.1 >= 0 && b.2 >= 0 && c.1 >= 0 && c.2 >= 0);
    if m == 0 || n == 0 {
        return;
    }
    let kp = k.div_ceil(2);
    let panels = n.div_ceil(LANES);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the features were checked; the packs hold m · kp and panels · kp · 16 pairs; the
    // asserts above bound every element of c the tiles write.
    unsafe {
        kernel::pack(m, k, n, a, b, packs);
        kernel::run(m, n, kp, panels, &packs.a, &packs.b, beta, c)
    }
}

/// Rows of `kp` pairs.
#[inline(always)]
fn pack_a(m: usize, k: usize, a: Mat, out: &mut Vec<u32>) {
    let kp = k.div_ceil(2);
    out.clear();
    out.resize(m * kp, 0);
    let (x, rs, cs) = (a.0, a.1 as usize, a.2 as usize);
    if cs == 1 {
        for i in 0..m {
            let src = &x[i * rs..i * rs + k];
            let row = &mut out[i * kp..(i + 1) * kp];
            for (d, pair) in row.iter_mut().zip(src.chunks_exact(2)) {
                *d = bits(pair[0]) | (bits(pair[1]) << 16);
            }
        }
    } else {
        // Transposed (rows adjacent in memory): along the rows, pair by pair.
        for p in 0..k / 2 {
            for i in 0..m {
                out[i * kp + p] =
                    bits(x[i * rs + 2 * p * cs]) | (bits(x[i * rs + (2 * p + 1) * cs]) << 16);
            }
        }
    }
    if k % 2 == 1 {
        for i in 0..m {
            out[i * kp + kp - 1] = bits(x[i * rs + (k - 1) * cs]);
        }
    }
}

/// Panels of 16 columns × `kp` pairs.
#[inline(always)]
fn pack_b(k: usize, n: usize, b: Mat, out: &mut Vec<u32>) {
    let kp = k.div_ceil(2);
    let panels = n.div_ceil(LANES);
    out.clear();
    out.resize(panels * kp * LANES, 0);
    let (x, rs, cs) = (b.0, b.1 as usize, b.2 as usize);
    for pn in 0..panels {
        let (c0, cols) = (pn * LANES, (n - pn * LANES).min(LANES));
        let panel = &mut out[pn * kp * LANES..(pn + 1) * kp * LANES];
        if rs == 1 && cs != 1 {
            // Transposed (a column's values adjacent): a column at a time.
            for l in 0..cols {
                let src = &x[(c0 + l) * cs..(c0 + l) * cs + k];
                for (p, pair) in src.chunks_exact(2).enumerate() {
                    panel[p * LANES + l] = bits(pair[0]) | (bits(pair[1]) << 16);
                }
                if k % 2 == 1 {
                    panel[(kp - 1) * LANES + l] = bits(src[k - 1]);
                }
            }
            continue;
        }
        for (p, d) in panel.chunks_exact_mut(LANES).enumerate() {
            let (r0, r1) = (2 * p, 2 * p + 1);
            if cs == 1 && cols == LANES && r1 < k {
                let (lo, hi) = (&x[r0 * rs + c0..][..LANES], &x[r1 * rs + c0..][..LANES]);
                for ((d, &l), &h) in d.iter_mut().zip(lo).zip(hi) {
                    *d = bits(l) | (bits(h) << 16);
                }
            } else {
                for (l, d) in d.iter_mut().enumerate().take(cols) {
                    let hi = if r1 < k {
                        bits(x[r1 * rs + (c0 + l) * cs])
                    } else {
                        0
                    };
                    *d = bits(x[r0 * rs + (c0 + l) * cs]) | (hi << 16);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::{pack_a, pack_b, Packs, LANES};
    use greenai_nn::backend::{Mat, MatMut};
    use std::arch::x86_64::*;

    /// The same 512 bits as 32 bfloat16 values.
    #[inline(always)]
    fn bh(v: __m512i) -> __m512bh {
        // SAFETY: both are 64 bytes of plain data; every bit pattern is a valid value of either.
        unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
    }

    /// Both packs, compiled for AVX-512 (the conversions vectorise there).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pack(m: usize, k: usize, n: usize, a: Mat, b: Mat, packs: &mut Packs) {
        pack_a(m, k, a, &mut packs.a);
        pack_b(k, n, b, &mut packs.b);
    }

    /// Where the sums go: `c[i · rs + j · cs]`.
    #[derive(Clone, Copy)]
    struct Out {
        p: *mut f32,
        rs: usize,
        cs: usize,
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn run(
        m: usize,
        n: usize,
        kp: usize,
        panels: usize,
        a: &[u32],
        b: &[u32],
        beta: f32,
        c: MatMut,
    ) {
        let out = Out {
            p: c.0.as_mut_ptr(),
            rs: c.1 as usize,
            cs: c.2 as usize,
        };
        let mut pn = 0;
        while pn < panels {
            let mb = (panels - pn).min(4);
            // SAFETY: as the caller's.
            unsafe {
                match mb {
                    4 => strip::<4, 6>(m, n, kp, pn, a, b, beta, out),
                    3 => strip::<3, 8>(m, n, kp, pn, a, b, beta, out),
                    2 => strip::<2, 12>(m, n, kp, pn, a, b, beta, out),
                    _ => strip::<1, 16>(m, n, kp, pn, a, b, beta, out),
                }
            }
            pn += mb;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn strip<const MB: usize, const R: usize>(
        m: usize,
        n: usize,
        kp: usize,
        pn: usize,
        a: &[u32],
        b: &[u32],
        beta: f32,
        c: Out,
    ) {
        let mut i = 0;
        // SAFETY (all three): rows i.. of the tile are below m.
        while i + R <= m {
            unsafe { tile::<MB, R>(i, n, kp, pn, a, b, beta, c) };
            i += R;
        }
        while i + 4 <= m {
            unsafe { tile::<MB, 4>(i, n, kp, pn, a, b, beta, c) };
            i += 4;
        }
        while i < m {
            unsafe { tile::<MB, 1>(i, n, kp, pn, a, b, beta, c) };
            i += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn tile<const MB: usize, const R: usize>(
        i: usize,
        n: usize,
        kp: usize,
        pn: usize,
        a: &[u32],
        b: &[u32],
        beta: f32,
        c: Out,
    ) {
        let mut acc = [[_mm512_setzero_ps(); MB]; R];
        let (ap, bp) = (a.as_ptr().wrapping_add(i * kp), b.as_ptr());
        let panel = kp * LANES;
        let mut bq = bp.wrapping_add(pn * panel);
        for p in 0..kp {
            // SAFETY: pair p of rows i..i + R < m and of panels pn..pn + MB lie in the packs.
            unsafe {
                let mut bv: [__m512bh; MB] = [bh(_mm512_setzero_si512()); MB];
                for (j, v) in bv.iter_mut().enumerate() {
                    *v = bh(_mm512_loadu_si512(bq.add(j * panel).cast()));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let pair = bh(_mm512_set1_epi32(*ap.add(r * kp + p) as i32));
                    for (s, v) in acc.iter_mut().zip(&bv) {
                        *s = _mm512_dpbf16_ps(*s, pair, *v);
                    }
                }
                bq = bq.add(LANES);
            }
        }
        let (cp, rs, cs) = (c.p, c.rs, c.cs);
        for (r, acc) in acc.iter().enumerate() {
            for (j, s) in acc.iter().enumerate() {
                let c0 = (pn + j) * LANES;
                let cols = (n - c0).min(LANES);
                let row = cp.wrapping_add((i + r) * rs + c0 * cs);
                // SAFETY: row i + r < m, columns c0..c0 + cols < n: inside c (the caller's
                // assert); masked loads and stores touch only those.
                unsafe {
                    if cs == 1 {
                        let mask: u16 = if cols == LANES {
                            u16::MAX
                        } else {
                            (1 << cols) - 1
                        };
                        let v = if beta == 0.0 {
                            *s
                        } else {
                            let old = _mm512_maskz_loadu_ps(mask, row);
                            _mm512_add_ps(*s, _mm512_mul_ps(_mm512_set1_ps(beta), old))
                        };
                        _mm512_mask_storeu_ps(row, mask, v);
                    } else {
                        let mut t = [0.0f32; LANES];
                        _mm512_storeu_ps(t.as_mut_ptr(), *s);
                        for (l, v) in t.iter().enumerate().take(cols) {
                            let d = row.add(l * cs);
                            *d = if beta == 0.0 { *v } else { *v + beta * *d };
                        }
                    }
                }
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `(rows, cols)` strides of an `r × c` operand, transposed or not.
fn strides(r: usize, c: usize, t: bool) -> (isize, isize) {
    if t {
        (1, r as isize)
    } else {
        (c as isize, 1)
    }
}

fn main() {
    assert!(available(), "this CPU has no AVX-512 BF16");
    let tie = 1.0 + 1.0 / 256.0;
    assert_eq!(bits(tie) << 16, round_bf16(tie).to_bits());
    let mut packs = Packs::default();
    // (what, m, k, n, a transposed, b transposed)
    let shapes = [
        ("square 256x1024x256", 256, 1024, 256, false, false),
        ("cnn conv2 forward", 64, 288, 196, false, false),
        ("cnn conv2 weight gradient", 64, 196, 288, false, true),
        ("lightweight fc forward", 64, 12544, 10, false, true),
        ("lightweight fc input gradient", 64, 10, 12544, false, false),
    ];
    for (what, m, k, n, ta, tb) in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 199) as f32 / 100.0 - 1.0)
            .collect();
        let (ars, acs) = strides(m, k, ta);
        let (brs, bcs) = strides(k, n, tb);
        let (mut c32, mut c16) = (vec![0f32; m * n], vec![0f32; m * n]);
        let run32 = |c: &mut [f32]| {
            greenai_nn::kernels::gemm(
                m,
                k,
                n,
                (&a, ars, acs),
                (&b, brs, bcs),
                0.0,
                (c, n as isize, 1),
            )
        };
        let mut run16 = |c: &mut [f32]| {
            gemm(
                m,
                k,
                n,
                (&a, ars, acs),
                (&b, brs, bcs),
                0.0,
                (c, n as isize, 1),
                &mut packs,
            )
        };
        run16(&mut c16);
        for i in 0..m {
            for j in 0..n {
                let (mut want, mut mag) = (0f64, 0f64);
                for t in 0..k {
                    let x = round_bf16(a[i * ars as usize + t * acs as usize]) as f64;
                    let y = round_bf16(b[t * brs as usize + j * bcs as usize]) as f64;
                    want += x * y;
                    mag += (x * y).abs();
                }
                let got = c16[i * n + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-6 * (mag + 1.0) * (k as f64).sqrt(),
                    "{what}"
                );
            }
        }
        let reps = (4e8 / (m * k * n) as f64) as usize + 1;
        let flop = 2.0 * (m * k * n * reps) as f64;
        let (mut f, mut g) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let t = Instant::now();
            (0..reps).for_each(|_| run32(&mut c32));
            f.push(flop / t.elapsed().as_secs_f64() / 1e9);
            let t = Instant::now();
            (0..reps).for_each(|_| run16(&mut c16));
            g.push(flop / t.elapsed().as_secs_f64() / 1e9);
        }
        let (f, g) = (median(f), median(g));
        println!(
            "{{\"shape\":\"{what}\",\"m\":{m},\"k\":{k},\"n\":{n},\"f32_gflops\":{f:.1},\"bf16_gflops\":{g:.1},\"bf16_over_f32\":{:.2}}}",
            g / f
        );
    }
}
