//! Parser tests: one behaviour per test, on small invented reports
//! (tests/fixtures/reports/ and inline text).

use super::*;
use crate::model::{EmailKey, OrgKey, Role};

const ORGS: &[u8] = include_bytes!("../../tests/fixtures/reports/organizations.csv");
const USERS: &[u8] = include_bytes!("../../tests/fixtures/reports/users.csv");
const USERS_HEADER: &str =
    "\"ID\",\"Email\",\"Organizations\",\"Details\",\"Created\",\"Last Signed In\"\n";

fn parse_both(orgs: &[u8], users: &[u8]) -> Result<Reports, SourceError> {
    parse(
        orgs,
        "organizations.csv",
        users,
        "users.csv",
        &Policy::default(),
    )
}

/// Parses users rows (after the standard header) against the fixture organizations.
fn users(rows: &str) -> Reports {
    parse_both(ORGS, format!("{USERS_HEADER}{rows}").as_bytes()).expect("reports parse")
}

fn users_error(bytes: &[u8]) -> SourceError {
    parse_both(ORGS, bytes).expect_err("a file-level error")
}

fn orgs_error(bytes: &[u8]) -> SourceError {
    parse_both(bytes, USERS).expect_err("a file-level error")
}

fn email(s: &str) -> EmailKey {
    EmailKey::parse(s).unwrap()
}

fn org(s: &str) -> OrgKey {
    OrgKey::new(s).unwrap()
}

fn problems(reports: &Reports) -> Vec<(ReportKind, u64, RowProblem)> {
    reports
        .issues
        .iter()
        .map(|i| (i.report, i.line, i.problem))
        .collect()
}

// --- the well-formed reports ---------------------------------------------------------

#[test]
fn the_fixture_reports_give_this_desired_state() {
    let reports = parse_both(ORGS, USERS).unwrap();
    insta::assert_yaml_snapshot!(reports);
}

#[test]
fn organizations_are_keyed_by_trimmed_lowercased_name_with_the_agency_as_details() {
    let reports = parse_both(ORGS, USERS).unwrap();
    let padded = &reports.desired.orgs[&org("padded-org")];
    assert_eq!(padded.name, "padded-org");
    assert_eq!(padded.details, "Agency D");
    assert_eq!(reports.desired.orgs[&org("économie numérique")].details, "");
    assert_eq!(reports.desired.orgs.len(), 6);
}

#[test]
fn details_are_walked_along_names_with_commas_colons_ampersands_parentheses_and_accents() {
    let reports = parse_both(ORGS, USERS).unwrap();
    let pat = &reports.desired.users[&email("pat.lee@example.gov")];
    let expected = [
        (org("Research & Development (R&D)"), Role::User),
        (org("Tribunal: user, appeals"), Role::Manager),
        (org("Économie numérique"), Role::User),
    ];
    let d = &reports.desired;
    assert_eq!(
        d.roles_of(pat).collect::<Vec<_>>(),
        expected.iter().map(|(k, r)| (k, *r)).collect::<Vec<_>>()
    );
    let jane = &d.users[&email("jane.doe@agency-a.example.gov")];
    assert_eq!(
        d.role(jane, &org("Dept. of Examples, Office of Tests")),
        Some(Role::User)
    );
    assert_eq!(d.role(jane, &org("agency-a-web")), Some(Role::Manager));
}

#[test]
fn an_organization_named_with_colon_user_comma_is_not_split() {
    let reports = users(
        "5,\"a@example.gov\",\"Tribunal: user, appeals|agency-a-web\",\"Tribunal: user, appeals: user, agency-a-web: manager\",,\n",
    );
    assert!(reports.issues.is_empty(), "{:?}", reports.issues);
    let a = &reports.desired.users[&email("a@example.gov")];
    let d = &reports.desired;
    assert_eq!(d.role(a, &org("Tribunal: user, appeals")), Some(Role::User));
    assert_eq!(d.role(a, &org("agency-a-web")), Some(Role::Manager));
}

#[test]
fn users_get_the_prefixed_pages_id_and_a_name_from_their_email() {
    let policy = Policy {
        external_id_prefix: "pz-".into(),
        ..Policy::default()
    };
    let reports = parse(ORGS, "o", USERS, "u", &policy).unwrap();
    let lee = &reports.desired.users[&email("lee_o-neil+pages@example.gov")];
    assert_eq!(lee.pages_id, 21);
    assert_eq!(policy.external_id(lee.pages_id), "pz-21");
    assert_eq!(lee.name(), "Lee O Neil");
    assert_eq!(lee.line, 6);
}

#[test]
fn organization_names_in_the_users_report_match_ignoring_case_and_padding() {
    let reports = users("5,\"a@example.gov\",\" AGENCY-A-WEB \",\"Agency-A-Web: user\",,\n");
    assert!(reports.issues.is_empty(), "{:?}", reports.issues);
    let d = &reports.desired;
    assert_eq!(
        d.role(&d.users[&email("a@example.gov")], &org("agency-a-web")),
        Some(Role::User)
    );
}

#[test]
fn users_without_organizations_are_counted_and_not_reported_even_without_email() {
    let reports = users(
        "1,\"\",\"\",\"\",,\n2,\"x@example.gov\",\"\",\"\",,\n3,\"not an email\",\"\",\"\",,\n",
    );
    assert!(reports.issues.is_empty());
    assert!(reports.desired.users.is_empty());
    assert_eq!(reports.stats.users_without_organization, 3);
    assert_eq!(reports.stats.user_rows, 3);
}

#[test]
fn the_stats_count_rows_partner_users_memberships_and_managers() {
    let reports = parse_both(ORGS, USERS).unwrap();
    assert_eq!(
        reports.stats,
        SourceStats {
            organization_rows: 6,
            user_rows: 5,
            users_without_organization: 2,
            partner_users: 3,
            memberships: 6,
            managers: 2,
            ..SourceStats::default()
        }
    );
}

// --- forgiving where exports vary ----------------------------------------------------

#[test]
fn a_byte_order_mark_and_crlf_line_endings_are_accepted() {
    let orgs = include_bytes!("../../tests/fixtures/reports/organizations-bom-crlf.csv");
    let users = format!("\u{feff}{}", USERS_HEADER.replace('\n', "\r\n"))
        + "5,\"a@example.gov\",\"agency-a-web\",\"agency-a-web: user\",,\r\n";
    let reports = parse_both(orgs, users.as_bytes()).unwrap();
    assert_eq!(
        reports.desired.orgs[&org("agency-a-web")].details,
        "Agency A"
    );
    assert_eq!(reports.desired.users[&email("a@example.gov")].line, 2);
}

#[test]
fn header_names_match_trimmed_and_ignoring_case_in_any_order_with_extra_columns() {
    let users = "\" details \",EMAIL,Extra,organizations,id\n\
                 \"agency-a-web: user\",a@example.gov,x,agency-a-web,5\n";
    let orgs = "agency, ORGANIZATION ,Notes\nAgency A,agency-a-web,n\n";
    let reports = parse_both(orgs.as_bytes(), users.as_bytes()).unwrap();
    assert_eq!(reports.desired.users[&email("a@example.gov")].pages_id, 5);
    assert_eq!(
        reports.desired.orgs[&org("agency-a-web")].details,
        "Agency A"
    );
}

#[test]
fn self_authorized_is_optional() {
    let orgs = "Organization,Agency\nagency-a-web,Agency A\n";
    let users = format!("{USERS_HEADER}5,a@example.gov,agency-a-web,agency-a-web: user,,\n");
    assert!(parse_both(orgs.as_bytes(), users.as_bytes()).is_ok());
}

#[test]
fn line_numbers_are_the_physical_lines_where_rows_start() {
    let orgs = include_bytes!("../../tests/fixtures/reports/organizations-multiline.csv");
    let reports = parse_both(orgs, USERS_HEADER.replace('\n', "\n9,,,,,\n").as_bytes()).unwrap();
    // Line 2's Agency spans two lines, so the duplicate of "first" starts on line 5.
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Organizations,
            5,
            RowProblem::DuplicateOrganization { first_line: 2 }
        )]
    );
    assert_eq!(
        reports.desired.orgs[&org("first")].details,
        "Agency\nwith a second line"
    );
}

// --- file-level errors ---------------------------------------------------------------

#[test]
fn an_empty_file_is_a_file_error() {
    let e = users_error(b"");
    assert_eq!((e.file.as_str(), e.line), ("users.csv", None));
    assert!(e.problem.contains("empty"), "{e}");
    assert!(orgs_error(b"\xef\xbb\xbf \r\n").problem.contains("empty"));
}

#[test]
fn a_header_without_data_rows_is_a_file_error() {
    let e = users_error(USERS_HEADER.as_bytes());
    assert!(e.problem.contains("no data rows"), "{e}");
    let e = orgs_error(b"Organization,Agency\n");
    assert_eq!(e.file, "organizations.csv");
    assert!(e.problem.contains("no data rows"), "{e}");
}

#[test]
fn a_missing_required_column_is_named() {
    let e = users_error(b"ID,Email,Organizations\n1,a@example.gov,x\n");
    assert_eq!(e.column.as_deref(), Some("Details"));
    assert_eq!(e.line, Some(1));
    let e = orgs_error(b"Organization,Self Authorized\nx,true\n");
    assert_eq!(e.column.as_deref(), Some("Agency"));
    let e = orgs_error(include_bytes!(
        "../../tests/fixtures/reports/wrong-header.csv"
    ));
    assert_eq!(e.column.as_deref(), Some("Organization"));
}

#[test]
fn nul_bytes_are_a_file_error_on_their_line() {
    let e = users_error(b"ID,Email\n1,a\x00b\n");
    assert_eq!(e.line, Some(2));
    assert!(e.problem.contains("binary"), "{e}");
}

#[test]
fn invalid_utf8_is_a_file_error_on_its_line() {
    let mut bytes = USERS_HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"1,\"caf\xe9@example.gov\",\"agency-a-web\",\"agency-a-web: user\",,\n",
    );
    let e = users_error(&bytes);
    assert_eq!(e.line, Some(2));
    assert!(e.problem.contains("UTF-8"), "{e}");
}

#[test]
fn a_row_with_a_different_number_of_fields_is_a_file_error_on_its_line() {
    let bytes = format!(
        "{USERS_HEADER}5,a@example.gov,agency-a-web,agency-a-web: user,,\n6,b@example.gov,agency-a-web,agency-a-web: user\n"
    );
    let e = users_error(bytes.as_bytes());
    assert_eq!(e.line, Some(3));
    assert!(e.problem.contains("4 fields"), "{e}");
}

#[test]
fn the_users_report_given_as_the_organizations_report_is_recognised() {
    let e = orgs_error(USERS);
    assert_eq!(e.file, "organizations.csv");
    assert!(e.problem.contains("this is the users report"), "{e}");
}

#[test]
fn the_organizations_report_given_as_the_users_report_is_recognised() {
    let e = users_error(ORGS);
    assert_eq!(e.file, "users.csv");
    assert!(
        e.problem.contains("this is the organizations report"),
        "{e}"
    );
}

#[test]
fn an_html_page_is_not_taken_for_a_report() {
    let e = users_error(b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n");
    assert!(e.problem.contains("HTML"), "{e}");
}

#[test]
fn file_errors_name_file_line_and_column_and_stay_typed_through_anyhow() {
    let e = users_error(b"ID,Email,Organizations\n1,a@example.gov,x\n");
    assert_eq!(
        e.to_string(),
        "users.csv line 1 column \"Details\": this required column is missing from the header row"
    );
    let any: anyhow::Error = e.clone().into();
    assert_eq!(any.downcast_ref::<SourceError>(), Some(&e));
}

// --- row-level problems --------------------------------------------------------------

#[test]
fn an_empty_organization_name_skips_the_row() {
    let orgs = "Organization,Agency\n\"  \",Agency A\nagency-a-web,\n";
    let reports = parse_both(
        orgs.as_bytes(),
        USERS_HEADER.replace('\n', "\n9,,,,,\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Organizations,
            2,
            RowProblem::EmptyOrganizationName
        )]
    );
    assert_eq!(reports.desired.orgs.len(), 1);
}

#[test]
fn a_duplicate_organization_name_ignoring_case_keeps_the_first_row() {
    let orgs = "Organization,Agency\nAgency-A-Web,First\nagency-a-web ,Second\n";
    let reports = parse_both(
        orgs.as_bytes(),
        USERS_HEADER.replace('\n', "\n9,,,,,\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Organizations,
            3,
            RowProblem::DuplicateOrganization { first_line: 2 }
        )]
    );
    let only = &reports.desired.orgs[&org("agency-a-web")];
    assert_eq!(
        (only.name.as_str(), only.details.as_str()),
        ("Agency-A-Web", "First")
    );
}

#[test]
fn an_invalid_email_skips_the_row() {
    let reports = users("5,\"jane@@example.gov\",agency-a-web,agency-a-web: user,,\n");
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Users,
            2,
            RowProblem::InvalidEmail {
                reason: crate::model::InvalidEmail::NoAt
            }
        )]
    );
    assert!(reports.desired.users.is_empty());
}

#[test]
fn a_user_with_organizations_but_no_sign_in_email_is_counted_not_a_row_problem() {
    // An empty Email cell is a user without a live sign-in identity: nothing to fix in
    // Pages, nobody to match in Zendesk (docs/design.md "Pages data").
    let reports = users(
        "5,\"  \",agency-a-web,agency-a-web: user,,\n6,\"\",agency-a-web,agency-a-web: manager,,\n",
    );
    assert!(reports.issues.is_empty(), "{:?}", reports.issues);
    assert!(reports.desired.users.is_empty());
    assert_eq!(reports.stats.users_without_identity, 2);
    assert_eq!(reports.stats.users_without_organization, 0);
    // A Zendesk user already stamped with either Pages id keeps its memberships.
    assert!(reports
        .desired
        .protected_external_ids
        .contains("pages-user-5"));
    assert!(reports
        .desired
        .protected_external_ids
        .contains("pages-user-6"));
}

#[test]
fn an_invalid_id_skips_the_row() {
    let reports = users("five,a@example.gov,agency-a-web,agency-a-web: user,,\n");
    assert_eq!(
        problems(&reports),
        vec![(ReportKind::Users, 2, RowProblem::InvalidId)]
    );
    assert!(reports.desired.users.is_empty());
}

#[test]
fn an_unknown_role_skips_the_row() {
    let reports = users("5,a@example.gov,agency-a-web,agency-a-web: admin,,\n");
    assert_eq!(
        problems(&reports),
        vec![(ReportKind::Users, 2, RowProblem::UnknownRole)]
    );
}

#[test]
fn details_that_do_not_follow_the_organizations_list_skip_the_row() {
    for details in [
        "\"Research & Development (R&D): user, agency-a-web: user\"", // wrong order
        "\"agency-a-web: user\"",                                     // a pair missing
        "\"agency-a-web: user, Research & Development (R&D): user, padded-org: user\"", // one too many
        "\"agency-a-web user, Research & Development (R&D): user\"",                    // no colon
        "\"\"",
    ] {
        let reports = users(&format!(
            "5,a@example.gov,\"agency-a-web|Research & Development (R&D)\",{details},,\n"
        ));
        assert_eq!(
            problems(&reports),
            vec![(ReportKind::Users, 2, RowProblem::DetailsMismatch)],
            "{details}"
        );
    }
}

#[test]
fn an_organization_missing_from_the_organizations_report_skips_the_row() {
    let reports = users(
        "5,a@example.gov,\"agency-a-web|gone-org\",\"agency-a-web: user, gone-org: user\",,\n",
    );
    assert_eq!(
        problems(&reports),
        vec![(ReportKind::Users, 2, RowProblem::UnknownOrganization)]
    );
    assert!(reports.desired.users.is_empty());
}

#[test]
fn duplicate_emails_with_agreeing_roles_are_merged_into_the_first_row() {
    let reports = users(
        "5,a@example.gov,agency-a-web,agency-a-web: manager,,\n\
         6,x@example.gov,padded-org,padded-org: user,,\n\
         5,A@Example.gov,\"padded-org|agency-a-web\",\"padded-org: user, agency-a-web: manager\",,\n",
    );
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Users,
            4,
            RowProblem::DuplicateEmailMerged { first_line: 2 }
        )]
    );
    let a = &reports.desired.users[&email("a@example.gov")];
    assert_eq!(a.line, 2);
    assert_eq!(a.roles.len(), 2);
    assert_eq!(
        reports.desired.role(a, &org("padded-org")),
        Some(Role::User)
    );
    assert_eq!(reports.stats.partner_users, 2);
}

#[test]
fn duplicate_emails_with_conflicting_roles_skip_the_later_row() {
    let reports = users(
        "5,a@example.gov,agency-a-web,agency-a-web: manager,,\n\
         7,a@example.gov,\"padded-org|agency-a-web\",\"padded-org: user, agency-a-web: user\",,\n",
    );
    assert_eq!(
        problems(&reports),
        vec![(
            ReportKind::Users,
            3,
            RowProblem::DuplicateEmailConflict { first_line: 2 }
        )]
    );
    let a = &reports.desired.users[&email("a@example.gov")];
    assert_eq!(a.roles.len(), 1);
    assert_eq!(
        reports.desired.role(a, &org("agency-a-web")),
        Some(Role::Manager)
    );
    assert_eq!(a.pages_id, 5);
    assert!(reports
        .desired
        .protected_external_ids
        .contains("pages-user-7"));
}

#[test]
fn skipped_rows_protect_their_email_and_external_id() {
    let reports = users(
        "5,b@example.gov,gone-org,gone-org: user,,\n\
         six,c@example.gov,agency-a-web,agency-a-web: user,,\n\
         7,not-an-email,agency-a-web,agency-a-web: user,,\n",
    );
    let protected_emails: Vec<_> = reports.desired.protected_emails.iter().cloned().collect();
    assert_eq!(
        protected_emails,
        vec![email("b@example.gov"), email("c@example.gov")]
    );
    let ids: Vec<_> = reports
        .desired
        .protected_external_ids
        .iter()
        .cloned()
        .collect();
    assert_eq!(
        ids,
        vec!["pages-user-5".to_string(), "pages-user-7".to_string()]
    );
    assert!(reports.desired.users.is_empty());
}

#[test]
fn issues_are_sorted_and_carry_no_personal_data() {
    let reports = users(
        "7,not-an-email,agency-a-web,agency-a-web: user,,\n\
         5,secret.person@example.gov,gone-org,gone-org: user,,\n",
    );
    let json = serde_json::to_string(&reports.issues).unwrap();
    assert!(
        !json.contains('@') && !json.contains("gone-org") && !json.contains("not-an"),
        "{json}"
    );
    let lines: Vec<u64> = reports.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![2, 3]);
}

#[test]
fn blank_lines_do_not_shift_line_numbers() {
    let reports = users("\n5,a@example.gov,agency-a-web,agency-a-web: admin,,\n\r\n\n6,,,,,\n7,b@example.gov,gone,gone: user,,\n");
    let lines: Vec<u64> = reports.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![3, 7]);
}

#[test]
fn an_organization_listed_twice_in_a_row_counts_once_and_two_roles_for_it_skip_the_row() {
    let reports = users(
        "5,a@example.gov,agency-a-web|agency-a-web,\"agency-a-web: user, agency-a-web: user\",,\n\
         6,b@example.gov,agency-a-web|agency-a-web,\"agency-a-web: user, agency-a-web: manager\",,\n",
    );
    assert_eq!(
        reports.desired.users[&email("a@example.gov")].roles.len(),
        1
    );
    assert_eq!(
        problems(&reports),
        vec![(ReportKind::Users, 3, RowProblem::DetailsMismatch)]
    );
}

// --- users.csv read on two threads ---------------------------------------------------

/// Rows that make a wrong split visible: issues of every kind, a duplicate email on both
/// sides of any split, CRLF and blank lines, and a quoted field whose embedded lines look
/// like users.csv rows: a reader started inside it reads two valid users ("ghost") and
/// then the rest of the file without a CSV error, so only the first thread's check can
/// tell that the split was wrong.
fn two_part_users() -> String {
    let mut text = String::from(USERS_HEADER);
    text.push_str(
        "1,\"first@example.gov\",\"agency-a-web\",\"agency-a-web: user\",\"2024\",\"2025\"\n\
         2,\"\",\"agency-a-web\",\"agency-a-web: user\",,\n\
         3,\"no-org@example.gov\",\"\",\"\",,\n\
         4,\"dup@example.gov\",\"agency-a-web\",\"agency-a-web: manager\",\"2024\n\
         7,ghost@example.gov,agency-a-web,agency-a-web: user,,\n\
         8,ghost2@example.gov,agency-a-web,agency-a-web: user,x\",\n\
         x,\"bad-id@example.gov\",\"agency-a-web\",\"agency-a-web: user\",,\r\n\
         \r\n\
         10,\"not-an-email\",\"agency-a-web\",\"agency-a-web: user\",,\n\
         11,\"role@example.gov\",\"agency-a-web\",\"agency-a-web: owner\",,\n\
         12,\"unknown@example.gov\",\"nowhere\",\"nowhere: user\",,\n",
    );
    for i in 13..25 {
        text.push_str(&format!(
            "{i},\"u{i}@example.gov\",\"agency-a-web|Tribunal: user, appeals\",\
             \"agency-a-web: user, Tribunal: user, appeals: manager\",\"a\nb\",\n"
        ));
    }
    text.push_str(
        "30,\"dup@example.gov\",\"Research & Development (R&D)\",\"Research & Development (R&D): user\",,\n\
         31,\"DUP@example.gov\",\"agency-a-web\",\"agency-a-web: user\",,\n\
         32,\"first@example.gov\",\"agency-a-web\",\"agency-a-web: user\",,\n\
         33,\"last@example.gov\",\"agency-a-web\",\"agency-a-web: user\",\"x\n\
         y\",\n",
    );
    text
}

fn parse_split(users: &[u8], split: parse::Split) -> Result<(Reports, bool), SourceError> {
    parse_with(users, split, parse::Reading::Simple)
}

fn parse_with(
    users: &[u8],
    split: parse::Split,
    reading: parse::Reading,
) -> Result<(Reports, bool), SourceError> {
    parse::parse_reports_split(
        ORGS,
        "organizations.csv",
        users,
        "users.csv",
        &Policy::default(),
        split,
        reading,
    )
}

#[test]
fn two_threads_give_exactly_the_one_thread_result_wherever_the_split_falls() {
    let text = two_part_users();
    let (one, two_threads) = parse_split(text.as_bytes(), parse::Split::Never).unwrap();
    assert!(!two_threads);
    // The rows above do reach the result: issues on many lines and a merged duplicate.
    assert!(one.issues.len() >= 7, "{:?}", problems(&one));
    let mut kept = 0;
    // `Near(offset)` splits at the line after the first `\n` at or after `offset`: the
    // offsets of the line breaks give every split there is.
    let line_breaks: Vec<usize> = text.match_indices('\n').map(|(at, _)| at).collect();
    for &offset in &line_breaks {
        let (two, two_threads) = parse_split(text.as_bytes(), parse::Split::Near(offset))
            .unwrap_or_else(|e| panic!("split near {offset}: {e}"));
        assert_eq!(two, one, "split near byte {offset}");
        kept += usize::from(two_threads);
    }
    // Lines that start a record were split at; lines inside quoted fields must not be.
    assert!(
        kept > line_breaks.len() / 2,
        "{kept} of {}",
        line_breaks.len()
    );
    let ghost = text.find("7,ghost").unwrap();
    assert!(
        !parse_split(text.as_bytes(), parse::Split::Near(ghost - 1))
            .unwrap()
            .1
    );
    let after_ghost = text.find("8,ghost2").unwrap();
    assert!(
        !parse_split(text.as_bytes(), parse::Split::Near(after_ghost - 1))
            .unwrap()
            .1
    );
    let bad_id = text.find("x,\"bad-id").unwrap();
    assert!(
        parse_split(text.as_bytes(), parse::Split::Near(bad_id - 1))
            .unwrap()
            .1
    );
}

#[test]
fn a_split_keeps_issue_lines_on_both_sides_of_it() {
    let text = two_part_users();
    let at = text.find("13,\"u13").unwrap();
    let (reports, two_threads) = parse_split(text.as_bytes(), parse::Split::Near(at - 1)).unwrap();
    assert!(two_threads);
    let dup_first = 5; // the row of `4,"dup@…` (line 1 is the header)
    let lines_of =
        |needle: &str| text[..text.find(needle).unwrap()].matches('\n').count() as u64 + 1;
    assert_eq!(lines_of("4,\"dup"), dup_first);
    let mut expected = vec![
        (
            ReportKind::Users,
            lines_of("x,\"bad-id"),
            RowProblem::InvalidId,
        ),
        (
            ReportKind::Users,
            lines_of("10,\"not"),
            RowProblem::InvalidEmail {
                reason: crate::model::InvalidEmail::NoAt,
            },
        ),
        (
            ReportKind::Users,
            lines_of("11,\"role"),
            RowProblem::UnknownRole,
        ),
        (
            ReportKind::Users,
            lines_of("12,\"unknown"),
            RowProblem::UnknownOrganization,
        ),
        (
            ReportKind::Users,
            lines_of("30,\"dup"),
            RowProblem::DuplicateEmailMerged {
                first_line: dup_first,
            },
        ),
        (
            ReportKind::Users,
            lines_of("31,\"DUP"),
            RowProblem::DuplicateEmailConflict {
                first_line: dup_first,
            },
        ),
        (
            ReportKind::Users,
            lines_of("32,\"first"),
            RowProblem::DuplicateEmailMerged { first_line: 2 },
        ),
    ];
    expected.sort();
    assert_eq!(problems(&reports), expected);
    assert_eq!(
        reports.desired.users[&email("last@example.gov")].line,
        lines_of("33,")
    );
    assert_eq!(reports.stats.users_without_organization, 1);
    // The row with no email is a user without a sign-in identity: counted, not an issue.
    assert_eq!(reports.stats.users_without_identity, 1);
}

#[test]
fn a_file_error_after_the_split_names_the_same_line_as_one_thread() {
    let mut text = two_part_users();
    text.push_str("40,\"short@example.gov\",\"agency-a-web\"\n");
    let one = parse_split(text.as_bytes(), parse::Split::Never).unwrap_err();
    assert!(one.problem.contains("fields"), "{one}");
    for (offset, _) in text.match_indices('\n') {
        let two = parse_split(text.as_bytes(), parse::Split::Near(offset)).unwrap_err();
        assert_eq!(two, one, "split near byte {offset}");
    }
}

/// A report big enough for both threaded steps (two parts read, duplicates resolved on
/// two threads), with an email's rows in both parts and on both sides of any email the
/// resolving threads split at: first rows, merged rows, conflicting rows, bad rows.
fn big_users() -> String {
    let mut text = String::from(USERS_HEADER);
    let rows = 3 * parse::SPLIT_MIN_USERS;
    for i in 0..rows {
        // Every email three times, a third of the file apart: rows of one email in both
        // parts of the file; the case of the email varies.
        let n = i % parse::SPLIT_MIN_USERS;
        let address = if i % 3 == 0 {
            format!("User.{n}@Example.gov")
        } else {
            format!("user.{n}@example.gov")
        };
        let (orgs, details) = match (i / parse::SPLIT_MIN_USERS, n % 5) {
            // A later row in another organization: merged into the first.
            (1, 0) => (
                "Tribunal: user, appeals",
                "Tribunal: user, appeals: user".into(),
            ),
            // A later row with another role in the same organization: a conflict.
            (2, 1) => ("agency-a-web", "agency-a-web: user".to_string()),
            (_, 2) if i % 7 == 0 => ("nowhere", "nowhere: user".to_string()),
            _ => (
                "agency-a-web",
                format!(
                    "agency-a-web: {}",
                    if n % 5 == 1 { "manager" } else { "user" }
                ),
            ),
        };
        let id = if i % 1001 == 0 {
            "x".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!(
            "{id},\"{address}\",\"{orgs}\",\"{details}\",\"2024-03-05T14:07:09.123Z\",\"\"\n"
        ));
    }
    text
}

#[test]
fn threaded_reading_and_resolving_give_exactly_the_one_thread_result() {
    let text = big_users();
    assert!(text.len() > 1 << 20, "big enough for two parts");
    let (one, one_two_threads) = parse_split(text.as_bytes(), parse::Split::Never).unwrap();
    assert!(!one_two_threads);
    let (two, two_threads) = parse_split(text.as_bytes(), parse::Split::Auto).unwrap();
    assert!(two_threads, "users.csv read in two parts");
    // The rows do reach the result: merges, conflicts and bad rows, on many lines.
    let count = |code: &str| {
        one.issues
            .iter()
            .filter(|i| i.problem.code() == code)
            .count()
    };
    assert!(
        count("duplicate_email_merged") > 1000,
        "{:?}",
        problems(&one)
    );
    assert!(
        count("duplicate_email_conflict") > 1000,
        "{:?}",
        problems(&one)
    );
    assert!(count("unknown_organization") > 100);
    assert!(count("invalid_id") > 10);
    assert_eq!(one.desired, two.desired);
    assert_eq!(one.issues, two.issues);
    assert_eq!(one.stats, two.stats);
}

/// The parser's users come out in email order by construction and are kept without a
/// sort; should that order ever break, they are sorted, none is lost and each is still
/// found by its email.
#[test]
fn users_resolved_out_of_email_order_are_sorted_not_lost() {
    let memberships = [(0u32, Role::User)];
    let candidate = |e: &str, id: u64| parse::Candidate::new(email(e), id, id + 1, 0..1);
    // Each run should be sorted; the first is not.
    let earlier = vec![candidate("c@x.gov", 3), candidate("a@x.gov", 1)];
    let later = vec![candidate("b@x.gov", 2)];
    let (mut issues, mut protected) = (Vec::new(), std::collections::BTreeSet::new());
    let mut stats = SourceStats::default();
    let users = parse::resolve_duplicates(
        earlier,
        later,
        false,
        &memberships,
        &Policy::default(),
        &mut issues,
        &mut protected,
        &mut stats,
    );
    let emails: Vec<&str> = users.keys().map(|k| k.as_str()).collect();
    assert_eq!(emails, ["a@x.gov", "b@x.gov", "c@x.gov"]);
    assert_eq!(users[&email("a@x.gov")].pages_id, 1);
    assert_eq!(users[&email("c@x.gov")].pages_id, 3);
}

// --- simple rows split without the CSV reader -----------------------------------------

/// One field of a users.csv row as a file may write it: plain, quoted, or one of the
/// spellings the simple rows leave to the CSV reader (a quote inside, a line break or a
/// carriage return inside quotes, text after a closing quote, a quote in an unquoted
/// field). Fields `a` and `b` name organizations of the fixture.
fn field() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        4 => Just("agency-a-web".to_string()),
        4 => Just("\"agency-a-web\"".to_string()),
        2 => Just("\"agency-a-web|Tribunal: user, appeals\"".to_string()),
        2 => Just("\"agency-a-web: user\"".to_string()),
        2 => Just(String::new()),
        1 => Just("\"\"".to_string()),
        1 => Just("\"say \"\"hi\"\"\"".to_string()),
        1 => Just("\"two\nlines\"".to_string()),
        1 => Just("\"cr\rinside\"".to_string()),
        1 => Just("\"closed\"after".to_string()),
        1 => Just("un\"quoted".to_string()),
        1 => Just("lone\rreturn".to_string()),
        1 => Just("\"a,b\"".to_string()),
    ]
}

/// A users.csv row: an id, an email (some shared, some in capitals), four more fields
/// (rarely one too few or too many), then a line ending, sometimes with blank lines.
fn row() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    (
        0u32..30,
        prop_oneof![
            Just("u{}@example.gov"),
            Just("\"U{}@Example.gov\""),
            Just("\"u{}@example.gov\""),
            Just("\"\"")
        ],
        prop_oneof![
            6 => Just("\"agency-a-web\"".to_string()),
            1 => field()
        ],
        prop_oneof![
            6 => Just("\"agency-a-web: user\"".to_string()),
            1 => field()
        ],
        prop_oneof![
            40 => proptest::collection::vec(field(), 2..=2),
            1 => proptest::collection::vec(field(), 1..=3),
        ],
        prop_oneof![8 => Just("\n"), 3 => Just("\r\n"), 1 => Just("\n\n"), 1 => Just("\r\n\r\n")],
    )
        .prop_map(|(n, email, orgs, details, rest, end)| {
            let email = email.replace("{}", &(n % 9).to_string());
            // Two trailing fields make the header's six; one or three, a wrong width.
            format!("{n},{email},{orgs},{details},{}{end}", rest.join(","))
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Splitting simple rows without the CSV reader gives exactly what the reader gives:
    /// the same users, issues and their lines, counts, or the same file error, whatever
    /// the rows, with or without a second thread.
    #[test]
    fn simple_rows_read_exactly_as_the_csv_reader_reads_them(
        rows in proptest::collection::vec(row(), 1..40),
        last_line_break in proptest::bool::ANY,
    ) {
        let mut text = format!("{USERS_HEADER}{}", rows.concat());
        if !last_line_break {
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
        }
        let csv = parse_with(text.as_bytes(), parse::Split::Never, parse::Reading::Csv);
        let simple = parse_with(text.as_bytes(), parse::Split::Never, parse::Reading::Simple);
        proptest::prop_assert_eq!(&simple, &csv);
        for (offset, _) in text.match_indices('\n').step_by(3) {
            let two = parse_with(text.as_bytes(), parse::Split::Near(offset), parse::Reading::Simple)
                .map(|(reports, _)| reports);
            proptest::prop_assert_eq!(two, csv.clone().map(|(reports, _)| reports));
        }
    }
}

use proptest::prelude::Just;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The same for organizations.csv: its organizations, issues and lines, or its error.
    #[test]
    fn organization_rows_read_exactly_as_the_csv_reader_reads_them(
        rows in proptest::collection::vec(
            (
                proptest::prop_oneof![
                    Just("\"Agency {}\"".to_string()), Just("Agency {}".to_string()), field()
                ],
                field(),
                proptest::prop_oneof![80 => Just(Some("true")), 1 => Just(None)],
                proptest::prop_oneof![8 => Just("\n"), 2 => Just("\r\n"), 1 => Just("\n\n")],
            ),
            1..30,
        ),
    ) {
        let mut text = String::from("\"Organization\",\"Agency\",\"Self Authorized\"\n");
        for (n, (name, agency, third, end)) in rows.iter().enumerate() {
            let name = name.replace("{}", &(n % 7).to_string());
            match third {
                Some(third) => text.push_str(&format!("{name},{agency},{third}{end}")),
                None => text.push_str(&format!("{name},{agency}{end}")),
            }
        }
        let parse = |reading| {
            parse::parse_reports_split(
                text.as_bytes(),
                "organizations.csv",
                USERS,
                "users.csv",
                &Policy::default(),
                parse::Split::Never,
                reading,
            )
        };
        proptest::prop_assert_eq!(parse(parse::Reading::Simple), parse(parse::Reading::Csv));
    }
}
