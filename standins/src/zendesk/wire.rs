//! Compact JSON written straight into a byte buffer, for the list pages a 100k-user read
//! fetches by the thousand: building a `serde_json::Value` per record (a map with ~40
//! owned keys) and then serialising it made the stand-in, not the client, the bottleneck
//! of `examples/plan_standin.rs` (BENCHMARKS.md, issue 12 item 3).
//!
//! Owns: the byte format only. The output is exactly what `Value::to_string` gives for
//! the same object: keys in byte order (serde_json's `Map` is a `BTreeMap` here), no
//! spaces, strings escaped by serde_json itself. Must never decide what a record contains
//! (that is `world.rs`).

use serde_json::{Map, Value};

/// One value of an object being written; borrows from the world, so writing a record
/// allocates nothing but the buffer.
pub(crate) enum Field<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    Owned(String),
    U64(u64),
    OptU64(Option<u64>),
    Bool(bool),
    Null,
    Strs(&'a [String]),
    Object(&'a Map<String, Value>),
    EmptyArray,
}

impl Field<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Field::Str(s) => write_str(out, s),
            Field::OptStr(Some(s)) => write_str(out, s),
            Field::Owned(s) => write_str(out, s),
            Field::U64(n) | Field::OptU64(Some(n)) => write_u64(out, *n),
            Field::Bool(true) => out.extend_from_slice(b"true"),
            Field::Bool(false) => out.extend_from_slice(b"false"),
            Field::OptStr(None) | Field::OptU64(None) | Field::Null => {
                out.extend_from_slice(b"null");
            }
            Field::Strs(items) => write_array(out, items.iter(), |out, s| write_str(out, s)),
            // Serialising a map of `Value`s into a Vec cannot fail.
            Field::Object(map) => {
                let _ = serde_json::to_writer(&mut *out, map);
            }
            Field::EmptyArray => out.extend_from_slice(b"[]"),
        }
    }
}

/// Writes `{"key":value,...}` with the keys sorted as serde_json's `Map` sorts them.
pub(crate) fn write_object(out: &mut Vec<u8>, fields: &mut [(&str, Field<'_>)]) {
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    debug_assert!(
        fields.windows(2).all(|w| w[0].0 != w[1].0),
        "a key appears twice"
    );
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        value.write(out);
    }
    out.push(b'}');
}

/// A JSON string with serde_json's escaping.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{n}");
}

/// A `Value`, as `Value::to_string` writes it.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Serialising a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// A response body whose record arrays were written already: the other members are small
/// `Value`s (paging fields); the whole is written as `Value::to_string` would write the
/// object with the arrays in place.
#[derive(Default)]
pub(crate) struct Page {
    members: std::collections::BTreeMap<String, Member>,
}

enum Member {
    Value(Value),
    /// Already-written JSON.
    Raw(Vec<u8>),
}

impl Page {
    pub(crate) fn new(paging: Map<String, Value>) -> Page {
        Page {
            members: paging
                .into_iter()
                .map(|(k, v)| (k, Member::Value(v)))
                .collect(),
        }
    }

    /// Adds a member whose value `write` writes (a JSON array of records).
    pub(crate) fn raw(&mut self, key: &str, json: Vec<u8>) {
        self.members.insert(key.to_string(), Member::Raw(json));
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let size: usize = self
            .members
            .values()
            .map(|m| match m {
                Member::Raw(b) => b.len(),
                Member::Value(_) => 256,
            })
            .sum();
        let mut out = Vec::with_capacity(size + 64);
        out.push(b'{');
        for (i, (key, member)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, key);
            out.push(b':');
            match member {
                Member::Value(v) => write_value(&mut out, v),
                Member::Raw(b) => out.extend_from_slice(b),
            }
        }
        out.push(b'}');
        out
    }
}

/// Writes `[item,item,...]`, each item by `write_item`.
pub(crate) fn write_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}
