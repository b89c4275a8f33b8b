//! Optimisers over [`Params`].

use crate::lightweight::Params;

/// Adam (Kingma and Ba, 2015) with PyTorch's defaults and bias correction.
#[derive(Debug, Clone)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    step: i32,
    m: Params,
    v: Params,
}

impl Adam {
    pub fn new(params: &Params, lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: Params::zeros_like(params),
            v: Params::zeros_like(params),
        }
    }

    pub fn step(&mut self, p: &mut Params, g: &Params) {
        self.step += 1;
        let c1 = 1.0 - self.beta1.powi(self.step);
        let c2 = 1.0 - self.beta2.powi(self.step);
        for (((pt, gt), mt), vt) in
            p.0.iter_mut()
                .zip(&g.0)
                .zip(&mut self.m.0)
                .zip(&mut self.v.0)
        {
            for i in 0..pt.len() {
                let gi = gt[i];
                mt[i] = self.beta1 * mt[i] + (1.0 - self.beta1) * gi;
                vt[i] = self.beta2 * vt[i] + (1.0 - self.beta2) * gi * gi;
                pt[i] -= self.lr * (mt[i] / c1) / ((vt[i] / c2).sqrt() + self.eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_equals_the_hand_computed_one() {
        // At step 1, bias correction makes the update lr · g / (|g| + eps) = ±lr.
        let mut p = Params(vec![vec![1.0, -2.0]]);
        let g = Params(vec![vec![0.5, -4.0]]);
        let mut adam = Adam::new(&p, 0.1);
        adam.step(&mut p, &g);
        assert!(
            (p.0[0][0] - 0.9).abs() < 1e-6 && (p.0[0][1] + 1.9).abs() < 1e-6,
            "{p:?}"
        );
    }
}
