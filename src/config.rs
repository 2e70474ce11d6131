//! Service configuration.
