//! repère: the geographic context of citizen requests.
//!
//! Data flows one way: a source file is read through GDAL and reprojected
//! with PROJ ([`source`]) into a validated [`layer::Layer`], indexed in
//! R-trees ([`index`]), gathered in a [`catalog::Catalog`], and queried for
//! the [`context`] of a point, which [`http`] and [`cli`] serve.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod context;
pub mod geodesy;
pub mod http;
pub mod import;
pub mod index;
pub mod layer;
pub mod manifest;
mod process;
pub mod source;
pub mod store;
