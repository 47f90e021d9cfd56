//! `abovo serve` in a real headless Chromium, driven through chromedriver
//! over WebDriver's HTTP protocol (ureq, no WebDriver crate), on the
//! built-in Guix 1.5.0 snapshot, at 1,280 × 800: search "pytorch" and
//! follow the suggestion; every seed label of its trust graph fully
//! visible; GHC 7.8.4's binary on pandoc's page on screen without
//! scrolling; a node clicked shows its builder; a bar of the audit chart
//! leads to a package page; against the Guix 1.2.0 slice
//! (`ABOVO_GUIX_SLICE`), the diff page shows a seed that came or went and
//! links to the page of a package whose trust base it changed, and a
//! package's diff shows a changed seed and links a seed to its node in the
//! trust graph. Screenshots go to
//! `target/serve-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them the test says so in one line and passes.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_serve_support;

use cli_serve_support::Serve;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

/// A chromedriver process and one browser session, ended when dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    /// chromedriver's TMPDIR: Chromium's profile directories
    /// (`org.chromium.Chromium.scoped_dir.*`, two per run, which the
    /// session's end leaves) go with the test instead of piling up in /tmp.
    _scratch: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let scratch = tempfile::tempdir().unwrap();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .env("TMPDIR", scratch.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _scratch: scratch,
        };
        let t = Instant::now();
        while b.agent.get(&format!("{}/status", b.base)).call().is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,800",
                         "--hide-scrollbars=false", "--force-device-scale-factor=1"]
            }
        }}});
        let v = b.post("/session", caps);
        b.session = v["sessionId"].as_str().unwrap().to_owned();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path.starts_with("/session") && !self.session.is_empty() {
            format!(
                "{}/session/{}{}",
                self.base,
                self.session,
                &path["/session".len()..]
            )
        } else {
            format!("{}{path}", self.base)
        };
        let mut r = match (method, body) {
            ("GET", _) => self.agent.get(&url).call().unwrap(),
            ("DELETE", _) => self.agent.delete(&url).call().unwrap(),
            (_, b) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.unwrap_or(json!({})).to_string())
                .unwrap(),
        };
        let text = r
            .body_mut()
            .with_config()
            .limit(1 << 28)
            .read_to_string()
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Some(e) = v["value"].get("error") {
            panic!("WebDriver {method} {path}: {e} {}", v["value"]["message"]);
        }
        if path == "/session" && method == "POST" {
            return v["value"].clone();
        }
        v["value"].clone()
    }

    /// Makes the viewport 1280 × 800 exactly.
    fn viewport_1280_800(&self) {
        let size = self.js("return [window.innerWidth, window.innerHeight];");
        if size != json!([1280, 800]) {
            // --window-size is the window's, not the viewport's, in some
            // versions.
            let outer = self.js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];");
            let (dw, dh) = (outer[0].as_i64().unwrap(), outer[1].as_i64().unwrap());
            self.post(
                "/session/window/rect",
                json!({"width": 1280 + dw, "height": 800 + dh}),
            );
        }
        assert_eq!(
            self.js("return [window.innerWidth, window.innerHeight];"),
            json!([1280, 800])
        );
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(body))
    }

    fn go(&self, url: &str) {
        self.post("/session/url", json!({ "url": url }));
    }

    fn js(&self, script: &str) -> Value {
        self.post(
            "/session/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Waits until `script` returns something truthy, and returns it.
    fn wait(&self, what: &str, script: &str) -> Value {
        let t = Instant::now();
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == json!(false) || v == json!([]) || v == json!("")) {
                return v;
            }
            if t.elapsed() > Duration::from_secs(30) {
                self.screenshot("timeout");
                panic!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.post(
            "/session/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.post(&format!("/session/element/{e}/click"), json!({}));
    }

    fn screenshot(&self, name: &str) {
        let v = self.call("GET", "/session/screenshot", None);
        let png = data_encoding::BASE64
            .decode(v.as_str().unwrap().as_bytes())
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/serve-screenshots`, next to the target's `tmp`.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("serve-screenshots")
}

/// The seed labels of the graph on the page, with their boxes and the
/// graph area's and viewport's, measured by the browser.
const LABELS: &str = r#"
const svg = document.querySelector('#graph svg');
const area = svg.getBoundingClientRect();
return {
  area: [area.left, area.top, area.right, area.bottom],
  viewport: [window.innerWidth, window.innerHeight, window.scrollX, window.scrollY,
             document.documentElement.scrollWidth],
  labels: [...svg.querySelectorAll('text.seed-label')].map((t) => {
    const r = t.getBoundingClientRect();
    const box = t.parentNode.querySelector('rect').getBoundingClientRect();
    return { text: t.textContent, id: t.parentNode.getAttribute('data-id'),
             drawn: t.getComputedTextLength(), full: t.getSubStringLength(0, t.textContent.length),
             box: [r.left, r.top, r.right, r.bottom], node: [box.left, box.top, box.right, box.bottom] };
  }),
};"#;

fn inside(inner: &Value, outer: &Value) -> bool {
    let f = |v: &Value, i: usize| v[i].as_f64().unwrap();
    f(inner, 0) >= f(outer, 0) - 0.5
        && f(inner, 1) >= f(outer, 1) - 0.5
        && f(inner, 2) <= f(outer, 2) + 0.5
        && f(inner, 3) <= f(outer, 3) + 0.5
}

/// Every label: the seed's whole name, drawn whole, inside its node and
/// inside the graph area.
fn check_labels(measured: &Value, want: &[String]) {
    let labels = measured["labels"].as_array().unwrap();
    let mut texts: Vec<String> = labels
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(texts, want, "the graph draws one node per seed shown");
    for l in labels {
        let (drawn, full) = (l["drawn"].as_f64().unwrap(), l["full"].as_f64().unwrap());
        assert!(drawn > 0.0 && (drawn - full).abs() < 0.5, "{l}: cut");
        assert!(
            inside(&l["box"], &l["node"]),
            "{l}: the text leaves its node"
        );
        assert!(
            inside(&l["box"], &measured["area"]),
            "{l}: outside the graph area {}",
            measured["area"]
        );
    }
}

/// `/api/derivation?path=DRV`'s answer.
fn recipe(serve: &Serve, drv: &str) -> Value {
    let answer = serve.get(&format!("/api/derivation?path={}", drv.replace('/', "%2F")));
    assert_eq!(answer.0, 200, "{drv}");
    serde_json::from_slice(&answer.2).unwrap()
}

/// One Chromium at a time: the tests would otherwise share two cores (and
/// the render times they print would say little).
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Chromium and chromedriver, or why the test is skipped.
fn chromium() -> Option<(PathBuf, PathBuf)> {
    let found = (
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
        find_program(&["chromedriver"]),
    );
    if let (Some(chromium), Some(chromedriver)) = found {
        return Some((chromium, chromedriver));
    }
    println!(
        "skipped: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
    );
    None
}

#[test]
fn the_explorer_in_a_real_chromium() {
    let Some((chromium, chromedriver)) = chromium() else {
        return;
    };
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let serve = Serve::start(&[]);
    let browser = Browser::start(&chromium, &chromedriver);
    browser.viewport_1280_800();

    // Search "pytorch", follow the suggestion.
    browser.go(&serve.url("/"));
    browser.wait("the search box", "return document.getElementById('search')");
    let input = browser.element("#search");
    browser.post(
        &format!("/session/element/{input}/value"),
        json!({"text": "pytorch"}),
    );
    let first = browser.wait(
        "suggestions",
        "const a = document.querySelector('#suggestions a'); return a && a.textContent;",
    );
    assert!(
        first.as_str().unwrap().starts_with("python-pytorch 2.9.0"),
        "{first}"
    );
    browser.screenshot("1-search-pytorch");
    browser.click("#suggestions li:first-child a");
    let path = browser.wait(
        "the package page",
        "return location.pathname.startsWith('/package/') && document.querySelector('#graph svg') && location.pathname",
    );
    assert_eq!(path, "/package/python-pytorch%402.9.0");
    let ms = browser.wait("the render time", "return window.abovoTimings.trustGraph");
    let ms = ms.as_f64().unwrap();
    println!("pytorch's trust graph rendered in {ms:.0} ms (fetch, parse, layout, draw)");
    assert!(ms < 5000.0, "{ms} ms");
    browser.screenshot("2-pytorch-trust-graph");

    // Every seed label is whole and in view: the seeds drawn are the
    // binary and source-with-binaries ones of `abovo seeds`.
    let report: Value =
        serde_json::from_slice(&serve.get("/api/seeds/python-pytorch@2.9.0").2).unwrap();
    let shown = |r: &Value| -> Vec<String> {
        r["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| ["binary", "source-with-binaries"].contains(&s["kind"].as_str().unwrap()))
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let want = shown(&report);
    assert!(want.len() >= 7, "{want:?}");
    check_labels(&browser.js(LABELS), &want);

    // Every kind of seed drawn (2,717 for pytorch): every label still
    // whole and inside its node (most are then beyond the area, to pan to).
    browser.go(&serve.url(
        "/package/python-pytorch@2.9.0?kinds=binary,source-with-binaries,generated,source,unknown",
    ));
    let ms = browser.wait(
        "the whole graph",
        "return document.querySelector('#graph svg') && window.abovoTimings.trustGraph",
    );
    println!(
        "pytorch's graph with all {} seeds rendered in {:.0} ms",
        report["seeds"].as_array().unwrap().len(),
        ms.as_f64().unwrap()
    );
    let all = browser.js(LABELS);
    let labels = all["labels"].as_array().unwrap();
    assert_eq!(labels.len(), report["seeds"].as_array().unwrap().len());
    for l in labels {
        let (drawn, full) = (l["drawn"].as_f64().unwrap(), l["full"].as_f64().unwrap());
        assert!(drawn > 0.0 && (drawn - full).abs() < 0.5, "{l}: cut");
        assert!(
            inside(&l["box"], &l["node"]),
            "{l}: the text leaves its node"
        );
    }
    browser.screenshot("2b-pytorch-all-seeds");

    // Pandoc: GHC 7.8.4's binary is on screen without scrolling.
    browser.go(&serve.url("/package/pandoc"));
    browser.wait(
        "pandoc's graph",
        "return document.querySelector('#graph svg text.seed-label')",
    );
    browser.screenshot("3-pandoc-trust-graph");
    let m = browser.js(LABELS);
    let report: Value = serde_json::from_slice(&serve.get("/api/seeds/pandoc").2).unwrap();
    check_labels(&m, &shown(&report));
    let ghc = m["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["text"].as_str().unwrap().starts_with("ghc-7.8.4-x86_64"))
        .expect("GHC 7.8.4's binary in pandoc's graph")
        .clone();
    let vp = &m["viewport"];
    assert_eq!(
        (vp[2].as_f64(), vp[3].as_f64()),
        (Some(0.0), Some(0.0)),
        "not scrolled"
    );
    assert!(
        vp[4].as_f64().unwrap() <= 1280.0,
        "no horizontal scrollbar: {vp}"
    );
    let screen = json!([0, 0, 1280, 800]);
    assert!(
        inside(&ghc["box"], &screen),
        "GHC's label {} is off screen",
        ghc["box"]
    );

    // Click a node: its builder, as `abovo show --derivation` says.
    let node = "g.node[data-id$='-guile-bootstrap-2.0.drv'] text.label";
    browser.click(node);
    let builder = browser.wait(
        "the builder",
        "const b = document.querySelector('#details dd.builder'); return b && b.textContent;",
    );
    let drv = browser.js(&format!(
        "return document.querySelector(\"{}\").parentNode.getAttribute('data-id');",
        node
    ));
    let recipe = recipe(&serve, drv.as_str().unwrap());
    assert_eq!(
        builder, recipe["builder"],
        "the builder shown is the recipe's"
    );
    assert!(
        browser
            .js("return location.search")
            .as_str()
            .unwrap()
            .contains("node="),
        "the URL keeps the node"
    );
    browser.screenshot("4-pandoc-node-clicked");

    // The audit chart's bars lead to package pages.
    browser.go(&serve.url("/audit"));
    browser.wait(
        "the audit charts",
        "return document.querySelector('svg.bars a.bar-link')",
    );
    browser.screenshot("5-audit");
    let href =
        browser.js("return document.querySelector('svg.bars a.bar-link').getAttribute('href');");
    browser.click("svg.bars a.bar-link text");
    let path = browser.wait(
        "a package page from the chart",
        "return location.pathname.startsWith('/package/') && document.querySelector('#graph svg') && location.pathname",
    );
    assert_eq!(path, href);
    browser.screenshot("6-from-the-audit-chart");
    // A hostile name shows as text, and no script of its runs.
    browser.go(&serve.url("/package/%3Cimg%20src%3Dx%20onerror%3D%22window.pwned%3D1%22%3E"));
    browser.wait("the error", "return document.querySelector('#view .error')");
    assert_eq!(
        browser.js("return window.pwned === undefined && !document.querySelector('#view img');"),
        json!(true)
    );
}

/// The diff view, `abovo serve --against` the Guix 1.2.0 slice: the
/// distribution's diff shows a binary seed that came or went, and a
/// package whose trust base it changed links to that package's page;
/// hello's diff shows its tarball changed and stage0-posix 1.6.0 added,
/// whose link selects that seed in hello's trust graph.
#[test]
fn the_diff_view_in_a_real_chromium() {
    let Ok(slice) = std::env::var("ABOVO_GUIX_SLICE") else {
        println!("skipped: ABOVO_GUIX_SLICE is not set (the Guix 1.2.0 slice)");
        return;
    };
    let Some((chromium, chromedriver)) = chromium() else {
        return;
    };
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let serve = Serve::start(&["--against", &slice]);
    let browser = Browser::start(&chromium, &chromedriver);
    browser.viewport_1280_800();

    // A binary seed that came or went, and changed some package's trust
    // base, from the JSON (between 1.2.0 and 1.5.0 none is `changed`: the
    // Mes binaries went, stage0-posix came).
    let diff: Value = serde_json::from_slice(&serve.get("/api/diff").2).unwrap();
    let under = |id: &Value| {
        diff["packages"].as_array().unwrap().iter().any(|p| {
            ["gained", "lost"]
                .iter()
                .any(|side| p[side].as_array().unwrap().iter().any(|s| &s["seed"] == id))
        })
    };
    let seed = diff["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["change"] != "unchanged" && under(&s["id"]))
        .expect("a binary seed added or removed under a package");
    let change = seed["change"].as_str().unwrap();
    let want = seed.get("new").unwrap_or(&seed["old"])["label"]
        .as_str()
        .unwrap()
        .to_owned();

    browser.go(&serve.url("/diff"));
    browser.wait(
        "the diff's seeds",
        "return document.querySelector('#diff-seeds tr.seed-row')",
    );
    let shown = browser.js(&format!(
        "return [...document.querySelectorAll('#diff-seeds tr.seed-row[data-change={change}] .seed-name')].map((e) => e.textContent);"
    ));
    assert!(
        shown.as_array().unwrap().iter().any(|t| t == &json!(want)),
        "the {change} seed `{want}` is not shown: {shown}"
    );
    browser.screenshot("7-diff");
    // Unchanged seeds are listed on demand, and the URL keeps the choice.
    let unchanged =
        "return document.querySelectorAll('#diff-seeds tr[data-change=unchanged]').length";
    assert_eq!(browser.js(unchanged), json!(0));
    browser.click("#changes-unchanged");
    let rows = browser.wait(
        "the unchanged seeds",
        "const n = document.querySelectorAll('#diff-seeds tr[data-change=unchanged]').length; return n > 0 && n;",
    );
    assert_eq!(
        rows.as_u64().unwrap() as usize,
        diff["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["change"] == "unchanged")
            .count()
    );
    assert_eq!(
        browser.js("return location.search"),
        json!("?changes=added%2Cremoved%2Cchanged%2Cunchanged")
    );
    // Follow the first package whose trust base it changed to its page.
    let href = browser.js(&format!(
        "const row = [...document.querySelectorAll('#diff-seeds tr.seed-row')].find((r) => r.querySelector('.seed-name').textContent === {});
         const a = row.querySelector('a.pkg'); a.id = 'under-changed-seed'; return a.getAttribute('href');",
        json!(want)
    ));
    assert!(href.as_str().unwrap().starts_with("/package/"), "{href}");
    browser.click("#under-changed-seed");
    let path = browser.wait(
        "a package page from the diff",
        "return location.pathname.startsWith('/package/') && document.querySelector('#graph svg') && location.pathname",
    );
    assert_eq!(path, href);
    assert!(
        browser.js("return document.querySelector('a.diff-link') !== null") == json!(true),
        "the package page links to its diff"
    );
    browser.screenshot("8-from-the-diff");

    // hello's diff, with its source seeds too: its tarball changed
    // (2.10 → 2.12.2), stage0-posix 1.6.0 added, linked to its node.
    browser.go(&serve.url("/diff/hello?kinds=binary,source-with-binaries,source"));
    browser.wait(
        "hello's diff",
        "return document.querySelector('#diff-seeds tr.seed-row')",
    );
    browser.screenshot("9-hello-diff");
    let changed = browser.js(
        "return [...document.querySelectorAll('#diff-seeds tr.seed-row[data-change=changed] .seed-name')].map((e) => e.textContent);",
    );
    assert!(
        changed
            .as_array()
            .unwrap()
            .contains(&json!("hello-2.10.tar.gz → hello-2.12.2.tar.gz")),
        "{changed}"
    );
    let added = browser.js(
        "return [...document.querySelectorAll('#diff-seeds tr.seed-row[data-change=added] a.seed-link')].map((a) => a.textContent);",
    );
    assert!(
        added
            .as_array()
            .unwrap()
            .contains(&json!("stage0-posix-1.6.0.tar.gz")),
        "{added}"
    );
    browser.js(
        "[...document.querySelectorAll('#diff-seeds a.seed-link')].find((a) => a.textContent === 'stage0-posix-1.6.0.tar.gz').id = 'stage0';",
    );
    browser.click("#stage0");
    let selected = browser.wait(
        "the seed selected in hello's graph",
        "const h = document.querySelector('#details h2'); return location.pathname === '/package/hello' && h && h.textContent;",
    );
    assert_eq!(selected, json!("stage0-posix-1.6.0.tar.gz"));
    assert!(
        browser
            .js("return new URLSearchParams(location.search).get('node')")
            .as_str()
            .unwrap()
            .ends_with("-stage0-posix-1.6.0.tar.gz.drv"),
        "the URL names the node"
    );
    browser.screenshot("10-hello-seed-from-its-diff");

    // hello's own node: the items it reads, with their text when at hand
    // (the builder script, the module tree's files), as the recipe says.
    browser.click("g.node[data-id$='-hello-2.12.2.drv'] text.label");
    let texts = browser.wait(
        "hello's items",
        "const p = [...document.querySelectorAll('#details pre')].map((e) => e.textContent); return p.length >= 2 && p;",
    );
    let drv = browser.js("return new URLSearchParams(location.search).get('node')");
    let recipe = recipe(&serve, drv.as_str().unwrap());
    let builder_text = recipe["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i["summary"]["content"]["text"].as_str())
        .expect("hello's builder script is at hand");
    let texts = texts.as_array().unwrap();
    assert!(
        texts.iter().any(|t| t == builder_text),
        "the builder script's text is shown"
    );
    assert!(
        texts.iter().any(|t| t
            .as_str()
            .unwrap()
            .contains("guix/build/gnu-build-system.scm")),
        "the module tree's files are listed: {texts:?}"
    );
    browser.screenshot("11-hello-items");

    // A hostile name on the diff page shows as text; no script of it runs.
    browser.go(&serve.url("/diff/%3Cimg%20src%3Dx%20onerror%3D%22window.pwned%3D1%22%3E"));
    browser.wait("the error", "return document.querySelector('#view .error')");
    assert_eq!(
        browser.js("return window.pwned === undefined && !document.querySelector('#view img');"),
        json!(true)
    );
}
