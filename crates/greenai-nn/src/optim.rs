//! Optimisers over [`Params`]: Adam, AdamW and SGD with momentum, as PyTorch defines them, with an
//! optional cosine learning-rate schedule. The whole state (step, moments) is plain data so that a
//! checkpoint can save it and training can resume exactly.

use crate::params::Params;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    Adam,
    AdamW,
    Sgd,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::Sgd => "sgd",
        }
    }

    pub fn from_name(s: &str) -> Option<OptimizerKind> {
        [
            OptimizerKind::Adam,
            OptimizerKind::AdamW,
            OptimizerKind::Sgd,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }

    /// The learning rate used when none is given: PyTorch's Adam default, and a common SGD one.
    pub fn default_lr(self) -> f32 {
        match self {
            OptimizerKind::Adam | OptimizerKind::AdamW => 1e-3,
            OptimizerKind::Sgd => 0.05,
        }
    }
}

/// How the learning rate moves over training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// Cosine annealing from the base rate to zero over `total_steps` (SGDR without restarts).
    Cosine {
        total_steps: u64,
    },
}

impl Schedule {
    /// The rate for the step numbered `step` (0-based).
    pub fn lr(self, base: f32, step: u64) -> f32 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine { total_steps } => {
                let t = (step as f64 / total_steps.max(1) as f64).min(1.0);
                (base as f64 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub schedule: Schedule,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// L2 penalty for Adam and SGD, decoupled decay for AdamW.
    pub weight_decay: f32,
    pub momentum: f32,
    /// Steps taken so far.
    pub step: u64,
    /// First moments (Adam) or momentum buffers (SGD).
    pub m: Params,
    /// Second moments (Adam); empty tensors for SGD.
    pub v: Params,
}

impl Optimizer {
    /// `kind` with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, AdamW weight decay 0.01,
    /// SGD momentum 0.9.
    pub fn new(kind: OptimizerKind, params: &Params, lr: f32) -> Self {
        Optimizer {
            kind,
            lr,
            schedule: Schedule::Constant,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: if kind == OptimizerKind::AdamW {
                0.01
            } else {
                0.0
            },
            momentum: 0.9,
            step: 0,
            m: Params::zeros_like(params),
            v: if kind == OptimizerKind::Sgd {
                Params(vec![Vec::new(); params.0.len()])
            } else {
                Params::zeros_like(params)
            },
        }
    }

    pub fn adam(params: &Params, lr: f32) -> Self {
        Self::new(OptimizerKind::Adam, params, lr)
    }

    /// The learning rate the next step will use.
    pub fn current_lr(&self) -> f32 {
        self.schedule.lr(self.lr, self.step)
    }

    pub fn step(&mut self, p: &mut Params, g: &Params) {
        let lr = self.current_lr();
        self.step += 1;
        let wd = self.weight_decay;
        match self.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let t = self.step.min(i32::MAX as u64) as i32;
                let c1 = 1.0 - self.beta1.powi(t);
                let c2 = 1.0 - self.beta2.powi(t);
                let decoupled = self.kind == OptimizerKind::AdamW;
                for (((pt, gt), mt), vt) in
                    p.0.iter_mut()
                        .zip(&g.0)
                        .zip(&mut self.m.0)
                        .zip(&mut self.v.0)
                {
                    for i in 0..pt.len() {
                        let mut gi = gt[i];
                        if decoupled {
                            pt[i] -= lr * wd * pt[i];
                        } else if wd != 0.0 {
                            gi += wd * pt[i];
                        }
                        mt[i] = self.beta1 * mt[i] + (1.0 - self.beta1) * gi;
                        vt[i] = self.beta2 * vt[i] + (1.0 - self.beta2) * gi * gi;
                        pt[i] -= lr * (mt[i] / c1) / ((vt[i] / c2).sqrt() + self.eps);
                    }
                }
            }
            OptimizerKind::Sgd => {
                let first = self.step == 1;
                for ((pt, gt), bt) in p.0.iter_mut().zip(&g.0).zip(&mut self.m.0) {
                    for i in 0..pt.len() {
                        let gi = gt[i] + wd * pt[i];
                        // PyTorch starts the momentum buffer at the first gradient.
                        bt[i] = if first {
                            gi
                        } else {
                            self.momentum * bt[i] + gi
                        };
                        pt[i] -= lr * bt[i];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_equals_the_hand_computed_one() {
        // At step 1, bias correction makes the update lr · g / (|g| + eps) = ±lr.
        let mut p = Params(vec![vec![1.0, -2.0]]);
        let g = Params(vec![vec![0.5, -4.0]]);
        let mut adam = Optimizer::adam(&p, 0.1);
        adam.step(&mut p, &g);
        assert!(
            (p.0[0][0] - 0.9).abs() < 1e-6 && (p.0[0][1] + 1.9).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn adamw_decays_the_weights_before_the_adam_step() {
        let mut p = Params(vec![vec![2.0]]);
        let g = Params(vec![vec![1.0]]);
        let mut opt = Optimizer::new(OptimizerKind::AdamW, &p, 0.1);
        opt.step(&mut p, &g);
        // 2 − 0.1·0.01·2 − 0.1·1
        assert!((p.0[0][0] - (2.0 - 0.002 - 0.1)).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn sgd_momentum_accumulates_as_pytorch_does() {
        let mut p = Params(vec![vec![1.0]]);
        let g = Params(vec![vec![0.5]]);
        let mut opt = Optimizer::new(OptimizerKind::Sgd, &p, 0.1);
        opt.step(&mut p, &g); // buf 0.5 → 1 − 0.05
        opt.step(&mut p, &g); // buf 0.9·0.5 + 0.5 = 0.95 → 0.95 − 0.095
        assert!((p.0[0][0] - 0.855).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn cosine_schedule_runs_from_base_to_zero() {
        let s = Schedule::Cosine { total_steps: 100 };
        assert_eq!(s.lr(1.0, 0), 1.0);
        assert!((s.lr(1.0, 50) - 0.5).abs() < 1e-6);
        assert!(s.lr(1.0, 100).abs() < 1e-6);
        assert_eq!(Schedule::Constant.lr(0.3, 77), 0.3);
    }
}
