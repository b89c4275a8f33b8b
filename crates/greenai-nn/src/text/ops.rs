//! The transformer's element-wise and row-wise pieces, forward and backward, on row-major
//! `rows × width` slices: a linear layer as PyTorch stores it (`out × in` weights), LayerNorm,
//! GELU (the exact, erf-based one BERT uses) and a row softmax.

use crate::kernels::{gemm, rm, rm_mut, tr};

/// `y[t × out] = x[t × in] · wᵀ + b`, `w` as PyTorch stores it (`out × in`, row-major).
pub fn linear(x: &[f32], w: &[f32], b: &[f32], t: usize, inp: usize, out: usize, y: &mut [f32]) {
    for row in y[..t * out].chunks_exact_mut(out) {
        row.copy_from_slice(b);
    }
    gemm(t, inp, out, rm(x, inp), tr(w, inp), 1.0, rm_mut(y, out));
}

/// A linear layer's backward: `dx = dy · w` (overwritten when `dx` is given), `dw += dyᵀ · x`,
/// `db += Σ_rows dy`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    t: usize,
    inp: usize,
    out: usize,
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: &mut [f32],
) {
    if let Some(dx) = dx {
        gemm(t, out, inp, rm(dy, out), rm(w, inp), 0.0, rm_mut(dx, inp));
    }
    gemm(out, t, inp, tr(dy, out), rm(x, inp), 1.0, rm_mut(dw, inp));
    for row in dy[..t * out].chunks_exact(out) {
        for (d, g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
}

/// LayerNorm over each row of `width` in place: `x̂ = (x − mean) / sqrt(var + eps)`, then
/// `γ x̂ + β`. Writes each row's `1 / sqrt(var + eps)` into `rstd` and `x̂` into `xhat` where given
/// (the backward pass needs both).
pub fn layer_norm(
    x: &mut [f32],
    width: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    mut cache: Option<(&mut [f32], &mut [f32])>,
) {
    for (r, row) in x.chunks_exact_mut(width).enumerate() {
        let mean = row.iter().sum::<f32>() / width as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let rs = 1.0 / (var + eps).sqrt();
        if let Some((xhat, rstd)) = cache.as_mut() {
            rstd[r] = rs;
            for (h, v) in xhat[r * width..(r + 1) * width].iter_mut().zip(row.iter()) {
                *h = (v - mean) * rs;
            }
        }
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * rs * g + b;
        }
    }
}

/// LayerNorm's backward from the cached `x̂` and `rstd`: `dy` becomes `dx` in place; `dγ += dy x̂`,
/// `dβ += dy`.
pub fn layer_norm_backward(
    dy: &mut [f32],
    xhat: &[f32],
    rstd: &[f32],
    width: usize,
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let n = width as f32;
    for (r, row) in dy.chunks_exact_mut(width).enumerate() {
        let xh = &xhat[r * width..(r + 1) * width];
        let (mut mean_d, mut mean_dx) = (0.0f32, 0.0f32);
        for i in 0..width {
            dgamma[i] += row[i] * xh[i];
            dbeta[i] += row[i];
            let d = row[i] * gamma[i];
            mean_d += d;
            mean_dx += d * xh[i];
        }
        mean_d /= n;
        mean_dx /= n;
        for i in 0..width {
            row[i] = rstd[r] * (row[i] * gamma[i] - mean_d - xh[i] * mean_dx);
        }
    }
}

/// The error function to within 1.2e-7 (Numerical Recipes' `erfc` by a Chebyshev-fitted
/// exponential), in f64 so that GELU's f32 results are correctly rounded nearly everywhere.
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

/// The error function in f32 without `exp`: Eigen's rational approximation on [−4, 4] (outside,
/// ±1 to f32 precision), within 1e-6 of [`erf`]; plain multiplies and adds, so the loop over it
/// vectorises and gives the same bits on every instruction set.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600_1e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_474e-2;
    p / q
}

/// GELU as BERT defines it, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, in place (AVX2 where the CPU
/// and [`crate::int8::KERNEL_ENV`] allow; the same bits either way).
pub fn gelu(x: &mut [f32]) {
    #[inline(always)]
    fn body(x: &mut [f32]) {
        for v in x {
            *v = 0.5 * *v * (1.0 + erf_f32(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &mut [f32]) {
            body(x)
        }
        if crate::int8::Kernel::avx2() {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { avx2(x) };
        }
    }
    body(x)
}

/// GELU's backward from its input `u`: `dy · (Φ(u) + u · φ(u))`, in place on `dy`.
pub fn gelu_backward(dy: &mut [f32], u: &[f32]) {
    let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    for (d, &x) in dy.iter_mut().zip(u) {
        let x = x as f64;
        let cdf = 0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2));
        let pdf = inv_sqrt_2pi * (-0.5 * x * x).exp();
        *d = (*d as f64 * (cdf + x * pdf)) as f32;
    }
}

/// Softmax of each row of `width`, in place.
pub fn softmax_rows(x: &mut [f32], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Abramowitz and Stegun, table 7.1.
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265_0),
            (-1.0, -0.842_700_792_9),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }

    /// A numerical derivative of `f` at `x` against `df`.
    fn close(num: f64, ana: f64, what: &str) {
        assert!(
            (num - ana).abs() <= 2e-3 * (1.0 + num.abs().max(ana.abs())),
            "{what}: numerical {num}, analytical {ana}"
        );
    }

    #[test]
    fn the_fast_erf_is_within_1e6_of_the_reference() {
        let mut worst = 0.0f64;
        for i in -80_000..=80_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf_f32(x) as f64 - erf(x as f64)).abs());
        }
        assert!(worst < 1e-6, "worst {worst}");
        assert!((erf_f32(9.0) - 1.0).abs() < 1e-6 && (erf_f32(-9.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn gelu_gradient_checks() {
        let u: Vec<f32> = (-30..30).map(|i| i as f32 * 0.13).collect();
        let mut d = vec![1.0; u.len()];
        gelu_backward(&mut d, &u);
        for (i, &x) in u.iter().enumerate() {
            let h = 1e-3f32;
            let (mut a, mut b) = ([x + h], [x - h]);
            gelu(&mut a);
            gelu(&mut b);
            close(((a[0] - b[0]) / (2.0 * h)) as f64, d[i] as f64, "gelu");
        }
    }

    #[test]
    fn layer_norm_gradient_checks() {
        let width = 7;
        let x0: Vec<f32> = (0..21)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .collect();
        let gamma: Vec<f32> = (0..width).map(|i| 0.5 + i as f32 * 0.1).collect();
        let beta: Vec<f32> = (0..width).map(|i| i as f32 * -0.05).collect();
        let coef: Vec<f32> = (0..21).map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.2).collect();
        let loss = |x: &[f32], g: &[f32], b: &[f32]| -> f64 {
            let mut y = x.to_vec();
            layer_norm(&mut y, width, g, b, 1e-5, None);
            y.iter().zip(&coef).map(|(a, c)| (a * c) as f64).sum()
        };
        let (mut xhat, mut rstd) = (vec![0.0; 21], vec![0.0; 3]);
        let mut y = x0.clone();
        layer_norm(
            &mut y,
            width,
            &gamma,
            &beta,
            1e-5,
            Some((&mut xhat, &mut rstd)),
        );
        let mut dx = coef.clone();
        let (mut dg, mut db) = (vec![0.0; width], vec![0.0; width]);
        layer_norm_backward(&mut dx, &xhat, &rstd, width, &gamma, &mut dg, &mut db);
        let h = 1e-2f32;
        for i in 0..21 {
            let (mut p, mut m) = (x0.clone(), x0.clone());
            p[i] += h;
            m[i] -= h;
            close(
                (loss(&p, &gamma, &beta) - loss(&m, &gamma, &beta)) / (2.0 * h as f64),
                dx[i] as f64,
                "LayerNorm dx",
            );
        }
        for i in 0..width {
            let (mut p, mut m) = (gamma.clone(), gamma.clone());
            p[i] += h;
            m[i] -= h;
            close(
                (loss(&x0, &p, &beta) - loss(&x0, &m, &beta)) / (2.0 * h as f64),
                dg[i] as f64,
                "LayerNorm dγ",
            );
            let (mut p, mut m) = (beta.clone(), beta.clone());
            p[i] += h;
            m[i] -= h;
            close(
                (loss(&x0, &gamma, &p) - loss(&x0, &gamma, &m)) / (2.0 * h as f64),
                db[i] as f64,
                "LayerNorm dβ",
            );
        }
    }

    #[test]
    fn linear_matches_loops_and_its_gradient() {
        let (t, inp, out) = (3, 4, 5);
        let x: Vec<f32> = (0..t * inp).map(|i| i as f32 * 0.1 - 0.5).collect();
        let w: Vec<f32> = (0..out * inp).map(|i| (i % 7) as f32 * 0.2 - 0.6).collect();
        let b: Vec<f32> = (0..out).map(|i| i as f32).collect();
        let mut y = vec![0.0; t * out];
        linear(&x, &w, &b, t, inp, out, &mut y);
        for r in 0..t {
            for o in 0..out {
                let want = b[o]
                    + (0..inp)
                        .map(|k| x[r * inp + k] * w[o * inp + k])
                        .sum::<f32>();
                assert!((y[r * out + o] - want).abs() < 1e-5);
            }
        }
        let dy: Vec<f32> = (0..t * out).map(|i| (i % 3) as f32 - 1.0).collect();
        let (mut dx, mut dw, mut db) = (vec![0.0; t * inp], vec![0.0; out * inp], vec![0.0; out]);
        linear_backward(&x, &w, &dy, t, inp, out, Some(&mut dx), &mut dw, &mut db);
        for r in 0..t {
            for k in 0..inp {
                let want: f32 = (0..out).map(|o| dy[r * out + o] * w[o * inp + k]).sum();
                assert!((dx[r * inp + k] - want).abs() < 1e-5);
            }
        }
        for o in 0..out {
            for k in 0..inp {
                let want: f32 = (0..t).map(|r| dy[r * out + o] * x[r * inp + k]).sum();
                assert!((dw[o * inp + k] - want).abs() < 1e-5);
            }
            let want: f32 = (0..t).map(|r| dy[r * out + o]).sum();
            assert!((db[o] - want).abs() < 1e-6);
        }
    }
}
