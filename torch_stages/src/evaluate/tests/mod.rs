//! Tests across the module: the probe against scikit-learn, and the stages
//! end to end on in-memory tables.

mod reference;
mod stages;
