//! The machine-readable report: the [`RunReport`]s of one invocation as JSON.

use serde::Serialize;

use super::RunReport;

#[derive(Serialize)]
struct Output<'a> {
    runs: &'a [RunReport],
}

pub fn render(reports: &[RunReport]) -> String {
    serde_json::to_string_pretty(&Output { runs: reports }).expect("reports serialize")
}
