//! One module per section of the report, in the report's order; each
//! builds its section (text, figure, tables, and what is missing) from the
//! inputs.

pub mod alias;
pub mod best_source;
pub mod by_n;
pub mod components;
pub mod effects;
pub mod header;
pub mod map;
pub mod parameters;
pub mod ssr;
pub mod strategies;
pub mod topics;
pub mod transfer;
