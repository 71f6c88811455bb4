//! Word pools for realistic names, titles and descriptions. Everything generated picks from these
//! with a seeded RNG or a hash of a seed, so output is deterministic.

/// Product types under compulsory standards: (English, Thai).
pub const PRODUCTS: &[(&str, &str)] = &[
    ("Electric kettles", "กาต้มน้ำไฟฟ้า"),
    ("Electric fans", "พัดลมไฟฟ้า"),
    ("Steel bars for reinforced concrete", "เหล็กเส้นเสริมคอนกรีต"),
    ("Pneumatic tyres for passenger cars", "ยางล้อแบบอัดลมสำหรับรถยนต์นั่ง"),
    ("Protective helmets for motorcyclists", "หมวกนิรภัยสำหรับผู้ขับขี่รถจักรยานยนต์"),
    ("Self-ballasted LED lamps", "หลอดไฟแอลอีดีที่มีบัลลาสต์ในตัว"),
    ("Household rice cookers", "หม้อหุงข้าวไฟฟ้าสำหรับใช้ในครัวเรือน"),
    ("Plugs and socket-outlets", "เต้าเสียบและเต้ารับ"),
    ("Unplasticized PVC pipes", "ท่อพีวีซีแข็ง"),
    ("Toys", "ของเล่น"),
    ("Electric irons", "เตารีดไฟฟ้า"),
    ("Microwave ovens", "เตาอบไมโครเวฟ"),
    ("Instantaneous water heaters", "เครื่องทำน้ำอุ่นไฟฟ้า"),
    ("Portable power banks", "แบตเตอรี่สำรองแบบพกพา"),
    ("Miniature circuit breakers", "เซอร์กิตเบรกเกอร์ขนาดเล็ก"),
    ("Portland cement", "ปูนซีเมนต์ปอร์ตแลนด์"),
    ("Liquefied petroleum gas cylinders", "ถังก๊าซปิโตรเลียมเหลว"),
    ("Ceramic tiles", "กระเบื้องเซรามิก"),
    ("Vitreous china sanitary ware", "สุขภัณฑ์เซรามิก"),
    ("Room air conditioners", "เครื่องปรับอากาศสำหรับห้อง"),
    ("Household refrigerators", "ตู้เย็นสำหรับใช้ในที่อยู่อาศัย"),
    ("Household washing machines", "เครื่องซักผ้าสำหรับใช้ในที่อยู่อาศัย"),
    ("PVC insulated cables", "สายไฟฟ้าหุ้มฉนวนพีวีซี"),
    ("Feeding bottles for infants", "ขวดนมสำหรับทารก"),
    ("Hair dryers", "เครื่องเป่าผม"),
    ("Vacuum cleaners", "เครื่องดูดฝุ่น"),
    ("Lead-acid starter batteries", "แบตเตอรี่ตะกั่วกรดสำหรับสตาร์ต"),
    ("Motorcycle tyres", "ยางล้อรถจักรยานยนต์"),
    ("Galvanized steel wire", "ลวดเหล็กกล้าเคลือบสังกะสี"),
    ("Aluminium cooking utensils", "ภาชนะหุงต้มอะลูมิเนียม"),
    ("Photovoltaic modules", "แผงเซลล์แสงอาทิตย์"),
    ("Safety glass for vehicles", "กระจกนิรภัยสำหรับรถยนต์"),
    ("Electric blankets", "ผ้าห่มไฟฟ้า"),
    ("Induction cookers", "เตาแม่เหล็กไฟฟ้า"),
    ("Extension cords", "ชุดสายพ่วง"),
    ("Cold-rolled steel sheets", "เหล็กแผ่นรีดเย็น"),
];

/// Thai syllables for company names.
pub const THAI_NAME_A: &[&str] = &[
    "สยาม", "ไทย", "รุ่งเรือง", "เจริญ", "ศรี", "มหา", "สุข", "ทอง", "ชัย", "บูรพา", "อุดม",
    "กรุงเทพ", "ล้านนา", "อันดามัน", "เอเชีย", "นครา", "พัฒนา", "มั่นคง", "วัฒนา", "ประเสริฐ",
];
pub const THAI_NAME_B: &[&str] = &[
    "เทรดดิ้ง", "อิมพอร์ต", "อินเตอร์", "เทค", "อิเล็กทริก", "ซัพพลาย", "โฮลดิ้ง", "กรุ๊ป",
    "พาณิชย์", "การค้า", "อุตสาหกรรม", "เอ็นจิเนียริ่ง", "โลจิสติกส์", "มาร์เก็ตติ้ง", "ดิสทริบิวชั่น",
];
pub const THAI_NAME_C: &[&str] = &[
    "", " 1999", " ไทยแลนด์", " เอ็กซ์เพรส", " อินดัสตรี", " แอนด์ ซันส์", " พลัส", " โกลบอล",
];
pub const EN_NAME_A: &[&str] = &[
    "Siam", "Thai", "Rungruang", "Charoen", "Sri", "Maha", "Suk", "Thong", "Chai", "Burapha",
    "Udom", "Krungthep", "Lanna", "Andaman", "Asia", "Nakhara", "Phatthana", "Mankhong",
    "Watthana", "Prasert",
];
pub const EN_NAME_B: &[&str] = &[
    "Trading", "Import", "Inter", "Tech", "Electric", "Supply", "Holding", "Group", "Commercial",
    "Commerce", "Industry", "Engineering", "Logistics", "Marketing", "Distribution",
];

pub const BRANDS: &[&str] = &[
    "Sakura", "Lotus", "Orchid", "Naga", "Garuda", "Kirin", "Phoenix", "Atlas", "Zenith",
    "Nova", "Polaris", "Aurora", "Titan", "Vega", "Orion", "Maple", "Cedar", "Falcon", "Comet",
    "Delta", "Sigma", "Apex", "Vertex", "Pulse", "Quanta", "Helio", "Terra", "Aqua", "Ignis",
    "Volta", "Ampere", "Kelvin", "Tesla-Line", "Hikari", "Mirai", "Hanok", "Lumen", "Brava",
    "Forte", "Solis",
];

pub const MFR_PLACES: &[(&str, &str)] = &[
    ("Guangdong", "CN"),
    ("Zhejiang", "CN"),
    ("Shenzhen", "CN"),
    ("Ningbo", "CN"),
    ("Osaka", "JP"),
    ("Nagoya", "JP"),
    ("Busan", "KR"),
    ("Incheon", "KR"),
    ("Hanoi", "VN"),
    ("Binh Duong", "VN"),
    ("Penang", "MY"),
    ("Selangor", "MY"),
    ("Batam", "ID"),
    ("Taichung", "TW"),
    ("Stuttgart", "DE"),
    ("Milano", "IT"),
    ("Ohio", "US"),
    ("Pune", "IN"),
];
pub const MFR_WORDS: &[&str] = &[
    "Sunrise", "Golden Star", "Evergreen", "Great Wall", "Bright", "Unity", "Pacific",
    "Harmony", "Prime", "Grand", "Fortune", "Precision", "Oriental", "Eastern", "Summit",
];
pub const MFR_KINDS: &[&str] = &[
    "Electric Appliance Co., Ltd.",
    "Industrial Co., Ltd.",
    "Manufacturing Co., Ltd.",
    "Electronics Corporation",
    "Steel Works Ltd.",
    "Rubber Industry Co., Ltd.",
    "Technology GmbH",
    "Products S.p.A.",
];

/// HS chapters used for products under compulsory standards.
pub const CONTROLLED_CHAPTERS: &[&str] = &[
    "84", "85", "39", "40", "73", "87", "94", "95", "69", "70", "76", "83", "90", "96", "72",
    "25",
];
/// HS chapters that no generated standard covers (goods that need no TISI permit).
pub const FREE_CHAPTERS: &[&str] = &["09", "61", "62", "64", "42", "48", "49", "71", "33"];

/// Descriptions for goods that need no permit: (English, Thai).
pub const FREE_GOODS: &[(&str, &str)] = &[
    ("Roasted coffee beans", "เมล็ดกาแฟคั่ว"),
    ("Cotton T-shirts", "เสื้อยืดผ้าฝ้าย"),
    ("Leather handbags", "กระเป๋าถือหนัง"),
    ("Printed books", "หนังสือสิ่งพิมพ์"),
    ("Sports shoes", "รองเท้ากีฬา"),
    ("Notebooks of paper", "สมุดกระดาษ"),
    ("Perfume", "น้ำหอม"),
    ("Silver jewellery", "เครื่องประดับเงิน"),
];

pub const LAB_NAMES: &[(&str, &str)] = &[
    ("Electrical and Electronics Institute test laboratory", "ห้องปฏิบัติการทดสอบ สถาบันไฟฟ้าและอิเล็กทรอนิกส์"),
    ("Thailand Institute of Scientific and Technological Research", "สถาบันวิจัยวิทยาศาสตร์และเทคโนโลยีแห่งประเทศไทย"),
    ("Iron and Steel Institute of Thailand laboratory", "ห้องปฏิบัติการ สถาบันเหล็กและเหล็กกล้าแห่งประเทศไทย"),
    ("Rubber testing centre", "ศูนย์ทดสอบยาง"),
    ("Polymer testing centre", "ศูนย์ทดสอบพอลิเมอร์"),
    ("Automotive testing centre", "ศูนย์ทดสอบยานยนต์"),
    ("Toy safety laboratory", "ห้องปฏิบัติการความปลอดภัยของเล่น"),
    ("Construction materials laboratory", "ห้องปฏิบัติการวัสดุก่อสร้าง"),
    ("Household appliance laboratory", "ห้องปฏิบัติการเครื่องใช้ไฟฟ้าในบ้าน"),
    ("Lighting products laboratory", "ห้องปฏิบัติการผลิตภัณฑ์แสงสว่าง"),
    ("Energy storage laboratory", "ห้องปฏิบัติการระบบกักเก็บพลังงาน"),
    ("Overseas partner laboratory Shenzhen", "ห้องปฏิบัติการคู่ความร่วมมือ เซินเจิ้น"),
];

pub const PORTS_LOAD: &[&str] = &[
    "CNSHA", "CNSZX", "CNNGB", "JPTYO", "JPOSA", "KRPUS", "VNSGN", "VNHPH", "MYPKG", "IDJKT",
    "TWKHH", "DEHAM", "ITGOA", "USLAX", "INNSA", "SGSIN",
];
pub const PORTS_DISCHARGE: &[&str] = &["THBKK", "THLCH", "THSGZ", "THBKK", "THLCH"];
