//! The one integration-test binary: the gateway over real HTTP.

mod helpers;
mod ops;
mod protection;
mod settings;
mod tls;
