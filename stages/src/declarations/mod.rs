//! The declarations of the stages in `torch_stages` (those that need
//! libtorch, and those sharing their modules): here, in a crate without
//! libtorch, so that the engine can plan them and hand them to the
//! worker process that runs them. That crate's `Stage` impls read them.

pub mod evaluate;
pub mod musicnn;
pub mod report;
pub mod train;

use crate::Declaration;

/// The stages that run in the worker process.
pub const IN_WORKER: [Declaration; 6] = [
    train::TRAIN,
    train::EXTRACT,
    musicnn::MUSICNN,
    evaluate::EVALUATE,
    evaluate::RECOMMEND,
    report::REPORT,
];
