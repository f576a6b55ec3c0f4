//! End to end: the report of the synthetic study, opened in headless
//! Chromium, renders every figure with a non-zero size and raises no error.
//! A probe script is added to a copy of the report (the report itself has
//! none): it records error events from the start, and at `load` writes each
//! figure's rendered size into the DOM, which Chromium dumps. Skips, saying
//! why, only when Chromium is not installed (Debian: `apt-get install -y
//! chromium`).

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::support::*;

const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(String(e.message || (e.target && e.target.outerHTML)));
}, true);
window.addEventListener('load', function () {
  var lines = [];
  document.querySelectorAll('figure').forEach(function (f) {
    var svg = f.querySelector('svg');
    var r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    lines.push(f.id + ' ' + r.width + ' ' + r.height);
  });
  lines.push('errors ' + window.__errors.length + ' ' + window.__errors.join(' | '));
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = lines.join('\n');
  document.body.appendChild(pre);
});
</script>"#;

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs Chromium on `page`, killing it after a minute; (stdout, stderr).
/// Its output goes to files: Chromium logs a lot, and a full pipe nobody
/// reads would stall it.
fn dump_dom(page: &Path, dir: &Path) -> (String, String) {
    let (out_path, err_path) = (dir.join("dom.html"), dir.join("chromium.log"));
    let file = |p: &Path| std::fs::File::create(p).expect("log file");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).expect("output")).into_owned();
    let (dom, log) = (read(&out_path), read(&err_path));
    assert!(status.success(), "chromium failed ({status}): {log}");
    (dom, log)
}

#[test]
fn report_renders_in_headless_chromium() {
    match Command::new(chromium()).arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!(
                "SKIPPED report_renders_in_headless_chromium: `{}` is not installed \
                 (apt-get install -y chromium)",
                chromium()
            );
            return;
        }
        other => {
            other.expect("chromium --version runs");
        }
    }
    let out = Fixture::new().run().unwrap();
    let html = text(&out, "report.html");
    let figures: Vec<String> = parse(&html)
        .descendants()
        .filter(|n| n.tag_name().name() == "figure")
        .map(|n| n.attribute("id").unwrap_or_default().to_string())
        .collect();
    assert_eq!(figures.len(), 10);

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let probed = html.replacen("<head>", &format!("<head>\n{PROBE}"), 1);
    std::fs::write(&page, probed).unwrap();
    let (dom, log) = dump_dom(&page, dir.path());

    let probe = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe ran at load (DOM: {} bytes)", dom.len()));
    let mut rendered = Vec::new();
    for line in probe.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if parts[0] == "errors" {
            assert_eq!(parts[1], "0", "errors in the page: {line}");
            continue;
        }
        let (width, height): (f64, f64) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        assert!(
            width > 100.0 && height > 100.0,
            "{} renders at {width} x {height}",
            parts[0]
        );
        rendered.push(parts[0].to_string());
    }
    assert_eq!(rendered, figures, "every figure is in the rendered DOM");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}
