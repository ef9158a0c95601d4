//! Local stand-in of the GitHub REST API (issues, comments, labels, search).
