//! kontragent: counterparty due diligence for Russian companies and entrepreneurs.
//!
//! Data flows one way: `api` → `check` (the use case) → `cache` → `sources` (registries)
//! → `facts` → `scoring` (written in the `rules` engine) → `storage`. [`startup::Application::build`] wires it all.

pub mod api;
pub mod applications;
pub mod auth;
pub mod batch;
pub mod cache;
pub mod catalog;
pub mod check;
pub mod clock;
pub mod config;
pub mod domain;
pub mod facts;
pub mod human;
pub mod idempotency;
pub mod integrations;
pub mod metrics;
pub mod monitoring;
pub mod outbound;
pub mod policy;
pub mod report;
pub mod retention;
pub mod rules;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod scoring;
pub mod seal;
pub mod sources;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod texts;
pub mod webhooks;
