//! HTTP interface.
