//! The endpoint table of `worker/README.md` cannot drift from the router silently: every
//! method and path it lists must reach a route (not 404, not 405) in `route::route`.

use matchkey_worker::route::{Route, route};

/// A documented path made concrete: placeholders filled, the query cut.
fn concrete(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|s| match s {
            "{id}" => "id_1",
            "{name}" => "newsletter",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The (method, path) pairs of the README's "Endpoints" table. A cell is a list of code
/// spans: `GET`, `POST /v1/x` (methods, the last one with its path; `GET /a`, `POST /b`
/// is one each), then `/y` (another path for the same methods: a full path, or one
/// segment replacing the last of the previous path, as in `…/disable`, `/enable`).
fn documented(readme: &str) -> Vec<(String, String)> {
    let table = readme
        .split("\n## Endpoints\n")
        .nth(1)
        .expect("worker/README.md has an Endpoints section");
    let table = table.split("\n## ").next().unwrap_or_default();
    let mut out = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cell = row.split('|').nth(1).unwrap_or_default();
        let spans: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        // Methods without a path wait for the next span's path; a span's own method ends
        // that list, and paths after it (without a method) take the same methods.
        let (mut pending, mut methods, mut last) = (Vec::new(), Vec::new(), String::new());
        for span in spans {
            let mut words = span.split_whitespace();
            let first = words.next().unwrap_or_default();
            let path = if first.starts_with('/') {
                let one_segment = first.matches('/').count() == 1;
                if one_segment && last.matches('/').count() > 2 && !first.starts_with("/console") {
                    format!("{}{first}", &last[..last.rfind('/').unwrap_or(0)])
                } else {
                    first.to_owned()
                }
            } else {
                pending.push(first.to_owned());
                match words.next() {
                    Some(p) => {
                        methods = std::mem::take(&mut pending);
                        p.to_owned()
                    }
                    None => continue,
                }
            };
            if path.contains('…') || path == "*" {
                continue;
            }
            for m in &methods {
                out.push((m.clone(), concrete(&path)));
            }
            last = path;
        }
    }
    out
}

#[test]
fn every_documented_endpoint_reaches_a_route() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("worker/README.md");
    let endpoints = documented(&readme);
    assert!(
        endpoints.len() > 30,
        "{} endpoints read from the table",
        endpoints.len()
    );
    let unrouted: Vec<String> = endpoints
        .iter()
        .filter(|(m, p)| matches!(route(m, p), Route::NotFound | Route::MethodNotAllowed(_)))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn the_table_reader_fills_placeholders_and_relative_segments() {
    let readme = "\n## Endpoints\n\n| endpoint | who |\n|---|---|\n\
        | `GET`, `POST /v1/admin/integrations/{id}?x=1` | a |\n\
        | `POST /v1/admin/integrations/{id}/disable`, `/enable` | b |\n\
        | `GET /v1/s`, `POST /v1/s/{id}/revoke` | c |\n\
        | `OPTIONS *` | c |\n\n## Next\n| `GET /not/read` | d |\n";
    assert_eq!(
        documented(readme),
        [
            ("GET", "/v1/admin/integrations/id_1"),
            ("POST", "/v1/admin/integrations/id_1"),
            ("POST", "/v1/admin/integrations/id_1/disable"),
            ("POST", "/v1/admin/integrations/id_1/enable"),
            ("GET", "/v1/s"),
            ("POST", "/v1/s/id_1/revoke"),
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
    assert!(matches!(route("GET", "/nowhere"), Route::NotFound));
}
