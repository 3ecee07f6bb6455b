//! The machine-readable report: the [`RunReport`]s of one invocation as JSON,
//! as `docs/run-report.schema.json` describes it. `SCHEMA_VERSION` changes
//! when a field changes meaning or goes away; new fields may appear without it.

use serde::Serialize;

use super::RunReport;

/// The version of `docs/run-report.schema.json` the output follows.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Output<'a> {
    schema_version: u32,
    runs: &'a [RunReport],
}

pub fn render(reports: &[RunReport]) -> String {
    let output = Output {
        schema_version: SCHEMA_VERSION,
        runs: reports,
    };
    serde_json::to_string_pretty(&output).expect("reports serialize")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::assert::AssertionResult;
    use crate::report::{DumpReport, PhaseTime, Warning};
    use crate::source::{Compression, DumpFormat};
    use crate::vocab::{EngineKind, KeptRestore, Phase, Secret, Verdict, WarningKind};

    const SCHEMA: &str = include_str!("../../docs/run-report.schema.json");

    fn schema() -> Value {
        serde_json::from_str(SCHEMA).expect("the schema is JSON")
    }

    /// A report with every field that can be filled, filled.
    fn full_report() -> RunReport {
        let at = "2026-11-24T12:00:00Z".parse().unwrap();
        let mut r = RunReport::begun(
            "20261124T120000Z-3f2a".into(),
            "shop",
            EngineKind::Postgres,
            "postgres:16",
            "/dumps".into(),
            at,
        );
        r.verdict = Verdict::Fail;
        r.reason = Some("1 of 1 assertions failed".into());
        r.dump = Some(DumpReport {
            sha256: Some("ab".into()),
            compression: Some(Compression::Gzip),
            format: Some(DumpFormat::PostgresPlain),
            dumped_by: Some("pg_dump 16.4".into()),
            uncompressed_size: Some(10),
            databases: vec!["shop".into()],
            ..DumpReport::found("/dumps/shop.sql.gz".into(), 5, at)
        });
        r.phases = vec![PhaseTime {
            name: Phase::LockLogins,
            started_at: at,
            finished_at: at,
        }];
        r.assertions = vec![AssertionResult {
            kind: "row_count".into(),
            subject: "public.orders".into(),
            passed: false,
            expected: ">= 5".into(),
            observed: "3".into(),
            note: Some("first run".into()),
        }];
        r.tables = [("public.orders".to_string(), 3)].into();
        r.tool_output = vec!["ERROR: x".into()];
        r.kept = Some(KeptRestore {
            job: "shop".into(),
            run_id: "20261123T120000Z-0001".into(),
            container: "restoredrill-shop-kept".into(),
            volume: Some("v".into()),
            host: "127.0.0.1".into(),
            port: 15432,
            user: "postgres".into(),
            database: "shop".into(),
            password: Secret::new("pw"),
            promoted_at: at,
            engine: EngineKind::Postgres,
        });
        r.warnings = vec![Warning {
            kind: WarningKind::DumpShrunk,
            message: "smaller".into(),
        }];
        r
    }

    /// Whether `v` fits `s`, for the keywords the schema uses; the path of
    /// the first misfit.
    fn misfit(v: &Value, s: &Value, root: &Value, at: &str) -> Option<String> {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            return misfit(v, &root["$defs"][name], root, at);
        }
        if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
            let fits = options.iter().any(|o| misfit(v, o, root, at).is_none());
            return (!fits).then(|| format!("{at}: no oneOf fits {v}"));
        }
        if let Some(c) = s.get("const") {
            return (v != c).then(|| format!("{at}: {v} is not {c}"));
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return (!e.contains(v)).then(|| format!("{at}: {v} is not one of {e:?}"));
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let kind = match v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            if !types.contains(&kind) {
                return Some(format!("{at}: {kind} is not {types:?}"));
            }
        }
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| misfit(item, &s["items"], root, &format!("{at}[{i}]"))),
            Value::Object(fields) => {
                let props = s.get("properties").and_then(Value::as_object);
                let required = s.get("required").and_then(Value::as_array);
                for name in required.into_iter().flatten().filter_map(Value::as_str) {
                    if !fields.contains_key(name) {
                        return Some(format!("{at}.{name}: required, missing"));
                    }
                }
                fields.iter().find_map(|(k, fv)| {
                    let path = format!("{at}.{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(ps) => misfit(fv, ps, root, &path),
                        None => match s.get("additionalProperties") {
                            Some(Value::Bool(false)) => Some(format!("{path}: not in the schema")),
                            Some(extra @ Value::Object(_)) => misfit(fv, extra, root, &path),
                            _ => None,
                        },
                    }
                })
            }
            _ => None,
        }
    }

    #[test]
    fn the_output_fits_its_published_schema() {
        let root = schema();
        let bare = RunReport::begun(
            "r".into(),
            "j",
            EngineKind::Mariadb,
            "mariadb:10.11",
            "/d".into(),
            chrono::Utc::now(),
        );
        for reports in [vec![full_report()], vec![bare], vec![]] {
            let out: Value = serde_json::from_str(&render(&reports)).unwrap();
            assert_eq!(out["schema_version"], json!(SCHEMA_VERSION));
            assert_eq!(misfit(&out, &root, &root, "$"), None);
        }
    }

    #[test]
    fn the_schema_names_every_word_of_the_run() {
        let root = schema();
        let words = |def: &str, field: &str| -> Vec<Value> {
            root["$defs"][def]["properties"][field]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| !v.is_null())
                .cloned()
                .collect()
        };
        let texts = |all: Vec<&str>| all.into_iter().map(|t| json!(t)).collect::<Vec<_>>();
        assert_eq!(
            words("run", "verdict"),
            texts(Verdict::ALL.iter().map(|v| v.as_str()).collect())
        );
        assert_eq!(
            words("phase", "name"),
            texts(Phase::ALL.iter().map(|v| v.as_str()).collect())
        );
        assert_eq!(
            words("warning", "kind"),
            texts(WarningKind::ALL.iter().map(|v| v.as_str()).collect())
        );
        assert_eq!(
            words("run", "engine"),
            texts(EngineKind::ALL.iter().map(|v| v.as_str()).collect())
        );
    }

    #[test]
    fn a_field_the_schema_does_not_know_is_caught() {
        let root = schema();
        let mut out: Value = serde_json::from_str(&render(&[full_report()])).unwrap();
        out["runs"][0]["surprise"] = json!(1);
        assert!(
            misfit(&out, &root, &root, "$")
                .unwrap()
                .contains("surprise")
        );
        out["runs"][0].as_object_mut().unwrap().remove("surprise");
        out["runs"][0]["verdict"] = json!("passed");
        assert!(misfit(&out, &root, &root, "$").is_some());
    }
}
