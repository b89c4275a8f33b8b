//! int8 matrix products with i32 accumulation for quantized inference: `c[j][o] = Σ_k w[o][k] ·
//! x_j[k]` for signed 8-bit weights and unsigned 8-bit activations (the operand order of x86's
//! VNNI `vpdpbusd`).
//!
//! Weights are packed once ([`PackedWeights`]) in blocks of 16 output channels × 4 inputs, so that
//! one 512-bit `vpdpbusd` multiplies four consecutive inputs of one activation row (broadcast) by
//! sixteen channels' weights and adds into sixteen i32 sums: no horizontal reduction.
//!
//! A row's `k` inputs may lie in `segs` equal segments apart from each other in memory ([`Rows`]),
//! each padded to a multiple of 4 with zero weights: a convolution's kernel rows, read straight
//! from a padded channels-last image (one kernel row of every channel is one contiguous run), so
//! the convolution needs no gathered patches. Whatever the padding bytes of a segment hold never
//! counts.
//!
//! Three kernels, chosen at run time ([`Kernel`], forced with [`KERNEL_ENV`]): AVX-512 VNNI,
//! register-blocked (up to 4 blocks of 16 channels × up to 16 rows of sums held in registers while
//! the weights stream); AVX2, exact `vpmaddwd` over i16-widened operands (`avx2.rs` says why not
//! `vpmaddubsw`), 6 rows × 16 channels a tile; and a portable loop over the same layout, the
//! reference. All give the same integers: a u8 × i8 product fits in 16 bits, and sums stay inside
//! 32 bits for rows shorter than 2^31 / (255 · 128) ≈ 65,000.

/// Output channels per packed block.
pub const LANES: usize = 16;

/// `k` rounded up to a multiple of 4: an activation row's length in bytes.
pub fn k4(k: usize) -> usize {
    k.div_ceil(4) * 4
}

pub use kernel::{Kernel, KERNEL_ENV};

/// Weights `m × k`, `k` made of `segs` segments of `k / segs` inputs, in blocks: with `sq` quads
/// per segment, `data[((b · segs + s) · sq + q) · 64 + lane · 4 + t] = w[b·16 + lane][s · k/segs +
/// 4q + t]` (zero past the segment's end).
#[derive(Debug, Clone)]
pub struct PackedWeights {
    pub m: usize,
    pub k: usize,
    pub segs: usize,
    pub data: Vec<i8>,
    /// The same weights as i16 for the AVX2 kernel ([`PackedWeights::wide`]), made at its first
    /// use: twice the weights' bytes that no other kernel needs.
    wide: std::sync::OnceLock<Vec<i16>>,
}

/// Equal weights are equal whether or not their i16 copy was made yet.
impl PartialEq for PackedWeights {
    fn eq(&self, other: &Self) -> bool {
        (self.m, self.k, self.segs) == (other.m, other.k, other.segs) && self.data == other.data
    }
}

impl PackedWeights {
    /// Packs row-major `m × k` int8 weights, one segment.
    pub fn pack(w: &[i8], m: usize, k: usize) -> PackedWeights {
        PackedWeights::pack_segments(w, m, k, 1)
    }

    /// Packs row-major `m × k` int8 weights whose rows are `segs` segments (`segs` divides `k`).
    pub fn pack_segments(w: &[i8], m: usize, k: usize, segs: usize) -> PackedWeights {
        assert!(
            segs > 0 && k.is_multiple_of(segs),
            "{segs} segments do not divide {k} inputs"
        );
        let mut p = PackedWeights {
            m,
            k,
            segs,
            data: Vec::new(),
            wide: std::sync::OnceLock::new(),
        };
        p.data = vec![0i8; m.div_ceil(LANES) * p.block_quads() * 4 * LANES];
        for o in 0..m {
            for kk in 0..k {
                let at = p.at(o, kk);
                p.data[at] = w[o * k + kk];
            }
        }
        p
    }

    /// The weights as i16 for the AVX2 kernel, each quad as two pairs:
    /// `wide[base · 64 + p · 32 + lane · 2 + t] = data[base · 64 + lane · 4 + 2p + t]`.
    pub fn wide(&self) -> &[i16] {
        self.wide.get_or_init(|| {
            let mut wide = vec![0i16; self.data.len()];
            for (quad, out) in self
                .data
                .chunks_exact(4 * LANES)
                .zip(wide.chunks_exact_mut(4 * LANES))
            {
                for lane in 0..LANES {
                    for pair in 0..2 {
                        for t in 0..2 {
                            out[pair * 2 * LANES + lane * 2 + t] =
                                quad[lane * 4 + 2 * pair + t] as i16;
                        }
                    }
                }
            }
            wide
        })
    }

    /// Where weight `(o, kk)` is in `data`.
    fn at(&self, o: usize, kk: usize) -> usize {
        let (seg, sq) = (self.k / self.segs, self.seg_quads());
        let (s, t) = (kk / seg, kk % seg);
        ((((o / LANES) * self.segs + s) * sq + t / 4) * LANES + o % LANES) * 4 + t % 4
    }

    /// Quads (4 inputs) per segment.
    pub fn seg_quads(&self) -> usize {
        k4(self.k / self.segs) / 4
    }

    /// Quads per block of 16 channels.
    pub fn block_quads(&self) -> usize {
        self.segs * self.seg_quads()
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
        let mut w = vec![0i8; self.m * self.k];
        for o in 0..self.m {
            for kk in 0..self.k {
                w[o * self.k + kk] = self.data[self.at(o, kk)];
            }
        }
        w
    }
}

/// Where the activation bytes of output rows lie: segment `s` of row `j` starts at
/// `j · row_stride + s · seg_stride` and is read for `seg_quads · 4` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    pub n: usize,
    pub row_stride: usize,
    pub seg_stride: usize,
}

/// `c[j · m16 + o] = Σ_k w[o][k] · x[j · k4 + k]` for `j < n`, every `o < m16` (the padded
/// channels give 0): rows of `k4(k)` bytes one after the other (one segment).
pub fn gemm_packed(kernel: Kernel, w: &PackedWeights, n: usize, x: &[u8], c: &mut [i32]) {
    assert_eq!(w.segs, 1, "rows of one segment");
    let rows = Rows {
        n,
        row_stride: k4(w.k),
        seg_stride: 0,
    };
    gemm_rows(kernel, w, x, rows, c)
}

/// `c[j · m16 + o] = Σ_s Σ_t w[o][s · k/segs + t] · x[j · row_stride + s · seg_stride + t]` for
/// `j < rows.n`, every `o < m16`.
pub fn gemm_rows(kernel: Kernel, w: &PackedWeights, x: &[u8], rows: Rows, c: &mut [i32]) {
    if rows.n == 0 {
        return;
    }
    let last = (rows.n - 1) * rows.row_stride + (w.segs - 1) * rows.seg_stride + w.seg_quads() * 4;
    assert!(x.len() >= last, "activations too short");
    assert!(c.len() >= rows.n * w.m16(), "output too short");
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512Vnni if kernel.available() => {
            // SAFETY: the feature was detected at run time; the asserts bound every access.
            unsafe { vnni::gemm(w, x, rows, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::AvxVnni if kernel.available() => {
            // SAFETY: AVX-VNNI and AVX2 were detected at run time; the asserts bound every access.
            unsafe { vnni256::vex::gemm(w, x, rows, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if kernel.available() => {
            thread_local! {
                static WIDE: std::cell::RefCell<Vec<i16>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            WIDE.with_borrow_mut(|x16| {
                // SAFETY: AVX2 was detected at run time; x16 has x's first `last` values, which
                // the asserts showed to cover every row, and c every sum.
                unsafe {
                    avx2::widen(&x[..last], x16);
                    avx2::gemm(w, x16, rows, c)
                }
            })
        }
        _ => portable(w, x, rows, c),
    }
}

fn portable(w: &PackedWeights, x: &[u8], rows: Rows, c: &mut [i32]) {
    let (sq, m16) = (w.seg_quads(), w.m16());
    for j in 0..rows.n {
        for b in 0..m16 / LANES {
            let mut acc = [0i32; LANES];
            for s in 0..w.segs {
                let xs = &x[j * rows.row_stride + s * rows.seg_stride..][..4 * sq];
                for q in 0..sq {
                    let at = ((b * w.segs + s) * sq + q) * 4 * LANES;
                    let blk = &w.data[at..at + 4 * LANES];
                    let xq = &xs[4 * q..4 * q + 4];
                    for (lane, a) in acc.iter_mut().enumerate() {
                        let wl = &blk[lane * 4..lane * 4 + 4];
                        *a += xq[0] as i32 * wl[0] as i32
                            + xq[1] as i32 * wl[1] as i32
                            + xq[2] as i32 * wl[2] as i32
                            + xq[3] as i32 * wl[3] as i32;
                    }
                }
            }
            c[j * m16 + b * LANES..j * m16 + (b + 1) * LANES].copy_from_slice(&acc);
        }
    }
}

mod kernel;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod vnni;
#[cfg(target_arch = "x86_64")]
mod vnni256;

/// Where a depthwise convolution reads: a channels-last image `wp` pixels wide of `cin` channels,
/// a `k × k` kernel at `stride`, an output of `outs`.
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseGeometry {
    pub k: usize,
    pub stride: usize,
    pub wp: usize,
    pub cin: usize,
    pub outs: crate::graph::Shape,
}

/// A depthwise convolution's sums over one padded channels-last image:
/// `acc[(oy · ow + ox) · c16 + ch] = Σ_(ky,kx) taps[(ky · k + kx) · c16 + ch] · img[((oy · stride +
/// ky) · wp + ox · stride + kx) · cin + ch]`, sixteen channels at a time (the weights past `cin` are
/// zero, so the bytes read past a pixel's channels never count; `img` holds 16 bytes more than the
/// image). The layout of [`gemm_rows`]'s output, so the same epilogues follow.
pub fn depthwise_sums(taps: &[i32], img: &[u8], g: DepthwiseGeometry, acc: &mut [i32]) {
    #[inline(always)]
    fn body(taps: &[i32], img: &[u8], g: DepthwiseGeometry, acc: &mut [i32]) {
        let (k, cin, c16) = (g.k, g.cin, taps.len() / (g.k * g.k));
        for oy in 0..g.outs.h {
            for ox in 0..g.outs.w {
                let base = ((oy * g.stride) * g.wp + ox * g.stride) * cin;
                let out = &mut acc[(oy * g.outs.w + ox) * c16..][..c16];
                for c0 in (0..c16).step_by(LANES) {
                    let mut a = [0i32; LANES];
                    for ky in 0..k {
                        for kx in 0..k {
                            let x = &img[base + (ky * g.wp + kx) * cin + c0..][..LANES];
                            let w = &taps[(ky * k + kx) * c16 + c0..][..LANES];
                            for ((a, &w), &x) in a.iter_mut().zip(w).zip(x) {
                                *a += w * x as i32;
                            }
                        }
                    }
                    out[c0..c0 + LANES].copy_from_slice(&a);
                }
            }
        }
    }
    assert_eq!(
        taps.len() % (g.k * g.k * LANES),
        0,
        "taps padded to 16 channels"
    );
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw")]
        unsafe fn avx512(taps: &[i32], img: &[u8], g: DepthwiseGeometry, acc: &mut [i32]) {
            body(taps, img, g, acc)
        }
        if Kernel::avx512() {
            // SAFETY: AVX-512 BW was detected at run time; the body indexes checked slices.
            return unsafe { avx512(taps, img, g, acc) };
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(taps: &[i32], img: &[u8], g: DepthwiseGeometry, acc: &mut [i32]) {
            body(taps, img, g, acc)
        }
        if Kernel::avx2() {
            // SAFETY: AVX2 was detected at run time; the body indexes checked slices.
            return unsafe { avx2(taps, img, g, acc) };
        }
    }
    body(taps, img, g, acc)
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

/// The smallest and largest of `x`, NaN ignored (`(f32::MAX, f32::MIN)` when empty): AVX-512 where
/// the CPU has it, otherwise a compare-and-select over sixteen lanes (which vectorises where
/// `f32::min`'s NaN rule does not).
pub fn min_max(x: &[f32]) -> (f32, f32) {
    #[inline(always)]
    fn body(x: &[f32]) -> (f32, f32) {
        let (mut lo, mut hi) = ([f32::MAX; LANES], [f32::MIN; LANES]);
        let chunks = x.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                lo[i] = if c[i] < lo[i] { c[i] } else { lo[i] };
                hi[i] = if c[i] > hi[i] { c[i] } else { hi[i] };
            }
        }
        let lo = lo
            .iter()
            .chain(rest)
            .fold(f32::MAX, |a, v| if *v < a { *v } else { a });
        let hi = hi
            .iter()
            .chain(rest)
            .fold(f32::MIN, |a, v| if *v > a { *v } else { a });
        (lo, hi)
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(x: &[f32]) -> (f32, f32) {
            use std::arch::x86_64::*;
            let (mut lo, mut hi) = (_mm512_set1_ps(f32::MAX), _mm512_set1_ps(f32::MIN));
            let chunks = x.chunks_exact(LANES);
            let rest = chunks.remainder();
            for c in chunks {
                // SAFETY: a chunk is 16 floats. min/max return their second operand when the
                // first is NaN, so NaN never enters.
                let v = unsafe { _mm512_loadu_ps(c.as_ptr()) };
                lo = _mm512_min_ps(v, lo);
                hi = _mm512_max_ps(v, hi);
            }
            let (lo, hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
            let (rl, rh) = body(rest);
            (lo.min(rl), hi.max(rh))
        }
        if Kernel::avx512() {
            // SAFETY: AVX-512 was detected at run time.
            return unsafe { avx512(x) };
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32]) -> (f32, f32) {
            body(x)
        }
        if Kernel::avx2() {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { avx2(x) };
        }
    }
    body(x)
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
        if Kernel::avx2() {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { avx2(src, dst, inv_scale, zero) };
        }
    }
    body(src, dst, inv_scale, zero)
}

/// A layer's i32 sums back to real values: `v = scale[o] · (acc − corr[o]) + bias[o]` per output
/// channel `o` (`scale` = input scale × weight scale, `corr` = the input zero point × the weights'
/// sum).
#[derive(Debug, Clone, Copy)]
pub struct Dequant<'a> {
    pub scale: &'a [f32],
    pub corr: &'a [i32],
    pub bias: &'a [f32],
}

impl Dequant<'_> {
    /// `out[o · stride + j] = v(acc[j · m16 + o])` for `j < n`, `o < m`: channel-major f32.
    pub fn transposed(&self, acc: &[i32], m16: usize, n: usize, out: &mut [f32], stride: usize) {
        #[inline(always)]
        fn body(d: &Dequant, acc: &[i32], m16: usize, n: usize, out: &mut [f32], stride: usize) {
            // Tiles of 16 rows × 16 channels: computed along the channels (contiguous sums,
            // vectorised), written along the rows (contiguous outputs).
            let m = d.scale.len();
            let mut tile = [[0.0f32; LANES]; LANES];
            for o0 in (0..m).step_by(LANES) {
                let lanes = (m - o0).min(LANES);
                let (s, c, b) = (
                    &d.scale[o0..o0 + lanes],
                    &d.corr[o0..o0 + lanes],
                    &d.bias[o0..o0 + lanes],
                );
                for j0 in (0..n).step_by(LANES) {
                    let rows = (n - j0).min(LANES);
                    for (jj, t) in tile.iter_mut().enumerate().take(rows) {
                        let a = &acc[(j0 + jj) * m16 + o0..][..lanes];
                        for ((((t, &a), &s), &c), &b) in t.iter_mut().zip(a).zip(s).zip(c).zip(b) {
                            *t = s * (a - c) as f32 + b;
                        }
                    }
                    for oo in 0..lanes {
                        let dst = &mut out[(o0 + oo) * stride + j0..][..rows];
                        for (jj, d) in dst.iter_mut().enumerate() {
                            *d = tile[jj][oo];
                        }
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            /// Sixteen rows of one channel per gather: the same arithmetic, written contiguously.
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512(
                d: &Dequant,
                acc: &[i32],
                m16: usize,
                n: usize,
                out: &mut [f32],
                stride: usize,
            ) {
                use std::arch::x86_64::*;
                let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                let step = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(m16 as i32));
                for (o, ((&s, &c), &b)) in d.scale.iter().zip(d.corr).zip(d.bias).enumerate() {
                    let (vs, vc, vb) = (_mm512_set1_ps(s), _mm512_set1_epi32(c), _mm512_set1_ps(b));
                    let dst = &mut out[o * stride..o * stride + n];
                    for j0 in (0..n).step_by(LANES) {
                        let rows = (n - j0).min(LANES);
                        let mask: u16 = if rows == LANES {
                            u16::MAX
                        } else {
                            (1 << rows) - 1
                        };
                        // SAFETY: rows j0..j0 + rows < n, channel o < m16: inside acc (the
                        // caller's n · m16 sums) and inside dst.
                        unsafe {
                            let base = acc.as_ptr().add(j0 * m16 + o);
                            let a = _mm512_mask_i32gather_epi32::<4>(
                                _mm512_setzero_si512(),
                                mask,
                                step,
                                base,
                            );
                            let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(a, vc));
                            let v = _mm512_add_ps(_mm512_mul_ps(vs, v), vb);
                            _mm512_mask_storeu_ps(dst.as_mut_ptr().add(j0), mask, v);
                        }
                    }
                }
            }
            if Kernel::avx512() {
                assert!(n == 0 || acc.len() >= (n - 1) * m16 + self.scale.len());
                // SAFETY: AVX-512 was detected at run time; the assert bounds the sums.
                return unsafe { avx512(self, acc, m16, n, out, stride) };
            }
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(
                d: &Dequant,
                acc: &[i32],
                m16: usize,
                n: usize,
                out: &mut [f32],
                stride: usize,
            ) {
                body(d, acc, m16, n, out, stride)
            }
            if Kernel::avx2() {
                // SAFETY: AVX2 was detected at run time.
                return unsafe { avx2(self, acc, m16, n, out, stride) };
            }
        }
        body(self, acc, m16, n, out, stride)
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
    pub d: Dequant<'a>,
    inv: f32,
    zero_half: f32,
    lo: f32,
    hi: f32,
    /// The per-channel constants padded with zeros to a multiple of 8, made for the AVX2 path at
    /// its first use.
    padded: std::sync::OnceLock<(Vec<f32>, Vec<i32>, Vec<f32>)>,
}

impl<'a> Requant<'a> {
    pub fn new(d: Dequant<'a>, next: (f32, u8), act: crate::graph::Act) -> Self {
        use crate::graph::Act;
        let (inv, zero_half) = (1.0 / next.0, next.1 as f32 + 0.5);
        let (lo, hi) = match act {
            Act::None => (0, 255),
            Act::Relu => (next.1, 255),
            Act::Relu6 => (next.1, requantize_one(6.0, inv, zero_half, 0.5, 255.5)),
        };
        Requant {
            d,
            inv,
            zero_half,
            lo: lo as f32 + 0.5,
            hi: hi as f32 + 0.5,
            padded: std::sync::OnceLock::new(),
        }
    }

    /// The sums of `n` rows (`acc[j · m16 + o]`) requantized row-major (`out[j · m + o]`:
    /// channels-last for a convolution): [`Dequant::transposed`], the activation and
    /// [`quantize_slice`] in one pass, with the same results.
    pub fn rows(&self, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
        #[inline(always)]
        fn body(r: &Requant, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
            let m = r.d.scale.len();
            for j in 0..n {
                let a = &acc[j * m16..j * m16 + m];
                let o = &mut out[j * m..(j + 1) * m];
                for ((((d, &a), &s), &c), &b) in o
                    .iter_mut()
                    .zip(a)
                    .zip(r.d.scale)
                    .zip(r.d.corr)
                    .zip(r.d.bias)
                {
                    *d = requantize_one(s * (a - c) as f32 + b, r.inv, r.zero_half, r.lo, r.hi);
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            if Kernel::avx512() {
                assert!(acc.len() >= n.saturating_sub(1) * m16 + self.d.scale.len());
                assert!(out.len() >= n * self.d.scale.len());
                // SAFETY: the features were detected at run time; the asserts bound the rows.
                return unsafe { self.avx512(acc, m16, n, out) };
            }
            if Kernel::avx2() && acc.len() >= n * m16 {
                // SAFETY: AVX2 was detected at run time; requant_rows asserts its bounds.
                return unsafe { avx2::requant_rows(&self.avx2_consts(), acc, m16, n, out) };
            }
        }
        body(self, acc, m16, n, out)
    }

    /// The constants as the AVX2 path takes them.
    #[cfg(target_arch = "x86_64")]
    fn avx2_consts(&self) -> avx2::RequantConsts<'_> {
        let padded = self.padded.get_or_init(|| {
            let m8 = self.d.scale.len().div_ceil(8) * 8;
            let pad = |v: &[f32]| {
                let mut p = v.to_vec();
                p.resize(m8, 0.0);
                p
            };
            let mut corr = self.d.corr.to_vec();
            corr.resize(m8, 0);
            (pad(self.d.scale), corr, pad(self.d.bias))
        });
        avx2::RequantConsts {
            m: self.d.scale.len(),
            scale: &padded.0,
            corr: &padded.1,
            bias: &padded.2,
            inv: self.inv,
            zero_half: self.zero_half,
            lo: self.lo,
            hi: self.hi,
        }
    }

    /// [`Requant::rows`] sixteen channels at a time, the same operations in the same order (a
    /// multiply then an add, never fused), so the bytes are the same; a row's last block stores
    /// only its channels.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn avx512(&self, acc: &[i32], m16: usize, n: usize, out: &mut [u8]) {
        use std::arch::x86_64::*;
        let m = self.d.scale.len();
        let (inv, zh) = (_mm512_set1_ps(self.inv), _mm512_set1_ps(self.zero_half));
        let (lo, hi) = (_mm512_set1_ps(self.lo), _mm512_set1_ps(self.hi));
        for b in 0..m.div_ceil(LANES) {
            let lanes = (m - b * LANES).min(LANES);
            let mask: u16 = if lanes == LANES {
                u16::MAX
            } else {
                (1u16 << lanes) - 1
            };
            // SAFETY: the masked loads and stores touch channels b·16 .. b·16 + lanes < m of
            // rows below n, which the caller bounded.
            unsafe {
                let at = b * LANES;
                let s = _mm512_maskz_loadu_ps(mask, self.d.scale.as_ptr().add(at));
                let c = _mm512_maskz_loadu_epi32(mask, self.d.corr.as_ptr().add(at));
                let bias = _mm512_maskz_loadu_ps(mask, self.d.bias.as_ptr().add(at));
                for j in 0..n {
                    let a = _mm512_maskz_loadu_epi32(mask, acc.as_ptr().add(j * m16 + at));
                    let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(a, c));
                    let v = _mm512_add_ps(_mm512_mul_ps(s, v), bias);
                    let v = _mm512_add_ps(_mm512_mul_ps(v, inv), zh);
                    let v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                    let q = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v));
                    _mm_mask_storeu_epi8(out.as_mut_ptr().add(j * m + at).cast(), mask, q);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
