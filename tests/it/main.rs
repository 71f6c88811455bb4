//! The one integration-test binary: the gateway over real HTTP.

mod api;
mod cli;
mod ebms;
mod helpers;
mod messages;
mod ops;
mod outage;
mod protection;
mod settings;
mod tls;
