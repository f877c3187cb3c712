//! How a duration reads for users: the one formatter behind every duration baton
//! shows (the run summary, the live lines, reasons, retries, validation).

use std::time::Duration;

/// `350ms`, `1.23s`, `5s`, `45.60s`, `2m05s`, `3m`, `1h02m03s`, `2h`: milliseconds
/// under a second, hundredths (or whole seconds when that is all there is) under a
/// minute, then minutes and seconds, then hours too; trailing zero parts are left
/// out (`2h`, not `2h00m00s`). `parse_duration` in baton-config reads every one of
/// them back.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let centis = ms.saturating_add(5) / 10;
    if centis < 6_000 {
        return match centis % 100 {
            0 => format!("{}s", centis / 100),
            frac => format!("{}.{frac:02}s", centis / 100),
        };
    }
    let secs = ms.saturating_add(500) / 1_000;
    let (h, m, s) = (secs / 3_600, secs % 3_600 / 60, secs % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// [`format_duration`] of a count of milliseconds, as records keep them.
pub fn format_duration_ms(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_the_same_everywhere() {
        let ms = format_duration_ms;
        assert_eq!(ms(0), "0ms");
        assert_eq!(ms(999), "999ms");
        assert_eq!(ms(1_000), "1s");
        assert_eq!(ms(1_004), "1s");
        assert_eq!(ms(1_234), "1.23s");
        assert_eq!(ms(1_235), "1.24s");
        assert_eq!(ms(1_500), "1.50s");
        assert_eq!(ms(45_600), "45.60s");
        assert_eq!(ms(59_994), "59.99s");
        assert_eq!(ms(59_995), "1m");
        assert_eq!(ms(180_000), "3m");
        assert_eq!(ms(125_000), "2m05s");
        assert_eq!(ms(3_599_400), "59m59s");
        assert_eq!(ms(3_600_000), "1h");
        assert_eq!(ms(7_260_000), "2h01m");
        assert_eq!(ms(3_605_000), "1h00m05s");
        assert_eq!(ms(3_723_000), "1h02m03s");
        assert_eq!(ms(u64::MAX), "5124095576030h25m52s");
    }
}
