//! Activations, fused into the layer that produces their input (or a layer of their own).

/// An activation, fused into the layer that produces its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

impl Act {
    #[inline]
    pub fn apply(self, x: &mut [f32]) {
        match self {
            Act::None => {}
            Act::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Act::Relu6 => x.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
        }
    }

    /// Zeroes the gradient where the activation was flat, judged from its output `y`.
    #[inline]
    pub fn backward(self, dy: &mut [f32], y: &[f32]) {
        match self {
            Act::None => {}
            Act::Relu => {
                for (d, v) in dy.iter_mut().zip(y) {
                    *d = if *v > 0.0 { *d } else { 0.0 };
                }
            }
            Act::Relu6 => {
                for (d, v) in dy.iter_mut().zip(y) {
                    *d = if *v > 0.0 && *v < 6.0 { *d } else { 0.0 };
                }
            }
        }
    }

    /// Operations per element.
    pub fn flops(self) -> u64 {
        match self {
            Act::None => 0,
            Act::Relu => 1,
            Act::Relu6 => 2,
        }
    }
}

/// A standalone activation: `out = act(x)`.
pub fn forward(a: Act, x: &[f32], out: &mut [f32]) {
    out.copy_from_slice(x);
    a.apply(out);
}

/// Its backward: `dy` masked where the activation was flat, added into `dx`.
pub fn backward(a: Act, dy: &mut [f32], y: &[f32], dx: Option<&mut [f32]>) {
    a.backward(dy, y);
    if let Some(dx) = dx {
        for (d, v) in dx.iter_mut().zip(dy.iter()) {
            *d += v;
        }
    }
}
