//! The report's tests: each figure, the whole stage, the statistics
//! against scipy, and rendering in headless Chromium.

mod figures;
mod reference;
mod render;
mod stage;
mod support;
mod transfer;
