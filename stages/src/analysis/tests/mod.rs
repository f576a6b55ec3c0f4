//! Tests of the analysis: agreement with lme4 on the committed reference
//! table, the fitter's own properties, the bootstrap, and the stage.

mod bootstrap;
mod components;
mod fitter;
mod reference;
mod stage;
mod support;
