//! `matchkey audience push`: a member file becomes (or leaves) an Amazon audience. Rows
//! are normalized and hashed here, streamed into requests of at most `--batch-size`
//! records, and sent with the calls the Worker sends (`matchkey::amazon::audience`).
//! A journal makes an interrupted push resume where Amazon's acceptances stopped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use matchkey::amazon::audience::{
    self as calls, Action, Api, AudienceSpec, JobState, MAX_RECORDS_BYTES, MAX_TTL_SECONDS, Member,
    user_consent,
};
use matchkey::identity::{self, Sender};
use matchkey::{Country, Field, Normalizer};
use serde_json::{Value, json};

use crate::client::{self, ApiArgs, Client};
use crate::hash_csv::{self, RowCountry, Rows, advance, copy_cells, progress_bar};
use crate::journal::{Batch, Header, Journal, Totals};
use crate::parallel::{self, CHUNK_ROWS};
use crate::reader::{self, CsvReader, Refused, Row, Stats};

pub(crate) const EXAMPLES: &str = "\
Each row becomes one member: the mapped columns are normalized and SHA-256 hashed here
(only hashes are sent), the member's id is --id-column or derived from the hashes. Rows
with no usable match key are skipped and counted by reason; rejected cells are counted
by field and reason. The audience is created on first use (`matchkey_<name>_<time>`)
unless --audience-id names one.

The file is read as `matchkey hash-csv --help` says (encoding and delimiter detected,
column names matched ignoring case and spaces, short rows read with empty trailing cells)
and checked whole before anything is sent: more refused rows than --max-bad-rows allows
(default 0) and nothing is sent.

A journal (<file>.<name>-add.journal or -remove.journal by default) records each batch Amazon accepted: run
the same command again after an interruption and it resumes after the last accepted
batch. The final report goes to stdout as JSON (human summary on stderr); the exit code
is 0 when every batch was accepted and no AMC job failed, 1 when a job failed, no member
could be sent or the file was refused, 2 on error.

Examples:
  export LWA_CLIENT_ID=… LWA_CLIENT_SECRET=… LWA_REFRESH_TOKEN=… AMC_ADVERTISER_ID=583000000000001
  matchkey audience push --name newsletter --file members.csv --map email=EMAIL,phone=PHONE --country US
  matchkey audience push --name newsletter --file unsubscribed.csv --map email=EMAIL --country US --remove
  matchkey audience push --name buyers_de --file de.csv --map Email=EMAIL --country DE --consent-granted \\
      --api dp --profile-id 3333333333";

/// Which audience API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ApiChoice {
    /// AMC audiences (`/amc/audiences/records`); jobs are followed to their end.
    Amc,
    /// Data Provider (`/dp/records/hashed` then `PATCH /v2/dp/audience`).
    Dp,
}

/// Options of `audience push`.
#[derive(Debug, clap::Args)]
pub(crate) struct PushArgs {
    /// Our audience name: letters, digits, `_` and `-`, at most 64.
    #[arg(long)]
    name: String,
    /// The member file (CSV with a header row; encoding and delimiter detected unless given).
    #[arg(long)]
    file: PathBuf,
    /// The mapped columns (audiences take EMAIL, PHONE, FIRST_NAME, LAST_NAME, ADDRESS,
    /// CITY, STATE, POSTAL) and the rows' country.
    #[command(flatten)]
    rows: Rows,
    /// The column that holds each member's external user id ([0-9a-zA-Z_-]{1,128})
    /// [default: derived from the member's hashes].
    #[arg(long)]
    id_column: Option<String>,
    /// Remove the members instead of adding them (from the audience --audience-id names:
    /// the add's report and journal hold its id).
    #[arg(long, requires = "audience_id")]
    remove: bool,
    /// The audience API.
    #[arg(long, value_enum, default_value_t = ApiChoice::Amc)]
    api: ApiChoice,
    /// The numeric DSP advertiser id the audience belongs to.
    #[arg(long, env = "AMC_ADVERTISER_ID")]
    advertiser_id: u64,
    /// The profile id (`Amazon-Advertising-API-Scope`), for `--api dp`.
    #[arg(long, env = "PROFILE_ID")]
    profile_id: Option<String>,
    /// Use this existing Amazon audience instead of creating one.
    #[arg(long)]
    audience_id: Option<u64>,
    /// Records per request (Amazon's guidance is about 6,000).
    #[arg(long, default_value_t = calls::DEFAULT_RECORDS_PER_REQUEST,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=calls::MAX_RECORDS_PER_REQUEST as u64))]
    batch_size: usize,
    /// Member TTL in seconds for a new audience (at most 13 months).
    #[arg(long, default_value_t = MAX_TTL_SECONDS)]
    ttl_seconds: u64,
    /// The members gave consent (amznAdStorage and amznUserData GRANTED). Rows of
    /// countries that require consent (EEA and UK) are skipped without it.
    #[arg(long)]
    consent_granted: bool,
    /// The journal file [default: <file>.<name>-add.journal, or -remove.journal].
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Ignore an existing journal and push from the first row.
    #[arg(long)]
    restart: bool,
    /// Do not wait for AMC jobs to finish.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for AMC jobs, in seconds.
    #[arg(long, default_value_t = 900)]
    wait_seconds: u64,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    amazon: ApiArgs,
}

/// Where each row's parts are.
struct Columns {
    keys: Vec<(usize, Field)>,
    country: RowCountry,
    id: Option<usize>,
}

impl Columns {
    fn of(args: &PushArgs, header: &reader::Header) -> anyhow::Result<Columns> {
        Ok(Columns {
            keys: args
                .rows
                .map
                .iter()
                .map(|(name, field)| Ok((header.column(name, "--map")?, *field)))
                .collect::<anyhow::Result<_>>()?,
            country: args.rows.row_country(header)?,
            id: args
                .id_column
                .as_deref()
                .map(|name| header.column(name, "--id-column"))
                .transpose()?,
        })
    }

    /// The file's columns a row needs, and these columns as indices into them.
    fn local(&self) -> (Vec<usize>, Columns) {
        let mut needed: Vec<usize> = self.keys.iter().map(|&(i, _)| i).collect();
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(k, &(_, field))| (k, field))
            .collect();
        let country = match self.country {
            RowCountry::Column(i) => {
                needed.push(i);
                RowCountry::Column(needed.len() - 1)
            }
            fixed => fixed,
        };
        let id = self.id.map(|i| {
            needed.push(i);
            needed.len() - 1
        });
        (needed, Columns { keys, country, id })
    }
}

pub(crate) fn push(args: &PushArgs) -> anyhow::Result<bool> {
    if !calls::valid_name(&args.name) {
        bail!("--name: use letters, digits, `_` and `-` (at most 64)");
    }
    if let Some((column, field)) = args
        .rows
        .map
        .iter()
        .find(|(_, f)| calls::amc_key(*f).is_none())
    {
        bail!(
            "--map {column}={field}: audiences take EMAIL, PHONE, FIRST_NAME, LAST_NAME, ADDRESS, CITY, STATE and POSTAL"
        );
    }
    let api = match (args.api, args.profile_id.as_deref()) {
        (ApiChoice::Amc, _) => Api::Amc,
        (ApiChoice::Dp, Some(profile_id)) => Api::Dp { profile_id },
        (ApiChoice::Dp, None) => bail!("--api dp needs --profile-id (or PROFILE_ID)"),
    };
    let fixed_country = args.rows.fixed_country()?;
    let action = if args.remove {
        Action::Remove
    } else {
        Action::Add
    };
    let mut settings = json!({
        "name": args.name, "api": format!("{:?}", args.api), "action": action.amc(),
        "map": args.rows.map.iter().map(|(c, f)| format!("{c}={f}")).collect::<Vec<_>>(),
        "country": args.rows.country, "countryColumn": args.rows.country_column, "idColumn": args.id_column,
        "advertiserId": args.advertiser_id, "profileId": args.profile_id, "audienceId": args.audience_id,
        "batchSize": args.batch_size, "consentGranted": args.consent_granted, "apiBase": args.amazon.api_base,
    });
    // How the file is read changes the records; recorded only when given, so journals of
    // pushes made before these options existed still match.
    let read = &args.rows.read;
    if let Some(encoding) = read.encoding {
        settings["encoding"] = json!(format!("{encoding:?}"));
    }
    if let Some(delimiter) = read.delimiter {
        settings["delimiter"] = json!(char::from(delimiter).to_string());
    }
    if read.strict {
        settings["strict"] = json!(true);
    }
    let journal_path = args.journal.clone().unwrap_or_else(|| {
        // One journal per file, audience and direction: adding and later removing the
        // same file are two pushes.
        let mut p = args.file.clone().into_os_string();
        p.push(format!(
            ".{}-{}.journal",
            args.name,
            if args.remove { "remove" } else { "add" }
        ));
        p.into()
    });
    let mut client = Client::from_env(&args.amazon)?;
    let header = Header::new(&args.file, settings.to_string())?;
    let (mut journal, state) = Journal::open(&journal_path, &header, args.restart)?;
    let started = Instant::now();
    let mut read_as = None;
    let mut push = Push {
        api,
        action,
        fixed_country,
        consent: args.consent_granted.then(|| {
            json!({ "amazonConsent": { "amznAdStorage": "GRANTED", "amznUserData": "GRANTED" } })
        }),
        audience_id: state.audience_id.or(args.audience_id),
        totals: state
            .batches
            .last()
            .map(|b| b.totals.clone())
            .unwrap_or_default(),
        resumed_from: state.batches.last().map_or(0, |b| b.rows_through),
        batches: state.batches,
        chunk: Vec::new(),
        chunk_bytes: 0,
        jobs: BTreeMap::new(),
    };
    if state.done {
        eprintln!(
            "matchkey: {} says this push is complete; pass --restart to push again",
            journal.path().display()
        );
    } else {
        let file =
            File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        let total = file.metadata()?.len();
        let progress = (!args.no_progress && std::io::stderr().is_terminal())
            .then(|| progress_bar(Some(total)));
        if let Some(bar) = &progress {
            let bar = bar.clone();
            client.on_wait = Box::new(move |note| bar.set_message(note.to_owned()));
        }
        // The whole file is checked before anything is sent.
        if let Some(bar) = &progress {
            bar.set_message("checking the file");
        }
        let (header, stats) = check_file(args, progress.as_ref())?;
        if let Some(bar) = &progress {
            bar.set_position(0);
            bar.set_message("");
        }
        let refused = stats.check(read.max_bad_rows);
        if refused.is_err() {
            eprintln!(
                "matchkey: {} rows read ({}), {} refused; nothing sent",
                stats.rows,
                header.describe(),
                stats.bad_rows()
            );
            stats.write(header.encoding, &mut std::io::stderr().lock())?;
        }
        refused?;
        read_as = Some((header, stats));
        if push.resumed_from > 0 {
            eprintln!(
                "matchkey: resuming after row {} ({} batches already accepted)",
                push.resumed_from,
                push.batches.len()
            );
        }
        push.stream(args, file, &mut client, &mut journal, progress.as_ref())?;
        if let Some(bar) = &progress {
            bar.finish_and_clear();
        }
        journal.done()?;
        if !args.no_wait && api == Api::Amc {
            push.follow_jobs(&mut client, Duration::from_secs(args.wait_seconds))?;
        }
    }
    let report = push.report(args, journal.path(), started.elapsed(), read_as.as_ref());
    summarize(&report, &mut std::io::stderr().lock())?;
    if let Some((header, stats)) = &read_as {
        stats.write(header.encoding, &mut std::io::stderr().lock())?;
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")?;
    if push.totals.sent == 0 {
        return Err(Refused(
            "no member could be sent: every row was skipped or refused (see the counts above)"
                .into(),
        )
        .into());
    }
    Ok(!push.any_job_failed())
}

/// Reads the whole file once, without hashing, to find the columns and count the rows
/// refused for their shape or encoding before anything is sent.
fn check_file(
    args: &PushArgs,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<(reader::Header, Stats)> {
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let mut reader = CsvReader::new(file, &args.rows.read)?;
    Columns::of(args, reader.header())?;
    let mut last_progress = 0;
    while reader.next_row()?.is_some() {
        advance(progress, &mut last_progress, reader.input_bytes());
    }
    Ok((reader.header().clone(), reader.stats.clone()))
}

/// Rows of `audience push` on their way through the threads.
#[derive(Default)]
struct Chunk {
    /// Each row's number, and its warning or the reason it was refused (rows a resumed
    /// push already sent are left out).
    rows: Vec<(u64, Result<Option<&'static str>, &'static str>)>,
    /// The cells of `rows[k]` at `records[k]` (the rest are buffers kept for reuse).
    records: Vec<csv::StringRecord>,
    /// What each row became.
    outcomes: Vec<Outcome>,
}

/// What one row becomes: its rejected cells, and its record's JSON text or why it made
/// none.
struct Outcome {
    rejected: Vec<(Field, &'static str)>,
    record: Result<String, &'static str>,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            rejected: Vec::new(),
            record: Err(""),
        }
    }
}

/// How rows become records (shared by the hashing threads).
struct Members {
    columns: Columns,
    action: Action,
    consent: Option<Value>,
}

impl Members {
    /// The outcome of one row.
    fn make(&self, record: &csv::StringRecord, normalizer: &mut Normalizer, out: &mut Outcome) {
        let columns = &self.columns;
        let Ok(country) = hash_csv::country_of(columns.country, record) else {
            out.record = Err("invalid_country");
            return;
        };
        if country.requires_consent() && self.consent.is_none() {
            out.record = Err("consent_required");
            return;
        }
        let mut hashes = Vec::with_capacity(columns.keys.len());
        for &(i, field) in &columns.keys {
            // The identity rule every path shares (a file is a trusted source).
            let cell = record.get(i).unwrap_or_default();
            match identity::match_key_value(normalizer, Sender::Trusted, field, cell, country) {
                Ok(Some(value)) if field.is_hashed() => hashes.push((field, value)),
                Ok(_) => {}
                Err(reason) => out.rejected.push((field, reason.code())),
            }
        }
        let id = columns
            .id
            .map(|i| record.get(i).unwrap_or_default())
            .filter(|s| !s.is_empty());
        out.record = match Member::new(hashes, id) {
            Ok(member) => {
                let consent = self.consent.as_ref().map(|c| user_consent(country, c));
                Ok(member
                    .amc_record(self.action, country, consent.as_ref())
                    .to_string())
            }
            Err(e) => Err(e.code()),
        };
    }
}

/// A push in progress.
struct Push<'a> {
    api: Api<'a>,
    action: Action,
    fixed_country: Option<Country>,
    consent: Option<Value>,
    audience_id: Option<u64>,
    totals: Totals,
    resumed_from: u64,
    batches: Vec<Batch>,
    chunk: Vec<String>,
    chunk_bytes: usize,
    jobs: BTreeMap<String, JobState>,
}

impl Push<'_> {
    fn stream(
        &mut self,
        args: &PushArgs,
        file: File,
        client: &mut Client,
        journal: &mut Journal,
        progress: Option<&ProgressBar>,
    ) -> anyhow::Result<()> {
        let mut reader = CsvReader::new(file, &args.rows.read)?;
        let (needed, columns) = Columns::of(args, reader.header())?.local();
        let members = Members {
            columns,
            action: self.action,
            consent: self.consent.clone(),
        };
        let resumed_from = self.resumed_from;
        let mut row = 0u64;
        let mut last_progress = 0;
        // Rows are read in order here, made into records on the hashing threads, and
        // counted and batched here in the order read: the batches are the same for any
        // thread count.
        parallel::ordered(
            args.rows.threads.count(),
            Chunk::default,
            |chunk| {
                chunk.rows.clear();
                while chunk.rows.len() < CHUNK_ROWS {
                    let Some(read) = reader.next_row()? else {
                        break;
                    };
                    row += 1;
                    if row > resumed_from {
                        let n = chunk.rows.len();
                        if chunk.records.len() == n {
                            chunk.records.push(csv::StringRecord::new());
                        }
                        match read {
                            Row::Read(record, warning) => {
                                copy_cells(record, &needed, &mut chunk.records[n]);
                                chunk.rows.push((row, Ok(warning)));
                            }
                            Row::Refused(reason) => chunk.rows.push((row, Err(reason))),
                        }
                    }
                    advance(progress, &mut last_progress, reader.input_bytes());
                }
                Ok(!chunk.rows.is_empty())
            },
            Normalizer::new,
            |normalizer, chunk| {
                chunk.outcomes.clear();
                for (k, (_, read)) in chunk.rows.iter().enumerate() {
                    let mut outcome = Outcome::default();
                    if read.is_ok() {
                        members.make(&chunk.records[k], normalizer, &mut outcome);
                    }
                    chunk.outcomes.push(outcome);
                }
            },
            |chunk| {
                for (&(row, read), outcome) in chunk.rows.iter().zip(&mut chunk.outcomes) {
                    self.totals.rows += 1;
                    match read {
                        Ok(warning) => {
                            if let Some(warning) = warning {
                                *self.totals.warnings.entry(warning.into()).or_default() += 1;
                            }
                            self.count(outcome);
                        }
                        Err(reason) => {
                            // Counted (and listed by line) by the check before the push.
                            self.totals.bad_rows += 1;
                            *self.totals.skipped.entry(reason.into()).or_default() += 1;
                        }
                    }
                    if self.chunk_full(args.batch_size) {
                        self.send(args, client, journal, row)?;
                    }
                }
                if let Some(bar) = progress {
                    bar.set_message(format!(
                        "{} sent in {} batches",
                        self.totals.sent,
                        self.batches.len()
                    ));
                }
                Ok(())
            },
        )?;
        if !self.chunk.is_empty() {
            self.send(args, client, journal, row)?;
        } else if row > self.batches.last().map_or(0, |b| b.rows_through) {
            // Trailing rows that made no record: journal them so the totals are kept.
            self.journal_batch(journal, row, 0, None)?;
        }
        Ok(())
    }

    /// A row's outcome into the chunk of records, or into the counts of why not.
    fn count(&mut self, outcome: &mut Outcome) {
        for (field, code) in outcome.rejected.drain(..) {
            *self
                .totals
                .rejected
                .entry(format!("{field}:{code}"))
                .or_default() += 1;
        }
        match std::mem::replace(&mut outcome.record, Err("")) {
            Ok(text) => {
                self.chunk_bytes += text.len() + 1;
                self.chunk.push(text);
            }
            Err(skipped) => *self.totals.skipped.entry(skipped.into()).or_default() += 1,
        }
    }

    /// Whether the chunk should go now: full, or near Amazon's body limit (a record is
    /// far below the 64 KiB kept free).
    fn chunk_full(&self, batch_size: usize) -> bool {
        self.chunk.len() >= batch_size || self.chunk_bytes > MAX_RECORDS_BYTES - (64 << 10)
    }

    /// Sends the chunk (creating the audience first if need be) and journals it; `row` is
    /// the last data row it covers.
    fn send(
        &mut self,
        args: &PushArgs,
        client: &mut Client,
        journal: &mut Journal,
        row: u64,
    ) -> anyhow::Result<()> {
        let audience_id = match self.audience_id {
            Some(id) => id,
            None => {
                let id = self.create_audience(args, client)?;
                journal.audience(id)?;
                self.audience_id = Some(id);
                id
            }
        };
        let batch = self.batches.len() + 1;
        let answer = client.call_all(&format!("batch {batch}"), |auth| {
            calls::send_records(self.api, auth, audience_id, &self.chunk)
        })?;
        let job_id = match answer.status {
            200..=299 => calls::parse_job_id(&answer.body),
            404 => bail!(
                "batch {batch}: Amazon knows no audience {audience_id} (404); pass --audience-id with an existing one, or --restart to create a new one"
            ),
            _ => bail!(
                "batch {batch}: Amazon refused it ({}); nothing after row {} was sent; fix the cause and run again to resume",
                client::error_code(&answer),
                self.batches
                    .last()
                    .map_or(self.resumed_from, |b| b.rows_through)
            ),
        };
        let records = self.chunk.len() as u64;
        self.totals.sent += records;
        self.chunk.clear();
        self.chunk_bytes = 0;
        self.journal_batch(journal, row, records, job_id)
    }

    fn journal_batch(
        &mut self,
        journal: &mut Journal,
        row: u64,
        records: u64,
        job_id: Option<String>,
    ) -> anyhow::Result<()> {
        let batch = Batch {
            batch: self.batches.len() as u64 + 1,
            rows_through: row,
            records,
            job_id,
            totals: self.totals.clone(),
        };
        journal.batch(&batch)?;
        self.batches.push(batch);
        Ok(())
    }

    fn create_audience(&self, args: &PushArgs, client: &mut Client) -> anyhow::Result<u64> {
        let spec = AudienceSpec {
            name: &args.name,
            country: self.fixed_country.unwrap_or(Country::US),
            ttl_seconds: args.ttl_seconds,
            now_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            source: "matchkey CLI",
        };
        let answer = client.call("creating the audience", |auth| {
            calls::create_audience(self.api, auth, &spec, args.advertiser_id)
        })?;
        calls::parse_audience_id(answer.status, &answer.body).with_context(|| {
            format!(
                "creating the audience: Amazon answered {}",
                client::error_code(&answer)
            )
        })
    }

    /// Polls every AMC job of the push (this run's and earlier runs') until it ends or
    /// `patience` runs out.
    fn follow_jobs(&mut self, client: &mut Client, patience: Duration) -> anyhow::Result<()> {
        let ids: Vec<String> = self
            .batches
            .iter()
            .filter_map(|b| b.job_id.clone())
            .collect();
        client::poll(patience, Duration::from_secs(10), || {
            let mut pending = 0;
            for id in &ids {
                if matches!(self.jobs.get(id), Some(JobState::Done { .. })) {
                    continue;
                }
                let answer = client.call("following a job", |auth| calls::amc_job(auth, id))?;
                let state =
                    calls::parse_job(answer.status, &answer.body).unwrap_or(JobState::Pending);
                if state == JobState::Pending {
                    pending += 1;
                }
                self.jobs.insert(id.clone(), state);
            }
            Ok(pending == 0)
        })
    }

    /// Whether Amazon failed any job of the push, wholly or in part.
    fn any_job_failed(&self) -> bool {
        self.jobs.values().any(|state| {
            matches!(state, JobState::Done { status, .. } if status == "FAILED" || status == "PARTIALLYSUCCEEDED")
        })
    }

    fn report(
        &self,
        args: &PushArgs,
        journal: &std::path::Path,
        elapsed: Duration,
        read_as: Option<&(reader::Header, Stats)>,
    ) -> Value {
        let mut rejected: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for (key, n) in &self.totals.rejected {
            let (field, reason) = key.split_once(':').unwrap_or((key, ""));
            rejected.entry(field).or_default().insert(reason, *n);
        }
        let jobs: Vec<Value> = self
            .batches
            .iter()
            .filter_map(|b| b.job_id.as_ref())
            .map(|id| match self.jobs.get(id) {
                Some(JobState::Done { status, failed }) => {
                    json!({ "jobId": id, "status": status, "failedRecords": failed })
                }
                Some(JobState::Pending) => json!({ "jobId": id, "status": "PENDING" }),
                None => json!({ "jobId": id, "status": "NOT_CHECKED" }),
            })
            .collect();
        let rows_this_run = self.totals.rows.saturating_sub(self.resumed_from);
        json!({
            "audience": { "name": args.name, "api": format!("{:?}", args.api).to_lowercase(), "audienceId": self.audience_id, "action": self.action.amc() },
            "encoding": read_as.map(|(h, _)| h.encoding),
            "delimiter": read_as.map(|(h, _)| char::from(h.delimiter).to_string()),
            "rows": self.totals.rows,
            "badRows": self.totals.bad_rows,
            "warnings": self.totals.warnings,
            "sent": self.totals.sent,
            "batches": self.batches.iter().filter(|b| b.records > 0).count(),
            "skipped": self.totals.skipped,
            "rejected": rejected,
            "jobs": jobs,
            "journal": journal.display().to_string(),
            "resumedAfterRow": self.resumed_from,
            "seconds": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "rowsPerSecond": (rows_this_run as f64 / elapsed.as_secs_f64().max(1e-3)).round(),
        })
    }
}

/// The human summary of a report.
fn summarize(report: &Value, out: &mut impl Write) -> std::io::Result<()> {
    let read_as = match (report["encoding"].as_str(), report["delimiter"].as_str()) {
        (Some(encoding), Some(delimiter)) => format!(
            " ({encoding}, separated by {})",
            reader::delimiter_name(delimiter.bytes().next().unwrap_or(b','))
        ),
        _ => String::new(),
    };
    writeln!(
        out,
        "matchkey: {} rows read{read_as}, {} members sent in {} batches to audience {} ({} refused)",
        report["rows"],
        report["sent"],
        report["batches"],
        report["audience"]["audienceId"],
        report["badRows"]
    )?;
    if let Some(skipped) = report["skipped"].as_object().filter(|s| !s.is_empty()) {
        let detail: Vec<String> = skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "  rows skipped: {}", detail.join(", "))?;
    }
    if let Some(fields) = report["rejected"].as_object() {
        for (field, reasons) in fields {
            let detail: Vec<String> = reasons
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(out, "  {field}: rejected ({})", detail.join(", "))?;
        }
    }
    for job in report["jobs"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  job {}: {}",
            job["jobId"].as_str().unwrap_or_default(),
            job["status"].as_str().unwrap_or_default()
        )?;
    }
    Ok(())
}
