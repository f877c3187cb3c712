//! Stable integer codes of the enums kept in beat columns (status, cache state,
//! SLA status), both ways. Never renumber a released code.

use baton_model::{BeatStatus, CacheState, SlaStatus};

use crate::{Result, StoreError};

macro_rules! codes {
    ($module:ident, $what:literal, $ty:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        pub(crate) mod $module {
            use super::*;

            pub(crate) fn encode(v: $ty) -> i64 {
                match v {
                    $($ty::$variant => $code,)*
                }
            }

            pub(crate) fn decode(code: i64) -> Result<$ty> {
                match code {
                    $($code => Ok($ty::$variant),)*
                    _ => Err(StoreError::corrupt(format!("{} code {code}", $what))),
                }
            }
        }
    };
}

codes!(beat_status, "beat status", BeatStatus {
    Success = 0, Failure = 1, Timeout = 2, Cancelled = 3, Skipped = 4,
});
codes!(cache_state, "cache state", CacheState { Hit = 0, Miss = 1, Skip = 2, Expired = 3 });
codes!(sla_status, "SLA status", SlaStatus { Compliant = 0, Warning = 1, Breach = 2, Critical = 3 });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in [
            BeatStatus::Success,
            BeatStatus::Failure,
            BeatStatus::Timeout,
            BeatStatus::Cancelled,
            BeatStatus::Skipped,
        ] {
            assert_eq!(
                beat_status::decode(beat_status::encode(s)).expect("decode"),
                s
            );
        }
        assert!(beat_status::decode(9).is_err());
        // SLA codes keep the model's order, so MAX() in SQL is the worst status.
        assert!(sla_status::encode(SlaStatus::Critical) > sla_status::encode(SlaStatus::Breach));
    }
}
