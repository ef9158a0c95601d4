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
    // Free places in the account's job queue as Zendesk last announced them
    // (`zendesk-ratelimit-inflight-jobs`), less our submissions since, plus our jobs that
    // finished since; `None` until announced. The queue is shared with every other
    // integration of the account, so this, not only our own count, paces submissions.
    let mut queue_free: Option<u64> = None;
    let mut queue_total: Option<u64> = None;
    let mut queue_resets = Duration::from_secs(1);
    loop {
        let limit = queue_total.map_or(max_in_flight, |t| {
            max_in_flight.min(usize::try_from(t).unwrap_or(usize::MAX).max(1))
        });
        while in_flight.len() < limit && next < specs.len() {
            let i = next;
            next += 1;
            let spec = &specs[i];
            if spec.bulk_user_create && bulk_forbidden {
                ends[i] = Some(JobEnd::BulkImportForbidden);
                continue;
            }
            if queue_free == Some(0) {
                if !in_flight.is_empty() {
                    // Our own jobs will free places: poll them before submitting more.
                    next -= 1;
                    break;
                }
                // Other jobs fill the queue: wait until Zendesk says the budget resets.
                debug!(
                    wait_s = queue_resets.as_secs(),
                    "Zendesk's job queue is full; waiting before submitting"
                );
                tokio::time::sleep(queue_resets).await;
                queue_free = None;
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
            match client.take_inflight_jobs() {
                Some(announced) => {
                    queue_free = Some(announced.remaining);
                    queue_total = Some(announced.total);
                    queue_resets = Duration::from_secs(announced.resets.clamp(1, 60));
                }
                None => {
                    if let Some(free) = queue_free.as_mut() {
                        *free = free.saturating_sub(1);
                    }
                }
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
        let before = in_flight.len();
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
        if let Some(free) = queue_free.as_mut() {
            *free += (before - in_flight.len()) as u64;
        }
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
    // A finished job that show_many returned without `results` (the only published
    // show_many answer, the OAS example JobStatusesResponseExample, carries `{id, status}`
    // alone) is read on its own before it is
    // settled, as is a job show_many did not return at all.
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| match out.get(*id) {
            None => true,
            Some(Some(status)) => !status.is_running() && status.results.is_none(),
            Some(None) => false,
        })
        .collect();
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
