//! The GitHub adapter (octocrab): find or open this month's issue from the template,
//! comment the results, edit the checklist, close or reopen. Nothing outside this module
//! sees a GitHub URL, token or octocrab type.
