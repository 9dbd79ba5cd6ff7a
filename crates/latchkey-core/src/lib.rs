//! Latchkey's accounts without a user interface: the rules (`auth`), the SQL (`store`), the mail
//! and the replies every front end gives. The desktop app's commands and the HTTP service's
//! handlers are both thin layers over this crate: one set of rules, not two copies.

pub mod auth;
pub mod config;
pub mod contract;
pub mod error;
pub mod limits;
pub mod mail;
pub mod private_files;
#[cfg(feature = "client")]
pub mod remote;
pub mod store;
pub mod wire;

pub use error::{Error, Result};
