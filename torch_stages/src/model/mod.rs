//! Representation networks (SPEC 5): the CNN and its six architectures
//! ([`net`]), feeding ([`data`]), Algorithm 1 ([`train`]) with the
//! authors' arrangement of Adam optimisers ([`optimizers`], [`adam`]), extraction ([`extract`]) and the `train` /
//! `extract` stages. libtorch through tch; the GPU when there is one.

pub mod adam;
pub mod data;
pub mod extract;
pub mod net;
pub mod optimizers;
mod stage;
pub mod train;
pub mod weights;

pub use net::{parameter_count, representation_dim, Network};

/// Gives libtorch one intra-op thread for the whole process. Its CPU
/// kernels split sums by thread count, so trained weights would depend on
/// the machine's cores while the node's key does not; with one thread they
/// are the same on any machine with the same libtorch and instruction set.
/// The cores are used by running nodes side by side (`jobs`); on the
/// default study this was also 14% faster than two threads a node. Call it
/// before any tensor work.
pub fn use_one_torch_thread() {
    tch::set_num_threads(1);
}
pub use stage::{Extract, Train};
