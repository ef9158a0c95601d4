//! The generated Pages side of the benchmarks: organizations and users as plain rows,
//! written as the two CSV reports or built directly as the desired state. Included with
//! `#[path]` by `benches/parse_and_plan.rs` and `examples/write_reports.rs`.

use std::fmt::Write as _;

use pages_zendesk_sync::model::{
    DesiredOrg, DesiredState, DesiredUser, EmailKey, OrgKey, Role, Roles,
};

/// The Pages side as plain rows, from which both the CSV reports and the desired state
/// (plan-only mode) are made, so both modes plan the same world.
pub(crate) struct World {
    pub orgs: Vec<(String, String)>,
    /// (Pages id, email, [(org index, manager)]); an empty list is a user without org.
    pub users: Vec<PagesRow>,
}

/// Pages id, email, and (organization index, manager) per organization.
pub(crate) type PagesRow = (u64, String, Vec<(usize, bool)>);

impl World {
    pub(crate) fn generate(users: usize) -> Self {
        let n_orgs = (users / 10).max(1);
        let orgs = (0..n_orgs)
            .map(|i| {
                (
                    format!("Agency {i}, Office: Web & Cloud {}", i % 13),
                    if i % 17 == 0 {
                        String::new()
                    } else {
                        format!("Department {}", i % 97)
                    },
                )
            })
            .collect();
        let users = (0..users)
            .map(|i| {
                let first = (i * 7919) % n_orgs;
                let mut roles = vec![(first, i % 7 == 0)];
                if i % 2 == 1 {
                    let second = (first + 1 + (i % 5)) % n_orgs;
                    if second != first {
                        roles.push((second, false));
                    }
                }
                if i % 101 == 0 {
                    roles.clear(); // not a partner user: skipped by the parser
                }
                (
                    i as u64 + 1,
                    format!("first{i}.last@agency{}.gov", i % 211),
                    roles,
                )
            })
            .collect();
        World { orgs, users }
    }

    pub(crate) fn csv(&self) -> (Vec<u8>, Vec<u8>) {
        let mut orgs = String::from("\"Organization\",\"Agency\",\"Self Authorized\"\n");
        for (i, (name, agency)) in self.orgs.iter().enumerate() {
            let _ = writeln!(orgs, "\"{name}\",\"{agency}\",{}", i % 2 == 0);
        }
        let mut users = String::from(
            "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n",
        );
        for (id, email, roles) in &self.users {
            let names: Vec<&str> = roles
                .iter()
                .map(|(o, _)| self.orgs[*o].0.as_str())
                .collect();
            let details: Vec<String> = roles
                .iter()
                .map(|(o, m)| {
                    format!(
                        "{}: {}",
                        self.orgs[*o].0,
                        if *m { "manager" } else { "user" }
                    )
                })
                .collect();
            let _ = writeln!(
                users,
                "{id},\"{email}\",\"{}\",\"{}\",\"2024-03-05T14:07:09.123Z\",\"2026-10-30T09:12:44.001Z\"",
                names.join("|"),
                details.join(", "),
            );
        }
        (orgs.into_bytes(), users.into_bytes())
    }

    pub(crate) fn desired(&self) -> DesiredState {
        let mut d = DesiredState::default();
        let keys: Vec<OrgKey> = self
            .orgs
            .iter()
            .map(|(n, _)| OrgKey::new(n).unwrap())
            .collect();
        // Collected (sorted by key), not inserted one by one in generation order.
        d.orgs = self
            .orgs
            .iter()
            .zip(&keys)
            .map(|((name, agency), key)| {
                let org = DesiredOrg {
                    name: name.clone(),
                    details: agency.clone(),
                };
                (key.clone(), org)
            })
            .collect();
        // Roles name organizations by their position in key order.
        let position: Vec<u32> = keys
            .iter()
            .map(|k| {
                d.org_position(k)
                    .expect("every generated organization is kept")
            })
            .collect();
        // Collected, not inserted one by one: the users are generated in id order, and
        // the desired users are a vector sorted by email (an insert shifts what follows).
        d.users = self
            .users
            .iter()
            .enumerate()
            .filter(|(_, (_, _, roles))| !roles.is_empty())
            .map(|(line, (id, email, roles))| {
                let email = EmailKey::parse(email).unwrap();
                let roles: Roles = roles
                    .iter()
                    .map(|(o, m)| (position[*o], if *m { Role::Manager } else { Role::User }))
                    .collect();
                let user = DesiredUser {
                    pages_id: *id,
                    email: email.clone(),
                    roles,
                    line: line as u64 + 2,
                };
                (email, user)
            })
            .collect();
        d
    }
}
