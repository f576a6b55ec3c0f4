//! Tests of the label factorization; reference values come from the
//! scripts in tests/reference/labels/ (Python is never run here).

mod support;

mod csr;
mod gmm;
mod input;
mod plsa;
mod stage;
mod tfidf;
