//! The journal of an `audience push`: JSON lines next to the input that record what
//! Amazon has accepted, so an interrupted push resumes after the last accepted batch
//! instead of starting over. It holds counts, ids and file facts, never a row's values.
//!
//! Line 1 is the header (which file, which settings); then `{"audienceId"}` once the
//! audience exists, one line per accepted batch, and a last `{"done"}` line. A batch
//! that was sent but not journaled (the process died in between) is sent again on
//! resume; audience records are idempotent (the same person's CREATE twice is one member).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What identifies a push: the file's facts and the settings that shape the records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Header {
    pub(crate) journal: String,
    pub(crate) file_bytes: u64,
    /// SHA-256 of the file's first MiB: a different file of the same size is caught.
    pub(crate) file_head_sha256: String,
    /// Everything else that changes the records sent (name, API, action, mapping…).
    pub(crate) settings: String,
}

impl Header {
    pub(crate) fn new(file: &Path, settings: String) -> anyhow::Result<Header> {
        let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let file_bytes = f.metadata()?.len();
        let mut head = Vec::new();
        (&mut f).take(1 << 20).read_to_end(&mut head)?;
        let digest = Sha256::digest(&head);
        Ok(Header {
            journal: "matchkey audience push v1".into(),
            file_bytes,
            file_head_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            settings,
        })
    }
}

/// One accepted batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Batch {
    pub(crate) batch: u64,
    /// Data rows of the file consumed up to and including this batch.
    pub(crate) rows_through: u64,
    pub(crate) records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) job_id: Option<String>,
    /// Running totals up to this batch, so a resumed push reports the whole file.
    pub(crate) totals: Totals,
}

/// Running counts of a push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Totals {
    pub(crate) rows: u64,
    pub(crate) sent: u64,
    pub(crate) bad_rows: u64,
    /// Rows sent as no record (no usable match key, bad id, consent missing), by reason.
    pub(crate) skipped: BTreeMap<String, u64>,
    /// Cells rejected, by `FIELD:reason`.
    pub(crate) rejected: BTreeMap<String, u64>,
    /// Rows read despite a shape problem (`short_row`, `long_row`), by reason. (Absent
    /// from journals written before it was counted.)
    #[serde(default)]
    pub(crate) warnings: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Audience {
        #[serde(rename = "audienceId")]
        audience_id: u64,
    },
    Batch(Batch),
    Done {
        done: bool,
    },
}

/// What a journal says so far.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) audience_id: Option<u64>,
    pub(crate) batches: Vec<Batch>,
    pub(crate) done: bool,
}

/// An open journal, appended to line by line (each line flushed and synced).
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens `path` for `header`: a new journal, or the existing one when its header
    /// matches (its state is returned), or an error when it belongs to another push.
    pub(crate) fn open(
        path: &Path,
        header: &Header,
        restart: bool,
    ) -> anyhow::Result<(Journal, State)> {
        let mut state = State::default();
        if path.exists() && !restart {
            let reader = BufReader::new(File::open(path)?);
            let mut lines = reader.lines();
            let first = lines.next().transpose()?.unwrap_or_default();
            let found: Header = serde_json::from_str(&first)
                .with_context(|| format!("{} is not a matchkey journal", path.display()))?;
            // The bytes of the whole lines read: a torn line after them is cut off before
            // appending, so that the next line does not join it and hide what follows.
            let mut whole = first.len() as u64 + 1;
            for line in lines {
                let line = line?;
                // A line cut short by a crash is the last one; ignore it.
                match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Audience { audience_id }) => state.audience_id = Some(audience_id),
                    Ok(Line::Batch(b)) => state.batches.push(b),
                    Ok(Line::Done { done }) => state.done = done,
                    Err(_) => break,
                }
                whole += line.len() as u64 + 1;
            }
            let nothing_sent = state.audience_id.is_none() && state.batches.is_empty();
            if &found != header && nothing_sent {
                // Another push that never got anywhere: nothing to resume, start afresh.
                return Journal::open(path, header, true);
            }
            if &found != header {
                bail!(
                    "{} belongs to another file or other settings; pass --restart to push from the start, or --journal for a new one",
                    path.display()
                );
            }
            let file = OpenOptions::new().append(true).open(path)?;
            if file.metadata()?.len() > whole {
                file.set_len(whole)?;
                file.sync_data()?;
            }
            return Ok((
                Journal {
                    path: path.into(),
                    file,
                },
                state,
            ));
        }
        let mut journal = Journal {
            path: path.into(),
            file: File::create(path).with_context(|| format!("creating {}", path.display()))?,
        };
        journal.write(header)?;
        Ok((journal, state))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn audience(&mut self, audience_id: u64) -> anyhow::Result<()> {
        self.write(&Line::Audience { audience_id })
    }

    pub(crate) fn batch(&mut self, batch: &Batch) -> anyhow::Result<()> {
        self.write(batch)
    }

    pub(crate) fn done(&mut self) -> anyhow::Result<()> {
        self.write(&Line::Done { done: true })
    }

    fn write(&mut self, line: &impl Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string(line)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_from_its_own_lines_and_refuses_another_push() {
        let dir = std::env::temp_dir().join(format!("mk-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("m.csv");
        std::fs::write(&data, "email\na@b.c\n").unwrap();
        let path = dir.join("m.journal");
        let header = Header::new(&data, "name=x".into()).unwrap();
        let (mut j, state) = Journal::open(&path, &header, false).unwrap();
        assert!(state.audience_id.is_none() && state.batches.is_empty());
        j.audience(413_642_381_039_213_536).unwrap();
        let b = Batch {
            batch: 1,
            rows_through: 6000,
            records: 5990,
            job_id: Some("j".into()),
            ..Batch::default()
        };
        j.batch(&b).unwrap();
        drop(j);
        // A torn last line (the process died mid-write) is ignored.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"batch\":2,\"rows")
            .unwrap();
        let (mut j, state) = Journal::open(&path, &header, false).unwrap();
        assert_eq!(state.audience_id, Some(413_642_381_039_213_536));
        assert_eq!(state.batches, std::slice::from_ref(&b));
        assert!(!state.done);
        // What is written after the torn line is read back: the torn line was cut off.
        let b2 = Batch {
            batch: 2,
            rows_through: 12000,
            ..b.clone()
        };
        j.batch(&b2).unwrap();
        j.done().unwrap();
        drop(j);
        let (_, state) = Journal::open(&path, &header, false).unwrap();
        assert_eq!(state.batches, [b.clone(), b2]);
        assert!(state.done);
        let other = Header::new(&data, "name=y".into()).unwrap();
        let err = Journal::open(&path, &other, false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--restart"), "{err}");
        let (_, fresh) = Journal::open(&path, &other, true).unwrap();
        assert!(fresh.batches.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
