//! Value types of the contract (spec §2). Each one can only hold a valid value: build it with
//! `parse`, which says exactly what is wrong with a bad input.

use std::fmt;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, Offset, SecondsFormat, TimeZone, Timelike, Utc,
};

/// Why a value could not be parsed. The message is plain English and names the rule broken;
/// the caller adds the field (XPath) it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(msg.into()))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A Thai tax identification number: 13 digits, the last one a check digit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxNumber([u8; 13]);

impl fmt::Debug for TaxNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaxNumber({self})")
    }
}

impl TaxNumber {
    /// The check digit that the first twelve digits call for.
    pub fn check_digit(first12: &[u8]) -> u8 {
        let sum: u32 = first12
            .iter()
            .take(12)
            .enumerate()
            .map(|(i, d)| u32::from(*d) * (13 - i as u32))
            .sum();
        ((11 - sum % 11) % 10) as u8
    }

    /// Checks the form only (13 digits), not the check digit.
    pub fn has_form(s: &str) -> bool {
        s.len() == 13 && all_digits(s)
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if !Self::has_form(s) {
            return err(format!("tax number '{s}' must be exactly 13 digits"));
        }
        let mut d = [0u8; 13];
        for (i, b) in s.bytes().enumerate() {
            d[i] = b - b'0';
        }
        let want = Self::check_digit(&d[..12]);
        if d[12] != want {
            return err(format!(
                "tax number '{s}' has check digit {} but its first 12 digits call for {want}",
                d[12]
            ));
        }
        Ok(Self(d))
    }

    /// Juristic persons (companies) have numbers starting with 0.
    pub fn is_juristic(&self) -> bool {
        self.0[0] == 0
    }

    pub fn as_string(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl fmt::Display for TaxNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Branch number: 5 digits, `00000` is the head office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Branch(u32);

impl Branch {
    pub const HEAD_OFFICE: Branch = Branch(0);

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if s.len() != 5 || !all_digits(s) {
            return err(format!(
                "branch '{s}' must be exactly 5 digits (00000 = head office)"
            ));
        }
        Ok(Self(s.parse().expect("5 digits fit in u32")))
    }

    pub fn value(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

/// A party as the contract identifies it: tax number and branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyKey {
    pub tax_number: TaxNumber,
    pub branch: Branch,
}

impl fmt::Display for PartyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tax_number, self.branch)
    }
}

/// Harmonized System code (AHTN): 8 digits, optionally 3 statistical digits more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HsCode(String);

impl HsCode {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if !(s.len() == 8 || s.len() == 11) || !all_digits(s) {
            return err(format!(
                "HS code '{s}' must be 8 digits, or 11 with the statistical suffix, digits only"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this code falls under the given prefix (2 to 11 digits).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for HsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An HS prefix as used by reference data (2 to 11 digits).
pub fn parse_hs_prefix(s: &str) -> Result<String, ValueError> {
    if !(2..=11).contains(&s.len()) || !all_digits(s) {
        return err(format!("HS prefix '{s}' must be 2 to 11 digits"));
    }
    Ok(s.to_owned())
}

/// A TIS standard edition: number, optional part, and the edition year in the Buddhist era.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StandardRef {
    pub number: u32,
    /// The part as written, e.g. `2(3)`; `None` for single-part standards.
    pub part: Option<String>,
    /// Edition year, Buddhist era.
    pub edition_be: u16,
}

/// Difference between Buddhist-era and Common-era years.
pub const BE_OFFSET: i32 = 543;

impl StandardRef {
    /// Parses the forms people write: `มอก. 2432-2555`, `มอก 2432-2555`, `TIS 2432-2555`,
    /// `TIS 2432-2012` (a year below 2400 is CE), `มอก. 60335 เล่ม 2(3)-2567`,
    /// `TIS 60335 Part 2(3)-2567`. Whitespace and the dot after มอก are free; Thai digits
    /// (`มอก. ๒๔๓๒-๒๕๕๕`) and the dashes of word processors (`–`, `—`, `−`) are read as
    /// their ASCII forms; leading zeros of the number and of the part's numbers are dropped.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let ascii = ascii_digits_and_dashes(input);
        let s = ascii.trim();
        let rest = if let Some(r) = s.strip_prefix("มอก") {
            let r = r.trim_start();
            r.strip_prefix('.').unwrap_or(r)
        } else if let Some(r) = strip_prefix_ci(s, "TIS") {
            let r = r.trim_start();
            r.strip_prefix('.').unwrap_or(r)
        } else {
            return err(format!(
                "standard '{input}' must start with 'TIS' or 'มอก.'"
            ));
        };
        let rest = rest.trim_start();
        // number
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if num_len == 0 || num_len > 6 {
            return err(format!(
                "standard '{input}' has no standard number after the prefix"
            ));
        }
        let number: u32 = rest[..num_len].parse().expect("digits");
        if number == 0 {
            return err(format!("standard '{input}' has number 0"));
        }
        let rest = rest[num_len..].trim_start();
        // optional part
        let (part, rest) = if let Some(r) = rest
            .strip_prefix("เล่ม")
            .or_else(|| strip_prefix_ci(rest, "Part"))
        {
            let r = r.trim_start();
            let end = r.find('-').unwrap_or(r.len());
            let written = r[..end].trim();
            let p = part_without_leading_zeros(written);
            if !well_formed_part(&p) {
                return err(format!(
                    "standard '{input}' has an unreadable part '{written}': digits, then \
                     groups of digits in parentheses, as in 2(3)"
                ));
            }
            (Some(p), &r[end..])
        } else {
            (None, rest)
        };
        let rest = rest.trim_start();
        let Some(year) = rest.strip_prefix('-') else {
            return err(format!(
                "standard '{input}' must end with '-' and the edition year"
            ));
        };
        let year = year.trim();
        if year.len() != 4 || !all_digits(year) {
            return err(format!(
                "standard '{input}' must end with a 4-digit edition year, found '{year}'"
            ));
        }
        let y: i32 = year.parse().expect("digits");
        let be = if y < 2400 { y + BE_OFFSET } else { y };
        if !(2400..=2700).contains(&be) {
            return err(format!(
                "standard '{input}' has an implausible edition year {y}"
            ));
        }
        Ok(Self {
            number,
            part,
            edition_be: be as u16,
        })
    }

    /// The canonical form used in responses: `TIS 2432-2555`, `TIS 60335 Part 2(3)-2567`.
    pub fn canonical(&self) -> String {
        // Built by hand: the decision's items and the reply's permit items name their
        // standard in this form, so it is made several times for every request.
        let mut out = String::with_capacity(24 + self.part.as_ref().map_or(0, String::len));
        out.push_str("TIS ");
        push_decimal(&mut out, self.number);
        if let Some(p) = &self.part {
            out.push_str(" Part ");
            out.push_str(p);
        }
        out.push('-');
        push_decimal(&mut out, u32::from(self.edition_be));
        out
    }

    /// The same standard (number and part), whatever the edition.
    pub fn same_standard(&self, other: &StandardRef) -> bool {
        self.number == other.number && self.part == other.part
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl fmt::Display for StandardRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Appends `n` in decimal digits.
fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// UN/ECE Recommendation 20 unit code (`C62`, `KGM`, `MTR`, `SET`, `PR`, …): 2 or 3 upper-case
/// letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitCode(String);

impl UnitCode {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if !(2..=3).contains(&s.len())
            || !s
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return err(format!(
                "unit code '{s}' must be a UN/ECE Rec. 20 code of 2 or 3 upper-case letters or digits"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal amount with at most 3 fraction digits, held exactly as thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(u64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// 999999999.999
    pub const MAX: Amount = Amount(999_999_999_999);

    pub fn from_milli(milli: u64) -> Self {
        Self(milli)
    }

    pub fn milli(&self) -> u64 {
        self.0
    }

    /// Parses a non-negative decimal (`12`, `12.5`, `0.125`); at most 3 fraction digits, at most
    /// 999999999.999.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let int = int.strip_prefix('+').unwrap_or(int);
        if int.is_empty() && frac.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return err(format!("'{s}' is not a decimal number"));
        }
        if t.contains('.') && (frac.is_empty() || !all_digits(frac)) {
            return err(format!("'{s}' is not a decimal number"));
        }
        let frac_trim = frac.trim_end_matches('0');
        if frac_trim.len() > 3 {
            return err(format!("'{s}' has more than 3 fraction digits"));
        }
        let int_trim = int.trim_start_matches('0');
        if int_trim.len() > 9 {
            return err(format!("'{s}' is above the maximum 999999999.999"));
        }
        let i: u64 = if int_trim.is_empty() {
            0
        } else {
            int_trim.parse().expect("digits")
        };
        let mut f: u64 = 0;
        for (k, b) in frac_trim
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .enumerate()
        {
            let _ = k;
            f = f * 10 + u64::from(b - b'0');
        }
        Ok(Self(i * 1000 + f))
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Amount {
    /// Shortest exact decimal form: `12`, `12.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.0 / 1000;
        let fr = self.0 % 1000;
        if fr == 0 {
            write!(f, "{i}")
        } else {
            let s = format!("{fr:03}");
            write!(f, "{i}.{}", s.trim_end_matches('0'))
        }
    }
}

/// A quantity of goods: an amount greater than zero with its unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quantity {
    pub amount: Amount,
    pub unit: UnitCode,
}

impl Quantity {
    pub fn parse(amount: &str, unit: &str) -> Result<Self, ValueError> {
        let amount = Amount::parse(amount)?;
        if amount == Amount::ZERO {
            return err("quantity must be greater than 0");
        }
        Ok(Self {
            amount,
            unit: UnitCode::parse(unit)?,
        })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit)
    }
}

/// ISO 3166-1 alpha-2 country code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl Country {
    pub const TH: Country = Country(*b"TH");

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(|c| c.is_ascii_uppercase()) {
            return err(format!(
                "country '{s}' must be an ISO 3166-1 alpha-2 code (two capital letters)"
            ));
        }
        if !assigned_country(b[0], b[1]) {
            return err(format!(
                "country '{s}' is not an assigned ISO 3166-1 alpha-2 code{}",
                if s == "UK" {
                    " (the United Kingdom is GB)"
                } else {
                    ""
                }
            ));
        }
        Ok(Self([b[0], b[1]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes (249; ISO 3166-1:2020 with its later
/// newsletters, as Debian's iso-codes 4.15 lists them).
const ASSIGNED_COUNTRIES: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
     BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV \
     CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD \
     GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM \
     IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK \
     LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW \
     MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR \
     PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS \
     ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY \
     UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// [`ASSIGNED_COUNTRIES`] as one bit per code: bit `second - 'A'` of row `first - 'A'`.
const ASSIGNED_COUNTRY_BITS: [u32; 26] = {
    let b = ASSIGNED_COUNTRIES.as_bytes();
    let mut rows = [0u32; 26];
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i].is_ascii_uppercase() && b[i + 1].is_ascii_uppercase() {
            rows[(b[i] - b'A') as usize] |= 1 << (b[i + 1] - b'A');
            i += 2;
        } else {
            i += 1;
        }
    }
    rows
};

/// Whether two capital letters are an assigned ISO 3166-1 alpha-2 code.
fn assigned_country(first: u8, second: u8) -> bool {
    ASSIGNED_COUNTRY_BITS[usize::from(first - b'A')] & (1 << (second - b'A')) != 0
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// UN/LOCODE: 2-letter country and 3 letters (or digits 2–9) for the place, e.g. `THBKK`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port([u8; 5]);

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Port({})", self.as_str())
    }
}

impl Port {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let ok = b.len() == 5
            && b[..2].iter().all(|c| c.is_ascii_uppercase())
            && b[2..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'9').contains(c));
        if !ok {
            return err(format!(
                "port '{s}' must be a 5-character UN/LOCODE such as THBKK"
            ));
        }
        // UN/LOCODE's country part is ISO 3166-1, and XZ for installations in international
        // waters.
        if !(assigned_country(b[0], b[1]) || &b[..2] == b"XZ") {
            return err(format!(
                "port '{s}' must begin with an assigned ISO 3166-1 country code, not '{}'",
                &s[..2]
            ));
        }
        let mut a = [0u8; 5];
        a.copy_from_slice(b);
        Ok(Self(a))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }

    pub fn country(&self) -> Country {
        Country([self.0[0], self.0[1]])
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permit number issued by the gateway: `TISI-P-{BE year}-{8 digits}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermitNumber {
    pub year_be: u16,
    pub serial: u32,
}

impl PermitNumber {
    pub const MAX_SERIAL: u32 = 99_999_999;

    pub fn new(year_be: u16, serial: u32) -> Result<Self, ValueError> {
        if serial == 0 || serial > Self::MAX_SERIAL {
            return err(format!("permit serial {serial} must be 1..=99999999"));
        }
        if !(2400..=9999).contains(&year_be) {
            return err(format!("permit year {year_be} must be a Buddhist-era year"));
        }
        Ok(Self { year_be, serial })
    }

    /// The permit number for a serial issued on `date`.
    pub fn for_date(date: NaiveDate, serial: u32) -> Result<Self, ValueError> {
        Self::new((date.year() + BE_OFFSET) as u16, serial)
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = || {
            ValueError(format!(
                "permit number '{s}' must look like TISI-P-2569-00000042"
            ))
        };
        let rest = s.strip_prefix("TISI-P-").ok_or_else(bad)?;
        let (y, n) = rest.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || !all_digits(y) || n.len() != 8 || !all_digits(n) {
            return Err(bad());
        }
        Self::new(y.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?)
    }
}

impl fmt::Display for PermitNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TISI-P-{}-{:08}", self.year_be, self.serial)
    }
}

/// A free-text identifier of at most `max` characters (`an..35` in the spec): no control
/// characters, not blank.
pub fn parse_an(s: &str, max: usize, what: &str) -> Result<String, ValueError> {
    if s.trim().is_empty() {
        return err(format!("{what} must not be empty"));
    }
    // A string has at most as many characters as bytes: count them only when that matters.
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return err(format!(
                "{what} '{s}' is {n} characters long, at most {max} are allowed"
            ));
        }
    }
    if has_control(s) {
        return err(format!("{what} must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// Whether `s` holds a control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F),
/// looking at the UTF-8 bytes: U+0080–U+009F are encoded as `C2 80`–`C2 9F`.
fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    // A branch-free pass first (it vectorises): most text has none of these bytes at all.
    let suspect = b.iter().fold(false, |acc, &c| {
        acc | (c < 0x20) | (c == 0x7f) | (c == 0xc2)
    });
    suspect
        && b.iter().enumerate().any(|(i, &c)| {
            c < 0x20 || c == 0x7f || (c == 0xc2 && b.get(i + 1).is_some_and(|d| *d <= 0x9f))
        })
}

/// The importer's own reference (`an..35`), unique per importer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReferenceNumber(String);

impl ReferenceNumber {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        parse_an(s, 35, "reference number").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReferenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses an `xs:date` in Gregorian `YYYY-MM-DD` form: ten characters, digits in every place
/// but the two hyphens, a real calendar date from 1900 on (an earlier one is a typing error
/// in anything this gateway reads; a year from 2400 to 2799 is a Buddhist-era year, and a later
/// one no date it reads either).
pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    let Some((y, m, d)) = strict_ymd(s.as_bytes()) else {
        return err(format!("date '{s}' must be YYYY-MM-DD"));
    };
    let d = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        ValueError(format!(
            "date '{s}' must be a real calendar date YYYY-MM-DD"
        ))
    })?;
    if d.year() >= 2800 {
        return err(format!("date '{s}' is after 2799"));
    }
    if d.year() >= 2400 {
        return err(format!(
            "date '{s}' looks like a Buddhist-era year; dates are Gregorian (CE)"
        ));
    }
    if d.year() < 1900 {
        return err(format!("date '{s}' is before 1900"));
    }
    Ok(d)
}

/// Year, month and day of `DDDD-DD-DD` (ASCII digits in every place), without validation.
fn strict_ymd(b: &[u8]) -> Option<(i32, u32, u32)> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    Some((num(0..4)? as i32, num(5..7)?, num(8..10)?))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, d);
    s
}

/// Appends `d` as chrono's `%Y-%m-%d` writes it: `YYYY-MM-DD`, and a signed year outside
/// 0–9999.
pub fn push_date(out: &mut String, d: NaiveDate) {
    let y = d.year();
    if !(0..=9999).contains(&y) {
        out.push_str(&d.format("%Y-%m-%d").to_string());
        return;
    }
    push_two(out, (y / 100) as u32);
    push_two(out, (y % 100) as u32);
    out.push('-');
    push_two(out, d.month());
    out.push('-');
    push_two(out, d.day());
}

/// Appends `t` as chrono's `to_rfc3339_opts(SecondsFormat::AutoSi, zulu)` writes it: the
/// fraction of a second in 3, 6 or 9 digits as it needs them (none for whole seconds), the
/// offset as `+hh:mm` (`Z` for UTC when `zulu`).
pub fn push_rfc3339<Tz: TimeZone>(out: &mut String, t: &DateTime<Tz>, zulu: bool) {
    let local = t.naive_local();
    let offset = t.offset().fix().local_minus_utc();
    let nano = local.nanosecond();
    if !(0..=9999).contains(&local.year()) || nano >= 1_000_000_000 || offset % 60 != 0 {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, zulu));
        return;
    }
    push_date(out, local.date());
    out.push('T');
    push_two(out, local.hour());
    out.push(':');
    push_two(out, local.minute());
    out.push(':');
    push_two(out, local.second());
    let (fraction, digits) = if nano == 0 {
        (0, 0)
    } else if nano % 1_000_000 == 0 {
        (nano / 1_000_000, 3)
    } else if nano % 1_000 == 0 {
        (nano / 1_000, 6)
    } else {
        (nano, 9)
    };
    if digits > 0 {
        out.push('.');
        let mut buf = [b'0'; 9];
        let mut f = fraction;
        for d in buf[..digits].iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.extend(buf[..digits].iter().map(|&d| char::from(d)));
    }
    if offset == 0 && zulu {
        out.push('Z');
        return;
    }
    out.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    push_two(out, minutes / 60);
    out.push(':');
    push_two(out, minutes % 60);
}

/// A standard's part: `2`, `2(3)`, `2(3)(1)`: digits, then groups of digits in parentheses.
/// `s` with Thai digits (U+0E50–U+0E59) as ASCII digits and the dashes of word processors
/// (hyphen, non-breaking hyphen, figure dash, en and em dash, minus sign) as `-`; borrowed when
/// there are none.
fn ascii_digits_and_dashes(s: &str) -> std::borrow::Cow<'_, str> {
    fn map(c: char) -> Option<char> {
        match c {
            '\u{0E50}'..='\u{0E59}' => char::from_digit(c as u32 - 0x0E50, 10),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
            _ => None,
        }
    }
    if s.chars().any(|c| map(c).is_some()) {
        s.chars()
            .map(|c| map(c).unwrap_or(c))
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// A part as written, without white space and without leading zeros in its numbers
/// (`02 (03)` → `2(3)`); whether it is well formed is [`well_formed_part`]'s to say.
fn part_without_leading_zeros(written: &str) -> String {
    let mut out = String::with_capacity(written.len());
    let mut in_number = false;
    for c in written.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            if in_number
                && out.ends_with('0')
                && !out[..out.len() - 1].ends_with(|d: char| d.is_ascii_digit())
            {
                // A leading zero followed by a digit: drop it.
                out.pop();
            }
            in_number = true;
        } else {
            in_number = false;
        }
        out.push(c);
    }
    out
}

fn well_formed_part(p: &str) -> bool {
    let head = p.bytes().take_while(u8::is_ascii_digit).count();
    if head == 0 {
        return false;
    }
    let mut rest = &p[head..];
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix('(') else {
            return false;
        };
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || r.as_bytes().get(n) != Some(&b')') {
            return false;
        }
        rest = &r[n + 1..];
    }
    true
}

/// Appends `n` (below 100) as two digits.
fn push_two(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Thailand's offset (no daylight saving): decision dates are Thai calendar dates.
const THAI_OFFSET_SECS: i32 = 7 * 3600;

/// The calendar date in Thailand at `at`.
pub fn thai_date(at: DateTime<Utc>) -> NaiveDate {
    let tz = FixedOffset::east_opt(THAI_OFFSET_SECS).expect("+07:00 is a valid offset");
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_dates_change_at_midnight_bangkok_time() {
        let check = |utc: &str, expected: &str| {
            let t: DateTime<Utc> = utc.parse().unwrap();
            assert_eq!(thai_date(t).to_string(), expected, "{utc}");
        };
        check("2026-11-26T16:59:59Z", "2026-11-26");
        check("2026-11-26T17:00:00Z", "2026-11-27");
        check("2026-11-26T00:00:00Z", "2026-11-26");
    }

    fn check<T: fmt::Debug, E: fmt::Display>(r: Result<T, E>, expected: &str) {
        let got = match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.contains(expected),
            "got {got:?}, expected it to contain {expected:?}"
        );
    }

    #[test]
    fn tax_numbers() {
        for ok in ["0105536112014", "0994000617721", "3100600445635"] {
            assert_eq!(TaxNumber::parse(ok).unwrap().to_string(), ok);
        }
        check(TaxNumber::parse("0105536112015"), "check digit 5");
        check(TaxNumber::parse("010553611201"), "exactly 13 digits");
        check(TaxNumber::parse("01055361120145"), "exactly 13 digits");
        check(TaxNumber::parse("010553611201A"), "exactly 13 digits");
        check(TaxNumber::parse(""), "exactly 13 digits");
        assert!(TaxNumber::parse("0105536112014").unwrap().is_juristic());
        assert!(!TaxNumber::parse("3100600445635").unwrap().is_juristic());
    }

    #[test]
    fn branches() {
        check(Branch::parse("00000"), "Branch(0)");
        check(Branch::parse("00012"), "Branch(12)");
        check(Branch::parse("0001"), "exactly 5 digits");
        check(Branch::parse("0001a"), "exactly 5 digits");
        assert_eq!(Branch::parse("00012").unwrap().to_string(), "00012");
    }

    #[test]
    fn hs_codes() {
        check(HsCode::parse("85044090"), "85044090");
        check(HsCode::parse("85044090001"), "85044090001");
        check(HsCode::parse("8504409"), "must be 8 digits");
        check(HsCode::parse("850440900"), "must be 8 digits");
        check(HsCode::parse("8504.409"), "must be 8 digits");
        check(parse_hs_prefix("8"), "2 to 11 digits");
        check(parse_hs_prefix("8504"), "8504");
    }

    #[test]
    fn standard_refs() {
        let canon = |s: &str| StandardRef::parse(s).map(|r| r.canonical());
        check(canon("มอก. 2432-2555"), "TIS 2432-2555");
        check(canon("มอก.2432-2555"), "TIS 2432-2555");
        check(canon("มอก 2432 - 2555"), "TIS 2432-2555");
        check(canon("TIS 2432-2555"), "TIS 2432-2555");
        check(canon("tis2432-2555"), "TIS 2432-2555");
        check(canon("TIS. 2432-2555"), "TIS 2432-2555");
        check(canon("TIS 2432-2012"), "TIS 2432-2555");
        check(
            canon("มอก. 60335 เล่ม 2(3)-2567"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(
            canon("TIS 60335 Part 2(3)-2567"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(
            canon("TIS 60335 part 2(3)-2024"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(canon("มอก.60335เล่ม2(3)-2567"), "TIS 60335 Part 2(3)-2567");
        check(canon("TIS 60335 Part 1-2564"), "TIS 60335 Part 1-2564");
        check(canon("TIS 1-2555"), "TIS 1-2555");
        check(canon("TIS 10-2555"), "TIS 10-2555");
        check(canon("TIS 999999-2700"), "TIS 999999-2700");
        check(
            StandardRef::parse("TIS 60335 Part 2(3)-2567").map(|r| r.to_string()),
            "TIS 60335 Part 2(3)-2567",
        );
        check(canon("ISO 9001-2015"), "must start with 'TIS' or 'มอก.'");
        check(canon("TIS -2555"), "no standard number");
        check(canon("TIS 2432"), "must end with '-'");
        check(canon("TIS 2432-255"), "4-digit edition year");
        check(canon("TIS 2432-1800"), "implausible edition year");
        check(canon("TIS 60335 Part -2567"), "unreadable part");
        check(canon("TIS 60335 Part 2(3-2567"), "unreadable part");
        check(canon("TIS 60335 Part 2((3))-2567"), "unreadable part");
        check(canon("TIS 60335 Part 2)3(-2567"), "unreadable part");
        check(canon("TIS 60335 Part (2)-2567"), "unreadable part");
        check(canon("TIS 60335 Part 2(3)4-2567"), "unreadable part");
        check(
            canon("TIS 60335 Part 2 (3)-2567"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(
            canon("มอก. 60335 เล่ม 2 ( 3 ) - 2567"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(
            canon("TIS 60335 Part 2(3)(1)-2567"),
            "TIS 60335 Part 2(3)(1)-2567",
        );
        check(canon("มอก . 2432-2555"), "TIS 2432-2555");
        // Thai digits, the dashes of word processors, leading zeros.
        check(canon("มอก. ๒๔๓๒-๒๕๕๕"), "TIS 2432-2555");
        check(
            canon("มอก. ๖๐๓๓๕ เล่ม ๒(๓)-๒๕๖๗"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(canon("TIS 2719–2560"), "TIS 2719-2560");
        check(canon("TIS 2719 — 2560"), "TIS 2719-2560");
        check(canon("TIS 2719−2560"), "TIS 2719-2560");
        check(canon("TIS 02719-2560"), "TIS 2719-2560");
        check(
            canon("TIS 60335 Part 02(03)-2567"),
            "TIS 60335 Part 2(3)-2567",
        );
        check(
            canon("TIS 60335 Part 10(100)(0)-2567"),
            "TIS 60335 Part 10(100)(0)-2567",
        );
        check(
            canon("TIS 60335 Part 00(3)-2567"),
            "TIS 60335 Part 0(3)-2567",
        );
        check(canon("TIS . 2432-2555"), "TIS 2432-2555");
        check(canon(""), "must start with");
    }

    #[test]
    fn amounts_and_quantities() {
        let a = |s: &str| Amount::parse(s).map(|a| a.milli());
        check(a("12"), "12000");
        check(a("12.5"), "12500");
        check(a("0.125"), "125");
        check(a("1.1230"), "1123");
        check(a("999999999.999"), "999999999999");
        check(a("1000000000"), "above the maximum");
        check(a("1.2345"), "more than 3 fraction digits");
        check(a("1."), "not a decimal");
        check(a("-1"), "not a decimal");
        check(a("1e3"), "not a decimal");
        check(a(""), "not a decimal");
        assert_eq!(Amount::from_milli(12500).to_string(), "12.5");
        assert_eq!(Amount::from_milli(12000).to_string(), "12");
        assert_eq!(Amount::from_milli(5).to_string(), "0.005");
        check(Quantity::parse("0", "C62"), "greater than 0");
        check(Quantity::parse("0.000", "C62"), "greater than 0");
        check(Quantity::parse("3", "c62"), "unit code 'c62'");
        check(Quantity::parse("3", "KGM"), "KGM");
    }

    #[test]
    fn countries_ports_permits_dates() {
        check(Country::parse("TH"), "TH");
        check(Country::parse("th"), "two capital letters");
        check(Country::parse("THA"), "two capital letters");
        check(Port::parse("THBKK"), "THBKK");
        check(Port::parse("THLCH"), "THLCH");
        check(Port::parse("THBK"), "UN/LOCODE");
        check(Port::parse("TH1KK"), "UN/LOCODE");
        check(Country::parse("GB"), "GB");
        check(Country::parse("ZW"), "ZW");
        check(Country::parse("AD"), "AD");
        check(
            Country::parse("UK"),
            "not an assigned ISO 3166-1 alpha-2 code (the United Kingdom is GB)",
        );
        check(Country::parse("XX"), "not an assigned ISO 3166-1");
        check(Country::parse("AA"), "not an assigned ISO 3166-1");
        check(Country::parse("ZZ"), "not an assigned ISO 3166-1");
        check(
            Port::parse("XXBKK"),
            "assigned ISO 3166-1 country code, not 'XX'",
        );
        check(Port::parse("XZ001"), "UN/LOCODE");
        check(Port::parse("XZABC"), "XZABC");
        check(Port::parse("SG2SN"), "SG2SN");
        assert_eq!(
            Port::parse("CNSHA").unwrap().country(),
            Country::parse("CN").unwrap()
        );
        check(PermitNumber::parse("TISI-P-2569-00000042"), "serial: 42");
        check(PermitNumber::parse("TISI-P-2569-0000042"), "must look like");
        check(
            PermitNumber::parse("TISI-X-2569-00000042"),
            "must look like",
        );
        check(PermitNumber::parse("TISI-P-2569-00000000"), "1..=99999999");
        assert_eq!(
            PermitNumber::for_date(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), 42)
                .unwrap()
                .to_string(),
            "TISI-P-2569-00000042"
        );
        check(parse_date("2026-11-26"), "2026-11-26");
        check(parse_date("2026-02-30"), "real calendar date");
        check(parse_date("2569-11-26"), "Buddhist-era");
        check(parse_date("2799-12-31"), "Buddhist-era");
        check(parse_date("2800-01-01"), "after 2799");
        check(parse_date("9999-12-31"), "after 2799");
        check(parse_date("26-11-2026"), "YYYY-MM-DD");
        check(ReferenceNumber::parse(&"x".repeat(36)), "at most 35");
        check(ReferenceNumber::parse("  "), "must not be empty");
        check(ReferenceNumber::parse("PO-2026/0001"), "PO-2026/0001");
        check(parse_date("2026-00-10"), "real calendar date");
        check(parse_date("2026-1a-10"), "YYYY-MM-DD");
        check(parse_date("2026- 1-10"), "YYYY-MM-DD");
        check(parse_date("+2026-1-10"), "YYYY-MM-DD");
        check(parse_date("2026-1-10"), "YYYY-MM-DD");
        check(parse_date("0000-01-01"), "before 1900");
        check(parse_date("1899-12-31"), "before 1900");
        check(parse_date("1900-01-01"), "1900-01-01");
    }

    /// The rules of `parse_an` spelled out on characters, as the spec states them.
    fn parse_an_by_chars(s: &str, max: usize, what: &str) -> Result<String, ValueError> {
        let n = s.chars().count();
        if n == 0 || s.trim().is_empty() {
            return err(format!("{what} must not be empty"));
        }
        if n > max {
            return err(format!(
                "{what} '{s}' is {n} characters long, at most {max} are allowed"
            ));
        }
        if s.chars().any(char::is_control) {
            return err(format!("{what} must not contain control characters"));
        }
        Ok(s.to_owned())
    }

    #[test]
    fn parse_an_follows_the_character_rules() {
        let thai = "บริษัท สยาม";
        for s in [
            "",
            " ",
            "\u{3000}",
            "a",
            "PO-1",
            "a\tb",
            "a\u{7f}",
            "a\u{80}b",
            "a\u{9f}",
            "a\u{a0}b",
            "\u{85}",
            "é",
            thai,
            "บบบบบ",
            "บบบบบบ",
            "abcde",
            "abcdef",
            "\u{0}",
        ] {
            for max in [1, 5, 6, 35] {
                assert_eq!(
                    parse_an(s, max, "name"),
                    parse_an_by_chars(s, max, "name"),
                    "{s:?} max {max}"
                );
            }
        }
    }

    fn check_rfc3339(t: &str, zulu: bool, expected: &str) {
        let t = DateTime::parse_from_rfc3339(t).unwrap();
        let mut got = String::new();
        push_rfc3339(&mut got, &t, zulu);
        assert_eq!(got, expected);
        assert_eq!(got, t.to_rfc3339_opts(SecondsFormat::AutoSi, zulu));
    }

    #[test]
    fn rfc3339_as_chrono_writes_it() {
        check_rfc3339("2026-11-28T04:41:35Z", true, "2026-11-28T04:41:35Z");
        check_rfc3339("2026-11-28T04:41:35Z", false, "2026-11-28T04:41:35+00:00");
        check_rfc3339("2026-11-28T04:41:35.5Z", true, "2026-11-28T04:41:35.500Z");
        check_rfc3339(
            "2026-11-28T04:41:35.000123Z",
            true,
            "2026-11-28T04:41:35.000123Z",
        );
        check_rfc3339(
            "2026-11-28T04:41:35.120000Z",
            true,
            "2026-11-28T04:41:35.120Z",
        );
        check_rfc3339(
            "2026-11-28T04:41:35.123456Z",
            false,
            "2026-11-28T04:41:35.123456+00:00",
        );
        check_rfc3339(
            "2026-11-28T04:41:35.000000007Z",
            true,
            "2026-11-28T04:41:35.000000007Z",
        );
        check_rfc3339(
            "2026-11-28T04:41:35.100000001Z",
            true,
            "2026-11-28T04:41:35.100000001Z",
        );
        check_rfc3339(
            "2026-11-28T11:41:35+07:00",
            true,
            "2026-11-28T11:41:35+07:00",
        );
        check_rfc3339(
            "2026-11-27T23:11:35-05:30",
            true,
            "2026-11-27T23:11:35-05:30",
        );
        check_rfc3339("0000-01-01T00:00:00Z", true, "0000-01-01T00:00:00Z");
        check_rfc3339(
            "9999-12-31T23:59:59.999999999Z",
            true,
            "9999-12-31T23:59:59.999999999Z",
        );
        // Leap seconds and years of five digits take chrono's own way.
        check_rfc3339("2016-12-31T23:59:60.5Z", true, "2016-12-31T23:59:60.500Z");
        let far = NaiveDate::from_ymd_opt(10000, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap()
            .and_utc();
        let mut got = String::new();
        push_rfc3339(&mut got, &far, true);
        assert_eq!(got, far.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }

    #[test]
    fn dates_as_chrono_writes_them() {
        for (y, m, d) in [
            (2026, 11, 28),
            (1, 1, 1),
            (0, 1, 1),
            (999, 12, 31),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 6, 15),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(
                format_date(date),
                date.format("%Y-%m-%d").to_string(),
                "{date:?}"
            );
        }
        assert_eq!(
            format_date(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()),
            "2026-02-03"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_an_matches_the_character_rules(s in "\\PC{0,8}|[\\x00-\\x{a0} ]{0,8}|.{0,40}", max in 0usize..40) {
            proptest::prop_assert_eq!(parse_an(&s, max, "x"), parse_an_by_chars(&s, max, "x"));
        }

        #[test]
        fn rfc3339_matches_chrono(secs in -62_167_219_200i64..253_402_300_800, nano in 0u32..1_000_000_000, scale in 0usize..4, offset in -86_399i32..86_400, zulu: bool) {
            // Nanoseconds as they come from clocks: whole milli- and microseconds too.
            let nano = [nano, nano / 1_000 * 1_000, nano / 1_000_000 * 1_000_000, 0][scale];
            let offset = chrono::FixedOffset::east_opt(offset).unwrap();
            let t = DateTime::from_timestamp(secs, nano).unwrap().with_timezone(&offset);
            let mut got = String::new();
            push_rfc3339(&mut got, &t, zulu);
            proptest::prop_assert_eq!(got, t.to_rfc3339_opts(SecondsFormat::AutoSi, zulu));
        }

        #[test]
        fn parse_date_matches_chrono(s in "[0-9+ -]{10}|[0-9]{4}-[0-9]{2}-[0-9]{2}") {
            // chrono's reading of the strict form (digits in every place but the hyphens),
            // within the years accepted.
            let shape = s.bytes().enumerate().all(|(i, c)| match i {
                4 | 7 => c == b'-',
                _ => c.is_ascii_digit(),
            });
            let by_chrono = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .filter(|d| shape && (1900..2400).contains(&d.year()));
            proptest::prop_assert_eq!(parse_date(&s).ok(), by_chrono);
        }
    }
}
