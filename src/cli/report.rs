//! `report`: prints the evidence report of a run from the history, as text
//! or JSON. It opens the history read-only, so it works beside a running
//! daemon.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::report::evidence::Evidence;
use crate::store::Store;

pub async fn report(path: &Path, run_id: &str, json: bool) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let store = Store::open_read_only(&config.state_dir).await?;
    let Some(run) = store.run(run_id).await? else {
        return Err(CliError::NoSuchRun {
            run_id: run_id.to_string(),
            state_dir: config.state_dir,
        });
    };
    let evidence = Evidence::of(&run);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&evidence).unwrap_or_default()
        );
    } else {
        print!("{}", evidence.render_text());
    }
    Ok(Outcome::Passed)
}
