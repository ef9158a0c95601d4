//! Properties of the pure core over arbitrary small worlds: planning converges, the plan
//! verifies unless the planner itself says a person is needed, plans never touch what the
//! policies protect, and the safety guard trips exactly when its limits are exceeded.
//!
//! Alphabets are tiny on purpose, so emails, organization names (in any case), external ids
//! and memberships collide often.

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use pages_zendesk_sync::config::{GuardLimits, Policy};
use pages_zendesk_sync::model::{
    ActualState, DesiredOrg, DesiredState, DesiredUser, EmailKey, OrgKey, Role, Roles,
    ZendeskIdentity, ZendeskMembership, ZendeskOrg, ZendeskRole, ZendeskUser,
};
use pages_zendesk_sync::plan::guard::check;
use pages_zendesk_sync::plan::simulate::apply_in_memory;
use pages_zendesk_sync::plan::{plan, Change, NoteKind, OrgRef, Plan};
use pages_zendesk_sync::verify::{verify, Criterion};

const PAGES_ORGS: [&str; 3] = ["Alpha", "Beta", "Gamma, Office: X"];
const ZENDESK_ORGS: [&str; 6] = ["Alpha", " alpha", "BETA", "Gamma, Office: X", "Delta", ""];
const AGENCIES: [&str; 3] = ["", "A", "B"];
const DETAILS: [Option<&str>; 4] = [None, Some(""), Some("A"), Some("B")];
const PAGES_EMAILS: [&str; 5] = ["a@x.gov", "b@x.gov", "c@x.gov", "d@x.gov", "e@x.gov"];
const ZENDESK_EMAILS: [&str; 6] = [
    "A@x.gov", "b@x.gov", "c@X.gov", "d@x.gov", "e@x.gov", "z@x.gov",
];
const EXTERNAL_IDS: [Option<&str>; 6] = [
    None,
    Some(""),
    Some("pages-user-1"),
    Some("PAGES-USER-2"),
    Some("pages-user-3"),
    Some("crm-1"),
];
const NAMES: [&str; 3] = ["", " ", "Jo"];
const ROLES: [ZendeskRole; 5] = [
    ZendeskRole::EndUser,
    ZendeskRole::EndUser,
    ZendeskRole::EndUser,
    ZendeskRole::Agent,
    ZendeskRole::Admin,
];
const ROLES_TEXTS: [Option<&str>; 3] = [None, Some(""), Some("Alpha: user")];

fn email(s: &str) -> EmailKey {
    EmailKey::parse(s).unwrap()
}

fn policy() -> Policy {
    Policy::default()
}

type UserSpec = (usize, u64, Vec<(usize, bool)>);

fn desired_state() -> impl Strategy<Value = DesiredState> {
    let orgs = proptest::collection::vec(proptest::option::of(0..AGENCIES.len()), PAGES_ORGS.len());
    let users = proptest::collection::vec(
        (
            0..PAGES_EMAILS.len(),
            1..=4u64,
            proptest::collection::vec((0..PAGES_ORGS.len(), any::<bool>()), 1..=2),
        ),
        0..=5,
    );
    let protected = (
        proptest::collection::vec(0..ZENDESK_EMAILS.len(), 0..=1),
        0..=5u64,
    );
    (orgs, users, protected)
        .prop_map(|(orgs, users, protected)| build_desired(orgs, users, protected))
}

fn build_desired(
    orgs: Vec<Option<usize>>,
    users: Vec<UserSpec>,
    (protected_emails, protected_id): (Vec<usize>, u64),
) -> DesiredState {
    let mut d = DesiredState::default();
    for (i, agency) in orgs.iter().enumerate() {
        if let Some(a) = agency {
            d.orgs.insert(
                OrgKey::new(PAGES_ORGS[i]).unwrap(),
                DesiredOrg {
                    name: PAGES_ORGS[i].into(),
                    details: AGENCIES[*a].into(),
                },
            );
        }
    }
    for (e, pages_id, roles) in users {
        let email = email(PAGES_EMAILS[e]);
        let roles: Roles = d.roles_by_key(
            roles
                .into_iter()
                .map(|(o, m)| {
                    (
                        OrgKey::new(PAGES_ORGS[o]).unwrap(),
                        if m { Role::Manager } else { Role::User },
                    )
                })
                .filter(|(k, _)| d.orgs.contains_key(k)),
        );
        // Users without an organization are not partner users.
        if roles.is_empty() || d.users.contains_key(&email) {
            continue;
        }
        d.users.insert(
            email.clone(),
            DesiredUser {
                pages_id,
                email,
                roles,
                line: 2,
            },
        );
    }
    d.protected_emails = protected_emails
        .iter()
        .map(|i| email(ZENDESK_EMAILS[*i]))
        .collect();
    if protected_id > 3 {
        d.protected_external_ids
            .insert(format!("PAGES-USER-{}", protected_id - 3));
    }
    d
}

type ZendeskUserSpec = (usize, usize, usize, usize, (bool, bool), Vec<usize>, bool);

fn actual_state() -> impl Strategy<Value = ActualState> {
    let orgs = proptest::collection::vec((0..ZENDESK_ORGS.len(), 0..DETAILS.len()), 0..=4);
    let users = proptest::collection::vec(
        (
            0..ROLES.len(),
            0..NAMES.len(),
            0..EXTERNAL_IDS.len(),
            0..ROLES_TEXTS.len(),
            (any::<bool>(), any::<bool>()),
            proptest::collection::vec(0..ZENDESK_EMAILS.len(), 0..=2),
            any::<bool>(),
        ),
        0..=5,
    );
    let memberships = proptest::collection::vec((0..5usize, 0..4usize), 0..=10);
    (orgs, users, memberships).prop_map(|(o, u, m)| build_actual(o, u, m))
}

fn build_actual(
    orgs: Vec<(usize, usize)>,
    users: Vec<ZendeskUserSpec>,
    memberships: Vec<(usize, usize)>,
) -> ActualState {
    let mut a = ActualState::default();
    for (i, (name, details)) in orgs.into_iter().enumerate() {
        let id = 10 + i as u64;
        a.orgs.insert(
            id,
            ZendeskOrg {
                id,
                name: ZENDESK_ORGS[name].into(),
                details: DETAILS[details].map(Into::into),
            },
        );
    }
    // Zendesk keeps emails and external ids unique per account (external ids ignoring case).
    let mut emails_used = HashSet::new();
    let mut ext_used = HashSet::new();
    let mut identity_id = 1000;
    for (i, (role, name, ext, text, (vip, mgr), emails, first_primary)) in
        users.into_iter().enumerate()
    {
        let id = 100 + i as u64;
        let external_id = EXTERNAL_IDS[ext]
            .filter(|e| e.is_empty() || ext_used.insert(e.to_lowercase()))
            .map(Into::into);
        let mut identities = Vec::new();
        for e in emails {
            let address = email(ZENDESK_EMAILS[e]);
            if emails_used.insert(address.clone()) {
                identity_id += 1;
                identities.push(ZendeskIdentity {
                    id: identity_id,
                    primary: first_primary && identities.is_empty(),
                    email: address,
                });
            }
        }
        let mut tags = Vec::new();
        if vip {
            tags.push("vip".to_string());
        }
        if mgr {
            tags.push(policy().manager_tag);
        }
        a.users.insert(
            id,
            ZendeskUser {
                id,
                name: NAMES[name].into(),
                role: ROLES[role],
                external_id,
                roles_text: ROLES_TEXTS[text].map(Into::into),
                tags,
                suspended: false,
                identities,
            },
        );
    }
    let mut pairs = HashSet::new();
    for (i, (u, o)) in memberships.into_iter().enumerate() {
        let (user_id, org_id) = (100 + u as u64, 10 + o as u64);
        if a.users.contains_key(&user_id)
            && a.orgs.contains_key(&org_id)
            && pairs.insert((user_id, org_id))
        {
            let id = 500 + i as u64;
            a.memberships.insert(
                id,
                ZendeskMembership {
                    id,
                    user_id,
                    org_id,
                },
            );
        }
    }
    a
}

fn org_in_pages(desired: &DesiredState, actual: &ActualState, org_id: u64) -> bool {
    actual
        .orgs
        .get(&org_id)
        .and_then(|o| OrgKey::new(&o.name))
        .is_some_and(|k| desired.orgs.contains_key(&k))
}

fn protected(desired: &DesiredState, user: &ZendeskUser) -> bool {
    let ids: BTreeSet<String> = desired
        .protected_external_ids
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    user.identities
        .iter()
        .any(|i| desired.protected_emails.contains(&i.email))
        || user
            .external_id
            .as_ref()
            .is_some_and(|e| ids.contains(&e.to_lowercase()))
}

/// The cases the planner says it cannot fix: an email held by another Zendesk user than the
/// one the Pages user matched, an agent's or admin's primary email (never changed), or an
/// agent or admin without a name (never renamed).
fn needs_a_person(plan: &Plan, desired: &DesiredState, actual: &ActualState) -> bool {
    plan.notes.iter().any(|n| match n.kind {
        NoteKind::EmailOwnedByAnotherUser => true,
        // A staff login is never changed: unless the agent also holds the Pages email as
        // a secondary identity, that email then exists nowhere.
        NoteKind::StaffPrimaryEmailKept => actual.users.get(&n.zendesk_id).is_some_and(|u| {
            !u.identities
                .iter()
                .any(|i| desired.users.contains_key(&i.email))
        }),
        NoteKind::AgentOrAdminLeftAlone => actual
            .users
            .get(&n.zendesk_id)
            .is_some_and(|u| u.name.trim().is_empty()),
        _ => false,
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applying_a_plan_then_planning_again_changes_nothing(
        desired in desired_state(), actual in actual_state()
    ) {
        let first = plan(&desired, &actual, &policy());
        let after = apply_in_memory(&actual, &first);
        let second = plan(&desired, &after, &policy());
        prop_assert!(second.changes.is_empty(), "first: {first:#?}\nsecond: {second:#?}");
    }

    #[test]
    fn after_applying_every_criterion_passes_unless_the_plan_says_a_person_is_needed(
        desired in desired_state(), actual in actual_state()
    ) {
        let first = plan(&desired, &actual, &policy());
        let after = apply_in_memory(&actual, &first);
        let verification = verify(&desired, &after, &policy());
        prop_assert!(verification.verdict(Criterion::OrgsMatch).unwrap().passed);
        prop_assert_eq!(
            verification.all_passed(),
            !needs_a_person(&first, &desired, &actual),
            "plan: {:#?}\nverification: {:#?}", first, verification
        );
    }

    #[test]
    fn plans_never_touch_what_the_policies_protect(
        desired in desired_state(), actual in actual_state()
    ) {
        let p = plan(&desired, &actual, &policy());
        let held: HashSet<&EmailKey> =
            actual.users.values().flat_map(|u| u.identities.iter().map(|i| &i.email)).collect();
        for change in &p.changes {
            match change {
                Change::UpdateOrganization { org_id, .. } => {
                    prop_assert!(org_in_pages(&desired, &actual, *org_id));
                }
                Change::CreateUser { email, .. } => prop_assert!(!held.contains(email)),
                Change::UpdateUser { user_id, update } => {
                    let user = &actual.users[user_id];
                    if update.name.is_some() {
                        prop_assert_eq!(user.role, ZendeskRole::EndUser);
                        prop_assert!(user.name.trim().is_empty());
                    }
                    if update.external_id.is_some() {
                        prop_assert!(user.external_id.as_deref().is_none_or(|e| e.trim().is_empty()));
                    }
                    if let Some(tags) = &update.tags {
                        let others = |t: &Vec<String>| -> Vec<String> {
                            t.iter().filter(|t| **t != policy().manager_tag).cloned().collect()
                        };
                        prop_assert_eq!(others(tags), others(&user.tags));
                    }
                }
                Change::SetPrimaryEmail { user_id, email, identity_id } => match identity_id {
                    None => prop_assert!(!held.contains(email)),
                    Some(id) => prop_assert!(actual.users[user_id]
                        .identities
                        .iter()
                        .any(|i| i.id == *id && i.email == *email)),
                },
                Change::AddMembership { org, .. } => match org {
                    OrgRef::Existing(id) => prop_assert!(org_in_pages(&desired, &actual, *id)),
                    OrgRef::New(key) => prop_assert!(desired.orgs.contains_key(key)),
                },
                Change::RemoveMembership { membership_id, user_id, org_id } => {
                    let m = actual.memberships[membership_id];
                    prop_assert_eq!((m.user_id, m.org_id), (*user_id, *org_id));
                    prop_assert!(org_in_pages(&desired, &actual, *org_id));
                    let user = &actual.users[user_id];
                    prop_assert_eq!(user.role, ZendeskRole::EndUser);
                    prop_assert!(!protected(&desired, user));
                }
                Change::CreateOrganization { key, .. } => prop_assert!(desired.orgs.contains_key(key)),
            }
        }
    }

    #[test]
    fn the_guard_trips_exactly_when_a_limit_is_exceeded(
        desired in desired_state(),
        actual in actual_state(),
        max_pct in 0..=100u32,
        min_pct in 0..=100u32,
    ) {
        let p = plan(&desired, &actual, &policy());
        let limits = GuardLimits {
            max_membership_removal_percent: max_pct as f64,
            min_users_report_percent: min_pct as f64,
            allow_mass_removal: false,
        };
        let managed = actual
            .memberships
            .values()
            .filter(|m| org_in_pages(&desired, &actual, m.org_id) && actual.users[&m.user_id].role == ZendeskRole::EndUser)
            .collect::<Vec<_>>();
        let partner_users: HashSet<u64> = managed.iter().map(|m| m.user_id).collect();
        let removals = p.changes.iter().filter(|c| matches!(c, Change::RemoveMembership { .. })).count();
        let report = desired.users.len();
        let expected_trip = removals > 0
            && (removals * 100 > max_pct as usize * managed.len()
                || report * 100 < min_pct as usize * partner_users.len()
                || report == 0);
        let result = check(&p, &desired, &actual, &limits);
        prop_assert_eq!(result.is_err(), expected_trip, "{:?}", result);
        let allowed = GuardLimits { allow_mass_removal: true, ..limits };
        prop_assert!(check(&p, &desired, &actual, &allowed).is_ok());
    }
}

/// The properties above are only worth something if the generator reaches both the clean
/// cases and the ones a person must fix, with real work to do.
#[test]
fn generated_worlds_reach_clean_conflicting_and_removing_cases() {
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let strategy = (desired_state(), actual_state());
    let (mut clean_with_work, mut needs_person, mut removing) = (0, 0, 0);
    for _ in 0..400 {
        let (desired, actual) = strategy.new_tree(&mut runner).unwrap().current();
        let p = plan(&desired, &actual, &policy());
        if needs_a_person(&p, &desired, &actual) {
            needs_person += 1;
        } else if !p.is_empty() {
            clean_with_work += 1;
        }
        if p.changes
            .iter()
            .any(|c| matches!(c, Change::RemoveMembership { .. }))
        {
            removing += 1;
        }
    }
    assert!(
        clean_with_work >= 80,
        "clean plans with changes: {clean_with_work}/400"
    );
    assert!(
        needs_person >= 20,
        "plans needing a person: {needs_person}/400"
    );
    assert!(removing >= 20, "plans removing memberships: {removing}/400");
}
