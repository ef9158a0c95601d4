//! `demo`: the whole monthly job against local stand-ins, with no credentials and no network.
//!
//! Owns: starting the Zendesk and GitHub stand-ins on 127.0.0.1 in this process, seeding
//! them with "last month" (derived deterministically from the reports, so there is
//! realistic drift to fix), running `run` twice through [`execute_run`] with a
//! configuration built here, and printing what a maintainer would see on GitHub and what
//! happened: the changes the drift calls for, each run's counts, what Zendesk holds for
//! the records a person touched, the issue as it ends. It states facts and does not judge
//! them; tests/it/demo.rs checks them. Its exit status is run 2's.
//!
//! Must never: read the job's `GITHUB_*`, `ZENDESK_*` or `PAGES_*` report variables (the
//! configuration is built in code, so a real service is never reached), write outside its
//! temporary directory, or print an email address or a person's name (it prints the same
//! public comments as the real job, and counts).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Duration as ChronoDuration;
use secrecy::SecretString;
use standins::github::{GithubStandin, SeedIssue, StandinOptions as GithubOptions};
use standins::zendesk::{StandinOptions as ZendeskOptions, UserSeed, ZendeskStandin};

use crate::cli::DemoArgs;
use crate::commands::doctor::{self, DoctorEnv};
use crate::commands::flow::Inputs;
use crate::commands::run::{execute_run, GithubEnv, RunConfig, RunResult};
use crate::commands::{Exit, UsageError};
use crate::config::{FileSettings, GithubSettings, Policy, ZendeskTuning};
use crate::github::IssueTemplate;
use crate::model::{name_from_email, DesiredState, DesiredUser, EmailKey, OrgKey, Role};
use crate::month::{self, Month};
use crate::plan::ChangeKind;
use crate::report::{self, Carry, JobStatus, Totals};
use crate::source::{self, Reports};
use crate::verify::Criterion;
use crate::zendesk::ZendeskSettings;

/// The shipped example reports and issue template, embedded so `demo` works from any
/// directory (and from an installed binary).
const DEMO_ORGANIZATIONS: &str = include_str!("../../demo/organizations.csv");
const DEMO_USERS: &str = include_str!("../../demo/users.csv");
const ISSUE_TEMPLATE: &str = include_str!("../../.github/ISSUE_TEMPLATE/pages-zendesk-sync.md");

const REPOSITORY: &str = "cloud-gov/pages-zendesk-sync";
/// A Zendesk organization that Pages does not know: the sync reports it and keeps it.
const ORG_NOT_IN_PAGES: &str = "Retired pilot sites (not in Pages)";
/// A tag a person put on one user; the sync merges tags and must keep it.
const PERSON_TAG: &str = "vip_partner";

pub async fn demo(args: &DemoArgs) -> Result<Exit> {
    let started = Instant::now();
    let month = match &args.month {
        Some(m) => Month::parse(m).map_err(|e| UsageError(format!("--month: {e:#}")))?,
        None => Month::current_utc(),
    };
    let dir = tempfile::Builder::new()
        .prefix("pages-zendesk-sync-demo-")
        .tempdir()
        .context("creating the demo's temporary directory")?;
    let files = demo_files(args.data.as_deref(), dir.path())?;
    let policy = Policy::default();
    let reports = parse_reports(&files, &policy)?;
    let seed = LastMonth::derive(&reports.desired);

    let zendesk = ZendeskStandin::start(ZendeskOptions::default())?;
    let github = GithubStandin::start(GithubOptions::default()).await?;
    let seeded = seed.seed_zendesk(&zendesk, &reports.desired, &policy)?;
    let previous_issue = seed_github(&github, month, &seed)?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "pages-zendesk-sync demo: the monthly job for {month} against local stand-ins of Zendesk \
         ({}) and GitHub ({}); no credentials, no network.",
        zendesk.base_url().as_str().trim_end_matches('/'),
        github.api_url()
    );
    let _ = writeln!(
        out,
        "Pages reports: {} ({} organization rows, {} user rows).",
        files.source, reports.stats.organization_rows, reports.stats.user_rows
    );
    out.push('\n');
    out.push_str(&seed.describe(&reports.desired, previous_issue));
    let _ = writeln!(
        out,
        "The drift calls for these changes in run 1: {}.",
        counts_text(&seed.expected_changes(&reports.desired))
    );
    print_now(&mut out);

    // The read-only preflight an operator runs before a first real run (README "Before the
    // first real run"); it writes nothing, so run 1 meets the same state.
    let credentials = zendesk.credentials();
    let checks = doctor::run_checks(&DoctorEnv {
        config: None,
        pages: Ok(source::PagesSource::Reports {
            organizations: files.organizations.display().to_string(),
            users: files.users.display().to_string(),
            authorization: None,
        }),
        zendesk_subdomain: None,
        zendesk_url: Some(zendesk.base_url().to_string()),
        zendesk_email: Some(credentials.email.clone()),
        zendesk_token: Some(SecretString::from(credentials.token.clone())),
        github: Some((
            github.api_url().to_string(),
            SecretString::from(github.token().to_string()),
            REPOSITORY.to_string(),
        )),
        template: Some(files.template.clone()),
    })
    .await;
    let _ = writeln!(
        out,
        "\n{}",
        banner("Doctor: the preflight before a first real run")
    );
    out.push_str(&checks.render_text());
    print_now(&mut out);

    // Run 1: the month's job meets last month's Zendesk.
    zendesk.clear_requests();
    let first = execute_run(&run_config(&files, &zendesk, &github, month, "demo-run-1")?)
        .await
        .context("the demo's first run")?;
    let first_writes = zendesk.requests().iter().filter(|r| r.is_write()).count();
    let first_requests = zendesk.requests().len();

    let _ = writeln!(out, "\n{}", banner("Run 1: the monthly job"));
    let _ = writeln!(out, "{}", run_line(1, &first, first_requests, first_writes));
    let _ = writeln!(
        out,
        "What the Zendesk stand-in holds after run 1 for the records a person touched:"
    );
    for line in seeded.describe_now(&zendesk) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "\n{}", banner("The issue after run 1"));
    out.push_str(&describe_issue(&github, first.issue_number));
    let _ = writeln!(out, "\n{}", banner("Results comment of run 1"));
    out.push_str(&first.comment);
    print_now(&mut out);

    // Run 2: the same job again; Zendesk is in step, so it must find nothing to do.
    zendesk.clear_requests();
    let second = execute_run(&run_config(&files, &zendesk, &github, month, "demo-run-2")?)
        .await
        .context("the demo's second run")?;
    let second_writes = zendesk.requests().iter().filter(|r| r.is_write()).count();
    let second_requests = zendesk.requests().len();

    let _ = writeln!(out, "\n{}", banner("Run 2: the same job again"));
    let _ = writeln!(
        out,
        "{}",
        run_line(2, &second, second_requests, second_writes)
    );
    let _ = writeln!(out, "\n{}", banner("Results comment of run 2"));
    out.push_str(&second.comment);

    let _ = writeln!(out, "\n{}", banner("Summary"));
    let _ = writeln!(out, "{}", run_line(1, &first, first_requests, first_writes));
    let _ = writeln!(
        out,
        "{}",
        run_line(2, &second, second_requests, second_writes)
    );
    let _ = writeln!(out, "{}", final_issue_line(&github, second.issue_number));
    let _ = writeln!(
        out,
        "demo finished in {:.1} s; exit status {} (run 2's)",
        started.elapsed().as_secs_f64(),
        second.exit as u8
    );
    print_now(&mut out);
    drop(dir);
    Ok(second.exit)
}

/// Prints and clears what has been written so far, so a slow step shows its preamble.
fn print_now(out: &mut String) {
    print!("{out}");
    out.clear();
}

fn banner(title: &str) -> String {
    format!("==== {title} ====")
}

/// Where the reports and the template are, and how to name the reports' origin.
struct DemoFiles {
    organizations: PathBuf,
    users: PathBuf,
    template: PathBuf,
    source: String,
}

/// Writes the template (and, without `--data`, the example reports) into `dir`.
fn demo_files(data: Option<&Path>, dir: &Path) -> Result<DemoFiles> {
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let template = write("pages-zendesk-sync.md", ISSUE_TEMPLATE)?;
    match data {
        Some(data) => {
            let organizations = data.join("organizations.csv");
            let users = data.join("users.csv");
            for path in [&organizations, &users] {
                if !path.is_file() {
                    return Err(UsageError(format!(
                        "--data {}: {} is missing (the directory must hold organizations.csv and users.csv)",
                        data.display(),
                        path.display()
                    ))
                    .into());
                }
            }
            Ok(DemoFiles {
                organizations,
                users,
                template,
                source: data.display().to_string(),
            })
        }
        None => Ok(DemoFiles {
            organizations: write("organizations.csv", DEMO_ORGANIZATIONS)?,
            users: write("users.csv", DEMO_USERS)?,
            template,
            source: "the shipped examples in demo/".into(),
        }),
    }
}

/// Parses the reports once for seeding; the run reads them again from the files, as the
/// real job does.
fn parse_reports(files: &DemoFiles, policy: &Policy) -> Result<Reports> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let orgs = read(&files.organizations)?;
    let users = read(&files.users)?;
    Ok(source::parse(
        &orgs,
        &files.organizations.display().to_string(),
        &users,
        &files.users.display().to_string(),
        policy,
    )?)
}

/// A configuration built in code: the stand-ins' addresses and credentials, never the
/// process environment.
fn run_config(
    files: &DemoFiles,
    zendesk: &ZendeskStandin,
    github: &GithubStandin,
    month: Month,
    run_marker: &str,
) -> Result<RunConfig> {
    let settings = FileSettings {
        zendesk: ZendeskTuning {
            // The stand-in is local: no reason to pace requests like the real account, and
            // its jobs finish in milliseconds.
            requests_per_minute: 100_000,
            job_poll_interval_ms: 10,
            ..ZendeskTuning::default()
        },
        github: GithubSettings {
            template: files.template.clone(),
            ..GithubSettings::default()
        },
        ..FileSettings::default()
    };
    let credentials = zendesk.credentials();
    let zendesk_settings = ZendeskSettings::from_env_values(
        None,
        Some(zendesk.base_url().as_str()),
        Some(&credentials.email),
        Some(SecretString::from(credentials.token.clone())),
        settings.zendesk.clone(),
    )?;
    Ok(RunConfig {
        inputs: Inputs {
            source: crate::source::PagesSource::Reports {
                organizations: files.organizations.display().to_string(),
                users: files.users.display().to_string(),
                authorization: None,
            },
            zendesk: zendesk_settings,
            allow_mass_removal: false,
            settings,
        },
        github: GithubEnv {
            api_url: github.api_url().to_string(),
            token: SecretString::from(github.token().to_string()),
            repository: REPOSITORY.into(),
            run_url: None,
            run_marker: run_marker.into(),
            step_summary: None,
            output: None,
            annotations: false,
        },
        month,
        dry_run: false,
        template: files.template.clone(),
        report_json: None,
    })
}

/// "Zendesk was in step with last month's Pages; since then Pages changed, and people
/// edited a few Zendesk records." Every pick is a Pages record chosen by a fixed rule, so
/// the same reports give the same drift on every run.
#[derive(Debug, Default)]
struct LastMonth {
    /// New in Pages this month: not yet in Zendesk.
    missing_orgs: BTreeSet<OrgKey>,
    /// Its agency was renamed in Pages: Zendesk holds the old details.
    renamed_org: Option<OrgKey>,
    /// New in Pages this month: not yet in Zendesk.
    missing_users: BTreeSet<EmailKey>,
    /// Users who left an organization since last month: (user, the org they left).
    left_org: Vec<(EmailKey, OrgKey)>,
    /// Promoted to manager of this org since last month.
    promoted: Option<(EmailKey, OrgKey)>,
    /// A Pages user who is a Zendesk agent: left alone.
    agent: Option<EmailKey>,
    /// A person edited this user's name in Zendesk: kept.
    renamed_user: Option<EmailKey>,
    /// A person added a tag to this user in Zendesk: kept.
    tagged_user: Option<EmailKey>,
    /// The Pages email is a secondary identity of a Zendesk user without an external_id.
    secondary: Option<EmailKey>,
    /// The email changed in Pages; Zendesk has the old one (matched by external_id).
    changed_email: Option<EmailKey>,
    /// Last month's Pages users and their roles.
    users: BTreeMap<EmailKey, BTreeMap<OrgKey, Role>>,
}

impl LastMonth {
    fn derive(desired: &DesiredState) -> LastMonth {
        let mut seed = LastMonth::default();
        let orgs: Vec<&OrgKey> = desired.orgs.keys().collect();
        let mut members: BTreeMap<&OrgKey, usize> = BTreeMap::new();
        for u in desired.users.values() {
            for (k, _) in desired.roles_of(u) {
                *members.entry(k).or_default() += 1;
            }
        }
        // Two organizations with members are new this month; one with an agency was renamed.
        for fraction in [1, 2] {
            let start = orgs.len() * fraction / 3;
            if let Some(k) = rotate(&orgs, start).find(|k| {
                members.get(*k).copied().unwrap_or(0) > 0 && !seed.missing_orgs.contains(*k)
            }) {
                seed.missing_orgs.insert((*k).clone());
            }
        }
        seed.renamed_org = rotate(&orgs, orgs.len() / 2)
            .find(|k| !seed.missing_orgs.contains(**k) && !desired.orgs[**k].details.is_empty())
            .map(|k| (*k).clone());

        // Users in Pages id order; each special case gets a user no other case touches, and
        // never one in a new organization (whose roles changed anyway).
        let mut users: Vec<&DesiredUser> = desired.users.values().collect();
        users.sort_by_key(|u| (u.pages_id, u.line));
        let mut used: BTreeSet<EmailKey> = BTreeSet::new();
        let in_new_org = |u: &DesiredUser| {
            desired
                .roles_of(u)
                .any(|(k, _)| seed.missing_orgs.contains(k))
        };
        let pick =
            |twelfths: usize, used: &mut BTreeSet<EmailKey>, ok: &dyn Fn(&DesiredUser) -> bool| {
                let start = users.len() * twelfths / 12;
                let found = rotate(&users, start)
                    .find(|u| !used.contains(&u.email) && !in_new_org(u) && ok(u))
                    .map(|u| u.email.clone());
                if let Some(e) = &found {
                    used.insert(e.clone());
                }
                found
            };
        for twelfths in [1, 5, 9] {
            if let Some(e) = pick(twelfths, &mut used, &|_| true) {
                seed.missing_users.insert(e);
            }
        }
        let spare_org = |u: &DesiredUser| -> Option<OrgKey> {
            orgs.iter()
                .find(|k| desired.role(u, k).is_none() && !seed.missing_orgs.contains(**k))
                .map(|k| (*k).clone())
        };
        for twelfths in [2, 7] {
            if let Some(e) = pick(twelfths, &mut used, &|u| spare_org(u).is_some()) {
                if let Some(org) = spare_org(&desired.users[&e]) {
                    seed.left_org.push((e, org));
                }
            }
        }
        seed.promoted = pick(3, &mut used, &|u| u.is_manager()).and_then(|e| {
            let org = desired
                .roles_of(&desired.users[&e])
                .find(|(_, r)| *r == Role::Manager)
                .map(|(k, _)| k.clone())?;
            Some((e, org))
        });
        seed.agent = pick(4, &mut used, &|_| true);
        seed.renamed_user = pick(6, &mut used, &|_| true);
        seed.tagged_user = pick(8, &mut used, &|_| true);
        seed.secondary = pick(10, &mut used, &|_| true);
        seed.changed_email = pick(11, &mut used, &|_| true);

        // Last month's roles: without the new organizations, the new users, and the
        // changes since (a left organization was still held, a promotion not yet made).
        for u in desired.users.values() {
            if seed.missing_users.contains(&u.email) {
                continue;
            }
            let mut roles: BTreeMap<OrgKey, Role> = desired
                .roles_of(u)
                .filter(|(k, _)| !seed.missing_orgs.contains(*k))
                .map(|(k, r)| (k.clone(), r))
                .collect();
            for (e, org) in &seed.left_org {
                if *e == u.email {
                    roles.insert(org.clone(), Role::User);
                }
            }
            if let Some((e, org)) = &seed.promoted {
                if *e == u.email {
                    roles.insert(org.clone(), Role::User);
                }
            }
            if !roles.is_empty() {
                seed.users.insert(u.email.clone(), roles);
            }
        }
        seed
    }

    /// Canonical roles text of last month (organization names as Pages writes them).
    fn roles_text(desired: &DesiredState, roles: &BTreeMap<OrgKey, Role>) -> String {
        roles
            .iter()
            .map(|(k, r)| {
                let name = desired.orgs.get(k).map_or(k.as_str(), |o| o.name.as_str());
                format!("{name}: {}", r.as_str())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn is_manager(roles: &BTreeMap<OrgKey, Role>) -> bool {
        roles.values().any(|r| *r == Role::Manager)
    }

    /// Last month's (user, organization) pairs.
    fn pairs(&self) -> BTreeSet<(&EmailKey, &OrgKey)> {
        self.users
            .iter()
            .flat_map(|(e, roles)| roles.keys().map(move |k| (e, k)))
            .collect()
    }

    /// Puts last month's Zendesk into the stand-in (directly: no requests are logged).
    fn seed_zendesk(
        &self,
        zendesk: &ZendeskStandin,
        desired: &DesiredState,
        policy: &Policy,
    ) -> Result<Seeded> {
        let mut seeded = Seeded::default();
        let credentials = zendesk.credentials().clone();
        zendesk.seed_user(UserSeed {
            name: "Sync Bot".into(),
            email: Some(credentials.email),
            role: "admin".into(),
            ..UserSeed::default()
        })?;
        let mut org_ids: BTreeMap<&OrgKey, u64> = BTreeMap::new();
        for (key, org) in &desired.orgs {
            if self.missing_orgs.contains(key) {
                continue;
            }
            let details = if self.renamed_org.as_ref() == Some(key) {
                format!("{} (former name)", org.details)
            } else {
                org.details.clone()
            };
            let id = zendesk
                .seed_org(&org.name, (!details.is_empty()).then_some(details.as_str()))
                .context("seeding an organization of the reports into the Zendesk stand-in")?;
            org_ids.insert(key, id);
        }
        let retired = zendesk.seed_org(ORG_NOT_IN_PAGES, Some("Agency no longer on Pages"))?;

        let mut users: Vec<&DesiredUser> = desired
            .users
            .values()
            .filter(|u| self.users.contains_key(&u.email))
            .collect();
        users.sort_by_key(|u| (u.pages_id, u.line));
        let mut first_end_user = None;
        for u in users {
            let roles = &self.users[&u.email];
            let email = &u.email;
            let (local, domain) = email
                .as_str()
                .split_once('@')
                .unwrap_or((email.as_str(), ""));
            let mut tags = Vec::new();
            if Self::is_manager(roles) {
                tags.push(policy.manager_tag.clone());
            }
            if self.tagged_user.as_ref() == Some(email) {
                tags.push(PERSON_TAG.into());
            }
            let mut name = name_from_email(email);
            if self.renamed_user.as_ref() == Some(email) {
                name = format!("{name} (name edited by a person)");
            }
            let primary = if self.secondary.as_ref() == Some(email) {
                format!("{local}.work@{domain}")
            } else if self.changed_email.as_ref() == Some(email) {
                format!("{local}.old@{domain}")
            } else {
                email.to_string()
            };
            let agent = self.agent.as_ref() == Some(email);
            let name_seeded = name.clone();
            let id = zendesk
                .seed_user(UserSeed {
                    name,
                    email: Some(primary.clone()),
                    role: if agent { "agent" } else { "end-user" }.into(),
                    external_id: (self.secondary.as_ref() != Some(email))
                        .then(|| policy.external_id(u.pages_id)),
                    details: Some(Self::roles_text(desired, roles)),
                    tags,
                    ..UserSeed::default()
                })
                .with_context(|| format!("seeding the user of users.csv line {}", u.line))?;
            if self.secondary.as_ref() == Some(email) {
                zendesk.add_identity(id, email.as_str(), false)?;
                seeded.secondary = Some((id, email.clone(), primary.clone()));
            }
            if self.changed_email.as_ref() == Some(email) {
                seeded.changed_email = Some((id, email.clone(), primary.clone()));
            }
            if self.renamed_user.as_ref() == Some(email) {
                seeded.renamed_user = Some((id, name_seeded.clone()));
            }
            if self.tagged_user.as_ref() == Some(email) {
                seeded.tagged_user = Some(id);
            }
            if agent {
                seeded.agent = Some((id, name_seeded.clone()));
            }
            for key in roles.keys() {
                if let Some(org) = org_ids.get(key) {
                    zendesk.seed_membership(id, *org)?;
                }
            }
            if !agent && first_end_user.is_none() {
                first_end_user = Some(id);
            }
        }
        // A member of the organization Pages does not know: neither is touched.
        if let Some(id) = first_end_user {
            zendesk.seed_membership(id, retired)?;
            seeded.retired_member = Some(id);
        }
        seeded.retired_org = retired;
        Ok(seeded)
    }

    /// The changes run 1 must plan, from what was seeded (independently of the planner).
    fn expected_changes(&self, desired: &DesiredState) -> BTreeMap<ChangeKind, usize> {
        let now: BTreeSet<(&EmailKey, &OrgKey)> = desired
            .users
            .values()
            .flat_map(|u| desired.roles_of(u).map(move |(k, _)| (&u.email, k)))
            .collect();
        let before = self.pairs();
        let updated = desired
            .users
            .values()
            .filter(|u| match self.users.get(&u.email) {
                None => false,
                Some(roles) => {
                    Self::roles_text(desired, roles) != desired.roles_text(u)
                        || Self::is_manager(roles) != u.is_manager()
                        || self.secondary.as_ref() == Some(&u.email)
                }
            })
            .count();
        let mut counts: BTreeMap<ChangeKind, usize> =
            ChangeKind::ALL.iter().map(|k| (*k, 0)).collect();
        counts.insert(ChangeKind::CreateOrganization, self.missing_orgs.len());
        counts.insert(
            ChangeKind::UpdateOrganization,
            usize::from(self.renamed_org.is_some()),
        );
        counts.insert(
            ChangeKind::CreateUser,
            desired
                .users
                .keys()
                .filter(|e| !self.users.contains_key(*e))
                .count(),
        );
        counts.insert(ChangeKind::UpdateUser, updated);
        counts.insert(
            ChangeKind::SetPrimaryEmail,
            usize::from(self.secondary.is_some()) + usize::from(self.changed_email.is_some()),
        );
        counts.insert(ChangeKind::AddMembership, now.difference(&before).count());
        counts.insert(
            ChangeKind::RemoveMembership,
            before.difference(&now).count(),
        );
        counts
    }

    /// Last month's totals, as October's results comment carried them.
    fn totals(&self) -> Totals {
        let pairs = self.pairs();
        let agent_pairs = self
            .agent
            .as_ref()
            .and_then(|a| self.users.get(a))
            .map_or(0, BTreeMap::len);
        let orgs: BTreeSet<&OrgKey> = pairs.iter().map(|(_, k)| *k).collect();
        Totals {
            pages_organizations: orgs.len(),
            pages_users: self.users.len(),
            pages_memberships: pairs.len(),
            pages_managers: self.users.values().filter(|r| Self::is_manager(r)).count(),
            zendesk_organizations: orgs.len(),
            zendesk_memberships: pairs.len() - agent_pairs,
            zendesk_users: self.users.len() - usize::from(agent_pairs > 0),
        }
    }

    /// What was seeded, in counts (never names or emails).
    fn describe(&self, desired: &DesiredState, previous_issue: u64) -> String {
        let n = |o: bool| usize::from(o);
        let new_users = desired
            .users
            .keys()
            .filter(|e| !self.users.contains_key(*e))
            .count();
        let only_in_new_orgs = new_users.saturating_sub(self.missing_users.len());
        let new_users_text = if only_in_new_orgs > 0 {
            format!(
                "users new in Pages (missing from Zendesk), {only_in_new_orgs} of them members of the new organizations only"
            )
        } else {
            "users new in Pages (missing from Zendesk)".to_string()
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Zendesk stand-in seeded with last month's state: {} partner users and their memberships, \
             in step with last month's Pages, then drift:",
            self.users.len()
        );
        let lines = [
            (self.missing_orgs.len(), "organizations new in Pages (missing from Zendesk)"),
            (n(self.renamed_org.is_some()), "organization whose agency changed (outdated details)"),
            (new_users, new_users_text.as_str()),
            (self.left_org.len(), "users who left an organization (stale memberships)"),
            (n(self.promoted.is_some()), "user promoted to org manager"),
            (1, "Zendesk organization not in Pages (kept, reported)"),
            (n(self.agent.is_some()), "Pages user who is a Zendesk agent (left alone)"),
            (n(self.renamed_user.is_some()), "user whose name a person edited (kept)"),
            (n(self.tagged_user.is_some()), "user with an extra tag set by a person (kept)"),
            (n(self.secondary.is_some()), "user whose Pages email is a secondary identity (made primary)"),
            (n(self.changed_email.is_some()), "user whose email changed in Pages (matched by external_id, new email made primary)"),
        ];
        for (count, what) in lines.into_iter().filter(|(count, _)| *count > 0) {
            let _ = writeln!(s, "  {count:>3}  {what}");
        }
        let _ = writeln!(
            s,
            "GitHub stand-in seeded with last month's issue #{previous_issue} (closed, completed) and its results comment, \
             so the comment shows the change since last month."
        );
        s
    }
}

/// The Zendesk ids (and seeded values) of the records a person touched, to show after
/// run 1 what became of them. Emails and names stay in memory, never printed.
#[derive(Debug, Default)]
struct Seeded {
    retired_org: u64,
    retired_member: Option<u64>,
    /// (user id, seeded name)
    agent: Option<(u64, String)>,
    renamed_user: Option<(u64, String)>,
    tagged_user: Option<u64>,
    /// (user id, Pages email, the email Zendesk had as primary)
    secondary: Option<(u64, EmailKey, String)>,
    changed_email: Option<(u64, EmailKey, String)>,
}

impl Seeded {
    /// One line per record a person touched: what Zendesk holds for it now, as facts
    /// (present or gone, role, tags, which addresses it has), compared with what was
    /// seeded where only a comparison can be printed (names, emails). Judging them is
    /// for the reader and for tests/it/demo.rs.
    fn describe_now(&self, zendesk: &ZendeskStandin) -> Vec<String> {
        let world = zendesk.snapshot();
        let mut lines = Vec::new();
        let members: Vec<String> = world
            .memberships
            .values()
            .filter(|m| m.organization_id == self.retired_org)
            .map(|m| m.user_id)
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .map(|id| format!("user #{id}"))
            .collect();
        lines.push(format!(
            "organization not in Pages (#{}): {}; members: {} (seeded: {})",
            self.retired_org,
            if world.organizations.contains_key(&self.retired_org) {
                "present"
            } else {
                "gone"
            },
            if members.is_empty() {
                "none".to_string()
            } else {
                members.join(", ")
            },
            self.retired_member
                .map_or("none".to_string(), |m| format!("user #{m}")),
        ));
        let name_now = |id: u64, seeded: &str| match world.users.get(&id) {
            None => "user gone".to_string(),
            Some(u) if u.name == seeded => "name as seeded".to_string(),
            Some(_) => "name changed".to_string(),
        };
        if let Some((id, name)) = &self.agent {
            let role = world.users.get(id).map_or("none", |u| u.role.as_str());
            lines.push(format!(
                "Zendesk agent (user #{id}): role {role}; {}",
                name_now(*id, name)
            ));
        }
        if let Some((id, name)) = &self.renamed_user {
            lines.push(format!(
                "user whose name a person edited (#{id}): {}",
                name_now(*id, name)
            ));
        }
        if let Some(id) = self.tagged_user {
            let tags = world.users.get(&id).map_or("user gone".to_string(), |u| {
                if u.tags.is_empty() {
                    "no tags".to_string()
                } else {
                    format!("tags {}", u.tags.join(", "))
                }
            });
            lines.push(format!("user with a tag a person set (#{id}): {tags}"));
        }
        let addresses = |id: u64, pages: &EmailKey, before: &str| {
            let name = |value: &str| {
                if value.eq_ignore_ascii_case(pages.as_str()) {
                    "the Pages email"
                } else if value.eq_ignore_ascii_case(before) {
                    "the former primary"
                } else {
                    "another address"
                }
            };
            let holders = world
                .users
                .values()
                .filter(|u| {
                    u.identities
                        .iter()
                        .any(|i| i.value.eq_ignore_ascii_case(pages.as_str()))
                })
                .count();
            match world.users.get(&id) {
                None => format!("user gone; users holding the Pages email: {holders}"),
                Some(u) => format!(
                    "primary: {}; identities: {}; users holding the Pages email: {holders}",
                    u.email().map_or("none", name),
                    u.identities
                        .iter()
                        .map(|i| name(&i.value))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
        };
        if let Some((id, pages, before)) = &self.secondary {
            lines.push(format!(
                "user whose Pages email was a secondary identity (#{id}): {}",
                addresses(*id, pages, before)
            ));
        }
        if let Some((id, pages, before)) = &self.changed_email {
            lines.push(format!(
                "user whose email changed in Pages (#{id}): {}",
                addresses(*id, pages, before)
            ));
        }
        lines
    }
}

/// Items of `v` starting at `start`, wrapping around.
fn rotate<T>(v: &[T], start: usize) -> impl Iterator<Item = &T> {
    let start = if v.is_empty() { 0 } else { start % v.len() };
    v[start..].iter().chain(v[..start].iter())
}

/// Last month's issue, closed with every box ticked, and its results comment with the
/// hidden carry block the next month reads.
fn seed_github(github: &GithubStandin, month: Month, seed: &LastMonth) -> Result<u64> {
    let previous = month.previous();
    let template = IssueTemplate::parse(ISSUE_TEMPLATE).context("parsing the issue template")?;
    let rendered = template.render(previous);
    let all_passed: Vec<(Criterion, bool)> = Criterion::ALL.iter().map(|c| (*c, true)).collect();
    let body = report::checklist::tick(&rendered.body, &all_passed).body;
    let number = github.seed_issue(SeedIssue {
        title: rendered.title,
        body,
        labels: rendered.labels,
        open: false,
        created_at: previous.start_utc() + ChronoDuration::hours(12),
        pull_request: false,
    });
    let carry = Carry {
        version: report::comment::CARRY_VERSION,
        month: previous.to_string(),
        status: JobStatus::Succeeded,
        totals: seed.totals(),
        history: Vec::new(),
    };
    let json = serde_json::to_string(&carry).context("serialising last month's totals")?;
    let comment = format!(
        "## ✅ Pages/Zendesk sync {previous}: succeeded\n\n\
         _Last month's results comment (seeded by the demo, abridged)._\n\n\
         {}\n{}\n",
        month::run_marker_line(&format!("demo-{previous}")),
        month::carry_marker(&json),
    );
    github.seed_comment(number, &comment);
    Ok(number)
}

fn describe_issue(github: &GithubStandin, number: u64) -> String {
    let Some(issue) = github.issue(number) else {
        return format!("issue #{number} not found on the GitHub stand-in\n");
    };
    let mut s = String::new();
    let _ = writeln!(s, "#{} {}", issue.number, issue.title);
    let _ = writeln!(
        s,
        "state: {}{}",
        issue.state,
        issue
            .state_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "labels: {}", issue.labels.join(", "));
    let _ = writeln!(s, "---");
    s.push_str(issue.body.as_deref().unwrap_or(""));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    let _ = writeln!(s, "---");
    s
}

/// The issue as it ends, after both runs, in one line.
fn final_issue_line(github: &GithubStandin, number: u64) -> String {
    let Some(issue) = github.issue(number) else {
        return format!("issue #{number} not found on the GitHub stand-in");
    };
    let body = issue.body.as_deref().unwrap_or("");
    let ticked = body.matches("- [x] ").count();
    let boxes = ticked + body.matches("- [ ] ").count();
    format!(
        "issue #{number} as it ends: {}{}, labels {}, {ticked} of {boxes} boxes ticked, {} comments",
        issue.state,
        issue
            .state_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        issue.labels.join(", "),
        github.comments(number).len()
    )
}

/// One line per run: status, changes, criteria, Zendesk requests as the stand-in counted
/// them, and the issue.
fn run_line(n: usize, result: &RunResult, requests: usize, writes: usize) -> String {
    let Some(summary) = &result.summary else {
        return format!("run {n}: no summary; issue #{}", result.issue_number);
    };
    let planned: usize = summary.planned.values().sum();
    let applied: usize = summary.applied.values().sum();
    let passed = summary.criteria.iter().filter(|c| c.passed).count();
    format!(
        "run {n}: {}; {planned} changes planned, {applied} applied, {} failed; {passed} of {} \
         acceptance criteria satisfied; Zendesk stand-in received {requests} requests, {writes} \
         of them writes; issue #{} {}; exit status {}",
        summary.status.as_str(),
        summary.failed_records(),
        summary.criteria.len(),
        result.issue_number,
        if result.closed { "closed" } else { "open" },
        result.exit as u8,
    )
}

fn counts_text(counts: &BTreeMap<ChangeKind, usize>) -> String {
    ChangeKind::ALL
        .iter()
        .map(|k| format!("{} {}", counts.get(k).copied().unwrap_or(0), k.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Reports {
        source::parse(
            DEMO_ORGANIZATIONS.as_bytes(),
            "organizations.csv",
            DEMO_USERS.as_bytes(),
            "users.csv",
            &Policy::default(),
        )
        .expect("the shipped demo reports parse")
    }

    #[test]
    fn every_kind_of_drift_is_seeded_from_the_shipped_reports_each_on_its_own_user() {
        let reports = shipped();
        let seed = LastMonth::derive(&reports.desired);
        assert_eq!(seed.missing_orgs.len(), 2);
        assert!(seed.renamed_org.is_some());
        assert_eq!(seed.missing_users.len(), 3);
        assert_eq!(seed.left_org.len(), 2);
        let singles = [
            seed.promoted.as_ref().map(|(e, _)| e),
            seed.agent.as_ref(),
            seed.renamed_user.as_ref(),
            seed.tagged_user.as_ref(),
            seed.secondary.as_ref(),
            seed.changed_email.as_ref(),
        ];
        let mut all: Vec<&EmailKey> = singles.iter().map(|e| e.expect("picked")).collect();
        all.extend(seed.missing_users.iter());
        all.extend(seed.left_org.iter().map(|(e, _)| e));
        let distinct: BTreeSet<&EmailKey> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "one case per user");
        // Missing users are not in last month's Zendesk; the others are.
        for e in &seed.missing_users {
            assert!(!seed.users.contains_key(e));
        }
        for e in singles.iter().flatten() {
            assert!(seed.users.contains_key(*e));
        }
    }

    #[test]
    fn the_drift_is_the_same_on_every_derivation() {
        let reports = shipped();
        let a = LastMonth::derive(&reports.desired);
        let b = LastMonth::derive(&reports.desired);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn expected_changes_count_each_kind_of_drift() {
        let reports = shipped();
        let seed = LastMonth::derive(&reports.desired);
        let expected = seed.expected_changes(&reports.desired);
        assert_eq!(expected[&ChangeKind::CreateOrganization], 2);
        assert_eq!(expected[&ChangeKind::UpdateOrganization], 1);
        assert!(expected[&ChangeKind::CreateUser] >= 3);
        assert_eq!(expected[&ChangeKind::SetPrimaryEmail], 2);
        assert_eq!(expected[&ChangeKind::RemoveMembership], 2);
        // left orgs (2), the promotion, the secondary identity's external_id, and every
        // member of the two new organizations.
        assert!(expected[&ChangeKind::UpdateUser] >= 4);
        assert!(expected[&ChangeKind::AddMembership] > expected[&ChangeKind::CreateUser]);
    }

    #[test]
    fn a_tiny_report_seeds_what_it_can_without_failing() {
        let reports = source::parse(
            b"Organization,Agency,Self Authorized\nA,Agency A,true\n",
            "organizations.csv",
            b"ID,Email,Organizations,Details,Created,Last Signed In\n1,a@x.gov,A,A: manager,,\n",
            "users.csv",
            &Policy::default(),
        )
        .unwrap();
        let seed = LastMonth::derive(&reports.desired);
        let expected = seed.expected_changes(&reports.desired);
        let total: usize = expected.values().sum();
        assert!(total >= 1);
    }
}
