//! A dynamically quantized linear layer, as PyTorch's `quantize_dynamic` makes for BERT: int8
//! weights per output channel (symmetric), activations quantized to u8 at run time, here per
//! token row (affine, from the row's own range, so one outlier token does not coarsen the
//! others), the products in the int8 kernels of [`crate::int8`] for the CPU's instruction set.

use crate::int8::{
    affine_params, gemm_packed, k4, min_max, quantize_slice, quantize_symmetric, Kernel,
    PackedWeights,
};

#[derive(Debug, Clone)]
pub struct QLinear {
    pub inp: usize,
    pub out: usize,
    pub weights: PackedWeights,
    /// Each output channel's weight scale.
    pub scale: Vec<f32>,
    /// Each output channel's sum of int8 weights (the zero point's correction).
    pub sums: Vec<i32>,
    pub bias: Vec<f32>,
    pub kernel: Kernel,
}

impl QLinear {
    /// Quantizes `w` (`out × in`, PyTorch's layout) and keeps `b`.
    pub fn new(w: &[f32], b: &[f32], inp: usize, out: usize, kernel: Kernel) -> QLinear {
        let mut q = vec![0i8; out * inp];
        let mut scale = Vec::with_capacity(out);
        for (row, qrow) in w.chunks_exact(inp).zip(q.chunks_exact_mut(inp)) {
            scale.push(quantize_symmetric(row, qrow));
        }
        let sums = q
            .chunks_exact(inp)
            .map(|r| r.iter().map(|&v| v as i32).sum())
            .collect();
        QLinear {
            inp,
            out,
            weights: PackedWeights::pack(&q, out, inp),
            scale,
            sums,
            bias: b.to_vec(),
            kernel,
        }
    }

    /// `y[t × out] = x[t × in] · wᵀ + b` in int8.
    pub fn forward(&self, x: &[f32], t: usize, y: &mut [f32]) {
        let inp = self.inp;
        let stride = k4(inp);
        let m16 = self.weights.m16();
        thread_local! {
            static BUF: std::cell::RefCell<(Vec<u8>, Vec<i32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        BUF.with_borrow_mut(|(xq, acc)| {
            xq.clear();
            xq.resize(t * stride, 0);
            acc.clear();
            acc.resize(t * m16, 0);
            let mut rows = Vec::with_capacity(t);
            for (j, row) in x[..t * inp].chunks_exact(inp).enumerate() {
                let (lo, hi) = min_max(row);
                let (s, z) = affine_params(lo, hi);
                quantize_slice(row, &mut xq[j * stride..j * stride + inp], 1.0 / s, z);
                rows.push((s, z as i32));
            }
            gemm_packed(self.kernel, &self.weights, t, xq, acc);
            dequantize(acc, m16, &rows, &self.sums, &self.scale, &self.bias, y);
        })
    }
}

/// `y[j][o] = s_j · w_o · (acc[j][o] − z_j · Σw_o) + b_o` for each row `j` (quantized with scale
/// `s_j`, zero point `z_j`) and output `o` (AVX2 where allowed; the same bits either way).
fn dequantize(
    acc: &[i32],
    m16: usize,
    rows: &[(f32, i32)],
    sums: &[i32],
    scale: &[f32],
    bias: &[f32],
    y: &mut [f32],
) {
    #[inline(always)]
    fn body(
        acc: &[i32],
        m16: usize,
        rows: &[(f32, i32)],
        sums: &[i32],
        scale: &[f32],
        bias: &[f32],
        y: &mut [f32],
    ) {
        let out = bias.len();
        for (j, &(s, z)) in rows.iter().enumerate() {
            let a = &acc[j * m16..j * m16 + out];
            let yr = &mut y[j * out..(j + 1) * out];
            for o in 0..out {
                yr[o] = (a[o] - z * sums[o]) as f32 * (s * scale[o]) + bias[o];
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(
            acc: &[i32],
            m16: usize,
            rows: &[(f32, i32)],
            sums: &[i32],
            scale: &[f32],
            bias: &[f32],
            y: &mut [f32],
        ) {
            body(acc, m16, rows, sums, scale, bias, y)
        }
        if Kernel::avx2() {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { avx2(acc, m16, rows, sums, scale, bias, y) };
        }
    }
    body(acc, m16, rows, sums, scale, bias, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::ops::linear;

    fn data(n: usize, seed: u64, spread: f32) -> Vec<f32> {
        let mut r = crate::rng::SplitMix64::new(seed);
        (0..n)
            .map(|_| (r.next_f32() * 2.0 - 1.0) * spread)
            .collect()
    }

    #[test]
    fn int8_linear_is_close_to_f32_and_equal_on_every_kernel() {
        let (t, inp, out) = (13, 70, 37);
        let (x, w, b) = (
            data(t * inp, 1, 3.0),
            data(out * inp, 2, 0.2),
            data(out, 3, 1.0),
        );
        let mut want = vec![0.0; t * out];
        linear(&x, &w, &b, t, inp, out, &mut want);
        let mut reference = vec![0.0; t * out];
        QLinear::new(&w, &b, inp, out, Kernel::Portable).forward(&x, t, &mut reference);
        let norm = want.iter().map(|v| v * v).sum::<f32>().sqrt();
        let err = want
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt();
        assert!(err / norm < 0.02, "relative error {}", err / norm);
        for k in Kernel::ALL.into_iter().filter(|k| k.available()) {
            let mut y = vec![0.0; t * out];
            QLinear::new(&w, &b, inp, out, k).forward(&x, t, &mut y);
            assert_eq!(
                y,
                reference,
                "{} differs from the portable kernel",
                k.name()
            );
        }
    }
}
