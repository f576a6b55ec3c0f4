//! The study report: HTML and Markdown with SVG figures (SPEC 7, the paper's Fig. 7-15).
//!
//! [`Report`] reads the scores, the design, the analysis and the topics,
//! builds a [`document::Document`] section by section (`sections/`), and
//! renders it as one self-contained HTML file, Markdown, and one SVG file
//! per figure (drawn with plotters' SVG backend, `plot`).

mod columns;
pub mod document;
pub mod inputs;
mod means;
mod plot;
pub mod sections;
mod stage;
mod stats;

#[cfg(test)]
mod tests;

pub use stage::{build, Report, Settings};
