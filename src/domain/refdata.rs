//! TISI's reference records (spec §6): standards, licences, accredited laboratories and
//! special-import purposes, each with its effective dates.

use chrono::NaiveDate;

use super::types::{Amount, Country, PartyKey, StandardRef};

/// A Thai Industrial Standard edition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standard {
    pub reference: StandardRef,
    pub title_th: String,
    pub title_en: String,
    pub compulsory: bool,
    pub in_force_from: NaiveDate,
    /// Last day in force; `None` while it has no end date.
    pub in_force_until: Option<NaiveDate>,
    /// HS code prefixes (2–11 digits) that the standard covers.
    pub hs_prefixes: Vec<String>,
    /// Percentage of items selected for inspection at the port, 0..=100.
    pub inspection_rate: u8,
    pub test_report_required: bool,
}

impl Standard {
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.in_force_from <= date && self.in_force_until.is_none_or(|u| date <= u)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenceType {
    /// Import licence, Industrial Product Standards Act s.21.
    Import,
    /// Manufacturing licence, s.20.
    Manufacture,
}

impl LicenceType {
    pub fn code(self) -> &'static str {
        match self {
            LicenceType::Import => "IMPORT",
            LicenceType::Manufacture => "MANUFACTURE",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "IMPORT" => Some(LicenceType::Import),
            "MANUFACTURE" => Some(LicenceType::Manufacture),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenceStatus {
    Active,
    Suspended,
    Revoked,
}

impl LicenceStatus {
    pub fn code(self) -> &'static str {
        match self {
            LicenceStatus::Active => "ACTIVE",
            LicenceStatus::Suspended => "SUSPENDED",
            LicenceStatus::Revoked => "REVOKED",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(LicenceStatus::Active),
            "SUSPENDED" => Some(LicenceStatus::Suspended),
            "REVOKED" => Some(LicenceStatus::Revoked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    pub number: String,
    pub licence_type: LicenceType,
    pub holder: PartyKey,
    pub holder_name: String,
    pub standard: StandardRef,
    /// Brands covered; empty = the licence does not restrict brands.
    pub brands: Vec<String>,
    /// Models covered; empty = the licence does not restrict models.
    pub models: Vec<String>,
    pub manufacturer: String,
    pub manufacturer_country: Country,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub status: LicenceStatus,
    /// The date the current status took effect.
    pub status_since: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabStatus {
    Active,
    Suspended,
    Withdrawn,
}

impl LabStatus {
    pub fn code(self) -> &'static str {
        match self {
            LabStatus::Active => "ACTIVE",
            LabStatus::Suspended => "SUSPENDED",
            LabStatus::Withdrawn => "WITHDRAWN",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(LabStatus::Active),
            "SUSPENDED" => Some(LabStatus::Suspended),
            "WITHDRAWN" => Some(LabStatus::Withdrawn),
            _ => None,
        }
    }
}

/// An ISO/IEC 17025 accredited laboratory (e-Accreditation record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    pub id: String,
    pub name: String,
    /// Standard editions in the accreditation scope.
    pub standards: Vec<StandardRef>,
    pub accredited_from: NaiveDate,
    pub accredited_until: Option<NaiveDate>,
    pub status: LabStatus,
}

/// A special-import purpose from the policy table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialPurpose {
    pub code: String,
    pub description_th: String,
    pub description_en: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    /// Maximum quantity per importer per calendar year; `None` = no cap.
    pub max_quantity_per_year: Option<Amount>,
    pub officer_review: bool,
    pub test_report_required: bool,
}

/// A whole set of reference records, as loaded from files or from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefData {
    pub standards: Vec<Standard>,
    pub licences: Vec<Licence>,
    pub labs: Vec<Lab>,
    pub purposes: Vec<SpecialPurpose>,
}
