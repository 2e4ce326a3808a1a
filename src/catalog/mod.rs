//! The catalog of approved contractors: listing (only with a fresh `approve`, or a
//! manager's recorded override), statuses and their history, quality signals, and the
//! event feed that is the outbox for notifications.

mod service;

pub use crate::domain::catalog::{
    CatalogEntry, CatalogFilter, CatalogStatus, Event, EventSubject, Feedback, FeedbackKind,
    MonitoringPass, NewEvent, StatusChange, StatusTransition, UnavailableSince,
};
pub use service::{
    CatalogError, CatalogService, FeedbackInput, Listing, Override, StatusAction, decision_of,
    status_change,
};
