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
//! rather than saving memory traffic; `bench/NOTES.md` has the measured cost. A GPU backend gets the
//! speed from the same plan.

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
    pub fn round(self, x: &mut [f32]) {
        match self {
            Precision::F32 => {}
            Precision::Bf16 => x.iter_mut().for_each(|v| *v = round_bf16(*v)),
            Precision::F16 => x
                .iter_mut()
                .for_each(|v| *v = half::f16::from_f32(*v).to_f32()),
        }
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
