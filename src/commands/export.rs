//! `export`: read the Pages reports and write Zendesk bulk-importer CSV files into a
//! directory, offline (no Zendesk, no GitHub).
//!
//! Owns the file writing: every file is written to a temporary name in the output
//! directory and renamed into place, so an interrupted export never leaves a half file
//! that looks complete. Importer files left by an earlier, larger export
//! (`organizations-NNN.csv`, `users-NNN.csv` beyond this run's) are removed, so the
//! directory never offers a stale file for import; any other file is left alone.
//!
//! Must never: print an email or a name (the returned summary holds counts only; the CSV
//! files do hold emails and names, in the directory the operator chose).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::ExportArgs;
use crate::config::FileSettings;
use crate::export::{import_instructions, write_files, ExportProblem, ImporterFormat};
use crate::source::{self, RowIssue, SourceStats};

/// The name of the text file with the import order and what each import does.
pub const INSTRUCTIONS_FILE: &str = "IMPORT-ORDER.txt";

/// What the export wrote: counts and file names only, safe to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub out_dir: PathBuf,
    pub format: ImporterFormat,
    pub organization_files: usize,
    pub user_files: usize,
    /// Importer files in import order.
    pub files: Vec<String>,
    pub organizations: usize,
    /// Partner users written (one row each).
    pub partner_users: usize,
    /// Organization memberships written (the `|`-separated cells, summed).
    pub memberships: usize,
    /// Users or organizations left out because the importer cannot take them unchanged.
    pub left_out: usize,
    /// Rows of the reports that were skipped or merged (details in `--report-json`).
    pub row_issues: usize,
    pub stats: SourceStats,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "wrote {} organizations file(s) and {} users file(s) for the {} to {} \
             ({} organizations, {} partner users, {} memberships, {} left out, {} row issue(s)); \
             import them in the order listed in {}, after reading what it says",
            self.organization_files,
            self.user_files,
            match self.format {
                ImporterFormat::DataImporter => "data importer",
                ImporterFormat::BulkActions => "Bulk actions import",
            },
            self.out_dir.display(),
            self.organizations,
            self.partner_users,
            self.memberships,
            self.left_out,
            self.row_issues,
            INSTRUCTIONS_FILE,
        )
    }
}

/// The `--report-json` document of `export`: per-row problems by line number, and the
/// records left out of the files (Pages user id and line, never an email).
#[derive(Debug, Serialize)]
struct ExportReport<'a> {
    stats: &'a SourceStats,
    issues: &'a [RowIssue],
    left_out: &'a [ExportProblem],
    files: &'a [String],
}

pub async fn export(args: &ExportArgs) -> Result<ExportSummary> {
    let settings = FileSettings::load(args.input.config.as_deref())?;
    let pages = crate::commands::flow::pages_source(&args.input)?;
    let reports = source::load_from(
        &pages,
        &settings.policy,
        &settings.pages,
        settings.reports.max_bytes,
    )
    .await?;
    let format = args.format;
    let out = args.out.clone();
    let report_json = args.report_json.clone();
    let policy = settings.policy.clone();
    let mapping = settings.mapping.clone();
    // Writing a million rows is CPU and disk work: off the async workers.
    let (written, reports) = tokio::task::spawn_blocking(move || -> Result<_> {
        std::fs::create_dir_all(&out)
            .with_context(|| format!("creating the output directory {}", out.display()))?;
        let written = write_files(&reports, &policy, &mapping, format, format.limits(), &out)?;
        let files = written.files();
        write_atomically(
            &out.join(INSTRUCTIONS_FILE),
            import_instructions(&written, &mapping).as_bytes(),
        )?;
        remove_stale(&out, &files)?;
        if let Some(path) = report_json {
            let doc = ExportReport {
                stats: &reports.stats,
                issues: &reports.issues,
                left_out: &written.problems,
                files: &files,
            };
            let text = serde_json::to_string_pretty(&doc).context("encoding the export report")?;
            write_report(&path, &text)?;
        }
        Ok((written, reports))
    })
    .await
    .context("writing the export files")??;

    let summary = ExportSummary {
        out_dir: args.out.clone(),
        format,
        organization_files: written.organization_files.len(),
        user_files: written.user_files.len(),
        files: written.files(),
        organizations: written.organizations,
        partner_users: written.users,
        memberships: written.memberships,
        left_out: written.problems.len(),
        row_issues: reports.issues.len(),
        stats: reports.stats,
    };
    tracing::info!(
        format = format.as_str(),
        organization_files = summary.organization_files,
        user_files = summary.user_files,
        left_out = summary.left_out,
        row_issues = summary.row_issues,
        "export written"
    );
    // A million users take a noticeable moment to free one by one; the process ends
    // right after the command and returns the memory at once.
    std::mem::forget(reports);
    Ok(summary)
}

fn write_report(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the directory of {}", path.display()))?;
    }
    write_atomically(path, text.as_bytes())
}

/// Writes to a temporary file next to `path`, flushes it to disk, then renames it over
/// `path`: readers see the old file or the whole new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Whether a file name is one this command writes: `organizations-NNN.csv` or `users-NNN.csv`.
fn is_importer_file(name: &str) -> bool {
    let numbered = |stem: &str| {
        name.strip_prefix(stem)
            .and_then(|rest| rest.strip_suffix(".csv"))
            .is_some_and(|n| n.len() >= 3 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    numbered("organizations-") || numbered("users-")
}

fn remove_stale(out: &Path, files: &[String]) -> Result<()> {
    let entries = std::fs::read_dir(out).with_context(|| format!("listing {}", out.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_importer_file(&name) && !files.contains(&name) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing the stale export file {name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORGS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/organizations.csv"
    );
    const USERS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/users.csv"
    );

    fn args(out: &Path, report_json: Option<PathBuf>) -> ExportArgs {
        ExportArgs {
            input: crate::cli::InputArgs {
                organizations: Some(ORGS.into()),
                users: Some(USERS.into()),
                pages_database: None,
                config: None,
            },
            out: out.to_path_buf(),
            format: ImporterFormat::DataImporter,
            report_json,
        }
    }

    #[tokio::test]
    async fn export_writes_the_files_and_the_import_order_into_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        let summary = export(&args(&out, None)).await.unwrap();
        assert_eq!(summary.files, ["organizations-001.csv", "users-001.csv"]);
        assert_eq!((summary.organization_files, summary.user_files), (1, 1));
        assert_eq!(summary.memberships, 6);
        assert_eq!(summary.memberships, summary.stats.memberships);
        let mut on_disk: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        assert_eq!(
            on_disk,
            [INSTRUCTIONS_FILE, "organizations-001.csv", "users-001.csv"]
        );
        let orgs = std::fs::read_to_string(out.join("organizations-001.csv")).unwrap();
        assert!(orgs.starts_with("name,details\r\n"));
    }

    #[tokio::test]
    async fn stale_importer_files_are_removed_and_other_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users-009.csv"), "old").unwrap();
        std::fs::write(dir.path().join("users-notes.csv"), "mine").unwrap();
        std::fs::write(dir.path().join("users-001.csv"), "old").unwrap();
        export(&args(dir.path(), None)).await.unwrap();
        assert!(!dir.path().join("users-009.csv").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("users-notes.csv")).unwrap(),
            "mine"
        );
        assert_ne!(
            std::fs::read_to_string(dir.path().join("users-001.csv")).unwrap(),
            "old"
        );
    }

    #[tokio::test]
    async fn the_report_json_lists_row_issues_by_line_without_personal_data() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users.csv");
        std::fs::write(
            &users,
            "ID,Email,Organizations,Details\n5,a@example.gov,gone-org,gone-org: user\n",
        )
        .unwrap();
        let json = dir.path().join("report/export.json");
        let mut a = args(&dir.path().join("out"), Some(json.clone()));
        a.input.users = Some(users.display().to_string());
        let summary = export(&a).await.unwrap();
        assert_eq!(summary.row_issues, 1);
        let text = std::fs::read_to_string(&json).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["issues"][0]["line"], 2);
        assert_eq!(
            doc["issues"][0]["problem"]["problem"],
            "unknown_organization"
        );
        assert!(!text.contains('@'), "{text}");
    }

    #[tokio::test]
    async fn a_file_level_problem_stays_a_source_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(&dir.path().join("out"), None);
        a.input.users = Some(ORGS.into());
        let err = export(&a).await.unwrap_err();
        assert!(
            err.downcast_ref::<source::SourceError>().is_some(),
            "{err:#}"
        );
        assert!(!dir.path().join("out").exists());
    }

    #[test]
    fn only_numbered_importer_names_count_as_export_files() {
        assert!(is_importer_file("users-001.csv"));
        assert!(is_importer_file("organizations-1234.csv"));
        assert!(!is_importer_file("users-01.csv"));
        assert!(!is_importer_file("users.csv"));
        assert!(!is_importer_file("my-users-001.csv"));
    }
}
