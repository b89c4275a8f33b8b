//! greenai's HTTP surfaces, on one stack (axum for routing, hyper for the connections, tokio,
//! [`server::serve`] for the loop): the exporter's `/metrics` for Prometheus, and the dashboard
//! over the run database ([`dashboard`]).
//!
//! - [`exporter::serve`] answers scrapes on a listener until the process ends: every connection
//!   in a task of its own, at most [`Limits::connections`] at once, a deadline for a request's
//!   headers and for the whole connection, a cap on header size; `GET` and `HEAD /metrics`, 405
//!   for other methods, 404 elsewhere. One client that sends nothing, or a byte at a time, delays
//!   no other scrape.
//! - [`exporter::MonitorMetrics`] is what a running [`greenai_meter::Monitor`] shows: the
//!   energy of one of its windows and the latest power, in the format the client asks for
//!   ([`greenai_store::openmetrics::Format`]).

pub mod dashboard;
pub mod exporter;
pub mod server;

pub use exporter::{serve, Limits, Metrics, MonitorMetrics};
