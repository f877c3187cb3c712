//! The OTLP exporter's configuration: the standard `OTEL_*` variables, from the
//! real environment, else from the `.env` next to the pipeline file (the
//! environment wins, value by value). Header values are never shown whole.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::config::{Source, Sourced, mask};

pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const METRICS_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
pub const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub const TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub const COMPRESSION_VAR: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
pub const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub const SDK_DISABLED_VAR: &str = "OTEL_SDK_DISABLED";
pub const TRACES_EXPORTER_VAR: &str = "OTEL_TRACES_EXPORTER";
pub const METRICS_EXPORTER_VAR: &str = "OTEL_METRICS_EXPORTER";

/// The specification's default export timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One signal's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEndpoint {
    /// The full URL POSTed to.
    pub url: Sourced<String>,
    /// Headers sent (the general ones, overridden by the signal's own).
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub gzip: bool,
}

/// The OTLP exporter's resolved configuration.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// `OTEL_SDK_DISABLED=true`: nothing is exported.
    pub disabled: bool,
    pub traces: Option<SignalEndpoint>,
    pub metrics: Option<SignalEndpoint>,
    pub service_name: Sourced<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded.
    pub resource_attributes: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl OtlpConfig {
    /// Resolves `OTEL_*` from `env`, else from the `.env` at `dotenv_path`.
    pub fn resolve(env: impl Fn(&str) -> Option<String>, dotenv_path: &Path) -> Self {
        let mut warnings = Vec::new();
        let mut ignored = Vec::new();
        let dotenv = crate::config::read_dotenv(dotenv_path, &mut ignored);
        let get = |name: &str| crate::config::lookup(&env, &dotenv, name);
        let disabled = get(SDK_DISABLED_VAR).is_some_and(|v| v.value.eq_ignore_ascii_case("true"));
        if let Some(p) = get(PROTOCOL_VAR)
            && p.value != "http/protobuf"
        {
            warnings.push(format!(
                "{PROTOCOL_VAR}={} is not supported; baton exports OTLP over http/protobuf",
                p.value
            ));
        }
        let general_headers = get(HEADERS_VAR)
            .map(|h| parse_pairs(&h.value))
            .unwrap_or_default();
        let general_timeout = get(TIMEOUT_VAR);
        let general_compression = get(COMPRESSION_VAR);
        let base = get(ENDPOINT_VAR);
        let mut signal = |signal: &str, own: &str, exporter_var: &str| -> Option<SignalEndpoint> {
            if get(exporter_var).is_some_and(|v| v.value.eq_ignore_ascii_case("none")) {
                return None;
            }
            let upper = signal.to_ascii_uppercase();
            let url = match get(own) {
                Some(url) => url,
                None => {
                    let base = base.clone()?;
                    Sourced {
                        value: format!("{}/v1/{signal}", base.value.trim_end_matches('/')),
                        source: base.source,
                    }
                }
            };
            let mut headers = general_headers.clone();
            if let Some(own) = get(&format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS")) {
                for (k, v) in parse_pairs(&own.value) {
                    headers.retain(|(key, _)| !key.eq_ignore_ascii_case(&k));
                    headers.push((k, v));
                }
            }
            let timeout = match get(&format!("OTEL_EXPORTER_OTLP_{upper}_TIMEOUT"))
                .or_else(|| general_timeout.clone())
            {
                None => DEFAULT_TIMEOUT,
                Some(t) => match t.value.parse::<u64>() {
                    Ok(ms) => Duration::from_millis(ms),
                    Err(_) => {
                        warnings.push(format!(
                            "{TIMEOUT_VAR}={} is not a number of milliseconds; 10000 is used",
                            t.value
                        ));
                        DEFAULT_TIMEOUT
                    }
                },
            };
            let gzip = match get(&format!("OTEL_EXPORTER_OTLP_{upper}_COMPRESSION"))
                .or_else(|| general_compression.clone())
            {
                None => true,
                Some(c) => match c.value.to_ascii_lowercase().as_str() {
                    "gzip" => true,
                    "none" => false,
                    other => {
                        warnings.push(format!(
                            "{COMPRESSION_VAR}={other} is not 'gzip' or 'none'; gzip is used"
                        ));
                        true
                    }
                },
            };
            Some(SignalEndpoint {
                url,
                headers,
                timeout,
                gzip,
            })
        };
        let traces = signal("traces", TRACES_ENDPOINT_VAR, TRACES_EXPORTER_VAR);
        let metrics = signal("metrics", METRICS_ENDPOINT_VAR, METRICS_EXPORTER_VAR);
        let service_name = get(SERVICE_NAME_VAR).unwrap_or(Sourced {
            value: "baton".into(),
            source: Source::Default,
        });
        let resource_attributes = get(RESOURCE_ATTRIBUTES_VAR)
            .map(|r| parse_pairs(&r.value))
            .unwrap_or_default();
        Self {
            disabled,
            traces,
            metrics,
            service_name,
            resource_attributes,
            warnings,
        }
    }

    /// Whether anything is exported: not disabled, and an endpoint is set.
    pub fn active(&self) -> bool {
        !self.disabled && (self.traces.is_some() || self.metrics.is_some())
    }
}

/// `key=value,key2=value2` (W3C baggage style, values percent-decoded), as
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` are written.
pub fn parse_pairs(text: &str) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut order = Vec::new();
    for pair in text.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let (k, v) = (percent_decode(k.trim()), percent_decode(v.trim()));
        if k.is_empty() {
            continue;
        }
        if !out.contains_key(&k) {
            order.push(k.clone());
        }
        out.insert(k, v);
    }
    order
        .into_iter()
        .filter_map(|k| out.remove(&k).map(|v| (k, v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Headers for showing: names whole, values masked.
pub fn masked_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.clone(), mask(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> OtlpConfig {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpConfig::resolve(|k| vars.get(k).cloned(), Path::new("/nonexistent/.env"))
    }

    #[test]
    fn the_base_endpoint_gets_the_signal_paths_and_per_signal_ones_are_used_as_given() {
        let c = resolve(&[
            (ENDPOINT_VAR, "http://collector:4318/"),
            (METRICS_ENDPOINT_VAR, "http://m:9/custom"),
        ]);
        assert_eq!(
            c.traces.expect("traces").url.value,
            "http://collector:4318/v1/traces"
        );
        assert_eq!(c.metrics.expect("metrics").url.value, "http://m:9/custom");
    }

    #[test]
    fn headers_timeout_compression_and_the_off_switches() {
        let c = resolve(&[
            (ENDPOINT_VAR, "http://c:4318"),
            (HEADERS_VAR, "api-key=abc%20def,x=1"),
            (TIMEOUT_VAR, "2500"),
            (COMPRESSION_VAR, "none"),
            (TRACES_EXPORTER_VAR, "none"),
        ]);
        assert!(c.traces.is_none());
        let m = c.metrics.expect("metrics");
        assert_eq!(
            m.headers,
            vec![
                ("api-key".into(), "abc def".into()),
                ("x".into(), "1".into())
            ]
        );
        assert_eq!(m.timeout, Duration::from_millis(2500));
        assert!(!m.gzip);
        let off = resolve(&[(ENDPOINT_VAR, "http://c:4318"), (SDK_DISABLED_VAR, "true")]);
        assert!(!off.active());
        assert!(!resolve(&[]).active());
    }
}
