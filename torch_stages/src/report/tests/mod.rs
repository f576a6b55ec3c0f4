//! The report's tests: each figure, the whole stage, the statistics
//! against scipy, t-SNE against scikit-learn, and rendering in headless
//! Chromium.

mod figures;
mod map;
mod reference;
mod render;
mod stage;
mod support;
mod transfer;
mod tsne;
