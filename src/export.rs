//! The offline fallback: CSV files for Zendesk's bulk importer (Admin Center, "Bulk
//! actions" import of organizations and users), built from the parsed Pages reports. It
//! replaces the spreadsheet steps of the manual process; `sync` is the way that keeps
//! Zendesk fully in step.
//!
//! Owns the file layout and the CSV text. Pure: no I/O (the `export` command writes the
//! files), and never changes what the reports say.
//!
//! Layout (import the files in the order returned, one at a time, waiting for each):
//! - `organizations-001.csv`, … first: the importer needs the organizations before users
//!   can be added to them. Columns `name, details` (details = Agency).
//! - `users-001.csv`, … then. Columns `name, email, external_id, <roles field>,
//!   organization, tags`. The roles field is `details`, `notes`, or
//!   `custom_fields.<key>` for `user_field:<key>`; `tags` holds the manager tag for org
//!   managers.
//! - At most 1,999 data rows per file: the Bulk actions page takes 2,000 rows including
//!   the header.
//!
//! Several organizations per user: the importer's `organization` column names one
//! organization, and Zendesk warns against listing the same user twice in one file. So
//! users are written in rounds: round 1 adds each user's first organization (in key
//! order), round 2 the second for users with at least two, and so on; each round starts a
//! new file, so no file names a user twice. On an account with multiple organizations
//! enabled (Professional and up) each later import adds a membership; on an account
//! without it, a user can only be in one organization anyway and the last import wins.
//! Every row of a user carries the same name, roles text and tags, so the rounds agree.
//!
//! Deliberately not written:
//! - `role`: Zendesk creates imported users as end-users by default, and a `role` column
//!   would also demote an existing agent or admin who is in a Pages organization
//!   (DESIGN.md "Never change the role … of a Zendesk agent or admin").
//! - Removals: the importer only adds and updates; memberships that Pages no longer has
//!   stay until `sync` removes them.
//!
//! Known limits of the importer (why `sync` is preferred): it overwrites an existing
//! user's name and may replace the tag list instead of merging it.

use crate::config::{Policy, RolesField};
use crate::source::Reports;

/// The Bulk actions import takes 2,000 rows per file, the header included.
pub const MAX_DATA_ROWS_PER_FILE: usize = 1_999;

/// One CSV file for the importer: a file name and its UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImporterFile {
    pub name: String,
    pub contents: String,
}

/// The importer files in import order: organizations first, then users.
pub fn importer_files(reports: &Reports, policy: &Policy) -> Vec<ImporterFile> {
    importer_files_with_limit(reports, policy, MAX_DATA_ROWS_PER_FILE)
}

/// As [`importer_files`], with at most `max_rows` data rows per file (at least 1).
pub fn importer_files_with_limit(
    reports: &Reports,
    policy: &Policy,
    max_rows: usize,
) -> Vec<ImporterFile> {
    let max_rows = max_rows.max(1);
    let desired = &reports.desired;
    let mut files = Vec::new();

    let org_rows: Vec<[&str; 2]> = desired
        .orgs
        .values()
        .map(|o| [o.name.as_str(), o.details.as_str()])
        .collect();
    push_chunks(
        &mut files,
        "organizations",
        &["name", "details"],
        &org_rows,
        max_rows,
    );

    let roles_column = match &policy.roles_field {
        RolesField::Details => "details".to_string(),
        RolesField::Notes => "notes".to_string(),
        RolesField::UserField(key) => format!("custom_fields.{key}"),
    };
    let header = [
        "name",
        "email",
        "external_id",
        roles_column.as_str(),
        "organization",
        "tags",
    ];
    // Per user: the fields shared by all of its rows, then its organizations in key order.
    let users: Vec<([String; 5], Vec<&str>)> = desired
        .users
        .values()
        .map(|u| {
            let tags = if u.is_manager() {
                policy.manager_tag.clone()
            } else {
                String::new()
            };
            let orgs = u
                .roles
                .keys()
                .map(|k| desired.orgs.get(k).map_or(k.as_str(), |o| o.name.as_str()))
                .collect();
            let shared = [
                u.name(),
                u.email.as_str().to_string(),
                u.external_id.clone(),
                desired.roles_text(u),
                tags,
            ];
            (shared, orgs)
        })
        .collect();
    let rounds = users.iter().map(|(_, orgs)| orgs.len()).max().unwrap_or(0);
    let mut counter = 0;
    for round in 0..rounds {
        let rows: Vec<[&str; 6]> = users
            .iter()
            .filter_map(|([name, email, external_id, roles, tags], orgs)| {
                let org = orgs.get(round)?;
                Some([
                    name.as_str(),
                    email.as_str(),
                    external_id.as_str(),
                    roles.as_str(),
                    org,
                    tags.as_str(),
                ])
            })
            .collect();
        counter = push_chunks_numbered(&mut files, "users", &header, &rows, max_rows, counter);
    }
    files
}

fn push_chunks<const N: usize>(
    files: &mut Vec<ImporterFile>,
    stem: &str,
    header: &[&str; N],
    rows: &[[&str; N]],
    max_rows: usize,
) {
    push_chunks_numbered(files, stem, header, rows, max_rows, 0);
}

/// Appends `rows` as files `<stem>-NNN.csv` of at most `max_rows` rows, numbering on from
/// `counter`; returns the last number used.
fn push_chunks_numbered<const N: usize>(
    files: &mut Vec<ImporterFile>,
    stem: &str,
    header: &[&str; N],
    rows: &[[&str; N]],
    max_rows: usize,
    mut counter: usize,
) -> usize {
    for chunk in rows.chunks(max_rows) {
        counter += 1;
        let mut contents = String::new();
        push_record(&mut contents, header);
        for row in chunk {
            push_record(&mut contents, row);
        }
        files.push(ImporterFile {
            name: format!("{stem}-{counter:03}.csv"),
            contents,
        });
    }
    counter
}

/// One CSV record, RFC 4180 style: fields quoted when they hold a comma, a quote, a line
/// break or surrounding spaces; quotes doubled; CRLF after the record.
fn push_record(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let quote = field.contains([',', '"', '\n', '\r'])
            || field.starts_with(char::is_whitespace)
            || field.ends_with(char::is_whitespace);
        if quote {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// A short text for the output directory: which files to import, in which order.
/// Counts and file names only.
pub fn import_instructions(files: &[ImporterFile]) -> String {
    let mut text = String::from(
        "Zendesk bulk import files written by pages-zendesk-sync export.\n\
         Import them one at a time, in this order, waiting for each import to finish\n\
         (Admin Center > People > Bulk actions > Import organizations / Import users;\n\
         for users choose \"Create and update\"):\n\n",
    );
    for (i, file) in files.iter().enumerate() {
        text.push_str(&format!("{:>4}. {}\n", i + 1, file.name));
    }
    text.push_str(
        "\nUsers in several organizations appear once per users file round: each later\n\
         file adds one more organization. Memberships Pages no longer lists are not removed\n\
         by an import; run `pages-zendesk-sync sync` for that.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source;

    const USERS_HEADER: &str = "ID,Email,Organizations,Details,Created,Last Signed In\n";

    fn reports(orgs: &str, users: &str) -> Reports {
        // The parser refuses a users report without rows: add one without organizations.
        let users = if users.is_empty() { "9,,,,,\n" } else { users };
        source::parse(
            format!("Organization,Agency\n{orgs}").as_bytes(),
            "organizations.csv",
            format!("{USERS_HEADER}{users}").as_bytes(),
            "users.csv",
            &Policy::default(),
        )
        .expect("test reports parse")
    }

    fn fixture() -> Reports {
        reports(
            "Org A,Agency A\n\"Org B, West\",Agency B\nOrg C,\n",
            "1,jane.doe@example.gov,\"Org A|Org B, West\",\"Org A: manager, Org B, West: user\",,\n\
             2,sam@example.gov,Org C,Org C: user,,\n\
             3,no.orgs@example.gov,,,,\n",
        )
    }

    /// Reads a file back with a CSV parser: (header, rows).
    fn read_back(file: &ImporterFile) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_reader(file.contents.as_bytes());
        let header = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    }

    fn names(files: &[ImporterFile]) -> Vec<&str> {
        files.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn organizations_come_before_users_in_numbered_files() {
        let files = importer_files(&fixture(), &Policy::default());
        assert_eq!(
            names(&files),
            ["organizations-001.csv", "users-001.csv", "users-002.csv"]
        );
    }

    #[test]
    fn the_organizations_file_has_name_and_details_columns() {
        let files = importer_files(&fixture(), &Policy::default());
        let (header, rows) = read_back(&files[0]);
        assert_eq!(header, ["name", "details"]);
        assert_eq!(
            rows,
            [
                ["Org A", "Agency A"],
                ["Org B, West", "Agency B"],
                ["Org C", ""]
            ]
        );
    }

    #[test]
    fn the_users_file_has_name_email_external_id_roles_organization_and_tags_columns() {
        let files = importer_files(&fixture(), &Policy::default());
        assert!(files[1]
            .contents
            .starts_with("name,email,external_id,details,organization,tags\r\n"));
        let (_, rows) = read_back(&files[1]);
        assert_eq!(
            rows[0],
            [
                "Jane Doe",
                "jane.doe@example.gov",
                "pages-user-1",
                "Org A: manager, Org B, West: user",
                "Org A",
                "pages_org_manager"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "Sam",
                "sam@example.gov",
                "pages-user-2",
                "Org C: user",
                "Org C",
                ""
            ]
        );
    }

    #[test]
    fn the_roles_column_follows_the_configured_field() {
        for (field, column) in [
            (RolesField::Notes, "notes"),
            (
                RolesField::UserField("pages_roles".into()),
                "custom_fields.pages_roles",
            ),
        ] {
            let policy = Policy {
                roles_field: field,
                manager_tag: "mgr".into(),
                ..Policy::default()
            };
            let files = importer_files(&fixture(), &policy);
            let (header, rows) = read_back(&files[1]);
            assert_eq!(header[3], column);
            assert_eq!(rows[0][5], "mgr");
        }
    }

    #[test]
    fn a_user_in_several_organizations_gets_one_row_per_round_and_never_two_in_one_file() {
        let files = importer_files(&fixture(), &Policy::default());
        let (_, round1) = read_back(&files[1]);
        let (_, round2) = read_back(&files[2]);
        let jane = |rows: &[Vec<String>]| -> Vec<String> {
            rows.iter()
                .filter(|r| r[1] == "jane.doe@example.gov")
                .map(|r| r[4].clone())
                .collect()
        };
        assert_eq!(jane(&round1), ["Org A"]);
        assert_eq!(jane(&round2), ["Org B, West"]);
        assert_eq!(round2.len(), 1, "only Jane has a second organization");
        // Each round repeats the same roles text and tags.
        assert_eq!(round1[0][3], round2[0][3]);
        assert_eq!(round1[0][5], round2[0][5]);
    }

    #[test]
    fn files_are_split_at_the_row_limit_with_a_header_in_each() {
        let orgs: String = (0..5).map(|i| format!("Org {i},Agency\n")).collect();
        let files = importer_files_with_limit(&reports(&orgs, ""), &Policy::default(), 2);
        assert_eq!(
            names(&files),
            [
                "organizations-001.csv",
                "organizations-002.csv",
                "organizations-003.csv"
            ]
        );
        let sizes: Vec<usize> = files.iter().map(|f| read_back(f).1.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(files
            .iter()
            .all(|f| f.contents.starts_with("name,details\r\n")));
    }

    #[test]
    fn user_rounds_continue_the_file_numbering_when_split() {
        let users = "1,a@example.gov,Org A|Org B,\"Org A: user, Org B: user\",,\n\
                     2,b@example.gov,Org A|Org B,\"Org A: user, Org B: user\",,\n\
                     3,c@example.gov,Org A,Org A: user,,\n";
        let r = reports("Org A,\nOrg B,\n", users);
        let files = importer_files_with_limit(&r, &Policy::default(), 2);
        assert_eq!(
            names(&files),
            [
                "organizations-001.csv",
                "users-001.csv",
                "users-002.csv",
                "users-003.csv"
            ]
        );
        let sizes: Vec<usize> = files.iter().map(|f| read_back(f).1.len()).collect();
        assert_eq!(sizes, [2, 2, 1, 2]);
    }

    #[test]
    fn the_default_limit_is_1999_data_rows_per_file() {
        let orgs: String = (0..2000).map(|i| format!("Org {i},\n")).collect();
        let files = importer_files(&reports(&orgs, ""), &Policy::default());
        let sizes: Vec<usize> = files.iter().map(|f| read_back(f).1.len()).collect();
        assert_eq!(sizes, [1999, 1]);
    }

    #[test]
    fn commas_quotes_line_breaks_and_padding_survive_quoting() {
        let tricky = "Say \"hi\", then\nleave";
        let r = reports("\"Org A\",\"Say \"\"hi\"\", then\nleave\"\n", "");
        let files = importer_files(&r, &Policy::default());
        assert!(files[0]
            .contents
            .contains("Org A,\"Say \"\"hi\"\", then\nleave\"\r\n"));
        let (_, rows) = read_back(&files[0]);
        assert_eq!(rows[0][1], tricky);
        let mut out = String::new();
        push_record(&mut out, &[" padded", "plain", ""]);
        assert_eq!(out, "\" padded\",plain,\r\n");
    }

    #[test]
    fn reports_without_partner_users_give_only_organization_files() {
        let r = reports("Org A,\n", "1,a@example.gov,,,,\n");
        assert_eq!(
            names(&importer_files(&r, &Policy::default())),
            ["organizations-001.csv"]
        );
    }

    #[test]
    fn the_instructions_list_the_files_in_import_order() {
        let files = importer_files(&fixture(), &Policy::default());
        let text = import_instructions(&files);
        let a = text.find("organizations-001.csv").unwrap();
        let b = text.find("users-001.csv").unwrap();
        let c = text.find("users-002.csv").unwrap();
        assert!(a < b && b < c, "{text}");
        assert!(!text.contains('@'));
    }
}
