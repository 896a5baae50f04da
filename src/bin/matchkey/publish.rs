//! `matchkey dsp publish`: an ad server's tags (one row per placement and creative in a
//! CSV file) become Amazon DSP third-party creatives, each with its ad experience and
//! associated with its ad group; then each creative's moderation is reported.
//!
//! Order of work: the whole file is read and every row checked (tag, kind, size,
//! trackers; the placement's ad group, its campaign running, its inventory, its serving)
//! before anything is written to Amazon; refused rows are never sent. Then creates (one
//! creative per call, as `/dsp/v1` takes them) and updates (one `PATCH` per creative), ad
//! experiences, associations (20 per call), moderation (by ad group, 20 per call).
//!
//! Idempotent through the journal beside the tags file (`tags.csv.journal`): JSON lines,
//! appended and synced one at a time, each the whole state of one row key (ad group,
//! creative name, kind, sizes): its creative id, the fingerprint of what was sent, whether
//! its ad experience and association are done. The last line of a key wins; a torn last
//! line (a crash mid-write) is ignored. A re-run skips what is done, updates a creative whose
//! tag changed, and never creates a second creative for a key.
//!
//! **A crash between Amazon's answer and the journal.** A create is one call that Amazon
//! answers with the new id only; if that answer is lost (no answer, a 5xx, the process
//! killed before the journal line), Amazon may hold a creative the journal does not know.
//! So before a create is sent, its intent is journaled with the creative's Amazon name,
//! which is deterministic ([`creative::creative_name`]: the row's name, its sizes and its ad
//! group id). A create is never sent twice in one run. On the next run, every key with an
//! intent and no id is looked up by that name in `POST /dsp/v1/adCreatives/list`: one
//! creative of that name → its id is adopted (and the creative updated to the row); none →
//! created again; several, or one listed without an id → refused (`unconfirmed_create`)
//! for a person to resolve in Amazon DSP.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use matchkey::amazon::dsp::creative::{self, Association, ThirdPartyCreative};
use matchkey::amazon::dsp::tag::{self, Kind, TagReason};
use matchkey::amazon::dsp::{self, Account, AdGroup, Campaign, Serving, Target, TargetType};
use matchkey::amazon::{ApiRequest, Auth};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::{self, ApiArgs, Client};
use crate::dsp::{ProfileArg, all_pages, check, list_campaigns};
use crate::reader::Refused;

/// Examples for `dsp publish --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  matchkey dsp publish --advertiser-id 583000000000001 --profile-id 3333333333 --tags tags.csv --dry-run
  matchkey dsp publish --advertiser-id 583000000000001 --profile-id 3333333333 --tags tags.csv > report.json

tags.csv: one row per creative and placement, columns (any order, others ignored):
  placement_id or ad_group_id   the placement (from `dsp import`) or the Amazon ad group
  creative_name                 your name; the Amazon name adds the sizes and ad group
  kind                          display or video (audio is not supported)
  tag                           display: the HTML tag; video: the https VAST URL
  tag_server_side               optional: the server-to-server variant
  serving                       optional: client_side or server_side, to decide a mixed placement
  size                          display: 300x250, several as 300x250;728x90
  trackers                      optional: https impression tracking URLs, space separated

The journal (tags.csv.journal) records the creative id Amazon returned for each row, so a
re-run updates a changed tag, skips what is done, and never duplicates a creative.";

/// `matchkey dsp publish`.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    /// The DSP advertiser (its `Amazon-Ads-AccountId`).
    #[arg(long, env = "ADVERTISER_ID")]
    advertiser_id: String,
    #[command(flatten)]
    profile: ProfileArg,
    /// The tags file (CSV, UTF-8).
    #[arg(long)]
    tags: PathBuf,
    /// The journal [default: the tags file's path with `.journal` added].
    #[arg(long)]
    journal: Option<PathBuf>,
    /// `language` of new creatives (a language code, as Amazon's samples write it).
    #[arg(long, default_value = creative::DEFAULT_LANGUAGE)]
    language: String,
    /// `country` of new creatives (ISO 3166-1 alpha-2).
    #[arg(long, default_value = "US")]
    country: String,
    /// Read Amazon, check every row, and print every write request in the report; send no
    /// write and leave the journal as it is.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    api: ApiArgs,
}

/// Why a row was refused or failed: the column (or step) and a stable code.
#[derive(Debug, Clone, Serialize)]
struct Problem {
    field: String,
    reason: String,
    message: String,
}

impl Problem {
    fn new(field: &str, reason: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: field.to_owned(),
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn tag(field: &str, reason: TagReason) -> Problem {
        Problem::new(field, reason.code(), reason.message())
    }
}

/// One data row as read, cells by column name.
struct Raw {
    line: u64,
    cells: BTreeMap<&'static str, String>,
}

impl Raw {
    fn get(&self, column: &str) -> &str {
        self.cells.get(column).map_or("", |s| s.trim())
    }
    /// A tag cell: kept exactly as written apart from surrounding white space.
    fn tag(&self, column: &str) -> &str {
        self.get(column)
    }
}

const COLUMNS: &[&str] = &[
    "placement_id",
    "ad_group_id",
    "creative_name",
    "kind",
    "tag",
    "tag_server_side",
    "serving",
    "size",
    "trackers",
];

/// `Creative Name`, `creative-name` → `creative_name`.
fn column_key(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

/// Reads the tags file: rows, or a row's problem (malformed CSV).
fn read_tags(path: &Path) -> anyhow::Result<Vec<Result<Raw, (u64, Problem)>>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<Option<&'static str>> = reader
        .headers()
        .map_err(|_| Refused(format!("{}: the header is not CSV", path.display())))?
        .iter()
        .map(|h| {
            let key = column_key(h);
            COLUMNS.iter().copied().find(|c| *c == key)
        })
        .collect();
    let has = |c: &str| header.contains(&Some(c));
    let mut missing = Vec::new();
    if !has("placement_id") && !has("ad_group_id") {
        missing.push("placement_id or ad_group_id");
    }
    for c in ["creative_name", "kind"] {
        if !has(c) {
            missing.push(c);
        }
    }
    if !has("tag") && !has("tag_server_side") {
        missing.push("tag");
    }
    if !missing.is_empty() {
        return Err(Refused(format!(
            "{}: missing column(s) {} (see `matchkey dsp publish --help`)",
            path.display(),
            missing.join(", ")
        ))
        .into());
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let cells = header
                    .iter()
                    .zip(record.iter())
                    .filter_map(|(h, v)| h.map(|h| (h, v.to_owned())))
                    .collect();
                rows.push(Ok(Raw { line, cells }));
            }
            Err(err) => {
                let line = err.position().map_or(line, |p| p.line());
                let message = match err.kind() {
                    csv::ErrorKind::UnequalLengths { .. } => {
                        "the row has another number of cells than the header (an unquoted comma or quote?)"
                    }
                    csv::ErrorKind::Utf8 { .. } => "the row is not UTF-8",
                    _ => "the row is not valid CSV",
                };
                if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                    bail!("cannot read {}", path.display());
                }
                rows.push(Err((line, Problem::new("row", "malformed_csv", message))));
            }
        }
    }
    if rows.is_empty() {
        return Err(Refused(format!("{}: no tag row", path.display())).into());
    }
    Ok(rows)
}

/// One journal line: the whole state of one row key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creative_id: Option<String>,
    /// SHA-256 of what was last sent (name and format): a change means an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(default)]
    experience: bool,
    #[serde(default)]
    associated: bool,
    /// A create was (or was about to be) sent and its answer is not recorded yet.
    #[serde(default)]
    pending_create: bool,
    /// The Amazon name the pending create was sent with (to find it on the next run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct JournalHeader {
    journal: String,
    advertiser_id: String,
}

const JOURNAL: &str = "matchkey dsp publish v1";

/// The publish journal: append-only, one synced line per change (as `journal.rs` does for
/// audience pushes; its header ties a journal to one file's bytes, which a tags file that
/// the trafficker edits between runs must not be).
struct Journal {
    file: Option<File>,
    entries: BTreeMap<String, Entry>,
}

impl Journal {
    /// Opens (or, unless `read_only`, creates) the journal of `advertiser`.
    fn open(path: &Path, advertiser: &str, read_only: bool) -> anyhow::Result<Journal> {
        let header = JournalHeader {
            journal: JOURNAL.to_owned(),
            advertiser_id: advertiser.to_owned(),
        };
        let mut entries = BTreeMap::new();
        if path.exists() {
            let reader = BufReader::new(
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
            );
            let mut lines = reader.lines();
            let first = lines.next().transpose()?.unwrap_or_default();
            let found: JournalHeader = serde_json::from_str(&first).with_context(|| {
                format!("{} is not a matchkey dsp publish journal", path.display())
            })?;
            if found != header {
                bail!(
                    "{} is the journal of advertiser {}, not {advertiser}: pass --journal for another one",
                    path.display(),
                    found.advertiser_id
                );
            }
            for line in lines {
                match serde_json::from_str::<Entry>(&line?) {
                    Ok(entry) => {
                        entries.insert(entry.key.clone(), entry);
                    }
                    // A line cut short by a crash (ended below, so never followed on the
                    // same line by a later one).
                    Err(_) => continue,
                }
            }
            let file = if read_only {
                None
            } else {
                let mut file = OpenOptions::new()
                    .read(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                // End a torn last line, so the next line starts on its own.
                let mut last = [0u8; 1];
                if file.seek(SeekFrom::End(-1)).is_ok()
                    && file.read_exact(&mut last).is_ok()
                    && last[0] != b'\n'
                {
                    file.write_all(b"\n")?;
                    file.sync_data()?;
                }
                Some(file)
            };
            return Ok(Journal { file, entries });
        }
        let mut journal = Journal {
            file: None,
            entries,
        };
        if !read_only {
            journal.file = Some(
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
            );
            journal.write(&header)?;
        }
        Ok(journal)
    }

    fn get(&self, key: &str) -> Entry {
        self.entries.get(key).cloned().unwrap_or_else(|| Entry {
            key: key.to_owned(),
            ..Entry::default()
        })
    }

    fn put(&mut self, entry: Entry) -> anyhow::Result<()> {
        self.write(&entry)?;
        self.entries.insert(entry.key.clone(), entry);
        Ok(())
    }

    fn write(&mut self, line: &impl Serialize) -> anyhow::Result<()> {
        if let Some(file) = &mut self.file {
            let mut text = serde_json::to_string(line)?;
            text.push('\n');
            file.write_all(text.as_bytes())?;
            file.sync_data()?;
        }
        Ok(())
    }
}

/// A checked row, ready to send.
struct Planned {
    line: u64,
    key: String,
    ad_group_id: String,
    /// The association's weight: only where the ad group's rotation takes one.
    weight: Option<u32>,
    kind: Kind,
    creative: ThirdPartyCreative,
    fingerprint: String,
}

/// What happened to one row.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct RowReport {
    line: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    placement_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ad_group_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    campaign_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    creative_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    creative_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moderation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Problem>,
}

/// What Amazon says about the advertiser's ad groups.
struct Inventory {
    campaigns: BTreeMap<String, Campaign>,
    groups: BTreeMap<String, AdGroup>,
    placements: BTreeMap<String, String>,
    serving: BTreeMap<String, Serving>,
}

fn read_inventory(
    client: &mut Client,
    account: &Account<'_>,
    rows: &[&Raw],
) -> anyhow::Result<Inventory> {
    let advertiser = account.advertiser_id;
    eprintln!("matchkey: reading advertiser {advertiser}'s campaigns and ad groups");
    let campaigns = list_campaigns(client, account, &[])?;
    let ids: Vec<&str> = campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    let mut groups = Vec::new();
    for chunk in ids.chunks(dsp::MAX_PAGE) {
        groups.extend(all_pages(
            client,
            "ad groups list",
            advertiser,
            |auth, next| dsp::list_ad_groups(auth, account, chunk, next),
            dsp::parse_ad_groups,
        )?);
    }
    let placements = groups
        .iter()
        .map(|g| {
            (
                dsp::placement_id(advertiser, &g.ad_group_id),
                g.ad_group_id.clone(),
            )
        })
        .collect();
    let mut inventory = Inventory {
        campaigns: campaigns
            .into_iter()
            .map(|c| (c.campaign_id.clone(), c))
            .collect(),
        groups: groups
            .into_iter()
            .map(|g| (g.ad_group_id.clone(), g))
            .collect(),
        placements,
        serving: BTreeMap::new(),
    };
    // Serving matters only where a row brings both variants and does not decide itself.
    let wanted: BTreeSet<String> = rows
        .iter()
        .filter(|r| !r.get("tag_server_side").is_empty() && r.get("serving").is_empty())
        .filter_map(|r| inventory.ad_group_of(r).ok())
        .collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let mut audiences: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for chunk in wanted.chunks(dsp::MAX_PAGE) {
        let targets = all_pages(
            client,
            "targets list",
            advertiser,
            |auth, next| dsp::list_targets(auth, account, chunk, TargetType::Audience, next),
            dsp::parse_targets,
        )?;
        for target in targets {
            if let Target::Audience {
                ad_group_id,
                audience_type,
                negative,
                ..
            } = target
            {
                audiences
                    .entry(ad_group_id)
                    .or_default()
                    .push((audience_type, negative));
            }
        }
    }
    for id in wanted {
        let list = audiences.remove(id).unwrap_or_default();
        let serving = dsp::serving(list.iter().map(|(k, n)| (k.as_str(), *n)));
        inventory.serving.insert(id.to_owned(), serving);
    }
    Ok(inventory)
}

impl Inventory {
    /// The ad group a row names.
    fn ad_group_of(&self, row: &Raw) -> Result<String, Problem> {
        let by_placement = row.get("placement_id");
        let by_group = row.get("ad_group_id");
        if !by_placement.is_empty() {
            let Some(group) = self.placements.get(by_placement) else {
                return Err(Problem::new(
                    "placement_id",
                    "unknown_placement",
                    "no ad group of this advertiser has this placement_id (run `matchkey dsp import` again?)",
                ));
            };
            if !by_group.is_empty() && by_group != group {
                return Err(Problem::new(
                    "ad_group_id",
                    "placement_mismatch",
                    "placement_id and ad_group_id name different ad groups",
                ));
            }
            return Ok(group.clone());
        }
        if by_group.is_empty() {
            return Err(Problem::new(
                "placement_id",
                "empty",
                "the row names no placement_id or ad_group_id",
            ));
        }
        if !self.groups.contains_key(by_group) {
            return Err(Problem::new(
                "ad_group_id",
                "unknown_ad_group",
                "no ad group of this advertiser has this id",
            ));
        }
        Ok(by_group.to_owned())
    }
}

/// Checks one row against the file's rules and Amazon's state.
fn plan_row(
    row: &Raw,
    inventory: &Inventory,
    args: &PublishArgs,
    report: &mut RowReport,
) -> Result<Planned, Problem> {
    report.placement_id = row.get("placement_id").to_owned();
    report.creative_name = row.get("creative_name").to_owned();
    let kind = Kind::parse(row.get("kind")).map_err(|r| Problem::tag("kind", r))?;
    report.kind = kind.as_str().to_owned();
    let group_id = inventory.ad_group_of(row)?;
    let group = &inventory.groups[&group_id];
    report.ad_group_id = group_id.clone();
    report.campaign_id = group.campaign_id.clone();
    if report.placement_id.is_empty() {
        report.placement_id = dsp::placement_id(&args.advertiser_id, &group_id);
    }
    let state = inventory
        .campaigns
        .get(&group.campaign_id)
        .map_or("UNKNOWN", |c| c.state.as_str());
    if dsp::is_running(state) != Some(true) {
        return Err(Problem::new(
            "placement_id",
            "campaign_not_running",
            format!(
                "campaign {} is {state}: Amazon takes creatives only while a campaign is running (activate it first)",
                group.campaign_id
            ),
        ));
    }
    match (group.inventory_type.as_str(), kind) {
        ("AUDIO", _) => return Err(Problem::tag("kind", TagReason::AudioNotSupported)),
        ("DISPLAY", Kind::Display) | ("ONLINE_VIDEO" | "STREAMING_TV", Kind::Video) => {}
        (inventory_type, _) => {
            return Err(Problem::new(
                "kind",
                "kind_mismatch",
                format!(
                    "a {} tag does not serve on the ad group's {inventory_type} inventory",
                    kind.as_str()
                ),
            ));
        }
    }
    let name = row.get("creative_name");
    if name.is_empty() {
        return Err(Problem::tag("creative_name", TagReason::Empty));
    }
    // Which variant: one tag serves both; two are chosen by the placement's serving.
    let (client_tag, server_tag) = (row.tag("tag"), row.tag("tag_server_side"));
    let decided = match row.get("serving").to_ascii_lowercase().as_str() {
        "" => None,
        "client_side" => Some(Serving::ClientSide),
        "server_side" => Some(Serving::ServerSide),
        _ => {
            return Err(Problem::new(
                "serving",
                "unknown_serving",
                "must be client_side or server_side (or empty: from the placement)",
            ));
        }
    };
    let (column, variant) = if server_tag.is_empty() {
        if decided == Some(Serving::ServerSide) {
            return Err(Problem::tag("tag_server_side", TagReason::Empty));
        }
        ("tag", "client_side")
    } else if client_tag.is_empty() && decided != Some(Serving::ClientSide) {
        ("tag_server_side", "server_side")
    } else {
        let serving = decided.unwrap_or_else(|| {
            inventory
                .serving
                .get(&group_id)
                .copied()
                .unwrap_or(Serving::Unknown)
        });
        match serving {
            Serving::ClientSide => ("tag", "client_side"),
            Serving::ServerSide => ("tag_server_side", "server_side"),
            Serving::Mixed | Serving::Unknown => {
                return Err(Problem::new(
                    "serving",
                    "serving_undecided",
                    format!(
                        "the placement's serving is {}: set the serving column to client_side or server_side",
                        serving.as_str()
                    ),
                ));
            }
        }
    };
    report.variant = variant.to_owned();
    let tag_text = row.tag(column);
    match kind {
        Kind::Display => tag::check_display_tag(tag_text),
        Kind::Video => tag::check_https_url(tag_text),
    }
    .map_err(|r| Problem::tag(column, r))?;
    let mut sizes = tag::parse_sizes(row.get("size")).map_err(|r| Problem::tag("size", r))?;
    // The same sizes in another order are the same creative.
    sizes.sort_unstable();
    if kind == Kind::Display && sizes.is_empty() {
        return Err(Problem::new(
            "size",
            "empty",
            "a display creative needs its size (e.g. 300x250)",
        ));
    }
    let trackers =
        tag::parse_trackers(row.get("trackers")).map_err(|r| Problem::tag("trackers", r))?;
    let amazon_name = creative::creative_name(name, kind, &sizes, &group_id);
    report.name = amazon_name.clone();
    let key = format!(
        "{group_id}|{name}|{}|{}",
        kind.as_str(),
        sizes
            .iter()
            .map(|(w, h)| format!("{w}x{h}"))
            .collect::<Vec<_>>()
            .join("+")
    );
    let creative = ThirdPartyCreative {
        name: amazon_name,
        language: args.language.clone(),
        country: args.country.clone(),
        kind,
        tag: tag_text.to_owned(),
        sizes,
        trackers,
    };
    Ok(Planned {
        line: row.line,
        key,
        weight: group.takes_weight().then_some(creative::DEFAULT_WEIGHT),
        ad_group_id: group_id,
        kind,
        fingerprint: fingerprint(&creative),
        creative,
    })
}

/// SHA-256 of what an update sends (name and format).
fn fingerprint(creative: &ThirdPartyCreative) -> String {
    let body = creative.update_json().to_string();
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request as the dry run prints it: no header (tokens), the body as JSON.
fn printable(request: &ApiRequest) -> Value {
    let path = request
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(&request.url);
    let body = request
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    json!({ "method": request.method.as_str(), "path": path, "body": body })
}

/// `dsp publish`.
pub(crate) fn publish(args: &PublishArgs) -> anyhow::Result<bool> {
    let advertiser = args.advertiser_id.as_str();
    let read = read_tags(&args.tags)?;
    let journal_path = args.journal.clone().unwrap_or_else(|| {
        let mut path = args.tags.as_os_str().to_owned();
        path.push(".journal");
        PathBuf::from(path)
    });
    let mut journal = Journal::open(&journal_path, advertiser, args.dry_run)?;
    let mut client = Client::from_env(&args.api)?;
    client.on_wait = Box::new(|note| eprintln!("matchkey: {note}"));
    let account = Account {
        advertiser_id: advertiser,
        profile_id: &args.profile.profile_id,
    };

    let raws: Vec<&Raw> = read.iter().filter_map(|r| r.as_ref().ok()).collect();
    let inventory = read_inventory(&mut client, &account, &raws)?;

    // Check every row before anything is written.
    let mut reports: Vec<RowReport> = Vec::new();
    let mut planned: Vec<(usize, Planned)> = Vec::new();
    let mut keys = BTreeSet::new();
    for row in &read {
        let mut report = RowReport::default();
        let result = match row {
            Err((line, problem)) => {
                report.line = *line;
                Err(problem.clone())
            }
            Ok(raw) => {
                report.line = raw.line;
                plan_row(raw, &inventory, args, &mut report)
            }
        };
        let result = result.and_then(|plan| {
            if !keys.insert(plan.key.clone()) {
                return Err(Problem::new(
                    "creative_name",
                    "duplicate_row",
                    "another row has the same placement, creative name, kind and size",
                ));
            }
            Ok(plan)
        });
        match result {
            Ok(plan) => {
                report.action = "pending";
                planned.push((reports.len(), plan));
            }
            Err(problem) => {
                report.action = "refused";
                report.error = Some(problem);
            }
        }
        reports.push(report);
    }

    // Creates sent earlier whose answer never reached the journal: found by name, or not.
    let unconfirmed: Vec<usize> = planned
        .iter()
        .enumerate()
        .filter(|(_, (_, plan))| {
            let entry = journal.get(&plan.key);
            entry.pending_create && entry.creative_id.is_none()
        })
        .map(|(i, _)| i)
        .collect();
    if !unconfirmed.is_empty() {
        eprintln!(
            "matchkey: {} create(s) of an earlier run were not confirmed: looking them up by name",
            unconfirmed.len()
        );
        let listed = all_pages(
            &mut client,
            "creatives list",
            advertiser,
            |auth, next| creative::list_creatives(auth, &account, next),
            creative::parse_creatives,
        )?;
        let mut refused = Vec::new();
        for i in unconfirmed {
            let (slot, plan) = &planned[i];
            let mut entry = journal.get(&plan.key);
            let name = entry
                .pending_name
                .clone()
                .unwrap_or_else(|| plan.creative.name.clone());
            let found: Vec<&creative::Listed> = listed.iter().filter(|c| c.name == name).collect();
            match found.as_slice() {
                [] => {
                    // Amazon never took it: the create is sent again.
                    entry.pending_create = false;
                    entry.pending_name = None;
                    journal.put(entry)?;
                }
                [one] if one.ad_creative_id.is_some() => {
                    // Amazon took it: adopt it; the update makes it the row's tag again.
                    entry.creative_id.clone_from(&one.ad_creative_id);
                    entry.fingerprint = None;
                    entry.pending_create = false;
                    entry.pending_name = None;
                    journal.put(entry)?;
                    reports[*slot].creative_id.clone_from(&one.ad_creative_id);
                }
                _ => {
                    reports[*slot].action = "refused";
                    reports[*slot].error = Some(Problem::new(
                        "creative_name",
                        "unconfirmed_create",
                        format!(
                            "a create of \"{name}\" was sent earlier but its answer was not recorded, and Amazon lists {} creatives of that name: keep one in Amazon DSP, then remove this row's lines from the journal",
                            found.len()
                        ),
                    ));
                    refused.push(i);
                }
            }
        }
        for i in refused.into_iter().rev() {
            planned.remove(i);
        }
    }

    let mut requests: Vec<Value> = Vec::new();
    let mut work = Work {
        client: &mut client,
        journal: &mut journal,
        account,
        dry_run: args.dry_run,
        requests: &mut requests,
    };
    work.run(&planned, &mut reports)?;

    let mut summary: BTreeMap<&str, usize> = BTreeMap::new();
    let mut moderation: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        *summary.entry(r.action).or_default() += 1;
        if let Some(m) = &r.moderation {
            *moderation.entry(m.clone()).or_default() += 1;
        }
    }
    let bad =
        summary.get("refused").copied().unwrap_or(0) + summary.get("failed").copied().unwrap_or(0);
    let mut report = json!({
        "advertiserId": advertiser,
        "dryRun": args.dry_run,
        "journal": journal_path.display().to_string(),
        "rows": reports,
        "summary": { "rows": reports.len(), "actions": summary, "moderation": moderation },
    });
    if args.dry_run {
        report["requests"] = json!(requests);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{report}")?;

    for r in &reports {
        if let Some(problem) = &r.error {
            eprintln!(
                "matchkey: line {}: {} ({}: {}): {}",
                r.line, r.action, problem.field, problem.reason, problem.message
            );
        }
    }
    let counts: Vec<String> = summary.iter().map(|(a, n)| format!("{n} {a}")).collect();
    let moderated: Vec<String> = moderation.iter().map(|(s, n)| format!("{n} {s}")).collect();
    eprintln!(
        "matchkey: {} row(s){}: {}{}",
        reports.len(),
        if args.dry_run {
            " (dry run: nothing sent)"
        } else {
            ""
        },
        counts.join(", "),
        if moderated.is_empty() {
            String::new()
        } else {
            format!("; moderation: {}", moderated.join(", "))
        }
    );
    Ok(bad == 0)
}

/// A write call's outcome per index: `Ok(adCreativeId?)` or `Err((code, description))`.
type Outcomes = BTreeMap<usize, Result<Option<String>, (String, String)>>;

/// The writes of one run.
struct Work<'a> {
    client: &'a mut Client,
    journal: &'a mut Journal,
    account: Account<'a>,
    dry_run: bool,
    requests: &'a mut Vec<Value>,
}

/// The message of a refused call.
fn refusal(answer: &client::Answer, what: &str, advertiser: &str) -> String {
    match check(answer, what, advertiser) {
        Err(err) => err.to_string(),
        Ok(()) => format!("Amazon refused the call ({})", answer.status),
    }
}

fn fail(report: &mut RowReport, step: &str, reason: &str, message: impl Into<String>) {
    report.action = "failed";
    report.error = Some(Problem::new(step, reason, message));
}

impl Work<'_> {
    /// Sends `build`'s request (or, in a dry run, records it and answers `None`).
    fn send(
        &mut self,
        what: &str,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Option<client::Answer>> {
        self.send_with(what, true, build)
    }

    /// [`Work::send`] for creates: never sent again after no answer or a 5xx (the
    /// journal's pending intent then makes the row `unconfirmed_create`).
    fn send_once(
        &mut self,
        what: &str,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Option<client::Answer>> {
        self.send_with(what, false, build)
    }

    fn send_with(
        &mut self,
        what: &str,
        resend_unanswered: bool,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Option<client::Answer>> {
        if self.dry_run {
            let auth = Auth {
                api_base: "",
                access_token: "",
                client_id: "",
            };
            self.requests.push(printable(&build(&auth)));
            return Ok(None);
        }
        Ok(Some(if resend_unanswered {
            self.client.call(what, build)?
        } else {
            self.client.call_once(what, build)?
        }))
    }

    fn run(
        &mut self,
        planned: &[(usize, Planned)],
        reports: &mut [RowReport],
    ) -> anyhow::Result<()> {
        let account = self.account;
        // 1. Creates and updates, one creative per call.
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for (slot, plan) in planned {
            let entry = self.journal.get(&plan.key);
            let report = &mut reports[*slot];
            match &entry.creative_id {
                None => creates.push((*slot, plan)),
                Some(id) => {
                    report.creative_id = Some(id.clone());
                    if entry.fingerprint.as_deref() == Some(plan.fingerprint.as_str()) {
                        report.action = "unchanged";
                    } else {
                        updates.push((*slot, plan, id.clone()));
                    }
                }
            }
        }
        if !creates.is_empty() {
            eprintln!("matchkey: creating {} creative(s)", creates.len());
        }
        for (slot, plan) in creates {
            // The intent first: a lost answer is found by this name on the next run.
            let mut entry = self.journal.get(&plan.key);
            entry.pending_create = true;
            entry.pending_name = Some(plan.creative.name.clone());
            if !self.dry_run {
                self.journal.put(entry.clone())?;
            }
            let answer = self.send_once("creative create", |auth| {
                creative::create_creative(auth, &account, &plan.creative)
            })?;
            let Some(answer) = answer else {
                reports[slot].action = "would_create";
                reports[slot].creative_id = Some(format!("<new creative of line {}>", plan.line));
                continue;
            };
            if (200..300).contains(&answer.status) {
                match creative::parse_created(&answer.body) {
                    Some(id) => {
                        entry.creative_id = Some(id.clone());
                        entry.fingerprint = Some(plan.fingerprint.clone());
                        entry.pending_create = false;
                        entry.pending_name = None;
                        self.journal.put(entry)?;
                        reports[slot].action = "created";
                        reports[slot].creative_id = Some(id);
                    }
                    // Taken, but the id is unreadable: the intent stays for the next run.
                    None => fail(
                        &mut reports[slot],
                        "create",
                        "bad_answer",
                        "Amazon's answer to the create carries no adCreativeId; the next run looks the creative up by name",
                    ),
                }
            } else if (400..500).contains(&answer.status) && answer.status != 429 {
                // Refused: nothing was created.
                entry.pending_create = false;
                entry.pending_name = None;
                self.journal.put(entry)?;
                let message = refusal(&answer, "creative create", self.account.advertiser_id);
                fail(
                    &mut reports[slot],
                    "create",
                    &client::error_code(&answer),
                    message,
                );
            } else {
                // No answer, a 5xx or a 429 after the client's tries: unknown; never sent
                // again in this run, looked up by name in the next.
                fail(
                    &mut reports[slot],
                    "create",
                    "no_answer",
                    format!(
                        "Amazon gave no usable answer ({}) to the create; the next run looks the creative up by name",
                        answer.status
                    ),
                );
            }
        }
        if !updates.is_empty() {
            eprintln!("matchkey: updating {} creative(s)", updates.len());
        }
        for (slot, plan, id) in updates {
            let answer = self.send("creative update", |auth| {
                creative::update_creative(auth, &account, &id, &plan.creative)
            })?;
            let Some(answer) = answer else {
                reports[slot].action = "would_update";
                continue;
            };
            if (200..300).contains(&answer.status) {
                let mut entry = self.journal.get(&plan.key);
                entry.fingerprint = Some(plan.fingerprint.clone());
                self.journal.put(entry)?;
                reports[slot].action = "updated";
            } else {
                let message = refusal(&answer, "creative update", self.account.advertiser_id);
                fail(
                    &mut reports[slot],
                    "update",
                    &client::error_code(&answer),
                    message,
                );
            }
        }

        // 2. Ad experiences (once per creative).
        let missing = planned
            .iter()
            .filter(|(slot, plan)| {
                reports[*slot].action != "failed" && !self.journal.get(&plan.key).experience
            })
            .count();
        if missing > 0 {
            eprintln!("matchkey: setting the ad experience of {missing} creative(s)");
        }
        for (slot, plan) in planned {
            if reports[*slot].action == "failed" {
                continue;
            }
            let entry = self.journal.get(&plan.key);
            if entry.experience {
                continue;
            }
            let id = reports[*slot].creative_id.clone().unwrap_or_default();
            let answer = self.send("ad experience", |auth| {
                creative::set_ad_experience(auth, &account, &id, plan.kind)
            })?;
            let Some(answer) = answer else { continue };
            if (200..300).contains(&answer.status) {
                let mut entry = self.journal.get(&plan.key);
                entry.experience = true;
                self.journal.put(entry)?;
            } else {
                fail(
                    &mut reports[*slot],
                    "ad_experience",
                    &client::error_code(&answer),
                    format!("Amazon answered {} to the ad experience", answer.status),
                );
            }
        }

        // 3. Associations, 20 per call.
        let pending: Vec<(usize, &Planned)> = planned
            .iter()
            .filter(|(slot, plan)| {
                reports[*slot].action != "failed" && !self.journal.get(&plan.key).associated
            })
            .map(|(slot, plan)| (*slot, plan))
            .collect();
        let total = pending.len();
        for (done, batch) in pending.chunks(creative::MAX_PER_CALL).enumerate() {
            eprintln!(
                "matchkey: associating {}-{} of {total}",
                done * creative::MAX_PER_CALL + 1,
                done * creative::MAX_PER_CALL + batch.len()
            );
            let items: Vec<Association> = batch
                .iter()
                .map(|(slot, plan)| Association {
                    ad_group_id: plan.ad_group_id.clone(),
                    ad_creative_id: reports[*slot].creative_id.clone().unwrap_or_default(),
                    weight: plan.weight,
                })
                .collect();
            let answer = self.send("associations", |auth| {
                creative::associate(auth, &account, &items)
            })?;
            let Some(answer) = answer else { continue };
            let results = self.read_multi(&answer, "associations", batch.len())?;
            for (i, (slot, plan)) in batch.iter().enumerate() {
                match results.get(&i) {
                    Some(Ok(_)) => {}
                    Some(Err((code, _))) if code == creative::ALREADY_ASSOCIATED => {}
                    Some(Err((code, description))) => {
                        fail(
                            &mut reports[*slot],
                            "association",
                            code,
                            description.clone(),
                        );
                        continue;
                    }
                    None => {
                        fail(
                            &mut reports[*slot],
                            "association",
                            "no_answer",
                            "Amazon's answer did not say what became of this association",
                        );
                        continue;
                    }
                }
                let mut entry = self.journal.get(&plan.key);
                entry.associated = true;
                self.journal.put(entry)?;
            }
        }

        // 4. Moderation of every associated creative of this run.
        for (slot, _) in planned {
            if reports[*slot].action == "pending" {
                reports[*slot].action = "unchanged";
            }
        }
        if self.dry_run {
            return Ok(());
        }
        let groups: BTreeSet<&str> = planned
            .iter()
            .filter(|(slot, plan)| {
                self.journal.get(&plan.key).associated && reports[*slot].creative_id.is_some()
            })
            .map(|(_, plan)| plan.ad_group_id.as_str())
            .collect();
        let groups: Vec<&str> = groups.into_iter().collect();
        let mut moderation = BTreeMap::new();
        for chunk in groups.chunks(creative::MAX_PER_CALL) {
            // Everything is written and journaled by now: an unreadable moderation answer
            // (an error page after the client's tries) costs this report its moderation,
            // never the report itself.
            match all_pages(
                self.client,
                "moderations list",
                account.advertiser_id,
                |auth, next| creative::list_moderations(auth, &account, chunk, next),
                creative::parse_moderations,
            ) {
                Ok(list) => {
                    for m in list {
                        moderation.insert((m.ad_creative_id.clone(), m.ad_group_id.clone()), m);
                    }
                }
                Err(err) => eprintln!(
                    "matchkey: warning: moderation not read ({err:#}); the next run reads it"
                ),
            }
        }
        for (slot, plan) in planned {
            let report = &mut reports[*slot];
            if let Some(id) = &report.creative_id
                && let Some(m) = moderation.get(&(id.clone(), plan.ad_group_id.clone()))
            {
                report.moderation = Some(m.status.clone());
                report.reasons.clone_from(&m.reasons);
            }
        }
        Ok(())
    }

    /// A multi-status answer per index. A refusal of the whole call, or an answer that
    /// cannot be read (an HTML page, a shape not Amazon's), fails every item of the call
    /// for this run: none is journaled as done, so the next run sends it again (an
    /// association that exists by then answers [`creative::ALREADY_ASSOCIATED`]).
    fn read_multi(
        &self,
        answer: &client::Answer,
        what: &str,
        sent: usize,
    ) -> anyhow::Result<Outcomes> {
        let all = |code: String, message: String| -> Outcomes {
            (0..sent)
                .map(|i| (i, Err((code.clone(), message.clone()))))
                .collect()
        };
        if (400..500).contains(&answer.status) {
            // Refused as a whole: nothing of the call was taken, every item failed.
            let message = refusal(answer, what, self.account.advertiser_id);
            return Ok(all(client::error_code(answer), message));
        }
        check(answer, what, self.account.advertiser_id)?;
        Ok(match creative::parse_multi_status(&answer.body, sent) {
            Some(items) => items
                .into_iter()
                .map(|r| (r.index, r.outcome.map(|()| None)))
                .collect(),
            None => all(
                "BAD_MULTI_STATUS".to_owned(),
                format!("{what}: Amazon's answer is not the expected multi-status"),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_the_last_line_of_each_key_and_ignores_a_torn_one() {
        let dir = std::env::temp_dir().join(format!("mk-publish-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tags.csv.journal");
        let _ = std::fs::remove_file(&path);
        // A dry run creates nothing.
        Journal::open(&path, "583", true).unwrap();
        assert!(!path.exists());
        let mut journal = Journal::open(&path, "583", false).unwrap();
        let mut entry = journal.get("g1|Spring|display|300x250");
        entry.pending_create = true;
        journal.put(entry.clone()).unwrap();
        entry.pending_create = false;
        entry.creative_id = Some("591".into());
        journal.put(entry.clone()).unwrap();
        drop(journal);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"key\":\"g1|Spring|display|300x250\",\"crea")
            .unwrap();
        let mut journal = Journal::open(&path, "583", false).unwrap();
        assert_eq!(journal.get("g1|Spring|display|300x250"), entry);
        assert_eq!(journal.get("other").creative_id, None);
        // A line written after the torn one is read on the next run.
        entry.associated = true;
        journal.put(entry.clone()).unwrap();
        drop(journal);
        let journal = Journal::open(&path, "583", true).unwrap();
        assert_eq!(journal.get("g1|Spring|display|300x250"), entry);
        let err = Journal::open(&path, "584", false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("advertiser 583, not 584"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn column_names_are_matched_loosely() {
        assert_eq!(column_key("\u{feff}Placement ID"), "placement_id");
        assert_eq!(column_key(" Creative-Name "), "creative_name");
    }
}
