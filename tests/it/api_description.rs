//! Every request the binary and the adapter send to the Zendesk stand-in, checked against
//! Zendesk's published API description (`tests/fixtures/zendesk/openapi.yaml`, see the
//! README beside it for its source and date).
//!
//! A request passes when: its path matches a path of the description (`.json` suffix
//! allowed, literal segments preferred over `{params}`, integer path parameters are
//! integers); the method is declared for that path; every query parameter is declared for
//! the operation (path-level or operation-level) or is in [`GENERIC_QUERY`]; and its JSON
//! body validates against the operation's request schema (JSON Schema draft 4 with the
//! OpenAPI 3.0 `nullable` rewritten) and carries no field the schema does not declare.
//! Where the description gives no request schema but Zendesk documents the body
//! elsewhere, [`DOCUMENTED_BODIES`] supplies it; fields documented elsewhere are in
//! [`DOCUMENTED_FIELDS`]. Those three lists are the only place where anything beyond the
//! file is allowed, each entry with its source.
//!
//! The description is parsed once per test binary (a `OnceLock`); validators are built once
//! per operation.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use openapiv3::{OpenAPI, Operation, Parameter, PathItem, ReferenceOr};
use serde_json::{json, Value};
use standins::zendesk::LoggedRequest;

/// Zendesk's OpenAPI file, snapshot of 2025-06-10 (see the fixtures README).
const DESCRIPTION: &str = include_str!("../fixtures/zendesk/openapi.yaml");

/// A query parameter Zendesk documents for many operations at once, outside the
/// operations' own `parameters`.
struct GenericQuery {
    name: &'static str,
    /// Whether the operation documents it.
    applies: fn(&Operation) -> bool,
    /// Allowed values (comma-separated lists are split), or any.
    values: Option<&'static [&'static str]>,
    source: &'static str,
}

fn describes(op: &Operation, words: &str) -> bool {
    op.description
        .as_deref()
        .is_some_and(|d| d.to_ascii_lowercase().contains(words))
}

fn is_operation(op: &Operation, ids: &[&str]) -> bool {
    op.operation_id
        .as_deref()
        .is_some_and(|id| ids.contains(&id))
}

/// A request outside the description that a read-only check sends on purpose, knowing the
/// real API may not answer it: the caller treats any answer but a well-formed one as "not
/// checked" (so either answer is safe). Bodyless GETs only.
struct UndescribedRead {
    path: &'static str,
    source: &'static str,
}

/// The one list of requests outside the description.
const UNDESCRIBED_READS: &[UndescribedRead] = &[UndescribedRead {
    path: "/api/v2/account",
    source: "UNCONFIRMED: not in the OpenAPI file nor in Zendesk's public reference; `doctor` \
             reads `account.owner_id` from it to warn about an owner token and prints \
             \"not checked\" when it does not answer (src/commands/doctor.rs)",
}];

/// The one list of generic query parameters.
const GENERIC_QUERY: &[GenericQuery] = &[
    GenericQuery {
        name: "page[size]",
        applies: |op| describes(op, "cursor pagination"),
        values: None,
        source: "https://developer.zendesk.com/api-reference/introduction/pagination/ (cursor \
                 pagination: page[size], at most 100); the operation's description lists \
                 \"Cursor pagination\"",
    },
    GenericQuery {
        name: "page[after]",
        applies: |op| describes(op, "cursor pagination"),
        values: None,
        source: "https://developer.zendesk.com/api-reference/introduction/pagination/ (the next \
                 page: page[after]={meta.after_cursor})",
    },
    GenericQuery {
        name: "page[before]",
        applies: |op| describes(op, "cursor pagination"),
        values: None,
        source: "https://developer.zendesk.com/api-reference/introduction/pagination/ (the \
                 previous page: page[before]={meta.before_cursor})",
    },
    GenericQuery {
        name: "page",
        applies: |op| describes(op, "offset pagination"),
        values: None,
        source: "https://developer.zendesk.com/api-reference/introduction/pagination/ (offset \
                 pagination: page, per_page); the operation's description lists \"Offset \
                 pagination\"",
    },
    GenericQuery {
        name: "per_page",
        applies: |op| describes(op, "offset pagination"),
        values: None,
        source: "https://developer.zendesk.com/api-reference/introduction/pagination/ (offset \
                 pagination: per_page, at most 100)",
    },
    GenericQuery {
        name: "include",
        applies: |op| is_operation(op, &["ListUsers", "ShowManyUsers"]),
        values: Some(&["identities"]),
        source: "https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/ \
                 (the `include` parameter); `include=identities` on users: Zendesk's answer in \
                 https://support.zendesk.com/hc/en-us/community/posts/4410103990042 \
                 (`users/show_many.json?ids=...&include=identities`). Unrecorded with cursor \
                 pagination, hence Zendesk::check_identities_sideload",
    },
];

/// A request body Zendesk documents in prose where the description gives no schema. The
/// schema is written in the description's own terms (refs into its components).
struct DocumentedBody {
    operation: &'static str,
    /// Built from the description's components (`components["schemas"]`).
    schema: fn(&Value) -> Value,
    /// A request without this body is a problem.
    required: bool,
    source: &'static str,
}

const DOCUMENTED_BODIES: &[DocumentedBody] = &[
    DocumentedBody {
        operation: "CreateManyOrganizations",
        required: true,
        schema: |_| {
            json!({"type": "object", "required": ["organizations"], "properties": {
                "organizations": {"type": "array", "maxItems": 100,
                    "items": {"$ref": "#/components/schemas/OrganizationObject"}}}})
        },
        source: "OAS CreateManyOrganizations description: \"Accepts an array of up to 100 \
                 organization objects\" (OrganizationObject)",
    },
    DocumentedBody {
        operation: "UpdateManyOrganizations",
        required: true,
        schema: |c| {
            // OrganizationObject's properties without its `required: [name]` (an update
            // names the organization by id and changes only what it sends).
            let props = c["schemas"]["OrganizationObject"]["properties"].clone();
            json!({"type": "object", "properties": {
                "organization": {"type": "object", "properties": props.clone()},
                "organizations": {"type": "array", "maxItems": 100,
                    "items": {"type": "object", "required": ["id"], "properties": props}}}})
        },
        source: "OAS UpdateManyOrganizations description: bulk update `{\"organization\": \
                 {...}}` with ?ids=, batch update `{\"organizations\": [{\"id\": 1, ...}]}`, up \
                 to 100",
    },
    DocumentedBody {
        operation: "CreateManyOrganizationMemberships",
        required: true,
        schema: |_| {
            json!({"type": "object", "required": ["organization_memberships"], "properties": {
                "organization_memberships": {"type": "array", "maxItems": 100, "items": {
                    "type": "object", "required": ["user_id", "organization_id"],
                    "properties": {
                        "user_id": {"type": "integer"},
                        "organization_id": {"type": "integer"},
                        "default": {"type": "boolean", "nullable": true}}}}}})
        },
        source: "OAS CreateManyOrganizationMemberships description: \"Accepts an array of up \
                 to 100 organization membership objects\"; OrganizationMembershipObject \
                 (user_id, organization_id, default)",
    },
    DocumentedBody {
        operation: "CreateOrganizationMembership",
        required: true,
        schema: |_| {
            json!({"type": "object", "required": ["organization_membership"], "properties": {
                "organization_membership": {
                    "type": "object", "required": ["user_id", "organization_id"],
                    "properties": {
                        "user_id": {"type": "integer"},
                        "organization_id": {"type": "integer"},
                        "default": {"type": "boolean", "nullable": true}}}}})
        },
        source: "OAS CreateOrganizationMembership; body shape from \
                 tests/fixtures/zendesk/organization_membership__create_201__secondary.json (recorded)",
    },
    DocumentedBody {
        operation: "CreateUserIdentity",
        required: true,
        schema: |c| {
            // UserIdentityObject's properties (its `required` is the response's: user_id
            // comes from the path here), plus the documented `skip_verify_email`.
            let mut props = c["schemas"]["UserIdentityObject"]["properties"].clone();
            props["skip_verify_email"] = json!({"type": "boolean"});
            json!({"type": "object", "required": ["identity"], "properties": {
                "identity": {"type": "object", "required": ["type", "value"],
                             "properties": props}}})
        },
        source: "OAS CreateUserIdentity description (`{ \"type\" : \"email\", \"value\" : ... }`, \
                 skip_verify_email) and UserIdentityObject (verified, primary)",
    },
    DocumentedBody {
        operation: "MakeUserIdentityPrimary",
        required: true,
        schema: |_| json!({"type": "object", "maxProperties": 0}),
        source: "zendesk/zendesk_api_client_rb @7f573a8: lib/zendesk_api/resources.rb:833 \
                 `put :make_primary`; lib/zendesk_api/verbs.rb sets `req.body = opts` (`{}` by \
                 default) and middleware/request/encode_json.rb sends it as `{}` with \
                 Content-Type: application/json",
    },
];

/// Body fields an object may carry beyond what its schema declares.
struct DocumentedFields {
    /// Operations this applies to; empty = every operation.
    operations: &'static [&'static str],
    /// The schema (by component name) the object is checked against.
    schema: &'static str,
    fields: Fields,
    source: &'static str,
}

enum Fields {
    Named(&'static [&'static str]),
    /// The properties of this component that are not `readOnly`.
    WritableOf(&'static str),
}

const DOCUMENTED_FIELDS: &[DocumentedFields] = &[
    DocumentedFields {
        operations: &[],
        schema: "UserInput",
        fields: Fields::WritableOf("UserForAdmin"),
        source: "OAS UserForAdmin (the user JSON format: fields not marked readOnly are \
                 writable, e.g. details, notes, tags, user_fields, verified); UserInput itself \
                 declares only create/merge fields",
    },
    DocumentedFields {
        operations: &["CreateUser", "CreateOrUpdateUser"],
        schema: "UserInput",
        fields: Fields::Named(&["skip_verify_email"]),
        source: "OAS CreateUser / CreateOrUpdateUser descriptions: \"include a \
                 \\\"skip_verify_email\\\": true property in the body\" (not documented for \
                 create_many)",
    },
];

/// Zendesk's description, parsed once.
pub(crate) struct Description {
    spec: OpenAPI,
    /// The same file as JSON: request schemas and components for the validators.
    raw: Value,
    /// Components with `nullable` rewritten for JSON Schema.
    components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

pub(crate) fn description() -> &'static Description {
    static PARSED: OnceLock<Description> = OnceLock::new();
    PARSED.get_or_init(|| {
        let raw: Value =
            serde_yaml::from_str(DESCRIPTION).expect("Zendesk's OpenAPI file parses as YAML");
        let spec: OpenAPI =
            serde_json::from_value(raw.clone()).expect("Zendesk's OpenAPI file is OpenAPI 3.0");
        let mut components = json!({"schemas": raw["components"]["schemas"].clone()});
        rewrite_nullable(&mut components);
        Description {
            spec,
            raw,
            components,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema: `null` joins the type (and the enum).
fn rewrite_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(t) = m.get("type").cloned() {
                    let mut types = match t {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    types.push(json!("null"));
                    m.insert("type".into(), Value::Array(types));
                }
                if let Some(Value::Array(e)) = m.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            for child in m.values_mut() {
                rewrite_nullable(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// A matched operation.
struct Matched<'a> {
    template: &'a str,
    method: &'static str,
    op: &'a Operation,
    item: &'a PathItem,
    /// `{name}` → the value in the request path.
    path_params: Vec<(String, String)>,
}

impl Description {
    /// Problems with one request; empty when it conforms.
    pub(crate) fn problems(&self, req: &LoggedRequest) -> Vec<String> {
        let what = format!("{} {}", req.method, req.path);
        let path = req.path.strip_suffix(".json").unwrap_or(&req.path);
        if req.method == "GET"
            && req.body.is_none()
            && UNDESCRIBED_READS
                .iter()
                .any(|u| u.path == path && !u.source.is_empty())
        {
            return Vec::new();
        }
        let matched = match self.operation(req) {
            Ok(m) => m,
            Err(e) => return vec![format!("{what}: {e}")],
        };
        let mut problems = Vec::new();
        let op_id = matched.op.operation_id.clone().unwrap_or_default();
        let params = self.parameters(&matched);
        for (name, value) in &matched.path_params {
            match params.iter().find(|p| p.parameter_data_ref().name == *name) {
                Some(p) if is_integer_param(p) && value.parse::<u64>().is_err() => problems.push(
                    format!("{what}: path parameter {name} = {value:?} is not an integer"),
                ),
                Some(_) => {}
                None => problems.push(format!("{what}: path parameter {name} is not declared")),
            }
        }
        for (key, value) in &req.query {
            let declared = params.iter().find(|p| {
                matches!(p, Parameter::Query { .. }) && p.parameter_data_ref().name == *key
            });
            if let Some(p) = declared {
                if let Some(bad) = integer_list_problem(p, value) {
                    problems.push(format!("{what}: query parameter {key}: {bad}"));
                }
                continue;
            }
            match GENERIC_QUERY
                .iter()
                .find(|g| g.name == key && (g.applies)(matched.op))
            {
                Some(g) => {
                    if let Some(allowed) = g.values {
                        for v in value.split(',').map(str::trim) {
                            if !allowed.contains(&v) {
                                problems.push(format!(
                                    "{what}: {key}={v} is not documented ({})",
                                    g.source
                                ));
                            }
                        }
                    }
                }
                None => problems.push(format!(
                    "{what}: query parameter {key} is not declared for {op_id} ({} {}) nor a \
                     documented generic one",
                    matched.method.to_uppercase(),
                    matched.template
                )),
            }
        }
        for p in &params {
            let data = p.parameter_data_ref();
            if data.required
                && matches!(p, Parameter::Query { .. })
                && !req.query.iter().any(|(k, _)| *k == data.name)
            {
                problems.push(format!(
                    "{what}: required query parameter {} is missing",
                    data.name
                ));
            }
        }
        let json_type = req
            .content_type
            .as_deref()
            .is_some_and(|t| t.split(';').next().unwrap_or("").trim() == "application/json");
        if req.body.is_some() && !json_type {
            // Zendesk's request format: JSON bodies go with this header (reference §1, REQ).
            problems.push(format!(
                "{what}: a JSON body without Content-Type: application/json ({:?})",
                req.content_type
            ));
        }
        problems.extend(
            self.body_problems(&matched, &op_id, req.body.as_ref())
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );
        problems
    }

    fn operation(&self, req: &LoggedRequest) -> Result<Matched<'_>, String> {
        let path = req.path.strip_suffix(".json").unwrap_or(&req.path);
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        // (literal segments, template, item, path parameters) of the best match so far.
        type Candidate<'a> = (usize, &'a str, &'a PathItem, Vec<(String, String)>);
        let mut best: Option<Candidate<'_>> = None;
        for (template, item) in &self.spec.paths.paths {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            let tsegs: Vec<&str> = template.trim_matches('/').split('/').collect();
            if tsegs.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let mut params = Vec::new();
            let fits = tsegs.iter().zip(&segs).all(|(t, s)| {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    params.push((name.to_string(), (*s).to_string()));
                    !s.is_empty()
                } else {
                    literal += 1;
                    t == s
                }
            });
            if fits && best.as_ref().is_none_or(|b| literal > b.0) {
                best = Some((literal, template, item, params));
            }
        }
        let Some((_, template, item, path_params)) = best else {
            return Err("no such path in Zendesk's API description".into());
        };
        let (method, op) = match req.method.as_str() {
            "GET" => ("get", item.get.as_ref()),
            "POST" => ("post", item.post.as_ref()),
            "PUT" => ("put", item.put.as_ref()),
            "DELETE" => ("delete", item.delete.as_ref()),
            "PATCH" => ("patch", item.patch.as_ref()),
            _ => ("other", None),
        };
        let Some(op) = op else {
            return Err(format!(
                "{template} has no {} operation in Zendesk's API description",
                req.method
            ));
        };
        Ok(Matched {
            template,
            method,
            op,
            item,
            path_params,
        })
    }

    /// Path-level then operation-level parameters, references resolved.
    fn parameters(&self, m: &Matched<'_>) -> Vec<Parameter> {
        m.item
            .parameters
            .iter()
            .chain(&m.op.parameters)
            .filter_map(|p| match p {
                ReferenceOr::Item(p) => Some(p.clone()),
                ReferenceOr::Reference { reference } => {
                    let name = reference.strip_prefix("#/components/parameters/")?;
                    match self.spec.components.as_ref()?.parameters.get(name)? {
                        ReferenceOr::Item(p) => Some(p.clone()),
                        ReferenceOr::Reference { .. } => None,
                    }
                }
            })
            .collect()
    }

    /// The JSON request schema: the description's own, else the documented one.
    /// The JSON request schema and whether a body is required: the description's own,
    /// else the documented one.
    fn request_schema(&self, m: &Matched<'_>, op_id: &str) -> Option<(Value, bool)> {
        let body = &self.raw["paths"][m.template][m.method]["requestBody"];
        let own = &body["content"]["application/json"]["schema"];
        if !own.is_null() {
            return Some((own.clone(), body["required"] == json!(true)));
        }
        DOCUMENTED_BODIES
            .iter()
            .find(|d| d.operation == op_id)
            .map(|d| ((d.schema)(&self.components), d.required))
    }

    fn body_problems(&self, m: &Matched<'_>, op_id: &str, body: Option<&Value>) -> Vec<String> {
        let schema = self.request_schema(m, op_id);
        let (schema, body) = match (schema, body) {
            (None, None) => return Vec::new(),
            (Some((_, required)), None) => {
                return if required {
                    vec![format!("{op_id} takes a JSON body and none was sent")]
                } else {
                    Vec::new()
                };
            }
            (None, Some(_)) => {
                return vec![format!(
                    "{op_id} takes no request body in Zendesk's API description"
                )]
            }
            (Some((s, _)), Some(b)) => (s, b),
        };
        let validator = self.validator(op_id, &schema);
        let mut problems: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("body {}: {e}", e.instance_path()))
            .collect();
        let mut schema = schema;
        rewrite_nullable(&mut schema);
        self.undeclared_fields(op_id, body, vec![(&schema, None)], "body", &mut problems);
        problems
    }

    fn validator(&self, op_id: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(op_id.to_string())
            .or_insert_with(|| {
                let mut root = schema.clone();
                rewrite_nullable(&mut root);
                let doc = json!({
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "allOf": [root],
                    "components": self.components,
                });
                Arc::new(
                    jsonschema::draft4::new(&doc)
                        .unwrap_or_else(|e| panic!("request schema of {op_id}: {e}")),
                )
            })
            .clone()
    }

    /// Follows `$ref`s to a component; returns the schema and the last component name.
    fn resolve<'a>(
        &'a self,
        mut s: &'a Value,
        mut name: Option<&'a str>,
    ) -> (&'a Value, Option<&'a str>) {
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let Some(n) = r.strip_prefix("#/components/schemas/") else {
                break;
            };
            s = &self.components["schemas"][n];
            name = Some(n);
        }
        (s, name)
    }

    /// The schema and every `allOf`/`anyOf`/`oneOf` branch under it, resolved.
    fn branches<'a>(
        &'a self,
        s: &'a Value,
        name: Option<&'a str>,
        out: &mut Vec<(&'a Value, Option<&'a str>)>,
    ) {
        let (s, name) = self.resolve(s, name);
        out.push((s, name));
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(list)) = s.get(key) {
                for b in list {
                    self.branches(b, name, out);
                }
            }
        }
    }

    /// Walks the body beside its schema: at every object whose schema declares properties,
    /// a key that no branch declares (and no [`DOCUMENTED_FIELDS`] entry allows) is a
    /// problem, and so is a value whose JSON type no declaring branch accepts.
    fn undeclared_fields<'a>(
        &'a self,
        op_id: &str,
        value: &Value,
        schemas: Vec<(&'a Value, Option<&'a str>)>,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        let mut all = Vec::new();
        for (s, name) in schemas {
            self.branches(s, name, &mut all);
        }
        match value {
            Value::Object(obj) => {
                let mut declared: BTreeSet<&str> = BTreeSet::new();
                let mut names: BTreeSet<&str> = BTreeSet::new();
                for (s, name) in &all {
                    if let Some(Value::Object(props)) = s.get("properties") {
                        declared.extend(props.keys().map(String::as_str));
                    }
                    names.extend(*name);
                }
                if declared.is_empty() {
                    return;
                }
                let extra = self.documented_fields(op_id, &names);
                for (key, child) in obj {
                    let child_schemas: Vec<(&Value, Option<&str>)> = all
                        .iter()
                        .filter_map(|(s, name)| Some((s.get("properties")?.get(key)?, *name)))
                        .collect();
                    if child_schemas.is_empty() {
                        if !extra.contains(key.as_str()) {
                            problems.push(format!(
                                "{at}.{key} is not declared by {} nor documented elsewhere",
                                names.iter().copied().collect::<Vec<_>>().join("/")
                            ));
                        }
                        continue;
                    }
                    if let Some(p) = self.type_problem(child, &child_schemas) {
                        problems.push(format!("{at}.{key}: {p}"));
                    }
                    self.undeclared_fields(
                        op_id,
                        child,
                        child_schemas,
                        &format!("{at}.{key}"),
                        problems,
                    );
                }
            }
            Value::Array(items) => {
                let item_schemas: Vec<(&Value, Option<&str>)> = all
                    .iter()
                    .filter_map(|(s, name)| Some((s.get("items")?, *name)))
                    .collect();
                if item_schemas.is_empty() {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    self.undeclared_fields(
                        op_id,
                        item,
                        item_schemas.clone(),
                        &format!("{at}[{i}]"),
                        problems,
                    );
                }
            }
            _ => {}
        }
    }

    fn documented_fields(&self, op_id: &str, names: &BTreeSet<&str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for d in DOCUMENTED_FIELDS {
            let op_fits = d.operations.is_empty() || d.operations.contains(&op_id);
            if !op_fits || !names.contains(d.schema) {
                continue;
            }
            match d.fields {
                Fields::Named(list) => out.extend(list.iter().map(|f| f.to_string())),
                Fields::WritableOf(component) => {
                    if let Some(Value::Object(props)) =
                        self.components["schemas"][component].get("properties")
                    {
                        out.extend(
                            props
                                .iter()
                                .filter(|(_, p)| p.get("readOnly") != Some(&json!(true)))
                                .map(|(k, _)| k.clone()),
                        );
                    }
                }
            }
        }
        out
    }

    /// `Some` when every branch that gives a `type` rejects the value's JSON type.
    fn type_problem(&self, value: &Value, schemas: &[(&Value, Option<&str>)]) -> Option<String> {
        let mut all = Vec::new();
        for (s, name) in schemas {
            self.branches(s, *name, &mut all);
        }
        let mut types: Vec<&str> = Vec::new();
        for (s, _) in &all {
            match s.get("type") {
                Some(Value::String(t)) => types.push(t),
                Some(Value::Array(ts)) => types.extend(ts.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        if types.is_empty() {
            return None;
        }
        let fits = types.iter().any(|t| match *t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => true,
        });
        (!fits).then(|| format!("{value} is not of type {}", types.join(" or ")))
    }
}

fn is_integer_param(p: &Parameter) -> bool {
    match &p.parameter_data_ref().format {
        openapiv3::ParameterSchemaOrContent::Schema(ReferenceOr::Item(s)) => {
            matches!(
                s.schema_kind,
                openapiv3::SchemaKind::Type(openapiv3::Type::Integer(_))
            )
        }
        _ => false,
    }
}

/// A declared `type: array, items: integer` (or `integer`) query value that is not a
/// comma-separated list of integers.
fn integer_list_problem(p: &Parameter, value: &str) -> Option<String> {
    let openapiv3::ParameterSchemaOrContent::Schema(ReferenceOr::Item(s)) =
        &p.parameter_data_ref().format
    else {
        return None;
    };
    let integers = match &s.schema_kind {
        openapiv3::SchemaKind::Type(openapiv3::Type::Integer(_)) => true,
        openapiv3::SchemaKind::Type(openapiv3::Type::Array(a)) => matches!(
            a.items
                .as_ref()
                .and_then(|i| i.as_item())
                .map(|i| &i.schema_kind),
            Some(openapiv3::SchemaKind::Type(openapiv3::Type::Integer(_)))
        ),
        _ => false,
    };
    let bad: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|v| v.parse::<i64>().is_err())
        .collect();
    (integers && !bad.is_empty()).then(|| format!("{bad:?} are not integers"))
}

/// Panics with every request of the log that the description does not allow. With
/// `PZS_API_COVERAGE=FILE` it also appends `METHOD template operationId` per request to
/// FILE (which request kinds the tests exercised).
pub(crate) fn assert_requests_conform(what: &str, requests: &[LoggedRequest]) {
    let d = description();
    if let Some(file) = std::env::var_os("PZS_API_COVERAGE") {
        let lines: String = requests
            .iter()
            .filter_map(|r| d.operation(r).ok())
            .map(|m| {
                let id = m.op.operation_id.as_deref().unwrap_or("-");
                format!("{} {} {id}\n", m.method.to_uppercase(), m.template)
            })
            .collect();
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .expect("the coverage file opens");
        f.write_all(lines.as_bytes())
            .expect("the coverage file is written");
    }
    // `users[7]` and `users[8]` are one problem: the array positions are folded.
    let unique: BTreeSet<String> = requests
        .iter()
        .flat_map(|r| d.problems(r))
        .map(|p| fold_indices(&p))
        .collect();
    assert!(
        unique.is_empty(),
        "{what}: requests outside Zendesk's API description (tests/fixtures/zendesk/openapi.yaml):\n{}",
        unique.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// `[12]` → `[*]`.
fn fold_indices(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        match rest.find(']') {
            Some(close) if close > 0 && rest[..close].bytes().all(|b| b.is_ascii_digit()) => {
                out.push('*');
                rest = &rest[close..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> LoggedRequest {
        LoggedRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
            status: 200,
            content_type: body_type(method),
            request_id: String::new(),
        }
    }

    fn body_type(method: &str) -> Option<String> {
        (method != "GET").then(|| "application/json".to_string())
    }

    fn problems(r: LoggedRequest) -> Vec<String> {
        description().problems(&r)
    }

    #[test]
    fn the_requests_the_sync_sends_conform() {
        let ok = [
            request(
                "GET",
                "/api/v2/users",
                &[
                    ("page[size]", "100"),
                    ("include", "identities"),
                    ("page[after]", "abc"),
                ],
                None,
            ),
            request(
                "GET",
                "/api/v2/organizations.json",
                &[("page[size]", "100")],
                None,
            ),
            request(
                "GET",
                "/api/v2/organization_memberships",
                &[("page[size]", "100")],
                None,
            ),
            request("GET", "/api/v2/users/show_many", &[("ids", "1,2")], None),
            request(
                "GET",
                "/api/v2/job_statuses/show_many",
                &[("ids", "V3-abc,V3-def")],
                None,
            ),
            request("GET", "/api/v2/job_statuses/V3-abc", &[], None),
            request(
                "DELETE",
                "/api/v2/organization_memberships/destroy_many",
                &[("ids", "1,2,3")],
                None,
            ),
            request(
                "POST",
                "/api/v2/users/create_many",
                &[],
                Some(
                    json!({"users": [{"name": "A B", "email": "a@b.gov", "role": "end-user",
                    "external_id": "pages-user-1", "details": "Org: manager", "tags": ["x"],
                    "verified": true}]}),
                ),
            ),
            request(
                "POST",
                "/api/v2/users",
                &[],
                Some(
                    json!({"user": {"name": "A B", "email": "a@b.gov", "verified": true,
                    "skip_verify_email": true, "user_fields": {"k": "v"}}}),
                ),
            ),
            request(
                "PUT",
                "/api/v2/users/update_many",
                &[],
                Some(json!({"users": [{"id": 1, "notes": "n", "tags": []}]})),
            ),
            request(
                "POST",
                "/api/v2/organizations/create_many",
                &[],
                Some(json!({"organizations": [{"name": "O", "details": null}]})),
            ),
            request(
                "PUT",
                "/api/v2/organizations/update_many",
                &[],
                Some(json!({"organizations": [{"id": 4, "details": "Agency"}]})),
            ),
            request(
                "POST",
                "/api/v2/organization_memberships/create_many",
                &[],
                Some(json!({"organization_memberships": [{"user_id": 1, "organization_id": 2}]})),
            ),
            request(
                "POST",
                "/api/v2/users/12/identities",
                &[],
                Some(
                    json!({"identity": {"type": "email", "value": "a@b.gov", "verified": true,
                    "skip_verify_email": true}}),
                ),
            ),
            request(
                "PUT",
                "/api/v2/users/12/identities/34/make_primary",
                &[],
                Some(json!({})),
            ),
        ];
        for r in ok {
            assert_eq!(problems(r.clone()), Vec::<String>::new(), "{r:?}");
        }
    }

    #[test]
    fn a_wrong_path_method_parameter_or_body_field_fails_the_check() {
        let wrong = [
            // no such path
            request("GET", "/api/v2/users/1/memberships", &[], None),
            // no such method on a real path
            request("DELETE", "/api/v2/users/show_many", &[("ids", "1")], None),
            // an undeclared query parameter
            request(
                "GET",
                "/api/v2/users/show_many",
                &[("emails", "a@b.gov")],
                None,
            ),
            // a generic parameter where the operation does not document it
            request(
                "GET",
                "/api/v2/job_statuses/show_many",
                &[("ids", "a"), ("page[size]", "100")],
                None,
            ),
            // a sideload nobody documents
            request("GET", "/api/v2/users", &[("include", "passwords")], None),
            // a required parameter missing
            request("GET", "/api/v2/job_statuses/show_many", &[], None),
            // non-integer ids where integers are declared
            request(
                "DELETE",
                "/api/v2/organization_memberships/destroy_many",
                &[("ids", "1,x")],
                None,
            ),
            // a non-integer id in the path
            request(
                "PUT",
                "/api/v2/users/abc/identities/1/make_primary",
                &[],
                Some(json!({})),
            ),
            // an undeclared body field
            request(
                "POST",
                "/api/v2/users/create_many",
                &[],
                Some(
                    json!({"users": [{"name": "A", "email": "a@b.gov", "organization_ids": [1]}]}),
                ),
            ),
            // skip_verify_email is documented for POST /users, not for create_many
            request(
                "POST",
                "/api/v2/users/create_many",
                &[],
                Some(
                    json!({"users": [{"name": "A", "email": "a@b.gov", "skip_verify_email": true}]}),
                ),
            ),
            // a body of the wrong shape
            request(
                "POST",
                "/api/v2/users/create_many",
                &[],
                Some(json!({"user": {"name": "A"}})),
            ),
            // a field of the wrong type
            request(
                "POST",
                "/api/v2/organization_memberships/create_many",
                &[],
                Some(
                    json!({"organization_memberships": [{"user_id": "one", "organization_id": 2}]}),
                ),
            ),
            // make_primary without the body the official client sends
            request(
                "PUT",
                "/api/v2/users/12/identities/34/make_primary",
                &[],
                None,
            ),
            // a JSON body without its Content-Type
            LoggedRequest {
                content_type: None,
                ..request(
                    "PUT",
                    "/api/v2/users/12/identities/34/make_primary",
                    &[],
                    Some(json!({})),
                )
            },
            // a body where none is documented
            request(
                "DELETE",
                "/api/v2/organization_memberships/destroy_many",
                &[("ids", "1")],
                Some(json!({"ids": [1]})),
            ),
        ];
        for r in wrong {
            assert!(
                !problems(r.clone()).is_empty(),
                "expected a problem with {r:?}"
            );
        }
    }

    #[test]
    fn every_generic_entry_names_its_source() {
        assert!(GENERIC_QUERY.iter().all(|g| !g.source.is_empty()));
        assert!(DOCUMENTED_BODIES.iter().all(|d| !d.source.is_empty()));
        assert!(DOCUMENTED_FIELDS.iter().all(|d| !d.source.is_empty()));
        // Every documented body names an operation the description has.
        let d = description();
        let ids: BTreeSet<String> = d
            .spec
            .operations()
            .filter_map(|(_, _, op)| op.operation_id.clone())
            .collect();
        for b in DOCUMENTED_BODIES {
            assert!(ids.contains(b.operation), "{}", b.operation);
        }
    }
}
