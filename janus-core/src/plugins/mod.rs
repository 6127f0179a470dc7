//! Typed plugin APIs.
