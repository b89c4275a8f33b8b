//! int8 matrix products with i32 accumulation for quantized inference: `c[j][o] = Σ_k w[o][k] ·
//! x[j][k]` for signed 8-bit weights and unsigned 8-bit activations (the operand order of x86's
//! VNNI `vpdpbusd`).
//!
//! Weights are packed once ([`PackedWeights`]) in blocks of 16 output channels × 4 inputs, so that
//! one 512-bit `vpdpbusd` multiplies four consecutive inputs of one activation row (broadcast) by
//! sixteen channels' weights and adds into sixteen i32 sums: no horizontal reduction, and rows
//! padded only to a multiple of 4. Activation rows are `k4 = ⌈k/4⌉·4` bytes; padded weights are
//! zero, so whatever the padding bytes of an activation row hold never counts.
//!
//! Two kernels, chosen at run time: AVX-512 VNNI, and a portable loop over the same layout (which
//! the compiler vectorises over the sixteen lanes). Both give the same integers: a u8 × i8 product
//! fits in 16 bits, and sums stay inside 32 bits for rows shorter than 2^31 / (255 · 128) ≈ 65,000.

/// Output channels per packed block.
pub const LANES: usize = 16;

/// `k` rounded up to a multiple of 4: an activation row's length in bytes.
pub fn k4(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// Which kernel runs on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Avx512Vnni,
    Portable,
}

impl Kernel {
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512f")
            {
                return Kernel::Avx512Vnni;
            }
        }
        Kernel::Portable
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::Portable => "portable",
        }
    }
}

/// Weights `m × k` in blocks: `data[((b · quads) + q) · 64 + lane · 4 + t] = w[b·16 + lane][4q + t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedWeights {
    pub m: usize,
    pub k: usize,
    pub data: Vec<i8>,
}

impl PackedWeights {
    /// Packs row-major `m × k` int8 weights.
    pub fn pack(w: &[i8], m: usize, k: usize) -> PackedWeights {
        let quads = k4(k) / 4;
        let blocks = m.div_ceil(LANES);
        let mut data = vec![0i8; blocks * quads * 4 * LANES];
        for o in 0..m {
            let (b, lane) = (o / LANES, o % LANES);
            for kk in 0..k {
                let (q, t) = (kk / 4, kk % 4);
                data[((b * quads + q) * LANES + lane) * 4 + t] = w[o * k + kk];
            }
        }
        PackedWeights { m, k, data }
    }

    /// `m` rounded up to [`LANES`]: the row stride of the output.
    pub fn m16(&self) -> usize {
        self.m.div_ceil(LANES) * LANES
    }

    pub fn bytes(&self) -> usize {
        self.m * self.k
    }

    /// The row-major `m × k` weights back.
    pub fn unpack(&self) -> Vec<i8> {
        let quads = k4(self.k) / 4;
        let mut w = vec![0i8; self.m * self.k];
        for o in 0..self.m {
            let (b, lane) = (o / LANES, o % LANES);
            for kk in 0..self.k {
                w[o * self.k + kk] = self.data[((b * quads + kk / 4) * LANES + lane) * 4 + kk % 4];
            }
        }
        w
    }
}

/// `c[j · m16 + o] = Σ_k w[o][k] · x[j · k4 + k]` for `j < n`, every `o < m16` (the padded
/// channels give 0).
pub fn gemm_packed(kernel: Kernel, w: &PackedWeights, n: usize, x: &[u8], c: &mut [i32]) {
    let kq = k4(w.k);
    let m16 = w.m16();
    assert!(x.len() >= n * kq, "activations too short");
    assert!(c.len() >= n * m16, "output too short");
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512Vnni if std::arch::is_x86_feature_detected!("avx512vnni") => {
            // SAFETY: the feature was detected at run time; the asserts bound every access.
            unsafe { vnni::gemm(w, n, x, c) }
        }
        _ => portable(w, n, x, c),
    }
}

fn portable(w: &PackedWeights, n: usize, x: &[u8], c: &mut [i32]) {
    let kq = k4(w.k);
    let quads = kq / 4;
    let m16 = w.m16();
    for j in 0..n {
        let xr = &x[j * kq..(j + 1) * kq];
        for b in 0..m16 / LANES {
            let mut acc = [0i32; LANES];
            for q in 0..quads {
                let xs = &xr[4 * q..4 * q + 4];
                let blk = &w.data[(b * quads + q) * 4 * LANES..(b * quads + q + 1) * 4 * LANES];
                for (lane, a) in acc.iter_mut().enumerate() {
                    let wl = &blk[lane * 4..lane * 4 + 4];
                    *a += xs[0] as i32 * wl[0] as i32
                        + xs[1] as i32 * wl[1] as i32
                        + xs[2] as i32 * wl[2] as i32
                        + xs[3] as i32 * wl[3] as i32;
                }
            }
            c[j * m16 + b * LANES..j * m16 + (b + 1) * LANES].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{k4, PackedWeights, LANES};
    use std::arch::x86_64::*;

    /// Four activation rows per weight block load; one `vpdpbusd` per row and quad.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn gemm(w: &PackedWeights, n: usize, x: &[u8], c: &mut [i32]) {
        let kq = k4(w.k);
        let quads = kq / 4;
        let m16 = w.m16();
        let (xp, wp, cp) = (x.as_ptr(), w.data.as_ptr(), c.as_mut_ptr());
        for b in 0..m16 / LANES {
            let wb = wp.wrapping_add(b * quads * 4 * LANES);
            let mut j = 0;
            while j + 4 <= n {
                let mut acc = [_mm512_setzero_si512(); 4];
                for q in 0..quads {
                    // SAFETY: q < quads and the block holds quads × 64 bytes; rows j..j+4 lie in
                    // x (n · kq bytes, checked by the caller).
                    unsafe {
                        let wv = _mm512_loadu_si512(wb.add(q * 64).cast());
                        for (r, a) in acc.iter_mut().enumerate() {
                            let quad =
                                (xp.add((j + r) * kq + 4 * q) as *const i32).read_unaligned();
                            *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(quad), wv);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    // SAFETY: (j + r) · m16 + b · 16 + 16 ≤ n · m16, checked by the caller.
                    unsafe { _mm512_storeu_si512(cp.add((j + r) * m16 + b * LANES).cast(), *a) };
                }
                j += 4;
            }
            while j < n {
                let mut a = _mm512_setzero_si512();
                for q in 0..quads {
                    // SAFETY: as above.
                    unsafe {
                        let wv = _mm512_loadu_si512(wb.add(q * 64).cast());
                        let quad = (xp.add(j * kq + 4 * q) as *const i32).read_unaligned();
                        a = _mm512_dpbusd_epi32(a, _mm512_set1_epi32(quad), wv);
                    }
                }
                // SAFETY: as above.
                unsafe { _mm512_storeu_si512(cp.add(j * m16 + b * LANES).cast(), a) };
                j += 1;
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

/// `round(v / scale) + zero`, clamped to `0..=255` (halves round up), over a slice: truncating
/// the clamped, non-negative `x + 0.5` is the rounding, so there is no libm call and the loop
/// vectorises ([`requantize_one`]; compiled for AVX2 too, chosen at run time).
pub fn quantize_slice(src: &[f32], dst: &mut [u8], inv_scale: f32, zero: u8) {
    #[inline(always)]
    fn body(src: &[f32], dst: &mut [u8], inv_scale: f32, zero: u8) {
        let z = zero as f32 + 0.5;
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = requantize_one(v, inv_scale, z, 0.5, 255.5);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [u8], inv_scale: f32, zero: u8) {
            body(src, dst, inv_scale, zero)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { avx2(src, dst, inv_scale, zero) };
        }
    }
    body(src, dst, inv_scale, zero)
}

/// `out[o · stride + j] = scale[o] · (acc[j · m16 + o] − corr[o]) + bias[o]` for `j < n`,
/// `o < m`: the i32 sums back to f32, channel-major.
#[allow(clippy::too_many_arguments)]
pub fn dequantize_transposed(
    acc: &[i32],
    m16: usize,
    n: usize,
    scale: &[f32],
    corr: &[i32],
    bias: &[f32],
    out: &mut [f32],
    stride: usize,
) {
    let m = scale.len();
    let mut row = vec![0.0f32; m];
    for j in 0..n {
        let a = &acc[j * m16..j * m16 + m];
        for o in 0..m {
            row[o] = scale[o] * (a[o] - corr[o]) as f32 + bias[o];
        }
        for (o, v) in row.iter().enumerate() {
            out[o * stride + j] = *v;
        }
    }
}

/// `q = round(v · inv_scale) + zero` clamped to `lo..=hi`, written exactly as [`quantize_slice`]
/// rounds (so a value requantized here equals the same value dequantized, then quantized).
#[inline(always)]
pub fn requantize_one(v: f32, inv_scale: f32, zero_half: f32, lo: f32, hi: f32) -> u8 {
    // max and min (not clamp) so that NaN becomes `lo`: the value is then finite and inside
    // 0.5..=255.5, and the unchecked conversion (which vectorises) is sound.
    let c = (v * inv_scale + zero_half).max(lo).min(hi);
    debug_assert!((0.0..256.0).contains(&c));
    // SAFETY: `c` is finite and in 0.5..=255.5 (callers pass bounds in that range), so it fits
    // an i32.
    unsafe { c.to_int_unchecked::<i32>() as u8 }
}

/// How a layer's i32 sums become the next layer's u8 input: `v = scale[o] · (acc − corr[o]) +
/// bias[o]`, then [`requantize_one`] at the next layer's parameters, the activation a clamp (ReLU's
/// outputs start at the zero point, ReLU6's stop at 6).
pub struct Requant<'a> {
    pub scale: &'a [f32],
    pub corr: &'a [i32],
    pub bias: &'a [f32],
    inv: f32,
    zero_half: f32,
    lo: f32,
    hi: f32,
}

impl<'a> Requant<'a> {
    pub fn new(
        scale: &'a [f32],
        corr: &'a [i32],
        bias: &'a [f32],
        next: (f32, u8),
        act: crate::graph::Act,
    ) -> Self {
        use crate::graph::Act;
        let (inv, zero_half) = (1.0 / next.0, next.1 as f32 + 0.5);
        let (lo, hi) = match act {
            Act::None => (0, 255),
            Act::Relu => (next.1, 255),
            Act::Relu6 => (next.1, requantize_one(6.0, inv, zero_half, 0.5, 255.5)),
        };
        Requant {
            scale,
            corr,
            bias,
            inv,
            zero_half,
            lo: lo as f32 + 0.5,
            hi: hi as f32 + 0.5,
        }
    }

    /// The sums of `n` rows (`acc[j · m16 + o]`) requantized row-major (`out[j · m + o]`:
    /// channels-last for a convolution): [`dequantize_transposed`], the activation and
    /// [`quantize_slice`] in one pass, with the same results.
    pub fn rows(&self, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
        #[inline(always)]
        fn body(r: &Requant, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
            let m = r.scale.len();
            for j in 0..n {
                let a = &acc[j * m16..j * m16 + m];
                let o = &mut out[j * m..(j + 1) * m];
                for ((((d, &a), &s), &c), &b) in
                    o.iter_mut().zip(a).zip(r.scale).zip(r.corr).zip(r.bias)
                {
                    *d = requantize_one(s * (a - c) as f32 + b, r.inv, r.zero_half, r.lo, r.hi);
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(r: &Requant, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
                body(r, acc, m16, n, out)
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected at run time.
                return unsafe { avx2(self, acc, m16, n, out) };
            }
        }
        body(self, acc, m16, n, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Every kernel this CPU has equals a plain integer product exactly, extremes included.
    #[test]
    fn kernels_equal_the_reference_exactly() {
        let mut rng = SplitMix64::new(3);
        for (m, n, k) in [
            (1, 1, 1),
            (5, 7, 9),
            (16, 3, 150),
            (21, 33, 400),
            (3, 5, 1000),
            (120, 9, 400),
        ] {
            let w: Vec<i8> = (0..m * k)
                .map(|_| ((rng.next_f32() * 255.0) as i32 - 127) as i8)
                .collect();
            let kq = k4(k);
            // Padding bytes hold garbage: the zero weights must cancel them.
            let mut x: Vec<u8> = (0..n * kq)
                .map(|_| (rng.next_f32() * 256.0) as u8)
                .collect();
            let mut w = w;
            for t in 0..k {
                w[t] = -127; // extremes in the first row against the first activation row
                x[t] = 255;
            }
            let pw = PackedWeights::pack(&w, m, k);
            assert_eq!(pw.unpack(), w);
            let mut want = vec![0i32; n * pw.m16()];
            for j in 0..n {
                for o in 0..m {
                    want[j * pw.m16() + o] = (0..k)
                        .map(|t| w[o * k + t] as i32 * x[j * kq + t] as i32)
                        .sum();
                }
            }
            for kern in [Kernel::Portable, Kernel::detect()] {
                let mut c = vec![7; n * pw.m16()];
                gemm_packed(kern, &pw, n, &x, &mut c);
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
        let mut out = [0u8; 4];
        quantize_slice(&[0.0, 3.0, -9.0, f32::NAN], &mut out, 1.0 / s, z);
        assert_eq!(out[0], z, "zero is exact");
        assert_eq!(out[1], 255);
        assert_eq!(out[2], 0, "clamped");
        assert_eq!(out[3], 0, "NaN goes to the bottom, never undefined");
    }
}
