//! Semantic checks over a whole draft: names, dependencies, cycles, outputs that
//! collide, credentials in plain sight. Each finding points at the beat concerned.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::fields::{Reader, suggest_owned};
use crate::resolve::{Draft, DraftBeat};

pub fn check(draft: &Draft, r: &mut Reader) {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (m, movement) in draft.movements.iter().enumerate() {
        if movement.beats.is_empty() {
            r.report(
                Diagnostic::new(
                    Code::EmptyMovement,
                    Severity::Major,
                    Some(movement.pos),
                    format!("movement '{}' has no beats", movement.name),
                )
                .fix("add beats to it or remove the movement"),
            );
        }
        for beat in &movement.beats {
            if let Some(prev) = first_seen.insert(&beat.spec.name, m) {
                first_seen.insert(&beat.spec.name, prev);
                r.report(
                    Diagnostic::new(
                        Code::DuplicateBeat,
                        Severity::Critical,
                        Some(beat.name_pos),
                        format!("duplicate beat name '{}'", beat.spec.name),
                    )
                    .fix("beat names must be unique across the pipeline; rename one"),
                );
            }
            check_beat(beat, r);
        }
    }
    check_needs(draft, &first_seen, r);
    check_cycles(draft, r);
    check_overlapping_outputs(draft, r);
}

fn check_beat(beat: &DraftBeat, r: &mut Reader) {
    let name = &beat.spec.name;
    if !beat.has_run {
        r.report(
            Diagnostic::new(
                Code::NoCommand,
                Severity::Critical,
                Some(beat.pos),
                format!("beat '{name}' has no command"),
            )
            .fix("add 'run:' with the shell command it runs"),
        );
    }
    if beat.spec.cache.enabled && beat.spec.inputs.is_empty() {
        r.report(
            Diagnostic::new(
                Code::CacheWithoutInputs,
                Severity::Minor,
                beat.cache_pos,
                format!("beat '{name}' sets 'cache' but no 'inputs', so it can never hit"),
            )
            .fix("list the files its result depends on under 'inputs:'"),
        );
    }
    for (key, value) in &beat.spec.env {
        if beat.spec.secrets.contains(key) {
            continue;
        }
        if let Some((why, severity)) = credential_like(key, value) {
            r.report(
                Diagnostic::new(
                    Code::CredentialInEnv,
                    severity,
                    beat.env_pos.get(key).copied(),
                    format!("env '{key}' of beat '{name}' looks like a credential ({why})"),
                )
                .fix(format!("remove the value and list '{key}' under 'secrets:' so it comes from the environment, masked")),
            );
        }
    }
}

/// Why a value looks like a credential, if it does, and how sure that is: a value
/// shaped like a known token is major; a secret-sounding name alone is minor.
pub fn credential_like(key: &str, value: &str) -> Option<(&'static str, Severity)> {
    let v = value.trim();
    if v.is_empty() || v.starts_with('$') {
        return None;
    }
    const PREFIXES: &[(&str, &str)] = &[
        ("ghp_", "a GitHub token"),
        ("github_pat_", "a GitHub token"),
        ("gho_", "a GitHub token"),
        ("glpat-", "a GitLab token"),
        ("xoxb-", "a Slack token"),
        ("xoxp-", "a Slack token"),
        ("sk-", "an API secret key"),
        ("npm_", "an npm token"),
        ("AKIA", "an AWS access key"),
        ("-----BEGIN", "a private key"),
    ];
    if let Some((_, why)) = PREFIXES
        .iter()
        .find(|(p, _)| v.starts_with(p) && v.len() > p.len() + 8)
    {
        return Some((why, Severity::Major));
    }
    let upper = key.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-', '.']).collect();
    // Names that point at a secret rather than hold it.
    let refers = [
        "FILE", "PATH", "NAME", "URL", "DIR", "ID", "COUNT", "MAX", "MIN", "LIMIT",
    ];
    if words.iter().any(|w| refers.contains(w)) {
        return None;
    }
    let secret_word = [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
    ];
    let secret_pair = ["API_KEY", "PRIVATE_KEY", "ACCESS_KEY", "SECRET_KEY"];
    let sensitive = words.iter().any(|w| secret_word.contains(w))
        || secret_pair.iter().any(|p| upper.contains(p));
    let looks_like_data = v.contains('/') || v.parse::<f64>().is_ok() || v.contains(' ');
    (sensitive && v.len() >= 8 && !looks_like_data)
        .then_some(("its name says it is secret", Severity::Minor))
}

fn check_needs(draft: &Draft, movement_of: &HashMap<&str, usize>, r: &mut Reader) {
    let all_names: Vec<String> = draft
        .movements
        .iter()
        .flat_map(|m| m.beats.iter().map(|b| b.spec.name.clone()))
        .collect();
    for (m, movement) in draft.movements.iter().enumerate() {
        for beat in &movement.beats {
            for (i, need) in beat.spec.needs.iter().enumerate() {
                let pos = beat.needs_pos.get(i).copied();
                match movement_of.get(need.as_str()) {
                    None => {
                        let others: Vec<String> = all_names
                            .iter()
                            .filter(|n| **n != beat.spec.name)
                            .cloned()
                            .collect();
                        let hint = suggest_owned(need, &others);
                        r.report(
                            Diagnostic::new(
                                Code::UnknownNeed,
                                Severity::Critical,
                                pos,
                                match &hint {
                                    Some(h) => format!("beat '{}' needs '{need}', which is no beat (did you mean '{h}'?)", beat.spec.name),
                                    None => format!("beat '{}' needs '{need}', which is no beat", beat.spec.name),
                                },
                            )
                            .fix(match hint {
                                Some(h) => format!("change it to '{h}'"),
                                None => "name a beat of this or an earlier movement".into(),
                            }),
                        );
                    }
                    Some(&nm) if nm > m => r.report(
                        Diagnostic::new(
                            Code::ForwardNeed,
                            Severity::Critical,
                            pos,
                            format!(
                                "beat '{}' needs '{need}' of the later movement '{}'",
                                beat.spec.name, draft.movements[nm].name
                            ),
                        )
                        .fix("move one of the two beats so the needed beat comes first"),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}

/// Cycles among the beats of one movement, through `needs` and, in a sequential
/// movement, listed order. Every beat on a cycle is named.
fn check_cycles(draft: &Draft, r: &mut Reader) {
    for movement in &draft.movements {
        let mut graph = DiGraph::<usize, ()>::new();
        let nodes: Vec<NodeIndex> = (0..movement.beats.len())
            .map(|i| graph.add_node(i))
            .collect();
        let index: HashMap<&str, usize> = movement
            .beats
            .iter()
            .enumerate()
            .map(|(i, b)| (b.spec.name.as_str(), i))
            .collect();
        for (i, beat) in movement.beats.iter().enumerate() {
            for need in &beat.spec.needs {
                if let Some(&j) = index.get(need.as_str()) {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
            if !movement.parallel && i > 0 {
                graph.add_edge(nodes[i - 1], nodes[i], ());
            }
        }
        for scc in tarjan_scc(&graph) {
            let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let mut members: Vec<usize> = scc.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let names: Vec<&str> = members
                .iter()
                .map(|&i| movement.beats[i].spec.name.as_str())
                .collect();
            let first = &movement.beats[members[0]];
            if self_loop {
                r.report(
                    Diagnostic::new(
                        Code::Cycle,
                        Severity::Critical,
                        Some(first.pos),
                        format!("beat '{}' needs itself", first.spec.name),
                    )
                    .fix(format!("remove '{}' from its own 'needs'", first.spec.name)),
                );
                continue;
            }
            let fix = if movement.parallel {
                "remove one of these 'needs' to break the cycle".to_string()
            } else {
                "in a sequential movement a beat cannot need a beat listed after it; reorder or set 'parallel: true'".to_string()
            };
            r.report(
                Diagnostic::new(
                    Code::Cycle,
                    Severity::Critical,
                    Some(first.pos),
                    format!(
                        "dependency cycle between beats {}",
                        names
                            .iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .fix(fix),
            );
        }
    }
}

/// Two beats of a parallel movement with no `needs` path between them may run at
/// once; if their outputs overlap, one can clobber the other's artifacts.
fn check_overlapping_outputs(draft: &Draft, r: &mut Reader) {
    for movement in draft.movements.iter().filter(|m| m.parallel) {
        let beats = &movement.beats;
        let ancestors = ancestors_within(beats);
        for i in 0..beats.len() {
            for j in (i + 1)..beats.len() {
                let same_name = beats[i].spec.name == beats[j].spec.name;
                if same_name || ancestors[i].contains(&j) || ancestors[j].contains(&i) {
                    continue;
                }
                let overlap = beats[i].spec.outputs.iter().find_map(|a| {
                    beats[j]
                        .spec
                        .outputs
                        .iter()
                        .find(|b| globs_overlap(a, b))
                        .map(|b| (a, b))
                });
                if let Some((a, b)) = overlap {
                    r.report(
                        Diagnostic::new(
                            Code::OverlappingOutputs,
                            Severity::Major,
                            beats[j].outputs_pos,
                            format!(
                                "beats '{}' and '{}' may run at the same time and both write '{}' / '{}'",
                                beats[i].spec.name, beats[j].spec.name, a, b
                            ),
                        )
                        .fix(format!("give them separate output folders, or add needs: [{}] to '{}'", beats[i].spec.name, beats[j].spec.name)),
                    );
                }
            }
        }
    }
}

/// For each beat, the beats of the same movement it (transitively) needs.
fn ancestors_within(beats: &[DraftBeat]) -> Vec<BTreeSet<usize>> {
    let index: HashMap<&str, usize> = beats
        .iter()
        .enumerate()
        .map(|(i, b)| (b.spec.name.as_str(), i))
        .collect();
    (0..beats.len())
        .map(|start| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                for need in &beats[i].spec.needs {
                    if let Some(&j) = index.get(need.as_str())
                        && seen.insert(j)
                    {
                        stack.push(j);
                    }
                }
            }
            seen
        })
        .collect()
}

/// Whether two output globs can match a common path: compared on their literal
/// directory prefixes (the part before the first wildcard).
pub fn globs_overlap(a: &str, b: &str) -> bool {
    let (pa, wa) = literal_prefix(a);
    let (pb, wb) = literal_prefix(b);
    if !wa && !wb {
        return pa == pb;
    }
    let shorter_is_prefix = |short: &str, short_wild: bool, long: &str| {
        short_wild
            && (long == short
                || long.starts_with(&format!("{}/", short.trim_end_matches('/')))
                || short.is_empty())
    };
    shorter_is_prefix(&pa, wa, &pb) || shorter_is_prefix(&pb, wb, &pa) || (wa && wb && pa == pb)
}

/// The path components before the first wildcard, and whether a wildcard follows.
fn literal_prefix(glob: &str) -> (String, bool) {
    let clean = glob.trim_start_matches("./");
    let mut parts = Vec::new();
    for part in clean.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            return (parts.join("/"), true);
        }
        parts.push(part);
    }
    (parts.join("/"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_judged_on_literal_prefixes() {
        assert!(globs_overlap("dist/**", "dist/app.js"));
        assert!(globs_overlap("dist/**", "dist/sub/**"));
        assert!(globs_overlap("dist/app.js", "dist/app.js"));
        assert!(!globs_overlap("dist/a/**", "dist/b/**"));
        assert!(!globs_overlap("dist/a.js", "dist/b.js"));
        assert!(!globs_overlap("build/**", "dist/**"));
    }

    #[test]
    fn credentials_are_spotted_by_shape_or_name() {
        assert_eq!(
            credential_like("GH", "ghp_abcdefghijklmnopqrstuvwxyz0123").map(|c| c.1),
            Some(Severity::Major)
        );
        assert_eq!(
            credential_like("DB_PASSWORD", "hunter2hunter2").map(|c| c.1),
            Some(Severity::Minor)
        );
        assert!(credential_like("PASSWORD_FILE", "/run/secrets/db_password").is_none());
        assert!(credential_like("SECRET_NAME", "prod-db-credentials").is_none());
        assert!(credential_like("MAX_TOKENS", "100000000").is_none());
        assert!(credential_like("DB_PASSWORD", "${DB_PASSWORD}").is_none());
        assert!(credential_like("MODE", "release").is_none());
        assert!(credential_like("TOKEN_FILE_COUNT", "3").is_none());
    }
}
