//! The registration process: applications from the website's form, validated and judged
//! for spam at intake, then screened by a check. (The manager's workflow, SLA timers and
//! e-mail come next.)

pub mod intake;
mod model;
mod service;
pub mod sla;

pub use intake::{FieldError, Form};
pub use model::{Application, Receipt, Stage, TimelineEntry};
pub use service::{Action, ApplicationError, ApplicationService, CallOutcome};
