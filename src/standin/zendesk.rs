//! Local stand-in of the Zendesk Support API.
