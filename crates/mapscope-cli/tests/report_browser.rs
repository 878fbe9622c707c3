//! `mapscope report` opened in a real browser (headless Chromium driven over
//! the DevTools protocol by `headless_chrome`: synchronous, so a test reads
//! top to bottom, and it launches the system's Chromium without fetching
//! one). The facts checked come from the fixture programs' own truth: every
//! map the program reported is a census row with its len and owner; the
//! atlas of a chosen map draws exactly as many full slots as the program put
//! entries in it; clicking a cell shows that entry's lookup path, with a key
//! the program stored, proved by the recomputed hash. No console errors.
//!
//! Skips when Chromium is absent, unless MAPSCOPE_REQUIRE_BROWSER=1 (CI).
//! Screenshots go to target/report-screenshots/.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::browser::tab::point::Point;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

fn chromium() -> Option<PathBuf> {
    let found = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("MAPSCOPE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "MAPSCOPE_REQUIRE_BROWSER=1 but no chromium is installed"
        );
        eprintln!("skipping: no chromium (apt-get install chromium)");
    }
    found
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

fn write_report(exe: &Path, core: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "report".to_string(),
        exe.display().to_string(),
        core.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["-o".to_string(), out.display().to_string()]);
    let r = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
}

struct Session {
    browser: Option<Browser>,
    tab: Arc<Tab>,
    errors: Arc<Mutex<Vec<String>>>,
    _profile: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The browser exits first, then its profile goes.
        drop(self.browser.take());
        let _ = std::fs::remove_dir_all(&self._profile);
    }
}

fn launch(chrome: &Path, name: &str) -> Session {
    let profile = target_dir().join(format!("report-chromium-profile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let browser = Browser::new(LaunchOptions {
        headless: true,
        sandbox: false,
        path: Some(chrome.to_path_buf()),
        user_data_dir: Some(profile.clone()),
        window_size: Some((1400, 1000)),
        idle_browser_timeout: Duration::from_secs(300),
        args,
        ..LaunchOptions::default()
    })
    .expect("launch chromium");
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(120));
    let errors = Arc::new(Mutex::new(Vec::new()));
    tab.enable_runtime().unwrap();
    tab.enable_log().unwrap();
    let sink = errors.clone();
    tab.add_event_listener(Arc::new(move |e: &Event| {
        let msg = match e {
            Event::RuntimeExceptionThrown(x) => Some(format!("exception: {:?}", x.params.exception_details)),
            Event::RuntimeConsoleAPICalled(x) if x.params.Type == ConsoleAPICalledEventTypeOption::Error => {
                Some(format!("console.error: {:?}", x.params.args))
            }
            Event::LogEntryAdded(x) if format!("{:?}", x.params.entry.level).contains("Error") => {
                Some(format!("log: {}", x.params.entry.text))
            }
            _ => None,
        };
        if let Some(m) = msg {
            sink.lock().unwrap().push(m);
        }
    }))
    .unwrap();
    Session {
        browser: Some(browser),
        tab,
        errors,
        _profile: profile,
    }
}

fn eval(tab: &Tab, js: &str) -> Value {
    tab.evaluate(js, true)
        .unwrap_or_else(|e| panic!("evaluating {js}: {e}"))
        .value
        .unwrap_or(Value::Null)
}

/// Waits until the page says the view for `hash` is drawn.
fn wait_ready(tab: &Tab, hash: &str) {
    let start = Instant::now();
    loop {
        if eval(tab, "document.body ? document.body.dataset.ready || '' : ''").as_str() == Some(hash) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the report never became ready for {hash}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn screenshot(tab: &Tab, name: &str) {
    let dir = target_dir().join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// Opens the view of the map whose header is `address` and checks the atlas
/// against the truth, then clicks an entry's cell and checks the path.
fn check_map(s: &Session, label: &str, m: &mapscope_fixtures::MapTruth, expect_verified: bool) {
    let tab = &s.tab;
    let id = eval(
        tab,
        &format!(
            "(window.mapscopeReport.meta.maps.find(m => m.address === '{}') || {{}}).id",
            m.address
        ),
    );
    let id = id
        .as_u64()
        .unwrap_or_else(|| panic!("{label}: {} has no map view", m.name));
    eval(tab, &format!("location.hash = '#map-{id}'"));
    wait_ready(tab, &format!("#map-{id}"));
    let full = eval(tab, &format!("document.getElementById('atlas-{id}').dataset.full"));
    assert_eq!(
        full.as_str().and_then(|f| f.parse::<usize>().ok()),
        Some(m.len),
        "{label} {}: full slots drawn in the atlas vs the program's len",
        m.name
    );
    screenshot(tab, &format!("{label}-{}-atlas", sanitize(&m.name)));
    if m.len == 0 {
        return;
    }
    // A real click on the middle entry's cell.
    let k = m.len / 2;
    let p = eval(tab, &format!("JSON.stringify(window.mapscopeReport.cellCenter({k}))"));
    let p: Value = serde_json::from_str(p.as_str().unwrap()).unwrap();
    tab.click_point(Point {
        x: p["x"].as_f64().unwrap(),
        y: p["y"].as_f64().unwrap(),
    })
    .unwrap();
    let shown = eval(
        tab,
        "JSON.stringify({key: document.getElementById('path').dataset.key, verified: document.getElementById('path').dataset.verified, visible: document.getElementById('path').style.display, text: document.getElementById('path').textContent})",
    );
    let shown: Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();
    assert_eq!(shown["visible"], "block", "{label} {}: the path is not shown", m.name);
    let keys: HashSet<&str> = m.entries.iter().map(|(k, _)| k.as_str()).collect();
    let key = shown["key"].as_str().unwrap_or_default();
    assert!(
        keys.contains(key),
        "{label} {}: the path shows key {key:?}, which the program did not store",
        m.name
    );
    if expect_verified {
        assert_eq!(
            shown["verified"], "true",
            "{label} {}: path not verified: {}",
            m.name, shown["text"]
        );
    }
    eval(tab, "document.getElementById('path').scrollIntoView()");
    screenshot(tab, &format!("{label}-{}-path", sanitize(&m.name)));
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn no_errors(s: &Session, label: &str) {
    let errors = s.errors.lock().unwrap();
    assert!(errors.is_empty(), "{label}: console errors: {errors:#?}");
}

#[test]
fn report_of_fixture_cores_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let dir = target_dir().join("report-test");
    std::fs::create_dir_all(&dir).unwrap();
    // Classic with growth and tombstones; Swiss with tables and a small map.
    for (variant, named) in [
        ("go1.22", ["main.MidGrowth", "main.Deleted", "main.Handlers"]),
        ("go1.26", ["main.Medium", "main.Deleted", "main.Handlers"]),
    ] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let html = dir.join(format!("{variant}.html"));
        write_report(&exe, &core, &html, &["--top", "3", named[0], named[1], named[2]]);
        let s = launch(&chrome, variant);
        s.tab.navigate_to(&file_url(&html)).unwrap();
        wait_ready(&s.tab, "#census");
        screenshot(&s.tab, &format!("{variant}-census"));
        // Every map the program reported is a census row, with its len and owner.
        let rows = eval(
            &s.tab,
            "JSON.stringify([...document.querySelectorAll('#census tbody tr')].map(r => [r.dataset.address, r.dataset.len, r.dataset.owner]))",
        );
        let rows: Vec<(String, String, String)> = serde_json::from_str(rows.as_str().unwrap()).unwrap();
        for m in truth.maps.iter().filter(|m| m.address != "0x0") {
            let row = rows
                .iter()
                .find(|r| r.0 == m.address)
                .unwrap_or_else(|| panic!("{variant}: no census row for {} ({})", m.name, m.address));
            assert_eq!(row.1, m.len.to_string(), "{variant} {}: len", m.name);
            if !m.owner.is_empty() {
                assert_eq!(row.2, m.owner, "{variant} {}: owner", m.name);
            }
        }
        // Each drawn map's census row links to its own view (checked while
        // the census is on the page).
        for name in named {
            let m = truth.maps.iter().find(|m| m.name == name).unwrap();
            let link = eval(
                &s.tab,
                &format!(
                    "(document.querySelector('#census tbody tr[data-address=\"{}\"] a') || {{}}).hash || ''",
                    m.address
                ),
            );
            let view = eval(
                &s.tab,
                &format!(
                    "'#map-' + (window.mapscopeReport.meta.maps.find(m => m.address === '{}') || {{}}).id",
                    m.address
                ),
            );
            assert_eq!(link, view, "{variant} {}: the census row's link", m.name);
        }
        for name in named {
            let m = truth.maps.iter().find(|m| m.name == name).unwrap();
            check_map(&s, variant, m, true);
        }
        eval(&s.tab, "location.hash = '#layout'");
        wait_ready(&s.tab, "#layout");
        let rulers = eval(&s.tab, "document.querySelectorAll('.ruler').length");
        assert!(rulers.as_u64().unwrap_or(0) >= 3, "{variant}: layout rulers");
        screenshot(&s.tab, &format!("{variant}-layout"));
        no_errors(&s, variant);
    }
}

/// The 1M-entry map of the bench runs: the page must hold it in full (every
/// full slot drawn) and stay small; prints the size and load-to-drawn time.
#[test]
fn report_of_the_million_entry_map_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let dir = target_dir().join("report-test");
    std::fs::create_dir_all(&dir).unwrap();
    for variant in ["go1.26", "go1.22"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let Ok(run) = fx.run("bench") else { continue };
        let truth = run.truth().unwrap();
        let bench = truth.maps.iter().find(|m| m.name == "main.Bench").unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), run.core_path("kernel").unwrap().unwrap());
        let html = dir.join(format!("{variant}-bench.html"));
        write_report(&exe, &core, &html, &["--top", "0", "main.Bench"]);
        let size = std::fs::metadata(&html).unwrap().len();
        assert!(
            size <= 30_000_000,
            "{variant}: report of {} entries is {size} bytes",
            bench.len
        );
        let s = launch(&chrome, &format!("{variant}-bench"));
        let url = format!("{}#map-0", file_url(&html));
        s.tab.navigate_to(&url).unwrap();
        wait_ready(&s.tab, "#map-0");
        let ms = eval(&s.tab, "window.mapscopeReport.readyAt").as_f64().unwrap_or(-1.0);
        println!(
            "{variant}: report of main.Bench ({} entries) is {:.1} MB; interactive {ms:.0} ms after navigation start",
            bench.len,
            size as f64 / 1e6
        );
        let phases = eval(
            &s.tab,
            "JSON.stringify({dom: performance.getEntriesByType('navigation')[0].domInteractive, phases: window.mapscopeReport.timing})",
        );
        println!("  {}", phases.as_str().unwrap_or_default());
        let full = eval(&s.tab, "document.getElementById('atlas-0').dataset.full");
        assert_eq!(
            full.as_str().and_then(|f| f.parse::<usize>().ok()),
            Some(bench.len),
            "{variant}: full slots drawn"
        );
        screenshot(&s.tab, &format!("{variant}-bench-atlas"));
        check_map(&s, &format!("{variant}-bench"), bench, true);
        no_errors(&s, variant);
    }
}
