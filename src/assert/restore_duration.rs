//! `restore_duration: {max: 30m}`: loading the dump fits a time budget — the
//! recovery time you would actually get.

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, HumanDuration, fmt_duration};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreDuration {
    pub max: HumanDuration,
}

impl RestoreDuration {
    pub(crate) fn check(&self, ev: &Evidence<'_>) -> AssertionResult {
        let took = ev.load_duration;
        AssertionResult::new(
            "restore_duration",
            crate::vocab::Phase::Load.as_str(),
            took <= self.max.0,
        )
        .expected(format!("<= {}", fmt_duration(self.max.0)))
        .observed(format!("{:.1}s", took.as_secs_f64()))
    }
}
