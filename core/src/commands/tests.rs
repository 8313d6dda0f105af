//! Command tests.
