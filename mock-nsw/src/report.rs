//! Results of a load run: latency distribution (HDR histogram, microsecond resolution),
//! throughput, errors by kind, and a per-second series; rendered as JSON, Markdown and an SVG
//! chart of latency percentiles over time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Why a request counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No HTTP answer: connection refused or dropped, timeout, unreadable body.
    Transport,
    /// An HTTP status other than the one expected.
    HttpStatus,
    /// An ebMS error (`eb:ErrorList`) or SOAP fault where a business answer was expected.
    EbmsError,
    /// A business answer that differs from what the contract requires for this request.
    WrongDecision,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Transport,
        ErrorKind::HttpStatus,
        ErrorKind::EbmsError,
        ErrorKind::WrongDecision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Transport => "transport",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::EbmsError => "ebms_error",
            ErrorKind::WrongDecision => "wrong_decision",
        }
    }
}

/// One failed request: its kind and a readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Highest latency the histograms track: one hour, in microseconds.
const MAX_US: u64 = 3_600_000_000;
/// How many example details are kept per error kind.
const EXAMPLES: usize = 5;
/// Longest run the per-second series covers.
const MAX_SECONDS: usize = 24 * 3600;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Accumulates samples during a run.
#[derive(Debug, Clone)]
pub struct Recorder {
    all: Histogram<u64>,
    per_second: Vec<(Histogram<u64>, u64)>,
    ok: u64,
    errors: BTreeMap<ErrorKind, u64>,
    examples: BTreeMap<ErrorKind, Vec<String>>,
    statuses: BTreeMap<u16, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            all: histogram(),
            per_second: Vec::new(),
            ok: 0,
            errors: BTreeMap::new(),
            examples: BTreeMap::new(),
            statuses: BTreeMap::new(),
        }
    }

    /// Records one completed request: the second of the run it belongs to (by its intended send
    /// time), its latency, the HTTP status if any, and whether it failed.
    pub fn record(
        &mut self,
        second: usize,
        latency: Duration,
        status: Option<u16>,
        outcome: Result<(), Failure>,
    ) {
        let us = (latency.as_micros().min(u128::from(MAX_US)) as u64).max(1);
        self.all.saturating_record(us);
        let second = second.min(MAX_SECONDS);
        if self.per_second.len() <= second {
            self.per_second.resize_with(second + 1, || (histogram(), 0));
        }
        self.per_second[second].0.saturating_record(us);
        if let Some(s) = status {
            *self.statuses.entry(s).or_default() += 1;
        }
        match outcome {
            Ok(()) => self.ok += 1,
            Err(f) => {
                *self.errors.entry(f.kind).or_default() += 1;
                self.per_second[second].1 += 1;
                let ex = self.examples.entry(f.kind).or_default();
                if ex.len() < EXAMPLES {
                    ex.push(f.detail);
                }
            }
        }
    }

    pub fn completed(&self) -> u64 {
        self.all.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Latency at quantile `q` (0..=1), in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        self.all.value_at_quantile(q)
    }

    /// Builds the final report.
    pub fn finish(&self, run: RunInfo, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64();
        let completed = self.completed();
        Report {
            throughput_rps: if secs > 0.0 {
                completed as f64 / secs
            } else {
                0.0
            },
            elapsed_s: secs,
            completed,
            ok: self.ok,
            errors: self.error_count(),
            latency_us: Percentiles::of(&self.all),
            errors_by_kind: ErrorKind::ALL
                .iter()
                .map(|k| {
                    (
                        k.name().to_owned(),
                        self.errors.get(k).copied().unwrap_or(0),
                    )
                })
                .collect(),
            error_examples: self
                .examples
                .iter()
                .map(|(k, v)| (k.name().to_owned(), v.clone()))
                .collect(),
            http_statuses: self
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            per_second: self
                .per_second
                .iter()
                .enumerate()
                .map(|(s, (h, e))| SecondStats {
                    second: s as u64,
                    count: h.len(),
                    errors: *e,
                    p50_us: if h.is_empty() {
                        0
                    } else {
                        h.value_at_quantile(0.5)
                    },
                    p99_us: if h.is_empty() {
                        0
                    } else {
                        h.value_at_quantile(0.99)
                    },
                    max_us: h.max(),
                })
                .collect(),
            run,
        }
    }
}

/// What was run, for the report header.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunInfo {
    /// `open` or `closed`.
    pub mode: String,
    pub target: String,
    /// What was sent, e.g. `ImportPermitRequest`.
    pub kind: String,
    /// Open loop: requests per second asked for.
    pub rate: Option<f64>,
    /// Closed loop: concurrent connections.
    pub concurrency: Option<usize>,
    /// Requests the run was to send.
    pub planned: u64,
    /// Requests actually sent (fewer when the time bound cut the run short).
    pub sent: u64,
    pub started_at: String,
    /// How latency is measured.
    pub latency_from: String,
    /// How many requests were built before the clock started (`None`: each was built just
    /// before it was sent).
    pub built_ahead: Option<u64>,
    /// Whether the answers were kept and judged after the clock stopped (else each as it came).
    pub judged_after: bool,
    /// What each answer was checked for (whether decisions were judged at all).
    pub checks: String,
    /// CPU time mock-nsw itself used while the clock ran, all its threads together, in
    /// seconds (`None` where the system does not tell): what the load generator took from a
    /// machine it shares with the gateway.
    pub own_cpu_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                min: 0,
                mean: 0.0,
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                max: 0,
            };
        }
        Self {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecondStats {
    pub second: u64,
    pub count: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The report of one run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub run: RunInfo,
    pub elapsed_s: f64,
    pub completed: u64,
    pub ok: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    pub latency_us: Percentiles,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub error_examples: BTreeMap<String, Vec<String>>,
    pub http_statuses: BTreeMap<String, u64>,
    pub per_second: Vec<SecondStats>,
}

/// A chart line: its label, colour and value per second.
type Series = (
    &'static str,
    plotters::style::RGBColor,
    fn(&SecondStats) -> u64,
);

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    pub fn to_markdown(&self) -> String {
        let r = &self.run;
        let mut s = String::new();
        let _ = writeln!(s, "# Load report: {} against {}\n", r.kind, r.target);
        let _ = writeln!(s, "| run | |\n|---|---|");
        let _ = writeln!(s, "| started | {} |", r.started_at);
        let _ = writeln!(s, "| mode | {} loop |", r.mode);
        if let Some(rate) = r.rate {
            let _ = writeln!(s, "| target rate | {rate} req/s |");
        }
        if let Some(c) = r.concurrency {
            let _ = writeln!(s, "| concurrency | {c} |");
        }
        let _ = writeln!(
            s,
            "| planned / sent / completed | {} / {} / {} |",
            r.planned, r.sent, self.completed
        );
        let _ = writeln!(s, "| elapsed | {:.2} s |", self.elapsed_s);
        let _ = writeln!(s, "| throughput | {:.1} req/s |", self.throughput_rps);
        let _ = writeln!(s, "| ok / errors | {} / {} |", self.ok, self.errors);
        let _ = match r.built_ahead {
            Some(n) => writeln!(s, "| requests built | all {n} before the clock started |"),
            None => writeln!(s, "| requests built | each just before it was sent |"),
        };
        let _ = if r.judged_after {
            writeln!(s, "| answers judged | all after the clock stopped |")
        } else {
            writeln!(s, "| answers judged | each as it came |")
        };
        let _ = writeln!(s, "| each answer checked for | {} |", r.checks);
        if let Some(cpu) = r.own_cpu_s {
            let per = cpu * 1e6 / self.completed.max(1) as f64;
            let _ = writeln!(
                s,
                "| mock-nsw's own CPU while the clock ran | {cpu:.2} s, {per:.0} µs per answer |"
            );
        }
        let _ = writeln!(s, "| latency measured from | {} |\n", r.latency_from);
        let l = &self.latency_us;
        let _ = writeln!(s, "## Latency (ms)\n");
        let _ = writeln!(
            s,
            "| min | mean | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|"
        );
        let _ = writeln!(
            s,
            "| {} | {:.3} | {} | {} | {} | {} | {} |\n",
            ms(l.min),
            l.mean / 1000.0,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max)
        );
        let _ = writeln!(s, "## Errors by kind\n");
        let _ = writeln!(s, "| kind | count |\n|---|---|");
        for (k, v) in &self.errors_by_kind {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(s);
        if !self.http_statuses.is_empty() {
            let _ = writeln!(s, "## HTTP statuses\n");
            let _ = writeln!(s, "| status | count |\n|---|---|");
            for (k, v) in &self.http_statuses {
                let _ = writeln!(s, "| {k} | {v} |");
            }
            let _ = writeln!(s);
        }
        if !self.error_examples.is_empty() {
            let _ = writeln!(s, "## Error examples\n");
            for (k, v) in &self.error_examples {
                for e in v {
                    let _ = writeln!(s, "- `{k}`: {}", e.replace('\n', " "));
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "Latency over time: `latency.svg` (p50, p99 and max per second)."
        );
        s
    }

    /// Draws p50, p99 and max latency per second of the run as an SVG file.
    pub fn write_svg(&self, path: &Path) -> anyhow::Result<()> {
        use plotters::prelude::*;
        let pts = &self.per_second;
        let max_ms = pts.iter().map(|p| p.max_us).max().unwrap_or(0) as f64 / 1000.0;
        let y_top = (max_ms * 1.1).max(1.0);
        let x_top = (pts.len() as u64).max(1);
        let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!(
                        "{} latency per second ({} loop)",
                        self.run.kind, self.run.mode
                    ),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0u64..x_top, 0f64..y_top)?;
            chart
                .configure_mesh()
                .x_desc("second of the run")
                .y_desc("latency (ms)")
                .draw()?;
            let series: [Series; 3] = [
                ("p50", BLUE, |p| p.p50_us),
                ("p99", RGBColor(230, 120, 0), |p| p.p99_us),
                ("max", RED, |p| p.max_us),
            ];
            for (name, colour, f) in series {
                chart
                    .draw_series(LineSeries::new(
                        pts.iter()
                            .filter(|p| p.count > 0)
                            .map(|p| (p.second, f(p) as f64 / 1000.0)),
                        colour.stroke_width(2),
                    ))?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))
    }

    /// Writes `report.json`, `report.md` and `latency.svg` into `dir` (created if missing).
    pub fn write_all(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let p = dir.join("report.json");
        std::fs::write(&p, self.to_json()).with_context(|| format!("writing {}", p.display()))?;
        let p = dir.join("report.md");
        std::fs::write(&p, self.to_markdown())
            .with_context(|| format!("writing {}", p.display()))?;
        self.write_svg(&dir.join("latency.svg"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_info() -> RunInfo {
        RunInfo {
            mode: "open".into(),
            target: "http://127.0.0.1:8080/ebms".into(),
            kind: "ImportPermitRequest".into(),
            rate: Some(100.0),
            concurrency: None,
            planned: 1000,
            sent: 1000,
            started_at: "2026-11-26T07:00:00Z".into(),
            latency_from: "intended send time".into(),
            built_ahead: Some(1000),
            judged_after: true,
            checks: "the decision".into(),
            own_cpu_s: Some(0.05),
        }
    }

    /// 1..=1000 µs once each over ten seconds; every 250th a transport error (4), every other
    /// 100th a wrong decision (8).
    fn known() -> Recorder {
        let mut r = Recorder::new();
        for us in 1..=1000u64 {
            let outcome = if us % 250 == 0 {
                Err(Failure::new(ErrorKind::Transport, format!("reset at {us}")))
            } else if us % 100 == 0 {
                Err(Failure::new(
                    ErrorKind::WrongDecision,
                    "want APPROVED, got REJECTED",
                ))
            } else {
                Ok(())
            };
            let status = (us % 250 != 0).then_some(200);
            r.record(
                ((us - 1) / 100) as usize,
                Duration::from_micros(us),
                status,
                outcome,
            );
        }
        r
    }

    #[test]
    fn percentiles_of_a_known_histogram() {
        let rep = known().finish(run_info(), Duration::from_secs(10));
        let check = |got: u64, want: u64, what: &str| assert_eq!(got, want, "{what}");
        let l = rep.latency_us;
        check(l.min, 1, "min");
        check(l.p50, 500, "p50");
        check(l.p90, 900, "p90");
        check(l.p99, 990, "p99");
        check(l.p999, 999, "p99.9");
        check(l.max, 1000, "max");
        assert!((l.mean - 500.5).abs() < 0.01, "mean {}", l.mean);
        assert_eq!(rep.completed, 1000);
        assert_eq!(rep.errors, 12);
        assert_eq!(rep.ok, 988);
        assert!((rep.throughput_rps - 100.0).abs() < 1e-9);
        assert_eq!(rep.errors_by_kind["transport"], 4);
        assert_eq!(rep.errors_by_kind["wrong_decision"], 8);
        assert_eq!(rep.errors_by_kind["ebms_error"], 0);
        assert_eq!(rep.http_statuses["200"], 996);
        assert_eq!(rep.error_examples["transport"].len(), 4);
        assert_eq!(rep.error_examples["wrong_decision"].len(), EXAMPLES);
        assert_eq!(rep.per_second.len(), 10);
        let s3 = &rep.per_second[3];
        assert_eq!((s3.count, s3.p50_us, s3.max_us), (100, 350, 400));
        assert_eq!(s3.errors, 1, "301..=400 holds one wrong decision (400)");
    }

    #[test]
    fn huge_and_zero_latencies_are_clamped_not_lost() {
        let mut r = Recorder::new();
        r.record(0, Duration::ZERO, None, Ok(()));
        r.record(0, Duration::from_secs(100_000), None, Ok(()));
        assert_eq!(r.completed(), 2);
        assert_eq!(r.quantile_us(0.0), 1);
        assert!(r.quantile_us(1.0) >= MAX_US);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let rep = known().finish(run_info(), Duration::from_secs(10));
        let v: serde_json::Value = serde_json::from_str(&rep.to_json()).unwrap();
        for key in [
            "run",
            "elapsed_s",
            "completed",
            "ok",
            "errors",
            "throughput_rps",
            "latency_us",
            "errors_by_kind",
            "error_examples",
            "http_statuses",
            "per_second",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        for key in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
            assert!(
                v["latency_us"].get(key).is_some(),
                "missing latency_us.{key}"
            );
        }
        assert_eq!(v["latency_us"]["p99"], 990);
        assert_eq!(v["run"]["mode"], "open");
        assert_eq!(v["per_second"][3]["count"], 100);
    }

    #[test]
    fn markdown_has_the_tables() {
        let md = known()
            .finish(run_info(), Duration::from_secs(10))
            .to_markdown();
        for want in [
            "# Load report: ImportPermitRequest against http://127.0.0.1:8080/ebms",
            "| min | mean | p50 | p90 | p99 | p99.9 | max |",
            "| 0.001 | 0.500 | 0.500 | 0.900 | 0.990 | 0.999 | 1.000 |",
            "| transport | 4 |",
            "| wrong_decision | 8 |",
            "| each answer checked for | the decision |",
            "| 200 | 996 |",
            "- `transport`: reset at 250",
            "| throughput | 100.0 req/s |",
            "| requests built | all 1000 before the clock started |",
            "| answers judged | all after the clock stopped |",
            "| mock-nsw's own CPU while the clock ran | 0.05 s, 50 µs per answer |",
        ] {
            assert!(md.contains(want), "markdown lacks {want:?}:\n{md}");
        }
    }

    #[test]
    fn chart_file_is_an_svg_with_three_series() {
        let dir = tempfile::tempdir().unwrap();
        let rep = known().finish(run_info(), Duration::from_secs(10));
        rep.write_all(dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("latency.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for label in ["p50", "p99", "max", "latency (ms)"] {
            assert!(svg.contains(label), "chart lacks {label}");
        }
        assert!(svg.matches("<polyline").count() >= 3);
        assert!(dir.path().join("report.json").exists());
        assert!(dir.path().join("report.md").exists());
    }

    #[test]
    fn an_empty_run_still_reports() {
        let dir = tempfile::tempdir().unwrap();
        let rep = Recorder::new().finish(run_info(), Duration::ZERO);
        assert_eq!(rep.latency_us.p99, 0);
        assert_eq!(rep.throughput_rps, 0.0);
        rep.write_all(dir.path()).unwrap();
    }
}
