//! `matchkey dsp`: DSP trafficking, read side. `campaigns` lists an advertiser's campaigns;
//! `import` turns the ad groups of chosen campaigns into a placements file, refreshed in
//! place on every run. The calls and the `supply` / `serving` / running rules are the
//! core's (`matchkey::amazon::dsp`); this module pages, joins and writes the file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use matchkey::amazon::dsp::{self, Account, AdGroup, Campaign, Target, TargetType};
use matchkey::amazon::{ApiRequest, Auth};

use crate::client::{self, Answer, ApiArgs, Client};

/// Examples for `dsp campaigns --help`.
pub(crate) const CAMPAIGNS_EXAMPLES: &str = "\
Examples:
  matchkey dsp campaigns --advertiser-id 583000000000001 --profile-id 3333333333
  matchkey dsp campaigns --advertiser-id 583000000000001 --profile-id 3333333333 --json

The profile id is the PROFILE ID column of `matchkey connect`'s DSP advertisers table
(Amazon-Advertising-API-Scope, which Amazon's /dsp/v1 migration notes list as required).";

/// Examples for `dsp import --help`.
pub(crate) const IMPORT_EXAMPLES: &str = "\
Examples:
  matchkey dsp import --advertiser-id 583000000000001 --profile-id 3333333333 \\
    --campaign-id 5811 --campaign-id 5812 --out placements.csv

Re-running refreshes the file by placement_id: the columns Amazon owns are updated, columns
you added are kept, new ad groups are appended, and ad groups Amazon no longer lists are
marked status=vanished (never deleted).";

/// The profile through which a DSP advertiser is reached: every `/dsp/v1` call sends it.
#[derive(Debug, clap::Args)]
pub(crate) struct ProfileArg {
    /// The profile id of the advertiser's region (`Amazon-Advertising-API-Scope`; the
    /// PROFILE ID column of `matchkey connect`'s DSP advertisers table).
    #[arg(long, env = "PROFILE_ID")]
    pub(crate) profile_id: String,
}

/// `matchkey dsp campaigns`.
#[derive(Debug, clap::Args)]
pub(crate) struct CampaignsArgs {
    /// The DSP advertiser (its `Amazon-Ads-AccountId`; `matchkey connect` lists them).
    #[arg(long, env = "ADVERTISER_ID")]
    advertiser_id: String,
    #[command(flatten)]
    profile: ProfileArg,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
}

/// `matchkey dsp import`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The DSP advertiser (its `Amazon-Ads-AccountId`).
    #[arg(long, env = "ADVERTISER_ID")]
    advertiser_id: String,
    #[command(flatten)]
    profile: ProfileArg,
    /// A campaign whose ad groups to import; repeat for several.
    #[arg(long = "campaign-id", required = true)]
    campaign_ids: Vec<String>,
    /// The placements file, created or refreshed in place.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    api: ApiArgs,
}

/// The columns Amazon owns, in the order a new file has them; refreshed on every run.
const OWNED: &[&str] = &[
    "placement_id",
    "status",
    "advertiser_id",
    "campaign_id",
    "campaign_name",
    "campaign_state",
    "campaign_running",
    "ad_group_id",
    "ad_group_name",
    "ad_group_state",
    "inventory_type",
    "start",
    "end",
    "supply",
    "serving",
    "note",
];
/// Columns a new file starts with for the user to fill (Amazon's ad group does not carry
/// creative sizes); never overwritten.
const USER_SEED: &[&str] = &["sizes"];

/// `dsp campaigns`.
pub(crate) fn campaigns(args: &CampaignsArgs) -> anyhow::Result<bool> {
    let mut client = Client::from_env(&args.api)?;
    let advertiser = args.advertiser_id.as_str();
    let account = Account {
        advertiser_id: advertiser,
        profile_id: &args.profile.profile_id,
    };
    let list = list_campaigns(&mut client, &account, &[])?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let campaigns: Vec<_> = list
            .iter()
            .map(|c| {
                serde_json::json!({
                    "campaignId": c.campaign_id,
                    "name": c.name,
                    "state": c.state,
                    "running": dsp::is_running(&c.state),
                    "start": c.start,
                    "end": c.end,
                })
            })
            .collect();
        let report = serde_json::json!({ "advertiserId": advertiser, "campaigns": campaigns });
        writeln!(out, "{report}")?;
    } else {
        let rows: Vec<[String; 5]> = list
            .iter()
            .map(|c| {
                [
                    c.campaign_id.clone(),
                    c.state.clone(),
                    c.start.clone(),
                    c.end.clone(),
                    c.name.clone(),
                ]
            })
            .collect();
        print_table(
            &mut out,
            ["CAMPAIGN ID", "STATE", "START", "END", "NAME"],
            &rows,
        )?;
    }
    eprintln!(
        "matchkey: {} campaign(s) of advertiser {advertiser}",
        list.len()
    );
    Ok(true)
}

fn print_table<const N: usize>(
    out: &mut impl Write,
    head: [&str; N],
    rows: &[[String; N]],
) -> anyhow::Result<()> {
    let mut widths = head.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// One page of a list answer and the next page's token.
pub(crate) type Page<T> = (Vec<T>, Option<String>);

/// Every page of one list call. `what` names it in errors.
pub(crate) fn all_pages<T>(
    client: &mut Client,
    what: &str,
    advertiser: &str,
    build: impl Fn(&Auth<'_>, Option<&str>) -> ApiRequest,
    parse: fn(&str) -> Option<Page<T>>,
) -> anyhow::Result<Vec<T>> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = BTreeSet::new();
    loop {
        let answer = client.call(what, |auth| build(auth, next.as_deref()))?;
        check(&answer, what, advertiser)?;
        let (items, token) = parse(&answer.body)
            .with_context(|| format!("{what}: Amazon's answer is not the expected list"))?;
        all.extend(items);
        match token {
            // A token seen before would loop forever.
            Some(token) if seen.insert(token.clone()) => next = Some(token),
            Some(_) => bail!("{what}: Amazon repeated a page token"),
            None => return Ok(all),
        }
    }
}

/// A clear error for an answer that is not a success.
pub(crate) fn check(answer: &Answer, what: &str, advertiser: &str) -> anyhow::Result<()> {
    let code = client::error_code(answer);
    match answer.status {
        200..=299 => Ok(()),
        401 => bail!(
            "{what}: Amazon refused the access token (401 {code}) even after a refresh: authorize again (`matchkey connect`)"
        ),
        403 => bail!(
            "{what}: Amazon refused access to advertiser {advertiser} (403 {code}): the grant does not reach it, or the authorizing user is not an Admin or Editor of the DSP account"
        ),
        status => bail!("{what}: Amazon answered {status} {code}"),
    }
}

pub(crate) fn list_campaigns(
    client: &mut Client,
    account: &Account<'_>,
    ids: &[String],
) -> anyhow::Result<Vec<Campaign>> {
    let advertiser = account.advertiser_id;
    if ids.is_empty() {
        return all_pages(
            client,
            "campaigns list",
            advertiser,
            |auth, next| dsp::list_campaigns(auth, account, &[], next),
            dsp::parse_campaigns,
        );
    }
    let mut all = Vec::new();
    for chunk in ids.chunks(dsp::MAX_PAGE) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        all.extend(all_pages(
            client,
            "campaigns list",
            advertiser,
            |auth, next| dsp::list_campaigns(auth, account, &chunk, next),
            dsp::parse_campaigns,
        )?);
    }
    Ok(all)
}

/// What an import knows about one ad group's targets.
#[derive(Default)]
struct Targeting {
    sources: Vec<String>,
    audiences: Vec<(String, bool)>,
}

/// `dsp import`.
pub(crate) fn import(args: &ImportArgs) -> anyhow::Result<bool> {
    let advertiser = args.advertiser_id.as_str();
    let wanted: Vec<String> = {
        let mut seen = BTreeSet::new();
        args.campaign_ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    };
    // Read the file first: a file that cannot be refreshed fails before any call.
    let existing = read_existing(&args.out)?;
    let mut client = Client::from_env(&args.api)?;
    let account = Account {
        advertiser_id: advertiser,
        profile_id: &args.profile.profile_id,
    };

    eprintln!(
        "matchkey: reading {} campaign(s) of advertiser {advertiser}",
        wanted.len()
    );
    let campaigns = list_campaigns(&mut client, &account, &wanted)?;
    let by_id: BTreeMap<&str, &Campaign> = campaigns
        .iter()
        .map(|c| (c.campaign_id.as_str(), c))
        .collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|id| !by_id.contains_key(id))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown campaign id(s) {}: not among advertiser {advertiser}'s campaigns (`matchkey dsp campaigns --advertiser-id {advertiser}` lists them)",
            unknown.join(", ")
        );
    }

    eprintln!("matchkey: reading ad groups");
    let mut groups: Vec<AdGroup> = Vec::new();
    for chunk in wanted.chunks(dsp::MAX_PAGE) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        groups.extend(all_pages(
            &mut client,
            "ad groups list",
            advertiser,
            |auth, next| dsp::list_ad_groups(auth, &account, &chunk, next),
            dsp::parse_ad_groups,
        )?);
    }
    if groups.is_empty() {
        bail!(
            "campaign(s) {} have no ad groups yet: nothing to import (create ad groups in Amazon DSP first)",
            wanted.join(", ")
        );
    }
    for id in &wanted {
        if !groups.iter().any(|g| &g.campaign_id == id) {
            eprintln!("matchkey: warning: campaign {id} has no ad groups");
        }
    }

    eprintln!(
        "matchkey: reading inventory sources and audiences of {} ad group(s)",
        groups.len()
    );
    let mut targeting: BTreeMap<String, Targeting> = BTreeMap::new();
    let group_ids: Vec<&str> = groups.iter().map(|g| g.ad_group_id.as_str()).collect();
    for chunk in group_ids.chunks(dsp::MAX_PAGE) {
        for target_type in [TargetType::InventorySource, TargetType::Audience] {
            let targets = all_pages(
                &mut client,
                "targets list",
                advertiser,
                |auth, next| dsp::list_targets(auth, &account, chunk, target_type, next),
                dsp::parse_targets,
            )?;
            for target in targets {
                match target {
                    Target::InventorySource {
                        ad_group_id,
                        source_type,
                    } => targeting
                        .entry(ad_group_id)
                        .or_default()
                        .sources
                        .push(source_type),
                    Target::Audience {
                        ad_group_id,
                        audience_type,
                        negative,
                        ..
                    } => targeting
                        .entry(ad_group_id)
                        .or_default()
                        .audiences
                        .push((audience_type, negative)),
                    Target::Other => {}
                }
            }
        }
    }

    let fresh: Vec<BTreeMap<&'static str, String>> = groups
        .iter()
        .map(|group| {
            let campaign = by_id[group.campaign_id.as_str()];
            let empty = Targeting::default();
            let t = targeting.get(&group.ad_group_id).unwrap_or(&empty);
            row(advertiser, campaign, group, t)
        })
        .collect();
    let summary = write_refreshed(&args.out, existing, &fresh, advertiser, &wanted)?;
    eprintln!(
        "matchkey: {} ad group(s) from {} campaign(s): {} new, {} updated, {} vanished → {}",
        fresh.len(),
        wanted.len(),
        summary.new,
        summary.updated,
        summary.vanished,
        args.out.display()
    );
    Ok(true)
}

/// The owned columns of one ad group's row.
fn row(
    advertiser: &str,
    campaign: &Campaign,
    group: &AdGroup,
    t: &Targeting,
) -> BTreeMap<&'static str, String> {
    let supply = dsp::supply(t.sources.iter().map(String::as_str));
    let serving = dsp::serving(t.audiences.iter().map(|(k, n)| (k.as_str(), *n)));
    let running = dsp::is_running(&campaign.state);
    let mut notes = Vec::new();
    if group.inventory_type == "AUDIO" {
        notes.push("audio is not supported for tags".to_owned());
    }
    if serving == dsp::Serving::Mixed {
        notes.push("serving: decide (lookalike or excluded custom audience)".to_owned());
    }
    if serving == dsp::Serving::Unknown {
        notes.push(
            "serving: decide (Amazon's targets list does not say which kind each audience is)"
                .to_owned(),
        );
    }
    if supply == dsp::Supply::Unknown && t.sources.is_empty() {
        notes
            .push("supply: no inventory source listed (Amazon's default: all eligible)".to_owned());
    }
    if running.is_none() {
        notes.push(format!("campaign state {} not known", campaign.state));
    }
    let values = [
        dsp::placement_id(advertiser, &group.ad_group_id),
        "active".to_owned(),
        advertiser.to_owned(),
        campaign.campaign_id.clone(),
        campaign.name.clone(),
        campaign.state.clone(),
        match running {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
        .to_owned(),
        group.ad_group_id.clone(),
        group.name.clone(),
        group.state.clone(),
        group.inventory_type.clone(),
        first_nonempty(&group.start, &campaign.start),
        first_nonempty(&group.end, &campaign.end),
        supply.as_str().to_owned(),
        serving.as_str().to_owned(),
        notes.join("; "),
    ];
    OWNED.iter().copied().zip(values).collect()
}

fn first_nonempty(a: &str, b: &str) -> String {
    if a.is_empty() { b } else { a }.to_owned()
}

/// A placements file as read: its header and rows.
struct Existing {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_existing(path: &Path) -> anyhow::Result<Option<Existing>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("cannot read {}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    if !header.iter().any(|h| h == "placement_id") {
        bail!(
            "{} has no placement_id column: not a placements file from `matchkey dsp import` (choose another --out)",
            path.display()
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("cannot read {}", path.display()))?;
        let mut cells: Vec<String> = record.iter().map(str::to_owned).collect();
        cells.resize(header.len(), String::new());
        rows.push(cells);
    }
    Ok(Some(Existing { header, rows }))
}

#[derive(Default)]
struct Summary {
    new: usize,
    updated: usize,
    vanished: usize,
}

/// Merges `fresh` into the existing rows by `placement_id` and writes the file (through
/// `<out>.partial`, renamed at the end). Rows of the imported campaigns of this advertiser
/// that Amazon no longer lists are marked `vanished`; other rows are left as they are.
fn write_refreshed(
    out: &Path,
    existing: Option<Existing>,
    fresh: &[BTreeMap<&'static str, String>],
    advertiser: &str,
    campaigns: &[String],
) -> anyhow::Result<Summary> {
    let (mut header, mut rows) = match existing {
        Some(e) => (e.header, e.rows),
        None => (
            OWNED
                .iter()
                .chain(USER_SEED)
                .map(|&s| s.to_owned())
                .collect(),
            Vec::new(),
        ),
    };
    for &column in OWNED {
        if !header.iter().any(|h| h == column) {
            header.push(column.to_owned());
            for row in &mut rows {
                row.push(String::new());
            }
        }
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    let id_col = col("placement_id");
    let mut summary = Summary::default();
    let mut index: BTreeMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r[id_col].clone(), i))
        .collect();
    let mut present = BTreeSet::new();
    for values in fresh {
        let id = values["placement_id"].clone();
        present.insert(id.clone());
        let position = match index.get(&id) {
            Some(&i) => {
                summary.updated += 1;
                i
            }
            None => {
                summary.new += 1;
                rows.push(vec![String::new(); header.len()]);
                index.insert(id, rows.len() - 1);
                rows.len() - 1
            }
        };
        for (&name, value) in values {
            rows[position][col(name)] = value.clone();
        }
    }
    let (status, adv, camp) = (col("status"), col("advertiser_id"), col("campaign_id"));
    for row in &mut rows {
        if !present.contains(&row[id_col])
            && row[adv] == advertiser
            && campaigns.contains(&row[camp])
            && row[status] != "vanished"
        {
            row[status] = "vanished".to_owned();
            summary.vanished += 1;
        }
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    {
        let mut writer = csv::Writer::from_path(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        writer.write_record(&header)?;
        for row in &rows {
            writer.write_record(row)?;
        }
        writer.flush()?;
    }
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(summary)
}
