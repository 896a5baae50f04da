//! `cargo bench`: values per second for normalize+hash against hash-only on the same
//! inputs, per field, and `matchkey hash-csv` MB/s on a generated CSV of US rows, for 4
//! and 8 mapped columns on 1 and 2 threads.
//!
//! Prints numbers (median of several runs); it asserts nothing, so a busy machine gives
//! slower figures, never a failure. `BENCH_ROWS` sets the CSV size. With `AMC_UPLOADER`
//! (a checkout of Amazon's AMC uploader, and `BENCH_PYTHON` a Python with pandas, regex
//! and phonenumbers; default `python3`) the same file also goes through the uploader's
//! normalizers (`scripts/bench-uploader.py`), and the bench prints how many times slower.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use matchkey::{Country, Field, Normalizer, sha256_hex};

const N: usize = 200_000;
const RUNS: usize = 7;

/// A small deterministic generator (no dependency, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

const FIRST: &[&str] = &[
    "Jane",
    "John",
    "María",
    "Jürgen",
    "Zoë",
    "Li",
    "O'Neil",
    "Anne-Marie",
];
const LAST: &[&str] = &[
    "Doe",
    "Müller",
    "García",
    "Smith",
    "Nguyen",
    "O'Day",
    "van der Berg",
];
const ASCII_FIRST: &[&str] = &[
    "Jane",
    "John",
    "Maria",
    "Juergen",
    "Zoe",
    "Li",
    "ONeil",
    "Anne-Marie",
];
const ASCII_LAST: &[&str] = &[
    "Doe",
    "Mueller",
    "Garcia",
    "Smith",
    "Nguyen",
    "ODay",
    "vanderBerg",
];
const STREET: &[&str] = &[
    "Main Street",
    "North Oak Avenue",
    "Elm St.",
    "Sunset Blvd",
    "W 45th Street",
];
const CITY: &[&str] = &["New York", "San Francisco", "Austin", "St. Louis", "Boise"];
const STATE: &[&str] = &["Texas", "CA", "New York", "washington", "N.Y."];

fn input(field: Field, rng: &mut Lcg, i: usize) -> String {
    match field {
        // E-mail addresses are ASCII in practice; mixed case and stray white space are not.
        Field::Email => format!(
            " {}.{}{}@Example.COM",
            rng.pick(ASCII_FIRST),
            rng.pick(ASCII_LAST),
            i % 1000
        ),
        Field::Phone => format!(
            "({:03}) 555-{:04}",
            200 + rng.next() % 700,
            rng.next() % 10_000
        ),
        Field::FirstName => rng.pick(FIRST).to_owned(),
        Field::LastName => rng.pick(LAST).to_owned(),
        Field::Address => format!(
            "{} {}, Apt #{}",
            rng.next() % 9999,
            rng.pick(STREET),
            i % 40
        ),
        Field::City => rng.pick(CITY).to_owned(),
        Field::State => rng.pick(STATE).to_owned(),
        Field::Postal => format!("{:05}-{:04}", rng.next() % 100_000, rng.next() % 10_000),
        Field::Maid => format!(
            "{:08X}-8246-4BA4-AE5B-{:012X}",
            rng.next() as u32,
            rng.next() & 0xFFFF_FFFF_FFFF
        ),
        Field::RampId => format!("XY{:020}", rng.next()),
        Field::MatchId => format!("customer-{i}"),
    }
}

/// Median wall time of `RUNS` runs of `f`.
fn median(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn fields() {
    println!("normalize+hash vs hash-only, {N} values each, median of {RUNS} runs (US rules)");
    println!(
        "{:<11} {:>16} {:>16} {:>16} {:>7}",
        "field", "normalize-only/s", "normalize+hash/s", "hash-only/s", "ratio"
    );
    for field in Field::ALL {
        let mut rng = Lcg(42);
        let inputs: Vec<String> = (0..N).map(|i| input(field, &mut rng, i)).collect();
        let mut normalizer = Normalizer::new();
        let full = median(|| {
            for s in &inputs {
                let _ = black_box(
                    normalizer
                        .process(field, black_box(s), Country::US)
                        .map(|o| o.sha256),
                );
            }
        });
        let normalize_only = median(|| {
            for s in &inputs {
                let _ = black_box(
                    normalizer
                        .normalize(field, black_box(s), Country::US)
                        .map(str::len),
                );
            }
        });
        let hash_only = median(|| {
            for s in &inputs {
                black_box(sha256_hex(black_box(s)));
            }
        });
        println!(
            "{:<11} {:>16.0} {:>16.0} {:>16.0} {:>7.2}",
            field.as_str(),
            per_sec(N, normalize_only),
            per_sec(N, full),
            per_sec(N, hash_only),
            hash_only.as_secs_f64() / full.as_secs_f64()
        );
    }
}

/// `hash-csv` MB/s on generated US rows (`BENCH_ROWS`, default 100,000), for 4 and 8
/// mapped columns and 1 and 2 threads (median of 5 runs each).
fn hash_csv() {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut rng = Lcg(7);
    let path = std::env::temp_dir().join(format!("matchkey-bench-{rows}.csv"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
    writeln!(
        file,
        "id,email,phone,first_name,last_name,address,city,state,zip"
    )
    .unwrap();
    for i in 0..rows {
        writeln!(
            file,
            "{i},{},{},{},{},\"{}\",{},{},{}",
            input(Field::Email, &mut rng, i),
            input(Field::Phone, &mut rng, i),
            input(Field::FirstName, &mut rng, i),
            input(Field::LastName, &mut rng, i),
            input(Field::Address, &mut rng, i),
            input(Field::City, &mut rng, i),
            input(Field::State, &mut rng, i),
            input(Field::Postal, &mut rng, i)
        )
        .unwrap();
    }
    file.into_inner().unwrap().sync_all().unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let four = "email=EMAIL,phone=PHONE,first_name=FIRST_NAME,zip=POSTAL";
    let eight = "email=EMAIL,phone=PHONE,first_name=FIRST_NAME,last_name=LAST_NAME,\
                 address=ADDRESS,city=CITY,state=STATE,zip=POSTAL";
    println!();
    println!(
        "hash-csv: {rows} US rows, {:.1} MB, median of 5 runs (the whole file, ids kept)",
        bytes as f64 / 1e6
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>10}",
        "columns", "threads", "seconds", "MB/s", "rows/s"
    );
    let mut eight_columns = Vec::new();
    for (columns, map) in [(4, four), (8, eight)] {
        for threads in ["1", "2"] {
            let run = || {
                let status = Command::new(env!("CARGO_BIN_EXE_matchkey"))
                    .args(["hash-csv", "--map", map, "--country", "US", "--keep", "id"])
                    .args(["--no-progress", "--threads", threads])
                    .stdin(std::fs::File::open(&path).unwrap())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("matchkey runs");
                assert!(status.success());
            };
            run();
            let mut times: Vec<Duration> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    run();
                    start.elapsed()
                })
                .collect();
            times.sort();
            let t = times[2];
            println!(
                "{columns:<8} {threads:>8} {:>8.3} {:>8.1} {:>10.0}",
                t.as_secs_f64(),
                bytes as f64 / 1e6 / t.as_secs_f64(),
                per_sec(rows, t)
            );
            if columns == 8 {
                eight_columns.push((threads, t));
            }
        }
    }
    if let Some(uploader) = std::env::var_os("AMC_UPLOADER") {
        against_uploader(&path, &uploader, &eight_columns);
    }
    let _ = std::fs::remove_file(&path);
}

/// The same file and 8 columns through the AMC uploader's pandas normalizers, once (it
/// takes seconds), against `hash-csv`'s medians.
fn against_uploader(path: &std::path::Path, uploader: &std::ffi::OsStr, ours: &[(&str, Duration)]) {
    let python = std::env::var_os("BENCH_PYTHON").unwrap_or_else(|| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench-uploader.py");
    let out = Command::new(python)
        .arg(script)
        .arg(path)
        .arg(uploader)
        .stderr(Stdio::inherit())
        .output();
    let line = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => {
            println!(
                "AMC uploader: did not run (see above; it needs pandas, regex and phonenumbers)"
            );
            return;
        }
    };
    let mut words = line.split_whitespace();
    let mut field = |name: &str| -> Option<f64> {
        words.find(|w| *w == name)?;
        words.next()?.parse().ok()
    };
    let (Some(seconds), Some(rss)) = (field("seconds"), field("peak_rss_mb")) else {
        println!("AMC uploader: unreadable answer {line:?}");
        return;
    };
    println!();
    println!("AMC uploader (pandas), 8 columns: {seconds:.2} s, peak RSS {rss:.0} MB");
    for (threads, t) in ours {
        println!(
            "  hash-csv on {threads} thread(s) is {:.0}x faster",
            seconds / t.as_secs_f64()
        );
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--test`-like flags; only measure
    // under `cargo bench`.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    // `cargo bench -- csv`: the file throughput only.
    if !std::env::args().any(|a| a == "csv") {
        fields();
    }
    hash_csv();
}
