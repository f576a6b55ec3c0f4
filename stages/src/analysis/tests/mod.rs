//! Tests of the analysis: agreement with lme4 on the committed reference
//! table, the fitter's own properties, the bootstrap, the stage, and a
//! study given as a user's tables.

mod bootstrap;
mod components;
mod fitter;
mod reference;
mod stage;
mod support;
mod user_tables;
