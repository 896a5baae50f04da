//! Customer files as people export them, through the real `matchkey` binary: encodings
//! (Windows-1252, UTF-16 with a byte-order mark, a UTF-8 file with a stray row), the four
//! delimiters, BOM + CRLF line numbers, short and long rows with and without `--strict`,
//! header names in other cases and spaces, exit codes, and a large input streamed in
//! bounded memory. The reader is shared by `hash-csv`, `amc prepare` and `audience push`
//! (the last is tested against the emulator in `amazon_cli.rs`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// `matchkey ARGS` with `stdin`: (stdout, stderr, exit code).
fn run(args: &[&str], stdin: &[u8]) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_matchkey"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("matchkey starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // A command that fails early may close stdin before reading it all.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// `text` in Windows-1252 (the characters used here: Latin-1 and the euro sign).
fn cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u8,
            c => panic!("{c} is not in this test's Windows-1252"),
        })
        .collect()
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    std::iter::once('\u{feff}')
        .chain(text.chars())
        .collect::<String>()
        .encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// A European CRM export: accents in names and cities, the euro sign in a kept column.
const PEOPLE: &str = "customer_id,first_name,last_name,city,email,note\n\
    1,José,Müller,Köln,jose.muller@example.com,VIP €\n\
    2,Zoë,Straße,Düsseldorf,zoe@example.com,\n\
    3,Ångström,Ærø,Göteborg,a@example.se,ß\n";

const MAP: &str = "first_name=FIRST_NAME,last_name=LAST_NAME,city=CITY,email=EMAIL";

fn hash_people(input: &[u8], extra: &[&str]) -> (String, String, i32) {
    let mut args = vec![
        "hash-csv",
        "--map",
        MAP,
        "--country",
        "DE",
        "--keep",
        "customer_id,note",
    ];
    args.extend_from_slice(extra);
    run(&args, input)
}

/// No message may carry a cell value.
fn assert_private(stderr: &str) {
    for value in [
        "José", "Jos", "Müller", "Köln", "example", "zoe", "VIP", "Straße",
    ] {
        assert!(!stderr.contains(value), "`{value}` in: {stderr}");
    }
}

#[test]
fn windows_1252_utf16_and_utf8_give_the_same_hashes() {
    let (expected, stderr, code) = hash_people(PEOPLE.as_bytes(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(utf-8, separated by `,`)"), "{stderr}");
    assert!(
        expected.contains("VIP €"),
        "kept cells are written as UTF-8"
    );

    for (input, encoding) in [
        (cp1252(PEOPLE), "windows-1252"),
        (utf16(PEOPLE, false), "utf-16le"),
        (utf16(PEOPLE, true), "utf-16be"),
        (
            ["\u{feff}", PEOPLE].concat().into_bytes(),
            "utf-8", // with a byte-order mark
        ),
    ] {
        let (stdout, stderr, code) = hash_people(&input, &[]);
        assert_eq!(code, 0, "{encoding}: {stderr}");
        assert_eq!(stdout, expected, "{encoding}");
        assert!(
            stderr.contains(&format!(
                "3 rows read ({encoding}, separated by `,`): 3 written"
            )),
            "{stderr}"
        );
        assert_private(&stderr);
    }

    // Forced: latin-1 is read as Windows-1252 (the euro sign included).
    let (stdout, stderr, code) = hash_people(&cp1252(PEOPLE), &["--encoding", "latin-1"]);
    assert_eq!((code, stdout), (0, expected.clone()), "{stderr}");
    // Forcing the wrong one is visible: UTF-8 on a Windows-1252 file refuses its rows.
    let (_, stderr, code) = hash_people(&cp1252(PEOPLE), &["--encoding", "utf-8"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("refused invalid_encoding: 3 rows on lines 2, 3, 4"),
        "{stderr}"
    );
    assert_private(&stderr);
}

#[test]
fn a_utf8_file_with_a_windows_1252_row_is_reported_by_line_not_guessed() {
    // 64 KiB of ASCII rows make the file UTF-8; a later row holds a Windows-1252 `é`.
    let mut text = b"email,name\n".to_vec();
    let mut rows = 0;
    while text.len() < 70_000 {
        rows += 1;
        text.extend_from_slice(format!("m{rows}@example.com,Name\n").as_bytes());
    }
    text.extend_from_slice(b"late@example.com,Jos\xe9\n");
    text.extend_from_slice(b"after@example.com,Ann\n");
    let bad_line = rows + 2;
    let args = ["hash-csv", "--map", "email=EMAIL", "--country", "US"];
    let (stdout, stderr, code) = run(&args, &text);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "refused invalid_encoding: 1 row on line {bad_line} (not valid UTF-8"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--encoding windows-1252"), "{stderr}");
    assert!(
        stderr.contains("more than --max-bad-rows 0 allows"),
        "{stderr}"
    );
    // The other rows are all there, the one after it included.
    assert_eq!(stdout.lines().count(), 1 + rows + 1);
    assert_private(&stderr);

    let with = |extra: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(extra);
        run(&a, &text)
    };
    assert_eq!(with(&["--max-bad-rows", "1"]).2, 0);
    assert_eq!(with(&["--max-bad-rows", "1%"]).2, 0);
    let (stdout, stderr, code) = with(&["--encoding", "windows-1252"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1 + rows + 2);
}

#[test]
fn delimiters_are_detected_from_the_header_or_given() {
    let (expected, _, _) = hash_people(PEOPLE.as_bytes(), &[]);
    for (delimiter, name) in [(";", "`;`"), ("\t", "tabs"), ("|", "`|`")] {
        let text = PEOPLE.replace(',', delimiter);
        let (stdout, stderr, code) = hash_people(text.as_bytes(), &[]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, expected, "{name}");
        assert!(stderr.contains(&format!("separated by {name}")), "{stderr}");
    }
    // A semicolon file with more commas inside the header's quoted names than semicolons.
    let text = "id;\"Land, Staat, Region\";email\n1;\"DE\";\"a@example.com\"\n";
    let (stdout, stderr, code) = run(
        &[
            "hash-csv",
            "--map",
            "email=EMAIL",
            "--country-column",
            "land, staat, region",
        ],
        text.as_bytes(),
    );
    assert_eq!(code, 0, "{stderr}");
    let a = matchkey::sha256_hex("a@example.com");
    assert_eq!(stdout, format!("\"Land, Staat, Region\",email\nDE,{a}\n"));

    // Given: `tab` works; a wrong one shows what the header became, with the delimiter.
    let tabs = PEOPLE.replace(',', "\t");
    assert_eq!(hash_people(tabs.as_bytes(), &["--delimiter", "tab"]).2, 0);
    let semi = PEOPLE.replace(',', ";");
    let (_, stderr, code) = hash_people(semi.as_bytes(), &["--delimiter", ","]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "no column `customer_id` (--keep); its columns, read as utf-8 separated by `,`: \
             `customer_id;first_name;last_name;city;email;note`"
        ),
        "{stderr}"
    );
    let (_, stderr, code) = hash_people(semi.as_bytes(), &["--delimiter", ":"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn bom_and_crlf_do_not_shift_line_numbers() {
    // Line 3 is short; a quoted cell over two lines (5-6) comes before the long row on 7.
    let text = "\u{feff}email,name,city\r\n\
                a@example.com,Ann,Paris\r\n\
                b@example.com\r\n\
                c@example.com,Bob,Lyon\r\n\
                d@example.com,\"Two\r\nlines\",Nice\r\n\
                e@example.com,Eve,Metz,extra\r\n";
    let args = ["hash-csv", "--map", "Email=EMAIL", "--country", "FR"];
    let (stdout, stderr, code) = run(&args, text.as_bytes());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1 + 5);
    assert!(
        stderr.contains("warning short_row: 1 row on line 3 "),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning long_row: 1 row on line 7 "),
        "{stderr}"
    );

    // The same in UTF-16 and Windows-1252.
    for input in [utf16(&text[3..], false), cp1252(&text[3..])] {
        let (_, stderr, code) = run(&args, &input);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("short_row: 1 row on line 3 "), "{stderr}");
        assert!(stderr.contains("long_row: 1 row on line 7 "), "{stderr}");
    }
}

#[test]
fn short_and_long_rows_are_read_unless_strict() {
    // Exporters drop trailing empty cells; a stray delimiter makes a row long.
    let text = "id,email,phone,note\n\
                1,a@example.com\n\
                2,b@example.com,(415) 555-0100,x,y\n\
                3,c@example.com,,\n";
    let args = [
        "hash-csv",
        "--map",
        "email=EMAIL,phone=PHONE",
        "--country",
        "US",
        "--keep",
        "id",
    ];
    let (stdout, stderr, code) = run(&args, text.as_bytes());
    assert_eq!(code, 0, "{stderr}");
    let a = matchkey::sha256_hex("a@example.com");
    let b = matchkey::sha256_hex("b@example.com");
    let phone = matchkey::sha256_hex("14155550100");
    let c = matchkey::sha256_hex("c@example.com");
    assert_eq!(
        stdout,
        format!("id,email,phone\n1,{a},\n2,{b},{phone}\n3,{c},\n")
    );
    assert!(
        stderr.contains("3 rows read (utf-8, separated by `,`): 3 written, 0 refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning short_row: 1 row on line 2 (fewer cells than the header: the missing ones read as empty)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning long_row: 1 row on line 3 (more cells than the header: the extra ones ignored)"
        ),
        "{stderr}"
    );

    let strict = |extra: &[&str]| {
        let mut a = args.to_vec();
        a.push("--strict");
        a.extend_from_slice(extra);
        run(&a, text.as_bytes())
    };
    let (stdout, stderr, code) = strict(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, format!("id,email,phone\n3,{c},\n"));
    assert!(
        stderr
            .contains("refused short_row: 1 row on line 2 (fewer cells than the header; --strict)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refused long_row: 1 row on line 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 of 3 rows refused (see above), more than --max-bad-rows 0 allows"),
        "{stderr}"
    );
    assert_eq!(strict(&["--max-bad-rows", "2"]).2, 0);
    assert_eq!(strict(&["--max-bad-rows", "1"]).2, 1);
    assert_eq!(strict(&["--max-bad-rows", "66%"]).2, 1);
    assert_eq!(strict(&["--max-bad-rows", "67%"]).2, 0);
    let (_, stderr, code) = strict(&["--max-bad-rows", "lots"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn header_names_match_ignoring_case_and_spaces() {
    let people = |header: &str| format!("{header}\n1,A@example.com,DE,c1\n");
    let args = [
        "hash-csv",
        "--map",
        "email=EMAIL",
        "--country-column",
        "country",
        "--keep",
        "consent",
    ];
    let a = matchkey::sha256_hex("a@example.com");
    for header in [
        "id,email,country,consent",
        "ID,Email,Country,CONSENT",
        "id, EMAIL ,  country,consent ",
        "\u{feff}id,Email,country,consent",
        "\"id\",\" Email \",\"COUNTRY\",\"Consent\"",
    ] {
        let (stdout, stderr, code) = run(&args, people(header).as_bytes());
        assert_eq!(code, 0, "{header}: {stderr}");
        let names: Vec<&str> = header
            .trim_start_matches('\u{feff}')
            .split(',')
            .map(|n| n.trim_matches('"').trim())
            .collect();
        // Output names are the header's own, trimmed.
        assert_eq!(
            stdout,
            format!("{},{},{}\n{a},DE,c1\n", names[1], names[2], names[3]),
            "{header}"
        );
    }

    // `E-mail` is another name: the error lists the header's columns.
    let (_, stderr, code) = run(&args, people("id,E-mail,country,consent").as_bytes());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the CSV header has no column `email` (--map); its columns, read as utf-8 separated by `,`: `id`, `E-mail`, `country`, `consent`"),
        "{stderr}"
    );
    // Two columns that match: an error naming both, unless one is spelled exactly so.
    let text = "id,Email,country,EMAIL ,consent\n1,A@example.com,DE,,c1\n";
    let (_, stderr, code) = run(&args, text.as_bytes());
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "the CSV header has 2 columns that match `email` (--map): `Email` (column 2) and `EMAIL` (column 4)"
        ),
        "{stderr}"
    );
    let text = "id,Email,country,email,consent\n1,x,DE,A@example.com,c\n";
    let (stdout, stderr, code) = run(&args, text.as_bytes());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("country,email,consent\nDE,{a},c\n"));
    // --country-column and --keep name their columns too.
    let (_, stderr, _) = run(&args, people("id,email,land,consent").as_bytes());
    assert!(
        stderr.contains("no column `country` (--country-column)"),
        "{stderr}"
    );
    let (_, stderr, _) = run(&args, people("id,email,country,tcf").as_bytes());
    assert!(stderr.contains("no column `consent` (--keep)"), "{stderr}");
    // A headerless file: the "names" that look like values are not printed.
    let (_, stderr, code) = run(&args, b"jane@example.com,4165550199,DE\n");
    assert_eq!(code, 2);
    assert!(stderr.contains("looks like a value"), "{stderr}");
    assert!(
        !stderr.contains("jane") && !stderr.contains("4165550199"),
        "{stderr}"
    );
}

#[test]
fn exit_codes_say_whether_the_output_can_be_used() {
    let args = ["hash-csv", "--map", "email=EMAIL", "--country", "US"];
    let cases: [(&[u8], i32, &str); 5] = [
        (b"email\na@example.com\n", 0, "1 row read"),
        (b"", 1, "the input is empty: no header row"),
        (
            b"email\n",
            1,
            "no row written: the file has a header and no rows",
        ),
        (
            b"email\nnot an email\n\n",
            1,
            "no row has a usable match key",
        ),
        (b"name\nAnn\n", 2, "no column `email`"),
    ];
    for (input, expected, message) in cases {
        let (_, stderr, code) = run(&args, input);
        assert_eq!(code, expected, "{stderr}");
        assert!(stderr.contains(message), "{message}: {stderr}");
    }
    // Every row refused: nothing written.
    let (_, stderr, code) = run(
        &[
            "hash-csv",
            "--map",
            "email=EMAIL",
            "--country",
            "US",
            "--strict",
            "--max-bad-rows",
            "100%",
        ],
        b"email,name\na@example.com\n",
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no row written: every row was refused"),
        "{stderr}"
    );
    // UTF-16 without a byte-order mark cannot be told from binary: say what to pass.
    let no_bom: Vec<u8> = utf16(PEOPLE, false)[2..].to_vec();
    let (_, stderr, code) = hash_people(&no_bom, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--encoding utf-16le"), "{stderr}");
}

#[test]
fn amc_prepare_reads_the_same_way_and_leaves_no_file_when_refused() {
    let dir = std::env::temp_dir().join(format!("matchkey-csvfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("crm.csv");
    let text = "Kundennummer;Straße;E-Mail;Land;TCF\r\n7;Hauptstraße 1;jose@example.com;DE;CPXxyz\r\n8;Grüner Weg;zoe@example.com;AT\r\n";
    std::fs::write(&file, cp1252(text)).unwrap();
    let prepare = |extra: &[&str]| {
        let mut args = vec![
            "amc",
            "prepare",
            "--file",
            file.to_str().unwrap(),
            "--map",
            "e-mail=EMAIL",
            "--country-column",
            "land",
            "--tcf-column",
            "tcf",
        ];
        args.extend_from_slice(extra);
        run(&args, b"")
    };
    let (_, stderr, code) = prepare(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("windows-1252, separated by `;`"),
        "{stderr}"
    );
    assert!(stderr.contains("short_row: 1 row on line 3"), "{stderr}");
    let csv = std::fs::read_to_string(dir.join("crm.amc.csv")).unwrap();
    let jose = matchkey::sha256_hex("jose@example.com");
    let zoe = matchkey::sha256_hex("zoe@example.com");
    assert_eq!(
        csv,
        format!("E-Mail,Land,TCF\n{jose},DE,CPXxyz\n{zoe},AT,\n")
    );
    let definition = std::fs::read_to_string(dir.join("crm.amc.dataset.json")).unwrap();
    assert!(
        definition.contains("\"consentType\": \"TCF\""),
        "{definition}"
    );

    for p in ["crm.amc.csv", "crm.amc.dataset.json"] {
        std::fs::remove_file(dir.join(p)).unwrap();
    }
    let (_, stderr, code) = prepare(&["--strict"]);
    assert_eq!(code, 1, "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["crm.csv"], "a refused run leaves nothing to upload");
    assert_private(&stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Streams `megabytes` of a generated Windows-1252, semicolon, CRLF file (a short row in
/// every 1,000) into `hash-csv` and returns (rows, peak RSS in KiB, seconds).
fn stream(megabytes: u64) -> (u64, u64, f64) {
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_matchkey"))
        .args([
            "hash-csv",
            "--map",
            "E-Mail=EMAIL,Vorname=FIRST_NAME",
            "--country",
            "DE",
            "--keep",
            "id",
            "--max-bad-rows",
            "0",
            // The pool of hashing threads: at most two chunks per thread in flight.
            "--threads",
            "2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0u64;
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break lines;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"id;Vorname;E-Mail;Ort\r\n").unwrap();
    let target = megabytes << 20;
    let (mut written, mut rows, mut peak) = (0u64, 0u64, 0u64);
    let mut block = Vec::with_capacity(1 << 20);
    while written < target {
        block.clear();
        while block.len() < (1 << 20) - 100 {
            rows += 1;
            // `Jürgen` and `Köln` in Windows-1252.
            block.extend_from_slice(format!("{rows};J").as_bytes());
            if rows % 1000 == 0 {
                block.extend_from_slice(b"\xfcrgen\r\n");
            } else {
                block.extend_from_slice(b"\xfcrgen;");
                block.extend_from_slice(format!("kunde.{rows}@example.de;K").as_bytes());
                block.extend_from_slice(b"\xf6ln\r\n");
            }
        }
        stdin.write_all(&block).unwrap();
        written += block.len() as u64;
        peak = peak.max(peak_rss_kib(pid));
    }
    peak = peak.max(peak_rss_kib(pid));
    drop(stdin);
    let lines = counter.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(lines, rows + 1, "every row written");
    assert!(
        stderr.contains(&format!("warning short_row: {} rows", rows / 1000)),
        "{stderr}"
    );
    (rows, peak, started.elapsed().as_secs_f64())
}

/// The process's peak resident memory so far (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// 48 MiB (debug build, a few seconds): the peak stays far below the input's size.
#[test]
fn a_large_input_streams_in_bounded_memory() {
    let (rows, peak_kib, seconds) = stream(48);
    eprintln!("48 MiB, {rows} rows: peak RSS {peak_kib} KiB, {seconds:.1} s");
    assert!(peak_kib > 0, "VmHWM read");
    assert!(
        peak_kib < 32 << 10,
        "peak RSS {peak_kib} KiB for 48 MiB of input"
    );
}

/// The 1 GB (`cargo test --release --test csv_files -- --ignored`; CI runs
/// `scripts/bench-csv.sh` instead, which measures the same with the release binary).
#[test]
#[ignore = "1 GiB: run in release"]
fn a_gigabyte_streams_in_bounded_memory() {
    let (rows, peak_kib, seconds) = stream(1024);
    eprintln!("1 GiB, {rows} rows: peak RSS {peak_kib} KiB, {seconds:.1} s");
    assert!(
        peak_kib < 32 << 10,
        "peak RSS {peak_kib} KiB for 1 GiB of input"
    );
}

/// `rows` generated rows in many shapes: valid and rejected values, rows with an invalid
/// or empty country, short and long rows, quoted cells with delimiters and line breaks,
/// blank lines, and non-ASCII names (`sep` between cells, CRLF line ends).
fn varied_rows(rows: usize, sep: char) -> String {
    let mut text = format!("id{sep}Email{sep}Phone{sep}First{sep}Zip{sep}Country\r\n");
    let countries = ["US", "DE", "fr", "UK", "", "XX", "en-GB", "CA"];
    for i in 0..rows {
        let country = countries[i % countries.len()];
        let email = match i % 7 {
            0 => "not-an-email".to_owned(),
            1 => String::new(),
            _ => format!(" User.{i}@Example.COM "),
        };
        let phone = match i % 5 {
            0 => "12".to_owned(),
            _ => format!("(415) 555-{:04}", i % 10_000),
        };
        let first = ["Jürgen", "Zoë", "Anne-Marie", "", "José"][i % 5];
        let zip = format!("{:05}", (i * 7919) % 100_000);
        match i % 97 {
            0 => text.push_str(&format!("{i}{sep}{email}\r\n")),
            1 => text.push_str(&format!(
                "{i}{sep}{email}{sep}{phone}{sep}{first}{sep}{zip}{sep}{country}{sep}extra\r\n"
            )),
            2 => text.push_str(&format!(
                "{i}{sep}\"{email}\"{sep}\"{phone}\r\n{sep}x\"{sep}{first}{sep}{zip}{sep}{country}\r\n\r\n"
            )),
            _ => text.push_str(&format!(
                "{i}{sep}{email}{sep}{phone}{sep}{first}{sep}{zip}{sep}{country}\r\n"
            )),
        }
    }
    text
}

/// `--threads 2` and `--threads 3` write the same bytes and the same summary as
/// `--threads 1`, for UTF-8, Windows-1252 (with an undecodable row) and UTF-16 input
/// spanning many chunks.
#[test]
fn threads_write_the_same_bytes_as_one_thread() {
    let rows = 10_000;
    let utf8 = varied_rows(rows, ',').into_bytes();
    let mut stray = varied_rows(rows, ',').into_bytes();
    // A byte that is not UTF-8 in a late row: that row is refused, by line.
    let at = stray.len() - 200;
    stray[at] = 0xFF;
    let mut cp = cp1252(&varied_rows(rows, ';'));
    let at = cp.len() / 2;
    // 0x81 is not a Windows-1252 character.
    cp[at] = 0x81;
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in varied_rows(rows, '\t').encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let files: [(&str, &[u8]); 4] = [
        ("utf-8", &utf8),
        ("utf-8 with a stray byte", &stray),
        ("windows-1252", &cp),
        ("utf-16le", &utf16),
    ];
    let column_country = [
        "--map",
        "Email=EMAIL,Phone=PHONE,First=FIRST_NAME,Zip=POSTAL",
        "--country-column",
        "country",
        "--keep",
        "id",
        "--max-bad-rows",
        "10",
    ];
    let fixed_country = [
        "--map",
        "Email=EMAIL,Zip=POSTAL",
        "--country",
        "US",
        "--max-bad-rows",
        "10",
    ];
    for (name, bytes) in files {
        for mapping in [&column_country[..], &fixed_country[..]] {
            let one = run(&[&["hash-csv", "--threads", "1"], mapping].concat(), bytes);
            assert_eq!(one.2, 0, "{name}: {}", one.1);
            assert!(one.0.lines().count() > rows - 10, "{name}");
            assert!(one.1.contains("short_row"), "{name}: {}", one.1);
            assert!(one.1.contains("rejected"), "{name}: {}", one.1);
            for threads in ["2", "3"] {
                let many = run(
                    &[&["hash-csv", "--threads", threads], mapping].concat(),
                    bytes,
                );
                assert!(
                    one.0 == many.0,
                    "{name}: --threads {threads} wrote other bytes"
                );
                assert_eq!(one.1, many.1, "{name}: --threads {threads}");
                assert_eq!(one.2, many.2, "{name}: --threads {threads}");
            }
        }
    }
    // A refused run (more bad rows than allowed) fails the same way.
    let one = run(
        &[
            "hash-csv",
            "--threads",
            "1",
            "--map",
            "Email=EMAIL",
            "--country",
            "US",
        ],
        &stray,
    );
    let two = run(
        &[
            "hash-csv",
            "--threads",
            "2",
            "--map",
            "Email=EMAIL",
            "--country",
            "US",
        ],
        &stray,
    );
    assert_eq!(one.2, 1, "{}", one.1);
    assert_eq!((one.1, one.2), (two.1, two.2));
}

/// `amc prepare` writes the same upload file and definition with any thread count.
#[test]
fn amc_prepare_is_the_same_with_threads() {
    let dir = std::env::temp_dir().join(format!("matchkey-amc-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("customers.csv");
    std::fs::write(&input, cp1252(&varied_rows(9_000, ';'))).unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = dir.join(format!("out-{threads}.csv"));
        let definition = dir.join(format!("def-{threads}.json"));
        let (_, stderr, code) = run(
            &[
                "amc",
                "prepare",
                "--file",
                input.to_str().unwrap(),
                "--map",
                "Email=EMAIL,Phone=PHONE,Zip=POSTAL",
                "--country",
                "US",
                "--keep",
                "id",
                "--threads",
                threads,
                "--out",
                out.to_str().unwrap(),
                "--definition",
                definition.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(code, 0, "{stderr}");
        let summary = stderr
            .lines()
            .filter(|l| !l.starts_with("wrote "))
            .collect::<Vec<_>>()
            .join("\n");
        outputs.push((
            std::fs::read(&out).unwrap(),
            std::fs::read(&definition).unwrap(),
            summary,
        ));
    }
    assert!(outputs[0].0.len() > 9_000 * 64);
    assert!(outputs[1] == outputs[0] && outputs[2] == outputs[0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The console's file page writes rows with the library's `csv_rows` (the wasm build of
/// it): the binary's output equals the library's row function run on the same file's
/// records, mapped, kept and country columns, rejects and short rows included.
#[test]
fn the_binary_and_the_library_row_function_agree() {
    use matchkey::csv_rows::{Plan, RowCountry, RowCounts, RowWriter};
    use matchkey::{Field, Normalizer};
    let mut input = String::from("id,email,phone,first,street,state,zip,country,note\n");
    let cells = [
        [
            "1",
            "Ada@Example.com ",
            "(555) 010-2030",
            "José",
            "1 Main St.",
            "California",
            "94105-1234",
            "us",
            "a,b",
        ],
        [
            "2",
            "nope",
            "12",
            "Zoe\u{308}",
            "",
            "XX",
            "1",
            "uk",
            "\"q\"",
        ],
        [
            "3",
            "",
            "+44 20 7946 0958",
            "ÅSA",
            "10 Downing Street",
            "",
            "SW1A 2AA",
            "GB",
            "",
        ],
        [
            "4",
            "b@c.de",
            "030 1234567",
            "Łukasz",
            "Hauptstraße 1",
            "Berlin",
            "10115",
            "xx",
            "multi\nline",
        ],
    ];
    for round in 0..50 {
        for row in &cells {
            let quoted: Vec<String> = row
                .iter()
                .map(|c| {
                    if c.contains([',', '"', '\n']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        (*c).to_owned()
                    }
                })
                .collect();
            input.push_str(&quoted.join(","));
            input.push('\n');
        }
        if round % 10 == 0 {
            input.push_str(&format!("short{round},x@y.z\n"));
        }
    }
    let (out, err, code) = run(
        &[
            "hash-csv",
            "--map",
            "email=EMAIL,phone=PHONE,first=FIRST_NAME,street=ADDRESS,state=STATE,zip=POSTAL",
            "--country-column",
            "country",
            "--keep",
            "id,note",
            "--threads",
            "2",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");

    let map = [
        (1, Field::Email),
        (2, Field::Phone),
        (3, Field::FirstName),
        (4, Field::Address),
        (5, Field::State),
        (6, Field::Postal),
    ];
    let plan = Plan::new(9, &map, RowCountry::Column(7), &[0, 8]).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input.as_bytes());
    let mut records = reader.records().map(Result::unwrap);
    let header = records.next().unwrap();
    let mut want = Vec::new();
    plan.write_header(|i| &header[i], &mut want);
    let (mut rows, mut normalizer, mut counts) =
        (RowWriter::new(), Normalizer::new(), RowCounts::default());
    for record in records {
        rows.write_row(
            &plan,
            |i| record.get(i).unwrap_or_default(),
            |_, v| std::borrow::Cow::Borrowed(v),
            &mut normalizer,
            &mut counts,
            &mut want,
        );
    }
    assert_eq!(out, String::from_utf8(want).unwrap());
    assert_eq!(counts.rows, 205);
    assert!(counts.rejects.len() >= 4, "{:?}", counts.rejects);
}
