//! The graph of a plan's dependencies (`deps[i]`: the beats beat `i` waits for):
//! each beat's wave (the longest chain of dependencies before it) in topological
//! order, and the dependencies a reader needs to see. Linear in beats and edges.

use std::collections::VecDeque;

/// Each beat's wave, or, when the dependencies form a cycle, the beats of one
/// cycle in the order they wait for each other, the first repeated at the end
/// (`[a, c, b, a]`: a waits for c, which waits for b, which waits for a).
pub(crate) fn waves(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut wave = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut placed = 0;
    while let Some(d) = queue.pop_front() {
        placed += 1;
        for &i in &dependents[d] {
            wave[i] = wave[i].max(wave[d] + 1);
            waiting[i] -= 1;
            if waiting[i] == 0 {
                queue.push_back(i);
            }
        }
    }
    if placed == n {
        return Ok(wave);
    }
    // Every beat left waits for another beat left: walk until one repeats.
    let left = |i: usize| waiting[i] > 0;
    let mut seen_at = vec![usize::MAX; n];
    let mut walk = Vec::new();
    let mut at = (0..n).find(|&i| left(i)).unwrap_or(0);
    while seen_at[at] == usize::MAX {
        seen_at[at] = walk.len();
        walk.push(at);
        at = deps[at].iter().copied().find(|&d| left(d)).unwrap_or(at);
    }
    let mut cycle = walk.split_off(seen_at[at]);
    cycle.push(at);
    Err(cycle)
}

/// Of `candidates` (dependencies of one beat), those that no other candidate
/// waits for, directly or not; ascending. `waves` are the beats' waves: a beat
/// only waits for beats of earlier waves, so the search below the candidates
/// stops at the lowest wave among them.
pub(crate) fn reduced(candidates: &[usize], deps: &[Vec<usize>], waves: &[usize]) -> Vec<usize> {
    if candidates.len() <= 1 {
        return candidates.to_vec();
    }
    let lowest = candidates.iter().map(|&c| waves[c]).min().unwrap_or(0);
    let mut by_wave = candidates.to_vec();
    by_wave.sort_by_key(|&c| std::cmp::Reverse(waves[c]));
    // Beats some kept candidate waits for; a candidate among them is implied.
    let mut below = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for c in by_wave {
        if below.contains(&c) {
            continue;
        }
        kept.push(c);
        let mut stack = vec![c];
        while let Some(i) = stack.pop() {
            for &d in &deps[i] {
                if waves[d] >= lowest && below.insert(d) {
                    stack.push(d);
                }
            }
        }
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_are_the_longest_chain_before_each_beat() {
        // 0 <- 1 <- 3, 0 <- 2, 3 waits for 2 and 0 too; 4 alone.
        let deps = vec![vec![], vec![0], vec![0], vec![0, 1, 2], vec![]];
        assert_eq!(waves(&deps), Ok(vec![0, 1, 1, 2, 0]));
        let w = waves(&deps).expect("no cycle");
        assert_eq!(reduced(&deps[3], &deps, &w), [1, 2]);
        assert_eq!(reduced(&[0, 1], &deps, &w), [1]);
    }

    #[test]
    fn a_cycle_is_named_in_the_order_its_beats_wait() {
        // 0 waits for 2, 2 for 1, 1 for 0; 3 waits for the cycle.
        let deps = vec![vec![2], vec![0], vec![1], vec![0]];
        assert_eq!(waves(&deps), Err(vec![0, 2, 1, 0]));
        assert_eq!(waves(&[vec![0]]), Err(vec![0, 0]));
    }

    #[test]
    fn a_long_chain_is_planned_in_linear_time() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let w = waves(&deps).expect("no cycle");
        assert_eq!(w[n - 1], n - 1);
        assert_eq!(reduced(&[0, n - 2], &deps, &w), [n - 2]);
    }
}
