//! BatchNorm folded into the convolution before it, for inference.

use super::{Act, Graph, Init, Node, Op, TensorSpec, BN_EPS};
use crate::params::Params;

impl Graph {
    /// The inference graph with every BatchNorm that directly follows a convolution (its only
    /// consumer) folded into that convolution's weight and bias, and its activation fused into
    /// the convolution. Returns the folded graph and its parameters; it has no BatchNorm buffers
    /// left to read for the folded layers.
    pub fn fold_batchnorm(&self, p: &Params, b: &Params) -> (Graph, Params, Params) {
        let mut consumers = vec![0usize; self.nodes.len()];
        for n in &self.nodes {
            for &i in &n.inputs {
                consumers[i] += 1;
            }
        }
        let mut params = p.clone();
        let mut specs = self.params.clone();
        let mut nodes: Vec<Node> = Vec::with_capacity(self.nodes.len());
        let mut remap = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Op::BatchNorm { param, buffer, act } = n.op {
                let src = n.inputs[0];
                if let Op::Conv(c) = self.nodes[src].op {
                    if consumers[src] == 1 && c.act == Act::None {
                        let conv_new = remap[src];
                        let bias = match c.bias {
                            Some(bi) => bi,
                            None => {
                                params.0.push(vec![0.0; c.cout]);
                                specs.push(TensorSpec {
                                    name: format!("{}.bias", self.nodes[src].name),
                                    shape: vec![c.cout],
                                    init: Init::Const(0.0),
                                });
                                params.0.len() - 1
                            }
                        };
                        let per = c.patch();
                        for o in 0..c.cout {
                            let gamma = p.0[param][o];
                            let beta = p.0[param + 1][o];
                            let mean = b.0[buffer][o];
                            let var = b.0[buffer + 1][o];
                            let scale = gamma / (var + BN_EPS).sqrt();
                            for w in &mut params.0[c.weight][o * per..(o + 1) * per] {
                                *w *= scale;
                            }
                            let old = params.0[bias][o];
                            params.0[bias][o] = beta + (old - mean) * scale;
                        }
                        if let Op::Conv(ref mut nc) = nodes[conv_new].op {
                            nc.bias = Some(bias);
                            nc.act = act;
                        }
                        remap[i] = conv_new;
                        continue;
                    }
                }
            }
            let mut m = n.clone();
            m.inputs = n.inputs.iter().map(|&j| remap[j]).collect();
            nodes.push(m);
            remap[i] = nodes.len() - 1;
        }
        let g = Graph {
            nodes,
            params: specs,
            buffers: self.buffers.clone(),
        };
        (g, params, b.clone())
    }
}
