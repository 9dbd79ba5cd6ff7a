//! The replies both front ends give: the same envelope, the same fields, the same words. The
//! desktop app's commands and the HTTP service's handlers parse a request here, call one domain
//! function and shape its result here.
//!
//! Requests arrive as loose JSON so that a missing field or a wrong type becomes our own
//! `invalid_input` naming the field, not a string error from the IPC or HTTP layer.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::signup::CodeSent;
use crate::auth::Profile;
use crate::error::{Error, Result};
use crate::mail::Delivery;

/// Every success: `{success: true, detail, ...data}`.
#[derive(Debug, Serialize)]
pub struct Reply<T: Serialize> {
    pub success: bool,
    pub detail: String,
    #[serde(flatten)]
    pub data: T,
}

pub fn reply<T: Serialize>(detail: impl Into<String>, data: T) -> Result<Reply<T>> {
    Ok(Reply { success: true, detail: detail.into(), data })
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub profile: Profile,
    /// False when the keychain is unavailable: the session lasts for this run only.
    pub remembered: bool,
}

/// After a password reset or change: signed in with a fresh session.
#[derive(Debug, Serialize)]
pub struct Renewed {
    pub profile: Profile,
    pub remembered: bool,
    pub notice_sent: bool,
}

#[derive(Debug, Serialize)]
pub struct SignedInProfile {
    pub profile: Profile,
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub notice_sent: bool,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

pub struct Request(Map<String, Value>);

impl Request {
    pub fn parse(value: Option<Value>) -> Result<Self> {
        match value {
            Some(Value::Object(map)) => Ok(Request(map)),
            _ => Err(Error::invalid("request", "The request must be an object with the form's fields.")),
        }
    }

    /// A field that may be missing or null.
    pub fn optional_text(&self, field: &'static str) -> Result<Option<&str>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.text(field).map(Some),
        }
    }

    pub fn text(&self, field: &'static str) -> Result<&str> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s),
            _ => {
                Err(Error::invalid(field, format!("The {} field is missing or is not text.", field.replace('_', " "))))
            }
        }
    }
}

pub fn code_sent_detail(sent: &CodeSent, again: bool) -> String {
    let new = if again { "new " } else { "" };
    match &sent.delivery {
        Delivery::Smtp => format!("We sent a {new}6-digit code to {}. It is valid for 10 minutes.", sent.email),
        Delivery::Outbox { path } => format!(
            "Mail delivery is not set up on this computer, so the email with your {new}code was saved as a file instead: {}",
            path.display()
        ),
    }
}

pub fn reset_sent_detail(sent: &CodeSent, again: bool) -> String {
    let new = if again { "new " } else { "" };
    match &sent.delivery {
        Delivery::Smtp => format!(
            "If an account uses {}, we have emailed it a {new}6-digit code. It is valid for 10 minutes.",
            sent.email
        ),
        Delivery::Outbox { path } => format!(
            "Mail delivery is not set up on this computer, so emails are saved as files in {}. If an account uses {}, the email with its {new}code is there.",
            path.display(),
            sent.email
        ),
    }
}

/// A security notice that could not be sent does not undo the change, but the person should know.
pub fn with_notice(done: String, notice_sent: bool) -> String {
    if notice_sent {
        done
    } else {
        format!("{done} We could not send the email notice about this change.")
    }
}

pub fn signed_in_detail(greeting: String, remembered: bool) -> String {
    if remembered {
        greeting
    } else {
        format!("{greeting} The system keychain is not available, so you will need to sign in again next time.")
    }
}
