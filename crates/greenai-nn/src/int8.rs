//! int8 matrix products with i32 accumulation: `c[i][j] = Σ_k w[i][k] · x[j][k]` for signed 8-bit
//! weights and unsigned 8-bit activations (the operand order of x86's VNNI `vpdpbusd`), both
//! stored row by row with rows padded to [`K_ALIGN`] bytes (padding weights are zero, so padded
//! activations never count).
//!
//! Three kernels, chosen once at run time: AVX-512 VNNI (64 multiply-adds per instruction), AVX2
//! (widen to 16 bits, `vpmaddwd`, exact), and a portable loop. All three give the same integers:
//! every product of a u8 and an i8 fits in 16 bits and the sums stay far inside 32 bits for the
//! row lengths used here (at most 2^31 / (255 · 128) ≈ 65,000 terms).

/// Row padding in bytes.
pub const K_ALIGN: usize = 64;

/// `k` rounded up to [`K_ALIGN`].
pub fn padded(k: usize) -> usize {
    k.div_ceil(K_ALIGN) * K_ALIGN
}

/// Which kernel runs on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Avx512Vnni,
    Avx2,
    Portable,
}

impl Kernel {
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512f")
            {
                return Kernel::Avx512Vnni;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Kernel::Avx2;
            }
        }
        Kernel::Portable
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }
}

/// `c[i·ldc + j] = Σ_k w[i·kp + k] · x[j·kp + k]` for `i < m`, `j < n`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_i8u8(
    kernel: Kernel,
    m: usize,
    n: usize,
    kp: usize,
    w: &[i8],
    x: &[u8],
    c: &mut [i32],
    ldc: usize,
) {
    assert_eq!(kp % K_ALIGN, 0, "rows must be padded to K_ALIGN");
    assert!(w.len() >= m * kp && x.len() >= n * kp, "operands too short");
    assert!(
        m == 0 || n == 0 || c.len() >= (m - 1) * ldc + n,
        "output too short"
    );
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512Vnni if std::arch::is_x86_feature_detected!("avx512vnni") => {
            // SAFETY: the features were detected at run time; the asserts bound every access.
            unsafe { vnni::gemm(m, n, kp, w, x, c, ldc) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512Vnni if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: as above.
            unsafe { avx2::gemm(m, n, kp, w, x, c, ldc) }
        }
        _ => portable(m, n, kp, w, x, c, ldc),
    }
}

#[allow(clippy::too_many_arguments)]
fn portable(m: usize, n: usize, kp: usize, w: &[i8], x: &[u8], c: &mut [i32], ldc: usize) {
    for i in 0..m {
        let wr = &w[i * kp..(i + 1) * kp];
        for j in 0..n {
            let xr = &x[j * kp..(j + 1) * kp];
            c[i * ldc + j] = wr.iter().zip(xr).map(|(&a, &b)| a as i32 * b as i32).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    /// Four weight rows against one activation row at a time, 64 bytes per step.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn gemm(
        m: usize,
        n: usize,
        kp: usize,
        w: &[i8],
        x: &[u8],
        c: &mut [i32],
        ldc: usize,
    ) {
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let mut i = 0;
        while i + 4 <= m {
            for j in 0..n {
                let mut acc = [_mm512_setzero_si512(); 4];
                let mut k = 0;
                while k < kp {
                    // SAFETY: k + 64 ≤ kp and the caller checked the operand lengths.
                    let xv = unsafe { _mm512_loadu_si512(xp.add(j * kp + k).cast()) };
                    for (r, a) in acc.iter_mut().enumerate() {
                        let wv = unsafe { _mm512_loadu_si512(wp.add((i + r) * kp + k).cast()) };
                        *a = _mm512_dpbusd_epi32(*a, xv, wv);
                    }
                    k += 64;
                }
                for (r, a) in acc.iter().enumerate() {
                    c[(i + r) * ldc + j] = _mm512_reduce_add_epi32(*a);
                }
            }
            i += 4;
        }
        for i in i..m {
            for j in 0..n {
                let mut a = _mm512_setzero_si512();
                let mut k = 0;
                while k < kp {
                    let xv = unsafe { _mm512_loadu_si512(xp.add(j * kp + k).cast()) };
                    let wv = unsafe { _mm512_loadu_si512(wp.add(i * kp + k).cast()) };
                    a = _mm512_dpbusd_epi32(a, xv, wv);
                    k += 64;
                }
                c[i * ldc + j] = _mm512_reduce_add_epi32(a);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Sixteen bytes at a time widened to 16 bits; `vpmaddwd` multiplies and adds pairs exactly.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gemm(
        m: usize,
        n: usize,
        kp: usize,
        w: &[i8],
        x: &[u8],
        c: &mut [i32],
        ldc: usize,
    ) {
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        for i in 0..m {
            for j in 0..n {
                let mut a = _mm256_setzero_si256();
                let mut k = 0;
                while k < kp {
                    // SAFETY: k + 16 ≤ kp; lengths checked by the caller.
                    let xv = unsafe { _mm_loadu_si128(xp.add(j * kp + k).cast()) };
                    let wv = unsafe { _mm_loadu_si128(wp.add(i * kp + k).cast()) };
                    let x16 = _mm256_cvtepu8_epi16(xv);
                    let w16 = _mm256_cvtepi8_epi16(wv);
                    a = _mm256_add_epi32(a, _mm256_madd_epi16(x16, w16));
                    k += 16;
                }
                let lo = _mm256_castsi256_si128(a);
                let hi = _mm256_extracti128_si256::<1>(a);
                let s = _mm_add_epi32(lo, hi);
                let s = _mm_hadd_epi32(s, s);
                let s = _mm_hadd_epi32(s, s);
                c[i * ldc + j] = _mm_cvtsi128_si32(s);
            }
        }
    }
}

/// Symmetric quantization of `w` to int8 with one scale: `scale = max|w| / 127`.
pub fn quantize_symmetric(w: &[f32], out: &mut [i8]) -> f32 {
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    for (o, v) in out.iter_mut().zip(w) {
        *o = (v / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// Affine (asymmetric) u8 parameters covering `[lo, hi]` (widened to include 0, so that zero
/// padding is exact): returns `(scale, zero_point)`.
pub fn affine_params(lo: f32, hi: f32) -> (f32, u8) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zero)
}

#[inline]
pub fn quantize_u8(v: f32, inv_scale: f32, zero: u8) -> u8 {
    (v * inv_scale + zero as f32).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn reference(m: usize, n: usize, k: usize, w: &[i8], x: &[u8]) -> Vec<i32> {
        let mut c = vec![0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0i64;
                for t in 0..k {
                    s += w[i * padded(k) + t] as i64 * x[j * padded(k) + t] as i64;
                }
                c[i * n + j] = s as i32;
            }
        }
        c
    }

    /// Every kernel this CPU has equals the reference integer product exactly, extremes included.
    #[test]
    fn kernels_equal_the_reference_exactly() {
        let mut rng = SplitMix64::new(3);
        for (m, n, k) in [
            (1, 1, 1),
            (5, 7, 64),
            (9, 3, 150),
            (16, 33, 400),
            (3, 2, 1000),
        ] {
            let kp = padded(k);
            let mut w = vec![0i8; m * kp];
            let mut x = vec![0u8; n * kp];
            for i in 0..m {
                for t in 0..k {
                    w[i * kp + t] = ((rng.next_f32() * 255.0) as i32 - 127) as i8;
                }
            }
            for v in x.iter_mut() {
                *v = (rng.next_f32() * 256.0) as u8; // padding holds garbage: the zero weights cancel it
            }
            // Extremes: -127 · 255 everywhere in one row.
            for t in 0..k {
                w[t] = -127;
                x[t] = 255;
            }
            let want = reference(m, n, k, &w, &x);
            let mut kernels = vec![Kernel::Portable, Kernel::detect()];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
            for kern in kernels {
                let mut c = vec![0; m * n];
                gemm_i8u8(kern, m, n, kp, &w, &x, &mut c, n);
                assert_eq!(c, want, "{kern:?} {m}×{n}×{k}");
            }
        }
    }

    #[test]
    fn quantization_round_trips_within_half_a_step() {
        let w = [0.5f32, -1.27, 0.0, 1.0];
        let mut q = [0i8; 4];
        let s = quantize_symmetric(&w, &mut q);
        assert_eq!(q[1], -127);
        for (a, b) in w.iter().zip(q) {
            assert!((a - b as f32 * s).abs() <= s / 2.0 + 1e-7);
        }
        let (s, z) = affine_params(-1.0, 3.0);
        assert_eq!(z, 64);
        assert_eq!(quantize_u8(0.0, 1.0 / s, z), z, "zero is exact");
        assert_eq!(quantize_u8(3.0, 1.0 / s, z), 255);
        assert_eq!(quantize_u8(-9.0, 1.0 / s, z), 0, "clamped");
    }
}
