//! Representation networks (SPEC 5): the CNN and its six architectures
//! ([`net`]), feeding ([`data`]), Algorithm 1 with per-source Adam
//! ([`train`], [`adam`]), extraction ([`extract`]) and the `train` /
//! `extract` stages. libtorch through tch; the GPU when there is one.

pub mod adam;
pub mod data;
pub mod extract;
pub mod net;
mod stage;
pub mod train;
pub mod weights;

pub use net::{parameter_count, representation_dim, Network};
pub use stage::{Extract, Train};
