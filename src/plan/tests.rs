//! Planner behaviour, one rule per test, from small builders; plans are snapshots
//! (inline where they are short).
//!
//! Most tests start from a Zendesk that is in step with the desired state, derived from it
//! by [`in_step_with`], and change one thing on one side.

use insta::assert_debug_snapshot;

use super::builders::{actual, desired, policy, ActualBuilder, DesiredBuilder, Manager, User};
use super::simulate::apply_in_memory;
use super::{plan, Plan};
use crate::model::ZendeskRole;
use crate::verify::verify;

/// What a perfect previous run leaves in Zendesk for `d`: every organization with its
/// agency as details (ids from 10, in key order), every user as an end-user (ids from 20,
/// in email order) named from its email, with its external id, canonical roles text, the
/// manager tag when it manages an organization, and a membership per organization.
fn in_step_with(d: &DesiredBuilder) -> ActualBuilder {
    let d = &d.state();
    let mut a = actual();
    let mut org_ids = std::collections::BTreeMap::new();
    for (id, (key, org)) in (10..).zip(&d.orgs) {
        a = a.org(id, &org.name, Some(&org.details));
        org_ids.insert(key, id);
    }
    for (id, user) in (20..).zip(d.users.values()) {
        a = a
            .user(id, &user.name(), user.email.as_str())
            .external_id(id, &policy().external_id(user.pages_id))
            .roles_text(id, &d.roles_text(user));
        if user.is_manager() {
            a = a.tags(id, &[&policy().manager_tag]);
        }
        for (key, _) in d.roles_of(user) {
            a = a.member(id, org_ids[key]);
        }
    }
    a
}

/// Jane manages Agency A in Pages and Zendesk holds exactly that: Agency A is
/// organization 10, Jane user 20, her membership 900.
fn in_step() -> (DesiredBuilder, ActualBuilder) {
    let d = desired()
        .org("Agency A", "A")
        .user("jane@x.gov", 1, &[("Agency A", Manager)]);
    let a = in_step_with(&d);
    (d, a)
}

/// The derived state is what the planner's own writes lead to: planning from an empty
/// Zendesk, applying in memory, gives the same organizations, users and memberships.
#[test]
fn the_derived_in_step_state_is_what_a_first_run_leaves() {
    let (d, a) = in_step();
    let (d, a) = (d.build(), a.build());
    let empty = actual().build();
    let after = apply_in_memory(&empty, &plan(&d, &empty, &policy()));
    let orgs = |s: &crate::model::ActualState| -> Vec<_> {
        s.orgs
            .values()
            .map(|o| (o.name.clone(), o.details.clone()))
            .collect()
    };
    let users = |s: &crate::model::ActualState| -> Vec<_> {
        s.users
            .values()
            .map(|u| {
                let emails: Vec<_> = u.identities.iter().map(|i| i.email.clone()).collect();
                let m = s.memberships.values().filter(|m| m.user_id == u.id).count();
                (
                    u.name.clone(),
                    emails,
                    u.external_id.clone(),
                    u.roles_text.clone(),
                    u.tags.clone(),
                    m,
                )
            })
            .collect()
    };
    assert_eq!(orgs(&after), orgs(&a));
    assert_eq!(users(&after), users(&a));
}

fn plan_of(d: DesiredBuilder, a: ActualBuilder) -> Plan {
    plan(&d.build(), &a.build(), &policy())
}

#[test]
fn a_zendesk_in_step_with_pages_needs_no_change() {
    let (d, a) = in_step();
    let (d, a) = (d.build(), a.build());
    assert_eq!(plan(&d, &a, &policy()), Plan::default());
    assert!(verify(&d, &a, &policy()).all_passed());
}

#[test]
fn a_missing_organization_is_created_with_its_agency_as_details() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d.org("Dept. of Tests, Office: X", "Dept"), a), @r#"
    Plan {
        changes: [
            CreateOrganization {
                key: "dept. of tests, office: x",
                name: "Dept. of Tests, Office: X",
                details: "Dept",
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn an_organization_with_other_details_is_updated() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d, a.org(10, "Agency A", Some("Old agency"))), @r#"
    Plan {
        changes: [
            UpdateOrganization {
                org_id: 10,
                details: "A",
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn missing_details_read_as_an_empty_agency() {
    let d = desired().org("Agency B", "");
    let a = in_step_with(&d).org(10, "Agency B", None);
    assert!(plan_of(d, a).is_empty());
}

#[test]
fn organizations_match_by_name_ignoring_case_and_space_and_are_never_renamed() {
    let d = desired().org("Agency B", "B");
    let a = in_step_with(&d).org(10, "  AGENCY b ", Some("B"));
    assert_eq!(plan_of(d, a), Plan::default());
}

#[test]
fn zendesk_organizations_not_in_pages_are_noted_and_kept() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(
        d,
        a.org(12, "Old org", Some("X")).org(13, "", None)
    ), @r#"
    Plan {
        changes: [],
        notes: [
            Note {
                kind: OrganizationNotInPages,
                zendesk_id: 12,
            },
            Note {
                kind: OrganizationNotInPages,
                zendesk_id: 13,
            },
        ],
    }
    "#);
}

#[test]
fn of_two_zendesk_organizations_with_one_name_the_lowest_id_is_used() {
    let d = desired()
        .org("Agency A", "A")
        .user("jane@x.gov", 1, &[("Agency A", User)]);
    let a = actual()
        .org(15, "agency a", Some("old"))
        .org(14, "Agency A", Some("older"));
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn a_new_user_is_created_with_roles_text_and_the_manager_tag() {
    let (d, a) = in_step();
    let d = d
        .org("Agency B", "B")
        .user(
            "sam.o-neil@y.gov",
            2,
            &[("Agency B", User), ("Agency A", Manager)],
        )
        .user("kim@y.gov", 3, &[("Agency B", User)]);
    assert_debug_snapshot!(plan_of(d, a.org(11, "Agency B", Some("B"))));
}

#[test]
fn a_pages_email_that_is_a_secondary_identity_matches_that_user_and_becomes_primary() {
    // Matched by email only: the Zendesk user has no external id yet.
    let d = desired()
        .org("Agency A", "A")
        .user("jane@x.gov", 1, &[("Agency A", User)]);
    let a = in_step_with(&d)
        .primary_email(20, "jane.doe@old.gov")
        .identity(20, "JANE@x.gov")
        .without_external_id(20);
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn a_user_found_by_external_id_gets_the_new_pages_email_as_primary() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d, a.primary_email(20, "jane@old.gov")), @r#"
    Plan {
        changes: [
            SetPrimaryEmail {
                user_id: 20,
                email: "jane@x.gov",
                identity_id: None,
            },
        ],
        notes: [],
    }
    "#);
}

/// docs/design.md "Never lose data": never change the role, name, suspension or primary
/// email of a Zendesk agent or admin; a staff login is left for a person to decide.
#[test]
fn an_agents_or_admins_primary_email_is_never_changed_and_needs_a_person() {
    for role in [ZendeskRole::Agent, ZendeskRole::Admin] {
        let (d, a) = in_step();
        let a = a.role(20, role).primary_email(20, "jane@old.gov");
        let p = plan_of(d, a);
        assert!(
            !p.changes
                .iter()
                .any(|c| matches!(c, super::Change::SetPrimaryEmail { .. })),
            "{p:#?}"
        );
        assert!(p.notes.contains(&super::Note {
            kind: super::NoteKind::StaffPrimaryEmailKept,
            zendesk_id: 20
        }));
    }
}

#[test]
fn a_secondary_identity_becomes_primary_when_the_user_is_found_by_external_id() {
    let (d, a) = in_step();
    let a = a
        .primary_email(20, "jane@old.gov")
        .identity(20, "jane@x.gov");
    assert_debug_snapshot!(plan_of(d, a), @r#"
    Plan {
        changes: [
            SetPrimaryEmail {
                user_id: 20,
                email: "jane@x.gov",
                identity_id: Some(
                    2001,
                ),
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn an_email_held_by_another_user_is_noted_and_the_rest_of_the_user_still_syncs() {
    let (d, _) = in_step();
    let a = actual()
        .org(10, "Agency A", Some("A"))
        .user(20, "Jane Doe", "jane@old.gov")
        .external_id(20, "pages-user-1")
        .user(21, "Other Jane", "jane@x.gov");
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn external_ids_match_ignoring_case() {
    let (d, a) = in_step();
    assert!(plan_of(d, a.external_id(20, "PAGES-User-1")).is_empty());
}

#[test]
fn the_external_id_is_stamped_when_the_user_has_none() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d, a.external_id(20, " ")), @r#"
    Plan {
        changes: [
            UpdateUser {
                user_id: 20,
                update: UserUpdate {
                    name: None,
                    external_id: Some(
                        "pages-user-1",
                    ),
                    roles_text: None,
                    tags: None,
                },
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn an_external_id_someone_else_set_is_kept_and_noted() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d, a.external_id(20, "crm-77")), @r#"
    Plan {
        changes: [],
        notes: [
            Note {
                kind: ExternalIdKept,
                zendesk_id: 20,
            },
        ],
    }
    "#);
}

#[test]
fn an_external_id_held_by_another_user_is_not_stamped() {
    // Two Pages rows with one id (a broken report): the id identifies neither, so both
    // match by email, and the Zendesk user without it is not given it.
    let d = desired()
        .org("Agency A", "A")
        .user("ann@x.gov", 7, &[("Agency A", User)])
        .user("bob@x.gov", 7, &[("Agency A", User)]);
    let a = actual()
        .org(10, "Agency A", Some("A"))
        .user(20, "Ann", "ann@x.gov")
        .external_id(20, "pages-user-7")
        .roles_text(20, "Agency A: user")
        .member(20, 10)
        .user(21, "Bob", "bob@x.gov")
        .roles_text(21, "Agency A: user")
        .member(21, 10);
    assert_debug_snapshot!(plan_of(d, a), @r#"
    Plan {
        changes: [],
        notes: [
            Note {
                kind: ExternalIdOwnedByAnotherUser,
                zendesk_id: 21,
            },
        ],
    }
    "#);
}

#[test]
fn a_named_user_keeps_its_name_and_a_blank_name_is_filled() {
    let (d, _) = in_step();
    let d = d.user("sam.smith@x.gov", 2, &[("Agency A", User)]);
    let a = in_step_with(&d).name(20, "J. D. (support)").name(21, "  ");
    assert_debug_snapshot!(plan_of(d, a), @r#"
    Plan {
        changes: [
            UpdateUser {
                user_id: 21,
                update: UserUpdate {
                    name: Some(
                        "Sam Smith",
                    ),
                    external_id: None,
                    roles_text: None,
                    tags: None,
                },
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn the_manager_tag_is_added_to_the_tags_the_user_already_has() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(d, a.tags(20, &["vip", "escalated"])));
}

#[test]
fn the_manager_tag_is_removed_from_a_former_manager_and_other_tags_stay() {
    let (_, a) = in_step();
    let d = desired()
        .org("Agency A", "A")
        .user("jane@x.gov", 1, &[("Agency A", User)]);
    assert_debug_snapshot!(plan_of(d, a.tags(20, &["vip", "pages_org_manager", "zz"])));
}

#[test]
fn agents_and_admins_get_roles_tag_and_memberships_but_never_a_name() {
    let d = desired()
        .org("Agency A", "A")
        .user("agent@x.gov", 1, &[("Agency A", Manager)])
        .user("admin@x.gov", 2, &[("Agency A", User)]);
    let a = actual()
        .org(10, "Agency A", Some("A"))
        .agent(20, "", "agent@x.gov")
        .admin(21, "Admin", "admin@x.gov")
        .external_id(21, "pages-user-2");
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn memberships_are_added_for_new_users_and_new_organizations() {
    let (d, a) = in_step();
    let d = d
        .org("Agency B", "B")
        .user(
            "jane@x.gov",
            1,
            &[("Agency A", Manager), ("Agency B", User)],
        )
        .user("kim@y.gov", 3, &[("Agency A", User)]);
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn an_end_user_no_longer_in_a_pages_org_is_removed_from_it() {
    let (d, a) = in_step();
    let d = d.org("Agency B", "B");
    assert_debug_snapshot!(plan_of(d, a.org(11, "Agency B", Some("B")).member(20, 11)), @r#"
    Plan {
        changes: [
            RemoveMembership {
                membership_id: 901,
                user_id: 20,
                org_id: 11,
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn end_users_missing_from_the_users_report_are_removed_from_pages_orgs() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(
        d,
        a.user(30, "Ex Partner", "ex@x.gov").member(30, 10)
    ), @r#"
    Plan {
        changes: [
            RemoveMembership {
                membership_id: 901,
                user_id: 30,
                org_id: 10,
            },
        ],
        notes: [],
    }
    "#);
}

#[test]
fn memberships_in_organizations_pages_does_not_manage_are_never_touched() {
    let (d, a) = in_step();
    let a = a
        .org(12, "Help desk", None)
        .member(20, 12)
        .user(30, "Someone", "someone@x.gov")
        .member(30, 12);
    let plan = plan_of(d, a);
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn agent_memberships_in_pages_orgs_are_kept_and_noted() {
    let (d, a) = in_step();
    assert_debug_snapshot!(plan_of(
        d,
        a.agent(30, "Support", "support@x.gov").member(30, 10)
    ), @r#"
    Plan {
        changes: [],
        notes: [
            Note {
                kind: NonEndUserMembershipKept,
                zendesk_id: 30,
            },
        ],
    }
    "#);
}

#[test]
fn users_whose_report_row_was_skipped_keep_their_memberships() {
    let (d, a) = in_step();
    let d = d
        .protected_email("bad.row@x.gov")
        .protected_external_id("pages-user-9");
    let a = a
        .user(30, "Bad Row", "bad.row@x.gov")
        .member(30, 10)
        .user(31, "Bad Id", "other@x.gov")
        .external_id(31, "PAGES-USER-9")
        .member(31, 10);
    assert_debug_snapshot!(plan_of(d, a), @r#"
    Plan {
        changes: [],
        notes: [
            Note {
                kind: ProtectedMembershipKept,
                zendesk_id: 30,
            },
            Note {
                kind: ProtectedMembershipKept,
                zendesk_id: 31,
            },
        ],
    }
    "#);
}

#[test]
fn two_pages_emails_of_one_zendesk_user_match_its_primary_and_note_the_other() {
    let d = desired()
        .org("Agency A", "A")
        .user("a.second@x.gov", 2, &[("Agency A", User)])
        .user("b.primary@x.gov", 1, &[("Agency A", Manager)]);
    let a = actual()
        .org(10, "Agency A", Some("A"))
        .user(20, "B", "b.primary@x.gov")
        .identity(20, "a.second@x.gov");
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn changes_come_in_dependency_order_and_sorted_within_each_kind() {
    let d = desired()
        .org("Zeta", "Z")
        .org("Alpha", "A")
        .org("Mid", "M")
        .user("zed@x.gov", 3, &[("Zeta", User), ("Alpha", Manager)])
        .user("amy@x.gov", 1, &[("Mid", User)])
        .user("old@x.gov", 2, &[("Mid", User)]);
    let a = actual()
        .org(10, "Mid", Some("wrong"))
        .user(22, "Old", "old@x.gov")
        .user(21, "", "gone@x.gov")
        .external_id(21, "pages-user-1")
        .org(11, "Alpha", Some("A"))
        .member(21, 11)
        .member(22, 11);
    assert_debug_snapshot!(plan_of(d, a));
}

#[test]
fn a_plan_applied_then_planned_again_is_empty_and_verifies() {
    let d = desired()
        .org("Zeta", "Z")
        .org("Alpha", "A")
        .user("zed@x.gov", 3, &[("Zeta", User), ("Alpha", Manager)])
        .user("amy@x.gov", 1, &[("Alpha", User)])
        .user("new@x.gov", 4, &[("Zeta", Manager)])
        .build();
    let a = actual()
        .org(11, "Alpha", None)
        .user(21, "", "amy.old@x.gov")
        .external_id(21, "pages-user-1")
        .identity(21, "amy@x.gov")
        .user(22, "Zed", "zed@x.gov")
        .tags(22, &["vip"])
        .member(22, 11)
        .user(23, "Gone", "gone@x.gov")
        .member(23, 11)
        .build();
    let first = plan(&d, &a, &policy());
    assert!(!first.is_empty());
    let after = apply_in_memory(&a, &first);
    assert_eq!(plan(&d, &after, &policy()).changes, vec![]);
    let verification = verify(&d, &after, &policy());
    assert!(verification.all_passed(), "{verification:#?}");
    assert!(!verify(&d, &a, &policy()).all_passed());
}

#[test]
fn the_planner_writes_the_canonical_roles_text_of_the_model() {
    let d = desired()
        .org("Zeta, Office: Z", "Z")
        .org("alpha", "A")
        .user(
            "zed@x.gov",
            3,
            &[("Zeta, Office: Z", User), ("ALPHA", Manager)],
        )
        .user("amy@x.gov", 1, &[("alpha", User)])
        .build();
    let a = crate::model::ActualState::default();
    let matching = super::matching::Matching::new(&d, &a, &policy().external_id_prefix);
    for (i, (user, _)) in matching.users.iter().enumerate() {
        let text = d.roles_text(user);
        assert_eq!(matching.roles_text(i), text);
        assert!(matching.roles_text_is(i, &text));
        assert!(!matching.roles_text_is(i, &text[..text.len() - 1]));
        assert!(!matching.roles_text_is(i, &format!("{text}, ")));
        assert!(!matching.roles_text_is(i, ""));
    }
    assert_eq!(
        matching.roles_text(1),
        "alpha: manager, Zeta, Office: Z: user"
    );
}

/// The users' work is shared by two threads in parts, each sorted on its own: whatever the
/// part size, the plan is the one of a single part, on a world where every kind of user
/// change and note happens in several parts.
#[test]
fn the_plan_is_the_same_whatever_the_size_of_the_users_parts() {
    let mut d = desired().org("Agency A", "A").org("Agency B", "B");
    for n in 0..24 {
        let roles: &[(&str, crate::model::Role)] = match n % 3 {
            0 => &[("Agency A", Manager)],
            1 => &[("Agency A", User), ("Agency B", User)],
            _ => &[("Agency B", Manager)],
        };
        d = d.user(&format!("user{n:02}@x.gov"), 100 + n, roles);
    }
    let mut a = in_step_with(&d);
    // Ids from 20 in email order: user `n` is Zendesk user 20 + n.
    for n in 0..24u64 {
        let id = 20 + n;
        a = match n % 8 {
            0 => a.primary_email(id, &format!("old{n}@x.gov")),
            1 => a.roles_text(id, "stale"),
            2 => a.tags(id, &["other"]),
            3 => a.name(id, " "),
            4 => a
                .role(id, ZendeskRole::Agent)
                .primary_email(id, &format!("was{n}@x.gov")),
            5 => a.without_external_id(id),
            6 => a.member(id, 11),
            _ => a,
        };
    }
    // Users Zendesk lacks, and an email another Zendesk user holds.
    let d = d
        .user("new1@x.gov", 200, &[("Agency A", User)])
        .user("new2@x.gov", 201, &[("Agency B", Manager)])
        .user("taken@x.gov", 202, &[("Agency A", User)]);
    let a = a
        .user(90, "Holder", "holder@x.gov")
        .identity(90, "taken@x.gov");
    let (d, a) = (d.build(), a.build());

    let whole = super::plan_in_parts(&d, &a, &policy(), usize::MAX);
    assert!(
        whole.changes.len() > 20 && whole.notes.len() > 3,
        "{whole:#?}"
    );
    for part in [1, 2, 3, 5, 7] {
        assert_eq!(
            super::plan_in_parts(&d, &a, &policy(), part),
            whole,
            "part {part}"
        );
    }
}
