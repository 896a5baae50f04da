//! `matchkey hash`: JSON lines in, JSON lines out, one for one and in order.

use std::borrow::Cow;
use std::io::{BufRead, Write};

use anyhow::Context;
use matchkey::{Country, Field, Normalizer};
use serde::{Deserialize, Serialize};

pub(crate) const EXAMPLES: &str = r#"Each input line is {"field": "EMAIL", "country": "US", "input": "..."}.
Each output line is {"normalized": "...", "sha256": "<64 hex>"} (sha256 is null for MAID,
RAMP_ID and MATCH_ID, which Amazon takes unhashed), or {"error": "<reason code>"}.
A line that is not JSON or lacks a key gives {"error": "bad_request"}; processing goes on.

Examples:
  echo '{"field":"EMAIL","country":"US","input":" Jane.Doe@Example.com"}' | matchkey hash
  {"normalized":"jane.doe@example.com","sha256":"…"}

  echo '{"field":"PHONE","country":"GB","input":"07911 123456"}' | matchkey hash
  {"normalized":"447911123456","sha256":"…"}"#;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    field: Cow<'a, str>,
    #[serde(borrow)]
    country: Cow<'a, str>,
    #[serde(borrow)]
    input: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Response<'a> {
    Ok {
        normalized: &'a str,
        sha256: Option<matchkey::Sha256Hex>,
    },
    Err {
        error: &'static str,
    },
}

/// Reads `input` to its end, answering each line on `output`.
pub(crate) fn run(mut input: impl BufRead, output: impl Write) -> anyhow::Result<()> {
    let mut output = std::io::BufWriter::new(output);
    let mut normalizer = Normalizer::new();
    // Bytes, not a String: a line that is not UTF-8 is a bad request, not the end of input.
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        line_no += 1;
        let n = input
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading stdin at line {line_no}"))?;
        if n == 0 {
            break;
        }
        let response = answer(&mut normalizer, line.trim_ascii_end());
        serde_json::to_writer(&mut output, &response)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}

fn answer<'n>(normalizer: &'n mut Normalizer, line: &[u8]) -> Response<'n> {
    let Ok(request) = serde_json::from_slice::<Request<'_>>(line) else {
        return Response::Err {
            error: "bad_request",
        };
    };
    let parsed = request
        .field
        .parse::<Field>()
        .and_then(|field| Ok((field, Country::parse(&request.country)?)));
    let res =
        parsed.and_then(|(field, country)| normalizer.process(field, &request.input, country));
    match res {
        Ok(out) => Response::Ok {
            normalized: out.normalized,
            sha256: out.sha256,
        },
        Err(reject) => Response::Err {
            error: reject.code(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(input: &str) -> String {
        let mut out = Vec::new();
        run(input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_line_out_per_line_in() {
        let out = run_str(concat!(
            "{\"field\":\"EMAIL\",\"country\":\"US\",\"input\":\"abc@example.com\"}\n",
            "not json\n",
            "{\"field\":\"EMAIL\",\"country\":\"US\"}\n",
            "{\"field\":\"NICK\",\"country\":\"US\",\"input\":\"x\"}\n",
            "{\"field\":\"EMAIL\",\"country\":\"USA\",\"input\":\"x\"}\n",
            "{\"field\":\"MAID\",\"country\":\"US\",\"input\":\"6D92078A-8246-4BA4-AE5B-76104861E7DC\"}",
        ));
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"normalized":"abc@example.com","sha256":"9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21"}"#,
                r#"{"error":"bad_request"}"#,
                r#"{"error":"bad_request"}"#,
                r#"{"error":"unknown_field"}"#,
                r#"{"error":"invalid_country"}"#,
                r#"{"normalized":"6d92078a-8246-4ba4-ae5b-76104861e7dc","sha256":null}"#,
            ]
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_a_bad_request_and_reading_goes_on() {
        let mut input =
            b"{\"field\":\"EMAIL\",\"country\":\"US\",\"input\":\"a\xff@b.c\"}\n".to_vec();
        input.extend_from_slice(b"{\"field\":\"CITY\",\"country\":\"US\",\"input\":\"Rome\"}\n");
        let mut out = Vec::new();
        run(&input[..], &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines[0], r#"{"error":"bad_request"}"#);
        assert!(lines[1].starts_with(r#"{"normalized":"rome""#), "{out}");
    }

    #[test]
    fn escaped_json_input_is_read() {
        let out = run_str("{\"field\":\"CITY\",\"country\":\"DE\",\"input\":\"M\\u00fcnchen\"}\n");
        assert!(out.starts_with(r#"{"normalized":"mnchen""#), "{out}");
    }
}
