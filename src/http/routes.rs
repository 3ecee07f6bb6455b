//! The paths the daemon serves, in one place: the router mounts them and the
//! CLI's client of the API calls them. Pages link to runs and jobs with
//! their own literal paths; these are the paths a route is registered on.

/// The status page: every job, failing ones first.
pub const STATUS: &str = "/";
/// A job's page: history, charts, "run now".
pub const JOB: &str = "/jobs/{name}";
/// The "run now" form of a job's page posts here.
pub const JOB_RUN_NOW: &str = "/jobs/{name}/run";
/// A run's page.
pub const RUN: &str = "/runs/{id}";
/// A run's printable evidence report.
pub const RUN_REPORT: &str = "/runs/{id}/report";
/// The "acknowledge" form of a failing run's page posts here.
pub const RUN_ACK: &str = "/runs/{id}/ack";

/// Every job's status.
pub const API_JOBS: &str = "/api/jobs";
/// One job's status and its recent runs.
pub const API_JOB: &str = "/api/jobs/{name}";
/// A job's runs, newest first (`?limit=`).
pub const API_JOB_RUNS: &str = "/api/jobs/{name}/runs";
/// POST: queues a run of the job now.
pub const API_JOB_RUN: &str = "/api/jobs/{name}/run";
/// POST `{"max_mutants": N}` (optional): queues a drill of the job now;
/// GET: the job's latest drill and its report.
pub const API_JOB_DRILL: &str = "/api/jobs/{name}/drill";
/// Everything recorded about a run.
pub const API_RUN: &str = "/api/runs/{id}";
/// A run's evidence report as JSON.
pub const API_RUN_REPORT: &str = "/api/runs/{id}/report";
/// POST `{"by": NAME, "note": TEXT}`: acknowledges a failing run, as
/// `restoredrill ack` does.
pub const API_RUN_ACK: &str = "/api/runs/{id}/ack";
/// POST: re-reads the config, as SIGHUP does.
pub const API_RELOAD: &str = "/api/reload";

/// Prometheus metrics.
pub const METRICS: &str = "/metrics";
/// Liveness, open without the token.
pub const HEALTHZ: &str = "/healthz";

/// The path of `job`'s status and newest runs.
pub fn api_job(job: &str) -> String {
    API_JOB.replace("{name}", job)
}

/// The path of everything recorded about run `id`.
pub fn api_run(id: &str) -> String {
    API_RUN.replace("{id}", id)
}

/// The path that queues a run of `job`.
pub fn api_job_run(job: &str) -> String {
    API_JOB_RUN.replace("{name}", job)
}

/// The path of `job`'s drills.
pub fn api_job_drill(job: &str) -> String {
    API_JOB_DRILL.replace("{name}", job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_run_path_names_the_job() {
        assert_eq!(api_job_run("shop-db"), "/api/jobs/shop-db/run");
    }
}
