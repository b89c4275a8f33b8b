//! Mixed precision: f32 master weights, reduced-precision compute operands, dynamic loss scaling.
//!
//! With `bf16` or `f16`, every step computes with a copy of the weights rounded to that format,
//! every layer's output (the activations the backward pass keeps) is rounded to it, and so is every
//! gradient flowing back between layers; the optimiser updates the f32 master weights. What stays
//! f32: the products' accumulation (GEMM sums, as tensor cores and AVX-512 BF16 accumulate),
//! reductions (BatchNorm statistics, pooling sums), softmax and the loss, the weight gradients and
//! the optimiser state.
//!
//! This CPU path rounds f32 values (round to nearest even) and computes in f32: it reproduces the
//! numerics of bf16/f16 training exactly at the layer boundaries, and it costs conversion work
//! rather than saving memory traffic; `bench/NOTES.md` has the measured cost, and the measurement
//! of this CPU's native bf16 products (slower than its f32 GEMM, so not used; the experiment,
//! `examples/bf16_gemm.rs`, was removed after commit 6913915). A GPU backend gets the speed from the same plan.

/// The compute format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    /// Rounds every value to this format (f32: nothing). Values beyond f16's range become
    /// infinite, which is what the loss scaler watches for.
    ///
    /// Where the CPU has AVX-512 this runs sixteen values at a time (bf16: the same integer
    /// rounding, vectorised; f16: the hardware conversion there and back, `vcvtps2ph` to nearest
    /// even), with the same results as the one-value functions (tested).
    ///
    /// `GREENAI_INT8_KERNEL` (any kernel but `avx512-vnni`) holds it to the one-value path, as it
    /// holds every vector helper: each path can be run on a machine that has the faster one.
    pub fn round(self, x: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self != Precision::F32 && crate::int8::Kernel::avx512() {
            // SAFETY: AVX-512 was detected at run time (the active kernel needs it).
            return unsafe { round_avx512(self, x) };
        }
        self.round_scalar(x)
    }

    /// [`Precision::round`] one value at a time: the reference the vector path is tested equal to.
    pub fn round_scalar(self, x: &mut [f32]) {
        match self {
            Precision::F32 => {}
            Precision::Bf16 => x.iter_mut().for_each(|v| *v = round_bf16(*v)),
            Precision::F16 => x.iter_mut().for_each(|v| *v = round_f16(*v)),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn round_avx512(p: Precision, x: &mut [f32]) {
    use std::arch::x86_64::*;
    let mut chunks = x.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: a chunk is sixteen floats.
        unsafe {
            let v = _mm512_loadu_ps(c.as_ptr());
            let r = match p {
                Precision::F16 => _mm512_cvtph_ps(_mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v)),
                _ => {
                    let b = _mm512_castps_si512(v);
                    let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
                    let up = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
                    let r = _mm512_and_si512(up, _mm512_set1_epi32(0xffff_0000u32 as i32));
                    // NaN stays as it was.
                    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                    _mm512_mask_blend_ps(nan, _mm512_castsi512_ps(r), v)
                }
            };
            _mm512_storeu_ps(c.as_mut_ptr(), r);
        }
    }
    let rest = chunks.into_remainder();
    match p {
        Precision::F16 => rest.iter_mut().for_each(|v| *v = round_f16(*v)),
        _ => rest.iter_mut().for_each(|v| *v = round_bf16(*v)),
    }
}

/// `x` rounded to the nearest bfloat16 (ties to even), as f32.
#[inline]
pub fn round_bf16(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let b = x.to_bits();
    let lsb = (b >> 16) & 1;
    f32::from_bits(b.wrapping_add(0x7fff + lsb) & 0xffff_0000)
}

/// `x` rounded to the nearest IEEE half (ties to even; beyond 65504 infinite), as f32.
#[inline]
pub fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// Dynamic loss scaling (as PyTorch's GradScaler): the loss gradient is multiplied by `scale` so
/// that small gradients survive a narrow format; a step whose gradients overflow is skipped and
/// the scale halved; after `growth_interval` clean steps in a row the scale doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    pub scale: f32,
    pub growth_factor: f32,
    pub backoff_factor: f32,
    pub growth_interval: u32,
    clean: u32,
    /// Steps skipped because of an overflow.
    pub skipped: u64,
}

impl LossScaler {
    /// PyTorch's defaults: 2^16, ×2 after 2,000 clean steps, ×0.5 on overflow.
    pub fn new() -> Self {
        LossScaler {
            scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
            clean: 0,
            skipped: 0,
        }
    }

    /// Records whether this step's gradients were all finite; returns whether to take the step.
    pub fn update(&mut self, finite: bool) -> bool {
        if finite {
            self.clean += 1;
            if self.clean >= self.growth_interval {
                self.scale *= self.growth_factor;
                self.clean = 0;
            }
            true
        } else {
            self.scale *= self.backoff_factor;
            self.clean = 0;
            self.skipped += 1;
            false
        }
    }
}

impl Default for LossScaler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(round_bf16(1.0), 1.0);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0);
        // Just above halfway rounds up.
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0 + 1e-6), 1.0 + 1.0 / 128.0);
        assert_eq!(round_bf16(-3.0), -3.0);
        assert!(round_bf16(f32::NAN).is_nan());
        assert_eq!(round_bf16(f32::INFINITY), f32::INFINITY);
        let mut v = [70000.0f32, 1e-8];
        Precision::F16.round(&mut v);
        assert_eq!(v[0], f32::INFINITY, "beyond f16's 65504");
        assert_eq!(v[1], 0.0, "below f16's smallest subnormal");
    }

    /// The sixteen-at-a-time path gives what the one-value functions give, on values of every
    /// magnitude (f16 subnormals, overflow, ties, NaN, infinities) and a remainder.
    #[test]
    fn slices_round_as_single_values() {
        let mut rng = crate::rng::SplitMix64::new(11);
        let mut xs: Vec<f32> = (0..4099)
            .map(|_| {
                let e = (rng.next_f32() * 60.0) as i32 - 30;
                (rng.next_f32() - 0.5) * 2f32.powi(e)
            })
            .collect();
        xs.extend([
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            65504.0,
            65520.0,
            1.0 + 1.0 / 256.0,
            1.0 + 1.0 / 2048.0,
            6e-8,
            3e-8,
            -0.0,
            f32::MAX,
        ]);
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this CPU has no AVX-512, so there is no vector path to compare");
            return;
        }
        for p in [Precision::Bf16, Precision::F16] {
            let mut v = xs.clone();
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512 was detected above. The vector path is called by name, never
            // through `round`, so the test cannot compare the one-value path with itself.
            unsafe {
                round_avx512(p, &mut v)
            };
            #[cfg(not(target_arch = "x86_64"))]
            p.round(&mut v);
            for (x, r) in xs.iter().zip(&v) {
                let want = match p {
                    Precision::Bf16 => round_bf16(*x),
                    _ => round_f16(*x),
                };
                assert!(
                    want.to_bits() == r.to_bits() || (want.is_nan() && r.is_nan()),
                    "{p:?} {x:e}: {r:e} vs {want:e}"
                );
            }
        }
    }

    /// A forced overflow skips the step and halves the scale; clean steps grow it back.
    #[test]
    fn the_loss_scaler_backs_off_and_grows() {
        let mut s = LossScaler {
            growth_interval: 3,
            ..LossScaler::new()
        };
        assert!(!s.update(false));
        assert_eq!((s.scale, s.skipped), (32768.0, 1));
        assert!(s.update(true) && s.update(true));
        assert_eq!(s.scale, 32768.0);
        assert!(s.update(true));
        assert_eq!(s.scale, 65536.0);
        assert!(!s.update(false));
        assert_eq!(s.scale, 32768.0);
    }
}
