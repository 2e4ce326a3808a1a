//! The registration process: applications from the website's form, validated and judged
//! for spam at intake, then screened by a check. (The manager's workflow, SLA timers and
//! e-mail come next.)

pub mod intake;
mod mail;
mod service;
pub use crate::domain::sla;

pub use crate::domain::application::{
    Application, QueuedMail, Receipt, Stage, TimelineEntry, event,
};
pub use intake::{FieldError, Form};
pub use service::{Action, ApplicationError, ApplicationService, CallOutcome};
