//! Coarse buckets: the shape hash uses them so that noise does not count as change.

const MB: u64 = 1_000_000;

pub fn duration_bucket(duration_ms: u64) -> &'static str {
    match duration_ms {
        0..1_000 => "<1s",
        1_000..5_000 => "1-5s",
        5_000..30_000 => "5-30s",
        30_000..120_000 => "30s-2m",
        120_000..600_000 => "2-10m",
        _ => ">10m",
    }
}

pub fn artifacts_bucket(count: u64) -> &'static str {
    match count {
        0 => "0",
        1..=4 => "1-4",
        5..=10 => "5-10",
        11..=50 => "11-50",
        _ => ">50",
    }
}

pub fn errors_bucket(count: u64) -> &'static str {
    match count {
        0 => "clean",
        1..=5 => "1-5",
        _ => ">5",
    }
}

pub fn memory_bucket(peak_rss_bytes: u64) -> &'static str {
    match peak_rss_bytes {
        b if b < 50 * MB => "<50MB",
        b if b < 100 * MB => "50-100MB",
        b if b < 500 * MB => "100-500MB",
        b if b < 2_000 * MB => "0.5-2GB",
        _ => ">2GB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges_follow_the_design() {
        assert_eq!(duration_bucket(999), "<1s");
        assert_eq!(duration_bucket(1_000), "1-5s");
        assert_eq!(duration_bucket(29_999), "5-30s");
        assert_eq!(duration_bucket(120_000), "2-10m");
        assert_eq!(duration_bucket(600_000), ">10m");
        assert_eq!(artifacts_bucket(4), "1-4");
        assert_eq!(artifacts_bucket(11), "11-50");
        assert_eq!(artifacts_bucket(51), ">50");
        assert_eq!(errors_bucket(0), "clean");
        assert_eq!(errors_bucket(5), "1-5");
        assert_eq!(errors_bucket(6), ">5");
        assert_eq!(memory_bucket(49 * MB), "<50MB");
        assert_eq!(memory_bucket(100 * MB), "100-500MB");
        assert_eq!(memory_bucket(3_000 * MB), ">2GB");
    }
}
