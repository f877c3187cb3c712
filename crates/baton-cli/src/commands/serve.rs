//! `baton serve [--bind ADDR:PORT] [--token TOKEN] [-f FILE]`: finds the history as
//! every reading verb does, then hands over to `baton-serve`.

use super::reading;
use crate::cli::ServeArgs;
use crate::exit::Exit;

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<Exit> {
    let bind: std::net::SocketAddr = match args.bind.parse() {
        Ok(bind) => bind,
        Err(_) => crate::usage_bail!(
            "'{}' is not an address to listen on (ADDR:PORT, e.g. 127.0.0.1:8710)",
            args.bind
        ),
    };
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var(baton_serve::TOKEN_VAR).ok())
        .filter(|t| !t.is_empty());
    if let Err(err) = baton_serve::check_bind(&bind, token.as_deref()) {
        crate::usage_bail!("{err}");
    }
    let history = reading::open(&args.store)?;
    let options = baton_serve::Options {
        bind,
        token,
        history: history.state.history_db(),
        pipeline_id: history.pipeline_id.clone(),
        anomalies: history.anomaly_settings(),
        objectives: history.objectives(),
    };
    drop(history);
    baton_serve::serve(options)?;
    Ok(Exit::Success)
}
