//! Each layer kind in one place: its forward pass, its backward pass and its FLOPs. The executor
//! ([`crate::graph::Exec`]) dispatches to them; the builder ([`crate::graph::GraphBuilder`])
//! checks their shapes.

pub mod act;
pub mod conv;
pub mod linear;
pub mod norm;
pub mod pool;
pub mod tensor;
