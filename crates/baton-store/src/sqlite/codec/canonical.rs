//! Canonical shape-string compaction: a shape's canonical string starts with
//! `m{movement}:b{beat}:{bucket}:{status}:`, which the beat's columns already say;
//! only what follows is stored when it starts exactly so.

use baton_model::BeatStatus;

/// The start of a canonical shape string that the beat's columns determine.
pub(super) fn canonical_prefix(
    movement_index: u32,
    beat_index: u32,
    duration_bucket: &str,
    status: BeatStatus,
) -> String {
    format!(
        "m{movement_index}:b{beat_index}:{duration_bucket}:{}:",
        status.as_str()
    )
}

/// What follows [`canonical_prefix`] in `canonical`, when it starts with exactly
/// that (checked without allocating: this runs for every inserted beat).
pub(super) fn canonical_suffix<'c>(
    canonical: &'c str,
    movement_index: u32,
    beat_index: u32,
    duration_bucket: &str,
    status: BeatStatus,
) -> Option<&'c str> {
    fn number(s: &str, tag: char, value: u32) -> Option<&str> {
        let (digits, rest) = s.strip_prefix(tag)?.split_once(':')?;
        let canonical_form = digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        (canonical_form && digits.parse() == Ok(value)).then_some(rest)
    }
    let rest = number(canonical, 'm', movement_index)?;
    let rest = number(rest, 'b', beat_index)?;
    let rest = rest.strip_prefix(duration_bucket)?.strip_prefix(':')?;
    rest.strip_prefix(status.as_str())?.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_suffix_only_when_the_prefix_is_exactly_the_columns() {
        let ok = Some("a0:eclean:mem<50MB:hit");
        let suffix = |c| canonical_suffix(c, 1, 20, "1-5s", BeatStatus::Success);
        assert_eq!(suffix("m1:b20:1-5s:success:a0:eclean:mem<50MB:hit"), ok);
        assert_eq!(suffix("m01:b20:1-5s:success:a0:eclean:mem<50MB:hit"), None);
        assert_eq!(suffix("m+1:b20:1-5s:success:x"), None);
        assert_eq!(suffix("m1:b2:1-5s:success:x"), None);
        assert_eq!(suffix("m1:b20:<1s:success:x"), None);
        assert_eq!(suffix("m1:b20:1-5s:failure:x"), None);
        assert_eq!(suffix("m1:b20:1-5s:success:"), Some(""));
        let zero = canonical_suffix("m0:b0:<1s:skipped:x", 0, 0, "<1s", BeatStatus::Skipped);
        assert_eq!(zero, Some("x"));
        assert_eq!(
            canonical_prefix(1, 20, "1-5s", BeatStatus::Success) + "a0",
            "m1:b20:1-5s:success:a0"
        );
    }
}
