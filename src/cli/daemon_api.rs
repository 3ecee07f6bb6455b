//! `trigger` and `reload`: ask the running daemon, over its API, to run a
//! job now or to re-read its config, and print its answer.

use std::path::Path;

use serde_json::Value;

use super::{CliError, Outcome, load};
use crate::http::client::Client;

pub async fn trigger(path: &Path, job: &str) -> Result<Outcome, CliError> {
    let client = Client::of(&load(path)?)?;
    print_answer(&client.trigger(job).await?)
}

pub async fn reload(path: &Path) -> Result<Outcome, CliError> {
    let client = Client::of(&load(path)?)?;
    print_answer(&client.reload().await?)
}

fn print_answer(answer: &Value) -> Result<Outcome, CliError> {
    println!(
        "{}",
        serde_json::to_string_pretty(answer).unwrap_or_default()
    );
    Ok(Outcome::Passed)
}
