//! Every Thai and English text that a reason carries, in one place. Each message says what is
//! wrong, with the values involved, and what the sender can do about it.

use chrono::NaiveDate;

use super::types::{Amount, HsCode, PartyKey, StandardRef};

/// A message in Thai and in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub th: String,
    pub en: String,
}

fn t(th: String, en: String) -> Text {
    Text { th, en }
}

/// The characters of names that one list in a message may take: a reason's text may have at
/// most 1,000 (the response schema's limit), and a licence's models or a lab's scope can run
/// to hundreds of names.
const LIST_BUDGET: usize = 240;

/// A list of names for a message: `a, b, c`, or the given word when there is none. Names
/// beyond [`LIST_BUDGET`] characters are counted instead (`a, b and 7 more`); a first name
/// longer than that is cut with `…`.
pub fn list<I, S>(items: I, none_th: &str, none_en: &str) -> (String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut shown = String::new();
    let mut chars = 0;
    let mut more = 0usize;
    for item in items {
        let name = item.as_ref();
        let n = name.chars().count();
        if shown.is_empty() && more == 0 {
            if n > LIST_BUDGET {
                shown.extend(name.chars().take(LIST_BUDGET - 1));
                shown.push('…');
                chars = LIST_BUDGET;
            } else {
                shown.push_str(name);
                chars = n;
            }
        } else if more == 0 && chars + 2 + n <= LIST_BUDGET {
            shown.push_str(", ");
            shown.push_str(name);
            chars += 2 + n;
        } else {
            more += 1;
        }
    }
    match (shown.is_empty(), more) {
        (true, _) => (none_th.to_owned(), none_en.to_owned()),
        (false, 0) => (shown.clone(), shown),
        (false, more) => (
            format!("{shown} และอีก {more} รายการ"),
            format!("{shown} and {more} more"),
        ),
    }
}

fn until_text(until: Option<NaiveDate>) -> (String, String) {
    match until {
        Some(u) => (u.to_string(), u.to_string()),
        None => ("ไม่มีกำหนดสิ้นสุด".into(), "no end date".into()),
    }
}

/// The name of a field as messages write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Brand,
    Model,
    Manufacturer,
    ManufacturerCountry,
    PermitIssueDate,
    IssuingAuthorityTaxNumber,
    InvoiceNumber,
    InvoiceDate,
    LoadPort,
    DischargePort,
    HsCode,
    CountryOfOrigin,
}

impl Label {
    pub fn th(self) -> &'static str {
        match self {
            Label::Brand => "ยี่ห้อ",
            Label::Model => "รุ่น",
            Label::Manufacturer => "ผู้ผลิต",
            Label::ManufacturerCountry => "ประเทศของผู้ผลิต",
            Label::PermitIssueDate => "วันที่ออกใบอนุญาต",
            Label::IssuingAuthorityTaxNumber => "เลขประจำตัวผู้เสียภาษีของหน่วยงานผู้ออกใบอนุญาต",
            Label::InvoiceNumber => "เลขที่บัญชีราคาสินค้า",
            Label::InvoiceDate => "วันที่บัญชีราคาสินค้า",
            Label::LoadPort => "ท่าต้นทาง",
            Label::DischargePort => "ท่าปลายทาง",
            Label::HsCode => "พิกัดศุลกากร",
            Label::CountryOfOrigin => "ประเทศกำเนิด",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Label::Brand => "brand",
            Label::Model => "model",
            Label::Manufacturer => "manufacturer",
            Label::ManufacturerCountry => "manufacturer country",
            Label::PermitIssueDate => "permit issue date",
            Label::IssuingAuthorityTaxNumber => "issuing authority tax number",
            Label::InvoiceNumber => "invoice number",
            Label::InvoiceDate => "invoice date",
            Label::LoadPort => "load port",
            Label::DischargePort => "discharge port",
            Label::HsCode => "HS code",
            Label::CountryOfOrigin => "country of origin",
        }
    }
}

// ---- Decision rules (spec §6) --------------------------------------------------------------

pub fn importer_tax_number_invalid(tax: &str) -> Text {
    let hint_en;
    let hint_th;
    if super::types::TaxNumber::has_form(tax) {
        let d: Vec<u8> = tax.bytes().map(|b| b - b'0').collect();
        let want = super::types::TaxNumber::check_digit(&d[..12]);
        hint_en = format!(" (its first 12 digits call for check digit {want})");
        hint_th = format!(" (เลข 12 หลักแรกต้องมีเลขตรวจสอบเป็น {want})");
    } else {
        hint_en = " (it must be exactly 13 digits)".into();
        hint_th = " (ต้องเป็นตัวเลข 13 หลัก)".into();
    }
    t(
        format!(
            "เลขประจำตัวผู้เสียภาษีของผู้นำเข้า {tax} ไม่ถูกต้องตามเลขตรวจสอบ{hint_th} \
             กรุณาตรวจสอบและแก้ไขเลขประจำตัวผู้เสียภาษีของผู้นำเข้าแล้วส่งคำขอใหม่"
        ),
        format!(
            "Importer tax number {tax} is not valid: its check digit is wrong{hint_en}. \
             Correct the importer's tax number and send the request again."
        ),
    )
}

pub fn standard_missing(item: u16, hs: &HsCode, controlling: &[String]) -> Text {
    let (th_l, en_l) = list(controlling, "มาตรฐานบังคับ", "a compulsory standard");
    t(
        format!(
            "รายการสินค้าที่ {item}: พิกัดศุลกากร {hs} เป็นสินค้าควบคุมตาม {th_l} \
             แต่ไม่ได้ระบุมาตรฐาน กรุณาระบุมาตรฐานและฉบับปี เช่น 'มอก. 2432-2555' ในช่อง Standard"
        ),
        format!(
            "Goods item {item}: HS code {hs} is controlled by {en_l} but no standard is given. \
             State the standard and edition, e.g. 'TIS 2432-2555', in Standard."
        ),
    )
}

/// `problem` is the parser's English: in the English message only.
pub fn standard_unparsable(item: u16, text: &str, problem: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: อ่านมาตรฐาน '{text}' ไม่ได้ \
             กรุณาเขียนในรูปแบบ 'มอก. 2432-2555' หรือ 'TIS 60335 Part 2(3)-2567'"
        ),
        format!(
            "Goods item {item}: the standard '{text}' cannot be read ({problem}). \
             Write it as 'TIS 2432-2555' or 'TIS 60335 Part 2(3)-2567'."
        ),
    )
}

pub fn standard_unknown(
    item: u16,
    given: &StandardRef,
    hs: &HsCode,
    controlling: &[String],
) -> Text {
    let (th_l, en_l) = list(controlling, "มาตรฐานบังคับ", "a compulsory standard");
    t(
        format!(
            "รายการสินค้าที่ {item}: ไม่พบมาตรฐาน {given} ในทะเบียนมาตรฐานบังคับของ สมอ. \
             พิกัด {hs} อยู่ภายใต้ {th_l} กรุณาตรวจสอบเลขมาตรฐานและฉบับปี"
        ),
        format!(
            "Goods item {item}: standard {given} is not a compulsory standard edition in TISI's \
             records. HS code {hs} falls under {en_l}; check the standard number and edition year."
        ),
    )
}

pub fn standard_not_compulsory(
    item: u16,
    given: &StandardRef,
    hs: &HsCode,
    controlling: &[String],
) -> Text {
    let (th_l, en_l) = list(controlling, "มาตรฐานบังคับ", "a compulsory standard");
    t(
        format!(
            "รายการสินค้าที่ {item}: {given} ไม่ใช่มาตรฐานบังคับ พิกัด {hs} ต้องเป็นไปตาม {th_l} \
             กรุณาระบุมาตรฐานบังคับที่ถูกต้อง"
        ),
        format!(
            "Goods item {item}: {given} is not a compulsory standard; HS code {hs} must meet \
             {en_l}. State that compulsory standard instead."
        ),
    )
}

pub fn standard_not_in_force(
    item: u16,
    given: &StandardRef,
    from: NaiveDate,
    until: Option<NaiveDate>,
    arrival: NaiveDate,
    in_force_editions: &[String],
) -> Text {
    let (u_th, u_en) = until_text(until);
    let (todo_th, todo_en) = if in_force_editions.is_empty() {
        (
            "กรุณาตรวจสอบวันที่นำเข้า".to_owned(),
            "Check the arrival date.".to_owned(),
        )
    } else {
        let (th_l, en_l) = list(in_force_editions, "", "");
        (
            format!("ฉบับที่ใช้บังคับในวันนั้นคือ {th_l} กรุณาระบุฉบับดังกล่าว"),
            format!("The edition in force on that date is {en_l}; state that edition."),
        )
    };
    t(
        format!(
            "รายการสินค้าที่ {item}: มาตรฐาน {given} ใช้บังคับตั้งแต่ {from} ถึง {u_th} \
             จึงไม่มีผลในวันที่นำเข้า {arrival} {todo_th}"
        ),
        format!(
            "Goods item {item}: standard {given} is in force from {from} to {u_en}, so not on the \
             arrival date {arrival}. {todo_en}"
        ),
    )
}

pub fn standard_hs_mismatch(
    item: u16,
    hs: &HsCode,
    given: &StandardRef,
    prefixes: &[String],
    controlling: &[String],
) -> Text {
    let (p_th, p_en) = list(prefixes, "-", "none");
    let (th_l, en_l) = list(controlling, "-", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: พิกัด {hs} ไม่อยู่ในขอบข่ายของ {given} (ครอบคลุมพิกัดที่ขึ้นต้นด้วย {p_th}) \
             มาตรฐานที่ครอบคลุมพิกัดนี้: {th_l} กรุณาแก้ไขพิกัดหรือมาตรฐานให้ตรงกัน"
        ),
        format!(
            "Goods item {item}: HS code {hs} is not covered by {given}, which covers HS codes \
             starting with {p_en}. Standards covering this HS code: {en_l}. Correct the HS code or \
             the standard."
        ),
    )
}

pub fn licence_required(item: u16, hs: &HsCode, standard: Option<&StandardRef>) -> Text {
    let s = standard
        .map(|s| s.canonical())
        .unwrap_or_else(|| "-".into());
    t(
        format!(
            "รายการสินค้าที่ {item}: คำขอประเภท LICENSED ต้องระบุเลขที่ใบอนุญาตนำเข้า (มาตรา 21) \
             สำหรับพิกัด {hs} มาตรฐาน {s} กรุณาระบุ LicenceNumber หรือยื่นเป็นการนำเข้ากรณีพิเศษ (SPECIAL)"
        ),
        format!(
            "Goods item {item}: a LICENSED request needs the TISI import licence (s.21) number for \
             HS code {hs}, standard {s}. Give LicenceNumber, or send the item as a SPECIAL import."
        ),
    )
}

pub fn licence_not_found(item: u16, number: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ไม่พบใบอนุญาตเลขที่ '{number}' ในทะเบียนใบอนุญาตของ สมอ. \
             กรุณาตรวจสอบเลขที่ตามใบอนุญาตฉบับจริง (เช่น พิมพ์ผิด) แล้วส่งใหม่"
        ),
        format!(
            "Goods item {item}: licence '{number}' is not in TISI's licence records. Check the \
             number against the licence certificate (typing errors) and send again."
        ),
    )
}

pub fn licence_type_invalid(item: u16, number: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} เป็นใบอนุญาตทำ (มาตรา 20) ไม่ใช่ใบอนุญาตนำเข้า (มาตรา 21) \
             กรุณาระบุใบอนุญาตนำเข้าสำหรับสินค้านี้"
        ),
        format!(
            "Goods item {item}: licence {number} is a manufacturing licence (s.20), not an import \
             licence (s.21). Give an import licence for this item."
        ),
    )
}

pub fn licence_holder_mismatch(
    item: u16,
    number: &str,
    holder: &PartyKey,
    holder_name: &str,
    importer_tax: &str,
    importer_branch: &str,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} เป็นของ {holder_name} ({holder}) ไม่ใช่ของผู้นำเข้า \
             {importer_tax}/{importer_branch} ผู้นำเข้าต้องใช้ใบอนุญาตของตนเอง"
        ),
        format!(
            "Goods item {item}: licence {number} is held by {holder_name} ({holder}), not by the \
             importer {importer_tax}/{importer_branch}. Only the holder may import under it; give \
             the importer's own licence."
        ),
    )
}

pub fn licence_standard_mismatch(
    item: u16,
    number: &str,
    licence_std: &StandardRef,
    item_std: &StandardRef,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} ออกตาม {licence_std} แต่รายการระบุ {item_std} \
             กรุณาระบุใบอนุญาตที่ออกตาม {item_std} หรือแก้ไขมาตรฐานให้ถูกต้อง"
        ),
        format!(
            "Goods item {item}: licence {number} is for {licence_std}, but the item states \
             {item_std}. Give a licence for {item_std}, or correct the standard."
        ),
    )
}

pub fn licence_suspended(item: u16, number: &str, since: NaiveDate) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} ถูกพักใช้ตั้งแต่ {since} ไม่สามารถออกใบอนุญาตนำเข้าได้ \
             จนกว่า สมอ. จะยกเลิกการพักใช้ กรุณาติดต่อ สมอ."
        ),
        format!(
            "Goods item {item}: licence {number} is suspended since {since}. No permit can be \
             issued under it until TISI lifts the suspension; contact TISI."
        ),
    )
}

pub fn licence_revoked(item: u16, number: &str, since: NaiveDate) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} ถูกเพิกถอนเมื่อ {since} \
             ต้องยื่นขอใบอนุญาตใหม่ก่อนนำเข้า"
        ),
        format!(
            "Goods item {item}: licence {number} was revoked on {since}. A new licence must be \
             obtained before importing."
        ),
    )
}

pub fn licence_not_valid(
    item: u16,
    number: &str,
    issued: NaiveDate,
    expires: NaiveDate,
    arrival: NaiveDate,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} มีอายุตั้งแต่ {issued} ถึง {expires} \
             ไม่ครอบคลุมวันที่นำเข้า {arrival} กรุณาต่ออายุใบอนุญาตหรือแก้ไขวันที่นำเข้า"
        ),
        format!(
            "Goods item {item}: licence {number} is valid from {issued} to {expires}, which does \
             not include the arrival date {arrival}. Renew the licence or correct the arrival date."
        ),
    )
}

/// A permit request whose arrival date lies more than 90 days back: a permit would expire
/// (arrival + 90 days) before the earliest day it could take effect (the decision date).
pub fn arrival_date_passed(
    item: u16,
    arrival: NaiveDate,
    latest: NaiveDate,
    effective: NaiveDate,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: วันที่นำเข้า {arrival} ผ่านมาแล้วเกิน 90 วัน ใบอนุญาตนำเข้าจะหมดอายุในวันที่ \
             {latest} ก่อนวันที่มีผลได้เร็วที่สุดคือ {effective} กรุณาตรวจสอบวันที่นำเข้า"
        ),
        format!(
            "Goods item {item}: the arrival date {arrival} is more than 90 days ago; a permit \
             would expire on {latest}, before the earliest day it could take effect, {effective}. \
             Check the arrival date."
        ),
    )
}

/// A licence valid on the arrival date that expires before a permit could take effect.
pub fn licence_expires_before_permit(
    item: u16,
    number: &str,
    expires: NaiveDate,
    effective: NaiveDate,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ใบอนุญาต {number} หมดอายุในวันที่ {expires} \
             ก่อนวันที่ใบอนุญาตนำเข้าจะมีผลได้เร็วที่สุดคือ {effective} กรุณาต่ออายุใบอนุญาต"
        ),
        format!(
            "Goods item {item}: licence {number} expires on {expires}, before the earliest day a \
             permit could take effect, {effective}. Renew the licence."
        ),
    )
}

/// A test report dated after the decision date.
pub fn test_report_from_the_future(
    item: u16,
    number: &str,
    issued: NaiveDate,
    today: NaiveDate,
) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: รายงานผลการทดสอบ {number} ลงวันที่ {issued} \
             ซึ่งเป็นวันหลังจากวันนี้ ({today}) กรุณาแนบรายงานที่ออกแล้วและแก้ไขวันที่ออกรายงาน"
        ),
        format!(
            "Goods item {item}: test report {number} is dated {issued}, after today ({today}). \
             Attach a report that has been issued and correct its issue date."
        ),
    )
}

pub fn licence_product_mismatch(
    item: u16,
    number: &str,
    what: Label,
    given: &str,
    covered: &[String],
) -> Text {
    let (what_th, what_en) = (what.th(), what.en());
    let (l_th, l_en) = list(covered, "ไม่มี", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: {what_th} '{given}' ไม่อยู่ในใบอนุญาต {number} (ใบอนุญาตครอบคลุม: {l_th}) \
             กรุณาแก้ไขข้อมูลให้ตรงกับใบอนุญาต หรือขอแก้ไขใบอนุญาตกับ สมอ."
        ),
        format!(
            "Goods item {item}: {what_en} '{given}' is not covered by licence {number} (it covers: \
             {l_en}). Correct the item to match the licence, or have TISI amend the licence."
        ),
    )
}

pub fn special_purpose_missing(item: u16, valid: &[String]) -> Text {
    let (th_l, en_l) = list(valid, "ไม่มี", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: คำขอประเภท SPECIAL ต้องระบุวัตถุประสงค์การนำเข้ากรณีพิเศษ (SpecialPurpose) \
             รหัสที่ใช้ได้ในวันที่นำเข้า: {th_l}"
        ),
        format!(
            "Goods item {item}: a SPECIAL request needs a SpecialPurpose code. Codes valid on the \
             arrival date: {en_l}."
        ),
    )
}

pub fn special_purpose_unknown(item: u16, code: &str, valid: &[String]) -> Text {
    let (th_l, en_l) = list(valid, "ไม่มี", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: '{code}' ไม่ใช่วัตถุประสงค์การนำเข้ากรณีพิเศษที่กำหนด \
             รหัสที่ใช้ได้ในวันที่นำเข้า: {th_l}"
        ),
        format!(
            "Goods item {item}: '{code}' is not a special-import purpose. Codes valid on the \
             arrival date: {en_l}."
        ),
    )
}

pub fn special_purpose_not_valid(
    item: u16,
    code: &str,
    from: NaiveDate,
    until: Option<NaiveDate>,
    arrival: NaiveDate,
    valid: &[String],
) -> Text {
    let (u_th, u_en) = until_text(until);
    let (th_l, en_l) = list(valid, "ไม่มี", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: วัตถุประสงค์ {code} ใช้ได้ตั้งแต่ {from} ถึง {u_th} \
             ไม่ครอบคลุมวันที่นำเข้า {arrival} รหัสที่ใช้ได้ในวันนั้น: {th_l}"
        ),
        format!(
            "Goods item {item}: purpose {code} is allowed from {from} to {u_en}, not on the \
             arrival date {arrival}. Codes valid on that date: {en_l}."
        ),
    )
}

pub fn special_quantity_exceeded(
    item: u16,
    code: &str,
    year: i32,
    used: Amount,
    this_request: Amount,
    max: Amount,
) -> Text {
    let left = max.saturating_sub(used);
    t(
        format!(
            "รายการสินค้าที่ {item}: ผู้นำเข้าใช้สิทธิ์วัตถุประสงค์ {code} ในปี {year} ไปแล้ว {used} \
             คำขอนี้เพิ่มอีก {this_request} เกินปริมาณสูงสุด {max} ต่อปี \
             กรุณาลดปริมาณให้ไม่เกิน {left} หรือขอใบอนุญาตนำเข้า"
        ),
        format!(
            "Goods item {item}: the importer has already used {used} under purpose {code} in \
             {year}; this request adds {this_request}, above the maximum of {max} per year. \
             Reduce the quantity to at most {left}, or import under a licence."
        ),
    )
}

/// `by_standard`: the edition that requires the report, if it does; else `by_purpose`.
pub fn test_report_required(
    item: u16,
    by_standard: Option<&StandardRef>,
    by_purpose: Option<&str>,
    standard: Option<&StandardRef>,
) -> Text {
    let (required_th, required_en) = match (by_standard, by_purpose) {
        (Some(s), _) => (format!("มาตรฐาน {s}"), format!("standard {s}")),
        (None, Some(p)) => (
            format!("วัตถุประสงค์การนำเข้ากรณีพิเศษ {p}"),
            format!("special purpose {p}"),
        ),
        (None, None) => ("สมอ.".to_owned(), "TISI".to_owned()),
    };
    let s = standard
        .map(|s| s.canonical())
        .unwrap_or_else(|| "-".into());
    t(
        format!(
            "รายการสินค้าที่ {item}: {required_th} กำหนดให้ต้องมีรายงานผลการทดสอบ \
             กรุณาแนบ TestReport (LabId, ReportNumber, IssueDate) จากห้องปฏิบัติการที่ได้รับการรับรองสำหรับ {s}"
        ),
        format!(
            "Goods item {item}: {required_en} requires a test report. Give TestReport (LabId, \
             ReportNumber, IssueDate) from a laboratory accredited for {s}."
        ),
    )
}

pub fn lab_unknown(item: u16, lab: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ไม่พบห้องปฏิบัติการ '{lab}' ในทะเบียนห้องปฏิบัติการที่ได้รับการรับรอง \
             กรุณาตรวจสอบรหัสห้องปฏิบัติการ หรือใช้รายงานจากห้องปฏิบัติการที่ได้รับการรับรอง"
        ),
        format!(
            "Goods item {item}: laboratory '{lab}' is not in the register of accredited \
             laboratories. Check the LabId, or use a report from an accredited laboratory."
        ),
    )
}

pub fn lab_not_active(item: u16, lab: &str, status: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ห้องปฏิบัติการ {lab} มีสถานะการรับรอง {status} \
             จึงใช้รายงานผลการทดสอบจากห้องปฏิบัติการนี้ไม่ได้ กรุณาใช้รายงานจากห้องปฏิบัติการอื่นที่ได้รับการรับรอง"
        ),
        format!(
            "Goods item {item}: laboratory {lab} has accreditation status {status}, so its test \
             reports are not accepted. Use a report from another accredited laboratory."
        ),
    )
}

pub fn lab_out_of_scope(item: u16, lab: &str, standard: &StandardRef, scope: &[String]) -> Text {
    let (th_l, en_l) = list(scope, "ไม่มี", "none");
    t(
        format!(
            "รายการสินค้าที่ {item}: ห้องปฏิบัติการ {lab} ไม่ได้รับการรับรองสำหรับ {standard} \
             (ขอบข่ายการรับรอง: {th_l}) กรุณาใช้รายงานจากห้องปฏิบัติการที่ได้รับการรับรองสำหรับมาตรฐานนี้"
        ),
        format!(
            "Goods item {item}: laboratory {lab} is not accredited for {standard} (its scope: \
             {en_l}). Use a report from a laboratory accredited for this standard."
        ),
    )
}

pub fn lab_not_accredited_on(
    item: u16,
    lab: &str,
    issued: NaiveDate,
    from: NaiveDate,
    until: Option<NaiveDate>,
) -> Text {
    let (u_th, u_en) = until_text(until);
    t(
        format!(
            "รายการสินค้าที่ {item}: รายงานผลการทดสอบออกเมื่อ {issued} แต่ห้องปฏิบัติการ {lab} \
             ได้รับการรับรองตั้งแต่ {from} ถึง {u_th} กรุณาใช้รายงานที่ออกในช่วงที่ได้รับการรับรอง"
        ),
        format!(
            "Goods item {item}: the test report was issued on {issued}, but laboratory {lab} is \
             accredited from {from} to {u_en}. Use a report issued while the laboratory was accredited."
        ),
    )
}

pub fn officer_review(item: u16, code: &str) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: การนำเข้ากรณีพิเศษวัตถุประสงค์ {code} ต้องให้เจ้าหน้าที่ สมอ. พิจารณา \
             จะแจ้งผลการพิจารณาให้ทราบ ไม่ต้องดำเนินการใดเว้นแต่เจ้าหน้าที่ขอเอกสารเพิ่มเติม"
        ),
        format!(
            "Goods item {item}: special imports for purpose {code} are reviewed by a TISI officer. \
             The decision will follow; nothing to do unless the officer asks for documents."
        ),
    )
}

pub fn inspection_selected(item: u16, standard: &StandardRef, rate: u8) -> Text {
    t(
        format!(
            "รายการสินค้าที่ {item}: ได้รับการสุ่มเลือกให้ตรวจสอบ ณ ด่านนำเข้า (มาตรฐาน {standard} \
             อัตราการสุ่มตรวจ {rate}%) กรุณาเตรียมสินค้าให้พร้อมตรวจ สินค้าจะได้รับการปล่อยเมื่อผ่านการตรวจ"
        ),
        format!(
            "Goods item {item}: selected for inspection at the port (standard {standard}, \
             inspection rate {rate}%). Make the goods available for inspection; they are released \
             once it is passed."
        ),
    )
}

// ---- Customs matching (spec §3.3) ---------------------------------------------------------

pub fn permit_not_found(line: u16, permit: &str) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: ไม่พบใบอนุญาตนำเข้าเลขที่ {permit} ที่ สมอ. ออกให้ \
             กรุณาตรวจสอบเลขที่ใบอนุญาตในใบขนสินค้า"
        ),
        format!(
            "Line {line}: no permit {permit} was issued by TISI. Check the permit number on the \
             declaration."
        ),
    )
}

pub fn permit_not_valid(line: u16, permit: &str, state: &str, since: Option<NaiveDate>) -> Text {
    let (th_since, en_since) = match since {
        Some(d) => (format!(" ตั้งแต่วันที่ {d}"), format!(" since {d}")),
        None => (String::new(), String::new()),
    };
    t(
        format!(
            "บรรทัดที่ {line}: ใบอนุญาตนำเข้า {permit} มีสถานะ {state}{th_since} จึงใช้ตัดบัญชีไม่ได้ \
             ผู้นำเข้าต้องยื่นขอใบอนุญาตนำเข้าใหม่"
        ),
        format!(
            "Line {line}: permit {permit} is {state}{en_since} and cannot be used. The importer \
             must obtain a new permit."
        ),
    )
}

pub fn item_not_on_permit(
    line: u16,
    permit: &str,
    invoice_item: u16,
    on_permit: &[String],
) -> Text {
    let (th_l, en_l) = list(on_permit, "ไม่มี", "none");
    t(
        format!(
            "บรรทัดที่ {line}: ใบอนุญาต {permit} ไม่มีรายการตามบัญชีราคาสินค้าลำดับที่ {invoice_item} \
             (ลำดับที่มีในใบอนุญาต: {th_l}) กรุณาแก้ไขลำดับรายการในใบขนสินค้า"
        ),
        format!(
            "Line {line}: permit {permit} has no invoice item {invoice_item} (items on the permit: \
             {en_l}). Correct the invoice item number on the declaration."
        ),
    )
}

pub fn item_not_approved(line: u16, permit: &str, invoice_item: u16, status: &str) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: รายการที่ {invoice_item} ของใบอนุญาต {permit} มีสถานะ {status} \
             ไม่มีปริมาณที่อนุญาตให้ตัดบัญชี"
        ),
        format!(
            "Line {line}: invoice item {invoice_item} of permit {permit} has status {status}; \
             there is no approved quantity to write off."
        ),
    )
}

/// A Customs matching field that differs from the permit.
pub fn field_mismatch(
    line: u16,
    what: Label,
    declared: &str,
    on_permit: &str,
    permit: &str,
) -> Text {
    let (field_th, field_en) = (what.th(), what.en());
    t(
        format!(
            "บรรทัดที่ {line}: {field_th} ในใบขนสินค้าคือ '{declared}' แต่ในใบอนุญาต {permit} คือ '{on_permit}' \
             กรุณาแก้ไขใบขนสินค้าให้ตรงกับใบอนุญาต"
        ),
        format!(
            "Line {line}: the declaration gives {field_en} '{declared}' but permit {permit} has \
             '{on_permit}'. Correct the declaration to match the permit."
        ),
    )
}

pub fn discharge_port_not_thai(line: u16, port: &str) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: ท่าปลายทาง {port} ไม่อยู่ในประเทศไทย ประเทศปลายทางต้องเป็น TH \
             กรุณาแก้ไขท่าปลายทางในใบขนสินค้า"
        ),
        format!(
            "Line {line}: discharge port {port} is not in Thailand, but the country of destination \
             must be TH. Correct the discharge port on the declaration."
        ),
    )
}

pub fn importer_mismatch(declared: &PartyKey, holder: &PartyKey, permit: &str) -> Text {
    t(
        format!(
            "ผู้นำเข้าในใบขนสินค้า {declared} ไม่ใช่ผู้ถือใบอนุญาต {permit} ({holder}) \
             ใบอนุญาตนำเข้าใช้ได้เฉพาะผู้นำเข้าที่ได้รับอนุญาต"
        ),
        format!(
            "The declaration's importer {declared} is not the holder of permit {permit} \
             ({holder}); a permit can only be used by its holder."
        ),
    )
}

pub fn unit_mismatch(line: u16, declared: &str, on_permit: &str, permit: &str) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: หน่วยปริมาณ {declared} ไม่ตรงกับหน่วยในใบอนุญาต {permit} ({on_permit}) \
             กรุณาแจ้งปริมาณในหน่วย {on_permit}"
        ),
        format!(
            "Line {line}: quantity unit {declared} differs from the unit on permit {permit} \
             ({on_permit}). Declare the quantity in {on_permit}."
        ),
    )
}

pub fn arrival_outside_validity(
    arrival: NaiveDate,
    effective: NaiveDate,
    expiry: NaiveDate,
    permit: &str,
) -> Text {
    t(
        format!(
            "วันที่นำเข้า {arrival} อยู่นอกช่วงอายุของใบอนุญาต {permit} ({effective} ถึง {expiry}) \
             ผู้นำเข้าต้องขอใบอนุญาตนำเข้าใหม่สำหรับวันที่นำเข้านี้"
        ),
        format!(
            "Arrival date {arrival} is outside the validity of permit {permit} ({effective} to \
             {expiry}). The importer needs a new permit for this arrival date."
        ),
    )
}

pub fn quantity_exceeded(
    line: u16,
    declared: Amount,
    remaining: Amount,
    unit: &str,
    permit: &str,
) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: ปริมาณ {declared} {unit} เกินปริมาณคงเหลือของใบอนุญาต {permit} \
             ซึ่งเหลือ {remaining} {unit} กรุณาแก้ไขปริมาณหรือขอใบอนุญาตเพิ่ม"
        ),
        format!(
            "Line {line}: quantity {declared} {unit} is more than the {remaining} {unit} remaining \
             on permit {permit}. Correct the quantity or obtain a further permit."
        ),
    )
}

pub fn awaiting_inspection(line: u16, permit: &str, invoice_item: u16) -> Text {
    t(
        format!(
            "บรรทัดที่ {line}: รายการที่ {invoice_item} ของใบอนุญาต {permit} รอการตรวจสอบ ณ ด่านนำเข้า \
             จะตัดบัญชีได้เมื่อเจ้าหน้าที่ปล่อยสินค้าแล้ว"
        ),
        format!(
            "Line {line}: invoice item {invoice_item} of permit {permit} is held for inspection at \
             the port; it can be written off once an officer releases it."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str], expected_en: &str) {
        let (th, en) = list(names.iter().copied(), "ไม่มี", "none");
        assert_eq!(en, expected_en);
        assert_eq!(th.strip_suffix(" รายการ").is_some(), en.contains(" more"));
    }

    fn names(n: usize, width: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:0width$}")).collect()
    }

    #[test]
    fn lists() {
        check(&[], "none");
        check(&["ACME"], "ACME");
        check(&["ACME", "Bolt", "Cray"], "ACME, Bolt, Cray");
        let forty = names(40, 8);
        let refs: Vec<&str> = forty.iter().map(String::as_str).collect();
        // 8 characters and ", ": 24 names fit in 240 characters.
        let shown = refs[..24].join(", ");
        check(&refs, &format!("{shown} and 16 more"));
        let long = "M".repeat(300);
        check(&[&long, "B"], &format!("{}… and 1 more", "M".repeat(239)));
        let (th, _) = list(refs, "", "");
        assert!(th.ends_with(" และอีก 16 รายการ"), "{th}");
    }

    /// The longest lists the reference data can hold still give texts that the response
    /// schema takes (1,000 characters at most).
    #[test]
    fn long_lists_stay_within_a_reason_text() {
        let many = names(500, 30);
        let standard = StandardRef::parse("TIS 60335 Part 2(3)-2567").unwrap();
        let hs = HsCode::parse("85044090001").unwrap();
        let given = "G".repeat(70);
        let texts = [
            licence_product_mismatch(999, &given, Label::Model, &given, &many),
            lab_out_of_scope(999, &given, &standard, &many),
            standard_hs_mismatch(999, &hs, &standard, &many, &many),
            special_purpose_missing(999, &many),
        ];
        for text in texts {
            for s in [&text.th, &text.en] {
                let n = s.chars().count();
                assert!(n <= 1000, "{n} characters: {s}");
            }
        }
    }
}
