//! The study report: HTML and Markdown with SVG figures (SPEC 7, the paper's Fig. 7-16).
//!
//! [`Report`] reads the scores, the design, the analysis, the topics and
//! (optionally) one model's vectors to map (`tsne`), builds a
//! [`document::Document`] section by section (`sections/`), and renders it
//! as one self-contained HTML file, Markdown, and one SVG file per figure
//! (drawn with plotters' SVG backend, `plot`).

mod columns;
pub mod document;
pub mod inputs;
pub mod map_inputs;
mod means;
mod plot;
pub mod sections;
mod stage;
mod stats;
pub mod tsne;

#[cfg(test)]
mod tests;

pub use stage::{build, Report, Settings};
