//! From the node tree to a draft pipeline: every field read, typed and defaulted,
//! with the positions the semantic checks need to point at.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use baton_model::{
    AnomalySettings, BeatSpec, BeatType, CacheSpec, Level, MovementSpec, Pipeline, RetryOn,
    RetryPolicy, SlaThresholds, SloTarget, format_duration,
};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::fields::{Reader, suggest};
use crate::tree::{Node, Pos, Value};

pub const TOP_FIELDS: &[&str] = &[
    "version",
    "id",
    "name",
    "description",
    "shell",
    "slo",
    "sla",
    "anomalies",
    "movements",
];
pub const MOVEMENT_FIELDS: &[&str] = &["name", "description", "parallel", "beats"];
pub const BEAT_FIELDS: &[&str] = &[
    "name",
    "description",
    "type",
    "run",
    "needs",
    "inputs",
    "outputs",
    "cache",
    "env",
    "secrets",
    "timeout",
    "retry",
    "level",
    "slo",
    "allow_failure",
    "rollback",
    "junit",
];
pub const SLO_FIELDS: &[&str] = &["duration", "errors", "cache_hit_rate", "objective"];
pub const SLA_FIELDS: &[&str] = &["warning", "breach", "critical"];
pub const ANOMALY_FIELDS: &[&str] = &["min_slowdown"];
pub const RETRY_FIELDS: &[&str] = &["attempts", "backoff", "factor", "on"];
pub const CACHE_FIELDS: &[&str] = &["enabled", "ttl", "key_env"];

/// A beat with the positions of the parts checks refer to.
#[derive(Debug, Clone)]
pub struct DraftBeat {
    pub spec: BeatSpec,
    pub pos: Pos,
    pub name_pos: Pos,
    pub has_run: bool,
    pub needs_pos: Vec<Pos>,
    pub inputs_pos: Option<Pos>,
    pub outputs_pos: Option<Pos>,
    pub cache_pos: Option<Pos>,
    pub env_pos: BTreeMap<String, Pos>,
    pub type_known: bool,
}

#[derive(Debug, Clone)]
pub struct DraftMovement {
    pub name: String,
    pub pos: Pos,
    pub parallel: bool,
    pub beats: Vec<DraftBeat>,
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub version: u32,
    pub id: Option<String>,
    pub name: String,
    pub sla: SlaThresholds,
    pub anomalies: AnomalySettings,
    pub shell: Option<String>,
    pub movements: Vec<DraftMovement>,
}

impl Draft {
    pub fn into_pipeline(self, source: &Path) -> Pipeline {
        let root = crate::pipeline_root(source);
        Pipeline {
            version: self.version,
            id: self.id,
            name: self.name,
            source: source.to_path_buf(),
            root,
            sla: self.sla,
            anomalies: self.anomalies,
            shell: self.shell,
            movements: self
                .movements
                .into_iter()
                .map(|m| MovementSpec {
                    name: m.name,
                    parallel: m.parallel,
                    beats: m.beats.into_iter().map(|b| b.spec).collect(),
                })
                .collect(),
        }
    }
}

pub fn resolve(root: &Node, file_stem: &str, r: &mut Reader) -> Option<Draft> {
    if !matches!(root.value, Value::Map(_)) {
        r.report(
            Diagnostic::new(
                Code::WrongType,
                Severity::Critical,
                Some(root.pos),
                format!(
                    "a pipeline file is a mapping with 'movements', found {}",
                    root.value.kind()
                ),
            )
            .fix("start from `baton init` or the README's example"),
        );
        return None;
    }
    let top = r.mapping(root, "the pipeline", TOP_FIELDS, &[("stages", "movements")])?;

    let version = match top.get("version") {
        Some((_, node)) => match r.unsigned(node, "version") {
            Some(1) => 1,
            Some(v) => {
                r.bad_value(
                    node,
                    format!("version {v} is not supported"),
                    "use version: 1",
                );
                1
            }
            None => 1,
        },
        None => {
            r.report(
                Diagnostic::new(
                    Code::MissingField,
                    Severity::Minor,
                    Some(root.pos),
                    "no 'version'",
                )
                .fix("add 'version: 1' at the top"),
            );
            1
        }
    };
    let id = top.get("id").and_then(|(_, n)| r.string(n, "id"));
    if id.is_none() && !top.contains_key("id") {
        r.report(
            Diagnostic::new(
                Code::MissingField,
                Severity::Info,
                Some(root.pos),
                "no stable 'id': history follows the pipeline's name and is lost on rename",
            )
            .fix("add an 'id:' with a UUID (baton init writes one)"),
        );
    }
    let name = match top.get("name") {
        Some((_, n)) => r.name(n, "pipeline").unwrap_or_default(),
        None => {
            r.report(
                Diagnostic::new(
                    Code::MissingField,
                    Severity::Minor,
                    Some(root.pos),
                    "no 'name'",
                )
                .fix(format!("add 'name: {file_stem}'")),
            );
            file_stem.to_string()
        }
    };

    let slo_baselines = top
        .get("slo")
        .map(|(_, n)| read_slo_baselines(n, r))
        .unwrap_or_default();
    let sla = top
        .get("sla")
        .map(|(_, n)| read_sla(n, r))
        .unwrap_or_default();
    let anomalies = top
        .get("anomalies")
        .map(|(_, n)| read_anomalies(n, r))
        .unwrap_or_default();

    let shell = top.get("shell").and_then(|(_, n)| {
        let text = r.string(n, "shell")?;
        if text.split_whitespace().next().is_none() {
            r.bad_value(
                n,
                "'shell' is empty".into(),
                "write a program and its flags, e.g. 'bash -eo pipefail -c'",
            );
            return None;
        }
        Some(text)
    });

    let mut movements = Vec::new();
    match top.get("movements") {
        None => r.report(
            Diagnostic::new(
                Code::MissingField,
                Severity::Critical,
                Some(root.pos),
                "no 'movements'",
            )
            .fix("add a 'movements:' list with at least one movement of beats"),
        ),
        Some((_, node)) => match &node.value {
            Value::Seq(items) if items.is_empty() => r.report(
                Diagnostic::new(
                    Code::MissingField,
                    Severity::Critical,
                    Some(node.pos),
                    "'movements' is empty: there is nothing to run",
                )
                .fix("add a movement with at least one beat"),
            ),
            Value::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    if let Some(m) = read_movement(item, index, &slo_baselines, r) {
                        movements.push(m);
                    }
                }
            }
            _ => r.wrong_type(node, "movements", "a list of movements"),
        },
    }
    Some(Draft {
        version,
        id,
        name,
        sla,
        anomalies,
        shell,
        movements,
    })
}

fn read_slo_baselines(node: &Node, r: &mut Reader) -> BTreeMap<BeatType, SloTarget> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        r.wrong_type(node, "slo", "a mapping of beat types to SLOs");
        return out;
    };
    let type_names: Vec<&str> = BeatType::ALL.iter().map(|t| t.as_str()).collect();
    for (key, value) in entries {
        let name = key.as_scalar_text().unwrap_or_default();
        match BeatType::from_str(&name) {
            Ok(t) => {
                if let Some(slo) = read_slo(value, t.default_slo(), "slo", r) {
                    out.insert(t, slo);
                }
            }
            Err(()) => {
                let hint = suggest(&name, &type_names);
                r.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        Severity::Major,
                        Some(key.pos),
                        match hint {
                            Some(h) => {
                                format!("unknown beat type '{name}' in slo (did you mean '{h}'?)")
                            }
                            None => format!("unknown beat type '{name}' in slo"),
                        },
                    )
                    .fix(format!("use one of: {}", type_names.join(", "))),
                );
            }
        }
    }
    out
}

fn read_slo(node: &Node, base: SloTarget, what: &str, r: &mut Reader) -> Option<SloTarget> {
    let map = r.mapping(node, what, SLO_FIELDS, &[])?;
    let mut slo = base;
    if let Some((_, n)) = map.get("duration") {
        match r.duration(n, "slo.duration") {
            Some(d) if d.is_zero() => r.bad_value(
                n,
                "an SLO duration of zero can never be met".into(),
                "use a positive duration",
            ),
            Some(d) => slo.duration = d,
            None => {}
        }
    }
    if let Some((_, n)) = map.get("errors")
        && let Some(e) = r.unsigned(n, "slo.errors")
    {
        slo.errors = e;
    }
    if let Some((_, n)) = map.get("cache_hit_rate") {
        match r.number(n, "slo.cache_hit_rate") {
            Some(rate) if (0.0..=1.0).contains(&rate) => slo.cache_hit_rate = Some(rate),
            Some(_) => r.bad_value(
                n,
                "cache_hit_rate must be between 0 and 1".into(),
                "use e.g. 0.9",
            ),
            None => {}
        }
    }
    if let Some((_, n)) = map.get("objective") {
        match r.number(n, "slo.objective") {
            // 1 would leave no error budget at all: every miss overspends it.
            Some(share) if share > 0.0 && share < 1.0 => slo.objective = Some(share),
            Some(_) => r.bad_value(
                n,
                "objective must be above 0 and below 1 (the share of runs that meet the SLO)"
                    .into(),
                "use e.g. 0.95",
            ),
            None => {}
        }
    }
    Some(slo)
}

fn read_sla(node: &Node, r: &mut Reader) -> SlaThresholds {
    let mut sla = SlaThresholds::default();
    let Some(map) = r.mapping(node, "sla", SLA_FIELDS, &[]) else {
        return sla;
    };
    for (field, slot) in [
        ("warning", &mut sla.warning),
        ("breach", &mut sla.breach),
        ("critical", &mut sla.critical),
    ] {
        if let Some((_, n)) = map.get(field) {
            match r.number(n, &format!("sla.{field}")) {
                Some(v) if v > 0.0 => *slot = v,
                Some(_) => r.bad_value(
                    n,
                    format!("sla.{field} must be above 0"),
                    "use a ratio like 1.5",
                ),
                None => {}
            }
        }
    }
    if !(sla.warning <= sla.breach && sla.breach <= sla.critical) {
        r.bad_value(
            node,
            "sla thresholds must grow: warning <= breach <= critical".into(),
            "order the ratios, e.g. warning 1.0, breach 1.5, critical 2.0",
        );
    }
    sla
}

fn read_anomalies(node: &Node, r: &mut Reader) -> AnomalySettings {
    let mut settings = AnomalySettings::default();
    let Some(map) = r.mapping(node, "anomalies", ANOMALY_FIELDS, &[]) else {
        return settings;
    };
    if let Some((_, n)) = map.get("min_slowdown")
        && let Some(d) = r.duration(n, "anomalies.min_slowdown")
    {
        settings.min_slowdown = d;
    }
    settings
}

fn read_movement(
    node: &Node,
    index: usize,
    baselines: &BTreeMap<BeatType, SloTarget>,
    r: &mut Reader,
) -> Option<DraftMovement> {
    let map = r.mapping(node, "a movement", MOVEMENT_FIELDS, &[("steps", "beats")])?;
    let name = match map.get("name") {
        Some((_, n)) => r.name(n, "movement").unwrap_or_default(),
        None => format!("movement-{}", index + 1),
    };
    let parallel = map
        .get("parallel")
        .and_then(|(_, n)| r.boolean(n, "parallel"))
        .unwrap_or(false);
    let mut beats = Vec::new();
    match map.get("beats") {
        None => {}
        Some((_, n)) => match &n.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(b) = read_beat(item, baselines, r) {
                        beats.push(b);
                    }
                }
            }
            Value::Null => {}
            _ => r.wrong_type(n, "beats", "a list of beats"),
        },
    }
    Some(DraftMovement {
        name,
        pos: node.pos,
        parallel,
        beats,
    })
}

fn read_beat(
    node: &Node,
    baselines: &BTreeMap<BeatType, SloTarget>,
    r: &mut Reader,
) -> Option<DraftBeat> {
    let map = r.mapping(node, "a beat", BEAT_FIELDS, &[])?;
    let (name_pos, name) = match map.get("name") {
        Some((_, n)) => (n.pos, r.name(n, "beat").unwrap_or_default()),
        None => {
            r.report(
                Diagnostic::new(
                    Code::MissingField,
                    Severity::Critical,
                    Some(node.pos),
                    "beat has no 'name'",
                )
                .fix("give every beat a unique 'name'"),
            );
            return None;
        }
    };

    let mut type_known = true;
    let beat_type = match map.get("type") {
        Some((_, n)) => {
            let text = r.string(n, "type").unwrap_or_default();
            match BeatType::from_str(&text) {
                Ok(t) => t,
                Err(()) => {
                    type_known = false;
                    let names: Vec<&str> = BeatType::ALL.iter().map(|t| t.as_str()).collect();
                    let hint = suggest(&text, &names)
                        .map(|h| format!(" (did you mean '{h}'?)"))
                        .unwrap_or_default();
                    r.report(
                        Diagnostic::new(
                            Code::TypeWithoutSlo,
                            Severity::Major,
                            Some(n.pos),
                            format!("beat type '{text}' has no SLO{hint}"),
                        )
                        .fix(format!("use one of: {}", names.join(", "))),
                    );
                    BeatType::Build
                }
            }
        }
        None => BeatType::Build,
    };

    let run = map
        .get("run")
        .and_then(|(_, n)| r.string(n, "run"))
        .unwrap_or_default();
    let has_run = !run.trim().is_empty();

    let (needs_pos, needs): (Vec<Pos>, Vec<String>) = map
        .get("needs")
        .and_then(|(_, n)| r.string_list(n, "needs"))
        .unwrap_or_default()
        .into_iter()
        .unzip();
    let inputs = globs(map.get("inputs").map(|(_, n)| *n), "inputs", r);
    let outputs = globs(map.get("outputs").map(|(_, n)| *n), "outputs", r);
    let inputs_pos = map.get("inputs").map(|(_, n)| n.pos);
    let outputs_pos = map.get("outputs").map(|(_, n)| n.pos);

    let cache = map
        .get("cache")
        .map(|(_, n)| read_cache(n, r))
        .unwrap_or_default();
    let cache_pos = map.get("cache").map(|(p, _)| *p);

    let mut env = BTreeMap::new();
    let mut env_pos = BTreeMap::new();
    if let Some((_, n)) = map.get("env") {
        for (pos, key, value) in r.string_map(n, "env").unwrap_or_default() {
            env_pos.insert(key.clone(), pos);
            env.insert(key, value);
        }
    }
    let secrets = map
        .get("secrets")
        .and_then(|(_, n)| r.string_list(n, "secrets"))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, s)| s)
        .collect();

    let timeout = map
        .get("timeout")
        .and_then(|(_, n)| match r.duration(n, "timeout") {
            Some(d) if d.is_zero() => {
                r.bad_value(
                    n,
                    "a timeout of zero ends every run at once".into(),
                    "use a positive duration or remove 'timeout'",
                );
                None
            }
            other => other,
        });
    let retry = map
        .get("retry")
        .map(|(_, n)| read_retry(n, r))
        .unwrap_or_default();
    let level = match map.get("level") {
        Some((_, n)) => {
            let text = r.string(n, "level").unwrap_or_default();
            Level::from_str(&text).unwrap_or_else(|()| {
                r.report(
                    Diagnostic::new(
                        Code::BadLevel,
                        Severity::Major,
                        Some(n.pos),
                        format!("'{text}' is not a level"),
                    )
                    .fix("use p, mf, f or ff"),
                );
                Level::Mf
            })
        }
        None => Level::Mf,
    };
    let base = baselines
        .get(&beat_type)
        .cloned()
        .unwrap_or_else(|| beat_type.default_slo());
    let slo = match map.get("slo") {
        Some((_, n)) => read_slo(n, base.clone(), "slo", r).unwrap_or(base),
        None => base,
    };
    let allow_failure = map
        .get("allow_failure")
        .and_then(|(_, n)| r.boolean(n, "allow_failure"))
        .unwrap_or(false);
    let rollback = map
        .get("rollback")
        .and_then(|(_, n)| r.string(n, "rollback"));
    let junit = map.get("junit").and_then(|(_, n)| {
        let glob = r.string(n, "junit")?;
        check_glob(&glob, n.pos, "junit", r).then_some(glob)
    });

    let spec = BeatSpec {
        name,
        beat_type,
        run,
        needs,
        inputs,
        outputs,
        cache,
        env,
        secrets,
        timeout,
        retry,
        level,
        slo,
        allow_failure,
        rollback,
        junit,
    };
    Some(DraftBeat {
        spec,
        pos: node.pos,
        name_pos,
        has_run,
        needs_pos,
        inputs_pos,
        outputs_pos,
        cache_pos,
        env_pos,
        type_known,
    })
}

fn globs(node: Option<&Node>, field: &str, r: &mut Reader) -> Vec<String> {
    let Some(node) = node else { return Vec::new() };
    r.string_list(node, field)
        .unwrap_or_default()
        .into_iter()
        .filter(|(pos, g)| check_glob(g, *pos, field, r))
        .map(|(_, g)| g)
        .collect()
}

fn check_glob(glob: &str, pos: Pos, field: &str, r: &mut Reader) -> bool {
    match globset::Glob::new(glob) {
        Ok(_) if !glob.trim().is_empty() => true,
        Ok(_) => {
            r.report(
                Diagnostic::new(
                    Code::BadGlob,
                    Severity::Major,
                    Some(pos),
                    format!("empty glob in '{field}'"),
                )
                .fix("remove it or write a path pattern such as src/**"),
            );
            false
        }
        Err(e) => {
            r.report(
                Diagnostic::new(
                    Code::BadGlob,
                    Severity::Major,
                    Some(pos),
                    format!("bad glob '{glob}' in '{field}': {}", e.kind()),
                )
                .fix("fix the pattern (e.g. close the bracket or brace)"),
            );
            false
        }
    }
}

fn read_cache(node: &Node, r: &mut Reader) -> CacheSpec {
    if let Value::Bool(enabled) = node.value {
        return CacheSpec {
            enabled,
            ..CacheSpec::default()
        };
    }
    let Some(map) = r.mapping(node, "cache", CACHE_FIELDS, &[]) else {
        return CacheSpec::default();
    };
    CacheSpec {
        enabled: map
            .get("enabled")
            .and_then(|(_, n)| r.boolean(n, "cache.enabled"))
            .unwrap_or(true),
        ttl: map.get("ttl").and_then(|(_, n)| r.duration(n, "cache.ttl")),
        key_env: map
            .get("key_env")
            .and_then(|(_, n)| r.string_list(n, "cache.key_env"))
            .unwrap_or_default()
            .into_iter()
            .map(|(_, s)| s)
            .collect(),
    }
}

fn read_retry(node: &Node, r: &mut Reader) -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    let too_many =
        |n: &Node| matches!(n.value, Value::Int(a) if a > i64::from(RetryPolicy::MAX_ATTEMPTS));
    if let Value::Int(_) = node.value {
        if too_many(node) {
            too_many_attempts(node, "retry", r);
        } else if let Some(n) = r.unsigned(node, "retry") {
            policy.attempts = n.max(1);
        }
        return policy;
    }
    let Some(map) = r.mapping(node, "retry", RETRY_FIELDS, &[]) else {
        return policy;
    };
    if let Some((_, n)) = map.get("attempts") {
        if matches!(n.value, Value::Int(a) if a < 1) {
            r.bad_value(
                n,
                "retry.attempts must be at least 1".into(),
                "use 1 or more",
            );
        } else if too_many(n) {
            too_many_attempts(n, "retry.attempts", r);
        } else if let Some(a) = r.unsigned(n, "retry.attempts") {
            policy.attempts = a;
        }
    }
    if let Some((_, n)) = map.get("backoff") {
        match r.duration(n, "retry.backoff") {
            Some(d) if d > RetryPolicy::MAX_DELAY => r.bad_value(
                n,
                format!(
                    "retry.backoff {} is longer than the longest wait between attempts ({})",
                    format_duration(d),
                    format_duration(RetryPolicy::MAX_DELAY)
                ),
                &format!(
                    "use a backoff of {} or less",
                    format_duration(RetryPolicy::MAX_DELAY)
                ),
            ),
            Some(d) => policy.backoff = d,
            None => {}
        }
    }
    if let Some((_, n)) = map.get("factor") {
        match r.number(n, "retry.factor") {
            Some(f) if (1.0..=RetryPolicy::MAX_FACTOR).contains(&f) => policy.factor = f,
            Some(_) => r.bad_value(
                n,
                format!(
                    "retry.factor must be between 1 and {}",
                    RetryPolicy::MAX_FACTOR
                ),
                "use e.g. 2 (each wait twice the one before)",
            ),
            None => {}
        }
    }
    if let Some((_, n)) = map.get("on") {
        let items = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![*n],
        };
        for item in items {
            let text = item.as_scalar_text().unwrap_or_default();
            match RetryOn::from_str(&text) {
                Ok(on) => policy.on.push(on),
                Err(msg) => {
                    r.bad_value(item, msg, "use timeout, any or exit:N with N from 0 to 255")
                }
            }
        }
    }
    policy
}

fn too_many_attempts(node: &Node, field: &str, r: &mut Reader) {
    let attempts = node.as_scalar_text().unwrap_or_default();
    r.bad_value(
        node,
        format!(
            "{field} is {attempts}, more than the {} attempts baton allows",
            RetryPolicy::MAX_ATTEMPTS
        ),
        &format!("use at most {} attempts", RetryPolicy::MAX_ATTEMPTS),
    );
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    const PIPELINE: &str = "version: 1\nid: x\nname: p\nmovements:\n  - name: m\n    beats:\n      - { name: b, run: 'true' }\n";

    fn min_slowdown(extra: &str) -> Option<Duration> {
        let text = format!("{extra}{PIPELINE}");
        let loaded = crate::load_str(Path::new("baton.yaml"), &text);
        loaded.pipeline.map(|p| p.anomalies.min_slowdown)
    }

    #[test]
    fn the_noise_floor_defaults_to_one_second_and_can_be_set() {
        assert_eq!(min_slowdown(""), Some(Duration::from_secs(1)));
        assert_eq!(
            min_slowdown("anomalies: { min_slowdown: 250ms }\n"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            min_slowdown("anomalies: { min_slowdown: 0 }\n"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            min_slowdown("anomalies: {}\n"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(min_slowdown("anomalies: { min_slowdown: -1s }\n"), None);
    }

    #[test]
    fn an_objective_is_read_per_type_and_per_beat_and_checked() {
        let text = "version: 1\nid: x\nname: p\nslo:\n  build: { objective: 0.99 }\nmovements:\n  - name: m\n    beats:\n      - { name: a, type: build, run: 'true' }\n      - { name: b, type: build, run: 'true', slo: { objective: 0.9 } }\n      - { name: c, type: test, run: 'true' }\n";
        let pipeline = crate::load_str(Path::new("baton.yaml"), text)
            .pipeline
            .expect("valid");
        let objective = |name: &str| pipeline.beat(name).map(|(_, b)| b.slo.objective());
        assert_eq!(objective("a"), Some(0.99));
        assert_eq!(objective("b"), Some(0.9));
        assert_eq!(objective("c"), Some(0.95));

        let bad = text.replace("objective: 0.9 }", "objective: 1 }");
        let loaded = crate::load_str(Path::new("baton.yaml"), &bad);
        assert!(loaded.pipeline.is_none());
        let found = loaded
            .diagnostics
            .iter()
            .find(|d| d.message.contains("objective must be above 0 and below 1"))
            .expect("the bad objective is named");
        assert_eq!((found.line, found.column), (Some(10), Some(64)));
    }
}
