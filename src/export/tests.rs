//! The export against a small model of what each Zendesk importer does with the files.

use std::collections::{BTreeMap, BTreeSet};

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
        "1,jane.doe@example.gov,\"Org A|Org B, West|Org C\",\"Org A: manager, Org B, West: user, Org C: user\",,\n\
         2,sam@example.gov,Org C,Org C: user,,\n\
         3,no.orgs@example.gov,,,,\n",
    )
}

/// A written export read back: file name → (header, rows), in import order.
struct Export {
    written: Written,
    files: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    _dir: tempfile::TempDir,
}

fn export_with(r: &Reports, policy: &Policy, format: ImporterFormat, limits: Limits) -> Export {
    export_mapped(r, policy, &FieldMapping::default(), format, limits)
}

fn export_mapped(
    r: &Reports,
    policy: &Policy,
    mapping: &FieldMapping,
    format: ImporterFormat,
    limits: Limits,
) -> Export {
    let dir = tempfile::tempdir().unwrap();
    let written = write_files(r, policy, mapping, format, limits, dir.path()).unwrap();
    let files = written
        .files()
        .into_iter()
        .map(|name| {
            let text = std::fs::read(dir.path().join(&name)).unwrap();
            let mut reader = csv::Reader::from_reader(text.as_slice());
            let header = reader.headers().unwrap().iter().map(String::from).collect();
            let rows = reader
                .records()
                .map(|r| r.unwrap().iter().map(String::from).collect())
                .collect();
            (name, header, rows)
        })
        .collect();
    // Nothing but the finished files is left in the directory.
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut expected = written.files();
    expected.sort();
    assert_eq!(on_disk, expected, "no temporary file is left behind");
    Export {
        written,
        files,
        _dir: dir,
    }
}

fn export(r: &Reports, format: ImporterFormat) -> Export {
    export_with(r, &Policy::default(), format, format.limits())
}

fn names(e: &Export) -> Vec<&str> {
    e.files.iter().map(|f| f.0.as_str()).collect()
}

/// Zendesk as the model sees it: organizations by name (lower case); per user (lower-case
/// email) the organizations it belongs to and its details text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Zendesk {
    orgs: BTreeSet<String>,
    users: BTreeMap<String, (BTreeSet<String>, String)>,
}

/// What an importer does with one users row (Zendesk help centre, bulk import articles;
/// issue 13): the organization cell *replaces* the user's organizations (split on `|`,
/// organizations that do not exist are not added); the data importer replaces `details`,
/// the legacy Bulk actions pages append to it.
fn import(zendesk: &mut Zendesk, format: ImporterFormat, header: &[String], rows: &[Vec<String>]) {
    let col = |name: &str| header.iter().position(|h| h == name);
    if header == ORGANIZATION_COLUMNS {
        for row in rows {
            zendesk.orgs.insert(row[0].to_lowercase());
        }
        return;
    }
    let (email, organizations) = match format {
        ImporterFormat::DataImporter => (col("emails"), col("organizations")),
        ImporterFormat::BulkActions => (col("email"), col("organization")),
    };
    let (email, organizations) = (email.unwrap(), organizations.unwrap());
    let details = col("details");
    for row in rows {
        let user = zendesk.users.entry(row[email].to_lowercase()).or_default();
        user.0 = row[organizations]
            .split('|')
            .map(str::to_lowercase)
            .filter(|o| zendesk.orgs.contains(o))
            .collect();
        if let Some(d) = details {
            match format {
                ImporterFormat::DataImporter => user.1 = row[d].clone(),
                ImporterFormat::BulkActions => user.1.push_str(&row[d]),
            }
        }
    }
}

/// Applies every file in order, as the instructions say.
fn replay(e: &Export, zendesk: &mut Zendesk) {
    for (_, header, rows) in &e.files {
        import(zendesk, e.written.format, header, rows);
    }
}

/// Pages' memberships: lower-case email → lower-case organization names.
fn pages_memberships(r: &Reports) -> BTreeMap<String, BTreeSet<String>> {
    r.desired
        .users
        .values()
        .map(|u| {
            let orgs = r
                .desired
                .roles_of(u)
                .map(|(k, _)| r.desired.orgs[k].name.to_lowercase())
                .collect();
            (u.email.as_str().to_lowercase(), orgs)
        })
        .collect()
}

fn memberships(z: &Zendesk) -> BTreeMap<String, BTreeSet<String>> {
    z.users
        .iter()
        .map(|(e, u)| (e.clone(), u.0.clone()))
        .collect()
}

/// Zendesk before the import: Jane is already in a Pages organization and in one Pages
/// does not manage; her details hold last month's roles text.
fn existing_zendesk() -> Zendesk {
    let mut z = Zendesk::default();
    z.orgs.insert("org a".into());
    z.orgs.insert("vip customers".into());
    z.users.insert(
        "jane.doe@example.gov".into(),
        (
            ["org a".to_string(), "vip customers".to_string()].into(),
            "Org A: manager".into(),
        ),
    );
    z
}

#[test]
fn importing_the_files_in_order_gives_the_memberships_pages_has_in_both_formats() {
    let r = fixture();
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        // Tiny files, so that users spread over several of them.
        let limits = Limits {
            max_data_rows: 1,
            ..format.limits()
        };
        let e = export_with(&r, &Policy::default(), format, limits);
        let mut zendesk = existing_zendesk();
        replay(&e, &mut zendesk);
        assert_eq!(memberships(&zendesk), pages_memberships(&r), "{format:?}");
        // Importing again next month changes nothing: no piling up.
        let before = zendesk.clone();
        replay(&e, &mut zendesk);
        assert_eq!(zendesk, before, "{format:?}: a second import is a no-op");
    }
}

/// The layout the export wrote before: one organization per row, a user's organizations
/// in rounds of files. The model shows why it was wrong.
#[test]
fn the_old_round_robin_layout_fails_the_importer_model() {
    let r = fixture();
    let header: Vec<String> = ["name", "email", "organization"].map(String::from).to_vec();
    let users: Vec<_> = r.desired.users.values().collect();
    let rounds = users.iter().map(|u| u.roles.len()).max().unwrap();
    let mut zendesk = existing_zendesk();
    import(
        &mut zendesk,
        ImporterFormat::BulkActions,
        &ORGANIZATION_COLUMNS.map(String::from),
        &r.desired
            .orgs
            .values()
            .map(|o| vec![o.name.clone(), o.details.clone()])
            .collect::<Vec<_>>(),
    );
    for round in 0..rounds {
        let rows: Vec<Vec<String>> = users
            .iter()
            .filter_map(|u| {
                let (key, _) = r.desired.roles_of(u).nth(round)?;
                Some(vec![
                    u.name(),
                    u.email.as_str().to_string(),
                    r.desired.orgs[key].name.clone(),
                ])
            })
            .collect();
        import(&mut zendesk, ImporterFormat::BulkActions, &header, &rows);
    }
    assert_ne!(memberships(&zendesk), pages_memberships(&r));
    assert_eq!(
        zendesk.users["jane.doe@example.gov"].0,
        BTreeSet::from(["org c".to_string()]),
        "replace, not add: the last file wins"
    );
}

#[test]
fn the_data_importer_files_use_its_column_names_and_one_row_per_user() {
    let e = export(&fixture(), ImporterFormat::DataImporter);
    assert_eq!(names(&e), ["organizations-001.csv", "users-001.csv"]);
    assert_eq!(e.files[0].1, ["name", "details"]);
    assert_eq!(
        e.files[1].1,
        [
            "name",
            "emails",
            "external_id",
            "details",
            "organizations",
            "tags"
        ]
    );
    assert_eq!(
        e.files[1].2,
        [
            [
                "Jane Doe",
                "jane.doe@example.gov",
                "pages-user-1",
                "Org A: manager, Org B, West: user, Org C: user",
                "Org A|Org B, West|Org C",
                "pages_org_manager"
            ],
            [
                "Sam",
                "sam@example.gov",
                "pages-user-2",
                "Org C: user",
                "Org C",
                ""
            ]
        ]
    );
    assert_eq!((e.written.users, e.written.memberships), (2, 4));
}

#[test]
fn the_bulk_actions_files_use_its_column_names_and_leave_out_appended_details() {
    let e = export(&fixture(), ImporterFormat::BulkActions);
    assert_eq!(
        e.files[1].1,
        ["name", "email", "external_id", "organization", "tags"],
        "the legacy importer appends details: the roles text is left out"
    );
    assert_eq!(e.files[1].2[0][3], "Org A|Org B, West|Org C");
    // With the roles text in notes or a user field, the column is written.
    for (field, column) in [
        (RolesField::Notes, "notes"),
        (
            RolesField::UserField("pages_roles".into()),
            "custom_fields.pages_roles",
        ),
    ] {
        let policy = Policy {
            manager_tag: "mgr".into(),
            ..Policy::default()
        };
        let mapping = FieldMapping {
            roles_field: field,
            ..FieldMapping::default()
        };
        for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
            let e = export_mapped(&fixture(), &policy, &mapping, format, format.limits());
            assert_eq!(e.files[1].1[3], column, "{format:?}");
            assert_eq!(e.files[1].2[0][5], "mgr");
        }
    }
}

#[test]
fn each_importers_limits_are_the_documented_ones() {
    let d = ImporterFormat::DataImporter.limits();
    assert_eq!(d.max_data_rows, 499_999, "500,000 rows with the header");
    assert_eq!(d.max_file_bytes, 1_000_000_000, "1 GB");
    assert_eq!(d.max_row_bytes, 128_000, "128 KB");
    let b = ImporterFormat::BulkActions.limits();
    assert_eq!(b.max_data_rows, 1_999, "2,000 rows with the header");
    assert_eq!(ImporterFormat::default(), ImporterFormat::DataImporter);
}

#[test]
fn files_roll_over_at_the_row_limit_with_a_header_in_each() {
    let orgs: String = (0..5).map(|i| format!("Org {i},Agency\n")).collect();
    let limits = Limits {
        max_data_rows: 2,
        ..ImporterFormat::BulkActions.limits()
    };
    let e = export_with(
        &reports(&orgs, ""),
        &Policy::default(),
        ImporterFormat::BulkActions,
        limits,
    );
    assert_eq!(
        names(&e),
        [
            "organizations-001.csv",
            "organizations-002.csv",
            "organizations-003.csv"
        ]
    );
    let sizes: Vec<usize> = e.files.iter().map(|f| f.2.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(e.files.iter().all(|f| f.1 == ["name", "details"]));
}

#[test]
fn the_bulk_actions_default_limit_is_1999_data_rows_per_file() {
    let orgs: String = (0..2000).map(|i| format!("Org {i},\n")).collect();
    let e = export(&reports(&orgs, ""), ImporterFormat::BulkActions);
    let sizes: Vec<usize> = e.files.iter().map(|f| f.2.len()).collect();
    assert_eq!(sizes, [1999, 1]);
    let e = export(&reports(&orgs, ""), ImporterFormat::DataImporter);
    let sizes: Vec<usize> = e.files.iter().map(|f| f.2.len()).collect();
    assert_eq!(sizes, [2000]);
}

#[test]
fn files_roll_over_before_the_byte_limit_and_long_rows_are_reported() {
    let orgs: String = (0..4).map(|i| format!("Org {i},Agency {i}\n")).collect();
    // Header (14 bytes) + two rows of 19 bytes fit in 60; a third would not.
    let limits = Limits {
        max_data_rows: 100,
        max_file_bytes: 60,
        max_row_bytes: 1000,
    };
    let dir = tempfile::tempdir().unwrap();
    let w = write_files(
        &reports(&orgs, ""),
        &Policy::default(),
        &FieldMapping::default(),
        ImporterFormat::DataImporter,
        limits,
        dir.path(),
    )
    .unwrap();
    assert_eq!(w.organization_files.len(), 2);
    for f in &w.organization_files {
        assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() <= 60);
    }

    let long = "x".repeat(300);
    let r = reports(
        &format!("Org A,{long}\nOrg B,\n"),
        "1,a@example.gov,Org A,Org A: user,,\n",
    );
    let limits = Limits {
        max_row_bytes: 200,
        ..ImporterFormat::DataImporter.limits()
    };
    let e = export_with(&r, &Policy::default(), ImporterFormat::DataImporter, limits);
    assert_eq!(e.files[0].2, [["Org B", ""]]);
    assert_eq!(
        e.written.problems,
        [ExportProblem {
            pages_user_id: None,
            users_line: None,
            organization_index: Some(1),
            problem: ExportProblemKind::RowTooLong
        }]
    );
}

#[test]
fn a_user_in_an_organization_named_with_a_bar_is_reported_not_mangled() {
    // The reports list organizations with `|` between them, so such an organization can
    // only come from the organizations report and a database read; build it directly.
    let mut r = fixture();
    let key = crate::model::OrgKey::new("Org B, West").unwrap();
    r.desired.orgs.get_mut(&key).unwrap().name = "Org B|West".into();
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        let e = export(&r, format);
        let users = &e.files[1].2;
        assert!(
            users
                .iter()
                .all(|row| !row.iter().any(|c| c.contains("West"))),
            "{users:?}"
        );
        assert_eq!(users.len(), 1, "only Sam is written: {users:?}");
        assert_eq!(users[0][1], "sam@example.gov");
        assert_eq!(
            e.written.problems,
            [ExportProblem {
                pages_user_id: Some(1),
                users_line: Some(2),
                organization_index: None,
                problem: ExportProblemKind::OrganizationNameHasSeparator
            }]
        );
        // The organization itself is written: its own file has one name per cell.
        assert!(e.files[0].2.iter().any(|row| row[0] == "Org B|West"));
        let text = import_instructions(&e.written, &FieldMapping::default());
        assert!(text.contains("1 record(s) were left out"), "{text}");
        assert!(
            text.contains("- 1: an organization's name contains `|`"),
            "{text}"
        );
    }
}

#[test]
fn every_user_appears_once_per_file_and_once_across_files() {
    let orgs: String = (0..30).map(|i| format!("Org {i},\n")).collect();
    let users: String = (0..200)
        .map(|i| {
            let a = i % 30;
            let b = (i * 7 + 3) % 30;
            if a == b {
                format!("{i},u{i}@example.gov,Org {a},Org {a}: user,,\n")
            } else {
                format!(
                    "{i},u{i}@example.gov,Org {a}|Org {b},\"Org {a}: user, Org {b}: manager\",,\n"
                )
            }
        })
        .collect();
    let r = reports(&orgs, &users);
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        let limits = Limits {
            max_data_rows: 17,
            ..format.limits()
        };
        let e = export_with(&r, &Policy::default(), format, limits);
        let mut seen = BTreeSet::new();
        for (_, header, rows) in e.files.iter().filter(|f| f.0.starts_with("users-")) {
            assert_eq!(
                header[1],
                if format == ImporterFormat::DataImporter {
                    "emails"
                } else {
                    "email"
                }
            );
            for row in rows {
                assert!(seen.insert(row[1].clone()), "{} twice", row[1]);
            }
        }
        assert_eq!(seen.len(), 200);
        let mut zendesk = Zendesk::default();
        replay(&e, &mut zendesk);
        assert_eq!(memberships(&zendesk), pages_memberships(&r));
    }
}

#[test]
fn formula_cells_are_neutralised_and_formula_keys_are_reported() {
    let r = reports(
        "Org A,\"=HYPERLINK(\"\"http://x\"\")\"\n\"@SUM(1)\",Agency\n",
        "1,a@example.gov,Org A,Org A: user,,\n2,b@example.gov,@SUM(1),@SUM(1): user,,\n",
    );
    let e = export(&r, ImporterFormat::DataImporter);
    assert_eq!(
        e.files[0].2,
        [["Org A", "'=HYPERLINK(\"http://x\")"]],
        "free text gets a leading quote; a formula-like name is reported"
    );
    assert_eq!(e.files[1].2.len(), 1);
    assert_eq!(e.files[1].2[0][1], "a@example.gov");
    let kinds: Vec<_> = e.written.problems.iter().map(|p| p.problem).collect();
    assert_eq!(
        kinds,
        [
            ExportProblemKind::FormulaInKeyCell,
            ExportProblemKind::FormulaInKeyCell
        ]
    );
    assert_eq!(neutralise("-1"), "'-1");
    assert_eq!(neutralise("Org A"), "Org A");
}

#[test]
fn commas_quotes_line_breaks_and_padding_survive_quoting() {
    let mut out = Vec::new();
    encode_record(
        &mut out,
        &[" padded", "plain", "", "say \"hi\", then\nleave"],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\" padded\",plain,,\"say \"\"hi\"\", then\nleave\"\r\n"
    );
}

#[test]
fn the_instructions_say_what_each_importer_does_in_plain_words() {
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        let e = export(&fixture(), format);
        let text = import_instructions(&e.written, &FieldMapping::default());
        let a = text.find("organizations-001.csv").unwrap();
        let b = text.find("users-001.csv").unwrap();
        assert!(a < b, "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 90), "{text}");
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for words in [
            "Allow users to belong to multiple organizations",
            "REPLACED, not added to",
            "organizations that Pages does not manage",
            "welcome email",
            "Nothing is ever removed",
        ] {
            assert!(flat.contains(words), "{format:?}: {words:?} in\n{text}");
        }
        assert!(!text.contains('@'));
        match format {
            ImporterFormat::BulkActions => assert!(flat.contains("ADDS to a user's details")),
            ImporterFormat::DataImporter => {
                assert!(flat.contains("roles text replaces what details holds"))
            }
        }
    }
}

#[test]
fn the_demo_data_exports_to_files_that_import_into_pages_memberships() {
    let root = env!("CARGO_MANIFEST_DIR");
    let orgs = std::fs::read(format!("{root}/demo/organizations.csv")).unwrap();
    let users = std::fs::read(format!("{root}/demo/users.csv")).unwrap();
    let r = source::parse(
        &orgs,
        "organizations.csv",
        &users,
        "users.csv",
        &Policy::default(),
    )
    .unwrap();
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        let e = export(&r, format);
        let mut zendesk = Zendesk::default();
        replay(&e, &mut zendesk);
        assert_eq!(memberships(&zendesk), pages_memberships(&r), "{format:?}");
    }
}

/// The old quoting rule, char by char: `needs_quotes` must agree with it on every field.
fn needs_quotes_by_chars(field: &str) -> bool {
    field.contains([',', '"', '\n', '\r'])
        || field.starts_with(char::is_whitespace)
        || field.ends_with(char::is_whitespace)
}

#[test]
fn the_byte_quoting_check_agrees_with_the_char_rule() {
    let pieces = [
        "", "a", " ", "\t", "\u{b}", "\u{c}", "\u{85}", "\u{a0}", "\u{2003}", "é", ",", "\"", "\n",
        "\r", "x y", "|", "'", "ß",
    ];
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let field = format!("{a}{b}{c}");
                assert_eq!(
                    needs_quotes(&field),
                    needs_quotes_by_chars(&field),
                    "{field:?}"
                );
            }
        }
    }
}

/// Reports with every kind of user the layout must decide on: a bar or a formula in an
/// organization's name, a formula email, long rows, names needing quotes, non-ASCII.
fn mixed_reports() -> Reports {
    let mut orgs: String = (0..12)
        .map(|i| format!("\"Org {i}, {}\",Agency {i}\n", "x".repeat(i * 9)))
        .collect();
    orgs.push_str("Bar Org,\n\"@SUM(1)\",Agency\nÉcole,\" padded \"\n");
    let mut users = String::new();
    for i in 0..120 {
        let (a, b) = (i % 12, (i * 5 + 1) % 12);
        let email = match i % 9 {
            0 => format!("ŉa.ßb{i}@example.gov"),
            1 => format!("first.last_{i}@example.gov"),
            _ => format!("u{i}@example.gov"),
        };
        let (list, details) = match i % 7 {
            0 => ("Bar Org".to_string(), "Bar Org: user".to_string()),
            1 => ("@SUM(1)".to_string(), "@SUM(1): user".to_string()),
            2 => ("École".to_string(), "École: manager".to_string()),
            _ if a == b => (format!("Org {a}, {}", "x".repeat(a * 9)), String::new()),
            _ => (
                format!(
                    "Org {a}, {}|Org {b}, {}",
                    "x".repeat(a * 9),
                    "x".repeat(b * 9)
                ),
                format!(
                    "Org {a}, {}: user, Org {b}, {}: manager",
                    "x".repeat(a * 9),
                    "x".repeat(b * 9)
                ),
            ),
        };
        let details = if details.is_empty() {
            format!("{list}: user")
        } else {
            details
        };
        users.push_str(&format!("{i},{email},\"{list}\",\"{details}\",,\n"));
    }
    let mut r = reports(&orgs, &users);
    let key = crate::model::OrgKey::new("Bar Org").unwrap();
    r.desired.orgs.get_mut(&key).unwrap().name = "Bar|Org".into();
    r
}

/// Every users file's name and bytes, in order, and what was counted.
type UsersFiles = (Vec<(String, Vec<u8>)>, usize, usize, Vec<ExportProblem>);

fn users_files(r: &Reports, format: ImporterFormat, limits: Limits, parallel: bool) -> UsersFiles {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::default();
    let mapping = FieldMapping::default();
    let out = write_users(
        &r.desired,
        &policy,
        &mapping,
        format,
        limits,
        dir.path(),
        parallel,
    )
    .unwrap();
    let files = out
        .files
        .iter()
        .map(|(temp, name)| (name.clone(), std::fs::read(temp).unwrap()))
        .collect();
    (files, out.records, out.memberships, out.problems)
}

#[test]
fn the_users_files_written_in_parallel_equal_the_one_series_files() {
    let r = mixed_reports();
    let policy = Policy::default();
    let mapping = FieldMapping::default();
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        let defaults = format.limits();
        let mut header = Vec::new();
        encode_record(&mut header, &format.user_columns(&mapping));
        for (limits, laid_out) in [
            (defaults, true),
            (
                Limits {
                    max_data_rows: 1,
                    ..defaults
                },
                true,
            ),
            (
                Limits {
                    max_data_rows: 7,
                    ..defaults
                },
                true,
            ),
            // Rows over the row limit: exact lengths decide who is left out.
            (
                Limits {
                    max_row_bytes: 150,
                    ..defaults
                },
                true,
            ),
            (
                Limits {
                    max_data_rows: 5,
                    max_row_bytes: 120,
                    ..defaults
                },
                true,
            ),
            // Near the byte limit: only the one series can tell where files end.
            (
                Limits {
                    max_file_bytes: 700,
                    max_row_bytes: 400,
                    ..defaults
                },
                false,
            ),
        ] {
            let names = OrgNames::new(&r.desired);
            let users: Vec<&DesiredUser> = r.desired.users.values().collect();
            let layout = lay_out_users(&users, &names, format, &policy, &mapping, limits, &header);
            assert_eq!(layout.is_some(), laid_out, "{format:?} {limits:?}");
            let parallel = users_files(&r, format, limits, true);
            let one = users_files(&r, format, limits, false);
            assert_eq!(parallel, one, "{format:?} {limits:?}");
            let kinds: BTreeSet<_> = one.3.iter().map(|p| p.problem).collect();
            assert!(kinds.contains(&ExportProblemKind::OrganizationNameHasSeparator));
            assert!(kinds.contains(&ExportProblemKind::FormulaInKeyCell));
            if limits.max_row_bytes <= 150 {
                assert!(kinds.contains(&ExportProblemKind::RowTooLong), "{limits:?}");
            }
            assert!(
                one.0.len() > usize::from(limits.max_data_rows < 10),
                "{limits:?}"
            );
        }
    }
}

#[test]
fn the_row_bound_is_never_below_the_row() {
    let r = mixed_reports();
    let policy = Policy::default();
    let mapping = FieldMapping::default();
    let names = OrgNames::new(&r.desired);
    let mut scratch = Scratch::default();
    for format in [ImporterFormat::DataImporter, ImporterFormat::BulkActions] {
        for user in r.desired.users.values() {
            let mut record = Vec::new();
            if encode_user(
                &mut record,
                &names,
                user,
                format,
                &policy,
                &mapping,
                &mut scratch,
            )
            .is_ok()
            {
                let bound = user_row_bound(&names, user, &policy).expect("encoded, so no problem");
                assert!(bound >= record.len() as u64, "{bound} < {}", record.len());
            }
        }
    }
}

#[test]
fn the_export_names_users_as_the_model_does() {
    let locals = [
        "jane.doe",
        "jane.doe+tag",
        "+tag",
        "a..b",
        "-x-",
        "__",
        "x_y-z.w",
        "o'neil",
        "9lives",
        "=sum",
        "a+b+c",
        "ñandu.ß",
        "émile.zola",
        "ŉa.b",
        "a.",
        ".a",
        "ab+.c",
    ];
    for local in locals {
        let email = crate::model::EmailKey::parse(&format!("{local}@example.gov"));
        let Ok(email) = email else { continue };
        let mut name = String::from("kept ");
        push_name(&mut name, &email);
        assert_eq!(
            name,
            format!("kept {}", crate::model::name_from_email(&email)),
            "{local}"
        );
    }
}

#[test]
fn the_word_at_a_time_quote_trigger_finds_every_position() {
    for len in 0..20 {
        for at in 0..len {
            for c in [b',', b'"', b'\n', b'\r'] {
                let mut field = vec![b'a'; len];
                field[at] = c;
                assert!(has_quote_trigger(&field), "{len} {at} {c}");
            }
        }
        // Bytes next to the triggers in value, and high bytes, are no trigger.
        let field: Vec<u8> = (0..len)
            .map(|i| [b'+', b'#', b'\x0b', b'\x0e', 0xC3][i % 5])
            .collect();
        assert!(!has_quote_trigger(&field), "{len}");
    }
}
