//! Amazon's own API descriptions, embedded, and a checker of requests and answers against them.
//!
//! The emulator (`tests/amazon-emulator`) is written from the same reading of Amazon's
//! documentation as the client, so a mistake they share is invisible to every test that talks to
//! it. This crate checks against what Amazon publishes instead: the OpenAPI files vendored in
//! `tests/contracts/amazon/` (their sources are in `SOURCES.md` there) and, for the APIs without a
//! public OpenAPI file (`/dsp/v1`, AMC uploads and audiences, Login with Amazon), the guide pages'
//! samples ([`guide`], [`json_samples`]).
//!
//! - [`check_request`]: finds the operation by method and path template (scheme, host and query
//!   are not part of the match), then checks required header and query parameters, the content
//!   type and the JSON body against the operation's schema. [`CheckError::Undocumented`] says
//!   that no vendored file has the operation (the guide samples are the contract there),
//!   [`CheckError::Refused`] lists the [`Violation`]s.
//! - [`check_answer`]: an answer's status, content type and body against the documented answer
//!   of that status.
//!
//! A [`Violation`] names where (a header, the body's JSON pointer, ...) and the schema keyword,
//! never a value: bodies hold hashed personal data and tokens.
//!
//! OpenAPI 3.0 schema objects are JSON Schema draft 4 plus a few keywords; `nullable: true` is
//! rewritten to draft 4 (a `null` type) when a document is loaded, the other OpenAPI-only keywords
//! (`example`, `discriminator`, `readOnly`, ...) are annotations that validation ignores.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Map, Value, json};

mod guides;

pub use guides::{CodeBlock, GUIDES, code_blocks, guide, json_samples};

/// One vendored OpenAPI file.
#[derive(Debug)]
pub struct Document {
    /// Its file name under `tests/contracts/amazon/`.
    pub file: &'static str,
    /// The API it describes, in a few words.
    pub api: &'static str,
    /// `openapi` as the file states it (all vendored files are 3.0.x).
    pub version: String,
    root: Value,
}

impl Document {
    /// The parsed document (with `nullable` rewritten for draft 4).
    pub fn root(&self) -> &Value {
        &self.root
    }

    fn uri(&self) -> String {
        format!("urn:amazon-contract:{}", self.file)
    }
}

/// The vendored files: name, API, text. One list: `SOURCES.md` describes the same files, and a
/// test checks that every file named there is embedded here.
const FILES: &[(&str, &str, &str)] = &[
    (
        "amazon-ads-v1-all.json",
        "Amazon Ads API v1 (Events API, accounts)",
        include_str!("../../contracts/amazon/amazon-ads-v1-all.json"),
    ),
    (
        "data-provider.yaml",
        "Data Provider audiences, records and users",
        include_str!("../../contracts/amazon/data-provider.yaml"),
    ),
    (
        "hashed-records.json",
        "Data Provider hashed records",
        include_str!("../../contracts/amazon/hashed-records.json"),
    ),
    (
        "dsp-advertisers.yaml",
        "DSP advertisers",
        include_str!("../../contracts/amazon/dsp-advertisers.yaml"),
    ),
    (
        "dsp-conversions.json",
        "legacy DSP conversions",
        include_str!("../../contracts/amazon/dsp-conversions.json"),
    ),
    (
        "AMCAdministration_prod_3p.json",
        "AMC administration (accounts, instances)",
        include_str!("../../contracts/amazon/AMCAdministration_prod_3p.json"),
    ),
];

/// Departures of Amazon's files from Amazon's own prose that the checker corrects when it loads
/// a file (the vendored file stays unchanged): file, JSON pointer, the value the file has, the
/// value used, and why. A test checks that each file still has the value it corrects.
pub const ERRATA: &[(&str, &str, i64, i64, &str)] = &[(
    "amazon-ads-v1-all.json",
    "/components/schemas/ErrorsIndex/properties/index/maximum",
    0,
    499,
    "ErrorsIndex.index is the 0-based index of the failed item in a batch of up to 500 \
     (EventMultiStatusSuccess.index has maximum 499); a maximum of 0 would allow only the first",
)];

/// An HTTP method an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of one document.
#[derive(Debug)]
struct Operation {
    doc: usize,
    method: String,
    template: String,
    segments: Vec<Segment>,
    /// JSON pointer to the path item in the document.
    path_pointer: String,
    operation_id: Option<String>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

/// The parsed documents and an index of their operations.
pub struct Contract {
    documents: Vec<Document>,
    operations: Vec<Operation>,
    registry: OnceLock<Registry<'static>>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contract")
            .field("documents", &self.documents.len())
            .field("operations", &self.operations.len())
            .finish_non_exhaustive()
    }
}

/// Which operation a request or answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRef {
    /// The vendored file.
    pub file: &'static str,
    /// The method, upper case.
    pub method: String,
    /// The path template as the file writes it, such as `/v2/dp/audiencemetadata/{audienceId}`.
    pub path: String,
    /// The `operationId`, where the file gives one.
    pub operation_id: Option<String>,
}

impl fmt::Display for OperationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.file)
    }
}

/// Where a violation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The method (the path exists with other methods).
    Method,
    /// The path (for example a trailing slash the file does not write).
    Path,
    /// A header, by the name the file gives it.
    Header(String),
    /// A query parameter.
    Query(String),
    /// The `Content-Type`.
    ContentType,
    /// The body; the violation's pointer says where in it.
    Body,
    /// The answer's status.
    Status,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Method => f.write_str("method"),
            Place::Path => f.write_str("path"),
            Place::Header(name) => write!(f, "header {name}"),
            Place::Query(name) => write!(f, "query {name}"),
            Place::ContentType => f.write_str("content-type"),
            Place::Body => f.write_str("body"),
            Place::Status => f.write_str("status"),
        }
    }
}

/// One way a request or answer departs from the document. Its `Display` holds the place, the
/// body's JSON pointer, the schema keyword and what the schema expects, never a value from the
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where.
    pub place: Place,
    /// The JSON pointer into the body (`""` for the whole body, or outside the body).
    pub pointer: String,
    /// The schema keyword (`required`, `type`, `enum`, `maxItems`, ...) or, outside the schema, a
    /// stable code: `missing`, `undocumented_method`, `trailing_slash`, `unsupported_media_type`,
    /// `not_json`, `body_required`, `undocumented_body`, `undocumented_status`.
    pub keyword: String,
    /// What the document expects, in words, without the value.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.place)?;
        if !self.pointer.is_empty() {
            write!(f, " {}", self.pointer)?;
        }
        write!(f, ": {} ({})", self.message, self.keyword)
    }
}

impl Violation {
    fn new(place: Place, keyword: &str, message: impl Into<String>) -> Violation {
        Violation {
            place,
            pointer: String::new(),
            keyword: keyword.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// No vendored file has an operation for this method and path: the endpoint is undocumented
    /// there (for `/dsp/v1` and AMC uploads the guide samples are the contract).
    Undocumented {
        /// The request's method.
        method: String,
        /// The request's path (no query).
        path: String,
    },
    /// The operation exists, and the request or answer departs from it.
    Refused {
        /// The operation.
        operation: Box<OperationRef>,
        /// Every departure found.
        violations: Vec<Violation>,
    },
}

impl CheckError {
    /// The violations, if refused.
    pub fn violations(&self) -> &[Violation] {
        match self {
            CheckError::Undocumented { .. } => &[],
            CheckError::Refused { violations, .. } => violations,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Undocumented { method, path } => {
                write!(
                    f,
                    "{method} {path}: no vendored OpenAPI file has this operation"
                )
            }
            CheckError::Refused {
                operation,
                violations,
            } => {
                write!(f, "{operation}:")?;
                for v in violations {
                    write!(f, "\n  - {v}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CheckError {}

/// The path of a URL: scheme and host removed, query and fragment cut off.
fn url_path(url: &str) -> (&str, Option<&str>) {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            }
        }
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .skip(1)
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

/// How many literal segments match, if the path fits the template.
fn match_score(template: &[Segment], path: &[&str]) -> Option<usize> {
    if template.len() != path.len() {
        return None;
    }
    let mut literals = 0;
    for (t, p) in template.iter().zip(path) {
        match t {
            Segment::Literal(l) if l == p => literals += 1,
            Segment::Literal(_) => return None,
            Segment::Param if p.is_empty() => return None,
            Segment::Param => {}
        }
    }
    Some(literals)
}

/// The operation whose template fits the path with the most literal segments.
fn best<'a>(
    candidates: impl Iterator<Item = &'a Operation>,
    parts: &[&str],
) -> Option<&'a Operation> {
    candidates
        .filter_map(|op| match_score(&op.segments, parts).map(|s| (s, op)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, op)| op)
}

/// Escapes a JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The media type without parameters, lower case.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a documented media range (`application/json`, `application/*`, `*/*`) covers a type.
fn media_matches(documented: &str, actual: &str) -> bool {
    let documented = media_type(documented);
    if documented == actual || documented == "*/*" {
        return true;
    }
    match documented.strip_suffix("/*") {
        Some(kind) => actual.split('/').next() == Some(kind),
        None => false,
    }
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// Rewrites OpenAPI 3.0's `nullable: true` as draft 4 says it: `null` added to `type` (and to
/// `enum`, as OpenAPI 3.0.3 reads a nullable enum), or, without a `type`, "null or the schema".
fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                rewrite_nullable(v);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::Array(options)) = map.get_mut("enum")
                    && !options.contains(&Value::Null)
                {
                    options.push(Value::Null);
                }
                match map.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = std::mem::take(t);
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(types)) => {
                        if !types.contains(&json!("null")) {
                            types.push(json!("null"));
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([{"type": "null"}, inner]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

fn load(file: &'static str, api: &'static str, text: &str) -> Document {
    let mut root: Value = if file.ends_with(".yaml") || file.ends_with(".yml") {
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"))
    } else {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
    };
    let version = root
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{file}: not an OpenAPI 3 document (Swagger 2.0 is not read)"))
        .to_owned();
    assert!(
        version.starts_with("3.0."),
        "{file}: OpenAPI {version}; this checker reads 3.0.x"
    );
    rewrite_nullable(&mut root);
    for (errata_file, pointer, documented, used, _) in ERRATA {
        if *errata_file == file {
            let slot = root
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{file}: erratum {pointer} is not in the file"));
            assert_eq!(
                slot.as_i64(),
                Some(*documented),
                "{file}: erratum {pointer}"
            );
            *slot = json!(used);
        }
    }
    Document {
        file,
        api,
        version,
        root,
    }
}

fn index(documents: &[Document]) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (doc, document) in documents.iter().enumerate() {
        let Some(paths) = document.root.get("paths").and_then(Value::as_object) else {
            continue;
        };
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                operations.push(Operation {
                    doc,
                    method: method.to_ascii_uppercase(),
                    template: template.clone(),
                    segments: segments(template),
                    path_pointer: format!("/paths/{}", escape(template)),
                    operation_id: op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
    }
    operations
}

/// How a request's or answer's body is checked.
struct BodyCheck<'a> {
    /// The media type map (`content`) of the request body or answer, with its pointer.
    content: Option<(&'a Map<String, Value>, String)>,
    required: bool,
    place_for_status: bool,
}

impl Contract {
    /// The vendored files, parsed once per process.
    pub fn amazon() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let documents: Vec<Document> = FILES
                .iter()
                .map(|(file, api, text)| load(file, api, text))
                .collect();
            let operations = index(&documents);
            Contract {
                documents,
                operations,
                registry: OnceLock::new(),
                validators: Mutex::new(HashMap::new()),
            }
        })
    }

    /// The vendored documents.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// The document vendored under this file name.
    pub fn document(&self, file: &str) -> Option<&Document> {
        self.documents.iter().find(|d| d.file == file)
    }

    /// Every operation, as `(file, METHOD, path template)`.
    pub fn operations(&self) -> impl Iterator<Item = OperationRef> + '_ {
        self.operations.iter().map(|op| self.reference(op))
    }

    fn reference(&self, op: &Operation) -> OperationRef {
        OperationRef {
            file: self.documents[op.doc].file,
            method: op.method.clone(),
            path: op.template.clone(),
            operation_id: op.operation_id.clone(),
        }
    }

    /// The operation for this method and URL, without checking anything else.
    pub fn find(&self, method: &str, url: &str) -> Result<OperationRef, CheckError> {
        self.locate(method, url).map(|op| self.reference(op))
    }

    fn locate(&self, method: &str, url: &str) -> Result<&Operation, CheckError> {
        let (path, _) = url_path(url);
        let method = method.to_ascii_uppercase();
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        if let Some(op) = best(
            self.operations.iter().filter(|op| op.method == method),
            &parts,
        ) {
            return Ok(op);
        }
        let undocumented = || CheckError::Undocumented {
            method: method.clone(),
            path: path.to_owned(),
        };
        // The path with other methods only.
        if let Some(op) = best(self.operations.iter(), &parts) {
            let allowed: Vec<&str> = self
                .operations
                .iter()
                .filter(|o| o.doc == op.doc && o.template == op.template)
                .map(|o| o.method.as_str())
                .collect();
            return Err(CheckError::Refused {
                operation: Box::new(self.reference(op)),
                violations: vec![Violation::new(
                    Place::Method,
                    "undocumented_method",
                    format!(
                        "{method} is not documented here; the file has {}",
                        allowed.join(", ")
                    ),
                )],
            });
        }
        // The path with a trailing slash added or removed.
        let toggled = match path.strip_suffix('/') {
            Some(trimmed) => trimmed.to_owned(),
            None => format!("{path}/"),
        };
        let toggled_parts: Vec<&str> = toggled.split('/').skip(1).collect();
        if let Some(op) = best(self.operations.iter(), &toggled_parts) {
            return Err(CheckError::Refused {
                operation: Box::new(self.reference(op)),
                violations: vec![Violation::new(
                    Place::Path,
                    "trailing_slash",
                    format!("the file writes the path as {}", op.template),
                )],
            });
        }
        Err(undocumented())
    }

    /// Follows `$ref`s inside the document; the value and its pointer.
    fn deref<'a>(&'a self, doc: usize, value: &'a Value, pointer: String) -> (&'a Value, String) {
        let root = &self.documents[doc].root;
        let mut value = value;
        let mut pointer = pointer;
        for _ in 0..16 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(fragment) = target.strip_prefix('#') else {
                panic!("{}: external $ref {target}", self.documents[doc].file);
            };
            value = root
                .pointer(fragment)
                .unwrap_or_else(|| panic!("{}: dangling $ref {target}", self.documents[doc].file));
            pointer = fragment.to_owned();
        }
        (value, pointer)
    }

    /// The operation's parameters: path item's, overridden by the operation's (by `in` and `name`).
    fn parameters(&self, op: &Operation) -> Vec<(&Value, String)> {
        let root = &self.documents[op.doc].root;
        let item = root.pointer(&op.path_pointer).expect("indexed path item");
        let method = op.method.to_ascii_lowercase();
        let mut out: Vec<(&Value, String)> = Vec::new();
        for (list, base) in [
            (
                item.get("parameters"),
                format!("{}/parameters", op.path_pointer),
            ),
            (
                item.get(&method).and_then(|o| o.get("parameters")),
                format!("{}/{method}/parameters", op.path_pointer),
            ),
        ] {
            let Some(list) = list.and_then(Value::as_array) else {
                continue;
            };
            for (i, p) in list.iter().enumerate() {
                let (p, ptr) = self.deref(op.doc, p, format!("{base}/{i}"));
                let key = |v: &Value| {
                    (
                        v.get("in").and_then(Value::as_str).map(str::to_owned),
                        v.get("name")
                            .and_then(Value::as_str)
                            .map(str::to_ascii_lowercase),
                    )
                };
                out.retain(|(q, _)| key(q) != key(p));
                out.push((p, ptr));
            }
        }
        out
    }

    fn registry(&self) -> &Registry<'static> {
        // The registry borrows the documents, which live as long as the static contract.
        let contract: &'static Contract = Contract::amazon();
        contract.registry.get_or_init(|| {
            let mut builder = Registry::new().draft(Draft::Draft4);
            for d in &contract.documents {
                builder = builder
                    .add(d.uri(), Draft::Draft4.create_resource_ref(&d.root))
                    .expect("a valid URI");
            }
            builder.prepare().expect("the vendored documents index")
        })
    }

    /// The validator of the schema at `pointer` in document `doc`, compiled once.
    fn validator(&self, doc: usize, pointer: &str) -> Arc<Validator> {
        let uri = format!("{}#{}", self.documents[doc].uri(), encode_fragment(pointer));
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(&uri) {
            return Arc::clone(v);
        }
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_registry(self.registry())
            .should_validate_formats(true)
            .build(&json!({ "$ref": uri }))
            .unwrap_or_else(|e| panic!("{uri}: the schema does not compile: {e}"));
        let validator = Arc::new(validator);
        cache.insert(uri, Arc::clone(&validator));
        validator
    }

    fn check_body(
        &self,
        doc: usize,
        check: BodyCheck<'_>,
        content_type: Option<&str>,
        body: Option<&str>,
        violations: &mut Vec<Violation>,
    ) {
        let body = body.filter(|b| !b.is_empty());
        let Some((content, content_pointer)) = check.content else {
            if body.is_some() && !check.place_for_status {
                violations.push(Violation::new(
                    Place::Body,
                    "undocumented_body",
                    "the operation documents no request body",
                ));
            }
            return;
        };
        let Some(body) = body else {
            if check.required {
                violations.push(Violation::new(
                    Place::Body,
                    "body_required",
                    "the operation requires a body",
                ));
            }
            return;
        };
        let documented: Vec<&str> = content.keys().map(String::as_str).collect();
        let Some(actual) = content_type.map(media_type) else {
            violations.push(Violation::new(
                Place::ContentType,
                "missing",
                format!(
                    "no content type; the file documents {}",
                    documented.join(", ")
                ),
            ));
            return;
        };
        let Some((key, media)) = content.iter().find(|(k, _)| media_matches(k, &actual)) else {
            violations.push(Violation::new(
                Place::ContentType,
                "unsupported_media_type",
                format!(
                    "{actual} is not documented; the file documents {}",
                    documented.join(", ")
                ),
            ));
            return;
        };
        if !is_json(&actual) {
            return;
        }
        let instance: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                violations.push(Violation::new(
                    Place::Body,
                    "not_json",
                    format!(
                        "the body is not JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                ));
                return;
            }
        };
        let Some(schema) = media.get("schema") else {
            return;
        };
        let (_, schema_pointer) = self.deref(
            doc,
            schema,
            format!("{content_pointer}/{}/schema", escape(key)),
        );
        let validator = self.validator(doc, &schema_pointer);
        for error in validator.iter_errors(&instance) {
            violations.push(Violation {
                place: Place::Body,
                pointer: error.instance_path().as_str().to_owned(),
                keyword: error.kind().keyword().to_owned(),
                message: error.masked().to_string(),
            });
        }
    }

    /// Checks a request against the operation it targets.
    pub fn check_request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<OperationRef, CheckError> {
        let op = self.locate(method, url)?;
        let (_, query) = url_path(url);
        let query_names: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split('=').next().unwrap_or(p))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let root = &self.documents[op.doc].root;
        let operation = root
            .pointer(&format!(
                "{}/{}",
                op.path_pointer,
                op.method.to_ascii_lowercase()
            ))
            .expect("indexed operation");
        let has_body = operation.get("requestBody").is_some();
        let mut violations = Vec::new();
        for (p, _) in self.parameters(op) {
            let required = p.get("required") == Some(&Value::Bool(true));
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            match p.get("in").and_then(Value::as_str) {
                Some("header") if required => {
                    // OpenAPI 3.0 says header parameters named Accept, Content-Type or
                    // Authorization are ignored; Amazon's files list them as required anyway.
                    // Authorization is checked (every call is authorized), Content-Type only
                    // through the request body's media types, Accept not at all.
                    if name.eq_ignore_ascii_case("accept")
                        || name.eq_ignore_ascii_case("content-type")
                    {
                        continue;
                    }
                    if header(name).is_none_or(str::is_empty) {
                        violations.push(Violation::new(
                            Place::Header(name.to_owned()),
                            "missing",
                            "a required header is missing",
                        ));
                    }
                }
                Some("query") if required && !query_names.contains(&name) => {
                    violations.push(Violation::new(
                        Place::Query(name.to_owned()),
                        "missing",
                        "a required query parameter is missing",
                    ));
                }
                _ => {}
            }
        }
        let check = if has_body {
            let base = format!(
                "{}/{}/requestBody",
                op.path_pointer,
                op.method.to_ascii_lowercase()
            );
            let (rb, rb_pointer) = self.deref(op.doc, &operation["requestBody"], base);
            BodyCheck {
                content: rb
                    .get("content")
                    .and_then(Value::as_object)
                    .map(|c| (c, format!("{rb_pointer}/content"))),
                required: rb.get("required") == Some(&Value::Bool(true)),
                place_for_status: false,
            }
        } else {
            BodyCheck {
                content: None,
                required: false,
                place_for_status: false,
            }
        };
        self.check_body(op.doc, check, header("content-type"), body, &mut violations);
        if violations.is_empty() {
            Ok(self.reference(op))
        } else {
            Err(CheckError::Refused {
                operation: Box::new(self.reference(op)),
                violations,
            })
        }
    }

    /// The documented answer of `status` (the exact status, else its range such as `4XX`, else
    /// `default`), dereferenced, with its pointer.
    fn response(&self, op: &Operation, status: u16) -> Option<(&Value, String)> {
        let root = &self.documents[op.doc].root;
        let base = format!(
            "{}/{}/responses",
            op.path_pointer,
            op.method.to_ascii_lowercase()
        );
        let responses = root.pointer(&base).and_then(Value::as_object)?;
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let (key, response) = [exact.as_str(), range.as_str(), "default"]
            .into_iter()
            .find_map(|k| responses.get(k).map(|v| (k, v)))?;
        Some(self.deref(op.doc, response, format!("{base}/{}", escape(key))))
    }

    /// Whether the operation documents an answer for `status` (exactly, by range or `default`).
    pub fn documents_status(&self, method: &str, url: &str, status: u16) -> bool {
        self.locate(method, url)
            .is_ok_and(|op| self.response(op, status).is_some())
    }

    /// The media types the operation documents for the answer of `status`, in the file's order.
    pub fn answer_media_types(&self, method: &str, url: &str, status: u16) -> Vec<&str> {
        let Ok(op) = self.locate(method, url) else {
            return Vec::new();
        };
        self.response(op, status)
            .and_then(|(r, _)| r.get("content").and_then(Value::as_object))
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Checks an answer against the operation's documented answer for its status (the exact
    /// status, else its range such as `4XX`, else `default`).
    pub fn check_answer(
        &self,
        method: &str,
        url: &str,
        status: u16,
        content_type: Option<&str>,
        body: Option<&str>,
    ) -> Result<OperationRef, CheckError> {
        let op = self.locate(method, url)?;
        let mut violations = Vec::new();
        match self.response(op, status) {
            None => violations.push(Violation::new(
                Place::Status,
                "undocumented_status",
                format!("{status} is not a documented answer of this operation"),
            )),
            Some((response, pointer)) => {
                let check = BodyCheck {
                    content: response
                        .get("content")
                        .and_then(Value::as_object)
                        .map(|c| (c, format!("{pointer}/content"))),
                    required: false,
                    place_for_status: true,
                };
                self.check_body(op.doc, check, content_type, body, &mut violations);
            }
        }
        if violations.is_empty() {
            Ok(self.reference(op))
        } else {
            Err(CheckError::Refused {
                operation: Box::new(self.reference(op)),
                violations,
            })
        }
    }

    /// The JSON Schema of a component (`#/components/schemas/{name}`) of a vendored file,
    /// validated like a body: the violations of `instance`.
    pub fn check_schema(&self, file: &str, name: &str, instance: &Value) -> Vec<Violation> {
        let doc = self
            .documents
            .iter()
            .position(|d| d.file == file)
            .unwrap_or_else(|| panic!("{file} is not vendored"));
        let pointer = format!("/components/schemas/{}", escape(name));
        assert!(
            self.documents[doc].root.pointer(&pointer).is_some(),
            "{file} has no schema {name}"
        );
        self.validator(doc, &pointer)
            .iter_errors(instance)
            .map(|error| Violation {
                place: Place::Body,
                pointer: error.instance_path().as_str().to_owned(),
                keyword: error.kind().keyword().to_owned(),
                message: error.masked().to_string(),
            })
            .collect()
    }
}

/// Percent-encodes what a URI fragment cannot hold literally (path templates' braces, spaces).
fn encode_fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for c in pointer.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '/' | '~' | '-' | '.' | '_' => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// [`Contract::check_request`] against [`Contract::amazon`].
pub fn check_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<OperationRef, CheckError> {
    Contract::amazon().check_request(method, url, headers, body)
}

/// [`Contract::check_answer`] against [`Contract::amazon`].
pub fn check_answer(
    method: &str,
    url: &str,
    status: u16,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Result<OperationRef, CheckError> {
    Contract::amazon().check_answer(method, url, status, content_type, body)
}

/// The vendored file names (for tables that cite them).
pub fn vendored_files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(file, _, _)| *file)
}

#[cfg(test)]
mod tests;
