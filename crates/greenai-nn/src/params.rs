//! Parameter tensors: a flat list of `f32` vectors in a fixed order. Gradients, optimiser moments
//! and BatchNorm's running statistics use the same type.

/// Tensors in a fixed order (the model's [`crate::graph::Graph`] names and shapes them).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Params(pub Vec<Vec<f32>>);

impl Params {
    pub fn zeros_like(other: &Params) -> Params {
        Params(other.0.iter().map(|t| vec![0.0; t.len()]).collect())
    }

    pub fn fill_zero(&mut self) {
        for t in &mut self.0 {
            t.fill(0.0);
        }
    }

    pub fn add_assign(&mut self, other: &Params) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// The number of scalars.
    pub fn count(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// Whether every value is finite (no NaN, no infinity).
    pub fn all_finite(&self) -> bool {
        self.0.iter().all(|t| t.iter().all(|v| v.is_finite()))
    }
}
