//! The cross-run signals live in the `baton-signals` crate, shared with `baton
//! serve`; the verbs reach them here by their old paths.

pub(crate) use baton_signals::{budgets, flaky, regressions, summary, trends, window_start};
