//! What the gateway says when it cannot accept a message (spec §1.2): ebMS `eb:Error` entries.

use std::fmt;

/// ebMS 2.0 error codes used by the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ValueNotRecognized,
    NotSupported,
    Inconsistent,
    OtherXml,
    DeliveryFailure,
    TimeToLiveExpired,
    SecurityFailure,
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValueNotRecognized => "ValueNotRecognized",
            ErrorCode::NotSupported => "NotSupported",
            ErrorCode::Inconsistent => "Inconsistent",
            ErrorCode::OtherXml => "OtherXml",
            ErrorCode::DeliveryFailure => "DeliveryFailure",
            ErrorCode::TimeToLiveExpired => "TimeToLiveExpired",
            ErrorCode::SecurityFailure => "SecurityFailure",
            ErrorCode::Unknown => "Unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ValueNotRecognized" => ErrorCode::ValueNotRecognized,
            "NotSupported" => ErrorCode::NotSupported,
            "Inconsistent" => ErrorCode::Inconsistent,
            "OtherXml" => ErrorCode::OtherXml,
            "DeliveryFailure" => ErrorCode::DeliveryFailure,
            "TimeToLiveExpired" => ErrorCode::TimeToLiveExpired,
            "SecurityFailure" => ErrorCode::SecurityFailure,
            "Unknown" => ErrorCode::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "Warning",
            Severity::Error => "Error",
        }
    }
}

/// One `eb:Error`: a code, the XPath of the offending node and a plain-English description
/// that names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbmsError {
    pub code: ErrorCode,
    pub severity: Severity,
    pub location: String,
    pub description: String,
}

impl EbmsError {
    pub fn new(
        code: ErrorCode,
        location: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity: Severity::Error,
            location: location.into(),
            description: description.into(),
        }
    }
}

impl fmt::Display for EbmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}: {}",
            self.code, self.location, self.description
        )
    }
}
