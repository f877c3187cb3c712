//! Human durations: `500ms`, `5s`, `2m`, `1h30m`, `1.5s`. A bare number means seconds.

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return seconds(secs, text);
    }
    let mut total = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "'{text}' is not a duration (use 500ms, 5s, 2m or 1h30m)"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{text}' is not a duration (use 500ms, 5s, 2m or 1h30m)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "" => return Err(format!("'{text}' has a number without a unit")),
            unit => {
                return Err(format!(
                    "'{text}': unknown unit '{unit}' (use ms, s, m, h or d)"
                ));
            }
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    seconds(total, text)
}

fn seconds(secs: f64, text: &str) -> Result<Duration, String> {
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{text}' is not a usable duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "fast", "5x", "s5", "-1s", "1h30", "5 s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn durations_as_baton_shows_them_parse_back() {
        for text in ["500ms", "5s", "2m", "1h30m", "1.5s", "45.6s", "2m5s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&baton_model::format_duration(d)), Ok(d));
        }
    }
}
