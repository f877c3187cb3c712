//! Semantic checks over a whole draft: names, dependencies, cycles, outputs that
//! collide, credentials in plain sight. Each finding points at the beat concerned.

use std::collections::{BTreeMap, HashMap};

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
///
/// Near-linear in the number of globs and beats: overlapping outputs are found
/// through an index of literal prefixes (see [`overlapping_outputs`]), and only
/// the beats they pair up are checked for a `needs` path.
fn check_overlapping_outputs(draft: &Draft, r: &mut Reader) {
    for movement in draft.movements.iter().filter(|m| m.parallel) {
        let beats = &movement.beats;
        let outputs: Vec<&[String]> = beats.iter().map(|b| b.spec.outputs.as_slice()).collect();
        let pairs = overlapping_outputs(&outputs);
        if pairs.is_empty() {
            continue;
        }
        let needs = NeedsWithin::new(beats);
        for ((i, j), (a, b)) in pairs {
            if beats[i].spec.name == beats[j].spec.name
                || needs.reaches(i, j)
                || needs.reaches(j, i)
            {
                continue;
            }
            let (a, b) = (&outputs[i][a], &outputs[j][b]);
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
                .fix(format!(
                    "give them separate output folders, or add needs: [{}] to '{}'",
                    beats[i].spec.name, beats[j].spec.name
                )),
            );
        }
    }
}

/// For every two beats `i < j` (indices into `outputs`) with overlapping outputs
/// ([`globs_overlap`]), the first overlapping pair of their globs: the first glob
/// of `i` that overlaps one of `j`, and the first of `j` it overlaps.
///
/// Two globs overlap exactly when their literal prefixes are equal, or one is a
/// wildcard glob whose prefix is empty or, without trailing slashes, a whole
/// directory of the other's prefix. So the globs are indexed by prefix, and each
/// glob looks up the directories above it: the cost grows with the number of globs
/// times their depth, plus the pairs found, not with the product of the globs.
fn overlapping_outputs(outputs: &[&[String]]) -> BTreeMap<(usize, usize), (usize, usize)> {
    // For each key, the first glob of each beat under it: (beat, glob index).
    type Firsts = BTreeMap<usize, usize>;
    let mut by_prefix: HashMap<String, Firsts> = HashMap::new();
    let mut wild_by_dir: HashMap<String, Firsts> = HashMap::new();
    let mut match_all: Firsts = BTreeMap::new();
    let mut prefixes: Vec<Vec<(String, bool)>> = Vec::with_capacity(outputs.len());
    for (beat, globs) in outputs.iter().enumerate() {
        let mut of_beat = Vec::with_capacity(globs.len());
        for (g, glob) in globs.iter().enumerate() {
            let (prefix, wild) = literal_prefix(glob);
            by_prefix
                .entry(prefix.clone())
                .or_default()
                .entry(beat)
                .or_insert(g);
            if wild {
                if prefix.is_empty() {
                    match_all.entry(beat).or_insert(g);
                } else {
                    let dir = prefix.trim_end_matches('/').to_owned();
                    wild_by_dir.entry(dir).or_default().entry(beat).or_insert(g);
                }
            }
            of_beat.push((prefix, wild));
        }
        prefixes.push(of_beat);
    }

    let mut pairs: BTreeMap<(usize, usize), (usize, usize)> = BTreeMap::new();
    let mut found = |one: (usize, usize), other: (usize, usize)| {
        if one.0 == other.0 {
            return;
        }
        let ((i, a), (j, b)) = if one.0 < other.0 {
            (one, other)
        } else {
            (other, one)
        };
        let first = pairs.entry((i, j)).or_insert((a, b));
        *first = (*first).min((a, b));
    };
    // Equal prefixes always overlap.
    for firsts in by_prefix.values() {
        for (&i, &a) in firsts {
            for (&j, &b) in firsts.range(i + 1..) {
                found((i, a), (j, b));
            }
        }
    }
    // A glob under a wildcard glob's directory, or any glob and a wildcard glob
    // with no literal prefix: the first such glob of each beat is enough.
    let mut under: HashMap<(usize, &str), usize> = HashMap::new();
    for (beat, of_beat) in prefixes.iter().enumerate() {
        for (g, (prefix, _)) in of_beat.iter().enumerate() {
            for (slash, _) in prefix.match_indices('/') {
                under.entry((beat, &prefix[..slash])).or_insert(g);
            }
        }
        if !of_beat.is_empty() {
            for (&i, &a) in &match_all {
                found((i, a), (beat, 0));
            }
        }
    }
    for ((beat, dir), g) in under {
        if let Some(firsts) = wild_by_dir.get(dir) {
            for (&i, &a) in firsts {
                found((i, a), (beat, g));
            }
        }
    }
    pairs
}

/// The `needs` between the beats of one movement, to ask whether one beat
/// (transitively) needs another.
struct NeedsWithin {
    needs: Vec<Vec<usize>>,
}

impl NeedsWithin {
    fn new(beats: &[DraftBeat]) -> Self {
        let index: HashMap<&str, usize> = beats
            .iter()
            .enumerate()
            .map(|(i, b)| (b.spec.name.as_str(), i))
            .collect();
        let needs = beats
            .iter()
            .map(|b| {
                b.spec
                    .needs
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect()
            })
            .collect();
        Self { needs }
    }

    /// Whether `from` needs `to`, directly or through other beats.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.needs.len()];
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            for &j in &self.needs[i] {
                if j == to {
                    return true;
                }
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        false
    }
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
pub(crate) fn literal_prefix(glob: &str) -> (String, bool) {
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
    fn the_index_of_outputs_finds_what_comparing_every_two_globs_finds() {
        let globs = [
            "dist/**",
            "dist/app.js",
            "dist/sub/**",
            "dist/a/**",
            "dist/b/**",
            "./dist/x",
            "build/**",
            "*.log",
            "out/",
            "out//*",
            "/abs/*",
            "//*",
            "a/b/c/d.txt",
            "a/*/x",
            "a/b/**",
            "a/b",
            "{x,y}",
            "dist/b.js",
            "dist/app.js",
        ];
        // Beats of one to three globs each, in many combinations.
        let beats: Vec<Vec<String>> = (0..globs.len())
            .flat_map(|i| {
                [
                    vec![globs[i].to_owned()],
                    vec![
                        globs[i].to_owned(),
                        globs[(i * 7 + 3) % globs.len()].to_owned(),
                    ],
                    vec![
                        globs[(i * 5 + 1) % globs.len()].to_owned(),
                        globs[(i * 3 + 2) % globs.len()].to_owned(),
                        globs[i].to_owned(),
                    ],
                    Vec::new(),
                ]
            })
            .collect();
        let outputs: Vec<&[String]> = beats.iter().map(Vec::as_slice).collect();
        let mut expected = BTreeMap::new();
        for i in 0..beats.len() {
            for j in (i + 1)..beats.len() {
                let first = beats[i].iter().enumerate().find_map(|(a, x)| {
                    beats[j]
                        .iter()
                        .position(|y| globs_overlap(x, y))
                        .map(|b| (a, b))
                });
                if let Some(first) = first {
                    expected.insert((i, j), first);
                }
            }
        }
        assert!(expected.len() > 100);
        assert_eq!(overlapping_outputs(&outputs), expected);
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
