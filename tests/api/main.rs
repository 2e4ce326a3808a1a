//! The API test suite: one binary, run against SQLite by default and against PostgreSQL
//! when `TEST_DATABASE_URL` names one.

mod amocrm;
mod applications;
mod auth;
mod bankruptcy_sources;
mod batch_cli;
mod batches;
mod bitrix24;
mod cache;
mod catalog;
mod checks;
mod cli;
mod egrul;
mod errors;
mod fuzz_registries;
mod health;
mod helpers;
mod hostile_rules;
mod idempotency;
mod mocks;
mod multiprocess;
mod openapi;
mod pb;
mod report;
mod resilience;
mod retention;
mod rules;
mod rules_api;
mod scenarios;
mod security;
mod smtp;
mod webhooks;
