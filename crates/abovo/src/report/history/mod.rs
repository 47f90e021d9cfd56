//! The reports of `abovo seeds --against` and `abovo audit --against`, in
//! their three forms: [`text`], [`html`], and JSON (the comparison as it
//! serializes, with the guard's verdict).

pub mod html;
pub mod text;

use crate::output::{Context, Format, print_json, write_stdout};
use abovo_trust::history::{AuditComparison, FailOn, SeedsComparison, Violation};
use serde::Serialize;

/// The guard's verdict (`--fail-on`), in every form of a comparison.
#[derive(Debug, Serialize)]
pub struct Guard {
    /// What fails the guard.
    pub fail_on: FailOn,
    /// Whether it failed.
    pub failed: bool,
    /// What failed it.
    pub violations: Vec<Violation>,
}

impl Guard {
    /// The guard of `--fail-on` (none without it), judged by `violations`.
    pub fn new(
        fail_on: Option<FailOn>,
        violations: impl FnOnce(FailOn) -> Vec<Violation>,
    ) -> Option<Guard> {
        fail_on.map(|f| {
            let violations = violations(f);
            Guard {
                fail_on: f,
                failed: !violations.is_empty(),
                violations,
            }
        })
    }

    /// What the HTML form shows of it.
    fn html(&self) -> (&str, &[Violation]) {
        (self.fail_on.name(), &self.violations)
    }
}

/// The JSON form: the comparison with the guard's verdict.
#[derive(Serialize)]
struct WithGuard<'a, T: Serialize> {
    #[serde(flatten)]
    comparison: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard: Option<&'a Guard>,
}

/// A comparison the reports render: `seeds --against`'s or `audit
/// --against`'s.
pub trait Comparison: Serialize {
    /// The HTML form.
    fn html(&self, guard: Option<(&str, &[Violation])>) -> String;
    /// The text form.
    fn text(
        &self,
        guard: Option<&Guard>,
        all: bool,
        style: &dyn Fn(&str, &str) -> String,
    ) -> String;
}

impl Comparison for SeedsComparison {
    fn html(&self, guard: Option<(&str, &[Violation])>) -> String {
        html::seeds(self, guard)
    }
    fn text(
        &self,
        guard: Option<&Guard>,
        all: bool,
        style: &dyn Fn(&str, &str) -> String,
    ) -> String {
        text::seeds(self, guard, all, style)
    }
}

impl Comparison for AuditComparison {
    fn html(&self, guard: Option<(&str, &[Violation])>) -> String {
        html::audit(self, guard)
    }
    fn text(
        &self,
        guard: Option<&Guard>,
        all: bool,
        style: &dyn Fn(&str, &str) -> String,
    ) -> String {
        text::audit(self, guard, all, style)
    }
}

/// The JSON form as bytes, final newline included: what `--format json`
/// prints (`abovo serve` answers with it).
pub fn json<C: Comparison>(c: &C, guard: Option<&Guard>) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    crate::report::json::write(
        &mut out,
        &WithGuard {
            comparison: c,
            guard,
        },
    )?;
    out.push(b'\n');
    Ok(out)
}

/// Writes a comparison on standard output in `format`, with the guard's
/// verdict (text lists everything with `all`).
pub fn write<C: Comparison>(
    c: &C,
    guard: Option<&Guard>,
    format: Format,
    all: bool,
    ctx: &Context,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(&WithGuard {
            comparison: c,
            guard,
        })?,
        Format::Html => write_stdout(&c.html(guard.map(Guard::html)))?,
        _ => write_stdout(&c.text(guard, all, &|sgr, t| ctx.style(sgr, t)))?,
    }
    Ok(())
}
