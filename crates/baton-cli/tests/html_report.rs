//! `baton report --format html` through the binary: one self-contained page with
//! the waterfall (parallel beats, a retry, a cache restore, a rollback), no script,
//! nothing fetched from another host, and no live markup from hostile beat names.

mod common;

use common::Project;
use scraper::{Html, Selector};

const PIPELINE: &str = r#"version: 1
id: 7f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b
name: html-report
movements:
  - name: build
    parallel: true
    beats:
      - name: left
        run: sleep 0.3
      - name: right
        run: sleep 0.2
      - name: cached
        inputs: ["src/*.txt"]
        outputs: ["out/**"]
        cache: true
        run: sleep 0.2 && mkdir -p out && cp src/a.txt out/a.txt
      - name: retried
        retry: { attempts: 3, backoff: 1ms }
        run: 'n=$(cat .n 2>/dev/null || echo 0); echo $((n + 1)) > .n; [ $((n % 2)) -eq 1 ]'
  - name: deliver
    beats:
      - { name: made, run: 'echo making', rollback: 'echo unmaking' }
      - { name: broken, run: 'echo breaking; exit 1', needs: [made] }
"#;

fn project(yaml: &str) -> Project {
    Project::with_pipeline(yaml).file("src/a.txt", "a")
}

fn run(project: &Project) {
    let out = project
        .baton(&["run", "-j", "3", "--output", "quiet"])
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("baton runs");
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn html_report(project: &Project, extra: &[&str]) -> String {
    let mut args = vec!["report", "latest", "--format", "html"];
    args.extend_from_slice(extra);
    let out = project.baton(&args).output().expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector).collect()
}

/// No script, no element that loads anything, no event handler attribute, no link
/// but `allowed`.
fn assert_inert(doc: &Html, allowed_link: Option<&str>) {
    for css in [
        "script", "img", "iframe", "object", "embed", "link", "base", "form",
    ] {
        assert!(select(doc, css).is_empty(), "a <{css}> element");
    }
    for element in select(doc, "*") {
        for (name, value) in element.value().attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "an event handler {name}={value}"
            );
            if name == "href" || name == "src" || name == "xlink:href" {
                assert_eq!(Some(value), allowed_link, "a link to {value}");
            }
        }
    }
}

fn assert_no_other_host(html: &str, allowed_link: Option<&str>) {
    let mut rest = html;
    while let Some(i) = rest.find("http") {
        let tail = &rest[i..];
        if tail.starts_with("http://") || tail.starts_with("https://") {
            let allowed = allowed_link.is_some_and(|link| tail.starts_with(link));
            assert!(
                allowed,
                "a URL in the page: {}",
                &tail[..tail.len().min(60)]
            );
        }
        rest = &rest[i + 4..];
    }
}

#[test]
fn the_page_shows_the_waterfall_and_loads_nothing() {
    let project = project(PIPELINE);
    run(&project);
    run(&project);
    let out = project.join("report.html");
    let written = project
        .baton(&["report", "latest", "--format", "html", "-o"])
        .arg(&out)
        .output()
        .expect("report");
    assert!(written.status.success());
    let html = std::fs::read_to_string(&out).expect("the file");
    assert_eq!(html, html_report(&project, &[]), "-o and stdout differ");

    let doc = Html::parse_document(&html);
    let csp = select(&doc, "meta[http-equiv=\"Content-Security-Policy\"]");
    assert_eq!(csp.len(), 1);
    let policy = csp[0].value().attr("content").expect("content");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!html.contains("<script"));
    assert_inert(&doc, None);
    assert_no_other_host(&html, None);

    // One waterfall row per beat, the restore, retry and rollback drawn apart.
    let rows = select(&doc, "svg.waterfall g.row");
    assert_eq!(rows.len(), 6);
    let restored = select(&doc, "svg.waterfall rect.restored");
    assert_eq!(restored.len(), 1, "one cache restore");
    assert!(restored[0].inner_html().contains("cached ("));
    let retried = select(&doc, "svg.waterfall rect.retried");
    assert_eq!(retried.len(), 1);
    assert!(retried[0].inner_html().contains("retried ("));
    assert!(retried[0].inner_html().contains("2 attempts"));
    let rollback = select(&doc, "svg.waterfall rect.rollback");
    assert_eq!(rollback.len(), 1);
    assert!(rollback[0].inner_html().contains("rollback of made"));
    assert!(!select(&doc, "svg.waterfall rect.crit").is_empty());
    assert!(!select(&doc, "p.critical").is_empty());
    // Parallel beats side by side in time: left and right start together.
    let start = |name: &str| -> f64 {
        let bar = select(&doc, "svg.waterfall rect.bar")
            .into_iter()
            .find(|r| r.inner_html().starts_with(&format!("<title>{name} (")))
            .expect("a bar");
        bar.value().attr("x").expect("x").parse().expect("a number")
    };
    assert!((start("left") - start("right")).abs() < 20.0);
    assert!(start("made") > start("left"));

    // The beat table, with a chart of two runs per beat against its SLO.
    let table_rows = select(&doc, "table.beats tbody tr");
    assert_eq!(table_rows.len(), 6);
    let charts = select(&doc, "table.beats svg.spark");
    assert_eq!(charts.len(), 6);
    assert_eq!(select(&doc, "svg.spark circle").len(), 12);
    assert_eq!(select(&doc, "svg.spark circle.current").len(), 6);
    assert_eq!(select(&doc, "svg.spark line.slo").len(), 6);
    assert!(html.contains("<span class=\"restored-tag\">restored</span>"));
    assert!(html.contains("id=\"regressions\""));
    assert!(html.contains("id=\"flaky\""));
    assert!(html.contains("@media print"));
}

#[test]
fn a_ci_link_only_when_it_is_the_ci_run_that_recorded_the_run() {
    let project = project(PIPELINE);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_SERVER_URL", "https://github.example"),
    ];
    let mut cmd = project.baton(&["run", "--output", "quiet"]);
    cmd.envs(ci);
    cmd.output().expect("baton runs");
    let link = "https://github.example/o/r/actions/runs/42/attempts/1";
    let out = project
        .baton(&["report", "latest", "--format", "html"])
        .envs(ci)
        .output()
        .expect("report");
    let html = String::from_utf8(out.stdout).expect("utf-8");
    let doc = Html::parse_document(&html);
    let links = select(&doc, "a[href]");
    assert_eq!(links.len(), 1, "{html}");
    assert_eq!(links[0].value().attr("href"), Some(link));
    assert_inert(&doc, Some(link));
    assert_no_other_host(&html, Some(link));
    // Elsewhere (another CI run, or none) the page cannot know the link.
    let html = html_report(&project, &[]);
    assert!(select(&Html::parse_document(&html), "a").is_empty());
    assert!(html.contains("github-actions run 42-1"));
}

#[test]
fn hostile_names_stay_text() {
    let names = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "' onmouseover='alert(1)",
        "<svg onload=alert(1)>",
    ];
    let mut yaml = String::from(
        "version: 1\nid: 2b7e4c1d-8f3a-4e6b-9d2c-1a0b3c4d5e6f\nname: '<script>alert(\"p\")</script>'\nmovements:\n  - name: '<b onclick=alert(1)>m</b>'\n    beats:\n",
    );
    for (i, name) in names.iter().enumerate() {
        let quoted = serde_json::to_string(name).expect("json");
        yaml.push_str(&format!(
            "      - name: {quoted}\n        run: 'echo \"<script>alert({i})</script>\"; {}'\n",
            if i == 1 { "exit 3" } else { "true" }
        ));
    }
    let project = project(&yaml);
    run(&project);
    run(&project);
    let html = html_report(&project, &[]);
    let doc = Html::parse_document(&html);
    assert_inert(&doc, None);
    assert!(!html.contains("<script"), "live script");
    assert!(!html.contains("<img"), "live img");
    // Each name is there, as text, in the waterfall and the table.
    assert_eq!(select(&doc, "svg.waterfall g.row").len(), names.len());
    assert_eq!(select(&doc, "table.beats tbody tr").len(), names.len());
    let text: String = doc.root_element().text().collect();
    for name in names {
        assert!(text.contains(name), "{name} is missing");
    }
    // The only <svg> elements are the renderer's own.
    for svg in select(&doc, "svg") {
        let class = svg.value().attr("class").unwrap_or_default();
        assert!(
            class == "waterfall" || class == "spark",
            "an svg of class {class}"
        );
    }
}
