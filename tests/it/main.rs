//! The one integration-test binary: the gateway over real HTTP.

mod api;
mod cli;
mod delivery;
mod ebms;
mod fake_nsw;
mod helpers;
mod messages;
mod officer;
mod ops;
mod outage;
mod protection;
mod settings;
mod tls;
