//! Background jobs (`*_many` endpoints): submits batches with never more than
//! `max_jobs_in_flight` queued or running, and polls every job in flight with one
//! `GET /job_statuses/show_many` per round.
//!
//! Must never: submit a batch twice (submissions go through [`Safety`] rules of the
//! client), poll one job per request when `show_many` can carry them all, or read a
//! job's meaning — callers interpret the results.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::debug;

use super::client::{Call, Client, Safety};
use super::wire::{JobStatus, JobStatusEnvelope, JobStatusList};

/// Longest wait between two polls of a running job.
const MAX_POLL_GAP: Duration = Duration::from_secs(15);
/// Zendesk's own limit of queued-or-running jobs per account.
const ZENDESK_MAX_JOBS: usize = 30;

/// One job-creating request.
pub(crate) struct JobSpec {
    pub what: String,
    pub method: Method,
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub safety: Safety,
    /// `users/create_many`: a 403 means bulk user import is switched off for the account,
    /// which the caller handles by falling back to single creates.
    pub bulk_user_create: bool,
}

#[derive(Debug)]
pub(crate) enum JobEnd {
    /// `completed`, `failed` or any other terminal status, with its results.
    Finished(JobStatus),
    /// Zendesk no longer knows the job (404): its results are lost.
    Expired,
    /// Not submitted, or refused with 403: bulk user import is off.
    BulkImportForbidden,
}

struct InFlight {
    id: String,
    spec: usize,
    submitted: Instant,
    due: Instant,
    gap: Duration,
}

/// Runs every spec as a background job and waits for all of them. Ends come back in spec
/// order. An error (401, a refused submission, exhausted retries) stops the whole run.
pub(crate) async fn run_jobs(client: &Client, specs: &[JobSpec]) -> Result<Vec<JobEnd>> {
    let max_in_flight = client.tuning.max_jobs_in_flight.clamp(1, ZENDESK_MAX_JOBS);
    let poll_start = Duration::from_millis(client.tuning.job_poll_interval_ms.max(1));
    // How long jobs have been taking: the first poll of a new job waits that long, so a
    // steady stream of batches costs about one poll round per wave of jobs.
    let mut estimate = client
        .job_estimate()
        .map_or(poll_start, |e| e.clamp(poll_start, MAX_POLL_GAP));
    let mut ends: Vec<Option<JobEnd>> = specs.iter().map(|_| None).collect();
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut next = 0;
    let mut bulk_forbidden = false;
    let mut round = 0u32;
    loop {
        while in_flight.len() < max_in_flight && next < specs.len() {
            let i = next;
            next += 1;
            let spec = &specs[i];
            if spec.bulk_user_create && bulk_forbidden {
                ends[i] = Some(JobEnd::BulkImportForbidden);
                continue;
            }
            let call = Call {
                method: spec.method.clone(),
                path: spec.path.to_string(),
                query: spec.query.clone(),
                body: spec.body.as_ref(),
                safety: spec.safety,
                what: &spec.what,
            };
            let answer = client.send(&call).await?;
            if spec.bulk_user_create && answer.status == StatusCode::FORBIDDEN {
                bulk_forbidden = true;
                ends[i] = Some(JobEnd::BulkImportForbidden);
                continue;
            }
            if !answer.is_success() {
                return Err(answer.into_error(&spec.what));
            }
            let job = answer.json::<JobStatusEnvelope>(&spec.what)?.job_status;
            debug!(job = %job.id, status = %job.status, "Zendesk job submitted");
            if job.is_running() {
                let now = Instant::now();
                in_flight.push(InFlight {
                    id: job.id,
                    spec: i,
                    submitted: now,
                    due: now + estimate,
                    gap: poll_start,
                });
            } else {
                ends[i] = Some(JobEnd::Finished(job));
            }
        }
        if in_flight.is_empty() {
            if next >= specs.len() {
                break;
            }
            continue;
        }
        if let Some(due) = in_flight.iter().map(|j| j.due).min() {
            tokio::time::sleep_until(due.into()).await;
        }
        round += 1;
        let ids: Vec<String> = in_flight.iter().map(|j| j.id.clone()).collect();
        let statuses = poll(client, &ids, round).await?;
        let now = Instant::now();
        in_flight.retain_mut(|job| match statuses.get(&job.id) {
            Some(Some(status)) if !status.is_running() => {
                estimate = now
                    .duration_since(job.submitted)
                    .clamp(poll_start, MAX_POLL_GAP);
                ends[job.spec] = Some(JobEnd::Finished(status.clone()));
                false
            }
            Some(None) => {
                ends[job.spec] = Some(JobEnd::Expired);
                false
            }
            _ => {
                if job.due <= now {
                    job.gap = (job.gap * 2).min(MAX_POLL_GAP);
                    job.due = now + job.gap;
                }
                true
            }
        });
    }
    client.set_job_estimate(estimate);
    Ok(ends
        .into_iter()
        // Every spec is either submitted (and waited for) or marked forbidden above.
        .map(|e| e.unwrap_or(JobEnd::Expired))
        .collect())
}

/// One `show_many` for all jobs; a job it does not return is asked for on its own, and a
/// 404 there means the job expired (`None`).
async fn poll(
    client: &Client,
    ids: &[String],
    round: u32,
) -> Result<HashMap<String, Option<JobStatus>>> {
    let what = format!("polling {} Zendesk jobs (round {round})", ids.len());
    let call = Call::get("job_statuses/show_many", &what).query("ids", ids.join(","));
    let answer = client.send(&call).await?;
    let mut out = HashMap::new();
    if answer.is_success() {
        for status in answer.json::<JobStatusList>(&what)?.job_statuses {
            out.insert(status.id.clone(), Some(status));
        }
    } else if answer.status != StatusCode::NOT_FOUND {
        return Err(answer.into_error(&what));
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !out.contains_key(*id)).collect();
    for id in missing {
        let what = format!("reading Zendesk job {id}");
        let segment: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let answer = client
            .send(&Call::get(format!("job_statuses/{segment}"), &what))
            .await?;
        let status = if answer.status == StatusCode::NOT_FOUND {
            None
        } else if answer.is_success() {
            Some(answer.json::<JobStatusEnvelope>(&what)?.job_status)
        } else {
            return Err(answer.into_error(&what));
        };
        out.insert(id.clone(), status);
    }
    Ok(out)
}
